/*
 * server.c - libmicrohttpd daemon, request lifecycle and dispatch.
 *
 * A request's life: the URI log callback (first thing libmicrohttpd calls,
 * with the raw target) allocates its struct req_state; the access handler
 * answers on its first call (only GET and HEAD exist here, so there is no
 * body to wait for); the completion callback counts it in the metrics and
 * frees the state.  Handlers fill a struct http_reply; send_reply() turns it
 * into a response with the common headers.
 */
#include "core/compat.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "http/internal.h"
#include "report/history.h"
#include "warehouse/db.h"

#define DEFAULT_LISTEN  "127.0.0.1:8080"
#define DEFAULT_ASSETS  "build/web"
#define DEFAULT_THREADS 4
#define MAX_THREADS     64
#define MAX_CONNECTIONS 512
#define CONN_TIMEOUT_S  30
#define CONN_MEMORY     (32 * 1024) /* request line + headers must fit */
#define CACHE_BYTES     (64u << 20)

/* Only 'self': the dashboard loads nothing from elsewhere (no CDN).  data:
 * images for the inline favicon. */
#define CSP                                                                                        \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "               \
    "frame-ancestors 'none'; form-action 'self'"

struct req_state {
    double t0;
    const char *route; /* label of the metrics, a route template */
    unsigned status;
    bool headers_seen;
    bool answered;
    bool timed;    /* counted in the duration histogram (not event streams) */
    bool too_long; /* target longer than HTTP_MAX_TARGET */
    char target[]; /* raw target, NUL-terminated */
};

double http_now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------- worker connections */

static void worker_db_free(void *p)
{
    struct worker_db *w = p;

    if (!w) {
        return;
    }
    bch_db_close(w->db);
    free(w);
}

struct worker_db *http_worker_db(struct bch_http_server *s, char *err, size_t errlen)
{
    struct worker_db *w = pthread_getspecific(s->db_key);

    if (w) {
        return w;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->db = bch_db_open(s->db_path, BCH_DB_READONLY, err, errlen);
    if (!w->db) {
        free(w);
        return NULL;
    }
    /* paris_day() and the others, for the history builders (report/history.h). */
    if (bch_history_register_sql(w->db) || pthread_setspecific(s->db_key, w) != 0) {
        snprintf(err, errlen, "cannot prepare the warehouse connection");
        worker_db_free(w);
        return NULL;
    }
    return w;
}

/*
 * SQLite names no state that two connections could compare, but `PRAGMA
 * data_version` changes on one connection whenever another one committed
 * since its previous read.  One connection, read under fp_lock at the start
 * of every API request, therefore sees every commit, in order: the first
 * read after a commit opens a new generation, and every request that starts
 * later gets it (or a newer one), with a read transaction that starts after
 * that commit.  Requests that overlap a commit may build a newer body under
 * the older generation: fresher than its name, never staler.  Unlike
 * per-connection counters, one generation is shared by all the workers, so
 * a commit costs each cached target one rebuild, not one per worker.
 */
int http_fingerprint(struct bch_http_server *s, int64_t fp[2])
{
    int rc;

    pthread_mutex_lock(&s->fp_lock);
    rc = sqlite3_step(s->fp_stmt);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s->fp_stmt, 0);

        if (!s->fp_seen || v != s->fp_version) {
            s->fp_seen = true;
            s->fp_version = v;
            s->fp_generation++;
        }
        fp[0] = s->fp_generation;
        fp[1] = 0;
    }
    if (rc != SQLITE_ROW) {
        bch_warn("http", "warehouse fingerprint: %s", sqlite3_errmsg(s->fp_db));
    }
    sqlite3_reset(s->fp_stmt); /* ends that read transaction */
    pthread_mutex_unlock(&s->fp_lock);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* ------------------------------------------------------------------ replies */

