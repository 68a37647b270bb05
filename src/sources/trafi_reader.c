#include "core/compat.h"

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "sources/csv.h"
#include "sources/trafi_reader.h"

/* ------------------------------------------------------------ field names */

enum fld {
    F_GEO_POINT,
    F_GEO_SHAPE,
    F_GML_ID,
    F_GID,
    F_IDENT,
    F_TYPEVOIE,
    F_ETAT,
    F_CDATE,
    F_MDATE,
    F_ORIGINE,
    F_COMMUNE,
    F_CODE_COMMUNE,
    F_COUNT
};

/*
 * Canonical field names, then the labels an export made with use_labels=true
 * (or the portal's download button) may use instead.  Matching ignores case,
 * accents, spaces, '_' and '-'.  Only the geo labels are seen in real files;
 * the others are the portal's French labels, accepted on the same footing.
 */
static const char *const field_aliases[F_COUNT][5] = {
    [F_GEO_POINT] = {"geo_point_2d", "geopoint", "geopoint2d", NULL},
    [F_GEO_SHAPE] = {"geo_shape", "geoshape", "geom", "geometry", NULL},
    [F_GML_ID] = {"gml_id", "identifiantgml", NULL},
    [F_GID] = {"gid", "identifiantgid", NULL},
    [F_IDENT] = {"ident", "identifiant", "code", NULL},
    [F_TYPEVOIE] = {"typevoie", "typedevoie", NULL},
    [F_ETAT] = {"etat", "etatdutrafic", NULL},
    [F_CDATE] = {"cdate", "datedecreation", NULL},
    [F_MDATE] = {"mdate", "datedemodification", "datedemiseajour", "heure", NULL},
    [F_ORIGINE] = {"origine", NULL},
    [F_COMMUNE] = {"commune", NULL},
    [F_CODE_COMMUNE] = {"code_commune", "codecommune", "codeinsee", "insee", NULL},
};

static const char *const field_names[F_COUNT] = {
    "geo_point_2d", "geo_shape", "gml_id", "gid",     "ident",   "typevoie",
    "etat",         "cdate",     "mdate",  "origine", "commune", "code_commune"};

/* Folds a header or key: lower case ASCII, strips accents of Latin-1 letters
 * in UTF-8 (C3 xx), drops ' ', '_', '-', '.'. */
static size_t fold_name(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '_' || c == '-' || c == '.' || c == '\'') {
            continue;
        }
        if (c == 0xC3 && i + 1 < len) {
            unsigned char d = (unsigned char)s[++i] | 0x20; /* lower-case Latin-1 */

            if (d >= 0xA0 && d <= 0xA5) {
                c = 'a';
            } else if (d == 0xA7) {
                c = 'c';
            } else if (d >= 0xA8 && d <= 0xAB) {
                c = 'e';
            } else if (d >= 0xAC && d <= 0xAF) {
                c = 'i';
            } else if (d >= 0xB2 && d <= 0xB6) {
                c = 'o';
            } else if (d >= 0xB9 && d <= 0xBC) {
                c = 'u';
            } else {
                continue;
            }
        } else if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

static int field_lookup(const char *name, size_t len)
{
    char folded[64];
    char alias[64];

    fold_name(name, len, folded, sizeof(folded));
    for (int f = 0; f < F_COUNT; f++) {
        for (int a = 0; a < 5 && field_aliases[f][a]; a++) {
            fold_name(field_aliases[f][a], strlen(field_aliases[f][a]), alias, sizeof(alias));
            if (strcmp(folded, alias) == 0) {
                return f;
            }
        }
    }
    return -1;
}

const char *bch_format_name(enum bch_format f)
{
    switch (f) {
    case BCH_FMT_CSV:
        return "csv";
    case BCH_FMT_JSON:
        return "json";
    case BCH_FMT_RECORDS:
        return "records";
    case BCH_FMT_GEOJSON:
        return "geojson";
    case BCH_FMT_V1:
        return "v1";
    default:
        return "unknown";
    }
}

/* -------------------------------------------------------- geometry cache */

/*
 * Segment geometries almost never change between snapshots, and parsing a
 * LineString costs more than the rest of the record; so parsed geometries
 * are cached by the hash of their received text.  Bounded: when half full
 * the table is emptied (a network has ~700 geometries).
 */
