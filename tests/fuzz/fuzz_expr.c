/*
 * fuzz_expr.c -- libFuzzer harness for the expression language (src/expr): the fuzzed text is
 * parsed against columns of every dtype (i8 ... u64, f32, f64, bool, two str) and, when it
 * parses, evaluated over them. Oracles:
 *   - the result type is i64, f64 or bool, and the scratch per thread stays within the plan's
 *     bound (1 + log2 of the operands' count, blocks of 4096 values);
 *   - evaluating all rows at once equals evaluating them in two parts, and (for small inputs)
 *     one row at a time: the block and scratch handling never changes a value;
 *   - for a bool expression the fused filter selects exactly the rows the values say;
 *   - ASan and UBSan see every access (the scratch overflow of long operator chains).
 *
 * Input: byte 0 picks the row count (up to 64, or past one block of 4096 rows), the rest is
 * the expression.
 *     scripts/fuzz.sh fuzz_expr 60
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "util/bits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static const strata_column cols[] = {
    {"a", STRATA_I8},   {"b", STRATA_I16}, {"c", STRATA_I32}, {"d", STRATA_I64}, {"e", STRATA_U8},
    {"f", STRATA_U16},  {"g", STRATA_U32}, {"h", STRATA_U64}, {"x", STRATA_F32}, {"y", STRATA_F64},
    {"p", STRATA_BOOL}, {"s", STRATA_STR}, {"t", STRATA_STR}};
#define NC      ((int)(sizeof cols / sizeof cols[0]))
#define MAXROWS (4096 + 64)

static int8_t va[MAXROWS];
static int16_t vb[MAXROWS];
static int32_t vc[MAXROWS];
static int64_t vd[MAXROWS];
static uint8_t ve[MAXROWS], vp[MAXROWS];
static uint16_t vf[MAXROWS];
static uint32_t vg[MAXROWS];
static uint64_t vh[MAXROWS];
static float vx[MAXROWS];
static double vy[MAXROWS];
static int64_t soff[MAXROWS + 1], toff[MAXROWS + 1];
static char sbytes[MAXROWS * 4], tbytes[MAXROWS * 4];
static int filled;
/* nulls (when the input's first byte asks): validity bitmaps of some columns, and their copies
 * shifted to start at the row inputs() starts at */
static const int nullable[] = {0, 3, 9, 10, 11};
#define NNULL ((int)(sizeof nullable / sizeof nullable[0]))
static uint8_t base_valid[NNULL][MAXROWS / 8 + 1], shifted[NNULL][MAXROWS / 8 + 1];
static int use_nulls;

/* Values with the edges: zero, one, minus one, the extremes, NaN, infinities, -0.0. */
static void fill(void)
{
    static const int64_t ints[] = {0,         1,   -1,    7,      -100,       INT64_MAX,
                                   INT64_MIN, 255, 65535, -32768, 3000000000, 1 << 20};
    static const double dbls[] = {0.0,
                                  -0.0,
                                  1.5,
                                  NAN,
                                  INFINITY,
                                  -INFINITY,
                                  1e308,
                                  -3.25,
                                  2.2250738585072014e-308,
                                  9.2233720368547758e18,
                                  -1e-300,
                                  42};
    static const char *strv[] = {"", "a", "ab", "x\0y", "\xc3\xa9", "z1"};
    static const size_t strl[] = {0, 1, 2, 3, 2, 2};
    for (int i = 0; i < MAXROWS; i++) {
        int64_t v = (int64_t)((uint64_t)ints[(i * 7) % 12] + (uint64_t)(i / 12)); /* wraps */
        va[i] = (int8_t)v;
        vb[i] = (int16_t)v;
        vc[i] = (int32_t)v;
        vd[i] = v;
        ve[i] = (uint8_t)v;
        vf[i] = (uint16_t)v;
        vg[i] = (uint32_t)v;
        vh[i] = (uint64_t)v;
        vx[i] = (float)dbls[(i * 5) % 12];
        vy[i] = dbls[(i * 11) % 12];
        vp[i] = (uint8_t)(i % 3 == 1);
        int k = i % 6, l = (i / 2) % 6;
        memcpy(sbytes + soff[i], strv[k], strl[k]);
        soff[i + 1] = soff[i] + (int64_t)strl[k];
        memcpy(tbytes + toff[i], strv[l], strl[l]);
        toff[i + 1] = toff[i] + (int64_t)strl[l];
    }
    uint64_t x = 88172645463325252ull; /* xorshift: a few nulls in each nullable column */
    for (int k = 0; k < NNULL; k++)
        for (int r = 0; r < MAXROWS; r++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            st_bit_set(base_valid[k], (uint64_t)r, (x % 5) != 0);
        }
    filled = 1;
}

