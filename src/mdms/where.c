/*
 * where.c -- run conditions into SQL: src/expr parses the text (the run-condition dialect,
 * checking its names as it reads them, so that messages and their order are the parser's), and
 * this file writes the tree as SQL over the catalog's column expressions with every value a
 * bound parameter. The parentheses the user wrote are kept (st_expr_node.parens), so the SQL
 * reads as the condition does.
 */
#include "mdms/where.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "util/vec.h"

_Static_assert(ST_EXPR_COND_MAX_CMP == ST_WHERE_MAX_CMP &&
                   ST_EXPR_COND_MAX_DEPTH == ST_WHERE_MAX_DEPTH,
               "the parser's limits are the catalog's");

typedef struct sqlbuf {
    st_err *err;
    const st_cat_where_name *names;
    size_t nnames;
    char *sql;
    size_t len, cap;
    st_vec vals; /* of st_cat_value */
} sqlbuf;

static int emit(sqlbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *g = realloc(b->sql, cap);
        if (g == NULL) return st_error(b->err, STRATA_ENOMEM, "out of memory parsing a condition");
        b->sql = g;
        b->cap = cap;
    }
    memcpy(b->sql + b->len, text, n + 1);
    b->len += n;
    return STRATA_OK;
}

/* The comparison N (NAME op VALUE): the name's sql, the operator, a parameter for the value. */
static int emit_cmp(sqlbuf *b, const st_expr_node *n)
{
    static const char *const ops[] = {
        [ST_EXPR_LT] = "<",  [ST_EXPR_LE] = "<=", [ST_EXPR_GT] = ">",
        [ST_EXPR_GE] = ">=", [ST_EXPR_EQ] = "=",  [ST_EXPR_NE] = "!="};
    const st_cat_where_name *hit = NULL;
    for (size_t i = 0; i < b->nnames && hit == NULL; i++)
        if (strcmp(b->names[i].name, n->a->s) == 0) hit = &b->names[i];
    if (hit == NULL) /* the parser checked the names */
        return st_error(b->err, STRATA_EINVAL, "unknown name '%s' in a condition", n->a->s);
    st_cat_value v = {0};
    if (n->b->kind == ST_EXPR_STR) {
        v.type = STRATA_ATTR_TEXT;
        if ((v.s = strdup(n->b->s)) == NULL)
            return st_error(b->err, STRATA_ENOMEM, "out of memory");
    } else if (n->b->kind == ST_EXPR_INT) {
        v.type = STRATA_ATTR_INT;
        v.i = n->b->i;
    } else {
        v.type = STRATA_ATTR_FLOAT;
        v.f = n->b->f;
    }
    st_cat_value *slot = st_vec_push(&b->vals);
    if (slot == NULL) {
        free(v.s);
        return st_error(b->err, STRATA_ENOMEM, "out of memory");
    }
    *slot = v;
    char buf[ST_ATTR_NAME + 64];
    snprintf(buf, sizeof buf, "%s %s ?%d", hit->sql, ops[n->op], (int)b->vals.n + 1);
    return emit(b, buf);
}

/* N as SQL: 'not', 'and', 'or' and comparisons, in the parentheses the text had. Recursion is
 * bounded by the parser's limits on nesting and comparisons. */
static int emit_node(sqlbuf *b, const st_expr_node *n)
{
    int rc = STRATA_OK;
    for (int i = 0; i < n->parens && rc == STRATA_OK; i++) rc = emit(b, "(");
    if (rc < 0) return rc;
    if (n->kind == ST_EXPR_NOT) {
        if ((rc = emit(b, "NOT ")) == STRATA_OK) rc = emit_node(b, n->a);
    } else if (n->op == ST_EXPR_AND || n->op == ST_EXPR_OR) {
        if ((rc = emit_node(b, n->a)) == STRATA_OK &&
            (rc = emit(b, n->op == ST_EXPR_AND ? " AND " : " OR ")) == STRATA_OK)
            rc = emit_node(b, n->b);
    } else {
        rc = emit_cmp(b, n);
    }
    for (int i = 0; i < n->parens && rc == STRATA_OK; i++) rc = emit(b, ")");
    return rc;
}

void st_mdms_where_clear(st_cat_where *w)
{
    if (w == NULL) return;
    for (size_t i = 0; i < w->nvals; i++) free(w->vals[i].s);
    free(w->vals);
    free(w->sql);
    memset(w, 0, sizeof *w);
}

int st_mdms_where_sql(st_err *err, const char *where, const st_cat_where_name *names, size_t nnames,
                      st_cat_where *out)
{
    memset(out, 0, sizeof *out);
    const char **known = calloc(nnames + 1, sizeof *known);
    if (known == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    for (size_t i = 0; i < nnames; i++) known[i] = names[i].name;
    st_expr_syntax syntax = {ST_EXPR_LANG_COND, known, nnames};
    st_expr_node *tree = NULL;
    int rc = st_expr_parse_tree(err, where, &syntax, &tree);
    free(known);
    sqlbuf b = {err, names, nnames, NULL, 0, 0, ST_VEC(st_cat_value)};
    if (rc == STRATA_OK) rc = tree == NULL ? emit(&b, "1 = 1") : emit_node(&b, tree);
    st_expr_tree_free(tree);
    out->sql = b.sql;
    out->vals = b.vals.v;
    out->nvals = b.vals.n;
    if (rc < 0) st_mdms_where_clear(out);
    return rc;
}

int st_mdms_where_compile(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                          const char *where, int exec, st_cat_where *out)
{
    memset(out, 0, sizeof *out);
    st_vec schema = ST_VEC(st_cat_attr_def);
    st_cat_where_name *names = NULL;
    size_t nn = 0;
    int rc = st_cat_app_schema(err, cat, region_id, &schema);
    if (rc == STRATA_ENOTFOUND)
        rc = st_error(err, rc,
                      "'%s' is not a registered application; register it with "
                      "strata app register",
                      app);
    ST_TRY(rc);
    ST_TRY(rc = st_cat_where_names(err, &schema, exec, &names, &nn));
    rc = st_mdms_where_sql(err, where, names, nn, out);
done:
    free(names);
    st_vec_free(&schema);
    return rc;
}

int st_mdms_run_match(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                      const char *where, int64_t *run_id)
{
    st_cat_where w;
    int rc;
    ST_TRY(rc = st_mdms_where_compile(err, cat, region_id, app, where, 0, &w));
    rc = st_cat_run_latest(err, cat, region_id, app, &w, run_id);
done:
    if (rc == STRATA_ENOTFOUND)
        rc = st_error(err, rc, "no run of '%s' matches '%s'", app, where ? where : "");
    st_mdms_where_clear(&w);
    return rc;
}

int st_mdms_where_check(st_err *err, const char *where, const char *const *attrs, size_t nattrs,
                        int exec, char **sql, size_t *nbinds)
{
    *sql = NULL;
    *nbinds = 0;
    st_vec schema = ST_VEC(st_cat_attr_def);
    st_cat_where_name *names = NULL;
    size_t nn = 0;
    st_cat_where w = {0};
    int rc;
    for (size_t i = 0; i < nattrs; i++) {
        st_cat_attr_def *d = st_vec_push(&schema);
        if (d == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", attrs[i]);
    }
    ST_TRY(rc = st_cat_where_names(err, &schema, exec, &names, &nn));
    ST_TRY(rc = st_mdms_where_sql(err, where, names, nn, &w));
    *sql = w.sql;
    *nbinds = w.nvals;
    w.sql = NULL;
done:
    st_mdms_where_clear(&w);
    free(names);
    st_vec_free(&schema);
    return rc;
}
