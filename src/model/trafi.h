/*
 * trafi.h - the ci_trafi_l data model shared by sources, warehouse and
 * analytics: segment states and the normalized record.
 */
#ifndef BCH_TRAFI_H
#define BCH_TRAFI_H

#include "core/compat.h"
#include "core/geo.h"
#include "core/timeutil.h"

/* State codes, ordered by severity; also the integer stored in the warehouse. */
enum bch_state {
    BCH_STATE_INCONNU = 0,
    BCH_STATE_FLUIDE = 1,
    BCH_STATE_DENSE = 2,
    BCH_STATE_EMBOUTEILLE = 3,
    BCH_STATE_PARALYSE = 4,
};
#define BCH_STATE_COUNT 5

/* Congested = EMBOUTEILLE or PARALYSE (docs/CONGESTION_METRICS.md). */
static inline bool bch_state_congested(int s)
{
    return s == BCH_STATE_EMBOUTEILLE || s == BCH_STATE_PARALYSE;
}

/* A state is "known" unless INCONNU; staleness is judged separately. */
static inline bool bch_state_known(int s)
{
    return s != BCH_STATE_INCONNU;
}

/* "FLUIDE", ...; "INCONNU" for out-of-range codes. */
const char *bch_state_name(int state);

/*
 * Maps a feed value to a state: exact upper-case names, also accepted in
 * lower case and with the accented spelling EMBOUTEILLÉ / PARALYSÉ.  Returns
 * -1 for any other value (the caller decides: Bouchon stores it as INCONNU
 * and records the coercion).
 */
int bch_state_parse(const char *s, size_t len);

#define BCH_IDENT_MAX    48
#define BCH_TEXT_MAX     96
#define BCH_HASH_HEX_LEN 32 /* XXH3-128 as hex */

/*
 * One ci_trafi_l record after parsing and validation, whatever the input
 * format.  Strings are NUL-terminated copies; geom and the text pointers are
 * borrowed from the reader and valid only during the sink callback.
 */
struct bch_trafi_record {
    long position; /* CSV line, or 1-based record index in a JSON payload */
    int64_t gid;
    char ident[BCH_IDENT_MAX];
    char typevoie[BCH_TEXT_MAX];
    char commune[BCH_TEXT_MAX];
    char code_commune[16];
    char origine[BCH_TEXT_MAX];
    int state;      /* enum bch_state */
    bch_time mdate; /* UTC */
    bch_time cdate; /* UTC, BCH_TIME_NONE when absent */

    /* Geometry, NULL/"" when the record has none (or an invalid one). */
    const struct bch_geom *geom;
    double length_m;
    const char *geom_text; /* as received (GeoJSON text), for the raw layer */
    size_t geom_len;
    char geom_hash[BCH_HASH_HEX_LEN + 1]; /* hash of geom_text */
    const char *geom_norm;                /* normalized GeoJSON geometry, for segment */
    char geom_norm_hash[BCH_HASH_HEX_LEN + 1];

    const char *raw_body; /* record as received, JSON object, geo_shape factored out */
    size_t raw_len;
    char record_hash[BCH_HASH_HEX_LEN + 1];
};

#endif
