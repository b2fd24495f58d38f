/*
 * catalog_nd.c -- storage tiers, N-d arrays, their chunks and the staged copies of chunks.
 *
 * A chunk row names the one recorded place of a chunk's data: a tier and a file in the array's
 * directory on that tier. A write replaces chunk rows in one transaction (copy-on-write), a
 * migration switches one row's tier and file, staging adds a second, disposable copy on a fast
 * tier. Shapes are stored as text ("0,5000,5000"): readable in the sqlite3 shell, and never on a
 * hot path (an array's record is read once per open or write).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"

enum {
    N_TIER_INSERT = ST_CAT_ND_FIRST,
    N_TIER_GET,
    N_TIER_GET_ID,
    N_TIER_LIST,
    N_TIER_HOME,
    N_TIER_STAGED,
    N_TIER_ARRAYS,
    N_TIER_DROP_STAGED,
    N_TIER_DELETE,
    N_ND_INSERT,
    N_ND_GET,
    N_ND_LIST,
    N_ND_DEL_STAGED,
    N_ND_DEL_CHUNKS,
    N_ND_DELETE,
    N_ND_DEL_REGION,
    N_CHUNKS,
    N_VERSION,
    N_SET_SHAPE,
    N_CHUNK_PUT,
    N_STAGED_DEL_IDX,
    N_CHUNK_MOVE,
    N_STAGED_SET,
    N_STAGED_DROP,
    N_STAGED_LIST,
    N_STAGED_LIST_ALL,
    N_FILES,
    N_SET_TIER,
    N_TIER_SET,
    N_ATTR_PUT,
    N_ATTR_DEL,
    N_ATTR_LIST,
    N_ND_DEL_ATTRS,
    N_ND_NAMES,
    N_END
};
_Static_assert(N_END <= ST_CAT_SUMMARY_FIRST, "too many N-d statements");

#define TIER_COLUMNS                                                                               \
    "SELECT id, name, path, kind, capacity, read_bw, latency, created_ns FROM tier "
#define ND_COLUMNS                                                                                 \
    "SELECT n.id, n.region_id, r.name, r.dir, n.name, n.dir, n.dtype, n.ndims, n.dims, n.chunk, "  \
    "n.layout, n.unlimited, n.zstd, n.fill, n.tier_id, n.version, n.created_ns FROM ndarray n "    \
    "JOIN region r ON r.id = n.region_id "
#define STAGED_COLUMNS                                                                             \
    "SELECT s.array_id, s.idx, s.tier_id, r.dir, n.dir, s.file, s.bytes, s.staged_ns FROM "        \
    "ndstaged s JOIN ndarray n ON n.id = s.array_id JOIN region r ON r.id = n.region_id "

static const char *const sql[] = {
    [N_TIER_INSERT - N_TIER_INSERT] =
        "INSERT INTO tier (name, path, kind, capacity, read_bw, latency, created_ns) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [N_TIER_GET - N_TIER_INSERT] = TIER_COLUMNS "WHERE name = ?1",
    [N_TIER_GET_ID - N_TIER_INSERT] = TIER_COLUMNS "WHERE id = ?1",
    [N_TIER_LIST - N_TIER_INSERT] = TIER_COLUMNS "ORDER BY id != 1, name",
    [N_TIER_HOME - N_TIER_INSERT] =
        "SELECT COALESCE(SUM(b), 0), COUNT(*) FROM (SELECT bytes AS b FROM ndchunk WHERE "
        "tier_id = ?1 UNION ALL SELECT COALESCE(stored, bytes) FROM batch_column WHERE "
        "tier_id = ?1) AS home",
    [N_TIER_STAGED - N_TIER_INSERT] =
        "SELECT COALESCE(SUM(bytes), 0), COUNT(*) FROM ndstaged WHERE tier_id = ?1",
    [N_TIER_ARRAYS - N_TIER_INSERT] = "SELECT COUNT(*) FROM ndarray WHERE tier_id = ?1",
    [N_TIER_DROP_STAGED - N_TIER_INSERT] = "DELETE FROM ndstaged WHERE tier_id = ?1",
    [N_TIER_DELETE - N_TIER_INSERT] = "DELETE FROM tier WHERE id = ?1",
    [N_TIER_SET - N_TIER_INSERT] =
        "UPDATE tier SET capacity = ?2, read_bw = ?3, latency = ?4 WHERE id = ?1",
    [N_ND_INSERT - N_TIER_INSERT] =
        "INSERT INTO ndarray (region_id, name, dir, dtype, ndims, dims, chunk, layout, unlimited, "
        "zstd, fill, tier_id, version, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, 0, ?13)",
    [N_ND_GET - N_TIER_INSERT] = ND_COLUMNS "WHERE r.name = ?1 AND n.name = ?2",
    [N_ND_LIST - N_TIER_INSERT] = ND_COLUMNS "WHERE n.region_id = ?1 ORDER BY n.name",
    [N_ND_DEL_STAGED - N_TIER_INSERT] = "DELETE FROM ndstaged WHERE array_id = ?1",
    [N_ND_DEL_CHUNKS - N_TIER_INSERT] = "DELETE FROM ndchunk WHERE array_id = ?1",
    [N_ND_DELETE - N_TIER_INSERT] = "DELETE FROM ndarray WHERE id = ?1",
    [N_ND_DEL_REGION - N_TIER_INSERT] = "SELECT id FROM ndarray WHERE region_id = ?1",
    [N_CHUNKS - N_TIER_INSERT] =
        "SELECT c.idx, c.tier_id, c.file, c.bytes, c.checksum, c.min, c.max, c.version, "
        "s.tier_id, s.file, s.bytes FROM ndchunk c LEFT JOIN ndstaged s ON s.array_id = "
        "c.array_id AND s.idx = c.idx WHERE c.array_id = ?1 AND c.idx BETWEEN ?2 AND ?3 ORDER "
        "BY c.idx",
    [N_VERSION - N_TIER_INSERT] = "SELECT version FROM ndarray WHERE id = ?1",
    [N_SET_SHAPE - N_TIER_INSERT] = "UPDATE ndarray SET dims = ?2, version = ?3 WHERE id = ?1",
    [N_CHUNK_PUT - N_TIER_INSERT] =
        "INSERT INTO ndchunk (array_id, idx, coords, tier_id, file, bytes, checksum, min, max, "
        "version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (array_id, idx) DO "
        "UPDATE SET coords = excluded.coords, tier_id = excluded.tier_id, file = excluded.file, "
        "bytes = excluded.bytes, checksum = excluded.checksum, min = excluded.min, max = "
        "excluded.max, version = excluded.version",
    [N_STAGED_DEL_IDX - N_TIER_INSERT] = "DELETE FROM ndstaged WHERE array_id = ?1 AND idx = ?2",
    [N_CHUNK_MOVE - N_TIER_INSERT] =
        "UPDATE ndchunk SET tier_id = ?4, file = ?5, bytes = ?6 WHERE array_id = ?1 AND idx = ?2 "
        "AND file = ?3",
    [N_STAGED_SET - N_TIER_INSERT] =
        "INSERT INTO ndstaged (array_id, idx, tier_id, file, bytes, staged_ns) SELECT ?1, ?2, ?4, "
        "?5, ?6, ?7 FROM ndchunk WHERE array_id = ?1 AND idx = ?2 AND file = ?3 ON CONFLICT "
        "(array_id, idx) DO UPDATE SET tier_id = excluded.tier_id, file = excluded.file, bytes = "
        "excluded.bytes, staged_ns = excluded.staged_ns",
    [N_STAGED_DROP - N_TIER_INSERT] =
        "DELETE FROM ndstaged WHERE array_id = ?1 AND idx = ?2 AND file = ?3",
    [N_STAGED_LIST - N_TIER_INSERT] = STAGED_COLUMNS "WHERE s.tier_id = ?1 ORDER BY s.staged_ns",
    [N_STAGED_LIST_ALL - N_TIER_INSERT] = STAGED_COLUMNS "ORDER BY s.staged_ns",
    [N_SET_TIER - N_TIER_INSERT] = "UPDATE ndarray SET tier_id = ?2 WHERE id = ?1",
    [N_FILES - N_TIER_INSERT] = "SELECT tier_id, file, 0 FROM ndchunk WHERE array_id = ?1 UNION "
                                "ALL SELECT tier_id, file, 1 FROM ndstaged WHERE array_id = ?1",
    [N_ATTR_PUT - N_TIER_INSERT] =
        "INSERT INTO ndattr (array_id, name, type, value) VALUES (?1, ?2, ?3, ?4) ON CONFLICT "
        "(array_id, name) DO UPDATE SET type = excluded.type, value = excluded.value",
    [N_ATTR_DEL - N_TIER_INSERT] = "DELETE FROM ndattr WHERE array_id = ?1 AND name = ?2",
    [N_ATTR_LIST - N_TIER_INSERT] =
        "SELECT name, type, value FROM ndattr WHERE array_id = ?1 ORDER BY name",
    [N_ND_DEL_ATTRS - N_TIER_INSERT] = "DELETE FROM ndattr WHERE array_id = ?1",
    [N_ND_NAMES - N_TIER_INSERT] = "SELECT r.name, n.name FROM ndarray n JOIN region r ON r.id = "
                                   "n.region_id WHERE n.id = ?1",
};

static int prep(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, sql[q - N_TIER_INSERT], out);
}

/* Inside a write transaction (the write lock held): array ID's manifest gone before the change
 * commits (catalog_ndm.c). */
