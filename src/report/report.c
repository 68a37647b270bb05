#include "core/compat.h"

#include "analytics/track.h"
#include "core/log.h"
#include "model/trafi.h"
#include "report/columns.h"
#include "report/report.h"
#include "warehouse/db.h"

void bch_report_query_default(struct bch_report_query *q)
{
    q->at = BCH_TIME_NONE;
    q->from = BCH_TIME_NONE;
    q->to = BCH_TIME_NONE;
    q->min_duration_s = 0;
    q->limit = 10;
    q->history = true;
    q->min_known = 24;
    q->nperiods = 0;
}

json_t *bch_json_time(bch_time t)
{
    char buf[32];

    if (t == BCH_TIME_NONE) {
        return json_null();
    }
    bch_time_format_utc(t, buf, sizeof(buf));
    return json_string(buf);
}

bch_time bch_report_snapshot_at(sqlite3 *db, bch_time at)
{
    sqlite3_stmt *st = NULL;
    bch_time t = BCH_TIME_NONE;

    if (sqlite3_prepare_v2(db, "SELECT max(at) FROM snapshot WHERE at <= ?", -1, &st, NULL) !=
        SQLITE_OK) {
        return t;
    }
    sqlite3_bind_int64(st, 1, at == BCH_TIME_NONE ? INT64_MAX : at);
    if (sqlite3_step(st) == SQLITE_ROW) {
        t = bch_col_time(st, 0);
    }
    sqlite3_finalize(st);
    return t;
}

json_t *bch_report_latest(sqlite3 *db, bch_time at)
{
    static const char *sql =
        "SELECT at, n_fluide, n_dense, n_embouteille, n_paralyse, n_inconnu, n_stale, known_km, "
        "congested_km, dense_km, congested_share, weighted_index, unknown_share, stale_share, "
        "newest_mdate, newest_age_s, flag, segments FROM snapshot WHERE at = ?";
    sqlite3_stmt *st = NULL;
    bch_time snap = bch_report_snapshot_at(db, at);
    json_t *o = json_null();

    if (snap == BCH_TIME_NONE || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return o;
    }
    sqlite3_bind_int64(st, 1, snap);
    if (sqlite3_step(st) == SQLITE_ROW) {
        double known = sqlite3_column_double(st, 7);
        double dense = sqlite3_column_double(st, 9);

        o = json_pack(
            "{s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:f, s:f, s:f, s:o, s:o, s:o, "
            "s:f, s:f, s:o, s:o, s:o, s:I}",
            "at", bch_json_time(sqlite3_column_int64(st, 0)), "states", "FLUIDE",
            (json_int_t)sqlite3_column_int64(st, 1), "DENSE",
            (json_int_t)sqlite3_column_int64(st, 2), "EMBOUTEILLE",
            (json_int_t)sqlite3_column_int64(st, 3), "PARALYSE",
            (json_int_t)sqlite3_column_int64(st, 4), "INCONNU",
            (json_int_t)sqlite3_column_int64(st, 5), "stale",
            (json_int_t)sqlite3_column_int64(st, 6), "known_km", known, "congested_km",
            sqlite3_column_double(st, 8), "dense_km", dense, "congested_share",
            bch_col_real(st, 10), "dense_share", known > 0 ? json_real(dense / known) : json_null(),
            "weighted_index", bch_col_real(st, 11), "unknown_share", sqlite3_column_double(st, 12),
            "stale_share", sqlite3_column_double(st, 13), "newest_mdate",
            bch_json_time(bch_col_time(st, 14)), "newest_age_s",
            sqlite3_column_type(st, 15) == SQLITE_NULL ? json_null()
                                                       : json_integer(sqlite3_column_int64(st, 15)),
            "flag", bch_col_text(st, 16), "segments", (json_int_t)sqlite3_column_int64(st, 17));
        if (!o) {
            o = json_null();
        }
    }
    sqlite3_finalize(st);
    return o;
}

