/*
 * test_geo.c - great-circle lengths and GeoJSON geometries (core/geo.c).
 *
 * Distances are checked against closed forms (an arc of the sphere is
 * R * angle), against the spherical law of cosines computed here in long
 * double, and against values computed outside the project for real
 * segments.  Geometry parsing is a table of good and bad inputs; the
 * normalized text is checked byte for byte and parsed back, on hand-made
 * cases and on the 694 real segment geometries.
 */
#include "core/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/geo.h"
#include "sources/csv.h"

#define R BCH_EARTH_RADIUS_M

/* Law of cosines on the sphere, long double: independent of the haversine
 * (accurate enough for distances above a few metres). */
static double ref_distance(double lon1, double lat1, double lon2, double lat2)
{
    long double d2r = 3.14159265358979323846264338327950288L / 180.0L;
    long double p1 = lat1 * d2r, p2 = lat2 * d2r, dl = (lon2 - lon1) * d2r;
    long double c = sinl(p1) * sinl(p2) + cosl(p1) * cosl(p2) * cosl(dl);

    if (c > 1) {
        c = 1;
    }
    if (c < -1) {
        c = -1;
    }
    return (double)(R * acosl(c));
}

static void test_distance_closed_forms(void **state)
{
    double deg = R * M_PI / 180.0;

    (void)state;
    assert_true(fabs(deg - 111195.0802) < 1e-3);
    assert_true(fabs(bch_geo_distance_m(0, 0, 0, 1) - deg) < 1e-6);
    assert_true(fabs(bch_geo_distance_m(-0.57, 44.0, -0.57, 45.0) - deg) < 1e-6);
    assert_true(fabs(bch_geo_distance_m(0, 0, 1, 0) - deg) < 1e-6);
    assert_true(fabs(bch_geo_distance_m(179.5, 0, -179.5, 0) - deg) < 1e-6); /* across 180 */
    /* one degree of longitude at latitude phi: an arc of a great circle is
     * shorter than the parallel, but the two agree to 1e-4 for 1 degree */
    assert_true(fabs(bch_geo_distance_m(0, 60, 1, 60) / (deg * cos(M_PI / 3)) - 1) < 1e-4);
    assert_true(fabs(bch_geo_distance_m(0, 0, 0, 90) - R * M_PI / 2) < 1e-6);
    assert_true(fabs(bch_geo_distance_m(0, 90, 123, 90)) < 1e-6); /* the pole is a point */
    /* antipodes: h reaches 1 (rounding may push it above: clamped) */
    assert_true(fabs(bch_geo_distance_m(0, 0, 180, 0) - R * M_PI) < 1e-6);
    /* near-antipodes: haversine is ill-conditioned there (a rounding of h
     * costs ~0.1 m); the clamp must still give a finite half circle */
    assert_true(fabs(bch_geo_distance_m(-0.5, 44.8, 179.5, -44.8) - R * M_PI) < 1.0);
    assert_true(bch_geo_distance_m(-0.57, 44.84, -0.57, 44.84) == 0.0);
    assert_false(isnan(bch_geo_distance_m(10, 89.999999, -170, 89.999999)));
}

static void test_distance_against_reference(void **state)
{
    uint64_t x = 88172645463325252u;

    (void)state;
    /* Values computed outside the project (Python, double haversine). */
    assert_true(fabs(bch_geo_distance_m(-0.566524, 44.869538, -0.563834, 44.867752) -
                     290.4818030289793) < 1e-6);
    assert_true(fabs(bch_geo_distance_m(2.3522, 48.8566, -0.5792, 44.8378) - 499298.3146228003) <
                1e-4);
    /* Symmetry and the law of cosines on seeded random pairs. */
    for (int i = 0; i < 2000; i++) {
        double v[4], d, back, ref;

        for (int k = 0; k < 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[k] = (double)(x % 2000001) / 2000000.0; /* [0, 1] */
        }
        v[0] = v[0] * 360 - 180;
        v[1] = v[1] * 180 - 90;
        v[2] = v[2] * 360 - 180;
        v[3] = v[3] * 180 - 90;
        d = bch_geo_distance_m(v[0], v[1], v[2], v[3]);
        back = bch_geo_distance_m(v[2], v[3], v[0], v[1]);
        ref = ref_distance(v[0], v[1], v[2], v[3]);
        assert_true(d >= 0 && d <= R * M_PI + 1e-6);
        assert_true(fabs(d - back) < 1e-6);
        if (d > 1000) {
            assert_true(fabs(d - ref) < 1e-3);
        }
    }
}