void http_reply_body(struct http_reply *r, unsigned status, const char *ctype, char *body,
                     size_t len, bool compress)
{
    r->status = status;
    r->entry = http_entry_new(NULL, NULL, NULL, ctype, body, len, compress);
    if (!r->entry) {
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

void http_reply_error(struct http_reply *r, unsigned status, const char *fmt, ...)
{
    char msg[512];
    json_t *o;
    char *body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o = json_pack("{s:{s:i, s:s}}", "error", "status", (int)status, "message", msg);
    body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    http_entry_release(r->entry);
    r->entry = NULL;
    r->no_store = true;
    if (!body) {
        r->status = status;
        return; /* out of memory: headers only */
    }
    http_reply_body(r, status, "application/json", body, strlen(body), false);
    r->status = status;
}

static void release_entry_cb(void *cls)
{
    http_entry_release(cls);
}

static bool accepts_gzip(struct MHD_Connection *conn)
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);

    /* Tokens separated by commas, each with an optional ";q=..." weight. */
    while (v && *v) {
        const char *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        const char *semi = memchr(v, ';', len);
        size_t tlen = semi ? (size_t)(semi - v) : len;
        const char *t = v;
        bool zero = false;

        while (tlen && (*t == ' ' || *t == '\t')) {
            t++;
            tlen--;
        }
        while (tlen && (t[tlen - 1] == ' ' || t[tlen - 1] == '\t')) {
            tlen--;
        }
        if (semi) {
            const char *q = semi + 1;

            while (q < v + len && (*q == ' ' || *q == '\t')) {
                q++;
            }
            if (q + 2 <= v + len && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                zero = true; /* q=0, q=0.0, q=0.000 refuse; anything else accepts */
                for (const char *d = q + 2; d < v + len && *d != ' '; d++) {
                    if (*d != '0' && *d != '.') {
                        zero = false;
                    }
                }
            }
        }
        if (!zero &&
            ((tlen == 4 && strncasecmp(t, "gzip", 4) == 0) || (tlen == 1 && t[0] == '*'))) {
            return true;
        }
        v = end ? end + 1 : NULL;
    }
    return false;
}

