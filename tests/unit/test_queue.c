/*
 * test_queue.c - segment adjacency and queues (analytics/queue.c).
 *
 * Synthetic networks are laid out in metres east/north of a point in
 * Bordeaux and turned into GeoJSON text, so every distance in a test is a
 * number of metres written in the test.  The last test runs on the real
 * 10:00 snapshot of shared/data and checks the library against a plain
 * brute-force computation written here, independent of queue.c.
 */
#include "core/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "analytics/queue.h"
#include "core/geo.h"

#define LON0      (-0.58)
#define LAT0      44.84
#define M_PER_DEG (BCH_EARTH_RADIUS_M * M_PI / 180.0)
#define TOL       BCH_QUEUE_DEFAULT_TOL_M

/* A point in metres east and north of (LON0, LAT0), or of a given origin. */
struct xy {
    double e, n;
};

static double lon_of(double lon0, double lat0, double e)
{
    return lon0 + e / (M_PER_DEG * cos(lat0 * M_PI / 180.0));
}

static double lat_of(double lat0, double n)
{
    return lat0 + n / M_PER_DEG;
}

static void put(char *buf, size_t cap, size_t *len, const char *s)
{
    int w = snprintf(buf + *len, cap - *len, "%s", s);

    assert_true(w >= 0 && (size_t)w < cap - *len);
    *len += (size_t)w;
}

static void put_pos(char *buf, size_t cap, size_t *len, double lon0, double lat0, struct xy p)
{
    int w = snprintf(buf + *len, cap - *len, "[%.10f,%.10f]", lon_of(lon0, lat0, p.e),
                     lat_of(lat0, p.n));

    assert_true(w >= 0 && (size_t)w < cap - *len);
    *len += (size_t)w;
}

/*
 * Parses a geometry of type `type` from parts of points (nparts parts, part
 * k has counts[k] points taken in turn from pts), around (lon0, lat0).
 */
static void make_geom_at(struct bch_geom *g, const char *type, double lon0, double lat0,
                         const struct xy *pts, const size_t *counts, size_t nparts)
{
    char buf[8192], err[128];
    size_t len = 0, k = 0;
    bool multi_line = strcmp(type, "MultiLineString") == 0;
    bool point = strcmp(type, "Point") == 0;

    put(buf, sizeof(buf), &len, "{\"type\":\"");
    put(buf, sizeof(buf), &len, type);
    put(buf, sizeof(buf), &len, "\",\"coordinates\":");
    if (!point) {
        put(buf, sizeof(buf), &len, "[");
    }
    for (size_t p = 0; p < nparts; p++) {
        if (multi_line) {
            put(buf, sizeof(buf), &len, p ? ",[" : "[");
        }
        for (size_t i = 0; i < counts[p]; i++, k++) {
            if (i > 0 || (p > 0 && !multi_line)) {
                put(buf, sizeof(buf), &len, ",");
            }
            put_pos(buf, sizeof(buf), &len, lon0, lat0, pts[k]);
        }
        if (multi_line) {
            put(buf, sizeof(buf), &len, "]");
        }
    }
    if (!point) {
        put(buf, sizeof(buf), &len, "]");
    }
    put(buf, sizeof(buf), &len, "}");
    if (bch_geom_parse(g, buf, len, err, sizeof(err)) != 0) {
        fail_msg("cannot parse %s: %s", buf, err);
    }
}

static void make_line(struct bch_geom *g, const struct xy *pts, size_t n)
{
    make_geom_at(g, "LineString", LON0, LAT0, pts, &n, 1);
}

/* A straight two-point line. */
static void make_seg(struct bch_geom *g, double e1, double n1, double e2, double n2)
{
    struct xy pts[2] = {{e1, n1}, {e2, n2}};

    make_line(g, pts, 2);
}

static void release_all(struct bch_geom *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bch_geom_release(&g[i]);
    }
}

