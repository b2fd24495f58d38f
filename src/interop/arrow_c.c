/*
 * arrow_c.c -- the Arrow C Data and C Stream interfaces: a snapshot exported as an
 * ArrowArrayStream, zero-copy, and an ArrowArrayStream ingested as batches.
 *
 * Export (strata_snapshot_arrow_stream): the stream opens its own snapshot of the same version,
 * so it outlives the caller's; each batch becomes one struct array whose children point into the
 * mapped batch files: values, large_utf8 offsets and bytes (Strata's string layout is exactly
 * Arrow's large_utf8), validity bitmaps as stored. Only bool columns are converted (Arrow packs
 * bools into bits, Strata keeps a byte each). The stream and every array it produced hold a
 * reference; the snapshot is closed when the last of them is released, from any thread.
 *
 * Import (strata_ingest_arrow_stream): a stream of struct arrays becomes batches of a dataset
 * through the ingest machinery (ingest.h): one batch per array, one publish, nothing on error.
 * Values, large_utf8 strings and validity bitmaps are appended in place when the arrays have no
 * offset; otherwise, and for bool, utf8 (int32 offsets), date32 and other timestamp units, they
 * are converted first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/interop_int.h"
#include "util/bits.h"
#include "util/dtype.h"
#include "util/parse.h"

/* ---- export ------------------------------------------------------------------------------- */

/* What a stream and its arrays share. */
typedef struct {
    int refs; /* atomic: the stream and each live array */
    strata_snapshot *s;
    int ncols;
    int *cols;
    strata_dataset_desc d;
    uint64_t next; /* the next batch */
    char error[512];
} xshare;

static void share_put(xshare *x)
{
    if (__atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    strata_snapshot_close(x->s);
    free(x->cols);
    free(x);
}

static const char *arrow_format(strata_dtype dt)
{
    static const char *const f[] = {
        [STRATA_I8] = "c",      [STRATA_I16] = "s", [STRATA_I32] = "i",  [STRATA_I64] = "l",
        [STRATA_U8] = "C",      [STRATA_U16] = "S", [STRATA_U32] = "I",  [STRATA_U64] = "L",
        [STRATA_F32] = "f",     [STRATA_F64] = "g", [STRATA_BOOL] = "b", [STRATA_STR] = "U",
        [STRATA_TS] = "tsn:UTC"};
    return (unsigned)dt < sizeof f / sizeof f[0] && f[dt] ? f[dt] : "n";
}

static void schema_release(struct ArrowSchema *sc)
{
    for (int64_t i = 0; i < sc->n_children; i++) {
        struct ArrowSchema *c = sc->children[i];
        if (c->release != NULL) c->release(c);
    }
    free(sc->private_data); /* the children and their pointers, names copied in */
    sc->release = NULL;
}

static void child_schema_release(struct ArrowSchema *sc)
{
    sc->release = NULL;
}

/* SC := the struct schema of X's columns (names copied: valid after the stream is gone). */
static int make_schema(const xshare *x, struct ArrowSchema *sc)
{
    size_t names = 0;
    for (int i = 0; i < x->ncols; i++) names += strlen(x->d.columns[x->cols[i]].name) + 1;
    size_t n = (size_t)x->ncols;
    char *mem = calloc(1, n * (sizeof(struct ArrowSchema) + sizeof(struct ArrowSchema *)) + names);
    if (mem == NULL) return ENOMEM;
    struct ArrowSchema *kids = (struct ArrowSchema *)(void *)mem;
    struct ArrowSchema **ptrs = (struct ArrowSchema **)(void *)(kids + n);
    char *name = (char *)(ptrs + n);
    for (size_t i = 0; i < n; i++) {
        const strata_column *c = &x->d.columns[x->cols[i]];
        size_t len = strlen(c->name) + 1;
        memcpy(name, c->name, len);
        kids[i] = (struct ArrowSchema){.format = arrow_format(c->dtype),
                                       .name = name,
                                       .flags = ARROW_FLAG_NULLABLE,
                                       .release = child_schema_release};
        ptrs[i] = &kids[i];
        name += len;
    }
    *sc = (struct ArrowSchema){.format = "+s",
                               .name = "",
                               .n_children = (int64_t)n,
                               .children = ptrs,
                               .release = schema_release,
                               .private_data = mem};
    return 0;
}

/* One exported batch: its struct array, the children, their buffer lists and packed bools. */
typedef struct {
    xshare *x;
    struct ArrowArray *kids;
    struct ArrowArray **ptrs;
    const void **bufs; /* 3 per child, then 1 for the struct */
    uint8_t **packed;  /* per child: a bool column's bits, or NULL */
} xbatch;

static void child_release(struct ArrowArray *a)
{
    a->release = NULL;
}

static void batch_release(struct ArrowArray *a)
{
    xbatch *xb = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++) free(xb->packed[i]);
    xshare *x = xb->x;
    free(xb->kids);
    free(xb->ptrs);
    free(xb->bufs);
    free(xb->packed);
    free(xb);
    a->release = NULL;
    share_put(x);
}