static void add_common_headers(struct MHD_Response *resp, const struct http_reply *r)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r->no_store ? "no-store" : "no-cache");
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct http_reply *r, bool gzip_ok)
{
    struct MHD_Response *resp = r->resp;
    enum MHD_Result ret;

    r->resp = NULL;
    if (!resp && r->entry) {
        struct cache_entry *e = r->entry;
        bool gz = gzip_ok && e->gz;

        r->entry = NULL; /* the response owns the reference now */
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            gz ? e->gzlen : e->len, gz ? e->gz : e->body, release_entry_cb, e);
        if (!resp) {
            http_entry_release(e);
        } else {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, e->ctype);
            if (e->compressible) {
                MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
            }
            if (gz) {
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
            }
        }
    }
    if (!resp) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp) {
            return MHD_NO;
        }
        if (r->status < 400) {
            r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    add_common_headers(resp, r);
    ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ------------------------------------------------------------------ routing */

static void healthz(struct http_request *q, struct http_reply *r)
{
    char *body = strdup("ok\n");

    (void)q;
    r->no_store = true;
    if (!body) {
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return;
    }
    http_reply_body(r, MHD_HTTP_OK, "text/plain; charset=utf-8", body, 3, false);
}

struct route {
    const char *path;
    void (*fn)(struct http_request *q, struct http_reply *r);
};

static const struct route routes[] = {
    {"/api/v1/network", http_api_network},
    {"/api/v1/summary", http_api_summary},
    {"/api/v1/jams", http_api_jams},
    {"/api/v1/queues", http_api_queues},
    {"/api/v1/hotspots", http_api_hotspots},
    {"/api/v1/profile", http_api_profile},
    {"/api/v1/timeseries", http_api_timeseries},
    {"/api/v1/history", http_api_hist_overview},
    {"/api/v1/history/daily", http_api_hist_daily},
    {"/api/v1/history/profile", http_api_hist_profile},
    {"/api/v1/history/trend", http_api_hist_trend},
    {"/api/v1/history/hotspots", http_api_hist_hotspots},
    {"/api/v1/history/periods", http_api_hist_periods},
    {"/api/v1/corridors", http_api_corridors},
    {"/api/v1/corridors.geojson", http_api_corridors_geojson},
    {"/api/v1/stations", http_api_stations},
    {"/api/v1/health", http_api_health},
    {"/api/v1/events", http_events},
    {"/healthz", healthz},
    {"/metrics", http_metrics},
};

#define HISTORY_PREFIX   "/api/v1/segments/"
#define HISTORY_SUFFIX   "/history"
#define HISTORY_TEMPLATE "/api/v1/segments/{gid}/history"

enum match {
    MATCH_ROUTE,       /* an API route, /healthz, /metrics or a static file */
    MATCH_UNKNOWN_API, /* under /api/ but no such route: JSON 404 */
    MATCH_BAD_GID,     /* the history route with a gid that is not a positive integer */
};

static const struct route history_route = {HISTORY_TEMPLATE, http_api_history};
static const struct route static_route = {"static", http_assets};
static const struct route unmatched_route = {"unmatched", NULL};

/*
 * The route of a decoded path; (*r)->path is also the label of the metrics
 * (a template, never the raw path).  Sets *gid for the history route.
 */
static enum match find_route(const char *path, const struct route **r, int64_t *gid)
{
    size_t plen = strlen(path), pre = strlen(HISTORY_PREFIX), suf = strlen(HISTORY_SUFFIX);

    for (size_t i = 0; i < BCH_ARRAY_LEN(routes); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            *r = &routes[i];
            return MATCH_ROUTE;
        }
    }
    if (plen > pre + suf && strncmp(path, HISTORY_PREFIX, pre) == 0 &&
        strcmp(path + plen - suf, HISTORY_SUFFIX) == 0 &&
        !memchr(path + pre, '/', plen - pre - suf)) {
        *r = &history_route;
        *gid = http_parse_id(path + pre, plen - pre - suf);
        return *gid < 0 ? MATCH_BAD_GID : MATCH_ROUTE;
    }
    if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0) {
        *r = &unmatched_route;
        return MATCH_UNKNOWN_API;
    }
    *r = &static_route;
    return MATCH_ROUTE;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    size_t len = strlen(uri);
    bool too_long = len > HTTP_MAX_TARGET;
    struct req_state *st;

    (void)cls;
    (void)conn;
    if (too_long) {
        len = 0;
    }
    st = calloc(1, sizeof(*st) + len + 1);
    if (!st) {
        return NULL;
    }
    st->t0 = http_now_mono();
    st->too_long = too_long;
    st->timed = true;
    memcpy(st->target, uri, len);
    st->target[len] = '\0';
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_state *st = *req_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (!st) {
        return;
    }
    if (st->status) {
        http_metrics_request(st->route ? st->route : "unmatched", st->status,
                             http_now_mono() - st->t0, st->timed);
    }
    free(st);
    *req_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    struct bch_http_server *s = cls;
    struct req_state *st = *req_cls;
    struct http_reply r = {0};
    struct http_request q = {0};
    char path[HTTP_MAX_PATH];
    const struct route *route = &unmatched_route;
    enum match m;
    bool is_get;
    enum MHD_Result ret;

    (void)url;
    (void)version;
    (void)upload_data;
    if (!st) {
        return MHD_NO; /* out of memory in on_uri: drop the connection */
    }
    is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!st->headers_seen && is_get) {
        /* Answer once the whole request is in: answering from the first
         * call would make libmicrohttpd close the connection (no keep-alive). */
        st->headers_seen = true;
        return MHD_YES;
    }
    if (st->answered || *upload_size != 0) {
        *upload_size = 0; /* a body nobody asked for: discard */
        return MHD_YES;
    }
    /* Other methods are refused at once; the connection then closes. */
    st->answered = true;
    q.srv = s;
    q.conn = conn;
    q.target = st->target;
    r.no_store = true;
    if (st->too_long) {
        st->route = "unmatched";
        http_reply_error(&r, MHD_HTTP_URI_TOO_LONG, "request target longer than %d bytes",
                         HTTP_MAX_TARGET);
    } else if (http_target_split(st->target, path, sizeof(path), &q.query)) {
        st->route = "unmatched";
        http_reply_error(&r, MHD_HTTP_BAD_REQUEST, "malformed request target");
    } else {
        q.path = path;
        m = find_route(path, &route, &q.gid);
        st->route = route->path;
        if (!is_get) {
            http_reply_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "method '%.16s' not allowed: use GET",
                             method);
        } else if (m == MATCH_UNKNOWN_API) {
            http_reply_error(&r, MHD_HTTP_NOT_FOUND, "no such endpoint '%.200s'", path);
        } else if (m == MATCH_BAD_GID) {
            http_reply_error(&r, MHD_HTTP_BAD_REQUEST, "'gid' must be a positive integer");
        } else {
            q.gzip_ok = accepts_gzip(conn);
            route->fn(&q, &r);
            st->timed = route->fn != http_events; /* a stream lasts as long as the client */
        }
    }
    if (r.status == 0) {
        r.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    st->status = r.status;
    ret = send_reply(conn, &r, q.gzip_ok);
    http_entry_release(r.entry);
    return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    bch_warn("http", "%s", msg);
}

