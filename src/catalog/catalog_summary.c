/*
 * catalog_summary.c -- the statistics cache: summaries of dataset columns and N-d array
 * rectangles, keyed by what they describe and a fingerprint of its content, so that a summary
 * computed once serves every later request on the same content, from any process.
 */
#include <math.h>
#include <stdio.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"

enum { S_GET = ST_CAT_SUMMARY_FIRST, S_PUT, S_TRIM, S_DROP, S_END };
_Static_assert(S_END <= ST_CAT_SLOTS, "too many statistics cache statements");

static const char *const sql[] = {
    [S_GET - S_GET] = "SELECT version, count, nan, min, max, mean, std, hist, seconds FROM "
                      "stats_cache WHERE kind = ?1 AND object_id = ?2 AND part = ?3 AND "
                      "fingerprint = ?4",
    [S_PUT - S_GET] = "INSERT INTO stats_cache (kind, object_id, part, fingerprint, version, "
                      "count, nan, min, max, mean, std, hist, seconds, created_ns) VALUES (?1, ?2, "
                      "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT (kind, "
                      "object_id, part, fingerprint) DO UPDATE SET version = excluded.version, "
                      "count = excluded.count, nan = excluded.nan, min = excluded.min, max = "
                      "excluded.max, mean = excluded.mean, std = excluded.std, hist = "
                      "excluded.hist, seconds = excluded.seconds, created_ns = "
                      "excluded.created_ns",
    /* parenthesised: clang takes two adjacent literals here for a missing comma */
    [S_TRIM - S_GET] = ("DELETE FROM stats_cache WHERE id <= (SELECT id FROM stats_cache ORDER "
                        "BY id DESC LIMIT 1 OFFSET ?1)"),
    [S_DROP - S_GET] = "DELETE FROM stats_cache WHERE kind = ?1 AND object_id = ?2",
};

static int prep(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, sql[q - S_GET], out);
}

/* A REAL column that may hold NULL (SQLite stores NaN as NULL). */
static double real_or_nan(st_dbstmt *s, int col)
{
    return st_db_col_null(s, col) ? NAN : st_db_col_double(s, col);
}

static void bind_key(st_dbstmt *s, int kind, int64_t object_id, const char *part,
                     uint64_t fingerprint)
{
    st_db_bind_int64(s, 1, kind);
    st_db_bind_int64(s, 2, object_id);
    st_db_bind_text_copy(s, 3, part);
    st_db_bind_int64(s, 4, (int64_t)fingerprint);
}

int st_cat_summary_get(st_err *err, st_catalog *cat, int kind, int64_t object_id, const char *part,
                       uint64_t fingerprint, strata_summary *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, S_GET, &s);
    if (rc < 0) return rc;
    bind_key(s, kind, object_id, part, fingerprint);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        out->version = st_db_col_int64(s, 0);
        out->count = (uint64_t)st_db_col_int64(s, 1);
        out->nan = (uint64_t)st_db_col_int64(s, 2);
        out->min = real_or_nan(s, 3);
        out->max = real_or_nan(s, 4);
        out->mean = real_or_nan(s, 5);
        out->std = real_or_nan(s, 6);
        /* the histogram: STRATA_HIST_BINS little-endian 64-bit counts */
        const unsigned char *h = st_db_col_blob(s, 7);
        int len = st_db_col_bytes(s, 7);
        for (int b = 0; b < STRATA_HIST_BINS; b++) {
            uint64_t v = 0;
            for (int k = 7; k >= 0 && len == 8 * STRATA_HIST_BINS; k--) v = v << 8 | h[8 * b + k];
            out->hist[b] = v;
        }
        out->seconds = st_db_col_double(s, 8);
        rc = len == 8 * STRATA_HIST_BINS
                 ? STRATA_OK
                 : st_error(err, STRATA_ECORRUPT, "catalog '%s': a cached histogram has %d bytes",
                            cat->path, len);
    } else if (rc == ST_DB_DONE) {
        rc = STRATA_ENOTFOUND;
    } else {
        rc = st_cat_db_error(err, cat, rc, "read the statistics cache");
    }
    st_cat_done(s);
    return rc;
}

static int put(st_err *err, st_catalog *cat, int kind, int64_t object_id, const char *part,
               uint64_t fingerprint, const strata_summary *sum)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, S_PUT, &s);
    if (rc < 0) return rc;
    unsigned char h[8 * STRATA_HIST_BINS];
    for (int b = 0; b < STRATA_HIST_BINS; b++)
        for (int k = 0; k < 8; k++) h[8 * b + k] = (unsigned char)(sum->hist[b] >> (8 * k));
    bind_key(s, kind, object_id, part, fingerprint);
    st_db_bind_int64(s, 5, sum->version);
    st_db_bind_int64(s, 6, (int64_t)sum->count);
    st_db_bind_int64(s, 7, (int64_t)sum->nan);
    const double v[4] = {sum->min, sum->max, sum->mean, sum->std};
    for (int k = 0; k < 4; k++) {
        if (isnan(v[k]))
            st_db_bind_null(s, 8 + k);
        else
            st_db_bind_double(s, 8 + k, v[k]);
    }
    st_db_bind_blob_copy(s, 12, h, sizeof h);
    st_db_bind_double(s, 13, sum->seconds);
    st_db_bind_int64(s, 14, st_now_ns());
    rc = st_cat_step_done(err, cat, s, "cache a summary");
    if (rc < 0 || (rc = prep(err, cat, S_TRIM, &s)) < 0) return rc;
    st_db_bind_int64(s, 1, ST_SUMMARY_KEEP); /* the first one past the newest KEEP */
    return st_cat_step_done(err, cat, s, "trim the statistics cache");
}

int st_cat_summary_put(st_err *err, st_catalog *cat, int kind, int64_t object_id, const char *part,
                       uint64_t fingerprint, const strata_summary *sum, int wait_ms)
{
    int busy = cat->busy_ms;
    st_cat_set_busy_timeout(cat, wait_ms);
    int rc = st_cat_begin(err, cat);
    ST_TRY(rc);
    if ((rc = put(err, cat, kind, object_id, part, fingerprint, sum)) < 0) {
        st_cat_rollback(cat);
        goto done;
    }
    rc = st_cat_commit(err, cat);
done:
    st_cat_set_busy_timeout(cat, busy);
    return rc;
}

int st_cat_summary_drop(st_err *err, st_catalog *cat, int kind, int64_t object_id)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, S_DROP, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, kind);
    st_db_bind_int64(s, 2, object_id);
    return st_cat_step_done(err, cat, s, "drop cached summaries");
}
