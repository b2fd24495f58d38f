/*
 * catalog.h -- every metadata read and write of Strata goes through this interface.
 *
 * The catalog records what exists (regions, arrays, backups) and where its bytes are. It is the
 * single source of truth: a data file that no catalog row names is an orphan, never an array.
 * The implementation today is SQLite in WAL mode inside the pool directory (catalog_sqlite.c);
 * callers see only these functions, so that another backend (PostgreSQL) can stand behind them.
 *
 * All functions take the caller's error context and set a message on failure. Lookups return
 * STRATA_ENOTFOUND (with a message naming what is missing) as an ordinary result.
 */
#ifndef STRATA_CATALOG_H
#define STRATA_CATALOG_H

#include <stdint.h>

#include "util/error.h"

/* The schema version this library writes; catalogs of older versions are migrated forward on
 * open, newer ones are refused. */
#define ST_CAT_VERSION 1

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

/* Create a new catalog at PATH (which must not exist) with the current schema. */
int st_cat_create(st_err *err, const char *path, st_catalog **out);

/* Open the catalog at PATH: STRATA_ECORRUPT if it is missing or not a readable catalog,
 * STRATA_EUNSUPPORTED if its schema is newer than ST_CAT_VERSION; older schemas are migrated. */
int st_cat_open(st_err *err, const char *path, st_catalog **out);

void st_cat_close(st_catalog *cat);

/* How long a writer waits for another process's transaction before STRATA_ELOCKED. */
void st_cat_set_busy_timeout(st_catalog *cat, int ms);

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

#endif /* STRATA_CATALOG_H */
