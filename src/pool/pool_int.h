/*
 * pool_int.h -- the insides of pool and array handles, shared by the files of src/pool only;
 * the other layers use pool.h.
 *
 * On disk a pool is:
 *     POOL/STRATA_POOL          marker: "strata pool\nformat N\n"
 *     POOL/catalog.db (-wal, -shm)  the SQLite catalog
 *     POOL/data/RDIR/TOKEN.npy  one NPY file per array (strings: + TOKEN.bytes.npy)
 *     POOL/backups/TOKEN.npy    backups
 * RDIR and TOKEN are random hex tokens recorded in the catalog, so user names never become
 * paths. docs/format.md is the full description.
 */
#ifndef STRATA_POOL_INT_H
#define STRATA_POOL_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "pool/pool.h"

struct strata_pool {
    char *path;
    st_catalog *cat;
    st_err err;
    int nthreads;                  /* 0: OpenMP default */
    strata_interrupt_fn interrupt; /* strata_pool_set_interrupt(); NULL: none */
    void *interrupt_ctx;
    strata_work_fn work; /* strata_pool_set_work_fn(); NULL: none */
    void *work_ctx;
    struct strata_array *live;   /* open handles, newest first */
    struct strata_array *closed; /* tombstones of closed handles, newest first */
    struct strata_array *closed_tail;
    size_t nclosed;
    char io_strategy[128]; /* strata_pool_set_io_strategy() (src/mdms); "": the planner's */
    st_fmaps *maps;        /* files kept mapped (fmap.c); NULL: none */
};

/* Closed handles stay as tombstones, so that a second close or a call on a closed handle is
 * detected instead of touching freed memory; the oldest beyond this many are freed. */
#define ST_TOMBSTONES_MAX 4096

enum { ST_ARRAY_LIVE = 0x41525259, ST_ARRAY_CLOSED = 0x44454144 };

struct strata_array {
    uint32_t magic;
    strata_pool *pool;
    struct strata_array *prev, *next; /* in pool->live or pool->closed */
    atomic_int deleted;               /* set when this process deletes the array */
    int64_t id;
    char *region, *name;
    char *path, *bytes_path;
    strata_dtype dtype;
    uint64_t length;
    int64_t created_ns;
    int fd, writable;
    int lock_mode; /* -1 when no lock is held */
    void *map;     /* the whole file */
    size_t map_len;
    char *data; /* first element */
    /* strings: the bytes file */
    void *bmap;
    size_t bmap_len;
    char *bytes;
    uint64_t nbytes;
};

/* Validate A as a live handle; on failure the pool's message says why. */
int st_array_check(strata_array *a);

/* Write an array file (header + N elements of DTYPE from DATA, zeros when DATA is NULL) into DIR
 * as TOKEN.npy, durably (the caller fsyncs DIR); for strings also TOKEN.bytes.npy from BYTES.
 * Sets FILE and BYTES_FILE (ST_CAT_FILE bytes each). */
int st_array_write_files(st_err *err, const char *dir, strata_dtype dtype, uint64_t n,
                         const void *data, const char *bytes, char *file, char *bytes_file);

/* Open the files of catalog record REC into a new handle. */
int st_array_open_rec(strata_pool *pool, const st_cat_array *rec, strata_array **out);

/* Mark every handle of POOL to array ID as deleted. */
void st_pool_mark_deleted(strata_pool *pool, int64_t id);

/* STRATA_ELOCKED if anyone holds a lock on the file at PATH (what = "array 'r/a'"). */
int st_file_lock_test(st_err *err, const char *path, const char *what);

/* xxHash64 of an array's data (strings: offsets, then bytes). */
uint64_t st_array_checksum(const strata_array *a);

/* Parse TEXT (N bytes), the marker file PATH of the pool at DIR, into the catalog's location W:
 * STRATA_ECORRUPT naming PATH when it is no marker (or names a PostgreSQL catalog without a
 * connection string or with a schema that cannot be one), STRATA_EUNSUPPORTED when its format
 * is newer than this library's. */
int st_pool_marker_parse(st_err *err, const char *dir, const char *path, const char *text, size_t n,
                         st_cat_loc *w);

#endif /* STRATA_POOL_INT_H */
