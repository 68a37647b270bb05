/*
 * test_import_live.c - live travel-time payloads held in memory
 * (import/live.c bch_import_travel_live, the entry point of `bouchon run`)
 * and the content sniffing of run --replay (bch_import_is_travel).
 *
 * Payloads are written here: an Opendatasoft records page and export array
 * (bm_ fields), the live CSV; expectations follow docs/HISTORY.md (a
 * sample needs a positive actuel; ref may be missing, not negative or text;
 * 900 s on four corridors at one instant is a sentinel).
 */
#include "test_import_common.h"

#include "core/timeutil.h"

#define MDATE "2025-12-17T14:05:00+00:00"
#define AT    ((bch_time)1765980300)

/* A records page of corridors 1..n with actuel 900 on 1..4 (a sentinel), 1000 + 60 gid else. */
static char *page(int n, const char *extra)
{
    size_t cap = 8192, len = 0;
    char *b = malloc(cap);

    assert_non_null(b);
    len += (size_t)snprintf(b + len, cap - len, "{\"total_count\": %d, \"results\": [",
                            n + (extra ? 1 : 0));
    for (int gid = 1; gid <= n; gid++) {
        len += (size_t)snprintf(
            b + len, cap - len,
            "%s{\"bm_gid\": %d, \"bm_ident\": %d, \"bm_libelle\": \"Corridor %d\", "
            "\"bm_actuel\": %d, \"bm_ref\": %d, \"bm_cdate\": \"2011-06-09\", "
            "\"bm_mdate\": \"" MDATE "\"}",
            gid > 1 ? ", " : "", gid, gid + 19, gid, gid <= 4 ? 900 : 1000 + 60 * gid, 500 + gid);
    }
    if (extra) {
        len += (size_t)snprintf(b + len, cap - len, ", %s", extra);
    }
    snprintf(b + len, cap - len, "]}");
    return b;
}

static int store(struct fx *f, const char *kind, const char *name, const char *data,
                 struct bch_import_live *r)
{
    struct bch_import_payload p;

    memset(&p, 0, sizeof(p));
    p.kind = kind;
    p.name = name;
    p.dataset = "ci_tpstj_a";
    p.data = data;
    p.len = strlen(data);
    p.fetched_at = AT + 42;
    return bch_import_travel_live(f->db, &p, r);
}

