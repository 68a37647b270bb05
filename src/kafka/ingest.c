#include "core/compat.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kafka/ingest.h"
#include "kafka/message.h"
#include "kafka/producer.h"
#include "sources/trafi_reader.h"

#define MAX_PROBLEMS 8

/* One payload in flight: the opaque of its producer batch. */
struct payload {
    char hash[BCH_HASH_HEX];
    char *name;
    long records;
    bool incomplete;  /* cut short: never checkpointed */
    char *spool_base; /* <spool>/<hash>, removed once delivered */
};

struct bch_ingest {
    struct bch_ingest_options o;
    struct bch_producer *p;
    struct bch_reader *reader;
    int partitions;
    struct bch_buf msg, dlqbuf, arena;
    /* checkpoint: set of hashes, open addressing */
    char (*seen)[BCH_HASH_HEX];
    size_t nseen, capseen;
    FILE *ckpt;
    int64_t synced_ms; /* last fsync of the checkpoint */
    char *spool_dir;
    long pending;
    struct bch_ingest_stats st;
    struct bch_metric *m_msgs, *m_payloads;
};

void bch_ingest_options_default(struct bch_ingest_options *o)
{
    memset(o, 0, sizeof(*o));
    o->topic = "bouchon.raw.ci_trafi_l";
    o->dlq_topic = "bouchon.dlq";
    o->max_message_bytes = 1000000;
    o->dlq_raw_max = 65536;
}

int64_t bch_ingest_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ checkpoint */

static size_t seen_slot(const struct bch_ingest *g, const char *hash)
{
    return (size_t)bch_hash64(hash, BCH_HASH_HEX - 1) & (g->capseen - 1);
}

static int seen_add(struct bch_ingest *g, const char *hash)
{
    size_t s;

    if ((g->nseen + 1) * 2 > g->capseen) {
        size_t ncap = g->capseen ? g->capseen * 2 : 1024;
        char(*n)[BCH_HASH_HEX] = calloc(ncap, BCH_HASH_HEX);
        char(*old)[BCH_HASH_HEX] = g->seen;
        size_t oldcap = g->capseen;

        if (!n) {
            return BCH_ERR_NOMEM;
        }
        g->seen = n;
        g->capseen = ncap;
        g->nseen = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i][0]) {
                seen_add(g, old[i]);
            }
        }
        free(old);
    }
    s = seen_slot(g, hash);
    while (g->seen[s][0]) {
        if (memcmp(g->seen[s], hash, BCH_HASH_HEX - 1) == 0) {
            return 0;
        }
        s = (s + 1) & (g->capseen - 1);
    }
    memcpy(g->seen[s], hash, BCH_HASH_HEX - 1);
    g->seen[s][BCH_HASH_HEX - 1] = '\0';
    g->nseen++;
    return 0;
}

bool bch_ingest_checkpointed(const struct bch_ingest *g, const char *hash)
{
    size_t s;

    if (!g->capseen) {
        return false;
    }
    s = seen_slot(g, hash);
    while (g->seen[s][0]) {
        if (memcmp(g->seen[s], hash, BCH_HASH_HEX - 1) == 0) {
            return true;
        }
        s = (s + 1) & (g->capseen - 1);
    }
    return false;
}

