/* The catalog interface on SQLite: schema, versions, records, constraint and not-found results. */
#include <math.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "catalog/db_pg.h"
#include "mdms/where.h"
#include "test_util.h"

static char *db_path(void)
{
    char *dir = scratch_path("cat");
    char *p = malloc(strlen(dir) + 16);
    sprintf(p, "%s.db", dir); /* next to the (uncreated) pool dir */
    free(dir);
    return p;
}

/* Remove catalog P's scratch directory (the catalog, its journal files) and free P. */
static void db_free(char *p)
{
    *strrchr(p, '/') = '\0';
    rm_rf(p);
    free(p);
}

/* The location of the SQLite catalog file P (a static: one at a time). */
static const st_cat_loc *sqlite_at(const char *p)
{
    static st_cat_loc loc;
    memset(&loc, 0, sizeof loc);
    snprintf(loc.path, sizeof loc.path, "%s", p);
    return &loc;
}

/* A new catalog at P and two handles on it (as two processes would have). */
static void two_handles(const char *p, st_catalog **a, st_catalog **b)
{
    st_err e;
    st_err_init(&e);
    assert_int_equal(st_cat_create(&e, sqlite_at(p), a), STRATA_OK);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), b), STRATA_OK);
    st_err_destroy(&e);
}

static void create_then_open_has_current_version(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c;
    assert_int_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    st_cat_close(c);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_OK);
    int v = 0;
    assert_int_equal(st_cat_version(&e, c, &v), STRATA_OK);
    assert_int_equal(v, ST_CAT_VERSION);
    st_cat_close(c);
    /* creating over an existing catalog is refused */
    assert_int_not_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    st_err_destroy(&e);
    db_free(p);
}

static void newer_schema_is_refused(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c;
    assert_int_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    st_cat_close(c);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", 0, 0, 0), 0);
    sqlite3_close(db);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "99"));
    assert_null(c);
    st_err_destroy(&e);
    db_free(p);
}

static void an_older_catalog_is_migrated_forward_on_open(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c;
    assert_int_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    st_cat_close(c);
    /* Make it a version-1 catalog: the tables versions 2 to 8 added do not exist yet. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE ndattr; DROP TABLE stats_cache; DROP TABLE tool; DROP TABLE "
                     "io_event; DROP TABLE execution;"
                     "DROP TABLE storage_pattern; DROP TABLE access_pattern;"
                     "DROP TABLE assoc_dataset; DROP TABLE assoc; DROP TABLE run;"
                     "DROP TABLE app_attr; DROP TABLE app;"
                     "DROP TABLE ndstaged; DROP TABLE ndchunk; DROP TABLE ndarray; DROP TABLE tier;"
                     "DROP TABLE derivation; DROP TABLE trash; DROP TABLE batch_column;"
                     "DROP TABLE batch; DROP TABLE dataset_version;"
                     "DROP TABLE dataset_column; DROP TABLE dataset;"
                     "INSERT INTO region (name, dir, created_ns) VALUES ('old', 'd', 1);"
                     "UPDATE schema_version SET version = 1",
                     0, 0, 0),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_OK);
    int v = 0;
    assert_int_equal(st_cat_version(&e, c, &v), STRATA_OK);
    assert_int_equal(v, ST_CAT_VERSION);
    st_cat_region r;
    assert_int_equal(st_cat_region_get(&e, c, "old", &r), STRATA_OK); /* data kept */
    st_cat_dataset d = {.region_id = r.id, .name = "ds", .dir = "x", .created_ns = 1};
    st_cat_column col = {.name = "a", .dtype = STRATA_I64};
    assert_int_equal(st_cat_dataset_insert(&e, c, &d, &col, 1), STRATA_OK); /* new tables */
    st_cat_tier t;
    assert_int_equal(st_cat_tier_get(&e, c, "default", &t), STRATA_OK); /* version 4 */
    assert_int_equal(t.id, ST_TIER_DEFAULT_ID);
    /* version 5: batch columns record their tier (the usage query reads tier_id and stored) */
    st_cat_usage u;
    assert_int_equal(st_cat_tier_usage(&e, c, ST_TIER_DEFAULT_ID, &u), STRATA_OK);
    assert_int_equal(u.home_files, 0);
    /* version 6: applications with a typed run table */
    st_cat_attr_def defs[] = {{"grid", STRATA_ATTR_INT}, {"label", STRATA_ATTR_TEXT}};
    assert_int_equal(st_cat_app_register(&e, c, r.id, "h", defs, 2), STRATA_OK);
    strata_attr vals[] = {{"grid", STRATA_ATTR_INT, 64, 0, NULL},
                          {"label", STRATA_ATTR_TEXT, 0, 0, "x"}};
    int64_t run = 0;
    assert_int_equal(st_cat_run_insert(&e, c, r.id, "u", "h", 4, vals, 2, &run), STRATA_OK);
    int64_t found = 0;
    assert_int_equal(st_mdms_run_match(&e, c, r.id, "old", "grid = 64 and label = 'x'", &found),
                     STRATA_OK);
    assert_int_equal(found, run);
    assert_int_equal(st_mdms_run_match(&e, c, r.id, "old", "grid > 64", &found), STRATA_ENOTFOUND);
    /* version 7: the statistics cache */
    strata_summary sum = {.count = 3, .min = 1, .max = 3, .mean = 2, .std = 1, .version = 1};
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_COLUMN, d.id, "a", 7, &sum, 100),
                     STRATA_OK);
    strata_summary got;
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_COLUMN, d.id, "a", 7, &got), STRATA_OK);
    assert_int_equal(got.count, 3);
    st_cat_close(c);
    st_err_destroy(&e);
    db_free(p);
}

