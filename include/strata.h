/*
 * strata.h -- the one public header of libstrata.
 *
 * Strata keeps named, typed arrays in a shared storage pool. A pool is a directory that holds
 * the data files (one NPY file per array) and a catalog (SQLite, in WAL mode). Arrays live in
 * regions, the namespaces of a pool. Many processes may open one pool at once: the catalog
 * serialises metadata changes, the data path is plain loads and stores on memory-mapped files,
 * atomics are correct across processes on one machine, and locks are released when their holder
 * dies.
 *
 * Conventions, true of every function below unless its comment says otherwise:
 *   - Functions return an int status: STRATA_OK (0) or a negative strata_error. Not found is an
 *     ordinary result (STRATA_ENOTFOUND), so find-or-create reads naturally:
 *         if (strata_array_open(p, "demo", "a", &a) == STRATA_ENOTFOUND)
 *             rc = strata_array_create(p, "demo", "a", STRATA_I64, 100, &a);
 *   - After a failure, strata_errmsg(pool) says what failed and where (which region, array, index,
 *     file), in lowercase, for people.
 *   - Handles are opaque. Every handle returned through an out-parameter is owned by the caller
 *     and released with its close function; close functions accept NULL.
 *   - A pool handle and the arrays opened through it may be used by one thread at a time, except
 *     the data path (get/put/gather/scatter/copy/atomics/map), which any number of threads may
 *     call at once on the same or different arrays.
 *   - Names (regions, arrays, backups) are 1 to 255 bytes of UTF-8 without '/', '\\', control
 *     characters, a leading '-' or the sequence ".."; other names fail with STRATA_ENAME.
 *   - Parallel kernels use OpenMP on the pool's threads. GNU OpenMP is not fork-safe: a process
 *     that has run them must not run them again in a child it forks without exec; such a child
 *     sets its pool's threads to 1 (strata_pool_set_threads) or execs. GNU OpenMP's idle
 *     threads spin for a while before they sleep (OMP_WAIT_POLICY, GOMP_SPINCOUNT): on a machine
 *     of few cores, a process that interleaves short parallel calls with other work may run
 *     faster with OMP_WAIT_POLICY=passive in its environment.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(STRATA_BUILDING) && defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* Version of the library (major.minor.patch) and of the on-disk formats it writes. */
#define STRATA_VERSION_MAJOR  0
#define STRATA_VERSION_MINOR  1
#define STRATA_VERSION_PATCH  0
#define STRATA_VERSION_STRING "0.1.0"
/* The newest pool format this library reads (it writes 1, or 2 for a catalog on PostgreSQL);
 * pools of a newer format are refused. */
#define STRATA_POOL_FORMAT 2
/* Longest name (region, array, backup) in bytes, not counting the terminating NUL. */
#define STRATA_NAME_MAX 255

/*
 * Error codes. One X-macro table yields the enum, strata_strerror() and strata_errname(), so
 * the three never disagree. Codes are stable: new codes are only ever added at the end.
 */
#define STRATA_ERRNO_MAP(X)                                                                        \
    X(OK, 0, "success")                                                                            \
    X(ENOTFOUND, -1, "not found")                                                                  \
    X(EEXIST, -2, "already exists")                                                                \
    X(EINVAL, -3, "invalid argument")                                                              \
    X(ETYPE, -4, "wrong data type")                                                                \
    X(ERANGE, -5, "index or range out of bounds")                                                  \
    X(ENAME, -6, "bad name")                                                                       \
    X(ELOCKED, -7, "locked by another holder")                                                     \
    X(ENOSPC, -8, "no space left on device")                                                       \
    X(EIO, -9, "input/output error")                                                               \
    X(ECORRUPT, -10, "data or catalog corrupted")                                                  \
    X(ENOMEM, -11, "out of memory")                                                                \
    X(ECONFLICT, -12, "conflicting change")                                                        \
    X(EPERM, -13, "permission denied")                                                             \
    X(EUNSUPPORTED, -14, "not supported")                                                          \
    X(ESTALE, -15, "derived data not yet computed")                                                \
    X(ECANCELED, -16, "cancelled by the interrupt check")

typedef enum {
#define STRATA_ERRNO_ENUM(name, code, msg) STRATA_##name = (code),
    STRATA_ERRNO_MAP(STRATA_ERRNO_ENUM)
#undef STRATA_ERRNO_ENUM
} strata_error;

/* Element types. STRATA_BOOL is one byte (0 or 1). STRATA_STR is a variable-length UTF-8
 * string, stored packed: an int64 offsets array of n+1 entries plus a uint8 bytes array.
 * STRATA_TS is a timestamp: int64 nanoseconds since 1970-01-01T00:00:00 UTC (numpy's
 * datetime64[ns], Arrow's timestamp[ns, UTC]), stored, sorted and compared as an int64, read and
 * written as ISO 8601. The numbers are stored in catalogs: new types are added at the end. */
typedef enum {
    STRATA_I8,
    STRATA_I16,
    STRATA_I32,
    STRATA_I64,
    STRATA_U8,
    STRATA_U16,
    STRATA_U32,
    STRATA_U64,
    STRATA_F32,
    STRATA_F64,
    STRATA_BOOL,
    STRATA_STR,
    STRATA_TS
} strata_dtype;

typedef struct strata_pool strata_pool;
typedef struct strata_array strata_array;

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* A static, lowercase description of CODE ("not found"). Unknown codes give "unknown error".
 * Never NULL; the string is owned by the library and lives forever. */
STRATA_API const char *strata_strerror(int code);

/* The symbolic name of CODE ("STRATA_ENOTFOUND"), or "STRATA_EUNKNOWN". Static storage. */
STRATA_API const char *strata_errname(int code);

/* The message of the most recent failure on POOL (or on an array opened through it), with
 * detail: "array 'demo/a' not found". Successful calls leave it alone; "" when nothing has
 * failed yet; a fixed text when POOL is NULL. The string is owned by POOL and is valid until the
 * next failing call on it. */
STRATA_API const char *strata_errmsg(strata_pool *pool);

/* The code of the most recent failure on POOL, STRATA_OK if none. */
STRATA_API int strata_errcode(strata_pool *pool);

/* Where in the library's source the most recent failure on POOL was detected, as "FILE:LINE"
 * ("src/store/batch.c:412"), for bug reports; when an outer layer added context to the message,
 * the place of the inner failure. Debug builds only: always "" in release builds (NDEBUG), and
 * "" when nothing has failed yet or POOL is NULL. Owned by POOL, valid as strata_errmsg(). */
STRATA_API const char *strata_errwhere(strata_pool *pool);

/* ---------------------------------------------------------------------------------------------
 * Data types
 * ------------------------------------------------------------------------------------------- */

/* Size in bytes of one element of DTYPE (STRATA_STR: 8, the size of one offset); 0 if DTYPE is
 * not a valid dtype. */
STRATA_API size_t strata_dtype_size(strata_dtype dtype);

/* Lowercase name of DTYPE ("i64", "f32", "bool", "str"), or NULL for an invalid value. */
STRATA_API const char *strata_dtype_name(strata_dtype dtype);

/* Parse a dtype name as written by strata_dtype_name(). STRATA_EINVAL if NAME is not one. */
STRATA_API int strata_dtype_parse(const char *name, strata_dtype *out);

/* TEXT as one value of numeric, bool or ts DTYPE into OUT (decimal integers, floats as strtod
 * reads them, true/false/1/0; for STRATA_TS an ISO 8601 date or date and time, "2024-01-31",
 * "2024-01-31 13:45:00", "2024-01-31T13:45:00.123456789+01:00" (a 'Z' or an offset is converted
 * to UTC; without one the time is taken as UTC), or an integer count of nanoseconds), range
 * checked. Returns STRATA_OK, or STRATA_EINVAL with WHY (room for 64 bytes) completing "'TEXT'
 * ..." (e.g. "is out of range for i8", "is not a timestamp: month 13"). */
STRATA_API int strata_value_parse(strata_dtype dtype, const char *text, void *out, char *why);

/* Room for the text of any timestamp written by strata_ts_format(), with its NUL. */
#define STRATA_TS_FORMAT_MAX 32

/* The timestamp NS (nanoseconds since the epoch) as ISO 8601 in UTC into OUT, which has room for
 * STRATA_TS_FORMAT_MAX bytes: "2024-01-31T13:45:00Z", with fractional digits only when they are
 * not zero, in groups of three (".500", ".000001", ".123456789"). Returns the length written,
 * without the NUL. strata_value_parse(STRATA_TS) reads every such text back to NS. */
STRATA_API size_t strata_ts_format(int64_t ns, char *out);

/* Room for the text of any float written by strata_real_format(), with its NUL. */
#define STRATA_REAL_FORMAT_MAX 32

/* V as the text every Strata output gives a float (F32 non-zero: the float (float)V), into OUT
 * (STRATA_REAL_FORMAT_MAX bytes, NUL-terminated); returns its length. A decimal that reads back
 * as V, in few digits: the fixed notation of R / 10^K for the smallest K <= 8 that is exactly V
 * ("848.51", "7242"), else printf's "%.Pg" for the smallest P from 15 (a float's 6) that reads
 * back ("1e+300", "3.141592653589793"); "nan", "inf", "-inf". */
STRATA_API size_t strata_real_format(double v, int f32, char *out);

/* ---------------------------------------------------------------------------------------------
 * Pools
 * ------------------------------------------------------------------------------------------- */

/* Create a new pool in directory PATH, which must not exist or be empty, and open it.
 * STRATA_EEXIST if PATH already holds a pool or other files. *out: strata_pool_close(). */
STRATA_API int strata_pool_create(const char *path, strata_pool **out);

/* Open the pool in directory PATH. STRATA_ENOTFOUND if PATH does not exist or is not a pool,
 * STRATA_EUNSUPPORTED if it was written by a newer Strata, STRATA_ECORRUPT if its catalog is
 * missing or not an SQLite database. An SQLite catalog is connected by the first call that
 * needs it (a read of an N-d array through its manifest, docs/format.md, needs none): a catalog
 * of a newer schema (STRATA_EUNSUPPORTED) or damaged inside (STRATA_ECORRUPT) is reported by
 * that call. On failure *out is NULL; since there is then no handle to ask strata_errmsg(), use
 * strata_pool_open_err() to get the detailed message. *out: strata_pool_close(). */
STRATA_API int strata_pool_open(const char *path, strata_pool **out);

/* Options of strata_pool_create_with(). */
typedef struct strata_pool_opts {
    /* Where the catalog goes. NULL or "": the STRATA_CATALOG environment variable when it is
     * set, else SQLite inside the pool directory (one machine). Otherwise a PostgreSQL database,
     * as a libpq connection string: a URI ("postgresql://user@host:5432/db") or key=value words
     * ("host=db1 dbname=strata"); no password belongs here: libpq takes it from PGPASSFILE,
     * ~/.pgpass or PGSERVICE (or the server trusts the user). The connection string is
     * recorded in the pool's marker file, so that every later open of PATH finds the catalog. */
    const char *catalog;
    /* PostgreSQL: the schema of this pool's tables (several pools share one database, a schema
     * each); NULL: "strata_" followed by the pool directory's name and a random token. */
    const char *schema;
    int connect_timeout_s; /* PostgreSQL: how long a connection attempt may take; 0: 10 s */
} strata_pool_opts;

/* As strata_pool_create_err(), with OPTS (NULL: the defaults). STRATA_EIO (with a message
 * naming the server and what to do) when the PostgreSQL server cannot be reached; nothing is
 * created then. */
STRATA_API int strata_pool_create_with(const char *path, const strata_pool_opts *opts,
                                       strata_pool **out, char *errbuf, size_t errlen);

/* Move the catalog of the pool at PATH to TO (TO->catalog "sqlite": back into the pool's
 * directory): a new catalog is created there, every row copied in one transaction, and the
 * pool's marker switched to it. Refused with STRATA_ELOCKED, naming what, while any other
 * process has the pool open (writers, readers, a server; a process that has only read N-d
 * arrays through their manifests never connected and is not seen); nothing changes then. The old
 * catalog stays as it was: SQLite's file renamed catalog.db.moved, a PostgreSQL schema left for you
 * to drop. STRATA_EEXIST when TO's SQLite file or schema already holds a catalog. */
STRATA_API int strata_pool_move_catalog(const char *path, const strata_pool_opts *to, char *errbuf,
                                        size_t errlen);

/* Where POOL's catalog is, for people, into BUF (LEN bytes, NUL-terminated): "sqlite
 * POOL/catalog.db", or "postgresql CONNINFO schema SCHEMA". */
STRATA_API int strata_pool_catalog(strata_pool *pool, char *buf, size_t len);

/* As strata_pool_create() and strata_pool_open(), but on failure also write a detailed
 * message (NUL-terminated, truncated to ERRLEN bytes) into ERRBUF when it is not NULL. */
