/*
 * query.c - request targets and query strings, parsed by hand from the raw
 * target (libmicrohttpd's own decoding would hide %2e%2e and %00).
 */
#include "core/compat.h"

#include <stdarg.h>

#include "http/internal.h"

#define MAX_VALUE 64 /* longest decoded parameter value */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Percent-decodes s[0..len) into out (cap bytes, NUL-terminated).  '+' is
 * kept as '+' (RFC 3986: only HTML forms mean a space by it), so that an
 * offset like +01:00 may be written unencoded.  -1 on a bad escape, a
 * decoded NUL or control character, or overflow.
 */
static int decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int h, l;

            if (i + 2 >= len) {
                return -1;
            }
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0) {
                return -1;
            }
            c = (unsigned char)(h * 16 + l);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            return -1;
        }
        if (n + 1 >= cap) {
            return -1;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

int http_target_split(const char *raw, char *path, size_t pathcap, const char **query)
{
    size_t plen;
    const char *q;

    if (!raw || raw[0] != '/' || strlen(raw) > HTTP_MAX_TARGET) {
        return -1;
    }
    q = strchr(raw, '?');
    plen = q ? (size_t)(q - raw) : strlen(raw);
    if (memchr(raw, '#', plen)) {
        return -1; /* a fragment is never sent by a client */
    }
    *query = q ? q + 1 : "";
    return decode(raw, plen, path, pathcap);
}

int64_t http_parse_id(const char *s, size_t len)
{
    int64_t v = 0;

    if (len == 0 || len > 18) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v > 0 ? v : -1;
}

static int bad(char *msg, size_t msglen, const char *fmt, ...) BCH_PRINTF(3, 4);

static int bad(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
}

struct param_def {
    const char *name;
    unsigned bit;
};

static const struct param_def defs[] = {
    {"at", P_AT},           {"from", P_FROM}, {"to", P_TO},
    {"limit", P_LIMIT},     {"by", P_BY},     {"min_duration", P_MIN_DURATION},
    {"history", P_HISTORY},
};

static int parse_time(const char *name, const char *v, bch_time *out, char *msg, size_t msglen)
{
    char why[96];

    if (bch_time_parse(v, strlen(v), false, out, why, sizeof(why))) {
        return bad(msg, msglen,
                   "'%s' must be an ISO-8601 time with Z or an offset, e.g. "
                   "2025-12-18T09:00:00Z (%s)",
                   name, why);
    }
    return 0;
}

/* Whole number in [min, max]; -1 otherwise. */
static int parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    size_t len = strlen(v);
    int64_t n = 0;

    if (len == 0 || len > 12) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        n = n * 10 + (v[i] - '0');
    }
    if (n < min || n > max) {
        return -1;
    }
    *out = n;
    return 0;
}

static int set_param(const struct param_def *d, const char *v, struct http_params *p, char *msg,
                     size_t msglen)
{
    int64_t n;

    switch (d->bit) {
    case P_AT:
        return parse_time(d->name, v, &p->at, msg, msglen);
    case P_FROM:
        return parse_time(d->name, v, &p->from, msg, msglen);
    case P_TO:
        return parse_time(d->name, v, &p->to, msg, msglen);
    case P_LIMIT:
        if (parse_int(v, 1, 1000, &n)) {
            return bad(msg, msglen, "'limit' must be an integer from 1 to 1000");
        }
        p->limit = (int)n;
        return 0;
    case P_MIN_DURATION:
        if (parse_int(v, 0, 86400LL * 365, &n)) {
            return bad(msg, msglen,
                       "'min_duration' must be a whole number of seconds from 0 to 31536000");
        }
        p->min_duration_s = n;
        return 0;
    case P_BY:
        if (strcmp(v, "segment") == 0) {
            p->by = "segment";
        } else if (strcmp(v, "typevoie") == 0) {
            p->by = "typevoie";
        } else if (strcmp(v, "commune") == 0) {
            p->by = "commune";
        } else {
            return bad(msg, msglen, "'by' must be segment, typevoie or commune");
        }
        return 0;
    case P_HISTORY:
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
            p->history = v[0] == 't';
            return 0;
        }
        return bad(msg, msglen, "'history' must be true or false");
    default:
        return bad(msg, msglen, "internal error");
    }
}

int http_params_parse(const char *query, unsigned allowed, struct http_params *p, char *msg,
                      size_t msglen)
{
    const char *s = query;

    p->have = 0;
    p->at = p->from = p->to = BCH_TIME_NONE;
    p->limit = 0;
    p->min_duration_s = 0;
    p->by = "segment";
    p->history = true;
    while (s && *s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        size_t klen = eq ? (size_t)(eq - s) : len;
        char key[32], val[MAX_VALUE + 1];
        const struct param_def *d = NULL;

        if (len == 0) { /* "a=1&&b=2" or a trailing '&' */
            s = amp ? amp + 1 : NULL;
            continue;
        }
        if (decode(s, klen, key, sizeof(key))) {
            return bad(msg, msglen, "unknown or malformed parameter name");
        }
        for (size_t i = 0; i < BCH_ARRAY_LEN(defs); i++) {
            if (strcmp(defs[i].name, key) == 0 && (allowed & defs[i].bit)) {
                d = &defs[i];
            }
        }
        if (!d) {
            return bad(msg, msglen, "unknown parameter '%.31s'", key);
        }
        if (p->have & d->bit) {
            return bad(msg, msglen, "parameter '%s' is given more than once", d->name);
        }
        if (!eq || eq + 1 == s + len) {
            return bad(msg, msglen, "parameter '%s' has no value", d->name);
        }
        if (decode(eq + 1, len - klen - 1, val, sizeof(val))) {
            return bad(msg, msglen, "parameter '%s': malformed or too long value", d->name);
        }
        if (set_param(d, val, p, msg, msglen)) {
            return -1;
        }
        p->have |= d->bit;
        s = amp ? amp + 1 : NULL;
    }
    if ((p->have & P_FROM) && (p->have & P_TO)) {
        if (p->from > p->to) {
            return bad(msg, msglen, "'from' is after 'to'");
        }
        if (p->to - p->from > HTTP_MAX_RANGE_S) {
            return bad(msg, msglen, "the range from 'from' to 'to' is longer than 3 years");
        }
    }
    return 0;
}
