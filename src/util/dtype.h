/*
 * dtype.h -- facts about element types: size, name, NPY descriptor.
 */
#ifndef STRATA_UTIL_DTYPE_H
#define STRATA_UTIL_DTYPE_H

#include <stdbool.h>

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

#endif /* STRATA_UTIL_DTYPE_H */
