/* Atomics: every op on every supported dtype, and exact counts with two processes. */
#include <sys/wait.h>

#include "test_util.h"

static void integer_ops_return_the_old_value(void **state)
{
    fixture *f = *state;
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "i", STRATA_I64, 4, &a));
    int64_t old, v;
    assert_ok(f->pool, strata_array_fetch_add_i64(a, 1, 5, &old));
    assert_int_equal(old, 0);
    assert_ok(f->pool, strata_array_fetch_add_i64(a, 1, -8, &old));
    assert_int_equal(old, 5);
    assert_ok(f->pool, strata_array_compare_swap_i64(a, 1, -3, 100, &old));
    assert_int_equal(old, -3);
    assert_ok(f->pool, strata_array_compare_swap_i64(a, 1, -3, 7, &old)); /* no match */
    assert_int_equal(old, 100);
    v = 50;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_MIN, 1, &v, NULL, &old));
    assert_int_equal(old, 100);
    v = 70;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_MIN, 1, &v, NULL, &old));
    assert_int_equal(old, 50); /* 70 > 50: unchanged */
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_MAX, 1, &v, NULL, &old));
    v = 0x0F;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_AND, 1, &v, NULL, &old));
    assert_int_equal(old, 70);
    v = 0x30;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_OR, 1, &v, NULL, &old));
    assert_int_equal(old, 70 & 0x0F);
    v = 0xFF;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_XOR, 1, &v, NULL, &old));
    assert_int_equal(old, (70 & 0x0F) | 0x30);
    v = -1;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_SWAP, 1, &v, NULL, &old));
    assert_int_equal(old, ((70 & 0x0F) | 0x30) ^ 0xFF);
    assert_ok(f->pool, strata_array_get(a, 1, 1, &v));
    assert_int_equal(v, -1);
    /* wrap-around is defined */
    v = INT64_MAX;
    assert_ok(f->pool, strata_array_put(a, 2, 1, &v));
    assert_ok(f->pool, strata_array_fetch_add_i64(a, 2, 1, NULL));
    assert_ok(f->pool, strata_array_get(a, 2, 1, &v));
    assert_true(v == INT64_MIN);
    assert_status(f->pool, strata_array_fetch_add_i64(a, 4, 1, &old), STRATA_ERANGE);
    assert_errmsg_has(f->pool, "index 4 is out of range");
    assert_status(f->pool, strata_array_atomic(a, (strata_atomic_op)99, 0, &v, NULL, NULL),
                  STRATA_EINVAL);
    assert_status(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_ADD, 0, NULL, NULL, NULL),
                  STRATA_EINVAL);
    strata_array_close(a);
}

static void narrow_and_unsigned_types(void **state)
{
    fixture *f = *state;
    strata_array *a32, *u32, *u64;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "i32", STRATA_I32, 2, &a32));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "u32", STRATA_U32, 2, &u32));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "u64", STRATA_U64, 2, &u64));
    int32_t d = -7, o32;
    assert_ok(f->pool, strata_array_atomic(a32, STRATA_ATOMIC_FETCH_ADD, 1, &d, NULL, &o32));
    assert_ok(f->pool, strata_array_atomic(a32, STRATA_ATOMIC_FETCH_ADD, 1, &d, NULL, &o32));
    assert_int_equal(o32, -7);
    uint32_t ud = 1, uo;
    assert_ok(f->pool, strata_array_atomic(u32, STRATA_ATOMIC_FETCH_MAX, 0, &ud, NULL, &uo));
    ud = UINT32_MAX;
    assert_ok(f->pool, strata_array_atomic(u32, STRATA_ATOMIC_FETCH_MAX, 0, &ud, NULL, &uo));
    assert_int_equal(uo, 1);
    uint64_t e = 0, want = UINT64_MAX, uo64;
    assert_ok(f->pool, strata_array_atomic(u64, STRATA_ATOMIC_COMPARE_SWAP, 0, &want, &e, &uo64));
    assert_ok(f->pool, strata_array_get(u64, 0, 1, &uo64));
    assert_true(uo64 == UINT64_MAX);
    /* unsupported dtypes */
    strata_array *i16, *f32;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "i16", STRATA_I16, 2, &i16));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "f32", STRATA_F32, 2, &f32));
    int16_t s = 1;
    assert_status(f->pool, strata_array_atomic(i16, STRATA_ATOMIC_FETCH_ADD, 0, &s, NULL, NULL),
                  STRATA_ETYPE);
    assert_errmsg_has(f->pool, "not supported on i16");
    assert_status(f->pool, strata_array_fetch_add_i64(a32, 0, 1, NULL), STRATA_ETYPE);
    float fl = 1;
    assert_status(f->pool, strata_array_atomic(f32, STRATA_ATOMIC_FETCH_ADD, 0, &fl, NULL, NULL),
                  STRATA_ETYPE);
    strata_array_close(a32);
    strata_array_close(u32);
    strata_array_close(u64);
    strata_array_close(i16);
    strata_array_close(f32);
}

