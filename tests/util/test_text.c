/* Numbers as text (util/text.c): integers as printf writes them, and reals in the shortest form
 * that reads back, checked against printf and strtod over edges and random bit patterns. */
#include <float.h>
#include <math.h>

#include "test_util.h"
#include "util/text.h"

/* A small, seeded generator: the same values every run. */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void int_is(int64_t v)
{
    char got[ST_TEXT_INT_MAX + 1], want[32];
    got[st_text_i64(got, v)] = '\0';
    snprintf(want, sizeof want, "%lld", (long long)v);
    if (strcmp(got, want) != 0) fail_msg("%s: got '%s'", want, got);
    if (v >= 0) return;
    got[st_text_u64(got, (uint64_t)v)] = '\0';
    snprintf(want, sizeof want, "%llu", (unsigned long long)(uint64_t)v);
    if (strcmp(got, want) != 0) fail_msg("%s: got '%s'", want, got);
}

static void integers_are_written_as_printf_writes_them(void **state)
{
    (void)state;
    int64_t edge[] = {0,
                      1,
                      9,
                      10,
                      11,
                      99,
                      100,
                      101,
                      999,
                      1000,
                      -1,
                      -9,
                      -10,
                      -100,
                      INT64_MAX,
                      INT64_MIN,
                      INT64_MIN + 1,
                      9999999999999999LL,
                      10000000000000000LL};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) int_is(edge[i]);
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) { /* each power of ten and its neighbours */
        int_is(p - 1), int_is(p), int_is(p + 1), int_is(-p), int_is(-p + 1);
    }
    char u[ST_TEXT_INT_MAX + 1];
    u[st_text_u64(u, UINT64_MAX)] = '\0';
    assert_string_equal(u, "18446744073709551615");
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) int_is((int64_t)(next(&s) >> (next(&s) & 63)));
}

/* V's text: NUL-terminated, of the length returned, reading back as V. */
static const char *real_of(double v, int f32, char *buf)
{
    size_t n = st_text_real(buf, v, f32);
    if (strlen(buf) != n) fail_msg("%.17g: length %zu, text '%s'", v, n, buf);
    if (isfinite(v) && (f32 ? strtof(buf, NULL) != (float)v : strtod(buf, NULL) != v))
        fail_msg("%.17g: '%s' does not read back", v, buf);
    return buf;
}

static void reals_read_back_in_their_shortest_form(void **state)
{
    (void)state;
    char b[ST_TEXT_REAL_MAX];
    assert_string_equal(real_of(848.51, 0, b), "848.51");
    assert_string_equal(real_of(7242.0, 0, b), "7242");
    assert_string_equal(real_of(-1.286083, 0, b), "-1.286083");
    assert_string_equal(real_of(0.1, 0, b), "0.1");
    assert_string_equal(real_of(0.0001, 0, b), "0.0001");
    assert_string_equal(real_of(0.00001, 0, b), "1e-05");
    assert_string_equal(real_of(0.000123, 0, b), "0.000123");
    assert_string_equal(real_of(123456789012345.0, 0, b), "123456789012345");
    assert_string_equal(real_of(1e15, 0, b), "1e+15");
    assert_string_equal(real_of(1e300, 0, b), "1e+300");
    assert_string_equal(real_of(3.141592653589793, 0, b), "3.141592653589793");
    assert_string_equal(real_of(0.1 + 0.2, 0, b), "0.30000000000000004");
    assert_string_equal(real_of(0.0, 0, b), "0");
    assert_string_equal(real_of(-0.0, 0, b), "-0");
    assert_string_equal(real_of(5e-324, 0, b), "4.94065645841247e-324");
    assert_string_equal(real_of(NAN, 0, b), "nan");
    assert_string_equal(real_of(INFINITY, 0, b), "inf");
    assert_string_equal(real_of(-INFINITY, 0, b), "-inf");
    assert_string_equal(real_of((double)0.1f, 1, b), "0.1");
    assert_string_equal(real_of((double)16777217.0f, 1, b), "16777216");
    assert_string_equal(real_of((double)3.4028235e38f, 1, b), "3.4028235e+38");
    /* decimals of up to 8 places: exactly the decimal, in fixed notation */
    uint64_t s = 2463534242ULL;
    for (int i = 0; i < 200000; i++) {
        int k = (int)(next(&s) % 9);
        int64_t r = (int64_t)(next(&s) % 100000000000ULL) - 50000000000LL;
        double v = (double)r / pow(10, k);
        char want[64];
        snprintf(want, sizeof want, "%.*f", k, v);
        size_t n = strlen(want);
        while (k > 0 && want[n - 1] == '0') want[--n] = '\0';
        if (want[n - 1] == '.') want[--n] = '\0';
        if (strcmp(want, "-0") == 0 || fabs(v) < 1e-4) continue; /* (not the fixed form) */
        if (strcmp(real_of(v, 0, b), want) != 0) fail_msg("%.17g: '%s', want '%s'", v, b, want);
    }
    /* any bits: the text reads back, and no shorter one of printf's does */
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = next(&s);
        double v;
        memcpy(&v, &bits, 8);
        real_of(v, 0, b);
        if (!isfinite(v) || strchr(b, 'e') == NULL) continue;
        char shorter[400];
        int digits = 0;
        for (const char *p = b; *p && *p != 'e'; p++) digits += *p >= '0' && *p <= '9';
        if (digits <= 15) continue;
        snprintf(shorter, sizeof shorter, "%.*g", digits - 1, v);
        if (strtod(shorter, NULL) == v) fail_msg("%.17g: '%s' has a shorter '%s'", v, b, shorter);
    }
}

