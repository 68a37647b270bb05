/*
 * bouchon ingest - poll the live API (or replay files) into Kafka topics.
 */
#include "core/compat.h"

#include <getopt.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "kafka/ingest.h"
#include "kafka/kafka_conf.h"
#include "kafka/metrics_http.h"
#include "pipeline/replay.h"
#include "sources/ods.h"
#include "sources/trafi_reader.h"

static const char usage[] =
    "usage: bouchon ingest --brokers LIST [-X PROP=VALUE ...] [--config FILE]\n"
    "                      [source options] [--replay INPUT...]\n"
    "\n"
    "Polls ci_trafi_l like `run` (or, with --replay, reads files and folders in\n"
    "time order) and produces one Kafka message per record to the raw topic,\n"
    "keyed by the segment's ident, then an end-of-payload marker to every\n"
    "partition; malformed and oversized records go to the dead-letter topic with\n"
    "the reason in a header (docs/STREAMING.md).  Idempotent producer, acks=all,\n"
    "lz4 compression unless -X says otherwise.  A payload is checkpointed only\n"
    "once the cluster acknowledged all its messages.  SIGINT/SIGTERM: stop\n"
    "reading, flush for --flush-timeout, report what was not delivered.\n"
    "\n" BCH_KAFKA_CLI_HELP "  --topic NAME          raw topic (default bouchon.raw.ci_trafi_l)\n"
    "  --dlq-topic NAME      dead-letter topic (default bouchon.dlq)\n"
    "  --checkpoint FILE     payloads delivered so far (default bouchon-ingest.ckpt)\n"
    "  --max-message-bytes N larger record messages go to the DLQ (default 1000000)\n"
    "  --flush-timeout S     on stop, wait S seconds for deliveries (default 30)\n"
    "  --listen ADDR         serve /metrics and /healthz (e.g. 127.0.0.1:9101)\n"
    "  --interval S          seconds between polls (default 60, minimum 5)\n"
    "  --base-url URL        portal (default " BCH_ODS_DEFAULT_BASE_URL ")\n"
    "  --dataset ID          dataset (default ci_trafi_l)\n"
    "  --api-key-file F      API key file; or BOUCHON_API_KEY (never logged)\n"
    "  --timeout S           per HTTP request (default 30)\n"
    "  --retries N           per poll (default 4)\n"
    "  --once                one poll, then exit\n"
    "  --max-polls N         stop after N polls\n"
    "  --replay              the remaining arguments are files or folders to play\n"
    "  --pace S              with --replay: pause S seconds between payloads\n"
    "  --order time|name     with --replay: snapshot-time order (default) or name order\n"
    "\n"
    "Exit: 0 every message delivered; 4 some message could not be delivered\n"
    "(the count is printed) or the cluster is unreachable; 3 unreadable input;\n"
    "2 usage; 1 internal error.\n";

struct ingest_cli {
    const char *base, *dataset, *keyfile, *listen;
    double interval, pace, flush_s;
    bool once, replay, name_order;
    long max_polls;
    struct bch_http_opts http;
};

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Serves deliveries while waiting until deadline (monotonic) or a stop. */
static void wait_until(struct bch_ingest *g, double deadline)
{
    while (!bch_cli_stop) {
        double left = deadline - mono();

        if (left <= 0) {
            return;
        }
        bch_ingest_poll(g, left > 0.2 ? 200 : (int)(left * 1000) + 1);
    }
}

/* --------------------------------------------------------------- sources */

static int replay_files(struct bch_ingest *g, char **paths, int npaths, const struct ingest_cli *o)
{
    size_t nfiles = 0;
    char **files = bch_cli_collect_inputs(paths, npaths, &nfiles);
    struct bch_buf b;
    char err[1024];
    int rc = 0, bad = 0;

    if (!files) {
        return BCH_ERR_INPUT;
    }
    if (!o->name_order) {
        bch_replay_sort_by_time(files, nfiles);
    }
    bch_buf_init(&b, 1u << 30);
    for (size_t i = 0; i < nfiles && !bch_cli_stop; i++) {
        struct bch_payload_meta meta = {"file", files[i], o->dataset, BCH_TIME_NONE};
        int prc;

        if (bch_cli_read_input(files[i], &b, err, sizeof(err))) {
            bch_error("ingest", "%s", err);
            bad++;
            continue;
        }
        prc = bch_ingest_payload(g, b.data, b.len, &meta, bch_ingest_now_ms(), err, sizeof(err));
        if (prc == 1) {
            bch_info("ingest", "%s: delivered before (checkpoint), skipped", files[i]);
            continue;
        }
        if (prc == BCH_RETRY) {
            break; /* stopped while the queue was full */
        }
        if (prc) {
            bch_error("ingest", "%s", err);
            rc = BCH_ERR;
            break;
        }
        if (o->pace > 0 && i + 1 < nfiles) {
            wait_until(g, mono() + o->pace);
        } else {
            bch_ingest_poll(g, 0);
        }
    }
    bch_buf_release(&b);
    bch_cli_free_paths(files);
    return rc ? rc : bad ? BCH_ERR_INPUT : 0;
}