/* Summaries round-trip exactly (NaN and 64-bit counts included), are found only by their whole
 * key, are dropped with their object, and only the newest ST_SUMMARY_KEEP are kept. */
static void summaries_are_cached_by_content_and_trimmed(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c;
    assert_int_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    strata_summary sum = {.count = 5,
                          .nan = 2,
                          .min = -1.5,
                          .max = NAN,
                          .mean = 0.25,
                          .std = 1e300,
                          .version = 9,
                          .seconds = 0.5};
    for (int b = 0; b < STRATA_HIST_BINS; b++) sum.hist[b] = (uint64_t)b << 40 | 0xff;
    const uint64_t fp = 0xfedcba9876543210u; /* above INT64_MAX: stored as its bit pattern */
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp, &sum, 100),
                     STRATA_OK);
    strata_summary got;
    memset(&got, 0, sizeof got);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp, &got),
                     STRATA_OK);
    assert_int_equal(got.count, 5);
    assert_int_equal(got.nan, 2);
    assert_true(got.min == -1.5 && isnan(got.max) && got.mean == 0.25 && got.std == 1e300);
    assert_int_equal(got.version, 9);
    assert_true(got.seconds == 0.5);
    assert_memory_equal(got.hist, sum.hist, sizeof sum.hist);
    /* any other part of the key misses */
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp + 1, &got),
                     STRATA_ENOTFOUND);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+4", fp, &got),
                     STRATA_ENOTFOUND);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_COLUMN, 4, "0+2,1+3", fp, &got),
                     STRATA_ENOTFOUND);
    /* the same key again replaces */
    sum.count = 6;
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp, &sum, 100),
                     STRATA_OK);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp, &got),
                     STRATA_OK);
    assert_int_equal(got.count, 6);
    /* dropping the object drops its summaries, and only its */
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_REGION, 5, "x", 1, &sum, 100), STRATA_OK);
    assert_int_equal(st_cat_summary_drop(&e, c, ST_SUMMARY_REGION, 4), STRATA_OK);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 4, "0+2,1+3", fp, &got),
                     STRATA_ENOTFOUND);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 5, "x", 1, &got), STRATA_OK);
    st_cat_close(c);
    /* fill the cache to its bound behind the library's back, then add two more: the oldest go */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO stats_cache (kind, object_id, part, fingerprint, version, count, nan, "
             "hist, seconds, created_ns) SELECT 1, 100, 'c' || i, i, 1, 0, 0, zeroblob(256), 0, 0 "
             "FROM n",
             ST_SUMMARY_KEEP);
    assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_OK);
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_COLUMN, 7, "new1", 1, &sum, 100),
                     STRATA_OK);
    assert_int_equal(st_cat_summary_put(&e, c, ST_SUMMARY_COLUMN, 7, "new2", 1, &sum, 100),
                     STRATA_OK);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_REGION, 5, "x", 1, &got),
                     STRATA_ENOTFOUND);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_COLUMN, 100, "c1", 1, &got),
                     STRATA_ENOTFOUND);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_COLUMN, 100, "c3", 3, &got), STRATA_OK);
    assert_int_equal(st_cat_summary_get(&e, c, ST_SUMMARY_COLUMN, 7, "new2", 1, &got), STRATA_OK);
    st_cat_close(c);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM stats_cache", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), ST_SUMMARY_KEEP);
    sqlite3_finalize(s);
    sqlite3_close(db);
    st_err_destroy(&e);
    db_free(p);
}