/* Builds the net of n geometries (all present) and labels the congested ones. */
static size_t queues_of(const struct bch_geom *g, size_t n, const bool *congested, int *labels)
{
    const struct bch_geom *ptrs[16];
    struct bch_queue_net *net;
    size_t nq;

    assert_true(n <= BCH_ARRAY_LEN(ptrs));
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &g[i];
    }
    net = bch_queue_net_build(ptrs, n, TOL);
    assert_non_null(net);
    assert_int_equal(bch_queue_net_size(net), n);
    nq = bch_queue_components(net, congested, labels);
    bch_queue_net_free(net);
    return nq;
}

static void assert_labels(const int *got, const int *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("label of segment %zu: got %d, want %d", i, got[i], want[i]);
        }
    }
}

/* ---- bch_geom_touch ---------------------------------------------------- */

static void test_touch_tolerance(void **state)
{
    struct bch_geom a, b10, b20, b149, b151;

    (void)state;
    make_seg(&a, 0, 0, 100, 0);
    make_seg(&b10, 110, 0, 200, 0);      /* endpoints 10 m apart */
    make_seg(&b20, 120, 0, 200, 0);      /* 20 m */
    make_seg(&b149, 100, 14.9, 100, 80); /* 14.9 m north */
    make_seg(&b151, 100, 15.1, 100, 80); /* 15.1 m north */
    assert_true(bch_geom_touch(&a, &b10, TOL));
    assert_true(bch_geom_touch(&b10, &a, TOL));
    assert_false(bch_geom_touch(&a, &b20, TOL));
    assert_false(bch_geom_touch(&b20, &a, TOL));
    assert_true(bch_geom_touch(&a, &b20, 25.0));
    assert_true(bch_geom_touch(&a, &b149, TOL));
    assert_false(bch_geom_touch(&a, &b151, TOL));
    /* the distances are the library's haversine */
    assert_true(fabs(bch_geo_distance_m(a.lon[1], a.lat[1], b10.lon[0], b10.lat[0]) - 10.0) < 0.01);
    /* a shared vertex touches even at tolerance 0; a negative or NaN one touches nothing */
    assert_true(bch_geom_touch(&a, &a, 0.0));
    assert_false(bch_geom_touch(&a, &a, -1.0));
    assert_false(bch_geom_touch(&a, &a, NAN));
    release_all(&a, 1);
    release_all(&b10, 1);
    release_all(&b20, 1);
    release_all(&b149, 1);
    release_all(&b151, 1);
}

static void test_touch_endpoint_to_vertex(void **state)
{
    struct xy apts[] = {{0, 0}, {50, 0}, {100, 0}};
    struct xy cross[] = {{50, -100}, {50, 5}, {50, 100}};
    struct bch_geom a, t_end, x, mid_no_vertex, two;

    (void)state;
    make_line(&a, apts, 3);
    /* endpoint 8 m from the interior vertex (50, 0) of a: a T junction */
    make_seg(&t_end, 50, 8, 50, 100);
    /* only interior vertices are close (5 m): a crossing, not a touch */
    make_line(&x, cross, 3);
    /* endpoint 5 m from a's line but 25 m from its nearest vertex */
    make_seg(&two, 0, 0, 100, 0);
    make_seg(&mid_no_vertex, 25, 5, 25, 100);
    assert_true(bch_geom_touch(&a, &t_end, TOL));
    assert_true(bch_geom_touch(&t_end, &a, TOL));
    assert_false(bch_geom_touch(&a, &x, TOL));
    assert_false(bch_geom_touch(&x, &a, TOL));
    assert_false(bch_geom_touch(&two, &mid_no_vertex, TOL));
    release_all(&a, 1);
    release_all(&t_end, 1);
    release_all(&x, 1);
    release_all(&two, 1);
    release_all(&mid_no_vertex, 1);
}

