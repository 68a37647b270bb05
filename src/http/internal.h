/*
 * internal.h - what the files of src/http share; not part of the server's
 * public contract (server.h).
 *
 *   server.c  daemon lifecycle, request dispatch, headers, gzip, metrics
 *   query.c   request target and query string parsing and validation
 *   routes.c  the JSON API handlers
 *   assets.c  the dashboard's static files
 *   sse.c     GET /api/v1/events (server-sent events)
 *   cache.c   bounded cache of rendered bodies
 */
#ifndef BCH_HTTP_INTERNAL_H
#define BCH_HTTP_INTERNAL_H

#include "core/compat.h"

#include <pthread.h>
#include <sqlite3.h>

#include "core/timeutil.h"
#include "http/server.h"

struct MHD_Connection;
struct MHD_Daemon;
struct MHD_Response;

#define HTTP_MAX_TARGET 4096 /* longest request target handled (path + query) */
#define HTTP_MAX_PATH   1024 /* longest decoded path */
#define HTTP_GZIP_MIN   1024 /* smaller bodies are sent as they are */

/* ------------------------------------------------------------------ cache */

/*
 * A rendered body, shared by reference count between the cache and the
 * responses being sent.  body / gz are malloc'ed; gz may be NULL (too small
 * or not compressible).  An entry is immutable once published.
 */
struct cache_entry {
    struct http_cache *cache; /* NULL for an uncached entry */
    char *key;
    int64_t fp[2]; /* warehouse fingerprint (or file mtime / size) it was built from */
    const char *ctype;
    char *body;
    size_t len;
    char *gz;
    size_t gzlen;
    bool compressible; /* answers vary with Accept-Encoding */
    unsigned refs;     /* under cache->lock (or owned alone when uncached) */
    bool dead;         /* removed from the cache: freed by the last release */
    uint64_t used;
};

#define CACHE_SLOTS 64
struct http_cache {
    pthread_mutex_t lock;
    struct cache_entry *slots[CACHE_SLOTS];
    size_t bytes, max_bytes;
    uint64_t tick;
};

void http_cache_init(struct http_cache *c, size_t max_bytes);
void http_cache_release_all(struct http_cache *c);
/* A referenced entry matching key and fp, or NULL. */
struct cache_entry *http_cache_get(struct http_cache *c, const char *key, const int64_t fp[2]);
/*
 * Makes an entry of body (taken: freed on failure too), compressing it when
 * compress and len >= HTTP_GZIP_MIN.  With c and key it is also published
 * in the cache (replacing an older entry of that key).  Returns it
 * referenced once for the caller, or NULL when out of memory.
 */
struct cache_entry *http_entry_new(struct http_cache *c, const char *key, const int64_t fp[2],
                                   const char *ctype, char *body, size_t len, bool compress);
/* Drops one reference. */
void http_entry_release(struct cache_entry *e);

/* gzip (RFC 1952) of in into a malloc'ed buffer; 0, or -1 when out of memory. */
int http_gzip(const char *in, size_t len, char **out, size_t *outlen);

/* ------------------------------------------------------------------ query */

enum {
    P_AT = 1u << 0,
    P_FROM = 1u << 1,
    P_TO = 1u << 2,
    P_LIMIT = 1u << 3,
    P_MIN_DURATION = 1u << 4,
    P_BY = 1u << 5,
    P_HISTORY = 1u << 6,
};

struct http_params {
    unsigned have; /* P_* given */
    bch_time at, from, to;
    int limit;
    int64_t min_duration_s;
    const char *by; /* "segment", "typevoie" or "commune" (static strings) */
    bool history;   /* history=true|false (default true) */
};

/* Most seconds between from and to when both are given: 3 years of 366 days. */
#define HTTP_MAX_RANGE_S (3 * 366 * 86400LL)

/*
 * Splits a raw request target ("/path?query") into its percent-decoded path
 * (NUL-terminated, at most pathcap - 1 bytes) and the raw query (after '?',
 * or "").  -1 for a malformed target: not starting with '/', bad or
 * encoded-NUL escapes, control characters, too long.
 */
int http_target_split(const char *raw, char *path, size_t pathcap, const char **query);

/*
 * Parses and validates a query string against the allowed parameters.
 * Returns 0, or -1 with a message for the client (lower-case, subject in
 * quotes) in msg: unknown or repeated parameter, empty or malformed value,
 * out of range, from after to, range longer than HTTP_MAX_RANGE_S.
 */
int http_params_parse(const char *query, unsigned allowed, struct http_params *p, char *msg,
                      size_t msglen);

/* Positive decimal integer of at most 18 digits; -1 otherwise. */
int64_t http_parse_id(const char *s, size_t len);

/* ----------------------------------------------------------------- server */

/* Per worker thread: its own read-only warehouse connection. */
struct worker_db {
    sqlite3 *db;
};

struct sse_client;

