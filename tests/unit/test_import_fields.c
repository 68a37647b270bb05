/*
 * test_import_fields.c - the cell parsers of import/fields.c and the
 * streaming line reader of import/stream.c.
 *
 * Every spelling the métropole's files use is listed with what it must
 * give: "5110.0", French percent strings ("-0,7%"), "None", "#N/A", free
 * text with DD/MM/YYYY dates, impossible dates; the number parser is
 * checked against strtod on the real score spellings; the line reader on
 * every buffer boundary a CSV row can fall on, on corrupt and truncated
 * gzip streams (no complete line lost before the error) and on over-long
 * lines (skipped, the next lines read).
 */
#include "core/compat.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "core/timeutil.h"
#include "import/fields.h"
#include "import/stream.h"

static void test_numbers(void **state)
{
    static const struct {
        const char *in;
        enum bch_cell rc;
        double v;
    } cases[] = {
        {"1", BCH_CELL_OK, 1},         {"0", BCH_CELL_OK, 0},
        {"5110.0", BCH_CELL_OK, 5110}, {"-12.5", BCH_CELL_OK, -12.5},
        {"+3", BCH_CELL_OK, 3},        {" 42 ", BCH_CELL_OK, 42},
        {"1e3", BCH_CELL_OK, 1000},    {"1.", BCH_CELL_OK, 1},
        {".5", BCH_CELL_OK, 0.5},      {"", BCH_CELL_NULL, 0},
        {"None", BCH_CELL_NULL, 0},    {"null", BCH_CELL_NULL, 0},
        {"#N/A", BCH_CELL_NA, 0},      {"nan", BCH_CELL_BAD, 0},
        {"inf", BCH_CELL_BAD, 0},      {"0x10", BCH_CELL_BAD, 0},
        {"12abc", BCH_CELL_BAD, 0},    {"-", BCH_CELL_BAD, 0},
        {".", BCH_CELL_BAD, 0},        {"1e", BCH_CELL_BAD, 0},
        {"-0,7%", BCH_CELL_BAD, 0}, /* plain parser: no French spelling */
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(cases); i++) {
        double v = -999;
        enum bch_cell rc = bch_cell_double(cases[i].in, strlen(cases[i].in), &v);

        if (rc != cases[i].rc || (rc == BCH_CELL_OK && v != cases[i].v)) {
            fail_msg("'%s': rc %d v %g, want rc %d v %g", cases[i].in, rc, v, cases[i].rc,
                     cases[i].v);
        }
    }
}

/* The fast path must give exactly strtod's double on the score spellings. */
static void test_numbers_match_strtod(void **state)
{
    static const char *const spellings[] = {
        "1.08333333333333",
        "1.16666666666667",
        "2.83333333333333",
        "5.33333333333333",
        "3.00000000000001",
        "0.958333333333333",
        "633.992128279883",
        "1170.925",
        "0.1",
        "0.3",
        "2.9999999999999996",
        "123456789012345678",
        "1e-5",
        "538.646131805158",
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(spellings); i++) {
        double v = 0, want = strtod(spellings[i], NULL);

        assert_int_equal(bch_cell_double(spellings[i], strlen(spellings[i]), &v), BCH_CELL_OK);
        if (v != want) {
            fail_msg("'%s': %.17g, strtod %.17g", spellings[i], v, want);
        }
    }
    /* fields are not NUL-terminated: the length is the bound */
    {
        double v = 0;

        assert_int_equal(bch_cell_double("12345", 2, &v), BCH_CELL_OK);
        assert_true(v == 12);
    }
}

static void test_integers(void **state)
{
    int64_t v = 0;

    (void)state;
    assert_int_equal(bch_cell_int64("2821", 4, &v), BCH_CELL_OK);
    assert_int_equal(v, 2821);
    assert_int_equal(bch_cell_int64("12.0", 4, &v), BCH_CELL_OK);
    assert_int_equal(v, 12);
    assert_int_equal(bch_cell_int64("12.5", 4, &v), BCH_CELL_BAD);
    assert_int_equal(bch_cell_int64("", 0, &v), BCH_CELL_NULL);
    assert_int_equal(bch_cell_int64("#N/A", 4, &v), BCH_CELL_NA);
}

