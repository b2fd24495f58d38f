/*
 * check.c -- verify a whole pool against its catalog, and collect its garbage, by asking each
 * layer for the files it owns.
 *
 * The walk (pool/walk.h) goes region by region: the store verifies its datasets and names their
 * directories and files, the ndarray layer does the same for N-d arrays, the pool for plain
 * arrays; the trash's directories are known too. Whatever a region directory, POOL/data, a tier's
 * root or a region directory on a tier holds beyond the names the layers gave is an orphan:
 * reported by check, removed by gc once older than the grace period (a writer may be about to
 * publish it). Then the backups. gc first removes dropped datasets that no snapshot reads, and
 * last expires old versions. This file owns no data; it only knows which layer to ask.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ndarray/ndarray.h"
#include "pool/walk.h"
#include "store/store.h"
#include "util/fileio.h"
#include "util/name.h"

static int collect_region_rec(void *vctx, const st_cat_region *reg)
{
    st_cat_region *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *reg;
    return 0;
}

static int collect_tier_rec(void *vctx, const st_cat_tier *t)
{
    st_cat_tier *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *t;
    return 0;
}

/* ---- tiers ---------------------------------------------------------------------------------- */

/* Tier T (not the default): entries of its root that are no region's directory, and entries of
 * a region directory there that are no N-d array's or dataset's directory, are orphans. */
static int scan_tier(st_walk *w, const st_cat_tier *t, const st_vec *regions)
{
    strata_pool *pool = w->pool;
    st_nameset rdirs = ST_NAMESET, known = ST_NAMESET;
    char root[ST_PATH_MAX], dir[ST_PATH_MAX];
    const st_cat_region *reg = regions->v;
    int rc;
    ST_TRY(rc = st_tier_root(st_pool_err(pool), st_pool_path(pool), t, root));
    for (size_t i = 0; i < regions->n; i++) ST_TRY(rc = st_nameset_add(&rdirs, reg[i].dir));
    st_nameset_sort(&rdirs);
    ST_TRY(rc = st_walk_scan_dir(w, root, &rdirs, 0));
    for (size_t i = 0; i < regions->n && !w->stop; i++) {
        if (st_path(NULL, dir, "%s/%s", root, reg[i].dir) < 0 || access(dir, F_OK) != 0) continue;
        st_nameset_free(&known); /* the previous region's, empty again */
        ST_TRY(rc = st_nd_dirs(pool, reg[i].id, &known));
        ST_TRY(rc = st_store_dirs(pool, reg[i].id, &known));
        st_nameset_sort(&known);
        ST_TRY(rc = st_walk_scan_dir(w, dir, &known, 0));
    }
done:
    st_nameset_free(&known);
    st_nameset_free(&rdirs);
    return rc;
}

static int scan_tiers(st_walk *w)
{
    strata_pool *pool = w->pool;
    st_vec regions = ST_VEC(st_cat_region), tiers = ST_VEC(st_cat_tier);
    int rc;
    ST_TRY(rc = st_cat_region_list(st_pool_err(pool), st_pool_cat(pool), collect_region_rec,
                                   &regions));
    ST_TRY(rc = st_cat_tier_list(st_pool_err(pool), st_pool_cat(pool), collect_tier_rec, &tiers));
    const st_cat_tier *t = tiers.v;
    for (size_t i = 0; i < tiers.n && !w->stop; i++)
        if (t[i].id != ST_TIER_DEFAULT_ID) ST_TRY(rc = scan_tier(w, &t[i], &regions));
done:
    st_vec_free(&tiers);
    st_vec_free(&regions);
    return rc;
}

/* ---- regions -------------------------------------------------------------------------------- */

/* Region REG (ONLY_NAME: just that dataset or N-d array): each layer's objects, then, for the
 * whole region, its plain arrays and the orphans of its directory. TRASH: the dropped datasets'
 * directories (relative to the pool), not orphans: gc removes them on its own terms. */
