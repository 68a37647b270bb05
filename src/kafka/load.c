#include "core/compat.h"

#include <math.h>
#include <time.h>

#include "core/err.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kafka/ingest.h"
#include "kafka/kafka_stats.h"
#include "kafka/load.h"
#include "kafka/message.h"
#include "kafka/producer.h"
#include "warehouse/db.h"

void bch_load_options_default(struct bch_load_options *o)
{
    memset(o, 0, sizeof(*o));
    o->topic = "bouchon.raw.ci_trafi_l";
    o->group = "bouchon-load";
    o->batch_max = 2000;
    o->batch_ms = 100;
    bch_loader_options_default(&o->loader);
}

/* A partition this member owns. */
struct part {
    int32_t partition;
    int64_t believed; /* next_offset in the warehouse as last seen, -1 = no row */
    int64_t next;     /* next offset after this batch */
    bool touched;     /* read in the open batch */
};

struct snap {
    int64_t source_id;
    bch_time at;
};

#define SRC_CACHE 8

/* A pause of the stream this long commits the open transaction: the
 * records of one payload arrive within a few ms of each other. */
#define LOAD_IDLE_MS 10

struct fingerprint {
    int64_t count, max_id;
    double length;
};

struct lctx {
    const struct bch_load_options *o;
    rd_kafka_t *rk;
    sqlite3 *db;
    struct bch_loader *l;
    sqlite3_stmt *st_get, *st_put, *st_mark, *st_marks;
    struct fingerprint fp;
    /* assignment */
    struct part *parts;
    size_t nparts, capparts;
    /* open batch */
    bool in_tx;
    int64_t tx_start_ms;
    long nmsgs;
    struct snap *snaps;
    size_t nsnaps, capsnaps;
    int64_t *lat; /* pairs (fetched_ms, partition << 40 | offset) of the batch's records */
    size_t nlat, caplat;
    struct bch_load_result res;
    struct {
        char hash[BCH_HASH_HEX];
        int64_t id;
    } src[SRC_CACHE];
    size_t src_next;
    FILE *latlog;
    long warned;
    int fatal; /* first fatal error (bch_err) */
    int rollbacks_in_row;
    char err[512];
    struct bch_load_stats st;
    struct bch_metric *m_msgs, *m_batches, *m_obs, *m_e2e, *m_rebal, *m_last, *m_rollback;
};

static int64_t now_ms(void)
{
    return bch_ingest_now_ms();
}

/* --------------------------------------------------------- warehouse */

