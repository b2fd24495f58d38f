/*
 * migrate.c -- moving data between tiers: an N-d array's chunk files (strata_ndarray_migrate)
 * and a dataset's batch files (strata_dataset_migrate). Both copy first, in the format the
 * target tier needs (zstd-compressed on an archive, decoded when leaving one), make the copies
 * durable, switch their catalog rows a batch at a time, and remove the sources only after the
 * commit: a crash leaves every row naming exactly one complete file, the other copy an orphan
 * that gc removes. What moves in must fit the target's capacity; staged copies are evicted to
 * make room. The object's writer lock is held throughout, so no write replaces a file meanwhile.
 *
 * N-d chunks: the ndarray layer copies them (st_nd_copy_chunk), MOVE_BATCH per transaction; a
 * whole array moved also makes the target its home for new chunks.
 *
 * Datasets: batches are immutable, so a move is a copy: each column file (and a string column's
 * bytes file) is copied to the dataset's directory on the target tier and switched, MOVE_ROWS
 * rows per transaction, each row guarded by the file it expects. No publish or update runs
 * meanwhile; a reader whose snapshot named the old place finds the row again (snapshot.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ndarray/ndarray.h"
#include "store/store.h"
#include "util/chunkfile.h"
#include "util/name.h"
#include "util/vec.h"

/* The target tier TIER (into *T) of a migration of REGION/NAME and its range [*FIRST, *LAST] of
 * UNIT ("chunk", "batch"), *LAST clamped to what the catalog stores. */
static int migrate_target(strata_pool *pool, const char *region, const char *name, const char *tier,
                          const char *unit, uint64_t *first, uint64_t *last, st_cat_tier *t)
{
    st_err *err = st_pool_err(pool);
    int rc;
    if ((rc = st_name_check(err, "tier", tier)) < 0) return rc;
    if ((rc = st_cat_tier_get(err, st_pool_cat(pool), tier, t)) < 0) return rc;
    if (*first > *last || *first > INT64_MAX)
        return st_error(err, STRATA_EINVAL,
                        "cannot migrate '%s/%s': empty %s range %" PRIu64 "-%" PRIu64, region, name,
                        unit, *first, *last);
    if (*last > INT64_MAX) *last = INT64_MAX;
    return STRATA_OK;
}

/* ---- N-d arrays ----------------------------------------------------------------------------- */

#define MOVE_BATCH 32 /* chunks made durable together and switched in one transaction */

/* Move the chunks C[IDX[0..NB)] of REC to tier TIER: the copies made durable, then switched in
 * one transaction; after the commit the sources go, after a failure the copies. */
static int move_chunks(strata_pool *pool, st_ndctx *x, const st_cat_nd *rec, int64_t tier,
                       const st_cat_chunk *c, const size_t *idx, int nb, uint64_t *moved)
{
    st_err *err = st_pool_err(pool);
    char names[MOVE_BATCH][ST_CAT_FILE];
    uint64_t sizes[MOVE_BATCH];
    int rc, in_tx = 0;
    for (int k = 0; k < nb; k++) names[k][0] = '\0';
    for (int k = 0; k < nb; k++) {
        const st_cat_chunk *m = &c[idx[k]];
        uint64_t got;
        ST_TRY(rc = st_nd_copy_chunk(x, rec, m->idx, m->tier_id, m->file, tier, 'c', names[k], &got,
                                     &sizes[k]));
    }
    ST_TRY(rc = st_cat_begin(err, st_pool_cat(pool)));
    in_tx = 1;
    for (int k = 0; k < nb; k++) {
        const st_cat_chunk *m = &c[idx[k]];
        ST_TRY(rc = st_cat_chunk_move(err, st_pool_cat(pool), rec->id, m->idx, m->file, tier,
                                      names[k], sizes[k]));
    }
    rc = st_cat_commit(err, st_pool_cat(pool));
done:
    if (in_tx && rc < 0) st_cat_rollback(st_pool_cat(pool)); /* a no-op after a failed commit */
    for (int k = 0; k < nb; k++) {
        const st_cat_chunk *m = &c[idx[k]];
        if (rc < 0) {
            st_nd_remove_file(x, rec, tier, names[k]);
        } else {
            st_nd_remove_file(x, rec, m->tier_id, m->file);
            if (m->staged_tier) st_nd_remove_file(x, rec, m->staged_tier, m->staged_file);
            if (moved != NULL) (*moved)++;
        }
    }
    return rc;
}

