/*
 * api.c -- the JSON API of `strata serve` (docs/http.md): regions, datasets (schema, batches,
 * versions, lineage, pages of rows, columns as binary, statistics), N-d arrays (info, regions as
 * JSON or binary, statistics), applications, runs and saved iterations, tiers, derive, update
 * (a background job with progress), application registration and code snippets.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static int seg_is(const srv_req *q, int i, const char *s)
{
    return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

/* An unsigned integer argument NAME (DEF if absent) in [0, MAX]; -1 and an error if bad. */
static int arg_u64(const srv_req *q, srv_reply *r, const char *name, uint64_t def, uint64_t max,
                   uint64_t *out)
{
    const char *v = srv_arg(q, name);
    *out = def;
    if (v == NULL || *v == 0) return 0;
    char *end;
    errno = 0;
    if (*v == '-' || (*out = strtoull(v, &end, 10), *end) || errno || *out > max) {
        srv_error(r, 400, "EINVAL", "query argument %s=%s: need a whole number from 0 to %" PRIu64,
                  name, v, max);
        return -1;
    }
    return 0;
}

static json_t *dtype_json(strata_dtype t)
{
    return json_string(strata_dtype_name(t));
}

static json_t *real_json(double d)
{
    return isfinite(d) ? json_real(d) : json_null();
}

/* Element I of P as JSON: integers exactly, NaN and infinities as null. */
static json_t *value_json(strata_dtype t, const void *p, uint64_t i)
{
    switch (t) {
    case STRATA_I8:
        return json_integer(((const int8_t *)p)[i]);
    case STRATA_I16:
        return json_integer(((const int16_t *)p)[i]);
    case STRATA_I32:
        return json_integer(((const int32_t *)p)[i]);
    case STRATA_I64:
        return json_integer(((const int64_t *)p)[i]);
    case STRATA_U8:
        return json_integer(((const uint8_t *)p)[i]);
    case STRATA_U16:
        return json_integer(((const uint16_t *)p)[i]);
    case STRATA_U32:
        return json_integer(((const uint32_t *)p)[i]);
    case STRATA_U64: {
        uint64_t u = ((const uint64_t *)p)[i];
        return u <= INT64_MAX ? json_integer((json_int_t)u) : json_real((double)u);
    }
    case STRATA_BOOL:
        return json_boolean(((const uint8_t *)p)[i]);
    case STRATA_F32:
        return real_json(((const float *)p)[i]);
    case STRATA_F64:
        return real_json(((const double *)p)[i]);
    case STRATA_TS: {
        char ts[STRATA_TS_FORMAT_MAX];
        strata_ts_format(((const int64_t *)p)[i], ts);
        return json_string(ts);
    }
    default:
        return json_null();
    }
}

static int push_name(void *ctx, const char *name)
{
    json_array_append_new(ctx, json_string(name));
    return 0;
}

/* ---- statistics ----------------------------------------------------------------------------- */

static json_t *stats_json(const strata_summary *st)
{
    json_t *h = json_array();
    for (int i = 0; i < STRATA_HIST_BINS; i++)
        json_array_append_new(h, json_integer((json_int_t)st->hist[i]));
    json_t *o = json_pack("{s:I,s:I,s:o,s:I,s:b,s:f}", "count", (json_int_t)st->count, "nan",
                          (json_int_t)st->nan, "histogram", h, "version", (json_int_t)st->version,
                          "cached", st->cached, "seconds", st->seconds);
    if (st->count) {
        json_object_set_new(o, "min", json_real(st->min));
        json_object_set_new(o, "max", json_real(st->max));
        json_object_set_new(o, "mean", json_real(st->mean));
        json_object_set_new(o, "std", json_real(st->std));
    }
    return o;
}

/* ---- previews of 2-D slices of any size -------------------------------------------------------
 */

/* Element I of P (of dtype T) as a double (timestamps: nanoseconds). */
static double elem_double(strata_dtype t, const void *p, uint64_t i)
{
    switch (t) {
    case STRATA_I8:
        return ((const int8_t *)p)[i];
    case STRATA_I16:
        return ((const int16_t *)p)[i];
    case STRATA_I32:
        return ((const int32_t *)p)[i];
    case STRATA_U8:
    case STRATA_BOOL:
        return ((const uint8_t *)p)[i];
    case STRATA_U16:
        return ((const uint16_t *)p)[i];
    case STRATA_U32:
        return ((const uint32_t *)p)[i];
    case STRATA_U64:
        return (double)((const uint64_t *)p)[i];
    case STRATA_F32:
        return ((const float *)p)[i];
    case STRATA_F64:
        return ((const double *)p)[i];
    default:
        return (double)((const int64_t *)p)[i];
    }
}

enum { RED_STRIDE, RED_MEAN, RED_MIN, RED_MAX };

/* Pool the tile BUF (TR rows x TC columns, row-major, of dtype T) into OUT (cells of SR x SC
 * elements; the tile's first cell is output cell (OR, OC) of an output W cells wide): sums and
 * counts for the mean (NaNs left out), else the extremes. */
static void pool_tile(strata_dtype t, const void *buf, uint64_t tr, uint64_t tc, uint64_t sr,
                      uint64_t sc, int red, double *acc, uint64_t *cnt, uint64_t or, uint64_t oc,
                      uint64_t w)
{
    for (uint64_t i = 0; i < tr; i++)
        for (uint64_t j = 0; j < tc; j++) {
            double v = elem_double(t, buf, i * tc + j);
            if (isnan(v)) continue;
            uint64_t o = (or +i / sr) * w + oc + j / sc;
            if (red == RED_MEAN)
                acc[o] += v;
            else if (cnt[o] == 0 || (red == RED_MIN ? v < acc[o] : v > acc[o]))
                acc[o] = v;
            cnt[o]++;
        }
}

/* GET .../preview?start&count&width&height&reduce: the 2-D slice START + COUNT (leading counts
 * 1) reduced to at most WIDTH x HEIGHT cells, each a STEP of the slice's rows and columns: its
 * first element (reduce=stride: a strided read, touching only the chunks that hold those), or the
 * mean, minimum or maximum of its elements (read in tiles of at most 2^20 elements). */
