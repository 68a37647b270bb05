/*
 * test_reader.c - the ci_trafi_l reader (sources/trafi_reader.c) on every
 * format and quirk of shared/docs/DATA_FORMATS.md §7.
 *
 * Expected values are independent of the code under test: the four real
 * rows of DATA_FORMATS.md §2.2, in every format (tests/fixtures/formats/,
 * see README.md there), with their instants and lengths computed outside the
 * project; the facts of shared/data/bordeaux/SOURCES.md for the two real
 * snapshots; and the recorded API payloads of tests/fixtures/api/ (same
 * snapshots, other formats), which must give the same records as the CSV.
 *
 * Every payload is copied into a buffer of exactly its length, so that an
 * over-read shows under ASan or valgrind.  The sink checks the record
 * invariants of model/trafi.h on every record it receives (hashes, borrowed
 * geometry, raw body with the geometry factored out).
 */
#include "core/compat.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "sources/trafi_reader.h"

#define INC BCH_STATE_INCONNU
#define FLU BCH_STATE_FLUIDE
#define DEN BCH_STATE_DENSE
#define EMB BCH_STATE_EMBOUTEILLE
#define PAR BCH_STATE_PARALYSE

/* ------------------------------------------------------------ collector */

struct rec {
    long position;
    int64_t gid;
    char ident[BCH_IDENT_MAX];
    char typevoie[BCH_TEXT_MAX];
    char commune[BCH_TEXT_MAX];
    char code_commune[16];
    char origine[BCH_TEXT_MAX];
    int state;
    bch_time mdate, cdate;
    bool has_geom;
    enum bch_geom_type gtype;
    size_t nvert;
    double length_m;
    bool has_geom_text;
    char body_geom[BCH_HASH_HEX]; /* the {"$geom": h} marker found in the body */
    char geom_hash[BCH_HASH_HEX];
};

struct prob {
    long position;
    char field[32];
    char reason[256];
    char value[256];
    bool has_value;
    bool coerced;
};

#define MAX_PROBS 64

struct run {
    int rc;
    char err[512];
    struct bch_parse_result res;
    struct rec *recs;
    size_t nrecs, caprecs;
    struct prob probs[MAX_PROBS];
    size_t nprobs;
    char header[1024]; /* res.header, copied before the payload goes */
    int violations;    /* record invariants broken (printed) */
    /* sink behaviour */
    long abort_record_at; /* return -42 from the record callback at this call (1-based) */
    long abort_problem_at;
    long record_calls, problem_calls;
    bool keep_body;
    char *first_body; /* raw_body of the first record, if keep_body */
};

