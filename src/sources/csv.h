/*
 * csv.h - RFC 4180 row splitter over an in-memory buffer.
 *
 * Written here rather than taken from libcsv: the Opendatasoft exports need
 * zero-copy fields (a 277 KB snapshot a minute, years of replays), line
 * numbers for error messages, BOM and CRLF handling, and a per-row field
 * limit; libcsv's callback API copies every field and is unmaintained since
 * 2021.  Quoted fields may contain the separator, "" and newlines.
 *
 * Fields point into the buffer when unquoted, or into the splitter's scratch
 * storage when they had to be unescaped; they stay valid until the next call.
 */
#ifndef BCH_CSV_H
#define BCH_CSV_H

#include "core/buf.h"
#include "core/compat.h"

#define BCH_CSV_MAX_FIELDS 256

struct bch_csv_field {
    const char *s;
    size_t len;
    bool quoted;
    const char *raw; /* the field as it stands in the buffer, quotes included */
    size_t raw_len;
};

struct bch_csv {
    const char *p;   /* next byte to read */
    const char *end; /* end of buffer */
    char sep;
    long line;      /* line number (1-based) where the current row starts */
    long next_line; /* line number of the next row */
    struct bch_buf scratch;
    struct bch_csv_field fields[BCH_CSV_MAX_FIELDS];
    size_t nfields;
    const char *row; /* the current row as it stands in the buffer, without its line end */
    size_t row_len;
};

/* Starts splitting buf[0..len); skips a UTF-8 BOM.  sep is ';' or ','. */
void bch_csv_init(struct bch_csv *c, const char *buf, size_t len, char sep);
void bch_csv_release(struct bch_csv *c);

/*
 * Reads the next row into c->fields / c->nfields.  Returns 1 for a row, 0 at
 * the end of the buffer, -1 on a malformed row (unterminated quote, text
 * after a closing quote, too many fields) with the reason in err; after -1
 * the splitter has skipped to the next line and can go on.  Empty lines are
 * skipped.
 */
int bch_csv_next(struct bch_csv *c, char *err, size_t errlen);

/* Guesses the separator from the first line (outside quotes): ';' unless it has more ','. */
char bch_csv_sniff_sep(const char *buf, size_t len);

#endif
