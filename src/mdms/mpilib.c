/*
 * mpilib.c -- Open MPI, bound when first needed (mpilib.h). This file binds the table and so
 * does not see the redirections.
 */
#ifdef STRATA_HAVE_MPI
#include <pthread.h>
#include <stdio.h>

#define ST_MPILIB_BINDING
#include "mdms/mpilib.h"
#include "util/dynlib.h"

#ifdef STRATA_MPI_LINKED
int st_mpi_load(st_err *err)
{
    (void)err;
    return STRATA_OK;
}
#else
#ifndef ST_MPI_SONAME
#define ST_MPI_SONAME "libmpi.so.40"
#endif

/* Bound once per process (st_dl_bind), read-only afterwards. */
static pthread_once_t mpi_once = PTHREAD_ONCE_INIT;
static st_mpilib mpi_lib;
static int mpi_ok;
static char mpi_msg[512];

static void mpi_bind(void)
{
#define ST_MPI_NAME(f) #f,
    static const char *const names[] = {ST_MPI_FUNCS(ST_MPI_NAME) ST_MPI_VARS(ST_MPI_NAME)};
#undef ST_MPI_NAME
#define ST_MPI_SLOT(f) (void **)&mpi_lib.f,
    void **const slots[] = {ST_MPI_FUNCS(ST_MPI_SLOT) ST_MPI_VARS(ST_MPI_SLOT)};
#undef ST_MPI_SLOT
#define ST_MPI_ONE(f) +1
    size_t nvars = 0 ST_MPI_VARS(ST_MPI_ONE);
#undef ST_MPI_ONE
    mpi_ok = st_dl_bind(ST_MPI_SONAME, "libopenmpi3", names, slots, sizeof names / sizeof names[0],
                        nvars, mpi_msg, sizeof mpi_msg) == 0;
}

int st_mpi_load(st_err *err)
{
    pthread_once(&mpi_once, mpi_bind);
    if (mpi_ok) return STRATA_OK;
    return st_error(err, STRATA_EUNSUPPORTED, "the MDMS layer's MPI calls need Open MPI: %s",
                    mpi_msg);
}

const st_mpilib *st_mpi(void)
{
    return &mpi_lib;
}
#endif /* STRATA_MPI_LINKED */
#else
typedef int st_mpilib_none; /* built without MPI: nothing to bind */
#endif /* STRATA_HAVE_MPI */
