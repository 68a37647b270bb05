/*
 * trafi_reader.h - reads ci_trafi_l payloads in every Opendatasoft format.
 *
 * One entry point takes a whole payload (file or HTTP body), detects its
 * format and calls the sink once per valid record and once per problem:
 *   csv      ';' or ',' export, with or without BOM, LF or CRLF, field names
 *            or labels in the header, geo_shape as quoted JSON, geo_point_2d
 *            "lat,lon" or "lat, lon"
 *   json     exports/json: a bare array of flat records
 *   records  records API v2.1 page {"total_count", "results": [...]}
 *   geojson  FeatureCollection (exports/geojson, legacy /geojson service)
 *   v1       v1 export [{"datasetid", "fields": {...}, "geometry"}] or v1
 *            records {"nhits", "records": [...]}
 * See docs/DATA_FORMATS.md of the shared folder for the evidence.
 *
 * Raw bodies (bch_trafi_record.raw_body): a CSV record is its line as
 * received with the geo_shape cell replaced by "$geom:<hash>"; a JSON record
 * is the compact JSON of its object with the geometry replaced by
 * {"$geom": "<hash>"}.  The hash names the geometry text (raw_geometry).
 *
 * Error discipline: a bad record never stops the payload; it is reported
 * through sink->problem with its position (CSV line or 1-based record
 * index), the field and the reason, and the records around it still reach
 * sink->record.  Only a payload that cannot be read at all (not JSON, not a
 * CSV with a usable header) fails the call.
 */
#ifndef BCH_TRAFI_READER_H
#define BCH_TRAFI_READER_H

#include "core/compat.h"
#include "model/trafi.h"

enum bch_format {
    BCH_FMT_UNKNOWN = 0,
    BCH_FMT_CSV,
    BCH_FMT_JSON,
    BCH_FMT_RECORDS,
    BCH_FMT_GEOJSON,
    BCH_FMT_V1,
};

const char *bch_format_name(enum bch_format f);

struct bch_problem {
    long position;     /* 0 = the payload as a whole */
    const char *field; /* "" for the whole record */
    const char *reason;
    const char *value; /* offending value or NULL */
    size_t value_len;
    bool coerced; /* true: record kept with a default (e.g. unknown etat -> INCONNU) */
};

struct bch_reader_sink {
    void *ctx;
    /* A valid record.  Return 0 to go on, negative to abort the payload. */
    int (*record)(void *ctx, const struct bch_trafi_record *rec);
    /* A rejected record or a coerced field.  Return 0 to go on. */
    int (*problem)(void *ctx, const struct bch_problem *pb);
};

struct bch_parse_result {
    enum bch_format format;
    long records;          /* passed to sink->record */
    long rejected;         /* records not passed */
    long coerced;          /* problems with coerced = true */
    long total_count;      /* total_count / nhits announced by the payload, -1 if none */
    bch_time newest_mdate; /* BCH_TIME_NONE if no record */
    const char *header;    /* CSV: the header line, pointing into the payload */
    size_t header_len;
};

/* Reader state that outlives one payload: the parsed-geometry cache. */
struct bch_reader;

struct bch_reader *bch_reader_new(void);
void bch_reader_free(struct bch_reader *r);

/*
 * The cached, parsed form of one geometry text (GeoJSON geometry or a
 * Feature wrapping one), for callers that receive records already split
 * (bouchon load).  Pointers stay valid until the next call on r.
 */
struct bch_geom_info {
    const struct bch_geom *geom; /* NULL when invalid */
    const char *norm;            /* normalized GeoJSON */
    const char *norm_hash;
    const char *raw_hash; /* hash of text as given */
    double length_m;
    const char *error; /* why it is invalid */
};

/* 0 and info filled; -1 when the geometry is invalid (info->error says why);
 * BCH_ERR_NOMEM. */
int bch_reader_geometry(struct bch_reader *r, const char *text, size_t len,
                        struct bch_geom_info *info);

/*
 * Parses buf[0..len).  Returns 0 when the payload was read (even if some
 * records were rejected), BCH_ERR_INPUT when it could not be read at all
 * (reason in err, with line/column where known), or the negative value a
 * sink callback returned.
 */
int bch_reader_parse(struct bch_reader *r, const char *buf, size_t len,
                     const struct bch_reader_sink *sink, struct bch_parse_result *res, char *err,
                     size_t errlen);

#endif
