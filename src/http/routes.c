/*
 * routes.c - the JSON API (docs/API.md) and /metrics.
 *
 * Every API handler validates its parameters before touching the
 * warehouse, then runs inside one read transaction on the worker's own
 * connection (api_respond()): the warehouse fingerprint is read first
 * (http_fingerprint(), a generation that every commit changes), a cached
 * body for (target, fingerprint) is answered at once, else the body is
 * built, rendered and cached.
 */
#include "core/compat.h"

#include <math.h>
#include <microhttpd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "http/internal.h"
#include "report/api.h"
#include "report/history.h"
#include "report/report.h"
#include "warehouse/db.h"

#define JSON_CTYPE             "application/json"
#define SUMMARY_DEFAULT_LIMIT  10 /* as `bouchon report` */
#define HOTSPOTS_DEFAULT_LIMIT 20

/* A builder returns the body, or NULL after filling r (404) or for a 500. */
typedef json_t *(*build_fn)(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                            struct http_reply *r);

struct api_route {
    unsigned allowed; /* P_* */
    build_fn build;
    bool cacheable;
    bool summary_format; /* indented like `report --json`, final newline */
    bool history;        /* reads the tables of migration 2 (`bouchon import`) */
};

/* The schema a history route needs: a warehouse last written by an older
 * binary (schema 1) has no history tables until a writer migrates it. */
#define HISTORY_SCHEMA 2

static int render(json_t *j, bool summary_format, char **out, size_t *len)
{
    char *s = json_dumps(j, summary_format ? BCH_API_SUMMARY_JSON_FLAGS : BCH_API_JSON_FLAGS);
    size_t n;

    if (!s) {
        return -1;
    }
    n = strlen(s);
    if (summary_format) {
        char *t = realloc(s, n + 2);

        if (!t) {
            free(s);
            return -1;
        }
        s = t;
        s[n++] = '\n';
        s[n] = '\0';
    }
    *out = s;
    *len = n;
    return 0;
}

static void api_respond(struct http_request *q, struct http_reply *r, const struct api_route *a)
{
    struct http_params p;
    struct worker_db *w;
    struct cache_entry *e = NULL;
    int64_t fp[2];
    char msg[256];
    json_t *j;
    char *body = NULL;
    size_t len = 0;

    r->no_store = true;
    if (http_params_parse(q->query, a->allowed, &p, msg, sizeof(msg))) {
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", msg);
        return;
    }
    w = http_worker_db(q->srv, msg, sizeof(msg));
    if (!w) {
        bch_warn("http", "%s", msg);
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the warehouse cannot be read now");
        return;
    }
    /* The fingerprint first, then one read transaction (deferred: its
     * snapshot starts at the first query of the build, later than the
     * fingerprint), so that every query of the response sees one state. */
    if (http_fingerprint(q->srv, fp)) {
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the warehouse cannot be read now");
        return;
    }
    if (sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        bch_warn("http", "warehouse read: %s", sqlite3_errmsg(w->db));
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the warehouse cannot be read now");
        return;
    }
    if (a->cacheable) {
        e = http_cache_get(&q->srv->cache, q->target, fp);
    }
    if (!e && a->history && bch_db_int(w->db, "PRAGMA user_version", 0) < HISTORY_SCHEMA) {
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "the warehouse has no history tables yet (schema 1): any 'bouchon "
                         "replay' or 'bouchon import' on it upgrades it");
        return;
    }
    if (!e) {
        j = a->build(w->db, q, &p, r);
        if (!j) {
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
            if (r->status == 0) {
                http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the answer");
            }
            return;
        }
        if (render(j, a->summary_format, &body, &len)) {
            json_decref(j);
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
            http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
            return;
        }
        json_decref(j);
    }
    sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    if (!e) {
        e = http_entry_new(a->cacheable ? &q->srv->cache : NULL, q->target, fp, JSON_CTYPE, body,
                           len, true);
        if (!e) {
            http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
            return;
        }
    }
    r->status = MHD_HTTP_OK;
    r->entry = e;
}

/* ------------------------------------------------------------ period */

/*
 * The period actually used: the given bounds, else the first and latest
 * snapshot instants.  A default bound never makes the period empty: it
 * moves to the given one instead.
 */
