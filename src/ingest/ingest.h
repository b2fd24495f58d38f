/*
 * ingest.h -- the ingest layer's interface for the layers above it (interop): the machinery of
 * one ingest call, which the readers of other formats (Parquet, Arrow, HDF5) drive as
 * strata_ingest_csv and strata_ingest_npy do.
 *
 * An ingest call is one st_ingest: the dataset is opened (or created from the source's columns)
 * and the source's columns bound to the schema by name and dtype; rows are fed in slabs in
 * schema order, split into batches at opts->batch_rows; st_ingest_unit_done() ends what the
 * reader calls a unit (a row group, a record batch): its batch is committed when batch_rows is
 * 0 (one batch per unit, even of zero rows) or when it holds rows; the end publishes every batch
 * of the call at once or, on any failure, nothing: a dataset the call created is dropped again.
 * This is the one path by which other formats' values become batches.
 */
#ifndef STRATA_INGEST_H
#define STRATA_INGEST_H

#include <stdint.h>

#include "ingest/csv.h"
#include "util/comm.h"
#include "util/error.h"

typedef struct st_ingest st_ingest;

/* strata_ingest_csv() with the files split over the processes of COMM (NULL or one process: the
 * call itself): each parses a contiguous block of the files and writes its batches, and process
 * 0 publishes all of them in one version, in file order, or nothing when any process failed.
 * Collective. */
int st_ingest_csv_run(strata_pool *pool, const char *region, const char *name,
                      const char *const *files, int nfiles, const strata_ingest_opts *opts,
                      strata_ingest_stats *stats, const st_comm *comm);

/* Start an ingest call into REGION/NAME (names checked). OPTS and STATS may be NULL. *OUT is
 * released by st_ingest_end(), which must be called whatever happens. On failure *OUT is NULL
 * and there is nothing to end. */
int st_ingest_begin(strata_pool *pool, const char *region, const char *name,
                    const strata_ingest_opts *opts, strata_ingest_stats *stats, st_ingest **out);

/* Open the dataset, creating it (and its region) with the NCOLS columns COLS when it does not
 * exist; otherwise COLS must be exactly its columns (names, in any order, and dtypes).
 * ORDER[i] receives the schema position of COLS[i]. SOURCE names the input in messages
 * ("data.h5:/group"). STRATA_EINVAL / STRATA_ETYPE on a mismatch. */
int st_ingest_bind(st_ingest *g, const strata_column *cols, int ncols, const char *source,
                   int *order);

/* Append ROWS rows: BUFS[k] holds the values of schema column k (dtype of the column; strings:
 * ROWS+1 offsets and their bytes; nulls as st_colbuf says). BYTES_READ, the input consumed so
 * far, is reported to the progress callback. */
int st_ingest_feed(st_ingest *g, st_colbuf *bufs, uint64_t rows, uint64_t bytes_read);

/* End a unit of input (see above). */
int st_ingest_unit_done(st_ingest *g);

/* Count FILES input files (for the statistics); announce TOTAL bytes of input (for progress;
 * under 2 MiB, the call reads it on one thread: st_ingest_threads()). */
void st_ingest_files(st_ingest *g, uint64_t files);
void st_ingest_total(st_ingest *g, uint64_t total);
/* The threads for the call's input: its options', or one for a small input. */
int st_ingest_threads(const st_ingest *g);

/* The call's options (defaults filled in) and error slot. */
const strata_ingest_opts *st_ingest_opts(const st_ingest *g);
st_err *st_ingest_err(const st_ingest *g);

/* Spread the call over the processes of CM (NULL or one process: not spread; CM outlives G).
 * Each process reads its share of the input and writes its batches; process 0 opens or creates
 * the dataset (binding the first source's columns) before the others bind theirs: it binds, then
 * every process calls st_ingest_spread_ready() with how that went (the others with STRATA_OK),
 * which locks the dataset on process 0 and opens it on the others. st_ingest_end() is then
 * collective: process 0 publishes every process's batches in rank order, or nothing. */
void st_ingest_spread(st_ingest *g, const st_comm *cm);
int st_ingest_spread_ready(st_ingest *g, int rc);

/* Finish the call begun by st_ingest_begin() with status RC: publish (RC == STRATA_OK) or undo
 * everything; the message of the first failure is kept. Returns the final status; frees G. */
int st_ingest_end(st_ingest *g, int rc);

#endif /* STRATA_INGEST_H */
