/*
 * db.c -- the catalog's SQL connection (db.h): SQLite here, PostgreSQL in db_pg.c; each call
 * goes to the backend of its connection.
 */
#include "catalog/db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/db_pg.h"

struct st_db {
    st_db_kind kind;
    sqlite3 *h;    /* ST_DB_SQLITE */
    st_pg *pg;     /* ST_DB_PG */
    char msg[512]; /* the last failure's message, when the backend keeps none */
};

struct st_dbstmt {
    st_db *db;
    sqlite3_stmt *s; /* ST_DB_SQLITE */
    st_pgstmt *pg;   /* ST_DB_PG */
};

/* SQLite's result code as a st_db_rc. */
static st_db_rc from_sqlite(sqlite3 *h, int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_OK:
        return ST_DB_OK;
    case SQLITE_ROW:
        return ST_DB_ROW;
    case SQLITE_DONE:
        return ST_DB_DONE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ST_DB_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ST_DB_CORRUPT;
    case SQLITE_FULL:
        return ST_DB_FULL;
    case SQLITE_READONLY:
        return ST_DB_READONLY;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_CANTOPEN:
        return ST_DB_PERM;
    case SQLITE_CONSTRAINT:
        return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? ST_DB_FOREIGN : ST_DB_UNIQUE;
    case SQLITE_NOMEM:
        return ST_DB_NOMEM;
    case SQLITE_ERROR:
        if (h != NULL && strncmp(sqlite3_errmsg(h), "no such table", 13) == 0) return ST_DB_NOTABLE;
        return ST_DB_ERROR;
    default:
        return ST_DB_ERROR;
    }
}

static st_db *db_new(st_db_kind kind)
{
    st_db *db = calloc(1, sizeof *db);
    if (db != NULL) db->kind = kind;
    return db;
}

