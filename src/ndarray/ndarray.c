/*
 * ndarray.c -- N-d arrays: create, open, describe, delete, and the copy-on-write write path.
 *
 * A write rewrites every chunk its rectangle touches into a new file (merging the old contents
 * where the rectangle covers a chunk only in part), makes the files durable, and switches the
 * chunk rows in one catalog transaction; only then are the replaced files removed. Writers of
 * one array are serialised by an OFD lock on its .writer file, so a read-merge-write of a chunk
 * never loses another writer's update; readers take no lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "ndarray/nd_int.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/parse.h"
#include "util/vec.h"

void st_nd_grid(const st_cat_nd *rec, st_ndgrid *g)
{
    g->n = rec->ndims;
    for (int d = 0; d < g->n; d++) {
        g->dims[d] = rec->dims[d];
        g->chunk[d] = rec->layout == STRATA_LAYOUT_CHUNKED ? rec->chunk[d]
                                                           : (rec->dims[d] ? rec->dims[d] : 1);
        g->grid[d] = (g->dims[d] + g->chunk[d] - 1) / g->chunk[d];
    }
}

int64_t st_nd_linear(const st_ndgrid *g, const uint64_t *c)
{
    int64_t idx = 0;
    for (int d = 0; d < g->n; d++) idx = idx * (int64_t)(d ? g->grid[d] : 1) + (int64_t)c[d];
    return idx;
}

/* Tier TIER_ID's kind and root, from the context's memo or the catalog. */
static int tier_of(st_ndctx *x, int64_t tier_id, int *archive, const char **root)
{
    for (int i = 0; i < x->ntiers; i++)
        if (x->tiers[i].id == tier_id) {
            *archive = x->tiers[i].archive;
            *root = x->tiers[i].root;
            return STRATA_OK;
        }
    st_cat_tier t;
    const st_cat_tier *mt = NULL;
    for (int i = 0; x->ndm != NULL && i < x->ndm->ntiers && mt == NULL; i++)
        if (x->ndm->tiers[i].id == tier_id) mt = &x->ndm->tiers[i];
    int rc = mt != NULL ? STRATA_OK : st_cat_tier_get_id(x->err, x->cat, tier_id, &t);
    if (rc < 0) return rc;
    if (mt != NULL) t = *mt;
    int i = x->ntiers < ST_ND_TIER_MEMO ? x->ntiers++ : ST_ND_TIER_MEMO - 1;
    x->tiers[i].id = tier_id;
    x->tiers[i].archive = t.kind == STRATA_TIER_ARCHIVE;
    rc = st_tier_root(x->err, x->pool_path, &t, x->tiers[i].root);
    if (rc < 0) {
        x->ntiers = i; /* forget the half-filled entry */
        return rc;
    }
    *archive = x->tiers[i].archive;
    *root = x->tiers[i].root;
    return STRATA_OK;
}

int st_nd_dir(st_ndctx *x, const st_cat_nd *rec, int64_t tier_id, int make, char out[ST_PATH_MAX])
{
    int archive;
    const char *root;
    char rdir[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = tier_of(x, tier_id, &archive, &root));
    ST_TRY(rc = st_path(x->err, out, "%s/%s/%s", root, rec->region_dir, rec->dir));
    if (!make) goto done;
    ST_TRY(rc = st_path(x->err, rdir, "%s/%s", root, rec->region_dir));
    ST_TRY(rc = st_mkdir(x->err, root, 1));
    ST_TRY(rc = st_mkdir(x->err, rdir, 1));
    rc = st_mkdir(x->err, out, 1);
done:
    return rc;
}

int st_nd_tier_is_archive(st_ndctx *x, int64_t tier_id)
{
    int archive;
    const char *root;
    int rc = tier_of(x, tier_id, &archive, &root);
    return rc < 0 ? rc : archive;
}

void st_ndctx_init(st_ndctx *x, strata_pool *pool)
{
    memset(x, 0, sizeof *x);
    x->err = st_pool_err(pool);
    x->cat = st_pool_cat(pool);
    x->pool_path = st_pool_path(pool);
    x->stage_tier = ST_TIER_DEFAULT_ID;
    x->nthreads = st_pool_threads(pool);
    x->pool = pool;
}

/* ---- create, open, close -------------------------------------------------------------------- */

