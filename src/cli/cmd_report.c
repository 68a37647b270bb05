/*
 * bouchon report - the state of the network and its jams, from the warehouse.
 */
#include "core/compat.h"

#include <getopt.h>

#include "cli/cli.h"
#include "core/err.h"
#include "report/report.h"
#include "warehouse/db.h"

static const char usage[] =
    "usage: bouchon report --db FILE [--at TIME] [--from TIME] [--to TIME] [--json]\n"
    "\n"
    "Summarizes the warehouse: segments, observations, rejected records, state\n"
    "changes, the snapshot at TIME (default: the latest) with its state counts,\n"
    "known / congested / dense km and feed health, the jam episodes overlapping\n"
    "[--from, --to] (default: the 24 hours up to the snapshot), its queues and the\n"
    "hotspots ranked by congested time.  TIME is ISO-8601 with an offset or Z.\n"
    "\n"
    "  --json               machine-readable output (keys in docs/REPORT.md)\n"
    "  --limit N            hotspots listed (default 10)\n"
    "  --min-duration S     leave out jam episodes shorter than S seconds (default 0)\n";

int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"at", required_argument, NULL, 'a'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},
        {"min-duration", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct bch_report_query q;
    const char *dbpath = NULL;
    bool as_json = false;
    char err[512] = "";
    sqlite3 *db;
    json_t *summary;
    double v;
    int c;

    bch_report_query_default(&q);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'a':
            if (bch_cli_time("--at", optarg, &q.at)) {
                return BCH_EXIT_USAGE;
            }
            break;
        case 'f':
            if (bch_cli_time("--from", optarg, &q.from)) {
                return BCH_EXIT_USAGE;
            }
            break;
        case 't':
            if (bch_cli_time("--to", optarg, &q.to)) {
                return BCH_EXIT_USAGE;
            }
            break;
        case 'j':
            as_json = true;
            break;
        case 'l':
            if (bch_cli_number("--limit", optarg, 10000, &v)) {
                return BCH_EXIT_USAGE;
            }
            q.limit = (int)v;
            break;
        case 'm':
            if (bch_cli_number("--min-duration", optarg, 86400 * 365, &v)) {
                return BCH_EXIT_USAGE;
            }
            q.min_duration_s = (int64_t)v;
            break;
        case 'h':
            fputs(usage, stdout);
            return BCH_EXIT_OK;
        default:
            fputs(usage, stderr);
            return BCH_EXIT_USAGE;
        }
    }
    if (!dbpath) {
        return bch_cli_usage_error("report", "--db is required");
    }
    if (optind < argc) {
        return bch_cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
    }
    if (q.from != BCH_TIME_NONE && q.to != BCH_TIME_NONE && q.from > q.to) {
        return bch_cli_usage_error("report", "--from is after --to");
    }
    db = bch_db_open(dbpath, BCH_DB_READONLY, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "bouchon report: %s\n", err);
        return BCH_EXIT_DB;
    }
    summary = bch_report_summary(db, &q, err, sizeof(err));
    if (!summary) {
        fprintf(stderr, "bouchon report: cannot build the report\n");
        bch_db_close(db);
        return BCH_EXIT_DB;
    }
    if (as_json) {
        json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        bch_report_print_text(stdout, summary);
    }
    json_decref(summary);
    bch_db_close(db);
    return BCH_EXIT_OK;
}
