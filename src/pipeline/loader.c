#include "core/compat.h"

#include <math.h>

#include "analytics/queue.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/log.h"
#include "pipeline/loader.h"
#include "warehouse/db.h"

void bch_loader_options_default(struct bch_loader_options *o)
{
    bch_track_params_default(&o->track);
    o->queue_tol_m = BCH_QUEUE_DEFAULT_TOL_M;
}

/* Rejections logged per payload; the rest are only in the rejected table. */
#define BCH_LOADER_WARN_MAX 10

/* ------------------------------------------------------ segment registry */

enum { ACC_FLUIDE, ACC_DENSE, ACC_CONGESTED, ACC_UNKNOWN, ACC_N };

struct seg {
    int64_t id;
    char ident[BCH_IDENT_MAX];
    int64_t gid;
    char typevoie[BCH_TEXT_MAX];
    char commune[BCH_TEXT_MAX];
    char code_commune[16];
    char origine[BCH_TEXT_MAX];
    char geom_hash[BCH_HASH_HEX];     /* normalized geometry */
    char raw_geom_hash[BCH_HASH_HEX]; /* last raw geometry stored */
    char last_record[BCH_HASH_HEX];   /* hash of the last raw record stored */
    struct bch_geom geom;
    double length_m;
    struct bch_seg_track track;
    int64_t acc_hour; /* hourly accumulator: hour start, BCH_TIME_NONE if empty */
    int64_t acc[ACC_N];
    bool rebuild; /* got an observation older than its track */
};

/* One record of the current payload, for the snapshot KPIs. */
struct snap_item {
    size_t seg;
    int state;
    bch_time mdate;
};

struct bch_loader {
    sqlite3 *db;
    struct bch_loader_options opt;
    struct seg *segs;
    size_t nsegs, capsegs;
    size_t *index; /* open addressing on ident -> segs index + 1 (0 = empty) */
    size_t index_cap;
    struct bch_queue_net *net;
    bool net_dirty;
    struct bch_reader *reader; /* kept across payloads: its geometry cache */
    bool in_tx;
    bool rebuild_pending; /* rebuild_segment rows to forget once rebuilt */

    /* current payload */
    int64_t source_id;
    const char *source_name;
    bch_time fetched_at;
    struct bch_load_result *res;
    struct snap_item *items;
    size_t nitems, capitems;
    int err;     /* first warehouse error inside a sink callback */
    long warned; /* rejections logged for this payload */

    sqlite3_stmt *st_source_find, *st_source_ins, *st_source_done;
    sqlite3_stmt *st_geom_ins, *st_raw_ins, *st_reject_ins;
    sqlite3_stmt *st_seg_ins, *st_seg_upd, *st_seg_first;
    sqlite3_stmt *st_gid_close, *st_gid_ins, *st_gid_late;
    sqlite3_stmt *st_obs_ins, *st_obs_state, *st_obs_all;
    sqlite3_stmt *st_int_open, *st_int_close;
    sqlite3_stmt *st_jam_open, *st_jam_update, *st_jam_close, *st_jam_reopen;
    sqlite3_stmt *st_hour_add;
    sqlite3_stmt *st_del_int, *st_del_jam, *st_del_hour, *st_rebuild_done;
    sqlite3_stmt *st_snap_ins, *st_queue_del, *st_queue_ins;
};

static size_t index_slot(const struct bch_loader *l, const char *ident)
{
    return (size_t)bch_hash64(ident, strlen(ident)) & (l->index_cap - 1);
}

static int index_rehash(struct bch_loader *l, size_t cap)
{
    size_t *n = calloc(cap, sizeof(size_t));

    if (!n) {
        return BCH_ERR_NOMEM;
    }
    free(l->index);
    l->index = n;
    l->index_cap = cap;
    for (size_t i = 0; i < l->nsegs; i++) {
        size_t s = index_slot(l, l->segs[i].ident);

        while (l->index[s]) {
            s = (s + 1) & (cap - 1);
        }
        l->index[s] = i + 1;
    }
    return 0;
}

static struct seg *seg_find(struct bch_loader *l, const char *ident, size_t *pos)
{
    size_t s;

    if (!l->index_cap) {
        return NULL;
    }
    s = index_slot(l, ident);
    while (l->index[s]) {
        struct seg *g = &l->segs[l->index[s] - 1];

        if (strcmp(g->ident, ident) == 0) {
            *pos = l->index[s] - 1;
            return g;
        }
        s = (s + 1) & (l->index_cap - 1);
    }
    return NULL;
}

static struct seg *seg_add(struct bch_loader *l, const char *ident, size_t *pos)
{
    struct seg *g;

    struct seg *n = bch_reserve(l->segs, &l->capsegs, l->nsegs + 1, sizeof(*n), 1024);

    if (!n) {
        return NULL;
    }
    l->segs = n;
    if ((l->nsegs + 1) * 2 > l->index_cap &&
        index_rehash(l, l->index_cap ? l->index_cap * 2 : 2048)) {
        return NULL;
    }
    g = &l->segs[l->nsegs];
    memset(g, 0, sizeof(*g));
    snprintf(g->ident, sizeof(g->ident), "%s", ident);
    bch_seg_track_init(&g->track);
    g->acc_hour = BCH_TIME_NONE;
    *pos = l->nsegs++;
    {
        size_t s = index_slot(l, ident);

        while (l->index[s]) {
            s = (s + 1) & (l->index_cap - 1);
        }
        l->index[s] = *pos + 1;
    }
    return g;
}

/* ------------------------------------------------------------ statements */

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && s[0]) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void bind_time_or_null(sqlite3_stmt *st, int i, bch_time t)
{
    if (t == BCH_TIME_NONE) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_int64(st, i, t);
    }
}

/* Steps a statement that returns no row; resets it.  0 or BCH_ERR_DB. */
static int run(struct bch_loader *l, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bch_error("loader", "warehouse write failed: %s", sqlite3_errmsg(l->db));
        return BCH_ERR_DB;
    }
    return 0;
}

