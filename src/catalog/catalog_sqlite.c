/*
 * catalog_sqlite.c -- the catalog's schema, connection and core tables, on SQLite (WAL mode) or
 * PostgreSQL (db.h), one connection per pool handle.
 *
 * Every statement is a static string prepared once and cached on the connection; names and
 * values only ever travel as bound parameters. The schema is created by the list of migrations
 * below, applied in order from the catalog's version to ST_CAT_VERSION inside one transaction.
 * docs/catalog.md documents the tables.
 */
#include "catalog/catalog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/vec.h"

/* migrations[v] takes a catalog from version v to v+1. Never edit one that has shipped. */
static const char *const migrations[ST_CAT_VERSION] = {
    /* 0 -> 1: regions, arrays, backups. */
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version (version) VALUES (0);"
    "CREATE TABLE pool ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  format INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL);"
    "CREATE TABLE region ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  dir TEXT NOT NULL UNIQUE,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE TABLE array ("
    "  id INTEGER PRIMARY KEY,"
    "  region_id INTEGER NOT NULL REFERENCES region(id),"
    "  name TEXT NOT NULL,"
    "  dtype INTEGER NOT NULL,"
    "  length INTEGER NOT NULL CHECK (length >= 0),"
    "  file TEXT NOT NULL,"
    "  bytes_file TEXT,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (region_id, name));"
    "CREATE TABLE backup ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  source TEXT NOT NULL,"
    "  dtype INTEGER NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  file TEXT NOT NULL,"
    "  bytes_file TEXT,"
    "  checksum INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL);",
    /* 1 -> 2: datasets made of batches, their versions, per-column statistics and the trash of
     * dropped datasets. */
    "CREATE TABLE dataset ("
    "  id INTEGER PRIMARY KEY,"
    "  region_id INTEGER NOT NULL REFERENCES region(id),"
    "  name TEXT NOT NULL,"
    "  dir TEXT NOT NULL,"
    "  version INTEGER NOT NULL DEFAULT 0,"
    "  next_row INTEGER NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (region_id, name));"
    "CREATE TABLE dataset_column ("
    "  dataset_id INTEGER NOT NULL REFERENCES dataset(id),"
    "  position INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  dtype INTEGER NOT NULL,"
    "  PRIMARY KEY (dataset_id, position),"
    "  UNIQUE (dataset_id, name));"
    "CREATE TABLE dataset_version ("
    "  dataset_id INTEGER NOT NULL REFERENCES dataset(id),"
    "  version INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  batches INTEGER NOT NULL,"
    "  rows INTEGER NOT NULL,"
    "  total_rows INTEGER NOT NULL,"
    "  expired INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (dataset_id, version));"
    "CREATE TABLE batch ("
    "  id INTEGER PRIMARY KEY,"
    "  dataset_id INTEGER NOT NULL REFERENCES dataset(id),"
    "  seq INTEGER NOT NULL,"
    "  first_row INTEGER NOT NULL,"
    "  nrows INTEGER NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  token TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (dataset_id, seq));"
    "CREATE INDEX batch_by_version ON batch (dataset_id, version);"
    "CREATE TABLE batch_column ("
    "  batch_id INTEGER NOT NULL REFERENCES batch(id),"
    "  position INTEGER NOT NULL,"
    "  file TEXT NOT NULL,"
    "  bytes_file TEXT,"
    "  bytes INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  min_i INTEGER, max_i INTEGER, min_f REAL, max_f REAL,"
    "  PRIMARY KEY (batch_id, position));"
    "CREATE TABLE trash ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  dataset_id INTEGER NOT NULL,"
    "  created_ns INTEGER NOT NULL);",
    /* 2 -> 3: derived data. Columns get a kind (base, written by a derivation's index, or a
     * derived column); batches can be retired by a refresh; a batch column can be written later
     * than its batch (a derived column) and rewritten (a version per write); derivations record
     * operation, arguments, source and what was consumed. */
    "ALTER TABLE dataset_column ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE batch ADD COLUMN retired INTEGER;"
    "CREATE TABLE batch_column_v3 ("
    "  batch_id INTEGER NOT NULL REFERENCES batch(id),"
    "  position INTEGER NOT NULL,"
    "  version INTEGER NOT NULL DEFAULT 0,"
    "  file TEXT NOT NULL,"
    "  bytes_file TEXT,"
    "  bytes INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  min_i INTEGER, max_i INTEGER, min_f REAL, max_f REAL,"
    "  PRIMARY KEY (batch_id, position, version));"
    "INSERT INTO batch_column_v3 (batch_id, position, version, file, bytes_file, bytes, checksum,"
    "  min_i, max_i, min_f, max_f) SELECT batch_id, position, 0, file, bytes_file, bytes,"
    "  checksum, min_i, max_i, min_f, max_f FROM batch_column;"
    "DROP TABLE batch_column;"
    "ALTER TABLE batch_column_v3 RENAME TO batch_column;"
    "CREATE TABLE derivation ("
    "  id INTEGER PRIMARY KEY,"
    "  dataset_id INTEGER NOT NULL REFERENCES dataset(id),"
    "  target TEXT NOT NULL,"
    "  op TEXT NOT NULL,"
    "  args TEXT NOT NULL,"
    "  source_id INTEGER NOT NULL REFERENCES dataset(id),"
    "  source_column TEXT NOT NULL DEFAULT '',"
    "  destroys_order INTEGER NOT NULL,"
    "  consumed INTEGER NOT NULL DEFAULT 0,"
    "  source_seq INTEGER NOT NULL DEFAULT 0,"
    "  source_version INTEGER NOT NULL DEFAULT 0,"
    "  auto INTEGER NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (dataset_id, target));"
    "CREATE INDEX derivation_by_source ON derivation (source_id);",
    /* 3 -> 4: storage tiers, chunked N-d arrays, their chunks and staged copies. */
    "CREATE TABLE tier ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  path TEXT NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL,"
    "  capacity INTEGER NOT NULL DEFAULT 0,"
    "  read_bw REAL NOT NULL DEFAULT 0,"
    "  latency REAL NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL);"
    "INSERT INTO tier (id, name, path, kind, created_ns) VALUES (1, 'default', '', 2, 0);"
    "CREATE TABLE ndarray ("
    "  id INTEGER PRIMARY KEY,"
    "  region_id INTEGER NOT NULL REFERENCES region(id),"
    "  name TEXT NOT NULL,"
    "  dir TEXT NOT NULL,"
    "  dtype INTEGER NOT NULL,"
    "  ndims INTEGER NOT NULL,"
    "  dims TEXT NOT NULL,"
    "  chunk TEXT NOT NULL,"
    "  layout INTEGER NOT NULL,"
    "  unlimited INTEGER NOT NULL,"
    "  zstd INTEGER NOT NULL,"
    "  fill BLOB NOT NULL,"
    "  tier_id INTEGER NOT NULL REFERENCES tier(id),"
    "  version INTEGER NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (region_id, name));"
    "CREATE TABLE ndchunk ("
    "  array_id INTEGER NOT NULL REFERENCES ndarray(id),"
    "  idx INTEGER NOT NULL,"
    "  coords TEXT NOT NULL,"
    "  tier_id INTEGER NOT NULL REFERENCES tier(id),"
    "  file TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  checksum INTEGER NOT NULL,"
    "  min REAL, max REAL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (array_id, idx)) WITHOUT ROWID;"
    "CREATE INDEX ndchunk_by_tier ON ndchunk (tier_id);"
    "CREATE TABLE ndstaged ("
    "  array_id INTEGER NOT NULL REFERENCES ndarray(id),"
    "  idx INTEGER NOT NULL,"
    "  tier_id INTEGER NOT NULL REFERENCES tier(id),"
    "  file TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  staged_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (array_id, idx)) WITHOUT ROWID;"
    "CREATE INDEX ndstaged_by_tier ON ndstaged (tier_id);",
    /* 4 -> 5: a dataset's batch files can move between tiers: each batch column records its
     * tier (1, the default: the dataset directory) and the bytes its files take there. */
    "ALTER TABLE batch_column ADD COLUMN tier_id INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE batch_column ADD COLUMN stored INTEGER;"
    "CREATE INDEX batch_column_by_tier ON batch_column (tier_id);",
    /* 5 -> 6: the MDMS tables: applications (regions with a run schema), runs (each
     * application's attributes live in its own typed table run_attr_<region id>, made when it
     * registers), associations, access and storage patterns, executions (one per saved
     * (run, dataset, iteration)), I/O events and the global tool table. */
    "CREATE TABLE app ("
    "  region_id INTEGER PRIMARY KEY REFERENCES region(id),"
    "  host TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE TABLE app_attr ("
    "  region_id INTEGER NOT NULL REFERENCES app(region_id),"
    "  name TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  pos INTEGER NOT NULL,"
    "  PRIMARY KEY (region_id, name)) WITHOUT ROWID;"
    "CREATE TABLE run ("
    "  id INTEGER PRIMARY KEY,"
    "  region_id INTEGER NOT NULL REFERENCES app(region_id),"
    "  user TEXT NOT NULL,"
    "  host TEXT NOT NULL,"
    "  nprocs INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  started_ns INTEGER NOT NULL,"
    "  ended_ns INTEGER);"
    "CREATE INDEX run_by_app ON run (region_id, started_ns);"
    "CREATE TABLE assoc ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES run(id),"
    "  dtype INTEGER NOT NULL,"
    "  ndims INTEGER NOT NULL,"
    "  dims TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE INDEX assoc_by_run ON assoc (run_id);"
    "CREATE TABLE assoc_dataset ("
    "  assoc_id INTEGER NOT NULL REFERENCES assoc(id),"
    "  dataset TEXT NOT NULL,"
    "  PRIMARY KEY (assoc_id, dataset)) WITHOUT ROWID;"
    "CREATE INDEX assoc_dataset_by_name ON assoc_dataset (dataset);"
    "CREATE TABLE access_pattern ("
    "  run_id INTEGER NOT NULL REFERENCES run(id),"
    "  dataset TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  dist TEXT NOT NULL,"
    "  grid TEXT NOT NULL,"
    "  nprocs INTEGER NOT NULL,"
    "  order_hint TEXT NOT NULL,"
    "  mode TEXT NOT NULL,"
    "  reuse TEXT NOT NULL,"
    "  request INTEGER NOT NULL,"
    "  recorded_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, dataset, purpose)) WITHOUT ROWID;"
    "CREATE TABLE storage_pattern ("
    "  region_id INTEGER NOT NULL REFERENCES app(region_id),"
    "  dataset TEXT NOT NULL,"
    "  layout INTEGER NOT NULL,"
    "  chunk TEXT NOT NULL,"
    "  tier_id INTEGER NOT NULL REFERENCES tier(id),"
    "  zstd INTEGER NOT NULL,"
    "  PRIMARY KEY (region_id, dataset)) WITHOUT ROWID;"
    "CREATE TABLE execution ("
    "  run_id INTEGER NOT NULL REFERENCES run(id),"
    "  dataset TEXT NOT NULL,"
    "  iteration INTEGER NOT NULL,"
    "  array_id INTEGER NOT NULL REFERENCES ndarray(id),"
    "  tier_id INTEGER NOT NULL REFERENCES tier(id),"
    "  files INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  strategy TEXT NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  nprocs INTEGER NOT NULL,"
    "  min REAL, max REAL, mean REAL, std REAL,"
    "  hist BLOB,"
    "  created_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, dataset, iteration)) WITHOUT ROWID;"
    "CREATE INDEX execution_by_dataset ON execution (dataset, iteration);"
    "CREATE INDEX execution_by_max ON execution (max);"
    "CREATE TABLE io_event ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES run(id),"
    "  dataset TEXT NOT NULL,"
    "  iteration INTEGER NOT NULL,"
    "  op TEXT NOT NULL,"
    "  strategy TEXT NOT NULL,"
    "  nprocs INTEGER NOT NULL,"
    "  requests INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  at_ns INTEGER NOT NULL);"
    "CREATE INDEX io_event_by_run ON io_event (run_id, dataset, iteration);"
    "CREATE TABLE tool ("
    "  name TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  command TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL) WITHOUT ROWID;",
    /* 6 -> 7: the statistics cache of strata_snapshot_summary() and strata_ndarray_summary():
     * one row per (dataset column or N-d array rectangle, content), the newest 4096 kept. */
    "CREATE TABLE stats_cache ("
    "  id INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL,"
    "  object_id INTEGER NOT NULL,"
    "  part TEXT NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  nan INTEGER NOT NULL,"
    "  min REAL, max REAL, mean REAL, std REAL,"
    "  hist BLOB NOT NULL,"
    "  seconds REAL NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE (kind, object_id, part, fingerprint));",
    /* 7 -> 8: nullable columns: a batch column with nulls names its validity bitmap file and
     * counts its nulls. */
    "ALTER TABLE batch_column ADD COLUMN valid_file TEXT;"
    "ALTER TABLE batch_column ADD COLUMN nulls INTEGER NOT NULL DEFAULT 0;",
    /* 8 -> 9: attributes of N-d arrays (named, typed values; HDF5 attributes in and out). */
    "CREATE TABLE ndattr ("
    "  array_id INTEGER NOT NULL REFERENCES ndarray(id),"
    "  name TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  value,"
    "  PRIMARY KEY (array_id, name)) WITHOUT ROWID;",
    /* 9 -> 10: sorted datasets as key-range partitions, each a base run and delta runs. */
    "ALTER TABLE batch ADD COLUMN part INTEGER;"
    "ALTER TABLE batch ADD COLUMN run INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE batch ADD COLUMN sort_keys INTEGER NOT NULL DEFAULT 0;",
    /* 10 -> 11: a counter of the changes to a dataset's batches other than new ones (retires,
     * columns computed for existing batches, tier moves, garbage collection): a handle that kept
     * a batch list reads only what is new while it has not moved (catalog_batches.c). */
    "ALTER TABLE dataset ADD COLUMN layout INTEGER NOT NULL DEFAULT 0;",
    /* 11 -> 12: no table: manifests of N-d arrays (catalog_ndm.c), which every change must
     * remove before it commits; a strata that does not know them refuses the catalog instead of
     * writing past them. */
    "UPDATE schema_version SET version = version;",
};