/* Child I of batch B (NROWS rows) into XB. */
static int make_child(xshare *x, xbatch *xb, int i, uint64_t b, uint64_t nrows)
{
    int col = x->cols[i];
    strata_dtype dt = x->d.columns[col].dtype;
    const void **buf = &xb->bufs[3 * i];
    const uint8_t *valid;
    strata_column_stats cs;
    int rc = strata_snapshot_map_valid(x->s, b, col, &valid);
    if (rc == STRATA_OK) rc = strata_snapshot_stats(x->s, b, col, &cs);
    if (rc < 0) return rc;
    buf[0] = valid;
    int nbuf = 2;
    if (dt == STRATA_STR) {
        const int64_t *off;
        const char *bytes;
        if ((rc = strata_snapshot_map_str(x->s, b, col, &off, &bytes)) < 0) return rc;
        buf[1] = off;
        buf[2] = bytes != NULL ? bytes : "";
        nbuf = 3;
    } else {
        const void *data;
        if ((rc = strata_snapshot_map(x->s, b, col, &data)) < 0) return rc;
        buf[1] = data;
        if (dt == STRATA_BOOL) { /* bytes to bits */
            uint8_t *bits = calloc(st_bits_bytes(nrows) + 1, 1);
            if (bits == NULL) return STRATA_ENOMEM;
            for (uint64_t r = 0; r < nrows; r++)
                if (((const uint8_t *)data)[r]) st_bit_set(bits, r, 1);
            xb->packed[i] = bits;
            buf[1] = bits;
        }
    }
    xb->kids[i] = (struct ArrowArray){.length = (int64_t)nrows,
                                      .null_count = (int64_t)cs.nulls,
                                      .n_buffers = nbuf,
                                      .buffers = buf,
                                      .release = child_release};
    xb->ptrs[i] = &xb->kids[i];
    return STRATA_OK;
}

