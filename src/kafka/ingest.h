/*
 * ingest.h - payloads (files or API polls) to Kafka messages, `bouchon ingest`.
 *
 * A payload is parsed with the reader (sources/trafi_reader.h) and becomes:
 *   - one "record" message per valid record on the raw topic, key = ident;
 *   - one "rejected" message per malformed record on the dead-letter topic,
 *     reason in the bouchon-reason header; also a record whose message would
 *     be larger than max_message_bytes (or that the cluster refuses as too
 *     large), and a payload that cannot be read at all;
 *   - one "end" marker on EVERY partition of the raw topic, after the
 *     payload's records (kafka/message.h).
 * All messages of a payload form one producer batch (kafka/producer.h).
 *
 * Checkpoint.  The payload's content hash is appended to the checkpoint file
 * only from the batch's done callback, when every one of its messages was
 * acknowledged by the cluster: a payload whose messages were merely queued
 * when the process died is ingested again at the next start (the loader is
 * idempotent, so doing it twice changes nothing).  A payload with any
 * undelivered message is never checkpointed.
 *
 * Spool (live polling).  A polled payload cannot be fetched again, so with
 * spool on it is first written to <checkpoint>.spool/<hash>; the file is
 * removed when the payload is checkpointed, and bch_ingest_spooled() plays
 * what an earlier run left there.
 */
#ifndef BCH_KAFKA_INGEST_H
#define BCH_KAFKA_INGEST_H

#include "core/compat.h"

#include <librdkafka/rdkafka.h>

#include "pipeline/loader.h"

struct bch_ingest_options {
    const char *topic;        /* raw topic, e.g. bouchon.raw.ci_trafi_l */
    const char *dlq_topic;    /* dead-letter topic, e.g. bouchon.dlq */
    size_t max_message_bytes; /* larger record messages go to the DLQ */
    size_t dlq_raw_max;       /* bytes of the raw record kept in a DLQ message */
    const char *checkpoint;   /* checkpoint file, NULL: none */
    bool spool;               /* keep polled payloads until delivered */
    volatile int *stop;       /* set by signals: give up a blocked send */
};

void bch_ingest_options_default(struct bch_ingest_options *o);

struct bch_ingest_stats {
    long payloads;    /* given to bch_ingest_payload() and produced */
    long skipped;     /* already in the checkpoint */
    long done;        /* every message delivered (checkpointed) */
    long failed;      /* some message not delivered */
    long records;     /* record messages queued */
    long rejected;    /* dead-letter messages queued (malformed, oversized) */
    long oversized;   /* of which too large */
    long messages;    /* all messages queued, markers included */
    long undelivered; /* messages reported failed or purged */
};

struct bch_ingest;

/* Takes conf.  Reads the checkpoint and the partition count of the raw topic
 * (which must exist).  NULL with the reason in err. */
struct bch_ingest *bch_ingest_new(rd_kafka_conf_t *conf, const struct bch_ingest_options *o,
                                  char *err, size_t errlen);
void bch_ingest_free(struct bch_ingest *g);

/* True when the payload with this content hash was checkpointed. */
bool bch_ingest_checkpointed(const struct bch_ingest *g, const char *hash);

/*
 * Produces one payload (meta->kind "file" or "api"; fetched_ms: when it was
 * read or fetched).  Returns 0 when its messages are queued (delivery comes
 * later, through polls), 1 when it was skipped (checkpointed before),
 * BCH_RETRY when stopped part-way (what was queued is still delivered, the
 * payload is not checkpointed), BCH_ERR on a producer failure (err).
 */
int bch_ingest_payload(struct bch_ingest *g, const char *buf, size_t len,
                       const struct bch_payload_meta *meta, int64_t fetched_ms, char *err,
                       size_t errlen);

/* Plays the payloads an earlier run left in the spool.  Same returns. */
int bch_ingest_spooled(struct bch_ingest *g, char *err, size_t errlen);

/* Serves delivery reports for up to timeout_ms. */
void bch_ingest_poll(struct bch_ingest *g, int timeout_ms);

/* Payloads produced and not yet fully reported. */
long bch_ingest_pending(const struct bch_ingest *g);

/*
 * Waits up to timeout_ms for the outstanding deliveries, purges the rest and
 * fills st.  Returns the number of payloads that are not fully delivered
 * (failed, purged or cut short).
 */
long bch_ingest_finish(struct bch_ingest *g, int timeout_ms, struct bch_ingest_stats *st);

/* Current counters. */
void bch_ingest_get_stats(const struct bch_ingest *g, struct bch_ingest_stats *st);

/* Milliseconds since the epoch, wall clock. */
int64_t bch_ingest_now_ms(void);

#endif