enum {
    Q_VERSION,
    Q_REGION_INSERT,
    Q_REGION_GET,
    Q_REGION_LIST,
    Q_REGION_DELETE_ARRAYS,
    Q_REGION_DELETE,
    Q_ARRAY_INSERT,
    Q_ARRAY_GET,
    Q_ARRAY_LIST,
    Q_ARRAY_DELETE,
    Q_BACKUP_INSERT,
    Q_BACKUP_GET,
    Q_BACKUP_LIST,
    Q_BACKUP_DELETE,
    Q_COUNT
};

_Static_assert(Q_COUNT <= ST_CAT_DATASET_FIRST, "statement slots overlap");

static const char *const queries[Q_COUNT] = {
    [Q_VERSION] = "SELECT version FROM schema_version",
    [Q_REGION_INSERT] = "INSERT INTO region (name, dir, created_ns) VALUES (?1, ?2, ?3)",
    [Q_REGION_GET] = "SELECT id, name, dir, created_ns FROM region WHERE name = ?1",
    [Q_REGION_LIST] = "SELECT id, name, dir, created_ns FROM region ORDER BY name",
    [Q_REGION_DELETE_ARRAYS] = "DELETE FROM array WHERE region_id = ?1",

    [Q_REGION_DELETE] = "DELETE FROM region WHERE id = ?1",
    [Q_ARRAY_INSERT] = "INSERT INTO array (region_id, name, dtype, length, file, bytes_file, "
                       "created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_ARRAY_GET] = "SELECT a.id, a.region_id, r.name, r.dir, a.name, a.dtype, a.length, a.file, "
                    "a.bytes_file, a.created_ns FROM array a JOIN region r ON r.id = a.region_id "
                    "WHERE r.name = ?1 AND a.name = ?2",
    [Q_ARRAY_LIST] = "SELECT a.id, a.region_id, r.name, r.dir, a.name, a.dtype, a.length, a.file, "
                     "a.bytes_file, a.created_ns FROM array a JOIN region r ON r.id = a.region_id "
                     "WHERE a.region_id = ?1 ORDER BY a.name",
    [Q_ARRAY_DELETE] = "DELETE FROM array WHERE id = ?1",
    [Q_BACKUP_INSERT] = "INSERT INTO backup (name, source, dtype, length, file, bytes_file, "
                        "checksum, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_BACKUP_GET] = "SELECT id, name, source, dtype, length, file, bytes_file, checksum, "
                     "created_ns FROM backup WHERE name = ?1",
    [Q_BACKUP_LIST] = "SELECT id, name, source, dtype, length, file, bytes_file, checksum, "
                      "created_ns FROM backup ORDER BY name",
    [Q_BACKUP_DELETE] = "DELETE FROM backup WHERE id = ?1",
};

