/*
 * fuzz_npy.c -- libFuzzer harness for the NPY header parser (every file Strata reads from a user
 * goes through it). Build with clang: cmake -DCMAKE_C_COMPILER=clang -DSTRATA_FUZZ=ON, then
 * run tests/fuzz/fuzz_npy [CORPUS_DIR] -max_total_time=60.
 */
#include <stddef.h>
#include <stdint.h>

#include "util/dtype.h"
#include "util/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_npy_info info;
    if (st_npy_parse(NULL, data, size, "fuzz", &info) == STRATA_OK) {
        /* What the parser accepts must be self-consistent. */
        if (info.data_offset > size || info.ndim < 0 || info.ndim > ST_NPY_MAX_DIMS ||
            !st_dtype_valid((int)info.dtype) || info.dtype == STRATA_STR)
            __builtin_trap();
        uint64_t count = 1;
        for (int i = 0; i < info.ndim; i++) count *= info.shape[i];
        if (count != info.count) __builtin_trap();
    }
    return 0;
}
