/*
 * test_import_works.c - `import --kind works` (ci_chantier) and `--kind
 * periods` (import/works.c).
 *
 * ci_chantier: BOM, CRLF, ';', label header, UPPERCASE names, Point,
 * MultiPoint and Polygon geometry, acts joined with '#' and emprises with
 * '/', "None" for nothing; a later extract replaces a work.  periods: the
 * lockdown table.
 */
#include "test_import_common.h"

static const char works_csv[] =
    "\xEF\xBB\xBFGeo Point;Geo Shape;gml_id;LOCALISATION;GID;IDENT;NATURE_N1;NATURE_N2;NATURE;"
    "SOUS_NATURE;GID_ACTE;DATE_DEBUT_ACTE;DATE_FIN_ACTE;GID_EMPRISE;TYPE_EMPRISE;"
    "LOCALISATION_EMPRISE;MES_LIBELLE;TYPE_GEOMETRIE\r\n"
    "44.829841255432115, -0.5682073564175639;\"{\"\"coordinates\"\": [[-0.568211148905514, "
    "44.82983267029944], [-0.568203563929614, 44.82984984056478]], \"\"type\"\": "
    "\"\"MultiPoint\"\"}\";_x.149088;Cours de la Marne;149088;2405004;110;618;Gestion de "
    "l'espace public;Aménagement général;226845#243375;2024-04-08#2024-10-07;"
    "2024-10-06#2024-12-31;287147/287148#308082;EMPRISE/EMPRISE#EMPRISE;a/b#c;\"Interdiction de "
    "tourner/Sens interdit;Mesure libre#Interdiction\";POINT\r\n"
    "44.82908907620186, -0.5681051976421074;\"{\"\"coordinates\"\": [-0.568105197642107, "
    "44.82908907620186], \"\"type\"\": \"\"Point\"\"}\";_x.136982;Rue de Bègles;136982;2312276;"
    "135;465;Travaux sur immeuble;Mise en place clôture;240093;2024-09-01;2024-10-31;None;None;"
    "None;None;POINT\r\n"
    "44.84, -0.58;\"{\"\"coordinates\"\": [[[-0.585, 44.843], [-0.585, 44.842], [-0.584, "
    "44.842], [-0.585, 44.843]]], \"\"type\"\": \"\"Polygon\"\"}\";_x.1;Place;1;9;1;1;X;Y;5;"
    "2024-13-01;2024-10-31;None;None;None;None;SURFACE\r\n"
    "44.84, -0.58;None;_x.2;Nowhere;None;9;1;1;X;Y;5;2024-01-01;2024-10-31;None;None;None;None;"
    "POINT\r\n";

static void test_works(void **state)
{
    struct fx *f = *state;
    const char *p = fx_file(f, "ci_chantier_2024-10-01.csv", works_csv, 0);
    char buf[256];

    assert_int_equal(fx_run(f, "works", p), BCH_ERR_INPUT);
    assert_int_equal(f->st.stored, 3);
    assert_int_equal(f->st.rejected, 1); /* GID None */
    assert_int_equal(f->st.coerced, 1);  /* 2024-13-01 */
    /* two acts: the work spans both */
    assert_int_equal(q_int(f, "SELECT start_day FROM road_work WHERE gid = 149088"),
                     bch_days_from_civil(2024, 4, 8));
    assert_int_equal(q_int(f, "SELECT end_day FROM road_work WHERE gid = 149088"),
                     bch_days_from_civil(2024, 12, 31));
    assert_int_equal(q_int(f, "SELECT count(*) FROM road_work_act WHERE gid = 149088"), 2);
    assert_int_equal(
        q_int(f, "SELECT act_gid FROM road_work_act WHERE gid = 149088 AND act_no = 2"), 243375);
    assert_string_equal(
        q_text(f, "SELECT geom_type FROM road_work WHERE gid = 149088", buf, sizeof(buf)),
        "MultiPoint");
    assert_string_equal(
        q_text(f, "SELECT geom_type FROM road_work WHERE gid = 1", buf, sizeof(buf)), "Polygon");
    assert_true(fabs(q_real(f, "SELECT lat FROM road_work WHERE gid = 136982") - 44.829089) < 1e-5);
    assert_string_equal(
        q_text(f, "SELECT sous_nature FROM road_work WHERE gid = 136982", buf, sizeof(buf)),
        "Mise en place clôture");
    assert_int_equal(q_int(f, "SELECT count(*) FROM road_work WHERE mesures IS NULL"), 2);
    assert_string_equal(q_text(f, "SELECT field FROM rejected WHERE coerced = 1", buf, sizeof(buf)),
                        "DATE_DEBUT_ACTE");
}

/* A later extract that lists a work again replaces it (dates, acts). */
static void test_works_replace(void **state)
{
    struct fx *f = *state;
    const char *a = fx_file(f, "a.csv",
                            "GID;DATE_DEBUT_ACTE;DATE_FIN_ACTE;GID_ACTE;NATURE\n"
                            "7;2024-01-01#2024-02-01;2024-01-31#2024-02-28;1#2;Eau\n",
                            0);
    const char *b = fx_file(f, "b.csv",
                            "GID;DATE_DEBUT_ACTE;DATE_FIN_ACTE;GID_ACTE;NATURE\n"
                            "7;2024-01-01;2024-03-31;1;Eau\n",
                            0);

    /* the same work in other bytes (CRLF): a duplicate, its source kept */
    const char *c = fx_file(f, "c.csv",
                            "GID;DATE_DEBUT_ACTE;DATE_FIN_ACTE;GID_ACTE;NATURE\r\n"
                            "7;2024-01-01;2024-03-31;1;Eau\r\n",
                            0);
    long long src;

    assert_int_equal(fx_run(f, "works", a, b), 0);
    assert_int_equal(f->st.stored, 1);
    assert_int_equal(f->st.merged, 1); /* replaced by the later extract */
    assert_int_equal(f->st.duplicates, 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM road_work_act"), 1);
    assert_int_equal(q_int(f, "SELECT end_day FROM road_work"), bch_days_from_civil(2024, 3, 31));
    src = q_int(f, "SELECT source_id FROM road_work");
    assert_int_equal(fx_run(f, "works", c), 0);
    assert_int_equal(f->st.duplicates, 1);
    assert_int_equal(f->st.merged, 0);
    assert_int_equal(q_int(f, "SELECT source_id FROM road_work"), src);
}

static void test_periods(void **state)
{
    struct fx *f = *state;
    char path[512];
    const char *bad = fx_file(f, "p.csv",
                              "\"deb\",\"fin\",\"label\"\n2021-05-03,2021-04-03,\"x\"\n"
                              "2022-01-01,2022-01-02,\n",
                              0);

    shared_path("history/lockdowns_fr.csv", path, sizeof(path));
    assert_int_equal(fx_run(f, "periods", path), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM period WHERE label = 'Confinement'"), 3);
    assert_int_equal(q_int(f, "SELECT end_day - start_day FROM period ORDER BY start_day LIMIT 1"),
                     54);
    assert_int_equal(fx_run(f, "periods", bad), BCH_ERR_INPUT);
    assert_int_equal(f->st.rejected, 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM period WHERE label = 'period'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_works, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_works_replace, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_periods, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
