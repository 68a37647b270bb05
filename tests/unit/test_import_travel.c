/*
 * test_import_travel.c - `import --kind travel-times` (import/travel.c) and
 * the corridor figures of report/history.c.
 *
 * Synthetic hourly histories with a known floor (a pile-up at the minimum),
 * a cap (a whole-minute pile-up in the top decile), a sentinel (one value
 * on four corridors at the same hour), ref = 0 and a gid outside the
 * corridor list; the live snapshot CSV and JSON (bm_ fields); the corridors
 * GeoJSON (MultiLineString, ident 20.., gid = ident - 19).  TTI, PTI,
 * buffer index and free flow are recomputed here, independently, from the
 * definitions of docs/HISTORY.md.
 */
#include "test_import_common.h"

#include "core/timeutil.h"
#include "report/history.h"

static const char corridors_geojson[] =
    "{\"type\":\"FeatureCollection\",\"features\":["
    "{\"type\":\"Feature\",\"properties\":{\"Id\":0,\"ident\":\"20\"},\"geometry\":{\"type\":"
    "\"MultiLineString\",\"coordinates\":[[[-0.5688,44.8298],[-0.5679,44.8296]],"
    "[[-0.5689,44.8298],[-0.5692,44.8299]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"Id\":0,\"ident\":\"21\"},\"geometry\":{\"type\":"
    "\"MultiLineString\",\"coordinates\":[[[-0.57,44.83],[-0.58,44.83]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"Id\":0,\"ident\":\"22\"},\"geometry\":{\"type\":"
    "\"MultiLineString\",\"coordinates\":[[[-0.57,44.84],[-0.58,44.84]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"Id\":0,\"ident\":\"23\"},\"geometry\":{\"type\":"
    "\"MultiLineString\",\"coordinates\":[[[-0.57,44.85],[-0.58,44.85]]]}},"
    "{\"type\":\"Feature\",\"properties\":{\"Id\":0,\"ident\":\"24\"},\"geometry\":{\"type\":"
    "\"MultiLineString\",\"coordinates\":[[[-0.57,44.86],[-0.58,44.86]]]}}"
    "]}";

#define JAN2021 ((bch_time)1609455600) /* 2021-01-01T00:00:00+01:00 */
#define DAYS    28

/* actuel of corridor gid on day d at local hour h (06..20), or of night hours for gid 5. */
static double value(int gid, int d, int h)
{
    double base = 500 + 10 * gid + (h - 6) * 7.5 + (d % 7) * 3.25;

    if (gid == 2 && (d * 24 + h) % 3 == 0) {
        return 120; /* floor: a third of the hours stuck at the minimum */
    }
    if (gid == 2) {
        return 300 + base / 3;
    }
    if (gid == 3 && h == 9 && d % 7 < 5) {
        return 1200; /* cap: every weekday at 09:00 */
    }
    if (gid == 3) {
        return 700 + (h - 6) * 25.5 + d;
    }
    return base;
}

static char *history_csv(size_t *len)
{
    size_t cap = 1u << 20, n = 0;
    char *b = malloc(cap);

    assert_non_null(b);
    n += (size_t)snprintf(b + n, cap - n, "\"time\",\"gid\",\"actuel\",\"ref\"\n");
    for (int d = 0; d < DAYS; d++) {
        for (int h = 0; h < 24; h++) {
            char t[32];

            bch_time_format_local(JAN2021 + (d * 24 + h) * 3600, t, sizeof(t));
            for (int gid = 1; gid <= 5; gid++) {
                double v = value(gid, d, h);
                double ref = (gid == 1 && d == 3) ? 0 : 550 + 9 * h;

                if (gid != 5 && (h < 6 || h > 20)) {
                    continue; /* the history runs about 06..20 */
                }
                if (d == 10 && h == 12 && gid <= 4) {
                    v = 900; /* sentinel: four corridors at once */
                }
                n += (size_t)snprintf(b + n, cap - n, "\"%s\",%d,%.15g,%.15g\n", t, gid, v, ref);
            }
            if (h == 12) {
                n += (size_t)snprintf(b + n, cap - n, "\"%s\",17,300,0\n", t);
            }
        }
    }
    *len = n;
    return b;
}

