/*
 * bouchon serve - the dashboard and the HTTP API over a warehouse.
 */
#include "core/compat.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>

#include "cli/cli.h"
#include "core/err.h"
#include "http/server.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon serve --db FILE [--listen ADDR] [--assets DIR] [--threads N]\n"
    "\n"
    "Serves the dashboard (static files from --assets), the JSON/GeoJSON API under\n"
    "/api/v1/ (docs/API.md), server-sent events at /api/v1/events, Prometheus\n"
    "metrics at /metrics and a liveness probe at /healthz, reading the warehouse\n"
    "read-only.  Another process may write into it meanwhile (`bouchon run`,\n"
    "`bouchon replay`): new snapshots are picked up within seconds.  Runs until\n"
    "SIGINT or SIGTERM.\n"
    "\n"
    "  --db FILE        the SQLite warehouse (must exist)\n"
    "  --listen ADDR    HOST:PORT, [IPv6]:PORT or PORT (default 127.0.0.1:8080);\n"
    "                   port 0 picks a free port.  Binds to loopback unless told\n"
    "                   otherwise: anything else exposes the API to the network\n"
    "  --assets DIR     dashboard files, built by `sh web/build.sh DIR`\n"
    "                   (default build/web)\n"
    "  --threads N      worker threads, 1..64 (default 4)\n"
    "\n"
    "Prints \"serving http://HOST:PORT\" on stderr once listening.\n"
    "Exit: 0 stopped by a signal; 2 usage (also a malformed --listen); 5 the\n"
    "warehouse cannot be opened; 1 the address cannot be bound.\n";

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},     {"listen", required_argument, NULL, 'l'},
        {"assets", required_argument, NULL, 'a'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    struct bch_http_options o = {0};
    struct bch_http_server *srv;
    char err[512] = "", addr[96];
    sigset_t block, old, wait_mask;
    sqlite3 *db;
    long long v;
    int c;

    o.listen = "127.0.0.1:8080";
    o.assets_dir = "build/web";
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.db_path = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'a':
            o.assets_dir = optarg;
            break;
        case 't':
            if (bch_cli_int("--threads", optarg, 1, 64, &v)) {
                return BCH_EXIT_USAGE;
            }
            o.threads = (unsigned)v;
            break;
        case 'h':
            fputs(usage, stdout);
            return BCH_EXIT_OK;
        default:
            fputs(usage, stderr);
            return BCH_EXIT_USAGE;
        }
    }
    if (!o.db_path) {
        return bch_cli_usage_error("serve", "--db is required");
    }
    if (optind < argc) {
        return bch_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    }
    if (bch_http_listen_check(o.listen, err, sizeof(err))) {
        return bch_cli_usage_error("serve", "%s", err);
    }
    /* Tell a warehouse problem (exit 5) from a bind problem (exit 1). */
    db = bch_db_open(o.db_path, BCH_DB_READONLY, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "bouchon serve: %s\n", err);
        return BCH_EXIT_DB;
    }
    bch_cli_warn_immutable("serve", db, o.db_path);
    bch_db_close(db);

    /* Signals go to this thread only (the server's threads inherit the
     * mask), which waits for them in sigsuspend(). */
    bch_cli_install_signals();
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    srv = bch_http_start(&o, err, sizeof(err));
    if (!srv) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "bouchon serve: %s\n", err);
        return BCH_EXIT_INTERNAL;
    }
    bch_http_address(srv, addr, sizeof(addr));
    fprintf(stderr, "serving http://%s\n", addr);
    fflush(stderr);
    wait_mask = old;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    while (!bch_cli_stop) {
        sigsuspend(&wait_mask);
    }
    fprintf(stderr, "bouchon serve: stopping\n");
    bch_http_stop(srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return BCH_EXIT_OK;
}
