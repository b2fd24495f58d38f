/*
 * arrow_ipc_io.c -- Arrow IPC files (Feather v2) in and out of datasets.
 *
 * In: each file's record batches become batches through the Arrow stream importer (arrow_c.c),
 * the reader (src/format/arrow_ipc) serving them as a stream: buffers straight from the mapped
 * file where it can. All files of a call are published as one version, or nothing.
 * Out: the snapshot's Arrow stream (zero-copy views of the batch files) written by the IPC
 * writer into a temporary file renamed when complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/arrow_ipc.h"
#include "interop/interop_int.h"

/* An IPC file served as an ArrowArrayStream. */
typedef struct {
    st_ipc_reader *r;
    int next;
} ipcstream;

static int ipc_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    ipcstream *s = st->private_data;
    return st_ipc_schema(s->r, out) == STRATA_OK ? 0 : ENOMEM;
}

static int ipc_get_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    ipcstream *s = st->private_data;
    memset(out, 0, sizeof *out);
    if (s->next >= st_ipc_nbatches(s->r)) return 0;
    int rc = st_ipc_batch(s->r, s->next++, out);
    return rc == STRATA_OK ? 0 : rc == STRATA_ENOMEM ? ENOMEM : EIO;
}

static const char *ipc_get_error(struct ArrowArrayStream *st)
{
    (void)st;
    return NULL; /* the reader's messages are in the pool's error slot */
}

static void ipc_release(struct ArrowArrayStream *st)
{
    st->release = NULL;
}

static int ingest_file(st_ingest *g, const char *path, uint64_t *done)
{
    st_err *err = st_ingest_err(g);
    st_infile in;
    ipcstream s = {0};
    int rc = st_infile_map(err, path, &in);
    if (rc == STRATA_OK) rc = st_ipc_open(err, in.data ? in.data : "", in.size, path, &s.r);
    if (rc == STRATA_OK) {
        struct ArrowArrayStream st = {ipc_get_schema, ipc_get_next, ipc_get_error, ipc_release, &s};
        rc = st_arrow_import(g, &st, path, *done);
    }
    *done += in.size;
    if (rc == STRATA_OK) st_ingest_files(g, 1);
    st_ipc_close(s.r);
    st_infile_unmap(&in);
    return st_input_damaged(err, "an Arrow IPC file", rc);
}

int strata_ingest_arrow(strata_pool *pool, const char *region, const char *name,
                        const char *const *files, int nfiles, const strata_ingest_opts *opts,
                        strata_ingest_stats *stats)
{
    return st_ingest_each_file(pool, region, name, files, nfiles, opts, stats, ingest_file);
}

int strata_export_arrow(strata_snapshot *s, const int *cols, int ncols, const char *path)
{
    if (s == NULL || path == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    struct ArrowArrayStream st = {0};
    struct ArrowSchema sc = {0};
    st_ipc_writer *w = NULL;
    st_outfile out = {.w = {.fd = -1}};
    int rc = strata_snapshot_arrow_stream(s, cols, ncols, &st);
    if (rc < 0) return rc;
    if (st.get_schema(&st, &sc) != 0) rc = st_error(err, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) rc = st_outfile_open(err, &out, path);
    if (rc == STRATA_OK) rc = st_ipc_writer_open(err, &sc, st_outfile_write, &out, &w);
    strata_dataset_desc d;
    uint64_t done = 0;
    strata_snapshot_info(s, &d);
    while (rc == STRATA_OK) {
        st_pool_work(st_snapshot_pool(s), "batches", done++, d.nbatches, "export %s/%s", d.region,
                     d.name);
        struct ArrowArray a;
        if (st.get_next(&st, &a) != 0) {
            const char *e = st.get_last_error(&st);
            rc = st_error(err, STRATA_EIO, "%s", e ? e : "cannot read the snapshot");
            break;
        }
        if (a.release == NULL) break;
        rc = st_ipc_writer_write(w, &a);
        a.release(&a);
    }
    if (rc == STRATA_OK)
        st_pool_work(st_snapshot_pool(s), "batches", d.nbatches, d.nbatches, "export %s/%s",
                     d.region, d.name);
    if (w != NULL) {
        int c = rc == STRATA_OK ? st_ipc_writer_close(w) : STRATA_OK;
        if (rc != STRATA_OK) st_ipc_writer_free(w);
        rc = rc == STRATA_OK ? c : rc;
    }
    if (rc == STRATA_OK) rc = st_outfile_publish(&out);
    st_outfile_abort(&out);
    if (sc.release != NULL) sc.release(&sc);
    st.release(&st);
    return rc;
}