/* Annual counts: "-0,7%" and "10,0%" (2018), dotted decimals (2023). */
static void test_french_numbers(void **state)
{
    static const struct {
        const char *in;
        enum bch_cell rc;
        double v;
    } cases[] = {
        {"-0,7%", BCH_CELL_OK, -0.7}, {"10,0%", BCH_CELL_OK, 10.0}, {"16.1", BCH_CELL_OK, 16.1},
        {"-2.8", BCH_CELL_OK, -2.8},  {"5 %", BCH_CELL_OK, 5},      {"8,4769", BCH_CELL_OK, 8.4769},
        {"", BCH_CELL_NULL, 0},       {"#N/A", BCH_CELL_NA, 0},     {"1,2.3", BCH_CELL_BAD, 0},
        {"%", BCH_CELL_BAD, 0},       {"abc%", BCH_CELL_BAD, 0},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(cases); i++) {
        double v = -999;
        enum bch_cell rc = bch_cell_fr_number(cases[i].in, strlen(cases[i].in), &v);

        if (rc != cases[i].rc || (rc == BCH_CELL_OK && fabs(v - cases[i].v) > 1e-12)) {
            fail_msg("'%s': rc %d v %g, want rc %d v %g", cases[i].in, rc, v, cases[i].rc,
                     cases[i].v);
        }
    }
}

static void test_codes(void **state)
{
    (void)state;
    assert_int_equal(bch_cell_code("33449", 5), BCH_CELL_OK);
    assert_int_equal(bch_cell_code("#N/A", 4), BCH_CELL_NA);
    assert_int_equal(bch_cell_code(" #N/A ", 6), BCH_CELL_NA);
    assert_int_equal(bch_cell_code("None", 4), BCH_CELL_NULL);
    assert_int_equal(bch_cell_code("", 0), BCH_CELL_NULL);
}

static int64_t ymd(int y, int m, int d)
{
    return bch_days_from_civil(y, m, d);
}