static bool is_hex32(const char *s)
{
    for (int i = 0; i < BCH_HASH_HEX - 1; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* Reads "<hash> <records> <time> <name>" lines; a torn last line (crash
 * while appending) is ignored. */
static int checkpoint_open(struct bch_ingest *g, char *err, size_t errlen)
{
    FILE *f = fopen(g->o.checkpoint, "r");
    char line[8192];

    if (f) {
        while (fgets(line, sizeof(line), f)) {
            size_t n = strlen(line);

            if (n > BCH_HASH_HEX && line[n - 1] == '\n' && line[BCH_HASH_HEX - 1] == ' ' &&
                is_hex32(line) && seen_add(g, line)) {
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return BCH_ERR_NOMEM;
            }
        }
        fclose(f);
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "cannot read checkpoint '%s': %s", g->o.checkpoint, strerror(errno));
        return BCH_ERR_INPUT;
    }
    g->ckpt = fopen(g->o.checkpoint, "a");
    if (!g->ckpt) {
        snprintf(err, errlen, "cannot write checkpoint '%s': %s", g->o.checkpoint, strerror(errno));
        return BCH_ERR_INPUT;
    }
    return 0;
}

static void checkpoint_sync(struct bch_ingest *g, bool now)
{
    int64_t t = bch_ingest_now_ms();

    if (!g->ckpt || (!now && t - g->synced_ms < 1000)) {
        return;
    }
    if (fsync(fileno(g->ckpt)) != 0) {
        bch_error("ingest", "cannot sync checkpoint '%s': %s", g->o.checkpoint, strerror(errno));
    }
    g->synced_ms = t;
}

static void checkpoint_add(struct bch_ingest *g, const struct payload *pl)
{
    char at[32];

    if (seen_add(g, pl->hash)) {
        bch_error("ingest", "out of memory in the checkpoint");
    }
    if (!g->ckpt) {
        return;
    }
    bch_time_format_utc(bch_now(), at, sizeof(at));
    fprintf(g->ckpt, "%s %ld %s %s\n", pl->hash, pl->records, at, pl->name);
    /* fflush at once: a killed process loses nothing (the page cache has it).
     * fsync at most once a second: a machine crash may lose the last second
     * of lines, which only makes the next run ingest those payloads again. */
    if (fflush(g->ckpt) != 0) {
        bch_error("ingest", "cannot write checkpoint '%s': %s", g->o.checkpoint, strerror(errno));
    }
    checkpoint_sync(g, false);
}

/* ----------------------------------------------------------- delivery */

static void payload_free(struct payload *pl)
{
    if (pl) {
        free(pl->name);
        free(pl->spool_base);
        free(pl);
    }
}

static void spool_remove(const char *base)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s.meta", base);
    unlink(path);
    snprintf(path, sizeof(path), "%s.payload", base);
    unlink(path);
}

static void on_batch_done(void *ctx, const struct bch_pbatch_result *r)
{
    struct bch_ingest *g = ctx;
    struct payload *pl = r->opaque;
    char l[64];

    g->pending--;
    g->st.undelivered += r->failed;
    if (r->failed == 0 && !pl->incomplete) {
        checkpoint_add(g, pl);
        if (pl->spool_base) {
            spool_remove(pl->spool_base);
        }
        g->st.done++;
        bch_metrics_label(l, sizeof(l), "outcome", "delivered");
        bch_debug("ingest", "%s: %ld message(s) delivered, checkpointed", pl->name, r->sent);
    } else {
        g->st.failed++;
        bch_metrics_label(l, sizeof(l), "outcome", "failed");
        if (r->failed) {
            bch_error("ingest", "%s: %ld of %ld message(s) not delivered (%s); not checkpointed",
                      pl->name, r->failed, r->sent, r->first_error);
        } else {
            bch_warn("ingest", "%s: cut short after %ld message(s); not checkpointed", pl->name,
                     r->sent);
        }
    }
    bch_metric_add(g->m_payloads, l, 1);
    payload_free(pl);
}

/* Headers of every message: type, dataset, source, fetch time (+ extra). */
static size_t base_headers(struct bch_kheader *h, const char *type, const struct bch_kmsg_source *s,
                           char *fetched, size_t flen)
{
    bch_kmsg_format_ms(s->fetched_ms, fetched, flen);
    h[0] = (struct bch_kheader){BCH_KHDR_TYPE, type};
    h[1] = (struct bch_kheader){BCH_KHDR_DATASET, s->dataset ? s->dataset : "ci_trafi_l"};
    h[2] = (struct bch_kheader){BCH_KHDR_SOURCE, s->name};
    h[3] = (struct bch_kheader){BCH_KHDR_FETCHED, fetched};
    return 4;
}

/* The cluster refused a record as too large: replace it by a DLQ message.
 * Runs inside a delivery report. */