static void foreign_database_and_garbage_are_corrupt(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", 0, 0, 0), 0);
    sqlite3_close(db);
    st_catalog *c;
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_ECORRUPT);
    assert_non_null(strstr(e.msg, "not a strata catalog"));
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 4096; i++) fputc('G', f);
    fclose(f);
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &c), STRATA_ECORRUPT);
    assert_null(c);
    st_err_destroy(&e);
    db_free(p);
}

static int count_region(void *ctx, const st_cat_region *r)
{
    (void)r;
    ++*(int *)ctx;
    return 0;
}

static int count_array(void *ctx, const st_cat_array *a)
{
    (void)a;
    ++*(int *)ctx;
    return 0;
}

static void records_round_trip_and_constraints_hold(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c;
    assert_int_equal(st_cat_create(&e, sqlite_at(p), &c), STRATA_OK);
    st_cat_region r = {.name = "taxi", .dir = "d1", .created_ns = 5};
    assert_int_equal(st_cat_region_insert(&e, c, &r), STRATA_OK);
    assert_true(r.id > 0);
    st_cat_region r2 = {.name = "taxi", .dir = "d2", .created_ns = 6};
    assert_int_equal(st_cat_region_insert(&e, c, &r2), STRATA_EEXIST);
    assert_non_null(strstr(e.msg, "'taxi' already exists"));
    st_cat_region got;
    assert_int_equal(st_cat_region_get(&e, c, "taxi", &got), STRATA_OK);
    assert_string_equal(got.dir, "d1");
    assert_int_equal(st_cat_region_get(&e, c, "nope", &got), STRATA_ENOTFOUND);
    assert_non_null(strstr(e.msg, "region 'nope' not found"));

    st_cat_array a = {.region_id = r.id,
                      .region = "taxi",
                      .name = "fare",
                      .dtype = STRATA_I64,
                      .length = 10,
                      .file = "f.npy",
                      .created_ns = 7};
    assert_int_equal(st_cat_array_insert(&e, c, &a), STRATA_OK);
    assert_int_equal(st_cat_array_insert(&e, c, &a), STRATA_EEXIST);
    st_cat_array orphan = a;
    orphan.region_id = 9999; /* a region deleted by another process meanwhile */
    snprintf(orphan.name, sizeof orphan.name, "tip");
    assert_int_equal(st_cat_array_insert(&e, c, &orphan), STRATA_ECONFLICT);
    assert_non_null(strstr(e.msg, "region was deleted"));
    st_cat_array ga;
    assert_int_equal(st_cat_array_get(&e, c, "taxi", "fare", &ga), STRATA_OK);
    assert_int_equal(ga.length, 10);
    assert_string_equal(ga.region_dir, "d1");
    assert_string_equal(ga.bytes_file, "");
    assert_int_equal(st_cat_array_get(&e, c, "taxi", "tip", &ga), STRATA_ENOTFOUND);
    assert_non_null(strstr(e.msg, "array 'taxi/tip' not found"));
    assert_int_equal(st_cat_array_get(&e, c, "bus", "tip", &ga), STRATA_ENOTFOUND);
    assert_non_null(strstr(e.msg, "region 'bus' not found"));
    int n = 0;
    assert_int_equal(st_cat_region_list(&e, c, count_region, &n), STRATA_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(st_cat_array_list(&e, c, r.id, count_array, &n), STRATA_OK);
    assert_int_equal(n, 1);

    /* a rolled-back transaction leaves nothing */
    assert_int_equal(st_cat_begin(&e, c), STRATA_OK);
    assert_int_equal(st_cat_region_delete(&e, c, r.id), STRATA_OK);
    st_cat_rollback(c);
    assert_int_equal(st_cat_array_get(&e, c, "taxi", "fare", &ga), STRATA_OK);
    assert_int_equal(st_cat_region_delete(&e, c, r.id), STRATA_OK);
    assert_int_equal(st_cat_region_get(&e, c, "taxi", &got), STRATA_ENOTFOUND);

    st_cat_backup b = {.name = "bk",
                       .source = "taxi/fare",
                       .dtype = STRATA_I64,
                       .length = 10,
                       .file = "b.npy",
                       .checksum = UINT64_MAX,
                       .created_ns = 8};
    assert_int_equal(st_cat_backup_insert(&e, c, &b), STRATA_OK);
    assert_int_equal(st_cat_backup_insert(&e, c, &b), STRATA_EEXIST);
    st_cat_backup gb;
    assert_int_equal(st_cat_backup_get(&e, c, "bk", &gb), STRATA_OK);
    assert_true(gb.checksum == UINT64_MAX); /* 64-bit checksums survive the signed column */
    assert_int_equal(st_cat_backup_delete(&e, c, gb.id), STRATA_OK);
    assert_int_equal(st_cat_backup_get(&e, c, "bk", &gb), STRATA_ENOTFOUND);
    st_cat_close(c);
    st_err_destroy(&e);
    db_free(p);
}

static void a_held_write_lock_times_out_as_elocked(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *c1, *c2;
    two_handles(p, &c1, &c2);
    st_cat_set_busy_timeout(c2, 50);
    assert_int_equal(st_cat_begin(&e, c1), STRATA_OK);
    assert_int_equal(st_cat_begin(&e, c2), STRATA_ELOCKED);
    assert_non_null(strstr(e.msg, "busy timeout"));
    assert_int_equal(st_cat_commit(&e, c1), STRATA_OK);
    assert_int_equal(st_cat_begin(&e, c2), STRATA_OK);
    assert_int_equal(st_cat_commit(&e, c2), STRATA_OK);
    st_cat_close(c1);
    st_cat_close(c2);
    st_err_destroy(&e);
    db_free(p);
}

/* ---- run conditions ------------------------------------------------------------------------ */

static char *repeat(const char *head, const char *unit, int reps, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * (size_t)reps + tl + 1);
    memcpy(s, head, hl);
    for (int i = 0; i < reps; i++) memcpy(s + hl + ul * (size_t)i, unit, ul);
    memcpy(s + hl + ul * (size_t)reps, tail, tl + 1);
    return s;
}

