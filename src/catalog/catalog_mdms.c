/*
 * catalog_mdms.c -- the MDMS tables: applications and their run schemas, runs, associations,
 * access and storage patterns, executions, I/O events and tools; the run and execution queries.
 *
 * Each application's run attributes live in a typed table of their own, run_attr_<region id>
 * (one column per attribute, with its SQL type and an index), created and extended by
 * st_cat_app_register(). Attribute names are checked by the caller to be identifiers, and are
 * also quoted here, so they never change the meaning of the SQL they appear in. Queries take
 * conditions as SQL written by the mdms layer over the column expressions st_cat_where_names()
 * gives; every value is a bound parameter.
 * These statements are not on hot paths (one per run, save or query) and are prepared each time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"

static const char *const type_sql[] = {"INTEGER", "REAL", "TEXT"};

static int prepare(st_err *err, st_catalog *cat, const char *sql, st_dbstmt **s, const char *doing)
{
    int rc = st_cat_ready(err, cat);
    if (rc < 0) return rc;
    rc = st_db_prepare(cat->db, sql, s);
    if (rc != ST_DB_OK) return st_cat_db_error(err, cat, rc, doing);
    return STRATA_OK;
}

/* Step S (a statement that returns no rows) once and finalize it. */
static int step_final(st_err *err, st_catalog *cat, st_dbstmt *s, const char *doing)
{
    int rc = st_db_step(s);
    st_db_finalize(s);
    return rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, cat, rc, doing);
}

/* Run SQL that takes no parameters and returns no rows. */
static int run_sql(st_err *err, st_catalog *cat, const char *sql, const char *doing)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, sql, &s, doing);
    return rc < 0 ? rc : step_final(err, cat, s, doing);
}

/* The run table of application REGION_ID, without attributes yet. */
static int run_table_create(st_err *err, st_catalog *cat, int64_t region_id)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "CREATE TABLE run_attr_%" PRId64 " (run_id INTEGER PRIMARY KEY REFERENCES run(id))",
             region_id);
    return run_sql(err, cat, sql, "create a run table");
}

/* Attribute D as a column of the run table of REGION_ID, indexed. */
static int run_table_add(st_err *err, st_catalog *cat, int64_t region_id, const st_cat_attr_def *d)
{
    char sql[STRATA_NAME_MAX * 2 + 160];
    snprintf(sql, sizeof sql, "ALTER TABLE run_attr_%" PRId64 " ADD COLUMN \"%s\" %s", region_id,
             d->name, type_sql[d->type]);
    int rc = run_sql(err, cat, sql, "add a run attribute");
    if (rc < 0) return rc;
    snprintf(sql, sizeof sql,
             "CREATE INDEX run_attr_%" PRId64 "_%s ON run_attr_%" PRId64 " (\"%s\")", region_id,
             d->name, region_id, d->name);
    return run_sql(err, cat, sql, "index a run attribute");
}

int st_cat_run_table_make(st_err *err, st_catalog *cat, int64_t region_id)
{
    st_vec have = ST_VEC(st_cat_attr_def);
    int rc = st_cat_app_schema(err, cat, region_id, &have);
    if (rc == STRATA_OK) rc = run_table_create(err, cat, region_id);
    for (size_t k = 0; rc == STRATA_OK && k < have.n; k++)
        rc = run_table_add(err, cat, region_id, &((st_cat_attr_def *)have.v)[k]);
    st_vec_free(&have);
    return rc;
}

int st_cat_app_schema(st_err *err, st_catalog *cat, int64_t region_id, st_vec *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, "SELECT COUNT(*) FROM app WHERE region_id = ?1", &s,
                     "look up an application");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    int found = st_db_step(s) == ST_DB_ROW && st_db_col_int(s, 0) > 0;
    st_db_finalize(s);
    if (!found) return STRATA_ENOTFOUND;
    rc = prepare(err, cat, "SELECT name, type FROM app_attr WHERE region_id = ?1 ORDER BY pos", &s,
                 "read a run schema");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_attr_def *d = st_vec_push(out);
        if (d == NULL) {
            st_db_finalize(s);
            return st_error(err, STRATA_ENOMEM, "out of memory reading a run schema");
        }
        st_cat_text(d->name, sizeof d->name, s, 0);
        d->type = st_db_col_int(s, 1);
    }
    st_db_finalize(s);
    return rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, cat, rc, "read a run schema");
}

