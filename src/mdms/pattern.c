/*
 * pattern.c -- access patterns: parsing, the piece of the array each process holds, the walk over
 * a piece's runs in a contiguous file, the I/O planner, and dataset statistics.
 *
 * The distributions are those of HPF and MPI_Type_create_darray: BLOCK gives coordinate c the
 * indices [c*b, (c+1)*b) with b = ceil(n/p); CYCLIC(k) deals blocks of k indices round-robin;
 * '*' gives every coordinate the whole dimension. Processes are numbered row-major over the
 * process grid. A piece is the product of its per-dimension index sets, stored in C order of
 * the local indices.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdms/mdms_int.h"
#include "util/dtype.h"
#include "util/parse.h"

static const char *const io_names[ST_IO_NSTRATEGIES] = {"contiguous", "sieve", "collective",
                                                        "independent", "chunked"};

const char *st_io_name(int s)
{
    return s >= 0 && s < ST_IO_NSTRATEGIES ? io_names[s] : "auto";
}

int st_io_parse(const char *name)
{
    for (int i = 0; i < ST_IO_NSTRATEGIES; i++)
        if (strcmp(name, io_names[i]) == 0) return i;
    return -1;
}

int st_io_forced(st_err *err, const char *spec, int *strategy, int *no_prefetch)
{
    *strategy = ST_IO_AUTO;
    *no_prefetch = 0;
    if (spec == NULL || *spec == 0) return STRATA_OK;
    /* a comma-separated list: a strategy and/or noprefetch */
    char buf[128];
    if (strlen(spec) >= sizeof buf)
        return st_error(err, STRATA_EINVAL, "STRATA_IO_STRATEGY='%.40s...' is too long", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "noprefetch") == 0) {
            *no_prefetch = 1;
        } else if (strcmp(t, "auto") == 0) {
            *strategy = ST_IO_AUTO;
        } else if ((*strategy = st_io_parse(t)) < 0) {
            return st_error(err, STRATA_EINVAL,
                            "STRATA_IO_STRATEGY='%s': unknown strategy '%s' (use contiguous, "
                            "sieve, collective, independent, chunked, auto or noprefetch)",
                            spec, t);
        }
    }
    return STRATA_OK;
}

int strata_pool_set_io_strategy(strata_pool *pool, const char *spec)
{
    if (pool == NULL) return STRATA_EINVAL;
    int strategy, no_prefetch;
    int rc = st_io_forced(st_pool_err(pool), spec, &strategy, &no_prefetch);
    return rc < 0 ? rc : st_pool_set_io_strategy_text(pool, spec);
}

/* ---- parsing -------------------------------------------------------------------------------- */

static int pfail(st_err *err, const char *text, const char *at, const char *what)
{
    return st_error(err, STRATA_EINVAL, "bad access pattern '%s' at column %d: %s", text,
                    (int)(at - text) + 1, what);
}

static void skip(const char **p)
{
    while (isspace((unsigned char)**p)) (*p)++;
}

static int word(const char **p, const char *w)
{
    size_t n = strlen(w);
    if (strncasecmp(*p, w, n) != 0) return 0;
    char c = (*p)[n];
    if (isalnum((unsigned char)c) || c == '-' || c == '_' || c == '=') return 0;
    *p += n;
    return 1;
}

/* Split NPROCS over the distributed dimensions of P: prime factors, largest first, each to the
 * dimension with the fewest processes so far; then the larger counts go to earlier
 * dimensions. */
static void default_grid(st_pattern *p)
{
    int dist[ST_ND_MAXDIMS], nd = 0;
    for (int d = 0; d < p->ndims; d++) {
        p->grid[d] = 1;
        if (p->kind[d] != ST_DIST_NONE) dist[nd++] = d;
    }
    if (nd == 0) return;
    int f[32], nf = 0, r = p->nprocs;
    for (int q = 2; q * q <= r; q++)
        while (r % q == 0 && nf < 32) {
            f[nf++] = q;
            r /= q;
        }
    if (r > 1) f[nf++] = r;
    for (int i = nf - 1; i >= 0; i--) {
        int best = 0;
        for (int j = 1; j < nd; j++)
            if (p->grid[dist[j]] < p->grid[dist[best]]) best = j;
        p->grid[dist[best]] *= f[i];
    }
    /* sort the distributed dimensions' counts in decreasing order */
    for (int i = 0; i < nd; i++)
        for (int j = i + 1; j < nd; j++)
            if (p->grid[dist[j]] > p->grid[dist[i]]) {
                int t = p->grid[dist[i]];
                p->grid[dist[i]] = p->grid[dist[j]];
                p->grid[dist[j]] = t;
            }
}