/* Looks for {"$geom": "..."} anywhere in v; copies the hash. */
static bool find_marker(const json_t *v, char out[BCH_HASH_HEX])
{
    const char *key;
    json_t *val;
    size_t i;

    if (json_is_object(v)) {
        const json_t *h = json_object_get(v, "$geom");

        if (json_is_string(h) && json_object_size(v) == 1) {
            snprintf(out, BCH_HASH_HEX, "%s", json_string_value(h));
            return true;
        }
        json_object_foreach((json_t *)v, key, val)
        {
            if (find_marker(val, out)) {
                return true;
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, val)
        {
            if (find_marker(val, out)) {
                return true;
            }
        }
    }
    return false;
}

static bool contains(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

static void violation(struct run *r, const struct bch_trafi_record *rec, const char *what)
{
    if (r->violations++ < 5) {
        print_error("record at %ld (%s): %s: %.*s\n", rec->position, rec->ident, what,
                    (int)(rec->raw_len > 300 ? 300 : rec->raw_len),
                    rec->raw_body ? rec->raw_body : "");
    }
}

static int on_record(void *ctx, const struct bch_trafi_record *rec)
{
    struct run *r = ctx;
    struct rec *o;
    char h[BCH_HASH_HEX];
    json_t *body;

    r->record_calls++;
    if (r->nrecs == r->caprecs) {
        r->caprecs = r->caprecs ? r->caprecs * 2 : 64;
        r->recs = realloc(r->recs, r->caprecs * sizeof(*r->recs));
        assert_non_null(r->recs);
    }
    o = &r->recs[r->nrecs++];
    memset(o, 0, sizeof(*o));
    o->position = rec->position;
    o->gid = rec->gid;
    memcpy(o->ident, rec->ident, sizeof(o->ident));
    memcpy(o->typevoie, rec->typevoie, sizeof(o->typevoie));
    memcpy(o->commune, rec->commune, sizeof(o->commune));
    memcpy(o->code_commune, rec->code_commune, sizeof(o->code_commune));
    memcpy(o->origine, rec->origine, sizeof(o->origine));
    o->state = rec->state;
    o->mdate = rec->mdate;
    o->cdate = rec->cdate;
    o->has_geom = rec->geom != NULL;
    o->length_m = rec->length_m;
    o->has_geom_text = rec->geom_text && rec->geom_len > 0;
    memcpy(o->geom_hash, rec->geom_hash, sizeof(o->geom_hash));

    /* model/trafi.h invariants */
    if (memchr(rec->ident, '\0', sizeof(rec->ident)) == NULL ||
        memchr(rec->typevoie, '\0', sizeof(rec->typevoie)) == NULL ||
        memchr(rec->commune, '\0', sizeof(rec->commune)) == NULL ||
        memchr(rec->code_commune, '\0', sizeof(rec->code_commune)) == NULL ||
        memchr(rec->origine, '\0', sizeof(rec->origine)) == NULL) {
        violation(r, rec, "text field not NUL-terminated");
    }
    if (rec->state < 0 || rec->state >= BCH_STATE_COUNT) {
        violation(r, rec, "state out of range");
    }
    if (rec->mdate == BCH_TIME_NONE) {
        violation(r, rec, "record without mdate");
    }
    if (o->has_geom_text) {
        bch_hash_hex(rec->geom_text, rec->geom_len, h);
        if (strcmp(h, rec->geom_hash) != 0) {
            violation(r, rec, "geom_hash is not the hash of geom_text");
        }
    }
    if (rec->geom) {
        o->gtype = rec->geom->type;
        o->nvert = rec->geom->nvert;
        if (rec->geom->type != BCH_GEOM_LINESTRING && rec->geom->type != BCH_GEOM_MULTILINESTRING) {
            violation(r, rec, "geometry is not a line");
        }
        if (rec->length_m != bch_geom_length_m(rec->geom)) {
            violation(r, rec, "length_m is not the length of geom");
        }
        if (!rec->geom_norm) {
            violation(r, rec, "geometry without normalized text");
        } else {
            bch_hash_hex(rec->geom_norm, strlen(rec->geom_norm), h);
            if (strcmp(h, rec->geom_norm_hash) != 0) {
                violation(r, rec, "geom_norm_hash is not the hash of geom_norm");
            }
        }
        if (!o->has_geom_text) {
            violation(r, rec, "geometry without the received text");
        }
    } else if (rec->length_m != 0 || rec->geom_norm) {
        violation(r, rec, "no geometry but a length or normalized text");
    }
    if (!rec->raw_body || rec->raw_len == 0) {
        violation(r, rec, "no raw body");
    } else {
        bch_hash_hex(rec->raw_body, rec->raw_len, h);
        if (strcmp(h, rec->record_hash) != 0) {
            violation(r, rec, "record_hash is not the hash of raw_body");
        }
        if (r->res.format == BCH_FMT_CSV) {
            /* the line as received, geo_shape cell replaced by $geom:<hash> */
            char marker[64];

            snprintf(marker, sizeof(marker), "$geom:%s", rec->geom_hash);
            if (memchr(rec->raw_body, '\n', rec->raw_len)) {
                violation(r, rec, "CSV raw body spans lines");
            }
            if (o->has_geom_text && !contains(rec->raw_body, rec->raw_len, marker)) {
                violation(r, rec, "geometry not factored out of the CSV line");
            }
            if (!contains(rec->raw_body, rec->raw_len, rec->ident)) {
                violation(r, rec, "CSV raw body lacks the ident");
            }
        } else {
            body = json_loadb(rec->raw_body, rec->raw_len, 0, NULL);
            if (!json_is_object(body)) {
                violation(r, rec, "raw body is not a JSON object");
            } else if (find_marker(body, o->body_geom) && o->has_geom_text &&
                       strcmp(o->body_geom, rec->geom_hash) != 0) {
                violation(r, rec, "geometry marker of the body is not geom_hash");
            } else if (o->has_geom_text && !o->body_geom[0]) {
                violation(r, rec, "geometry not factored out of the body");
            }
            json_decref(body);
        }
        if (r->keep_body && !r->first_body) {
            r->first_body = strndup(rec->raw_body, rec->raw_len);
        }
    }
    if (r->abort_record_at && r->record_calls == r->abort_record_at) {
        return -42;
    }
    return 0;
}

static int on_problem(void *ctx, const struct bch_problem *pb)
{
    struct run *r = ctx;

    r->problem_calls++;
    if (r->nprobs < MAX_PROBS) {
        struct prob *p = &r->probs[r->nprobs++];

        p->position = pb->position;
        snprintf(p->field, sizeof(p->field), "%s", pb->field ? pb->field : "(null)");
        snprintf(p->reason, sizeof(p->reason), "%s", pb->reason ? pb->reason : "(null)");
        p->has_value = pb->value != NULL;
        if (pb->value) {
            snprintf(p->value, sizeof(p->value), "%.*s", (int)pb->value_len, pb->value);
        }
        p->coerced = pb->coerced;
    }
    if (r->abort_problem_at && r->problem_calls == r->abort_problem_at) {
        return -7;
    }
    return 0;
}

static void run_free(struct run *r)
{
    free(r->recs);
    free(r->first_body);
    r->recs = NULL;
    r->first_body = NULL;
}

/* Parses buf[0..len) (an exact-size copy) into r, with reader rd or a fresh one. */
static void parse_with(struct bch_reader *rd, const char *buf, size_t len, struct run *r)
{
    struct bch_reader_sink sink = {r, on_record, on_problem};
    bool own = rd == NULL;
    char *copy = malloc(len ? len : 1);

    assert_non_null(copy);
    memcpy(copy, buf, len);
    if (own) {
        rd = bch_reader_new();
        assert_non_null(rd);
    }
    r->err[0] = '\0';
    r->rc = bch_reader_parse(rd, copy, len, &sink, &r->res, r->err, sizeof(r->err));
    r->header[0] = '\0';
    if (r->res.header) {
        assert_true(r->res.header >= copy && r->res.header + r->res.header_len <= copy + len);
        snprintf(r->header, sizeof(r->header), "%.*s", (int)r->res.header_len, r->res.header);
        r->res.header = NULL; /* points into the freed copy */
    }
    if (own) {
        bch_reader_free(rd);
    }
    free(copy);
    assert_int_equal(r->violations, 0);
}

static void parse(const char *buf, size_t len, struct run *r)
{
    parse_with(NULL, buf, len, r);
}

static void parse_str(const char *s, struct run *r)
{
    parse(s, strlen(s), r);
}

static void print_probs(const struct run *r)
{
    for (size_t i = 0; i < r->nprobs; i++) {
        print_error("  problem at %ld field '%s' %s: %s\n", r->probs[i].position, r->probs[i].field,
                    r->probs[i].coerced ? "coerced" : "rejected", r->probs[i].reason);
    }
}

/* --------------------------------------------------------------- files */

static char *read_path(const char *path, size_t *len)
{
    struct bch_buf b;

    bch_buf_init(&b, 64u << 20);
    if (bch_buf_read_file(&b, path)) {
        bch_buf_release(&b);
        fail_msg("cannot read %s (run from the repository root; set BOUCHON_SHARED to the "
                 "shared folder): %s",
                 path, strerror(errno));
    }
    *len = b.len;
    return bch_buf_take(&b);
}

static char *read_shared(const char *name, size_t *len)
{
    const char *root = getenv("BOUCHON_SHARED");
    char path[4096];

    if (!root || !*root) {
        root = "../shared";
    }
    snprintf(path, sizeof(path), "%s/data/bordeaux/%s", root, name);
    return read_path(path, len);
}

static void parse_file(const char *path, struct run *r)
{
    size_t len;
    char *text = read_path(path, &len);

    parse(text, len, r);
    free(text);
}

/* ------------------------------------------------ the four real records */

struct want_rec {
    int64_t gid;
    const char *ident, *typevoie;
    int state;
    bch_time mdate, cdate;
    const char *origine, *commune, *code_commune;
    double length_m; /* computed outside the project (Python haversine) */
    size_t nvert;
};

/* DATA_FORMATS.md §2.2, rows of the 10:00 snapshot; instants are the
 * source's +01:00 times as epoch seconds (Python datetime). */
static const struct want_rec four[] = {
    {2616, "P07", "QUAIS", FLU, 1766048400, 1608743459, "PC_CIRCULATION", "Bordeaux", "33063",
     290.4818030289793, 2},
    {2455, "I74", "PENETRANTE", EMB, 1766048450, 1607611162, "PC_CIRCULATION", "Pessac", "33318",
     423.73035084376045, 5},
    {2274, "F60", "PENETRANTE", DEN, 1766048450, 1607093382, "PC_CIRCULATION", "Talence", "33522",
     195.43129679444615, 3},
    {1179, "MB333.a8", "A630", INC, 1764258840, 1614694458, "DIRA", "Bruges", "33075",
     709.9206003012873, 2},
};

/* first_pos: position of the first record (CSV line 2, JSON index 1). */
static void check_four(const struct run *r, enum bch_format fmt, long first_pos, long total_count,
                       const char *what)
{
    if (r->rc != 0 || r->nrecs != 4 || r->nprobs != 0) {
        print_probs(r);
        fail_msg("%s: rc %d (%s), %zu records, %zu problems", what, r->rc, r->err, r->nrecs,
                 r->nprobs);
    }
    assert_int_equal(r->res.format, fmt);
    assert_int_equal(r->res.records, 4);
    assert_int_equal(r->res.rejected, 0);
    assert_int_equal(r->res.coerced, 0);
    assert_int_equal(r->res.total_count, total_count);
    assert_int_equal(r->res.newest_mdate, 1766048450);
    for (size_t i = 0; i < 4; i++) {
        const struct rec *g = &r->recs[i];
        const struct want_rec *w = &four[i];

        if (g->gid != w->gid || strcmp(g->ident, w->ident) != 0 ||
            strcmp(g->typevoie, w->typevoie) != 0 || g->state != w->state || g->mdate != w->mdate ||
            g->cdate != w->cdate || strcmp(g->origine, w->origine) != 0 ||
            strcmp(g->commune, w->commune) != 0 || strcmp(g->code_commune, w->code_commune) != 0 ||
            !g->has_geom || g->gtype != BCH_GEOM_LINESTRING || g->nvert != w->nvert ||
            fabs(g->length_m - w->length_m) > 1e-6 || g->position != first_pos + (long)i) {
            fail_msg("%s: record %zu: gid %lld ident %s typevoie %s state %d mdate %lld cdate "
                     "%lld origine %s commune %s code %s geom %d/%d/%zu length %.9f pos %ld",
                     what, i, (long long)g->gid, g->ident, g->typevoie, g->state,
                     (long long)g->mdate, (long long)g->cdate, g->origine, g->commune,
                     g->code_commune, g->has_geom, g->gtype, g->nvert, g->length_m, g->position);
        }
    }
}

#define FMT_DIR "tests/fixtures/formats/"

static void test_fixture_formats(void **state)
{
    static const struct {
        const char *file;
        enum bch_format fmt;
        long first_pos, total_count;
    } t[] = {
        {FMT_DIR "four.csv", BCH_FMT_CSV, 2, -1},
        {FMT_DIR "four.labels.csv", BCH_FMT_CSV, 2, -1},
        {FMT_DIR "four.comma.csv", BCH_FMT_CSV, 2, -1},
        {FMT_DIR "four.export.json", BCH_FMT_JSON, 1, -1},
        {FMT_DIR "four.records.json", BCH_FMT_RECORDS, 1, 694},
        {FMT_DIR "four.export.geojson", BCH_FMT_GEOJSON, 1, -1},
        {FMT_DIR "four.v1.json", BCH_FMT_V1, 1, -1},
        {FMT_DIR "four.v1_records.json", BCH_FMT_V1, 1, 694},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct run r = {0};

        parse_file(t[i].file, &r);
        check_four(&r, t[i].fmt, t[i].first_pos, t[i].total_count, t[i].file);
        run_free(&r);
    }
    assert_string_equal(bch_format_name(BCH_FMT_CSV), "csv");
    assert_string_equal(bch_format_name(BCH_FMT_JSON), "json");
    assert_string_equal(bch_format_name(BCH_FMT_RECORDS), "records");
    assert_string_equal(bch_format_name(BCH_FMT_GEOJSON), "geojson");
    assert_string_equal(bch_format_name(BCH_FMT_V1), "v1");
    assert_string_equal(bch_format_name(BCH_FMT_UNKNOWN), "unknown");
}

/* four.csv with every combination of BOM, CRLF, labels header and the
 * "lat, lon" spelling of geo_point_2d. */
static void test_csv_variants(void **state)
{
    size_t len;
    char *base = read_path(FMT_DIR "four.csv", &len);
    const char *body = strchr(base, '\n') + 1;

    (void)state;
    for (int v = 0; v < 16; v++) {
        bool bom = v & 1, crlf = v & 2, labels = v & 4, space = v & 8;
        struct bch_buf b;
        struct run r = {0};
        char what[64];
        bool first_field = true;

        bch_buf_init(&b, 1 << 20);
        if (bom) {
            assert_int_equal(bch_buf_add(&b, "\xEF\xBB\xBF", 3), 0);
        }
        assert_int_equal(
            bch_buf_adds(&b, labels ? "Geo Point;Geo Shape" : "geo_point_2d;geo_shape"), 0);
        assert_int_equal(bch_buf_adds(&b, ";gml_id;gid;ident;typevoie;etat;cdate;mdate;origine;"
                                          "commune;code_commune"),
                         0);
        assert_int_equal(bch_buf_adds(&b, crlf ? "\r\n" : "\n"), 0);
        for (const char *p = body; *p; p++) {
            if (*p == '\n') {
                assert_int_equal(bch_buf_adds(&b, crlf ? "\r\n" : "\n"), 0);
                first_field = true;
                continue;
            }
            if (*p == ';') {
                first_field = false;
            }
            assert_int_equal(bch_buf_addc(&b, *p), 0);
            if (space && first_field && *p == ',') {
                assert_int_equal(bch_buf_addc(&b, ' '), 0);
            }
        }
        snprintf(what, sizeof(what), "bom %d crlf %d labels %d space %d", bom, crlf, labels, space);
        parse(b.data, b.len, &r);
        check_four(&r, BCH_FMT_CSV, 2, -1, what);
        run_free(&r);
        bch_buf_release(&b);
    }
    free(base);
}

/* ---------------------------------------------------- CSV row builder */

enum {
    C_POINT,
    C_SHAPE,
    C_GML,
    C_GID,
    C_IDENT,
    C_TYPEVOIE,
    C_ETAT,
    C_CDATE,
    C_MDATE,
    C_ORIGINE,
    C_COMMUNE,
    C_CODE,
    C_N
};

static const char *const defaults[C_N] = {
    "44.868645,-0.565179",
    "{\"coordinates\": [[-0.566524, 44.869538], [-0.563834, 44.867752]], \"type\": "
    "\"LineString\"}",
    "CI_TRAFI_L.2616",
    "2616",
    "P07",
    "QUAIS",
    "FLUIDE",
    "2020-12-23T18:10:59+01:00",
    "2025-12-18T10:00:00+01:00",
    "PC_CIRCULATION",
    "Bordeaux",
    "33063",
};

#define CSV_HEADER                                                                                 \
    "geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;origine;commune;"           \
    "code_commune\n"

/* Appends one CSV row: over[i] replaces the default of column i (NULL:
 * default), quoted as an RFC 4180 writer would. */
static void add_row(struct bch_buf *b, const char *const over[C_N])
{
    for (int i = 0; i < C_N; i++) {
        const char *v = over && over[i] ? over[i] : defaults[i];
        bool quote = strpbrk(v, ";\"\n\r") != NULL;

        if (i) {
            assert_int_equal(bch_buf_addc(b, ';'), 0);
        }
        if (quote) {
            assert_int_equal(bch_buf_addc(b, '"'), 0);
        }
        for (const char *p = v; *p; p++) {
            if (*p == '"') {
                assert_int_equal(bch_buf_addc(b, '"'), 0);
            }
            assert_int_equal(bch_buf_addc(b, *p), 0);
        }
        if (quote) {
            assert_int_equal(bch_buf_addc(b, '"'), 0);
        }
    }
    assert_int_equal(bch_buf_addc(b, '\n'), 0);
}

/* A CSV of rows around one changed row: good (ident A), over (ident B
 * unless overridden), good (ident C); lines 2, 3, 4. */
static void csv_around(struct bch_buf *b, const char *const over[C_N])
{
    const char *mid[C_N];

    memcpy(mid, over, sizeof(mid));
    if (!mid[C_IDENT]) {
        mid[C_IDENT] = "B";
    }
    bch_buf_init(b, 1 << 20);
    assert_int_equal(bch_buf_adds(b, CSV_HEADER), 0);
    add_row(b, (const char *[C_N]){[C_IDENT] = "A"});
    add_row(b, mid);
    add_row(b, (const char *[C_N]){[C_IDENT] = "C"});
}

/* ---------------------------------------------------- JSON record builder */

static json_t *json_default(void)
{
    json_t *o = json_pack(
        "{s:{s:f,s:f}, s:{s:s, s:{s:[[f,f],[f,f]], s:s}, s:{}}, s:s, s:I, s:s, s:s, s:s, s:s, "
        "s:s, s:s, s:s, s:s}",
        "geo_point_2d", "lon", -0.565179, "lat", 44.868645, "geo_shape", "type", "Feature",
        "geometry", "coordinates", -0.566524, 44.869538, -0.563834, 44.867752, "type", "LineString",
        "properties", "gml_id", "CI_TRAFI_L.2616", "gid", (json_int_t)2616, "ident", "P07",
        "typevoie", "QUAIS", "etat", "FLUIDE", "cdate", "2020-12-23T18:10:59+01:00", "mdate",
        "2025-12-18T10:00:00+01:00", "origine", "PC_CIRCULATION", "commune", "Bordeaux",
        "code_commune", "33063");

    assert_non_null(o);
    return o;
}

/* key = value overrides: value is JSON text, or NULL to delete the key. */
struct jover {
    const char *key;
    const char *json;
};

static json_t *json_record(const struct jover *ov, size_t n)
{
    json_t *o = json_default();

    for (size_t i = 0; i < n; i++) {
        if (!ov[i].json) {
            json_object_del(o, ov[i].key);
        } else {
            json_t *v = json_loads(ov[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

            assert_non_null(v);
            json_object_set_new(o, ov[i].key, v);
        }
    }
    return o;
}

/* [A, modified B, C] as an exports/json array. */
static char *json_around(const struct jover *ov, size_t n)
{
    json_t *arr = json_array();
    struct jover a = {"ident", "\"A\""}, c = {"ident", "\"C\""};
    json_t *mid = json_record(ov, n);
    char *text;

    json_array_append_new(arr, json_record(&a, 1));
    json_array_append_new(arr, mid);
    json_array_append_new(arr, json_record(&c, 1));
    text = json_dumps(arr, JSON_PRESERVE_ORDER);
    json_decref(arr);
    return text;
}

/* ------------------------------------------------------ field quirks */

static void expect_around_ok(const struct run *r, long pos_a, const char *what)
{
    if (r->rc != 0 || r->nrecs != 3) {
        print_probs(r);
        fail_msg("%s: rc %d (%s), %zu records", what, r->rc, r->err, r->nrecs);
    }
    assert_int_equal(r->recs[0].position, pos_a);
    assert_int_equal(r->recs[2].position, pos_a + 2);
}

static void test_gid_spellings(void **state)
{
    static const char *const ok_csv[] = {"2151", "2151.0", "2151.000", " 2151 ", "+2151"};
    static const char *const ok_json[] = {"2151", "\"2151\"", "\"2151.0\"", "2151.0", "\" 2151\""};
    static const char *const bad[] = {"21a", "-3",  "2151.5", "1e3",      ".",
                                      ".0",  "-.0", "0x10",   "2151.0.0", "99999999999999999999"};

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(ok_csv); i++) {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_GID] = ok_csv[i], [C_GML] = "CI_TRAFI_L.1"});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, ok_csv[i]);
        assert_int_equal(r.recs[1].gid, 2151);
        run_free(&r);
        bch_buf_release(&b);
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(ok_json); i++) {
        struct jover ov[] = {{"gid", ok_json[i]}, {"ident", "\"B\""}};
        char *text = json_around(ov, 2);
        struct run r = {0};

        parse_str(text, &r);
        expect_around_ok(&r, 1, ok_json[i]);
        assert_int_equal(r.recs[1].gid, 2151);
        run_free(&r);
        free(text);
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(bad); i++) {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_GID] = bad[i]});
        parse(b.data, b.len, &r);
        if (r.rc != 0 || r.nrecs != 2 || r.nprobs != 1 || r.probs[0].position != 3 ||
            strcmp(r.probs[0].field, "gid") != 0 || r.probs[0].coerced ||
            strcmp(r.probs[0].value, bad[i]) != 0) {
            print_probs(&r);
            fail_msg("gid '%s' not rejected as expected (%zu records)", bad[i], r.nrecs);
        }
        assert_int_equal(r.res.rejected, 1);
        run_free(&r);
        bch_buf_release(&b);
    }
    /* A JSON real that is not integral, and a boolean. */
    {
        static const char *const jbad[] = {"2151.5", "true", "-1"};

        for (size_t i = 0; i < BCH_ARRAY_LEN(jbad); i++) {
            struct jover ov[] = {{"gid", jbad[i]}, {"ident", "\"B\""}};
            char *text = json_around(ov, 2);
            struct run r = {0};

            parse_str(text, &r);
            assert_int_equal(r.nrecs, 2);
            assert_int_equal(r.nprobs, 1);
            assert_int_equal(r.probs[0].position, 2);
            assert_string_equal(r.probs[0].field, "gid");
            run_free(&r);
            free(text);
        }
    }
    /* No gid column value: recovered from gml_id "CI_TRAFI_L.<gid>". */
    {
        struct bch_buf b;
        struct run r = {0};
        struct jover ov[] = {{"gid", NULL}, {"gml_id", "\"CI_TRAFI_L.2153\""}, {"ident", "\"B\""}};
        char *text;

        csv_around(&b, (const char *[C_N]){[C_GID] = "", [C_GML] = "CI_TRAFI_L.2152"});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "gid from gml_id (csv)");
        assert_int_equal(r.recs[1].gid, 2152);
        run_free(&r);
        bch_buf_release(&b);
        text = json_around(ov, 3);
        memset(&r, 0, sizeof(r));
        parse_str(text, &r);
        expect_around_ok(&r, 1, "gid from gml_id (json)");
        assert_int_equal(r.recs[1].gid, 2153);
        run_free(&r);
        free(text);
    }
}

