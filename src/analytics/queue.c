/*
 * queue.c - segment adjacency from geometry, and congested components.
 *
 * The adjacency is kept in compressed rows (CSR): the neighbours of i are
 * adj[row[i]] .. adj[row[i + 1] - 1], sorted, so a lookup is a binary search
 * and a component pass touches each edge twice.  Building compares every
 * pair, but only pairs whose bounding boxes, widened by the tolerance,
 * overlap go to the vertex test.
 */
#include "core/compat.h"

#include <limits.h>
#include <math.h>

#include "analytics/queue.h"
#include "core/grow.h"

struct bch_queue_net {
    size_t n;
    size_t *row; /* n + 1 offsets into adj */
    size_t *adj;
};

/* Bounding box of one geometry, widened by the tolerance; empty: no geometry. */
struct bbox {
    bool empty;
    bool any_lon; /* widening crossed a pole or the antimeridian: no lon pruning */
    double lon_min, lon_max, lat_min, lat_max;
};

/* Metres per degree of latitude on the sphere of bch_geo_distance_m(). */
#define M_PER_DEG (BCH_EARTH_RADIUS_M * M_PI / 180.0)

/*
 * Pruning must never reject a touching pair, so the widening is generous:
 * twice the tolerance (the small-angle approximations of the haversine are
 * far more accurate than that at any tolerance a road network uses).
 */
#define BBOX_SLACK 2.0

static bool geom_empty(const struct bch_geom *g)
{
    return !g || g->type == BCH_GEOM_NONE || g->nvert == 0 || g->nparts == 0 || !g->part_start;
}

/* Points of a Point or MultiPoint are all endpoints; lines have two per part. */
static bool is_points(const struct bch_geom *g)
{
    return g->type == BCH_GEOM_POINT || g->type == BCH_GEOM_MULTIPOINT;
}

/* True when (lon, lat) lies within tol_m of a vertex of g. */
static bool near_vertex(double lon, double lat, const struct bch_geom *g, double tol_m)
{
    double dlat = tol_m / M_PER_DEG * BBOX_SLACK;

    for (size_t i = 0; i < g->nvert; i++) {
        if (fabs(g->lat[i] - lat) > dlat) {
            continue; /* cheap reject: farther than tol_m along the meridian */
        }
        if (bch_geo_distance_m(lon, lat, g->lon[i], g->lat[i]) <= tol_m) {
            return true;
        }
    }
    return false;
}

/* True when an endpoint of a lies within tol_m of a vertex of b. */
static bool ends_near(const struct bch_geom *a, const struct bch_geom *b, double tol_m)
{
    if (is_points(a)) {
        for (size_t i = 0; i < a->nvert; i++) {
            if (near_vertex(a->lon[i], a->lat[i], b, tol_m)) {
                return true;
            }
        }
        return false;
    }
    for (size_t p = 0; p < a->nparts; p++) {
        size_t first = a->part_start[p], end = a->part_start[p + 1];

        if (end <= first) {
            continue;
        }
        if (near_vertex(a->lon[first], a->lat[first], b, tol_m) ||
            near_vertex(a->lon[end - 1], a->lat[end - 1], b, tol_m)) {
            return true;
        }
    }
    return false;
}

bool bch_geom_touch(const struct bch_geom *a, const struct bch_geom *b, double tol_m)
{
    if (geom_empty(a) || geom_empty(b) || !(tol_m >= 0)) {
        return false;
    }
    return ends_near(a, b, tol_m) || ends_near(b, a, tol_m);
}

static void bbox_of(const struct bch_geom *g, double tol_m, struct bbox *bb)
{
    double dlat, maxabs, c;

    memset(bb, 0, sizeof(*bb));
    if (geom_empty(g) || !(tol_m >= 0)) {
        bb->empty = true;
        return;
    }
    bb->lon_min = bb->lon_max = g->lon[0];
    bb->lat_min = bb->lat_max = g->lat[0];
    for (size_t i = 1; i < g->nvert; i++) {
        bb->lon_min = fmin(bb->lon_min, g->lon[i]);
        bb->lon_max = fmax(bb->lon_max, g->lon[i]);
        bb->lat_min = fmin(bb->lat_min, g->lat[i]);
        bb->lat_max = fmax(bb->lat_max, g->lat[i]);
    }
    dlat = tol_m / M_PER_DEG * BBOX_SLACK;
    bb->lat_min -= dlat;
    bb->lat_max += dlat;
    /* A degree of longitude is shortest at the latitude farthest from the equator. */
    maxabs = fmax(fabs(bb->lat_min), fabs(bb->lat_max));
    c = maxabs < 89.0 ? cos(maxabs * M_PI / 180.0) : 0.0;
    if (c <= 0.0) {
        bb->any_lon = true;
        return;
    }
    bb->lon_min -= dlat / c;
    bb->lon_max += dlat / c;
    if (bb->lon_min < -180.0 || bb->lon_max > 180.0) {
        bb->any_lon = true;
    }
}

