/*
 * stream.c - bch_lines: see stream.h.
 *
 * Gzip is inflated here with zlib's inflate() (16 + MAX_WBITS: a gzip
 * header expected) rather than gzread(): gzread() discards what it decoded in
 * the call that meets a data or CRC error, so the complete lines before a
 * corruption would be lost, and it hides where the compressed stream ended.
 * Driving inflate() keeps every decoded byte, reads concatenated members,
 * and tells a truncated file (FAIL_TRUNC) from corrupt data (FAIL_DATA).
 */
#include "core/compat.h"

#include <zlib.h>

#include "core/hash.h"
#include "import/stream.h"

#define IN_CHUNK (1u << 18) /* compressed bytes read per call */

struct bch_lines {
    FILE *f;
    bool gz;           /* gzip magic seen: inflate */
    z_stream zs;       /* gzip state (gz) */
    bool zinit;        /* zs initialised */
    bool member_end;   /* the current gzip member ended */
    unsigned char *in; /* compressed input (gz) */
    bool in_eof;       /* no more bytes in the file */
    int64_t consumed;  /* bytes of the file read */
    char *buf;
    size_t cap;
    size_t start; /* first byte not yet handed out */
    size_t end;   /* bytes in buf */
    long line;    /* line number of buf[start] */
    size_t max_line;
    bool eof;      /* every byte of the content is in buf */
    bool skipping; /* dropping an over-long line up to its line break */
    long skip_line;
    int fail;       /* 0, or the kind of error met (FAIL_*) once buf is drained */
    char fmsg[160]; /* its detail */
};

enum { FAIL_IO = 1, FAIL_TRUNC, FAIL_DATA };

struct bch_lines *bch_lines_open(const char *path, char *err, size_t errlen)
{
    struct bch_lines *l = calloc(1, sizeof(*l));
    unsigned char magic[2];
    size_t n;

    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->f = fopen(path, "rb");
    if (!l->f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        free(l);
        return NULL;
    }
    l->cap = BCH_LINES_CHUNK;
    l->buf = malloc(l->cap);
    l->in = malloc(IN_CHUNK);
    if (!l->buf || !l->in) {
        snprintf(err, errlen, "out of memory");
        bch_lines_close(l);
        return NULL;
    }
    l->line = 1;
    l->max_line = BCH_LINES_MAX_LINE;
    n = fread(magic, 1, 2, l->f);
    if (n < 2 && ferror(l->f)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        bch_lines_close(l);
        return NULL;
    }
    l->consumed = (int64_t)n;
    if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        l->gz = true;
        memset(&l->zs, 0, sizeof(l->zs));
        if (inflateInit2(&l->zs, 16 + MAX_WBITS) != Z_OK) {
            snprintf(err, errlen, "out of memory");
            bch_lines_close(l);
            return NULL;
        }
        l->zinit = true;
        memcpy(l->in, magic, 2);
        l->zs.next_in = l->in;
        l->zs.avail_in = 2;
    } else {
        memcpy(l->buf, magic, n);
        l->end = n;
    }
    return l;
}

void bch_lines_close(struct bch_lines *l)
{
    if (!l) {
        return;
    }
    if (l->zinit) {
        inflateEnd(&l->zs);
    }
    if (l->f) {
        fclose(l->f);
    }
    free(l->in);
    free(l->buf);
    free(l);
}

void bch_lines_set_max_line(struct bch_lines *l, size_t max)
{
    l->max_line = max < 1024 ? 1024 : max;
}

int64_t bch_lines_offset(const struct bch_lines *l)
{
    return l->consumed;
}

/* More compressed input; false at the end of the file (or on an I/O error, l->fail set). */
static bool more_input(struct bch_lines *l)
{
    size_t n;

    if (l->in_eof) {
        return false;
    }
    n = fread(l->in, 1, IN_CHUNK, l->f);
    l->consumed += (int64_t)n;
    if (n == 0) {
        if (ferror(l->f)) {
            l->fail = FAIL_IO;
            snprintf(l->fmsg, sizeof(l->fmsg), "%s", strerror(errno));
        }
        l->in_eof = true;
        return false;
    }
    l->zs.next_in = l->in;
    l->zs.avail_in = (uInt)n;
    return true;
}

