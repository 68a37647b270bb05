/*
 * db.h - the SQLite warehouse: opening, migrations, small helpers.
 *
 * The schema lives in src/warehouse/schema_vN.sql, embedded at build time;
 * PRAGMA user_version records the last migration applied, and bch_db_open()
 * applies the missing ones in one transaction each.  Writers use WAL so that
 * readers (serve, report) never block the writer and see committed data only.
 */
#ifndef BCH_DB_H
#define BCH_DB_H

#include "core/compat.h"

#include <sqlite3.h>

enum bch_db_mode {
    BCH_DB_READWRITE = 0, /* creates the file and migrates it */
    BCH_DB_READONLY = 1,  /* the file must exist and be migrated */
};

/*
 * Opens path.  Returns the handle, or NULL with the reason in err.  The
 * caller closes it with bch_db_close().
 *
 * BCH_DB_READONLY never writes: the file is opened with the URI mode=ro.  A
 * WAL warehouse whose FILE-shm is absent cannot be read that way when the
 * directory is not writable (SQLite must create FILE-shm); if FILE-wal is
 * absent or empty (no transaction outside the main file), it is then opened
 * with immutable=1: no locks, no side files, and changes that a writer makes
 * later are not seen (bch_db_immutable() tells).  If FILE-wal holds data the
 * open fails and err says how to checkpoint it.  BCH_DB_READWRITE creates,
 * switches to WAL and migrates, as before.
 */
sqlite3 *bch_db_open(const char *path, enum bch_db_mode mode, char *err, size_t errlen);
void bch_db_close(sqlite3 *db);

/* db was opened with immutable=1 (the read-only fallback above). */
bool bch_db_immutable(sqlite3 *db);

/* Number of migrations this binary knows (the schema version it writes). */
int bch_db_schema_version(void);

/* Runs sql (no result rows); logs and returns BCH_ERR_DB on failure. */
int bch_db_exec(sqlite3 *db, const char *sql);

/* Prepares sql or returns NULL after logging the SQLite message. */
sqlite3_stmt *bch_db_prepare(sqlite3 *db, const char *sql);

/* Single integer result of sql (no parameters), or dflt. */
int64_t bch_db_int(sqlite3 *db, const char *sql, int64_t dflt);

#endif
