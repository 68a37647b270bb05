#include "core/compat.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "kafka/message.h"

/* ------------------------------------------------------------- helpers */

void bch_kmsg_format_ms(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - s * 1000);
    char base[32];

    bch_time_format_utc(s, base, sizeof(base));
    /* "YYYY-MM-DDTHH:MM:SSZ" -> "...SS.mmmZ" */
    snprintf(buf, len, "%.19s.%03dZ", base, frac);
}

int bch_kmsg_parse_ms(const char *s, size_t len, int64_t *ms)
{
    bch_time t;
    int frac = 0;

    if (bch_time_parse(s, len, false, &t, NULL, 0)) {
        return -1;
    }
    if (len > 20 && s[19] == '.') {
        int mul = 100;

        for (size_t i = 20; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            frac += (s[i] - '0') * mul;
            mul /= 10;
        }
    }
    *ms = t * 1000 + frac;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;

    if (c < 0x80) {
        return c ? 1 : 0;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

bool bch_kmsg_utf8_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < len;) {
        size_t n;
        uint64_t w;

        /* Fast path: 8 ASCII bytes without NUL at a time. */
        if (i + 8 <= len) {
            memcpy(&w, u + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0 &&
                ((w - UINT64_C(0x0101010101010101)) & ~w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        n = utf8_seq(u + i, len - i);

        if (!n) {
            return false;
        }
        i += n;
    }
    return true;
}

/* Appends s as a JSON string, replacing invalid UTF-8 and NUL by U+FFFD. */
static int add_str_clean(struct bch_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    struct bch_buf tmp;
    int rc = 0;

    if (bch_kmsg_utf8_ok(s, len)) {
        return bch_buf_add_json_str(b, s, len);
    }
    bch_buf_init(&tmp, len * 3 + 16);
    while (i < len && rc == 0) {
        size_t n = utf8_seq(u + i, len - i);

        if (n) {
            i += n;
            continue;
        }
        rc = bch_buf_add(&tmp, s + run, i - run) || bch_buf_add(&tmp, "\xEF\xBF\xBD", 3);
        i++;
        run = i;
    }
    rc = rc || bch_buf_add(&tmp, s + run, len - run) || bch_buf_add_json_str(b, tmp.data, tmp.len);
    bch_buf_release(&tmp);
    return rc ? -1 : 0;
}

static int add_key(struct bch_buf *b, const char *key)
{
    return bch_buf_addc(b, '"') || bch_buf_adds(b, key) || bch_buf_add(b, "\":", 2) ? -1 : 0;
}

/* Decimal integer, no printf (the hot path encodes ~10 numbers a record). */
static int add_int(struct bch_buf *b, int64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        tmp[--n] = '-';
    }
    return bch_buf_add(b, tmp + n, sizeof(tmp) - n);
}

/* bch_time_format_utc() with a one-entry cache: the records of a payload
 * share a handful of instants. */
static const char *utc_text(bch_time t)
{
    static __thread bch_time last[4] = {BCH_TIME_NONE, BCH_TIME_NONE, BCH_TIME_NONE, BCH_TIME_NONE};
    static __thread char text[4][32];
    static __thread unsigned next;
    unsigned i;

    for (i = 0; i < 4; i++) {
        if (last[i] == t) {
            return text[i];
        }
    }
    i = next++ & 3;
    bch_time_format_utc(t, text[i], sizeof(text[i]));
    last[i] = t;
    return text[i];
}

/* A non-negative length with 3 decimals (metres to the millimetre). */
static int add_metres(struct bch_buf *b, double v)
{
    int64_t mm = (int64_t)(v * 1000.0 + 0.5);
    char frac[4];

    if (!(v >= 0) || v > 1e12) {
        return bch_buf_printf(b, "%.3f", v);
    }
    frac[0] = (char)('0' + mm / 100 % 10);
    frac[1] = (char)('0' + mm / 10 % 10);
    frac[2] = (char)('0' + mm % 10);
    frac[3] = '\0';
    return add_int(b, mm / 1000) || bch_buf_addc(b, '.') || bch_buf_add(b, frac, 3) ? -1 : 0;
}

static const char *ms_text(int64_t ms)
{
    static __thread int64_t last = INT64_MIN;
    static __thread char text[40];

    if (ms != last) {
        bch_kmsg_format_ms(ms, text, sizeof(text));
        last = ms;
    }
    return text;
}

static int add_text_or_null(struct bch_buf *b, const char *key, const char *s)
{
    if (add_key(b, key)) {
        return -1;
    }
    if (!s || !s[0]) {
        return bch_buf_adds(b, "null");
    }
    return add_str_clean(b, s, strlen(s));
}

static int add_time_or_null(struct bch_buf *b, const char *key, bch_time t)
{
    if (add_key(b, key)) {
        return -1;
    }
    if (t == BCH_TIME_NONE) {
        return bch_buf_adds(b, "null");
    }
    return bch_buf_addc(b, '"') || bch_buf_adds(b, utc_text(t)) || bch_buf_addc(b, '"') ? -1 : 0;
}

static int add_head(struct bch_buf *b, const char *type, const struct bch_kmsg_source *s)
{
    if (bch_buf_adds(b, "{\"v\":") || add_int(b, BCH_KMSG_VERSION) ||
        bch_buf_adds(b, ",\"type\":\"") || bch_buf_adds(b, type) || bch_buf_add(b, "\",", 2) ||
        add_text_or_null(b, "dataset", s->dataset ? s->dataset : "ci_trafi_l") ||
        bch_buf_adds(b, ",\"source\":{") || add_text_or_null(b, "kind", s->kind) ||
        bch_buf_addc(b, ',') || add_text_or_null(b, "name", s->name) || bch_buf_addc(b, ',') ||
        add_text_or_null(b, "hash", s->hash) || bch_buf_addc(b, ',') ||
        add_text_or_null(b, "format", s->format ? s->format : "unknown") ||
        bch_buf_adds(b, ",\"fetched_at\":\"") || bch_buf_adds(b, ms_text(s->fetched_ms)) ||
        bch_buf_add(b, "\"}", 2)) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ encoders */

int bch_kmsg_encode_record(struct bch_buf *out, const struct bch_kmsg_source *s,
                           const struct bch_trafi_record *r, const struct bch_kmsg_problem *pb,
                           size_t npb)
{
    struct bch_buf *b = out;
    int rc;

    rc = add_head(b, "record", s) || bch_buf_adds(b, ",\"observation\":{") ||
         add_text_or_null(b, "ident", r->ident) || bch_buf_adds(b, ",\"gid\":") ||
         add_int(b, r->gid) || bch_buf_adds(b, ",\"state\":\"") ||
         bch_buf_adds(b, bch_state_name(r->state)) || bch_buf_add(b, "\",", 2) ||
         add_time_or_null(b, "mdate", r->mdate) || bch_buf_addc(b, ',') ||
         add_time_or_null(b, "cdate", r->cdate) || bch_buf_addc(b, ',') ||
         add_text_or_null(b, "typevoie", r->typevoie) || bch_buf_addc(b, ',') ||
         add_text_or_null(b, "commune", r->commune) || bch_buf_addc(b, ',') ||
         add_text_or_null(b, "code_commune", r->code_commune) || bch_buf_addc(b, ',') ||
         add_text_or_null(b, "origine", r->origine);
    if (rc) {
        return -1;
    }
    if (r->geom) {
        rc = bch_buf_adds(b, ",\"length_m\":") || add_metres(b, r->length_m) ||
             bch_buf_addc(b, ',') || add_text_or_null(b, "geom_hash", r->geom_norm_hash);
    } else {
        rc = bch_buf_adds(b, ",\"length_m\":null,\"geom_hash\":null");
    }
    rc = rc || bch_buf_adds(b, "},\"raw\":{\"position\":") || add_int(b, r->position) ||
         bch_buf_addc(b, ',') || add_text_or_null(b, "record_hash", r->record_hash) ||
         bch_buf_adds(b, ",\"body\":") ||
         bch_buf_add_json_str(b, r->raw_body ? r->raw_body : "", r->raw_body ? r->raw_len : 0) ||
         bch_buf_addc(b, ',') || add_text_or_null(b, "geom_hash", r->geom_hash) ||
         bch_buf_adds(b, ",\"geo_shape\":");
    if (rc) {
        return -1;
    }
    if (r->geom_text && r->geom_len) {
        rc = bch_buf_add_json_str(b, r->geom_text, r->geom_len);
    } else {
        rc = bch_buf_adds(b, "null");
    }
    rc = rc || bch_buf_adds(b, "},\"problems\":[");
    for (size_t i = 0; i < npb && rc == 0; i++) {
        rc = (i ? bch_buf_addc(b, ',') : 0) || bch_buf_adds(b, "{\"field\":") ||
             add_str_clean(b, pb[i].field, strlen(pb[i].field)) ||
             bch_buf_adds(b, ",\"reason\":") ||
             add_str_clean(b, pb[i].reason, strlen(pb[i].reason)) ||
             bch_buf_adds(b, ",\"value\":") || add_str_clean(b, pb[i].value, strlen(pb[i].value)) ||
             bch_buf_addc(b, '}');
    }
    rc = rc || bch_buf_adds(b, "]}");
    return rc ? -1 : 0;
}

int bch_kmsg_encode_end(struct bch_buf *out, const struct bch_kmsg_source *s, bch_time snapshot_at,
                        long records, long rejected, int partition, int partitions)
{
    int rc = add_head(out, "end", s) || bch_buf_addc(out, ',') ||
             add_time_or_null(out, "snapshot_at", snapshot_at) ||
             bch_buf_printf(out,
                            ",\"records\":%ld,\"rejected\":%ld,\"partition\":%d,"
                            "\"partitions\":%d}",
                            records, rejected, partition, partitions);

    return rc ? -1 : 0;
}

int bch_kmsg_encode_rejected(struct bch_buf *out, const struct bch_kmsg_source *s, long position,
                             const char *field, const char *reason, const char *value, size_t vlen,
                             const char *raw, size_t rawlen, size_t raw_max, size_t size)
{
    int rc = add_head(out, "rejected", s) || bch_buf_printf(out, ",\"position\":%ld,", position) ||
             add_key(out, "field") ||
             add_str_clean(out, field ? field : "", field ? strlen(field) : 0) ||
             bch_buf_addc(out, ',') || add_key(out, "reason") ||
             add_str_clean(out, reason, strlen(reason)) || bch_buf_adds(out, ",\"value\":");

    if (rc) {
        return -1;
    }
    rc = value ? add_str_clean(out, value, vlen > 200 ? 200 : vlen) : bch_buf_adds(out, "null");
    rc = rc || bch_buf_adds(out, ",\"raw\":");
    if (rc == 0 && raw) {
        size_t n = rawlen > raw_max ? raw_max : rawlen;

        /* Do not cut a UTF-8 sequence in half. */
        while (n < rawlen && n > 0 && ((unsigned char)raw[n] & 0xC0) == 0x80) {
            n--;
        }
        rc = add_str_clean(out, raw, n) ||
             bch_buf_printf(out, ",\"raw_truncated\":%s", n < rawlen ? "true" : "false");
    } else if (rc == 0) {
        rc = bch_buf_adds(out, "null,\"raw_truncated\":false");
    }
    rc = rc || bch_buf_printf(out, ",\"size\":%zu}", size);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------- decoder */

static const char *str_or_null(json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap) {
        return -1;
    }
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return 0;
}

static int time_field(json_t *o, const char *key, bool required, bch_time *out)
{
    bool bad = false;
    const char *s = str_or_null(o, key, &bad);

    *out = BCH_TIME_NONE;
    if (bad || (!s && required)) {
        return -1;
    }
    if (s && bch_time_parse(s, strlen(s), false, out, NULL, 0)) {
        return -1;
    }
    return 0;
}

static int decode_record(struct bch_kmsg *m, json_t *root, char *err, size_t errlen)
{
    json_t *obs = json_object_get(root, "observation");
    json_t *raw = json_object_get(root, "raw");
    struct bch_trafi_record *r = &m->rec;
    bool bad = false;
    const char *ident, *state, *body;
    json_t *v;
    int st;

    if (!json_is_object(obs) || !json_is_object(raw)) {
        snprintf(err, errlen, "record without observation or raw object");
        return BCH_ERR_INPUT;
    }
    ident = str_or_null(obs, "ident", &bad);
    state = str_or_null(obs, "state", &bad);
    if (!ident || !ident[0] || copy_field(r->ident, sizeof(r->ident), ident)) {
        snprintf(err, errlen, "observation.ident missing or too long");
        return BCH_ERR_INPUT;
    }
    v = json_object_get(obs, "gid");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "observation.gid is not a non-negative integer");
        return BCH_ERR_INPUT;
    }
    r->gid = json_integer_value(v);
    st = state ? bch_state_parse(state, strlen(state)) : -1;
    if (st < 0) {
        snprintf(err, errlen, "observation.state is not a state name");
        return BCH_ERR_INPUT;
    }
    r->state = st;
    if (time_field(obs, "mdate", true, &r->mdate) || time_field(obs, "cdate", false, &r->cdate)) {
        snprintf(err, errlen, "observation.mdate or cdate is not an ISO-8601 instant");
        return BCH_ERR_INPUT;
    }
    if (copy_field(r->typevoie, sizeof(r->typevoie), str_or_null(obs, "typevoie", &bad)) ||
        copy_field(r->commune, sizeof(r->commune), str_or_null(obs, "commune", &bad)) ||
        copy_field(r->code_commune, sizeof(r->code_commune),
                   str_or_null(obs, "code_commune", &bad)) ||
        copy_field(r->origine, sizeof(r->origine), str_or_null(obs, "origine", &bad)) || bad) {
        snprintf(err, errlen, "observation attribute too long or not a string");
        return BCH_ERR_INPUT;
    }
    v = json_object_get(raw, "position");
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "raw.position is not an integer");
        return BCH_ERR_INPUT;
    }
    r->position = (long)json_integer_value(v);
    v = json_object_get(raw, "body");
    body = json_string_value(v);
    if (!body) {
        snprintf(err, errlen, "raw.body is not a string");
        return BCH_ERR_INPUT;
    }
    r->raw_body = body;
    r->raw_len = json_string_length(v);
    v = json_object_get(raw, "geo_shape");
    if (json_is_string(v) && json_string_length(v) > 0) {
        m->geo_shape = json_string_value(v);
        m->geo_len = json_string_length(v);
    } else if (v && !json_is_null(v) && !json_is_string(v)) {
        snprintf(err, errlen, "raw.geo_shape is not a string");
        return BCH_ERR_INPUT;
    }
    return 0;
}

