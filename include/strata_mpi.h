/*
 * strata_mpi.h -- Strata's entry points that take an MPI communicator itself.
 *
 * For programs that link MPI (mpicc): include it after mpi.h. libstrata does not link MPI (it
 * binds Open MPI when a communicator is first given), so a program without MPI includes only
 * strata.h and needs no MPI to build or run. These are thin inline wrappers over strata.h's
 * calls that take the communicator's address.
 */
#ifndef STRATA_MPI_H
#define STRATA_MPI_H

#include <mpi.h>

#include "strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* strata_update() shared by the processes of COMM (strata_update_comm()). Collective. */
static inline int strata_update_mpi(strata_pool *pool, const char *region, const char *name,
                                    const strata_update_opts *opts, strata_update_stats *stats,
                                    MPI_Comm comm)
{
    return strata_update_comm(pool, region, name, opts, stats, &comm);
}

/* strata_ingest_csv() shared by the processes of COMM (strata_ingest_csv_comm()). Collective. */
static inline int strata_ingest_mpi(strata_pool *pool, const char *region, const char *name,
                                    const char *const *files, int nfiles,
                                    const strata_ingest_opts *opts, strata_ingest_stats *stats,
                                    MPI_Comm comm)
{
    return strata_ingest_csv_comm(pool, region, name, files, nfiles, opts, stats, &comm);
}

/* strata_ingest_parquet() shared by the processes of COMM (strata_ingest_parquet_comm()).
 * Collective. */
static inline int strata_ingest_parquet_mpi(strata_pool *pool, const char *region, const char *name,
                                            const char *const *files, int nfiles,
                                            const strata_ingest_opts *opts,
                                            strata_ingest_stats *stats, MPI_Comm comm)
{
    return strata_ingest_parquet_comm(pool, region, name, files, nfiles, opts, stats, &comm);
}

/* strata_mdms_init() over COMM. Collective. */
static inline int strata_mdms_init_mpi(strata_pool *pool, const char *app, MPI_Comm comm,
                                       strata_mdms **out)
{
    return strata_mdms_init(pool, app, &comm, out);
}

#ifdef __cplusplus
}
#endif

#endif /* STRATA_MPI_H */
