/*
 * interop.h -- the interop layer's interface for the layers above it (mdms): the format readers
 * an ingest spread over processes drives.
 */
#ifndef STRATA_INTEROP_H
#define STRATA_INTEROP_H

#include "strata.h"
#include "util/comm.h"

/* strata_ingest_parquet() with the row groups of all FILES, end to end, cut in equal shares over
 * the processes of COMM (NULL or one process: the call itself): each reads its row groups and
 * writes their batches, and process 0 publishes all of them in one version, in file order, or
 * nothing when any process failed. Collective. */
int st_ingest_parquet_run(strata_pool *pool, const char *region, const char *name,
                          const char *const *files, int nfiles, const strata_ingest_opts *opts,
                          strata_ingest_stats *stats, const st_comm *comm);

#endif /* STRATA_INTEROP_H */
