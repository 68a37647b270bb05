/*
 * test_loader.c - the warehouse loader (pipeline/loader.c) on a temporary
 * SQLite file, with the real reader and the two real snapshots.
 *
 * Expected counts come from shared/data/bordeaux/SOURCES.md (694 segments,
 * 565 mdate changes, 34 state changes, 22 EMBOUTEILLE at 10:00, lengths)
 * and from the definitions of docs/CONGESTION_METRICS.md as stated in the
 * headers.  Order independence, idempotence and restart safety are checked
 * by comparing table dumps of warehouses built in different ways; dumps name
 * segments by ident (segment_id depends on load order) and leave out the
 * wall-clock columns (fetched_at, rejected_at).
 */
#include "core/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "pipeline/loader.h"
#include "warehouse/db.h"

#define SNAP0950 "ci_trafi_l_2025-12-18T0950.csv"
#define SNAP1000 "ci_trafi_l_2025-12-18T1000.csv"
#define T0950    ((bch_time)1766047850) /* 2025-12-18T09:50:50+01:00 */
#define T1000    ((bch_time)1766048450) /* 2025-12-18T10:00:50+01:00 */

/* ----------------------------------------------------------- warehouse */

struct wh {
    char path[64];
    sqlite3 *db;
    struct bch_loader *l;
};

static void wh_open_loader(struct wh *w)
{
    char err[256] = "";

    w->l = bch_loader_new(w->db, NULL, err, sizeof(err));
    if (!w->l) {
        fail_msg("bch_loader_new: %s", err);
    }
}

static void wh_open(struct wh *w)
{
    char err[256] = "";
    int fd;

    snprintf(w->path, sizeof(w->path), "/tmp/bouchon-test-loader-XXXXXX");
    fd = mkstemp(w->path);
    assert_true(fd >= 0);
    close(fd);
    w->db = bch_db_open(w->path, BCH_DB_READWRITE, err, sizeof(err));
    if (!w->db) {
        fail_msg("bch_db_open: %s", err);
    }
    wh_open_loader(w);
}