/* Map a database result to a Strata status, with a message. */
int st_cat_db_error(st_err *err, st_catalog *cat, int rc, const char *doing)
{
    int code;
    const char *hint = "";
    switch ((st_db_rc)rc) {
    case ST_DB_BUSY:
        code = STRATA_ELOCKED;
        hint = "; another process held the catalog longer than the busy timeout";
        break;
    case ST_DB_CORRUPT:
        code = STRATA_ECORRUPT;
        hint = "; the catalog is damaged: restore the pool from a copy";
        break;
    case ST_DB_FULL:
        code = STRATA_ENOSPC;
        break;
    case ST_DB_READONLY:
    case ST_DB_PERM:
        code = STRATA_EPERM;
        break;
    case ST_DB_UNIQUE:
        code = STRATA_EEXIST; /* a unique name taken */
        break;
    case ST_DB_FOREIGN: /* a region deleted by another process meanwhile */
        code = STRATA_ECONFLICT;
        hint = "; its region was deleted meanwhile";
        break;
    case ST_DB_NOMEM:
        code = STRATA_ENOMEM;
        break;
    case ST_DB_CONN:
        code = STRATA_EIO;
        hint = "; is the catalog's PostgreSQL server running and reachable?";
        break;
    default:
        code = STRATA_EIO;
    }
    st_db *db = cat != NULL ? cat->db : NULL;
    /* What the file system said, when SQLite reports a refusal that was really a failed system
     * call: a disk that is full or failing is no permission problem. */
    int sys = st_db_sys_errno(db);
    char syshint[160] = "";
    if (code == STRATA_EPERM || code == STRATA_EIO) {
        if (sys == ENOSPC || sys == EDQUOT) code = STRATA_ENOSPC;
        if (sys == EIO) code = STRATA_EIO;
        if (sys == ENOSPC || sys == EDQUOT || sys == EIO || sys == EROFS || sys == EACCES)
            snprintf(syshint, sizeof syshint, " (%s)", strerror(sys));
    }
    /* SQLite opens a file it cannot create or write (its WAL, its shared memory) read-only and
     * then refuses to write: on a writable file system that was a failed disk, not a permission */
    if (rc == ST_DB_READONLY && db != NULL && st_db_kind_of(db) == ST_DB_SQLITE &&
        !st_dir_of_is_readonly(cat->path)) {
        code = STRATA_EIO;
        hint = "; its files could not be opened for writing although the file system is "
               "writable: is the disk full or failing?";
    }
    return st_error(err, code, "catalog '%s': cannot %s: %s%s%s", cat != NULL ? cat->path : "?",
                    doing, db != NULL ? st_db_errmsg(db) : "out of memory", syshint, hint);
}

