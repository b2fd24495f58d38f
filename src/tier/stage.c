/*
 * stage.c -- staging ahead of reads: strata_stage_start() copies the archive chunks of an N-d
 * array's rectangle to a fast tier in a background thread, strata_stage_wait() joins it. The
 * thread has its own catalog connection and error context; each chunk is staged by the ndarray
 * layer (st_nd_stage_chunk, the same copy a read makes on demand), which evicts older staged
 * copies when the tier is over its capacity.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndarray/ndarray.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/vec.h"

typedef struct strata_stage {
    pthread_t thread;
    strata_pool *pool; /* whose work function strata_stage_wait() reports to */
    char what[2 * STRATA_NAME_MAX + 32];
    uint64_t done; /* chunks handled so far (atomic: the waiting thread reads it) */
    st_err err;
    st_catalog *cat;
    char *pool_path;
    st_cat_nd rec;
    int64_t tier;
    st_vec chunks; /* st_cat_chunk: those the region needs */
    strata_stage_stats stats;
    int rc;
} stage_job;

static void *stage_main(void *arg)
{
    stage_job *j = arg;
    double t0 = st_mono_s();
    st_ndctx x;
    memset(&x, 0, sizeof x);
    x.err = &j->err;
    x.cat = j->cat;
    x.pool_path = j->pool_path;
    const st_cat_chunk *c = j->chunks.v;
    j->rc = STRATA_OK;
    for (size_t i = 0; j->rc == STRATA_OK && i < j->chunks.n; i++) {
        int arch = st_nd_tier_is_archive(&x, c[i].tier_id);
        if (arch < 0) {
            j->rc = arch;
        } else if (!arch || c[i].staged_tier) {
            j->stats.chunks_present++;
        } else {
            uint64_t before = x.staged_bytes;
            j->rc = st_nd_stage_chunk(&x, &j->rec, &c[i], j->tier, NULL);
            /* a chunk rewritten meanwhile has its new data in place already */
            if (j->rc == STRATA_ECONFLICT || j->rc == STRATA_ENOTFOUND) {
                j->rc = STRATA_OK;
                j->stats.chunks_present++;
                continue;
            }
            if (j->rc == STRATA_OK) {
                j->stats.chunks_staged++;
                j->stats.bytes_read += c[i].bytes;
                j->stats.bytes_written += x.staged_bytes - before;
            }
        }
        __atomic_store_n(&j->done, (uint64_t)i + 1, __ATOMIC_RELAXED);
    }
    j->stats.evicted = x.evicted;
    j->stats.seconds = st_mono_s() - t0;
    return NULL;
}

typedef struct {
    const st_ndgrid *g;
    const uint64_t *clo, *chi;
    st_vec *out;
} box_ctx;

static int keep_in_box(void *vctx, const st_cat_chunk *c)
{
    box_ctx *b = vctx;
    /* the chunk's coordinates from its linear index */
    int64_t rest = c->idx;
    for (int d = b->g->n - 1; d >= 0; d--) {
        uint64_t span = d ? b->g->grid[d] : UINT64_MAX;
        uint64_t cd = d ? (uint64_t)rest % span : (uint64_t)rest;
        if (d) rest /= (int64_t)span;
        if (cd < b->clo[d] || cd > b->chi[d]) return 0;
    }
    st_cat_chunk *slot = st_vec_push(b->out);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *c;
    return 0;
}

