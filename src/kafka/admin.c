#include "core/compat.h"

#include "kafka/admin.h"

/* Waits for the result event of one admin request on q. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type,
                                     int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);

    if (!ev) {
        snprintf(err, errlen, "no answer from the cluster within %d ms", timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_type(ev) != type) {
        snprintf(err, errlen, "unexpected admin event %s", rd_kafka_event_name(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

int bch_topics_create(rd_kafka_t *rk, const struct bch_topic_spec *specs, size_t n, int timeout_ms,
                      enum bch_topic_created *out, char (*msgs)[256], char *err, size_t errlen)
{
    rd_kafka_NewTopic_t **nt = calloc(n ? n : 1, sizeof(*nt));
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t cnt = 0;
    char rerr[512];
    int rc = -1;

    if (!nt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = BCH_TOPIC_FAILED;
        msgs[i][0] = '\0';
        nt[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, specs[i].replication,
                                      rerr, sizeof(rerr));
        if (!nt[i]) {
            snprintf(err, errlen, "topic '%s': %s", specs[i].name, rerr);
            goto out;
        }
        for (size_t k = 0; k < specs[i].nconfigs; k++) {
            const char *kv = specs[i].configs[k];
            const char *eq = strchr(kv, '=');
            char name[256];

            if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(name)) {
                snprintf(err, errlen, "topic config '%s': expected name=value", kv);
                goto out;
            }
            memcpy(name, kv, (size_t)(eq - kv));
            name[eq - kv] = '\0';
            if (rd_kafka_NewTopic_set_config(nt[i], name, eq + 1)) {
                snprintf(err, errlen, "topic config '%s' refused", kv);
                goto out;
            }
        }
    }
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, rerr, sizeof(rerr)) ||
        rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, rerr, sizeof(rerr))) {
        snprintf(err, errlen, "%s", rerr);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, n, opt, q);
    ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout_ms, err, errlen);
    if (!ev) {
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t r = 0; r < cnt; r++) {
        const char *name = rd_kafka_topic_result_name(res[r]);
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[r]);
        const char *es = rd_kafka_topic_result_error_string(res[r]);

        for (size_t i = 0; i < n; i++) {
            if (strcmp(specs[i].name, name) != 0) {
                continue;
            }
            out[i] = e == RD_KAFKA_RESP_ERR_NO_ERROR               ? BCH_TOPIC_CREATED
                     : e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? BCH_TOPIC_EXISTS
                                                                   : BCH_TOPIC_FAILED;
            snprintf(msgs[i], 256, "%s", e ? (es ? es : rd_kafka_err2str(e)) : "");
        }
    }
    rc = 0;
out:
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    if (q) {
        rd_kafka_queue_destroy(q);
    }
    if (opt) {
        rd_kafka_AdminOptions_destroy(opt);
    }
    for (size_t i = 0; i < n; i++) {
        if (nt[i]) {
            rd_kafka_NewTopic_destroy(nt[i]);
        }
    }
    free(nt);
    return rc;
}

static json_t *int_array(const int32_t *v, int n)
{
    json_t *a = json_array();

    for (int i = 0; i < n; i++) {
        json_array_append_new(a, json_integer(v[i]));
    }
    return a;
}

/* Adds "configs" and "config_sources" to each existing topic object. */
static int describe_configs(rd_kafka_t *rk, json_t *topics, int timeout_ms, char *err,
                            size_t errlen)
{
    size_t n = json_array_size(topics), k = 0, cnt = 0;
    rd_kafka_ConfigResource_t **cr = calloc(n ? n : 1, sizeof(*cr));
    rd_kafka_AdminOptions_t *opt = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConfigResource_t **res;
    char rerr[512];
    int rc = -1;

    if (!cr) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(topics, i);

        if (json_is_true(json_object_get(t, "exists"))) {
            cr[k++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
                                                  json_string_value(json_object_get(t, "name")));
        }
    }
    if (k == 0) {
        free(cr);
        return 0;
    }
    opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    if (rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, rerr, sizeof(rerr))) {
        snprintf(err, errlen, "%s", rerr);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, cr, k, opt, q);
    ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms, err, errlen);
    if (!ev) {
        goto out;
    }
    res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    for (size_t r = 0; r < cnt; r++) {
        const char *name = rd_kafka_ConfigResource_name(res[r]);
        const rd_kafka_ConfigEntry_t **entries;
        size_t ne = 0;
        json_t *cfg = json_object(), *src = json_object();

        entries = rd_kafka_ConfigResource_configs(res[r], &ne);
        for (size_t e = 0; e < ne; e++) {
            const char *cn = rd_kafka_ConfigEntry_name(entries[e]);
            const char *cv = rd_kafka_ConfigEntry_value(entries[e]);

            if (rd_kafka_ConfigEntry_is_sensitive(entries[e])) {
                cv = NULL;
            }
            json_object_set_new(cfg, cn, cv ? json_string(cv) : json_null());
            json_object_set_new(
                src, cn,
                json_string(rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entries[e]))));
        }
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(topics, i);

            if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
                json_object_set(t, "configs", cfg);
                json_object_set(t, "config_sources", src);
            }
        }
        json_decref(cfg);
        json_decref(src);
    }
    rc = 0;