/* ------------------------------------------------------------ parsing */

static void parse_ok(const char *text, struct bch_geom *g)
{
    char err[128] = "";

    if (bch_geom_parse(g, text, strlen(text), err, sizeof(err)) != 0) {
        fail_msg("'%s' rejected: %s", text, err);
    }
}

static void test_linestring(void **state)
{
    struct bch_geom g;
    char *txt;

    (void)state;
    /* the real row of DATA_FORMATS.md §2.2 (gid 2616), CSV key order */
    parse_ok("{\"coordinates\": [[-0.566524, 44.869538], [-0.563834, 44.867752]], \"type\": "
             "\"LineString\"}",
             &g);
    assert_int_equal(g.type, BCH_GEOM_LINESTRING);
    assert_int_equal(g.nparts, 1);
    assert_int_equal(g.nvert, 2);
    assert_int_equal(g.part_start[0], 0);
    assert_int_equal(g.part_start[1], 2);
    assert_true(g.lon[0] == -0.566524 && g.lat[0] == 44.869538);
    assert_true(g.lon[1] == -0.563834 && g.lat[1] == 44.867752);
    assert_true(fabs(bch_geom_length_m(&g) - 290.4818030289793) < 1e-6);
    txt = bch_geom_to_json(&g);
    assert_string_equal(txt, "{\"type\":\"LineString\",\"coordinates\":[[-0.566524,44.869538],"
                             "[-0.563834,44.867752]]}");
    free(txt);
    bch_geom_release(&g);
    assert_null(g.lon);
    assert_int_equal(g.nvert, 0);
    bch_geom_release(&g); /* twice is harmless */

    /* gid 2455, five vertices: 423.73 m (computed outside the project) */
    parse_ok("{\"type\":\"LineString\",\"coordinates\":[[-0.663549, 44.798859], [-0.664301, "
             "44.798307], [-0.664566, 44.798112], [-0.6653, 44.797546], [-0.667214, 44.796074]]}",
             &g);
    assert_int_equal(g.nvert, 5);
    assert_true(fabs(bch_geom_length_m(&g) - 423.73035084376045) < 1e-6);
    bch_geom_release(&g);
}

static void test_multilinestring(void **state)
{
    struct bch_geom g;
    double deg = R * M_PI / 180.0;
    char *txt;

    (void)state;
    /* Two one-degree parts far apart: the gap between them is not road. */
    parse_ok("{\"type\":\"MultiLineString\",\"coordinates\":[[[0,0],[0,1]],[[10,0],[10,0.5],[10,"
             "1]]]}",
             &g);
    assert_int_equal(g.type, BCH_GEOM_MULTILINESTRING);
    assert_int_equal(g.nparts, 2);
    assert_int_equal(g.nvert, 5);
    assert_int_equal(g.part_start[1], 2);
    assert_int_equal(g.part_start[2], 5);
    assert_true(fabs(bch_geom_length_m(&g) - 2 * deg) < 1e-6);
    txt = bch_geom_to_json(&g);
    assert_string_equal(txt, "{\"type\":\"MultiLineString\",\"coordinates\":[[[0,0],[0,1]],[[10,"
                             "0],[10,0.5],[10,1]]]}");
    free(txt);
    bch_geom_release(&g);

    /* A single part equals the LineString. */
    parse_ok("{\"type\":\"MultiLineString\",\"coordinates\":[[[-0.566524, 44.869538], "
             "[-0.563834, 44.867752]]]}",
             &g);
    assert_true(fabs(bch_geom_length_m(&g) - 290.4818030289793) < 1e-6);
    bch_geom_release(&g);
}

