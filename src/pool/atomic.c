/*
 * atomic.c -- atomic read-modify-write on array elements, across processes.
 *
 * The array is mapped MAP_SHARED, so the CPU's atomic instructions on the mapping are atomic
 * for every process that maps the same file. Elements are naturally aligned: the data starts
 * at a multiple of 64 bytes in a page-aligned mapping. Min and max (and everything on f64) are
 * compare-swap loops.
 */
#include <string.h>

#include "pool/pool_int.h"

#define ST_ATOMIC_INT(T)                                                                           \
    static void atomic_##T(strata_atomic_op op, T *p, T v, T expected, T *old)                     \
    {                                                                                              \
        T prev;                                                                                    \
        switch (op) {                                                                              \
        case STRATA_ATOMIC_FETCH_ADD:                                                              \
            prev = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);                                     \
            break;                                                                                 \
        case STRATA_ATOMIC_SWAP:                                                                   \
            prev = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);                                    \
            break;                                                                                 \
        case STRATA_ATOMIC_COMPARE_SWAP:                                                           \
            prev = expected;                                                                       \
            __atomic_compare_exchange_n(p, &prev, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);       \
            break;                                                                                 \
        case STRATA_ATOMIC_FETCH_MIN:                                                              \
            prev = __atomic_load_n(p, __ATOMIC_RELAXED);                                           \
            while (v < prev && !__atomic_compare_exchange_n(p, &prev, v, 1, __ATOMIC_SEQ_CST,      \
                                                            __ATOMIC_RELAXED)) {                   \
            }                                                                                      \
            break;                                                                                 \
        case STRATA_ATOMIC_FETCH_MAX:                                                              \
            prev = __atomic_load_n(p, __ATOMIC_RELAXED);                                           \
            while (v > prev && !__atomic_compare_exchange_n(p, &prev, v, 1, __ATOMIC_SEQ_CST,      \
                                                            __ATOMIC_RELAXED)) {                   \
            }                                                                                      \
            break;                                                                                 \
        case STRATA_ATOMIC_FETCH_AND:                                                              \
            prev = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);                                     \
            break;                                                                                 \
        case STRATA_ATOMIC_FETCH_OR:                                                               \
            prev = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);                                      \
            break;                                                                                 \
        default: /* STRATA_ATOMIC_FETCH_XOR; the op was validated by the caller */                 \
            prev = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);                                     \
            break;                                                                                 \
        }                                                                                          \
        if (old != NULL) *old = prev;                                                              \
    }
ST_ATOMIC_INT(int32_t)
ST_ATOMIC_INT(int64_t)
ST_ATOMIC_INT(uint32_t)
ST_ATOMIC_INT(uint64_t)