static int visit_region(st_walk *w, const st_cat_region *reg, const char *only_name,
                        const st_nameset *trash)
{
    strata_pool *pool = w->pool;
    st_nameset known = ST_NAMESET;
    char dir[ST_PATH_MAX], rel[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = st_region_dir(pool, reg->dir, dir));
    ST_TRY(rc = st_store_walk(w, reg, only_name, &known));
    ST_TRY(rc = st_nd_walk(w, reg, only_name, &known));
    if (only_name != NULL) goto done;
    ST_TRY(rc = st_walk_arrays(w, reg->name, &known));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (rc == STRATA_OK && d != NULL && (de = readdir(d)) != NULL) {
        if (st_path(NULL, rel, "%s/%s/%s", ST_POOL_DATA, reg->dir, de->d_name) == 0 &&
            st_nameset_has(trash, rel))
            rc = st_nameset_add(&known, de->d_name);
    }
    if (d != NULL) closedir(d);
    ST_TRY(rc);
    if (access(dir, F_OK) != 0) {
        st_walk_report(w, "region", dir, "directory is missing", 0);
    } else {
        st_nameset_sort(&known);
        rc = st_walk_scan_dir(w, dir, &known, 0);
    }
done:
    st_nameset_free(&known);
    return rc;
}

/* REGION/NAME of a check: both must exist (NAME as a dataset or an N-d array). */
static int find_target(strata_pool *pool, const char *region, const char *name, st_cat_region *reg)
{
    st_err *err = st_pool_err(pool);
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_cat_region_get(err, st_pool_cat(pool), region, reg)) < 0 || name == NULL)
        return rc;
    st_cat_dataset d;
    st_cat_nd nd;
    if ((rc = st_name_check(err, "dataset", name)) < 0) return rc;
    rc = st_cat_dataset_get(err, st_pool_cat(pool), region, name, &d, NULL, NULL);
    /* or an N-d array of that name */
    if (rc == STRATA_ENOTFOUND && st_cat_nd_get(NULL, st_pool_cat(pool), region, name, &nd) == 0)
        rc = STRATA_OK;
    return rc;
}

/* The manifests' directory (catalog_ndm.c): a temporary file a reader left (killed while it
 * made one) is an orphan; a manifest of an array that is gone cannot outlive its commit. */
static int scan_manifests(st_walk *w)
{
    char dir[ST_PATH_MAX];
    if (st_cat_ndm_dir(st_pool_cat(w->pool), dir) < 0) return STRATA_OK;
    DIR *d = opendir(dir);
    if (d == NULL) return STRATA_OK;
    st_nameset known = ST_NAMESET;
    int rc = STRATA_OK;
    for (struct dirent *e; rc == STRATA_OK && (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, ST_NDM_TEMP, strlen(ST_NDM_TEMP)) != 0)
            rc = st_nameset_add(&known, e->d_name);
    closedir(d);
    st_nameset_sort(&known);
    if (rc == STRATA_OK) rc = st_walk_scan_dir(w, dir, &known, 0);
    st_nameset_free(&known);
    return rc;
}

/* The whole pool: every region (their directories are the known entries of POOL/data), the
 * backups and the tiers. */
static int visit_pool(st_walk *w, const st_nameset *trash)
{
    strata_pool *pool = w->pool;
    st_err *err = st_pool_err(pool);
    st_vec regions = ST_VEC(st_cat_region);
    st_nameset known = ST_NAMESET;
    char dir[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = st_cat_region_list(err, st_pool_cat(pool), collect_region_rec, &regions));
    const st_cat_region *reg = regions.v;
    /* progress: the regions, then the backups and the tiers as one more step */
    const char *what = w->gc ? "gc" : "check";
    for (size_t i = 0; i < regions.n && !w->stop; i++) {
        st_pool_work(pool, "regions", i, regions.n + 1, "%s %s", what, reg[i].name);
        ST_TRY(rc = st_nameset_add(&known, reg[i].dir));
        ST_TRY(rc = visit_region(w, &reg[i], NULL, trash));
    }
    st_pool_work(pool, "regions", regions.n, regions.n + 1, "%s: orphans, backups, tiers", what);
    ST_TRY(rc = st_path(err, dir, "%s/%s", st_pool_path(pool), ST_POOL_DATA));
    st_nameset_sort(&known);
    ST_TRY(rc = st_walk_scan_dir(w, dir, &known, 0));
    ST_TRY(rc = st_walk_backups(w));
    ST_TRY(rc = scan_manifests(w));
    rc = scan_tiers(w);
    if (rc == STRATA_OK) st_pool_work(pool, "regions", regions.n + 1, regions.n + 1, "%s", what);
done:
    st_vec_free(&regions);
    st_nameset_free(&known);
    return rc;
}

