/* The data path: slices, strides, gather, scatter, copy, map, flush; every range error changes
 * nothing; results do not depend on the thread count. */
#include <sys/mman.h>

#include "test_util.h"

static strata_array *make_i64(fixture *f, const char *name, uint64_t n)
{
    int64_t *v = malloc(n * sizeof *v);
    for (uint64_t i = 0; i < n; i++) v[i] = (int64_t)i * 10;
    strata_array *a;
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", name, STRATA_I64, n, v, &a));
    free(v);
    return a;
}

static void slices_round_trip_and_ranges_are_checked(void **state)
{
    fixture *f = *state;
    strata_array *a = make_i64(f, "a", 100);
    int64_t v[3] = {-1, -2, -3}, back[3];
    assert_ok(f->pool, strata_array_put(a, 97, 3, v));
    assert_ok(f->pool, strata_array_get(a, 97, 3, back));
    assert_memory_equal(v, back, sizeof v);
    assert_ok(f->pool, strata_array_get(a, 100, 0, back)); /* empty at the end is fine */
    int64_t sentinel[3] = {7, 7, 7};
    memcpy(back, sentinel, sizeof back);
    assert_status(f->pool, strata_array_put(a, 98, 3, v), STRATA_ERANGE);
    assert_errmsg_has(f->pool, "[98, 101)");
    assert_errmsg_has(f->pool, "length is 100");
    assert_status(f->pool, strata_array_get(a, 101, 0, back), STRATA_ERANGE);
    assert_status(f->pool, strata_array_get(a, UINT64_MAX, 2, back), STRATA_ERANGE);
    assert_status(f->pool, strata_array_get(a, 1, UINT64_MAX, back), STRATA_ERANGE);
    assert_memory_equal(back, sentinel, sizeof back);
    /* the failed put wrote nothing */
    int64_t cur;
    assert_ok(f->pool, strata_array_get(a, 98, 1, &cur));
    assert_int_equal(cur, -2);
    assert_status(f->pool, strata_array_put(a, 0, 1, NULL), STRATA_EINVAL);
    strata_array_close(a);
}

static void strided_access(void **state)
{
    fixture *f = *state;
    strata_array *a = make_i64(f, "a", 20);
    int64_t out[4];
    assert_ok(f->pool, strata_array_get_strided(a, 1, 6, 4, out)); /* 1 7 13 19 */
    assert_int_equal(out[0], 10);
    assert_int_equal(out[3], 190);
    assert_status(f->pool, strata_array_get_strided(a, 2, 6, 4, out), STRATA_ERANGE); /* 20 */
    assert_status(f->pool, strata_array_get_strided(a, 0, 0, 4, out), STRATA_EINVAL);
    assert_status(f->pool, strata_array_get_strided(a, 0, UINT64_MAX, 2, out), STRATA_ERANGE);
    int64_t in[3] = {-5, -6, -7};
    assert_ok(f->pool, strata_array_put_strided(a, 0, 9, 3, in)); /* 0 9 18 */
    int64_t all[20];
    assert_ok(f->pool, strata_array_get(a, 0, 20, all));
    assert_int_equal(all[0], -5);
    assert_int_equal(all[9], -6);
    assert_int_equal(all[18], -7);
    assert_int_equal(all[1], 10);
    assert_ok(f->pool, strata_array_get_strided(a, 19, 5, 1, out)); /* one element at the end */
    assert_int_equal(out[0], 190);
    /* one-byte elements */
    strata_array *b;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "b", STRATA_U8, 10, &b));
    uint8_t ones[5] = {1, 2, 3, 4, 5}, got[10];
    assert_ok(f->pool, strata_array_put_strided(b, 0, 2, 5, ones));
    assert_ok(f->pool, strata_array_get(b, 0, 10, got));
    uint8_t want[10] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0};
    assert_memory_equal(got, want, 10);
    strata_array_close(a);
    strata_array_close(b);
}

