/*
 * define.c -- defining derived datasets and columns: every name, column, type and expression is
 * checked here, when the object is defined, so that an update never meets a bad definition.
 * Also automatic-update registration and the lineage report.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derive/derive.h"
#include "expr/expr.h"
#include "ops/ops.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/vec.h"

static const char *const op_names[] = {
    [ST_OP_FILTER] = "filter", [ST_OP_SORT_RUNS] = "sort_runs",     [ST_OP_TOPK] = "topk",
    [ST_OP_SORT] = "sort",     [ST_OP_TOPK_GLOBAL] = "topk_global", [ST_OP_GROUPBY] = "groupby",
    [ST_OP_GATHER] = "gather", [ST_OP_SCATTER] = "scatter",         [ST_OP_EXPR] = "expr",
};

const char *st_op_name(st_op op)
{
    return op_names[op];
}

int st_op_parse(const char *name)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (strcmp(name, op_names[i]) == 0) return (int)i;
    return -1;
}

int st_op_destroys_order(st_op op)
{
    return op == ST_OP_SORT || op == ST_OP_TOPK_GLOBAL || op == ST_OP_GROUPBY;
}

static const char *const agg_names[ST_AGG_NOPS] = {[ST_AGG_COUNT] = "count",
                                                   [ST_AGG_SUM] = "sum",
                                                   [ST_AGG_MIN] = "min",
                                                   [ST_AGG_MAX] = "max",
                                                   [ST_AGG_MEAN] = "mean",
                                                   [ST_AGG_COUNT_COL] = "count",
                                                   [ST_AGG_VAR] = "var",
                                                   [ST_AGG_STD] = "std",
                                                   [ST_AGG_FIRST] = "first",
                                                   [ST_AGG_LAST] = "last",
                                                   [ST_AGG_COUNT_DISTINCT] = "count_distinct",
                                                   [ST_AGG_MEDIAN] = "median",
                                                   [ST_AGG_QUANTILE] = "quantile"};

/* Q as the shortest text that reads back as Q. */
static void q_text(double q, char *out, size_t cap)
{
    snprintf(out, cap, "%.15g", q);
    if (strtod(out, NULL) != q) snprintf(out, cap, "%.17g", q);
}

/* "a,b,c" into NAMES (at most MAX); returns how many or -1. */
static int split_names(st_err *err, const char *what, const char *text, int max,
                       char names[][STRATA_NAME_MAX + 1])
{
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max)
            return st_error(err, STRATA_EINVAL, "too many %s in '%s' (at most %d)", what, text,
                            max);
        if (len == 0 || len > STRATA_NAME_MAX)
            return st_error(err, STRATA_EINVAL, "bad %s list '%s': empty or overlong name", what,
                            text);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p = e ? e + 1 : p + len;
        if (e && *p == '\0')
            return st_error(err, STRATA_EINVAL, "bad %s list '%s': ends with a comma", what, text);
    }
    return n;
}

/* The op of aggregate item NAME (before its first colon), COL its column or NULL: -1 if none. */
static int agg_op_of(const char *name, const char *col)
{
    if (strcmp(name, "count") == 0) return col ? ST_AGG_COUNT_COL : ST_AGG_COUNT;
    for (int a = ST_AGG_SUM; a < ST_AGG_NOPS; a++)
        if (a != ST_AGG_COUNT_COL && strcmp(name, agg_names[a]) == 0) return a;
    return -1;
}

/* The Q of "quantile:COL:Q" (text after the second colon). */
static int parse_q(st_err *err, const char *item, const char *qs, double *q)
{
    char *end;
    if (qs == NULL || *qs == '\0')
        return st_error(err, STRATA_EINVAL,
                        "aggregate '%s' needs a quantile: quantile:COL:Q with Q in [0, 1] "
                        "(quantile:fare:0.9)",
                        item);
    *q = strtod(qs, &end);
    if (*end != '\0' || !(*q >= 0 && *q <= 1))
        return st_error(err, STRATA_EINVAL, "quantile '%s' in '%s' is not a number in [0, 1]", qs,
                        item);
    return STRATA_OK;
}

