/*
 * columns.h - SQLite statements and columns as jansson values, for the
 * builders of src/report/ (report.c, api.c, api_history.c).  Internal to
 * src/report/.
 *
 * NULL columns become JSON null (or BCH_TIME_NONE); a non-finite real is
 * null too, since JSON has no NaN.  The returned values are new references.
 */
#ifndef BCH_REPORT_COLUMNS_H
#define BCH_REPORT_COLUMNS_H

#include "core/compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "core/timeutil.h"

json_t *bch_col_text(sqlite3_stmt *st, int i);
json_t *bch_col_real(sqlite3_stmt *st, int i);
json_t *bch_col_int(sqlite3_stmt *st, int i);
bch_time bch_col_time(sqlite3_stmt *st, int i);

/* Prepares sql, logging "<what> query: <reason>" on failure (NULL). */
sqlite3_stmt *bch_rep_prepare(sqlite3 *db, const char *what, const char *sql);
/* Finalizes st after a step loop that ended with rc: 0 when rc is SQLITE_DONE,
 * else -1 after logging the reason. */
int bch_rep_finish(sqlite3 *db, sqlite3_stmt *st, int rc, const char *what);

#endif
