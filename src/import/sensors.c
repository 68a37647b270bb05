/*
 * sensors.c - vehicle counts: pc_capte_p snapshots, pc_capte_ponct_p
 * campaigns and the network-wide hourly totals of pc_capte_p.
 *
 * pc_capte_p (v1 JSON): one 5-minute count per sensor at its mdate.  The
 * snapshot instant is the newest record_timestamp (else the newest mdate);
 * a count whose mdate is older than --stale-after at that instant is
 * stale, a sensor without comptage_5m is missing; both are stored and
 * flagged (a sensor without mdate has no instant: only the sensor row).
 *
 * pc_capte_ponct_p (v2.1 JSON export or CSV): one campaign per row; the
 * dates come from the free text `semaine` (DD/MM/YYYY); a code cell holding
 * "#N/A" is left empty and listed in `rejected` (coerced).
 *
 * Network totals (CSV "comptage_5m","time",...,"HPM","HPS","JO"): offsets
 * without a colon ("+0100"), TRUE/FALSE flags.
 */
#include "core/compat.h"

#include <math.h>

#include "core/err.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "import/fields.h"
#include "import/internal.h"

#define S_STALE   1
#define S_MISSING 2

struct sensors {
    sqlite3_stmt *sensor_up, *count_ins, *camp_up, *camp_get, *net_ins, *net_get;
};

static struct sensors *S(struct bch_imp *im)
{
    return im->kind_state;
}

/* ------------------------------------------------- pc_capte_p snapshot */

struct snap_ctx {
    struct bch_imp *im;
    bch_time at; /* snapshot instant */
    int rc;
};

static bch_time json_time(json_t *v)
{
    bch_time t;

    if (json_is_string(v) &&
        bch_time_parse(json_string_value(v), json_string_length(v), false, &t, NULL, 0) == 0) {
        return t;
    }
    return BCH_TIME_NONE;
}

static int snap_instant(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct snap_ctx *sc = ctx;
    bch_time t = outer ? json_time(json_object_get(outer, "record_timestamp")) : BCH_TIME_NONE;

    (void)pos;
    (void)geom;
    if (t == BCH_TIME_NONE) {
        t = json_time(bch_imp_json_get(rec, "mdate"));
    }
    if (t != BCH_TIME_NONE && (sc->at == BCH_TIME_NONE || t > sc->at)) {
        sc->at = t;
    }
    return 0;
}

/* lon/lat of a record: geo_point_2d as [lat, lon] (v1), {lon, lat} (v2.1), or a Point. */
static void point_of(json_t *rec, json_t *geom, double *lon, double *lat)
{
    json_t *p = bch_imp_json_get(rec, "geo_point_2d");

    *lon = NAN;
    *lat = NAN;
    if (json_is_array(p) && json_array_size(p) == 2) {
        *lat = json_number_value(json_array_get(p, 0));
        *lon = json_number_value(json_array_get(p, 1));
    } else if (json_is_object(p)) {
        *lon = json_number_value(json_object_get(p, "lon"));
        *lat = json_number_value(json_object_get(p, "lat"));
    } else if (json_is_object(geom)) {
        json_t *c = json_object_get(geom, "coordinates");

        if (json_is_array(c) && json_array_size(c) == 2) {
            *lon = json_number_value(json_array_get(c, 0));
            *lat = json_number_value(json_array_get(c, 1));
        }
    }
}