static void wh_close(struct wh *w)
{
    char side[96];

    bch_loader_free(w->l);
    w->l = NULL;
    bch_db_close(w->db);
    w->db = NULL;
    unlink(w->path);
    snprintf(side, sizeof(side), "%s-wal", w->path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", w->path);
    unlink(side);
}

/* Restart: a new loader (and connection) on the same file. */
static void wh_restart(struct wh *w)
{
    char err[256] = "";

    bch_loader_free(w->l);
    bch_db_close(w->db);
    w->db = bch_db_open(w->path, BCH_DB_READWRITE, err, sizeof(err));
    if (!w->db) {
        fail_msg("bch_db_open: %s", err);
    }
    wh_open_loader(w);
}

static int64_t q_int(struct wh *w, const char *sql)
{
    return bch_db_int(w->db, sql, -999);
}

/* ------------------------------------------------------------ payloads */

static char *read_shared(const char *name, size_t *len)
{
    const char *root = getenv("BOUCHON_SHARED");
    char path[4096];
    struct bch_buf b;

    if (!root || !*root) {
        root = "../shared";
    }
    snprintf(path, sizeof(path), "%s/data/bordeaux/%s", root, name);
    bch_buf_init(&b, 64u << 20);
    if (bch_buf_read_file(&b, path)) {
        bch_buf_release(&b);
        fail_msg("cannot read %s (set BOUCHON_SHARED to the shared folder): %s", path,
                 strerror(errno));
    }
    *len = b.len;
    return bch_buf_take(&b);
}

/* Loads buf as a file payload in its own transaction; returns the rc. */
static int load_buf(struct wh *w, const char *buf, size_t len, const char *name,
                    struct bch_load_result *res)
{
    struct bch_payload_meta meta = {"file", name, "ci_trafi_l", BCH_TIME_NONE};
    char err[512] = "";
    int rc;

    assert_int_equal(bch_loader_begin(w->l), 0);
    rc = bch_loader_load(w->l, buf, len, &meta, res, err, sizeof(err));
    if (rc == BCH_ERR_DB) {
        fail_msg("%s: warehouse error: %s", name, err);
    }
    assert_int_equal(bch_loader_commit(w->l), 0);
    return rc;
}

static void load_shared(struct wh *w, const char *name, struct bch_load_result *res)
{
    size_t len;
    char *text = read_shared(name, &len);

    assert_int_equal(load_buf(w, text, len, name, res), 0);
    free(text);
}

static int load_str(struct wh *w, const char *text, const char *name, struct bch_load_result *res)
{
    return load_buf(w, text, strlen(text), name, res);
}

/* -------------------------------------------------------------- dumps */

/* Every row of sql as text, columns separated by '|', NULL as '~'. */
static char *dump(struct wh *w, const char *sql)
{
    sqlite3_stmt *st = NULL;
    struct bch_buf b;
    int rc;

    if (sqlite3_prepare_v2(w->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("%s: %s", sql, sqlite3_errmsg(w->db));
    }
    bch_buf_init(&b, 256u << 20);
    assert_int_equal(bch_buf_add(&b, "", 0), 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *t = sqlite3_column_text(st, i);

            assert_int_equal(bch_buf_printf(&b, "%s%s", i ? "|" : "", t ? (const char *)t : "~"),
                             0);
        }
        assert_int_equal(bch_buf_addc(&b, '\n'), 0);
    }
    assert_int_equal(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    return bch_buf_take(&b);
}

/* Comparable dumps: segments by ident, no wall-clock columns, no ids that
 * depend on load order. */
static const struct {
    const char *name;
    const char *sql;
} tables[] = {
    {"segment", "SELECT ident, gid, typevoie, commune, code_commune, origine, geom_type, "
                "geom_hash, geometry, printf('%.6f', length_m), first_seen FROM segment "
                "ORDER BY ident"},
    {"segment_gid", "SELECT s.ident, g.gid, g.valid_from, g.valid_to FROM segment_gid g "
                    "JOIN segment s USING (segment_id) ORDER BY 1, 2"},
    {"observation", "SELECT s.ident, o.mdate, o.state, o.gid FROM observation o "
                    "JOIN segment s USING (segment_id) ORDER BY 1, 2"},
    {"state_interval", "SELECT s.ident, i.start, i.end, i.state FROM state_interval i "
                       "JOIN segment s USING (segment_id) ORDER BY 1, 2"},
    {"jam_episode", "SELECT s.ident, j.start, j.end, j.last_congested, j.left_censored, "
                    "j.peak_state, j.right_censored, j.seen_until FROM jam_episode j "
                    "JOIN segment s USING (segment_id) ORDER BY 1, 2"},
    {"hourly_segment", "SELECT s.ident, h.hour, h.s_fluide, h.s_dense, h.s_congested, "
                       "h.s_unknown FROM hourly_segment h JOIN segment s USING (segment_id) "
                       "ORDER BY 1, 2"},
    {"queue", "SELECT at, queue_no, printf('%.6f', length_m), n_segments, idents FROM queue "
              "ORDER BY 1, 2"},
    {"snapshot", "SELECT at, segments, n_inconnu, n_fluide, n_dense, n_embouteille, n_paralyse, "
                 "n_stale, printf('%.6f|%.6f|%.6f', known_km, congested_km, dense_km), "
                 "printf('%.9f|%.9f', congested_share, weighted_index), "
                 "printf('%.9f|%.9f', unknown_share, stale_share), newest_mdate, newest_age_s, "
                 "flag FROM snapshot ORDER BY at"},
    {"raw_geometry", "SELECT geom_hash, geojson FROM raw_geometry ORDER BY 1"},
    {"raw_record", "SELECT record_hash, geom_hash, body FROM raw_record ORDER BY 1"},
};

/* Full dumps, every column of every table (for "nothing changed"). */
static const char *const full_tables[] = {
    "raw_source",  "raw_geometry",   "raw_record",  "rejected", "segment", "segment_gid",
    "observation", "state_interval", "jam_episode", "snapshot", "queue",   "hourly_segment",
};

static char *dump_full(struct wh *w)
{
    struct bch_buf b;

    bch_buf_init(&b, 512u << 20);
    for (size_t i = 0; i < BCH_ARRAY_LEN(full_tables); i++) {
        char sql[128];
        char *d;

        snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY 1, 2", full_tables[i]);
        d = dump(w, sql);
        assert_int_equal(bch_buf_printf(&b, "== %s\n%s", full_tables[i], d), 0);
        free(d);
    }
    return bch_buf_take(&b);
}

/* Returns the number of tables that differ (printed); only[] limits the
 * comparison to some tables (NULL: all of tables[]). */
static int compare(struct wh *a, struct wh *b, const char *const *only, const char *what)
{
    int diffs = 0;

    for (size_t i = 0; i < BCH_ARRAY_LEN(tables); i++) {
        char *da, *db;
        bool wanted = only == NULL;

        for (const char *const *o = only; o && *o; o++) {
            wanted |= strcmp(*o, tables[i].name) == 0;
        }
        if (!wanted) {
            continue;
        }
        da = dump(a, tables[i].sql);
        db = dump(b, tables[i].sql);
        if (strcmp(da, db) != 0) {
            size_t k = 0;

            while (da[k] && da[k] == db[k]) {
                k++;
            }
            while (k > 0 && da[k - 1] != '\n') {
                k--;
            }
            print_error("%s: table %s differs; first difference:\n  a: %.200s\n  b: %.200s\n", what,
                        tables[i].name, da + k, db + k);
            diffs++;
        }
        free(da);
        free(db);
    }
    return diffs;
}

/* ----------------------------------------------------------- the tests */

static void check_two_snapshots(struct wh *w)
{
    assert_int_equal(q_int(w, "SELECT count(*) FROM segment"), 694);
    assert_int_equal(q_int(w, "SELECT count(*) FROM segment_gid"), 694);
    assert_int_equal(q_int(w, "SELECT count(*) FROM observation"), 694 + 565);
    assert_int_equal(q_int(w, "SELECT count(*) FROM state_interval WHERE end IS NOT NULL"), 34);
    assert_int_equal(q_int(w, "SELECT count(*) FROM state_interval WHERE end IS NULL"), 694);
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode WHERE end IS NULL"), 22);
    /* ten minutes apart, no gap above 900 s: no end nobody saw but INCONNU */
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode WHERE end - last_congested > 900"),
                     0);
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode WHERE seen_until IS NULL OR "
                              "seen_until != last_congested + 900"),
                     0);
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode j WHERE right_censored != "
                              "(j.end IS NOT NULL AND (SELECT state FROM observation o WHERE "
                              "o.segment_id = j.segment_id AND o.mdate = j.end) = 0)"),
                     0);
    assert_int_equal(q_int(w, "SELECT count(*) FROM rebuild_segment"), 0);
    assert_int_equal(q_int(w, "SELECT count(*) FROM snapshot"), 2);
    /* each of the 565 updated segments was covered 600 s by its 09:50 state */
    assert_int_equal(q_int(w, "SELECT sum(s_fluide + s_dense + s_congested + s_unknown) "
                              "FROM hourly_segment"),
                     565 * 600);
    /* the open intervals carry the 10:00 states (SOURCES.md) */
    assert_int_equal(q_int(w, "SELECT count(*) FROM state_interval WHERE end IS NULL AND "
                              "state = 3"),
                     22);
    assert_int_equal(q_int(w, "SELECT count(*) FROM state_interval WHERE end IS NULL AND "
                              "state = 2"),
                     16);
    assert_int_equal(q_int(w, "SELECT count(*) FROM state_interval WHERE end IS NULL AND "
                              "state = 1"),
                     432);
    /* every open jam is a segment EMBOUTEILLE at 10:00, and started congested */
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode j JOIN state_interval i ON "
                              "i.segment_id = j.segment_id AND i.end IS NULL AND i.state = 3 "
                              "WHERE j.end IS NULL AND j.peak_state = 3"),
                     22);
    assert_int_equal(q_int(w, "SELECT count(*) FROM rejected"), 0);
    assert_int_equal(q_int(w, "SELECT count(*) FROM raw_source WHERE completed = 1"), 2);
}

