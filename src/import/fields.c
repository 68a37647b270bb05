#include "core/compat.h"

#include <math.h>

#include "core/timeutil.h"
#include "import/fields.h"

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 &&
           ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r')) {
        (*len)--;
    }
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool bch_name_eq(const char *s, size_t len, const char *name)
{
    size_t n = strlen(name);

    if (len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != lower(name[i])) {
            return false;
        }
    }
    return true;
}

bool bch_cell_is_null(const char *s, size_t len)
{
    trim(&s, &len);
    return len == 0 || bch_name_eq(s, len, "none") || bch_name_eq(s, len, "null");
}

static bool is_na(const char *s, size_t len)
{
    return bch_name_eq(s, len, "#N/A") || bch_name_eq(s, len, "#N/D") || bch_name_eq(s, len, "#NA");
}

/* Exact powers of ten (all representable as doubles). */
static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Validates the syntax of a decimal number in s[0..len) and, when it has at
 * most 15 significant digits and no exponent, computes it exactly: the
 * mantissa is an exact integer below 2^53 and the power of ten is exact, so
 * one IEEE division gives the correctly rounded result.  Returns 1 (value
 * computed), 0 (valid, needs strtod) or -1 (not a number).
 */
static int fast_decimal(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = false, any = false, exp = false;
    uint64_t mant = 0;
    int digits = 0, frac = 0;

    if (i < len && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (mant || s[i] != '0') {
            digits++;
        }
        if (digits <= 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
        }
    }
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (mant || s[i] != '0') {
                digits++;
            }
            if (digits <= 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                frac++;
            }
        }
    }
    if (!any) {
        return -1;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;

        if (j < len && (s[j] == '-' || s[j] == '+')) {
            j++;
        }
        if (j >= len || s[j] < '0' || s[j] > '9') {
            return -1;
        }
        while (j < len && s[j] >= '0' && s[j] <= '9') {
            j++;
        }
        i = j;
        exp = true;
    }
    if (i != len) {
        return -1;
    }
    if (exp || digits > 15 || frac > 22) {
        return 0;
    }
    *out = (double)mant / pow10_tab[frac];
    if (neg) {
        *out = -*out;
    }
    return 1;
}

enum bch_cell bch_cell_double(const char *s, size_t len, double *out)
{
    char tmp[64];
    char *end = NULL;
    double v;
    int rc;

    trim(&s, &len);
    /* Most cells are numbers: look for words only when one could start here. */
    if (len == 0 || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+' || s[0] == '.')) {
        if (bch_cell_is_null(s, len)) {
            return BCH_CELL_NULL;
        }
        if (is_na(s, len)) {
            return BCH_CELL_NA;
        }
    }
    rc = fast_decimal(s, len, out);
    if (rc == 1) {
        return BCH_CELL_OK;
    }
    if (rc < 0 || len >= sizeof(tmp)) {
        return BCH_CELL_BAD;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v)) {
        return BCH_CELL_BAD;
    }
    *out = v;
    return BCH_CELL_OK;
}

enum bch_cell bch_cell_int64(const char *s, size_t len, int64_t *out)
{
    double v;
    enum bch_cell rc = bch_cell_double(s, len, &v);

    if (rc != BCH_CELL_OK) {
        return rc;
    }
    if (v != floor(v) || v < -9e15 || v > 9e15) {
        return BCH_CELL_BAD;
    }
    *out = (int64_t)v;
    return BCH_CELL_OK;
}

enum bch_cell bch_cell_fr_number(const char *s, size_t len, double *out)
{
    char tmp[64];
    size_t n = 0;

    trim(&s, &len);
    if (bch_cell_is_null(s, len)) {
        return BCH_CELL_NULL;
    }
    if (is_na(s, len)) {
        return BCH_CELL_NA;
    }
    if (len > 0 && s[len - 1] == '%') {
        len--;
        trim(&s, &len);
    }
    if (len == 0 || len >= sizeof(tmp)) {
        return BCH_CELL_BAD;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        /* A comma is the decimal mark of French text; a number never holds
         * both (no thousands separators in these files). */
        if (c == ',') {
            if (memchr(s, '.', len)) {
                return BCH_CELL_BAD;
            }
            c = '.';
        }
        tmp[n++] = c;
    }
    return bch_cell_double(tmp, n, out);
}