static int prepare_all(struct bch_loader *l)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } defs[] = {
        {&l->st_source_find, "SELECT source_id, completed FROM raw_source WHERE content_hash = ?"},
        {&l->st_source_ins,
         "INSERT INTO raw_source(kind, name, dataset, format, content_hash, fetched_at) "
         "VALUES (?, ?, ?, ?, ?, ?)"},
        {&l->st_source_done, "UPDATE raw_source SET format = ?, snapshot_at = ?, records = ?, "
                             "rejected = ?, header = ?, completed = 1 WHERE source_id = ?"},
        {&l->st_geom_ins, "INSERT OR IGNORE INTO raw_geometry(geom_hash, geojson) VALUES (?, ?)"},
        {&l->st_raw_ins, "INSERT OR IGNORE INTO raw_record(record_hash, source_id, position, "
                         "fetched_at, geom_hash, body) VALUES (?, ?, ?, ?, ?, ?)"},
        {&l->st_reject_ins,
         "INSERT OR IGNORE INTO rejected(source_id, source_name, position, field, reason, value, "
         "coerced, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
        {&l->st_seg_ins,
         "INSERT INTO segment(segment_id, ident, gid, typevoie, commune, code_commune, origine, "
         "geom_type, geom_hash, geometry, length_m, first_seen) "
         "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {&l->st_seg_upd, "UPDATE segment SET gid = ?, typevoie = ?, commune = ?, code_commune = ?, "
                         "origine = ?, geom_type = coalesce(?, geom_type), "
                         "geom_hash = coalesce(?, geom_hash), geometry = coalesce(?, geometry), "
                         "length_m = coalesce(?, length_m) WHERE segment_id = ?"},
        {&l->st_gid_close,
         "UPDATE segment_gid SET valid_to = ? WHERE segment_id = ? AND valid_to IS NULL"},
        {&l->st_gid_ins, "INSERT OR IGNORE INTO segment_gid(gid, segment_id, valid_from, valid_to) "
                         "VALUES (?, ?, ?, NULL)"},
        {&l->st_seg_first,
         "UPDATE segment SET first_seen = ?1 WHERE segment_id = ?2 AND first_seen > ?1"},
        {&l->st_gid_late,
         "INSERT INTO segment_gid(gid, segment_id, valid_from, valid_to) VALUES (?1, ?2, ?3, "
         "CASE WHEN ?1 = (SELECT gid FROM segment WHERE segment_id = ?2) THEN NULL ELSE "
         "(SELECT min(valid_from) FROM segment_gid WHERE segment_id = ?2 AND valid_from > ?3) "
         "END) ON CONFLICT(gid, segment_id) DO UPDATE SET "
         "valid_from = min(valid_from, excluded.valid_from)"},
        {&l->st_obs_ins, "INSERT OR IGNORE INTO observation(segment_id, mdate, state, gid, "
                         "fetched_at) VALUES (?, ?, ?, ?, ?)"},
        {&l->st_obs_state, "SELECT state FROM observation WHERE segment_id = ? AND mdate = ?"},
        {&l->st_obs_all,
         "SELECT mdate, state FROM observation WHERE segment_id = ? ORDER BY mdate"},
        {&l->st_int_open, "INSERT OR REPLACE INTO state_interval(segment_id, start, end, state) "
                          "VALUES (?, ?, NULL, ?)"},
        {&l->st_int_close, "UPDATE state_interval SET end = ? WHERE segment_id = ? AND start = ?"},
        {&l->st_jam_open,
         "INSERT OR REPLACE INTO jam_episode(segment_id, start, end, last_congested, "
         "left_censored, peak_state, right_censored, seen_until) "
         "VALUES (?, ?, NULL, ?, ?, ?, 0, ?)"},
        {&l->st_jam_update, "UPDATE jam_episode SET last_congested = ?, peak_state = ?, "
                            "seen_until = ? WHERE segment_id = ? AND start = ?"},
        {&l->st_jam_close, "UPDATE jam_episode SET end = ?, right_censored = ? "
                           "WHERE segment_id = ? AND start = ?"},
        {&l->st_jam_reopen, "UPDATE jam_episode SET end = NULL, right_censored = 0 "
                            "WHERE segment_id = ? AND start = ?"},
        {&l->st_rebuild_done, "DELETE FROM rebuild_segment"},
        {&l->st_hour_add,
         "INSERT INTO hourly_segment(segment_id, hour, s_fluide, s_dense, s_congested, s_unknown) "
         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(segment_id, hour) DO UPDATE SET "
         "s_fluide = s_fluide + excluded.s_fluide, s_dense = s_dense + excluded.s_dense, "
         "s_congested = s_congested + excluded.s_congested, "
         "s_unknown = s_unknown + excluded.s_unknown"},
        {&l->st_del_int, "DELETE FROM state_interval WHERE segment_id = ?"},
        {&l->st_del_jam, "DELETE FROM jam_episode WHERE segment_id = ?"},
        {&l->st_del_hour, "DELETE FROM hourly_segment WHERE segment_id = ?"},
        {&l->st_snap_ins,
         "INSERT OR REPLACE INTO snapshot(at, source_id, segments, n_inconnu, n_fluide, n_dense, "
         "n_embouteille, n_paralyse, n_stale, known_km, congested_km, dense_km, congested_share, "
         "weighted_index, unknown_share, stale_share, newest_mdate, newest_age_s, flag) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {&l->st_queue_del, "DELETE FROM queue WHERE at = ?"},
        {&l->st_queue_ins, "INSERT INTO queue(at, queue_no, length_m, n_segments, idents) "
                           "VALUES (?, ?, ?, ?, ?)"},
    };

    for (size_t i = 0; i < BCH_ARRAY_LEN(defs); i++) {
        *defs[i].st = bch_db_prepare(l->db, defs[i].sql);
        if (!*defs[i].st) {
            return BCH_ERR_DB;
        }
    }
    return 0;
}

static void finalize_all(struct bch_loader *l)
{
    sqlite3_stmt **all[] = {
        &l->st_source_find,  &l->st_source_ins, &l->st_source_done, &l->st_geom_ins,
        &l->st_raw_ins,      &l->st_reject_ins, &l->st_seg_ins,     &l->st_seg_upd,
        &l->st_gid_close,    &l->st_gid_ins,    &l->st_gid_late,    &l->st_obs_ins,
        &l->st_obs_state,    &l->st_seg_first,  &l->st_obs_all,     &l->st_int_open,
        &l->st_int_close,    &l->st_jam_open,   &l->st_jam_update,  &l->st_jam_close,
        &l->st_jam_reopen,   &l->st_hour_add,   &l->st_del_int,     &l->st_del_jam,
        &l->st_del_hour,     &l->st_snap_ins,   &l->st_queue_del,   &l->st_queue_ins,
        &l->st_rebuild_done,
    };

    for (size_t i = 0; i < BCH_ARRAY_LEN(all); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

/* ------------------------------------------------- registry from the db */

static void registry_clear(struct bch_loader *l)
{
    for (size_t i = 0; i < l->nsegs; i++) {
        bch_geom_release(&l->segs[i].geom);
    }
    l->nsegs = 0;
    if (l->index) {
        memset(l->index, 0, l->index_cap * sizeof(size_t));
    }
    bch_queue_net_free(l->net);
    l->net = NULL;
    l->net_dirty = true;
}

static struct seg *seg_by_id(struct bch_loader *l, int64_t id)
{
    /* Segment ids are dense rowids in load order; fall back to a scan. */
    if (id >= 1 && (size_t)id <= l->nsegs && l->segs[id - 1].id == id) {
        return &l->segs[id - 1];
    }
    for (size_t i = 0; i < l->nsegs; i++) {
        if (l->segs[i].id == id) {
            return &l->segs[i];
        }
    }
    return NULL;
}

/*
 * 1 when some observation of segment id in (after, until] follows the
 * previous one by more than the stale limit, 0 when none does, -1 on a
 * warehouse error.
 */
static int gap_since(struct bch_loader *l, int64_t id, bch_time after, bch_time until)
{
    sqlite3_stmt *st = bch_db_prepare(
        l->db, "SELECT EXISTS (SELECT 1 FROM observation o WHERE o.segment_id = ?1 AND "
               "o.mdate > ?2 AND o.mdate <= ?3 AND o.mdate - (SELECT max(p.mdate) FROM "
               "observation p WHERE p.segment_id = ?1 AND p.mdate < o.mdate) > ?4)");
    int gap = -1;

    if (!st) {
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, until);
    sqlite3_bind_int64(st, 4, l->opt.track.stale_s > 0 ? l->opt.track.stale_s : 0);
    if (sqlite3_step(st) == SQLITE_ROW) {
        gap = sqlite3_column_int(st, 0) != 0;
    }
    sqlite3_finalize(st);
    return gap;
}

static int registry_load(struct bch_loader *l, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = 0;

    registry_clear(l);
    st = bch_db_prepare(l->db, "SELECT segment_id, ident, gid, typevoie, commune, code_commune, "
                               "origine, geom_hash, geometry, length_m FROM segment "
                               "ORDER BY segment_id");
    if (!st) {
        snprintf(err, errlen, "cannot read segments: %s", sqlite3_errmsg(l->db));
        return BCH_ERR_DB;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t pos;
        struct seg *g = seg_add(l, col_text(st, 1), &pos);

        if (!g) {
            rc = BCH_ERR_NOMEM;
            break;
        }
        g->id = sqlite3_column_int64(st, 0);
        g->gid = sqlite3_column_int64(st, 2);
        snprintf(g->typevoie, sizeof(g->typevoie), "%s", col_text(st, 3));
        snprintf(g->commune, sizeof(g->commune), "%s", col_text(st, 4));
        snprintf(g->code_commune, sizeof(g->code_commune), "%s", col_text(st, 5));
        snprintf(g->origine, sizeof(g->origine), "%s", col_text(st, 6));
        snprintf(g->geom_hash, sizeof(g->geom_hash), "%s", col_text(st, 7));
        g->length_m = sqlite3_column_double(st, 9);
        if (sqlite3_column_type(st, 8) == SQLITE_TEXT) {
            char gerr[128];
            const char *gt = col_text(st, 8);

            if (bch_geom_parse(&g->geom, gt, strlen(gt), gerr, sizeof(gerr))) {
                bch_warn("loader", "segment '%s': stored geometry unreadable: %s", g->ident, gerr);
            }
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        return rc;
    }

    /* Last observation of each segment (SQLite returns the row of max()). */
    st = bch_db_prepare(l->db, "SELECT segment_id, max(mdate), state FROM observation "
                               "GROUP BY segment_id");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct seg *g = seg_by_id(l, sqlite3_column_int64(st, 0));

        if (g) {
            g->track.last_mdate = sqlite3_column_int64(st, 1);
            g->track.last_state = sqlite3_column_int(st, 2);
            g->track.interval_start = g->track.last_mdate;
        }
    }
    sqlite3_finalize(st);
    st = bch_db_prepare(l->db, "SELECT segment_id, start FROM state_interval WHERE end IS NULL");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct seg *g = seg_by_id(l, sqlite3_column_int64(st, 0));

        if (g) {
            g->track.interval_start = sqlite3_column_int64(st, 1);
        }
    }
    sqlite3_finalize(st);
    /* The latest episode of each segment is still live if it is open, or if
     * it closed within the hysteresis of the segment's last observation with
     * no gap above the stale limit since its end (an episode ended by a gap
     * is over for good, as in bch_track_step()). */
    st = bch_db_prepare(l->db, "SELECT segment_id, max(start), end, last_congested, "
                               "left_censored, peak_state, right_censored FROM jam_episode "
                               "GROUP BY segment_id");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct seg *g = seg_by_id(l, sqlite3_column_int64(st, 0));
        bool open = sqlite3_column_type(st, 2) == SQLITE_NULL;
        bch_time end = open ? BCH_TIME_NONE : sqlite3_column_int64(st, 2);
        int gap;

        if (!g) {
            continue;
        }
        if (!open && g->track.last_mdate - end > l->opt.track.hysteresis_s) {
            continue;
        }
        gap = open ? 0 : gap_since(l, g->id, end, g->track.last_mdate);
        if (gap < 0) {
            rc = BCH_ERR_DB;
            break;
        }
        if (gap == 0) {
            g->track.jam_start = sqlite3_column_int64(st, 1);
            g->track.jam_end = end;
            g->track.jam_last = sqlite3_column_int64(st, 3);
            g->track.jam_left_censored = sqlite3_column_int(st, 4) != 0;
            g->track.jam_peak = sqlite3_column_int(st, 5);
            g->track.jam_right_censored = sqlite3_column_int(st, 6) != 0;
        }
    }
    sqlite3_finalize(st);
    if (rc) {
        snprintf(err, errlen, "cannot read jam episodes: %s", sqlite3_errmsg(l->db));
        return rc;
    }
    /* Segments a migration changed the definitions of: rebuilt at the first
     * write transaction (rebuild_flagged()). */
    l->rebuild_pending = false;
    st = bch_db_prepare(l->db, "SELECT segment_id FROM rebuild_segment");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct seg *g = seg_by_id(l, sqlite3_column_int64(st, 0));

        if (g) {
            g->rebuild = true;
        }
        l->rebuild_pending = true;
    }
    sqlite3_finalize(st);
    l->net_dirty = true;
    return 0;
}