int st_nd_prepare(strata_pool *pool, const char *region, const char *name, strata_dtype dtype,
                  int ndims, const uint64_t *dims, const uint64_t *chunk_dims,
                  const strata_ndarray_opts *opts, st_cat_nd *out)
{
    st_err *err = st_pool_err(pool);
    strata_ndarray_opts o = {0};
    if (opts != NULL) o = *opts;
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "N-d array", name)) < 0) return rc;
    if (!st_dtype_valid(dtype) || dtype == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "cannot create N-d array '%s/%s': dtype must be numeric or bool", region,
                        name);
    if (ndims < 1 || ndims > STRATA_ND_MAXDIMS || dims == NULL)
        return st_error(err, STRATA_EINVAL,
                        "cannot create N-d array '%s/%s': %d dimensions (1 to %d allowed)", region,
                        name, ndims, STRATA_ND_MAXDIMS);
    if ((unsigned)o.layout > STRATA_LAYOUT_COL)
        return st_error(err, STRATA_EINVAL, "cannot create N-d array '%s/%s': unknown layout %d",
                        region, name, (int)o.layout);
    if (o.zstd_level < 0 || o.zstd_level > 19)
        return st_error(err, STRATA_EINVAL,
                        "cannot create N-d array '%s/%s': zstd level %d (0 to 19 allowed)", region,
                        name, o.zstd_level);
    int unlimited = o.unlimited || dims[0] == 0;
    size_t esz = strata_dtype_size(dtype);
    double total = (double)esz;
    for (int d = 0; d < ndims; d++) {
        if (dims[d] == 0 && !(d == 0 && unlimited))
            return st_error(err, STRATA_EINVAL,
                            "cannot create N-d array '%s/%s': dimension %d is 0 (only the first, "
                            "unlimited dimension may start empty)",
                            region, name, d);
        if (d > 0) total *= (double)dims[d];
    }
    if (total > 1e15)
        return st_error(err, STRATA_ERANGE, "cannot create N-d array '%s/%s': a step is too large",
                        region, name);
    st_cat_nd rec;
    memset(&rec, 0, sizeof rec);
    rec.dtype = (int)dtype;
    rec.ndims = ndims;
    rec.layout = (int)o.layout;
    rec.unlimited = unlimited;
    rec.zstd = o.zstd_level;
    for (int d = 0; d < ndims; d++) {
        rec.dims[d] = dims[d];
        if (o.layout == STRATA_LAYOUT_CHUNKED) {
            if (chunk_dims == NULL || chunk_dims[d] == 0)
                return st_error(err, STRATA_EINVAL,
                                "cannot create N-d array '%s/%s': chunk dimension %d must be at "
                                "least 1",
                                region, name, d);
            rec.chunk[d] = chunk_dims[d];
            /* a chunk larger than the dimension holds the whole dimension */
            if (d > 0 && rec.chunk[d] > dims[d]) rec.chunk[d] = dims[d];
        } else {
            rec.chunk[d] = dims[d];
        }
    }
    double cbytes = (double)esz;
    for (int d = 0; d < ndims; d++) cbytes *= (double)rec.chunk[d];
    if (o.layout == STRATA_LAYOUT_CHUNKED && cbytes > (double)(1ull << 31))
        return st_error(err, STRATA_ERANGE,
                        "cannot create N-d array '%s/%s': a chunk of %.0f bytes is too large (at "
                        "most 2 GiB; use a smaller chunk shape)",
                        region, name, cbytes);
    if (o.fill != NULL) memcpy(rec.fill, o.fill, esz);
    if (dtype == STRATA_BOOL && rec.fill[0] > 1)
        return st_error(err, STRATA_EINVAL,
                        "cannot create N-d array '%s/%s': bool fill must be 0 "
                        "or 1",
                        region, name);
    st_cat_region r;
    rc = st_cat_region_get(err, st_pool_cat(pool), region, &r);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc,
                        "cannot create N-d array '%s/%s': region '%s' not found; create it first",
                        region, name, region);
    if (rc < 0) return rc;
    st_cat_tier t;
    rc = st_cat_tier_get(err, st_pool_cat(pool), o.tier ? o.tier : "default", &t);
    if (rc < 0) return rc;
    rec.region_id = r.id;
    snprintf(rec.region, sizeof rec.region, "%s", region);
    snprintf(rec.region_dir, sizeof rec.region_dir, "%s", r.dir);
    snprintf(rec.name, sizeof rec.name, "%s", name);
    st_random_token(rec.dir);
    rec.tier_id = t.id;
    st_cat_nd existing;
    rc = st_cat_nd_get(NULL, st_pool_cat(pool), region, name, &existing);
    if (rc == STRATA_OK)
        return st_error(err, STRATA_EEXIST, "N-d array '%s/%s' already exists", region, name);
    *out = rec;
    return STRATA_OK;
}

int strata_ndarray_create(strata_pool *pool, const char *region, const char *name,
                          strata_dtype dtype, int ndims, const uint64_t *dims,
                          const uint64_t *chunk_dims, const strata_ndarray_opts *opts,
                          strata_ndarray **out)
{
    if (out != NULL) *out = NULL;
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_nd rec;
    int rc = st_nd_prepare(pool, region, name, dtype, ndims, dims, chunk_dims, opts, &rec);
    if (rc < 0) return rc;
    st_ndctx x;
    st_ndctx_init(&x, pool);
    char dir[ST_PATH_MAX];
    int64_t tier_id = rec.tier_id;
    /* the directories first: a crash before the insert leaves orphans that gc removes */
    int hold = st_pool_create_begin(pool);
    if (hold < 0) return hold;
    ST_TRY(rc = st_nd_dir(&x, &rec, ST_TIER_DEFAULT_ID, 1, dir));
    ST_TRY(rc = st_nd_dir(&x, &rec, tier_id, 1, dir));
    ST_TRY(rc = st_cat_nd_insert(err, st_pool_cat(pool), &rec));
done:
    if (rc < 0) {
        x.err = NULL;
        if (st_nd_dir(&x, &rec, ST_TIER_DEFAULT_ID, 0, dir) == STRATA_OK) st_rm_tree(NULL, dir);
        if (st_nd_dir(&x, &rec, tier_id, 0, dir) == STRATA_OK) st_rm_tree(NULL, dir);
    }
    st_pool_create_end(pool, hold);
    if (rc < 0) return rc;
    if (out == NULL) return rc;
    return strata_ndarray_open(pool, region, name, NULL, out);
}

int strata_ndarray_open(strata_pool *pool, const char *region, const char *name,
                        const strata_ndarray_open_opts *opts, strata_ndarray **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "N-d array", name)) < 0) return rc;
    strata_ndarray *a = calloc(1, sizeof *a);
    if (a == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory opening '%s/%s'", region, name);
    a->magic = ST_ND_LIVE;
    a->pool = pool;
    st_ndctx_init(&a->x, pool);
    size_t cap = opts && opts->cache_bytes ? opts->cache_bytes : ST_ND_CACHE_DEFAULT;
    /* a pool not yet connected to its catalog reads by the manifest (catalog_ndm.c), which
     * saves the connection; a connected one asks the catalog, whose indexed range query costs
     * less than loading a manifest of many chunks for a small read */
    a->ndm_use =
        !st_cat_connected(st_pool_cat(pool)) &&
        (opts == NULL || (opts->stage_tier == NULL && !(opts->hints & STRATA_ND_SEQUENTIAL)));
    int m =
        a->ndm_use ? st_cat_ndm_load(st_pool_cat(pool), region, name, &a->ndm) : STRATA_ENOTFOUND;
    a->ndm_made = m == STRATA_ERANGE; /* it says: ask the catalog */
    if (m == STRATA_OK)
        a->rec = a->ndm->rec;
    else
        ST_TRY(rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &a->rec));
    if (opts != NULL) a->hints = opts->hints;
    if (opts != NULL && opts->stage_tier != NULL) {
        st_cat_tier t;
        ST_TRY(rc = st_cat_tier_get(err, st_pool_cat(pool), opts->stage_tier, &t));
        if (t.kind == STRATA_TIER_ARCHIVE) {
            rc =
                st_error(err, STRATA_EINVAL, "cannot stage to tier '%s': it is an archive", t.name);
            goto done;
        }
        a->x.stage_tier = t.id;
    }
    if (cap != SIZE_MAX) ST_TRY(rc = st_nd_cache_new(&a->x, cap));
    a->esz = strata_dtype_size((strata_dtype)a->rec.dtype);
    *out = a;
done:
    if (rc < 0) {
        st_nd_cache_free(&a->x);
        st_ndm_free(a->ndm);
        free(a);
    }
    return rc;
}

