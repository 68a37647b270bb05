/*
 * admin.h - topic creation and description with the librdkafka Admin API
 * (`bouchon topics`).
 *
 * create: rd_kafka_CreateTopics with a partition count, a replication factor
 * and topic configs (min.insync.replicas, ...); a topic that already exists
 * is reported as such, not as an error.
 * describe: cluster metadata (leader, replicas, ISR of each partition),
 * rd_kafka_DescribeConfigs (every topic config with its source) and the
 * low/high watermark of each partition.
 */
#ifndef BCH_KAFKA_ADMIN_H
#define BCH_KAFKA_ADMIN_H

#include "core/compat.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>

struct bch_topic_spec {
    const char *name;
    int partitions;
    int replication;
    const char *const *configs; /* "name=value" strings */
    size_t nconfigs;
};

/* Outcome of one topic creation. */
enum bch_topic_created {
    BCH_TOPIC_CREATED = 0,
    BCH_TOPIC_EXISTS = 1,
    BCH_TOPIC_FAILED = -1,
};

/*
 * Creates the topics (one request).  out[i] receives the outcome of
 * specs[i], msgs[i] (msglen bytes each) the broker's message.  Returns 0
 * when the request was answered (look at out), -1 with the reason in err.
 */
int bch_topics_create(rd_kafka_t *rk, const struct bch_topic_spec *specs, size_t n, int timeout_ms,
                      enum bch_topic_created *out, char (*msgs)[256], char *err, size_t errlen);

/*
 * Describes the named topics as a JSON array (caller decrefs):
 * [{"name", "exists", "partitions": [{"partition", "leader", "replicas",
 *   "isr", "low", "high"}], "replication_factor", "configs": {name: value},
 *   "config_sources": {name: source}}]; "configs_error" instead of the
 *   configs when DescribeConfigs failed.  NULL with the reason in err when
 *   the metadata cannot be read.
 */
json_t *bch_topics_describe(rd_kafka_t *rk, const char *const *names, size_t n, int timeout_ms,
                            char *err, size_t errlen);

#endif