static void api_preview(strata_ndarray *a, const strata_ndarray_desc *d, const srv_req *q,
                        const uint64_t *start, const uint64_t *count, srv_reply *r, strata_pool *p)
{
    int nd = d->ndims;
    for (int k = 0; k + 2 < nd; k++)
        if (count[k] != 1) {
            srv_error(r, 400, "EINVAL", "a preview is of a 2-D slice: count %d must be 1", k);
            return;
        }
    const char *ws = srv_arg(q, "width"), *hs = srv_arg(q, "height"), *rs = srv_arg(q, "reduce");
    uint64_t w = ws ? strtoull(ws, NULL, 10) : 512, h = hs ? strtoull(hs, NULL, 10) : 512;
    int red = rs == NULL || strcmp(rs, "mean") == 0 ? RED_MEAN
              : strcmp(rs, "stride") == 0           ? RED_STRIDE
              : strcmp(rs, "min") == 0              ? RED_MIN
              : strcmp(rs, "max") == 0              ? RED_MAX
                                                    : -1;
    if (w < 1 || w > 4096 || h < 1 || h > 4096 || red < 0) {
        srv_error(r, 400, "EINVAL",
                  "preview: width and height are 1 to 4096, reduce is mean, min, max or stride");
        return;
    }
    uint64_t R = nd >= 2 ? count[nd - 2] : 1, C = count[nd - 1];
    uint64_t sr = (R + h - 1) / h, sc = (C + w - 1) / w, orr = (R + sr - 1) / sr,
             oc = (C + sc - 1) / sc, cells = orr * oc;
    /* cells of over 2^20 elements each (a slice of over 10^12): their first elements, so that
     * memory stays the cells and one tile whatever the slice */
    if (red != RED_STRIDE && sr * sc > ((uint64_t)1 << 20)) {
        red = RED_STRIDE;
        rs = "stride";
    }
    double *acc = calloc(cells + 1, sizeof *acc);
    uint64_t *cnt = calloc(cells + 1, sizeof *cnt);
    size_t esz = strata_dtype_size(d->dtype);
    uint64_t st[STRATA_ND_MAXDIMS], ct[STRATA_ND_MAXDIMS], stride[STRATA_ND_MAXDIMS];
    memcpy(st, start, (size_t)nd * sizeof *st);
    for (int k = 0; k < nd; k++) ct[k] = 1, stride[k] = 1;
    int rc = acc && cnt ? STRATA_OK : STRATA_ENOMEM;
    void *buf = NULL;
    if (rc == STRATA_OK && red == RED_STRIDE) {
        if (nd >= 2) ct[nd - 2] = orr, stride[nd - 2] = sr;
        ct[nd - 1] = oc;
        stride[nd - 1] = sc;
        rc = (buf = malloc(cells * esz + 1)) ? strata_ndarray_read_strided(a, st, ct, stride, buf)
                                             : STRATA_ENOMEM;
        for (uint64_t i = 0; rc == STRATA_OK && i < cells; i++) {
            acc[i] = elem_double(d->dtype, buf, i);
            cnt[i] = !isnan(acc[i]);
        }
    } else if (rc == STRATA_OK) {
        /* tiles of whole cells: MR cell rows by MC cell columns, at most 2^20 elements */
        uint64_t cell = sr * sc, mc = oc, mr;
        while (mc > 1 && cell * mc > ((uint64_t)1 << 20)) mc = (mc + 1) / 2;
        mr = ((uint64_t)1 << 20) / (cell * mc);
        mr = mr < 1 ? 1 : mr;
        rc = (buf = malloc(mr * sr * mc * sc * esz + 1)) ? STRATA_OK : STRATA_ENOMEM;
        for (uint64_t i = 0; rc == STRATA_OK && i < orr; i += mr)
            for (uint64_t j = 0; rc == STRATA_OK && j < oc; j += mc) {
                uint64_t r0 = i * sr, c0 = j * sc;
                uint64_t tr = (i + mr) * sr < R ? mr * sr : R - r0;
                uint64_t tc = (j + mc) * sc < C ? mc * sc : C - c0;
                if (nd >= 2) st[nd - 2] = start[nd - 2] + r0, ct[nd - 2] = tr;
                st[nd - 1] = start[nd - 1] + c0;
                ct[nd - 1] = tc;
                rc = strata_ndarray_read(a, st, ct, buf);
                if (rc == STRATA_OK)
                    pool_tile(d->dtype, buf, tr, tc, sr, sc, red, acc, cnt, i, j, oc);
            }
    }
    free(buf);
    if (rc < 0) {
        srv_fail(r, p, rc);
    } else {
        json_t *vals = json_array();
        for (uint64_t i = 0; i < cells; i++)
            json_array_append_new(vals, cnt[i] == 0       ? json_null()
                                        : red == RED_MEAN ? real_json(acc[i] / (double)cnt[i])
                                                          : real_json(acc[i]));
        r->json = json_pack("{s:o,s:[I,I],s:[I,I],s:s,s:o}", "dtype", dtype_json(d->dtype), "shape",
                            (json_int_t)orr, (json_int_t)oc, "step", (json_int_t)sr, (json_int_t)sc,
                            "reduce", rs ? rs : "mean", "data", vals);
    }
    free(acc);
    free(cnt);
}

/* ---- plain arrays -----------------------------------------------------------------------------
 */

static int push_plain(void *ctx, const strata_array_info *a)
{
    json_array_append_new(ctx, json_pack("{s:s,s:o,s:I,s:I}", "name", a->name, "dtype",
                                         dtype_json(a->dtype), "length", (json_int_t)a->length,
                                         "bytes", (json_int_t)a->bytes));
    return 0;
}

/* The statistics of the N elements of A (numeric): two passes in slabs of 2^20 elements. */
static int plain_summary(strata_array *a, strata_dtype t, uint64_t n, strata_summary *st)
{
    enum { SLAB = 1 << 20 };
    size_t esz = strata_dtype_size(t);
    char *buf = malloc((size_t)SLAB * esz);
    if (buf == NULL) return STRATA_ENOMEM;
    memset(st, 0, sizeof *st);
    double sum = 0, sq = 0;
    int rc = STRATA_OK;
    for (int pass = 0; pass < 2 && rc == STRATA_OK; pass++)
        for (uint64_t at = 0; at < n && rc == STRATA_OK; at += SLAB) {
            uint64_t k = n - at < SLAB ? n - at : SLAB;
            if ((rc = strata_array_get(a, at, k, buf)) < 0) break;
            for (uint64_t i = 0; i < k; i++) {
                double v = elem_double(t, buf, i);
                if (isnan(v)) {
                    st->nan += pass == 0;
                    continue;
                }
                if (pass == 0) {
                    st->min = st->count == 0 || v < st->min ? v : st->min;
                    st->max = st->count == 0 || v > st->max ? v : st->max;
                    st->count++;
                    sum += v;
                    continue;
                }
                double d = v - sum / (double)st->count;
                sq += d * d;
                double span = st->max - st->min;
                int b = span > 0 ? (int)((v - st->min) / span * STRATA_HIST_BINS) : 0;
                st->hist[b >= STRATA_HIST_BINS ? STRATA_HIST_BINS - 1 : b]++;
            }
        }
    if (st->count > 0) {
        st->mean = sum / (double)st->count;
        st->std = sqrt(sq / (double)st->count);
    }
    free(buf);
    return rc;
}

/* GET /api/plain/{region}/{name}[/values?start&count | /stats]: a plain array's info, a page of
 * its values (at most the JSON region limit), or its statistics. */
static void api_plain(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                      const char *name, const char *what, srv_reply *r)
{
    strata_array *a;
    int rc = strata_array_open(p, region, name, &a);
    if (rc < 0) {
        srv_fail(r, p, rc);
        return;
    }
    strata_array_info info;
    strata_array_stat(a, 0, &info);
    uint64_t start, count;
    if (what == NULL) {
        r->json = json_pack("{s:s,s:s,s:o,s:I,s:I}", "region", region, "name", name, "dtype",
                            dtype_json(info.dtype), "length", (json_int_t)info.length, "bytes",
                            (json_int_t)info.bytes);
    } else if (info.dtype == STRATA_STR) {
        srv_error(r, 400, "ETYPE", "array '%s/%s' holds strings: its values are not shown here",
                  region, name);
    } else if (strcmp(what, "stats") == 0) {
        strata_summary st;
        if ((rc = plain_summary(a, info.dtype, info.length, &st)) < 0)
            srv_fail(r, p, rc);
        else
            r->json = stats_json(&st);
    } else if (arg_u64(q, r, "start", 0, info.length, &start) == 0 &&
               arg_u64(q, r, "count", 100, sv->max_elements, &count) == 0) {
        if (count > info.length - start) count = info.length - start;
        size_t esz = strata_dtype_size(info.dtype);
        char *buf = malloc(count * esz + 1);
        rc = buf ? strata_array_get(a, start, count, buf) : STRATA_ENOMEM;
        if (rc < 0) {
            srv_fail(r, p, rc);
        } else {
            json_t *vals = json_array();
            for (uint64_t i = 0; i < count; i++)
                json_array_append_new(vals, value_json(info.dtype, buf, i));
            r->json = json_pack("{s:o,s:I,s:I,s:o}", "dtype", dtype_json(info.dtype), "length",
                                (json_int_t)info.length, "start", (json_int_t)start, "data", vals);
        }
        free(buf);
    }
    strata_array_close(a);
}

/* ---- long computations ---------------------------------------------------------------------- */