static int snap_record(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct snap_ctx *sc = ctx;
    struct bch_imp *im = sc->im;
    struct sensors *s = S(im);
    char ident[64], type[64], zone[32], commune[128], code[32];
    double lon, lat;
    int64_t gid = 0, count = 0;
    enum bch_cell crc;
    bch_time mdate;
    int flags = 0, rc;
    sqlite3_stmt *st;

    (void)outer;
    im->st->rows++;
    im->file_rows++;
    if (bch_json_text(bch_imp_json_get(rec, "ident"), ident, sizeof(ident)) != BCH_CELL_OK) {
        return bch_imp_reject(im, pos, "ident", "missing sensor ident", NULL, 0, false);
    }
    bch_json_int64(bch_imp_json_get(rec, "gid"), &gid);
    bch_json_text(bch_imp_json_get(rec, "type"), type, sizeof(type));
    bch_json_text(bch_imp_json_get(rec, "zone"), zone, sizeof(zone));
    bch_json_text(bch_imp_json_get(rec, "commune"), commune, sizeof(commune));
    bch_json_text(bch_imp_json_get(rec, "code_commune"), code, sizeof(code));
    point_of(rec, geom, &lon, &lat);
    st = s->sensor_up;
    sqlite3_bind_text(st, 1, ident, -1, SQLITE_TRANSIENT);
    if (gid > 0) {
        sqlite3_bind_int64(st, 2, gid);
    } else {
        sqlite3_bind_null(st, 2);
    }
    bch_imp_bind_text(st, 3, type, strlen(type));
    bch_imp_bind_text(st, 4, zone, strlen(zone));
    bch_imp_bind_text(st, 5, commune, strlen(commune));
    bch_imp_bind_text(st, 6, code, strlen(code));
    bch_imp_bind_real(st, 7, lon);
    bch_imp_bind_real(st, 8, lat);
    rc = bch_imp_step(im, st);
    if (rc) {
        return rc;
    }
    crc = bch_json_int64(bch_imp_json_get(rec, "comptage_5m"), &count);
    if (crc == BCH_CELL_BAD || crc == BCH_CELL_NA || (crc == BCH_CELL_OK && count < 0)) {
        return bch_imp_reject(im, pos, "comptage_5m", "not a count", NULL, 0, false);
    }
    if (crc != BCH_CELL_OK) {
        flags |= S_MISSING;
        im->st->missing++;
    }
    mdate = json_time(bch_imp_json_get(rec, "mdate"));
    if (mdate == BCH_TIME_NONE) {
        /* No instant to file a count under: the sensor row says it exists. */
        im->st->stored++;
        return 0;
    }
    if (sc->at != BCH_TIME_NONE && sc->at - mdate > im->opt->stale_s) {
        flags |= S_STALE;
        im->st->stale++;
    }
    st = s->count_ins;
    sqlite3_bind_text(st, 1, ident, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, mdate);
    if (flags & S_MISSING) {
        sqlite3_bind_null(st, 3);
    } else {
        sqlite3_bind_int64(st, 3, count);
    }
    sqlite3_bind_int(st, 4, flags);
    rc = bch_imp_step(im, st);
    if (rc == 0) {
        if (sqlite3_changes(im->db) == 1) {
            im->st->stored++;
        } else {
            im->st->duplicates++;
        }
    }
    return rc;
}

static int snapshot_json(struct bch_imp *im, json_t *root)
{
    struct snap_ctx sc = {im, BCH_TIME_NONE, 0};
    int rc;

    bch_imp_json_records(root, snap_instant, &sc);
    rc = bch_imp_json_records(root, snap_record, &sc);
    return rc ? rc : bch_imp_source_done(im, "v1", NULL, 0);
}

/* ------------------------------------------------ campaigns (ponctuel) */

enum {
    P_GID,
    P_NUM,
    P_TYPE,
    P_INSEE,
    P_SENS,
    P_ORIENT,
    P_TV,
    P_VL,
    P_PL,
    P_HPM,
    P_HPS,
    P_V85VL,
    P_V85PL,
    P_ANNEE,
    P_SEMAINE,
    P_ORIENT21,
    P_CDATE,
    P_MDATE,
    P_POINT,
    P_N
};

static const char *const camp_cols[P_N] = {
    "gid",
    "num_materiel",
    "type",
    "insee",
    "sens_orientation",
    "orientation",
    "tmjo_tv",
    "tmjo_vl",
    "tmjo_pl",
    "hpm_tv",
    "hps_tv",
    "v85_vl",
    "v85_pl",
    "annee",
    "semaine",
    "orientation_av_2021",
    "cdate",
    "mdate",
    "geo_point_2d|geo point",
};

