/*
 * array_data.c -- the data path: slice, strided, gather, scatter, copy, map, flush.
 *
 * Every function validates its whole request (handle, dtype, ranges, every index) before it
 * touches a byte, so a failed call changes nothing. Large requests are split over the pool's
 * threads with OpenMP; results do not depend on the thread count (scatter partitions by
 * destination, so the last occurrence of a repeated index wins whatever the threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/par.h"

#include "pool/pool_int.h"
#include "util/copy.h"

/* Handle, dtype and permission checks shared by the data path. VERB names the operation. */
static int data_check(strata_array *a, const char *verb, int writing)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (a->dtype == STRATA_STR)
        return st_error(&a->pool->err, STRATA_ETYPE,
                        "cannot %s string array '%s/%s' element-wise; string arrays are "
                        "immutable and read with strata_array_get_str",
                        verb, a->region, a->name);
    if (writing && !a->writable)
        return st_error(&a->pool->err, STRATA_EPERM,
                        "cannot %s array '%s/%s': its file '%s' is read-only", verb, a->region,
                        a->name, a->path);
    return STRATA_OK;
}

static int range_check(strata_array *a, uint64_t start, uint64_t count, const char *verb)
{
    if (start > a->length || count > a->length - start)
        return st_error(&a->pool->err, STRATA_ERANGE,
                        "cannot %s elements [%llu, %llu) of array '%s/%s': its length is %llu",
                        verb, (unsigned long long)start, (unsigned long long)(start + count),
                        a->region, a->name, (unsigned long long)a->length);
    return STRATA_OK;
}

static int overlaps(const void *a, size_t an, const void *b, size_t bn)
{
    const char *x = a, *y = b;
    return x < y + bn && y < x + an;
}

static void move_bytes(void *dst, const void *src, size_t n, int nt)
{
    if (overlaps(dst, n, src, n))
        memmove(dst, src, n);
    else
        st_par_memcpy(dst, src, n, nt);
}

int strata_array_put(strata_array *a, uint64_t start, uint64_t count, const void *src)
{
    int rc = data_check(a, "put", 1);
    if (rc < 0) return rc;
    if ((rc = range_check(a, start, count, "put")) < 0) return rc;
    if (count == 0) return STRATA_OK;
    if (src == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "put: no source buffer");
    size_t esz = strata_dtype_size(a->dtype);
    if (a->dtype == STRATA_BOOL) {
        const unsigned char *b = src;
        for (uint64_t i = 0; i < count; i++)
            if (b[i] > 1)
                return st_error(&a->pool->err, STRATA_EINVAL,
                                "cannot put into bool array '%s/%s': value %u at position %llu "
                                "is not 0 or 1",
                                a->region, a->name, b[i], (unsigned long long)i);
    }
    move_bytes(a->data + start * esz, src, count * esz, st_pool_threads(a->pool));
    return STRATA_OK;
}

int strata_array_get(strata_array *a, uint64_t start, uint64_t count, void *dst)
{
    int rc = data_check(a, "get", 0);
    if (rc < 0) return rc;
    if ((rc = range_check(a, start, count, "get")) < 0) return rc;
    if (count == 0) return STRATA_OK;
    if (dst == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "get: no destination buffer");
    size_t esz = strata_dtype_size(a->dtype);
    move_bytes(dst, a->data + start * esz, count * esz, st_pool_threads(a->pool));
    return STRATA_OK;
}

static int strided_check(strata_array *a, uint64_t first, uint64_t stride, uint64_t count,
                         const char *verb)
{
    if (stride == 0)
        return st_error(&a->pool->err, STRATA_EINVAL, "%s: stride must be at least 1", verb);
    if (count == 0) return range_check(a, first, 0, verb);
    uint64_t span = count - 1;
    if (first >= a->length || span > (a->length - 1 - first) / stride)
        return st_error(&a->pool->err, STRATA_ERANGE,
                        "cannot %s %llu elements from %llu with stride %llu in array '%s/%s': its "
                        "length is %llu",
                        verb, (unsigned long long)count, (unsigned long long)first,
                        (unsigned long long)stride, a->region, a->name,
                        (unsigned long long)a->length);
    return STRATA_OK;
}

