/*
 * chunkfile.c -- read and write the NPY files of N-d arrays, plain or zstd-compressed.
 */
#include "util/chunkfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "util/dtype.h"
#include "util/fileio.h"

int st_chunk_is_zst(const char *file)
{
    size_t n = strlen(file);
    return n > 4 && strcmp(file + n - 4, ".zst") == 0;
}

void st_chunk_release(st_chunkbuf *c)
{
    if (c->base != NULL) {
        if (c->mapped)
            st_unmap_file(c->base, c->len);
        else
            free(c->base);
    }
    memset(c, 0, sizeof *c);
}

/* Decompress the zstd frame of LEN bytes at SRC (the file PATH) into a new buffer. */
static int unzstd(st_err *err, const void *src, size_t len, const char *path, st_chunkbuf *out)
{
    unsigned long long size = ZSTD_getFrameContentSize(src, len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > SIZE_MAX / 2)
        return st_error(err, STRATA_ECORRUPT, "'%s' is not a zstd frame with a known size", path);
    void *buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory decompressing '%s' (%llu bytes)", path,
                        size);
    size_t got = ZSTD_decompress(buf, (size_t)size, src, len);
    if (ZSTD_isError(got) || got != size) {
        free(buf);
        return st_error(err, STRATA_ECORRUPT, "'%s' does not decompress: %s", path,
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
    }
    out->base = buf;
    out->len = (size_t)size;
    out->mapped = 0;
    return STRATA_OK;
}

/* The bytes of the chunk file PATH, open as FD, into OUT: a small plain file is read whole (one
 * copy from the page cache costs less than mapping it and taking a page fault per row touched);
 * large files (contiguous arrays) are mapped, so that a region read touches only its pages; a
 * zstd file is decompressed from its mapping. */
static int chunk_load(st_err *err, int fd, const char *path, st_chunkbuf *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return st_error_errno(err, errno, "cannot examine '%s'", path);
    if (st.st_size < 10)
        return st_error(err, STRATA_ECORRUPT, "'%s' is truncated (%lld bytes)", path,
                        (long long)st.st_size);
    size_t len = (size_t)st.st_size;
    if (!st_chunk_is_zst(path) && len <= ST_CHUNK_READ_MAX) {
        void *buf = malloc(len);
        if (buf == NULL) return st_error(err, STRATA_ENOMEM, "out of memory reading '%s'", path);
        int rc = st_pread_full(err, fd, buf, len, 0, path);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        out->stored = len;
        out->base = buf;
        out->len = len;
        out->mapped = 0;
        return STRATA_OK;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return st_error_errno(err, errno, "cannot map '%s'", path);
    out->stored = len;
    if (!st_chunk_is_zst(path)) {
        out->base = map;
        out->len = len;
        out->mapped = 1;
        return STRATA_OK;
    }
    int rc = unzstd(err, map, len, path, out);
    st_unmap_file(map, len);
    return rc;
}

int st_chunk_read(st_err *err, const char *path, st_chunkbuf *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return st_error(err, STRATA_ENOTFOUND, "file '%s' not found", path);
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    int rc = chunk_load(err, fd, path, out);
    close(fd);
    if (rc < 0) return rc;
    ST_TRY(rc = st_npy_parse_nd(err, out->base, out->len, path, &out->info));
    size_t esz = strata_dtype_size(out->info.dtype);
    if (out->info.count > (out->len - out->info.data_offset) / esz) {
        rc = st_error(err, STRATA_ECORRUPT, "'%s' is truncated: its header announces %llu elements",
                      path, (unsigned long long)out->info.count);
        goto done;
    }
    out->data = (const char *)out->base + out->info.data_offset;
    if (!st_npy_aligned(out->data, out->info.dtype)) {
        /* a header whose length leaves the elements unaligned (not one Strata wrote): copy
         * them to an aligned allocation, so that typed loads from data are aligned */
        size_t bytes = (size_t)out->info.count * strata_dtype_size(out->info.dtype);
        void *copy = malloc(bytes > 0 ? bytes : 1);
        if (copy == NULL) {
            rc = st_error(err, STRATA_ENOMEM,
                          "out of memory copying the %zu bytes of '%s' (its data is not "
                          "aligned for its type); save it again with numpy.save",
                          bytes, path);
            goto done;
        }
        memcpy(copy, out->data, bytes);
        uint64_t stored = out->stored;
        st_npy_info info = out->info;
        st_chunk_release(out);
        out->base = copy;
        out->len = bytes;
        out->mapped = 0;
        out->data = copy;
        out->info = info;
        out->stored = stored;
    }
done:
    if (rc < 0) st_chunk_release(out);
    return rc;
}

static int map_any(st_err *err, const char *path, int load, st_npy_map *m)
{
    if (!st_chunk_is_zst(path))
        return load ? st_npy_load_file(err, path, m) : st_npy_map_file(err, path, m);
    memset(m, 0, sizeof *m);
    st_chunkbuf cb;
    int rc = st_chunk_read(err, path, &cb);
    if (rc < 0) return rc;
    m->map = cb.base;
    m->len = cb.len;
    m->heap = 1;
    m->data = cb.data;
    m->info = cb.info;
    return STRATA_OK;
}

int st_npy_map_any(st_err *err, const char *path, st_npy_map *m)
{
    return map_any(err, path, 0, m);
}

int st_npy_load_any(st_err *err, const char *path, st_npy_map *m)
{
    return map_any(err, path, 1, m);
}

int st_chunk_write(st_err *err, const char *dir, const char *name, strata_dtype dtype, int ndim,
                   const uint64_t *shape, int fortran, const void *data, size_t bytes, int level,
                   uint64_t *stored)
{
    char hdr[ST_NPY_HEADER_ND_MAX];
    size_t hlen = st_npy_header_nd(hdr, st_dtype_descr(dtype), ndim, shape, fortran);
    st_wfile w;
    int rc = st_wfile_open(err, &w, dir);
    if (rc < 0) return rc;
    if (level > 0) {
        /* one frame of header + data, with its content size recorded */
        ZSTD_CCtx *cx = ZSTD_createCCtx();
        size_t cap = ZSTD_compressBound(hlen + bytes);
        void *buf = malloc(cap);
        char *plain = malloc(hlen + bytes);
        if (cx == NULL || buf == NULL || plain == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory compressing '%s'", name);
        } else {
            memcpy(plain, hdr, hlen);
            memcpy(plain + hlen, data, bytes);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, level);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_contentSizeFlag, 1);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_checksumFlag, 1);
            size_t n = ZSTD_compress2(cx, buf, cap, plain, hlen + bytes);
            if (ZSTD_isError(n))
                rc = st_error(err, STRATA_EIO, "cannot compress '%s': %s", name,
                              ZSTD_getErrorName(n));
            else
                rc = st_pwrite_full(err, w.fd, buf, n, 0, w.tmp);
            if (rc == STRATA_OK && stored) *stored = n;
        }
        free(plain);
        free(buf);
        ZSTD_freeCCtx(cx);
    } else {
        ST_TRY(rc = st_pwrite_full(err, w.fd, hdr, hlen, 0, w.tmp));
        if (bytes) ST_TRY(rc = st_pwrite_full(err, w.fd, data, bytes, hlen, w.tmp));
        if (stored) *stored = hlen + bytes;
    }
done:
    if (rc == STRATA_OK) return st_wfile_publish(err, &w, dir, name);
    st_wfile_abort(&w);
    return rc;
}