static void test_touch_multilinestring(void **state)
{
    /* part 1 ends at (100, 0); part 2 runs far away, from (0, 500) to (100, 500) */
    struct xy mpts[] = {{0, 0}, {100, 0}, {0, 500}, {100, 500}};
    size_t mcounts[] = {2, 2};
    struct xy lpts[] = {{0, 0}, {100, 0}, {0, 500}, {100, 500}};
    struct xy nearby[] = {{100, 10}, {100, 200}, {300, 300}};
    struct xy near_part2[] = {{-10, 500}, {-200, 500}};
    struct bch_geom m, l, near_end1, near_start2;

    (void)state;
    make_geom_at(&m, "MultiLineString", LON0, LAT0, mpts, mcounts, 2);
    assert_int_equal(m.nparts, 2);
    /* The same vertices as one LineString: (100, 0) and (0, 500) are interior. */
    make_line(&l, lpts, 4);
    make_line(&near_end1, nearby, 3);
    make_line(&near_start2, near_part2, 2);
    /* near_end1's endpoint (100, 10) is 10 m from a vertex either way */
    assert_true(bch_geom_touch(&near_end1, &m, TOL));
    assert_true(bch_geom_touch(&near_end1, &l, TOL));
    /* ... but a vertex of near_end1 is near a part endpoint only in the multi case */
    {
        struct xy v[] = {{100, -300}, {100, 5}, {300, -300}};
        struct bch_geom vertex_only;

        make_line(&vertex_only, v, 3);
        assert_true(bch_geom_touch(&m, &vertex_only, TOL));
        assert_true(bch_geom_touch(&vertex_only, &m, TOL));
        assert_false(bch_geom_touch(&l, &vertex_only, TOL));
        assert_false(bch_geom_touch(&vertex_only, &l, TOL));
        bch_geom_release(&vertex_only);
    }
    /* part 2 starts at (0, 500): 10 m from near_start2's endpoint */
    assert_true(bch_geom_touch(&m, &near_start2, TOL));
    release_all(&m, 1);
    release_all(&l, 1);
    release_all(&near_end1, 1);
    release_all(&near_start2, 1);
}

static void test_touch_points_and_null(void **state)
{
    struct xy apts[] = {{0, 0}, {50, 0}, {100, 0}};
    struct xy p_mid = {50, 10}, p_far = {50, 30}, p_near_p = {55, 10};
    struct xy mp[] = {{500, 500}, {50, -12}, {900, 900}};
    size_t one = 1, three = 3;
    struct bch_geom a, pt, far, pt2, multi, none;

    (void)state;
    make_line(&a, apts, 3);
    make_geom_at(&pt, "Point", LON0, LAT0, &p_mid, &one, 1);
    make_geom_at(&far, "Point", LON0, LAT0, &p_far, &one, 1);
    make_geom_at(&pt2, "Point", LON0, LAT0, &p_near_p, &one, 1);
    make_geom_at(&multi, "MultiPoint", LON0, LAT0, mp, &three, 1);
    memset(&none, 0, sizeof(none));
    /* a point is an endpoint: 10 m from an interior vertex of a */
    assert_true(bch_geom_touch(&pt, &a, TOL));
    assert_true(bch_geom_touch(&a, &pt, TOL));
    assert_false(bch_geom_touch(&far, &a, TOL));
    assert_true(bch_geom_touch(&pt, &pt2, TOL));
    /* every point of a MultiPoint counts, not only the first and last */
    assert_true(bch_geom_touch(&multi, &a, TOL));
    assert_false(bch_geom_touch(&multi, &far, TOL));
    /* no geometry touches nothing */
    assert_false(bch_geom_touch(NULL, &a, TOL));
    assert_false(bch_geom_touch(&a, NULL, TOL));
    assert_false(bch_geom_touch(NULL, NULL, TOL));
    assert_false(bch_geom_touch(&none, &a, TOL));
    assert_false(bch_geom_touch(&a, &none, TOL));
    release_all(&a, 1);
    release_all(&pt, 1);
    release_all(&far, 1);
    release_all(&pt2, 1);
    release_all(&multi, 1);
}

