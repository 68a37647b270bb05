/*
 * message.h - the Kafka message schema of Bouchon, version 1 (docs/STREAMING.md).
 *
 * Every value is one compact JSON object, UTF-8, with "v": 1 and a "type":
 *
 *   record    one ci_trafi_l record: its raw form (the raw layer's body, the
 *             geometry text, the position in the payload) and its normalized
 *             observation (ident, gid, state, mdate in UTC, attributes);
 *             key = the segment's ident, so one segment's records stay in
 *             order on one partition.
 *   end       end-of-payload marker, produced to EVERY partition after the
 *             payload's records: snapshot instant, record count.  The member
 *             that loads the last marker of a payload writes its complete
 *             snapshot (see pipeline/loader.h bch_loader_snapshot()).
 *   rejected  a record (or a whole payload) that could not be used, on the
 *             dead-letter topic, with the reason; also records whose message
 *             would exceed the size limit ("oversized").
 *
 * All carry "dataset" and "source" {kind, name, hash, format, fetched_at}:
 * hash is the XXH3-128 of the payload bytes (raw_source.content_hash), so a
 * payload replayed directly and one streamed share their raw_source row.
 * Instants are ISO-8601 UTC strings ("2025-12-18T08:50:50Z"); fetched_at has
 * milliseconds ("2025-12-18T08:51:02.123Z").
 *
 * A reader must refuse a "v" it does not know; fields may be added within a
 * version, so unknown fields are ignored.
 */
#ifndef BCH_KAFKA_MESSAGE_H
#define BCH_KAFKA_MESSAGE_H

#include "core/compat.h"

#include <jansson.h>

#include "core/buf.h"
#include "core/hash.h"
#include "model/trafi.h"

#define BCH_KMSG_VERSION 1

/* Header names (values are UTF-8 text). */
#define BCH_KHDR_TYPE     "bouchon-type"       /* record | end | rejected */
#define BCH_KHDR_DATASET  "bouchon-dataset"    /* ci_trafi_l */
#define BCH_KHDR_SOURCE   "bouchon-source"     /* path or URL of the payload */
#define BCH_KHDR_FETCHED  "bouchon-fetched-at" /* ISO-8601 UTC with ms */
#define BCH_KHDR_REASON   "bouchon-reason"     /* rejected: why */
#define BCH_KHDR_FIELD    "bouchon-field"      /* rejected: field, "" = whole record */
#define BCH_KHDR_POSITION "bouchon-position"   /* rejected: CSV line / record index */

enum bch_kmsg_type {
    BCH_KMSG_RECORD = 1,
    BCH_KMSG_END = 2,
    BCH_KMSG_REJECTED = 3,
};

/* Where a payload came from (encoding side: borrowed strings). */
struct bch_kmsg_source {
    const char *kind;    /* "file" or "api" */
    const char *name;    /* path, or URL without credentials */
    const char *dataset; /* "ci_trafi_l" */
    const char *hash;    /* 32 hex digits */
    const char *format;  /* "csv", "json", "records", "geojson", "v1", "unknown" */
    int64_t fetched_ms;  /* when the payload was read or fetched, ms since the epoch */
};

/* A coerced field of a record (the record is kept). */
struct bch_kmsg_problem {
    char field[32];
    char reason[192];
    char value[201];
};

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (buf >= 25 bytes). */
void bch_kmsg_format_ms(int64_t ms, char *buf, size_t len);

/* Parses an ISO-8601 instant with optional fraction into ms; 0 or -1. */
int bch_kmsg_parse_ms(const char *s, size_t len, int64_t *ms);

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool bch_kmsg_utf8_ok(const char *s, size_t len);

/*
 * Encoders: append one message to out (which the caller resets).  0, or -1
 * when out's maximum would be exceeded.  Record strings must be valid UTF-8
 * (check raw_body and geom_text with bch_kmsg_utf8_ok() first); the free
 * texts of problems and rejections are sanitized (bad bytes -> U+FFFD).
 */
int bch_kmsg_encode_record(struct bch_buf *out, const struct bch_kmsg_source *s,
                           const struct bch_trafi_record *r, const struct bch_kmsg_problem *pb,
                           size_t npb) BCH_WUR;
int bch_kmsg_encode_end(struct bch_buf *out, const struct bch_kmsg_source *s, bch_time snapshot_at,
                        long records, long rejected, int partition, int partitions) BCH_WUR;
/* raw (may be NULL): the record as received, cut to raw_max bytes;
 * size: the size of the record message that was refused (oversized), or 0. */
int bch_kmsg_encode_rejected(struct bch_buf *out, const struct bch_kmsg_source *s, long position,
                             const char *field, const char *reason, const char *value, size_t vlen,
                             const char *raw, size_t rawlen, size_t raw_max, size_t size) BCH_WUR;

/*
 * A decoded message.  String pointers point into root (owned), valid until
 * bch_kmsg_release().  For a record, rec holds every field except the
 * geometry: the caller resolves geo_shape (bch_reader_geometry) and fills
 * rec.geom*, and recomputes rec.record_hash from the body.
 */
struct bch_kmsg {
    enum bch_kmsg_type type;
    const char *dataset;
    struct {
        const char *kind, *name, *hash, *format;
        int64_t fetched_ms;
    } source;
    /* record */
    struct bch_trafi_record rec;
    const char *geo_shape; /* NULL when the record had no geometry */
    size_t geo_len;
    /* end */
    bch_time snapshot_at; /* BCH_TIME_NONE: no snapshot (file without records) */
    long records, rejected;
    int partition, partitions;
    json_t *root;
};

/* Decodes buf[0..len).  0, or BCH_ERR_INPUT with the reason in err (not
 * JSON, unknown version or type, missing or ill-typed field).  Call
 * bch_kmsg_release() in both cases. */
int bch_kmsg_decode(const void *buf, size_t len, struct bch_kmsg *m, char *err, size_t errlen);
void bch_kmsg_release(struct bch_kmsg *m);

#endif