static int nd_check(strata_ndarray *a)
{
    if (a == NULL || a->magic != ST_ND_LIVE) return STRATA_EINVAL;
    return STRATA_OK;
}

strata_pool *st_nd_pool(const strata_ndarray *a)
{
    return a->pool;
}

const st_cat_nd *st_nd_rec(const strata_ndarray *a)
{
    return &a->rec;
}

void strata_ndarray_close(strata_ndarray *a)
{
    if (a == NULL || a->magic != ST_ND_LIVE) return;
    st_nd_prefetch_stop(a);
    st_nd_cache_free(&a->x);
    st_ndm_free(a->ndm);
    a->magic = ST_ND_CLOSED;
    free(a);
}

/* Re-read A's record (its shape and version may have changed). */
static int refresh(strata_ndarray *a)
{
    a->x.ntiers = 0; /* tiers may have been removed and added since the last call */
    a->x.nthreads = st_pool_threads(a->pool); /* set again: a forked child sets 1 */
    int rc = st_cat_nd_get(st_pool_err(a->pool), st_pool_cat(a->pool), a->rec.region, a->rec.name,
                           &a->rec);
    if (rc == STRATA_ENOTFOUND)
        rc = st_error(st_pool_err(a->pool), rc, "N-d array '%s/%s' was deleted", a->rec.region,
                      a->rec.name);
    return rc;
}

typedef struct {
    uint64_t n, bytes;
} count_ctx;

static int count_chunk(void *vctx, const st_cat_chunk *c)
{
    count_ctx *k = vctx;
    k->n++;
    k->bytes += c->bytes;
    return 0;
}

/* ---- attributes ------------------------------------------------------------------------------ */

int st_nd_attr_check(st_err *err, const strata_attr *attr, const char *where)
{
    if (attr == NULL || attr->name == NULL)
        return st_error(err, STRATA_EINVAL, "%s: an attribute needs a name", where);
    int rc = st_name_check(err, "attribute", attr->name);
    if (rc < 0) return rc;
    if (strncmp(attr->name, "strata_", 7) == 0)
        return st_error(err, STRATA_EINVAL,
                        "%s: attribute '%s': names starting with 'strata_' are reserved", where,
                        attr->name);
    if ((unsigned)attr->type > STRATA_ATTR_TEXT)
        return st_error(err, STRATA_EINVAL, "%s: attribute '%s' has an unknown type %d", where,
                        attr->name, (int)attr->type);
    if (attr->type == STRATA_ATTR_TEXT &&
        (attr->s == NULL || st_utf8_valid_prefix(attr->s, strlen(attr->s)) != strlen(attr->s)))
        return st_error(err, STRATA_EINVAL, "%s: attribute '%s' needs valid UTF-8 text", where,
                        attr->name);
    return STRATA_OK;
}

int strata_ndarray_attr_set(strata_ndarray *a, const strata_attr *attr)
{
    if (nd_check(a) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(a->pool);
    char where[2 * STRATA_NAME_MAX + 16];
    snprintf(where, sizeof where, "N-d array '%s/%s'", a->rec.region, a->rec.name);
    int rc = st_nd_attr_check(err, attr, where);
    if (rc < 0) return rc;
    rc = st_cat_nd_attr_put(err, st_pool_cat(a->pool), a->rec.id, attr);
    if (rc == STRATA_ECONFLICT) return st_error(err, STRATA_ENOTFOUND, "%s was deleted", where);
    return rc;
}

int strata_ndarray_attr_delete(strata_ndarray *a, const char *name)
{
    if (nd_check(a) < 0 || name == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(a->pool);
    int rc = st_cat_nd_attr_delete(err, st_pool_cat(a->pool), a->rec.id, name);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc, "N-d array '%s/%s' has no attribute '%s'", a->rec.region,
                        a->rec.name, name);
    return rc;
}

int strata_ndarray_attr_list(strata_ndarray *a, int (*fn)(void *ctx, const strata_attr *attr),
                             void *ctx)
{
    if (nd_check(a) < 0 || fn == NULL) return STRATA_EINVAL;
    return st_cat_nd_attr_list(st_pool_err(a->pool), st_pool_cat(a->pool), a->rec.id, fn, ctx);
}

int strata_ndarray_info(strata_ndarray *a, strata_ndarray_desc *out)
{
    if (nd_check(a) < 0 || out == NULL) return STRATA_EINVAL;
    int rc = refresh(a);
    if (rc < 0) return rc;
    const st_cat_nd *r = &a->rec;
    memset(out, 0, sizeof *out);
    out->region = r->region;
    out->name = r->name;
    out->dtype = (strata_dtype)r->dtype;
    out->ndims = r->ndims;
    st_ndgrid g;
    st_nd_grid(r, &g);
    out->chunks_total = 1;
    for (int d = 0; d < r->ndims; d++) {
        out->dims[d] = r->dims[d];
        out->chunk[d] = g.chunk[d];
        out->chunks_total *= g.grid[d];
    }
    out->layout = (strata_layout)r->layout;
    out->unlimited = r->unlimited;
    out->zstd_level = r->zstd;
    st_cat_tier t;
    rc = st_cat_tier_get_id(st_pool_err(a->pool), st_pool_cat(a->pool), r->tier_id, &t);
    if (rc < 0) return rc;
    snprintf(a->tier_name, sizeof a->tier_name, "%s", t.name);
    out->tier = a->tier_name;
    count_ctx k = {0, 0};
    rc = st_cat_nd_chunks(st_pool_err(a->pool), st_pool_cat(a->pool), r->id, 0, INT64_MAX,
                          count_chunk, &k);
    if (rc < 0) return rc;
    out->chunks_written = k.n;
    out->bytes = k.bytes;
    out->version = r->version;
    out->reads = a->reads;
    out->chunks_read = a->x.chunks_read;
    out->cache_hits = a->x.cache_hits;
    out->staged_on_demand = a->x.staged;
    out->staged_bytes = a->x.staged_bytes;
    out->prefetched = a->prefetched;
    return STRATA_OK;
}

/* ---- listing and deleting ------------------------------------------------------------------- */

typedef struct {
    strata_name_fn fn;
    void *ctx;
} list_ctx;

static int list_one(void *vctx, const st_cat_nd *nd)
{
    list_ctx *c = vctx;
    return c->fn(c->ctx, nd->name);
}

int strata_ndarray_list(strata_pool *pool, const char *region, strata_name_fn fn, void *ctx)
{
    if (st_pool_check(pool) < 0 || fn == NULL) return STRATA_EINVAL;
    st_cat_region r;
    list_ctx c = {fn, ctx};
    int rc;
    ST_TRY(rc = st_name_check(st_pool_err(pool), "region", region));
    ST_TRY(rc = st_cat_region_get(st_pool_err(pool), st_pool_cat(pool), region, &r));
    rc = st_cat_nd_list(st_pool_err(pool), st_pool_cat(pool), r.id, list_one, &c);
done:
    return rc;
}

static int note_tier(void *vctx, const st_cat_tier *t)
{
    st_vec *v = vctx;
    int64_t *slot = st_vec_push(v);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = t->id;
    return 0;
}

int strata_ndarray_delete(strata_pool *pool, const char *region, const char *name)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_nd rec;
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "N-d array", name)) < 0) return rc;
    if ((rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &rec)) < 0) return rc;
    /* every tier may hold a directory of it (home chunks, staged copies, or left empty) */
    st_vec tiers = ST_VEC(int64_t);
    rc = st_cat_tier_list(err, st_pool_cat(pool), note_tier, &tiers);
    if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory deleting '%s/%s'", region, name);
    ST_TRY(rc);
    ST_TRY(rc = st_cat_begin(err, st_pool_cat(pool)));
    if ((rc = st_cat_nd_delete(err, st_pool_cat(pool), rec.id)) < 0 ||
        (rc = st_cat_commit(err, st_pool_cat(pool))) < 0) {
        st_cat_rollback(st_pool_cat(pool));
        goto done;
    }
    /* the files: best effort (leftovers are orphans that gc removes) */
    st_ndctx x;
    st_ndctx_init(&x, pool);
    x.err = NULL;
    for (size_t i = 0; i < tiers.n; i++) {
        char dir[ST_PATH_MAX];
        if (st_nd_dir(&x, &rec, ((int64_t *)tiers.v)[i], 0, dir) == STRATA_OK)
            st_rm_tree(NULL, dir);
    }
