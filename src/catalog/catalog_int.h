/*
 * catalog_int.h -- what the files of src/catalog share: the connection and statement helpers.
 * Nothing outside src/catalog includes this file.
 */
#ifndef STRATA_CATALOG_INT_H
#define STRATA_CATALOG_INT_H

#include "catalog/catalog.h"
#include "catalog/db.h"
#include "util/vec.h"

/* Statement cache slots: catalog_sqlite.c uses [0, 32), catalog_dataset.c [32, 96),
 * catalog_derive.c [96, 128), catalog_nd.c [128, 168), catalog_summary.c [168, 176),
 * catalog_lock.c [176, 180), catalog_batches.c [180, 184). */
#define ST_CAT_SLOTS         184
#define ST_CAT_BATCHES_FIRST 180
#define ST_CAT_LOCK_FIRST    176
#define ST_CAT_ND_FIRST      128
#define ST_CAT_SUMMARY_FIRST 168
#define ST_CAT_DATASET_SLOTS 32
#define ST_CAT_DATASET_FIRST 32
#define ST_CAT_DERIVE_FIRST  96

/* A lock this handle holds on PostgreSQL (catalog_lock.c): its advisory keys, and the session
 * they were taken on. */
#define ST_CAT_HOLD_KEYS 2
typedef struct st_cat_hold {
    int64_t key[ST_CAT_HOLD_KEYS];
    int nkeys;
    int exclusive;
    int session;
    int used;
} st_cat_hold;

/* The batch list of a dataset at a version, kept by a handle (catalog_batches.c): the next read
 * of the dataset at the same layout reads only the batches published since. */
typedef struct st_cat_blist {
    int64_t id, created_ns, layout, version; /* id 0: an empty slot */
    int ncols;
    size_t n, cap;
    st_cat_batch *b;
    st_cat_bcol *c;   /* n * ncols */
    st_cat_bref *ref; /* B and C lent to snapshots (st_cat_batches_shared); NULL: not lent */
    uint64_t used;    /* the handle's tick when last read: the oldest slot is reused first */
} st_cat_blist;

#define ST_CAT_BLISTS    4           /* datasets whose lists a handle keeps */
#define ST_CAT_BLIST_MAX (64 * 1024) /* batch columns a kept list holds at most (~16 MB) */

/* Free the kept batch lists of CAT. */
void st_cat_blists_free(st_catalog *cat);

struct st_catalog {
    st_db *db;
    char *path; /* for messages: the SQLite file, or the PostgreSQL server, database and schema */
    st_cat_loc loc;
    int busy_ms;
    st_dbstmt *stmt[ST_CAT_SLOTS];
    st_vec holds; /* st_cat_hold, indexed by hold number (PostgreSQL) */
    st_cat_blist blist[ST_CAT_BLISTS];
    uint64_t tick;
};

/* Map a database result code to a Strata status and record a message naming DOING. */
int st_cat_db_error(st_err *err, st_catalog *cat, int rc, const char *doing);

/* The cached statement of SLOT, prepared from SQL on first use. */
int st_cat_prepare(st_err *err, st_catalog *cat, int slot, const char *sql, st_dbstmt **out);

/* Reset a cached statement so it can be used again and holds no read lock. */
void st_cat_done(st_dbstmt *s);

/* Step a statement that returns no rows, then reset it. */
int st_cat_step_done(st_err *err, st_catalog *cat, st_dbstmt *s, const char *doing);

/* Step S to its end, reading each row with READ into a new element of V (whose element size is
 * READ's row), then reset S. So the caller can run its callbacks after the statement is done,
 * free to use the catalog. On failure V keeps what was read; the caller frees it. */
int st_cat_collect(st_err *err, st_catalog *cat, st_dbstmt *s, st_vec *v,
                   void (*read)(st_dbstmt *s, void *row), const char *doing);

/* Run static SQL (DDL, transaction control). */
int st_cat_exec(st_err *err, st_catalog *cat, const char *sql, const char *doing);

/* Copy text column COL of the current row into DST ("" for NULL). */
void st_cat_text(char *dst, size_t cap, st_dbstmt *s, int col);

/* Retire every dataset of region REGION_ID: their directories go to the trash, their rows are
 * deleted. Part of the caller's transaction. */
int st_cat_dataset_retire_region(st_err *err, st_catalog *cat, int64_t region_id);

/* st_cat_dataset_insert() inside the caller's transaction. */
int st_cat_dataset_insert_tx(st_err *err, st_catalog *cat, st_cat_dataset *d,
                             const st_cat_column *cols, int ncols);

/* Delete the derivations that write dataset ID (part of the caller's transaction). */
int st_cat_deriv_delete_dataset(st_err *err, st_catalog *cat, int64_t id);

#endif /* STRATA_CATALOG_INT_H */
