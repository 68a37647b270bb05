/*
 * bouchon run - the main job: poll the live API (or replay files) into the
 * warehouse, keep the analytics current, and optionally serve the dashboard.
 */
#include "core/compat.h"

#include <getopt.h>
#include <time.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/server.h"
#include "pipeline/loader.h"
#include "pipeline/replay.h"
#include "sources/ods.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon run [--db FILE] [--interval S] [--base-url URL] [--listen ADDR]\n"
    "                   [--replay INPUT...]\n"
    "\n"
    "Polls ci_trafi_l every interval from the Opendatasoft API v2.1 (records pages\n"
    "of 100), stores each snapshot in every warehouse layer and updates the jam\n"
    "analytics, logging one line per poll.  With --replay, plays the given files\n"
    "or folders in time order instead of polling, then stops (or keeps serving\n"
    "with --listen).  Stops cleanly on SIGINT/SIGTERM.\n"
    "\n"
    "  --db FILE           warehouse (default bouchon.db)\n"
    "  --interval S        seconds between polls (default 60, minimum 5)\n"
    "  --base-url URL      portal (default " BCH_ODS_DEFAULT_BASE_URL ")\n"
    "  --dataset ID        dataset (default ci_trafi_l)\n"
    "  --api-key-file F    API key file; or BOUCHON_API_KEY (never logged)\n" BCH_HTTP_HELP
    "  --once              one poll, then exit (exit 4 if it failed)\n"
    "  --max-polls N       stop after N polls\n"
    "  --listen ADDR       also serve the dashboard and API (e.g. 127.0.0.1:8080)\n"
    "  --assets DIR        dashboard files (default build/web)\n"
    "  --replay            the remaining arguments are files or folders to play\n"
    "  --pace S            with --replay: pause S seconds between snapshots\n" BCH_LOADER_HELP;

struct run_ctx {
    struct bch_http_server *http;
    struct bch_metric *polls, *records, *last_ok, *obs;
};

static struct run_ctx g_run;

static void count_poll(const char *outcome)
{
    char l[64];

    bch_metrics_label(l, sizeof(l), "outcome", outcome);
    bch_metric_add(g_run.polls, l, 1);
}

static void count_records(const struct bch_load_result *r)
{
    char l[64];

    bch_metrics_label(l, sizeof(l), "outcome", "stored");
    bch_metric_add(g_run.records, l, (double)(r->records - r->coerced));
    bch_metrics_label(l, sizeof(l), "outcome", "coerced");
    bch_metric_add(g_run.records, l, (double)r->coerced);
    bch_metrics_label(l, sizeof(l), "outcome", "rejected");
    bch_metric_add(g_run.records, l, (double)r->rejected);
    bch_metric_add(g_run.obs, NULL, (double)r->observations);
}

static void init_metrics(void)
{
    g_run.polls = bch_metric_counter("bouchon_polls_total", "Polls of the live feed by outcome.");
    g_run.records = bch_metric_counter("bouchon_records_total", "Records received by outcome.");
    g_run.obs = bch_metric_counter("bouchon_observations_stored_total",
                                   "New observations stored in the warehouse.");
    g_run.last_ok = bch_metric_gauge("bouchon_last_successful_poll_timestamp_seconds",
                                     "Unix time of the last poll stored successfully.");
}

static void on_replayed(void *ctx, const char *path, const struct bch_load_result *r)
{
    (void)ctx;
    (void)path;
    count_poll(r->skipped ? "skipped" : "ok");
    if (!r->skipped) {
        count_records(r);
        bch_metric_set(g_run.last_ok, NULL, (double)bch_now());
        if (g_run.http && r->snapshot_at != BCH_TIME_NONE) {
            bch_http_notify_snapshot(g_run.http, r->snapshot_at);
        }
    }
}