/* A statistics computation of one request: the library asks work_check (its interrupt check)
 * before each slab, which takes the computing slot on its first call (so that a summary read
 * from the cache needs none), and stops the work at the deadline or when the client has gone. */
enum { WORK_GO, WORK_DEADLINE, WORK_GONE, WORK_BUSY_CLIENT, WORK_BUSY };
typedef struct work {
    srv *s;
    const srv_req *q;
    strata_pool *pool;
    int slot; /* holds a computing slot */
    int why;  /* WORK_*: why the check said stop */
} work;

static int work_check(void *ctx)
{
    work *w = ctx;
    if (!w->slot) {
        int busy = srv_heavy_take(w->s, w->q->client);
        if (busy) {
            w->why = busy == 1 ? WORK_BUSY_CLIENT : WORK_BUSY;
            return 1;
        }
        w->slot = 1;
    }
    if (srv_now() - w->q->started > w->s->deadline)
        w->why = WORK_DEADLINE;
    else if (w->q->gone && w->q->gone(w->q->gone_ctx))
        w->why = WORK_GONE;
    return w->why != WORK_GO;
}

static void work_begin(work *w, srv *s, const srv_req *q, strata_pool *p)
{
    *w = (work){s, q, p, 0, WORK_GO};
    strata_pool_set_interrupt(p, work_check, w);
}

/* End W. When RC is the cancellation it caused, set R to its reply and return 1. */
static int work_end(work *w, int rc, const char *what, srv_reply *r)
{
    strata_pool_set_interrupt(w->pool, NULL, NULL);
    if (w->slot) srv_heavy_give(w->s, w->q->client);
    if (rc != STRATA_ECANCELED || w->why == WORK_GO) return 0;
    double secs = srv_now() - w->q->started;
    switch (w->why) {
    case WORK_DEADLINE:
        srv_error(r, 503, "ETIMEDOUT",
                  "%s did not finish within the %g s deadline of a request (strata serve "
                  "--deadline); nothing was cached: ask for a smaller region",
                  what, w->s->deadline);
        break;
    case WORK_BUSY_CLIENT:
        srv_error(r, 503, "EBUSY",
                  "%s: statistics are already being computed for this client address (one at a "
                  "time); retry when they are done",
                  what);
        r->retry_after = 5;
        break;
    case WORK_BUSY:
        srv_error(r, 503, "EBUSY",
                  "%s: the server is computing %d statistics already, its limit (--threads minus "
                  "one); retry shortly",
                  what, w->s->max_heavy);
        r->retry_after = 5;
        break;
    default:
        srv_error(r, 503, "ECANCELED", "%s: stopped after %.1f s: the client closed the connection",
                  what, secs);
        break;
    }
    if (w->why == WORK_DEADLINE || w->why == WORK_GONE)
        fprintf(stderr, "strata serve: %s %.200s: %s, stopped after %.1f s\n", w->q->method,
                w->q->url, w->why == WORK_GONE ? "the client closed the connection" : "deadline",
                secs);
    return 1;
}

/* ---- regions and datasets ------------------------------------------------------------------- */

static void api_regions(strata_pool *p, srv_reply *r)
{
    json_t *names = json_array();
    int rc = strata_region_list(p, push_name, names);
    if (rc < 0) {
        json_decref(names);
        srv_fail(r, p, rc);
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        json_t *ds = json_array(), *nd = json_array(), *pl = json_array();
        strata_dataset_list(p, json_string_value(v), push_name, ds);
        strata_ndarray_list(p, json_string_value(v), push_name, nd);
        strata_array_list(p, json_string_value(v), push_plain, pl);
        json_array_append_new(out, json_pack("{s:O,s:I,s:I,s:I}", "name", v, "datasets",
                                             (json_int_t)json_array_size(ds), "arrays",
                                             (json_int_t)json_array_size(nd), "plain",
                                             (json_int_t)json_array_size(pl)));
        json_decref(ds);
        json_decref(nd);
        json_decref(pl);
    }
    json_decref(names);
    r->json = json_pack("{s:o}", "regions", out);
}

static json_t *columns_json(const strata_dataset_desc *d)
{
    json_t *cols = json_array();
    for (int i = 0; i < d->ncols; i++)
        json_array_append_new(cols, json_pack("{s:s,s:o}", "name", d->columns[i].name, "dtype",
                                              dtype_json(d->columns[i].dtype)));
    return cols;
}

static void api_region_datasets(strata_pool *p, const char *region, srv_reply *r)
{
    json_t *names = json_array(), *arrays = json_array();
    int rc = strata_region_exists(p, region);
    if (rc == STRATA_ENOTFOUND) {
        srv_error(r, 404, "ENOTFOUND", "region '%s' not found (GET /api/regions lists them)",
                  region);
        goto out;
    }
    if (rc < 0 || (rc = strata_dataset_list(p, region, push_name, names)) < 0 ||
        (rc = strata_ndarray_list(p, region, push_name, arrays)) < 0) {
        srv_fail(r, p, rc);
        goto out;
    }
    json_t *ds = json_array(), *nd = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        strata_snapshot *s;
        strata_dataset_desc d;
        if (strata_snapshot_open(p, region, json_string_value(v), 0, &s) < 0) continue;
        if (strata_snapshot_info(s, &d) == STRATA_OK)
            json_array_append_new(
                ds, json_pack("{s:O,s:I,s:I,s:I,s:I,s:o}", "name", v, "rows", (json_int_t)d.nrows,
                              "batches", (json_int_t)d.nbatches, "version", (json_int_t)d.version,
                              "bytes", (json_int_t)d.bytes, "columns", columns_json(&d)));
        strata_snapshot_close(s);
    }
    json_array_foreach(arrays, i, v)
    {
        strata_ndarray *a;
        strata_ndarray_desc d;
        if (strata_ndarray_open(p, region, json_string_value(v), NULL, &a) < 0) continue;
        if (strata_ndarray_info(a, &d) == STRATA_OK) {
            json_t *dims = json_array();
            for (int k = 0; k < d.ndims; k++)
                json_array_append_new(dims, json_integer((json_int_t)d.dims[k]));
            json_array_append_new(nd, json_pack("{s:O,s:o,s:o,s:I,s:s}", "name", v, "dtype",
                                                dtype_json(d.dtype), "dims", dims, "bytes",
                                                (json_int_t)d.bytes, "tier", d.tier ? d.tier : ""));
        }
        strata_ndarray_close(a);
    }
    json_t *pl = json_array();
    strata_array_list(p, region, push_plain, pl);
    r->json =
        json_pack("{s:s,s:o,s:o,s:o}", "region", region, "datasets", ds, "arrays", nd, "plain", pl);
out:
    json_decref(names);
    json_decref(arrays);
}

static int push_version(void *ctx, const strata_version_info *v)
{
    json_array_append_new(
        ctx, json_pack("{s:I,s:I,s:I,s:I,s:I,s:b}", "version", (json_int_t)v->version, "created_ns",
                       (json_int_t)v->created_ns, "batches_added", (json_int_t)v->batches_added,
                       "rows_added", (json_int_t)v->rows_added, "total_rows",
                       (json_int_t)v->total_rows, "expired", v->expired));
    return 0;
}

static int push_lineage(void *ctx, const strata_lineage_info *l)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:b,s:b}", "region", l->region, "name",
                  l->name, "op", l->op, "args", l->args ? l->args : "", "src_region",
                  l->src_region ? l->src_region : "", "src_name", l->src_name ? l->src_name : "",
                  "destroys_order", l->destroys_order, "auto", l->auto_update, "consumed",
                  (json_int_t)l->consumed, "source_batches", (json_int_t)l->source_batches, "fresh",
                  l->fresh, "computed", l->computed);
    json_object_set_new(o, "column", l->column ? json_string(l->column) : json_null());
    if (l->src_column) json_object_set_new(o, "src_column", json_string(l->src_column));
    json_array_append_new(ctx, o);
    return 0;
}

