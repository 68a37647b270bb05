/*
 * server.h - the HTTP server: dashboard assets, JSON/GeoJSON API, server-sent
 * events, /metrics and /healthz over one SQLite warehouse (docs/API.md).
 *
 * Threads.  libmicrohttpd runs its own listening/polling threads (a pool of
 * o->threads workers, epoll); every request is handled on one of them.
 * Each worker opens its own read-only warehouse connection the first time
 * it needs one and keeps it until the worker ends: connections are never
 * shared between threads.  The writer (`bouchon run`, `replay`, in this
 * process or another) uses WAL, so readers never block it and only see
 * committed data; each request reads inside one read transaction, so the
 * figures of one response always agree with each other.  A ticker thread
 * watches the warehouse for new snapshots (every few seconds) and wakes
 * the server-sent-event clients.
 *
 * Caching.  Rendered API bodies (and their gzip form) are kept in a small
 * bounded cache keyed by request target and a warehouse generation that
 * every commit of another connection moves on (PRAGMA data_version, see
 * http_fingerprint()), so a load or an import invalidates them.
 *
 * Ownership.  bch_http_start() copies what it needs from o; the returned
 * server is freed by bch_http_stop(), which waits for in-flight requests.
 */
#ifndef BCH_HTTP_SERVER_H
#define BCH_HTTP_SERVER_H

#include "core/compat.h"

struct bch_http_options {
    /* "HOST:PORT" with a numeric IPv4 address, "[IPv6]:PORT", "localhost:PORT"
     * or just "PORT"; NULL: "127.0.0.1:8080".  Port 0 picks a free port
     * (see bch_http_port()).  Binds to 127.0.0.1 unless told otherwise. */
    const char *listen;
    const char *db_path;    /* warehouse; must exist and be migrated */
    const char *assets_dir; /* dashboard files; NULL: "build/web" */
    unsigned threads;       /* worker threads, 1..64; 0: 4 */
};

struct bch_http_server;

/* 0 if listen is a valid address for bch_http_options.listen; else -1 with
 * the reason in err (a usage error: nothing is bound). */
int bch_http_listen_check(const char *listen, char *err, size_t errlen);

/*
 * Checks the warehouse can be opened read-only, binds and starts serving.
 * Returns the server, or NULL with the reason in err (bad listen address,
 * address in use, warehouse not readable).
 */
struct bch_http_server *bch_http_start(const struct bch_http_options *o, char *err, size_t errlen);

/* Port actually bound (useful with port 0). */
unsigned bch_http_port(const struct bch_http_server *s);

/* Address actually bound, as "HOST:PORT" or "[V6]:PORT", in buf. */
void bch_http_address(const struct bch_http_server *s, char *buf, size_t len);

/*
 * A snapshot at instant at was committed (called by an embedding writer,
 * from any thread): wakes the server-sent-event clients now instead of at
 * the next warehouse poll.  Cheap and non-blocking.
 */
void bch_http_notify_snapshot(struct bch_http_server *s, int64_t at);

/*
 * Ends the event streams, stops accepting, waits for the workers and frees
 * everything.  NULL is a no-op.
 */
void bch_http_stop(struct bch_http_server *s);

#endif