/*
 * Inflates into dst[0..n): the bytes produced, 0 at the end or on an error
 * (l->fail set).  The bytes produced by the call that met an error are
 * returned first: nothing decoded is dropped.
 */
static size_t inflate_some(struct bch_lines *l, char *dst, size_t n)
{
    for (;;) {
        int zrc;
        size_t got;

        if (l->member_end) {
            /* Another member may follow (concatenated gzip); other trailing
             * bytes are ignored, as gzip -d does. */
            if (l->zs.avail_in == 0 && !more_input(l)) {
                return 0;
            }
            if (l->zs.next_in[0] != 0x1f) {
                l->zs.avail_in = 0;
                l->in_eof = true;
                return 0;
            }
            inflateReset(&l->zs);
            l->member_end = false;
        }
        if (l->zs.avail_in == 0 && !more_input(l)) {
            if (l->fail) {
                return 0;
            }
            l->fail = FAIL_TRUNC;
            snprintf(l->fmsg, sizeof(l->fmsg), "unexpected end of file");
            return 0;
        }
        l->zs.next_out = (unsigned char *)dst;
        l->zs.avail_out = (uInt)n;
        zrc = inflate(&l->zs, Z_NO_FLUSH);
        got = n - l->zs.avail_out;
        if (zrc == Z_STREAM_END) {
            l->member_end = true;
        } else if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT || zrc == Z_MEM_ERROR ||
                   zrc == Z_STREAM_ERROR) {
            l->fail = FAIL_DATA;
            snprintf(l->fmsg, sizeof(l->fmsg), "%s",
                     l->zs.msg ? l->zs.msg : (zrc == Z_MEM_ERROR ? "out of memory" : "bad data"));
        }
        if (got > 0 || l->fail) {
            return got;
        }
    }
}

/* Reads more bytes after the pending ones; grows the buffer for a long line. */
static void refill(struct bch_lines *l)
{
    size_t pending = l->end - l->start;
    size_t n;

    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, pending);
        l->start = 0;
        l->end = pending;
    }
    if (l->end == l->cap) {
        size_t ncap = l->cap * 2;
        char *nb;

        if (ncap > l->max_line + BCH_LINES_CHUNK) {
            ncap = l->max_line + BCH_LINES_CHUNK;
        }
        nb = ncap > l->cap ? realloc(l->buf, ncap) : NULL;
        if (!nb) {
            /* No line break within max_line bytes (or no memory): drop them. */
            l->skipping = true;
            l->skip_line = l->line;
            l->start = l->end = 0;
            return;
        }
        l->buf = nb;
        l->cap = ncap;
    }
    if (l->gz) {
        n = inflate_some(l, l->buf + l->end, l->cap - l->end);
    } else {
        n = fread(l->buf + l->end, 1, l->cap - l->end, l->f);
        l->consumed += (int64_t)n;
        if (n == 0 && ferror(l->f)) {
            l->fail = FAIL_IO;
            snprintf(l->fmsg, sizeof(l->fmsg), "%s", strerror(errno));
        }
    }
    if (n == 0 && !l->fail) {
        l->eof = true;
    }
    l->end += n;
}

static void fail_message(const struct bch_lines *l, char *err, size_t errlen)
{
    switch (l->fail) {
    case FAIL_TRUNC:
        snprintf(err, errlen,
                 "truncated gzip stream (unexpected end of file at line %ld): the %ld complete "
                 "lines before it were read and their valid rows kept",
                 l->line, l->line - 1);
        break;
    case FAIL_DATA:
        if (strstr(l->fmsg, "check")) {
            snprintf(err, errlen,
                     "gzip integrity check failed (zlib: %s) at the end of the stream, after "
                     "line %ld: the lines were read and their valid rows kept, but rows decoded "
                     "from corrupt data cannot be told apart from good ones",
                     l->fmsg, l->line - 1);
            break;
        }
        snprintf(err, errlen,
                 "corrupt gzip stream (zlib: %s) at line %ld: the %ld complete lines before it "
                 "were read and their valid rows kept, but rows decoded from corrupt data "
                 "cannot be told apart from good ones",
                 l->fmsg, l->line, l->line - 1);
        break;
    default:
        snprintf(err, errlen, "read error at line %ld: %s", l->line, l->fmsg);
        break;
    }
}