static int open_snapshot(const srv_req *q, strata_pool *p, const char *region, const char *name,
                         srv_reply *r, strata_snapshot **s)
{
    uint64_t as_of;
    if (arg_u64(q, r, "as_of", 0, INT64_MAX, &as_of) < 0) return -1;
    int rc = strata_snapshot_open(p, region, name, (int64_t)as_of, s);
    if (rc < 0) {
        srv_fail(r, p, rc);
        return -1;
    }
    return 0;
}

static void api_dataset(const srv_req *q, strata_pool *p, const char *region, const char *name,
                        srv_reply *r)
{
    strata_snapshot *s;
    if (open_snapshot(q, p, region, name, r, &s) < 0) return;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    json_t *batches = json_array();
    uint64_t maxb = d.nbatches < 1000 ? d.nbatches : 1000;
    for (uint64_t b = 0; b < maxb; b++) {
        strata_batch_info bi;
        if (strata_snapshot_batch(s, b, &bi) < 0) break;
        json_t *st = json_object();
        for (int c = 0; c < d.ncols; c++) {
            strata_column_stats cs;
            if (strata_snapshot_stats(s, b, c, &cs) < 0) continue;
            json_t *o = json_pack("{s:I}", "bytes", (json_int_t)cs.bytes);
            if (cs.has_minmax) {
                json_object_set_new(o, "min", json_real(cs.min));
                json_object_set_new(o, "max", json_real(cs.max));
            }
            json_object_set_new(st, d.columns[c].name, o);
        }
        json_array_append_new(batches, json_pack("{s:I,s:I,s:I,s:I,s:o}", "seq", (json_int_t)bi.seq,
                                                 "first_row", (json_int_t)bi.first_row, "rows",
                                                 (json_int_t)bi.nrows, "version",
                                                 (json_int_t)bi.version, "stats", st));
    }
    json_t *cols = columns_json(&d);
    size_t i;
    json_t *v;
    json_array_foreach(cols, i, v)
    {
        int ready = strata_snapshot_column_ready(s, (int)i);
        json_object_set_new(v, "ready", json_boolean(ready == 1));
    }
    json_t *versions = json_array(), *lineage = json_array();
    strata_dataset_log(p, region, name, push_version, versions);
    strata_lineage(p, region, name, push_lineage, lineage);
    r->json = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:b,s:o,s:o}", "region", region,
                        "name", name, "columns", cols, "version", (json_int_t)d.version, "rows",
                        (json_int_t)d.nrows, "batches", (json_int_t)d.nbatches, "bytes",
                        (json_int_t)d.bytes, "created_ns", (json_int_t)d.created_ns, "batch_list",
                        batches, "batch_list_truncated", d.nbatches > maxb, "versions", versions,
                        "lineage", lineage);
    strata_snapshot_close(s);
}

/* Visit rows [OFF, OFF+N) of column COL batch by batch: FN(ctx, batch, first row in batch, n,
 * position in the page). */
typedef int (*rows_fn)(void *ctx, uint64_t batch, uint64_t in, uint64_t n, uint64_t at);
static int rows_walk(strata_snapshot *s, uint64_t nb, uint64_t off, uint64_t n, rows_fn fn,
                     void *ctx)
{
    uint64_t pos = 0, at = 0;
    for (uint64_t b = 0; b < nb && at < n; b++) {
        strata_batch_info bi;
        int rc = strata_snapshot_batch(s, b, &bi);
        if (rc < 0) return rc;
        uint64_t lo = off + at;
        if (lo < pos + bi.nrows) {
            uint64_t in = lo - pos, k = bi.nrows - in;
            if (k > n - at) k = n - at;
            if ((rc = fn(ctx, b, in, k, at)) < 0) return rc;
            at += k;
        }
        pos += bi.nrows;
    }
    return 0;
}

typedef struct page {
    strata_snapshot *s;
    int col;
    strata_dtype dtype;
    json_t *rows; /* array of arrays */
    size_t *text; /* bytes of strings so far; over srv.max_page_text stops with STRATA_ERANGE */
    size_t max_text;
} page;

/* Whether row R is null in validity bitmap V (NULL: no nulls). */
static int row_null(const uint8_t *v, uint64_t r)
{
    return v != NULL && !((v[r >> 3] >> (r & 7)) & 1);
}

/* Whether column COL of batch B of S is computed (a derived column may lag behind its
 * dataset: such a batch column has no bytes yet). */
static int batch_col_ready(strata_snapshot *s, uint64_t b, int col)
{
    strata_column_stats cs;
    strata_batch_info bi;
    return strata_snapshot_stats(s, b, col, &cs) != STRATA_OK ||
           strata_snapshot_batch(s, b, &bi) != STRATA_OK || cs.bytes > 0 || bi.nrows == 0;
}

static int page_fill(void *ctx, uint64_t batch, uint64_t in, uint64_t n, uint64_t at)
{
    page *pg = ctx;
    if (!batch_col_ready(pg->s, batch, pg->col)) { /* not computed yet: shown empty */
        for (uint64_t i = 0; i < n; i++)
            json_array_append_new(json_array_get(pg->rows, at + i), json_null());
        return 0;
    }
    const uint8_t *valid; /* a null is JSON null */
    int vrc = strata_snapshot_map_valid(pg->s, batch, pg->col, &valid);
    if (vrc < 0) return vrc;
    if (pg->dtype == STRATA_STR) {
        const int64_t *o;
        const char *bytes;
        int rc = strata_snapshot_map_str(pg->s, batch, pg->col, &o, &bytes);
        if (rc < 0) return rc;
        for (uint64_t i = 0; i < n; i++) {
            if (row_null(valid, in + i)) {
                json_array_append_new(json_array_get(pg->rows, at + i), json_null());
                continue;
            }
            const char *str = bytes + (o[in + i] - o[0]);
            size_t len = (size_t)(o[in + i + 1] - o[in + i]);
            if ((*pg->text += len) > pg->max_text) return STRATA_ERANGE;
            json_t *jv = json_stringn_nocheck(str, len);
            json_array_append_new(json_array_get(pg->rows, at + i), jv ? jv : json_null());
        }
        return 0;
    }
    const void *data;
    int rc = strata_snapshot_map(pg->s, batch, pg->col, &data);
    if (rc < 0) return rc;
    size_t esz = strata_dtype_size(pg->dtype);
    for (uint64_t i = 0; i < n; i++)
        json_array_append_new(json_array_get(pg->rows, at + i),
                              row_null(valid, in + i)
                                  ? json_null()
                                  : value_json(pg->dtype, (const char *)data + in * esz, i));
    return 0;
}

/* The columns of "columns=a,b" (all of D's when absent) into COLS and *NC: 404 for a column D
 * lacks, 400 for an empty name or one asked twice. */
static int pick_columns(const srv_req *q, strata_snapshot *s, const strata_dataset_desc *d,
                        const char *region, const char *name, srv_reply *r, int *cols, int *nc)
{
    const char *want = srv_arg(q, "columns");
    *nc = 0;
    if (want == NULL || *want == 0) {
        for (int c = 0; c < d->ncols; c++) cols[(*nc)++] = c;
        return 0;
    }
    unsigned char seen[STRATA_MAX_COLUMNS / 8] = {0};
    char col[STRATA_NAME_MAX + 1];
    for (const char *t = want;;) {
        size_t len = strcspn(t, ",");
        int c;
        if (len == 0 || len > STRATA_NAME_MAX) {
            srv_error(r, 400, "EINVAL", "columns=%.300s: a column name is %s", want,
                      len ? "too long" : "empty");
            return -1;
        }
        memcpy(col, t, len);
        col[len] = 0;
        if (strata_snapshot_column(s, col, &c) < 0 || c < 0 || c >= d->ncols) {
            srv_error(r, 404, "ENOTFOUND", "dataset '%s/%s' has no column '%s'", region, name, col);
            return -1;
        }
        if (seen[c / 8] & (1u << (c % 8))) {
            srv_error(r, 400, "EINVAL", "column '%s' is asked twice in columns=", col);
            return -1;
        }
        seen[c / 8] |= (unsigned char)(1u << (c % 8));
        cols[(*nc)++] = c;
        if (t[len] == 0) return 0;
        t += len + 1;
    }
}

