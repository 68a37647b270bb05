/*
 * hist.c - segment-history: hourly ci_trafi_l scores and segments files.
 *
 * The score file is read by a producer thread (inflate, split, parse: no
 * warehouse access) that hands batches of parsed rows to the importing
 * thread, which ties gids to segment keys, cleans the scores, stores the
 * rows and keeps the two roll-ups (history_hour, history_day) exact: every
 * stored, merged or moved row adds or removes its contribution, in fixed
 * point, in the same transaction.  docs/HISTORY.md describes the layer.
 */
#include "core/compat.h"

#include <math.h>
#include <pthread.h>

#include "core/err.h"
#include "core/geo.h"
#include "core/grow.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "import/fields.h"
#include "import/internal.h"
#include "import/stream.h"
#include "warehouse/db.h"

#define F_UNKNOWN 1
#define F_CAPPED  2
#define F_RAISED  4
#define F_MERGED  8
#define F_CLEAN   (F_UNKNOWN | F_CAPPED | F_RAISED)

#define BATCH_ROWS   65536
#define QUEUE_SLOTS  3
#define DAY_FLUSH_AT 200000
#define INS_ROWS     64 /* rows per multi-row INSERT */

/* Hours outside 1990..2100 are not plausible for this feed. */
#define HOUR_MIN ((bch_time)631152000)
#define HOUR_MAX ((bch_time)4102444800)

/* ------------------------------------------------------------ int maps */

/* Open addressing int64 -> (int64, double); INT64_MIN marks a free slot. */
struct imap {
    int64_t *keys;
    int64_t *vals;
    double *ws;
    size_t cap, n;
};

static size_t imap_slot(const struct imap *m, int64_t k)
{
    uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;

    return (size_t)(x >> 17) & (m->cap - 1);
}

static void imap_release(struct imap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->ws);
    memset(m, 0, sizeof(*m));
}

static int imap_grow(struct imap *m)
{
    struct imap n = {0};
    size_t cap = m->cap ? m->cap * 2 : 1024;

    n.keys = malloc(cap * sizeof(int64_t));
    n.vals = malloc(cap * sizeof(int64_t));
    n.ws = malloc(cap * sizeof(double));
    if (!n.keys || !n.vals || !n.ws) {
        imap_release(&n);
        return -1;
    }
    n.cap = cap;
    for (size_t i = 0; i < cap; i++) {
        n.keys[i] = INT64_MIN;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] != INT64_MIN) {
            size_t s = imap_slot(&n, m->keys[i]);

            while (n.keys[s] != INT64_MIN) {
                s = (s + 1) & (cap - 1);
            }
            n.keys[s] = m->keys[i];
            n.vals[s] = m->vals[i];
            n.ws[s] = m->ws[i];
            n.n++;
        }
    }
    imap_release(m);
    *m = n;
    return 0;
}

/* Index of k, or -1. */
static long imap_find(const struct imap *m, int64_t k)
{
    size_t s;

    if (!m->cap) {
        return -1;
    }
    s = imap_slot(m, k);
    while (m->keys[s] != INT64_MIN) {
        if (m->keys[s] == k) {
            return (long)s;
        }
        s = (s + 1) & (m->cap - 1);
    }
    return -1;
}

static int imap_put(struct imap *m, int64_t k, int64_t v, double w)
{
    long f = imap_find(m, k);
    size_t s;

    if (f >= 0) {
        m->vals[f] = v;
        m->ws[f] = w;
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap && imap_grow(m)) {
        return -1;
    }
    s = imap_slot(m, k);
    while (m->keys[s] != INT64_MIN) {
        s = (s + 1) & (m->cap - 1);
    }
    m->keys[s] = k;
    m->vals[s] = v;
    m->ws[s] = w;
    m->n++;
    return 0;
}

static void imap_del(struct imap *m, int64_t k)
{
    long f = imap_find(m, k);
    size_t i, j;

    if (f < 0) {
        return;
    }
    /* Backward-shift deletion keeps probe chains intact. */
    i = (size_t)f;
    m->keys[i] = INT64_MIN;
    m->n--;
    j = i;
    for (;;) {
        size_t home;

        j = (j + 1) & (m->cap - 1);
        if (m->keys[j] == INT64_MIN) {
            break;
        }
        home = imap_slot(m, m->keys[j]);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->ws[i] = m->ws[j];
            m->keys[j] = INT64_MIN;
            i = j;
        }
    }
}

/* --------------------------------------------------------- accumulators */

struct hacc {
    int64_t hour;
    int64_t rows, known, sum_idx, known_w, sum_w, sum_idx_w, congested;
};

struct dacc {
    int64_t key; /* seg_key << 24 | day */
    int64_t rows, known, sum_idx, am_known, am_sum, pm_known, pm_sum, congested;
};

/* Open addressing tables of accumulators, keyed by their first member. */
struct hacc_tab {
    struct hacc *v;
    size_t cap, n;
};
struct dacc_tab {
    struct dacc *v;
    size_t cap, n;
};

/* Local time of a UTC hour, cached. */
struct lt {
    int64_t hidx; /* hour / 3600, or INT64_MIN */
    int64_t day;
    int lhour, wday;
};
#define LT_CACHE 8192

/* ---------------------------------------------------------- producer */

struct prow {
    int64_t gid;
    bch_time hour;
    double raw;
    long line;
};

struct pbad {
    long line;
    const char *field;
    char reason[96];
    char value[64];
    size_t vlen;
};

struct batch {
    struct prow rows[BATCH_ROWS];
    size_t n;
    struct pbad *bad;
    size_t nbad, capbad;
    bool last;   /* no batch follows */
    bool failed; /* the file could not be read on: reason in err */
    char err[256];
};

struct producer {
    pthread_t thread;
    bool started;
    const char *path;
    struct bch_lines *lines;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *slots[QUEUE_SLOTS];
    struct batch *free_list[QUEUE_SLOTS];
    size_t nfull, head, nfree;
    bool stop; /* consumer asks the producer to end */
    /* header, set before the first batch is queued */
    char header[256];
    size_t header_len;
    size_t ncols; /* fields of the header */
    int col_gid, col_time, col_score;
};

/* ------------------------------------------------------------- state */

struct hist {
    struct imap ties;     /* gid -> seg_key, w = length of the key (NaN unknown) */
    struct imap unmapped; /* gid -> unmapped seg_key */
    struct hacc_tab hours;
    struct dacc_tab days;
    struct lt cache[LT_CACHE];
    bool segments_done;

    /* rows waiting for the multi-row insert */
    struct pend {
        int64_t key;
        double w;
        bch_time hour;
        double score;
        int flags;
        double raw;
        bool unmapped;
    } pend[INS_ROWS];
    size_t npend;