int st_cat_app_register(st_err *err, st_catalog *cat, int64_t region_id, const char *host,
                        const st_cat_attr_def *defs, int n)
{
    st_vec have = ST_VEC(st_cat_attr_def);
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    int known = st_cat_app_schema(err, cat, region_id, &have);
    if (known < 0 && known != STRATA_ENOTFOUND) ST_TRY(rc = known);
    if (known == STRATA_ENOTFOUND) {
        ST_TRY(rc = prepare(err, cat,
                            "INSERT INTO app (region_id, host, created_ns) VALUES (?1, ?2, ?3)", &s,
                            "register an application"));
        st_db_bind_int64(s, 1, region_id);
        st_db_bind_text(s, 2, host);
        st_db_bind_int64(s, 3, st_now_ns());
        ST_TRY(rc = step_final(err, cat, s, "register an application"));
        ST_TRY(rc = run_table_create(err, cat, region_id));
    }
    for (int i = 0; i < n; i++) {
        const st_cat_attr_def *d = &defs[i];
        int exists = 0;
        for (size_t k = 0; k < have.n; k++) {
            const st_cat_attr_def *h = &((st_cat_attr_def *)have.v)[k];
            /* SQL column names ignore case: "Grid" would be the column "grid" */
            if (strcasecmp(h->name, d->name) != 0) continue;
            if (strcmp(h->name, d->name) != 0) {
                rc = st_error(err, STRATA_EEXIST,
                              "run attribute '%s' differs from the registered '%s' only in case; "
                              "attribute names ignore case",
                              d->name, h->name);
                goto done;
            }
            exists = 1;
            if (h->type != d->type) {
                rc = st_error(err, STRATA_ETYPE,
                              "run attribute '%s' is registered as %s, not %s; use a new "
                              "attribute name",
                              d->name, type_sql[h->type], type_sql[d->type]);
                goto done;
            }
        }
        if (exists) continue;
        ST_TRY(rc = prepare(err, cat,
                            "INSERT INTO app_attr (region_id, name, type, pos) VALUES (?1, ?2, "
                            "?3, ?4)",
                            &s, "register a run attribute"));
        st_db_bind_int64(s, 1, region_id);
        st_db_bind_text(s, 2, d->name);
        st_db_bind_int64(s, 3, d->type);
        st_db_bind_int64(s, 4, (int64_t)have.n);
        ST_TRY(rc = step_final(err, cat, s, "register a run attribute"));
        st_cat_attr_def *h = st_vec_push(&have);
        if (h == NULL) ST_TRY(rc = st_error(err, STRATA_ENOMEM, "out of memory"));
        *h = *d;
        ST_TRY(rc = run_table_add(err, cat, region_id, d));
    }
    st_vec_free(&have);
    return st_cat_commit(err, cat);
done:
    st_vec_free(&have);
    st_cat_rollback(cat);
    return rc;
}

int st_cat_run_insert(st_err *err, st_catalog *cat, int64_t region_id, const char *user,
                      const char *host, int nprocs, const strata_attr *attrs, int n, int64_t *id)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = prepare(err, cat,
                        "INSERT INTO run (region_id, user, host, nprocs, status, started_ns) "
                        "VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                        &s, "insert a run"));
    st_db_bind_int64(s, 1, region_id);
    st_db_bind_text(s, 2, user);
    st_db_bind_text(s, 3, host);
    st_db_bind_int64(s, 4, nprocs);
    st_db_bind_int64(s, 5, st_now_ns());
    ST_TRY(rc = step_final(err, cat, s, "insert a run"));
    *id = st_db_last_id(cat->db);
    /* INSERT INTO run_attr_R (run_id, "a", "b") VALUES (?1, ?2, ?3) */
    char sql[4096];
    size_t len =
        (size_t)snprintf(sql, sizeof sql, "INSERT INTO run_attr_%" PRId64 " (run_id", region_id);
    for (int i = 0; i < n && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", \"%s\"", attrs[i].name);
    if (len < sizeof sql) len += (size_t)snprintf(sql + len, sizeof sql - len, ") VALUES (?1");
    for (int i = 0; i < n && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", ?%d", i + 2);
    if (len < sizeof sql) len += (size_t)snprintf(sql + len, sizeof sql - len, ")");
    if (len >= sizeof sql) ST_TRY(rc = st_error(err, STRATA_EINVAL, "too many run attributes"));
    ST_TRY(rc = prepare(err, cat, sql, &s, "record the run attributes"));
    st_db_bind_int64(s, 1, *id);
    for (int i = 0; i < n; i++) {
        if (attrs[i].type == STRATA_ATTR_INT)
            st_db_bind_int64(s, i + 2, attrs[i].i);
        else if (attrs[i].type == STRATA_ATTR_FLOAT)
            st_db_bind_double(s, i + 2, attrs[i].f);
        else
            st_db_bind_text(s, i + 2, attrs[i].s);
    }
    ST_TRY(rc = step_final(err, cat, s, "record the run attributes"));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_run_end(st_err *err, st_catalog *cat, int64_t id, const char *status)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, "UPDATE run SET status = ?2, ended_ns = ?3 WHERE id = ?1", &s,
                     "end a run");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_text(s, 2, status);
    st_db_bind_int64(s, 3, st_now_ns());
    return step_final(err, cat, s, "end a run");
}

