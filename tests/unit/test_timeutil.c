/*
 * test_timeutil.c - ISO-8601 parsing, formatting and Europe/Paris time.
 *
 * Expected instants are computed here by a deliberately naive calendar (day
 * counting year by year from 1970) and the DST rule is re-derived from a
 * weekday counter, so that the tests do not share code or formulas with
 * core/timeutil.c.  A few absolute epoch values, computed outside the
 * project, anchor the naive calendar itself.
 */
#include "core/compat.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "core/timeutil.h"

/* ----------------------------------------------------- naive calendar */

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int64_t y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 by counting whole years and months. */
static int64_t ref_days(int64_t y, int m, int d)
{
    int64_t n = 0;

    for (int64_t k = 1970; k < y; k++) {
        n += leap(k) ? 366 : 365;
    }
    for (int64_t k = y; k < 1970; k++) {
        n -= leap(k) ? 366 : 365;
    }
    for (int k = 1; k < m; k++) {
        n += mdays(y, k);
    }
    return n + d - 1;
}

static bch_time ref_utc(int64_t y, int m, int d, int hh, int mi, int ss)
{
    return ref_days(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss;
}

/* ISO weekday (1 = Monday) by counting from 1970-01-01, a Thursday. */
static int ref_weekday(int64_t y, int m, int d)
{
    int64_t n = ref_days(y, m, d);

    return (int)((((n + 3) % 7) + 7) % 7) + 1;
}

/* Day of month of the last Sunday of (y, m), by walking back from the end. */
static int ref_last_sunday(int64_t y, int m)
{
    int d = mdays(y, m);

    while (ref_weekday(y, m, d) != 7) {
        d--;
    }
    return d;
}

/* Paris offset at UTC instant t: summer between the last Sundays of March
 * and October, 01:00 UTC each (transitions cached per year). */
static int ref_offset(bch_time t)
{
    static bch_time cache[400][2];
    int64_t y = 1970 + t / 31556952;

    while (ref_utc(y + 1, 1, 1, 0, 0, 0) <= t) {
        y++;
    }
    while (ref_utc(y, 1, 1, 0, 0, 0) > t) {
        y--;
    }
    assert_true(y >= 1900 && y < 2300);
    if (cache[y - 1900][0] == 0) {
        cache[y - 1900][0] = ref_utc(y, 3, ref_last_sunday(y, 3), 1, 0, 0);
        cache[y - 1900][1] = ref_utc(y, 10, ref_last_sunday(y, 10), 1, 0, 0);
    }
    return t >= cache[y - 1900][0] && t < cache[y - 1900][1] ? 7200 : 3600;
}

static void test_anchors(void **state)
{
    (void)state;
    /* Values computed outside the project (Python datetime, UTC). */
    assert_int_equal(ref_utc(2021, 3, 28, 1, 0, 0), 1616893200);
    assert_int_equal(ref_utc(2021, 10, 31, 1, 0, 0), 1635642000);
    assert_int_equal(ref_utc(2025, 12, 18, 9, 0, 50), 1766048450);
    assert_int_equal(ref_utc(2019, 3, 31, 1, 0, 0), 1553994000);
    assert_int_equal(ref_utc(2020, 10, 25, 1, 0, 0), 1603587600);
    assert_int_equal(ref_weekday(2025, 12, 18), 4);
    assert_int_equal(ref_last_sunday(2021, 3), 28);
    assert_int_equal(ref_last_sunday(2021, 10), 31);
}

/* ------------------------------------------------------------ parsing */

struct parse_case {
    const char *in;
    bool allow_local;
    int rc;
    /* expected UTC instant when rc == 0 */
    int y, mo, d, hh, mi, ss;
    const char *err; /* substring of the reason when rc != 0 */
};

/* clang-format off */
#define OK(in, y, mo, d, hh, mi, ss)      {in, false, 0, y, mo, d, hh, mi, ss, NULL}
#define OKLOCAL(in, y, mo, d, hh, mi, ss) {in, true, 0, y, mo, d, hh, mi, ss, NULL}
#define BAD(in, why)                      {in, false, -1, 0, 0, 0, 0, 0, 0, why}
#define BADLOCAL(in, why)                 {in, true, -1, 0, 0, 0, 0, 0, 0, why}
/* clang-format on */

static const struct parse_case parse_cases[] = {
    /* the offsets of the feeds (DATA_FORMATS.md §1.1, §8) */
    OK("2025-12-18T10:00:50+01:00", 2025, 12, 18, 9, 0, 50),
    OK("2025-12-18T09:00:50+00:00", 2025, 12, 18, 9, 0, 50),
    OK("2025-12-18T09:00:50Z", 2025, 12, 18, 9, 0, 50),
    OK("2025-12-18T09:00:50z", 2025, 12, 18, 9, 0, 50),
    OK("2025-06-18T11:00:50+02:00", 2025, 6, 18, 9, 0, 50),
    OK("2021-01-11T06:00:00+0100", 2021, 1, 11, 5, 0, 0),
    OK("2021-01-11T06:00:00+01", 2021, 1, 11, 5, 0, 0),
    OK("2021-01-11T06:00:00-0530", 2021, 1, 11, 11, 30, 0),
    OK("2021-01-11T06:00:00-05:00", 2021, 1, 11, 11, 0, 0),
    OK("2021-01-11T06:00:00+14:00", 2021, 1, 10, 16, 0, 0),
    /* the date-time may cross a day, month and year boundary */
    OK("2022-01-01T00:30:00+01:00", 2021, 12, 31, 23, 30, 0),
    OK("2024-02-29T23:59:59-01:00", 2024, 3, 1, 0, 59, 59),
    /* spellings */
    OK("2025-12-18 10:00:50+01:00", 2025, 12, 18, 9, 0, 50),
    OK("2025-12-18T10:00+01:00", 2025, 12, 18, 9, 0, 0),
    OK("2025-12-18T10:00Z", 2025, 12, 18, 10, 0, 0),
    OK("2022-03-10T10:45:34.660+01:00", 2022, 3, 10, 9, 45, 34),
    OK("2022-03-10T10:45:34,999999Z", 2022, 3, 10, 10, 45, 34),
    OK("2022-03-10T10:45:34.1Z", 2022, 3, 10, 10, 45, 34),
    OK("2025-12-18T09:00:50Z  \t", 2025, 12, 18, 9, 0, 50),
    OK("2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 59),
    /* date only: midnight UTC, with or without allow_local */
    OK("2011-06-09", 2011, 6, 9, 0, 0, 0),
    OKLOCAL("2011-06-09", 2011, 6, 9, 0, 0, 0),
    OK("2011-06-09 ", 2011, 6, 9, 0, 0, 0),
    /* leap years */
    OK("2024-02-29T12:00:00Z", 2024, 2, 29, 12, 0, 0),
    OK("2000-02-29", 2000, 2, 29, 0, 0, 0),
    OK("1970-01-01T00:00:00Z", 1970, 1, 1, 0, 0, 0),
    OK("1969-12-31T23:59:59Z", 1969, 12, 31, 23, 59, 59),
    /* local time (Europe/Paris), only when allowed */
    OKLOCAL("2025-12-18T10:00:50", 2025, 12, 18, 9, 0, 50),
    OKLOCAL("2025-07-01T10:00:00", 2025, 7, 1, 8, 0, 0),
    OKLOCAL("2025-07-01T10:00:00+01:00", 2025, 7, 1, 9, 0, 0), /* an offset wins */
    OKLOCAL("2021-10-31T02:30:00", 2021, 10, 31, 0, 30, 0),    /* repeated hour: summer */
    OKLOCAL("2021-03-28T02:30:00", 2021, 3, 28, 1, 30, 0),     /* missing hour: winter */
    BAD("2025-12-18T10:00:50", "offset"),
    BAD("2025-12-18T10:00", "offset"),
    BAD("2025-12-18 10:00:50", "offset"),
    /* bad dates */
    BAD("2025-13-01", "range"),
    BAD("2025-00-10", "range"),
    BAD("2025-01-00", "range"),
    BAD("2025-01-32T00:00:00Z", "range"),
    BAD("2025-04-31T00:00:00Z", "range"),
    BAD("2025-02-29T00:00:00Z", "range"),
    BAD("2023-02-29", "range"),
    BAD("1900-02-29", "range"),
    BADLOCAL("2100-02-29T00:00:00", "range"),
    BAD("2025-1-01", "ISO"),
    BAD("2025/12/18", "ISO"),
    BAD("25-12-18", "ISO"),
    BAD("2025-12-1", "ISO"),
    BAD("abcd-ef-gh", "ISO"),
    BAD("", "ISO"),
    BAD("   ", "ISO"),
    BAD(" 2025-12-18", "ISO"),
    /* bad times */
    BAD("2025-12-18T24:00:00Z", "range"),
    BAD("2025-12-18T23:60:00Z", "range"),
    BAD("2025-12-18T23:59:61Z", "range"),
    BAD("2025-12-18T10", "HH:MM"),
    BAD("2025-12-18T10:0", "HH:MM"),
    BAD("2025-12-18T1a:00Z", "HH:MM"),
    BAD("2025-12-18T10-00Z", "HH:MM"),
    BAD("2025-12-18X10:00:00Z", "'T'"),
    BAD("2025-12-18T10:00:5Z", "seconds"),
    BAD("2025-12-18T10:00:50.Z", "fractional"),
    BAD("2025-12-18T10:00:50.", "fractional"),
    /* bad offsets and trailing junk */
    BAD("2025-12-18T10:00:50Zx", "after 'Z'"),
    BAD("2025-12-18T10:00:50ZZ", "after 'Z'"),
    BAD("2025-12-18T10:00:50+01:00x", "trailing"),
    BAD("2025-12-18T10:00:50+01:00 x", "trailing"),
    BAD("2025-12-18T10:00:50+01:00:00", "trailing"),
    BAD("2025-12-18T10:00:50+010", "offset"),
    BAD("2025-12-18T10:00:50+01:0", "offset"),
    BAD("2025-12-18T10:00:50+01:", "offset"),
    BAD("2025-12-18T10:00:50+1:00", "offset"),
    BAD("2025-12-18T10:00:50+", "offset"),
    BAD("2025-12-18T10:00:50+15:00", "range"),
    BAD("2025-12-18T10:00:50+01:60", "range"),
    BAD("2025-12-18T10:00:50 +01:00", "unexpected"),
    BAD("2025-12-18T10:00:50UTC", "unexpected"),
    BAD("2025-12-18T10:00:50.5x", "unexpected"),
    BAD("2025-12-18T10:00.5Z", "unexpected"),
};

static void test_parse_table(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        bch_time t = 12345;
        char err[96] = "";
        int rc = bch_time_parse(c->in, strlen(c->in), c->allow_local, &t, err, sizeof(err));

        if (rc != c->rc) {
            print_error("'%s' (local %d): rc %d, want %d (%s)\n", c->in, c->allow_local, rc, c->rc,
                        err);
            failures++;
        } else if (rc == 0) {
            bch_time want = ref_utc(c->y, c->mo, c->d, c->hh, c->mi, c->ss);

            if (t != want) {
                print_error("'%s': %lld, want %lld\n", c->in, (long long)t, (long long)want);
                failures++;
            }
        } else {
            if (!strstr(err, c->err)) {
                print_error("'%s': reason '%s' lacks '%s'\n", c->in, err, c->err);
                failures++;
            }
            if (t != 12345) {
                print_error("'%s': *out written on failure\n", c->in);
                failures++;
            }
        }
    }
    assert_int_equal(failures, 0);
}

static void test_parse_bounds(void **state)
{
    static const char s[] = "2025-12-18T10:00:50+01:00GARBAGE";
    bch_time t;

    (void)state;
    /* Only len bytes are read. */
    assert_int_equal(bch_time_parse(s, 25, false, &t, NULL, 0), 0);
    assert_int_equal(t, ref_utc(2025, 12, 18, 9, 0, 50));
    assert_int_equal(bch_time_parse(s, 19, true, &t, NULL, 0), 0);
    assert_int_equal(t, ref_utc(2025, 12, 18, 9, 0, 50));
    assert_int_equal(bch_time_parse(s, 10, false, &t, NULL, 0), 0);
    assert_int_equal(t, ref_utc(2025, 12, 18, 0, 0, 0));
    assert_int_equal(bch_time_parse(s, sizeof(s) - 1, false, &t, NULL, 0), -1);
    for (size_t len = 0; len < 10; len++) {
        assert_int_equal(bch_time_parse(s, len, true, &t, NULL, 0), -1);
    }
    /* Every prefix between the date and a full time is either an error or
     * a valid reading; none may read past len (checked by ASan/valgrind on
     * an exact-size copy). */
    for (size_t len = 0; len <= sizeof(s) - 1; len++) {
        char *copy = malloc(len ? len : 1);
        char err[8] = "";

        assert_non_null(copy);
        memcpy(copy, s, len);
        (void)bch_time_parse(copy, len, true, &t, err, sizeof(err));
        assert_true(strlen(err) < sizeof(err));
        free(copy);
    }
}

/* --------------------------------------------------------- formatting */

static void test_format(void **state)
{
    char buf[32];
    char small[21];

    (void)state;
    bch_time_format_utc(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    bch_time_format_utc(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    bch_time_format_utc(ref_utc(2025, 12, 18, 9, 0, 50), buf, sizeof(buf));
    assert_string_equal(buf, "2025-12-18T09:00:50Z");
    bch_time_format_utc(ref_utc(2024, 2, 29, 23, 59, 59), small, sizeof(small));
    assert_string_equal(small, "2024-02-29T23:59:59Z");

    bch_time_format_local(ref_utc(2025, 12, 18, 9, 0, 50), buf, sizeof(buf));
    assert_string_equal(buf, "2025-12-18T10:00:50+01:00");
    bch_time_format_local(ref_utc(2025, 7, 14, 22, 30, 0), buf, sizeof(buf));
    assert_string_equal(buf, "2025-07-15T00:30:00+02:00");
    /* the repeated autumn hour, both occurrences */
    bch_time_format_local(ref_utc(2021, 10, 31, 0, 30, 0), buf, sizeof(buf));
    assert_string_equal(buf, "2021-10-31T02:30:00+02:00");
    bch_time_format_local(ref_utc(2021, 10, 31, 1, 30, 0), buf, sizeof(buf));
    assert_string_equal(buf, "2021-10-31T02:30:00+01:00");
    /* the spring jump */
    bch_time_format_local(ref_utc(2021, 3, 28, 0, 59, 59), buf, sizeof(buf));
    assert_string_equal(buf, "2021-03-28T01:59:59+01:00");
    bch_time_format_local(ref_utc(2021, 3, 28, 1, 0, 0), buf, sizeof(buf));
    assert_string_equal(buf, "2021-03-28T03:00:00+02:00");

    /* parse(format(t)) == t over 2019-2022, both spellings, every 7919 s */
    for (bch_time t = ref_utc(2019, 1, 1, 0, 0, 0); t < ref_utc(2023, 1, 1, 0, 0, 0); t += 7919) {
        bch_time back;

        bch_time_format_utc(t, buf, sizeof(buf));
        assert_int_equal(bch_time_parse(buf, strlen(buf), false, &back, NULL, 0), 0);
        assert_int_equal(back, t);
        bch_time_format_local(t, buf, sizeof(buf));
        assert_int_equal(bch_time_parse(buf, strlen(buf), false, &back, NULL, 0), 0);
        assert_int_equal(back, t);
    }
}

/* ------------------------------------------------------ Europe/Paris */

static void test_offset_transitions(void **state)
{
    static const struct {
        int y, mar, oct;
    } dst[] = {{2019, 31, 27}, {2020, 29, 25}, {2021, 28, 31}, {2022, 27, 30}};

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(dst); i++) {
        bch_time spring = ref_utc(dst[i].y, 3, dst[i].mar, 1, 0, 0);
        bch_time autumn = ref_utc(dst[i].y, 10, dst[i].oct, 1, 0, 0);

        assert_int_equal(ref_last_sunday(dst[i].y, 3), dst[i].mar);
        assert_int_equal(ref_last_sunday(dst[i].y, 10), dst[i].oct);
        assert_int_equal(bch_paris_offset(spring - 1), 3600);
        assert_int_equal(bch_paris_offset(spring), 7200);
        assert_int_equal(bch_paris_offset(autumn - 1), 7200);
        assert_int_equal(bch_paris_offset(autumn), 3600);
        assert_int_equal(bch_paris_offset(spring - 86400), 3600);
        assert_int_equal(bch_paris_offset(autumn + 86400), 3600);
        assert_int_equal(bch_paris_offset(ref_utc(dst[i].y, 1, 1, 0, 0, 0)), 3600);
        assert_int_equal(bch_paris_offset(ref_utc(dst[i].y, 7, 1, 0, 0, 0)), 7200);
        assert_int_equal(bch_paris_offset(ref_utc(dst[i].y, 12, 31, 23, 59, 59)), 3600);
    }
    /* the brief's examples, spelled out */
    assert_int_equal(bch_paris_offset(ref_utc(2021, 3, 28, 0, 59, 59)), 3600);
    assert_int_equal(bch_paris_offset(ref_utc(2021, 3, 28, 1, 0, 0)), 7200);
    assert_int_equal(bch_paris_offset(ref_utc(2021, 10, 31, 0, 59, 59)), 7200);
    assert_int_equal(bch_paris_offset(ref_utc(2021, 10, 31, 1, 0, 0)), 3600);
}

/* Every hour (and the seconds around each transition) of 2019-2022. */
static void test_offset_every_hour(void **state)
{
    int failures = 0;

    (void)state;
    for (bch_time t = ref_utc(2019, 1, 1, 0, 0, 0); t < ref_utc(2023, 1, 1, 0, 0, 0); t += 3600) {
        for (int dt = -1; dt <= 1; dt++) {
            int got = bch_paris_offset(t + dt), want = ref_offset(t + dt);

            if (got != want && failures++ < 5) {
                print_error("offset at %lld: %d, want %d\n", (long long)(t + dt), got, want);
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* Day starts and lengths of every day of 2019-2022 against the rule. */
static void test_day_lengths(void **state)
{
    int64_t y = 2019;
    int m = 1, d = 1;
    int failures = 0, short_days = 0, long_days = 0;

    (void)state;
    while (y < 2023) {
        int64_t ny = y;
        int nm = m, nd = d + 1;
        bool summer_midnight;
        bch_time start, want_start;
        int64_t len, want_len = 86400;

        if (nd > mdays(y, m)) {
            nd = 1;
            if (++nm > 12) {
                nm = 1;
                ny++;
            }
        }
        if (m == 3 && d == ref_last_sunday(y, 3)) {
            want_len = 82800;
        } else if (m == 10 && d == ref_last_sunday(y, 10)) {
            want_len = 90000;
        }
        summer_midnight = (m > 3 && m < 10) || (m == 3 && d > ref_last_sunday(y, 3)) ||
                          (m == 10 && d <= ref_last_sunday(y, 10));
        want_start = ref_utc(y, m, d, 0, 0, 0) - (summer_midnight ? 7200 : 3600);
        start = bch_paris_day_start(y, m, d);
        len = bch_paris_day_start(ny, nm, nd) - start;
        if ((start != want_start || len != want_len) && failures++ < 5) {
            print_error("%04lld-%02d-%02d: start %lld len %lld, want %lld %lld\n", (long long)y, m,
                        d, (long long)start, (long long)len, (long long)want_start,
                        (long long)want_len);
        }
        short_days += len == 82800;
        long_days += len == 90000;
        y = ny;
        m = nm;
        d = nd;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(short_days, 4);
    assert_int_equal(long_days, 4);
    /* the named days */
    assert_int_equal(bch_paris_day_start(2019, 4, 1) - bch_paris_day_start(2019, 3, 31), 82800);
    assert_int_equal(bch_paris_day_start(2020, 3, 30) - bch_paris_day_start(2020, 3, 29), 82800);
    assert_int_equal(bch_paris_day_start(2021, 3, 29) - bch_paris_day_start(2021, 3, 28), 82800);
    assert_int_equal(bch_paris_day_start(2019, 10, 28) - bch_paris_day_start(2019, 10, 27), 90000);
    assert_int_equal(bch_paris_day_start(2020, 10, 26) - bch_paris_day_start(2020, 10, 25), 90000);
    assert_int_equal(bch_paris_day_start(2021, 11, 1) - bch_paris_day_start(2021, 10, 31), 90000);
    assert_int_equal(bch_paris_day_start(2025, 12, 19) - bch_paris_day_start(2025, 12, 18), 86400);
}

static void test_paris_to_utc(void **state)
{
    static const struct {
        int y, mo, d, hh, mi, ss;
        int uy, umo, ud, uhh, umi, uss;
    } t[] = {
        {2025, 12, 18, 10, 0, 50, 2025, 12, 18, 9, 0, 50},
        {2025, 7, 1, 0, 0, 0, 2025, 6, 30, 22, 0, 0},
        /* autumn 2021: 02:00-02:59 happens twice; the first is summer time */
        {2021, 10, 31, 1, 59, 59, 2021, 10, 30, 23, 59, 59},
        {2021, 10, 31, 2, 0, 0, 2021, 10, 31, 0, 0, 0},
        {2021, 10, 31, 2, 30, 0, 2021, 10, 31, 0, 30, 0},
        {2021, 10, 31, 2, 59, 59, 2021, 10, 31, 0, 59, 59},
        {2021, 10, 31, 3, 0, 0, 2021, 10, 31, 2, 0, 0},
        /* spring 2021: 02:00-02:59 does not exist; read with +01:00 */
        {2021, 3, 28, 1, 59, 59, 2021, 3, 28, 0, 59, 59},
        {2021, 3, 28, 2, 0, 0, 2021, 3, 28, 1, 0, 0},
        {2021, 3, 28, 2, 30, 0, 2021, 3, 28, 1, 30, 0},
        {2021, 3, 28, 3, 0, 0, 2021, 3, 28, 1, 0, 0},
        {2021, 3, 28, 3, 30, 0, 2021, 3, 28, 1, 30, 0},
        /* the other years */
        {2019, 10, 27, 2, 30, 0, 2019, 10, 27, 0, 30, 0},
        {2020, 3, 29, 2, 30, 0, 2020, 3, 29, 1, 30, 0},
        {2022, 10, 30, 3, 0, 0, 2022, 10, 30, 2, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        bch_time got = bch_paris_to_utc(t[i].y, t[i].mo, t[i].d, t[i].hh, t[i].mi, t[i].ss);
        bch_time want = ref_utc(t[i].uy, t[i].umo, t[i].ud, t[i].uhh, t[i].umi, t[i].uss);

        if (got != want) {
            fail_msg("%d-%02d-%02d %02d:%02d:%02d local: %lld, want %lld", t[i].y, t[i].mo, t[i].d,
                     t[i].hh, t[i].mi, t[i].ss, (long long)got, (long long)want);
        }
    }
    /* Local -> UTC -> local is the identity for every unambiguous hour. */
    for (bch_time u = ref_utc(2019, 1, 1, 0, 0, 0); u < ref_utc(2023, 1, 1, 0, 0, 0); u += 1800) {
        struct bch_local_tm tm;
        bch_time back;

        bch_paris_local(u, &tm);
        back = bch_paris_to_utc(tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second);
        if (tm.month == 10 && tm.day == ref_last_sunday(tm.year, 10) && tm.hour == 2 &&
            tm.offset == 3600) {
            assert_int_equal(back, u - 3600); /* second occurrence maps to the first */
        } else {
            assert_int_equal(back, u);
        }
    }
}

static void test_local_and_weekday(void **state)
{
    struct bch_local_tm tm;
    int64_t y = 2019;
    int m = 1, d = 1;

    (void)state;
    bch_paris_local(ref_utc(2025, 12, 18, 9, 0, 50), &tm);
    assert_int_equal(tm.year, 2025);
    assert_int_equal(tm.month, 12);
    assert_int_equal(tm.day, 18);
    assert_int_equal(tm.hour, 10);
    assert_int_equal(tm.minute, 0);
    assert_int_equal(tm.second, 50);
    assert_int_equal(tm.weekday, 4); /* Thursday */
    assert_int_equal(tm.offset, 3600);
    bch_paris_local(0, &tm);
    assert_int_equal(tm.weekday, 4);
    assert_int_equal(tm.hour, 1);
    bch_paris_local(-1, &tm);
    assert_int_equal(tm.year, 1970);
    assert_int_equal(tm.hour, 0);
    assert_int_equal(tm.minute, 59);
    assert_int_equal(tm.second, 59);
    bch_paris_local(ref_utc(1969, 12, 31, 22, 0, 0), &tm);
    assert_int_equal(tm.weekday, 3); /* Wednesday */
    assert_int_equal(tm.day, 31);
    assert_int_equal(tm.hour, 23);
    /* Sunday 2021-03-28, 23:30 UTC is Monday 01:30 local */
    bch_paris_local(ref_utc(2021, 3, 28, 23, 30, 0), &tm);
    assert_int_equal(tm.weekday, 1);
    assert_int_equal(tm.day, 29);
    assert_int_equal(tm.hour, 1);
    assert_int_equal(tm.offset, 7200);

    /* Every day of 2019-2022 at 00:30 and 23:30 local time. */
    while (y < 2023) {
        for (int k = 0; k < 2; k++) {
            int hh = k ? 23 : 0;
            bch_time u = bch_paris_to_utc(y, m, d, hh, 30, 0);

            bch_paris_local(u, &tm);
            if (tm.year != y || tm.month != m || tm.day != d || tm.hour != hh || tm.minute != 30 ||
                tm.weekday != ref_weekday(y, m, d) || tm.offset != ref_offset(u)) {
                fail_msg("%04lld-%02d-%02d %02d:30: got %lld-%d-%d %d wd %d off %d", (long long)y,
                         m, d, hh, (long long)tm.year, tm.month, tm.day, tm.hour, tm.weekday,
                         tm.offset);
            }
        }
        if (++d > mdays(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
}

static void test_civil_round_trip(void **state)
{
    int64_t y = 1925;
    int m = 1, d = 1;
    int64_t n = ref_days(1925, 1, 1);

    (void)state;
    assert_int_equal(bch_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(bch_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(bch_days_from_civil(2000, 3, 1), ref_days(2000, 3, 1));
    /* Every day from 1925 to 2125 against the naive count. */
    while (y < 2126) {
        int64_t ry;
        int rm, rd;

        if (bch_days_from_civil(y, m, d) != n) {
            fail_msg("days_from_civil(%lld-%d-%d) = %lld, want %lld", (long long)y, m, d,
                     (long long)bch_days_from_civil(y, m, d), (long long)n);
        }
        bch_civil_from_days(n, &ry, &rm, &rd);
        if (ry != y || rm != m || rd != d) {
            fail_msg("civil_from_days(%lld) = %lld-%d-%d, want %lld-%d-%d", (long long)n,
                     (long long)ry, rm, rd, (long long)y, m, d);
        }
        n++;
        if (++d > mdays(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    /* Far away (negative years, 400-year eras): the two are inverses. */
    for (int64_t k = -3000000; k <= 3000000; k += 997) {
        int64_t ry;
        int rm, rd;

        bch_civil_from_days(k, &ry, &rm, &rd);
        assert_true(rm >= 1 && rm <= 12 && rd >= 1 && rd <= mdays(ry, rm));
        assert_int_equal(bch_days_from_civil(ry, rm, rd), k);
    }
}

static void test_now(void **state)
{
    (void)state;
    /* Only a sanity bound: after this code was written, before 2100. */
    assert_true(bch_now() > ref_utc(2025, 1, 1, 0, 0, 0));
    assert_true(bch_now() < ref_utc(2100, 1, 1, 0, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anchors),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_offset_transitions),
        cmocka_unit_test(test_offset_every_hour),
        cmocka_unit_test(test_day_lengths),
        cmocka_unit_test(test_paris_to_utc),
        cmocka_unit_test(test_local_and_weekday),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