    sqlite3_stmt *ins_n, *ins, *get, *upd, *key_ins, *hour_up, *day_up, *rows_of, *del_rows,
        *del_key, *del_days, *seg_up, *seg_get, *gid_get, *gid_up;
};

static struct hist *H(struct bch_imp *im)
{
    return im->kind_state;
}

static const struct lt *local_of(struct hist *h, bch_time hour)
{
    int64_t hidx = hour / 3600;
    struct lt *e = &h->cache[(uint64_t)hidx & (LT_CACHE - 1)];

    if (e->hidx != hidx) {
        struct bch_local_tm tm;

        bch_paris_local(hour, &tm);
        e->hidx = hidx;
        e->day = bch_days_from_civil(tm.year, tm.month, tm.day);
        e->lhour = tm.hour;
        e->wday = tm.weekday;
    }
    return e;
}

static size_t hslot(size_t cap, int64_t k)
{
    return (size_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 19) & (cap - 1);
}

static struct hacc *hour_acc(struct hist *h, bch_time hour)
{
    struct hacc_tab *t = &h->hours;
    size_t s;

    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct hacc *nv = calloc(cap, sizeof(*nv));

        if (!nv) {
            return NULL;
        }
        for (size_t i = 0; i < cap; i++) {
            nv[i].hour = INT64_MIN;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->v[i].hour != INT64_MIN) {
                size_t j = hslot(cap, t->v[i].hour);

                while (nv[j].hour != INT64_MIN) {
                    j = (j + 1) & (cap - 1);
                }
                nv[j] = t->v[i];
            }
        }
        free(t->v);
        t->v = nv;
        t->cap = cap;
    }
    s = hslot(t->cap, hour);
    while (t->v[s].hour != INT64_MIN && t->v[s].hour != hour) {
        s = (s + 1) & (t->cap - 1);
    }
    if (t->v[s].hour == INT64_MIN) {
        memset(&t->v[s], 0, sizeof(t->v[s]));
        t->v[s].hour = hour;
        t->n++;
    }
    return &t->v[s];
}

static struct dacc *day_acc(struct hist *h, int64_t key)
{
    struct dacc_tab *t = &h->days;
    size_t s;

    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct dacc *nv = calloc(cap, sizeof(*nv));

        if (!nv) {
            return NULL;
        }
        for (size_t i = 0; i < cap; i++) {
            nv[i].key = INT64_MIN;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->v[i].key != INT64_MIN) {
                size_t j = hslot(cap, t->v[i].key);

                while (nv[j].key != INT64_MIN) {
                    j = (j + 1) & (cap - 1);
                }
                nv[j] = t->v[i];
            }
        }
        free(t->v);
        t->v = nv;
        t->cap = cap;
    }
    s = hslot(t->cap, key);
    while (t->v[s].key != INT64_MIN && t->v[s].key != key) {
        s = (s + 1) & (t->cap - 1);
    }
    if (t->v[s].key == INT64_MIN) {
        memset(&t->v[s], 0, sizeof(t->v[s]));
        t->v[s].key = key;
        t->n++;
    }
    return &t->v[s];
}

/*
 * Adds (sign +1) or removes (-1) the contribution of one row to the
 * roll-ups.  score is the cleaned score or NaN (unknown); w the length of
 * the segment or NaN.  Fixed point: index x 1e9, length in mm, index x
 * length x 1e6, all rounded per row, so sums do not depend on the order.
 */
static int contrib(struct hist *h, int sign, int64_t key, double w, bch_time hour, double score)
{
    const struct lt *lt = local_of(h, hour);
    struct hacc *ha = hour_acc(h, hour);
    struct dacc *da = day_acc(h, (key << 24) | (lt->day & 0xFFFFFF));

    if (!ha || !da) {
        return BCH_ERR_NOMEM;
    }
    ha->rows += sign;
    da->rows += sign;
    if (!isnan(score)) {
        double idx = (score - 1.0) / 2.0;
        int64_t e9 = llround(idx * 1e9);
        int cong = idx >= 0.5;

        ha->known += sign;
        ha->sum_idx += sign * e9;
        ha->congested += sign * cong;
        da->known += sign;
        da->sum_idx += sign * e9;
        da->congested += sign * cong;
        if (lt->lhour >= 7 && lt->lhour <= 9) {
            da->am_known += sign;
            da->am_sum += sign * e9;
        } else if (lt->lhour >= 17 && lt->lhour <= 19) {
            da->pm_known += sign;
            da->pm_sum += sign * e9;
        }
        if (!isnan(w)) {
            ha->known_w += sign;
            ha->sum_w += sign * llround(w * 1e3);
            ha->sum_idx_w += sign * llround(idx * w * 1e6);
        }
    }
    return 0;
}

static int flush_hours(struct bch_imp *im)
{
    struct hist *h = H(im);
    sqlite3_stmt *st = h->hour_up;

    for (size_t i = 0; i < h->hours.cap; i++) {
        struct hacc *a = &h->hours.v[i];
        const struct lt *lt;

        if (a->hour == INT64_MIN) {
            continue;
        }
        if (a->rows || a->known || a->sum_idx || a->known_w || a->sum_w || a->sum_idx_w ||
            a->congested) {
            lt = local_of(h, a->hour);
            sqlite3_bind_int64(st, 1, a->hour);
            sqlite3_bind_int64(st, 2, lt->day);
            sqlite3_bind_int(st, 3, lt->lhour);
            sqlite3_bind_int(st, 4, lt->wday);
            sqlite3_bind_int64(st, 5, a->rows);
            sqlite3_bind_int64(st, 6, a->known);
            sqlite3_bind_int64(st, 7, a->sum_idx);
            sqlite3_bind_int64(st, 8, a->known_w);
            sqlite3_bind_int64(st, 9, a->sum_w);
            sqlite3_bind_int64(st, 10, a->sum_idx_w);
            sqlite3_bind_int64(st, 11, a->congested);
            if (bch_imp_step(im, st)) {
                return BCH_ERR_DB;
            }
        }
        a->hour = INT64_MIN;
    }
    h->hours.n = 0;
    return 0;
}

