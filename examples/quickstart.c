/*
 * quickstart.c -- the C API in one page: find-or-create a pool, a region and an array; slices,
 * gather and scatter; an atomic counter shared by several processes; a lock; a backup.
 *
 *     quickstart POOL
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata.h"

#define CHECK(pool, expr)                                                                          \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != STRATA_OK) {                                                                    \
            fprintf(stderr, "%s failed: %s (%s)\n", #expr, strata_errmsg(pool),                    \
                    strata_errname(rc_));                                                          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: quickstart POOL\n");
        return 2;
    }
    strata_pool *pool;
    int rc = strata_pool_open(argv[1], &pool);
    if (rc == STRATA_ENOTFOUND) rc = strata_pool_create(argv[1], &pool);
    if (rc != STRATA_OK) {
        fprintf(stderr, "cannot open or create pool %s: %s\n", argv[1], strata_strerror(rc));
        return 1;
    }
    if (strata_region_exists(pool, "quickstart") == STRATA_ENOTFOUND)
        CHECK(pool, strata_region_create(pool, "quickstart"));

    /* An array of one million i64, filled with i * i. */
    const uint64_t n = 1000000;
    strata_array *a;
    if (strata_array_open(pool, "quickstart", "squares", &a) == STRATA_ENOTFOUND) {
        int64_t *v = malloc(n * sizeof *v);
        for (uint64_t i = 0; i < n; i++) v[i] = (int64_t)(i * i);
        CHECK(pool, strata_array_create_from(pool, "quickstart", "squares", STRATA_I64, n, v, &a));
        free(v);
    }
    int64_t slice[3];
    CHECK(pool, strata_array_get(a, 999, 3, slice));
    printf("squares[999..1001] = %lld %lld %lld\n", (long long)slice[0], (long long)slice[1],
           (long long)slice[2]);

    /* Gather by an index array, scatter back negated. */
    uint64_t idx[4] = {3, 141, 5926, 535897};
    int64_t got[4];
    CHECK(pool, strata_array_gather(a, idx, 4, got));
    printf("gather at 3 141 5926 535897 = %lld %lld %lld %lld\n", (long long)got[0],
           (long long)got[1], (long long)got[2], (long long)got[3]);
    for (int i = 0; i < 4; i++) got[i] = -got[i];
    CHECK(pool, strata_array_scatter(a, idx, 4, got));
    uint64_t bad[1] = {n};
    rc = strata_array_gather(a, bad, 1, got);
    printf("gather out of range -> %s: %s\n", strata_errname(rc), strata_errmsg(pool));

    /* A counter shared by four processes: atomics on the shared mapping. */
    strata_array *counter;
    if (strata_array_open(pool, "quickstart", "counter", &counter) == STRATA_ENOTFOUND)
        CHECK(pool, strata_array_create(pool, "quickstart", "counter", STRATA_I64, 1, &counter));
    int64_t before;
    CHECK(pool, strata_array_get(counter, 0, 1, &before));
    for (int p = 0; p < 4; p++) {
        if (fork() == 0) {
            strata_pool *mine; /* each process opens the pool itself */
            strata_array *c;
            if (strata_pool_open(argv[1], &mine) != STRATA_OK ||
                strata_array_open(mine, "quickstart", "counter", &c) != STRATA_OK)
                _exit(1);
            for (int i = 0; i < 25000; i++) strata_array_fetch_add_i64(c, 0, 1, NULL);
            strata_pool_close(mine);
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {
    }
    int64_t after;
    CHECK(pool, strata_array_get(counter, 0, 1, &after));
    printf("4 processes x 25000 fetch_add: counter went from %lld to %lld\n", (long long)before,
           (long long)after);

    /* Locks order processes; a second handle cannot take an exclusive lock meanwhile. */
    strata_array *other;
    CHECK(pool, strata_array_open(pool, "quickstart", "counter", &other));
    CHECK(pool, strata_array_lock(counter, STRATA_LOCK_EXCLUSIVE, 0));
    rc = strata_array_lock(other, STRATA_LOCK_EXCLUSIVE, 10);
    printf("second exclusive lock -> %s\n", strata_errname(rc));
    strata_array_close(other);

    /* Back up, damage, restore. */
    strata_backup_delete(pool, "squares-backup");
    CHECK(pool, strata_array_backup(a, "squares-backup"));
    int64_t zero = 0;
    CHECK(pool, strata_array_put(a, 999, 1, &zero));
    CHECK(pool, strata_backup_restore(pool, "squares-backup", "quickstart", "squares"));
    CHECK(pool, strata_array_get(a, 999, 1, slice));
    printf("after restore squares[999] = %lld\n", (long long)slice[0]);

    strata_array_info info;
    CHECK(pool, strata_array_stat(a, STRATA_STAT_CHECKSUM, &info));
    printf("%s/%s: %s x %llu, %llu bytes, xxh64 %016llx\n  file %s (numpy.load reads it)\n",
           info.region, info.name, strata_dtype_name(info.dtype), (unsigned long long)info.length,
           (unsigned long long)info.bytes, (unsigned long long)info.checksum, info.path);
    strata_array_close(a);
    strata_array_close(counter);
    strata_pool_close(pool);
    return 0;
}
