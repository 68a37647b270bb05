/*
 * internal.h - what the import kinds share (src/import/ only).
 *
 * A kind is a const struct of callbacks in the registry of import.c.  The
 * session (struct bch_imp) owns the warehouse transaction, the rejected
 * writer and the counters; a kind registers each file with bch_imp_source()
 * (which says whether it was already imported), reads it, stores its rows,
 * and closes it with bch_imp_source_done().
 */
#ifndef BCH_IMPORT_INTERNAL_H
#define BCH_IMPORT_INTERNAL_H

#include "core/compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "import/import.h"
#include "sources/csv.h"

/* Rejections logged per file; the rest are only in the rejected table. */
#define BCH_IMP_WARN_MAX 5

struct bch_imp {
    sqlite3 *db;
    const struct bch_import_options *opt;
    struct bch_import_stats *st;
    bool in_tx;
    void *kind_state; /* owned by the kind (begin / end) */

    /* current file */
    int64_t source_id;
    const char *path;
    long file_rows;
    long file_rejected;
    long file_warned;
    struct bch_import_stats file_start; /* session counters when the file began */
    long skip_rows; /* resuming: data rows already stored or rejected (bch_imp_source) */

    sqlite3_stmt *st_source_find, *st_source_ins, *st_source_done, *st_reject, *st_file_stats,
        *st_file_get, *st_whole_count, *st_whole_del;
};

struct bch_imp_kind {
    const char *name;
    const char *summary;
    /* Before the first file (may be NULL). */
    int (*begin)(struct bch_imp *im);
    /* One input file: 0, BCH_ERR_INPUT (file unreadable, recorded), BCH_ERR_DB. */
    int (*file)(struct bch_imp *im, const char *path);
    /* After the last file, inside a transaction (may be NULL). */
    int (*end)(struct bch_imp *im);
    /* Frees kind_state (may be NULL). */
    void (*release)(struct bch_imp *im);
};

extern const struct bch_imp_kind bch_imp_kind_history;
extern const struct bch_imp_kind bch_imp_kind_travel;
extern const struct bch_imp_kind bch_imp_kind_counts;
extern const struct bch_imp_kind bch_imp_kind_sensors;
extern const struct bch_imp_kind bch_imp_kind_works;
extern const struct bch_imp_kind bch_imp_kind_periods;

/* Transactions: begin is a no-op inside one; commit is a no-op outside. */
int bch_imp_begin(struct bch_imp *im) BCH_WUR;
int bch_imp_commit(struct bch_imp *im) BCH_WUR;
void bch_imp_rollback(struct bch_imp *im);

/*
 * Registers path as a source of dataset (the kind tag of the content hash
 * is dataset too).  Sets *skip when the same bytes were fully imported
 * before.  Must run inside a transaction.  0, BCH_ERR_INPUT (unreadable,
 * logged and rejected) or BCH_ERR_DB.
 *
 * The same bytes registered before but not completed (an interrupted
 * import, or a file that failed as a whole) are resumed: the counters of
 * the file as of its last commit come back into the session and
 * im->skip_rows says how many data rows (stored or rejected, in file order)
 * that commit covers; the kind skips them (bch_imp_csv_row() does), so that
 * the counters end as those of one uninterrupted import.
 */
int bch_imp_source(struct bch_imp *im, const char *path, const char *dataset, const char *format,
                   bool *skip);
/*
 * The same for bytes whose content hash is already known (a polled payload):
 * registers name with its raw_source kind ("file", "api") and fetch instant.
 * 0 or BCH_ERR_DB.
 */
int bch_imp_source_hashed(struct bch_imp *im, const char *name, const char *kind,
                          const char *dataset, const char *format, const char *hash,
                          bch_time fetched_at, bool *skip);

/* The statements every session uses (sources, rejections, file counters):
 * prepared before the first file, finalized after the last.  0 or -1. */
int bch_imp_session_prepare(struct bch_imp *im);
void bch_imp_session_finalize(struct bch_imp *im);

