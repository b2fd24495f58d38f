/*
 * h5lib.c -- HDF5, loaded when first needed (h5lib.h). This file binds the table and so does not
 * see the redirections: it defines ST_H5LIB_BINDING before including the header.
 */
#include <pthread.h>
#include <stdio.h>

#define ST_H5LIB_BINDING
#include "interop/h5lib.h"
#include "util/dynlib.h"

#ifndef ST_H5_SONAME
#define ST_H5_SONAME "libhdf5_serial.so.103"
#endif

/* Bound once per process (st_dl_bind), read-only afterwards. */
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static st_h5lib h5_lib;
static int h5_ok;
static char h5_msg[512];

static void h5_bind(void)
{
#define ST_H5_NAME(f) #f,
    static const char *const names[] = {ST_H5_FUNCS(ST_H5_NAME) ST_H5_FUNCS_V(ST_H5_NAME)
                                            ST_H5_VARS(ST_H5_NAME)};
#undef ST_H5_NAME
#define ST_H5_SLOT(f) (void **)&h5_lib.f,
    void **const slots[] = {ST_H5_FUNCS(ST_H5_SLOT) ST_H5_FUNCS_V(ST_H5_SLOT)
                                ST_H5_VARS(ST_H5_SLOT)};
#undef ST_H5_SLOT
#define ST_H5_ONE(f) +1
    size_t nvars = 0 ST_H5_VARS(ST_H5_ONE);
#undef ST_H5_ONE
    h5_ok = st_dl_bind(ST_H5_SONAME, "libhdf5-103-1", names, slots, sizeof names / sizeof names[0],
                       nvars, h5_msg, sizeof h5_msg) == 0 &&
            h5_lib.H5open() >= 0;
    if (!h5_ok && h5_msg[0] == '\0') snprintf(h5_msg, sizeof h5_msg, "H5open() failed");
}

int st_h5_load(st_err *err)
{
    pthread_once(&h5_once, h5_bind);
    if (h5_ok) return STRATA_OK;
    return st_error(err, STRATA_EIO, "HDF5 import and export need the HDF5 library: %s", h5_msg);
}

const st_h5lib *st_h5(void)
{
    return &h5_lib;
}