/* The reference: printf's "%.Pg" for the smallest P from 15 that reads back (what st_text_real()
 * writes, through faster paths). */
static void reference(double v, char *out)
{
    for (int p = 15; p <= 17; p++) {
        snprintf(out, 64, "%.*g", p, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void real_is_reference(double v)
{
    char got[ST_TEXT_REAL_MAX], want[64];
    st_text_real(got, v, 0);
    reference(v, want);
    if (isfinite(v) && strcmp(got, want) != 0) {
        uint64_t bits;
        memcpy(&bits, &v, 8);
        fail_msg("%a (bits %016llx): '%s', printf's '%s'", v, (unsigned long long)bits, got, want);
    }
}

static void reals_are_printfs_shortest_to_the_byte(void **state)
{
    (void)state;
    uint64_t s = 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 400000; i++) { /* any bits: normal, subnormal, every exponent */
        uint64_t bits = next(&s);
        double v;
        memcpy(&v, &bits, 8);
        real_is_reference(v);
    }
    for (int i = 0; i < 300000; i++) { /* data: full-precision values of every magnitude */
        double u = (double)(next(&s) >> 11) / 9007199254740992.0;
        real_is_reference((u - 0.5) * pow(10, (int)(next(&s) % 40) - 20));
    }
    for (int e = -1074; e <= 1023; e++) { /* powers of two (the smaller gap below) and beside */
        double p = ldexp(1, e);
        real_is_reference(p), real_is_reference(-p);
        real_is_reference(nextafter(p, 0)), real_is_reference(nextafter(p, INFINITY));
    }
    for (int e = -320; e <= 308; e++) { /* powers of ten and beside */
        double p = pow(10, e);
        real_is_reference(p), real_is_reference(nextafter(p, 0)),
            real_is_reference(nextafter(p, INFINITY));
    }
    for (int64_t k = 1; k < 200000; k++) { /* integers and halves */
        real_is_reference((double)k * 7919), real_is_reference((double)k + 0.5);
        real_is_reference((double)k / 3);
    }
    real_is_reference(DBL_MAX), real_is_reference(DBL_MIN), real_is_reference(-DBL_MAX);
    real_is_reference(9007199254740993.0), real_is_reference(1e23), real_is_reference(5e-324);
}

/* The same for floats: "%.Pg" of the float for the smallest P from 6 that reads back. */
static void float_is_reference(float f)
{
    char got[ST_TEXT_REAL_MAX], want[64];
    st_text_real(got, f, 1);
    for (int p = 6; p <= 9; p++) {
        snprintf(want, sizeof want, "%.*g", p, (double)f);
        if (strtof(want, NULL) == f) break;
    }
    if (isfinite(f) && strcmp(got, want) != 0) {
        uint32_t bits;
        memcpy(&bits, &f, 4);
        fail_msg("%a (bits %08x): '%s', printf's '%s'", (double)f, bits, got, want);
    }
}

static void floats_are_printfs_shortest_to_the_byte(void **state)
{
    (void)state;
    uint64_t s = 0x853C49E6748FEA9BULL;
    for (int i = 0; i < 600000; i++) { /* any bits */
        uint32_t bits = (uint32_t)next(&s);
        float f;
        memcpy(&f, &bits, 4);
        float_is_reference(f);
    }
    for (int i = 0; i < 200000; i++) { /* data of every magnitude */
        double u = (double)(next(&s) >> 11) / 9007199254740992.0;
        float_is_reference((float)((u - 0.5) * pow(10, (int)(next(&s) % 30) - 15)));
    }
    for (int e = -149; e <= 127; e++) {
        float p = ldexpf(1, e);
        float_is_reference(p), float_is_reference(nextafterf(p, 0));
        float_is_reference(nextafterf(p, INFINITY)), float_is_reference(-p);
    }
    for (int e = -45; e <= 38; e++) {
        float p = (float)pow(10, e);
        float_is_reference(p), float_is_reference(nextafterf(p, 0));
        float_is_reference(nextafterf(p, INFINITY));
    }
    for (int k = 1; k < 300000; k++) {
        float_is_reference((float)k), float_is_reference((float)k / 7);
        float_is_reference((float)k * 0.01f);
    }
    float_is_reference(FLT_MAX), float_is_reference(FLT_MIN), float_is_reference(16777217.0f);
    char b[ST_TEXT_REAL_MAX]; /* a double that is no float: the text of the float it rounds to */
    st_text_real(b, 1.4999998451, 1);
    assert_string_equal(b, "1.4999999");
    st_text_real(b, 1.5e-45, 1); /* (a subnormal float: the loop's path) */
    assert_string_equal(b, "1.4013e-45");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integers_are_written_as_printf_writes_them),
        cmocka_unit_test(reals_read_back_in_their_shortest_form),
        cmocka_unit_test(reals_are_printfs_shortest_to_the_byte),
        cmocka_unit_test(floats_are_printfs_shortest_to_the_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