static int drop_manifest(st_err *err, st_catalog *cat, int64_t id)
{
    if (cat->loc.pg) return STRATA_OK;
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ND_NAMES, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        st_cat_text(region, sizeof region, s, 0);
        st_cat_text(name, sizeof name, s, 1);
        rc = STRATA_OK;
    } else {
        rc = rc == ST_DB_DONE ? STRATA_ENOTFOUND : st_cat_db_error(err, cat, rc, "name an array");
    }
    st_cat_done(s);
    if (rc == STRATA_ENOTFOUND) return STRATA_OK; /* no array, no manifest */
    return rc < 0 ? rc : st_cat_ndm_drop(err, cat, region, name);
}

void st_cat_dims_format(char *out, size_t cap, const uint64_t *dims, int n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%" PRIu64, i ? "," : "", dims[i]);
}

int st_cat_dims_parse(const char *text, uint64_t *dims, int max)
{
    int n = 0;
    const char *p = text;
    while (*p && n < max) {
        char *end;
        dims[n++] = strtoull(p, &end, 10);
        if (end == p) return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* ---- tiers ---------------------------------------------------------------------------------- */

static void read_tier(st_dbstmt *s, st_cat_tier *t)
{
    t->id = st_db_col_int64(s, 0);
    st_cat_text(t->name, sizeof t->name, s, 1);
    st_cat_text(t->path, sizeof t->path, s, 2);
    t->kind = st_db_col_int(s, 3);
    t->capacity = (uint64_t)st_db_col_int64(s, 4);
    t->read_bw = st_db_col_double(s, 5);
    t->latency = st_db_col_double(s, 6);
    t->created_ns = st_db_col_int64(s, 7);
}

int st_cat_tier_insert(st_err *err, st_catalog *cat, st_cat_tier *t)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_TIER_INSERT, &s);
    if (rc < 0) return rc;
    t->created_ns = st_now_ns();
    st_db_bind_text(s, 1, t->name);
    st_db_bind_text(s, 2, t->path);
    st_db_bind_int64(s, 3, t->kind);
    st_db_bind_int64(s, 4, (int64_t)t->capacity);
    st_db_bind_double(s, 5, t->read_bw);
    st_db_bind_double(s, 6, t->latency);
    st_db_bind_int64(s, 7, t->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert a tier");
    if (rc == STRATA_EEXIST)
        return st_error(err, rc, "tier '%s' already exists, or another tier uses '%s'", t->name,
                        t->path);
    if (rc == STRATA_OK) t->id = st_db_last_id(cat->db);
    return rc;
}

static int tier_one(st_err *err, st_catalog *cat, st_dbstmt *s, const char *what, st_cat_tier *out)
{
    int rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_tier(s, out);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = st_error(err, STRATA_ENOTFOUND, "tier %s not found (see 'strata tier ls')", what);
    } else {
        rc = st_cat_db_error(err, cat, rc, "read a tier");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_tier_get(st_err *err, st_catalog *cat, const char *name, st_cat_tier *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_TIER_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, name);
    char what[STRATA_NAME_MAX + 3];
    snprintf(what, sizeof what, "'%s'", name);
    return tier_one(err, cat, s, what, out);
}

int st_cat_tier_get_id(st_err *err, st_catalog *cat, int64_t id, st_cat_tier *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_TIER_GET_ID, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    char what[32];
    snprintf(what, sizeof what, "#%" PRId64, id);
    return tier_one(err, cat, s, what, out);
}

int st_cat_tier_list(st_err *err, st_catalog *cat, int (*fn)(void *ctx, const st_cat_tier *t),
                     void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_TIER_LIST, &s);
    if (rc < 0) return rc;
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_tier t;
        read_tier(s, &t);
        if ((stop = fn(ctx, &t)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "list tiers");
    st_cat_done(s);
    return stop;
}

/* Run a one-row query of up to two integers about ID. */
static int ints(st_err *err, st_catalog *cat, int q, int64_t id, int64_t *a, int64_t *b)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, q, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        *a = st_db_col_int64(s, 0);
        if (b != NULL) *b = st_db_col_int64(s, 1);
        rc = STRATA_OK;
    } else {
        rc = st_cat_db_error(err, cat, rc, "measure a tier");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_tier_usage(st_err *err, st_catalog *cat, int64_t id, st_cat_usage *out)
{
    int64_t v[5] = {0};
    int rc = ints(err, cat, N_TIER_HOME, id, &v[0], &v[1]);
    ST_TRY(rc);
    ST_TRY(rc = ints(err, cat, N_TIER_STAGED, id, &v[2], &v[3]));
    ST_TRY(rc = ints(err, cat, N_TIER_ARRAYS, id, &v[4], NULL));
done:
    out->home_bytes = (uint64_t)v[0];
    out->home_files = (uint64_t)v[1];
    out->staged_bytes = (uint64_t)v[2];
    out->staged_files = (uint64_t)v[3];
    out->arrays = (uint64_t)v[4];
    return rc;
}

/* Run statement Q binding ID (and IDX when >= 0) with no result rows. */
static int exec_id(st_err *err, st_catalog *cat, int q, int64_t id, int64_t idx, const char *doing)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, q, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    if (idx >= 0) st_db_bind_int64(s, 2, idx);
    return st_cat_step_done(err, cat, s, doing);
}

