/*
 * ts.h -- timestamps (STRATA_TS): int64 nanoseconds since 1970-01-01T00:00:00 UTC, read from and
 * written as ISO 8601, and broken into calendar fields. The proleptic Gregorian calendar, no leap
 * seconds (as numpy's datetime64 and Arrow's timestamp); the range is that of int64 ns,
 * 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z.
 */
#ifndef STRATA_UTIL_TS_H
#define STRATA_UTIL_TS_H

#include <stddef.h>
#include <stdint.h>

#define ST_NS_PER_SEC 1000000000LL
#define ST_NS_PER_DAY (86400LL * ST_NS_PER_SEC)

/* A cheap test for the start of an ISO date: four digits and a '-' (what CSV inference and the
 * expression language check before the full parse). */
static inline int st_ts_looks_iso(const char *s, size_t n)
{
    return n >= 5 && (unsigned)(s[0] - '0') < 10 && (unsigned)(s[1] - '0') < 10 &&
           (unsigned)(s[2] - '0') < 10 && (unsigned)(s[3] - '0') < 10 && s[4] == '-';
}

/* The N bytes at S as an ISO 8601 timestamp: YYYY-MM-DD, optionally followed by 'T' or ' ' and
 * HH:MM[:SS[.F]] (F: 1 to 9 digits), optionally followed by 'Z' or an offset +HH:MM, +HHMM or
 * +HH ('-' too), which is subtracted to give UTC. Exact: every field is range checked (month 13,
 * February 29 of a common year, hour 24 are errors), and so is the int64 range. Returns 0 with
 * *OUT, or -1 with WHY (WHYLEN bytes) completing "'TEXT' ...": "is not a timestamp: month 13". */
int st_ts_parse(const char *s, size_t n, int64_t *out, char *why, size_t whylen);

/* NS as ISO 8601 in UTC, "2024-01-31T13:45:00Z", with fractional digits only when non-zero, in
 * groups of three (".5" is written ".500", ".000001" stays). OUT needs ST_TS_FORMAT_MAX bytes;
 * returns the length written (without the NUL). */
#define ST_TS_FORMAT_MAX 32
size_t st_ts_format(int64_t ns, char *out);

/* Days since 1970-01-01 of the civil date Y-M-D (M 1..12, D 1..31), and back. */
int64_t st_days_from_civil(int64_t y, unsigned m, unsigned d);
void st_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Floor division of NS by UNIT (> 0), rounding toward minus infinity. */
static inline int64_t st_floordiv(int64_t ns, int64_t unit)
{
    int64_t q = ns / unit;
    return (ns % unit != 0 && ns < 0) ? q - 1 : q;
}

#endif /* STRATA_UTIL_TS_H */