#define GEOM_CACHE_SLOTS 4096

struct geom_entry {
    bool used;
    bool valid;
    char raw_hash[BCH_HASH_HEX];
    struct bch_geom geom;
    char *norm;
    char norm_hash[BCH_HASH_HEX];
    double length_m;
    char error[128];
};

struct bch_reader {
    struct geom_entry *slots;
    size_t used;
};

struct bch_reader *bch_reader_new(void)
{
    struct bch_reader *r = calloc(1, sizeof(*r));

    if (!r) {
        return NULL;
    }
    r->slots = calloc(GEOM_CACHE_SLOTS, sizeof(struct geom_entry));
    if (!r->slots) {
        free(r);
        return NULL;
    }
    return r;
}

static void cache_clear(struct bch_reader *r)
{
    for (size_t i = 0; i < GEOM_CACHE_SLOTS; i++) {
        if (r->slots[i].used) {
            bch_geom_release(&r->slots[i].geom);
            free(r->slots[i].norm);
        }
    }
    memset(r->slots, 0, GEOM_CACHE_SLOTS * sizeof(struct geom_entry));
    r->used = 0;
}

void bch_reader_free(struct bch_reader *r)
{
    if (!r) {
        return;
    }
    cache_clear(r);
    free(r->slots);
    free(r);
}

/* Finds or fills the entry for geometry text (and its parsed JSON, if the
 * caller has it).  Never NULL unless out of memory. */
static struct geom_entry *geom_get(struct bch_reader *r, const char *text, size_t len,
                                   const json_t *parsed)
{
    char h[BCH_HASH_HEX];
    size_t i;
    struct geom_entry *e;
    int rc;

    bch_hash_hex(text, len, h);
    if (r->used * 2 >= GEOM_CACHE_SLOTS) {
        cache_clear(r);
    }
    i = (size_t)bch_hash64(h, 32) & (GEOM_CACHE_SLOTS - 1);
    while (r->slots[i].used && strcmp(r->slots[i].raw_hash, h) != 0) {
        i = (i + 1) & (GEOM_CACHE_SLOTS - 1);
    }
    e = &r->slots[i];
    if (e->used) {
        return e;
    }
    memcpy(e->raw_hash, h, BCH_HASH_HEX);
    if (parsed) {
        rc = bch_geom_from_json(&e->geom, parsed, e->error, sizeof(e->error));
    } else {
        rc = bch_geom_parse(&e->geom, text, len, e->error, sizeof(e->error));
    }
    if (rc == 0 && e->geom.type != BCH_GEOM_LINESTRING &&
        e->geom.type != BCH_GEOM_MULTILINESTRING) {
        snprintf(e->error, sizeof(e->error),
                 "a road segment must be a LineString or "
                 "MultiLineString, not %s",
                 bch_geom_type_name(e->geom.type));
        bch_geom_release(&e->geom);
        rc = -1;
    }
    if (rc == 0) {
        e->norm = bch_geom_to_json(&e->geom);
        if (!e->norm) {
            bch_geom_release(&e->geom);
            return NULL;
        }
        bch_hash_hex(e->norm, strlen(e->norm), e->norm_hash);
        e->length_m = bch_geom_length_m(&e->geom);
        e->valid = true;
    }
    e->used = true;
    r->used++;
    return e;
}

int bch_reader_geometry(struct bch_reader *r, const char *text, size_t len,
                        struct bch_geom_info *info)
{
    struct geom_entry *e = geom_get(r, text, len, NULL);

    memset(info, 0, sizeof(*info));
    if (!e) {
        return BCH_ERR_NOMEM;
    }
    info->raw_hash = e->raw_hash;
    if (!e->valid) {
        info->error = e->error;
        return -1;
    }
    info->geom = &e->geom;
    info->norm = e->norm;
    info->norm_hash = e->norm_hash;
    info->length_m = e->length_m;
    return 0;
}

/* --------------------------------------------------- record normalization */

struct fields {
    const char *v[F_COUNT];
    size_t len[F_COUNT];
    const json_t *geom_json; /* JSON inputs: the parsed geometry */
    char numbuf[F_COUNT][32];
};

struct parse_ctx {
    struct bch_reader *r;
    const struct bch_reader_sink *sink;
    struct bch_parse_result *res;
    struct bch_buf body;
    struct bch_buf gtext;
};

