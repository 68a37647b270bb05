/*
 * bouchon - traffic jams of Bordeaux Métropole from its open data.
 *
 * main() only dispatches: global options, then the subcommand table.
 */
#include "core/compat.h"

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"

#ifndef BOUCHON_VERSION
#define BOUCHON_VERSION "0.1.0"
#endif

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct bch_cmd commands[] = {
    {"run", cmd_run, "the main job: poll (or replay) into the warehouse, keep analytics current"},
    {"fetch", cmd_fetch, "fetch one snapshot from the Opendatasoft API to a file or stdout"},
    {"replay", cmd_replay, "load snapshot files or folders into the warehouse"},
    {"import", cmd_import, "import history and side datasets (hourly scores, travel times, ...)"},
    {"report", cmd_report, "summarize the network, its jams, queues and hotspots"},
    {"serve", cmd_serve, "serve the dashboard and the HTTP API over a warehouse"},
    {"ingest", cmd_ingest, "poll (or replay) ci_trafi_l into Kafka topics"},
    {"load", cmd_load, "load Kafka topics into the warehouse (consumer group member)"},
    {"topics", cmd_topics, "create or describe Bouchon's Kafka topics"},
    {"help", cmd_help, "list the commands, or show one command's help"},
    {"version", cmd_version, "print the version"},
};

static void list_commands(FILE *out)
{
    fprintf(out, "usage: bouchon [-v|-q] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < BCH_ARRAY_LEN(commands); i++) {
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\n'bouchon COMMAND --help' shows the options of a command.\n"
                 "Global options: -v more logging, -q errors only.\n"
                 "Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 network, "
                 "5 warehouse.\n");
}

static const struct bch_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < BCH_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int cmd_help(int argc, char **argv)
{
    const struct bch_cmd *c;
    char *help_argv[] = {NULL, (char *)"--help", NULL};

    if (argc < 2) {
        list_commands(stdout);
        return BCH_EXIT_OK;
    }
    c = find_command(argv[1]);
    if (!c || c->fn == cmd_help) {
        if (!c) {
            fprintf(stderr, "bouchon: unknown command '%s'\n", argv[1]);
            return BCH_EXIT_USAGE;
        }
        list_commands(stdout);
        return BCH_EXIT_OK;
    }
    help_argv[0] = argv[1];
    return c->fn(2, help_argv);
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("bouchon %s\n", BOUCHON_VERSION);
    return BCH_EXIT_OK;
}

int main(int argc, char **argv)
{
    const struct bch_cmd *c;
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            bch_log_level = BCH_LOG_DEBUG;
        } else if (strcmp(argv[i], "-q") == 0) {
            bch_log_level = BCH_LOG_ERROR;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            list_commands(stdout);
            return BCH_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            return cmd_version(0, NULL);
        } else {
            fprintf(stderr, "bouchon: unknown option '%s'\n", argv[i]);
            list_commands(stderr);
            return BCH_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        list_commands(stderr);
        return BCH_EXIT_USAGE;
    }
    c = find_command(argv[i]);
    if (!c) {
        fprintf(stderr, "bouchon: unknown command '%s'\n\n", argv[i]);
        list_commands(stderr);
        return BCH_EXIT_USAGE;
    }
    return c->fn(argc - i, argv + i);
}
