/*
 * check.c -- verify a pool against its catalog, and collect its garbage.
 *
 * check: every published batch file exists, parses as NPY with the recorded dtype and length,
 * holds the recorded bytes and checksum; every array file exists and matches its record; every
 * backup matches its checksum. Files and directories that no catalog row names are orphans:
 * reported by check, removed by gc once older than the grace period (a writer may be about to
 * publish them). gc also removes dropped datasets that no open snapshot reads (see snapshot.c),
 * and expires old versions.
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

#include "store/store_int.h"
#include "util/chunkfile.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/vec.h"

/* A sorted set of names, for "is this file known?": a vector of strdup'ed strings. */
typedef st_vec nameset;
#define NAMESET ST_VEC(char *)

static int nameset_add(nameset *s, const char *name)
{
    char **slot = st_vec_push(s);
    if (slot == NULL) return STRATA_ENOMEM;
    if ((*slot = strdup(name)) == NULL) {
        s->n--;
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void nameset_sort(nameset *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof(char *), cmp_str);
}

static int nameset_has(const nameset *s, const char *name)
{
    return s->n > 0 && bsearch(&name, s->v, s->n, sizeof(char *), cmp_str) != NULL;
}

static void nameset_free(nameset *s)
{
    for (size_t i = 0; i < s->n; i++) free(((char **)s->v)[i]);
    st_vec_free(s);
}

/* What a check or gc run reports to. */
typedef struct {
    strata_pool *pool;
    strata_problem_fn fn;
    void *ctx;
    uint64_t damaged;
    int stop;
    /* gc: remove orphans older than this (ns since the epoch); 0: do not remove */
    int gc;
    int64_t orphan_before_ns;
    /* gc holds the pool's gc lock: no creator is between its first file and its catalog row,
     * so orphans outside objects' directories may be removed too */
    int outer_held;
    int dry_run;
    strata_gc_stats *stats;
} run;

static void report(run *r, const char *what, const char *path, const char *problem, int orphan)
{
    if (!orphan) r->damaged++;
    if (r->fn != NULL && !r->stop && r->fn(r->ctx, what, path, problem, orphan) != 0) r->stop = 1;
}

/* An entry no catalog row names: report it, and in gc remove it when old enough and when
 * MAY_REMOVE (nobody who could still name it is at work). */
static void orphan(run *r, const char *path, int is_dir, int may_remove)
{
    report(r, "orphan", path,
           is_dir ? "directory not named by the catalog" : "file not named by the catalog", 1);
    if (!r->gc || !may_remove) return;
    struct stat st;
    if (lstat(path, &st) != 0) return;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime >= r->orphan_before_ns) return;
    uint64_t bytes = is_dir ? st_tree_bytes(path) : (uint64_t)st.st_size;
    if (!r->dry_run && (is_dir ? st_rm_tree(NULL, path) : st_unlink(NULL, path)) != STRATA_OK)
        return;
    r->stats->orphans_removed++;
    r->stats->bytes_freed += bytes;
}

/* Every entry of DIR not in KNOWN (and not "." or ".."): an orphan. INSIDE: DIR is an object's
 * directory, whose writers the caller holds off (else it is a directory of objects, guarded by
 * the pool's gc lock). */
static int scan_dir(run *r, const char *dir, const nameset *known, int inside)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) return STRATA_OK;
        return st_error_errno(st_pool_err(r->pool), errno, "cannot read directory '%s'", dir);
    }
    struct dirent *de;
    char path[ST_PATH_MAX];
    while ((de = readdir(d)) != NULL && !r->stop) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (nameset_has(known, de->d_name)) continue;
        if (st_path(NULL, path, "%s/%s", dir, de->d_name) < 0) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        orphan(r, path, S_ISDIR(st.st_mode), inside || r->outer_held);
    }
    closedir(d);
    return STRATA_OK;
}

/* ---- datasets ------------------------------------------------------------------------------- */

