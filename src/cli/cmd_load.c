/*
 * bouchon load - a consumer group member that loads Kafka messages into the
 * warehouse, exactly once in effect.
 */
#include "core/compat.h"

#include <getopt.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "http/server.h"
#include "kafka/kafka_conf.h"
#include "kafka/load.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon load --brokers LIST --db FILE [--group ID] [-X PROP=VALUE ...]\n"
    "                    [--config FILE] [options]\n"
    "\n"
    "Joins the consumer group ID on the raw topic and writes every message into\n"
    "the warehouse layers `run` writes (raw, observations, state intervals, jam\n"
    "episodes, hourly coverage, snapshots and queues).  The offsets read are\n"
    "stored in the warehouse in the same transaction as the rows (table\n"
    "kafka_offset) and a member resumes from them on start and on every\n"
    "partition assignment: restarting or adding members changes no result.\n"
    "Several members share the partitions.  Stops cleanly on SIGINT/SIGTERM.\n"
    "\n" BCH_KAFKA_CLI_HELP "  --db FILE             the SQLite warehouse (created if missing)\n"
    "  --group ID            consumer group (default bouchon-load)\n"
    "  --topic NAME          raw topic (default bouchon.raw.ci_trafi_l)\n"
    "  --batch N             messages per transaction at most (default 2000)\n"
    "  --batch-ms MS         a transaction commits after MS ms at most (default 100)\n"
    "  --latency-log FILE    append \"fetched_ms commit_ms partition offset\" per record\n"
    "  --listen ADDR         also serve the dashboard, API and /metrics\n"
    "  --assets DIR          dashboard files (default build/web)\n" BCH_LOADER_HELP "\n"
    "Exit: 0 after a clean stop; 5 warehouse error; 4 Kafka error; 2 usage.\n";

static struct bch_http_server *g_http;

static void on_snapshot(void *ctx, bch_time at)
{
    (void)ctx;
    if (g_http) {
        bch_http_notify_snapshot(g_http, at);
    }
}

static int set_defaults(struct bch_kafka_props *p, bool stats)
{
    static const char *const defaults[][2] = {
        {"client.id", "bouchon-load"},
        /* Offsets live in the warehouse; Kafka's are written for monitoring. */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        /* A killed member is noticed within seconds, not 45 s. */
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1500"},
        {"enable.partition.eof", "false"},
    };

    return bch_kafka_props_defaults(p, defaults, BCH_ARRAY_LEN(defaults), stats);
}

int cmd_load(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"group", required_argument, NULL, 'g'},
        {"topic", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'n'},
        {"batch-ms", required_argument, NULL, 'w'},
        {"latency-log", required_argument, NULL, 'L'},
        {"listen", required_argument, NULL, 'l'},
        {"assets", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        BCH_LOADER_LONGOPTS,
        {0},
    };
    struct bch_load_options lo;
    struct bch_load_stats st;
    struct bch_kafka_cli kc;
    struct bch_kafka_props props;
    const char *dbpath = NULL, *listen = NULL, *assets = "build/web";
    rd_kafka_conf_t *conf;
    char err[1024] = "";
    long long v;
    int c, rc = BCH_EXIT_OK, lrc;

    bch_load_options_default(&lo);
    bch_kafka_cli_init(&kc);
    bch_kafka_props_init(&props);
    memset(&st, 0, sizeof(st));
    optind = 1;
    while ((c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            kc.brokers = optarg;
            break;
        case 'c':
            kc.config_file = optarg;
            break;
        case 'X':
            if (bch_kafka_cli_add_x(&kc, optarg)) {
                rc = BCH_EXIT_INTERNAL;
                goto out;
            }
            break;
        case 'd':
            dbpath = optarg;
            break;
        case 'g':
            lo.group = optarg;
            break;
        case 'T':
            lo.topic = optarg;
            break;
        case 'n':
            if (bch_cli_int("--batch", optarg, 1, 1000000, &v)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            lo.batch_max = (int)v;
            break;
        case 'w':
            if (bch_cli_int("--batch-ms", optarg, 1, 600000, &v)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            lo.batch_ms = (int)v;
            break;
        case 'L':
            lo.latency_log = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'a':
            assets = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            goto out;
        default:
            lrc = bch_cli_loader_option(c, optarg, &lo.loader);
            if (lrc == 1) {
                break;
            }
            if (lrc == 0) {
                fputs(usage, stderr);
            }
            rc = BCH_EXIT_USAGE;
            goto out;
        }
    }
    if (!dbpath) {
        rc = bch_cli_usage_error("load", "--db is required");
        goto out;
    }
    if (optind < argc) {
        rc = bch_cli_usage_error("load", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (bch_kafka_cli_finish(&kc, &props, err, sizeof(err)) ||
        set_defaults(&props, listen != NULL)) {
        rc = bch_cli_usage_error("load", "%s", err[0] ? err : "out of memory");
        goto out;
    }
    conf = bch_kafka_conf_new(&props, err, sizeof(err));
    if (!conf) {
        rc = bch_cli_usage_error("load", "%s", err);
        goto out;
    }
    bch_cli_install_signals();
    if (listen) {
        struct bch_http_options ho;
        sqlite3 *db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));

        /* The warehouse must exist (and be migrated) before readers open it. */
        if (!db) {
            bch_error("load", "%s", err);
            rd_kafka_conf_destroy(conf);
            rc = BCH_EXIT_DB;
            goto out;
        }
        bch_db_close(db);
        memset(&ho, 0, sizeof(ho));
        ho.listen = listen;
        ho.db_path = dbpath;
        ho.assets_dir = assets;
        g_http = bch_http_start(&ho, err, sizeof(err));
        if (!g_http) {
            bch_error("load", "cannot serve on %s: %s", listen, err);
            rd_kafka_conf_destroy(conf);
            rc = BCH_EXIT_USAGE;
            goto out;
        }
    }
    lo.stop = &bch_cli_stop;
    lo.on_snapshot = on_snapshot;
    lrc = bch_load_run(conf, dbpath, &lo, &st, err, sizeof(err));
    conf = NULL; /* taken */
    bch_info("load",
             "%ld message(s): %ld record(s), %ld marker(s), %ld invalid; %ld new observations in "
             "%ld batch(es); %ld snapshot(s); %ld assignment(s), %ld rollback(s)",
             st.messages, st.records, st.markers, st.invalid, st.observations, st.batches,
             st.snapshots, st.assignments, st.rollbacks);
    if (lrc) {
        bch_error("load", "%s", err);
        rc = lrc == BCH_ERR_DB ? BCH_EXIT_DB : lrc == BCH_ERR_USAGE ? BCH_EXIT_USAGE : BCH_EXIT_NET;
    }
out:
    if (g_http) {
        bch_http_stop(g_http);
        g_http = NULL;
    }
    bch_kafka_props_release(&props);
    bch_kafka_cli_release(&kc);
    return rc;
}