struct bch_loader *bch_loader_new(sqlite3 *db, const struct bch_loader_options *opt, char *err,
                                  size_t errlen)
{
    struct bch_loader *l = calloc(1, sizeof(*l));

    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->db = db;
    if (opt) {
        l->opt = *opt;
    } else {
        bch_loader_options_default(&l->opt);
    }
    l->reader = bch_reader_new();
    if (!l->reader || prepare_all(l)) {
        snprintf(err, errlen, "cannot prepare warehouse statements: %s", sqlite3_errmsg(db));
        bch_loader_free(l);
        return NULL;
    }
    if (registry_load(l, err, errlen)) {
        bch_loader_free(l);
        return NULL;
    }
    return l;
}

void bch_loader_free(struct bch_loader *l)
{
    if (!l) {
        return;
    }
    if (l->in_tx) {
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    }
    finalize_all(l);
    registry_clear(l);
    bch_reader_free(l->reader);
    free(l->segs);
    free(l->index);
    free(l->items);
    free(l);
}

/* ---------------------------------------------------------- hourly layer */

static int hour_flush(struct bch_loader *l, struct seg *g)
{
    sqlite3_stmt *st = l->st_hour_add;

    if (g->acc_hour == BCH_TIME_NONE) {
        return 0;
    }
    sqlite3_bind_int64(st, 1, g->id);
    sqlite3_bind_int64(st, 2, g->acc_hour);
    for (int i = 0; i < ACC_N; i++) {
        sqlite3_bind_int64(st, 3 + i, g->acc[i]);
        g->acc[i] = 0;
    }
    g->acc_hour = BCH_TIME_NONE;
    return run(l, st);
}

