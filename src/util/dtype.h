/*
 * dtype.h -- facts about element types: size, name, NPY descriptor.
 */
#ifndef STRATA_UTIL_DTYPE_H
#define STRATA_UTIL_DTYPE_H

#include <stdbool.h>

#include "strata.h"

bool st_dtype_valid(int dtype);

/* The NPY 'descr' of DTYPE ("<i8", "|b1"); for STRATA_STR the descr of its offsets ("<i8"). */
const char *st_dtype_descr(strata_dtype dtype);

/* The dtype whose NPY descr is DESCR ("<i8", "|u1", ...); STRATA_EINVAL if none. "|u1" maps to
 * STRATA_U8 and "<i8" to STRATA_I64 (never to STRATA_STR). */
int st_dtype_from_descr(const char *descr, strata_dtype *out);

#endif /* STRATA_UTIL_DTYPE_H */
