/*
 * test_kafka_conf.c - the Kafka pieces that need no broker: librdkafka
 * properties from -X and config files (kafka/kafka_conf.h), the message
 * schema's encoders and decoder (kafka/message.h) on records of the real
 * 09:50 snapshot, and statistics JSON to metrics (kafka/kafka_stats.h).
 */
#include "core/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kafka/kafka_conf.h"
#include "kafka/kafka_stats.h"
#include "kafka/message.h"
#include "sources/trafi_reader.h"

/* ------------------------------------------------------------ properties */

static void test_props_file(void **state)
{
    struct bch_kafka_props p;
    const char *text = "# librdkafka properties\n"
                       "\n"
                       "  bootstrap.servers = a:1,b:2  \r\n"
                       "\t# indented comment\n"
                       "acks=all\n"
                       "sasl.password=p=q==\n"
                       "acks=1\n";
    char err[256] = "";

    (void)state;
    bch_kafka_props_init(&p);
    assert_int_equal(bch_kafka_props_parse(&p, text, strlen(text), "k.conf", err, sizeof(err)), 0);
    assert_string_equal(bch_kafka_props_get(&p, "bootstrap.servers"), "a:1,b:2");
    assert_string_equal(bch_kafka_props_get(&p, "acks"), "1");              /* last value wins */
    assert_string_equal(bch_kafka_props_get(&p, "sasl.password"), "p=q=="); /* first '=' splits */
    assert_int_equal(p.n, 3);
    assert_string_equal(p.v[1].origin, "k.conf:7");
    assert_null(bch_kafka_props_get(&p, "linger.ms"));
    assert_int_equal(bch_kafka_props_default(&p, "acks", "all"), 0);
    assert_string_equal(bch_kafka_props_get(&p, "acks"), "1");
    assert_int_equal(bch_kafka_props_default(&p, "linger.ms", "5"), 0);
    assert_string_equal(bch_kafka_props_get(&p, "linger.ms"), "5");
    bch_kafka_props_release(&p);
}

static void test_props_errors(void **state)
{
    struct bch_kafka_props p;
    rd_kafka_conf_t *conf;
    char err[512] = "";
    const char *bad = "acks=all\n\nno equals here\n";
    const char *unknown = "bootstrap.servers=x:1\n# c\nno.such.property=1\n";

    (void)state;
    bch_kafka_props_init(&p);
    assert_int_equal(bch_kafka_props_parse(&p, bad, strlen(bad), "f.conf", err, sizeof(err)),
                     BCH_ERR_INPUT);
    assert_string_equal(err, "f.conf:3: expected prop=value");
    assert_int_equal(bch_kafka_props_parse(&p, "=x\n", 3, "g", err, sizeof(err)), BCH_ERR_INPUT);
    assert_string_equal(err, "g:1: expected prop=value");
    assert_int_equal(bch_kafka_props_add_arg(&p, "novalue", err, sizeof(err)), BCH_ERR_USAGE);
    assert_non_null(strstr(err, "-X 'novalue'"));
    bch_kafka_props_release(&p);

    /* librdkafka refuses a name: reported at its origin */
    bch_kafka_props_init(&p);
    assert_int_equal(
        bch_kafka_props_parse(&p, unknown, strlen(unknown), "k.conf", err, sizeof(err)), 0);
    conf = bch_kafka_conf_new(&p, err, sizeof(err));
    assert_null(conf);
    assert_true(strncmp(err, "k.conf:3: ", 10) == 0);
    assert_non_null(strstr(err, "no.such.property"));
    bch_kafka_props_release(&p);

    /* and a value */
    bch_kafka_props_init(&p);
    assert_int_equal(bch_kafka_props_add_arg(&p, "acks=sometimes", err, sizeof(err)), 0);
    conf = bch_kafka_conf_new(&p, err, sizeof(err));
    assert_null(conf);
    assert_true(strncmp(err, "-X: ", 4) == 0);
    bch_kafka_props_release(&p);
}