static const char *const attrs[] = {"grid", "dump"};

/* WHERE is refused with STRATA_EINVAL and exactly the message WANT. */
static void where_refused(const char *where, const char *want)
{
    st_err e;
    st_err_init(&e);
    char *sql = (char *)&e;
    size_t nb = 99;
    int rc = st_mdms_where_check(&e, where, attrs, 2, 1, &sql, &nb);
    if (rc != STRATA_EINVAL) fail_msg("'%.60s': %s, not EINVAL", where, strata_errname(rc));
    assert_null(sql);
    assert_int_equal(nb, 0);
    if (strcmp(e.msg, want) != 0) fail_msg("message '%s', expected '%s'", e.msg, want);
    st_err_destroy(&e);
}

/* WHERE translates to WANT with NBINDS values. */
static void where_sql_is(const char *where, const char *want, size_t nbinds)
{
    st_err e;
    st_err_init(&e);
    char *sql;
    size_t nb;
    if (st_mdms_where_check(&e, where, attrs, 2, 1, &sql, &nb) != STRATA_OK)
        fail_msg("'%.60s' refused: %s", where, e.msg);
    if (want != NULL && strcmp(sql, want) != 0) fail_msg("sql '%s', expected '%s'", sql, want);
    assert_int_equal(nb, nbinds);
    free(sql);
    st_err_destroy(&e);
}

