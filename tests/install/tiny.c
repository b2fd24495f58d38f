/* A program built against the installed libstrata through pkg-config. */
#include <stdio.h>
#include <strata.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    strata_pool *pool;
    int rc = strata_pool_create(argv[1], &pool);
    if (rc != STRATA_OK) {
        fprintf(stderr, "create: %s\n", strata_strerror(rc));
        return 1;
    }
    strata_array *a = NULL;
    rc = strata_region_create(pool, "demo");
    if (rc == STRATA_OK && strata_array_open(pool, "demo", "a", &a) == STRATA_ENOTFOUND)
        rc = strata_array_create(pool, "demo", "a", STRATA_I64, 4, &a);
    int64_t old = -1;
    if (rc == STRATA_OK) rc = strata_array_fetch_add_i64(a, 2, 42, &old);
    int64_t v[4] = {0};
    if (rc == STRATA_OK) rc = strata_array_get(a, 0, 4, v);
    if (rc != STRATA_OK) fprintf(stderr, "%s\n", strata_errmsg(pool));
    printf("strata %s: %lld %lld\n", STRATA_VERSION_STRING, (long long)old, (long long)v[2]);
    strata_array_close(a);
    strata_pool_close(pool);
    return rc == STRATA_OK ? 0 : 1;
}
