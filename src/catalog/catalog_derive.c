/*
 * catalog_derive.c -- the lineage: derivations of datasets and columns.
 *
 * A derivation row says how one object is computed: a derived dataset's index (target "") or a
 * derived column (target its name), by which operation with which arguments, from which source
 * dataset (and column), and how far it has consumed the source. The marks advance in the same
 * transaction as the object's output (st_cat_apply), so they never disagree with the data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"
#include "util/vec.h"

enum {
    V_INSERT = ST_CAT_DERIVE_FIRST,
    V_LIST,
    V_LIST_ALL,
    V_AUTO,
    V_DEL,
    V_NEXT_POS,
    V_COL_INSERT,
    V_END
};
_Static_assert(V_END <= ST_CAT_SLOTS, "too many derivation statements");

#define V_COLUMNS                                                                                  \
    "SELECT v.id, v.dataset_id, r.name, d.name, v.target, v.op, v.args, v.source_id, sr.name, "    \
    "s.name, v.source_column, v.destroys_order, v.consumed, v.source_seq, v.source_version, "      \
    "v.auto, v.created_ns FROM derivation v JOIN dataset d ON d.id = v.dataset_id JOIN region r "  \
    "ON r.id = d.region_id JOIN dataset s ON s.id = v.source_id JOIN region sr ON "                \
    "sr.id = s.region_id "

static const char *const sql[] = {
    [V_INSERT - V_INSERT] =
        "INSERT INTO derivation (dataset_id, target, op, args, source_id, source_column, "
        "destroys_order, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [V_LIST - V_INSERT] = V_COLUMNS "WHERE v.dataset_id = ?1 ORDER BY v.id",
    [V_LIST_ALL - V_INSERT] = V_COLUMNS "ORDER BY v.id",
    [V_AUTO - V_INSERT] = "UPDATE derivation SET auto = ?2 WHERE id = ?1",
    [V_DEL - V_INSERT] = "DELETE FROM derivation WHERE dataset_id = ?1",
    [V_NEXT_POS - V_INSERT] = "SELECT COALESCE(MAX(position) + 1, 0) FROM dataset_column WHERE "
                              "dataset_id = ?1",
    [V_COL_INSERT - V_INSERT] = "INSERT INTO dataset_column (dataset_id, position, name, dtype, "
                                "kind) VALUES (?1, ?2, ?3, ?4, ?5)",
};

static int prep(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, sql[q - V_INSERT], out);
}

/* Insert DV (its dataset_id set) inside the caller's transaction. */
static int insert_deriv(st_err *err, st_catalog *cat, st_cat_deriv *dv)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, V_INSERT, &s);
    if (rc < 0) return rc;
    dv->created_ns = st_now_ns();
    st_db_bind_int64(s, 1, dv->dataset_id);
    st_db_bind_text(s, 2, dv->target);
    st_db_bind_text(s, 3, dv->op);
    st_db_bind_text(s, 4, dv->args);
    st_db_bind_int64(s, 5, dv->source_id);
    st_db_bind_text(s, 6, dv->source_column);
    st_db_bind_int64(s, 7, dv->destroys_order);
    st_db_bind_int64(s, 8, dv->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert a derivation");
    if (rc == STRATA_ECONFLICT) rc = st_error(err, rc, "the source dataset was dropped meanwhile");
    if (rc == STRATA_OK) dv->id = st_db_last_id(cat->db);
    return rc;
}

int st_cat_derive_dataset(st_err *err, st_catalog *cat, st_cat_dataset *d,
                          const st_cat_column *cols, int ncols, st_cat_deriv *dv)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = st_cat_dataset_insert_tx(err, cat, d, cols, ncols));
    dv->dataset_id = d->id;
    ST_TRY(rc = insert_deriv(err, cat, dv));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_derive_column(st_err *err, st_catalog *cat, const st_cat_column *col, st_cat_deriv *dv)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = prep(err, cat, V_NEXT_POS, &s));
    st_db_bind_int64(s, 1, dv->dataset_id);
    rc = st_db_step(s);
    int pos = rc == ST_DB_ROW ? st_db_col_int(s, 0) : -1;
    rc = rc == ST_DB_ROW ? STRATA_OK : st_cat_db_error(err, cat, rc, "count columns");
    st_cat_done(s);
    if (rc < 0) goto done;
    if (pos >= ST_CAT_MAX_COLUMNS) {
        rc = st_error(err, STRATA_ERANGE, "the dataset has %d columns already, the most allowed",
                      pos);
        goto done;
    }
    ST_TRY(rc = prep(err, cat, V_COL_INSERT, &s));
    st_db_bind_int64(s, 1, dv->dataset_id);
    st_db_bind_int64(s, 2, pos);
    st_db_bind_text(s, 3, col->name);
    st_db_bind_int64(s, 4, col->dtype);
    st_db_bind_int64(s, 5, ST_COL_DERIVED);
    rc = st_cat_step_done(err, cat, s, "insert a column");
    if (rc == STRATA_EEXIST) rc = st_error(err, rc, "column '%s' already exists", col->name);
    if (rc < 0) goto done;
    ST_TRY(rc = insert_deriv(err, cat, dv));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}

static void read_deriv(st_dbstmt *s, void *row)
{
    st_cat_deriv *v = row;
    v->id = st_db_col_int64(s, 0);
    v->dataset_id = st_db_col_int64(s, 1);
    st_cat_text(v->region, sizeof v->region, s, 2);
    st_cat_text(v->dataset, sizeof v->dataset, s, 3);
    st_cat_text(v->target, sizeof v->target, s, 4);
    st_cat_text(v->op, sizeof v->op, s, 5);
    st_cat_text(v->args, sizeof v->args, s, 6);
    v->source_id = st_db_col_int64(s, 7);
    st_cat_text(v->source_region, sizeof v->source_region, s, 8);
    st_cat_text(v->source, sizeof v->source, s, 9);
    st_cat_text(v->source_column, sizeof v->source_column, s, 10);
    v->destroys_order = st_db_col_int(s, 11);
    v->consumed = st_db_col_int64(s, 12);
    v->source_seq = st_db_col_int64(s, 13);
    v->source_version = st_db_col_int64(s, 14);
    v->auto_update = st_db_col_int(s, 15);
    v->created_ns = st_db_col_int64(s, 16);
}

int st_cat_derivs(st_err *err, st_catalog *cat, int64_t dataset_id,
                  int (*fn)(void *, const st_cat_deriv *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, dataset_id > 0 ? V_LIST : V_LIST_ALL, &s);
    if (rc < 0) return rc;
    if (dataset_id > 0) st_db_bind_int64(s, 1, dataset_id);
    st_vec rows = ST_VEC(st_cat_deriv);
    int stop = st_cat_collect(err, cat, s, &rows, read_deriv, "list derivations");
    for (size_t i = 0; i < rows.n && stop == 0; i++) stop = fn(ctx, (st_cat_deriv *)rows.v + i);
    st_vec_free(&rows);
    return stop;
}

int st_cat_deriv_set_auto(st_err *err, st_catalog *cat, int64_t id, int on)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, V_AUTO, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, on != 0);
    return st_cat_step_done(err, cat, s, "register for automatic update");
}

int st_cat_deriv_delete_dataset(st_err *err, st_catalog *cat, int64_t id)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, V_DEL, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return st_cat_step_done(err, cat, s, "delete derivations");
}
