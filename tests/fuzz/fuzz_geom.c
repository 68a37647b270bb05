/*
 * fuzz_geom.c - GeoJSON geometries (core/geo.c) from arbitrary text.
 *
 * An accepted geometry must be well formed (parts cover the vertices in
 * order, coordinates finite and in WGS84 range), have a finite length, and
 * its normalized text must parse back to the same shape with coordinates
 * within the precision of that text, and normalize to the same text again.
 */
#include "core/compat.h"

#include <math.h>

#include "core/geo.h"
#include "fuzz.h"

static void check_shape(const struct bch_geom *g)
{
    FUZZ_CHECK(g->type >= BCH_GEOM_POINT && g->type <= BCH_GEOM_MULTILINESTRING);
    FUZZ_CHECK(g->nparts >= 1 && g->part_start);
    FUZZ_CHECK(g->part_start[0] == 0 && g->part_start[g->nparts] == g->nvert);
    for (size_t p = 0; p < g->nparts; p++) {
        FUZZ_CHECK(g->part_start[p] <= g->part_start[p + 1]);
        if (g->type == BCH_GEOM_LINESTRING || g->type == BCH_GEOM_MULTILINESTRING) {
            FUZZ_CHECK(g->part_start[p + 1] - g->part_start[p] >= 2);
        }
    }
    if (g->type == BCH_GEOM_POINT) {
        FUZZ_CHECK(g->nvert == 1);
    }
    FUZZ_CHECK(g->nvert <= BCH_GEOM_MAX_VERTICES);
    for (size_t i = 0; i < g->nvert; i++) {
        FUZZ_CHECK(isfinite(g->lon[i]) && g->lon[i] >= -180 && g->lon[i] <= 180);
        FUZZ_CHECK(isfinite(g->lat[i]) && g->lat[i] >= -90 && g->lat[i] <= 90);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bch_geom g, back;
    char err[128];
    char *txt, *again;
    double len, len2;

    err[0] = '\0';
    if (bch_geom_parse(&g, (const char *)data, size, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(g.nvert == 0 && g.lon == NULL && g.part_start == NULL);
        bch_geom_release(&g);
        return 0;
    }
    check_shape(&g);
    len = bch_geom_length_m(&g);
    FUZZ_CHECK(isfinite(len) && len >= 0);
    FUZZ_CHECK(len <= (double)(g.nvert ? g.nvert : 1) * M_PI * BCH_EARTH_RADIUS_M);
    txt = bch_geom_to_json(&g);
    FUZZ_CHECK(txt != NULL);
    FUZZ_CHECK(bch_geom_parse(&back, txt, strlen(txt), err, sizeof(err)) == 0);
    check_shape(&back);
    FUZZ_CHECK(back.type == g.type && back.nparts == g.nparts && back.nvert == g.nvert);
    for (size_t p = 0; p <= g.nparts; p++) {
        FUZZ_CHECK(back.part_start[p] == g.part_start[p]);
    }
    for (size_t i = 0; i < g.nvert; i++) {
        /* 10 significant digits: 5e-8 degree at worst (180.xxxxxxx) */
        FUZZ_CHECK(fabs(back.lon[i] - g.lon[i]) <= 1e-7);
        FUZZ_CHECK(fabs(back.lat[i] - g.lat[i]) <= 1e-7);
    }
    len2 = bch_geom_length_m(&back);
    FUZZ_CHECK(fabs(len2 - len) <= 0.05 * (double)g.nvert + 1e-6);
    again = bch_geom_to_json(&back);
    FUZZ_CHECK(again != NULL && strcmp(again, txt) == 0);
    free(again);
    free(txt);
    bch_geom_release(&back);
    bch_geom_release(&g);
    return 0;
}