static void period(sqlite3 *db, const struct http_params *p, bch_time *from, bch_time *to)
{
    *from =
        p->have & P_FROM ? p->from : bch_db_int(db, "SELECT min(at) FROM snapshot", BCH_TIME_NONE);
    *to = p->have & P_TO ? p->to : bch_report_snapshot_at(db, BCH_TIME_NONE);
    if (*from != BCH_TIME_NONE && *to != BCH_TIME_NONE && *from > *to) {
        if (!(p->have & P_TO)) {
            *to = *from;
        } else {
            *from = *to;
        }
    }
}

/* {"from", "to", key: value} with value stolen. */
static json_t *with_period(bch_time from, bch_time to, const char *key, json_t *value)
{
    if (!value) {
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o}", "from", bch_json_time(from), "to", bch_json_time(to), key,
                     value);
}

/* ------------------------------------------------------------ builders */

static json_t *b_network(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                         struct http_reply *r)
{
    (void)q;
    (void)p;
    (void)r;
    return bch_api_network(db, BCH_API_STALE_S);
}

static json_t *b_summary(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                         struct http_reply *r)
{
    struct bch_report_query rq;
    char err[256] = "";

    (void)q;
    (void)r;
    bch_report_query_default(&rq);
    rq.at = p->at;
    rq.from = p->from;
    rq.to = p->to;
    rq.limit = p->have & P_LIMIT ? p->limit : SUMMARY_DEFAULT_LIMIT;
    rq.min_duration_s = p->min_duration_s;
    rq.history = p->history; /* false = report --no-history: the live dashboard's summary */
    return bch_report_summary(db, &rq, err, sizeof(err));
}

static json_t *b_jams(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                      struct http_reply *r)
{
    bch_time from, to;

    (void)q;
    (void)r;
    period(db, p, &from, &to);
    return with_period(from, to, "jams", bch_report_jams(db, from, to, 0));
}

static json_t *b_queues(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                        struct http_reply *r)
{
    bch_time at = bch_report_snapshot_at(db, p->at);

    (void)q;
    (void)r;
    return json_pack("{s:o, s:o}", "at", bch_json_time(at), "queues",
                     at == BCH_TIME_NONE ? json_array() : bch_report_queues(db, at));
}

static json_t *b_hotspots(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                          struct http_reply *r)
{
    bch_time from, to;
    json_t *hot;

    (void)q;
    (void)r;
    period(db, p, &from, &to);
    hot = bch_report_hotspots(db, from, to, p->by,
                              p->have & P_LIMIT ? p->limit : HOTSPOTS_DEFAULT_LIMIT);
    if (!hot) {
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "by", p->by, "from", bch_json_time(from), "to",
                     bch_json_time(to), "hotspots", hot);
}

static json_t *b_profile(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                         struct http_reply *r)
{
    bch_time from, to;
    json_t *cells;

    (void)q;
    (void)r;
    period(db, p, &from, &to);
    cells = bch_api_profile(db, from, to);
    if (!cells) {
        return NULL;
    }
    return json_pack("{s:o, s:o, s:s, s:o}", "from", bch_json_time(from), "to", bch_json_time(to),
                     "tz", "Europe/Paris", "cells", cells);
}

static json_t *b_timeseries(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                            struct http_reply *r)
{
    bch_time from, to;

    (void)q;
    (void)r;
    period(db, p, &from, &to);
    return with_period(from, to, "points", bch_api_timeseries(db, from, to, BCH_API_MAX_POINTS));
}

static json_t *b_history(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                         struct http_reply *r)
{
    bch_time from, to;
    bool found = false;
    json_t *h;

    period(db, p, &from, &to);
    h = bch_api_segment_history(db, q->gid, from, to, &found);
    if (!h && !found) {
        http_reply_error(r, MHD_HTTP_NOT_FOUND, "no segment with gid %lld", (long long)q->gid);
    }
    return h;
}

static json_t *b_health(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                        struct http_reply *r)
{
    (void)q;
    (void)p;
    (void)r;
    return bch_api_health(db, bch_now());
}

/* ------------------------------------------------------------ history */

/*
 * The range of a history route: the given bounds, else the first and last
 * hour of the layer (first, last).  As period(), a defaulted bound never
 * makes the range empty; with an empty layer it takes the given bound.
 */