/* ---- networks and components --------------------------------------------- */

static void test_chain(void **state)
{
    struct bch_geom g[4];
    bool all[4] = {true, true, true, true};
    int labels[4];
    const int want[4] = {0, 0, 0, 0};

    (void)state;
    /* listed out of order along the road, with 5 m gaps */
    make_seg(&g[0], 0, 0, 100, 0);
    make_seg(&g[1], 210, 0, 300, 0);
    make_seg(&g[2], 105, 0, 205, 0);
    make_seg(&g[3], 305, 3, 400, 0);
    assert_int_equal(queues_of(g, 4, all, labels), 1);
    assert_labels(labels, want, 4);
    release_all(g, 4);
}

static void test_branches(void **state)
{
    struct bch_geom g[4];
    bool all[4] = {true, true, true, true};
    int labels[4];
    const int want[4] = {0, 0, 0, 0};

    (void)state;
    make_seg(&g[0], 0, 0, 0, 200);       /* trunk, north end at (0, 200) */
    make_seg(&g[1], 2, 203, -150, 350);  /* left branch from the fork */
    make_seg(&g[2], -3, 198, 150, 350);  /* right branch from the fork */
    make_seg(&g[3], 150, 360, 150, 500); /* continues the right branch */
    assert_int_equal(queues_of(g, 4, all, labels), 1);
    assert_labels(labels, want, 4);
    /* without the right branch, its continuation is alone */
    all[2] = false;
    {
        const int want2[4] = {0, 0, -1, 1};

        assert_int_equal(queues_of(g, 4, all, labels), 2);
        assert_labels(labels, want2, 4);
    }
    release_all(g, 4);
}

static void test_two_queues_numbering(void **state)
{
    struct bch_geom g[5];
    bool cong[5] = {true, true, true, true, false};
    int labels[5];
    /* numbered by smallest member: segment 0's queue is 0, segment 1's is 1 */
    const int want[5] = {0, 1, 0, 1, -1};

    (void)state;
    make_seg(&g[0], 1000, 0, 1100, 0);
    make_seg(&g[1], 0, 0, 100, 0);
    make_seg(&g[2], 1100, 10, 1200, 0);
    make_seg(&g[3], 100, 0, 200, 0);
    make_seg(&g[4], 200, 0, 1000, 0); /* links both, but is not congested */
    assert_int_equal(queues_of(g, 5, cong, labels), 2);
    assert_labels(labels, want, 5);
    cong[4] = true;
    {
        const int want1[5] = {0, 0, 0, 0, 0};

        assert_int_equal(queues_of(g, 5, cong, labels), 1);
        assert_labels(labels, want1, 5);
    }
    memset(cong, 0, sizeof(cong));
    {
        const int none[5] = {-1, -1, -1, -1, -1};

        assert_int_equal(queues_of(g, 5, cong, labels), 0);
        assert_labels(labels, none, 5);
    }
    release_all(g, 5);
}

static void test_gap_splits_chain(void **state)
{
    struct bch_geom g[5];
    bool cong[5] = {true, true, false, true, true};
    int labels[5];
    const int want[5] = {0, 0, -1, 1, 1};

    (void)state;
    for (size_t i = 0; i < 5; i++) {
        make_seg(&g[i], 100.0 * (double)i, 0, 100.0 * (double)i + 100, 0);
    }
    assert_int_equal(queues_of(g, 5, cong, labels), 2);
    assert_labels(labels, want, 5);
    release_all(g, 5);
}

