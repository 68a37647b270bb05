#include "core/compat.h"

#include <time.h>

#include "core/timeutil.h"

/* Civil-date <-> day-count conversion on 400-year eras (146097 days each). */
int64_t bch_days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void bch_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m == 2 && leap) {
        return 29;
    }
    return dm[m - 1];
}

/* Day count of the last Sunday of month m in year y. */
static int64_t last_sunday(int64_t y, int m)
{
    int64_t last = bch_days_from_civil(y, m, days_in_month(y, m));
    /* 1970-01-01 was a Thursday: weekday 0 = Thursday, so Sunday = 3. */
    int64_t wd = ((last % 7) + 7 + 4) % 7; /* 0 = Sunday */

    return last - wd;
}

int bch_paris_offset(bch_time t)
{
    int64_t y;
    int m, d;
    bch_time start, end;

    if (t == BCH_TIME_NONE) {
        return 3600;
    }
    bch_civil_from_days((t >= 0 ? t : t - 86399) / 86400, &y, &m, &d);
    start = last_sunday(y, 3) * 86400 + 3600;
    end = last_sunday(y, 10) * 86400 + 3600;
    return (t >= start && t < end) ? 7200 : 3600;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

void bch_paris_local(bch_time t, struct bch_local_tm *tm)
{
    int off = bch_paris_offset(t);
    bch_time l = t + off;
    int64_t days = floor_div(l, 86400);
    int64_t sod = l - days * 86400;

    bch_civil_from_days(days, &tm->year, &tm->month, &tm->day);
    tm->hour = (int)(sod / 3600);
    tm->minute = (int)(sod / 60 % 60);
    tm->second = (int)(sod % 60);
    /* 1970-01-01 was a Thursday (ISO 4). */
    tm->weekday = (int)(((days % 7) + 7 + 3) % 7) + 1;
    tm->offset = off;
}

bch_time bch_paris_to_utc(int64_t y, int m, int d, int hh, int mm, int ss)
{
    bch_time wall = bch_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    bch_time summer = wall - 7200;

    /* Prefer summer time when it is consistent (first occurrence in autumn). */
    if (bch_paris_offset(summer) == 7200) {
        return summer;
    }
    return wall - 3600;
}

bch_time bch_paris_day_start(int64_t y, int m, int d)
{
    return bch_paris_to_utc(y, m, d, 0, 0, 0);
}

static int digits(const char *s, size_t len, size_t pos, int n, int *out)
{
    int v = 0;

    if (pos + (size_t)n > len) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char c = s[pos + (size_t)i];

        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s", why);
    }
    return -1;
}

int bch_time_parse(const char *s, size_t len, bool allow_local, bch_time *out, char *err,
                   size_t errlen)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0, oh = 0, om = 0;
    size_t p = 10;
    int sign = 0;

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    if (digits(s, len, 0, 4, &y) || len < 10 || s[4] != '-' || digits(s, len, 5, 2, &mo) ||
        s[7] != '-' || digits(s, len, 8, 2, &d)) {
        return fail(err, errlen, "not an ISO-8601 date (expected YYYY-MM-DD)");
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return fail(err, errlen, "date out of range");
    }
    if (len == 10) {
        *out = bch_days_from_civil(y, mo, d) * 86400;
        return 0;
    }
    if (s[10] != 'T' && s[10] != ' ') {
        return fail(err, errlen, "expected 'T' after the date");
    }
    if (digits(s, len, 11, 2, &hh) || p + 6 > len || s[13] != ':' || digits(s, len, 14, 2, &mi)) {
        return fail(err, errlen, "bad time of day (expected HH:MM)");
    }
    p = 16;
    if (p < len && s[p] == ':') {
        if (digits(s, len, p + 1, 2, &ss)) {
            return fail(err, errlen, "bad seconds");
        }
        p += 3;
        if (p < len && (s[p] == '.' || s[p] == ',')) {
            p++;
            if (p >= len || s[p] < '0' || s[p] > '9') {
                return fail(err, errlen, "bad fractional seconds");
            }
            while (p < len && s[p] >= '0' && s[p] <= '9') {
                p++;
            }
        }
    }
    if (hh > 23 || mi > 59 || ss > 60) {
        return fail(err, errlen, "time of day out of range");
    }
    if (ss == 60) {
        ss = 59; /* leap second: clamp, the feeds never carry one */
    }
    if (p == len) {
        if (!allow_local) {
            return fail(err, errlen, "date-time without a UTC offset");
        }
        *out = bch_paris_to_utc(y, mo, d, hh, mi, ss);
        return 0;
    }
    if (s[p] == 'Z' || s[p] == 'z') {
        if (p + 1 != len) {
            return fail(err, errlen, "trailing characters after 'Z'");
        }
    } else if (s[p] == '+' || s[p] == '-') {
        sign = s[p] == '-' ? -1 : 1;
        if (digits(s, len, p + 1, 2, &oh)) {
            return fail(err, errlen, "bad UTC offset");
        }
        p += 3;
        if (p < len && s[p] == ':') {
            p++;
            if (p == len) {
                return fail(err, errlen, "bad UTC offset minutes");
            }
        }
        if (p < len) {
            if (digits(s, len, p, 2, &om)) {
                return fail(err, errlen, "bad UTC offset minutes");
            }
            p += 2;
        }
        if (p != len) {
            return fail(err, errlen, "trailing characters after the UTC offset");
        }
        if (oh > 14 || om > 59) {
            return fail(err, errlen, "UTC offset out of range");
        }
    } else {
        return fail(err, errlen, "unexpected characters after the time");
    }
    *out = bch_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss -
           sign * (oh * 3600 + om * 60);
    return 0;
}

void bch_time_format_utc(bch_time t, char *buf, size_t len)
{
    int64_t days, sod, y;
    int m, d;

    if (t == BCH_TIME_NONE) {
        snprintf(buf, len, "-");
        return;
    }
    days = floor_div(t, 86400);
    sod = t - days * 86400;

    bch_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

void bch_time_format_local(bch_time t, char *buf, size_t len)
{
    struct bch_local_tm tm;

    if (t == BCH_TIME_NONE) {
        snprintf(buf, len, "-");
        return;
    }
    bch_paris_local(t, &tm);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d+%02d:00", (long long)tm.year, tm.month,
             tm.day, tm.hour, tm.minute, tm.second, tm.offset / 3600);
}

bch_time bch_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (bch_time)ts.tv_sec;
}
