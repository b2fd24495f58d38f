/*
 * array.c -- the lifecycle of arrays: create (durably), open (map), close, delete, stat, list.
 *
 * An array is one NPY file (strings: an offsets file and a bytes file) in its region's
 * directory, mapped shared into every process that opens it. Creation follows the commit
 * protocol: write under a temporary name, fsync, rename, fsync the directory, and only then
 * insert the catalog row. Deletion is the reverse: catalog row first, files after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "pool/pool_int.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/npy.h"
#include "util/vec.h"

/* Largest array, in bytes of data: keeps every offset computation far from overflow. */
#define ST_ARRAY_MAX_BYTES ((uint64_t)1 << 56)

int st_array_check(strata_array *a)
{
    if (a == NULL) return STRATA_EINVAL;
    if (a->magic == ST_ARRAY_CLOSED)
        return st_error(&a->pool->err, STRATA_EINVAL, "array handle was already closed");
    if (a->magic != ST_ARRAY_LIVE) return STRATA_EINVAL;
    if (atomic_load_explicit(&a->deleted, memory_order_relaxed))
        return st_error(&a->pool->err, STRATA_ENOTFOUND, "array '%s/%s' was deleted", a->region,
                        a->name);
    return STRATA_OK;
}

/* Write one NPY file: header for COUNT elements of DESCR, then SIZE bytes of DATA (zeros when
 * DATA is NULL), as DIR/NAME. */
static int write_npy(st_err *err, const char *dir, const char *name, const char *descr,
                     uint64_t count, uint64_t size, const void *data)
{
    char hdr[ST_NPY_HEADER_MAX];
    size_t hlen = st_npy_header(hdr, descr, count);
    st_wfile w;
    int rc = st_wfile_open(err, &w, dir);
    if (rc < 0) return rc;
    ST_TRY(rc = st_pwrite_full(err, w.fd, hdr, hlen, 0, w.tmp));
    if (data != NULL && size > 0) ST_TRY(rc = st_pwrite_full(err, w.fd, data, size, hlen, w.tmp));
    if (data == NULL && ftruncate(w.fd, (off_t)(hlen + size)) != 0)
        rc = st_error_errno(err, errno, "cannot size '%s'", w.tmp);
done:
    if (rc == STRATA_OK) return st_wfile_publish(err, &w, dir, name);
    st_wfile_abort(&w);
    return rc;
}

int st_array_write_files(st_err *err, const char *dir, strata_dtype dtype, uint64_t n,
                         const void *data, const char *bytes, char *file, char *bytes_file)
{
    char tok[ST_TOKEN_LEN + 1];
    st_random_token(tok);
    snprintf(file, ST_CAT_FILE, "%s.npy", tok);
    bytes_file[0] = '\0';
    uint64_t count = dtype == STRATA_STR ? n + 1 : n;
    int rc = write_npy(err, dir, file, st_dtype_descr(dtype), count,
                       count * strata_dtype_size(dtype), data);
    if (rc < 0 || dtype != STRATA_STR) return rc;
    uint64_t nbytes = data != NULL ? (uint64_t)((const int64_t *)data)[n] : 0;
    snprintf(bytes_file, ST_CAT_FILE, "%s.bytes.npy", tok);
    rc = write_npy(err, dir, bytes_file, "|u1", nbytes, nbytes, bytes);
    if (rc < 0) {
        char path[ST_PATH_MAX];
        if (st_path(NULL, path, "%s/%s", dir, file) == STRATA_OK) unlink(path);
        bytes_file[0] = '\0';
    }
    return rc;
}

