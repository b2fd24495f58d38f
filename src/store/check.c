/*
 * check.c -- the store's part of a check or gc (pool/walk.h): datasets and the trash.
 *
 * check: every published batch file exists, parses as NPY with the recorded dtype and length,
 * holds the recorded bytes and checksum. A dataset's directory on each tier holds only the files
 * its catalog rows name (those of replaced batches and superseded columns too, until gc sweeps
 * them) and its lock files; anything else is an orphan. gc also sweeps each dataset's garbage,
 * removes dropped datasets that no open snapshot reads (see snapshot.c) and expires old versions.
 * src/check runs the walk and asks this file, among others, for the store's files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/walk.h"
#include "store/store_int.h"
#include "util/chunkfile.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/vec.h"

/* ---- datasets ------------------------------------------------------------------------------- */

typedef struct {
    st_walk *r;
    const st_cat_dataset *d;
    const st_schema *schema;
    const char *dir;
    st_nameset *known;
    int rc;
} ds_ctx;

static void check_file(ds_ctx *c, const st_cat_batch *b, int col, const st_cat_bcol *bc)
{
    char what[3 * STRATA_NAME_MAX + 64], path[ST_PATH_MAX], bpath[ST_PATH_MAX],
        problem[ST_PATH_MAX + ST_ERRMSG_MAX];
    snprintf(what, sizeof what, "%s/%s batch %lld column '%s'", c->d->region, c->d->name,
             (long long)b->seq, c->schema->cat[col].name);
    strata_dtype dt = (strata_dtype)c->schema->cat[col].dtype;
    strata_pool *pool = c->r->pool;
    if (st_bcol_path(pool, c->d, c->dir, bc->tier_id, bc->file, path) < 0) return;
    st_npy_map m = {0}, mb = {0};
    st_err e;
    st_err_init(&e);
    problem[0] = '\0';
    uint64_t count = dt == STRATA_STR ? (uint64_t)b->nrows + 1 : (uint64_t)b->nrows;
    strata_dtype stored = dt == STRATA_STR ? STRATA_I64 : dt;
    if (st_npy_map_any(&e, path, &m) != STRATA_OK) {
        snprintf(problem, sizeof problem, "%s",
                 e.code == STRATA_ENOTFOUND ? "file is missing" : e.msg);
    } else if (m.info.dtype != stored || m.info.count != count) {
        snprintf(problem, sizeof problem,
                 "holds %llu elements of '%s'; the catalog says %llu of '%s'",
                 (unsigned long long)m.info.count, m.info.descr, (unsigned long long)count,
                 st_dtype_descr(stored));
    } else {
        XXH64_state_t *h = XXH64_createState();
        XXH64_reset(h, 0);
        uint64_t len = count * strata_dtype_size(stored);
        XXH64_update(h, m.data, len);
        uint64_t bytes = len;
        /* then the string bytes and the validity bitmap, in the checksum's order */
        for (int f = 1; f < ST_BCOL_FILES && problem[0] == '\0'; f++) {
            const char *file = st_cat_bcol_file(bc, f);
            if (file[0] == '\0') continue;
            if (st_bcol_path(pool, c->d, c->dir, bc->tier_id, file, bpath) == 0 &&
                st_npy_map_any(&e, bpath, &mb) == STRATA_OK && mb.info.dtype == STRATA_U8) {
                XXH64_update(h, mb.data, mb.info.count);
                bytes += mb.info.count;
                if (f == 2 && mb.info.count != ((uint64_t)b->nrows + 7) / 8)
                    snprintf(problem, sizeof problem,
                             "its validity bitmap '%s' holds %llu bytes for %lld rows", bpath,
                             (unsigned long long)mb.info.count, (long long)b->nrows);
            } else {
                snprintf(problem, sizeof problem, "its %s file '%s' is missing or damaged",
                         f == 1 ? "bytes" : "validity", bpath);
            }
            st_npy_unmap(&mb);
        }
        uint64_t sum = XXH64_digest(h);
        XXH64_freeState(h);
        if (problem[0] == '\0' && bytes != bc->bytes)
            snprintf(problem, sizeof problem, "holds %llu bytes; the catalog says %llu",
                     (unsigned long long)bytes, (unsigned long long)bc->bytes);
        else if (problem[0] == '\0' && sum != bc->checksum)
            snprintf(problem, sizeof problem,
                     "checksum %016llx does not match the recorded %016llx",
                     (unsigned long long)sum, (unsigned long long)bc->checksum);
    }
    st_npy_unmap(&m);
    st_npy_unmap(&mb);
    st_err_destroy(&e);
    if (problem[0] != '\0') st_walk_report(c->r, what, path, problem, 0);
}

