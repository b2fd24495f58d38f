/*
 * npy.h -- the NPY file format (numpy's .npy), which every Strata data file is.
 *
 * Strata writes version 1.0 headers for 1-D little-endian arrays, padded so that the data starts
 * at a multiple of 64 bytes (NPY_ALIGN): a mapped file gives aligned elements, and
 * numpy.load(path, mmap_mode="r") opens any Strata file. The parser accepts what numpy writes
 * (versions 1.0, 2.0 and 3.0, keys in any order, any shape in C order) and rejects everything
 * else with a message naming the file and the byte.
 */
#ifndef STRATA_UTIL_NPY_H
#define STRATA_UTIL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define ST_NPY_ALIGN      64
#define ST_NPY_HEADER_MAX 256 /* the longest header st_npy_header() writes */
#define ST_NPY_MAX_DIMS   32

typedef struct st_npy_info {
    strata_dtype dtype;
    char descr[16];
    int fortran_order;
    int ndim;
    uint64_t shape[ST_NPY_MAX_DIMS];
    uint64_t count;     /* product of the shape */
    size_t data_offset; /* where the elements start */
    int64_t ts_unit;    /* STRATA_TS: nanoseconds per unit of the file's datetime64 (1 for ns) */
    char str_kind;      /* STRATA_STR (st_npy_map_file_str only): 'U' (UTF-32) or 'S' (bytes) */
    uint64_t str_width; /* STRATA_STR: characters per element */
} st_npy_info;

/* Write into OUT the header of a 1-D array of N elements with NPY descriptor DESCR; returns its
 * length, a multiple of ST_NPY_ALIGN. */
size_t st_npy_header(char out[ST_NPY_HEADER_MAX], const char *descr, uint64_t n);

/* As st_npy_header(), padded to exactly ST_NPY_FIXED_HEADER bytes whatever N is: files written
 * before their length is known reserve this much room for the header. */
#define ST_NPY_FIXED_HEADER 128
size_t st_npy_header_fixed(char out[ST_NPY_HEADER_MAX], const char *descr, uint64_t n);

/* The header of an N-d array of shape SHAPE[NDIM], in C order or (FORTRAN) column-major. */
#define ST_NPY_HEADER_ND_MAX 512
size_t st_npy_header_nd(char out[ST_NPY_HEADER_ND_MAX], const char *descr, int ndim,
                        const uint64_t *shape, int fortran);

/* Parse the header at the start of the LEN bytes at BUF (a file's first bytes; LEN may exceed
 * the header). WHERE names the file in messages. STRATA_EINVAL for anything that is not a
 * well-formed NPY header of a Strata dtype; STRATA_EUNSUPPORTED for Fortran order or
 * big-endian data. */
int st_npy_parse(st_err *err, const void *buf, size_t len, const char *where, st_npy_info *out);
/* As st_npy_parse(), accepting Fortran order (the caller reads info.fortran_order). */
int st_npy_parse_nd(st_err *err, const void *buf, size_t len, const char *where, st_npy_info *out);

/* A whole NPY file mapped read-only, its header parsed and its size checked against it. */
typedef struct st_npy_map {
    void *map;
    size_t len;
    int heap;         /* map is an allocation (a decoded or realigned copy), not a mapping */
    const char *data; /* the first element, aligned for the dtype */
    st_npy_info info;
} st_npy_map;

/* Whether the elements of INFO's dtype at DATA are aligned for loads of that type. numpy writes
 * headers that end on a multiple of 64 bytes (16 before numpy 1.14, and other writers use any
 * length), so a file's data may start at any offset. */
int st_npy_aligned(const void *data, strata_dtype dtype);

/* Map the NPY file at PATH. STRATA_ENOTFOUND if it does not exist, STRATA_EINVAL (or the
 * parser's code) if it is not a valid NPY file of a Strata dtype, or shorter than its header
 * says. When the data does not start at a multiple of its element size it is copied into an
 * aligned allocation (as numpy.load reads a file into memory): m->data is always aligned.
 * datetime64 in another unit than ns (D, h, m, s, ms, us) is converted to ns in an allocation
 * (NaT stays NaT; a value outside the int64 ns range is STRATA_ERANGE), so that m->data always
 * holds the values of m->info.dtype and m->info.ts_unit is 1.
 * st_npy_unmap() releases it (also after a failure). */
int st_npy_map_file(st_err *err, const char *path, st_npy_map *m);
/* As st_npy_map_file(), also reading numpy's fixed-width strings ('<U' + width: UTF-32 code
 * points, '|S' + width: bytes; each zero-padded) as info.dtype STRATA_STR with their kind and
 * width; m->data is then the raw records. */
int st_npy_map_file_str(st_err *err, const char *path, st_npy_map *m);
/* As st_npy_map_file(), but a file of at most ST_NPY_READ_MAX bytes is read into an allocation
 * (m->heap): for a reader that is done with it soon, mapping a small file, faulting its pages in
 * and unmapping it (a TLB shootdown of every CPU running one of the process's threads) costs more
 * than the copy. Zero-copy readers (exports whose buffers outlive the call) map. */
#define ST_NPY_READ_MAX (64 * 1024)
int st_npy_load_file(st_err *err, const char *path, st_npy_map *m);
void st_npy_unmap(st_npy_map *m);
#endif /* STRATA_UTIL_NPY_H */