/* 'not not ... x' recursed without limit (a stack overflow under ASan, a 500 from the server) */
static void conditions_nest_at_most_64_deep(void **state)
{
    (void)state;
    const char *deep = "condition nested deeper than 64 ('not' and parentheses each add a "
                       "level); simplify it";
    char want[512], *w;
    w = repeat("", "not ", 100, "grid = 1");
    snprintf(want, sizeof want, "bad condition '%.57s...' at column %d: %s", w, 64 * 4 + 1, deep);
    where_refused(w, want);
    free(w);
    w = repeat("", "not ", 300000, "grid = 1");
    where_refused(w, want);
    free(w);
    w = repeat("", "(", 100, "grid = 1");
    snprintf(want, sizeof want, "bad condition '%.57s...' at column 65: %s", w, deep);
    where_refused(w, want);
    free(w);
    w = repeat("", "not (", 40, "grid = 1"); /* both kinds count */
    snprintf(want, sizeof want, "bad condition '%.57s...' at column %d: %s", w, 32 * 5 + 1, deep);
    where_refused(w, want);
    free(w);
    /* 64 levels are fine */
    w = repeat("", "not ", 64, "grid = 1");
    where_sql_is(w, NULL, 1);
    free(w);
    char *open = repeat("", "(", 64, "dump >= 2.5"), *closed = repeat(open, ")", 64, "");
    where_sql_is(closed, NULL, 1);
    free(open);
    free(closed);
    where_sql_is("not (grid = 1 or dump != 'x') and run > 3",
                 "NOT (a.\"grid\" = ?2 OR a.\"dump\" != ?3) AND r.id > ?4", 3);
    /* comparisons: 256 fine, 257 not (SQLite's expression depth is 1000) */
    w = repeat("grid = 1", " or grid = 1", 255, "");
    where_sql_is(w, NULL, 256);
    free(w);
    w = repeat("grid = 1", " or grid = 1", 256, "");
    snprintf(want, sizeof want,
             "bad condition '%.57s...' at column %d: condition has more than 256 comparisons; "
             "shorten it",
             w, 1 + 8 + 12 * 255 + 4);
    where_refused(w, want);
    free(w);
    where_refused("grid = 1 and (dump = 2", "bad condition 'grid = 1 and (dump = 2' at column "
                                            "23: expected ')'");
    /* a long condition is quoted in part, never cutting a UTF-8 character */
    w = repeat("dump = '", "\xc3\xa9", 40, "' and");
    snprintf(want, sizeof want, "bad condition '%.56s...' at column 94: expected a name", w);
    where_refused(w, want);
    free(w);
}

/* SQLite's SQL as PostgreSQL's: parameters, the schema's types, reserved names; literals and
 * quoted names untouched. */
static void sqlite_sql_translates_for_postgresql(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int np;
    } cases[] = {
        {"SELECT a FROM t WHERE id = ?1 AND n > ?12", "SELECT a FROM t WHERE id = $1 AND n > $12",
         12},
        {"SELECT ? + ?", "SELECT $1 + $2", 2},
        {"CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, x REAL, b BLOB, s TEXT)",
         "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT "
         "NULL, x DOUBLE PRECISION, b BYTEA, s TEXT COLLATE \"C\")",
         0},
        {"CREATE TABLE k (a INTEGER, PRIMARY KEY (a)) WITHOUT ROWID;SELECT CAST(x AS TEXT)",
         "CREATE TABLE k (a BIGINT, PRIMARY KEY (a)) ;SELECT CAST(x AS TEXT)", 0},
        {"SELECT r.user, a.id FROM array a, run r WHERE s = 'user ? INTEGER' AND \"array\" = ?",
         "SELECT r.\"user\", a.id FROM \"array\" a, run r WHERE s = 'user ? INTEGER' AND "
         "\"array\" = $1",
         1},
        {"SELECT 'it''s ?' -- a ? comment\n, ?2", "SELECT 'it''s ?' -- a ? comment\n, $2", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int np = -1;
        char *t = st_pg_translate(cases[i].in, &np);
        assert_non_null(t);
        assert_string_equal(t, cases[i].out);
        assert_int_equal(np, cases[i].np);
        free(t);
    }
}

/* ---- kept batch lists (catalog_batches.c) ------------------------------------------------- */

/* Every batch of dataset ID at VERSION as one line each (seq, rows, partition, run, and each
 * column's file, version and tier) into OUT. */
struct listing {
    char *out;
    size_t len, cap;
    int ncols;
};

static int list_batch(void *vctx, const st_cat_batch *b, const st_cat_bcol *cols)
{
    struct listing *l = vctx;
    char line[1024];
    int n = snprintf(line, sizeof line, "%lld:%lld:%lld:%lld:%lld:%s", (long long)b->seq,
                     (long long)b->first_row, (long long)b->nrows, (long long)b->part,
                     (long long)b->run, b->token);
    for (int c = 0; c < l->ncols; c++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s@%lld/%lld/%llu", cols[c].file,
                      (long long)cols[c].version, (long long)cols[c].tier_id,
                      (unsigned long long)cols[c].checksum);
    if (l->len + (size_t)n + 2 > l->cap) {
        l->cap = 2 * (l->cap + (size_t)n + 2);
        l->out = realloc(l->out, l->cap);
    }
    memcpy(l->out + l->len, line, (size_t)n);
    l->len += (size_t)n;
    l->out[l->len++] = '\n';
    l->out[l->len] = '\0';
    return 0;
}

