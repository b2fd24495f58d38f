/*
 * catalog_dataset.c -- the catalog of datasets: schemas, batches and their columns, versions,
 * the publish transaction and the trash of dropped datasets.
 *
 * The publish is the single transaction that makes batches visible: it checks that the dataset
 * is still at the version the writer started from, assigns sequence numbers and global row ids,
 * inserts the batch and column rows and the version row, and bumps the dataset's version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"
#include "util/vec.h"

enum {
    D_INSERT = ST_CAT_DATASET_FIRST,
    D_COL_INSERT,
    D_GET,
    D_COLS,
    D_LIST,
    D_TRASH_INSERT,
    D_DEL_BCOLS,
    D_DEL_BATCHES,
    D_DEL_VERSIONS,
    D_DEL_COLS,
    D_DEL,
    D_STATE,
    D_BUMP,
    D_VERSION_INSERT,
    D_BATCH_INSERT,
    D_BCOL_INSERT,
    D_VERSIONS,
    D_VERSION_GET,
    D_EXPIRE,
    D_TRASH_LIST,
    D_TRASH_DEL,
    D_REGION_IDS,
    D_TOTALS,
    D_RETIRE,
    D_RETIRE_ONE,
    D_BATCH_ID,
    D_FILES,
    D_GARBAGE,
    D_BCOL_WHERE,
    D_BCOL_MOVABLE,
    D_BCOL_MOVE,
    D_HORIZON,
    D_DEL_GARBAGE_COLS,
    D_DEL_RETIRED_COLS,
    D_DEL_RETIRED,
    D_MARK,
    D_LAYOUT,
    D_LAYOUT_OF_BATCH,
    D_REGION_DEPENDENT,
    D_REGION_DEL_DERIV,
    D_END
};
_Static_assert(D_END <= ST_CAT_DERIVE_FIRST, "too many dataset statements");

static const char *const sql[] = {
    [D_INSERT - D_INSERT] = "INSERT INTO dataset (region_id, name, dir, created_ns) "
                            "VALUES (?1, ?2, ?3, ?4)",
    [D_COL_INSERT - D_INSERT] = "INSERT INTO dataset_column (dataset_id, position, name, dtype, "
                                "kind) VALUES (?1, ?2, ?3, ?4, ?5)",
    [D_GET - D_INSERT] = "SELECT d.id, d.region_id, r.name, r.dir, d.name, d.dir, d.version, "
                         "d.next_row, d.created_ns FROM dataset d JOIN region r ON "
                         "r.id = d.region_id WHERE r.name = ?1 AND d.name = ?2",
    [D_COLS - D_INSERT] = "SELECT name, dtype, kind FROM dataset_column WHERE dataset_id = ?1 "
                          "ORDER BY position",
    [D_LIST - D_INSERT] = "SELECT d.id, d.region_id, r.name, r.dir, d.name, d.dir, d.version, "
                          "d.next_row, d.created_ns FROM dataset d JOIN region r ON "
                          "r.id = d.region_id WHERE d.region_id = ?1 ORDER BY d.name",
    [D_TRASH_INSERT - D_INSERT] = "INSERT INTO trash (path, dataset_id, created_ns) "
                                  "VALUES (?1, ?2, ?3)",
    [D_DEL_BCOLS - D_INSERT] = "DELETE FROM batch_column WHERE batch_id IN "
                               "(SELECT id FROM batch WHERE dataset_id = ?1)",
    [D_DEL_BATCHES - D_INSERT] = "DELETE FROM batch WHERE dataset_id = ?1",
    [D_DEL_VERSIONS - D_INSERT] = "DELETE FROM dataset_version WHERE dataset_id = ?1",
    [D_DEL_COLS - D_INSERT] = "DELETE FROM dataset_column WHERE dataset_id = ?1",
    [D_DEL - D_INSERT] = "DELETE FROM dataset WHERE id = ?1",
    [D_STATE - D_INSERT] = "SELECT version, next_row, (SELECT COALESCE(MAX(seq) + 1, 0) FROM "
                           "batch WHERE dataset_id = ?1) FROM dataset WHERE id = ?1",
    [D_BUMP - D_INSERT] = "UPDATE dataset SET version = ?2, next_row = ?3 WHERE id = ?1",
    [D_VERSION_INSERT - D_INSERT] = "INSERT INTO dataset_version (dataset_id, version, created_ns, "
                                    "batches, rows, total_rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [D_BATCH_INSERT - D_INSERT] =
        "INSERT INTO batch (dataset_id, seq, first_row, nrows, version, token, created_ns, part, "
        "run, sort_keys) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [D_BCOL_INSERT - D_INSERT] =
        "INSERT INTO batch_column (batch_id, position, file, bytes_file, bytes, checksum, min_i, "
        "max_i, min_f, max_f, version, tier_id, valid_file, nulls) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [D_VERSIONS - D_INSERT] = "SELECT version, created_ns, batches, rows, total_rows, expired "
                              "FROM dataset_version WHERE dataset_id = ?1 ORDER BY version",
    [D_VERSION_GET - D_INSERT] = "SELECT version, created_ns, batches, rows, total_rows, expired "
                                 "FROM dataset_version WHERE dataset_id = ?1 AND version = ?2",
    /* only rows not expired yet: rewriting them all made every gc's transaction write pages
     * in proportion to the dataset's history */
    [D_EXPIRE - D_INSERT] = "UPDATE dataset_version SET expired = 1 WHERE dataset_id = ?1 AND "
                            "version < ?2 AND expired = 0",
    [D_TRASH_LIST - D_INSERT] = "SELECT id, path, dataset_id, created_ns FROM trash ORDER BY id",
    [D_TRASH_DEL - D_INSERT] = "DELETE FROM trash WHERE id = ?1",
    [D_TOTALS - D_INSERT] =
        "SELECT COUNT(DISTINCT b.id), COALESCE(SUM(c.bytes), 0) FROM batch b JOIN batch_column c "
        "ON c.batch_id = b.id WHERE b.dataset_id = ?1 AND b.version <= ?2 AND (b.retired IS NULL "
        "OR b.retired > ?2) AND c.version <= ?2 AND NOT EXISTS (SELECT 1 FROM batch_column n "
        "WHERE n.batch_id = c.batch_id AND n.position = c.position AND n.version > c.version AND "
        "n.version <= ?2)",
    [D_RETIRE - D_INSERT] = "UPDATE batch SET retired = ?2 WHERE dataset_id = ?1 AND retired IS "
                            "NULL",
    [D_RETIRE_ONE - D_INSERT] = "UPDATE batch SET retired = ?3 WHERE dataset_id = ?1 AND seq = ?2 "
                                "AND retired IS NULL",
    [D_BATCH_ID - D_INSERT] = "SELECT id FROM batch WHERE dataset_id = ?1 AND seq = ?2 AND "
                              "retired IS NULL",
    [D_FILES - D_INSERT] =
        "SELECT c.file, c.bytes_file, c.valid_file, c.tier_id FROM batch_column c JOIN batch b "
        "ON b.id = c.batch_id WHERE b.dataset_id = ?1",
    [D_GARBAGE - D_INSERT] =
        "SELECT c.file, c.bytes_file, c.valid_file, c.tier_id FROM batch_column c JOIN batch b "
        "ON b.id = c.batch_id WHERE b.dataset_id = ?1 AND (b.retired IS NOT NULL OR EXISTS (SELECT "
        "1 FROM "
        "batch_column n "
        "WHERE n.batch_id = c.batch_id AND n.position = c.position AND n.version > c.version))",
    [D_BCOL_WHERE - D_INSERT] =
        "SELECT c.tier_id, c.file, c.bytes_file, c.valid_file FROM batch_column c JOIN batch b "
        "ON b.id = c.batch_id WHERE b.dataset_id = ?1 AND b.seq = ?2 AND c.position = ?3 AND "
        "c.version = ?4",
    [D_BCOL_MOVABLE - D_INSERT] =
        "SELECT b.id, b.seq, c.position, c.version, c.tier_id, c.file, c.bytes_file, c.bytes, "
        "COALESCE(c.stored, c.bytes), c.valid_file FROM batch_column c JOIN batch b ON b.id = "
        "c.batch_id WHERE "
        "b.dataset_id = ?1 AND b.seq BETWEEN ?2 AND ?3 AND c.tier_id <> ?4 AND c.file <> '' "
        "ORDER BY b.seq, c.position, c.version",
    [D_BCOL_MOVE - D_INSERT] =
        "UPDATE batch_column SET tier_id = ?5, file = ?6, bytes_file = ?7, stored = ?8, "
        "valid_file = ?10 WHERE batch_id = ?1 AND position = ?2 AND version = ?3 AND tier_id = ?4 "
        "AND file = ?9",
    [D_HORIZON - D_INSERT] =
        "SELECT MAX(h) FROM (SELECT COALESCE((SELECT MAX(retired) FROM batch WHERE dataset_id = "
        "?1), 0) AS h UNION ALL SELECT COALESCE((SELECT MAX(n.version) FROM batch_column n JOIN "
        "batch b ON b.id = n.batch_id WHERE b.dataset_id = ?1 AND EXISTS (SELECT 1 FROM "
        "batch_column o WHERE o.batch_id = n.batch_id AND o.position = n.position AND o.version < "
        "n.version)), 0)) AS horizon",
    [D_DEL_GARBAGE_COLS - D_INSERT] =
        "DELETE FROM batch_column WHERE batch_id IN (SELECT id FROM batch WHERE dataset_id = ?1) "
        "AND EXISTS (SELECT 1 FROM batch_column n WHERE n.batch_id = batch_column.batch_id AND "
        "n.position = batch_column.position AND n.version > batch_column.version)",
    [D_DEL_RETIRED_COLS - D_INSERT] = "DELETE FROM batch_column WHERE batch_id IN (SELECT id FROM "
                                      "batch WHERE dataset_id = ?1 AND retired IS NOT NULL)",
    [D_DEL_RETIRED - D_INSERT] = "DELETE FROM batch WHERE dataset_id = ?1 AND retired IS NOT NULL",
    [D_MARK - D_INSERT] = "UPDATE derivation SET consumed = ?2, source_seq = ?3, "
                          "source_version = ?4 WHERE id = ?1",
    /* Something other than new batches changed what versions show of dataset ?1 (or of the
     * dataset of batch ?1): kept batch lists of it are read again (catalog_batches.c). */
    [D_LAYOUT - D_INSERT] = "UPDATE dataset SET layout = layout + 1 WHERE id = ?1",
    [D_LAYOUT_OF_BATCH - D_INSERT] = "UPDATE dataset SET layout = layout + 1 WHERE id = (SELECT "
                                     "dataset_id FROM batch WHERE id = ?1)",
    [D_REGION_IDS - D_INSERT] = "SELECT d.id, 'data/' || r.dir || '/' || d.dir FROM dataset d "
                                "JOIN region r ON r.id = d.region_id WHERE d.region_id = ?1",
    /* a dataset of another region derived (or with a column derived) from one of this region */
    [D_REGION_DEPENDENT - D_INSERT] =
        "SELECT r.name, d.name, rs.name, s.name FROM derivation v "
        "JOIN dataset d ON d.id = v.dataset_id JOIN region r ON r.id = d.region_id "
        "JOIN dataset s ON s.id = v.source_id JOIN region rs ON rs.id = s.region_id "
        "WHERE s.region_id = ?1 AND d.region_id <> ?1 LIMIT 1",
    [D_REGION_DEL_DERIV - D_INSERT] = "DELETE FROM derivation WHERE dataset_id IN "
                                      "(SELECT id FROM dataset WHERE region_id = ?1)",
};

