/*
 * history.c - the figures of the hourly layer, travel times and counts.
 *
 * Network figures are built from per-hour sums: the imported roll-up
 * history_hour (fixed point, exact) plus the minute observations of the
 * same hours aggregated here (hourly_segment), merged hour by hour.
 * Segment figures come from history_day plus the minute rows per ident and
 * local day.  docs/HISTORY.md defines every figure.
 */
#include "core/compat.h"

#include <math.h>

#include "core/grow.h"
#include "core/log.h"
#include "report/history.h"
#include "report/report.h"
#include "warehouse/db.h"

#define NIGHT_MIN_SAMPLES 10 /* night samples a corridor-month needs for a night free flow */
#define FREE_FLOW_Q       0.15
#define ANOMALY_Z         3.5
#define ANOMALY_MIN_N     8 /* hours of the same hour-of-week needed for a baseline */
#define CONGESTED_INDEX   0.5

void bch_history_query_default(struct bch_history_query *q)
{
    memset(q, 0, sizeof(*q));
    q->from = BCH_TIME_NONE;
    q->to = BCH_TIME_NONE;
    q->limit = 10;
    q->min_known = 24;
}

/* ----------------------------------------------------------- statistics */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : (x > y ? 1 : 0);
}

double bch_quantile(double *x, size_t n, double q)
{
    double pos, frac;
    size_t lo;

    if (n == 0) {
        return NAN;
    }
    qsort(x, n, sizeof(double), cmp_double);
    pos = q * (double)(n - 1);
    lo = (size_t)floor(pos);
    frac = pos - (double)lo;
    if (lo + 1 >= n) {
        return x[n - 1];
    }
    return x[lo] + frac * (x[lo + 1] - x[lo]);
}

double bch_robust_z(double v, double *x, size_t n)
{
    double med, mad;
    double *dev;

    if (n < 4) {
        return NAN;
    }
    med = bch_quantile(x, n, 0.5);
    dev = malloc(n * sizeof(double));
    if (!dev) {
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        dev[i] = fabs(x[i] - med);
    }
    mad = bch_quantile(dev, n, 0.5);
    free(dev);
    if (!(mad > 0)) {
        return NAN;
    }
    return (v - med) / (1.4826 * mad);
}

/* ---------------------------------------------------------- SQL helpers */

static void fn_paris(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    int which = *(const int *)sqlite3_user_data(ctx);
    struct bch_local_tm tm;

    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    bch_paris_local(sqlite3_value_int64(argv[0]), &tm);
    if (which == 0) {
        sqlite3_result_int64(ctx, bch_days_from_civil(tm.year, tm.month, tm.day));
    } else if (which == 1) {
        sqlite3_result_int(ctx, tm.hour);
    } else {
        sqlite3_result_int(ctx, tm.weekday);
    }
}

int bch_history_register_sql(sqlite3 *db)
{
    static const int which[3] = {0, 1, 2};
    static const char *const names[3] = {"paris_day", "paris_hour", "paris_wday"};

    for (int i = 0; i < 3; i++) {
        if (sqlite3_create_function(db, names[i], 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                    (void *)&which[i], fn_paris, NULL, NULL) != SQLITE_OK) {
            return -1;
        }
    }
    return 0;
}

static bool table_has_rows(sqlite3 *db, const char *table)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM %s)", table);
    return bch_db_int(db, sql, 0) == 1;
}

static int64_t local_day(bch_time t)
{
    struct bch_local_tm tm;

    bch_paris_local(t, &tm);
    return bch_days_from_civil(tm.year, tm.month, tm.day);
}

static void day_text(int64_t day, char *buf, size_t len)
{
    int64_t y;
    int m, d;

    bch_civil_from_days(day, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02d", (long long)y, m, d);
}

static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jratio(double num, double den)
{
    return den > 0 ? json_real(num / den) : json_null();
}

/* Bounds of the query: [from, to) in UTC seconds. */
static void bounds(const struct bch_history_query *q, bch_time *from, bch_time *to)
{
    *from = q->from == BCH_TIME_NONE ? INT64_MIN / 4 : q->from;
    *to = q->to == BCH_TIME_NONE ? INT64_MAX / 4 : q->to;
}

/* ------------------------------------------------------- network hours */

struct nh {
    bch_time hour;
    int64_t day;
    int lhour, wday;
    int64_t rows, known, known_w, congested;
    double sum_idx, sum_w, sum_idx_w;
};

struct nhv {
    struct nh *v;
    size_t n, cap;
};

static struct nh *nh_push(struct nhv *a)
{
    struct nh *nv = bch_reserve(a->v, &a->cap, a->n + 1, sizeof(*nv), 1024);

    if (!nv) {
        return NULL;
    }
    a->v = nv;
    memset(&a->v[a->n], 0, sizeof(a->v[0]));
    return &a->v[a->n++];
}

/* Minute observations as index rows (shared by the network and segment queries):
 * k = known seconds; an ident's hour with a known imported score is left out. */
#define MINUTE_ROWS                                                                                \
    "SELECT h.hour AS hour, s.ident AS ident, s.gid AS gid, s.typevoie AS typevoie, "              \
    "s.commune AS commune, s.length_m AS length_m, "                                               \
    "h.s_fluide + h.s_dense + h.s_congested AS k, "                                                \
    "CASE WHEN h.s_fluide + h.s_dense + h.s_congested > 0 THEN "                                   \
    "(h.s_dense + 2.0 * h.s_congested) / 2.0 / (h.s_fluide + h.s_dense + h.s_congested) END "      \
    "AS idx FROM hourly_segment h JOIN segment s ON s.segment_id = h.segment_id "                  \
    "WHERE h.hour >= ?1 AND h.hour < ?2 AND NOT EXISTS (SELECT 1 FROM history_segment k2 "         \
    "JOIN hourly_score c2 ON c2.seg_key = k2.seg_key AND c2.hour = h.hour "                        \
    "WHERE k2.ident = s.ident AND c2.score IS NOT NULL)"

static int load_minute_hours(sqlite3 *db, bch_time from, bch_time to, struct nhv *out)
{
    static const char *sql = "SELECT hour, count(*), sum(k > 0), sum(idx), "
                             "sum(CASE WHEN k > 0 AND length_m IS NOT NULL THEN 1 ELSE 0 END), "
                             "sum(CASE WHEN k > 0 THEN length_m END), sum(idx * length_m), "
                             "sum(CASE WHEN idx >= 0.5 THEN 1 ELSE 0 END) FROM (" MINUTE_ROWS ") "
                             "GROUP BY hour ORDER BY hour";
    sqlite3_stmt *st = NULL;
    int step;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "minute hours: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct nh *h = nh_push(out);
        struct bch_local_tm tm;

        if (!h) {
            break;
        }
        h->hour = sqlite3_column_int64(st, 0);
        bch_paris_local(h->hour, &tm);
        h->day = bch_days_from_civil(tm.year, tm.month, tm.day);
        h->lhour = tm.hour;
        h->wday = tm.weekday;
        h->rows = sqlite3_column_int64(st, 1);
        h->known = sqlite3_column_int64(st, 2);
        h->sum_idx = sqlite3_column_double(st, 3);
        h->known_w = sqlite3_column_int64(st, 4);
        h->sum_w = sqlite3_column_double(st, 5);
        h->sum_idx_w = sqlite3_column_double(st, 6);
        h->congested = sqlite3_column_int64(st, 7);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : -1;
}

/*
 * Network hours of [from, to), imported and minute merged, in hour order.
 * 0, or -1 (out is released).
 */
static int load_hours(sqlite3 *db, bch_time from, bch_time to, struct nhv *out)
{
    static const char *sql =
        "SELECT hour, day, lhour, wday, rows, known, sum_idx_e9, known_w, sum_w_mm, "
        "sum_idx_w_e6, congested FROM history_hour WHERE hour >= ?1 AND hour < ?2 ORDER BY hour";
    struct nhv imp = {0}, min = {0};
    sqlite3_stmt *st = NULL;
    size_t i = 0, j = 0;
    int step = SQLITE_DONE;

    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "history hours: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct nh *h = nh_push(&imp);

        if (!h) {
            break;
        }
        h->hour = sqlite3_column_int64(st, 0);
        h->day = sqlite3_column_int64(st, 1);
        h->lhour = sqlite3_column_int(st, 2);
        h->wday = sqlite3_column_int(st, 3);
        h->rows = sqlite3_column_int64(st, 4);
        h->known = sqlite3_column_int64(st, 5);
        h->sum_idx = (double)sqlite3_column_int64(st, 6) / 1e9;
        h->known_w = sqlite3_column_int64(st, 7);
        h->sum_w = (double)sqlite3_column_int64(st, 8) / 1e3;
        h->sum_idx_w = (double)sqlite3_column_int64(st, 9) / 1e6;
        h->congested = sqlite3_column_int64(st, 10);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE || load_minute_hours(db, from, to, &min)) {
        free(imp.v);
        free(min.v);
        return -1;
    }
    if (min.n == 0) {
        *out = imp;
        free(min.v);
        return 0;
    }
    while (i < imp.n || j < min.n) {
        struct nh *o = nh_push(out);

        if (!o) {
            break;
        }
        if (j >= min.n || (i < imp.n && imp.v[i].hour < min.v[j].hour)) {
            *o = imp.v[i++];
        } else if (i >= imp.n || min.v[j].hour < imp.v[i].hour) {
            *o = min.v[j++];
        } else {
            *o = imp.v[i];
            o->rows += min.v[j].rows;
            o->known += min.v[j].known;
            o->known_w += min.v[j].known_w;
            o->congested += min.v[j].congested;
            o->sum_idx += min.v[j].sum_idx;
            o->sum_w += min.v[j].sum_w;
            o->sum_idx_w += min.v[j].sum_idx_w;
            i++;
            j++;
        }
    }
    free(imp.v);
    free(min.v);
    return 0;
}

/* Sums over a set of hours. */
struct agg {
    int64_t rows, known, known_w, congested, am_known, pm_known, hours;
    double sum_idx, sum_w, sum_idx_w, am_sum, pm_sum;
};

static void agg_add(struct agg *a, const struct nh *h)
{
    a->rows += h->rows;
    a->known += h->known;
    a->known_w += h->known_w;
    a->congested += h->congested;
    a->sum_idx += h->sum_idx;
    a->sum_w += h->sum_w;
    a->sum_idx_w += h->sum_idx_w;
    a->hours += h->rows > 0;
    if (h->lhour >= 7 && h->lhour <= 9) {
        a->am_known += h->known;
        a->am_sum += h->sum_idx;
    } else if (h->lhour >= 17 && h->lhour <= 19) {
        a->pm_known += h->known;
        a->pm_sum += h->sum_idx;
    }
}

