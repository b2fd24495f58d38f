/*
 * catalog.h -- every metadata read and write of Strata goes through this interface.
 *
 * The catalog records what exists (regions, arrays, backups) and where its bytes are. It is the
 * single source of truth: a data file that no catalog row names is an orphan, never an array.
 * It lives in SQLite (WAL mode, inside the pool directory) or in a PostgreSQL schema (a pool
 * shared by many nodes); db.h hides which: callers see only these functions.
 *
 * All functions take the caller's error context and set a message on failure. Lookups return
 * STRATA_ENOTFOUND (with a message naming what is missing) as an ordinary result.
 */
#ifndef STRATA_CATALOG_H
#define STRATA_CATALOG_H

#include <stdint.h>

#include "util/error.h"
#include "util/fileio.h"

/* The schema version this library writes; catalogs of older versions are migrated forward on
 * open, newer ones are refused. */
#define ST_CAT_VERSION 12

#define ST_CAT_FILE 48 /* room for a data file name: TOKEN.bytes.npy */

typedef struct st_catalog st_catalog;

typedef struct st_cat_region {
    int64_t id;
    char name[STRATA_NAME_MAX + 1];
    char dir[ST_CAT_FILE]; /* directory under POOL/data */
    int64_t created_ns;
} st_cat_region;

typedef struct st_cat_array {
    int64_t id;
    int64_t region_id;
    char region[STRATA_NAME_MAX + 1];
    char region_dir[ST_CAT_FILE];
    char name[STRATA_NAME_MAX + 1];
    int dtype;
    uint64_t length;
    char file[ST_CAT_FILE];       /* data (or offsets) file, in the region directory */
    char bytes_file[ST_CAT_FILE]; /* strings: the bytes file; else "" */
    int64_t created_ns;
} st_cat_array;

typedef struct st_cat_backup {
    int64_t id;
    char name[STRATA_NAME_MAX + 1];
    char source[2 * STRATA_NAME_MAX + 2]; /* "region/array" it was taken from */
    int dtype;
    uint64_t length;
    char file[ST_CAT_FILE]; /* in POOL/backups */
    char bytes_file[ST_CAT_FILE];
    uint64_t checksum;
    int64_t created_ns;
} st_cat_backup;

/* Where a catalog lives: an SQLite file (in the pool directory), or a schema of a PostgreSQL
 * database, reached with a libpq connection string (a URI or key=value words; passwords come
 * from libpq's own sources: PGPASSFILE, ~/.pgpass, PGSERVICE). */
#define ST_CAT_CONNINFO 1024
#define ST_CAT_SCHEMA   64
typedef struct st_cat_loc {
    int pg;                         /* 0: SQLite */
    char path[4096];                /* SQLite: the file */
    char conninfo[ST_CAT_CONNINFO]; /* PostgreSQL */
    char schema[ST_CAT_SCHEMA];     /* PostgreSQL: the pool's schema */
    int connect_timeout_s;          /* PostgreSQL: 0: 10 s */
} st_cat_loc;

/* Create a new catalog at W (an SQLite file that must not exist, or a PostgreSQL schema that
 * must hold no catalog yet) with the current schema. */
int st_cat_create(st_err *err, const st_cat_loc *w, st_catalog **out);

/* Open the catalog at W: STRATA_ECORRUPT if it is missing or not a readable catalog,
 * STRATA_EUNSUPPORTED if its schema is newer than ST_CAT_VERSION; older schemas are migrated.
 * An unreachable PostgreSQL server is STRATA_EIO, naming it and what to do. */
int st_cat_open(st_err *err, const st_cat_loc *w, st_catalog **out);

/* st_cat_open(), but an SQLite catalog is connected at its first use (a read of an N-d array
 * through its manifest never connects): only the file's header is checked now (STRATA_ECORRUPT
 * when it is missing or not SQLite's); a newer schema or a damaged file is reported by the first
 * use. PostgreSQL catalogs are connected now. */
int st_cat_open_lazy(st_err *err, const st_cat_loc *w, st_catalog **out);

/* Connect CAT if it is not yet (see st_cat_open_lazy()); st_cat_connected(): whether it is. */
int st_cat_ready(st_err *err, st_catalog *cat);
int st_cat_connected(const st_catalog *cat);

/* Where CAT is (to open another connection to it, from another thread). */
const st_cat_loc *st_cat_loc_of(const st_catalog *cat);

/* Whether CAT is on PostgreSQL. */
int st_cat_is_pg(const st_catalog *cat);

/* How many other processes have the catalog at W open, into *OTHERS (SQLite: whether any other
 * process holds its WAL index's "open" lock, 0 or 1; PostgreSQL: the other strata sessions on
 * the pool's schema, by their application_name). CAT: an open handle on W, or NULL. */
int st_cat_others(st_err *err, const st_cat_loc *w, st_catalog *cat, int *others);

void st_cat_close(st_catalog *cat);

/* ---- locks between processes and nodes (catalog_lock.c) ----------------------------------- */

/* A lock of the pool: the lock file PATH in the directory of object OBJ ("dataset 12", "nd 3",
 * "pool"), bytes [START, START+LEN) of it (LEN 0: the whole file). With an SQLite catalog it is
 * an OFD lock on PATH; with PostgreSQL, session advisory locks on the catalog's connection
 * (keyed by the schema, OBJ, PATH's file name and the byte; PATH itself is not used), which
 * hold across nodes whatever the file system. */
