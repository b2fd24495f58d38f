/*
 * derive.h -- derived datasets and columns (src/derive): definitions and the update engine.
 *
 * A derivation's arguments are stored in the catalog as text, one "key=value" per line (an
 * expression is stored with its newlines replaced by spaces). st_dspec is their parsed form.
 */
#ifndef STRATA_DERIVE_H
#define STRATA_DERIVE_H

#include "catalog/catalog.h"
#include "expr/expr.h"
#include "ops/ops.h"
#include "store/store.h"
#include "util/comm.h"

/* The positions of the rows of batch B of S where bool expression E (parsed against S's schema)
 * holds, in order, into IDX (room for the batch's rows); *COUNT how many. NT threads. */
int st_filter_batch(st_err *err, strata_snapshot *s, uint64_t b, const st_expr *e, uint64_t *idx,
                    uint64_t *count, int nt);

#define ST_MAX_KEYS 8
#define ST_MAX_AGGS (ST_GROUP_SLOTS - 1) /* one slot holds the first row of each group */

/* Operations. The first three keep the parent's batches (one output batch per parent batch);
 * sort, global topk and groupby destroy the order. */
typedef enum {
    ST_OP_FILTER,
    ST_OP_SORT_RUNS,
    ST_OP_TOPK,
    ST_OP_SORT,
    ST_OP_TOPK_GLOBAL,
    ST_OP_GROUPBY,
    ST_OP_GATHER,
    ST_OP_SCATTER,
    ST_OP_EXPR
} st_op;

typedef struct st_dspec {
    st_op op;
    char expr[ST_CAT_ARGS];
    int nkeys;
    char key[ST_MAX_KEYS][STRATA_NAME_MAX + 1];
    int naggs;
    int agg_op[ST_MAX_AGGS]; /* ST_AGG_* */
    char agg_col[ST_MAX_AGGS][STRATA_NAME_MAX + 1];
    double agg_q[ST_MAX_AGGS]; /* quantile:COL:Q */
    uint64_t k;
    int desc;
    char defval[64];
} st_dspec;

/* The catalog name of OP ("filter", "topk_global", ...), and back (-1 if unknown). */
const char *st_op_name(st_op op);
int st_op_parse(const char *name);
int st_op_destroys_order(st_op op);

/* Encode SPEC as catalog text; decode it back. */
int st_dspec_encode(const st_dspec *spec, char *out, size_t cap);
int st_dspec_decode(st_err *err, const char *op, const char *args, st_dspec *out);

/* The arguments as a command line gives them ("fare,pickuptime --desc"). */
void st_dspec_describe(const st_dspec *spec, const st_cat_deriv *dv, char *out, size_t cap);

/* Most columns a derived dataset's definition gives it. */
#define ST_DERIVE_MAX_COLS 40

/* What a group-by output column holds: the index, key ARG, the row count, the value of
 * aggregate ARG of the spec (OP: its op, or ST_AGG_SUM for the sum_X a mean:X keeps), or state
 * that variances keep for incremental merges (wmean_X: the running mean, m2_X: the sum of squared
 * deviations, of aggregate ARG's column). */
enum { ST_GOUT_INDEX, ST_GOUT_KEY, ST_GOUT_COUNT, ST_GOUT_VALUE, ST_GOUT_WMEAN, ST_GOUT_M2 };
typedef struct st_gout {
    int what, op, arg;
} st_gout;

/* The output columns of derived dataset SPEC over parent schema PARENT (named PNAME in messages,
 * "REGION/NAME"; NULL: "the parent"): names and dtypes into
 * COLS (room for ST_DERIVE_MAX_COLS), and for a group-by what each holds into ROLES (if not
 * NULL, same room); returns how many, or a negative status with a message (unknown or
 * unsuitable columns). */
int st_derive_columns(st_err *err, const st_dspec *spec, const st_schema *parent, const char *pname,
                      st_cat_column *cols, st_gout *roles);

/* The index derivation of dataset ID, if it is a derived dataset (FOUND). */
typedef struct st_index_of {
    int64_t id;
    int found;
    st_cat_deriv dv;
} st_index_of;

int st_derive_index_of(strata_pool *pool, int64_t id, st_index_of *out);

/* strata_update() over the processes of COMM (NULL: this one alone), each doing its share
 * (src/derive/spread.c); collective over COMM. */
int st_update_run(strata_pool *pool, const char *region, const char *name,
                  const strata_update_opts *opts, strata_update_stats *stats, const st_comm *comm);

#endif /* STRATA_DERIVE_H */