/* One dimension's distribution at *PP into dimension D of OUT: BLOCK, CYCLIC, CYCLIC(k) or *. */
static int parse_dim(st_err *err, const char *text, const char **pp, int d, st_pattern *out)
{
    const char *p = *pp;
    if (word(&p, "BLOCK")) {
        out->kind[d] = ST_DIST_BLOCK;
    } else if (word(&p, "CYCLIC") || strncasecmp(p, "CYCLIC(", 7) == 0) {
        if (strncasecmp(p, "CYCLIC", 6) == 0) p += 6;
        out->kind[d] = ST_DIST_CYCLIC;
        out->k[d] = 1;
        skip(&p);
        if (*p == '(') {
            p++;
            char *end;
            unsigned long long k = strtoull(p, &end, 10);
            if (end == p || k == 0 || k > (1ull << 40))
                return pfail(err, text, p, "CYCLIC(k) needs a block size k >= 1");
            out->k[d] = k;
            p = end;
            skip(&p);
            if (*p != ')') return pfail(err, text, p, "expected ')'");
            p++;
        }
    } else if (*p == '*') {
        out->kind[d] = ST_DIST_NONE;
        p++;
    } else {
        return pfail(err, text, p, "expected BLOCK, CYCLIC, CYCLIC(k) or *");
    }
    *pp = p;
    return STRATA_OK;
}

/* The distribution "(D0,D1,...)" at *PP, one per dimension of OUT. */
static int parse_dists(st_err *err, const char *text, const char **pp, st_pattern *out)
{
    const char *p = *pp;
    int d = 0, ndims = out->ndims;
    skip(&p);
    if (*p != '(') return pfail(err, text, p, "expected '(' (for example '(BLOCK,*)')");
    p++;
    for (;;) {
        skip(&p);
        if (d >= ndims) return pfail(err, text, p, "more dimensions than the dataset has");
        int rc = parse_dim(err, text, &p, d, out);
        if (rc < 0) return rc;
        d++;
        skip(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ')') {
            p++;
            break;
        }
        return pfail(err, text, p, "expected ',' or ')'");
    }
    if (d != ndims) {
        char why[96];
        snprintf(why, sizeof why, "%d dimensions given, the dataset has %d", d, ndims);
        return pfail(err, text, p, why);
    }
    *pp = p;
    return STRATA_OK;
}

/* The hint "grid=AxB..." at *PP (after "grid="): one process count per dimension. */
static int parse_grid(st_err *err, const char *text, const char **pp, st_pattern *out)
{
    const char *p = *pp;
    for (int i = 0; i < out->ndims; i++) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p || g < 1 || g > 1 << 20)
            return pfail(err, text, p, "grid=AxB... needs a count >= 1 per dimension");
        out->grid[i] = (int)g;
        p = end;
        if (i + 1 < out->ndims) {
            if (*p != 'x' && *p != 'X')
                return pfail(err, text, p,
                             "grid needs one count per dimension, "
                             "separated by 'x'");
            p++;
        }
    }
    *pp = p;
    return STRATA_OK;
}

/* The hints after the distribution, to the end of TEXT; *HAS_GRID tells whether grid= was
 * among them. */
static int parse_hints(st_err *err, const char *text, const char *p, st_pattern *out, int *has_grid)
{
    for (;;) {
        skip(&p);
        if (*p == 0) return STRATA_OK;
        if (strncasecmp(p, "grid=", 5) == 0) {
            p += 5;
            int rc = parse_grid(err, text, &p, out);
            if (rc < 0) return rc;
            *has_grid = 1;
        } else if (strncasecmp(p, "request=", 8) == 0) {
            p += 8;
            const char *v = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(p - v), v);
            uint64_t req;
            if (st_parse_size(num, &req) < 0)
                return pfail(err, text, v, "request=SIZE needs a size (bytes, K, M, G)");
            out->request = req;
        } else if (word(&p, "sequential")) {
            out->sequential = 1;
        } else if (word(&p, "random")) {
            out->sequential = 0;
        } else if (word(&p, "read-only")) {
            out->mode = ST_MODE_RO;
        } else if (word(&p, "write-only")) {
            out->mode = ST_MODE_WO;
        } else if (word(&p, "read-write")) {
            out->mode = ST_MODE_RW;
        } else if (word(&p, "once")) {
            out->repeated = 0;
        } else if (word(&p, "repeated")) {
            out->repeated = 1;
        } else {
            return pfail(err, text, p,
                         "unknown hint (use grid=AxB, sequential, random, read-only, write-only, "
                         "read-write, once, repeated, request=SIZE)");
        }
    }
}

