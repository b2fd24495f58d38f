/*
 * where.c -- the rows of a snapshot's batch where a bool expression holds: a filter's index
 * (update.c) and strata_snapshot_where() (cat --where) share it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "derive/derive.h"
#include "expr/expr.h"

int st_filter_batch(st_err *err, strata_snapshot *s, uint64_t b, const st_expr *e, uint64_t *idx,
                    uint64_t *count, int nt)
{
    const st_schema *sch = st_snapshot_schema(s);
    uint64_t n = (uint64_t)st_snapshot_batches(s)[b].nrows;
    st_expr_input *in = calloc((size_t)sch->ncols + 1, sizeof *in);
    if (in == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    int rc = STRATA_OK;
    for (int c = 0; c < sch->ncols && rc == STRATA_OK; c++) {
        if (!st_expr_uses(e, c)) continue;
        if (sch->cat[c].dtype == STRATA_STR)
            rc = strata_snapshot_map_str(s, b, c, (const int64_t **)&in[c].data, &in[c].bytes);
        else
            rc = strata_snapshot_map(s, b, c, &in[c].data);
        if (rc == STRATA_OK) rc = strata_snapshot_map_valid(s, b, c, &in[c].valid);
    }
    if (rc == STRATA_OK) rc = st_expr_filter(err, e, in, n, idx, count, nt);
    free(in);
    return rc;
}

int strata_snapshot_where(strata_snapshot *s, uint64_t batch, const char *where, uint64_t **rows,
                          uint64_t *n)
{
    if (s == NULL || rows == NULL || n == NULL || where == NULL) return STRATA_EINVAL;
    strata_pool *pool = st_snapshot_pool(s);
    st_err *err = st_pool_err(pool);
    *rows = NULL;
    *n = 0;
    if (batch >= st_snapshot_nbatches(s))
        return st_error(err, STRATA_ERANGE, "batch %llu of %llu", (unsigned long long)batch,
                        (unsigned long long)st_snapshot_nbatches(s));
    const st_schema *sch = st_snapshot_schema(s);
    st_expr *e = NULL;
    uint64_t *idx = NULL;
    int rc = st_expr_parse(err, where, sch->cols, sch->ncols, &e);
    if (rc < 0 && rc != STRATA_ENOMEM) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        rc = st_error(err, rc, "condition '%s': %s", where, inner);
    }
    if (rc == STRATA_OK && st_expr_type(e) != STRATA_BOOL)
        rc = st_error(err, STRATA_ETYPE, "condition '%s' is %s, not bool: compare it ('%s > 0')",
                      where, strata_dtype_name(st_expr_type(e)), where);
    uint64_t nrows = (uint64_t)st_snapshot_batches(s)[batch].nrows;
    if (rc == STRATA_OK && (idx = malloc((nrows + 1) * sizeof *idx)) == NULL)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) rc = st_filter_batch(err, s, batch, e, idx, n, st_pool_threads(pool));
    st_expr_free(e);
    if (rc < 0) {
        free(idx);
        *n = 0;
        return rc;
    }
    *rows = idx;
    return STRATA_OK;
}
