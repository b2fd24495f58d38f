/*
 * fuzz_npy.c -- libFuzzer harness for the NPY header parser (every file Strata reads from a user
 * goes through it), and its N-d variant: what they accept is self-consistent and they agree.
 *     scripts/fuzz.sh fuzz_npy 60
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
    /* the N-d parser accepts the same plus Fortran order, with the same answers */
    st_npy_info nd;
    int rc = st_npy_parse_nd(NULL, data, size, "fuzz", &nd);
    if (rc == STRATA_OK) {
        if (nd.data_offset > size || nd.ndim < 0 || nd.ndim > ST_NPY_MAX_DIMS ||
            !st_dtype_valid((int)nd.dtype) || nd.dtype == STRATA_STR)
            __builtin_trap();
        st_npy_info one;
        if (!nd.fortran_order || nd.ndim <= 1) {
            if (st_npy_parse(NULL, data, size, "fuzz", &one) != STRATA_OK ||
                one.count != nd.count || one.data_offset != nd.data_offset || one.dtype != nd.dtype)
                __builtin_trap();
        }
    }
    return 0;
}
