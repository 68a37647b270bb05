/*
 * works.c - ci_chantier road works (and periods for comparisons).
 *
 * ci_chantier CSV (UI export): BOM, CRLF, ';', a label header (Geo Point;
 * Geo Shape;gml_id;LOCALISATION;GID;IDENT;NATURE_N1;...), UPPERCASE names,
 * Point or MultiPoint geometry, "None" for nothing.  One work may hold
 * several acts: GID_ACTE, DATE_DEBUT_ACTE and DATE_FIN_ACTE are lists
 * joined with '#' (and the emprise fields sub-lists joined with '/').  The
 * work's period spans its acts.  A work seen again (a later extract) takes
 * the newer attributes and acts.
 *
 * periods CSV ("deb","fin","label", e.g. history/lockdowns_fr.csv): local
 * dates, both inclusive, for before/during/after comparisons.
 */
#include "core/compat.h"

#include <math.h>

#include "core/err.h"
#include "core/geo.h"
#include "core/log.h"
#include "import/fields.h"
#include "import/internal.h"
#include "warehouse/db.h"

enum {
    W_POINT,
    W_SHAPE,
    W_LOCAL,
    W_GID,
    W_IDENT,
    W_N1,
    W_N2,
    W_NATURE,
    W_SOUS,
    W_ACTE,
    W_DEB,
    W_FIN,
    W_MES,
    W_N
};

static const char *const work_cols[W_N] = {
    "geo point|geo_point_2d",
    "geo shape|geo_shape",
    "localisation",
    "gid",
    "ident",
    "nature_n1",
    "nature_n2",
    "nature",
    "sous_nature",
    "gid_acte",
    "date_debut_acte",
    "date_fin_acte",
    "mes_libelle",
};

#define MAX_ACTS 64

struct works {
    sqlite3_stmt *work_get, *work_up, *acts_del, *act_ins, *work_same, *acts_n, *act_same;
};

