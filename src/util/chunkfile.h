/*
 * chunkfile.h -- the files of N-d arrays: an NPY file of any shape, stored plain (NAME.npy) or as
 * one zstd frame of the whole NPY file (NAME.npy.zst), which `zstd -d` turns back into the NPY
 * file numpy reads.
 */
#ifndef STRATA_UTIL_CHUNKFILE_H
#define STRATA_UTIL_CHUNKFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/npy.h"

/* Whether FILE names a compressed chunk file (ends in ".zst"). */
int st_chunk_is_zst(const char *file);

/* A chunk file's contents: mapped (plain files) or decompressed into memory. */
typedef struct st_chunkbuf {
    void *base;       /* the mapping or the allocation */
    size_t len;       /* its length */
    int mapped;       /* base is a mapping */
    const char *data; /* the first element */
    st_npy_info info; /* the header (shape, order, dtype) */
    uint64_t stored;  /* bytes of the file */
} st_chunkbuf;

/* Plain files up to this size are read into memory; larger ones are mapped. */
#define ST_CHUNK_READ_MAX ((size_t)4 << 20)

/* Read the chunk file at PATH. STRATA_ENOTFOUND if it is missing; STRATA_ECORRUPT if it does not
 * decode or parse. */
int st_chunk_read(st_err *err, const char *path, st_chunkbuf *out);
void st_chunk_release(st_chunkbuf *c);

/* The NPY file at PATH as an st_npy_map: mapped when plain, decoded into memory when it ends in
 * ".zst" (st_npy_unmap() releases either). Errors as st_npy_map_file(). */
int st_npy_map_any(st_err *err, const char *path, st_npy_map *m);
/* As st_npy_map_any(), a small plain file read rather than mapped (st_npy_load_file()). */
int st_npy_load_any(st_err *err, const char *path, st_npy_map *m);

/* Write an N-d chunk file durably as DIR/NAME: header for DTYPE and SHAPE[NDIM] (Fortran order
 * when FORTRAN), then the BYTES of elements at DATA; zstd-compressed at LEVEL when LEVEL > 0
 * (NAME must then end in ".zst"). Written under a temporary name, fsynced and renamed; the
 * caller fsyncs DIR. STORED receives the file's size. */
int st_chunk_write(st_err *err, const char *dir, const char *name, strata_dtype dtype, int ndim,
                   const uint64_t *shape, int fortran, const void *data, size_t bytes, int level,
                   uint64_t *stored);

#endif /* STRATA_UTIL_CHUNKFILE_H */
