/*
 * pqlib.h -- libpq, loaded when a catalog on PostgreSQL is first opened (util/dynlib.h), so that
 * a process on a SQLite catalog never loads it (nor the TLS, Kerberos and LDAP libraries it
 * needs). Private to src/catalog: db_pg.c calls libpq only through this table.
 */
#ifndef STRATA_CATALOG_PQLIB_H
#define STRATA_CATALOG_PQLIB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "util/dynlib.h"

/* The libpq functions db_pg.c uses. */
/* clang-format off */
#define ST_PQ_FUNCS(X)                                                                             \
    X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) X(PQerrorMessage) X(PQexec)      \
    X(PQexecParams) X(PQexecPrepared) X(PQfinish) X(PQfname) X(PQfreemem) X(PQftype)               \
    X(PQgetisnull) X(PQgetvalue) X(PQnfields) X(PQntuples) X(PQprepare) X(PQreset)                 \
    X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) X(PQsetNoticeProcessor)        \
    X(PQstatus) X(PQtransactionStatus) X(PQunescapeBytea)
/* clang-format on */

typedef struct st_pqlib {
    ST_PQ_FUNCS(ST_DL_FIELD)
} st_pqlib;

/* libpq's functions, loaded by the first call of the process; NULL (MSG: what is missing and
 * how to install it) when it cannot be loaded. */
const st_pqlib *st_pq_load(char *msg, size_t len);

#endif /* STRATA_CATALOG_PQLIB_H */