static int flush_days(struct bch_imp *im)
{
    struct hist *h = H(im);
    sqlite3_stmt *st = h->day_up;

    for (size_t i = 0; i < h->days.cap; i++) {
        struct dacc *a = &h->days.v[i];

        if (a->key == INT64_MIN) {
            continue;
        }
        if (a->rows || a->known || a->sum_idx || a->am_known || a->am_sum || a->pm_known ||
            a->pm_sum || a->congested) {
            sqlite3_bind_int64(st, 1, a->key & 0xFFFFFF);
            sqlite3_bind_int64(st, 2, a->key >> 24);
            sqlite3_bind_int64(st, 3, a->rows);
            sqlite3_bind_int64(st, 4, a->known);
            sqlite3_bind_int64(st, 5, a->sum_idx);
            sqlite3_bind_int64(st, 6, a->am_known);
            sqlite3_bind_int64(st, 7, a->am_sum);
            sqlite3_bind_int64(st, 8, a->pm_known);
            sqlite3_bind_int64(st, 9, a->pm_sum);
            sqlite3_bind_int64(st, 10, a->congested);
            if (bch_imp_step(im, st)) {
                return BCH_ERR_DB;
            }
        }
        a->key = INT64_MIN;
    }
    h->days.n = 0;
    return 0;
}

static int flush_rows(struct bch_imp *im);

static int flush_all(struct bch_imp *im)
{
    if (flush_rows(im) || flush_hours(im) || flush_days(im)) {
        return BCH_ERR_DB;
    }
    return 0;
}

/* ------------------------------------------------------ storing a row */

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Merge order: unknown lowest, then the cleaned score, then the raw value. */
static int rank_cmp(double s1, double r1, double s2, double r2)
{
    double e1, e2;

    if (isnan(s1) || isnan(s2)) {
        return isnan(s1) ? (isnan(s2) ? 0 : -1) : 1;
    }
    if (s1 != s2) {
        return s1 < s2 ? -1 : 1;
    }
    e1 = isnan(r1) ? s1 : r1;
    e2 = isnan(r2) ? s2 : r2;
    return e1 < e2 ? -1 : (e1 > e2 ? 1 : 0);
}

/*
 * The cleaning counters (unknown, capped, raised, unmapped_rows) count the
 * rows as stored: a row adds its flags when it is stored new, and a merge
 * that replaces a stored row swaps the flags of the two.  A duplicate adds
 * nothing: the same rows imported again, in any bytes, change no counter
 * but duplicates.
 */
static void count_clean(struct bch_imp *im, int sign, int flags, bool unmapped)
{
    im->st->unknown += sign * ((flags & F_UNKNOWN) != 0);
    im->st->capped += sign * ((flags & F_CAPPED) != 0);
    im->st->raised += sign * ((flags & F_RAISED) != 0);
    im->st->unmapped_rows += sign * unmapped;
}

/*
 * Stores the row (key, hour) = (score, flags, raw), merging with a stored
 * row: identical -> duplicate; different -> the higher rank is kept with
 * flag merged.  Keeps the roll-ups and the cleaning counters exact.
 */
static int put_row(struct bch_imp *im, int64_t key, double w, bch_time hour, double score,
                   int flags, double raw, bool unmapped)
{
    struct hist *h = H(im);
    sqlite3_stmt *st = h->ins;
    double es, er;
    int ef, rc;

    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int64(st, 2, hour);
    bch_imp_bind_real(st, 3, score);
    sqlite3_bind_int(st, 4, flags);
    bch_imp_bind_real(st, 5, raw);
    if (bch_imp_step(im, st)) {
        return BCH_ERR_DB;
    }
    if (sqlite3_changes(im->db) == 1) {
        im->st->stored++;
        count_clean(im, 1, flags, unmapped);
        return contrib(h, 1, key, w, hour, score);
    }
    st = h->get;
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int64(st, 2, hour);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        bch_error("import", "hourly_score row vanished: %s", sqlite3_errmsg(im->db));
        return BCH_ERR_DB;
    }
    es = col_real(st, 0);
    ef = sqlite3_column_int(st, 1);
    er = col_real(st, 2);
    sqlite3_reset(st);
    if (same(es, score) && same(er, raw)) {
        im->st->duplicates++;
        return 0;
    }
    im->st->merged++;
    st = h->upd;
    if (rank_cmp(score, raw, es, er) > 0) {
        bch_imp_bind_real(st, 1, score);
        sqlite3_bind_int(st, 2, (flags & F_CLEAN) | F_MERGED);
        bch_imp_bind_real(st, 3, raw);
        count_clean(im, -1, ef, false);
        count_clean(im, 1, flags, false);
        rc = contrib(h, -1, key, w, hour, es);
        if (rc == 0) {
            rc = contrib(h, 1, key, w, hour, score);
        }
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    } else {
        if (ef & F_MERGED) {
            return 0;
        }
        bch_imp_bind_real(st, 1, es);
        sqlite3_bind_int(st, 2, ef | F_MERGED);
        bch_imp_bind_real(st, 3, er);
    }
    sqlite3_bind_int64(st, 4, key);
    sqlite3_bind_int64(st, 5, hour);
    return bch_imp_step(im, st);
}

/*
 * Stores the pending rows.  A full batch goes in one multi-row INSERT
 * without conflict clause: if any row already exists the statement fails
 * as a whole (SQLite undoes it) and the rows are stored one by one through
 * put_row(), which merges.  Conflicts are rare (3 rows of the real
 * history), so nearly every batch takes the fast path.
 */
static int flush_rows(struct bch_imp *im)
{
    struct hist *h = H(im);
    int rc = 0;

    if (h->npend == INS_ROWS) {
        sqlite3_stmt *st = h->ins_n;
        int step;

        for (size_t i = 0; i < INS_ROWS; i++) {
            const struct pend *p = &h->pend[i];
            int c = (int)i * 5;

            sqlite3_bind_int64(st, c + 1, p->key);
            sqlite3_bind_int64(st, c + 2, p->hour);
            bch_imp_bind_real(st, c + 3, p->score);
            sqlite3_bind_int(st, c + 4, p->flags);
            bch_imp_bind_real(st, c + 5, p->raw);
        }
        step = sqlite3_step(st);
        sqlite3_reset(st);
        if (step == SQLITE_DONE) {
            for (size_t i = 0; i < INS_ROWS && rc == 0; i++) {
                const struct pend *p = &h->pend[i];

                rc = contrib(h, 1, p->key, p->w, p->hour, p->score);
                count_clean(im, 1, p->flags, p->unmapped);
            }
            im->st->stored += INS_ROWS;
            h->npend = 0;
            return rc;
        }
        if ((step & 0xFF) != SQLITE_CONSTRAINT) {
            bch_error("import", "warehouse write failed: %s", sqlite3_errmsg(im->db));
            return BCH_ERR_DB;
        }
    }
    for (size_t i = 0; i < h->npend && rc == 0; i++) {
        const struct pend *p = &h->pend[i];

        rc = put_row(im, p->key, p->w, p->hour, p->score, p->flags, p->raw, p->unmapped);
    }
    h->npend = 0;
    return rc;
}