int st_cat_prepare(st_err *err, st_catalog *cat, int slot, const char *sql, st_dbstmt **out)
{
    if (cat->stmt[slot] == NULL) {
        int rc = st_cat_ready(err, cat);
        if (rc < 0) return rc;
        rc = st_db_prepare_persistent(cat->db, sql, &cat->stmt[slot]);
        if (rc != ST_DB_OK) return st_cat_db_error(err, cat, rc, "prepare a statement");
    }
    *out = cat->stmt[slot];
    return STRATA_OK;
}

static int prepare(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, queries[q], out);
}

void st_cat_done(st_dbstmt *s)
{
    st_db_reset(s);
}

int st_cat_exec(st_err *err, st_catalog *cat, const char *sql, const char *doing)
{
    int rc = st_cat_ready(err, cat);
    if (rc < 0) return rc;
    rc = st_db_exec(cat->db, sql);
    if (rc != ST_DB_OK) return st_cat_db_error(err, cat, rc, doing);
    return STRATA_OK;
}

void st_cat_text(char *dst, size_t cap, st_dbstmt *s, int col)
{
    if (cap == 0) return;
    const char *t = st_db_col_text(s, col);
    /* a copy, cut to CAP (at a batch list's thousands of names, snprintf was a tenth of it) */
    size_t n = t != NULL ? strnlen(t, cap - 1) : 0;
    memcpy(dst, t != NULL ? t : "", n);
    dst[n] = '\0';
}