int st_cat_tier_delete(st_err *err, st_catalog *cat, int64_t id)
{
    int rc = exec_id(err, cat, N_TIER_DROP_STAGED, id, -1, "forget staged copies");
    if (rc == STRATA_OK) rc = exec_id(err, cat, N_TIER_DELETE, id, -1, "delete a tier");
    if (rc == STRATA_ECONFLICT) rc = st_error(err, rc, "data still lives on the tier");
    return rc;
}

int st_cat_tier_set(st_err *err, st_catalog *cat, const st_cat_tier *t)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_TIER_SET, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, t->id);
    st_db_bind_int64(s, 2, (int64_t)t->capacity);
    st_db_bind_double(s, 3, t->read_bw);
    st_db_bind_double(s, 4, t->latency);
    return st_cat_step_done(err, cat, s, "update a tier");
}

/* ---- arrays --------------------------------------------------------------------------------- */

static void read_nd(st_dbstmt *s, st_cat_nd *n)
{
    memset(n, 0, sizeof *n);
    n->id = st_db_col_int64(s, 0);
    n->region_id = st_db_col_int64(s, 1);
    st_cat_text(n->region, sizeof n->region, s, 2);
    st_cat_text(n->region_dir, sizeof n->region_dir, s, 3);
    st_cat_text(n->name, sizeof n->name, s, 4);
    st_cat_text(n->dir, sizeof n->dir, s, 5);
    n->dtype = st_db_col_int(s, 6);
    n->ndims = st_db_col_int(s, 7);
    const char *t = (const char *)st_db_col_text(s, 8);
    if (t != NULL) st_cat_dims_parse(t, n->dims, ST_ND_MAXDIMS);
    t = (const char *)st_db_col_text(s, 9);
    if (t != NULL) st_cat_dims_parse(t, n->chunk, ST_ND_MAXDIMS);
    n->layout = st_db_col_int(s, 10);
    n->unlimited = st_db_col_int(s, 11);
    n->zstd = st_db_col_int(s, 12);
    int fl = st_db_col_bytes(s, 13);
    const void *f = st_db_col_blob(s, 13);
    if (f != NULL) memcpy(n->fill, f, fl < 8 ? (size_t)fl : 8);
    n->tier_id = st_db_col_int64(s, 14);
    n->version = st_db_col_int64(s, 15);
    n->created_ns = st_db_col_int64(s, 16);
}