static int queue_row(struct bch_imp *im, int64_t key, double w, bch_time hour, double score,
                     int flags, double raw, bool unmapped)
{
    struct hist *h = H(im);
    struct pend *p = &h->pend[h->npend++];

    p->key = key;
    p->w = w;
    p->hour = hour;
    p->score = score;
    p->flags = flags;
    p->raw = raw;
    p->unmapped = unmapped;
    return h->npend == INS_ROWS ? flush_rows(im) : 0;
}

/* The key of gid: its tie, its unmapped key, or a new unmapped key. */
static int key_of(struct bch_imp *im, int64_t gid, int64_t *key, double *w, bool *mapped)
{
    struct hist *h = H(im);
    long f = imap_find(&h->ties, gid);

    if (f >= 0) {
        *key = h->ties.vals[f];
        *w = h->ties.ws[f];
        *mapped = true;
        return 0;
    }
    *mapped = false;
    *w = NAN;
    f = imap_find(&h->unmapped, gid);
    if (f >= 0) {
        *key = h->unmapped.vals[f];
        return 0;
    }
    sqlite3_bind_int64(h->key_ins, 1, gid);
    if (bch_imp_step(im, h->key_ins)) {
        return BCH_ERR_DB;
    }
    *key = sqlite3_last_insert_rowid(im->db);
    im->st->unmapped_keys++;
    return imap_put(&h->unmapped, gid, *key, NAN) ? BCH_ERR_NOMEM : 0;
}

/* Cleans a raw score (CONGESTION_METRICS.md "Hourly history"). */
static void clean_score(double raw, double *score, int *flags, double *keep_raw)
{
    *flags = 0;
    *keep_raw = NAN;
    if (raw == 0) {
        *score = NAN;
        *flags = F_UNKNOWN;
    } else if (raw > 3) {
        *score = 3;
        *flags = F_CAPPED;
        *keep_raw = raw;
    } else if (raw < 1) {
        *score = 1;
        *flags = F_RAISED;
        *keep_raw = raw;
    } else {
        *score = raw;
    }
}

static int store_parsed(struct bch_imp *im, const struct prow *r)
{
    double score, raw, w;
    int64_t key;
    int flags, rc;
    bool mapped;

    im->st->rows++;
    im->file_rows++;
    rc = key_of(im, r->gid, &key, &w, &mapped);
    if (rc) {
        return rc;
    }
    clean_score(r->raw, &score, &flags, &raw);
    return queue_row(im, key, w, r->hour, score, flags, raw, !mapped);
}

/* ------------------------------------------------- producer (parsing) */

static void add_bad(struct batch *b, long line, const char *field, const char *reason,
                    const char *value, size_t vlen)
{
    struct pbad *p;

    struct pbad *n = bch_reserve(b->bad, &b->capbad, b->nbad + 1, sizeof(*n), 64);

    if (!n) {
        return; /* counted as read error below: the batch is marked failed */
    }
    b->bad = n;
    p = &b->bad[b->nbad++];
    p->line = line;
    p->field = field;
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    p->vlen = vlen < sizeof(p->value) ? vlen : sizeof(p->value) - 1;
    if (value) {
        memcpy(p->value, value, p->vlen);
    }
    p->value[p->vlen] = '\0';
}

static const char *const score_cols[] = {"gid", "time|heure|date",
                                         "scores_horaires_ponderes|score"};

/* Parses one data row into b; a bad row goes to b->bad. */
static void parse_row(struct producer *p, const struct bch_csv *c, long line, struct batch *b)
{
    struct bch_csv_field fg = bch_imp_field(c, p->col_gid);
    struct bch_csv_field ft = bch_imp_field(c, p->col_time);
    struct bch_csv_field fs = bch_imp_field(c, p->col_score);
    struct prow *r = &b->rows[b->n];
    char terr[96];
    int64_t gid;
    double raw;

    if (c->nfields != p->ncols) {
        char why[96];

        snprintf(why, sizeof(why), "%zu fields where the header has %zu%s", c->nfields, p->ncols,
                 c->nfields > p->ncols ? " (an unquoted separator or decimal comma?)" : "");
        add_bad(b, line, "", why, c->row, c->row_len);
        return;
    }
    if (bch_cell_int64(fg.s, fg.len, &gid) != BCH_CELL_OK || gid <= 0) {
        add_bad(b, line, "gid", "not a positive whole number", fg.s, fg.len);
        return;
    }
    if (bch_time_parse(ft.s, ft.len, false, &r->hour, terr, sizeof(terr))) {
        add_bad(b, line, "time", terr, ft.s, ft.len);
        return;
    }
    if (r->hour % 3600 != 0) {
        add_bad(b, line, "time", "not the start of an hour", ft.s, ft.len);
        return;
    }
    if (r->hour < HOUR_MIN || r->hour >= HOUR_MAX) {
        add_bad(b, line, "time", "outside 1990-2099", ft.s, ft.len);
        return;
    }
    switch (bch_cell_double(fs.s, fs.len, &raw)) {
    case BCH_CELL_OK:
        break;
    case BCH_CELL_NULL:
        add_bad(b, line, "scores_horaires_ponderes", "missing score", fs.s, fs.len);
        return;
    default:
        add_bad(b, line, "scores_horaires_ponderes", "not a number", fs.s, fs.len);
        return;
    }
    if (raw < 0) {
        add_bad(b, line, "scores_horaires_ponderes", "negative score", fs.s, fs.len);
        return;
    }
    r->gid = gid;
    r->raw = raw;
    r->line = line;
    b->n++;
}

static struct batch *take_free(struct producer *p)
{
    struct batch *b = NULL;

    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->nfree == 0) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    if (!p->stop) {
        b = p->free_list[--p->nfree];
    }
    pthread_mutex_unlock(&p->mu);
    if (b) {
        b->n = 0;
        b->nbad = 0;
        b->last = false;
        b->failed = false;
        b->err[0] = '\0';
    }
    return b;
}