static int check_batch(void *vctx, const st_cat_batch *b, const st_cat_bcol *cols)
{
    ds_ctx *c = vctx;
    for (int i = 0; i < c->schema->ncols && !c->r->stop; i++) {
        if (cols[i].file[0] == '\0') continue; /* a derived column not yet computed */
        if (!c->r->gc) check_file(c, b, i, &cols[i]);
    }
    return c->r->stop;
}

typedef st_sweep_file ds_file;

static int add_ds_file(void *vctx, int64_t tier_id, const char *file)
{
    ds_file *f = st_vec_push(vctx);
    if (f == NULL) return STRATA_ENOMEM;
    f->tier_id = tier_id;
    snprintf(f->file, sizeof f->file, "%s", file);
    return 0;
}

int st_sweep_begin(strata_pool *pool, const st_cat_dataset *d, const char *dir, st_sweep *s)
{
    s->files = (st_vec)ST_VEC(ds_file);
    /* An exclusive hold on .readers: no snapshot reads the dataset now, and none can open until
     * the garbage is gone (they wait for the lock). Busy: try again at the next gc. */
    char path[ST_PATH_MAX];
    s->hold = -1;
    int rc = st_path(st_pool_err(pool), path, "%s/%s", dir, ST_READERS_LOCK);
    if (rc < 0) return rc;
    char obj[32];
    snprintf(obj, sizeof obj, "dataset %lld", (long long)d->id);
    st_cat_lockref at = {path, obj, 0, 0};
    s->hold = st_cat_lock(NULL, st_pool_cat(pool), &at, 1, 1, 0, path);
    if (s->hold < 0) return STRATA_OK; /* read, or being dropped */
    rc = st_cat_garbage(st_pool_err(pool), st_pool_cat(pool), d->id, add_ds_file, &s->files);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing garbage");
    /* The rows first: a crash then leaves orphans (removed later), never rows without files. */
    if (rc == STRATA_OK && s->files.n > 0)
        rc = st_cat_garbage_drop(st_pool_err(pool), st_pool_cat(pool), d->id);
    if (rc < 0) s->files.n = 0;
    return rc;
}

void st_sweep_files(strata_pool *pool, const st_cat_dataset *d, const char *dir,
                    const st_vec *files, size_t first, size_t step, uint64_t *nfiles,
                    uint64_t *bytes)
{
    const ds_file *g = files->v;
    char path[ST_PATH_MAX];
    struct stat st;
    for (size_t i = first; i < files->n; i += step)
        if (st_bcol_path(pool, d, dir, g[i].tier_id, g[i].file, path) == 0 &&
            lstat(path, &st) == 0 && unlink(path) == 0) {
            ++*nfiles;
            *bytes += (uint64_t)st.st_size;
        }
}

void st_sweep_end(strata_pool *pool, st_sweep *s)
{
    st_vec_free(&s->files);
    if (s->hold >= 0) st_cat_unlock(st_pool_cat(pool), s->hold);
    s->hold = -1;
}

