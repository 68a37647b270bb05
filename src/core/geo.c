#include "core/compat.h"

#include <math.h>

#include "core/geo.h"
#include "core/grow.h"

static double rad(double deg)
{
    return deg * (M_PI / 180.0);
}

double bch_geo_distance_m(double lon1, double lat1, double lon2, double lat2)
{
    double p1 = rad(lat1), p2 = rad(lat2);
    double dp = p2 - p1, dl = rad(lon2 - lon1);
    double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);

    if (h > 1.0) {
        h = 1.0;
    }
    return 2.0 * BCH_EARTH_RADIUS_M * asin(sqrt(h));
}

double bch_geom_length_m(const struct bch_geom *g)
{
    double total = 0;

    if (g->type != BCH_GEOM_LINESTRING && g->type != BCH_GEOM_MULTILINESTRING) {
        return 0;
    }
    for (size_t p = 0; p < g->nparts; p++) {
        for (size_t i = g->part_start[p] + 1; i < g->part_start[p + 1]; i++) {
            total += bch_geo_distance_m(g->lon[i - 1], g->lat[i - 1], g->lon[i], g->lat[i]);
        }
    }
    return total;
}

const char *bch_geom_type_name(enum bch_geom_type t)
{
    switch (t) {
    case BCH_GEOM_POINT:
        return "Point";
    case BCH_GEOM_LINESTRING:
        return "LineString";
    case BCH_GEOM_MULTIPOINT:
        return "MultiPoint";
    case BCH_GEOM_MULTILINESTRING:
        return "MultiLineString";
    default:
        return "";
    }
}

void bch_geom_release(struct bch_geom *g)
{
    free(g->part_start);
    free(g->lon);
    free(g->lat);
    memset(g, 0, sizeof(*g));
}

static int geo_fail(struct bch_geom *g, char *err, size_t errlen, const char *why)
{
    bch_geom_release(g);
    if (err && errlen) {
        snprintf(err, errlen, "%s", why);
    }
    return -1;
}

