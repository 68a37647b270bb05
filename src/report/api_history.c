/*
 * api_history.c - what the history routes of the HTTP API need besides the
 * builders of report/history.h: their default ranges, the overview of
 * GET /api/v1/history, the corridors and the counting stations as GeoJSON.
 * api.h documents each function; docs/API.md each field.
 */
#include "core/compat.h"

#include <math.h>

#include "core/log.h"
#include "report/api.h"
#include "report/columns.h"
#include "report/history.h"
#include "report/report.h"
#include "warehouse/db.h"

/* A local date (days since 1970-01-01) as "YYYY-MM-DD", or null. */
static json_t *day_json(sqlite3_stmt *st, int i)
{
    char buf[16];
    int64_t y;
    int m, d;

    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return json_null();
    }
    bch_civil_from_days(sqlite3_column_int64(st, i), &y, &m, &d);
    snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", (long long)y, m, d);
    return json_string(buf);
}

static json_t *local_day_json(bch_time t)
{
    struct bch_local_tm tm;
    char buf[16];

    if (t == BCH_TIME_NONE) {
        return json_null();
    }
    bch_paris_local(t, &tm);
    snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", (long long)tm.year, tm.month, tm.day);
    return json_string(buf);
}

/* min and max of one column (sql selects them); both BCH_TIME_NONE when NULL. */
static int bounds(sqlite3 *db, const char *what, const char *sql, bch_time *first, bch_time *last)
{
    sqlite3_stmt *st = bch_rep_prepare(db, what, sql);
    int rc;

    *first = *last = BCH_TIME_NONE;
    if (!st) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
        sqlite3_column_type(st, 1) != SQLITE_NULL) {
        *first = sqlite3_column_int64(st, 0);
        *last = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        bch_error("api", "%s query: %s", what, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

int bch_api_history_bounds(sqlite3 *db, bch_time *first, bch_time *last)
{
    /* history_hour's primary key: two index seeks. */
    return bounds(db, "history range", "SELECT min(hour), max(hour) FROM history_hour", first,
                  last);
}

int bch_api_travel_bounds(sqlite3 *db, bch_time *first, bch_time *last)
{
    /* travel_time is keyed by (gid, at): walk its gids by index seeks and
     * take each one's first and last sample (5 ms on the real history, where
     * a scan of the 750,000 rows takes 80 ms). */
    return bounds(db, "travel-time range",
                  "WITH RECURSIVE g(gid) AS (SELECT min(gid) FROM travel_time UNION ALL "
                  "SELECT (SELECT min(gid) FROM travel_time WHERE gid > g.gid) FROM g "
                  "WHERE g.gid IS NOT NULL) "
                  "SELECT min((SELECT min(at) FROM travel_time t WHERE t.gid = g.gid)), "
                  "max((SELECT max(at) FROM travel_time t WHERE t.gid = g.gid)) "
                  "FROM g WHERE gid IS NOT NULL",
                  first, last);
}

void bch_api_history_query(struct bch_history_query *hq, bch_time from, bch_time to, int limit)
{
    bch_history_query_default(hq);
    hq->from = from;
    hq->to = to == BCH_TIME_NONE ? BCH_TIME_NONE : to + 1;
    if (limit > 0) {
        hq->limit = limit;
    }
}

/* ------------------------------------------------------------- overview */

static bool exists(sqlite3 *db, const char *sql)
{
    return bch_db_int(db, sql, 0) == 1;
}

json_t *bch_api_history_overview(sqlite3 *db)
{
    static const char *periods_sql =
        "SELECT label, start_day, end_day FROM period ORDER BY start_day, label";
    struct bch_history_query hq;
    bch_time first, last;
    sqlite3_stmt *st = NULL;
    json_t *overview = NULL, *periods = NULL;
    int rc;

    if (bch_api_history_bounds(db, &first, &last)) {
        return NULL;
    }
    bch_history_query_default(&hq);
    overview = bch_history_overview(db, &hq);
    periods = json_array();
    st = bch_rep_prepare(db, "periods", periods_sql);
    if (!overview || !periods || !st) {
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *p = json_pack("{s:o, s:o, s:o}", "label", bch_col_text(st, 0), "start",
                              day_json(st, 1), "end", day_json(st, 2));

        if (!p || json_array_append_new(periods, p)) {
            goto fail;
        }
    }
    if (bch_rep_finish(db, st, rc, "periods")) {
        st = NULL;
        goto fail;
    }
    st = NULL;
    return json_pack(
        "{s:o, s:o, s:o, s:b, s:b, s:b, s:o}", "history", overview, "first_day",
        local_day_json(first), "last_day", local_day_json(last), "has_travel_times",
        exists(db, "SELECT EXISTS (SELECT 1 FROM travel_time)"), "has_counts",
        exists(db, "SELECT EXISTS (SELECT 1 FROM annual_count)"), "has_stations",
        exists(db, "SELECT EXISTS (SELECT 1 FROM sensor WHERE lon IS NOT NULL AND lat IS NOT "
                   "NULL) OR EXISTS (SELECT 1 FROM count_campaign WHERE lon IS NOT NULL AND "
                   "lat IS NOT NULL)"),
        "periods", periods);
fail:
    sqlite3_finalize(st);
    json_decref(overview);
    json_decref(periods);
    return NULL;
}

/* -------------------------------------------------------------- geojson */

static json_t *collection(json_t *features)
{
    return json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
}

static json_t *point(double lon, double lat)
{
    return json_pack("{s:s, s:[f, f]}", "type", "Point", "coordinates", lon, lat);
}

json_t *bch_api_corridors_geojson(sqlite3 *db)
{
    static const char *sql =
        "SELECT gid, ident, label, length_m, geometry FROM travel_corridor ORDER BY gid";
    sqlite3_stmt *st = bch_rep_prepare(db, "corridors", sql);
    json_t *features = json_array();
    int rc;

    if (!st || !features) {
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *geom = (const char *)sqlite3_column_text(st, 4);
        json_t *g = geom ? json_loads(geom, JSON_REJECT_DUPLICATES, NULL) : NULL;
        json_t *f;

        if (g && !json_is_object(g)) {
            json_decref(g);
            g = NULL;
        }
        f = json_pack("{s:s, s:o, s:{s:I, s:o, s:o, s:o}}", "type", "Feature", "geometry",
                      g ? g : json_null(), "properties", "gid",
                      (json_int_t)sqlite3_column_int64(st, 0), "ident", bch_col_int(st, 1), "label",
                      bch_col_text(st, 2), "length_m", bch_col_real(st, 3));
        if (!f || json_array_append_new(features, f)) {
            goto fail;
        }
    }
    if (bch_rep_finish(db, st, rc, "corridors")) {
        json_decref(features);
        return NULL;
    }
    return collection(features);
fail:
    sqlite3_finalize(st);
    json_decref(features);
    return NULL;
}

/* Appends the sensors (with their latest count and annual counts) to features. */
static int add_sensors(sqlite3 *db, json_t *features)
{
    /* sensor_count's key is (ident, at): the latest count is one seek per sensor. */
    static const char *sensor_sql =
        "SELECT s.ident, s.gid, s.type, s.commune, s.code_commune, s.lon, s.lat, c.at, c.count, "
        "c.flags FROM sensor s LEFT JOIN sensor_count c ON c.ident = s.ident AND c.at = "
        "(SELECT max(at) FROM sensor_count WHERE ident = s.ident) "
        "WHERE s.lon IS NOT NULL AND s.lat IS NOT NULL ORDER BY s.ident";
    static const char *annual_sql =
        "SELECT ident, year, sens, nom_voie, mjo_val, hpm_val, hps_val, mjo_pct FROM annual_count "
        "WHERE ident IN (SELECT ident FROM sensor) ORDER BY ident, year, sens";
    sqlite3_stmt *st = bch_rep_prepare(db, "stations", sensor_sql);
    sqlite3_stmt *an = bch_rep_prepare(db, "stations", annual_sql);
    int rc = SQLITE_DONE, arc = SQLITE_DONE;
    bool more = false;

    if (!st || !an) {
        goto fail;
    }
    arc = sqlite3_step(an);
    more = arc == SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ident = (const char *)sqlite3_column_text(st, 0);
        double lon = sqlite3_column_double(st, 5), lat = sqlite3_column_double(st, 6);
        json_t *annual = json_array(), *latest = json_null(), *f;

        if (!ident || !annual) {
            json_decref(annual);
            continue;
        }
        /* Both lists are ordered by ident (BINARY collation, as strcmp). */
        while (more && strcmp((const char *)sqlite3_column_text(an, 0), ident) < 0) {
            more = (arc = sqlite3_step(an)) == SQLITE_ROW;
        }
        while (more && strcmp((const char *)sqlite3_column_text(an, 0), ident) == 0) {
            json_t *a = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "year", bch_col_int(an, 1),
                                  "sens", bch_col_text(an, 2), "nom_voie", bch_col_text(an, 3),
                                  "mjo_val", bch_col_real(an, 4), "hpm_val", bch_col_real(an, 5),
                                  "hps_val", bch_col_real(an, 6), "mjo_pct", bch_col_real(an, 7));

            if (!a || json_array_append_new(annual, a)) {
                json_decref(annual);
                goto fail;
            }
            more = (arc = sqlite3_step(an)) == SQLITE_ROW;
        }
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            latest = json_pack("{s:o, s:o, s:o}", "at", bch_json_time(sqlite3_column_int64(st, 7)),
                               "count", bch_col_int(st, 8), "flags", bch_col_int(st, 9));
        }
        f = json_pack("{s:s, s:o, s:{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}}", "type", "Feature",
                      "geometry", point(lon, lat), "properties", "kind", "sensor", "ident", ident,
                      "gid", bch_col_int(st, 1), "type", bch_col_text(st, 2), "commune",
                      bch_col_text(st, 3), "code_commune", bch_col_text(st, 4), "latest_count",
                      latest ? latest : json_null(), "annual", annual);
        if (!f || json_array_append_new(features, f)) {
            goto fail;
        }
    }
    if (arc != SQLITE_DONE && arc != SQLITE_ROW) {
        bch_error("api", "stations query: %s", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_finalize(an);
    return bch_rep_finish(db, st, rc, "stations");
fail:
    sqlite3_finalize(st);
    sqlite3_finalize(an);
    return -1;
}

static int add_campaigns(sqlite3 *db, json_t *features)
{
    static const char *sql =
        "SELECT gid, type, insee, annee, start_day, end_day, tmjo_tv, hpm_tv, hps_tv, v85_vl, "
        "orientation, lon, lat FROM count_campaign WHERE lon IS NOT NULL AND lat IS NOT NULL "
        "ORDER BY gid";
    sqlite3_stmt *st = bch_rep_prepare(db, "campaigns", sql);
    int rc;

    if (!st) {
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *f = json_pack(
            "{s:s, s:o, s:{s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}", "type",
            "Feature", "geometry",
            point(sqlite3_column_double(st, 11), sqlite3_column_double(st, 12)), "properties",
            "kind", "campaign", "gid", (json_int_t)sqlite3_column_int64(st, 0), "type",
            bch_col_text(st, 1), "insee", bch_col_text(st, 2), "annee", bch_col_int(st, 3),
            "start_day", day_json(st, 4), "end_day", day_json(st, 5), "tmjo_tv",
            bch_col_real(st, 6), "hpm_tv", bch_col_real(st, 7), "hps_tv", bch_col_real(st, 8),
            "v85_vl", bch_col_real(st, 9), "orientation", bch_col_text(st, 10));

        if (!f || json_array_append_new(features, f)) {
            sqlite3_finalize(st);
            return -1;
        }
    }
    return bch_rep_finish(db, st, rc, "campaigns");
}

json_t *bch_api_stations(sqlite3 *db)
{
    json_t *features = json_array();

    if (!features || add_sensors(db, features) || add_campaigns(db, features)) {
        json_decref(features);
        return NULL;
    }
    return collection(features);
}
