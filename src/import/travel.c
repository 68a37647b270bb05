/*
 * travel.c - travel-times: ci_tpstj_a corridors and their travel times.
 *
 * Inputs, told apart by their content: the hourly history CSV
 * ("time","gid","actuel","ref": hourly means, local time with offset), the
 * live snapshot CSV or Opendatasoft JSON (bm_gid, bm_ident, bm_libelle,
 * bm_actuel, bm_ref, bm_mdate in UTC), and the corridors GeoJSON
 * (MultiLineString features with ident 20..35; gid = ident - 19).
 *
 * After the last file the health flags of every sample are recomputed
 * from all stored samples (they depend on each corridor's distribution and
 * on the other corridors at the same instant): floor, cap and sentinel as
 * docs/HISTORY.md defines them, ref_zero, not_corridor.
 *
 * The record path (csv_row, json_record) also serves payloads held in
 * memory: bch_imp_travel_payload() for the live polls of `bouchon run`
 * (import/live.c).
 */
#include "core/compat.h"

#include <math.h>

#include "core/err.h"
#include "core/geo.h"
#include "core/grow.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "import/fields.h"
#include "import/internal.h"
#include "warehouse/db.h"

#define T_FLOOR        1
#define T_CAP          2
#define T_SENTINEL     4
#define T_REF_ZERO     8
#define T_NOT_CORRIDOR 16
#define T_MERGED       32
#define T_HEALTH       (T_FLOOR | T_CAP | T_SENTINEL)

#define IDENT_OFFSET 19 /* corridor gid = ident - 19 */

/* Distribution rules need this many samples of a corridor. */
#define MIN_SAMPLES_FOR_RULES 100
/* A floor or cap holds at least this share of a corridor's samples. */
#define PILEUP_SHARE 0.01
/* The same value on at least this many corridors at one instant is a sentinel. */
#define SENTINEL_CORRIDORS 4

#define MAX_GID 65536 /* gids above are stored but never corridors */

/* A travel time (or its reference) above a day is not one: a unit or export error. */
#define MAX_TRAVEL_S 86400.0

struct sample_key {
    int64_t gid;
    bch_time at;
};

struct travel {
    sqlite3_stmt *ins, *get, *upd, *cor_up;
    /* corridor gids known to the warehouse (travel_corridor), kept current */
    bool corridor[MAX_GID];
    bool any_corridor;
    /* payloads in memory: the samples of the current payload, to summarize it */
    bool track;
    struct sample_key *keys;
    size_t nkeys, capkeys;
};

/* A corridor: listed in travel_corridor, or gid 1..16 while that table is empty. */
static bool is_corridor(const struct travel *t, int64_t gid)
{
    if (!t->any_corridor) {
        return gid >= 1 && gid <= 16;
    }
    return gid > 0 && gid < MAX_GID && t->corridor[gid];
}

static struct travel *T(struct bch_imp *im)
{
    return im->kind_state;
}

/* Remembers the key of a sample of the current payload (when tracking). */
static int track_key(struct travel *t, int64_t gid, bch_time at)
{
    if (!t->track) {
        return 0;
    }
    struct sample_key *nk = bch_reserve(t->keys, &t->capkeys, t->nkeys + 1, sizeof(*nk), 32);

    if (!nk) {
        return BCH_ERR_NOMEM;
    }
    t->keys = nk;
    t->keys[t->nkeys].gid = gid;
    t->keys[t->nkeys].at = at;
    t->nkeys++;
    return 0;
}

