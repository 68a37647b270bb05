/*
 * bouchon topics - create or describe Bouchon's Kafka topics (Admin API).
 */
#include "core/compat.h"

#include <getopt.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "kafka/admin.h"
#include "kafka/kafka_conf.h"
#include "kafka/producer.h"

static const char usage[] =
    "usage: bouchon topics --brokers LIST [-X PROP=VALUE ...] [--config FILE]\n"
    "                      create|describe [options]\n"
    "\n"
    "create: creates the raw topic and the dead-letter topic with the librdkafka\n"
    "Admin API (CreateTopics); a topic that already exists is left as it is.\n"
    "describe: partitions (leader, replicas, ISR, low/high watermarks) from the\n"
    "metadata and the topic configs (DescribeConfigs).\n"
    "\n" BCH_KAFKA_CLI_HELP "  --topic NAME          raw topic (default bouchon.raw.ci_trafi_l)\n"
    "  --dlq-topic NAME      dead-letter topic (default bouchon.dlq)\n"
    "  --partitions N        create: partitions per topic (default 6)\n"
    "  --replication-factor N  create: replicas per partition (default 3)\n"
    "  --min-insync N        create: min.insync.replicas (default 2)\n"
    "  --topic-config K=V    create: another topic config (repeatable)\n"
    "  --json                describe: JSON on stdout\n"
    "  --timeout S           admin request timeout (default 30)\n"
    "\n"
    "Exit: 0 ok (create: created or already there); 4 cluster unreachable or a\n"
    "topic could not be created; 2 usage.\n";

static void print_text(json_t *topics)
{
    size_t i;
    json_t *t;

    json_array_foreach(topics, i, t)
    {
        json_t *parts = json_object_get(t, "partitions"), *cfg = json_object_get(t, "configs");
        json_t *src = json_object_get(t, "config_sources"), *p;
        const char *key;
        json_t *v;
        size_t k;

        if (!json_is_true(json_object_get(t, "exists"))) {
            printf("topic %s: does not exist\n", json_string_value(json_object_get(t, "name")));
            continue;
        }
        printf("topic %s: %zu partitions, replication factor %lld\n",
               json_string_value(json_object_get(t, "name")), json_array_size(parts),
               (long long)json_integer_value(json_object_get(t, "replication_factor")));
        json_object_foreach(cfg, key, v)
        {
            const char *s = json_string_value(json_object_get(src, key));

            /* Defaults are many and dull; show what was set, plus the ones
             * Bouchon relies on. */
            if ((s && strcmp(s, "DEFAULT_CONFIG") != 0) ||
                strcmp(key, "min.insync.replicas") == 0 || strcmp(key, "retention.ms") == 0 ||
                strcmp(key, "max.message.bytes") == 0 || strcmp(key, "cleanup.policy") == 0) {
                printf("  config %s=%s (%s)\n", key, json_is_string(v) ? json_string_value(v) : "?",
                       s ? s : "?");
            }
        }
        if (json_object_get(t, "configs_error")) {
            printf("  configs: %s\n", json_string_value(json_object_get(t, "configs_error")));
        }
        json_array_foreach(parts, k, p)
        {
            json_t *r = json_object_get(p, "replicas"), *isr = json_object_get(p, "isr"), *e;
            size_t j;

            printf("  partition %lld: leader %lld, replicas [",
                   (long long)json_integer_value(json_object_get(p, "partition")),
                   (long long)json_integer_value(json_object_get(p, "leader")));
            json_array_foreach(r, j, e)
            {
                printf("%s%lld", j ? "," : "", (long long)json_integer_value(e));
            }
            printf("], isr [");
            json_array_foreach(isr, j, e)
            {
                printf("%s%lld", j ? "," : "", (long long)json_integer_value(e));
            }
            printf("], offsets %lld..%lld\n",
                   (long long)json_integer_value(json_object_get(p, "low")),
                   (long long)json_integer_value(json_object_get(p, "high")));
        }
    }
}