static int problem(struct parse_ctx *x, long pos, const char *field, const char *reason,
                   const char *value, size_t vlen, bool coerced)
{
    struct bch_problem pb = {pos, field, reason, value, vlen, coerced};

    if (coerced) {
        x->res->coerced++;
    }
    return x->sink->problem ? x->sink->problem(x->sink->ctx, &pb) : 0;
}

static int reject(struct parse_ctx *x, long pos, const char *field, const char *reason,
                  const char *value, size_t vlen)
{
    x->res->rejected++;
    return problem(x, pos, field, reason, value, vlen, false);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t') {
            return false;
        }
    }
    return true;
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    size_t n;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
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
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

static bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);

        if (n == 0 || p[i] == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

/* Replaces each invalid byte of dst (NUL-terminated) by '?'. */
static void utf8_repair(char *dst)
{
    unsigned char *p = (unsigned char *)dst;
    size_t len = strlen(dst);

    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);

        if (n == 0) {
            p[i++] = '?';
        } else {
            i += n;
        }
    }
}

/* Copies an optional text field, truncating (and saying so) when too long;
 * bytes that are not UTF-8 become '?' (also said): the outputs are JSON. */
static int copy_text(struct parse_ctx *x, long pos, const struct fields *f, int id, char *dst,
                     size_t cap)
{
    size_t n = f->len[id];

    dst[0] = '\0';
    if (!f->v[id]) {
        return 0;
    }
    if (n >= cap) {
        int rc = problem(x, pos, field_names[id], "value too long, truncated", f->v[id], n, true);

        if (rc) {
            return rc;
        }
        n = cap - 1;
        /* Do not cut a UTF-8 sequence in half. */
        while (n > 0 && ((unsigned char)f->v[id][n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(dst, f->v[id], n);
    dst[n] = '\0';
    if (!utf8_valid(dst, strlen(dst))) {
        int rc = problem(x, pos, field_names[id], "not valid UTF-8: invalid bytes replaced by '?'",
                         f->v[id], f->len[id], true);

        if (rc) {
            return rc;
        }
        utf8_repair(dst);
    }
    return 0;
}

static int parse_int64(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    bool neg = false;

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    if (i < len && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    if (i >= len || s[i] < '0' || s[i] > '9') {
        return -1; /* at least one digit before any '.' */
    }
    for (; i < len; i++) {
        if (s[i] == '.') {
            /* "2151.0": accept an integral float spelling. */
            for (size_t j = i + 1; j < len; j++) {
                if (s[j] != '0') {
                    return -1;
                }
            }
            break;
        }
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* Validates the fields of one record and hands it to the sink. */
static int emit_record(struct parse_ctx *x, long pos, const struct fields *f)
{
    struct bch_trafi_record rec;
    char terr[96];
    int rc, st;

    memset(&rec, 0, sizeof(rec));
    rec.position = pos;
    rec.cdate = BCH_TIME_NONE;

    if (!f->v[F_IDENT] || is_blank(f->v[F_IDENT], f->len[F_IDENT])) {
        return reject(x, pos, "ident", "missing field", NULL, 0);
    }
    if (f->len[F_IDENT] >= sizeof(rec.ident)) {
        return reject(x, pos, "ident", "value too long", f->v[F_IDENT], f->len[F_IDENT]);
    }
    /* JSON may carry "\u0000": as a C string the key would lose its tail and
     * merge with another segment's. */
    if (memchr(f->v[F_IDENT], '\0', f->len[F_IDENT])) {
        return reject(x, pos, "ident", "value contains a NUL byte", f->v[F_IDENT], f->len[F_IDENT]);
    }
    if (!utf8_valid(f->v[F_IDENT], f->len[F_IDENT])) {
        return reject(x, pos, "ident", "not valid UTF-8", f->v[F_IDENT], f->len[F_IDENT]);
    }
    memcpy(rec.ident, f->v[F_IDENT], f->len[F_IDENT]);

    if (f->v[F_GID]) {
        if (parse_int64(f->v[F_GID], f->len[F_GID], &rec.gid) || rec.gid < 0) {
            return reject(x, pos, "gid", "not a non-negative integer", f->v[F_GID], f->len[F_GID]);
        }
    } else if (f->v[F_GML_ID] && f->len[F_GML_ID] > 11 &&
               memcmp(f->v[F_GML_ID], "CI_TRAFI_L.", 11) == 0 &&
               parse_int64(f->v[F_GML_ID] + 11, f->len[F_GML_ID] - 11, &rec.gid) == 0) {
        /* gid recovered from gml_id "CI_TRAFI_L.<gid>". */
    } else {
        return reject(x, pos, "gid", "missing field", NULL, 0);
    }

    if (!f->v[F_MDATE] || is_blank(f->v[F_MDATE], f->len[F_MDATE])) {
        return reject(x, pos, "mdate", "missing field", NULL, 0);
    }
    if (bch_time_parse(f->v[F_MDATE], f->len[F_MDATE], false, &rec.mdate, terr, sizeof(terr))) {
        return reject(x, pos, "mdate", terr, f->v[F_MDATE], f->len[F_MDATE]);
    }

    if (!f->v[F_ETAT] || is_blank(f->v[F_ETAT], f->len[F_ETAT])) {
        return reject(x, pos, "etat", "missing field", NULL, 0);
    }
    st = bch_state_parse(f->v[F_ETAT], f->len[F_ETAT]);
    if (st < 0) {
        rc = problem(x, pos, "etat", "unknown state value, stored as INCONNU", f->v[F_ETAT],
                     f->len[F_ETAT], true);
        if (rc) {
            return rc;
        }
        st = BCH_STATE_INCONNU;
    }
    rec.state = st;

    if (f->v[F_CDATE] && !is_blank(f->v[F_CDATE], f->len[F_CDATE]) &&
        bch_time_parse(f->v[F_CDATE], f->len[F_CDATE], false, &rec.cdate, terr, sizeof(terr))) {
        rec.cdate = BCH_TIME_NONE;
        rc = problem(x, pos, "cdate", terr, f->v[F_CDATE], f->len[F_CDATE], true);
        if (rc) {
            return rc;
        }
    }
    if ((rc = copy_text(x, pos, f, F_TYPEVOIE, rec.typevoie, sizeof(rec.typevoie))) ||
        (rc = copy_text(x, pos, f, F_COMMUNE, rec.commune, sizeof(rec.commune))) ||
        (rc = copy_text(x, pos, f, F_CODE_COMMUNE, rec.code_commune, sizeof(rec.code_commune))) ||
        (rc = copy_text(x, pos, f, F_ORIGINE, rec.origine, sizeof(rec.origine)))) {
        return rc;
    }

    if (f->v[F_GEO_SHAPE] && f->len[F_GEO_SHAPE] > 0) {
        struct geom_entry *e = geom_get(x->r, f->v[F_GEO_SHAPE], f->len[F_GEO_SHAPE], f->geom_json);

        if (!e) {
            return BCH_ERR_NOMEM;
        }
        rec.geom_text = f->v[F_GEO_SHAPE];
        rec.geom_len = f->len[F_GEO_SHAPE];
        memcpy(rec.geom_hash, e->raw_hash, BCH_HASH_HEX);
        if (e->valid) {
            rec.geom = &e->geom;
            rec.length_m = e->length_m;
            rec.geom_norm = e->norm;
            memcpy(rec.geom_norm_hash, e->norm_hash, BCH_HASH_HEX);
        } else {
            char why[192];

            snprintf(why, sizeof(why), "geometry ignored: %s", e->error);
            rc = problem(x, pos, "geo_shape", why, f->v[F_GEO_SHAPE],
                         f->len[F_GEO_SHAPE] > 200 ? 200 : f->len[F_GEO_SHAPE], true);
            if (rc) {
                return rc;
            }
        }
    }
    rec.raw_body = x->body.data;
    rec.raw_len = x->body.len;
    bch_hash_hex(x->body.data, x->body.len, rec.record_hash);
    if (x->res->newest_mdate == BCH_TIME_NONE || rec.mdate > x->res->newest_mdate) {
        x->res->newest_mdate = rec.mdate;
    }
    x->res->records++;
    return x->sink->record(x->sink->ctx, &rec);
}

/* ------------------------------------------------------------------- CSV */

static int parse_csv(struct parse_ctx *x, const char *buf, size_t len, char *err, size_t errlen)
{
    struct bch_csv c;
    int colmap[BCH_CSV_MAX_FIELDS];
    size_t ncols;
    char rerr[128];
    int rc = 0, r;
    bool seen[F_COUNT] = {false};

    bch_csv_init(&c, buf, len, bch_csv_sniff_sep(buf, len));
    r = bch_csv_next(&c, rerr, sizeof(rerr));
    if (r <= 0) {
        snprintf(err, errlen, "line 1: %s", r == 0 ? "empty CSV payload" : rerr);
        bch_csv_release(&c);
        return BCH_ERR_INPUT;
    }
    ncols = c.nfields;
    x->res->header = c.row;
    x->res->header_len = c.row_len;
    for (size_t i = 0; i < ncols; i++) {
        int id = field_lookup(c.fields[i].s, c.fields[i].len);

        colmap[i] = (id >= 0 && !seen[id]) ? id : -1;
        if (id >= 0) {
            seen[id] = true;
        }
    }
    if (!seen[F_IDENT] || !seen[F_ETAT] || !seen[F_MDATE] || (!seen[F_GID] && !seen[F_GML_ID])) {
        snprintf(err, errlen,
                 "line 1: CSV header lacks ci_trafi_l fields (need ident, etat, mdate and gid)");
        rc = BCH_ERR_INPUT;
        goto out;
    }
    for (;;) {
        const struct bch_csv_field *geo;
        struct fields f;
        long pos;

        r = bch_csv_next(&c, rerr, sizeof(rerr));
        if (r == 0) {
            break;
        }
        pos = c.line;
        if (r < 0) {
            rc = reject(x, pos, "", rerr, NULL, 0);
            if (rc) {
                goto out;
            }
            continue;
        }
        if (c.nfields != ncols) {
            char why[96];

            snprintf(why, sizeof(why), "row has %zu fields, header has %zu", c.nfields, ncols);
            rc = reject(x, pos, "", why, NULL, 0);
            if (rc) {
                goto out;
            }
            continue;
        }
        memset(&f, 0, sizeof(f));
        geo = NULL;
        for (size_t i = 0; i < ncols; i++) {
            const struct bch_csv_field *cf = &c.fields[i];

            if (colmap[i] >= 0 && cf->len > 0) {
                f.v[colmap[i]] = cf->s;
                f.len[colmap[i]] = cf->len;
                if (colmap[i] == F_GEO_SHAPE) {
                    geo = cf;
                }
            }
        }
        /* The raw body of a CSV record is its line as received, with the
         * geometry cell replaced by "$geom:<hash>" (the header is kept in
         * raw_source.header). */
        bch_buf_reset(&x->body);
        if (geo) {
            char gh[BCH_HASH_HEX];

            bch_hash_hex(geo->s, geo->len, gh);
            rc = bch_buf_add(&x->body, c.row, (size_t)(geo->raw - c.row)) ||
                 bch_buf_adds(&x->body, "$geom:") || bch_buf_add(&x->body, gh, 32) ||
                 bch_buf_add(&x->body, geo->raw + geo->raw_len,
                             (size_t)(c.row + c.row_len - (geo->raw + geo->raw_len)));
        } else {
            rc = bch_buf_add(&x->body, c.row, c.row_len);
        }
        if (rc) {
            rc = reject(x, pos, "", "record too large", NULL, 0);
            if (rc) {
                goto out;
            }
            continue;
        }
        rc = emit_record(x, pos, &f);
        if (rc) {
            goto out;
        }
    }
out:
    bch_csv_release(&c);
    return rc;
}

/* ------------------------------------------------------------------ JSON */

/* Text of a scalar JSON value; numbers are printed into f->numbuf[id]. */
static void json_field(struct fields *f, int id, const json_t *v)
{
    if (json_is_string(v)) {
        f->v[id] = json_string_value(v);
        f->len[id] = json_string_length(v);
    } else if (json_is_integer(v)) {
        snprintf(f->numbuf[id], sizeof(f->numbuf[id]), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        f->v[id] = f->numbuf[id];
        f->len[id] = strlen(f->numbuf[id]);
    } else if (json_is_real(v)) {
        snprintf(f->numbuf[id], sizeof(f->numbuf[id]), "%.17g", json_real_value(v));
        f->v[id] = f->numbuf[id];
        f->len[id] = strlen(f->numbuf[id]);
    } else if (json_is_boolean(v)) {
        f->v[id] = json_is_true(v) ? "true" : "false";
        f->len[id] = strlen(f->v[id]);
    }
}

/*
 * Fills f from the members of obj.  The geometry member is dumped to
 * x->gtext (for the raw layer and the cache key) and replaced in obj by
 * {"$geom": hash}, so that the record body dumped afterwards carries the
 * geometry by reference.  geom_override: a geometry found outside obj (a
 * GeoJSON feature's or v1 record's "geometry").
 */
static int collect_object(struct parse_ctx *x, json_t *obj, json_t *geom_override,
                          json_t *geom_parent, const char *geom_key, struct fields *f)
{
    const char *key;
    json_t *val;
    json_t *geom = NULL;
    const char *text_key = NULL;

    json_object_foreach(obj, key, val)
    {
        int id = field_lookup(key, strlen(key));

        if (id < 0 || f->v[id] || (id == F_GEO_SHAPE && geom)) {
            continue;
        }
        if (id == F_GEO_SHAPE) {
            if (json_is_object(val)) {
                geom = val;
                geom_parent = obj;
                geom_key = key;
            } else if (json_is_string(val)) {
                /* Geometry given as GeoJSON text (some v1 exports). */
                json_field(f, id, val);
                text_key = key;
            }
            continue;
        }
        if (id == F_GEO_POINT) {
            continue; /* the centroid is derived from geo_shape */
        }
        json_field(f, id, val);
    }
    if (!geom && geom_override && json_is_object(geom_override)) {
        geom = geom_override;
    }
    if (!geom && text_key) {
        /* Copy the text out of obj, then factor it out of the body too. */
        char gh[BCH_HASH_HEX];
        json_t *marker;

        bch_buf_reset(&x->gtext);
        if (bch_buf_add(&x->gtext, f->v[F_GEO_SHAPE], f->len[F_GEO_SHAPE]) ||
            bch_buf_add(&x->gtext, "", 0)) {
            return BCH_ERR_NOMEM;
        }
        f->v[F_GEO_SHAPE] = x->gtext.data;
        bch_hash_hex(x->gtext.data, x->gtext.len, gh);
        marker = json_pack("{ss}", "$geom", gh);
        if (!marker || json_object_set_new(obj, text_key, marker)) {
            return BCH_ERR_NOMEM;
        }
    }
    if (geom) {
        char *text = json_dumps(geom, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char gh[BCH_HASH_HEX];
        json_t *marker;

        if (!text) {
            return BCH_ERR_NOMEM;
        }
        bch_buf_reset(&x->gtext);
        if (bch_buf_adds(&x->gtext, text)) {
            free(text);
            return BCH_ERR_NOMEM;
        }
        free(text);
        f->v[F_GEO_SHAPE] = x->gtext.data;
        f->len[F_GEO_SHAPE] = x->gtext.len;
        /* Keep the geometry alive for the cache, then swap in the marker. */
        f->geom_json = json_incref(geom);
        bch_hash_hex(x->gtext.data, x->gtext.len, gh);
        marker = json_pack("{ss}", "$geom", gh);
        if (marker && geom_parent && geom_key) {
            json_object_set_new(geom_parent, geom_key, marker);
        } else {
            json_decref(marker);
        }
    }
    return 0;
}

static int emit_json_record(struct parse_ctx *x, long pos, json_t *item)
{
    struct fields f;
    json_t *props = item, *geom = NULL, *geom_parent = NULL;
    const char *geom_key = NULL;
    char *body;
    int rc;

    memset(&f, 0, sizeof(f));
    if (!json_is_object(item)) {
        return reject(x, pos, "", "record is not a JSON object", NULL, 0);
    }
    if (json_is_object(json_object_get(item, "properties"))) {
        /* GeoJSON Feature */
        props = json_object_get(item, "properties");
        geom = json_object_get(item, "geometry");
        geom_parent = item;
        geom_key = "geometry";
    } else if (json_is_object(json_object_get(item, "fields"))) {
        /* v1 record: fields + optional top-level geometry */
        props = json_object_get(item, "fields");
        geom = json_object_get(item, "geometry");
        geom_parent = item;
        geom_key = "geometry";
    }
    rc = collect_object(x, props, geom, geom_parent, geom_key, &f);
    if (rc) {
        return rc;
    }
    if (props != item && f.geom_json && json_object_get(item, "geometry") == f.geom_json) {
        /* geometry came from the top level: replace it there too (done by
         * collect_object through geom_parent) */
    }
    body = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!body) {
        json_decref((json_t *)f.geom_json);
        return BCH_ERR_NOMEM;
    }
    bch_buf_reset(&x->body);
    rc = bch_buf_adds(&x->body, body);
    free(body);
    if (rc) {
        json_decref((json_t *)f.geom_json);
        return reject(x, pos, "", "record too large", NULL, 0);
    }
    rc = emit_record(x, pos, &f);
    json_decref((json_t *)f.geom_json);
    return rc;
}

static int parse_json(struct parse_ctx *x, const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
    json_t *items = NULL;
    int rc = 0;

    if (!root) {
        /* Payloads are often one line: the byte position is what locates the error. */
        snprintf(err, errlen, "invalid JSON at line %d, column %d (byte %d): %s", jerr.line,
                 jerr.column, jerr.position, jerr.text);
        return BCH_ERR_INPUT;
    }
    if (json_is_array(root)) {
        json_t *first = json_array_get(root, 0);

        items = root;
        x->res->format =
            (first && json_is_object(json_object_get(first, "fields"))) ? BCH_FMT_V1 : BCH_FMT_JSON;
    } else if (json_is_object(root)) {
        json_t *tc = json_object_get(root, "total_count");

        if (json_is_array(json_object_get(root, "results"))) {
            items = json_object_get(root, "results");
            x->res->format = BCH_FMT_RECORDS;
        } else if (json_is_array(json_object_get(root, "features"))) {
            items = json_object_get(root, "features");
            x->res->format = BCH_FMT_GEOJSON;
        } else if (json_is_array(json_object_get(root, "records"))) {
            items = json_object_get(root, "records");
            x->res->format = BCH_FMT_V1;
            tc = json_object_get(root, "nhits");
        } else if (json_is_string(json_object_get(root, "error_code")) ||
                   json_is_string(json_object_get(root, "message"))) {
            snprintf(err, errlen, "the payload is an API error: %s: %s",
                     json_string_value(json_object_get(root, "error_code"))
                         ? json_string_value(json_object_get(root, "error_code"))
                         : "error",
                     json_string_value(json_object_get(root, "message"))
                         ? json_string_value(json_object_get(root, "message"))
                         : "");
            json_decref(root);
            return BCH_ERR_INPUT;
        }
        if (json_is_integer(tc)) {
            x->res->total_count = (long)json_integer_value(tc);
        }
    }
    if (!items) {
        snprintf(err, errlen,
                 "JSON payload is not a known ci_trafi_l shape (array, records page, "
                 "FeatureCollection or v1 records)");
        json_decref(root);
        return BCH_ERR_INPUT;
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        rc = emit_json_record(x, (long)i + 1, json_array_get(items, i));
        if (rc) {
            break;
        }
    }
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ entry point */

int bch_reader_parse(struct bch_reader *r, const char *buf, size_t len,
                     const struct bch_reader_sink *sink, struct bch_parse_result *res, char *err,
                     size_t errlen)
{
    struct parse_ctx x;
    size_t i = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    res->total_count = -1;
    res->newest_mdate = BCH_TIME_NONE;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF) {
        i = 3;
    }
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) {
        i++;
    }
    if (i >= len) {
        snprintf(err, errlen, "empty payload");
        return BCH_ERR_INPUT;
    }
    x.r = r;
    x.sink = sink;
    x.res = res;
    bch_buf_init(&x.body, 16u << 20);
    bch_buf_init(&x.gtext, 16u << 20);
    if (buf[i] == '{' || buf[i] == '[') {
        rc = parse_json(&x, buf + i, len - i, err, errlen);
    } else if (buf[i] == '<') {
        snprintf(err, errlen, "the payload is HTML or XML, not ci_trafi_l data");
        rc = BCH_ERR_INPUT;
    } else {
        res->format = BCH_FMT_CSV;
        rc = parse_csv(&x, buf, len, err, errlen);
    }
    bch_buf_release(&x.body);
    bch_buf_release(&x.gtext);
    return rc;
}
