/*
 * stream.c -- bodies of any size in bounded memory: a whole column (raw or NPY) and a raw N-d
 * array region are sent as the client reads them, SRV_STREAM_BUF bytes at a time, each stream
 * with a pool handle of its own (so that a slow reader never holds one a request is waiting
 * for). At most max_streams at once, max_streams_per_client per client address.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

/* ---- the streams' pool handles -------------------------------------------------------------- */

/* Borrow a pool handle for a stream of CLIENT into *OUT: 0, or 1 when CLIENT has
 * max_streams_per_client streams already, 2 when all max_streams are taken, a negative strata
 * status when the pool cannot be opened (a message in ERR). */
static int stream_pool_get(srv *s, const char *client, strata_pool **out, char *err, size_t len)
{
    if (client == NULL) client = "";
    int mine = 0, slot = -1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->max_streams && i < SRV_MAX_STREAMS; i++) {
        if (!s->stream_busy[i])
            slot = slot < 0 ? i : slot;
        else if (strcmp(s->stream_client[i], client) == 0)
            mine++;
    }
    int rc = mine >= s->max_streams_per_client ? 1 : slot < 0 ? 2 : 0;
    if (rc == 0) {
        s->stream_busy[slot] = 1;
        snprintf(s->stream_client[slot], sizeof s->stream_client[slot], "%s", client);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) return rc;
    /* opened on first use, then kept */
    if (s->stream_handles[slot] == NULL) {
        strata_pool *p;
        rc = strata_pool_open_err(s->pool_path, &p, err, len);
        pthread_mutex_lock(&s->mu);
        if (rc == STRATA_OK)
            s->stream_handles[slot] = p;
        else
            s->stream_busy[slot] = 0;
        pthread_mutex_unlock(&s->mu);
        if (rc < 0) return rc;
    }
    *out = s->stream_handles[slot];
    return 0;
}

static void stream_pool_put(srv *s, strata_pool *p)
{
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < SRV_MAX_STREAMS; i++)
        if (s->stream_handles[i] == p) s->stream_busy[i] = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Borrow a handle for a stream of Q's client into *OUT, or set R to why not: -1. */
static int stream_begin(srv *s, const srv_req *q, strata_pool **out, srv_reply *r)
{
    char err[512] = "";
    int rc = stream_pool_get(s, q->client, out, err, sizeof err);
    if (rc == 1 || rc == 2) {
        srv_error(r, 503, "EBUSY",
                  rc == 1 ? "this client address has %d downloads running already, its limit; "
                            "retry when one is done"
                          : "the server sends %d downloads already, its limit; retry shortly",
                  rc == 1 ? s->max_streams_per_client : s->max_streams);
        r->retry_after = 5;
        return -1;
    }
    if (rc < 0) {
        srv_error(r, 500, "EIO", "cannot open the pool for a download: %s", err);
        return -1;
    }
    return 0;
}

/* ---- a column ------------------------------------------------------------------------------- */

typedef struct column_stream {
    srv_stream base;
    srv *s;
    strata_pool *pool;
    strata_snapshot *snap;
    int col;
    size_t esz;
    uint64_t nrows;
    char head[128]; /* the NPY header, HDR bytes (0: raw) */
    size_t hdr;
    char *buf; /* rows [row0, row0 + nbuf) */
    uint64_t row0, nbuf;
} column_stream;

static long column_read(srv_stream *st, uint64_t pos, char *out, size_t max)
{
    column_stream *c = (column_stream *)st;
    if (pos < c->hdr) {
        size_t n = c->hdr - (size_t)pos < max ? c->hdr - (size_t)pos : max;
        memcpy(out, c->head + pos, n);
        return (long)n;
    }
    uint64_t off = pos - c->hdr, row = off / c->esz;
    if (row >= c->nrows) return -1;
    if (row < c->row0 || row >= c->row0 + c->nbuf) {
        uint64_t n = SRV_STREAM_BUF / c->esz;
        if (n > c->nrows - row) n = c->nrows - row;
        if (strata_snapshot_read(c->snap, c->col, row, n, c->buf) < 0) {
            fprintf(stderr, "strata serve: a column download stopped at row %" PRIu64 ": %s\n", row,
                    strata_errmsg(c->pool));
            return -1;
        }
        c->row0 = row;
        c->nbuf = n;
    }
    uint64_t at = off - c->row0 * c->esz, have = c->nbuf * c->esz - at;
    size_t n = have < max ? (size_t)have : max;
    memcpy(out, c->buf + at, n);
    return (long)n;
}

static void column_free(srv_stream *st)
{
    column_stream *c = (column_stream *)st;
    strata_snapshot_close(c->snap);
    stream_pool_put(c->s, c->pool);
    free(c->buf);
    free(c);
}