static int acc_index(int state)
{
    if (bch_state_congested(state)) {
        return ACC_CONGESTED;
    }
    if (state == BCH_STATE_DENSE) {
        return ACC_DENSE;
    }
    if (state == BCH_STATE_FLUIDE) {
        return ACC_FLUIDE;
    }
    return ACC_UNKNOWN;
}

/* Adds [start, end) in state to the segment's hourly buckets (UTC hours). */
static int hour_add(struct bch_loader *l, struct seg *g, bch_time start, bch_time end, int state)
{
    int k = acc_index(state);

    while (start < end) {
        bch_time hour = start - (((start % 3600) + 3600) % 3600);
        bch_time stop = hour + 3600 < end ? hour + 3600 : end;

        if (g->acc_hour != hour) {
            int rc = hour_flush(l, g);

            if (rc) {
                return rc;
            }
            g->acc_hour = hour;
        }
        g->acc[k] += stop - start;
        start = stop;
    }
    return 0;
}

/* ------------------------------------------------------------ analytics */

/* The last instant a congested observation at mdate is trusted. */
static bch_time seen_until(const struct bch_loader *l, bch_time mdate)
{
    int64_t stale = l->opt.track.stale_s > 0 ? l->opt.track.stale_s : 0;

    return mdate > INT64_MAX - stale ? INT64_MAX : mdate + stale;
}

static int apply_events(struct bch_loader *l, struct seg *g, const struct bch_track_event *ev,
                        int n)
{
    int rc = 0;

    for (int i = 0; i < n && rc == 0; i++) {
        const struct bch_track_event *e = &ev[i];
        sqlite3_stmt *st;

        switch (e->kind) {
        case BCH_EV_INTERVAL_CLOSE:
            st = l->st_int_close;
            sqlite3_bind_int64(st, 1, e->end);
            sqlite3_bind_int64(st, 2, g->id);
            sqlite3_bind_int64(st, 3, e->start);
            rc = run(l, st);
            if (l->res) {
                l->res->state_changes++;
            }
            break;
        case BCH_EV_INTERVAL_OPEN:
            st = l->st_int_open;
            sqlite3_bind_int64(st, 1, g->id);
            sqlite3_bind_int64(st, 2, e->start);
            sqlite3_bind_int(st, 3, e->state);
            rc = run(l, st);
            break;
        case BCH_EV_COVERAGE:
            rc = hour_add(l, g, e->start, e->end, e->state);
            break;
        case BCH_EV_JAM_OPEN:
            st = l->st_jam_open;
            sqlite3_bind_int64(st, 1, g->id);
            sqlite3_bind_int64(st, 2, e->start);
            sqlite3_bind_int64(st, 3, e->start);
            sqlite3_bind_int(st, 4, e->left_censored ? 1 : 0);
            sqlite3_bind_int(st, 5, e->peak ? e->peak : e->state);
            sqlite3_bind_int64(st, 6, seen_until(l, e->start));
            rc = run(l, st);
            break;
        case BCH_EV_JAM_UPDATE:
            st = l->st_jam_update;
            sqlite3_bind_int64(st, 1, e->last);
            sqlite3_bind_int(st, 2, e->peak);
            sqlite3_bind_int64(st, 3, seen_until(l, e->last));
            sqlite3_bind_int64(st, 4, g->id);
            sqlite3_bind_int64(st, 5, e->start);
            rc = run(l, st);
            break;
        case BCH_EV_JAM_CLOSE:
            st = l->st_jam_close;
            sqlite3_bind_int64(st, 1, e->end);
            sqlite3_bind_int(st, 2, e->right_censored ? 1 : 0);
            sqlite3_bind_int64(st, 3, g->id);
            sqlite3_bind_int64(st, 4, e->start);
            rc = run(l, st);
            break;
        case BCH_EV_JAM_REOPEN:
            st = l->st_jam_reopen;
            sqlite3_bind_int64(st, 1, g->id);
            sqlite3_bind_int64(st, 2, e->start);
            rc = run(l, st);
            break;
        }
    }
    return rc;
}

static int seg_step(struct bch_loader *l, struct seg *g, bch_time mdate, int state)
{
    struct bch_track_event ev[BCH_TRACK_MAX_EVENTS];
    int n = bch_track_step(&g->track, mdate, state, &l->opt.track, ev);

    return apply_events(l, g, ev, n);
}

