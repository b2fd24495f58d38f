/*
 * gather.c -- element gathers by position: the kernel of derived columns (gather), of the
 * permutations of sorted chunks, and of bucketed reads of a parent batch by batch.
 */
#include <string.h>

#include "ops/ops.h"

/* Below this many elements one thread does it: a team costs more than it saves. */
#define ST_GATHER_PAR ((uint64_t)1 << 15)

#define ST_GATHER_LOOP(T)                                                                          \
    do {                                                                                           \
        const T *s = src;                                                                          \
        T *o = out;                                                                                \
        if (pos == NULL) {                                                                         \
            _Pragma("omp parallel for num_threads(nt) schedule(static)") for (uint64_t i = 0;      \
                                                                              i < n; i++) o[i] =   \
                s[idx[i] - base];                                                                  \
        } else {                                                                                   \
            _Pragma("omp parallel for num_threads(nt) schedule(static)") for (uint64_t x = 0;      \
                                                                              x < n; x++)          \
                o[pos[x]] = s[idx[pos[x]] - base];                                                 \
        }                                                                                          \
    } while (0)

void st_gather(size_t esz, const void *src, const uint64_t *idx, uint64_t base, const uint64_t *pos,
               uint64_t n, void *out, int nthreads)
{
    int nt = n < ST_GATHER_PAR || nthreads < 1 ? 1 : nthreads;
    switch (esz) {
    case 1:
        ST_GATHER_LOOP(uint8_t);
        break;
    case 2:
        ST_GATHER_LOOP(uint16_t);
        break;
    case 4:
        ST_GATHER_LOOP(uint32_t);
        break;
    case 8:
        ST_GATHER_LOOP(uint64_t);
        break;
    default: {
        const char *s = src;
        char *o = out;
        for (uint64_t x = 0; x < n; x++) {
            uint64_t i = pos != NULL ? pos[x] : x;
            memcpy(o + i * esz, s + (idx[i] - base) * esz, esz);
        }
    }
    }
}
