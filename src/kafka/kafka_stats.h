/*
 * kafka_stats.h - librdkafka statistics and delivery latencies as /metrics.
 *
 * With statistics.interval.ms > 0, librdkafka hands a JSON document to the
 * stats callback at that interval (on the thread that polls the handle).
 * bch_kafka_stats_apply() parses it with jansson and sets these gauges in
 * the process-wide registry (core/metrics.h):
 *
 *   bouchon_kafka_broker_up{broker}              1 if the connection is UP, else 0
 *   bouchon_kafka_broker_state{broker,state}     1 for the current state
 *   bouchon_kafka_broker_rtt_seconds{broker,quantile}   request round trip, p50/p99
 *   bouchon_kafka_producer_queue_messages        messages waiting in the producer queues
 *   bouchon_kafka_producer_queue_bytes           their size
 *   bouchon_kafka_consumer_lag{topic,partition}  high watermark - committed offset
 *   bouchon_kafka_tx_messages_total / rx_messages_total   messages sent / received
 *
 * Brokers are named "host:port/id"; bootstrap-only entries (id -1) are left out.
 */
#ifndef BCH_KAFKA_STATS_H
#define BCH_KAFKA_STATS_H

#include "core/compat.h"

#include <librdkafka/rdkafka.h>

/* Creates the families above (idempotent). */
void bch_kafka_stats_init(void);

/* Applies one statistics document.  0, or -1 if it is not the expected JSON. */
int bch_kafka_stats_apply(const char *json, size_t len);

/* librdkafka stats_cb signature: applies the document and lets librdkafka
 * free it (returns 0). */
int bch_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* Buckets (seconds) shared by the latency histograms of ingest and load. */
extern const double bch_kafka_latency_buckets[];
extern const size_t bch_kafka_latency_nbuckets;

#endif