/* Connect CAT to its database (CREATE: the SQLite file, or the PostgreSQL schema, may be made). */
static int cat_connect(st_err *err, st_catalog *cat, int create)
{
    const st_cat_loc *w = &cat->loc;
    int rc = w->pg ? st_db_open_pg(w->conninfo, w->schema, create, w->connect_timeout_s, &cat->db)
                   : st_db_open_sqlite(w->path, create, &cat->db);
    if (rc != ST_DB_OK) {
        int code = st_cat_db_error(err, cat, rc, "open it");
        if (rc == ST_DB_CONN)
            code = st_error(err, STRATA_EIO,
                            "cannot reach the catalog at %s: %s; is PostgreSQL running there, "
                            "and does the database exist?",
                            w->conninfo, st_db_errmsg(cat->db));
        if (code == STRATA_EPERM && !w->pg) /* the file is missing or unreadable */
            code = st_error(err, STRATA_ECORRUPT,
                            "catalog '%s' is missing or cannot be opened: the pool is damaged, "
                            "or its catalog was moved (strata catalog migrate) since this process "
                            "opened it: open the pool again",
                            w->path);
        st_db_close(cat->db);
        cat->db = NULL;
        return code;
    }
    st_db_set_busy_timeout(cat->db, cat->busy_ms);
    return STRATA_OK;
}

/* A new handle on the catalog at W, not yet connected. */
static int cat_alloc(st_err *err, const st_cat_loc *w, st_catalog **out)
{
    st_catalog *cat = calloc(1, sizeof *cat);
    char name[sizeof w->path + ST_CAT_SCHEMA + 32];
    if (w->pg)
        snprintf(name, sizeof name, "%s (schema %s)", w->conninfo, w->schema);
    else
        snprintf(name, sizeof name, "%s", w->path);
    if (cat == NULL || (cat->path = strdup(name)) == NULL) {
        free(cat);
        return st_error(err, STRATA_ENOMEM, "out of memory opening catalog '%s'", name);
    }
    cat->loc = *w;
    cat->holds = (st_vec)ST_VEC(st_cat_hold);
    cat->busy_ms = 10000;
    *out = cat;
    return STRATA_OK;
}

const st_cat_loc *st_cat_loc_of(const st_catalog *cat)
{
    return &cat->loc;
}

int st_cat_is_pg(const st_catalog *cat)
{
    return cat->loc.pg;
}

/* PostgreSQL: a migration whose SQLite text does not translate (db_pg.h), and what must follow
 * one (identity sequences past rows inserted with explicit ids). NULL: as translated, nothing. */
static const char *pg_migration(int v)
{
    /* 8 -> 9: SQLite's untyped value column holds ints, floats and text; here text */
    return v == 8 ? "CREATE TABLE ndattr ("
                    "  array_id INTEGER NOT NULL REFERENCES ndarray(id),"
                    "  name TEXT NOT NULL,"
                    "  type INTEGER NOT NULL,"
                    "  value TEXT,"
                    "  PRIMARY KEY (array_id, name));"
                  : NULL;
}

static const char *pg_after_migration(int v)
{
    return v == 3 ? "SELECT setval(pg_get_serial_sequence('tier', 'id'), 1)" : NULL;
}

