#include "core/compat.h"

#include <math.h>

#include "analytics/track.h"
#include "core/log.h"
#include "model/trafi.h"
#include "report/api.h"
#include "report/columns.h"
#include "report/report.h"
#include "warehouse/db.h"

/* Bounds bound for an open end: far enough, and safe to add or subtract. */
#define T_MIN (INT64_MIN / 4)
#define T_MAX (INT64_MAX / 4)

static int64_t lo(bch_time t)
{
    return t == BCH_TIME_NONE ? T_MIN : t;
}

static int64_t hi(bch_time t)
{
    return t == BCH_TIME_NONE ? T_MAX : t;
}

bch_time bch_api_data_start(sqlite3 *db)
{
    return bch_db_int(db, "SELECT min(first_seen) FROM segment", BCH_TIME_NONE);
}

/* ---------------------------------------------------------------- network */

json_t *bch_api_network(sqlite3 *db, int64_t stale_s)
{
    /* The latest observation of each segment: observation's key is
     * (segment_id, mdate), so the correlated max() is one index seek. */
    static const char *sql =
        "SELECT s.gid, s.ident, s.geometry, s.length_m, s.typevoie, s.commune, s.code_commune, "
        "s.origine, o.state, o.mdate FROM segment s LEFT JOIN observation o "
        "ON o.segment_id = s.segment_id AND o.mdate = "
        "(SELECT max(mdate) FROM observation WHERE segment_id = s.segment_id) "
        "ORDER BY s.gid, s.ident";
    bch_time at = bch_report_snapshot_at(db, BCH_TIME_NONE);
    sqlite3_stmt *st = bch_rep_prepare(db, "network", sql);
    json_t *features = json_array();
    json_t *fc = NULL;
    int rc;

    if (!st || !features) {
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *geom = (const char *)sqlite3_column_text(st, 2);
        json_t *g = geom ? json_loads(geom, JSON_REJECT_DUPLICATES, NULL) : NULL;
        bool observed = sqlite3_column_type(st, 9) != SQLITE_NULL;
        int state = observed ? sqlite3_column_int(st, 8) : BCH_STATE_INCONNU;
        bch_time mdate = bch_col_time(st, 9);
        json_t *age = json_null();
        bool stale = false;
        json_t *f;

        if (g && !json_is_object(g)) {
            json_decref(g);
            g = NULL;
        }
        if (observed && at != BCH_TIME_NONE) {
            age = json_integer(at - mdate);
            /* As snapshot.n_stale: a known state observed too long ago. */
            stale = bch_state_known(state) && at - mdate > stale_s;
        }
        f = json_pack(
            "{s:s, s:o, s:{s:o, s:o, s:s, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:o}}", "type",
            "Feature", "geometry", g ? g : json_null(), "properties", "gid",
            sqlite3_column_type(st, 0) == SQLITE_NULL ? json_null()
                                                      : json_integer(sqlite3_column_int64(st, 0)),
            "ident", bch_col_text(st, 1), "state", bch_state_name(state), "mdate",
            bch_json_time(mdate), "state_age_s", age, "stale", stale, "length_m",
            bch_col_real(st, 3), "typevoie", bch_col_text(st, 4), "commune", bch_col_text(st, 5),
            "code_commune", bch_col_text(st, 6), "origine", bch_col_text(st, 7));
        if (!f || json_array_append_new(features, f)) {
            goto out;
        }
    }
    if (bch_rep_finish(db, st, rc, "network")) {
        st = NULL;
        goto out;
    }
    st = NULL;
    fc = json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
    features = NULL; /* fc owns it (json_pack steals "o" even on failure) */
out:
    sqlite3_finalize(st);
    json_decref(features);
    return fc;
}

/* ---------------------------------------------------------------- profile */

struct cell {
    int64_t known, dense, congested;
};