static void import_history(struct fx *f)
{
    struct bch_import_options o;
    size_t len;
    char *csv = history_csv(&len);
    const char *path = fx_file(f, "tt.csv.gz", csv, len);
    const char *cor = fx_file(f, "corridors.geojson", corridors_geojson, 0);

    free(csv);
    bch_import_options_default(&o);
    o.corridors = cor;
    assert_int_equal(fx_run_opts(f, &o, "travel-times", path, (const char *)NULL), 0);
}

static void test_flags(void **state)
{
    struct fx *f = *state;
    int64_t floor_n, cap_n;
    char gtype[32];

    import_history(f);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_corridor"), 5);
    assert_int_equal(q_int(f, "SELECT gid FROM travel_corridor WHERE ident = 24"), 5);
    assert_string_equal(
        q_text(f, "SELECT geom_type FROM travel_corridor WHERE gid = 1", gtype, sizeof(gtype)),
        "MultiLineString");
    assert_true(q_real(f, "SELECT length_m FROM travel_corridor WHERE gid = 1") > 80);
    /* floor: every 120 of corridor 2 */
    floor_n = q_int(f, "SELECT count(*) FROM travel_time WHERE gid = 2 AND actuel = 120");
    assert_true(floor_n > 50);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 1"), floor_n);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 1 AND gid != 2"), 0);
    /* cap: the 1200 s of corridor 3 */
    cap_n = q_int(f, "SELECT count(*) FROM travel_time WHERE gid = 3 AND actuel = 1200");
    assert_int_equal(cap_n, 20);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 2"), cap_n);
    /* sentinel: the four 900 s of day 10, 12:00 */
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 4"), 4);
    assert_int_equal(q_int(f, "SELECT count(DISTINCT at) FROM travel_time WHERE flags & 4"), 1);
    /* ref = 0 and the gid outside the corridor list */
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 8 AND gid = 1"), 15);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 16"), DAYS);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE gid = 17 AND flags & 8"),
                     DAYS);
    assert_int_equal(f->st.tt_floor, floor_n);
    assert_int_equal(f->st.tt_cap, cap_n);
    assert_int_equal(f->st.tt_sentinel, 4);
}

/* Independent percentile: linear interpolation between closest ranks. */
static double pct(double *v, size_t n, double q)
{
    double pos, frac;
    size_t lo;

    for (size_t i = 1; i < n; i++) { /* insertion sort: small inputs */
        double x = v[i];
        size_t j = i;

        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    pos = q * (double)(n - 1);
    lo = (size_t)pos;
    frac = pos - (double)lo;
    return lo + 1 < n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[n - 1];
}

static const json_t *corridor(const json_t *arr, int gid)
{
    size_t i;
    const json_t *c;

    json_array_foreach(arr, i, c)
    {
        if (json_integer_value(json_object_get(c, "gid")) == gid) {
            return c;
        }
    }
    fail_msg("corridor %d missing", gid);
    return NULL;
}

static double jnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* TTI and PTI of corridor 1 (no night data: the lowest hour stands in) and
 * corridor 5 (night data) against a recomputation from value(). */
static void test_tti_pti(void **state)
{
    struct fx *f = *state;
    struct bch_history_query q;
    double v[DAYS * 24], ff, sum = 0, tti, p95;
    size_t n = 0;
    json_t *arr;
    const json_t *c, *m;

    import_history(f);
    bch_history_query_default(&q);
    arr = bch_history_corridors(f->db, &q);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 5);

    /* corridor 1: hour 06 has the lowest mean; the sentinel sample is left out */
    c = corridor(arr, 1);
    m = json_array_get(json_object_get(c, "months"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "month")), "2021-01");
    assert_string_equal(json_string_value(json_object_get(m, "free_flow_method")), "lowest_hour");
    assert_int_equal(json_integer_value(json_object_get(m, "free_flow_hour")), 6);
    for (int d = 0; d < DAYS; d++) {
        v[n++] = value(1, d, 6);
    }
    ff = pct(v, n, 0.15);
    assert_true(fabs(jnum(m, "free_flow_s") - ff) < 1e-9);
    n = 0;
    for (int d = 0; d < DAYS; d++) {
        for (int h = 6; h <= 20; h++) {
            if (d == 10 && h == 12) {
                continue;
            }
            v[n] = value(1, d, h);
            sum += v[n++];
        }
    }
    tti = sum / (double)n / ff;
    p95 = pct(v, n, 0.95);
    assert_int_equal(json_integer_value(json_object_get(m, "samples")), (json_int_t)n);
    assert_true(fabs(jnum(m, "tti") - tti) < 1e-9);
    assert_true(fabs(jnum(m, "congestion_level") - (tti - 1)) < 1e-9);
    assert_true(fabs(jnum(m, "pti") - p95 / ff) < 1e-9);
    assert_true(fabs(jnum(m, "buffer_index") - (p95 - sum / (double)n) / (sum / (double)n)) < 1e-9);
    assert_true(fabs(jnum(c, "tti") - tti) < 1e-9);

    /* corridor 5: night hours 22..04 exist, their p15 is the free flow */
    c = corridor(arr, 5);
    m = json_array_get(json_object_get(c, "months"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "free_flow_method")), "night");
    assert_true(json_is_null(json_object_get(m, "free_flow_hour")));
    n = 0;
    for (int d = 0; d < DAYS; d++) {
        for (int h = 0; h < 24; h++) {
            if (h >= 22 || h < 5) {
                v[n++] = value(5, d, h);
            }
        }
    }
    ff = pct(v, n, 0.15);
    assert_true(fabs(jnum(m, "free_flow_s") - ff) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(m, "night_samples")), (json_int_t)n);
    /* vs usual: actuel / ref, ref = 0 left out */
    c = corridor(arr, 1);
    assert_true(json_is_number(json_object_get(c, "vs_usual")));
    json_decref(arr);
}

