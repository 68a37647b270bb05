#include "core/compat.h"

#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kafka/kafka_stats.h"
#include "kafka/producer.h"

struct bch_pbatch {
    struct bch_pbatch *prev, *next; /* live batches */
    char *id;
    void *opaque;
    long sent, delivered, failed, rerouted;
    bool sealed;
    char first_error[256];
};

/* Per-message opaque: its batch and when it was queued. */
struct pmsg {
    struct bch_pbatch *b;
    int64_t t0_ns;
};

#define TOPIC_CACHE 8

struct bch_producer {
    rd_kafka_t *rk;
    struct bch_producer_options o;
    struct {
        char *name;
        rd_kafka_topic_t *rkt;
    } topics[TOPIC_CACHE];
    struct bch_pbatch *batches;
    long inflight;
    struct bch_producer_counts c;
    int in_cb; /* inside a delivery report: no polling */
    bool fatal;
    char fatal_msg[512];
    struct bch_metric *m_lat, *m_out, *m_qfull;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bch_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3) {
        bch_error("kafka", "%s: %s", fac, buf);
    } else if (level == 4) {
        bch_warn("kafka", "%s: %s", fac, buf);
    } else {
        bch_debug("kafka", "%s: %s", fac, buf);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct bch_producer *p = opaque;

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));

        p->fatal = true;
        snprintf(p->fatal_msg, sizeof(p->fatal_msg), "%s: %s", rd_kafka_err2name(orig), buf);
        bch_error("kafka", "fatal producer error: %s", p->fatal_msg);
        return;
    }
    /* Transient: librdkafka retries by itself (brokers down, timeouts). */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        bch_warn("kafka", "all brokers are down; messages stay queued: %s", reason);
    } else {
        bch_debug("kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    }
}

/* The delivered counter, as an absolute value (one lock, not one per message). */
static void publish_counts(struct bch_producer *p)
{
    bch_metric_set(p->m_out, "outcome=\"delivered\"", (double)p->c.delivered);
}

static void batch_free(struct bch_producer *p, struct bch_pbatch *b)
{
    if (b->prev) {
        b->prev->next = b->next;
    } else {
        p->batches = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    }
    free(b->id);
    free(b);
}

static void batch_maybe_done(struct bch_producer *p, struct bch_pbatch *b)
{
    struct bch_pbatch_result r;

    if (!b->sealed || b->delivered + b->failed + b->rerouted < b->sent) {
        return;
    }
    r.id = b->id;
    r.opaque = b->opaque;
    r.sent = b->sent;
    r.delivered = b->delivered;
    r.failed = b->failed;
    r.rerouted = b->rerouted;
    r.first_error = b->first_error;
    if (p->o.done) {
        p->o.done(p->o.ctx, &r);
    }
    batch_free(p, b);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct bch_producer *p = opaque;
    struct pmsg *pm = m->_private;
    struct bch_pbatch *b;
    char l[64];

    (void)rk;
    if (!pm) {
        return;
    }
    b = pm->b;
    p->inflight--;
    p->in_cb++;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        b->delivered++;
        p->c.delivered++; /* the counter is published by publish_counts() */
        bch_metric_observe(p->m_lat, NULL, (double)(now_ns() - pm->t0_ns) / 1e9);
    } else if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && p->o.reroute &&
               p->o.reroute(p->o.ctx, p, b, m) == 0) {
        b->rerouted++;
        p->c.rerouted++;
        bch_metrics_label(l, sizeof(l), "outcome", "rerouted");
        bch_metric_add(p->m_out, l, 1);
    } else {
        b->failed++;
        p->c.failed++;
        if (!b->first_error[0]) {
            snprintf(b->first_error, sizeof(b->first_error), "%s", rd_kafka_err2str(m->err));
        }
        bch_metrics_label(l, sizeof(l), "outcome", "failed");
        bch_metric_add(p->m_out, l, 1);
    }
    p->in_cb--;
    free(pm);
    batch_maybe_done(p, b);
}

struct bch_producer *bch_producer_new(rd_kafka_conf_t *conf, const struct bch_producer_options *o,
                                      char *err, size_t errlen)
{
    struct bch_producer *p = calloc(1, sizeof(*p));
    char rerr[512];

    if (!p) {
        snprintf(err, errlen, "out of memory");
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (o) {
        p->o = *o;
    }
    bch_kafka_stats_init();
    p->m_lat = bch_metric_histogram("bouchon_kafka_delivery_latency_seconds",
                                    "Time from enqueue to delivery report (measured by Bouchon).",
                                    bch_kafka_latency_buckets, bch_kafka_latency_nbuckets);
    p->m_out = bch_metric_counter("bouchon_kafka_messages_produced_total",
                                  "Produced messages by delivery outcome.");
    p->m_qfull = bch_metric_counter("bouchon_kafka_queue_full_total",
                                    "Times the local produce queue was full (backpressure).");
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, bch_kafka_log_cb);
    rd_kafka_conf_set_stats_cb(conf, bch_kafka_stats_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rerr, sizeof(rerr));
    if (!p->rk) {
        snprintf(err, errlen, "cannot create the Kafka producer: %s", rerr);
        rd_kafka_conf_destroy(conf);
        bch_producer_free(p);
        return NULL;
    }
    conf = NULL; /* p->rk owns conf now */
    return p;
}