static int reroute(void *ctx, struct bch_producer *p, struct bch_pbatch *b,
                   const rd_kafka_message_t *m)
{
    struct bch_ingest *g = ctx;
    struct bch_kmsg d;
    struct bch_kmsg_source s = {"unknown", "unknown", "ci_trafi_l", NULL, "unknown", 0};
    struct bch_kheader h[8];
    char fetched[40], reason[256], pos[32], err[256], zero[BCH_HASH_HEX];
    bool ok;
    size_t nh;
    int rc;

    memset(zero, '0', BCH_HASH_HEX - 1);
    zero[BCH_HASH_HEX - 1] = '\0';
    s.hash = zero;
    ok =
        bch_kmsg_decode(m->payload, m->len, &d, err, sizeof(err)) == 0 && d.type == BCH_KMSG_RECORD;
    if (ok) {
        s.kind = d.source.kind;
        s.name = d.source.name;
        s.hash = d.source.hash;
        s.format = d.source.format;
        s.fetched_ms = d.source.fetched_ms;
    }
    snprintf(reason, sizeof(reason),
             "oversized: record message of %zu bytes refused by the cluster (%s)", m->len,
             rd_kafka_err2str(m->err));
    snprintf(pos, sizeof(pos), "%ld", ok ? d.rec.position : 0L);
    bch_buf_reset(&g->dlqbuf);
    rc = bch_kmsg_encode_rejected(&g->dlqbuf, &s, ok ? d.rec.position : 0, "", reason, NULL, 0,
                                  ok ? d.rec.raw_body : NULL, ok ? d.rec.raw_len : 0,
                                  g->o.dlq_raw_max, m->len);
    nh = base_headers(h, "rejected", &s, fetched, sizeof(fetched));
    h[nh++] = (struct bch_kheader){BCH_KHDR_REASON, reason};
    h[nh++] = (struct bch_kheader){BCH_KHDR_FIELD, ""};
    h[nh++] = (struct bch_kheader){BCH_KHDR_POSITION, pos};
    if (rc == 0) {
        rc = bch_producer_send(p, b, g->o.dlq_topic, RD_KAFKA_PARTITION_UA, m->key, m->key_len,
                               g->dlqbuf.data, g->dlqbuf.len, h, nh, err, sizeof(err));
    }
    bch_kmsg_release(&d);
    if (rc == 0) {
        g->st.rejected++;
        g->st.oversized++;
        g->st.messages++;
        bch_warn("ingest", "%s", reason);
    }
    return rc;
}

/* ------------------------------------------------------------ payloads */

/* A record message waiting in the arena. */
struct pending {
    size_t key_off, key_len, val_off, val_len;
};

/* Produce the queued records when this many bytes are waiting. */
#define ARENA_FLUSH (16u << 20)

struct sink_ctx {
    struct bch_ingest *g;
    struct pending *pend;
    size_t npend, cappend;
    struct payload *pl;
    struct bch_pbatch *b;
    struct bch_kmsg_source src;
    const struct bch_parse_result *pr;
    const char *buf;
    size_t len;
    long line_no; /* CSV line lookup: line of line_off */
    size_t line_off;
    struct bch_kmsg_problem pb[MAX_PROBLEMS];
    size_t npb;
    long records, rejected;
    int rc;
    char err[512];
};

/* Line n (1-based) of a CSV payload, without its line end. */
static const char *csv_line(struct sink_ctx *x, long n, size_t *len)
{
    const char *end = x->buf + x->len, *s, *nl;

    if (n < x->line_no) {
        x->line_no = 1;
        x->line_off = 0;
    }
    while (x->line_no < n) {
        nl = memchr(x->buf + x->line_off, '\n', x->len - x->line_off);
        if (!nl) {
            return NULL;
        }
        x->line_off = (size_t)(nl - x->buf) + 1;
        x->line_no++;
    }
    s = x->buf + x->line_off;
    nl = memchr(s, '\n', (size_t)(end - s));
    *len = nl ? (size_t)(nl - s) : (size_t)(end - s);
    if (*len && s[*len - 1] == '\r') {
        (*len)--;
    }
    return s;
}

static void count_msg(struct bch_ingest *g, const char *type)
{
    (void)type; /* published per payload by publish_counts() */
    g->st.messages++;
}

/* Counters as absolute values, once per payload (labels cost a snprintf). */
static void publish_counts(struct bch_ingest *g)
{
    bch_metric_set(g->m_msgs, "type=\"record\"", (double)g->st.records);
    bch_metric_set(g->m_msgs, "type=\"rejected\"", (double)g->st.rejected);
    bch_metric_set(g->m_msgs, "type=\"end\"",
                   (double)(g->st.messages - g->st.records - g->st.rejected));
}