static int prep(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, sql[q - D_INSERT], out);
}

static void read_dataset(st_dbstmt *s, void *row)
{
    st_cat_dataset *d = row;
    d->id = st_db_col_int64(s, 0);
    d->region_id = st_db_col_int64(s, 1);
    st_cat_text(d->region, sizeof d->region, s, 2);
    st_cat_text(d->region_dir, sizeof d->region_dir, s, 3);
    st_cat_text(d->name, sizeof d->name, s, 4);
    st_cat_text(d->dir, sizeof d->dir, s, 5);
    d->version = st_db_col_int64(s, 6);
    d->next_row = st_db_col_int64(s, 7);
    d->created_ns = st_db_col_int64(s, 8);
}

/* Run statement Q bound to one integer, expecting no rows. */
static int exec_id(st_err *err, st_catalog *cat, int q, int64_t id, const char *doing)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, q, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return st_cat_step_done(err, cat, s, doing);
}

int st_cat_dataset_insert_tx(st_err *err, st_catalog *cat, st_cat_dataset *d,
                             const st_cat_column *cols, int ncols)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_INSERT, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, d->region_id);
    st_db_bind_text(s, 2, d->name);
    st_db_bind_text(s, 3, d->dir);
    st_db_bind_int64(s, 4, d->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert a dataset");
    if (rc == STRATA_EEXIST)
        rc = st_error(err, rc, "dataset '%s/%s' already exists", d->region, d->name);
    if (rc < 0) return rc;
    d->id = st_db_last_id(cat->db);
    d->version = d->next_row = 0;
    for (int i = 0; i < ncols; i++) {
        if ((rc = prep(err, cat, D_COL_INSERT, &s)) < 0) return rc;
        st_db_bind_int64(s, 1, d->id);
        st_db_bind_int64(s, 2, i);
        st_db_bind_text(s, 3, cols[i].name);
        st_db_bind_int64(s, 4, cols[i].dtype);
        st_db_bind_int64(s, 5, cols[i].kind);
        rc = st_cat_step_done(err, cat, s, "insert a column");
        if (rc == STRATA_EEXIST)
            rc = st_error(err, STRATA_EINVAL, "dataset '%s/%s': column '%s' is named twice",
                          d->region, d->name, cols[i].name);
        if (rc < 0) return rc;
    }
    return STRATA_OK;
}