static void test_two_snapshots(void **state)
{
    struct wh w;
    struct bch_load_result r1, r2;

    (void)state;
    wh_open(&w);
    load_shared(&w, SNAP0950, &r1);
    assert_false(r1.skipped);
    assert_int_equal(r1.format, BCH_FMT_CSV);
    assert_int_equal(r1.records, 694);
    assert_int_equal(r1.rejected, 0);
    assert_int_equal(r1.observations, 694);
    assert_int_equal(r1.snapshot_at, T0950);
    assert_int_equal(r1.states[BCH_STATE_FLUIDE], 438);
    assert_int_equal(r1.states[BCH_STATE_INCONNU], 223);
    assert_int_equal(r1.states[BCH_STATE_EMBOUTEILLE], 23);
    assert_int_equal(r1.states[BCH_STATE_DENSE], 10);
    assert_int_equal(r1.active_jams, 23);
    assert_null(r1.flag);

    load_shared(&w, SNAP1000, &r2);
    assert_int_equal(r2.records, 694);
    assert_int_equal(r2.observations, 565);
    assert_int_equal(r2.state_changes, 34);
    assert_int_equal(r2.snapshot_at, T1000);
    assert_int_equal(r2.states[BCH_STATE_FLUIDE], 432);
    assert_int_equal(r2.states[BCH_STATE_INCONNU], 224);
    assert_int_equal(r2.states[BCH_STATE_EMBOUTEILLE], 22);
    assert_int_equal(r2.states[BCH_STATE_DENSE], 16);
    assert_int_equal(r2.active_jams, 22);
    /* SOURCES.md: known 164.70 km, EMBOUTEILLE 10.34 km, DENSE 5.49 km */
    if (fabs(r2.known_km - 164.70) > 0.005 || fabs(r2.congested_km - 10.34) > 0.005 ||
        fabs(r2.dense_km - 5.49) > 0.005) {
        fail_msg("10:00 KPIs: known %.4f congested %.4f dense %.4f km (stale %ld)", r2.known_km,
                 r2.congested_km, r2.dense_km, r2.stale);
    }
    check_two_snapshots(&w);
    /* the snapshot row says the same */
    assert_int_equal(q_int(&w, "SELECT n_embouteille FROM snapshot WHERE at = 1766048450"), 22);
    assert_int_equal(q_int(&w, "SELECT n_fluide FROM snapshot WHERE at = 1766048450"), 432);
    assert_int_equal(q_int(&w, "SELECT segments FROM snapshot WHERE at = 1766047850"), 694);
    assert_int_equal(q_int(&w, "SELECT round(congested_share * 10000) FROM snapshot "
                               "WHERE at = 1766048450"),
                     628); /* 6.28 % */
    assert_int_equal(q_int(&w, "SELECT round(sum(length_m) / 10) FROM segment"), 29309);
    wh_close(&w);
}

static void test_idempotent(void **state)
{
    struct wh w;
    struct bch_load_result r;
    char *before, *after;
    size_t len;
    char *text;

    (void)state;
    wh_open(&w);
    load_shared(&w, SNAP0950, &r);
    load_shared(&w, SNAP1000, &r);
    before = dump_full(&w);
    /* the same bytes again, in any order and under any name: skipped */
    load_shared(&w, SNAP0950, &r);
    assert_true(r.skipped);
    assert_int_equal(r.observations, 0);
    load_shared(&w, SNAP1000, &r);
    assert_true(r.skipped);
    text = read_shared(SNAP1000, &len);
    assert_int_equal(load_buf(&w, text, len, "copy-of-1000.csv", &r), 0);
    assert_true(r.skipped);
    free(text);
    after = dump_full(&w);
    assert_string_equal(before, after);
    free(after);
    /* a restarted loader skips them too */
    wh_restart(&w);
    load_shared(&w, SNAP0950, &r);
    assert_true(r.skipped);
    after = dump_full(&w);
    assert_string_equal(before, after);
    free(after);
    free(before);
    check_two_snapshots(&w);
    wh_close(&w);
}

