#include "core/compat.h"

#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "warehouse/db.h"

#include "schema_sql.h" /* generated: bch_migrations[] */

int bch_db_schema_version(void)
{
    return (int)BCH_ARRAY_LEN(bch_migrations);
}

int bch_db_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bch_error("db", "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return BCH_ERR_DB;
    }
    return 0;
}

sqlite3_stmt *bch_db_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        bch_error("db", "cannot prepare statement: %s", sqlite3_errmsg(db));
        return NULL;
    }
    return st;
}

int64_t bch_db_int(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *st = NULL;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return dflt;
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int have = (int)bch_db_int(db, "PRAGMA user_version", 0);
    int want = bch_db_schema_version();

    if (have > want) {
        snprintf(err, errlen, "warehouse schema version %d is newer than this binary's (%d)", have,
                 want);
        return BCH_ERR_DB;
    }
    for (int v = have; v < want; v++) {
        char pragma[64];
        char *msg = NULL;

        if (bch_db_exec(db, "BEGIN IMMEDIATE")) {
            snprintf(err, errlen, "cannot start migration %d", v + 1);
            return BCH_ERR_DB;
        }
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, bch_migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "migration %d failed: %s", v + 1, msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return BCH_ERR_DB;
        }
        if (bch_db_exec(db, "COMMIT")) {
            snprintf(err, errlen, "cannot commit migration %d", v + 1);
            return BCH_ERR_DB;
        }
    }
    return 0;
}

/* "file:" URI of path with mode=ro (and immutable=1): every byte outside the
 * unreserved set is %-escaped, an absolute path gets an empty authority. */
static int ro_uri(const char *path, bool immutable, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *q = immutable ? "?mode=ro&immutable=1" : "?mode=ro";
    size_t n = (size_t)snprintf(out, len, "%s", path[0] == '/' ? "file://" : "file:");

    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        bool keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || strchr("-._~/", *c);

        if (n + 4 >= len) {
            return -1;
        }
        if (keep) {
            out[n++] = (char)*c;
        } else {
            out[n++] = '%';
            out[n++] = hex[*c >> 4];
            out[n++] = hex[*c & 15];
        }
    }
    if (n + strlen(q) + 1 > len) {
        return -1;
    }
    memcpy(out + n, q, strlen(q) + 1);
    return 0;
}

/* Opens path read-only and reads PRAGMA user_version: 0 with *db and *version,
 * or the SQLite result code with the message in err (*db closed). */
static int ro_probe(const char *path, bool immutable, sqlite3 **db, int *version, char *err,
                    size_t errlen)
{
    char uri[8192];
    sqlite3_stmt *st = NULL;
    int rc;

    *db = NULL;
    if (ro_uri(path, immutable, uri, sizeof(uri))) {
        snprintf(err, errlen, "cannot open warehouse '%s': path too long", path);
        return SQLITE_CANTOPEN;
    }
    rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open warehouse '%s': %s", path,
                 *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    /* Say why a readable-looking file cannot be read rather than "not a
     * warehouse". */
    if (sqlite3_prepare_v2(*db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = sqlite3_errcode(*db);
        snprintf(err, errlen, "cannot read warehouse '%s': %s", path, sqlite3_errmsg(*db));
        sqlite3_finalize(st);
        sqlite3_close(*db);
        *db = NULL;
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* "FILE-suffix" exists (and, with nonempty, holds bytes). */
static bool side_file(const char *path, const char *suffix, bool nonempty)
{
    char p[4200];
    struct stat sb;

    if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p)) {
        return true; /* cannot tell: assume the worst */
    }
    return stat(p, &sb) == 0 && (!nonempty || sb.st_size > 0);
}

/* The directory of path is writable by this process. */
static bool dir_writable(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    size_t n;

    if (!slash) {
        return access(".", W_OK) == 0;
    }
    n = (size_t)(slash - path);
    if (n == 0) {
        n = 1; /* "/file" */
    }
    if (n >= sizeof(dir)) {
        return true;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    return access(dir, W_OK) == 0;
}

/*
 * Read-only open.  A WAL warehouse needs FILE-shm: SQLite creates it, or
 * reads an existing one (3.22+), so a reader fails when the directory is not
 * writable and FILE-shm is absent.  Then, if no FILE-wal holds data, no
 * committed transaction lives outside the main file and the file is opened
 * with immutable=1 (no locks, no -shm); a -wal with data is never ignored.
 */
static sqlite3 *open_readonly(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int have = -1;
    int rc = ro_probe(path, false, &db, &have, err, errlen);

    if (rc != 0 && ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) &&
        access(path, R_OK) == 0 && !dir_writable(path) && !side_file(path, "-shm", false)) {
        if (side_file(path, "-wal", true)) {
            snprintf(err, errlen,
                     "cannot read warehouse '%s': its directory is not writable and %s-wal holds "
                     "transactions not yet in the main file (a writer is running, or stopped "
                     "without a checkpoint); SQLite cannot read them without creating %s-shm: "
                     "make the directory writable, or checkpoint the file first (any bouchon "
                     "command that writes, or: sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)')",
                     path, path, path, path);
            return NULL;
        }
        rc = ro_probe(path, true, &db, &have, err, errlen);
        if (rc == 0) {
            bch_debug("db", "'%s' opened with immutable=1 (read-only directory, no -wal)", path);
        }
    }
    if (rc != 0) {
        return NULL;
    }
    if (have < 1) {
        snprintf(err, errlen, "'%s' is not a Bouchon warehouse (or is empty)", path);
        sqlite3_close(db);
        return NULL;
    }
    if (have > bch_db_schema_version()) {
        snprintf(err, errlen, "warehouse schema version %d is newer than this binary's (%d)", have,
                 bch_db_schema_version());
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

bool bch_db_immutable(sqlite3 *db)
{
    const char *f = db ? sqlite3_db_filename(db, "main") : NULL;

    return f && sqlite3_uri_boolean(f, "immutable", 0);
}

sqlite3 *bch_db_open(const char *path, enum bch_db_mode mode, char *err, size_t errlen)
{
    sqlite3 *db = NULL;

    if (mode == BCH_DB_READONLY) {
        db = open_readonly(path, err, errlen);
        if (!db) {
            return NULL;
        }
    } else {
        if (sqlite3_open_v2(path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot open warehouse '%s': %s", path,
                     db ? sqlite3_errmsg(db) : "out of memory");
            sqlite3_close(db);
            return NULL;
        }
        sqlite3_busy_timeout(db, 10000);
        if (bch_db_exec(db, "PRAGMA journal_mode=WAL") ||
            bch_db_exec(db, "PRAGMA synchronous=NORMAL") ||
            bch_db_exec(db, "PRAGMA foreign_keys=OFF") || migrate(db, err, errlen)) {
            if (!err[0]) {
                snprintf(err, errlen, "cannot prepare warehouse '%s'", path);
            }
            sqlite3_close(db);
            return NULL;
        }
    }
    bch_db_exec(db, "PRAGMA cache_size=-32000"); /* 32 MB page cache: bounded memory, fewer reads
                                                    while loading */
    return db;
}

void bch_db_close(sqlite3 *db)
{
    if (db) {
        sqlite3_close(db);
    }
}