static void test_code_commune(void **state)
{
    static const char *const spellings[] = {"33063", "\"33063\"", "33063.0"};

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(spellings); i++) {
        struct jover ov[] = {{"code_commune", spellings[i]}, {"ident", "\"B\""}};
        char *text = json_around(ov, 2);
        struct run r = {0};

        parse_str(text, &r);
        expect_around_ok(&r, 1, spellings[i]);
        assert_string_equal(r.recs[1].code_commune, "33063");
        assert_int_equal(r.nprobs, 0);
        run_free(&r);
        free(text);
    }
    /* absent or null: empty, and not a problem (optional field) */
    for (int k = 0; k < 2; k++) {
        struct jover ov[] = {{"code_commune", k ? "null" : NULL}, {"ident", "\"B\""}};
        char *text = json_around(ov, 2);
        struct run r = {0};

        parse_str(text, &r);
        expect_around_ok(&r, 1, "code_commune absent");
        assert_string_equal(r.recs[1].code_commune, "");
        assert_int_equal(r.nprobs, 0);
        run_free(&r);
        free(text);
    }
}

/* The same instant in every offset spelling of the feeds. */
static void test_offsets(void **state)
{
    static const char *const same[] = {
        "2025-12-18T09:00:50Z",      "2025-12-18T09:00:50+00:00", "2025-12-18T10:00:50+01:00",
        "2025-12-18T11:00:50+02:00", "2025-12-18T10:00:50+0100",  "2025-12-18T10:00:50.250+01:00",
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(same); i++) {
        struct bch_buf b;
        struct run r = {0};
        char q[64];
        struct jover ov[] = {{"mdate", q}, {"cdate", q}, {"ident", "\"B\""}};
        char *text;

        csv_around(&b, (const char *[C_N]){[C_MDATE] = same[i], [C_CDATE] = same[i]});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, same[i]);
        assert_int_equal(r.recs[1].mdate, 1766048450);
        assert_int_equal(r.recs[1].cdate, 1766048450);
        assert_int_equal(r.res.newest_mdate, 1766048450);
        run_free(&r);
        bch_buf_release(&b);

        snprintf(q, sizeof(q), "\"%s\"", same[i]);
        text = json_around(ov, 3);
        memset(&r, 0, sizeof(r));
        parse_str(text, &r);
        expect_around_ok(&r, 1, same[i]);
        assert_int_equal(r.recs[1].mdate, 1766048450);
        run_free(&r);
        free(text);
    }
    /* An mdate without offset is ambiguous: rejected, with the value. */
    {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_MDATE] = "2025-12-18T10:00:50"});
        parse(b.data, b.len, &r);
        assert_int_equal(r.nrecs, 2);
        assert_int_equal(r.nprobs, 1);
        assert_int_equal(r.probs[0].position, 3);
        assert_string_equal(r.probs[0].field, "mdate");
        assert_false(r.probs[0].coerced);
        assert_non_null(strstr(r.probs[0].reason, "offset"));
        assert_string_equal(r.probs[0].value, "2025-12-18T10:00:50");
        run_free(&r);
        bch_buf_release(&b);
    }
    /* A bad cdate only loses the cdate (coerced); an empty one is no problem. */
    {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_CDATE] = "2020-13-10T17:04:32+01:00"});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "bad cdate");
        assert_int_equal(r.recs[1].cdate, BCH_TIME_NONE);
        assert_int_equal(r.nprobs, 1);
        assert_string_equal(r.probs[0].field, "cdate");
        assert_true(r.probs[0].coerced);
        assert_int_equal(r.res.coerced, 1);
        assert_int_equal(r.res.rejected, 0);
        run_free(&r);
        bch_buf_release(&b);
        csv_around(&b, (const char *[C_N]){[C_CDATE] = ""});
        memset(&r, 0, sizeof(r));
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "empty cdate");
        assert_int_equal(r.recs[1].cdate, BCH_TIME_NONE);
        assert_int_equal(r.nprobs, 0);
        run_free(&r);
        bch_buf_release(&b);
    }
}