/* Strided copy between the array (every STRIDE-th element from FIRST) and a packed buffer. */
#define ST_STRIDED(T)                                                                              \
    static void strided_##T(T *arr, uint64_t first, uint64_t stride, uint64_t count, T *buf,       \
                            int to_array)                                                          \
    {                                                                                              \
        if (to_array)                                                                              \
            for (uint64_t i = 0; i < count; i++) arr[first + i * stride] = buf[i];                 \
        else                                                                                       \
            for (uint64_t i = 0; i < count; i++) buf[i] = arr[first + i * stride];                 \
    }
ST_STRIDED(uint8_t)
ST_STRIDED(uint16_t)
ST_STRIDED(uint32_t)
ST_STRIDED(uint64_t)

static void strided(strata_array *a, uint64_t first, uint64_t stride, uint64_t count, void *buf,
                    int to_array)
{
    switch (strata_dtype_size(a->dtype)) {
    case 1:
        strided_uint8_t((uint8_t *)a->data, first, stride, count, buf, to_array);
        break;
    case 2:
        strided_uint16_t((uint16_t *)a->data, first, stride, count, buf, to_array);
        break;
    case 4:
        strided_uint32_t((uint32_t *)a->data, first, stride, count, buf, to_array);
        break;
    default:
        strided_uint64_t((uint64_t *)a->data, first, stride, count, buf, to_array);
    }
}

int strata_array_put_strided(strata_array *a, uint64_t first, uint64_t stride, uint64_t count,
                             const void *src)
{
    int rc = data_check(a, "put", 1);
    if (rc < 0) return rc;
    if ((rc = strided_check(a, first, stride, count, "put")) < 0) return rc;
    if (count == 0) return STRATA_OK;
    if (src == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "put: no source buffer");
    if (a->dtype == STRATA_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (((const unsigned char *)src)[i] > 1)
                return st_error(&a->pool->err, STRATA_EINVAL,
                                "cannot put into bool array '%s/%s': value at position %llu is "
                                "not 0 or 1",
                                a->region, a->name, (unsigned long long)i);
    strided(a, first, stride, count, (void *)(uintptr_t)src, 1);
    return STRATA_OK;
}

int strata_array_get_strided(strata_array *a, uint64_t first, uint64_t stride, uint64_t count,
                             void *dst)
{
    int rc = data_check(a, "get", 0);
    if (rc < 0) return rc;
    if ((rc = strided_check(a, first, stride, count, "get")) < 0) return rc;
    if (count == 0) return STRATA_OK;
    if (dst == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "get: no destination buffer");
    strided(a, first, stride, count, dst, 0);
    return STRATA_OK;
}

/* Check every index of IDX against A's length; on failure name the first bad position. */
static int index_check(strata_array *a, const uint64_t *idx, uint64_t n, const char *verb)
{
    if (n == 0) return STRATA_OK;
    if (idx == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "%s: no index array", verb);
    uint64_t mx = 0;
    int nt = st_pool_threads(a->pool);
#pragma omp parallel for num_threads(nt) if (n >= ST_PAR_INDICES) reduction(max                    \
                                                                            : mx) schedule(static)
    for (uint64_t i = 0; i < n; i++)
        if (idx[i] > mx) mx = idx[i];
    if (mx < a->length) return STRATA_OK;
    uint64_t i = 0;
    while (idx[i] < a->length) i++;
    return st_error(&a->pool->err, STRATA_ERANGE,
                    "cannot %s: index %llu at position %llu is out of range for array '%s/%s' "
                    "of length %llu",
                    verb, (unsigned long long)idx[i], (unsigned long long)i, a->region, a->name,
                    (unsigned long long)a->length);
}

#define ST_PREFETCH_AHEAD 32

/* Per-element-size loops. Gather: DST[i] = SRC[IDX[i]] for i in [LO, HI). Scatter: apply, in
 * order, the writes whose destination falls in [DLO, DLO + DSPAN). The OpenMP regions are in
 * the functions below, not in these macros. */