/* The inputs for rows [LO, ...): every column shifted by LO rows. */
static void inputs(st_expr_input *in, uint64_t lo)
{
    const void *d[NC] = {va + lo, vb + lo, vc + lo, vd + lo, ve + lo,   vf + lo,  vg + lo,
                         vh + lo, vx + lo, vy + lo, vp + lo, soff + lo, toff + lo};
    for (int i = 0; i < NC; i++) {
        in[i].data = d[i];
        in[i].bytes = NULL;
    }
    in[11].bytes = sbytes;
    in[12].bytes = tbytes;
    for (int i = 0; i < NC; i++) in[i].valid = NULL;
    for (int k = 0; use_nulls && k < NNULL; k++) {
        st_bits_copy(shifted[k], 0, base_valid[k], lo, MAXROWS - lo);
        in[nullable[k]].valid = shifted[k];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!filled) fill();
    uint64_t n = 1 + data[0] % 64;
    if (data[0] & 0x80) n += 4096 - 32; /* across a block boundary */
    char *text = malloc(size);
    CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    st_err err;
    st_err_init(&err);
    st_expr *e = NULL;
    int rc = st_expr_parse(&err, text, cols, NC, &e);
    if (rc != STRATA_OK) {
        CHECK(e == NULL && (rc == STRATA_EINVAL || rc == STRATA_ENOMEM) && err.msg[0] != '\0');
        goto done;
    }
    strata_dtype t = st_expr_type(e);
    CHECK(t == STRATA_I64 || t == STRATA_F64 || t == STRATA_BOOL);
    CHECK(st_expr_scratch(e) <= (size_t)(1 + 10) * 4096 * 8); /* 1024 nodes: <= 10 + output */
    size_t esz = t == STRATA_BOOL ? 1 : 8;

    use_nulls = (data[0] & 0x40) != 0;
    st_expr_input in[NC];
    inputs(in, 0);
    char *all = malloc(n * 8), *part = malloc(n * 8);
    uint8_t vall[MAXROWS / 8 + 1], v1[MAXROWS / 8 + 1], v2[MAXROWS / 8 + 1];
    uint64_t nall, n1, n2;
    CHECK(all != NULL && part != NULL);
    CHECK(st_expr_eval_nulls(&err, e, in, n, all, vall, &nall, 1) == STRATA_OK);
    CHECK(nall == st_bits_nulls(vall, 0, n) && (use_nulls || nall == 0));
    /* two parts: the same values and the same nulls */
    uint64_t k = n / 3 + (uint64_t)data[0] % 5;
    if (k > n) k = n;
    CHECK(st_expr_eval_nulls(&err, e, in, k, part, v1, &n1, 1) == STRATA_OK);
    inputs(in, k);
    CHECK(st_expr_eval_nulls(&err, e, in, n - k, part + k * esz, v2, &n2, 1) == STRATA_OK);
    CHECK(memcmp(all, part, n * esz) == 0);
    CHECK(n1 + n2 == nall);
    for (uint64_t r = 0; r < n; r++)
        CHECK(st_bit(vall, r) == (r < k ? st_bit(v1, r) : st_bit(v2, r - k)));
    /* one row at a time */
    if (n <= 64) {
        for (uint64_t r = 0; r < n; r++) {
            char one[8];
            inputs(in, r);
            CHECK(st_expr_eval(&err, e, in, 1, one, 1) == STRATA_OK);
            CHECK(memcmp(one, all + r * esz, esz) == 0);
        }
    }
    /* the fused filter */
    if (t == STRATA_BOOL) {
        uint64_t *pos = malloc(n * sizeof *pos), cnt = 0, w = 0;
        CHECK(pos != NULL);
        inputs(in, 0);
        CHECK(st_expr_filter(&err, e, in, n, pos, &cnt, 1) == STRATA_OK);
        for (uint64_t r = 0; r < n; r++) {
            CHECK(all[r] == 0 || all[r] == 1);
            if (all[r] && st_bit(vall, r)) CHECK(w < cnt && pos[w++] == r);
        }
        CHECK(w == cnt);
        free(pos);
    }
    free(all);
    free(part);
done:
    st_expr_free(e);
    st_err_destroy(&err);
    free(text);
    return 0;
}
