/*
 * fuzz_ndm.c -- libFuzzer harness for the parser of N-d manifests (catalog_ndm.c), which a read
 * of an N-d array trusts instead of the catalog: what it accepts must be safe to read by.
 * Each input is parsed as it is (its last 8 bytes the checksum) and with a right checksum
 * appended, so that the parser's structure is explored past the checksum.
 *     scripts/fuzz.sh fuzz_ndm 60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "catalog/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const st_ndm *m)
{
    if (!m->usable) {
        if (m->n != 0 || m->ntiers != 0) __builtin_trap();
        return;
    }
    const st_cat_nd *r = &m->rec;
    if (r->ndims < 1 || r->ndims > ST_ND_MAXDIMS || strata_dtype_size((strata_dtype)r->dtype) == 0)
        __builtin_trap();
    if (strcmp(r->region, m->region) != 0 || strcmp(r->name, m->name) != 0) __builtin_trap();
    for (int d = 0; d < r->ndims; d++)
        if (r->layout == STRATA_LAYOUT_CHUNKED && r->chunk[d] == 0) __builtin_trap();
    if (m->n > ST_NDM_MAX_CHUNKS) __builtin_trap();
    for (size_t i = 0; i < m->n; i++) {
        const st_cat_chunk *c = &m->chunks[i];
        if (c->idx < 0 || (i > 0 && c->idx <= c[-1].idx) || c->staged_tier != 0 ||
            strlen(c->file) >= sizeof c->file)
            __builtin_trap();
        int known = 0;
        for (int t = 0; t < m->ntiers; t++)
            known |= m->tiers[t].id == c->tier_id && m->tiers[t].kind != STRATA_TIER_ARCHIVE;
        if (!known) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_ndm *m = NULL;
    if (st_ndm_parse(data, size, &m) == STRATA_OK) check(m);
    st_ndm_free(m);
    uint8_t *with = malloc(size + 8);
    if (with == NULL) return 0;
    memcpy(with, data, size);
    uint64_t h = XXH64(data, size, 0);
    memcpy(with + size, &h, 8);
    m = NULL;
    if (st_ndm_parse(with, size + 8, &m) == STRATA_OK) check(m);
    st_ndm_free(m);
    free(with);
    return 0;
}