static void test_points_and_feature(void **state)
{
    struct bch_geom g;
    char *txt;

    (void)state;
    parse_ok("{\"coordinates\": [-0.6735089, 44.8697519], \"type\": \"Point\"}", &g);
    assert_int_equal(g.type, BCH_GEOM_POINT);
    assert_int_equal(g.nvert, 1);
    assert_int_equal(g.nparts, 1);
    assert_true(bch_geom_length_m(&g) == 0.0);
    txt = bch_geom_to_json(&g);
    assert_string_equal(txt, "{\"type\":\"Point\",\"coordinates\":[-0.6735089,44.8697519]}");
    free(txt);
    bch_geom_release(&g);

    parse_ok("{\"type\":\"MultiPoint\",\"coordinates\":[[0,0],[0,1]]}", &g);
    assert_int_equal(g.type, BCH_GEOM_MULTIPOINT);
    assert_int_equal(g.nvert, 2);
    assert_true(bch_geom_length_m(&g) == 0.0); /* points have no length */
    bch_geom_release(&g);

    /* v2.1 JSON wraps geo_shape in a Feature (DATA_FORMATS.md §1.1). */
    parse_ok("{\"type\": \"Feature\", \"geometry\": {\"coordinates\": [[-0.566524, 44.869538], "
             "[-0.563834, 44.867752]], \"type\": \"LineString\"}, \"properties\": {}}",
             &g);
    assert_int_equal(g.type, BCH_GEOM_LINESTRING);
    assert_true(fabs(bch_geom_length_m(&g) - 290.4818030289793) < 1e-6);
    bch_geom_release(&g);
    parse_ok("{\"type\":\"Feature\",\"geometry\":{\"coordinates\":[-0.6978119,44.8713879],"
             "\"type\":\"Point\"},\"properties\":{}}",
             &g);
    assert_int_equal(g.type, BCH_GEOM_POINT);
    bch_geom_release(&g);

    /* Edges of the WGS84 range, integers, and a third (altitude) number. */
    parse_ok("{\"type\":\"LineString\",\"coordinates\":[[-180,-90],[180,90]]}", &g);
    assert_true(g.lon[0] == -180 && g.lat[1] == 90);
    bch_geom_release(&g);
    parse_ok("{\"type\":\"LineString\",\"coordinates\":[[0,45,12.5],[1,45,13]]}", &g);
    assert_int_equal(g.nvert, 2);
    assert_true(g.lat[1] == 45);
    bch_geom_release(&g);

    assert_string_equal(bch_geom_type_name(BCH_GEOM_POINT), "Point");
    assert_string_equal(bch_geom_type_name(BCH_GEOM_LINESTRING), "LineString");
    assert_string_equal(bch_geom_type_name(BCH_GEOM_MULTIPOINT), "MultiPoint");
    assert_string_equal(bch_geom_type_name(BCH_GEOM_MULTILINESTRING), "MultiLineString");
    assert_string_equal(bch_geom_type_name(BCH_GEOM_NONE), "");
}

static const struct {
    const char *text;
    const char *err; /* substring of the reason */
} bad[] = {
    {"", "not valid JSON"},
    {"{\"type\":\"Point\",\"coordinates\":[NaN, 1]}", "not valid JSON"},
    {"{\"type\":\"Point\",\"coordinates\":[1e400, 1]}", "not valid JSON"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]", "not valid JSON"},
    {"[[0,0],[1,1]]", "not an object"},
    {"\"LineString\"", "not valid JSON"}, /* jansson decodes objects and arrays only */
    {"{\"coordinates\":[[0,0],[1,1]]}", "no \"type\""},
    {"{\"type\":7,\"coordinates\":[[0,0],[1,1]]}", "no \"type\""},
    {"{\"type\":\"LineString\"}", "coordinates"},
    {"{\"type\":\"LineString\",\"coordinates\":\"[[0,0],[1,1]]\"}", "coordinates"},
    {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,0]]]}", "unsupported"},
    {"{\"type\":\"linestring\",\"coordinates\":[[0,0],[1,1]]}", "unsupported"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0]]}", "fewer than two"},
    {"{\"type\":\"LineString\",\"coordinates\":[]}", "fewer than two"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[1]]}", "two numbers"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],5]}", "two numbers"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[\"1\",2]]}", "not a number"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,null]]}", "not a number"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[true,1]]}", "not a number"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[180.000001,1]]}", "range"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[-181,1]]}", "range"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,90.5]]}", "range"},
    {"{\"type\":\"LineString\",\"coordinates\":[[0,-91],[1,1]]}", "range"},
    {"{\"type\":\"LineString\",\"coordinates\":[[1e300,0],[1,1]]}", "range"},
    {"{\"type\":\"Point\",\"coordinates\":[[0,0]]}", "two numbers"},
    {"{\"type\":\"Point\",\"coordinates\":[[0,0],[1,1]]}", "not a number"},
    {"{\"type\":\"Point\",\"coordinates\":[0]}", "two numbers"},
    {"{\"type\":\"MultiLineString\",\"coordinates\":[]}", "empty"},
    {"{\"type\":\"MultiLineString\",\"coordinates\":[[0,0],[1,1]]}", "two numbers"},
    {"{\"type\":\"MultiLineString\",\"coordinates\":[7]}", "not an array"},
    {"{\"type\":\"MultiLineString\",\"coordinates\":[[[0,0],[1,1]],[[2,2]]]}", "fewer than two"},
    {"{\"type\":\"Feature\",\"properties\":{}}", "Feature"},
    {"{\"type\":\"Feature\",\"geometry\":null,\"properties\":{}}", "Feature"},
    {"{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[0,0]]}}",
     "fewer than two"},
};

