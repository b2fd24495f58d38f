/*
 * nd_int.h -- what the files of src/ndarray share, and only they: N-d array handles, the chunk
 * cache and the prefetch. The layers above use ndarray.h.
 *
 * On disk an N-d array is a directory ND (a random token) under the region directory RDIR of
 * every tier that holds some of it:
 *     TIER/RDIR/ND/cIDX.TOKEN.npy[.zst]   a chunk (contiguous layouts: the one file, c0....)
 *     TIER/RDIR/ND/sIDX.TOKEN.npy[.zst]   a staged copy of an archive chunk
 *     POOL/data/RDIR/ND/.writer           the writers' lock (on the default tier only)
 * The default tier's root is POOL/data; other tiers' roots are their directories. Every file is
 * written under a fresh token (copy-on-write) and named by exactly one catalog row.
 */
#ifndef STRATA_ND_INT_H
#define STRATA_ND_INT_H

#include <pthread.h>
#include <stdint.h>

#include "ndarray/ndarray.h"
#include "util/chunkfile.h"
#include "util/vec.h"

#define ST_ND_WRITER_LOCK    ".writer"
#define ST_ND_WRITER_WAIT_MS 30000 /* how long a writer waits for another */
#define ST_ND_CACHE_DEFAULT  ((size_t)64 << 20)
#define ST_ND_RETRIES        64 /* a read racing writers and evictions re-plans this often */
#define ST_ND_STALE          3  /* st_nd_read() through a manifest found a file gone */

/* A read's buffer for the byte spans of plain chunk files, reused from chunk to chunk. */
typedef struct st_ndscratch {
    char *buf;
    size_t cap;
} st_ndscratch;

/* The prefetch of the next step (STRATA_ND_SEQUENTIAL). */
typedef struct st_ndprefetch {
    pthread_t thread;
    int running; /* a thread was started and not joined */
    st_err err;
    st_catalog *cat; /* the thread's own connection */
    st_ndctx x;
    st_cat_nd rec;
    uint64_t start[ST_ND_MAXDIMS], count[ST_ND_MAXDIMS], stride[ST_ND_MAXDIMS];
    void *buf;
    size_t cap;
    int rc;
} st_ndprefetch;

enum { ST_ND_LIVE = 0x4e444152, ST_ND_CLOSED = 0x4e44434c };

struct strata_ndarray {
    uint32_t magic;
    strata_pool *pool;
    st_cat_nd rec; /* as of the last call */
    size_t esz;
    unsigned hints;
    st_ndctx x;
    char tier_name[STRATA_NAME_MAX + 1];
    uint64_t reads, prefetched;
    st_ndprefetch *pf;
    /* the manifest plain reads take the record and chunks from instead of the catalog
     * (catalog_ndm.c): held while its file is current */
    st_ndm *ndm;
    int ndm_use;  /* reads may use one (opened unconnected; no staging tier, no prefetch) */
    int ndm_made; /* this handle tried to make one */
};

/* Read the rectangle of REC into BUF (C order), as strata_ndarray_read_strided() describes.
 * Bounds are checked by the caller. */
int st_nd_read(st_ndctx *x, const st_cat_nd *rec, const uint64_t *start, const uint64_t *count,
               const uint64_t *stride, void *buf);

/* Chunk rows of REC with grid coordinates in the box [CLO, CHI] (and some outside it), sorted
 * by index, into OUT (a vector of st_cat_chunk); st_nd_find_chunk() finds one by index. */
int st_nd_collect(st_ndctx *x, const st_cat_nd *rec, const st_ndgrid *g, const uint64_t *clo,
                  const uint64_t *chi, struct st_vec *out);
const st_cat_chunk *st_nd_find_chunk(const struct st_vec *v, int64_t idx);

/* Give a context a chunk cache of CAP bytes. */
int st_nd_cache_new(st_ndctx *x, size_t cap);

/* Free the chunk cache of a context. */
void st_nd_cache_free(st_ndctx *x);

/* Join and free A's prefetch. */
void st_nd_prefetch_stop(strata_ndarray *a);

/* After a read of step START[0] by a SEQUENTIAL handle: start reading the next step. */
void st_nd_prefetch_next(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                         const uint64_t *stride);

/* If the prefetch holds exactly this read, copy it into BUF: 1; else 0 (the caller reads). */
int st_nd_prefetch_take(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                        const uint64_t *stride, void *buf, size_t bytes);

#endif /* STRATA_ND_INT_H */