/* A missing required field rejects that record only, naming the field and
 * its position; the neighbours are delivered. */
static void test_missing_fields(void **state)
{
    static const struct {
        int col;
        const char *key;
    } req[] = {{C_IDENT, "ident"}, {C_ETAT, "etat"}, {C_MDATE, "mdate"}, {C_GID, "gid"}};

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(req); i++) {
        /* CSV: empty cell, and blank cell */
        for (int blank = 0; blank < 2; blank++) {
            const char *over[C_N] = {[C_IDENT] = "B"};
            struct bch_buf b;
            struct run r = {0};

            over[req[i].col] = blank ? "  " : "";
            if (req[i].col == C_GID) {
                over[C_GML] = "";
                if (blank) {
                    continue; /* a blank gid is "not an integer", tested above */
                }
            }
            csv_around(&b, over);
            parse(b.data, b.len, &r);
            if (r.rc != 0 || r.nrecs != 2 || r.nprobs != 1) {
                print_probs(&r);
                fail_msg("csv without %s: rc %d, %zu records, %zu problems", req[i].key, r.rc,
                         r.nrecs, r.nprobs);
            }
            assert_string_equal(r.recs[0].ident, "A");
            assert_int_equal(r.recs[0].position, 2);
            assert_string_equal(r.recs[1].ident, "C");
            assert_int_equal(r.recs[1].position, 4);
            assert_int_equal(r.probs[0].position, 3);
            assert_string_equal(r.probs[0].field, req[i].key);
            assert_non_null(strstr(r.probs[0].reason, "missing"));
            assert_false(r.probs[0].coerced);
            assert_int_equal(r.res.records, 2);
            assert_int_equal(r.res.rejected, 1);
            run_free(&r);
            bch_buf_release(&b);
        }
        /* JSON: key absent, and null */
        for (int null = 0; null < 2; null++) {
            struct jover ov[] = {
                {req[i].key, null ? "null" : NULL},
                {"gml_id", req[i].col == C_GID ? NULL : "\"CI_TRAFI_L.2616\""},
                {"ident", req[i].col == C_IDENT ? (null ? "null" : NULL) : "\"B\""}};
            char *text = json_around(ov, 3);
            struct run r = {0};

            parse_str(text, &r);
            if (r.rc != 0 || r.nrecs != 2 || r.nprobs != 1) {
                print_probs(&r);
                fail_msg("json without %s: rc %d, %zu records, %zu problems", req[i].key, r.rc,
                         r.nrecs, r.nprobs);
            }
            assert_int_equal(r.recs[0].position, 1);
            assert_int_equal(r.recs[1].position, 3);
            assert_int_equal(r.probs[0].position, 2);
            assert_string_equal(r.probs[0].field, req[i].key);
            assert_non_null(strstr(r.probs[0].reason, "missing"));
            run_free(&r);
            free(text);
        }
    }
}

static void test_states(void **state)
{
    static const struct {
        const char *etat;
        int want;
        bool coerced;
    } t[] = {
        {"FLUIDE", FLU, false},
        {"DENSE", DEN, false},
        {"EMBOUTEILLE", EMB, false},
        {"PARALYSE", PAR, false},
        {"INCONNU", INC, false},
        {"fluide", FLU, false},
        {"Dense", DEN, false},
        {"embouteille", EMB, false},
        {"EMBOUTEILL\xc3\x89", EMB, false},
        {"embouteill\xc3\xa9", EMB, false},
        {"PARALYS\xc3\x89", PAR, false},
        {"paralys\xc3\xa9", PAR, false},
        {" DENSE ", DEN, false},
        {"BLOQUE", INC, true},
        {"FLUIDE!", INC, true},
        {"EMBOUTEILLEE", INC, true},
        {"FLUIDE DENSE", INC, true},
        {"EMBOUTEILL\xc3\x88", INC, true},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        for (int json = 0; json < 2; json++) {
            struct run r = {0};
            struct bch_buf b = {0};
            char q[64];
            struct jover ov[] = {{"etat", q}, {"ident", "\"B\""}};
            char *text = NULL;

            if (json) {
                json_t *s = json_string(t[i].etat);
                char *d = json_dumps(s, JSON_ENCODE_ANY);

                snprintf(q, sizeof(q), "%s", d);
                free(d);
                json_decref(s);
                text = json_around(ov, 2);
                parse_str(text, &r);
            } else {
                csv_around(&b, (const char *[C_N]){[C_ETAT] = t[i].etat});
                parse(b.data, b.len, &r);
            }
            expect_around_ok(&r, json ? 1 : 2, t[i].etat);
            if (r.recs[1].state != t[i].want) {
                fail_msg("etat '%s': state %d, want %d", t[i].etat, r.recs[1].state, t[i].want);
            }
            if (t[i].coerced) {
                assert_int_equal(r.nprobs, 1);
                assert_string_equal(r.probs[0].field, "etat");
                assert_true(r.probs[0].coerced);
                assert_int_equal(r.probs[0].position, json ? 2 : 3);
                assert_string_equal(r.probs[0].value, t[i].etat);
                assert_non_null(strstr(r.probs[0].reason, "INCONNU"));
                assert_int_equal(r.res.coerced, 1);
            } else {
                assert_int_equal(r.nprobs, 0);
                assert_int_equal(r.res.coerced, 0);
            }
            assert_int_equal(r.res.rejected, 0);
            assert_int_equal(r.res.records, 3);
            run_free(&r);
            bch_buf_release(&b);
            free(text);
        }
    }
}

