/*
 * geo.h - WGS84 geometries of road segments and their lengths.
 *
 * A geometry is a list of parts (one for LineString and Point, several for
 * Multi*), each a run of (lon, lat) vertices.  Lengths follow
 * docs/CONGESTION_METRICS.md: great-circle (haversine) distance on a sphere of
 * radius 6371008.8 m, summed over consecutive vertices of each part.
 */
#ifndef BCH_GEO_H
#define BCH_GEO_H

#include "core/compat.h"

#include <jansson.h>

#define BCH_EARTH_RADIUS_M    6371008.8
#define BCH_GEOM_MAX_VERTICES 100000

enum bch_geom_type {
    BCH_GEOM_NONE = 0,
    BCH_GEOM_POINT,
    BCH_GEOM_LINESTRING,
    BCH_GEOM_MULTIPOINT,
    BCH_GEOM_MULTILINESTRING,
};

struct bch_geom {
    enum bch_geom_type type;
    size_t nparts;
    size_t *part_start; /* nparts + 1 offsets into the vertex arrays */
    size_t nvert;
    double *lon;
    double *lat;
};

/* Distance in metres between two WGS84 points (haversine). */
double bch_geo_distance_m(double lon1, double lat1, double lon2, double lat2);

/* Sum of the great-circle lengths of every part; 0 for points. */
double bch_geom_length_m(const struct bch_geom *g);

/*
 * Fills g from a GeoJSON geometry object ({"type", "coordinates"}), or from a
 * Feature wrapping one.  Coordinates must be finite, lon in [-180, 180], lat
 * in [-90, 90].  Returns 0, or -1 with the reason in err; g is then empty.
 * The caller releases g with bch_geom_release().
 */
int bch_geom_from_json(struct bch_geom *g, const json_t *obj, char *err, size_t errlen);

/* Same, from GeoJSON text. */
int bch_geom_parse(struct bch_geom *g, const char *text, size_t len, char *err, size_t errlen);

/* Name of the GeoJSON type ("LineString", ...), or "" for NONE. */
const char *bch_geom_type_name(enum bch_geom_type t);

/*
 * Writes g as compact GeoJSON geometry text into a malloc'ed string that the
 * caller frees.  Returns NULL on allocation failure.
 */
char *bch_geom_to_json(const struct bch_geom *g);

void bch_geom_release(struct bch_geom *g);

#endif
