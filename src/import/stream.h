/*
 * stream.h - reading large inputs in chunks of whole lines.
 *
 * The hourly history is 14 M rows (400 MB of CSV inflated from a 42 MB
 * gzip); holding it in memory would cost more than the rest of the import.
 * A bch_lines reads a file (gzip-compressed or plain, told apart by zlib)
 * through a fixed buffer and hands out regions that end on a line break, so
 * that the CSV splitter (sources/csv.h) can run on each region as if it
 * were a whole file.  A quoted field may not span two regions: the formats
 * read this way (numbers and timestamps) never hold line breaks in a field,
 * and a row broken that way is reported as malformed, not silently joined.
 */
#ifndef BCH_IMPORT_STREAM_H
#define BCH_IMPORT_STREAM_H

#include "core/compat.h"

#define BCH_LINES_CHUNK    (4u << 20)  /* bytes read per refill */
#define BCH_LINES_MAX_LINE (16u << 20) /* a longer line is skipped (reported) */

struct bch_lines;

/*
 * Opens path: a gzip file (one or more members, told apart by the magic
 * bytes) is inflated, anything else read as is.  NULL with the reason in err.
 */
struct bch_lines *bch_lines_open(const char *path, char *err, size_t errlen);
void bch_lines_close(struct bch_lines *l);

/* Longest line handed out (default BCH_LINES_MAX_LINE; at least 1 KB). */
void bch_lines_set_max_line(struct bch_lines *l, size_t max);

/*
 * Next region of whole lines: *data / *len (not NUL-terminated; valid until
 * the next call) and *first_line, the 1-based line number of its first
 * line.  The last region of a file may end without a line break.  Returns
 * 1 for a region, 0 at the end, 2 for a line longer than the maximum that
 * was skipped (its number in *first_line, the reason in err; reading goes
 * on with the next line), -1 on a read error (reason in err, naming the
 * line where it happened).  Every complete line read before a read error
 * -- a truncated file, a corrupt gzip stream, a CRC mismatch -- has been
 * handed out before -1 is returned; the partial line at the error is not.
 */
int bch_lines_next(struct bch_lines *l, const char **data, size_t *len, long *first_line, char *err,
                   size_t errlen);

/* Bytes of the file read so far (compressed size for gzip), for progress. */
int64_t bch_lines_offset(const struct bch_lines *l);

/*
 * Content hash used to register an import: XXH3-128 hex of "import:" tag,
 * a newline and the file's bytes as stored (not inflated), read in chunks.
 * 0, or -1 with the reason in err.
 */
int bch_import_hash_file(const char *path, const char *tag, char out[33], char *err, size_t errlen);
/* The same hash of bytes held in memory (a polled payload); -1 when out of memory. */
int bch_import_hash_buffer(const void *data, size_t len, const char *tag, char out[33]);

#endif
