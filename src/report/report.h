/*
 * report.h - the figures of `bouchon report` and of the HTTP API, as JSON.
 *
 * Every function reads the warehouse (read-only) and builds a jansson
 * object the caller owns (json_decref).  `bouchon report --json` and
 * `GET /api/v1/summary` both print bch_report_summary(), so the two always
 * carry the same names and values.  Times in the output are UTC ISO-8601
 * strings with "Z"; lengths in metres (length_m) or kilometres (*_km).
 */
#ifndef BCH_REPORT_H
#define BCH_REPORT_H

#include "core/compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "core/timeutil.h"
#include "report/history.h"

/* Period of jams and hotspots when --from is not given: 24 h up to `to`. */
#define BCH_REPORT_DEFAULT_PERIOD_S 86400

struct bch_report_query {
    bch_time at;            /* snapshot at or before this instant; BCH_TIME_NONE = latest */
    bch_time from;          /* period for jams and hotspots; BCH_TIME_NONE = 24 h before to */
    bch_time to;            /* BCH_TIME_NONE = the snapshot instant */
    int64_t min_duration_s; /* jams shorter than this are left out (default 0) */
    int limit;              /* hotspots listed (default 10) */
    bool history;           /* add the sections of report/history.h (default true) */
    int min_known;          /* history: segment-hours a segment needs to be ranked (24) */
    /* history: periods to compare besides those stored by `import --kind periods` */
    struct bch_period periods[BCH_HISTORY_MAX_PERIODS];
    size_t nperiods;
};

void bch_report_query_default(struct bch_report_query *q);

/*
 * The whole summary: counts, latest, jams, queues, hotspots; with
 * q->history, the sections of report/history.h over the explicit --from /
 * --to range (all the data when absent) on warehouses of schema 2 or later.
 */
json_t *bch_report_summary(sqlite3 *db, const struct bch_report_query *q, char *err, size_t errlen);

/* {"at", ...} of the snapshot at or before at (BCH_TIME_NONE: latest), or JSON null. */
json_t *bch_report_latest(sqlite3 *db, bch_time at);

/* Array of jam episodes overlapping [from, to]; an episode ending after to is shown ongoing. */
json_t *bch_report_jams(sqlite3 *db, bch_time from, bch_time to, int64_t min_duration_s);

/* Array of the queues of the snapshot at instant at (exact). */
json_t *bch_report_queues(sqlite3 *db, bch_time at);

/* Hotspots over [from, to], by "segment", "typevoie" or "commune". NULL on a bad key. */
json_t *bch_report_hotspots(sqlite3 *db, bch_time from, bch_time to, const char *by, int limit);

/* Instant of the snapshot at or before at (or the latest); BCH_TIME_NONE if none. */
bch_time bch_report_snapshot_at(sqlite3 *db, bch_time at);

/* Writes t as a JSON string "...Z", or null for BCH_TIME_NONE. */
json_t *bch_json_time(bch_time t);

/* Human-readable rendering of a summary (as built above) to out. */
void bch_report_print_text(FILE *out, const json_t *summary);

#endif