static void api_rows(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                     const char *name, srv_reply *r)
{
    uint64_t off, lim;
    if (arg_u64(q, r, "offset", 0, INT64_MAX, &off) < 0 ||
        arg_u64(q, r, "limit", 100, sv->max_rows, &lim) < 0)
        return;
    strata_snapshot *s;
    if (open_snapshot(q, p, region, name, r, &s) < 0) return;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    /* the columns asked for, else all */
    int cols[STRATA_MAX_COLUMNS], nc = 0;
    if (pick_columns(q, s, &d, region, name, r, cols, &nc) < 0) {
        strata_snapshot_close(s);
        return;
    }
    uint64_t n = off < d.nrows ? d.nrows - off : 0;
    if (n > lim) n = lim;
    if (n * (uint64_t)nc > sv->max_cells) {
        srv_error(r, 400, "ERANGE",
                  "a page of %" PRIu64 " rows x %d columns is %" PRIu64 " cells, over the %" PRIu64
                  " one page may have: ask fewer rows (limit=) or columns (columns=)",
                  n, nc, n * (uint64_t)nc, sv->max_cells);
        strata_snapshot_close(s);
        return;
    }
    json_t *rows = json_array(), *names = json_array();
    for (uint64_t i = 0; i < n; i++) json_array_append_new(rows, json_array());
    int rc = 0;
    size_t text = 0; /* bytes of the strings on the page */
    for (int k = 0; k < nc && rc == 0; k++) {
        int c = cols[k];
        /* a derived column not computed for every batch yet is marked, its missing values
         * null: it never keeps the rest of the page from being shown */
        json_array_append_new(names, json_pack("{s:s,s:o,s:b}", "name", d.columns[c].name, "dtype",
                                               dtype_json(d.columns[c].dtype), "ready",
                                               strata_snapshot_column_ready(s, c) == 1));
        page pg = {s, c, d.columns[c].dtype, rows, &text, sv->max_page_text};
        rc = rows_walk(s, d.nbatches, off, n, page_fill, &pg);
        if (rc < 0 && text > sv->max_page_text)
            srv_error(r, 400, "ERANGE",
                      "the page holds over %zu bytes of text (column '%s'): ask fewer rows "
                      "(limit=) or columns (columns=)",
                      sv->max_page_text, d.columns[c].name);
        else if (rc < 0)
            srv_fail(r, p, rc);
    }
    if (rc == 0)
        r->json =
            json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "region", region, "name", name,
                      "version", (json_int_t)d.version, "total", (json_int_t)d.nrows, "offset",
                      (json_int_t)off, "limit", (json_int_t)lim, "columns", names, "rows", rows);
    else {
        json_decref(rows);
        json_decref(names);
    }
    strata_snapshot_close(s);
}

static int column_of(strata_snapshot *s, const char *region, const char *name, const char *col,
                     srv_reply *r, int *c, strata_dataset_desc *d)
{
    strata_snapshot_info(s, d);
    if (strata_snapshot_column(s, col, c) < 0) {
        srv_error(r, 404, "ENOTFOUND", "dataset '%s/%s' has no column '%s'", region, name, col);
        return -1;
    }
    if (strata_snapshot_column_ready(s, *c) != 1) {
        srv_error(r, 409, "ESTALE", "column '%s' of '%s/%s' is not computed yet: POST /api/update",
                  col, region, name);
        return -1;
    }
    return 0;
}

static void api_column_stats(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                             const char *name, const char *col, srv_reply *r)
{
    strata_snapshot *s;
    if (open_snapshot(q, p, region, name, r, &s) < 0) return;
    strata_dataset_desc d;
    int c;
    if (column_of(s, region, name, col, r, &c, &d) < 0) {
        strata_snapshot_close(s);
        return;
    }
    strata_summary st;
    work w;
    work_begin(&w, sv, q, p);
    int rc = strata_snapshot_summary(s, c, &st);
    char what[3 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "statistics of column '%s' of '%s/%s'", col, region, name);
    if (work_end(&w, rc, what, r))
        ;
    else if (rc < 0)
        srv_fail(r, p, rc);
    else {
        r->json = stats_json(&st);
        json_object_set_new(r->json, "column", json_string(col));
    }
    strata_snapshot_close(s);
}

/* A numeric column as binary: raw little-endian elements, or an NPY file (?format=npy), streamed
 * whatever its size. */
static void api_column_data(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                            const char *name, const char *col, srv_reply *r)
{
    strata_snapshot *s;
    if (open_snapshot(q, p, region, name, r, &s) < 0) return;
    strata_dataset_desc d;
    int c;
    if (column_of(s, region, name, col, r, &c, &d) < 0) {
        strata_snapshot_close(s);
        return;
    }
    strata_dtype t = d.columns[c].dtype; /* D's strings and columns belong to S */
    int64_t version = d.version;
    strata_snapshot_close(s);
    const char *fmt = srv_arg(q, "format");
    int npy = fmt && strcmp(fmt, "npy") == 0;
    if (fmt && !npy && strcmp(fmt, "raw") != 0)
        srv_error(r, 400, "EINVAL", "format=%.40s: use raw or npy", fmt);
    else if (t == STRATA_STR)
        srv_error(r, 400, "ETYPE", "column '%s' holds strings: read it as rows", col);
    else
        srv_stream_column(sv, q, region, name, version, c, npy, r);
}

/* GET .../export?format=parquet|arrow[&columns=a,b][&as_of=V]: the dataset's view as a file. */
static void api_export(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                       const char *name, srv_reply *r)
{
    strata_snapshot *s;
    if (open_snapshot(q, p, region, name, r, &s) < 0) return;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    int cols[STRATA_MAX_COLUMNS], nc = 0;
    int64_t version = d.version;
    int bad = pick_columns(q, s, &d, region, name, r, cols, &nc) < 0;
    strata_snapshot_close(s);
    if (bad) return;
    const char *fmt = srv_arg(q, "format");
    int arrow = fmt && strcmp(fmt, "arrow") == 0;
    if (fmt == NULL || (!arrow && strcmp(fmt, "parquet") != 0))
        srv_error(r, 400, "EINVAL", "export: format=parquet or format=arrow");
    else
        srv_stream_export(sv, q, region, name, version, cols, nc, arrow, r);
}

/* ---- N-d arrays ----------------------------------------------------------------------------- */

static json_t *ndarray_json(const strata_ndarray_desc *d)
{
    static const char *const layouts[] = {"chunked", "row-major", "column-major"};
    json_t *dims = json_array(), *chunk = json_array();
    for (int k = 0; k < d->ndims; k++) {
        json_array_append_new(dims, json_integer((json_int_t)d->dims[k]));
        json_array_append_new(chunk, json_integer((json_int_t)d->chunk[k]));
    }
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:b,s:i,s:s,s:I,s:I,s:I,s:I}", "region", d->region,
                     "name", d->name, "dtype", dtype_json(d->dtype), "dims", dims, "chunk", chunk,
                     "layout", (unsigned)d->layout < 3 ? layouts[d->layout] : "?", "unlimited",
                     d->unlimited, "zstd", d->zstd_level, "tier", d->tier ? d->tier : "",
                     "chunks_total", (json_int_t)d->chunks_total, "chunks_written",
                     (json_int_t)d->chunks_written, "bytes", (json_int_t)d->bytes, "version",
                     (json_int_t)d->version);
}