typedef struct st_cat_lockref {
    const char *path;
    const char *obj;
    uint64_t start, len;
} st_cat_lockref;

/* Lock AT shared or EXCLUSIVE, waiting at most TIMEOUT_MS (0: try once; negative: forever);
 * CREATE: create a missing lock file. Returns a hold (>= 0) for st_cat_unlock(), or an error
 * (STRATA_ELOCKED on timeout, naming WHAT; SQLite: STRATA_ENOTFOUND when the file is missing).
 * Two holds of one handle conflict as two holders in two processes do. */
int st_cat_lock(st_err *err, st_catalog *cat, const st_cat_lockref *at, int create, int exclusive,
                int timeout_ms, const char *what);

/* Whether anyone (this handle too) holds a lock on AT: STRATA_OK when nobody, STRATA_ELOCKED,
 * STRATA_ENOTFOUND when an SQLite pool's lock file is missing (nobody ever locked it), or
 * another error. */
int st_cat_lock_probe(st_catalog *cat, const st_cat_lockref *at);

/* Release HOLD (negative: nothing). */
void st_cat_unlock(st_catalog *cat, int hold);

/* Whether HOLD is still held: on PostgreSQL a connection made again after the server dropped
 * it has lost the old session's locks. Exact inside a transaction (the session cannot change
 * until it ends). */
int st_cat_lock_live(const st_catalog *cat, int hold);

/* How long a writer waits for another process's transaction before STRATA_ELOCKED. */
void st_cat_set_busy_timeout(st_catalog *cat, int ms);

/* Run SQLite's integrity check over the whole catalog file. STRATA_OK when it is sound, else
 * STRATA_ECORRUPT with what SQLite found (the first few problems) in the message. */
int st_cat_integrity(st_err *err, st_catalog *cat);

/* The schema version stored in the catalog. */
int st_cat_version(st_err *err, st_catalog *cat, int *version);

/* Write transactions (BEGIN IMMEDIATE: the write lock is taken at once, so two writers never
 * deadlock upgrading). A transaction must end with commit or rollback. */
int st_cat_begin(st_err *err, st_catalog *cat);
int st_cat_commit(st_err *err, st_catalog *cat);
void st_cat_rollback(st_catalog *cat);

int st_cat_region_insert(st_err *err, st_catalog *cat, st_cat_region *r);
int st_cat_region_get(st_err *err, st_catalog *cat, const char *name, st_cat_region *out);
int st_cat_region_list(st_err *err, st_catalog *cat, int (*fn)(void *ctx, const st_cat_region *r),
                       void *ctx);
int st_cat_region_delete(st_err *err, st_catalog *cat, int64_t id);

/* Insert A (region_id set by the caller; A->id is set). STRATA_EEXIST if the name is taken. */
int st_cat_array_insert(st_err *err, st_catalog *cat, st_cat_array *a);
int st_cat_array_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                     st_cat_array *out);
int st_cat_array_list(st_err *err, st_catalog *cat, int64_t region_id,
                      int (*fn)(void *ctx, const st_cat_array *a), void *ctx);
int st_cat_array_delete(st_err *err, st_catalog *cat, int64_t id);

int st_cat_backup_insert(st_err *err, st_catalog *cat, st_cat_backup *b);
int st_cat_backup_get(st_err *err, st_catalog *cat, const char *name, st_cat_backup *out);
int st_cat_backup_list(st_err *err, st_catalog *cat, int (*fn)(void *ctx, const st_cat_backup *b),
                       void *ctx);
int st_cat_backup_delete(st_err *err, st_catalog *cat, int64_t id);

/* ---- datasets (catalog_dataset.c) ------------------------------------------------------- */

#define ST_CAT_MAX_COLUMNS 4096

typedef struct st_cat_dataset {
    int64_t id;
    int64_t region_id;
    char region[STRATA_NAME_MAX + 1];
    char region_dir[ST_CAT_FILE];
    char name[STRATA_NAME_MAX + 1];
    char dir[ST_CAT_FILE]; /* under the region directory */
    int64_t version;       /* number of publishes so far */
    int64_t next_row;      /* the global id of the next row; also the row count */
    int64_t created_ns;
} st_cat_dataset;

/* Kinds of columns: written by batch writers (ingest), written with a derived dataset's index by
 * its derivation (index, sort keys, aggregates), or a derived column (gather, scatter, expr),
 * computed for each batch after the batch exists. Derived columns always follow the others. */
enum { ST_COL_BASE = 0, ST_COL_INTRINSIC = 1, ST_COL_DERIVED = 2 };

typedef struct st_cat_column {
    char name[STRATA_NAME_MAX + 1];
    int dtype;
    int kind;
} st_cat_column;

typedef struct st_cat_batch {
    int64_t seq;       /* 0, 1, 2 ... in publish order */
    int64_t first_row; /* global id of its first row */
    int64_t nrows;
    int64_t version; /* the publish that added it */
    char token[ST_CAT_FILE];
    int64_t created_ns;
    /* A batch of a sorted dataset stored as key-range partitions (docs/format.md): PART orders
     * the partitions (0: a plain batch; partitions are numbered from 1), RUN the sorted runs of one
     * partition (0 its base, then its deltas in the order they came), SORT_KEYS the columns after
     * the index that order them (their number; negative when descending). */
    int64_t part, run;
    int sort_keys;
} st_cat_batch;

