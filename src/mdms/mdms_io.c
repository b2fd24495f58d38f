/*
 * mdms_io.c -- moving the pieces of an association's datasets to and from their files, as the
 * planner chose: one request per run (contiguous, independent), covering reads (sieve),
 * two-phase collective MPI-IO on a darray view (collective), or one process per chunk file
 * with an in-memory exchange (chunked); the prefetch of the next iteration; statistics.
 *
 * A save writes new files (an N-d array DATASET.rRUN.iITERATION of the application's region),
 * makes them durable on every process, and only then does rank 0 publish the array, its chunks
 * and the execution row in one catalog transaction: a process killed before that leaves orphans
 * and no trace in the catalog.
 *
 * Errors here keep the chained form `if (rc == STRATA_OK) rc = ...; rc = st_mdms_agree(m, rc);`,
 * not ST_TRY: every rank must reach every collective call (st_mdms_agree, MPI_*) in the same order,
 * so a rank whose local step failed must not jump over them to an exit label.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "mdms/mdms_int.h"
#include "ndarray/ndarray.h"
#include "util/chunkfile.h"
#include "util/dtype.h"
#include "util/fileio.h"
#include "util/npy.h"

static int mpi_on(const strata_mdms *m)
{
#ifdef STRATA_HAVE_MPI
    return m->size > 1;
#else
    (void)m;
    return 0;
#endif
}

/* ---- I/O events ------------------------------------------------------------------------------ */

void st_mdms_events_flush(strata_mdms *m)
{
    if (m->events.n == 0) return;
    /* statistics only: a failure to record them does not fail the I/O */
    st_cat_io_events(NULL, st_pool_cat(m->pool), m->events.v, m->events.n);
    m->events.n = 0;
}

void st_mdms_event(strata_mdms *m, int64_t run, const char *dataset, int64_t iteration,
                   const char *op, const char *strategy, uint64_t requests, uint64_t bytes,
                   double seconds)
{
    if (m->rank != 0) return;
    st_cat_ioev *e = st_vec_push(&m->events);
    if (e == NULL) return;
    memset(e, 0, sizeof *e);
    e->run_id = run;
    e->iteration = iteration;
    snprintf(e->dataset, sizeof e->dataset, "%s", dataset);
    snprintf(e->op, sizeof e->op, "%s", op);
    snprintf(e->strategy, sizeof e->strategy, "%s", strategy);
    e->nprocs = m->size;
    e->requests = requests;
    e->bytes = bytes;
    e->seconds = seconds;
    e->at_ns = st_now_ns();
    if (strcmp(op, "save") == 0 || m->events.n >= ST_EVENTS_MAX) st_mdms_events_flush(m);
}

/* ---- sources -------------------------------------------------------------------------------- */

static void source_free(st_source *s)
{
    free(s->idx);
    free(s->paths);
    free(s->blob);
    memset(s, 0, sizeof *s);
}

/* Rank 0: the files of (NAME, ITERATION), archive chunks prestaged to the default tier. */
static int resolve_local(strata_assoc *as, const char *name, int64_t iteration, st_source *src)
{
    strata_pool *pool = as->m->pool;
    st_err *err = st_pool_err(pool);
    char an[STRATA_NAME_MAX + 1];
    st_cat_execrow e;
    int rc = st_cat_exec_get(err, st_pool_cat(pool), as->run, name, iteration, &e);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc,
                        "iteration %" PRId64 " of dataset '%s' of run %" PRId64 " of '%s' was "
                        "never saved (or its save did not finish); strata find %s --dataset %s "
                        "lists what is there",
                        iteration, name, as->run, as->m->app, as->m->app, name);
    if (rc < 0) return rc;
    st_mdms_array_name(an, sizeof an, name, as->run, iteration);
    rc = st_cat_nd_get(err, st_pool_cat(pool), as->m->app, an, &src->rec);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, STRATA_ECORRUPT,
                        "the N-d array '%s/%s' of iteration %" PRId64 " of '%s' is gone (was it "
                        "deleted by hand?)",
                        as->m->app, an, iteration, name);
    if (rc < 0) return rc;
    if (src->rec.ndims != as->ndims || src->rec.dtype != (int)as->dtype ||
        memcmp(src->rec.dims, as->dims, (size_t)as->ndims * sizeof *as->dims) != 0)
        return st_error(err, STRATA_ETYPE,
                        "'%s/%s' no longer has the association's dtype and shape", as->m->app, an);
    st_vec chunks = ST_VEC(st_cat_chunk);
    rc = st_cat_nd_chunks(err, st_pool_cat(pool), src->rec.id, 0, INT64_MAX, st_nd_push_chunk,
                          &chunks);
    st_ndctx x;
    st_ndctx_init(&x, pool);
    size_t cap = 0;
    if (rc == STRATA_OK) {
        src->nfiles = (int)chunks.n;
        src->idx = calloc(chunks.n + 1, sizeof *src->idx);
        cap = (chunks.n + 1) * 128; /* grown below when paths are longer */
        src->blob = malloc(cap);
        if (src->idx == NULL || src->blob == NULL)
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == STRATA_OK && i < chunks.n; i++) {
        st_cat_chunk *c = &((st_cat_chunk *)chunks.v)[i];
        int64_t tier = c->staged_tier ? c->staged_tier : c->tier_id;
        char file[ST_CAT_FILE], dir[ST_PATH_MAX];
        snprintf(file, sizeof file, "%s", c->staged_tier ? c->staged_file : c->file);
        if (!c->staged_tier) {
            int arch = st_nd_tier_is_archive(&x, c->tier_id);
            if (arch < 0) rc = arch;
            if (arch > 0) {
                rc = st_nd_stage_chunk(&x, &src->rec, c, ST_TIER_DEFAULT_ID, file);
                tier = ST_TIER_DEFAULT_ID;
                src->staged = 1;
            }
        }
        if (rc == STRATA_OK) rc = st_nd_dir(&x, &src->rec, tier, 0, dir);
        if (rc == STRATA_OK && i == 0) {
            /* the cost model reads the tier the first file is read from */
            st_cat_tier t;
            rc = st_cat_tier_get_id(err, st_pool_cat(pool), tier, &t);
            src->latency = t.latency;
            src->bw = t.read_bw;
        }
        if (rc == STRATA_OK && cap - src->bloblen < 2 * ST_PATH_MAX) {
            char *g = realloc(src->blob, cap * 2 + 2 * ST_PATH_MAX);
            if (g == NULL)
                rc = st_error(err, STRATA_ENOMEM, "out of memory");
            else {
                src->blob = g;
                cap = cap * 2 + 2 * ST_PATH_MAX;
            }
        }
        if (rc == STRATA_OK) {
            int w = snprintf(src->blob + src->bloblen, cap - src->bloblen, "%s/%s", dir, file);
            src->idx[i] = c->idx;
            src->bloblen += (size_t)w + 1;
        }
    }
    st_vec_free(&chunks);
    if (rc == STRATA_OK && src->rec.layout != STRATA_LAYOUT_CHUNKED && src->nfiles == 1) {
        /* where the elements start */
        char head[4096];
        int fd = open(src->blob, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return st_error_errno(err, errno, "cannot open '%s'", src->blob);
        ssize_t got = pread(fd, head, sizeof head, 0);
        close(fd);
        st_npy_info info;
        rc = st_npy_parse_nd(err, head, got > 0 ? (size_t)got : 0, src->blob, &info);
        if (rc == STRATA_OK) src->data_offset = info.data_offset;
    }
    return rc;
}

