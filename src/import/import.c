#include "core/compat.h"

#include <math.h>
#include <zlib.h>

#include "core/err.h"
#include "core/log.h"
#include "import/internal.h"
#include "import/stream.h"
#include "warehouse/db.h"

/* Registry of the kinds (STYLE.md §9), in the order of `--help`. */
static const struct bch_imp_kind *const kinds[] = {
    &bch_imp_kind_history, &bch_imp_kind_travel, &bch_imp_kind_counts,
    &bch_imp_kind_sensors, &bch_imp_kind_works,  &bch_imp_kind_periods,
};

static const char *kind_names[BCH_ARRAY_LEN(kinds) + 1];

const char *const *bch_import_kind_names(void)
{
    for (size_t i = 0; i < BCH_ARRAY_LEN(kinds); i++) {
        kind_names[i] = kinds[i]->name;
    }
    kind_names[BCH_ARRAY_LEN(kinds)] = NULL;
    return kind_names;
}

static const struct bch_imp_kind *find_kind(const char *name)
{
    for (size_t i = 0; name && i < BCH_ARRAY_LEN(kinds); i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

const char *bch_import_kind_summary(const char *kind)
{
    const struct bch_imp_kind *k = find_kind(kind);

    return k ? k->summary : NULL;
}

void bch_import_options_default(struct bch_import_options *o)
{
    memset(o, 0, sizeof(*o));
    o->stale_s = 900;
    o->batch_rows = 1000000;
}

/* ------------------------------------------------------------- helpers */

int bch_imp_step(struct bch_imp *im, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bch_error("import", "warehouse write failed: %s", sqlite3_errmsg(im->db));
        return BCH_ERR_DB;
    }
    return 0;
}

int bch_imp_prepare(struct bch_imp *im, const struct bch_imp_sql *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *defs[i].st = bch_db_prepare(im->db, defs[i].sql);
        if (!*defs[i].st) {
            return BCH_ERR_DB;
        }
    }
    return 0;
}

void bch_imp_finalize(const struct bch_imp_sql *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_finalize(*defs[i].st);
        *defs[i].st = NULL;
    }
}

void bch_imp_bind_text(sqlite3_stmt *st, int i, const char *s, size_t len)
{
    if (s && len > 0) {
        sqlite3_bind_text(st, i, s, (int)len, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

void bch_imp_bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_double(st, i, v);
    }
}

int64_t bch_imp_local_day(bch_time t)
{
    struct bch_local_tm tm;

    bch_paris_local(t, &tm);
    return bch_days_from_civil(tm.year, tm.month, tm.day);
}

int bch_imp_begin(struct bch_imp *im)
{
    if (im->in_tx) {
        return 0;
    }
    if (bch_db_exec(im->db, "BEGIN IMMEDIATE")) {
        return BCH_ERR_DB;
    }
    im->in_tx = true;
    return 0;
}

int bch_imp_commit(struct bch_imp *im)
{
    if (!im->in_tx) {
        return 0;
    }
    im->in_tx = false;
    if (bch_db_exec(im->db, "COMMIT")) {
        sqlite3_exec(im->db, "ROLLBACK", NULL, NULL, NULL);
        return BCH_ERR_DB;
    }
    return 0;
}

void bch_imp_rollback(struct bch_imp *im)
{
    if (im->in_tx) {
        sqlite3_exec(im->db, "ROLLBACK", NULL, NULL, NULL);
        im->in_tx = false;
    }
}

static int resume(struct bch_imp *im);

int bch_imp_source(struct bch_imp *im, const char *path, const char *dataset, const char *format,
                   bool *skip)
{
    char hash[33], err[512];

    *skip = false;
    im->file_start = *im->st;
    im->path = path;
    im->source_id = 0;
    im->file_rows = 0;
    im->file_rejected = 0;
    im->file_warned = 0;
    im->skip_rows = 0;
    if (bch_import_hash_file(path, dataset, hash, err, sizeof(err))) {
        int rc;

        bch_error("import", "%s", err);
        im->st->unreadable++;
        /* Listed in rejected too (no source row: the file could not be hashed). */
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    return bch_imp_source_hashed(im, path, "file", dataset, format, hash, bch_now(), skip);
}

int bch_imp_source_hashed(struct bch_imp *im, const char *name, const char *kind,
                          const char *dataset, const char *format, const char *hash,
                          bch_time fetched_at, bool *skip)
{
    sqlite3_stmt *st = im->st_source_find;
    int step;

    *skip = false;
    im->path = name;
    im->source_id = 0;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        im->source_id = sqlite3_column_int64(st, 0);
        *skip = sqlite3_column_int(st, 1) == 1;
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        bch_error("import", "cannot look up sources: %s", sqlite3_errmsg(im->db));
        return BCH_ERR_DB;
    }
    if (*skip) {
        im->st->skipped++;
        return 0;
    }
    if (im->source_id) {
        /* An interrupted or failed import of the same bytes: resume it. */
        return resume(im);
    }
    st = im->st_source_ins;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, dataset, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, format, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, fetched_at);
    if (bch_imp_step(im, st)) {
        return BCH_ERR_DB;
    }
    im->source_id = sqlite3_last_insert_rowid(im->db);
    return 0;
}