#define ST_CAT_SORT_KEYS 16 /* the most key columns of a partitioned dataset */

/* One column of one batch: its file and statistics. */
typedef struct st_cat_bcol {
    int64_t tier_id; /* where its files live; 0 or ST_TIER_DEFAULT_ID: the dataset directory */
    int64_t version; /* the version that wrote it (a derived column can be rewritten) */
    char file[ST_CAT_FILE];
    char bytes_file[ST_CAT_FILE]; /* strings: their bytes; else "" */
    char valid_file[ST_CAT_FILE]; /* with nulls: the validity bitmap; else "" */
    uint64_t nulls;
    uint64_t bytes;
    uint64_t checksum;
    int has_minmax;
    int64_t min_i, max_i; /* integer and bool columns (u64 as its bit pattern) */
    double min_f, max_f;  /* float columns */
} st_cat_bcol;

/* A batch column has up to three files: its data (for strings, their offsets), a string column's
 * bytes, and the validity bitmap of a column with nulls. File K of BC, "" when it has none. */
#define ST_BCOL_FILES 3
static inline const char *st_cat_bcol_file(const st_cat_bcol *bc, int k)
{
    return k == 0 ? bc->file : k == 1 ? bc->bytes_file : bc->valid_file;
}

typedef struct st_cat_dsversion {
    int64_t version, created_ns, batches, rows, total_rows;
    int expired;
} st_cat_dsversion;

/* Create dataset D (region_id, name, dir, created_ns set) with NCOLS columns; sets D->id.
 * STRATA_EEXIST when the name is taken. One transaction. */
int st_cat_dataset_insert(st_err *err, st_catalog *cat, st_cat_dataset *d,
                          const st_cat_column *cols, int ncols);

/* Find dataset REGION/NAME and its columns (COLS has room for ST_CAT_MAX_COLUMNS). */
int st_cat_dataset_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                       st_cat_dataset *d, st_cat_column *cols, int *ncols);

int st_cat_dataset_list(st_err *err, st_catalog *cat, int64_t region_id,
                        int (*fn)(void *ctx, const st_cat_dataset *d), void *ctx);

/* Drop dataset ID: its directory (PATH, relative to the pool) goes to the trash and its rows are
 * deleted, in one transaction. */
int st_cat_dataset_drop(st_err *err, st_catalog *cat, int64_t id, const char *path);

/* A derived column's file for an existing batch. */
typedef struct st_cat_fill {
    int64_t seq;
    int position;
    st_cat_bcol col;
} st_cat_fill;

/* What a derivation has consumed of its source. */
typedef struct st_cat_mark {
    int64_t deriv_id;
    int64_t consumed;       /* source batches consumed */
    int64_t source_seq;     /* the source's first live batch when consumed */
    int64_t source_version; /* the source's version consumed */
} st_cat_mark;

/* Everything one update writes to a dataset, made visible as one version. */
typedef struct st_cat_change {
    int retire_all;        /* a refresh: every live batch is retired (stays readable as-of) */
    const int64_t *retire; /* or these live batches (by seq): a compacted partition's runs */
    int nretire;
    st_cat_batch *batches;   /* new batches: seq, first_row and version are assigned */
    const st_cat_bcol *cols; /* nb * ncols, batch-major; an empty file name: no such column */
    int nb, ncols;
    const st_cat_fill *fills; /* columns computed for batches that exist (or are new here) */
    int nfills;
    const st_cat_mark *marks;
    int nmarks;
    const int *hold; /* the writer's lock (st_cat_lock): publish only while it is live */
} st_cat_change;

/* Apply CH to dataset ID in one transaction, failing with STRATA_ECONFLICT unless the dataset is
 * still at EXPECTED_VERSION and CH's hold (when given) is live; returns the new version. After a
 * retire, row ids restart at 0. */
int st_cat_apply(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                 st_cat_change *ch, int64_t *new_version);

/* Call FN for every batch of dataset ID visible at VERSION, in order, with its NCOLS columns
 * (the latest file of each column at VERSION; a column not computed for a batch has file ""). */
int st_cat_batches(st_err *err, st_catalog *cat, int64_t id, int64_t version, int ncols,
                   int (*fn)(void *ctx, const st_cat_batch *b, const st_cat_bcol *cols), void *ctx);

/* The same list without a copy: arrays the handle keeps (catalog_batches.c), shared until
 * st_cat_bref_release(*REF): *B its *N batches, *C their N * NCOLS columns. Entries never change
 * once listed; a later read of the dataset that must grow or replace the arrays leaves these to
 * their holders. 1: shared; 0: the handle does not keep this list (inside a transaction, or too
 * large a list): call st_cat_batches; or an error. */
typedef struct st_cat_bref st_cat_bref;
int st_cat_batches_shared(st_err *err, st_catalog *cat, int64_t id, int64_t version, int ncols,
                          const st_cat_batch **b, const st_cat_bcol **c, size_t *n,
                          st_cat_bref **ref);
void st_cat_bref_release(st_cat_bref *ref);