/* The first column of the one row of S (bound by the caller) as an int64; ENOTFOUND if none. */
static int one_int(st_err *err, st_catalog *cat, st_dbstmt *s, int64_t *out, const char *doing)
{
    int rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        *out = st_db_col_int64(s, 0);
        rc = st_db_col_null(s, 0) ? STRATA_ENOTFOUND : STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND : st_cat_db_error(err, cat, rc, doing);
    }
    st_db_finalize(s);
    return rc;
}

int st_cat_run_region(st_err *err, st_catalog *cat, int64_t id, int64_t *region_id)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, "SELECT region_id FROM run WHERE id = ?1", &s, "look up a run");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return one_int(err, cat, s, region_id, "look up a run");
}

static int access_insert(st_err *err, st_catalog *cat, int64_t run_id, const char *name,
                         const char *purpose, const st_cat_access *ap)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "INSERT INTO access_pattern (run_id, dataset, purpose, dist, grid, nprocs, "
                     "order_hint, mode, reuse, request, recorded_ns) VALUES (?1, ?2, ?3, ?4, ?5, "
                     "?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (run_id, dataset, purpose) DO UPDATE "
                     "SET dist = excluded.dist, grid = excluded.grid, nprocs = excluded.nprocs, "
                     "order_hint = excluded.order_hint, mode = excluded.mode, reuse = "
                     "excluded.reuse, request = excluded.request, recorded_ns = "
                     "excluded.recorded_ns",
                     &s, "record an access pattern");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, run_id);
    st_db_bind_text(s, 2, name);
    st_db_bind_text(s, 3, purpose);
    st_db_bind_text(s, 4, ap->dist);
    st_db_bind_text(s, 5, ap->grid);
    st_db_bind_int64(s, 6, ap->nprocs);
    st_db_bind_text(s, 7, ap->order);
    st_db_bind_text(s, 8, ap->mode);
    st_db_bind_text(s, 9, ap->reuse);
    st_db_bind_int64(s, 10, (int64_t)ap->request);
    st_db_bind_int64(s, 11, st_now_ns());
    rc = st_db_step(s);
    st_db_finalize(s);
    return rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, cat, rc, "record an access pattern");
}