static void test_geometry_quirks(void **state)
{
    static const struct {
        const char *shape;  /* CSV cell (unquoted text) */
        const char *reason; /* NULL: valid */
        enum bch_geom_type type;
        double length_m;
    } t[] = {
        {"{\"type\": \"MultiLineString\", \"coordinates\": [[[-0.566524, 44.869538], [-0.563834, "
         "44.867752]], [[-0.566524, 44.869538], [-0.563834, 44.867752]]]}",
         NULL, BCH_GEOM_MULTILINESTRING, 2 * 290.4818030289793},
        {"{\"type\":\"Feature\",\"geometry\":{\"coordinates\": [[-0.566524, 44.869538], "
         "[-0.563834, 44.867752]], \"type\": \"LineString\"},\"properties\":{}}",
         NULL, BCH_GEOM_LINESTRING, 290.4818030289793},
        {"{\"coordinates\": [-0.565179, 44.868645], \"type\": \"Point\"}", "LineString",
         BCH_GEOM_NONE, 0},
        {"{\"coordinates\": [[-0.566524, 44.869538]], \"type\": \"LineString\"}", "fewer than two",
         BCH_GEOM_NONE, 0},
        {"{\"coordinates\": [[-0.566524, 44.869538], [-0.563834, 144.867752]], \"type\": "
         "\"LineString\"}",
         "range", BCH_GEOM_NONE, 0},
        {"{\"coordinates\": [[-0.566524, 44.869538], [\"x\", 44.867752]], \"type\": "
         "\"LineString\"}",
         "not a number", BCH_GEOM_NONE, 0},
        {"{\"coordinates\": [[-0.566524, 44.869538], [-0.563834, 44.8", "not valid JSON",
         BCH_GEOM_NONE, 0},
        {"LINESTRING(-0.566524 44.869538, -0.563834 44.867752)", "not valid JSON", BCH_GEOM_NONE,
         0},
        {"{\"type\": \"Polygon\", \"coordinates\": [[[0, 45], [1, 45], [1, 46], [0, 45]]]}",
         "unsupported", BCH_GEOM_NONE, 0},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_SHAPE] = t[i].shape});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, t[i].shape);
        if (!t[i].reason) {
            assert_int_equal(r.nprobs, 0);
            assert_true(r.recs[1].has_geom);
            assert_int_equal(r.recs[1].gtype, t[i].type);
            assert_true(fabs(r.recs[1].length_m - t[i].length_m) < 1e-6);
        } else {
            if (r.nprobs != 1 || !strstr(r.probs[0].reason, t[i].reason)) {
                print_probs(&r);
                fail_msg("shape %zu: want one problem with '%s'", i, t[i].reason);
            }
            assert_string_equal(r.probs[0].field, "geo_shape");
            assert_true(r.probs[0].coerced);
            assert_int_equal(r.probs[0].position, 3);
            assert_true(r.probs[0].has_value);
            assert_false(r.recs[1].has_geom);
            assert_true(r.recs[1].has_geom_text); /* still kept for the raw layer */
            assert_true(r.recs[1].length_m == 0);
            assert_int_equal(r.res.coerced, 1);
            assert_int_equal(r.res.rejected, 0);
        }
        assert_true(r.recs[0].has_geom && r.recs[2].has_geom);
        run_free(&r);
        bch_buf_release(&b);
    }
    /* An empty geo_shape cell is a null: no geometry, no problem. */
    {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_SHAPE] = ""});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "empty shape");
        assert_int_equal(r.nprobs, 0);
        assert_false(r.recs[1].has_geom);
        assert_false(r.recs[1].has_geom_text);
        run_free(&r);
        bch_buf_release(&b);
    }
    /* JSON: invalid Feature geometry, null, and GeoJSON given as text. */
    {
        static const struct {
            const char *json;
            bool problem, geom;
        } j[] = {
            {"{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[0,"
             "45]]},\"properties\":{}}",
             true, false},
            {"{\"type\":\"Feature\",\"geometry\":null,\"properties\":{}}", true, false},
            {"null", false, false},
            {"\"{\\\"type\\\": \\\"LineString\\\", \\\"coordinates\\\": [[-0.566524, "
             "44.869538], [-0.563834, 44.867752]]}\"",
             false, true},
            {"{\"type\": \"LineString\", \"coordinates\": [[-0.566524, 44.869538], [-0.563834, "
             "44.867752]]}",
             false, true},
        };

        for (size_t i = 0; i < BCH_ARRAY_LEN(j); i++) {
            struct jover ov[] = {{"geo_shape", j[i].json}, {"ident", "\"B\""}};
            char *text = json_around(ov, 2);
            struct run r = {0};

            parse_str(text, &r);
            expect_around_ok(&r, 1, j[i].json);
            if ((r.nprobs == 1) != j[i].problem || r.recs[1].has_geom != j[i].geom) {
                print_probs(&r);
                fail_msg("json geo_shape %zu: %zu problems, geom %d", i, r.nprobs,
                         r.recs[1].has_geom);
            }
            if (j[i].problem) {
                assert_string_equal(r.probs[0].field, "geo_shape");
                assert_true(r.probs[0].coerced);
                assert_int_equal(r.probs[0].position, 2);
            }
            if (j[i].geom) {
                assert_true(fabs(r.recs[1].length_m - 290.4818030289793) < 1e-6);
            }
            run_free(&r);
            free(text);
        }
    }
}

static void test_text_limits(void **state)
{
    char ident[BCH_IDENT_MAX + 1], longtext[300], accents[2 * 60 + 1];

    (void)state;
    memset(ident, 'I', sizeof(ident));
    memset(longtext, 'T', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    for (int i = 0; i < 60; i++) {
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    }
    accents[120] = '\0';
    /* ident of BCH_IDENT_MAX - 1 bytes fits; one more is rejected */
    for (int extra = 0; extra <= 1; extra++) {
        struct bch_buf b;
        struct run r = {0};

        ident[BCH_IDENT_MAX - 1 + extra] = '\0';
        csv_around(&b, (const char *[C_N]){[C_IDENT] = ident});
        parse(b.data, b.len, &r);
        if (extra) {
            assert_int_equal(r.nrecs, 2);
            assert_int_equal(r.nprobs, 1);
            assert_string_equal(r.probs[0].field, "ident");
            assert_non_null(strstr(r.probs[0].reason, "too long"));
        } else {
            expect_around_ok(&r, 2, "ident 47");
            assert_string_equal(r.recs[1].ident, ident);
        }
        ident[BCH_IDENT_MAX - 1 + extra] = 'I';
        run_free(&r);
        bch_buf_release(&b);
    }
    /* optional texts are truncated (coerced), never in the middle of a
     * UTF-8 sequence */
    {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_TYPEVOIE] = longtext, [C_COMMUNE] = accents});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "long texts");
        assert_int_equal(strlen(r.recs[1].typevoie), BCH_TEXT_MAX - 1);
        assert_int_equal(strlen(r.recs[1].commune), 94); /* 47 whole 'é' */
        assert_memory_equal(r.recs[1].commune, accents, 94);
        assert_int_equal(r.nprobs, 2);
        assert_true(r.probs[0].coerced && r.probs[1].coerced);
        assert_non_null(strstr(r.probs[0].reason, "truncated"));
        assert_int_equal(r.res.coerced, 2);
        run_free(&r);
        bch_buf_release(&b);
    }
    /* an ident with a NUL byte (JSON "\u0000", or a raw byte in CSV) would
     * be cut short as a C string and merge with another segment: rejected */
    {
        struct jover ov[] = {{"ident", "\"A\\u0000x\""}};
        char *text = json_around(ov, 1);
        struct bch_buf b;
        struct run r = {0};

        parse_str(text, &r);
        assert_int_equal(r.nrecs, 2);
        assert_int_equal(r.nprobs, 1);
        assert_int_equal(r.probs[0].position, 2);
        assert_string_equal(r.probs[0].field, "ident");
        assert_non_null(strstr(r.probs[0].reason, "NUL"));
        run_free(&r);
        free(text);
        bch_buf_init(&b, 1 << 16);
        assert_int_equal(bch_buf_adds(&b, CSV_HEADER), 0);
        add_row(&b, (const char *[C_N]){[C_IDENT] = "A"});
        assert_int_equal(bch_buf_add(&b, ";;;2616;B\0x;;FLUIDE;;2025-12-18T10:00:00Z;;;\n", 45), 0);
        memset(&r, 0, sizeof(r));
        parse(b.data, b.len, &r);
        assert_int_equal(r.nrecs, 1);
        assert_int_equal(r.nprobs, 1);
        assert_int_equal(r.probs[0].position, 3);
        assert_string_equal(r.probs[0].field, "ident");
        run_free(&r);
        bch_buf_release(&b);
    }
    /* accents and apostrophes survive (DATA_FORMATS.md §2.4) */
    {
        struct bch_buf b;
        struct run r = {0};

        csv_around(&b, (const char *[C_N]){[C_COMMUNE] = "Villenave-d'Ornon"});
        parse(b.data, b.len, &r);
        expect_around_ok(&r, 2, "apostrophe");
        assert_string_equal(r.recs[1].commune, "Villenave-d'Ornon");
        run_free(&r);
        bch_buf_release(&b);
    }
}

