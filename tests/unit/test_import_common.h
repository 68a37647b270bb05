/*
 * test_import_common.h - fixtures of the import unit tests (header only:
 * each test_import_*.c is its own program).
 *
 * A fixture is a temporary folder holding a fresh warehouse and the input
 * files a test writes (plain or gzip-compressed); imp_run() imports files
 * of one kind with the library entry point; q_int() / q_real() read one
 * value back with SQL.  Everything is removed at teardown.
 */
#ifndef TEST_IMPORT_COMMON_H
#define TEST_IMPORT_COMMON_H

#include "core/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "import/import.h"
#include "warehouse/db.h"

#define FX_MAX_FILES 32

struct fx {
    char dir[64];
    char db_path[128];
    sqlite3 *db;
    char files[FX_MAX_FILES][160];
    size_t nfiles;
    struct bch_import_stats st;
};

static inline struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256] = "";

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/bouchon-test-import-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db_path, sizeof(f->db_path), "%s/w.db", f->dir);
    f->db = bch_db_open(f->db_path, BCH_DB_READWRITE, err, sizeof(err));
    if (!f->db) {
        fail_msg("bch_db_open: %s", err);
    }
    return f;
}

static inline void fx_free(struct fx *f)
{
    char p[200];
    static const char *const extra[] = {"w.db", "w.db-wal", "w.db-shm"};

    if (!f) {
        return;
    }
    bch_db_close(f->db);
    for (size_t i = 0; i < f->nfiles; i++) {
        unlink(f->files[i]);
    }
    for (size_t i = 0; i < BCH_ARRAY_LEN(extra); i++) {
        snprintf(p, sizeof(p), "%s/%s", f->dir, extra[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
}

/* Writes content (len bytes, or strlen) to dir/name, gzip-compressed when
 * name ends in ".gz"; returns the path (owned by the fixture). */
static inline const char *fx_file(struct fx *f, const char *name, const char *content, size_t len)
{
    char *path, dir[sizeof(f->dir)];
    size_t n = strlen(name);

    assert_true(f->nfiles < FX_MAX_FILES);
    memcpy(dir, f->dir, sizeof(dir));
    path = f->files[f->nfiles++];
    snprintf(path, sizeof(f->files[0]), "%s/%s", dir, name);
    if (!len) {
        len = strlen(content);
    }
    if (n > 3 && strcmp(name + n - 3, ".gz") == 0) {
        gzFile gz = gzopen(path, "wb");

        assert_non_null(gz);
        assert_int_equal(gzwrite(gz, content, (unsigned)len), (int)len);
        gzclose(gz);
    } else {
        FILE *fp = fopen(path, "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(content, 1, len, fp), len);
        fclose(fp);
    }
    return path;
}

/* Imports the NULL-terminated list of paths with kind; o may be NULL. */
static inline int fx_run_opts(struct fx *f, const struct bch_import_options *o, const char *kind,
                              ...)
{
    struct bch_import_options opt;
    char *paths[16];
    size_t n = 0;
    va_list ap;
    const char *p;

    if (o) {
        opt = *o;
    } else {
        bch_import_options_default(&opt);
    }
    opt.kind = kind;
    opt.quiet = true;
    va_start(ap, kind);
    while ((p = va_arg(ap, const char *)) != NULL && n < 16) {
        paths[n++] = (char *)p;
    }
    va_end(ap);
    return bch_import_files(f->db, &opt, paths, n, &f->st);
}

#define fx_run(f, kind, ...) fx_run_opts((f), NULL, (kind), __VA_ARGS__, (const char *)NULL)

static inline int64_t q_int(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = INT64_MIN;

    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("SQL '%s': %s", sql, sqlite3_errmsg(f->db));
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static inline double q_real(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;

    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("SQL '%s': %s", sql, sqlite3_errmsg(f->db));
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_double(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Text of the first column into buf ("" for NULL / no row). */
static inline const char *q_text(struct fx *f, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("SQL '%s': %s", sql, sqlite3_errmsg(f->db));
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return buf;
}

/* All rows of a query as one text (columns '|', rows '\n'), for comparisons. */
static inline char *q_dump(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 1024, len = 0;
    char *out = malloc(cap);

    assert_non_null(out);
    out[0] = '\0';
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("SQL '%s': %s", sql, sqlite3_errmsg(f->db));
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            size_t need = (t ? strlen((const char *)t) : 4) + 2;

            if (len + need + 1 > cap) {
                cap = (len + need + 1) * 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            len += (size_t)snprintf(out + len, cap - len, "%s%c", t ? (const char *)t : "NULL",
                                    i + 1 < sqlite3_column_count(st) ? '|' : '\n');
        }
    }
    sqlite3_finalize(st);
    return out;
}

static inline int fx_setup(void **state)
{
    bch_log_level = BCH_LOG_ERROR;
    *state = fx_new();
    return 0;
}

static inline int fx_teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* Reads a file of the shared data folder ($BOUCHON_SHARED, default ../shared). */
static inline void shared_path(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("BOUCHON_SHARED");

    if (!root || !*root) {
        root = "../shared";
    }
    snprintf(buf, len, "%s/data/bordeaux/%s", root, rel);
    if (access(buf, R_OK) != 0) {
        fail_msg("cannot read %s (set BOUCHON_SHARED to the shared folder)", buf);
    }
}

#endif