int strata_stage_start(strata_pool *pool, const char *region, const char *name,
                       const uint64_t *start, const uint64_t *count, const char *tier,
                       strata_stage **out)
{
    if (out == NULL) return STRATA_EINVAL;
    *out = NULL;
    if (st_pool_check(pool) < 0) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    stage_job *j = calloc(1, sizeof *j);
    if (j == NULL) return st_error(err, STRATA_ENOMEM, "out of memory staging");
    st_err_init(&j->err);
    j->chunks = (st_vec)ST_VEC(st_cat_chunk);
    st_cat_tier t;
    st_ndgrid g;
    uint64_t clo[ST_ND_MAXDIMS], chi[ST_ND_MAXDIMS];
    int rc;
    ST_TRY(rc = st_name_check(err, "region", region));
    ST_TRY(rc = st_name_check(err, "N-d array", name));
    ST_TRY(rc = st_cat_nd_get(err, st_pool_cat(pool), region, name, &j->rec));
    ST_TRY(rc = st_cat_tier_get(err, st_pool_cat(pool), tier ? tier : "default", &t));
    if (t.kind == STRATA_TIER_ARCHIVE) {
        rc = st_error(err, STRATA_EINVAL,
                      "cannot stage to tier '%s': it is an archive; stage to "
                      "a fast tier",
                      t.name);
        goto done;
    }
    st_nd_grid(&j->rec, &g);
    for (int d = 0; d < g.n; d++) {
        uint64_t s = start ? start[d] : 0, n = count ? count[d] : g.dims[d];
        if (g.dims[d] == 0) {
            n = 0;
        } else if (n == 0 || s >= g.dims[d] || n > g.dims[d] - s) {
            rc = st_error(err, STRATA_ERANGE,
                          "cannot stage '%s/%s': [%" PRIu64 ", %" PRIu64 ") is outside "
                          "dimension %d of size %" PRIu64,
                          region, name, s, s + n, d, g.dims[d]);
            goto done;
        }
        clo[d] = s / g.chunk[d];
        chi[d] = n ? (s + n - 1) / g.chunk[d] : 0;
        if (j->rec.layout != STRATA_LAYOUT_CHUNKED) clo[d] = chi[d] = 0;
    }
    if (g.dims[0] > 0) {
        box_ctx b = {&g, clo, chi, &j->chunks};
        rc = st_cat_nd_chunks(err, st_pool_cat(pool), j->rec.id, st_nd_linear(&g, clo),
                              st_nd_linear(&g, chi), keep_in_box, &b);
        if (rc == STRATA_ENOMEM) rc = st_error(err, rc, "out of memory staging");
        ST_TRY(rc);
    }
    j->tier = t.id;
    j->pool = pool;
    snprintf(j->what, sizeof j->what, "stage %s/%s to %s", region, name, t.name);
    j->stats.chunks_needed = j->chunks.n;
    if ((j->pool_path = strdup(st_pool_path(pool))) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory staging");
        goto done;
    }
    ST_TRY(rc = st_cat_open(err, st_cat_loc_of(st_pool_cat(pool)), &j->cat));
    if (pthread_create(&j->thread, NULL, stage_main, j) != 0) {
        rc = st_error(err, STRATA_ENOMEM, "cannot start the staging thread");
        goto done;
    }
    *out = j;
done:
    if (rc < 0) {
        if (j->cat) st_cat_close(j->cat);
        free(j->pool_path);
        st_vec_free(&j->chunks);
        st_err_destroy(&j->err);
        free(j);
    }
    return rc;
}

int strata_stage_wait(strata_stage *j, strata_stage_stats *stats, char *errbuf, size_t errlen)
{
    if (j == NULL) return STRATA_EINVAL;
    /* the pool's work function hears how far the thread is, in this (the calling) thread */
    uint64_t total = j->chunks.n;
    st_pool_work(j->pool, "chunks", 0, total, "%s", j->what);
    int joined = 0;
    while (!joined && st_pool_has_work_fn(j->pool)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
        joined = pthread_timedjoin_np(j->thread, NULL, &until) == 0;
        if (!joined)
            st_pool_work(j->pool, "chunks", __atomic_load_n(&j->done, __ATOMIC_RELAXED), total,
                         "%s", j->what);
    }
    if (!joined) pthread_join(j->thread, NULL);
    st_pool_work(j->pool, "chunks", total, total, "%s", j->what);
    int rc = j->rc;
    if (stats != NULL) *stats = j->stats;
    if (errbuf != NULL && errlen > 0) st_err_copy(&j->err, errbuf, errlen);
    st_cat_close(j->cat);
    free(j->pool_path);
    st_vec_free(&j->chunks);
    st_err_destroy(&j->err);
    free(j);
    return rc;
}