enum bch_cell bch_cell_code(const char *s, size_t len)
{
    trim(&s, &len);
    if (bch_cell_is_null(s, len)) {
        return BCH_CELL_NULL;
    }
    if (is_na(s, len)) {
        return BCH_CELL_NA;
    }
    return BCH_CELL_OK;
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool valid_date(int y, int m, int d)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    return d <= dm[m - 1] + (m == 2 && leap);
}

int bch_cell_dmy_dates(const char *s, size_t len, int64_t *d1, int64_t *d2)
{
    int found = 0;

    for (size_t i = 0; i + 10 <= len && found < 2; i++) {
        const char *p = s + i;
        int y, m, d;

        if (!(is_digit(p[0]) && is_digit(p[1]) && p[2] == '/' && is_digit(p[3]) && is_digit(p[4]) &&
              p[5] == '/' && is_digit(p[6]) && is_digit(p[7]) && is_digit(p[8]) &&
              is_digit(p[9]))) {
            continue;
        }
        /* Not part of a longer digit run on either side. */
        if ((i > 0 && is_digit(s[i - 1])) || (i + 10 < len && is_digit(s[i + 10]))) {
            continue;
        }
        d = two(p);
        m = two(p + 3);
        y = two(p + 6) * 100 + two(p + 8);
        if (!valid_date(y, m, d)) {
            continue;
        }
        if (found == 0) {
            *d1 = bch_days_from_civil(y, m, d);
        } else {
            *d2 = bch_days_from_civil(y, m, d);
        }
        found++;
        i += 9;
    }
    if (found == 1) {
        *d2 = *d1;
    }
    return found;
}

int bch_cell_ymd(const char *s, size_t len, int64_t *day)
{
    int y, m, d;

    trim(&s, &len);
    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return -1;
    }
    for (size_t i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !is_digit(s[i])) {
            return -1;
        }
    }
    y = two(s) * 100 + two(s + 2);
    m = two(s + 5);
    d = two(s + 8);
    if (!valid_date(y, m, d)) {
        return -1;
    }
    *day = bch_days_from_civil(y, m, d);
    return 0;
}

enum bch_cell bch_json_double(const json_t *v, bool fr, double *out)
{
    if (!v || json_is_null(v)) {
        return BCH_CELL_NULL;
    }
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return BCH_CELL_OK;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return isfinite(*out) ? BCH_CELL_OK : BCH_CELL_BAD;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);

        return fr ? bch_cell_fr_number(s, n, out) : bch_cell_double(s, n, out);
    }
    return BCH_CELL_BAD;
}

enum bch_cell bch_json_int64(const json_t *v, int64_t *out)
{
    double d;
    enum bch_cell rc;

    if (v && json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return BCH_CELL_OK;
    }
    rc = bch_json_double(v, false, &d);
    if (rc != BCH_CELL_OK) {
        return rc;
    }
    if (d != floor(d) || d < -9e15 || d > 9e15) {
        return BCH_CELL_BAD;
    }
    *out = (int64_t)d;
    return BCH_CELL_OK;
}

enum bch_cell bch_json_text(const json_t *v, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!v || json_is_null(v)) {
        return BCH_CELL_NULL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);

        if (bch_cell_is_null(s, n)) {
            return BCH_CELL_NULL;
        }
        snprintf(buf, len, "%s", s);
        return is_na(s, n) ? BCH_CELL_NA : BCH_CELL_OK;
    }
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return BCH_CELL_OK;
    }
    if (json_is_real(v)) {
        snprintf(buf, len, "%.17g", json_real_value(v));
        return BCH_CELL_OK;
    }
    return BCH_CELL_BAD;
}