/* Appends one [lon, lat] position. */
static int add_position(struct bch_geom *g, const json_t *pos, size_t *cap, const char **why)
{
    json_t *x, *y;
    double lon, lat;

    if (!json_is_array(pos) || json_array_size(pos) < 2) {
        *why = "a position is not an array of two numbers";
        return -1;
    }
    x = json_array_get(pos, 0);
    y = json_array_get(pos, 1);
    if (!json_is_number(x) || !json_is_number(y)) {
        *why = "a coordinate is not a number";
        return -1;
    }
    lon = json_number_value(x);
    lat = json_number_value(y);
    if (!isfinite(lon) || !isfinite(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90) {
        *why = "a coordinate is out of WGS84 range";
        return -1;
    }
    if (g->nvert >= BCH_GEOM_MAX_VERTICES) {
        *why = "too many vertices";
        return -1;
    }
    if (g->nvert == *cap) {
        /* lon and lat share *cap: it moves once both have grown */
        size_t cap_lon = *cap, cap_lat = *cap;
        double *nlon = bch_reserve(g->lon, &cap_lon, g->nvert + 1, sizeof(double), 16);

        if (nlon) {
            g->lon = nlon;
        }
        double *nlat =
            nlon ? bch_reserve(g->lat, &cap_lat, g->nvert + 1, sizeof(double), 16) : NULL;
        if (!nlat) {
            *why = "out of memory";
            return -1;
        }
        g->lat = nlat;
        *cap = cap_lon < cap_lat ? cap_lon : cap_lat;
    }
    g->lon[g->nvert] = lon;
    g->lat[g->nvert] = lat;
    g->nvert++;
    return 0;
}

static int end_part(struct bch_geom *g, size_t *pcap, const char **why)
{
    if (g->nparts + 2 > *pcap) {
        size_t *n = bch_reserve(g->part_start, pcap, g->nparts + 2, sizeof(size_t), 4);

        if (!n) {
            *why = "out of memory";
            return -1;
        }
        if (!g->part_start) {
            n[0] = 0;
        }
        g->part_start = n;
    }
    g->nparts++;
    g->part_start[g->nparts] = g->nvert;
    return 0;
}

int bch_geom_from_json(struct bch_geom *g, const json_t *obj, char *err, size_t errlen)
{
    const char *type, *why = NULL;
    const json_t *coords;
    size_t vcap = 0, pcap = 0;

    memset(g, 0, sizeof(*g));
    if (!json_is_object(obj)) {
        return geo_fail(g, err, errlen, "geometry is not an object");
    }
    type = json_string_value(json_object_get(obj, "type"));
    if (type && strcmp(type, "Feature") == 0) {
        obj = json_object_get(obj, "geometry");
        if (!json_is_object(obj)) {
            return geo_fail(g, err, errlen, "Feature without a geometry object");
        }
        type = json_string_value(json_object_get(obj, "type"));
    }
    if (!type) {
        return geo_fail(g, err, errlen, "geometry has no \"type\"");
    }
    coords = json_object_get(obj, "coordinates");
    if (!json_is_array(coords)) {
        return geo_fail(g, err, errlen, "geometry has no \"coordinates\" array");
    }
    if (strcmp(type, "Point") == 0) {
        g->type = BCH_GEOM_POINT;
        if (add_position(g, coords, &vcap, &why) || end_part(g, &pcap, &why)) {
            return geo_fail(g, err, errlen, why);
        }
    } else if (strcmp(type, "LineString") == 0 || strcmp(type, "MultiPoint") == 0) {
        g->type = type[0] == 'L' ? BCH_GEOM_LINESTRING : BCH_GEOM_MULTIPOINT;
        for (size_t i = 0; i < json_array_size(coords); i++) {
            if (add_position(g, json_array_get(coords, i), &vcap, &why)) {
                return geo_fail(g, err, errlen, why);
            }
        }
        if (end_part(g, &pcap, &why)) {
            return geo_fail(g, err, errlen, why);
        }
        if (g->type == BCH_GEOM_LINESTRING && g->nvert < 2) {
            return geo_fail(g, err, errlen, "LineString with fewer than two positions");
        }
    } else if (strcmp(type, "MultiLineString") == 0) {
        g->type = BCH_GEOM_MULTILINESTRING;
        for (size_t p = 0; p < json_array_size(coords); p++) {
            const json_t *line = json_array_get(coords, p);
            size_t before = g->nvert;

            if (!json_is_array(line)) {
                return geo_fail(g, err, errlen, "MultiLineString part is not an array");
            }
            for (size_t i = 0; i < json_array_size(line); i++) {
                if (add_position(g, json_array_get(line, i), &vcap, &why)) {
                    return geo_fail(g, err, errlen, why);
                }
            }
            if (g->nvert - before < 2) {
                return geo_fail(g, err, errlen,
                                "MultiLineString part with fewer than two positions");
            }
            if (end_part(g, &pcap, &why)) {
                return geo_fail(g, err, errlen, why);
            }
        }
        if (g->nparts == 0) {
            return geo_fail(g, err, errlen, "empty MultiLineString");
        }
    } else {
        return geo_fail(g, err, errlen, "unsupported geometry type");
    }
    return 0;
}

int bch_geom_parse(struct bch_geom *g, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;

    memset(g, 0, sizeof(*g));
    if (!root) {
        if (err && errlen) {
            snprintf(err, errlen, "geometry is not valid JSON: %s (column %d)", jerr.text,
                     jerr.column);
        }
        return -1;
    }
    rc = bch_geom_from_json(g, root, err, errlen);
    json_decref(root);
    return rc;
}

/* Appends "[lon,lat]" with 15 significant digits: exact for every coordinate the feeds
 * publish (at most 6 decimals in geometries), without the noise of %.17g. */
static int put_pos(char *buf, size_t cap, size_t *n, double lon, double lat)
{
    int w;

    /* -0 would print as "-0", which reads back as 0: one spelling only. */
    lon = lon == 0 ? 0 : lon;
    lat = lat == 0 ? 0 : lat;
    w = snprintf(buf + *n, cap - *n, "[%.15g,%.15g]", lon, lat);

    if (w < 0 || (size_t)w >= cap - *n) {
        return -1;
    }
    *n += (size_t)w;
    return 0;
}

char *bch_geom_to_json(const struct bch_geom *g)
{
    size_t cap = 64 + g->nvert * 48 + g->nparts * 4;
    size_t n = 0;
    char *buf = malloc(cap);
    bool multi = g->type == BCH_GEOM_MULTILINESTRING;
    int w;

    if (!buf) {
        return NULL;
    }
    w = snprintf(buf, cap, "{\"type\":\"%s\",\"coordinates\":", bch_geom_type_name(g->type));
    n = (size_t)w;
    if (g->type != BCH_GEOM_POINT) {
        buf[n++] = '[';
    }
    for (size_t p = 0; p < g->nparts; p++) {
        if (multi) {
            if (p > 0) {
                buf[n++] = ',';
            }
            buf[n++] = '[';
        }
        for (size_t i = g->part_start[p]; i < g->part_start[p + 1]; i++) {
            if (i > g->part_start[p]) {
                buf[n++] = ',';
            }
            if (put_pos(buf, cap, &n, g->lon[i], g->lat[i])) {
                free(buf);
                return NULL;
            }
        }
        if (multi) {
            buf[n++] = ']';
        }
    }
    if (g->type != BCH_GEOM_POINT) {
        buf[n++] = ']';
    }
    buf[n++] = '}';
    buf[n] = '\0';
    return buf;
}