int strata_ndarray_migrate(strata_pool *pool, const char *region, const char *name,
                           const char *tier, uint64_t first_chunk, uint64_t last_chunk,
                           uint64_t *moved)
{
    if (moved != NULL) *moved = 0;
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_nd rec;
    st_cat_tier t;
    st_ndctx x;
    st_ndctx_init(&x, pool);
    st_vec v = ST_VEC(st_cat_chunk);
    int lfd = -1, rc;
    ST_TRY(rc = st_name_check(err, "region", region));
    ST_TRY(rc = st_name_check(err, "N-d array", name));
    ST_TRY(rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &rec));
    ST_TRY(rc = migrate_target(pool, region, name, tier, "chunk", &first_chunk, &last_chunk, &t));
    /* writers wait while chunks move (a write would replace a chunk under us) */
    ST_TRY(rc = lfd = st_nd_lock_writer(&x, &rec));
    rc = st_cat_nd_chunks(err, st_pool_cat(pool), rec.id, (int64_t)first_chunk, (int64_t)last_chunk,
                          st_nd_push_chunk, &v);
    if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory listing chunks");
    ST_TRY(rc);
    const st_cat_chunk *c = v.v;
    /* capacity: what moves in must fit (staged copies make room) */
    uint64_t incoming = 0;
    for (size_t i = 0; i < v.n; i++)
        if (c[i].tier_id != t.id) incoming += c[i].bytes;
    if (t.capacity > 0) ST_TRY(rc = st_nd_evict(&x, t.id, incoming));
    uint64_t done_b = 0;
    st_pool_work(pool, "bytes", 0, incoming, "migrate %s/%s to %s", region, name, tier);
    for (size_t i = 0; i < v.n;) {
        size_t idx[MOVE_BATCH];
        int nb = 0;
        for (; i < v.n && nb < MOVE_BATCH; i++)
            if (c[i].tier_id != t.id) idx[nb++] = i;
        if (nb > 0) ST_TRY(rc = move_chunks(pool, &x, &rec, t.id, c, idx, nb, moved));
        for (int k = 0; k < nb; k++) done_b += c[idx[k]].bytes;
        if (nb > 0)
            st_pool_work(pool, "bytes", done_b, incoming, "migrate %s/%s to %s", region, name,
                         tier);
    }
    /* a whole array moved: its new data goes there too */
    if (first_chunk == 0 && last_chunk == INT64_MAX && rec.tier_id != t.id)
        rc = st_cat_nd_set_tier(err, st_pool_cat(pool), rec.id, t.id);
done:
    st_vec_free(&v);
    st_cat_unlock(x.cat, lfd);
    return rc;
}

/* ---- datasets ------------------------------------------------------------------------------- */

#define MOVE_ROWS 32 /* batch columns made durable together and switched in one transaction */

static int push_move(void *vctx, const st_cat_bmove *m)
{
    st_cat_bmove *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *m;
    return 0;
}

/* FILE's name on a tier: ".zst" added on an archive, dropped elsewhere. */
static void tier_name(const char *file, int archive, char out[ST_CAT_FILE])
{
    size_t n = strlen(file);
    if (st_chunk_is_zst(file)) n -= 4;
    snprintf(out, ST_CAT_FILE, "%.*s%s", (int)n, file, archive ? ".zst" : "");
}

/* Copy FILE of D from tier FROM into DDIR as NAME; *STORED += its new size. */
static int copy_file(strata_pool *pool, const strata_dataset *ds, int64_t from, const char *file,
                     const char *ddir, const char *name, int level, uint64_t *stored)
{
    char spath[ST_PATH_MAX];
    st_chunkbuf cb;
    int rc;
    if ((rc = st_bcol_path(pool, st_dataset_rec(ds), st_dataset_path(ds), from, file, spath)) < 0)
        return rc;
    if ((rc = st_chunk_read(st_pool_err(pool), spath, &cb)) < 0) return rc;
    uint64_t size = 0;
    rc = st_chunk_write(st_pool_err(pool), ddir, name, cb.info.dtype, cb.info.ndim, cb.info.shape,
                        cb.info.fortran_order, cb.data,
                        cb.info.count * strata_dtype_size(cb.info.dtype), level, &size);
    st_chunk_release(&cb);
    *stored += size;
    return rc;
}

static void remove_file(strata_pool *pool, const strata_dataset *ds, int64_t tier, const char *file)
{
    char path[ST_PATH_MAX];
    if (file[0] != '\0' &&
        st_bcol_path(pool, st_dataset_rec(ds), st_dataset_path(ds), tier, file, path) == STRATA_OK)
        unlink(path);
}