done:
    st_vec_free(&tiers);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Minimum and maximum of N elements of DTYPE as doubles (NaNs skipped; all NaN: NaN). */
static void minmax(strata_dtype dtype, const void *p, uint64_t n, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
#define MM(T)                                                                                      \
    do {                                                                                           \
        const T *v = p;                                                                            \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            double e = (double)v[i];                                                               \
            if (e < mn) mn = e;                                                                    \
            if (e > mx) mx = e;                                                                    \
        }                                                                                          \
    } while (0)
    switch (dtype) {
    case STRATA_I8:
        MM(int8_t);
        break;
    case STRATA_I16:
        MM(int16_t);
        break;
    case STRATA_I32:
        MM(int32_t);
        break;
    case STRATA_I64:
    case STRATA_TS:
        MM(int64_t);
        break;
    case STRATA_U8:
    case STRATA_BOOL:
        MM(uint8_t);
        break;
    case STRATA_U16:
        MM(uint16_t);
        break;
    case STRATA_U32:
        MM(uint32_t);
        break;
    case STRATA_U64:
        MM(uint64_t);
        break;
    case STRATA_F32:
        MM(float);
        break;
    case STRATA_F64:
        MM(double);
        break;
    default:
        break;
    }
#undef MM
    if (mn > mx) mn = mx = NAN;
    *lo = mn;
    *hi = mx;
}

/* One chunk a write produces. */
typedef struct {
    st_cat_chunk c;
    char coords[ST_ND_MAXDIMS * 21];
    char dir[ST_PATH_MAX]; /* where its new file is */
    /* what it replaces */
    int had_old;
    int64_t old_tier, old_staged_tier;
    char old_file[ST_CAT_FILE], old_staged[ST_CAT_FILE];
} wchunk;

int st_nd_push_chunk(void *vctx, const st_cat_chunk *c)
{
    st_vec *v = vctx;
    st_cat_chunk *slot = st_vec_push(v);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *c;
    return 0;
}

static int cmp_idx(const void *k, const void *e)
{
    int64_t a = *(const int64_t *)k, b = ((const st_cat_chunk *)e)->idx;
    return (a > b) - (a < b);
}

const st_cat_chunk *st_nd_find_chunk(const st_vec *v, int64_t idx)
{
    return v->n ? bsearch(&idx, v->v, v->n, sizeof(st_cat_chunk), cmp_idx) : NULL;
}

/* Chunk rows of REC with index in [LO, HI] appended to OUT: from the manifest of the read
 * under way, or the catalog. */
static int chunk_range(st_ndctx *x, const st_cat_nd *rec, int64_t lo, int64_t hi, st_vec *out)
{
    if (x->ndm == NULL)
        return st_cat_nd_chunks(x->err, x->cat, rec->id, lo, hi, st_nd_push_chunk, out);
    const st_cat_chunk *c = x->ndm->chunks;
    size_t a = 0, b = x->ndm->n;
    while (a < b) { /* the first at or after LO */
        size_t m = a + (b - a) / 2;
        if (c[m].idx < lo)
            a = m + 1;
        else
            b = m;
    }
    for (; a < x->ndm->n && c[a].idx <= hi; a++)
        if (st_nd_push_chunk(out, &c[a]) != 0) return STRATA_ENOMEM;
    return STRATA_OK;
}

int st_nd_collect(st_ndctx *x, const st_cat_nd *rec, const st_ndgrid *g, const uint64_t *clo,
                  const uint64_t *chi, st_vec *out)
{
    out->n = 0;
    int n = g->n;
    uint64_t lo = st_nd_linear(g, clo), hi = st_nd_linear(g, chi), box = 1;
    for (int d = 0; d < n; d++) box *= chi[d] - clo[d] + 1;
    int rc;
    if (hi - lo + 1 <= 4 * box) {
        /* the box is most of its linear range: one range query */
        rc = chunk_range(x, rec, (int64_t)lo, (int64_t)hi, out);
    } else {
        /* a narrow box (a column of chunks): one range query per run along the last dimension,
         * in increasing order, instead of listing every chunk between its corners */
        uint64_t c[ST_ND_MAXDIMS], e[ST_ND_MAXDIMS];
        memcpy(c, clo, (size_t)n * sizeof *c);
        for (;;) {
            memcpy(e, c, (size_t)n * sizeof *e);
            e[n - 1] = chi[n - 1];
            rc = chunk_range(x, rec, (int64_t)st_nd_linear(g, c), (int64_t)st_nd_linear(g, e), out);
            int d = n - 2;
            for (; d >= 0; d--) {
                if (++c[d] <= chi[d]) break;
                c[d] = clo[d];
            }
            if (rc < 0 || d < 0) break;
        }
    }
    if (rc == STRATA_ENOMEM) rc = st_error(x->err, rc, "out of memory listing chunks");
    return rc;
}

