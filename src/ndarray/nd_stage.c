/*
 * nd_tier.c -- storage tiers: adding and removing them, moving chunks between them (migration),
 * copying archive chunks to fast tiers (staging, on demand or ahead of time in a background
 * thread) and evicting staged copies from a tier over its capacity.
 *
 * Crash safety: a migration writes the new file and makes it durable before the one transaction
 * that switches the chunk's row, and removes the source only after; at every moment the row
 * names one readable file (the other copy, if any, is an orphan that gc removes). A staged copy
 * is recorded after it is durable; losing one loses nothing (the archive copy is the data).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ndarray/nd_int.h"
#include "util/name.h"
#include "util/fileio.h"

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

static int check_pool(strata_pool *pool)
{
    return pool == NULL || st_pool_cat(pool) == NULL ? STRATA_EINVAL : STRATA_OK;
}

/* ---- tiers ---------------------------------------------------------------------------------- */

int strata_tier_add(strata_pool *pool, const char *name, const char *path, strata_tier_kind kind,
                    uint64_t capacity, double read_bw, double latency)
{
    if (check_pool(pool) < 0) return STRATA_EINVAL;
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
    int rc = st_tier_root(st_pool_err(pool), st_pool_path(pool), t, root);
    if (rc == STRATA_OK) rc = st_cat_tier_usage(st_pool_err(pool), st_pool_cat(pool), t->id, &u);
    if (rc < 0) return rc;
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
    if (check_pool(pool) < 0 || fn == NULL) return STRATA_EINVAL;
    st_vec v = ST_VEC(st_cat_tier);
    int rc = st_cat_tier_list(st_pool_err(pool), st_pool_cat(pool), collect_tier, &v);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory listing tiers");
    for (size_t i = 0; rc == STRATA_OK && i < v.n; i++) {
        char root[ST_PATH_MAX];
        strata_tier_info info;
        rc = describe(pool, &((st_cat_tier *)v.v)[i], root, &info);
        if (rc == STRATA_OK) rc = fn(ctx, &info);
    }
    st_vec_free(&v);
    return rc;
}

int strata_tier_get(strata_pool *pool, const char *name, strata_tier_info *out)
{
    if (check_pool(pool) < 0 || out == NULL) return STRATA_EINVAL;
    static _Thread_local st_cat_tier t; /* the strings of OUT live until the next call */
    static _Thread_local char root[ST_PATH_MAX];
    int rc = st_name_check(st_pool_err(pool), "tier", name);
    if (rc == STRATA_OK) rc = st_cat_tier_get(st_pool_err(pool), st_pool_cat(pool), name, &t);
    if (rc == STRATA_OK) rc = describe(pool, &t, root, out);
    return rc;
}

/* The path of staged copy S (errors are not recorded: the callers skip what they cannot find). */
static int staged_path(st_ndctx *x, const st_cat_staged *s, char path[ST_PATH_MAX])
{
    st_cat_nd rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.region_dir, sizeof rec.region_dir, "%s", s->region_dir);
    snprintf(rec.dir, sizeof rec.dir, "%s", s->dir);
    char dir[ST_PATH_MAX];
    st_err *keep = x->err;
    x->err = NULL;
    int rc = st_nd_dir(x, &rec, s->tier_id, 0, dir);
    if (rc == STRATA_OK) rc = st_path(NULL, path, "%s/%s", dir, s->file);
    x->err = keep;
    return rc;
}

static int unlink_staged(void *vctx, const st_cat_staged *s)
{
    char path[ST_PATH_MAX];
    if (staged_path(vctx, s, path) == STRATA_OK) unlink(path);
    return 0;
}