typedef struct {
    run *r;
    const st_cat_dataset *d;
    const st_schema *schema;
    const char *dir;
    nameset *known;
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
        if (dt == STRATA_STR) {
            if (st_bcol_path(pool, c->d, c->dir, bc->tier_id, bc->bytes_file, bpath) == 0 &&
                st_npy_map_any(&e, bpath, &mb) == STRATA_OK) {
                XXH64_update(h, mb.data, mb.info.count);
                bytes += mb.info.count;
            } else {
                snprintf(problem, sizeof problem, "its bytes file '%s' is missing or damaged",
                         bpath);
            }
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
    if (problem[0] != '\0') report(c->r, what, path, problem, 0);
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

/* A file the catalog names, with its tier. */
typedef struct {
    int64_t tier_id;
    char file[ST_CAT_FILE];
} ds_file;

static int add_ds_file(void *vctx, int64_t tier_id, const char *file)
{
    ds_file *f = st_vec_push(vctx);
    if (f == NULL) return STRATA_ENOMEM;
    f->tier_id = tier_id;
    snprintf(f->file, sizeof f->file, "%s", file);
    return 0;
}

struct sweep_ctx {
    strata_pool *pool;
    const st_cat_dataset *d;
    const char *dir;
    uint64_t files, bytes;
};

static int sweep_file(struct sweep_ctx *c, int64_t tier_id, const char *file)
{
    char path[ST_PATH_MAX];
    struct stat st;
    if (st_bcol_path(c->pool, c->d, c->dir, tier_id, file, path) < 0) return 0;
    if (lstat(path, &st) == 0 && unlink(path) == 0) {
        c->files++;
        c->bytes += (uint64_t)st.st_size;
    }
    return 0;
}

int st_dataset_sweep(strata_pool *pool, const st_cat_dataset *d, const char *dir, uint64_t *files,
                     uint64_t *bytes)
{
    *files = *bytes = 0;
    /* An exclusive hold on .readers: no snapshot reads the dataset now, and none can open until
     * the garbage is gone (they wait for the lock). Busy: try again at the next gc. */
    char path[ST_PATH_MAX];
    int rc = st_path(st_pool_err(pool), path, "%s/%s", dir, ST_READERS_LOCK);
    if (rc < 0) return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return STRATA_OK; /* the dataset is being dropped */
    if (st_lock_fd(NULL, fd, 1, 0, 0, 0, path) != STRATA_OK) {
        close(fd);
        return STRATA_OK;
    }
    st_vec garbage = ST_VEC(ds_file);
    rc = st_cat_garbage(st_pool_err(pool), st_pool_cat(pool), d->id, add_ds_file, &garbage);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing garbage");
    /* The rows first: a crash then leaves orphans (removed later), never rows without files. */
    if (rc == STRATA_OK && garbage.n > 0)
        rc = st_cat_garbage_drop(st_pool_err(pool), st_pool_cat(pool), d->id);
    struct sweep_ctx c = {pool, d, dir, 0, 0};
    const ds_file *g = garbage.v;
    for (size_t i = 0; rc == STRATA_OK && i < garbage.n; i++)
        sweep_file(&c, g[i].tier_id, g[i].file);
    st_vec_free(&garbage);
    close(fd);
    *files = c.files;
    *bytes = c.bytes;
    return rc;
}

/* Hold off the writers of the object (a dataset or an N-d array) whose directory on the default
 * tier is DIR while its orphans are looked for. gc takes both writer bytes of DIR/.writer
 * exclusively, without waiting (*fd, closed by the caller); check and a dry run only probe them.
 * 1: the object is quiet (no writer, no file in flight; a writer starting now waits for *fd);
 * 0: busy, its orphans are left for the next run. */
static int hold_object(run *r, const char *dir, int *fd)
{
    *fd = -1;
    char path[ST_PATH_MAX];
    if (st_path(NULL, path, "%s/%s", dir, ST_WRITER_LOCK) < 0) return 0;
    int quiet;
    if (!r->gc || r->dry_run) {
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f < 0) return 1; /* never written */
        quiet = st_lock_probe(NULL, f, ST_LOCK_WRITER, 2, path) == STRATA_OK;
        close(f);
    } else {
        *fd = st_lock_path(NULL, path, 1, 1, ST_LOCK_WRITER, 2, 0, path);
        quiet = *fd >= 0 || *fd == STRATA_ENOTFOUND; /* no directory: nothing to remove */
        if (*fd < 0) *fd = -1;
    }
    if (!quiet && r->stats != NULL) r->stats->busy_skipped++;
    return quiet;
}

static int visit_dataset(run *r, const st_cat_dataset *rec, nameset *region_known)
{
    strata_pool *pool = r->pool;
    st_cat_dataset d;
    st_schema schema;
    int rc = st_schema_load(pool, rec->region, rec->name, &d, &schema);
    if (rc < 0) return rc;
    char dir[ST_PATH_MAX];
    nameset known = NAMESET;
    if ((rc = st_dataset_dir(pool, &d, dir)) == STRATA_OK) rc = nameset_add(region_known, d.dir);
    if (rc == STRATA_OK) rc = nameset_add(&known, ST_WRITER_LOCK);
    if (rc == STRATA_OK) rc = nameset_add(&known, ST_READERS_LOCK);
    ds_ctx c = {r, &d, &schema, dir, &known, STRATA_OK};
    if (rc == STRATA_OK && d.version > 0)
        rc = st_cat_batches(st_pool_err(pool), st_pool_cat(pool), d.id, d.version, schema.ncols,
                            check_batch, &c);
    if (rc == STRATA_OK) rc = c.rc;
    if (rc == STRATA_OK && access(dir, F_OK) != 0) {
        report(r, "dataset", dir, "directory is missing", 0);
        nameset_free(&known);
        st_schema_free(&schema);
        return rc;
    }
    /* Orphans: with the writers held off, every file the catalog names (those of replaced
     * batches and superseded columns too, until gc), with its tier. */
    int hold = -1;
    if (rc == STRATA_OK && !hold_object(r, dir, &hold)) {
        nameset_free(&known);
        st_schema_free(&schema);
        return rc;
    }
    st_vec files = ST_VEC(ds_file);
    if (rc == STRATA_OK)
        rc = st_cat_dataset_files(st_pool_err(pool), st_pool_cat(pool), d.id, add_ds_file, &files);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing files");
    const ds_file *f = files.v;
    for (size_t i = 0; rc == STRATA_OK && i < files.n; i++)
        if (f[i].tier_id == ST_TIER_DEFAULT_ID) rc = nameset_add(&known, f[i].file);
    if (rc == STRATA_OK && r->gc && !r->dry_run) {
        uint64_t nfiles = 0, bytes = 0;
        rc = st_dataset_sweep(pool, &d, dir, &nfiles, &bytes);
        if (r->stats != NULL) {
            r->stats->replaced_removed += nfiles;
            r->stats->bytes_freed += bytes;
        }
    }
    if (rc == STRATA_OK) {
        nameset_sort(&known);
        rc = scan_dir(r, dir, &known, 1);
    }
    nameset_free(&known);
    /* its directory on every other tier holding files of it */
    for (size_t i = 0; rc >= 0 && i < files.n && !r->stop; i++) {
        int64_t t = f[i].tier_id;
        int seen = t == ST_TIER_DEFAULT_ID;
        for (size_t j = 0; j < i && !seen; j++) seen = f[j].tier_id == t;
        if (seen) continue;
        nameset tk = NAMESET;
        char tdir[ST_PATH_MAX];
        rc = st_dataset_tier_dir(pool, &d, t, 0, tdir);
        for (size_t j = i; rc == STRATA_OK && j < files.n; j++)
            if (f[j].tier_id == t) rc = nameset_add(&tk, f[j].file);
        if (rc == STRATA_OK) {
            nameset_sort(&tk);
            rc = scan_dir(r, tdir, &tk, 1);
        }
        nameset_free(&tk);
    }
    if (hold >= 0) close(hold);
    st_vec_free(&files);
    st_schema_free(&schema);
    return rc;
}

/* ---- N-d arrays and tiers ------------------------------------------------------------------- */

typedef struct {
    int64_t tier_id;
    char file[ST_CAT_FILE];
    int staged;
} nd_file;

static int collect_region_rec(void *vctx, const st_cat_region *reg)
{
    st_cat_region *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *reg;
    return 0;
}

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
static int nd_dir(run *r, const st_cat_nd *nd, int64_t tier_id, char out[ST_PATH_MAX])
{
    st_cat_tier t;
    char root[ST_PATH_MAX];
    int rc = st_cat_tier_get_id(st_pool_err(r->pool), st_pool_cat(r->pool), tier_id, &t);
    if (rc == STRATA_OK) rc = st_tier_root(st_pool_err(r->pool), st_pool_path(r->pool), &t, root);
    if (rc == STRATA_OK)
        rc = st_path(st_pool_err(r->pool), out, "%s/%s/%s", root, nd->region_dir, nd->dir);
    return rc;
}

typedef struct {
    run *r;
    const st_cat_nd *nd;
    int rc;
} chunk_ctx;

/* One chunk: its file exists, decodes, holds the array's dtype and the recorded checksum. */
static int check_chunk(void *vctx, const st_cat_chunk *c)
{
    chunk_ctx *k = vctx;
    run *r = k->r;
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
    if (problem[0]) report(r, what, path, problem, 0);
    if (c->staged_tier) {
        if (nd_dir(r, k->nd, c->staged_tier, dir) == STRATA_OK &&
            st_path(NULL, path, "%s/%s", dir, c->staged_file) == STRATA_OK &&
            access(path, F_OK) != 0)
            report(r, what, path, "staged copy is missing", 0);
    }
    return r->stop;
}

/* N-d array ND: verify its chunks (not in gc) and scan its directory on every tier holding a
 * file of it (and the default tier) for orphans. */
static int visit_nd(run *r, const st_cat_nd *nd)
{
    strata_pool *pool = r->pool;
    st_vec files = ST_VEC(nd_file);
    int rc = STRATA_OK;
    if (!r->gc) {
        chunk_ctx k = {r, nd, STRATA_OK};
        rc = st_cat_nd_chunks(st_pool_err(pool), st_pool_cat(pool), nd->id, 0, INT64_MAX,
                              check_chunk, &k);
        if (rc >= 0) rc = k.rc;
    }
    /* orphans, with the writers and stagers held off */
    char ddir[ST_PATH_MAX];
    int hold = -1;
    if (rc == STRATA_OK) rc = nd_dir(r, nd, ST_TIER_DEFAULT_ID, ddir);
    if (rc < 0 || !hold_object(r, ddir, &hold)) return rc < 0 ? rc : STRATA_OK;
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
    for (int t = 0; rc >= 0 && t < nt && !r->stop; t++) {
        nameset known = NAMESET;
        char dir[ST_PATH_MAX];
        rc = nd_dir(r, nd, tiers[t], dir);
        if (rc == STRATA_OK && tiers[t] == ST_TIER_DEFAULT_ID) rc = nameset_add(&known, ".writer");
        for (size_t i = 0; rc == STRATA_OK && i < files.n; i++)
            if (f[i].tier_id == tiers[t]) rc = nameset_add(&known, f[i].file);
        if (rc == STRATA_OK) {
            nameset_sort(&known);
            rc = scan_dir(r, dir, &known, 1);
        }
        nameset_free(&known);
    }
    if (hold >= 0) close(hold);
    st_vec_free(&files);
    return rc < 0 ? rc : STRATA_OK;
}

/* The N-d arrays of region REG (ONLY_NAME: just that one): their directories are known entries
 * of the region directory. */
static int visit_ndarrays(run *r, const st_cat_region *reg, const char *only_name,
                          nameset *region_known)
{
    st_vec v = ST_VEC(st_cat_nd);
    int rc = st_cat_nd_list(st_pool_err(r->pool), st_pool_cat(r->pool), reg->id, collect_nd, &v);
    const st_cat_nd *nd = v.v;
    for (size_t i = 0; rc == STRATA_OK && i < v.n && !r->stop; i++) {
        if (only_name != NULL && strcmp(nd[i].name, only_name) != 0) continue;
        rc = nameset_add(region_known, nd[i].dir);
        if (rc == STRATA_OK) rc = visit_nd(r, &nd[i]);
    }
    st_vec_free(&v);
    return rc;
}

typedef struct {
    run *r;
    nameset *regions; /* region directories */
    int rc;
} tier_scan;

static int collect_region_dir(void *vctx, const st_cat_region *reg)
{
    return nameset_add(vctx, reg->dir) < 0 ? STRATA_ENOMEM : 0;
}

static int known_nd_dir(void *vctx, const st_cat_nd *nd)
{
    return nameset_add(vctx, nd->dir) < 0 ? STRATA_ENOMEM : 0;
}

static int known_ds_dir(void *vctx, const st_cat_dataset *d)
{
    return nameset_add(vctx, d->dir) < 0 ? STRATA_ENOMEM : 0;
}

/* Every tier but the default: entries of its root that are no region's directory, and entries
 * of a region directory there that are no N-d array's or dataset's, are orphans. */
static int scan_tier(void *vctx, const st_cat_tier *t)
{
    tier_scan *s = vctx;
    run *r = s->r;
    if (t->id == ST_TIER_DEFAULT_ID) return 0;
    strata_pool *pool = r->pool;
    char root[ST_PATH_MAX];
    if ((s->rc = st_tier_root(st_pool_err(pool), st_pool_path(pool), t, root)) < 0) return 1;
    if ((s->rc = scan_dir(r, root, s->regions, 0)) < 0) return 1;
    for (size_t i = 0; i < s->regions->n && !r->stop; i++) {
        const char *rdir = ((char **)s->regions->v)[i];
        st_cat_region reg;
        char dir[ST_PATH_MAX];
        if (st_path(NULL, dir, "%s/%s", root, rdir) < 0 || access(dir, F_OK) != 0) continue;
        /* the region of this directory */
        nameset known = NAMESET;
        st_vec regs = ST_VEC(st_cat_region);
        s->rc = st_cat_region_list(st_pool_err(pool), st_pool_cat(pool), collect_region_rec, &regs);
        for (size_t j = 0; s->rc == STRATA_OK && j < regs.n; j++) {
            reg = ((st_cat_region *)regs.v)[j];
            if (strcmp(reg.dir, rdir) == 0) {
                s->rc = st_cat_nd_list(st_pool_err(pool), st_pool_cat(pool), reg.id, known_nd_dir,
                                       &known);
                if (s->rc == STRATA_OK)
                    s->rc = st_cat_dataset_list(st_pool_err(pool), st_pool_cat(pool), reg.id,
                                                known_ds_dir, &known);
            }
        }
        st_vec_free(&regs);
        if (s->rc == STRATA_OK) {
            nameset_sort(&known);
            s->rc = scan_dir(r, dir, &known, 0);
        }
        nameset_free(&known);
        if (s->rc < 0) return 1;
    }
    return r->stop;
}

static int collect_tier_rec(void *vctx, const st_cat_tier *t)
{
    st_cat_tier *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *t;
    return 0;
}

static int scan_tiers(run *r)
{
    strata_pool *pool = r->pool;
    nameset regions = NAMESET;
    st_vec tiers = ST_VEC(st_cat_tier);
    int rc = st_cat_region_list(st_pool_err(pool), st_pool_cat(pool), collect_region_dir, &regions);
    if (rc == STRATA_OK)
        rc = st_cat_tier_list(st_pool_err(pool), st_pool_cat(pool), collect_tier_rec, &tiers);
    nameset_sort(&regions);
    tier_scan s = {r, &regions, STRATA_OK};
    for (size_t i = 0; rc == STRATA_OK && i < tiers.n && !r->stop; i++) {
        scan_tier(&s, &((st_cat_tier *)tiers.v)[i]);
        rc = s.rc;
    }
    st_vec_free(&tiers);
    nameset_free(&regions);
    return rc;
}

/* ---- arrays and regions --------------------------------------------------------------------- */

typedef struct {
    run *r;
    nameset *known;
    int rc;
} arr_ctx;

static int visit_array(void *vctx, const strata_array_info *info)
{
    arr_ctx *c = vctx;
    const char *base = strrchr(info->path, '/');
    if (nameset_add(c->known, base ? base + 1 : info->path) < 0) return c->rc = STRATA_ENOMEM;
    if (info->bytes_path) {
        base = strrchr(info->bytes_path, '/');
        if (nameset_add(c->known, base ? base + 1 : info->bytes_path) < 0)
            return c->rc = STRATA_ENOMEM;
    }
    if (c->r->gc) return 0;
    char what[2 * STRATA_NAME_MAX + 16], problem[ST_PATH_MAX + ST_ERRMSG_MAX] = "";
    snprintf(what, sizeof what, "array %s/%s", info->region, info->name);
    st_npy_map m;
    st_err e;
    st_err_init(&e);
    strata_dtype stored = info->dtype == STRATA_STR ? STRATA_I64 : info->dtype;
    uint64_t count = info->dtype == STRATA_STR ? info->length + 1 : info->length;
    if (st_npy_map_file(&e, info->path, &m) != STRATA_OK)
        snprintf(problem, sizeof problem, "%s",
                 e.code == STRATA_ENOTFOUND ? "file is missing" : e.msg);
    else if (m.info.dtype != stored || m.info.count != count)
        snprintf(problem, sizeof problem, "does not match the catalog (%llu elements of '%s')",
                 (unsigned long long)m.info.count, m.info.descr);
    st_npy_unmap(&m);
    st_err_destroy(&e);
    if (problem[0]) report(c->r, what, info->path, problem, 0);
    return 0;
}

typedef struct {
    run *r;
    const char *only_name;
    nameset *known; /* region directory entries */
    int rc;
} reg_ctx;

static int visit_ds_rec(void *vctx, const st_cat_dataset *d)
{
    reg_ctx *c = vctx;
    if (c->only_name != NULL && strcmp(d->name, c->only_name) != 0) return 0;
    c->rc = visit_dataset(c->r, d, c->known);
    return c->rc < 0 || c->r->stop;
}

/* Trashed dataset directories are known (gc removes them on its own terms). */
static int trash_known(void *vctx, int64_t id, const char *path, int64_t ds, int64_t created)
{
    (void)id;
    (void)ds;
    (void)created;
    nameset *s = vctx;
    return nameset_add(s, path) < 0 ? STRATA_ENOMEM : 0;
}

static int visit_region(run *r, const st_cat_region *reg, const char *only_name,
                        const nameset *trash)
{
    strata_pool *pool = r->pool;
    nameset known = NAMESET;
    char dir[ST_PATH_MAX], rel[ST_PATH_MAX];
    int rc = st_region_dir(pool, reg->dir, dir);
    reg_ctx c = {r, only_name, &known, STRATA_OK};
    if (rc == STRATA_OK)
        rc = st_cat_dataset_list(st_pool_err(pool), st_pool_cat(pool), reg->id, visit_ds_rec, &c);
    if (rc == STRATA_OK) rc = c.rc;
    if (rc == STRATA_OK) rc = visit_ndarrays(r, reg, only_name, &known);
    if (rc == STRATA_OK && only_name == NULL) {
        arr_ctx ac = {r, &known, STRATA_OK};
        rc = strata_array_list(pool, reg->name, visit_array, &ac);
        if (rc == STRATA_OK) rc = ac.rc;
        /* directories of dropped datasets waiting in the trash are not orphans */
        DIR *d = opendir(dir);
        struct dirent *de;
        while (rc == STRATA_OK && d != NULL && (de = readdir(d)) != NULL) {
            if (st_path(NULL, rel, "%s/%s/%s", ST_POOL_DATA, reg->dir, de->d_name) == 0 &&
                nameset_has(trash, rel))
                rc = nameset_add(&known, de->d_name);
        }
        if (d != NULL) closedir(d);
        if (rc == STRATA_OK && access(dir, F_OK) != 0)
            report(r, "region", dir, "directory is missing", 0);
        else if (rc == STRATA_OK) {
            nameset_sort(&known);
            rc = scan_dir(r, dir, &known, 0);
        }
    }
    nameset_free(&known);
    return rc;
}

typedef struct {
    run *r;
    const nameset *trash;
    nameset *known; /* data/ entries */
    int rc;
} pool_ctx;

static int visit_region_rec(void *vctx, const st_cat_region *reg)
{
    pool_ctx *c = vctx;
    if (nameset_add(c->known, reg->dir) < 0) return c->rc = STRATA_ENOMEM;
    c->rc = visit_region(c->r, reg, NULL, c->trash);
    return c->rc < 0 || c->r->stop;
}

typedef struct {
    run *r;
    nameset *known; /* backups/ entries */
    int rc;
} bk_ctx;

static int visit_backup(void *vctx, const st_cat_backup *b)
{
    bk_ctx *c = vctx;
    if (nameset_add(c->known, b->file) < 0 ||
        (b->bytes_file[0] && nameset_add(c->known, b->bytes_file) < 0))
        return c->rc = STRATA_ENOMEM;
    if (c->r->gc) return 0;
    st_err e;
    st_err_init(&e);
    char what[STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "backup %s", b->name);
    if (st_backup_verify(c->r->pool, b, &e) == STRATA_ECORRUPT)
        report(c->r, what, b->file, e.msg, 0);
    st_err_destroy(&e);
    return 0;
}

static int run_pool(run *r, const char *region, const char *name)
{
    strata_pool *pool = r->pool;
    st_err *err = st_pool_err(pool);
    nameset trash = NAMESET, known = NAMESET;
    int rc = st_cat_trash_list(err, st_pool_cat(pool), trash_known, &trash);
    nameset_sort(&trash);
    if (rc == STRATA_OK && region != NULL) {
        st_cat_region reg;
        rc = st_name_check(err, "region", region);
        if (rc == STRATA_OK) rc = st_cat_region_get(err, st_pool_cat(pool), region, &reg);
        if (rc == STRATA_OK && name != NULL) {
            st_cat_dataset d;
            st_cat_nd nd;
            rc = st_name_check(err, "dataset", name);
            if (rc == STRATA_OK)
                rc = st_cat_dataset_get(err, st_pool_cat(pool), region, name, &d, NULL, NULL);
            /* or an N-d array of that name */
            if (rc == STRATA_ENOTFOUND &&
                st_cat_nd_get(NULL, st_pool_cat(pool), region, name, &nd) == STRATA_OK)
                rc = STRATA_OK;
        }
        if (rc == STRATA_OK) rc = visit_region(r, &reg, name, &trash);
    } else if (rc == STRATA_OK) {
        pool_ctx c = {r, &trash, &known, STRATA_OK};
        rc = st_cat_region_list(err, st_pool_cat(pool), visit_region_rec, &c);
        if (rc == STRATA_OK) rc = c.rc;
        char dir[ST_PATH_MAX];
        if (rc == STRATA_OK) rc = st_path(err, dir, "%s/%s", st_pool_path(pool), ST_POOL_DATA);
        if (rc == STRATA_OK) {
            nameset_sort(&known);
            rc = scan_dir(r, dir, &known, 0);
        }
        nameset bknown = NAMESET;
        bk_ctx bc = {r, &bknown, STRATA_OK};
        if (rc == STRATA_OK) rc = st_cat_backup_list(err, st_pool_cat(pool), visit_backup, &bc);
        if (rc == STRATA_OK) rc = bc.rc;
        if (rc == STRATA_OK) rc = st_path(err, dir, "%s/%s", st_pool_path(pool), ST_POOL_BACKUPS);
        if (rc == STRATA_OK) {
            nameset_sort(&bknown);
            rc = scan_dir(r, dir, &bknown, 0);
        }
        nameset_free(&bknown);
        if (rc == STRATA_OK) rc = scan_tiers(r);
    }
    nameset_free(&trash);
    nameset_free(&known);
    if (rc == STRATA_ENOMEM) st_error(err, rc, "out of memory checking the pool");
    return rc;
}

int strata_check(strata_pool *pool, const char *region, const char *name, strata_problem_fn fn,
                 void *ctx, uint64_t *damaged)
{
    if (pool == NULL) return STRATA_EINVAL;
    run r = {.pool = pool, .fn = fn, .ctx = ctx};
    /* the catalog first: everything below trusts it */
    int rc = st_cat_integrity(st_pool_err(pool), st_pool_cat(pool));
    if (rc < 0) {
        char path[ST_PATH_MAX];
        if (st_path(NULL, path, "%s/%s", st_pool_path(pool), ST_POOL_CATALOG) == STRATA_OK)
            report(&r, "catalog", path, strata_errmsg(pool), 0);
        if (damaged != NULL) *damaged = r.damaged;
        return rc;
    }
    rc = run_pool(&r, region, name);
    if (damaged != NULL) *damaged = r.damaged;
    if (rc < 0) return rc;
    if (r.damaged > 0)
        return st_error(st_pool_err(pool), STRATA_ECORRUPT, "%llu damaged item(s) found",
                        (unsigned long long)r.damaged);
    return STRATA_OK;
}

/* ---- gc ---------------------------------------------------------------------------------------
 */

typedef struct {
    strata_pool *pool;
    int dry_run;
    strata_gc_stats *stats;
    int rc;
} trash_ctx;

/* Is anyone reading the dataset directory DIR (a shared lock on its .readers file)? */
static int held_by_readers(const char *dir)
{
    char path[ST_PATH_MAX];
    if (st_path(NULL, path, "%s/%s", dir, ST_READERS_LOCK) < 0) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = st_lock_probe(NULL, fd, 0, 0, path) == STRATA_ELOCKED;
    close(fd);
    return held;
}

static int sweep_trash(void *vctx, int64_t id, const char *path, int64_t ds, int64_t created)
{
    (void)created;
    (void)ds;
    trash_ctx *c = vctx;
    char abs[ST_PATH_MAX];
    if (st_path(st_pool_err(c->pool), abs, "%s/%s", st_pool_path(c->pool), path) < 0)
        return c->rc = STRATA_ENAME;
    if (held_by_readers(abs)) {
        c->stats->datasets_held++;
        return 0;
    }
    uint64_t bytes = st_tree_bytes(abs);
    if (!c->dry_run) {
        int rc = st_rm_tree(st_pool_err(c->pool), abs);
        if (rc == STRATA_OK)
            rc = st_cat_trash_delete(st_pool_err(c->pool), st_pool_cat(c->pool), id);
        if (rc < 0) return c->rc = rc;
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
    trash_ctx tc = {pool, o.dry_run, stats, STRATA_OK};
    int rc = st_cat_trash_list(err, st_pool_cat(pool), sweep_trash, &tc);
    if (rc == STRATA_OK) rc = tc.rc;
    if (rc < 0) return rc;
    /* Orphans: files and directories the catalog does not name, older than the grace. Outside
     * objects' directories only while no creator is between its first file and its catalog row
     * (they hold the pool's gc lock shared). */
    run r = {.pool = pool,
             .gc = 1,
             .orphan_before_ns = st_now_ns() - grace_s * 1000000000,
             .dry_run = o.dry_run,
             .stats = stats};
    char lockpath[ST_PATH_MAX];
    int gclock = -1;
    if (!o.dry_run) {
        if ((rc = st_path(err, lockpath, "%s/%s", st_pool_path(pool), ST_POOL_GCLOCK)) < 0)
            return rc;
        gclock = st_lock_path(err, lockpath, 1, 1, 0, 0, ST_GC_WAIT_MS, "the pool's gc lock");
        if (gclock < 0 && gclock != STRATA_ELOCKED)
            return st_error(err, gclock, "cannot collect garbage in pool '%s': %s",
                            st_pool_path(pool), strata_errmsg(pool));
    }
    r.outer_held = gclock >= 0 || o.dry_run;
    if (!r.outer_held && !o.dry_run) stats->busy_skipped++;
    rc = run_pool(&r, NULL, NULL);
    if (gclock >= 0) close(gclock);
    if (rc < 0) return rc;
    if (o.keep_versions > 0) {
        expire_ctx ec = {pool, o.keep_versions, o.dry_run, stats, STRATA_OK};
        rc = st_cat_begin(err, st_pool_cat(pool));
        if (rc == STRATA_OK) {
            rc = st_cat_region_list(err, st_pool_cat(pool), expire_region, &ec);
            if (rc == STRATA_OK || rc == 1) rc = ec.rc;
            if (rc == STRATA_OK)
                rc = st_cat_commit(err, st_pool_cat(pool));
            else
                st_cat_rollback(st_pool_cat(pool));
        }
    }
    return rc;
}
