#include "core/compat.h"

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

sqlite3 *bch_db_open(const char *path, enum bch_db_mode mode, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int flags =
        mode == BCH_DB_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open warehouse '%s': %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    if (mode == BCH_DB_READWRITE) {
        if (bch_db_exec(db, "PRAGMA journal_mode=WAL") ||
            bch_db_exec(db, "PRAGMA synchronous=NORMAL") ||
            bch_db_exec(db, "PRAGMA foreign_keys=OFF") || migrate(db, err, errlen)) {
            if (!err[0]) {
                snprintf(err, errlen, "cannot prepare warehouse '%s'", path);
            }
            sqlite3_close(db);
            return NULL;
        }
    } else {
        sqlite3_stmt *st = NULL;
        int have = -1;

        /* Say why a readable-looking file cannot be read (e.g. WAL needs to
         * create FILE-shm beside it), rather than "not a warehouse". */
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            snprintf(err, errlen, "cannot read warehouse '%s': %s", path, sqlite3_errmsg(db));
            sqlite3_finalize(st);
            sqlite3_close(db);
            return NULL;
        }
        have = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (have < 1) {
            snprintf(err, errlen, "'%s' is not a Bouchon warehouse (or is empty)", path);
            sqlite3_close(db);
            return NULL;
        }
        if (have > bch_db_schema_version()) {
            snprintf(err, errlen, "warehouse schema version %d is newer than this binary's (%d)",
                     have, bch_db_schema_version());
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