/* Collective: rank 0 resolves, everyone gets the source. */
static int resolve(strata_assoc *as, const char *name, int64_t iteration, st_source *src)
{
    strata_mdms *m = as->m;
    memset(src, 0, sizeof *src);
    int rc = m->rank == 0 ? resolve_local(as, name, iteration, src) : STRATA_OK;
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        source_free(src);
        return rc;
    }
    struct {
        st_cat_nd rec;
        size_t data_offset, bloblen;
        int nfiles, staged;
        double latency, bw;
    } h = {src->rec,    src->data_offset, src->bloblen, src->nfiles,
           src->staged, src->latency,     src->bw};
    st_mdms_bcast(m, &h, sizeof h);
    if (m->rank != 0) {
        src->rec = h.rec;
        src->data_offset = h.data_offset;
        src->bloblen = h.bloblen;
        src->nfiles = h.nfiles;
        src->staged = h.staged;
        src->latency = h.latency;
        src->bw = h.bw;
        src->idx = calloc((size_t)h.nfiles + 1, sizeof *src->idx);
        src->blob = malloc(h.bloblen + 1);
        rc = src->idx && src->blob ? STRATA_OK
                                   : st_error(st_pool_err(m->pool), STRATA_ENOMEM, "out of memory");
    }
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK) {
        st_mdms_bcast(m, src->idx, (size_t)src->nfiles * sizeof *src->idx);
        st_mdms_bcast(m, src->blob, src->bloblen);
        src->paths = calloc((size_t)src->nfiles + 1, sizeof *src->paths);
        if (src->paths == NULL) rc = st_error(st_pool_err(m->pool), STRATA_ENOMEM, "out of memory");
        size_t off = 0;
        for (int i = 0; rc == STRATA_OK && i < src->nfiles; i++) {
            src->paths[i] = src->blob + off;
            off += strlen(src->blob + off) + 1;
        }
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) source_free(src);
    return rc;
}

/* ---- runs of a piece in a contiguous file ---------------------------------------------------- */

typedef struct runio {
    st_err *err;
    int fd;
    const char *path;
    size_t esz;
    uint64_t hdr; /* bytes before the first element */
    char *buf;    /* the local piece */
    int write;
    uint64_t requests, bytes;
    /* sieve: pending runs of the current window */
    int sieve;
    st_vec pend; /* st_seg: g = file element, l = buffer element, p = buffer stride, len */
    char *win;
    size_t wincap;
} runio;

/* Copy N elements between the file image at F and the piece at B (buffer stride S). */
static void run_copy(runio *r, char *f, uint64_t boff, uint64_t n, uint64_t s)
{
    char *b = r->buf + boff * r->esz;
    if (s == 1) {
        if (r->write)
            memcpy(f, b, n * r->esz);
        else
            memcpy(b, f, n * r->esz);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (r->write)
            memcpy(f + i * r->esz, b + i * s * r->esz, r->esz);
        else
            memcpy(b + i * s * r->esz, f + i * r->esz, r->esz);
    }
}

static int run_direct(runio *r, uint64_t foff, uint64_t boff, uint64_t n, uint64_t s)
{
    size_t bytes = n * r->esz;
    uint64_t off = r->hdr + foff * r->esz;
    char *tmp = r->buf + boff * r->esz;
    int rc;
    if (s != 1) {
        if (bytes > r->wincap) {
            char *g = realloc(r->win, bytes);
            if (g == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
            r->win = g;
            r->wincap = bytes;
        }
        tmp = r->win;
        if (r->write) run_copy(r, tmp, boff, n, s);
    }
    rc = r->write ? st_pwrite_full(r->err, r->fd, tmp, bytes, off, r->path)
                  : st_pread_full(r->err, r->fd, tmp, bytes, off, r->path);
    if (rc == STRATA_OK && s != 1 && !r->write) run_copy(r, tmp, boff, n, s);
    r->requests++;
    r->bytes += bytes;
    return rc;
}

static int sieve_flush(runio *r)
{
    if (r->pend.n == 0) return STRATA_OK;
    const st_seg *p = r->pend.v;
    uint64_t lo = p[0].g, hi = p[r->pend.n - 1].g + p[r->pend.n - 1].len;
    size_t bytes = (hi - lo) * r->esz;
    if (bytes > r->wincap) {
        char *g = realloc(r->win, bytes);
        if (g == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
        r->win = g;
        r->wincap = bytes;
    }
    int rc = st_pread_full(r->err, r->fd, r->win, bytes, r->hdr + lo * r->esz, r->path);
    r->requests++;
    r->bytes += bytes;
    for (size_t i = 0; rc == STRATA_OK && i < r->pend.n; i++)
        run_copy(r, r->win + (p[i].g - lo) * r->esz, p[i].l, p[i].len, p[i].p);
    r->pend.n = 0;
    return rc;
}

static int run_fn(void *ctx, uint64_t foff, uint64_t boff, uint64_t n, uint64_t s)
{
    runio *r = ctx;
    if (!r->sieve) return run_direct(r, foff, boff, n, s);
    /* a run alone larger than the window, or one that would stretch the window: flush */
    if (r->pend.n > 0) {
        const st_seg *first = r->pend.v;
        if ((foff + n - first->g) * r->esz > ST_SIEVE_MAX) {
            int rc = sieve_flush(r);
            if (rc < 0) return rc;
        }
    }
    if (n * r->esz > ST_SIEVE_MAX) return run_direct(r, foff, boff, n, s);
    st_seg *q = st_vec_push(&r->pend);
    if (q == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
    q->g = foff;
    q->l = boff;
    q->len = n;
    q->p = s;
    return STRATA_OK;
}

/* Read (or write) this process's piece of the contiguous file PATH with one request per run,
 * or (SIEVE) covering reads. */
static int piece_io(strata_assoc *as, const char *path, uint64_t hdr, int fortran, int sieve,
                    int write, void *buf, uint64_t *requests, uint64_t *bytes)
{
    st_err *err = st_pool_err(as->m->pool);
    int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return st_error_errno(err, errno, "cannot open '%s'", path);
    runio r = {err,  fd, path, as->esz, hdr, buf, write, 0, 0, sieve && !write, ST_VEC(st_seg),
               NULL, 0};
    int rc = st_piece_walk(err, &as->pat, as->dims, fortran, as->m->rank, run_fn, &r);
    if (rc == STRATA_OK && r.sieve) rc = sieve_flush(&r);
    if (rc == STRATA_OK && write) rc = st_fsync_fd(err, fd, path);
    close(fd);
    st_vec_free(&r.pend);
    free(r.win);
    *requests += r.requests;
    *bytes += r.bytes;
    return rc;
}

/* ---- collective MPI-IO ---------------------------------------------------------------------- */

/* Reorder a piece between C order (the caller's) and Fortran order (a darray view of a
 * column-major file). */
static void piece_transpose(strata_assoc *as, const char *src, char *dst, int to_fortran)
{
    int64_t cs[ST_ND_MAXDIMS], fs[ST_ND_MAXDIMS];
    st_nd_strides(as->ndims, as->local, 0, as->esz, cs);
    st_nd_strides(as->ndims, as->local, 1, as->esz, fs);
    if (to_fortran)
        st_nd_copy_box(as->ndims, as->local, as->esz, src, cs, dst, fs);
    else
        st_nd_copy_box(as->ndims, as->local, as->esz, src, fs, dst, cs);
}

#ifdef STRATA_HAVE_MPI
static int mpi_fail(st_err *err, int code, const char *what, const char *path)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return st_error(err, STRATA_EIO, "MPI-IO cannot %s '%s': %.*s", what, path, len, msg);
}

/* Collective read or write of every process's piece of the contiguous file PATH through a
 * darray view, with ROMIO's two-phase hints on. */
static int collective_io(strata_assoc *as, const char *path, uint64_t hdr, int fortran, int write,
                         void *buf)
{
    strata_mdms *m = as->m;
    st_err *err = st_pool_err(m->pool);
    const st_pattern *p = &as->pat;
    int gs[ST_ND_MAXDIMS], ds[ST_ND_MAXDIMS], da[ST_ND_MAXDIMS], ps[ST_ND_MAXDIMS];
    for (int d = 0; d < as->ndims; d++) {
        gs[d] = (int)as->dims[d];
        ps[d] = p->grid[d];
        ds[d] = p->kind[d] == ST_DIST_BLOCK    ? MPI_DISTRIBUTE_BLOCK
                : p->kind[d] == ST_DIST_CYCLIC ? MPI_DISTRIBUTE_CYCLIC
                                               : MPI_DISTRIBUTE_NONE;
        da[d] = p->kind[d] == ST_DIST_CYCLIC ? (int)p->k[d] : MPI_DISTRIBUTE_DFLT_DARG;
    }
    if (as->local_elems > (uint64_t)INT32_MAX)
        return st_error(err, STRATA_ERANGE,
                        "a piece of %" PRIu64 " elements is too large for one MPI-IO call; use "
                        "more processes",
                        as->local_elems);
    MPI_Datatype etype, ftype;
    MPI_Type_contiguous((int)as->esz, MPI_BYTE, &etype);
    MPI_Type_commit(&etype);
    MPI_Type_create_darray(m->size, m->rank, as->ndims, gs, ds, da, ps,
                           fortran ? MPI_ORDER_FORTRAN : MPI_ORDER_C, etype, &ftype);
    MPI_Type_commit(&ftype);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, write ? "romio_cb_write" : "romio_cb_read", "enable");
    char cb[32];
    snprintf(cb, sizeof cb, "%" PRIu64, p->request > 0 ? p->request : (uint64_t)16 << 20);
    MPI_Info_set(info, "cb_buffer_size", cb);
    char *mem = buf;
    int rc = STRATA_OK;
    if (fortran && as->local_elems > 0) {
        mem = st_alloc_big(as->local_elems * as->esz);
        if (mem == NULL)
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
        else if (write)
            piece_transpose(as, buf, mem, 1);
    }
    rc = st_mdms_agree(m, rc);
    MPI_File fh;
    int e = MPI_SUCCESS;
    if (rc == STRATA_OK) {
        e = MPI_File_open(m->comm, path, write ? MPI_MODE_WRONLY : MPI_MODE_RDONLY, info, &fh);
        if (e != MPI_SUCCESS) rc = mpi_fail(err, e, "open", path);
        rc = st_mdms_agree(m, rc);
        if (rc == STRATA_OK) {
            e = MPI_File_set_view(fh, (MPI_Offset)hdr, etype, ftype, "native", info);
            if (e == MPI_SUCCESS) {
                MPI_Status st;
                e = write ? MPI_File_write_all(fh, mem, (int)as->local_elems, etype, &st)
                          : MPI_File_read_all(fh, mem, (int)as->local_elems, etype, &st);
            }
            if (e == MPI_SUCCESS && write) e = MPI_File_sync(fh);
            if (e != MPI_SUCCESS) rc = mpi_fail(err, e, write ? "write" : "read", path);
            MPI_File_close(&fh);
        }
    }
    if (rc == STRATA_OK && fortran && !write && as->local_elems > 0)
        piece_transpose(as, mem, buf, 0);
    if (mem != buf) st_free_big(mem);
    MPI_Info_free(&info);
    MPI_Type_free(&ftype);
    MPI_Type_free(&etype);
    return st_mdms_agree(m, rc);
}
#endif

/* ---- chunks and the in-memory exchange ------------------------------------------------------ */

typedef struct cgrid {
    int n;
    uint64_t dims[ST_ND_MAXDIMS], chunk[ST_ND_MAXDIMS], grid[ST_ND_MAXDIMS];
    uint64_t total;
} cgrid;

static void cgrid_init(cgrid *g, const st_cat_nd *rec)
{
    g->n = rec->ndims;
    g->total = 1;
    for (int d = 0; d < g->n; d++) {
        g->dims[d] = rec->dims[d];
        g->chunk[d] = rec->chunk[d];
        g->grid[d] = (rec->dims[d] + rec->chunk[d] - 1) / rec->chunk[d];
        g->total *= g->grid[d];
    }
}

/* The box [LO, HI) of chunk IDX; its element count. */
static uint64_t cgrid_box(const cgrid *g, uint64_t idx, uint64_t *lo, uint64_t *hi)
{
    uint64_t n = 1;
    for (int d = g->n - 1; d >= 0; d--) {
        uint64_t c = idx % g->grid[d];
        idx /= g->grid[d];
        lo[d] = c * g->chunk[d];
        hi[d] = lo[d] + g->chunk[d] < g->dims[d] ? lo[d] + g->chunk[d] : g->dims[d];
        n *= hi[d] - lo[d];
    }
    return n;
}

/* The process that reads or writes chunk IDX: the one holding its first element (replicated
 * patterns: round-robin). */
static int chunk_owner(const strata_assoc *as, const cgrid *g, uint64_t idx)
{
    const st_pattern *p = &as->pat;
    if (p->replicated) return (int)(idx % (uint64_t)p->nprocs);
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS];
    cgrid_box(g, idx, lo, hi);
    int rank = 0;
    for (int d = 0; d < g->n; d++) rank = rank * p->grid[d] + st_dim_owner(p, d, g->dims[d], lo[d]);
    return rank;
}

