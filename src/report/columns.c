/*
 * columns.c - see columns.h.
 */
#include "core/compat.h"

#include <math.h>

#include "core/log.h"
#include "report/columns.h"

json_t *bch_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? json_string((const char *)t) : json_null();
}

json_t *bch_col_real(sqlite3_stmt *st, int i)
{
    double v;

    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return json_null();
    }
    v = sqlite3_column_double(st, i);
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *bch_col_int(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return json_null();
    }
    return json_integer(sqlite3_column_int64(st, i));
}

bch_time bch_col_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? BCH_TIME_NONE : sqlite3_column_int64(st, i);
}

sqlite3_stmt *bch_rep_prepare(sqlite3 *db, const char *what, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        bch_error("api", "%s query: %s", what, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int bch_rep_finish(sqlite3 *db, sqlite3_stmt *st, int rc, const char *what)
{
    if (rc != SQLITE_DONE) {
        bch_error("api", "%s query: %s", what, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}