/* "a,b,c" into V[NDIMS]; -1 and an error when malformed. */
static int parse_dims(const srv_req *q, srv_reply *r, const char *name, int ndims, uint64_t *v,
                      const uint64_t *def)
{
    const char *s = srv_arg(q, name);
    if (s == NULL || *s == 0) {
        memcpy(v, def, (size_t)ndims * sizeof *v);
        return 0;
    }
    for (int k = 0; k < ndims; k++) {
        char *end;
        if (*s == '-' || *s < '0' || *s > '9') goto bad;
        v[k] = strtoull(s, &end, 10);
        s = end;
        if (k + 1 < ndims && *s++ != ',') goto bad;
    }
    if (*s == 0) return 0;
bad:
    srv_error(r, 400, "EINVAL", "query argument %s: need %d whole numbers separated by ','", name,
              ndims);
    return -1;
}

static void api_array(srv *sv, const srv_req *q, strata_pool *p, const char *region,
                      const char *name, const char *what, srv_reply *r)
{
    strata_ndarray *a;
    int rc = strata_ndarray_open(p, region, name, NULL, &a);
    if (rc < 0) {
        srv_fail(r, p, rc);
        return;
    }
    strata_ndarray_desc d;
    strata_ndarray_info(a, &d);
    if (what == NULL) {
        r->json = ndarray_json(&d);
        strata_ndarray_close(a);
        return;
    }
    uint64_t start[STRATA_ND_MAXDIMS], count[STRATA_ND_MAXDIMS], zero[STRATA_ND_MAXDIMS] = {0};
    if (parse_dims(q, r, "start", d.ndims, start, zero) < 0 ||
        parse_dims(q, r, "count", d.ndims, count, d.dims) < 0) {
        strata_ndarray_close(a);
        return;
    }
    uint64_t n = 1;
    for (int k = 0; k < d.ndims; k++) {
        if (start[k] > d.dims[k] || count[k] > d.dims[k] - start[k]) {
            srv_error(r, 400, "ERANGE",
                      "region start %" PRIu64 " count %" PRIu64 " is outside dimension %d of "
                      "extent %" PRIu64,
                      start[k], count[k], k, d.dims[k]);
            strata_ndarray_close(a);
            return;
        }
        if (count[k] == 0) {
            srv_error(r, 400, "EINVAL", "region count of dimension %d is 0: every count is >= 1",
                      k);
            strata_ndarray_close(a);
            return;
        }
        if (__builtin_mul_overflow(n, count[k], &n) || n > ((uint64_t)1 << 59)) {
            srv_error(r, 400, "ERANGE", "the region has over 2^59 elements");
            strata_ndarray_close(a);
            return;
        }
    }
    if (strcmp(what, "preview") == 0) {
        api_preview(a, &d, q, start, count, r, p);
        strata_ndarray_close(a);
        return;
    }
    const char *fmt = srv_arg(q, "format");
    int stats = strcmp(what, "stats") == 0;
    int json = !stats && (fmt == NULL || strcmp(fmt, "json") == 0);
    if (stats) {
        /* read in bounded slabs by the library, and cached in the catalog */
        strata_summary st;
        work w;
        work_begin(&w, sv, q, p);
        rc = strata_ndarray_summary(a, start, count, &st);
        char label[2 * STRATA_NAME_MAX + 64];
        snprintf(label, sizeof label, "statistics of a region of %" PRIu64 " elements of '%s/%s'",
                 n, region, name);
        if (work_end(&w, rc, label, r))
            ;
        else if (rc < 0)
            srv_fail(r, p, rc);
        else
            r->json = stats_json(&st);
    } else if (fmt && !json && strcmp(fmt, "raw") != 0) {
        srv_error(r, 400, "EINVAL", "format=%s: use json or raw", fmt);
    } else if (json && n > sv->max_elements) {
        srv_error(r, 400, "ERANGE",
                  "%" PRIu64 " elements is over the %" PRIu64 " a JSON region may have: ask "
                  "format=raw, or a smaller count",
                  n, sv->max_elements);
    } else if (!json) {
        /* raw: streamed in slabs, whatever its size */
        srv_stream_region(sv, q, region, name, d.ndims, start, count, r);
    } else {
        size_t esz = strata_dtype_size(d.dtype);
        char *buf = malloc(n * esz + 1);
        rc = buf ? strata_ndarray_read(a, start, count, buf) : STRATA_ENOMEM;
        if (rc < 0) {
            srv_fail(r, p, rc);
        } else {
            json_t *vals = json_array(), *shape = json_array();
            for (uint64_t i = 0; i < n; i++)
                json_array_append_new(vals, value_json(d.dtype, buf, i));
            for (int k = 0; k < d.ndims; k++)
                json_array_append_new(shape, json_integer((json_int_t)count[k]));
            r->json = json_pack("{s:o,s:o,s:o}", "dtype", dtype_json(d.dtype), "shape", shape,
                                "data", vals);
        }
        free(buf);
    }
    strata_ndarray_close(a);
}

/* ---- applications, runs, saved iterations, tiers -------------------------------------------- */

static const char *attr_type_name(strata_attr_type t)
{
    return t == STRATA_ATTR_INT ? "int" : t == STRATA_ATTR_FLOAT ? "float" : "text";
}

static int push_attr_def(void *ctx, const strata_attr_def *a)
{
    json_array_append_new(ctx,
                          json_pack("{s:s,s:s}", "name", a->name, "type", attr_type_name(a->type)));
    return 0;
}

static json_t *attr_value(const strata_attr *a)
{
    if ((int)a->type == -1) return json_null();
    if (a->type == STRATA_ATTR_INT) return json_integer(a->i);
    if (a->type == STRATA_ATTR_FLOAT) return isfinite(a->f) ? json_real(a->f) : json_null();
    return json_string(a->s ? a->s : "");
}

static int push_run(void *ctx, const strata_run_info *ri)
{
    json_t *attrs = json_object();
    for (int i = 0; i < ri->nattrs; i++)
        json_object_set_new(attrs, ri->attrs[i].name, attr_value(&ri->attrs[i]));
    json_array_append_new(
        ctx, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:o}", "run", (json_int_t)ri->id, "app",
                       ri->app, "user", ri->user ? ri->user : "", "host", ri->host ? ri->host : "",
                       "status", ri->status, "started_ns", (json_int_t)ri->started_ns, "ended_ns",
                       (json_int_t)ri->ended_ns, "nprocs", ri->nprocs, "attrs", attrs));
    return json_array_size(ctx) >= 10000 ? 1 : 0;
}

static int push_exec(void *ctx, const strata_exec_info *e)
{
    json_t *dims = json_array(), *hist = json_array();
    for (int k = 0; k < e->ndims; k++)
        json_array_append_new(dims, json_integer((json_int_t)e->dims[k]));
    for (int k = 0; k < STRATA_HIST_BINS; k++)
        json_array_append_new(hist, json_integer((json_int_t)e->hist[k]));
    json_array_append_new(
        ctx,
        json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:f,s:i,s:f,s:f,s:f,s:f,s:o}",
                  "run", (json_int_t)e->run, "iteration", (json_int_t)e->iteration, "app", e->app,
                  "dataset", e->dataset, "array", e->array, "tier", e->tier, "strategy",
                  e->strategy, "layout", e->layout, "dtype", dtype_json(e->dtype), "dims", dims,
                  "bytes", (json_int_t)e->bytes, "seconds", e->seconds, "nprocs", e->nprocs, "min",
                  e->min, "max", e->max, "mean", e->mean, "std", e->std, "histogram", hist));
    return json_array_size(ctx) >= 10000 ? 1 : 0;
}

static int push_tier(void *ctx, const strata_tier_info *t)
{
    json_array_append_new(
        ctx, json_pack("{s:s,s:s,s:s,s:I,s:f,s:f,s:I,s:I,s:I}", "name", t->name, "path", t->path,
                       "kind", strata_tier_kind_name(t->kind), "capacity", (json_int_t)t->capacity,
                       "read_bw", t->read_bw, "latency", t->latency, "used", (json_int_t)t->used,
                       "staged", (json_int_t)t->staged, "files", (json_int_t)t->files));
    return 0;
}