/* Batches and bytes of dataset ID visible at VERSION. */
int st_cat_totals(st_err *err, st_catalog *cat, int64_t id, int64_t version, uint64_t *nbatches,
                  uint64_t *bytes);

/* The versions of dataset ID, oldest first. */
int st_cat_versions(st_err *err, st_catalog *cat, int64_t id,
                    int (*fn)(void *ctx, const st_cat_dsversion *v), void *ctx);

/* One version of dataset ID: STRATA_ENOTFOUND if it never existed. */
int st_cat_version_get(st_err *err, st_catalog *cat, int64_t id, int64_t version,
                       st_cat_dsversion *out);

/* Mark versions of dataset ID older than KEEP_FROM as expired (no longer readable as-of). */
int st_cat_versions_expire(st_err *err, st_catalog *cat, int64_t id, int64_t keep_from);

/* The trash: directories of dropped datasets, removed by gc once no snapshot holds them. */
int st_cat_trash_list(st_err *err, st_catalog *cat,
                      int (*fn)(void *ctx, int64_t id, const char *path, int64_t dataset_id,
                                int64_t created_ns),
                      void *ctx);
int st_cat_trash_delete(st_err *err, st_catalog *cat, int64_t id);

/* Every file that a row of dataset ID names (live, retired, superseded): FN(ctx, file). */
int st_cat_dataset_files(st_err *err, st_catalog *cat, int64_t id,
                         int (*fn)(void *ctx, int64_t tier_id, const char *file), void *ctx);

/* Garbage of dataset ID: the files of retired batches and of superseded column versions. */
int st_cat_garbage(st_err *err, st_catalog *cat, int64_t id,
                   int (*fn)(void *ctx, int64_t tier_id, const char *file), void *ctx);

/* The current place of column POS of batch SEQ of dataset ID as written at VERSION (a reader
 * whose file vanished: the batch was migrated). STRATA_ENOTFOUND when the row is gone. */
int st_cat_bcol_where(st_err *err, st_catalog *cat, int64_t id, int64_t seq, int pos,
                      int64_t version, st_cat_bcol *out);

/* A batch column file pair that a migration moves. */
typedef struct st_cat_bmove {
    int64_t batch_id, seq, version, tier_id;
    int position;
    char files[ST_BCOL_FILES][ST_CAT_FILE]; /* as st_cat_bcol_file() orders them */
    uint64_t bytes, stored;
} st_cat_bmove;

/* The batch columns of dataset ID with SEQ in [LO, HI] not on tier TO, in batch order. */
int st_cat_bcol_movable(st_err *err, st_catalog *cat, int64_t id, int64_t lo, int64_t hi,
                        int64_t to, int (*fn)(void *ctx, const st_cat_bmove *m), void *ctx);

/* Record that M now lives on tier TO as FILES (named as M's), STORED bytes: 1 when switched, 0
 * when the row no longer names M's files (gc dropped it). Inside the caller's transaction. */
int st_cat_bcol_move(st_err *err, st_catalog *cat, const st_cat_bmove *m, int64_t to,
                     char files[ST_BCOL_FILES][ST_CAT_FILE], uint64_t stored);

/* Delete the rows of that garbage and expire the versions that could read it. */
int st_cat_garbage_drop(st_err *err, st_catalog *cat, int64_t id);

/* ---- derivations (catalog_derive.c) ------------------------------------------------------- */

#define ST_CAT_ARGS 2048
#define ST_CAT_OP   16

/* A derivation: how a derived dataset's index (TARGET "") or a derived column (TARGET its name)
 * is computed from its source dataset, and how far it has consumed it. */
typedef struct st_cat_deriv {
    int64_t id;
    int64_t dataset_id;
    char region[STRATA_NAME_MAX + 1];
    char dataset[STRATA_NAME_MAX + 1];
    char target[STRATA_NAME_MAX + 1];
    char op[ST_CAT_OP];
    char args[ST_CAT_ARGS];
    int64_t source_id;
    char source_region[STRATA_NAME_MAX + 1];
    char source[STRATA_NAME_MAX + 1];
    char source_column[STRATA_NAME_MAX + 1];
    int destroys_order; /* it, or an ancestor, destroys the order of rows */
    int64_t consumed, source_seq, source_version;
    int auto_update;
    int64_t created_ns;
} st_cat_deriv;

/* Create derived dataset D (as st_cat_dataset_insert, its NCOLS columns of kind
 * ST_COL_INTRINSIC) and its derivation DV (dataset_id set here) in one transaction. */
int st_cat_derive_dataset(st_err *err, st_catalog *cat, st_cat_dataset *d,
                          const st_cat_column *cols, int ncols, st_cat_deriv *dv);

/* Add derived column COL (kind ST_COL_DERIVED, at the next position) to dataset DV->dataset_id
 * with its derivation DV, in one transaction. STRATA_EEXIST if the name is taken. */
int st_cat_derive_column(st_err *err, st_catalog *cat, const st_cat_column *col, st_cat_deriv *dv);

/* Call FN for every derivation (DATASET_ID 0: of the whole pool), oldest first. */
int st_cat_derivs(st_err *err, st_catalog *cat, int64_t dataset_id,
                  int (*fn)(void *ctx, const st_cat_deriv *dv), void *ctx);

