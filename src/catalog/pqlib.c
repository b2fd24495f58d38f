/*
 * pqlib.c -- libpq, loaded when first needed (pqlib.h).
 */
#include "catalog/pqlib.h"

#include <pthread.h>
#include <stdio.h>

#ifndef ST_PQ_SONAME
#define ST_PQ_SONAME "libpq.so.5"
#endif

/* Bound once per process (st_dl_bind), read-only afterwards. */
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static st_pqlib pq_lib;
static int pq_ok;
static char pq_msg[512];

ST_DL_BINDER(pq_bind, pq_lib, pq_ok, pq_msg, ST_PQ_SONAME, "libpq5", ST_PQ_FUNCS, ST_DL_NONE)

const st_pqlib *st_pq_load(char *msg, size_t len)
{
    pthread_once(&pq_once, pq_bind);
    if (pq_ok) return &pq_lib;
    snprintf(msg, len, "the catalog on PostgreSQL needs libpq: %s", pq_msg);
    return NULL;
}