int st_cat_nd_insert(st_err *err, st_catalog *cat, st_cat_nd *nd)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ND_INSERT, &s);
    if (rc < 0) return rc;
    char dims[ST_ND_MAXDIMS * 21], chunk[ST_ND_MAXDIMS * 21];
    st_cat_dims_format(dims, sizeof dims, nd->dims, nd->ndims);
    st_cat_dims_format(chunk, sizeof chunk, nd->chunk, nd->ndims);
    nd->created_ns = st_now_ns();
    st_db_bind_int64(s, 1, nd->region_id);
    st_db_bind_text(s, 2, nd->name);
    st_db_bind_text(s, 3, nd->dir);
    st_db_bind_int64(s, 4, nd->dtype);
    st_db_bind_int64(s, 5, nd->ndims);
    st_db_bind_text(s, 6, dims);
    st_db_bind_text(s, 7, chunk);
    st_db_bind_int64(s, 8, nd->layout);
    st_db_bind_int64(s, 9, nd->unlimited);
    st_db_bind_int64(s, 10, nd->zstd);
    st_db_bind_blob_copy(s, 11, nd->fill, sizeof nd->fill);
    st_db_bind_int64(s, 12, nd->tier_id);
    st_db_bind_int64(s, 13, nd->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert an N-d array");
    if (rc == STRATA_EEXIST)
        return st_error(err, rc, "N-d array '%s/%s' already exists", nd->region, nd->name);
    if (rc == STRATA_ECONFLICT)
        return st_error(err, rc, "region '%s' or the tier was removed meanwhile", nd->region);
    if (rc == STRATA_OK) nd->id = st_db_last_id(cat->db);
    return rc;
}