void srv_stream_column(srv *s, const srv_req *q, const char *region, const char *name,
                       int64_t version, int col, int npy, srv_reply *r)
{
    column_stream *c = calloc(1, sizeof *c);
    char *buf = malloc(SRV_STREAM_BUF);
    if (c == NULL || buf == NULL) {
        free(c);
        free(buf);
        srv_error(r, 500, "ENOMEM", "out of memory for a download");
        return;
    }
    c->buf = buf;
    c->s = s;
    if (stream_begin(s, q, &c->pool, r) < 0) {
        free(c->buf);
        free(c);
        return;
    }
    strata_dataset_desc d;
    int rc = strata_snapshot_open(c->pool, region, name, version, &c->snap);
    if (rc == STRATA_OK) rc = strata_snapshot_info(c->snap, &d);
    if (rc < 0) {
        srv_fail(r, c->pool, rc);
        column_free(&c->base);
        return;
    }
    strata_dtype t = d.columns[col].dtype;
    c->col = col;
    c->esz = strata_dtype_size(t);
    c->nrows = d.nrows;
    if (npy) {
        static const char *const descr[] = {"|i1", "<i2", "<i4", "<i8", "|u1", "<u2",
                                            "<u4", "<u8", "<f4", "<f8", "|b1"};
        int n = snprintf(c->head + 10, sizeof c->head - 10,
                         "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRIu64 ",), }",
                         descr[t], d.nrows);
        size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
        memset(c->head + 10 + n, ' ', pad);
        c->head[10 + n + pad] = '\n';
        c->hdr = total + pad;
        memcpy(c->head, "\x93NUMPY\x01\x00", 8);
        c->head[8] = (char)((c->hdr - 10) & 0xff);
        c->head[9] = (char)((c->hdr - 10) >> 8);
    }
    c->base.size = c->hdr + d.nrows * c->esz;
    c->base.read = column_read;
    c->base.free = column_free;
    r->stream = &c->base;
    r->type = "application/octet-stream";
    r->status = 200;
}

/* ---- an N-d array region -------------------------------------------------------------------- */

/* A region is sent in slabs of at most SRV_STREAM_BUF bytes, each a run of the region in C order:
 * 1 in the dimensions before K, up to STEP in K, whole after K. */
typedef struct region_stream {
    srv_stream base;
    srv *s;
    strata_pool *pool;
    strata_ndarray *a;
    int ndims, k;
    uint64_t start[STRATA_ND_MAXDIMS], count[STRATA_ND_MAXDIMS], step;
    size_t esz;
    int64_t version; /* the array's, checked after each slab when there are several */
    int several;
    uint64_t at[STRATA_ND_MAXDIMS]; /* the next slab, relative to START */
    int done;
    char *buf; /* the slab at body position [slab_pos, slab_pos + slab_len) */
    uint64_t slab_pos, slab_len;
} region_stream;

/* Read the next slab into the buffer; -1 on an error or when the array changed meanwhile. */
static int region_next(region_stream *g)
{
    uint64_t sstart[STRATA_ND_MAXDIMS], scount[STRATA_ND_MAXDIMS], elems = 1;
    for (int d = 0; d < g->ndims; d++) {
        sstart[d] = g->start[d] + g->at[d];
        scount[d] = d < g->k ? 1 : d == g->k ? g->count[d] - g->at[d] : g->count[d];
        if (d == g->k && scount[d] > g->step) scount[d] = g->step;
        elems *= scount[d];
    }
    int rc = strata_ndarray_read(g->a, sstart, scount, g->buf);
    strata_ndarray_desc d;
    if (rc == STRATA_OK && g->several && (rc = strata_ndarray_info(g->a, &d)) == STRATA_OK &&
        d.version != g->version) {
        fprintf(stderr,
                "strata serve: a region download stopped: the array was written meanwhile "
                "(version %" PRId64 " -> %" PRId64 ")\n",
                g->version, d.version);
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "strata serve: a region download stopped: %s\n", strata_errmsg(g->pool));
        return -1;
    }
    g->slab_pos += g->slab_len;
    g->slab_len = elems * g->esz;
    /* the slab after: advance K by the step, then carry into the dimensions before it */
    int k = g->k;
    g->at[k] += scount[k];
    while (k > 0 && g->at[k] >= g->count[k]) {
        g->at[k] = 0;
        g->at[--k]++;
    }
    if (g->at[k] >= g->count[k]) g->done = 1;
    return 0;
}

static long region_read(srv_stream *st, uint64_t pos, char *out, size_t max)
{
    region_stream *g = (region_stream *)st;
    while (pos >= g->slab_pos + g->slab_len) {
        if (g->done || region_next(g) < 0) return -1;
    }
    if (pos < g->slab_pos) return -1; /* never: the body is read in order */
    uint64_t at = pos - g->slab_pos, have = g->slab_len - at;
    size_t n = have < max ? (size_t)have : max;
    memcpy(out, g->buf + at, n);
    return (long)n;
}

