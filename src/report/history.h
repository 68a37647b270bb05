/*
 * history.h - figures of the one hourly layer, travel times and counts.
 *
 * Every hourly figure comes from the hourly congestion index of
 * docs/HISTORY.md: imported scores (hourly_score, with the roll-ups
 * history_hour and history_day kept by `bouchon import`) and minute
 * observations (hourly_segment, aggregated here on the fly), on one scale
 * (0 all fluid .. 1 all jammed), where an imported known value wins over a
 * minute one for the same ident and hour.  Local time is Europe/Paris:
 * days are local dates (23, 24 or 25 hours), peak hours are local wall
 * hours 7, 8, 9 (AM) and 17, 18, 19 (PM), on weekdays (Monday..Friday)
 * where the figure says so.
 *
 * The functions read the warehouse only and build jansson values that the
 * caller owns.  They return NULL (with the reason in err) on a warehouse
 * failure; a section without data is an empty array or object.
 */
#ifndef BCH_HISTORY_H
#define BCH_HISTORY_H

#include "core/compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "core/timeutil.h"

#define BCH_HISTORY_MAX_PERIODS 32
#define BCH_HISTORY_MAX_DAYS    3700 /* `daily` entries at most (ten years) */
/* A day whose hours with data (at least this many) all give the same
 * network figures is flagged `frozen` in `daily`. */
#define BCH_HISTORY_FROZEN_HOURS 12
/* Corridors compared for mirrors, and what makes a mirror (history.c). */
#define BCH_HISTORY_MAX_CORRIDORS 64
#define BCH_HISTORY_MIRROR_MIN    100  /* common instants at least */
#define BCH_HISTORY_MIRROR_SHARE  0.95 /* of them with the same value */

/* A period of local dates, both inclusive. */
struct bch_period {
    int64_t start_day, end_day; /* days since 1970-01-01 (local dates) */
    char label[64];
};

struct bch_history_query {
    bch_time from; /* hours at or after from; BCH_TIME_NONE = from the first */
    bch_time to;   /* hours before to; BCH_TIME_NONE = up to the last */
    int limit;     /* entries of ranked lists (hotspots, anomalies, ...) */
    int min_known; /* segment-hours a segment needs to be ranked (default 24) */
    /* periods of the command line, compared besides those of the `period` table */
    struct bch_period periods[BCH_HISTORY_MAX_PERIODS];
    size_t nperiods;
};

void bch_history_query_default(struct bch_history_query *q);

/*
 * Registers the SQL functions paris_day(t), paris_hour(t) and paris_wday(t)
 * (local date as days since 1970-01-01, local wall hour 0..23, ISO weekday)
 * on db, for the queries below and for ad hoc use.  0 or -1.
 */
int bch_history_register_sql(sqlite3 *db);

/*
 * Adds the sections to summary (a JSON object): always "history" (what the
 * layer holds); "daily", "profile", "peaks", "trend_monthly",
 * "hotspots_history", "anomalies" and "periods" when the layer holds known
 * segment-hours in the range; "corridors" when travel times exist; "counts"
 * when counts exist; "works" when road works exist.  Keys are documented in
 * docs/REPORT.md.  0, or -1 with the reason in err.
 */
int bch_history_sections(sqlite3 *db, const struct bch_history_query *q, json_t *summary, char *err,
                         size_t errlen);

/*
 * One section by its key ("daily", "corridors", ...), whether or not data
 * exists; NULL for an unknown key or a warehouse failure.  Registers the SQL
 * functions itself.
 */
json_t *bch_history_section(sqlite3 *db, const struct bch_history_query *q, const char *key);

/* NULL-terminated list of the section keys, for usage text. */
const char *const *bch_history_section_keys(void);

/* The sections one by one (same keys as above). */
json_t *bch_history_overview(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_daily(sqlite3 *db, const struct bch_history_query *q);
/* The days `daily` lists, and why (docs/REPORT.md `daily_range`): {from, to
 * (local dates, null when none), days, days_asked, clamped_to_data (a range
 * longer than BCH_HISTORY_MAX_DAYS is clamped to the layer's first and last
 * hour), truncated (still longer: its first BCH_HISTORY_MAX_DAYS days),
 * max_days}. */
json_t *bch_history_daily_range(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_profile(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_peaks(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_trend_monthly(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_hotspots(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_anomalies(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_periods(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_corridors(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_counts(sqlite3 *db, const struct bch_history_query *q);
json_t *bch_history_works(sqlite3 *db, const struct bch_history_query *q);

/* Human-readable lines for the history sections of a summary (if present). */
void bch_history_print_text(FILE *out, const json_t *summary);

/*
 * Statistics shared with the tests: the q-quantile (0..1) of x[0..n) by
 * linear interpolation between closest ranks (x is sorted in place); NaN
 * when n is 0.  Robust z-score of v against x[0..n): (v - median) /
 * (1.4826 * MAD); NaN when n < 4 or MAD is 0 (x is reordered).
 */
double bch_quantile(double *x, size_t n, double q);
double bch_robust_z(double v, double *x, size_t n);

#endif
