/*
 * nd_io.c -- the read path of N-d arrays: box copies, the chunk cache, on-demand staging and the
 * prefetch of the next step.
 *
 * A read lists the chunk rows of the rectangle's chunk box in one catalog statement (one
 * consistent version), then copies from each chunk only the part inside the rectangle; chunks
 * without a row read as the fill value. A chunk whose file vanished (replaced by a writer or
 * evicted after the listing) makes the read list again, so every chunk of the result is a whole
 * version of that chunk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ndarray/nd_int.h"
#include "store/summary.h"
#include "util/dtype.h"
#include "util/fileio.h"
#include "util/par.h"

/* ---- box copies ----------------------------------------------------------------------------- */

/* Copy one row of N elements: memcpy when both sides are dense, else element by element. */
static inline void copy_row(uint64_t n, size_t esz, const char *s, int64_t ss, char *d, int64_t ds)
{
    if (ss == (int64_t)esz && ds == (int64_t)esz) {
        memcpy(d, s, n * esz);
        return;
    }
    switch (esz) {
    case 1:
        for (uint64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
        break;
    case 2:
        for (uint64_t i = 0; i < n; i++) memcpy(d + i * ds, s + i * ss, 2);
        break;
    case 4:
        for (uint64_t i = 0; i < n; i++) memcpy(d + i * ds, s + i * ss, 4);
        break;
    default:
        for (uint64_t i = 0; i < n; i++) memcpy(d + i * ds, s + i * ss, 8);
        break;
    }
}

void st_nd_copy_box(int n, const uint64_t *count, size_t esz, const char *src, const int64_t *ss,
                    char *dst, const int64_t *ds)
{
    for (int d = 0; d < n; d++)
        if (count[d] == 0) return;
    /* the innermost dimension is a row; the others an odometer */
    uint64_t k[ST_ND_MAXDIMS] = {0};
    int last = n - 1;
    for (;;) {
        copy_row(count[last], esz, src, ss[last], dst, ds[last]);
        int d = last - 1;
        for (; d >= 0; d--) {
            src += ss[d];
            dst += ds[d];
            if (++k[d] < count[d]) break;
            src -= (int64_t)count[d] * ss[d];
            dst -= (int64_t)count[d] * ds[d];
            k[d] = 0;
        }
        if (d < 0) return;
    }
}

void st_nd_fill_box(int n, const uint64_t *count, size_t esz, const void *fill, char *dst,
                    const int64_t *ds)
{
    for (int d = 0; d < n; d++)
        if (count[d] == 0) return;
    static const char zero[8];
    int is_zero = memcmp(fill, zero, esz) == 0;
    uint64_t k[ST_ND_MAXDIMS] = {0};
    int last = n - 1;
    for (;;) {
        if (is_zero && ds[last] == (int64_t)esz) {
            memset(dst, 0, count[last] * esz);
        } else {
            for (uint64_t i = 0; i < count[last]; i++) memcpy(dst + i * ds[last], fill, esz);
        }
        int d = last - 1;
        for (; d >= 0; d--) {
            dst += ds[d];
            if (++k[d] < count[d]) break;
            dst -= (int64_t)count[d] * ds[d];
            k[d] = 0;
        }
        if (d < 0) return;
    }
}

/* ---- the chunk cache ------------------------------------------------------------------------ */

/* Decoded (or mapped) chunks keyed by file name, which is unique per chunk version, so an entry
 * never goes stale: a rewritten chunk has a new name. Least recently used entries go first. */
typedef struct centry {
    char file[ST_CAT_FILE];
    uint64_t hash, tick;
    st_chunkbuf cb;
    int next; /* bucket chain; -1 ends it */
    int live;
} centry;

struct st_ndcache {
    size_t cap, used;
    uint64_t tick;
    centry *e;
    int n, room, free_head;
    int *heads; /* nbuckets chain heads */
    int nbuckets;
};

int st_nd_cache_new(st_ndctx *x, size_t cap)
{
    struct st_ndcache *c = calloc(1, sizeof *c);
    if (c == NULL) return st_error(x->err, STRATA_ENOMEM, "out of memory for a chunk cache");
    c->cap = cap;
    c->free_head = -1;
    x->cache = c;
    return STRATA_OK;
}

void st_nd_cache_free(st_ndctx *x)
{
    struct st_ndcache *c = x->cache;
    if (c == NULL) return;
    for (int i = 0; i < c->n; i++)
        if (c->e[i].live) st_chunk_release(&c->e[i].cb);
    free(c->e);
    free(c->heads);
    free(c);
    x->cache = NULL;
}

static const st_chunkbuf *cache_get(struct st_ndcache *c, const char *file)
{
    if (c == NULL || c->nbuckets == 0) return NULL;
    uint64_t h = XXH64(file, strlen(file), 0);
    for (int i = c->heads[h & (uint64_t)(c->nbuckets - 1)]; i >= 0; i = c->e[i].next)
        if (c->e[i].hash == h && strcmp(c->e[i].file, file) == 0) {
            c->e[i].tick = ++c->tick;
            return &c->e[i].cb;
        }
    return NULL;
}

static void cache_unlink(struct st_ndcache *c, int i)
{
    int *p = &c->heads[c->e[i].hash & (uint64_t)(c->nbuckets - 1)];
    while (*p != i) p = &c->e[*p].next;
    *p = c->e[i].next;
    c->used -= c->e[i].cb.len;
    st_chunk_release(&c->e[i].cb);
    c->e[i].live = 0;
    c->e[i].next = c->free_head;
    c->free_head = i;
}

static int cache_grow(struct st_ndcache *c)
{
    int room = c->room ? c->room * 2 : 64;
    centry *e = realloc(c->e, (size_t)room * sizeof *e);
    if (e == NULL) return -1;
    c->e = e;
    c->room = room;
    int nb = room * 2;
    int *heads = malloc((size_t)nb * sizeof *heads);
    if (heads == NULL) return -1;
    for (int b = 0; b < nb; b++) heads[b] = -1;
    for (int i = 0; i < c->n; i++) {
        if (!c->e[i].live) continue;
        int b = (int)(c->e[i].hash & (uint64_t)(nb - 1));
        c->e[i].next = heads[b];
        heads[b] = i;
    }
    free(c->heads);
    c->heads = heads;
    c->nbuckets = nb;
    /* the free list is rebuilt over the dead entries */
    c->free_head = -1;
    for (int i = c->n - 1; i >= 0; i--)
        if (!c->e[i].live) {
            c->e[i].next = c->free_head;
            c->free_head = i;
        }
    return 0;
}

/* Keep CB (taking ownership) under FILE: returns the cached copy, or NULL when it does not fit
 * (the caller keeps and releases CB). */
static const st_chunkbuf *cache_put(struct st_ndcache *c, const char *file, st_chunkbuf *cb)
{
    if (c == NULL || cb->len > c->cap) return NULL;
    while (c->used + cb->len > c->cap) {
        int victim = -1;
        for (int i = 0; i < c->n; i++)
            if (c->e[i].live && (victim < 0 || c->e[i].tick < c->e[victim].tick)) victim = i;
        if (victim < 0) return NULL;
        cache_unlink(c, victim);
    }
    if (c->free_head < 0 && c->n == c->room && cache_grow(c) < 0) return NULL;
    int i;
    if (c->free_head >= 0) {
        i = c->free_head;
        c->free_head = c->e[i].next;
    } else {
        i = c->n++;
    }
    centry *e = &c->e[i];
    snprintf(e->file, sizeof e->file, "%s", file);
    e->hash = XXH64(file, strlen(file), 0);
    e->tick = ++c->tick;
    e->cb = *cb;
    e->live = 1;
    int b = (int)(e->hash & (uint64_t)(c->nbuckets - 1));
    e->next = c->heads[b];
    c->heads[b] = i;
    c->used += cb->len;
    memset(cb, 0, sizeof *cb);
    return &e->cb;
}

/* ---- reading one chunk ---------------------------------------------------------------------- */

#define NEED_REPLAN 1 /* a file of the listing is gone: list the chunks again */

/* A chunk's share of the rectangle: from element P0 (chunk coordinates) KN elements along each
 * dimension, every STRIDE-th; they go to DST in the caller's buffer with strides DSEL. */
typedef struct {
    int n;
    size_t esz;
    uint64_t p0[ST_ND_MAXDIMS], kn[ST_ND_MAXDIMS];
    const uint64_t *stride;
    char *dst;
    int64_t dsel[ST_ND_MAXDIMS];
    const void *fill;
} nd_box;

/* Where box B lies in chunk data described by INFO (whose stored extent may be smaller than the
 * chunk's: an array that grew): IN the elements present along each dimension, SSEL the source
 * strides, *LO and *HI the byte span from the first to past the last element present. Returns
 * whether part of the box is missing from the file (filled with the fill value). */
static int box_span(const st_npy_info *info, const nd_box *b, uint64_t *in, int64_t *ssel,
                    uint64_t *lo, uint64_t *hi)
{
    uint64_t have[ST_ND_MAXDIMS];
    int64_t sst[ST_ND_MAXDIMS];
    int partial = 0, none = 0;
    for (int d = 0; d < b->n; d++) have[d] = d < info->ndim ? info->shape[d] : 1;
    st_nd_strides(b->n, have, info->fortran_order, b->esz, sst);
    *lo = 0;
    uint64_t last = 0;
    for (int d = 0; d < b->n; d++) {
        uint64_t p0 = b->p0[d];
        in[d] = p0 >= have[d] ? 0 : (have[d] - 1 - p0) / b->stride[d] + 1;
        if (in[d] > b->kn[d]) in[d] = b->kn[d];
        if (in[d] < b->kn[d]) partial = 1;
        if (in[d] == 0) none = 1;
        ssel[d] = (int64_t)b->stride[d] * sst[d];
        *lo += p0 * (uint64_t)sst[d];
        if (in[d] > 0) last += (in[d] - 1) * (uint64_t)ssel[d];
    }
    *hi = none ? *lo : *lo + last + b->esz;
    return partial;
}

/* Copy box B from chunk data described by INFO, of which SRC holds the element data from byte
 * LO on (at least up to the end of the box's span). */
static void box_copy(const st_npy_info *info, const nd_box *b, const char *src, uint64_t lo)
{
    uint64_t in[ST_ND_MAXDIMS], l, h;
    int64_t ssel[ST_ND_MAXDIMS];
    int partial = box_span(info, b, in, ssel, &l, &h);
    if (partial) st_nd_fill_box(b->n, b->kn, b->esz, b->fill, b->dst, b->dsel);
    if (h > l) st_nd_copy_box(b->n, in, b->esz, src + (l - lo), ssel, b->dst, b->dsel);
}

static int check_dtype(st_ndctx *x, const st_cat_nd *rec, const st_npy_info *info, const char *path)
{
    if (info->dtype == (strata_dtype)rec->dtype) return STRATA_OK;
    return st_error(x->err, STRATA_ECORRUPT,
                    "chunk file '%s' of '%s/%s' holds %s, not %s (run 'strata check')", path,
                    rec->region, rec->name, strata_dtype_name(info->dtype),
                    strata_dtype_name((strata_dtype)rec->dtype));
}

/* Bytes of a plain chunk file read at once to find its header (and, for a small box near the
 * start, its data too). */
#define HEAD_READ 512
/* Spans longer than this that are less than half wanted are read through a mapping. */
#define SPARSE_SPAN ((uint64_t)1 << 20)

/* At most this many rows are read one pread each (a sparse box); more go through a mapping. */
#define SPARSE_ROWS 65536

/* S's buffer at least NEED bytes. */
static int scratch_fit(st_ndctx *x, st_ndscratch *s, size_t need, const char *path)
{
    if (s->cap >= need) return STRATA_OK;
    free(s->buf);
    s->cap = 0;
    if ((s->buf = malloc(need)) == NULL)
        return st_error(x->err, STRATA_ENOMEM, "out of memory reading '%s'", path);
    s->cap = need;
    return STRATA_OK;
}

/* Box B from FD at PATH (element data at byte DATA), whose rows (the innermost dimension) are
 * contiguous in the file: IN, SSEL and LO as box_span gives them. Each row is one pread, into
 * the destination when its row is contiguous too, else through the scratch buffer: a small box
 * of a big contiguous array reads its rows' bytes and nothing else (a mapping would fault in and
 * tear down a page run around every row). */
static int box_rows(st_ndctx *x, int fd, const char *path, uint64_t data, const nd_box *b,
                    const uint64_t *in, const int64_t *ssel, uint64_t lo, st_ndscratch *s)
{
    int last = b->n - 1, direct = b->dsel[last] == (int64_t)b->esz;
    size_t row = (size_t)(in[last] * b->esz);
    int rc = direct ? STRATA_OK : scratch_fit(x, s, row, path);
    uint64_t k[ST_ND_MAXDIMS] = {0}, off = data + lo;
    char *dst = b->dst;
    for (int d = 0; d < last; d++)
        if (in[d] == 0) return rc;
    while (rc == STRATA_OK) {
        rc = st_pread_full(x->err, fd, direct ? dst : s->buf, row, off, path);
        if (rc == STRATA_OK && !direct)
            copy_row(in[last], b->esz, s->buf, (int64_t)b->esz, dst, b->dsel[last]);
        int d = last - 1;
        for (; d >= 0; d--) {
            off += (uint64_t)ssel[d];
            dst += b->dsel[d];
            if (++k[d] < in[d]) break;
            off -= in[d] * (uint64_t)ssel[d];
            dst -= (int64_t)in[d] * b->dsel[d];
            k[d] = 0;
        }
        if (d < 0) break;
    }
    return rc;
}

/* The header of the plain chunk file at PATH (SIZE bytes) from its first bytes HEAD (HEAD_READ of
 * them, or all when fewer) into *INFO, checked against REC (elements of ESZ bytes): STRATA_OK;
 * 1 when the header is longer than HEAD_READ (read the file the ordinary way); else an error. */
static int chunk_head(st_ndctx *x, const st_cat_nd *rec, const char *head, size_t size,
                      const char *path, size_t esz, st_npy_info *info)
{
    size_t got = size < HEAD_READ ? size : HEAD_READ;
    st_err quiet;
    st_err_init(&quiet);
    int rc = st_npy_parse_nd(&quiet, head, got, path, info);
    st_err_destroy(&quiet);
    if (rc < 0 && got < size) return 1;
    if (rc < 0) return st_npy_parse_nd(x->err, head, got, path, info);
    if ((rc = check_dtype(x, rec, info, path)) < 0) return rc;
    if (info->count > (size - info->data_offset) / esz)
        return st_error(x->err, STRATA_ECORRUPT,
                        "'%s' is truncated: its header announces %" PRIu64 " elements", path,
                        info->count);
    return STRATA_OK;
}

/* Box B from the plain chunk file FD at PATH, reading only the bytes it needs: the header, then
 * the span from the first to the last wanted element into the scratch buffer, or, when the span
 * is large and mostly unwanted, each row of the box. The page cache is the cache of plain files;
 * 1 when the header does not fit HEAD_READ or a sparse box's rows are not contiguous in the file
 * (read the whole file). */
static int plain_box(st_ndctx *x, const st_cat_nd *rec, int fd, const char *path, const nd_box *b,
                     st_ndscratch *s, st_fmaps *keep)
{
    char head[HEAD_READ];
    struct stat st;
    if (fstat(fd, &st) != 0) return st_error_errno(x->err, errno, "cannot examine '%s'", path);
    size_t size = (size_t)st.st_size, got = size < HEAD_READ ? size : HEAD_READ;
    int rc = st_pread_full(x->err, fd, head, got, 0, path);
    if (rc < 0) return rc;
    st_npy_info info;
    if ((rc = chunk_head(x, rec, head, size, path, b->esz, &info)) != STRATA_OK) return rc;
    st_fmaps_keep(keep, path, fd, size); /* the next read of it copies from the mapping */
    uint64_t in[ST_ND_MAXDIMS], lo, hi;
    int64_t ssel[ST_ND_MAXDIMS];
    int partial = box_span(&info, b, in, ssel, &lo, &hi);
    uint64_t want = b->esz, rows = 1;
    for (int d = 0; d < b->n; d++) want *= in[d];
    for (int d = 0; d + 1 < b->n; d++) rows *= in[d];
    /* a large sparse span (rows longer than pages, in a big contiguous file): each row by itself
     * when rows are contiguous and not too many, else map the file and touch only the pages
     * the box needs */
    if (hi - lo > SPARSE_SPAN && want * 2 < hi - lo) {
        if (ssel[b->n - 1] != (int64_t)b->esz || rows > SPARSE_ROWS) return 1;
        if (partial) st_nd_fill_box(b->n, b->kn, b->esz, b->fill, b->dst, b->dsel);
        return box_rows(x, fd, path, info.data_offset, b, in, ssel, lo, s);
    }
    const char *src = head + info.data_offset + lo;
    if (hi > lo && info.data_offset + hi > got) {
        size_t need = (size_t)(hi - lo);
        if ((rc = scratch_fit(x, s, need, path)) < 0) return rc;
        if ((rc = st_pread_full(x->err, fd, s->buf, need, info.data_offset + lo, path)) < 0)
            return rc;
        src = s->buf;
    }
    box_copy(&info, b, src, lo);
    return STRATA_OK;
}

/* Box B from the plain chunk file at PATH as the pool keeps it mapped (M), as plain_box() would
 * read it. */
static int mapped_box(st_ndctx *x, const st_cat_nd *rec, const st_fmap *m, const char *path,
                      const nd_box *b)
{
    st_npy_info info;
    int rc = chunk_head(x, rec, m->data, m->size, path, b->esz, &info);
    if (rc == STRATA_OK) box_copy(&info, b, m->data + info.data_offset, 0);
    return rc;
}

/* Box B from the home file at PATH if the pool keeps it mapped (X->fm): STRATA_OK or an error
 * as plain_box() gives them, 1 when it is not kept (or has an unusual header). */
static int kept_box(st_ndctx *x, const st_cat_nd *rec, const char *path, const nd_box *b)
{
    const st_fmap *m = st_fmaps_find(x->fm, path);
    if (m == NULL) return 1;
    int rc = mapped_box(x, rec, m, path, b);
    st_fmaps_release(x->fm, m);
    return rc;
}

/* Box B of chunk C of REC: from the cache, the staged copy, or the home file (staging it first
 * when its home is an archive). Compressed chunks are decoded whole and kept in the cache; plain
 * ones are read in part. */
static int chunk_box(st_ndctx *x, const st_cat_nd *rec, const st_cat_chunk *c, const nd_box *b,
                     st_ndscratch *s)
{
    int64_t tier = c->staged_tier ? c->staged_tier : c->tier_id;
    int staged = c->staged_tier != 0;
    const char *file = staged ? c->staged_file : c->file;
    const st_chunkbuf *cb = cache_get(x->cache, file);
    if (cb != NULL) {
        x->cache_hits++;
        box_copy(&cb->info, b, cb->data, 0);
        return STRATA_OK;
    }
    int rc;
    char fresh[ST_CAT_FILE];
    if (!staged) {
        int arch = st_nd_tier_is_archive(x, c->tier_id);
        if (arch < 0) return arch;
        if (arch) {
            /* a read of unstaged archive data stages it on demand, then reads the copy */
            rc = st_nd_stage_chunk(x, rec, c, x->stage_tier, fresh);
            if (rc == STRATA_ECONFLICT || rc == STRATA_ENOTFOUND) return NEED_REPLAN;
            if (rc < 0) return rc;
            tier = x->stage_tier;
            file = fresh;
            staged = 1;
        }
    }
    char dir[ST_PATH_MAX], path[ST_PATH_MAX];
    if ((rc = st_nd_dir(x, rec, tier, 0, dir)) < 0) return rc;
    if ((rc = st_path(x->err, path, "%s/%s", dir, file)) < 0) return rc;
    if (!staged && !st_chunk_is_zst(file) && (rc = kept_box(x, rec, path, b)) <= 0) {
        x->chunks_read += rc == STRATA_OK;
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? NEED_REPLAN
                               : st_error_errno(x->err, errno, "cannot open '%s'", path);
    if (staged) {
        /* a shared lock keeps the evictor away while the copy is read; the access time is
         * what the evictor orders by */
        if (st_lock_fd(NULL, fd, 0, 0, 0, 0, "staged copy") != STRATA_OK) {
            close(fd);
            return NEED_REPLAN;
        }
        struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
        futimens(fd, ts);
    }
    rc = 1;
    if (!st_chunk_is_zst(file)) rc = plain_box(x, rec, fd, path, b, s, staged ? NULL : x->fm);
    if (rc <= 0) {
        close(fd);
        x->chunks_read += rc == STRATA_OK;
        return rc;
    }
    /* compressed (or an unusual header): decode the whole file and keep it; FD stays open
     * until then, holding a staged copy's lock */
    st_chunkbuf hold;
    rc = st_chunk_read(x->err, path, &hold);
    close(fd);
    if (rc == STRATA_ENOTFOUND) return NEED_REPLAN;
    if (rc < 0) return rc;
    if ((rc = check_dtype(x, rec, &hold.info, path)) < 0) {
        st_chunk_release(&hold);
        return rc;
    }
    x->chunks_read++;
    cb = cache_put(x->cache, file, &hold);
    box_copy(&(cb != NULL ? cb : &hold)->info, b, (cb != NULL ? cb : &hold)->data, 0);
    st_chunk_release(&hold);
    return STRATA_OK;
}

/* ---- reading a rectangle -------------------------------------------------------------------- */

/* ---- reading plain chunks in parallel ------------------------------------------------------ */

/* The box of a plain chunk file on a fast tier, not staged and not cached: read by any thread
 * (an open, one or two preads, a copy into its own part of the buffer). */
typedef struct nd_job {
    nd_box b;
    const st_cat_chunk *row;
    int dir; /* its directory, in the pass's list */
    int rc;  /* STRATA_OK, an error, NEED_REPLAN, or JOB_ORDINARY */
} nd_job;

#define JOB_ORDINARY 2 /* an unusual file: read it the ordinary way, after the others */

/* The directories of the tiers a pass reads from. */
typedef struct nd_dirs {
    int n;
    int64_t tier[ST_ND_TIER_MEMO];
    char path[ST_ND_TIER_MEMO][ST_PATH_MAX];
} nd_dirs;

/* Whether chunk ROW can be read as a job; its directory's index in D. */
static int job_ok(st_ndctx *x, const st_cat_nd *rec, const st_cat_chunk *row, nd_dirs *d, int *dir)
{
    if (row->staged_tier != 0 || st_chunk_is_zst(row->file) || cache_get(x->cache, row->file))
        return 0;
    if (st_nd_tier_is_archive(x, row->tier_id) != 0) return 0;
    for (int i = 0; i < d->n; i++)
        if (d->tier[i] == row->tier_id) {
            *dir = i;
            return 1;
        }
    if (d->n == ST_ND_TIER_MEMO || st_nd_dir(x, rec, row->tier_id, 0, d->path[d->n]) < 0) return 0;
    d->tier[d->n] = row->tier_id;
    *dir = d->n++;
    return 1;
}

static int job_run(st_ndctx *x, const st_cat_nd *rec, const nd_dirs *d, nd_job *jb, st_ndscratch *s)
{
    char path[ST_PATH_MAX];
    int rc = st_path(x->err, path, "%s/%s", d->path[jb->dir], jb->row->file);
    if (rc < 0) return rc;
    if ((rc = kept_box(x, rec, path, &jb->b)) <= 0) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? NEED_REPLAN
                               : st_error_errno(x->err, errno, "cannot open '%s'", path);
    rc = plain_box(x, rec, fd, path, &jb->b, s, x->fm);
    close(fd);
    return rc == 1 ? JOB_ORDINARY : rc;
}

/* Run the N jobs J, on the context's threads when there are several; those that need the
 * ordinary way (an unusual header) go it after. */
static int jobs_run(st_ndctx *x, const st_cat_nd *rec, const nd_dirs *d, nd_job *j, size_t n,
                    st_ndscratch *s)
{
    int nt = x->nthreads > 1 && n >= 4 ? (x->nthreads < 16 ? x->nthreads : 16) : 1;
    st_ndscratch more[16];
    memset(more, 0, sizeof more);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (size_t i = 0; i < n; i++) {
        int t = st_thread_num();
        j[i].rc = job_run(x, rec, d, &j[i], t == 0 ? s : &more[t]);
    }
    for (int t = 1; t < 16; t++) free(more[t].buf);
    int rc = STRATA_OK;
    for (size_t i = 0; i < n && rc == STRATA_OK; i++) {
        if (j[i].rc == JOB_ORDINARY)
            j[i].rc = chunk_box(x, rec, j[i].row, &j[i].b, s);
        else
            x->chunks_read += j[i].rc == STRATA_OK;
        rc = j[i].rc;
    }
    return rc;
}

/* One pass over the chunk box; NEED_REPLAN when a listed file vanished. */
static int read_pass(st_ndctx *x, const st_cat_nd *rec, const uint64_t *start,
                     const uint64_t *count, const uint64_t *stride, char *buf, st_vec *chunks,
                     st_vec *jobs, st_ndscratch *s)
{
    nd_dirs dirs;
    dirs.n = 0;
    jobs->n = 0;
    st_ndgrid g;
    st_nd_grid(rec, &g);
    int n = g.n;
    size_t esz = strata_dtype_size((strata_dtype)rec->dtype);
    uint64_t clo[ST_ND_MAXDIMS], chi[ST_ND_MAXDIMS], c[ST_ND_MAXDIMS];
    for (int d = 0; d < n; d++) {
        clo[d] = c[d] = start[d] / g.chunk[d];
        chi[d] = (start[d] + (count[d] - 1) * stride[d]) / g.chunk[d];
    }
    int rc = st_nd_collect(x, rec, &g, clo, chi, chunks);
    if (rc < 0) return rc;
    /* the pool's mappings for a read of fewer files than it keeps: a larger one would only push
     * out its own files (and those of the reads before) */
    x->fm = x->pool != NULL && chunks->n <= ST_FMAP_ENTRIES / 2 ? st_pool_fmaps(x->pool) : NULL;
    /* progress, when someone listens: chunks handled here one by one (those read on the
     * threads count at the end) */
    int report = st_pool_has_work_fn(x->pool);
    uint64_t total = 1, done = 0;
    for (int d = 0; d < n && report; d++) total *= chi[d] - clo[d] + 1;
    if (report) st_pool_work(x->pool, "chunks", 0, total, "read %s/%s", rec->region, rec->name);
    int64_t bst[ST_ND_MAXDIMS];
    st_nd_strides(n, count, 0, esz, bst);
    nd_box b = {.n = n, .esz = esz, .stride = stride, .fill = rec->fill};
    for (;;) {
        int empty = 0;
        b.dst = buf;
        for (int d = 0; d < n && !empty; d++) {
            uint64_t o = c[d] * g.chunk[d];
            uint64_t e = g.chunk[d] < g.dims[d] - o ? g.chunk[d] : g.dims[d] - o;
            uint64_t first = o <= start[d] ? 0 : (o - start[d] + stride[d] - 1) / stride[d];
            if (first >= count[d] || start[d] + first * stride[d] > o + e - 1) {
                empty = 1;
                break;
            }
            uint64_t last = (o + e - 1 - start[d]) / stride[d];
            if (last >= count[d]) last = count[d] - 1;
            b.p0[d] = start[d] + first * stride[d] - o;
            b.kn[d] = last - first + 1;
            b.dst += (int64_t)first * bst[d];
            b.dsel[d] = bst[d];
        }
        if (!empty) {
            const st_cat_chunk *row = st_nd_find_chunk(chunks, st_nd_linear(&g, c));
            int dir;
            if (row == NULL) {
                st_nd_fill_box(n, b.kn, esz, rec->fill, b.dst, b.dsel);
            } else if (x->nthreads > 1 && job_ok(x, rec, row, &dirs, &dir)) {
                nd_job *jb = st_vec_push(jobs);
                if (jb == NULL) return st_error(x->err, STRATA_ENOMEM, "out of memory reading");
                *jb = (nd_job){b, row, dir, 0};
            } else if ((rc = chunk_box(x, rec, row, &b, s)) != STRATA_OK) {
                return rc;
            }
        }
        if (report && ++done % 16 == 0)
            st_pool_work(x->pool, "chunks", done - jobs->n, total, "read %s/%s", rec->region,
                         rec->name);
        int d = n - 1;
        for (; d >= 0; d--) {
            if (++c[d] <= chi[d]) break;
            c[d] = clo[d];
        }
        if (d < 0) {
            rc = jobs_run(x, rec, &dirs, jobs->v, jobs->n, s);
            if (report && rc == STRATA_OK)
                st_pool_work(x->pool, "chunks", total, total, "read %s/%s", rec->region, rec->name);
            return rc;
        }
    }
}

int st_nd_read(st_ndctx *x, const st_cat_nd *rec, const uint64_t *start, const uint64_t *count,
               const uint64_t *stride, void *buf)
{
    st_vec chunks = ST_VEC(st_cat_chunk), jobs = ST_VEC(nd_job);
    st_ndscratch s = {NULL, 0};
    int rc = STRATA_OK;
    for (int tries = 0; tries < ST_ND_RETRIES; tries++) {
        rc = read_pass(x, rec, start, count, stride, buf, &chunks, &jobs, &s);
        if (rc != NEED_REPLAN) break;
        if (x->ndm != NULL) { /* a change since the manifest was read: the caller asks again */
            rc = ST_ND_STALE;
            break;
        }
    }
    st_vec_free(&chunks);
    st_vec_free(&jobs);
    free(s.buf);
    if (rc == NEED_REPLAN)
        rc = st_error(x->err, STRATA_ECONFLICT,
                      "cannot read '%s/%s': its chunks kept changing under %d attempts",
                      rec->region, rec->name, ST_ND_RETRIES);
    return rc;
}

/* ---- the public read ------------------------------------------------------------------------ */

static int check_rect(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                      const uint64_t *stride, size_t *bytes)
{
    st_err *err = st_pool_err(a->pool);
    const st_cat_nd *r = &a->rec;
    if (start == NULL || count == NULL)
        return st_error(err, STRATA_EINVAL, "cannot read '%s/%s': start and count are required",
                        r->region, r->name);
    double total = (double)a->esz;
    for (int d = 0; d < r->ndims; d++) {
        if (count[d] == 0 || stride[d] == 0)
            return st_error(err, STRATA_EINVAL,
                            "cannot read '%s/%s': %s of dimension %d is 0 (every count and stride "
                            "must be at least 1)",
                            r->region, r->name, count[d] == 0 ? "count" : "stride", d);
        double end = (double)start[d] + (double)(count[d] - 1) * (double)stride[d] + 1;
        if (end > (double)r->dims[d])
            return st_error(err, STRATA_ERANGE,
                            "cannot read '%s/%s': [%" PRIu64 ", %.0f) is outside dimension %d of "
                            "size %" PRIu64,
                            r->region, r->name, start[d], end, d, r->dims[d]);
        total *= (double)count[d];
    }
    if (total > (double)SIZE_MAX / 2)
        return st_error(err, STRATA_ERANGE, "cannot read '%s/%s': the rectangle is too large",
                        r->region, r->name);
    *bytes = (size_t)total;
    return STRATA_OK;
}

/* A read through A's manifest (loaded again when its file changed): STRATA_OK or an error, or
 * ST_ND_STALE when there is none to use or it went stale under the read (ask the catalog). */
static int read_manifest(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                         const uint64_t *stride, void *buf, size_t *bytes)
{
    if (!a->ndm_use) return ST_ND_STALE;
    if (a->ndm != NULL && !st_ndm_current(a->ndm)) {
        st_ndm_free(a->ndm);
        a->ndm = NULL;
    }
    if (a->ndm == NULL) {
        int m = st_cat_ndm_load(st_pool_cat(a->pool), a->rec.region, a->rec.name, &a->ndm);
        if (m == STRATA_ERANGE) a->ndm_made = 1; /* it says: ask the catalog */
        if (m != STRATA_OK) return ST_ND_STALE;
    }
    a->rec = a->ndm->rec;
    int rc = check_rect(a, start, count, stride, bytes);
    if (rc < 0) return rc;
    a->x.ndm = a->ndm;
    rc = st_nd_read(&a->x, &a->rec, start, count, stride, buf);
    a->x.ndm = NULL;
    if (rc == ST_ND_STALE) {
        st_ndm_free(a->ndm);
        a->ndm = NULL;
    }
    return rc;
}

int strata_ndarray_read_strided(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                                const uint64_t *stride, void *buf)
{
    if (a == NULL || a->magic != ST_ND_LIVE) return STRATA_EINVAL;
    static const uint64_t ones[ST_ND_MAXDIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (stride == NULL) stride = ones;
    if (buf == NULL)
        return st_error(st_pool_err(a->pool), STRATA_EINVAL, "read: the buffer is NULL");
    a->x.ntiers = 0; /* tiers may have been removed and added since the last call */
    a->x.nthreads = st_pool_threads(a->pool); /* set again: a forked child sets 1 */
    size_t bytes = 0;
    int rc = read_manifest(a, start, count, stride, buf, &bytes);
    if (rc != ST_ND_STALE) {
        a->reads += rc == STRATA_OK;
        return rc;
    }
    rc = st_cat_nd_get(st_pool_err(a->pool), st_pool_cat(a->pool), a->rec.region, a->rec.name,
                       &a->rec);
    if (rc < 0 || (rc = check_rect(a, start, count, stride, &bytes)) < 0) return rc;
    if (a->ndm_use && !a->ndm_made) { /* a manifest for the reads to come (once a handle) */
        a->ndm_made = 1;
        st_cat_ndm_make(st_pool_cat(a->pool), a->rec.region, a->rec.name);
    }
    a->reads++;
    if (a->pf != NULL && st_nd_prefetch_take(a, start, count, stride, buf, bytes)) {
        a->prefetched++;
    } else {
        rc = st_nd_read(&a->x, &a->rec, start, count, stride, buf);
    }
    if (rc == STRATA_OK && (a->hints & STRATA_ND_SEQUENTIAL) && count[0] == 1)
        st_nd_prefetch_next(a, start, count, stride);
    return rc;
}

int strata_ndarray_read(strata_ndarray *a, const uint64_t *start, const uint64_t *count, void *buf)
{
    return strata_ndarray_read_strided(a, start, count, NULL, buf);
}

/* ---- summary statistics --------------------------------------------------------------------- */

/* A summary reads the rectangle in slabs of at most this many bytes. */
#define SUMMARY_SLAB ((size_t)8 << 20)

typedef struct ndpass {
    strata_ndarray *a;
    const uint64_t *start, *count;
    int k; /* slabs: 1 in dimensions before K, up to STEP in K, whole after K */
    uint64_t step;
    char *buf; /* one slab */
    int whole; /* the rectangle is one slab: read once, kept for pass 2 */
} ndpass;

static int region_pass(void *ctx, const st_stats *p1, st_stats *acc)
{
    ndpass *c = ctx;
    strata_ndarray *a = c->a;
    const st_cat_nd *r = &a->rec;
    int n = r->ndims;
    static const uint64_t ones[ST_ND_MAXDIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    uint64_t at[ST_ND_MAXDIMS] = {0}, sstart[ST_ND_MAXDIMS], scount[ST_ND_MAXDIMS];
    char what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "a region of N-d array '%s/%s'", r->region, r->name);
    for (;;) {
        int rc = st_summary_interrupted(a->pool, what);
        if (rc < 0) return rc;
        uint64_t elems = 1;
        for (int d = 0; d < n; d++) {
            sstart[d] = c->start[d] + at[d];
            scount[d] = d < c->k ? 1 : d == c->k ? c->count[d] - at[d] : c->count[d];
            if (d == c->k && scount[d] > c->step) scount[d] = c->step;
            elems *= scount[d];
        }
        rc = c->whole && p1 != NULL ? STRATA_OK
                                    : st_nd_read(&a->x, &a->rec, sstart, scount, ones, c->buf);
        if (rc < 0) return rc;
        strata_dtype dt = (strata_dtype)r->dtype;
        if (p1 == NULL)
            st_stats_pass1(dt, c->buf, elems, acc);
        else
            st_stats_pass2(dt, c->buf, elems, st_stats_mean(p1), p1->min, p1->max, acc);
        /* the next slab: advance dimension K by the step, then the ones before it */
        int d = c->k;
        at[d] += scount[d];
        while (d > 0 && at[d] >= c->count[d]) {
            at[d] = 0;
            at[--d]++;
        }
        if (at[d] >= c->count[d]) break;
    }
    /* a slab of another version would mix two versions under one: refuse, the caller retries */
    int64_t version = r->version;
    int rc = st_cat_nd_get(st_pool_err(a->pool), st_pool_cat(a->pool), r->region, r->name, &a->rec);
    if (rc == STRATA_OK && a->rec.version != version)
        rc = st_error(st_pool_err(a->pool), STRATA_ECONFLICT,
                      "N-d array '%s/%s' was written (version %" PRId64 " -> %" PRId64
                      ") while its statistics were computed; ask again",
                      r->region, r->name, version, a->rec.version);
    return rc;
}

int strata_ndarray_summary(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                           strata_summary *out)
{
    if (a == NULL || a->magic != ST_ND_LIVE) return STRATA_EINVAL;
    st_err *err = st_pool_err(a->pool);
    if (out == NULL) return st_error(err, STRATA_EINVAL, "summary: no output given");
    static const uint64_t ones[ST_ND_MAXDIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    a->x.ntiers = 0;
    a->x.nthreads = st_pool_threads(a->pool);
    int rc = st_cat_nd_get(err, st_pool_cat(a->pool), a->rec.region, a->rec.name, &a->rec);
    size_t bytes = 0;
    if (rc < 0 || (rc = check_rect(a, start, count, ones, &bytes)) < 0) return rc;
    const st_cat_nd *r = &a->rec;
    if (r->dtype == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "N-d array '%s/%s' holds strings: statistics need "
                        "numbers",
                        r->region, r->name);
    /* the part: the rectangle, as "start+count,..." */
    char part[ST_ND_MAXDIMS * 42];
    size_t len = 0;
    for (int d = 0; d < r->ndims; d++)
        len += (size_t)snprintf(part + len, sizeof part - len, "%s%" PRIu64 "+%" PRIu64,
                                d ? "," : "", start[d], count[d]);
    /* the slabs: the first dimension K whose inner extent fits, stepped by what fits */
    ndpass c = {a, start, count, 0, 1, NULL, bytes <= SUMMARY_SLAB};
    size_t inner = a->esz;
    c.k = r->ndims - 1;
    for (int d = r->ndims - 1; d > 0 && inner * count[d] <= SUMMARY_SLAB; d--) {
        inner *= count[d];
        c.k = d - 1;
    }
    c.step = SUMMARY_SLAB / inner ? SUMMARY_SLAB / inner : 1;
    c.buf = malloc(bytes < SUMMARY_SLAB ? bytes : SUMMARY_SLAB);
    if (c.buf == NULL) return st_error(err, STRATA_ENOMEM, "out of memory for a summary slab");
    rc = st_summary(a->pool, ST_SUMMARY_REGION, r->id, part, (uint64_t)r->version, r->version,
                    region_pass, &c, out);
    free(c.buf);
    return rc;
}

/* ---- prefetch ------------------------------------------------------------------------------- */

static void *prefetch_main(void *arg)
{
    st_ndprefetch *pf = arg;
    pf->rc = st_nd_read(&pf->x, &pf->rec, pf->start, pf->count, pf->stride, pf->buf);
    return NULL;
}

static void prefetch_join(st_ndprefetch *pf)
{
    if (pf->running) {
        pthread_join(pf->thread, NULL);
        pf->running = 0;
    }
}

void st_nd_prefetch_stop(strata_ndarray *a)
{
    st_ndprefetch *pf = a->pf;
    if (pf == NULL) return;
    prefetch_join(pf);
    if (pf->cat != NULL) st_cat_close(pf->cat);
    free(pf->buf);
    st_err_destroy(&pf->err);
    free(pf);
    a->pf = NULL;
}

void st_nd_prefetch_next(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                         const uint64_t *stride)
{
    const st_cat_nd *r = &a->rec;
    if (start[0] + stride[0] >= r->dims[0]) return; /* no next step yet */
    size_t bytes = a->esz;
    for (int d = 0; d < r->ndims; d++) bytes *= count[d];
    st_ndprefetch *pf = a->pf;
    if (pf == NULL) {
        if ((pf = calloc(1, sizeof *pf)) == NULL) return; /* prefetch is an optimisation */
        st_err_init(&pf->err);
        if (st_cat_open(&pf->err, st_cat_loc_of(st_pool_cat(a->pool)), &pf->cat) < 0) {
            st_err_destroy(&pf->err);
            free(pf);
            return;
        }
        a->pf = pf;
    }
    prefetch_join(pf);
    if (pf->cap < bytes) {
        void *b = realloc(pf->buf, bytes);
        if (b == NULL) return;
        pf->buf = b;
        pf->cap = bytes;
    }
    memset(&pf->x, 0, sizeof pf->x);
    pf->x.err = &pf->err;
    pf->x.cat = pf->cat;
    pf->x.pool_path = st_pool_path(a->pool);
    pf->x.stage_tier = a->x.stage_tier;
    pf->rec = *r;
    for (int d = 0; d < r->ndims; d++) {
        pf->start[d] = start[d];
        pf->count[d] = count[d];
        pf->stride[d] = stride[d];
    }
    pf->start[0] += stride[0];
    pf->rc = STRATA_OK;
    if (pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0) pf->running = 1;
}

int st_nd_prefetch_take(strata_ndarray *a, const uint64_t *start, const uint64_t *count,
                        const uint64_t *stride, void *buf, size_t bytes)
{
    st_ndprefetch *pf = a->pf;
    if (!pf->running) return 0;
    int same = pf->rec.version == a->rec.version;
    for (int d = 0; d < a->rec.ndims && same; d++)
        same = pf->start[d] == start[d] && pf->count[d] == count[d] && pf->stride[d] == stride[d];
    prefetch_join(pf);
    if (!same || pf->rc != STRATA_OK) return 0;
    memcpy(buf, pf->buf, bytes);
    a->x.chunks_read += pf->x.chunks_read;
    a->x.staged += pf->x.staged;
    a->x.staged_bytes += pf->x.staged_bytes;
    return 1;
}