static void sleep_until(double deadline)
{
    while (!bch_cli_stop) {
        struct timespec now, ts;
        double left;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = deadline - ((double)now.tv_sec + (double)now.tv_nsec / 1e9);
        if (left <= 0) {
            return;
        }
        if (left > 0.2) {
            left = 0.2;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (long)(left * 1e9);
        nanosleep(&ts, NULL);
    }
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One poll: fetch, load in one transaction.  Returns 0 or a bch_err. */
static int poll_once(struct bch_loader *l, const char *base, const char *dataset,
                     const struct bch_http_opts *http, struct bch_buf *payload, long n)
{
    struct bch_ods_stats st;
    struct bch_load_result r;
    struct bch_payload_meta meta;
    char err[512], url[1024], what[64];
    bch_time fetched = bch_now();
    int rc;

    rc = bch_ods_fetch_records(base, dataset, BCH_ODS_MAX_LIMIT, http, payload, &st, err,
                               sizeof(err));
    if (rc) {
        if (!bch_cli_stop) {
            bch_error("run", "poll %ld: %s: %s", n, dataset, err);
        }
        count_poll(rc == BCH_ERR_NET ? "network_error" : "bad_payload");
        return rc;
    }
    snprintf(url, sizeof(url), "%s/api/explore/v2.1/catalog/datasets/%s/records", base, dataset);
    meta.kind = "api";
    meta.name = url;
    meta.dataset = dataset;
    meta.fetched_at = fetched;
    if (bch_loader_begin(l)) {
        count_poll("db_error");
        return BCH_ERR_DB;
    }
    rc = bch_loader_load(l, payload->data, payload->len, &meta, &r, err, sizeof(err));
    if (rc && rc != BCH_ERR_INPUT) {
        bch_loader_rollback(l);
        count_poll("db_error");
        return BCH_ERR_DB;
    }
    if (bch_loader_commit(l)) {
        bch_loader_rollback(l);
        count_poll("db_error");
        return BCH_ERR_DB;
    }
    snprintf(what, sizeof(what), "poll %ld", n);
    bch_replay_log_payload(what, &r);
    if (r.flag) {
        bch_warn("run", "poll %ld: the feed is %s: nothing is known about the network", n,
                 strcmp(r.flag, "empty") == 0 ? "empty" : "all INCONNU");
    }
    count_poll(rc == BCH_ERR_INPUT ? "bad_payload" : r.flag ? "flagged" : "ok");
    count_records(&r);
    if (rc == 0) {
        bch_metric_set(g_run.last_ok, NULL, (double)fetched);
    }
    if (g_run.http && r.snapshot_at != BCH_TIME_NONE) {
        bch_http_notify_snapshot(g_run.http, r.snapshot_at);
    }
    return rc;
}

static int poll_loop(const char *dbpath, const struct bch_loader_options *lo, const char *base,
                     const char *dataset, const struct bch_http_opts *http, double interval,
                     bool once, long max_polls)
{
    char err[512] = "";
    sqlite3 *db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));
    struct bch_loader *l;
    struct bch_buf payload;
    int last = 0;
    long n = 0;

    if (!db) {
        bch_error("run", "%s", err);
        return BCH_EXIT_DB;
    }
    l = bch_loader_new(db, lo, err, sizeof(err));
    if (!l) {
        bch_error("run", "%s", err);
        bch_db_close(db);
        return BCH_EXIT_DB;
    }
    bch_buf_init(&payload, 256u << 20);
    bch_info("run", "polling %s every %.0f s into %s", dataset, interval, dbpath);
    while (!bch_cli_stop) {
        double start = mono();

        n++;
        last = poll_once(l, base, dataset, http, &payload, n);
        if (last == BCH_ERR_DB) {
            break;
        }
        if (once || (max_polls > 0 && n >= max_polls)) {
            break;
        }
        sleep_until(start + interval);
    }
    bch_buf_release(&payload);
    bch_loader_free(l);
    bch_db_close(db);
    bch_info("run", "stopped after %ld poll(s)", n);
    if (last == BCH_ERR_DB) {
        return BCH_EXIT_DB;
    }
    if (once && last) {
        return bch_exit_code(last);
    }
    return BCH_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"interval", required_argument, NULL, 'i'},
        {"base-url", required_argument, NULL, 'u'},
        {"dataset", required_argument, NULL, 'D'},
        {"api-key-file", required_argument, NULL, 'k'},

        {"once", no_argument, NULL, '1'},
        {"max-polls", required_argument, NULL, 'm'},
        {"listen", required_argument, NULL, 'l'},
        {"assets", required_argument, NULL, 'a'},
        {"replay", no_argument, NULL, 'R'},
        {"pace", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        BCH_LOADER_LONGOPTS,
        BCH_HTTP_LONGOPTS,
        {0},
    };
    const char *dbpath = "bouchon.db", *base = BCH_ODS_DEFAULT_BASE_URL, *dataset = "ci_trafi_l";
    const char *keyfile = NULL, *listen = NULL, *assets = "build/web";
    struct bch_replay_options ro;
    struct bch_http_opts http;
    double interval = 60, v;
    bool once = false, replay = false;
    long max_polls = 0;
    char *key = NULL;
    int c, rc;

    bch_replay_options_default(&ro);
    bch_http_opts_default(&http);
    optind = 1;
    /* "+" stops at the first non-option: after --replay everything is an input. */
    while (!replay && (c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'i':
            if (bch_cli_number("--interval", optarg, 86400, &interval) || interval < 5) {
                return bch_cli_usage_error("run", "--interval must be at least 5 seconds");
            }
            break;
        case 'u':
            base = optarg;
            break;
        case 'D':
            dataset = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case '1':
            once = true;
            break;
        case 'm':
            if (bch_cli_number("--max-polls", optarg, 1e9, &v)) {
                return BCH_EXIT_USAGE;
            }
            max_polls = (long)v;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'a':
            assets = optarg;
            break;
        case 'R':
            replay = true;
            break;
        case 'p':
            if (bch_cli_number("--pace", optarg, 3600, &ro.pace_s)) {
                return BCH_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return BCH_EXIT_OK;
        default:
            rc = bch_cli_loader_option(c, optarg, &ro.loader);
            if (rc == 0) {
                rc = bch_cli_http_option(c, optarg, &http);
            }
            if (rc == 1) {
                break;
            }
            if (rc == 0) {
                fputs(usage, stderr);
            }
            return BCH_EXIT_USAGE;
        }
    }
    if (replay && optind >= argc) {
        return bch_cli_usage_error("run", "--replay needs at least one file or folder");
    }
    if (!replay && optind < argc) {
        return bch_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        return bch_cli_usage_error("run", "--base-url must start with http:// or https://");
    }
    bch_cli_install_signals();
    init_metrics();
    if (listen) {
        struct bch_http_options ho;
        char err[512];

        memset(&ho, 0, sizeof(ho));
        ho.listen = listen;
        ho.db_path = dbpath;
        ho.assets_dir = assets;
        /* The warehouse must exist (and be migrated) before readers open it. */
        {
            sqlite3 *db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));

            if (!db) {
                bch_error("run", "%s", err);
                return BCH_EXIT_DB;
            }
            bch_db_close(db);
        }
        g_run.http = bch_http_start(&ho, err, sizeof(err));
        if (!g_run.http) {
            bch_error("run", "cannot serve on %s: %s", listen, err);
            return BCH_EXIT_USAGE;
        }
        bch_http_address(g_run.http, err, sizeof(err));
        bch_info("run", "serving http://%s", err);
    }
    if (replay) {
        ro.time_order = true;
        rc = bch_replay_paths(dbpath, argv + optind, argc - optind, &ro, on_replayed);
        if (g_run.http && rc != BCH_EXIT_DB) {
            bch_info("run", "replay done; serving until interrupted");
            while (!bch_cli_stop) {
                sleep_until(mono() + 0.5);
            }
        }
    } else {
        key = bch_http_load_api_key(keyfile);
        http.api_key = key;
        http.stop = &bch_cli_stop;
        rc = poll_loop(dbpath, &ro.loader, base, dataset, &http, interval, once, max_polls);
        free(key);
    }
    if (g_run.http) {
        bch_http_stop(g_run.http);
        g_run.http = NULL;
    }
    return rc;
}