/* Register (ON 1) or unregister derivation ID for automatic update. */
int st_cat_deriv_set_auto(st_err *err, st_catalog *cat, int64_t id, int on);

/* ---- tiers and N-d arrays (catalog_nd.c) ---------------------------------------------------- */

#define ST_CAT_TIER_PATH   1024
#define ST_TIER_DEFAULT_ID 1 /* the pool's own data directory; its path is "" */
#define ST_ND_MAXDIMS      8

typedef struct st_cat_tier {
    int64_t id;
    char name[STRATA_NAME_MAX + 1];
    char path[ST_CAT_TIER_PATH]; /* absolute; "" for the default tier */
    int kind;                    /* strata_tier_kind */
    uint64_t capacity;
    double read_bw, latency;
    int64_t created_ns;
} st_cat_tier;

/* What lives on a tier. */
typedef struct st_cat_tier_usage {
    uint64_t home_bytes, home_files;     /* chunks whose recorded place is the tier */
    uint64_t staged_bytes, staged_files; /* staged copies on it */
    uint64_t arrays;                     /* arrays whose new data goes to it */
} st_cat_usage;

typedef struct st_cat_nd {
    int64_t id;
    int64_t region_id;
    char region[STRATA_NAME_MAX + 1];
    char region_dir[ST_CAT_FILE];
    char name[STRATA_NAME_MAX + 1];
    char dir[ST_CAT_FILE]; /* under the region directory of every tier */
    int dtype, ndims, layout, unlimited, zstd;
    uint64_t dims[ST_ND_MAXDIMS], chunk[ST_ND_MAXDIMS];
    unsigned char fill[8];
    int64_t tier_id;
    int64_t version;
    int64_t created_ns;
} st_cat_nd;

/* One chunk of an N-d array (contiguous layouts have one, index 0). */
typedef struct st_cat_chunk {
    int64_t idx; /* linear index in the chunk grid, first dimension slowest */
    int64_t tier_id;
    char file[ST_CAT_FILE];
    uint64_t bytes;    /* stored bytes (compressed or not) */
    uint64_t checksum; /* xxHash64 of the elements, uncompressed */
    double min, max;
    int64_t version; /* the write that produced it */
    /* its staged copy (staged_tier 0: none) */
    int64_t staged_tier;
    char staged_file[ST_CAT_FILE];
    uint64_t staged_bytes;
} st_cat_chunk;

/* A staged copy, with what it takes to find its file. */
typedef struct st_cat_staged {
    int64_t array_id, idx, tier_id;
    char region_dir[ST_CAT_FILE], dir[ST_CAT_FILE], file[ST_CAT_FILE];
    uint64_t bytes;
    int64_t staged_ns;
} st_cat_staged;

int st_cat_tier_insert(st_err *err, st_catalog *cat, st_cat_tier *t);
int st_cat_tier_get(st_err *err, st_catalog *cat, const char *name, st_cat_tier *out);
int st_cat_tier_get_id(st_err *err, st_catalog *cat, int64_t id, st_cat_tier *out);
int st_cat_tier_list(st_err *err, st_catalog *cat, int (*fn)(void *ctx, const st_cat_tier *t),
                     void *ctx);
int st_cat_tier_usage(st_err *err, st_catalog *cat, int64_t id, st_cat_usage *out);
/* Delete tier ID and the records of the staged copies on it (the caller removes their files). */
int st_cat_tier_delete(st_err *err, st_catalog *cat, int64_t id);
/* Update the declared capacity, read bandwidth and latency of tier T->id. */
int st_cat_tier_set(st_err *err, st_catalog *cat, const st_cat_tier *t);

/* Insert ND (region_id, name, dir, shape ... set; id and created_ns are set). STRATA_EEXIST if
 * the name is taken. */
int st_cat_nd_insert(st_err *err, st_catalog *cat, st_cat_nd *nd);
int st_cat_nd_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                  st_cat_nd *out);
int st_cat_nd_list(st_err *err, st_catalog *cat, int64_t region_id,
                   int (*fn)(void *ctx, const st_cat_nd *nd), void *ctx);
/* Delete array ID with its chunk and staged records (in the caller's transaction). */
int st_cat_nd_delete(st_err *err, st_catalog *cat, int64_t id);

/* Attributes of N-d array ARRAY_ID: set (insert or replace) A, delete NAME (STRATA_ENOTFOUND if
 * it has none of that name), or call FN for each in name order (its strings live during the
 * call). */
int st_cat_nd_attr_put(st_err *err, st_catalog *cat, int64_t array_id, const strata_attr *a);
int st_cat_nd_attr_delete(st_err *err, st_catalog *cat, int64_t array_id, const char *name);
int st_cat_nd_attr_list(st_err *err, st_catalog *cat, int64_t array_id,
                        int (*fn)(void *ctx, const strata_attr *a), void *ctx);
/* The same for every array of region REGION_ID (in the caller's transaction). */
int st_cat_nd_delete_region(st_err *err, st_catalog *cat, int64_t region_id);

/* Call FN for every chunk of array ID with index in [LO, HI], in index order, with its staged
 * copy. All rows come from one statement: a consistent view of one version. */
int st_cat_nd_chunks(st_err *err, st_catalog *cat, int64_t id, int64_t lo, int64_t hi,
                     int (*fn)(void *ctx, const st_cat_chunk *c), void *ctx);

