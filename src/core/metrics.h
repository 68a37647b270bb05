/*
 * metrics.h - process-wide Prometheus metrics (text exposition format 0.0.4).
 *
 * Hand-written because Debian ships no maintained C Prometheus client
 * (prometheus-client-c is unmaintained since 2020).  A metric is a family
 * (name, help, type) with series keyed by their label string, written by the
 * caller in exposition syntax, e.g. "outcome=\"ok\"" (use
 * bch_metrics_label() to escape a value).  All calls are thread-safe: the
 * poller writes while the HTTP server renders.
 *
 * Families are created once (usually at start-up) and live until
 * bch_metrics_reset(); creating a family twice returns the same one.
 */
#ifndef BCH_METRICS_H
#define BCH_METRICS_H

#include "core/buf.h"
#include "core/compat.h"

enum bch_metric_type {
    BCH_METRIC_COUNTER,
    BCH_METRIC_GAUGE,
    BCH_METRIC_HISTOGRAM,
};

struct bch_metric;

/* Families.  buckets: ascending upper bounds, without +Inf. */
struct bch_metric *bch_metric_counter(const char *name, const char *help);
struct bch_metric *bch_metric_gauge(const char *name, const char *help);
struct bch_metric *bch_metric_histogram(const char *name, const char *help, const double *buckets,
                                        size_t nbuckets);

/* labels may be NULL or "" for the unlabelled series. */
void bch_metric_add(struct bch_metric *m, const char *labels, double v);
void bch_metric_set(struct bch_metric *m, const char *labels, double v);
void bch_metric_observe(struct bch_metric *m, const char *labels, double v);
/* Removes every series of a gauge family (before re-setting per-state gauges). */
void bch_metric_clear(struct bch_metric *m);

/* Writes key="escaped value" into buf (cap bytes). */
void bch_metrics_label(char *buf, size_t cap, const char *key, const char *value);

/* Appends the exposition text of every family to out.  0, or -1 if out is full. */
int bch_metrics_render(struct bch_buf *out);

/* Drops every family (tests). */
void bch_metrics_reset(void);

#endif