/* ------------------------------------------------ record-level errors */

static void test_csv_row_errors(void **state)
{
    struct bch_buf b;
    struct run r = {0};

    (void)state;
    bch_buf_init(&b, 1 << 20);
    assert_int_equal(bch_buf_adds(&b, CSV_HEADER), 0);
    add_row(&b, (const char *[C_N]){[C_IDENT] = "A"}); /* line 2 */
    assert_int_equal(bch_buf_adds(&b, "1,2;;CI_TRAFI_L.9;9;X;Q;FLUIDE;;"
                                      "2025-12-18T10:00:00+01:00;P;B\n"),
                     0); /* 3: 11 fields */
    assert_int_equal(bch_buf_adds(&b, "1,2;\"{}\"x;CI_TRAFI_L.9;9;Y;Q;FLUIDE;;"
                                      "2025-12-18T10:00:00+01:00;P;B;1\n"),
                     0);                               /* 4: after quote */
    add_row(&b, (const char *[C_N]){[C_IDENT] = "B"}); /* line 5 */
    assert_int_equal(bch_buf_adds(&b, "\n"), 0);       /* 6: empty */
    add_row(&b, (const char *[C_N]){[C_IDENT] = "C", [C_SHAPE] = "", [C_POINT] = ""}); /* 7 */
    assert_int_equal(bch_buf_adds(&b, "1,2;\"{unterminated;CI_TRAFI_L.9;9;Z;Q;FLUIDE;;"
                                      "2025-12-18T10:00:00+01:00;P;B;1\n"),
                     0); /* 8 */
    assert_int_equal(bch_buf_adds(&b, ";;CI_TRAFI_L.2616;2616;D;QUAIS;DENSE;;"
                                      "2025-12-18T10:00:00+01:00;P;B;1"),
                     0); /* 9, no LF */
    parse(b.data, b.len, &r);
    if (r.rc != 0 || r.nrecs != 4 || r.nprobs != 3) {
        print_probs(&r);
        fail_msg("rc %d, %zu records, %zu problems", r.rc, r.nrecs, r.nprobs);
    }
    assert_string_equal(r.recs[0].ident, "A");
    assert_int_equal(r.recs[0].position, 2);
    assert_string_equal(r.recs[1].ident, "B");
    assert_int_equal(r.recs[1].position, 5);
    assert_string_equal(r.recs[2].ident, "C");
    assert_int_equal(r.recs[2].position, 7);
    assert_string_equal(r.recs[3].ident, "D");
    assert_int_equal(r.recs[3].position, 9);
    assert_int_equal(r.recs[3].state, DEN);
    assert_int_equal(r.probs[0].position, 3);
    assert_non_null(strstr(r.probs[0].reason, "11 fields"));
    assert_int_equal(r.probs[1].position, 4);
    assert_non_null(strstr(r.probs[1].reason, "closing quote"));
    assert_int_equal(r.probs[2].position, 8);
    assert_non_null(strstr(r.probs[2].reason, "unterminated"));
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.probs[i].field, "");
        assert_false(r.probs[i].coerced);
    }
    assert_int_equal(r.res.rejected, 3);
    assert_int_equal(r.res.records, 4);
    run_free(&r);
    bch_buf_release(&b);
}

static void test_non_object_records(void **state)
{
    static const char *const wrappers[][2] = {
        {"[", "]"},
        {"{\"total_count\": 7, \"results\": [", "]}"},
        {"{\"type\": \"FeatureCollection\", \"features\": [", "]}"},
    };

    (void)state;
    for (size_t w = 0; w < BCH_ARRAY_LEN(wrappers); w++) {
        json_t *rec = json_default();
        char *one;
        struct bch_buf b;
        struct run r = {0};

        if (w == 2) {
            json_t *feat = json_pack("{s:s, s:O, s:O}", "type", "Feature", "geometry",
                                     json_object_get(json_object_get(rec, "geo_shape"), "geometry"),
                                     "properties", rec);

            json_decref(rec);
            rec = feat;
        }
        one = json_dumps(rec, 0);
        bch_buf_init(&b, 1 << 20);
        assert_int_equal(bch_buf_printf(&b, "%s%s, 42, \"x\", null, [], true, %s%s", wrappers[w][0],
                                        one, one, wrappers[w][1]),
                         0);
        parse(b.data, b.len, &r);
        if (r.rc != 0 || r.nrecs != 2 || r.nprobs != 5) {
            print_probs(&r);
            fail_msg("wrapper %zu: rc %d (%s), %zu records, %zu problems", w, r.rc, r.err, r.nrecs,
                     r.nprobs);
        }
        assert_int_equal(r.recs[0].position, 1);
        assert_int_equal(r.recs[1].position, 7);
        assert_true(r.recs[1].has_geom);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(r.probs[i].position, i + 2);
            assert_string_equal(r.probs[i].field, "");
            assert_non_null(strstr(r.probs[i].reason, "not a JSON object"));
            assert_false(r.probs[i].coerced);
        }
        assert_int_equal(r.res.rejected, 5);
        assert_int_equal(r.res.total_count, w == 1 ? 7 : -1);
        run_free(&r);
        bch_buf_release(&b);
        free(one);
        json_decref(rec);
    }
}

/* -------------------------------------------------- unreadable payloads */

static void test_bad_payloads(void **state)
{
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        const char *err1, *err2;
    } t[] = {
        {"", 0, "empty", NULL},
        {" \r\n\t\n", 0, "empty", NULL},
        {"\xEF\xBB\xBF", 0, "empty", NULL},
        {"\xEF\xBB\xBF\n  ", 0, "empty", NULL},
        /* not JSON: line and column of the error */
        {"{\"total_count\": 2,\n \"results\": [\n  {\"gid\": 1,,}\n]}", 0, "line 3", "column"},
        {"[\n{\"gid\": 2151, \"ident\": \"I83\"}\n", 0, "line", "column"},
        {"{not json", 0, "invalid JSON", "line 1"},
        {"[1, 2", 0, "invalid JSON", "column"},
        /* the API's error body (DATA_FORMATS.md §1.1) */
        {"{\"error_code\": \"InvalidRESTParameterError\", \"message\": \"Invalid value for limit "
         "API parameter: 1473 was found but -1 <= limit <= 100 is expected.\"}",
         0, "InvalidRESTParameterError", "limit"},
        {"{\"error_code\": \"InvalidRESTParameterError\", \"message\": \"Invalid value for sum of "
         "offset + limit API parameter: 10001 was found but <= 10000 is expected.\"}",
         0, "InvalidRESTParameterError", "10000"},
        {"{\"error_code\": \"TooManyRequests\"}", 0, "TooManyRequests", NULL},
        /* HTML error pages and proxies */
        {"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>", 0, "HTML", NULL},
        {"\xEF\xBB\xBF  \r\n<html><head><title>Maintenance</title></head></html>", 0, "HTML", NULL},
        {"<?xml version=\"1.0\"?><wfs:FeatureCollection/>", 0, "HTML", NULL},
        /* JSON of another shape */
        {"{\"foo\": [1, 2]}", 0, "not a known", NULL},
        {"{\"results\": {\"a\": 1}}", 0, "not a known", NULL},
        /* CSV without the ci_trafi_l fields */
        {"gid;time;score\n1;2;3\n", 0, "header", NULL},
        {"IDENT;HPM_VAL;HPS_VAL\r\nZ05BS;460;931\r\n", 0, "header", "line 1"},
        {"plain text, no header at all", 0, "header", NULL},
        {"\"unterminated header;gid\nx", 0, "line 1", "unterminated"},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct run r = {0};
        size_t len = t[i].len ? t[i].len : strlen(t[i].in);

        parse(t[i].in, len, &r);
        if (r.rc != BCH_ERR_INPUT || !strstr(r.err, t[i].err1) ||
            (t[i].err2 && !strstr(r.err, t[i].err2)) || r.nrecs != 0) {
            fail_msg("payload %zu: rc %d, err '%s' (want '%s' '%s'), %zu records", i, r.rc, r.err,
                     t[i].err1, t[i].err2 ? t[i].err2 : "", r.nrecs);
        }
        run_free(&r);
    }
}