/* "sum:fare,count,mean:fare,quantile:fare:0.9" into SPEC's aggregates. */
static int parse_aggs(st_err *err, const char *text, st_dspec *spec)
{
    char items[ST_MAX_AGGS][STRATA_NAME_MAX + 1];
    int n = split_names(err, "aggregates", text, ST_MAX_AGGS, items);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) {
        char item[STRATA_NAME_MAX + 1];
        snprintf(item, sizeof item, "%s", items[i]);
        char *colon = strchr(items[i], ':'), *qs = NULL;
        if (colon) *colon = '\0';
        if (colon && (qs = strchr(colon + 1, ':')) != NULL) *qs++ = '\0';
        int op = agg_op_of(items[i], colon ? colon + 1 : NULL);
        if (op < 0)
            return st_error(err, STRATA_EINVAL,
                            "unknown aggregate '%s' in '%s': use count, count:COL, sum:COL, "
                            "mean:COL, min:COL, max:COL, var:COL, std:COL, first:COL, last:COL, "
                            "count_distinct:COL, median:COL or quantile:COL:Q",
                            items[i], text);
        if (op != ST_AGG_COUNT && (colon == NULL || colon[1] == '\0'))
            return st_error(err, STRATA_EINVAL, "aggregate '%s' in '%s' needs a column (%s:COL)",
                            item, text, items[i]);
        if (qs != NULL && op != ST_AGG_QUANTILE)
            return st_error(err, STRATA_EINVAL, "aggregate '%s' in '%s' takes one column (%s:COL)",
                            item, text, items[i]);
        spec->agg_q[i] = 0;
        if (op == ST_AGG_QUANTILE) {
            int rc = parse_q(err, item, qs, &spec->agg_q[i]);
            if (rc < 0) return rc;
        }
        spec->agg_op[i] = op;
        snprintf(spec->agg_col[i], sizeof spec->agg_col[i], "%s", colon ? colon + 1 : "");
    }
    spec->naggs = n;
    return STRATA_OK;
}

static void aggs_text(const st_dspec *spec, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < spec->naggs && len < cap; i++) {
        char q[40] = "";
        if (spec->agg_op[i] == ST_AGG_QUANTILE) {
            q[0] = ':';
            q_text(spec->agg_q[i], q + 1, sizeof q - 1);
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s%s%s%s", i ? "," : "",
                                agg_names[spec->agg_op[i]], spec->agg_col[i][0] ? ":" : "",
                                spec->agg_col[i], q);
    }
}

static void keys_text(const st_dspec *spec, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < spec->nkeys && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", spec->key[i]);
}

int st_dspec_encode(const st_dspec *spec, char *out, size_t cap)
{
    char keys[ST_MAX_KEYS * (STRATA_NAME_MAX + 1) + 8], aggs[ST_CAT_ARGS];
    keys_text(spec, keys, sizeof keys);
    aggs_text(spec, aggs, sizeof aggs);
    int n = snprintf(out, cap, "expr=%s\nkeys=%s\naggs=%s\nk=%llu\ndesc=%d\ndefault=%s\n",
                     spec->expr, keys, aggs, (unsigned long long)spec->k, spec->desc, spec->defval);
    return n < 0 || (size_t)n >= cap ? STRATA_EINVAL : STRATA_OK;
}