/* Stores one sample; identical -> duplicate, different -> the stored one is kept (merged). */
static int put_sample(struct bch_imp *im, int64_t gid, bch_time at, int period_s, double actuel,
                      double ref)
{
    struct travel *t = T(im);
    sqlite3_stmt *st = t->ins;
    int flags =
        ((isnan(ref) || ref == 0) ? T_REF_ZERO : 0) | (is_corridor(t, gid) ? 0 : T_NOT_CORRIDOR);

    if (track_key(t, gid, at)) {
        return BCH_ERR_NOMEM;
    }

    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int(st, 3, period_s);
    sqlite3_bind_double(st, 4, actuel);
    bch_imp_bind_real(st, 5, ref);
    sqlite3_bind_int(st, 6, flags);
    if (bch_imp_step(im, st)) {
        return BCH_ERR_DB;
    }
    if (sqlite3_changes(im->db) == 1) {
        im->st->stored++;
        return 0;
    }
    st = t->get;
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, at);
    if (sqlite3_step(st) == SQLITE_ROW) {
        double a = sqlite3_column_double(st, 0);
        double r = sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1);
        int p = sqlite3_column_int(st, 2);

        sqlite3_reset(st);
        if (a == actuel && p == period_s && ((isnan(r) && isnan(ref)) || r == ref)) {
            im->st->duplicates++;
            return 0;
        }
        im->st->merged++;
        sqlite3_bind_int64(t->upd, 1, gid);
        sqlite3_bind_int64(t->upd, 2, at);
        return bch_imp_step(im, t->upd);
    }
    sqlite3_reset(st);
    return BCH_ERR_DB;
}

static int put_corridor(struct bch_imp *im, int64_t gid, int64_t ident, const char *label,
                        const struct bch_geom *g)
{
    sqlite3_stmt *st = T(im)->cor_up;
    char *text = g ? bch_geom_to_json(g) : NULL;
    int rc;

    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, ident);
    bch_imp_bind_text(st, 3, label, label ? strlen(label) : 0);
    bch_imp_bind_text(st, 4, text ? bch_geom_type_name(g->type) : NULL,
                      text ? strlen(bch_geom_type_name(g->type)) : 0);
    bch_imp_bind_text(st, 5, text, text ? strlen(text) : 0);
    bch_imp_bind_real(st, 6, text ? bch_geom_length_m(g) : NAN);
    rc = bch_imp_step(im, st);
    free(text);
    if (rc == 0 && gid > 0 && gid < MAX_GID) {
        T(im)->corridor[gid] = true;
        T(im)->any_corridor = true;
    }
    return rc;
}

/* ------------------------------------------------------------- CSV */

enum { C_TIME, C_GID, C_IDENT, C_LABEL, C_ACTUEL, C_REF, C_MDATE, C_N };

static const char *const tt_cols[C_N] = {
    "time",       "bm_gid|gid",     "bm_ident|ident", "bm_libelle|libelle", "bm_actuel|actuel",
    "bm_ref|ref", "bm_mdate|mdate",
};

static int csv_row(struct bch_imp *im, const struct bch_imp_csv *r, const int *col, long line,
                   bool hourly)
{
    struct bch_csv_field f;
    char terr[96];
    int64_t gid, ident;
    double actuel, ref = NAN;
    bch_time at;

    im->st->rows++;
    im->file_rows++;
    f = bch_imp_field(&r->csv, col[C_GID]);
    if (bch_cell_int64(f.s, f.len, &gid) != BCH_CELL_OK || gid <= 0) {
        return bch_imp_reject(im, line, hourly ? "gid" : "bm_gid", "not a positive whole number",
                              f.s, f.len, false);
    }
    f = bch_imp_field(&r->csv, hourly ? col[C_TIME] : col[C_MDATE]);
    if (bch_time_parse(f.s, f.len, false, &at, terr, sizeof(terr))) {
        return bch_imp_reject(im, line, hourly ? "time" : "bm_mdate", terr, f.s, f.len, false);
    }
    if (hourly && at % 3600 != 0) {
        return bch_imp_reject(im, line, "time", "not the start of an hour", f.s, f.len, false);
    }
    f = bch_imp_field(&r->csv, col[C_ACTUEL]);
    if (bch_cell_double(f.s, f.len, &actuel) != BCH_CELL_OK || actuel <= 0) {
        return bch_imp_reject(im, line, hourly ? "actuel" : "bm_actuel",
                              "missing or not a positive number of seconds", f.s, f.len, false);
    }
    if (actuel > MAX_TRAVEL_S) {
        return bch_imp_reject(im, line, hourly ? "actuel" : "bm_actuel",
                              "more than a day (86400 s): not a travel time", f.s, f.len, false);
    }
    f = bch_imp_field(&r->csv, col[C_REF]);
    switch (bch_cell_double(f.s, f.len, &ref)) {
    case BCH_CELL_OK:
        if (ref < 0) {
            return bch_imp_reject(im, line, hourly ? "ref" : "bm_ref", "negative", f.s, f.len,
                                  false);
        }
        if (ref > MAX_TRAVEL_S) {
            return bch_imp_reject(im, line, hourly ? "ref" : "bm_ref",
                                  "more than a day (86400 s): not a travel time", f.s, f.len,
                                  false);
        }
        break;
    case BCH_CELL_NULL:
        ref = NAN;
        break;
    default:
        return bch_imp_reject(im, line, hourly ? "ref" : "bm_ref", "not a number", f.s, f.len,
                              false);
    }
    if (!hourly) {
        struct bch_csv_field fl = bch_imp_field(&r->csv, col[C_LABEL]);
        char label[256];
        int rc;

        f = bch_imp_field(&r->csv, col[C_IDENT]);
        if (bch_cell_int64(f.s, f.len, &ident) != BCH_CELL_OK) {
            ident = gid + IDENT_OFFSET;
        }
        snprintf(label, sizeof(label), "%.*s", (int)fl.len, fl.s);
        rc = put_corridor(im, gid, ident, label[0] ? label : NULL, NULL);
        if (rc) {
            return rc;
        }
    }
    return put_sample(im, gid, at, hourly ? 3600 : 0, actuel, ref);
}

