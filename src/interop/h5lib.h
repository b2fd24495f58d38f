/*
 * h5lib.h -- HDF5, loaded when an import or export first needs it (util/dynlib.h), so that other
 * processes never load it (nor the curl, TLS and compression libraries it needs). Private to
 * src/interop.
 *
 * The HDF5 files of the folder include this header after hdf5.h and call HDF5 as usual: each
 * function and each predefined type or class (H5T_NATIVE_INT64, H5P_DATASET_CREATE: macros over
 * the library's variables) is redirected below to the table st_h5() bound. Every public entry
 * point calls st_h5_load() before anything else of HDF5.
 */
#ifndef STRATA_INTEROP_H5LIB_H
#define STRATA_INTEROP_H5LIB_H

#include <hdf5.h>

#include "util/dynlib.h"
#include "util/error.h"

/* The HDF5 functions the folder calls (by version where the API changed) and the variables
 * behind its predefined types and property list classes. */
/* clang-format off */
#define ST_H5_FUNCS(X)                                                                             \
    X(H5Aclose) X(H5Acreate2) X(H5Aexists) X(H5Aget_space) X(H5Aget_type) X(H5Aiterate2)           \
    X(H5Aopen) X(H5Aread) X(H5Awrite) X(H5Dclose) X(H5Dcreate2) X(H5Dget_create_plist)             \
    X(H5Dget_space) X(H5Dget_type) X(H5Dopen2) X(H5Dread) X(H5Dwrite) X(H5Eclear2)                 \
    X(H5Eget_auto2) X(H5Eset_auto2) X(H5Ewalk2) X(H5Fclose) X(H5Fcreate) X(H5Fopen) X(H5Gclose)    \
    X(H5Gcreate2) X(H5Gget_info) X(H5Gopen2) X(H5Iget_type) X(H5Lexists) X(H5Lget_name_by_idx)     \
    X(H5Oopen) X(H5Pclose) X(H5Pcreate) X(H5Pfill_value_defined) X(H5Pget_chunk)                   \
    X(H5Pget_fill_value) X(H5Pget_filter2) X(H5Pget_layout) X(H5Pget_nfilters) X(H5Pset_chunk)     \
    X(H5Pset_create_intermediate_group) X(H5Pset_deflate) X(H5Pset_fill_value) X(H5Pset_filter)    \
    X(H5Sclose) X(H5Screate) X(H5Screate_simple) X(H5Sget_simple_extent_dims)                      \
    X(H5Sget_simple_extent_ndims) X(H5Sget_simple_extent_npoints) X(H5Sselect_hyperslab)           \
    X(H5Tclose) X(H5Tcopy) X(H5Tenum_create) X(H5Tenum_insert) X(H5Tget_class) X(H5Tget_cset)      \
    X(H5Tget_member_name) X(H5Tget_member_value) X(H5Tget_nmembers) X(H5Tget_sign)                 \
    X(H5Tget_size) X(H5Tget_super) X(H5Tis_variable_str) X(H5Tset_cset) X(H5Tset_size)             \
    X(H5Tset_strpad) X(H5Zfilter_avail) X(H5free_memory) X(H5open) X(H5check_version)
#if H5_VERSION_GE(1, 12, 0)
#define ST_H5_FUNCS_V(X) X(H5Treclaim) X(H5Fis_accessible)
#else
#define ST_H5_FUNCS_V(X) X(H5Dvlen_reclaim) X(H5Fis_hdf5)
#endif
#define ST_H5_VARS(X)                                                                              \
    X(H5T_NATIVE_INT8_g) X(H5T_NATIVE_UINT8_g) X(H5T_NATIVE_INT16_g) X(H5T_NATIVE_UINT16_g)        \
    X(H5T_NATIVE_INT32_g) X(H5T_NATIVE_UINT32_g) X(H5T_NATIVE_INT64_g) X(H5T_NATIVE_UINT64_g)      \
    X(H5T_NATIVE_FLOAT_g) X(H5T_NATIVE_DOUBLE_g) X(H5T_C_S1_g) X(H5P_CLS_DATASET_CREATE_ID_g)      \
    X(H5P_CLS_LINK_CREATE_ID_g)