int st_cat_assoc_insert(st_err *err, st_catalog *cat, int64_t region_id, int64_t run_id, int dtype,
                        int ndims, const uint64_t *dims, const char *const *names, int n,
                        const st_cat_access *ap, const st_cat_storage *sp, int64_t *assoc_id)
{
    st_dbstmt *s = NULL;
    char text[ST_ND_MAXDIMS * 21];
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = prepare(err, cat,
                        "INSERT INTO assoc (run_id, dtype, ndims, dims, created_ns) VALUES (?1, "
                        "?2, ?3, ?4, ?5)",
                        &s, "insert an association"));
    st_cat_dims_format(text, sizeof text, dims, ndims);
    st_db_bind_int64(s, 1, run_id);
    st_db_bind_int64(s, 2, dtype);
    st_db_bind_int64(s, 3, ndims);
    st_db_bind_text(s, 4, text);
    st_db_bind_int64(s, 5, st_now_ns());
    ST_TRY(rc = step_final(err, cat, s, "insert an association"));
    *assoc_id = st_db_last_id(cat->db);
    for (int i = 0; i < n; i++) {
        ST_TRY(rc = prepare(err, cat,
                            "INSERT INTO assoc_dataset (assoc_id, dataset) VALUES (?1, ?2)", &s,
                            "add a dataset to an association"));
        st_db_bind_int64(s, 1, *assoc_id);
        st_db_bind_text(s, 2, names[i]);
        ST_TRY(rc = step_final(err, cat, s, "add a dataset to an association"));
        ST_TRY(rc = access_insert(err, cat, run_id, names[i], "save", ap));
        ST_TRY(rc = prepare(err, cat,
                            "INSERT INTO storage_pattern (region_id, dataset, layout, chunk, "
                            "tier_id, zstd) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
                            "(region_id, dataset) DO UPDATE SET layout = excluded.layout, chunk "
                            "= excluded.chunk, tier_id = excluded.tier_id, zstd = excluded.zstd",
                            &s, "record a storage pattern"));
        st_cat_dims_format(text, sizeof text, sp->chunk, sp->ndims);
        st_db_bind_int64(s, 1, region_id);
        st_db_bind_text(s, 2, names[i]);
        st_db_bind_int64(s, 3, sp->layout);
        st_db_bind_text_copy(s, 4, sp->layout == STRATA_LAYOUT_CHUNKED ? text : "");
        st_db_bind_int64(s, 5, sp->tier_id);
        st_db_bind_int64(s, 6, sp->zstd);
        ST_TRY(rc = step_final(err, cat, s, "record a storage pattern"));
    }
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_access_put(st_err *err, st_catalog *cat, int64_t run_id, const char *const *names, int n,
                      const char *purpose, const st_cat_access *ap)
{
    int rc = st_cat_begin(err, cat);
    for (int i = 0; rc == STRATA_OK && i < n; i++)
        rc = access_insert(err, cat, run_id, names[i], purpose, ap);
    if (rc == STRATA_OK) return st_cat_commit(err, cat);
    st_cat_rollback(cat);
    return rc;
}

int st_cat_storage_get(st_err *err, st_catalog *cat, int64_t region_id, const char *dataset,
                       st_cat_storage *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "SELECT layout, chunk, tier_id, zstd FROM storage_pattern WHERE region_id = "
                     "?1 AND dataset = ?2",
                     &s, "read a storage pattern");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    st_db_bind_text(s, 2, dataset);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        memset(out, 0, sizeof *out);
        out->layout = st_db_col_int(s, 0);
        const char *c = (const char *)st_db_col_text(s, 1);
        out->ndims = c && *c ? st_cat_dims_parse(c, out->chunk, ST_ND_MAXDIMS) : 0;
        out->tier_id = st_db_col_int64(s, 2);
        out->zstd = st_db_col_int(s, 3);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND
                              : st_cat_db_error(err, cat, rc, "read a storage pattern");
    }
    st_db_finalize(s);
    return rc;
}

int st_cat_assoc_find(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset, int *dtype,
                      int *ndims, uint64_t *dims)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "SELECT a.dtype, a.ndims, a.dims FROM assoc a JOIN assoc_dataset d ON "
                     "d.assoc_id = a.id WHERE a.run_id = ?1 AND d.dataset = ?2 ORDER BY a.id "
                     "DESC LIMIT 1",
                     &s, "look up an association");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, run_id);
    st_db_bind_text(s, 2, dataset);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        *dtype = st_db_col_int(s, 0);
        *ndims = st_db_col_int(s, 1);
        st_cat_dims_parse((const char *)st_db_col_text(s, 2), dims, ST_ND_MAXDIMS);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND
                              : st_cat_db_error(err, cat, rc, "look up an association");
    }
    st_db_finalize(s);
    return rc;
}

int st_cat_last_run(st_err *err, st_catalog *cat, int64_t region_id, const char *dataset,
                    int64_t *run_id)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "SELECT MAX(r.id) FROM run r JOIN assoc a ON a.run_id = r.id JOIN "
                     "assoc_dataset d ON d.assoc_id = a.id WHERE r.region_id = ?1 AND d.dataset "
                     "= ?2",
                     &s, "find the last run");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    st_db_bind_text(s, 2, dataset);
    return one_int(err, cat, s, run_id, "find the last run");
}

#define EXEC_COLUMNS                                                                               \
    "SELECT e.run_id, e.dataset, e.iteration, e.array_id, e.tier_id, e.files, e.bytes, "           \
    "e.strategy, e.seconds, e.nprocs, e.min, e.max, e.mean, e.std, e.hist, e.created_ns "

