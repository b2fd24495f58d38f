/*
 * catalog_copy.c -- a whole catalog copied into a new one, SQLite to PostgreSQL or back
 * (strata_pool_move_catalog): every table row by row, values with the type they have.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "catalog/catalog_int.h"

/* The tables, parents before children (foreign keys); the run tables follow "run". */
static const char *const tables[] = {
    "pool",
    "region",
    "array",
    "backup",
    "tier",
    "dataset",
    "dataset_column",
    "dataset_version",
    "batch",
    "batch_column",
    "trash",
    "derivation",
    "ndarray",
    "ndchunk",
    "ndstaged",
    "ndattr",
    "app",
    "app_attr",
    "run",
    "assoc",
    "assoc_dataset",
    "access_pattern",
    "storage_pattern",
    "execution",
    "io_event",
    "tool",
    "stats_cache",
};

/* Tables whose id is an identity column on PostgreSQL (its sequence moves past the copies). */
static const char *const with_id[] = {"region", "array",    "backup",     "tier",    "dataset",
                                      "batch",  "trash",    "derivation", "ndarray", "run",
                                      "assoc",  "io_event", "stats_cache"};

/* INSERT INTO TABLE ("c1", ...) VALUES (?1, ...) for the columns of S's result. */
static char *insert_sql(st_dbstmt *s, const char *table)
{
    int n = st_db_col_count(s);
    size_t cap = 64 + strlen(table);
    for (int c = 0; c < n; c++) cap += strlen(st_db_col_name(s, c)) + 16;
    char *sql = malloc(cap);
    if (sql == NULL) return NULL;
    size_t at = (size_t)snprintf(sql, cap, "INSERT INTO %s (", table);
    for (int c = 0; c < n; c++)
        at += (size_t)snprintf(sql + at, cap - at, "%s\"%s\"", c ? ", " : "", st_db_col_name(s, c));
    at += (size_t)snprintf(sql + at, cap - at, ") VALUES (");
    for (int c = 0; c < n; c++)
        at += (size_t)snprintf(sql + at, cap - at, "%s?%d", c ? ", " : "", c + 1);
    snprintf(sql + at, cap - at, ")");
    return sql;
}

/* Bind column C of FROM's current row as parameter C + 1 of TO, with the type it has. */
static void bind_value(st_dbstmt *from, int c, st_dbstmt *to)
{
    switch (st_db_col_type(from, c)) {
    case ST_DB_INT:
        st_db_bind_int64(to, c + 1, st_db_col_int64(from, c));
        break;
    case ST_DB_FLOAT:
        st_db_bind_double(to, c + 1, st_db_col_double(from, c));
        break;
    case ST_DB_TEXT:
        st_db_bind_text_copy(to, c + 1, st_db_col_text(from, c));
        break;
    case ST_DB_BLOB:
        st_db_bind_blob_copy(to, c + 1, st_db_col_blob(from, c), (size_t)st_db_col_bytes(from, c));
        break;
    default:
        st_db_bind_null(to, c + 1);
    }
}

/* Every row of TABLE from FROM into TO. */
static int copy_table(st_err *err, st_catalog *from, st_catalog *to, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
    st_dbstmt *s = NULL, *ins = NULL;
    char *isql = NULL;
    int rc = st_db_prepare(from->db, sql, &s);
    if (rc != ST_DB_OK) return st_cat_db_error(err, from, rc, "read a table to copy");
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        if (ins == NULL) {
            if ((isql = insert_sql(s, table)) == NULL) {
                rc = st_error(err, STRATA_ENOMEM, "out of memory copying the catalog");
                goto done;
            }
            if ((rc = st_db_prepare(to->db, isql, &ins)) != ST_DB_OK) {
                rc = st_cat_db_error(err, to, rc, "copy a table");
                goto done;
            }
        }
        for (int c = 0; c < st_db_col_count(s); c++) bind_value(s, c, ins);
        rc = st_db_step(ins);
        st_db_reset(ins);
        if (rc != ST_DB_DONE) {
            rc = st_cat_db_error(err, to, rc, "copy a row");
            goto done;
        }
    }
    rc = rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, from, rc, "read a table to copy");
done:
    st_db_finalize(ins);
    st_db_finalize(s);
    free(isql);
    return rc;
}

