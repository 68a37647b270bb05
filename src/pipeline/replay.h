/*
 * replay.h - load a list of files into the warehouse (replay and run --replay).
 */
#ifndef BCH_REPLAY_H
#define BCH_REPLAY_H

#include "core/compat.h"
#include "pipeline/loader.h"

struct bch_replay_options {
    struct bch_loader_options loader;
    int batch;       /* payloads per transaction */
    bool quiet;      /* no line per payload */
    bool time_order; /* pre-scan files and load them in snapshot-time order */
    double pace_s;   /* run --replay: pause between payloads (0: none) */
    /* Files the caller stored before (run --replay's ci_tpstj_a files),
     * counted in the summary line: files, already loaded, unreadable. */
    size_t prior_files, prior_skipped, prior_bad;
};

void bch_replay_options_default(struct bch_replay_options *o);

/* Called after each payload is committed (run --replay refreshes the API). */
typedef void (*bch_replay_hook)(void *ctx, const char *path, const struct bch_load_result *r);

/*
 * Loads every input (files, folders walked recursively).  A ci_tpstj_a file
 * (bch_import_is_travel()) is not read: it is refused with a message naming
 * `import --kind travel-times`.  Returns a process exit code: 0,
 * BCH_EXIT_INPUT if anything was rejected or refused or an input path does
 * not exist, BCH_EXIT_DB on a warehouse failure.  Prints a summary line on
 * stderr.
 */
int bch_replay_paths(const char *dbpath, char **paths, int npaths,
                     const struct bch_replay_options *o, bch_replay_hook hook);

/*
 * Sorts files by the newest mdate they hold (unreadable ones last, names
 * breaking ties), reading each once; leaves the order unchanged when
 * interrupted (bch_cli_stop).  run --replay and ingest --replay play in
 * this order.
 */
void bch_replay_sort_by_time(char **files, size_t n);

/* Logs the one-line summary of a payload, as run prints per poll. */
void bch_replay_log_payload(const char *what, const struct bch_load_result *r);

#endif