/* The same snapshot in another format: new bytes, no new fact. */
static void test_same_data_other_format(void **state)
{
    static const char *const derived[] = {"observation",    "state_interval", "jam_episode",
                                          "hourly_segment", "segment",        "segment_gid",
                                          "snapshot",       "queue",          NULL};
    struct wh a, b;
    struct bch_load_result r;
    size_t len;
    char *text;
    FILE *f;

    (void)state;
    wh_open(&a);
    wh_open(&b);
    load_shared(&a, SNAP0950, &r);
    load_shared(&a, SNAP1000, &r);
    load_shared(&b, SNAP0950, &r);
    load_shared(&b, SNAP1000, &r);
    f = fopen("tests/fixtures/api/ci_trafi_l_1000.records.json", "rb");
    if (!f) {
        fail_msg("run from the repository root (tests/fixtures/api): %s", strerror(errno));
    }
    fclose(f);
    {
        struct bch_buf buf;

        bch_buf_init(&buf, 64u << 20);
        assert_int_equal(bch_buf_read_file(&buf, "tests/fixtures/api/ci_trafi_l_1000.records.json"),
                         0);
        len = buf.len;
        text = bch_buf_take(&buf);
    }
    assert_int_equal(load_buf(&b, text, len, "records.json", &r), 0);
    free(text);
    assert_false(r.skipped);
    assert_int_equal(r.format, BCH_FMT_RECORDS);
    assert_int_equal(r.records, 694);
    assert_int_equal(r.rejected, 0);
    assert_int_equal(r.observations, 0);
    assert_int_equal(r.state_changes, 0);
    assert_int_equal(compare(&a, &b, derived, "records.json after the CSV"), 0);
    wh_close(&a);
    wh_close(&b);
}

/* 10:00 then 09:50 gives the same warehouse as 09:50 then 10:00. */
static void test_out_of_order(void **state)
{
    struct wh fwd, rev;
    struct bch_load_result r;

    (void)state;
    wh_open(&fwd);
    wh_open(&rev);
    load_shared(&fwd, SNAP0950, &r);
    load_shared(&fwd, SNAP1000, &r);
    load_shared(&rev, SNAP1000, &r);
    assert_int_equal(r.observations, 694);
    load_shared(&rev, SNAP0950, &r);
    assert_int_equal(r.observations, 565);
    assert_int_equal(r.state_changes, 0); /* a rebuild's changes are not new */
    check_two_snapshots(&rev);
    assert_int_equal(compare(&fwd, &rev, NULL, "reverse order"), 0);
    /* both in one transaction, reversed, as replay batches them */
    {
        struct wh one;
        struct bch_payload_meta m1 = {"file", SNAP1000, "ci_trafi_l", BCH_TIME_NONE};
        struct bch_payload_meta m2 = {"file", SNAP0950, "ci_trafi_l", BCH_TIME_NONE};
        size_t l1, l2;
        char *t1 = read_shared(SNAP1000, &l1), *t2 = read_shared(SNAP0950, &l2);
        char err[256];

        wh_open(&one);
        assert_int_equal(bch_loader_begin(one.l), 0);
        assert_int_equal(bch_loader_load(one.l, t1, l1, &m1, &r, err, sizeof(err)), 0);
        assert_int_equal(bch_loader_load(one.l, t2, l2, &m2, &r, err, sizeof(err)), 0);
        assert_int_equal(bch_loader_commit(one.l), 0);
        check_two_snapshots(&one);
        assert_int_equal(compare(&fwd, &one, NULL, "reverse order, one transaction"), 0);
        free(t1);
        free(t2);
        wh_close(&one);
    }
    wh_close(&fwd);
    wh_close(&rev);
}

/* A new loader on an existing warehouse goes on exactly where it stopped. */
static void test_restart(void **state)
{
    struct wh one, two;
    struct bch_load_result r;

    (void)state;
    wh_open(&one);
    wh_open(&two);
    load_shared(&one, SNAP0950, &r);
    load_shared(&one, SNAP1000, &r);
    load_shared(&two, SNAP0950, &r);
    wh_restart(&two);
    load_shared(&two, SNAP1000, &r);
    assert_int_equal(r.observations, 565);
    assert_int_equal(r.state_changes, 34);
    assert_int_equal(r.active_jams, 22);
    check_two_snapshots(&two);
    assert_int_equal(compare(&one, &two, NULL, "restart between the snapshots"), 0);
    wh_close(&one);
    wh_close(&two);
}

/* ------------------------------------------------- hand-made sequences */

#define HDR     "gid;ident;etat;mdate;geo_shape\n"
#define SHAPE_A "\"{\"\"type\"\":\"\"LineString\"\",\"\"coordinates\"\":[[0,45],[0,45.01]]}\""
#define SHAPE_B "\"{\"\"type\"\":\"\"LineString\"\",\"\"coordinates\"\":[[0,45.01],[0,45.02]]}\""

/* One payload per step: two touching segments X and Y, X's state given. */
static char *step_csv(const char *mdate, const char *x_state, const char *y_state)
{
    struct bch_buf b;

    bch_buf_init(&b, 1 << 16);
    assert_int_equal(bch_buf_printf(&b, HDR "1;X;%s;%s;" SHAPE_A "\n2;Y;%s;%s;" SHAPE_B "\n",
                                    x_state, mdate, y_state, mdate),
                     0);
    return bch_buf_take(&b);
}

static const struct {
    const char *mdate, *x, *y;
} steps[] = {
    {"2025-12-18T08:58:00Z", "FLUIDE", "FLUIDE"},
    {"2025-12-18T08:59:00Z", "EMBOUTEILLE", "DENSE"},
    {"2025-12-18T09:00:00Z", "EMBOUTEILLE", "EMBOUTEILLE"},
    {"2025-12-18T09:01:00Z", "FLUIDE", "EMBOUTEILLE"}, /* X's jam ends, tentatively */
    {"2025-12-18T09:02:00Z", "PARALYSE", "FLUIDE"},    /* within 300 s: X's jam goes on */
    {"2025-12-18T09:10:00Z", "FLUIDE", "FLUIDE"},
    {"2025-12-18T09:40:00Z", "EMBOUTEILLE", "INCONNU"}, /* after a gap > 900 s */
};

/* Every restart point of the sequence gives the same warehouse as one
 * loader running through it. */