/* Map the NPY file at PATH and check it holds COUNT elements of descr-dtype WANT. */
static int map_npy(strata_pool *pool, const char *what, const char *path, int *fd_io, int *writable,
                   strata_dtype want, uint64_t count, void **map, size_t *map_len, char **data)
{
    st_err *err = &pool->err;
    int fd = *fd_io;
    if (fd < 0) {
        fd = open(path, (*writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 && *writable && (errno == EACCES || errno == EROFS)) {
            *writable = 0;
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            if (errno == ENOENT)
                return st_error(err, STRATA_ECORRUPT,
                                "%s is in the catalog but its file '%s' is missing; run "
                                "'strata check'",
                                what, path);
            return st_error_errno(err, errno, "cannot open %s file '%s'", what, path);
        }
    }
    *fd_io = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) return st_error_errno(err, errno, "cannot examine '%s'", path);
    size_t len = (size_t)st.st_size;
    if (len < 10)
        return st_error(err, STRATA_ECORRUPT, "file '%s' of %s is truncated (%zu bytes)", path,
                        what, len);
    void *m = mmap(NULL, len, PROT_READ | (*writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return st_error_errno(err, errno, "cannot map '%s'", path);
    *map = m;
    *map_len = len;
    st_npy_info info;
    int rc = st_npy_parse(err, m, len, path, &info);
    if (rc < 0) {
        char why[ST_ERRMSG_MAX];
        st_err_copy(err, why, sizeof why);
        return st_error(err, STRATA_ECORRUPT, "file of %s is damaged: %s", what, why);
    }
    size_t esz = strata_dtype_size(want);
    strata_dtype stored = want == STRATA_STR ? STRATA_I64 : want; /* offsets are int64 */
    if (info.dtype != stored || info.count != count || info.ndim != 1 ||
        info.data_offset + count * esz > len)
        return st_error(err, STRATA_ECORRUPT,
                        "file '%s' of %s does not match the catalog (it holds %llu elements of "
                        "'%s' in %zu bytes; the catalog says %llu of '%s')",
                        path, what, (unsigned long long)info.count, info.descr, len,
                        (unsigned long long)count, st_dtype_descr(want));
    /* mapped in place and read with typed loads: Strata writes 64-byte aligned headers */
    if (!st_npy_aligned((char *)m + info.data_offset, stored))
        return st_error(err, STRATA_ECORRUPT,
                        "file '%s' of %s is damaged: its data starts at byte %zu, not aligned "
                        "for %s",
                        path, what, info.data_offset, strata_dtype_name(stored));
    *data = (char *)m + info.data_offset;
    return STRATA_OK;
}

static void array_unmap(strata_array *a)
{
    if (a->map != NULL) munmap(a->map, a->map_len);
    if (a->bmap != NULL) munmap(a->bmap, a->bmap_len);
    if (a->fd >= 0) close(a->fd); /* also releases an OFD lock */
    a->map = a->bmap = NULL;
    a->fd = -1;
    free(a->region);
    free(a->name);
    free(a->path);
    free(a->bytes_path);
    a->region = a->name = a->path = a->bytes_path = NULL;
}

int st_array_open_rec(strata_pool *pool, const st_cat_array *rec, strata_array **out)
{
    st_err *err = &pool->err;
    char dir[ST_PATH_MAX], path[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "array '%s/%s'", rec->region, rec->name);
    strata_array *a = calloc(1, sizeof *a);
    if (a == NULL) return st_error(err, STRATA_ENOMEM, "out of memory opening %s", what);
    a->pool = pool;
    a->fd = -1;
    a->lock_mode = -1;
    a->id = rec->id;
    a->dtype = (strata_dtype)rec->dtype;
    a->length = rec->length;
    a->created_ns = rec->created_ns;
    a->writable = 1;
    int rc = STRATA_OK;
    if (!st_dtype_valid(rec->dtype)) {
        rc = st_error(err, STRATA_ECORRUPT, "%s has unknown dtype %d in the catalog", what,
                      rec->dtype);
        goto done;
    }
    ST_TRY(rc = st_region_dir(pool, rec->region_dir, dir));
    ST_TRY(rc = st_path(err, path, "%s/%s", dir, rec->file));
    a->region = strdup(rec->region);
    a->name = strdup(rec->name);
    a->path = strdup(path);
    if (a->region == NULL || a->name == NULL || a->path == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory opening %s", what);
        goto done;
    }
    uint64_t count = a->dtype == STRATA_STR ? a->length + 1 : a->length;
    ST_TRY(rc = map_npy(pool, what, path, &a->fd, &a->writable, a->dtype, count, &a->map,
                        &a->map_len, &a->data));
    if (a->dtype == STRATA_STR) {
        const int64_t *off = (const int64_t *)a->data;
        ST_TRY(rc = st_path(err, path, "%s/%s", dir, rec->bytes_file));
        if ((a->bytes_path = strdup(path)) == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory opening %s", what);
            goto done;
        }
        int bfd = -1, bw = 0;
        if (off[0] != 0 || off[a->length] < 0) {
            rc = st_error(err, STRATA_ECORRUPT, "offsets of string %s are damaged", what);
            goto done;
        }
        a->nbytes = (uint64_t)off[a->length];
        rc = map_npy(pool, what, path, &bfd, &bw, STRATA_U8, a->nbytes, &a->bmap, &a->bmap_len,
                     &a->bytes);
        if (bfd >= 0) close(bfd);
        if (rc < 0) goto done;
    }
    /* Link into the pool's live list. */
    a->magic = ST_ARRAY_LIVE;
    a->next = pool->live;
    if (pool->live != NULL) pool->live->prev = a;
    pool->live = a;
    *out = a;
    a = NULL;
done:
    if (a != NULL) {
        array_unmap(a);
        free(a);
    }
    return rc;
}

void strata_array_close(strata_array *a)
{
    if (a == NULL || a->magic != ST_ARRAY_LIVE) return;
    strata_pool *pool = a->pool;
    array_unmap(a);
    a->magic = ST_ARRAY_CLOSED;
    /* Move from the live list to the head of the tombstones. */
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        pool->live = a->next;
    if (a->next != NULL) a->next->prev = a->prev;
    a->prev = NULL;
    a->next = pool->closed;
    if (pool->closed != NULL)
        pool->closed->prev = a;
    else
        pool->closed_tail = a;
    pool->closed = a;
    if (++pool->nclosed > ST_TOMBSTONES_MAX) {
        strata_array *old = pool->closed_tail;
        pool->closed_tail = old->prev;
        pool->closed_tail->next = NULL;
        pool->nclosed--;
        free(old);
    }
}

/* Validate the arguments every create shares, and return the region record. */
static int create_prologue(strata_pool *pool, const char *region, const char *name, int dtype,
                           uint64_t length, st_cat_region *r)
{
    st_err *err = &pool->err;
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "array", name)) < 0) return rc;
    if (!st_dtype_valid(dtype))
        return st_error(err, STRATA_ETYPE, "cannot create array '%s/%s': unknown dtype %d", region,
                        name, dtype);
    if (length > ST_ARRAY_MAX_BYTES / 8)
        return st_error(err, STRATA_ERANGE, "cannot create array '%s/%s': length %llu is too large",
                        region, name, (unsigned long long)length);
    rc = st_cat_region_get(err, pool->cat, region, r);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc,
                        "cannot create array '%s/%s': region '%s' not found; create it first",
                        region, name, region);
    if (rc < 0) return rc;
    st_cat_array existing;
    rc = st_cat_array_get(err, pool->cat, region, name, &existing);
    if (rc == STRATA_OK)
        return st_error(err, STRATA_EEXIST, "array '%s/%s' already exists", region, name);
    return rc == STRATA_ENOTFOUND ? STRATA_OK : rc;
}