enum { K_LOCAL, K_CHUNK, K_PACKED };

static uint64_t seg_pos(const st_seg *s, int kind, uint64_t lo)
{
    return kind == K_LOCAL ? s->l : kind == K_CHUNK ? s->g - lo : s->p;
}

/* Copy the product of SEGS[0..n) from B (kind BK, strides BS) to A (kind AK, strides AS). */
static void seg_copy(int d, int n, const st_vec *segs, size_t esz, const uint64_t *lo, char *a,
                     int ak, const uint64_t *as_, const char *b, int bk, const uint64_t *bs)
{
    const st_seg *s = segs[d].v;
    for (size_t i = 0; i < segs[d].n; i++) {
        uint64_t pa = seg_pos(&s[i], ak, lo[d]), pb = seg_pos(&s[i], bk, lo[d]);
        if (d == n - 1) {
            memcpy(a + pa * esz, b + pb * esz, s[i].len * esz);
            continue;
        }
        for (uint64_t j = 0; j < s[i].len; j++)
            seg_copy(d + 1, n, segs, esz, lo, a + (pa + j) * as_[d] * esz, ak, as_,
                     b + (pb + j) * bs[d] * esz, bk, bs);
    }
}

static void c_strides(int n, const uint64_t *ext, uint64_t *st)
{
    uint64_t acc = 1;
    for (int d = n - 1; d >= 0; d--) {
        st[d] = acc;
        acc *= ext[d];
    }
}

/* Segments of RANK's piece inside box [LO, HI) into SEGS; the element count and packed strides
 * PST. */
static uint64_t box_segs(const strata_assoc *as, int rank, const uint64_t *lo, const uint64_t *hi,
                         st_vec *segs, uint64_t *pst)
{
    int c[ST_ND_MAXDIMS];
    st_pattern_coords(&as->pat, rank, c);
    uint64_t cnt[ST_ND_MAXDIMS], n = 1;
    for (int d = 0; d < as->ndims; d++) {
        cnt[d] = st_dim_segs(&as->pat, d, as->dims[d], c[d], lo[d], hi[d], &segs[d]);
        if (cnt[d] == UINT64_MAX) return UINT64_MAX;
        n *= cnt[d];
    }
    if (pst != NULL) c_strides(as->ndims, cnt, pst);
    return n;
}

/* The exchange between pieces and chunks. SAVE: pieces -> owned chunk buffers CH (by position
 * in the chunk list); else owned chunk data CH -> pieces. Only rank 0's piece counts when the
 * pattern is replicated and SAVE. */
/* One exchange between the processes' pieces and the chunks' owners (see exchange()). */
typedef struct xchg {
    strata_assoc *as;
    const cgrid *g;
    int save, only0; /* only0: a replicated save, whose pieces only rank 0 sends */
    char **ch, *piece;
    st_vec segs[ST_ND_MAXDIMS];
    uint64_t lst[ST_ND_MAXDIMS]; /* the piece's strides */
    uint64_t *scount, *rcount;   /* elements sent to and received from each process */
    char *sbuf, *rbuf;
} xchg;

/* The counts: what this process sends to each process and receives from each. */
static int xchg_count(xchg *x)
{
    strata_assoc *as = x->as;
    int P = as->m->size, me = as->m->rank;
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS];
    for (uint64_t c = 0; c < x->g->total; c++) {
        int q = chunk_owner(as, x->g, c);
        cgrid_box(x->g, c, lo, hi);
        if (x->save) {
            if (!x->only0 || me == 0) x->scount[q] += box_segs(as, me, lo, hi, x->segs, NULL);
            if (q == me)
                for (int r = 0; r < P; r++)
                    if (!x->only0 || r == 0) x->rcount[r] += box_segs(as, r, lo, hi, x->segs, NULL);
        } else {
            if (q == me)
                for (int r = 0; r < P; r++) x->scount[r] += box_segs(as, r, lo, hi, x->segs, NULL);
            x->rcount[q] += box_segs(as, me, lo, hi, x->segs, NULL);
        }
    }
    uint64_t stot = 0, rtot = 0;
    for (int r = 0; r < P; r++) {
        if (x->scount[r] * as->esz > (uint64_t)INT32_MAX ||
            x->rcount[r] * as->esz > (uint64_t)INT32_MAX)
            return st_error(st_pool_err(as->m->pool), STRATA_ERANGE,
                            "an exchange of more than 2 GiB between two processes; use more "
                            "processes or smaller datasets per save");
        stot += x->scount[r];
        rtot += x->rcount[r];
    }
    x->sbuf = st_alloc_big(stot * as->esz + 1);
    x->rbuf = mpi_on(as->m) ? st_alloc_big(rtot * as->esz + 1) : x->sbuf;
    if (x->sbuf == NULL || x->rbuf == NULL)
        return st_error(st_pool_err(as->m->pool), STRATA_ENOMEM, "out of memory");
    return STRATA_OK;
}

