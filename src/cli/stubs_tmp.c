#include "core/compat.h"
#include "cli/cli.h"
int cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return 1; }
#include "http/server.h"
__attribute__((weak)) struct bch_http_server *bch_http_start(const struct bch_http_options *o, char *err, size_t errlen) { (void)o; snprintf(err, errlen, "not built"); return NULL; }
__attribute__((weak)) void bch_http_notify_snapshot(struct bch_http_server *s, int64_t at) { (void)s; (void)at; }
__attribute__((weak)) void bch_http_stop(struct bch_http_server *s) { (void)s; }