/* Check that the LENGTH values at DATA are valid for DTYPE (bools must be 0 or 1). */
static int check_values(st_err *err, const char *what, strata_dtype dtype, uint64_t length,
                        const void *data)
{
    if (dtype != STRATA_BOOL || data == NULL) return STRATA_OK;
    const unsigned char *b = data;
    for (uint64_t i = 0; i < length; i++)
        if (b[i] > 1)
            return st_error(err, STRATA_EINVAL, "%s: bool value %u at position %llu is not 0 or 1",
                            what, b[i], (unsigned long long)i);
    return STRATA_OK;
}

static int array_create(strata_pool *pool, const char *region, const char *name, strata_dtype dtype,
                        uint64_t length, const void *data, const char *bytes, strata_array **out)
{
    if (out != NULL) *out = NULL;
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = &pool->err;
    st_cat_region r;
    st_cat_array rec;
    char dir[ST_PATH_MAX];
    int rc = create_prologue(pool, region, name, (int)dtype, length, &r);
    if (rc < 0) return rc;
    memset(&rec, 0, sizeof rec);
    rec.region_id = r.id;
    snprintf(rec.region, sizeof rec.region, "%s", region);
    snprintf(rec.region_dir, sizeof rec.region_dir, "%s", r.dir);
    snprintf(rec.name, sizeof rec.name, "%s", name);
    rec.dtype = (int)dtype;
    rec.length = length;
    rec.created_ns = st_now_ns();
    if ((rc = st_region_dir(pool, r.dir, dir)) < 0) return rc;
    int hold = st_pool_create_begin(pool);
    if (hold < 0) return hold;
    ST_TRY(
        rc = st_array_write_files(err, dir, dtype, length, data, bytes, rec.file, rec.bytes_file));
    ST_TRY(rc = st_fsync_dir(err, dir));
    /* The publish: one catalog row. Before it the files are orphans; after it, an array. */
    ST_TRY(rc = st_cat_array_insert(err, pool->cat, &rec));
done:
    st_pool_create_end(pool, hold);
    if (rc < 0) {
        char path[ST_PATH_MAX];
        if (st_path(NULL, path, "%s/%s", dir, rec.file) == STRATA_OK) unlink(path);
        if (rec.bytes_file[0] && st_path(NULL, path, "%s/%s", dir, rec.bytes_file) == STRATA_OK)
            unlink(path);
        return rc;
    }
    if (out != NULL) return st_array_open_rec(pool, &rec, out);
    return STRATA_OK;
}

