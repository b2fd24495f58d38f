/* The expression language: errors name the place, types are checked when parsed, and the
 * documented semantics hold (promotion, wrap-around, division by zero, NaN, strings), over
 * several evaluation blocks and any thread count. */
#include <math.h>

#include "expr/expr.h"
#include "test_util.h"

static const strata_column cols[] = {
    {"fare", STRATA_I64}, {"dist", STRATA_F64},  {"zone", STRATA_STR},
    {"drop", STRATA_STR}, {"paid", STRATA_BOOL}, {"small", STRATA_I16},
    {"big", STRATA_U64},  {"f4", STRATA_F32},    {"two words", STRATA_I32}};
#define NC ((int)(sizeof cols / sizeof cols[0]))

static void parse_errors_name_the_place(void **state)
{
    (void)state;
    struct {
        const char *text, *msg;
    } cases[] = {
        {"fare >", "unexpected end of expression at 1:7"},
        {"fare > > 3", "expected a column name, a number or '(' but found '>' at 1:8"},
        {"foo > 3", "unknown column 'foo' at 1:1"},
        {"fare = 3", "use '==' to compare at 1:6"},
        {"(fare > 3", "expected ')' at 1:10"},
        {"fare > 3 junk", "unexpected text after the expression at 1:10"},
        {"zone == 'abc", "unterminated string (no closing ') at 1:9"},
        {"bogus(1)", "unknown function 'bogus'"},
        {"min(fare)", "min() takes two arguments: expected ','"},
        {"zone + 1", "type error: '+' between a string and i64 at 1:6"},
        {"fare and paid", "type error: 'and' between i64 and a bool at 1:6"},
        {"not fare", "type error: 'not' of i64 at 1:1"},
        {"zone < 'a'", "type error: '<' between a string and a string at 1:6"},
        {"zone == 1", "type error: '==' between a string and i64"},
        {"-zone", "cannot negate a string at 1:1"},
        {"abs(zone)", "abs() needs numbers"},
        {"zone", "the expression is a string"},
        {"fare >\n  3 +", "unexpected end of expression at 2:6"},
        {"12ab", "malformed number at 1:1"},
        {"", "unexpected end of expression at 1:1"},
    };
    st_err e;
    st_err_init(&e);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_expr *x;
        assert_int_equal(st_expr_parse(&e, cases[i].text, cols, NC, &x), STRATA_EINVAL);
        assert_null(x);
        if (strstr(e.msg, cases[i].msg) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].text, e.msg, cases[i].msg);
    }
    /* too deep */
    char deep[400];
    memset(deep, '-', 200);
    strcpy(deep + 200, "1");
    st_expr *x;
    assert_int_equal(st_expr_parse(&e, deep, cols, NC, &x), STRATA_EINVAL);
    assert_non_null(strstr(e.msg, "nested too deeply"));
    st_err_destroy(&e);
}

/* Test data: row i. */
#define N 10007 /* several blocks, and a ragged last one */
static int64_t fare[N];
static double dist[N];
static int64_t zoff[N + 1], doff[N + 1];
static char zbytes[N * 8], dbytes[N * 8];
static uint8_t paid[N];
static int16_t small[N];
static uint64_t big[N];
static float f4[N];
static int32_t tw[N];

static void fill(void)
{
    for (int i = 0; i < N; i++) {
        fare[i] = (int64_t)i * 37 - 100000;
        dist[i] = i % 13 == 0 ? NAN : (double)i / 8 - 300;
        paid[i] = (uint8_t)(i % 3 == 0);
        small[i] = (int16_t)(i % 200 - 100);
        big[i] = (uint64_t)i * 1000003u;
        f4[i] = (float)i / 4;
        tw[i] = i;
        zoff[i + 1] = zoff[i] + sprintf(zbytes + zoff[i], "z%d", i % 5);
        doff[i + 1] = doff[i] + sprintf(dbytes + doff[i], "z%d", i % 7);
    }
}

static void *run(const char *text, strata_dtype want, int nthreads)
{
    st_err e;
    st_err_init(&e);
    st_expr *x;
    if (st_expr_parse(&e, text, cols, NC, &x) != STRATA_OK) fail_msg("'%s': %s", text, e.msg);
    assert_int_equal(st_expr_type(x), want);
    st_expr_input in[NC] = {{fare, NULL},   {dist, NULL}, {zoff, zbytes},
                            {doff, dbytes}, {paid, NULL}, {small, NULL},
                            {big, NULL},    {f4, NULL},   {tw, NULL}};
    void *out = malloc(N * 8);
    assert_int_equal(st_expr_eval(&e, x, in, N, out, nthreads), STRATA_OK);
    st_expr_free(x);
    st_err_destroy(&e);
    return out;
}