static int poll_api(struct bch_ingest *g, const struct ingest_cli *o)
{
    struct bch_buf payload;
    char err[1024], url[1024];
    long n = 0;
    int rc = 0;

    rc = bch_ingest_spooled(g, err, sizeof(err));
    if (rc < 0) {
        bch_error("ingest", "spool: %s", err);
        return rc;
    }
    rc = 0;
    bch_buf_init(&payload, 256u << 20);
    snprintf(url, sizeof(url), "%s/api/explore/v2.1/catalog/datasets/%s/records", o->base,
             o->dataset);
    bch_info("ingest", "polling %s every %.0f s", o->dataset, o->interval);
    while (!bch_cli_stop) {
        double start = mono();
        struct bch_ods_stats st;
        bch_time fetched = bch_now();
        int64_t fetched_ms = bch_ingest_now_ms();
        int frc;

        n++;
        frc = bch_ods_fetch_records(o->base, o->dataset, BCH_ODS_MAX_LIMIT, &o->http, &payload, &st,
                                    err, sizeof(err));
        if (frc) {
            if (!bch_cli_stop) {
                bch_error("ingest", "poll %ld: %s: %s", n, o->dataset, err);
            }
            rc = frc;
        } else {
            struct bch_payload_meta meta = {"api", url, o->dataset, fetched};

            frc = bch_ingest_payload(g, payload.data, payload.len, &meta, fetched_ms, err,
                                     sizeof(err));
            if (frc < 0) {
                bch_error("ingest", "poll %ld: %s", n, err);
                rc = frc;
                break;
            }
            rc = 0;
        }
        if (frc == BCH_RETRY || o->once || (o->max_polls > 0 && n >= o->max_polls)) {
            break;
        }
        wait_until(g, start + o->interval);
    }
    bch_buf_release(&payload);
    return rc;
}

/* ------------------------------------------------------------------ main */

static int set_defaults(struct bch_kafka_props *p, bool stats)
{
    static const char *const defaults[][2] = {
        {"client.id", "bouchon-ingest"},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"compression.type", "lz4"},
        /* Batches of up to 20 ms: fewer, larger produce requests (and far fewer
         * broker-thread wakeups) at no cost to the 500 ms latency budget. */
        {"linger.ms", "20"},
        /* Java-compatible key hashing: other clients agree on the partition. */
        {"partitioner", "murmur2_random"},
        {"message.timeout.ms", "300000"},
    };

    return bch_kafka_props_defaults(p, defaults, BCH_ARRAY_LEN(defaults), stats);
}