/* Move rows M[0..N) to tier T (directory DDIR). */
static int move_rows(strata_pool *pool, strata_dataset *ds, const st_cat_tier *t, const char *ddir,
                     const st_cat_bmove *m, int n, uint64_t *moved)
{
    st_err *err = st_pool_err(pool);
    int archive = t->kind == STRATA_TIER_ARCHIVE;
    int level = archive ? ST_ARCHIVE_ZSTD : 0;
    char files[MOVE_ROWS][ST_BCOL_FILES][ST_CAT_FILE];
    uint64_t stored[MOVE_ROWS];
    int switched[MOVE_ROWS] = {0};
    int rc, k, copied = 0, in_tx = 0;
    memset(files, 0, sizeof files);
    for (k = 0; k < n; k++) {
        stored[k] = 0;
        copied = k + 1;
        for (int f = 0; f < ST_BCOL_FILES; f++) {
            if (m[k].files[f][0] == '\0') continue;
            tier_name(m[k].files[f], archive, files[k][f]);
            ST_TRY(rc = copy_file(pool, ds, m[k].tier_id, m[k].files[f], ddir, files[k][f], level,
                                  &stored[k]));
        }
    }
    ST_TRY(rc = st_fsync_dir(err, ddir));
    ST_TRY(rc = st_cat_begin(err, st_pool_cat(pool)));
    in_tx = 1;
    for (k = 0; k < n; k++) {
        ST_TRY(rc = st_cat_bcol_move(err, st_pool_cat(pool), &m[k], t->id, files[k], stored[k]));
        switched[k] = rc;
    }
    rc = st_cat_commit(err, st_pool_cat(pool));
done:
    if (in_tx && rc < 0) st_cat_rollback(st_pool_cat(pool)); /* a no-op after a failed commit */
    /* after the commit the sources go; after a failure (or a row gc dropped) the copies */
    for (k = 0; k < copied; k++) {
        int keep_new = rc == STRATA_OK && switched[k];
        int64_t tier = keep_new ? m[k].tier_id : t->id;
        for (int f = 0; f < ST_BCOL_FILES; f++)
            remove_file(pool, ds, tier, keep_new ? m[k].files[f] : files[k][f]);
        if (keep_new) (*moved)++;
    }
    return rc;
}

int strata_dataset_migrate(strata_pool *pool, const char *region, const char *name,
                           const char *tier, uint64_t first_batch, uint64_t last_batch,
                           uint64_t *moved)
{
    uint64_t local = 0;
    if (moved == NULL) moved = &local;
    *moved = 0;
    if (pool == NULL || st_pool_cat(pool) == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_cat_tier t;
    int rc = migrate_target(pool, region, name, tier, "batch", &first_batch, &last_batch, &t);
    if (rc < 0) return rc;
    strata_dataset *ds;
    if ((rc = st_dataset_open(pool, region, name, 1, &ds)) < 0) return rc;
    /* no publish or update while the files move */
    if ((rc = st_dataset_lock(ds)) < 0) {
        strata_dataset_close(ds);
        return rc;
    }
    st_vec v = ST_VEC(st_cat_bmove);
    ST_TRY(rc =
               st_cat_bcol_movable(err, st_pool_cat(pool), st_dataset_rec(ds)->id,
                                   (int64_t)first_batch, (int64_t)last_batch, t.id, push_move, &v));
    const st_cat_bmove *m = v.v;
    /* capacity: what moves in must fit (staged copies of N-d chunks make room) */
    uint64_t incoming = 0;
    for (size_t i = 0; i < v.n; i++) incoming += m[i].stored;
    if (t.capacity > 0) {
        st_ndctx x;
        st_ndctx_init(&x, pool);
        ST_TRY(rc = st_nd_evict(&x, t.id, incoming));
    }
    char ddir[ST_PATH_MAX];
    if (v.n > 0) ST_TRY(rc = st_dataset_tier_dir(pool, st_dataset_rec(ds), t.id, 1, ddir));
    uint64_t done_b = 0;
    st_pool_work(pool, "bytes", 0, incoming, "migrate %s/%s to %s", region, name, tier);
    for (size_t i = 0; i < v.n; i += MOVE_ROWS) {
        int n = v.n - i < MOVE_ROWS ? (int)(v.n - i) : MOVE_ROWS;
        ST_TRY(rc = move_rows(pool, ds, &t, ddir, &m[i], n, moved));
        for (int k = 0; k < n; k++) done_b += m[i + (size_t)k].stored;
        st_pool_work(pool, "bytes", done_b, incoming, "migrate %s/%s to %s", region, name, tier);
    }
done:
    st_vec_free(&v);
    st_dataset_unlock(ds);
    strata_dataset_close(ds);
    return rc;
}