static void test_restart_every_step(void **state)
{
    struct wh ref;
    struct bch_load_result r;
    const size_t n = BCH_ARRAY_LEN(steps);

    (void)state;
    wh_open(&ref);
    for (size_t i = 0; i < n; i++) {
        char *t = step_csv(steps[i].mdate, steps[i].x, steps[i].y);
        char name[32];

        snprintf(name, sizeof(name), "step%zu.csv", i);
        assert_int_equal(load_str(&ref, t, name, &r), 0);
        free(t);
    }
    /* the reference itself: X has two episodes (the flicker at 09:01 did not
     * split the first one, the gap before 09:40 makes the second censored) */
    assert_int_equal(q_int(&ref, "SELECT count(*) FROM jam_episode j JOIN segment s USING "
                                 "(segment_id) WHERE s.ident = 'X'"),
                     2);
    assert_int_equal(q_int(&ref, "SELECT peak_state FROM jam_episode j JOIN segment s USING "
                                 "(segment_id) WHERE s.ident = 'X' ORDER BY start LIMIT 1"),
                     BCH_STATE_PARALYSE);
    assert_int_equal(q_int(&ref, "SELECT end FROM jam_episode j JOIN segment s USING "
                                 "(segment_id) WHERE s.ident = 'X' ORDER BY start LIMIT 1"),
                     1766049000); /* 09:10 */
    assert_int_equal(q_int(&ref, "SELECT left_censored FROM jam_episode j JOIN segment s USING "
                                 "(segment_id) WHERE s.ident = 'X' ORDER BY start DESC LIMIT 1"),
                     1);
    assert_int_equal(q_int(&ref, "SELECT count(*) FROM jam_episode WHERE end IS NULL"), 1);
    /* 09:00: X and Y congested and touching: one queue of both */
    assert_int_equal(q_int(&ref, "SELECT n_segments FROM queue WHERE at = 1766048400"), 2);

    for (size_t cut = 1; cut < n; cut++) {
        struct wh w;

        wh_open(&w);
        for (size_t i = 0; i < n; i++) {
            char *t = step_csv(steps[i].mdate, steps[i].x, steps[i].y);
            char name[32];

            if (i == cut) {
                wh_restart(&w);
            }
            snprintf(name, sizeof(name), "step%zu.csv", i);
            assert_int_equal(load_str(&w, t, name, &r), 0);
            free(t);
        }
        {
            char what[48];

            snprintf(what, sizeof(what), "restart before step %zu", cut);
            assert_int_equal(compare(&ref, &w, NULL, what), 0);
        }
        wh_close(&w);
    }
    /* and in reverse order, and shuffled */
    {
        static const size_t orders[][7] = {{6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 1, 5, 2, 4}};

        for (size_t o = 0; o < BCH_ARRAY_LEN(orders); o++) {
            struct wh w;
            wh_open(&w);
            for (size_t k = 0; k < n; k++) {
                size_t i = orders[o][k];
                char *t = step_csv(steps[i].mdate, steps[i].x, steps[i].y);
                char name[32];

                snprintf(name, sizeof(name), "step%zu.csv", i);
                assert_int_equal(load_str(&w, t, name, &r), 0);
                free(t);
            }
            assert_int_equal(compare(&ref, &w, NULL, o ? "shuffled" : "reversed"), 0);
            wh_close(&w);
        }
    }
    wh_close(&ref);
}

/* ---------------------------------------------- gaps above the stale limit */

/*
 * X and Y again, with gaps above the stale limit (900 s) between some steps.
 * Expected episodes (docs/ANALYTICS.md): a gap ends the open episode at its
 * last congested mdate + 900 (right-censored) and the next congested
 * observation opens a new, left-censored one; a gap also forbids the
 * hysteresis to bridge it.
 */
static const struct {
    const char *mdate, *x, *y;
} gsteps[] = {
    {"2025-12-18T09:00:00Z", "EMBOUTEILLE", "FLUIDE"},
    {"2025-12-18T09:01:00Z", "EMBOUTEILLE", "EMBOUTEILLE"},
    /* 19 min unseen: both episodes end at 09:16:00, new ones open */
    {"2025-12-18T09:20:00Z", "EMBOUTEILLE", "EMBOUTEILLE"},
    {"2025-12-18T09:21:00Z", "FLUIDE", "INCONNU"},       /* X ends; Y ends unseen (INCONNU) */
    {"2025-12-18T09:22:00Z", "EMBOUTEILLE", "PARALYSE"}, /* both within the hysteresis */
    /* 18 min unseen: both end at 09:37:00 */
    {"2025-12-18T09:40:00Z", "FLUIDE", "FLUIDE"},
    /* 240 s after X's unseen end: within the hysteresis, but across a gap */
    {"2025-12-18T09:41:00Z", "EMBOUTEILLE", "FLUIDE"},
    {"2025-12-18T09:42:00Z", "EMBOUTEILLE", "EMBOUTEILLE"},
};

#define GSTEPS BCH_ARRAY_LEN(gsteps)

/* Loads gsteps in order[] (NULL: in time order), restarting the loader
 * before position cut (0: never), all in one transaction when one_tx. */
static void load_gsteps(struct wh *w, const size_t *order, size_t cut, bool one_tx)
{
    struct bch_load_result r;
    char err[256];

    if (one_tx) {
        assert_int_equal(bch_loader_begin(w->l), 0);
    }
    for (size_t k = 0; k < GSTEPS; k++) {
        size_t i = order ? order[k] : k;
        char *t = step_csv(gsteps[i].mdate, gsteps[i].x, gsteps[i].y);
        char name[32];

        if (cut && k == cut) {
            wh_restart(w);
        }
        snprintf(name, sizeof(name), "gstep%zu.csv", i);
        if (one_tx) {
            struct bch_payload_meta m = {"file", name, "ci_trafi_l", BCH_TIME_NONE};

            assert_int_equal(bch_loader_load(w->l, t, strlen(t), &m, &r, err, sizeof(err)), 0);
        } else {
            assert_int_equal(load_str(w, t, name, &r), 0);
        }
        free(t);
    }
    if (one_tx) {
        assert_int_equal(bch_loader_commit(w->l), 0);
    }
}