/*
 * Resuming a source registered before but not completed: an import killed
 * after some of its transactions committed, or a file that failed as a
 * whole.  Its counters as of its last commit (import_file) are taken back
 * into the session, and the kind skips the data rows they cover
 * (im->skip_rows): those rows were stored or rejected by that commit, so
 * the counters end as those of one uninterrupted import.  Rejections of the
 * whole file are dropped: the rerun meets (and records) them again.
 */
static int resume(struct bch_imp *im)
{
    sqlite3_stmt *st = im->st_file_get;
    long v[12] = {0};
    long whole;
    int step;

    sqlite3_bind_int64(st, 1, im->source_id);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        for (int i = 0; i < 12; i++) {
            v[i] = (long)sqlite3_column_int64(st, i);
        }
    }
    sqlite3_reset(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        bch_error("import", "cannot read import_file: %s", sqlite3_errmsg(im->db));
        return BCH_ERR_DB;
    }
    sqlite3_bind_int64(im->st_whole_count, 1, im->source_id);
    whole = sqlite3_step(im->st_whole_count) == SQLITE_ROW
                ? (long)sqlite3_column_int64(im->st_whole_count, 0)
                : 0;
    sqlite3_reset(im->st_whole_count);
    sqlite3_bind_int64(im->st_whole_del, 1, im->source_id);
    if (bch_imp_step(im, im->st_whole_del)) {
        return BCH_ERR_DB;
    }
    if (step != SQLITE_ROW) {
        return 0; /* no commit before: read it all again */
    }
    v[2] -= whole;
    im->file_rows = v[0];
    im->file_rejected = v[2];
    im->skip_rows = v[0];
    im->st->rows += v[0];
    im->st->stored += v[1];
    im->st->rejected += v[2];
    im->st->coerced += v[3];
    im->st->duplicates += v[4];
    im->st->merged += v[5];
    im->st->unknown += v[6];
    im->st->capped += v[7];
    im->st->raised += v[8];
    im->st->unmapped_rows += v[9];
    im->st->stale += v[10];
    im->st->missing += v[11];
    if (v[0] > 0 && !im->opt->quiet) {
        bch_info("import", "%s: resuming after the %ld rows of an earlier import", im->path, v[0]);
    }
    return 0;
}

/* The counters of the current file (import_file), as of now. */
int bch_imp_checkpoint(struct bch_imp *im)
{
    sqlite3_stmt *st;

    {
        const struct bch_import_stats *a = &im->file_start, *b = im->st;
        const long v[] = {im->file_rows,
                          b->stored - a->stored,
                          b->rejected - a->rejected,
                          b->coerced - a->coerced,
                          b->duplicates - a->duplicates,
                          b->merged - a->merged,
                          b->unknown - a->unknown,
                          b->capped - a->capped,
                          b->raised - a->raised,
                          b->unmapped_rows - a->unmapped_rows,
                          b->stale - a->stale,
                          b->missing - a->missing};

        st = im->st_file_stats;
        sqlite3_bind_int64(st, 1, im->source_id);
        sqlite3_bind_text(st, 2, im->opt->kind, -1, SQLITE_TRANSIENT);
        for (size_t i = 0; i < BCH_ARRAY_LEN(v); i++) {
            sqlite3_bind_int64(st, 3 + (int)i, v[i]);
        }
        return bch_imp_step(im, st);
    }
}