int st_cat_nd_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                  st_cat_nd *out)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ND_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, region);
    st_db_bind_text(s, 2, name);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_nd(s, out);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = st_error(err, STRATA_ENOTFOUND, "N-d array '%s/%s' not found (see 'strata nd ls %s')",
                      region, name, region);
    } else {
        rc = st_cat_db_error(err, cat, rc, "read an N-d array");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_nd_list(st_err *err, st_catalog *cat, int64_t region_id,
                   int (*fn)(void *ctx, const st_cat_nd *nd), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ND_LIST, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_nd n;
        read_nd(s, &n);
        if ((stop = fn(ctx, &n)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "list N-d arrays");
    st_cat_done(s);
    return stop;
}

int st_cat_nd_delete(st_err *err, st_catalog *cat, int64_t id)
{
    int rc = drop_manifest(err, cat, id);
    ST_TRY(rc);
    ST_TRY(rc = st_cat_summary_drop(err, cat, ST_SUMMARY_REGION, id));
    ST_TRY(rc = exec_id(err, cat, N_ND_DEL_STAGED, id, -1, "delete staged copies"));
    ST_TRY(rc = exec_id(err, cat, N_ND_DEL_CHUNKS, id, -1, "delete chunks"));
    ST_TRY(rc = exec_id(err, cat, N_ND_DEL_ATTRS, id, -1, "delete attributes"));
    rc = exec_id(err, cat, N_ND_DELETE, id, -1, "delete an N-d array");
done:
    return rc;
}

int st_cat_nd_delete_region(st_err *err, st_catalog *cat, int64_t region_id)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ND_DEL_REGION, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    int64_t ids[64];
    int n = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW && n < 64) ids[n++] = st_db_col_int64(s, 0);
    int more = rc == ST_DB_ROW;
    rc = rc == ST_DB_ROW || rc == ST_DB_DONE ? STRATA_OK
                                             : st_cat_db_error(err, cat, rc, "list N-d arrays");
    st_cat_done(s);
    for (int i = 0; rc == STRATA_OK && i < n; i++) rc = st_cat_nd_delete(err, cat, ids[i]);
    /* more than 64: the rows deleted above are gone, so the next query finds the rest */
    if (rc == STRATA_OK && more) return st_cat_nd_delete_region(err, cat, region_id);
    return rc;
}

/* ---- attributes ------------------------------------------------------------------------------ */

int st_cat_nd_attr_put(st_err *err, st_catalog *cat, int64_t array_id, const strata_attr *a)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ATTR_PUT, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, array_id);
    st_db_bind_text(s, 2, a->name);
    st_db_bind_int64(s, 3, (int)a->type);
    if (a->type == STRATA_ATTR_INT)
        st_db_bind_int64(s, 4, a->i);
    else if (a->type == STRATA_ATTR_FLOAT)
        st_db_bind_double(s, 4, a->f);
    else
        st_db_bind_text(s, 4, a->s ? a->s : "");
    return st_cat_step_done(err, cat, s, "set an N-d array attribute");
}