/*
 * Reads a side file of a kind (the segments file of segment-history, the
 * corridors file of travel-times) with read(), in a transaction of its own:
 * committed when read() stored it (0) or rejected some of it (BCH_ERR_INPUT,
 * returned after the commit), rolled back on any other error.
 */
int bch_imp_side_file(struct bch_imp *im, int (*read)(struct bch_imp *, const char *),
                      const char *path);

/* Marks the current source complete with its counters; header may be NULL. */
int bch_imp_source_done(struct bch_imp *im, const char *format, const char *header,
                        size_t header_len);
/*
 * The current source failed as a whole (unreadable, not that kind, a read
 * error): its counters are written but it stays incomplete, so that a rerun
 * reads it again and reports it again instead of "already imported".
 */
int bch_imp_source_failed(struct bch_imp *im, const char *format, const char *header,
                          size_t header_len);
/* Writes the counters of the current file (import_file) without completing
 * it: called before each commit inside a file, they are what a resume
 * takes back. */
int bch_imp_checkpoint(struct bch_imp *im);

/*
 * Records a problem of the current file: line (0 = the whole file), field
 * ("" = the row), reason, and the offending value (truncated to 200 bytes;
 * may be NULL).  coerced: the row was kept with this field set to NULL.
 * Counts it in the session.  0 or BCH_ERR_DB.
 */
int bch_imp_reject(struct bch_imp *im, long line, const char *field, const char *reason,
                   const char *value, size_t vlen, bool coerced);

/* First byte of a (possibly gzip-compressed) file after a BOM and blanks, or 0. */
int bch_imp_first_byte(const char *path);

/* Reads a whole (possibly gzip-compressed) file into b, capped at max bytes. */
int bch_imp_read_all(const char *path, struct bch_buf *b, size_t max, char *err, size_t errlen);

/*
 * Header mapping: for each wanted column (alternative names separated by
 * '|', compared case-insensitively after trimming blanks), the index of the
 * first matching field of the header row, or -1.
 */
void bch_imp_map_header(const struct bch_csv *c, const char *const *wanted, size_t n, int *idx);

/*
 * Streaming CSV reader over a (possibly gzip-compressed) file: rows of
 * whole-line regions (import/stream.h) split by sources/csv.h, with the
 * separator sniffed from the first line (';' or ',') and absolute line
 * numbers.  Fields are valid until the next call.
 */
struct bch_lines;
struct bch_imp_csv {
    struct bch_lines *lines;
    struct bch_csv csv;
    bool have_chunk;
    long first_line;
    char sep;
    /* kept by bch_imp_csv_row(), still valid after close */
    bool have_header, at_header;
    size_t ncols;      /* fields of the header: a data row must have as many */
    char header[1024]; /* the header row as text (truncated) */
    size_t hlen;
};
int bch_imp_csv_open(struct bch_imp_csv *r, const char *path, char *err, size_t errlen);
/* 1 row (fields in r->csv), 0 end, -1 malformed row (skipped; err says why),
 * -2 read error (stop; err says why).  *line is the row's line number. */
int bch_imp_csv_next(struct bch_imp_csv *r, long *line, char *err, size_t errlen);
void bch_imp_csv_close(struct bch_imp_csv *r);

/*
 * The row loop of an import kind's CSV file, with the error discipline of
 * docs/HISTORY.md written once:
 *   rc = bch_imp_csv_open_file(im, &r, path);     // unreadable: rejected, rc set
 *   while (rc == 0 && bch_imp_csv_row(im, &r, &line, &rc)) {
 *       if (r.at_header) { map it; maybe rc = bch_imp_reject_header(im, &r, why); continue; }
 *       ... one data row: fields in r.csv, its line number in line ...
 *   }
 *   return bch_imp_csv_done(im, &r, format, rc);
 * bch_imp_csv_row() counts and rejects a malformed row, an over-long line and
 * a row whose number of fields differs from the header's itself and goes on
 * (and skips the rows a resumed import covered, im->skip_rows);
 * a read error is rejected as a whole-file problem and ends the loop with
 * *rc = BCH_ERR_INPUT; a failed rejection ends it with BCH_ERR_DB.  The first
 * well-formed row is the header (at_header; its text in r.header).
 * bch_imp_csv_done() closes r; rc 0 completes the source (a file without a
 * header line is rejected as empty instead), BCH_ERR_INPUT leaves it
 * incomplete (bch_imp_source_failed); it returns the file's result code.
 */