static int migrate(st_err *err, st_catalog *cat, int from)
{
    int rc = st_db_begin_exclusive(cat->db);
    if (rc != ST_DB_OK) return st_cat_db_error(err, cat, rc, "begin a transaction");
    for (int v = from; v < ST_CAT_VERSION; v++) {
        const char *pg = cat->loc.pg ? pg_migration(v) : NULL;
        const char *after = cat->loc.pg ? pg_after_migration(v) : NULL;
        rc = st_cat_exec(err, cat, pg != NULL ? pg : migrations[v], "migrate the schema");
        if (rc == STRATA_OK && after != NULL)
            rc = st_cat_exec(err, cat, after, "migrate the schema");
        if (rc < 0) goto fail;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", ST_CAT_VERSION);
    rc = st_cat_exec(err, cat, sql, "record the schema version");
    if (rc < 0) goto fail;
    return st_cat_commit(err, cat);
fail:
    st_cat_rollback(cat);
    return rc;
}

int st_cat_create(st_err *err, const st_cat_loc *w, st_catalog **out)
{
    st_catalog *cat;
    *out = NULL;
    int rc = cat_alloc(err, w, &cat);
    if (rc < 0) return rc;
    st_cat_ndm_remove_all(w); /* no manifest outlives its catalog */
    ST_TRY(rc = cat_connect(err, cat, 1));
    if (w->pg) { /* a schema of its own: one that holds a catalog already is another pool's */
        int version = 0;
        rc = st_cat_version(err, cat, &version);
        if (rc == STRATA_OK) {
            rc = st_error(err, STRATA_EEXIST,
                          "schema '%s' of %s already holds a strata catalog (another pool's?); "
                          "choose another schema",
                          w->schema, w->conninfo);
            goto done;
        }
    }
    ST_TRY(rc = migrate(err, cat, 0));
    st_dbstmt *s;
    rc = st_db_prepare(cat->db,
                       "INSERT INTO pool (id, format, created_ns, created_by) "
                       "VALUES (1, ?1, ?2, ?3)",
                       &s);
    if (rc == ST_DB_OK) {
        st_db_bind_int64(s, 1, STRATA_POOL_FORMAT);
        st_db_bind_int64(s, 2, st_now_ns());
        st_db_bind_text(s, 3, "strata " STRATA_VERSION_STRING);
        rc = st_db_step(s);
        st_db_finalize(s);
    }
    rc = rc == ST_DB_DONE || rc == ST_DB_OK ? STRATA_OK
                                            : st_cat_db_error(err, cat, rc, "record the pool");
    ST_TRY(rc);
    *out = cat;
    cat = NULL;
done:
    st_cat_close(cat);
    return rc;
}

/* Connected CAT's schema: STRATA_EUNSUPPORTED when newer than ours, migrated when older. */
static int check_version(st_err *err, st_catalog *cat)
{
    const char *path = cat->loc.pg ? cat->loc.conninfo : cat->loc.path;
    int version = 0;
    int rc = st_cat_version(err, cat, &version);
    if (rc < 0) return rc;
    if (version > ST_CAT_VERSION)
        return st_error(err, STRATA_EUNSUPPORTED,
                        "catalog '%s' has schema version %d, newer than this strata knows (%d); "
                        "upgrade strata",
                        path, version, ST_CAT_VERSION);
    return version < ST_CAT_VERSION ? migrate(err, cat, version) : STRATA_OK;
}

int st_cat_ready(st_err *err, st_catalog *cat)
{
    if (cat->db != NULL) return STRATA_OK;
    int rc = cat_connect(err, cat, 0);
    if (rc == STRATA_OK && (rc = check_version(err, cat)) < 0) {
        st_db_close(cat->db); /* the next use tries again */
        cat->db = NULL;
    }
    return rc;
}

int st_cat_connected(const st_catalog *cat)
{
    return cat->db != NULL;
}

int st_cat_open(st_err *err, const st_cat_loc *w, st_catalog **out)
{
    st_catalog *cat;
    *out = NULL;
    int rc = cat_alloc(err, w, &cat);
    if (rc < 0) return rc;
    ST_TRY(rc = st_cat_ready(err, cat));
    *out = cat;
    cat = NULL;
done:
    st_cat_close(cat);
    return rc;
}

/* Whether the file at PATH begins as an SQLite database does (an empty file does not). */
static int sqlite_header(st_err *err, const char *path)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        return st_error(err, STRATA_ECORRUPT, "catalog '%s' is missing; the pool is damaged", path);
    if (fd < 0)
        return st_error_errno(err, errno,
                              "cannot open catalog '%s' (check the permissions of the pool's "
                              "directory and files)",
                              path);
    ssize_t n = read(fd, head, sizeof head);
    int e = errno;
    close(fd);
    if (n < 0) return st_error_errno(err, e, "cannot read catalog '%s'", path);
    if (n != (ssize_t)sizeof head || memcmp(head, magic, sizeof head) != 0)
        return st_error(err, STRATA_ECORRUPT,
                        "catalog '%s' is not an SQLite database; the pool is damaged: restore "
                        "catalog.db from a copy of the pool",
                        path);
    return STRATA_OK;
}

int st_cat_open_lazy(st_err *err, const st_cat_loc *w, st_catalog **out)
{
    *out = NULL;
    if (w->pg) return st_cat_open(err, w, out);
    int rc = sqlite_header(err, w->path);
    return rc < 0 ? rc : cat_alloc(err, w, out);
}

void st_cat_close(st_catalog *cat)
{
    if (cat == NULL) return;
    for (int i = 0; i < ST_CAT_SLOTS; i++) st_db_finalize(cat->stmt[i]);
    st_db_close(cat->db); /* the server releases the session's locks */
    st_vec_free(&cat->holds);
    st_cat_blists_free(cat);
    free(cat->path);
    free(cat);
}

void st_cat_set_busy_timeout(st_catalog *cat, int ms)
{
    cat->busy_ms = ms;
    if (cat->db != NULL) st_db_set_busy_timeout(cat->db, ms);
}

int st_cat_integrity(st_err *err, st_catalog *cat)
{
    if (cat->loc.pg) return STRATA_OK; /* the server checks itself */
    int rc = st_cat_ready(err, cat);
    if (rc < 0) return rc;
    st_dbstmt *s = NULL;
    rc = st_db_prepare(cat->db, "PRAGMA integrity_check(4)", &s);
    char found[1024] = "";
    size_t used = 0;
    if (rc == ST_DB_OK) rc = ST_DB_ROW;
    while (rc == ST_DB_ROW && (rc = st_db_step(s)) == ST_DB_ROW) {
        const char *line = st_db_col_text(s, 0);
        if (line == NULL || strcmp(line, "ok") == 0) continue;
        int n = snprintf(found + used, sizeof found - used, "%s%s", used ? "; " : "", line);
        if (n > 0) used = used + (size_t)n < sizeof found ? used + (size_t)n : sizeof found - 1;
    }
    for (char *c = found; *c; c++)
        if (*c == '\n') *c = ' '; /* one line for people and logs */
    st_db_finalize(s);
    if (rc != ST_DB_DONE && rc != ST_DB_OK && found[0] == '\0')
        snprintf(found, sizeof found, "%s", st_db_errmsg(cat->db));
    if (found[0] == '\0') return STRATA_OK;
    return st_error(err, STRATA_ECORRUPT,
                    "catalog '%s' is damaged (SQLite's integrity check: %s); the data files are "
                    "not affected: restore catalog.db and catalog.db-nd/ from a copy of the pool "
                    "taken while no writer ran, or rebuild it with 'sqlite3 catalog.db .recover' "
                    "and remove catalog.db-nd/",
                    cat->path, found);
}