/* A given grid: count 1 on every '*' dimension, and counts that multiply to nprocs. */
static int check_grid(st_err *err, const char *text, const st_pattern *out)
{
    /* counts are at most 2^20 each: stop multiplying past INT32_MAX so that 8 of them
     * cannot overflow (and wrap around to NPROCS) */
    int64_t prod = 1;
    for (int i = 0; i < out->ndims; i++) {
        if (out->kind[i] == ST_DIST_NONE && out->grid[i] != 1)
            return st_error(err, STRATA_EINVAL,
                            "bad access pattern '%s': dimension %d is '*', so its grid count "
                            "must be 1, not %d",
                            text, i, out->grid[i]);
        if (prod <= INT32_MAX) prod *= out->grid[i];
    }
    if (prod != out->nprocs) {
        char n[32];
        if (prod > INT32_MAX)
            snprintf(n, sizeof n, "more than %d", INT32_MAX);
        else
            snprintf(n, sizeof n, "%" PRId64, prod);
        return st_error(err, STRATA_EINVAL,
                        "access pattern '%s' has a grid of %s processes, but there are %d; "
                        "give a grid whose counts multiply to %d",
                        text, n, out->nprocs, out->nprocs);
    }
    return STRATA_OK;
}

int st_pattern_parse(st_err *err, const char *text, int ndims, int nprocs, st_pattern *out)
{
    memset(out, 0, sizeof *out);
    out->ndims = ndims;
    out->nprocs = nprocs;
    if (text == NULL) return st_error(err, STRATA_EINVAL, "the access pattern is NULL");
    const char *p = text;
    int has_grid = 0, rc;
    ST_TRY(rc = parse_dists(err, text, &p, out));
    ST_TRY(rc = parse_hints(err, text, p, out, &has_grid));
    if (has_grid)
        ST_TRY(rc = check_grid(err, text, out));
    else
        default_grid(out);
    int ndist = 0;
    for (int i = 0; i < ndims; i++) ndist += out->kind[i] != ST_DIST_NONE;
    out->replicated = ndist == 0 && nprocs > 1;
done:
    return rc;
}

void st_pattern_record(const st_pattern *p, st_cat_access *out)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    len += (size_t)snprintf(out->dist + len, sizeof out->dist - len, "(");
    for (int d = 0; d < p->ndims && len < sizeof out->dist; d++) {
        const char *sep = d ? "," : "";
        if (p->kind[d] == ST_DIST_BLOCK)
            len += (size_t)snprintf(out->dist + len, sizeof out->dist - len, "%sBLOCK", sep);
        else if (p->kind[d] == ST_DIST_NONE)
            len += (size_t)snprintf(out->dist + len, sizeof out->dist - len, "%s*", sep);
        else if (p->k[d] == 1)
            len += (size_t)snprintf(out->dist + len, sizeof out->dist - len, "%sCYCLIC", sep);
        else
            len += (size_t)snprintf(out->dist + len, sizeof out->dist - len,
                                    "%sCYCLIC(%" PRIu64 ")", sep, p->k[d]);
    }
    if (len < sizeof out->dist) snprintf(out->dist + len, sizeof out->dist - len, ")");
    len = 0;
    for (int d = 0; d < p->ndims && len < sizeof out->grid; d++)
        len += (size_t)snprintf(out->grid + len, sizeof out->grid - len, "%s%d", d ? "x" : "",
                                p->grid[d]);
    out->nprocs = p->nprocs;
    snprintf(out->order, sizeof out->order, "%s", p->sequential ? "sequential" : "random");
    static const char *const modes[] = {"read-write", "read-only", "write-only"};
    snprintf(out->mode, sizeof out->mode, "%s", modes[p->mode]);
    snprintf(out->reuse, sizeof out->reuse, "%s", p->repeated ? "repeated" : "once");
    out->request = p->request;
}

/* ---- pieces --------------------------------------------------------------------------------- */