json_t *bch_api_profile(sqlite3 *db, bch_time from, bch_time to)
{
    /* Hour rows overlapping [from, to] (both inclusive, as every API period):
     * starting at or before to, ending after from. */
    static const char *sql =
        "SELECT hour, sum(s_fluide + s_dense + s_congested), sum(s_dense), sum(s_congested) "
        "FROM hourly_segment WHERE hour <= ?2 AND hour > ?1 - 3600 GROUP BY hour";
    struct cell cells[7][24];
    sqlite3_stmt *st = bch_rep_prepare(db, "profile", sql);
    json_t *arr = NULL;
    int rc;

    if (!st) {
        return NULL;
    }
    memset(cells, 0, sizeof(cells));
    sqlite3_bind_int64(st, 1, lo(from));
    sqlite3_bind_int64(st, 2, hi(to));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct bch_local_tm tm;
        struct cell *c;

        /* Europe/Paris offsets are whole hours: one UTC hour is one local hour. */
        bch_paris_local(sqlite3_column_int64(st, 0), &tm);
        c = &cells[tm.weekday - 1][tm.hour];
        c->known += sqlite3_column_int64(st, 1);
        c->dense += sqlite3_column_int64(st, 2);
        c->congested += sqlite3_column_int64(st, 3);
    }
    if (bch_rep_finish(db, st, rc, "profile")) {
        return NULL;
    }
    arr = json_array();
    for (int d = 0; d < 7 && arr; d++) {
        for (int h = 0; h < 24; h++) {
            const struct cell *c = &cells[d][h];
            double k = (double)c->known;
            json_t *o;

            if (c->known <= 0) {
                continue;
            }
            o = json_pack("{s:i, s:i, s:f, s:f, s:f}", "weekday", d + 1, "hour", h,
                          "congested_share", (double)c->congested / k, "index",
                          ((double)c->dense + 2.0 * (double)c->congested) / 2.0 / k,
                          "known_segment_hours", k / 3600.0);
            if (!o || json_array_append_new(arr, o)) {
                json_decref(arr);
                return NULL;
            }
        }
    }
    return arr;
}

/* ------------------------------------------------------------- timeseries */

static json_t *point(sqlite3_stmt *st, bch_time at)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "at", bch_json_time(at), "congested_share",
                     bch_col_real(st, 1), "congested_km", bch_col_real(st, 2), "dense_km",
                     bch_col_real(st, 3), "known_km", bch_col_real(st, 4), "unknown_share",
                     bch_col_real(st, 5));
}

