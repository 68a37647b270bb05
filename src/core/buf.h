/*
 * buf.h - growable byte buffer with a hard maximum.
 *
 * Every buffer that holds outside data has a ceiling (curl's dynbuf idea):
 * growing past max fails with -1 instead of eating memory.  The content is
 * always NUL-terminated (the NUL is not counted in len).
 */
#ifndef BCH_BUF_H
#define BCH_BUF_H

#include "core/compat.h"

struct bch_buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
};

/* Empty buffer that may grow to max bytes. */
void bch_buf_init(struct bch_buf *b, size_t max);
/* Frees the storage; the buffer can be reused after bch_buf_init(). */
void bch_buf_release(struct bch_buf *b);
/* Empties without freeing. */
void bch_buf_reset(struct bch_buf *b);
/* Append; -1 if the result would exceed max or allocation failed. */
int bch_buf_add(struct bch_buf *b, const void *data, size_t len) BCH_WUR;
int bch_buf_addc(struct bch_buf *b, char c) BCH_WUR;
int bch_buf_adds(struct bch_buf *b, const char *s) BCH_WUR;
int bch_buf_printf(struct bch_buf *b, const char *fmt, ...) BCH_PRINTF(2, 3) BCH_WUR;
/* Appends s as a JSON string literal, quotes included. */
int bch_buf_add_json_str(struct bch_buf *b, const char *s, size_t len) BCH_WUR;
/* Hands the storage to the caller (who frees it); b is left empty. */
char *bch_buf_take(struct bch_buf *b);
/* Reads a whole file into b; -1 with errno set on failure or overflow. */
int bch_buf_read_file(struct bch_buf *b, const char *path) BCH_WUR;

#endif