#define ST_LOOPS(T)                                                                                \
    static void gather_loop_##T(const T *restrict src, const uint64_t *restrict idx, uint64_t lo,  \
                                uint64_t hi, T *restrict dst)                                      \
    {                                                                                              \
        for (uint64_t i = lo; i < hi; i++) {                                                       \
            if (i + ST_PREFETCH_AHEAD < hi) __builtin_prefetch(&src[idx[i + ST_PREFETCH_AHEAD]]);  \
            dst[i] = src[idx[i]];                                                                  \
        }                                                                                          \
    }                                                                                              \
    static void scatter_loop_##T(T *restrict dst, uint64_t dlo, uint64_t dspan,                    \
                                 const uint64_t *restrict idx, uint64_t n, const T *restrict src,  \
                                 int whole)                                                        \
    {                                                                                              \
        if (whole) {                                                                               \
            for (uint64_t i = 0; i < n; i++) {                                                     \
                if (i + ST_PREFETCH_AHEAD < n)                                                     \
                    __builtin_prefetch(&dst[idx[i + ST_PREFETCH_AHEAD]], 1);                       \
                dst[idx[i]] = src[i];                                                              \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        /* Writes outside this thread's slice go to a local dummy: a conditional move instead      \
         * of a branch that would mispredict on half of the random indices. */                     \
        T dummy[1];                                                                                \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            uint64_t j = idx[i];                                                                   \
            T *p = j - dlo < dspan ? &dst[j] : dummy;                                              \
            *p = src[i];                                                                           \
        }                                                                                          \
        __asm__ volatile("" : : "r"(dummy) : "memory");                                            \
    }
ST_LOOPS(uint8_t)
ST_LOOPS(uint16_t)
ST_LOOPS(uint32_t)
ST_LOOPS(uint64_t)

static void gather_kernel(const char *src, size_t esz, const uint64_t *idx, uint64_t n, void *dst,
                          int nt)
{
    if (n < ST_PAR_INDICES) nt = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = 0, k = 1;
        t = st_thread_num();
        k = st_team_size();
        uint64_t lo = n / (uint64_t)k * (uint64_t)t;
        uint64_t hi = t == k - 1 ? n : n / (uint64_t)k * (uint64_t)(t + 1);
        switch (esz) {
        case 1:
            gather_loop_uint8_t((const uint8_t *)src, idx, lo, hi, dst);
            break;
        case 2:
            gather_loop_uint16_t((const uint16_t *)src, idx, lo, hi, dst);
            break;
        case 4:
            gather_loop_uint32_t((const uint32_t *)src, idx, lo, hi, dst);
            break;
        default:
            gather_loop_uint64_t((const uint64_t *)src, idx, lo, hi, dst);
        }
    }
}

/* Each thread owns a slice of the destination and applies, in order, the writes that fall in
 * it: the last occurrence of an index wins, as in a sequential loop, whatever the threads. */
static void scatter_kernel(char *dst, size_t esz, uint64_t len, const uint64_t *idx, uint64_t n,
                           const void *src, int nt)
{
    if (n < ST_PAR_INDICES) nt = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = 0, k = 1;
        t = st_thread_num();
        k = st_team_size();
        uint64_t lo = len / (uint64_t)k * (uint64_t)t;
        uint64_t hi = t == k - 1 ? len : len / (uint64_t)k * (uint64_t)(t + 1);
        switch (esz) {
        case 1:
            scatter_loop_uint8_t((uint8_t *)dst, lo, hi - lo, idx, n, src, k == 1);
            break;
        case 2:
            scatter_loop_uint16_t((uint16_t *)dst, lo, hi - lo, idx, n, src, k == 1);
            break;
        case 4:
            scatter_loop_uint32_t((uint32_t *)dst, lo, hi - lo, idx, n, src, k == 1);
            break;
        default:
            scatter_loop_uint64_t((uint64_t *)dst, lo, hi - lo, idx, n, src, k == 1);
        }
    }
}

int strata_array_gather(strata_array *a, const uint64_t *idx, uint64_t n, void *dst)
{
    int rc = data_check(a, "gather", 0);
    if (rc < 0) return rc;
    if ((rc = index_check(a, idx, n, "gather")) < 0) return rc;
    if (n == 0) return STRATA_OK;
    if (dst == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "gather: no destination buffer");
    gather_kernel(a->data, strata_dtype_size(a->dtype), idx, n, dst, st_pool_threads(a->pool));
    return STRATA_OK;
}