static char *listing(st_catalog *c, int64_t id, int ncols)
{
    st_err e;
    st_err_init(&e);
    st_cat_dataset d;
    st_cat_column cols[4];
    int nc = 0;
    assert_int_equal(st_cat_dataset_get(&e, c, "r", "ds", &d, cols, &nc), STRATA_OK);
    assert_int_equal(d.id, id);
    struct listing l = {calloc(1, 1), 0, 1, ncols};
    assert_int_equal(st_cat_batches(&e, c, id, d.version, ncols, list_batch, &l), 0);
    return l.out;
}

/* What handle A (which keeps the lists it read) reads equals what a new handle reads. */
static void same_as_fresh(st_catalog *a, const char *p, int64_t id)
{
    st_err e;
    st_err_init(&e);
    st_catalog *f;
    assert_int_equal(st_cat_open(&e, sqlite_at(p), &f), STRATA_OK);
    char *want = listing(f, id, 2), *got = listing(a, id, 2);
    assert_string_equal(got, want);
    free(want);
    free(got);
    st_cat_close(f);
}

/* Publish NB new batches of 10 rows to ID (column 0 only), retiring RETIRE (if >= 0) and
 * filling column 1 of batch FILL (if >= 0). */
static void publish(st_catalog *c, int64_t id, int nb, int64_t retire, int64_t fill)
{
    st_err e;
    st_err_init(&e);
    st_cat_dataset d;
    st_cat_column cols[4];
    int nc = 0;
    assert_int_equal(st_cat_dataset_get(&e, c, "r", "ds", &d, cols, &nc), STRATA_OK);
    st_cat_batch b[4];
    st_cat_bcol bc[8];
    memset(b, 0, sizeof b);
    memset(bc, 0, sizeof bc);
    for (int i = 0; i < nb; i++) {
        b[i].nrows = 10;
        snprintf(b[i].token, sizeof b[i].token, "t%lld_%d", (long long)d.version, i);
        snprintf(bc[2 * i].file, sizeof bc[2 * i].file, "%.40s.0.npy", b[i].token);
        bc[2 * i].checksum = (uint64_t)(d.version * 10 + i);
    }
    st_cat_fill fl = {.seq = fill, .position = 1};
    snprintf(fl.col.file, sizeof fl.col.file, "fill%lld.1.npy", (long long)d.version);
    st_cat_change ch = {.batches = b, .cols = bc, .nb = nb, .ncols = 2};
    if (retire >= 0) {
        ch.retire = &retire;
        ch.nretire = 1;
    }
    if (fill >= 0) {
        ch.fills = &fl;
        ch.nfills = 1;
    }
    int64_t v;
    assert_int_equal(st_cat_apply(&e, c, id, d.version, &ch, &v), STRATA_OK);
}

static int first_move(void *ctx, const st_cat_bmove *m)
{
    *(st_cat_bmove *)ctx = *m;
    return 1;
}

static int64_t new_dataset(st_catalog *c, int64_t created_ns)
{
    st_err e;
    st_err_init(&e);
    st_cat_region r;
    assert_int_equal(st_cat_region_get(&e, c, "r", &r), STRATA_OK);
    st_cat_dataset d = {.region_id = r.id, .name = "ds", .dir = "x", .created_ns = created_ns};
    st_cat_column cols[2] = {{.name = "a", .dtype = STRATA_I64},
                             {.name = "b", .dtype = STRATA_I64}};
    assert_int_equal(st_cat_dataset_insert(&e, c, &d, cols, 2), STRATA_OK);
    return d.id;
}

/* Two handles A and B on the catalog at P, region R ("r"), and dataset "ds" made through A with
 * 3 batches published through B; its id. */