static json_t *agg_json(const struct agg *a)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "index", jratio(a->sum_idx, (double)a->known),
        "index_weighted", jratio(a->sum_idx_w, a->sum_w), "am_index",
        jratio(a->am_sum, (double)a->am_known), "pm_index", jratio(a->pm_sum, (double)a->pm_known),
        "known_segment_hours", (json_int_t)a->known, "weighted_segment_hours",
        (json_int_t)a->known_w, "congested_segment_hours", (json_int_t)a->congested);
}

static bool weekday(int wday)
{
    return wday >= 1 && wday <= 5;
}

/* ------------------------------------------------------------- overview */

/*
 * The frozen days of the imported layer (at least BCH_HISTORY_FROZEN_HOURS
 * hours with data, all with the same network figures), as runs of
 * consecutive local days: {days, runs: [{from, to, days}]}.  From the
 * roll-up history_hour (one row per hour, exact sums) over all the data.
 * `daily`'s flag applies the same test to the hours of its range in the one
 * hourly layer: the two agree on whole days of imported data, which is where
 * a frozen feed shows (a live day with minute data is never frozen).
 */
static json_t *frozen_runs(sqlite3 *db)
{
    static const char sql[] =
        "SELECT day FROM history_hour WHERE known > 0 GROUP BY day "
        "HAVING count(*) >= ?1 AND min(known) = max(known) AND min(sum_idx_e9) = max(sum_idx_e9) "
        "ORDER BY day";
    sqlite3_stmt *st = NULL;
    json_t *runs = json_array();
    int64_t start = 0, prev = 0, total = 0;
    bool open = false;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "frozen days: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return json_pack("{s:I, s:o}", "days", (json_int_t)0, "runs", runs);
    }
    sqlite3_bind_int(st, 1, BCH_HISTORY_FROZEN_HOURS);
    for (;;) {
        int64_t day = 0;
        bool row = sqlite3_step(st) == SQLITE_ROW; /* an error ends the list as DONE */

        if (row) {
            day = sqlite3_column_int64(st, 0);
            total++;
        }
        if (open && (!row || day != prev + 1)) {
            char a[16], b[16];

            day_text(start, a, sizeof(a));
            day_text(prev, b, sizeof(b));
            json_array_append_new(runs, json_pack("{s:s, s:s, s:I}", "from", a, "to", b, "days",
                                                  (json_int_t)(prev - start + 1)));
            open = false;
        }
        if (!row) {
            break;
        }
        if (!open) {
            start = day;
            open = true;
        }
        prev = day;
    }
    sqlite3_finalize(st);
    return json_pack("{s:I, s:o}", "days", (json_int_t)total, "runs", runs);
}