int cmd_ingest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'c'},
        {"topic", required_argument, NULL, 'T'},
        {"dlq-topic", required_argument, NULL, 'Q'},
        {"checkpoint", required_argument, NULL, 'K'},
        {"max-message-bytes", required_argument, NULL, 'M'},
        {"flush-timeout", required_argument, NULL, 'F'},
        {"listen", required_argument, NULL, 'l'},
        {"interval", required_argument, NULL, 'i'},
        {"base-url", required_argument, NULL, 'u'},
        {"dataset", required_argument, NULL, 'D'},
        {"api-key-file", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'r'},
        {"once", no_argument, NULL, '1'},
        {"max-polls", required_argument, NULL, 'm'},
        {"replay", no_argument, NULL, 'R'},
        {"pace", required_argument, NULL, 'p'},
        {"order", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct ingest_cli o;
    struct bch_ingest_options io;
    struct bch_kafka_cli kc;
    struct bch_kafka_props props;
    struct bch_ingest *g = NULL;
    struct bch_ingest_stats st;
    struct bch_metrics_http *mh = NULL;
    rd_kafka_conf_t *conf;
    char err[1024] = "", *key = NULL;
    double v = 1;
    long long n;
    int c, rc = BCH_EXIT_OK, src_rc = 0;
    long incomplete;

    memset(&o, 0, sizeof(o));
    o.base = BCH_ODS_DEFAULT_BASE_URL;
    o.dataset = "ci_trafi_l";
    o.interval = 60;
    o.flush_s = 30;
    bch_http_opts_default(&o.http);
    bch_ingest_options_default(&io);
    io.checkpoint = "bouchon-ingest.ckpt";
    bch_kafka_cli_init(&kc);
    bch_kafka_props_init(&props);
    optind = 1;
    while (!o.replay && (c = getopt_long(argc, argv, "+X:h", longopts, NULL)) != -1) {
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
        case 'T':
            io.topic = optarg;
            break;
        case 'Q':
            io.dlq_topic = optarg;
            break;
        case 'K':
            io.checkpoint = optarg[0] ? optarg : NULL;
            break;
        case 'M':
            if (bch_cli_int("--max-message-bytes", optarg, 1024, 1000000000, &n)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            io.max_message_bytes = (size_t)n;
            break;
        case 'F':
            if (bch_cli_number("--flush-timeout", optarg, 3600, &o.flush_s)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'i':
            if (bch_cli_number("--interval", optarg, 86400, &o.interval) || o.interval < 5) {
                rc = bch_cli_usage_error("ingest", "--interval must be at least 5 seconds");
                goto out;
            }
            break;
        case 'u':
            o.base = optarg;
            break;
        case 'D':
            o.dataset = optarg;
            break;
        case 'k':
            o.keyfile = optarg;
            break;
        case 't':
            if (bch_cli_number("--timeout", optarg, 3600, &v) || v <= 0) {
                if (v <= 0) {
                    fprintf(stderr, "bouchon: --timeout must be more than 0 seconds\n");
                }
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            o.http.timeout_ms = (long)(v * 1000);
            break;
        case 'r':
            if (bch_cli_int("--retries", optarg, 0, 100, &n)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            o.http.max_retries = (int)n;
            break;
        case '1':
            o.once = true;
            break;
        case 'm':
            if (bch_cli_int("--max-polls", optarg, 0, 1000000000, &n)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            o.max_polls = (long)n;
            break;
        case 'R':
            o.replay = true;
            break;
        case 'p':
            if (bch_cli_number("--pace", optarg, 3600, &o.pace)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            break;
        case 'o':
            if (strcmp(optarg, "time") != 0 && strcmp(optarg, "name") != 0) {
                rc = bch_cli_usage_error("ingest", "--order is time or name");
                goto out;
            }
            o.name_order = strcmp(optarg, "name") == 0;
            break;
        case 'h':
            fputs(usage, stdout);
            goto out;
        default:
            fputs(usage, stderr);
            rc = BCH_EXIT_USAGE;
            goto out;
        }
    }
    if (o.replay && optind >= argc) {
        rc = bch_cli_usage_error("ingest", "--replay needs at least one file or folder");
        goto out;
    }
    if (!o.replay && optind < argc) {
        rc = bch_cli_usage_error("ingest", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (strncmp(o.base, "http://", 7) != 0 && strncmp(o.base, "https://", 8) != 0) {
        rc = bch_cli_usage_error("ingest", "--base-url must start with http:// or https://");
        goto out;
    }
    if (bch_kafka_cli_finish(&kc, &props, err, sizeof(err)) ||
        set_defaults(&props, o.listen != NULL)) {
        rc = bch_cli_usage_error("ingest", "%s", err[0] ? err : "out of memory");
        goto out;
    }
    conf = bch_kafka_conf_new(&props, err, sizeof(err));
    if (!conf) {
        rc = bch_cli_usage_error("ingest", "%s", err);
        goto out;
    }
    bch_cli_install_signals();
    if (o.listen) {
        mh = bch_metrics_http_start(o.listen, err, sizeof(err));
        if (!mh) {
            rd_kafka_conf_destroy(conf);
            rc = bch_cli_usage_error("ingest", "--listen: %s", err);
            goto out;
        }
        bch_info("ingest", "metrics on http://%s/metrics", o.listen);
    }
    io.spool = !o.replay;
    io.stop = &bch_cli_stop;
    g = bch_ingest_new(conf, &io, err, sizeof(err));
    conf = NULL; /* taken */
    if (!g) {
        bch_error("ingest", "%s", err);
        rc = BCH_EXIT_NET;
        goto out;
    }
    if (o.replay) {
        src_rc = replay_files(g, argv + optind, argc - optind, &o);
        /* --replay ends once every message is reported (or on a stop). */
        while (!bch_cli_stop && bch_ingest_pending(g) > 0) {
            bch_ingest_poll(g, 200);
        }
    } else {
        key = bch_http_load_api_key(o.keyfile);
        o.http.api_key = key;
        o.http.stop = &bch_cli_stop;
        src_rc = poll_api(g, &o);
    }
    if (bch_cli_stop) {
        bch_info("ingest", "stopping: flushing for up to %.0f s", o.flush_s);
    }
    incomplete = bch_ingest_finish(g, (int)(o.flush_s * 1000), &st);
    bch_info("ingest",
             "%ld payload(s) produced, %ld skipped (checkpoint); %ld record(s), %ld to the "
             "dead-letter topic (%ld oversized); %ld message(s)",
             st.payloads, st.skipped, st.records, st.rejected, st.oversized, st.messages);
    if (incomplete > 0 || st.undelivered > 0) {
        fprintf(stderr,
                "bouchon ingest: %ld message(s) could not be delivered; %ld payload(s) not "
                "checkpointed (they are produced again at the next start)\n",
                st.undelivered, incomplete);
        rc = BCH_EXIT_NET;
    } else if (src_rc == BCH_ERR_INPUT) {
        rc = BCH_EXIT_INPUT;
    } else if (src_rc && src_rc != BCH_RETRY && (o.replay || o.once)) {
        rc = bch_exit_code(src_rc);
    } else {
        bch_info("ingest", "every message delivered");
    }
out:
    bch_ingest_free(g);
    bch_metrics_http_stop(mh);
    free(key);
    bch_kafka_props_release(&props);
    bch_kafka_cli_release(&kc);
    return rc;
}