static int decode_end(struct bch_kmsg *m, json_t *root, char *err, size_t errlen)
{
    json_t *v;

    if (time_field(root, "snapshot_at", false, &m->snapshot_at)) {
        snprintf(err, errlen, "snapshot_at is not an ISO-8601 instant");
        return BCH_ERR_INPUT;
    }
    v = json_object_get(root, "records");
    m->records = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    v = json_object_get(root, "rejected");
    m->rejected = json_is_integer(v) ? (long)json_integer_value(v) : 0;
    v = json_object_get(root, "partition");
    m->partition = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    v = json_object_get(root, "partitions");
    m->partitions = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    return 0;
}

int bch_kmsg_decode(const void *buf, size_t len, struct bch_kmsg *m, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *src, *v;
    const char *type, *fetched;
    bool bad = false;
    int rc;

    memset(m, 0, sizeof(*m));
    m->snapshot_at = BCH_TIME_NONE;
    m->rec.cdate = BCH_TIME_NONE;
    root = json_loadb(buf, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s (byte %d)", jerr.text, jerr.position);
        return BCH_ERR_INPUT;
    }
    m->root = root;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "not a JSON object");
        return BCH_ERR_INPUT;
    }
    v = json_object_get(root, "v");
    if (!json_is_integer(v) || json_integer_value(v) != BCH_KMSG_VERSION) {
        snprintf(err, errlen, "unknown message version (want \"v\": %d)", BCH_KMSG_VERSION);
        return BCH_ERR_INPUT;
    }
    type = json_string_value(json_object_get(root, "type"));
    if (type && strcmp(type, "record") == 0) {
        m->type = BCH_KMSG_RECORD;
    } else if (type && strcmp(type, "end") == 0) {
        m->type = BCH_KMSG_END;
    } else if (type && strcmp(type, "rejected") == 0) {
        m->type = BCH_KMSG_REJECTED;
    } else {
        snprintf(err, errlen, "unknown message type");
        return BCH_ERR_INPUT;
    }
    m->dataset = str_or_null(root, "dataset", &bad);
    src = json_object_get(root, "source");
    if (!json_is_object(src)) {
        snprintf(err, errlen, "no source object");
        return BCH_ERR_INPUT;
    }
    m->source.kind = str_or_null(src, "kind", &bad);
    m->source.name = str_or_null(src, "name", &bad);
    m->source.hash = str_or_null(src, "hash", &bad);
    m->source.format = str_or_null(src, "format", &bad);
    fetched = str_or_null(src, "fetched_at", &bad);
    if (bad || !m->source.kind || !m->source.name || !m->source.hash ||
        strlen(m->source.hash) != BCH_HASH_HEX - 1 || !fetched ||
        bch_kmsg_parse_ms(fetched, strlen(fetched), &m->source.fetched_ms)) {
        snprintf(err, errlen, "source.kind, name, hash or fetched_at missing or invalid");
        return BCH_ERR_INPUT;
    }
    if (!m->dataset) {
        m->dataset = "ci_trafi_l";
    }
    switch (m->type) {
    case BCH_KMSG_RECORD:
        rc = decode_record(m, root, err, errlen);
        break;
    case BCH_KMSG_END:
        rc = decode_end(m, root, err, errlen);
        break;
    default:
        rc = 0;
        break;
    }
    return rc;
}

void bch_kmsg_release(struct bch_kmsg *m)
{
    if (m && m->root) {
        json_decref(m->root);
        m->root = NULL;
    }
}