/*
 * The episodes of jam_episode as a range [?1 from, ?2 to] sees them, with
 * ?4 the latest snapshot instant at or before to (NULL if none): the
 * columns segment_id, start, left_censored, peak_state, and
 *   eff  -- where the episode stops counting: its stored end; for one with
 *           no end, seen_until (last_congested + stale limit) if the data
 *           goes past it (the segment went silent: ended unseen), else the
 *           data's reach min(to, max(snapshot, last_congested));
 *   open -- 1 when it is still going on at the end of the data;
 *   rc   -- its end was not seen (stored right_censored, or silent).
 * Only episodes that began by to and reach past from.  The same rule as
 * bch_track_open_until() (analytics/track.h).  Warehouses older than
 * migration 4 have no seen_until: the default stale limit stands in.
 */
#define JAM_REACH "max(coalesce(?4, j.last_congested), j.last_congested)"
#define JAM_SEEN  "coalesce(j.seen_until, j.last_congested + " BCH_STR(BCH_TRACK_DEFAULT_STALE_S) ")"
#define JAM_VIEW(src)                                                                              \
    "(SELECT * FROM (SELECT j.segment_id, j.start, j.left_censored, j.peak_state, "                \
    "CASE WHEN j.end IS NOT NULL THEN j.end WHEN " JAM_SEEN " < " JAM_REACH " THEN " JAM_SEEN      \
    " ELSE min(?2, " JAM_REACH ") END AS eff, "                                                    \
    "(j.end IS NULL AND " JAM_SEEN " >= " JAM_REACH ") AS open, "                                  \
    "(j.right_censored OR j.end IS NULL) AS rc FROM " src " j WHERE j.start <= ?2) "               \
    "WHERE eff > ?1 OR (open AND eff >= ?1))"

/* Binds ?4: the latest snapshot instant at or before to (NULL if none). */
static void bind_reach(sqlite3 *db, sqlite3_stmt *st, bch_time to)
{
    bch_time snap = bch_report_snapshot_at(db, to);

    if (snap == BCH_TIME_NONE) {
        sqlite3_bind_null(st, 4);
    } else {
        sqlite3_bind_int64(st, 4, snap);
    }
}

static const char *jam_view(sqlite3 *db)
{
    static const char *const v4 = JAM_VIEW("jam_episode");
    static const char *const v1 =
        JAM_VIEW("(SELECT *, 0 AS right_censored, NULL AS seen_until FROM jam_episode)");

    return bch_db_int(db, "PRAGMA user_version", 0) >= 4 ? v4 : v1;
}

/*
 * One jams item from a row (gid, ident, start, eff, open, rc, left_censored,
 * peak_state, length_m, typevoie, commune): an episode still going on at
 * to (open, or ending after to) has end null; right_censored only when the
 * end is given.
 */
static json_t *jam_item(sqlite3_stmt *st, bch_time to)
{
    bch_time start = sqlite3_column_int64(st, 2);
    bch_time eff = sqlite3_column_int64(st, 3);
    bool ongoing = sqlite3_column_int(st, 4) != 0 || (to != BCH_TIME_NONE && eff > to);
    bch_time stop = to != BCH_TIME_NONE && eff > to ? to : eff;

    return json_pack("{s:I, s:o, s:o, s:o, s:I, s:b, s:b, s:s, s:o, s:o, s:o}", "gid",
                     (json_int_t)sqlite3_column_int64(st, 0), "ident", bch_col_text(st, 1), "start",
                     bch_json_time(start), "end", bch_json_time(ongoing ? BCH_TIME_NONE : eff),
                     "duration_s", (json_int_t)(stop - start), "left_censored",
                     sqlite3_column_int(st, 6), "right_censored",
                     !ongoing && sqlite3_column_int(st, 5) != 0, "peak_state",
                     bch_state_name(sqlite3_column_int(st, 7)), "length_m", bch_col_real(st, 8),
                     "typevoie", bch_col_text(st, 9), "commune", bch_col_text(st, 10));
}

