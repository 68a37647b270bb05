/*
 * fuzz_time.c - ISO-8601 parsing and Europe/Paris time (core/timeutil.c).
 *
 * Any accepted string must read the same with allow_local (an offset, when
 * present, wins), and its instant must survive formatting in UTC and in
 * local time and parsing back; local broken-down time must be in range and
 * convert back to the same instant (or to the first occurrence of a
 * repeated autumn hour).
 */
#include "core/compat.h"

#include "core/timeutil.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bch_time t = 0, tl = 0, back;
    char err[96], buf[40];
    struct bch_local_tm tm;
    int rc, rcl;

    if (size > 256) {
        return 0;
    }
    err[0] = '\0';
    rc = bch_time_parse(s, size, false, &t, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || (err[0] && memchr(err, '\0', sizeof(err))));
    rcl = bch_time_parse(s, size, true, &tl, NULL, 0);
    FUZZ_CHECK(rcl == 0 || rcl == -1);
    if (rc == 0) {
        FUZZ_CHECK(rcl == 0 && tl == t); /* allow_local only adds readings */
    } else {
        t = tl;
    }
    if (rcl != 0) {
        return 0;
    }
    /* Years 1000-9998 format as four digits and read back. */
    if (t < -30610224000LL + 2 * 86400 || t > 253370764800LL - 2 * 86400) {
        return 0;
    }
    bch_time_format_utc(t, buf, sizeof(buf));
    FUZZ_CHECK(strlen(buf) == 20);
    FUZZ_CHECK(bch_time_parse(buf, strlen(buf), false, &back, NULL, 0) == 0 && back == t);
    bch_time_format_local(t, buf, sizeof(buf));
    FUZZ_CHECK(strlen(buf) == 25);
    FUZZ_CHECK(bch_time_parse(buf, strlen(buf), false, &back, NULL, 0) == 0 && back == t);
    bch_paris_local(t, &tm);
    FUZZ_CHECK(tm.offset == 3600 || tm.offset == 7200);
    FUZZ_CHECK(tm.offset == bch_paris_offset(t));
    FUZZ_CHECK(tm.month >= 1 && tm.month <= 12 && tm.day >= 1 && tm.day <= 31);
    FUZZ_CHECK(tm.hour >= 0 && tm.hour <= 23 && tm.minute >= 0 && tm.minute <= 59);
    FUZZ_CHECK(tm.second >= 0 && tm.second <= 59 && tm.weekday >= 1 && tm.weekday <= 7);
    back = bch_paris_to_utc(tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second);
    FUZZ_CHECK(back == t || (back == t - 3600 && tm.offset == 3600 && tm.month == 10));
    {
        int64_t days = bch_days_from_civil(tm.year, tm.month, tm.day), y;
        int m, d;

        bch_civil_from_days(days, &y, &m, &d);
        FUZZ_CHECK(y == tm.year && m == tm.month && d == tm.day);
        FUZZ_CHECK(bch_paris_day_start(tm.year, tm.month, tm.day) <= t);
    }
    return 0;
}