/* One campaign as text cells (from CSV or JSON), then validated. */
struct camp_cells {
    const char *s[P_N];
    size_t len[P_N];
    char store[P_N][320];
};

static void cell_from_json(struct camp_cells *c, int k, json_t *v)
{
    c->s[k] = c->store[k];
    bch_json_text(v, c->store[k], sizeof(c->store[k]));
    c->len[k] = strlen(c->store[k]);
}

static int store_campaign(struct bch_imp *im, long line, struct camp_cells *c, double lon,
                          double lat)
{
    struct sensors *s = S(im);
    sqlite3_stmt *st;
    static const int text_cols[] = {P_NUM, P_TYPE, P_INSEE, P_SENS, P_ORIENT, P_ORIENT21};
    static const int num_cols[] = {P_TV, P_VL, P_PL, P_HPM, P_HPS, P_V85VL, P_V85PL};
    const char *text[P_N] = {0};
    size_t tlen[P_N] = {0};
    double num[P_N];
    int64_t gid, annee = 0, d1 = 0, d2 = 0;
    bch_time cdate = BCH_TIME_NONE, mdate = BCH_TIME_NONE;
    int ndates, rc = 0;
    bool have_annee;

    im->st->rows++;
    im->file_rows++;
    if (bch_cell_int64(c->s[P_GID], c->len[P_GID], &gid) != BCH_CELL_OK || gid <= 0) {
        return bch_imp_reject(im, line, "gid", "missing or not a positive whole number",
                              c->s[P_GID], c->len[P_GID], false);
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(text_cols) && rc == 0; i++) {
        int k = text_cols[i];

        switch (bch_cell_code(c->s[k], c->len[k])) {
        case BCH_CELL_OK:
            text[k] = c->s[k];
            tlen[k] = c->len[k];
            break;
        case BCH_CELL_NA:
            rc = bch_imp_reject(im, line, camp_cols[k],
                                "spreadsheet error code #N/A instead of a code", c->s[k], c->len[k],
                                true);
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(num_cols) && rc == 0; i++) {
        int k = num_cols[i];
        enum bch_cell r = bch_cell_double(c->s[k], c->len[k], &num[k]);

        if (r != BCH_CELL_OK) {
            num[k] = NAN;
            if (r != BCH_CELL_NULL) {
                rc = bch_imp_reject(im, line, camp_cols[k], "not a number", c->s[k], c->len[k],
                                    true);
            }
        }
    }
    if (rc) {
        return rc;
    }
    have_annee = bch_cell_int64(c->s[P_ANNEE], c->len[P_ANNEE], &annee) == BCH_CELL_OK;
    ndates = bch_cell_dmy_dates(c->s[P_SEMAINE], c->len[P_SEMAINE], &d1, &d2);
    if (ndates == 0) {
        rc = bch_imp_reject(im, line, "semaine", "no DD/MM/YYYY date in the campaign text",
                            c->s[P_SEMAINE], c->len[P_SEMAINE], true);
    } else if (d2 < d1) {
        rc = bch_imp_reject(im, line, "semaine", "the campaign ends before it starts",
                            c->s[P_SEMAINE], c->len[P_SEMAINE], true);
        ndates = 0;
    }
    if (rc) {
        return rc;
    }
    bch_time_parse(c->s[P_CDATE], c->len[P_CDATE], false, &cdate, NULL, 0);
    bch_time_parse(c->s[P_MDATE], c->len[P_MDATE], false, &mdate, NULL, 0);
    {
        bool existed;

        sqlite3_bind_int64(s->camp_get, 1, gid);
        existed = sqlite3_step(s->camp_get) == SQLITE_ROW;
        sqlite3_reset(s->camp_get);
        if (existed) {
            im->st->duplicates++;
        } else {
            im->st->stored++;
        }
    }
    st = s->camp_up;
    sqlite3_bind_int64(st, 1, gid);
    bch_imp_bind_text(st, 2, text[P_NUM], tlen[P_NUM]);
    bch_imp_bind_text(st, 3, text[P_TYPE], tlen[P_TYPE]);
    bch_imp_bind_text(st, 4, text[P_INSEE], tlen[P_INSEE]);
    bch_imp_bind_text(st, 5, text[P_SENS], tlen[P_SENS]);
    bch_imp_bind_text(st, 6, text[P_ORIENT], tlen[P_ORIENT]);
    for (size_t i = 0; i < BCH_ARRAY_LEN(num_cols); i++) {
        bch_imp_bind_real(st, 7 + (int)i, num[num_cols[i]]);
    }
    if (have_annee) {
        sqlite3_bind_int64(st, 14, annee);
    } else {
        sqlite3_bind_null(st, 14);
    }
    bch_imp_bind_text(st, 15, c->s[P_SEMAINE], c->len[P_SEMAINE]);
    if (ndates) {
        sqlite3_bind_int64(st, 16, d1);
        sqlite3_bind_int64(st, 17, d2);
    } else {
        sqlite3_bind_null(st, 16);
        sqlite3_bind_null(st, 17);
    }
    bch_imp_bind_text(st, 18, text[P_ORIENT21] ? c->s[P_ORIENT21] : NULL,
                      text[P_ORIENT21] ? c->len[P_ORIENT21] : 0);
    bch_imp_bind_real(st, 19, lon);
    bch_imp_bind_real(st, 20, lat);
    if (cdate != BCH_TIME_NONE) {
        sqlite3_bind_int64(st, 21, cdate);
    } else {
        sqlite3_bind_null(st, 21);
    }
    if (mdate != BCH_TIME_NONE) {
        sqlite3_bind_int64(st, 22, mdate);
    } else {
        sqlite3_bind_null(st, 22);
    }
    return bch_imp_step(im, st);
}

static int camp_record(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct bch_imp *im = ctx;
    struct camp_cells *c = malloc(sizeof(*c));
    double lon, lat;
    int rc;

    (void)outer;
    if (!c) {
        return BCH_ERR_NOMEM;
    }
    for (int k = 0; k < P_N; k++) {
        cell_from_json(c, k, k == P_POINT ? NULL : bch_imp_json_get(rec, camp_cols[k]));
    }
    point_of(rec, geom, &lon, &lat);
    rc = store_campaign(im, pos, c, lon, lat);
    free(c);
    return rc;
}

/* "44.8264219, -0.5321659" (lat, lon) of the CSV Geo Point column. */
static void csv_point(const char *s, size_t len, double *lon, double *lat)
{
    const char *comma = memchr(s, ',', len);

    *lon = NAN;
    *lat = NAN;
    if (!comma || bch_cell_double(s, (size_t)(comma - s), lat) != BCH_CELL_OK ||
        bch_cell_double(comma + 1, len - (size_t)(comma - s) - 1, lon) != BCH_CELL_OK) {
        *lon = NAN;
        *lat = NAN;
    }
}

/* ------------------------------------------------------ network totals */

static int flag_cell(const char *s, size_t len)
{
    if (bch_name_eq(s, len, "TRUE") || bch_name_eq(s, len, "1")) {
        return 1;
    }
    if (bch_name_eq(s, len, "FALSE") || bch_name_eq(s, len, "0")) {
        return 0;
    }
    return -1;
}

enum { N_COUNT, N_TIME, N_HPM, N_HPS, N_JO, N_N };
static const char *const net_cols[N_N] = {"comptage_5m|comptage", "time", "hpm", "hps", "jo"};

static int net_row(struct bch_imp *im, const struct bch_imp_csv *r, const int *col, long line)
{
    struct sensors *s = S(im);
    struct bch_csv_field f = bch_imp_field(&r->csv, col[N_COUNT]);
    sqlite3_stmt *st = s->net_ins;
    char terr[96];
    int64_t total;
    bch_time hour;

    im->st->rows++;
    im->file_rows++;
    if (bch_cell_int64(f.s, f.len, &total) != BCH_CELL_OK || total < 0) {
        return bch_imp_reject(im, line, "comptage_5m", "not a count", f.s, f.len, false);
    }
    f = bch_imp_field(&r->csv, col[N_TIME]);
    if (bch_time_parse(f.s, f.len, false, &hour, terr, sizeof(terr))) {
        return bch_imp_reject(im, line, "time", terr, f.s, f.len, false);
    }
    if (hour % 3600 != 0) {
        return bch_imp_reject(im, line, "time", "not the start of an hour", f.s, f.len, false);
    }
    sqlite3_bind_int64(st, 1, hour);
    sqlite3_bind_int64(st, 2, total);
    for (int k = N_HPM; k <= N_JO; k++) {
        struct bch_csv_field g = bch_imp_field(&r->csv, col[k]);
        int v = flag_cell(g.s, g.len);

        if (v < 0) {
            sqlite3_bind_null(st, 3 + (k - N_HPM));
        } else {
            sqlite3_bind_int(st, 3 + (k - N_HPM), v);
        }
    }
    if (bch_imp_step(im, st)) {
        return BCH_ERR_DB;
    }
    if (sqlite3_changes(im->db) == 1) {
        im->st->stored++;
        return 0;
    }
    sqlite3_bind_int64(s->net_get, 1, hour);
    if (sqlite3_step(s->net_get) == SQLITE_ROW && sqlite3_column_int64(s->net_get, 0) == total) {
        im->st->duplicates++;
    } else {
        im->st->merged++; /* the stored total is kept */
    }
    sqlite3_reset(s->net_get);
    return 0;
}

/* ------------------------------------------------------------- files */

static int csv_file(struct bch_imp *im, const char *path)
{
    struct bch_imp_csv r;
    int ccol[P_N], ncol[N_N];
    bool campaigns = false;
    long line;
    int rc = bch_imp_csv_open_file(im, &r, path);

    if (rc) {
        return rc;
    }
    while (rc == 0 && bch_imp_csv_row(im, &r, &line, &rc)) {
        if (r.at_header) {
            bch_imp_map_header(&r.csv, camp_cols, P_N, ccol);
            bch_imp_map_header(&r.csv, net_cols, N_N, ncol);
            campaigns = ccol[P_GID] >= 0 && ccol[P_TV] >= 0;
            if (!campaigns && (ncol[N_COUNT] < 0 || ncol[N_TIME] < 0)) {
                rc = bch_imp_reject_header(im, &r,
                                           "not a sensors file: neither campaigns (gid, tmjo_tv) "
                                           "nor hourly totals (comptage_5m, time)");
            }
            continue;
        }
        if (campaigns) {
            struct camp_cells *c = malloc(sizeof(*c));
            struct bch_csv_field pt = bch_imp_field(&r.csv, ccol[P_POINT]);
            double lon, lat;

            if (!c) {
                rc = BCH_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < P_N; k++) {
                struct bch_csv_field f = bch_imp_field(&r.csv, ccol[k]);

                c->s[k] = f.s;
                c->len[k] = f.len;
            }
            csv_point(pt.s, pt.len, &lon, &lat);
            rc = store_campaign(im, line, c, lon, lat);
            free(c);
        } else {
            rc = net_row(im, &r, ncol, line);
        }
    }
    return bch_imp_csv_done(im, &r, campaigns ? "csv-campaigns" : "csv-hourly-totals", rc);
}

static int probe_kind(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    int *kind = ctx;

    (void)pos;
    (void)geom;
    (void)outer;
    if (bch_imp_json_get(rec, "tmjo_tv")) {
        *kind = 2;
        return 1;
    }
    if (bch_imp_json_get(rec, "comptage_5m") || bch_imp_json_get(rec, "zone")) {
        *kind = 1;
        return 1;
    }
    return 0;
}

static int json_file(struct bch_imp *im, const char *path)
{
    struct bch_buf b;
    json_error_t jerr;
    json_t *root;
    char err[512];
    int rc, kind = 0;

    if (bch_imp_read_all(path, &b, 256u << 20, err, sizeof(err))) {
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    root = json_loadb(b.data, b.len, 0, &jerr);
    bch_buf_release(&b);
    if (!root) {
        snprintf(err, sizeof(err), "not JSON: %s (line %d)", jerr.text, jerr.line);
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    bch_imp_json_records(root, probe_kind, &kind);
    if (kind == 1) {
        rc = snapshot_json(im, root);
    } else if (kind == 2) {
        rc = bch_imp_json_records(root, camp_record, im);
        if (rc == 0) {
            rc = bch_imp_source_done(im, "json-campaigns", NULL, 0);
        }
    } else {
        rc = bch_imp_reject(im, 0, "",
                            "not a sensors payload: no pc_capte_p (comptage_5m) or "
                            "pc_capte_ponct_p (tmjo_tv) record",
                            NULL, 0, false);
        rc = rc ? rc : BCH_ERR_INPUT;
    }
    json_decref(root);
    return rc;
}

static int file(struct bch_imp *im, const char *path)
{
    int c = bch_imp_first_byte(path);
    bool json = c == '{' || c == '[';
    bool skip;
    int rc = bch_imp_begin(im);

    if (rc == 0) {
        rc = bch_imp_source(im, path, "pc_capte", json ? "json" : "csv", &skip);
    }
    if (rc || skip) {
        return rc;
    }
    rc = json ? json_file(im, path) : csv_file(im, path);
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld rows, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc;
}

static int begin(struct bch_imp *im)
{
    struct sensors *s = calloc(1, sizeof(*s));

    if (!s) {
        return BCH_ERR_NOMEM;
    }
    im->kind_state = s;
    {
        const struct bch_imp_sql defs[] = {
            {&s->sensor_up,
             "INSERT INTO sensor(ident, gid, type, zone, commune, code_commune, lon, lat) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(ident) DO UPDATE SET "
             "gid = coalesce(excluded.gid, gid), type = coalesce(excluded.type, type), "
             "zone = coalesce(excluded.zone, zone), commune = coalesce(excluded.commune, commune), "
             "code_commune = coalesce(excluded.code_commune, code_commune), "
             "lon = coalesce(excluded.lon, lon), lat = coalesce(excluded.lat, lat)"},
            {&s->count_ins, "INSERT INTO sensor_count(ident, at, count, flags) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING"},
            {&s->camp_get, "SELECT 1 FROM count_campaign WHERE gid = ?"},
            {&s->camp_up,
             "INSERT OR REPLACE INTO count_campaign(gid, num_materiel, type, insee, "
             "sens_orientation, orientation, tmjo_tv, tmjo_vl, tmjo_pl, hpm_tv, hps_tv, v85_vl, "
             "v85_pl, annee, semaine, start_day, end_day, orientation_av_2021, lon, lat, cdate, "
             "mdate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
            {&s->net_ins, "INSERT INTO network_count_hour(hour, total, hpm, hps, jo) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"},
            {&s->net_get, "SELECT total FROM network_count_hour WHERE hour = ?"},
        };

        return bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
    }
}

static void release(struct bch_imp *im)
{
    struct sensors *s = S(im);

    if (s) {
        sqlite3_finalize(s->sensor_up);
        sqlite3_finalize(s->count_ins);
        sqlite3_finalize(s->camp_up);
        sqlite3_finalize(s->camp_get);
        sqlite3_finalize(s->net_ins);
        sqlite3_finalize(s->net_get);
        free(s);
        im->kind_state = NULL;
    }
}

const struct bch_imp_kind bch_imp_kind_sensors = {
    .name = "sensors",
    .summary = "pc_capte_p v1 snapshots, pc_capte_ponct_p campaigns (JSON or CSV), network-wide "
               "hourly totals CSV",
    .begin = begin,
    .file = file,
    .end = NULL,
    .release = release,
};
