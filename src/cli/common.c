#include "core/compat.h"

#include <dirent.h>
#include <signal.h>
#include <strings.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/grow.h"
#include "pipeline/loader.h"
#include "sources/http_fetch.h"
#include "warehouse/db.h"

volatile sig_atomic_t bch_cli_stop = 0;
volatile sig_atomic_t bch_cli_signal = 0;

static void on_signal(int sig)
{
    bch_cli_signal = sig;
    bch_cli_stop = 1;
}

static void install(int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void bch_cli_install_signals(void)
{
    install(0);
}

void bch_cli_install_signals_restart(void)
{
    install(SA_RESTART);
}

int bch_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "bouchon %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'bouchon %s --help')\n", cmd);
    return BCH_EXIT_USAGE;
}

bool bch_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return true;
        }
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }
    return false;
}

int bch_cli_time(const char *opt, const char *value, bch_time *out)
{
    char err[96];

    if (strcmp(value, "now") == 0) {
        *out = bch_now();
        return 0;
    }
    if (bch_time_parse(value, strlen(value), false, out, err, sizeof(err))) {
        fprintf(stderr, "bouchon: %s '%s': %s (use e.g. 2025-12-18T09:00:00Z)\n", opt, value, err);
        return -1;
    }
    return 0;
}

struct pathvec {
    char **v;
    size_t n, cap;
};

