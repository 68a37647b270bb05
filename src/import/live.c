/*
 * live.c - live travel-time snapshots held in memory (`bouchon run`).
 *
 * A poll of ci_tpstj_a (or a ci_tpstj_a file met by `run --replay`) is an
 * import session of the travel-times kind over one payload: the source is
 * registered by content hash (the same "import:<dataset>" tag and bytes as
 * `bouchon import` uses for a file, so either one skips what the other
 * stored), the records go through the kind's record path (travel.c), the
 * health flags are recomputed, and everything is one transaction.
 */
#include "core/compat.h"

#include "core/err.h"
#include "core/log.h"
#include "import/fields.h"
#include "import/internal.h"
#include "import/stream.h"
#include "warehouse/db.h"

#define DEFAULT_DATASET "ci_tpstj_a"

struct live {
    struct bch_imp im;
    struct bch_import_options opt;
    struct bch_import_stats st;
    sqlite3_stmt *snap_at;
};

/* The session's statements (import.c), and the snapshot instant's. */
static int prepare(struct live *lv)
{
    const struct bch_imp_sql defs[] = {
        {&lv->snap_at, "UPDATE raw_source SET snapshot_at = ? WHERE source_id = ?"},
    };

    if (bch_imp_session_prepare(&lv->im)) {
        return BCH_ERR_DB;
    }
    return bch_imp_prepare(&lv->im, defs, BCH_ARRAY_LEN(defs));
}

static void finalize(struct live *lv)
{
    bch_imp_session_finalize(&lv->im);
    sqlite3_finalize(lv->snap_at);
    lv->snap_at = NULL;
}

int bch_import_travel_live(sqlite3 *db, const struct bch_import_payload *p,
                           struct bch_import_live *res)
{
    const struct bch_imp_kind *k = &bch_imp_kind_travel;
    const char *dataset = p->dataset ? p->dataset : DEFAULT_DATASET;
    struct live *lv = calloc(1, sizeof(*lv));
    char hash[33], err[512];
    bool skip = false;
    int rc, prc = 0;

    memset(res, 0, sizeof(*res));
    res->newest = BCH_TIME_NONE;
    if (!lv) {
        return BCH_ERR_NOMEM;
    }
    if (p->hash_path ? bch_import_hash_file(p->hash_path, dataset, hash, err, sizeof(err))
                     : bch_import_hash_buffer(p->data, p->len, dataset, hash)) {
        bch_error("import", "%s", p->hash_path ? err : "out of memory");
        free(lv);
        return p->hash_path ? BCH_ERR_INPUT : BCH_ERR_NOMEM;
    }
    bch_import_options_default(&lv->opt);
    lv->opt.kind = k->name;
    lv->opt.quiet = true;
    lv->im.db = db;
    lv->im.opt = &lv->opt;
    lv->im.st = &lv->st;
    rc = prepare(lv);
    if (rc == 0) {
        rc = k->begin(&lv->im);
    }
    if (rc == 0) {
        rc = bch_imp_begin(&lv->im);
    }
    if (rc == 0) {
        lv->im.file_start = lv->st;
        rc = bch_imp_source_hashed(
            &lv->im, p->name ? p->name : "", p->kind ? p->kind : "api", dataset, "unknown", hash,
            p->fetched_at != BCH_TIME_NONE ? p->fetched_at : bch_now(), &skip);
    }
    if (rc == 0 && !skip) {
        prc = bch_imp_travel_payload(&lv->im, p->data, p->len);
        if (prc == BCH_ERR_INPUT) {
            prc = 0;
        }
        rc = prc;
    }
    if (rc == 0 && !skip) {
        rc = k->end(&lv->im);
    }
    if (rc == 0 && !skip) {
        rc = bch_imp_travel_summary(&lv->im, &res->newest, &res->unhealthy);
    }
    if (rc == 0 && !skip && res->newest != BCH_TIME_NONE) {
        sqlite3_bind_int64(lv->snap_at, 1, res->newest);
        sqlite3_bind_int64(lv->snap_at, 2, lv->im.source_id);
        rc = bch_imp_step(&lv->im, lv->snap_at);
    }
    if (rc == 0 && !skip) {
        rc = bch_imp_commit(&lv->im);
    } else {
        bch_imp_rollback(&lv->im); /* a skip wrote nothing either */
    }
    if (rc == 0) {
        res->skipped = skip;
        res->records = lv->st.rows;
        res->stored = lv->st.stored;
        res->duplicates = lv->st.duplicates;
        res->merged = lv->st.merged;
        res->rejected = lv->st.rejected;
    } else {
        res->newest = BCH_TIME_NONE;
        res->unhealthy = 0;
    }
    if (k->release) {
        k->release(&lv->im);
    }
    finalize(lv);
    free(lv);
    if (rc) {
        return rc;
    }
    return res->rejected > 0 ? BCH_ERR_INPUT : 0;
}

/* ------------------------------------------------------------- sniffing */

/* Case-insensitive search of needle (lowercase) in s[0..len). */
static bool icontains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++) {
        if (bch_name_eq(s + i, n, needle)) {
            return true;
        }
    }
    return false;
}

bool bch_import_is_travel(const char *head, size_t len)
{
    size_t i = 0;

    if (len >= 3 && (unsigned char)head[0] == 0xEF && (unsigned char)head[1] == 0xBB &&
        (unsigned char)head[2] == 0xBF) {
        i = 3;
    }
    while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) {
        i++;
    }
    if (i >= len) {
        return false;
    }
    if (head[i] == '{' || head[i] == '[') {
        return icontains(head + i, len - i, "\"bm_actuel\"") ||
               icontains(head + i, len - i, "\"actuel\"");
    }
    {
        /* CSV: the names of the first line, unquoted and trimmed. */
        size_t end = i, start;
        char sep;

        while (end < len && head[end] != '\n' && head[end] != '\r') {
            end++;
        }
        sep = bch_csv_sniff_sep(head + i, end - i);
        for (start = i; start <= end;) {
            size_t stop = start, a, b;

            while (stop < end && head[stop] != sep) {
                stop++;
            }
            a = start;
            b = stop;
            while (a < b && (head[a] == ' ' || head[a] == '\t' || head[a] == '"')) {
                a++;
            }
            while (b > a && (head[b - 1] == ' ' || head[b - 1] == '\t' || head[b - 1] == '"')) {
                b--;
            }
            if (bch_name_eq(head + a, b - a, "bm_actuel") ||
                bch_name_eq(head + a, b - a, "actuel")) {
                return true;
            }
            start = stop + 1;
        }
    }
    return false;
}