static int stream_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    xshare *x = st->private_data;
    memset(out, 0, sizeof *out);
    if (x->next >= x->d.nbatches) return 0; /* the end: out->release is NULL */
    uint64_t b = x->next;
    strata_batch_info bi;
    size_t n = (size_t)x->ncols;
    xbatch *xb = calloc(1, sizeof *xb);
    int rc = xb != NULL ? strata_snapshot_batch(x->s, b, &bi) : STRATA_ENOMEM;
    if (rc == STRATA_OK) {
        xb->kids = calloc(n + 1, sizeof *xb->kids);
        xb->ptrs = calloc(n + 1, sizeof *xb->ptrs);
        xb->bufs = calloc(3 * n + 1, sizeof *xb->bufs);
        xb->packed = calloc(n + 1, sizeof *xb->packed);
        if (!xb->kids || !xb->ptrs || !xb->bufs || !xb->packed) rc = STRATA_ENOMEM;
    }
    for (int i = 0; i < x->ncols && rc == STRATA_OK; i++) rc = make_child(x, xb, i, b, bi.nrows);
    if (rc < 0) {
        snprintf(x->error, sizeof x->error, "%s",
                 rc == STRATA_ENOMEM ? "out of memory" : strata_errmsg(st_snapshot_pool(x->s)));
        for (size_t i = 0; xb != NULL && xb->packed != NULL && i < n; i++) free(xb->packed[i]);
        if (xb != NULL) {
            free(xb->kids);
            free(xb->ptrs);
            free(xb->bufs);
            free(xb->packed);
        }
        free(xb);
        return rc == STRATA_ENOMEM ? ENOMEM : EIO;
    }
    __atomic_add_fetch(&x->refs, 1, __ATOMIC_ACQ_REL);
    xb->x = x;
    xb->bufs[3 * n] = NULL; /* the struct has no nulls */
    *out = (struct ArrowArray){.length = (int64_t)bi.nrows,
                               .n_buffers = 1,
                               .n_children = (int64_t)n,
                               .buffers = &xb->bufs[3 * n],
                               .children = xb->ptrs,
                               .release = batch_release,
                               .private_data = xb};
    x->next++;
    return 0;
}

static int stream_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    return make_schema(st->private_data, out);
}

static const char *stream_error(struct ArrowArrayStream *st)
{
    xshare *x = st->private_data;
    return x->error[0] ? x->error : NULL;
}

static void stream_release(struct ArrowArrayStream *st)
{
    share_put(st->private_data);
    st->release = NULL;
}

int strata_snapshot_arrow_stream(strata_snapshot *s, const int *cols, int ncols,
                                 struct ArrowArrayStream *out)
{
    if (s == NULL || out == NULL) return STRATA_EINVAL;
    memset(out, 0, sizeof *out);
    strata_pool *pool = st_snapshot_pool(s);
    st_err *err = st_pool_err(pool);
    xshare *x = calloc(1, sizeof *x);
    if (x == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    x->refs = 1;
    const st_cat_dataset *rec = st_snapshot_rec(s);
    int rc = strata_snapshot_open(pool, rec->region, rec->name, st_snapshot_version(s), &x->s);
    if (rc == STRATA_OK) rc = strata_snapshot_info(x->s, &x->d);
    x->ncols = cols != NULL ? ncols : x->d.ncols;
    if (rc == STRATA_OK && x->ncols < 1) rc = st_error(err, STRATA_EINVAL, "no columns to export");
    if (rc == STRATA_OK && (x->cols = malloc((size_t)x->ncols * sizeof *x->cols)) == NULL)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; rc == STRATA_OK && i < x->ncols; i++) {
        x->cols[i] = cols != NULL ? cols[i] : i;
        if (x->cols[i] < 0 || x->cols[i] >= x->d.ncols)
            rc = st_error(err, STRATA_ERANGE, "column index %d is out of range", x->cols[i]);
        else if (strata_snapshot_column_ready(x->s, x->cols[i]) != 1)
            rc = st_error(err, STRATA_ESTALE,
                          "column '%s' of '%s/%s' is not computed for every batch; run 'strata "
                          "update %s/%s'",
                          x->d.columns[x->cols[i]].name, x->d.region, x->d.name, x->d.region,
                          x->d.name);
    }
    if (rc < 0) {
        share_put(x);
        return rc;
    }
    *out = (struct ArrowArrayStream){.get_schema = stream_schema,
                                     .get_next = stream_next,
                                     .get_last_error = stream_error,
                                     .release = stream_release,
                                     .private_data = x};
    return STRATA_OK;
}

/* ---- import ------------------------------------------------------------------------------- */

/* How an Arrow format string maps to a dtype: the dtype, and the nanoseconds per unit of a
 * timestamp or date (0 for other types), or -1 when Strata does not read it. */
