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
    st_err_destroy(&e);
}

/* Parse TEXT expecting STRATA_EINVAL with exactly the message WANT. */
static void refused(const char *text, const char *want)
{
    st_err e;
    st_err_init(&e);
    st_expr *x = (st_expr *)&e;
    int rc = st_expr_parse(&e, text, cols, NC, &x);
    if (rc != STRATA_EINVAL) fail_msg("'%.60s...' gave %s, not EINVAL", text, strata_errname(rc));
    assert_null(x);
    if (strcmp(e.msg, want) != 0) fail_msg("message '%s', expected '%s'", e.msg, want);
    st_err_destroy(&e);
}

/* TEXT parses. */
static void accepted(const char *text)
{
    st_err e;
    st_err_init(&e);
    st_expr *x;
    if (st_expr_parse(&e, text, cols, NC, &x) != STRATA_OK)
        fail_msg("'%.60s...' refused: %s", text, e.msg);
    st_expr_free(x);
    st_err_destroy(&e);
}

/* REPS copies of UNIT, then TAIL, into a new string. */
static char *repeat(const char *head, const char *unit, int reps, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * (size_t)reps + tl + 1);
    memcpy(s, head, hl);
    for (int i = 0; i < reps; i++) memcpy(s + hl + ul * (size_t)i, unit, ul);
    memcpy(s + hl + ul * (size_t)reps, tail, tl + 1);
    return s;
}

