/*
 * fuzz_import.c - `bouchon import` (src/import/) of every kind on any file.
 *
 * The first byte picks the kind, the rest is the file: written to a
 * temporary file (whose name holds a year, as the counts kind may need) and
 * imported into a fresh in-memory warehouse.  Invariants of the error
 * discipline of docs/HISTORY.md:
 *   - the import answers 0 or BCH_ERR_INPUT: bad bytes are bad input, never
 *     a warehouse error, a crash or a leak;
 *   - the counters are sane: nothing negative, and no more rows stored,
 *     rejected, merged or found duplicate than were read;
 *   - importing the same file again changes no table of the imports: a
 *     completed file is skipped, a failed one is read again and its
 *     rejections replace the earlier ones.
 */
#include "core/compat.h"

#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "fuzz.h"
#include "import/import.h"
#include "warehouse/db.h"

/* Every table an import writes, and the rejections. */
static const char count_sql[] =
    "SELECT (SELECT count(*) FROM hourly_score) + (SELECT count(*) FROM history_segment) + "
    "(SELECT count(*) FROM history_gid) + (SELECT count(*) FROM history_hour) + "
    "(SELECT count(*) FROM history_day) + (SELECT count(*) FROM travel_time) + "
    "(SELECT count(*) FROM travel_corridor) + (SELECT count(*) FROM annual_count) + "
    "(SELECT count(*) FROM sensor) + (SELECT count(*) FROM sensor_count) + "
    "(SELECT count(*) FROM network_count_hour) + (SELECT count(*) FROM count_campaign) + "
    "(SELECT count(*) FROM road_work) + (SELECT count(*) FROM road_work_act) + "
    "(SELECT count(*) FROM period) + (SELECT count(*) FROM rejected)";

static char g_path[64];

static void cleanup(void)
{
    if (g_path[0]) {
        unlink(g_path);
    }
}

static const char *temp_path(void)
{
    if (!g_path[0]) {
        int fd;

        snprintf(g_path, sizeof(g_path), "/tmp/bouchon-fuzz-import-XXXXXX-2021.csv");
        fd = mkstemps(g_path, 9);
        FUZZ_CHECK(fd >= 0);
        close(fd);
        atexit(cleanup);
    }
    return g_path;
}

static int64_t table_count(sqlite3 *db)
{
    return bch_db_int(db, count_sql, -1);
}

static void check_stats(const struct bch_import_stats *s)
{
    FUZZ_CHECK(s->rows >= 0 && s->stored >= 0 && s->rejected >= 0 && s->duplicates >= 0 &&
               s->merged >= 0 && s->coerced >= 0);
    FUZZ_CHECK(s->stored <= s->rows && s->duplicates <= s->rows && s->merged <= s->rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *kinds = bch_import_kind_names();
    const char *path = temp_path();
    struct bch_import_options o;
    struct bch_import_stats s1, s2;
    char *paths[1];
    char err[256];
    size_t nkinds = 0, used;
    sqlite3 *db;
    FILE *f;
    int64_t before;
    int rc;

    if (size < 1) {
        return 0;
    }
    bch_log_level = -1; /* quiet: the invariants speak */
    while (kinds[nkinds]) {
        nkinds++;
    }
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    used = fwrite(data + 1, 1, size - 1, f);
    FUZZ_CHECK(used == size - 1 && fclose(f) == 0);
    db = bch_db_open(":memory:", BCH_DB_READWRITE, err, sizeof(err));
    FUZZ_CHECK(db != NULL);
    bch_import_options_default(&o);
    o.kind = kinds[data[0] % nkinds];
    o.quiet = true;
    o.batch_rows = 1 + data[0] / 16; /* small batches: more commits to cross */
    paths[0] = (char *)path;

    rc = bch_import_files(db, &o, paths, 1, &s1);
    FUZZ_CHECK(rc == 0 || rc == BCH_ERR_INPUT);
    check_stats(&s1);
    before = table_count(db);
    FUZZ_CHECK(before >= 0);

    rc = bch_import_files(db, &o, paths, 1, &s2);
    FUZZ_CHECK(rc == 0 || rc == BCH_ERR_INPUT);
    check_stats(&s2);
    /* A completed file is skipped; a failed one is read again, and its
     * counters are the file's (docs/HISTORY.md), but the tables stay. */
    FUZZ_CHECK(s2.skipped == 0 || (s2.stored == 0 && s2.rows == 0));
    FUZZ_CHECK(table_count(db) == before);
    bch_db_close(db);
    return 0;
}
