/*
 * dataset.c -- datasets: create, open, close, info, drop, list, log; schema helpers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/dtype.h"
#include "util/name.h"

int st_dataset_dir(strata_pool *pool, const st_cat_dataset *d, char out[ST_PATH_MAX])
{
    return st_path(st_pool_err(pool), out, "%s/%s/%s/%s", st_pool_path(pool), ST_POOL_DATA,
                   d->region_dir, d->dir);
}

int st_dataset_tier_dir(strata_pool *pool, const st_cat_dataset *d, int64_t tier_id, int make,
                        char out[ST_PATH_MAX])
{
    if (tier_id <= ST_TIER_DEFAULT_ID) return st_dataset_dir(pool, d, out);
    st_cat_tier t;
    char root[ST_PATH_MAX], rdir[ST_PATH_MAX];
    st_err *err = st_pool_err(pool);
    int rc;
    ST_TRY(rc = st_cat_tier_get_id(err, st_pool_cat(pool), tier_id, &t));
    ST_TRY(rc = st_tier_root(err, st_pool_path(pool), &t, root));
    ST_TRY(rc = st_path(err, rdir, "%s/%s", root, d->region_dir));
    ST_TRY(rc = st_path(err, out, "%s/%s", rdir, d->dir));
    if (make) {
        ST_TRY(rc = st_mkdir(err, root, 1));
        ST_TRY(rc = st_mkdir(err, rdir, 1));
        ST_TRY(rc = st_mkdir(err, out, 1));
    }
done:
    return rc;
}

int st_bcol_path(strata_pool *pool, const st_cat_dataset *d, const char *dir, int64_t tier_id,
                 const char *file, char out[ST_PATH_MAX])
{
    if (tier_id <= ST_TIER_DEFAULT_ID) return st_path(st_pool_err(pool), out, "%s/%s", dir, file);
    char tdir[ST_PATH_MAX];
    int rc = st_dataset_tier_dir(pool, d, tier_id, 0, tdir);
    return rc < 0 ? rc : st_path(st_pool_err(pool), out, "%s/%s", tdir, file);
}

int st_schema_load(strata_pool *pool, const char *region, const char *name, st_cat_dataset *d,
                   st_schema *out)
{
    memset(out, 0, sizeof *out);
    /* room for the most columns a dataset can have (1 MiB), not zeroed and cut to the columns
     * read: only the pages written are ever touched (zeroing it was a page fault per 4 KiB at
     * every dataset and snapshot open) */
    out->cat = malloc(ST_CAT_MAX_COLUMNS * sizeof *out->cat);
    if (out->cat == NULL) return st_error(st_pool_err(pool), STRATA_ENOMEM, "out of memory");
    int rc;
    ST_TRY(rc = st_cat_dataset_get(st_pool_err(pool), st_pool_cat(pool), region, name, d, out->cat,
                                   &out->ncols));
    st_cat_column *cut = realloc(out->cat, ((size_t)out->ncols + 1) * sizeof *out->cat);
    if (cut != NULL) out->cat = cut;
    if ((out->cols = calloc((size_t)out->ncols + 1, sizeof *out->cols)) == NULL) {
        rc = st_error(st_pool_err(pool), STRATA_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < out->ncols; i++) {
        out->cols[i].name = out->cat[i].name;
        out->cols[i].dtype = (strata_dtype)out->cat[i].dtype;
    }
done:
    if (rc < 0) st_schema_free(out);
    return rc;
}

void st_schema_free(st_schema *s)
{
    free(s->cat);
    free(s->cols);
    s->cat = NULL;
    s->cols = NULL;
    s->ncols = 0;
}

int st_schema_find(const st_schema *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (strcmp(s->cat[i].name, name) == 0) return i;
    return -1;
}

int st_dataset_names_check(strata_pool *pool, const char *region, const char *name)
{
    int rc = st_name_check(st_pool_err(pool), "region", region);
    return rc < 0 ? rc : st_name_check(st_pool_err(pool), "dataset", name);
}