static void layer_period(const struct http_params *p, bch_time first, bch_time last, bch_time *from,
                         bch_time *to)
{
    *from = p->have & P_FROM ? p->from : first;
    *to = p->have & P_TO ? p->to : last;
    if (*from == BCH_TIME_NONE) {
        *from = *to;
    } else if (*to == BCH_TIME_NONE) {
        *to = *from;
    } else if (*from > *to) {
        if (!(p->have & P_TO)) {
            *to = *from;
        } else {
            *from = *to;
        }
    }
}

/* Range of the hourly history routes; false on a query error. */
static bool history_period(sqlite3 *db, const struct http_params *p, bch_time *from, bch_time *to)
{
    bch_time first, last;

    if (bch_api_history_bounds(db, &first, &last)) {
        return false;
    }
    layer_period(p, first, last, from, to);
    return true;
}

/*
 * One hourly-layer list over the route's range, which goes to *from, *to.
 * With nothing in the layer and no range given, the range is null and the
 * list empty: the builders would read an open range as "everything", which
 * includes the minute rows of replayed snapshots.
 */
static json_t *history_list(sqlite3 *db, const struct http_params *p,
                            json_t *(*fn)(sqlite3 *, const struct bch_history_query *),
                            bch_time *from, bch_time *to)
{
    struct bch_history_query hq;

    *from = *to = BCH_TIME_NONE;
    if (!history_period(db, p, from, to)) {
        return NULL;
    }
    if (*from == BCH_TIME_NONE) {
        return json_array();
    }
    bch_api_history_query(&hq, *from, *to, 0);
    return fn(db, &hq);
}

static json_t *b_hist_overview(sqlite3 *db, const struct http_request *q,
                               const struct http_params *p, struct http_reply *r)
{
    (void)q;
    (void)p;
    (void)r;
    return bch_api_history_overview(db);
}

static json_t *b_hist_daily(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                            struct http_reply *r)
{
    bch_time from, to;
    json_t *days;

    (void)q;
    (void)r;
    days = history_list(db, p, bch_history_daily, &from, &to);
    return with_period(from, to, "days", days);
}

static json_t *b_hist_profile(sqlite3 *db, const struct http_request *q,
                              const struct http_params *p, struct http_reply *r)
{
    bch_time from, to;
    json_t *cells;

    (void)q;
    (void)r;
    cells = history_list(db, p, bch_history_profile, &from, &to);
    if (!cells) {
        return NULL;
    }
    return json_pack("{s:o, s:o, s:s, s:o}", "from", bch_json_time(from), "to", bch_json_time(to),
                     "tz", "Europe/Paris", "cells", cells);
}

static json_t *b_hist_trend(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                            struct http_reply *r)
{
    bch_time from, to;
    json_t *months;

    (void)q;
    (void)r;
    months = history_list(db, p, bch_history_trend_monthly, &from, &to);
    return with_period(from, to, "months", months);
}

static json_t *b_hist_hotspots(sqlite3 *db, const struct http_request *q,
                               const struct http_params *p, struct http_reply *r)
{
    struct bch_history_query hq;
    bch_time from, to;
    json_t *hot, *o;

    (void)q;
    (void)r;
    if (!history_period(db, p, &from, &to)) {
        return NULL;
    }
    bch_api_history_query(&hq, from, to, p->have & P_LIMIT ? p->limit : HOTSPOTS_DEFAULT_LIMIT);
    if (from == BCH_TIME_NONE) {
        hq.from = hq.to = 0; /* nothing to rank: the empty range [0, 0) */
    }
    hot = bch_history_hotspots(db, &hq);
    if (!hot) {
        return NULL;
    }
    o = json_pack("{s:o, s:o}", "from", bch_json_time(from), "to", bch_json_time(to));
    if (!o || json_object_update(o, hot)) {
        json_decref(o);
        o = NULL;
    }
    json_decref(hot);
    return o;
}

static json_t *b_hist_periods(sqlite3 *db, const struct http_request *q,
                              const struct http_params *p, struct http_reply *r)
{
    struct bch_history_query hq;
    bch_time from, to;

    (void)q;
    (void)r;
    if (!history_period(db, p, &from, &to)) {
        return NULL;
    }
    /* The periods of the `period` table, each with its own windows. */
    bch_api_history_query(&hq, from, to, 0);
    return with_period(from, to, "periods", bch_history_periods(db, &hq));
}