st_db_rc st_db_open_sqlite(const char *path, int create, st_db **out)
{
    st_db *db = *out = db_new(ST_DB_SQLITE);
    if (db == NULL) return ST_DB_NOMEM;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (create ? SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE : 0);
    int rc = sqlite3_open_v2(path, &db->h, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(db->msg, sizeof db->msg, "%s",
                 db->h != NULL ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        return from_sqlite(NULL, rc);
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 10000);
    /* Keep the WAL (and its index) when the last connection closes: creating and deleting them
     * on every open costs more than a small region read (inode allocation dominates). Any size
     * limit truncates the kept WAL to nothing after the closing checkpoint (SQLite's rule in
     * persistent mode), so that the next open finds it empty: no frames to recover, nothing to
     * checkpoint when it closes again. While open, the limit is what a checkpoint that restarts
     * the log leaves of it: 4 MiB, the automatic checkpoint's 1000 pages, so that a long-running
     * process writes its log over the same pages again instead of growing a new file after each
     * checkpoint (new pages of a file cost a block allocation, or here, on a VM whose host takes
     * back freed memory, ~50 us each: 1.4 ms of a 9 ms update of a sorted dataset). */
    int persist = 1;
    sqlite3_file_control(db->h, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    /* WAL for concurrent readers, FULL sync so that a committed publish survives power loss,
     * foreign keys on */
    return st_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=4194304; "
                          "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

st_db_rc st_db_open_pg(const char *conninfo, const char *schema, int create, int connect_timeout_s,
                       st_db **out)
{
    st_db *db = *out = db_new(ST_DB_PG);
    if (db == NULL) return ST_DB_NOMEM;
    return st_pg_open(conninfo, schema, create, connect_timeout_s, &db->pg);
}

void st_db_close(st_db *db)
{
    if (db == NULL) return;
    if (db->kind == ST_DB_PG) {
        st_pg_close(db->pg); /* the server keeps its statistics itself (autovacuum) */
    } else {
        /* SQLite's advice: the planner's statistics, refreshed when a table the connection
         * used has none or has grown much (without them a find by run attribute scans every
         * saved iteration). Never waits: another writer busy means next time. */
        if (db->h != NULL && !sqlite3_db_readonly(db->h, "main")) {
            sqlite3_busy_timeout(db->h, 0);
            sqlite3_exec(db->h, "PRAGMA optimize", NULL, NULL, NULL);
        }
        sqlite3_close_v2(db->h);
    }
    free(db);
}

st_db_kind st_db_kind_of(const st_db *db)
{
    return db->kind;
}

int st_db_session(const st_db *db)
{
    if (db == NULL) return 0; /* not connected yet */
    return db->kind == ST_DB_PG ? st_pg_session(db->pg) : 0;
}

const char *st_db_errmsg(const st_db *db)
{
    if (db == NULL) return "out of memory";
    if (db->kind == ST_DB_PG) return st_pg_errmsg(db->pg);
    if (db->msg[0] != '\0' || db->h == NULL) return db->msg;
    return sqlite3_errmsg(db->h);
}

int st_db_sys_errno(const st_db *db)
{
    return db != NULL && db->kind == ST_DB_SQLITE && db->h != NULL ? sqlite3_system_errno(db->h)
                                                                   : 0;
}

void st_db_set_busy_timeout(st_db *db, int ms)
{
    if (db->kind == ST_DB_PG)
        st_pg_set_lock_timeout(db->pg, ms);
    else
        sqlite3_busy_timeout(db->h, ms);
}

st_db_rc st_db_exec(st_db *db, const char *sql)
{
    if (db->kind == ST_DB_PG) return st_pg_exec(db->pg, sql);
    db->msg[0] = '\0';
    return from_sqlite(db->h, sqlite3_exec(db->h, sql, NULL, NULL, NULL));
}

st_db_rc st_db_begin(st_db *db)
{
    return db->kind == ST_DB_PG ? st_pg_begin(db->pg, 0) : st_db_exec(db, "BEGIN IMMEDIATE");
}

st_db_rc st_db_begin_exclusive(st_db *db)
{
    return db->kind == ST_DB_PG ? st_pg_begin(db->pg, 1) : st_db_exec(db, "BEGIN IMMEDIATE");
}

st_db_rc st_db_commit(st_db *db)
{
    return db->kind == ST_DB_PG ? st_pg_exec(db->pg, "COMMIT") : st_db_exec(db, "COMMIT");
}

void st_db_rollback(st_db *db)
{
    if (!st_db_in_tx(db)) return;
    if (db->kind == ST_DB_PG)
        st_pg_exec(db->pg, "ROLLBACK");
    else
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int st_db_in_tx(const st_db *db)
{
    if (db == NULL) return 0; /* not connected yet */
    return db->kind == ST_DB_PG ? st_pg_in_tx(db->pg) : !sqlite3_get_autocommit(db->h);
}

int64_t st_db_last_id(st_db *db)
{
    return db->kind == ST_DB_PG ? st_pg_last_id(db->pg) : sqlite3_last_insert_rowid(db->h);
}

int64_t st_db_changes(const st_db *db)
{
    return db->kind == ST_DB_PG ? st_pg_changes(db->pg) : sqlite3_changes(db->h);
}

/* ---- statements ---------------------------------------------------------------------------- */

static st_db_rc prepare(st_db *db, const char *sql, int persistent, st_dbstmt **out)
{
    st_dbstmt *s = *out = calloc(1, sizeof *s);
    if (s == NULL) return ST_DB_NOMEM;
    s->db = db;
    st_db_rc rc;
    if (db->kind == ST_DB_PG) {
        rc = st_pg_prepare(db->pg, sql, persistent, &s->pg);
    } else {
        db->msg[0] = '\0';
        unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
        rc = from_sqlite(db->h, sqlite3_prepare_v3(db->h, sql, -1, flags, &s->s, NULL));
    }
    if (rc != ST_DB_OK) {
        st_db_finalize(s);
        *out = NULL;
    }
    return rc;
}

st_db_rc st_db_prepare(st_db *db, const char *sql, st_dbstmt **out)
{
    return prepare(db, sql, 0, out);
}

st_db_rc st_db_prepare_persistent(st_db *db, const char *sql, st_dbstmt **out)
{
    return prepare(db, sql, 1, out);
}

void st_db_bind_int64(st_dbstmt *s, int i, int64_t v)
{
    if (s->pg != NULL)
        st_pg_bind_int64(s->pg, i, v);
    else
        sqlite3_bind_int64(s->s, i, v);
}

void st_db_bind_double(st_dbstmt *s, int i, double v)
{
    /* SQLite keeps an integral REAL as an integer, -0.0 as 0: both catalogs store it so */
    if (v == 0) v = 0.0;
    if (s->pg != NULL)
        st_pg_bind_double(s->pg, i, v);
    else
        sqlite3_bind_double(s->s, i, v);
}

void st_db_bind_text(st_dbstmt *s, int i, const char *v)
{
    if (s->pg != NULL)
        st_pg_bind_text(s->pg, i, v, 0);
    else
        sqlite3_bind_text(s->s, i, v, -1, SQLITE_STATIC);
}

void st_db_bind_text_copy(st_dbstmt *s, int i, const char *v)
{
    if (s->pg != NULL)
        st_pg_bind_text(s->pg, i, v, 1);
    else
        sqlite3_bind_text(s->s, i, v, -1, SQLITE_TRANSIENT);
}

void st_db_bind_blob_copy(st_dbstmt *s, int i, const void *v, size_t n)
{
    if (s->pg != NULL)
        st_pg_bind_blob(s->pg, i, v, n);
    else
        sqlite3_bind_blob(s->s, i, v, (int)n, SQLITE_TRANSIENT);
}

void st_db_bind_null(st_dbstmt *s, int i)
{
    if (s->pg != NULL)
        st_pg_bind_null(s->pg, i);
    else
        sqlite3_bind_null(s->s, i);
}

st_db_rc st_db_step(st_dbstmt *s)
{
    if (s->pg != NULL) return st_pg_step(s->pg);
    s->db->msg[0] = '\0';
    return from_sqlite(s->db->h, sqlite3_step(s->s));
}

int64_t st_db_col_int64(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_int64(s->pg, c) : sqlite3_column_int64(s->s, c);
}

int st_db_col_int(st_dbstmt *s, int c)
{
    return (int)st_db_col_int64(s, c);
}

double st_db_col_double(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_double(s->pg, c) : sqlite3_column_double(s->s, c);
}

const char *st_db_col_text(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_text(s->pg, c) : (const char *)sqlite3_column_text(s->s, c);
}

const void *st_db_col_blob(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_blob(s->pg, c, NULL) : sqlite3_column_blob(s->s, c);
}

int st_db_col_bytes(st_dbstmt *s, int c)
{
    if (s->pg == NULL) return sqlite3_column_bytes(s->s, c);
    size_t n = 0;
    st_pg_col_blob(s->pg, c, &n);
    return (int)n;
}

int st_db_col_null(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_null(s->pg, c) : sqlite3_column_type(s->s, c) == SQLITE_NULL;
}

int st_db_col_count(st_dbstmt *s)
{
    return s->pg != NULL ? st_pg_col_count(s->pg) : sqlite3_column_count(s->s);
}

const char *st_db_col_name(st_dbstmt *s, int c)
{
    return s->pg != NULL ? st_pg_col_name(s->pg, c) : sqlite3_column_name(s->s, c);
}

st_db_type st_db_col_type(st_dbstmt *s, int c)
{
    if (s->pg != NULL) return st_pg_col_type(s->pg, c);
    switch (sqlite3_column_type(s->s, c)) {
    case SQLITE_INTEGER:
        return ST_DB_INT;
    case SQLITE_FLOAT:
        return ST_DB_FLOAT;
    case SQLITE_TEXT:
        return ST_DB_TEXT;
    case SQLITE_BLOB:
        return ST_DB_BLOB;
    default:
        return ST_DB_NULL;
    }
}

void st_db_reset(st_dbstmt *s)
{
    if (s->pg != NULL) {
        st_pg_reset(s->pg);
        return;
    }
    sqlite3_reset(s->s);
    sqlite3_clear_bindings(s->s);
}

void st_db_finalize(st_dbstmt *s)
{
    if (s == NULL) return;
    if (s->pg != NULL)
        st_pg_finalize(s->pg);
    else
        sqlite3_finalize(s->s);
    free(s);
}