static void check_gap_episodes(struct wh *w)
{
    char *d = dump(w, "SELECT s.ident, j.start - 1766048400, coalesce(j.end - 1766048400, -1), "
                      "j.last_congested - 1766048400, j.left_censored, j.right_censored, "
                      "j.peak_state FROM jam_episode j JOIN segment s USING (segment_id) "
                      "ORDER BY 1, 2");

    /* times in seconds after 09:00:00 */
    assert_string_equal(d, "X|0|960|60|1|1|3\n"       /* 09:00 .. 09:16 unseen */
                           "X|1200|2220|1320|1|1|3\n" /* 09:20 .. 09:37 unseen (reopened) */
                           "X|2460|-1|2520|0|0|3\n"   /* 09:41, ongoing, seen before */
                           "Y|60|960|60|0|1|3\n"      /* 09:01 .. 09:16 unseen */
                           "Y|1200|2220|1320|1|1|4\n" /* INCONNU then PARALYSE: one */
                           "Y|2520|-1|2520|0|0|3\n"); /* 09:42, ongoing */
    free(d);
    /* no episode claims congestion past its last observation's trust */
    assert_int_equal(q_int(w, "SELECT count(*) FROM jam_episode WHERE end - last_congested > 900"),
                     0);
}

/* Gaps end episodes the same way whatever the order and the restarts. */
static void test_gaps_any_order(void **state)
{
    struct wh ref;
    uint64_t rng = 20200320;

    (void)state;
    wh_open(&ref);
    load_gsteps(&ref, NULL, 0, false);
    check_gap_episodes(&ref);
    for (size_t cut = 1; cut < GSTEPS; cut++) {
        struct wh w;
        char what[48];

        wh_open(&w);
        load_gsteps(&w, NULL, cut, false);
        snprintf(what, sizeof(what), "gaps: restart before step %zu", cut);
        assert_int_equal(compare(&ref, &w, NULL, what), 0);
        wh_close(&w);
    }
    /* seeded shuffles, each also with a restart midway, and in one transaction */
    for (int q = 0; q < 24; q++) {
        size_t order[GSTEPS];
        struct wh w;
        char what[64];

        for (size_t i = 0; i < GSTEPS; i++) {
            order[i] = i;
        }
        for (size_t i = GSTEPS - 1; i > 0; i--) {
            size_t j;
            size_t tmp;

            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            j = (size_t)((rng >> 33) % (i + 1));
            tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        wh_open(&w);
        load_gsteps(&w, order, q % 3 == 0 ? 0 : (size_t)(1 + q % (GSTEPS - 1)), q % 3 == 0);
        snprintf(what, sizeof(what), "gaps: shuffle %d", q);
        if (compare(&ref, &w, NULL, what) != 0) {
            fail_msg("shuffle %d: %zu %zu %zu %zu %zu %zu %zu %zu", q, order[0], order[1], order[2],
                     order[3], order[4], order[5], order[6], order[7]);
        }
        wh_close(&w);
    }
    wh_close(&ref);
}

/*
 * A segment that goes silent: its episode keeps end NULL in the warehouse
 * (nothing was observed), seen_until says until when it was seen, and it
 * no longer counts as active once the data is past seen_until.
 */
static void test_silent_segment(void **state)
{
    struct wh w;
    struct bch_load_result r;

    (void)state;
    wh_open(&w);
    assert_int_equal(load_str(&w,
                              HDR "1;X;EMBOUTEILLE;2025-12-18T09:00:00Z;\n"
                                  "2;Y;FLUIDE;2025-12-18T09:00:00Z;\n",
                              "a.csv", &r),
                     0);
    assert_int_equal(r.active_jams, 1);
    /* 15 min later (exactly the stale limit): still going on */
    assert_int_equal(load_str(&w, HDR "2;Y;FLUIDE;2025-12-18T09:15:00Z;\n", "b.csv", &r), 0);
    assert_int_equal(r.active_jams, 1);
    /* two days later, X still not seen again */
    assert_int_equal(load_str(&w, HDR "2;Y;DENSE;2025-12-20T09:00:00Z;\n", "c.csv", &r), 0);
    assert_int_equal(r.active_jams, 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM jam_episode WHERE end IS NULL"), 1);
    assert_int_equal(q_int(&w, "SELECT seen_until FROM jam_episode"), 1766048400 + 900);
    /* X comes back, congested: the silent episode ends unseen, a new one opens */
    assert_int_equal(load_str(&w, HDR "1;X;EMBOUTEILLE;2025-12-20T09:01:00Z;\n", "d.csv", &r), 0);
    assert_int_equal(r.active_jams, 1);
    assert_int_equal(q_int(&w, "SELECT end FROM jam_episode ORDER BY start LIMIT 1"),
                     1766048400 + 900);
    assert_int_equal(q_int(&w, "SELECT right_censored FROM jam_episode ORDER BY start LIMIT 1"), 1);
    assert_int_equal(q_int(&w, "SELECT left_censored FROM jam_episode ORDER BY start DESC LIMIT 1"),
                     1);
    wh_close(&w);
}

/*
 * A warehouse written before migration 4 (a gap never ended an episode) is
 * rebuilt by the first loader that writes to it: the same episodes as a
 * warehouse loaded with the new rule from the start.
 */
static void test_migration_rebuilds(void **state)
{
    struct wh ref, old;
    char err[256] = "";
    char *before;

    (void)state;
    wh_open(&ref);
    load_gsteps(&ref, NULL, 0, false);
    wh_open(&old);
    load_gsteps(&old, NULL, 0, false);
    /* back to schema 3, with X's episodes as the old rule made them */
    bch_loader_free(old.l);
    old.l = NULL;
    assert_int_equal(bch_db_exec(old.db, "BEGIN; "
                                         "DELETE FROM jam_episode; "
                                         "ALTER TABLE jam_episode DROP COLUMN seen_until; "
                                         "ALTER TABLE jam_episode DROP COLUMN right_censored; "
                                         "DROP TABLE rebuild_segment; "
                                         "INSERT INTO jam_episode SELECT segment_id, 1766048400, "
                                         "NULL, 1766050920, 1, 3 FROM segment WHERE ident = 'X'; "
                                         "PRAGMA user_version = 3; COMMIT"),
                     0);
    bch_db_close(old.db);
    old.db = bch_db_open(old.path, BCH_DB_READWRITE, err, sizeof(err));
    if (!old.db) {
        fail_msg("bch_db_open: %s", err);
    }
    assert_int_equal(q_int(&old, "PRAGMA user_version"), 4);
    assert_int_equal(q_int(&old, "SELECT count(*) FROM rebuild_segment"), 1);
    assert_int_equal(q_int(&old, "SELECT seen_until FROM jam_episode"), 1766050920 + 900);
    wh_open_loader(&old);
    /* no payload needed: the first write transaction rebuilds */
    assert_int_equal(bch_loader_begin(old.l), 0);
    assert_int_equal(bch_loader_commit(old.l), 0);
    assert_int_equal(q_int(&old, "SELECT count(*) FROM rebuild_segment"), 0);
    /* Y was deleted above and not listed: rebuild it as an old warehouse
     * would list it, through a restart */
    assert_int_equal(bch_db_exec(old.db, "INSERT INTO rebuild_segment SELECT segment_id FROM "
                                         "segment WHERE ident = 'Y'"),
                     0);
    wh_restart(&old);
    assert_int_equal(bch_loader_begin(old.l), 0);
    assert_int_equal(bch_loader_commit(old.l), 0);
    check_gap_episodes(&old);
    assert_int_equal(compare(&ref, &old, NULL, "rebuilt after migration 4"), 0);
    /* and nothing more happens afterwards */
    before = dump_full(&old);
    wh_restart(&old);
    assert_int_equal(bch_loader_begin(old.l), 0);
    assert_int_equal(bch_loader_commit(old.l), 0);
    {
        char *after = dump_full(&old);

        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    wh_close(&old);
    wh_close(&ref);
}

/* ---------------------------------------------------------- rejections */

static void test_conflicting_duplicate(void **state)
{
    struct wh w;
    struct bch_load_result r;
    char *reason;

    (void)state;
    wh_open(&w);
    assert_int_equal(load_str(&w, HDR "1;X;FLUIDE;2025-12-18T09:00:00Z;\n", "a.csv", &r), 0);
    /* same segment, same mdate, other state: rejected, the stored one kept */
    assert_int_equal(load_str(&w, HDR "1;X;DENSE;2025-12-18T10:00:00+01:00;\n", "b.csv", &r), 0);
    assert_int_equal(r.records, 1);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.observations, 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM observation"), 1);
    assert_int_equal(q_int(&w, "SELECT state FROM observation"), BCH_STATE_FLUIDE);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected"), 1);
    assert_int_equal(q_int(&w, "SELECT position FROM rejected"), 2);
    assert_int_equal(q_int(&w, "SELECT coerced FROM rejected"), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected r JOIN raw_source s USING "
                               "(source_id) WHERE s.name = 'b.csv' AND r.field = 'etat' AND "
                               "r.source_name = 'b.csv'"),
                     1);
    assert_int_equal(q_int(&w, "SELECT rejected FROM raw_source WHERE name = 'b.csv'"), 1);
    reason = dump(&w, "SELECT reason, value FROM rejected");
    assert_non_null(strstr(reason, "conflict"));
    assert_non_null(strstr(reason, "DENSE"));
    assert_non_null(strstr(reason, "FLUIDE"));
    free(reason);
    /* the conflicting record is not part of any snapshot, and a file left
     * with no usable record does not replace the snapshot of its instant */
    assert_int_equal(r.snapshot_at, BCH_TIME_NONE);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM snapshot WHERE n_dense > 0"), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM snapshot"), 1);
    assert_int_equal(q_int(&w, "SELECT n_fluide FROM snapshot WHERE at = 1766048400"), 1);
    assert_int_equal(q_int(&w, "SELECT segments FROM snapshot WHERE at = 1766048400"), 1);
    /* a rejected record changes nothing of its segment: not its gid (and
     * gid history), not its attributes */
    assert_int_equal(load_str(&w,
                              "gid;ident;typevoie;etat;mdate\n"
                              "9;X;COURS;EMBOUTEILLE;2025-12-18T09:00:00Z\n",
                              "b2.csv", &r),
                     0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(q_int(&w, "SELECT gid FROM segment WHERE ident = 'X'"), 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment WHERE typevoie IS NOT NULL"), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment_gid"), 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment_gid WHERE valid_to IS NULL"), 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM jam_episode"), 0);
    /* a true duplicate (same state) is no problem and adds nothing */
    assert_int_equal(load_str(&w, HDR "1;X;FLUIDE;2025-12-18T09:00:00.000Z;\n", "c.csv", &r), 0);
    assert_int_equal(r.rejected, 0);
    assert_int_equal(r.observations, 0);
    /* within one payload: the second of two conflicting rows is rejected */
    assert_int_equal(load_str(&w,
                              HDR "1;Y;FLUIDE;2025-12-18T09:00:00Z;\n"
                                  "1;Y;EMBOUTEILLE;2025-12-18T09:00:00Z;\n",
                              "d.csv", &r),
                     0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected r JOIN raw_source s USING "
                               "(source_id) WHERE s.name = 'd.csv' AND r.position = 3"),
                     1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM jam_episode"), 0);
    wh_close(&w);
}