static int send_dlq(struct sink_ctx *x, const char *key, size_t klen, long position,
                    const char *field, const char *reason, const char *value, size_t vlen,
                    const char *raw, size_t rawlen, size_t size)
{
    struct bch_ingest *g = x->g;
    struct bch_kheader h[8];
    char fetched[40], pos[32];
    size_t nh;
    int rc;

    bch_buf_reset(&g->dlqbuf);
    if (bch_kmsg_encode_rejected(&g->dlqbuf, &x->src, position, field, reason, value, vlen, raw,
                                 rawlen, g->o.dlq_raw_max, size)) {
        snprintf(x->err, sizeof(x->err), "dead-letter message too large");
        x->rc = BCH_ERR;
        return -1;
    }
    snprintf(pos, sizeof(pos), "%ld", position);
    nh = base_headers(h, "rejected", &x->src, fetched, sizeof(fetched));
    h[nh++] = (struct bch_kheader){BCH_KHDR_REASON, reason};
    h[nh++] = (struct bch_kheader){BCH_KHDR_FIELD, field ? field : ""};
    h[nh++] = (struct bch_kheader){BCH_KHDR_POSITION, pos};
    rc = bch_producer_send(g->p, x->b, g->o.dlq_topic, RD_KAFKA_PARTITION_UA, key, klen,
                           g->dlqbuf.data, g->dlqbuf.len, h, nh, x->err, sizeof(x->err));
    if (rc) {
        x->rc = rc == BCH_ERR_INPUT ? BCH_ERR : rc;
        return -1;
    }
    x->rejected++;
    g->st.rejected++;
    count_msg(g, "rejected");
    return 0;
}

static int on_problem(void *ctx, const struct bch_problem *pb)
{
    struct sink_ctx *x = ctx;
    const char *raw = NULL;
    size_t rawlen = 0;

    if (pb->coerced) {
        if (x->npb < MAX_PROBLEMS) {
            struct bch_kmsg_problem *q = &x->pb[x->npb++];
            size_t n = pb->value ? pb->value_len : 0;

            snprintf(q->field, sizeof(q->field), "%s", pb->field);
            snprintf(q->reason, sizeof(q->reason), "%s", pb->reason);
            if (n >= sizeof(q->value)) {
                n = sizeof(q->value) - 1;
            }
            if (n) {
                memcpy(q->value, pb->value, n);
            }
            q->value[n] = '\0';
        }
        return 0;
    }
    x->npb = 0; /* coerced fields of a record that is rejected anyway */
    if (x->pr->format == BCH_FMT_CSV && pb->position > 0) {
        raw = csv_line(x, pb->position, &rawlen);
    }
    bch_debug("ingest", "%s: record %ld rejected: field '%s': %s", x->src.name, pb->position,
              pb->field, pb->reason);
    return send_dlq(x, NULL, 0, pb->position, pb->field, pb->reason, pb->value, pb->value_len, raw,
                    rawlen, 0);
}

/* Produces the queued record messages.  0, or -1 with x->rc set. */
static int flush_pending(struct sink_ctx *x)
{
    struct bch_ingest *g = x->g;
    struct bch_kheader h[4];
    char fetched[40];
    size_t nh = base_headers(h, "record", &x->src, fetched, sizeof(fetched));
    int rc = 0;

    for (size_t i = 0; i < x->npend && rc == 0; i++) {
        const struct pending *pd = &x->pend[i];
        const char *key = g->arena.data + pd->key_off, *val = g->arena.data + pd->val_off;

        rc = bch_producer_send(g->p, x->b, g->o.topic, RD_KAFKA_PARTITION_UA, key, pd->key_len, val,
                               pd->val_len, h, nh, x->err, sizeof(x->err));
        if (rc == 0) {
            x->records++;
            g->st.records++;
            count_msg(g, "record");
        } else if (rc == BCH_ERR_INPUT) {
            /* librdkafka's own limit (message.max.bytes) is below ours. */
            char reason[600];

            snprintf(reason, sizeof(reason), "oversized: record message of %zu bytes refused: %s",
                     pd->val_len, x->err);
            g->st.oversized++;
            rc = send_dlq(x, key, pd->key_len, 0, "", reason, NULL, 0, val, pd->val_len,
                          pd->val_len);
        } else {
            x->rc = rc;
        }
    }
    x->npend = 0;
    bch_buf_reset(&g->arena);
    return x->rc ? -1 : 0;
}