static int import_type(const char *f, strata_dtype *dt, int64_t *scale)
{
    static const struct {
        const char *f;
        strata_dtype dt;
    } plain[] = {{"b", STRATA_BOOL}, {"c", STRATA_I8},  {"C", STRATA_U8},  {"s", STRATA_I16},
                 {"S", STRATA_U16},  {"i", STRATA_I32}, {"I", STRATA_U32}, {"l", STRATA_I64},
                 {"L", STRATA_U64},  {"f", STRATA_F32}, {"g", STRATA_F64}, {"U", STRATA_STR},
                 {"u", STRATA_STR}};
    *scale = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(f, plain[i].f) == 0) {
            *dt = plain[i].dt;
            return 0;
        }
    *dt = STRATA_TS;
    if (strcmp(f, "tdD") == 0) *scale = INT64_C(86400000000000);
    if (strcmp(f, "tdm") == 0) *scale = 1000000;
    if (strncmp(f, "ts", 2) == 0 && f[2] != '\0' && f[3] == ':') {
        static const char units[] = "smun";
        static const int64_t ns[] = {1000000000, 1000000, 1000, 1};
        const char *u = strchr(units, f[2]);
        if (u != NULL) *scale = ns[u - units];
    }
    return *scale > 0 ? 0 : -1;
}

/* One import: the stream's columns and the buffers converted for the current array. */
typedef struct {
    st_ingest *g;
    st_err *err;
    int n;
    strata_column *cols;
    const char **formats;
    int64_t *scale;
    st_colbuf *bufs;  /* per stream column */
    st_colbuf *sbufs; /* the same in schema order */
    int *order;       /* stream column -> schema column */
    void **owned;     /* per column, up to 3 allocations of the current array */
    const char *source;
    uint64_t bytes_read;
} ximport;

static void *own(ximport *im, int c, size_t bytes)
{
    void **slot = &im->owned[3 * c];
    while (*slot != NULL) slot++;
    return *slot = malloc(bytes + 8);
}

static void drop_owned(ximport *im)
{
    if (im->owned == NULL) return;
    for (int i = 0; i < 3 * im->n; i++) {
        free(im->owned[i]);
        im->owned[i] = NULL;
    }
}

/* The validity of rows [OFF, OFF + N) of A into B->valid (in place when byte-aligned). */
static int import_valid(ximport *im, int c, const struct ArrowArray *a, int64_t off, uint64_t n)
{
    const uint8_t *v = a->n_buffers > 0 ? a->buffers[0] : NULL;
    im->bufs[c].valid = NULL;
    if (v == NULL || a->null_count == 0) return STRATA_OK;
    if ((off & 7) == 0) {
        im->bufs[c].valid = v + (off >> 3);
        return STRATA_OK;
    }
    uint8_t *bits = own(im, c, st_bits_bytes(n));
    if (bits == NULL) return STRATA_ENOMEM;
    st_bits_copy(bits, 0, v, (uint64_t)off, n);
    im->bufs[c].valid = bits;
    return STRATA_OK;
}