/* Live snapshot: CSV with bm_ fields and the same as Opendatasoft JSON. */
static void test_live_csv_and_json(void **state)
{
    struct fx *f = *state;
    const char *csv =
        fx_file(f, "live.csv",
                "bm_gid;bm_ident;bm_libelle;bm_actuel;bm_ref;bm_cdate;bm_mdate\n"
                "1;20;Boulevards: Rond point JJBosc;900;865;2011-06-09;2025-12-17T14:05:00+00:00\n"
                "2;21;Boulevards: Barrière Ornano;900;942;2011-06-09;2025-12-17T14:05:00+00:00\n"
                "3;22;Boulevards: Place Latule;900;1020;2011-06-09;2025-12-17T14:05:00+00:00\n"
                "4;23;Boulevards: Barrière Ornano 2;900;858;2011-06-09;2025-12-17T14:05:00+00:00\n"
                "5;24;Quais;960;0;2011-06-09;2025-12-17T14:05:00+00:00\n"
                "6;25;Quais 2;x;10;2011-06-09;2025-12-17T14:05:00+00:00\n",
                0);
    const char *json = fx_file(
        f, "live.json",
        "{\"total_count\": 2, \"results\": ["
        "{\"bm_gid\": 7, \"bm_ident\": 26, \"bm_libelle\": \"Cours\", \"bm_actuel\": 1260, "
        "\"bm_ref\": 1390, \"bm_cdate\": \"2011-06-09\", \"bm_mdate\": "
        "\"2025-12-17T14:05:00+00:00\"},"
        "{\"bm_gid\": 1, \"bm_ident\": 20, \"bm_libelle\": \"Boulevards\", \"bm_actuel\": 900, "
        "\"bm_ref\": 865, \"bm_mdate\": \"2025-12-17T14:05:00+00:00\"}]}",
        0);
    char buf[128];

    assert_int_equal(fx_run(f, "travel-times", csv, json), BCH_ERR_INPUT);
    assert_int_equal(f->st.rejected, 1);
    assert_int_equal(f->st.stored, 6);
    assert_int_equal(f->st.duplicates, 1); /* gid 1 again in the JSON */
    assert_int_equal(q_int(f, "SELECT at FROM travel_time WHERE gid = 7"), (bch_time)1765980300);
    assert_int_equal(q_int(f, "SELECT period_s FROM travel_time WHERE gid = 7"), 0);
    assert_string_equal(
        q_text(f, "SELECT label FROM travel_corridor WHERE gid = 2", buf, sizeof(buf)),
        "Boulevards: Barrière Ornano");
    /* 900 s on four corridors at the same instant: a sentinel (DATA_FORMATS §8) */
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 4"), 4);
    assert_int_equal(q_int(f, "SELECT flags & 8 FROM travel_time WHERE gid = 5"), 8);
    assert_string_equal(q_text(f, "SELECT field FROM rejected", buf, sizeof(buf)), "bm_actuel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flags, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tti_pti, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_live_csv_and_json, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
