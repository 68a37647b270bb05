/*
 * test_import_sensors.c - `import --kind sensors` (import/sensors.c):
 * pc_capte_p snapshots (stale and missing counts), pc_capte_ponct_p
 * campaigns (JSON and CSV: dates from the free text, "#N/A" codes) and the
 * network-wide hourly totals (offsets without a colon).  The real files
 * give the counts of DATA_FORMATS.md §3-4.
 */
#include "test_import_common.h"

#include "report/history.h"

static const char snapshot_v1[] =
    "[{\"datasetid\": \"pc_capte_p\", \"recordid\": \"a\", \"fields\": {\"code_commune\": "
    "\"33200\", \"ident\": \"Z24CT3\", \"comptage_5m\": 50, \"mdate\": "
    "\"2022-03-10T10:40:00+01:00\", \"commune\": \"Le Haillan\", \"type\": \"BOUCLE\", "
    "\"geo_point_2d\": [44.8697519, -0.6735089], \"gid\": 224, \"zone\": \"24\"}, "
    "\"record_timestamp\": \"2022-03-10T10:45:34.660+01:00\"},"
    "{\"datasetid\": \"pc_capte_p\", \"recordid\": \"b\", \"fields\": {\"ident\": \"Z1\", "
    "\"mdate\": \"2012-11-08T16:30:52+01:00\", \"gid\": 2, \"zone\": \"1\"}, "
    "\"record_timestamp\": \"2022-03-10T10:45:34.660+01:00\"},"
    "{\"datasetid\": \"pc_capte_p\", \"recordid\": \"c\", \"fields\": {\"ident\": \"Z2\", "
    "\"gid\": 3}, \"record_timestamp\": \"2022-03-10T10:45:34.660+01:00\"},"
    "{\"datasetid\": \"pc_capte_p\", \"recordid\": \"d\", \"fields\": {\"ident\": \"Z3\", "
    "\"comptage_5m\": 0, \"mdate\": \"2022-03-10T10:40:00+01:00\", \"gid\": 4}, "
    "\"record_timestamp\": \"2022-03-10T10:45:34.660+01:00\"}]";

static void test_snapshot(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(f, "pc_capte_p.json", snapshot_v1, 0);

    assert_int_equal(fx_run(f, "sensors", p), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sensor"), 4);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sensor_count"), 3);
    assert_int_equal(q_int(f, "SELECT count FROM sensor_count WHERE ident = 'Z24CT3'"), 50);
    assert_int_equal(q_int(f, "SELECT count FROM sensor_count WHERE ident = 'Z3'"), 0);
    assert_int_equal(q_int(f, "SELECT flags FROM sensor_count WHERE ident = 'Z1'"), 3);
    assert_int_equal(f->st.stale, 1);
    assert_int_equal(f->st.missing, 2);
    /* v1 geo_point_2d is [lat, lon] */
    assert_true(fabs(q_real(f, "SELECT lon FROM sensor WHERE ident = 'Z24CT3'") + 0.6735089) <
                1e-9);
}

static const char campaigns_csv[] =
    "\xEF\xBB\xBFGeo Point;Geo Shape;gid;num_materiel;type;insee;sens_orientation;orientation;"
    "tmjo_tv;tmjo_vl;tmjo_pl;hpm_tv;hps_tv;v85_vl;v85_pl;annee;semaine;orientation_av_2021;cdate;"
    "mdate\n"
    "44.8264219, -0.5321659;\"{\"\"coordinates\"\": [-0.5321659, 44.8264219], \"\"type\"\": "
    "\"\"Point\"\"}\";210;;COMPTAGE_ROUTIER;33167;;;141;140;1;11;12;26.7;26.7;2015;comptage du "
    "26/01/2015 au 01/02/2015;Sens unique;2023-12-15T17:00:22+01:00;2024-02-14T15:12:17+01:00\n"
    "44.8, -0.5;;211;P01;COMPTAGE_ROUTIER;#N/A;1;NORD;500;;;;;;;2016;comptage du 23/05/2016 au "
    "29/03/2016;;2023-12-15T17:00:22+01:00;2024-02-14T15:12:17+01:00\n"
    "44.8, -0.5;;212;;COMPTAGE_ROUTIER;33063;2;SUD;700;;;;;;;2022;du lundi 05/09/2022 au "
    "dimanche 11/09/2022;;2023-12-15T17:00:22+02:00;2024-02-14T15:12:17+02:00\n"
    "44.8, -0.5;;;;COMPTAGE_ROUTIER;33063;2;SUD;700;;;;;;;2022;x;;;\n";

