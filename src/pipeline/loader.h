/*
 * loader.h - from parsed ci_trafi_l records to every warehouse layer.
 *
 * The loader owns the write side of the warehouse: raw payloads and
 * records, segments and their gids, observations, state intervals, jam
 * episodes, hourly coverage, snapshots (network KPIs and feed health) and
 * queues.  It keeps an in-memory registry of segments with their detection
 * track (analytics/track.h); on start the registry is rebuilt from the
 * warehouse, so a restarted process resumes exactly where the data stands.
 *
 * Loading is idempotent: a payload whose bytes were already loaded is
 * skipped, raw records are content-addressed and observations are unique on
 * (segment, mdate), so loading the same input again changes nothing.  An
 * observation older than what a segment has already seen triggers a rebuild
 * of that segment's derived rows from all of its observations, so the
 * result does not depend on the order in which inputs arrive.
 *
 * Writes happen inside bch_loader_begin() / bch_loader_commit(); one
 * transaction may hold several payloads (replay batches them for speed).
 * A loader is not thread-safe; one writer per warehouse.
 */
#ifndef BCH_LOADER_H
#define BCH_LOADER_H

#include "core/compat.h"

#include <sqlite3.h>

#include "analytics/track.h"
#include "core/timeutil.h"
#include "model/trafi.h"
#include "sources/trafi_reader.h"

struct bch_loader_options {
    struct bch_track_params track; /* stale limit and jam hysteresis */
    double queue_tol_m;            /* touching tolerance for queues */
};

void bch_loader_options_default(struct bch_loader_options *o);

/* Where a payload comes from. */
struct bch_payload_meta {
    const char *kind;    /* "file" or "api" */
    const char *name;    /* path, or URL without credentials */
    const char *dataset; /* "ci_trafi_l" */
    /* API polls: the fetch time, which is also the snapshot instant.
     * Files: BCH_TIME_NONE; the snapshot instant is the newest mdate. */
    bch_time fetched_at;
};

/* What one payload did. */
struct bch_load_result {
    enum bch_format format;
    bool skipped;         /* these exact bytes were loaded before: nothing done */
    long records;         /* valid records read */
    long rejected;        /* records rejected (incl. conflicting duplicates) */
    long coerced;         /* records kept with a coerced field */
    long observations;    /* new observations stored */
    long state_changes;   /* new state transitions */
    bch_time snapshot_at; /* BCH_TIME_NONE if the payload had no record */
    const char *flag;     /* NULL, "empty" or "all_unknown" */
    int states[BCH_STATE_COUNT];
    double known_km, congested_km, dense_km;
    long stale;
    long queues;
    double longest_queue_m;
    long active_jams; /* ongoing episodes after this payload */
};

struct bch_loader;

/* Loads the registry from db.  NULL with the reason in err on failure. */
struct bch_loader *bch_loader_new(sqlite3 *db, const struct bch_loader_options *opt, char *err,
                                  size_t errlen);
void bch_loader_free(struct bch_loader *l);

int bch_loader_begin(struct bch_loader *l) BCH_WUR;
/* Flushes pending hourly rows and commits.  BCH_ERR_DB on failure. */
int bch_loader_commit(struct bch_loader *l) BCH_WUR;
/* Abandons the transaction and reloads the registry from the warehouse. */
int bch_loader_rollback(struct bch_loader *l);

/*
 * Parses and stores one payload (must be inside begin/commit).  Returns 0
 * when the payload was read (res says how many records were rejected),
 * BCH_ERR_INPUT when it could not be read at all (recorded in the rejected
 * table, reason in err), BCH_ERR_DB on a warehouse failure (the caller
 * should roll back).
 */
int bch_loader_load(struct bch_loader *l, const char *buf, size_t len,
                    const struct bch_payload_meta *meta, struct bch_load_result *res, char *err,
                    size_t errlen);

/* ------------------------------------------------------------------------
 * Record-level loading, for `bouchon load` (Kafka): records of several
 * payloads arrive one by one, interleaved, on several partitions.
 */

/* Finds or creates the raw_source row of a payload known by its content hash. */
int bch_loader_source(struct bch_loader *l, const struct bch_payload_meta *meta, const char *format,
                      const char *content_hash, int64_t *source_id);

/*
 * Stores one record of source_id (inside begin/commit), like a record of
 * bch_loader_load().  res accumulates counts.  Segments that received an
 * older observation are rebuilt at bch_loader_commit().
 */
int bch_loader_add_record(struct bch_loader *l, int64_t source_id, const char *source_name,
                          bch_time fetched_at, const struct bch_trafi_record *r,
                          struct bch_load_result *res);

/*
 * Writes the snapshot row and queues of instant at from the warehouse:
 * each segment's latest observation at or before at.  Idempotent: a later
 * call for the same at replaces the row (so the last loader member to see
 * a payload's end marker writes the complete snapshot).
 */
int bch_loader_snapshot(struct bch_loader *l, int64_t source_id, bch_time at,
                        struct bch_load_result *res);

/* The loader's reader (its geometry cache), to build records from messages. */
struct bch_reader *bch_loader_reader(struct bch_loader *l);

/* The warehouse connection, to write extra rows (e.g. Kafka offsets) in the
 * loader's transaction. */
sqlite3 *bch_loader_db(struct bch_loader *l);

#endif