/* The applications' run tables: made in TO from the copied app_attr rows, then filled. */
static int copy_run_tables(st_err *err, st_catalog *from, st_catalog *to)
{
    st_dbstmt *s = NULL;
    st_vec apps = ST_VEC(int64_t);
    int rc = st_db_prepare(from->db, "SELECT region_id FROM app ORDER BY region_id", &s);
    if (rc != ST_DB_OK) return st_cat_db_error(err, from, rc, "list the applications");
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        int64_t *id = st_vec_push(&apps);
        if (id == NULL) break;
        *id = st_db_col_int64(s, 0);
    }
    st_db_finalize(s);
    rc = rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, from, rc, "list the applications");
    for (size_t i = 0; rc == STRATA_OK && i < apps.n; i++) {
        int64_t id = ((int64_t *)apps.v)[i];
        char table[48];
        snprintf(table, sizeof table, "run_attr_%" PRId64, id);
        rc = st_cat_run_table_make(err, to, id);
        if (rc == STRATA_OK) rc = copy_table(err, from, to, table);
    }
    st_vec_free(&apps);
    return rc;
}

int st_cat_copy(st_err *err, st_catalog *from, st_catalog *to)
{
    int rc = st_cat_ready(err, from);
    if (rc < 0 || (rc = st_cat_begin(err, to)) < 0) return rc;
    /* the new catalog's own rows (its pool row, the default tier) give way to the copies */
    ST_TRY(rc = st_cat_exec(err, to, "DELETE FROM pool; DELETE FROM tier", "empty the copy"));
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        ST_TRY(rc = copy_table(err, from, to, tables[t]));
        if (strcmp(tables[t], "run") == 0) ST_TRY(rc = copy_run_tables(err, from, to));
    }
    for (size_t t = 0; st_cat_is_pg(to) && t < sizeof with_id / sizeof with_id[0]; t++) {
        char sql[224];
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT COALESCE(MAX(id), 0) "
                 "+ 1 FROM %s), false)",
                 with_id[t], with_id[t]);
        ST_TRY(rc = st_cat_exec(err, to, sql, "move an identity past the copied rows"));
    }
    return st_cat_commit(err, to);
done:
    st_cat_rollback(to);
    return rc;
}

/* SQLite: whether a process other than this one has the database at PATH open. Each connection
 * holds a shared POSIX lock on the "DMS" byte (offset 128) of the WAL index PATH-shm while it is
 * open; F_GETLK reports locks of other processes only. */
static int sqlite_others(const char *path)
{
    char shm[4200];
    snprintf(shm, sizeof shm, "%s-shm", path);
    int fd = open(shm, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* no WAL index: nobody has it open */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
    int held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}

int st_cat_others(st_err *err, const st_cat_loc *w, st_catalog *cat, int *others)
{
    *others = 0;
    if (!w->pg) {
        *others = sqlite_others(w->path);
        return STRATA_OK;
    }
    if (cat == NULL) return STRATA_OK;
    st_dbstmt *s = NULL;
    char app[64];
    snprintf(app, sizeof app, "strata:%.56s", w->schema); /* as db_pg.c names it */
    int rc = st_db_prepare(cat->db,
                           "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = ?1 AND "
                           "pid <> pg_backend_pid()",
                           &s);
    if (rc == ST_DB_OK) {
        st_db_bind_text(s, 1, app);
        rc = st_db_step(s);
    }
    if (rc == ST_DB_ROW) *others = st_db_col_int(s, 0);
    st_db_finalize(s);
    return rc == ST_DB_ROW ? STRATA_OK : st_cat_db_error(err, cat, rc, "list its sessions");
}

void st_cat_discard(st_catalog *cat)
{
    if (cat == NULL) return;
    st_cat_loc w = cat->loc;
    if (w.pg) {
        char sql[ST_CAT_SCHEMA + 48];
        snprintf(sql, sizeof sql, "DROP SCHEMA \"%s\" CASCADE", w.schema);
        st_db_exec(cat->db, sql);
    }
    st_cat_close(cat);
    if (!w.pg) {
        char f[sizeof w.path + 8];
        unlink(w.path);
        snprintf(f, sizeof f, "%s-wal", w.path);
        unlink(f);
        snprintf(f, sizeof f, "%s-shm", w.path);
        unlink(f);
    }
}