int st_cat_nd_attr_delete(st_err *err, st_catalog *cat, int64_t array_id, const char *name)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ATTR_DEL, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, array_id);
    st_db_bind_text(s, 2, name);
    rc = st_cat_step_done(err, cat, s, "delete an N-d array attribute");
    if (rc == STRATA_OK && st_db_changes(cat->db) == 0) return STRATA_ENOTFOUND;
    return rc;
}

int st_cat_nd_attr_list(st_err *err, st_catalog *cat, int64_t array_id,
                        int (*fn)(void *ctx, const strata_attr *a), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_ATTR_LIST, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, array_id);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        strata_attr a = {0};
        a.name = (const char *)st_db_col_text(s, 0);
        a.type = (strata_attr_type)st_db_col_int(s, 1);
        a.i = st_db_col_int64(s, 2);
        a.f = st_db_col_double(s, 2);
        a.s = a.type == STRATA_ATTR_TEXT ? (const char *)st_db_col_text(s, 2) : NULL;
        if ((stop = fn(ctx, &a)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE)
        stop = st_cat_db_error(err, cat, rc, "list N-d array attributes");
    st_cat_done(s);
    return stop;
}

/* ---- chunks --------------------------------------------------------------------------------- */

int st_cat_nd_chunks(st_err *err, st_catalog *cat, int64_t id, int64_t lo, int64_t hi,
                     int (*fn)(void *ctx, const st_cat_chunk *c), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_CHUNKS, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, lo);
    st_db_bind_int64(s, 3, hi);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_chunk c;
        c.idx = st_db_col_int64(s, 0);
        c.tier_id = st_db_col_int64(s, 1);
        st_cat_text(c.file, sizeof c.file, s, 2);
        c.bytes = (uint64_t)st_db_col_int64(s, 3);
        c.checksum = (uint64_t)st_db_col_int64(s, 4);
        c.min = st_db_col_double(s, 5);
        c.max = st_db_col_double(s, 6);
        c.version = st_db_col_int64(s, 7);
        c.staged_tier = st_db_col_int64(s, 8);
        st_cat_text(c.staged_file, sizeof c.staged_file, s, 9);
        c.staged_bytes = (uint64_t)st_db_col_int64(s, 10);
        if ((stop = fn(ctx, &c)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "read chunks");
    st_cat_done(s);
    return stop;
}

int st_cat_nd_commit(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                     const uint64_t *dims, int ndims, const st_cat_chunk *chunks,
                     const char *const *coords, int n, int64_t *new_version)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = st_cat_nd_commit_tx(err, cat, id, expected_version, dims, ndims, chunks, coords, n,
                                    new_version));
    ST_TRY(rc = st_cat_commit(err, cat));
    return STRATA_OK;
done:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_nd_commit_tx(st_err *err, st_catalog *cat, int64_t id, int64_t expected_version,
                        const uint64_t *dims, int ndims, const st_cat_chunk *chunks,
                        const char *const *coords, int n, int64_t *new_version)
{
    st_dbstmt *s = NULL;
    int64_t version = -1;
    int rc;
    ST_TRY(rc = ints(err, cat, N_VERSION, id, &version, NULL));
    if (version != expected_version) {
        rc = st_error(err, STRATA_ECONFLICT,
                      "the array changed meanwhile (version %" PRId64 ", expected %" PRId64 ")",
                      version, expected_version);
        goto done;
    }
    char text[ST_ND_MAXDIMS * 21];
    st_cat_dims_format(text, sizeof text, dims, ndims);
    ST_TRY(rc = prep(err, cat, N_SET_SHAPE, &s));
    st_db_bind_int64(s, 1, id);
    st_db_bind_text(s, 2, text);
    st_db_bind_int64(s, 3, version + 1);
    ST_TRY(rc = st_cat_step_done(err, cat, s, "record the array's shape"));
    for (int i = 0; i < n; i++) {
        const st_cat_chunk *c = &chunks[i];
        ST_TRY(rc = prep(err, cat, N_CHUNK_PUT, &s));
        st_db_bind_int64(s, 1, id);
        st_db_bind_int64(s, 2, c->idx);
        st_db_bind_text(s, 3, coords[i]);
        st_db_bind_int64(s, 4, c->tier_id);
        st_db_bind_text(s, 5, c->file);
        st_db_bind_int64(s, 6, (int64_t)c->bytes);
        st_db_bind_int64(s, 7, (int64_t)c->checksum);
        st_db_bind_double(s, 8, c->min);
        st_db_bind_double(s, 9, c->max);
        st_db_bind_int64(s, 10, version + 1);
        ST_TRY(rc = st_cat_step_done(err, cat, s, "record a chunk"));
        ST_TRY(rc = exec_id(err, cat, N_STAGED_DEL_IDX, id, c->idx, "drop a staged copy"));
    }
    ST_TRY(rc = drop_manifest(err, cat, id));
    if (new_version != NULL) *new_version = version + 1;
done:
    return rc;
}

