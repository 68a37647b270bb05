/*
 * cli.h - subcommands of the bouchon binary.
 *
 * Each subcommand is cmd_<name>(argc, argv) in src/cli/cmd_<name>.c, listed
 * in the table of src/main.c.  argv[0] is the subcommand name.  A command
 * returns a process exit code (core/err.h enum bch_exit); only main.c and
 * the commands may end the process.
 */
#ifndef BCH_CLI_H
#define BCH_CLI_H

#include "core/compat.h"

#include <signal.h>

#include "core/timeutil.h"

struct bch_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

int cmd_fetch(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_topics(int argc, char **argv);

/* Parses a --at/--from/--to value (ISO-8601 with offset or Z, or "now"). */
int bch_cli_time(const char *opt, const char *value, bch_time *out);

/* Prints "bouchon CMD: message" to stderr and returns BCH_EXIT_USAGE. */
int bch_cli_usage_error(const char *cmd, const char *fmt, ...) BCH_PRINTF(2, 3);

/* True when argv holds -h or --help. */
bool bch_cli_wants_help(int argc, char **argv);

/*
 * Collects input paths: files as given, folders walked recursively (only
 * *.csv, *.json, *.geojson, optionally .gz, inside folders); names sorted
 * (byte order) within each folder.  Returns a NULL-terminated array
 * of malloc'ed strings (free with bch_cli_free_paths), or NULL with a
 * message printed when a path does not exist.
 */
char **bch_cli_collect_inputs(char **paths, int n, size_t *count);
void bch_cli_free_paths(char **paths);

/*
 * Reads a whole input file into b (gzip-compressed files are inflated).
 * Returns 0, or -1 with a message in err.  Inputs are capped at 1 GiB.
 */
struct bch_buf;
int bch_cli_read_input(const char *path, struct bch_buf *b, char *err, size_t errlen);

/* Options shared by the commands that load data (replay, run, load). */
struct bch_loader_options;
/* Handles --stale-after / --hysteresis / --queue-tolerance; 1 if opt was one of them. */
int bch_cli_loader_option(int opt, const char *arg, struct bch_loader_options *o);
#define BCH_OPT_STALE      1001
#define BCH_OPT_HYSTERESIS 1002
#define BCH_OPT_QUEUE_TOL  1003
#define BCH_LOADER_LONGOPTS                                                                        \
    {"stale-after", required_argument, NULL, BCH_OPT_STALE},                                       \
        {"hysteresis", required_argument, NULL, BCH_OPT_HYSTERESIS},                               \
    {                                                                                              \
        "queue-tolerance", required_argument, NULL, BCH_OPT_QUEUE_TOL                              \
    }
#define BCH_LOADER_HELP                                                                            \
    "  --stale-after S       an observation older than S seconds is stale (default 900)\n"         \
    "  --hysteresis S        a jam that clears and returns within S s is one episode (300)\n"      \
    "  --queue-tolerance M   segments touch when within M metres (default 15)\n"

/* Options shared by the commands that call the open data API (fetch, run, ingest). */
struct bch_http_opts;
/* Handles --timeout / --retries; 1 if opt was one of them, -1 on a bad value, 0 otherwise. */
int bch_cli_http_option(int opt, const char *arg, struct bch_http_opts *o);
#define BCH_OPT_TIMEOUT 1011
#define BCH_OPT_RETRIES 1012
#define BCH_HTTP_LONGOPTS                                                                          \
    {"timeout", required_argument, NULL, BCH_OPT_TIMEOUT},                                         \
    {                                                                                              \
        "retries", required_argument, NULL, BCH_OPT_RETRIES                                        \
    }
#define BCH_HTTP_HELP                                                                              \
    "  --timeout S           per HTTP request, seconds (default 30)\n"                             \
    "  --retries N           retries on network errors, 5xx and 429 (default 4)\n"

/*
 * Parses a non-negative decimal number (digits, an optional fraction and
 * exponent: no sign, hex, inf or nan) at most max for option opt; -1 with a
 * message naming the option if bad.
 */
int bch_cli_number(const char *opt, const char *value, double max, double *out);

/*
 * Parses a whole number in [min, max] (decimal digits only, a '-' when min
 * is negative) for option opt: "1.7", "1e3" and "" are refused.  0, or -1
 * with a message naming the option and the bounds.
 */
int bch_cli_int(const char *opt, const char *value, long long min, long long max, long long *out);

/* Warns once on stderr that db (opened by CMD from path) is read as
 * immutable: the read-only fallback of warehouse/db.h. */
struct sqlite3;
void bch_cli_warn_immutable(const char *cmd, struct sqlite3 *db, const char *path);

/* Set by SIGINT/SIGTERM once bch_cli_install_signals() was called;
 * bch_cli_signal holds the signal number. */
extern volatile sig_atomic_t bch_cli_stop;
extern volatile sig_atomic_t bch_cli_signal;
void bch_cli_install_signals(void);
/* The same with SA_RESTART: file reads in progress (zlib, a reader thread)
 * are resumed rather than failed with EINTR; for commands that only poll
 * bch_cli_stop between units of work (import). */
void bch_cli_install_signals_restart(void);

#endif