out:
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    if (q) {
        rd_kafka_queue_destroy(q);
    }
    if (opt) {
        rd_kafka_AdminOptions_destroy(opt);
    }
    for (size_t i = 0; i < k; i++) {
        rd_kafka_ConfigResource_destroy(cr[i]);
    }
    free(cr);
    return rc;
}

json_t *bch_topics_describe(rd_kafka_t *rk, const char *const *names, size_t n, int timeout_ms,
                            char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    json_t *out;

    if (e) {
        snprintf(err, errlen, "cannot get the cluster metadata: %s", rd_kafka_err2str(e));
        return NULL;
    }
    out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_object();
        const struct rd_kafka_metadata_topic *mt = NULL;

        json_object_set_new(t, "name", json_string(names[i]));
        for (int k = 0; k < md->topic_cnt; k++) {
            if (strcmp(md->topics[k].topic, names[i]) == 0 && !md->topics[k].err) {
                mt = &md->topics[k];
            }
        }
        json_object_set_new(t, "exists", json_boolean(mt != NULL));
        if (mt) {
            json_t *parts = json_array();
            int rf = 0;

            for (int p = 0; p < mt->partition_cnt; p++) {
                const struct rd_kafka_metadata_partition *mp = &mt->partitions[p];
                json_t *jp = json_object();
                int64_t lo = -1, hi = -1;

                rd_kafka_query_watermark_offsets(rk, names[i], mp->id, &lo, &hi, timeout_ms);
                json_object_set_new(jp, "partition", json_integer(mp->id));
                json_object_set_new(jp, "leader", json_integer(mp->leader));
                json_object_set_new(jp, "replicas", int_array(mp->replicas, mp->replica_cnt));
                json_object_set_new(jp, "isr", int_array(mp->isrs, mp->isr_cnt));
                json_object_set_new(jp, "low", json_integer(lo));
                json_object_set_new(jp, "high", json_integer(hi));
                if (mp->replica_cnt > rf) {
                    rf = mp->replica_cnt;
                }
                json_array_append_new(parts, jp);
            }
            json_object_set_new(t, "replication_factor", json_integer(rf));
            json_object_set_new(t, "partitions", parts);
        }
        json_array_append_new(out, t);
    }
    rd_kafka_metadata_destroy(md);
    if (describe_configs(rk, out, timeout_ms, err, errlen)) {
        /* Metadata is still worth showing (e.g. DescribeConfigs not allowed). */
        for (size_t i = 0; i < json_array_size(out); i++) {
            json_object_set_new(json_array_get(out, i), "configs_error", json_string(err));
        }
        err[0] = '\0';
    }
    return out;
}
