/*
 * tier.c -- storage tiers themselves: their kinds' names, and adding, listing, describing,
 * changing and removing them (strata_tier_*). A tier is a catalog row (name, kind, directory,
 * capacity, bandwidth, latency) and a directory; the default tier is the pool's own data
 * directory. Moving data between tiers is migrate.c's, staging ahead of reads stage.c's.
 *
 * A tier is removed only when no chunk file, batch file or array lives on it; its staged copies
 * are disposable and go with it (their files through the ndarray layer, which owns them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ndarray/ndarray.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/vec.h"

static const char *const kind_names[] = {"memory", "ssd", "disk", "archive"};

const char *strata_tier_kind_name(strata_tier_kind kind)
{
    return (unsigned)kind < 4 ? kind_names[kind] : NULL;
}

int strata_tier_kind_parse(const char *name, strata_tier_kind *out)
{
    for (int k = 0; name != NULL && k < 4; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (strata_tier_kind)k;
            return STRATA_OK;
        }
    return STRATA_EINVAL;
}

/* ---- tiers ---------------------------------------------------------------------------------- */

int strata_tier_add(strata_pool *pool, const char *name, const char *path, strata_tier_kind kind,
                    uint64_t capacity, double read_bw, double latency)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "tier", name);
    if (rc < 0) return rc;
    if (strata_tier_kind_name(kind) == NULL)
        return st_error(err, STRATA_EINVAL, "cannot add tier '%s': unknown kind %d", name,
                        (int)kind);
    if (path == NULL || path[0] == '\0')
        return st_error(err, STRATA_EINVAL, "cannot add tier '%s': a directory is required", name);
    if (read_bw < 0 || latency < 0)
        return st_error(err, STRATA_EINVAL,
                        "cannot add tier '%s': bandwidth and latency must not be negative", name);
    st_cat_tier t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    if (path[0] == '/') {
        if (strlen(path) >= sizeof t.path)
            return st_error(err, STRATA_ENAME, "tier directory '%s' is too long", path);
        snprintf(t.path, sizeof t.path, "%s", path);
    } else {
        char cwd[ST_PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == NULL)
            return st_error_errno(err, errno, "cannot find the current directory");
        if (strlen(cwd) + 1 + strlen(path) >= sizeof t.path)
            return st_error(err, STRATA_ENAME, "tier directory '%s' is too long", path);
        memcpy(t.path, cwd, strlen(cwd));
        t.path[strlen(cwd)] = '/';
        memcpy(t.path + strlen(cwd) + 1, path, strlen(path) + 1);
    }
    size_t n = strlen(t.path);
    while (n > 1 && t.path[n - 1] == '/') t.path[--n] = '\0';
    t.kind = (int)kind;
    t.capacity = capacity;
    t.read_bw = read_bw;
    t.latency = latency;
    rc = st_mkdir(err, t.path, 1);
    if (rc < 0) return rc;
    return st_cat_tier_insert(err, st_pool_cat(pool), &t);
}

static int collect_tier(void *vctx, const st_cat_tier *t)
{
    st_cat_tier *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *t;
    return 0;
}

static int describe(strata_pool *pool, const st_cat_tier *t, char root[ST_PATH_MAX],
                    strata_tier_info *out)
{
    st_cat_usage u;
    int rc;
    if ((rc = st_tier_root(st_pool_err(pool), st_pool_path(pool), t, root)) < 0) return rc;
    if ((rc = st_cat_tier_usage(st_pool_err(pool), st_pool_cat(pool), t->id, &u)) < 0) return rc;
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->path = root;
    out->kind = (strata_tier_kind)t->kind;
    out->capacity = t->capacity;
    out->read_bw = t->read_bw;
    out->latency = t->latency;
    out->used = u.home_bytes + u.staged_bytes;
    out->staged = u.staged_bytes;
    out->files = u.home_files + u.staged_files;
    return STRATA_OK;
}

int strata_tier_list(strata_pool *pool, strata_tier_fn fn, void *ctx)
{
    if (st_pool_check(pool) < 0 || fn == NULL) return STRATA_EINVAL;
    st_vec v = ST_VEC(st_cat_tier);
    int rc = st_cat_tier_list(st_pool_err(pool), st_pool_cat(pool), collect_tier, &v);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing tiers");
    ST_TRY(rc);
    for (size_t i = 0; rc == STRATA_OK && i < v.n; i++) { /* FN returns non-zero to stop */
        char root[ST_PATH_MAX];
        strata_tier_info info;
        ST_TRY(rc = describe(pool, &((st_cat_tier *)v.v)[i], root, &info));
        rc = fn(ctx, &info);
    }
done:
    st_vec_free(&v);
    return rc;
}

int strata_tier_get(strata_pool *pool, const char *name, strata_tier_info *out)
{
    if (st_pool_check(pool) < 0 || out == NULL) return STRATA_EINVAL;
    static _Thread_local st_cat_tier t; /* the strings of OUT live until the next call */
    static _Thread_local char root[ST_PATH_MAX];
    int rc;
    if ((rc = st_name_check(st_pool_err(pool), "tier", name)) < 0) return rc;
    if ((rc = st_cat_tier_get(st_pool_err(pool), st_pool_cat(pool), name, &t)) < 0) return rc;
    return describe(pool, &t, root, out);
}

int strata_tier_set(strata_pool *pool, const char *name, uint64_t capacity, double read_bw,
                    double latency)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_tier t;
    int rc;
    if ((rc = st_name_check(err, "tier", name)) < 0) return rc;
    if ((rc = st_cat_tier_get(err, st_pool_cat(pool), name, &t)) < 0) return rc;
    if (!(read_bw >= 0) || !(latency >= 0))
        return st_error(err, STRATA_EINVAL,
                        "cannot set tier '%s': bandwidth and latency must not be negative", name);
    t.capacity = capacity;
    t.read_bw = read_bw;
    t.latency = latency;
    return st_cat_tier_set(err, st_pool_cat(pool), &t);
}

int strata_tier_remove(strata_pool *pool, const char *name)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_tier t;
    st_cat_usage u;
    int rc;
    if ((rc = st_name_check(err, "tier", name)) < 0) return rc;
    if ((rc = st_cat_tier_get(err, st_pool_cat(pool), name, &t)) < 0) return rc;
    if (t.id == ST_TIER_DEFAULT_ID)
        return st_error(err, STRATA_ECONFLICT, "the default tier cannot be removed");
    if ((rc = st_cat_tier_usage(err, st_pool_cat(pool), t.id, &u)) < 0) return rc;
    if (u.home_files > 0 || u.arrays > 0)
        return st_error(err, STRATA_ECONFLICT,
                        "cannot remove tier '%s': %" PRIu64 " chunk files and %" PRIu64
                        " arrays live on it; migrate them to another tier first",
                        name, u.home_files, u.arrays);
    /* staged copies are disposable: their files go, then their records with the tier */
    st_ndctx x;
    st_ndctx_init(&x, pool);
    rc = st_cat_begin(err, st_pool_cat(pool));
    if (rc < 0) return rc;
    ST_TRY(rc = st_nd_unlink_staged(&x, t.id));
    ST_TRY(rc = st_cat_tier_delete(err, st_pool_cat(pool), t.id));
    rc = st_cat_commit(err, st_pool_cat(pool));
done:
    if (rc < 0) st_cat_rollback(st_pool_cat(pool)); /* a no-op after a failed commit */
    return rc;
}
