/*
 * bouchon import - history and side datasets into the warehouse.
 */
#include "core/compat.h"

#include <getopt.h>
#include <jansson.h>
#include <time.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "import/import.h"
#include "warehouse/db.h"

static const char usage_head[] =
    "usage: bouchon import --db FILE --kind KIND [options] INPUT...\n"
    "\n"
    "Imports files or folders of one kind into the warehouse (docs/HISTORY.md).\n"
    "Bad rows go to the 'rejected' table with file, line, field and reason; the\n"
    "valid rows around them are stored.  Importing the same file again changes\n"
    "nothing; overlapping extracts merge (identical rows count as duplicates).\n"
    "\n"
    "Kinds:\n";

static const char usage_opts[] =
    "\n"
    "  --db FILE           the SQLite warehouse (created if missing)\n"
    "  --kind KIND         what the inputs hold (above)\n"
    "  --segments FILE     segment-history: GeoJSON tying gid to ident (e.g.\n"
    "                      history/ci_trafi_l_segments_2020-03.geojson)\n"
    "  --corridors FILE    travel-times: corridor geometry (ci_tpstj_a_corridors.geojson)\n"
    "  --year N            counts: the year, for a file whose name and content do not say\n"
    "  --stale-after S     sensors: a count older than S seconds at the snapshot is\n"
    "                      stale (default 900)\n"
    "  --batch-rows N      rows per transaction for large files (default 1000000)\n"
    "  --json              print the counters as JSON on stdout\n"
    "  -q, --quiet         no line per file\n"
    "\n"
    "Exit: 0 all stored; 3 some rows or files rejected (the rest is stored; see\n"
    "the 'rejected' table); 5 warehouse error; 2 usage; 130 / 143 stopped by\n"
    "SIGINT / SIGTERM at a batch or file boundary (what was read is committed;\n"
    "run the same command again to resume).\n";

static void print_usage(FILE *out)
{
    const char *const *names = bch_import_kind_names();

    fputs(usage_head, out);
    for (size_t i = 0; names[i]; i++) {
        fprintf(out, "  %-16s %s\n", names[i], bch_import_kind_summary(names[i]));
    }
    fputs(usage_opts, out);
}

static json_t *stats_json(const struct bch_import_stats *s, double secs)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:b}",
        "files", (json_int_t)s->files, "skipped", (json_int_t)s->skipped, "unreadable",
        (json_int_t)s->unreadable, "rows", (json_int_t)s->rows, "stored", (json_int_t)s->stored,
        "rejected", (json_int_t)s->rejected, "coerced", (json_int_t)s->coerced, "duplicates",
        (json_int_t)s->duplicates, "merged", (json_int_t)s->merged, "unknown",
        (json_int_t)s->unknown, "capped", (json_int_t)s->capped, "raised", (json_int_t)s->raised,
        "unmapped_rows", (json_int_t)s->unmapped_rows, "tied_gids", (json_int_t)s->tied_gids,
        "unmapped_keys", (json_int_t)s->unmapped_keys, "tt_floor", (json_int_t)s->tt_floor,
        "tt_cap", (json_int_t)s->tt_cap, "tt_sentinel", (json_int_t)s->tt_sentinel, "tt_ref_zero",
        (json_int_t)s->tt_ref_zero, "tt_not_corridor", (json_int_t)s->tt_not_corridor, "stale",
        (json_int_t)s->stale, "missing", (json_int_t)s->missing, "seconds", secs, "stopped",
        s->stopped);
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"kind", required_argument, NULL, 'k'},
        {"segments", required_argument, NULL, 's'},
        {"corridors", required_argument, NULL, 'c'},
        {"year", required_argument, NULL, 'y'},
        {"stale-after", required_argument, NULL, 'a'},
        {"batch-rows", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct bch_import_options o;
    struct bch_import_stats st;
    const char *dbpath = NULL;
    char err[512] = "";
    char **files = NULL;
    size_t nfiles = 0;
    sqlite3 *db;
    bool as_json = false;
    long long n;
    double t0;
    int c, rc;

    bch_import_options_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'k':
            o.kind = optarg;
            break;
        case 's':
            o.segments = optarg;
            break;
        case 'c':
            o.corridors = optarg;
            break;
        case 'y':
            if (bch_cli_int("--year", optarg, 1900, 2200, &n)) {
                return BCH_EXIT_USAGE;
            }
            o.year = (int)n;
            break;
        case 'a':
            if (bch_cli_int("--stale-after", optarg, 0, 86400LL * 365 * 100, &n)) {
                return BCH_EXIT_USAGE;
            }
            o.stale_s = (int64_t)n;
            break;
        case 'b':
            if (bch_cli_int("--batch-rows", optarg, 1, 1000000000, &n)) {
                return BCH_EXIT_USAGE;
            }
            o.batch_rows = (long)n;
            break;
        case 'j':
            as_json = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            print_usage(stdout);
            return BCH_EXIT_OK;
        default:
            print_usage(stderr);
            return BCH_EXIT_USAGE;
        }
    }
    if (!dbpath) {
        return bch_cli_usage_error("import", "--db is required");
    }
    if (!o.kind) {
        return bch_cli_usage_error("import", "--kind is required");
    }
    if (!bch_import_kind_summary(o.kind)) {
        return bch_cli_usage_error("import", "unknown kind '%s'", o.kind);
    }
    if (o.segments && strcmp(o.kind, "segment-history") != 0) {
        return bch_cli_usage_error("import", "--segments goes with --kind segment-history");
    }
    if (o.corridors && strcmp(o.kind, "travel-times") != 0) {
        return bch_cli_usage_error("import", "--corridors goes with --kind travel-times");
    }
    if (optind >= argc && !o.segments && !o.corridors) {
        return bch_cli_usage_error("import", "no INPUT given");
    }
    if (optind < argc) {
        files = bch_cli_collect_inputs(argv + optind, argc - optind, &nfiles);
        if (!files) {
            return BCH_EXIT_INPUT;
        }
    }
    /* No allocation statistics: they take a global mutex on every malloc,
     * 5 % of a full-history import.  Must precede the first sqlite3 call. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));
    if (!db) {
        fprintf(stderr, "bouchon import: %s\n", err);
        bch_cli_free_paths(files);
        return BCH_EXIT_DB;
    }
    /* SIGINT/SIGTERM: stop at the next batch or file, committed (docs/CLI.md). */
    bch_cli_install_signals_restart();
    o.stop = &bch_cli_stop;
    t0 = mono();
    rc = bch_import_files(db, &o, files, nfiles, &st);
    bch_info("import",
             "%s: %ld files (%ld already imported, %ld unreadable): %ld rows, %ld stored, "
             "%ld rejected, %ld coerced, %ld duplicates, %ld merged in %.1f s",
             o.kind, st.files, st.skipped, st.unreadable, st.rows, st.stored, st.rejected,
             st.coerced, st.duplicates, st.merged, mono() - t0);
    if (as_json) {
        json_t *j = stats_json(&st, mono() - t0);

        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
    }
    bch_db_close(db);
    bch_cli_free_paths(files);
    if (st.stopped && (rc == 0 || rc == BCH_ERR_INPUT)) {
        int sig = bch_cli_signal ? (int)bch_cli_signal : SIGTERM;

        fprintf(stderr,
                "bouchon import: interrupted by %s: what was read is committed; the interrupted "
                "file is not marked completed: run the same command again to resume (exit %d)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", 128 + sig);
        return 128 + sig;
    }
    return bch_exit_code(rc);
}
