/*
 * http_fetch.h - HTTP GET with timeouts, retries, backoff and rate limits.
 *
 * Retries (up to max_retries more attempts) on network errors, timeouts,
 * truncated bodies, HTTP 5xx and 429; never on other 4xx.  The wait before
 * attempt n is a random value in [0, min(backoff_max, backoff_base * 2^n)]
 * ("full jitter"), replaced by the server's Retry-After (seconds or
 * HTTP-date) or, when X-RateLimit-Remaining is 0, by X-RateLimit-Reset, both
 * capped at max_wait_ms.  Waits end early when *stop becomes non-zero.
 *
 * The API key, if any, travels in the Authorization header ("Apikey KEY",
 * as Opendatasoft expects), never in the URL, so URLs can be logged as is.
 */
#ifndef BCH_HTTP_FETCH_H
#define BCH_HTTP_FETCH_H

#include "core/buf.h"
#include "core/compat.h"

#include <signal.h>

struct bch_http_opts {
    long connect_timeout_ms;     /* default 10000 */
    long timeout_ms;             /* whole transfer, default 30000 */
    int max_retries;             /* default 4 */
    long backoff_base_ms;        /* default 500 */
    long backoff_max_ms;         /* default 30000 */
    long max_wait_ms;            /* cap on Retry-After / rate-limit waits, default 120000 */
    size_t max_body;             /* default 64 MiB */
    const char *api_key;         /* NULL: none */
    volatile sig_atomic_t *stop; /* optional: abort waits and transfers when set */
};

void bch_http_opts_default(struct bch_http_opts *o);

struct bch_http_response {
    long status;         /* last HTTP status, 0 if no response */
    struct bch_buf body; /* owned; release with bch_http_response_release */
    char content_type[128];
    long ratelimit_limit; /* -1 if absent */
    long ratelimit_remaining;
    long ratelimit_reset; /* as sent (epoch seconds), -1 if absent */
    int attempts;
    double elapsed_s; /* all attempts and waits */
};

void bch_http_response_release(struct bch_http_response *r);

/*
 * Waits the full-jitter backoff of retry number attempt (0 = the first
 * retry), as bch_http_get() does between its own tries; returns early when
 * o->stop is set.  For callers that retry a 200 answer whose body is unusable
 * (cut JSON, an HTML page): without it they would hammer the portal.
 */
void bch_http_backoff_wait(const struct bch_http_opts *o, int attempt);

/*
 * GETs url.  Returns 0 on HTTP 2xx (body in r), BCH_ERR_NET when every
 * attempt failed with a retryable error, BCH_ERR_INPUT on a non-retryable
 * HTTP error (4xx other than 429: r holds the status and body).  err says
 * what happened, including the API's own error message when the body is an
 * Opendatasoft error JSON.  r must be released by the caller in all cases.
 */
int bch_http_get(const char *url, const struct bch_http_opts *o, struct bch_http_response *r,
                 char *err, size_t errlen);

/*
 * Describes an HTTP error body for humans: the Opendatasoft error JSON
 * ("error_code", "message"), an HTML page, or the first bytes of the body.
 */
void bch_http_describe_error(const struct bch_http_response *r, char *out, size_t outlen);

/*
 * Reads the API key: $BOUCHON_API_KEY, else the first line of the file
 * named by $BOUCHON_API_KEY_FILE or by path (may be NULL).  Returns a
 * malloc'ed key or NULL when none is configured.
 */
char *bch_http_load_api_key(const char *path);

#endif