/* Updates the source row; completed: the whole file was read. */
static int source_mark(struct bch_imp *im, const char *format, const char *header,
                       size_t header_len, bool completed)
{
    sqlite3_stmt *st = im->st_source_done;

    sqlite3_bind_text(st, 1, format, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, im->file_rows);
    sqlite3_bind_int64(st, 3, im->file_rejected);
    bch_imp_bind_text(st, 4, header, header_len);
    sqlite3_bind_int(st, 5, completed ? 1 : 0);
    sqlite3_bind_int64(st, 6, im->source_id);
    if (completed) {
        im->st->files++;
    }
    if (bch_imp_step(im, st)) {
        return BCH_ERR_DB;
    }
    return bch_imp_checkpoint(im);
}

int bch_imp_side_file(struct bch_imp *im, int (*read)(struct bch_imp *, const char *),
                      const char *path)
{
    int rc = bch_imp_begin(im), frc;

    if (rc) {
        return rc;
    }
    frc = read(im, path);
    if (frc != 0 && frc != BCH_ERR_INPUT) {
        bch_imp_rollback(im);
        return frc;
    }
    rc = bch_imp_commit(im);
    return rc ? rc : frc;
}

int bch_imp_source_done(struct bch_imp *im, const char *format, const char *header,
                        size_t header_len)
{
    return source_mark(im, format, header, header_len, true);
}

int bch_imp_source_failed(struct bch_imp *im, const char *format, const char *header,
                          size_t header_len)
{
    if (!im->source_id) {
        return 0;
    }
    return source_mark(im, format, header, header_len, false);
}

int bch_imp_reject(struct bch_imp *im, long line, const char *field, const char *reason,
                   const char *value, size_t vlen, bool coerced)
{
    sqlite3_stmt *st = im->st_reject;

    if (coerced) {
        im->st->coerced++;
    } else {
        im->st->rejected++;
        im->file_rejected++;
    }
    if (++im->file_warned <= BCH_IMP_WARN_MAX) {
        if (coerced) {
            bch_info("import", "%s:%ld: field '%s': %s (row kept, field left empty)", im->path,
                     line, field, reason);
        } else {
            bch_warn("import", "%s:%ld: %s%s%s: %s", im->path, line, field[0] ? "field '" : "row",
                     field, field[0] ? "'" : "", reason);
        }
    } else if (im->file_warned == BCH_IMP_WARN_MAX + 1) {
        bch_warn("import", "%s: more problems; see the 'rejected' table", im->path);
    }
    if (im->source_id) {
        sqlite3_bind_int64(st, 1, im->source_id);
    } else {
        sqlite3_bind_null(st, 1);
    }
    sqlite3_bind_text(st, 2, im->path ? im->path : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, line);
    sqlite3_bind_text(st, 4, field, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, reason, -1, SQLITE_TRANSIENT);
    if (value) {
        sqlite3_bind_text(st, 6, value, (int)(vlen > 200 ? 200 : vlen), SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, 6);
    }
    sqlite3_bind_int(st, 7, coerced ? 1 : 0);
    sqlite3_bind_int64(st, 8, bch_now());
    return bch_imp_step(im, st);
}

int bch_imp_first_byte(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    unsigned char buf[256];
    int n;

    if (!gz) {
        return 0;
    }
    n = gzread(gz, buf, sizeof(buf));
    gzclose(gz);
    for (int i = 0; i < n; i++) {
        if (i == 0 && n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) {
            i += 2;
            continue;
        }
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') {
            return buf[i];
        }
    }
    return 0;
}

