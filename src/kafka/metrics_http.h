/*
 * metrics_http.h - a minimal /metrics and /healthz endpoint for processes
 * without a warehouse (`bouchon ingest --listen`).
 *
 * The dashboard server (http/server.h) needs a warehouse to open; ingest has
 * none, so it serves only the process-wide registry (core/metrics.h) in the
 * Prometheus text format, from one libmicrohttpd thread.  Binds to
 * 127.0.0.1 unless told otherwise.
 */
#ifndef BCH_KAFKA_METRICS_HTTP_H
#define BCH_KAFKA_METRICS_HTTP_H

#include "core/compat.h"

struct bch_metrics_http;

/* listen: "HOST:PORT" (numeric IPv4 or localhost) or "PORT"; port 0 picks a
 * free one.  NULL with the reason in err. */
struct bch_metrics_http *bch_metrics_http_start(const char *listen, char *err, size_t errlen);
unsigned bch_metrics_http_port(const struct bch_metrics_http *s);
void bch_metrics_http_stop(struct bch_metrics_http *s);

#endif