/* Commit a write of array ID in one transaction: fails with STRATA_ECONFLICT unless the array
 * is still at EXPECTED_VERSION; records its shape DIMS, inserts or replaces the N chunk rows
 * (coordinates in COORDS, N strings) and drops their staged copies. Returns the new version. */
int st_cat_nd_commit(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                     const uint64_t *dims, int ndims, const st_cat_chunk *chunks,
                     const char *const *coords, int n, int64_t *new_version);
/* st_cat_nd_commit() inside the caller's transaction. */
int st_cat_nd_commit_tx(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                        const uint64_t *dims, int ndims, const st_cat_chunk *chunks,
                        const char *const *coords, int n, int64_t *new_version);

/* Switch chunk IDX of array ID from FILE (ECONFLICT if the record no longer names it) to
 * NEW_FILE of NEW_BYTES on tier NEW_TIER and drop its staged copy (in the caller's
 * transaction). */
int st_cat_chunk_move(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *file,
                      int64_t new_tier, const char *new_file, uint64_t new_bytes);

/* Record the staged copy of chunk IDX of array ID (replacing any), if the chunk still names
 * HOME_FILE (else STRATA_ECONFLICT). */
int st_cat_staged_set(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *home_file,
                      int64_t tier_id, const char *file, uint64_t bytes);
/* Forget the staged copy FILE of chunk IDX of array ID (no error if it is gone). */
int st_cat_staged_drop(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *file);
/* Staged copies on tier TIER_ID (0: every tier), oldest staging first. */
int st_cat_staged_list(st_err *err, st_catalog *cat, int64_t tier_id,
                       int (*fn)(void *ctx, const st_cat_staged *s), void *ctx);

/* Every file named by array ID: FN(ctx, tier_id, file, staged). */
int st_cat_nd_files(st_err *err, st_catalog *cat, int64_t id,
                    int (*fn)(void *ctx, int64_t tier_id, const char *file, int staged), void *ctx);

/* Make TIER_ID the tier where new data of array ID goes. */
int st_cat_nd_set_tier(st_err *err, st_catalog *cat, int64_t id, int64_t tier_id);

/* ---- manifests of N-d arrays (catalog_ndm.c) ------------------------------------------------ */

/* What a read of an N-d array needs from an SQLite catalog, cached in a file so that a read
 * needs no connection to it: made by st_cat_ndm_make(), removed by every change to what it
 * holds before that change commits. See catalog_ndm.c. */
#define ST_NDM_MAX_CHUNKS 16384
#define ST_NDM_MAX_TIERS  256
#define ST_NDM_TEMP       ".tmp-" /* a manifest being written (st_wfile's): ST_NDM_TEMP TOKEN */
#define ST_NDM_MAX_BYTES  ((int64_t)8 << 20)
typedef struct st_ndm {
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    int usable; /* 0: "ask the catalog" (an archive tier, too many chunks): nothing below */
    st_cat_nd rec;
    int ntiers;
    st_cat_tier *tiers; /* those of the chunks; none an archive */
    size_t n;
    st_cat_chunk *chunks;      /* by increasing index; none staged */
    uint64_t cat_dev, cat_ino; /* the catalog file it was made from */
    char path[ST_PATH_MAX];
    int fd; /* the file, held open (-1: parsed from memory) */
} st_ndm;

/* The manifest of REGION/NAME: STRATA_OK; STRATA_ERANGE when it says "ask the catalog" (do
 * not make one); STRATA_ENOTFOUND when there is none usable (none made, removed, damaged, made
 * from another catalog file, or a PostgreSQL catalog). Never connects. */
int st_cat_ndm_load(st_catalog *cat, const char *region, const char *name, st_ndm **out);

/* Whether manifest M's file still has its name (else it was removed or made again: load it
 * again, or ask the catalog). A loaded manifest holds its file open until st_ndm_free(). */
int st_ndm_current(const st_ndm *m);

/* The directory of CAT's manifests (STRATA_ENOTFOUND: PostgreSQL has none). */
int st_cat_ndm_dir(const st_catalog *cat, char out[ST_PATH_MAX]);

/* Remove every manifest of the SQLite catalog at W (a new catalog there, or one moved away). */
void st_cat_ndm_remove_all(const st_cat_loc *w);

/* Parse a manifest's bytes (STRATA_ECORRUPT when they are not one). */
int st_ndm_parse(const void *buf, size_t len, st_ndm **out);
void st_ndm_free(st_ndm *m);

/* Make the manifest of REGION/NAME from the catalog, under its write lock; outside any
 * transaction. Best effort (a cache): STRATA_OK when made, else why not (ELOCKED: a writer was
 * at work; ERANGE: a chunk on an archive tier, staged, or too many chunks, and the manifest made
 * says "ask the catalog"; EUNSUPPORTED: PostgreSQL or inside a transaction; an I/O error). */
int st_cat_ndm_make(st_catalog *cat, const char *region, const char *name);

/* Remove the manifest of REGION/NAME (none: STRATA_OK), inside the transaction that changes
 * what it holds, before the commit. */
int st_cat_ndm_drop(st_err *err, st_catalog *cat, const char *region, const char *name);

/* Compare the manifest of REGION/NAME, if any, with the catalog, under its write lock: WHY
 * (CAP bytes) says how it differs ("" when it does not, or there is none), PATH names it. */