json_t *bch_history_overview(sqlite3 *db, const struct bch_history_query *q)
{
    json_t *o = json_object();
    sqlite3_stmt *st = NULL;

    (void)q;
    if (sqlite3_prepare_v2(
            db,
            /* stored, unknown, unmapped_rows from the roll-ups: what is stored, whatever
             * the order of files, resumes and segments files (docs/HISTORY.md) */
            "SELECT count(*), sum(f.rows), (SELECT coalesce(sum(rows), 0) FROM history_hour), "
            "sum(f.rejected), sum(f.coerced), sum(f.duplicates), sum(f.merged), "
            "(SELECT coalesce(sum(rows - known), 0) FROM history_hour), sum(f.capped), "
            "sum(f.raised), (SELECT coalesce(sum(rows), 0) FROM history_day WHERE seg_key IN "
            "(SELECT seg_key FROM history_segment WHERE ident IS NULL)) "
            "FROM import_file f JOIN raw_source r USING (source_id) "
            "WHERE r.dataset = 'ci_trafi_l_hourly'",
            -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        json_object_set_new(o, "imported",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                      "files", (json_int_t)sqlite3_column_int64(st, 0), "rows",
                                      (json_int_t)sqlite3_column_int64(st, 1), "stored",
                                      (json_int_t)sqlite3_column_int64(st, 2), "rejected",
                                      (json_int_t)sqlite3_column_int64(st, 3), "coerced",
                                      (json_int_t)sqlite3_column_int64(st, 4), "duplicates",
                                      (json_int_t)sqlite3_column_int64(st, 5), "merged",
                                      (json_int_t)sqlite3_column_int64(st, 6), "unknown",
                                      (json_int_t)sqlite3_column_int64(st, 7), "capped",
                                      (json_int_t)sqlite3_column_int64(st, 8), "raised",
                                      (json_int_t)sqlite3_column_int64(st, 9), "unmapped_rows",
                                      (json_int_t)sqlite3_column_int64(st, 10)));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT sum(rows), sum(known), min(hour), max(hour) FROM history_hour",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        bch_time first =
            sqlite3_column_type(st, 2) == SQLITE_NULL ? BCH_TIME_NONE : sqlite3_column_int64(st, 2);
        bch_time last =
            sqlite3_column_type(st, 3) == SQLITE_NULL ? BCH_TIME_NONE : sqlite3_column_int64(st, 3);

        json_object_set_new(o, "segment_hours", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(o, "known_segment_hours", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(o, "first_hour", bch_json_time(first));
        json_object_set_new(o, "last_hour", bch_json_time(last));
    }
    sqlite3_finalize(st);
    json_object_set_new(o, "segments",
                        json_integer(bch_db_int(db, "SELECT count(*) FROM history_segment", 0)));
    json_object_set_new(
        o, "mapped_segments",
        json_integer(
            bch_db_int(db, "SELECT count(*) FROM history_segment WHERE ident IS NOT NULL", 0)));
    json_object_set_new(o, "tied_gids",
                        json_integer(bch_db_int(db, "SELECT count(*) FROM history_gid", 0)));
    json_object_set_new(o, "minute_segment_hours",
                        json_integer(bch_db_int(db, "SELECT count(*) FROM hourly_segment", 0)));
    json_object_set_new(o, "frozen", frozen_runs(db));
    json_object_set_new(
        o, "range",
        json_pack("{s:o, s:o}", "from", bch_json_time(q->from), "to", bch_json_time(q->to)));
    return o;
}

/* ------------------------------------------------------------ daily etc. */

/* Hours of the local day (23, 24 or 25). */
static int day_hours(int64_t day)
{
    int64_t y, y2;
    int m, d, m2, d2;

    bch_civil_from_days(day, &y, &m, &d);
    bch_civil_from_days(day + 1, &y2, &m2, &d2);
    return (int)((bch_paris_day_start(y2, m2, d2) - bch_paris_day_start(y, m, d)) / 3600);
}

/*
 * The local days `daily` lists: those of the range (of the hourly layer when
 * a bound is absent).  A range of more than BCH_HISTORY_MAX_DAYS days is
 * first clamped to the days of the layer (its first and last hour, imported
 * or minute rows), then, if still longer, cut to its first
 * BCH_HISTORY_MAX_DAYS days.  0, or -1 on a warehouse failure; sp->days is 0
 * when there is nothing to list.
 */
struct day_span {
    int64_t first, last, days;
    int64_t asked; /* days of the range as asked (0 when open on an empty layer) */
    bool clamped, truncated;
};

static int daily_span(sqlite3 *db, const struct bch_history_query *q, struct day_span *sp)
{
    sqlite3_stmt *st = NULL;
    bch_time lo = BCH_TIME_NONE, hi = BCH_TIME_NONE;
    int64_t lfirst = 0, llast = -1;
    int rc;

    memset(sp, 0, sizeof(*sp));
    if (sqlite3_prepare_v2(db,
                           "SELECT min(h), max(h) FROM (SELECT min(hour) AS h FROM history_hour "
                           "UNION ALL SELECT max(hour) FROM history_hour UNION ALL SELECT "
                           "min(hour) FROM hourly_segment UNION ALL SELECT max(hour) FROM "
                           "hourly_segment)",
                           -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "daily bounds: %s", sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        lo = sqlite3_column_int64(st, 0);
        hi = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        return -1;
    }
    if (lo != BCH_TIME_NONE) {
        lfirst = local_day(lo);
        llast = local_day(hi);
    }
    if ((q->from == BCH_TIME_NONE || q->to == BCH_TIME_NONE) && lo == BCH_TIME_NONE) {
        return 0;
    }
    sp->first = q->from != BCH_TIME_NONE ? local_day(q->from) : lfirst;
    sp->last = q->to != BCH_TIME_NONE ? local_day(q->to - 1) : llast;
    if (sp->last < sp->first) {
        return 0;
    }
    sp->asked = sp->last - sp->first + 1;
    if (sp->asked > BCH_HISTORY_MAX_DAYS) {
        sp->clamped = true;
        sp->first = sp->first > lfirst ? sp->first : lfirst;
        sp->last = sp->last < llast ? sp->last : llast;
        if (lo == BCH_TIME_NONE || sp->last < sp->first) {
            return 0;
        }
        if (sp->last - sp->first + 1 > BCH_HISTORY_MAX_DAYS) {
            sp->truncated = true;
            sp->last = sp->first + BCH_HISTORY_MAX_DAYS - 1;
        }
    }
    sp->days = sp->last - sp->first + 1;
    return 0;
}

json_t *bch_history_daily_range(sqlite3 *db, const struct bch_history_query *q)
{
    struct day_span sp;
    char a[16], b[16];

    if (daily_span(db, q, &sp)) {
        return NULL;
    }
    day_text(sp.first, a, sizeof(a));
    day_text(sp.last, b, sizeof(b));
    return json_pack("{s:o, s:o, s:I, s:I, s:b, s:b, s:i}", "from",
                     sp.days ? json_string(a) : json_null(), "to",
                     sp.days ? json_string(b) : json_null(), "days", (json_int_t)sp.days,
                     "days_asked", (json_int_t)sp.asked, "clamped_to_data", sp.clamped, "truncated",
                     sp.truncated, "max_days", BCH_HISTORY_MAX_DAYS);
}

json_t *bch_history_daily(sqlite3 *db, const struct bch_history_query *q)
{
    struct day_span sp;
    struct nhv hv;
    bch_time from, to;
    size_t i = 0;
    json_t *arr;

    bounds(q, &from, &to);
    if (daily_span(db, q, &sp) || load_hours(db, from, to, &hv)) {
        return NULL;
    }
    arr = json_array();
    /* Every local day of the span, days without data too (null indices). */
    for (int64_t day = sp.first; sp.days > 0 && day <= sp.last; day++) {
        struct agg a = {0};
        const struct nh *first = NULL;
        int known_hours = 0;
        bool same = true;
        char date[16];
        json_t *e;

        while (i < hv.n && hv.v[i].day < day) {
            i++;
        }
        while (i < hv.n && hv.v[i].day == day) {
            const struct nh *h = &hv.v[i];

            agg_add(&a, h);
            if (h->known > 0) {
                /* the same segment-hours and the same sum of scores, hour after
                 * hour: the sums of one frozen picture (the frozen flag below) */
                if (!first) {
                    first = h;
                } else if (h->known != first->known || h->sum_idx != first->sum_idx) {
                    same = false;
                }
                known_hours++;
            }
            i++;
        }
        day_text(day, date, sizeof(date));
        e = agg_json(&a);
        json_object_set_new(e, "date", json_string(date));
        json_object_set_new(e, "segment_hours", json_integer(a.rows));
        json_object_set_new(e, "hours", json_integer(day_hours(day)));
        json_object_set_new(e, "hours_with_data", json_integer(a.hours));
        json_object_set_new(e, "weekday", json_integer(((day % 7) + 7 + 3) % 7 + 1));
        /* A frozen feed: every hour of the day gives the network exactly the
         * same figures (real traffic never does; the history holds 44 such
         * days, e.g. 2021-08-13..31 and 2021-12-21..2022-01-01).  Flagged, not
         * left out: the figures stay as defined, the reader is warned. */
        json_object_set_new(e, "frozen",
                            json_boolean(same && known_hours >= BCH_HISTORY_FROZEN_HOURS));
        json_array_append_new(arr, e);
    }
    free(hv.v);
    return arr;
}

json_t *bch_history_profile(sqlite3 *db, const struct bch_history_query *q)
{
    struct agg cell[7][24];
    struct nhv hv;
    bch_time from, to;
    json_t *arr;

    bounds(q, &from, &to);
    if (load_hours(db, from, to, &hv)) {
        return NULL;
    }
    memset(cell, 0, sizeof(cell));
    for (size_t i = 0; i < hv.n; i++) {
        agg_add(&cell[hv.v[i].wday - 1][hv.v[i].lhour], &hv.v[i]);
    }
    free(hv.v);
    arr = json_array();
    for (int w = 0; w < 7; w++) {
        for (int h = 0; h < 24; h++) {
            const struct agg *a = &cell[w][h];

            if (a->known == 0) {
                continue;
            }
            json_array_append_new(
                arr, json_pack("{s:i, s:i, s:o, s:o, s:I, s:I}", "weekday", w + 1, "hour", h,
                               "index", jratio(a->sum_idx, (double)a->known), "index_weighted",
                               jratio(a->sum_idx_w, a->sum_w), "known_segment_hours",
                               (json_int_t)a->known, "hours", (json_int_t)a->hours));
        }
    }
    return arr;
}

json_t *bch_history_peaks(sqlite3 *db, const struct bch_history_query *q)
{
    struct agg all = {0}, byhour[24];
    struct nhv hv;
    bch_time from, to;
    int best = -1;

    bounds(q, &from, &to);
    if (load_hours(db, from, to, &hv)) {
        return NULL;
    }
    memset(byhour, 0, sizeof(byhour));
    for (size_t i = 0; i < hv.n; i++) {
        if (weekday(hv.v[i].wday)) {
            agg_add(&all, &hv.v[i]);
            agg_add(&byhour[hv.v[i].lhour], &hv.v[i]);
        }
    }
    free(hv.v);
    for (int h = 0; h < 24; h++) {
        if (byhour[h].known > 0 &&
            (best < 0 || byhour[h].sum_idx / (double)byhour[h].known >
                             byhour[best].sum_idx / (double)byhour[best].known)) {
            best = h;
        }
    }
    return json_pack(
        "{s:o, s:o, s:o, s:I, s:I, s:o, s:o}", "weekday_index",
        jratio(all.sum_idx, (double)all.known), "am_index",
        jratio(all.am_sum, (double)all.am_known), "pm_index",
        jratio(all.pm_sum, (double)all.pm_known), "am_known_segment_hours",
        (json_int_t)all.am_known, "pm_known_segment_hours", (json_int_t)all.pm_known,
        "busiest_hour", best < 0 ? json_null() : json_integer(best), "busiest_hour_index",
        best < 0 ? json_null() : json_real(byhour[best].sum_idx / (double)byhour[best].known));
}

json_t *bch_history_trend_monthly(sqlite3 *db, const struct bch_history_query *q)
{
    struct nhv hv;
    bch_time from, to;
    json_t *arr;

    bounds(q, &from, &to);
    if (load_hours(db, from, to, &hv)) {
        return NULL;
    }
    arr = json_array();
    for (size_t i = 0; i < hv.n;) {
        struct agg a = {0}, wk = {0};
        int64_t y, y2, last_day = INT64_MIN;
        int m, m2, d, days = 0;
        char month[16];
        json_t *e;

        bch_civil_from_days(hv.v[i].day, &y, &m, &d);
        for (; i < hv.n; i++) {
            bch_civil_from_days(hv.v[i].day, &y2, &m2, &d);
            if (y2 != y || m2 != m) {
                break;
            }
            agg_add(&a, &hv.v[i]);
            if (weekday(hv.v[i].wday)) {
                agg_add(&wk, &hv.v[i]);
            }
            if (hv.v[i].known > 0 && hv.v[i].day != last_day) {
                days++;
                last_day = hv.v[i].day;
            }
        }
        snprintf(month, sizeof(month), "%04lld-%02d", (long long)y, m);
        e = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:i}", "month", month, "index",
                      jratio(a.sum_idx, (double)a.known), "index_weighted",
                      jratio(a.sum_idx_w, a.sum_w), "am_index",
                      jratio(wk.am_sum, (double)wk.am_known), "pm_index",
                      jratio(wk.pm_sum, (double)wk.pm_known), "known_segment_hours",
                      (json_int_t)a.known, "days", days);
        json_array_append_new(arr, e);
    }
    free(hv.v);
    return arr;
}

/* Robust anomalies of the network hourly index by hour of week. */
json_t *bch_history_anomalies(sqlite3 *db, const struct bch_history_query *q)
{
    struct nhv hv;
    bch_time from, to;
    double *vals[168] = {0};
    double med_b[168], mad_b[168];
    size_t nv[168] = {0}, cap[168] = {0};
    struct top {
        size_t i;
        double z, med;
    } *tops = NULL;
    size_t ntops = 0;
    long flagged = 0, tested = 0;
    json_t *list, *o;

    bounds(q, &from, &to);
    if (load_hours(db, from, to, &hv)) {
        return NULL;
    }
    for (size_t i = 0; i < hv.n; i++) {
        int b = (hv.v[i].wday - 1) * 24 + hv.v[i].lhour;

        if (hv.v[i].known == 0) {
            continue;
        }
        double *n = bch_reserve(vals[b], &cap[b], nv[b] + 1, sizeof(double), 64);

        if (!n) {
            continue;
        }
        vals[b] = n;
        vals[b][nv[b]++] = hv.v[i].sum_idx / (double)hv.v[i].known;
    }
    /* one baseline per hour of week: median and MAD */
    for (int b = 0; b < 168; b++) {
        med_b[b] = NAN;
        mad_b[b] = NAN;
        if (nv[b] >= ANOMALY_MIN_N) {
            double *dev = malloc(nv[b] * sizeof(double));

            med_b[b] = bch_quantile(vals[b], nv[b], 0.5);
            for (size_t k = 0; dev && k < nv[b]; k++) {
                dev[k] = fabs(vals[b][k] - med_b[b]);
            }
            mad_b[b] = dev ? bch_quantile(dev, nv[b], 0.5) : NAN;
            free(dev);
        }
    }
    tops = calloc((size_t)q->limit + 1, sizeof(*tops));
    for (size_t i = 0; tops && i < hv.n; i++) {
        int b = (hv.v[i].wday - 1) * 24 + hv.v[i].lhour;
        double x, z, med;

        if (hv.v[i].known == 0 || nv[b] < ANOMALY_MIN_N) {
            continue;
        }
        x = hv.v[i].sum_idx / (double)hv.v[i].known;
        med = med_b[b];
        z = mad_b[b] > 0 ? (x - med) / (1.4826 * mad_b[b]) : NAN;
        tested++;
        if (!isfinite(z) || fabs(z) <= ANOMALY_Z) {
            continue;
        }
        flagged++;
        /* keep the limit largest |z| (insertion into a small sorted list) */
        {
            size_t k = ntops < (size_t)q->limit ? ntops++ : (size_t)q->limit;

            if (k == (size_t)q->limit && (k == 0 || fabs(z) <= fabs(tops[k - 1].z))) {
                continue;
            }
            if (k == (size_t)q->limit) {
                k--;
            }
            while (k > 0 && fabs(tops[k - 1].z) < fabs(z)) {
                tops[k] = tops[k - 1];
                k--;
            }
            tops[k].i = i;
            tops[k].z = z;
            tops[k].med = med;
        }
    }
    list = json_array();
    for (size_t k = 0; tops && k < ntops; k++) {
        const struct nh *h = &hv.v[tops[k].i];
        char local[32];

        bch_time_format_local(h->hour, local, sizeof(local));
        json_array_append_new(list,
                              json_pack("{s:o, s:s, s:f, s:f, s:f, s:I}", "hour",
                                        bch_json_time(h->hour), "local", local, "index",
                                        h->sum_idx / (double)h->known, "baseline", tops[k].med, "z",
                                        tops[k].z, "known_segment_hours", (json_int_t)h->known));
    }
    o = json_pack("{s:s, s:f, s:I, s:I, s:o}", "method",
                  "robust z of the network hourly index against the median and MAD of the same "
                  "hour of week",
                  "threshold", ANOMALY_Z, "hours_tested", (json_int_t)tested, "flagged",
                  (json_int_t)flagged, "top", list);
    for (int b = 0; b < 168; b++) {
        free(vals[b]);
    }
    free(tops);
    free(hv.v);
    return o;
}

/* ------------------------------------------------------ segment figures */

/* -------------------------------------------------- segment aggregates */

/* One segment over a set of local days: imported day roll-ups plus minute rows. */
struct sega {
    char key[64]; /* ident, or "gid:N" for an unmapped imported gid */
    char ident[64];
    char typevoie[48];
    char commune[64];
    int64_t gid;     /* 0 = unknown */
    double length_m; /* NaN = unknown */
    int64_t known, peak_known, congested;
    double sum, peak_sum;
};

struct segv {
    struct sega *v;
    size_t n, cap;
};

static struct sega *sega_push(struct segv *a)
{
    struct sega *nv = bch_reserve(a->v, &a->cap, a->n + 1, sizeof(*nv), 1024);

    if (!nv) {
        return NULL;
    }
    a->v = nv;
    memset(&a->v[a->n], 0, sizeof(a->v[0]));
    a->v[a->n].length_m = NAN;
    return &a->v[a->n++];
}

static int cmp_sega_key(const void *a, const void *b)
{
    return strcmp(((const struct sega *)a)->key, ((const struct sega *)b)->key);
}

static const char *col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/*
 * Aggregates of every segment over local days [d1, d2] (and the UTC hours
 * [from, to) for minute rows), sorted by key, with the commune of the
 * ident where the segment table knows it.  The imported roll-ups are read
 * once and summed per key in memory: no GROUP BY over the day table.
 */
static int load_segments(sqlite3 *db, int64_t d1, int64_t d2, bch_time from, bch_time to,
                         struct segv *out)
{
    static const char *info_sql =
        "SELECT seg_key, ident, gid, typevoie, length_m FROM history_segment ORDER BY seg_key";
    static const char *day_sql =
        "SELECT seg_key, day, known, sum_idx_e9, am_known + pm_known, am_sum_e9 + pm_sum_e9, "
        "congested FROM history_day WHERE day >= ?1 AND day <= ?2";
    static const char *minute_sql =
        "SELECT ident, max(gid), max(typevoie), max(length_m), count(*), sum(idx), "
        "sum(CASE WHEN paris_wday(hour) <= 5 AND paris_hour(hour) IN (7, 8, 9, 17, 18, 19) "
        "THEN 1 ELSE 0 END), "
        "sum(CASE WHEN paris_wday(hour) <= 5 AND paris_hour(hour) IN (7, 8, 9, 17, 18, 19) "
        "THEN idx ELSE 0 END), sum(CASE WHEN idx >= 0.5 THEN 1 ELSE 0 END) "
        "FROM (" MINUTE_ROWS ") WHERE k > 0 AND paris_day(hour) BETWEEN ?3 AND ?4 GROUP BY ident";
    struct segv keys = {0};
    int64_t *slot = NULL, maxkey;
    sqlite3_stmt *st = NULL;
    int step, rc = -1;

    memset(out, 0, sizeof(*out));
    maxkey = bch_db_int(db, "SELECT max(seg_key) FROM history_segment", 0);
    slot = calloc((size_t)maxkey + 1, sizeof(int64_t));
    if (!slot || sqlite3_prepare_v2(db, info_sql, -1, &st, NULL) != SQLITE_OK) {
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t key = sqlite3_column_int64(st, 0);
        struct sega *g;

        if (key < 0 || key > maxkey || !(g = sega_push(&keys))) {
            continue;
        }
        copy_text(g->ident, sizeof(g->ident), st, 1);
        g->gid = sqlite3_column_int64(st, 2);
        copy_text(g->typevoie, sizeof(g->typevoie), st, 3);
        g->length_m =
            sqlite3_column_type(st, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 4);
        if (g->ident[0]) {
            snprintf(g->key, sizeof(g->key), "%s", g->ident);
        } else {
            snprintf(g->key, sizeof(g->key), "gid:%lld", (long long)g->gid);
        }
        slot[key] = (int64_t)keys.n; /* index + 1 */
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, day_sql, -1, &st, NULL) != SQLITE_OK) {
        goto out;
    }
    sqlite3_bind_int64(st, 1, d1);
    sqlite3_bind_int64(st, 2, d2);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t key = sqlite3_column_int64(st, 0);
        int64_t day = sqlite3_column_int64(st, 1);
        bool wk = ((day % 7) + 7 + 3) % 7 < 5;
        struct sega *g;

        if (key < 0 || key > maxkey || slot[key] == 0) {
            continue;
        }
        g = &keys.v[slot[key] - 1];
        g->known += sqlite3_column_int64(st, 2);
        g->sum += (double)sqlite3_column_int64(st, 3) / 1e9;
        if (wk) {
            g->peak_known += sqlite3_column_int64(st, 4);
            g->peak_sum += (double)sqlite3_column_int64(st, 5) / 1e9;
        }
        g->congested += sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (step != SQLITE_DONE) {
        goto out;
    }
    for (size_t i = 0; i < keys.n; i++) {
        if (keys.v[i].known > 0) {
            struct sega *g = sega_push(out);

            if (g) {
                *g = keys.v[i];
            }
        }
    }
    if (sqlite3_prepare_v2(db, minute_sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "minute segments: %s", sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, d1);
    sqlite3_bind_int64(st, 4, d2);
    if (out->n) {
        qsort(out->v, out->n, sizeof(out->v[0]), cmp_sega_key);
    }
    {
        size_t imported = out->n;

        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct sega probe, *g;

            copy_text(probe.key, sizeof(probe.key), st, 0);
            g = imported ? bsearch(&probe, out->v, imported, sizeof(out->v[0]), cmp_sega_key)
                         : NULL;
            if (!g) {
                g = sega_push(out);
                if (!g) {
                    continue;
                }
                snprintf(g->key, sizeof(g->key), "%s", probe.key);
                snprintf(g->ident, sizeof(g->ident), "%s", probe.key);
                g->gid = sqlite3_column_int64(st, 1);
                copy_text(g->typevoie, sizeof(g->typevoie), st, 2);
                g->length_m =
                    sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3);
            }
            g->known += sqlite3_column_int64(st, 4);
            g->sum += sqlite3_column_double(st, 5);
            g->peak_known += sqlite3_column_int64(st, 6);
            g->peak_sum += sqlite3_column_double(st, 7);
            g->congested += sqlite3_column_int64(st, 8);
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (step != SQLITE_DONE) {
        goto out;
    }
    if (out->n) {
        qsort(out->v, out->n, sizeof(out->v[0]), cmp_sega_key);
    }
    /* communes of the idents known to the live segment table */
    if (sqlite3_prepare_v2(db, "SELECT ident, commune FROM segment WHERE commune IS NOT NULL", -1,
                           &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct sega probe, *g;

            copy_text(probe.key, sizeof(probe.key), st, 0);
            g = out->n ? bsearch(&probe, out->v, out->n, sizeof(out->v[0]), cmp_sega_key) : NULL;
            if (g && g->ident[0]) {
                copy_text(g->commune, sizeof(g->commune), st, 1);
            }
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = 0;
out:
    sqlite3_finalize(st);
    free(slot);
    free(keys.v);
    if (rc) {
        free(out->v);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

static json_t *opt_text(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *sega_json(const struct sega *g)
{
    return json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:I}", "key", g->key, "ident",
        opt_text(g->ident), "gid", g->gid ? json_integer(g->gid) : json_null(), "typevoie",
        opt_text(g->typevoie), "commune", opt_text(g->commune), "length_m", jreal(g->length_m),
        "known_segment_hours", (json_int_t)g->known, "index", jratio(g->sum, (double)g->known),
        "peak_index", jratio(g->peak_sum, (double)g->peak_known), "peak_known_segment_hours",
        (json_int_t)g->peak_known, "congested_hours", (json_int_t)g->congested);
}

static double peak_of(const struct sega *g)
{
    return g->peak_known > 0 ? g->peak_sum / (double)g->peak_known : -1;
}

static int cmp_by_peak(const void *a, const void *b)
{
    const struct sega *x = *(const struct sega *const *)a, *y = *(const struct sega *const *)b;
    double px = peak_of(x), py = peak_of(y);

    if (px != py) {
        return px > py ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

static int cmp_by_congested(const void *a, const void *b)
{
    const struct sega *x = *(const struct sega *const *)a, *y = *(const struct sega *const *)b;

    if (x->congested != y->congested) {
        return x->congested > y->congested ? -1 : 1;
    }
    if (x->sum != y->sum) {
        return x->sum > y->sum ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

static void query_days(const struct bch_history_query *q, int64_t *d1, int64_t *d2)
{
    *d1 = q->from == BCH_TIME_NONE ? INT32_MIN : local_day(q->from);
    *d2 = q->to == BCH_TIME_NONE ? INT32_MAX : local_day(q->to - 1);
}

static json_t *top_list(struct sega **ptr, size_t n, int (*cmp)(const void *, const void *),
                        int limit)
{
    json_t *arr = json_array();

    if (n) {
        qsort(ptr, n, sizeof(*ptr), cmp);
    }
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_array_append_new(arr, sega_json(ptr[i]));
    }
    return arr;
}

json_t *bch_history_hotspots(sqlite3 *db, const struct bch_history_query *q)
{
    struct segv sv;
    struct sega **ptr;
    size_t n = 0;
    int64_t d1, d2;
    bch_time from, to;
    json_t *by_peak, *by_hours;

    bounds(q, &from, &to);
    query_days(q, &d1, &d2);
    if (load_segments(db, d1, d2, from, to, &sv)) {
        return NULL;
    }
    ptr = malloc((sv.n ? sv.n : 1) * sizeof(*ptr));
    if (!ptr) {
        free(sv.v);
        return NULL;
    }
    for (size_t i = 0; i < sv.n; i++) {
        if (sv.v[i].known >= q->min_known) {
            ptr[n++] = &sv.v[i];
        }
    }
    by_peak = top_list(ptr, n, cmp_by_peak, q->limit);
    by_hours = top_list(ptr, n, cmp_by_congested, q->limit);
    free(ptr);
    free(sv.v);
    return json_pack("{s:o, s:o, s:f, s:i}", "by_peak_index", by_peak, "by_congested_hours",
                     by_hours, "congested_index", CONGESTED_INDEX, "min_known_segment_hours",
                     q->min_known);
}

/* ---------------------------------------------------------------- periods */

/* Network sums over local days [d1, d2]. */
static int window_net(sqlite3 *db, int64_t d1, int64_t d2, struct agg *all, struct agg *wk,
                      int *days)
{
    struct nhv hv;
    /* generous UTC bounds around the local days */
    bch_time from = d1 * 86400 - 7200, to = (d2 + 1) * 86400;
    int64_t last = INT64_MIN;

    memset(all, 0, sizeof(*all));
    memset(wk, 0, sizeof(*wk));
    *days = 0;
    if (load_hours(db, from, to, &hv)) {
        return -1;
    }
    for (size_t i = 0; i < hv.n; i++) {
        if (hv.v[i].day < d1 || hv.v[i].day > d2) {
            continue;
        }
        agg_add(all, &hv.v[i]);
        if (weekday(hv.v[i].wday)) {
            agg_add(wk, &hv.v[i]);
        }
        if (hv.v[i].known > 0 && hv.v[i].day != last) {
            (*days)++;
            last = hv.v[i].day;
        }
    }
    free(hv.v);
    return 0;
}

static json_t *window_json(int64_t d1, int64_t d2, const struct agg *all, const struct agg *wk,
                           int days)
{
    char a[16], b[16];

    day_text(d1, a, sizeof(a));
    day_text(d2, b, sizeof(b));
    return json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:I}", "from", a, "to", b,
                     "days_with_data", days, "index", jratio(all->sum_idx, (double)all->known),
                     "index_weighted", jratio(all->sum_idx_w, all->sum_w), "am_index",
                     jratio(wk->am_sum, (double)wk->am_known), "pm_index",
                     jratio(wk->pm_sum, (double)wk->pm_known), "known_segment_hours",
                     (json_int_t)all->known);
}

static json_t *change(double before, double during)
{
    if (!isfinite(before) || !isfinite(during)) {
        return json_pack("{s:n, s:n}", "absolute", "relative");
    }
    return json_pack("{s:f, s:o}", "absolute", during - before, "relative",
                     before > 0 ? json_real((during - before) / before) : json_null());
}

/* Groups of segments for period comparisons. */
enum grouping { BY_SEGMENT, BY_COMMUNE, BY_TYPEVOIE };

struct grp {
    const struct sega *g; /* first member (labels) */
    const char *key;
    double known, sum;
    long members;
};

static const char *group_key(const struct sega *g, enum grouping by)
{
    switch (by) {
    case BY_COMMUNE:
        return g->commune;
    case BY_TYPEVOIE:
        return g->typevoie;
    default:
        return g->key;
    }
}

static int cmp_grp(const void *a, const void *b)
{
    return strcmp(((const struct grp *)a)->key, ((const struct grp *)b)->key);
}

/* Sums of sv by group, sorted by key; groups with an empty key are left out. */
static struct grp *groups(const struct segv *sv, enum grouping by, size_t *n)
{
    struct grp *v = malloc((sv->n ? sv->n : 1) * sizeof(*v));
    size_t k = 0, m = 0;

    *n = 0;
    if (!v) {
        return NULL;
    }
    for (size_t i = 0; i < sv->n; i++) {
        const char *key = group_key(&sv->v[i], by);

        if (key[0]) {
            v[k].g = &sv->v[i];
            v[k].key = key;
            v[k].known = (double)sv->v[i].known;
            v[k].sum = sv->v[i].sum;
            v[k].members = 1;
            k++;
        }
    }
    if (k) {
        qsort(v, k, sizeof(*v), cmp_grp);
    }
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && strcmp(v[m - 1].key, v[i].key) == 0) {
            v[m - 1].known += v[i].known;
            v[m - 1].sum += v[i].sum;
            v[m - 1].members += v[i].members;
        } else {
            v[m++] = v[i];
        }
    }
    *n = m;
    return v;
}

struct drop {
    const struct grp *g;
    double before, during, known_b, known_d;
};

static int cmp_drop(const void *a, const void *b)
{
    const struct drop *x = a, *y = b;
    double dx = x->during - x->before, dy = y->during - y->before;

    if (dx != dy) {
        return dx < dy ? -1 : 1;
    }
    return strcmp(x->g->key, y->g->key);
}

/* Largest drops of the index from the before window to the during window
 * (groups whose index did not fall are not listed). */
static json_t *drops(const struct bch_history_query *q, const struct segv *before,
                     const struct segv *during, enum grouping by)
{
    size_t nb = 0, nd = 0, k = 0;
    struct grp *gb = groups(before, by, &nb);
    struct grp *gd = groups(during, by, &nd);
    struct drop *dv = calloc(nd ? nd : 1, sizeof(*dv));
    json_t *arr = json_array();

    for (size_t i = 0; gb && gd && dv && i < nd; i++) {
        struct grp *b = nb ? bsearch(&gd[i], gb, nb, sizeof(*gb), cmp_grp) : NULL;

        if (!b || b->known < q->min_known || gd[i].known < q->min_known) {
            continue;
        }
        dv[k].g = &gd[i];
        dv[k].before = b->sum / b->known;
        dv[k].during = gd[i].sum / gd[i].known;
        if (!(dv[k].during < dv[k].before)) {
            continue; /* a drop, or nothing to list */
        }
        dv[k].known_b = b->known;
        dv[k].known_d = gd[i].known;
        k++;
    }
    if (k) {
        qsort(dv, k, sizeof(*dv), cmp_drop);
    }
    for (size_t i = 0; i < k && i < (size_t)q->limit; i++) {
        json_t *e = json_pack(
            "{s:s, s:f, s:f, s:f, s:o, s:I, s:I}", "key", dv[i].g->key, "index_before",
            dv[i].before, "index_during", dv[i].during, "change", dv[i].during - dv[i].before,
            "relative",
            dv[i].before > 0 ? json_real((dv[i].during - dv[i].before) / dv[i].before)
                             : json_null(),
            "known_before", (json_int_t)dv[i].known_b, "known_during", (json_int_t)dv[i].known_d);

        if (by != BY_SEGMENT) {
            json_object_set_new(e, "segments", json_integer(dv[i].g->members));
        } else {
            json_object_set_new(e, "ident", opt_text(dv[i].g->g->ident));
            json_object_set_new(e, "typevoie", opt_text(dv[i].g->g->typevoie));
            json_object_set_new(e, "commune", opt_text(dv[i].g->g->commune));
        }
        json_array_append_new(arr, e);
    }
    free(gb);
    free(gd);
    free(dv);
    return arr;
}

static json_t *period_json(sqlite3 *db, const struct bch_history_query *q,
                           const struct bch_period *p)
{
    int64_t len = p->end_day - p->start_day + 1;
    int64_t b1 = p->start_day - len, b2 = p->start_day - 1;
    int64_t a1 = p->end_day + 1, a2 = p->end_day + len;
    struct agg ab, wb, ad, wd, aa, wa;
    int db_days, dd_days, da_days;
    json_t *o, *before, *during, *after;
    double ib, id, ia;

    if (window_net(db, b1, b2, &ab, &wb, &db_days) ||
        window_net(db, p->start_day, p->end_day, &ad, &wd, &dd_days) ||
        window_net(db, a1, a2, &aa, &wa, &da_days)) {
        return NULL;
    }
    before = window_json(b1, b2, &ab, &wb, db_days);
    during = window_json(p->start_day, p->end_day, &ad, &wd, dd_days);
    after = window_json(a1, a2, &aa, &wa, da_days);
    ib = ab.known ? ab.sum_idx / (double)ab.known : NAN;
    id = ad.known ? ad.sum_idx / (double)ad.known : NAN;
    ia = aa.known ? aa.sum_idx / (double)aa.known : NAN;
    o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "label", p->label, "before", before,
                  "during", during, "after", after, "change_during", change(ib, id), "change_after",
                  change(ib, ia), "change_am_during",
                  change(wb.am_known ? wb.am_sum / (double)wb.am_known : NAN,
                         wd.am_known ? wd.am_sum / (double)wd.am_known : NAN),
                  "change_pm_during",
                  change(wb.pm_known ? wb.pm_sum / (double)wb.pm_known : NAN,
                         wd.pm_known ? wd.pm_sum / (double)wd.pm_known : NAN));
    if (ab.known > 0 && ad.known > 0) {
        struct segv sb, sd;

        if (load_segments(db, b1, b2, b1 * 86400 - 7200, (b2 + 1) * 86400, &sb)) {
            json_decref(o);
            return NULL;
        }
        if (load_segments(db, p->start_day, p->end_day, p->start_day * 86400 - 7200,
                          (p->end_day + 1) * 86400, &sd)) {
            free(sb.v);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "top_segments", drops(q, &sb, &sd, BY_SEGMENT));
        json_object_set_new(o, "top_communes", drops(q, &sb, &sd, BY_COMMUNE));
        json_object_set_new(o, "top_typevoie", drops(q, &sb, &sd, BY_TYPEVOIE));
        free(sb.v);
        free(sd.v);
    }
    return o;
}

json_t *bch_history_periods(sqlite3 *db, const struct bch_history_query *q)
{
    struct bch_period all[BCH_HISTORY_MAX_PERIODS * 2];
    size_t n = 0;
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();

    for (size_t i = 0; i < q->nperiods && n < BCH_ARRAY_LEN(all); i++) {
        all[n++] = q->periods[i];
    }
    if (sqlite3_prepare_v2(db, "SELECT label, start_day, end_day FROM period ORDER BY start_day",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW && n < BCH_ARRAY_LEN(all)) {
            char a[16], b[16];

            all[n].start_day = sqlite3_column_int64(st, 1);
            all[n].end_day = sqlite3_column_int64(st, 2);
            day_text(all[n].start_day, a, sizeof(a));
            day_text(all[n].end_day, b, sizeof(b));
            snprintf(all[n].label, sizeof(all[n].label), "%s %s..%s", col_str(st, 0), a, b);
            n++;
        }
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        json_t *p = period_json(db, q, &all[i]);

        if (!p) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, p);
    }
    return arr;
}

/* ------------------------------------------------------------- corridors */

struct tts {
    bch_time at;
    double actuel, ref;
    int month; /* y * 12 + m - 1, local */
    int lhour;
};

struct ffm {
    int month;
    double ff;
    bool night;
    int hour; /* lowest hour when !night */
    size_t night_n;
};

/* Free flow of one corridor-month (docs/HISTORY.md): p15 of the night
 * samples (local 22..04) when there are enough, else p15 of the hour of the
 * day with the lowest mean travel time. */
static void free_flow(const struct tts *s, size_t n, struct ffm *f)
{
    double *v = malloc((n ? n : 1) * sizeof(double));
    double sum[24] = {0};
    size_t cnt[24] = {0}, k = 0;
    int best = -1;

    f->ff = NAN;
    f->night = false;
    f->hour = -1;
    f->night_n = 0;
    if (!v) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sum[s[i].lhour] += s[i].actuel;
        cnt[s[i].lhour]++;
        if (s[i].lhour >= 22 || s[i].lhour < 5) {
            v[k++] = s[i].actuel;
        }
    }
    f->night_n = k;
    if (k >= NIGHT_MIN_SAMPLES) {
        f->ff = bch_quantile(v, k, FREE_FLOW_Q);
        f->night = true;
        free(v);
        return;
    }
    for (int h = 0; h < 24; h++) {
        if (cnt[h] > 0 && (best < 0 || sum[h] / (double)cnt[h] < sum[best] / (double)cnt[best])) {
            best = h;
        }
    }
    if (best >= 0) {
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i].lhour == best) {
                v[k++] = s[i].actuel;
            }
        }
        f->ff = bch_quantile(v, k, FREE_FLOW_Q);
        f->hour = best;
    }
    free(v);
}

