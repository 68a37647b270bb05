/*
 * test_metrics.c - the Prometheus registry and text encoder of core/metrics.c.
 *
 * The exposition text (format 0.0.4) is compared line for line for each
 * metric type, label values are checked escaped as the format requires
 * (backslash, double quote, newline) and cut safely when the buffer is
 * small, and concurrent writers are checked not to lose increments.
 * Bucket bounds are chosen exactly representable (0.5, 1, 2.5) so that the
 * expected text does not depend on how doubles are printed.
 */
#include "core/compat.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/metrics.h"

/* Renders the registry into a fresh string (freed by the caller). */
static char *render(void)
{
    struct bch_buf b;

    bch_buf_init(&b, 1 << 20);
    assert_int_equal(bch_metrics_render(&b), 0);
    assert_int_equal(bch_buf_add(&b, "", 0), 0); /* data non-NULL even when empty */
    return bch_buf_take(&b);
}

static void assert_render(const char *want)
{
    char *got = render();

    assert_string_equal(got, want);
    free(got);
}

static int setup(void **state)
{
    (void)state;
    bch_metrics_reset();
    return 0;
}

static void test_empty(void **state)
{
    (void)state;
    assert_render("");
}

static void test_counter(void **state)
{
    struct bch_metric *c = bch_metric_counter("t_polls_total", "Polls by outcome");

    (void)state;
    assert_non_null(c);
    bch_metric_add(c, "outcome=\"ok\"", 1);
    bch_metric_add(c, "outcome=\"ok\"", 2);
    bch_metric_add(c, "outcome=\"error\"", 1);
    assert_render("# HELP t_polls_total Polls by outcome\n"
                  "# TYPE t_polls_total counter\n"
                  "t_polls_total{outcome=\"ok\"} 3\n"
                  "t_polls_total{outcome=\"error\"} 1\n");
}

static void test_gauge_unlabelled_and_values(void **state)
{
    struct bch_metric *g = bch_metric_gauge("t_share", "A share");

    (void)state;
    bch_metric_set(g, NULL, 0.25);
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share 0.25\n");
    bch_metric_set(g, "", -3); /* "" and NULL are the same series */
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share -3\n");
    bch_metric_set(g, NULL, NAN);
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share NaN\n");
    bch_metric_set(g, NULL, INFINITY);
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share +Inf\n");
    bch_metric_set(g, NULL, -INFINITY);
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share -Inf\n");
    bch_metric_set(g, NULL, 1766048450);
    assert_render("# HELP t_share A share\n# TYPE t_share gauge\nt_share 1766048450\n");
    bch_metric_set(g, NULL, 0.1);
    {
        char *got = render();
        const char *v = strrchr(got, ' ');

        assert_non_null(v);
        assert_true(strtod(v + 1, NULL) == 0.1); /* round-trips exactly */
        free(got);
    }
}

static void test_gauge_clear(void **state)
{
    struct bch_metric *g = bch_metric_gauge("t_segments", "Segments per state");

    (void)state;
    bch_metric_set(g, "state=\"FLUIDE\"", 432);
    bch_metric_set(g, "state=\"DENSE\"", 16);
    bch_metric_clear(g);
    /* A family without series keeps its HELP and TYPE (valid exposition). */
    assert_render("# HELP t_segments Segments per state\n# TYPE t_segments gauge\n");
    bch_metric_set(g, "state=\"EMBOUTEILLE\"", 22);
    assert_render("# HELP t_segments Segments per state\n# TYPE t_segments gauge\n"
                  "t_segments{state=\"EMBOUTEILLE\"} 22\n");
}