static void test_cli_precedence(void **state)
{
    struct bch_kafka_cli c;
    struct bch_kafka_props p;
    char err[256] = "", path[] = "/tmp/bouchon-test-kconf-XXXXXX";
    FILE *f;
    int fd;
    rd_kafka_conf_t *conf;
    char v[64];
    size_t vlen = sizeof(v);

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("bootstrap.servers=file:1\nclient.id=from-file\nlinger.ms=7\n", f);
    fclose(f);
    bch_kafka_cli_init(&c);
    bch_kafka_props_init(&p);
    c.config_file = path;
    c.brokers = "cli:9092";
    assert_int_equal(bch_kafka_cli_add_x(&c, "client.id=from-x"), 0);
    assert_int_equal(bch_kafka_cli_finish(&c, &p, err, sizeof(err)), 0);
    assert_string_equal(bch_kafka_props_get(&p, "bootstrap.servers"), "cli:9092");
    assert_string_equal(bch_kafka_props_get(&p, "client.id"), "from-x");
    assert_string_equal(bch_kafka_props_get(&p, "linger.ms"), "7");
    conf = bch_kafka_conf_new(&p, err, sizeof(err));
    assert_non_null(conf);
    assert_int_equal(rd_kafka_conf_get(conf, "client.id", v, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "from-x");
    rd_kafka_conf_destroy(conf);
    bch_kafka_props_release(&p);
    bch_kafka_cli_release(&c);
    unlink(path);

    /* no broker anywhere */
    bch_kafka_cli_init(&c);
    bch_kafka_props_init(&p);
    assert_int_equal(bch_kafka_cli_finish(&c, &p, err, sizeof(err)), BCH_ERR_USAGE);
    assert_non_null(strstr(err, "--brokers"));
    bch_kafka_props_release(&p);
    bch_kafka_cli_release(&c);
    /* a missing config file */
    bch_kafka_cli_init(&c);
    bch_kafka_props_init(&p);
    c.config_file = "/nonexistent/k.conf";
    assert_int_equal(bch_kafka_cli_finish(&c, &p, err, sizeof(err)), BCH_ERR_INPUT);
    assert_non_null(strstr(err, "/nonexistent/k.conf"));
    bch_kafka_props_release(&p);
    bch_kafka_cli_release(&c);
}

/* -------------------------------------------------------------- messages */

static char *read_data(const char *name, size_t *len)
{
    const char *roots[] = {"data/bordeaux", getenv("BOUCHON_SHARED"), "../shared/data/bordeaux"};
    struct bch_buf b;
    char path[4096];

    for (size_t i = 0; i < BCH_ARRAY_LEN(roots); i++) {
        if (!roots[i]) {
            continue;
        }
        snprintf(path, sizeof(path), "%s%s/%s", roots[i], i == 1 ? "/data/bordeaux" : "", name);
        bch_buf_init(&b, 64u << 20);
        if (bch_buf_read_file(&b, path) == 0) {
            *len = b.len;
            return bch_buf_take(&b);
        }
        bch_buf_release(&b);
    }
    fail_msg("cannot read %s (run from the repository root)", name);
    return NULL;
}

struct roundtrip {
    long n, checked;
    struct bch_reader *decoder_reader;
};

/* Every record of the payload: encode, decode, rebuild the geometry and
 * check that the loader would receive the same record. */
static int rt_record(void *ctx, const struct bch_trafi_record *r)
{
    struct roundtrip *t = ctx;
    struct bch_kmsg_source src = {"file",       "data/x.csv",
                                  "ci_trafi_l", "0123456789abcdef0123456789abcdef",
                                  "csv",        1766047910123};
    struct bch_kmsg_problem pb = {"etat", "unknown state value", "bouché \"x\""};
    struct bch_buf b;
    struct bch_kmsg m;
    struct bch_geom_info gi;
    char err[256], hash[BCH_HASH_HEX];

    bch_buf_init(&b, 4u << 20);
    assert_int_equal(bch_kmsg_encode_record(&b, &src, r, &pb, t->n % 7 == 0 ? 1 : 0), 0);
    assert_true(bch_kmsg_utf8_ok(b.data, b.len));
    assert_int_equal(bch_kmsg_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.type, BCH_KMSG_RECORD);
    assert_string_equal(m.source.kind, "file");
    assert_string_equal(m.source.hash, src.hash);
    assert_string_equal(m.source.format, "csv");
    assert_true(m.source.fetched_ms == src.fetched_ms);
    assert_string_equal(m.rec.ident, r->ident);
    assert_true(m.rec.gid == r->gid);
    assert_int_equal(m.rec.state, r->state);
    assert_true(m.rec.mdate == r->mdate);
    assert_true(m.rec.cdate == r->cdate);
    assert_string_equal(m.rec.typevoie, r->typevoie);
    assert_string_equal(m.rec.commune, r->commune);
    assert_string_equal(m.rec.code_commune, r->code_commune);
    assert_string_equal(m.rec.origine, r->origine);
    assert_int_equal(m.rec.position, r->position);
    assert_int_equal(m.rec.raw_len, r->raw_len);
    assert_memory_equal(m.rec.raw_body, r->raw_body, r->raw_len);
    bch_hash_hex(m.rec.raw_body, m.rec.raw_len, hash);
    assert_string_equal(hash, r->record_hash);
    if (r->geom_text) {
        assert_int_equal(m.geo_len, r->geom_len);
        assert_memory_equal(m.geo_shape, r->geom_text, r->geom_len);
        assert_int_equal(bch_reader_geometry(t->decoder_reader, m.geo_shape, m.geo_len, &gi),
                         r->geom ? 0 : -1);
        assert_string_equal(gi.raw_hash, r->geom_hash);
        if (r->geom) {
            assert_string_equal(gi.norm_hash, r->geom_norm_hash);
            assert_true(gi.length_m == r->length_m);
        }
    } else {
        assert_null(m.geo_shape);
    }
    bch_kmsg_release(&m);
    bch_buf_release(&b);
    t->n++;
    t->checked++;
    return 0;
}

static void test_record_roundtrip(void **state)
{
    struct bch_reader *r = bch_reader_new();
    struct roundtrip t = {0, 0, bch_reader_new()};
    struct bch_reader_sink sink = {&t, rt_record, NULL};
    struct bch_parse_result pr;
    char err[256];
    size_t len;
    char *buf = read_data("ci_trafi_l_2025-12-18T0950.csv", &len);

    (void)state;
    assert_int_equal(bch_reader_parse(r, buf, len, &sink, &pr, err, sizeof(err)), 0);
    assert_int_equal(t.checked, 694);
    free(buf);
    bch_reader_free(r);
    bch_reader_free(t.decoder_reader);
}

static void test_end_and_rejected(void **state)
{
    struct bch_kmsg_source src = {"api",        "https://x/records",
                                  "ci_trafi_l", "ffffffffffffffffffffffffffffffff",
                                  "records",    1000};
    struct bch_buf b;
    struct bch_kmsg m;
    char err[256];
    json_t *j;
    json_error_t je;
    const char bad_utf8[] = "a\xff\xfe b\xc3";
    char big[5000];

    (void)state;
    bch_buf_init(&b, 1u << 20);
    assert_int_equal(bch_kmsg_encode_end(&b, &src, 1766047850, 694, 2, 3, 6), 0);
    assert_int_equal(bch_kmsg_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.type, BCH_KMSG_END);
    assert_true(m.snapshot_at == 1766047850);
    assert_int_equal(m.records, 694);
    assert_int_equal(m.rejected, 2);
    assert_int_equal(m.partition, 3);
    assert_int_equal(m.partitions, 6);
    assert_true(m.source.fetched_ms == 1000);
    bch_kmsg_release(&m);

    bch_buf_reset(&b);
    assert_int_equal(bch_kmsg_encode_end(&b, &src, BCH_TIME_NONE, 0, 0, 0, 1), 0);
    assert_non_null(strstr(b.data, "\"snapshot_at\":null"));
    assert_int_equal(bch_kmsg_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_true(m.snapshot_at == BCH_TIME_NONE);
    bch_kmsg_release(&m);

    /* rejected: invalid UTF-8 is replaced, raw is cut on a character boundary */
    memset(big, 'x', sizeof(big));
    memcpy(big + 1023, "\xc3\xa9", 2);
    bch_buf_reset(&b);
    assert_int_equal(bch_kmsg_encode_rejected(&b, &src, 12, "mdate", "bad \"date\"", bad_utf8,
                                              sizeof(bad_utf8) - 1, big, sizeof(big), 1024, 0),
                     0);
    assert_true(bch_kmsg_utf8_ok(b.data, b.len));
    j = json_loadb(b.data, b.len, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "rejected");
    assert_string_equal(json_string_value(json_object_get(j, "value")),
                        "a\xef\xbf\xbd\xef\xbf\xbd b\xef\xbf\xbd");
    assert_int_equal(json_string_length(json_object_get(j, "raw")), 1023);
    assert_true(json_is_true(json_object_get(j, "raw_truncated")));
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "bad \"date\"");
    json_decref(j);
    assert_int_equal(bch_kmsg_decode(b.data, b.len, &m, err, sizeof(err)), 0);
    assert_int_equal(m.type, BCH_KMSG_REJECTED);
    bch_kmsg_release(&m);
    bch_buf_release(&b);
}

static void test_decode_refuses(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[1]",
        "{\"v\":2,\"type\":\"record\"}",
        "{\"v\":1,\"type\":\"other\",\"source\":{}}",
        "{\"v\":1,\"type\":\"end\",\"source\":{\"kind\":\"file\",\"name\":\"x\",\"hash\":\"ab\","
        "\"fetched_at\":\"2025-01-01T00:00:00.000Z\"}}",
        "{\"v\":1,\"type\":\"record\",\"source\":{\"kind\":\"file\",\"name\":\"x\",\"hash\":"
        "\"0123456789abcdef0123456789abcdef\",\"fetched_at\":\"2025-01-01T00:00:00.000Z\"},"
        "\"observation\":{\"ident\":\"A\",\"gid\":1,\"state\":\"BOUCHE\",\"mdate\":"
        "\"2025-01-01T00:00:00Z\"},\"raw\":{\"position\":1,\"body\":\"x\"}}",
    };
    struct bch_kmsg m;
    char err[256];

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(bch_kmsg_decode(bad[i], strlen(bad[i]), &m, err, sizeof(err)),
                         BCH_ERR_INPUT);
        assert_true(err[0] != '\0');
        bch_kmsg_release(&m);
    }
}