static void test_bad_rows(void **state)
{
    struct wh w;
    struct bch_load_result r;
    char *rej;

    (void)state;
    wh_open(&w);
    assert_int_equal(load_str(&w,
                              HDR "1;A;FLUIDE;2025-12-18T09:00:00Z;\n"        /* line 2 */
                                  "2;B;;2025-12-18T09:00:00Z;\n"              /* 3: no etat */
                                  "3;C;DENSE;2025-12-18T09:00:00Z;\n"         /* line 4 */
                                  "4;D;DENSE;2025-12-18T09:00:00;\n"          /* 5: no offset */
                                  "5;E;BLOQUE;2025-12-18T09:00:00Z;\n"        /* 6: coerced */
                                  "x;F;FLUIDE;2025-12-18T09:00:00Z;\n"        /* 7: bad gid */
                                  "7;G;FLUIDE;2025-12-18T09:00:00Z;\"{}\"\n"  /* 8: bad geom */
                                  "8;H;FLUIDE;2025-12-18T09:00:00Z;\"x\"y\n", /* 9: bad CSV */
                              "bad.csv", &r),
                     0);
    assert_int_equal(r.records, 4);
    assert_int_equal(r.rejected, 4);
    assert_int_equal(r.coerced, 2);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment"), 4);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment WHERE ident IN ('A','C','E','G')"), 4);
    assert_int_equal(q_int(&w, "SELECT state FROM observation o JOIN segment s USING "
                               "(segment_id) WHERE ident = 'E'"),
                     BCH_STATE_INCONNU);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment WHERE ident = 'G' AND "
                               "geometry IS NULL"),
                     1);
    rej = dump(&w, "SELECT position, field, coerced FROM rejected ORDER BY position");
    assert_string_equal(rej, "3|etat|0\n5|mdate|0\n6|etat|1\n7|gid|0\n8|geo_shape|1\n9||0\n");
    free(rej);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected WHERE source_name = 'bad.csv' AND "
                               "source_id = (SELECT source_id FROM raw_source)"),
                     6);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected WHERE position = 5 AND "
                               "value = '2025-12-18T09:00:00'"),
                     1);
    assert_int_equal(q_int(&w, "SELECT rejected FROM raw_source"), 4);
    assert_int_equal(q_int(&w, "SELECT records FROM raw_source"), 4);
    wh_close(&w);
}

