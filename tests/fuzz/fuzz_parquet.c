/*
 * fuzz_parquet.c -- libFuzzer harness for the Parquet reader (src/format): the footer, then
 * every column chunk of every row group decoded. What the reader accepts must be consistent:
 * offsets ascending from 0, null counts matching the bitmap, and no read outside the input.
 * Small limits keep run-length encodings from asking for gigabytes.
 *     scripts/fuzz.sh fuzz_parquet 20
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const st_pq_values *v)
{
    if (v->n < 0) __builtin_trap();
    int64_t nulls = 0;
    for (int64_t i = 0; v->validity != NULL && i < v->n; i++)
        nulls += !((v->validity[i >> 3] >> (i & 7)) & 1);
    if (nulls != v->null_count) __builtin_trap();
    if (v->type == ST_PQ_BYTE_ARRAY) {
        if (v->offsets == NULL || v->offsets[0] != 0) __builtin_trap();
        for (int64_t i = 0; i < v->n; i++)
            if (v->offsets[i + 1] < v->offsets[i]) __builtin_trap();
        if (v->n > 0 && v->offsets[v->n] > 0 && v->bytes == NULL) __builtin_trap();
    } else if (v->values == NULL) {
        __builtin_trap();
    }
    if (v->type == ST_PQ_BOOLEAN)
        for (int64_t i = 0; i < v->n; i++)
            if (((const uint8_t *)v->values)[i] > 1) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_pq_limits lim = {1 << 16, 1 << 22};
    st_pq_file *f;
    if (st_pq_open(NULL, data, size, "fuzz", &lim, &f) != STRATA_OK) return 0;
    for (int g = 0; g < st_pq_nrowgroups(f); g++)
        for (int c = 0; c < st_pq_ncolumns(f); c++) {
            st_pq_values v;
            if (st_pq_read_column(f, g, c, &v) == STRATA_OK) {
                if (v.n != st_pq_rowgroup_rows(f, g)) __builtin_trap();
                check(&v);
                st_pq_values_release(&v);
            }
        }
    st_pq_close(f);
    return 0;
}