/* Recomputes every derived row of one segment from its observations. */
static int seg_rebuild(struct bch_loader *l, struct seg *g)
{
    sqlite3_stmt *st = l->st_obs_all;
    sqlite3_stmt *dels[] = {l->st_del_int, l->st_del_jam, l->st_del_hour};
    struct bch_load_result *saved = l->res;
    int rc = 0, step;

    g->acc_hour = BCH_TIME_NONE;
    memset(g->acc, 0, sizeof(g->acc));
    for (size_t i = 0; i < BCH_ARRAY_LEN(dels) && rc == 0; i++) {
        sqlite3_bind_int64(dels[i], 1, g->id);
        rc = run(l, dels[i]);
    }
    if (rc) {
        return rc;
    }
    bch_seg_track_init(&g->track);
    l->res = NULL; /* state changes of a rebuild are not "new" */
    sqlite3_bind_int64(st, 1, g->id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW && rc == 0) {
        rc = seg_step(l, g, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    l->res = saved;
    g->rebuild = false;
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW) {
        bch_error("loader", "cannot read observations: %s", sqlite3_errmsg(l->db));
        rc = BCH_ERR_DB;
    }
    return rc;
}

/* ------------------------------------------------------ record callbacks */

static int store_problem(struct bch_loader *l, long position, const char *field, const char *reason,
                         const char *value, size_t vlen, bool coerced)
{
    sqlite3_stmt *st = l->st_reject_ins;

    sqlite3_bind_int64(st, 1, l->source_id);
    sqlite3_bind_text(st, 2, l->source_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, position);
    sqlite3_bind_text(st, 4, field ? field : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, reason, -1, SQLITE_TRANSIENT);
    if (value) {
        sqlite3_bind_text(st, 6, value, (int)(vlen > 200 ? 200 : vlen), SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, 6);
    }
    sqlite3_bind_int(st, 7, coerced ? 1 : 0);
    sqlite3_bind_int64(st, 8, bch_now());
    return run(l, st);
}

static int on_problem(void *ctx, const struct bch_problem *pb)
{
    struct bch_loader *l = ctx;
    int rc;

    if (!pb->coerced && ++l->warned > BCH_LOADER_WARN_MAX) {
        if (l->warned == BCH_LOADER_WARN_MAX + 1) {
            bch_warn("loader", "%s: more records rejected; see the 'rejected' table",
                     l->source_name);
        }
    } else if (pb->coerced) {
        bch_debug("loader", "%s: record %ld: field '%s': %s", l->source_name, pb->position,
                  pb->field, pb->reason);
    } else {
        bch_warn("loader", "%s: record %ld rejected: field '%s': %s", l->source_name, pb->position,
                 pb->field[0] ? pb->field : "(record)", pb->reason);
    }
    rc = store_problem(l, pb->position, pb->field, pb->reason, pb->value, pb->value_len,
                       pb->coerced);
    if (rc) {
        l->err = rc;
    }
    return rc;
}

static bool attrs_differ(const struct seg *g, const struct bch_trafi_record *r)
{
    return g->gid != r->gid || strcmp(g->typevoie, r->typevoie) != 0 ||
           strcmp(g->commune, r->commune) != 0 || strcmp(g->code_commune, r->code_commune) != 0 ||
           strcmp(g->origine, r->origine) != 0 ||
           (r->geom && strcmp(g->geom_hash, r->geom_norm_hash) != 0);
}

static void seg_copy_attrs(struct seg *g, const struct bch_trafi_record *r)
{
    g->gid = r->gid;
    memcpy(g->typevoie, r->typevoie, sizeof(g->typevoie));
    memcpy(g->commune, r->commune, sizeof(g->commune));
    memcpy(g->code_commune, r->code_commune, sizeof(g->code_commune));
    memcpy(g->origine, r->origine, sizeof(g->origine));
}

static int seg_set_geom(struct bch_loader *l, struct seg *g, const struct bch_trafi_record *r)
{
    char gerr[64];

    if (!r->geom || strcmp(g->geom_hash, r->geom_norm_hash) == 0) {
        return 0;
    }
    bch_geom_release(&g->geom);
    if (bch_geom_parse(&g->geom, r->geom_norm, strlen(r->geom_norm), gerr, sizeof(gerr))) {
        return BCH_ERR_NOMEM;
    }
    memcpy(g->geom_hash, r->geom_norm_hash, BCH_HASH_HEX);
    g->length_m = r->length_m;
    l->net_dirty = true;
    return 0;
}

static void bind_seg_attrs(sqlite3_stmt *st, int first, const struct bch_trafi_record *r)
{
    sqlite3_bind_int64(st, first, r->gid);
    bind_text_or_null(st, first + 1, r->typevoie);
    bind_text_or_null(st, first + 2, r->commune);
    bind_text_or_null(st, first + 3, r->code_commune);
    bind_text_or_null(st, first + 4, r->origine);
    if (r->geom) {
        sqlite3_bind_text(st, first + 5, bch_geom_type_name(r->geom->type), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, first + 6, r->geom_norm_hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, first + 7, r->geom_norm, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, first + 8, r->length_m);
    } else {
        for (int i = 5; i <= 8; i++) {
            sqlite3_bind_null(st, first + i);
        }
    }
}

/* Finds or creates the segment of r, keeping attributes and gid history. */
static int upsert_segment(struct bch_loader *l, const struct bch_trafi_record *r, size_t *pos)
{
    struct seg *g = seg_find(l, r->ident, pos);
    sqlite3_stmt *st;
    int rc;

    if (!g) {
        g = seg_add(l, r->ident, pos);
        if (!g) {
            return BCH_ERR_NOMEM;
        }
        st = l->st_seg_ins;
        sqlite3_bind_text(st, 1, r->ident, -1, SQLITE_TRANSIENT);
        bind_seg_attrs(st, 2, r);
        sqlite3_bind_int64(st, 11, r->mdate);
        rc = run(l, st);
        if (rc) {
            return rc;
        }
        g->id = sqlite3_last_insert_rowid(l->db);
        seg_copy_attrs(g, r);
        st = l->st_gid_ins;
        sqlite3_bind_int64(st, 1, r->gid);
        sqlite3_bind_int64(st, 2, g->id);
        sqlite3_bind_int64(st, 3, r->mdate);
        rc = run(l, st);
        return rc ? rc : seg_set_geom(l, g, r);
    }
    /* Attributes follow the newest record only: a late, older record must
     * not roll a segment back, but it may widen the gid's validity and move
     * first_seen back (the mdate of the segment's first observation). */
    if (r->mdate < g->track.last_mdate) {
        st = l->st_seg_first;
        sqlite3_bind_int64(st, 1, r->mdate);
        sqlite3_bind_int64(st, 2, g->id);
        rc = run(l, st);
        if (rc) {
            return rc;
        }
        st = l->st_gid_late;
        sqlite3_bind_int64(st, 1, r->gid);
        sqlite3_bind_int64(st, 2, g->id);
        sqlite3_bind_int64(st, 3, r->mdate);
        return run(l, st);
    }
    if (!attrs_differ(g, r)) {
        return 0;
    }
    if (g->gid != r->gid) {
        st = l->st_gid_close;
        sqlite3_bind_int64(st, 1, r->mdate);
        sqlite3_bind_int64(st, 2, g->id);
        rc = run(l, st);
        if (rc) {
            return rc;
        }
        st = l->st_gid_ins;
        sqlite3_bind_int64(st, 1, r->gid);
        sqlite3_bind_int64(st, 2, g->id);
        sqlite3_bind_int64(st, 3, r->mdate);
        rc = run(l, st);
        if (rc) {
            return rc;
        }
    }
    st = l->st_seg_upd;
    bind_seg_attrs(st, 1, r);
    sqlite3_bind_int64(st, 10, g->id);
    rc = run(l, st);
    if (rc) {
        return rc;
    }
    seg_copy_attrs(g, r);
    return seg_set_geom(l, g, r);
}

static int push_item(struct bch_loader *l, size_t seg, int state, bch_time mdate)
{
    struct snap_item *n = bch_reserve(l->items, &l->capitems, l->nitems + 1, sizeof(*n), 1024);

    if (!n) {
        return BCH_ERR_NOMEM;
    }
    l->items = n;
    l->items[l->nitems].seg = seg;
    l->items[l->nitems].state = state;
    l->items[l->nitems].mdate = mdate;
    l->nitems++;
    return 0;
}

/*
 * 1 (after storing the problem) when r gives another state for an mdate the
 * segment already has: a conflicting duplicate, rejected before it can touch
 * the segment's attributes or gids.  0 when it does not, or BCH_ERR_DB.
 */
static int reject_conflict(struct bch_loader *l, const struct bch_trafi_record *r)
{
    sqlite3_stmt *st = l->st_obs_state;
    size_t pos;
    struct seg *g = seg_find(l, r->ident, &pos);
    char why[128];
    int old = -1, rc;

    /* No stored mdate is newer than last_mdate; the record stored last for
     * this segment agrees with itself. */
    if (!g || r->mdate > g->track.last_mdate || strcmp(g->last_record, r->record_hash) == 0) {
        return 0;
    }
    sqlite3_bind_int64(st, 1, g->id);
    sqlite3_bind_int64(st, 2, r->mdate);
    if (sqlite3_step(st) == SQLITE_ROW) {
        old = sqlite3_column_int(st, 0);
    }
    sqlite3_reset(st);
    if (old < 0 || old == r->state) {
        return 0;
    }
    snprintf(why, sizeof(why), "conflicting state %s for an mdate already stored as %s",
             bch_state_name(r->state), bch_state_name(old));
    l->res->rejected++;
    rc = store_problem(l, r->position, "etat", why, bch_state_name(r->state),
                       strlen(bch_state_name(r->state)), false);
    return rc ? rc : 1;
}

static int store_record(struct bch_loader *l, const struct bch_trafi_record *r)
{
    sqlite3_stmt *st;
    struct seg *g;
    size_t pos;
    int rc;

    rc = reject_conflict(l, r);
    if (rc) {
        return rc > 0 ? 0 : rc;
    }
    rc = upsert_segment(l, r, &pos);
    if (rc) {
        return rc;
    }
    g = &l->segs[pos];
    if (r->geom_hash[0] && strcmp(g->raw_geom_hash, r->geom_hash) != 0) {
        st = l->st_geom_ins;
        sqlite3_bind_text(st, 1, r->geom_hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, r->geom_text, (int)r->geom_len, SQLITE_TRANSIENT);
        rc = run(l, st);
        if (rc) {
            return rc;
        }
        memcpy(g->raw_geom_hash, r->geom_hash, BCH_HASH_HEX);
    }
    rc = push_item(l, pos, r->state, r->mdate);
    if (rc) {
        return rc;
    }
    /* Most rows of a snapshot repeat the segment's previous record: skip the
     * index probe for those. */
    if (strcmp(g->last_record, r->record_hash) == 0) {
        return 0;
    }
    st = l->st_raw_ins;
    sqlite3_bind_text(st, 1, r->record_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, l->source_id);
    sqlite3_bind_int64(st, 3, r->position);
    sqlite3_bind_int64(st, 4, l->fetched_at);
    bind_text_or_null(st, 5, r->geom_hash);
    sqlite3_bind_text(st, 6, r->raw_body, (int)r->raw_len, SQLITE_STATIC);
    rc = run(l, st);
    if (rc) {
        return rc;
    }
    memcpy(g->last_record, r->record_hash, BCH_HASH_HEX);
    if (sqlite3_changes(l->db) == 0 && r->mdate <= g->track.last_mdate) {
        /* The very same record was stored before: its observation too. */
        return 0;
    }

    st = l->st_obs_ins;
    sqlite3_bind_int64(st, 1, g->id);
    sqlite3_bind_int64(st, 2, r->mdate);
    sqlite3_bind_int(st, 3, r->state);
    sqlite3_bind_int64(st, 4, r->gid);
    sqlite3_bind_int64(st, 5, l->fetched_at);
    rc = run(l, st);
    if (rc) {
        return rc;
    }
    if (sqlite3_changes(l->db) == 0) {
        /* same (segment, mdate) already stored with the same state (a
         * different one was rejected by reject_conflict() above) */
        return 0;
    }
    l->res->observations++;
    if (g->track.last_mdate != BCH_TIME_NONE && r->mdate < g->track.last_mdate) {
        g->rebuild = true;
        return 0;
    }
    if (g->rebuild) {
        return 0;
    }
    return seg_step(l, g, r->mdate, r->state);
}

static int on_record(void *ctx, const struct bch_trafi_record *r)
{
    struct bch_loader *l = ctx;
    int rc = store_record(l, r);

    if (rc) {
        l->err = rc;
    }
    return rc;
}

/* -------------------------------------------------------------- snapshot */

static int cmp_queue_len(const void *a, const void *b)
{
    const double *x = a, *y = b;

    return (x[0] < y[0]) - (x[0] > y[0]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int store_queues(struct bch_loader *l, bch_time at, const bool *congested,
                        struct bch_load_result *res)
{
    int *labels = NULL;
    double *qlen = NULL; /* pairs (length, queue index) */
    size_t nq;
    const char **members = NULL;
    struct bch_buf idents;
    int rc = 0;

    if (l->net_dirty || !l->net || bch_queue_net_size(l->net) != l->nsegs) {
        const struct bch_geom **geoms = calloc(l->nsegs ? l->nsegs : 1, sizeof(*geoms));

        if (!geoms) {
            return BCH_ERR_NOMEM;
        }
        for (size_t i = 0; i < l->nsegs; i++) {
            geoms[i] = l->segs[i].geom.nvert ? &l->segs[i].geom : NULL;
        }
        bch_queue_net_free(l->net);
        l->net = bch_queue_net_build(geoms, l->nsegs, l->opt.queue_tol_m);
        free(geoms);
        if (!l->net) {
            return BCH_ERR_NOMEM;
        }
        l->net_dirty = false;
    }
    sqlite3_bind_int64(l->st_queue_del, 1, at);
    rc = run(l, l->st_queue_del);
    if (rc) {
        return rc;
    }
    labels = malloc((l->nsegs ? l->nsegs : 1) * sizeof(int));
    members = malloc((l->nsegs ? l->nsegs : 1) * sizeof(*members));
    if (!labels || !members) {
        rc = BCH_ERR_NOMEM;
        goto out;
    }
    nq = bch_queue_components(l->net, congested, labels);
    if (nq == (size_t)-1) {
        rc = BCH_ERR_NOMEM;
        goto out;
    }
    qlen = calloc(nq ? nq * 2 : 2, sizeof(double));
    if (!qlen) {
        rc = BCH_ERR_NOMEM;
        goto out;
    }
    for (size_t q = 0; q < nq; q++) {
        qlen[q * 2 + 1] = (double)q;
    }
    for (size_t i = 0; i < l->nsegs; i++) {
        if (labels[i] >= 0) {
            qlen[labels[i] * 2] += l->segs[i].length_m;
        }
    }
    qsort(qlen, nq, 2 * sizeof(double), cmp_queue_len);
    bch_buf_init(&idents, 1u << 20);
    for (size_t k = 0; k < nq && rc == 0; k++) {
        int q = (int)qlen[k * 2 + 1];
        size_t n = 0;

        for (size_t i = 0; i < l->nsegs; i++) {
            if (labels[i] == q) {
                members[n++] = l->segs[i].ident;
            }
        }
        qsort(members, n, sizeof(*members), cmp_str);
        bch_buf_reset(&idents);
        rc = bch_buf_addc(&idents, '[');
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = (i ? bch_buf_addc(&idents, ',') : 0) ||
                 bch_buf_add_json_str(&idents, members[i], strlen(members[i]));
        }
        rc = rc || bch_buf_addc(&idents, ']');
        if (rc) {
            rc = BCH_ERR_NOMEM;
            break;
        }
        sqlite3_bind_int64(l->st_queue_ins, 1, at);
        sqlite3_bind_int64(l->st_queue_ins, 2, (int64_t)k + 1);
        sqlite3_bind_double(l->st_queue_ins, 3, qlen[k * 2]);
        sqlite3_bind_int64(l->st_queue_ins, 4, (int64_t)n);
        sqlite3_bind_text(l->st_queue_ins, 5, idents.data, (int)idents.len, SQLITE_TRANSIENT);
        rc = run(l, l->st_queue_ins);
    }
    bch_buf_release(&idents);
    res->queues = (long)nq;
    res->longest_queue_m = nq ? qlen[0] : 0;
out:
    free(labels);
    free(members);
    free(qlen);
    return rc;
}

static void bind_double_or_null(sqlite3_stmt *st, int i, double v, bool null)
{
    if (null) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_double(st, i, v);
    }
}

/* Network KPIs and feed health of the payload, at its snapshot instant. */
static int store_snapshot(struct bch_loader *l, bch_time at, struct bch_load_result *res)
{
    sqlite3_stmt *st = l->st_snap_ins;
    bool *congested = NULL;
    double weighted = 0;
    bch_time newest = BCH_TIME_NONE;
    long n = (long)l->nitems;
    int rc;

    congested = calloc(l->nsegs ? l->nsegs : 1, sizeof(bool));
    if (!congested) {
        return BCH_ERR_NOMEM;
    }
    for (size_t i = 0; i < l->nitems; i++) {
        const struct snap_item *it = &l->items[i];
        const struct seg *g = &l->segs[it->seg];
        bool fresh = at - it->mdate <= l->opt.track.stale_s;

        res->states[it->state]++;
        if (newest == BCH_TIME_NONE || it->mdate > newest) {
            newest = it->mdate;
        }
        if (!bch_state_known(it->state)) {
            continue;
        }
        if (!fresh) {
            res->stale++;
            continue;
        }
        res->known_km += g->length_m / 1000.0;
        if (bch_state_congested(it->state)) {
            res->congested_km += g->length_m / 1000.0;
            weighted += g->length_m / 1000.0;
            congested[it->seg] = true;
        } else if (it->state == BCH_STATE_DENSE) {
            res->dense_km += g->length_m / 1000.0;
            weighted += 0.5 * g->length_m / 1000.0;
        }
    }
    if (n == 0) {
        res->flag = "empty";
    } else if (res->states[BCH_STATE_INCONNU] == n) {
        res->flag = "all_unknown";
    }
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_int64(st, 2, l->source_id);
    sqlite3_bind_int64(st, 3, n);
    for (int s = 0; s < BCH_STATE_COUNT; s++) {
        sqlite3_bind_int64(st, 4 + s, res->states[s]);
    }
    sqlite3_bind_int64(st, 9, res->stale);
    sqlite3_bind_double(st, 10, res->known_km);
    sqlite3_bind_double(st, 11, res->congested_km);
    sqlite3_bind_double(st, 12, res->dense_km);
    bind_double_or_null(st, 13, res->known_km > 0 ? res->congested_km / res->known_km : 0,
                        res->known_km <= 0);
    bind_double_or_null(st, 14, res->known_km > 0 ? weighted / res->known_km : 0,
                        res->known_km <= 0);
    sqlite3_bind_double(st, 15, n ? (double)res->states[BCH_STATE_INCONNU] / (double)n : 1.0);
    sqlite3_bind_double(st, 16, n ? (double)res->stale / (double)n : 0.0);
    bind_time_or_null(st, 17, newest);
    bind_time_or_null(st, 18, newest == BCH_TIME_NONE ? BCH_TIME_NONE : at - newest);
    bind_text_or_null(st, 19, res->flag);
    rc = run(l, st);
    if (rc == 0) {
        rc = store_queues(l, at, congested, res);
    }
    free(congested);
    return rc;
}

/* ------------------------------------------------------------ payloads */

int bch_loader_begin(struct bch_loader *l)
{
    if (l->in_tx) {
        return 0;
    }
    if (bch_db_exec(l->db, "BEGIN IMMEDIATE")) {
        return BCH_ERR_DB;
    }
    l->in_tx = true;
    return 0;
}

static int rebuild_flagged(struct bch_loader *l)
{
    for (size_t i = 0; i < l->nsegs; i++) {
        if (l->segs[i].rebuild) {
            int rc = seg_rebuild(l, &l->segs[i]);

            if (rc) {
                return rc;
            }
        }
    }
    /* Segments a migration asked to rebuild are done, in this transaction. */
    if (l->rebuild_pending) {
        int rc = run(l, l->st_rebuild_done);

        if (rc) {
            return rc;
        }
        l->rebuild_pending = false;
    }
    return 0;
}

int bch_loader_commit(struct bch_loader *l)
{
    if (!l->in_tx) {
        return 0;
    }
    if (rebuild_flagged(l)) {
        return BCH_ERR_DB;
    }
    for (size_t i = 0; i < l->nsegs; i++) {
        if (hour_flush(l, &l->segs[i])) {
            return BCH_ERR_DB;
        }
    }
    if (bch_db_exec(l->db, "COMMIT")) {
        return BCH_ERR_DB;
    }
    l->in_tx = false;
    return 0;
}

int bch_loader_rollback(struct bch_loader *l)
{
    char err[256] = "";

    if (l->in_tx) {
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        l->in_tx = false;
    }
    return registry_load(l, err, sizeof(err));
}

/* Episodes still going on at instant at: open, and their segment not
 * silent for longer than the stale limit (bch_track_open_until()). */
static long count_active_jams(const struct bch_loader *l, bch_time at)
{
    long n = 0;

    for (size_t i = 0; i < l->nsegs; i++) {
        bool ongoing = false;

        bch_track_open_until(&l->segs[i].track, at, &l->opt.track, &ongoing);
        n += ongoing;
    }
    return n;
}

int bch_loader_load(struct bch_loader *l, const char *buf, size_t len,
                    const struct bch_payload_meta *meta, struct bch_load_result *res, char *err,
                    size_t errlen)
{
    struct bch_reader_sink sink = {l, on_record, on_problem};
    struct bch_parse_result pr;
    char hash[BCH_HASH_HEX];
    sqlite3_stmt *st;
    int rc, prc;
    bch_time at;

    memset(res, 0, sizeof(*res));
    res->snapshot_at = BCH_TIME_NONE;
    err[0] = '\0';
    bch_hash_hex(buf, len, hash);
    st = l->st_source_find;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) == 1) {
        sqlite3_reset(st);
        res->skipped = true;
        return 0;
    }
    sqlite3_reset(st);

    l->fetched_at = meta->fetched_at != BCH_TIME_NONE ? meta->fetched_at : bch_now();
    st = l->st_source_ins;
    sqlite3_bind_text(st, 1, meta->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, meta->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, meta->dataset ? meta->dataset : "ci_trafi_l", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, "unknown", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, l->fetched_at);
    if (run(l, st)) {
        return BCH_ERR_DB;
    }
    l->source_id = sqlite3_last_insert_rowid(l->db);
    l->source_name = meta->name;
    l->res = res;
    l->nitems = 0;
    l->err = 0;
    l->warned = 0;

    prc = bch_reader_parse(l->reader, buf, len, &sink, &pr, err, errlen);
    if (l->err) {
        l->res = NULL;
        return l->err;
    }
    res->format = pr.format;
    res->records = pr.records;
    res->rejected += pr.rejected;
    res->coerced = pr.coerced;
    rc = 0;
    if (prc == BCH_ERR_INPUT) {
        bch_warn("loader", "%s: %s", meta->name, err);
        rc = store_problem(l, 0, "", err, NULL, 0, false);
        res->rejected++;
    } else if (prc) {
        l->res = NULL;
        return prc;
    }
    /* Out-of-order observations: rebuild those segments from scratch. */
    if (rc == 0) {
        rc = rebuild_flagged(l);
    }
    /* A file with no usable record says nothing about the network; an API
     * poll that returns nothing is a feed state, flagged in its snapshot.
     * Usable: kept by the loader too (l->nitems), not only read (pr.records),
     * or a file of rejected duplicates would replace the snapshot of their
     * instant with an empty one. */
    if (rc == 0 && prc == 0 && (l->nitems > 0 || strcmp(meta->kind, "api") == 0)) {
        at = meta->fetched_at != BCH_TIME_NONE ? meta->fetched_at : pr.newest_mdate;
        if (at == BCH_TIME_NONE) {
            at = l->fetched_at;
        }
        res->snapshot_at = at;
        rc = store_snapshot(l, at, res);
    }
    if (rc == 0) {
        st = l->st_source_done;
        sqlite3_bind_text(st, 1, bch_format_name(pr.format), -1, SQLITE_STATIC);
        bind_time_or_null(st, 2, pr.newest_mdate);
        sqlite3_bind_int64(st, 3, res->records);
        sqlite3_bind_int64(st, 4, res->rejected);
        if (pr.header) {
            sqlite3_bind_text(st, 5, pr.header, (int)pr.header_len, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_null(st, 5);
        }
        sqlite3_bind_int64(st, 6, l->source_id);
        rc = run(l, st);
    }
    res->active_jams = count_active_jams(l, res->snapshot_at);
    l->res = NULL;
    if (rc) {
        return rc;
    }
    return prc == BCH_ERR_INPUT ? BCH_ERR_INPUT : 0;
}