static int push(struct pathvec *pv, const char *p)
{
    char **nv = bch_reserve(pv->v, &pv->cap, pv->n + 2, sizeof(char *), 64); /* + the NULL */

    if (!nv) {
        return -1;
    }
    pv->v = nv;
    pv->v[pv->n] = strdup(p);
    if (!pv->v[pv->n]) {
        return -1;
    }
    pv->n++;
    pv->v[pv->n] = NULL;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static bool is_data_file(const char *path)
{
    static const char *const exts[] = {".csv",    ".json",    ".geojson",
                                       ".csv.gz", ".json.gz", ".geojson.gz"};

    for (size_t i = 0; i < BCH_ARRAY_LEN(exts); i++) {
        if (ends_with(path, exts[i])) {
            return true;
        }
    }
    return false;
}

static int walk(struct pathvec *pv, const char *path, int depth)
{
    struct stat sb;
    DIR *d;
    struct dirent *de;
    struct pathvec local = {0};
    int rc = 0;

    if (stat(path, &sb) != 0) {
        if (depth > 0) {
            /* A dangling link inside a folder must not stop the others. */
            fprintf(stderr, "bouchon: input '%s': %s; skipped\n", path, strerror(errno));
            return 0;
        }
        fprintf(stderr, "bouchon: input '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (depth > 0 && !S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) {
        /* FIFOs, sockets, devices inside a folder: never read (a FIFO would block). */
        fprintf(stderr, "bouchon: input '%s': not a regular file; skipped\n", path);
        return 0;
    }
    if (!S_ISDIR(sb.st_mode)) {
        /* Files named on the command line are always read; inside folders
         * only data files are (a README beside the snapshots is no input). */
        return depth == 0 || is_data_file(path) ? push(pv, path) : 0;
    }
    if (depth > 16) {
        fprintf(stderr, "bouchon: input '%s': folders nested too deep\n", path);
        return -1;
    }
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "bouchon: input '%s': %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char full[4096];

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
        if (push(&local, full)) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (local.n) {
        qsort(local.v, local.n, sizeof(char *), cmp_names);
    }
    for (size_t i = 0; i < local.n; i++) {
        if (rc == 0) {
            rc = walk(pv, local.v[i], depth + 1);
        }
        free(local.v[i]);
    }
    free(local.v);
    return rc;
}

char **bch_cli_collect_inputs(char **paths, int n, size_t *count)
{
    struct pathvec pv = {0};

    for (int i = 0; i < n; i++) {
        if (walk(&pv, paths[i], 0)) {
            pv.n = pv.n; /* keep what was pushed for freeing */
            if (pv.v) {
                pv.v[pv.n] = NULL;
            }
            bch_cli_free_paths(pv.v);
            return NULL;
        }
    }
    if (!pv.v && push(&pv, "") == 0) {
        free(pv.v[0]);
        pv.v[0] = NULL;
        pv.n = 0;
    }
    *count = pv.n;
    return pv.v;
}

void bch_cli_free_paths(char **paths)
{
    if (!paths) {
        return;
    }
    for (size_t i = 0; paths[i]; i++) {
        free(paths[i]);
    }
    free(paths);
}

int bch_cli_read_input(const char *path, struct bch_buf *b, char *err, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    char chunk[1 << 16];
    int n;

    if (!gz) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno ? errno : ENOMEM));
        return -1;
    }
    gzbuffer(gz, 1 << 17);
    bch_buf_reset(b);
    while ((n = gzread(gz, chunk, sizeof(chunk))) > 0) {
        if (bch_buf_add(b, chunk, (size_t)n)) {
            snprintf(err, errlen, "'%s' is larger than %zu bytes", path, b->max);
            gzclose(gz);
            return -1;
        }
    }
    {
        int zerr;
        const char *msg = gzerror(gz, &zerr);

        /* A gzip stream cut short ends gzread() with 0, not -1: ask zlib. */
        if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
            snprintf(err, errlen, "cannot read '%s': %s%s", path,
                     zerr == Z_ERRNO ? strerror(errno) : msg,
                     zerr == Z_BUF_ERROR ? " (truncated gzip file)" : "");
            gzclose(gz);
            return -1;
        }
    }
    gzclose(gz);
    if (!b->data && bch_buf_add(b, "", 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int bch_cli_number(const char *opt, const char *value, double max, double *out)
{
    char *end = NULL;
    double v = -1;

    /* strtod alone would take " 5", "+5", "0x10", "inf" and "nan". */
    if ((value[0] >= '0' && value[0] <= '9') ||
        (value[0] == '.' && value[1] >= '0' && value[1] <= '9')) {
        bool plain = true;

        for (const char *c = value; *c; c++) {
            plain = plain && ((*c >= '0' && *c <= '9') || strchr(".eE+-", *c));
        }
        errno = 0;
        v = plain ? strtod(value, &end) : -1;
        if (!plain || errno || end == value || *end != '\0') {
            v = -1;
        }
    }
    if (!(v >= 0) || v > max) {
        fprintf(stderr, "bouchon: %s '%s': expected a number between 0 and %g\n", opt, value, max);
        return -1;
    }
    *out = v;
    return 0;
}

int bch_cli_int(const char *opt, const char *value, long long min, long long max, long long *out)
{
    const char *c = value;
    long long v = 0;
    bool neg = false, ok = true;

    if (*c == '-' && min < 0) {
        neg = true;
        c++;
    }
    if (*c == '\0') {
        ok = false;
    }
    for (; ok && *c; c++) {
        if (*c < '0' || *c > '9' || v > (INT64_MAX - (*c - '0')) / 10) {
            ok = false;
        } else {
            v = v * 10 + (*c - '0');
        }
    }
    if (neg) {
        v = -v;
    }
    if (!ok || v < min || v > max) {
        fprintf(stderr, "bouchon: %s '%s': expected a whole number between %lld and %lld\n", opt,
                value, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

void bch_cli_warn_immutable(const char *cmd, struct sqlite3 *db, const char *path)
{
    if (bch_db_immutable(db)) {
        fprintf(stderr,
                "bouchon %s: warning: '%s' is read with immutable=1 (WAL warehouse in a "
                "read-only directory, no -shm/-wal files): changes written after this point "
                "are not seen; make the directory writable for a live view\n",
                cmd, path);
    }
}

int bch_cli_loader_option(int opt, const char *arg, struct bch_loader_options *o)
{
    long long n;
    double v;

    switch (opt) {
    case BCH_OPT_STALE:
        if (bch_cli_int("--stale-after", arg, 0, 86400LL * 365 * 100, &n)) {
            return -1;
        }
        o->track.stale_s = (int64_t)n;
        return 1;
    case BCH_OPT_HYSTERESIS:
        if (bch_cli_int("--hysteresis", arg, 0, 86400, &n)) {
            return -1;
        }
        o->track.hysteresis_s = (int64_t)n;
        return 1;
    case BCH_OPT_QUEUE_TOL:
        if (bch_cli_number("--queue-tolerance", arg, 1000, &v)) {
            return -1;
        }
        o->queue_tol_m = v;
        return 1;
    default:
        return 0;
    }
}

int bch_cli_http_option(int opt, const char *arg, struct bch_http_opts *o)
{
    long long n;
    double v;

    switch (opt) {
    case BCH_OPT_TIMEOUT:
        if (bch_cli_number("--timeout", arg, 3600, &v)) {
            return -1;
        }
        if (v <= 0) {
            fprintf(stderr, "bouchon: --timeout must be more than 0 seconds\n");
            return -1;
        }
        o->timeout_ms = (long)(v * 1000);
        return 1;
    case BCH_OPT_RETRIES:
        if (bch_cli_int("--retries", arg, 0, 100, &n)) {
            return -1;
        }
        o->max_retries = (int)n;
        return 1;
    default:
        return 0;
    }
}
