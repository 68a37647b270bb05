/*
 * fuzz_csv.c - the RFC 4180 splitter (sources/csv.c) on arbitrary bytes.
 *
 * The whole input is the buffer, split with ';' and with ','.  Besides
 * memory errors, it checks what csv.h promises: every call makes progress,
 * line numbers never go back, fields point into the buffer (unquoted) or
 * the scratch storage (unescaped), the raw view of a row is contiguous, and
 * the field limit holds.
 */
#include "core/compat.h"

#include "fuzz.h"
#include "sources/csv.h"

static bool within(const char *p, size_t n, const char *lo, const char *hi)
{
    return p >= lo && p + n <= hi;
}

static void split(const char *buf, size_t len, char sep)
{
    struct bch_csv c;
    char err[64];
    long last_line = 0;
    size_t calls = 0;
    int rc;

    bch_csv_init(&c, buf, len, sep);
    while ((rc = bch_csv_next(&c, err, sizeof(err))) != 0) {
        FUZZ_CHECK(rc == 1 || rc == -1);
        FUZZ_CHECK(++calls <= len + 1); /* each call consumes at least one byte */
        FUZZ_CHECK(c.line >= 1 && c.line >= last_line);
        FUZZ_CHECK(c.next_line > c.line || c.p == c.end);
        FUZZ_CHECK(c.p >= buf && c.p <= buf + len);
        last_line = c.line;
        if (rc < 0) {
            FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
            continue;
        }
        FUZZ_CHECK(c.nfields >= 1 && c.nfields <= BCH_CSV_MAX_FIELDS);
        FUZZ_CHECK(within(c.row, c.row_len, buf, buf + len));
        FUZZ_CHECK(c.row == c.fields[0].raw);
        for (size_t i = 0; i < c.nfields; i++) {
            const struct bch_csv_field *f = &c.fields[i];

            FUZZ_CHECK(within(f->raw, f->raw_len, c.row, c.row + c.row_len));
            if (i + 1 < c.nfields) {
                FUZZ_CHECK(f->raw + f->raw_len + 1 == c.fields[i + 1].raw);
                FUZZ_CHECK(f->raw[f->raw_len] == sep);
            }
            if (f->quoted) {
                FUZZ_CHECK(f->raw_len >= 2 && f->len + 2 <= f->raw_len);
                FUZZ_CHECK(f->raw[0] == '"' && f->raw[f->raw_len - 1] == '"');
                FUZZ_CHECK(within(f->s, f->len, f->raw, f->raw + f->raw_len) ||
                           (c.scratch.data &&
                            within(f->s, f->len, c.scratch.data, c.scratch.data + c.scratch.len)));
                /* an unescaped field has no lone quote left: "" became " */
            } else {
                FUZZ_CHECK(f->s == f->raw && f->len == f->raw_len);
                FUZZ_CHECK(memchr(f->s, sep, f->len) == NULL);
                FUZZ_CHECK(memchr(f->s, '\n', f->len) == NULL);
            }
        }
        {
            const struct bch_csv_field *l = &c.fields[c.nfields - 1];

            FUZZ_CHECK(c.row + c.row_len == l->raw + l->raw_len);
        }
    }
    FUZZ_CHECK(bch_csv_next(&c, err, sizeof(err)) == 0); /* the end is sticky */
    bch_csv_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char s = bch_csv_sniff_sep(buf, size);

    FUZZ_CHECK(s == ';' || s == ',');
    split(buf, size, ';');
    split(buf, size, ',');
    return 0;
}
