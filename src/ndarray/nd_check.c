/*
 * nd_check.c -- the ndarray layer's part of a check or gc (pool/walk.h): N-d arrays.
 *
 * check: every chunk file exists, decodes, holds the array's dtype and the recorded checksum, and
 * every staged copy exists. An array's directory on each tier holds only the chunk and staged
 * files its catalog rows name (and, on the default tier, its writers' lock); anything else is an
 * orphan. src/check runs the walk and asks this file for the N-d arrays' files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "ndarray/nd_int.h"
#include "util/vec.h"

/* ---- N-d arrays and tiers ------------------------------------------------------------------- */

typedef struct {
    int64_t tier_id;
    char file[ST_CAT_FILE];
    int staged;
} nd_file;

static int collect_nd_file(void *vctx, int64_t tier_id, const char *file, int staged)
{
    nd_file *f = st_vec_push(vctx);
    if (f == NULL) return STRATA_ENOMEM;
    f->tier_id = tier_id;
    snprintf(f->file, sizeof f->file, "%s", file);
    f->staged = staged;
    return 0;
}

static int collect_nd(void *vctx, const st_cat_nd *nd)
{
    st_cat_nd *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *nd;
    return 0;
}

/* TIER_ROOT/RDIR/NDDIR of ND on tier TIER_ID. */
static int nd_dir(st_walk *r, const st_cat_nd *nd, int64_t tier_id, char out[ST_PATH_MAX])
{
    st_ndctx x;
    st_ndctx_init(&x, r->pool);
    return st_nd_dir(&x, nd, tier_id, 0, out);
}

typedef struct {
    st_walk *r;
    const st_cat_nd *nd;
    int rc;
} chunk_ctx;

/* One chunk: its file exists, decodes, holds the array's dtype and the recorded checksum. */
static int check_chunk(void *vctx, const st_cat_chunk *c)
{
    chunk_ctx *k = vctx;
    st_walk *r = k->r;
    char dir[ST_PATH_MAX], path[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 64];
    char problem[ST_PATH_MAX + ST_ERRMSG_MAX] = "";
    snprintf(what, sizeof what, "N-d array %s/%s chunk %lld", k->nd->region, k->nd->name,
             (long long)c->idx);
    if ((k->rc = nd_dir(r, k->nd, c->tier_id, dir)) < 0) return 1;
    if ((k->rc = st_path(st_pool_err(r->pool), path, "%s/%s", dir, c->file)) < 0) return 1;
    st_err e;
    st_err_init(&e);
    st_chunkbuf cb;
    if (st_chunk_read(&e, path, &cb) != STRATA_OK) {
        snprintf(problem, sizeof problem, "%s",
                 e.code == STRATA_ENOTFOUND ? "file is missing" : e.msg);
    } else {
        size_t esz = strata_dtype_size(cb.info.dtype);
        if ((int)cb.info.dtype != k->nd->dtype)
            snprintf(problem, sizeof problem, "holds '%s', not the array's dtype", cb.info.descr);
        else if (XXH64(cb.data, cb.info.count * esz, 0) != c->checksum)
            snprintf(problem, sizeof problem, "checksum does not match the catalog");
        st_chunk_release(&cb);
    }
    st_err_destroy(&e);
    if (problem[0]) st_walk_report(r, what, path, problem, 0);
    if (c->staged_tier) {
        if (nd_dir(r, k->nd, c->staged_tier, dir) == STRATA_OK &&
            st_path(NULL, path, "%s/%s", dir, c->staged_file) == STRATA_OK &&
            access(path, F_OK) != 0)
            st_walk_report(r, what, path, "staged copy is missing", 0);
    }
    return r->stop;
}

/* Scan the directory of ND on tier TIER for orphans: files that FILES (its nd_file list) does
 * not name. */
static int scan_tier(st_walk *r, const st_cat_nd *nd, int64_t tier, const st_vec *files)
{
    st_nameset known = ST_NAMESET;
    char dir[ST_PATH_MAX];
    const nd_file *f = files->v;
    int rc;
    ST_TRY(rc = nd_dir(r, nd, tier, dir));
    if (tier == ST_TIER_DEFAULT_ID) ST_TRY(rc = st_nameset_add(&known, ST_ND_WRITER_LOCK));
    for (size_t i = 0; i < files->n; i++)
        if (f[i].tier_id == tier) ST_TRY(rc = st_nameset_add(&known, f[i].file));
    st_nameset_sort(&known);
    rc = st_walk_scan_dir(r, dir, &known, 1);
done:
    st_nameset_free(&known);
    return rc;
}

