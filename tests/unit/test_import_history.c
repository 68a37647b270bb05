/*
 * test_import_history.c - `import --kind segment-history` (import/hist.c)
 * and the hourly layer it feeds.
 *
 * Small score files written here exercise each quirk of the real history:
 * scores 0 (unknown), above 3 (capped) and in (0, 1) (raised); offsets with
 * and without a colon; the autumn DST hour written twice; bad rows among
 * good ones; gzip and plain input; segments files given before or after the
 * scores.  The roll-ups are checked against a recomputation in SQL from
 * hourly_score, and warehouses built in different orders against each
 * other, table by table.
 */
#include "test_import_common.h"

#include "report/history.h"

#define H2020_01_15_08 ((bch_time)1579071600) /* 2020-01-15T08:00:00+01:00 */

static const char segments_geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"gid\":3375,\"ident\":\"L24\",\"typevoie\":"
    "\"PENETRANTE\",\"etat\":\"FLUIDE\",\"mdate\":\"2020-03-18T22:25:00+01:00\"},\"geometry\":"
    "{\"type\":\"LineString\",\"coordinates\":[[-0.586072,44.839894],[-0.583528,44.840076]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"gid\":3216,\"ident\":\"B13\",\"typevoie\":"
    "\"PENETRANTE\",\"etat\":\"FLUIDE\",\"mdate\":\"2020-03-20T06:55:00+01:00\"},\"geometry\":"
    "{\"type\":\"LineString\",\"coordinates\":[[-0.538756,44.846065],[-0.537564,44.848736]]}}"
    "]}";

/* gid 3375 ties to L24, 3216 to B13, 1000 stays unmapped. */
static const char scores_csv[] = "\"gid\",\"time\",\"scores_horaires_ponderes\"\n"
                                 "3375,\"2020-01-15T08:00:00+01:00\",1\n"
                                 "3375,\"2020-01-15T09:00:00+01:00\",2.5\n"
                                 "3375,\"2020-01-15T10:00:00+01:00\",0\n"
                                 "3375,\"2020-01-15T11:00:00+01:00\",3.5\n"
                                 "3375,\"2020-01-15T12:00:00+01:00\",0.5\n"
                                 "3216,\"2020-01-15T08:00:00+01:00\",3\n"
                                 "3216,\"2020-01-15T18:00:00+01:00\",2\n"
                                 "1000,\"2020-01-15T08:00:00+01:00\",1.5\n";