int cmd_topics(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'c'},
        {"topic", required_argument, NULL, 't'},
        {"dlq-topic", required_argument, NULL, 'D'},
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"min-insync", required_argument, NULL, 'm'},
        {"topic-config", required_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct bch_kafka_cli kc;
    struct bch_kafka_props props;
    const char *topic = "bouchon.raw.ci_trafi_l", *dlq = "bouchon.dlq", *action;
    const char *cfgs[64];
    size_t ncfgs = 1;
    char minisr[64] = "min.insync.replicas=2", err[512] = "", rerr[512];
    long long partitions = 6, rf = 3, v;
    double timeout = 30;
    bool json = false;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    int c, rc = BCH_EXIT_OK;

    bch_kafka_cli_init(&kc);
    bch_kafka_props_init(&props);
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
        case 't':
            topic = optarg;
            break;
        case 'D':
            dlq = optarg;
            break;
        case 'p':
            if (bch_cli_int("--partitions", optarg, 1, 10000, &partitions)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            break;
        case 'r':
            if (bch_cli_int("--replication-factor", optarg, 1, 100, &rf)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            break;
        case 'm':
            if (bch_cli_int("--min-insync", optarg, 1, 100, &v)) {
                rc = BCH_EXIT_USAGE;
                goto out;
            }
            snprintf(minisr, sizeof(minisr), "min.insync.replicas=%d", (int)v);
            break;
        case 'C':
            if (ncfgs >= BCH_ARRAY_LEN(cfgs) || !strchr(optarg, '=')) {
                rc = bch_cli_usage_error("topics", "--topic-config wants name=value");
                goto out;
            }
            cfgs[ncfgs++] = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'T':
            if (bch_cli_number("--timeout", optarg, 3600, &timeout) || timeout <= 0) {
                if (timeout <= 0) {
                    fprintf(stderr, "bouchon: --timeout must be more than 0 seconds\n");
                }
                rc = BCH_EXIT_USAGE;
                goto out;
            }
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
    cfgs[0] = minisr;
    if (optind + 1 != argc ||
        (strcmp(argv[optind], "create") != 0 && strcmp(argv[optind], "describe") != 0)) {
        rc = bch_cli_usage_error("topics", "give one action: create or describe");
        goto out;
    }
    action = argv[optind];
    if (bch_kafka_cli_finish(&kc, &props, err, sizeof(err)) ||
        bch_kafka_props_default(&props, "client.id", "bouchon-topics")) {
        rc = bch_cli_usage_error("topics", "%s", err);
        goto out;
    }
    conf = bch_kafka_conf_new(&props, err, sizeof(err));
    if (!conf) {
        rc = bch_cli_usage_error("topics", "%s", err);
        goto out;
    }
    rd_kafka_conf_set_log_cb(conf, bch_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rerr, sizeof(rerr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        bch_error("topics", "cannot create a Kafka client: %s", rerr);
        rc = BCH_EXIT_INTERNAL;
        goto out;
    }
    conf = NULL; /* rk owns conf now */
    if (strcmp(action, "create") == 0) {
        struct bch_topic_spec specs[2] = {
            {topic, (int)partitions, (int)rf, cfgs, ncfgs},
            {dlq, (int)partitions, (int)rf, cfgs, ncfgs},
        };
        enum bch_topic_created res[2];
        char msgs[2][256];

        if (bch_topics_create(rk, specs, 2, (int)(timeout * 1000), res, msgs, err, sizeof(err))) {
            bch_error("topics", "create: %s", err);
            rc = BCH_EXIT_NET;
            goto out;
        }
        for (int i = 0; i < 2; i++) {
            if (res[i] == BCH_TOPIC_CREATED) {
                printf("created %s: %d partitions, replication factor %d, %s\n", specs[i].name,
                       specs[i].partitions, specs[i].replication, minisr);
            } else if (res[i] == BCH_TOPIC_EXISTS) {
                printf("exists %s (left as it is)\n", specs[i].name);
            } else {
                printf("failed %s: %s\n", specs[i].name, msgs[i]);
                rc = BCH_EXIT_NET;
            }
        }
    } else {
        const char *names[2] = {topic, dlq};
        json_t *d = bch_topics_describe(rk, names, 2, (int)(timeout * 1000), err, sizeof(err));

        if (!d) {
            bch_error("topics", "describe: %s", err);
            rc = BCH_EXIT_NET;
            goto out;
        }
        if (json) {
            char *s = json_dumps(d, JSON_INDENT(2));

            if (s) {
                puts(s);
            }
            free(s);
        } else {
            print_text(d);
        }
        json_decref(d);
    }
out:
    if (rk) {
        rd_kafka_destroy(rk);
    }
    bch_kafka_props_release(&props);
    bch_kafka_cli_release(&kc);
    return rc;
}