/* An empty but well-formed payload is not an error: it has no records. */
static void test_empty_collections(void **state)
{
    static const struct {
        const char *in;
        enum bch_format fmt;
        long total;
    } t[] = {
        {"[]", BCH_FMT_JSON, -1},
        {"{\"total_count\": 0, \"results\": []}", BCH_FMT_RECORDS, 0},
        {"{\"type\": \"FeatureCollection\", \"features\": []}", BCH_FMT_GEOJSON, -1},
        {"{\"nhits\": 0, \"records\": []}", BCH_FMT_V1, 0},
        {CSV_HEADER, BCH_FMT_CSV, -1},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct run r = {0};

        parse_str(t[i].in, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.nrecs, 0);
        assert_int_equal(r.res.format, t[i].fmt);
        assert_int_equal(r.res.total_count, t[i].total);
        assert_int_equal(r.res.newest_mdate, BCH_TIME_NONE);
        run_free(&r);
    }
}

/* ------------------------------------------------------------ the sink */

static void test_sink_abort(void **state)
{
    size_t len;
    char *text = read_path(FMT_DIR "four.export.json", &len);
    struct run r = {0};
    struct bch_buf b;

    (void)state;
    r.abort_record_at = 2;
    parse(text, len, &r);
    assert_int_equal(r.rc, -42);
    assert_int_equal(r.record_calls, 2);
    run_free(&r);
    free(text);

    /* a problem callback that fails stops the payload too */
    csv_around(&b, (const char *[C_N]){[C_ETAT] = "BLOQUE"});
    memset(&r, 0, sizeof(r));
    r.abort_problem_at = 1;
    parse(b.data, b.len, &r);
    assert_int_equal(r.rc, -7);
    assert_int_equal(r.record_calls, 1); /* A only: B was not delivered */
    run_free(&r);

    /* no problem callback at all: problems are only counted */
    {
        struct bch_reader *rd = bch_reader_new();
        struct bch_reader_sink sink = {&r, on_record, NULL};
        char err[128];

        memset(&r, 0, sizeof(r));
        bch_buf_release(&b);
        csv_around(&b, (const char *[C_N]){[C_ETAT] = "", [C_IDENT] = "B"});
        assert_int_equal(bch_reader_parse(rd, b.data, b.len, &sink, &r.res, err, sizeof(err)), 0);
        assert_int_equal(r.res.records, 2);
        assert_int_equal(r.res.rejected, 1);
        assert_int_equal(r.nrecs, 2);
        assert_int_equal(r.violations, 0);
        bch_reader_free(rd);
        run_free(&r);
    }
    bch_buf_release(&b);
}

/* The raw body: the record as received with the geometry factored out. */
static void test_raw_body(void **state)
{
    static const struct {
        const char *file;
        const char *geom_key; /* where the marker must sit */
    } t[] = {
        {FMT_DIR "four.export.json", "geo_shape"},
        {FMT_DIR "four.records.json", "geo_shape"},
        {FMT_DIR "four.export.geojson", "geometry"},
        {FMT_DIR "four.v1_records.json", "geometry"},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct run r = {0};
        json_t *body, *m;

        r.keep_body = true;
        parse_file(t[i].file, &r);
        assert_int_equal(r.nrecs, 4);
        body = json_loads(r.first_body, 0, NULL);
        assert_non_null(body);
        m = json_object_get(body, t[i].geom_key);
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "$geom")) ||
            strcmp(json_string_value(json_object_get(m, "$geom")), r.recs[0].geom_hash) != 0) {
            fail_msg("%s: body %s", t[i].file, r.first_body);
        }
        /* no coordinates left in the body, but the other fields are */
        assert_null(strstr(r.first_body, "-0.566524"));
        assert_non_null(strstr(r.first_body, "P07"));
        assert_non_null(strstr(r.first_body, "CI_TRAFI_L.2616"));
        json_decref(body);
        run_free(&r);
    }
    /* CSV: the line as received (without its line end), the header kept
     * apart (without BOM or CR) */
    {
        struct bch_buf b;
        struct run r = {0};
        const char *line = ";;5;X;FLUIDE;2025-12-18T10:00:00Z;\"a;b\";\"q\"\"\"";

        bch_buf_init(&b, 1 << 20);
        assert_int_equal(bch_buf_printf(&b,
                                        "\xEF\xBB\xBFGeo Point;Geo Shape;gid;ident;etat;mdate;"
                                        "extra;more\r\n%s\r\n",
                                        line),
                         0);
        r.keep_body = true;
        parse(b.data, b.len, &r);
        assert_int_equal(r.nrecs, 1);
        assert_string_equal(r.first_body, line);
        assert_string_equal(r.header, "Geo Point;Geo Shape;gid;ident;etat;mdate;extra;more");
        run_free(&r);
        bch_buf_release(&b);
    }
    /* four.csv: line 2 with its geo_shape cell replaced */
    {
        size_t len;
        char *text = read_path(FMT_DIR "four.csv", &len);
        char *l2 = strchr(text, '\n') + 1;
        char *q1 = strchr(l2, '"'), *q2 = strstr(q1, "}\"") + 1;
        struct run r = {0};
        char want[1024];

        r.keep_body = true;
        parse(text, len, &r);
        *q1 = '\0';
        snprintf(want, sizeof(want), "%s$geom:%s%.*s", l2, r.recs[0].geom_hash,
                 (int)(strchr(q2, '\n') - (q2 + 1)), q2 + 1);
        assert_string_equal(r.first_body, want);
        assert_string_equal(r.header, "geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;"
                                      "cdate;mdate;origine;commune;code_commune");
        run_free(&r);
        free(text);
    }
    /* JSON payloads have no header */
    {
        struct run r = {0};

        parse_file(FMT_DIR "four.export.json", &r);
        assert_string_equal(r.header, "");
        run_free(&r);
    }
}

/* --------------------------------------------------- geometry cache */

static void test_reader_reuse_and_cache(void **state)
{
    struct bch_reader *rd = bch_reader_new();
    size_t len;
    char *text = read_path(FMT_DIR "four.csv", &len);
    struct bch_geom_info a, b;
    struct bch_buf big;
    struct run r = {0};
    double deg = BCH_EARTH_RADIUS_M * M_PI / 180.0;
    const int n = 3000; /* more distinct geometries than the cache holds */

    (void)state;
    assert_non_null(rd);
    for (int k = 0; k < 3; k++) {
        parse_with(rd, text, len, &r);
        check_four(&r, BCH_FMT_CSV, 2, -1, "reused reader");
        run_free(&r);
        memset(&r, 0, sizeof(r));
    }
    free(text);

    /* bch_reader_geometry: cached, same answer twice */
    assert_int_equal(bch_reader_geometry(rd, defaults[C_SHAPE], strlen(defaults[C_SHAPE]), &a), 0);
    assert_non_null(a.geom);
    assert_true(fabs(a.length_m - 290.4818030289793) < 1e-6);
    assert_null(a.error);
    assert_int_equal(bch_reader_geometry(rd, defaults[C_SHAPE], strlen(defaults[C_SHAPE]), &b), 0);
    assert_ptr_equal(a.geom, b.geom);
    assert_string_equal(a.norm_hash, b.norm_hash);
    assert_string_equal(b.norm, "{\"type\":\"LineString\",\"coordinates\":[[-0.566524,44.869538],"
                                "[-0.563834,44.867752]]}");
    {
        const char *pt = "{\"type\":\"Point\",\"coordinates\":[0,0]}";

        assert_int_equal(bch_reader_geometry(rd, pt, strlen(pt), &a), -1);
    }
    assert_null(a.geom);
    assert_non_null(a.error);
    assert_non_null(a.raw_hash);

    /* A payload with n distinct geometries, each one of a known length. */
    bch_buf_init(&big, 16u << 20);
    assert_int_equal(bch_buf_adds(&big, CSV_HEADER), 0);
    for (int i = 0; i < n; i++) {
        char shape[128], ident[16], gid[16];

        snprintf(shape, sizeof(shape),
                 "{\"coordinates\": [[-0.5, 44.0], [-0.5, %.4f]], \"type\": \"LineString\"}",
                 44.0 + (i + 1) * 1e-4);
        snprintf(ident, sizeof(ident), "S%d", i);
        snprintf(gid, sizeof(gid), "%d", i + 1);
        add_row(&big, (const char *[C_N]){[C_SHAPE] = shape, [C_IDENT] = ident, [C_GID] = gid});
    }
    for (int pass = 0; pass < 2; pass++) {
        parse_with(rd, big.data, big.len, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.nrecs, (size_t)n);
        for (int i = 0; i < n; i++) {
            double want = deg * (i + 1) * 1e-4;

            if (!r.recs[i].has_geom || fabs(r.recs[i].length_m - want) > 1e-6 ||
                r.recs[i].gid != i + 1) {
                fail_msg("pass %d row %d: length %.6f, want %.6f", pass, i, r.recs[i].length_m,
                         want);
            }
        }
        run_free(&r);
        memset(&r, 0, sizeof(r));
    }
    bch_buf_release(&big);
    bch_reader_free(rd);
    bch_reader_free(NULL);
}