int st_cat_dataset_insert(st_err *err, st_catalog *cat, st_cat_dataset *d,
                          const st_cat_column *cols, int ncols)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    if ((rc = st_cat_dataset_insert_tx(err, cat, d, cols, ncols)) < 0) {
        st_cat_rollback(cat);
        return rc;
    }
    return st_cat_commit(err, cat);
}

int st_cat_dataset_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                       st_cat_dataset *d, st_cat_column *cols, int *ncols)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, region);
    st_db_bind_text(s, 2, name);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_dataset(s, d);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = STRATA_ENOTFOUND;
    } else {
        rc = st_cat_db_error(err, cat, rc, "look up a dataset");
    }
    st_cat_done(s);
    if (rc == STRATA_ENOTFOUND) {
        st_cat_region r;
        if (st_cat_region_get(err, cat, region, &r) == STRATA_OK)
            st_error(err, rc, "dataset '%s/%s' not found", region, name);
        return rc;
    }
    if (rc < 0 || cols == NULL) return rc;
    if ((rc = prep(err, cat, D_COLS, &s)) < 0) return rc;
    st_db_bind_int64(s, 1, d->id);
    int n = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW && n < ST_CAT_MAX_COLUMNS) {
        st_cat_text(cols[n].name, sizeof cols[n].name, s, 0);
        cols[n].dtype = st_db_col_int(s, 1);
        cols[n].kind = st_db_col_int(s, 2);
        n++;
    }
    int code = rc == ST_DB_DONE || rc == ST_DB_ROW ? STRATA_OK
                                                   : st_cat_db_error(err, cat, rc, "read columns");
    st_cat_done(s);
    *ncols = n;
    return code;
}