int st_dataset_mkdir(strata_pool *pool, const st_cat_region *r, const char *name, st_cat_dataset *d,
                     char dir[ST_PATH_MAX])
{
    memset(d, 0, sizeof *d);
    d->region_id = r->id;
    snprintf(d->region, sizeof d->region, "%s", r->name);
    snprintf(d->region_dir, sizeof d->region_dir, "%s", r->dir);
    snprintf(d->name, sizeof d->name, "%s", name);
    st_random_token(d->dir);
    d->created_ns = st_now_ns();
    /* The directory first (durably), then the catalog rows: a crash between leaves an empty
     * orphan directory, never a dataset without one. */
    char parent[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = st_dataset_dir(pool, d, dir));
    ST_TRY(rc = st_mkdir(st_pool_err(pool), dir, 0));
    ST_TRY(rc = st_region_dir(pool, r->dir, parent));
    rc = st_fsync_dir(st_pool_err(pool), parent);
done:
    return rc;
}

int strata_dataset_create(strata_pool *pool, const char *region, const char *name,
                          const strata_column *cols, int ncols)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_dataset_names_check(pool, region, name);
    if (rc < 0) return rc;
    if (cols == NULL || ncols < 1 || ncols > STRATA_MAX_COLUMNS)
        return st_error(err, STRATA_EINVAL, "dataset '%s/%s' needs 1 to %d columns (%d given)",
                        region, name, STRATA_MAX_COLUMNS, ncols);
    st_cat_column *cc = calloc((size_t)ncols, sizeof *cc);
    if (cc == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    st_cat_region r;
    st_cat_dataset d;
    char dir[ST_PATH_MAX];
    int hold = -1;
    for (int i = 0; i < ncols; i++) {
        ST_TRY(rc = st_name_check(err, "column", cols[i].name));
        if (!st_dtype_valid((int)cols[i].dtype)) {
            rc = st_error(err, STRATA_ETYPE, "column '%s' of '%s/%s' has unknown dtype %d",
                          cols[i].name, region, name, (int)cols[i].dtype);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0) {
                rc = st_error(err, STRATA_EINVAL, "dataset '%s/%s': column '%s' is named twice",
                              region, name, cols[i].name);
                goto done;
            }
        snprintf(cc[i].name, sizeof cc[i].name, "%s", cols[i].name);
        cc[i].dtype = (int)cols[i].dtype;
    }
    rc = st_cat_region_get(err, st_pool_cat(pool), region, &r);
    if (rc == STRATA_ENOTFOUND)
        st_error(err, rc, "cannot create dataset '%s/%s': region '%s' not found", region, name,
                 region);
    ST_TRY(rc);
    if ((hold = st_pool_create_begin(pool)) < 0) {
        rc = hold;
        goto done;
    }
    ST_TRY(rc = st_dataset_mkdir(pool, &r, name, &d, dir));
    rc = st_cat_dataset_insert(err, st_pool_cat(pool), &d, cc, ncols);
    if (rc < 0) rmdir(dir);
done:
    st_pool_create_end(pool, hold);
    free(cc);
    return rc;
}

int strata_dataset_open(strata_pool *pool, const char *region, const char *name,
                        strata_dataset **out)
{
    return st_dataset_open(pool, region, name, 0, out);
}