static int on_record(void *ctx, const struct bch_trafi_record *r)
{
    struct sink_ctx *x = ctx;
    struct bch_ingest *g = x->g;
    char reason[256];
    const char *raw;
    size_t rawlen;
    int rc;

    x->src.format = bch_format_name(x->pr->format);
    if (!bch_kmsg_utf8_ok(r->raw_body, r->raw_len) ||
        (r->geom_text && !bch_kmsg_utf8_ok(r->geom_text, r->geom_len))) {
        x->npb = 0;
        return send_dlq(x, r->ident, strlen(r->ident), r->position, "", "record is not valid UTF-8",
                        NULL, 0, r->raw_body, r->raw_len, 0);
    }
    bch_buf_reset(&g->msg);
    rc = bch_kmsg_encode_record(&g->msg, &x->src, r, x->pb, x->npb);
    x->npb = 0;
    if (rc == 0 && g->msg.len <= g->o.max_message_bytes) {
        /* Queued in memory and produced in one burst after the parse: a
         * steady trickle of single messages makes librdkafka wake its broker
         * threads once per message (measured: 3x the poll calls). */
        size_t klen = strlen(r->ident);
        struct pending *pd;

        struct pending *n = bch_reserve(x->pend, &x->cappend, x->npend + 1, sizeof(*n), 1024);

        if (!n) {
            snprintf(x->err, sizeof(x->err), "out of memory");
            x->rc = BCH_ERR_NOMEM;
            return -1;
        }
        x->pend = n;
        pd = &x->pend[x->npend];
        pd->key_off = g->arena.len;
        pd->key_len = klen;
        pd->val_off = g->arena.len + klen;
        pd->val_len = g->msg.len;
        if (bch_buf_add(&g->arena, r->ident, klen) ||
            bch_buf_add(&g->arena, g->msg.data, g->msg.len)) {
            snprintf(x->err, sizeof(x->err), "out of memory");
            x->rc = BCH_ERR_NOMEM;
            return -1;
        }
        x->npend++;
        return g->arena.len > ARENA_FLUSH ? flush_pending(x) : 0;
    }
    /* Oversized: over our limit, over librdkafka's, or over the buffer's. */
    snprintf(reason, sizeof(reason),
             "oversized: record message of %zu%s bytes exceeds the limit of %zu bytes", g->msg.len,
             rc == -1 ? "+" : "", g->o.max_message_bytes);
    g->st.oversized++;
    bch_warn("ingest", "%s: record %ld (%s): %s", x->src.name, r->position, r->ident, reason);
    raw = r->raw_body;
    rawlen = r->raw_len;
    if (x->pr->format == BCH_FMT_CSV) {
        /* The line as received, geometry included (cut to dlq_raw_max). */
        size_t n;
        const char *line = csv_line(x, r->position, &n);

        if (line) {
            raw = line;
            rawlen = n;
        }
    }
    return send_dlq(x, r->ident, strlen(r->ident), r->position, "", reason, NULL, 0, raw, rawlen,
                    g->msg.len);
}

static int send_markers(struct sink_ctx *x, bch_time at, long records)
{
    struct bch_ingest *g = x->g;
    struct bch_kheader h[4];
    char fetched[40];
    size_t nh = base_headers(h, "end", &x->src, fetched, sizeof(fetched));

    for (int p = 0; p < g->partitions; p++) {
        int rc;

        bch_buf_reset(&g->msg);
        if (bch_kmsg_encode_end(&g->msg, &x->src, at, records, x->rejected, p, g->partitions)) {
            x->rc = BCH_ERR_NOMEM;
            return -1;
        }
        rc = bch_producer_send(g->p, x->b, g->o.topic, p, NULL, 0, g->msg.data, g->msg.len, h, nh,
                               x->err, sizeof(x->err));
        if (rc) {
            x->rc = rc == BCH_ERR_INPUT ? BCH_ERR : rc;
            return -1;
        }
        count_msg(g, "end");
    }
    return 0;
}

