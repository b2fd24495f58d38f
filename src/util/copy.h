/*
 * copy.h -- large copies on the caller's threads.
 */
#ifndef STRATA_UTIL_COPY_H
#define STRATA_UTIL_COPY_H

#include <stddef.h>

/* Copies of at least this many bytes are worth splitting over threads. */
#define ST_PAR_BYTES (4u << 20)

/* Copy N bytes from SRC to DST (which must not overlap) on NT OpenMP threads when N is at least
 * ST_PAR_BYTES, page-aligned pieces each; else one memcpy. Both the copy and the first touch of
 * fresh destination pages (their faults and zeroing) are shared by the threads. */
void st_par_memcpy(void *dst, const void *src, size_t n, int nt);

#endif /* STRATA_UTIL_COPY_H */
