/*
 * fuzz_marker.c -- libFuzzer harness for the pool marker's parser (POOL/.strata-pool: the pool's
 * format and where its catalog is; src/pool/pool.c). Oracles:
 *   - a refused marker says why: STRATA_ECORRUPT or STRATA_EUNSUPPORTED, with a message;
 *   - an accepted one names SQLite's file in the pool, or a PostgreSQL catalog with a connection
 *     string (one line, not empty) and a schema that init would accept;
 *   - an accepted PostgreSQL marker written again the way strata init writes it parses to the
 *     same location.
 *     scripts/fuzz.sh fuzz_marker 60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4096) return 0; /* the reader reads at most 4095 bytes */
    char text[4096] = {0};
    memcpy(text, data, size);
    st_err err;
    st_err_init(&err);
    st_cat_loc w;
    int rc = st_pool_marker_parse(&err, "/p", "/p/.strata-pool", text, size, &w);
    if (rc != STRATA_OK) {
        CHECK(rc == STRATA_ECORRUPT || rc == STRATA_EUNSUPPORTED);
        CHECK(err.msg[0] != '\0');
        return 0;
    }
    if (!w.pg) {
        CHECK(strcmp(w.path, "/p/catalog.db") == 0);
        return 0;
    }
    CHECK(w.conninfo[0] != '\0' && strchr(w.conninfo, '\n') == NULL);
    CHECK(w.schema[0] != '\0' && !(w.schema[0] >= '0' && w.schema[0] <= '9'));
    for (const char *c = w.schema; *c; c++)
        CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
    char again[8192];
    int n = snprintf(again, sizeof again,
                     "strata pool\nformat 2\ncatalog postgresql\nconninfo %s\nschema %s\n",
                     w.conninfo, w.schema);
    st_cat_loc w2;
    CHECK(st_pool_marker_parse(&err, "/p", "/p/.strata-pool", again, (size_t)n, &w2) == 0);
    CHECK(w2.pg && strcmp(w2.conninfo, w.conninfo) == 0 && strcmp(w2.schema, w.schema) == 0);
    return 0;
}
