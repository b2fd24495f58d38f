/*
 * summary.c -- summary statistics of a column, computed in two passes over the mapped batches of
 * a snapshot and cached in the catalog, keyed by a fingerprint of the column's content.
 */
#include "store/summary.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "catalog/catalog.h"
#include "store/store_int.h"
#include "util/bits.h"
#include "util/fileio.h"

/* How long a cache write waits for the catalog before giving up (the summary is still
 * returned). */
#define CACHE_WAIT_MS 200

int st_summary(strata_pool *pool, int kind, int64_t object_id, const char *part,
               uint64_t fingerprint, int64_t version, st_summary_pass pass, void *ctx,
               strata_summary *out)
{
    memset(out, 0, sizeof *out);
    int rc = st_cat_summary_get(st_pool_err(pool), st_pool_cat(pool), kind, object_id, part,
                                fingerprint, out);
    if (rc == STRATA_OK) {
        out->version = version; /* the same content may have been summarised at another */
        out->cached = 1;
        return STRATA_OK;
    }
    if (rc != STRATA_ENOTFOUND) return rc;
    double t0 = st_mono_s();
    st_stats p1 = {0}, p2 = {0};
    if ((rc = pass(ctx, NULL, &p1)) < 0) return rc;
    if (p1.n && (rc = pass(ctx, &p1, &p2)) < 0) return rc;
    st_stats_summary(&p1, &p2, out);
    out->version = version;
    out->seconds = st_mono_s() - t0;
    /* NULL error context: a busy or read-only catalog leaves no message behind */
    (void)st_cat_summary_put(NULL, st_pool_cat(pool), kind, object_id, part, fingerprint, out,
                             CACHE_WAIT_MS);
    return STRATA_OK;
}

int st_summary_interrupted(strata_pool *pool, const char *what)
{
    if (!st_pool_interrupted(pool)) return STRATA_OK;
    return st_error(st_pool_err(pool), STRATA_ECANCELED,
                    "statistics of %s stopped by the interrupt check; nothing was cached", what);
}

/* A column pass goes through a batch in pieces of this many elements, asking the interrupt check
 * before each (the sums are sequential, so the pieces change no result). */
#define SUMMARY_PIECE ((uint64_t)1 << 20)

typedef struct colpass {
    strata_snapshot *s;
    int col;
    strata_dtype dtype;
    const char *what; /* "column 'fare' of 'taxi/trips'", for messages */
} colpass;

static int column_pass(void *ctx, const st_stats *p1, st_stats *acc)
{
    colpass *c = ctx;
    size_t esz = strata_dtype_size(c->dtype);
    for (uint64_t b = 0; b < c->s->nbatches; b++) {
        const void *data;
        const uint8_t *valid;
        int rc = strata_snapshot_map(c->s, b, c->col, &data);
        if (rc == STRATA_OK) rc = strata_snapshot_map_valid(c->s, b, c->col, &valid);
        if (rc < 0) return rc;
        uint64_t n = (uint64_t)c->s->batches[b].nrows;
        for (uint64_t at = 0; at < n;) {
            if ((rc = st_summary_interrupted(c->s->pool, c->what)) < 0) return rc;
            /* a run of valid rows (nulls take no part), at most a piece */
            uint64_t end = n - at < SUMMARY_PIECE ? n : at + SUMMARY_PIECE;
            end = st_bits_run(valid, at, end);
            const char *piece = (const char *)data + at * esz;
            if (st_bit(valid, at) && p1 == NULL)
                st_stats_pass1(c->dtype, piece, end - at, acc);
            else if (st_bit(valid, at))
                st_stats_pass2(c->dtype, piece, end - at, st_stats_mean(p1), p1->min, p1->max, acc);
            at = end;
        }
    }
    return STRATA_OK;
}

int strata_snapshot_summary(strata_snapshot *s, int col, strata_summary *out)
{
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(s->pool);
    if (out == NULL) return st_error(err, STRATA_EINVAL, "summary: no output given");
    if (col < 0 || col >= s->schema.ncols)
        return st_error(err, STRATA_ERANGE, "column index %d is out of range", col);
    const char *name = s->schema.cat[col].name;
    strata_dtype dt = (strata_dtype)s->schema.cat[col].dtype;
    if (dt == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "column '%s' of '%s/%s' holds strings: statistics need numbers", name,
                        s->d.region, s->d.name);
    /* the content: every batch's checksum and row count (a derived column not yet computed
     * for a batch fails here, naming the batch) */
    uint64_t fp = XXH64(&dt, sizeof dt, (uint64_t)s->nbatches);
    for (uint64_t b = 0; b < s->nbatches; b++) {
        const st_cat_bcol *bc = &s->bcols[b * (size_t)s->schema.ncols + (size_t)col];
        if (bc->file[0] == '\0') {
            const void *unused;
            return strata_snapshot_map(s, b, col, &unused); /* STRATA_ESTALE with its message */
        }
        const uint64_t part[2] = {bc->checksum, (uint64_t)s->batches[b].nrows};
        fp = XXH64(part, sizeof part, fp);
    }
    char what[3 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "column '%s' of '%s/%s'", name, s->d.region, s->d.name);
    colpass c = {s, col, dt, what};
    int rc =
        st_summary(s->pool, ST_SUMMARY_COLUMN, s->d.id, name, fp, s->version, column_pass, &c, out);
    out->nulls = 0;
    for (uint64_t b = 0; rc == STRATA_OK && b < s->nbatches; b++)
        out->nulls += s->bcols[b * (size_t)s->schema.ncols + (size_t)col].nulls;
    return rc;
}