json_t *bch_report_jams(sqlite3 *db, bch_time from, bch_time to, int64_t min_duration_s)
{
    char sql[2048];
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();

    snprintf(sql, sizeof(sql),
             "SELECT s.gid, s.ident, e.start, e.eff, e.open, e.rc, e.left_censored, e.peak_state, "
             "s.length_m, s.typevoie, s.commune FROM %s e JOIN segment s USING (segment_id) "
             "WHERE min(e.eff, ?2) - e.start >= ?3 ORDER BY e.start, s.ident",
             jam_view(db));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "jams query: %s", sqlite3_errmsg(db));
        return arr;
    }
    sqlite3_bind_int64(st, 1, from == BCH_TIME_NONE ? INT64_MIN : from);
    sqlite3_bind_int64(st, 2, to == BCH_TIME_NONE ? INT64_MAX : to);
    sqlite3_bind_int64(st, 3, min_duration_s);
    bind_reach(db, st, to);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_array_append_new(arr, jam_item(st, to));
    }
    sqlite3_finalize(st);
    return arr;
}

json_t *bch_report_queues(sqlite3 *db, bch_time at)
{
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();

    if (sqlite3_prepare_v2(db,
                           "SELECT idents, length_m, n_segments FROM queue WHERE at = ? "
                           "ORDER BY queue_no",
                           -1, &st, NULL) != SQLITE_OK) {
        return arr;
    }
    sqlite3_bind_int64(st, 1, at);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *idents = (const char *)sqlite3_column_text(st, 0);
        json_t *members = idents ? json_loads(idents, 0, NULL) : NULL;

        json_array_append_new(arr, json_pack("{s:o, s:f, s:I}", "idents",
                                             members ? members : json_array(), "length_m",
                                             sqlite3_column_double(st, 1), "n_segments",
                                             (json_int_t)sqlite3_column_int64(st, 2)));
    }
    sqlite3_finalize(st);
    return arr;
}

json_t *bch_report_hotspots(sqlite3 *db, bch_time from, bch_time to, const char *by, int limit)
{
    /* Congested time of an episode within [from, to], per segment first:
     * never past the data (jam_view()). */
    char per_segment[2048];
    char sql[3072];
    sqlite3_stmt *st = NULL;
    json_t *arr;
    bool seg = strcmp(by, "segment") == 0;

    snprintf(per_segment, sizeof(per_segment),
             "WITH e AS (SELECT segment_id, max(0, min(eff, ?2) - max(start, ?1)) AS secs "
             "  FROM %s), "
             "g AS (SELECT segment_id, sum(secs) AS secs, count(*) AS episodes FROM e "
             "  GROUP BY segment_id) ",
             jam_view(db));
    if (seg) {
        snprintf(sql, sizeof(sql),
                 "%s SELECT s.ident, s.ident, s.gid, g.secs, g.episodes, s.length_m, s.typevoie, "
                 "s.commune, g.secs * s.length_m / 3600000.0 FROM g JOIN segment s USING "
                 "(segment_id) ORDER BY g.secs DESC, s.ident LIMIT ?3",
                 per_segment);
    } else if (strcmp(by, "typevoie") == 0 || strcmp(by, "commune") == 0) {
        /* The column name comes from the two literals above, never from input. */
        snprintf(sql, sizeof(sql),
                 "%s SELECT coalesce(s.%s, ''), NULL, NULL, sum(g.secs), sum(g.episodes), "
                 "sum(s.length_m), NULL, NULL, sum(g.secs * s.length_m) / 3600000.0 FROM g JOIN "
                 "segment s USING (segment_id) GROUP BY 1 ORDER BY 9 DESC, 1 LIMIT ?3",
                 per_segment, by[0] == 't' ? "typevoie" : "commune");
    } else {
        return NULL;
    }
    arr = json_array();
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "hotspots query: %s", sqlite3_errmsg(db));
        return arr;
    }
    sqlite3_bind_int64(st, 1, from == BCH_TIME_NONE ? INT64_MIN / 2 : from);
    sqlite3_bind_int64(st, 2, to == BCH_TIME_NONE ? INT64_MAX / 2 : to);
    sqlite3_bind_int(st, 3, limit);
    bind_reach(db, st, to);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_pack("{s:o, s:I, s:I, s:o, s:f}", "key", bch_col_text(st, 0),
                              "congested_s", (json_int_t)sqlite3_column_int64(st, 3), "episodes",
                              (json_int_t)sqlite3_column_int64(st, 4), "length_m",
                              bch_col_real(st, 5), "congested_km_h", sqlite3_column_double(st, 8));

        if (seg) {
            json_object_set_new(o, "ident", bch_col_text(st, 1));
            json_object_set_new(o, "gid", json_integer(sqlite3_column_int64(st, 2)));
            json_object_set_new(o, "typevoie", bch_col_text(st, 6));
            json_object_set_new(o, "commune", bch_col_text(st, 7));
        }
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(st);
    return arr;
}