static void gather_and_scatter(void **state)
{
    fixture *f = *state;
    strata_array *a = make_i64(f, "a", 50);
    uint64_t idx[5] = {49, 0, 7, 7, 20};
    int64_t out[5];
    assert_ok(f->pool, strata_array_gather(a, idx, 5, out));
    int64_t want[5] = {490, 0, 70, 70, 200};
    assert_memory_equal(out, want, sizeof out);
    uint64_t bad[3] = {1, 50, 2};
    assert_status(f->pool, strata_array_gather(a, bad, 3, out), STRATA_ERANGE);
    assert_errmsg_has(f->pool, "index 50 at position 1");
    int64_t vals[3] = {-1, -2, -3};
    assert_status(f->pool, strata_array_scatter(a, bad, 3, vals), STRATA_ERANGE);
    int64_t first;
    assert_ok(f->pool, strata_array_get(a, 1, 1, &first));
    assert_int_equal(first, 10); /* nothing written before the bad index was found */
    uint64_t dup[3] = {5, 6, 5};
    assert_ok(f->pool, strata_array_scatter(a, dup, 3, vals));
    int64_t g[2];
    assert_ok(f->pool, strata_array_get(a, 5, 2, g));
    assert_int_equal(g[0], -3); /* the last occurrence wins */
    assert_int_equal(g[1], -2);
    assert_ok(f->pool, strata_array_gather(a, NULL, 0, NULL));
    assert_status(f->pool, strata_array_gather(a, NULL, 2, out), STRATA_EINVAL);
    strata_array_close(a);
    /* every element size */
    strata_dtype types[] = {STRATA_I8, STRATA_U16, STRATA_F32, STRATA_BOOL};
    for (size_t t = 0; t < 4; t++) {
        char name[8];
        snprintf(name, sizeof name, "t%zu", t);
        strata_array *b;
        assert_ok(f->pool, strata_array_create(f->pool, "r", name, types[t], 16, &b));
        uint8_t src[4 * 4] = {0};
        size_t esz = strata_dtype_size(types[t]);
        for (size_t i = 0; i < 4; i++) src[i * esz] = 1;
        uint64_t where[4] = {15, 3, 8, 0};
        assert_ok(f->pool, strata_array_scatter(b, where, 4, src));
        uint8_t back[16] = {0};
        assert_ok(f->pool, strata_array_gather(b, where, 4, back));
        assert_memory_equal(back, src, 4 * esz);
        strata_array_close(b);
    }
}

static void bools_must_be_zero_or_one(void **state)
{
    fixture *f = *state;
    strata_array *b;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "b", STRATA_BOOL, 4, &b));
    uint8_t bad[2] = {1, 5};
    assert_status(f->pool, strata_array_put(b, 0, 2, bad), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "not 0 or 1");
    uint64_t idx[2] = {0, 1};
    assert_status(f->pool, strata_array_scatter(b, idx, 2, bad), STRATA_EINVAL);
    assert_status(f->pool, strata_array_put_strided(b, 0, 2, 2, bad), STRATA_EINVAL);
    uint8_t got[4];
    assert_ok(f->pool, strata_array_get(b, 0, 4, got));
    assert_int_equal(got[0], 0);
    strata_array_close(b);
}

static void copy_between_and_within_arrays(void **state)
{
    fixture *f = *state;
    strata_array *a = make_i64(f, "a", 10), *b;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "b", STRATA_I64, 10, &b));
    assert_ok(f->pool, strata_array_copy(b, 2, a, 5, 5));
    int64_t got[10];
    assert_ok(f->pool, strata_array_get(b, 0, 10, got));
    assert_int_equal(got[2], 50);
    assert_int_equal(got[6], 90);
    assert_int_equal(got[7], 0);
    assert_ok(f->pool, strata_array_copy(a, 1, a, 0, 9)); /* overlapping: memmove semantics */
    assert_ok(f->pool, strata_array_get(a, 0, 10, got));
    for (int i = 1; i < 10; i++) assert_int_equal(got[i], (i - 1) * 10);
    assert_status(f->pool, strata_array_copy(b, 6, a, 0, 5), STRATA_ERANGE);
    assert_status(f->pool, strata_array_copy(b, 0, a, 6, 5), STRATA_ERANGE);
    strata_array *c;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "c", STRATA_I32, 10, &c));
    assert_status(f->pool, strata_array_copy(c, 0, a, 0, 1), STRATA_ETYPE);
    assert_errmsg_has(f->pool, "dtypes differ");
    strata_array_close(a);
    strata_array_close(b);
    strata_array_close(c);
}