/* Byte strides of a chunk of extent E[n] in C order (FORTRAN: column-major). */
void st_nd_strides(int n, const uint64_t *e, int fortran, size_t esz, int64_t *st)
{
    int64_t s = (int64_t)esz;
    if (fortran) {
        for (int d = 0; d < n; d++) {
            st[d] = s;
            s *= (int64_t)e[d];
        }
    } else {
        for (int d = n - 1; d >= 0; d--) {
            st[d] = s;
            s *= (int64_t)e[d];
        }
    }
}

int st_nd_put_chunk(st_ndctx *x, const st_cat_nd *rec, const char *dir, int64_t idx,
                    const char *token, int level, const uint64_t *ext, const void *data,
                    st_cat_chunk *out)
{
    int n = rec->ndims;
    uint64_t elems = 1;
    for (int d = 0; d < n; d++) elems *= ext[d];
    size_t nbytes = elems * strata_dtype_size((strata_dtype)rec->dtype);
    char tok[ST_TOKEN_LEN + 1];
    if (token == NULL) {
        st_random_token(tok);
        token = tok;
    }
    memset(out, 0, sizeof *out);
    out->idx = idx;
    out->tier_id = rec->tier_id;
    out->version = 1;
    minmax((strata_dtype)rec->dtype, data, elems, &out->min, &out->max);
    out->checksum = XXH64(data, nbytes, 0);
    snprintf(out->file, sizeof out->file, "c%" PRId64 ".%s.npy%s", idx, token,
             level > 0 ? ".zst" : "");
    return st_chunk_write(x->err, dir, out->file, (strata_dtype)rec->dtype, n, ext,
                          rec->layout == STRATA_LAYOUT_COL, data, nbytes, level, &out->bytes);
}

int st_nd_begin_new(st_ndctx *x, const st_cat_nd *rec, char home[ST_PATH_MAX], int *level)
{
    int rc;
    ST_TRY(rc = st_nd_dir(x, rec, ST_TIER_DEFAULT_ID, 1, home));
    ST_TRY(rc = st_nd_dir(x, rec, rec->tier_id, 1, home));
    ST_TRY(rc = st_nd_tier_is_archive(x, rec->tier_id)); /* 1: an archive */
    *level = rec->zstd ? rec->zstd : (rc ? ST_ARCHIVE_ZSTD : 0);
    rc = STRATA_OK;
done:
    return rc;
}

int st_nd_file_open(st_ndctx *x, const st_cat_nd *rec, const char *home, const char *token,
                    int create, char path[ST_PATH_MAX], uint64_t *hdr)
{
    char h[ST_NPY_HEADER_ND_MAX];
    strata_dtype dt = (strata_dtype)rec->dtype;
    size_t hl = st_npy_header_nd(h, st_dtype_descr(dt), rec->ndims, rec->dims,
                                 rec->layout == STRATA_LAYOUT_COL);
    *hdr = hl;
    int rc = st_path(x->err, path, "%s/c0.%s.npy", home, token);
    if (rc < 0 || !create) return rc;
    uint64_t total = 1;
    for (int d = 0; d < rec->ndims; d++) total *= rec->dims[d];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return st_error_errno(x->err, errno, "cannot create '%s'", path);
    ST_TRY(rc = st_pwrite_full(x->err, fd, h, hl, 0, path));
    if (ftruncate(fd, (off_t)(hl + total * strata_dtype_size(dt))) != 0)
        rc = st_error_errno(x->err, errno, "cannot size '%s'", path);
done:
    close(fd);
    return rc;
}

int st_nd_file_seal(st_ndctx *x, const st_cat_nd *rec, const char *home, const char *path,
                    st_cat_chunk *out)
{
    st_chunkbuf cb;
    int rc;
    ST_TRY(rc = st_fsync_dir(x->err, home));
    ST_TRY(rc = st_chunk_read(x->err, path, &cb));
    uint64_t total = 1;
    for (int d = 0; d < rec->ndims; d++) total *= rec->dims[d];
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    snprintf(out->file, sizeof out->file, "%s", base ? base + 1 : path);
    out->tier_id = rec->tier_id;
    out->version = 1;
    out->checksum = XXH64(cb.data, total * strata_dtype_size((strata_dtype)rec->dtype), 0);
    minmax((strata_dtype)rec->dtype, cb.data, total, &out->min, &out->max);
    out->bytes = cb.stored;
    st_chunk_release(&cb);
done:
    return rc;
}

int st_nd_commit_new(st_ndctx *x, st_cat_nd *rec, st_cat_chunk *chunks, int n,
                     const strata_attr *attrs, int nattrs, st_cat_execrow *e)
{
    st_ndgrid g;
    st_nd_grid(rec, &g);
    const char **coords = calloc((size_t)n + 1, sizeof *coords);
    char(*text)[ST_ND_MAXDIMS * 21] = calloc((size_t)n + 1, sizeof *text);
    int rc = STRATA_OK;
    if (coords == NULL || text == NULL) {
        rc = st_error(x->err, STRATA_ENOMEM, "out of memory committing '%s/%s'", rec->region,
                      rec->name);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        uint64_t c[ST_ND_MAXDIMS] = {0}, idx = (uint64_t)chunks[i].idx;
        for (int d = g.n - 1; rec->layout == STRATA_LAYOUT_CHUNKED && d >= 0; d--) {
            c[d] = idx % g.grid[d];
            idx /= g.grid[d];
        }
        st_cat_dims_format(text[i], sizeof text[i], c, g.n);
        coords[i] = text[i];
        chunks[i].version = 1;
    }
    rc = st_cat_save_commit(x->err, x->cat, rec, chunks, coords, n, attrs, nattrs, e);
done:
    free(coords);
    free(text);
    return rc;
}

void st_nd_discard_new(st_ndctx *x, const st_cat_nd *rec)
{
    st_err *keep = x->err;
    x->err = NULL;
    char dir[ST_PATH_MAX];
    if (st_nd_dir(x, rec, rec->tier_id, 0, dir) == STRATA_OK) st_rm_tree(NULL, dir);
    if (st_nd_dir(x, rec, ST_TIER_DEFAULT_ID, 0, dir) == STRATA_OK) st_rm_tree(NULL, dir);
    x->err = keep;
}