static void read_exec(st_dbstmt *s, st_cat_execrow *e)
{
    memset(e, 0, sizeof *e);
    e->run_id = st_db_col_int64(s, 0);
    st_cat_text(e->dataset, sizeof e->dataset, s, 1);
    e->iteration = st_db_col_int64(s, 2);
    e->array_id = st_db_col_int64(s, 3);
    e->tier_id = st_db_col_int64(s, 4);
    e->files = (uint64_t)st_db_col_int64(s, 5);
    e->bytes = (uint64_t)st_db_col_int64(s, 6);
    st_cat_text(e->strategy, sizeof e->strategy, s, 7);
    e->seconds = st_db_col_double(s, 8);
    e->nprocs = st_db_col_int(s, 9);
    e->min = st_db_col_double(s, 10);
    e->max = st_db_col_double(s, 11);
    e->mean = st_db_col_double(s, 12);
    e->std = st_db_col_double(s, 13);
    const void *h = st_db_col_blob(s, 14);
    if (h != NULL && st_db_col_bytes(s, 14) == (int)sizeof e->hist)
        memcpy(e->hist, h, sizeof e->hist);
    e->created_ns = st_db_col_int64(s, 15);
}

int st_cat_exec_get(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset,
                    int64_t iteration, st_cat_execrow *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     EXEC_COLUMNS "FROM execution e WHERE e.run_id = ?1 AND e.dataset = ?2 AND "
                                  "e.iteration = ?3",
                     &s, "read an execution");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, run_id);
    st_db_bind_text(s, 2, dataset);
    st_db_bind_int64(s, 3, iteration);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_exec(s, out);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND
                              : st_cat_db_error(err, cat, rc, "read an execution");
    }
    st_db_finalize(s);
    return rc;
}

int st_cat_exec_next(st_err *err, st_catalog *cat, int64_t run_id, const char *dataset,
                     int64_t iteration, int64_t *next)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "SELECT MIN(iteration) FROM execution WHERE run_id = ?1 AND dataset = ?2 "
                     "AND iteration > ?3",
                     &s, "find the next iteration");
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, run_id);
    st_db_bind_text(s, 2, dataset);
    st_db_bind_int64(s, 3, iteration);
    return one_int(err, cat, s, next, "find the next iteration");
}

int st_cat_save_commit(st_err *err, st_catalog *cat, st_cat_nd *rec, const st_cat_chunk *chunks,
                       const char *const *coords, int n, const strata_attr *attrs, int nattrs,
                       st_cat_execrow *e)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = st_cat_nd_insert(err, cat, rec));
    ST_TRY(rc = st_cat_nd_commit_tx(err, cat, rec->id, 0, rec->dims, rec->ndims, chunks, coords, n,
                                    &rec->version));
    for (int i = 0; i < nattrs; i++) ST_TRY(rc = st_cat_nd_attr_put(err, cat, rec->id, &attrs[i]));
    if (e == NULL) return st_cat_commit(err, cat);
    ST_TRY(rc = prepare(err, cat,
                        "INSERT INTO execution (run_id, dataset, iteration, array_id, tier_id, "
                        "files, bytes, strategy, seconds, nprocs, min, max, mean, std, hist, "
                        "created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                        "?13, ?14, ?15, ?16)",
                        &s, "record an execution"));
    e->array_id = rec->id;
    e->created_ns = st_now_ns();
    st_db_bind_int64(s, 1, e->run_id);
    st_db_bind_text(s, 2, e->dataset);
    st_db_bind_int64(s, 3, e->iteration);
    st_db_bind_int64(s, 4, e->array_id);
    st_db_bind_int64(s, 5, e->tier_id);
    st_db_bind_int64(s, 6, (int64_t)e->files);
    st_db_bind_int64(s, 7, (int64_t)e->bytes);
    st_db_bind_text(s, 8, e->strategy);
    st_db_bind_double(s, 9, e->seconds);
    st_db_bind_int64(s, 10, e->nprocs);
    st_db_bind_double(s, 11, e->min);
    st_db_bind_double(s, 12, e->max);
    st_db_bind_double(s, 13, e->mean);
    st_db_bind_double(s, 14, e->std);
    st_db_bind_blob_copy(s, 15, e->hist, sizeof e->hist);
    st_db_bind_int64(s, 16, e->created_ns);
    ST_TRY(rc = step_final(err, cat, s, "record an execution"));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_io_events(st_err *err, st_catalog *cat, const st_cat_ioev *ev, size_t n)
{
    if (n == 0) return STRATA_OK;
    st_dbstmt *s = NULL;
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n && rc == STRATA_OK; i++) {
        rc = prepare(err, cat,
                     "INSERT INTO io_event (run_id, dataset, iteration, op, strategy, nprocs, "
                     "requests, bytes, seconds, at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                     "?9, ?10)",
                     &s, "record an I/O event");
        if (rc < 0) break;
        st_db_bind_int64(s, 1, ev[i].run_id);
        st_db_bind_text(s, 2, ev[i].dataset);
        st_db_bind_int64(s, 3, ev[i].iteration);
        st_db_bind_text(s, 4, ev[i].op);
        st_db_bind_text(s, 5, ev[i].strategy);
        st_db_bind_int64(s, 6, ev[i].nprocs);
        st_db_bind_int64(s, 7, (int64_t)ev[i].requests);
        st_db_bind_int64(s, 8, (int64_t)ev[i].bytes);
        st_db_bind_double(s, 9, ev[i].seconds);
        st_db_bind_int64(s, 10, ev[i].at_ns);
        rc = step_final(err, cat, s, "record an I/O event");
    }
    if (rc == STRATA_OK) return st_cat_commit(err, cat);
    st_cat_rollback(cat);
    return rc;
}

