/*
 * pqlib.c -- libpq, loaded when first needed (pqlib.h).
 */
#include "catalog/pqlib.h"

#include <pthread.h>
#include <stdio.h>

#ifndef ST_PQ_SONAME
#define ST_PQ_SONAME "libpq.so.5"
#endif

ST_DL_LIBRARY(pq, st_pqlib, ST_PQ_SONAME, "libpq5", ST_PQ_FUNCS, ST_DL_NONE)

const st_pqlib *st_pq_load(char *msg, size_t len)
{
    pthread_once(&pq_once, pq_bind);
    if (pq_ok) return &pq_lib;
    snprintf(msg, len, "the catalog on PostgreSQL needs libpq: %s", pq_msg);
    return NULL;
}