struct bch_http_server {
    struct MHD_Daemon *daemon;
    char *db_path;
    char *assets_dir;
    unsigned port;
    char address[80];
    pthread_key_t db_key;
    bool db_key_ok;
    struct http_cache cache;
    pthread_mutex_t scrape_lock; /* one /metrics refresh at a time */
    /* The cache fingerprint (http_fingerprint()), all under fp_lock. */
    pthread_mutex_t fp_lock;
    sqlite3 *fp_db;        /* a connection that only reads PRAGMA data_version */
    sqlite3_stmt *fp_stmt; /* that pragma */
    bool fp_seen;          /* fp_version holds a value */
    int64_t fp_version;    /* data_version at the last read */
    int64_t fp_generation; /* bumped each time fp_version changes */

    /* Event streams and the ticker thread that drives them. */
    pthread_mutex_t sse_lock;
    pthread_cond_t sse_cond;
    pthread_t ticker;
    bool ticker_started;
    bool stopping;          /* under sse_lock */
    int64_t latest_at;      /* newest snapshot instant known, BCH_TIME_NONE */
    uint64_t generation;    /* bumped at each new snapshot */
    struct sse_client *sse; /* list of open streams */
    unsigned nsse;
    sqlite3 *ticker_db; /* the ticker's own connection */
};

/* What a handler answers. */
struct http_reply {
    unsigned status;
    struct cache_entry *entry; /* body (or NULL with resp / fd) */
    struct MHD_Response *resp; /* prebuilt response (event stream, file) */
    bool no_store;             /* Cache-Control: no-store (else no-cache) */
};

/* The request being handled. */
struct http_request {
    struct bch_http_server *srv;
    struct MHD_Connection *conn;
    const char *target; /* raw target as received (key of the cache) */
    const char *path;   /* decoded path */
    const char *query;  /* raw query string */
    bool gzip_ok;       /* client accepts gzip */
    int64_t gid;        /* /api/v1/segments/{gid}/history */
};

/* The calling worker's connection; NULL with a reason in err. */
struct worker_db *http_worker_db(struct bch_http_server *s, char *err, size_t errlen);

/*
 * The warehouse fingerprint of a request, read before its read transaction
 * starts: fp[0] is a generation that changes after every commit to the
 * warehouse by any connection or process (replay, run, load, import and each
 * of its batch transactions), fp[1] is 0.  A body built in a transaction that
 * starts after this call is at least as new as the state the generation
 * names, so a body cached under it is never older than what a request that
 * starts after a commit must see.  0, or -1 when the warehouse cannot be read.
 */
int http_fingerprint(struct bch_http_server *s, int64_t fp[2]);

/* Fills r with a JSON error {"error":{"status","message"}}. */
void http_reply_error(struct http_reply *r, unsigned status, const char *fmt, ...) BCH_PRINTF(3, 4);
/* Fills r with an uncached body (taken). */
void http_reply_body(struct http_reply *r, unsigned status, const char *ctype, char *body,
                     size_t len, bool compress);

/* Route handlers (routes.c). */
void http_api_network(struct http_request *q, struct http_reply *r);
void http_api_summary(struct http_request *q, struct http_reply *r);
void http_api_jams(struct http_request *q, struct http_reply *r);
void http_api_queues(struct http_request *q, struct http_reply *r);
void http_api_hotspots(struct http_request *q, struct http_reply *r);
void http_api_profile(struct http_request *q, struct http_reply *r);
void http_api_timeseries(struct http_request *q, struct http_reply *r);
void http_api_history(struct http_request *q, struct http_reply *r);
/* The imported history (docs/API.md "History"). */
void http_api_hist_overview(struct http_request *q, struct http_reply *r);
void http_api_hist_daily(struct http_request *q, struct http_reply *r);
void http_api_hist_profile(struct http_request *q, struct http_reply *r);
void http_api_hist_trend(struct http_request *q, struct http_reply *r);
void http_api_hist_hotspots(struct http_request *q, struct http_reply *r);
void http_api_hist_periods(struct http_request *q, struct http_reply *r);
void http_api_corridors(struct http_request *q, struct http_reply *r);
void http_api_corridors_geojson(struct http_request *q, struct http_reply *r);
void http_api_stations(struct http_request *q, struct http_reply *r);
void http_api_health(struct http_request *q, struct http_reply *r);
void http_metrics(struct http_request *q, struct http_reply *r);
/* Creates the metric families (idempotent). */
void http_metrics_init(void);
/* Counts a finished request. */
void http_metrics_request(const char *route, unsigned status, double seconds, bool timed);

/* Static files (assets.c). */
void http_assets(struct http_request *q, struct http_reply *r);

/* Event streams (sse.c). */
#define SSE_MAX_CLIENTS 64
void http_events(struct http_request *q, struct http_reply *r);
int http_sse_start(struct bch_http_server *s, char *err, size_t errlen);
/* Ends every stream and the ticker thread (before the daemon stops). */
void http_sse_shutdown(struct bch_http_server *s);
/* Open event streams. */
unsigned http_sse_clients(struct bch_http_server *s);

/* Monotonic seconds. */
double http_now_mono(void);

#endif