static void f64_fetch_add_swap_and_cas(void **state)
{
    fixture *f = *state;
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "f", STRATA_F64, 2, &a));
    double old;
    assert_ok(f->pool, strata_array_fetch_add_f64(a, 0, 1.25, &old));
    assert_ok(f->pool, strata_array_fetch_add_f64(a, 0, 1.25, &old));
    assert_true(old == 1.25);
    double want = 9, exp = 2.5;
    assert_ok(f->pool, strata_array_atomic(a, STRATA_ATOMIC_COMPARE_SWAP, 0, &want, &exp, &old));
    assert_true(old == 2.5);
    double back;
    assert_ok(f->pool, strata_array_get(a, 0, 1, &back));
    assert_true(back == 9);
    assert_status(f->pool, strata_array_atomic(a, STRATA_ATOMIC_FETCH_MIN, 0, &want, NULL, NULL),
                  STRATA_ETYPE);
    assert_status(f->pool, strata_array_fetch_add_i64(a, 0, 1, NULL), STRATA_ETYPE);
    strata_array_close(a);
}

/* Each child opens the pool itself (nothing is shared across fork) and hammers element 0. */
static void run_children(const char *path, int nchild, int kind)
{
    pid_t pids[8];
    for (int c = 0; c < nchild; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            strata_pool *p;
            strata_array *a;
            if (strata_pool_open(path, &p) != STRATA_OK) _exit(10);
            if (strata_array_open(p, "r", kind == 2 ? "f" : "c", &a) != STRATA_OK) _exit(11);
            for (int i = 0; i < 100000; i++) {
                if (kind == 0) {
                    if (strata_array_fetch_add_i64(a, 0, 1, NULL) != STRATA_OK) _exit(12);
                } else if (kind == 1) { /* a compare-swap increment loop */
                    int64_t cur, old;
                    strata_array_get(a, 1, 1, &cur);
                    for (;;) {
                        if (strata_array_compare_swap_i64(a, 1, cur, cur + 1, &old) != STRATA_OK)
                            _exit(13);
                        if (old == cur) break;
                        cur = old;
                    }
                } else {
                    if (strata_array_fetch_add_f64(a, 0, 1.0, NULL) != STRATA_OK) _exit(14);
                }
            }
            strata_pool_close(p);
            _exit(0);
        }
    }
    for (int c = 0; c < nchild; c++) {
        int status;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

static void two_processes_count_exactly(void **state)
{
    fixture *f = *state;
    strata_array *a, *d;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "c", STRATA_I64, 2, &a));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "f", STRATA_F64, 1, &d));
    run_children(f->path, 2, 0);
    run_children(f->path, 2, 1);
    run_children(f->path, 2, 2);
    int64_t v[2];
    assert_ok(f->pool, strata_array_get(a, 0, 2, v));
    assert_int_equal(v[0], 200000);
    assert_int_equal(v[1], 200000);
    double fv;
    assert_ok(f->pool, strata_array_get(d, 0, 1, &fv));
    assert_true(fv == 200000.0);
    strata_array_close(a);
    strata_array_close(d);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(integer_ops_return_the_old_value),
        T(narrow_and_unsigned_types),
        T(f64_fetch_add_swap_and_cas),
        T(two_processes_count_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
