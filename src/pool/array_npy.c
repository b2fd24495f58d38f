/*
 * array_npy.c -- NPY files in and out of arrays (the formats layer of the CLI's --from/--out).
 */
#include <stdio.h>
#include <string.h>

#include "pool/pool_int.h"
#include "util/dtype.h"
#include "util/npy.h"

int strata_array_create_npy(strata_pool *pool, const char *region, const char *name,
                            const char *path, strata_array **out)
{
    if (out != NULL) *out = NULL;
    if (pool == NULL) return STRATA_EINVAL;
    st_npy_map m;
    int rc;
    ST_TRY(rc = st_npy_map_file(&pool->err, path, &m));
    rc = strata_array_create_from(pool, region, name, m.info.dtype, m.info.count, m.data, out);
done:
    st_npy_unmap(&m);
    return rc;
}

int strata_array_put_npy(strata_array *a, uint64_t start, const char *path)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    st_npy_map m;
    ST_TRY(rc = st_npy_map_file(&a->pool->err, path, &m));
    if (m.info.dtype != a->dtype) {
        rc = st_error(&a->pool->err, STRATA_ETYPE,
                      "'%s' holds %s (npy '%s') but array '%s/%s' is %s", path,
                      strata_dtype_name(m.info.dtype), m.info.descr, a->region, a->name,
                      strata_dtype_name(a->dtype));
        goto done;
    }
    rc = strata_array_put(a, start, m.info.count, m.data);
done:
    st_npy_unmap(&m);
    return rc;
}

int strata_array_get_npy(strata_array *a, uint64_t start, uint64_t count, const char *path)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    st_err *err = &a->pool->err;
    if (a->dtype == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "cannot export string array '%s/%s' as one npy file; its files '%s' and "
                        "'%s' are npy already",
                        a->region, a->name, a->path, a->bytes_path);
    if (start > a->length || count > a->length - start)
        return st_error(err, STRATA_ERANGE,
                        "cannot export elements [%llu, %llu) of array '%s/%s': its length is %llu",
                        (unsigned long long)start, (unsigned long long)(start + count), a->region,
                        a->name, (unsigned long long)a->length);
    char dir[ST_PATH_MAX];
    if ((rc = st_path(err, dir, "%s", path)) < 0) return rc;
    char *slash = strrchr(dir, '/');
    const char *base = path;
    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        base = path + (slash - dir) + 1;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    if (*base == '\0') return st_error(err, STRATA_EINVAL, "'%s' is a directory, not a file", path);
    /* Reuse the array file writer: header + data under a temporary name, then rename. */
    size_t esz = strata_dtype_size(a->dtype);
    char file[ST_CAT_FILE], bytes_file[ST_CAT_FILE];
    rc = st_array_write_files(err, dir, a->dtype, count, a->data + start * esz, NULL, file,
                              bytes_file);
    if (rc < 0) return rc;
    char from[ST_PATH_MAX];
    if ((rc = st_path(err, from, "%s/%s", dir, file)) < 0) return rc;
    if ((rc = st_rename(err, from, path)) < 0) {
        st_unlink(NULL, from);
        return rc;
    }
    return st_fsync_dir(err, dir);
}

int strata_npy_header(strata_dtype dtype, uint64_t n, char *out, size_t outlen)
{
    if (!st_dtype_valid((int)dtype) || dtype == STRATA_STR || out == NULL) return STRATA_EINVAL;
    char hdr[ST_NPY_HEADER_MAX];
    size_t len = st_npy_header(hdr, st_dtype_descr(dtype), n);
    if (len > outlen) return STRATA_ERANGE;
    memcpy(out, hdr, len);
    return (int)len;
}