static json_t *b_corridors(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                           struct http_reply *r)
{
    struct bch_history_query hq;
    bch_time first, last, from, to;

    (void)q;
    (void)r;
    if (bch_api_travel_bounds(db, &first, &last)) {
        return NULL;
    }
    layer_period(p, first, last, &from, &to);
    bch_api_history_query(&hq, from, to, 0);
    return with_period(from, to, "corridors", bch_history_corridors(db, &hq));
}

static json_t *b_corridors_geojson(sqlite3 *db, const struct http_request *q,
                                   const struct http_params *p, struct http_reply *r)
{
    (void)q;
    (void)p;
    (void)r;
    return bch_api_corridors_geojson(db);
}

static json_t *b_stations(sqlite3 *db, const struct http_request *q, const struct http_params *p,
                          struct http_reply *r)
{
    (void)q;
    (void)p;
    (void)r;
    return bch_api_stations(db);
}

#define RANGE (P_FROM | P_TO)

void http_api_network(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {0, b_network, true, false};

    api_respond(q, r, &a);
}

void http_api_summary(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {P_AT | RANGE | P_LIMIT | P_MIN_DURATION | P_HISTORY,
                                       b_summary, true, true};

    api_respond(q, r, &a);
}

void http_api_jams(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_jams, true, false};

    api_respond(q, r, &a);
}

void http_api_queues(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {P_AT, b_queues, true, false};

    api_respond(q, r, &a);
}

void http_api_hotspots(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE | P_BY | P_LIMIT, b_hotspots, true, false};

    api_respond(q, r, &a);
}

void http_api_profile(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_profile, true, false};

    api_respond(q, r, &a);
}

void http_api_timeseries(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_timeseries, true, false};

    api_respond(q, r, &a);
}

void http_api_history(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_history, true, false};

    api_respond(q, r, &a);
}

void http_api_hist_overview(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {0, b_hist_overview, true, false, true};

    api_respond(q, r, &a);
}

void http_api_hist_daily(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_hist_daily, true, false, true};

    api_respond(q, r, &a);
}

void http_api_hist_profile(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_hist_profile, true, false, true};

    api_respond(q, r, &a);
}

void http_api_hist_trend(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_hist_trend, true, false, true};

    api_respond(q, r, &a);
}

void http_api_hist_hotspots(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE | P_LIMIT, b_hist_hotspots, true, false, true};

    api_respond(q, r, &a);
}

void http_api_hist_periods(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_hist_periods, true, false, true};

    api_respond(q, r, &a);
}

void http_api_corridors(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {RANGE, b_corridors, true, false, true};

    api_respond(q, r, &a);
}

void http_api_corridors_geojson(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {0, b_corridors_geojson, true, false, true};

    api_respond(q, r, &a);
}

void http_api_stations(struct http_request *q, struct http_reply *r)
{
    static const struct api_route a = {0, b_stations, true, false, true};

    api_respond(q, r, &a);
}

void http_api_health(struct http_request *q, struct http_reply *r)
{
    /* Judged against the wall clock: never cached. */
    static const struct api_route a = {0, b_health, false, false};

    api_respond(q, r, &a);
}

/* ------------------------------------------------------------ metrics */

static const double duration_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

static struct bch_metric *m_requests, *m_duration, *m_sse, *m_segments, *m_share, *m_congested_km,
    *m_known_km, *m_active_jams, *m_newest_age, *m_last_snapshot, *m_rejected;