static void nesting_and_size_are_limited_with_clear_errors(void **state)
{
    (void)state;
    const char *deep = "expression nested deeper than 64 (parentheses, '-', 'not' and function "
                       "calls each add a level); simplify it at 1:";
    char want[300], *t;
    /* 'not' used to recurse without limit */
    t = repeat("", "not ", 100, "paid");
    snprintf(want, sizeof want, "%s%d", deep, 64 * 4 + 1);
    refused(t, want);
    free(t);
    t = repeat("", "not ", 200000, "paid"); /* would overflow the stack without a limit */
    refused(t, want);
    free(t);
    t = repeat("", "(", 100, "fare");
    snprintf(want, sizeof want, "%s%d", deep, 65);
    refused(t, want);
    free(t);
    t = repeat("", "-", 200, "1");
    refused(t, want);
    free(t);
    t = repeat("", "abs(", 80, "1");
    snprintf(want, sizeof want, "%s%d", deep, 64 * 4 + 1);
    refused(t, want);
    free(t);
    /* 64 levels are fine: 63 parentheses around an atom */
    t = repeat("", "(", 63, "fare");
    char *u = repeat(t, ")", 63, "");
    accepted(u);
    free(t);
    free(u);
    t = repeat("", "not ", 63, "paid");
    accepted(t);
    free(t);
    /* size: 512 operands and 511 operators are fine, one more pair is not */
    t = repeat("1", " + 1", 511, "");
    accepted(t);
    free(t);
    t = repeat("1", " + 1", 512, "");
    refused(t, "expression too long: more than 1024 operators and operands; split it into "
               "several derived columns at 1:2047");
    free(t);
    refused("99999999999999999999 > fare",
            "integer out of range for i64 (at most 9223372036854775807; write a float such as "
            "1e19 for larger values) at 1:1");
    refused("fare > \x01 3", "expected a column name, a number or '(' but found byte 0x01 at 1:8");
    char longname[STRATA_NAME_MAX + 8];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    snprintf(want, sizeof want, "name longer than %d bytes at 1:1", STRATA_NAME_MAX);
    refused(longname, want);
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
    st_expr_input in[NC] = {{fare, NULL, NULL},   {dist, NULL, NULL}, {zoff, zbytes, NULL},
                            {doff, dbytes, NULL}, {paid, NULL, NULL}, {small, NULL, NULL},
                            {big, NULL, NULL},    {f4, NULL, NULL},   {tw, NULL, NULL}};
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
    st_expr_input in[NC] = {{fare, NULL, NULL},   {dist, NULL, NULL}, {zoff, zbytes, NULL},
                            {doff, dbytes, NULL}, {paid, NULL, NULL}, {small, NULL, NULL},
                            {big, NULL, NULL},    {f4, NULL, NULL},   {tw, NULL, NULL}};
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

/* ---- long chains over every dtype: the scratch the evaluator really takes ------------------ */

static const strata_column every[] = {{"a8", STRATA_I8},   {"a16", STRATA_I16}, {"a32", STRATA_I32},
                                      {"a64", STRATA_I64}, {"u8", STRATA_U8},   {"u16", STRATA_U16},
                                      {"u32", STRATA_U32}, {"u64", STRATA_U64}, {"f32", STRATA_F32},
                                      {"f64", STRATA_F64}, {"b", STRATA_BOOL},  {"s", STRATA_STR}};
#define NE ((int)(sizeof every / sizeof every[0]))
#define NR 9001 /* three blocks, the last ragged */
static int8_t e8[NR];
static int16_t e16[NR];
static int32_t e32[NR];
static int64_t e64[NR];
static uint8_t eu8[NR], eb[NR];
static uint16_t eu16[NR];
static uint32_t eu32[NR];
static uint64_t eu64[NR];
static float ef32[NR];
static double ef64[NR];
static int64_t esoff[NR + 1];
static char esbytes[NR * 4];

static void fill_every(void)
{
    for (int i = 0; i < NR; i++) {
        e8[i] = (int8_t)(i * 7);
        e16[i] = (int16_t)(i * 331 - 20000);
        e32[i] = i * 100003 - 7;
        e64[i] = (int64_t)i * 9000000000001 - 5;
        eu8[i] = (uint8_t)(i * 3);
        eu16[i] = (uint16_t)(i * 41);
        eu32[i] = (uint32_t)i * 4000000007u;
        eu64[i] = (uint64_t)i * 0x9E3779B97F4A7C15u;
        ef32[i] = (float)i / 3 - 1000;
        ef64[i] = i % 17 == 0 ? NAN : (double)i * 1.5 - 4000;
        eb[i] = (uint8_t)(i % 3 != 0);
        esoff[i + 1] = esoff[i] + sprintf(esbytes + esoff[i], "x%d", i % 4);
    }
}

/* Row R of numeric column C: as an integer (*IS_F 0) or a double (*IS_F 1). */
static int64_t every_int(int c, int r)
{
    switch (c) {
    case 0:
        return e8[r];
    case 1:
        return e16[r];
    case 2:
        return e32[r];
    case 3:
        return e64[r];
    case 4:
        return eu8[r];
    case 5:
        return eu16[r];
    case 6:
        return eu32[r];
    case 7:
        return (int64_t)eu64[r];
    default:
        return eb[r];
    }
}

static double every_f(int c, int r)
{
    return c == 8 ? (double)ef32[r] : ef64[r];
}

/* Evaluate TEXT over the `every` columns with NT threads; checks its type and, for a bool
 * expression, that the fused filter agrees with the values. *SCRATCH: its scratch bytes. */
static void *run_every(const char *text, strata_dtype want, int nt, size_t *scratch)
{
    st_err e;
    st_err_init(&e);
    st_expr *x;
    if (st_expr_parse(&e, text, every, NE, &x) != STRATA_OK)
        fail_msg("'%.60s...': %s", text, e.msg);
    assert_int_equal(st_expr_type(x), want);
    if (scratch != NULL) *scratch = st_expr_scratch(x);
    st_expr_input in[NE] = {{e8, NULL, NULL},   {e16, NULL, NULL},  {e32, NULL, NULL},
                            {e64, NULL, NULL},  {eu8, NULL, NULL},  {eu16, NULL, NULL},
                            {eu32, NULL, NULL}, {eu64, NULL, NULL}, {ef32, NULL, NULL},
                            {ef64, NULL, NULL}, {eb, NULL, NULL},   {esoff, esbytes, NULL}};
    void *out = malloc(NR * 8);
    assert_int_equal(st_expr_eval(&e, x, in, NR, out, nt), STRATA_OK);
    if (want == STRATA_BOOL) {
        uint64_t *pos = malloc(NR * 8), cnt = 0, k = 0;
        assert_int_equal(st_expr_filter(&e, x, in, NR, pos, &cnt, nt), STRATA_OK);
        for (uint64_t i = 0; i < NR; i++)
            if (((uint8_t *)out)[i]) assert_true(k < cnt && pos[k++] == i);
        assert_int_equal(k, cnt);
        free(pos);
    }
    st_expr_free(x);
    st_err_destroy(&e);
    return out;
}

static void same_double(double got, double want, int row)
{
    if (!(got == want || (isnan(got) && isnan(want))))
        fail_msg("row %d: %.17g, expected %.17g", row, got, want);
}

/* A comparison of an 8-byte column with a literal reads the column where it lies (its own path):
 * the same bits as through temporaries (COL + 0 is no column), either side, every operator,
 * integer and float literals, NaN rows, over three blocks. */
static void column_literal_comparisons_match_the_general_path(void **state)
{
    (void)state;
    fill_every();
    const char *names[] = {"a64", "f64", "a32"}, *ops[] = {"<", "<=", ">", ">=", "==", "!="};
    const char *lits[] = {"-5", "8999999999996", "-2500", "2.5", "-3998.5", "1e300", "0"};
    char fast[128], slow[128];
    for (int c = 0; c < 3; c++)
        for (int o = 0; o < 6; o++)
            for (int l = 0; l < 7; l++)
                for (int side = 0; side < 2; side++) {
                    if (side == 0) {
                        snprintf(fast, sizeof fast, "%s %s %s", names[c], ops[o], lits[l]);
                        snprintf(slow, sizeof slow, "%s + 0 %s %s", names[c], ops[o], lits[l]);
                    } else {
                        snprintf(fast, sizeof fast, "%s %s %s", lits[l], ops[o], names[c]);
                        snprintf(slow, sizeof slow, "%s %s %s + 0", lits[l], ops[o], names[c]);
                    }
                    uint8_t *f = run_every(fast, STRATA_BOOL, 1 + side * 2, NULL);
                    uint8_t *g = run_every(slow, STRATA_BOOL, 1, NULL);
                    for (int i = 0; i < NR; i++)
                        if (f[i] != g[i])
                            fail_msg("'%s', row %d: %d, but '%s' gives %d", fast, i, f[i], slow,
                                     g[i]);
                    free(f);
                    free(g);
                }
    /* and they are the values: a64 == -5 holds at row 0 only, f64 > -3998.5 not at NaN rows */
    uint8_t *b = run_every("-5 == a64", STRATA_BOOL, 2, NULL);
    for (int i = 0; i < NR; i++) assert_int_equal(b[i], i == 0);
    free(b);
    b = run_every("f64 > -3998.5", STRATA_BOOL, 2, NULL);
    for (int i = 0; i < NR; i++) assert_int_equal(b[i], !isnan(ef64[i]) && ef64[i] > -3998.5);
    free(b);
}

/* a+b+a+b+a+b and six comparisons joined by 'and' overflowed the scratch (it was sized from
 * the nesting, 1 level here, not from the tree) */
static void left_deep_chains_fit_their_scratch(void **state)
{
    (void)state;
    fill_every();
    size_t scratch;
    for (int nt = 1; nt <= 3; nt += 2) {
        int64_t *o = run_every("a64 + a16 + a64 + a16 + a64 + a16", STRATA_I64, nt, &scratch);
        for (int i = 0; i < NR; i++)
            assert_true(o[i] == (int64_t)((uint64_t)e64[i] * 3 + (uint64_t)(int64_t)e16[i] * 3));
        free(o);
        assert_int_equal(scratch, 2 * 4096 * 8); /* the output and one temporary */
        uint8_t *b = run_every("a8 < 100 and a16 > -5000 and a32 != 7 and u8 <= 200 and "
                               "f32 >= -900 and f64 < 1e4",
                               STRATA_BOOL, nt, &scratch);
        for (int i = 0; i < NR; i++) {
            int w = e8[i] < 100 && e16[i] > -5000 && e32[i] != 7 && eu8[i] <= 200 &&
                    ef32[i] >= -900 && ef64[i] < 1e4;
            if (b[i] != w) fail_msg("row %d: %d, expected %d", i, b[i], w);
        }
        free(b);
        assert_int_equal(scratch, 3 * 4096 * 8); /* each comparison: two leaves */
    }
    /* 500 terms over every integer dtype (and bool), + and -: wraps like the reference */
    char *t = malloc(8192);
    size_t len = 0;
    int cyc[] = {0, 1, 2, 3, 4, 5, 6, 7, 10};
    const char *names[] = {"a8", "a16", "a32", "a64", "u8", "u16", "u32", "u64", "", "", "b"};
    for (int k = 0; k < 500; k++)
        len += (size_t)sprintf(t + len, "%s%s",
                               k == 0  ? ""
                               : k % 3 ? " + "
                                       : " - ",
                               names[cyc[k % 9]]);
    int64_t *o = run_every(t, STRATA_I64, 2, &scratch);
    assert_int_equal(scratch, 2 * 4096 * 8);
    for (int i = 0; i < NR; i++) {
        uint64_t acc = 0;
        for (int k = 0; k < 500; k++) {
            uint64_t v = (uint64_t)every_int(cyc[k % 9], i);
            acc = k == 0 || k % 3 ? acc + v : acc - v;
        }
        if (o[i] != (int64_t)acc)
            fail_msg("row %d: %lld, expected %lld", i, (long long)o[i], (long long)(int64_t)acc);
    }
    free(o);
    /* mixed: integers then floats; the sum turns f64 at the first float, as the types say */
    len = 0;
    int mix[] = {3, 0, 8, 6, 9, 10, 1};
    const char *mnames[] = {"a64", "a8", "f32", "u32", "f64", "b", "a16"};
    for (int k = 0; k < 400; k++)
        len += (size_t)sprintf(t + len, "%s%s", k == 0 ? "" : k % 2 ? " - " : " + ", mnames[k % 7]);
    double *d = run_every(t, STRATA_F64, 3, &scratch);
    assert_int_equal(scratch, 2 * 4096 * 8);
    for (int i = 0; i < NR; i++) {
        int64_t ai = 0;
        double af = 0;
        int is_f = 0;
        for (int k = 0; k < 400; k++) {
            int c = mix[k % 7], vf = c == 8 || c == 9, sub = k % 2;
            if (k == 0) {
                ai = every_int(c, i);
                continue;
            }
            if (!is_f && !vf) {
                ai = (int64_t)(sub ? (uint64_t)ai - (uint64_t)every_int(c, i)
                                   : (uint64_t)ai + (uint64_t)every_int(c, i));
                continue;
            }
            if (!is_f) af = (double)ai;
            is_f = 1;
            double v = vf ? every_f(c, i) : (double)every_int(c, i);
            af = sub ? af - v : af + v;
        }
        same_double(d[i], af, i);
    }
    free(d);
    free(t);
}

static void right_deep_and_balanced_trees_fit_their_scratch(void **state)
{
    (void)state;
    fill_every();
    size_t scratch;
    /* u16 - (a32 - (u16 - ( ... a16))): 60 levels deep, right-deep */
    char *t = malloc(8192);
    size_t len = 0;
    for (int k = 0; k < 59; k++) len += (size_t)sprintf(t + len, "%s - (", k % 2 ? "a32" : "u16");
    len += (size_t)sprintf(t + len, "a16");
    for (int k = 0; k < 59; k++) t[len++] = ')';
    t[len] = '\0';
    int64_t *o = run_every(t, STRATA_I64, 2, &scratch);
    for (int i = 0; i < NR; i++) {
        uint64_t acc = (uint64_t)(int64_t)e16[i];
        for (int k = 58; k >= 0; k--)
            acc = (uint64_t)(k % 2 ? (int64_t)e32[i] : (int64_t)eu16[i]) - acc;
        assert_true(o[i] == (int64_t)acc);
    }
    free(o);
    assert_int_equal(scratch, 2 * 4096 * 8); /* heavier operand first: no growth */
    /* a balanced tree of 256 leaves: log2(256) + 1 temporaries and the output */
    len = 0;
    const char *leaf[] = {"f32", "a8", "u64", "b"};
    char *u = malloc(65536);
    strcpy(t, "a32");
    for (int lvl = 0; lvl < 8; lvl++) {
        /* t := (t op t') where t' is t with its leaves rotated */
        size_t tl = strlen(t);
        char *rot = malloc(tl * 2 + 64);
        size_t rl = 0;
        for (size_t i = 0; i < tl;) {
            int hit = -1;
            for (int k = 0; k < 4 && hit < 0; k++)
                if (strncmp(t + i, leaf[k], strlen(leaf[k])) == 0) hit = k;
            if (strncmp(t + i, "a32", 3) == 0) {
                rl += (size_t)sprintf(rot + rl, "%s", leaf[lvl % 4]);
                i += 3;
            } else {
                rot[rl++] = t[i++];
            }
        }
        rot[rl] = '\0';
        snprintf(u, 65536, "(%s %s %s)", t, lvl % 2 ? "*" : "+", rot);
        strcpy(t = realloc(t, strlen(u) + 1), u);
        free(rot);
    }
    double *d = run_every(t, STRATA_F64, 3, &scratch);
    assert_int_equal(scratch, (1 + 8) * 4096 * 8); /* log2(256) + the output */
    (void)d[NR - 1];
    free(d);
    free(u);
    free(t);
}

static void mixed_comparisons_strings_and_calls_fit_their_scratch(void **state)
{
    (void)state;
    fill_every();
    const char *text = "s == 'x1' and a8 > 0 or s != 'x2' and not b and u64 > 5 or "
                       "max(f32, a16) < min(u8 + f64, a32 * 2) and abs(-a64) != i64(f64) and "
                       "f64(u16) + 1 > f32 and -a8 < u32";
    for (int nt = 1; nt <= 3; nt++) {
        uint8_t *b = run_every(text, STRATA_BOOL, nt, NULL);
        for (int i = 0; i < NR; i++) {
            size_t sl = (size_t)(esoff[i + 1] - esoff[i]);
            int s1 = sl == 2 && memcmp(esbytes + esoff[i], "x1", 2) == 0;
            int s2 = sl == 2 && memcmp(esbytes + esoff[i], "x2", 2) == 0;
            double mx = isnan(ef32[i]) ? NAN : (double)ef32[i] > e16[i] ? ef32[i] : e16[i];
            double l = (double)eu8[i] + ef64[i], r = (double)e32[i] * 2;
            double mn = isnan(l) ? NAN : l < r ? l : r;
            int64_t ab = e64[i] < 0 ? (int64_t)(0 - (uint64_t)e64[i]) : e64[i];
            int64_t i64f = isnan(ef64[i]) ? 0 : (int64_t)ef64[i];
            int w = (s1 && e8[i] > 0) || (!s2 && !eb[i] && (int64_t)eu64[i] > 5) ||
                    (mx < mn && ab != i64f && (double)eu16[i] + 1 > ef32[i] &&
                     -(int64_t)e8[i] < (int64_t)eu32[i]);
            if (b[i] != w) fail_msg("row %d (threads %d): %d, expected %d", i, nt, b[i], w);
        }
        free(b);
    }
}

/* Nulls as in SQL: an operation with a null operand is null, Kleene logic for and/or, a filter
 * keeps only true rows; over several blocks, any thread count, and bit offsets. */
static void nulls_propagate_with_kleene_logic(void **state)
{
    (void)state;
    enum { R = 3 * 4096 + 77 };
    static const strata_column nc[] = {
        {"a", STRATA_I64}, {"b", STRATA_F64}, {"c", STRATA_BOOL}, {"s", STRATA_STR}};
    int64_t *a = malloc(R * 8), *soff = malloc((R + 1) * 8);
    double *b = malloc(R * 8);
    uint8_t *c = malloc(R), va[R / 8 + 1] = {0}, vb[R / 8 + 1] = {0}, vc[R / 8 + 1] = {0};
    char *sbytes = malloc(R);
    soff[0] = 0;
    for (int i = 0; i < R; i++) {
        a[i] = i % 10;
        b[i] = i * 0.5;
        c[i] = (uint8_t)(i % 3 == 0);
        sbytes[i] = (char)('a' + i % 2);
        soff[i + 1] = i + 1;
        if (i % 7 != 0) va[i / 8] |= (uint8_t)(1u << (i % 8));
        if (i % 5 != 1) vb[i / 8] |= (uint8_t)(1u << (i % 8));
        if (i % 4 != 2) vc[i / 8] |= (uint8_t)(1u << (i % 8));
        if (i % 7 == 0) a[i] = 0; /* null slots hold zero, as stored */
    }
    st_expr_input in[4] = {{a, NULL, va}, {b, NULL, vb}, {c, NULL, vc}, {soff, sbytes, NULL}};
    /* expected: value and validity per row, -1 for null */
    struct {
        const char *text;
        int (*want)(int i); /* 0/1 for bools, the value for integers; -1: null */
    } cases[] = {
        {"a + 1", NULL},       {"a > 4 and c", NULL},   {"a > 4 or c", NULL},
        {"not c", NULL},       {"min(a, b) < 3", NULL}, {"s == 'a' or a > 100", NULL},
        {"c and false", NULL}, {"c or true", NULL},
    };
    for (int nt = 1; nt <= 3; nt += 2) {
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            st_err e;
            st_err_init(&e);
            st_expr *x;
            if (st_expr_parse(&e, cases[k].text, nc, 4, &x) != STRATA_OK) fail_msg("%s", e.msg);
            void *out = malloc(R * 8);
            uint8_t valid[R / 8 + 1];
            uint64_t nulls = 0, want_nulls = 0;
            assert_int_equal(st_expr_eval_nulls(&e, x, in, R, out, valid, &nulls, nt), STRATA_OK);
            for (int i = 0; i < R; i++) {
                int na = i % 7 == 0, nb = i % 5 == 1, ncn = i % 4 == 2, ok;
                int64_t v = 0;
                int ci = c[i], gt = a[i] > 4;
                switch (k) {
                case 0:
                    ok = !na;
                    v = a[i] + 1;
                    break;
                case 1:
                    ok = (!na && !ncn) || (!na && !gt) || (!ncn && !ci);
                    v = gt && ci;
                    break;
                case 2:
                    ok = (!na && !ncn) || (!na && gt) || (!ncn && ci);
                    v = gt || ci;
                    break;
                case 3:
                    ok = !ncn;
                    v = !ci;
                    break;
                case 4:
                    ok = !na && !nb;
                    v = (a[i] < b[i] ? (double)a[i] : b[i]) < 3;
                    break;
                case 5:
                    ok = sbytes[i] == 'a' || !na;
                    v = sbytes[i] == 'a' || a[i] > 100;
                    break;
                case 6:
                    ok = 1;
                    v = 0;
                    break;
                default:
                    ok = 1;
                    v = 1;
                    break;
                }
                want_nulls += !ok;
                if (((valid[i / 8] >> (i % 8)) & 1) != ok)
                    fail_msg("'%s' row %d: validity %d, want %d", cases[k].text, i, !ok, ok);
                int64_t got =
                    st_expr_type(x) == STRATA_BOOL ? ((uint8_t *)out)[i] : ((int64_t *)out)[i];
                if (ok && got != v)
                    fail_msg("'%s' row %d: %lld, want %lld", cases[k].text, i, (long long)got,
                             (long long)v);
            }
            assert_int_equal(nulls, want_nulls);
            if (st_expr_type(x) == STRATA_BOOL) { /* a filter keeps the true, valid rows */
                uint64_t *idx = malloc(R * 8), cnt, j = 0;
                assert_int_equal(st_expr_filter(&e, x, in, R, idx, &cnt, nt), STRATA_OK);
                for (int i = 0; i < R; i++)
                    if ((valid[i / 8] >> (i % 8) & 1) && ((uint8_t *)out)[i]) {
                        assert_true(j < cnt);
                        assert_int_equal(idx[j++], i);
                    }
                assert_int_equal(j, cnt);
                free(idx);
            }
            free(out);
            st_expr_free(x);
        }
    }
    free(a);
    free(b);
    free(c);
    free(soff);
    free(sbytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_errors_name_the_place),
        cmocka_unit_test(semantics_are_as_documented),
        cmocka_unit_test(results_do_not_depend_on_threads),
        cmocka_unit_test(fused_filter_equals_mask_then_compact),
        cmocka_unit_test(nesting_and_size_are_limited_with_clear_errors),
        cmocka_unit_test(left_deep_chains_fit_their_scratch),
        cmocka_unit_test(column_literal_comparisons_match_the_general_path),
        cmocka_unit_test(right_deep_and_balanced_trees_fit_their_scratch),
        cmocka_unit_test(mixed_comparisons_strings_and_calls_fit_their_scratch),
        cmocka_unit_test(nulls_propagate_with_kleene_logic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
