// vqsort.cc -- the narrow C interface to Highway's vqsort (Debian libhwy-dev), built as the module
// libstrata_vqsort.so that vqload.c loads for the sorts that use it (sort.c, sortrec.c: the
// buckets of their MSD passes): sorting networks and vectorised partitioning with AVX-512
// where the machine has it (Highway picks the instruction set at run time). No exceptions, no
// C++ runtime of our own: the library is called and nothing else.
#include <hwy/contrib/sort/vqsort.h>

#include <stddef.h>
#include <stdint.h>

// The module's only exports (everything else is hidden), looked up by vqload.c.
#define ST_VQ_EXPORT __attribute__((visibility("default")))
extern "C" {
ST_VQ_EXPORT void st_vqsort_i64(int64_t *k, uint64_t n, int desc);
ST_VQ_EXPORT void st_vqsort_keys(uint64_t *k, uint64_t n);
ST_VQ_EXPORT void st_vqsort_pairs(const uint64_t *k, const uint64_t *idx, uint64_t *out_k,
                                  uint64_t *out_idx, uint64_t n, void *scratch);
ST_VQ_EXPORT void st_vqsort_recs(void *rec, uint64_t n);
ST_VQ_EXPORT int st_vqsort_abi(void);
}

// ST_VQ_ABI of ops_int.h: the library uses a module only when the two agree.
extern "C" int st_vqsort_abi(void)
{
    return 1;
}

extern "C" void st_vqsort_i64(int64_t *k, uint64_t n, int desc)
{
    hwy::Sorter sorter;
    if (desc)
        sorter(k, (size_t)n, hwy::SortDescending());
    else
        sorter(k, (size_t)n, hwy::SortAscending());
}

extern "C" void st_vqsort_keys(uint64_t *k, uint64_t n)
{
    hwy::Sorter sorter;
    sorter(k, (size_t)n, hwy::SortAscending());
}

extern "C" void st_vqsort_pairs(const uint64_t *k, const uint64_t *idx, uint64_t *out_k,
                                uint64_t *out_idx, uint64_t n, void *scratch)
{
    // (key, position in the input) as one 128-bit record, the key in the high half: ties go by
    // position, so the order is the unique stable one; the positions then pick the indices
    hwy::uint128_t *r = static_cast<hwy::uint128_t *>(scratch);
    for (uint64_t i = 0; i < n; i++) {
        r[i].lo = i;
        r[i].hi = k[i];
    }
    hwy::Sorter sorter;
    sorter(r, (size_t)n, hwy::SortAscending());
    for (uint64_t i = 0; i < n; i++) {
        out_k[i] = r[i].hi;
        out_idx[i] = idx[r[i].lo];
    }
}

extern "C" void st_vqsort_recs(void *rec, uint64_t n)
{
    // st_srec {pos, img} is hwy::uint128_t {lo, hi}: by image, ties by position
    hwy::Sorter sorter;
    sorter(static_cast<hwy::uint128_t *>(rec), (size_t)n, hwy::SortAscending());
}