/* Writes the payload to the spool (tmp + rename, meta last). */
static char *spool_put(struct bch_ingest *g, const char *hash, const char *buf, size_t len,
                       const struct bch_payload_meta *meta, int64_t fetched_ms)
{
    char base[4096], path[4200], tmp[4300];
    FILE *f;
    bool ok;

    snprintf(base, sizeof(base), "%s/%s", g->spool_dir, hash);
    snprintf(path, sizeof(path), "%s.payload", base);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    ok = f && fwrite(buf, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f) {
        ok = fclose(f) == 0 && ok;
    }
    ok = ok && rename(tmp, path) == 0;
    snprintf(path, sizeof(path), "%s.meta", base);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = ok ? fopen(tmp, "w") : NULL;
    ok = f &&
         fprintf(f, "%lld\n%s\n%s\n%s\n", (long long)fetched_ms, meta->kind,
                 meta->dataset ? meta->dataset : "ci_trafi_l", meta->name) > 0 &&
         fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f) {
        ok = fclose(f) == 0 && ok;
    }
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        bch_error("ingest", "cannot spool payload to %s: %s", base, strerror(errno));
        return NULL;
    }
    return strdup(base);
}

static int ingest_payload(struct bch_ingest *g, const char *buf, size_t len,
                          const struct bch_payload_meta *meta, int64_t fetched_ms,
                          const char *spooled, char *err, size_t errlen)
{
    struct sink_ctx x;
    struct bch_reader_sink sink;
    struct bch_parse_result pr;
    struct payload *pl;
    char perr[512];
    int prc;

    memset(&x, 0, sizeof(x));
    memset(&pr, 0, sizeof(pr));
    pl = calloc(1, sizeof(*pl));
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        return BCH_ERR_NOMEM;
    }
    bch_hash_hex(buf, len, pl->hash);
    if (bch_ingest_checkpointed(g, pl->hash)) {
        if (spooled) {
            spool_remove(spooled);
        }
        free(pl);
        g->st.skipped++;
        return 1;
    }
    pl->name = strdup(meta->name);
    if (spooled) {
        pl->spool_base = strdup(spooled);
    } else if (g->spool_dir && strcmp(meta->kind, "api") == 0) {
        pl->spool_base = spool_put(g, pl->hash, buf, len, meta, fetched_ms);
    }
    x.b = pl->name ? bch_pbatch_new(g->p, pl->name, pl) : NULL;
    if (!x.b) {
        payload_free(pl);
        snprintf(err, errlen, "out of memory");
        return BCH_ERR_NOMEM;
    }
    g->pending++;
    g->st.payloads++;
    x.g = g;
    x.pl = pl;
    x.src.kind = meta->kind;
    x.src.name = meta->name;
    x.src.dataset = meta->dataset ? meta->dataset : "ci_trafi_l";
    x.src.hash = pl->hash;
    x.src.format = "unknown";
    x.src.fetched_ms = fetched_ms;
    x.pr = &pr;
    x.buf = buf;
    x.len = len;
    x.line_no = 1;
    sink.ctx = &x;
    sink.record = on_record;
    sink.problem = on_problem;
    prc = bch_reader_parse(g->reader, buf, len, &sink, &pr, perr, sizeof(perr));
    if (x.rc == 0 && prc == BCH_ERR_INPUT) {
        /* The payload cannot be read at all: one dead letter for it. */
        x.src.format = "unknown";
        bch_warn("ingest", "%s: %s", meta->name, perr);
        send_dlq(&x, NULL, 0, 0, "", perr, NULL, 0, buf, len, 0);
    } else if (x.rc == 0 && prc == 0) {
        bch_time at = BCH_TIME_NONE;

        if (strcmp(meta->kind, "api") == 0) {
            at = meta->fetched_at != BCH_TIME_NONE ? meta->fetched_at : fetched_ms / 1000;
        } else if (pr.records > 0) {
            at = pr.newest_mdate;
        }
        x.src.format = bch_format_name(pr.format);
        if (flush_pending(&x) == 0) {
            send_markers(&x, at, pr.records);
        }
    } else if (x.rc == 0) {
        x.rc = prc == BCH_ERR_NOMEM ? BCH_ERR_NOMEM : BCH_ERR;
        snprintf(x.err, sizeof(x.err), "cannot read the payload: %.400s", perr);
    }
    free(x.pend);
    bch_buf_reset(&g->arena);
    pl->records = pr.records;
    if (x.rc) {
        pl->incomplete = true;
        snprintf(err, errlen, "%.200s: %.300s", meta->name, x.err);
    } else {
        bch_info("ingest", "%s: %ld records queued, %ld to the dead-letter topic", meta->name,
                 x.records, x.rejected);
    }
    bch_pbatch_seal(g->p, x.b); /* may free pl */
    publish_counts(g);
    return x.rc;
}