json_t *bch_report_summary(sqlite3 *db, const struct bch_report_query *q, char *err, size_t errlen)
{
    bch_time at = bch_report_snapshot_at(db, q->at);
    bch_time to = q->to != BCH_TIME_NONE ? q->to : (q->at != BCH_TIME_NONE ? q->at : at);
    json_t *o, *hot;

    (void)err;
    (void)errlen;
    bch_time from = q->from;

    if (to == BCH_TIME_NONE) {
        to = bch_db_int(db, "SELECT max(mdate) FROM observation", BCH_TIME_NONE);
    }
    /* Default period: the 24 hours up to the snapshot, so that a report of
     * months of data stays readable; --from widens it. */
    if (from == BCH_TIME_NONE && to != BCH_TIME_NONE) {
        from = to - BCH_REPORT_DEFAULT_PERIOD_S;
    }
    hot = bch_report_hotspots(db, from, to, "segment", q->limit);
    o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:{s:o, s:o}, s:o, s:o, s:o, s:o}", "segments",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM segment", 0), "observations",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM observation", 0), "rejected",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM rejected WHERE coerced = 0", 0), "coerced",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM rejected WHERE coerced = 1", 0),
        "state_changes",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM state_interval WHERE end IS NOT NULL", 0),
        "range", "from", bch_json_time(from), "to", bch_json_time(to), "latest",
        at == BCH_TIME_NONE ? json_null() : bch_report_latest(db, at), "jams",
        bch_report_jams(db, from, to, q->min_duration_s), "queues",
        at == BCH_TIME_NONE ? json_array() : bch_report_queues(db, at), "hotspots",
        hot ? hot : json_array());
    if (o && q->history && bch_db_int(db, "PRAGMA user_version", 0) >= 2) {
        struct bch_history_query hq;

        bch_history_query_default(&hq);
        hq.from = q->from;
        hq.to = q->to;
        hq.limit = q->limit;
        hq.min_known = q->min_known;
        hq.nperiods = q->nperiods;
        memcpy(hq.periods, q->periods, sizeof(hq.periods));
        if (bch_history_sections(db, &hq, o, err, errlen)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void local_time(const json_t *t, char *buf, size_t len)
{
    bch_time v;
    struct bch_local_tm tm;
    const char *s = json_string_value(t);

    if (!s || bch_time_parse(s, strlen(s), false, &v, NULL, 0)) {
        snprintf(buf, len, "-");
        return;
    }
    bch_paris_local(v, &tm);
    snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)tm.year, tm.month, tm.day,
             tm.hour, tm.minute, tm.second);
}