int st_cat_version(st_err *err, st_catalog *cat, int *version)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_ready(err, cat);
    if (rc < 0) return rc;
    rc = st_db_prepare(cat->db, queries[Q_VERSION], &s);
    if (rc == ST_DB_OK) rc = st_db_step(s); /* PostgreSQL reports a missing table here */
    if (rc == ST_DB_ROW) {
        *version = st_db_col_int(s, 0);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = st_error(err, STRATA_ECORRUPT, "catalog '%s' has no schema version", cat->path);
    } else if (rc == ST_DB_NOTABLE) {
        rc = st_error(err, STRATA_ECORRUPT,
                      "catalog '%s' is not a strata catalog (no schema_version table)", cat->path);
    } else {
        rc = st_cat_db_error(err, cat, rc, "read the schema version");
    }
    st_db_finalize(s);
    return rc;
}

int st_cat_begin(st_err *err, st_catalog *cat)
{
    int rc = st_cat_ready(err, cat);
    if (rc < 0) return rc;
    rc = st_db_begin(cat->db);
    return rc == ST_DB_OK ? STRATA_OK : st_cat_db_error(err, cat, rc, "begin a transaction");
}

int st_cat_commit(st_err *err, st_catalog *cat)
{
    int rc = st_db_commit(cat->db);
    if (rc == ST_DB_OK) return STRATA_OK;
    rc = st_cat_db_error(err, cat, rc, "commit");
    st_cat_rollback(cat);
    return rc;
}

void st_cat_rollback(st_catalog *cat)
{
    if (cat->db != NULL) st_db_rollback(cat->db);
}

/* Run a statement that returns no rows. */
int st_cat_step_done(st_err *err, st_catalog *cat, st_dbstmt *s, const char *doing)
{
    int rc = st_db_step(s);
    st_cat_done(s);
    if (rc != ST_DB_DONE) return st_cat_db_error(err, cat, rc, doing);
    return STRATA_OK;
}

static void read_region(st_dbstmt *s, st_cat_region *r)
{
    r->id = st_db_col_int64(s, 0);
    st_cat_text(r->name, sizeof r->name, s, 1);
    st_cat_text(r->dir, sizeof r->dir, s, 2);
    r->created_ns = st_db_col_int64(s, 3);
}

int st_cat_region_insert(st_err *err, st_catalog *cat, st_cat_region *r)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_REGION_INSERT, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, r->name);
    st_db_bind_text(s, 2, r->dir);
    st_db_bind_int64(s, 3, r->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert a region");
    if (rc == STRATA_EEXIST) return st_error(err, rc, "region '%s' already exists", r->name);
    if (rc == STRATA_OK) r->id = st_db_last_id(cat->db);
    return rc;
}

int st_cat_region_get(st_err *err, st_catalog *cat, const char *name, st_cat_region *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_REGION_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, name);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_region(s, out);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = st_error(err, STRATA_ENOTFOUND, "region '%s' not found", name);
    } else {
        rc = st_cat_db_error(err, cat, rc, "look up a region");
    }
    st_cat_done(s);
    return rc;
}

static void read_region_row(st_dbstmt *s, void *row)
{
    read_region(s, row);
}

int st_cat_region_list(st_err *err, st_catalog *cat, int (*fn)(void *, const st_cat_region *),
                       void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_REGION_LIST, &s);
    if (rc < 0) return rc;
    /* Read the rows first: the callback may call back into the catalog, and must see it as it
     * is then, not as it was when the list began (a statement left running holds its read
     * snapshot: gc would take files published meanwhile for orphans). */
    st_vec rows = ST_VEC(st_cat_region);
    int stop = st_cat_collect(err, cat, s, &rows, read_region_row, "list regions");
    for (size_t i = 0; i < rows.n && stop == 0; i++) stop = fn(ctx, (st_cat_region *)rows.v + i);
    st_vec_free(&rows);
    return stop;
}

int st_cat_region_delete(st_err *err, st_catalog *cat, int64_t id)
{
    st_dbstmt *s = NULL;
    int rc = st_cat_dataset_retire_region(err, cat, id);
    if (rc == STRATA_OK) rc = st_cat_nd_delete_region(err, cat, id);
    if (rc < 0) return rc;
    rc = prepare(err, cat, Q_REGION_DELETE_ARRAYS, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    rc = st_cat_step_done(err, cat, s, "delete the arrays of a region");
    if (rc < 0) return rc;
    rc = prepare(err, cat, Q_REGION_DELETE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return st_cat_step_done(err, cat, s, "delete a region");
}

static void read_array(st_dbstmt *s, void *row)
{
    st_cat_array *a = row;
    a->id = st_db_col_int64(s, 0);
    a->region_id = st_db_col_int64(s, 1);
    st_cat_text(a->region, sizeof a->region, s, 2);
    st_cat_text(a->region_dir, sizeof a->region_dir, s, 3);
    st_cat_text(a->name, sizeof a->name, s, 4);
    a->dtype = st_db_col_int(s, 5);
    a->length = (uint64_t)st_db_col_int64(s, 6);
    st_cat_text(a->file, sizeof a->file, s, 7);
    st_cat_text(a->bytes_file, sizeof a->bytes_file, s, 8);
    a->created_ns = st_db_col_int64(s, 9);
}

int st_cat_array_insert(st_err *err, st_catalog *cat, st_cat_array *a)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_ARRAY_INSERT, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, a->region_id);
    st_db_bind_text(s, 2, a->name);
    st_db_bind_int64(s, 3, a->dtype);
    st_db_bind_int64(s, 4, (int64_t)a->length);
    st_db_bind_text(s, 5, a->file);
    if (a->bytes_file[0] != '\0')
        st_db_bind_text(s, 6, a->bytes_file);
    else
        st_db_bind_null(s, 6);
    st_db_bind_int64(s, 7, a->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert an array");
    if (rc == STRATA_EEXIST)
        return st_error(err, rc, "array '%s/%s' already exists", a->region, a->name);
    if (rc == STRATA_OK) a->id = st_db_last_id(cat->db);
    return rc;
}

int st_cat_array_get(st_err *err, st_catalog *cat, const char *region, const char *name,
                     st_cat_array *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_ARRAY_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, region);
    st_db_bind_text(s, 2, name);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_array(s, out);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = STRATA_ENOTFOUND;
    } else {
        rc = st_cat_db_error(err, cat, rc, "look up an array");
    }
    st_cat_done(s);
    if (rc == STRATA_ENOTFOUND) {
        st_cat_region r;
        if (st_cat_region_get(err, cat, region, &r) == STRATA_OK)
            st_error(err, rc, "array '%s/%s' not found", region, name);
    }
    return rc;
}