/* Column C of the struct array's child A (rows [OFF, OFF + N) of its buffers) into bufs[C]. */
static int import_column(ximport *im, int c, const struct ArrowArray *a, int64_t off, uint64_t n)
{
    st_colbuf *b = &im->bufs[c];
    strata_dtype dt = im->cols[c].dtype;
    const char *f = im->formats[c];
    b->n = n;
    b->dtype = dt;
    if (a->n_buffers < (dt == STRATA_STR ? 3 : 2))
        return st_error(im->err, STRATA_EINVAL, "arrow column '%s' (%s) has %lld buffers",
                        im->cols[c].name, f, (long long)a->n_buffers);
    int rc = import_valid(im, c, a, off, n);
    if (rc < 0) return rc;
    if (dt == STRATA_STR && f[0] == 'U') {
        b->v = (char *)((const int64_t *)a->buffers[1] + off);
        b->bytes = (char *)a->buffers[2];
    } else if (dt == STRATA_STR) { /* utf8: int32 offsets */
        int64_t *o = own(im, c, (n + 1) * 8);
        if (o == NULL) return STRATA_ENOMEM;
        for (uint64_t i = 0; i <= n; i++) o[i] = ((const int32_t *)a->buffers[1])[off + (int64_t)i];
        b->v = (char *)o;
        b->bytes = (char *)a->buffers[2];
    } else if (dt == STRATA_BOOL) {
        uint8_t *bytes = own(im, c, n);
        if (bytes == NULL) return STRATA_ENOMEM;
        for (uint64_t i = 0; i < n; i++)
            bytes[i] = (uint8_t)st_bit(a->buffers[1], (uint64_t)off + i);
        b->v = (char *)bytes;
    } else if (dt == STRATA_TS && (im->scale[c] != 1 || f[1] == 'd')) {
        int64_t *t = own(im, c, n * 8);
        if (t == NULL) return STRATA_ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            int64_t v = f[1] == 'd' && f[2] == 'D'
                            ? ((const int32_t *)a->buffers[1])[off + (int64_t)i]
                            : ((const int64_t *)a->buffers[1])[off + (int64_t)i];
            if (__builtin_mul_overflow(v, im->scale[c], &t[i]) && st_bit(b->valid, i))
                return st_error(im->err, STRATA_ERANGE,
                                "arrow column '%s' row %llu: the timestamp is outside the "
                                "nanosecond range (years 1677 to 2262)",
                                im->cols[c].name, (unsigned long long)i);
        }
        b->v = (char *)t;
    } else {
        b->v = (char *)a->buffers[1] + (size_t)off * strata_dtype_size(dt);
    }
    if (dt == STRATA_STR) {
        const int64_t *o = (const int64_t *)(const void *)b->v;
        size_t len = (size_t)(o[n] - o[0]), ok;
        if (len > 0 && (ok = st_utf8_valid_prefix(b->bytes + o[0], len)) != len)
            return st_error(im->err, STRATA_EINVAL,
                            "arrow column '%s': invalid UTF-8 at byte %zu of the strings",
                            im->cols[c].name, ok + 1);
    }
    return STRATA_OK;
}

/* The stream's schema: a struct of supported columns. */
static int import_schema(ximport *im, struct ArrowSchema *sc)
{
    if (sc->format == NULL || strcmp(sc->format, "+s") != 0)
        return st_error(im->err, STRATA_EUNSUPPORTED,
                        "an arrow stream of '%s' arrays: Strata ingests struct arrays (record "
                        "batches)",
                        sc->format ? sc->format : "?");
    if (sc->n_children < 1 || sc->n_children > STRATA_MAX_COLUMNS)
        return st_error(im->err, STRATA_EINVAL, "an arrow stream of %lld columns",
                        (long long)sc->n_children);
    im->n = (int)sc->n_children;
    size_t n = (size_t)im->n;
    im->cols = calloc(n, sizeof *im->cols);
    im->formats = calloc(n, sizeof *im->formats);
    im->scale = calloc(n, sizeof *im->scale);
    im->bufs = calloc(n, sizeof *im->bufs);
    im->owned = calloc(3 * n, sizeof *im->owned);
    im->sbufs = calloc(n, sizeof *im->sbufs);
    im->order = calloc(n, sizeof *im->order);
    if (!im->cols || !im->formats || !im->scale || !im->bufs || !im->owned || !im->sbufs ||
        !im->order)
        return st_error(im->err, STRATA_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct ArrowSchema *c = sc->children[i];
        im->cols[i].name = c->name ? c->name : "";
        im->formats[i] = c->format;
        if (import_type(c->format, &im->cols[i].dtype, &im->scale[i]) < 0)
            return st_error(im->err, STRATA_EUNSUPPORTED,
                            "arrow column '%s' has type '%s', which Strata does not read (it "
                            "reads bool, integers, floats, utf8, large_utf8, timestamps and "
                            "dates)",
                            im->cols[i].name, c->format);
    }
    return STRATA_OK;
}