void st_pattern_coords(const st_pattern *p, int rank, int *coords)
{
    for (int d = p->ndims - 1; d >= 0; d--) {
        coords[d] = rank % p->grid[d];
        rank /= p->grid[d];
    }
}

static uint64_t block_of(uint64_t n, int procs)
{
    return (n + (uint64_t)procs - 1) / (uint64_t)procs;
}

uint64_t st_dim_segs(const st_pattern *p, int d, uint64_t n, int c, uint64_t lo, uint64_t hi,
                     st_vec *out)
{
    out->n = 0;
    uint64_t total = 0;
    if (hi > n) hi = n;
#define ADD_SEG(G, L, LEN)                                                                         \
    do {                                                                                           \
        uint64_t g0_ = (G), l0_ = (L), e_ = g0_ + (LEN);                                           \
        if (g0_ < lo) {                                                                            \
            l0_ += lo - g0_;                                                                       \
            g0_ = lo;                                                                              \
        }                                                                                          \
        if (e_ > hi) e_ = hi;                                                                      \
        if (g0_ < e_) {                                                                            \
            st_seg *s_ = st_vec_push(out);                                                         \
            if (s_ == NULL) return UINT64_MAX;                                                     \
            s_->g = g0_;                                                                           \
            s_->l = l0_;                                                                           \
            s_->p = total;                                                                         \
            s_->len = e_ - g0_;                                                                    \
            total += s_->len;                                                                      \
        }                                                                                          \
    } while (0)
    int procs = p->grid[d];
    if (p->kind[d] == ST_DIST_NONE || procs == 1) {
        ADD_SEG(0, 0, n);
    } else if (p->kind[d] == ST_DIST_BLOCK) {
        uint64_t b = block_of(n, procs), g = (uint64_t)c * b;
        if (g < n) ADD_SEG(g, 0, (n - g < b ? n - g : b));
    } else {
        uint64_t k = p->k[d], stride = k * (uint64_t)procs;
        /* the blocks that can meet [lo, hi) */
        uint64_t t0 = lo / stride;
        for (uint64_t t = t0;; t++) {
            uint64_t g = t * stride + (uint64_t)c * k;
            if (g >= n || g >= hi) break;
            ADD_SEG(g, t * k, (n - g < k ? n - g : k));
        }
    }
#undef ADD_SEG
    return total;
}

int st_dim_owner(const st_pattern *p, int d, uint64_t n, uint64_t g)
{
    int procs = p->grid[d];
    if (p->kind[d] == ST_DIST_NONE || procs == 1) return 0;
    if (p->kind[d] == ST_DIST_BLOCK) return (int)(g / block_of(n, procs));
    return (int)((g / p->k[d]) % (uint64_t)procs);
}

uint64_t st_piece_dims(const st_pattern *p, const uint64_t *dims, int rank, uint64_t *local)
{
    int c[ST_ND_MAXDIMS];
    st_pattern_coords(p, rank, c);
    uint64_t elems = 1;
    for (int d = 0; d < p->ndims; d++) {
        uint64_t l;
        int procs = p->grid[d];
        if (p->kind[d] == ST_DIST_NONE || procs == 1) {
            l = dims[d];
        } else if (p->kind[d] == ST_DIST_BLOCK) {
            uint64_t b = block_of(dims[d], procs), g = (uint64_t)c[d] * b;
            l = g >= dims[d] ? 0 : (dims[d] - g < b ? dims[d] - g : b);
        } else {
            uint64_t k = p->k[d], stride = k * (uint64_t)procs, full = dims[d] / stride;
            uint64_t rest = dims[d] - full * stride, off = (uint64_t)c[d] * k;
            l = full * k + (rest > off ? (rest - off < k ? rest - off : k) : 0);
        }
        if (local != NULL) local[d] = l;
        elems *= l;
    }
    return elems;
}

/* ---- the walk over a piece in a contiguous file ------------------------------------------ */

typedef struct pending {
    st_run_fn fn;
    void *ctx;
    int have;
    uint64_t f, b, n, s;
} pending;

static int emit(pending *q, uint64_t f, uint64_t b, uint64_t n, uint64_t s)
{
    if (q->have && q->s == 1 && s == 1 && q->f + q->n == f && q->b + q->n == b) {
        q->n += n;
        return STRATA_OK;
    }
    int rc = q->have ? q->fn(q->ctx, q->f, q->b, q->n, q->s) : STRATA_OK;
    q->have = 1;
    q->f = f;
    q->b = b;
    q->n = n;
    q->s = s;
    return rc;
}

