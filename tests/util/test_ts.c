/* Timestamps: ISO 8601 text to int64 ns since the epoch and back (util/ts.c and
 * strata_value_parse(STRATA_TS)), checked against values numpy's datetime64[ns] gives. */
#include "test_util.h"
#include "util/ts.h"

static int64_t parse_ok(const char *s)
{
    int64_t v = 0;
    char why[64] = "";
    if (strata_value_parse(STRATA_TS, s, &v, why) != STRATA_OK) fail_msg("'%s' %s", s, why);
    return v;
}

static void parse_fails(const char *s, const char *want)
{
    int64_t v;
    char why[64] = "";
    assert_int_equal(strata_value_parse(STRATA_TS, s, &v, why), STRATA_EINVAL);
    if (strcmp(why, want) != 0) fail_msg("'%s': why is '%s', expected '%s'", s, why, want);
}

static void iso_forms_parse_to_numpy_values(void **state)
{
    (void)state;
    const int64_t t = 1706708700000000000; /* np.datetime64('2024-01-31T13:45:00', 'ns') */
    assert_true(parse_ok("2024-01-31T13:45:00") == t);
    assert_true(parse_ok("2024-01-31 13:45:00") == t);
    assert_true(parse_ok("2024-01-31 13:45") == t);
    assert_true(parse_ok("2024-01-31T13:45:00Z") == t);
    assert_true(parse_ok("2024-01-31T14:45:00+01:00") == t);
    assert_true(parse_ok("2024-01-31T14:45:00+0100") == t);
    assert_true(parse_ok("2024-01-31T14:45:00+01") == t);
    assert_true(parse_ok("2024-01-31T08:15:00-05:30") == t);
    assert_true(parse_ok("2024-01-31T12:45:00.5") == 1706705100500000000);
    assert_true(parse_ok("2024-01-31T13:45:00.000000001Z") == t + 1);
    assert_true(parse_ok("2024-02-29") == 1709164800000000000);  /* a leap day */
    assert_true(parse_ok("1900-03-01") == -2203891200000000000); /* 1900: not a leap year */
    assert_true(parse_ok("1969-12-31T23:59:59.999999999") == -1);
    assert_true(parse_ok("1970-01-01") == 0);
    assert_true(parse_ok("1677-09-21T00:12:43.145224192") == INT64_MIN);
    assert_true(parse_ok("2262-04-11T23:47:16.854775807") == INT64_MAX);
    assert_true(parse_ok("123") == 123); /* an integer count of ns */
    assert_true(parse_ok("-5") == -5);
}

static void bad_timestamps_fail_saying_why(void **state)
{
    (void)state;
    parse_fails("2024-13-01", "is not a timestamp: month 13");
    parse_fails("2023-02-29", "is not a timestamp: day 29 of 2023-02");
    parse_fails("1900-02-29", "is not a timestamp: day 29 of 1900-02");
    parse_fails("2024-01-31T24:00:00", "is not a timestamp: hour 24");
    parse_fails("2024-01-31T23:60", "is not a timestamp: minute 60");
    parse_fails("2024-01-31T23:59:60", "is not a timestamp: second 60");
    parse_fails("2024-01-31T1:00", "is not a timestamp: expected HH:MM after the date");
    parse_fails("2024-1-31", "is not a timestamp: expected YYYY-MM-DD");
    parse_fails("2024-01-31T00:00:00.1234567891",
                "is not a timestamp: more than 9 fractional digits");
    parse_fails("2024-01-31T00:00:00.", "is not a timestamp: no digits after the decimal point");
    parse_fails("2024-01-31T00:00:00+25:00", "is not a timestamp: UTC offset out of range");
    parse_fails("2024-01-31T00:00:00 x", "is not a timestamp: unexpected ' ' after the time");
    parse_fails("2024-01-31x", "is not a timestamp: unexpected 'x' at position 11");
    parse_fails("2262-04-12", "is out of range for ts (years 1677 to 2262)");
    parse_fails("1677-09-20T00:00:00", "is out of range for ts (years 1677 to 2262)");
    parse_fails("noon", "is not a timestamp (ISO 8601 or integer nanoseconds)");
    parse_fails("", "is not a timestamp (ISO 8601 or integer nanoseconds)");
}