int st_dataset_sweep(strata_pool *pool, const st_cat_dataset *d, const char *dir, uint64_t *files,
                     uint64_t *bytes)
{
    *files = *bytes = 0;
    st_sweep s;
    int rc = st_sweep_begin(pool, d, dir, &s);
    st_sweep_files(pool, d, dir, &s.files, 0, 1, files, bytes);
    st_sweep_end(pool, &s);
    return rc;
}

/* Scan the directory of D on tier TIER for orphans: files that FILES[FROM..] on that tier do not
 * name. */
static int scan_tier(st_walk *r, const st_cat_dataset *d, int64_t tier, const st_vec *files,
                     size_t from)
{
    const ds_file *f = files->v;
    st_nameset tk = ST_NAMESET;
    char tdir[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = st_dataset_tier_dir(r->pool, d, tier, 0, tdir));
    for (size_t j = from; j < files->n; j++)
        if (f[j].tier_id == tier) ST_TRY(rc = st_nameset_add(&tk, f[j].file));
    st_nameset_sort(&tk);
    rc = st_walk_scan_dir(r, tdir, &tk, 1);
done:
    st_nameset_free(&tk);
    return rc;
}

static int visit_dataset(st_walk *r, const st_cat_dataset *rec, st_nameset *region_known)
{
    strata_pool *pool = r->pool;
    st_cat_dataset d;
    st_schema schema;
    int rc = st_schema_load(pool, rec->region, rec->name, &d, &schema);
    if (rc < 0) return rc;
    char dir[ST_PATH_MAX], lockpath[ST_PATH_MAX];
    st_nameset known = ST_NAMESET;
    st_vec files = ST_VEC(ds_file);
    const ds_file *f;
    int hold = -1;
    ds_ctx c = {r, &d, &schema, dir, &known, STRATA_OK};
    ST_TRY(rc = st_dataset_dir(pool, &d, dir));
    ST_TRY(rc = st_nameset_add(region_known, d.dir));
    ST_TRY(rc = st_nameset_add(&known, ST_WRITER_LOCK));
    ST_TRY(rc = st_nameset_add(&known, ST_READERS_LOCK));
    if (d.version > 0)
        rc = st_cat_batches(st_pool_err(pool), st_pool_cat(pool), d.id, d.version, schema.ncols,
                            check_batch, &c);
    if (rc == STRATA_OK) rc = c.rc;
    if (rc != STRATA_OK) goto done; /* > 0: the walk was stopped */
    if (access(dir, F_OK) != 0) {
        st_walk_report(r, "dataset", dir, "directory is missing", 0);
        goto done;
    }
    /* Orphans: with the writers held off, every file the catalog names (those of replaced
     * batches and superseded columns too, until gc), with its tier. */
    char obj[32];
    snprintf(obj, sizeof obj, "dataset %lld", (long long)d.id);
    if (st_path(NULL, lockpath, "%s/%s", dir, ST_WRITER_LOCK) < 0 ||
        !st_walk_hold(r, lockpath, obj, &hold))
        goto done;
    rc = st_cat_dataset_files(st_pool_err(pool), st_pool_cat(pool), d.id, add_ds_file, &files);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing files");
    ST_TRY(rc);
    f = files.v;
    for (size_t i = 0; i < files.n; i++)
        if (f[i].tier_id == ST_TIER_DEFAULT_ID) ST_TRY(rc = st_nameset_add(&known, f[i].file));
    if (r->gc && !r->dry_run) {
        uint64_t nfiles = 0, bytes = 0;
        rc = st_dataset_sweep(pool, &d, dir, &nfiles, &bytes);
        if (r->stats != NULL) {
            r->stats->replaced_removed += nfiles;
            r->stats->bytes_freed += bytes;
        }
        ST_TRY(rc);
    }
    st_nameset_sort(&known);
    ST_TRY(rc = st_walk_scan_dir(r, dir, &known, 1));
    /* its directory on every other tier holding files of it */
    for (size_t i = 0; i < files.n && !r->stop; i++) {
        int64_t t = f[i].tier_id;
        int seen = t == ST_TIER_DEFAULT_ID;
        for (size_t j = 0; j < i && !seen; j++) seen = f[j].tier_id == t;
        if (!seen) ST_TRY(rc = scan_tier(r, &d, t, &files, i));
    }
done:
    st_cat_unlock(st_pool_cat(pool), hold);
    st_nameset_free(&known);
    st_vec_free(&files);
    st_schema_free(&schema);
    return rc;
}