int st_cat_ndm_check(st_err *err, st_catalog *cat, const char *region, const char *name,
                     char path[ST_PATH_MAX], char *why, size_t cap);

/* "4,5,6" <-> {4,5,6}. */
void st_cat_dims_format(char *out, size_t cap, const uint64_t *dims, int n);
int st_cat_dims_parse(const char *text, uint64_t *dims, int max);

/* ---- the MDMS tables (catalog_mdms.c) ---------------------------------------------------- */

struct st_vec;

#define ST_ATTR_NAME 64
#define ST_HIST_BINS STRATA_HIST_BINS

typedef struct st_cat_attr_def {
    char name[ST_ATTR_NAME];
    int type; /* strata_attr_type */
} st_cat_attr_def;

/* An access pattern as recorded (strings as the user wrote them, normalised). */
typedef struct st_cat_access {
    char dist[160], grid[96];
    int nprocs;
    char order[16], mode[16], reuse[16];
    uint64_t request;
} st_cat_access;

/* A dataset's storage pattern. */
typedef struct st_cat_storage {
    int layout; /* strata_layout */
    int ndims;
    uint64_t chunk[ST_ND_MAXDIMS];
    int64_t tier_id;
    int zstd;
} st_cat_storage;

/* One saved (run, dataset, iteration). */
typedef struct st_cat_execrow {
    int64_t run_id, iteration, array_id, tier_id, created_ns;
    char dataset[STRATA_NAME_MAX + 1];
    char strategy[16];
    uint64_t files, bytes;
    double seconds;
    int nprocs;
    double min, max, mean, std;
    uint64_t hist[ST_HIST_BINS];
} st_cat_execrow;

/* Register application REGION_ID (created on first call, with HOST) with attributes DEFS[N]:
 * new ones are added to its run table (created on first call), a changed type is ETYPE. One
 * transaction. */
int st_cat_app_register(st_err *err, st_catalog *cat, int64_t region_id, const char *host,
                        const st_cat_attr_def *defs, int n);

/* The run schema of application REGION_ID into OUT (a vector of st_cat_attr_def, in order).
 * STRATA_ENOTFOUND if the region is not a registered application. */
int st_cat_app_schema(st_err *err, st_catalog *cat, int64_t region_id, struct st_vec *out);

/* Make the run table of application REGION_ID from its registered attributes (app_attr), as
 * registering them made it: for a catalog being copied (st_cat_copy). */
int st_cat_run_table_make(st_err *err, st_catalog *cat, int64_t region_id);

/* Copy every row of catalog FROM into TO, a catalog just created (st_cat_create) at the same
 * schema version, in one transaction of TO: the tables, the applications' run tables, and on
 * PostgreSQL the identity sequences past the copied ids. */
int st_cat_copy(st_err *err, st_catalog *from, st_catalog *to);

/* Close CAT, a catalog just created, and remove it: its SQLite file, or its PostgreSQL schema. */
void st_cat_discard(st_catalog *cat);

/* Insert a run of REGION_ID with its attribute values ATTRS[N] (validated by the caller). */
int st_cat_run_insert(st_err *err, st_catalog *cat, int64_t region_id, const char *user,
                      const char *host, int nprocs, const strata_attr *attrs, int n, int64_t *id);

/* Set the status of run ID and its end time. */
int st_cat_run_end(st_err *err, st_catalog *cat, int64_t id, const char *status);

/* The application of run ID (STRATA_ENOTFOUND if there is no such run). */
int st_cat_run_region(st_err *err, st_catalog *cat, int64_t id, int64_t *region_id);

/* Insert an association of run RUN_ID (datasets NAMES[N] of DTYPE and shape DIMS[NDIMS]), the
 * datasets' access pattern AP (purpose "save"), and their storage pattern SP for application
 * REGION_ID. One transaction. */
int st_cat_assoc_insert(st_err *err, st_catalog *cat, int64_t region_id, int64_t run_id, int dtype,
                        int ndims, const uint64_t *dims, const char *const *names, int n,
                        const st_cat_access *ap, const st_cat_storage *sp, int64_t *assoc_id);

/* Record (replace) the access pattern AP of NAMES[N] in run RUN_ID for PURPOSE ("load"). */
int st_cat_access_put(st_err *err, st_catalog *cat, int64_t run_id, const char *const *names, int n,
                      const char *purpose, const st_cat_access *ap);

/* The storage pattern of DATASET of application REGION_ID. */
int st_cat_storage_get(st_err *err, st_catalog *cat, int64_t region_id, const char *dataset,
                       st_cat_storage *out);

/* Dtype and shape of DATASET in run RUN_ID (from its association); STRATA_ENOTFOUND if the run
 * has no such dataset. */
int st_cat_assoc_find(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset, int *dtype,
                      int *ndims, uint64_t *dims);

/* The latest run of REGION_ID that has an association with DATASET. */
int st_cat_last_run(st_err *err, st_catalog *cat, int64_t region_id, const char *dataset,
                    int64_t *run_id);

/* The execution row of (RUN_ID, DATASET, ITERATION). */
int st_cat_exec_get(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset,
                    int64_t iteration, st_cat_execrow *out);

