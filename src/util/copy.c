/*
 * copy.c -- large copies on the caller's threads (see copy.h).
 */
#include "util/copy.h"

#include <string.h>

void st_par_memcpy(void *dst, const void *src, size_t n, int nt)
{
    if (n < ST_PAR_BYTES || nt <= 1) {
        memcpy(dst, src, n);
        return;
    }
    size_t piece = (n / (size_t)nt + 4095) & ~(size_t)4095;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        size_t off = (size_t)t * piece;
        if (off < n)
            memcpy((char *)dst + off, (const char *)src + off, n - off < piece ? n - off : piece);
    }
}