typedef struct {
    st_walk *r;
    const char *only_name;
    st_nameset *known; /* region directory entries */
    int rc;
} ds_walk_ctx;

static int visit_ds_rec(void *vctx, const st_cat_dataset *d)
{
    ds_walk_ctx *c = vctx;
    if (c->only_name != NULL && strcmp(d->name, c->only_name) != 0) return 0;
    c->rc = visit_dataset(c->r, d, c->known);
    return c->rc < 0 || c->r->stop;
}

int st_store_walk(st_walk *w, const st_cat_region *reg, const char *only_name,
                  st_nameset *region_known)
{
    ds_walk_ctx c = {w, only_name, region_known, STRATA_OK};
    int rc =
        st_cat_dataset_list(st_pool_err(w->pool), st_pool_cat(w->pool), reg->id, visit_ds_rec, &c);
    return rc < 0 ? rc : c.rc;
}

static int known_ds_dir(void *vctx, const st_cat_dataset *d)
{
    return st_nameset_add(vctx, d->dir) < 0 ? STRATA_ENOMEM : 0;
}

int st_store_dirs(strata_pool *pool, int64_t region_id, st_nameset *known)
{
    return st_cat_dataset_list(st_pool_err(pool), st_pool_cat(pool), region_id, known_ds_dir,
                               known);
}

/* Trashed dataset directories are known (gc removes them on its own terms). */
static int trash_known(void *vctx, int64_t id, const char *path, int64_t ds, int64_t created)
{
    (void)id;
    (void)ds;
    (void)created;
    st_nameset *s = vctx;
    return st_nameset_add(s, path) < 0 ? STRATA_ENOMEM : 0;
}

int st_store_trash_names(strata_pool *pool, st_nameset *trash)
{
    int rc = st_cat_trash_list(st_pool_err(pool), st_pool_cat(pool), trash_known, trash);
    st_nameset_sort(trash);
    return rc;
}

/* ---- gc ------------------------------------------------------------------------------------- */

typedef struct {
    strata_pool *pool;
    int dry_run;
    strata_gc_stats *stats;
    int rc;
} trash_ctx;

/* Is anyone reading dataset DS, whose directory is DIR (its readers' lock held)? */
static int held_by_readers(strata_pool *pool, int64_t ds, const char *dir)
{
    char path[ST_PATH_MAX], obj[32];
    if (st_path(NULL, path, "%s/%s", dir, ST_READERS_LOCK) < 0) return 0;
    snprintf(obj, sizeof obj, "dataset %lld", (long long)ds);
    st_cat_lockref at = {path, obj, 0, 0};
    return st_cat_lock_probe(st_pool_cat(pool), &at) == STRATA_ELOCKED;
}

static int names_dir(void *dir, const st_cat_region *r)
{
    return strcmp(r->dir, dir) == 0;
}

/* The region directory that held trashed dataset PATH ("data/RDIR/DDIR"), removed when empty and
 * named by no region any more (its region was deleted while the dataset waited for gc). */
static void drop_region_dir(strata_pool *pool, const char *path)
{
    const char *a = strchr(path, '/'), *b = a != NULL ? strchr(a + 1, '/') : NULL;
    char rdir[ST_CAT_FILE], abs[ST_PATH_MAX];
    if (b == NULL || (size_t)(b - a - 1) >= sizeof rdir) return;
    memcpy(rdir, a + 1, (size_t)(b - a - 1));
    rdir[b - a - 1] = '\0';
    if (st_cat_region_list(st_pool_err(pool), st_pool_cat(pool), names_dir, rdir) != 0) return;
    if (st_path(NULL, abs, "%s/data/%s", st_pool_path(pool), rdir) == STRATA_OK) rmdir(abs);
}