/* TTI, PTI, buffer and vs-usual of samples s[0..n) with free flow ff (per sample). */
static json_t *tt_stats(const struct tts *s, size_t n, const double *ff, bool full)
{
    double *tti = malloc((n ? n : 1) * sizeof(double));
    double *act = malloc((n ? n : 1) * sizeof(double));
    double sum_tti = 0, sum_act = 0, sum_vs = 0, p95t, p95a, mean_a;
    size_t nvs = 0, nt = 0;
    json_t *o;

    if (!tti || !act) {
        free(tti);
        free(act);
        return json_null();
    }
    for (size_t i = 0; i < n; i++) {
        if (isfinite(ff[i]) && ff[i] > 0) {
            tti[nt++] = s[i].actuel / ff[i];
            sum_tti += s[i].actuel / ff[i];
        }
        act[i] = s[i].actuel;
        sum_act += s[i].actuel;
        if (isfinite(s[i].ref) && s[i].ref > 0) {
            sum_vs += s[i].actuel / s[i].ref;
            nvs++;
        }
    }
    mean_a = n ? sum_act / (double)n : NAN;
    p95t = bch_quantile(tti, nt, 0.95);
    p95a = bch_quantile(act, n, 0.95);
    o = json_pack("{s:I, s:o, s:o, s:o, s:o}", "samples", (json_int_t)n, "tti",
                  nt ? json_real(sum_tti / (double)nt) : json_null(), "congestion_level",
                  nt ? json_real(sum_tti / (double)nt - 1) : json_null(), "vs_usual",
                  nvs ? json_real(sum_vs / (double)nvs) : json_null(), "mean_s", jreal(mean_a));
    if (full) {
        json_object_set_new(o, "pti", nt ? jreal(p95t) : json_null());
        json_object_set_new(o, "p95_s", jreal(p95a));
        json_object_set_new(o, "buffer_index",
                            n && mean_a > 0 ? jreal((p95a - mean_a) / mean_a) : json_null());
    }
    free(tti);
    free(act);
    return o;
}