/* ---------------------------------------------------- record-level API */

struct bch_reader *bch_loader_reader(struct bch_loader *l)
{
    return l->reader;
}

sqlite3 *bch_loader_db(struct bch_loader *l)
{
    return l->db;
}

int bch_loader_source(struct bch_loader *l, const struct bch_payload_meta *meta, const char *format,
                      const char *content_hash, int64_t *source_id)
{
    sqlite3_stmt *st = l->st_source_find;

    sqlite3_bind_text(st, 1, content_hash, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *source_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    st = l->st_source_ins;
    sqlite3_bind_text(st, 1, meta->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, meta->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, meta->dataset ? meta->dataset : "ci_trafi_l", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, format ? format : "unknown", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, content_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, meta->fetched_at != BCH_TIME_NONE ? meta->fetched_at : bch_now());
    if (run(l, st)) {
        return BCH_ERR_DB;
    }
    *source_id = sqlite3_last_insert_rowid(l->db);
    return 0;
}

int bch_loader_add_record(struct bch_loader *l, int64_t source_id, const char *source_name,
                          bch_time fetched_at, const struct bch_trafi_record *r,
                          struct bch_load_result *res)
{
    int rc;

    l->source_id = source_id;
    l->source_name = source_name;
    l->fetched_at = fetched_at;
    l->res = res;
    l->nitems = 0; /* snapshot items come from the warehouse on this path */
    rc = store_record(l, r);
    l->nitems = 0;
    l->res = NULL;
    if (rc == 0) {
        res->records++;
    }
    return rc;
}

int bch_loader_snapshot(struct bch_loader *l, int64_t source_id, bch_time at,
                        struct bch_load_result *res)
{
    sqlite3_stmt *st;
    int rc, step;

    rc = rebuild_flagged(l);
    if (rc) {
        return rc;
    }
    /* CROSS JOIN keeps segment as the outer loop: one index seek per segment
     * instead of a scan of every observation. */
    st = bch_db_prepare(l->db,
                        "SELECT o.segment_id, o.state, o.mdate FROM segment s "
                        "CROSS JOIN observation o ON o.segment_id = s.segment_id AND o.mdate = "
                        "(SELECT max(mdate) FROM observation WHERE segment_id = "
                        "s.segment_id AND mdate <= ?1)");
    if (!st) {
        return BCH_ERR_DB;
    }
    sqlite3_bind_int64(st, 1, at);
    l->nitems = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct seg *g = seg_by_id(l, sqlite3_column_int64(st, 0));

        if (g && push_item(l, (size_t)(g - l->segs), sqlite3_column_int(st, 1),
                           sqlite3_column_int64(st, 2))) {
            sqlite3_finalize(st);
            return BCH_ERR_NOMEM;
        }
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        return BCH_ERR_DB;
    }
    memset(res->states, 0, sizeof(res->states));
    res->known_km = res->congested_km = res->dense_km = 0;
    res->stale = 0;
    res->flag = NULL;
    l->source_id = source_id;
    res->snapshot_at = at;
    rc = store_snapshot(l, at, res);
    res->active_jams = count_active_jams(l, at);
    l->nitems = 0;
    return rc;
}
