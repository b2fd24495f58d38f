/*
 * fuzz_arrow.c -- libFuzzer harness for the Arrow IPC reader (src/format): the footer and
 * schema, the dictionaries, then every record batch. What the reader accepts must be consistent:
 * lengths as the batch says, null counts matching the bitmaps, string offsets ascending inside
 * their data, and no read outside the input.
 *     scripts/fuzz.sh fuzz_arrow 20
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/arrow_ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ArrowSchema *f, const struct ArrowArray *a, int64_t n)
{
    if (a->length != n || a->offset != 0 || a->null_count < 0) __builtin_trap();
    const uint8_t *v = a->buffers[0];
    int64_t nulls = 0;
    for (int64_t i = 0; v != NULL && i < n; i++) nulls += !((v[i >> 3] >> (i & 7)) & 1);
    if (v != NULL && nulls != a->null_count) __builtin_trap();
    volatile uint8_t sink = 0;
    if (strcmp(f->format, "u") == 0 || strcmp(f->format, "U") == 0) {
        int w = f->format[0] == 'u' ? 4 : 8;
        const uint8_t *o = a->buffers[1], *s = a->buffers[2];
        int64_t prev = 0;
        for (int64_t i = 0; i <= n; i++) {
            int64_t x = w == 4 ? ((const int32_t *)(const void *)o)[i]
                               : ((const int64_t *)(const void *)o)[i];
            if (x < prev) __builtin_trap();
            prev = x;
        }
        for (int64_t k = 0; k < prev; k++) sink ^= s[k]; /* every byte readable */
    } else if (n > 0) {
        sink ^= ((const uint8_t *)a->buffers[1])[0];
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_ipc_reader *r;
    if (st_ipc_open(NULL, data, size, "fuzz", &r) != STRATA_OK) return 0;
    struct ArrowSchema sc;
    if (st_ipc_schema(r, &sc) != STRATA_OK) __builtin_trap();
    for (int b = 0; b < st_ipc_nbatches(r); b++) {
        struct ArrowArray a;
        if (st_ipc_batch(r, b, &a) != STRATA_OK) continue;
        if (a.n_children != sc.n_children) __builtin_trap();
        for (int64_t c = 0; c < a.n_children; c++) check(sc.children[c], a.children[c], a.length);
        a.release(&a);
    }
    sc.release(&sc);
    st_ipc_close(r);
    return 0;
}