/* Copy the elements that go between this process and process R, for chunk C, at OFF of the
 * packed buffer (PACK: from the piece or chunk into the send buffer; else from the receive
 * buffer into the chunk or piece); returns how many, 0 if none. */
static uint64_t xchg_copy(xchg *x, int r, uint64_t c, uint64_t off, int pack)
{
    strata_assoc *as = x->as;
    int me = as->m->rank, n = as->ndims, q = chunk_owner(as, x->g, c);
    size_t esz = as->esz;
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS], cst[ST_ND_MAXDIMS], pst[ST_ND_MAXDIMS],
        ext[ST_ND_MAXDIMS];
    cgrid_box(x->g, c, lo, hi);
    for (int d = 0; d < n; d++) ext[d] = hi[d] - lo[d];
    c_strides(n, ext, cst);
    /* the piece's side is this process's when it sends a save or receives a load */
    int piece_side = x->save == pack;
    int owner = pack ? (x->save ? r : me) : (x->save ? me : r);
    if (q != owner) return 0;
    if (x->only0 && (x->save ? (pack ? me : r) : 1) != 0) return 0;
    uint64_t cnt = box_segs(as, piece_side ? me : r, lo, hi, x->segs, pst);
    if (cnt == 0) return 0;
    char *packed = (pack ? x->sbuf : x->rbuf) + off * esz;
    char *buf = piece_side ? x->piece : x->ch[c];
    int kind = piece_side ? K_LOCAL : K_CHUNK;
    const uint64_t *st = piece_side ? x->lst : cst;
    if (pack)
        seg_copy(0, n, x->segs, esz, lo, packed, K_PACKED, pst, buf, kind, st);
    else
        seg_copy(0, n, x->segs, esz, lo, buf, kind, st, packed, K_PACKED, pst);
    return cnt;
}

#ifdef STRATA_HAVE_MPI
/* The one all-to-all of the packed buffers. */
static int xchg_alltoall(xchg *x)
{
    strata_mdms *m = x->as->m;
    int P = m->size;
    int *sc = malloc(4 * (size_t)P * sizeof *sc);
    if (sc == NULL) return st_error(st_pool_err(m->pool), STRATA_ENOMEM, "out of memory");
    int *sd = sc + P, *rcn = sd + P, *rd = rcn + P, so = 0, ro = 0;
    for (int r = 0; r < P; r++) {
        sc[r] = (int)(x->scount[r] * x->as->esz);
        rcn[r] = (int)(x->rcount[r] * x->as->esz);
        sd[r] = so;
        rd[r] = ro;
        so += sc[r];
        ro += rcn[r];
    }
    MPI_Alltoallv(x->sbuf, sc, sd, MPI_BYTE, x->rbuf, rcn, rd, MPI_BYTE, m->comm);
    free(sc);
    return STRATA_OK;
}
#endif

static int exchange(strata_assoc *as, const cgrid *g, int save, char **ch, char *piece)
{
    strata_mdms *m = as->m;
    int P = m->size;
    xchg x = {.as = as,
              .g = g,
              .save = save,
              .only0 = save && as->pat.replicated,
              .ch = ch,
              .piece = piece};
    for (int d = 0; d < as->ndims; d++) x.segs[d] = (st_vec)ST_VEC(st_seg);
    c_strides(as->ndims, as->local, x.lst);
    x.scount = calloc((size_t)P * 2 + 2, sizeof *x.scount);
    int rc = x.scount ? STRATA_OK : st_error(st_pool_err(m->pool), STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) {
        x.rcount = x.scount + P;
        rc = xchg_count(&x);
    }
    /* pack, by destination, then chunk */
    uint64_t off = 0;
    for (int r = 0; rc == STRATA_OK && r < P; r++)
        for (uint64_t c = 0; c < g->total; c++) off += xchg_copy(&x, r, c, off, 1);
#ifdef STRATA_HAVE_MPI
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK && mpi_on(m)) rc = xchg_alltoall(&x);
#endif
    /* unpack, by source, then chunk */
    off = 0;
    for (int r = 0; rc == STRATA_OK && r < P; r++)
        for (uint64_t c = 0; c < g->total; c++) off += xchg_copy(&x, r, c, off, 0);
    if (x.rbuf != x.sbuf) st_free_big(x.rbuf);
    st_free_big(x.sbuf);
    free(x.scount);
    for (int d = 0; d < as->ndims; d++) st_vec_free(&x.segs[d]);
    return rc;
}

/* ---- statistics ----------------------------------------------------------------------------- */

static void stats_of(strata_assoc *as, const void *buf, st_cat_execrow *e)
{
    strata_mdms *m = as->m;
    st_stats s = {0};
    int counts = !(as->pat.replicated && m->rank != 0);
    if (counts) st_stats_pass1(as->dtype, buf, as->local_elems, &s);
    double mn = s.n ? s.min : INFINITY, mx = s.n ? s.max : -INFINITY, sum = s.sum;
    uint64_t n = s.n;
#ifdef STRATA_HAVE_MPI
    if (mpi_on(m)) {
        double in[2] = {-mn, mx}, out[2];
        MPI_Allreduce(in, out, 2, MPI_DOUBLE, MPI_MAX, m->comm);
        mn = -out[0];
        mx = out[1];
        MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, m->comm);
        MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_UINT64_T, MPI_SUM, m->comm);
    }
#endif
    double mean = n ? sum / (double)n : NAN;
    st_stats t = {0};
    if (counts && n) st_stats_pass2(as->dtype, buf, as->local_elems, mean, mn, mx, &t);
#ifdef STRATA_HAVE_MPI
    if (mpi_on(m)) {
        MPI_Allreduce(MPI_IN_PLACE, &t.m2, 1, MPI_DOUBLE, MPI_SUM, m->comm);
        MPI_Allreduce(MPI_IN_PLACE, t.hist, ST_HIST_BINS, MPI_UINT64_T, MPI_SUM, m->comm);
    }
#endif
    e->min = n ? mn : NAN;
    e->max = n ? mx : NAN;
    e->mean = mean;
    e->std = n ? sqrt(t.m2 / (double)n) : NAN;
    memcpy(e->hist, t.hist, sizeof e->hist);
}

/* ---- plans ---------------------------------------------------------------------------------- */

/* The planner's view of moving the association's pieces of SRC (a load) or of a new save
 * (SRC NULL). */
static int plan_for(strata_assoc *as, const st_source *src, strata_plan *pl)
{
    st_plan_in in;
    memset(&in, 0, sizeof in);
    in.ndims = as->ndims;
    memcpy(in.dims, as->dims, sizeof in.dims);
    in.esz = as->esz;
    in.layout = src ? src->rec.layout : as->sp.layout;
    memcpy(in.chunk, src ? src->rec.chunk : as->sp.chunk, sizeof in.chunk);
    in.archive = src ? src->staged : 0;
#ifdef STRATA_HAVE_MPI
    in.mpi = 1;
#endif
    in.load = src != NULL;
    in.forced = as->forced;
    in.no_prefetch = as->no_prefetch;
    in.latency = src ? src->latency : as->tier_latency;
    in.bw = src ? src->bw : as->tier_bw;
    return st_plan(st_pool_err(as->m->pool), &as->pat, &in, pl);
}

/* ---- save ----------------------------------------------------------------------------------- */

/* The new array of a save, as rank 0 prepared it and every process knows it. */
typedef struct save_head {
    st_cat_nd rec;
    char dir[ST_PATH_MAX]; /* its directory on its home tier */
    int level;             /* zstd level of its files */
    char tok[ST_TOKEN_LEN + 1];
} save_head;

/* What this process wrote. */
typedef struct save_out {
    st_cat_chunk *mine; /* its chunk rows */
    int nmine;
    uint64_t requests, bytes;
} save_out;