int bch_imp_read_all(const char *path, struct bch_buf *b, size_t max, char *err, size_t errlen)
{
    struct bch_lines *l = bch_lines_open(path, err, errlen);
    const char *data;
    size_t len;
    long first;
    int rc;

    if (!l) {
        return -1;
    }
    bch_lines_set_max_line(l, max);
    bch_buf_init(b, max);
    while ((rc = bch_lines_next(l, &data, &len, &first, err, errlen)) == 1) {
        if (bch_buf_add(b, data, len)) {
            snprintf(err, errlen, "'%s' is larger than %zu bytes", path, max);
            rc = -1;
            break;
        }
    }
    bch_lines_close(l);
    if (rc == 2) {
        snprintf(err, errlen, "'%s' is larger than %zu bytes", path, max);
        rc = -1;
    }
    if (rc == 0 && !b->data && bch_buf_add(b, "", 0)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc < 0) {
        bch_buf_release(b);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- CSV headers */

static bool header_name_eq(const char *s, size_t len, const char *name, size_t nlen)
{
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    if (len != nlen) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char a = s[i], b = name[i];

        a = a >= 'A' && a <= 'Z' ? (char)(a - 'A' + 'a') : a;
        b = b >= 'A' && b <= 'Z' ? (char)(b - 'A' + 'a') : b;
        if (a != b) {
            return false;
        }
    }
    return true;
}

void bch_imp_map_header(const struct bch_csv *c, const char *const *wanted, size_t n, int *idx)
{
    for (size_t w = 0; w < n; w++) {
        const char *alt = wanted[w];

        idx[w] = -1;
        while (alt && *alt && idx[w] < 0) {
            const char *bar = strchr(alt, '|');
            size_t alen = bar ? (size_t)(bar - alt) : strlen(alt);

            for (size_t f = 0; f < c->nfields; f++) {
                if (header_name_eq(c->fields[f].s, c->fields[f].len, alt, alen)) {
                    idx[w] = (int)f;
                    break;
                }
            }
            alt = bar ? bar + 1 : NULL;
        }
    }
}

const char *bch_imp_row_text(const struct bch_csv *c, size_t *len)
{
    const char *nl;

    if (!c->row || c->row >= c->end) {
        *len = 0;
        return NULL;
    }
    nl = memchr(c->row, '\n', (size_t)(c->end - c->row));
    *len = nl ? (size_t)(nl - c->row) : (size_t)(c->end - c->row);
    if (*len > 0 && c->row[*len - 1] == '\r') {
        (*len)--;
    }
    return c->row;
}

struct bch_csv_field bch_imp_field(const struct bch_csv *c, int i)
{
    struct bch_csv_field empty = {"", 0, false};

    if (i < 0 || (size_t)i >= c->nfields) {
        return empty;
    }
    return c->fields[i];
}

/* ------------------------------------------------------ streaming CSV */

int bch_imp_csv_open(struct bch_imp_csv *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->lines = bch_lines_open(path, err, errlen);
    return r->lines ? 0 : -1;
}

int bch_imp_csv_next(struct bch_imp_csv *r, long *line, char *err, size_t errlen)
{
    for (;;) {
        const char *data;
        size_t len;
        int rc;

        if (r->have_chunk) {
            rc = bch_csv_next(&r->csv, err, errlen);
            if (rc != 0) {
                *line = r->first_line + r->csv.line - 1;
                return rc;
            }
            bch_csv_release(&r->csv);
            r->have_chunk = false;
        }
        rc = bch_lines_next(r->lines, &data, &len, &r->first_line, err, errlen);
        if (rc == 2) {
            *line = r->first_line;
            return -1;
        }
        if (rc <= 0) {
            return rc < 0 ? -2 : 0;
        }
        if (!r->sep) {
            const char *d = data;
            size_t n = len;

            if (n >= 3 && (unsigned char)d[0] == 0xEF && (unsigned char)d[1] == 0xBB &&
                (unsigned char)d[2] == 0xBF) {
                d += 3;
                n -= 3;
            }
            r->sep = bch_csv_sniff_sep(d, n);
        }
        bch_csv_init(&r->csv, data, len, r->sep);
        r->have_chunk = true;
    }
}

size_t bch_imp_header_text(const struct bch_imp_csv *r, char *buf, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < r->csv.nfields && n + r->csv.fields[i].len + 2 < len; i++) {
        if (i) {
            buf[n++] = r->sep;
        }
        memcpy(buf + n, r->csv.fields[i].s, r->csv.fields[i].len);
        n += r->csv.fields[i].len;
    }
    if (len) {
        buf[n < len ? n : len - 1] = '\0';
    }
    return n;
}

void bch_imp_csv_close(struct bch_imp_csv *r)
{
    if (r->have_chunk) {
        bch_csv_release(&r->csv);
        r->have_chunk = false;
    }
    bch_lines_close(r->lines);
    r->lines = NULL;
}