/* ---------------------------------------------------------------- lifecycle */

static int parse_port(const char *s, unsigned *port)
{
    size_t n = strlen(s);
    unsigned v = 0;

    if (n == 0 || n > 5) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) {
        return -1;
    }
    *port = v;
    return 0;
}

/* "HOST:PORT", "[V6]:PORT", "localhost:PORT" or "PORT" into ss. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6, char *err,
                        size_t errlen)
{
    char host[64];
    const char *port_s;
    unsigned port;

    memset(ss, 0, sizeof(*ss));
    *v6 = false;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        size_t hlen = close ? (size_t)(close - listen - 1) : 0;

        if (!close || close[1] != ':' || hlen == 0 || hlen >= sizeof(host)) {
            goto bad;
        }
        memcpy(host, listen + 1, hlen);
        host[hlen] = '\0';
        port_s = close + 2;
        *v6 = true;
    } else {
        const char *colon = strrchr(listen, ':');
        size_t hlen = colon ? (size_t)(colon - listen) : 0;

        if (colon && strchr(listen, ':') != colon) {
            goto bad; /* an IPv6 address needs brackets */
        }
        if (hlen >= sizeof(host)) {
            goto bad;
        }
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
        port_s = colon ? colon + 1 : listen;
        if (hlen == 0 || strcmp(host, "localhost") == 0) {
            snprintf(host, sizeof(host), "127.0.0.1");
        }
    }
    if (parse_port(port_s, &port)) {
        goto bad;
    }
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            goto bad;
        }
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            goto bad;
        }
    }
    return 0;
bad:
    snprintf(err, errlen,
             "listen address '%s': expected HOST:PORT with a numeric IPv4 address, "
             "[IPv6]:PORT, localhost:PORT or PORT",
             listen);
    return -1;
}

int bch_http_listen_check(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    bool v6;

    return parse_listen(listen && listen[0] ? listen : DEFAULT_LISTEN, &ss, &v6, err, errlen);
}

static void free_server(struct bch_http_server *s)
{
    if (!s) {
        return;
    }
    if (s->db_key_ok) {
        pthread_key_delete(s->db_key);
    }
    http_cache_release_all(&s->cache);
    pthread_mutex_destroy(&s->scrape_lock);
    pthread_mutex_destroy(&s->fp_lock);
    pthread_mutex_destroy(&s->sse_lock);
    pthread_cond_destroy(&s->sse_cond);
    bch_db_close(s->ticker_db);
    sqlite3_finalize(s->fp_stmt);
    bch_db_close(s->fp_db);
    free(s->db_path);
    free(s->assets_dir);
    free(s);
}

