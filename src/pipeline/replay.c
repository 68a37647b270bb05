#include "core/compat.h"

#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "import/import.h"
#include "pipeline/replay.h"
#include "warehouse/db.h"

void bch_replay_options_default(struct bch_replay_options *o)
{
    memset(o, 0, sizeof(*o));
    bch_loader_options_default(&o->loader);
    o->batch = 64;
}

void bch_replay_log_payload(const char *what, const struct bch_load_result *r)
{
    char at[32];

    if (r->skipped) {
        bch_info("replay", "%s: already loaded, skipped", what);
        return;
    }
    bch_time_format_utc(r->snapshot_at, at, sizeof(at));
    bch_info("load",
             "%s: %s %ld records, %ld new observations, %ld state changes, %ld rejected; "
             "known %.2f km, congested %.2f km, %ld jams, %ld queues%s%s",
             what, r->snapshot_at == BCH_TIME_NONE ? "-" : at, r->records, r->observations,
             r->state_changes, r->rejected, r->known_km, r->congested_km, r->active_jams, r->queues,
             r->flag ? "; FLAGGED " : "", r->flag ? r->flag : "");
}

struct ordered {
    char *path;
    bch_time at;
};

static int cmp_ordered(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;

    if (x->at != y->at) {
        return x->at < y->at ? -1 : 1;
    }
    return strcmp(x->path, y->path);
}

static int scan_record(void *ctx, const struct bch_trafi_record *r)
{
    (void)ctx;
    (void)r;
    return 0;
}

void bch_replay_sort_by_time(char **files, size_t n)
{
    struct ordered *o = calloc(n ? n : 1, sizeof(*o));
    struct bch_reader *reader = bch_reader_new();
    struct bch_reader_sink sink = {NULL, scan_record, NULL};
    struct bch_buf b;
    char err[256];

    if (!o || !reader) {
        free(o);
        bch_reader_free(reader);
        return;
    }
    bch_buf_init(&b, 1u << 30);
    for (size_t i = 0; i < n && !bch_cli_stop; i++) {
        struct bch_parse_result pr;

        o[i].path = files[i];
        o[i].at = INT64_MAX;
        if (bch_cli_read_input(files[i], &b, err, sizeof(err)) == 0 &&
            bch_reader_parse(reader, b.data, b.len, &sink, &pr, err, sizeof(err)) == 0 &&
            pr.newest_mdate != BCH_TIME_NONE) {
            o[i].at = pr.newest_mdate;
        }
    }
    if (!bch_cli_stop) {
        qsort(o, n, sizeof(*o), cmp_ordered);
        for (size_t i = 0; i < n; i++) {
            files[i] = o[i].path;
        }
    }
    bch_buf_release(&b);
    bch_reader_free(reader);
    free(o);
}

static void pause_for(double s)
{
    struct timespec ts;

    if (s <= 0) {
        return;
    }
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (!bch_cli_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int bch_replay_paths(const char *dbpath, char **paths, int npaths,
                     const struct bch_replay_options *o, bch_replay_hook hook)
{
    char err[512] = "";
    size_t nfiles = 0, in_batch = 0, done = 0;
    char **files = bch_cli_collect_inputs(paths, npaths, &nfiles);
    sqlite3 *db = NULL;
    struct bch_loader *l = NULL;
    struct bch_buf b;
    long tot_records = 0, tot_obs = 0, tot_rej = 0, tot_skip = 0, tot_bad = 0, tot_travel = 0;
    int exit_code = BCH_EXIT_OK;

    if (!files) {
        return BCH_EXIT_INPUT;
    }
    bch_buf_init(&b, 1u << 30);
    db = bch_db_open(dbpath, BCH_DB_READWRITE, err, sizeof(err));
    if (!db) {
        bch_error("replay", "%s", err);
        bch_cli_free_paths(files);
        return BCH_EXIT_DB;
    }
    l = bch_loader_new(db, &o->loader, err, sizeof(err));
    if (!l) {
        bch_error("replay", "%s", err);
        exit_code = BCH_EXIT_DB;
        goto out;
    }
    if (o->time_order) {
        bch_replay_sort_by_time(files, nfiles);
    }
    for (size_t i = 0; i < nfiles && !bch_cli_stop; i++) {
        struct bch_load_result r;
        struct bch_payload_meta meta = {"file", files[i], "ci_trafi_l", BCH_TIME_NONE};
        int rc;

        if (bch_cli_read_input(files[i], &b, err, sizeof(err))) {
            bch_error("replay", "%s", err);
            tot_bad++;
            exit_code = BCH_EXIT_INPUT;
            continue;
        }
        if (bch_import_is_travel(b.data, b.len < 65536 ? b.len : 65536)) {
            /* Say what it is rather than "CSV header lacks ci_trafi_l fields". */
            bch_error("replay",
                      "%s: a ci_tpstj_a (travel times) file, not ci_trafi_l: not read; store it "
                      "with 'bouchon import --kind travel-times' (or 'bouchon run --replay', "
                      "which tells them apart)",
                      files[i]);
            tot_travel++;
            exit_code = BCH_EXIT_INPUT;
            continue;
        }
        if (bch_loader_begin(l)) {
            exit_code = BCH_EXIT_DB;
            break;
        }
        rc = bch_loader_load(l, b.data, b.len, &meta, &r, err, sizeof(err));
        if (rc == BCH_ERR_INPUT) {
            tot_bad++;
        } else if (rc) {
            bch_error("replay", "%s: warehouse error, batch rolled back", files[i]);
            bch_loader_rollback(l);
            exit_code = BCH_EXIT_DB;
            break;
        }
        done++;
        tot_records += r.records;
        tot_obs += r.observations;
        tot_rej += r.rejected;
        tot_skip += r.skipped;
        if (++in_batch >= (size_t)o->batch || hook || o->pace_s > 0 || i + 1 == nfiles) {
            if (bch_loader_commit(l)) {
                bch_loader_rollback(l);
                exit_code = BCH_EXIT_DB;
                break;
            }
            in_batch = 0;
        }
        if (!o->quiet) {
            bch_replay_log_payload(files[i], &r);
        }
        if (hook) {
            hook(NULL, files[i], &r);
        }
        pause_for(o->pace_s);
    }
    if (exit_code != BCH_EXIT_DB && bch_loader_commit(l)) {
        exit_code = BCH_EXIT_DB;
    }
    if (exit_code == BCH_EXIT_OK && (tot_rej > 0 || tot_bad > 0)) {
        exit_code = BCH_EXIT_INPUT;
    }
    if (bch_cli_stop && done < nfiles) {
        bch_warn("replay",
                 "interrupted: %zu of %zu files loaded and committed; run again to "
                 "load the rest (loaded files are skipped)",
                 done + o->prior_files, nfiles + o->prior_files);
    }
    {
        char extra[96] = "";

        if (o->prior_files > 0) {
            snprintf(extra, sizeof(extra), " (%zu of travel times)", o->prior_files);
        }
        bch_info("replay",
                 "%zu files%s: %ld records, %ld new observations, %ld rejected, %ld unreadable, "
                 "%ld already loaded%s",
                 (bch_cli_stop ? done : nfiles) + o->prior_files, extra, tot_records, tot_obs,
                 tot_rej, tot_bad + (long)o->prior_bad, tot_skip + (long)o->prior_skipped,
                 tot_travel > 0 ? "; travel-time files refused (use import --kind travel-times)"
                                : "");
    }
out:
    bch_loader_free(l);
    bch_db_close(db);
    bch_buf_release(&b);
    bch_cli_free_paths(files);
    return exit_code;
}