static void region_free(srv_stream *st)
{
    region_stream *g = (region_stream *)st;
    strata_ndarray_close(g->a);
    stream_pool_put(g->s, g->pool);
    free(g->buf);
    free(g);
}

void srv_stream_region(srv *s, const srv_req *q, const char *region, const char *name, int ndims,
                       const uint64_t *start, const uint64_t *count, srv_reply *r)
{
    region_stream *g = calloc(1, sizeof *g);
    char *buf = malloc(SRV_STREAM_BUF);
    if (g == NULL || buf == NULL) {
        free(g);
        free(buf);
        srv_error(r, 500, "ENOMEM", "out of memory for a download");
        return;
    }
    g->buf = buf;
    g->s = s;
    if (stream_begin(s, q, &g->pool, r) < 0) {
        free(g->buf);
        free(g);
        return;
    }
    strata_ndarray_desc d;
    int rc = strata_ndarray_open(g->pool, region, name, NULL, &g->a);
    if (rc == STRATA_OK) rc = strata_ndarray_info(g->a, &d);
    if (rc == STRATA_OK && d.ndims != ndims) rc = STRATA_ECONFLICT;
    if (rc < 0) {
        srv_fail(r, g->pool, rc);
        region_free(&g->base);
        return;
    }
    g->ndims = ndims;
    g->esz = strata_dtype_size(d.dtype);
    g->version = d.version;
    memcpy(g->start, start, (size_t)ndims * sizeof *start);
    memcpy(g->count, count, (size_t)ndims * sizeof *count);
    /* the slabs: the first dimension K whose inner extent fits, stepped by what fits */
    uint64_t inner = g->esz, total = g->esz;
    g->k = ndims - 1;
    for (int k = ndims - 1; k > 0 && inner * count[k] <= SRV_STREAM_BUF; k--) {
        inner *= count[k];
        g->k = k - 1;
    }
    g->step = SRV_STREAM_BUF / inner ? SRV_STREAM_BUF / inner : 1;
    for (int k = 0; k < ndims; k++) total *= count[k];
    g->several = total > SRV_STREAM_BUF;
    g->base.size = total;
    g->base.read = region_read;
    g->base.free = region_free;
    r->stream = &g->base;
    r->type = "application/octet-stream";
    r->status = 200;
}

/* ---- a dataset as a Parquet or Arrow file ------------------------------------------------------
 */

/* The file is written by the library's export into a scratch file of the system's temporary
 * folder (never the pool: a read-only server writes nothing there), unlinked at once, and sent
 * from its descriptor: the server's memory stays bounded, and the file is gone when the download
 * ends, sent or not. */
typedef struct file_stream {
    srv_stream base;
    srv *s;
    strata_pool *pool;
    int fd;
} file_stream;

static long file_read(srv_stream *st, uint64_t pos, char *out, size_t max)
{
    file_stream *f = (file_stream *)st;
    ssize_t n = pread(f->fd, out, max, (off_t)pos);
    return n > 0 ? (long)n : -1;
}

static void file_free(srv_stream *st)
{
    file_stream *f = (file_stream *)st;
    if (f->fd >= 0) close(f->fd);
    stream_pool_put(f->s, f->pool);
    free(f);
}

void srv_stream_export(srv *s, const srv_req *q, const char *region, const char *name,
                       int64_t version, const int *cols, int ncols, int arrow, srv_reply *r)
{
    file_stream *f = calloc(1, sizeof *f);
    if (f == NULL) {
        srv_error(r, 500, "ENOMEM", "out of memory for a download");
        return;
    }
    f->s = s;
    f->fd = -1;
    if (stream_begin(s, q, &f->pool, r) < 0) {
        free(f);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    /* mkstemp's template: it replaces the six X with a unique name and creates the file */
    snprintf(path, sizeof path, "%s/strata-export-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    strata_snapshot *snap = NULL;
    int rc = fd < 0 ? STRATA_EIO : strata_snapshot_open(f->pool, region, name, version, &snap);
    if (fd >= 0) close(fd); /* the export writes the file under its name anew */
    if (rc == STRATA_OK)
        rc = arrow ? strata_export_arrow(snap, cols, ncols, path)
                   : strata_export_parquet(snap, cols, ncols, path, NULL);
    strata_snapshot_close(snap);
    struct stat st;
    if (rc == STRATA_OK &&
        ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &st) < 0))
        rc = STRATA_EIO;
    if (fd >= 0) unlink(path);
    if (rc < 0) {
        if (fd < 0)
            srv_error(r, 500, "EIO", "cannot make a scratch file in %s for the download",
                      tmp && *tmp ? tmp : "/tmp");
        else
            srv_fail(r, f->pool, rc);
        file_free(&f->base);
        return;
    }
    f->base.size = (uint64_t)st.st_size;
    f->base.read = file_read;
    f->base.free = file_free;
    r->stream = &f->base;
    r->type = arrow ? "application/vnd.apache.arrow.file" : "application/vnd.apache.parquet";
    r->status = 200;
}