/* ------------------------------------------------------------ real data */

struct count {
    const char *name;
    int n;
};

static int find_by_gid(const struct run *r, int64_t gid)
{
    for (size_t i = 0; i < r->nrecs; i++) {
        if (r->recs[i].gid == gid) {
            return (int)i;
        }
    }
    return -1;
}

static void test_real_snapshots(void **state)
{
    static const char *const files[] = {"ci_trafi_l_2025-12-18T0950.csv",
                                        "ci_trafi_l_2025-12-18T1000.csv"};
    /* SOURCES.md */
    static const int states[2][BCH_STATE_COUNT] = {{223, 438, 10, 23, 0}, {224, 432, 16, 22, 0}};
    static const struct count typevoie[] = {
        {"PENETRANTE", 482}, {"A630", 89}, {"BOULEVARDS", 36}, {"QUAIS", 26}, {"N230", 24},
        {"COURS", 24},       {"A62", 6},   {"A631", 5},        {"A63", 2},
    };
    /* SOURCES.md and DATA_FORMATS.md §2: newest mdate, batches */
    static const bch_time newest[2] = {1766047850, 1766048450};
    struct run r[2] = {{0}};
    int etat_changes = 0, mdate_changes = 0;

    (void)state;
    for (int s = 0; s < 2; s++) {
        size_t len;
        char *text = read_shared(files[s], &len);
        int st[BCH_STATE_COUNT] = {0}, dira = 0, pc = 0, cdate_after = 0, batch50 = 0, batch00 = 0,
            nov27 = 0;
        double total = 0;

        parse(text, len, &r[s]);
        free(text);
        if (r[s].rc != 0 || r[s].nrecs != 694 || r[s].nprobs != 0) {
            print_probs(&r[s]);
            fail_msg("%s: rc %d (%s), %zu records", files[s], r[s].rc, r[s].err, r[s].nrecs);
        }
        assert_int_equal(r[s].res.format, BCH_FMT_CSV);
        assert_int_equal(r[s].res.newest_mdate, newest[s]);
        for (size_t i = 0; i < r[s].nrecs; i++) {
            const struct rec *g = &r[s].recs[i];

            st[g->state]++;
            total += g->length_m;
            dira += strcmp(g->origine, "DIRA") == 0;
            pc += strcmp(g->origine, "PC_CIRCULATION") == 0;
            cdate_after += g->cdate > g->mdate;
            batch50 += g->mdate == newest[s];
            batch00 += g->mdate == newest[s] - 50;
            nov27 += g->mdate == 1764258840; /* 2025-11-27T16:54:00+01:00 */
            assert_int_equal(g->position, (long)i + 2);
            assert_true(g->has_geom);
            assert_int_equal(g->gtype, BCH_GEOM_LINESTRING);
            assert_true(g->nvert >= 2 && g->nvert <= 71);
            assert_true(g->gid >= 1081 && g->gid <= 2688);
            assert_string_equal(g->commune[0] ? "ok" : "", "ok");
            assert_int_equal(strlen(g->code_commune), 5);
            for (size_t k = 0; k < i; k++) {
                if (r[s].recs[k].gid == g->gid || strcmp(r[s].recs[k].ident, g->ident) == 0) {
                    fail_msg("%s: gid %lld or ident %s twice", files[s], (long long)g->gid,
                             g->ident);
                }
            }
        }
        for (int k = 0; k < BCH_STATE_COUNT; k++) {
            if (st[k] != states[s][k]) {
                fail_msg("%s: %d records %s, want %d", files[s], st[k], bch_state_name(k),
                         states[s][k]);
            }
        }
        assert_int_equal(dira, 126);
        assert_int_equal(pc, 568);
        assert_int_equal(batch50, 443);
        assert_int_equal(batch00, 122);
        assert_int_equal(nov27, 112);
        assert_int_equal(cdate_after, 14); /* DATA_FORMATS.md §2.4 */
        if (fabs(total / 1000.0 - 293.09) > 0.01) {
            fail_msg("%s: network length %.4f km, want 293.09", files[s], total / 1000.0);
        }
        if (s == 1) {
            for (size_t t = 0; t < BCH_ARRAY_LEN(typevoie); t++) {
                int n = 0;

                for (size_t i = 0; i < r[s].nrecs; i++) {
                    n += strcmp(r[s].recs[i].typevoie, typevoie[t].name) == 0;
                }
                if (n != typevoie[t].n) {
                    fail_msg("typevoie %s: %d, want %d", typevoie[t].name, n, typevoie[t].n);
                }
            }
        }
    }
    /* same 694 gids; 34 etat changes and 565 mdate changes between them */
    for (size_t i = 0; i < r[1].nrecs; i++) {
        int k = find_by_gid(&r[0], r[1].recs[i].gid);

        assert_true(k >= 0);
        assert_string_equal(r[0].recs[k].ident, r[1].recs[i].ident);
        etat_changes += r[0].recs[k].state != r[1].recs[i].state;
        mdate_changes += r[0].recs[k].mdate != r[1].recs[i].mdate;
        assert_true(r[0].recs[k].mdate <= r[1].recs[i].mdate);
    }
    assert_int_equal(etat_changes, 34);
    assert_int_equal(mdate_changes, 565);
    run_free(&r[0]);
    run_free(&r[1]);
}

/* The recorded API payloads of the same snapshots, in the four formats,
 * give the same records as the real CSV. */
static void test_api_fixtures(void **state)
{
    static const struct {
        const char *snap, *csv;
    } snaps[] = {{"0950", "ci_trafi_l_2025-12-18T0950.csv"},
                 {"1000", "ci_trafi_l_2025-12-18T1000.csv"}};
    static const struct {
        const char *suffix;
        enum bch_format fmt;
        long total;
    } kinds[] = {{"records.json", BCH_FMT_RECORDS, 694},
                 {"export.json", BCH_FMT_JSON, -1},
                 {"export.geojson", BCH_FMT_GEOJSON, -1},
                 {"export.csv", BCH_FMT_CSV, -1}};

    (void)state;
    for (size_t s = 0; s < BCH_ARRAY_LEN(snaps); s++) {
        struct run ref = {0};
        size_t len;
        char *text = read_shared(snaps[s].csv, &len);

        parse(text, len, &ref);
        free(text);
        assert_int_equal(ref.nrecs, 694);
        for (size_t k = 0; k < BCH_ARRAY_LEN(kinds); k++) {
            char path[256];
            struct run r = {0};
            int diffs = 0;

            snprintf(path, sizeof(path), "tests/fixtures/api/ci_trafi_l_%s.%s", snaps[s].snap,
                     kinds[k].suffix);
            parse_file(path, &r);
            if (r.rc != 0 || r.nrecs != 694 || r.nprobs != 0) {
                print_probs(&r);
                fail_msg("%s: rc %d (%s), %zu records", path, r.rc, r.err, r.nrecs);
            }
            assert_int_equal(r.res.format, kinds[k].fmt);
            assert_int_equal(r.res.total_count, kinds[k].total);
            assert_int_equal(r.res.newest_mdate, ref.res.newest_mdate);
            for (size_t i = 0; i < r.nrecs; i++) {
                const struct rec *g = &r.recs[i];
                int j = find_by_gid(&ref, g->gid);
                const struct rec *w = j >= 0 ? &ref.recs[j] : NULL;

                if (!w || strcmp(g->ident, w->ident) != 0 || g->state != w->state ||
                    g->mdate != w->mdate || g->cdate != w->cdate ||
                    strcmp(g->typevoie, w->typevoie) != 0 || strcmp(g->commune, w->commune) != 0 ||
                    strcmp(g->code_commune, w->code_commune) != 0 ||
                    strcmp(g->origine, w->origine) != 0 || !g->has_geom ||
                    fabs(g->length_m - w->length_m) > 1e-6) {
                    if (diffs++ < 5) {
                        print_error("%s: gid %lld differs from the CSV\n", path, (long long)g->gid);
                    }
                }
            }
            assert_int_equal(diffs, 0);
            run_free(&r);
        }
        run_free(&ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_formats),
        cmocka_unit_test(test_csv_variants),
        cmocka_unit_test(test_gid_spellings),
        cmocka_unit_test(test_code_commune),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_geometry_quirks),
        cmocka_unit_test(test_text_limits),
        cmocka_unit_test(test_csv_row_errors),
        cmocka_unit_test(test_non_object_records),
        cmocka_unit_test(test_bad_payloads),
        cmocka_unit_test(test_empty_collections),
        cmocka_unit_test(test_sink_abort),
        cmocka_unit_test(test_raw_body),
        cmocka_unit_test(test_reader_reuse_and_cache),
        cmocka_unit_test(test_real_snapshots),
        cmocka_unit_test(test_api_fixtures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