static int score_rows(struct fx *f, const char *ident, bch_time hour, double *score, int *flags)
{
    char sql[256];
    sqlite3_stmt *st = NULL;
    int found = 0;

    snprintf(sql, sizeof(sql),
             "SELECT c.score, c.flags FROM hourly_score c JOIN history_segment k USING (seg_key) "
             "WHERE coalesce(k.ident, 'gid:' || k.gid) = '%s' AND c.hour = %lld",
             ident, (long long)hour);
    assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *score = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
        *flags = sqlite3_column_int(st, 1);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

/* Scores 0, > 3 and (0, 1): flagged, cleaned, counted, none dropped. */
static void test_cleaning(void **state)
{
    struct fx *f = *state;
    const char *seg = fx_file(f, "segments.geojson", segments_geojson, 0);
    const char *csv = fx_file(f, "scores.csv", scores_csv, 0);
    double s;
    int fl;

    assert_int_equal(fx_run(f, "segment-history", seg, csv), 0);
    assert_int_equal(f->st.rows, 8);
    assert_int_equal(f->st.stored, 8);
    assert_int_equal(f->st.unknown, 1);
    assert_int_equal(f->st.capped, 1);
    assert_int_equal(f->st.raised, 1);
    assert_int_equal(f->st.unmapped_rows, 1);
    assert_int_equal(f->st.tied_gids, 2);
    assert_true(score_rows(f, "L24", H2020_01_15_08 + 2 * 3600, &s, &fl));
    assert_true(isnan(s));
    assert_int_equal(fl, 1);
    assert_true(score_rows(f, "L24", H2020_01_15_08 + 3 * 3600, &s, &fl));
    assert_true(s == 3);
    assert_int_equal(fl, 2);
    assert_true(score_rows(f, "L24", H2020_01_15_08 + 4 * 3600, &s, &fl));
    assert_true(s == 1);
    assert_int_equal(fl, 4);
    assert_true(q_real(f, "SELECT raw FROM hourly_score WHERE flags = 2") == 3.5);
    /* the layer: index = (score - 1) / 2; unmapped flagged 16 */
    assert_true(fabs(q_real(f, "SELECT idx FROM hourly_index WHERE seg = 'L24' AND hour = "
                               "1579075200") -
                     0.75) < 1e-12);
    assert_int_equal(q_int(f, "SELECT flags FROM hourly_index WHERE seg = 'gid:1000'"), 16);
    assert_int_equal(q_int(f, "SELECT count(*) FROM hourly_index WHERE idx IS NULL"), 1);
    /* roll-ups: 8 rows, 7 known, L24 length weights 4 of them */
    assert_int_equal(q_int(f, "SELECT sum(rows) FROM history_hour"), 8);
    assert_int_equal(q_int(f, "SELECT sum(known) FROM history_hour"), 7);
    assert_int_equal(q_int(f, "SELECT sum(known_w) FROM history_hour"), 6);
    assert_int_equal(q_int(f, "SELECT sum(congested) FROM history_hour"), 4); /* 2.5, 3, 3, 2 */
    /* AM peak: 08 and 09 local; PM: 18 */
    assert_int_equal(q_int(f, "SELECT sum(am_known) FROM history_day"), 4);
    assert_int_equal(q_int(f, "SELECT sum(pm_known) FROM history_day"), 1);
}

/* The same instant written with +01:00, +0100, +01 or Z lands in one hour. */
static void test_offsets(void **state)
{
    struct fx *f = *state;
    const char *csv = fx_file(f, "o.csv",
                              "gid,time,scores_horaires_ponderes\n"
                              "5,\"2020-01-15T08:00:00+01:00\",1\n"
                              "6,\"2020-01-15T08:00:00+0100\",1\n"
                              "7,\"2020-01-15T08:00:00+01\",1\n"
                              "8,\"2020-01-15T07:00:00Z\",1\n"
                              "9,\"2020-07-15T08:00:00+02:00\",1\n"
                              "10,\"2020-07-15T08:00:00+0200\",1\n",
                              0);

    assert_int_equal(fx_run(f, "segment-history", csv), 0);
    assert_int_equal(q_int(f, "SELECT count(DISTINCT hour) FROM hourly_score"), 2);
    assert_int_equal(q_int(f, "SELECT min(hour) FROM hourly_score"), H2020_01_15_08);
    assert_int_equal(q_int(f, "SELECT max(hour) FROM hourly_score"), (bch_time)1594792800);
}

/* Bad rows go to `rejected` with line, field and reason; the rest is stored. */
static void test_rejects(void **state)
{
    struct fx *f = *state;
    const char *csv = fx_file(f, "bad.csv",
                              "\"gid\",\"time\",\"scores_horaires_ponderes\"\n"
                              "1,\"2020-01-15T08:00:00+01:00\",1\n"
                              "x,\"2020-01-15T08:00:00+01:00\",1\n"
                              "2,\"2020-01-15T08:00:00\",1\n"
                              "3,\"2020-01-15T08:30:00+01:00\",1\n"
                              "4,\"2020-01-15T08:00:00+01:00\",-1\n"
                              "5,\"2020-01-15T08:00:00+01:00\",abc\n"
                              "6,\"2020-01-15T08:00:00+01:00\"\n"
                              "7,\"2020-01-15T08:00:00+01:00\",\n"
                              "9,\"2020-01-15T09:00:00+01:00\",2\n"
                              "8,\"2020-01-15T08:00:00+01:00\",\"1\n",
                              0);
    char buf[128];

    assert_int_equal(fx_run(f, "segment-history", csv), BCH_ERR_INPUT);
    assert_int_equal(f->st.rows, 10);
    assert_int_equal(f->st.stored, 2);
    assert_int_equal(f->st.rejected, 8);
    assert_int_equal(q_int(f, "SELECT count(*) FROM hourly_score"), 2);
    assert_string_equal(
        q_text(f, "SELECT field FROM rejected WHERE position = 3", buf, sizeof(buf)), "gid");
    assert_string_equal(
        q_text(f, "SELECT field FROM rejected WHERE position = 4", buf, sizeof(buf)), "time");
    assert_non_null(strstr(
        q_text(f, "SELECT reason FROM rejected WHERE position = 4", buf, sizeof(buf)), "offset"));
    assert_non_null(strstr(
        q_text(f, "SELECT reason FROM rejected WHERE position = 5", buf, sizeof(buf)), "hour"));
    assert_string_equal(
        q_text(f, "SELECT reason FROM rejected WHERE position = 6", buf, sizeof(buf)),
        "negative score");
    assert_string_equal(
        q_text(f, "SELECT field FROM rejected WHERE position = 8", buf, sizeof(buf)), "");
    assert_non_null(
        strstr(q_text(f, "SELECT reason FROM rejected WHERE position = 11", buf, sizeof(buf)),
               "unterminated"));
    assert_int_equal(q_int(f, "SELECT count(*) FROM rejected WHERE source_name LIKE '%bad.csv'"),
                     8);
    assert_int_equal(q_int(f, "SELECT rejected FROM raw_source"), 8);
}

/* The autumn DST hour written twice (03:00+02:00 = 02:00+01:00 = 01:00Z). */
static void test_dst_duplicates_merge(void **state)
{
    struct fx *f = *state;
    const char *csv = fx_file(f, "dst.csv",
                              "gid,time,scores_horaires_ponderes\n"
                              "2821,\"2019-10-27T03:00:00+02:00\",1\n"
                              "2821,\"2019-10-27T02:00:00+01:00\",1\n"
                              "2822,\"2019-10-27T03:00:00+02:00\",1.5\n"
                              "2822,\"2019-10-27T02:00:00+01:00\",2.5\n"
                              "2823,\"2019-10-27T03:00:00+02:00\",0\n"
                              "2823,\"2019-10-27T02:00:00+01:00\",1.25\n",
                              0);
    double s;
    int fl;

    assert_int_equal(fx_run(f, "segment-history", csv), 0);
    assert_int_equal(f->st.stored, 3);
    assert_int_equal(f->st.duplicates, 1);
    assert_int_equal(f->st.merged, 2);
    assert_true(score_rows(f, "gid:2822", (bch_time)1572138000, &s, &fl));
    assert_true(s == 2.5); /* the higher score is kept */
    assert_int_equal(fl, 8);
    assert_true(score_rows(f, "gid:2823", (bch_time)1572138000, &s, &fl));
    assert_true(s == 1.25); /* known beats unknown */
    assert_int_equal(fl, 8);
    /* the roll-up saw exactly the merged rows */
    assert_int_equal(q_int(f, "SELECT sum(rows) FROM history_hour"), 3);
    assert_int_equal(q_int(f, "SELECT sum(known) FROM history_hour"), 3);
    assert_int_equal(q_int(f, "SELECT sum(sum_idx_e9) FROM history_hour"),
                     0 + 750000000 + 125000000);
}

/* Equal texts, or both written under /tmp for a diff and a failure. */
static void same_text(const char *what, const char *a, const char *b)
{
    if (strcmp(a, b) != 0) {
        char pa[128], pb[128];
        FILE *fa, *fb;

        snprintf(pa, sizeof(pa), "/tmp/bouchon-test-%s.got", what);
        snprintf(pb, sizeof(pb), "/tmp/bouchon-test-%s.want", what);
        fa = fopen(pa, "w");
        fb = fopen(pb, "w");
        if (fa) {
            fputs(a, fa);
            fclose(fa);
        }
        if (fb) {
            fputs(b, fb);
            fclose(fb);
        }
        fail_msg("%s differs: diff %s %s", what, pa, pb);
    }
}

/* Roll-ups equal a recomputation from hourly_score (SQL, local time functions). */
static void check_rollups(struct fx *f)
{
    char *a, *b;

    assert_int_equal(bch_history_register_sql(f->db), 0);
    a = q_dump(f, "SELECT hour, rows, known, sum_idx_e9, known_w, sum_w_mm, sum_idx_w_e6, "
                  "congested, day, lhour, wday FROM history_hour ORDER BY hour");
    b = q_dump(
        f,
        "SELECT c.hour, count(*), count(c.score), "
        "coalesce(sum(CAST(round((c.score - 1) / 2 * 1e9) AS INTEGER)), 0), "
        "sum(c.score IS NOT NULL AND k.length_m IS NOT NULL), "
        "coalesce(sum(CASE WHEN c.score IS NOT NULL THEN "
        "CAST(round(k.length_m * 1e3) AS INTEGER) END), 0), "
        "coalesce(sum(CAST(round((c.score - 1) / 2 * k.length_m * 1e6) AS INTEGER)), 0), "
        "coalesce(sum(c.score >= 2), 0), paris_day(c.hour), paris_hour(c.hour), paris_wday(c.hour) "
        "FROM hourly_score c JOIN history_segment k USING (seg_key) GROUP BY c.hour "
        "ORDER BY c.hour");
    same_text("history_hour", a, b);
    free(a);
    free(b);
    a = q_dump(f, "SELECT day, seg_key, rows, known, sum_idx_e9, am_known, am_sum_e9, pm_known, "
                  "pm_sum_e9, congested FROM history_day WHERE rows != 0 ORDER BY day, seg_key");
    b = q_dump(
        f, "SELECT paris_day(hour), seg_key, count(*), count(score), "
           "coalesce(sum(CAST(round((score - 1) / 2 * 1e9) AS INTEGER)), 0), "
           "sum(score IS NOT NULL AND paris_hour(hour) IN (7, 8, 9)), "
           "coalesce(sum(CASE WHEN paris_hour(hour) IN (7, 8, 9) THEN "
           "CAST(round((score - 1) / 2 * 1e9) AS INTEGER) END), 0), "
           "sum(score IS NOT NULL AND paris_hour(hour) IN (17, 18, 19)), "
           "coalesce(sum(CASE WHEN paris_hour(hour) IN (17, 18, 19) THEN "
           "CAST(round((score - 1) / 2 * 1e9) AS INTEGER) END), 0), coalesce(sum(score >= 2), 0) "
           "FROM hourly_score GROUP BY 1, 2 ORDER BY 1, 2");
    same_text("history_day", a, b);
    free(a);
    free(b);
}

/* A larger synthetic file: 40 segments x 3 weeks, gzip; batches of 1000 rows
 * per transaction to cross commit boundaries; roll-ups exact. */
static char *synthetic(size_t *len, int gid0, int ngid, bch_time t0, int hours)
{
    size_t cap = (size_t)(ngid * hours) * 48 + 64, n = 0;
    char *buf = malloc(cap);

    assert_non_null(buf);
    n += (size_t)snprintf(buf + n, cap - n, "\"gid\",\"time\",\"scores_horaires_ponderes\"\n");
    for (int h = 0; h < hours; h++) {
        for (int g = 0; g < ngid; g++) {
            char t[32];
            /* the value depends on the instant, so extracts overlap exactly */
            unsigned x =
                (unsigned)((uint64_t)(g * 7919) + (uint64_t)((t0 / 3600 + h) * 104729)) % 97;
            double s = x < 10 ? 0 : x > 94 ? 3.2 : 1 + (double)(x % 25) / 12.0;

            bch_time_format_local(t0 + h * 3600, t, sizeof(t));
            n += (size_t)snprintf(buf + n, cap - n, "%d,\"%s\",%.15g\n", gid0 + g, t, s);
        }
    }
    *len = n;
    return buf;
}

static void test_rollups_exact(void **state)
{
    struct fx *f = *state;
    struct bch_import_options o;
    size_t len;
    char *big = synthetic(&len, 3370, 40, (bch_time)1585260000 /* 2020-03-27 00:00+01 */, 21 * 24);
    const char *seg = fx_file(f, "segments.geojson", segments_geojson, 0);
    const char *gz = fx_file(f, "big.csv.gz", big, len);

    free(big);
    bch_import_options_default(&o);
    o.batch_rows = 1000;
    o.segments = seg;
    assert_int_equal(fx_run_opts(f, &o, "segment-history", gz, (const char *)NULL), 0);
    assert_int_equal(f->st.rows, 40 * 21 * 24);
    check_rollups(f);
    /* the spring DST day has 23 local hours, none lost or doubled */
    {
        struct bch_history_query q;
        json_t *daily;
        size_t i;
        json_t *e;
        int seen = 0;

        bch_history_query_default(&q);
        daily = bch_history_daily(f->db, &q);
        assert_non_null(daily);
        json_array_foreach(daily, i, e)
        {
            const char *d = json_string_value(json_object_get(e, "date"));

            if (strcmp(d, "2020-03-29") == 0) {
                assert_int_equal(json_integer_value(json_object_get(e, "hours")), 23);
                assert_int_equal(json_integer_value(json_object_get(e, "hours_with_data")), 23);
                assert_int_equal(json_integer_value(json_object_get(e, "segment_hours")), 23 * 40);
                seen++;
            } else {
                assert_int_equal(json_integer_value(json_object_get(e, "hours")), 24);
            }
        }
        assert_int_equal(seen, 1);
        json_decref(daily);
    }
}

static void dump_all(struct fx *f, char **out)
{
    static const char *const sql[] = {
        "SELECT coalesce(k.ident, 'gid:' || k.gid), c.hour, c.score, c.flags, c.raw FROM "
        "hourly_score c JOIN history_segment k USING (seg_key) ORDER BY 1, 2",
        "SELECT hour, day, lhour, wday, rows, known, sum_idx_e9, known_w, sum_w_mm, sum_idx_w_e6, "
        "congested FROM history_hour ORDER BY hour",
        "SELECT d.day, coalesce(k.ident, 'gid:' || k.gid), d.rows, d.known, d.sum_idx_e9, "
        "d.am_known, d.am_sum_e9, d.pm_known, d.pm_sum_e9, d.congested FROM history_day d "
        "JOIN history_segment k USING (seg_key) WHERE d.rows != 0 ORDER BY 1, 2",
        "SELECT coalesce(ident, 'gid:' || gid), typevoie, length_m FROM history_segment "
        "ORDER BY 1",
    };

    for (size_t i = 0; i < BCH_ARRAY_LEN(sql); i++) {
        out[i] = q_dump(f, sql[i]);
    }
}

static void assert_same(struct fx *a, struct fx *b)
{
    char *da[4], *db[4];

    dump_all(a, da);
    dump_all(b, db);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(da[i], db[i]);
        free(da[i]);
        free(db[i]);
    }
}

