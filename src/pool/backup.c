/*
 * backup.c -- named, checksummed copies of arrays (OpenFAM's fam_backup / fam_restore).
 *
 * A backup is a copy of the array's files in POOL/backups, written durably before its catalog
 * row, with the xxHash64 of the data as written (computed from the copy, so stores racing with
 * the backup cannot make the recorded checksum disagree with the bytes kept).
 */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "pool/pool_int.h"
#include "util/name.h"
#include "util/npy.h"

static int backup_dir(strata_pool *pool, char out[ST_PATH_MAX])
{
    return st_path(&pool->err, out, "%s/%s", pool->path, ST_POOL_BACKUPS);
}

/* The mapped files of a backup, checked against its catalog row and its checksum. */
typedef struct {
    st_npy_map data, bytes;
} backup_maps;

static void backup_unmap(backup_maps *bm)
{
    st_npy_unmap(&bm->data);
    st_npy_unmap(&bm->bytes);
}

static int backup_map_err(strata_pool *pool, st_err *err, const st_cat_backup *b, backup_maps *bm)
{
    char dir[ST_PATH_MAX], path[ST_PATH_MAX];
    memset(bm, 0, sizeof *bm);
    uint64_t count = b->dtype == STRATA_STR ? b->length + 1 : b->length;
    XXH64_state_t *st = NULL;
    int rc;
    ST_TRY(rc = backup_dir(pool, dir));
    ST_TRY(rc = st_path(err, path, "%s/%s", dir, b->file));
    ST_TRY(rc = st_npy_map_file(err, path, &bm->data));
    if (bm->data.info.count != count || bm->data.info.ndim != 1) {
        rc = STRATA_ECORRUPT;
        goto done;
    }
    if ((st = XXH64_createState()) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory checking backup '%s'", b->name);
        goto done;
    }
    XXH64_reset(st, 0);
    XXH64_update(st, bm->data.data, count * strata_dtype_size((strata_dtype)b->dtype));
    if (b->dtype == STRATA_STR) {
        ST_TRY(rc = st_path(err, path, "%s/%s", dir, b->bytes_file));
        ST_TRY(rc = st_npy_map_file(err, path, &bm->bytes));
        const int64_t *off = (const int64_t *)bm->data.data;
        if ((uint64_t)off[b->length] != bm->bytes.info.count) {
            rc = STRATA_ECORRUPT;
            goto done;
        }
        XXH64_update(st, bm->bytes.data, bm->bytes.info.count);
    }
    if (XXH64_digest(st) != b->checksum) rc = STRATA_ECORRUPT;
done:
    XXH64_freeState(st);
    if (rc < 0) {
        backup_unmap(bm);
        if (rc == STRATA_ENOTFOUND || rc == STRATA_EINVAL || rc == STRATA_ECORRUPT ||
            rc == STRATA_ETYPE)
            return st_error(err, STRATA_ECORRUPT,
                            "backup '%s' is damaged: its files are missing or do not match its "
                            "checksum",
                            b->name);
    }
    return rc;
}

static int backup_map(strata_pool *pool, const st_cat_backup *b, backup_maps *bm)
{
    return backup_map_err(pool, &pool->err, b, bm);
}

int st_backup_verify(strata_pool *pool, const st_cat_backup *b, st_err *err)
{
    backup_maps bm;
    int rc = backup_map_err(pool, err, b, &bm);
    if (rc == STRATA_OK) backup_unmap(&bm);
    return rc;
}

/* B->checksum := the checksum of the backup files B names in DIR, read back as a restore would
 * read them. */
static int backup_checksum(st_err *err, const char *dir, strata_dtype dtype, st_cat_backup *b)
{
    char path[ST_PATH_MAX];
    st_npy_map m = {0}, mb = {0};
    int rc;
    ST_TRY(rc = st_path(err, path, "%s/%s", dir, b->file));
    ST_TRY(rc = st_npy_map_file(err, path, &m));
    if (dtype == STRATA_STR) {
        ST_TRY(rc = st_path(err, path, "%s/%s", dir, b->bytes_file));
        ST_TRY(rc = st_npy_map_file(err, path, &mb));
    }
    XXH64_state_t *st = XXH64_createState();
    if (st == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    XXH64_reset(st, 0);
    XXH64_update(st, m.data, m.info.count * strata_dtype_size(m.info.dtype));
    if (mb.map != NULL) XXH64_update(st, mb.data, mb.info.count);
    b->checksum = XXH64_digest(st);
    XXH64_freeState(st);
done:
    st_npy_unmap(&m);
    st_npy_unmap(&mb);
    return rc;
}

int strata_array_backup(strata_array *a, const char *backup)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    strata_pool *pool = a->pool;
    st_err *err = &pool->err;
    if ((rc = st_name_check(err, "backup", backup)) < 0) return rc;
    st_cat_backup b;
    rc = st_cat_backup_get(err, pool->cat, backup, &b);
    if (rc == STRATA_OK) return st_error(err, STRATA_EEXIST, "backup '%s' already exists", backup);
    if (rc != STRATA_ENOTFOUND) return rc;
    memset(&b, 0, sizeof b);
    snprintf(b.name, sizeof b.name, "%s", backup);
    snprintf(b.source, sizeof b.source, "%s/%s", a->region, a->name);
    b.dtype = (int)a->dtype;
    b.length = a->length;
    b.created_ns = st_now_ns();
    char dir[ST_PATH_MAX];
    if ((rc = backup_dir(pool, dir)) < 0) return rc;
    int hold = st_pool_create_begin(pool);
    if (hold < 0) return hold;
    rc = st_array_write_files(err, dir, a->dtype, a->length, a->data, a->bytes, b.file,
                              b.bytes_file);
    if (rc < 0) { /* it removed what it wrote */
        st_pool_create_end(pool, hold);
        return rc;
    }
    char path[ST_PATH_MAX];
    ST_TRY(rc = backup_checksum(err, dir, a->dtype, &b));
    ST_TRY(rc = st_fsync_dir(err, dir));
    ST_TRY(rc = st_cat_backup_insert(err, pool->cat, &b));
done:
    st_pool_create_end(pool, hold);
    if (rc < 0) {
        if (st_path(NULL, path, "%s/%s", dir, b.file) == STRATA_OK) st_unlink(NULL, path);
        if (b.bytes_file[0] && st_path(NULL, path, "%s/%s", dir, b.bytes_file) == STRATA_OK)
            st_unlink(NULL, path);
    }
    return rc;
}