int st_piece_walk(st_err *err, const st_pattern *p, const uint64_t *dims, int fortran, int rank,
                  st_run_fn fn, void *ctx)
{
    int n = p->ndims, c[ST_ND_MAXDIMS];
    st_pattern_coords(p, rank, c);
    if (p->replicated && rank != 0) {
        /* each process has the whole array: the same walk as rank 0's */
        for (int d = 0; d < n; d++) c[d] = 0;
    }
    st_vec segs[ST_ND_MAXDIMS];
    uint64_t *glob[ST_ND_MAXDIMS] = {0};
    uint64_t L[ST_ND_MAXDIMS], lst[ST_ND_MAXDIMS], fst[ST_ND_MAXDIMS];
    int rc = STRATA_OK, empty = 0;
    for (int d = 0; d < n; d++) segs[d] = (st_vec)ST_VEC(st_seg);
    for (int d = 0; d < n && rc == STRATA_OK; d++) {
        L[d] = st_dim_segs(p, d, dims[d], c[d], 0, dims[d], &segs[d]);
        if (L[d] == UINT64_MAX) rc = st_error(err, STRATA_ENOMEM, "out of memory");
        if (L[d] == 0) empty = 1;
    }
    int f = fortran ? 0 : n - 1; /* the fastest dimension of the file */
    for (int d = 0; d < n && rc == STRATA_OK && !empty; d++) {
        if (d == f) continue;
        glob[d] = malloc(L[d] * sizeof **glob);
        if (glob[d] == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
            break;
        }
        const st_seg *s = segs[d].v;
        for (size_t i = 0; i < segs[d].n; i++)
            for (uint64_t j = 0; j < s[i].len; j++) glob[d][s[i].p + j] = s[i].g + j;
    }
    if (rc == STRATA_OK && !empty) {
        uint64_t acc = 1;
        for (int d = n - 1; d >= 0; d--) {
            lst[d] = acc;
            acc *= L[d];
        }
        acc = 1;
        for (int i = 0; i < n; i++) {
            int d = fortran ? i : n - 1 - i;
            fst[d] = acc;
            acc *= dims[d];
        }
        /* the outer dimensions in file order, slowest first */
        int order[ST_ND_MAXDIMS], no = 0;
        for (int i = 0; i < n; i++) {
            int d = fortran ? n - 1 - i : i;
            if (d != f) order[no++] = d;
        }
        uint64_t idx[ST_ND_MAXDIMS] = {0};
        pending q = {fn, ctx, 0, 0, 0, 0, 0};
        const st_seg *fs = segs[f].v;
        for (;;) {
            uint64_t fb = 0, bb = 0;
            for (int i = 0; i < no; i++) {
                int d = order[i];
                fb += glob[d][idx[i]] * fst[d];
                bb += idx[i] * lst[d];
            }
            for (size_t i = 0; i < segs[f].n && rc == STRATA_OK; i++)
                rc = emit(&q, fb + fs[i].g * fst[f], bb + fs[i].l * lst[f], fs[i].len, lst[f]);
            if (rc < 0) break;
            int i = no - 1;
            for (; i >= 0; i--) {
                if (++idx[i] < L[order[i]]) break;
                idx[i] = 0;
            }
            if (i < 0) break;
        }
        if (rc == STRATA_OK && q.have) rc = fn(ctx, q.f, q.b, q.n, q.s);
    }
    for (int d = 0; d < n; d++) {
        free(glob[d]);
        st_vec_free(&segs[d]);
    }
    return rc;
}

int st_walk_count_fn(void *ctx, uint64_t foff, uint64_t boff, uint64_t n, uint64_t bstride)
{
    (void)boff;
    (void)bstride;
    st_walk_count *w = ctx;
    if (w->runs == 0 || foff < w->first) w->first = foff;
    if (foff + n - 1 > w->last || w->runs == 0) w->last = foff + n - 1;
    w->runs++;
    w->elems += n;
    return STRATA_OK;
}

/* ---- the planner ---------------------------------------------------------------------------- */

/* snprintf into a message buffer, where truncation is acceptable. */
static void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static void fmt_bytes(char *out, size_t cap, double b)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

double st_cost_io(double requests, double bytes, double latency, double bw)
{
    return requests * (latency + ST_COST_SYSCALL) + bytes / (bw > 0 ? bw : ST_COST_MEM_BW);
}