int bch_lines_next(struct bch_lines *l, const char **data, size_t *len, long *first_line, char *err,
                   size_t errlen)
{
    for (;;) {
        size_t pending = l->end - l->start;
        const char *p = l->buf + l->start;
        const char *nl = NULL;

        if (l->skipping) {
            const char *b = pending ? memchr(p, '\n', pending) : NULL;

            if (b || l->eof || l->fail) {
                if (b) {
                    l->start += (size_t)(b - p) + 1;
                } else {
                    l->start = l->end;
                }
                l->skipping = false;
                *first_line = l->skip_line;
                l->line = l->skip_line + 1;
                snprintf(err, errlen, "line longer than %zu bytes: skipped", l->max_line);
                return 2;
            }
            l->start = l->end = 0;
            refill(l);
            continue;
        }
        if (pending > 0) {
            /* Last line break of the pending bytes. */
            for (size_t i = pending; i > 0; i--) {
                if (p[i - 1] == '\n') {
                    nl = p + i - 1;
                    break;
                }
            }
        }
        if (nl) {
            size_t n = (size_t)(nl - p) + 1;
            const char *q = p, *end = p + n;
            long lines = 0;

            /* Whole lines up to the first over-long one; that one is skipped. */
            while (q < end) {
                const char *e = memchr(q, '\n', (size_t)(end - q));

                if ((size_t)(e - q) > l->max_line) {
                    if (q == p) {
                        l->start += (size_t)(e - p) + 1;
                        *first_line = l->line;
                        l->line++;
                        snprintf(err, errlen, "line longer than %zu bytes: skipped", l->max_line);
                        return 2;
                    }
                    n = (size_t)(q - p);
                    break;
                }
                lines++;
                q = e + 1;
            }
            *data = p;
            *len = n;
            *first_line = l->line;
            l->line += lines;
            l->start += n;
            return 1;
        }
        if (l->fail) {
            fail_message(l, err, errlen);
            return -1;
        }
        if (l->eof) {
            if (pending == 0) {
                return 0;
            }
            if (pending > l->max_line) {
                l->start = l->end;
                *first_line = l->line;
                snprintf(err, errlen, "line longer than %zu bytes: skipped", l->max_line);
                return 2;
            }
            *data = p;
            *len = pending;
            *first_line = l->line;
            l->start = l->end;
            return 1;
        }
        if (pending > l->max_line) { /* as the region scan: a line of max_line bytes is kept */
            l->skipping = true;
            l->skip_line = l->line;
            l->start = l->end = 0;
            continue;
        }
        refill(l);
    }
}

/* A hasher over "import:" tag "\n": the prefix of every import's content hash. */
static struct bch_hasher *import_hasher(const char *tag)
{
    struct bch_hasher *h = bch_hasher_new();

    if (h) {
        bch_hasher_add(h, "import:", 7);
        bch_hasher_add(h, tag, strlen(tag));
        bch_hasher_add(h, "\n", 1);
    }
    return h;
}

int bch_import_hash_file(const char *path, const char *tag, char out[33], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct bch_hasher *h = NULL;
    char *chunk = NULL;
    int rc = -1;

    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    h = import_hasher(tag);
    chunk = malloc(1u << 20);
    if (!h || !chunk) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (;;) {
        size_t n = fread(chunk, 1, 1u << 20, f);

        if (n > 0) {
            bch_hasher_add(h, chunk, n);
        }
        if (n < (1u << 20)) {
            if (ferror(f)) {
                snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    bch_hasher_finish(h, out);
    h = NULL;
    rc = 0;
out:
    bch_hasher_free(h);
    free(chunk);
    fclose(f);
    return rc;
}

int bch_import_hash_buffer(const void *data, size_t len, const char *tag, char out[33])
{
    struct bch_hasher *h = import_hasher(tag);

    if (!h) {
        return -1;
    }
    bch_hasher_add(h, data, len);
    bch_hasher_finish(h, out);
    return 0;
}
