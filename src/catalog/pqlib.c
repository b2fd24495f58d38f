/*
 * pqlib.c -- libpq, loaded when first needed (pqlib.h).
 */
#include "catalog/pqlib.h"

#include <pthread.h>
#include <stdio.h>

#include "util/dynlib.h"

#ifndef ST_PQ_SONAME
#define ST_PQ_SONAME "libpq.so.5"
#endif

/* Bound once per process (st_dl_bind), read-only afterwards. */
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static st_pqlib pq_lib;
static int pq_ok;
static char pq_msg[512];

static void pq_bind(void)
{
#define ST_PQ_NAME(f) #f,
    static const char *const names[] = {ST_PQ_FUNCS(ST_PQ_NAME)};
#undef ST_PQ_NAME
#define ST_PQ_SLOT(f) (void **)&pq_lib.f,
    void **const slots[] = {ST_PQ_FUNCS(ST_PQ_SLOT)};
#undef ST_PQ_SLOT
    pq_ok = st_dl_bind(ST_PQ_SONAME, "libpq5", names, slots, sizeof names / sizeof names[0], 0,
                       pq_msg, sizeof pq_msg) == 0;
}

const st_pqlib *st_pq_load(char *msg, size_t len)
{
    pthread_once(&pq_once, pq_bind);
    if (pq_ok) return &pq_lib;
    snprintf(msg, len, "the catalog on PostgreSQL needs libpq: %s", pq_msg);
    return NULL;
}
