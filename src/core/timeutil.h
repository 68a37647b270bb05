/*
 * timeutil.h - instants, ISO-8601 and Europe/Paris local time.
 *
 * Inside Bouchon every instant is an int64 count of seconds since the Unix
 * epoch, UTC (bch_time).  Local time (Europe/Paris) is only derived, for
 * display and for hour-of-day / day-of-week buckets.
 *
 * Why not the C library: strptime() and mktime() depend on the process-global
 * TZ, do not report where a string is malformed, and glibc's %z handling of
 * "+01:00" vs "+0100" varies by version.  The EU daylight-saving rule (since
 * 1996: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC) is
 * fixed and small, so it is written out here and tested on every DST day of
 * the data.
 */
#ifndef BCH_TIMEUTIL_H
#define BCH_TIMEUTIL_H

#include "core/compat.h"

typedef int64_t bch_time;

#define BCH_TIME_NONE INT64_MIN

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t bch_days_from_civil(int64_t y, int m, int d);
/* Inverse of bch_days_from_civil(). */
void bch_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/*
 * Parses an ISO-8601 date-time: "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by
 * "Z", "+HH:MM", "-HH:MM", "+HHMM" or "+HH"; a space may replace the "T".
 * A bare "YYYY-MM-DD" is accepted as midnight UTC.  A string without offset
 * is rejected (ambiguous) unless allow_local is true, in which case it is read
 * as Europe/Paris local time.  Fractional seconds are truncated.
 * Returns 0 and sets *out, or -1 with a reason in err (if err is not NULL).
 */
int bch_time_parse(const char *s, size_t len, bool allow_local, bch_time *out, char *err,
                   size_t errlen);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes); "-" for BCH_TIME_NONE. */
void bch_time_format_utc(bch_time t, char *buf, size_t len);

/* Formats t in Europe/Paris as "YYYY-MM-DDTHH:MM:SS+01:00" (buf >= 26 bytes). */
void bch_time_format_local(bch_time t, char *buf, size_t len);

/* Offset of Europe/Paris from UTC at instant t, in seconds (3600 or 7200). */
int bch_paris_offset(bch_time t);

/* Broken-down Europe/Paris local time of t. */
struct bch_local_tm {
    int64_t year;
    int month;   /* 1..12 */
    int day;     /* 1..31 */
    int hour;    /* 0..23 */
    int minute;  /* 0..59 */
    int second;  /* 0..59 */
    int weekday; /* ISO: 1 = Monday .. 7 = Sunday */
    int offset;  /* seconds east of UTC */
};
void bch_paris_local(bch_time t, struct bch_local_tm *tm);

/*
 * UTC instant of local midnight starting the Europe/Paris day y-m-d.  The
 * local day lasts bch_paris_day_start(next day) - bch_paris_day_start(day)
 * seconds: 82800 on the spring DST day, 90000 on the autumn one.
 */
bch_time bch_paris_day_start(int64_t y, int m, int d);

/*
 * Converts a local Europe/Paris wall time to UTC.  For the autumn repeated
 * hour the first (summer time) occurrence is returned; for the spring
 * missing hour the time is read with the winter offset.
 */
bch_time bch_paris_to_utc(int64_t y, int m, int d, int hh, int mm, int ss);

/* Wall clock, UTC seconds. */
bch_time bch_now(void);

#endif
