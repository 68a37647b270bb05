/*
 * api.h - the warehouse queries of the HTTP API that `bouchon report` does
 * not print: the network as GeoJSON, the weekly profile, the snapshot time
 * series, one segment's history, feed health and the figures exported as
 * Prometheus gauges.  docs/API.md documents every member.
 *
 * Like report.h, every function only reads the warehouse through the
 * connection it is given (bound parameters only) and builds a jansson value
 * the caller owns (json_decref).  None of them is thread-safe on one
 * connection; the HTTP server gives each worker thread its own.  A caller
 * that needs several queries to agree (a writer may commit in between) runs
 * them inside one read transaction.
 *
 * Times in the output are UTC "YYYY-MM-DDTHH:MM:SSZ" strings (null when
 * absent); lengths in metres (length_m) or kilometres (*_km).
 */
#ifndef BCH_API_H
#define BCH_API_H

#include "core/compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "core/timeutil.h"

/* The jansson flags of every API body; `report --json` uses the same ones
 * with JSON_INDENT(2), which GET /api/v1/summary copies byte for byte. */
#define BCH_API_JSON_FLAGS         (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
#define BCH_API_SUMMARY_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

/* Age above which a known state counts as stale (CONGESTION_METRICS.md, 15 min). */
#define BCH_API_STALE_S 900

/* Most points a time series returns before it is averaged into buckets. */
#define BCH_API_MAX_POINTS 2000

/* Most intervals one segment history lists (then "truncated": true). */
#define BCH_API_MAX_INTERVALS 100000

/*
 * Instant of the earliest observation (min segment.first_seen, which is
 * cheap: the segment table is small), or BCH_TIME_NONE for an empty
 * warehouse.  The API reports it as the default start of a period.
 */
bch_time bch_api_data_start(sqlite3 *db);

/*
 * GeoJSON FeatureCollection of every segment with its latest observation:
 * properties gid, ident, state, mdate, state_age_s (latest snapshot instant
 * minus mdate), stale (a known state older than stale_s, as counted by
 * snapshot.n_stale; INCONNU is not "stale", it is unknown),
 * length_m, typevoie, commune, code_commune, origine.  A segment without a
 * parsable geometry gets "geometry": null (valid GeoJSON).  NULL only when
 * out of memory or on a query error (logged).
 */
json_t *bch_api_network(sqlite3 *db, int64_t stale_s);

/*
 * Weekly profile over the UTC hour rows of hourly_segment that overlap
 * [from, to], both inclusive (BCH_TIME_NONE: unbounded).  Each UTC hour is bucketed by its
 * Europe/Paris weekday (1 = Monday) and local hour, so a local day of 23 or
 * 25 hours neither loses nor repeats an hour.  Returns the array of cells
 * {weekday, hour, congested_share, index, known_segment_hours}, ordered by
 * weekday then hour, only cells with known time; NULL on a query error.
 */
json_t *bch_api_profile(sqlite3 *db, bch_time from, bch_time to);

/*
 * Array of {at, congested_share, congested_km, dense_km, known_km,
 * unknown_share} of the snapshots in [from, to].  Beyond max_points
 * snapshots, they are averaged over equal buckets (at = bucket start,
 * shares averaged over the snapshots where they are defined).  NULL on a
 * query error.
 */
json_t *bch_api_timeseries(sqlite3 *db, bch_time from, bch_time to, size_t max_points);

/*
 * History of the segment whose current gid is gid, or that once had it
 * (segment_gid; the most recent holder wins): {gid (current), ident,
 * typevoie, commune, length_m, intervals: [{start, end, state,
 * duration_s}], truncated, jams: [...]} over [from, to].  Intervals are
 * listed whole (not cut at from / to); an open interval has end null and
 * lasts until the latest snapshot.  Jams have the items of
 * bch_report_jams().  Returns NULL and sets *found = false for an unknown
 * gid; NULL with *found = true on a query error.
 */
json_t *bch_api_segment_history(sqlite3 *db, int64_t gid, bch_time from, bch_time to, bool *found);