/* Same file twice: skipped.  Overlapping extracts: merged, same tables as
 * the union imported once.  Segments after the scores: rows re-tied. */
static void test_idempotent_and_order_free(void **state)
{
    struct fx *f = *state;
    struct fx *g = fx_new(), *h = fx_new();
    size_t la, lb, lu;
    char *a = synthetic(&la, 3370, 10, (bch_time)1572044400 /* 2019-10-26 00:00+02 */, 72);
    char *b = synthetic(&lb, 3370, 10, (bch_time)1572044400 + 36 * 3600, 72);
    char *u = synthetic(&lu, 3370, 10, (bch_time)1572044400, 108);
    const char *fa = fx_file(f, "a.csv", a, la), *fb = fx_file(f, "b.csv.gz", b, lb);
    const char *fseg = fx_file(f, "s.geojson", segments_geojson, 0);
    const char *ga = fx_file(g, "u.csv", u, lu),
               *gseg = fx_file(g, "s.geojson", segments_geojson, 0);
    const char *ha = fx_file(h, "a.csv", a, la), *hb = fx_file(h, "b.csv", b, lb);
    const char *hseg = fx_file(h, "s.geojson", segments_geojson, 0);
    char *before;

    free(a);
    free(b);
    free(u);
    /* f: segments first, two overlapping extracts, then the first again */
    assert_int_equal(fx_run(f, "segment-history", fseg, fa, fb), 0);
    assert_int_equal(f->st.duplicates, 10 * 36);
    before = q_dump(f, "SELECT * FROM hourly_score ORDER BY 1, 2");
    assert_int_equal(fx_run(f, "segment-history", fa), 0);
    assert_int_equal(f->st.skipped, 1);
    assert_int_equal(f->st.rows, 0);
    {
        char *after = q_dump(f, "SELECT * FROM hourly_score ORDER BY 1, 2");

        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    /* g: the union in one file */
    assert_int_equal(fx_run(g, "segment-history", gseg, ga), 0);
    /* h: the extracts first (gids untied), the segments file last */
    assert_int_equal(fx_run(h, "segment-history", hb, ha), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM history_segment WHERE ident IS NULL"), 10);
    assert_int_equal(fx_run(h, "segment-history", hseg), 0);
    assert_int_equal(q_int(h, "SELECT count(*) FROM history_segment WHERE ident IS NULL"), 9);
    assert_same(f, g);
    assert_same(f, h);
    check_rollups(h);
    fx_free(g);
    fx_free(h);
}

/* gzip and plain copies of a file give the same rows. */
static void test_gzip_equals_plain(void **state)
{
    struct fx *f = *state;
    struct fx *g = fx_new();
    const char *p = fx_file(f, "scores.csv", scores_csv, 0);
    const char *z = fx_file(g, "scores.csv.gz", scores_csv, 0);

    assert_int_equal(fx_run(f, "segment-history", p), 0);
    assert_int_equal(fx_run(g, "segment-history", z), 0);
    assert_same(f, g);
    fx_free(g);
}

/* A file that is not an hourly score file is rejected as a whole. */
static void test_wrong_file(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(f, "x.csv", "a;b;c\n1;2;3\n", 0);
    const char *e = fx_file(f, "empty.csv", "", 1);
    char buf[160];

    assert_int_equal(fx_run(f, "segment-history", p, e), BCH_ERR_INPUT);
    assert_int_equal(q_int(f, "SELECT count(*) FROM rejected WHERE position = 0"), 2);
    assert_non_null(strstr(
        q_text(f, "SELECT reason FROM rejected ORDER BY reject_id LIMIT 1", buf, sizeof(buf)),
        "header"));
}

/* Minute rows and imported rows share the layer; imported known values win. */
static void test_layer_precedence(void **state)
{
    struct fx *f = *state;
    const char *seg = fx_file(f, "segments.geojson", segments_geojson, 0);
    const char *csv = fx_file(f, "scores.csv", scores_csv, 0);

    assert_int_equal(fx_run(f, "segment-history", seg, csv), 0);
    assert_int_equal(bch_db_exec(f->db, "INSERT INTO segment(ident, gid, length_m, first_seen) "
                                        "VALUES ('L24', 2144, 200.0, 0)"),
                     0);
    /* 08:00 exists in the import (1 -> 0), 07:00 does not, 10:00 is unknown there */
    assert_int_equal(
        bch_db_exec(f->db, "INSERT INTO hourly_segment VALUES (1, 1579071600, 0, 0, 3600, 0),"
                           "(1, 1579068000, 1800, 1800, 0, 0), (1, 1579078800, 0, 3600, 0, 0)"),
        0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM hourly_index WHERE source = 'minute'"), 2);
    assert_true(q_real(f, "SELECT idx FROM hourly_index WHERE seg = 'L24' AND hour = 1579071600") ==
                0);
    assert_true(fabs(q_real(f, "SELECT idx FROM hourly_index WHERE hour = 1579068000") - 0.25) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT idx FROM hourly_index WHERE source = 'minute' AND hour = "
                               "1579078800") -
                     0.5) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cleaning, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_offsets, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rejects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dst_duplicates_merge, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rollups_exact, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_and_order_free, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gzip_equals_plain, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_layer_precedence, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