double st_cost_collective(double useful, double runs, int procs)
{
    double np = procs > 0 ? procs : 1;
    return ST_COST_COLL_SETUP * log2(np < 2 ? 2 : np) + useful / np / ST_COST_XCHG_BW +
           runs / np * ST_COST_RUN;
}

/* A chunked dataset: each chunk file is moved whole by the process holding its first element.
 * TOTAL is the dataset's size in bytes, REC its distribution in words. */
static int plan_chunked(st_err *err, const st_pattern *p, const st_plan_in *in,
                        const st_cat_access *rec, uint64_t total, strata_plan *out)
{
    int s = in->forced;
    char b1[32];
    if (s != ST_IO_AUTO && s != ST_IO_CHUNKED)
        return st_error(err, STRATA_EINVAL,
                        "STRATA_IO_STRATEGY=%s cannot move a chunked dataset (only chunked "
                        "applies)",
                        st_io_name(s));
    uint64_t chunks = 1;
    for (int d = 0; d < in->ndims; d++) chunks *= (in->dims[d] + in->chunk[d] - 1) / in->chunk[d];
    out->requests = chunks;
    out->bytes = total;
    out->estimate =
        st_cost_io((double)chunks / p->nprocs, (double)total / p->nprocs, in->latency, in->bw) +
        (p->nprocs > 1 ? (double)total / p->nprocs / ST_COST_XCHG_BW : 0);
    out->useful = p->replicated ? total * (uint64_t)p->nprocs : total;
    snprintf(out->strategy, sizeof out->strategy, "chunked");
    fmt_bytes(b1, sizeof b1, (double)total / (double)chunks);
    say(out->reason, sizeof out->reason,
        "stored in %" PRIu64 " chunks of about %s: each chunk file is %s by the one "
        "process holding its first element (about %" PRIu64 " per process), no file is "
        "shared, and the pieces of %s are exchanged in memory",
        chunks, b1, in->load ? "read" : "written",
        (chunks + (uint64_t)p->nprocs - 1) / (uint64_t)p->nprocs, rec->dist);
    return STRATA_OK;
}

/* Refuse a strategy forced by STRATA_IO_STRATEGY that cannot move this flat (row- or
 * column-major) dataset. */
static int check_forced_flat(st_err *err, const st_pattern *p, const st_plan_in *in,
                             const char *layout)
{
    int s = in->forced;
    if (s == ST_IO_CHUNKED)
        return st_error(err, STRATA_EINVAL,
                        "STRATA_IO_STRATEGY=chunked needs a chunked dataset; this one is %s",
                        layout);
    if (s == ST_IO_COLLECTIVE && (!in->mpi || p->nprocs < 2))
        return st_error(err, STRATA_EINVAL,
                        "STRATA_IO_STRATEGY=collective needs MPI and more than one process "
                        "(here: %s, %d process%s)",
                        in->mpi ? "MPI" : "no MPI", p->nprocs, p->nprocs == 1 ? "" : "es");
    if (s == ST_IO_SIEVE && !in->load && p->nprocs > 1 && !p->replicated)
        return st_error(err, STRATA_EINVAL,
                        "STRATA_IO_STRATEGY=sieve cannot write: several processes would "
                        "rewrite each other's spans");
    return STRATA_OK;
}

/* What the processes' runs of a flat file add up to: sums over the processes and the
 * largest of one process (max...), in bytes except the run and request counts. */
typedef struct {
    uint64_t runs, maxruns, useful, maxuseful, span, maxspan, sieve_reqs, maxsieve;
    uint64_t lo, hi; /* the first and last element any process touches */
    uint64_t cb;     /* collective: bytes per request (cb_buffer_size) */
    uint64_t domain; /* collective: bytes of the domain covering every run, and its requests */
    uint64_t creqs;
} flatruns;

