#include "core/compat.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "sources/http_fetch.h"

void bch_http_opts_default(struct bch_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 30000;
    o->max_retries = 4;
    o->backoff_base_ms = 500;
    o->backoff_max_ms = 30000;
    o->max_wait_ms = 120000;
    o->max_body = 64u << 20;
}

void bch_http_response_release(struct bch_http_response *r)
{
    bch_buf_release(&r->body);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct xfer {
    struct bch_http_response *r;
    bool overflow;
    long retry_after_ms;
    volatile sig_atomic_t *stop;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;

    if (bch_buf_add(&x->r->body, p, size * n)) {
        x->overflow = true;
        return 0;
    }
    return size * n;
}

static long header_long(const char *v)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v) {
        return -1;
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    char line[512];
    char *colon, *v;

    if (len >= sizeof(line)) {
        return len;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) {
        line[--len] = '\0';
    }
    colon = strchr(line, ':');
    if (!colon) {
        return size * n;
    }
    *colon = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    if (strcasecmp(line, "Retry-After") == 0) {
        long s = header_long(v);

        if (s >= 0) {
            x->retry_after_ms = s * 1000;
        } else {
            time_t when = curl_getdate(v, NULL);

            if (when > 0) {
                x->retry_after_ms = ((long)(when - time(NULL))) * 1000;
                if (x->retry_after_ms < 0) {
                    x->retry_after_ms = 0;
                }
            }
        }
    } else if (strcasecmp(line, "X-RateLimit-Limit") == 0) {
        x->r->ratelimit_limit = header_long(v);
    } else if (strcasecmp(line, "X-RateLimit-Remaining") == 0) {
        x->r->ratelimit_remaining = header_long(v);
    } else if (strcasecmp(line, "X-RateLimit-Reset") == 0) {
        x->r->ratelimit_reset = header_long(v);
    }
    return size * n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct xfer *x = ud;

    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return x->stop && *x->stop ? 1 : 0;
}

void bch_http_describe_error(const struct bch_http_response *r, char *out, size_t outlen)
{
    json_t *j = NULL;
    size_t n = 0;

    if (r->body.len > 0) {
        j = json_loadb(r->body.data, r->body.len, 0, NULL);
    }
    if (json_is_object(j)) {
        const char *code = json_string_value(json_object_get(j, "error_code"));
        const char *msg = json_string_value(json_object_get(j, "message"));

        if (!msg) {
            msg = json_string_value(json_object_get(j, "error"));
        }
        if (code || msg) {
            snprintf(out, outlen, "HTTP %ld %s%s%s", r->status, code ? code : "",
                     code && msg ? ": " : "", msg ? msg : "");
            json_decref(j);
            return;
        }
    }
    json_decref(j);
    if (strstr(r->content_type, "html") ||
        (r->body.len > 0 && (r->body.data[0] == '<' || strstr(r->body.data, "<html")))) {
        snprintf(out, outlen, "HTTP %ld with an HTML page instead of data", r->status);
        return;
    }
    n = snprintf(out, outlen, "HTTP %ld", r->status);
    if (r->body.len > 0 && n + 4 < outlen) {
        size_t take = r->body.len < 120 ? r->body.len : 120;

        snprintf(out + n, outlen - n, ": %.*s", (int)take, r->body.data);
        for (char *p = out + n; *p; p++) {
            if (*p == '\n' || *p == '\r') {
                *p = ' ';
            }
        }
    }
}

/* Interruptible sleep. */
static void wait_ms(long ms, volatile sig_atomic_t *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        long step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, step * 1000000L};

        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static long backoff_ms(const struct bch_http_opts *o, int attempt)
{
    long cap = o->backoff_base_ms;

    for (int i = 0; i < attempt && cap < o->backoff_max_ms; i++) {
        cap *= 2;
    }
    if (cap > o->backoff_max_ms) {
        cap = o->backoff_max_ms;
    }
    /* Full jitter: spreads retries of many clients over the whole window. */
    return cap > 0 ? (long)(((double)random() / (double)RAND_MAX) * (double)cap) : 0;
}