int st_dataset_open(strata_pool *pool, const char *region, const char *name, int internal,
                    strata_dataset **out)
{
    if (out != NULL) *out = NULL;
    if (pool == NULL || out == NULL) return STRATA_EINVAL;
    int rc = st_dataset_names_check(pool, region, name);
    if (rc < 0) return rc;
    strata_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return st_error(st_pool_err(pool), STRATA_ENOMEM, "out of memory");
    ds->pool = pool;
    ds->hold = -1;
    ds->lock_timeout_ms = 10000;
    ST_TRY(rc = st_schema_load(pool, region, name, &ds->d, &ds->schema));
    ST_TRY(rc = st_dataset_dir(pool, &ds->d, ds->dir));
    /* Writers write the leading base columns (or, for the update engine, the columns a
     * derivation writes with its index); derived columns are computed per batch later. */
    int n = 0;
    while (n < ds->schema.ncols && (ds->schema.cat[n].kind == ST_COL_BASE ||
                                    (internal && ds->schema.cat[n].kind == ST_COL_INTRINSIC)))
        n++;
    ds->derived = ds->schema.ncols > 0 && ds->schema.cat[0].kind == ST_COL_INTRINSIC;
    ds->schema.ncols = n;
    *out = ds;
    ds = NULL;
done:
    if (ds != NULL) {
        st_schema_free(&ds->schema);
        free(ds);
    }
    return rc;
}

/* Remove the files of committed, unpublished batches. */
static void discard_pending(strata_dataset *ds)
{
    char path[ST_PATH_MAX];
    for (int b = 0; b < ds->npending; b++)
        for (int c = 0; c < ds->schema.ncols; c++) {
            const st_cat_bcol *bc =
                &ds->pending_cols[(size_t)b * (size_t)ds->schema.ncols + (size_t)c];
            for (int f = 0; f < ST_BCOL_FILES; f++)
                if (st_cat_bcol_file(bc, f)[0] &&
                    st_path(NULL, path, "%s/%s", ds->dir, st_cat_bcol_file(bc, f)) == STRATA_OK)
                    unlink(path);
        }
    ds->npending = 0;
}

void st_dataset_unlock(strata_dataset *ds)
{
    st_cat_unlock(st_pool_cat(ds->pool), ds->hold);
    ds->hold = -1;
}

void strata_dataset_close(strata_dataset *ds)
{
    if (ds == NULL) return;
    discard_pending(ds);
    st_dataset_unlock(ds);
    st_schema_free(&ds->schema);
    free(ds->pending);
    free(ds->pending_cols);
    free(ds);
}

int strata_dataset_set_lock_timeout(strata_dataset *ds, int ms)
{
    if (ds == NULL) return STRATA_EINVAL;
    ds->lock_timeout_ms = ms;
    return STRATA_OK;
}

/* Fill OUT from dataset record D at VERSION. */
static int describe(strata_pool *pool, const st_cat_dataset *d, const st_schema *schema,
                    int64_t version, strata_dataset_desc *out)
{
    memset(out, 0, sizeof *out);
    out->region = d->region;
    out->name = d->name;
    out->ncols = schema->ncols;
    out->columns = schema->cols;
    out->version = version;
    out->created_ns = d->created_ns;
    if (version == 0) return STRATA_OK;
    st_cat_dsversion v;
    int rc = st_cat_version_get(st_pool_err(pool), st_pool_cat(pool), d->id, version, &v);
    if (rc < 0) return rc;
    out->nrows = (uint64_t)v.total_rows;
    return st_cat_totals(st_pool_err(pool), st_pool_cat(pool), d->id, version, &out->nbatches,
                         &out->bytes);
}

int strata_dataset_info(strata_dataset *ds, strata_dataset_desc *out)
{
    if (ds == NULL || out == NULL) return STRATA_EINVAL;
    /* Re-read the record: other processes may have published since the handle was opened. */
    st_cat_dataset fresh;
    int rc = st_cat_dataset_get(st_pool_err(ds->pool), st_pool_cat(ds->pool), ds->d.region,
                                ds->d.name, &fresh, NULL, NULL);
    if (rc < 0) return rc;
    if (fresh.id != ds->d.id)
        return st_error(st_pool_err(ds->pool), STRATA_ECONFLICT,
                        "dataset '%s/%s' was dropped and created again; open it again",
                        ds->d.region, ds->d.name);
    ds->d = fresh;
    return describe(ds->pool, &ds->d, &ds->schema, ds->d.version, out);
}