static int64_t two_handles_one_dataset(const char *p, st_catalog **a, st_catalog **b,
                                       st_cat_region *r)
{
    st_err e;
    st_err_init(&e);
    two_handles(p, a, b);
    *r = (st_cat_region){.name = "r", .dir = "r", .created_ns = 1};
    assert_int_equal(st_cat_region_insert(&e, *a, r), STRATA_OK);
    int64_t id = new_dataset(*a, 1);
    publish(*b, id, 3, -1, -1);
    return id;
}

/* A handle keeps the batch lists it read and then reads only newer batches; every other change
 * of the batches (made through another handle, as by another process) is seen all the same. */
static void kept_batch_lists_see_every_change(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *a, *b;
    st_cat_region r;
    int64_t id = two_handles_one_dataset(p, &a, &b, &r);
    same_as_fresh(a, p, id); /* A keeps the list */
    publish(b, id, 2, -1, -1);
    same_as_fresh(a, p, id);  /* only what is new */
    same_as_fresh(a, p, id);  /* nothing new */
    publish(b, id, 1, -1, 0); /* a column computed for an old batch */
    same_as_fresh(a, p, id);
    publish(b, id, 1, -1, 6); /* ... and for a new one (no change of the old) */
    same_as_fresh(a, p, id);
    publish(b, id, 1, 1, -1); /* a retire (compaction) */
    same_as_fresh(a, p, id);
    /* a tier move rewrites a row in place */
    st_cat_tier t = {.name = "fast", .path = "/tmp/fast", .kind = STRATA_TIER_SSD, .created_ns = 1};
    assert_int_equal(st_cat_tier_insert(&e, b, &t), STRATA_OK);
    st_cat_bmove m;
    assert_int_equal(st_cat_bcol_movable(&e, b, id, 0, 100, t.id, first_move, &m), 1);
    char files[ST_BCOL_FILES][ST_CAT_FILE] = {"moved.npy", "", ""};
    assert_int_equal(st_cat_begin(&e, b), STRATA_OK);
    assert_int_equal(st_cat_bcol_move(&e, b, &m, t.id, files, 8), 1);
    assert_int_equal(st_cat_commit(&e, b), STRATA_OK);
    same_as_fresh(a, p, id);
    char *moved = listing(a, id, 2);
    assert_non_null(strstr(moved, "moved.npy"));
    free(moved);
    assert_int_equal(st_cat_garbage_drop(&e, b, id), STRATA_OK);
    same_as_fresh(a, p, id);
    /* dropped and made again: SQLite gives the new dataset the old id */
    assert_int_equal(st_cat_dataset_drop(&e, b, id, "data/r/x"), STRATA_OK);
    int64_t id2 = new_dataset(b, 2);
    publish(b, id2, 2, -1, -1);
    same_as_fresh(a, p, id2);
    /* lists of more datasets than a handle keeps, read in turn */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 6; i++) { /* a handle keeps 4 */
            char name[16];
            snprintf(name, sizeof name, "ds%d", i);
            st_cat_dataset d = {.region_id = r.id, .dir = "y", .created_ns = 3};
            snprintf(d.name, sizeof d.name, "%s", name);
            st_cat_column col = {.name = "a", .dtype = STRATA_I64};
            if (k == 0) assert_int_equal(st_cat_dataset_insert(&e, b, &d, &col, 1), STRATA_OK);
            st_cat_column cols[4];
            int nc;
            assert_int_equal(st_cat_dataset_get(&e, a, "r", name, &d, cols, &nc), STRATA_OK);
            struct listing l = {calloc(1, 1), 0, 1, 1};
            assert_int_equal(st_cat_batches(&e, a, d.id, d.version, 1, list_batch, &l), 0);
            free(l.out);
        }
    same_as_fresh(a, p, id2);
    st_cat_close(a);
    st_cat_close(b);
    db_free(p);
}

/* The listing of N shared batches B (columns C) as list_batch() writes it. */
static char *shared_listing(const st_cat_batch *b, const st_cat_bcol *c, size_t n, int ncols)
{
    struct listing l = {calloc(1, 1), 0, 1, ncols};
    for (size_t i = 0; i < n; i++) list_batch(&l, &b[i], &c[i * (size_t)ncols]);
    return l.out;
}

/* A list lent by handle A: dataset ID at its version less BACK. */
typedef struct lent {
    const st_cat_batch *b;
    const st_cat_bcol *c;
    size_t n;
    st_cat_bref *ref;
    int rc;
} lent;