int strata_array_create(strata_pool *pool, const char *region, const char *name, strata_dtype dtype,
                        uint64_t length, strata_array **out)
{
    return array_create(pool, region, name, dtype, length, NULL, NULL, out);
}

int strata_array_create_from(strata_pool *pool, const char *region, const char *name,
                             strata_dtype dtype, uint64_t length, const void *data,
                             strata_array **out)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    if (dtype == STRATA_STR)
        return st_error(&pool->err, STRATA_ETYPE,
                        "cannot create string array '%s/%s' from raw data; use "
                        "strata_array_create_str",
                        region ? region : "", name ? name : "");
    if (data == NULL && length > 0)
        return st_error(&pool->err, STRATA_EINVAL, "cannot create array '%s/%s': no data given",
                        region ? region : "", name ? name : "");
    char what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "cannot create array '%s/%s'", region ? region : "",
             name ? name : "");
    int rc = check_values(&pool->err, what, dtype, length, data);
    if (rc < 0) return rc;
    return array_create(pool, region, name, dtype, length, data, NULL, out);
}

int strata_array_create_str(strata_pool *pool, const char *region, const char *name, uint64_t n,
                            const int64_t *offsets, const char *bytes, strata_array **out)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = &pool->err;
    if (offsets == NULL)
        return st_error(err, STRATA_EINVAL, "cannot create string array '%s/%s': no offsets",
                        region ? region : "", name ? name : "");
    if (n > ST_ARRAY_MAX_BYTES / 8)
        return st_error(err, STRATA_ERANGE, "cannot create string array: %llu strings is too many",
                        (unsigned long long)n);
    if (offsets[0] != 0)
        return st_error(err, STRATA_EINVAL,
                        "cannot create string array '%s/%s': offsets[0] is %lld, not 0",
                        region ? region : "", name ? name : "", (long long)offsets[0]);
    for (uint64_t i = 0; i < n; i++)
        if (offsets[i + 1] < offsets[i])
            return st_error(err, STRATA_EINVAL,
                            "cannot create string array '%s/%s': offsets decrease at %llu",
                            region ? region : "", name ? name : "", (unsigned long long)i + 1);
    if ((uint64_t)offsets[n] > ST_ARRAY_MAX_BYTES)
        return st_error(err, STRATA_ERANGE, "cannot create string array: too many bytes");
    if (offsets[n] > 0 && bytes == NULL)
        return st_error(err, STRATA_EINVAL, "cannot create string array '%s/%s': no bytes",
                        region ? region : "", name ? name : "");
    return array_create(pool, region, name, STRATA_STR, n, offsets, bytes, out);
}

/* Check the names and find the catalog record of REGION/NAME. */
static int lookup(strata_pool *pool, const char *region, const char *name, st_cat_array *rec)
{
    st_err *err = &pool->err;
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "array", name)) < 0) return rc;
    return st_cat_array_get(err, pool->cat, region, name, rec);
}

int strata_array_open(strata_pool *pool, const char *region, const char *name, strata_array **out)
{
    if (out != NULL) *out = NULL;
    if (st_pool_check(pool) < 0 || out == NULL) return STRATA_EINVAL;
    st_cat_array rec;
    int rc = lookup(pool, region, name, &rec);
    return rc < 0 ? rc : st_array_open_rec(pool, &rec, out);
}

/* Remove the files of catalog record REC (already deleted from the catalog). Failures leave
 * orphans for gc and are not errors of the delete, which is complete once the row is gone. */
static void remove_files(strata_pool *pool, const st_cat_array *rec)
{
    char dir[ST_PATH_MAX], path[ST_PATH_MAX];
    if (st_path(NULL, dir, "%s/%s/%s", pool->path, ST_POOL_DATA, rec->region_dir) < 0) return;
    if (st_path(NULL, path, "%s/%s", dir, rec->file) == STRATA_OK) unlink(path);
    if (rec->bytes_file[0] && st_path(NULL, path, "%s/%s", dir, rec->bytes_file) == STRATA_OK)
        unlink(path);
}