/* Write the chunk at grid coordinates C of the write (START, COUNT, STRIDE, BUF) of A, whose
 * shape is now G; fills W. Returns 0 when the chunk holds no selected element. */
static int write_chunk(strata_ndarray *a, st_ndctx *x, const st_ndgrid *g, const st_vec *old,
                       const uint64_t *c, const uint64_t *start, const uint64_t *count,
                       const uint64_t *stride, const char *buf, int64_t tier_id, int level,
                       wchunk *w)
{
    const st_cat_nd *rec = &a->rec;
    int n = rec->ndims, fortran = rec->layout == STRATA_LAYOUT_COL;
    size_t esz = a->esz;
    uint64_t o[ST_ND_MAXDIMS], e[ST_ND_MAXDIMS], klo[ST_ND_MAXDIMS], kn[ST_ND_MAXDIMS];
    int full = 1;
    uint64_t elems = 1;
    for (int d = 0; d < n; d++) {
        o[d] = c[d] * g->chunk[d];
        e[d] = g->chunk[d] < g->dims[d] - o[d] ? g->chunk[d] : g->dims[d] - o[d];
        uint64_t first = o[d] <= start[d] ? 0 : (o[d] - start[d] + stride[d] - 1) / stride[d];
        uint64_t last_pos = o[d] + e[d] - 1;
        if (first >= count[d] || start[d] + first * stride[d] > last_pos) return 0;
        uint64_t last = (last_pos - start[d]) / stride[d];
        if (last >= count[d]) last = count[d] - 1;
        klo[d] = first;
        kn[d] = last - first + 1;
        if (stride[d] != 1 || start[d] > o[d] || start[d] + count[d] < o[d] + e[d]) full = 0;
        elems *= e[d];
    }
    memset(w, 0, sizeof *w);
    w->c.idx = st_nd_linear(g, c);
    st_cat_dims_format(w->coords, sizeof w->coords, c, n);
    const st_cat_chunk *prev = st_nd_find_chunk(old, w->c.idx);
    if (prev != NULL) {
        w->had_old = 1;
        w->old_tier = prev->tier_id;
        snprintf(w->old_file, sizeof w->old_file, "%s", prev->file);
        w->old_staged_tier = prev->staged_tier;
        snprintf(w->old_staged, sizeof w->old_staged, "%s", prev->staged_file);
    }
    char *nb = st_alloc_big(elems * esz);
    if (nb == NULL)
        return st_error(x->err, STRATA_ENOMEM, "out of memory writing chunk %s of '%s/%s'",
                        w->coords, rec->region, rec->name);
    int64_t cst[ST_ND_MAXDIMS], bst[ST_ND_MAXDIMS], dst[ST_ND_MAXDIMS];
    st_nd_strides(n, e, fortran, esz, cst);
    int rc = STRATA_OK;
    if (!full) {
        /* the rest of the chunk: its old contents (over their old extent), else the fill */
        st_nd_fill_box(n, e, esz, rec->fill, nb, cst);
        if (prev != NULL) {
            char dir[ST_PATH_MAX], path[ST_PATH_MAX];
            st_chunkbuf cb;
            ST_TRY(rc = st_nd_dir(x, rec, prev->tier_id, 0, dir));
            ST_TRY(rc = st_path(x->err, path, "%s/%s", dir, prev->file));
            ST_TRY(rc = st_chunk_read(x->err, path, &cb));
            /* the stored extent may be smaller than the chunk's extent now */
            uint64_t have[ST_ND_MAXDIMS], oe[ST_ND_MAXDIMS];
            int64_t ost[ST_ND_MAXDIMS];
            for (int d = 0; d < n; d++) {
                have[d] = d < cb.info.ndim ? cb.info.shape[d] : 1;
                oe[d] = have[d] < e[d] ? have[d] : e[d];
            }
            st_nd_strides(n, have, cb.info.fortran_order, esz, ost);
            st_nd_copy_box(n, oe, esz, cb.data, ost, nb, cst);
            st_chunk_release(&cb);
        }
    }
    /* the written part */
    st_nd_strides(n, count, 0, esz, bst);
    const char *src = buf;
    char *to = nb;
    for (int d = 0; d < n; d++) {
        src += (int64_t)klo[d] * bst[d];
        to += (int64_t)(start[d] + klo[d] * stride[d] - o[d]) * cst[d];
        dst[d] = (int64_t)stride[d] * cst[d];
    }
    st_nd_copy_box(n, kn, esz, src, bst, to, dst);
    ST_TRY(rc = st_nd_dir(x, rec, tier_id, 1, w->dir));
    rc = st_nd_put_chunk(x, rec, w->dir, w->c.idx, NULL, level, e, nb, &w->c);
done:
    st_free_big(nb);
    return rc < 0 ? rc : 1;
}

/* Remove the files a failed or superseded write leaves (best effort: leftovers are orphans). */
void st_nd_remove_file(st_ndctx *x, const st_cat_nd *rec, int64_t tier, const char *file)
{
    char dir[ST_PATH_MAX], path[ST_PATH_MAX];
    st_err *keep = x->err;
    x->err = NULL;
    if (file[0] && st_nd_dir(x, rec, tier, 0, dir) == STRATA_OK &&
        st_path(NULL, path, "%s/%s", dir, file) == STRATA_OK)
        unlink(path);
    x->err = keep;
}

static int bounds(strata_ndarray *a, const char *what, const uint64_t *start, const uint64_t *count,
                  const uint64_t *stride, int growing, uint64_t *new_dim0)
{
    st_err *err = st_pool_err(a->pool);
    const st_cat_nd *r = &a->rec;
    if (start == NULL || count == NULL)
        return st_error(err, STRATA_EINVAL, "cannot %s '%s/%s': start and count are required", what,
                        r->region, r->name);
    *new_dim0 = r->dims[0];
    for (int d = 0; d < r->ndims; d++) {
        uint64_t st = stride ? stride[d] : 1;
        if (count[d] == 0 || st == 0)
            return st_error(err, STRATA_EINVAL,
                            "cannot %s '%s/%s': %s of dimension %d is 0 (every count and stride "
                            "must be at least 1)",
                            what, r->region, r->name, count[d] == 0 ? "count" : "stride", d);
        if (count[d] > UINT64_MAX / st || start[d] > UINT64_MAX - (count[d] - 1) * st)
            return st_error(err, STRATA_ERANGE, "cannot %s '%s/%s': dimension %d overflows", what,
                            r->region, r->name, d);
        uint64_t end = start[d] + (count[d] - 1) * st + 1;
        if (end <= r->dims[d]) continue;
        if (d == 0 && r->unlimited && growing) {
            *new_dim0 = end;
            continue;
        }
        return st_error(err, STRATA_ERANGE,
                        "cannot %s '%s/%s': [%" PRIu64 ", %" PRIu64 ") is outside dimension %d of "
                        "size %" PRIu64 "%s",
                        what, r->region, r->name, start[d], end, d, r->dims[d],
                        d == 0 && r->unlimited ? " (reads stop at the last step)" : "");
    }
    return STRATA_OK;
}