/* Rank 0: check that ITERATION of NAME is new, prepare the array's record (on the association's
 * tier, with its layout) and make its directories. */
static int save_prepare(strata_assoc *as, const char *name, int64_t iteration, save_head *h)
{
    strata_mdms *m = as->m;
    strata_pool *pool = m->pool;
    st_err *err = st_pool_err(pool);
    char an[STRATA_NAME_MAX + 1];
    st_cat_execrow old;
    st_cat_tier t;
    st_mdms_array_name(an, sizeof an, name, as->run, iteration);
    int rc = st_cat_exec_get(err, st_pool_cat(pool), as->run, name, iteration, &old);
    if (rc == STRATA_OK)
        return st_error(err, STRATA_EEXIST,
                        "iteration %" PRId64 " of dataset '%s' of run %" PRId64 " is saved already",
                        iteration, name, as->run);
    if (rc != STRATA_ENOTFOUND) return rc;
    ST_TRY(rc = st_cat_tier_get_id(err, st_pool_cat(pool), as->sp.tier_id, &t));
    strata_ndarray_opts o = {0};
    o.layout = (strata_layout)as->sp.layout;
    o.zstd_level = as->sp.zstd;
    o.tier = t.name;
    rc = st_nd_prepare(pool, m->app, an, as->dtype, as->ndims, as->dims,
                       as->sp.layout == STRATA_LAYOUT_CHUNKED ? as->sp.chunk : NULL, &o, &h->rec);
    if (rc == STRATA_EEXIST) {
        /* a save that crashed after its catalog row? no: the row is its publication; an array of
         * this name without an execution row was made by hand */
        return st_error(err, STRATA_EEXIST,
                        "N-d array '%s/%s' exists but is no saved iteration; remove it "
                        "(strata nd rm) to save this iteration",
                        m->app, an);
    }
    ST_TRY(rc);
    st_ndctx x;
    st_ndctx_init(&x, pool);
    ST_TRY(rc = st_nd_begin_new(&x, &h->rec, h->dir, &h->level));
    st_random_token(h->tok);
done:
    return rc;
}

/* Contiguous layouts: rank 0 creates the one file, the processes fill it (collectively or one
 * request per run), rank 0 makes it durable and records it. */
static int save_contiguous(strata_assoc *as, const save_head *h, int strategy, const void *buf,
                           save_out *o)
{
    strata_mdms *m = as->m;
    st_ndctx x;
    st_ndctx_init(&x, m->pool);
    char path[ST_PATH_MAX];
    uint64_t hl = 0;
    int fortran = h->rec.layout == STRATA_LAYOUT_COL;
    o->mine = calloc(1, sizeof *o->mine);
    int rc = o->mine ? STRATA_OK : st_error(x.err, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) rc = st_nd_file_open(&x, &h->rec, h->dir, h->tok, m->rank == 0, path, &hl);
    rc = st_mdms_agree(m, rc);
    int writer = !(as->pat.replicated && m->rank != 0);
    if (rc == STRATA_OK) {
#ifdef STRATA_HAVE_MPI
        if (strategy == ST_IO_COLLECTIVE) {
            rc = collective_io(as, path, hl, fortran, 1, (void *)buf);
            o->requests = 1;
            o->bytes = as->local_elems * as->esz;
        } else
#endif
            if (writer)
            rc = piece_io(as, path, hl, fortran, 0, 1, (void *)buf, &o->requests, &o->bytes);
    }
    (void)strategy;
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK && m->rank == 0) {
        /* durable, then the checksum over what every process wrote */
        rc = st_nd_file_seal(&x, &h->rec, h->dir, path, &o->mine[0]);
        if (rc == STRATA_OK) o->nmine = 1;
    }
    return rc;
}

/* Chunked layout: each process gathers and writes the chunks whose first element it holds;
 * rank 0 makes the directory durable. */
static int save_chunked(strata_assoc *as, const save_head *h, const void *buf, save_out *o)
{
    strata_mdms *m = as->m;
    st_ndctx x;
    st_ndctx_init(&x, m->pool);
    cgrid g;
    cgrid_init(&g, &h->rec);
    char **ch = calloc(g.total + 1, sizeof *ch);
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS];
    int owned = 0;
    int rc = ch ? STRATA_OK : st_error(x.err, STRATA_ENOMEM, "out of memory");
    for (uint64_t c = 0; rc == STRATA_OK && c < g.total; c++) {
        if (chunk_owner(as, &g, c) != m->rank) continue;
        uint64_t cnt = cgrid_box(&g, c, lo, hi);
        ch[c] = st_alloc_big(cnt * as->esz + 1);
        if (ch[c] == NULL) rc = st_error(x.err, STRATA_ENOMEM, "out of memory");
        owned++;
    }
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK) rc = exchange(as, &g, 1, ch, (char *)buf);
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK && (o->mine = calloc((size_t)owned + 1, sizeof *o->mine)) == NULL)
        rc = st_error(x.err, STRATA_ENOMEM, "out of memory");
    for (uint64_t c = 0; rc == STRATA_OK && c < g.total; c++) {
        if (ch[c] == NULL) continue;
        uint64_t ext[ST_ND_MAXDIMS];
        cgrid_box(&g, c, lo, hi);
        for (int d = 0; d < as->ndims; d++) ext[d] = hi[d] - lo[d];
        st_cat_chunk *w = &o->mine[o->nmine++];
        rc = st_nd_put_chunk(&x, &h->rec, h->dir, (int64_t)c, h->tok, h->level, ext, ch[c], w);
        o->requests++;
        o->bytes += w->bytes;
    }
    for (uint64_t c = 0; ch != NULL && c < g.total; c++) st_free_big(ch[c]);
    free(ch);
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK && m->rank == 0) rc = st_fsync_dir(x.err, h->dir);
    return rc;
}

/* Rank 0 receives every process's chunk rows: *ALL and *NALL (the caller frees *ALL). Without
 * MPI, or for the one file of a contiguous layout, they are this process's own. */
static void save_gather(strata_assoc *as, const save_head *h, save_out *o, st_cat_chunk **all,
                        int *nall)
{
    strata_mdms *m = as->m;
#ifdef STRATA_HAVE_MPI
    if (mpi_on(m) && h->rec.layout == STRATA_LAYOUT_CHUNKED) {
        int *cnts = m->rank == 0 ? calloc((size_t)m->size * 2, sizeof *cnts) : NULL;
        int bytes_mine = o->nmine * (int)sizeof *o->mine;
        MPI_Gather(&bytes_mine, 1, MPI_INT, cnts, 1, MPI_INT, 0, m->comm);
        int total = 0;
        if (m->rank == 0) {
            for (int r = 0; r < m->size; r++) {
                cnts[m->size + r] = total;
                total += cnts[r];
            }
            *all = malloc((size_t)total + 1);
        }
        MPI_Gatherv(o->mine, bytes_mine, MPI_BYTE, *all, cnts, cnts ? cnts + m->size : NULL,
                    MPI_BYTE, 0, m->comm);
        *nall = total / (int)sizeof *o->mine;
        free(cnts);
        return;
    }
#endif
    (void)m;
    (void)h;
    *all = o->mine;
    *nall = o->nmine;
    o->mine = NULL;
}

/* Rank 0: publish the array with its NALL chunks and the execution row E, then the I/O event. */
static int save_publish(strata_assoc *as, const char *name, int64_t iteration, save_head *h,
                        st_cat_chunk *all, int nall, st_cat_execrow *e, const strata_plan *pl,
                        const save_out *tot)
{
    strata_mdms *m = as->m;
    st_ndctx x;
    st_ndctx_init(&x, m->pool);
    if (all == NULL) return st_error(x.err, STRATA_ENOMEM, "out of memory");
    e->run_id = as->run;
    snprintf(e->dataset, sizeof e->dataset, "%s", name);
    e->iteration = iteration;
    e->tier_id = h->rec.tier_id;
    e->files = (uint64_t)nall;
    e->bytes = 0;
    for (int i = 0; i < nall; i++) e->bytes += all[i].bytes;
    snprintf(e->strategy, sizeof e->strategy, "%s", pl->strategy);
    e->nprocs = m->size;
    int rc = st_nd_commit_new(&x, &h->rec, all, nall, NULL, 0, e);
    if (rc == STRATA_OK)
        st_mdms_event(m, as->run, name, iteration, "save", pl->strategy, tot->requests, tot->bytes,
                      e->seconds);
    return rc;
}