int bch_ingest_payload(struct bch_ingest *g, const char *buf, size_t len,
                       const struct bch_payload_meta *meta, int64_t fetched_ms, char *err,
                       size_t errlen)
{
    return ingest_payload(g, buf, len, meta, fetched_ms, NULL, err, errlen);
}

/* ----------------------------------------------------------------- spool */

struct spooled {
    char *base;
    int64_t fetched_ms;
};

static int cmp_spooled(const void *a, const void *b)
{
    const struct spooled *x = a, *y = b;

    return (x->fetched_ms > y->fetched_ms) - (x->fetched_ms < y->fetched_ms);
}

static int play_spooled(struct bch_ingest *g, const char *base, char *err, size_t errlen)
{
    char path[4200], kind[16] = "", dataset[64] = "", name[4096] = "", num[32] = "";
    struct bch_buf b;
    FILE *f;
    int rc;
    struct bch_payload_meta meta;
    int64_t ms;
    char *end = NULL;

    snprintf(path, sizeof(path), "%s.meta", base);
    f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    if (!fgets(num, sizeof(num), f) || !fgets(kind, sizeof(kind), f) ||
        !fgets(dataset, sizeof(dataset), f) || !fgets(name, sizeof(name), f)) {
        fclose(f);
        bch_warn("ingest", "%s: unreadable spool entry, ignored", path);
        return 0;
    }
    fclose(f);
    kind[strcspn(kind, "\n")] = '\0';
    dataset[strcspn(dataset, "\n")] = '\0';
    name[strcspn(name, "\n")] = '\0';
    ms = strtoll(num, &end, 10);
    snprintf(path, sizeof(path), "%s.payload", base);
    bch_buf_init(&b, 1u << 30);
    if (bch_buf_read_file(&b, path)) {
        bch_buf_release(&b);
        bch_warn("ingest", "%s: unreadable spool entry, ignored", path);
        return 0;
    }
    meta.kind = kind;
    meta.name = name;
    meta.dataset = dataset;
    meta.fetched_at = ms / 1000;
    bch_info("ingest", "playing spooled payload %s", base);
    rc = ingest_payload(g, b.data ? b.data : "", b.len, &meta, ms, base, err, errlen);
    bch_buf_release(&b);
    return rc < 0 || rc == BCH_RETRY ? rc : 0;
}

int bch_ingest_spooled(struct bch_ingest *g, char *err, size_t errlen)
{
    DIR *d;
    struct dirent *de;
    struct spooled *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!g->spool_dir || !(d = opendir(g->spool_dir))) {
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        char path[4200];
        FILE *f;

        if (l != BCH_HASH_HEX - 1 + 5 || strcmp(de->d_name + BCH_HASH_HEX - 1, ".meta") != 0) {
            continue;
        }
        struct spooled *nv = bch_reserve(v, &cap, n + 1, sizeof(*nv), 16);

        if (!nv) {
            break;
        }
        v = nv;
        snprintf(path, sizeof(path), "%s/%.*s", g->spool_dir, BCH_HASH_HEX - 1, de->d_name);
        v[n].base = strdup(path);
        v[n].fetched_ms = 0;
        snprintf(path, sizeof(path), "%s/%s", g->spool_dir, de->d_name);
        f = fopen(path, "r");
        if (f) {
            char num[32];

            if (fgets(num, sizeof(num), f)) {
                v[n].fetched_ms = strtoll(num, NULL, 10);
            }
            fclose(f);
        }
        if (v[n].base) {
            n++;
        }
    }
    closedir(d);
    qsort(v, n, sizeof(*v), cmp_spooled);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            rc = play_spooled(g, v[i].base, err, errlen);
        }
        free(v[i].base);
    }
    free(v);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