static void format(int64_t ns, const char *want)
{
    char buf[STRATA_TS_FORMAT_MAX];
    size_t n = strata_ts_format(ns, buf);
    if (strcmp(buf, want) != 0)
        fail_msg("%lld formats as '%s', expected '%s'", (long long)ns, buf, want);
    assert_int_equal(n, strlen(want));
    assert_true(parse_ok(buf) == ns); /* and reads back */
}

static void format_is_iso_utc_with_fraction_in_groups_of_three(void **state)
{
    (void)state;
    format(1706708700000000000, "2024-01-31T13:45:00Z");
    format(1706705100500000000, "2024-01-31T12:45:00.500Z");
    format(1706705100000001000, "2024-01-31T12:45:00.000001Z");
    format(1706705100123456789, "2024-01-31T12:45:00.123456789Z");
    format(0, "1970-01-01T00:00:00Z");
    format(-1, "1969-12-31T23:59:59.999999999Z");
    format(-2203891200000000000, "1900-03-01T00:00:00Z");
    format(1709164800000000000, "2024-02-29T00:00:00Z");
    format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
}

static void every_day_round_trips_through_the_calendar(void **state)
{
    (void)state;
    /* 1600..2400 covers the int64 range and three kinds of century */
    int64_t first = st_days_from_civil(1600, 1, 1), last = st_days_from_civil(2400, 12, 31);
    for (int64_t z = first; z <= last; z++) {
        int64_t y;
        unsigned m, d;
        st_civil_from_days(z, &y, &m, &d);
        assert_true(st_days_from_civil(y, m, d) == z);
    }
    assert_int_equal(last - first + 1, 801 * 365 + 195); /* leap days in 1600..2400 */
}

/* NS as the format's reference: the calendar's fields through printf. */
static void reference_format(int64_t ns, char *out)
{
    int64_t days = st_floordiv(ns, ST_NS_PER_DAY), rest = ns % ST_NS_PER_DAY, y;
    if (rest < 0) rest += ST_NS_PER_DAY;
    unsigned m, d;
    st_civil_from_days(days, &y, &m, &d);
    int64_t sec = rest / ST_NS_PER_SEC, frac = rest % ST_NS_PER_SEC;
    int len = snprintf(out, 64, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", (long long)y, m, d,
                       (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60));
    if (frac != 0) {
        int k = 9;
        while (k > 3 && frac % 1000 == 0) frac /= 1000, k -= 3;
        len += snprintf(out + len, (size_t)(64 - len), ".%0*lld", k, (long long)frac);
    }
    snprintf(out + len, (size_t)(64 - len), "Z");
}

static void format_matches_printf_over_the_whole_range(void **state)
{
    (void)state;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 300000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int64_t ns = (int64_t)s;
        if (i % 3 == 1) ns = ns / ST_NS_PER_SEC * ST_NS_PER_SEC; /* whole seconds */
        if (i % 3 == 2) ns = ns / 1000000 * 1000000;             /* milliseconds */
        char got[ST_TS_FORMAT_MAX + 8], want[64];
        size_t n = st_ts_format(ns, got);
        reference_format(ns, want);
        if (strcmp(got, want) != 0 || n != strlen(want))
            fail_msg("%lld: '%s', want '%s'", (long long)ns, got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso_forms_parse_to_numpy_values),
        cmocka_unit_test(bad_timestamps_fail_saying_why),
        cmocka_unit_test(format_is_iso_utc_with_fraction_in_groups_of_three),
        cmocka_unit_test(every_day_round_trips_through_the_calendar),
        cmocka_unit_test(format_matches_printf_over_the_whole_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