static void semantics_are_as_documented(void **state)
{
    (void)state;
    fill();
    int64_t *o = run("fare * 2 + small - 1", STRATA_I64, 2);
    for (int i = 0; i < N; i++) assert_true(o[i] == fare[i] * 2 + small[i] - 1);
    free(o);
    double *d = run("fare / 2.0 + dist", STRATA_F64, 3);
    for (int i = 0; i < N; i++) {
        double w = (double)fare[i] / 2.0 + dist[i];
        assert_true(isnan(w) ? isnan(d[i]) : d[i] == w);
    }
    free(d);
    o = run("fare / 7 + fare % 7", STRATA_I64, 1); /* C truncation, sign of the dividend */
    for (int i = 0; i < N; i++) assert_true(o[i] == fare[i] / 7 + fare[i] % 7);
    free(o);
    o = run("fare / 0 + fare % 0", STRATA_I64, 1); /* defined: 0 */
    for (int i = 0; i < N; i++) assert_true(o[i] == 0);
    free(o);
    o = run("9223372036854775807 + 1", STRATA_I64, 1); /* wraps */
    assert_true(o[0] == INT64_MIN);
    free(o);
    o = run("(0 - 9223372036854775807 - 1) / -1", STRATA_I64, 1);
    assert_true(o[0] == INT64_MIN);
    free(o);
    d = run("1 / 0.0", STRATA_F64, 1);
    assert_true(isinf(d[0]) && d[0] > 0);
    free(d);
    uint8_t *b = run("dist > 0 or dist <= 0", STRATA_BOOL, 2); /* NaN: both false */
    for (int i = 0; i < N; i++) assert_int_equal(b[i], i % 13 != 0);
    free(b);
    b = run("dist != dist", STRATA_BOOL, 2); /* true only for NaN */
    for (int i = 0; i < N; i++) assert_int_equal(b[i], i % 13 == 0);
    free(b);
    b = run("zone != drop and not paid or \"two words\" == 5", STRATA_BOOL, 3);
    for (int i = 0; i < N; i++) {
        int want = ((i % 5 != i % 7) && !paid[i]) || i == 5;
        if (b[i] != want) fail_msg("row %d: %d != %d", i, b[i], want);
    }
    free(b);
    b = run("zone == 'z3'", STRATA_BOOL, 1);
    for (int i = 0; i < N; i++) assert_int_equal(b[i], i % 5 == 3);
    free(b);
    o = run("abs(small) + max(fare, 0) - min(small, 3) + i64(f4) + paid", STRATA_I64, 2);
    for (int i = 0; i < N; i++) {
        int64_t w = (small[i] < 0 ? -small[i] : small[i]) + (fare[i] > 0 ? fare[i] : 0) -
                    (small[i] < 3 ? small[i] : 3) + (int64_t)f4[i] + paid[i];
        assert_true(o[i] == w);
    }
    free(o);
    d = run("f64(fare) / 3 + f4", STRATA_F64, 1);
    for (int i = 0; i < N; i++) assert_true(d[i] == (double)fare[i] / 3 + (double)f4[i]);
    free(d);
    o = run("i64(dist)", STRATA_I64, 1); /* NaN converts to 0 */
    assert_true(o[0] == 0 && o[8] == -299);
    free(o);
    o = run("big - 1", STRATA_I64, 1); /* u64 computes as i64 */
    assert_true(o[3] == 3000008);
    free(o);
    d = run("max(dist, 0)", STRATA_F64, 1); /* NaN wins */
    assert_true(isnan(d[0]) && d[1] == 0);
    free(d);
}

static void results_do_not_depend_on_threads(void **state)
{
    (void)state;
    fill();
    const char *e = "(fare * 3 - small) % 11 + i64(dist * 2) * paid";
    int64_t *a = run(e, STRATA_I64, 1), *b = run(e, STRATA_I64, 4);
    assert_memory_equal(a, b, N * 8);
    free(a);
    free(b);
    st_err err;
    st_err_init(&err);
    st_expr *x;
    assert_int_equal(st_expr_parse(&err, "fare + dist", cols, NC, &x), STRATA_OK);
    assert_true(st_expr_uses(x, 0) && st_expr_uses(x, 1) && !st_expr_uses(x, 2));
    assert_int_equal(st_expr_eval(&err, x, NULL, 0, NULL, 2), STRATA_OK); /* zero rows */
    st_expr_free(x);
    st_err_destroy(&err);
}

static void fused_filter_equals_mask_then_compact(void **state)
{
    (void)state;
    fill();
    st_err e;
    st_err_init(&e);
    st_expr *x;
    assert_int_equal(st_expr_parse(&e, "fare > 0 and dist < 500 or paid", cols, NC, &x), STRATA_OK);
    st_expr_input in[NC] = {{fare, NULL},   {dist, NULL}, {zoff, zbytes},
                            {doff, dbytes}, {paid, NULL}, {small, NULL},
                            {big, NULL},    {f4, NULL},   {tw, NULL}};
    uint8_t *mask = malloc(N);
    assert_int_equal(st_expr_eval(&e, x, in, N, mask, 1), STRATA_OK);
    uint64_t *want = malloc(N * 8), w = 0;
    for (uint64_t i = 0; i < N; i++)
        if (mask[i]) want[w++] = i;
    for (int nt = 1; nt <= 5; nt += 2) {
        uint64_t *got = malloc(N * 8), cnt = 0;
        assert_int_equal(st_expr_filter(&e, x, in, N, got, &cnt, nt), STRATA_OK);
        assert_int_equal(cnt, w);
        assert_memory_equal(got, want, w * 8);
        free(got);
    }
    st_expr_free(x);
    assert_int_equal(st_expr_parse(&e, "fare + 1", cols, NC, &x), STRATA_OK);
    uint64_t cnt;
    assert_int_equal(st_expr_filter(&e, x, in, N, want, &cnt, 2), STRATA_ETYPE);
    st_expr_free(x);
    free(mask);
    free(want);
    st_err_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_errors_name_the_place),
        cmocka_unit_test(semantics_are_as_documented),
        cmocka_unit_test(results_do_not_depend_on_threads),
        cmocka_unit_test(fused_filter_equals_mask_then_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