/* The healthy samples of a corridor in the range, by instant: for mirrors. */
struct tt_seq {
    int64_t gid;
    struct tt_pt {
        bch_time at;
        double actuel;
    } * v;
    size_t n;
};

/* One corridor's figures over the range; *seq receives its samples (owned by the caller). */
static json_t *corridor_json(sqlite3 *db, const struct bch_history_query *q, sqlite3_stmt *cor,
                             struct tt_seq *seq)
{
    int64_t gid = sqlite3_column_int64(cor, 0);
    sqlite3_stmt *st = NULL;
    struct tts *s = NULL;

    seq->v = NULL;
    seq->n = 0;
    struct ffm *fm = NULL;
    double *ff = NULL;
    size_t n = 0, cap = 0, nm = 0, lo = 0, hi = 0;
    bch_time from, to, ext_from, ext_to;
    int step;
    json_t *o, *months, *hours;

    bounds(q, &from, &to);
    /* Whole months around the range: the free flow is a per-month figure. */
    ext_from = from - 32 * 86400;
    ext_to = to + 32 * 86400;
    if (sqlite3_prepare_v2(db,
                           "SELECT at, actuel, ref FROM travel_time WHERE gid = ? AND at >= ? "
                           "AND at < ? AND (flags & 23) = 0 ORDER BY at",
                           -1, &st, NULL) != SQLITE_OK) {
        return NULL;
    }
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, ext_from);
    sqlite3_bind_int64(st, 3, ext_to);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct bch_local_tm tm;

        struct tts *ns = bch_reserve(s, &cap, n + 1, sizeof(*ns), 1024);

        if (!ns) {
            break;
        }
        s = ns;
        s[n].at = sqlite3_column_int64(st, 0);
        s[n].actuel = sqlite3_column_double(st, 1);
        s[n].ref = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
        bch_paris_local(s[n].at, &tm);
        s[n].month = (int)(tm.year * 12 + tm.month - 1);
        s[n].lhour = tm.hour;
        n++;
    }
    sqlite3_finalize(st);
    /* per month: free flow from all samples of the month */
    fm = calloc(n ? n : 1, sizeof(*fm));
    ff = calloc(n ? n : 1, sizeof(double));
    if (!fm || !ff) {
        free(s);
        free(fm);
        free(ff);
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;

        while (j < n && s[j].month == s[i].month) {
            j++;
        }
        fm[nm].month = s[i].month;
        free_flow(s + i, j - i, &fm[nm]);
        for (size_t k = i; k < j; k++) {
            ff[k] = fm[nm].ff;
        }
        nm++;
        i = j;
    }
    /* the samples of the range itself */
    while (lo < n && s[lo].at < from) {
        lo++;
    }
    hi = lo;
    while (hi < n && s[hi].at < to) {
        hi++;
    }
    seq->gid = gid;
    seq->n = 0;
    seq->v = malloc((hi - lo + 1) * sizeof(*seq->v));
    for (size_t i = lo; seq->v && i < hi; i++) {
        seq->v[seq->n].at = s[i].at;
        seq->v[seq->n++].actuel = s[i].actuel;
    }
    o = tt_stats(s + lo, hi - lo, ff + lo, true);
    json_object_set_new(o, "gid", json_integer(gid));
    json_object_set_new(o, "ident",
                        sqlite3_column_type(cor, 1) == SQLITE_NULL
                            ? json_null()
                            : json_integer(sqlite3_column_int64(cor, 1)));
    json_object_set_new(o, "label",
                        sqlite3_column_type(cor, 2) == SQLITE_NULL ? json_null()
                                                                   : json_string(col_str(cor, 2)));
    json_object_set_new(o, "length_m",
                        sqlite3_column_type(cor, 3) == SQLITE_NULL
                            ? json_null()
                            : json_real(sqlite3_column_double(cor, 3)));
    json_object_set_new(o, "unhealthy",
                        json_pack("{s:I, s:I, s:I}", "floor",
                                  (json_int_t)sqlite3_column_int64(cor, 4), "cap",
                                  (json_int_t)sqlite3_column_int64(cor, 5), "sentinel",
                                  (json_int_t)sqlite3_column_int64(cor, 6)));
    months = json_array();
    for (size_t m = 0, i = lo; m < nm; m++) {
        size_t j;
        char name[16];
        json_t *e;

        while (i < hi && s[i].month < fm[m].month) {
            i++;
        }
        j = i;
        while (j < hi && s[j].month == fm[m].month) {
            j++;
        }
        if (j == i) {
            continue;
        }
        snprintf(name, sizeof(name), "%04d-%02d", fm[m].month / 12, fm[m].month % 12 + 1);
        e = tt_stats(s + i, j - i, ff + i, true);
        json_object_set_new(e, "month", json_string(name));
        json_object_set_new(e, "free_flow_s", jreal(fm[m].ff));
        json_object_set_new(e, "free_flow_method",
                            json_string(fm[m].night ? "night" : "lowest_hour"));
        json_object_set_new(e, "free_flow_hour",
                            fm[m].night || fm[m].hour < 0 ? json_null() : json_integer(fm[m].hour));
        json_object_set_new(e, "night_samples", json_integer((json_int_t)fm[m].night_n));
        json_array_append_new(months, e);
        i = j;
    }
    json_object_set_new(o, "months", months);
    hours = json_array();
    for (int h = 0; h < 24; h++) {
        struct tts *hs = malloc((hi - lo + 1) * sizeof(*hs));
        double *hf = malloc((hi - lo + 1) * sizeof(double));
        size_t k = 0;

        if (!hs || !hf) {
            free(hs);
            free(hf);
            break;
        }
        for (size_t i = lo; i < hi; i++) {
            if (s[i].lhour == h) {
                hs[k] = s[i];
                hf[k++] = ff[i];
            }
        }
        if (k) {
            json_t *e = tt_stats(hs, k, hf, false);

            json_object_set_new(e, "hour", json_integer(h));
            json_array_append_new(hours, e);
        }
        free(hs);
        free(hf);
    }
    json_object_set_new(o, "hours", hours);
    free(s);
    free(fm);
    free(ff);
    return o;
}