STRATA_API int strata_pool_create_err(const char *path, strata_pool **out, char *errbuf,
                                      size_t errlen);
STRATA_API int strata_pool_open_err(const char *path, strata_pool **out, char *errbuf,
                                    size_t errlen);

/* Close POOL and every array still open through it (their handles become invalid). NULL is a
 * no-op. Unflushed stores are left to the operating system: call strata_array_flush() first
 * when they must survive a machine crash. */
STRATA_API void strata_pool_close(strata_pool *pool);

/* The pool's directory, as given to create/open. Owned by POOL. */
STRATA_API const char *strata_pool_path(strata_pool *pool);

/* Threads used by the data-path kernels of arrays of this pool (gather, scatter, copy, large
 * get/put). 0 means OpenMP's default; 1 disables parallelism. Default 0. */
STRATA_API int strata_pool_set_threads(strata_pool *pool, int nthreads);

/* Milliseconds a catalog writer waits for another process's catalog transaction before it fails
 * with STRATA_ELOCKED. Default 10000. */
STRATA_API int strata_pool_set_busy_timeout(strata_pool *pool, int ms);

/* An interrupt check for long computations through POOL, in the manner of SQLite's progress
 * handler: strata_snapshot_summary() and strata_ndarray_summary() call FN(CTX) before each unit
 * of work (at most 2^20 elements of a column, a slab of at most 8 MiB of a region), in the
 * calling thread; when FN returns non-zero the call stops, caches nothing and returns
 * STRATA_ECANCELED. A summary read from the cache calls FN not at all. FN NULL (the default)
 * removes the check. */
typedef int (*strata_interrupt_fn)(void *ctx);
STRATA_API int strata_pool_set_interrupt(strata_pool *pool, strata_interrupt_fn fn, void *ctx);

/* Where a long operation through POOL is, for a progress display: WHAT it is ("migrate
 * sim/temp"), DONE of TOTAL UNITs ("chunks", "files", "batches", "bytes"; TOTAL 0: not known
 * ahead). */
typedef struct strata_work {
    const char *what, *unit;
    uint64_t done, total;
} strata_work;
typedef void (*strata_work_fn)(void *ctx, const strata_work *w);

/* Call FN(CTX, ...) as the long operations through POOL advance -- migrate, stage, N-d writes
 * and reads, the NPY, Parquet, Arrow and HDF5 exports, check and gc -- once when each starts
 * (DONE 0), after each unit of work, and once when it ends (DONE == TOTAL when TOTAL is known),
 * in the calling thread, as often as the units come: a display limits its own rate. FN must not
 * call into POOL. NULL (the default) removes it. Ingest and update report through their own
 * callbacks (strata_ingest_opts, strata_update_opts). */
