/*
 * queue.h - queues: connected groups of simultaneously congested segments
 * whose geometries touch (docs/CONGESTION_METRICS.md "Queue").
 *
 * Two segments touch when an endpoint of (any part of) one lies within
 * tol_m of any vertex of the other.  The adjacency only depends on
 * geometry, so it is built once per network version and reused for every
 * snapshot; components are then a linear pass.
 */
#ifndef BCH_QUEUE_H
#define BCH_QUEUE_H

#include "core/compat.h"
#include "core/geo.h"

#define BCH_QUEUE_DEFAULT_TOL_M 15.0

struct bch_queue_net;

/*
 * Builds the adjacency of n segments; geoms[i] may be NULL (no geometry:
 * the segment touches nothing).  The geometries are only read during the
 * call.  Returns NULL on allocation failure.
 */
struct bch_queue_net *bch_queue_net_build(const struct bch_geom *const *geoms, size_t n,
                                          double tol_m);

/* Frees net; NULL is a no-op. */
void bch_queue_net_free(struct bch_queue_net *net);

/* Number of segments of net. */
size_t bch_queue_net_size(const struct bch_queue_net *net);

/* True when segments i and j touch (i != j). */
bool bch_queue_net_adjacent(const struct bch_queue_net *net, size_t i, size_t j);

/*
 * True when geometries a and b touch within tol_m (distance <= tol_m, by
 * bch_geo_distance_m).  Endpoints are the first and last vertex of each part
 * of a (Multi)LineString, and every point of a Point or MultiPoint.  NULL or
 * empty geometries, and a negative or NaN tol_m, touch nothing.
 */
bool bch_geom_touch(const struct bch_geom *a, const struct bch_geom *b, double tol_m);

/*
 * Labels the connected components of the congested segments: for each i,
 * labels[i] = queue number (0-based) if congested[i], else -1.  Queues are
 * numbered in order of their smallest member index.  Returns the number of
 * queues, or (size_t)-1 on allocation failure.
 */
size_t bch_queue_components(const struct bch_queue_net *net, const bool *congested, int *labels);

#endif
