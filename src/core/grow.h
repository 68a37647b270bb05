/*
 * grow.h - room in a growable typed array.
 *
 * The arrays of the pipeline (segments of the loader, pending Kafka
 * messages, ranked rows of the reports, ...) are plain `T *v; size_t n,
 * cap;` triples, grown by doubling.  bch_reserve() is that growth, with the
 * size overflow checked, written once:
 *
 *     struct item *nv = bch_reserve(a->v, &a->cap, a->n + 1, sizeof(*nv), 64);
 *     if (!nv)
 *         return BCH_ERR_NOMEM;       // a->v and a->cap are unchanged
 *     a->v = nv;
 */
#ifndef BCH_GROW_H
#define BCH_GROW_H

#include "core/compat.h"

/*
 * Returns arr when it already holds need elements of elem bytes (*cap >=
 * need), else arr reallocated to the first of first, 2*first, 4*first ...
 * (or of *cap doubled, when arr has a capacity) that holds need elements,
 * with *cap set to it.  NULL when the allocation fails or its size would
 * overflow: then arr is left as it was, still owned by the caller, and *cap
 * is unchanged.  need 0 counts as 1, so the result of a success is never NULL.
 */
void *bch_reserve(void *arr, size_t *cap, size_t need, size_t elem, size_t first) BCH_WUR;

#endif