static int sweep_trash(void *vctx, int64_t id, const char *path, int64_t ds, int64_t created)
{
    (void)created;
    trash_ctx *c = vctx;
    char abs[ST_PATH_MAX];
    if (st_path(st_pool_err(c->pool), abs, "%s/%s", st_pool_path(c->pool), path) < 0)
        return c->rc = STRATA_ENAME;
    if (held_by_readers(c->pool, ds, abs)) {
        c->stats->datasets_held++;
        return 0;
    }
    uint64_t bytes = st_tree_bytes(abs);
    if (!c->dry_run) {
        int rc;
        if ((rc = st_rm_tree(st_pool_err(c->pool), abs)) < 0 ||
            (rc = st_cat_trash_delete(st_pool_err(c->pool), st_pool_cat(c->pool), id)) < 0)
            return c->rc = rc;
        drop_region_dir(c->pool, path);
    }
    c->stats->datasets_removed++;
    c->stats->bytes_freed += bytes;
    return 0;
}

typedef struct {
    strata_pool *pool;
    int64_t keep;
    int dry_run;
    strata_gc_stats *stats;
    int rc;
} expire_ctx;

static int count_expirable(void *vctx, const st_cat_dsversion *v)
{
    int64_t *n = vctx;
    if (!v->expired) (*n)++;
    return 0;
}

static int expire_ds(void *vctx, const st_cat_dataset *d)
{
    expire_ctx *c = vctx;
    int64_t keep_from = d->version - c->keep + 1;
    if (keep_from <= 1) return 0;
    int64_t n = 0;
    /* count what is not yet expired below keep_from: versions are 1..version */
    if ((c->rc = st_cat_versions(st_pool_err(c->pool), st_pool_cat(c->pool), d->id, count_expirable,
                                 &n)) < 0)
        return 1;
    int64_t newly = n - c->keep > 0 ? n - c->keep : 0;
    if (!c->dry_run && newly > 0 &&
        (c->rc = st_cat_versions_expire(st_pool_err(c->pool), st_pool_cat(c->pool), d->id,
                                        keep_from)) < 0)
        return 1;
    c->stats->versions_expired += (uint64_t)newly;
    return 0;
}

static int expire_region(void *vctx, const st_cat_region *r)
{
    expire_ctx *c = vctx;
    int rc = st_cat_dataset_list(st_pool_err(c->pool), st_pool_cat(c->pool), r->id, expire_ds, c);
    if (c->rc < 0) return 1;
    return rc;
}

int st_store_gc_trash(strata_pool *pool, int dry_run, strata_gc_stats *stats)
{
    trash_ctx tc = {pool, dry_run, stats, STRATA_OK};
    int rc = st_cat_trash_list(st_pool_err(pool), st_pool_cat(pool), sweep_trash, &tc);
    return rc < 0 ? rc : tc.rc;
}

int st_store_expire(strata_pool *pool, int64_t keep_versions, int dry_run, strata_gc_stats *stats)
{
    st_err *err = st_pool_err(pool);
    expire_ctx ec = {pool, keep_versions, dry_run, stats, STRATA_OK};
    int rc = st_cat_begin(err, st_pool_cat(pool));
    if (rc < 0) return rc;
    rc = st_cat_region_list(err, st_pool_cat(pool), expire_region, &ec);
    if (rc == STRATA_OK || rc == 1) rc = ec.rc; /* 1: expire_region stopped at ec.rc */
    ST_TRY(rc);
    rc = st_cat_commit(err, st_pool_cat(pool));
done:
    if (rc < 0) st_cat_rollback(st_pool_cat(pool)); /* a no-op after a failed commit */
    return rc;
}