static int rec_lock_test(strata_pool *pool, const st_cat_array *rec)
{
    char path[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 16];
    int rc = st_path(&pool->err, path, "%s/%s/%s/%s", pool->path, ST_POOL_DATA, rec->region_dir,
                     rec->file);
    if (rc < 0) return rc;
    snprintf(what, sizeof what, "array '%s/%s'", rec->region, rec->name);
    return st_file_lock_test(&pool->err, path, what);
}

int strata_array_delete(strata_pool *pool, const char *region, const char *name)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_cat_array rec;
    int rc = lookup(pool, region, name, &rec);
    if (rc < 0 || (rc = rec_lock_test(pool, &rec)) < 0) return rc;
    if ((rc = st_cat_array_delete(&pool->err, pool->cat, rec.id)) < 0) return rc;
    st_pool_mark_deleted(pool, rec.id);
    remove_files(pool, &rec);
    return STRATA_OK;
}

uint64_t st_array_checksum(const strata_array *a)
{
    size_t esz = strata_dtype_size(a->dtype);
    if (a->dtype != STRATA_STR) return XXH64(a->data, a->length * esz, 0);
    XXH64_state_t *st = XXH64_createState();
    if (st == NULL) return 0;
    XXH64_reset(st, 0);
    XXH64_update(st, a->data, (a->length + 1) * esz);
    XXH64_update(st, a->bytes, a->nbytes);
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}

int strata_array_stat(strata_array *a, unsigned flags, strata_array_info *out)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (out == NULL) return st_error(&a->pool->err, STRATA_EINVAL, "no stat buffer given");
    memset(out, 0, sizeof *out);
    out->region = a->region;
    out->name = a->name;
    out->dtype = a->dtype;
    out->length = a->length;
    out->bytes = a->dtype == STRATA_STR ? (a->length + 1) * 8 + a->nbytes
                                        : a->length * strata_dtype_size(a->dtype);
    out->created_ns = a->created_ns;
    out->path = a->path;
    out->bytes_path = a->bytes_path;
    if (flags & STRATA_STAT_CHECKSUM) {
        out->has_checksum = 1;
        out->checksum = st_array_checksum(a);
    }
    return STRATA_OK;
}

strata_dtype strata_array_dtype(const strata_array *a)
{
    return a->dtype;
}

uint64_t strata_array_length(const strata_array *a)
{
    return a->length;
}

struct list_ctx {
    strata_pool *pool;
    strata_array_list_fn fn;
    void *ctx;
};

static int list_one(void *vctx, const st_cat_array *rec)
{
    struct list_ctx *lc = vctx;
    char path[ST_PATH_MAX], bpath[ST_PATH_MAX];
    strata_array_info info;
    memset(&info, 0, sizeof info);
    info.region = rec->region;
    info.name = rec->name;
    info.dtype = (strata_dtype)rec->dtype;
    info.length = rec->length;
    info.bytes =
        (rec->length + (rec->dtype == STRATA_STR)) * strata_dtype_size((strata_dtype)rec->dtype);
    info.created_ns = rec->created_ns;
    if (st_path(NULL, path, "%s/%s/%s/%s", lc->pool->path, ST_POOL_DATA, rec->region_dir,
                rec->file) == STRATA_OK)
        info.path = path;
    if (rec->bytes_file[0] && st_path(NULL, bpath, "%s/%s/%s/%s", lc->pool->path, ST_POOL_DATA,
                                      rec->region_dir, rec->bytes_file) == STRATA_OK)
        info.bytes_path = bpath;
    return lc->fn(lc->ctx, &info);
}

int strata_array_list(strata_pool *pool, const char *region, strata_array_list_fn fn, void *ctx)
{
    if (st_pool_check(pool) < 0 || fn == NULL) return STRATA_EINVAL;
    int rc = st_name_check(&pool->err, "region", region);
    if (rc < 0) return rc;
    st_cat_region r;
    if ((rc = st_cat_region_get(&pool->err, pool->cat, region, &r)) < 0) return rc;
    struct list_ctx lc = {pool, fn, ctx};
    return st_cat_array_list(&pool->err, pool->cat, r.id, list_one, &lc);
}

/* ---- regions ---------------------------------------------------------------------------- */