/*
 * Feed health judged against the wall clock now: {status, at (= now),
 * snapshot_at, newest_mdate, newest_age_s (now - newest_mdate),
 * unknown_share, stale_share, flag, last_poll_at, age_basis: "wallclock"}
 * of the latest snapshot.  status: "empty" (no snapshot, or flag empty /
 * all_unknown), "down" (no fresh known state, or the latest snapshot older
 * than 30 min), "stale" (stale_share > 0.5 or the newest mdate older than
 * 15 min), else "ok".  last_poll_at: fetch time of the newest API payload
 * among the latest 1000 stored (null when the data come from files).
 */
json_t *bch_api_health(sqlite3 *db, bch_time now);

/* ---------------------------------------------------------------- history
 *
 * The routes over the imported history (docs/API.md "History"): their
 * bodies are the builders of report/history.h, so that they equal the
 * sections of `bouchon report --json`; the functions below give the
 * default ranges, translate the API's inclusive range into the builders'
 * half-open one, and build the bodies that `report` does not print
 * (src/report/api_history.c).
 */

struct bch_history_query;

/*
 * First and last UTC hour of the imported hourly layer (history_hour, the
 * hours `bouchon import --kind segment-history` stored), the default range
 * of the history routes; both BCH_TIME_NONE when it is empty.  0, or -1 on
 * a query error.
 */
int bch_api_history_bounds(sqlite3 *db, bch_time *first, bch_time *last);

/* First and last sample instant of travel_time (the default range of
 * /api/v1/corridors); both BCH_TIME_NONE when it is empty.  0 or -1. */
int bch_api_travel_bounds(sqlite3 *db, bch_time *first, bch_time *last);

/*
 * The history query of the API range [from, to], both inclusive
 * (BCH_TIME_NONE: open): the builders take hours at or after from and
 * before their end, so the end is to + 1 s (an hour that starts at to is
 * in).  limit and min_known keep bch_history_query_default()'s values
 * unless limit > 0.
 */
void bch_api_history_query(struct bch_history_query *hq, bch_time from, bch_time to, int limit);

/*
 * GET /api/v1/history: {history: bch_history_overview() (open range),
 * first_day, last_day (local dates of bch_api_history_bounds(), or null),
 * has_travel_times, has_counts (annual counts), has_stations (a feature of
 * bch_api_stations()), periods: [{label, start, end}] (the period table,
 * local dates, by start)}.  NULL on a query error.
 */
json_t *bch_api_history_overview(sqlite3 *db);

/*
 * GeoJSON FeatureCollection of travel_corridor, by gid: geometry as stored
 * ([lon, lat]; null when absent), properties gid, ident, label, length_m.
 * NULL on a query error.
 */
json_t *bch_api_corridors_geojson(sqlite3 *db);

/*
 * GeoJSON FeatureCollection of the counting stations with coordinates,
 * Point [lon, lat]: the permanent sensors by ident (properties kind
 * "sensor", ident, gid, type, commune, code_commune, latest_count {at,
 * count, flags} or null, annual: [{year, sens, nom_voie, mjo_val,
 * hpm_val, hps_val, mjo_pct}] of annual_count by year then sens), then
 * the campaigns by gid (kind "campaign", gid, type, insee, annee,
 * start_day, end_day (local dates or null), tmjo_tv, hpm_tv, hps_tv,
 * v85_vl, orientation).  NULL on a query error.
 */
json_t *bch_api_stations(sqlite3 *db);

/* Figures of the Prometheus gauges, read at scrape time. */
#define BCH_API_MAX_REASONS 20
struct bch_api_gauges {
    bool have_snapshot;
    bch_time at;
    int64_t states[5];      /* indexed by enum bch_state */
    double congested_share; /* NAN when nothing is known */
    double congested_km;
    double known_km;
    int64_t active_jams;
    bch_time newest_mdate; /* BCH_TIME_NONE if none */
    size_t nreasons;
    struct {
        char reason[128];
        int64_t count;
    } reasons[BCH_API_MAX_REASONS]; /* rejected records (coerced ones left out), most first */
};

/* Fills g; 0, or -1 on a query error (g then holds what was read). */
int bch_api_gauges_read(sqlite3 *db, struct bch_api_gauges *g);

#endif
