/*
 * interop_int.h -- what the format connectors of src/interop share: input files mapped whole,
 * output files written under a temporary name and renamed when complete, and the Arrow stream
 * importer. Private to src/interop.
 */
#ifndef STRATA_INTEROP_INT_H
#define STRATA_INTEROP_INT_H

#include "ingest/ingest.h"
#include "store/store.h"
#include "util/fileio.h"

/* An input file mapped read-only (an empty file maps to no memory). */
typedef struct {
    const void *data;
    size_t size;
} st_infile;

int st_infile_map(st_err *err, const char *path, st_infile *in);
void st_infile_unmap(st_infile *in);

/* A damaged input file is bad input (exit 3), not damage to the pool: RC STRATA_ECORRUPT from a
 * codec becomes STRATA_EINVAL, its message kept and KIND named ("Parquet"); other RC pass. */
int st_input_damaged(st_err *err, const char *kind, int rc);

/* The columns an export writes: COLS[NC], or every column of D when COLS is NULL, checked;
 * *OUT: free() (also on failure). STRATA_EINVAL (no columns), STRATA_ERANGE, STRATA_ENOMEM. */
int st_export_columns(st_err *err, const strata_dataset_desc *d, const int *cols, int nc, int **out,
                      int *nout);

/* An output file: written as DIR/.tmp-TOKEN through st_outfile_write (a codec's write
 * callback), then made durable and renamed to PATH by st_outfile_publish; st_outfile_abort
 * removes what is left (a no-op after a publish). */
typedef struct {
    st_err *err;
    st_wfile w;
    uint64_t off;
    char dir[ST_PATH_MAX], name[ST_PATH_MAX];
} st_outfile;

int st_outfile_open(st_err *err, st_outfile *o, const char *path);
int st_outfile_write(void *ctx, const void *buf, size_t len);
int st_outfile_publish(st_outfile *o);
void st_outfile_abort(st_outfile *o);

/* One ingest call over the NFILES FILES: FN(G, FILE, DONE) reads each (DONE: the bytes of the
 * files before it, which FN advances), progress counted against their total size; all
 * published together or nothing. */
typedef int (*st_ingest_file_fn)(st_ingest *g, const char *path, uint64_t *done);
int st_ingest_each_file(strata_pool *pool, const char *region, const char *name,
                        const char *const *files, int nfiles, const strata_ingest_opts *opts,
                        strata_ingest_stats *stats, st_ingest_file_fn fn);

/* Append the arrays of STREAM (not released here) to G, one batch each; SOURCE names it in
 * messages, BYTES_READ is the input read before it (progress). */
int st_arrow_import(st_ingest *g, struct ArrowArrayStream *stream, const char *source,
                    uint64_t bytes_read);

#endif /* STRATA_INTEROP_INT_H */