/*
 * Mirrors: the real history holds pairs of corridors that carry the same
 * measurements (1 and 2, 3 and 4, 9 and 10, 11 and 12: 99.8 % of their
 * common hours equal, against at most 34 % for any other pair).  The
 * corridor b is marked `mirror_of` the first of seqs[0..n) with which it
 * shares at least BCH_HISTORY_MIRROR_MIN instants and the same value at
 * BCH_HISTORY_MIRROR_SHARE of them, with `mirror_share`; else null.  Both
 * sequences are sorted by instant: one merge per pair.
 */
static void mark_mirror(json_t *c, const struct tt_seq *seqs, size_t n, const struct tt_seq *b)
{
    for (size_t k = 0; k < n; k++) {
        const struct tt_seq *a = &seqs[k];
        size_t i = 0, j = 0, common = 0, same = 0;

        while (i < a->n && j < b->n) {
            if (a->v[i].at < b->v[j].at) {
                i++;
            } else if (a->v[i].at > b->v[j].at) {
                j++;
            } else {
                common++;
                same += a->v[i].actuel == b->v[j].actuel;
                i++;
                j++;
            }
        }
        if (common >= BCH_HISTORY_MIRROR_MIN &&
            (double)same >= BCH_HISTORY_MIRROR_SHARE * (double)common) {
            json_object_set_new(c, "mirror_of", json_integer(a->gid));
            json_object_set_new(c, "mirror_share", json_real((double)same / (double)common));
            return;
        }
    }
    json_object_set_new(c, "mirror_of", json_null());
    json_object_set_new(c, "mirror_share", json_null());
}