int st_cat_chunk_move(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *file,
                      int64_t new_tier, const char *new_file, uint64_t new_bytes)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_CHUNK_MOVE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, idx);
    st_db_bind_text(s, 3, file);
    st_db_bind_int64(s, 4, new_tier);
    st_db_bind_text(s, 5, new_file);
    st_db_bind_int64(s, 6, (int64_t)new_bytes);
    if ((rc = st_cat_step_done(err, cat, s, "move a chunk")) < 0) return rc;
    if (st_db_changes(cat->db) != 1)
        return st_error(err, STRATA_ECONFLICT, "chunk %" PRId64 " was rewritten meanwhile", idx);
    rc = exec_id(err, cat, N_STAGED_DEL_IDX, id, idx, "drop a staged copy");
    return rc < 0 ? rc : drop_manifest(err, cat, id);
}

int st_cat_staged_set(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *home_file,
                      int64_t tier_id, const char *file, uint64_t bytes)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_STAGED_SET, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, idx);
    st_db_bind_text(s, 3, home_file);
    st_db_bind_int64(s, 4, tier_id);
    st_db_bind_text(s, 5, file);
    st_db_bind_int64(s, 6, (int64_t)bytes);
    st_db_bind_int64(s, 7, st_now_ns());
    rc = st_cat_step_done(err, cat, s, "record a staged copy");
    if (rc == STRATA_OK && st_db_changes(cat->db) != 1)
        rc = st_error(err, STRATA_ECONFLICT, "chunk %" PRId64 " was rewritten meanwhile", idx);
    return rc;
}

int st_cat_staged_drop(st_err *err, st_catalog *cat, int64_t id, int64_t idx, const char *file)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_STAGED_DROP, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    st_db_bind_int64(s, 2, idx);
    st_db_bind_text(s, 3, file);
    return st_cat_step_done(err, cat, s, "forget a staged copy");
}

int st_cat_staged_list(st_err *err, st_catalog *cat, int64_t tier_id,
                       int (*fn)(void *ctx, const st_cat_staged *s), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, tier_id ? N_STAGED_LIST : N_STAGED_LIST_ALL, &s);
    if (rc < 0) return rc;
    if (tier_id) st_db_bind_int64(s, 1, tier_id);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_staged g;
        g.array_id = st_db_col_int64(s, 0);
        g.idx = st_db_col_int64(s, 1);
        g.tier_id = st_db_col_int64(s, 2);
        st_cat_text(g.region_dir, sizeof g.region_dir, s, 3);
        st_cat_text(g.dir, sizeof g.dir, s, 4);
        st_cat_text(g.file, sizeof g.file, s, 5);
        g.bytes = (uint64_t)st_db_col_int64(s, 6);
        g.staged_ns = st_db_col_int64(s, 7);
        if ((stop = fn(ctx, &g)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "list staged copies");
    st_cat_done(s);
    return stop;
}

int st_cat_nd_files(st_err *err, st_catalog *cat, int64_t id,
                    int (*fn)(void *ctx, int64_t tier_id, const char *file, int staged), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, N_FILES, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        const char *f = (const char *)st_db_col_text(s, 1);
        if ((stop = fn(ctx, st_db_col_int64(s, 0), f ? f : "", st_db_col_int(s, 2))) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "list chunk files");
    st_cat_done(s);
    return stop;
}

int st_cat_nd_set_tier(st_err *err, st_catalog *cat, int64_t id, int64_t tier_id)
{
    int rc = st_cat_begin(err, cat);
    if (rc < 0) return rc;
    ST_TRY(rc = exec_id(err, cat, N_SET_TIER, id, tier_id, "set an array's tier"));
    ST_TRY(rc = drop_manifest(err, cat, id));
    return st_cat_commit(err, cat);
done:
    st_cat_rollback(cat);
    return rc;
}