/* Walk every process's pieces of the flat file (once when a replicated dataset is written). */
static int count_runs(st_err *err, const st_pattern *p, const st_plan_in *in, flatruns *fr)
{
    memset(fr, 0, sizeof *fr);
    fr->lo = UINT64_MAX;
    int fortran = in->layout == STRATA_LAYOUT_COL;
    int procs = p->replicated && !in->load ? 1 : p->nprocs;
    for (int r = 0; r < procs; r++) {
        st_walk_count w = {0};
        int rc = st_piece_walk(err, p, in->dims, fortran, r, st_walk_count_fn, &w);
        if (rc < 0) return rc;
        fr->runs += w.runs;
        if (w.runs > fr->maxruns) fr->maxruns = w.runs;
        fr->useful += w.elems * in->esz;
        if (w.elems * in->esz > fr->maxuseful) fr->maxuseful = w.elems * in->esz;
        if (w.runs) {
            uint64_t sp = (w.last - w.first + 1) * in->esz;
            uint64_t sr = (sp + ST_SIEVE_MAX - 1) / ST_SIEVE_MAX;
            fr->span += sp;
            fr->sieve_reqs += sr;
            if (sp > fr->maxspan) fr->maxspan = sp;
            if (sr > fr->maxsieve) fr->maxsieve = sr;
            if (w.first < fr->lo) fr->lo = w.first;
            if (w.last > fr->hi) fr->hi = w.last;
        }
    }
    return STRATA_OK;
}

/* The flat strategies' estimates (the slowest process's time) into COST, after sizing the
 * collective's covering domain in FR. */
static void flat_costs(const st_pattern *p, const st_plan_in *in, flatruns *fr, double *cost)
{
    fr->cb = p->request > 0 ? p->request : (uint64_t)16 << 20;
    fr->domain = fr->hi >= fr->lo && fr->lo != UINT64_MAX ? (fr->hi - fr->lo + 1) * in->esz : 0;
    fr->creqs = fr->domain ? (fr->domain + fr->cb - 1) / fr->cb : 0;
    double np = p->nprocs > 0 ? p->nprocs : 1;
    cost[ST_IO_INDEPENDENT] =
        st_cost_io((double)fr->maxruns, (double)fr->maxuseful, in->latency, in->bw);
    cost[ST_IO_CONTIGUOUS] = cost[ST_IO_INDEPENDENT];
    cost[ST_IO_SIEVE] = st_cost_io((double)fr->maxsieve, (double)fr->maxspan, in->latency, in->bw) +
                        (double)fr->maxuseful / ST_COST_MEM_BW;
    cost[ST_IO_COLLECTIVE] =
        st_cost_io((double)fr->creqs / np, (double)fr->domain / np, in->latency, in->bw) +
        st_cost_collective((double)fr->useful, (double)fr->runs, p->nprocs);
}

/* Why not the others: "; estimated sieve 1 ms, independent 2 ms against 0.5 ms" into ALT,
 * for the strategies that could move the data (S is the chosen one). */
static void why_not_others(char *alt, size_t cap, const st_plan_in *in, const double *cost, int s,
                           int can_coll, int can_sieve)
{
    size_t k = 0;
    alt[0] = '\0';
    for (int a = ST_IO_SIEVE; a <= ST_IO_INDEPENDENT; a++) {
        if (a == s || (a == ST_IO_COLLECTIVE && !can_coll) || (a == ST_IO_SIEVE && !can_sieve) ||
            k >= cap)
            continue;
        say(alt + k, cap - k, "%s %s %.3g ms", k ? "," : "; estimated", st_io_name(a),
            1e3 * cost[a]);
        k = strlen(alt);
    }
    if (k && k < cap)
        say(alt + k, cap - k, " against %.3g ms%s", 1e3 * cost[s],
            in->forced == ST_IO_AUTO ? "" : " (forced by STRATA_IO_STRATEGY)");
}