static void test_time_and_utf8(void **state)
{
    char buf[40];
    int64_t ms;

    (void)state;
    bch_kmsg_format_ms(1766047910123, buf, sizeof(buf));
    assert_string_equal(buf, "2025-12-18T08:51:50.123Z");
    assert_int_equal(bch_kmsg_parse_ms(buf, strlen(buf), &ms), 0);
    assert_true(ms == 1766047910123);
    assert_int_equal(bch_kmsg_parse_ms("2025-12-18T09:51:50.5+01:00", 27, &ms), 0);
    assert_true(ms == 1766047910500);
    assert_int_equal(bch_kmsg_parse_ms("2025-12-18T09:51:50", 19, &ms), -1); /* no offset */
    assert_true(bch_kmsg_utf8_ok("Mérignac", strlen("Mérignac")));
    assert_false(bch_kmsg_utf8_ok("M\xe9rignac", 8));      /* Latin-1 */
    assert_false(bch_kmsg_utf8_ok("\xc0\xaf", 2));         /* overlong */
    assert_false(bch_kmsg_utf8_ok("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(bch_kmsg_utf8_ok("a\0b", 3));             /* NUL */
    assert_true(bch_kmsg_utf8_ok("\xf0\x9f\x9a\x97", 4));  /* U+1F697 */
    assert_false(bch_kmsg_utf8_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

/* ----------------------------------------------------------------- stats */

static void test_stats_to_metrics(void **state)
{
    const char *producer =
        "{\"name\":\"rdkafka#producer-1\",\"type\":\"producer\",\"msg_cnt\":42,\"msg_size\":4200,"
        "\"txmsgs\":1000,\"rxmsgs\":0,\"brokers\":{"
        "\"127.0.0.1:19092/1\":{\"name\":\"127.0.0.1:19092/1\",\"nodeid\":1,\"state\":\"UP\","
        "\"rtt\":{\"cnt\":10,\"p50\":1500,\"p99\":9000}},"
        "\"127.0.0.1:29092/2\":{\"nodeid\":2,\"state\":\"DOWN\",\"rtt\":{\"cnt\":0}},"
        "\"127.0.0.1:19092/bootstrap\":{\"nodeid\":-1,\"state\":\"UP\"}},\"topics\":{}}";
    const char *consumer =
        "{\"type\":\"consumer\",\"rxmsgs\":7,\"brokers\":{},\"topics\":{\"t\":{\"partitions\":{"
        "\"0\":{\"partition\":0,\"consumer_lag\":5},\"1\":{\"partition\":1,\"consumer_lag\":-1},"
        "\"-1\":{\"partition\":-1,\"consumer_lag\":-1}}}}}";
    struct bch_buf out;

    (void)state;
    bch_metrics_reset();
    bch_kafka_stats_init();
    /* (one process has one handle; the consumer document goes first here
     * because each document replaces the broker series) */
    assert_int_equal(bch_kafka_stats_apply(consumer, strlen(consumer)), 0);
    assert_int_equal(bch_kafka_stats_apply(producer, strlen(producer)), 0);
    assert_int_equal(bch_kafka_stats_apply("{", 1), -1);
    bch_buf_init(&out, 1u << 20);
    assert_int_equal(bch_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "bouchon_kafka_broker_up{broker=\"127.0.0.1:19092/1\"} 1\n"));
    assert_non_null(strstr(out.data, "bouchon_kafka_broker_up{broker=\"127.0.0.1:29092/2\"} 0\n"));
    assert_null(strstr(out.data, "bootstrap"));
    assert_non_null(strstr(out.data, "bouchon_kafka_broker_state{broker=\"127.0.0.1:29092/2\","
                                     "state=\"DOWN\"} 1\n"));
    assert_non_null(strstr(out.data,
                           "bouchon_kafka_broker_rtt_seconds{broker=\"127.0.0.1:19092/1\","
                           "quantile=\"0.99\"} 0.0089999999999999993\n"));
    assert_non_null(strstr(out.data, "bouchon_kafka_producer_queue_messages 42\n"));
    assert_non_null(strstr(out.data, "bouchon_kafka_producer_queue_bytes 4200\n"));
    assert_non_null(
        strstr(out.data, "bouchon_kafka_consumer_lag{topic=\"t\",partition=\"0\"} 5\n"));
    assert_null(strstr(out.data, "partition=\"1\""));
    assert_null(strstr(out.data, "partition=\"-1\""));
    assert_non_null(strstr(out.data, "bouchon_kafka_rx_messages_total 0\n"));
    assert_non_null(strstr(out.data, "bouchon_kafka_tx_messages_total 1000\n"));
    bch_buf_release(&out);
    bch_metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_props_file),       cmocka_unit_test(test_props_errors),
        cmocka_unit_test(test_cli_precedence),   cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_end_and_rejected), cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test(test_time_and_utf8),    cmocka_unit_test(test_stats_to_metrics),
    };

    bch_log_level = BCH_LOG_ERROR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
