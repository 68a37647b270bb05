/*
 * server.h - the embedded HTTP server: dashboard, JSON API, /metrics.
 * (Contract written by the lead; implementation in server.c.)
 */
#ifndef BCH_HTTP_SERVER_H
#define BCH_HTTP_SERVER_H

#include "core/compat.h"

struct bch_http_options {
    const char *listen;     /* "127.0.0.1:8080", host:port, IPv4 or [IPv6] */
    const char *db_path;    /* warehouse, opened read-only per worker thread */
    const char *assets_dir; /* dashboard files, default "build/web" */
    unsigned threads;       /* worker threads, 0 = default */
};

struct bch_http_server;

/* Starts serving; NULL with the reason in err on failure. */
struct bch_http_server *bch_http_start(const struct bch_http_options *o, char *err,
                                       size_t errlen);

/* A new snapshot was committed: wakes the SSE clients of /api/v1/events. */
void bch_http_notify_snapshot(struct bch_http_server *s, int64_t at);

/* Stops and frees; NULL is a no-op. */
void bch_http_stop(struct bch_http_server *s);

#endif