static void push_full(struct producer *p, struct batch *b)
{
    pthread_mutex_lock(&p->mu);
    p->slots[(p->head + p->nfull) % QUEUE_SLOTS] = b;
    p->nfull++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    struct batch *b = take_free(p);
    bool have_header = false;
    const char *data;
    size_t len;
    long first;
    int rc;

    if (!b) {
        return NULL;
    }
    while ((rc = bch_lines_next(p->lines, &data, &len, &first, b->err, sizeof(b->err))) >= 1) {
        struct bch_csv c;
        char cerr[128];
        bool stop;
        int r;

        if (rc == 2) { /* an over-long line, skipped: the next lines are read */
            if (have_header) {
                add_bad(b, first, "", b->err, NULL, 0);
            }
            b->err[0] = '\0';
            continue;
        }

        /* The importer gave up (warehouse error): stop reading the file. */
        pthread_mutex_lock(&p->mu);
        stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) {
            rc = 0;
            break;
        }

        bch_csv_init(&c, data, len, ',');
        while ((r = bch_csv_next(&c, cerr, sizeof(cerr))) != 0) {
            long line = first + c.line - 1;

            if (r < 0) {
                if (have_header) {
                    size_t vlen;
                    const char *v = bch_imp_row_text(&c, &vlen);

                    add_bad(b, line, "", cerr, v, vlen);
                }
            } else if (!have_header) {
                size_t hl = 0;

                bch_imp_map_header(&c, score_cols, 3, &p->col_gid);
                for (size_t i = 0; i < c.nfields && hl + c.fields[i].len + 2 < sizeof(p->header);
                     i++) {
                    if (i) {
                        p->header[hl++] = ',';
                    }
                    memcpy(p->header + hl, c.fields[i].s, c.fields[i].len);
                    hl += c.fields[i].len;
                }
                p->header_len = hl;
                p->ncols = c.nfields;
                have_header = true;
                if (p->col_gid < 0 || p->col_time < 0 || p->col_score < 0) {
                    snprintf(b->err, sizeof(b->err),
                             "not an hourly score file: the header lacks gid, time or "
                             "scores_horaires_ponderes");
                    rc = -1;
                    break;
                }
            } else {
                parse_row(p, &c, line, b);
            }
            if (b->n == BATCH_ROWS) {
                push_full(p, b);
                b = take_free(p);
                if (!b) {
                    bch_csv_release(&c);
                    return NULL;
                }
            }
        }
        bch_csv_release(&c);
        if (rc < 0) {
            break;
        }
    }
    if (rc < 0) {
        b->failed = true;
    } else if (!have_header) {
        b->failed = true;
        snprintf(b->err, sizeof(b->err), "empty file");
    }
    b->last = true;
    push_full(p, b);
    return NULL;
}

static struct batch *take_full(struct producer *p)
{
    struct batch *b;