static void api_app(const srv_req *q, strata_pool *p, const char *app, int runs, srv_reply *r)
{
    json_t *list = json_array();
    int rc = runs ? strata_runs(p, app, srv_arg(q, "where"), push_run, list)
                  : strata_app_schema(p, app, push_attr_def, list);
    if (rc < 0) {
        json_decref(list);
        srv_fail(r, p, rc);
        return;
    }
    r->json = runs ? json_pack("{s:s,s:o}", "app", app, "runs", list)
                   : json_pack("{s:s,s:o}", "app", app, "schema", list);
}

static void api_find(const srv_req *q, strata_pool *p, srv_reply *r)
{
    const char *app = srv_arg(q, "app");
    if (app == NULL || *app == 0) {
        srv_error(r, 400, "EINVAL", "find needs app=NAME (and optionally dataset=, where=)");
        return;
    }
    const char *ds = srv_arg(q, "dataset");
    json_t *list = json_array();
    int rc = strata_find(p, app, ds && *ds ? ds : NULL, srv_arg(q, "where"), push_exec, list);
    if (rc < 0) {
        json_decref(list);
        srv_fail(r, p, rc);
        return;
    }
    r->json = json_pack("{s:s,s:o,s:b}", "app", app, "results", list, "truncated",
                        json_array_size(list) >= 10000);
}

/* GET /api/explain?app=A&run=R&dataset=D&pattern=P&procs=N: the I/O plan for reading D of run R
 * of A with access pattern P by N processes, as `strata explain` shows it. */
static void api_explain(const srv_req *q, strata_pool *p, srv_reply *r)
{
    const char *app = srv_arg(q, "app"), *ds = srv_arg(q, "dataset"), *pat = srv_arg(q, "pattern");
    uint64_t run, procs;
    if (app == NULL || *app == 0 || ds == NULL || *ds == 0 || pat == NULL || *pat == 0) {
        srv_error(r, 400, "EINVAL", "explain needs app=, run=, dataset= and pattern= (and procs=)");
        return;
    }
    if (arg_u64(q, r, "run", 1, INT64_MAX, &run) < 0 ||
        arg_u64(q, r, "procs", 1, 1 << 20, &procs) < 0)
        return;
    strata_plan pl;
    int rc = strata_explain(p, app, (int64_t)run, ds, pat, procs ? (int)procs : 1, &pl);
    if (rc < 0) {
        srv_fail(r, p, rc);
        return;
    }
    r->json =
        json_pack("{s:s,s:s,s:b,s:b,s:i,s:I,s:I,s:I,s:f}", "strategy", pl.strategy, "reason",
                  pl.reason, "prefetch", pl.prefetch, "prestage", pl.prestage, "procs", pl.procs,
                  "requests", (json_int_t)pl.requests, "bytes", (json_int_t)pl.bytes, "useful",
                  (json_int_t)pl.useful, "estimate", pl.estimate);
}

/* ---- changes (token) ------------------------------------------------------------------------ */

static json_t *body_json(const srv_req *q, srv_reply *r)
{
    json_error_t e;
    json_t *j = json_loadb(q->body, q->body_len, 0, &e);
    if (j == NULL || !json_is_object(j)) {
        srv_error(r, 400, "EINVAL", "the body is not a JSON object: %s at line %d column %d",
                  j ? "not an object" : e.text, e.line, e.column);
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void api_derive(const srv_req *q, strata_pool *p, srv_reply *r)
{
    json_t *j = body_json(q, r);
    if (j == NULL) return;
    const char *region = jstr(j, "region"), *name = jstr(j, "name");
    const char *src_region = jstr(j, "src_region"), *src = jstr(j, "src_name");
    const char *column = jstr(j, "column");
    int rc;
    if (region == NULL || name == NULL) {
        srv_error(r, 400, "EINVAL", "derive needs \"region\" and \"name\" (and \"op\")");
        json_decref(j);
        return;
    }
    if (column) {
        strata_column_spec cs = {jstr(j, "op"),         src_region,      src,
                                 jstr(j, "src_column"), jstr(j, "expr"), jstr(j, "default")};
        rc = strata_column_derive(p, region, name, column, &cs);
    } else {
        if (src == NULL) {
            srv_error(r, 400, "EINVAL", "a derived dataset needs \"src_name\" (its parent)");
            json_decref(j);
            return;
        }
        strata_derive_spec ds = {0};
        ds.op = jstr(j, "op");
        ds.expr = jstr(j, "expr");
        ds.keys = jstr(j, "keys");
        ds.aggs = jstr(j, "aggs");
        ds.k = (uint64_t)json_integer_value(json_object_get(j, "k"));
        ds.desc = json_is_true(json_object_get(j, "desc"));
        ds.global = json_is_true(json_object_get(j, "global"));
        rc = strata_derive(p, region, name, src_region ? src_region : region, src, &ds);
    }
    if (rc < 0)
        srv_fail(r, p, rc);
    else {
        r->status = 201;
        r->json = json_pack("{s:s,s:s,s:b}", "region", region, "name", name, "defined", 1);
        if (column) json_object_set_new(r->json, "column", json_string(column));
    }
    json_decref(j);
}

typedef struct job_ctx {
    srv *s;
    strata_pool *pool;
} job_ctx;

static int job_progress(void *ctx, const strata_update_event *ev)
{
    srv *s = ctx;
    pthread_mutex_lock(&s->job_mu);
    snprintf(s->job.object, sizeof s->job.object, "%s/%s %s", ev->region, ev->name, ev->object);
    snprintf(s->job.mode, sizeof s->job.mode, "%s", ev->mode);
    s->job.done = ev->done;
    s->job.total = ev->total;
    s->job.rows = ev->rows;
    s->job.seconds = ev->seconds;
    pthread_mutex_unlock(&s->job_mu);
    return 0;
}

static void *job_main(void *arg)
{
    job_ctx *jc = arg;
    srv *s = jc->s;
    strata_update_opts o = {0};
    o.full = s->job.full;
    o.progress = job_progress;
    o.progress_ctx = s;
    strata_update_stats st = {0};
    int rc = strata_update(jc->pool, s->job.region[0] ? s->job.region : NULL,
                           s->job.name[0] ? s->job.name : NULL, &o, &st);
    pthread_mutex_lock(&s->job_mu);
    s->job.status = rc;
    snprintf(s->job.message, sizeof s->job.message, "%s",
             rc < 0 ? strata_errmsg(jc->pool) : "done");
    s->job.stats = st;
    s->job.running = 0;
    pthread_mutex_unlock(&s->job_mu);
    srv_pool_put(s, jc->pool);
    free(jc);
    return NULL;
}

static json_t *job_json(const srv_job *j)
{
    json_t *o = json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:f}", "job", (json_int_t)j->id, "state",
        j->running      ? "running"
        : j->status < 0 ? "failed"
                        : "done",
        "region", j->region, "name", j->name, "object", j->object, "done", (json_int_t)j->done,
        "total", (json_int_t)j->total, "rows", (json_int_t)j->rows, "seconds", j->seconds);
    if (!j->running) {
        json_object_set_new(o, "message", json_string(j->message));
        json_object_set_new(
            o, "stats",
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "incremental", (json_int_t)j->stats.incremental,
                      "refreshed", (json_int_t)j->stats.refreshed, "fresh",
                      (json_int_t)j->stats.fresh, "rows_read", (json_int_t)j->stats.rows_read,
                      "rows_written", (json_int_t)j->stats.rows_written, "seconds",
                      j->stats.seconds));
    }
    return o;
}