static void test_bad_geometries(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(bad); i++) {
        struct bch_geom g;
        char err[128] = "";
        int rc;

        memset(&g, 0x5A, sizeof(g)); /* garbage in: the parser must reset it */
        rc = bch_geom_parse(&g, bad[i].text, strlen(bad[i].text), err, sizeof(err));
        if (rc != -1 || !strstr(err, bad[i].err)) {
            print_error("'%s': rc %d, reason '%s', want '%s'\n", bad[i].text, rc, err, bad[i].err);
            failures++;
        }
        if (g.type != BCH_GEOM_NONE || g.nvert != 0 || g.nparts != 0 || g.lon || g.lat ||
            g.part_start) {
            print_error("'%s': geometry not left empty\n", bad[i].text);
            failures++;
        }
        bch_geom_release(&g);
    }
    assert_int_equal(failures, 0);
}

static void test_from_json_object(void **state)
{
    json_t *o = json_pack("{s:s, s:[[f,f],[f,f]]}", "type", "LineString", "coordinates", 0.0, 0.0,
                          0.0, 1.0);
    struct bch_geom g;
    char err[64];

    (void)state;
    assert_non_null(o);
    assert_int_equal(bch_geom_from_json(&g, o, err, sizeof(err)), 0);
    assert_true(fabs(bch_geom_length_m(&g) - R * M_PI / 180.0) < 1e-6);
    bch_geom_release(&g);
    json_decref(o);
    assert_int_equal(bch_geom_from_json(&g, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an object"));
    /* err may be NULL */
    assert_int_equal(bch_geom_from_json(&g, NULL, NULL, 0), -1);
}

/* The vertex limit holds exactly at BCH_GEOM_MAX_VERTICES. */
static void test_vertex_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        struct bch_buf b;
        struct bch_geom g;
        char err[64] = "";
        size_t n = BCH_GEOM_MAX_VERTICES + (size_t)extra;
        int rc;

        bch_buf_init(&b, 16u << 20);
        assert_int_equal(bch_buf_adds(&b, "{\"type\":\"LineString\",\"coordinates\":["), 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(
                bch_buf_printf(&b, "%s[%.6f,45]", i ? "," : "", (double)i * 1e-6 - 0.5), 0);
        }
        assert_int_equal(bch_buf_adds(&b, "]}"), 0);
        rc = bch_geom_parse(&g, b.data, b.len, err, sizeof(err));
        if (extra) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, "too many"));
        } else {
            char *txt;
            struct bch_geom back;

            assert_int_equal(rc, 0);
            assert_int_equal(g.nvert, n);
            txt = bch_geom_to_json(&g);
            assert_non_null(txt);
            parse_ok(txt, &back);
            assert_int_equal(back.nvert, n);
            assert_true(back.lon[n - 1] == g.lon[n - 1]);
            bch_geom_release(&back);
            free(txt);
        }
        bch_geom_release(&g);
        bch_buf_release(&b);
    }
}

/* ---------------------------------------------------------- round trip */

static bool same_geom(const struct bch_geom *a, const struct bch_geom *b)
{
    if (a->type != b->type || a->nparts != b->nparts || a->nvert != b->nvert) {
        return false;
    }
    for (size_t p = 0; p <= a->nparts; p++) {
        if (a->part_start[p] != b->part_start[p]) {
            return false;
        }
    }
    for (size_t i = 0; i < a->nvert; i++) {
        if (a->lon[i] != b->lon[i] || a->lat[i] != b->lat[i]) {
            return false;
        }
    }
    return true;
}