int st_cat_dataset_list(st_err *err, st_catalog *cat, int64_t region_id,
                        int (*fn)(void *, const st_cat_dataset *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_LIST, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    st_vec rows = ST_VEC(st_cat_dataset);
    int stop = st_cat_collect(err, cat, s, &rows, read_dataset, "list datasets");
    for (size_t i = 0; i < rows.n && stop == 0; i++) stop = fn(ctx, (st_cat_dataset *)rows.v + i);
    st_vec_free(&rows);
    return stop;
}

/* Trash the directory and delete every row of dataset ID (inside the caller's transaction). */
static int retire(st_err *err, st_catalog *cat, int64_t id, const char *path)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_TRASH_INSERT, &s);
    if (rc < 0) return rc;
    st_db_bind_text_copy(s, 1, path);
    st_db_bind_int64(s, 2, id);
    st_db_bind_int64(s, 3, st_now_ns());
    if ((rc = st_cat_step_done(err, cat, s, "trash a dataset")) < 0) return rc;
    if ((rc = st_cat_deriv_delete_dataset(err, cat, id)) < 0) return rc;
    if ((rc = st_cat_summary_drop(err, cat, ST_SUMMARY_COLUMN, id)) < 0) return rc;
    static const int order[] = {D_DEL_BCOLS, D_DEL_BATCHES, D_DEL_VERSIONS, D_DEL_COLS, D_DEL};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((rc = exec_id(err, cat, order[i], id, "drop a dataset")) < 0) return rc;
    return STRATA_OK;
}

int st_cat_dataset_drop(st_err *err, st_catalog *cat, int64_t id, const char *path)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    rc = retire(err, cat, id, path);
    if (rc < 0) {
        st_cat_rollback(cat);
        return rc;
    }
    return st_cat_commit(err, cat);
}

typedef struct {
    int64_t id;
    char path[2 * ST_CAT_FILE + 8];
} region_ds;

static void read_region_ds(st_dbstmt *s, void *row)
{
    region_ds *it = row;
    it->id = st_db_col_int64(s, 0);
    st_cat_text(it->path, sizeof it->path, s, 1);
}

