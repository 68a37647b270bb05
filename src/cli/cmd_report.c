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
    "  --min-duration S     leave out jam episodes shorter than S seconds (default 0)\n"
    "\n"
    "History (the hourly layer, travel times, counts: docs/HISTORY.md) over the\n"
    "explicit --from / --to range, all the data when they are absent:\n"
    "  --period A..B[=LABEL] compare local dates A..B (YYYY-MM-DD, inclusive) with\n"
    "                       the same number of days before and after; repeatable;\n"
    "                       periods imported with 'import --kind periods' are added\n"
    "  --min-known N        segment-hours a segment needs to be ranked (default 24)\n"
    "  --only SECTION       print only that section as JSON (history, daily, profile,\n"
    "                       peaks, trend_monthly, hotspots_history, anomalies, periods,\n"
    "                       corridors, counts, works)\n"
    "  --no-history         leave the history sections out\n";

/* "2020-03-17..2020-05-10" or "...=label"; 0, or -1 with the reason in why. */
static int parse_period(const char *arg, struct bch_period *p, char *why, size_t whylen)
{
    const char *dots = strstr(arg, "..");
    const char *eq = strchr(arg, '=');
    bch_time a, b;
    size_t blen;

    if (!dots || dots - arg != 10 || (eq && eq < dots)) {
        snprintf(why, whylen, "expected YYYY-MM-DD..YYYY-MM-DD[=LABEL]");
        return -1;
    }
    blen = eq ? (size_t)(eq - dots - 2) : strlen(dots + 2);
    if (blen != 10 || bch_time_parse(arg, 10, false, &a, NULL, 0) ||
        bch_time_parse(dots + 2, 10, false, &b, NULL, 0)) {
        snprintf(why, whylen, "expected YYYY-MM-DD..YYYY-MM-DD[=LABEL] (two valid dates)");
        return -1;
    }
    if (b < a) {
        snprintf(why, whylen, "the end %.10s is before the start %.10s (A..B: A first)", dots + 2,
                 arg);
        return -1;
    }
    if (eq && eq[1] == '\0') {
        snprintf(why, whylen, "empty label after '=' (leave out '=' to use the dates)");
        return -1;
    }
    if (eq && strlen(eq + 1) >= sizeof(p->label)) {
        snprintf(why, whylen, "label longer than %zu bytes", sizeof(p->label) - 1);
        return -1;
    }
    p->start_day = a / 86400;
    p->end_day = b / 86400;
    snprintf(p->label, sizeof(p->label), "%s", eq ? eq + 1 : arg);
    return 0;
}

static int only_section(sqlite3 *db, const struct bch_report_query *q, const char *key)
{
    struct bch_history_query hq;
    json_t *v, *o;

    bch_history_query_default(&hq);
    hq.from = q->from;
    hq.to = q->to;
    hq.limit = q->limit;
    hq.min_known = q->min_known;
    hq.nperiods = q->nperiods;
    memcpy(hq.periods, q->periods, sizeof(hq.periods));
    v = bch_history_section(db, &hq, key);
    if (!v) {
        fprintf(stderr, "bouchon report: cannot build section '%s'\n", key);
        return BCH_EXIT_DB;
    }
    o = json_pack("{s:o}", key, v);
    if (o && strcmp(key, "daily") == 0) {
        json_t *dr = bch_history_daily_range(db, &hq);

        if (!dr) {
            json_decref(o);
            fprintf(stderr, "bouchon report: cannot build section '%s'\n", key);
            return BCH_EXIT_DB;
        }
        json_object_set_new(o, "daily_range", dr);
    }
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
    return BCH_EXIT_OK;
}

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
        {"period", required_argument, NULL, 'p'},
        {"min-known", required_argument, NULL, 'k'},
        {"only", required_argument, NULL, 'o'},
        {"no-history", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct bch_report_query q;
    const char *dbpath = NULL, *only = NULL;
    bool as_json = false;
    char err[512] = "";
    sqlite3 *db;
    json_t *summary;
    long long v;
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
            if (bch_cli_int("--limit", optarg, 0, 10000, &v)) {
                return BCH_EXIT_USAGE;
            }
            q.limit = (int)v;
            break;
        case 'm':
            if (bch_cli_int("--min-duration", optarg, 0, 86400 * 365, &v)) {
                return BCH_EXIT_USAGE;
            }
            q.min_duration_s = (int64_t)v;
            break;
        case 'p': {
            char why[128];

            if (q.nperiods >= BCH_HISTORY_MAX_PERIODS) {
                return bch_cli_usage_error("report", "--period: at most %d periods",
                                           BCH_HISTORY_MAX_PERIODS);
            }
            if (parse_period(optarg, &q.periods[q.nperiods], why, sizeof(why))) {
                return bch_cli_usage_error("report", "--period '%s': %s", optarg, why);
            }
            q.nperiods++;
            break;
        }
        case 'k':
            if (bch_cli_int("--min-known", optarg, 0, 1000000000, &v)) {
                return BCH_EXIT_USAGE;
            }
            q.min_known = (int)v;
            break;
        case 'o':
            only = optarg;
            break;
        case 'n':
            q.history = false;
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
    if (only) {
        const char *const *keys = bch_history_section_keys();
        size_t k = 0;

        while (keys[k] && strcmp(keys[k], only) != 0) {
            k++;
        }
        if (!keys[k]) {
            return bch_cli_usage_error("report", "--only '%s': not a section name", only);
        }
    }
    if (q.from != BCH_TIME_NONE && q.to != BCH_TIME_NONE && q.from > q.to) {
        return bch_cli_usage_error("report", "--from is after --to");
    }
    db = bch_db_open(dbpath, BCH_DB_READONLY, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "bouchon report: %s\n", err);
        return BCH_EXIT_DB;
    }
    bch_cli_warn_immutable("report", db, dbpath);
    if (only) {
        int rc = only_section(db, &q, only);

        bch_db_close(db);
        return rc;
    }
    summary = bch_report_summary(db, &q, err, sizeof(err));
    if (!summary) {
        fprintf(stderr, "bouchon report: cannot build the report: %s\n", sqlite3_errmsg(db));
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
