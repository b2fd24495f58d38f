/*
 * mpilib.c -- Open MPI, bound when first needed (mpilib.h). This file binds the table and so
 * does not see the redirections.
 */
#ifdef STRATA_HAVE_MPI
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define ST_MPILIB_BINDING
#include "mdms/mpilib.h"

#ifdef STRATA_MPI_LINKED
int st_mpi_load(st_err *err)
{
    (void)err;
    return STRATA_OK;
}

int st_mpi_load_global(st_err *err)
{
    (void)err;
    return STRATA_OK;
}
#else
#ifndef ST_MPI_SONAME
#define ST_MPI_SONAME "libmpi.so.40"
#endif

ST_DL_LIBRARY(mpi, st_mpilib, ST_MPI_SONAME, "libopenmpi3", ST_MPI_FUNCS, ST_MPI_VARS)

int st_mpi_load(st_err *err)
{
    pthread_once(&mpi_once, mpi_bind);
    if (mpi_ok) return STRATA_OK;
    return st_error(err, STRATA_EUNSUPPORTED, "the MDMS layer's MPI calls need Open MPI: %s",
                    mpi_msg);
}

int st_mpi_load_global(st_err *err)
{
    /* Open MPI's components, which it opens itself, find its symbols in the global scope */
    if (dlopen(ST_MPI_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == NULL) {
        const char *why = dlerror();
        return st_error(err, STRATA_EUNSUPPORTED,
                        "cannot load Open MPI (%s: %s): install it with 'apt-get install "
                        "libopenmpi3'",
                        ST_MPI_SONAME, why != NULL ? why : "not found");
    }
    return st_mpi_load(err);
}

const st_mpilib *st_mpi(void)
{
    return &mpi_lib;
}
#endif /* STRATA_MPI_LINKED */
#else
typedef int st_mpilib_none; /* built without MPI: nothing to bind */
#endif /* STRATA_HAVE_MPI */