static void api_update(srv *s, const srv_req *q, srv_reply *r)
{
    json_t *j = body_json(q, r);
    if (j == NULL) return;
    const char *region = jstr(j, "region"), *name = jstr(j, "name");
    if (name && region == NULL) {
        srv_error(r, 400, "EINVAL", "\"name\" needs its \"region\"");
        json_decref(j);
        return;
    }
    pthread_mutex_lock(&s->job_mu);
    if (s->job.running) {
        pthread_mutex_unlock(&s->job_mu);
        srv_error(r, 409, "ECONFLICT",
                  "update job %" PRId64 " is still running: GET /api/jobs/%" PRId64, s->job.id,
                  s->job.id);
        json_decref(j);
        return;
    }
    if (s->job.joinable) pthread_join(s->job.thread, NULL);
    int64_t id = s->job.id + 1;
    memset(&s->job, 0, sizeof s->job);
    s->job.id = id;
    snprintf(s->job.region, sizeof s->job.region, "%s", region ? region : "");
    snprintf(s->job.name, sizeof s->job.name, "%s", name ? name : "");
    s->job.full = json_is_true(json_object_get(j, "full"));
    s->job.running = 1;
    job_ctx *jc = malloc(sizeof *jc);
    if (jc) {
        jc->s = s;
        jc->pool = srv_pool_get(s);
    }
    if (jc == NULL || pthread_create(&s->job.thread, NULL, job_main, jc) != 0) {
        s->job.running = 0;
        if (jc) srv_pool_put(s, jc->pool);
        free(jc);
        pthread_mutex_unlock(&s->job_mu);
        srv_error(r, 500, "ENOMEM", "cannot start the update job");
        json_decref(j);
        return;
    }
    s->job.joinable = 1;
    r->status = 202;
    r->json = job_json(&s->job);
    pthread_mutex_unlock(&s->job_mu);
    json_decref(j);
}

static void api_job(srv *s, const char *id, srv_reply *r)
{
    pthread_mutex_lock(&s->job_mu);
    if (s->job.id == 0 || strtoll(id, NULL, 10) != s->job.id)
        srv_error(r, 404, "ENOTFOUND", "no job %s (the server keeps the last one)", id);
    else
        r->json = job_json(&s->job);
    pthread_mutex_unlock(&s->job_mu);
}

static void api_register(const srv_req *q, strata_pool *p, srv_reply *r)
{
    json_t *j = body_json(q, r);
    if (j == NULL) return;
    const char *app = jstr(j, "app");
    json_t *attrs = json_object_get(j, "attrs");
    if (app == NULL || (attrs && !json_is_array(attrs)) || json_array_size(attrs) > 200) {
        srv_error(r, 400, "EINVAL",
                  "register needs {\"app\": NAME, \"attrs\": [{\"name\": N, \"type\": "
                  "\"int\"|\"float\"|\"text\"}, ...]}");
        json_decref(j);
        return;
    }
    strata_attr_def defs[200];
    size_t i, n = json_array_size(attrs);
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        const char *nm = jstr(a, "name"), *ty = jstr(a, "type");
        if (nm == NULL || ty == NULL ||
            (strcmp(ty, "int") && strcmp(ty, "float") && strcmp(ty, "text"))) {
            srv_error(r, 400, "EINVAL",
                      "attrs[%zu] needs a \"name\" and a \"type\" of int, float or text", i);
            json_decref(j);
            return;
        }
        defs[i].name = nm;
        defs[i].type = !strcmp(ty, "int")     ? STRATA_ATTR_INT
                       : !strcmp(ty, "float") ? STRATA_ATTR_FLOAT
                                              : STRATA_ATTR_TEXT;
    }
    int rc = strata_app_register(p, app, defs, (int)n);
    if (rc < 0)
        srv_fail(r, p, rc);
    else {
        json_t *schema = json_array();
        strata_app_schema(p, app, push_attr_def, schema);
        r->status = 201;
        r->json = json_pack("{s:s,s:o}", "app", app, "schema", schema);
    }
    json_decref(j);
}

/* ---- routing -------------------------------------------------------------------------------- */

void srv_api(srv *s, const srv_req *q, srv_reply *r)
{
    int get = strcmp(q->method, "POST") != 0;
    int n = q->nseg;
    /* the job table needs no pool handle */
    if (get && n == 3 && seg_is(q, 1, "jobs")) {
        api_job(s, q->seg[2], r);
        return;
    }
    if (!get && n == 2 && seg_is(q, 1, "update")) {
        api_update(s, q, r);
        return;
    }
    strata_pool *p = srv_pool_get(s);
    if (get && n == 2 && seg_is(q, 1, "regions"))
        api_regions(p, r);
    else if (get && n == 4 && seg_is(q, 1, "regions") && seg_is(q, 3, "datasets"))
        api_region_datasets(p, q->seg[2], r);
    else if (get && n == 4 && seg_is(q, 1, "datasets"))
        api_dataset(q, p, q->seg[2], q->seg[3], r);
    else if (get && n == 5 && seg_is(q, 1, "datasets") && seg_is(q, 4, "export"))
        api_export(s, q, p, q->seg[2], q->seg[3], r);
    else if (get && n == 5 && seg_is(q, 1, "datasets") && seg_is(q, 4, "rows"))
        api_rows(s, q, p, q->seg[2], q->seg[3], r);
    else if (get && n == 7 && seg_is(q, 1, "datasets") && seg_is(q, 4, "columns") &&
             seg_is(q, 6, "stats"))
        api_column_stats(s, q, p, q->seg[2], q->seg[3], q->seg[5], r);
    else if (get && n == 6 && seg_is(q, 1, "datasets") && seg_is(q, 4, "columns"))
        api_column_data(s, q, p, q->seg[2], q->seg[3], q->seg[5], r);
    else if (get && n == 4 && seg_is(q, 1, "arrays"))
        api_array(s, q, p, q->seg[2], q->seg[3], NULL, r);
    else if (get && n == 5 && seg_is(q, 1, "arrays") &&
             (seg_is(q, 4, "region") || seg_is(q, 4, "stats") || seg_is(q, 4, "preview")))
        api_array(s, q, p, q->seg[2], q->seg[3], q->seg[4], r);
    else if (get && n == 4 && seg_is(q, 1, "plain"))
        api_plain(s, q, p, q->seg[2], q->seg[3], NULL, r);
    else if (get && n == 5 && seg_is(q, 1, "plain") &&
             (seg_is(q, 4, "values") || seg_is(q, 4, "stats")))
        api_plain(s, q, p, q->seg[2], q->seg[3], q->seg[4], r);
    else if (get && n == 3 && seg_is(q, 1, "apps"))
        api_app(q, p, q->seg[2], 0, r);
    else if (get && n == 4 && seg_is(q, 1, "apps") && seg_is(q, 3, "runs"))
        api_app(q, p, q->seg[2], 1, r);
    else if (get && n == 2 && seg_is(q, 1, "find"))
        api_find(q, p, r);
    else if (get && n == 2 && seg_is(q, 1, "explain"))
        api_explain(q, p, r);
    else if (get && n == 2 && seg_is(q, 1, "tiers")) {
        json_t *list = json_array();
        int rc = strata_tier_list(p, push_tier, list);
        if (rc < 0) {
            json_decref(list);
            srv_fail(r, p, rc);
        } else {
            r->json = json_pack("{s:o}", "tiers", list);
        }
    } else if (get && n == 4 && seg_is(q, 1, "codegen"))
        srv_codegen(q, p, q->seg[2], q->seg[3], r);
    else if (!get && n == 2 && seg_is(q, 1, "derive"))
        api_derive(q, p, r);
    else if (!get && n == 2 && seg_is(q, 1, "apps"))
        api_register(q, p, r);
    else
        srv_error(r, 404, "ENOTFOUND", "no API endpoint %s /%s%s%s (see docs/http.md)", q->method,
                  q->seg[0], n > 1 ? "/" : "", n > 1 ? q->seg[1] : "");
    srv_pool_put(s, p);
}