/* The header and columns of a CSV input, learnt from its first row. */
struct csv_state {
    int col[C_N];
    size_t ncols; /* fields of the header */
    bool hourly, have_header;
    char header[512];
    size_t hlen;
    const char *format;
};

static void csv_state_init(struct csv_state *cs)
{
    memset(cs, 0, sizeof(*cs));
    cs->format = "csv";
}

/*
 * One result of the splitter (n: 1 a row, -1 a malformed row described by
 * err): the header first, then the samples.  0, BCH_ERR_INPUT when the
 * header is not a ci_tpstj_a one (recorded; stop), BCH_ERR_DB.
 */
static int csv_step(struct bch_imp *im, const struct bch_imp_csv *r, struct csv_state *cs, int n,
                    long line, const char *err)
{
    int rc;

    if (n == -1 && !cs->have_header) {
        return 0; /* blank or malformed lines before the header: not data */
    }
    if (cs->have_header && im->skip_rows > 0) {
        im->skip_rows--; /* stored or rejected by an earlier import of the file */
        return 0;
    }
    if (n == -1) {
        size_t vlen = 0;
        const char *v = r->have_chunk ? bch_imp_row_text(&r->csv, &vlen) : NULL;

        im->st->rows++;
        im->file_rows++;
        return bch_imp_reject(im, line, "", err, v, vlen, false);
    }
    if (cs->have_header) {
        if (r->csv.nfields != cs->ncols) {
            char why[96];

            snprintf(why, sizeof(why), "%zu fields where the header has %zu%s", r->csv.nfields,
                     cs->ncols,
                     r->csv.nfields > cs->ncols ? " (an unquoted separator or decimal comma?)"
                                                : "");
            im->st->rows++;
            im->file_rows++;
            return bch_imp_reject(im, line, "", why, r->csv.row, r->csv.row_len, false);
        }
        return csv_row(im, r, cs->col, line, cs->hourly);
    }
    cs->have_header = true;
    cs->ncols = r->csv.nfields;
    cs->hlen = bch_imp_header_text(r, cs->header, sizeof(cs->header));
    bch_imp_map_header(&r->csv, tt_cols, C_N, cs->col);
    cs->hourly = cs->col[C_TIME] >= 0;
    if (cs->col[C_GID] < 0 || cs->col[C_ACTUEL] < 0 || (!cs->hourly && cs->col[C_MDATE] < 0)) {
        rc = bch_imp_reject(im, 0, "",
                            "not a ci_tpstj_a file: the header lacks gid, actuel and "
                            "time or mdate",
                            cs->header, cs->hlen, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    cs->format = cs->hourly ? "csv-hourly" : "csv-live";
    return 0;
}

static int csv_file(struct bch_imp *im, const char *path)
{
    struct bch_imp_csv r;
    struct csv_state cs;
    char err[256];
    bool skip;
    long line;
    int rc, n;

    csv_state_init(&cs);
    rc = bch_imp_source(im, path, "ci_tpstj_a", cs.format, &skip);
    if (rc || skip) {
        return rc;
    }
    if (bch_imp_csv_open(&r, path, err, sizeof(err))) {
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    while (rc == 0 && (n = bch_imp_csv_next(&r, &line, err, sizeof(err))) != 0) {
        if (n == -2) {
            rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
            if (rc == 0) {
                rc = BCH_ERR_INPUT;
            }
            break;
        }
        rc = csv_step(im, &r, &cs, n, line, err);
    }
    bch_imp_csv_close(&r);
    if (rc == 0 && !cs.have_header) {
        rc = bch_imp_reject(im, 0, "", "empty file (no header line)", NULL, 0, false);
        rc = rc ? rc : BCH_ERR_INPUT;
    }
    if (rc == 0 || rc == BCH_ERR_INPUT) {
        /* Failed as a whole (not a ci_tpstj_a file, a read error): left
         * incomplete, so that a rerun reports it again. */
        int drc = rc == 0 ? bch_imp_source_done(im, cs.format, cs.header, cs.hlen)
                          : bch_imp_source_failed(im, cs.format, cs.have_header ? cs.header : NULL,
                                                  cs.hlen);

        if (drc) {
            return drc;
        }
    }
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld rows, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc;
}

/* A CSV payload held in memory (the whole of it is one region). */
static int csv_buffer(struct bch_imp *im, const char *data, size_t len, struct csv_state *cs)
{
    struct bch_imp_csv r;
    const char *d = data;
    size_t dn = len;
    char err[256];
    int rc = 0, n;

    memset(&r, 0, sizeof(r));
    if (dn >= 3 && (unsigned char)d[0] == 0xEF && (unsigned char)d[1] == 0xBB &&
        (unsigned char)d[2] == 0xBF) {
        d += 3;
        dn -= 3;
    }
    r.sep = bch_csv_sniff_sep(d, dn);
    r.first_line = 1;
    bch_csv_init(&r.csv, data, len, r.sep);
    r.have_chunk = true;
    while (rc == 0 && (n = bch_csv_next(&r.csv, err, sizeof(err))) != 0) {
        rc = csv_step(im, &r, cs, n, r.csv.line, err);
    }
    bch_csv_release(&r.csv);
    return rc;
}

/* ------------------------------------------------------------ JSON */

struct json_ctx {
    struct bch_imp *im;
    int corridors; /* features read as corridors */
    int rc;
};

static json_t *get2(json_t *rec, const char *a, const char *b)
{
    json_t *v = bch_imp_json_get(rec, a);

    return v ? v : bch_imp_json_get(rec, b);
}

static int json_corridor(struct bch_imp *im, long pos, json_t *rec, json_t *geom)
{
    struct bch_geom g = {0};
    char gerr[128];
    int64_t ident, gid;
    int rc;

    if (bch_json_int64(get2(rec, "ident", "bm_ident"), &ident) != BCH_CELL_OK) {
        return bch_imp_reject(im, pos, "ident", "missing or not a whole number", NULL, 0, false);
    }
    gid = ident - IDENT_OFFSET;
    if (gid <= 0) {
        return bch_imp_reject(im, pos, "ident", "not a corridor ident (20 and above)", NULL, 0,
                              false);
    }
    if (bch_geom_from_json(&g, geom, gerr, sizeof(gerr))) {
        return bch_imp_reject(im, pos, "geometry", gerr, NULL, 0, false);
    }
    rc = put_corridor(im, gid, ident, NULL, &g);
    bch_geom_release(&g);
    return rc;
}

/* Rejects a record for field, keeping the offending member (a string as is,
 * anything else as compact JSON; nothing when absent). */
static int reject_member(struct bch_imp *im, long pos, const char *field, const char *reason,
                         json_t *v)
{
    char *text = NULL;
    const char *s = NULL;
    size_t n = 0;
    int rc;

    if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else if (v) {
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = text;
        n = text ? strlen(text) : 0;
    }
    rc = bch_imp_reject(im, pos, field, reason, s, n, false);
    free(text);
    return rc;
}

static int json_record(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct json_ctx *jc = ctx;
    struct bch_imp *im = jc->im;
    json_t *m = get2(rec, "bm_mdate", "mdate");
    json_t *v;
    char label[256];
    int64_t gid, ident;
    double actuel, ref;
    bch_time at;
    int rc;

    (void)outer;
    im->file_rows++;
    if (geom && json_is_object(geom) && !get2(rec, "bm_actuel", "actuel")) {
        jc->corridors++;
        return json_corridor(im, pos, rec, geom);
    }
    im->st->rows++; /* samples only: corridors are not data rows */
    v = get2(rec, "bm_gid", "gid");
    if (bch_json_int64(v, &gid) != BCH_CELL_OK || gid <= 0) {
        return reject_member(im, pos, "bm_gid", "missing or not a positive whole number", v);
    }
    if (!json_is_string(m) ||
        bch_time_parse(json_string_value(m), json_string_length(m), false, &at, NULL, 0)) {
        return reject_member(im, pos, "bm_mdate", "missing or not an ISO-8601 time", m);
    }
    v = get2(rec, "bm_actuel", "actuel");
    if (bch_json_double(v, false, &actuel) != BCH_CELL_OK || actuel <= 0) {
        return reject_member(im, pos, "bm_actuel", "missing or not a positive number", v);
    }
    if (actuel > MAX_TRAVEL_S) {
        return reject_member(im, pos, "bm_actuel", "more than a day (86400 s): not a travel time",
                             v);
    }
    /* As in the CSV: ref may be missing (no "vs usual"), not negative or text. */
    v = get2(rec, "bm_ref", "ref");
    switch (bch_json_double(v, false, &ref)) {
    case BCH_CELL_OK:
        if (ref < 0) {
            return reject_member(im, pos, "bm_ref", "negative", v);
        }
        if (ref > MAX_TRAVEL_S) {
            return reject_member(im, pos, "bm_ref", "more than a day (86400 s): not a travel time",
                                 v);
        }
        break;
    case BCH_CELL_NULL:
        ref = NAN;
        break;
    default:
        return reject_member(im, pos, "bm_ref", "not a number", v);
    }
    if (bch_json_int64(get2(rec, "bm_ident", "ident"), &ident) != BCH_CELL_OK) {
        ident = gid + IDENT_OFFSET;
    }
    bch_json_text(get2(rec, "bm_libelle", "libelle"), label, sizeof(label));
    rc = put_corridor(im, gid, ident, label[0] ? label : NULL, NULL);
    return rc ? rc : put_sample(im, gid, at, 0, actuel, ref);
}

/*
 * The records of a JSON payload: 0, BCH_ERR_INPUT when it is not JSON
 * (*unparsed set) or not an Opendatasoft payload (both recorded), or the
 * first warehouse error.  *corridors counts the corridor features read.
 */
static int json_buffer(struct bch_imp *im, const char *data, size_t len, int *corridors,
                       bool *unparsed)
{
    struct json_ctx jc = {im, 0, 0};
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    char err[512];
    int rc;

    *corridors = 0;
    *unparsed = false;
    if (!root) {
        *unparsed = true;
        snprintf(err, sizeof(err), "not JSON: %s (line %d)", jerr.text, jerr.line);
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    rc = bch_imp_json_records(root, json_record, &jc);
    json_decref(root);
    *corridors = jc.corridors;
    if (rc == -1) { /* none of the shapes (the record callbacks return bch_err codes) */
        rc = bch_imp_reject(im, 0, "", "not an Opendatasoft payload or GeoJSON", NULL, 0, false);
        if (rc == 0) {
            rc = BCH_ERR_INPUT;
        }
    }
    return rc;
}

/* What a JSON file holds: samples (a travel time), corridor features, records. */
struct tt_probe {
    long records, samples, corridors;
};

static int probe_record(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct tt_probe *pr = ctx;
    int64_t ident;

    (void)pos;
    (void)outer;
    pr->records++;
    if (get2(rec, "bm_actuel", "actuel")) {
        pr->samples++;
    } else if (json_is_object(geom) &&
               bch_json_int64(get2(rec, "ident", "bm_ident"), &ident) == BCH_CELL_OK &&
               ident > IDENT_OFFSET) {
        pr->corridors++;
    }
    return 0;
}

/* Told apart by content: a ci_tpstj_a file has travel times or corridor features. */
static bool is_travel_json(const char *data, size_t len, long *records)
{
    struct tt_probe pr = {0, 0, 0};
    json_t *root = json_loadb(data, len, 0, NULL);

    *records = 0;
    if (!root) {
        return true; /* json_buffer reports the syntax error */
    }
    if (bch_imp_json_records(root, probe_record, &pr) < 0) {
        json_decref(root);
        return true; /* json_buffer reports the shape */
    }
    json_decref(root);
    *records = pr.records;
    return pr.samples > 0 || pr.corridors > 0;
}

static int json_file(struct bch_imp *im, const char *path)
{
    struct bch_buf b;
    char err[512];
    bool skip, unparsed;
    int corridors;
    long records;
    int rc = bch_imp_source(im, path, "ci_tpstj_a", "json", &skip);

    if (rc || skip) {
        return rc;
    }
    if (bch_imp_read_all(path, &b, 256u << 20, err, sizeof(err))) {
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    if (!is_travel_json(b.data, b.len, &records)) {
        bch_buf_release(&b);
        rc = bch_imp_reject(im, 0, "",
                            records ? "not a ci_tpstj_a file: no record with bm_actuel (or actuel) "
                                      "and no corridor feature (ident 20 and above)"
                                    : "no records",
                            NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    rc = json_buffer(im, b.data, b.len, &corridors, &unparsed);
    bch_buf_release(&b);
    if (rc == 0 && im->file_rows == 0) {
        rc = bch_imp_reject(im, 0, "", "no records", NULL, 0, false);
        rc = rc ? rc : BCH_ERR_INPUT;
    }
    if (unparsed || rc == BCH_ERR_INPUT) {
        return rc; /* failed as a whole: left incomplete, read again next time */
    }
    if (rc == 0) {
        int drc = bch_imp_source_done(im, corridors ? "geojson" : "json", NULL, 0);

        if (drc) {
            return drc;
        }
    }
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld records, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc;
}

/* ------------------------------------------------- payloads in memory */

int bch_imp_travel_payload(struct bch_imp *im, const char *data, size_t len)
{
    struct travel *t = T(im);
    struct csv_state cs;
    const char *format;
    size_t i = 0;
    int rc;

    t->track = true;
    t->nkeys = 0;
    csv_state_init(&cs);
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF) {
        i = 3;
    }
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) {
        i++;
    }
    if (i < len && (data[i] == '{' || data[i] == '[')) {
        int corridors;
        bool unparsed;

        rc = json_buffer(im, data, len, &corridors, &unparsed);
        format = corridors ? "geojson" : "json";
    } else {
        rc = csv_buffer(im, data, len, &cs);
        format = cs.format;
    }
    if (rc == 0 || rc == BCH_ERR_INPUT) {
        int drc = bch_imp_source_done(im, format, cs.have_header ? cs.header : NULL, cs.hlen);

        if (drc) {
            return drc;
        }
    }
    return rc;
}

int bch_imp_travel_summary(struct bch_imp *im, bch_time *newest, long *unhealthy)
{
    struct travel *t = T(im);
    sqlite3_stmt *st =
        bch_db_prepare(im->db, "SELECT flags FROM travel_time WHERE gid = ? AND at = ?");

    *newest = BCH_TIME_NONE;
    *unhealthy = 0;
    if (!st) {
        return BCH_ERR_DB;
    }
    for (size_t i = 0; i < t->nkeys; i++) {
        if (*newest == BCH_TIME_NONE || t->keys[i].at > *newest) {
            *newest = t->keys[i].at;
        }
        sqlite3_bind_int64(st, 1, t->keys[i].gid);
        sqlite3_bind_int64(st, 2, t->keys[i].at);
        if (sqlite3_step(st) == SQLITE_ROW && (sqlite3_column_int(st, 0) & T_HEALTH) != 0) {
            (*unhealthy)++;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---------------------------------------------------- health flags */

struct sample {
    int64_t gid;
    bch_time at;
    double actuel;
    int flags;    /* as stored */
    int computed; /* health flags computed now */
};

static int cmp_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : (x > y ? 1 : 0);
}

static int cmp_at(const void *a, const void *b)
{
    const struct sample *x = *(const struct sample *const *)a;
    const struct sample *y = *(const struct sample *const *)b;

    if (x->at != y->at) {
        return x->at < y->at ? -1 : 1;
    }
    return x->actuel < y->actuel ? -1 : (x->actuel > y->actuel ? 1 : 0);
}

/* Floor and cap of one corridor's samples s[0..n) (NaN when none). */
static void floor_cap(const struct sample *s, size_t n, double *floor_v, double *cap_v)
{
    double *v;
    size_t need, i, best_n = 0;
    double best = NAN;

    *floor_v = NAN;
    *cap_v = NAN;
    if (n < MIN_SAMPLES_FOR_RULES) {
        return;
    }
    v = malloc(n * sizeof(double));
    if (!v) {
        return;
    }
    for (i = 0; i < n; i++) {
        v[i] = s[i].actuel;
    }
    qsort(v, n, sizeof(double), cmp_value);
    need = (size_t)ceil(PILEUP_SHARE * (double)n);
    /* Floor: the minimum itself piles up. */
    for (i = 0; i < n && v[i] == v[0]; i++) {
    }
    if (i >= need) {
        *floor_v = v[0];
    }
    /* Cap: the most frequent value of the top decile, a whole number of
     * minutes, piling up. */
    for (i = (size_t)floor(0.9 * (double)(n - 1)); i < n;) {
        size_t j = i;

        while (j < n && v[j] == v[i]) {
            j++;
        }
        if (j - i > best_n || (j - i == best_n && v[i] > best)) {
            best_n = j - i;
            best = v[i];
        }
        i = j;
    }
    if (best_n >= need && fmod(best, 60.0) == 0 && !(best == *floor_v)) {
        *cap_v = best;
    }
    free(v);
}

static int recompute_flags(struct bch_imp *im)
{
    sqlite3_stmt *st = NULL, *up = NULL;
    struct sample *s = NULL, **by_at = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, step;

    /* Rows stored before a corridor was known carry a stale not_corridor
     * flag: fix them gid by gid (all rows of a gid share the status). */
    st = bch_db_prepare(im->db, "SELECT DISTINCT gid FROM travel_time");
    up = bch_db_prepare(im->db, "UPDATE travel_time SET flags = (flags & ~16) | ?2 WHERE gid = ?1 "
                                "AND (flags & 16) != ?2");
    if (!st || !up) {
        rc = BCH_ERR_DB;
        goto out;
    }
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t gid = sqlite3_column_int64(st, 0);

        sqlite3_bind_int64(up, 1, gid);
        sqlite3_bind_int(up, 2, is_corridor(T(im), gid) ? 0 : T_NOT_CORRIDOR);
        rc = bch_imp_step(im, up);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    st = NULL;
    up = NULL;
    if (rc) {
        goto out;
    }
    st = bch_db_prepare(im->db, "SELECT gid, at, actuel, flags FROM travel_time "
                                "WHERE (flags & 16) = 0 ORDER BY gid, at");
    up = bch_db_prepare(im->db, "UPDATE travel_time SET flags = ? WHERE gid = ? AND at = ?");
    if (!st || !up) {
        rc = BCH_ERR_DB;
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sample *ns = bch_reserve(s, &cap, n + 1, sizeof(*ns), 4096);

        if (!ns) {
            rc = BCH_ERR_NOMEM;
            goto out;
        }
        s = ns;
        s[n].gid = sqlite3_column_int64(st, 0);
        s[n].at = sqlite3_column_int64(st, 1);
        s[n].actuel = sqlite3_column_double(st, 2);
        s[n].flags = sqlite3_column_int(st, 3);
        s[n].computed = 0;
        n++;
    }
    if (step != SQLITE_DONE) {
        rc = BCH_ERR_DB;
        goto out;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double fl, cp;

        while (j < n && s[j].gid == s[i].gid) {
            j++;
        }
        floor_cap(s + i, j - i, &fl, &cp);
        for (size_t k = i; k < j; k++) {
            if (s[k].actuel == fl) {
                s[k].computed |= T_FLOOR;
            }
            if (s[k].actuel == cp) {
                s[k].computed |= T_CAP;
            }
        }
        i = j;
    }
    by_at = malloc((n ? n : 1) * sizeof(*by_at));
    if (!by_at) {
        rc = BCH_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        by_at[i] = &s[i];
    }
    qsort(by_at, n, sizeof(*by_at), cmp_at);
    for (size_t i = 0; i < n;) {
        size_t j = i;

        while (j < n && by_at[j]->at == by_at[i]->at && by_at[j]->actuel == by_at[i]->actuel) {
            j++;
        }
        if (j - i >= SENTINEL_CORRIDORS) {
            for (size_t k = i; k < j; k++) {
                by_at[k]->computed |= T_SENTINEL;
            }
        }
        i = j;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int nf = (s[i].flags & ~T_HEALTH) | s[i].computed;

        im->st->tt_floor += (s[i].computed & T_FLOOR) != 0;
        im->st->tt_cap += (s[i].computed & T_CAP) != 0;
        im->st->tt_sentinel += (s[i].computed & T_SENTINEL) != 0;
        if (nf != s[i].flags) {
            sqlite3_bind_int(up, 1, nf);
            sqlite3_bind_int64(up, 2, s[i].gid);
            sqlite3_bind_int64(up, 3, s[i].at);
            rc = bch_imp_step(im, up);
        }
    }
    if (rc == 0) {
        im->st->tt_ref_zero =
            (long)bch_db_int(im->db, "SELECT count(*) FROM travel_time WHERE flags & 8", 0);
        im->st->tt_not_corridor =
            (long)bch_db_int(im->db, "SELECT count(*) FROM travel_time WHERE flags & 16", 0);
    }
out:
    free(by_at);
    free(s);
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    return rc;
}

static int file(struct bch_imp *im, const char *path)
{
    int c = bch_imp_first_byte(path);
    int rc = bch_imp_begin(im);

    if (rc) {
        return rc;
    }
    return (c == '{' || c == '[') ? json_file(im, path) : csv_file(im, path);
}

static int begin(struct bch_imp *im)
{
    struct travel *t = calloc(1, sizeof(*t));
    int rc;

    if (!t) {
        return BCH_ERR_NOMEM;
    }
    im->kind_state = t;
    {
        const struct bch_imp_sql defs[] = {
            {&t->ins, "INSERT INTO travel_time(gid, at, period_s, actuel, ref, flags) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"},
            {&t->get, "SELECT actuel, ref, period_s FROM travel_time WHERE gid = ? AND at = ?"},
            {&t->upd, "UPDATE travel_time SET flags = flags | 32 WHERE gid = ? AND at = ?"},
            {&t->cor_up,
             "INSERT INTO travel_corridor(gid, ident, label, geom_type, geometry, length_m) "
             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(gid) DO UPDATE SET "
             "ident = coalesce(excluded.ident, ident), label = coalesce(excluded.label, label), "
             "geom_type = coalesce(excluded.geom_type, geom_type), "
             "geometry = coalesce(excluded.geometry, geometry), "
             "length_m = coalesce(excluded.length_m, length_m)"},
        };

        rc = bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
    }
    if (rc == 0) {
        sqlite3_stmt *st = bch_db_prepare(im->db, "SELECT gid FROM travel_corridor");

        while (st && sqlite3_step(st) == SQLITE_ROW) {
            int64_t gid = sqlite3_column_int64(st, 0);

            if (gid > 0 && gid < MAX_GID) {
                t->corridor[gid] = true;
                t->any_corridor = true;
            }
        }
        sqlite3_finalize(st);
    }
    if (rc == 0 && im->opt->corridors) {
        rc = bch_imp_side_file(im, json_file, im->opt->corridors);
    }
    return rc;
}

static int end(struct bch_imp *im)
{
    return recompute_flags(im);
}

static void release(struct bch_imp *im)
{
    struct travel *t = T(im);

    if (!t) {
        return;
    }
    sqlite3_finalize(t->ins);
    sqlite3_finalize(t->get);
    sqlite3_finalize(t->upd);
    sqlite3_finalize(t->cor_up);
    free(t->keys);
    free(t);
    im->kind_state = NULL;
}

const struct bch_imp_kind bch_imp_kind_travel = {
    .name = "travel-times",
    .summary = "ci_tpstj_a: hourly history CSV, live CSV / JSON snapshots (bm_ fields), "
               "corridors GeoJSON",
    .begin = begin,
    .file = file,
    .end = end,
    .release = release,
};
