/*
 * pool.h -- the pool layer's interface for the layers above it.
 *
 * The pool layer owns a pool's directory, its catalog connection, its error context, its
 * settings (threads, interrupt check) and the arrays it holds; struct strata_pool and struct
 * strata_array are its own (pool_int.h) and no other layer reaches into them. store, ops, expr,
 * derive, ingest, ndarray, tier and mdms include this header and nothing else of src/pool; the
 * files of src/pool include pool_int.h, which includes this one. The layout constants below are the
 * on-disk format of docs/format.md, which gc and fsck (src/store/check.c) walk.
 */
#ifndef STRATA_POOL_H
#define STRATA_POOL_H

#include "catalog/catalog.h"
#include "util/error.h"
#include "util/fileio.h"

#define ST_POOL_MARKER  "STRATA_POOL"
#define ST_POOL_CATALOG "catalog.db"
#define ST_POOL_DATA    "data"
#define ST_POOL_BACKUPS "backups"
#define ST_POOL_GCLOCK  ".gclock"

/* How long a creator waits for a gc that is removing orphans, and gc for creators. */
#define ST_CREATE_WAIT_MS 60000
#define ST_GC_WAIT_MS     5000

/* Requests at least this many bytes (or indices) run on the pool's threads. */
#define ST_PAR_INDICES (64u << 10)

/* The error context of POOL: every call made through the pool records its failure there, and
 * strata_errmsg() reads it. Valid until the pool is closed. */
st_err *st_pool_err(strata_pool *pool);

/* The catalog connection of POOL. Owned by the pool; valid until the pool is closed. */
st_catalog *st_pool_cat(strata_pool *pool);

/* The directory of POOL, as given when it was opened. Valid until the pool is closed. */
const char *st_pool_path(const strata_pool *pool);

/* The I/O strategy forced on POOL (strata_pool_set_io_strategy, which src/mdms implements and
 * validates): "" when none. Valid until the pool is closed or the setting changes. */
const char *st_pool_io_strategy(const strata_pool *pool);

/* Store SPEC (validated by the caller; NULL: none) as POOL's forced I/O strategy.
 * STRATA_EINVAL when it is longer than the pool keeps (127 bytes). */
int st_pool_set_io_strategy_text(strata_pool *pool, const char *spec);

/* Number of threads for a parallel kernel of POOL. */
int st_pool_threads(const strata_pool *pool);

/* Nonzero when POOL's interrupt check (strata_pool_set_interrupt) asks to stop; 0 when there is
 * no check or it says go on. Calls the check once. */
int st_pool_interrupted(strata_pool *pool);

/* Report where a long operation is (strata_pool_set_work_fn); nothing when no one listens.
 * WHAT is formatted from FMT. */
void st_pool_work(strata_pool *pool, const char *unit, uint64_t done, uint64_t total,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether anyone listens (to spare formatting WHAT in a hot loop). */
int st_pool_has_work_fn(const strata_pool *pool);

/* Plain files POOL keeps mapped for the reads of a process that keeps it open (fmap.c): only
 * immutable files (a chunk file's name is new with each version), at most ST_FMAP_ENTRIES of them
 * and ST_FMAP_BYTES of mappings, the least recently used unmapped first; a file removed while
 * mapped keeps its pages until its entry goes or the pool closes. Safe from any thread (a read's
 * chunk files are read on the pool's threads). */
#define ST_FMAP_ENTRIES 512
#define ST_FMAP_BYTES   ((size_t)256 << 20)
typedef struct st_fmap {
    const char *data;
    size_t size;
} st_fmap;
typedef struct st_fmaps st_fmaps;
/* POOL's cache (NULL: none, as when it could not be allocated). */
st_fmaps *st_pool_fmaps(strata_pool *pool);
st_fmaps *st_fmaps_new(void);
void st_fmaps_free(st_fmaps *c);
/* The mapping of the file at PATH, held until st_fmaps_release(); NULL when C does not keep it. */
const st_fmap *st_fmaps_find(st_fmaps *c, const char *path);
void st_fmaps_release(st_fmaps *c, const st_fmap *m);
/* Keep the file at PATH (open as FD, SIZE bytes) mapped; nothing when it is there already, too
 * large, every entry is held or the mapping fails (the cache only saves work). */
void st_fmaps_keep(st_fmaps *c, const char *path, int fd, size_t size);

/* "POOL/data/RDIR" into OUT. */
int st_region_dir(strata_pool *pool, const char *rdir, char out[ST_PATH_MAX]);

/* Creating something the catalog will name, outside any object's directory (a region's
 * directory, an array's files, a dataset's or an N-d array's directory, a backup): hold the
 * pool's gc lock (POOL/.gclock) shared from before the first file is made until the catalog
 * names it. gc holds it exclusively while it removes orphans that are in no object's directory,
 * so it never removes a thing half made (st_cat_lock: across nodes when the catalog is on
 * PostgreSQL). Returns a hold for st_pool_create_end(), or an error (STRATA_ELOCKED when a gc
 * held the pool for ST_CREATE_WAIT_MS). */
int st_pool_create_begin(strata_pool *pool);
void st_pool_create_end(strata_pool *pool, int hold);

/* The root directory of tier T ("POOL/data" for the default tier). */
int st_tier_root(st_err *err, const char *pool_path, const st_cat_tier *t, char out[ST_PATH_MAX]);

/* Verify backup B's files against its record and checksum; STRATA_ECORRUPT with a message in
 * ERR when they do not match. */
int st_backup_verify(strata_pool *pool, const st_cat_backup *b, st_err *err);

/* STRATA_EINVAL unless POOL is an open pool (the first check of every entry point). */
int st_pool_check(strata_pool *pool);

#endif /* STRATA_POOL_H */