static void map_is_zero_copy_and_shared(void **state)
{
    fixture *f = *state;
    strata_array *a = make_i64(f, "a", 8), *b;
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &b));
    int64_t *pa, *pb;
    assert_ok(f->pool, strata_array_map(a, STRATA_MAP_READ | STRATA_MAP_WRITE, (void **)&pa));
    assert_ok(f->pool, strata_array_map(b, STRATA_MAP_READ, (void **)&pb));
    assert_int_equal((uintptr_t)pa % 64, 0);
    pa[3] = 12345;
    assert_int_equal(pb[3], 12345); /* the other handle sees the store at once */
    int64_t v;
    assert_ok(f->pool, strata_array_get(b, 3, 1, &v));
    assert_int_equal(v, 12345);
    assert_ok(f->pool, strata_array_flush(a));
    assert_status(f->pool, strata_array_map(a, 0x80, (void **)&pa), STRATA_EINVAL);
    strata_array_close(a);
    strata_array_close(b);
}

static void read_only_files_refuse_writes(void **state)
{
    fixture *f = *state;
    if (geteuid() == 0) skip(); /* root ignores file modes */
    strata_array *a = make_i64(f, "ro", 4);
    strata_array_info info;
    assert_ok(f->pool, strata_array_stat(a, 0, &info));
    chmod(info.path, 0444);
    strata_array_close(a);
    assert_ok(f->pool, strata_array_open(f->pool, "r", "ro", &a));
    int64_t v = 1;
    assert_status(f->pool, strata_array_put(a, 0, 1, &v), STRATA_EPERM);
    void *p;
    assert_status(f->pool, strata_array_map(a, STRATA_MAP_WRITE, &p), STRATA_EPERM);
    assert_ok(f->pool, strata_array_get(a, 0, 1, &v));
    strata_array_close(a);
}

/* Large requests run in parallel; the result must be the same with 1 and with N threads. */
static void results_do_not_depend_on_thread_count(void **state)
{
    fixture *f = *state;
    const uint64_t n = 1 << 20, m = 1 << 19;
    uint64_t *idx = malloc(m * sizeof *idx);
    int64_t *vals = malloc(m * sizeof *vals);
    unsigned seed = 7;
    for (uint64_t i = 0; i < m; i++) {
        idx[i] = (uint64_t)rand_r(&seed) % (n / 8); /* many repeats */
        vals[i] = (int64_t)i;
    }
    int64_t *res[2];
    for (int pass = 0; pass < 2; pass++) {
        assert_ok(f->pool, strata_pool_set_threads(f->pool, pass == 0 ? 1 : 4));
        char name[8];
        snprintf(name, sizeof name, "p%d", pass);
        strata_array *a = make_i64(f, name, n);
        assert_ok(f->pool, strata_array_scatter(a, idx, m, vals));
        res[pass] = malloc(n * sizeof(int64_t));
        assert_ok(f->pool, strata_array_get(a, 0, n, res[pass]));
        int64_t *g = malloc(m * sizeof *g);
        assert_ok(f->pool, strata_array_gather(a, idx, m, g));
        for (uint64_t i = 0; i < m; i++) assert_true(g[i] == res[pass][idx[i]]);
        free(g);
        strata_array_close(a);
    }
    assert_memory_equal(res[0], res[1], n * sizeof(int64_t));
    /* and the sequential definition: last occurrence wins */
    int64_t *ref = malloc(n * sizeof *ref);
    for (uint64_t i = 0; i < n; i++) ref[i] = (int64_t)i * 10;
    for (uint64_t i = 0; i < m; i++) ref[idx[i]] = vals[i];
    assert_memory_equal(res[0], ref, n * sizeof(int64_t));
    free(ref);
    free(res[0]);
    free(res[1]);
    free(idx);
    free(vals);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(slices_round_trip_and_ranges_are_checked),
        T(strided_access),
        T(gather_and_scatter),
        T(bools_must_be_zero_or_one),
        T(copy_between_and_within_arrays),
        T(map_is_zero_copy_and_shared),
        T(read_only_files_refuse_writes),
        T(results_do_not_depend_on_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