/* STRATA_ECONFLICT when a dataset of another region derives from one of REGION_ID's. */
static int region_dependent(st_err *err, st_catalog *cat, int64_t region_id)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_REGION_DEPENDENT, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        char n[4][STRATA_NAME_MAX + 1];
        for (int i = 0; i < 4; i++) st_cat_text(n[i], sizeof n[i], s, i);
        rc = st_error(err, STRATA_ECONFLICT,
                      "cannot delete region '%s': dataset '%s/%s' of another region is derived "
                      "from its '%s/%s'; drop that one first",
                      n[2], n[0], n[1], n[2], n[3]);
    } else {
        rc = rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, cat, rc, "list derivations");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_dataset_retire_region(st_err *err, st_catalog *cat, int64_t region_id)
{
    st_dbstmt *s = NULL;
    /* derivations among the region's own datasets go first, whatever their order */
    int rc = region_dependent(err, cat, region_id);
    if (rc == STRATA_OK)
        rc = exec_id(err, cat, D_REGION_DEL_DERIV, region_id, "delete the region's derivations");
    if (rc == STRATA_OK) rc = prep(err, cat, D_REGION_IDS, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    st_vec v = ST_VEC(region_ds);
    rc = st_cat_collect(err, cat, s, &v, read_region_ds, "list the region's datasets");
    const region_ds *it = v.v;
    for (size_t i = 0; i < v.n && rc == STRATA_OK; i++) rc = retire(err, cat, it[i].id, it[i].path);
    st_vec_free(&v);
    return rc;
}

static void bind_stat(st_dbstmt *s, int col, int has, int is_float, int64_t i, double f)
{
    if (!has)
        st_db_bind_null(s, col);
    else if (is_float)
        st_db_bind_double(s, col, f);
    else
        st_db_bind_int64(s, col, i);
}

/* A file name, or NULL for none. */
static void bind_name(st_dbstmt *s, int col, const char *name)
{
    if (name[0])
        st_db_bind_text(s, col, name);
    else
        st_db_bind_null(s, col);
}

static void bind_bcol(st_dbstmt *s, int64_t batch_id, int pos, const st_cat_bcol *bc,
                      int64_t version)
{
    st_db_bind_int64(s, 1, batch_id);
    st_db_bind_int64(s, 2, pos);
    st_db_bind_text(s, 3, bc->file);
    bind_name(s, 4, bc->bytes_file);
    st_db_bind_int64(s, 5, (int64_t)bc->bytes);
    st_db_bind_int64(s, 6, (int64_t)bc->checksum);
    int is_float = bc->has_minmax == 2;
    bind_stat(s, 7, bc->has_minmax == 1, 0, bc->min_i, 0);
    bind_stat(s, 8, bc->has_minmax == 1, 0, bc->max_i, 0);
    bind_stat(s, 9, is_float, 1, 0, bc->min_f);
    bind_stat(s, 10, is_float, 1, 0, bc->max_f);
    st_db_bind_int64(s, 11, version);
    st_db_bind_int64(s, 12, bc->tier_id > 0 ? bc->tier_id : ST_TIER_DEFAULT_ID);
    bind_name(s, 13, bc->valid_file);
    st_db_bind_int64(s, 14, (int64_t)bc->nulls);
}

/* The state of dataset ID: its VERSION (which must still be EXPECTED), the id of its next row
 * and the sequence number of its next batch. */
static int read_state(st_err *err, st_catalog *cat, int64_t id, int64_t expected, int64_t *version,
                      int64_t *next_row, int64_t *seq)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_STATE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    rc = st_db_step(s);
    if (rc != ST_DB_ROW) {
        rc = rc == ST_DB_DONE ? st_error(err, STRATA_ENOTFOUND, "the dataset was dropped")
                              : st_cat_db_error(err, cat, rc, "read the dataset state");
        st_cat_done(s);
        return rc;
    }
    *version = st_db_col_int64(s, 0);
    *next_row = st_db_col_int64(s, 1);
    *seq = st_db_col_int64(s, 2);
    st_cat_done(s);
    if (*version != expected)
        return st_error(err, STRATA_ECONFLICT,
                        "the dataset moved from version %lld to %lld while the batches were "
                        "written",
                        (long long)expected, (long long)*version);
    return STRATA_OK;
}

/* Retire every live batch of dataset ID at version V. */
static int retire_live(st_err *err, st_catalog *cat, int64_t id, int64_t v)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_RETIRE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, v);
    return st_cat_step_done(err, cat, s, "retire batches");
}

/* Retire live batch SEQ of dataset ID at version V: STRATA_ECONFLICT if it is not live. */
static int retire_one(st_err *err, st_catalog *cat, int64_t id, int64_t seq, int64_t v)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_RETIRE_ONE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, seq);
    st_db_bind_int64(s, 3, v);
    if ((rc = st_cat_step_done(err, cat, s, "retire a batch")) < 0) return rc;
    if (st_db_changes(cat->db) != 1)
        return st_error(err, STRATA_ECONFLICT, "batch %lld is no longer live", (long long)seq);
    return STRATA_OK;
}

/* Insert batch NB of dataset ID (version V) and its NCOLS columns COLS (those with a file). */
static int insert_batch(st_err *err, st_catalog *cat, int64_t id, int64_t v, const st_cat_batch *nb,
                        const st_cat_bcol *cols, int ncols)
{
    st_dbstmt *s = NULL;
    int rc;
    ST_TRY(rc = prep(err, cat, D_BATCH_INSERT, &s));
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, nb->seq);
    st_db_bind_int64(s, 3, nb->first_row);
    st_db_bind_int64(s, 4, nb->nrows);
    st_db_bind_int64(s, 5, v);
    st_db_bind_text(s, 6, nb->token);
    st_db_bind_int64(s, 7, nb->created_ns);
    if (nb->part > 0)
        st_db_bind_int64(s, 8, nb->part);
    else
        st_db_bind_null(s, 8);
    st_db_bind_int64(s, 9, nb->run);
    st_db_bind_int64(s, 10, nb->sort_keys);
    ST_TRY(rc = st_cat_step_done(err, cat, s, "insert a batch"));
    int64_t batch_id = st_db_last_id(cat->db);
    for (int c = 0; c < ncols; c++) {
        if (cols[c].file[0] == '\0') continue;
        ST_TRY(rc = prep(err, cat, D_BCOL_INSERT, &s));
        bind_bcol(s, batch_id, c, &cols[c], v);
        ST_TRY(rc = st_cat_step_done(err, cat, s, "insert a batch column"));
    }