/* ---- conditions ------------------------------------------------------------------------------
 * A run condition reaches the catalog as SQL already (st_cat_where, written by src/mdms from the
 * tree src/expr parsed): the column expressions of st_cat_where_names(), operators, parentheses
 * and parameters. Here it is only placed in a query and its values bound. */

/* Bind W's values to ?2, ?3 ... of S (?1 is the region). */
static void bind_all(st_dbstmt *s, const st_cat_where *w)
{
    for (size_t i = 0; i < w->nvals; i++) {
        const st_cat_value *b = &w->vals[i];
        int k = (int)i + 2;
        if (b->type == STRATA_ATTR_INT)
            st_db_bind_int64(s, k, b->i);
        else if (b->type == STRATA_ATTR_FLOAT)
            st_db_bind_double(s, k, b->f);
        else
            st_db_bind_text(s, k, b->s);
    }
}

static const char *const run_builtin[][2] = {
    {"run", "r.id"},        {"user", "r.user"},          {"status", "r.status"},
    {"nprocs", "r.nprocs"}, {"started", "r.started_ns"}, {"ended", "r.ended_ns"},
};
static const char *const exec_builtin[][2] = {
    {"dataset", "e.dataset"}, {"iteration", "e.iteration"}, {"min", "e.min"},
    {"max", "e.max"},         {"mean", "e.mean"},           {"std", "e.std"},
    {"bytes", "e.bytes"},     {"strategy", "e.strategy"},   {"seconds", "e.seconds"},
};

int st_cat_where_names(st_err *err, const st_vec *schema, int exec, st_cat_where_name **out,
                       size_t *n)
{
    size_t nr = sizeof run_builtin / sizeof run_builtin[0];
    size_t ne = exec ? sizeof exec_builtin / sizeof exec_builtin[0] : 0;
    st_cat_where_name *v = calloc(nr + ne + schema->n + 1, sizeof *v);
    if (v == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < schema->n; i++, k++) {
        const st_cat_attr_def *d = &((const st_cat_attr_def *)schema->v)[i];
        snprintf(v[k].name, sizeof v[k].name, "%s", d->name);
        snprintf(v[k].sql, sizeof v[k].sql, "a.\"%s\"", d->name);
    }
    for (size_t i = 0; i < nr; i++, k++) {
        snprintf(v[k].name, sizeof v[k].name, "%s", run_builtin[i][0]);
        snprintf(v[k].sql, sizeof v[k].sql, "%s", run_builtin[i][1]);
    }
    for (size_t i = 0; i < ne; i++, k++) {
        snprintf(v[k].name, sizeof v[k].name, "%s", exec_builtin[i][0]);
        snprintf(v[k].sql, sizeof v[k].sql, "%s", exec_builtin[i][1]);
    }
    *out = v;
    *n = k;
    return STRATA_OK;
}

/* The attribute columns of the current row, from column FIRST on, into ATTRS. */
static void read_attrs(st_dbstmt *s, int first, const st_vec *schema, strata_attr *attrs)
{
    for (size_t i = 0; i < schema->n; i++) {
        const st_cat_attr_def *d = &((const st_cat_attr_def *)schema->v)[i];
        strata_attr *a = &attrs[i];
        int col = first + (int)i;
        memset(a, 0, sizeof *a);
        a->name = d->name;
        if (st_db_col_null(s, col)) {
            a->type = (strata_attr_type)-1;
            continue;
        }
        a->type = (strata_attr_type)d->type;
        a->i = st_db_col_int64(s, col);
        a->f = st_db_col_double(s, col);
        a->s = (const char *)st_db_col_text(s, col);
    }
}