static void test_net_api_and_null_geometry(void **state)
{
    struct bch_geom g[3];
    const struct bch_geom *ptrs[4];
    struct bch_queue_net *net;
    bool cong[4] = {true, true, true, true};
    int labels[4];
    const int want[4] = {0, 1, 0, 2};

    (void)state;
    make_seg(&g[0], 0, 0, 100, 0);
    make_seg(&g[1], 100, 5, 200, 0);
    memset(&g[2], 0, sizeof(g[2])); /* an empty (NONE) geometry */
    ptrs[0] = &g[0];
    ptrs[1] = NULL;
    ptrs[2] = &g[1];
    ptrs[3] = &g[2];
    net = bch_queue_net_build(ptrs, 4, TOL);
    assert_non_null(net);
    assert_int_equal(bch_queue_net_size(net), 4);
    assert_true(bch_queue_net_adjacent(net, 0, 2));
    assert_true(bch_queue_net_adjacent(net, 2, 0));
    for (size_t i = 0; i < 4; i++) {
        assert_false(bch_queue_net_adjacent(net, i, i));
        assert_false(bch_queue_net_adjacent(net, i, 1));
        assert_false(bch_queue_net_adjacent(net, 1, i));
        assert_false(bch_queue_net_adjacent(net, i, 3));
        assert_false(bch_queue_net_adjacent(net, i, 4));
        assert_false(bch_queue_net_adjacent(net, 99, i));
    }
    /* a congested segment without geometry is a queue of its own */
    assert_int_equal(bch_queue_components(net, cong, labels), 3);
    assert_labels(labels, want, 4);
    assert_true(bch_queue_components(net, NULL, labels) == (size_t)-1);
    assert_true(bch_queue_components(NULL, cong, labels) == (size_t)-1);
    bch_queue_net_free(net);
    bch_queue_net_free(NULL);
    assert_int_equal(bch_queue_net_size(NULL), 0);

    /* the empty network */
    net = bch_queue_net_build(NULL, 0, TOL);
    assert_non_null(net);
    assert_int_equal(bch_queue_net_size(net), 0);
    assert_int_equal(bch_queue_components(net, NULL, NULL), 0);
    assert_false(bch_queue_net_adjacent(net, 0, 0));
    bch_queue_net_free(net);
    release_all(g, 2);
}

/* ---- pruning never loses a pair ------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL); /* splitmix64 */

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/*
 * Random polylines packed in a small square, plus collinear pairs A -> B
 * laid end to end with a gap of 0 to 30 m in a random direction, so that
 * many pairs sit near the tolerance with bounding boxes apart: the net must
 * agree with bch_geom_touch on every pair.  Run at Bordeaux, near the pole
 * (degrees of longitude are short) and on the antimeridian.
 */
