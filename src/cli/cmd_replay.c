/*
 * bouchon replay - load snapshot files or folders into the warehouse.
 */
#include "core/compat.h"

#include <getopt.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "pipeline/loader.h"
#include "pipeline/replay.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon replay --db FILE [options] INPUT...\n"
    "\n"
    "Loads ci_trafi_l snapshots (CSV, JSON export, records page, GeoJSON, v1 JSON;\n"
    "gzip-compressed or not) from files or folders, in any order, into the\n"
    "warehouse.  Replaying the same input again changes nothing.\n"
    "\n"
    "  --db FILE             the SQLite warehouse (created if missing)\n"
    "  --batch N             payloads per transaction (default 64)\n" BCH_LOADER_HELP
    "  -q, --quiet           no line per file\n"
    "\n"
    "Exit: 0 all loaded; 3 some records or files rejected (the rest is stored;\n"
    "see the 'rejected' table); 5 warehouse error; 2 usage.\n";

int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        BCH_LOADER_LONGOPTS,
        {0},
    };
    struct bch_replay_options ro;
    const char *dbpath = NULL;
    int c, rc;
    long long v;

    bch_replay_options_default(&ro);
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'b':
            if (bch_cli_int("--batch", optarg, 1, 100000, &v)) {
                return BCH_EXIT_USAGE;
            }
            ro.batch = (int)v;
            break;
        case 'q':
            ro.quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return BCH_EXIT_OK;
        default:
            rc = bch_cli_loader_option(c, optarg, &ro.loader);
            if (rc == 1) {
                break;
            }
            if (rc == 0) {
                fputs(usage, stderr);
            }
            return BCH_EXIT_USAGE;
        }
    }
    if (!dbpath) {
        return bch_cli_usage_error("replay", "--db is required");
    }
    if (optind >= argc) {
        return bch_cli_usage_error("replay", "no INPUT given");
    }
    /* SIGINT/SIGTERM: finish the file being loaded, commit, say so, stop. */
    bch_cli_install_signals();
    return bch_replay_paths(dbpath, argv + optind, argc - optind, &ro, NULL);
}
