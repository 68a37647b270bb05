/*
 * test_import_counts.c - `import --kind counts` (import/counts.c): the
 * annual counts of every edition.
 *
 * The 2023 CSV (BOM, CRLF, ';', UPPERCASE names with '%'), the v1 JSON of
 * 2019 / 2021 (lowercase, datasetid telling the year), the 2018 quirks
 * (French percent strings, vit_evo as a geo point), rows without values,
 * a year taken from the file name or --year, and the real files.
 */
#include "test_import_common.h"

static const char csv2023[] =
    "\xEF\xBB\xBFIDENT;HPM_VAL;HPS_VAL;MJO_VAL;HPM_%;HPS_%;MJO_%;PL_VAL;PL_%;VIT_VAL;VIT_EVO;"
    "COMMENT;NOM_VOIE;SENS_CIR;V85_VL;V85_PL\r\n"
    "Z10BE;405;497;5381;16.1;0.5;-0.2;449;9.1;35;-2.8;;Bordeaux Rue Bethmann Bx II;Sens "
    "Entrant;;\r\n"
    "Z10CT13;283;322;3922;11.2;12.6;10.5;;;;;;Bordeaux 245 Rue du Tondu;Sens Entrant;41.5;\r\n"
    "Z10CT13;;;;;;;;;;;;Bordeaux 245 Rue du Tondu;Sens Sortant;;\r\n"
    ";1;2;3;;;;;;;;;nowhere;;;\r\n";

static void test_csv_2023(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(f, "comptage-du-trafic-2023.csv", csv2023, 0);
    char buf[128];

    assert_int_equal(fx_run(f, "counts", p), BCH_ERR_INPUT);
    assert_int_equal(f->st.rows, 4);
    assert_int_equal(f->st.stored, 3);
    assert_int_equal(f->st.rejected, 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2023"), 3);
    assert_true(q_real(f, "SELECT mjo_val FROM annual_count WHERE ident = 'Z10BE'") == 5381);
    assert_true(fabs(q_real(f, "SELECT hpm_pct FROM annual_count WHERE ident = 'Z10BE'") - 16.1) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT mjo_pct FROM annual_count WHERE ident = 'Z10BE'") + 0.2) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT vit_evo FROM annual_count WHERE ident = 'Z10BE'") + 2.8) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT v85_vl FROM annual_count WHERE ident = 'Z10CT13' AND "
                               "sens = 'Sens Entrant'") -
                     41.5) < 1e-12);
    /* the out-of-order row: kept, no values, keyed by direction */
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE ident = 'Z10CT13'"), 2);
    assert_int_equal(q_int(f, "SELECT count(mjo_val) FROM annual_count WHERE ident = 'Z10CT13'"),
                     1);
    assert_string_equal(q_text(f, "SELECT field FROM rejected", buf, sizeof(buf)), "ident");
    assert_int_equal(q_int(f, "SELECT position FROM rejected"), 5);
    assert_non_null(strstr(q_text(f, "SELECT header FROM raw_source", buf, sizeof(buf)), "HPM_%"));
}

/* 2018: "-0,7%" strings and the geo point in vit_evo (kept as NULL, listed). */
static void test_2018_quirks(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(
        f, "comptage_trafic_2018.json",
        "[{\"datasetid\": \"comptage_trafic_2018\", \"recordid\": \"a\", \"fields\": {\"ident\": "
        "\"Z05BS\", \"nom_voie\": \"Bordeaux Quai  Souys\", \"sens_cir\": \"0\", \"mjo_val\": "
        "8952, "
        "\"mjo\": \"-0,7%\", \"hpm_val\": 460, \"hpm\": \"10,0%\", \"hps_val\": 931, \"hps\": "
        "\"2,5%\", \"pl\": \"11,7%\", \"vit_evo\": [-3.0, 3.0]}, \"geometry\": {\"type\": "
        "\"Point\", \"coordinates\": [3.0, -3.0]}}, "
        "{\"datasetid\": \"comptage_trafic_2018\", \"recordid\": \"b\", \"fields\": {\"ident\": "
        "\"Z7CE\", \"sens_cir\": null, \"mjo_val\": 5110.0}}]",
        0);
    char buf[128];

    assert_int_equal(fx_run(f, "counts", p), 0);
    assert_int_equal(f->st.stored, 2);
    assert_int_equal(f->st.coerced, 1);
    assert_true(fabs(q_real(f, "SELECT mjo_pct FROM annual_count WHERE ident = 'Z05BS'") + 0.7) <
                1e-12);
    assert_true(fabs(q_real(f, "SELECT hpm_pct FROM annual_count WHERE ident = 'Z05BS'") - 10) <
                1e-12);
    assert_true(isnan(q_real(f, "SELECT vit_evo FROM annual_count WHERE ident = 'Z05BS'")));
    assert_string_equal(
        q_text(f, "SELECT sens FROM annual_count WHERE ident = 'Z05BS'", buf, sizeof(buf)), "0");
    assert_string_equal(
        q_text(f, "SELECT sens FROM annual_count WHERE ident = 'Z7CE'", buf, sizeof(buf)), "");
    assert_int_equal(q_int(f, "SELECT year FROM annual_count WHERE ident = 'Z7CE'"), 2018);
    assert_string_equal(q_text(f, "SELECT field FROM rejected WHERE coerced = 1", buf, sizeof(buf)),
                        "vit_evo");
    /* double spaces in nom_voie are kept as received */
    assert_string_equal(
        q_text(f, "SELECT nom_voie FROM annual_count WHERE ident = 'Z05BS'", buf, sizeof(buf)),
        "Bordeaux Quai  Souys");
}

/* A CSV whose name does not tell the year needs --year; else the file is rejected. */
static void test_year(void **state)
{
    struct fx *f = *state;
    struct bch_import_options o;
    const char *p = fx_file(f, "counts.csv", csv2023, 0);

    assert_int_equal(fx_run(f, "counts", p), BCH_ERR_INPUT);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count"), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM rejected WHERE position = 0"), 1);
    bch_import_options_default(&o);
    o.year = 2022;
    /* the file was not completed: importing it again with --year reads it */
    assert_int_equal(fx_run_opts(f, &o, "counts", p, (const char *)NULL), BCH_ERR_INPUT);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2022"), 3);
}

/* The real editions: 534 + 441 + 345 rows, keyed by ident and direction. */
static void test_real_files(void **state)
{
    struct fx *f = *state;
    char a[512], b[512], c[512];

    shared_path("comptage_trafic_2019.json", a, sizeof(a));
    shared_path("comptage_trafic_2021.json", b, sizeof(b));
    shared_path("comptage-du-trafic-2023.csv", c, sizeof(c));
    assert_int_equal(fx_run(f, "counts", a, b, c), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2019"), 534);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2021"), 441);
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2023"), 345);
    /* SOURCES.md: 2021 has hps == hpm on every row (upstream copy error) */
    assert_int_equal(q_int(f, "SELECT count(*) FROM annual_count WHERE year = 2021 AND "
                              "hps_pct IS NOT hpm_pct"),
                     0);
    assert_true(q_real(f, "SELECT mjo_val FROM annual_count WHERE year = 2023 AND nom_voie = "
                          "'Bordeaux Quai Richelieu  Cailhau/Bourse'") == 22165);
    /* again: nothing changes */
    assert_int_equal(fx_run(f, "counts", a, b, c), 0);
    assert_int_equal(f->st.skipped, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_2023, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_2018_quirks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_year, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_real_files, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
