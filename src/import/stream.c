#include "core/compat.h"

#include <zlib.h>

#include "core/hash.h"
#include "import/stream.h"

struct bch_lines {
    gzFile gz;
    char *buf;
    size_t cap;
    size_t start; /* first byte not yet handed out */
    size_t end;   /* bytes in buf */
    long line;    /* line number of buf[start] */
    bool eof;
};

struct bch_lines *bch_lines_open(const char *path, char *err, size_t errlen)
{
    struct bch_lines *l = calloc(1, sizeof(*l));

    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    errno = 0;
    l->gz = gzopen(path, "rb");
    if (!l->gz) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno ? errno : ENOMEM));
        free(l);
        return NULL;
    }
    gzbuffer(l->gz, 1u << 18);
    l->cap = BCH_LINES_CHUNK;
    l->buf = malloc(l->cap);
    if (!l->buf) {
        snprintf(err, errlen, "out of memory");
        gzclose(l->gz);
        free(l);
        return NULL;
    }
    l->line = 1;
    return l;
}

void bch_lines_close(struct bch_lines *l)
{
    if (!l) {
        return;
    }
    if (l->gz) {
        gzclose(l->gz);
    }
    free(l->buf);
    free(l);
}

int64_t bch_lines_offset(const struct bch_lines *l)
{
    return (int64_t)gzoffset(l->gz);
}

static long count_lines(const char *p, size_t n)
{
    long c = 0;
    const char *end = p + n;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* Reads more bytes after the pending ones; grows the buffer for a long line. */
static int refill(struct bch_lines *l, char *err, size_t errlen)
{
    size_t pending = l->end - l->start;
    int n;

    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, pending);
        l->start = 0;
        l->end = pending;
    }
    if (l->end == l->cap) {
        size_t ncap = l->cap * 2;
        char *nb;

        if (ncap > BCH_LINES_MAX_LINE) {
            snprintf(err, errlen, "line %ld is longer than %u bytes", l->line, BCH_LINES_MAX_LINE);
            return -1;
        }
        nb = realloc(l->buf, ncap);
        if (!nb) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->buf = nb;
        l->cap = ncap;
    }
    n = gzread(l->gz, l->buf + l->end, (unsigned)(l->cap - l->end));
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(l->gz, &zerr);

        snprintf(err, errlen, "read error: %s", zerr == Z_ERRNO ? strerror(errno) : msg);
        return -1;
    }
    if (n == 0) {
        int zerr;
        const char *msg = gzerror(l->gz, &zerr);

        /* A gzip stream cut short reads as a clean end unless asked. */
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            snprintf(err, errlen, "read error: %s (truncated file?)", msg);
            return -1;
        }
        l->eof = true;
    }
    l->end += (size_t)n;
    return 0;
}

int bch_lines_next(struct bch_lines *l, const char **data, size_t *len, long *first_line, char *err,
                   size_t errlen)
{
    for (;;) {
        size_t pending = l->end - l->start;
        const char *p = l->buf + l->start;
        const char *nl = NULL;

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

            *data = p;
            *len = n;
            *first_line = l->line;
            l->line += count_lines(p, n);
            l->start += n;
            return 1;
        }
        if (l->eof) {
            if (pending == 0) {
                return 0;
            }
            *data = p;
            *len = pending;
            *first_line = l->line;
            l->start = l->end;
            return 1;
        }
        if (refill(l, err, errlen)) {
            return -1;
        }
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
