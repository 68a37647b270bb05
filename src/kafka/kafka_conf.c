#include "core/compat.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/grow.h"
#include "kafka/kafka_conf.h"

void bch_kafka_props_init(struct bch_kafka_props *p)
{
    memset(p, 0, sizeof(*p));
}

void bch_kafka_props_release(struct bch_kafka_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
        free(p->v[i].origin);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

static struct bch_kafka_prop *find(const struct bch_kafka_props *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            return &p->v[i];
        }
    }
    return NULL;
}

int bch_kafka_props_set(struct bch_kafka_props *p, const char *name, const char *value,
                        const char *origin)
{
    struct bch_kafka_prop *e = find(p, name);
    char *v = strdup(value), *o = strdup(origin ? origin : "");

    if (!v || !o) {
        free(v);
        free(o);
        return BCH_ERR_NOMEM;
    }
    if (!e) {
        struct bch_kafka_prop *nv = bch_reserve(p->v, &p->cap, p->n + 1, sizeof(*nv), 16);

        if (!nv) {
            free(v);
            free(o);
            return BCH_ERR_NOMEM;
        }
        p->v = nv;
        e = &p->v[p->n];
        e->name = strdup(name);
        if (!e->name) {
            free(v);
            free(o);
            return BCH_ERR_NOMEM;
        }
        e->value = NULL;
        e->origin = NULL;
        p->n++;
    }
    free(e->value);
    free(e->origin);
    e->value = v;
    e->origin = o;
    return 0;
}

int bch_kafka_props_default(struct bch_kafka_props *p, const char *name, const char *value)
{
    if (find(p, name)) {
        return 0;
    }
    return bch_kafka_props_set(p, name, value, "default");
}

int bch_kafka_props_defaults(struct bch_kafka_props *p, const char *const table[][2], size_t n,
                             bool stats)
{
    for (size_t i = 0; i < n; i++) {
        if (bch_kafka_props_default(p, table[i][0], table[i][1])) {
            return -1;
        }
    }
    return stats ? bch_kafka_props_default(p, "statistics.interval.ms", "5000") : 0;
}

const char *bch_kafka_props_get(const struct bch_kafka_props *p, const char *name)
{
    const struct bch_kafka_prop *e = find(p, name);

    return e ? e->value : NULL;
}

/* Splits "name = value" (already one line, no newline) into trimmed parts;
 * -1 when there is no '=' or the name is empty. */
static int split(const char *s, size_t len, char *name, size_t ncap, char *value, size_t vcap)
{
    const char *eq = memchr(s, '=', len);
    size_t a = 0, b, c, d = len;

    if (!eq) {
        return -1;
    }
    b = (size_t)(eq - s);
    c = b + 1;
    while (a < b && (s[a] == ' ' || s[a] == '\t')) {
        a++;
    }
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) {
        b--;
    }
    while (c < d && (s[c] == ' ' || s[c] == '\t')) {
        c++;
    }
    while (d > c && (s[d - 1] == ' ' || s[d - 1] == '\t' || s[d - 1] == '\r')) {
        d--;
    }
    if (b == a || b - a >= ncap || d - c >= vcap) {
        return -1;
    }
    memcpy(name, s + a, b - a);
    name[b - a] = '\0';
    memcpy(value, s + c, d - c);
    value[d - c] = '\0';
    return 0;
}

#define NAME_MAX_LEN  256
#define VALUE_MAX_LEN 8192

int bch_kafka_props_add_arg(struct bch_kafka_props *p, const char *arg, char *err, size_t errlen)
{
    char name[NAME_MAX_LEN], value[VALUE_MAX_LEN];

    if (split(arg, strlen(arg), name, sizeof(name), value, sizeof(value))) {
        snprintf(err, errlen, "-X '%s': expected prop=value", arg);
        return BCH_ERR_USAGE;
    }
    if (bch_kafka_props_set(p, name, value, "-X")) {
        snprintf(err, errlen, "out of memory");
        return BCH_ERR_NOMEM;
    }
    return 0;
}

int bch_kafka_props_parse(struct bch_kafka_props *p, const char *text, size_t len, const char *path,
                          char *err, size_t errlen)
{
    size_t pos = 0;
    long line = 0;

    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        size_t i = 0;
        char name[NAME_MAX_LEN], value[VALUE_MAX_LEN], origin[512];

        line++;
        pos += n + (nl ? 1 : 0);
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
            i++;
        }
        if (i == n || s[i] == '#') {
            continue;
        }
        if (memchr(s, '\0', n)) {
            snprintf(err, errlen, "%s:%ld: NUL byte in line", path, line);
            return BCH_ERR_INPUT;
        }
        if (split(s, n, name, sizeof(name), value, sizeof(value))) {
            snprintf(err, errlen, "%s:%ld: expected prop=value", path, line);
            return BCH_ERR_INPUT;
        }
        snprintf(origin, sizeof(origin), "%s:%ld", path, line);
        if (bch_kafka_props_set(p, name, value, origin)) {
            snprintf(err, errlen, "out of memory");
            return BCH_ERR_NOMEM;
        }
    }
    return 0;
}

int bch_kafka_props_read_file(struct bch_kafka_props *p, const char *path, char *err, size_t errlen)
{
    struct bch_buf b;
    int rc;

    bch_buf_init(&b, 1u << 20);
    if (bch_buf_read_file(&b, path)) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot read");
        bch_buf_release(&b);
        return BCH_ERR_INPUT;
    }
    rc = bch_kafka_props_parse(p, b.data ? b.data : "", b.len, path, err, errlen);
    bch_buf_release(&b);
    return rc;
}

rd_kafka_conf_t *bch_kafka_conf_new(const struct bch_kafka_props *p, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rerr[512];

    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct bch_kafka_prop *e = &p->v[i];

        if (rd_kafka_conf_set(conf, e->name, e->value, rerr, sizeof(rerr)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "%s: %s", e->origin[0] ? e->origin : e->name, rerr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

void bch_kafka_cli_init(struct bch_kafka_cli *c)
{
    memset(c, 0, sizeof(*c));
}

void bch_kafka_cli_release(struct bch_kafka_cli *c)
{
    free(c->xargs);
    memset(c, 0, sizeof(*c));
}

int bch_kafka_cli_add_x(struct bch_kafka_cli *c, const char *arg)
{
    const char **nv = bch_reserve(c->xargs, &c->capx, c->nx + 1, sizeof(*nv), 8);

    if (!nv) {
        return BCH_ERR_NOMEM;
    }
    c->xargs = nv;
    c->xargs[c->nx++] = arg;
    return 0;
}

int bch_kafka_cli_finish(const struct bch_kafka_cli *c, struct bch_kafka_props *p, char *err,
                         size_t errlen)
{
    int rc;

    if (c->config_file) {
        rc = bch_kafka_props_read_file(p, c->config_file, err, errlen);
        if (rc) {
            return rc;
        }
    }
    if (c->brokers && bch_kafka_props_set(p, "bootstrap.servers", c->brokers, "--brokers")) {
        snprintf(err, errlen, "out of memory");
        return BCH_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->nx; i++) {
        rc = bch_kafka_props_add_arg(p, c->xargs[i], err, errlen);
        if (rc) {
            return rc;
        }
    }
    if (!bch_kafka_props_get(p, "bootstrap.servers") &&
        !bch_kafka_props_get(p, "metadata.broker.list") &&
        !bch_kafka_props_get(p, "test.mock.num.brokers")) {
        snprintf(err, errlen, "no brokers: give --brokers LIST (or bootstrap.servers)");
        return BCH_ERR_USAGE;
    }
    return 0;
}