/* SELECT HEAD, a."x", a."y" ... FROM FROM_SQL WHERE r.region_id = ?1 AND (COND) TAIL, with
 * W's values bound (COND is W's SQL, or that and more). */
static int query(st_err *err, st_catalog *cat, int64_t region_id, const char *head,
                 const char *from, const char *cond, const char *tail, const st_vec *schema,
                 const st_cat_where *w, st_dbstmt **out)
{
    size_t cap = strlen(head) + strlen(from) + strlen(cond) + strlen(tail) + 256 +
                 schema->n * (ST_ATTR_NAME + 8);
    char *sql = malloc(cap);
    if (sql == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    size_t len = (size_t)snprintf(sql, cap, "SELECT %s", head);
    for (size_t i = 0; i < schema->n; i++)
        len += (size_t)snprintf(sql + len, cap - len, ", a.\"%s\"",
                                ((const st_cat_attr_def *)schema->v)[i].name);
    snprintf(sql + len, cap - len,
             " FROM %s LEFT JOIN run_attr_%" PRId64
             " a ON a.run_id = r.id WHERE r.region_id = ?1 AND (%s) %s",
             from, region_id, cond, tail);
    int rc = prepare(err, cat, sql, out, "run a query");
    free(sql);
    if (rc < 0) return rc;
    st_db_bind_int64(*out, 1, region_id);
    bind_all(*out, w);
    return STRATA_OK;
}

#define RUN_HEAD "r.id, r.user, r.host, r.status, r.started_ns, r.ended_ns, r.nprocs"

/* The run schema of REGION_ID (its name APP) into SCHEMA. */
static int app_schema(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                      st_vec *schema)
{
    int rc = st_cat_app_schema(err, cat, region_id, schema);
    if (rc == STRATA_ENOTFOUND)
        return st_error(err, rc,
                        "'%s' is not a registered application; register it with "
                        "strata app register",
                        app);
    return rc;
}

int st_cat_runs(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                const st_cat_where *where, int (*fn)(void *ctx, const strata_run_info *r),
                void *ctx)
{
    st_vec schema = ST_VEC(st_cat_attr_def);
    st_dbstmt *s = NULL;
    strata_attr *attrs = NULL;
    int rc = app_schema(err, cat, region_id, app, &schema);
    ST_TRY(rc);
    ST_TRY(rc = query(err, cat, region_id, RUN_HEAD, "run r", where->sql, "ORDER BY r.id DESC",
                      &schema, where, &s));
    if ((attrs = calloc(schema.n + 1, sizeof *attrs)) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    while (rc == STRATA_OK) {
        int step = st_db_step(s);
        if (step == ST_DB_DONE) break;
        if (step != ST_DB_ROW) {
            rc = st_cat_db_error(err, cat, step, "run a query");
            break;
        }
        strata_run_info r = {0};
        r.id = st_db_col_int64(s, 0);
        r.app = app;
        r.user = (const char *)st_db_col_text(s, 1);
        r.host = (const char *)st_db_col_text(s, 2);
        r.status = (const char *)st_db_col_text(s, 3);
        r.started_ns = st_db_col_int64(s, 4);
        r.ended_ns = st_db_col_int64(s, 5);
        r.nprocs = st_db_col_int(s, 6);
        read_attrs(s, 7, &schema, attrs);
        r.attrs = attrs;
        r.nattrs = (int)schema.n;
        rc = fn(ctx, &r);
    }
done:
    st_db_finalize(s);
    free(attrs);
    st_vec_free(&schema);
    return rc;
}

int st_cat_run_latest(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                      const st_cat_where *where, int64_t *run_id)
{
    st_vec schema = ST_VEC(st_cat_attr_def);
    st_dbstmt *s = NULL;
    int rc = app_schema(err, cat, region_id, app, &schema);
    st_vec none = ST_VEC(st_cat_attr_def);
    ST_TRY(rc);
    ST_TRY(rc = query(err, cat, region_id, "MAX(r.id)", "run r", where->sql, "", &none, where, &s));
    rc = one_int(err, cat, s, run_id, "run a query");
done:
    st_vec_free(&schema);
    return rc;
}

/* The execution row at S's cursor (the columns of st_cat_find()'s query) as the public view X,
 * whose strings point into S. */
static void exec_info_of(st_dbstmt *s, const char *app, strata_exec_info *x)
{
    static const char *const layouts[] = {"chunked", "row-major", "column-major"};
    st_cat_execrow e;
    read_exec(s, &e);
    memset(x, 0, sizeof *x);
    x->run = e.run_id;
    x->iteration = e.iteration;
    x->app = app;
    x->dataset = (const char *)st_db_col_text(s, 1);
    x->array = (const char *)st_db_col_text(s, 16);
    x->dtype = (strata_dtype)st_db_col_int(s, 17);
    x->ndims = st_db_col_int(s, 18);
    st_cat_dims_parse((const char *)st_db_col_text(s, 19), x->dims, ST_ND_MAXDIMS);
    int lay = st_db_col_int(s, 20);
    x->layout = lay >= 0 && lay <= 2 ? layouts[lay] : "?";
    x->tier = (const char *)st_db_col_text(s, 21);
    x->strategy = (const char *)st_db_col_text(s, 7);
    x->bytes = e.bytes;
    x->files = e.files;
    x->seconds = e.seconds;
    x->nprocs = e.nprocs;
    x->min = e.min;
    x->max = e.max;
    x->mean = e.mean;
    x->std = e.std;
    memcpy(x->hist, e.hist, sizeof x->hist);
    x->created_ns = e.created_ns;
}

int st_cat_find(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                const char *dataset, const st_cat_where *where,
                int (*fn)(void *ctx, const strata_exec_info *e), void *ctx)
{
    st_vec schema = ST_VEC(st_cat_attr_def);
    char *full = NULL;
    st_dbstmt *s = NULL;
    const char *cond = where->sql;
    int rc = app_schema(err, cat, region_id, app, &schema);
    ST_TRY(rc);
    if (dataset != NULL) {
        /* the dataset is one more bound value, after the condition's */
        if ((full = malloc(strlen(cond) + 64)) == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        sprintf(full, "(%s) AND e.dataset = ?%d", cond, (int)where->nvals + 2);
    }
    ST_TRY(rc = query(err, cat, region_id,
                      "e.run_id, e.dataset, e.iteration, e.array_id, e.tier_id, e.files, "
                      "e.bytes, e.strategy, e.seconds, e.nprocs, e.min, e.max, e.mean, e.std, "
                      "e.hist, e.created_ns, n.name, n.dtype, n.ndims, n.dims, n.layout, t.name",
                      "execution e JOIN run r ON r.id = e.run_id JOIN ndarray n ON n.id = "
                      "e.array_id JOIN tier t ON t.id = e.tier_id",
                      full ? full : cond, "ORDER BY e.run_id, e.dataset, e.iteration", &schema,
                      where, &s));
    if (dataset != NULL) st_db_bind_text(s, (int)where->nvals + 2, dataset);
    while (rc == STRATA_OK) {
        int step = st_db_step(s);
        if (step == ST_DB_DONE) break;
        if (step != ST_DB_ROW) {
            rc = st_cat_db_error(err, cat, step, "run a query");
            break;
        }
        strata_exec_info x;
        exec_info_of(s, app, &x);
        rc = fn(ctx, &x);
    }
done:
    st_db_finalize(s);
    free(full);
    st_vec_free(&schema);
    return rc;
}

int st_cat_tool_put(st_err *err, st_catalog *cat, const char *name, const char *kind,
                    const char *command)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat,
                     "INSERT INTO tool (name, kind, command, created_ns) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, command = "
                     "excluded.command, created_ns = excluded.created_ns",
                     &s, "register a tool");
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, name);
    st_db_bind_text(s, 2, kind);
    st_db_bind_text(s, 3, command);
    st_db_bind_int64(s, 4, st_now_ns());
    return step_final(err, cat, s, "register a tool");
}

int st_cat_tool_list(st_err *err, st_catalog *cat,
                     int (*fn)(void *ctx, const char *name, const char *kind, const char *command),
                     void *ctx)
{
    st_dbstmt *s = NULL;
    int rc =
        prepare(err, cat, "SELECT name, kind, command FROM tool ORDER BY name", &s, "list tools");
    while (rc == STRATA_OK) {
        int step = st_db_step(s);
        if (step == ST_DB_DONE) break;
        if (step != ST_DB_ROW) {
            rc = st_cat_db_error(err, cat, step, "list tools");
            break;
        }
        rc = fn(ctx, (const char *)st_db_col_text(s, 0), (const char *)st_db_col_text(s, 1),
                (const char *)st_db_col_text(s, 2));
    }
    st_db_finalize(s);
    return rc;
}
