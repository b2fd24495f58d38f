/*
 * files.c -- input files mapped whole and output files published whole (interop_int.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interop/interop_int.h"

int st_infile_map(st_err *err, const char *path, st_infile *in)
{
    memset(in, 0, sizeof *in);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? st_error(err, STRATA_ENOTFOUND, "file '%s' not found", path)
                               : st_error_errno(err, errno, "cannot open '%s'", path);
    struct stat sb;
    int rc = STRATA_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = st_error(err, STRATA_EINVAL, "'%s' is not a regular file", path);
    } else if (sb.st_size > 0) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = st_error_errno(err, errno, "cannot map '%s'", path);
        } else {
            in->data = m;
            in->size = (size_t)sb.st_size;
        }
    }
    close(fd);
    return rc;
}

void st_infile_unmap(st_infile *in)
{
    st_unmap_file((void *)(uintptr_t)in->data, in->size);
    memset(in, 0, sizeof *in);
}

/* RC, the pool's message naming the file the export makes as well as its temporary one. */
static int outfile_failed(st_outfile *o, int rc)
{
    if (rc >= 0) return rc;
    char keep[ST_ERRMSG_MAX];
    st_err_copy(o->err, keep, sizeof keep);
    return st_error(o->err, rc, "%s (exporting to '%s/%s')", keep, o->dir, o->name);
}

int st_outfile_open(st_err *err, st_outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->err = err;
    o->w.fd = -1;
    char a[ST_PATH_MAX], b[ST_PATH_MAX];
    int rc = st_path(err, a, "%s", path);
    if (rc == STRATA_OK) rc = st_path(err, b, "%s", path);
    if (rc < 0) return rc;
    snprintf(o->dir, sizeof o->dir, "%s", dirname(a));
    snprintf(o->name, sizeof o->name, "%s", basename(b));
    return outfile_failed(o, st_wfile_open(err, &o->w, o->dir));
}

int st_outfile_write(void *ctx, const void *buf, size_t len)
{
    st_outfile *o = ctx;
    int rc = st_pwrite_full(o->err, o->w.fd, buf, len, o->off, o->w.tmp);
    o->off += len;
    return outfile_failed(o, rc);
}

int st_outfile_publish(st_outfile *o)
{
    int rc = st_wfile_publish(o->err, &o->w, o->dir, o->name);
    return outfile_failed(o, rc < 0 ? rc : st_fsync_dir(o->err, o->dir));
}

void st_outfile_abort(st_outfile *o)
{
    st_wfile_abort(&o->w);
}

int st_export_columns(st_err *err, const strata_dataset_desc *d, const int *cols, int nc, int **out,
                      int *nout)
{
    if (cols != NULL && nc < 1) return st_error(err, STRATA_EINVAL, "no columns to export");
    int n = cols != NULL ? nc : d->ncols;
    if ((*out = malloc((size_t)n * sizeof **out + 1)) == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        (*out)[i] = cols != NULL ? cols[i] : i;
        if ((*out)[i] < 0 || (*out)[i] >= d->ncols)
            return st_error(err, STRATA_ERANGE, "column index %d is out of range", (*out)[i]);
    }
    *nout = n;
    return STRATA_OK;
}

int st_input_damaged(st_err *err, const char *kind, int rc)
{
    if (rc != STRATA_ECORRUPT) return rc;
    char keep[ST_ERRMSG_MAX];
    st_err_copy(err, keep, sizeof keep);
    return st_error(err, STRATA_EINVAL, "%s (the file is damaged or not %s)", keep, kind);
}

int st_ingest_each_file(strata_pool *pool, const char *region, const char *name,
                        const char *const *files, int nfiles, const strata_ingest_opts *opts,
                        strata_ingest_stats *stats, st_ingest_file_fn fn)
{
    st_ingest *g;
    int rc = st_ingest_begin(pool, region, name, opts, stats, &g);
    if (rc < 0) return rc;
    if (files == NULL || nfiles < 1)
        return st_ingest_end(g, st_error(st_ingest_err(g), STRATA_EINVAL, "no files to ingest"));
    uint64_t total = 0, done = 0;
    for (int i = 0; i < nfiles; i++) {
        struct stat sb;
        if (stat(files[i], &sb) == 0) total += (uint64_t)sb.st_size;
    }
    st_ingest_total(g, total);
    for (int i = 0; i < nfiles && rc == STRATA_OK; i++) rc = fn(g, files[i], &done);
    return st_ingest_end(g, rc);
}