STRATA_API int strata_pool_set_work_fn(strata_pool *pool, strata_work_fn fn, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Regions
 * ------------------------------------------------------------------------------------------- */

/* Called once per listed item, in name order. Return 0 to go on, anything else to stop the
 * listing (the listing function then returns that value). NAME is valid during the call. */
typedef int (*strata_name_fn)(void *ctx, const char *name);

/* Flags of strata_region_delete(). */
#define STRATA_FORCE 1u /* delete even when arrays of the region are locked */

/* Create region REGION. STRATA_EEXIST if it exists. */
STRATA_API int strata_region_create(strata_pool *pool, const char *region);

/* STRATA_OK if REGION exists, STRATA_ENOTFOUND if not. */
STRATA_API int strata_region_exists(strata_pool *pool, const char *region);

/* Call FN for every region of POOL, in name order. */
STRATA_API int strata_region_list(strata_pool *pool, strata_name_fn fn, void *ctx);

/* Delete REGION with all it holds, in one catalog transaction: its datasets (derived ones and
 * derived columns too; their files wait for strata_gc() while snapshots may read them), its
 * arrays (their backups stay) and its N-d arrays' records (their chunk files become orphans that
 * strata_gc() removes: strata_ndarray_delete() them first to remove their files at once).
 * Refuses with STRATA_ELOCKED while any of its arrays is locked by anyone, unless FLAGS has
 * STRATA_FORCE; with STRATA_ECONFLICT while a dataset of another region is derived from one of
 * its datasets; with STRATA_EUNSUPPORTED for an application's region (strata_app_register).
 * Handles to its arrays open in this process fail with STRATA_ENOTFOUND from then on; other
 * processes keep reading the unlinked files until they close them (POSIX unlink semantics). */
STRATA_API int strata_region_delete(strata_pool *pool, const char *region, unsigned flags);

/* ---------------------------------------------------------------------------------------------
 * Arrays: lifecycle
 * ------------------------------------------------------------------------------------------- */

/* What strata_array_stat() and strata_array_list() report. Pointers are owned by the library:
 * valid until the array is closed (stat) or the callback returns (list). */
typedef struct strata_array_info {
    const char *region;
    const char *name;
    strata_dtype dtype;
    uint64_t length;        /* elements (strings for STRATA_STR) */
    uint64_t bytes;         /* bytes of data: length * size; for strings offsets plus bytes (in
                             * listings, where files are not opened: the offsets only) */
    int64_t created_ns;     /* creation time, nanoseconds since the Unix epoch */
    const char *path;       /* the NPY file (for strings: the offsets file) */
    const char *bytes_path; /* for strings: the NPY file of the packed bytes; else NULL */
    int has_checksum;       /* set when STRATA_STAT_CHECKSUM was asked */
    uint64_t checksum;      /* xxHash64 of the data (strings: of offsets, then bytes) */
} strata_array_info;

typedef int (*strata_array_list_fn)(void *ctx, const strata_array_info *info);

/* Flags of strata_array_stat(). */
#define STRATA_STAT_CHECKSUM 1u /* compute the checksum: reads every byte */

/* Create array NAME of LENGTH zeroed elements of DTYPE in REGION (which must exist; see
 * strata_region_create). For STRATA_STR the array holds LENGTH empty strings. The file is
 * written under a temporary name, made durable and renamed before the catalog records it, so a
 * crash never leaves a half-written array visible. STRATA_EEXIST if the name is taken.
 * *out: strata_array_close(); OUT may be NULL to only create. */
STRATA_API int strata_array_create(strata_pool *pool, const char *region, const char *name,
                                   strata_dtype dtype, uint64_t length, strata_array **out);

/* As strata_array_create(), but the array starts with the LENGTH elements at DATA (which must
 * not be NULL when LENGTH > 0), durably and atomically: it appears with these values or not at
 * all. Not for STRATA_STR (see strata_array_create_str). */
STRATA_API int strata_array_create_from(strata_pool *pool, const char *region, const char *name,
                                        strata_dtype dtype, uint64_t length, const void *data,
                                        strata_array **out);

/* Create a string array of N strings given packed: string i is BYTES[OFFSETS[i] ..
 * OFFSETS[i+1]). OFFSETS has N+1 non-decreasing entries starting at 0. String arrays are
 * immutable once created: put, scatter and atomics on them fail with STRATA_ETYPE. */
STRATA_API int strata_array_create_str(strata_pool *pool, const char *region, const char *name,
                                       uint64_t n, const int64_t *offsets, const char *bytes,
                                       strata_array **out);

/* Open array NAME of REGION. STRATA_ENOTFOUND if the region or the array does not exist.
 * STRATA_ECORRUPT if its file is missing or does not match the catalog. *out: close it. */
STRATA_API int strata_array_open(strata_pool *pool, const char *region, const char *name,
                                 strata_array **out);

/* Close A: unmap it and release its lock, if held. NULL is a no-op, and so is closing a handle
 * a second time: the handle stays a harmless tombstone until its pool closes. */
STRATA_API void strata_array_close(strata_array *a);

/* Delete array NAME of REGION: the catalog record first (one transaction), then the files.
 * STRATA_ELOCKED while anyone holds its lock. Handles open in this process fail with
 * STRATA_ENOTFOUND afterwards. */
STRATA_API int strata_array_delete(strata_pool *pool, const char *region, const char *name);

/* Describe A (see strata_array_info). FLAGS: 0 or STRATA_STAT_CHECKSUM. */
STRATA_API int strata_array_stat(strata_array *a, unsigned flags, strata_array_info *out);

/* Call FN for every array of REGION, in name order (no checksums). */
STRATA_API int strata_array_list(strata_pool *pool, const char *region, strata_array_list_fn fn,
                                 void *ctx);

/* Short accessors; they never fail on a valid handle. */
STRATA_API strata_dtype strata_array_dtype(const strata_array *a);
STRATA_API uint64_t strata_array_length(const strata_array *a);

/* ---------------------------------------------------------------------------------------------
 * Arrays: the data path
 *
 * Buffers hold elements of the array's dtype, packed. Every range and index is checked before
 * anything is read or written: an out-of-range request fails with STRATA_ERANGE and changes
 * nothing. Stores go to the shared mapping, so other processes see them at once; they become
 * durable with strata_array_flush(). Large requests run on the pool's threads.
 * ------------------------------------------------------------------------------------------- */

/* Copy COUNT elements from SRC into A[START .. START+COUNT). */
STRATA_API int strata_array_put(strata_array *a, uint64_t start, uint64_t count, const void *src);

/* Copy A[START .. START+COUNT) into DST. */
STRATA_API int strata_array_get(strata_array *a, uint64_t start, uint64_t count, void *dst);

/* Strided forms: elements FIRST, FIRST+STRIDE, ... (COUNT of them; STRIDE >= 1). */
STRATA_API int strata_array_put_strided(strata_array *a, uint64_t first, uint64_t stride,
                                        uint64_t count, const void *src);
STRATA_API int strata_array_get_strided(strata_array *a, uint64_t first, uint64_t stride,
                                        uint64_t count, void *dst);

/* DST[i] = A[IDX[i]] for i < N. */
STRATA_API int strata_array_gather(strata_array *a, const uint64_t *idx, uint64_t n, void *dst);

/* A[IDX[i]] = SRC[i] for i < N. When an index repeats, the value of its last occurrence wins. */
STRATA_API int strata_array_scatter(strata_array *a, const uint64_t *idx, uint64_t n,
                                    const void *src);

/* Copy COUNT elements from SRC[SRC_START ..] to DST[DST_START ..]. Both arrays must have the
 * same dtype (STRATA_ETYPE otherwise); they may be the same array, ranges may overlap. */
STRATA_API int strata_array_copy(strata_array *dst, uint64_t dst_start, strata_array *src,
                                 uint64_t src_start, uint64_t count);

/* Flags of strata_array_map(). */
#define STRATA_MAP_READ  1u
#define STRATA_MAP_WRITE 2u

/* A pointer to A's elements in the shared mapping (zero copy), valid until A is closed.
 * STRATA_MAP_WRITE fails with STRATA_EPERM when the file could only be opened read-only, and
 * with STRATA_ETYPE on string arrays. For string arrays *ptr points to the n+1 offsets; use
 * strata_array_map_str() to get the bytes too. */
STRATA_API int strata_array_map(strata_array *a, unsigned flags, void **ptr);

/* Offsets (n+1 int64) and packed bytes of a string array, zero copy, valid until A is closed. */
STRATA_API int strata_array_map_str(strata_array *a, const int64_t **offsets, const char **bytes);

/* String I of a string array: *s points into the mapping (not NUL-terminated), *len bytes. */
STRATA_API int strata_array_get_str(strata_array *a, uint64_t i, const char **s, size_t *len);

/* Make every store to A durable (msync and fsync). */
STRATA_API int strata_array_flush(strata_array *a);

/* ---------------------------------------------------------------------------------------------
 * Arrays: NPY files in and out
 * ------------------------------------------------------------------------------------------- */

/* Create array NAME of REGION from the NPY file at PATH; dtype and length come from the file
 * (a C-order array of any shape is taken flat). Durable and atomic like
 * strata_array_create_from(). STRATA_ETYPE if the file's dtype is not one Strata stores. */
STRATA_API int strata_array_create_npy(strata_pool *pool, const char *region, const char *name,
                                       const char *path, strata_array **out);

/* Copy every element of the NPY file at PATH into A from START on. The file's dtype must be A's
 * (STRATA_ETYPE) and fit (STRATA_ERANGE). */
STRATA_API int strata_array_put_npy(strata_array *a, uint64_t start, const char *path);

/* Write A[START .. START+COUNT) to the NPY file PATH, durably; an existing file is replaced
 * atomically. Not for string arrays (STRATA_ETYPE): their files are already NPY (see
 * strata_array_stat, path and bytes_path). */
STRATA_API int strata_array_get_npy(strata_array *a, uint64_t start, uint64_t count,
                                    const char *path);

/* Write into OUT (OUTLEN bytes; 256 always suffice) the NPY header of a 1-D array of N elements
 * of DTYPE (not STRATA_STR): the file's first bytes, the data following at the returned length,
 * a multiple of 64. Returns the length, or STRATA_EINVAL (bad dtype) / STRATA_ERANGE (OUTLEN too
 * small). For writing NPY files that stream their data, as exports do. */
STRATA_API int strata_npy_header(strata_dtype dtype, uint64_t n, char *out, size_t outlen);

/* ---------------------------------------------------------------------------------------------
 * Arrays: atomics, correct across processes on one machine
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    STRATA_ATOMIC_FETCH_ADD,
    STRATA_ATOMIC_SWAP,
    STRATA_ATOMIC_COMPARE_SWAP,
    STRATA_ATOMIC_FETCH_MIN,
    STRATA_ATOMIC_FETCH_MAX,
    STRATA_ATOMIC_FETCH_AND,
    STRATA_ATOMIC_FETCH_OR,
    STRATA_ATOMIC_FETCH_XOR
} strata_atomic_op;

/* Apply OP atomically to A[INDEX]. OPERAND, EXPECTED (compare-swap only; else may be NULL) and
 * OLD (may be NULL) point to values of the array's dtype; *OLD receives the previous value. Every
 * op works on i32, i64, u32 and u64 arrays (integer addition wraps around); f64 arrays support
 * fetch_add, swap and compare_swap (bitwise compare), through a compare-swap loop. Other dtypes
 * and ops fail with STRATA_ETYPE. */
STRATA_API int strata_array_atomic(strata_array *a, strata_atomic_op op, uint64_t index,
                                   const void *operand, const void *expected, void *old);

/* Shorthands of strata_array_atomic() for i64 and f64 arrays (STRATA_ETYPE on other dtypes). */
STRATA_API int strata_array_fetch_add_i64(strata_array *a, uint64_t index, int64_t delta,
                                          int64_t *old);
STRATA_API int strata_array_compare_swap_i64(strata_array *a, uint64_t index, int64_t expected,
                                             int64_t desired, int64_t *old);
STRATA_API int strata_array_fetch_add_f64(strata_array *a, uint64_t index, double delta,
                                          double *old);

/* ---------------------------------------------------------------------------------------------
 * Arrays: locks between processes
 *
 * Advisory locks on an array, shared by all processes of the machine: they do not stop get or
 * put, they order the holders. A lock belongs to the handle that took it, and is released by
 * strata_array_unlock(), by closing the handle, or by the death of the holding process.
 * ------------------------------------------------------------------------------------------- */

typedef enum { STRATA_LOCK_SHARED, STRATA_LOCK_EXCLUSIVE } strata_lock_mode;

/* Take A's lock in MODE, waiting at most TIMEOUT_MS milliseconds (0: try once; negative: wait
 * forever). STRATA_ELOCKED on timeout. Taking it again through the same handle changes its
 * mode. */
STRATA_API int strata_array_lock(strata_array *a, strata_lock_mode mode, int timeout_ms);

/* Release A's lock. A no-op when A holds none. */
STRATA_API int strata_array_unlock(strata_array *a);

/* STRATA_OK if no one holds A's lock, STRATA_ELOCKED if another handle (of any process) does. */
STRATA_API int strata_array_lock_test(strata_array *a);

/* ---------------------------------------------------------------------------------------------
 * Backups (OpenFAM fam_backup / fam_restore)
 * ------------------------------------------------------------------------------------------- */

/* Copy A's current contents durably into a new backup named BACKUP (pool-wide names), with its
 * checksum. STRATA_EEXIST if that backup exists. */
STRATA_API int strata_array_backup(strata_array *a, const char *backup);

/* Restore BACKUP into array NAME of REGION. When the array exists it must have the backup's
 * dtype and length (STRATA_ETYPE / STRATA_ERANGE otherwise) and its contents are overwritten
 * (not for string arrays: STRATA_ETYPE); when it does not, it is created, atomically, with the
 * backup's contents (and its region too). The backup's checksum is verified first:
 * STRATA_ECORRUPT if it does not match. */
STRATA_API int strata_backup_restore(strata_pool *pool, const char *backup, const char *region,
                                     const char *name);

/* Call FN for every backup of POOL, in name order. */
STRATA_API int strata_backup_list(strata_pool *pool, strata_name_fn fn, void *ctx);

/* Delete BACKUP. STRATA_ENOTFOUND if there is no such backup. */
STRATA_API int strata_backup_delete(strata_pool *pool, const char *backup);

/* ---------------------------------------------------------------------------------------------
 * Datasets: named, typed columns made of immutable batches
 *
 * A dataset in a region has a schema (named, typed columns) and is a sequence of batches; each
 * batch holds, for every column, the same number of rows (zero allowed). Rows get global ids at
 * publish, strictly increasing across batches. Every publish is a new version; readers read
 * snapshots (a version), which stay immutable while open whatever writers do. On disk every
 * column of every batch is an NPY file (see docs/format.md).
 * ------------------------------------------------------------------------------------------- */

typedef struct strata_dataset strata_dataset;
typedef struct strata_batch strata_batch;
typedef struct strata_snapshot strata_snapshot;

/* Most columns a dataset may have. */
#define STRATA_MAX_COLUMNS 4096

/* A column of a schema. */
typedef struct strata_column {
    const char *name; /* a valid name (see the conventions above) */
    strata_dtype dtype;
} strata_column;

/* What strata_dataset_info() and strata_snapshot_info() report. Pointers are owned by the handle
 * and valid until it is closed. */
typedef struct strata_dataset_desc {
    const char *region;
    const char *name;
    int ncols;
    const strata_column *columns;
    int64_t version;   /* the number of publishes; 0 for a new dataset */
    uint64_t nbatches; /* batches visible at this version */
    uint64_t nrows;    /* rows visible at this version */
    uint64_t bytes;    /* bytes of column data at this version */
    int64_t created_ns;
} strata_dataset_desc;

/* Create dataset NAME in REGION (which must exist) with the NCOLS columns of COLS. Column names
 * must be valid and distinct. STRATA_EEXIST if the name is taken (by a dataset). */
STRATA_API int strata_dataset_create(strata_pool *pool, const char *region, const char *name,
                                     const strata_column *cols, int ncols);

/* Open dataset NAME of REGION for writing batches and for its info. STRATA_ENOTFOUND if there is
 * none. *out: strata_dataset_close(). */
STRATA_API int strata_dataset_open(strata_pool *pool, const char *region, const char *name,
                                   strata_dataset **out);

/* Close DS: batches committed but not published are discarded (their files removed) and the
 * writer lock, if held, is released. NULL is a no-op. */
STRATA_API void strata_dataset_close(strata_dataset *ds);

/* The dataset's schema and its latest published state (read afresh from the catalog). */
STRATA_API int strata_dataset_info(strata_dataset *ds, strata_dataset_desc *out);

/* Drop dataset NAME of REGION. Its files are removed by strata_gc() once no open snapshot reads
 * them. */
STRATA_API int strata_dataset_drop(strata_pool *pool, const char *region, const char *name);

/* Call FN for every dataset of REGION, in name order. */
STRATA_API int strata_dataset_list(strata_pool *pool, const char *region, strata_name_fn fn,
                                   void *ctx);

/* How long strata_batch_begin() waits for another writer of the dataset before it fails with
 * STRATA_ELOCKED. Default 10000 ms; negative waits forever. */
STRATA_API int strata_dataset_set_lock_timeout(strata_dataset *ds, int ms);

/* Start a batch of DS. The first batch begun takes the dataset's writer lock (one writer per
 * dataset across processes; others wait, then fail with STRATA_ELOCKED) until strata_publish()
 * or strata_dataset_close(). *out: strata_batch_commit() or strata_batch_abort(). */
STRATA_API int strata_batch_begin(strata_dataset *ds, strata_batch **out);

/* Append N values of column COL (its index in the schema) to batch B; VALUES holds elements of
 * the column's dtype. Columns may be appended in any order and in pieces; at commit every column
 * must have the same number of rows. */
STRATA_API int strata_batch_append(strata_batch *b, int col, const void *values, uint64_t n);

/* Append N strings to string column COL: string i is BYTES[OFFSETS[i] - OFFSETS[0] ..
 * OFFSETS[i+1] - OFFSETS[0]) (OFFSETS has N+1 non-decreasing entries). */
STRATA_API int strata_batch_append_str(strata_batch *b, int col, const int64_t *offsets,
                                       const char *bytes, uint64_t n);

/* As strata_batch_append() and strata_batch_append_str(), for a column with nulls: bit i of VALID
 * (Arrow's layout: bit i % 8 of byte i / 8) is set when value i is present and clear when it is
 * null; VALID NULL means all present. A null's slot in VALUES (its string) is ignored: it is
 * stored as zero (an empty string). A batch column stores its validity bitmap only when it has a
 * null. */
STRATA_API int strata_batch_append_nullable(strata_batch *b, int col, const void *values,
                                            const uint8_t *valid, uint64_t n);
STRATA_API int strata_batch_append_str_nullable(strata_batch *b, int col, const int64_t *offsets,
                                                const char *bytes, const uint8_t *valid,
                                                uint64_t n);

/* The index of column NAME in B's schema, or STRATA_ENOTFOUND. */
STRATA_API int strata_batch_column(strata_batch *b, const char *name, int *col);

/* Finish B: every column file is completed and made durable (fsync of each file and the
 * directory). The batch is not visible until strata_publish(). B is released, also on failure. */
STRATA_API int strata_batch_commit(strata_batch *b);

/* Discard B and its files. NULL is a no-op. */
STRATA_API void strata_batch_abort(strata_batch *b);

/* Make every batch committed on DS since the last publish visible, atomically, as one new
 * version (*version, may be NULL); then release the writer lock. With nothing committed it only
 * releases the lock. STRATA_ECONFLICT if the dataset changed underneath (it cannot while the lock
 * is held; this is a second line of defence). */
STRATA_API int strata_publish(strata_dataset *ds, int64_t *version);

/* One entry of a dataset's log. */
typedef struct strata_version_info {
    int64_t version;
    int64_t created_ns;
    uint64_t batches_added, rows_added, total_rows;
    int expired; /* dropped by strata_gc(): no longer readable as of this version */
} strata_version_info;

typedef int (*strata_version_fn)(void *ctx, const strata_version_info *v);

/* Call FN for every version of dataset NAME, oldest first. */
STRATA_API int strata_dataset_log(strata_pool *pool, const char *region, const char *name,
                                  strata_version_fn fn, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Snapshots: consistent, immutable views of a dataset at one version
 * ------------------------------------------------------------------------------------------- */

/* Open a snapshot of dataset NAME at version AS_OF (0 or negative: the latest). STRATA_ENOTFOUND
 * if that version never existed or was expired by strata_gc(). While it is open, strata_gc()
 * keeps the dataset's files even if it is dropped; the hold ends when the snapshot is closed or
 * its process dies. Opening a snapshot never writes the catalog. *out: strata_snapshot_close(). */
STRATA_API int strata_snapshot_open(strata_pool *pool, const char *region, const char *name,
                                    int64_t as_of, strata_snapshot **out);

/* Close S; pointers it returned become invalid. NULL is a no-op. */
STRATA_API void strata_snapshot_close(strata_snapshot *s);

/* The schema and the state at the snapshot's version. */
STRATA_API int strata_snapshot_info(strata_snapshot *s, strata_dataset_desc *out);

/* The index of column NAME, or STRATA_ENOTFOUND. */
STRATA_API int strata_snapshot_column(strata_snapshot *s, const char *name, int *col);

/* One batch of a snapshot, and the statistics of one of its columns. */
typedef struct strata_batch_info {
    uint64_t seq;       /* position in the dataset: 0, 1, 2 ... */
    uint64_t first_row; /* global id of its first row */
    uint64_t nrows;
    int64_t version; /* the publish that added it */
} strata_batch_info;

typedef struct strata_column_stats {
    uint64_t bytes;
    uint64_t checksum;    /* xxHash64 of the data (strings: offsets, then bytes; then the
                           * validity bitmap, if any) */
    int has_minmax;       /* numeric columns with at least one value */
    double min, max;      /* as doubles */
    int64_t min_i, max_i; /* exact, for integer and bool columns (u64: the bit pattern) */
    uint64_t nulls;       /* null values (min and max are of the others) */
} strata_column_stats;

STRATA_API int strata_snapshot_batch(strata_snapshot *s, uint64_t batch, strata_batch_info *out);
STRATA_API int strata_snapshot_stats(strata_snapshot *s, uint64_t batch, int col,
                                     strata_column_stats *out);

/* Zero-copy access to column COL of batch BATCH: *data points to its nrows elements (for
 * strings, use strata_snapshot_map_str). Valid until the snapshot is closed. */
STRATA_API int strata_snapshot_map(strata_snapshot *s, uint64_t batch, int col, const void **data);
STRATA_API int strata_snapshot_map_str(strata_snapshot *s, uint64_t batch, int col,
                                       const int64_t **offsets, const char **bytes);

/* The validity bitmap of column COL of batch BATCH (Arrow's layout, see
 * strata_batch_append_nullable), or NULL in *VALID when that batch column has no nulls. Valid until
 * the snapshot is closed. */
STRATA_API int strata_snapshot_map_valid(strata_snapshot *s, uint64_t batch, int col,
                                         const uint8_t **valid);

/* Copy rows [ROW, ROW+COUNT) of column COL (row positions in the snapshot, 0-based) into DST,
 * across batches. Not for string columns (STRATA_ETYPE). */
STRATA_API int strata_snapshot_read(strata_snapshot *s, int col, uint64_t row, uint64_t count,
                                    void *dst);

#define STRATA_HIST_BINS 32

/* Summary statistics of a numeric column or an N-d array region. */
typedef struct strata_summary {
    uint64_t count;                  /* values counted (NaNs and nulls are not) */
    uint64_t nan;                    /* NaNs skipped */
    double min, max, mean, std;      /* std: population; all NaN when count is 0 */
    uint64_t hist[STRATA_HIST_BINS]; /* equal bins over [min, max]; max falls in the last */
    int64_t version;                 /* of the dataset or array summarised */
    double seconds;                  /* how long computing it took */
    int cached;                      /* 1: read from the catalog; 0: computed by this call */
    uint64_t nulls;                  /* nulls skipped (dataset columns) */
} strata_summary;

/* Statistics of numeric or bool column COL over all rows of snapshot S, computed in two passes
 * over the mapped batches and cached in the catalog, keyed by the column's content (the
 * checksums of its batches): a later call on the same content, by any process, reads the cache.
 * The cache keeps the newest 4096 summaries of the pool; writing it is skipped when the catalog
 * is busy or read-only. STRATA_ETYPE for a string column, STRATA_ESTALE for a derived column not
 * yet computed. */
STRATA_API int strata_snapshot_summary(strata_snapshot *s, int col, strata_summary *out);

/* ---------------------------------------------------------------------------------------------
 * Check and garbage collection
 * ------------------------------------------------------------------------------------------- */

/* Called once per problem found: WHAT names the item ("taxi/trips batch 3 column 'fare'"), PATH
 * its file, PROBLEM what is wrong. ORPHAN is set for files that no catalog row names (harmless;
 * strata_gc removes them). */
typedef int (*strata_problem_fn)(void *ctx, const char *what, const char *path, const char *problem,
                                 int orphan);

/* Verify every published batch file of REGION/NAME (REGION NULL: the whole pool; NAME NULL: the
 * whole region): it exists, parses as NPY, has the recorded size and checksum. Orphans are
 * reported too. *damaged counts damage (not orphans). Returns STRATA_ECORRUPT when anything is
 * damaged, else STRATA_OK. The catalog is verified first (SQLite's integrity check): a damaged
 * catalog is reported as "catalog" and ends the check with STRATA_ECORRUPT, since everything
 * else is judged against it. */
STRATA_API int strata_check(strata_pool *pool, const char *region, const char *name,
                            strata_problem_fn fn, void *ctx, uint64_t *damaged);

typedef struct strata_gc_opts {
    int64_t grace_s;       /* orphans younger than this are left alone (a writer may be busy);
                            * default (0) means 3600 s; negative means no grace */
    int64_t keep_versions; /* keep this many most recent versions of each dataset readable
                            * as-of; 0 keeps all */
    int dry_run;           /* report, remove nothing */
} strata_gc_opts;

typedef struct strata_gc_stats {
    uint64_t orphans_removed, datasets_removed, versions_expired;
    uint64_t datasets_held; /* dropped datasets kept because an open snapshot reads them */
    uint64_t bytes_freed;
    uint64_t replaced_removed; /* files of batches replaced by a refresh of a derived dataset */
    uint64_t busy_skipped;     /* places whose orphans were left for the next gc because a writer
                                * was at work there (a dataset or N-d array being written, or the
                                * pool while something was being created) */
} strata_gc_stats;

/* Remove orphan files older than the grace period and the files of dropped datasets that no open
 * snapshot reads (a snapshot whose process died holds nothing); remove the batches a refresh of
 * an order-destroying derived dataset replaced, once no snapshot reads the dataset (the versions
 * that read them are then expired); expire old versions. OPTS may be NULL (defaults); STATS may
 * be NULL. A live writer's files are never orphans, whatever the grace: gc leaves a dataset or
 * N-d array whose writer is at work for the next run (it never waits for one), and writers that
 * start meanwhile wait for it for a moment. */
STRATA_API int strata_gc(strata_pool *pool, const strata_gc_opts *opts, strata_gc_stats *stats);

/* ---------------------------------------------------------------------------------------------
 * Ingest: CSV and NPY files into datasets
 * ------------------------------------------------------------------------------------------- */

/* Progress of a long ingest, reported after every segment parsed. */
typedef struct strata_ingest_stats {
    uint64_t files, rows, bytes_read, batches;
    int64_t version; /* the version published last (0: nothing published) */
    double seconds;
} strata_ingest_stats;

typedef int (*strata_progress_fn)(void *ctx, const strata_ingest_stats *sofar,
                                  uint64_t total_bytes);

typedef struct strata_ingest_opts {
    uint64_t batch_rows;     /* rows per batch; 0: one batch per file */
    char delimiter;          /* CSV field delimiter; 0 means ',' */
    const char *null_marker; /* a CSV field equal to this (unquoted) is null; NULL means the
                              * empty field. Nulls become NaN in float columns and "" in string
                              * columns; integer and bool columns refuse them */
    const char *schema;      /* "name:dtype,..." for a new dataset; NULL: inferred from the CSV
                              * header and first rows (i64, f64 or str) */
    int publish_each;        /* publish every batch as it is committed (long streams); default:
                              * all batches of the call are published together, or none */
    int nthreads;            /* parser threads; 0: the pool's setting (an input under 2 MiB, a
                              * CSV file or a call's files of another format, is read on one) */
    strata_progress_fn progress;
    void *progress_ctx;
} strata_ingest_opts;

/* Ingest the NFILES CSV files FILES into dataset NAME of REGION, creating the region and the
 * dataset (schema from OPTS->schema or inferred) when they do not exist. CSV is RFC 4180: a
 * header line naming the columns, quoted fields with embedded delimiters, quotes ("") and
 * newlines, LF or CRLF line ends, no trailing newline needed; blank lines are skipped in files of
 * more than one column. The bytes between a field's quotes are its value exactly (a CRLF inside
 * quotes stays CRLF); a UTF-8 byte order mark at the start of a file is skipped; a NUL byte is
 * data in a string field but refused in the header. Columns are matched to the dataset's by
 * name. Bad input fails with
 * STRATA_EINVAL (or STRATA_ETYPE, STRATA_ERANGE) and a message naming the file, line, column and
 * text, and nothing is published (a dataset created by this call is dropped again). OPTS and
 * STATS may be NULL. */
STRATA_API int strata_ingest_csv(strata_pool *pool, const char *region, const char *name,
                                 const char *const *files, int nfiles,
                                 const strata_ingest_opts *opts, strata_ingest_stats *stats);

/* Ingest one batch from NPY files, one per column: column COLNAMES[i] from FILES[i] (all 1-D,
 * the same length). Creates the dataset from the files' dtypes when it does not exist; otherwise
 * names and dtypes must match its schema. Batch splitting, publishing and errors as for CSV. */
STRATA_API int strata_ingest_npy(strata_pool *pool, const char *region, const char *name,
                                 const char *const *colnames, const char *const *files, int ncols,
                                 const strata_ingest_opts *opts, strata_ingest_stats *stats);

/* Ingest the NFILES Parquet files FILES into dataset NAME of REGION, creating the region and the
 * dataset (schema from the first file's columns) when they do not exist; later files must have
 * the same column names and types (in any order). Each row group becomes a batch (with
 * OPTS->batch_rows, batches of that many rows instead); all are published together, or nothing.
 * Types: BOOLEAN -> bool; INT32 -> i32 (INTEGER(8|16|32, signed or not) -> i8 i16 i32 u8 u16
 * u32; DATE -> ts at midnight UTC); INT64 -> i64 (INTEGER(64, unsigned) -> u64; TIMESTAMP of
 * any unit -> ts); FLOAT -> f32; DOUBLE -> f64; BYTE_ARRAY (STRING or none, valid UTF-8) -> str;
 * OPTIONAL columns keep their nulls. Encodings PLAIN, dictionary, RLE/bit-packed, DELTA_* and
 * BYTE_STREAM_SPLIT, data pages v1 and v2, codecs UNCOMPRESSED, SNAPPY, GZIP and ZSTD. Nested
 * columns, INT96, FIXED_LEN_BYTE_ARRAY, DECIMAL and other logical types, LZ4, BROTLI and LZO
 * fail with STRATA_EUNSUPPORTED naming the file and column; a damaged file with STRATA_ECORRUPT
 * naming the file, row group, column and page. OPTS->delimiter, null_marker and schema do not
 * apply. */
STRATA_API int strata_ingest_parquet(strata_pool *pool, const char *region, const char *name,
                                     const char *const *files, int nfiles,
                                     const strata_ingest_opts *opts, strata_ingest_stats *stats);

/* Write the columns COLS (NCOLS indexes; NULL: every column) of snapshot S as NPY files in
 * directory DIR (created if needed): NAME.npy per column, all batches concatenated. Strings are
 * fixed-width unicode ('<U' + the longest string's length), which numpy.load maps without
 * pickle; ts is '<M8[ns]'. A column with nulls also gets NAME.valid.npy, a bool array (True: a
 * value); its nulls are NaN in float columns, NaT in timestamps, "" in strings and 0 otherwise.
 * The files are written into a new directory beside DIR, made durable, which then takes DIR's
 * place (an existing DIR is replaced as a whole): a failed export leaves nothing behind and DIR
 * as it was. Memory: one batch at a time. */
STRATA_API int strata_export_npy(strata_snapshot *s, const int *cols, int ncols, const char *dir);

/* ---------------------------------------------------------------------------------------------
 * Arrow: the C Data Interface and the C Stream Interface (arrow.apache.org/docs/format/
 * CDataInterface.html), declared here as the specification gives them
 * ------------------------------------------------------------------------------------------- */

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE           2
#define ARROW_FLAG_MAP_KEYS_SORTED    4
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};
#endif

/* Export the columns COLS (NCOLS indexes; NULL: every column) of snapshot S as an Arrow stream
 * into *OUT: its schema a struct ("+s") of one field per column (nullable; bool "b", integers
 * "c s i l C S I L", floats "f g", str "U" (large_utf8), ts "tsn:UTC"), then one struct array
 * per batch. Zero-copy: the arrays' buffers point into the mapped batch files (values, string
 * offsets and bytes, validity bitmaps as stored); only bool columns are packed into bits. The
 * stream reads its own snapshot of S's version, so S may be closed at once; the files stay
 * mapped (and safe from gc) until the stream and every array it produced are released, from any
 * thread. A derived column not computed for every batch fails with STRATA_ESTALE. */
STRATA_API int strata_snapshot_arrow_stream(strata_snapshot *s, const int *cols, int ncols,
                                            struct ArrowArrayStream *out);

/* Ingest the Arrow stream STREAM (of struct arrays: record batches) into dataset NAME of
 * REGION, creating it from the stream's schema when it does not exist (otherwise the columns
 * must match it in order, names and types). Each array becomes a batch (OPTS->batch_rows
 * splits or joins them); all are published together, or nothing. Read: bool, int8..int64,
 * uint8..uint64, float, double, utf8 and large_utf8 (UTF-8 checked), timestamps of any unit
 * and time zone (to ns, UTC), date32 and date64 (to ts); validity bitmaps as nulls. Values,
 * large_utf8 strings and byte-aligned bitmaps are appended from the arrays' own buffers. Other
 * types fail with STRATA_EUNSUPPORTED naming the column. STREAM is consumed: released before
 * this returns, also on failure. */
STRATA_API int strata_ingest_arrow_stream(strata_pool *pool, const char *region, const char *name,
                                          struct ArrowArrayStream *stream,
                                          const strata_ingest_opts *opts,
                                          strata_ingest_stats *stats);

/* Ingest the NFILES Arrow IPC files FILES (the file format, also called Feather v2) into
 * dataset NAME of REGION, as strata_ingest_arrow_stream would their record batches: each record
 * batch a batch, the dataset created from the first file's schema, all files published
 * together or nothing. Uncompressed and ZSTD-compressed buffers, dictionary-encoded strings;
 * LZ4 compression, nested and other types fail with STRATA_EUNSUPPORTED naming the file and
 * column; a damaged file with STRATA_EINVAL naming the file, batch, column and buffer. */
STRATA_API int strata_ingest_arrow(strata_pool *pool, const char *region, const char *name,
                                   const char *const *files, int nfiles,
                                   const strata_ingest_opts *opts, strata_ingest_stats *stats);

/* Write the columns COLS (NCOLS indexes; NULL: every column) of snapshot S as the Arrow IPC
 * file PATH: a record batch per batch, uncompressed, types as strata_snapshot_arrow_stream gives
 * them. Written under a temporary name beside PATH and renamed when complete and durable: a
 * failed export leaves nothing. */
STRATA_API int strata_export_arrow(strata_snapshot *s, const int *cols, int ncols,
                                   const char *path);

/* How strata_export_parquet() writes. Zero fields take the defaults. */
typedef struct strata_export_opts {
    const char *compression; /* "snappy" (default), "zstd", "gzip" or "none" */
    int level;               /* zstd level; 0: 3 */
    int dictionary;          /* 0: dictionary-encode a column chunk with few distinct values (at
                              * most half its rows); -1: never (PLAIN) */
} strata_export_opts;

/* Write the columns COLS (NCOLS indexes; NULL: every column) of snapshot S as the Parquet file
 * PATH: each non-empty batch a row group, with column statistics (min, max, null count). A
 * column with nulls is OPTIONAL, the others REQUIRED; types map back as strata_ingest_parquet
 * reads them (i8..u32 as INT32 with an INTEGER logical type, u64 as INT64 INTEGER(64, unsigned),
 * ts as INT64 TIMESTAMP(NANOS, UTC), str as BYTE_ARRAY STRING). The file is written under a
 * temporary name beside PATH and renamed when complete and durable: a failed export leaves
 * nothing (and an existing PATH as it was). Memory: one batch's columns at a time. The column
 * chunks are encoded on the pool's threads (on one for under 1 Mi values). */
STRATA_API int strata_export_parquet(strata_snapshot *s, const int *cols, int ncols,
                                     const char *path, const strata_export_opts *opts);

/* The text formats of strata_export_text() and strata_snapshot_format_rows(). Values are
 * written as `strata cat` prints them: integers in decimal; floats as strata_real_format()
 * writes them; bools as true and false; timestamps as strata_ts_format() writes them (JSON: as
 * strings); CSV and TSV strings as they are, quoted ("", quotes doubled) when they hold the
 * delimiter, a quote, CR or LF, and "" for the empty string; JSON strings escaped. A null is the
 * empty field in CSV and TSV, null in JSON, as are NaN and infinities in JSON. */
typedef enum strata_text_format {
    STRATA_TEXT_CSV = 0, /* comma-separated, a first line of the column names */
    STRATA_TEXT_TSV,     /* the same, tab-separated */
    STRATA_TEXT_JSON,    /* one array of objects, a row per line: "[", "\n{...}", ",\n{...}", ...
                          * then "\n]\n" ("]\n" with no rows) */
    STRATA_TEXT_NDJSON   /* an object a line: "{...}\n" */
} strata_text_format;

/* Write the columns COLS (NCOLS indexes; NULL: every column) of snapshot S as the text file PATH
 * in FORMAT (strata_text_format): every batch's rows in order. The rows are formatted in pieces
 * of 16 Ki rows on the pool's threads (on one for under 512 Ki values), each piece written as soon
 * as those before it are (memory: a piece's text a thread); the file is the same bytes for any
 * thread count. It is written under
 * a temporary name beside PATH and renamed when complete and durable: a failed export leaves
 * nothing (and an existing PATH as it was). */
STRATA_API int strata_export_text(strata_snapshot *s, const int *cols, int ncols, const char *path,
                                  int format);

/* The head of a text of columns COLS[NCOLS] of S in FORMAT -- CSV, TSV: the line of their names;
 * JSON: "["; NDJSON: nothing -- appended to the buffer *BUF (*LEN bytes used of *CAP; NULL, 0, 0
 * to start one), which grows by realloc() (the caller free()s it, also after a failure); a NUL
 * follows the text, not counted in *LEN.
 * STRATA_EINVAL (a format, no columns), STRATA_ERANGE (a column), STRATA_ENOMEM. */
STRATA_API int strata_snapshot_format_head(strata_snapshot *s, const int *cols, int ncols,
                                           int format, char **buf, size_t *len, size_t *cap);

/* Rows of batch BATCH of S as text in FORMAT, appended to *BUF as strata_snapshot_format_head()
 * appends: the rows ROWS[0..NROWS) (indexes in the batch), or when ROWS is NULL rows FIRST to
 * FIRST + NROWS - 1; columns COLS[NCOLS]. BEFORE: the rows of the same output written before
 * these (JSON: a row is preceded by "\n" when it is the first, else by ",\n"). STRATA_ERANGE
 * (a row or column), STRATA_EINVAL, STRATA_ENOMEM, or a read error of the batch. */
STRATA_API int strata_snapshot_format_rows(strata_snapshot *s, uint64_t batch, const uint64_t *rows,
                                           uint64_t first, uint64_t nrows, const int *cols,
                                           int ncols, int format, uint64_t before, char **buf,
                                           size_t *len, size_t *cap);

/* ---------------------------------------------------------------------------------------------
 * Derived datasets and columns, lineage, update
 *
 * A derived dataset is computed from a parent dataset by one operation; its rows are positions of
 * parent rows ("index", column 0, u64), in the operation's order, with the columns the operation
 * produces (sort keys, aggregates). Order-preserving operations (filter, sort_runs, per-run topk)
 * map each parent batch to one output batch and are updated incrementally, batch by batch;
 * order-destroying ones (sort, global topk, groupby) are refreshed by merging what is new into
 * the previous output. A derived column is computed for every batch of its dataset: gather (a
 * parent's column at the index), scatter (a child's column at its parent positions), expr.
 * strata_update() brings everything up to date; the result is bit-identical to a recomputation
 * from scratch. Names, columns, types and expressions are checked when an object is defined.
 * ------------------------------------------------------------------------------------------- */

/* A derived dataset's operation. Fields not used by OP are ignored. */
typedef struct strata_derive_spec {
    const char *op;   /* "filter", "sort", "sort_runs", "topk" or "groupby" */
    const char *expr; /* filter: a bool expression over the parent's columns */
    const char *keys; /* sort, sort_runs, groupby: "col[,col...]"; topk: one column */
    const char *aggs; /* groupby: "count,sum:col,mean:col,quantile:col:0.9,..." (docs/guide.md) */
    uint64_t k;       /* topk: how many rows (>= 1) */
    int desc;         /* sort, sort_runs, topk: descending order */
    int global;       /* topk: over the whole dataset, not per batch */
} strata_derive_spec;

/* Define dataset NAME of REGION derived from SRC_REGION/SRC_NAME by SPEC. Nothing is computed:
 * run strata_update(). Errors: STRATA_ENOTFOUND (parent, column), STRATA_ETYPE (expression or key
 * types), STRATA_EINVAL (spec), STRATA_EEXIST (name taken). */
STRATA_API int strata_derive(strata_pool *pool, const char *region, const char *name,
                             const char *src_region, const char *src_name,
                             const strata_derive_spec *spec);

/* A derived column's operation. */
typedef struct strata_column_spec {
    const char *op;            /* "gather", "scatter" or "expr" */
    const char *src_region;    /* gather: the parent; scatter: the child (derived from this) */
    const char *src_name;      /* dataset; NULL for expr */
    const char *src_column;    /* the column gathered or scattered */
    const char *expr;          /* expr: over the dataset's own columns */
    const char *default_value; /* scatter: the value where the child has no row ("0", "-1.5") */
} strata_column_spec;

/* Define derived column COLUMN of dataset REGION/NAME by SPEC (computed by strata_update()). */
STRATA_API int strata_column_derive(strata_pool *pool, const char *region, const char *name,
                                    const char *column, const strata_column_spec *spec);

/* What strata_update() reports while it works and at the end. */
typedef struct strata_update_event {
    const char *region, *name; /* the dataset being written */
    const char *object;        /* "index" or the column's name */
    const char *mode;          /* "incremental", "refresh", "full", or "merged" (a column carried
                                  through the merge of its dataset's sorted index) */
    uint64_t done, total;      /* source batches processed so far, of */
    uint64_t rows;             /* rows read so far */
    double seconds;            /* since the object started */
} strata_update_event;

typedef int (*strata_update_fn)(void *ctx, const strata_update_event *ev);

typedef struct strata_update_opts {
    int full;            /* recompute everything from scratch (same bytes as incremental) */
    int auto_only;       /* only objects registered with strata_auto() */
    uint64_t mem;        /* memory budget in bytes (0: as much as needed); a sort larger than it
                            spills sorted runs to the dataset's directory and merges them */
    int nthreads;        /* 0: the pool's setting (an object whose step reads fewer than 1 Mi
                          * rows, new ones or all of them, runs on one thread, a sort or global
                          * top-k computed whole excepted; an update that adds fewer than 1 Mi
                          * rows to a partitioned sort sorts them on one thread) */
    int lock_timeout_ms; /* wait for another updater of a dataset; 0: 60 s; < 0: forever */
    uint64_t batch_rows; /* rows per output batch, and per partition of a sorted dataset (at
                            least 1024; 0: 2 Mi, or less to fit MEM) */
    strata_update_fn progress;
    void *progress_ctx;
} strata_update_opts;

typedef struct strata_update_stats {
    uint64_t incremental; /* objects updated with only what was new */
    uint64_t refreshed;   /* objects recomputed or merged whole (order-destroying, --full) */
    uint64_t fresh;       /* objects that had nothing to do */
    uint64_t batches_read, batches_written, rows_read, rows_written;
    uint64_t runs_spilled;    /* sorted runs written to disk to stay within the memory budget */
    uint64_t parts_compacted; /* partitions of sorted datasets whose runs were merged into one */
    double seconds;
    int ranks;        /* processes that shared the update (strata_update_comm), 1 alone */
    double imbalance; /* the most rows one process worked on over the mean: 1.0 when even */
} strata_update_stats;

/* Bring the derived objects of REGION/NAME (NAME NULL: every dataset of REGION; REGION NULL: the
 * whole pool) up to date, with their ancestors, oldest first. Every dataset's new output and its
 * consumed marks are published in one catalog transaction: a crash leaves the previous state, and
 * a rerun produces the same bytes. Concurrent updaters of a dataset wait for each other and never
 * repeat work. OPTS and STATS may be NULL. */
STRATA_API int strata_update(strata_pool *pool, const char *region, const char *name,
                             const strata_update_opts *opts, strata_update_stats *stats);

/* strata_update() shared by the processes of COMM, the address of an MPI_Comm (libstrata built
 * with MPI, MPI initialised; NULL: this process alone, as strata_update()). Every process of
 * COMM calls it with the same arguments and its own handle on the same pool (a directory they
 * all see, or the same PostgreSQL catalog). Collective.
 *
 * The work is split by batch: for an order-preserving index (filter, sort_runs, per-run topk)
 * each process takes a contiguous block of the new source batches, for a derived column
 * (gather, scatter, expr) a block of the batches to compute; each writes and fsyncs its own
 * files, and process 0, which holds the dataset's writer lock, publishes one transaction after
 * every process reported its files. Order-destroying indexes are spread too: a sort from
 * scratch has each process sort its block, agree on cuts at whole output batches and exchange
 * the rows of each key range, then write its range's batches and partitions; an incremental
 * sort has each process write the delta runs and compactions of its share of the partitions; a
 * global topk is a local topk and one reduction; a group-by folds each process's block, then
 * merges the groups by key hash, float sums in one fixed order. The result is byte-identical to
 * strata_update()'s on one process, for any number of processes. A failure on any process fails the
 * call on all of them with that process's message (the first by rank), and nothing is published;
 * each process removes the files it wrote. STATS, on every process: the totals over them, with
 * ranks and imbalance. STRATA_EUNSUPPORTED if libstrata was built without MPI. strata_mpi.h
 * declares strata_update_mpi(), which takes the MPI_Comm itself. */
STRATA_API int strata_update_comm(strata_pool *pool, const char *region, const char *name,
                                  const strata_update_opts *opts, strata_update_stats *stats,
                                  const void *comm);

/* strata_ingest_csv() shared by the processes of COMM (the address of an MPI_Comm, as for
 * strata_update_comm(); NULL: strata_ingest_csv() itself), each called with the same arguments:
 * the files are split into contiguous blocks, one per process in rank order (the first file to
 * process 0, which opens the dataset or creates it from that file); each process parses its
 * files and writes and fsyncs its batches, and process 0, holding the dataset's writer lock
 * throughout, publishes every process's batches in one version, in file order, once all have
 * reported them durable. A failure on any process (a bad line, a missing file, a process gone)
 * fails the call on every process with the first failure's message (by rank), and nothing is
 * published; the batches written are removed. STATS, on every process: the totals over them.
 * Collective. STRATA_EUNSUPPORTED if libstrata was built without MPI. */
STRATA_API int strata_ingest_csv_comm(strata_pool *pool, const char *region, const char *name,
                                      const char *const *files, int nfiles,
                                      const strata_ingest_opts *opts, strata_ingest_stats *stats,
                                      const void *comm);

/* strata_ingest_parquet() shared by the processes of COMM (an MPI_Comm *, or NULL: the call
 * itself): the row groups of all FILES, end to end, are cut in equal shares, one per process in
 * rank order; process 0 first opens the dataset or creates it from the first file's columns,
 * each process decodes its row groups and writes and fsyncs their batches, and process 0
 * publishes every process's batches in one version, in file order: the batches of one process.
 * Failures as strata_ingest_csv_comm(). Collective. STRATA_EUNSUPPORTED if libstrata was built
 * without MPI. */
STRATA_API int strata_ingest_parquet_comm(strata_pool *pool, const char *region, const char *name,
                                          const char *const *files, int nfiles,
                                          const strata_ingest_opts *opts,
                                          strata_ingest_stats *stats, const void *comm);

/* MPI for a program that does not link it (the strata command under mpirun): load Open MPI and
 * initialise it (MPI_Init_thread, MPI_THREAD_FUNNELED) unless the program already has. On
 * failure WHY (LEN bytes, may be NULL) says what is missing. *out: strata_mpi_close(), which
 * finalises MPI if this call initialised it. */
typedef struct strata_mpi strata_mpi;
STRATA_API int strata_mpi_open(int *argc, char ***argv, strata_mpi **out, char *why, size_t len);
/* The address of M's MPI_COMM_WORLD: the COMM of strata_update_comm() and strata_mdms_init(). */
STRATA_API const void *strata_mpi_world(const strata_mpi *m);
STRATA_API int strata_mpi_rank(const strata_mpi *m); /* 0 for NULL */
STRATA_API int strata_mpi_size(const strata_mpi *m); /* 1 for NULL */
STRATA_API void strata_mpi_close(strata_mpi *m);

/* Register (ON 1) or unregister (ON 0) derived dataset REGION/NAME, with its columns and all its
 * ancestors, for automatic update (strata_update() with auto_only, strata watch). */
STRATA_API int strata_auto(strata_pool *pool, const char *region, const char *name, int on);

/* One derived object, as strata_lineage() reports it. */
typedef struct strata_lineage_info {
    const char *region, *name; /* the dataset written */
    const char *column;        /* NULL: the dataset's index; else the derived column */
    const char *op;            /* filter, sort, sort_runs, topk, groupby, gather, scatter, expr */
    const char *args;          /* the arguments, as a command line would give them */
    const char *src_region, *src_name, *src_column;
    int destroys_order; /* it or an ancestor destroys the order of rows */
    int auto_update;
    uint64_t consumed;       /* source batches consumed */
    uint64_t source_batches; /* source batches now */
    int fresh;               /* nothing to do for it */
    int computed;            /* 0: defined, never computed yet (no update has run it) */
} strata_lineage_info;

typedef int (*strata_lineage_fn)(void *ctx, const strata_lineage_info *info);

/* Call FN for every derived object that REGION/NAME depends on or that depends on it (NAME NULL:
 * all of REGION; REGION NULL: the whole pool), oldest first. */
STRATA_API int strata_lineage(strata_pool *pool, const char *region, const char *name,
                              strata_lineage_fn fn, void *ctx);

/* The positions (within the batch, in order) of the rows of batch BATCH of S where WHERE holds:
 * a condition in the language of filters over S's columns ('fare > 10000 and zone == 7',
 * docs/cli.md), nulls as in SQL (a row whose condition is null is left out). *ROWS: malloc'd
 * (free() it), *N of them. STRATA_EINVAL or STRATA_ETYPE for a bad condition, naming the place;
 * STRATA_ERANGE for a batch past the last. */
STRATA_API int strata_snapshot_where(strata_snapshot *s, uint64_t batch, const char *where,
                                     uint64_t **rows, uint64_t *n);

/* Whether column COL of snapshot S is computed for every batch (derived columns may lag behind
 * their dataset until strata_update() runs): 1 or 0, or a negative status. */
STRATA_API int strata_snapshot_column_ready(strata_snapshot *s, int col);

/* ---------------------------------------------------------------------------------------------
 * Storage tiers
 *
 * A tier is a storage device: a name, a directory, a kind and its characteristics. Every pool
 * has the tier "default" (its own data directory). N-d arrays live on a tier and move between
 * tiers by migration; data on an archive tier (like tape) is kept zstd-compressed and must be
 * staged to a faster tier before it is read, which reads do on demand and strata_stage() does
 * ahead of time. Staged copies are evicted from a tier over its capacity, least recently used
 * first, never while being read.
 * ------------------------------------------------------------------------------------------- */

typedef enum {
    STRATA_TIER_MEMORY,
    STRATA_TIER_SSD,
    STRATA_TIER_DISK,
    STRATA_TIER_ARCHIVE
} strata_tier_kind;

typedef struct strata_tier_info {
    const char *name;
    const char *path; /* absolute directory */
    strata_tier_kind kind;
    uint64_t capacity; /* bytes; 0: unlimited */
    double read_bw;    /* declared read bandwidth, bytes/s; 0: unknown */
    double latency;    /* declared latency per file, seconds */
    uint64_t used;     /* bytes of files recorded on the tier (home chunks and staged copies) */
    uint64_t staged;   /* of which staged copies (evictable) */
    uint64_t files;    /* files recorded on the tier */
} strata_tier_info;

typedef int (*strata_tier_fn)(void *ctx, const strata_tier_info *info);

/* "memory", "ssd", "disk", "archive"; NULL for an invalid value. */
STRATA_API const char *strata_tier_kind_name(strata_tier_kind kind);

/* Parse a kind name as written by strata_tier_kind_name(). STRATA_EINVAL if NAME is not one. */
STRATA_API int strata_tier_kind_parse(const char *name, strata_tier_kind *out);

/* Add tier NAME on directory PATH (created if missing; must be absolute or is made absolute).
 * STRATA_EEXIST if the name is taken or another tier uses the directory. */
STRATA_API int strata_tier_add(strata_pool *pool, const char *name, const char *path,
                               strata_tier_kind kind, uint64_t capacity, double read_bw,
                               double latency);

/* Declare the characteristics of tier NAME (any tier, "default" included): CAPACITY in bytes (0:
 * unlimited), READ_BW in bytes/s (0: unknown) and LATENCY in seconds per request. The MDMS
 * planner weighs them: on a tier of high latency it prefers few large requests (sieving,
 * collective I/O), on local storage many small ones cost little. */
STRATA_API int strata_tier_set(strata_pool *pool, const char *name, uint64_t capacity,
                               double read_bw, double latency);

/* Remove tier NAME. Refused (STRATA_ECONFLICT) while data lives on it or for "default";
 * staged copies on it are dropped first. */
STRATA_API int strata_tier_remove(strata_pool *pool, const char *name);

/* Call FN for every tier, "default" first, then by name. */
STRATA_API int strata_tier_list(strata_pool *pool, strata_tier_fn fn, void *ctx);

/* One tier's description; its strings are valid until the next call on POOL. */
STRATA_API int strata_tier_get(strata_pool *pool, const char *name, strata_tier_info *out);

/* ---------------------------------------------------------------------------------------------
 * N-d arrays
 *
 * An N-d array has up to STRATA_ND_MAXDIMS dimensions, a numeric or bool dtype and one of three
 * storage patterns: chunked (a grid of chunks, one NPY file -- a subfile -- per chunk, so a
 * region read touches only the chunks it needs), or contiguous in row-major or column-major
 * order (one NPY file). The first dimension may be unlimited: the step (iteration) dimension,
 * grown by strata_ndarray_append_step() or by writing past its end. Chunks never written read
 * as the fill value. Chunks may be zstd-compressed (files NAME.npy.zst).
 *
 * Writes are copy-on-write: the chunks a write touches are written to new files, made durable,
 * then switched in one catalog transaction, so a concurrent reader sees each chunk either all
 * old or all new, and a crash leaves the previous contents. Writers to one array are serialised.
 * Buffers are in C order (the last dimension varies fastest) and hold exactly the elements of
 * the rectangle (with strides: of the strided selection).
 * ------------------------------------------------------------------------------------------- */

/* Attributes: named, typed values, of MDMS runs and of N-d arrays. */
typedef enum { STRATA_ATTR_INT, STRATA_ATTR_FLOAT, STRATA_ATTR_TEXT } strata_attr_type;

/* One attribute value (the member of TYPE is used; for a run, an INT given for a FLOAT
 * converts). */
typedef struct strata_attr {
    const char *name;
    strata_attr_type type;
    int64_t i;
    double f;
    const char *s;
} strata_attr;

#define STRATA_ND_MAXDIMS 8

typedef struct strata_ndarray strata_ndarray;

typedef enum {
    STRATA_LAYOUT_CHUNKED, /* one subfile per chunk */
    STRATA_LAYOUT_ROW,     /* one file, row-major (C order) */
    STRATA_LAYOUT_COL      /* one file, column-major (Fortran order) */
} strata_layout;

typedef struct strata_ndarray_opts {
    strata_layout layout;
    const void *fill; /* one element of the array's dtype; NULL: zero */
    int zstd_level;   /* 0: uncompressed; 1..19: zstd level of every chunk */
    const char *tier; /* where new data goes; NULL: "default" */
    int unlimited;    /* the first dimension may grow (also implied by dims[0] == 0) */
} strata_ndarray_opts;

/* Access hints of strata_ndarray_open(). */
#define STRATA_ND_SEQUENTIAL 1u /* reads go step after step: prefetch step i+1 while i is used */
#define STRATA_ND_VERBOSE                                                                          \
    2u /* no effect (the library never prints): staging on demand is                               \
        * counted in strata_ndarray_info()'s staged_on_demand */

typedef struct strata_ndarray_open_opts {
    size_t cache_bytes;     /* cache of decoded (zstd) chunks; 0: the default (64 MiB); SIZE_MAX:
                               none. Plain chunks are read in part, through the page cache. */
    unsigned hints;         /* STRATA_ND_* */
    const char *stage_tier; /* where reads stage archive data; NULL: "default" */
} strata_ndarray_open_opts;

typedef struct strata_ndarray_desc {
    const char *region, *name;
    strata_dtype dtype;
    int ndims;
    uint64_t dims[STRATA_ND_MAXDIMS];
    uint64_t chunk[STRATA_ND_MAXDIMS]; /* contiguous layouts: the whole array */
    strata_layout layout;
    int unlimited;
    int zstd_level;
    const char *tier;      /* where new data goes */
    uint64_t chunks_total; /* chunks of the grid at the current shape */
    uint64_t chunks_written;
    uint64_t bytes;  /* stored bytes of the written chunks */
    int64_t version; /* number of writes committed */
    /* counters of this handle */
    uint64_t reads, chunks_read, cache_hits, staged_on_demand, staged_bytes, prefetched;
} strata_ndarray_desc;

/* Create array REGION/NAME of DTYPE (not STRATA_STR) with NDIMS dimensions DIMS (dims[0] == 0
 * makes the first dimension unlimited and initially empty) and chunk shape CHUNK_DIMS (for
 * STRATA_LAYOUT_CHUNKED: each >= 1; may exceed or not divide the dimension, edge chunks are
 * partial; NULL for the contiguous layouts). OPTS may be NULL (chunked, fill 0, uncompressed,
 * default tier). *out (may be NULL): strata_ndarray_close(). */
STRATA_API int strata_ndarray_create(strata_pool *pool, const char *region, const char *name,
                                     strata_dtype dtype, int ndims, const uint64_t *dims,
                                     const uint64_t *chunk_dims, const strata_ndarray_opts *opts,
                                     strata_ndarray **out);

/* Open REGION/NAME. OPTS may be NULL. */
STRATA_API int strata_ndarray_open(strata_pool *pool, const char *region, const char *name,
                                   const strata_ndarray_open_opts *opts, strata_ndarray **out);

/* Close A, waiting for its prefetch. NULL is a no-op. */
STRATA_API void strata_ndarray_close(strata_ndarray *a);

/* Delete REGION/NAME and its files on every tier. */
STRATA_API int strata_ndarray_delete(strata_pool *pool, const char *region, const char *name);

/* Call FN for every N-d array of REGION, in name order. */
STRATA_API int strata_ndarray_list(strata_pool *pool, const char *region, strata_name_fn fn,
                                   void *ctx);

/* The array's description, as of now (re-read from the catalog); strings owned by A. */
STRATA_API int strata_ndarray_info(strata_ndarray *a, strata_ndarray_desc *out);

/* Set attribute ATTR of A (replacing one of the same name): a name valid as a Strata name (see
 * the conventions above) not starting with "strata_" (reserved for Strata's own metadata in
 * exported files), and an INT, FLOAT or TEXT value (TEXT: valid UTF-8, S not NULL). Attributes
 * are kept in the catalog with the array, deleted with it, and carried to and from HDF5
 * attributes by strata_ndarray_export_hdf5() and strata_ndarray_import_hdf5(). */
STRATA_API int strata_ndarray_attr_set(strata_ndarray *a, const strata_attr *attr);

/* Delete attribute NAME of A; STRATA_ENOTFOUND if A has none of that name. */
STRATA_API int strata_ndarray_attr_delete(strata_ndarray *a, const char *name);

/* Call FN for every attribute of A, in name order (FN returning non-zero stops the walk, and
 * that value is returned). The attribute's strings are valid during the call only. */
STRATA_API int strata_ndarray_attr_list(strata_ndarray *a,
                                        int (*fn)(void *ctx, const strata_attr *attr), void *ctx);

/* Write the rectangle START[ndims] + COUNT[ndims] from BUF. Every count >= 1. Writing past the
 * end of an unlimited first dimension grows it (the gap reads as the fill value); elsewhere
 * STRATA_ERANGE. */
STRATA_API int strata_ndarray_write(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                                    const void *buf);

/* Read the rectangle START + COUNT into BUF. STRATA_ERANGE if it is not inside the array. The
 * pool keeps the plain chunk files a process reads more than once mapped, until it closes (at
 * most 512 files and 256 MiB of mappings, mostly the page cache's pages; a file removed
 * meanwhile keeps its pages until its mapping goes): a process that keeps its pool open reads a
 * region again from memory. */
STRATA_API int strata_ndarray_read(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                                   void *buf);

/* Statistics of the rectangle START + COUNT (as strata_snapshot_summary), read in slabs of at
 * most 8 MiB and cached in the catalog by array version and rectangle. STRATA_ERANGE if the
 * rectangle is not inside the array. */
STRATA_API int strata_ndarray_summary(strata_ndarray *a, const uint64_t *start,
                                      const uint64_t *count, strata_summary *out);

/* As read and write, of the elements start + k*stride (k < count) in every dimension; STRIDE
 * NULL means 1 everywhere. */
STRATA_API int strata_ndarray_read_strided(strata_ndarray *a, const uint64_t *start,
                                           const uint64_t *count, const uint64_t *stride,
                                           void *buf);
STRATA_API int strata_ndarray_write_strided(strata_ndarray *a, const uint64_t *start,
                                            const uint64_t *count, const uint64_t *stride,
                                            const void *buf);

/* Append one step (all of dims[1..]) after the last along the unlimited first dimension;
 * STEP (may be NULL) receives its index. */
STRATA_API int strata_ndarray_append_step(strata_ndarray *a, const void *buf, uint64_t *step);

/* Write the NPY file PATH (C order, the array's dtype) into A at START; its shape is the
 * rectangle (with fewer dimensions than A, the leading counts are 1). START NULL appends it after
 * the last step of the unlimited first dimension (its first dimension, or 1, is the number of
 * steps). AT (may be NULL) receives the first index written along the first dimension. */
STRATA_API int strata_ndarray_write_npy(strata_ndarray *a, const uint64_t *start, const char *path,
                                        uint64_t *at);

/* Read the rectangle START + COUNT (STRIDE may be NULL) into a new NPY file PATH of shape
 * COUNT, written durably (a temporary file renamed into place). */
STRATA_API int strata_ndarray_read_npy(strata_ndarray *a, const uint64_t *start,
                                       const uint64_t *count, const uint64_t *stride,
                                       const char *path);

/* Move the files of REGION/NAME (all chunks, or the chunks with linear index in
 * [FIRST_CHUNK, LAST_CHUNK]) to tier TIER: copy, make durable, switch the catalog record in one
 * transaction, then remove the source. Staged copies of moved chunks are dropped. MOVED (may be
 * NULL) receives the number of chunk files moved. STRATA_ENOSPC if TIER lacks the capacity. */
STRATA_API int strata_ndarray_migrate(strata_pool *pool, const char *region, const char *name,
                                      const char *tier, uint64_t first_chunk, uint64_t last_chunk,
                                      uint64_t *moved);

/* Move the batch files of dataset REGION/NAME (all batches, or those with sequence number in
 * [FIRST_BATCH, LAST_BATCH]) to tier TIER, as strata_ndarray_migrate() moves chunks: copy
 * (zstd-compressed on an archive tier, decoded when leaving one), make durable, switch the
 * catalog records 32 files per transaction, then remove the sources. Publishes and updates of
 * the dataset wait meanwhile; readers go on (a snapshot finds a moved file at its new place).
 * New batches are always written to the dataset's own directory. MOVED (may be NULL) receives
 * the number of column files moved. STRATA_ENOSPC if TIER lacks the capacity. */
STRATA_API int strata_dataset_migrate(strata_pool *pool, const char *region, const char *name,
                                      const char *tier, uint64_t first_batch, uint64_t last_batch,
                                      uint64_t *moved);

typedef struct strata_stage strata_stage;

typedef struct strata_stage_stats {
    uint64_t chunks_needed;  /* chunks the region touches that are written */
    uint64_t chunks_staged;  /* copied now */
    uint64_t chunks_present; /* already on a fast tier */
    uint64_t bytes_read;     /* from the archive */
    uint64_t bytes_written;  /* to the target tier */
    uint64_t evicted;        /* staged copies evicted to make room */
    double seconds;
} strata_stage_stats;

/* Stage the archive files that the rectangle START + COUNT of REGION/NAME needs (START and COUNT
 * NULL: the whole array) to tier TIER, in a background thread with its own catalog connection.
 * *out: wait with strata_stage_wait(), which also frees it. */
STRATA_API int strata_stage_start(strata_pool *pool, const char *region, const char *name,
                                  const uint64_t *start, const uint64_t *count, const char *tier,
                                  strata_stage **out);

/* Wait for STAGE to finish and free it. Returns its status; on failure ERRBUF (may be NULL)
 * receives its message. STATS may be NULL. */
STRATA_API int strata_stage_wait(strata_stage *stage, strata_stage_stats *stats, char *errbuf,
                                 size_t errlen);

/* ---------------------------------------------------------------------------------------------
 * HDF5 files: datasets and N-d arrays in and out (docs/formats.md, "HDF5")
 *
 * A dataset is an HDF5 group holding one 1-D HDF5 dataset per column, all equally long; an N-d
 * array is one HDF5 dataset. Types: int8..int64 and uint8..uint64 <-> i8..u64, float32/64 <->
 * f32/f64, h5py's bool (an enum of int8, FALSE = 0 and TRUE = 1) <-> bool, strings (variable-
 * or fixed-length, ASCII or UTF-8; exported variable-length UTF-8) <-> str, and an int64
 * dataset with the string attribute strata_dtype = "ts" <-> ts (exported with it and with
 * units = "nanoseconds since 1970-01-01 00:00:00"). Anything else (compound, enum, reference,
 * array, opaque types, float16, nested groups as columns, a column of more than one dimension,
 * a filter this HDF5 library lacks) fails with STRATA_EUNSUPPORTED (or STRATA_EINVAL for
 * malformed input) and a message naming the file, the HDF5 path and the feature. Exports
 * write a temporary file beside FILE and rename it onto FILE when complete (replacing FILE);
 * a failed export leaves no file. These calls may run on several threads at once with a
 * thread-safe HDF5 (Debian's); HDF5's automatic error printing is turned off for the calling
 * thread while they run and restored after.
 * ------------------------------------------------------------------------------------------- */

typedef struct strata_hdf5_opts {
    int gzip_level;      /* exports: deflate level 1..9 of every HDF5 chunk; 0: datasets
                          * uncompressed, N-d arrays as the array is (its zstd through HDF5's
                          * zstd plugin, filter 32015, when installed, else gzip level 6);
                          * -1: uncompressed */
    uint64_t chunk_rows; /* dataset export: rows per HDF5 chunk; 0: 65536 */
    const char *tier;    /* N-d import: the tier of the new array; NULL: "default" */
    int zstd_level;      /* N-d import: zstd level of the new array's chunks; 0: from the file
                          * (its strata_zstd_level attribute, else 3 when it is compressed, else
                          * none); -1: uncompressed */
    int skip_attrs;      /* N-d import: leave out the dataset's attributes that are no single
                          * int, float or string (or whose name is no valid attribute name);
                          * default: such an attribute fails the import */
} strata_hdf5_opts;

/* Ingest the group H5PATH (NULL: "/") of HDF5 file FILE into dataset NAME of REGION, created
 * (with its region) when it does not exist, with the group's datasets as its columns in name
 * order; otherwise their names and dtypes must be the dataset's columns. Rows are read in slabs
 * of 65536 and split into batches as OPTS->batch_rows says (0: one batch); everything is
 * published at once, or nothing (a dataset created by the call is dropped again). Only
 * OPTS->batch_rows, publish_each, nthreads and the progress callback apply. OPTS and STATS may
 * be NULL. */
STRATA_API int strata_ingest_hdf5(strata_pool *pool, const char *region, const char *name,
                                  const char *file, const char *h5path,
                                  const strata_ingest_opts *opts, strata_ingest_stats *stats);

/* Export the NCOLS columns COLS (indexes; NULL: all) of snapshot S into the group H5PATH (NULL
 * or "/": the root group; intermediate groups are made) of a new HDF5 file FILE: one 1-D HDF5
 * dataset per column, every batch in order, chunked by OPTS->chunk_rows and extensible along
 * its one dimension. The group gets the attributes strata_dataset ("region/name") and
 * strata_version. A string holding a NUL byte cannot be an HDF5 string: STRATA_EINVAL. OPTS may
 * be NULL. */
STRATA_API int strata_export_hdf5(strata_snapshot *s, const int *cols, int ncols, const char *file,
                                  const char *h5path, const strata_hdf5_opts *opts);

/* Create N-d array REGION/NAME (and its region) from the numeric or bool HDF5 dataset H5PATH of
 * FILE: its shape, its dtype, its chunk shape (a contiguous dataset becomes a row-major array),
 * its fill value, an unlimited first dimension, its attributes (strata_ndarray_attr_set: each
 * scalar int, bool, float or string attribute not named strata_*; any other fails with
 * STRATA_EUNSUPPORTED unless OPTS->skip_attrs); compression per OPTS->zstd_level. The data is
 * copied one HDF5 chunk at a time (contiguous data in slabs of at most 8 MiB) into new files and
 * the array is published whole, with its attributes, at the end, or not at all. STRATA_EEXIST
 * if the array exists. Only OPTS->tier, zstd_level and skip_attrs apply; OPTS may be NULL. */
STRATA_API int strata_ndarray_import_hdf5(strata_pool *pool, const char *region, const char *name,
                                          const char *file, const char *h5path,
                                          const strata_hdf5_opts *opts);

/* Write A into a new HDF5 file FILE as the dataset H5PATH ("/group/name"; groups are made): its
 * shape (an unlimited first dimension stays extensible), dtype and fill value; a chunked array
 * keeps its chunk shape, a contiguous one is written contiguous (chunked in slabs when it is
 * compressed or unlimited); compression per OPTS->gzip_level. Read and written one chunk (or
 * 8 MiB slab) at a time. Attributes: the array's own (int64, float64 or UTF-8 string scalars),
 * and strata_array ("region/name"), strata_layout ("chunked", "row" or "col") and, for a zstd
 * array, strata_zstd_level, which an import reads back. Only OPTS->gzip_level applies; OPTS may
 * be NULL. */
STRATA_API int strata_ndarray_export_hdf5(strata_ndarray *a, const char *file, const char *h5path,
                                          const strata_hdf5_opts *opts);

/* ---------------------------------------------------------------------------------------------
 * The MDMS layer: applications, runs, associations, access and storage patterns, save and load
 *
 * An application is a region with a run schema: the attributes (typed) that each of its runs
 * records (grid size, iterations, dump frequency ...). A run is one execution of it. An
 * association groups datasets of one shape and dtype that a program saves and loads together
 * with one access pattern: how the array is distributed over the processes, per dimension
 *     BLOCK        contiguous blocks of ceil(n/p) indices, one per process coordinate
 *     CYCLIC[(k)]  blocks of k indices (default 1) dealt round-robin over the coordinates
 *     *            not distributed: every process has the whole dimension
 * written "(BLOCK,BLOCK,*)", optionally followed by words (any order):
 *     grid=2x2x1   the process grid (default: the processes spread over the distributed
 *                  dimensions as evenly as possible, earlier dimensions getting more)
 *     sequential | random        how iterations are visited (sequential loads prefetch)
 *     read-only | write-only | read-write
 *     once | repeated            whether each iteration is read once or many times
 *     request=SIZE               the typical request size (bytes; K, M, G suffixes)
 * Processes are numbered row-major over the grid (MPI_Type_create_darray's convention). Each
 * process passes only its own piece, in C order of its local indices: along a dimension the
 * local index l of coordinate c maps to the global index l + c*ceil(n/p) (BLOCK),
 * (l/k*p + c)*k + l%k (CYCLIC(k)) or l (*); strata_assoc_local() and strata_assoc_global()
 * give the shape and the mapping. Nobody names a file or an offset.
 *
 * The storage pattern says how a dataset is laid out: "row-major" (the default), "column-major"
 * or "chunked(c0,c1,...)", optionally followed by "tier=NAME" and "zstd=LEVEL". Every
 * (run, dataset, iteration) saved is an N-d array of the application's region, named
 * DATASET.rRUN.iITERATION, and an execution row records where it is, how it was written and its
 * statistics (min, max, mean, standard deviation, a 32-bin histogram).
 *
 * Calls on an MDMS handle are collective over its communicator: every process makes the same
 * calls in the same order with the same arguments (except its buffer). With COMM NULL (or a
 * library built without MPI) there is one process. A save becomes visible atomically, after
 * every process's part is durable: a process killed in the middle leaves earlier iterations
 * readable and the interrupted one invisible (its files are orphans for strata gc).
 *
 * The I/O planner compares the access pattern with the storage pattern, the tier and the number
 * of processes and chooses how to move the data (strata_explain() shows the choice and why):
 *     contiguous   each process's piece is one run of the file: one request each
 *     sieve        one covering read per slab of the file, then extract (pieces dense in a span)
 *     collective   two-phase collective MPI-IO (MPI_File_read_all / write_all on a darray view,
 *                  ROMIO hints romio_cb_read/romio_cb_write/cb_buffer_size): many processes
 *                  needing interleaved pieces of one contiguous file
 *     independent  one request per contiguous run of the piece (the naive way)
 *     chunked      chunk-parallel: each chunk file is read or written by one process (the one
 *                  holding its first element) and the pieces are exchanged in memory
 * plus prefetching of the next iteration (sequential hint; one background thread per
 * association, joined by strata_load_end()) and prestaging of archive-tier data to the default
 * tier before it is read. strata_pool_set_io_strategy() forces a strategy (one of the five, or
 * "noprefetch" to turn prefetching off) for experiments; the strata command and the example
 * programs take it from the environment variable STRATA_IO_STRATEGY, without code changes.
 * ------------------------------------------------------------------------------------------- */

/* Force the I/O strategy of the MDMS saves and loads and of strata_explain() through POOL: SPEC is
 * a comma-separated list of a strategy (contiguous, sieve, collective, independent, chunked, or
 * auto: the planner's choice) and/or noprefetch. NULL or "" restores the planner's choice. A bad
 * word fails with STRATA_EINVAL naming it, and changes nothing. Every process of an MDMS
 * communicator sets the same. Messages and plans call the setting STRATA_IO_STRATEGY, the name
 * of the environment variable that the strata command and the example programs pass here (the
 * library itself reads no environment variable). */
STRATA_API int strata_pool_set_io_strategy(strata_pool *pool, const char *spec);

/* One attribute of a run schema. Names: a letter or '_', then letters, digits, '_' (at most 63),
 * not one of the names queries use for other things (run, dataset, iteration, min, max, mean,
 * std, bytes, user, status, started, ended, nprocs, strategy, seconds). */
typedef struct strata_attr_def {
    const char *name;
    strata_attr_type type;
} strata_attr_def;

/* Register application APP (its region is created if missing) with the run schema SCHEMA[N].
 * Registering again adds new attributes; an attribute whose type changes fails with
 * STRATA_ETYPE. */
STRATA_API int strata_app_register(strata_pool *pool, const char *app,
                                   const strata_attr_def *schema, int n);

/* The run schema of APP: FN(ctx, def) per attribute, in order. STRATA_ENOTFOUND if APP is not
 * registered. */
STRATA_API int strata_app_schema(strata_pool *pool, const char *app,
                                 int (*fn)(void *ctx, const strata_attr_def *def), void *ctx);

typedef struct strata_mdms strata_mdms;
typedef struct strata_assoc strata_assoc;

/* Start the MDMS for application APP (registered) on POOL. COMM: NULL for one process, or the
 * address of an MPI_Comm (libstrata built with MPI; MPI initialised) whose processes all call
 * this with their own handle on the same pool. Collective. *out: strata_mdms_finalize(). */
STRATA_API int strata_mdms_init(strata_pool *pool, const char *app, const void *comm,
                                strata_mdms **out);

/* This process's rank and the number of processes of M's communicator. */
STRATA_API void strata_mdms_rank(const strata_mdms *m, int *rank, int *size);

/* Record a new run of M's application with attribute values ATTRS[N] (every attribute must be in
 * the schema, with its type; ones not given stay NULL). RUN (may be NULL) receives its id, on
 * every process. Collective. The run ends with strata_run_end() or strata_mdms_finalize(). */
STRATA_API int strata_run_begin(strata_mdms *m, const strata_attr *attrs, int n, int64_t *run);

/* End M's current run with status "done" (OK nonzero) or "failed". Collective. */
STRATA_API int strata_run_end(strata_mdms *m, int ok);

/* Create an association of the datasets NAMES[N] of the current run: dtype DTYPE (numeric or
 * bool), NDIMS dimensions DIMS, saved with ACCESS_PATTERN (see above) and stored as
 * STORAGE_HINT (NULL: row-major on the default tier). Records the dataset, access-pattern and
 * storage-pattern rows. Collective. *out: strata_assoc_close(). */
STRATA_API int strata_assoc_create(strata_mdms *m, const char *const *names, int n,
                                   strata_dtype dtype, int ndims, const uint64_t *dims,
                                   const char *access_pattern, const char *storage_hint,
                                   strata_assoc **out);

/* Open the datasets NAMES[N] of an earlier run for reading with ACCESS_PATTERN (which may differ
 * from the one they were saved with). RUN_OR_QUERY: a run id ("7"), "last" (the latest run that
 * saved them), or a condition on run attributes ("grid = 64 and iterations >= 100": the latest
 * matching run). The datasets must share dtype and shape. Collective. */
STRATA_API int strata_assoc_get(strata_mdms *m, const char *run_or_query, const char *const *names,
                                int n, const char *access_pattern, strata_assoc **out);

/* This process's piece: its local extent per dimension (LOCAL_DIMS, ndims entries, may be NULL)
 * and its number of elements (ELEMS, may be NULL; 0 if it has none). */
STRATA_API int strata_assoc_local(const strata_assoc *as, uint64_t *local_dims, uint64_t *elems);

/* The global index along dimension DIM of this process's local index LOCAL. */
STRATA_API uint64_t strata_assoc_global(const strata_assoc *as, int dim, uint64_t local);

/* The run whose datasets AS reads or writes. */
STRATA_API int64_t strata_assoc_run(const strata_assoc *as);

/* Open the association's datasets for writing (choose the I/O strategy). Collective. */
STRATA_API int strata_save_begin(strata_assoc *as);

/* Save iteration ITERATION (>= 0) of dataset NAME from this process's piece LOCAL_BUF.
 * Collective; visible to readers when it returns. STRATA_EEXIST if that iteration is saved. */
STRATA_API int strata_save(strata_assoc *as, const char *name, int64_t iteration,
                           const void *local_buf);

/* End the writes. Collective. */
STRATA_API int strata_save_end(strata_assoc *as);

/* Open the association's datasets for reading. Collective. */
STRATA_API int strata_load_begin(strata_assoc *as);

/* Load iteration ITERATION of dataset NAME into this process's piece LOCAL_BUF. Collective.
 * STRATA_ENOTFOUND if that iteration was never (completely) saved. */
STRATA_API int strata_load(strata_assoc *as, const char *name, int64_t iteration, void *local_buf);

/* Like strata_load(), but into one of two buffers the association owns: *PIECE points at this
 * process's piece until the next strata_load(), strata_load_view() or strata_load_end() on AS.
 * With a sequential access pattern the next iteration is read into the other buffer while the
 * caller works on this one, and the next call hands it over without a copy (double
 * buffering). */
STRATA_API int strata_load_view(strata_assoc *as, const char *name, int64_t iteration,
                                const void **piece);

/* Load an irregular list: the elements with linear (C-order) indices INDEX[N] (any order,
 * repeats allowed) of iteration ITERATION of NAME into BUF[N]. Each process passes its own
 * list. Collective. */
STRATA_API int strata_load_list(strata_assoc *as, const char *name, int64_t iteration,
                                const uint64_t *index, uint64_t n, void *buf);

/* End the reads, waiting for a prefetch. Collective. */
STRATA_API int strata_load_end(strata_assoc *as);

/* Close AS (ending a save or load still open). Collective. NULL is a no-op. */
STRATA_API void strata_assoc_close(strata_assoc *as);

/* End M: ends its run as done if it is still running, frees M. Collective. */
STRATA_API void strata_mdms_finalize(strata_mdms *m);

/* What the planner chose (or did), for one process count. */
typedef struct strata_plan {
    char strategy[16]; /* contiguous, sieve, collective, independent, chunked */
    char reason[512];
    int prefetch, prestage; /* 1 when the next iteration is prefetched / data prestaged */
    int procs;
    uint64_t requests; /* I/O requests of all processes together (estimated, or done) */
    uint64_t bytes;    /* bytes the processes read or write from/to files */
    uint64_t useful;   /* bytes of the processes' pieces */
    double seconds;    /* time of the I/O (strata_assoc_last() only) */
    double estimate;   /* the cost model's estimate of that time, seconds */
} strata_plan;

/* The plan for reading dataset DATASET of run RUN of APP (any saved iteration) with
 * ACCESS_PATTERN by PROCS processes. */
STRATA_API int strata_explain(strata_pool *pool, const char *app, int64_t run, const char *dataset,
                              const char *access_pattern, int procs, strata_plan *out);

/* What the last save or load of AS did (this process's view; requests and bytes of this
 * process). */
STRATA_API int strata_assoc_last(const strata_assoc *as, strata_plan *out);

/* Parse ACCESS_PATTERN for NDIMS dimensions and PROCS processes: STRATA_OK or STRATA_EINVAL with
 * the reason in WHY (room for 256 bytes). */
STRATA_API int strata_pattern_check(const char *access_pattern, int ndims, int procs, char *why);

/* A run of an application, as the queries return it. */
typedef struct strata_run_info {
    int64_t id;
    const char *app, *user, *host, *status;
    int64_t started_ns, ended_ns; /* ended 0: still running (or its process died) */
    int nprocs;
    const strata_attr *attrs; /* the schema's attributes in order; NULL values: type -1 */
    int nattrs;
} strata_run_info;

/* A saved (run, dataset, iteration), as strata_find() returns it. */
typedef struct strata_exec_info {
    int64_t run, iteration;
    const char *app, *dataset, *array; /* array: the N-d array holding it */
    const char *tier, *strategy, *layout;
    strata_dtype dtype;
    int ndims;
    uint64_t dims[STRATA_ND_MAXDIMS];
    uint64_t bytes, files;
    double seconds;
    int nprocs;
    double min, max, mean, std;
    uint64_t hist[STRATA_HIST_BINS]; /* equal bins over [min, max] */
    int64_t created_ns;
} strata_exec_info;

/* Runs of APP matching WHERE (NULL or "": all), newest first: a condition on the run
 * attributes and run, user, status, nprocs, started, ended: comparisons (= != < <= > >=) of a
 * name with a number or a 'string', joined by and, or, not and parentheses. A bad condition
 * fails with STRATA_EINVAL naming the column of the error. */
STRATA_API int strata_runs(strata_pool *pool, const char *app, const char *where,
                           int (*fn)(void *ctx, const strata_run_info *run), void *ctx);

/* Saved datasets of APP (DATASET NULL: any) matching WHERE, by run then dataset then iteration:
 * as strata_runs() with also dataset, iteration, min, max, mean, std, bytes, strategy and
 * seconds. */
STRATA_API int strata_find(strata_pool *pool, const char *app, const char *dataset,
                           const char *where, int (*fn)(void *ctx, const strata_exec_info *e),
                           void *ctx);

/* Register (or replace) a visualisation or analysis tool of the global tool table. */
STRATA_API int strata_tool_register(strata_pool *pool, const char *name, const char *kind,
                                    const char *command);

/* Call FN for every registered tool, in name order. */
STRATA_API int strata_tool_list(strata_pool *pool,
                                int (*fn)(void *ctx, const char *name, const char *kind,
                                          const char *command),
                                void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_H */
