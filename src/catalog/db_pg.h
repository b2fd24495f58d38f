/*
 * db_pg.h -- the PostgreSQL backend of db.h (db_pg.c, on libpq), as db.c calls it. Private to
 * src/catalog.
 */
#ifndef STRATA_CATALOG_DB_PG_H
#define STRATA_CATALOG_DB_PG_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/db.h"

typedef struct st_pg st_pg;
typedef struct st_pgstmt st_pgstmt;

st_db_rc st_pg_open(const char *conninfo, const char *schema, int create, int connect_timeout_s,
                    st_pg **out);
void st_pg_close(st_pg *pg);
const char *st_pg_errmsg(const st_pg *pg);
int st_pg_session(const st_pg *pg);
void st_pg_set_lock_timeout(st_pg *pg, int ms);
st_db_rc st_pg_exec(st_pg *pg, const char *sql);
st_db_rc st_pg_begin(st_pg *pg, int exclusive);
int st_pg_in_tx(const st_pg *pg);
int64_t st_pg_last_id(st_pg *pg);
int64_t st_pg_changes(const st_pg *pg);

/* PERSISTENT: run many times over the connection's life (prepared on the server by name). */
st_db_rc st_pg_prepare(st_pg *pg, const char *sql, int persistent, st_pgstmt **out);
void st_pg_bind_int64(st_pgstmt *s, int i, int64_t v);
void st_pg_bind_double(st_pgstmt *s, int i, double v);
void st_pg_bind_text(st_pgstmt *s, int i, const char *v, int copy);
void st_pg_bind_blob(st_pgstmt *s, int i, const void *v, size_t n);
void st_pg_bind_null(st_pgstmt *s, int i);
st_db_rc st_pg_step(st_pgstmt *s);
int64_t st_pg_col_int64(st_pgstmt *s, int c);
double st_pg_col_double(st_pgstmt *s, int c);
const char *st_pg_col_text(st_pgstmt *s, int c);
const void *st_pg_col_blob(st_pgstmt *s, int c, size_t *n);
int st_pg_col_null(st_pgstmt *s, int c);
int st_pg_col_count(st_pgstmt *s);
const char *st_pg_col_name(st_pgstmt *s, int c);
st_db_type st_pg_col_type(st_pgstmt *s, int c);
void st_pg_reset(st_pgstmt *s);
void st_pg_finalize(st_pgstmt *s);

/* The PostgreSQL form of SQL written for SQLite (db.h): ?N parameters as $N, the schema's types
 * as PostgreSQL's (INTEGER is BIGINT, REAL DOUBLE PRECISION, BLOB BYTEA, TEXT compared
 * bytewise as SQLite does, an INTEGER PRIMARY KEY an identity column), no WITHOUT ROWID, and
 * the names user and array (reserved words there) quoted. A new string (free it), or NULL when out
 * of memory. *NPARAMS (may be NULL) receives the highest parameter number (numbers past
 * ST_PG_MAX_PARAM, PostgreSQL's limit, become it). */
#define ST_PG_MAX_PARAM 65535
char *st_pg_translate(const char *sql, int *nparams);

#endif /* STRATA_CATALOG_DB_PG_H */
