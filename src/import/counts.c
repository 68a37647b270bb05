/*
 * counts.c - annual traffic counts of every edition.
 *
 * comptage_trafic_2019 / _2021 are Opendatasoft v1 JSON with lowercase
 * names (mjo, hpm, hps, pl: % changes); comptage-du-trafic-2023 is a CSV
 * with BOM, CRLF, ';' and UPPERCASE names where the % columns are called
 * MJO_%, HPM_%, ...; the 2018 edition spells percentages as French strings
 * ("-0,7%") and has a geo point in vit_evo.  Rows are keyed by station
 * ident, direction (sens_cir, '' when null) and year; a row seen again fills
 * the values the stored one lacks (coalesce) and is counted as a duplicate.
 */
#include "core/compat.h"

#include <math.h>

#include "core/err.h"
#include "core/log.h"
#include "import/fields.h"
#include "import/internal.h"

enum {
    K_IDENT,
    K_NOM,
    K_SENS,
    K_MJO_VAL,
    K_MJO,
    K_HPM_VAL,
    K_HPM,
    K_HPS_VAL,
    K_HPS,
    K_PL_VAL,
    K_PL,
    K_VIT_VAL,
    K_VIT_EVO,
    K_V85_VL,
    K_V85_PL,
    K_COMMENT,
    K_N
};

/* Column names (alternatives with '|'), lowercase v1 and UPPERCASE 2023 alike. */
static const char *const count_cols[K_N] = {
    "ident",     "nom_voie", "sens_cir", "mjo_val", "mjo|mjo_%", "hpm_val", "hpm|hpm_%", "hps_val",
    "hps|hps_%", "pl_val",   "pl|pl_%",  "vit_val", "vit_evo",   "v85_vl",  "v85_pl",    "comment",
};
#define K_FIRST_NUM K_MJO_VAL
#define K_LAST_NUM  K_V85_PL

struct counts {
    sqlite3_stmt *ins, *exists;
};

/* One row, whatever the input: texts and numbers (NaN = missing). */
struct count_row {
    char ident[64], nom[256], sens[128], comment[512];
    double v[K_N];
};