int strata_array_scatter(strata_array *a, const uint64_t *idx, uint64_t n, const void *src)
{
    int rc = data_check(a, "scatter", 1);
    if (rc < 0) return rc;
    if ((rc = index_check(a, idx, n, "scatter")) < 0) return rc;
    if (n == 0) return STRATA_OK;
    if (src == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "scatter: no source buffer");
    if (a->dtype == STRATA_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (((const unsigned char *)src)[i] > 1)
                return st_error(&a->pool->err, STRATA_EINVAL,
                                "cannot scatter into bool array '%s/%s': value at position %llu "
                                "is not 0 or 1",
                                a->region, a->name, (unsigned long long)i);
    scatter_kernel(a->data, strata_dtype_size(a->dtype), a->length, idx, n, src,
                   st_pool_threads(a->pool));
    return STRATA_OK;
}

int strata_array_copy(strata_array *dst, uint64_t dst_start, strata_array *src, uint64_t src_start,
                      uint64_t count)
{
    int rc = data_check(dst, "copy into", 1);
    if (rc < 0) return rc;
    if ((rc = data_check(src, "copy from", 0)) < 0) {
        if (src != NULL && src->pool != dst->pool)
            st_error(&dst->pool->err, rc, "%s", src->pool->err.msg);
        return rc;
    }
    if (src->dtype != dst->dtype)
        return st_error(&dst->pool->err, STRATA_ETYPE,
                        "cannot copy from array '%s/%s' (%s) to '%s/%s' (%s): dtypes differ",
                        src->region, src->name, strata_dtype_name(src->dtype), dst->region,
                        dst->name, strata_dtype_name(dst->dtype));
    if ((rc = range_check(src, src_start, count, "copy from")) < 0) {
        if (src->pool != dst->pool) st_error(&dst->pool->err, rc, "%s", src->pool->err.msg);
        return rc;
    }
    if ((rc = range_check(dst, dst_start, count, "copy into")) < 0) return rc;
    size_t esz = strata_dtype_size(dst->dtype);
    move_bytes(dst->data + dst_start * esz, src->data + src_start * esz, count * esz,
               st_pool_threads(dst->pool));
    return STRATA_OK;
}

int strata_array_map(strata_array *a, unsigned flags, void **ptr)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (ptr == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "map: no pointer given");
    if ((flags & ~(STRATA_MAP_READ | STRATA_MAP_WRITE)) != 0)
        return st_error(&a->pool->err, STRATA_EINVAL, "map: unknown flags 0x%x", flags);
    if (flags & STRATA_MAP_WRITE) {
        if (a->dtype == STRATA_STR)
            return st_error(&a->pool->err, STRATA_ETYPE,
                            "cannot map string array '%s/%s' for writing: strings are immutable",
                            a->region, a->name);
        if (!a->writable)
            return st_error(&a->pool->err, STRATA_EPERM,
                            "cannot map array '%s/%s' for writing: its file is read-only",
                            a->region, a->name);
    }
    *ptr = a->data;
    return STRATA_OK;
}

int strata_array_map_str(strata_array *a, const int64_t **offsets, const char **bytes)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (a->dtype != STRATA_STR)
        return st_error(&a->pool->err, STRATA_ETYPE, "array '%s/%s' is %s, not str", a->region,
                        a->name, strata_dtype_name(a->dtype));
    if (offsets != NULL) *offsets = (const int64_t *)a->data;
    if (bytes != NULL) *bytes = a->bytes;
    return STRATA_OK;
}

int strata_array_get_str(strata_array *a, uint64_t i, const char **s, size_t *len)
{
    int rc = strata_array_map_str(a, NULL, NULL);
    if (rc < 0) return rc;
    if (i >= a->length)
        return st_error(&a->pool->err, STRATA_ERANGE,
                        "string %llu is out of range for array '%s/%s' of length %llu",
                        (unsigned long long)i, a->region, a->name, (unsigned long long)a->length);
    const int64_t *off = (const int64_t *)a->data;
    if (off[i] < 0 || off[i + 1] < off[i] || (uint64_t)off[i + 1] > a->nbytes)
        return st_error(&a->pool->err, STRATA_ECORRUPT,
                        "offsets of string %llu of array '%s/%s' are damaged",
                        (unsigned long long)i, a->region, a->name);
    if (s != NULL) *s = a->bytes + off[i];
    if (len != NULL) *len = (size_t)(off[i + 1] - off[i]);
    return STRATA_OK;
}

int strata_array_flush(strata_array *a)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (a->writable && msync(a->map, a->map_len, MS_SYNC) != 0)
        return st_error_errno(&a->pool->err, errno, "cannot flush array '%s/%s'", a->region,
                              a->name);
    return st_fsync_fd(&a->pool->err, a->fd, a->path);
}