int bch_imp_csv_open_file(struct bch_imp *im, struct bch_imp_csv *r, const char *path);
bool bch_imp_csv_row(struct bch_imp *im, struct bch_imp_csv *r, long *line, int *rc);
int bch_imp_reject_header(struct bch_imp *im, const struct bch_imp_csv *r, const char *why);
int bch_imp_csv_done(struct bch_imp *im, struct bch_imp_csv *r, const char *format, int rc);

/* The header row joined with its separator into buf (truncated); its length. */
size_t bch_imp_header_text(const struct bch_imp_csv *r, char *buf, size_t len);

/* The current (or just failed) row of c as it stands in the file, up to its
 * line end: the value recorded with a malformed row.  NULL when none. */
const char *bch_imp_row_text(const struct bch_csv *c, size_t *len);

/* Field i of the current row, or an empty field when i < 0 or absent. */
struct bch_csv_field bch_imp_field(const struct bch_csv *c, int i);

/*
 * The flat records of an Opendatasoft payload, whatever its shape: a
 * records page {"results": [...]}, an export array [...], v1 records
 * [{"fields": {...}, "geometry": ...}], or a GeoJSON FeatureCollection
 * (properties, with the geometry as member "geometry").  Calls fn for each
 * with its 1-based position and the record object (borrowed); v1 and
 * GeoJSON geometries are passed as geom (may be NULL), the v1 record or
 * feature around the fields as outer (NULL for flat records).  Returns -1 if root
 * is none of these shapes, else the first non-zero value fn returned, or 0.
 */
typedef int (*bch_imp_record_fn)(void *ctx, long position, json_t *rec, json_t *geom,
                                 json_t *outer);
int bch_imp_json_records(json_t *root, bch_imp_record_fn fn, void *ctx);

/* A member looked up case-insensitively (exact match first). */
json_t *bch_imp_json_get(json_t *obj, const char *name);

/* Local date (days since epoch) and wall hour of a UTC instant. */
int64_t bch_imp_local_day(bch_time t);

/* Binds text[0..len) or NULL when len is 0 (copies). */
void bch_imp_bind_text(sqlite3_stmt *st, int i, const char *s, size_t len);
/* Binds v, or NULL when v is NaN. */
void bch_imp_bind_real(sqlite3_stmt *st, int i, double v);

/* Steps a statement that returns no row, then resets it; 0 or BCH_ERR_DB (logged). */
int bch_imp_step(struct bch_imp *im, sqlite3_stmt *st);

/* Prepares statements listed as {&stmt, sql} pairs; 0 or BCH_ERR_DB. */
struct bch_imp_sql {
    sqlite3_stmt **st;
    const char *sql;
};
int bch_imp_prepare(struct bch_imp *im, const struct bch_imp_sql *defs, size_t n);
void bch_imp_finalize(const struct bch_imp_sql *defs, size_t n);

/*
 * travel-times, a payload held in memory (import/live.c): reads data (JSON
 * or CSV, told apart by content) through the record path of the files, as
 * the current source (registered by the caller), and marks that source
 * done.  Needs the kind's begin(); its end() recomputes the health flags.
 * 0, BCH_ERR_INPUT (records or the payload rejected, recorded), BCH_ERR_DB.
 */
int bch_imp_travel_payload(struct bch_imp *im, const char *data, size_t len);
/* After end(): the newest sample instant of that payload (BCH_TIME_NONE if
 * none) and how many of its samples are flagged floor, cap or sentinel. */
int bch_imp_travel_summary(struct bch_imp *im, bch_time *newest, long *unhealthy);

#endif
