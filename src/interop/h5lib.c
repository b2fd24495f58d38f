/*
 * h5lib.c -- HDF5, loaded when first needed (h5lib.h). This file binds the table and so does not
 * see the redirections: it defines ST_H5LIB_BINDING before including the header.
 */
#include <pthread.h>
#include <stdio.h>

#define ST_H5LIB_BINDING
#include "interop/h5lib.h"

#ifndef ST_H5_SONAME
#define ST_H5_SONAME "libhdf5_serial.so.103"
#endif

ST_DL_LIBRARY(h5, st_h5lib, ST_H5_SONAME, "libhdf5-103-1", ST_H5_ALL_FUNCS, ST_H5_VARS)

/* Bind, then open the library (which sets its predefined types). */
static void h5_init(void)
{
    h5_bind();
    if (h5_ok && h5_lib.H5open() < 0) {
        h5_ok = 0;
        snprintf(h5_msg, sizeof h5_msg, "H5open() failed");
    }
}

int st_h5_load(st_err *err)
{
    pthread_once(&h5_once, h5_init);
    if (h5_ok) return STRATA_OK;
    return st_error(err, STRATA_EIO, "HDF5 import and export need the HDF5 library: %s", h5_msg);
}

const st_h5lib *st_h5(void)
{
    return &h5_lib;
}