int st_cat_collect(st_err *err, st_catalog *cat, st_dbstmt *s, st_vec *v,
                   void (*read)(st_dbstmt *, void *), const char *doing)
{
    int rc;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        void *row = st_vec_push(v);
        if (row == NULL) {
            st_cat_done(s);
            return st_error(err, STRATA_ENOMEM, "out of memory: %s", doing);
        }
        read(s, row);
    }
    st_cat_done(s);
    return rc == ST_DB_DONE ? STRATA_OK : st_cat_db_error(err, cat, rc, doing);
}

int st_cat_array_list(st_err *err, st_catalog *cat, int64_t region_id,
                      int (*fn)(void *, const st_cat_array *), void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_ARRAY_LIST, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, region_id);
    /* Read the rows first: the callback may call back into the catalog. */
    st_vec rows = ST_VEC(st_cat_array);
    int stop = st_cat_collect(err, cat, s, &rows, read_array, "list arrays");
    for (size_t i = 0; i < rows.n && stop == 0; i++) stop = fn(ctx, (st_cat_array *)rows.v + i);
    st_vec_free(&rows);
    return stop;
}

int st_cat_array_delete(st_err *err, st_catalog *cat, int64_t id)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_ARRAY_DELETE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return st_cat_step_done(err, cat, s, "delete an array");
}

static void read_backup(st_dbstmt *s, st_cat_backup *b)
{
    b->id = st_db_col_int64(s, 0);
    st_cat_text(b->name, sizeof b->name, s, 1);
    st_cat_text(b->source, sizeof b->source, s, 2);
    b->dtype = st_db_col_int(s, 3);
    b->length = (uint64_t)st_db_col_int64(s, 4);
    st_cat_text(b->file, sizeof b->file, s, 5);
    st_cat_text(b->bytes_file, sizeof b->bytes_file, s, 6);
    b->checksum = (uint64_t)st_db_col_int64(s, 7);
    b->created_ns = st_db_col_int64(s, 8);
}

int st_cat_backup_insert(st_err *err, st_catalog *cat, st_cat_backup *b)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_BACKUP_INSERT, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, b->name);
    st_db_bind_text(s, 2, b->source);
    st_db_bind_int64(s, 3, b->dtype);
    st_db_bind_int64(s, 4, (int64_t)b->length);
    st_db_bind_text(s, 5, b->file);
    if (b->bytes_file[0] != '\0')
        st_db_bind_text(s, 6, b->bytes_file);
    else
        st_db_bind_null(s, 6);
    st_db_bind_int64(s, 7, (int64_t)b->checksum);
    st_db_bind_int64(s, 8, b->created_ns);
    rc = st_cat_step_done(err, cat, s, "insert a backup");
    if (rc == STRATA_EEXIST) return st_error(err, rc, "backup '%s' already exists", b->name);
    if (rc == STRATA_OK) b->id = st_db_last_id(cat->db);
    return rc;
}

int st_cat_backup_get(st_err *err, st_catalog *cat, const char *name, st_cat_backup *out)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_BACKUP_GET, &s);
    if (rc < 0) return rc;
    st_db_bind_text(s, 1, name);
    rc = st_db_step(s);
    if (rc == ST_DB_ROW) {
        read_backup(s, out);
        rc = STRATA_OK;
    } else if (rc == ST_DB_DONE) {
        rc = st_error(err, STRATA_ENOTFOUND, "backup '%s' not found", name);
    } else {
        rc = st_cat_db_error(err, cat, rc, "look up a backup");
    }
    st_cat_done(s);
    return rc;
}

int st_cat_backup_list(st_err *err, st_catalog *cat, int (*fn)(void *, const st_cat_backup *),
                       void *ctx)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_BACKUP_LIST, &s);
    if (rc < 0) return rc;
    int stop = 0;
    while ((rc = st_db_step(s)) == ST_DB_ROW) {
        st_cat_backup b;
        read_backup(s, &b);
        if ((stop = fn(ctx, &b)) != 0) break;
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "list backups");
    st_cat_done(s);
    return stop;
}

int st_cat_backup_delete(st_err *err, st_catalog *cat, int64_t id)
{
    st_dbstmt *s = NULL;
    int rc = prepare(err, cat, Q_BACKUP_DELETE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    return st_cat_step_done(err, cat, s, "delete a backup");
}