/* Campaign dates from the free text `semaine` of pc_capte_ponct_p. */
static void test_campaign_dates(void **state)
{
    static const struct {
        const char *in;
        int n;
        int y1, m1, d1, y2, m2, d2;
    } cases[] = {
        {"comptage du 28/02/2015 au 06/03/2015", 2, 2015, 2, 28, 2015, 3, 6},
        {"du lundi 05/09/2022 au dimanche 11/09/2022", 2, 2022, 9, 5, 2022, 9, 11},
        {"compatge du 26/01/2015 au 01/02/2015", 2, 2015, 1, 26, 2015, 2, 1},
        {"le 29/02/2016", 1, 2016, 2, 29, 2016, 2, 29},
        {"du 31/02/2015 au 06/03/2015", 1, 2015, 3, 6, 2015, 3, 6}, /* 31/02 is no date */
        {"semaine 12", 0, 0, 0, 0, 0, 0, 0},
        {"123/04/20155", 0, 0, 0, 0, 0, 0, 0},
        {"", 0, 0, 0, 0, 0, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(cases); i++) {
        int64_t a = -1, b = -1;
        int n = bch_cell_dmy_dates(cases[i].in, strlen(cases[i].in), &a, &b);

        if (n != cases[i].n) {
            fail_msg("'%s': %d dates, want %d", cases[i].in, n, cases[i].n);
        }
        if (n > 0) {
            assert_int_equal(a, ymd(cases[i].y1, cases[i].m1, cases[i].d1));
            assert_int_equal(b, ymd(cases[i].y2, cases[i].m2, cases[i].d2));
        }
    }
}

static void test_ymd(void **state)
{
    int64_t d = 0;

    (void)state;
    assert_int_equal(bch_cell_ymd("2024-10-07", 10, &d), 0);
    assert_int_equal(d, ymd(2024, 10, 7));
    assert_int_equal(bch_cell_ymd("2024-02-30", 10, &d), -1);
    assert_int_equal(bch_cell_ymd("2024-1-07", 9, &d), -1);
    assert_int_equal(bch_cell_ymd("None", 4, &d), -1);
}

static void test_json_values(void **state)
{
    json_t *o = json_loads("{\"a\": 5110.0, \"b\": \"-0,7%\", \"c\": [-3.0, 3.0], \"d\": null, "
                           "\"e\": \"2015\", \"f\": 7, \"g\": true}",
                           0, NULL);
    double v = 0;
    int64_t i = 0;
    char buf[32];

    (void)state;
    assert_non_null(o);
    assert_int_equal(bch_json_double(json_object_get(o, "a"), false, &v), BCH_CELL_OK);
    assert_true(v == 5110);
    assert_int_equal(bch_json_double(json_object_get(o, "b"), true, &v), BCH_CELL_OK);
    assert_true(fabs(v + 0.7) < 1e-12);
    assert_int_equal(bch_json_double(json_object_get(o, "b"), false, &v), BCH_CELL_BAD);
    /* 2018: vit_evo mistyped as a geo point */
    assert_int_equal(bch_json_double(json_object_get(o, "c"), true, &v), BCH_CELL_BAD);
    assert_int_equal(bch_json_double(json_object_get(o, "d"), true, &v), BCH_CELL_NULL);
    assert_int_equal(bch_json_double(json_object_get(o, "zz"), true, &v), BCH_CELL_NULL);
    assert_int_equal(bch_json_int64(json_object_get(o, "e"), &i), BCH_CELL_OK);
    assert_int_equal(i, 2015);
    assert_int_equal(bch_json_int64(json_object_get(o, "a"), &i), BCH_CELL_OK);
    assert_int_equal(i, 5110);
    assert_int_equal(bch_json_int64(json_object_get(o, "g"), &i), BCH_CELL_BAD);
    assert_int_equal(bch_json_text(json_object_get(o, "f"), buf, sizeof(buf)), BCH_CELL_OK);
    assert_string_equal(buf, "7");
    json_decref(o);
}

/* The line reader hands out whole lines whatever the file size, and
 * numbers them; a last line without a newline is returned too. */
static void test_lines_regions(void **state)
{
    char path[] = "/tmp/bouchon-test-lines-XXXXXX";
    int fd = mkstemp(path);
    size_t nlines = 300000, total = 0;
    char err[256];
    struct bch_lines *l;
    const char *data;
    size_t len;
    long first, expect_line = 1, seen = 0;
    FILE *fp;

    (void)state;
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    for (size_t i = 0; i < nlines; i++) {
        /* lines of varying length so region ends fall everywhere */
        total +=
            (size_t)fprintf(fp, "%zu,\"2020-01-01T00:00:00+01:00\",%.*s%s", i, (int)(i % 37),
                            "1.0833333333333333333333333333333333333", i + 1 < nlines ? "\n" : "");
    }
    fclose(fp);
    l = bch_lines_open(path, err, sizeof(err));
    assert_non_null(l);
    while (bch_lines_next(l, &data, &len, &first, err, sizeof(err)) == 1) {
        assert_int_equal(first, expect_line);
        assert_true(len > 0);
        /* a region ends on a newline, except the very last one */
        for (size_t i = 0; i < len; i++) {
            if (data[i] == '\n') {
                expect_line++;
                seen++;
            }
        }
        if (data[len - 1] != '\n') {
            seen++; /* last line */
        }
        total -= len;
    }
    assert_int_equal(total, 0);
    assert_int_equal(seen, (long)nlines);
    bch_lines_close(l);
    unlink(path);
}

/* Writes n score-like lines gzip-compressed to path; returns the file's size. */
static long write_gz(const char *path, int n)
{
    gzFile gz = gzopen(path, "wb");
    FILE *f;
    long size;

    assert_non_null(gz);
    for (int i = 0; i < n; i++) {
        gzprintf(gz, "%d,\"2020-01-01T00:00:00+01:00\",1.5\n", 2821 + i);
    }
    gzclose(gz);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    return size;
}

/* Reads path to the end: complete lines seen, the last return code, err. */
static int read_lines(const char *path, long *lines, char *err, size_t errlen)
{
    struct bch_lines *l = bch_lines_open(path, err, errlen);
    const char *data;
    size_t len;
    long first;
    int rc;

    assert_non_null(l);
    *lines = 0;
    while ((rc = bch_lines_next(l, &data, &len, &first, err, errlen)) == 1) {
        for (size_t i = 0; i < len; i++) {
            *lines += data[i] == '\n';
        }
    }
    bch_lines_close(l);
    return rc;
}

static void test_lines_gzip_crc_keeps_every_line(void **state)
{
    char path[] = "/tmp/bouchon-test-crc-XXXXXX";
    int fd = mkstemp(path);
    long size, lines;
    char err[512];
    FILE *f;
    int c;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    size = write_gz(path, 300000); /* several refills: the error comes with the last one */
    assert_int_equal(read_lines(path, &lines, err, sizeof(err)), 0);
    assert_int_equal(lines, 300000);
    /* flip a byte of the CRC32 of the trailer */
    f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, size - 8, SEEK_SET);
    c = fgetc(f);
    fseek(f, size - 8, SEEK_SET);
    fputc(c ^ 0xFF, f);
    fclose(f);
    assert_int_equal(read_lines(path, &lines, err, sizeof(err)), -1);
    assert_int_equal(lines, 300000);
    assert_non_null(strstr(err, "incorrect data check"));
    assert_non_null(strstr(err, "kept"));
    unlink(path);
}