/* A bool array takes only 0 and 1: check the COUNT-shaped buffer BUF of A. */
static int check_bools(strata_ndarray *a, const uint64_t *count, const void *buf)
{
    if (a->rec.dtype != STRATA_BOOL) return STRATA_OK;
    uint64_t n = 1;
    for (int d = 0; d < a->rec.ndims; d++) n *= count[d];
    for (uint64_t i = 0; i < n; i++)
        if (((const unsigned char *)buf)[i] > 1)
            return st_error(st_pool_err(a->pool), STRATA_EINVAL,
                            "cannot write '%s/%s': bool value at buffer position %" PRIu64
                            " is not 0 or 1",
                            a->rec.region, a->rec.name, i);
    return STRATA_OK;
}

/* Write every chunk of A (grown to first dimension DIM0) that the write (START, COUNT, STRIDE,
 * BUF) touches, as new files: OUT receives a wchunk for each, OLD the chunk rows they replace.
 * Chunks of the old shape whose extent grows are rewritten too (a contiguous file, or the last
 * partial chunk along the first dimension): their old elements come along. */
static int write_chunks(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                        const uint64_t *stride, const void *buf, uint64_t dim0, st_vec *old,
                        st_vec *out)
{
    st_ndctx *x = &a->x;
    int level = a->rec.zstd;
    int arch = st_nd_tier_is_archive(x, a->rec.tier_id);
    if (arch < 0) return arch;
    if (arch > 0 && level == 0) level = ST_ARCHIVE_ZSTD;
    st_cat_nd grown = a->rec;
    grown.dims[0] = dim0;
    st_ndgrid g;
    st_nd_grid(&grown, &g);
    uint64_t clo[ST_ND_MAXDIMS] = {0}, chi[ST_ND_MAXDIMS] = {0}, c[ST_ND_MAXDIMS];
    for (int d = 0; d < g.n; d++) {
        clo[d] = start[d] / g.chunk[d];
        chi[d] = (start[d] + (count[d] - 1) * stride[d]) / g.chunk[d];
        /* a contiguous array that grows is one chunk whose extent grows */
        if (a->rec.layout != STRATA_LAYOUT_CHUNKED) clo[d] = chi[d] = 0;
        c[d] = clo[d];
    }
    int rc = st_nd_collect(x, &a->rec, &g, clo, chi, old);
    uint64_t total = 1, done = 0;
    for (int d = 0; d < g.n; d++) total *= chi[d] - clo[d] + 1;
    st_pool_work(a->pool, "chunks", 0, total, "write %s/%s", a->rec.region, a->rec.name);
    while (rc == STRATA_OK) {
        if (done > 0)
            st_pool_work(a->pool, "chunks", done, total, "write %s/%s", a->rec.region, a->rec.name);
        done++;
        wchunk *w = st_vec_push(out);
        if (w == NULL)
            return st_error(x->err, STRATA_ENOMEM, "out of memory writing '%s/%s'", a->rec.region,
                            a->rec.name);
        rc = write_chunk(a, x, &g, old, c, start, count, stride, buf, a->rec.tier_id, level, w);
        if (rc <= 0) out->n--;
        if (rc < 0) break;
        rc = STRATA_OK;
        int d = g.n - 1;
        for (; d >= 0; d--) {
            if (++c[d] <= chi[d]) break;
            c[d] = clo[d];
        }
        if (d < 0) break;
    }
    if (rc == STRATA_OK)
        st_pool_work(a->pool, "chunks", total, total, "write %s/%s", a->rec.region, a->rec.name);
    return rc;
}

/* Record the chunks OUT wrote (durable first) and the first dimension DIM0 as A's next
 * version. */
static int commit_chunks(strata_ndarray *a, const st_vec *out, uint64_t dim0)
{
    st_err *err = st_pool_err(a->pool);
    const wchunk *w = out->v;
    /* durable before recorded: the new files' directory */
    int rc = out->n > 0 ? st_fsync_dir(err, w[0].dir) : STRATA_OK;
    if (rc < 0) return rc;
    st_cat_chunk *cs = malloc((out->n + 1) * sizeof *cs);
    const char **co = malloc((out->n + 1) * sizeof *co);
    if (cs == NULL || co == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory writing '%s/%s'", a->rec.region,
                      a->rec.name);
        goto done;
    }
    for (size_t i = 0; i < out->n; i++) {
        cs[i] = w[i].c;
        co[i] = w[i].coords;
    }
    uint64_t dims[ST_ND_MAXDIMS];
    memcpy(dims, a->rec.dims, sizeof dims);
    dims[0] = dim0;
    rc = st_cat_nd_commit(err, st_pool_cat(a->pool), a->rec.id, a->rec.version, dims, a->rec.ndims,
                          cs, co, (int)out->n, NULL);
done:
    free(cs);
    free(co);
    return rc;
}

/* The write of strata_ndarray_write_strided(); APPEND: at the end of the first dimension as it
 * is under the writers' lock (START[0] is ignored; *AT receives it). */
