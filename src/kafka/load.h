/*
 * load.h - Kafka consumer group member writing the warehouse, `bouchon load`.
 *
 * Exactly-once effect.  Messages are applied in batches, one SQLite
 * transaction each: the rows (through pipeline/loader.h's record-level API)
 * and, for every partition the batch read, kafka_offset.next_offset
 * (schema_v3.sql) commit together.  On start and on every partition
 * assignment the member reads those offsets and starts each partition there
 * (from its beginning when the warehouse has no row); the offsets librdkafka
 * keeps in the group are written afterwards, for lag monitoring only, and
 * never read.  Rows are idempotent on (segment, mdate) anyway, so a
 * duplicate delivery changes nothing either.
 *
 * Several members share the partitions of the topic and the one warehouse
 * (SQLite serializes their transactions).  Fencing: a member remembers the
 * next_offset it last saw in the warehouse for each partition it owns; if
 * another member has moved it when the batch commits (this one was kicked
 * out of the group without noticing), the batch is rolled back, the
 * registry reloaded and the partitions restarted from the warehouse.
 *
 * Detection state.  The loader keeps per-segment tracks in memory, rebuilt
 * from the warehouse: on start, on every assignment (a partition that comes
 * from another member brings segments whose tracks that member advanced) and
 * when the segment table changed under it (new segments of other members'
 * partitions, needed by snapshots and queues).
 *
 * Snapshots.  An "end" marker of a payload makes the batch write the
 * snapshot of its instant (bch_loader_snapshot) before committing; the
 * member whose batch commits the payload's last marker sees every record of
 * the payload, since each partition's records precede its marker.
 */
#ifndef BCH_KAFKA_LOAD_H
#define BCH_KAFKA_LOAD_H

#include "core/compat.h"

#include <librdkafka/rdkafka.h>

#include "pipeline/loader.h"

struct bch_load_options {
    const char *topic;       /* raw topic */
    const char *group;       /* consumer group id (also the kafka_offset key) */
    int batch_max;           /* messages per transaction */
    int batch_ms;            /* longest a transaction stays open (it commits
                              * earlier when the stream pauses for 10 ms) */
    const char *latency_log; /* file: "fetched_ms commit_ms partition offset" per record */
    struct bch_loader_options loader;
    volatile int *stop;
    /* After each commit that wrote snapshots (e.g. wake HTTP clients). */
    void (*on_snapshot)(void *ctx, bch_time at);
    void *ctx;
};

void bch_load_options_default(struct bch_load_options *o);

struct bch_load_stats {
    long messages, records, markers, invalid;
    long observations; /* new observations stored */
    long batches, rollbacks, assignments, revocations, snapshots;
};

/*
 * Runs the member until *stop: conf (taken) must hold bootstrap.servers;
 * group.id is set from o->group.  Returns 0 after a clean stop, or a
 * negative bch_err (BCH_ERR_DB on a warehouse failure, BCH_ERR on a Kafka
 * failure) with the reason in err.
 */
int bch_load_run(rd_kafka_conf_t *conf, const char *dbpath, const struct bch_load_options *o,
                 struct bch_load_stats *st, char *err, size_t errlen);

#endif