json_t *bch_api_timeseries(sqlite3 *db, bch_time from, bch_time to, size_t max_points)
{
    static const char *count_sql =
        "SELECT count(*), min(at), max(at) FROM snapshot WHERE at BETWEEN ?1 AND ?2";
    static const char *raw_sql =
        "SELECT at, congested_share, congested_km, dense_km, known_km, unknown_share "
        "FROM snapshot WHERE at BETWEEN ?1 AND ?2 ORDER BY at";
    /* avg() skips NULL shares (snapshots where nothing was known). */
    static const char *bucket_sql =
        "SELECT (at - ?3) / ?4, avg(congested_share), avg(congested_km), avg(dense_km), "
        "avg(known_km), avg(unknown_share) FROM snapshot WHERE at BETWEEN ?1 AND ?2 "
        "GROUP BY 1 ORDER BY 1";
    sqlite3_stmt *st = bch_rep_prepare(db, "timeseries", count_sql);
    int64_t n = 0, first = 0, last = 0, width = 0;
    json_t *arr = NULL;
    int rc = SQLITE_DONE;

    if (!st) {
        return NULL;
    }
    sqlite3_bind_int64(st, 1, lo(from));
    sqlite3_bind_int64(st, 2, hi(to));
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        first = sqlite3_column_int64(st, 1);
        last = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (max_points < 1) {
        max_points = 1;
    }
    if ((uint64_t)n > max_points) {
        /* ceil so that at most max_points buckets cover [first, last]. */
        width = (last - first) / (int64_t)max_points + 1;
        st = bch_rep_prepare(db, "timeseries", bucket_sql);
    } else {
        st = bch_rep_prepare(db, "timeseries", raw_sql);
    }
    if (!st) {
        return NULL;
    }
    sqlite3_bind_int64(st, 1, lo(from));
    sqlite3_bind_int64(st, 2, hi(to));
    if (width > 0) {
        sqlite3_bind_int64(st, 3, first);
        sqlite3_bind_int64(st, 4, width);
    }
    arr = json_array();
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        json_t *p = point(st, width > 0 ? first + v * width : v);

        if (!p || json_array_append_new(arr, p)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr) {
        sqlite3_finalize(st);
        return NULL;
    }
    if (bch_rep_finish(db, st, rc, "timeseries")) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---------------------------------------------------------------- history */

/* segment_id of the segment holding gid now, or else most recently. */
static int find_segment(sqlite3 *db, int64_t gid, int64_t *segment_id)
{
    static const char *sql =
        "SELECT segment_id FROM (SELECT segment_id, 1 AS rank, 0 AS since FROM segment "
        "WHERE gid = ?1 UNION ALL SELECT segment_id, 2, valid_from FROM segment_gid "
        "WHERE gid = ?1) ORDER BY rank, since DESC LIMIT 1";
    sqlite3_stmt *st = bch_rep_prepare(db, "history", sql);
    int rc;

    if (!st) {
        return -1;
    }
    sqlite3_bind_int64(st, 1, gid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *segment_id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

static json_t *history_intervals(sqlite3 *db, int64_t segment_id, bch_time from, bch_time to,
                                 bch_time until, bool *truncated)
{
    static const char *sql =
        "SELECT start, end, state FROM state_interval WHERE segment_id = ?1 AND start <= ?3 "
        "AND (end IS NULL OR end > ?2) ORDER BY start LIMIT ?4";
    sqlite3_stmt *st = bch_rep_prepare(db, "history", sql);
    json_t *arr = json_array();
    size_t n = 0;
    int rc;

    if (!st || !arr) {
        goto fail;
    }
    sqlite3_bind_int64(st, 1, segment_id);
    sqlite3_bind_int64(st, 2, lo(from));
    sqlite3_bind_int64(st, 3, hi(to));
    sqlite3_bind_int64(st, 4, BCH_API_MAX_INTERVALS + 1);
    *truncated = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bch_time start = sqlite3_column_int64(st, 0);
        bch_time end = bch_col_time(st, 1);
        bch_time stop = end != BCH_TIME_NONE ? end : until;
        json_t *o;

        if (++n > BCH_API_MAX_INTERVALS) {
            *truncated = true;
            continue;
        }
        o = json_pack(
            "{s:o, s:o, s:s, s:o}", "start", bch_json_time(start), "end", bch_json_time(end),
            "state", bch_state_name(sqlite3_column_int(st, 2)), "duration_s",
            stop == BCH_TIME_NONE ? json_null() : json_integer(stop > start ? stop - start : 0));
        if (!o || json_array_append_new(arr, o)) {
            goto fail;
        }
    }
    if (bch_rep_finish(db, st, rc, "history")) {
        json_decref(arr);
        return NULL;
    }
    return arr;
fail:
    sqlite3_finalize(st);
    json_decref(arr);
    return NULL;
}

/*
 * The jam items of one segment.  Same selection, counting rule and item
 * layout as bch_report_jams() (report.c: an episode never counts past the
 * data, one whose segment went silent ends unseen at seen_until), restricted
 * to one segment_id so that the query uses the primary key instead of
 * filtering every episode; the integration tests check both agree.  ?4 is
 * the latest snapshot instant at or before to.
 */
#define HJ_REACH "max(coalesce(?4, j.last_congested), j.last_congested)"
#define HJ_SEEN  "coalesce(j.seen_until, j.last_congested + " BCH_STR(BCH_TRACK_DEFAULT_STALE_S) ")"
#define HJ_SQL(src)                                                                                \
    "SELECT s.gid, s.ident, e.start, e.eff, e.open, e.rc, e.left_censored, e.peak_state, "         \
    "s.length_m, s.typevoie, s.commune FROM (SELECT j.segment_id, j.start, j.left_censored, "      \
    "j.peak_state, CASE WHEN j.end IS NOT NULL THEN j.end WHEN " HJ_SEEN " < " HJ_REACH            \
    " THEN " HJ_SEEN " ELSE min(?2, " HJ_REACH ") END AS eff, (j.end IS NULL AND " HJ_SEEN         \
    " >= " HJ_REACH ") AS open, (j.right_censored OR j.end IS NULL) AS rc FROM " src " j "         \
    "WHERE j.segment_id = ?3 AND j.start <= ?2) e JOIN segment s USING (segment_id) "              \
    "WHERE e.eff > ?1 OR (e.open AND e.eff >= ?1) ORDER BY e.start"

static json_t *history_jams(sqlite3 *db, int64_t segment_id, bch_time from, bch_time to)
{
    static const char *const v4 = HJ_SQL("jam_episode");
    static const char *const v1 =
        HJ_SQL("(SELECT *, 0 AS right_censored, NULL AS seen_until FROM jam_episode)");
    sqlite3_stmt *st =
        bch_rep_prepare(db, "history", bch_db_int(db, "PRAGMA user_version", 0) >= 4 ? v4 : v1);
    bch_time snap = bch_report_snapshot_at(db, to);
    json_t *arr = json_array();
    int rc;

    if (!st || !arr) {
        sqlite3_finalize(st);
        json_decref(arr);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, from == BCH_TIME_NONE ? INT64_MIN : from);
    sqlite3_bind_int64(st, 2, to == BCH_TIME_NONE ? INT64_MAX : to);
    sqlite3_bind_int64(st, 3, segment_id);
    if (snap == BCH_TIME_NONE) {
        sqlite3_bind_null(st, 4);
    } else {
        sqlite3_bind_int64(st, 4, snap);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bch_time start = sqlite3_column_int64(st, 2);
        bch_time eff = sqlite3_column_int64(st, 3);
        bool ongoing = sqlite3_column_int(st, 4) != 0 || (to != BCH_TIME_NONE && eff > to);
        bch_time stop = to != BCH_TIME_NONE && eff > to ? to : eff;
        json_t *o = json_pack(
            "{s:I, s:o, s:o, s:o, s:I, s:b, s:b, s:s, s:o, s:o, s:o}", "gid",
            (json_int_t)sqlite3_column_int64(st, 0), "ident", bch_col_text(st, 1), "start",
            bch_json_time(start), "end", bch_json_time(ongoing ? BCH_TIME_NONE : eff), "duration_s",
            (json_int_t)(stop - start), "left_censored", sqlite3_column_int(st, 6),
            "right_censored", !ongoing && sqlite3_column_int(st, 5) != 0, "peak_state",
            bch_state_name(sqlite3_column_int(st, 7)), "length_m", bch_col_real(st, 8), "typevoie",
            bch_col_text(st, 9), "commune", bch_col_text(st, 10));

        if (!o || json_array_append_new(arr, o)) {
            sqlite3_finalize(st);
            json_decref(arr);
            return NULL;
        }
    }
    if (bch_rep_finish(db, st, rc, "history")) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *bch_api_segment_history(sqlite3 *db, int64_t gid, bch_time from, bch_time to, bool *found)
{
    static const char *sql =
        "SELECT gid, ident, typevoie, commune, length_m FROM segment WHERE segment_id = ?";
    int64_t segment_id = 0;
    sqlite3_stmt *st = NULL;
    json_t *o = NULL, *intervals = NULL, *jams = NULL;
    bch_time until;
    bool truncated = false;
    int rc = find_segment(db, gid, &segment_id);

    *found = rc == 1;
    if (rc != 1) {
        return NULL;
    }
    /* An open interval lasts until the newest data: the latest snapshot. */
    until = bch_report_snapshot_at(db, BCH_TIME_NONE);
    intervals = history_intervals(db, segment_id, from, to, until, &truncated);
    jams = history_jams(db, segment_id, from, to);
    st = bch_rep_prepare(db, "history", sql);
    if (!intervals || !jams || !st) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, segment_id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        bch_error("api", "history query: segment %lld vanished", (long long)segment_id);
        goto out;
    }
    o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "gid",
                  sqlite3_column_type(st, 0) == SQLITE_NULL
                      ? json_integer(gid)
                      : json_integer(sqlite3_column_int64(st, 0)),
                  "ident", bch_col_text(st, 1), "typevoie", bch_col_text(st, 2), "commune",
                  bch_col_text(st, 3), "length_m", bch_col_real(st, 4), "intervals", intervals,
                  "truncated", truncated, "jams", jams);
    intervals = NULL; /* o owns them now (json_pack steals "o" references) */
    jams = NULL;
out:
    sqlite3_finalize(st);
    json_decref(intervals);
    json_decref(jams);
    return o;
}

/* ----------------------------------------------------------------- health */

/*
 * Fetch time of the newest traffic poll among the latest payloads (bounded
 * scan).  The travel-time polls of `run` are API payloads too, but stored as
 * imports (import_file, schema 2): they say nothing of the traffic feed.
 */
static bch_time last_poll(sqlite3 *db)
{
    if (bch_db_int(db, "PRAGMA user_version", 0) < 2) {
        return bch_db_int(db,
                          "SELECT max(fetched_at) FROM (SELECT kind, fetched_at FROM raw_source "
                          "ORDER BY source_id DESC LIMIT 1000) WHERE kind = 'api'",
                          BCH_TIME_NONE);
    }
    return bch_db_int(
        db,
        "SELECT max(fetched_at) FROM (SELECT source_id, kind, fetched_at "
        "FROM raw_source ORDER BY source_id DESC LIMIT 1000) r WHERE kind = 'api' "
        "AND NOT EXISTS (SELECT 1 FROM import_file i WHERE i.source_id = r.source_id)",
        BCH_TIME_NONE);
}

json_t *bch_api_health(sqlite3 *db, bch_time now)
{
    static const char *sql =
        "SELECT at, segments, n_inconnu, n_stale, unknown_share, stale_share, newest_mdate, "
        "flag FROM snapshot ORDER BY at DESC LIMIT 1";
    sqlite3_stmt *st = bch_rep_prepare(db, "health", sql);
    const char *status = "empty";
    bch_time at = BCH_TIME_NONE, newest = BCH_TIME_NONE;
    json_t *unknown = NULL, *stale = NULL, *flag = NULL, *age = NULL;
    int rc;

    if (!st) {
        return NULL;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t known_fresh =
            sqlite3_column_int64(st, 1) - sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 3);
        double stale_share = sqlite3_column_double(st, 5);
        const char *f = (const char *)sqlite3_column_text(st, 7);

        at = sqlite3_column_int64(st, 0);
        newest = bch_col_time(st, 6);
        unknown = bch_col_real(st, 4);
        stale = bch_col_real(st, 5);
        flag = bch_col_text(st, 7);
        if (f && (strcmp(f, "empty") == 0 || strcmp(f, "all_unknown") == 0)) {
            status = "empty";
        } else if (known_fresh <= 0 || now - at > 1800) {
            status = "down";
        } else if (stale_share > 0.5 || newest == BCH_TIME_NONE || now - newest > 900) {
            status = "stale";
        } else {
            status = "ok";
        }
    } else if (rc != SQLITE_DONE) {
        bch_error("api", "health query: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_finalize(st);
    age = newest == BCH_TIME_NONE ? json_null() : json_integer(now - newest);
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "status", status, "at",
                     bch_json_time(now), "snapshot_at", bch_json_time(at), "newest_mdate",
                     bch_json_time(newest), "newest_age_s", age, "unknown_share",
                     unknown ? unknown : json_null(), "stale_share", stale ? stale : json_null(),
                     "flag", flag ? flag : json_null(), "last_poll_at",
                     bch_json_time(last_poll(db)), "age_basis", "wallclock");
}

/* ----------------------------------------------------------------- gauges */

int bch_api_gauges_read(sqlite3 *db, struct bch_api_gauges *g)
{
    static const char *snap_sql =
        "SELECT at, n_inconnu, n_fluide, n_dense, n_embouteille, n_paralyse, congested_share, "
        "congested_km, known_km, newest_mdate FROM snapshot ORDER BY at DESC LIMIT 1";
    static const char *reasons_sql =
        "SELECT reason, count(*) FROM rejected WHERE coerced = 0 GROUP BY reason "
        "ORDER BY 2 DESC, 1 LIMIT ?";
    sqlite3_stmt *st = bch_rep_prepare(db, "gauges", snap_sql);
    int rc, ret = 0;

    memset(g, 0, sizeof(*g));
    g->at = BCH_TIME_NONE;
    g->newest_mdate = BCH_TIME_NONE;
    g->congested_share = NAN;
    if (!st) {
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        g->have_snapshot = true;
        g->at = sqlite3_column_int64(st, 0);
        for (int i = 0; i < 5; i++) {
            g->states[i] = sqlite3_column_int64(st, 1 + i);
        }
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            g->congested_share = sqlite3_column_double(st, 6);
        }
        g->congested_km = sqlite3_column_double(st, 7);
        g->known_km = sqlite3_column_double(st, 8);
        g->newest_mdate = bch_col_time(st, 9);
    } else if (rc != SQLITE_DONE) {
        ret = -1;
    }
    sqlite3_finalize(st);
    /* Open episodes whose segment is still seen at the latest snapshot (as the
     * report's jams: one silent for longer than the stale limit ended unseen). */
    g->active_jams =
        bch_db_int(db,
                   bch_db_int(db, "PRAGMA user_version", 0) >= 4
                       ? "SELECT count(*) FROM jam_episode j WHERE j.end IS NULL AND "
                         "coalesce(j.seen_until, j.last_congested + " BCH_STR(
                             BCH_TRACK_DEFAULT_STALE_S) ") >= "
                                                        "coalesce((SELECT max(at) FROM snapshot), "
                                                        "j.last_congested)"
                       : "SELECT count(*) FROM jam_episode j WHERE j.end IS NULL AND "
                         "j.last_congested + " BCH_STR(
                             BCH_TRACK_DEFAULT_STALE_S) " >= coalesce((SELECT max(at) FROM "
                                                        "snapshot), j.last_congested)",
                   0);
    st = bch_rep_prepare(db, "gauges", reasons_sql);
    if (!st) {
        return -1;
    }
    sqlite3_bind_int(st, 1, BCH_API_MAX_REASONS);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && g->nreasons < BCH_API_MAX_REASONS) {
        const char *r = (const char *)sqlite3_column_text(st, 0);

        snprintf(g->reasons[g->nreasons].reason, sizeof(g->reasons[0].reason), "%s", r ? r : "");
        g->reasons[g->nreasons].count = sqlite3_column_int64(st, 1);
        g->nreasons++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}