    pthread_mutex_lock(&p->mu);
    while (p->nfull == 0) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    b = p->slots[p->head];
    p->head = (p->head + 1) % QUEUE_SLOTS;
    p->nfull--;
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void give_back(struct producer *p, struct batch *b)
{
    pthread_mutex_lock(&p->mu);
    p->free_list[p->nfree++] = b;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void producer_stop(struct producer *p)
{
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        p->started = false;
    }
    for (size_t i = 0; i < p->nfree; i++) {
        free(p->free_list[i]->bad);
        free(p->free_list[i]);
    }
    for (size_t i = 0; i < p->nfull; i++) {
        struct batch *b = p->slots[(p->head + i) % QUEUE_SLOTS];

        free(b->bad);
        free(b);
    }
    p->nfree = p->nfull = 0;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    bch_lines_close(p->lines);
    p->lines = NULL;
}

static int producer_start(struct producer *p, const char *path, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->path = path;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->lines = bch_lines_open(path, err, errlen);
    if (!p->lines) {
        producer_stop(p);
        return -1;
    }
    for (size_t i = 0; i < QUEUE_SLOTS; i++) {
        struct batch *b = calloc(1, sizeof(*b));

        if (!b) {
            snprintf(err, errlen, "out of memory");
            producer_stop(p);
            return -1;
        }
        p->free_list[p->nfree++] = b;
    }
    if (pthread_create(&p->thread, NULL, produce, p) != 0) {
        snprintf(err, errlen, "cannot start the reader thread");
        producer_stop(p);
        return -1;
    }
    p->started = true;
    return 0;
}

/* ----------------------------------------------------- score file */

static int score_file(struct bch_imp *im, const char *path)
{
    struct producer p;
    char err[512];
    long since_commit = 0;
    int rc = 0;
    bool done = false, failed = false, stopped = false;
    bool skip;

    rc = bch_imp_source(im, path, "ci_trafi_l_hourly", "csv", &skip);
    if (rc || skip) {
        if (skip && !im->opt->quiet) {
            bch_info("import", "%s: already imported, skipped", path);
        }
        return rc;
    }
    if (producer_start(&p, path, err, sizeof(err))) {
        bch_error("import", "%s", err);
        rc = bch_imp_reject(im, 0, "", err, NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    while (!done && rc == 0) {
        struct batch *b = take_full(&p);
        size_t ib = 0, ir = 0;

        /* Resuming: the first skip_rows data rows (in file order, bad or
         * good) were stored or rejected by an earlier, interrupted import. */
        while (im->skip_rows > 0 && (ib < b->nbad || ir < b->n)) {
            if (ir >= b->n || (ib < b->nbad && b->bad[ib].line < b->rows[ir].line)) {
                ib++;
            } else {
                ir++;
            }
            im->skip_rows--;
        }
        for (size_t i = ib; i < b->nbad && rc == 0; i++) {
            const struct pbad *x = &b->bad[i];

            im->st->rows++;
            im->file_rows++;
            rc = bch_imp_reject(im, x->line, x->field, x->reason, x->value, x->vlen, false);
        }
        for (size_t i = ir; i < b->n && rc == 0; i++) {
            rc = store_parsed(im, &b->rows[i]);
        }
        since_commit += (long)b->n;
        done = b->last;
        if (rc == 0 && H(im)->days.n > DAY_FLUSH_AT) {
            rc = flush_days(im);
        }
        if (b->failed && rc == 0) {
            failed = true;
            bch_error("import", "%s: %s", path, b->err);
            rc = bch_imp_reject(im, 0, "", b->err, NULL, 0, false);
        }
        give_back(&p, b);
        stopped = !done && im->opt->stop && *im->opt->stop;
        if (rc == 0 && !done && (since_commit >= im->opt->batch_rows || stopped)) {
            /* Bounded transactions (and WAL): the roll-ups and the file's
             * counters (what a resume takes back) go with the rows. */
            rc = flush_all(im);
            if (rc == 0) {
                rc = bch_imp_checkpoint(im);
            }
            if (rc == 0) {
                rc = bch_imp_commit(im);
            }
            if (rc == 0 && stopped) {
                /* SIGINT/SIGTERM: committed, not completed (a rerun resumes). */
                im->st->stopped = true;
                bch_warn("import",
                         "%s: stopped after %ld rows (committed; the file is not marked "
                         "completed: run the same import again to resume)",
                         path, im->file_rows);
                break;
            }
            if (rc == 0) {
                rc = bch_imp_begin(im);
            }
            since_commit = 0;
            bch_debug("import", "%s: %ld rows", path, im->file_rows);
        }
    }
    if (rc == 0 && !stopped) {
        rc = flush_all(im);
    }
    if (rc == 0 && !stopped) {
        /* A file that failed (not a score file, empty, a read error) stays
         * incomplete: a rerun reports it again.  Its rows read before the
         * error are kept, as for a truncated file. */
        rc = failed ? bch_imp_source_failed(im, "csv", p.header, p.header_len)
                    : bch_imp_source_done(im, "csv", p.header, p.header_len);
    }
    producer_stop(&p);
    if (rc == 0 && !stopped && !im->opt->quiet) {
        bch_info("import", "%s: %ld rows, %ld rejected", path, im->file_rows, im->file_rejected);
    }
    return rc ? rc : (failed ? BCH_ERR_INPUT : 0);
}

/* ----------------------------------------------------- segments file */

/* Rows of key (collected first: the table is modified while they move). */
struct keyrow {
    bch_time hour;
    double score, raw;
    int flags;
};

static int rows_of_key(struct bch_imp *im, int64_t key, struct keyrow **out, size_t *n)
{
    struct hist *h = H(im);
    sqlite3_stmt *st = h->rows_of;
    struct keyrow *v = NULL;
    size_t cap = 0;
    int step;

    *n = 0;
    sqlite3_bind_int64(st, 1, key);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct keyrow *nv = bch_reserve(v, &cap, *n + 1, sizeof(*nv), 1024);

        if (!nv) {
            sqlite3_reset(st);
            free(v);
            return BCH_ERR_NOMEM;
        }
        v = nv;
        v[*n].hour = sqlite3_column_int64(st, 0);
        v[*n].score = col_real(st, 1);
        v[*n].flags = sqlite3_column_int(st, 2);
        v[*n].raw = col_real(st, 3);
        (*n)++;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        free(v);
        bch_error("import", "cannot read hourly scores: %s", sqlite3_errmsg(im->db));
        return BCH_ERR_DB;
    }
    *out = v;
    return 0;
}

/* Moves the rows of an unmapped key to the key of the ident its gid is now tied to. */
static int move_key(struct bch_imp *im, int64_t from, int64_t to, double to_w)
{
    struct hist *h = H(im);
    struct keyrow *rows = NULL;
    size_t n = 0;
    struct bch_import_stats keep = *im->st;
    int rc = rows_of_key(im, from, &rows, &n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = contrib(h, -1, from, NAN, rows[i].hour, rows[i].score);
        if (rc == 0) {
            rc = put_row(im, to, to_w, rows[i].hour, rows[i].score, rows[i].flags & F_CLEAN,
                         rows[i].raw, false);
        }
    }
    free(rows);
    /* Moved rows are not new rows: only the tie changed, and they are no
     * longer unmapped (a segments file counts minus the rows it tied).  The
     * report derives stored, unknown and unmapped_rows from the roll-ups. */
    im->st->stored = keep.stored;
    im->st->unknown = keep.unknown;
    im->st->capped = keep.capped;
    im->st->raised = keep.raised;
    im->st->unmapped_rows = keep.unmapped_rows - (long)n;
    if (rc == 0) {
        sqlite3_bind_int64(h->del_rows, 1, from);
        rc = bch_imp_step(im, h->del_rows);
    }
    if (rc == 0) {
        sqlite3_bind_int64(h->del_key, 1, from);
        rc = bch_imp_step(im, h->del_key);
    }
    return rc;
}

/* Replaces the length weight of a key's rows in the hour roll-up. */
static int reweight_key(struct bch_imp *im, int64_t key, double old_w, double new_w)
{
    struct hist *h = H(im);
    struct keyrow *rows = NULL;
    size_t n = 0;
    int rc = rows_of_key(im, key, &rows, &n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = contrib(h, -1, key, old_w, rows[i].hour, rows[i].score);
        if (rc == 0) {
            rc = contrib(h, 1, key, new_w, rows[i].hour, rows[i].score);
        }
    }
    free(rows);
    return rc;
}

struct seg_ctx {
    struct bch_imp *im;
    bch_time as_of;
    long lines; /* features with gid, ident and a LineString / MultiLineString */
    long records;
    int rc;
};

/* The geometry type of a feature, or NULL. */
static const char *geom_type(json_t *geom)
{
    return json_is_object(geom) ? json_string_value(json_object_get(geom, "type")) : NULL;
}

static bool is_line_type(const char *t)
{
    return t && (strcmp(t, "LineString") == 0 || strcmp(t, "MultiLineString") == 0);
}

/* The member as text for the rejected table (compact JSON; NULL when absent). */
static char *member_text(json_t *v)
{
    if (!v) {
        return NULL;
    }
    if (json_is_string(v)) {
        return strdup(json_string_value(v));
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int reject_member(struct bch_imp *im, long pos, const char *field, const char *reason,
                         json_t *v)
{
    char *text = member_text(v);
    int rc = bch_imp_reject(im, pos, field, reason, text, text ? strlen(text) : 0, false);

    free(text);
    return rc;
}

static int seg_scan_mdate(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct seg_ctx *sc = ctx;
    json_t *m = bch_imp_json_get(rec, "mdate");
    bch_time t;

    (void)pos;
    (void)outer;
    sc->records++;
    if (is_line_type(geom_type(geom)) && bch_imp_json_get(rec, "gid") &&
        bch_imp_json_get(rec, "ident")) {
        sc->lines++;
    }
    if (json_is_string(m) &&
        bch_time_parse(json_string_value(m), json_string_length(m), false, &t, NULL, 0) == 0 &&
        (sc->as_of == BCH_TIME_NONE || t > sc->as_of)) {
        sc->as_of = t;
    }
    return 0;
}

static int seg_record(void *ctx, long pos, json_t *rec, json_t *geom, json_t *outer)
{
    struct seg_ctx *sc = ctx;
    struct bch_imp *im = sc->im;
    struct hist *h = H(im);
    char ident[64], typevoie[96], gerr[128], tied[64];
    struct bch_geom g = {0};
    char *gtext = NULL;
    double len = NAN, old_w = NAN;
    int64_t gid, key = 0;
    bool had_key = false, tied_here = false;
    long f;
    int rc = 0;

    (void)outer;
    im->file_rows++;
    if (bch_json_int64(bch_imp_json_get(rec, "gid"), &gid) != BCH_CELL_OK || gid <= 0) {
        return reject_member(im, pos, "gid", "missing or not a positive whole number",
                             bch_imp_json_get(rec, "gid"));
    }
    if (bch_json_text(bch_imp_json_get(rec, "ident"), ident, sizeof(ident)) != BCH_CELL_OK) {
        return reject_member(im, pos, "ident", "missing ident", bch_imp_json_get(rec, "ident"));
    }
    if (geom && !json_is_null(geom) && !is_line_type(geom_type(geom))) {
        /* A segment is a line: a Point feature (a sensor, a station) is not one. */
        const char *t = geom_type(geom);

        snprintf(gerr, sizeof(gerr), "a %s, not a LineString or MultiLineString segment",
                 t ? t : "geometry without type");
        return reject_member(im, pos, "geometry", gerr, json_object_get(geom, "type"));
    }
    bch_json_text(bch_imp_json_get(rec, "typevoie"), typevoie, sizeof(typevoie));
    if (geom && !json_is_null(geom)) {
        if (bch_geom_from_json(&g, geom, gerr, sizeof(gerr)) == 0) {
            len = bch_geom_length_m(&g);
            gtext = bch_geom_to_json(&g);
        } else {
            rc = bch_imp_reject(im, pos, "geometry", gerr, NULL, 0, true);
        }
    }
    /* An ident seen before keeps its key; its length may change. */
    sqlite3_bind_text(h->seg_get, 1, ident, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(h->seg_get) == SQLITE_ROW) {
        key = sqlite3_column_int64(h->seg_get, 0);
        old_w = col_real(h->seg_get, 1);
        had_key = true;
    }
    sqlite3_reset(h->seg_get);
    /* A gid already tied to another ident keeps its first tie. */
    sqlite3_bind_int64(h->gid_get, 1, gid);
    tied[0] = '\0';
    if (sqlite3_step(h->gid_get) == SQLITE_ROW) {
        snprintf(tied, sizeof(tied), "%s", (const char *)sqlite3_column_text(h->gid_get, 0));
        tied_here = sqlite3_column_int64(h->gid_get, 1) == im->source_id;
    }
    sqlite3_reset(h->gid_get);
    if (rc == 0 && tied[0] && strcmp(tied, ident) != 0) {
        char why[160];

        snprintf(why, sizeof(why), "gid already tied to ident '%s' %s", tied,
                 tied_here ? "by an earlier feature of this file" : "by an earlier segments file");
        rc = bch_imp_reject(im, pos, "gid", why, ident, strlen(ident), false);
        goto out;
    }
    if (rc == 0) {
        sqlite3_stmt *st = h->seg_up;

        sqlite3_bind_text(st, 1, ident, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, gid);
        bch_imp_bind_text(st, 3, typevoie, strlen(typevoie));
        bch_imp_bind_text(st, 4, gtext ? bch_geom_type_name(g.type) : NULL,
                          gtext ? strlen(bch_geom_type_name(g.type)) : 0);
        bch_imp_bind_text(st, 5, gtext, gtext ? strlen(gtext) : 0);
        bch_imp_bind_real(st, 6, len);
        rc = bch_imp_step(im, st);
    }
    if (rc == 0 && !had_key) {
        key = sqlite3_last_insert_rowid(im->db);
        sqlite3_bind_text(h->seg_get, 1, ident, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(h->seg_get) == SQLITE_ROW) {
            key = sqlite3_column_int64(h->seg_get, 0);
        }
        sqlite3_reset(h->seg_get);
    }
    if (rc == 0) {
        sqlite3_stmt *st = h->gid_up;

        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, ident, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, key);
        if (sc->as_of == BCH_TIME_NONE) {
            sqlite3_bind_null(st, 4);
        } else {
            sqlite3_bind_int64(st, 4, sc->as_of);
        }
        sqlite3_bind_int64(st, 5, im->source_id);
        rc = bch_imp_step(im, st);
    }
    if (rc == 0) {
        double new_w = isnan(len) ? old_w : len;

        if (!tied[0]) {
            im->st->tied_gids++;
        }
        if (had_key && !same(old_w, new_w)) {
            rc = reweight_key(im, key, old_w, new_w);
            /* every gid tied to this key now carries the new weight */
            for (size_t i = 0; rc == 0 && i < h->ties.cap; i++) {
                if (h->ties.keys[i] != INT64_MIN && h->ties.vals[i] == key) {
                    h->ties.ws[i] = new_w;
                }
            }
        }
        if (rc == 0 && imap_put(&h->ties, gid, key, new_w)) {
            rc = BCH_ERR_NOMEM;
        }
        f = imap_find(&h->unmapped, gid);
        if (rc == 0 && f >= 0) {
            int64_t from = h->unmapped.vals[f];

            imap_del(&h->unmapped, gid);
            rc = move_key(im, from, key, new_w);
        }
    }
out:
    free(gtext);
    bch_geom_release(&g);
    return rc;
}

static int segments_file(struct bch_imp *im, const char *path)
{
    struct bch_buf b;
    struct seg_ctx sc = {im, BCH_TIME_NONE, 0, 0, 0};
    json_error_t jerr;
    json_t *root;
    char err[512];
    bool skip;
    int rc = bch_imp_source(im, path, "ci_trafi_l_segments", "geojson", &skip);

    if (rc || skip) {
        if (skip && !im->opt->quiet) {
            bch_info("import", "%s: already imported, skipped", path);
        }
        return rc;
    }
    if (bch_imp_read_all(path, &b, 256u << 20, err, sizeof(err))) {
        bch_error("import", "%s", err);
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
    if (bch_imp_json_records(root, seg_scan_mdate, &sc) < 0 || sc.lines == 0) {
        /* Told apart by content: a segments file is GeoJSON of LineString /
         * MultiLineString features with gid and ident (a sensor snapshot or
         * a counts file has gid and ident too, on points or no geometry). */
        json_decref(root);
        rc = bch_imp_reject(im, 0, "",
                            sc.records == 0
                                ? "not a segments file: no features"
                                : "not a segments file: no LineString or MultiLineString feature "
                                  "with gid and ident",
                            NULL, 0, false);
        return rc ? rc : BCH_ERR_INPUT;
    }
    rc = bch_imp_json_records(root, seg_record, &sc);
    json_decref(root);
    if (rc == 0) {
        rc = flush_all(im);
    }
    if (rc == 0) {
        rc = bch_imp_step(im, H(im)->del_days);
    }
    if (rc == 0) {
        rc = bch_imp_source_done(im, "geojson", NULL, 0);
    }
    if (rc == 0 && !im->opt->quiet) {
        bch_info("import", "%s: %ld segments, %ld rejected; %ld gids tied", path, im->file_rows,
                 im->file_rejected, im->st->tied_gids);
    }
    return rc;
}

/* ------------------------------------------------------------- kind */

/* "INSERT ... VALUES (?,?,?,?,?),(...)" for INS_ROWS rows, no conflict clause. */
static const char *multi_insert_sql(char *buf, size_t len)
{
    size_t n = (size_t)snprintf(
        buf, len, "INSERT INTO hourly_score(seg_key, hour, score, flags, raw) VALUES ");

    for (size_t i = 0; i < INS_ROWS && n < len; i++) {
        n += (size_t)snprintf(buf + n, len - n, "%s(?,?,?,?,?)", i ? "," : "");
    }
    return buf;
}

static int prepare(struct bch_imp *im)
{
    struct hist *h = H(im);
    char multi[96 + INS_ROWS * 16];
    const struct bch_imp_sql defs[] = {
        {&h->ins_n, multi_insert_sql(multi, sizeof(multi))},
        {&h->ins,
         "INSERT INTO hourly_score(seg_key, hour, score, flags, raw) VALUES (?, ?, ?, ?, ?) "
         "ON CONFLICT DO NOTHING"},
        {&h->get, "SELECT score, flags, raw FROM hourly_score WHERE seg_key = ? AND hour = ?"},
        {&h->upd, "UPDATE hourly_score SET score = ?, flags = ?, raw = ? "
                  "WHERE seg_key = ? AND hour = ?"},
        {&h->key_ins, "INSERT INTO history_segment(ident, gid) VALUES (NULL, ?)"},
        {&h->hour_up,
         "INSERT INTO history_hour(hour, day, lhour, wday, rows, known, sum_idx_e9, known_w, "
         "sum_w_mm, sum_idx_w_e6, congested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
         "ON CONFLICT(hour) DO UPDATE SET rows = rows + excluded.rows, "
         "known = known + excluded.known, sum_idx_e9 = sum_idx_e9 + excluded.sum_idx_e9, "
         "known_w = known_w + excluded.known_w, sum_w_mm = sum_w_mm + excluded.sum_w_mm, "
         "sum_idx_w_e6 = sum_idx_w_e6 + excluded.sum_idx_w_e6, "
         "congested = congested + excluded.congested"},
        {&h->day_up,
         "INSERT INTO history_day(day, seg_key, rows, known, sum_idx_e9, am_known, am_sum_e9, "
         "pm_known, pm_sum_e9, congested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
         "ON CONFLICT(day, seg_key) DO UPDATE SET rows = rows + excluded.rows, "
         "known = known + excluded.known, sum_idx_e9 = sum_idx_e9 + excluded.sum_idx_e9, "
         "am_known = am_known + excluded.am_known, am_sum_e9 = am_sum_e9 + excluded.am_sum_e9, "
         "pm_known = pm_known + excluded.pm_known, pm_sum_e9 = pm_sum_e9 + excluded.pm_sum_e9, "
         "congested = congested + excluded.congested"},
        {&h->rows_of, "SELECT hour, score, flags, raw FROM hourly_score WHERE seg_key = ? "
                      "ORDER BY hour"},
        {&h->del_rows, "DELETE FROM hourly_score WHERE seg_key = ?"},
        {&h->del_key, "DELETE FROM history_segment WHERE seg_key = ? AND ident IS NULL"},
        {&h->del_days, "DELETE FROM history_day WHERE rows = 0 AND known = 0"},
        {&h->seg_up,
         "INSERT INTO history_segment(ident, gid, typevoie, geom_type, geometry, length_m) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(ident) DO UPDATE SET gid = excluded.gid, "
         "typevoie = coalesce(excluded.typevoie, typevoie), "
         "geom_type = coalesce(excluded.geom_type, geom_type), "
         "geometry = coalesce(excluded.geometry, geometry), "
         "length_m = coalesce(excluded.length_m, length_m)"},
        {&h->seg_get, "SELECT seg_key, length_m FROM history_segment WHERE ident = ?"},
        {&h->gid_get, "SELECT ident, source_id FROM history_gid WHERE gid = ?"},
        {&h->gid_up, "INSERT INTO history_gid(gid, ident, seg_key, as_of, source_id) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT(gid) DO UPDATE SET "
                     "seg_key = excluded.seg_key, as_of = max(coalesce(as_of, excluded.as_of), "
                     "coalesce(excluded.as_of, as_of))"},
    };

    return bch_imp_prepare(im, defs, BCH_ARRAY_LEN(defs));
}

static void release(struct bch_imp *im)
{
    struct hist *h = H(im);
    const struct bch_imp_sql defs[] = {
        {&h->ins_n, NULL},    {&h->ins, NULL},     {&h->get, NULL},      {&h->upd, NULL},
        {&h->key_ins, NULL},  {&h->hour_up, NULL}, {&h->day_up, NULL},   {&h->rows_of, NULL},
        {&h->del_rows, NULL}, {&h->del_key, NULL}, {&h->del_days, NULL}, {&h->seg_up, NULL},
        {&h->seg_get, NULL},  {&h->gid_get, NULL}, {&h->gid_up, NULL},
    };

    if (!h) {
        return;
    }
    bch_imp_finalize(defs, BCH_ARRAY_LEN(defs));
    imap_release(&h->ties);
    imap_release(&h->unmapped);
    free(h->hours.v);
    free(h->days.v);
    free(h);
    im->kind_state = NULL;
}

/* Ties and unmapped keys already in the warehouse. */
static int load_keys(struct bch_imp *im)
{
    struct hist *h = H(im);
    sqlite3_stmt *st =
        bch_db_prepare(im->db, "SELECT g.gid, g.seg_key, s.length_m FROM history_gid g "
                               "JOIN history_segment s ON s.seg_key = g.seg_key");
    int rc = 0, step;

    if (!st) {
        return BCH_ERR_DB;
    }
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (imap_put(&h->ties, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                     col_real(st, 2))) {
            rc = BCH_ERR_NOMEM;
        }
    }
    sqlite3_finalize(st);
    st = bch_db_prepare(im->db, "SELECT gid, seg_key FROM history_segment WHERE ident IS NULL");
    if (!st) {
        return BCH_ERR_DB;
    }
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (imap_put(&h->unmapped, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), NAN)) {
            rc = BCH_ERR_NOMEM;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int begin(struct bch_imp *im)
{
    struct hist *h = calloc(1, sizeof(*h));
    int rc;

    if (!h) {
        return BCH_ERR_NOMEM;
    }
    for (size_t i = 0; i < LT_CACHE; i++) {
        h->cache[i].hidx = INT64_MIN;
    }
    im->kind_state = h;
    rc = prepare(im);
    if (rc == 0) {
        rc = load_keys(im);
    }
    if (rc == 0 && im->opt->segments) {
        rc = bch_imp_side_file(im, segments_file, im->opt->segments);
    }
    return rc;
}

static int file(struct bch_imp *im, const char *path)
{
    int c = bch_imp_first_byte(path);
    int rc = bch_imp_begin(im);

    if (rc) {
        return rc;
    }
    if (c == '{' || c == '[') {
        return segments_file(im, path);
    }
    return score_file(im, path);
}

const struct bch_imp_kind bch_imp_kind_history = {
    .name = "segment-history",
    .summary = "hourly ci_trafi_l scores (gid,time,score CSV, gzip or plain) and segments "
               "GeoJSON tying gid to ident",
    .begin = begin,
    .file = file,
    .end = NULL,
    .release = release,
};
