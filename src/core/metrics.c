#include "core/compat.h"

#include <math.h>
#include <pthread.h>

#include "core/metrics.h"

#define MAX_FAMILIES 96
#define MAX_SERIES   512
#define MAX_BUCKETS  24

struct series {
    char *labels;
    double value; /* counter / gauge; histogram: sum */
    uint64_t count;
    uint64_t buckets[MAX_BUCKETS];
};

struct bch_metric {
    char *name;
    char *help;
    enum bch_metric_type type;
    double bounds[MAX_BUCKETS];
    size_t nbounds;
    struct series *series;
    size_t nseries;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct bch_metric families[MAX_FAMILIES];
static size_t nfamilies;

static struct bch_metric *family(const char *name, const char *help, enum bch_metric_type type,
                                 const double *buckets, size_t nbuckets)
{
    struct bch_metric *m = NULL;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nfamilies; i++) {
        if (strcmp(families[i].name, name) == 0) {
            m = &families[i];
            goto out;
        }
    }
    if (nfamilies == MAX_FAMILIES) {
        goto out;
    }
    m = &families[nfamilies];
    memset(m, 0, sizeof(*m));
    m->name = strdup(name);
    m->help = strdup(help);
    m->type = type;
    m->series = calloc(MAX_SERIES, sizeof(struct series));
    if (!m->name || !m->help || !m->series) {
        free(m->name);
        free(m->help);
        free(m->series);
        m = NULL;
        goto out;
    }
    m->nbounds = nbuckets < MAX_BUCKETS ? nbuckets : MAX_BUCKETS;
    for (size_t i = 0; i < m->nbounds; i++) {
        m->bounds[i] = buckets[i];
    }
    nfamilies++;
out:
    pthread_mutex_unlock(&lock);
    return m;
}

struct bch_metric *bch_metric_counter(const char *name, const char *help)
{
    return family(name, help, BCH_METRIC_COUNTER, NULL, 0);
}

struct bch_metric *bch_metric_gauge(const char *name, const char *help)
{
    return family(name, help, BCH_METRIC_GAUGE, NULL, 0);
}

struct bch_metric *bch_metric_histogram(const char *name, const char *help, const double *buckets,
                                        size_t nbuckets)
{
    return family(name, help, BCH_METRIC_HISTOGRAM, buckets, nbuckets);
}

/* Caller holds the lock.  NULL when the family is full. */
static struct series *series_of(struct bch_metric *m, const char *labels)
{
    if (!labels) {
        labels = "";
    }
    for (size_t i = 0; i < m->nseries; i++) {
        if (strcmp(m->series[i].labels, labels) == 0) {
            return &m->series[i];
        }
    }
    if (m->nseries == MAX_SERIES) {
        return NULL;
    }
    m->series[m->nseries].labels = strdup(labels);
    if (!m->series[m->nseries].labels) {
        return NULL;
    }
    return &m->series[m->nseries++];
}

void bch_metric_add(struct bch_metric *m, const char *labels, double v)
{
    struct series *s;

    if (!m) {
        return;
    }
    pthread_mutex_lock(&lock);
    s = series_of(m, labels);
    if (s) {
        s->value += v;
    }
    pthread_mutex_unlock(&lock);
}

void bch_metric_set(struct bch_metric *m, const char *labels, double v)
{
    struct series *s;

    if (!m) {
        return;
    }
    pthread_mutex_lock(&lock);
    s = series_of(m, labels);
    if (s) {
        s->value = v;
    }
    pthread_mutex_unlock(&lock);
}

void bch_metric_observe(struct bch_metric *m, const char *labels, double v)
{
    struct series *s;

    if (!m) {
        return;
    }
    pthread_mutex_lock(&lock);
    s = series_of(m, labels);
    if (s) {
        s->value += v;
        s->count++;
        for (size_t i = 0; i < m->nbounds; i++) {
            if (v <= m->bounds[i]) {
                s->buckets[i]++;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

void bch_metric_clear(struct bch_metric *m)
{
    if (!m) {
        return;
    }
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < m->nseries; i++) {
        free(m->series[i].labels);
    }
    memset(m->series, 0, MAX_SERIES * sizeof(struct series));
    m->nseries = 0;
    pthread_mutex_unlock(&lock);
}

void bch_metrics_label(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n;
    int w = snprintf(buf, cap, "%s=\"", key);

    if (w < 0 || (size_t)w >= cap) {
        buf[0] = '\0';
        return;
    }
    n = (size_t)w;
    for (const char *p = value; *p && n + 3 < cap; p++) {
        if (*p == '\\' || *p == '"') {
            buf[n++] = '\\';
            buf[n++] = *p;
        } else if (*p == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = *p;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static int put_value(struct bch_buf *out, double v)
{
    if (isnan(v)) {
        return bch_buf_adds(out, "NaN");
    }
    if (isinf(v)) {
        return bch_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
    }
    return bch_buf_printf(out, "%.17g", v);
}

/* name{labels[,extra]} */
static int put_name(struct bch_buf *out, const char *name, const char *suffix, const char *labels,
                    const char *extra)
{
    int rc = bch_buf_printf(out, "%s%s", name, suffix);
    bool any = labels[0] || (extra && extra[0]);

    if (rc || !any) {
        return rc;
    }
    rc = bch_buf_addc(out, '{');
    rc = rc || bch_buf_adds(out, labels);
    if (extra && extra[0]) {
        rc = rc || (labels[0] ? bch_buf_addc(out, ',') : 0) || bch_buf_adds(out, extra);
    }
    return rc || bch_buf_addc(out, '}');
}

int bch_metrics_render(struct bch_buf *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int rc = 0;

    pthread_mutex_lock(&lock);
    for (size_t f = 0; f < nfamilies && rc == 0; f++) {
        struct bch_metric *m = &families[f];

        rc = bch_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                            types[m->type]);
        for (size_t i = 0; i < m->nseries && rc == 0; i++) {
            struct series *s = &m->series[i];

            if (m->type != BCH_METRIC_HISTOGRAM) {
                rc = put_name(out, m->name, "", s->labels, NULL) || bch_buf_addc(out, ' ') ||
                     put_value(out, s->value) || bch_buf_addc(out, '\n');
                continue;
            }
            for (size_t b = 0; b <= m->nbounds && rc == 0; b++) {
                char le[48];

                if (b < m->nbounds) {
                    snprintf(le, sizeof(le), "le=\"%.15g\"", m->bounds[b]);
                } else {
                    snprintf(le, sizeof(le), "le=\"+Inf\"");
                }
                rc =
                    put_name(out, m->name, "_bucket", s->labels, le) ||
                    bch_buf_printf(out, " %llu\n",
                                   (unsigned long long)(b < m->nbounds ? s->buckets[b] : s->count));
            }
            rc = rc || put_name(out, m->name, "_sum", s->labels, NULL) || bch_buf_addc(out, ' ') ||
                 put_value(out, s->value) || bch_buf_addc(out, '\n');
            rc = rc || put_name(out, m->name, "_count", s->labels, NULL) ||
                 bch_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&lock);
    return rc ? -1 : 0;
}

void bch_metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t f = 0; f < nfamilies; f++) {
        for (size_t i = 0; i < families[f].nseries; i++) {
            free(families[f].series[i].labels);
        }
        free(families[f].series);
        free(families[f].name);
        free(families[f].help);
    }
    nfamilies = 0;
    pthread_mutex_unlock(&lock);
}