/* The smallest saved iteration of (RUN_ID, DATASET) after ITERATION. */
int st_cat_exec_next(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset,
                     int64_t iteration, int64_t *next);

/* Publish a save in one transaction: insert the N-d array REC (its id is set), record its N
 * chunk rows and shape and its NATTRS attributes ATTRS, insert the execution row E (its
 * array_id is set; E NULL: a new array that is no save, such as an import). STRATA_EEXIST if
 * the iteration was saved already. */
int st_cat_save_commit(st_err *err, st_catalog *cat, st_cat_nd *rec, const st_cat_chunk *chunks,
                       const char *const *coords, int n, const strata_attr *attrs, int nattrs,
                       st_cat_execrow *e);

/* One I/O event: a save, load or list load. */
typedef struct st_cat_ioev {
    int64_t run_id, iteration;
    char dataset[STRATA_NAME_MAX + 1];
    char op[16], strategy[16];
    int nprocs;
    uint64_t requests, bytes;
    double seconds;
    int64_t at_ns;
} st_cat_ioev;

/* Record N I/O events in one transaction. */
int st_cat_io_events(st_err *err, st_catalog *cat, const st_cat_ioev *ev, size_t n);

/* Run conditions (the --where of `strata runs` and `strata find`) reach the catalog as SQL: the
 * mdms layer parses the user's text with src/expr and writes the SQL from the tree
 * (src/mdms/where.c). At most ST_WHERE_MAX_DEPTH levels of nesting ('not' and '(' each add one)
 * and ST_WHERE_MAX_CMP comparisons, so that SQLite's expression depth (1000) stays bounded;
 * src/expr refuses longer conditions (ST_EXPR_COND_MAX_*, kept equal to these). */
#define ST_WHERE_MAX_DEPTH 64
#define ST_WHERE_MAX_CMP   256

/* A name a condition may use and the SQL column expression it stands for. */
typedef struct st_cat_where_name {
    char name[ST_ATTR_NAME];
    char sql[ST_ATTR_NAME + 8];
} st_cat_where_name;

/* The names a condition may use, in this order: the attributes SCHEMA (of st_cat_attr_def),
 * the built-in run names, and when EXEC the execution names (of st_cat_find()). *OUT (*N of
 * them) is the caller's: free(). */
int st_cat_where_names(st_err *err, const struct st_vec *schema, int exec, st_cat_where_name **out,
                       size_t *n);

/* A bound value of a condition. */
typedef struct st_cat_value {
    int type; /* STRATA_ATTR_INT, STRATA_ATTR_FLOAT or STRATA_ATTR_TEXT */
    int64_t i;
    double f;
    char *s;
} st_cat_value;

/* A condition as SQL: made only of the sql of st_cat_where_names(), operators, parentheses and
 * the parameters ?2 ... ?(NVALS + 1), which take VALS in order (?1 is the region). Owned by
 * whoever built it (the mdms layer); the catalog only reads it. */
typedef struct st_cat_where {
    char *sql;
    st_cat_value *vals;
    size_t nvals;
} st_cat_where;

/* The runs of REGION_ID (its name APP) matching WHERE, newest first. */
int st_cat_runs(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                const st_cat_where *where, int (*fn)(void *ctx, const strata_run_info *r),
                void *ctx);

/* The executions of REGION_ID (DATASET NULL: any) matching WHERE (made with EXEC names). */
int st_cat_find(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                const char *dataset, const st_cat_where *where,
                int (*fn)(void *ctx, const strata_exec_info *e), void *ctx);

/* The id of the latest run of REGION_ID (its name APP) matching WHERE; STRATA_ENOTFOUND (no
 * message) if none. */
int st_cat_run_latest(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                      const st_cat_where *where, int64_t *run_id);

int st_cat_tool_put(st_err *err, st_catalog *cat, const char *name, const char *kind,
                    const char *command);
int st_cat_tool_list(st_err *err, st_catalog *cat,
                     int (*fn)(void *ctx, const char *name, const char *kind, const char *command),
                     void *ctx);

/* ---- the statistics cache (catalog_summary.c) ---------------------------------------------- */

/* What a cached summary describes: a column of a dataset, or a rectangle of an N-d array. */
enum { ST_SUMMARY_COLUMN = 1, ST_SUMMARY_REGION = 2 };

/* The newest summaries kept; older ones are deleted as new ones are added. */
#define ST_SUMMARY_KEEP 4096

/* The summary of KIND, OBJECT_ID (dataset or ndarray id), PART (the column name, or the
 * rectangle as "start+count,...") whose content is FINGERPRINT; STRATA_ENOTFOUND if none. */
int st_cat_summary_get(st_err *err, st_catalog *cat, int kind, int64_t object_id, const char *part,
                       uint64_t fingerprint, strata_summary *out);

/* Record (or replace) that summary in its own transaction, waiting for the catalog at most
 * WAIT_MS, and delete all but the newest ST_SUMMARY_KEEP. */
int st_cat_summary_put(st_err *err, st_catalog *cat, int kind, int64_t object_id, const char *part,
                       uint64_t fingerprint, const strata_summary *sum, int wait_ms);

/* Delete the summaries of KIND, OBJECT_ID (part of the caller's transaction). */
int st_cat_summary_drop(st_err *err, st_catalog *cat, int kind, int64_t object_id);

#endif /* STRATA_CATALOG_H */