static void check_random_net(double lon0, double lat0, uint64_t seed)
{
    enum { N = 160 };
    struct bch_geom g[N];
    const struct bch_geom *ptrs[N];
    struct bch_queue_net *net;
    size_t touching = 0, apart = 0;

    for (size_t i = 0; i < N; i++) {
        struct xy pts[4];
        size_t nv;

        if (i % 2 == 0 && i + 1 < N && i >= N / 4) {
            /* A ends at p; B starts r metres further on, in the same direction. */
            double th = rng_unit(&seed) * 2 * M_PI, len = 20 + rng_unit(&seed) * 60;
            double r = rng_unit(&seed) * 30, ue = cos(th), un = sin(th);
            struct xy p = {rng_unit(&seed) * 600 - 300, rng_unit(&seed) * 600 - 300};

            pts[0] = (struct xy){p.e - len * ue, p.n - len * un};
            pts[1] = p;
            pts[2] = (struct xy){p.e + r * ue, p.n + r * un};
            pts[3] = (struct xy){p.e + (r + len) * ue, p.n + (r + len) * un};
            apart += r <= TOL;
            nv = 4;
        } else if (i % 2 == 1 && i >= N / 4) {
            continue; /* B of the pair, made with A */
        } else {
            nv = 2 + (size_t)(rng_next(&seed) % 3);
            pts[0].e = rng_unit(&seed) * 600 - 300;
            pts[0].n = rng_unit(&seed) * 600 - 300;
            for (size_t k = 1; k < nv; k++) {
                pts[k].e = pts[k - 1].e + rng_unit(&seed) * 80 - 40;
                pts[k].n = pts[k - 1].n + rng_unit(&seed) * 80 - 40;
            }
        }
        for (size_t k = 0; k < nv; k++) {
            /* stay inside [-180, 180] on the antimeridian */
            if (lon0 >= 180.0 && pts[k].e > 0) {
                pts[k].e = -pts[k].e;
            }
        }
        if (i % 2 == 0 && i + 1 < N && i >= N / 4) {
            size_t two = 2;

            make_geom_at(&g[i], "LineString", lon0, lat0, pts, &two, 1);
            make_geom_at(&g[i + 1], "LineString", lon0, lat0, pts + 2, &two, 1);
            ptrs[i] = &g[i];
            ptrs[i + 1] = &g[i + 1];
        } else {
            make_geom_at(&g[i], "LineString", lon0, lat0, pts, &nv, 1);
            ptrs[i] = &g[i];
        }
    }
    net = bch_queue_net_build(ptrs, N, TOL);
    assert_non_null(net);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            bool want = i != j && bch_geom_touch(&g[i], &g[j], TOL);

            if (bch_queue_net_adjacent(net, i, j) != want) {
                fail_msg("at (%g, %g): pair %zu-%zu adjacent=%d, touch=%d", lon0, lat0, i, j,
                         (int)!want, (int)want);
            }
            touching += want;
        }
    }
    assert_true(touching >= 2 * apart && apart > 10);
    bch_queue_net_free(net);
    release_all(g, N);
}

/* Two segments meeting across the antimeridian, 11 m apart. */
static void test_antimeridian(void **state)
{
    static const char east[] = "{\"type\":\"LineString\",\"coordinates\":"
                               "[[179.999,0.0],[179.99995,0.0]]}";
    static const char west[] = "{\"type\":\"LineString\",\"coordinates\":"
                               "[[-179.99995,0.0],[-179.999,0.0]]}";
    struct bch_geom g[2];
    const struct bch_geom *ptrs[2] = {&g[0], &g[1]};
    struct bch_queue_net *net;

    (void)state;
    assert_int_equal(bch_geom_parse(&g[0], east, strlen(east), NULL, 0), 0);
    assert_int_equal(bch_geom_parse(&g[1], west, strlen(west), NULL, 0), 0);
    assert_true(bch_geom_touch(&g[0], &g[1], TOL));
    net = bch_queue_net_build(ptrs, 2, TOL);
    assert_non_null(net);
    assert_true(bch_queue_net_adjacent(net, 0, 1));
    bch_queue_net_free(net);
    release_all(g, 2);
}

static void test_pruning_random(void **state)
{
    (void)state;
    check_random_net(LON0, LAT0, 1);
    check_random_net(LON0, LAT0, 2);
    check_random_net(25.0, 85.0, 3);
    check_random_net(180.0, -10.0, 4);
}

/* ---- the real 10:00 snapshot --------------------------------------------- */

