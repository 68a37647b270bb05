/*
 * bouchon run - the main job: poll the live API (or replay files) into the
 * warehouse, keep the analytics current, and optionally serve the dashboard.
 *
 * Each poll fetches ci_trafi_l (records pages, pipeline/loader.h), then the
 * live travel times of ci_tpstj_a (the export: 16 records; stored by
 * import/import.h bch_import_travel_live()).  The two are independent: a
 * failure of one is logged and counted and never stops the other.
 */
#include "core/compat.h"

#include <getopt.h>
#include <jansson.h>
#include <time.h>
#include <zlib.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/server.h"
#include "import/import.h"
#include "pipeline/loader.h"
#include "pipeline/replay.h"
#include "sources/ods.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon run [--db FILE] [--interval S] [--base-url URL] [--listen ADDR]\n"
    "                   [--no-travel-times] [--replay INPUT...]\n"
    "\n"
    "Polls ci_trafi_l every interval from the Opendatasoft API v2.1 (records pages\n"
    "of 100), stores each snapshot in every warehouse layer and updates the jam\n"
    "analytics, logging one line per poll.  After each traffic poll it also polls\n"
    "the live travel times of ci_tpstj_a (its JSON export, 16 corridors; a\n"
    "snapshot already stored is skipped), unless --no-travel-times; a failure of\n"
    "either poll never stops the other.  With --replay, plays the given files or\n"
    "folders in time order instead of polling (ci_tpstj_a files, recognised by\n"
    "their content, are stored as travel times), then stops (or keeps serving\n"
    "with --listen).  Stops cleanly on SIGINT/SIGTERM.\n"
    "\n"
    "  --db FILE           warehouse (default bouchon.db)\n"
    "  --interval S        seconds between polls (default 60, minimum 5)\n"
    "  --base-url URL      portal (default " BCH_ODS_DEFAULT_BASE_URL ")\n"
    "  --dataset ID        dataset (default ci_trafi_l)\n"
    "  --travel-dataset ID travel-times dataset (default ci_tpstj_a)\n"
    "  --travel-every N    poll travel times every N polls (default 1: each poll)\n"
    "  --no-travel-times   do not poll travel times; --replay skips their files\n"
    "  --api-key-file F    API key file; or BOUCHON_API_KEY (never logged)\n" BCH_HTTP_HELP
    "  --once              one poll of each dataset, then exit (exit 4 if one failed)\n"
    "  --max-polls N       stop after N polls (not with --once)\n"
    "  --listen ADDR       also serve the dashboard and API (e.g. 127.0.0.1:8080)\n"
    "  --assets DIR        dashboard files (default build/web)\n"
    "  --replay            the remaining arguments are files or folders to play\n"
    "  --pace S            with --replay: pause S seconds between snapshots\n" BCH_LOADER_HELP;

struct run_ctx {
    struct bch_http_server *http;
    struct bch_metric *polls, *records, *last_ok, *obs;
    struct bch_metric *tt_polls, *tt_samples, *tt_last_ok;
};