static void test_histogram(void **state)
{
    static const double bounds[] = {0.5, 1, 2.5};
    struct bch_metric *h =
        bch_metric_histogram("t_duration_seconds", "Durations", bounds, BCH_ARRAY_LEN(bounds));

    (void)state;
    bch_metric_observe(h, "route=\"/a\"", 0.25);
    bch_metric_observe(h, "route=\"/a\"", 0.5); /* on a bound: counted in it (le) */
    bch_metric_observe(h, "route=\"/a\"", 2);
    bch_metric_observe(h, "route=\"/a\"", 10);
    bch_metric_observe(h, NULL, 1);
    assert_render("# HELP t_duration_seconds Durations\n"
                  "# TYPE t_duration_seconds histogram\n"
                  "t_duration_seconds_bucket{route=\"/a\",le=\"0.5\"} 2\n"
                  "t_duration_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
                  "t_duration_seconds_bucket{route=\"/a\",le=\"2.5\"} 3\n"
                  "t_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                  "t_duration_seconds_sum{route=\"/a\"} 12.75\n"
                  "t_duration_seconds_count{route=\"/a\"} 4\n"
                  "t_duration_seconds_bucket{le=\"0.5\"} 0\n"
                  "t_duration_seconds_bucket{le=\"1\"} 1\n"
                  "t_duration_seconds_bucket{le=\"2.5\"} 1\n"
                  "t_duration_seconds_bucket{le=\"+Inf\"} 1\n"
                  "t_duration_seconds_sum 1\n"
                  "t_duration_seconds_count 1\n");
}

static void test_families_in_creation_order_and_unique(void **state)
{
    struct bch_metric *a = bch_metric_gauge("t_b", "B");
    struct bch_metric *b = bch_metric_counter("t_a_total", "A");

    (void)state;
    assert_ptr_equal(bch_metric_gauge("t_b", "B again"), a);
    assert_ptr_not_equal(a, b);
    bch_metric_set(a, NULL, 1);
    bch_metric_add(b, NULL, 2);
    assert_render("# HELP t_b B\n# TYPE t_b gauge\nt_b 1\n"
                  "# HELP t_a_total A\n# TYPE t_a_total counter\nt_a_total 2\n");
    /* NULL families (a full registry) are accepted and ignored */
    bch_metric_add(NULL, NULL, 1);
    bch_metric_set(NULL, NULL, 1);
    bch_metric_observe(NULL, NULL, 1);
    bch_metric_clear(NULL);
}

static void test_label_escaping(void **state)
{
    char buf[128];

    (void)state;
    bch_metrics_label(buf, sizeof(buf), "reason", "plain");
    assert_string_equal(buf, "reason=\"plain\"");
    bch_metrics_label(buf, sizeof(buf), "reason", "");
    assert_string_equal(buf, "reason=\"\"");
    bch_metrics_label(buf, sizeof(buf), "reason", "a\"b\\c\nd");
    assert_string_equal(buf, "reason=\"a\\\"b\\\\c\\nd\"");
    bch_metrics_label(buf, sizeof(buf), "route", "/api/v1/segments/{gid}/history");
    assert_string_equal(buf, "route=\"/api/v1/segments/{gid}/history\"");
    bch_metrics_label(buf, sizeof(buf), "commune", "Mérignac"); /* UTF-8 as is */
    assert_string_equal(buf, "commune=\"Mérignac\"");
}

static void test_label_truncation(void **state)
{
    char buf[12];

    (void)state;
    /* Cut short, but always a closed, NUL-terminated label. */
    bch_metrics_label(buf, sizeof(buf), "k", "0123456789abcdef");
    assert_true(strlen(buf) < sizeof(buf));
    assert_memory_equal(buf, "k=\"", 3);
    assert_int_equal(buf[strlen(buf) - 1], '"');
    /* An escape is never split in two. */
    for (size_t cap = 5; cap < sizeof(buf); cap++) {
        size_t n;

        bch_metrics_label(buf, cap, "k", "\"\"\"\"\"\"\"\"");
        n = strlen(buf);
        assert_true(n < cap);
        assert_int_equal(buf[n - 1], '"');
        assert_int_equal((n - 4) % 2, 0); /* k=" + pairs of \" + closing quote */
    }
    bch_metrics_label(buf, 3, "key", "v"); /* not even the key fits */
    assert_string_equal(buf, "");
}

static void test_escaped_label_renders(void **state)
{
    struct bch_metric *g = bch_metric_gauge("t_rejected_records", "Rejected by reason");
    char label[128];

    (void)state;
    bch_metrics_label(label, sizeof(label), "reason", "bad \"gid\"\nline");
    bch_metric_set(g, label, 3);
    assert_render("# HELP t_rejected_records Rejected by reason\n"
                  "# TYPE t_rejected_records gauge\n"
                  "t_rejected_records{reason=\"bad \\\"gid\\\"\\nline\"} 3\n");
}

static void test_render_overflow(void **state)
{
    struct bch_metric *c = bch_metric_counter("t_x_total", "X");
    struct bch_buf b;

    (void)state;
    bch_metric_add(c, "a=\"1\"", 1);
    bch_buf_init(&b, 16);
    assert_int_equal(bch_metrics_render(&b), -1);
    bch_buf_release(&b);
}

#define THREADS 4
#define ADDS    20000

static void *adder(void *arg)
{
    struct bch_metric **m = arg;

    for (int i = 0; i < ADDS; i++) {
        bch_metric_add(m[0], "k=\"v\"", 1);
        bch_metric_observe(m[1], NULL, 0.75);
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    static const double bounds[] = {0.5, 1};
    struct bch_metric *m[2];
    pthread_t t[THREADS];
    char want[1024];

    (void)state;
    m[0] = bch_metric_counter("t_c_total", "C");
    m[1] = bch_metric_histogram("t_h_seconds", "H", bounds, 2);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        char *mid = render(); /* rendering while others write is safe */

        free(mid);
        pthread_join(t[i], NULL);
    }
    snprintf(want, sizeof(want),
             "# HELP t_c_total C\n# TYPE t_c_total counter\nt_c_total{k=\"v\"} %d\n"
             "# HELP t_h_seconds H\n# TYPE t_h_seconds histogram\n"
             "t_h_seconds_bucket{le=\"0.5\"} 0\nt_h_seconds_bucket{le=\"1\"} %d\n"
             "t_h_seconds_bucket{le=\"+Inf\"} %d\nt_h_seconds_sum %d\nt_h_seconds_count %d\n",
             THREADS * ADDS, THREADS * ADDS, THREADS * ADDS, THREADS * ADDS * 3 / 4,
             THREADS * ADDS);
    assert_render(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty, setup),
        cmocka_unit_test_setup(test_counter, setup),
        cmocka_unit_test_setup(test_gauge_unlabelled_and_values, setup),
        cmocka_unit_test_setup(test_gauge_clear, setup),
        cmocka_unit_test_setup(test_histogram, setup),
        cmocka_unit_test_setup(test_families_in_creation_order_and_unique, setup),
        cmocka_unit_test_setup(test_label_escaping, setup),
        cmocka_unit_test_setup(test_label_truncation, setup),
        cmocka_unit_test_setup(test_escaped_label_renders, setup),
        cmocka_unit_test_setup(test_render_overflow, setup),
        cmocka_unit_test_setup(test_concurrent_writers, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    bch_metrics_reset();
    return rc;
}
