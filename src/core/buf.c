#include "core/compat.h"

#include <stdarg.h>

#include "core/buf.h"

void bch_buf_init(struct bch_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void bch_buf_release(struct bch_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void bch_buf_reset(struct bch_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

static int grow(struct bch_buf *b, size_t extra)
{
    size_t need, ncap;
    char *n;

    if (extra > b->max || b->len > b->max - extra) {
        errno = EFBIG;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    ncap = b->cap ? b->cap : 256;
    while (ncap < need) {
        ncap *= 2;
    }
    if (ncap > b->max + 1) {
        ncap = b->max + 1;
    }
    n = realloc(b->data, ncap);
    if (!n) {
        return -1;
    }
    b->data = n;
    b->cap = ncap;
    return 0;
}

int bch_buf_add(struct bch_buf *b, const void *data, size_t len)
{
    if (grow(b, len)) {
        return -1;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int bch_buf_addc(struct bch_buf *b, char c)
{
    return bch_buf_add(b, &c, 1);
}

int bch_buf_adds(struct bch_buf *b, const char *s)
{
    return bch_buf_add(b, s, strlen(s));
}

int bch_buf_printf(struct bch_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n)) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int bch_buf_add_json_str(struct bch_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    if (bch_buf_addc(b, '"')) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 0;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            elen = 6;
        }
        if (elen) {
            if (bch_buf_add(b, s + run, i - run) || bch_buf_add(b, esc, elen)) {
                return -1;
            }
            run = i + 1;
        }
    }
    if (bch_buf_add(b, s + run, len - run)) {
        return -1;
    }
    return bch_buf_addc(b, '"');
}

char *bch_buf_take(struct bch_buf *b)
{
    char *d = b->data;

    if (!d) {
        d = calloc(1, 1);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

int bch_buf_read_file(struct bch_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (!f) {
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (bch_buf_add(b, chunk, n)) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = -1;
    }
    fclose(f);
    if (rc == 0 && !b->data) {
        rc = bch_buf_add(b, "", 0);
    }
    return rc;
}