int bch_imp_csv_open_file(struct bch_imp *im, struct bch_imp_csv *r, const char *path)
{
    char err[256];
    int rc;

    if (bch_imp_csv_open(r, path, err, sizeof(err)) == 0) {
        return 0;
    }
    rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
    return rc ? rc : BCH_ERR_INPUT;
}

bool bch_imp_csv_row(struct bch_imp *im, struct bch_imp_csv *r, long *line, int *rc)
{
    char err[256];

    for (;;) {
        int n = bch_imp_csv_next(r, line, err, sizeof(err));

        if (n == 0) {
            return false;
        }
        if (n == -2) {
            *rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
            *rc = *rc ? *rc : BCH_ERR_INPUT;
            return false;
        }
        if (n == -1 && !r->have_header) {
            continue; /* blank or malformed lines before the header: not data */
        }
        if (r->have_header && im->skip_rows > 0) {
            im->skip_rows--; /* stored or rejected by an earlier import of the file */
            continue;
        }
        if (n == -1) {
            size_t vlen = 0;
            const char *v = r->have_chunk ? bch_imp_row_text(&r->csv, &vlen) : NULL;

            im->st->rows++;
            im->file_rows++;
            *rc = bch_imp_reject(im, *line, "", err, v, vlen, false);
            if (*rc) {
                return false;
            }
            continue;
        }
        r->at_header = !r->have_header;
        if (r->at_header) {
            r->have_header = true;
            r->ncols = r->csv.nfields;
            r->hlen = bch_imp_header_text(r, r->header, sizeof(r->header));
        } else if (r->csv.nfields != r->ncols) {
            snprintf(err, sizeof(err), "%zu fields where the header has %zu%s", r->csv.nfields,
                     r->ncols,
                     r->csv.nfields > r->ncols ? " (an unquoted separator or decimal comma?)" : "");
            im->st->rows++;
            im->file_rows++;
            *rc = bch_imp_reject(im, *line, "", err, r->csv.row, r->csv.row_len, false);
            if (*rc) {
                return false;
            }
            continue;
        }
        return true;
    }
}

int bch_imp_reject_header(struct bch_imp *im, const struct bch_imp_csv *r, const char *why)
{
    int rc = bch_imp_reject(im, 0, "", why, r->header, r->hlen, false);

    return rc ? rc : BCH_ERR_INPUT;
}

int bch_imp_csv_done(struct bch_imp *im, struct bch_imp_csv *r, const char *format, int rc)
{
    bch_imp_csv_close(r);
    if (rc == 0 && !r->have_header) {
        rc = bch_imp_reject(im, 0, "", "empty file (no header line)", NULL, 0, false);
        rc = rc ? rc : BCH_ERR_INPUT;
    }
    if (rc == 0) {
        rc = bch_imp_source_done(im, format, r->header, r->hlen);
    } else if (rc == BCH_ERR_INPUT) {
        /* Failed as a whole (unreadable, not that kind, read error): not
         * completed, so that a rerun reads it and reports it again. */
        int drc = bch_imp_source_failed(im, format, r->have_header ? r->header : NULL, r->hlen);

        rc = drc ? drc : rc;
    }
    return rc;
}

/* ---------------------------------------------------------- JSON shapes */

json_t *bch_imp_json_get(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    const char *k;

    if (v || !json_is_object(obj)) {
        return v;
    }
    json_object_foreach(obj, k, v)
    {
        if (header_name_eq(k, strlen(k), name, strlen(name))) {
            return v;
        }
    }
    return NULL;
}