/* Feed struct array A as one batch. */
static int import_array(ximport *im, const struct ArrowArray *a)
{
    if (a->n_children != im->n)
        return st_error(im->err, STRATA_EINVAL, "an arrow array of %lld columns; the schema has %d",
                        (long long)a->n_children, im->n);
    if (a->null_count != 0 && a->n_buffers > 0 && a->buffers[0] != NULL)
        return st_error(im->err, STRATA_EUNSUPPORTED,
                        "an arrow record batch with null rows (nulls of the struct itself)");
    int rc = STRATA_OK;
    uint64_t n = (uint64_t)a->length;
    for (int c = 0; c < im->n && rc == STRATA_OK; c++)
        rc = import_column(im, c, a->children[c], a->offset + a->children[c]->offset, n);
    for (int c = 0; c < im->n && rc == STRATA_OK; c++) im->sbufs[im->order[c]] = im->bufs[c];
    if (rc == STRATA_OK) rc = st_ingest_feed(im->g, im->sbufs, n, im->bytes_read);
    if (rc == STRATA_OK) rc = st_ingest_unit_done(im->g);
    drop_owned(im);
    return rc;
}

static int import_stream(ximport *im, struct ArrowArrayStream *st)
{
    struct ArrowSchema sc = {0};
    int rc = st->get_schema(st, &sc);
    if (rc != 0) {
        const char *e = st->get_last_error ? st->get_last_error(st) : NULL;
        return st_error(im->err, rc == ENOMEM ? STRATA_ENOMEM : STRATA_EIO,
                        "the arrow stream gave no schema: %s", e ? e : strerror(rc));
    }
    rc = import_schema(im, &sc);
    if (rc == STRATA_OK) rc = st_ingest_bind(im->g, im->cols, im->n, im->source, im->order);
    while (rc == STRATA_OK) {
        struct ArrowArray a = {0};
        int e = st->get_next(st, &a);
        if (e != 0) {
            const char *msg = st->get_last_error ? st->get_last_error(st) : NULL;
            /* a stream of Strata's own (an IPC file) has put its message in the pool already */
            rc = msg == NULL && e == EIO
                     ? STRATA_EIO
                     : st_error(im->err, e == ENOMEM ? STRATA_ENOMEM : STRATA_EIO,
                                "the arrow stream failed: %s", msg ? msg : strerror(e));
            break;
        }
        if (a.release == NULL) break; /* the end */
        rc = import_array(im, &a);
        a.release(&a);
    }
    if (sc.release != NULL) sc.release(&sc); /* names used until here */
    return rc;
}

int st_arrow_import(st_ingest *g, struct ArrowArrayStream *stream, const char *source,
                    uint64_t bytes_read)
{
    ximport im = {.g = g, .err = st_ingest_err(g), .source = source, .bytes_read = bytes_read};
    int rc = import_stream(&im, stream);
    drop_owned(&im);
    free(im.cols);
    free(im.formats);
    free(im.scale);
    free(im.bufs);
    free(im.sbufs);
    free(im.order);
    free(im.owned);
    return rc;
}

int strata_ingest_arrow_stream(strata_pool *pool, const char *region, const char *name,
                               struct ArrowArrayStream *stream, const strata_ingest_opts *opts,
                               strata_ingest_stats *stats)
{
    st_ingest *g;
    int rc = st_ingest_begin(pool, region, name, opts, stats, &g);
    if (rc == STRATA_OK && (stream == NULL || stream->release == NULL))
        rc = st_error(st_ingest_err(g), STRATA_EINVAL, "no arrow stream (or one already released)");
    else if (rc == STRATA_OK)
        rc = st_arrow_import(g, stream, "the arrow stream", 0);
    if (stream != NULL && stream->release != NULL) stream->release(stream);
    return g != NULL ? st_ingest_end(g, rc) : rc;
}