void bch_producer_free(struct bch_producer *p)
{
    if (!p) {
        return;
    }
    if (p->rk) {
        /* Anything still queued was reported by bch_producer_drain(); purge
         * the rest so that destroy does not wait for it. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
    }
    for (size_t i = 0; i < TOPIC_CACHE; i++) {
        if (p->topics[i].rkt) {
            rd_kafka_topic_destroy(p->topics[i].rkt);
        }
        free(p->topics[i].name);
    }
    if (p->rk) {
        rd_kafka_destroy(p->rk);
    }
    /* Batches never fully reported: report what is missing as failed, so
     * that their owners hear of them (and free their opaques). */
    while (p->batches) {
        struct bch_pbatch *b = p->batches;

        b->sealed = true;
        b->failed = b->sent - b->delivered - b->rerouted;
        if (!b->first_error[0]) {
            snprintf(b->first_error, sizeof(b->first_error), "producer closed");
        }
        batch_maybe_done(p, b);
    }
    free(p);
}

rd_kafka_t *bch_producer_rk(struct bch_producer *p)
{
    return p->rk;
}

struct bch_pbatch *bch_pbatch_new(struct bch_producer *p, const char *id, void *opaque)
{
    struct bch_pbatch *b = calloc(1, sizeof(*b));

    if (!b) {
        return NULL;
    }
    b->id = strdup(id ? id : "");
    if (!b->id) {
        free(b);
        return NULL;
    }
    b->opaque = opaque;
    b->next = p->batches;
    if (p->batches) {
        p->batches->prev = b;
    }
    p->batches = b;
    return b;
}

void bch_pbatch_seal(struct bch_producer *p, struct bch_pbatch *b)
{
    b->sealed = true;
    batch_maybe_done(p, b);
}

static rd_kafka_topic_t *topic_of(struct bch_producer *p, const char *name)
{
    size_t i;

    for (i = 0; i < TOPIC_CACHE && p->topics[i].name; i++) {
        if (strcmp(p->topics[i].name, name) == 0) {
            return p->topics[i].rkt;
        }
    }
    if (i == TOPIC_CACHE) {
        return NULL;
    }
    p->topics[i].name = strdup(name);
    if (!p->topics[i].name) {
        return NULL;
    }
    p->topics[i].rkt = rd_kafka_topic_new(p->rk, name, NULL);
    if (!p->topics[i].rkt) {
        free(p->topics[i].name);
        p->topics[i].name = NULL;
    }
    return p->topics[i].rkt;
}

int bch_producer_send(struct bch_producer *p, struct bch_pbatch *b, const char *topic,
                      int32_t partition, const void *key, size_t klen, const void *value,
                      size_t vlen, const struct bch_kheader *h, size_t nh, char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = topic_of(p, topic);
    rd_kafka_headers_t *hdrs = NULL;
    struct pmsg *pm = NULL;
    rd_kafka_resp_err_t e;
    int rc = BCH_ERR;

    if (p->fatal) {
        snprintf(err, errlen, "fatal producer error: %s", p->fatal_msg);
        return BCH_ERR;
    }
    if (!rkt) {
        snprintf(err, errlen, "cannot use topic '%s'", topic);
        return BCH_ERR;
    }
    pm = malloc(sizeof(*pm));
    if (nh) {
        hdrs = rd_kafka_headers_new(nh);
    }
    if (!pm || (nh && !hdrs)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nh; i++) {
        rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, -1);
    }
    pm->b = b;
    for (;;) {
        pm->t0_ns = now_ns();
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
                              RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(pm), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            hdrs = NULL; /* the message owns the headers now */
            b->sent++;
            p->c.sent++;
            p->inflight++;
            /* Serve delivery reports now and then (not per message: cheaper). */
            if (!p->in_cb) {
                rd_kafka_poll(p->rk, 0);
                publish_counts(p);
            }
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        /* Backpressure: serve delivery reports until there is room. */
        p->c.queue_full++;
        bch_metric_add(p->m_qfull, NULL, 1);
        if (p->in_cb) {
            break; /* cannot poll from inside a delivery report */
        }
        rd_kafka_poll(p->rk, 100);
        if (p->o.stop && *p->o.stop) {
            snprintf(err, errlen, "stopped while the produce queue was full");
            rc = BCH_RETRY;
            goto fail;
        }
        if (p->fatal) {
            snprintf(err, errlen, "fatal producer error: %s", p->fatal_msg);
            goto fail;
        }
    }
    snprintf(err, errlen, "%s", rd_kafka_err2str(e));
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rc = BCH_ERR_INPUT;
    }
fail:
    if (hdrs) {
        rd_kafka_headers_destroy(hdrs);
    }
    free(pm);
    return rc;
}

void bch_producer_poll(struct bch_producer *p, int timeout_ms)
{
    rd_kafka_poll(p->rk, timeout_ms);
    publish_counts(p);
}

long bch_producer_inflight(const struct bch_producer *p)
{
    return p->inflight;
}

long bch_producer_drain(struct bch_producer *p, int timeout_ms)
{
    long failed_before = p->c.failed;
    long left;

    rd_kafka_flush(p->rk, timeout_ms);
    left = p->inflight;
    if (left > 0) {
        bch_warn("kafka", "%ld message(s) still not delivered after %d ms; purging them", left,
                 timeout_ms);
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        /* Purged messages are reported (failed) through the next polls. */
        for (int i = 0; i < 50 && p->inflight > 0; i++) {
            rd_kafka_poll(p->rk, 100);
        }
    }
    publish_counts(p);
    return p->c.failed - failed_before;
}

bool bch_producer_fatal(struct bch_producer *p, char *err, size_t errlen)
{
    if (p->fatal && err) {
        snprintf(err, errlen, "%s", p->fatal_msg);
    }
    return p->fatal;
}

void bch_producer_counts(const struct bch_producer *p, struct bch_producer_counts *c)
{
    *c = p->c;
}

int bch_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                              size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    int n = 0;

    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot get the cluster metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0) {
            n = md->topics[i].err ? 0 : md->topics[i].partition_cnt;
            break;
        }
    }
    rd_kafka_metadata_destroy(md);
    return n;
}