/* A poll: every sample stored with its flags, the source registered; the same bytes skipped. */
static void test_records_page_then_same_bytes(void **state)
{
    struct fx *f = *state;
    char *json = page(6, NULL);
    struct bch_import_live r;
    char buf[256];
    char *before;

    assert_int_equal(store(f, "api", "http://x/ci_tpstj_a/exports/json", json, &r), 0);
    assert_false(r.skipped);
    assert_int_equal(r.records, 6);
    assert_int_equal(r.stored, 6);
    assert_int_equal(r.rejected, 0);
    assert_int_equal(r.newest, AT);
    assert_int_equal(r.unhealthy, 4); /* 900 s on corridors 1..4 */
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE at = 1765980300 AND "
                              "period_s = 0"),
                     6);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time WHERE flags & 4"), 4);
    assert_int_equal(q_int(f, "SELECT flags FROM travel_time WHERE gid = 5"), 0);
    assert_true(q_real(f, "SELECT actuel FROM travel_time WHERE gid = 6") == 1360);
    assert_true(q_real(f, "SELECT ref FROM travel_time WHERE gid = 6") == 506);
    assert_string_equal(
        q_text(f, "SELECT label FROM travel_corridor WHERE gid = 3", buf, sizeof(buf)),
        "Corridor 3");
    assert_string_equal(q_text(f,
                               "SELECT kind || '|' || name || '|' || dataset || '|' || format || "
                               "'|' || records || '|' || completed || '|' || fetched_at || '|' "
                               "|| snapshot_at FROM raw_source",
                               buf, sizeof(buf)),
                        "api|http://x/ci_tpstj_a/exports/json|ci_tpstj_a|json|6|1|1765980342|"
                        "1765980300");
    assert_int_equal(q_int(f, "SELECT stored FROM import_file"), 6);

    before = q_dump(f, "SELECT * FROM travel_time ORDER BY gid");
    assert_int_equal(store(f, "api", "http://x/ci_tpstj_a/exports/json", json, &r), 0);
    assert_true(r.skipped);
    assert_int_equal(r.stored, 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM raw_source"), 1);
    {
        char *after = q_dump(f, "SELECT * FROM travel_time ORDER BY gid");

        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    free(json);
}

/* The same samples in other bytes (an export array): duplicates, nothing changes. */
static void test_same_samples_other_bytes(void **state)
{
    struct fx *f = *state;
    char *json = page(5, NULL);
    const char *arr = strchr(json, '[');
    char *export = strdup(arr);
    struct bch_import_live r;
    char *before;

    assert_non_null(export);
    export[strlen(export) - 1] = '\0'; /* drop the page's closing brace */
    assert_int_equal(store(f, "api", "u", json, &r), 0);
    before = q_dump(f, "SELECT * FROM travel_time ORDER BY gid");
    assert_int_equal(store(f, "api", "u", export, &r), 0);
    assert_false(r.skipped);
    assert_int_equal(r.records, 5);
    assert_int_equal(r.stored, 0);
    assert_int_equal(r.duplicates, 5);
    {
        char *after = q_dump(f, "SELECT * FROM travel_time ORDER BY gid");

        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    free(export);
    free(json);
}

/* Bad records are rejected with field, reason and value; the others are stored. */
static void test_bad_records(void **state)
{
    struct fx *f = *state;
    char *json = page(3, "{\"bm_gid\": 9, \"bm_actuel\": -60, \"bm_ref\": 1, \"bm_mdate\": "
                         "\"" MDATE "\"}, "
                         "{\"bm_gid\": 10, \"bm_actuel\": \"abc\", \"bm_mdate\": \"" MDATE "\"}, "
                         "{\"bm_gid\": 11, \"bm_actuel\": 300, \"bm_ref\": -2, \"bm_mdate\": "
                         "\"" MDATE "\"}, "
                         "{\"bm_gid\": 12, \"bm_actuel\": 300, \"bm_ref\": \"x\", \"bm_mdate\": "
                         "\"" MDATE "\"}, "
                         "{\"bm_gid\": 13, \"bm_actuel\": 300, \"bm_mdate\": \"yesterday\"}, "
                         "{\"bm_gid\": 14, \"bm_actuel\": 300, \"bm_ref\": null, \"bm_mdate\": "
                         "\"" MDATE "\"}");
    struct bch_import_live r;
    char *dump;

    assert_int_equal(store(f, "api", "u", json, &r), BCH_ERR_INPUT);
    assert_int_equal(r.records, 9);
    assert_int_equal(r.stored, 4); /* 1..3 and 14 (ref missing: allowed) */
    assert_int_equal(r.rejected, 5);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time"), 4);
    assert_int_equal(q_int(f, "SELECT flags & 8 FROM travel_time WHERE gid = 14"), 8);
    dump = q_dump(f, "SELECT position, field, reason, value FROM rejected ORDER BY position");
    assert_string_equal(dump, "4|bm_actuel|missing or not a positive number|-60\n"
                              "5|bm_actuel|missing or not a positive number|abc\n"
                              "6|bm_ref|negative|-2\n"
                              "7|bm_ref|not a number|x\n"
                              "8|bm_mdate|missing or not an ISO-8601 time|yesterday\n");
    free(dump);
    assert_int_equal(q_int(f, "SELECT count(DISTINCT source_id) FROM rejected"), 1);
    assert_int_equal(q_int(f, "SELECT rejected FROM raw_source"), 5);
    free(json);
}

/* A body that is not JSON: one rejected row for the payload, nothing else. */
static void test_unreadable_payload(void **state)
{
    struct fx *f = *state;
    struct bch_import_live r;
    char buf[128];

    assert_int_equal(
        store(f, "api", "u", "{\"total_count\": 16, \"results\": [{\"bm_gid\": 1,", &r),
        BCH_ERR_INPUT);
    assert_int_equal(r.stored, 0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time"), 0);
    assert_int_equal(q_int(f, "SELECT position FROM rejected"), 0);
    assert_non_null(strstr(q_text(f, "SELECT reason FROM rejected", buf, sizeof(buf)), "not JSON"));
}

/* The live CSV in memory (BOM, CRLF), through the same rows as a file. */
static void test_csv_payload(void **state)
{
    struct fx *f = *state;
    static const char csv[] =
        "\xEF\xBB\xBF"
        "bm_gid;bm_ident;bm_libelle;bm_actuel;bm_ref;bm_cdate;bm_mdate\r\n"
        "13;32;Ali\xC3\xA9nor: Place Latule \xC3\xA0 la Rocade;180;116;2011-06-09;" MDATE "\r\n"
        "14;33;Ali\xC3\xA9nor: Rocade \xC3\xA0 la Place Latule;-5;135;2011-06-09;" MDATE "\r\n";
    struct bch_import_live r;
    char buf[256];

    assert_int_equal(store(f, "file", "live.csv", csv, &r), BCH_ERR_INPUT);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.rejected, 1);
    assert_string_equal(
        q_text(f, "SELECT label FROM travel_corridor WHERE gid = 13", buf, sizeof(buf)),
        "Ali\xC3\xA9nor: Place Latule \xC3\xA0 la Rocade");
    assert_string_equal(q_text(f, "SELECT format FROM raw_source", buf, sizeof(buf)), "csv-live");
    assert_string_equal(q_text(f, "SELECT field || '|' || value || '|' || position FROM rejected",
                               buf, sizeof(buf)),
                        "bm_actuel|-5|3");
}

/* A file given to run --replay hashes like `bouchon import`: either skips the other. */
static void test_same_hash_as_import(void **state)
{
    struct fx *f = *state;
    char *json = page(4, NULL);
    const char *path = fx_file(f, "live.json", json, 0);
    struct bch_import_payload p;
    struct bch_import_live r;

    assert_int_equal(fx_run(f, "travel-times", path), 0);
    memset(&p, 0, sizeof(p));
    p.kind = "file";
    p.name = path;
    p.data = json;
    p.len = strlen(json);
    p.hash_path = path;
    p.fetched_at = BCH_TIME_NONE;
    assert_int_equal(bch_import_travel_live(f->db, &p, &r), 0);
    assert_true(r.skipped);
    /* a payload in memory with the same bytes hashes the same */
    p.hash_path = NULL;
    assert_int_equal(bch_import_travel_live(f->db, &p, &r), 0);
    assert_true(r.skipped);
    assert_int_equal(q_int(f, "SELECT count(*) FROM raw_source"), 1);
    free(json);
}

/* One transaction: a warehouse failure in the middle leaves nothing of the payload. */
static void test_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    char *json = page(6, NULL);
    struct bch_import_live r;

    assert_int_equal(sqlite3_exec(f->db,
                                  "CREATE TRIGGER boom BEFORE INSERT ON travel_time "
                                  "WHEN new.gid = 5 BEGIN SELECT RAISE(ABORT, 'boom'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store(f, "api", "u", json, &r), BCH_ERR_DB);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_time"), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM travel_corridor"), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM raw_source"), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM rejected"), 0);
    assert_true(sqlite3_get_autocommit(f->db)); /* no transaction left open */
    assert_int_equal(sqlite3_exec(f->db, "DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store(f, "api", "u", json, &r), 0);
    assert_int_equal(r.stored, 6);
    free(json);
}

static void test_sniff(void **state)
{
    static const char *const yes[] = {
        "bm_gid;bm_ident;bm_libelle;bm_actuel;bm_ref;bm_cdate;bm_mdate\n1;20;x;900",
        "\xEF\xBB\xBF"
        "BM_GID;BM_ACTUEL;BM_MDATE\r\n",
        "\"time\",\"gid\",\"actuel\",\"ref\"\n\"2021-01-01T06:00:00+01:00\",1,300,280\n",
        "  {\"total_count\": 16, \"results\": [{\"bm_gid\": 1, \"bm_actuel\": 900",
        "[{\"bm_gid\": 1, \"bm_ident\": 20, \"bm_libelle\": \"x\", \"BM_ACTUEL\": 900}]",
        "bm_actuel", /* a header of one column, no line end */
    };
    static const char *const no[] = {
        "",
        "   \n",
        "geo_point_2d;geo_shape;gml_id;gid;ident;typevoie;etat;cdate;mdate;origine\n",
        "{\"total_count\": 694, \"results\": [{\"gid\": 2151, \"etat\": \"FLUIDE\"",
        "{\"type\":\"FeatureCollection\",\"features\":[{\"properties\":{\"ident\":\"20\"}}]}",
        "gid;bm_actuelle;mdate\n",  /* names compared whole */
        "gid;ident\nbm_actuel;1\n", /* only the first line is the header */
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(yes); i++) {
        if (!bch_import_is_travel(yes[i], strlen(yes[i]))) {
            fail_msg("not recognised: %s", yes[i]);
        }
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(no); i++) {
        if (bch_import_is_travel(no[i], strlen(no[i]))) {
            fail_msg("wrongly recognised: %s", no[i]);
        }
    }
    /* a head cut anywhere is still read safely */
    for (size_t n = 0; n <= strlen(yes[0]); n++) {
        (void)bch_import_is_travel(yes[0], n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_page_then_same_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_same_samples_other_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_records, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_payload, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_csv_payload, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_same_hash_as_import, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failure_rolls_back, fx_setup, fx_teardown),
        cmocka_unit_test(test_sniff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