static void test_campaigns_csv(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(f, "pc_capte_ponct_p.csv", campaigns_csv, 0);
    char buf[128];

    assert_int_equal(fx_run(f, "sensors", p), BCH_ERR_INPUT);
    assert_int_equal(f->st.stored, 3);
    assert_int_equal(f->st.rejected, 1); /* no gid */
    assert_int_equal(f->st.coerced, 2);  /* #N/A and the dates in the wrong order */
    assert_int_equal(q_int(f, "SELECT start_day FROM count_campaign WHERE gid = 210"),
                     bch_days_from_civil(2015, 1, 26));
    assert_int_equal(q_int(f, "SELECT end_day FROM count_campaign WHERE gid = 212"),
                     bch_days_from_civil(2022, 9, 11));
    assert_int_equal(q_int(f, "SELECT count(*) FROM count_campaign WHERE gid = 211 AND insee IS "
                              "NULL AND start_day IS NULL"),
                     1);
    assert_string_equal(
        q_text(f, "SELECT reason FROM rejected WHERE field = 'insee'", buf, sizeof(buf)),
        "spreadsheet error code #N/A instead of a code");
    assert_true(fabs(q_real(f, "SELECT v85_vl FROM count_campaign WHERE gid = 210") - 26.7) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT lat FROM count_campaign WHERE gid = 210") - 44.8264219) <
                1e-9);
}

/* Hourly totals with "+0100" offsets, TRUE/FALSE flags; a robust anomaly. */
static void test_network_totals(void **state)
{
    struct fx *f = *state;
    struct bch_history_query q;
    char *csv = malloc(1u << 20);
    size_t n = 0;
    json_t *c, *net;

    assert_non_null(csv);
    n += (size_t)snprintf(csv + n, (1u << 20) - n,
                          "\"comptage_5m\",\"time\",\"date\",\"hour\",\"day\",\"HPM\",\"HPS\","
                          "\"JO\"\n");
    for (int d = 0; d < 70; d++) {
        for (int h = 0; h < 24; h++) {
            bch_time t = (bch_time)1604534400 + (d * 24 + h) * 3600; /* 2020-11-05 00:00+01 */
            struct bch_local_tm tm;
            int total = 10000 + h * 500 + (d % 3) * 7;

            if (d == 40 && h == 8) {
                total = 400; /* one hour far below its hour-of-week baseline */
            }
            bch_paris_local(t, &tm);
            n += (size_t)snprintf(csv + n, (1u << 20) - n,
                                  "%d,\"%04lld-%02d-%02dT%02d:00:00+0100\",x,%d,%d,%s,FALSE,TRUE\n",
                                  total, (long long)tm.year, tm.month, tm.day, tm.hour, tm.hour,
                                  tm.weekday, tm.hour == 8 ? "TRUE" : "FALSE");
        }
    }
    assert_int_equal(fx_run(f, "sensors", fx_file(f, "network.csv", csv, n)), 0);
    free(csv);
    assert_int_equal(q_int(f, "SELECT count(*) FROM network_count_hour"), 70 * 24);
    assert_int_equal(q_int(f, "SELECT min(hour) FROM network_count_hour"), (bch_time)1604534400);
    assert_int_equal(q_int(f, "SELECT sum(hpm) FROM network_count_hour"), 70);
    bch_history_query_default(&q);
    assert_int_equal(bch_history_register_sql(f->db), 0);
    c = bch_history_counts(f->db, &q);
    assert_non_null(c);
    net = json_object_get(c, "network_hourly");
    assert_int_equal(json_integer_value(json_object_get(net, "flagged")), 1);
    assert_true(json_number_value(json_object_get(json_array_get(json_object_get(net, "top"), 0),
                                                  "total")) == 400);
    json_decref(c);
}

/* The real files: 618 sensors (173 without count, 161 stale), 6762 campaigns
 * (2 with #N/A), 10,703 network hours. */
static void test_real_files(void **state)
{
    struct fx *f = *state;
    char a[512], b[512], c[512];

    shared_path("pc_capte_p_2022-03-10T1040.json", a, sizeof(a));
    shared_path("pc_capte_ponct_p.json", b, sizeof(b));
    shared_path("history/pc_capte_p_hourly_network_total_2020-11_2022-01.csv", c, sizeof(c));
    assert_int_equal(fx_run(f, "sensors", a, b, c), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sensor"), 618);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sensor_count WHERE count IS NOT NULL"), 445);
    assert_int_equal(f->st.missing, 173);
    assert_int_equal(f->st.stale, 161);
    assert_int_equal(q_int(f, "SELECT count(*) FROM count_campaign"), 6762);
    assert_int_equal(q_int(f, "SELECT count(*) FROM rejected WHERE field = 'insee'"), 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM count_campaign WHERE annee = 2023"), 1219);
    assert_int_equal(q_int(f, "SELECT count(*) FROM network_count_hour") + f->st.duplicates, 10703);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_campaigns_csv, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_network_totals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_real_files, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