void http_metrics_init(void)
{
    m_requests = bch_metric_counter("bouchon_http_requests_total",
                                    "HTTP requests answered, by route template and status code");
    m_duration = bch_metric_histogram(
        "bouchon_http_request_duration_seconds",
        "Time from receiving a request to having sent its answer, by route template",
        duration_buckets, BCH_ARRAY_LEN(duration_buckets));
    m_sse = bch_metric_gauge("bouchon_http_event_streams", "Open /api/v1/events streams");
    m_segments = bch_metric_gauge("bouchon_segments", "Segments per state in the latest snapshot");
    m_share = bch_metric_gauge("bouchon_congested_share",
                               "Congested share of the known network in the latest snapshot");
    m_congested_km =
        bch_metric_gauge("bouchon_congested_km",
                         "Known length in EMBOUTEILLE or PARALYSE in the latest snapshot, km");
    m_known_km = bch_metric_gauge("bouchon_known_km",
                                  "Length of the known network in the latest snapshot, km");
    m_active_jams = bch_metric_gauge("bouchon_active_jams", "Jam episodes in progress");
    m_newest_age = bch_metric_gauge("bouchon_newest_observation_age_seconds",
                                    "Wall-clock age of the newest mdate of the latest snapshot");
    m_last_snapshot = bch_metric_gauge("bouchon_last_snapshot_timestamp_seconds",
                                       "Instant of the latest snapshot, Unix seconds");
    m_rejected = bch_metric_gauge("bouchon_rejected_records",
                                  "Records rejected in the warehouse, by reason (top 20)");
}

void http_metrics_request(const char *route, unsigned status, double seconds, bool timed)
{
    char labels[160], code[16], rl[128];

    bch_metrics_label(rl, sizeof(rl), "route", route);
    snprintf(code, sizeof(code), "%u", status);
    snprintf(labels, sizeof(labels), "%s,code=\"%s\"", rl, code);
    bch_metric_add(m_requests, labels, 1);
    if (timed) {
        bch_metric_observe(m_duration, rl, seconds);
    }
}

static void refresh_gauges(struct bch_http_server *s)
{
    static const char *const states[] = {"INCONNU", "FLUIDE", "DENSE", "EMBOUTEILLE", "PARALYSE"};
    struct bch_api_gauges g;
    struct worker_db *w;
    char err[256], label[192];
    int rc;

    bch_metric_set(m_sse, NULL, http_sse_clients(s));
    w = http_worker_db(s, err, sizeof(err));
    if (!w) {
        bch_warn("http", "metrics: %s", err);
        return;
    }
    if (sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        bch_warn("http", "metrics: %s", sqlite3_errmsg(w->db));
        return;
    }
    rc = bch_api_gauges_read(w->db, &g);
    sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    if (rc) {
        bch_warn("http", "metrics: cannot read the warehouse figures");
    }
    bch_metric_clear(m_segments);
    bch_metric_clear(m_share);
    bch_metric_clear(m_congested_km);
    bch_metric_clear(m_known_km);
    bch_metric_clear(m_newest_age);
    bch_metric_clear(m_last_snapshot);
    bch_metric_clear(m_rejected);
    if (g.have_snapshot) {
        for (int i = 0; i < 5; i++) {
            bch_metrics_label(label, sizeof(label), "state", states[i]);
            bch_metric_set(m_segments, label, (double)g.states[i]);
        }
        if (!isnan(g.congested_share)) {
            bch_metric_set(m_share, NULL, g.congested_share);
        }
        bch_metric_set(m_congested_km, NULL, g.congested_km);
        bch_metric_set(m_known_km, NULL, g.known_km);
        bch_metric_set(m_last_snapshot, NULL, (double)g.at);
        if (g.newest_mdate != BCH_TIME_NONE) {
            bch_metric_set(m_newest_age, NULL, (double)(bch_now() - g.newest_mdate));
        }
    }
    bch_metric_set(m_active_jams, NULL, (double)g.active_jams);
    for (size_t i = 0; i < g.nreasons; i++) {
        bch_metrics_label(label, sizeof(label), "reason", g.reasons[i].reason);
        bch_metric_set(m_rejected, label, (double)g.reasons[i].count);
    }
}

void http_metrics(struct http_request *q, struct http_reply *r)
{
    struct bch_buf out;

    r->no_store = true;
    bch_buf_init(&out, 16u << 20);
    pthread_mutex_lock(&q->srv->scrape_lock);
    refresh_gauges(q->srv);
    if (bch_metrics_render(&out) || bch_buf_add(&out, "", 0)) {
        pthread_mutex_unlock(&q->srv->scrape_lock);
        bch_buf_release(&out);
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics");
        return;
    }
    pthread_mutex_unlock(&q->srv->scrape_lock);
    {
        size_t len = out.len;

        http_reply_body(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                        bch_buf_take(&out), len, true);
    }
}
