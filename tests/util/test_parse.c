/* Decimal text to double (util/parse.c): every path -- Clinger's exact one, the Eisel-Lemire
 * product for up to 19 digits, strtod for the rest -- gives strtod's bits, checked over printf's
 * forms of random doubles, random digit strings of every length and exponent, and halfway and
 * boundary cases. */
#include <math.h>

#include "test_util.h"
#include "util/bits.h"
#include "util/parse.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void parses_as_strtod(const char *text)
{
    double got = 0, want = strtod(text, NULL);
    if (st_parse_f64(text, strlen(text), &got) != ST_PARSE_OK)
        fail_msg("'%s' does not parse", text);
    if (memcmp(&got, &want, 8) != 0) fail_msg("'%s': %a, strtod %a", text, got, want);
}

static void printfs_forms_of_random_doubles_parse_to_their_bits(void **state)
{
    (void)state;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    char text[400];
    static const int digits[] = {17, 16, 15, 19, 13, 25};
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = next(&s);
        double v;
        memcpy(&v, &bits, 8);
        if (!isfinite(v)) continue;
        for (int f = 0; f < 6; f++) {
            snprintf(text, sizeof text, f % 2 ? "%.*g" : "%.*e", digits[f] - (f % 2 ? 0 : 1), v);
            parses_as_strtod(text);
        }
    }
    for (int i = 0; i < 300000; i++) { /* data: full-precision values of every magnitude */
        double u = (double)(next(&s) >> 11) / 9007199254740992.0;
        snprintf(text, sizeof text, "%.17g", (u - 0.5) * pow(10, (int)(next(&s) % 40) - 20));
        parses_as_strtod(text);
    }
}

static void random_digits_with_any_point_and_exponent_parse_as_strtod(void **state)
{
    (void)state;
    uint64_t s = 0xD1B54A32D192ED03ULL;
    char text[96];
    for (int i = 0; i < 600000; i++) {
        int nd = 1 + (int)(next(&s) % 20), at = 0;
        if (next(&s) & 1) text[at++] = '-';
        int point = (int)(next(&s) % (uint64_t)(nd + 1));
        for (int k = 0; k < nd; k++) {
            if (k == point && k > 0) text[at++] = '.';
            text[at++] = (char)('0' + next(&s) % 10);
        }
        if (next(&s) % 4 != 0) /* an exponent over the whole range and past it */
            at += sprintf(text + at, "e%d", (int)(next(&s) % 700) - 360);
        text[at] = '\0';
        parses_as_strtod(text);
    }
}

static void halfway_and_boundary_cases_parse_as_strtod(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "9007199254740993",
        "9007199254740995",
        "9007199254740992.5",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "2.2250738585072009e-308",
        "4.9406564584124654e-324",
        "2.4703282292062328e-324",
        "1e-400",
        "1e400",
        "0.1",
        "0.30000000000000004",
        "123456789012345678",
        "1234567890123456789",
        "9999999999999999999e-19",
        "7.0e22",
        "1e23",
        "8.98846567431158e307",
        "5e-324",
        "-0.0",
        "0e10",
        "3.0517578125e-05",
        "1.00000000000000011102230246251565404236316680908203125",
        "144115188075855877",
        "4.4501477170144023e-308",
        "2.225073858507201136e-308",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) parses_as_strtod(cases[i]);
    /* every power of ten, and each one's neighbours' shortest forms */
    char text[64];
    for (int e = -330; e <= 310; e++) {
        snprintf(text, sizeof text, "1e%d", e);
        parses_as_strtod(text);
        double p = strtod(text, NULL);
        snprintf(text, sizeof text, "%.17g", nextafter(p, 0));
        parses_as_strtod(text);
        snprintf(text, sizeof text, "%.17g", nextafter(p, INFINITY));
        parses_as_strtod(text);
    }
}

/* The eight-byte load the SWAR parsers share puts the first byte lowest on any byte order (the
 * digit scans and the CSV field scan count bytes from the word's low end). */
static void eight_bytes_load_first_byte_lowest(void **state)
{
    (void)state;
    const char b[9] = "\x01\x02\x03\x04\x05\x06\x07\x08";
    assert_int_equal(st_load_le64(b), 0x0807060504030201ull);
    assert_int_equal(st_load_le64("12345678") & 0xff, '1');
    double v;
    assert_int_equal(st_parse_f64("1234567812345678.5", 18, &v), 0);
    assert_true(v == 1234567812345678.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printfs_forms_of_random_doubles_parse_to_their_bits),
        cmocka_unit_test(random_digits_with_any_point_and_exponent_parse_as_strtod),
        cmocka_unit_test(halfway_and_boundary_cases_parse_as_strtod),
        cmocka_unit_test(eight_bytes_load_first_byte_lowest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
