/*
 * sse.c - GET /api/v1/events: server-sent events announcing new snapshots.
 *
 * A stream is a libmicrohttpd callback response.  When a stream has nothing
 * to send its content reader suspends the connection (returning 0 without
 * suspending would make the polling thread spin); the ticker thread resumes
 * it when there is news (a new snapshot: bch_http_notify_snapshot() or a
 * newer snapshot seen by polling the warehouse every POLL_S seconds) or a
 * keep-alive comment is due.  s->sse_lock guards the list, every client's
 * fields and s->stopping, and is held across suspend / resume so that a
 * connection is never resumed unless it is suspended.
 */
#include "core/compat.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "warehouse/db.h"

#define KEEPALIVE_S 15.0
#define POLL_S      3.0

struct sse_client {
    struct bch_http_server *srv;
    struct MHD_Connection *conn;
    struct sse_client *next;
    struct sse_client **pprev;
    uint64_t sent_generation;
    bool hello_sent;
    bool suspended;
    bool gone; /* the client hung up while the stream was suspended */
    double next_keepalive;
    char out[256];
    size_t out_len, out_pos;
};

/* Caller holds the lock. */
static void format_event(struct sse_client *c, bool hello)
{
    char at[32] = "null";
    int n;

    if (c->srv->latest_at != BCH_TIME_NONE) {
        at[0] = '"';
        bch_time_format_utc(c->srv->latest_at, at + 1, sizeof(at) - 2);
        n = (int)strlen(at);
        at[n] = '"';
        at[n + 1] = '\0';
    }
    n = snprintf(c->out, sizeof(c->out), "%sevent: snapshot\ndata: {\"at\":%s}\n\n",
                 hello ? "retry: 5000\n" : "", at);
    c->out_len = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
    c->out_pos = 0;
    c->sent_generation = c->srv->generation;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_client *c = cls;
    struct bch_http_server *s = c->srv;
    size_t n;

    (void)pos;
    pthread_mutex_lock(&s->sse_lock);
    if (c->out_pos >= c->out_len) {
        double now = http_now_mono();

        if (s->stopping || c->gone) {
            pthread_mutex_unlock(&s->sse_lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!c->hello_sent) {
            format_event(c, true);
            c->hello_sent = true;
        } else if (c->sent_generation != s->generation) {
            format_event(c, false);
        } else if (now >= c->next_keepalive) {
            c->out_len = (size_t)snprintf(c->out, sizeof(c->out), ": keep-alive\n\n");
            c->out_pos = 0;
        } else {
            /* Nothing to say: park the connection until the ticker resumes it. */
            c->suspended = true;
            MHD_suspend_connection(c->conn);
            pthread_mutex_unlock(&s->sse_lock);
            return 0;
        }
        c->next_keepalive = now + KEEPALIVE_S;
    }
    n = c->out_len - c->out_pos;
    if (n > max) {
        n = max;
    }
    memcpy(buf, c->out + c->out_pos, n);
    c->out_pos += n;
    pthread_mutex_unlock(&s->sse_lock);
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    struct sse_client *c = cls;
    struct bch_http_server *s = c->srv;

    pthread_mutex_lock(&s->sse_lock);
    *c->pprev = c->next;
    if (c->next) {
        c->next->pprev = c->pprev;
    }
    s->nsse--;
    pthread_cond_broadcast(&s->sse_cond);
    pthread_mutex_unlock(&s->sse_lock);
    free(c);
}

void http_events(struct http_request *q, struct http_reply *r)
{
    struct bch_http_server *s = q->srv;
    struct sse_client *c = calloc(1, sizeof(*c));
    struct MHD_Response *resp;
    struct http_params p;
    char msg[200];

    r->no_store = true;
    if (!c) {
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    if (http_params_parse(q->query, 0, &p, msg, sizeof(msg))) {
        free(c);
        http_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", msg);
        return;
    }
    c->srv = s;
    c->conn = q->conn;
    pthread_mutex_lock(&s->sse_lock);
    if (s->stopping || s->nsse >= SSE_MAX_CLIENTS) {
        pthread_mutex_unlock(&s->sse_lock);
        free(c);
        http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "too many event streams open (%d)",
                         SSE_MAX_CLIENTS);
        return;
    }
    c->next = s->sse;
    if (s->sse) {
        s->sse->pprev = &c->next;
    }
    s->sse = c;
    c->pprev = &s->sse;
    s->nsse++;
    pthread_mutex_unlock(&s->sse_lock);
    /* From here on sse_free() owns c, even when creation fails. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_read, c, sse_free);
    if (!resp) {
        http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    r->resp = resp;
    r->status = MHD_HTTP_OK;
}

/* The warehouse's newest payload id and snapshot instant (ticker connection);
 * BCH_TIME_NONE where there is none. */
static void poll_db(sqlite3 *db, int64_t fp[2])
{
    static const char *sql =
        "SELECT (SELECT max(source_id) FROM raw_source), (SELECT max(at) FROM snapshot)";
    sqlite3_stmt *st = NULL;

    fp[0] = fp[1] = BCH_TIME_NONE;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < 2; i++) {
            if (sqlite3_column_type(st, i) != SQLITE_NULL) {
                fp[i] = sqlite3_column_int64(st, i);
            }
        }
    }
    sqlite3_finalize(st);
}