/* The travel-time side of the run. */
struct travel_opts {
    bool enabled;
    const char *dataset;
    long every; /* poll on polls 1, 1 + every, ... */
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

static void count_travel_poll(const char *outcome)
{
    char l[64];

    bch_metrics_label(l, sizeof(l), "outcome", outcome);
    bch_metric_add(g_run.tt_polls, l, 1);
}

static void count_travel_samples(const struct bch_import_live *r)
{
    static const char *const names[] = {"stored", "duplicate", "merged", "rejected"};
    const long v[] = {r->stored, r->duplicates, r->merged, r->rejected};
    char l[64];

    for (size_t i = 0; i < BCH_ARRAY_LEN(names); i++) {
        bch_metrics_label(l, sizeof(l), "outcome", names[i]);
        bch_metric_add(g_run.tt_samples, l, (double)v[i]);
    }
}

/* The travel-time families, their outcomes at 0 so that rate() and alerts see them. */
static void init_travel_metrics(void)
{
    static const char *const outcomes[] = {"ok", "unchanged", "bad_payload", "network_error",
                                           "db_error"};
    char l[64];

    g_run.tt_polls = bch_metric_counter("bouchon_travel_time_polls_total",
                                        "Polls of the live travel times (ci_tpstj_a) by outcome.");
    g_run.tt_samples = bch_metric_counter("bouchon_travel_time_samples_total",
                                          "Travel-time samples received by outcome.");
    g_run.tt_last_ok =
        bch_metric_gauge("bouchon_travel_time_last_successful_poll_timestamp_seconds",
                         "Unix time of the last travel-time poll stored (or found unchanged).");
    for (size_t i = 0; i < BCH_ARRAY_LEN(outcomes); i++) {
        bch_metrics_label(l, sizeof(l), "outcome", outcomes[i]);
        bch_metric_add(g_run.tt_polls, l, 0);
    }
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
    if (r.skipped) {
        /* The feed has not changed since a poll already stored (same bytes). */
        bch_info("load", "%s: unchanged snapshot (already stored), skipped", what);
    } else {
        bch_replay_log_payload(what, &r);
    }
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

/*
 * The travel-time export: one request for the 16 corridors (one records
 * page would do too, ordered by bm_gid, but the export also serves a
 * --travel-dataset whose key field is not known), with the retries of
 * http_fetch.h; a 200 body that is not a JSON list of records (cut in the
 * middle) is fetched again after the same backoff, like a records page.
 */
static int fetch_travel(const char *base, const char *dataset, const struct bch_http_opts *http,
                        struct bch_buf *payload, char *err, size_t errlen)
{
    int rc = BCH_ERR_INPUT;

    for (int attempt = 0; attempt <= http->max_retries; attempt++) {
        struct bch_ods_stats st;
        json_error_t jerr;
        json_t *root;
        bool ok;

        rc = bch_ods_fetch_export(base, dataset, "json", http, payload, &st, err, errlen);
        if (rc) {
            return rc;
        }
        root = payload->len ? json_loadb(payload->data, payload->len, 0, &jerr) : NULL;
        ok = root && (json_is_array(root) || json_is_array(json_object_get(root, "results")));
        if (root && !ok) {
            snprintf(err, errlen, "the export is not a list of records");
        } else if (!root) {
            snprintf(err, errlen, "invalid JSON in the export (line %d, column %d: %s)",
                     payload->len ? jerr.line : 0, payload->len ? jerr.column : 0,
                     payload->len ? jerr.text : "empty body");
        }
        json_decref(root);
        if (ok) {
            return 0;
        }
        rc = BCH_ERR_INPUT;
        if (http->stop && *http->stop) {
            break;
        }
        if (attempt < http->max_retries) {
            bch_warn("ods", "%s export: %s; trying again", dataset, err);
            bch_http_backoff_wait(http, attempt);
        }
    }
    return rc;
}

/* Logs and counts what a travel-time payload did; what is one of "poll N", a path. */
static void report_travel(const char *what, const char *dataset, int rc,
                          const struct bch_import_live *r, bch_time fetched)
{
    char at[32];

    if (rc && rc != BCH_ERR_INPUT) {
        bch_error("travel", "%s: %s: %s; travel times not stored", what, dataset,
                  rc == BCH_ERR_NOMEM ? "out of memory" : "warehouse error");
        count_travel_poll(rc == BCH_ERR_NOMEM ? "bad_payload" : "db_error");
        return;
    }
    if (r->skipped) {
        bch_debug("travel", "%s: %s: unchanged (this snapshot is stored)", what, dataset);
        count_travel_poll("unchanged");
        bch_metric_set(g_run.tt_last_ok, NULL, (double)fetched);
        return;
    }
    bch_time_format_utc(r->newest, at, sizeof(at));
    bch_info("travel",
             "%s: %s %s %ld samples, %ld new, %ld duplicates, %ld rejected; %ld flagged "
             "unhealthy",
             what, dataset, r->newest == BCH_TIME_NONE ? "-" : at, r->records, r->stored,
             r->duplicates, r->rejected, r->unhealthy);
    count_travel_poll(rc == BCH_ERR_INPUT ? "bad_payload" : "ok");
    count_travel_samples(r);
    if (rc == 0) {
        bch_metric_set(g_run.tt_last_ok, NULL, (double)fetched);
    }
}

/* One travel-time poll: fetch, store in one transaction.  0 or a bch_err. */
static int poll_travel(sqlite3 *db, const char *base, const char *dataset,
                       const struct bch_http_opts *http, struct bch_buf *payload, long n)
{
    struct bch_import_payload p;
    struct bch_import_live r;
    char err[512], url[1024], what[64];
    bch_time fetched = bch_now();
    int rc = fetch_travel(base, dataset, http, payload, err, sizeof(err));

    snprintf(what, sizeof(what), "poll %ld", n);
    if (rc) {
        if (!bch_cli_stop) {
            bch_error("travel", "%s: %s: %s", what, dataset, err);
        }
        count_travel_poll(rc == BCH_ERR_NET ? "network_error" : "bad_payload");
        return rc;
    }
    snprintf(url, sizeof(url), "%s/api/explore/v2.1/catalog/datasets/%s/exports/json", base,
             dataset);
    memset(&p, 0, sizeof(p));
    p.kind = "api";
    p.name = url;
    p.dataset = dataset;
    p.data = payload->data;
    p.len = payload->len;
    p.fetched_at = fetched;
    rc = bch_import_travel_live(db, &p, &r);
    report_travel(what, dataset, rc, &r, fetched);
    return rc;
}

static int poll_loop(const char *dbpath, const struct bch_loader_options *lo, const char *base,
                     const char *dataset, const struct travel_opts *tt,
                     const struct bch_http_opts *http, double interval, bool once, long max_polls)
{
    char err[512] = "";
    sqlite3 *db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));
    struct bch_loader *l;
    struct bch_buf payload;
    int last = 0, last_tt = 0;
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
    if (tt->enabled) {
        bch_info("run", "polling %s every %ld poll(s)", tt->dataset, tt->every);
    }
    while (!bch_cli_stop) {
        double start = mono();

        n++;
        last = poll_once(l, base, dataset, http, &payload, n);
        if (last == BCH_ERR_DB) {
            break;
        }
        if (tt->enabled && !bch_cli_stop && (n - 1) % tt->every == 0) {
            last_tt = poll_travel(db, base, tt->dataset, http, &payload, n);
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
    /* --once: the traffic poll's failure, else the travel-time poll's. */
    if (once && (last || last_tt)) {
        return bch_exit_code(last ? last : last_tt);
    }
    return BCH_EXIT_OK;
}

/* First bytes of a (possibly gzip-compressed) file, to tell what it holds. */
static size_t read_head(const char *path, char *buf, size_t cap)
{
    gzFile gz = gzopen(path, "rb");
    int n;

    if (!gz) {
        return 0;
    }
    n = gzread(gz, buf, (unsigned)cap);
    gzclose(gz);
    return n > 0 ? (size_t)n : 0;
}

/* Stores one ci_tpstj_a file of a replay; 0 or a bch_err; *skipped when already stored. */
static int replay_travel_file(sqlite3 *db, const char *path, const char *dataset, struct bch_buf *b,
                              bool *skipped)
{
    struct bch_import_payload p;
    struct bch_import_live r;
    char err[512];
    int rc;

    if (bch_cli_read_input(path, b, err, sizeof(err))) {
        bch_error("replay", "%s", err);
        count_travel_poll("bad_payload");
        return BCH_ERR_INPUT;
    }
    memset(&p, 0, sizeof(p));
    p.kind = "file";
    p.name = path;
    p.dataset = dataset;
    p.data = b->data;
    p.len = b->len;
    p.hash_path = path;
    p.fetched_at = BCH_TIME_NONE;
    rc = bch_import_travel_live(db, &p, &r);
    *skipped = r.skipped && rc == 0;
    if (*skipped) {
        bch_info("replay", "%s: already loaded, skipped", path);
    }
    report_travel(path, dataset, rc, &r, bch_now());
    return rc;
}

/*
 * run --replay: ci_tpstj_a files (recognised by their first bytes) are
 * stored as travel times first -- their samples do not depend on the order
 * -- or skipped with --no-travel-times; the rest is replayed in time order.
 */
static int replay_inputs(const char *dbpath, char **paths, int npaths,
                         const struct bch_replay_options *ro_in, const struct travel_opts *tt)
{
    struct bch_replay_options ro_all = *ro_in, *ro = &ro_all;
    size_t nfiles = 0, nother = 0, ntravel = 0;
    char **files = bch_cli_collect_inputs(paths, npaths, &nfiles);
    char **other;
    int code = BCH_EXIT_OK;

    if (!files) {
        return BCH_EXIT_INPUT;
    }
    other = calloc(nfiles + 1, sizeof(*other));
    if (!other) {
        bch_cli_free_paths(files);
        return BCH_EXIT_INTERNAL;
    }
    {
        char *head = malloc(65536);
        char **travel = calloc(nfiles + 1, sizeof(*travel));

        if (!head || !travel) {
            free(head);
            free(travel);
            free(other);
            bch_cli_free_paths(files);
            return BCH_EXIT_INTERNAL;
        }
        for (size_t i = 0; i < nfiles; i++) {
            size_t n = read_head(files[i], head, 65536);

            if (bch_import_is_travel(head, n)) {
                travel[ntravel++] = files[i];
            } else {
                other[nother++] = files[i];
            }
        }
        free(head);
        if (ntravel > 0 && !tt->enabled) {
            bch_info("replay", "%zu %s file(s) left out (--no-travel-times)", ntravel, tt->dataset);
        } else if (ntravel > 0) {
            char err[512];
            sqlite3 *db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));
            struct bch_buf b;

            if (!db) {
                bch_error("replay", "%s", err);
                code = BCH_EXIT_DB;
            }
            bch_buf_init(&b, 1u << 30);
            for (size_t i = 0; db && i < ntravel && !bch_cli_stop; i++) {
                bool skipped = false;
                int rc = replay_travel_file(db, travel[i], tt->dataset, &b, &skipped);

                /* In the summary line of the replay (files, already loaded). */
                ro->prior_files++;
                ro->prior_skipped += skipped;
                if (rc == BCH_ERR_INPUT && code == BCH_EXIT_OK) {
                    code = BCH_EXIT_INPUT;
                } else if (rc && rc != BCH_ERR_INPUT) {
                    code = BCH_EXIT_DB;
                    break;
                }
            }
            bch_buf_release(&b);
            bch_db_close(db);
        }
        free(travel);
    }
    /* With travel-time files only, the call still prints the summary line. */
    if (code != BCH_EXIT_DB && (nother > 0 || ro->prior_files > 0) && !bch_cli_stop) {
        int rc = bch_replay_paths(dbpath, other, (int)nother, ro, on_replayed);

        if (rc != BCH_EXIT_OK && (code == BCH_EXIT_OK || rc == BCH_EXIT_DB)) {
            code = rc;
        }
    }
    free(other);
    bch_cli_free_paths(files);
    return code;
}