void bch_report_print_text(FILE *out, const json_t *s)
{
    const json_t *latest = json_object_get(s, "latest");
    const json_t *jams = json_object_get(s, "jams");
    const json_t *queues = json_object_get(s, "queues");
    const json_t *hot = json_object_get(s, "hotspots");
    char t1[40];
    size_t ongoing = 0, i;
    const json_t *v;

    fprintf(out,
            "Segments %lld, observations %lld, state changes %lld, rejected %lld (coerced "
            "%lld)\n",
            (long long)num(s, "segments"), (long long)num(s, "observations"),
            (long long)num(s, "state_changes"), (long long)num(s, "rejected"),
            (long long)num(s, "coerced"));
    if (!json_is_object(latest)) {
        /* A warehouse of imported history only still has its history sections. */
        fprintf(out, "No snapshot stored yet.\n");
        bch_history_print_text(out, s);
        return;
    }
    local_time(json_object_get(latest, "at"), t1, sizeof(t1));
    fprintf(out, "Snapshot %s (Europe/Paris), %s UTC\n", t1,
            json_string_value(json_object_get(latest, "at")));
    {
        const json_t *st = json_object_get(latest, "states");

        fprintf(out,
                "  States      FLUIDE %lld, DENSE %lld, EMBOUTEILLE %lld, PARALYSE %lld, "
                "INCONNU %lld (stale %lld)\n",
                (long long)num(st, "FLUIDE"), (long long)num(st, "DENSE"),
                (long long)num(st, "EMBOUTEILLE"), (long long)num(st, "PARALYSE"),
                (long long)num(st, "INCONNU"), (long long)num(latest, "stale"));
    }
    fprintf(out, "  Network     known %.2f km, congested %.2f km (%.2f %%), dense %.2f km\n",
            num(latest, "known_km"), num(latest, "congested_km"),
            100.0 * num(latest, "congested_share"), num(latest, "dense_km"));
    fprintf(out, "  Feed health unknown %.1f %%, stale %.1f %%, newest mdate %lld s old%s%s\n",
            100.0 * num(latest, "unknown_share"), 100.0 * num(latest, "stale_share"),
            (long long)num(latest, "newest_age_s"),
            json_is_string(json_object_get(latest, "flag")) ? ", FLAGGED " : "",
            json_is_string(json_object_get(latest, "flag"))
                ? json_string_value(json_object_get(latest, "flag"))
                : "");
    json_array_foreach(jams, i, v)
    {
        if (json_is_null(json_object_get(v, "end"))) {
            ongoing++;
        }
    }
    fprintf(out, "Jam episodes %zu (%zu ongoing)\n", json_array_size(jams), ongoing);
    json_array_foreach(jams, i, v)
    {
        if (i >= 15) {
            fprintf(out, "  ... %zu more\n", json_array_size(jams) - i);
            break;
        }
        local_time(json_object_get(v, "start"), t1, sizeof(t1));
        fprintf(out, "  %-10s gid %-5lld %-11s %6.0f m  since %s  %s%s%s\n",
                json_string_value(json_object_get(v, "ident")), (long long)num(v, "gid"),
                json_string_value(json_object_get(v, "peak_state")), num(v, "length_m"), t1,
                json_is_null(json_object_get(v, "end")) ? "ongoing" : "ended",
                json_is_true(json_object_get(v, "left_censored")) ? " (left-censored)" : "",
                json_is_true(json_object_get(v, "right_censored")) ? " (end unseen)" : "");
    }
    fprintf(out, "Queues %zu\n", json_array_size(queues));
    json_array_foreach(queues, i, v)
    {
        char *members;

        if (i >= 10) {
            fprintf(out, "  ... %zu more\n", json_array_size(queues) - i);
            break;
        }
        members = json_dumps(json_object_get(v, "idents"), JSON_COMPACT);
        fprintf(out, "  %6.0f m  %s\n", num(v, "length_m"), members ? members : "");
        free(members);
    }
    fprintf(out, "Hotspots (congested time)\n");
    json_array_foreach(hot, i, v)
    {
        fprintf(out, "  %-10s %-18s %-14s %7.1f min, %lld episode(s)\n",
                json_string_value(json_object_get(v, "ident")),
                json_string_value(json_object_get(v, "commune"))
                    ? json_string_value(json_object_get(v, "commune"))
                    : "",
                json_string_value(json_object_get(v, "typevoie"))
                    ? json_string_value(json_object_get(v, "typevoie"))
                    : "",
                num(v, "congested_s") / 60.0, (long long)num(v, "episodes"));
    }
    bch_history_print_text(out, s);
}
