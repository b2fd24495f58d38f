/*
 * ingest.h -- the ingest layer's interface for the layers above it: the machinery of one ingest
 * call, which the format readers of src/interop drive as strata_ingest_csv and
 * strata_ingest_npy do.
 *
 * One call: st_ingest_start(); st_ingest_dataset() opens the dataset or creates it (and its
 * region) from the reader's columns; st_ingest_feed() appends rows, given as column buffers in
 * the dataset's schema order, splitting them into batches at opts->batch_rows;
 * st_ingest_unit_done() ends what the reader calls a unit (a file, a row group): its batch is
 * committed when batch_rows is 0 (one batch per unit, even of zero rows) or when it holds rows;
 * st_ingest_finish() publishes every batch of the call as one version, or on failure publishes
 * nothing and drops a dataset the call created.
 */
#ifndef STRATA_INGEST_H
#define STRATA_INGEST_H

#include "ingest/csv.h"
#include "store/store.h"

typedef struct st_ingest st_ingest;

/* Start ingesting into REGION/NAME (names checked). OPTS and STATS may be NULL. On failure
 * *OUT is NULL and nothing is left to finish. */
int st_ingest_start(strata_pool *pool, const char *region, const char *name,
                    const strata_ingest_opts *opts, strata_ingest_stats *stats, st_ingest **out);

/* Open the dataset, or create it with the NCOLS columns COLS when it does not exist; *SCHEMA
 * (may be NULL) receives its schema, which the buffers fed must follow. */
int st_ingest_dataset(st_ingest *g, const strata_column *cols, int ncols, const st_schema **schema);

/* Append ROWS rows of COLS (one buffer per column of the schema). */
int st_ingest_feed(st_ingest *g, st_colbuf *cols, uint64_t rows);

/* End a unit of input (see above). */
int st_ingest_unit_done(st_ingest *g);

/* Progress: BYTES of TOTAL read so far (TOTAL 0: unknown, keep the last), FILES done. */
void st_ingest_progress(st_ingest *g, uint64_t bytes, uint64_t total, uint64_t files);

/* The call's options (defaults filled in), error slot and target. */
const strata_ingest_opts *st_ingest_opts(const st_ingest *g);
st_err *st_ingest_err(const st_ingest *g);
const char *st_ingest_region(const st_ingest *g);
const char *st_ingest_name(const st_ingest *g);

/* Publish or undo (RC: the call's status so far) and free G; returns the call's status. */
int st_ingest_finish(st_ingest *g, int rc);

#endif /* STRATA_INGEST_H */
