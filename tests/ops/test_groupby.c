/* Group-by against a naive reference: keys sorted, counts, integer and float aggregates (NaN in
 * min/max), identical for any thread count, and merging partials equals aggregating parts. */
#include <math.h>

#include "ops/ops.h"
#include "test_util.h"

#define N 200003

static int64_t k1[N], k2[N], iv[N];
static double fv[N];

static void fill(void)
{
    unsigned seed = 77;
    for (int i = 0; i < N; i++) {
        k1[i] = rand_r(&seed) % 17 - 8;
        k2[i] = rand_r(&seed) % 5;
        iv[i] = rand_r(&seed) % 100000 - 50000;
        fv[i] = rand_r(&seed) % 50 == 0 ? NAN : (double)(rand_r(&seed) % 10000) / 7.0;
    }
}

/* Naive reference over rows [lo, hi) for the group (a, b): count, sum of iv, min iv, max fv
 * (NaN excluded), sum fv in row order. */
static void reference(int64_t a, int64_t b, int lo, int hi, int64_t *cnt, int64_t *isum,
                      int64_t *imin, double *fmax, double *fsum)
{
    *cnt = 0;
    *isum = 0;
    *imin = INT64_MAX;
    *fmax = NAN;
    *fsum = 0;
    for (int i = lo; i < hi; i++) {
        if (k1[i] != a || k2[i] != b) continue;
        (*cnt)++;
        *isum += iv[i];
        if (iv[i] < *imin) *imin = iv[i];
        if (!isnan(fv[i]) && (isnan(*fmax) || fv[i] > *fmax)) *fmax = fv[i];
        *fsum = *cnt == 1 ? fv[i] : *fsum + fv[i];
    }
}

static void groupby_matches_reference_for_any_thread_count(void **state)
{
    (void)state;
    fill();
    const int64_t *keys[2] = {k1, k2};
    st_agg aggs[5] = {{ST_AGG_COUNT, 0, NULL},
                      {ST_AGG_SUM, 0, iv},
                      {ST_AGG_MIN, 0, iv},
                      {ST_AGG_MAX, 1, fv},
                      {ST_AGG_SUM, 1, fv}};
    st_groups g1, g3;
    assert_int_equal(st_groupby(keys, 2, N, aggs, 5, &g1, 1), 0);
    assert_int_equal(st_groupby(keys, 2, N, aggs, 5, &g3, 3), 0);
    assert_int_equal(g1.n, 17 * 5);
    assert_int_equal(g3.n, g1.n);
    assert_memory_equal(g1.keys, g3.keys, g1.n * 2 * 8);
    assert_memory_equal(g1.ival, g3.ival, g1.n * 5 * 8);
    assert_memory_equal(g1.fval, g3.fval, g1.n * 5 * 8); /* float sums too: row order */
    for (uint64_t g = 0; g < g1.n; g++) {
        if (g > 0)
            assert_true(
                g1.keys[2 * g - 2] < g1.keys[2 * g] ||
                (g1.keys[2 * g - 2] == g1.keys[2 * g] && g1.keys[2 * g - 1] < g1.keys[2 * g + 1]));
        int64_t cnt, isum, imin;
        double fmax, fsum;
        reference(g1.keys[2 * g], g1.keys[2 * g + 1], 0, N, &cnt, &isum, &imin, &fmax, &fsum);
        assert_int_equal(g1.count[g], cnt);
        assert_true(st_groups_value(&g1, g, 0) == (double)cnt);
        assert_true(g1.ival[g * 5 + 1] == isum);
        assert_true(g1.ival[g * 5 + 2] == imin);
        assert_true(g1.fval[g * 5 + 3] == fmax);
        double s = g1.fval[g * 5 + 4];
        assert_true(isnan(fsum) ? isnan(s) : s == fsum); /* a NaN anywhere makes the sum NaN */
    }
    st_groups_free(&g1);
    st_groups_free(&g3);
}

static void merging_partials_equals_aggregating_the_parts(void **state)
{
    (void)state;
    fill();
    int cut = 70001;
    const int64_t *keys_a[2] = {k1, k2}, *keys_b[2] = {k1 + cut, k2 + cut};
    st_agg aggs_a[3] = {{ST_AGG_MEAN, 0, iv}, {ST_AGG_MIN, 0, iv}, {ST_AGG_MAX, 1, fv}};
    st_agg aggs_b[3] = {
        {ST_AGG_MEAN, 0, iv + cut}, {ST_AGG_MIN, 0, iv + cut}, {ST_AGG_MAX, 1, fv + cut}};
    st_groups a, b, all;
    assert_int_equal(st_groupby(keys_a, 2, (uint64_t)cut, aggs_a, 3, &a, 2), 0);
    assert_int_equal(st_groupby(keys_b, 2, (uint64_t)(N - cut), aggs_b, 3, &b, 2), 0);
    assert_int_equal(st_groupby(keys_a, 2, N, aggs_a, 3, &all, 2), 0);
    assert_int_equal(st_groups_merge(&a, &b), 0);
    assert_int_equal(a.n, all.n);
    assert_memory_equal(a.keys, all.keys, a.n * 2 * 8);
    assert_memory_equal(a.count, all.count, a.n * 8);
    assert_memory_equal(a.ival, all.ival, a.n * 3 * 8); /* integer sums and min: exact */
    for (uint64_t g = 0; g < a.n; g++) {
        assert_true(a.fval[g * 3 + 2] == all.fval[g * 3 + 2]);
        assert_true(st_groups_value(&a, g, 0) == st_groups_value(&all, g, 0)); /* mean */
    }
    /* merging into an empty result, and an empty input */
    st_groups none;
    assert_int_equal(st_groupby(keys_a, 2, 0, aggs_a, 3, &none, 2), 0);
    assert_int_equal(none.n, 0);
    assert_int_equal(st_groups_merge(&none, &all), 0);
    assert_int_equal(none.n, all.n);
    st_groups_free(&a);
    st_groups_free(&b);
    st_groups_free(&all);
    st_groups_free(&none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groupby_matches_reference_for_any_thread_count),
        cmocka_unit_test(merging_partials_equals_aggregating_the_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