/* N-d array ND: verify its chunks (not in gc) and scan its directory on every tier holding a
 * file of it (and the default tier) for orphans. */
static int visit_nd(st_walk *r, const st_cat_nd *nd)
{
    strata_pool *pool = r->pool;
    st_vec files = ST_VEC(nd_file);
    char ddir[ST_PATH_MAX], lockpath[ST_PATH_MAX];
    int hold = -1, rc = STRATA_OK;
    if (!r->gc) {
        chunk_ctx k = {r, nd, STRATA_OK};
        rc = st_cat_nd_chunks(st_pool_err(pool), st_pool_cat(pool), nd->id, 0, INT64_MAX,
                              check_chunk, &k);
        ST_TRY(rc = rc < 0 ? rc : k.rc);
        char why[256], mpath[ST_PATH_MAX];
        ST_TRY(rc = st_cat_ndm_check(st_pool_err(pool), st_pool_cat(pool), nd->region, nd->name,
                                     mpath, why, sizeof why));
        if (why[0] != '\0') {
            char what[2 * STRATA_NAME_MAX + 32];
            snprintf(what, sizeof what, "N-d array %s/%s", nd->region, nd->name);
            st_walk_report(r, what, mpath, why, 0);
        }
    }
    /* orphans, with the writers and stagers held off */
    ST_TRY(rc = nd_dir(r, nd, ST_TIER_DEFAULT_ID, ddir));
    ST_TRY(rc = st_path(st_pool_err(pool), lockpath, "%s/%s", ddir, ST_ND_WRITER_LOCK));
    char obj[32];
    snprintf(obj, sizeof obj, "nd %lld", (long long)nd->id);
    if (!st_walk_hold(r, lockpath, obj, &hold)) goto done;
    rc = st_cat_nd_files(st_pool_err(pool), st_pool_cat(pool), nd->id, collect_nd_file, &files);
    int64_t tiers[64];
    int nt = 0;
    tiers[nt++] = ST_TIER_DEFAULT_ID;
    const nd_file *f = files.v;
    for (size_t i = 0; i < files.n; i++) {
        int seen = 0;
        for (int t = 0; t < nt; t++) seen |= tiers[t] == f[i].tier_id;
        if (!seen && nt < 64) tiers[nt++] = f[i].tier_id;
    }
    for (int t = 0; rc >= 0 && t < nt && !r->stop; t++) rc = scan_tier(r, nd, tiers[t], &files);
done:
    st_cat_unlock(st_pool_cat(pool), hold);
    st_vec_free(&files);
    return rc < 0 ? rc : STRATA_OK;
}

/* The N-d arrays of region REG (ONLY_NAME: just that one): their directories are known entries
 * of the region directory. */
int st_nd_walk(st_walk *r, const st_cat_region *reg, const char *only_name,
               st_nameset *region_known)
{
    st_vec v = ST_VEC(st_cat_nd);
    int rc;
    ST_TRY(rc =
               st_cat_nd_list(st_pool_err(r->pool), st_pool_cat(r->pool), reg->id, collect_nd, &v));
    const st_cat_nd *nd = v.v;
    for (size_t i = 0; i < v.n && !r->stop; i++) {
        if (only_name != NULL && strcmp(nd[i].name, only_name) != 0) continue;
        ST_TRY(rc = st_nameset_add(region_known, nd[i].dir));
        ST_TRY(rc = visit_nd(r, &nd[i]));
    }
done:
    st_vec_free(&v);
    return rc;
}

static int known_nd_dir(void *vctx, const st_cat_nd *nd)
{
    return st_nameset_add(vctx, nd->dir) < 0 ? STRATA_ENOMEM : 0;
}

int st_nd_dirs(strata_pool *pool, int64_t region_id, st_nameset *known)
{
    return st_cat_nd_list(st_pool_err(pool), st_pool_cat(pool), region_id, known_nd_dir, known);
}