json_t *bch_history_corridors(sqlite3 *db, const struct bch_history_query *q)
{
    static const char *sql =
        "WITH c AS (SELECT gid, ident, label, length_m FROM travel_corridor UNION ALL "
        "SELECT DISTINCT gid, gid + 19, NULL, NULL FROM travel_time WHERE gid BETWEEN 1 AND 16 "
        "AND NOT EXISTS (SELECT 1 FROM travel_corridor)) "
        "SELECT c.gid, c.ident, c.label, c.length_m, "
        "(SELECT count(*) FROM travel_time t WHERE t.gid = c.gid AND t.flags & 1), "
        "(SELECT count(*) FROM travel_time t WHERE t.gid = c.gid AND t.flags & 2), "
        "(SELECT count(*) FROM travel_time t WHERE t.gid = c.gid AND t.flags & 4) "
        "FROM c ORDER BY c.gid";
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();
    struct tt_seq seqs[BCH_HISTORY_MAX_CORRIDORS];
    size_t nseq = 0;
    int step;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("report", "corridors: %s", sqlite3_errmsg(db));
        json_decref(arr);
        return NULL;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        /* past BCH_HISTORY_MAX_CORRIDORS, a corridor is compared but not kept */
        struct tt_seq extra = {0}, *sq = nseq < BCH_ARRAY_LEN(seqs) ? &seqs[nseq] : &extra;
        json_t *c = corridor_json(db, q, st, sq);

        if (c) {
            mark_mirror(c, seqs, nseq, sq);
            json_array_append_new(arr, c);
        }
        if (sq == &extra) {
            free(extra.v);
        } else if (c) {
            nseq++;
        } else {
            free(sq->v);
        }
        if (!c) {
            break;
        }
    }
    for (size_t i = 0; i < nseq; i++) {
        free(seqs[i].v);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---------------------------------------------------------------- counts */

/* Robust anomalies of hourly totals by hour of week. */
static json_t *totals_anomalies(sqlite3 *db, const struct bch_history_query *q)
{
    struct th {
        bch_time hour;
        double total;
        int b;
    } *v = NULL;
    size_t n = 0, cap = 0;
    double *vals[168] = {0};
    size_t nv[168] = {0};
    sqlite3_stmt *st = NULL;
    bch_time from, to;
    long flagged = 0;
    json_t *top = json_array(), *o;
    struct {
        size_t i;
        double z, med;
    } best[64];
    size_t nbest = 0, lim = (size_t)q->limit < 64 ? (size_t)q->limit : 64;

    bounds(q, &from, &to);
    if (sqlite3_prepare_v2(db,
                           "SELECT hour, total FROM network_count_hour WHERE hour >= ? AND "
                           "hour < ? ORDER BY hour",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(top);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct bch_local_tm tm;

        struct th *nvv = bch_reserve(v, &cap, n + 1, sizeof(*nvv), 1024);

        if (!nvv) {
            break;
        }
        v = nvv;
        v[n].hour = sqlite3_column_int64(st, 0);
        v[n].total = sqlite3_column_double(st, 1);
        bch_paris_local(v[n].hour, &tm);
        v[n].b = (tm.weekday - 1) * 24 + tm.hour;
        n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        nv[v[i].b]++;
    }
    for (int b = 0; b < 168; b++) {
        vals[b] = nv[b] ? malloc(nv[b] * sizeof(double)) : NULL;
        nv[b] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (vals[v[i].b]) {
            vals[v[i].b][nv[v[i].b]++] = v[i].total;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int b = v[i].b;
        double *copy, z, med;

        if (nv[b] < ANOMALY_MIN_N || !(copy = malloc(nv[b] * sizeof(double)))) {
            continue;
        }
        memcpy(copy, vals[b], nv[b] * sizeof(double));
        z = bch_robust_z(v[i].total, copy, nv[b]);
        med = bch_quantile(copy, nv[b], 0.5);
        free(copy);
        if (!isfinite(z) || fabs(z) <= ANOMALY_Z) {
            continue;
        }
        flagged++;
        if (nbest < lim || (lim > 0 && fabs(z) > fabs(best[nbest - 1].z))) {
            size_t k = nbest < lim ? nbest++ : nbest - 1;

            while (k > 0 && fabs(best[k - 1].z) < fabs(z)) {
                best[k] = best[k - 1];
                k--;
            }
            best[k].i = i;
            best[k].z = z;
            best[k].med = med;
        }
    }
    for (size_t k = 0; k < nbest; k++) {
        char local[32];

        bch_time_format_local(v[best[k].i].hour, local, sizeof(local));
        json_array_append_new(top, json_pack("{s:o, s:s, s:f, s:f, s:f}", "hour",
                                             bch_json_time(v[best[k].i].hour), "local", local,
                                             "total", v[best[k].i].total, "baseline", best[k].med,
                                             "z", best[k].z));
    }
    o = json_pack("{s:I, s:I, s:o}", "hours", (json_int_t)n, "flagged", (json_int_t)flagged, "top",
                  top);
    for (int b = 0; b < 168; b++) {
        free(vals[b]);
    }
    free(v);
    return o;
}

/* Station baselines by hour of week (5-minute counts, not stale). */
static json_t *sensor_baselines(sqlite3 *db)
{
    static const char *sql =
        "SELECT ident, paris_wday(at) * 24 + paris_hour(at), count FROM sensor_count "
        "WHERE count IS NOT NULL AND (flags & 1) = 0 ORDER BY 1, 2";
    sqlite3_stmt *st = NULL;
    double *cell = NULL;
    size_t n = 0, cap = 0;
    long cells = 0, with_baseline = 0, tested = 0, flagged = 0;
    char cur[64] = "";
    int curb = -1, step;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return NULL;
    }
    for (;;) {
        const char *id = NULL;
        int b = -1;
        bool flush;

        step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            id = col_str(st, 0);
            b = sqlite3_column_int(st, 1);
        }
        flush = n > 0 && (step != SQLITE_ROW || b != curb || strcmp(id, cur) != 0);
        if (flush) {
            cells++;
            if (n >= 4) {
                double *copy = malloc(n * sizeof(double));

                with_baseline++;
                for (size_t i = 0; copy && i < n; i++) {
                    double z;

                    memcpy(copy, cell, n * sizeof(double));
                    z = bch_robust_z(cell[i], copy, n);
                    tested++;
                    flagged += isfinite(z) && fabs(z) > ANOMALY_Z;
                }
                free(copy);
            }
            n = 0;
        }
        if (step != SQLITE_ROW) {
            break;
        }
        snprintf(cur, sizeof(cur), "%s", id);
        curb = b;
        double *nvv = bch_reserve(cell, &cap, n + 1, sizeof(double), 64);

        if (!nvv) {
            break;
        }
        cell = nvv;
        cell[n++] = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    free(cell);
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sensors",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM sensor", 0), "counts",
        (json_int_t)bch_db_int(db,
                               "SELECT count(*) FROM sensor_count WHERE count IS NOT "
                               "NULL",
                               0),
        "stale", (json_int_t)bch_db_int(db, "SELECT count(*) FROM sensor_count WHERE flags & 1", 0),
        "missing",
        (json_int_t)bch_db_int(db, "SELECT count(*) FROM sensor_count WHERE flags & 2", 0),
        "hour_of_week_cells", (json_int_t)cells, "cells_with_baseline", (json_int_t)with_baseline,
        "anomalies", (json_int_t)flagged);
    (void)tested;
}

json_t *bch_history_counts(sqlite3 *db, const struct bch_history_query *q)
{
    sqlite3_stmt *st = NULL;
    json_t *o = json_object(), *years = json_array(), *top = json_array();
    int last_year = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT year, count(*), count(DISTINCT ident), count(mjo_val), "
                           "avg(mjo_val), avg(hpm_val), avg(hps_val) FROM annual_count "
                           "GROUP BY year ORDER BY year",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            last_year = sqlite3_column_int(st, 0);
            json_array_append_new(
                years,
                json_pack("{s:i, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "year", last_year, "rows",
                          (json_int_t)sqlite3_column_int64(st, 1), "stations",
                          (json_int_t)sqlite3_column_int64(st, 2), "with_values",
                          (json_int_t)sqlite3_column_int64(st, 3), "out_of_order",
                          (json_int_t)(sqlite3_column_int64(st, 1) - sqlite3_column_int64(st, 3)),
                          "mjo_mean", jreal(sqlite3_column_double(st, 4)), "hpm_mean",
                          jreal(sqlite3_column_double(st, 5)), "hps_mean",
                          jreal(sqlite3_column_double(st, 6))));
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (last_year &&
        sqlite3_prepare_v2(db,
                           "SELECT ident, sens, nom_voie, mjo_val, hpm_val, hps_val, mjo_pct "
                           "FROM annual_count WHERE year = ? AND mjo_val IS NOT NULL "
                           "ORDER BY mjo_val DESC, ident, sens LIMIT ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, last_year);
        sqlite3_bind_int(st, 2, q->limit);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_array_append_new(top, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:o}", "ident",
                                                 col_str(st, 0), "sens", col_str(st, 1), "nom_voie",
                                                 col_str(st, 2), "mjo_val",
                                                 sqlite3_column_double(st, 3), "hpm_val",
                                                 sqlite3_column_type(st, 4) == SQLITE_NULL
                                                     ? json_null()
                                                     : json_real(sqlite3_column_double(st, 4)),
                                                 "hps_val",
                                                 sqlite3_column_type(st, 5) == SQLITE_NULL
                                                     ? json_null()
                                                     : json_real(sqlite3_column_double(st, 5)),
                                                 "mjo_pct",
                                                 sqlite3_column_type(st, 6) == SQLITE_NULL
                                                     ? json_null()
                                                     : json_real(sqlite3_column_double(st, 6))));
        }
    }
    sqlite3_finalize(st);
    json_object_set_new(o, "annual",
                        json_pack("{s:o, s:o}", "years", years, "top_latest_year", top));
    if (table_has_rows(db, "sensor")) {
        json_t *b = sensor_baselines(db);

        json_object_set_new(o, "sensors", b ? b : json_null());
    }
    if (table_has_rows(db, "network_count_hour")) {
        json_t *t = totals_anomalies(db, q);

        json_object_set_new(o, "network_hourly", t ? t : json_null());
    }
    if (table_has_rows(db, "count_campaign")) {
        st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT count(*), min(start_day), max(end_day), min(annee), "
                               "max(annee), count(start_day) FROM count_campaign",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            char a[16] = "", b[16] = "";

            if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
                day_text(sqlite3_column_int64(st, 1), a, sizeof(a));
                day_text(sqlite3_column_int64(st, 2), b, sizeof(b));
            }
            json_object_set_new(o, "campaigns",
                                json_pack("{s:I, s:I, s:o, s:o, s:I, s:I}", "campaigns",
                                          (json_int_t)sqlite3_column_int64(st, 0), "with_dates",
                                          (json_int_t)sqlite3_column_int64(st, 5), "first_day",
                                          a[0] ? json_string(a) : json_null(), "last_day",
                                          b[0] ? json_string(b) : json_null(), "first_year",
                                          (json_int_t)sqlite3_column_int64(st, 3), "last_year",
                                          (json_int_t)sqlite3_column_int64(st, 4)));
        }
        sqlite3_finalize(st);
    }
    return o;
}