static lent lend(st_catalog *a, int64_t id, int64_t back)
{
    st_err e;
    st_err_init(&e);
    st_cat_dataset d;
    st_cat_column cols[4];
    int nc;
    assert_int_equal(st_cat_dataset_get(&e, a, "r", "ds", &d, cols, &nc), STRATA_OK);
    lent l = {0};
    l.rc = st_cat_batches_shared(&e, a, id, d.version - back, 2, &l.b, &l.c, &l.n, &l.ref);
    return l;
}

/* Lists lent to snapshots (st_cat_batches_shared) are the lists st_cat_batches gives, and stay
 * as they were while held: through new batches that grow the kept arrays, a retire that replaces
 * them, and the handle's close; every holder lets go in any order (ASan sees the frees). */
static void shared_batch_lists_stay_as_lent(void **state)
{
    (void)state;
    char *p = db_path();
    st_err e;
    st_err_init(&e);
    st_catalog *a, *b;
    st_cat_region r;
    int64_t id = two_handles_one_dataset(p, &a, &b, &r);
    lent l1 = lend(a, id, 0);
    assert_int_equal(l1.rc, 1);
    assert_int_equal(l1.n, 3);
    char *s1 = shared_listing(l1.b, l1.c, l1.n, 2), *want = listing(a, id, 2);
    assert_string_equal(s1, want);
    free(want);
    for (int i = 0; i < 20; i++) publish(b, id, 4, -1, -1); /* past the kept arrays' 64 */
    lent l2 = lend(a, id, 0);
    assert_int_equal(l2.rc, 1);
    assert_int_equal(l2.n, 83);
    char *s2 = shared_listing(l2.b, l2.c, l2.n, 2);
    want = listing(a, id, 2);
    assert_string_equal(s2, want);
    free(want);
    same_as_fresh(a, p, id);
    char *again = shared_listing(l1.b, l1.c, l1.n, 2); /* the first lent list, unchanged */
    assert_string_equal(again, s1);
    free(again);
    lent old = lend(a, id, 1); /* an older version is not kept: read with st_cat_batches */
    assert_int_equal(old.rc, 0);
    assert_null(old.ref);
    st_cat_bref_release(l1.ref);
    publish(b, id, 1, 1, -1); /* a retire: the kept list is replaced */
    lent l3 = lend(a, id, 0);
    assert_int_equal(l3.rc, 1);
    assert_int_equal(l3.n, 83);
    again = shared_listing(l2.b, l2.c, l2.n, 2);
    assert_string_equal(again, s2);
    free(again);
    st_cat_bref_release(l3.ref); /* let go of: its arrays grow in place */
    for (int i = 0; i < 12; i++) publish(b, id, 4, -1, -1);
    l3 = lend(a, id, 0);
    assert_int_equal(l3.rc, 1);
    assert_int_equal(l3.n, 131);
    char *s3 = shared_listing(l3.b, l3.c, l3.n, 2);
    want = listing(a, id, 2);
    assert_string_equal(s3, want);
    free(want);
    free(s3);
    assert_int_equal(st_cat_begin(&e, a), STRATA_OK); /* inside a transaction nothing is kept */
    assert_int_equal(lend(a, id, 0).rc, 0);
    st_cat_rollback(a);
    st_cat_close(a); /* the holders outlive the handle */
    again = shared_listing(l3.b, l3.c, l3.n, 2);
    assert_non_null(strstr(again, "t"));
    free(again);
    st_cat_bref_release(l3.ref);
    st_cat_bref_release(l2.ref);
    free(s1);
    free(s2);
    st_cat_close(b);
    db_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_then_open_has_current_version),
        cmocka_unit_test(newer_schema_is_refused),
        cmocka_unit_test(an_older_catalog_is_migrated_forward_on_open),
        cmocka_unit_test(summaries_are_cached_by_content_and_trimmed),
        cmocka_unit_test(foreign_database_and_garbage_are_corrupt),
        cmocka_unit_test(records_round_trip_and_constraints_hold),
        cmocka_unit_test(a_held_write_lock_times_out_as_elocked),
        cmocka_unit_test(conditions_nest_at_most_64_deep),
        cmocka_unit_test(sqlite_sql_translates_for_postgresql),
        cmocka_unit_test(kept_batch_lists_see_every_change),
        cmocka_unit_test(shared_batch_lists_stay_as_lent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
