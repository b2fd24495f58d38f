/*
 * nd_stage.c -- N-d chunk files between tiers, as far as this layer does it: staging an archive
 * chunk to a faster tier (on demand during a read, st_nd_stage_chunk), evicting staged copies
 * from a tier over its capacity, and the pieces the tier layer (src/tier) builds on to manage
 * tiers and migrate chunks: the chunk copy, the writers' lock, unlinking a tier's staged copies
 * (exported through ndarray.h). A read stages on its own, below the tier layer, so staging and
 * eviction live here; tiers themselves and the moves between them are src/tier's.
 *
 * Crash safety: a copy is written under a fresh name and made durable before a catalog row names
 * it, and a source is removed only after the switch; at every moment a row names one readable
 * file (the other copy, if any, is an orphan that gc removes). A staged copy is recorded after it
 * is durable; losing one loses nothing (the archive copy is the data).
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
#include "util/fileio.h"

/* ---- staged copies -------------------------------------------------------------------------- */

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
    int rc;
    ST_TRY(rc = st_nd_dir(x, &rec, s->tier_id, 0, dir));
    rc = st_path(NULL, path, "%s/%s", dir, s->file);
done:
    x->err = keep;
    return rc;
}

static int unlink_staged(void *vctx, const st_cat_staged *s)
{
    char path[ST_PATH_MAX];
    if (staged_path(vctx, s, path) == STRATA_OK) unlink(path);
    return 0;
}

int st_nd_unlink_staged(st_ndctx *x, int64_t tier_id)
{
    return st_cat_staged_list(x->err, x->cat, tier_id, unlink_staged, x);
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

int st_nd_evict(st_ndctx *x, int64_t tier_id, uint64_t need)
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
    ST_TRY(rc);
    if (v.n > 1) qsort(v.v, v.n, sizeof(victim), by_use);
    for (size_t i = 0; i < v.n && used + need > t.capacity; i++) {
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
        ST_TRY(rc);
    }
    if (used + need > t.capacity)
        rc = st_error(x->err, STRATA_ENOSPC,
                      "tier '%s' is over its capacity: %" PRIu64 " of %" PRIu64
                      " bytes used, %" PRIu64 " more needed, and no staged copy can be evicted "
                      "(raise --capacity or migrate data away)",
                      t.name, used, t.capacity, need);
done:
    st_vec_free(&v);
    return rc;
}

/* ---- copying a chunk file between tiers ----------------------------------------------------- */

int st_nd_copy_chunk(st_ndctx *x, const st_cat_nd *rec, int64_t idx, int64_t from, const char *file,
                     int64_t to, char prefix, char new_name[ST_CAT_FILE], uint64_t *read_bytes,
                     uint64_t *stored)
{
    int arch = st_nd_tier_is_archive(x, to);
    if (arch < 0) return arch;
    int level = rec->zstd ? rec->zstd : (arch ? ST_ARCHIVE_ZSTD : 0);
    char sdir[ST_PATH_MAX], spath[ST_PATH_MAX], ddir[ST_PATH_MAX], tok[ST_TOKEN_LEN + 1];
    st_chunkbuf cb = {0};
    int rc;
    ST_TRY(rc = st_nd_dir(x, rec, from, 0, sdir));
    ST_TRY(rc = st_path(x->err, spath, "%s/%s", sdir, file));
    ST_TRY(rc = st_chunk_read(x->err, spath, &cb));
    *read_bytes = cb.stored;
    st_random_token(tok);
    snprintf(new_name, ST_CAT_FILE, "%c%" PRId64 ".%s.npy%s", prefix, idx, tok,
             level > 0 ? ".zst" : "");
    ST_TRY(rc = st_nd_dir(x, rec, to, 1, ddir));
    ST_TRY(rc = st_chunk_write(x->err, ddir, new_name, cb.info.dtype, cb.info.ndim, cb.info.shape,
                               cb.info.fortran_order, cb.data,
                               cb.info.count * strata_dtype_size(cb.info.dtype), level, stored));
    rc = st_fsync_dir(x->err, ddir);
done:
    st_chunk_release(&cb);
    return rc;
}

/* ---- staging -------------------------------------------------------------------------------- */

int st_nd_stage_chunk(st_ndctx *x, const st_cat_nd *rec, const st_cat_chunk *c, int64_t tier_id,
                      char *staged_file)
{
    int arch = st_nd_tier_is_archive(x, tier_id);
    if (arch < 0) return arch;
    if (arch)
        return st_error(x->err, STRATA_EINVAL, "cannot stage '%s/%s' to an archive tier",
                        rec->region, rec->name);
    /* room first: the staged copy is about the size of the uncompressed chunk */
    int rc = st_nd_evict(x, tier_id, c->bytes);
    if (rc < 0) return rc;
    /* the copy is in flight until the catalog names it: gc must not take it for an orphan */
    char dir[ST_PATH_MAX], lockpath[ST_PATH_MAX];
    if ((rc = st_nd_dir(x, rec, ST_TIER_DEFAULT_ID, 1, dir)) < 0) return rc;
    if ((rc = st_path(x->err, lockpath, "%s/%s", dir, ST_ND_WRITER_LOCK)) < 0) return rc;
    char obj[32];
    snprintf(obj, sizeof obj, "nd %lld", (long long)rec->id);
    st_cat_lockref at = {lockpath, obj, ST_LOCK_INFLIGHT, 1};
    int hold = st_cat_lock(x->err, x->cat, &at, 1, 0, 30000, "an N-d array's files in flight");
    if (hold < 0) return hold;
    char name[ST_CAT_FILE] = "";
    uint64_t got = 0, stored = 0;
    ST_TRY(rc = st_nd_copy_chunk(x, rec, c->idx, c->tier_id, c->file, tier_id, 's', name, &got,
                                 &stored));
    ST_TRY(rc = st_cat_staged_set(x->err, x->cat, rec->id, c->idx, c->file, tier_id, name, stored));
    if (c->staged_tier) st_nd_remove_file(x, rec, c->staged_tier, c->staged_file);
    if (staged_file != NULL) snprintf(staged_file, ST_CAT_FILE, "%s", name);
    x->staged++;
    x->staged_bytes += stored;
done:
    if (rc < 0 && name[0]) st_nd_remove_file(x, rec, tier_id, name);
    st_cat_unlock(x->cat, hold);
    return rc;
}

/* ---- the writers' lock ---------------------------------------------------------------------- */

int st_nd_lock_writer(st_ndctx *x, const st_cat_nd *rec)
{
    char dir[ST_PATH_MAX], lockpath[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "N-d array '%s/%s' (writer)", rec->region, rec->name);
    int rc;
    if ((rc = st_nd_dir(x, rec, ST_TIER_DEFAULT_ID, 1, dir)) < 0) return rc;
    if ((rc = st_path(x->err, lockpath, "%s/%s", dir, ST_ND_WRITER_LOCK)) < 0) return rc;
    char obj[32];
    snprintf(obj, sizeof obj, "nd %lld", (long long)rec->id);
    st_cat_lockref at = {lockpath, obj, ST_LOCK_WRITER, 1};
    return st_cat_lock(x->err, x->cat, &at, 1, 1, ST_ND_WRITER_WAIT_MS, what);
}
