/*
 * dtype.h -- facts about element types: size, name, NPY descriptor.
 */
#ifndef STRATA_UTIL_DTYPE_H
#define STRATA_UTIL_DTYPE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "strata.h"

bool st_dtype_valid(int dtype);

/* The dtype DTYPE is stored and computed as: STRATA_I64 for STRATA_TS (int64 nanoseconds), DTYPE
 * itself otherwise. Kernels that only move, sort or compare values switch on this. */
static inline strata_dtype st_dtype_phys(strata_dtype dtype)
{
    return dtype == STRATA_TS ? STRATA_I64 : dtype;
}

/* The NPY 'descr' of DTYPE ("<i8", "|b1"); for STRATA_STR the descr of its offsets ("<i8"). */
const char *st_dtype_descr(strata_dtype dtype);

/* The dtype whose NPY descr is DESCR ("<i8", "|u1", "<M8[ns]", ...); STRATA_EINVAL if none. "|u1"
 * maps to STRATA_U8 and "<i8" to STRATA_I64 (never to STRATA_STR). */
int st_dtype_from_descr(const char *descr, strata_dtype *out);

/* Convert N numeric, bool or ts (as int64) values of SRC_T at SRC into DST_T (STRATA_I64 or
 * STRATA_F64) at DST: integers exactly (u64 above INT64_MAX wraps), floats to i64 truncate (C
 * conversion; out of range is undefined, so the caller passes floats only to f64). */
void st_convert(void *dst, strata_dtype dst_t, const void *src, strata_dtype src_t, uint64_t n);

/* The image of a NaN: after every other float. */
#define ST_NAN_IMAGE UINT64_MAX

/* The order-preserving 64-bit image of key I of KEYS (numeric, bool or ts): for integers the
 * value with the sign bit flipped (signed), for floats the IEEE totalOrder image with every NaN
 * mapped to the largest image. */
static inline uint64_t st_key_bits(strata_dtype dtype, const void *keys, uint64_t i)
{
    const uint64_t sign = (uint64_t)1 << 63;
    switch (dtype) {
    case STRATA_I8:
        return (uint64_t)(int64_t)((const int8_t *)keys)[i] ^ sign;
    case STRATA_I16:
        return (uint64_t)(int64_t)((const int16_t *)keys)[i] ^ sign;
    case STRATA_I32:
        return (uint64_t)(int64_t)((const int32_t *)keys)[i] ^ sign;
    case STRATA_I64:
    case STRATA_TS:
        return (uint64_t)((const int64_t *)keys)[i] ^ sign;
    case STRATA_U8:
    case STRATA_BOOL:
        return ((const uint8_t *)keys)[i];
    case STRATA_U16:
        return ((const uint16_t *)keys)[i];
    case STRATA_U32:
        return ((const uint32_t *)keys)[i];
    case STRATA_F32: {
        uint32_t u;
        memcpy(&u, (const char *)keys + 4 * i, 4);
        if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0) return ST_NAN_IMAGE;
        return (uint64_t)(u & 0x80000000u ? ~u : u | 0x80000000u);
    }
    case STRATA_F64: {
        uint64_t u;
        memcpy(&u, (const char *)keys + 8 * i, 8);
        if ((u & 0x7FF0000000000000ull) == 0x7FF0000000000000ull && (u & 0x000FFFFFFFFFFFFFull))
            return ST_NAN_IMAGE;
        return u & sign ? ~u : u | sign;
    }
    default: /* STRATA_U64 */
        return ((const uint64_t *)keys)[i];
    }
}

/* The image the sorts order by: st_key_bits, inverted for DESC except that NaN stays last. */
static inline uint64_t st_sort_image(strata_dtype dtype, const void *keys, uint64_t i, int desc)
{
    uint64_t k = st_key_bits(dtype, keys, i);
    if (!desc) return k;
    return k == ST_NAN_IMAGE && (dtype == STRATA_F32 || dtype == STRATA_F64) ? k : ~k;
}

#endif /* STRATA_UTIL_DTYPE_H */
