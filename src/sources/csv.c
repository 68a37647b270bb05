#include "core/compat.h"

#include "sources/csv.h"

void bch_csv_init(struct bch_csv *c, const char *buf, size_t len, char sep)
{
    memset(c, 0, sizeof(*c));
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF) {
        buf += 3;
        len -= 3;
    }
    c->p = buf;
    c->end = buf + len;
    c->sep = sep;
    c->next_line = 1;
    bch_buf_init(&c->scratch, 64u << 20);
}

void bch_csv_release(struct bch_csv *c)
{
    bch_buf_release(&c->scratch);
}

char bch_csv_sniff_sep(const char *buf, size_t len)
{
    size_t semi = 0, comma = 0;
    bool inq = false;

    for (size_t i = 0; i < len && buf[i] != '\n'; i++) {
        if (buf[i] == '"') {
            inq = !inq;
        } else if (!inq && buf[i] == ';') {
            semi++;
        } else if (!inq && buf[i] == ',') {
            comma++;
        }
    }
    return semi >= comma ? ';' : ',';
}

/* Skips the rest of the current line (after an error), counting it. */
static void skip_line(struct bch_csv *c)
{
    while (c->p < c->end && *c->p != '\n') {
        c->p++;
    }
    if (c->p < c->end) {
        c->p++;
    }
    c->next_line++;
}

static int row_fail(struct bch_csv *c, char *err, size_t errlen, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s", why);
    }
    skip_line(c);
    return -1;
}

/* Quoted fields with "" or newlines are unescaped into scratch; offsets are
 * recorded first and turned into pointers once scratch stops moving. */
int bch_csv_next(struct bch_csv *c, char *err, size_t errlen)
{
    size_t scratch_off[BCH_CSV_MAX_FIELDS];
    bool in_scratch[BCH_CSV_MAX_FIELDS];

    /* Skip empty lines (LF or CRLF). */
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n') {
            c->next_line++;
        }
        c->p++;
    }
    if (c->p >= c->end) {
        return 0;
    }
    c->line = c->next_line;
    c->nfields = 0;
    c->row = c->p;
    bch_buf_reset(&c->scratch);
    for (;;) {
        struct bch_csv_field *f;
        const char *p = c->p;

        if (c->nfields >= BCH_CSV_MAX_FIELDS) {
            return row_fail(c, err, errlen, "too many fields in row");
        }
        f = &c->fields[c->nfields];
        in_scratch[c->nfields] = false;
        f->quoted = false;
        f->raw = p;
        if (p < c->end && *p == '"') {
            const char *start = ++p;
            long start_line = c->next_line;
            bool escaped = false;

            f->quoted = true;
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(c->end - p));

                if (!q) {
                    /* The field would swallow the rest of the buffer: resume
                     * on the line after the opening quote instead. */
                    c->p = start;
                    c->next_line = start_line;
                    return row_fail(c, err, errlen, "unterminated quoted field");
                }
                for (const char *nl = p; nl < q; nl++) {
                    if (*nl == '\n') {
                        c->next_line++;
                    }
                }
                if (q + 1 < c->end && q[1] == '"') {
                    escaped = true;
                    p = q + 2;
                    continue;
                }
                p = q + 1;
                if (!escaped) {
                    f->s = start;
                    f->len = (size_t)(q - start);
                } else {
                    /* Copy with "" -> " into scratch. */
                    scratch_off[c->nfields] = c->scratch.len;
                    in_scratch[c->nfields] = true;
                    for (const char *s = start; s < q; s++) {
                        if (bch_buf_addc(&c->scratch, *s)) {
                            return row_fail(c, err, errlen, "field too large");
                        }
                        if (*s == '"') {
                            s++;
                        }
                    }
                    f->len = c->scratch.len - scratch_off[c->nfields];
                }
                break;
            }
            /* A CR ends the row only as part of CRLF (or at the very end),
             * as for unquoted fields: a lone CR is text. */
            if (p < c->end && *p != c->sep && *p != '\n' &&
                (*p != '\r' || (p + 1 < c->end && p[1] != '\n'))) {
                c->p = p;
                return row_fail(c, err, errlen, "unexpected text after a closing quote");
            }
            f->raw_len = (size_t)(p - f->raw);
        } else {
            const char *s = p;

            while (p < c->end && *p != c->sep && *p != '\n') {
                p++;
            }
            f->s = s;
            f->len = (size_t)(p - s);
            if (f->len > 0 && p < c->end && *p == '\n' && s[f->len - 1] == '\r') {
                f->len--;
            } else if (f->len > 0 && p == c->end && s[f->len - 1] == '\r') {
                f->len--;
            }
            f->raw_len = f->len;
        }
        c->nfields++;
        if (p < c->end && *p == c->sep) {
            c->p = p + 1;
            continue;
        }
        {
            const struct bch_csv_field *last = &c->fields[c->nfields - 1];

            c->row_len = (size_t)(last->raw + last->raw_len - c->row);
        }
        if (p < c->end && *p == '\r') {
            p++;
        }
        if (p < c->end && *p == '\n') {
            p++;
            c->next_line++;
        }
        c->p = p;
        break;
    }
    for (size_t i = 0; i < c->nfields; i++) {
        if (in_scratch[i]) {
            c->fields[i].s = c->scratch.data + scratch_off[i];
        }
    }
    return 1;
}
