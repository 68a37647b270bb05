#include "core/compat.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "kafka/metrics_http.h"

struct bch_metrics_http {
    struct MHD_Daemon *d;
    unsigned port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;

    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct bch_buf b;

    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return reply(c, 405, "text/plain; charset=utf-8", strdup("method not allowed\n"), 19);
    }
    if (strcmp(url, "/healthz") == 0) {
        return reply(c, 200, "text/plain; charset=utf-8", strdup("ok\n"), 3);
    }
    if (strcmp(url, "/metrics") != 0) {
        return reply(c, 404, "text/plain; charset=utf-8", strdup("not found\n"), 10);
    }
    bch_buf_init(&b, 16u << 20);
    if (bch_metrics_render(&b) || !b.data) {
        bch_buf_release(&b);
        return reply(c, 500, "text/plain; charset=utf-8", strdup("metrics too large\n"), 18);
    }
    {
        size_t len = b.len;

        return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", bch_buf_take(&b), len);
    }
}

struct bch_metrics_http *bch_metrics_http_start(const char *listen, char *err, size_t errlen)
{
    struct bch_metrics_http *s;
    struct sockaddr_in sa;
    const char *colon = strrchr(listen, ':');
    char host[64] = "127.0.0.1";
    char *end = NULL;
    long port;
    const union MHD_DaemonInfo *info;

    if (colon) {
        size_t n = (size_t)(colon - listen);

        if (n == 0 || n >= sizeof(host)) {
            snprintf(err, errlen, "bad listen address '%s'", listen);
            return NULL;
        }
        memcpy(host, listen, n);
        host[n] = '\0';
        if (strcmp(host, "localhost") == 0) {
            snprintf(host, sizeof(host), "127.0.0.1");
        }
    }
    port = strtol(colon ? colon + 1 : listen, &end, 10);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (!end || *end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad listen address '%s' (want HOST:PORT, IPv4)", listen);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
        free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (unsigned)port;
    return s;
}

unsigned bch_metrics_http_port(const struct bch_metrics_http *s)
{
    return s->port;
}

void bch_metrics_http_stop(struct bch_metrics_http *s)
{
    if (s) {
        MHD_stop_daemon(s->d);
        free(s);
    }
}