int strata_region_create(strata_pool *pool, const char *region)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = &pool->err;
    int rc = st_name_check(err, "region", region);
    if (rc < 0) return rc;
    st_cat_region r;
    rc = st_cat_region_get(err, pool->cat, region, &r);
    if (rc == STRATA_OK) return st_error(err, STRATA_EEXIST, "region '%s' already exists", region);
    if (rc != STRATA_ENOTFOUND) return rc;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", region);
    st_random_token(r.dir);
    r.created_ns = st_now_ns();
    char dir[ST_PATH_MAX], data[ST_PATH_MAX];
    if ((rc = st_region_dir(pool, r.dir, dir)) < 0) return rc;
    if ((rc = st_path(err, data, "%s/%s", pool->path, ST_POOL_DATA)) < 0) return rc;
    int hold = st_pool_create_begin(pool);
    if (hold < 0) return hold;
    ST_TRY(rc = st_mkdir(err, dir, 0));
    ST_TRY(rc = st_fsync_dir(err, data));
    ST_TRY(rc = st_cat_region_insert(err, pool->cat, &r));
done:
    if (rc < 0) rmdir(dir);
    st_pool_create_end(pool, hold);
    return rc;
}

int strata_region_exists(strata_pool *pool, const char *region)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    int rc = st_name_check(&pool->err, "region", region);
    if (rc < 0) return rc;
    st_cat_region r;
    return st_cat_region_get(&pool->err, pool->cat, region, &r);
}

struct region_list_ctx {
    strata_name_fn fn;
    void *ctx;
};

static int region_list_one(void *vctx, const st_cat_region *r)
{
    struct region_list_ctx *lc = vctx;
    return lc->fn(lc->ctx, r->name);
}

int strata_region_list(strata_pool *pool, strata_name_fn fn, void *ctx)
{
    if (st_pool_check(pool) < 0 || fn == NULL) return STRATA_EINVAL;
    struct region_list_ctx lc = {fn, ctx};
    return st_cat_region_list(&pool->err, pool->cat, region_list_one, &lc);
}

/* Collect the arrays of a region being deleted. */
static int collect_rec(void *vctx, const st_cat_array *rec)
{
    st_cat_array *slot = st_vec_push(vctx);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *rec;
    return 0;
}

int strata_region_delete(strata_pool *pool, const char *region, unsigned flags)
{
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = &pool->err;
    int rc = st_name_check(err, "region", region);
    if (rc < 0) return rc;
    st_cat_region r;
    if ((rc = st_cat_region_get(err, pool->cat, region, &r)) < 0) return rc;
    st_vec rv = ST_VEC(st_cat_attr_def);
    rc = st_cat_app_schema(err, pool->cat, r.id, &rv);
    st_vec_free(&rv);
    if (rc != STRATA_ENOTFOUND)
        return rc < 0 ? rc
                      : st_error(err, STRATA_EUNSUPPORTED,
                                 "cannot delete region '%s': it is an application's (its runs and "
                                 "saved iterations live in the catalog), and deleting an "
                                 "application is not supported yet",
                                 region);
    rv = (st_vec)ST_VEC(st_cat_array);
    const st_cat_array *recs = NULL;
    rc = st_cat_array_list(err, pool->cat, r.id, collect_rec, &rv);
    if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory deleting region '%s'", region);
    ST_TRY(rc);
    recs = rv.v;
    for (size_t i = 0; !(flags & STRATA_FORCE) && i < rv.n; i++) {
        rc = rec_lock_test(pool, &recs[i]);
        if (rc == STRATA_ELOCKED)
            st_error(err, rc,
                     "cannot delete region '%s': array '%s' is locked; unlock it or force the "
                     "delete",
                     region, recs[i].name);
        ST_TRY(rc);
    }
    ST_TRY(rc = st_cat_begin(err, pool->cat));
    rc = st_cat_region_delete(err, pool->cat, r.id);
    if (rc < 0) {
        st_cat_rollback(pool->cat);
        goto done;
    }
    ST_TRY(rc = st_cat_commit(err, pool->cat));
    for (size_t i = 0; i < rv.n; i++) {
        st_pool_mark_deleted(pool, recs[i].id);
        remove_files(pool, &recs[i]);
    }
    char dir[ST_PATH_MAX];
    if (st_region_dir(pool, r.dir, dir) == STRATA_OK) st_rmdir_files(NULL, dir);
done:
    st_vec_free(&rv);
    return rc;
}