static int run_pool(st_walk *w, const char *region, const char *name)
{
    strata_pool *pool = w->pool;
    st_nameset trash = ST_NAMESET;
    st_cat_region reg;
    int rc;
    ST_TRY(rc = st_store_trash_names(pool, &trash));
    if (region == NULL) {
        rc = visit_pool(w, &trash);
        goto done;
    }
    ST_TRY(rc = find_target(pool, region, name, &reg));
    rc = visit_region(w, &reg, name, &trash);
done:
    st_nameset_free(&trash);
    if (rc == STRATA_ENOMEM) st_error(st_pool_err(pool), rc, "out of memory checking the pool");
    return rc;
}

int strata_check(strata_pool *pool, const char *region, const char *name, strata_problem_fn fn,
                 void *ctx, uint64_t *damaged)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_walk w = {.pool = pool, .fn = fn, .ctx = ctx};
    /* the catalog first: everything below trusts it */
    int rc = st_cat_integrity(st_pool_err(pool), st_pool_cat(pool));
    if (rc < 0) {
        char path[ST_PATH_MAX];
        if (st_path(NULL, path, "%s/%s", st_pool_path(pool), ST_POOL_CATALOG) == STRATA_OK)
            st_walk_report(&w, "catalog", path, strata_errmsg(pool), 0);
        if (damaged != NULL) *damaged = w.damaged;
        return rc;
    }
    rc = run_pool(&w, region, name);
    if (damaged != NULL) *damaged = w.damaged;
    if (rc < 0) return rc;
    if (w.damaged > 0)
        return st_error(st_pool_err(pool), STRATA_ECORRUPT, "%llu damaged item(s) found",
                        (unsigned long long)w.damaged);
    return STRATA_OK;
}

int strata_gc(strata_pool *pool, const strata_gc_opts *opts, strata_gc_stats *stats)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    strata_gc_opts o = {0};
    if (opts != NULL) o = *opts;
    if (o.keep_versions < 0)
        return st_error(err, STRATA_EINVAL, "keep-versions %lld is negative",
                        (long long)o.keep_versions);
    int64_t grace_s = o.grace_s == 0 ? 3600 : o.grace_s < 0 ? 0 : o.grace_s;
    strata_gc_stats local;
    if (stats == NULL) stats = &local;
    memset(stats, 0, sizeof *stats);
    int rc = st_store_gc_trash(pool, o.dry_run, stats);
    if (rc < 0) return rc;
    /* Orphans: files and directories the catalog does not name, older than the grace. Outside
     * objects' directories only while no creator is between its first file and its catalog row
     * (they hold the pool's gc lock shared). */
    st_walk w = {.pool = pool,
                 .gc = 1,
                 .orphan_before_ns = st_now_ns() - grace_s * 1000000000,
                 .dry_run = o.dry_run,
                 .stats = stats};
    char lockpath[ST_PATH_MAX];
    int gclock = -1;
    if (!o.dry_run) {
        if ((rc = st_path(err, lockpath, "%s/%s", st_pool_path(pool), ST_POOL_GCLOCK)) < 0)
            return rc;
        st_cat_lockref at = {lockpath, "pool", 0, 0};
        gclock =
            st_cat_lock(err, st_pool_cat(pool), &at, 1, 1, ST_GC_WAIT_MS, "the pool's gc lock");
        if (gclock < 0 && gclock != STRATA_ELOCKED)
            return st_error(err, gclock, "cannot collect garbage in pool '%s': %s",
                            st_pool_path(pool), strata_errmsg(pool));
    }
    w.outer_held = gclock >= 0 || o.dry_run;
    if (!w.outer_held && !o.dry_run) stats->busy_skipped++;
    rc = run_pool(&w, NULL, NULL);
    st_cat_unlock(st_pool_cat(pool), gclock);
    if (rc < 0) return rc;
    if (o.keep_versions > 0) rc = st_store_expire(pool, o.keep_versions, o.dry_run, stats);
    return rc;
}