static bool bbox_overlap(const struct bbox *a, const struct bbox *b)
{
    if (a->empty || b->empty) {
        return false;
    }
    if (a->lat_max < b->lat_min || b->lat_max < a->lat_min) {
        return false;
    }
    if (a->any_lon || b->any_lon) {
        return true;
    }
    return !(a->lon_max < b->lon_min || b->lon_max < a->lon_min);
}

/* Growable list of edges (i, j), i < j, in the order found. */
struct edges {
    size_t len, cap;
    size_t *ij; /* 2 * len entries */
};

static int edges_push(struct edges *e, size_t i, size_t j)
{
    size_t *nij = bch_reserve(e->ij, &e->cap, e->len + 1, 2 * sizeof(size_t), 256); /* pairs */

    if (!nij) {
        return -1;
    }
    e->ij = nij;
    e->ij[2 * e->len] = i;
    e->ij[2 * e->len + 1] = j;
    e->len++;
    return 0;
}

/*
 * Fills the rows of net from the edge list.  Edges come sorted by (i, j), so
 * each row receives its smaller neighbours first, in increasing order, then
 * its larger ones, in increasing order: rows come out sorted.
 */
static int net_fill(struct bch_queue_net *net, const struct edges *e)
{
    size_t *fill = NULL;

    net->row = calloc(net->n + 1, sizeof(size_t));
    net->adj = malloc((e->len ? e->len : 1) * 2 * sizeof(size_t));
    fill = calloc(net->n + 1, sizeof(size_t));
    if (!net->row || !net->adj || !fill) {
        free(fill);
        return -1;
    }
    for (size_t k = 0; k < e->len; k++) {
        net->row[e->ij[2 * k] + 1]++;
        net->row[e->ij[2 * k + 1] + 1]++;
    }
    for (size_t i = 0; i < net->n; i++) {
        net->row[i + 1] += net->row[i];
        fill[i] = net->row[i];
    }
    for (size_t k = 0; k < e->len; k++) {
        size_t i = e->ij[2 * k], j = e->ij[2 * k + 1];

        net->adj[fill[i]++] = j;
        net->adj[fill[j]++] = i;
    }
    free(fill);
    return 0;
}

struct bch_queue_net *bch_queue_net_build(const struct bch_geom *const *geoms, size_t n,
                                          double tol_m)
{
    struct bch_queue_net *net = NULL;
    struct bbox *boxes = NULL;
    struct edges e = {0};

    if (n >= SIZE_MAX / sizeof(struct bbox) || n > (size_t)INT_MAX) {
        return NULL;
    }
    net = calloc(1, sizeof(*net));
    boxes = calloc(n ? n : 1, sizeof(*boxes));
    if (!net || !boxes) {
        goto fail;
    }
    net->n = n;
    for (size_t i = 0; i < n; i++) {
        bbox_of(geoms ? geoms[i] : NULL, tol_m, &boxes[i]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (bbox_overlap(&boxes[i], &boxes[j]) && bch_geom_touch(geoms[i], geoms[j], tol_m) &&
                edges_push(&e, i, j)) {
                goto fail;
            }
        }
    }
    if (net_fill(net, &e)) {
        goto fail;
    }
    free(e.ij);
    free(boxes);
    return net;

fail:
    free(e.ij);
    free(boxes);
    bch_queue_net_free(net);
    return NULL;
}

void bch_queue_net_free(struct bch_queue_net *net)
{
    if (!net) {
        return;
    }
    free(net->row);
    free(net->adj);
    free(net);
}

size_t bch_queue_net_size(const struct bch_queue_net *net)
{
    return net ? net->n : 0;
}

bool bch_queue_net_adjacent(const struct bch_queue_net *net, size_t i, size_t j)
{
    size_t lo, hi;

    if (!net || i >= net->n || j >= net->n || i == j) {
        return false;
    }
    lo = net->row[i];
    hi = net->row[i + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (net->adj[mid] == j) {
            return true;
        }
        if (net->adj[mid] < j) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

size_t bch_queue_components(const struct bch_queue_net *net, const bool *congested, int *labels)
{
    size_t *todo;
    size_t nq = 0;

    if (!net || (net->n && (!congested || !labels))) {
        return (size_t)-1;
    }
    if (net->n == 0) {
        return 0;
    }
    todo = malloc(net->n * sizeof(size_t));
    if (!todo) {
        return (size_t)-1;
    }
    for (size_t i = 0; i < net->n; i++) {
        labels[i] = -1;
    }
    /* Seeds in index order: each queue is numbered by its smallest member. */
    for (size_t s = 0; s < net->n; s++) {
        size_t head = 0, tail = 0;

        if (!congested[s] || labels[s] >= 0) {
            continue;
        }
        labels[s] = (int)nq;
        todo[tail++] = s;
        while (head < tail) {
            size_t u = todo[head++];

            for (size_t k = net->row[u]; k < net->row[u + 1]; k++) {
                size_t v = net->adj[k];

                if (congested[v] && labels[v] < 0) {
                    labels[v] = (int)nq;
                    todo[tail++] = v;
                }
            }
        }
        nq++;
    }
    free(todo);
    return nq;
}
