/*
 * ts.c -- ISO 8601 timestamps to int64 nanoseconds since the epoch and back (see ts.h).
 *
 * The calendar arithmetic is Howard Hinnant's days_from_civil / civil_from_days, exact over the
 * whole int64 range of days; the nanosecond total is checked against int64 with the compiler's
 * overflow builtins, so a date outside 1677..2262 is an error, never a wrapped value.
 */
#include "util/ts.h"

#include "strata.h"

#include <stdio.h>
#include <string.h>

int64_t st_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void st_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* K digits at S[*I] as a number; -1 if they are not all digits (or run past N). */
static int digits(const char *s, size_t n, size_t *i, int k)
{
    if (*i + (size_t)k > n) return -1;
    int v = 0;
    for (int j = 0; j < k; j++) {
        unsigned c = (unsigned)(unsigned char)s[*i + (size_t)j] - '0';
        if (c > 9) return -1;
        v = v * 10 + (int)c;
    }
    *i += (size_t)k;
    return v;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, whylen, "is not a timestamp: " __VA_ARGS__);                                 \
        return -1;                                                                                 \
    } while (0)

/* The offset after the time: 'Z', or +HH, +HHMM, +HH:MM; seconds east of UTC in *OFF. */
static int parse_offset(const char *s, size_t n, size_t *i, int64_t *off, char *why, size_t whylen)
{
    if (*i == n) return 0;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
        return 0;
    }
    if (s[*i] != '+' && s[*i] != '-') BAD("unexpected '%c' after the time", s[*i]);
    int sign = s[(*i)++] == '-' ? -1 : 1;
    int hh = digits(s, n, i, 2), mm = 0;
    if (hh < 0) BAD("bad UTC offset");
    if (*i < n && s[*i] == ':') (*i)++;
    if (*i < n && (mm = digits(s, n, i, 2)) < 0) BAD("bad UTC offset");
    if (hh > 23 || mm > 59) BAD("UTC offset out of range");
    *off = sign * (hh * 3600 + mm * 60);
    return 0;
}

/* HH:MM[:SS[.F]] at S[*I]: seconds of the day in *SEC, nanoseconds in *FRAC. */
static int parse_time(const char *s, size_t n, size_t *i, int64_t *sec, int64_t *frac, char *why,
                      size_t whylen)
{
    int hh = digits(s, n, i, 2);
    if (hh < 0 || *i >= n || s[(*i)++] != ':') BAD("expected HH:MM after the date");
    int mi = digits(s, n, i, 2), ss = 0;
    if (mi < 0) BAD("expected HH:MM after the date");
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if ((ss = digits(s, n, i, 2)) < 0) BAD("expected two digits of seconds");
        if (*i < n && (s[*i] == '.' || s[*i] == ',')) {
            (*i)++;
            int k = 0;
            int64_t f = 0;
            while (*i < n && (unsigned)(s[*i] - '0') < 10) {
                if (++k > 9) BAD("more than 9 fractional digits");
                f = f * 10 + (s[(*i)++] - '0');
            }
            if (k == 0) BAD("no digits after the decimal point");
            for (; k < 9; k++) f *= 10;
            *frac = f;
        }
    }
    if (hh > 23) BAD("hour %d", hh);
    if (mi > 59) BAD("minute %d", mi);
    if (ss > 59) BAD("second %d", ss);
    *sec = hh * 3600 + mi * 60 + ss;
    return 0;
}

int st_ts_parse(const char *s, size_t n, int64_t *out, char *why, size_t whylen)
{
    size_t i = 0;
    int y = digits(s, n, &i, 4);
    if (y < 0 || i >= n || s[i++] != '-') BAD("expected YYYY-MM-DD");
    int m = digits(s, n, &i, 2);
    if (m < 0 || i >= n || s[i++] != '-') BAD("expected YYYY-MM-DD");
    int d = digits(s, n, &i, 2);
    if (d < 0) BAD("expected YYYY-MM-DD");
    if (m < 1 || m > 12) BAD("month %d", m);
    if (d < 1 || (unsigned)d > month_days(y, (unsigned)m)) BAD("day %d of %04d-%02d", d, y, m);
    int64_t sec = 0, frac = 0, off = 0;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (parse_time(s, n, &i, &sec, &frac, why, whylen) < 0) return -1;
        if (parse_offset(s, n, &i, &off, why, whylen) < 0) return -1;
    } else if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    }
    if (i != n) BAD("unexpected '%c' at position %zu", s[i], i + 1);
    int64_t secs = st_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + sec - off, ns;
    if (secs < 0 && frac > 0) { /* (secs + 1) s - (1 s - frac): the earliest instants fit too */
        secs += 1;
        frac -= ST_NS_PER_SEC;
    }
    if (__builtin_mul_overflow(secs, ST_NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac, &ns)) {
        snprintf(why, whylen, "is out of range for ts (years 1677 to 2262)");
        return -1;
    }
    *out = ns;
    return 0;
}

size_t st_ts_format(int64_t ns, char *out)
{
    int64_t days = st_floordiv(ns, ST_NS_PER_DAY);
    int64_t rest = ns % ST_NS_PER_DAY; /* not ns - days * day: that overflows near INT64_MIN */
    if (rest < 0) rest += ST_NS_PER_DAY;
    int64_t y;
    unsigned m, d;
    st_civil_from_days(days, &y, &m, &d);
    int64_t sec = rest / ST_NS_PER_SEC, frac = rest % ST_NS_PER_SEC;
    /* digits written in place (a text export writes one a value): int64 ns spans the years 1677
     * to 2262, always four digits */
    unsigned f[6] = {(unsigned)y,         m, d, (unsigned)(sec / 3600), (unsigned)(sec / 60 % 60),
                     (unsigned)(sec % 60)};
    static const char sep[6] = {'-', '-', 'T', ':', ':', 0};
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        if (i == 0) {
            out[len++] = (char)('0' + f[0] / 1000);
            out[len++] = (char)('0' + f[0] / 100 % 10);
        }
        out[len++] = (char)('0' + f[i] / 10 % 10);
        out[len++] = (char)('0' + f[i] % 10);
        if (sep[i]) out[len++] = sep[i];
    }
    if (frac != 0) {
        int k = 9;
        while (k > 3 && frac % 1000 == 0) frac /= 1000, k -= 3;
        out[len++] = '.';
        for (int i = k - 1; i >= 0; i--, frac /= 10) out[len + (size_t)i] = (char)('0' + frac % 10);
        len += (size_t)k;
    }
    out[len++] = 'Z';
    out[len] = '\0';
    return len;
}

size_t strata_ts_format(int64_t ns, char *out)
{
    return st_ts_format(ns, out);
}