struct bch_http_server *bch_http_start(const struct bch_http_options *o, char *err, size_t errlen)
{
    struct bch_http_server *s = NULL;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    const char *listen = o->listen && o->listen[0] ? o->listen : DEFAULT_LISTEN;
    unsigned threads = o->threads ? o->threads : DEFAULT_THREADS;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    bool v6;
    char host[64];

    if (!o->db_path) {
        snprintf(err, errlen, "no warehouse given");
        return NULL;
    }
    if (threads > MAX_THREADS) {
        snprintf(err, errlen, "at most %d threads", MAX_THREADS);
        return NULL;
    }
    if (parse_listen(listen, &ss, &v6, err, errlen)) {
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    http_cache_init(&s->cache, CACHE_BYTES);
    pthread_mutex_init(&s->scrape_lock, NULL);
    pthread_mutex_init(&s->fp_lock, NULL);
    pthread_mutex_init(&s->sse_lock, NULL);
    pthread_cond_init(&s->sse_cond, NULL);
    s->latest_at = BCH_TIME_NONE;
    s->db_path = strdup(o->db_path);
    s->assets_dir = strdup(o->assets_dir && o->assets_dir[0] ? o->assets_dir : DEFAULT_ASSETS);
    if (!s->db_path || !s->assets_dir) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_key_create(&s->db_key, worker_db_free) != 0) {
        snprintf(err, errlen, "cannot create the per-thread connection key");
        goto fail;
    }
    s->db_key_ok = true;
    /* The ticker's connection doubles as the check that the warehouse opens. */
    s->ticker_db = bch_db_open(s->db_path, BCH_DB_READONLY, err, errlen);
    if (!s->ticker_db) {
        goto fail;
    }
    s->fp_db = bch_db_open(s->db_path, BCH_DB_READONLY, err, errlen);
    if (!s->fp_db) {
        goto fail;
    }
    s->fp_stmt = bch_db_prepare(s->fp_db, "PRAGMA data_version");
    if (!s->fp_stmt) {
        snprintf(err, errlen, "cannot prepare the warehouse fingerprint");
        goto fail;
    }
    http_metrics_init();
    /* The event thread first: a stream opened at once must know the latest snapshot. */
    if (http_sse_start(s, err, errlen)) {
        goto fail;
    }
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on '%s': %s", listen,
                 errno ? strerror(errno) : "libmicrohttpd refused the options");
        goto fail;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    if (v6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        snprintf(s->address, sizeof(s->address), "[%s]:%u", host, s->port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        snprintf(s->address, sizeof(s->address), "%s:%u", host, s->port);
    }
    return s;
fail:
    if (s->ticker_started) {
        http_sse_shutdown(s); /* no stream can be open: the daemon never ran */
    }
    if (s->daemon) {
        MHD_stop_daemon(s->daemon);
    }
    free_server(s);
    return NULL;
}

unsigned bch_http_port(const struct bch_http_server *s)
{
    return s ? s->port : 0;
}

void bch_http_address(const struct bch_http_server *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s ? s->address : "");
}

void bch_http_notify_snapshot(struct bch_http_server *s, int64_t at)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->sse_lock);
    if (s->latest_at == BCH_TIME_NONE || at > s->latest_at) {
        s->latest_at = at;
    }
    s->generation++;
    pthread_cond_broadcast(&s->sse_cond);
    pthread_mutex_unlock(&s->sse_lock);
}

void bch_http_stop(struct bch_http_server *s)
{
    if (!s) {
        return;
    }
    /* Suspended event streams must all be resumed and ended before
     * MHD_stop_daemon(), which refuses suspended connections. */
    http_sse_shutdown(s);
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