/* ----------------------------------------------------------------- works */

json_t *bch_history_works(sqlite3 *db, const struct bch_history_query *q)
{
    sqlite3_stmt *st = NULL;
    json_t *by = json_array();
    int64_t d1 = q->from == BCH_TIME_NONE ? INT32_MIN : local_day(q->from);
    int64_t d2 = q->to == BCH_TIME_NONE ? INT32_MAX : local_day(q->to - 1);
    json_int_t active = 0;

    if (sqlite3_prepare_v2(db,
                           "SELECT coalesce(nature, ''), count(*) FROM road_work WHERE "
                           "coalesce(start_day, ?2) <= ?2 AND coalesce(end_day, ?1) >= ?1 "
                           "GROUP BY 1 ORDER BY 2 DESC, 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, d1);
        sqlite3_bind_int64(st, 2, d2);
        while (sqlite3_step(st) == SQLITE_ROW) {
            active += sqlite3_column_int64(st, 1);
            if (json_array_size(by) < (size_t)q->limit) {
                json_array_append_new(by, json_pack("{s:s, s:I}", "nature", col_str(st, 0), "works",
                                                    (json_int_t)sqlite3_column_int64(st, 1)));
            }
        }
    }
    sqlite3_finalize(st);
    return json_pack("{s:I, s:I, s:o}", "works",
                     (json_int_t)bch_db_int(db, "SELECT count(*) FROM road_work", 0), "active",
                     active, "by_nature", by);
}

/* -------------------------------------------------------------- sections */

static const struct {
    const char *key;
    json_t *(*fn)(sqlite3 *db, const struct bch_history_query *q);
} sections[] = {
    {"history", bch_history_overview},
    {"daily", bch_history_daily},
    {"profile", bch_history_profile},
    {"peaks", bch_history_peaks},
    {"trend_monthly", bch_history_trend_monthly},
    {"hotspots_history", bch_history_hotspots},
    {"anomalies", bch_history_anomalies},
    {"periods", bch_history_periods},
    {"corridors", bch_history_corridors},
    {"counts", bch_history_counts},
    {"works", bch_history_works},
};

const char *const *bch_history_section_keys(void)
{
    static const char *keys[BCH_ARRAY_LEN(sections) + 1];

    for (size_t i = 0; i < BCH_ARRAY_LEN(sections); i++) {
        keys[i] = sections[i].key;
    }
    return keys;
}

json_t *bch_history_section(sqlite3 *db, const struct bch_history_query *q, const char *key)
{
    if (bch_history_register_sql(db)) {
        return NULL;
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(sections); i++) {
        if (strcmp(sections[i].key, key) == 0) {
            return sections[i].fn(db, q);
        }
    }
    return NULL;
}

static int add(json_t *summary, const char *key, json_t *v, char *err, size_t errlen)
{
    if (!v) {
        snprintf(err, errlen, "cannot build the '%s' section", key);
        return -1;
    }
    json_object_set_new(summary, key, v);
    return 0;
}

int bch_history_sections(sqlite3 *db, const struct bch_history_query *q, json_t *summary, char *err,
                         size_t errlen)
{
    bch_time from, to;
    bool layer;

    if (bch_history_register_sql(db)) {
        snprintf(err, errlen, "cannot register SQL functions");
        return -1;
    }
    bounds(q, &from, &to);
    if (add(summary, "history", bch_history_overview(db, q), err, errlen)) {
        return -1;
    }
    {
        sqlite3_stmt *st = NULL;

        layer = false;
        if (sqlite3_prepare_v2(db,
                               "SELECT EXISTS (SELECT 1 FROM history_hour WHERE hour >= ?1 AND "
                               "hour < ?2 AND known > 0) OR EXISTS (SELECT 1 FROM hourly_segment "
                               "WHERE hour >= ?1 AND hour < ?2 AND s_fluide + s_dense + "
                               "s_congested > 0)",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, from);
            sqlite3_bind_int64(st, 2, to);
            layer = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
        }
        sqlite3_finalize(st);
    }
    if (layer) {
        if (add(summary, "daily", bch_history_daily(db, q), err, errlen) ||
            add(summary, "daily_range", bch_history_daily_range(db, q), err, errlen) ||
            add(summary, "profile", bch_history_profile(db, q), err, errlen) ||
            add(summary, "peaks", bch_history_peaks(db, q), err, errlen) ||
            add(summary, "trend_monthly", bch_history_trend_monthly(db, q), err, errlen) ||
            add(summary, "hotspots_history", bch_history_hotspots(db, q), err, errlen) ||
            add(summary, "anomalies", bch_history_anomalies(db, q), err, errlen)) {
            return -1;
        }
    }
    /* Each period has its own windows: the range plays no part, only
     * whether the layer holds any known hour (as `--only periods`). */
    if ((layer || bch_db_int(db,
                             "SELECT EXISTS (SELECT 1 FROM history_hour WHERE known > 0) OR "
                             "EXISTS (SELECT 1 FROM hourly_segment WHERE s_fluide + s_dense + "
                             "s_congested > 0)",
                             0) == 1) &&
        add(summary, "periods", bch_history_periods(db, q), err, errlen)) {
        return -1;
    }
    if (table_has_rows(db, "travel_time") &&
        add(summary, "corridors", bch_history_corridors(db, q), err, errlen)) {
        return -1;
    }
    if ((table_has_rows(db, "annual_count") || table_has_rows(db, "sensor") ||
         table_has_rows(db, "network_count_hour") || table_has_rows(db, "count_campaign")) &&
        add(summary, "counts", bch_history_counts(db, q), err, errlen)) {
        return -1;
    }
    if (table_has_rows(db, "road_work") &&
        add(summary, "works", bch_history_works(db, q), err, errlen)) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ text */

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* v with the given decimals, or "-" when the figure is unknown (JSON null). */
static const char *fmt_fig(char *buf, size_t len, int decimals, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.*f", decimals, v);
    }
    return buf;
}

void bch_history_print_text(FILE *out, const json_t *s)
{
    char f1[32], f2[32], f3[32];

    const json_t *h = json_object_get(s, "history");
    const json_t *daily = json_object_get(s, "daily");
    const json_t *peaks = json_object_get(s, "peaks");
    const json_t *periods = json_object_get(s, "periods");
    const json_t *corr = json_object_get(s, "corridors");
    const json_t *v;
    size_t i;

    if (!json_is_object(h) || (num(h, "segment_hours") == 0 && !daily && !corr)) {
        return;
    }
    fprintf(out,
            "History: %.0f imported segment-hours (%.0f known), %.0f segments (%.0f tied to "
            "an ident), %.0f minute segment-hours\n",
            num(h, "segment_hours"), num(h, "known_segment_hours"), num(h, "segments"),
            num(h, "mapped_segments"), num(h, "minute_segment_hours"));
    {
        const json_t *fz = json_object_get(h, "frozen");
        const json_t *runs = json_object_get(fz, "runs");

        if (num(fz, "days") > 0) {
            fprintf(out,
                    "  Frozen feed (every hour the same figures) on %.0f days:", num(fz, "days"));
            json_array_foreach(runs, i, v)
            {
                fprintf(out, "%s %s..%s", i ? "," : "",
                        json_string_value(json_object_get(v, "from")),
                        json_string_value(json_object_get(v, "to")));
            }
            fprintf(out, "\n");
        }
    }
    if (json_is_array(daily) && json_array_size(daily) > 0) {
        const json_t *dr = json_object_get(s, "daily_range");

        fprintf(out, "  Days %zu, %s .. %s\n", json_array_size(daily),
                json_string_value(json_object_get(json_array_get(daily, 0), "date")),
                json_string_value(
                    json_object_get(json_array_get(daily, json_array_size(daily) - 1), "date")));
        if (json_is_true(json_object_get(dr, "truncated"))) {
            fprintf(out,
                    "  (daily list truncated to its first %.0f days: the range, even clamped to "
                    "the days with data, is longer; narrow --from/--to for the rest)\n",
                    num(dr, "days"));
        }
    }
    if (json_is_object(peaks)) {
        fprintf(out, "  Weekday network index %s; AM peak %s, PM peak %s",
                fmt_fig(f1, sizeof(f1), 4, num(peaks, "weekday_index")),
                fmt_fig(f2, sizeof(f2), 4, num(peaks, "am_index")),
                fmt_fig(f3, sizeof(f3), 4, num(peaks, "pm_index")));
        if (!isnan(num(peaks, "busiest_hour"))) {
            fprintf(out, "; busiest hour %.0f h", num(peaks, "busiest_hour"));
        }
        fputc('\n', out);
    }
    json_array_foreach(periods, i, v)
    {
        const json_t *c = json_object_get(v, "change_during");

        fprintf(out, "  %s: index %s before, %s during",
                json_string_value(json_object_get(v, "label")),
                fmt_fig(f1, sizeof(f1), 4, num(json_object_get(v, "before"), "index")),
                fmt_fig(f2, sizeof(f2), 4, num(json_object_get(v, "during"), "index")));
        if (!isnan(num(c, "relative"))) {
            fprintf(out, " (%+.1f %%)", 100.0 * num(c, "relative"));
        }
        fputc('\n', out);
    }
    if (json_is_array(corr) && json_array_size(corr) > 0) {
        fprintf(out, "Travel times: %zu corridors\n", json_array_size(corr));
        json_array_foreach(corr, i, v)
        {
            const char *label = json_string_value(json_object_get(v, "label"));

            fprintf(out, "  %2.0f %-44.44s TTI %s PTI %s buffer %s (%.0f samples)\n", num(v, "gid"),
                    label ? label : "", fmt_fig(f1, sizeof(f1), 2, num(v, "tti")),
                    fmt_fig(f2, sizeof(f2), 2, num(v, "pti")),
                    fmt_fig(f3, sizeof(f3), 2, num(v, "buffer_index")), num(v, "samples"));
        }
    }
}
