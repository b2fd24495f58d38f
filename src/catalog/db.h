/*
 * db.h -- the SQL database under the catalog: one connection and its statements, the same calls
 * on SQLite (db_sqlite.c) and on PostgreSQL through libpq (db_pg.c). Private to src/catalog.
 *
 * The calls follow SQLite's shape (prepare, bind, step row by row, read columns, reset), which
 * the catalog was written against. Statements are written once, in the SQL both backends speak
 * (SQLite 3.35+: upserts, RETURNING); the PostgreSQL backend turns ?N parameters into $N and
 * the schema's types into its own (st_db_ddl()). Results are read by the caller's thread only;
 * a connection is never shared between threads.
 *
 * Failures are st_db_rc codes, which st_cat_db_error() (catalog_sqlite.c) turns into Strata
 * statuses and messages that name the catalog, with st_db_errmsg()'s text.
 */
#ifndef STRATA_CATALOG_DB_H
#define STRATA_CATALOG_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_db st_db;
typedef struct st_dbstmt st_dbstmt;

typedef enum { ST_DB_SQLITE, ST_DB_PG } st_db_kind;

/* What a call returns: ST_DB_OK, a step's ST_DB_ROW or ST_DB_DONE, or a failure. */
typedef enum {
    ST_DB_OK = 0,
    ST_DB_ROW,
    ST_DB_DONE,
    ST_DB_BUSY,     /* the database is locked by another writer (past the busy timeout), or a
                     * transaction was chosen as a deadlock or serialisation victim */
    ST_DB_CORRUPT,  /* the database file is damaged, or is no database */
    ST_DB_FULL,     /* no space left */
    ST_DB_READONLY, /* the database cannot be written */
    ST_DB_PERM,     /* no permission; a file that cannot be opened */
    ST_DB_UNIQUE,   /* a unique (or primary key) constraint */
    ST_DB_FOREIGN,  /* a foreign key constraint */
    ST_DB_NOMEM,
    ST_DB_CONN,    /* the connection to the server is lost or cannot be made */
    ST_DB_NOTABLE, /* an unknown table: the database holds no catalog */
    ST_DB_ERROR    /* anything else (SQL errors, I/O) */
} st_db_rc;

/* Open the SQLite database at PATH (creating it when CREATE). On failure *OUT may still hold a
 * handle, for st_db_errmsg(); close it. */
st_db_rc st_db_open_sqlite(const char *path, int create, st_db **out);

/* Connect to PostgreSQL with libpq connection string CONNINFO (a URI or key=value words), in
 * schema SCHEMA (created when CREATE), waiting at most CONNECT_TIMEOUT_S seconds. On failure
 * *OUT may still hold a handle, for st_db_errmsg(); close it. ST_DB_PERM without libpq. */
st_db_rc st_db_open_pg(const char *conninfo, const char *schema, int create, int connect_timeout_s,
                       st_db **out);

void st_db_close(st_db *db);
st_db_kind st_db_kind_of(const st_db *db);

/* Which server session DB is on: PostgreSQL counts the connections made (a connection the
 * server dropped is made again between transactions, and what the old session held -- its
 * advisory locks, its prepared statements -- is gone); SQLite's is always 0. */
int st_db_session(const st_db *db);

/* The message of the last failure on DB ("" if none), and the errno behind it (SQLite's
 * failed system call; 0 when unknown). */
const char *st_db_errmsg(const st_db *db);
int st_db_sys_errno(const st_db *db);

/* Wait up to MS milliseconds for a lock another connection holds (SQLite's busy timeout;
 * PostgreSQL's lock_timeout). */
void st_db_set_busy_timeout(st_db *db, int ms);

/* Run SQL, one or more statements without parameters or results (schema, transactions). */
st_db_rc st_db_exec(st_db *db, const char *sql);

/* Transactions. st_db_begin: a write transaction; on SQLite it takes the database's write
 * lock at once (BEGIN IMMEDIATE); on PostgreSQL the pool's lock shared: write transactions of
 * different objects run at once (each object's writers are serialised by its own writer lock,
 * and constraints catch the rest), while st_db_begin_exclusive (schema changes) excludes them
 * all. st_db_in_tx: whether one is open. */
st_db_rc st_db_begin(st_db *db);
st_db_rc st_db_begin_exclusive(st_db *db);
st_db_rc st_db_commit(st_db *db);
void st_db_rollback(st_db *db);
int st_db_in_tx(const st_db *db);

/* The id the last INSERT gave its row (a table's INTEGER PRIMARY KEY), and the rows the last
 * INSERT, UPDATE or DELETE changed. */
int64_t st_db_last_id(st_db *db);
int64_t st_db_changes(const st_db *db);

/* Statements. Parameters are numbered from 1 (?1 in the SQL); columns from 0. A bound string
 * or blob must stay valid until the statement is reset, except with the _copy variants. */
st_db_rc st_db_prepare(st_db *db, const char *sql, st_dbstmt **out);
/* As st_db_prepare, for a statement kept and run many times (the catalog's cached ones). */
st_db_rc st_db_prepare_persistent(st_db *db, const char *sql, st_dbstmt **out);
void st_db_bind_int64(st_dbstmt *s, int i, int64_t v);
void st_db_bind_double(st_dbstmt *s, int i, double v);
void st_db_bind_text(st_dbstmt *s, int i, const char *v);
void st_db_bind_text_copy(st_dbstmt *s, int i, const char *v);
void st_db_bind_blob_copy(st_dbstmt *s, int i, const void *v, size_t n);
void st_db_bind_null(st_dbstmt *s, int i);
st_db_rc st_db_step(st_dbstmt *s);
int64_t st_db_col_int64(st_dbstmt *s, int c);
int st_db_col_int(st_dbstmt *s, int c);
double st_db_col_double(st_dbstmt *s, int c);
const char *st_db_col_text(st_dbstmt *s, int c); /* NULL for SQL NULL */
const void *st_db_col_blob(st_dbstmt *s, int c);
int st_db_col_bytes(st_dbstmt *s, int c);
int st_db_col_null(st_dbstmt *s, int c);
/* The columns of S's result, column C's name, and the type of its value in the current row. */
typedef enum { ST_DB_NULL, ST_DB_INT, ST_DB_FLOAT, ST_DB_TEXT, ST_DB_BLOB } st_db_type;
int st_db_col_count(st_dbstmt *s);
const char *st_db_col_name(st_dbstmt *s, int c);
st_db_type st_db_col_type(st_dbstmt *s, int c);
/* Make S ready to run again (its bindings cleared); a running statement releases its read. */
void st_db_reset(st_dbstmt *s);
void st_db_finalize(st_dbstmt *s);

#endif /* STRATA_CATALOG_DB_H */