int st_dspec_decode(st_err *err, const char *op, const char *args, st_dspec *out)
{
    memset(out, 0, sizeof *out);
    int o = st_op_parse(op);
    if (o < 0) return st_error(err, STRATA_ECORRUPT, "unknown derivation '%s' in the catalog", op);
    out->op = (st_op)o;
    const char *p = args;
    int rc = STRATA_OK;
    while (*p && rc == STRATA_OK) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[ST_CAT_ARGS];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        char *eq = strchr(line, '=');
        if (eq != NULL) {
            *eq = '\0';
            const char *v = eq + 1;
            if (strcmp(line, "expr") == 0)
                snprintf(out->expr, sizeof out->expr, "%s", v);
            else if (strcmp(line, "keys") == 0 && *v) {
                int n = split_names(err, "keys", v, ST_MAX_KEYS, out->key);
                if (n < 0) rc = n;
                out->nkeys = n < 0 ? 0 : n;
            } else if (strcmp(line, "aggs") == 0 && *v)
                rc = parse_aggs(err, v, out);
            else if (strcmp(line, "k") == 0)
                out->k = strtoull(v, NULL, 10);
            else if (strcmp(line, "desc") == 0)
                out->desc = atoi(v);
            else if (strcmp(line, "default") == 0)
                snprintf(out->defval, sizeof out->defval, "%s", v);
        }
        p = nl ? nl + 1 : p + len;
    }
    return rc;
}

void st_dspec_describe(const st_dspec *spec, const st_cat_deriv *dv, char *out, size_t cap)
{
    char keys[ST_MAX_KEYS * (STRATA_NAME_MAX + 1) + 8], aggs[ST_CAT_ARGS];
    keys_text(spec, keys, sizeof keys);
    aggs_text(spec, aggs, sizeof aggs);
    const char *desc = spec->desc ? " --desc" : "";
    switch (spec->op) {
    case ST_OP_FILTER:
    case ST_OP_EXPR:
        snprintf(out, cap, "'%s'", spec->expr);
        break;
    case ST_OP_SORT:
    case ST_OP_SORT_RUNS:
        snprintf(out, cap, "%s%s", keys, desc);
        break;
    case ST_OP_TOPK:
    case ST_OP_TOPK_GLOBAL:
        snprintf(out, cap, "%s:%llu%s%s", keys, (unsigned long long)spec->k,
                 spec->op == ST_OP_TOPK_GLOBAL ? " --global" : "", desc);
        break;
    case ST_OP_GROUPBY:
        snprintf(out, cap, "%s --agg %s", keys, aggs);
        break;
    case ST_OP_GATHER:
        snprintf(out, cap, "%s/%s.%s", dv->source_region, dv->source, dv->source_column);
        break;
    case ST_OP_SCATTER:
        snprintf(out, cap, "%s/%s.%s --default %s", dv->source_region, dv->source,
                 dv->source_column, spec->defval);
        break;
    }
}

static int is_float(strata_dtype dt)
{
    return dt == STRATA_F32 || dt == STRATA_F64;
}

/* The position of column NAME of S, or an error naming the dataset. */
static int find_col(st_err *err, const st_schema *s, const char *ds, const char *name,
                    const char *role)
{
    int c = st_schema_find(s, name);
    if (c < 0)
        return st_error(err, STRATA_ENOTFOUND, "%s: '%s' has no column '%s'", role, ds, name);
    return c;
}

static int add_col(st_cat_column *cols, int n, const char *name, strata_dtype dt)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0) return -1;
    snprintf(cols[n].name, sizeof cols[n].name, "%s", name);
    cols[n].dtype = (int)dt;
    cols[n].kind = ST_COL_INTRINSIC;
    return n + 1;
}

/* The dtype of aggregate OP's output column over a column of DT. */
static strata_dtype agg_dtype(int op, strata_dtype dt)
{
    switch (op) {
    case ST_AGG_SUM:
        return is_float(dt) ? STRATA_F64 : STRATA_I64; /* the sum of timestamps is plain int64 */
    case ST_AGG_MIN:
    case ST_AGG_MAX:
    case ST_AGG_FIRST:
    case ST_AGG_LAST:
        return dt == STRATA_STR || dt == STRATA_TS ? dt : is_float(dt) ? STRATA_F64 : STRATA_I64;
    case ST_AGG_COUNT_COL:
    case ST_AGG_COUNT_DISTINCT:
        return STRATA_I64;
    default:
        return STRATA_F64;
    }
}