int st_mdms_save(strata_assoc *as, const char *name, int64_t iteration, const void *buf)
{
    strata_mdms *m = as->m;
    strata_pool *pool = m->pool;
    double t0 = st_mono_s();
    strata_plan pl;
    int rc = plan_for(as, NULL, &pl);
    save_head h;
    memset(&h, 0, sizeof h);
    /* rank 0 holds the pool's gc lock from the new array's directories to its publication, so
     * that no gc takes the directories for orphans meanwhile */
    int hold = -1;
    if (rc == STRATA_OK && m->rank == 0) {
        hold = st_pool_create_begin(pool);
        if (hold < 0) rc = hold;
    }
    if (rc == STRATA_OK && m->rank == 0) rc = save_prepare(as, name, iteration, &h);
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        st_pool_create_end(pool, hold);
        return rc;
    }
    st_mdms_bcast(m, &h, sizeof h);
    save_out o = {0};
    if (h.rec.layout != STRATA_LAYOUT_CHUNKED)
        rc = save_contiguous(as, &h, st_io_parse(pl.strategy), buf, &o);
    else
        rc = save_chunked(as, &h, buf, &o);
    rc = st_mdms_agree(m, rc);
    /* everything is durable: statistics, then rank 0 publishes */
    st_cat_execrow e;
    memset(&e, 0, sizeof e);
    st_cat_chunk *all = NULL;
    int nall = 0;
    if (rc == STRATA_OK) {
        stats_of(as, buf, &e);
        save_gather(as, &h, &o, &all, &nall);
    }
    save_out tot = {.requests = st_mdms_sum(m, o.requests), .bytes = st_mdms_sum(m, o.bytes)};
    e.seconds = st_mdms_max(m, st_mono_s() - t0);
    if (rc == STRATA_OK && m->rank == 0)
        rc = save_publish(as, name, iteration, &h, all, nall, &e, &pl, &tot);
    rc = st_mdms_agree(m, rc);
    if (rc < 0 && m->rank == 0) {
        /* unpublished files are orphans; remove what we can name */
        st_ndctx x;
        st_ndctx_init(&x, pool);
        st_nd_discard_new(&x, &h.rec);
    }
    st_pool_create_end(pool, hold);
    free(o.mine);
    free(all);
    as->last = pl;
    as->last.requests = o.requests;
    as->last.bytes = o.bytes;
    as->last.seconds = e.seconds;
    return rc;
}

/* ---- load ----------------------------------------------------------------------------------- */

/* The file I/O of a load, no communication: this process's piece of a contiguous file (by runs
 * or sieving), or the chunks it owns. */
static int load_files(strata_assoc *as, const st_source *src, int sieve, void *piece, char **ch,
                      st_err *err, uint64_t *requests, uint64_t *bytes)
{
    int rc = STRATA_OK;
    if (src->rec.layout != STRATA_LAYOUT_CHUNKED) {
        if (src->nfiles != 1)
            return st_error(err, STRATA_ECORRUPT, "'%s/%s' has %d files, expected 1",
                            src->rec.region, src->rec.name, src->nfiles);
        if (as->pat.replicated || as->local_elems > 0)
            rc = piece_io(as, src->paths[0], src->data_offset, src->rec.layout == STRATA_LAYOUT_COL,
                          sieve, 0, piece, requests, bytes);
        return rc;
    }
    cgrid g;
    cgrid_init(&g, &src->rec);
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS];
    /* chunk index -> file position */
    for (int i = 0; rc == STRATA_OK && i < src->nfiles; i++) {
        uint64_t c = (uint64_t)src->idx[i];
        if (c >= g.total || chunk_owner(as, &g, c) != as->m->rank) continue;
        uint64_t cnt = cgrid_box(&g, c, lo, hi);
        st_chunkbuf cb;
        rc = st_chunk_read(err, src->paths[i], &cb);
        if (rc < 0) break;
        if (cb.info.count != cnt || cb.info.fortran_order) {
            st_chunk_release(&cb);
            rc = st_error(err, STRATA_ECORRUPT,
                          "chunk file '%s' has %" PRIu64 " elements, "
                          "expected %" PRIu64 " in C order",
                          src->paths[i], cb.info.count, cnt);
            break;
        }
        memcpy(ch[c], cb.data, cnt * as->esz);
        *requests += 1;
        *bytes += cb.stored;
        st_chunk_release(&cb);
    }
    return rc;
}

/* Owned chunk buffers for SRC (unwritten chunks: the fill value). */
static int chunks_alloc(strata_assoc *as, const st_source *src, char ***out, st_err *err)
{
    cgrid g;
    cgrid_init(&g, &src->rec);
    char **ch = calloc(g.total + 1, sizeof *ch);
    if (ch == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS];
    for (uint64_t c = 0; c < g.total; c++) {
        if (chunk_owner(as, &g, c) != as->m->rank) continue;
        uint64_t cnt = cgrid_box(&g, c, lo, hi);
        ch[c] = st_alloc_big(cnt * as->esz + 1);
        if (ch[c] == NULL) {
            for (uint64_t k = 0; k < c; k++) st_free_big(ch[k]);
            free(ch);
            return st_error(err, STRATA_ENOMEM, "out of memory");
        }
        for (uint64_t i = 0; i < cnt; i++) memcpy(ch[c] + i * as->esz, src->rec.fill, as->esz);
    }
    *out = ch;
    return STRATA_OK;
}

static void chunks_free(const st_source *src, char **ch)
{
    if (ch == NULL) return;
    cgrid g;
    cgrid_init(&g, &src->rec);
    for (uint64_t c = 0; c < g.total; c++) st_free_big(ch[c]);
    free(ch);
}

static void *prefetch_main(void *arg)
{
    st_prefetch *pf = arg;
    uint64_t req = 0, bytes = 0;
    pf->rc = load_files(pf->as, &pf->src, pf->sieve, pf->piece, (char **)pf->chunks, &pf->err, &req,
                        &bytes);
    return NULL;
}

void st_mdms_prefetch_stop(strata_assoc *as)
{
    st_prefetch *pf = as->pf;
    if (pf == NULL) return;
    if (pf->running) pthread_join(pf->thread, NULL);
    chunks_free(&pf->src, (char **)pf->chunks);
    source_free(&pf->src);
    st_err_destroy(&pf->err);
    free(pf);
    as->pf = NULL;
}

void st_mdms_views_free(strata_assoc *as)
{
    for (int k = 0; k < 2; k++) {
        st_free_big(as->bufs[k]);
        as->bufs[k] = NULL;
    }
    as->shown = -1;
}

/* The association's piece buffer K, allocated on first use (NULL when out of memory). */
static void *slot_buf(strata_assoc *as, int k)
{
    if (as->bufs[k] == NULL) as->bufs[k] = st_alloc_big(as->local_elems * as->esz + 1);
    return as->bufs[k];
}

/* The buffer not handed out by strata_load_view(): where the next read goes. */
static int free_slot(const strata_assoc *as)
{
    return as->shown == 0 ? 1 : 0;
}

/* Start reading the iteration after ITERATION of NAME in the background, into the buffer not
 * handed out to the caller. */
static void prefetch_next(strata_assoc *as, const char *name, int64_t iteration)
{
    strata_mdms *m = as->m;
    int64_t next = -1;
    if (m->rank == 0 &&
        st_cat_exec_next(NULL, st_pool_cat(m->pool), as->run, name, iteration, &next) != STRATA_OK)
        next = -1;
    st_mdms_bcast(m, &next, sizeof next);
    if (next < 0) return;
    st_prefetch *pf = calloc(1, sizeof *pf);
    int rc = pf ? STRATA_OK : STRATA_ENOMEM;
    if (rc == STRATA_OK) {
        st_err_init(&pf->err);
        pf->as = as;
        snprintf(pf->name, sizeof pf->name, "%s", name);
        pf->iteration = next;
        pf->slot = free_slot(as);
    }
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK) rc = resolve(as, name, next, &pf->src);
    if (rc < 0) {
        if (pf) {
            st_err_destroy(&pf->err);
            free(pf);
        }
        return;
    }
    /* the thread makes no MPI calls: a collective plan reads by sieving instead */
    strata_plan pl;
    if (plan_for(as, &pf->src, &pl) == STRATA_OK) {
        int s = st_io_parse(pl.strategy);
        pf->sieve = s == ST_IO_SIEVE || s == ST_IO_COLLECTIVE;
    }
    if (pf->src.rec.layout == STRATA_LAYOUT_CHUNKED) {
        char **ch = NULL;
        rc = chunks_alloc(as, &pf->src, &ch, &pf->err);
        pf->chunks = (void **)ch;
    } else {
        pf->piece = slot_buf(as, pf->slot);
        if (pf->piece == NULL) rc = STRATA_ENOMEM;
    }
    as->pf = pf;
    if (rc == STRATA_OK && pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0)
        pf->running = 1;
    else
        pf->rc = STRATA_ENOMEM;
}

