/*
 * test_util.h -- helpers shared by the unit tests: scratch pools, cleanup, checked calls.
 */
#ifndef STRATA_TEST_UTIL_H
#define STRATA_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata.h"

/* 1 when built for ThreadSanitizer (-DSTRATA_TSAN=ON): its runs check that threads meet without
 * races, not volume, and a test may take its heaviest cases there at a smaller scale (CI time). */
#if defined(__SANITIZE_THREAD__)
#define ST_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ST_TEST_TSAN 1
#endif
#endif
#ifndef ST_TEST_TSAN
#define ST_TEST_TSAN 0
#endif

/* Assert that EXPR returns CODE; on failure print both codes and the pool's message. */
#define assert_status(pool, expr, code)                                                            \
    do {                                                                                           \
        int st_got_ = (expr);                                                                      \
        if (st_got_ != (code))                                                                     \
            fail_msg("%s returned %s, expected %s (%s)", #expr, strata_errname(st_got_),           \
                     strata_errname(code), strata_errmsg(pool));                                   \
    } while (0)

#define assert_ok(pool, expr) assert_status(pool, expr, STRATA_OK)

/* Assert that the pool's message contains NEEDLE. */
#define assert_errmsg_has(pool, needle)                                                            \
    do {                                                                                           \
        if (strstr(strata_errmsg(pool), (needle)) == NULL)                                         \
            fail_msg("message '%s' does not contain '%s'", strata_errmsg(pool), (needle));         \
    } while (0)

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory name (not created) under $TMPDIR for a pool. */
static inline char *scratch_path(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/strata-%s-XXXXXX", tmp, tag);
    char *d = mkdtemp(tmpl);
    if (d == NULL) return NULL;
    char *p = malloc(strlen(d) + 8);
    sprintf(p, "%s/pool", d);
    return p;
}

/* Remove a scratch pool and its parent directory. */
static inline void scratch_free(char *path)
{
    if (path == NULL) return;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rm_rf(path);
    free(path);
}

/* A test fixture: a fresh pool with region "r". */
typedef struct {
    char *path;
    strata_pool *pool;
} fixture;

static inline int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->path = scratch_path("t");
    if (f->path == NULL || strata_pool_create(f->path, &f->pool) != STRATA_OK) return -1;
    if (strata_region_create(f->pool, "r") != STRATA_OK) return -1;
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture *f = *state;
    strata_pool_close(f->pool);
    scratch_free(f->path);
    free(f);
    return 0;
}

#endif /* STRATA_TEST_UTIL_H */
