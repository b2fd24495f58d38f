/*
 * par.h -- the split of N items over the threads of an OpenMP team: thread T of NT gets the
 * contiguous range [lo, hi). The split depends only on N and NT, so per-thread partial results
 * combine in the same order on every run.
 */
#ifndef STRATA_UTIL_PAR_H
#define STRATA_UTIL_PAR_H

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* The calling thread's number in its team (0 outside a parallel region or without OpenMP). */
static inline int st_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The size of the calling thread's team: it may be smaller than the threads asked for (nested
 * regions, thread limits), so work is split by it, never by the request. */
static inline int st_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Thread T's range of N items split over NT threads. */
static inline void st_chunk(uint64_t n, int t, int nt, uint64_t *lo, uint64_t *hi)
{
    *lo = n / (uint64_t)nt * (uint64_t)t;
    *hi = t == nt - 1 ? n : n / (uint64_t)nt * (uint64_t)(t + 1);
}

#endif /* STRATA_UTIL_PAR_H */