/* The requests, bytes and reason of strategy S for a flat file. */
static void explain_flat(strata_plan *out, int s, const st_pattern *p, const st_plan_in *in,
                         const flatruns *fr, const char *dist, const char *layout, const char *alt)
{
    char b1[32], b2[32];
    uint64_t runs = fr->runs;
    double density = fr->span ? (double)fr->useful / (double)fr->span : 1;
    fmt_bytes(b1, sizeof b1, (double)(runs ? fr->useful / runs : 0));
    switch (s) {
    case ST_IO_CONTIGUOUS:
    case ST_IO_INDEPENDENT:
        out->requests = runs;
        out->bytes = fr->useful;
        if (fr->maxruns <= 1)
            say(out->reason, sizeof out->reason,
                "each process's piece of %s is one contiguous run of the %s file: one "
                "request of %s each",
                dist, layout, b1);
        else
            say(out->reason, sizeof out->reason,
                "%s on a %s file: one request per run, %" PRIu64
                " runs of about %s in all (%.0f%% of the spans they cover) on a tier of "
                "%.3g ms per request%s",
                dist, layout, runs, b1, 100 * density, 1e3 * in->latency, alt);
        break;
    case ST_IO_SIEVE:
        out->requests = fr->sieve_reqs;
        out->bytes = fr->span;
        say(out->reason, sizeof out->reason,
            "%s on a %s file: %" PRIu64 " runs of about %s fill %.0f%% of the span "
            "they cover, so each process reads its span in slabs of at most %d MiB and "
            "extracts its runs (%" PRIu64 " requests instead of %" PRIu64 ")%s",
            dist, layout, runs, b1, 100 * density, (int)(ST_SIEVE_MAX >> 20), fr->sieve_reqs, runs,
            alt);
        break;
    default: /* collective */
        out->requests = fr->creqs;
        out->bytes = fr->domain;
        fmt_bytes(b2, sizeof b2, (double)fr->cb);
        say(out->reason, sizeof out->reason,
            "%s on a %s file: %d processes need %" PRIu64 " interleaved runs of about "
            "%s; two-phase collective MPI-IO reads the covering domain in %" PRIu64
            " requests of up to %s (cb_buffer_size) and redistributes the pieces%s",
            dist, layout, p->nprocs, runs, b1, out->requests, b2, alt);
        break;
    }
}

/* A flat (row- or column-major) file: count the runs of every process, estimate each strategy
 * and take the forced one, or the cheapest that can move the data. */
static int plan_flat(st_err *err, const st_pattern *p, const st_plan_in *in,
                     const st_cat_access *rec, const char *layout, strata_plan *out)
{
    int s = in->forced, rc;
    flatruns fr;
    ST_TRY(rc = check_forced_flat(err, p, in, layout));
    ST_TRY(rc = count_runs(err, p, in, &fr));
    double cost[ST_IO_NSTRATEGIES] = {0};
    flat_costs(p, in, &fr, cost);
    int can_coll = p->nprocs > 1 && in->mpi && !p->replicated;
    int can_sieve = in->load || p->nprocs == 1 || p->replicated;
    if (s == ST_IO_AUTO) {
        if (fr.maxruns <= 1) {
            s = ST_IO_CONTIGUOUS;
        } else {
            s = ST_IO_INDEPENDENT;
            if (can_sieve && cost[ST_IO_SIEVE] < cost[s]) s = ST_IO_SIEVE;
            if (can_coll && cost[ST_IO_COLLECTIVE] < cost[s]) s = ST_IO_COLLECTIVE;
        }
    }
    snprintf(out->strategy, sizeof out->strategy, "%s", st_io_name(s));
    out->useful = fr.useful;
    out->estimate = cost[s];
    char alt[160] = "";
    if (fr.maxruns > 1) why_not_others(alt, sizeof alt, in, cost, s, can_coll, can_sieve);
    explain_flat(out, s, p, in, &fr, rec->dist, layout, alt);
done:
    return rc;
}

/* Prefetching (sequential loads) and prestaging (loads from an archive tier), with their
 * reasons appended. */
static void plan_hints(const st_pattern *p, const st_plan_in *in, strata_plan *out)
{
    if (in->load && p->sequential && !in->no_prefetch) out->prefetch = 1;
    if (in->load && in->archive) out->prestage = 1;
    size_t len = strlen(out->reason);
    if (out->prestage && len < sizeof out->reason)
        say(out->reason + len, sizeof out->reason - len,
            "; the data is on an archive tier: prestaged to the default tier "
            "first");
    len = strlen(out->reason);
    if (out->prefetch && len < sizeof out->reason)
        say(out->reason + len, sizeof out->reason - len,
            "; sequential hint: the next iteration is prefetched while this one is used");
}

int st_plan(st_err *err, const st_pattern *p, const st_plan_in *in, strata_plan *out)
{
    memset(out, 0, sizeof *out);
    out->procs = p->nprocs;
    st_cat_access rec;
    st_pattern_record(p, &rec);
    static const char *const layouts[] = {"chunked", "row-major", "column-major"};
    uint64_t total = in->esz;
    for (int d = 0; d < in->ndims; d++) total *= in->dims[d];
    int rc;
    if (in->layout == STRATA_LAYOUT_CHUNKED)
        ST_TRY(rc = plan_chunked(err, p, in, &rec, total, out));
    else
        ST_TRY(rc = plan_flat(err, p, in, &rec, layouts[in->layout], out));
    plan_hints(p, in, out);
done:
    return rc;
}