/* clang-format on */

#define ST_H5_ALL_FUNCS(X) ST_H5_FUNCS(X) ST_H5_FUNCS_V(X)

typedef struct st_h5lib {
    ST_H5_ALL_FUNCS(ST_DL_FIELD)
    ST_H5_VARS(ST_DL_FIELD)
} st_h5lib;

/* Load HDF5 (once per process): STRATA_OK, or STRATA_EIO saying what is missing and how to
 * install it. */
int st_h5_load(st_err *err);

/* The table st_h5_load() bound (only after it succeeded). */
const st_h5lib *st_h5(void);

/* ---- the redirections ---- */
#ifndef ST_H5LIB_BINDING
#define H5Aclose                         (st_h5()->H5Aclose)
#define H5Acreate2                       (st_h5()->H5Acreate2)
#define H5Aexists                        (st_h5()->H5Aexists)
#define H5Aget_space                     (st_h5()->H5Aget_space)
#define H5Aget_type                      (st_h5()->H5Aget_type)
#define H5Aiterate2                      (st_h5()->H5Aiterate2)
#define H5Aopen                          (st_h5()->H5Aopen)
#define H5Aread                          (st_h5()->H5Aread)
#define H5Awrite                         (st_h5()->H5Awrite)
#define H5Dclose                         (st_h5()->H5Dclose)
#define H5Dcreate2                       (st_h5()->H5Dcreate2)
#define H5Dget_create_plist              (st_h5()->H5Dget_create_plist)
#define H5Dget_space                     (st_h5()->H5Dget_space)
#define H5Dget_type                      (st_h5()->H5Dget_type)
#define H5Dopen2                         (st_h5()->H5Dopen2)
#define H5Dread                          (st_h5()->H5Dread)
#define H5Dwrite                         (st_h5()->H5Dwrite)
#define H5Eclear2                        (st_h5()->H5Eclear2)
#define H5Eget_auto2                     (st_h5()->H5Eget_auto2)
#define H5Eset_auto2                     (st_h5()->H5Eset_auto2)
#define H5Ewalk2                         (st_h5()->H5Ewalk2)
#define H5Fclose                         (st_h5()->H5Fclose)
#define H5Fcreate                        (st_h5()->H5Fcreate)
#define H5Fopen                          (st_h5()->H5Fopen)
#define H5Gclose                         (st_h5()->H5Gclose)
#define H5Gcreate2                       (st_h5()->H5Gcreate2)
#define H5Gget_info                      (st_h5()->H5Gget_info)
#define H5Gopen2                         (st_h5()->H5Gopen2)
#define H5Iget_type                      (st_h5()->H5Iget_type)
#define H5Lexists                        (st_h5()->H5Lexists)
#define H5Lget_name_by_idx               (st_h5()->H5Lget_name_by_idx)
#define H5Oopen                          (st_h5()->H5Oopen)
#define H5Pclose                         (st_h5()->H5Pclose)
#define H5Pcreate                        (st_h5()->H5Pcreate)
#define H5Pfill_value_defined            (st_h5()->H5Pfill_value_defined)
#define H5Pget_chunk                     (st_h5()->H5Pget_chunk)
#define H5Pget_fill_value                (st_h5()->H5Pget_fill_value)
#define H5Pget_filter2                   (st_h5()->H5Pget_filter2)
#define H5Pget_layout                    (st_h5()->H5Pget_layout)
#define H5Pget_nfilters                  (st_h5()->H5Pget_nfilters)
#define H5Pset_chunk                     (st_h5()->H5Pset_chunk)
#define H5Pset_create_intermediate_group (st_h5()->H5Pset_create_intermediate_group)
#define H5Pset_deflate                   (st_h5()->H5Pset_deflate)
#define H5Pset_fill_value                (st_h5()->H5Pset_fill_value)
#define H5Pset_filter                    (st_h5()->H5Pset_filter)
#define H5Sclose                         (st_h5()->H5Sclose)
#define H5Screate                        (st_h5()->H5Screate)
#define H5Screate_simple                 (st_h5()->H5Screate_simple)
#define H5Sget_simple_extent_dims        (st_h5()->H5Sget_simple_extent_dims)
#define H5Sget_simple_extent_ndims       (st_h5()->H5Sget_simple_extent_ndims)
#define H5Sget_simple_extent_npoints     (st_h5()->H5Sget_simple_extent_npoints)
#define H5Sselect_hyperslab              (st_h5()->H5Sselect_hyperslab)
#define H5Tclose                         (st_h5()->H5Tclose)
#define H5Tcopy                          (st_h5()->H5Tcopy)
#define H5Tenum_create                   (st_h5()->H5Tenum_create)
#define H5Tenum_insert                   (st_h5()->H5Tenum_insert)
#define H5Tget_class                     (st_h5()->H5Tget_class)
#define H5Tget_cset                      (st_h5()->H5Tget_cset)
#define H5Tget_member_name               (st_h5()->H5Tget_member_name)
#define H5Tget_member_value              (st_h5()->H5Tget_member_value)
#define H5Tget_nmembers                  (st_h5()->H5Tget_nmembers)
#define H5Tget_sign                      (st_h5()->H5Tget_sign)
#define H5Tget_size                      (st_h5()->H5Tget_size)
#define H5Tget_super                     (st_h5()->H5Tget_super)
#define H5Tis_variable_str               (st_h5()->H5Tis_variable_str)
#define H5Tset_cset                      (st_h5()->H5Tset_cset)
#define H5Tset_size                      (st_h5()->H5Tset_size)
#define H5Tset_strpad                    (st_h5()->H5Tset_strpad)
#define H5Zfilter_avail                  (st_h5()->H5Zfilter_avail)
#define H5free_memory                    (st_h5()->H5free_memory)
#define H5open                           (st_h5()->H5open)
#define H5check_version                  (st_h5()->H5check_version)
#if H5_VERSION_GE(1, 12, 0)
#define H5Treclaim       (st_h5()->H5Treclaim)
#define H5Fis_accessible (st_h5()->H5Fis_accessible)
#else
#define H5Dvlen_reclaim (st_h5()->H5Dvlen_reclaim)
#define H5Fis_hdf5      (st_h5()->H5Fis_hdf5)
#endif
#define H5T_NATIVE_INT8_g           (*st_h5()->H5T_NATIVE_INT8_g)
#define H5T_NATIVE_UINT8_g          (*st_h5()->H5T_NATIVE_UINT8_g)
#define H5T_NATIVE_INT16_g          (*st_h5()->H5T_NATIVE_INT16_g)
#define H5T_NATIVE_UINT16_g         (*st_h5()->H5T_NATIVE_UINT16_g)
#define H5T_NATIVE_INT32_g          (*st_h5()->H5T_NATIVE_INT32_g)
#define H5T_NATIVE_UINT32_g         (*st_h5()->H5T_NATIVE_UINT32_g)
#define H5T_NATIVE_INT64_g          (*st_h5()->H5T_NATIVE_INT64_g)
#define H5T_NATIVE_UINT64_g         (*st_h5()->H5T_NATIVE_UINT64_g)
#define H5T_NATIVE_FLOAT_g          (*st_h5()->H5T_NATIVE_FLOAT_g)
#define H5T_NATIVE_DOUBLE_g         (*st_h5()->H5T_NATIVE_DOUBLE_g)
#define H5T_C_S1_g                  (*st_h5()->H5T_C_S1_g)
#define H5P_CLS_DATASET_CREATE_ID_g (*st_h5()->H5P_CLS_DATASET_CREATE_ID_g)
#define H5P_CLS_LINK_CREATE_ID_g    (*st_h5()->H5P_CLS_LINK_CREATE_ID_g)
#endif /* ST_H5LIB_BINDING */

#endif /* STRATA_INTEROP_H5LIB_H */