done:
    return rc;
}

/* Insert a computed column FL into the live batch it belongs to (at version V). */
static int insert_fill(st_err *err, st_catalog *cat, int64_t id, int64_t v, const st_cat_fill *fl)
{
    st_dbstmt *s = NULL;
    int rc;
    ST_TRY(rc = prep(err, cat, D_BATCH_ID, &s));
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, fl->seq);
    rc = st_db_step(s);
    int64_t batch_id = rc == ST_DB_ROW ? st_db_col_int64(s, 0) : -1;
    st_cat_done(s);
    if (batch_id < 0) {
        rc = rc == ST_DB_DONE ? st_error(err, STRATA_ECONFLICT, "batch %lld is no longer live",
                                         (long long)fl->seq)
                              : st_cat_db_error(err, cat, rc, "find a batch");
        goto done;
    }
    ST_TRY(rc = prep(err, cat, D_BCOL_INSERT, &s));
    bind_bcol(s, batch_id, fl->position, &fl->col, v);
    ST_TRY(rc = st_cat_step_done(err, cat, s, "insert a derived column"));
done:
    return rc;
}

/* Record how far derivation M has consumed its source. */
static int insert_mark(st_err *err, st_catalog *cat, const st_cat_mark *m)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_MARK, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, m->deriv_id);
    st_db_bind_int64(s, 2, m->consumed);
    st_db_bind_int64(s, 3, m->source_seq);
    st_db_bind_int64(s, 4, m->source_version);
    return st_cat_step_done(err, cat, s, "mark what was consumed");
}

/* Record version V of dataset ID made at NOW (NB new batches of ROWS rows, NEXT_ROW the id of
 * the next row) and make it the dataset's current one. */
static int record_version(st_err *err, st_catalog *cat, int64_t id, int64_t v, int64_t now, int nb,
                          int64_t rows, int64_t next_row)
{
    st_dbstmt *s = NULL;
    int rc;
    ST_TRY(rc = prep(err, cat, D_VERSION_INSERT, &s));
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, v);
    st_db_bind_int64(s, 3, now);
    st_db_bind_int64(s, 4, nb);
    st_db_bind_int64(s, 5, rows);
    st_db_bind_int64(s, 6, next_row);
    ST_TRY(rc = st_cat_step_done(err, cat, s, "insert a version"));
    ST_TRY(rc = prep(err, cat, D_BUMP, &s));
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, v);
    st_db_bind_int64(s, 3, next_row);
    ST_TRY(rc = st_cat_step_done(err, cat, s, "bump the version"));
done:
    return rc;
}

int st_cat_apply(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                 st_cat_change *ch, int64_t *new_version)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    int64_t version = 0, next_row = 0, seq = 0;
    if (ch->hold != NULL && !st_cat_lock_live(cat, *ch->hold)) {
        /* its files may be gone: while the lock was lost, gc could take them for orphans */
        rc = st_error(err, STRATA_ECONFLICT,
                      "the writer lock was lost when the connection to catalog '%s' dropped; "
                      "nothing was published: write the batches again",
                      cat->path);
        goto done;
    }
    ST_TRY(rc = read_state(err, cat, id, expected_version, &version, &next_row, &seq));
    int64_t v = version + 1, rows = 0, now = st_now_ns();
    if (ch->retire_all) {
        ST_TRY(rc = retire_live(err, cat, id, v));
        next_row = 0;
    }
    for (int r = 0; r < ch->nretire; r++) ST_TRY(rc = retire_one(err, cat, id, ch->retire[r], v));
    for (int b = 0; b < ch->nb; b++) {
        st_cat_batch *nb = &ch->batches[b];
        nb->seq = seq + b;
        nb->first_row = next_row + rows;
        nb->version = v;
        rows += nb->nrows;
        ST_TRY(rc = insert_batch(err, cat, id, v, nb, &ch->cols[(size_t)b * (size_t)ch->ncols],
                                 ch->ncols));
    }
    /* A retire, or a column computed for a batch that was there before, changes the batches of
     * earlier versions as later versions show them: kept lists of them are stale. */
    int layout = ch->retire_all || ch->nretire > 0;
    for (int f = 0; f < ch->nfills; f++) {
        ST_TRY(rc = insert_fill(err, cat, id, v, &ch->fills[f]));
        layout |= ch->fills[f].seq < seq;
    }
    if (layout) ST_TRY(rc = exec_id(err, cat, D_LAYOUT, id, "record a change of batches"));
    for (int m = 0; m < ch->nmarks; m++) ST_TRY(rc = insert_mark(err, cat, &ch->marks[m]));
    ST_TRY(rc = record_version(err, cat, id, v, now, ch->nb, rows, next_row + rows));
    ST_TRY(rc = st_cat_commit(err, cat));
    *new_version = v;
    return STRATA_OK;