/* Restore backup B (mapped in BM) as the new array REGION/NAME, creating the region if need
 * be. */
static int restore_new(strata_pool *pool, const st_cat_backup *b, const backup_maps *bm,
                       const char *region, const char *name)
{
    int rc = strata_region_exists(pool, region);
    if (rc == STRATA_ENOTFOUND) rc = strata_region_create(pool, region);
    if (rc < 0) return rc;
    if (b->dtype == STRATA_STR)
        return strata_array_create_str(pool, region, name, b->length,
                                       (const int64_t *)bm->data.data, bm->bytes.data, NULL);
    return strata_array_create_from(pool, region, name, (strata_dtype)b->dtype, b->length,
                                    bm->data.data, NULL);
}

int strata_backup_restore(strata_pool *pool, const char *backup, const char *region,
                          const char *name)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = &pool->err;
    int rc;
    if ((rc = st_name_check(err, "backup", backup)) < 0) return rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "array", name)) < 0) return rc;
    st_cat_backup b;
    if ((rc = st_cat_backup_get(err, pool->cat, backup, &b)) < 0) return rc;
    backup_maps bm;
    if ((rc = backup_map(pool, &b, &bm)) < 0) return rc;
    strata_array *a = NULL;
    rc = strata_array_open(pool, region, name, &a);
    if (rc == STRATA_ENOTFOUND) {
        rc = restore_new(pool, &b, &bm, region, name);
        goto done;
    }
    ST_TRY(rc);
    if (a->dtype != (strata_dtype)b.dtype || a->dtype == STRATA_STR) {
        rc = st_error(
            err, STRATA_ETYPE, "cannot restore backup '%s' (%s) into array '%s/%s' (%s)%s", backup,
            strata_dtype_name((strata_dtype)b.dtype), region, name, strata_dtype_name(a->dtype),
            a->dtype == STRATA_STR ? ": string arrays are immutable; delete it first" : "");
        goto done;
    }
    if (a->length != b.length) {
        rc = st_error(err, STRATA_ERANGE,
                      "cannot restore backup '%s' of %llu elements into array '%s/%s' of "
                      "%llu",
                      backup, (unsigned long long)b.length, region, name,
                      (unsigned long long)a->length);
        goto done;
    }
    ST_TRY(rc = strata_array_put(a, 0, b.length, bm.data.data));
    rc = strata_array_flush(a);
done:
    strata_array_close(a);
    backup_unmap(&bm);
    return rc;
}

struct backup_list_ctx {
    strata_name_fn fn;
    void *ctx;
};

static int backup_list_one(void *vctx, const st_cat_backup *b)
{
    struct backup_list_ctx *lc = vctx;
    return lc->fn(lc->ctx, b->name);
}

int strata_backup_list(strata_pool *pool, strata_name_fn fn, void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    struct backup_list_ctx lc = {fn, ctx};
    return st_cat_backup_list(&pool->err, pool->cat, backup_list_one, &lc);
}

int strata_backup_delete(strata_pool *pool, const char *backup)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = &pool->err;
    int rc = st_name_check(err, "backup", backup);
    if (rc < 0) return rc;
    st_cat_backup b;
    if ((rc = st_cat_backup_get(err, pool->cat, backup, &b)) < 0) return rc;
    if ((rc = st_cat_backup_delete(err, pool->cat, b.id)) < 0) return rc;
    char dir[ST_PATH_MAX], path[ST_PATH_MAX];
    if (backup_dir(pool, dir) == STRATA_OK) {
        if (st_path(NULL, path, "%s/%s", dir, b.file) == STRATA_OK) st_unlink(NULL, path);
        if (b.bytes_file[0] && st_path(NULL, path, "%s/%s", dir, b.bytes_file) == STRATA_OK)
            st_unlink(NULL, path);
    }
    return STRATA_OK;
}