/* Year from a name such as comptage_trafic_2019 or comptage-du-trafic-2023. */
static int year_in(const char *s)
{
    int year = 0;

    for (size_t i = 0; s[i]; i++) {
        if ((s[i] == '1' || s[i] == '2') && s[i + 1] && s[i + 2] && s[i + 3]) {
            bool four = true;
            int y = 0;

            for (int k = 0; k < 4; k++) {
                if (s[i + (size_t)k] < '0' || s[i + (size_t)k] > '9') {
                    four = false;
                    break;
                }
                y = y * 10 + (s[i + (size_t)k] - '0');
            }
            if (four && y >= 1990 && y <= 2100 && !(s[i + 4] >= '0' && s[i + 4] <= '9') &&
                !(i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')) {
                year = y; /* the last one wins: a date-stamped copy of a yearly file */
            }
        }
    }
    return year;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');

    return b ? b + 1 : path;
}

static int store_row(struct bch_imp *im, const struct count_row *r, int year)
{
    struct counts *c = im->kind_state;
    sqlite3_stmt *st = c->exists;
    bool existed;

    sqlite3_bind_text(st, 1, r->ident, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->sens, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, year);
    existed = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    st = c->ins;
    sqlite3_bind_text(st, 1, r->ident, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->sens, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, year);
    bch_imp_bind_text(st, 4, r->nom, strlen(r->nom));
    for (int k = K_FIRST_NUM; k <= K_LAST_NUM; k++) {
        bch_imp_bind_real(st, 5 + (k - K_FIRST_NUM), r->v[k]);
    }
    bch_imp_bind_text(st, 17, r->comment, strlen(r->comment));
    sqlite3_bind_int64(st, 18, im->source_id);
    if (existed) {
        im->st->duplicates++;
    } else {
        im->st->stored++;
    }
    return bch_imp_step(im, st);
}

static void init_row(struct count_row *r)
{
    memset(r, 0, sizeof(*r));
    for (int k = 0; k < K_N; k++) {
        r->v[k] = NAN;
    }
}

static int bad_number(struct bch_imp *im, long line, int k, enum bch_cell rc, const char *s,
                      size_t len, bool array)
{
    const char *name = count_cols[k];
    char field[32];
    const char *bar = strchr(name, '|');

    snprintf(field, sizeof(field), "%.*s", bar ? (int)(bar - name) : (int)strlen(name), name);
    if (array) {
        return bch_imp_reject(im, line, field, "an array (a geo point), not a number", NULL, 0,
                              true);
    }
    return bch_imp_reject(
        im, line, field,
        rc == BCH_CELL_NA ? "spreadsheet error code, not a number" : "not a number", s, len, true);
}

/* ------------------------------------------------------------- CSV */

static int csv_file(struct bch_imp *im, const char *path, int year)
{
    struct bch_imp_csv r;
    int col[K_N];
    long line;
    int rc = bch_imp_csv_open_file(im, &r, path);

    if (rc) {
        return rc;
    }
    while (rc == 0 && bch_imp_csv_row(im, &r, &line, &rc)) {
        struct count_row row;
        struct bch_csv_field f;

        if (r.at_header) {
            bch_imp_map_header(&r.csv, count_cols, K_N, col);
            if (col[K_IDENT] < 0 || (col[K_MJO_VAL] < 0 && col[K_MJO] < 0)) {
                rc = bch_imp_reject_header(
                    im, &r,
                    "not an annual counts file: the header lacks ident and mjo_val (or mjo)");
            } else if (!year) {
                rc = bch_imp_reject_header(
                    im, &r, "cannot tell the year (name the file ..._YYYY or use --year)");
            }
            continue;
        }
        im->st->rows++;
        im->file_rows++;
        init_row(&row);
        f = bch_imp_field(&r.csv, col[K_IDENT]);
        if (bch_cell_code(f.s, f.len) != BCH_CELL_OK || f.len >= sizeof(row.ident)) {
            rc = bch_imp_reject(im, line, "ident", "missing or invalid station ident", f.s, f.len,
                                false);
            continue;
        }
        snprintf(row.ident, sizeof(row.ident), "%.*s", (int)f.len, f.s);
        f = bch_imp_field(&r.csv, col[K_NOM]);
        snprintf(row.nom, sizeof(row.nom), "%.*s", (int)f.len, f.s);
        f = bch_imp_field(&r.csv, col[K_SENS]);
        if (!bch_cell_is_null(f.s, f.len)) {
            snprintf(row.sens, sizeof(row.sens), "%.*s", (int)f.len, f.s);
        }
        f = bch_imp_field(&r.csv, col[K_COMMENT]);
        if (!bch_cell_is_null(f.s, f.len)) {
            snprintf(row.comment, sizeof(row.comment), "%.*s", (int)f.len, f.s);
        }
        for (int k = K_FIRST_NUM; k <= K_LAST_NUM && rc == 0; k++) {
            enum bch_cell c;

            f = bch_imp_field(&r.csv, col[k]);
            c = bch_cell_fr_number(f.s, f.len, &row.v[k]);
            if (c != BCH_CELL_OK) {
                row.v[k] = NAN;
                if (c != BCH_CELL_NULL) {
                    rc = bad_number(im, line, k, c, f.s, f.len, false);
                }
            }
        }
        if (rc == 0) {
            rc = store_row(im, &row, year);
        }
    }
    return bch_imp_csv_done(im, &r, "csv", rc);
}

/* ------------------------------------------------------------ JSON */

struct jctx {
    struct bch_imp *im;
    int year;
};

static int json_row(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct jctx *jc = ctx;
    struct bch_imp *im = jc->im;
    struct count_row row;
    int rc = 0;

    (void)geom;
    (void)outer;
    im->st->rows++;
    im->file_rows++;
    init_row(&row);
    if (bch_json_text(bch_imp_json_get(rec, "ident"), row.ident, sizeof(row.ident)) !=
        BCH_CELL_OK) {
        return bch_imp_reject(im, pos, "ident", "missing or invalid station ident", NULL, 0, false);
    }
    bch_json_text(bch_imp_json_get(rec, "nom_voie"), row.nom, sizeof(row.nom));
    bch_json_text(bch_imp_json_get(rec, "sens_cir"), row.sens, sizeof(row.sens));
    bch_json_text(bch_imp_json_get(rec, "comment"), row.comment, sizeof(row.comment));
    for (int k = K_FIRST_NUM; k <= K_LAST_NUM && rc == 0; k++) {
        const char *name = count_cols[k];
        const char *bar = strchr(name, '|');
        char first[32];
        json_t *v;
        enum bch_cell c;

        snprintf(first, sizeof(first), "%.*s", bar ? (int)(bar - name) : (int)strlen(name), name);
        v = bch_imp_json_get(rec, first);
        if (!v && bar) {
            v = bch_imp_json_get(rec, bar + 1);
        }
        c = bch_json_double(v, true, &row.v[k]);
        if (c != BCH_CELL_OK) {
            row.v[k] = NAN;
            if (c != BCH_CELL_NULL) {
                rc = bad_number(im, pos, k, c, json_is_string(v) ? json_string_value(v) : NULL,
                                json_is_string(v) ? json_string_length(v) : 0, json_is_array(v));
            }
        }
    }
    return rc ? rc : store_row(im, &row, jc->year);
}

/* What the records say: the year of the v1 datasetid, and whether any is a count. */
struct probe {
    int year;
    long records, counts;
};

static int dataset_year(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct probe *pr = ctx;
    json_t *ds = outer ? json_object_get(outer, "datasetid") : NULL;

    (void)pos;
    (void)geom;
    pr->records++;
    if (!pr->year && json_is_string(ds) && year_in(json_string_value(ds))) {
        pr->year = year_in(json_string_value(ds)); /* the first record tells */
    }
    /* Told apart by content: an annual count has an ident and a count field. */
    if (bch_imp_json_get(rec, "ident") &&
        (bch_imp_json_get(rec, "mjo_val") || bch_imp_json_get(rec, "mjo") ||
         bch_imp_json_get(rec, "mjo_%"))) {
        pr->counts++;
    }
    return 0;
}

static int json_file(struct bch_imp *im, const char *path, int *year)
{
    struct bch_buf b;
    json_error_t jerr;
    json_t *root;
    char err[512];
    int rc;
    struct probe pr = {0, 0, 0};
    struct jctx jc;

    if (bch_imp_read_all(path, &b, 256u << 20, err, sizeof(err))) {
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    root = json_loadb(b.data, b.len, 0, &jerr);
    bch_buf_release(&b);
    if (!root) {
        snprintf(err, sizeof(err), "not JSON: %s (line %d)", jerr.text, jerr.line);
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    if (bch_imp_json_records(root, dataset_year, &pr) < 0 || pr.counts == 0) {
        json_decref(root);
        rc = bch_imp_reject(im, 0, "",
                            pr.records == 0 ? "not an annual counts file: no records"
                                            : "not an annual counts file: no record with ident "
                                              "and mjo_val (or mjo)",
                            NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    if (pr.year) {
        *year = pr.year;
    }
    if (!*year) {
        json_decref(root);
        rc =
            bch_imp_reject(im, 0, "", "cannot tell the year (name the file ..._YYYY or use --year)",
                           NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    jc.im = im;
    jc.year = *year;
    rc = bch_imp_json_records(root, json_row, &jc);
    json_decref(root);
    if (rc == 0) {
        rc = bch_imp_source_done(im, "json", NULL, 0);
    }
    return rc;
}

static int file(struct bch_imp *im, const char *path)
{
    int c = bch_imp_first_byte(path);
    int year = year_in(base_name(path));
    bool skip;
    int rc = bch_imp_begin(im);

    if (rc == 0) {
        rc = bch_imp_source(im, path, "comptage_trafic", c == '{' || c == '[' ? "json" : "csv",
                            &skip);
    }
    if (rc || skip) {
        return rc;
    }
    if (!year) {
        year = im->opt->year;
    }
    if (c == '{' || c == '[') {
        rc = json_file(im, path, &year);
    } else {
        rc = csv_file(im, path, year); /* the header first: a counts file, then its year */
    }
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: year %d, %ld rows, %ld rejected", path, year, im->file_rows,
                 im->file_rejected);
    }
    return rc;
}

static int begin(struct bch_imp *im)
{
    struct counts *c = calloc(1, sizeof(*c));

    if (!c) {
        return BCH_ERR_NOMEM;
    }
    im->kind_state = c;
    {
        const struct bch_imp_sql defs[] = {
            {&c->exists, "SELECT 1 FROM annual_count WHERE ident = ? AND sens = ? AND year = ?"},
            {&c->ins,
             "INSERT INTO annual_count(ident, sens, year, nom_voie, mjo_val, mjo_pct, hpm_val, "
             "hpm_pct, hps_val, hps_pct, pl_val, pl_pct, vit_val, vit_evo, v85_vl, v85_pl, "
             "comment, source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
             "ON CONFLICT(ident, sens, year) DO UPDATE SET "
             "nom_voie = coalesce(nom_voie, excluded.nom_voie), "
             "mjo_val = coalesce(mjo_val, excluded.mjo_val), "
             "mjo_pct = coalesce(mjo_pct, excluded.mjo_pct), "
             "hpm_val = coalesce(hpm_val, excluded.hpm_val), "
             "hpm_pct = coalesce(hpm_pct, excluded.hpm_pct), "
             "hps_val = coalesce(hps_val, excluded.hps_val), "
             "hps_pct = coalesce(hps_pct, excluded.hps_pct), "
             "pl_val = coalesce(pl_val, excluded.pl_val), pl_pct = coalesce(pl_pct, "
             "excluded.pl_pct), "
             "vit_val = coalesce(vit_val, excluded.vit_val), "
             "vit_evo = coalesce(vit_evo, excluded.vit_evo), "
             "v85_vl = coalesce(v85_vl, excluded.v85_vl), v85_pl = coalesce(v85_pl, "
             "excluded.v85_pl), "
             "comment = coalesce(comment, excluded.comment)"},
        };

        return bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
    }
}

static void release(struct bch_imp *im)
{
    struct counts *c = im->kind_state;

    if (c) {
        sqlite3_finalize(c->ins);
        sqlite3_finalize(c->exists);
        free(c);
        im->kind_state = NULL;
    }
}

const struct bch_imp_kind bch_imp_kind_counts = {
    .name = "counts",
    .summary = "annual counts per station and direction (comptage_trafic_YYYY v1 JSON, "
               "comptage-du-trafic-YYYY CSV)",
    .begin = begin,
    .file = file,
    .end = NULL,
    .release = release,
};