static void test_lines_gzip_truncated(void **state)
{
    char path[] = "/tmp/bouchon-test-trunc-XXXXXX";
    int fd = mkstemp(path);
    long size, lines;
    char err[512];

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    size = write_gz(path, 100000);
    assert_int_equal(truncate(path, size / 2), 0);
    assert_int_equal(read_lines(path, &lines, err, sizeof(err)), -1);
    assert_true(lines > 1000);
    assert_non_null(strstr(err, "truncated"));
    unlink(path);
}

static void test_lines_over_long_line_skipped(void **state)
{
    char path[] = "/tmp/bouchon-test-long-XXXXXX";
    int fd = mkstemp(path);
    struct bch_lines *l;
    const char *data;
    size_t len;
    long first;
    char err[256];
    FILE *fp;

    (void)state;
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    fputs("a\n", fp);
    for (int i = 0; i < 5000; i++) {
        fputc('x', fp);
    }
    fputs("\nb\n", fp);
    fclose(fp);
    l = bch_lines_open(path, err, sizeof(err));
    assert_non_null(l);
    bch_lines_set_max_line(l, 1024);
    assert_int_equal(bch_lines_next(l, &data, &len, &first, err, sizeof(err)), 1);
    assert_int_equal(first, 1);
    assert_int_equal(len, 2);
    assert_int_equal(bch_lines_next(l, &data, &len, &first, err, sizeof(err)), 2);
    assert_int_equal(first, 2);
    assert_non_null(strstr(err, "longer than 1024"));
    assert_int_equal(bch_lines_next(l, &data, &len, &first, err, sizeof(err)), 1);
    assert_int_equal(first, 3);
    assert_int_equal(len, 2);
    assert_memory_equal(data, "b\n", 2);
    assert_int_equal(bch_lines_next(l, &data, &len, &first, err, sizeof(err)), 0);
    bch_lines_close(l);
    unlink(path);
}

static void test_hash_tags_kind(void **state)
{
    char path[] = "/tmp/bouchon-test-hash-XXXXXX";
    int fd = mkstemp(path);
    char a[33], b[33], c[33], err[128];

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x,y\n", 4), 4);
    close(fd);
    assert_int_equal(bch_import_hash_file(path, "counts", a, err, sizeof(err)), 0);
    assert_int_equal(bch_import_hash_file(path, "counts", b, err, sizeof(err)), 0);
    assert_int_equal(bch_import_hash_file(path, "works", c, err, sizeof(err)), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    unlink(path);
    assert_int_equal(bch_import_hash_file(path, "counts", a, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_match_strtod),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_french_numbers),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_campaign_dates),
        cmocka_unit_test(test_ymd),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_lines_regions),
        cmocka_unit_test(test_hash_tags_kind),
        cmocka_unit_test(test_lines_gzip_crc_keeps_every_line),
        cmocka_unit_test(test_lines_gzip_truncated),
        cmocka_unit_test(test_lines_over_long_line_skipped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
