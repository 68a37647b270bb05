#include "core/compat.h"

#include <jansson.h>

#include "core/metrics.h"
#include "kafka/kafka_stats.h"

const double bch_kafka_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30};
const size_t bch_kafka_latency_nbuckets = BCH_ARRAY_LEN(bch_kafka_latency_buckets);

static struct {
    struct bch_metric *up, *state, *rtt, *qmsgs, *qbytes, *lag, *tx, *rx;
} m;

void bch_kafka_stats_init(void)
{
    m.up = bch_metric_gauge("bouchon_kafka_broker_up",
                            "1 if the connection to the broker is up (librdkafka state UP).");
    m.state = bch_metric_gauge("bouchon_kafka_broker_state",
                               "librdkafka connection state of each broker (1 = current).");
    m.rtt = bch_metric_gauge("bouchon_kafka_broker_rtt_seconds",
                             "Broker request round-trip time over the last statistics window.");
    m.qmsgs = bch_metric_gauge("bouchon_kafka_producer_queue_messages",
                               "Messages waiting in the producer queues (not yet delivered).");
    m.qbytes = bch_metric_gauge("bouchon_kafka_producer_queue_bytes",
                                "Size of the messages waiting in the producer queues.");
    m.lag = bch_metric_gauge("bouchon_kafka_consumer_lag",
                             "Messages between the high watermark and the committed offset.");
    m.tx = bch_metric_counter("bouchon_kafka_tx_messages_total",
                              "Messages sent to brokers (librdkafka txmsgs).");
    m.rx = bch_metric_counter("bouchon_kafka_rx_messages_total",
                              "Messages received from brokers (librdkafka rxmsgs).");
}

static double num(const json_t *o, const char *key, double dflt)
{
    const json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

static void two_labels(char *out, size_t cap, const char *k1, const char *v1, const char *k2,
                       const char *v2)
{
    char a[256], b[256];

    bch_metrics_label(a, sizeof(a), k1, v1);
    bch_metrics_label(b, sizeof(b), k2, v2);
    snprintf(out, cap, "%s,%s", a, b);
}

static void apply_brokers(const json_t *brokers)
{
    const char *key;
    json_t *b;

    if (!json_is_object(brokers)) {
        return;
    }
    bch_metric_clear(m.state);
    json_object_foreach((json_t *)brokers, key, b)
    {
        const char *state = json_string_value(json_object_get(b, "state"));
        const json_t *rtt = json_object_get(b, "rtt");
        char l[256], l2[600];

        if (num(b, "nodeid", -1) < 0 || !state) {
            continue;
        }
        bch_metrics_label(l, sizeof(l), "broker", key);
        bch_metric_set(m.up, l, strcmp(state, "UP") == 0 ? 1 : 0);
        two_labels(l2, sizeof(l2), "broker", key, "state", state);
        bch_metric_set(m.state, l2, 1);
        if (json_is_object(rtt) && num(rtt, "cnt", 0) > 0) {
            two_labels(l2, sizeof(l2), "broker", key, "quantile", "0.5");
            bch_metric_set(m.rtt, l2, num(rtt, "p50", 0) / 1e6);
            two_labels(l2, sizeof(l2), "broker", key, "quantile", "0.99");
            bch_metric_set(m.rtt, l2, num(rtt, "p99", 0) / 1e6);
        }
    }
}

static void apply_topics(const json_t *topics)
{
    const char *tname;
    json_t *t;

    if (!json_is_object(topics)) {
        return;
    }
    bch_metric_clear(m.lag);
    json_object_foreach((json_t *)topics, tname, t)
    {
        const json_t *parts = json_object_get(t, "partitions");
        const char *pname;
        json_t *p;

        if (!json_is_object(parts)) {
            continue;
        }
        json_object_foreach((json_t *)parts, pname, p)
        {
            double lag = num(p, "consumer_lag", -1);
            char l[600];

            if (num(p, "partition", -1) < 0 || lag < 0) {
                continue;
            }
            two_labels(l, sizeof(l), "topic", tname, "partition", pname);
            bch_metric_set(m.lag, l, lag);
        }
    }
}

int bch_kafka_stats_apply(const char *json, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    const char *type;

    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    if (!m.up) {
        bch_kafka_stats_init();
    }
    type = json_string_value(json_object_get(root, "type"));
    if (type && strcmp(type, "producer") == 0) {
        bch_metric_set(m.qmsgs, NULL, num(root, "msg_cnt", 0));
        bch_metric_set(m.qbytes, NULL, num(root, "msg_size", 0));
    }
    bch_metric_set(m.tx, NULL, num(root, "txmsgs", 0));
    bch_metric_set(m.rx, NULL, num(root, "rxmsgs", 0));
    apply_brokers(json_object_get(root, "brokers"));
    if (type && strcmp(type, "consumer") == 0) {
        apply_topics(json_object_get(root, "topics"));
    }
    json_decref(root);
    return 0;
}

int bch_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    (void)opaque;
    bch_kafka_stats_apply(json, len);
    return 0; /* librdkafka frees json */
}
