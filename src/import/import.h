/*
 * import.h - `bouchon import`: history and side datasets into the warehouse.
 *
 * One import session writes the files of one kind into a warehouse opened
 * read-write (warehouse/db.h).  The kinds and their files:
 *
 *   segment-history  hourly ci_trafi_l scores (gid, time, score; gzip or
 *                    plain CSV) and segments files (GeoJSON gid -> ident)
 *   travel-times     ci_tpstj_a: hourly history CSV, live CSV / JSON
 *                    snapshots (bm_ fields), corridors GeoJSON
 *   counts           annual counts (v1 JSON, CSV with BOM / UPPERCASE / %)
 *   sensors          pc_capte_p v1 snapshots, pc_capte_ponct_p campaigns
 *                    (JSON or CSV), network-wide hourly totals CSV
 *   works            ci_chantier road works CSV
 *   periods          periods for comparisons (CSV deb, fin, label)
 *
 * The error discipline is replay's (pipeline/loader.h): a bad row is
 * written to the `rejected` table with file, line, field and reason, the
 * valid rows around it are stored, and the session reports it
 * (BCH_ERR_INPUT).  A file is registered in raw_source by a hash of its
 * kind and bytes: the same file imported again is skipped.  Rows are keyed
 * by what they describe (segment and hour, corridor and instant, station
 * direction and year, ...), so overlapping extracts merge: an identical
 * row is counted as a duplicate and changes nothing; a differing one is
 * merged by the kind's documented rule (docs/HISTORY.md).
 */
#ifndef BCH_IMPORT_H
#define BCH_IMPORT_H

#include "core/compat.h"

#include <signal.h>
#include <sqlite3.h>

#include "core/timeutil.h"

struct bch_import_options {
    const char *kind;      /* one of bch_import_kind_names() */
    const char *segments;  /* segment-history: segments GeoJSON tying gid to ident, or NULL */
    const char *corridors; /* travel-times: corridors GeoJSON, or NULL */
    int year;              /* counts: year of files whose name and content do not say; 0 */
    int64_t stale_s;       /* sensors: a count older than this at the snapshot is stale */
    long batch_rows;       /* rows per transaction for large files */
    bool quiet;            /* no line per file */
    /* When non-NULL and *stop becomes nonzero (SIGINT/SIGTERM), the import
     * stops at the next batch or file boundary: what was read is committed,
     * the file being read is not marked completed (a rerun resumes it), and
     * bch_import_stats.stopped is set. */
    volatile sig_atomic_t *stop;
};

void bch_import_options_default(struct bch_import_options *o);

/* Counters of a session (all files). */
struct bch_import_stats {
    long files, skipped, unreadable;
    long rows;       /* data rows read */
    long stored;     /* rows new in the warehouse */
    long rejected;   /* rows rejected (not stored) */
    long coerced;    /* rows stored with a field set to NULL, listed in rejected */
    long duplicates; /* rows identical to a stored row: nothing changed */
    long merged;     /* rows that differed from a stored row and were merged */
    /* segment-history */
    long unknown, capped, raised, unmapped_rows, tied_gids, unmapped_keys;
    /* travel-times */
    long tt_floor, tt_cap, tt_sentinel, tt_ref_zero, tt_not_corridor;
    /* sensors */
    long stale, missing;
    bool stopped; /* *opt.stop ended the session early */
};

/* NULL-terminated list of the kind names, for usage text. */
const char *const *bch_import_kind_names(void);
/* One-line description of a kind, or NULL if the name is unknown. */
const char *bch_import_kind_summary(const char *kind);

/*
 * Imports files (paths as given; folders are expanded by the caller) into
 * db.  Returns 0 when everything was stored, BCH_ERR_INPUT when some rows
 * or files were rejected (everything valid was stored), BCH_ERR_USAGE for an
 * unknown kind, BCH_ERR_DB on a warehouse failure (the current transaction
 * is rolled back; what was committed before stays and a rerun completes
 * it).  st (may be NULL) receives the counters.
 */
int bch_import_files(sqlite3 *db, const struct bch_import_options *o, char *const *paths,
                     size_t npaths, struct bch_import_stats *st);

/* ------------------------------------------------------------------------
 * Live travel times (`bouchon run`, import/live.c): one ci_tpstj_a snapshot
 * held in memory, stored through the travel-times record path with the
 * same rules as a live file given to `import --kind travel-times`.
 */

struct bch_import_payload {
    const char *kind;    /* raw_source.kind: "api" (a poll) or "file" (run --replay) */
    const char *name;    /* URL without credentials, or the path */
    const char *dataset; /* raw_source.dataset and hash tag; NULL: "ci_tpstj_a" */
    const char *data;    /* the payload, inflated: Opendatasoft JSON or the live CSV */
    size_t len;
    const char *hash_path; /* a file: hash its bytes as stored, as `import` does; else NULL */
    bch_time fetched_at;   /* raw_source.fetched_at; BCH_TIME_NONE: now */
};

/* What one payload did. */
struct bch_import_live {
    bool skipped; /* the same bytes were stored before: nothing was written */
    long records; /* sample records read */
    long stored, duplicates, merged, rejected;
    long unhealthy;  /* samples of the payload flagged floor, cap or sentinel */
    bch_time newest; /* newest sample instant (bm_mdate), BCH_TIME_NONE if none */
};

/*
 * Stores payload p in one transaction (db must not be in one): the
 * raw_source row (content hash of "import:<dataset>\n" + the bytes, as for
 * a file), the samples (at = bm_mdate, period_s 0) and corridor labels,
 * the rejected records with their reasons, and the health flags of every
 * sample recomputed (docs/HISTORY.md).  The same bytes again are skipped;
 * the same samples in other bytes are counted as duplicates and change
 * nothing but a new raw_source row.  Returns 0, BCH_ERR_INPUT when records
 * (or the whole payload) were rejected -- everything valid is committed --
 * or BCH_ERR_DB (rolled back; nothing written).
 */
int bch_import_travel_live(sqlite3 *db, const struct bch_import_payload *p,
                           struct bch_import_live *res);

/*
 * Whether the first bytes of an input (inflated, any length) are a
 * ci_tpstj_a payload: JSON naming a "bm_actuel" or "actuel" member, or a
 * CSV whose header has a bm_actuel or actuel column.  Content only, never
 * the file name.
 */
bool bch_import_is_travel(const char *head, size_t len);

#endif