int strata_tier_set(strata_pool *pool, const char *name, uint64_t capacity, double read_bw,
                    double latency)
{
    if (check_pool(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_tier t;
    int rc = st_name_check(err, "tier", name);
    if (rc == STRATA_OK) rc = st_cat_tier_get(err, st_pool_cat(pool), name, &t);
    if (rc < 0) return rc;
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
    if (check_pool(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_tier t;
    st_cat_usage u;
    int rc = st_name_check(err, "tier", name);
    if (rc == STRATA_OK) rc = st_cat_tier_get(err, st_pool_cat(pool), name, &t);
    if (rc < 0) return rc;
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
    rc = st_cat_staged_list(err, st_pool_cat(pool), t.id, unlink_staged, &x);
    if (rc == STRATA_OK) rc = st_cat_tier_delete(err, st_pool_cat(pool), t.id);
    if (rc == STRATA_OK) return st_cat_commit(err, st_pool_cat(pool));
    st_cat_rollback(st_pool_cat(pool));
    return rc;
}

/* ---- eviction ------------------------------------------------------------------------------- */

typedef struct {
    st_cat_staged s;
    int64_t used_ns; /* the later of staging and the last read */
} victim;

typedef struct {
    st_ndctx *x;
    st_vec *v;
} evict_ctx;

static int collect_victim(void *vctx, const st_cat_staged *s)
{
    evict_ctx *e = vctx;
    victim *v = st_vec_push(e->v);
    if (v == NULL) return STRATA_ENOMEM;
    v->s = *s;
    v->used_ns = s->staged_ns;
    char path[ST_PATH_MAX];
    struct stat st;
    if (staged_path(e->x, s, path) == STRATA_OK && stat(path, &st) == 0) {
        int64_t at = (int64_t)st.st_atim.tv_sec * 1000000000 + st.st_atim.tv_nsec;
        if (at > v->used_ns) v->used_ns = at;
    }
    return 0;
}

static int by_use(const void *a, const void *b)
{
    int64_t x = ((const victim *)a)->used_ns, y = ((const victim *)b)->used_ns;
    return (x > y) - (x < y);
}

int st_tier_evict(st_ndctx *x, int64_t tier_id, uint64_t need)
{
    st_cat_tier t;
    st_cat_usage u;
    int rc = st_cat_tier_get_id(x->err, x->cat, tier_id, &t);
    if (rc < 0 || t.capacity == 0) return rc;
    if ((rc = st_cat_tier_usage(x->err, x->cat, tier_id, &u)) < 0) return rc;
    uint64_t used = u.home_bytes + u.staged_bytes;
    if (used + need <= t.capacity) return STRATA_OK;
    st_vec v = ST_VEC(victim);
    evict_ctx ec = {x, &v};
    rc = st_cat_staged_list(x->err, x->cat, tier_id, collect_victim, &ec);
    if (rc == STRATA_ENOMEM) rc = st_error(x->err, rc, "out of memory evicting staged copies");
    if (v.n > 1) qsort(v.v, v.n, sizeof(victim), by_use);
    for (size_t i = 0; rc == STRATA_OK && i < v.n && used + need > t.capacity; i++) {
        const st_cat_staged *s = &((victim *)v.v)[i].s;
        char path[ST_PATH_MAX];
        if (staged_path(x, s, path) < 0) continue;
        /* never a copy being read: readers hold a shared lock on it while they copy */
        int fd = open(path, O_RDWR | O_CLOEXEC); /* an exclusive lock needs write access */
        if (fd >= 0 && st_lock_fd(NULL, fd, 1, 0, 0, 0, "staged copy") != STRATA_OK) {
            close(fd);
            continue;
        }
        rc = st_cat_staged_drop(x->err, x->cat, s->array_id, s->idx, s->file);
        if (rc == STRATA_OK) {
            unlink(path);
            used -= s->bytes < used ? s->bytes : used;
            x->evicted++;
        }
        if (fd >= 0) close(fd);
    }
    st_vec_free(&v);
    if (rc == STRATA_OK && used + need > t.capacity)
        rc = st_error(x->err, STRATA_ENOSPC,
                      "tier '%s' is over its capacity: %" PRIu64 " of %" PRIu64
                      " bytes used, %" PRIu64 " more needed, and no staged copy can be evicted "
                      "(raise --capacity or migrate data away)",
                      t.name, used, t.capacity, need);
    return rc;
}

/* ---- copying a chunk file between tiers ----------------------------------------------------- */

/* Copy the file FILE of REC on tier FROM to a new file NEW_NAME (PREFIX + index + token) on
 * tier TO, in the format TO needs (zstd on an archive), durably. */
static int copy_chunk(st_ndctx *x, const st_cat_nd *rec, int64_t idx, int64_t from,
                      const char *file, int64_t to, char prefix, char new_name[ST_CAT_FILE],
                      uint64_t *read_bytes, uint64_t *stored)
{
    int arch = st_tier_is_archive(x, to);
    if (arch < 0) return arch;
    int level = rec->zstd ? rec->zstd : (arch ? ST_ARCHIVE_ZSTD : 0);
    char sdir[ST_PATH_MAX], spath[ST_PATH_MAX], ddir[ST_PATH_MAX], tok[ST_TOKEN_LEN + 1];
    st_chunkbuf cb;
    int rc = st_nd_dir(x, rec, from, 0, sdir);
    if (rc == STRATA_OK) rc = st_path(x->err, spath, "%s/%s", sdir, file);
    if (rc == STRATA_OK) rc = st_chunk_read(x->err, spath, &cb);
    if (rc < 0) return rc;
    *read_bytes = cb.stored;
    st_random_token(tok);
    snprintf(new_name, ST_CAT_FILE, "%c%" PRId64 ".%s.npy%s", prefix, idx, tok,
             level > 0 ? ".zst" : "");
    rc = st_nd_dir(x, rec, to, 1, ddir);
    if (rc == STRATA_OK)
        rc = st_chunk_write(x->err, ddir, new_name, cb.info.dtype, cb.info.ndim, cb.info.shape,
                            cb.info.fortran_order, cb.data,
                            cb.info.count * strata_dtype_size(cb.info.dtype), level, stored);
    if (rc == STRATA_OK) rc = st_fsync_dir(x->err, ddir);
    st_chunk_release(&cb);
    return rc;
}

/* ---- staging -------------------------------------------------------------------------------- */

int st_nd_stage_chunk(st_ndctx *x, const st_cat_nd *rec, const st_cat_chunk *c, int64_t tier_id,
                      char *staged_file)
{
    int arch = st_tier_is_archive(x, tier_id);
    if (arch < 0) return arch;
    if (arch)
        return st_error(x->err, STRATA_EINVAL, "cannot stage '%s/%s' to an archive tier",
                        rec->region, rec->name);
    /* room first: the staged copy is about the size of the uncompressed chunk */
    int rc = st_tier_evict(x, tier_id, c->bytes);
    if (rc < 0) return rc;
    /* the copy is in flight until the catalog names it: gc must not take it for an orphan */
    char dir[ST_PATH_MAX], lockpath[ST_PATH_MAX];
    rc = st_nd_dir(x, rec, ST_TIER_DEFAULT_ID, 1, dir);
    if (rc == STRATA_OK) rc = st_path(x->err, lockpath, "%s/%s", dir, ST_ND_WRITER_LOCK);
    int hold = rc < 0 ? rc
                      : st_lock_path(x->err, lockpath, 1, 0, ST_LOCK_INFLIGHT, 1, 30000,
                                     "an N-d array's files in flight");
    if (hold < 0) return hold;
    char name[ST_CAT_FILE] = "";
    uint64_t got = 0, stored = 0;
    rc = copy_chunk(x, rec, c->idx, c->tier_id, c->file, tier_id, 's', name, &got, &stored);
    if (rc == STRATA_OK)
        rc = st_cat_staged_set(x->err, x->cat, rec->id, c->idx, c->file, tier_id, name, stored);
    if (rc < 0 && name[0]) st_nd_remove_file(x, rec, tier_id, name);
    close(hold);
    if (rc < 0) return rc;
    if (c->staged_tier) st_nd_remove_file(x, rec, c->staged_tier, c->staged_file);
    if (staged_file != NULL) snprintf(staged_file, ST_CAT_FILE, "%s", name);
    x->staged++;
    x->staged_bytes += stored;
    return STRATA_OK;
}

typedef struct strata_stage {
    pthread_t thread;
    st_err err;
    st_catalog *cat;
    char *pool_path;
    st_cat_nd rec;
    int64_t tier;
    st_vec chunks; /* st_cat_chunk: those the region needs */
    strata_stage_stats stats;
    int rc;
} stage_job;

static void *stage_main(void *arg)
{
    stage_job *j = arg;
    double t0 = st_mono_s();
    st_ndctx x;
    memset(&x, 0, sizeof x);
    x.err = &j->err;
    x.cat = j->cat;
    x.pool_path = j->pool_path;
    const st_cat_chunk *c = j->chunks.v;
    j->rc = STRATA_OK;
    for (size_t i = 0; j->rc == STRATA_OK && i < j->chunks.n; i++) {
        int arch = st_tier_is_archive(&x, c[i].tier_id);
        if (arch < 0) {
            j->rc = arch;
        } else if (!arch || c[i].staged_tier) {
            j->stats.chunks_present++;
        } else {
            uint64_t before = x.staged_bytes;
            j->rc = st_nd_stage_chunk(&x, &j->rec, &c[i], j->tier, NULL);
            /* a chunk rewritten meanwhile has its new data in place already */
            if (j->rc == STRATA_ECONFLICT || j->rc == STRATA_ENOTFOUND) {
                j->rc = STRATA_OK;
                j->stats.chunks_present++;
                continue;
            }
            if (j->rc == STRATA_OK) {
                j->stats.chunks_staged++;
                j->stats.bytes_read += c[i].bytes;
                j->stats.bytes_written += x.staged_bytes - before;
            }
        }
    }
    j->stats.evicted = x.evicted;
    j->stats.seconds = st_mono_s() - t0;
    return NULL;
}

typedef struct {
    const nd_grid *g;
    const uint64_t *clo, *chi;
    st_vec *out;
} box_ctx;

static int keep_in_box(void *vctx, const st_cat_chunk *c)
{
    box_ctx *b = vctx;
    /* the chunk's coordinates from its linear index */
    int64_t rest = c->idx;
    for (int d = b->g->n - 1; d >= 0; d--) {
        uint64_t span = d ? b->g->grid[d] : UINT64_MAX;
        uint64_t cd = d ? (uint64_t)rest % span : (uint64_t)rest;
        if (d) rest /= (int64_t)span;
        if (cd < b->clo[d] || cd > b->chi[d]) return 0;
    }
    st_cat_chunk *slot = st_vec_push(b->out);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *c;
    return 0;
}

int strata_stage_start(strata_pool *pool, const char *region, const char *name,
                       const uint64_t *start, const uint64_t *count, const char *tier,
                       strata_stage **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (check_pool(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    stage_job *j = calloc(1, sizeof *j);
    if (j == NULL) return st_error(err, STRATA_ENOMEM, "out of memory staging");
    st_err_init(&j->err);
    j->chunks = (st_vec)ST_VEC(st_cat_chunk);
    st_cat_tier t;
    int rc = st_name_check(err, "region", region);
    if (rc == STRATA_OK) rc = st_name_check(err, "N-d array", name);
    if (rc == STRATA_OK) rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &j->rec);
    if (rc == STRATA_OK) rc = st_cat_tier_get(err, st_pool_cat(pool), tier ? tier : "default", &t);
    if (rc == STRATA_OK && t.kind == STRATA_TIER_ARCHIVE)
        rc = st_error(err, STRATA_EINVAL,
                      "cannot stage to tier '%s': it is an archive; stage to "
                      "a fast tier",
                      t.name);
    nd_grid g;
    uint64_t clo[ST_ND_MAXDIMS], chi[ST_ND_MAXDIMS];
    if (rc == STRATA_OK) {
        st_nd_grid(&j->rec, &g);
        for (int d = 0; d < g.n && rc == STRATA_OK; d++) {
            uint64_t s = start ? start[d] : 0, n = count ? count[d] : g.dims[d];
            if (g.dims[d] == 0) {
                n = 0;
            } else if (n == 0 || s >= g.dims[d] || n > g.dims[d] - s) {
                rc = st_error(err, STRATA_ERANGE,
                              "cannot stage '%s/%s': [%" PRIu64 ", %" PRIu64 ") is outside "
                              "dimension %d of size %" PRIu64,
                              region, name, s, s + n, d, g.dims[d]);
                break;
            }
            clo[d] = s / g.chunk[d];
            chi[d] = n ? (s + n - 1) / g.chunk[d] : 0;
            if (j->rec.layout != STRATA_LAYOUT_CHUNKED) clo[d] = chi[d] = 0;
        }
    }
    if (rc == STRATA_OK && g.dims[0] > 0) {
        box_ctx b = {&g, clo, chi, &j->chunks};
        rc = st_cat_nd_chunks(err, st_pool_cat(pool), j->rec.id, st_nd_linear(&g, clo),
                              st_nd_linear(&g, chi), keep_in_box, &b);
        if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory staging");
    }
    j->tier = t.id;
    j->stats.chunks_needed = j->chunks.n;
    char path[ST_PATH_MAX];
    if (rc == STRATA_OK) rc = st_path(err, path, "%s/%s", st_pool_path(pool), ST_POOL_CATALOG);
    if (rc == STRATA_OK && (j->pool_path = strdup(st_pool_path(pool))) == NULL)
        rc = st_error(err, STRATA_ENOMEM, "out of memory staging");
    if (rc == STRATA_OK) rc = st_cat_open(err, path, &j->cat);
    if (rc == STRATA_OK && pthread_create(&j->thread, NULL, stage_main, j) != 0)
        rc = st_error(err, STRATA_ENOMEM, "cannot start the staging thread");
    if (rc < 0) {
        if (j->cat) st_cat_close(j->cat);
        free(j->pool_path);
        st_vec_free(&j->chunks);
        st_err_destroy(&j->err);
        free(j);
        return rc;
    }
    *out = j;
    return STRATA_OK;
}

int strata_stage_wait(strata_stage *j, strata_stage_stats *stats, char *errbuf, size_t errlen)
{
    if (j == NULL) return STRATA_EINVAL;
    pthread_join(j->thread, NULL);
    int rc = j->rc;
    if (stats != NULL) *stats = j->stats;
    if (errbuf != NULL && errlen > 0) st_err_copy(&j->err, errbuf, errlen);
    st_cat_close(j->cat);
    free(j->pool_path);
    st_vec_free(&j->chunks);
    st_err_destroy(&j->err);
    free(j);
    return rc;
}

/* ---- migration ------------------------------------------------------------------------------ */

#define MOVE_BATCH 32 /* chunks made durable together and switched in one transaction */

int st_migrate_target(strata_pool *pool, const char *region, const char *name, const char *tier,
                      const char *unit, uint64_t *first, uint64_t *last, st_cat_tier *t)
{
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "tier", tier);
    if (rc == STRATA_OK) rc = st_cat_tier_get(err, st_pool_cat(pool), tier, t);
    if (rc < 0) return rc;
    if (*first > *last || *first > INT64_MAX)
        return st_error(err, STRATA_EINVAL,
                        "cannot migrate '%s/%s': empty %s range %" PRIu64 "-%" PRIu64, region, name,
                        unit, *first, *last);
    if (*last > INT64_MAX) *last = INT64_MAX;
    return STRATA_OK;
}

int strata_ndarray_migrate(strata_pool *pool, const char *region, const char *name,
                           const char *tier, uint64_t first_chunk, uint64_t last_chunk,
                           uint64_t *moved)
{
    if (moved != NULL) *moved = 0;
    if (check_pool(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_nd rec;
    st_cat_tier t;
    int rc = st_name_check(err, "region", region);
    if (rc == STRATA_OK) rc = st_name_check(err, "N-d array", name);
    if (rc == STRATA_OK) rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &rec);
    if (rc == STRATA_OK)
        rc = st_migrate_target(pool, region, name, tier, "chunk", &first_chunk, &last_chunk, &t);
    if (rc < 0) return rc;
    st_ndctx x;
    st_ndctx_init(&x, pool);
    /* writers wait while chunks move (a write would replace a chunk under us) */
    char dir[ST_PATH_MAX], lockpath[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "N-d array '%s/%s' (writer)", region, name);
    rc = st_nd_dir(&x, &rec, ST_TIER_DEFAULT_ID, 1, dir);
    if (rc == STRATA_OK) rc = st_path(err, lockpath, "%s/%s", dir, ST_ND_WRITER_LOCK);
    if (rc < 0) return rc;
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return st_error_errno(err, errno, "cannot open '%s'", lockpath);
    rc = st_lock_fd(err, lfd, 1, ST_LOCK_WRITER, 1, 30000, what);
    st_vec v = ST_VEC(st_cat_chunk);
    if (rc == STRATA_OK)
        rc = st_cat_nd_chunks(err, st_pool_cat(pool), rec.id, (int64_t)first_chunk,
                              (int64_t)last_chunk, st_nd_push_chunk, &v);
    if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory listing chunks");
    st_cat_chunk *c = v.v;
    /* capacity: what moves in must fit (staged copies make room) */
    uint64_t incoming = 0;
    for (size_t i = 0; i < v.n; i++)
        if (c[i].tier_id != t.id) incoming += c[i].bytes;
    if (rc == STRATA_OK && t.capacity > 0) rc = st_tier_evict(&x, t.id, incoming);
    size_t i = 0;
    while (rc == STRATA_OK && i < v.n) {
        char names[MOVE_BATCH][ST_CAT_FILE];
        uint64_t sizes[MOVE_BATCH];
        size_t idx[MOVE_BATCH];
        int nb = 0;
        for (; i < v.n && nb < MOVE_BATCH && rc == STRATA_OK; i++) {
            if (c[i].tier_id == t.id) continue;
            uint64_t got;
            names[nb][0] = '\0';
            rc = copy_chunk(&x, &rec, c[i].idx, c[i].tier_id, c[i].file, t.id, 'c', names[nb], &got,
                            &sizes[nb]);
            idx[nb++] = i;
        }
        int in_tx = 0;
        if (rc == STRATA_OK && nb > 0 && (rc = st_cat_begin(err, st_pool_cat(pool))) == STRATA_OK)
            in_tx = 1;
        for (int k = 0; rc == STRATA_OK && k < nb; k++) {
            const st_cat_chunk *m = &c[idx[k]];
            rc = st_cat_chunk_move(err, st_pool_cat(pool), rec.id, m->idx, m->file, t.id, names[k],
                                   sizes[k]);
        }
        if (in_tx && rc == STRATA_OK)
            rc = st_cat_commit(err, st_pool_cat(pool));
        else if (in_tx)
            st_cat_rollback(st_pool_cat(pool));
        for (int k = 0; k < nb; k++) {
            const st_cat_chunk *m = &c[idx[k]];
            if (rc < 0) {
                st_nd_remove_file(&x, &rec, t.id, names[k]);
            } else {
                st_nd_remove_file(&x, &rec, m->tier_id, m->file);
                if (m->staged_tier) st_nd_remove_file(&x, &rec, m->staged_tier, m->staged_file);
                if (moved != NULL) (*moved)++;
            }
        }
    }
    /* a whole array moved: its new data goes there too */
    if (rc == STRATA_OK && first_chunk == 0 && last_chunk == INT64_MAX && rec.tier_id != t.id)
        rc = st_cat_nd_set_tier(err, st_pool_cat(pool), rec.id, t.id);
    st_vec_free(&v);
    close(lfd);
    return rc;
}