#define SNAPSHOT   "data/bordeaux/ci_trafi_l_2025-12-18T1000.csv"
#define MAX_SEGS   1000
#define MAX_FIELDS 16

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        return NULL;
    }
    for (;;) {
        size_t got;

        if (cap - n < 65536) {
            char *nb = realloc(buf, cap + 262144);

            assert_non_null(nb);
            buf = nb;
            cap += 262144;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/*
 * Splits one line in place on ';'.  A field starting with '"' runs to the
 * closing quote, with "" read as one quote (the geo_shape JSON).  Returns
 * the number of fields.
 */
static size_t split_line(char *line, char **fields, size_t max)
{
    size_t nf = 0;
    char *p = line;

    for (;;) {
        char *out;

        assert_true(nf < max);
        if (*p == '"') {
            out = ++p;
            fields[nf++] = out;
            for (;;) {
                if (*p == '\0') {
                    break;
                }
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            *out = '\0';
            if (*p == ';') {
                p++;
                continue;
            }
            assert_true(*p == '\0');
            return nf;
        }
        fields[nf++] = p;
        while (*p && *p != ';') {
            p++;
        }
        if (*p == '\0') {
            return nf;
        }
        *p++ = '\0';
    }
}

/* Haversine written out again, so the reference owes nothing to geo.c. */
static double ref_distance(double lon1, double lat1, double lon2, double lat2)
{
    const double r = 6371008.8, k = M_PI / 180.0;
    double s1 = sin((lat2 - lat1) * k / 2), s2 = sin((lon2 - lon1) * k / 2);
    double h = s1 * s1 + cos(lat1 * k) * cos(lat2 * k) * s2 * s2;

    return 2 * r * asin(sqrt(h < 1 ? h : 1));
}

/* Does an endpoint of a part of a lie within tol of any vertex of b? (LineStrings.) */
static bool ref_ends_near(const struct bch_geom *a, const struct bch_geom *b, double tol)
{
    double dlat = 2 * tol / M_PER_DEG;

    for (size_t p = 0; p < a->nparts; p++) {
        size_t ends[2] = {a->part_start[p], a->part_start[p + 1] - 1};

        for (size_t e = 0; e < 2; e++) {
            for (size_t v = 0; v < b->nvert; v++) {
                if (fabs(a->lat[ends[e]] - b->lat[v]) > dlat) {
                    continue;
                }
                if (ref_distance(a->lon[ends[e]], a->lat[ends[e]], b->lon[v], b->lat[v]) <= tol) {
                    return true;
                }
            }
        }
    }
    return false;
}

static bool ref_touch(const struct bch_geom *a, const struct bch_geom *b, double tol)
{
    return ref_ends_near(a, b, tol) || ref_ends_near(b, a, tol);
}

static size_t uf_find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

struct snapshot {
    size_t n;
    struct bch_geom geom[MAX_SEGS];
    long long gid[MAX_SEGS];
    bool congested[MAX_SEGS];
    size_t by_state[5]; /* FLUIDE DENSE EMBOUTEILLE PARALYSE INCONNU */
};

static void load_snapshot(struct snapshot *s)
{
    static const char *const states[] = {"FLUIDE", "DENSE", "EMBOUTEILLE", "PARALYSE", "INCONNU"};
    const char *root = getenv("BOUCHON_SHARED");
    char path[4096], *text, *line, *next;
    size_t len, lineno = 0;

    if (!root || !*root) {
        root = "../shared";
    }
    snprintf(path, sizeof(path), "%s/%s", root, SNAPSHOT);
    text = read_file(path, &len);
    if (!text) {
        fail_msg("cannot read %s (set BOUCHON_SHARED to the shared folder): %s", path,
                 strerror(errno));
    }
    memset(s, 0, sizeof(*s));
    for (line = text; line && *line; line = next) {
        char *fields[MAX_FIELDS], err[128], *end;
        size_t nf, ll;
        int k;

        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        ll = strlen(line);
        if (ll && line[ll - 1] == '\r') {
            line[ll - 1] = '\0';
        }
        if (lineno++ == 0 || *line == '\0') {
            continue; /* the header */
        }
        nf = split_line(line, fields, MAX_FIELDS);
        assert_int_equal(nf, 12);
        assert_true(s->n < MAX_SEGS);
        if (bch_geom_parse(&s->geom[s->n], fields[1], strlen(fields[1]), err, sizeof(err))) {
            fail_msg("line %zu: geo_shape: %s", lineno, err);
        }
        s->gid[s->n] = strtoll(fields[3], &end, 10);
        assert_true(end != fields[3] && *end == '\0');
        k = 0;
        while (k < 5 && strcmp(fields[6], states[k]) != 0) {
            k++;
        }
        if (k == 5) {
            fail_msg("line %zu: unknown etat \"%s\"", lineno, fields[6]);
        }
        s->by_state[k]++;
        s->congested[s->n] = k == 2 || k == 3;
        s->n++;
    }
    free(text);
}

static void test_real_snapshot(void **state)
{
    static struct snapshot s;
    const struct bch_geom *ptrs[MAX_SEGS];
    static size_t parent[MAX_SEGS];
    static int labels[MAX_SEGS], want[MAX_SEGS];
    size_t nq, want_nq = 0, ncong = 0, mismatched_pairs = 0;
    struct bch_queue_net *net;

    (void)state;
    load_snapshot(&s);
    /* the facts of shared/data/bordeaux/SOURCES.md */
    assert_int_equal(s.n, 694);
    assert_int_equal(s.by_state[0], 432);
    assert_int_equal(s.by_state[1], 16);
    assert_int_equal(s.by_state[2], 22);
    assert_int_equal(s.by_state[3], 0);
    assert_int_equal(s.by_state[4], 224);

    for (size_t i = 0; i < s.n; i++) {
        ptrs[i] = &s.geom[i];
    }
    net = bch_queue_net_build(ptrs, s.n, TOL);
    assert_non_null(net);
    nq = bch_queue_components(net, s.congested, labels);

    /* Reference: every pair checked by brute force, components by union-find. */
    for (size_t i = 0; i < s.n; i++) {
        parent[i] = i;
    }
    for (size_t i = 0; i < s.n; i++) {
        for (size_t j = i + 1; j < s.n; j++) {
            bool touch = ref_touch(&s.geom[i], &s.geom[j], TOL);

            if (touch != bch_queue_net_adjacent(net, i, j) ||
                touch != bch_queue_net_adjacent(net, j, i)) {
                if (mismatched_pairs++ < 10) {
                    print_error("  gid %lld - gid %lld: reference %d, net %d\n", s.gid[i], s.gid[j],
                                (int)touch, (int)!touch);
                }
            }
            if (touch && s.congested[i] && s.congested[j]) {
                size_t a = uf_find(parent, i), b = uf_find(parent, j);

                parent[a > b ? a : b] = a < b ? a : b;
            }
        }
    }
    bch_queue_net_free(net);
    assert_int_equal(mismatched_pairs, 0);
    /* Roots are the smallest members, so numbering roots in index order gives the labels. */
    for (size_t i = 0; i < s.n; i++) {
        want[i] = -1;
        if (s.congested[i]) {
            size_t r = uf_find(parent, i);

            ncong++;
            want[i] = r == i ? (int)want_nq++ : want[r];
        }
    }
    assert_int_equal(ncong, 22);
    assert_int_equal(nq, want_nq);
    assert_labels(labels, want, s.n);

    for (size_t q = 0; q < nq; q++) {
        char members[512];
        size_t len = 0, size = 0;
        double length = 0;

        members[0] = '\0';
        for (size_t i = 0; i < s.n; i++) {
            if (labels[i] == (int)q) {
                int w = snprintf(members + len, sizeof(members) - len, " %lld", s.gid[i]);

                if (w > 0 && (size_t)w < sizeof(members) - len) {
                    len += (size_t)w;
                }
                size++;
                length += bch_geom_length_m(&s.geom[i]);
            }
        }
        print_message("queue %zu: %zu segments, %.0f m, gids%s\n", q, size, length, members);
    }
    release_all(s.geom, s.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_touch_tolerance),
        cmocka_unit_test(test_touch_endpoint_to_vertex),
        cmocka_unit_test(test_touch_multilinestring),
        cmocka_unit_test(test_touch_points_and_null),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_branches),
        cmocka_unit_test(test_two_queues_numbering),
        cmocka_unit_test(test_gap_splits_chain),
        cmocka_unit_test(test_net_api_and_null_geometry),
        cmocka_unit_test(test_pruning_random),
        cmocka_unit_test(test_antimeridian),
        cmocka_unit_test(test_real_snapshot),
    };

    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