static void test_unreadable_payload(void **state)
{
    struct wh w;
    struct bch_load_result r;
    char *rej;

    (void)state;
    wh_open(&w);
    assert_int_equal(load_str(&w, "<html><body>502 Bad Gateway</body></html>", "bad.html", &r),
                     BCH_ERR_INPUT);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.snapshot_at, BCH_TIME_NONE);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM raw_source"), 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM snapshot"), 0);
    rej = dump(&w, "SELECT position, field, reason FROM rejected");
    assert_non_null(strstr(rej, "0||"));
    assert_non_null(strstr(rej, "HTML"));
    free(rej);
    /* an API error body, then a good payload: the warehouse goes on */
    assert_int_equal(load_str(&w, "{\"error_code\": \"InvalidRESTParameterError\"}", "e.json", &r),
                     BCH_ERR_INPUT);
    assert_int_equal(load_str(&w, HDR "1;X;FLUIDE;2025-12-18T09:00:00Z;\n", "ok.csv", &r), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM observation"), 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM rejected"), 2);
    wh_close(&w);
}

/* A failed transaction leaves nothing behind, in the file or the registry. */
static void test_rollback(void **state)
{
    struct wh w;
    struct bch_load_result r;
    struct bch_payload_meta meta = {"file", "x.csv", "ci_trafi_l", BCH_TIME_NONE};
    const char *csv = HDR "1;X;EMBOUTEILLE;2025-12-18T09:00:00Z;\n";
    char err[256];

    (void)state;
    wh_open(&w);
    assert_int_equal(bch_loader_begin(w.l), 0);
    assert_int_equal(bch_loader_load(w.l, csv, strlen(csv), &meta, &r, err, sizeof(err)), 0);
    assert_int_equal(r.active_jams, 1);
    assert_int_equal(bch_loader_rollback(w.l), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM segment"), 0);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM raw_source"), 0);
    /* the same payload loads again as new */
    assert_int_equal(load_str(&w, csv, "x.csv", &r), 0);
    assert_false(r.skipped);
    assert_int_equal(r.observations, 1);
    assert_int_equal(r.active_jams, 1);
    assert_int_equal(q_int(&w, "SELECT count(*) FROM jam_episode"), 1);
    wh_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_snapshots),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_same_data_other_format),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_restart_every_step),
        cmocka_unit_test(test_gaps_any_order),
        cmocka_unit_test(test_silent_segment),
        cmocka_unit_test(test_migration_rebuilds),
        cmocka_unit_test(test_conflicting_duplicate),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_unreadable_payload),
        cmocka_unit_test(test_rollback),
    };

    bch_log_level = BCH_LOG_ERROR; /* rejections are expected here: keep stderr quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