/* The name of aggregate OP's column over COL: "sum_fare", "q0_9_fare" (quantile 0.9). */
static int agg_colname(st_err *err, int op, const char *col, double q, char *out, size_t cap)
{
    char pre[48];
    if (op == ST_AGG_QUANTILE) {
        char t[40];
        q_text(q, t, sizeof t);
        for (char *c = t; *c; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z'))) *c = '_';
        snprintf(pre, sizeof pre, "q%s", t);
    } else {
        snprintf(pre, sizeof pre, "%s", agg_names[op]);
    }
    int n = snprintf(out, cap, "%s_%s", pre, col);
    if (n < 0 || (size_t)n > STRATA_NAME_MAX || (size_t)n >= cap)
        return st_error(err, STRATA_ENAME, "aggregate column name '%s_%s' is too long", pre, col);
    return STRATA_OK;
}

/* Add column NAME of DT holding ROLE, unless SHARED and already there as an aggregate's (from
 * column FIRST on: a key of that name is a clash). */
static int add_gcol(st_err *err, st_cat_column *cols, st_gout *roles, int n, int first,
                    const char *name, strata_dtype dt, st_gout role, int shared)
{
    int at = st_schema_find(&(st_schema){.ncols = n, .cat = cols}, name);
    if (at >= 0) {
        if (shared && at >= first) return n;
        return st_error(err, STRATA_EINVAL,
                        "group-by column '%s' is asked twice (or a key has its name)", name);
    }
    if (n >= ST_DERIVE_MAX_COLS)
        return st_error(err, STRATA_EINVAL,
                        "a group-by has at most %d output columns: ask for fewer aggregates",
                        ST_DERIVE_MAX_COLS);
    if (roles != NULL) roles[n] = role;
    return add_col(cols, n, name, dt);
}

/* The state columns a var:COL or std:COL keeps (aggregate A), unless already there. */
static int var_state(st_err *err, st_cat_column *cols, st_gout *roles, int n, int first, int op,
                     int a, const char *col)
{
    char name[STRATA_NAME_MAX + 16];
    const char *pre[2] = {"wmean", "m2"};
    for (int i = 0; i < 2 && n >= 0; i++) {
        snprintf(name, sizeof name, "%s_%s", pre[i], col);
        if (strlen(name) > STRATA_NAME_MAX)
            return st_error(err, STRATA_ENAME, "aggregate column name '%s' is too long", name);
        n = add_gcol(err, cols, roles, n, first, name, STRATA_F64,
                     (st_gout){i == 0 ? ST_GOUT_WMEAN : ST_GOUT_M2, op, a}, 1);
    }
    return n;
}

/* The aggregate columns of group-by SPEC after the first N columns. */
static int agg_columns(st_err *err, const st_dspec *spec, const st_schema *parent, const char *ds,
                       st_cat_column *cols, st_gout *roles, int n)
{
    int rc = STRATA_OK, first = n;
    for (int a = 0; a < spec->naggs; a++) {
        int op = spec->agg_op[a];
        if (op == ST_AGG_COUNT) continue;
        const char *col = spec->agg_col[a];
        int c = find_col(err, parent, ds, col, "aggregate");
        if (c < 0) return c;
        strata_dtype dt = (strata_dtype)parent->cat[c].dtype;
        if (dt == STRATA_STR && op != ST_AGG_COUNT_COL && op != ST_AGG_MIN && op != ST_AGG_MAX &&
            op != ST_AGG_FIRST && op != ST_AGG_LAST && op != ST_AGG_COUNT_DISTINCT)
            return st_error(err, STRATA_ETYPE,
                            "cannot %s column '%s' of '%s': it holds strings (strings take "
                            "count:COL, min, max, first, last and count_distinct)",
                            agg_names[op], col, ds);
        char name[STRATA_NAME_MAX + 1];
        if (op == ST_AGG_MEAN) { /* mean is kept as sum and count: mean:X adds sum_X too */
            ST_TRY(rc = agg_colname(err, ST_AGG_SUM, col, 0, name, sizeof name));
            ST_TRY(rc = n = add_gcol(err, cols, roles, n, first, name, agg_dtype(ST_AGG_SUM, dt),
                                     (st_gout){ST_GOUT_VALUE, ST_AGG_SUM, a}, 1));
        }
        if (op == ST_AGG_VAR || op == ST_AGG_STD) /* their merge state */
            ST_TRY(rc = n = var_state(err, cols, roles, n, first, op, a, col));
        ST_TRY(rc = agg_colname(err, op, col, spec->agg_q[a], name, sizeof name));
        ST_TRY(rc = n = add_gcol(err, cols, roles, n, first, name, agg_dtype(op, dt),
                                 (st_gout){ST_GOUT_VALUE, op, a}, op == ST_AGG_SUM));
    }
    return n;
done:
    return rc;
}

int st_derive_columns(st_err *err, const st_dspec *spec, const st_schema *parent, const char *pname,
                      st_cat_column *cols, st_gout *roles)
{
    const char *ds = pname != NULL ? pname : "the parent";
    int n = add_col(cols, 0, "index", STRATA_U64);
    if (roles != NULL) roles[0] = (st_gout){ST_GOUT_INDEX, 0, 0};
    int keyed = spec->op != ST_OP_FILTER;
    if (keyed && spec->nkeys < 1)
        return st_error(err, STRATA_EINVAL, "%s needs at least one key column",
                        st_op_name(spec->op));
    if ((spec->op == ST_OP_TOPK || spec->op == ST_OP_TOPK_GLOBAL) && spec->nkeys != 1)
        return st_error(err, STRATA_EINVAL, "topk takes one column (COL:K), not %d", spec->nkeys);
    if ((spec->op == ST_OP_TOPK || spec->op == ST_OP_TOPK_GLOBAL) && spec->k < 1)
        return st_error(err, STRATA_EINVAL, "invalid K %llu for topk: K must be at least 1",
                        (unsigned long long)spec->k);
    for (int i = 0; keyed && i < spec->nkeys; i++) {
        int c = find_col(err, parent, ds, spec->key[i], "key");
        if (c < 0) return c;
        strata_dtype dt = (strata_dtype)parent->cat[c].dtype;
        if ((spec->op == ST_OP_TOPK || spec->op == ST_OP_TOPK_GLOBAL) && dt == STRATA_STR)
            return st_error(err, STRATA_ETYPE, "topk column '%s' is str: topk takes numbers",
                            spec->key[i]);
        /* Sorts and global top-k keep their keys (merges need them); groupby its keys, each in
         * its own dtype. */
        if (spec->op == ST_OP_SORT || spec->op == ST_OP_TOPK_GLOBAL || spec->op == ST_OP_GROUPBY) {
            if (roles != NULL) roles[n] = (st_gout){ST_GOUT_KEY, 0, i};
            n = add_col(cols, n, spec->key[i], dt);
            if (n < 0)
                return st_error(err, STRATA_EINVAL, "key '%s' is named twice or is 'index'",
                                spec->key[i]);
        }
    }
    if (spec->op != ST_OP_GROUPBY) return n;
    if (roles != NULL) roles[n] = (st_gout){ST_GOUT_COUNT, 0, 0};
    if ((n = add_col(cols, n, "count", STRATA_I64)) < 0)
        return st_error(err, STRATA_EINVAL, "a group-by key may not be named 'count'");
    return agg_columns(err, spec, parent, ds, cols, roles, n);
}

static int find_index(void *vctx, const st_cat_deriv *dv)
{
    st_index_of *c = vctx;
    if (dv->dataset_id == c->id && dv->target[0] == '\0') {
        c->dv = *dv;
        c->found = 1;
    }
    return 0;
}

int st_derive_index_of(strata_pool *pool, int64_t id, st_index_of *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    return st_cat_derivs(st_pool_err(pool), st_pool_cat(pool), id, find_index, out);
}

/* SPEC (the API's form) as DS, its names and aggregates checked. */
static int dspec_of(st_err *err, const strata_derive_spec *spec, st_dspec *out)
{
    int rc;
    st_dspec ds;
    memset(&ds, 0, sizeof ds);
    int op = st_op_parse(spec->op);
    if (op == ST_OP_TOPK && spec->global) op = ST_OP_TOPK_GLOBAL;
    if (op < 0 || op > ST_OP_GROUPBY)
        return st_error(err, STRATA_EINVAL,
                        "unknown operation '%s': use filter, sort, sort_runs, topk or groupby",
                        spec->op);
    ds.op = (st_op)op;
    ds.k = spec->k;
    ds.desc = spec->desc != 0;
    if (op == ST_OP_FILTER) {
        if (spec->expr == NULL || spec->expr[0] == '\0')
            return st_error(err, STRATA_EINVAL, "filter needs an expression");
        if (strlen(spec->expr) >= sizeof ds.expr)
            return st_error(err, STRATA_EINVAL, "the expression is too long (at most %zu bytes)",
                            sizeof ds.expr - 1);
        snprintf(ds.expr, sizeof ds.expr, "%s", spec->expr);
        for (char *p = ds.expr; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    } else {
        int n = split_names(err, "keys", spec->keys ? spec->keys : "", ST_MAX_KEYS, ds.key);
        if (n < 0) return n;
        ds.nkeys = n;
    }
    if (op == ST_OP_GROUPBY) {
        if (spec->aggs == NULL || spec->aggs[0] == '\0')
            return st_error(err, STRATA_EINVAL, "groupby needs --agg (e.g. count,sum:fare)");
        if ((rc = parse_aggs(err, spec->aggs, &ds)) < 0) return rc;
    }
    *out = ds;
    return STRATA_OK;
}

int strata_derive(strata_pool *pool, const char *region, const char *name, const char *src_region,
                  const char *src_name, const strata_derive_spec *spec)
{
    if (pool == NULL || spec == NULL || spec->op == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_dataset_names_check(pool, region, name);
    if (rc == STRATA_OK) rc = st_dataset_names_check(pool, src_region, src_name);
    if (rc < 0) return rc;
    if (strcmp(region, src_region) == 0 && strcmp(name, src_name) == 0)
        return st_error(err, STRATA_EINVAL,
                        "'%s/%s' cannot be derived from itself: that is a cycle", region, name);
    st_dspec ds;
    if ((rc = dspec_of(err, spec, &ds)) < 0) return rc;
    int op = (int)ds.op;
    /* The parent, with every column it has (derived ones included). */
    st_cat_dataset pd;
    st_schema ps;
    rc = st_schema_load(pool, src_region, src_name, &pd, &ps);
    if (rc < 0) {
        if (rc == STRATA_ENOTFOUND)
            st_error(err, rc, "cannot derive '%s/%s': its parent '%s/%s' does not exist", region,
                     name, src_region, src_name);
        return rc;
    }
    st_cat_column *cols = calloc(ST_DERIVE_MAX_COLS, sizeof *cols);
    st_cat_deriv *dv = calloc(1, sizeof *dv);
    if (cols == NULL || dv == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    if (op == ST_OP_FILTER) {
        st_expr *e = NULL;
        ST_TRY(rc = st_expr_parse(err, ds.expr, ps.cols, ps.ncols, &e));
        strata_dtype t = st_expr_type(e);
        st_expr_free(e);
        if (t != STRATA_BOOL) {
            rc = st_error(err, STRATA_ETYPE,
                          "a filter needs a bool expression; '%s' gives %s (compare it: x > 0)",
                          ds.expr, strata_dtype_name(t));
            goto done;
        }
    }
    char pname[2 * STRATA_NAME_MAX + 2];
    snprintf(pname, sizeof pname, "%s/%s", src_region, src_name);
    int ncols = st_derive_columns(err, &ds, &ps, pname, cols, NULL);
    if ((rc = ncols) < 0) goto done;
    st_index_of pi;
    ST_TRY(rc = st_derive_index_of(pool, pd.id, &pi));
    dv->source_id = pd.id;
    snprintf(dv->op, sizeof dv->op, "%s", st_op_name(ds.op));
    if ((rc = st_dspec_encode(&ds, dv->args, sizeof dv->args)) < 0) {
        rc = st_error(err, rc,
                      "the definition of '%s/%s' is too long (at most %zu bytes): use "
                      "fewer or shorter keys and aggregates",
                      region, name, sizeof dv->args - 1);
        goto done;
    }
    dv->destroys_order = st_op_destroys_order(ds.op) || (pi.found && pi.dv.destroys_order);
    /* The dataset: its directory first, then the rows (as strata_dataset_create). */
    st_cat_region r;
    rc = st_cat_region_get(err, st_pool_cat(pool), region, &r);
    if (rc == STRATA_ENOTFOUND) {
        rc = strata_region_create(pool, region);
        if (rc == STRATA_OK) rc = st_cat_region_get(err, st_pool_cat(pool), region, &r);
    }
    if (rc < 0) goto done;
    st_cat_dataset d;
    char dir[ST_PATH_MAX];
    int hold = st_pool_create_begin(pool);
    if (hold < 0) {
        rc = hold;
        goto done;
    }
    rc = st_dataset_mkdir(pool, &r, name, &d, dir);
    if (rc == STRATA_OK) rc = st_cat_derive_dataset(err, st_pool_cat(pool), &d, cols, ncols, dv);
    if (rc < 0) rmdir(dir);
    st_pool_create_end(pool, hold);
done:
    free(cols);
    free(dv);
    st_schema_free(&ps);
    return rc;
}

/* A derived column being defined by strata_column_derive. */
typedef struct {
    strata_pool *pool;
    st_err *err;
    const char *region, *name; /* the dataset that gets the column */
    const strata_column_spec *spec;
    st_dspec ds;
    st_cat_column col;
    st_cat_deriv *dv;
} coldef;

/* expr: the column is an expression over the dataset's own columns XS (dataset ID). */
static int define_expr(coldef *k, const st_schema *xs, int64_t id)
{
    const char *expr = k->spec->expr;
    if (expr == NULL || expr[0] == '\0' || strlen(expr) >= sizeof k->ds.expr)
        return st_error(k->err, STRATA_EINVAL, "expr needs an expression (at most %zu bytes)",
                        sizeof k->ds.expr - 1);
    snprintf(k->ds.expr, sizeof k->ds.expr, "%s", expr);
    for (char *p = k->ds.expr; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    st_expr *e = NULL;
    int rc = st_expr_parse(k->err, k->ds.expr, xs->cols, xs->ncols, &e);
    if (rc < 0) return rc;
    k->col.dtype = (int)st_expr_type(e);
    st_expr_free(e);
    k->dv->source_id = id;
    return STRATA_OK;
}

/* scatter: the source (dataset SRC_ID) must be derived directly from the dataset (ID); its
 * column, not a string one, goes back to the rows it came from, the others get --default. */
static int define_scatter(coldef *k, int64_t id, int64_t src_id)
{
    const strata_column_spec *spec = k->spec;
    st_index_of ci;
    int rc = st_derive_index_of(k->pool, src_id, &ci);
    if (rc < 0) return rc;
    if (!ci.found || ci.dv.source_id != id)
        return st_error(k->err, STRATA_EINVAL,
                        "cannot scatter '%s/%s.%s' into '%s/%s': '%s/%s' is not derived "
                        "directly from '%s/%s'",
                        spec->src_region, spec->src_name, spec->src_column, k->region, k->name,
                        spec->src_region, spec->src_name, k->region, k->name);
    if (k->col.dtype == STRATA_STR)
        return st_error(k->err, STRATA_ETYPE, "cannot scatter string column '%s'",
                        spec->src_column);
    char why[64];
    double scratch[2];
    const char *v = spec->default_value ? spec->default_value : "";
    if (strata_value_parse((strata_dtype)k->col.dtype, v, scratch, why) != STRATA_OK)
        return st_error(k->err, STRATA_EINVAL, "scatter --default '%s' %s", v, why);
    snprintf(k->ds.defval, sizeof k->ds.defval, "%s", v);
    k->dv->destroys_order = ci.dv.destroys_order;
    return STRATA_OK;
}

/* gather and scatter: the column comes from column src_column of src_region/src_name, whose
 * schema is loaded into SS (the caller frees it). XI is the index of the dataset (ID): a
 * gather needs it to point at the source. */
static int define_from_source(coldef *k, const st_index_of *xi, int64_t id, st_schema *ss)
{
    const strata_column_spec *spec = k->spec;
    st_err *err = k->err;
    if (spec->src_region == NULL || spec->src_name == NULL || spec->src_column == NULL)
        return st_error(err, STRATA_EINVAL, "%s needs REGION/DATASET.COLUMN", spec->op);
    int rc = st_dataset_names_check(k->pool, spec->src_region, spec->src_name);
    if (rc < 0) return rc;
    st_cat_dataset sd;
    rc = st_schema_load(k->pool, spec->src_region, spec->src_name, &sd, ss);
    if (rc == STRATA_ENOTFOUND)
        st_error(err, rc, "cannot %s from '%s/%s': it does not exist", spec->op, spec->src_region,
                 spec->src_name);
    if (rc < 0) return rc;
    int sc = find_col(err, ss, spec->src_name, spec->src_column, spec->op);
    if (sc < 0) return sc;
    k->col.dtype = ss->cat[sc].dtype;
    k->dv->source_id = sd.id;
    snprintf(k->dv->source_column, sizeof k->dv->source_column, "%s", spec->src_column);
    if (k->ds.op == ST_OP_GATHER && (!xi->found || xi->dv.source_id != sd.id))
        return st_error(err, STRATA_EINVAL,
                        "cannot gather into '%s/%s' from '%s/%s': %s; gather from the dataset "
                        "it is derived from",
                        k->region, k->name, spec->src_region, spec->src_name,
                        xi->found ? "it is not derived from that dataset"
                                  : "it is not a derived dataset (it has no index)");
    if (k->ds.op == ST_OP_SCATTER) return define_scatter(k, id, sd.id);
    return STRATA_OK;
}

int strata_column_derive(strata_pool *pool, const char *region, const char *name,
                         const char *column, const strata_column_spec *spec)
{
    if (pool == NULL || spec == NULL || spec->op == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_dataset_names_check(pool, region, name);
    if (rc == STRATA_OK) rc = st_name_check(err, "column", column);
    if (rc < 0) return rc;
    int op = st_op_parse(spec->op);
    if (op < ST_OP_GATHER)
        return st_error(err, STRATA_EINVAL,
                        "unknown column operation '%s': use gather, scatter "
                        "or expr",
                        spec->op);
    st_cat_dataset d;
    st_schema xs, ss = {0};
    if ((rc = st_schema_load(pool, region, name, &d, &xs)) < 0) return rc;
    coldef k = {.pool = pool, .err = err, .region = region, .name = name, .spec = spec};
    k.ds.op = (st_op)op;
    if ((k.dv = calloc(1, sizeof *k.dv)) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(k.col.name, sizeof k.col.name, "%s", column);
    if (st_schema_find(&xs, column) >= 0) {
        rc = st_error(err, STRATA_EEXIST, "dataset '%s/%s' already has a column '%s'", region, name,
                      column);
        goto done;
    }
    k.dv->dataset_id = d.id;
    snprintf(k.dv->target, sizeof k.dv->target, "%s", column);
    st_index_of xi;
    ST_TRY(rc = st_derive_index_of(pool, d.id, &xi));
    k.dv->destroys_order = xi.found && xi.dv.destroys_order;
    if (op == ST_OP_EXPR)
        ST_TRY(rc = define_expr(&k, &xs, d.id));
    else
        ST_TRY(rc = define_from_source(&k, &xi, d.id, &ss));
    snprintf(k.dv->op, sizeof k.dv->op, "%s", st_op_name(k.ds.op));
    ST_TRY(rc = st_dspec_encode(&k.ds, k.dv->args, sizeof k.dv->args));
    rc = st_cat_derive_column(err, st_pool_cat(pool), &k.col, k.dv);
    if (rc == STRATA_EEXIST)
        st_error(err, rc, "dataset '%s/%s' already has a column '%s'", region, name, column);
done:
    free(k.dv);
    st_schema_free(&xs);
    st_schema_free(&ss);
    return rc;
}