static int each_record(json_t *arr, bch_imp_record_fn fn, void *ctx)
{
    size_t i;
    json_t *rec;

    json_array_foreach(arr, i, rec)
    {
        json_t *fields = json_object_get(rec, "fields");
        json_t *props = json_object_get(rec, "properties");
        int rc;

        if (json_is_object(fields)) {
            rc = fn(ctx, (long)i + 1, fields, json_object_get(rec, "geometry"), rec);
        } else if (json_is_object(props) && json_object_get(rec, "type")) {
            rc = fn(ctx, (long)i + 1, props, json_object_get(rec, "geometry"), rec);
        } else {
            rc = fn(ctx, (long)i + 1, rec, NULL, NULL);
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int bch_imp_json_records(json_t *root, bch_imp_record_fn fn, void *ctx)
{
    json_t *arr;

    if (json_is_array(root)) {
        return each_record(root, fn, ctx);
    }
    if (!json_is_object(root)) {
        return -1;
    }
    arr = json_object_get(root, "results");
    if (!json_is_array(arr)) {
        arr = json_object_get(root, "features");
    }
    if (!json_is_array(arr)) {
        arr = json_object_get(root, "records");
    }
    if (!json_is_array(arr)) {
        return -1;
    }
    return each_record(arr, fn, ctx);
}

/* -------------------------------------------------------------- session */

int bch_imp_session_prepare(struct bch_imp *im)
{
    const struct bch_imp_sql defs[] = {
        {&im->st_source_find, "SELECT source_id, completed FROM raw_source WHERE content_hash = ?"},
        {&im->st_source_ins,
         "INSERT INTO raw_source(kind, name, dataset, format, content_hash, fetched_at) "
         "VALUES (?, ?, ?, ?, ?, ?)"},
        {&im->st_source_done, "UPDATE raw_source SET format = ?, records = ?, rejected = ?, "
                              "header = ?, completed = ? WHERE source_id = ?"},
        {&im->st_file_get,
         "SELECT rows, stored, rejected, coerced, duplicates, merged, unknown, capped, raised, "
         "unmapped_rows, stale, missing FROM import_file WHERE source_id = ?"},
        {&im->st_whole_count,
         "SELECT count(*) FROM rejected WHERE source_id = ? AND position = 0 AND coerced = 0"},
        {&im->st_whole_del,
         "DELETE FROM rejected WHERE source_id = ? AND position = 0 AND coerced = 0"},
        {&im->st_reject,
         "INSERT OR IGNORE INTO rejected(source_id, source_name, position, field, reason, value, "
         "coerced, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
        {&im->st_file_stats,
         "INSERT OR REPLACE INTO import_file(source_id, kind, rows, stored, rejected, coerced, "
         "duplicates, merged, unknown, capped, raised, unmapped_rows, stale, missing) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    };

    return bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
}

void bch_imp_session_finalize(struct bch_imp *im)
{
    sqlite3_stmt **all[] = {&im->st_source_find, &im->st_source_ins, &im->st_source_done,
                            &im->st_reject,      &im->st_file_stats, &im->st_file_get,
                            &im->st_whole_count, &im->st_whole_del};

    for (size_t i = 0; i < BCH_ARRAY_LEN(all); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

int bch_import_files(sqlite3 *db, const struct bch_import_options *o, char *const *paths,
                     size_t npaths, struct bch_import_stats *st)
{
    const struct bch_imp_kind *k = find_kind(o->kind);
    struct bch_import_stats local;
    struct bch_imp im;
    int rc = 0, input = 0;

    if (!st) {
        st = &local;
    }
    memset(st, 0, sizeof(*st));
    if (!k) {
        bch_error("import", "unknown kind '%s'", o->kind ? o->kind : "");
        return BCH_ERR_USAGE;
    }
    memset(&im, 0, sizeof(im));
    /* Statement journals of the multi-row inserts stay in memory. */
    bch_db_exec(db, "PRAGMA temp_store=MEMORY");
    im.db = db;
    im.opt = o;
    im.st = st;
    if (bch_imp_session_prepare(&im)) {
        bch_imp_session_finalize(&im);
        return BCH_ERR_DB;
    }
    if (k->begin) {
        rc = k->begin(&im);
        if (rc == BCH_ERR_INPUT) {
            input = rc;
            rc = 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < npaths; i++) {
        if (o->stop && *o->stop) {
            st->stopped = true;
            break;
        }
        rc = k->file(&im, paths[i]);
        if (rc == BCH_ERR_INPUT) {
            input = rc;
            rc = 0;
        }
        if (rc == 0) {
            rc = bch_imp_commit(&im);
        }
    }
    if (rc == 0 && k->end) {
        rc = bch_imp_begin(&im);
        if (rc == 0) {
            rc = k->end(&im);
        }
        if (rc == 0) {
            rc = bch_imp_commit(&im);
        }
    }
    if (rc) {
        bch_imp_rollback(&im);
    }
    if (k->release) {
        k->release(&im);
    }
    bch_imp_session_finalize(&im);
    if (rc) {
        return rc;
    }
    if (input || st->rejected > 0 || st->unreadable > 0) {
        return BCH_ERR_INPUT;
    }
    return 0;
}