/* Splits s[0..len) on sep into at most max parts. */
static size_t split(const char *s, size_t len, char sep, const char **part, size_t *plen,
                    size_t max)
{
    size_t n = 0, start = 0;

    for (size_t i = 0; i <= len && n < max; i++) {
        if (i == len || s[i] == sep) {
            part[n] = s + start;
            plen[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static void text_or_null(sqlite3_stmt *st, int i, struct bch_csv_field f)
{
    if (bch_cell_is_null(f.s, f.len)) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_text(st, i, f.s, (int)f.len, SQLITE_TRANSIENT);
    }
}

/* Binds ?1..?14 of a road_work row (work_up, work_same). */
static void bind_work(sqlite3_stmt *st, const struct bch_imp_csv *r, const int *col, int64_t gid,
                      int64_t start, int64_t end, const char *gtext, const char *gtype, double lon,
                      double lat)
{
    sqlite3_bind_int64(st, 1, gid);
    text_or_null(st, 2, bch_imp_field(&r->csv, col[W_IDENT]));
    text_or_null(st, 3, bch_imp_field(&r->csv, col[W_LOCAL]));
    text_or_null(st, 4, bch_imp_field(&r->csv, col[W_N1]));
    text_or_null(st, 5, bch_imp_field(&r->csv, col[W_N2]));
    text_or_null(st, 6, bch_imp_field(&r->csv, col[W_NATURE]));
    text_or_null(st, 7, bch_imp_field(&r->csv, col[W_SOUS]));
    if (start != INT64_MAX) {
        sqlite3_bind_int64(st, 8, start);
    } else {
        sqlite3_bind_null(st, 8);
    }
    if (end != INT64_MIN) {
        sqlite3_bind_int64(st, 9, end);
    } else {
        sqlite3_bind_null(st, 9);
    }
    text_or_null(st, 10, bch_imp_field(&r->csv, col[W_MES]));
    bch_imp_bind_text(st, 11, gtext ? gtype : NULL, gtext ? strlen(gtype) : 0);
    bch_imp_bind_text(st, 12, gtext, gtext ? strlen(gtext) : 0);
    bch_imp_bind_real(st, 13, lon);
    bch_imp_bind_real(st, 14, lat);
}

/* Binds ?1..?5 of act i of a work (act_ins, act_same). */
static void bind_act(sqlite3_stmt *st, int64_t gid, size_t i, bool has_g, int64_t g, bool has_s,
                     int64_t s, bool has_e, int64_t e)
{
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_int64(st, 2, (int64_t)i + 1);
    if (has_g) {
        sqlite3_bind_int64(st, 3, g);
    } else {
        sqlite3_bind_null(st, 3);
    }
    if (has_s) {
        sqlite3_bind_int64(st, 4, s);
    } else {
        sqlite3_bind_null(st, 4);
    }
    if (has_e) {
        sqlite3_bind_int64(st, 5, e);
    } else {
        sqlite3_bind_null(st, 5);
    }
}

static int work_row(struct bch_imp *im, const struct bch_imp_csv *r, const int *col, long line)
{
    struct works *w = im->kind_state;
    struct bch_csv_field f = bch_imp_field(&r->csv, col[W_GID]);
    const char *acte[MAX_ACTS], *deb[MAX_ACTS], *fin[MAX_ACTS];
    size_t lacte[MAX_ACTS], ldeb[MAX_ACTS], lfin[MAX_ACTS];
    size_t nacte, ndeb, nfin, nacts;
    int64_t gid, start = INT64_MAX, end = INT64_MIN;
    int64_t as[MAX_ACTS], ae[MAX_ACTS], ag[MAX_ACTS];
    bool has_s[MAX_ACTS], has_e[MAX_ACTS], has_g[MAX_ACTS];
    struct bch_geom g = {0};
    char gerr[128], gtype[32] = "";
    char *gtext = NULL;
    double lon = NAN, lat = NAN;
    sqlite3_stmt *st;
    int rc = 0;
    bool existed, same;

    im->st->rows++;
    im->file_rows++;
    if (bch_cell_int64(f.s, f.len, &gid) != BCH_CELL_OK || gid <= 0) {
        return bch_imp_reject(im, line, "GID", "missing or not a positive whole number", f.s, f.len,
                              false);
    }
    f = bch_imp_field(&r->csv, col[W_ACTE]);
    nacte = bch_cell_is_null(f.s, f.len) ? 0 : split(f.s, f.len, '#', acte, lacte, MAX_ACTS);
    f = bch_imp_field(&r->csv, col[W_DEB]);
    ndeb = bch_cell_is_null(f.s, f.len) ? 0 : split(f.s, f.len, '#', deb, ldeb, MAX_ACTS);
    f = bch_imp_field(&r->csv, col[W_FIN]);
    nfin = bch_cell_is_null(f.s, f.len) ? 0 : split(f.s, f.len, '#', fin, lfin, MAX_ACTS);
    nacts = nacte > ndeb ? nacte : ndeb;
    nacts = nfin > nacts ? nfin : nacts;
    for (size_t i = 0; i < nacts && rc == 0; i++) {
        has_g[i] = i < nacte && bch_cell_int64(acte[i], lacte[i], &ag[i]) == BCH_CELL_OK;
        has_s[i] = i < ndeb && bch_cell_ymd(deb[i], ldeb[i], &as[i]) == 0;
        has_e[i] = i < nfin && bch_cell_ymd(fin[i], lfin[i], &ae[i]) == 0;
        if (i < ndeb && !has_s[i] && !bch_cell_is_null(deb[i], ldeb[i])) {
            rc = bch_imp_reject(im, line, "DATE_DEBUT_ACTE", "not a YYYY-MM-DD date", deb[i],
                                ldeb[i], true);
        }
        if (rc == 0 && i < nfin && !has_e[i] && !bch_cell_is_null(fin[i], lfin[i])) {
            rc = bch_imp_reject(im, line, "DATE_FIN_ACTE", "not a YYYY-MM-DD date", fin[i], lfin[i],
                                true);
        }
        if (has_s[i] && as[i] < start) {
            start = as[i];
        }
        if (has_e[i] && ae[i] > end) {
            end = ae[i];
        }
    }
    if (rc) {
        return rc;
    }
    f = bch_imp_field(&r->csv, col[W_SHAPE]);
    if (!bch_cell_is_null(f.s, f.len)) {
        if (bch_geom_parse(&g, f.s, f.len, gerr, sizeof(gerr)) == 0) {
            gtext = bch_geom_to_json(&g);
            snprintf(gtype, sizeof(gtype), "%s", bch_geom_type_name(g.type));
            if (g.nvert > 0) {
                /* The first vertex locates a point or multipoint work. */
                lon = g.lon[0];
                lat = g.lat[0];
            }
        } else {
            /* Polygons (TYPE_GEOMETRIE SURFACE) are kept as received: core/geo.h
             * measures lines, and a work area only needs its Geo Point. */
            json_t *j = json_loadb(f.s, f.len, 0, NULL);
            const char *t = json_string_value(json_object_get(j, "type"));

            if (t && (strcmp(t, "Polygon") == 0 || strcmp(t, "MultiPolygon") == 0) &&
                json_is_array(json_object_get(j, "coordinates"))) {
                gtext = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                snprintf(gtype, sizeof(gtype), "%s", t);
            } else {
                rc = bch_imp_reject(im, line, "Geo Shape", gerr, f.s, f.len, true);
            }
            json_decref(j);
        }
    }
    f = bch_imp_field(&r->csv, col[W_POINT]);
    if (rc == 0 && !bch_cell_is_null(f.s, f.len)) {
        const char *comma = memchr(f.s, ',', f.len);
        double plat, plon;

        if (comma && bch_cell_double(f.s, (size_t)(comma - f.s), &plat) == BCH_CELL_OK &&
            bch_cell_double(comma + 1, f.len - (size_t)(comma - f.s) - 1, &plon) == BCH_CELL_OK) {
            lon = plon;
            lat = plat;
        }
    }
    sqlite3_bind_int64(w->work_get, 1, gid);
    existed = sqlite3_step(w->work_get) == SQLITE_ROW;
    sqlite3_reset(w->work_get);
    /* The same work as stored (attributes and acts): a duplicate, which
     * changes nothing (not even the source it is attributed to). */
    same = false;
    if (existed) {
        st = w->work_same;
        bind_work(st, r, col, gid, start, end, gtext, gtype, lon, lat);
        same = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (same) {
            sqlite3_bind_int64(w->acts_n, 1, gid);
            same = sqlite3_step(w->acts_n) == SQLITE_ROW &&
                   sqlite3_column_int64(w->acts_n, 0) == (int64_t)nacts;
            sqlite3_reset(w->acts_n);
        }
        for (size_t i = 0; same && i < nacts; i++) {
            st = w->act_same;
            bind_act(st, gid, i, has_g[i], ag[i], has_s[i], as[i], has_e[i], ae[i]);
            same = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
    }
    if (same) {
        free(gtext);
        bch_geom_release(&g);
        im->st->duplicates++;
        return 0;
    }
    st = w->work_up;
    bind_work(st, r, col, gid, start, end, gtext, gtype, lon, lat);
    sqlite3_bind_int64(st, 15, im->source_id);
    rc = bch_imp_step(im, st);
    free(gtext);
    bch_geom_release(&g);
    if (rc == 0) {
        sqlite3_bind_int64(w->acts_del, 1, gid);
        rc = bch_imp_step(im, w->acts_del);
    }
    for (size_t i = 0; i < nacts && rc == 0; i++) {
        bind_act(w->act_ins, gid, i, has_g[i], ag[i], has_s[i], as[i], has_e[i], ae[i]);
        rc = bch_imp_step(im, w->act_ins);
    }
    if (rc == 0) {
        if (existed) {
            im->st->merged++; /* replaced by this later extract */
        } else {
            im->st->stored++;
        }
    }
    return rc;
}

static int works_file(struct bch_imp *im, const char *path)
{
    struct bch_imp_csv r;
    int col[W_N];
    bool skip;
    long line;
    int rc;

    rc = bch_imp_begin(im);
    if (rc == 0) {
        rc = bch_imp_source(im, path, "ci_chantier", "csv", &skip);
    }
    if (rc || skip) {
        return rc;
    }
    rc = bch_imp_csv_open_file(im, &r, path);
    if (rc) {
        return rc;
    }
    while (rc == 0 && bch_imp_csv_row(im, &r, &line, &rc)) {
        if (r.at_header) {
            bch_imp_map_header(&r.csv, work_cols, W_N, col);
            if (col[W_GID] < 0 || col[W_DEB] < 0) {
                rc = bch_imp_reject_header(
                    im, &r, "not a road works file: the header lacks GID and DATE_DEBUT_ACTE");
            }
            continue;
        }
        rc = work_row(im, &r, col, line);
    }
    rc = bch_imp_csv_done(im, &r, "csv", rc);
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld works, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc;
}

static int works_begin(struct bch_imp *im)
{
    struct works *w = calloc(1, sizeof(*w));

    if (!w) {
        return BCH_ERR_NOMEM;
    }
    im->kind_state = w;
    {
        const struct bch_imp_sql defs[] = {
            {&w->work_get, "SELECT 1 FROM road_work WHERE gid = ?"},
            {&w->work_up,
             "INSERT OR REPLACE INTO road_work(gid, ident, localisation, nature_n1, nature_n2, "
             "nature, sous_nature, start_day, end_day, mesures, geom_type, geometry, lon, lat, "
             "source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
            {&w->acts_del, "DELETE FROM road_work_act WHERE gid = ?"},
            {&w->act_ins, "INSERT INTO road_work_act(gid, act_no, act_gid, start_day, end_day) "
                          "VALUES (?, ?, ?, ?, ?)"},
            {&w->work_same,
             "SELECT 1 FROM road_work WHERE gid = ?1 AND ident IS ?2 AND localisation IS ?3 AND "
             "nature_n1 IS ?4 AND nature_n2 IS ?5 AND nature IS ?6 AND sous_nature IS ?7 AND "
             "start_day IS ?8 AND end_day IS ?9 AND mesures IS ?10 AND geom_type IS ?11 AND "
             "geometry IS ?12 AND lon IS ?13 AND lat IS ?14"},
            {&w->acts_n, "SELECT count(*) FROM road_work_act WHERE gid = ?"},
            {&w->act_same, "SELECT 1 FROM road_work_act WHERE gid = ?1 AND act_no = ?2 AND "
                           "act_gid IS ?3 AND start_day IS ?4 AND end_day IS ?5"},
        };

        return bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
    }
}

static void works_release(struct bch_imp *im)
{
    struct works *w = im->kind_state;

    if (w) {
        sqlite3_finalize(w->work_get);
        sqlite3_finalize(w->work_up);
        sqlite3_finalize(w->acts_del);
        sqlite3_finalize(w->act_ins);
        sqlite3_finalize(w->work_same);
        sqlite3_finalize(w->acts_n);
        sqlite3_finalize(w->act_same);
        free(w);
        im->kind_state = NULL;
    }
}

const struct bch_imp_kind bch_imp_kind_works = {
    .name = "works",
    .summary = "ci_chantier road works CSV (period, nature, geometry; multi-valued acts)",
    .begin = works_begin,
    .file = works_file,
    .end = NULL,
    .release = works_release,
};

/* ------------------------------------------------------------ periods */

static int periods_file(struct bch_imp *im, const char *path)
{
    static const char *const cols[] = {"deb|start|from|debut", "fin|end|to", "label|libelle"};
    struct bch_imp_csv r;
    sqlite3_stmt *st = NULL, *same = NULL;
    int col[3];
    bool skip;
    long line;
    int rc;

    rc = bch_imp_begin(im);
    if (rc == 0) {
        rc = bch_imp_source(im, path, "periods", "csv", &skip);
    }
    if (rc || skip) {
        return rc;
    }
    st = bch_db_prepare(im->db, "INSERT INTO period(label, start_day, end_day, source_id) "
                                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    same = bch_db_prepare(im->db, "SELECT 1 FROM period WHERE label = ? AND start_day = ? AND "
                                  "end_day = ?");
    if (!st || !same) {
        sqlite3_finalize(st);
        sqlite3_finalize(same);
        return BCH_ERR_DB;
    }
    rc = bch_imp_csv_open_file(im, &r, path);
    if (rc) {
        sqlite3_finalize(st);
        sqlite3_finalize(same);
        return rc;
    }
    while (rc == 0 && bch_imp_csv_row(im, &r, &line, &rc)) {
        struct bch_csv_field fd, ff, fl;
        int64_t d1, d2;

        if (r.at_header) {
            bch_imp_map_header(&r.csv, cols, 3, col);
            if (col[0] < 0 || col[1] < 0) {
                rc = bch_imp_reject_header(im, &r,
                                           "not a periods file: the header lacks deb and fin");
            }
            continue;
        }
        im->st->rows++;
        im->file_rows++;
        fd = bch_imp_field(&r.csv, col[0]);
        ff = bch_imp_field(&r.csv, col[1]);
        fl = bch_imp_field(&r.csv, col[2]);
        if (bch_cell_ymd(fd.s, fd.len, &d1)) {
            rc = bch_imp_reject(im, line, "deb", "not a YYYY-MM-DD date", fd.s, fd.len, false);
            continue;
        }
        if (bch_cell_ymd(ff.s, ff.len, &d2) || d2 < d1) {
            rc = bch_imp_reject(im, line, "fin", "not a YYYY-MM-DD date on or after deb", ff.s,
                                ff.len, false);
            continue;
        }
        sqlite3_bind_text(st, 1, fl.len ? fl.s : "period", fl.len ? (int)fl.len : -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, d1);
        sqlite3_bind_int64(st, 3, d2);
        sqlite3_bind_int64(st, 4, im->source_id);
        rc = bch_imp_step(im, st);
        if (rc == 0) {
            if (sqlite3_changes(im->db) == 1) {
                im->st->stored++;
            } else {
                /* (label, start) is the key: the same end is a duplicate; another
                 * end is merged by the kind's rule, the stored period kept. */
                sqlite3_bind_text(same, 1, fl.len ? fl.s : "period", fl.len ? (int)fl.len : -1,
                                  SQLITE_TRANSIENT);
                sqlite3_bind_int64(same, 2, d1);
                sqlite3_bind_int64(same, 3, d2);
                if (sqlite3_step(same) == SQLITE_ROW) {
                    im->st->duplicates++;
                } else {
                    im->st->merged++;
                    bch_info("import",
                             "%s:%ld: period '%.*s' from %.*s already stored with "
                             "another end: the stored one is kept",
                             path, line, (int)fl.len, fl.s, (int)fd.len, fd.s);
                }
                sqlite3_reset(same);
            }
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(same);
    rc = bch_imp_csv_done(im, &r, "csv", rc);
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld periods, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc;
}

const struct bch_imp_kind bch_imp_kind_periods = {
    .name = "periods",
    .summary = "periods for before/during/after comparisons (CSV deb,fin,label; local dates)",
    .begin = NULL,
    .file = periods_file,
    .end = NULL,
    .release = NULL,
};