int st_mdms_load(strata_assoc *as, const char *name, int64_t iteration, void *buf,
                 const void **view)
{
    strata_mdms *m = as->m;
    st_err *err = st_pool_err(m->pool);
    double t0 = st_mono_s();
    uint64_t requests = 0, bytes = 0;
    /* a prefetch of exactly this read? every process decides alike */
    st_prefetch *pf = as->pf;
    int use_pf = pf != NULL && pf->iteration == iteration && strcmp(pf->name, name) == 0;
    int rc = STRATA_OK;
    if (use_pf) {
        if (pf->running) pthread_join(pf->thread, NULL);
        pf->running = 0;
        if (pf->rc < 0) {
            char msg[ST_ERRMSG_MAX];
            st_err_copy(&pf->err, msg, sizeof msg);
            rc = st_error(err, pf->rc, "%s", msg);
        }
    }
    if (pf != NULL && !use_pf) st_mdms_prefetch_stop(as);
    /* a view: the prefetched buffer as it is, else the buffer not shown */
    int slot = -1;
    if (view != NULL && rc == STRATA_OK) {
        slot = use_pf && pf->piece ? pf->slot : free_slot(as);
        buf = slot_buf(as, slot);
        if (buf == NULL) rc = st_error(err, STRATA_ENOMEM, "out of memory");
    }
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        st_mdms_prefetch_stop(as);
        return rc;
    }
    st_source own;
    st_source *src = &own;
    memset(&own, 0, sizeof own);
    if (use_pf) {
        src = &pf->src;
    } else {
        rc = resolve(as, name, iteration, &own);
        if (rc < 0) return rc;
    }
    strata_plan pl;
    rc = plan_for(as, src, &pl);
    int s = st_io_parse(pl.strategy);
    char **ch = NULL;
    if (rc == STRATA_OK && src->rec.layout == STRATA_LAYOUT_CHUNKED) {
        if (use_pf) {
            ch = (char **)pf->chunks;
        } else {
            rc = chunks_alloc(as, src, &ch, err);
            if (rc == STRATA_OK) rc = load_files(as, src, 0, NULL, ch, err, &requests, &bytes);
        }
        rc = st_mdms_agree(m, rc);
        cgrid g;
        cgrid_init(&g, &src->rec);
        if (rc == STRATA_OK) rc = exchange(as, &g, 0, ch, buf);
    } else if (rc == STRATA_OK) {
        if (use_pf) {
            if (buf != pf->piece) memcpy(buf, pf->piece, as->local_elems * as->esz);
        } else {
#ifdef STRATA_HAVE_MPI
            if (s == ST_IO_COLLECTIVE) {
                rc = collective_io(as, src->paths[0], src->data_offset,
                                   src->rec.layout == STRATA_LAYOUT_COL, 0, buf);
                requests = 1;
                bytes = as->local_elems * as->esz;
            } else
#endif
                rc = load_files(as, src, s == ST_IO_SIEVE, buf, NULL, err, &requests, &bytes);
        }
    }
    (void)s;
    rc = st_mdms_agree(m, rc);
    if (!use_pf) {
        chunks_free(src, ch);
        source_free(&own);
    } else {
        st_mdms_prefetch_stop(as);
    }
    as->shown = slot;
    if (view != NULL) *view = rc == STRATA_OK ? buf : NULL;
    uint64_t treq = st_mdms_sum(m, requests), tbytes = st_mdms_sum(m, bytes);
    double secs = st_mdms_max(m, st_mono_s() - t0);
    if (rc == STRATA_OK && m->rank == 0)
        st_mdms_event(m, as->run, name, iteration, "load", use_pf ? "prefetched" : pl.strategy,
                      treq, tbytes, secs);
    as->last = pl;
    as->last.requests = requests;
    as->last.bytes = bytes;
    as->last.seconds = secs;
    if (use_pf) snprintf(as->last.strategy, sizeof as->last.strategy, "prefetched");
    if (rc == STRATA_OK && pl.prefetch) prefetch_next(as, name, iteration);
    return rc;
}

/* ---- irregular lists ------------------------------------------------------------------------ */

typedef struct ient {
    uint64_t f; /* file element */
    uint64_t pos;
} ient;

static int ient_cmp(const void *a, const void *b)
{
    const ient *x = a, *y = b;
    return x->f < y->f ? -1 : x->f > y->f;
}

/* A list load: the elements INDEX[N] (C-order positions) of a source, into BUF in their order. */
typedef struct lload {
    strata_assoc *as;
    const st_source *src;
    const uint64_t *index;
    uint64_t n;
    char *buf;
    ient *e; /* (file element or chunk, position in INDEX), sorted */
    uint64_t requests, bytes;
} lload;

/* C-order coordinates C of element R. */
static void list_coords(const strata_assoc *as, uint64_t r, uint64_t *c)
{
    for (int d = as->ndims - 1; d >= 0; d--) {
        c[d] = r % as->dims[d];
        r /= as->dims[d];
    }
}

/* Chunked sources: each needed chunk read once by this process. */
static int list_chunked(lload *l)
{
    strata_assoc *as = l->as;
    const st_source *src = l->src;
    st_err *err = st_pool_err(as->m->pool);
    size_t esz = as->esz;
    ient *e = l->e;
    cgrid g;
    cgrid_init(&g, &src->rec);
    uint64_t lo[ST_ND_MAXDIMS], hi[ST_ND_MAXDIMS], c[ST_ND_MAXDIMS];
    /* group by chunk: sort by chunk index then element */
    for (uint64_t i = 0; i < l->n; i++) {
        uint64_t cidx = 0;
        list_coords(as, l->index[e[i].pos], c);
        for (int d = 0; d < as->ndims; d++) cidx = cidx * g.grid[d] + c[d] / g.chunk[d];
        e[i].f = cidx;
    }
    qsort(e, l->n, sizeof *e, ient_cmp);
    st_chunkbuf cb;
    int64_t have = -1;
    int rc = STRATA_OK;
    for (uint64_t i = 0; i < l->n; i++) {
        if ((int64_t)e[i].f != have) {
            if (have >= 0) st_chunk_release(&cb);
            have = -1;
            int at = -1;
            for (int k = 0; k < src->nfiles; k++)
                if ((uint64_t)src->idx[k] == e[i].f) at = k;
            if (at < 0) {
                memcpy(l->buf + e[i].pos * esz, src->rec.fill, esz);
                continue;
            }
            if ((rc = st_chunk_read(err, src->paths[at], &cb)) < 0) break;
            have = (int64_t)e[i].f;
            l->requests++;
            l->bytes += cb.stored;
        }
        cgrid_box(&g, e[i].f, lo, hi);
        uint64_t off = 0;
        list_coords(as, l->index[e[i].pos], c);
        for (int d = 0; d < as->ndims; d++) off = off * (hi[d] - lo[d]) + (c[d] - lo[d]);
        memcpy(l->buf + e[i].pos * esz, cb.data + off * esz, esz);
    }
    if (have >= 0) st_chunk_release(&cb);
    return rc;
}

/* The strategy for NU unique file elements in NRUNS runs over SPAN elements: the cost model, as
 * for patterns (every process must agree on collective), unless one was forced. */