void bch_http_backoff_wait(const struct bch_http_opts *o, int attempt)
{
    wait_ms(backoff_ms(o, attempt), o->stop);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bch_http_get(const char *url, const struct bch_http_opts *o, struct bch_http_response *r,
                 char *err, size_t errlen)
{
    static struct bch_metric *latency;
    static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    CURL *c;
    struct curl_slist *hdrs = NULL;
    double t0 = now_s();
    int rc = BCH_ERR_NET;

    pthread_once(&curl_once, curl_init_once);
    if (!latency) {
        latency = bch_metric_histogram("bouchon_fetch_duration_seconds",
                                       "Duration of one HTTP attempt against the open data API.",
                                       buckets, BCH_ARRAY_LEN(buckets));
    }
    memset(r, 0, sizeof(*r));
    bch_buf_init(&r->body, o->max_body);
    r->ratelimit_limit = r->ratelimit_remaining = r->ratelimit_reset = -1;
    err[0] = '\0';
    c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return BCH_ERR;
    }
    if (o->api_key && o->api_key[0]) {
        char h[512];

        snprintf(h, sizeof(h), "Authorization: Apikey %s", o->api_key);
        hdrs = curl_slist_append(hdrs, h);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json, text/csv;q=0.9, */*;q=0.1");
    for (int attempt = 0; attempt <= o->max_retries; attempt++) {
        struct xfer x = {r, false, -1, o->stop};
        char cerr[CURL_ERROR_SIZE] = "";
        CURLcode cc;
        long wait;
        char *ct = NULL;
        double t1 = now_s();

        bch_buf_reset(&r->body);
        r->status = 0;
        r->content_type[0] = '\0';
        r->attempts = attempt + 1;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "bouchon/0.1 (+traffic jam analytics)");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        cc = curl_easy_perform(c);
        bch_metric_observe(latency, NULL, now_s() - t1);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
            snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
        }
        if (o->stop && *o->stop) {
            snprintf(err, errlen, "interrupted");
            rc = BCH_ERR_NET;
            break;
        }
        if (cc != CURLE_OK) {
            if (x.overflow) {
                snprintf(err, errlen, "response body larger than %zu bytes", o->max_body);
                rc = BCH_ERR_INPUT;
                break;
            }
            snprintf(err, errlen, "%s%s%s", curl_easy_strerror(cc), cerr[0] ? ": " : "", cerr);
            rc = BCH_ERR_NET;
        } else if (r->status >= 200 && r->status < 300) {
            rc = 0;
            break;
        } else {
            bch_http_describe_error(r, err, errlen);
            if (r->status != 429 && r->status < 500) {
                rc = BCH_ERR_INPUT;
                break;
            }
            rc = BCH_ERR_NET;
        }
        if (attempt == o->max_retries) {
            break;
        }
        wait = backoff_ms(o, attempt);
        if (x.retry_after_ms >= 0) {
            wait = x.retry_after_ms;
        } else if (r->status == 429 && r->ratelimit_remaining == 0 && r->ratelimit_reset > 0) {
            wait = (long)(r->ratelimit_reset - (long)time(NULL)) * 1000;
        }
        if (wait > o->max_wait_ms) {
            wait = o->max_wait_ms;
        }
        if (wait < 0) {
            wait = 0;
        }
        bch_warn("http", "GET %s: %s; retry %d/%d in %.1f s", url, err, attempt + 1, o->max_retries,
                 (double)wait / 1000.0);
        wait_ms(wait, o->stop);
    }
    r->elapsed_s = now_s() - t0;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

char *bch_http_load_api_key(const char *path)
{
    const char *env = getenv("BOUCHON_API_KEY");
    const char *file = getenv("BOUCHON_API_KEY_FILE");
    char line[512];
    FILE *f;
    size_t n;

    if (env && env[0]) {
        return strdup(env);
    }
    if (path && path[0]) {
        file = path;
    }
    if (!file || !file[0]) {
        return NULL;
    }
    f = fopen(file, "r");
    if (!f) {
        bch_error("http", "cannot read the API key file '%s': %s", file, strerror(errno));
        return NULL;
    }
    if (!fgets(line, sizeof(line), f)) {
        line[0] = '\0';
    }
    fclose(f);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
    return n ? strdup(line) : NULL;
}