done:
    st_cat_rollback(cat);
    return rc;
}

static void read_version(st_dbstmt *s, st_cat_dsversion *v)
{
    v->version = st_db_col_int64(s, 0);
    v->created_ns = st_db_col_int64(s, 1);
    v->batches = st_db_col_int64(s, 2);
    v->rows = st_db_col_int64(s, 3);
    v->total_rows = st_db_col_int64(s, 4);
    v->expired = st_db_col_int(s, 5);
}

int st_cat_versions(st_err *err, st_catalog *cat, int64_t id,
                    int (*fn)(void *, const st_cat_dsversion *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_VERSIONS, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_dsversion v;
        read_version(s, &v);
        if ((stop = fn(ctx, &v)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "read versions");
    st_cat_done(s);
    return stop;
}

int st_cat_version_get(st_err *err, st_catalog *cat, int64_t id, int64_t version,
                       st_cat_dsversion *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_VERSION_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, version);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_version(s, out);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND : st_cat_db_error(err, cat, rc, "read a version");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_versions_expire(st_err *err, st_catalog *cat, int64_t id, int64_t keep_from)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_EXPIRE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, keep_from);
    return st_cat_step_done(err, cat, s, "expire versions");
}

typedef struct {
    int64_t id, ds, created;
    char path[ST_PATH_MAX];
} trash_row;

static void read_trash(st_dbstmt *s, void *row)
{
    trash_row *it = row;
    it->id = st_db_col_int64(s, 0);
    st_cat_text(it->path, sizeof it->path, s, 1);
    it->ds = st_db_col_int64(s, 2);
    it->created = st_db_col_int64(s, 3);
}

int st_cat_trash_list(st_err *err, st_catalog *cat,
                      int (*fn)(void *, int64_t, const char *, int64_t, int64_t), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_TRASH_LIST, &s);
    if (rc < 0) return rc;
    st_vec v = ST_VEC(trash_row);
    int stop = st_cat_collect(err, cat, s, &v, read_trash, "list the trash");
    const trash_row *it = v.v;
    for (size_t i = 0; i < v.n && stop == 0; i++)
        stop = fn(ctx, it[i].id, it[i].path, it[i].ds, it[i].created);
    st_vec_free(&v);
    return stop;
}

int st_cat_trash_delete(st_err *err, st_catalog *cat, int64_t id)
{
    return exec_id(err, cat, D_TRASH_DEL, id, "empty the trash");
}

int st_cat_totals(st_err *err, st_catalog *cat, int64_t id, int64_t version, uint64_t *nbatches,
                  uint64_t *bytes)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_TOTALS, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, version);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        *nbatches = (uint64_t)st_db_col_int64(s, 0);
        *bytes = (uint64_t)st_db_col_int64(s, 1);
        rc = STRATA_OK;
    } else {
        rc = st_cat_db_error(err, cat, rc, "count batches");
    }
    st_cat_done(s);
    return rc;
}

/* Call FN for both file names of every row of query Q bound to dataset ID. */
typedef struct {
    int64_t tier_id;
    char file[ST_CAT_FILE];
} tier_file;

/* The files (and bytes files) of query Q's rows with their tier; the statement is finished
 * before the callbacks run, so they may use the catalog. */
static int list_files(st_err *err, st_catalog *cat, int q, int64_t id,
                      int (*fn)(void *, int64_t, const char *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, q, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_vec names = ST_VEC(tier_file);
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        for (int c = 0; c < ST_BCOL_FILES; c++) {
            if (st_db_col_null(s, c)) continue;
            tier_file *slot = st_vec_push(&names);
            if (slot == NULL) {
                st_cat_done(s);
                st_vec_free(&names);
                return st_error(err, STRATA_ENOMEM, "out of memory listing files");
            }
            slot->tier_id = st_db_col_int64(s, ST_BCOL_FILES);
            st_cat_text(slot->file, ST_CAT_FILE, s, c);
        }
    }
    st_cat_done(s);
    int stop = rc == ST_DB_DONE ? 0 : st_cat_db_error(err, cat, rc, "list files");
    const tier_file *f = names.v;
    for (size_t i = 0; i < names.n && stop == 0; i++) stop = fn(ctx, f[i].tier_id, f[i].file);
    st_vec_free(&names);
    return stop;
}