static int list_strategy(lload *l, uint64_t nu, uint64_t nruns, uint64_t span)
{
    strata_assoc *as = l->as;
    strata_mdms *m = as->m;
    const st_source *src = l->src;
    size_t esz = as->esz;
    int s = as->forced;
    if (s == ST_IO_AUTO || s == ST_IO_CHUNKED || s == ST_IO_CONTIGUOUS) {
        double ind = st_cost_io((double)nruns, (double)(nu * esz), src->latency, src->bw);
        double sv = st_cost_io((double)((span * esz + ST_SIEVE_MAX - 1) / ST_SIEVE_MAX),
                               (double)(span * esz), src->latency, src->bw) +
                    (double)(nu * esz) / ST_COST_MEM_BW;
        s = sv < ind ? ST_IO_SIEVE : ST_IO_INDEPENDENT;
        if (mpi_on(m)) {
            double mine = sv < ind ? sv : ind;
            double coll =
                st_cost_io(1, (double)(span * esz), src->latency, src->bw) +
                st_cost_collective((double)(nu * esz) * m->size, (double)nruns * m->size, m->size);
            if (st_mdms_max(m, coll) < st_mdms_max(m, mine)) s = ST_IO_COLLECTIVE;
        }
    }
    if (s == ST_IO_COLLECTIVE && !mpi_on(m)) s = ST_IO_SIEVE;
    return s;
}

#ifdef STRATA_HAVE_MPI
/* The NU unique file elements into U with one collective read (every process calls this). */
static int list_collective(lload *l, char *u, uint64_t nu, int rc)
{
    strata_assoc *as = l->as;
    strata_mdms *m = as->m;
    st_err *err = st_pool_err(m->pool);
    const char *path = l->src->paths[0];
    size_t esz = as->esz;
    MPI_Aint *disp = malloc((nu + 1) * sizeof *disp);
    if (disp == NULL || nu > (uint64_t)INT32_MAX) rc = STRATA_ENOMEM;
    uint64_t k = 0;
    for (uint64_t i = 0; disp && i < l->n; i++)
        if (i == 0 || l->e[i].f != l->e[i - 1].f) disp[k++] = (MPI_Aint)(l->e[i].f * esz);
    rc = st_mdms_agree(m, rc);
    if (rc < 0) {
        free(disp);
        return rc;
    }
    MPI_Datatype etype, ftype;
    MPI_Type_contiguous((int)esz, MPI_BYTE, &etype);
    MPI_Type_commit(&etype);
    MPI_Type_create_hindexed_block((int)nu, 1, disp, etype, &ftype);
    MPI_Type_commit(&ftype);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "romio_cb_read", "enable");
    MPI_File fh;
    int ec = MPI_File_open(m->comm, path, MPI_MODE_RDONLY, info, &fh);
    if (ec != MPI_SUCCESS) rc = mpi_fail(err, ec, "open", path);
    rc = st_mdms_agree(m, rc);
    if (rc == STRATA_OK) {
        MPI_Status st;
        ec = MPI_File_set_view(fh, (MPI_Offset)l->src->data_offset, etype, ftype, "native", info);
        if (ec == MPI_SUCCESS) ec = MPI_File_read_all(fh, u, (int)nu, etype, &st);
        if (ec != MPI_SUCCESS) rc = mpi_fail(err, ec, "read", path);
        MPI_File_close(&fh);
    }
    l->requests = 1;
    l->bytes = nu * esz;
    MPI_Info_free(&info);
    MPI_Type_free(&ftype);
    MPI_Type_free(&etype);
    free(disp);
    return rc;
}
#endif

/* The unique file elements into U, one request per run of consecutive ones (SIEVE: through
 * sieving windows). */
static int list_runs(lload *l, char *u, int sieve)
{
    strata_assoc *as = l->as;
    st_err *err = st_pool_err(as->m->pool);
    const st_source *src = l->src;
    const ient *e = l->e;
    int fd = open(src->paths[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return st_error_errno(err, errno, "cannot open '%s'", src->paths[0]);
    runio r = {
        err,  fd, src->paths[0], as->esz, src->data_offset, u, 0, 0, 0, sieve, ST_VEC(st_seg),
        NULL, 0};
    uint64_t k = 0;
    int rc = STRATA_OK;
    for (uint64_t i = 0; rc == STRATA_OK && i < l->n; i++) {
        if (i > 0 && e[i].f == e[i - 1].f) continue;
        /* consecutive elements make one run */
        uint64_t j = i, len = 1;
        while (j + 1 < l->n && (e[j + 1].f == e[j].f || e[j + 1].f == e[j].f + 1)) {
            if (e[j + 1].f != e[j].f) len++;
            j++;
        }
        rc = run_fn(&r, e[i].f, k, len, 1);
        k += len;
        i = j;
    }
    if (rc == STRATA_OK && r.sieve) rc = sieve_flush(&r);
    close(fd);
    st_vec_free(&r.pend);
    free(r.win);
    l->requests = r.requests;
    l->bytes = r.bytes;
    return rc;
}

/* Contiguous sources: the unique file elements read as the cost model says, then scattered to
 * their positions. Returns the strategy's name in *STRATEGY. */
static int list_contiguous(lload *l, const char **strategy)
{
    strata_assoc *as = l->as;
    size_t esz = as->esz;
    const ient *e = l->e;
    uint64_t nu = 0, nruns = 0, n = l->n;
    for (uint64_t i = 0; i < n; i++) {
        if (i == 0 || e[i].f != e[i - 1].f) nu++;
        if (i == 0 || e[i].f > e[i - 1].f + 1) nruns++;
    }
    int s = list_strategy(l, nu, nruns, n ? (e[n - 1].f - e[0].f + 1) : 0);
    *strategy = st_io_name(s);
    char *u = st_alloc_big(nu * esz + 1);
    int rc = u ? STRATA_OK : st_error(st_pool_err(as->m->pool), STRATA_ENOMEM, "out of memory");
#ifdef STRATA_HAVE_MPI
    if (s == ST_IO_COLLECTIVE)
        rc = list_collective(l, u, nu, rc);
    else
#endif
        if (rc == STRATA_OK)
        rc = list_runs(l, u, s == ST_IO_SIEVE);
    if (rc == STRATA_OK) {
        uint64_t k = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (i > 0 && e[i].f != e[i - 1].f) k++;
            memcpy(l->buf + e[i].pos * esz, u + k * esz, esz);
        }
    }
    st_free_big(u);
    return rc;
}

int st_mdms_load_list(strata_assoc *as, const char *name, int64_t iteration, const uint64_t *index,
                      uint64_t n, void *buf)
{
    strata_mdms *m = as->m;
    double t0 = st_mono_s();
    st_source src;
    int rc = resolve(as, name, iteration, &src);
    if (rc < 0) return rc;
    lload l = {.as = as, .src = &src, .index = index, .n = n, .buf = buf};
    l.e = malloc((n + 1) * sizeof *l.e);
    if (l.e == NULL) rc = st_error(st_pool_err(m->pool), STRATA_ENOMEM, "out of memory");
    /* the file element of each index (a column-major file: its Fortran-order position) */
    for (uint64_t i = 0; rc == STRATA_OK && i < n; i++) {
        uint64_t f = index[i];
        if (src.rec.layout == STRATA_LAYOUT_COL) {
            uint64_t c[ST_ND_MAXDIMS];
            list_coords(as, index[i], c);
            f = 0;
            for (int d = as->ndims - 1; d >= 0; d--) f = f * as->dims[d] + c[d];
        }
        l.e[i].f = f;
        l.e[i].pos = i;
    }
    if (rc == STRATA_OK) qsort(l.e, n, sizeof *l.e, ient_cmp);
    const char *strategy = "independent";
    if (rc == STRATA_OK && src.rec.layout == STRATA_LAYOUT_CHUNKED) {
        strategy = "chunked";
        rc = list_chunked(&l);
    } else if (rc == STRATA_OK) {
        rc = list_contiguous(&l, &strategy);
    }
    free(l.e);
    source_free(&src);
    rc = st_mdms_agree(m, rc);
    uint64_t treq = st_mdms_sum(m, l.requests), tbytes = st_mdms_sum(m, l.bytes);
    double secs = st_mdms_max(m, st_mono_s() - t0);
    if (rc == STRATA_OK && m->rank == 0)
        st_mdms_event(m, as->run, name, iteration, "load-list", strategy, treq, tbytes, secs);
    memset(&as->last, 0, sizeof as->last);
    snprintf(as->last.strategy, sizeof as->last.strategy, "%s", strategy);
    as->last.procs = m->size;
    as->last.requests = l.requests;
    as->last.bytes = l.bytes;
    as->last.useful = n * as->esz;
    as->last.seconds = secs;
    return rc;
}