struct bch_ingest *bch_ingest_new(rd_kafka_conf_t *conf, const struct bch_ingest_options *o,
                                  char *err, size_t errlen)
{
    struct bch_ingest *g = calloc(1, sizeof(*g));
    struct bch_producer_options po;
    int n;

    if (!g) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->o = *o;
    bch_buf_init(&g->msg, 64u << 20);
    bch_buf_init(&g->arena, 1u << 30);
    bch_buf_init(&g->dlqbuf, 4u << 20);
    g->m_msgs = bch_metric_counter("bouchon_ingest_messages_total",
                                   "Messages queued by type (record, end, rejected).");
    g->m_payloads = bch_metric_counter("bouchon_ingest_payloads_total",
                                       "Payloads whose delivery finished, by outcome.");
    memset(&po, 0, sizeof(po));
    po.done = on_batch_done;
    po.reroute = reroute;
    po.ctx = g;
    po.stop = o->stop;
    g->p = bch_producer_new(conf, &po, err, errlen);
    conf = NULL; /* taken by bch_producer_new */
    g->reader = bch_reader_new();
    if (!g->p || !g->reader) {
        if (g->p) {
            snprintf(err, errlen, "out of memory");
        }
        bch_ingest_free(g);
        return NULL;
    }
    n = bch_kafka_partition_count(bch_producer_rk(g->p), o->topic, 15000, err, errlen);
    if (n == 0) {
        snprintf(err, errlen, "topic '%s' does not exist (create it: bouchon topics create)",
                 o->topic);
    }
    if (n > 0 &&
        bch_kafka_partition_count(bch_producer_rk(g->p), o->dlq_topic, 15000, err, errlen) == 0) {
        snprintf(err, errlen,
                 "dead-letter topic '%s' does not exist (create it: bouchon topics create)",
                 o->dlq_topic);
        n = 0;
    }
    if (n <= 0) {
        bch_ingest_free(g);
        return NULL;
    }
    g->partitions = n;
    if (o->checkpoint && checkpoint_open(g, err, errlen)) {
        bch_ingest_free(g);
        return NULL;
    }
    if (o->checkpoint && o->spool) {
        size_t l = strlen(o->checkpoint) + 8;

        g->spool_dir = malloc(l);
        if (!g->spool_dir) {
            bch_ingest_free(g);
            return NULL;
        }
        snprintf(g->spool_dir, l, "%s.spool", o->checkpoint);
        if (mkdir(g->spool_dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create spool '%s': %s", g->spool_dir, strerror(errno));
            bch_ingest_free(g);
            return NULL;
        }
    }
    bch_info("ingest", "topic %s: %d partitions; dead letters to %s; %zu payload(s) checkpointed",
             o->topic, n, o->dlq_topic, g->nseen);
    return g;
}

void bch_ingest_free(struct bch_ingest *g)
{
    if (!g) {
        return;
    }
    bch_producer_free(g->p); /* may still report batches to on_batch_done */
    bch_reader_free(g->reader);
    bch_buf_release(&g->msg);
    bch_buf_release(&g->dlqbuf);
    bch_buf_release(&g->arena);
    if (g->ckpt) {
        checkpoint_sync(g, true);
        fclose(g->ckpt);
    }
    free(g->seen);
    free(g->spool_dir);
    free(g);
}

void bch_ingest_poll(struct bch_ingest *g, int timeout_ms)
{
    bch_producer_poll(g->p, timeout_ms);
}

long bch_ingest_pending(const struct bch_ingest *g)
{
    return g->pending;
}

long bch_ingest_finish(struct bch_ingest *g, int timeout_ms, struct bch_ingest_stats *st)
{
    bch_producer_drain(g->p, timeout_ms);
    bch_ingest_get_stats(g, st);
    return g->st.failed + g->pending;
}

void bch_ingest_get_stats(const struct bch_ingest *g, struct bch_ingest_stats *st)
{
    *st = g->st;
}
