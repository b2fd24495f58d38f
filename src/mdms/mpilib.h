/*
 * mpilib.h -- Open MPI, bound when a communicator is first given (util/dynlib.h), so that the
 * library does not link it: a process that never passes one (the command, a Python session, a
 * program on one node) does not load Open MPI and the libraries under it, and a machine without
 * Open MPI runs everything but the collective MDMS calls. Private to src/mdms.
 *
 * The MDMS files include this header after mpi.h and call MPI as usual: each function, and each
 * predefined handle they use (MPI_BYTE, MPI_SUM, MPI_COMM_NULL: Open MPI's macros over the
 * addresses of its variables), is redirected below to the table st_mpi_load() bound. A caller
 * that passes a communicator has MPI loaded already: binding finds that same library. Other MPI
 * implementations are linked as usual (STRATA_MPI_LINKED, set by CMakeLists.txt).
 */
#ifndef STRATA_MDMS_MPILIB_H
#define STRATA_MDMS_MPILIB_H

#include <mpi.h>

#include "util/dynlib.h"
#include "util/error.h"

/* Load MPI (once per process): STRATA_OK, or STRATA_EUNSUPPORTED saying what is missing. */
int st_mpi_load(st_err *err);

/* Load MPI into the global scope and bind it, for a program that does not link it and is about
 * to initialise it (strata_mpi_open). */
int st_mpi_load_global(st_err *err);

#ifndef STRATA_MPI_LINKED
/* The MPI functions the folder calls and the variables behind its predefined handles. */
/* clang-format off */
#define ST_MPI_FUNCS(X)                                                                            \
    X(MPI_Allgather) X(MPI_Allgatherv) X(MPI_Allreduce) X(MPI_Alltoallv) X(MPI_Bcast)              \
    X(MPI_Comm_dup) X(MPI_Comm_free) X(MPI_Finalize) X(MPI_Finalized) X(MPI_Init_thread)           \
    X(MPI_Comm_rank) X(MPI_Comm_size) X(MPI_Error_string) X(MPI_File_close) X(MPI_File_open)       \
    X(MPI_File_read_all) X(MPI_File_set_view) X(MPI_File_sync) X(MPI_File_write_all)               \
    X(MPI_Gather) X(MPI_Gatherv) X(MPI_Info_create) X(MPI_Info_free) X(MPI_Info_set)               \
    X(MPI_Initialized) X(MPI_Type_commit) X(MPI_Type_contiguous) X(MPI_Type_create_darray)         \
    X(MPI_Type_create_hindexed_block) X(MPI_Type_free) X(MPI_Sendrecv)
#define ST_MPI_VARS(X)                                                                             \
    X(ompi_mpi_byte) X(ompi_mpi_char) X(ompi_mpi_int) X(ompi_mpi_double) X(ompi_mpi_uint64_t)      \
    X(ompi_mpi_2int) X(ompi_mpi_comm_null) X(ompi_mpi_comm_world) X(ompi_mpi_op_max)               \
    X(ompi_mpi_op_min) X(ompi_mpi_op_minloc) X(ompi_mpi_op_sum)
/* clang-format on */

typedef struct st_mpilib {
    ST_MPI_FUNCS(ST_DL_FIELD)
    ST_MPI_VARS(ST_DL_FIELD)
} st_mpilib;

/* The table st_mpi_load() bound (only after it succeeded). */
const st_mpilib *st_mpi(void);

/* ---- the redirections ---- */
#ifndef ST_MPILIB_BINDING
#define MPI_Allgather                  (st_mpi()->MPI_Allgather)
#define MPI_Allgatherv                 (st_mpi()->MPI_Allgatherv)
#define MPI_Allreduce                  (st_mpi()->MPI_Allreduce)
#define MPI_Alltoallv                  (st_mpi()->MPI_Alltoallv)
#define MPI_Bcast                      (st_mpi()->MPI_Bcast)
#define MPI_Comm_dup                   (st_mpi()->MPI_Comm_dup)
#define MPI_Comm_free                  (st_mpi()->MPI_Comm_free)
#define MPI_Finalize                   (st_mpi()->MPI_Finalize)
#define MPI_Finalized                  (st_mpi()->MPI_Finalized)
#define MPI_Init_thread                (st_mpi()->MPI_Init_thread)
#define MPI_Comm_rank                  (st_mpi()->MPI_Comm_rank)
#define MPI_Comm_size                  (st_mpi()->MPI_Comm_size)
#define MPI_Error_string               (st_mpi()->MPI_Error_string)
#define MPI_File_close                 (st_mpi()->MPI_File_close)
#define MPI_File_open                  (st_mpi()->MPI_File_open)
#define MPI_File_read_all              (st_mpi()->MPI_File_read_all)
#define MPI_File_set_view              (st_mpi()->MPI_File_set_view)
#define MPI_File_sync                  (st_mpi()->MPI_File_sync)
#define MPI_File_write_all             (st_mpi()->MPI_File_write_all)
#define MPI_Gather                     (st_mpi()->MPI_Gather)
#define MPI_Gatherv                    (st_mpi()->MPI_Gatherv)
#define MPI_Info_create                (st_mpi()->MPI_Info_create)
#define MPI_Info_free                  (st_mpi()->MPI_Info_free)
#define MPI_Info_set                   (st_mpi()->MPI_Info_set)
#define MPI_Initialized                (st_mpi()->MPI_Initialized)
#define MPI_Sendrecv                   (st_mpi()->MPI_Sendrecv)
#define MPI_Type_commit                (st_mpi()->MPI_Type_commit)
#define MPI_Type_contiguous            (st_mpi()->MPI_Type_contiguous)
#define MPI_Type_create_darray         (st_mpi()->MPI_Type_create_darray)
#define MPI_Type_create_hindexed_block (st_mpi()->MPI_Type_create_hindexed_block)
#define MPI_Type_free                  (st_mpi()->MPI_Type_free)
#define ompi_mpi_byte                  (*st_mpi()->ompi_mpi_byte)
#define ompi_mpi_char                  (*st_mpi()->ompi_mpi_char)
#define ompi_mpi_int                   (*st_mpi()->ompi_mpi_int)
#define ompi_mpi_double                (*st_mpi()->ompi_mpi_double)
#define ompi_mpi_uint64_t              (*st_mpi()->ompi_mpi_uint64_t)
#define ompi_mpi_2int                  (*st_mpi()->ompi_mpi_2int)
#define ompi_mpi_comm_null             (*st_mpi()->ompi_mpi_comm_null)
#define ompi_mpi_comm_world            (*st_mpi()->ompi_mpi_comm_world)
#define ompi_mpi_op_max                (*st_mpi()->ompi_mpi_op_max)
#define ompi_mpi_op_min                (*st_mpi()->ompi_mpi_op_min)
#define ompi_mpi_op_minloc             (*st_mpi()->ompi_mpi_op_minloc)
#define ompi_mpi_op_sum                (*st_mpi()->ompi_mpi_op_sum)
#endif /* ST_MPILIB_BINDING */
#endif /* STRATA_MPI_LINKED */

#endif /* STRATA_MDMS_MPILIB_H */