struct dependents {
    int64_t id;
    char first[3 * STRATA_NAME_MAX + 8];
    int n;
};

static int find_dependent(void *vctx, const st_cat_deriv *dv)
{
    struct dependents *c = vctx;
    if (dv->source_id != c->id || dv->dataset_id == c->id) return 0;
    if (c->n++ == 0)
        snprintf(c->first, sizeof c->first, "'%s/%s%s%s'", dv->region, dv->dataset,
                 dv->target[0] ? "." : "", dv->target);
    return 0;
}

int strata_dataset_drop(strata_pool *pool, const char *region, const char *name)
{
    if (pool == NULL) return STRATA_EINVAL;
    int rc = st_dataset_names_check(pool, region, name);
    if (rc < 0) return rc;
    st_cat_dataset d;
    if ((rc = st_cat_dataset_get(st_pool_err(pool), st_pool_cat(pool), region, name, &d, NULL,
                                 NULL)) < 0)
        return rc;
    /* Nothing may be derived from it any more. */
    struct dependents dep = {d.id, {0}, 0};
    if ((rc = st_cat_derivs(st_pool_err(pool), st_pool_cat(pool), 0, find_dependent, &dep)) < 0)
        return rc;
    if (dep.n > 0)
        return st_error(st_pool_err(pool), STRATA_ECONFLICT,
                        "cannot drop '%s/%s': %s is derived from it (%d object(s) in all); drop "
                        "those first",
                        region, name, dep.first, dep.n);
    char rel[ST_PATH_MAX];
    if ((rc = st_path(st_pool_err(pool), rel, "%s/%s/%s", ST_POOL_DATA, d.region_dir, d.dir)) < 0)
        return rc;
    return st_cat_dataset_drop(st_pool_err(pool), st_pool_cat(pool), d.id, rel);
}

struct list_ctx {
    strata_name_fn fn;
    void *ctx;
};

static int list_one(void *vctx, const st_cat_dataset *d)
{
    struct list_ctx *lc = vctx;
    return lc->fn(lc->ctx, d->name);
}

int strata_dataset_list(strata_pool *pool, const char *region, strata_name_fn fn, void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    int rc = st_name_check(st_pool_err(pool), "region", region);
    if (rc < 0) return rc;
    st_cat_region r;
    if ((rc = st_cat_region_get(st_pool_err(pool), st_pool_cat(pool), region, &r)) < 0) return rc;
    struct list_ctx lc = {fn, ctx};
    return st_cat_dataset_list(st_pool_err(pool), st_pool_cat(pool), r.id, list_one, &lc);
}

struct log_ctx {
    strata_version_fn fn;
    void *ctx;
};

static int log_one(void *vctx, const st_cat_dsversion *v)
{
    struct log_ctx *lc = vctx;
    strata_version_info info = {v->version,        v->created_ns,           (uint64_t)v->batches,
                                (uint64_t)v->rows, (uint64_t)v->total_rows, v->expired};
    return lc->fn(lc->ctx, &info);
}

int strata_dataset_log(strata_pool *pool, const char *region, const char *name,
                       strata_version_fn fn, void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    int rc = st_dataset_names_check(pool, region, name);
    if (rc < 0) return rc;
    st_cat_dataset d;
    if ((rc = st_cat_dataset_get(st_pool_err(pool), st_pool_cat(pool), region, name, &d, NULL,
                                 NULL)) < 0)
        return rc;
    struct log_ctx lc = {fn, ctx};
    return st_cat_versions(st_pool_err(pool), st_pool_cat(pool), d.id, log_one, &lc);
}

const st_schema *st_dataset_schema(const strata_dataset *ds)
{
    return &ds->schema;
}

const st_cat_dataset *st_dataset_rec(const strata_dataset *ds)
{
    return &ds->d;
}

const char *st_dataset_path(const strata_dataset *ds)
{
    return ds->dir;
}

strata_pool *st_dataset_pool(const strata_dataset *ds)
{
    return ds->pool;
}