/* f64 through its bit pattern: a compare-swap loop computing the new value from the old. */
static void atomic_f64(strata_atomic_op op, uint64_t *p, double v, uint64_t expected_bits,
                       double *old)
{
    uint64_t prev = __atomic_load_n(p, __ATOMIC_RELAXED), next;
    for (;;) {
        double cur;
        memcpy(&cur, &prev, sizeof cur);
        if (op == STRATA_ATOMIC_COMPARE_SWAP && prev != expected_bits) break;
        double nv = op == STRATA_ATOMIC_FETCH_ADD ? cur + v : v;
        memcpy(&next, &nv, sizeof next);
        if (__atomic_compare_exchange_n(p, &prev, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            break;
    }
    if (old != NULL) memcpy(old, &prev, sizeof *old);
}

static const char *op_name(strata_atomic_op op)
{
    static const char *const names[] = {"fetch_add", "swap",      "compare_swap", "fetch_min",
                                        "fetch_max", "fetch_and", "fetch_or",     "fetch_xor"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

int strata_array_atomic(strata_array *a, strata_atomic_op op, uint64_t index, const void *operand,
                        const void *expected, void *old)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    st_err *err = &a->pool->err;
    if ((unsigned)op > STRATA_ATOMIC_FETCH_XOR)
        return st_error(err, STRATA_EINVAL, "unknown atomic operation %d", (int)op);
    int int_type = a->dtype == STRATA_I32 || a->dtype == STRATA_I64 || a->dtype == STRATA_U32 ||
                   a->dtype == STRATA_U64;
    int f64_ok =
        a->dtype == STRATA_F64 && (op == STRATA_ATOMIC_FETCH_ADD || op == STRATA_ATOMIC_SWAP ||
                                   op == STRATA_ATOMIC_COMPARE_SWAP);
    if (!int_type && !f64_ok)
        return st_error(err, STRATA_ETYPE,
                        "atomic %s is not supported on %s array '%s/%s' (use i32, i64, u32 or "
                        "u64; f64 supports fetch_add, swap and compare_swap)",
                        op_name(op), strata_dtype_name(a->dtype), a->region, a->name);
    if (!a->writable)
        return st_error(err, STRATA_EPERM, "cannot update array '%s/%s': its file is read-only",
                        a->region, a->name);
    if (index >= a->length)
        return st_error(err, STRATA_ERANGE,
                        "atomic %s: index %llu is out of range for array '%s/%s' of length %llu",
                        op_name(op), (unsigned long long)index, a->region, a->name,
                        (unsigned long long)a->length);
    if (operand == NULL || (op == STRATA_ATOMIC_COMPARE_SWAP && expected == NULL))
        return st_error(err, STRATA_EINVAL, "atomic %s: operand missing", op_name(op));
    size_t esz = strata_dtype_size(a->dtype);
    void *p = a->data + index * esz;
    /* Operands are copied out with memcpy: the caller's pointers need no particular alignment. */
    union {
        int32_t i32;
        int64_t i64;
        uint32_t u32;
        uint64_t u64;
        double f64;
    } v = {0}, e = {0};
    memcpy(&v, operand, esz);
    if (expected != NULL) memcpy(&e, expected, esz);
    switch (a->dtype) {
    case STRATA_I32:
        atomic_int32_t(op, p, v.i32, e.i32, old);
        break;
    case STRATA_I64:
    case STRATA_TS:
        atomic_int64_t(op, p, v.i64, e.i64, old);
        break;
    case STRATA_U32:
        atomic_uint32_t(op, p, v.u32, e.u32, old);
        break;
    case STRATA_U64:
        atomic_uint64_t(op, p, v.u64, e.u64, old);
        break;
    default:
        atomic_f64(op, p, v.f64, e.u64, old);
    }
    return STRATA_OK;
}

int strata_array_fetch_add_i64(strata_array *a, uint64_t index, int64_t delta, int64_t *old)
{
    if (a != NULL && a->magic == ST_ARRAY_LIVE && a->dtype != STRATA_I64)
        return st_error(&a->pool->err, STRATA_ETYPE,
                        "fetch_add_i64 on %s array '%s/%s'; use strata_array_atomic",
                        strata_dtype_name(a->dtype), a->region, a->name);
    return strata_array_atomic(a, STRATA_ATOMIC_FETCH_ADD, index, &delta, NULL, old);
}

int strata_array_compare_swap_i64(strata_array *a, uint64_t index, int64_t expected,
                                  int64_t desired, int64_t *old)
{
    if (a != NULL && a->magic == ST_ARRAY_LIVE && a->dtype != STRATA_I64)
        return st_error(&a->pool->err, STRATA_ETYPE,
                        "compare_swap_i64 on %s array '%s/%s'; use strata_array_atomic",
                        strata_dtype_name(a->dtype), a->region, a->name);
    return strata_array_atomic(a, STRATA_ATOMIC_COMPARE_SWAP, index, &desired, &expected, old);
}

int strata_array_fetch_add_f64(strata_array *a, uint64_t index, double delta, double *old)
{
    if (a != NULL && a->magic == ST_ARRAY_LIVE && a->dtype != STRATA_F64)
        return st_error(&a->pool->err, STRATA_ETYPE,
                        "fetch_add_f64 on %s array '%s/%s'; use strata_array_atomic",
                        strata_dtype_name(a->dtype), a->region, a->name);
    return strata_array_atomic(a, STRATA_ATOMIC_FETCH_ADD, index, &delta, NULL, old);
}