/*
 * libmicrohttpd does not watch a suspended connection, so a client that
 * hangs up would hold its slot until the next keep-alive write fails (15 to
 * 30 s).  Peeking at the socket (it is not being read while suspended)
 * tells at once.
 */
static bool hung_up(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char byte;
    ssize_t n;

    if (!ci) {
        return false;
    }
    /* 0: orderly shutdown; -1 other than "nothing to read": reset. */
    n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Caller holds the lock: resumes the streams that have something to send. */
static void wake_due(struct bch_http_server *s)
{
    double now = http_now_mono();

    for (struct sse_client *c = s->sse; c; c = c->next) {
        if (c->suspended && !c->gone && hung_up(c->conn)) {
            c->gone = true;
        }
        if (c->suspended && (s->stopping || c->gone || c->sent_generation != s->generation ||
                             now >= c->next_keepalive)) {
            c->suspended = false;
            MHD_resume_connection(c->conn);
        }
    }
}

static void *ticker_main(void *arg)
{
    struct bch_http_server *s = arg;
    int64_t fp[2];
    double last_poll = http_now_mono();

    pthread_mutex_lock(&s->sse_lock);
    while (!s->stopping) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->sse_cond, &s->sse_lock, &ts);
        if (s->stopping) {
            break;
        }
        if (http_now_mono() - last_poll >= POLL_S) {
            pthread_mutex_unlock(&s->sse_lock);
            poll_db(s->ticker_db, fp);
            pthread_mutex_lock(&s->sse_lock);
            last_poll = http_now_mono();
            /* A newer snapshot than any announced: one written by another
             * process (an embedding writer has announced its own already). */
            if (fp[1] != BCH_TIME_NONE && (s->latest_at == BCH_TIME_NONE || fp[1] > s->latest_at)) {
                s->latest_at = fp[1];
                s->generation++;
            }
        }
        wake_due(s);
    }
    pthread_mutex_unlock(&s->sse_lock);
    return NULL;
}

int http_sse_start(struct bch_http_server *s, char *err, size_t errlen)
{
    int64_t fp[2];

    /* Known before the first client can connect: its hello event says it. */
    poll_db(s->ticker_db, fp);
    pthread_mutex_lock(&s->sse_lock);
    if (fp[1] != BCH_TIME_NONE && (s->latest_at == BCH_TIME_NONE || fp[1] > s->latest_at)) {
        s->latest_at = fp[1];
    }
    pthread_mutex_unlock(&s->sse_lock);
    if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
        snprintf(err, errlen, "cannot start the event thread");
        return -1;
    }
    s->ticker_started = true;
    return 0;
}

void http_sse_shutdown(struct bch_http_server *s)
{
    double deadline = http_now_mono() + 3.0;

    pthread_mutex_lock(&s->sse_lock);
    s->stopping = true;
    wake_due(s); /* every suspended stream: its reader now ends it */
    pthread_cond_broadcast(&s->sse_cond);
    pthread_mutex_unlock(&s->sse_lock);
    if (s->ticker_started) {
        pthread_join(s->ticker, NULL);
        s->ticker_started = false;
    }
    /* Wait for libmicrohttpd to close the ended streams. */
    pthread_mutex_lock(&s->sse_lock);
    while (s->nsse > 0 && http_now_mono() < deadline) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        wake_due(s);
        pthread_cond_timedwait(&s->sse_cond, &s->sse_lock, &ts);
    }
    if (s->nsse > 0) {
        bch_warn("http", "%u event streams still open at shutdown", s->nsse);
    }
    pthread_mutex_unlock(&s->sse_lock);
}

unsigned http_sse_clients(struct bch_http_server *s)
{
    unsigned n;

    pthread_mutex_lock(&s->sse_lock);
    n = s->nsse;
    pthread_mutex_unlock(&s->sse_lock);
    return n;
}