int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"interval", required_argument, NULL, 'i'},
        {"base-url", required_argument, NULL, 'u'},
        {"dataset", required_argument, NULL, 'D'},
        {"travel-dataset", required_argument, NULL, 'T'},
        {"travel-every", required_argument, NULL, 'E'},
        {"no-travel-times", no_argument, NULL, 'N'},
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
    struct travel_opts tt = {true, "ci_tpstj_a", 1};
    struct bch_replay_options ro;
    struct bch_http_opts http;
    double interval = 60;
    long long n;
    bool once = false, replay = false, max_polls_given = false;
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
        case 'T':
            if (!optarg[0]) {
                return bch_cli_usage_error("run", "--travel-dataset needs a dataset id");
            }
            tt.dataset = optarg;
            break;
        case 'E':
            if (bch_cli_int("--travel-every", optarg, 1, 1000000, &n)) {
                return BCH_EXIT_USAGE;
            }
            tt.every = (long)n;
            break;
        case 'N':
            tt.enabled = false;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case '1':
            once = true;
            break;
        case 'm':
            if (bch_cli_int("--max-polls", optarg, 0, 1000000000, &n)) {
                return BCH_EXIT_USAGE;
            }
            max_polls = (long)n;
            max_polls_given = true;
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
    if (once && max_polls_given) {
        return bch_cli_usage_error("run", "--once and --max-polls exclude each other (--once is "
                                          "one poll of each dataset)");
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
    if (tt.enabled) {
        init_travel_metrics();
    }
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
        rc = replay_inputs(dbpath, argv + optind, argc - optind, &ro, &tt);
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
        rc = poll_loop(dbpath, &ro.loader, base, dataset, &tt, &http, interval, once, max_polls);
        free(key);
    }
    if (g_run.http) {
        bch_http_stop(g_run.http);
        g_run.http = NULL;
    }
    return rc;
}