int st_cat_dataset_files(st_err *err, st_catalog *cat, int64_t id,
                         int (*fn)(void *, int64_t, const char *), void *ctx)
{
    return list_files(err, cat, D_FILES, id, fn, ctx);
}

int st_cat_garbage(st_err *err, st_catalog *cat, int64_t id,
                   int (*fn)(void *, int64_t, const char *), void *ctx)
{
    return list_files(err, cat, D_GARBAGE, id, fn, ctx);
}

int st_cat_bcol_where(st_err *err, st_catalog *cat, int64_t id, int64_t seq, int pos,
                      int64_t version, st_cat_bcol *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_BCOL_WHERE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, seq);
    st_db_bind_int64(s, 3, pos);
    st_db_bind_int64(s, 4, version);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        out->tier_id = st_db_col_int64(s, 0);
        st_cat_text(out->file, sizeof out->file, s, 1);
        st_cat_text(out->bytes_file, sizeof out->bytes_file, s, 2);
        st_cat_text(out->valid_file, sizeof out->valid_file, s, 3);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND
                              : st_cat_db_error(err, cat, rc, "find a batch column");
    }
    st_cat_done(s);
    return rc;
}

static void read_bmove(st_dbstmt *s, void *row)
{
    st_cat_bmove *m = row;
    m->batch_id = st_db_col_int64(s, 0);
    m->seq = st_db_col_int64(s, 1);
    m->position = st_db_col_int(s, 2);
    m->version = st_db_col_int64(s, 3);
    m->tier_id = st_db_col_int64(s, 4);
    st_cat_text(m->files[0], sizeof m->files[0], s, 5);
    st_cat_text(m->files[1], sizeof m->files[1], s, 6);
    st_cat_text(m->files[2], sizeof m->files[2], s, 9);
    m->bytes = (uint64_t)st_db_col_int64(s, 7);
    m->stored = (uint64_t)st_db_col_int64(s, 8);
}

int st_cat_bcol_movable(st_err *err, st_catalog *cat, int64_t id, int64_t lo, int64_t hi,
                        int64_t to, int (*fn)(void *, const st_cat_bmove *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_BCOL_MOVABLE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, lo);
    st_db_bind_int64(s, 3, hi);
    st_db_bind_int64(s, 4, to);
    st_vec rows = ST_VEC(st_cat_bmove);
    int stop = st_cat_collect(err, cat, s, &rows, read_bmove, "list batches to move");
    const st_cat_bmove *m = rows.v;
    for (size_t i = 0; i < rows.n && stop == 0; i++) stop = fn(ctx, &m[i]);
    st_vec_free(&rows);
    return stop;
}

int st_cat_bcol_move(st_err *err, st_catalog *cat, const st_cat_bmove *m, int64_t to,
                     char files[ST_BCOL_FILES][ST_CAT_FILE], uint64_t stored)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, D_BCOL_MOVE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, m->batch_id);
    st_db_bind_int64(s, 2, m->position);
    st_db_bind_int64(s, 3, m->version);
    st_db_bind_int64(s, 4, m->tier_id);
    st_db_bind_int64(s, 5, to);
    st_db_bind_text(s, 6, files[0]);
    bind_name(s, 7, files[1]);
    st_db_bind_int64(s, 8, (int64_t)stored);
    st_db_bind_text(s, 9, m->files[0]);
    bind_name(s, 10, files[2]);
    if ((rc = st_cat_step_done(err, cat, s, "move a batch column")) < 0) return rc;
    if (st_db_changes(cat->db) != 1) return 0;
    rc = exec_id(err, cat, D_LAYOUT_OF_BATCH, m->batch_id, "record a change of batches");
    return rc < 0 ? rc : 1;
}

int st_cat_garbage_drop(st_err *err, st_catalog *cat, int64_t id)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = prep(err, cat, D_HORIZON, &s));
    st_db_bind_int64(s, 1, id);
    rc = st_db_step(s);
    int64_t horizon = rc == ST_DB_ROW ? st_db_col_int64(s, 0) : 0;
    rc = rc == ST_DB_ROW ? STRATA_OK : st_cat_db_error(err, cat, rc, "find the garbage");
    st_cat_done(s);
    if (rc < 0) goto done;
    static const int order[] = {D_DEL_GARBAGE_COLS, D_DEL_RETIRED_COLS, D_DEL_RETIRED, D_LAYOUT};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        ST_TRY(rc = exec_id(err, cat, order[i], id, "collect garbage"));
    if (horizon > 0) ST_TRY(rc = st_cat_versions_expire(err, cat, id, horizon));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}