static void test_to_json_round_trip(void **state)
{
    static const char *const texts[] = {
        "{\"type\":\"Point\",\"coordinates\":[-0.53282,44.8]}",
        "{\"type\":\"MultiPoint\",\"coordinates\":[[-0.5,44.8],[-0.500001,44.800001]]}",
        "{\"type\":\"LineString\",\"coordinates\":[[-0.7242,44.76],[-0.4997,44.8976]]}",
        "{\"type\":\"LineString\",\"coordinates\":[[-179.999999,-89.999999],[179.999999,"
        "89.999999],[0,0],[-0.0001,0.0001]]}",
        "{\"type\":\"MultiLineString\",\"coordinates\":[[[1,2],[3,4]],[[5,6],[7,8]],[[9,10],[11,"
        "12],[13,14]]]}",
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(texts); i++) {
        struct bch_geom g, back;
        char *txt, *again;

        parse_ok(texts[i], &g);
        txt = bch_geom_to_json(&g);
        assert_non_null(txt);
        /* Already normalized (compact, type first, short numbers): unchanged. */
        assert_string_equal(txt, texts[i]);
        parse_ok(txt, &back);
        assert_true(same_geom(&g, &back));
        again = bch_geom_to_json(&back);
        assert_string_equal(again, txt);
        free(again);
        free(txt);
        bch_geom_release(&back);
        bch_geom_release(&g);
    }
    /* -0 has one spelling, so equal geometries normalize to equal text
     * (found by fuzz_geom: "-0" read back as 0 gave a second spelling). */
    {
        struct bch_geom g;
        char *txt;

        parse_ok("{\"type\":\"LineString\",\"coordinates\":[[-0.0,54],[0,-0.0]]}", &g);
        txt = bch_geom_to_json(&g);
        assert_string_equal(txt, "{\"type\":\"LineString\",\"coordinates\":[[0,54],[0,0]]}");
        free(txt);
        bch_geom_release(&g);
    }
    /* Tiny values come out in exponent form; they must still read back. */
    {
        struct bch_geom g, back;
        char *txt;

        parse_ok("{\"type\":\"LineString\",\"coordinates\":[[-0.000001,0.000001],[1e-7,-2.5e-6]]}",
                 &g);
        txt = bch_geom_to_json(&g);
        parse_ok(txt, &back);
        assert_true(same_geom(&g, &back));
        free(txt);
        bch_geom_release(&back);
        bch_geom_release(&g);
    }
}

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

/* The 694 real geo_shape cells: all LineStrings of 2-71 vertices inside
 * the bounding box of DATA_FORMATS.md §2, 293.09 km in all (SOURCES.md),
 * and each survives to_json -> parse exactly. */
static void test_real_geometries(void **state)
{
    size_t len, n = 0, vmin = SIZE_MAX, vmax = 0;
    char *text = read_shared("ci_trafi_l_2025-12-18T1000.csv", &len);
    struct bch_csv c;
    char err[128];
    double total = 0;

    (void)state;
    bch_csv_init(&c, text, len, ';');
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1); /* header */
    while (bch_csv_next(&c, err, sizeof(err)) == 1) {
        struct bch_geom g, back;
        char *txt;

        if (bch_geom_parse(&g, c.fields[1].s, c.fields[1].len, err, sizeof(err))) {
            fail_msg("line %ld: %s", c.line, err);
        }
        assert_int_equal(g.type, BCH_GEOM_LINESTRING);
        for (size_t i = 0; i < g.nvert; i++) {
            assert_true(g.lon[i] >= -0.7243 && g.lon[i] <= -0.4996);
            assert_true(g.lat[i] >= 44.7599 && g.lat[i] <= 44.8977);
        }
        vmin = g.nvert < vmin ? g.nvert : vmin;
        vmax = g.nvert > vmax ? g.nvert : vmax;
        total += bch_geom_length_m(&g);
        txt = bch_geom_to_json(&g);
        assert_non_null(txt);
        parse_ok(txt, &back);
        assert_true(same_geom(&g, &back));
        assert_true(bch_geom_length_m(&back) == bch_geom_length_m(&g));
        free(txt);
        bch_geom_release(&back);
        bch_geom_release(&g);
        n++;
    }
    bch_csv_release(&c);
    free(text);
    assert_int_equal(n, 694);
    assert_int_equal(vmin, 2);
    assert_int_equal(vmax, 71);
    assert_true(fabs(total / 1000.0 - 293.09) <= 0.005 + 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance_closed_forms),
        cmocka_unit_test(test_distance_against_reference),
        cmocka_unit_test(test_linestring),
        cmocka_unit_test(test_multilinestring),
        cmocka_unit_test(test_points_and_feature),
        cmocka_unit_test(test_bad_geometries),
        cmocka_unit_test(test_from_json_object),
        cmocka_unit_test(test_vertex_limit),
        cmocka_unit_test(test_to_json_round_trip),
        cmocka_unit_test(test_real_geometries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