static int read_fp(struct lctx *x, struct fingerprint *fp)
{
    sqlite3_stmt *st = bch_db_prepare(
        x->db, "SELECT count(*), coalesce(max(segment_id), 0), total(length_m) FROM segment");
    int rc = BCH_ERR_DB;

    if (st && sqlite3_step(st) == SQLITE_ROW) {
        fp->count = sqlite3_column_int64(st, 0);
        fp->max_id = sqlite3_column_int64(st, 1);
        fp->length = sqlite3_column_double(st, 2);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static bool fp_equal(const struct fingerprint *a, const struct fingerprint *b)
{
    return a->count == b->count && a->max_id == b->max_id && fabs(a->length - b->length) < 1e-6;
}

/* next_offset of partition in the warehouse, -1 if none, BCH_ERR_DB (< -1). */
static int64_t offset_get(struct lctx *x, int32_t partition)
{
    sqlite3_stmt *st = x->st_get;
    int64_t v = -1;
    int rc;

    sqlite3_bind_text(st, 1, x->o->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, x->o->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, partition);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        v = BCH_ERR_DB;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return v;
}

static int offset_put(struct lctx *x, int32_t partition, int64_t next)
{
    sqlite3_stmt *st = x->st_put;
    int rc;

    sqlite3_bind_text(st, 1, x->o->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, x->o->topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, partition);
    sqlite3_bind_int64(st, 4, next);
    sqlite3_bind_int64(st, 5, bch_now());
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        bch_error("load", "cannot store offsets: %s", sqlite3_errmsg(x->db));
        return BCH_ERR_DB;
    }
    return 0;
}

/* Reloads the loader's registry from the warehouse (no transaction open). */
static int reload(struct lctx *x)
{
    int rc = bch_loader_rollback(x->l);

    x->src_next = 0;
    memset(x->src, 0, sizeof(x->src));
    if (rc == 0) {
        rc = read_fp(x, &x->fp);
    }
    return rc;
}

static int tx_begin(struct lctx *x)
{
    for (int tries = 0; tries < 5; tries++) {
        struct fingerprint now;

        if (bch_loader_begin(x->l) || read_fp(x, &now)) {
            return BCH_ERR_DB;
        }
        if (fp_equal(&now, &x->fp)) {
            x->in_tx = true;
            x->tx_start_ms = now_ms();
            x->nmsgs = 0;
            memset(&x->res, 0, sizeof(x->res));
            return 0;
        }
        /* Another member added or changed segments: reload the registry
         * (rolls back the empty transaction first). */
        bch_debug("load", "segment table changed by another member; reloading the registry");
        if (reload(x)) {
            return BCH_ERR_DB;
        }
    }
    /* The segment table keeps changing: go on with this registry; the next
     * transaction reloads it. */
    if (bch_loader_begin(x->l)) {
        return BCH_ERR_DB;
    }
    x->in_tx = true;
    x->tx_start_ms = now_ms();
    x->nmsgs = 0;
    memset(&x->res, 0, sizeof(x->res));
    return 0;
}

/* ---------------------------------------------------------- partitions */

static struct part *part_find(struct lctx *x, int32_t partition)
{
    for (size_t i = 0; i < x->nparts; i++) {
        if (x->parts[i].partition == partition) {
            return &x->parts[i];
        }
    }
    return NULL;
}

static struct part *part_add(struct lctx *x, int32_t partition, int64_t believed)
{
    struct part *p = part_find(x, partition);

    if (!p) {
        struct part *n = bch_reserve(x->parts, &x->capparts, x->nparts + 1, sizeof(*n), 16);

        if (!n) {
            return NULL;
        }
        x->parts = n;
        p = &x->parts[x->nparts++];
    }
    p->partition = partition;
    p->believed = believed;
    p->next = believed;
    p->touched = false;
    return p;
}

static void part_remove(struct lctx *x, int32_t partition)
{
    for (size_t i = 0; i < x->nparts; i++) {
        if (x->parts[i].partition == partition) {
            x->parts[i] = x->parts[--x->nparts];
            return;
        }
    }
}

static void batch_reset(struct lctx *x)
{
    x->in_tx = false;
    x->nmsgs = 0;
    x->nsnaps = 0;
    x->nlat = 0;
    for (size_t i = 0; i < x->nparts; i++) {
        x->parts[i].touched = false;
        x->parts[i].next = x->parts[i].believed;
    }
}

/*
 * Abandons the open batch and restarts every owned partition from the
 * warehouse's offsets (after a warehouse error or a fencing conflict).
 */
static int restart_from_warehouse(struct lctx *x, const char *why)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_error_t *e;
    int rc = 0;

    bch_warn("load", "%s: batch rolled back; restarting partitions from the warehouse", why);
    x->st.rollbacks++;
    if (++x->rollbacks_in_row > 5) {
        snprintf(x->err, sizeof(x->err), "%s (5 times in a row)", why);
        x->fatal = BCH_ERR_DB;
    }
    bch_metric_add(x->m_rollback, NULL, 1);
    x->in_tx = false;
    if (reload(x)) {
        return BCH_ERR_DB;
    }
    batch_reset(x);
    list = rd_kafka_topic_partition_list_new((int)(x->nparts ? x->nparts : 1));
    for (size_t i = 0; i < x->nparts; i++) {
        int64_t v = offset_get(x, x->parts[i].partition);

        if (v < -1) {
            rc = BCH_ERR_DB;
            break;
        }
        x->parts[i].believed = x->parts[i].next = v;
        rd_kafka_topic_partition_list_add(list, x->o->topic, x->parts[i].partition)->offset =
            v >= 0 ? v : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (rc == 0 && list->cnt) {
        e = rd_kafka_seek_partitions(x->rk, list, 10000);
        if (e) {
            bch_warn("load", "seek: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* -------------------------------------------------------------- commit */

static int batch_commit(struct lctx *x)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    struct fingerprint fp;
    int64_t t_commit;
    int rc = 0;

    if (!x->in_tx) {
        return 0;
    }
    for (size_t i = 0; i < x->nsnaps && rc == 0; i++) {
        struct bch_load_result r;

        memset(&r, 0, sizeof(r));
        rc = bch_loader_snapshot(x->l, x->snaps[i].source_id, x->snaps[i].at, &r);
    }
    if (rc) {
        return restart_from_warehouse(x, "warehouse error while writing a snapshot");
    }
    for (size_t i = 0; i < x->nparts; i++) {
        struct part *p = &x->parts[i];
        int64_t v;

        if (!p->touched) {
            continue;
        }
        v = offset_get(x, p->partition);
        if (v < -1) {
            return restart_from_warehouse(x, "warehouse error while reading offsets");
        }
        if (v != p->believed) {
            char why[160];

            snprintf(why, sizeof(why),
                     "partition %d was loaded up to offset %lld by another member meanwhile",
                     p->partition, (long long)v);
            return restart_from_warehouse(x, why);
        }
        if (offset_put(x, p->partition, p->next)) {
            return restart_from_warehouse(x, "warehouse error while writing offsets");
        }
    }
    if (read_fp(x, &fp) || bch_loader_commit(x->l)) {
        return restart_from_warehouse(x, "warehouse commit failed");
    }
    t_commit = now_ms();
    x->rollbacks_in_row = 0;
    x->fp = fp;
    x->in_tx = false;
    x->st.batches++;
    x->st.observations += x->res.observations;
    bch_metric_add(x->m_batches, NULL, 1);
    bch_metric_add(x->m_obs, NULL, (double)x->res.observations);
    bch_metric_set(x->m_last, NULL, (double)t_commit / 1000.0);
    for (size_t i = 0; i < x->nlat; i++) {
        int64_t fetched = x->lat[2 * i], where = x->lat[2 * i + 1];

        bch_metric_observe(x->m_e2e, NULL, (double)(t_commit - fetched) / 1000.0);
        if (x->latlog) {
            fprintf(x->latlog, "%lld %lld %lld %lld\n", (long long)fetched, (long long)t_commit,
                    (long long)(where >> 40), (long long)(where & ((INT64_C(1) << 40) - 1)));
        }
    }
    if (x->latlog) {
        fflush(x->latlog);
    }
    list = rd_kafka_topic_partition_list_new((int)(x->nparts ? x->nparts : 1));
    for (size_t i = 0; i < x->nparts; i++) {
        struct part *p = &x->parts[i];

        if (p->touched) {
            p->believed = p->next;
            rd_kafka_topic_partition_list_add(list, x->o->topic, p->partition)->offset = p->next;
        }
        p->touched = false;
    }
    /* For lag monitoring only; the warehouse is the truth. */
    if (list->cnt) {
        rd_kafka_commit(x->rk, list, 1);
    }
    rd_kafka_topic_partition_list_destroy(list);
    x->st.snapshots += (long)x->nsnaps;
    if (x->o->on_snapshot) {
        for (size_t i = 0; i < x->nsnaps; i++) {
            x->o->on_snapshot(x->o->ctx, x->snaps[i].at);
        }
    }
    x->nsnaps = 0;
    x->nlat = 0;
    x->nmsgs = 0;
    return 0;
}

/* ------------------------------------------------------------ messages */

static int source_id_of(struct lctx *x, const struct bch_kmsg *m, int64_t *id)
{
    struct bch_payload_meta meta;
    int rc;

    for (size_t i = 0; i < SRC_CACHE; i++) {
        if (strcmp(x->src[i].hash, m->source.hash) == 0) {
            *id = x->src[i].id;
            return 0;
        }
    }
    meta.kind = m->source.kind;
    meta.name = m->source.name;
    meta.dataset = m->dataset;
    meta.fetched_at = m->source.fetched_ms / 1000;
    rc = bch_loader_source(x->l, &meta, m->source.format, m->source.hash, id);
    if (rc == 0) {
        size_t k = x->src_next++ % SRC_CACHE;

        snprintf(x->src[k].hash, sizeof(x->src[k].hash), "%s", m->source.hash);
        x->src[k].id = *id;
    }
    return rc;
}

static int push_snap(struct lctx *x, int64_t source_id, bch_time at)
{
    for (size_t i = 0; i < x->nsnaps; i++) {
        if (x->snaps[i].at == at && x->snaps[i].source_id == source_id) {
            return 0;
        }
    }
    struct snap *n = bch_reserve(x->snaps, &x->capsnaps, x->nsnaps + 1, sizeof(*n), 16);

    if (!n) {
        return BCH_ERR_NOMEM;
    }
    x->snaps = n;
    x->snaps[x->nsnaps].source_id = source_id;
    x->snaps[x->nsnaps].at = at;
    x->nsnaps++;
    return 0;
}

static int push_lat(struct lctx *x, int64_t fetched_ms, int32_t partition, int64_t offset)
{
    int64_t *n = bch_reserve(x->lat, &x->caplat, x->nlat + 1, 2 * sizeof(*n), 1024); /* pairs */

    if (!n) {
        return BCH_ERR_NOMEM;
    }
    x->lat = n;
    x->lat[2 * x->nlat] = fetched_ms;
    x->lat[2 * x->nlat + 1] = ((int64_t)partition << 40) | (offset & ((INT64_C(1) << 40) - 1));
    x->nlat++;
    return 0;
}

/*
 * Records the marker of one partition; *complete becomes true when this
 * makes the payload's set of markers complete (then this transaction writes
 * the payload's snapshot).
 */
static int marker_seen(struct lctx *x, const struct bch_kmsg *m, int32_t partition, bool *complete)
{
    int parts = m->partitions > 0 ? m->partitions : 1;
    int rc;

    *complete = false;
    sqlite3_bind_text(x->st_mark, 1, x->o->topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(x->st_mark, 2, m->source.hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(x->st_mark, 3, partition);
    sqlite3_bind_int(x->st_mark, 4, parts);
    rc = sqlite3_step(x->st_mark);
    sqlite3_reset(x->st_mark);
    sqlite3_clear_bindings(x->st_mark);
    if (rc != SQLITE_DONE) {
        return BCH_ERR_DB;
    }
    if (sqlite3_changes(x->db) == 0) {
        return 0; /* seen before: the snapshot was written (or will be) */
    }
    sqlite3_bind_text(x->st_marks, 1, x->o->topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(x->st_marks, 2, m->source.hash, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(x->st_marks);
    if (rc == SQLITE_ROW) {
        *complete = sqlite3_column_int(x->st_marks, 0) >= parts;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(x->st_marks);
    sqlite3_clear_bindings(x->st_marks);
    return rc == SQLITE_DONE ? 0 : BCH_ERR_DB;
}

static void count(struct lctx *x, const char *type)
{
    char l[64];

    bch_metrics_label(l, sizeof(l), "type", type);
    bch_metric_add(x->m_msgs, l, 1);
}

/* Applies one message inside the open transaction.  0, or a bch_err that
 * aborts the batch (warehouse failure). */
static int apply(struct lctx *x, const rd_kafka_message_t *km)
{
    struct bch_kmsg m;
    char err[256];
    int64_t sid;
    int rc = 0;

    if (bch_kmsg_decode(km->payload, km->len, &m, err, sizeof(err))) {
        x->st.invalid++;
        count(x, "invalid");
        if (x->warned++ < 20) {
            bch_warn("load", "partition %d offset %lld: skipped: %s", km->partition,
                     (long long)km->offset, err);
        }
        bch_kmsg_release(&m);
        return 0;
    }
    if (m.type == BCH_KMSG_RECORD) {
        struct bch_trafi_record *r = &m.rec;

        if (m.geo_shape) {
            struct bch_geom_info gi;
            int grc = bch_reader_geometry(bch_loader_reader(x->l), m.geo_shape, m.geo_len, &gi);

            if (grc == BCH_ERR_NOMEM) {
                bch_kmsg_release(&m);
                return BCH_ERR_NOMEM;
            }
            r->geom_text = m.geo_shape;
            r->geom_len = m.geo_len;
            snprintf(r->geom_hash, sizeof(r->geom_hash), "%s", gi.raw_hash);
            if (grc == 0) {
                r->geom = gi.geom;
                r->length_m = gi.length_m;
                r->geom_norm = gi.norm;
                snprintf(r->geom_norm_hash, sizeof(r->geom_norm_hash), "%s", gi.norm_hash);
            }
        }
        bch_hash_hex(r->raw_body, r->raw_len, r->record_hash);
        rc = source_id_of(x, &m, &sid);
        if (rc == 0) {
            rc = bch_loader_add_record(x->l, sid, m.source.name, m.source.fetched_ms / 1000, r,
                                       &x->res);
        }
        if (rc == 0) {
            rc = push_lat(x, m.source.fetched_ms, km->partition, km->offset);
            x->st.records++;
            count(x, "record");
        }
    } else if (m.type == BCH_KMSG_END) {
        bool complete = false;

        rc = source_id_of(x, &m, &sid);
        if (rc == 0) {
            rc = marker_seen(x, &m, km->partition, &complete);
        }
        if (rc == 0 && complete && m.snapshot_at != BCH_TIME_NONE) {
            rc = push_snap(x, sid, m.snapshot_at);
        }
        x->st.markers++;
        count(x, "end");
    } else {
        count(x, "other");
    }
    bch_kmsg_release(&m);
    return rc;
}

static int on_message(struct lctx *x, const rd_kafka_message_t *km)
{
    struct part *p;
    int rc;

    if (!x->in_tx && tx_begin(x)) {
        x->fatal = BCH_ERR_DB;
        snprintf(x->err, sizeof(x->err), "cannot start a warehouse transaction");
        return BCH_ERR_DB;
    }
    p = part_find(x, km->partition);
    if (!p) {
        int64_t v = offset_get(x, km->partition);

        p = v < -1 ? NULL : part_add(x, km->partition, v);
        if (!p) {
            return restart_from_warehouse(x, "cannot track a partition");
        }
    }
    rc = apply(x, km);
    if (rc) {
        return restart_from_warehouse(x, "warehouse error while loading a message");
    }
    p->next = km->offset + 1;
    p->touched = true;
    x->nmsgs++;
    x->st.messages++;
    return 0;
}

/* ----------------------------------------------------------- rebalance */

static void log_parts(const char *what, const rd_kafka_topic_partition_list_t *l)
{
    char buf[512];
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; i < l->cnt && n + 16 < sizeof(buf); i++) {
        int w = snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : "", l->elems[i].partition);

        if (w > 0) {
            n += (size_t)w;
        }
    }
    bch_info("load", "%s partition(s) [%s]", what, buf);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct lctx *x = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    char l[64];

    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        /* Commit what was read from these partitions before giving them up. */
        if (batch_commit(x)) {
            x->fatal = BCH_ERR_DB;
        }
        for (int i = 0; i < parts->cnt; i++) {
            part_remove(x, parts->elems[i].partition);
        }
        if (coop) {
            e = rd_kafka_incremental_unassign(rk, parts);
        } else {
            rd_kafka_assign(rk, NULL);
            x->nparts = 0;
        }
        x->st.revocations++;
        bch_metrics_label(l, sizeof(l), "kind", "revoke");
        bch_metric_add(x->m_rebal, l, 1);
        log_parts("revoked", parts);
    } else if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (batch_commit(x) || reload(x)) {
            x->fatal = BCH_ERR_DB;
            snprintf(x->err, sizeof(x->err), "cannot read the warehouse on assignment");
        }
        for (int i = 0; i < parts->cnt && !x->fatal; i++) {
            int64_t v = offset_get(x, parts->elems[i].partition);

            if (v < -1 || !part_add(x, parts->elems[i].partition, v)) {
                x->fatal = BCH_ERR_DB;
                snprintf(x->err, sizeof(x->err), "cannot read offsets from the warehouse");
                break;
            }
            parts->elems[i].offset = v >= 0 ? v : RD_KAFKA_OFFSET_BEGINNING;
        }
        if (coop) {
            e = rd_kafka_incremental_assign(rk, parts);
        } else {
            rd_kafka_assign(rk, parts);
        }
        x->st.assignments++;
        bch_metrics_label(l, sizeof(l), "kind", "assign");
        bch_metric_add(x->m_rebal, l, 1);
        log_parts("assigned (offsets from the warehouse)", parts);
    } else {
        bch_error("load", "rebalance failed: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
        x->nparts = 0;
    }
    if (e) {
        bch_error("load", "rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* ---------------------------------------------------------------- run */

static void init_metrics(struct lctx *x)
{
    bch_kafka_stats_init();
    x->m_msgs = bch_metric_counter("bouchon_load_messages_total",
                                   "Messages consumed by type (record, end, invalid).");
    x->m_batches = bch_metric_counter("bouchon_load_batches_total",
                                      "Transactions committed (rows + offsets).");
    x->m_obs = bch_metric_counter("bouchon_observations_stored_total",
                                  "New observations stored in the warehouse.");
    x->m_e2e = bch_metric_histogram(
        "bouchon_load_end_to_end_latency_seconds",
        "Time from the record's fetch (ingest) to its commit in the warehouse.",
        bch_kafka_latency_buckets, bch_kafka_latency_nbuckets);
    x->m_rebal = bch_metric_counter("bouchon_load_rebalances_total",
                                    "Partition assignments and revocations.");
    x->m_last = bch_metric_gauge("bouchon_load_last_commit_timestamp_seconds",
                                 "Unix time of the last committed batch.");
    x->m_rollback = bch_metric_counter("bouchon_load_rollbacks_total",
                                       "Batches rolled back (warehouse error or fencing).");
}

static void consumer_error(struct lctx *x, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];

        rd_kafka_fatal_error(x->rk, buf, sizeof(buf));
        snprintf(x->err, sizeof(x->err), "fatal consumer error: %s", buf);
        x->fatal = BCH_ERR;
        return;
    }
    if (x->warned++ < 50) {
        bch_warn("load", "consumer: %s", rd_kafka_message_errstr(m));
    }
}

int bch_load_run(rd_kafka_conf_t *conf, const char *dbpath, const struct bch_load_options *o,
                 struct bch_load_stats *st, char *err, size_t errlen)
{
    struct lctx x;
    rd_kafka_topic_partition_list_t *sub = NULL;
    char rerr[512];
    int rc = 0;

    memset(&x, 0, sizeof(x));
    x.o = o;
    init_metrics(&x);
    x.db = bch_db_open(dbpath, BCH_DB_READWRITE, err, errlen);
    if (!x.db) {
        rd_kafka_conf_destroy(conf);
        return BCH_ERR_DB;
    }
    x.l = bch_loader_new(x.db, &o->loader, err, errlen);
    x.st_get = bch_db_prepare(x.db, "SELECT next_offset FROM kafka_offset WHERE group_id = ? "
                                    "AND topic = ? AND partition = ?");
    x.st_put = bch_db_prepare(
        x.db, "INSERT INTO kafka_offset(group_id, topic, partition, next_offset, updated_at) "
              "VALUES (?, ?, ?, ?, ?) ON CONFLICT(group_id, topic, partition) DO UPDATE SET "
              "next_offset = max(next_offset, excluded.next_offset), "
              "updated_at = excluded.updated_at");
    x.st_mark = bch_db_prepare(x.db, "INSERT OR IGNORE INTO kafka_marker(topic, content_hash, "
                                     "partition, partitions) VALUES (?, ?, ?, ?)");
    x.st_marks = bch_db_prepare(x.db, "SELECT count(*) FROM kafka_marker WHERE topic = ? AND "
                                      "content_hash = ?");
    if (!x.l || !x.st_get || !x.st_put || !x.st_mark || !x.st_marks || read_fp(&x, &x.fp)) {
        if (x.l) {
            snprintf(err, errlen, "cannot prepare the warehouse '%s'", dbpath);
        }
        rd_kafka_conf_destroy(conf);
        rc = BCH_ERR_DB;
        goto out;
    }
    if (o->latency_log) {
        x.latlog = fopen(o->latency_log, "a");
        if (!x.latlog) {
            snprintf(err, errlen, "cannot open '%s': %s", o->latency_log, strerror(errno));
            rd_kafka_conf_destroy(conf);
            rc = BCH_ERR_INPUT;
            goto out;
        }
    }
    if (rd_kafka_conf_set(conf, "group.id", o->group, rerr, sizeof(rerr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "group.id: %s", rerr);
        rd_kafka_conf_destroy(conf);
        rc = BCH_ERR_USAGE;
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &x);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_log_cb(conf, bch_kafka_log_cb);
    rd_kafka_conf_set_stats_cb(conf, bch_kafka_stats_cb);
    x.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rerr, sizeof(rerr));
    if (!x.rk) {
        snprintf(err, errlen, "cannot create the Kafka consumer: %s", rerr);
        rd_kafka_conf_destroy(conf);
        rc = BCH_ERR;
        goto out;
    }
    conf = NULL; /* x.rk owns conf now */
    rd_kafka_poll_set_consumer(x.rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(x.rk, sub) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot subscribe to '%s'", o->topic);
        rc = BCH_ERR;
        goto close;
    }
    bch_info("load", "group %s reading %s into %s", o->group, o->topic, dbpath);
    while (!*o->stop && !x.fatal) {
        int timeout = 200;
        rd_kafka_message_t *m;

        if (x.in_tx) {
            /* Commit as soon as the stream pauses (LOAD_IDLE_MS without a
             * message), or after batch_ms at the latest. */
            int64_t left = x.tx_start_ms + o->batch_ms - now_ms();

            timeout = left > LOAD_IDLE_MS ? LOAD_IDLE_MS : left > 0 ? (int)left : 0;
        }
        m = rd_kafka_consumer_poll(x.rk, timeout);
        if (m) {
            if (m->err) {
                consumer_error(&x, m);
            } else if (on_message(&x, m)) {
                x.fatal = x.fatal ? x.fatal : BCH_ERR_DB;
            }
            rd_kafka_message_destroy(m);
        }
        if (x.in_tx && (x.nmsgs >= o->batch_max || now_ms() - x.tx_start_ms >= o->batch_ms || !m)) {
            if (batch_commit(&x)) {
                x.fatal = BCH_ERR_DB;
            }
        }
    }
    if (batch_commit(&x) && !x.fatal) {
        x.fatal = BCH_ERR_DB;
    }
close:
    rd_kafka_consumer_close(x.rk); /* revokes through rebalance_cb */
    rd_kafka_destroy(x.rk);
    if (x.fatal) {
        rc = x.fatal;
        snprintf(err, errlen, "%s", x.err[0] ? x.err : "warehouse failure");
    }
out:
    if (sub) {
        rd_kafka_topic_partition_list_destroy(sub);
    }
    if (x.latlog) {
        fclose(x.latlog);
    }
    sqlite3_finalize(x.st_get);
    sqlite3_finalize(x.st_put);
    sqlite3_finalize(x.st_mark);
    sqlite3_finalize(x.st_marks);
    bch_loader_free(x.l);
    bch_db_close(x.db);
    free(x.parts);
    free(x.snaps);
    free(x.lat);
    if (st) {
        *st = x.st;
    }
    return rc;
}
