/*
 * producer.h - a librdkafka producer that reports delivery by batch.
 *
 * A batch groups the messages of one payload.  Its fate is known only from
 * delivery reports: when the batch is sealed and every message it holds was
 * reported (delivered, failed or rerouted), the done callback runs once,
 * with the counts, and the batch is freed.  Nothing is considered sent when
 * it is merely queued; a caller that checkpoints from the done callback
 * therefore never checkpoints what a crash could lose.
 *
 * Backpressure: a full local queue (QUEUE_FULL) makes bch_producer_send()
 * serve delivery reports and try again, for as long as it takes; it gives up
 * only when *stop becomes true (BCH_RETRY: the message was not queued).
 *
 * Lifecycle (kcat pattern): bch_producer_new() takes the conf (also on
 * failure); bch_producer_drain() flushes with a deadline, then purges what
 * is left and reports it; bch_producer_free() accepts NULL and half-built
 * producers.  Callbacks run on the thread that calls send/poll/drain.  Not
 * thread-safe: one thread drives a producer.
 */
#ifndef BCH_KAFKA_PRODUCER_H
#define BCH_KAFKA_PRODUCER_H

#include "core/compat.h"

#include <librdkafka/rdkafka.h>

struct bch_producer;
struct bch_pbatch;

struct bch_pbatch_result {
    const char *id;
    void *opaque;
    long sent;      /* messages queued in the batch */
    long delivered; /* acknowledged by the cluster */
    long failed;    /* reported failed (timed out, purged, refused) */
    long rerouted;  /* refused as too large, replaced by a dead-letter message */
    const char *first_error;
};

/* Called once per batch, after seal and the last delivery report. */
typedef void (*bch_pbatch_done_fn)(void *ctx, const struct bch_pbatch_result *r);

/*
 * Called for a message the cluster refused as too large: may send a
 * replacement (e.g. to a dead-letter topic) into the same batch with
 * bch_producer_send() and return 0; any other value counts the message as
 * failed.  Runs inside a delivery report: must not block.
 */
typedef int (*bch_producer_reroute_fn)(void *ctx, struct bch_producer *p, struct bch_pbatch *b,
                                       const rd_kafka_message_t *m);

struct bch_producer_options {
    bch_pbatch_done_fn done;
    bch_producer_reroute_fn reroute; /* NULL: too large = failed */
    void *ctx;
    volatile int *stop; /* NULL: never give up on a full queue */
};

struct bch_kheader {
    const char *name;
    const char *value; /* text */
};

/*
 * Creates the producer from conf (always taken).  Sets the delivery report,
 * error, log and statistics callbacks.  NULL with the reason in err.
 */
struct bch_producer *bch_producer_new(rd_kafka_conf_t *conf, const struct bch_producer_options *o,
                                      char *err, size_t errlen);
void bch_producer_free(struct bch_producer *p);

rd_kafka_t *bch_producer_rk(struct bch_producer *p);

/* A new, open batch; id is copied (used in messages); NULL if out of memory. */
struct bch_pbatch *bch_pbatch_new(struct bch_producer *p, const char *id, void *opaque);
/* No more messages: the done callback runs once all reports are in (maybe now). */
void bch_pbatch_seal(struct bch_producer *p, struct bch_pbatch *b);

/*
 * Queues one message (the bytes are copied).  partition is
 * RD_KAFKA_PARTITION_UA for the partitioner (by key).  Returns 0 when queued,
 * BCH_RETRY when *stop was set while the queue was full (not queued),
 * BCH_ERR_INPUT when librdkafka refused this message (too large: err says
 * why; other messages may go on), BCH_ERR on a producer error (unknown
 * topic or partition, fatal idempotence error).
 */
int bch_producer_send(struct bch_producer *p, struct bch_pbatch *b, const char *topic,
                      int32_t partition, const void *key, size_t klen, const void *value,
                      size_t vlen, const struct bch_kheader *h, size_t nh, char *err,
                      size_t errlen);

/* Serves delivery reports and callbacks for up to timeout_ms. */
void bch_producer_poll(struct bch_producer *p, int timeout_ms);

/* Messages queued and not yet reported. */
long bch_producer_inflight(const struct bch_producer *p);

/*
 * Waits up to timeout_ms for every queued message to be reported, then
 * purges the rest (reported as failed).  Returns the number of messages
 * that were not delivered during the drain (purged or failed).
 */
long bch_producer_drain(struct bch_producer *p, int timeout_ms);

/* True after a fatal error (idempotent producer state lost); err says why. */
bool bch_producer_fatal(struct bch_producer *p, char *err, size_t errlen);

struct bch_producer_counts {
    long sent, delivered, failed, rerouted, queue_full;
};
void bch_producer_counts(const struct bch_producer *p, struct bch_producer_counts *c);

/*
 * Metadata: the partition count of topic (all-topics request, so that no
 * broker auto-creates it).  >0, 0 if the topic does not exist, -1 on error
 * (reason in err).
 */
int bch_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                              size_t errlen);

/* librdkafka log and error callbacks routed to core/log.h (component "kafka"). */
void bch_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