static int write_impl(strata_ndarray *a, const uint64_t *start_in, const uint64_t *count,
                      const uint64_t *stride, const void *buf, int append, uint64_t *at)
{
    if (nd_check(a) < 0) return STRATA_EINVAL;
    uint64_t start[ST_ND_MAXDIMS] = {0};
    if (start_in != NULL) memcpy(start, start_in, (size_t)a->rec.ndims * sizeof *start);
    st_err *err = st_pool_err(a->pool);
    if (buf == NULL) return st_error(err, STRATA_EINVAL, "write: the buffer is NULL");
    uint64_t ones[ST_ND_MAXDIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (stride == NULL) stride = ones;
    uint64_t dim0;
    st_vec old = ST_VEC(st_cat_chunk), out = ST_VEC(wchunk);
    int lfd = -1, rc;
    ST_TRY(rc = refresh(a));
    if (append) start[0] = a->rec.dims[0];
    ST_TRY(rc = bounds(a, "write", start, count, stride, 1, &dim0));
    ST_TRY(rc = check_bools(a, count, buf));
    /* serialise writers of this array; under the lock, the record as it is now */
    ST_TRY(rc = lfd = st_nd_lock_writer(&a->x, &a->rec));
    ST_TRY(rc = refresh(a));
    if (append) start[0] = a->rec.dims[0];
    if (at != NULL) *at = start[0];
    ST_TRY(rc = bounds(a, "write", start, count, stride, 1, &dim0));
    ST_TRY(rc = write_chunks(a, start, count, stride, buf, dim0, &old, &out));
    rc = commit_chunks(a, &out, dim0);
done:;
    /* the new files if the write failed, else the files they replace */
    const wchunk *w = out.v;
    for (size_t i = 0; i < out.n; i++) {
        if (rc < 0) {
            st_nd_remove_file(&a->x, &a->rec, w[i].c.tier_id, w[i].c.file);
        } else if (w[i].had_old) {
            st_nd_remove_file(&a->x, &a->rec, w[i].old_tier, w[i].old_file);
            if (w[i].old_staged_tier)
                st_nd_remove_file(&a->x, &a->rec, w[i].old_staged_tier, w[i].old_staged);
        }
    }
    st_vec_free(&old);
    st_vec_free(&out);
    if (rc == STRATA_OK) rc = refresh(a);
    st_cat_unlock(a->x.cat, lfd);
    return rc;
}

int strata_ndarray_write_strided(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                                 const uint64_t *stride, const void *buf)
{
    return write_impl(a, start, count, stride, buf, 0, NULL);
}

int strata_ndarray_write(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                         const void *buf)
{
    return write_impl(a, start, count, NULL, buf, 0, NULL);
}

int strata_ndarray_append_step(strata_ndarray *a, const void *buf, uint64_t *step)
{
    if (nd_check(a) < 0) return STRATA_EINVAL;
    int rc = refresh(a);
    if (rc < 0) return rc;
    if (!a->rec.unlimited)
        return st_error(st_pool_err(a->pool), STRATA_EINVAL,
                        "cannot append a step to '%s/%s': its first dimension is not unlimited",
                        a->rec.region, a->rec.name);
    uint64_t count[ST_ND_MAXDIMS];
    count[0] = 1;
    for (int d = 1; d < a->rec.ndims; d++) count[d] = a->rec.dims[d];
    return write_impl(a, NULL, count, NULL, buf, 1, step);
}

/* ---- NPY files in and out ------------------------------------------------------------------- */

int strata_ndarray_write_npy(strata_ndarray *a, const uint64_t *start, const char *path,
                             uint64_t *at)
{
    if (nd_check(a) < 0 || path == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(a->pool);
    int rc = refresh(a);
    if (rc < 0) return rc;
    st_chunkbuf cb;
    if ((rc = st_chunk_read(err, path, &cb)) < 0) {
        if (rc == STRATA_ECORRUPT) rc = STRATA_EINVAL; /* a bad input file, not a damaged pool */
        return rc;
    }
    const st_cat_nd *r = &a->rec;
    int n = r->ndims, have = cb.info.ndim;
    uint64_t count[ST_ND_MAXDIMS];
    if (cb.info.fortran_order && have > 1)
        rc = st_error(err, STRATA_EUNSUPPORTED,
                      "'%s' is in Fortran order; save it with numpy.ascontiguousarray first", path);
    else if (cb.info.dtype != (strata_dtype)r->dtype)
        rc = st_error(err, STRATA_ETYPE,
                      "'%s' holds %s, but '%s/%s' is %s (convert it with "
                      "numpy's astype first)",
                      path, strata_dtype_name(cb.info.dtype), r->region, r->name,
                      strata_dtype_name((strata_dtype)r->dtype));
    else if (have > n)
        rc = st_error(err, STRATA_EINVAL, "'%s' has %d dimensions, '%s/%s' only %d", path, have,
                      r->region, r->name, n);
    ST_TRY(rc);
    for (int d = 0; d < n; d++) {
        count[d] = d < n - have ? 1 : cb.info.shape[d - (n - have)];
        if (count[d] == 0) {
            rc = st_error(err, STRATA_EINVAL, "'%s' is empty (dimension %d is 0)", path,
                          d - (n - have));
            goto done;
        }
    }
    if (start == NULL && !r->unlimited) {
        rc = st_error(err, STRATA_EINVAL,
                      "cannot append '%s' to '%s/%s': its first dimension is not unlimited", path,
                      r->region, r->name);
        goto done;
    }
    ST_TRY(rc = write_impl(a, start, count, NULL, cb.data, start == NULL, at));
    if (at != NULL && start != NULL) *at = start[0];
done:
    st_chunk_release(&cb);
    return rc;
}

int strata_ndarray_read_npy(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                            const uint64_t *stride, const char *path)
{
    if (nd_check(a) < 0 || path == NULL || count == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(a->pool);
    int rc = refresh(a);
    if (rc < 0) return rc;
    double total = (double)a->esz;
    for (int d = 0; d < a->rec.ndims; d++) total *= (double)count[d];
    if (total > (double)SIZE_MAX / 2)
        return st_error(err, STRATA_ERANGE, "the rectangle is too large");
    char *buf = st_alloc_big((size_t)total);
    if (buf == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory reading %.0f bytes of '%s/%s'", total,
                        a->rec.region, a->rec.name);
    char dir[ST_PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    ST_TRY(rc = strata_ndarray_read_strided(a, start, count, stride, buf));
    if (slash == NULL)
        rc = st_path(err, dir, ".");
    else if (slash == path)
        rc = st_path(err, dir, "/");
    else
        rc = st_path(err, dir, "%.*s", (int)(slash - path), path);
    ST_TRY(rc);
    if (base[0] == '\0') {
        rc = st_error(err, STRATA_EINVAL, "'%s' names a directory, not a file", path);
        goto done;
    }
    ST_TRY(rc = st_chunk_write(err, dir, base, (strata_dtype)a->rec.dtype, a->rec.ndims, count, 0,
                               buf, (size_t)total, 0, NULL));
    rc = st_fsync_dir(err, dir);
done:
    st_free_big(buf);
    return rc;
}
