/* Datasets: schema, the batch writer, atomic publish, versions and log, snapshots and time
 * travel, the writer lock, drop, and every error on the way. */
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pool/pool_int.h"

#include "test_util.h"

static const strata_column trip_cols[] = {
    {"zone", STRATA_STR}, {"fare", STRATA_I64}, {"dist", STRATA_F64}, {"paid", STRATA_BOOL}};

/* Append K rows starting at global value BASE: zone "zK", fare BASE+i, dist (BASE+i)/2, paid i%2.
 */
static void append_rows(fixture *f, strata_batch *b, int64_t base, uint64_t k)
{
    int64_t *fare = malloc((k + 1) * sizeof *fare);
    double *dist = malloc((k + 1) * sizeof *dist);
    uint8_t *paid = malloc(k + 1);
    int64_t *off = malloc((k + 1) * sizeof *off);
    char *bytes = malloc(32 * (k + 1));
    off[0] = 0;
    for (uint64_t i = 0; i < k; i++) {
        fare[i] = base + (int64_t)i;
        dist[i] = (double)(base + (int64_t)i) / 2;
        paid[i] = (uint8_t)(i % 2);
        int n = sprintf(bytes + off[i], "z%lld", (long long)(base + (int64_t)i));
        off[i + 1] = off[i] + n;
    }
    assert_ok(f->pool, strata_batch_append_str(b, 0, off, bytes, k));
    assert_ok(f->pool, strata_batch_append(b, 1, fare, k));
    assert_ok(f->pool, strata_batch_append(b, 2, dist, k));
    assert_ok(f->pool, strata_batch_append(b, 3, paid, k));
    free(fare);
    free(dist);
    free(paid);
    free(off);
    free(bytes);
}

static int64_t add_batches(fixture *f, strata_dataset *ds, int64_t base, const uint64_t *sizes,
                           int n)
{
    for (int i = 0; i < n; i++) {
        strata_batch *b;
        assert_ok(f->pool, strata_batch_begin(ds, &b));
        append_rows(f, b, base, sizes[i]);
        base += (int64_t)sizes[i];
        assert_ok(f->pool, strata_batch_commit(b));
    }
    int64_t v;
    assert_ok(f->pool, strata_publish(ds, &v));
    return v;
}

static void create_write_publish_read(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "trips", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "trips", &ds));
    strata_dataset_desc info;
    assert_ok(f->pool, strata_dataset_info(ds, &info));
    assert_int_equal(info.version, 0);
    assert_int_equal(info.ncols, 4);
    assert_string_equal(info.columns[1].name, "fare");
    uint64_t sizes[3] = {5, 0, 7};
    assert_int_equal(add_batches(f, ds, 100, sizes, 3), 1);
    assert_ok(f->pool, strata_dataset_info(ds, &info));
    assert_int_equal(info.version, 1);
    assert_int_equal(info.nrows, 12);
    assert_int_equal(info.nbatches, 3);

    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "trips", 0, &s));
    assert_ok(f->pool, strata_snapshot_info(s, &info));
    assert_int_equal(info.nrows, 12);
    strata_batch_info bi;
    assert_ok(f->pool, strata_snapshot_batch(s, 2, &bi));
    assert_int_equal(bi.first_row, 5);
    assert_int_equal(bi.nrows, 7);
    assert_int_equal(bi.seq, 2);
    int64_t fares[12];
    assert_ok(f->pool, strata_snapshot_read(s, 1, 0, 12, fares));
    for (int i = 0; i < 12; i++) assert_int_equal(fares[i], 100 + i);
    assert_ok(f->pool, strata_snapshot_read(s, 1, 4, 2, fares)); /* across the empty batch */
    assert_int_equal(fares[0], 104);
    assert_int_equal(fares[1], 105);
    const int64_t *off;
    const char *bytes;
    assert_ok(f->pool, strata_snapshot_map_str(s, 2, 0, &off, &bytes));
    assert_memory_equal(bytes + off[6], "z111", 4);
    const void *p;
    assert_ok(f->pool, strata_snapshot_map(s, 0, 2, &p));
    assert_true(((const double *)p)[4] == 52.0);
    strata_column_stats st;
    assert_ok(f->pool, strata_snapshot_stats(s, 2, 1, &st));
    assert_true(st.has_minmax);
    assert_int_equal(st.min_i, 105);
    assert_int_equal(st.max_i, 111);
    assert_ok(f->pool, strata_snapshot_stats(s, 0, 2, &st));
    assert_true(st.min == 50.0 && st.max == 52.0);
    assert_ok(f->pool, strata_snapshot_stats(s, 1, 1, &st));
    assert_false(st.has_minmax); /* an empty batch has no min or max */
    int col;
    assert_ok(f->pool, strata_snapshot_column(s, "dist", &col));
    assert_int_equal(col, 2);
    assert_status(f->pool, strata_snapshot_column(s, "nope", &col), STRATA_ENOTFOUND);
    assert_status(f->pool, strata_snapshot_read(s, 1, 10, 3, fares), STRATA_ERANGE);
    assert_status(f->pool, strata_snapshot_read(s, 0, 0, 1, fares), STRATA_ETYPE);
    assert_status(f->pool, strata_snapshot_batch(s, 3, &bi), STRATA_ERANGE);
    strata_snapshot_close(s);
    strata_dataset_close(ds);
}

static void batches_with_unequal_columns_are_refused(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "t", trip_cols + 1, 2));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "t", &ds));
    strata_batch *b;
    assert_ok(f->pool, strata_batch_begin(ds, &b));
    int64_t v[3] = {1, 2, 3};
    double d[2] = {1, 2};
    assert_ok(f->pool, strata_batch_append(b, 0, v, 3));
    assert_ok(f->pool, strata_batch_append(b, 1, d, 2));
    assert_status(f->pool, strata_batch_append(b, 2, d, 2), STRATA_ERANGE);
    assert_status(f->pool, strata_batch_append_str(b, 0, NULL, NULL, 1), STRATA_ETYPE);
    assert_status(f->pool, strata_batch_commit(b), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "'fare' has 3 rows but column 'dist' has 2");
    int64_t ver;
    assert_ok(f->pool, strata_publish(ds, &ver));
    assert_int_equal(ver, 0); /* nothing was published */
    strata_dataset_close(ds);
}

static void schema_errors(void **state)
{
    fixture *f = *state;
    strata_column dup[2] = {{"a", STRATA_I64}, {"a", STRATA_F64}};
    assert_status(f->pool, strata_dataset_create(f->pool, "r", "d", dup, 2), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "named twice");
    strata_column bad[1] = {{"a/b", STRATA_I64}};
    assert_status(f->pool, strata_dataset_create(f->pool, "r", "d", bad, 1), STRATA_ENAME);
    strata_column badt[1] = {{"a", (strata_dtype)42}};
    assert_status(f->pool, strata_dataset_create(f->pool, "r", "d", badt, 1), STRATA_ETYPE);
    assert_status(f->pool, strata_dataset_create(f->pool, "r", "d", dup, 0), STRATA_EINVAL);
    assert_status(f->pool, strata_dataset_create(f->pool, "nope", "d", dup, 1), STRATA_ENOTFOUND);
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "d", dup, 1));
    assert_status(f->pool, strata_dataset_create(f->pool, "r", "d", dup, 1), STRATA_EEXIST);
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "zz", &ds), STRATA_ENOTFOUND);
    assert_errmsg_has(f->pool, "dataset 'r/zz' not found");
}

static int count_versions(void *ctx, const strata_version_info *v)
{
    int *n = ctx;
    assert_int_equal(v->version, *n + 1);
    (*n)++;
    return 0;
}

static void time_travel_and_snapshot_isolation(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "tt", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "tt", &ds));
    uint64_t one[1] = {10};
    add_batches(f, ds, 0, one, 1);
    strata_snapshot *s1;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "tt", 0, &s1));
    const void *p1;
    assert_ok(f->pool, strata_snapshot_map(s1, 0, 1, &p1));
    int64_t before[10];
    memcpy(before, p1, sizeof before);
    for (int v = 0; v < 20; v++) add_batches(f, ds, 10 + 10 * v, one, 1);
    strata_dataset_desc info;
    assert_ok(f->pool, strata_snapshot_info(s1, &info));
    assert_int_equal(info.version, 1); /* unchanged while open */
    assert_int_equal(info.nrows, 10);
    assert_memory_equal(p1, before, sizeof before);
    strata_snapshot_close(s1);
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "tt", 1, &s1));
    assert_ok(f->pool, strata_snapshot_info(s1, &info));
    assert_int_equal(info.nrows, 10);
    strata_snapshot_close(s1);
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "tt", 7, &s1));
    assert_ok(f->pool, strata_snapshot_info(s1, &info));
    assert_int_equal(info.nrows, 70);
    int64_t last;
    assert_ok(f->pool, strata_snapshot_read(s1, 1, 69, 1, &last));
    assert_int_equal(last, 69);
    strata_snapshot_close(s1);
    assert_status(f->pool, strata_snapshot_open(f->pool, "r", "tt", 22, &s1), STRATA_ENOTFOUND);
    int n = 0;
    assert_ok(f->pool, strata_dataset_log(f->pool, "r", "tt", count_versions, &n));
    assert_int_equal(n, 21);
    /* gc drops old versions: then --as-of them fails, later ones still read */
    strata_gc_opts go = {.grace_s = -1, .keep_versions = 5};
    strata_gc_stats gs;
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.versions_expired, 16);
    assert_status(f->pool, strata_snapshot_open(f->pool, "r", "tt", 1, &s1), STRATA_ENOTFOUND);
    assert_errmsg_has(f->pool, "garbage-collected");
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "tt", 17, &s1));
    strata_snapshot_close(s1);
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.versions_expired, 0);
    strata_dataset_close(ds);
}

static void a_second_writer_waits_then_fails_with_elocked(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "w", trip_cols + 1, 1));
    strata_dataset *a, *b;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &a));
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &b));
    strata_batch *ba, *bb;
    assert_ok(f->pool, strata_batch_begin(a, &ba));
    assert_ok(f->pool, strata_dataset_set_lock_timeout(b, 100));
    assert_status(f->pool, strata_batch_begin(b, &bb), STRATA_ELOCKED);
    assert_errmsg_has(f->pool, "another writer");
    int64_t v = 7;
    assert_ok(f->pool, strata_batch_append(ba, 0, &v, 1));
    assert_ok(f->pool, strata_batch_commit(ba));
    assert_ok(f->pool, strata_publish(a, NULL)); /* releases the lock */
    assert_ok(f->pool, strata_batch_begin(b, &bb));
    assert_ok(f->pool, strata_batch_append(bb, 0, &v, 1));
    assert_ok(f->pool, strata_batch_commit(bb));
    int64_t ver;
    assert_ok(f->pool, strata_publish(b, &ver));
    assert_int_equal(ver, 2);
    /* closing with committed, unpublished batches discards them */
    assert_ok(f->pool, strata_batch_begin(a, &ba));
    assert_ok(f->pool, strata_batch_append(ba, 0, &v, 1));
    assert_ok(f->pool, strata_batch_commit(ba));
    strata_dataset_close(a);
    strata_dataset_desc info;
    assert_ok(f->pool, strata_dataset_info(b, &info));
    assert_int_equal(info.version, 2);
    assert_int_equal(info.nrows, 2);
    strata_dataset_close(b);
}

static void drop_keeps_open_snapshots_readable(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "gone", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "gone", &ds));
    uint64_t sz[2] = {3, 4};
    add_batches(f, ds, 0, sz, 2);
    strata_dataset_close(ds);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "gone", 0, &s));
    assert_ok(f->pool, strata_dataset_drop(f->pool, "r", "gone"));
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "gone", &ds), STRATA_ENOTFOUND);
    strata_gc_stats gs;
    strata_gc_opts go = {.grace_s = -1};
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.datasets_removed, 0); /* the snapshot holds it */
    assert_int_equal(gs.datasets_held, 1);
    int64_t v[7];
    assert_ok(f->pool, strata_snapshot_read(s, 1, 0, 7, v)); /* maps lazily, after the drop */
    assert_int_equal(v[6], 6);
    strata_snapshot_close(s);
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.datasets_removed, 1);
    /* the name is free again */
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "gone", trip_cols, 1));
}

static void a_dead_reader_holds_nothing(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "d", trip_cols + 1, 1));
    pid_t pid = fork();
    if (pid == 0) {
        strata_pool *p;
        strata_snapshot *s;
        if (strata_pool_open(f->path, &p) != STRATA_OK) _exit(1);
        if (strata_snapshot_open(p, "r", "d", 0, &s) != STRATA_OK) _exit(2);
        _exit(0); /* dies holding it, without closing */
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_ok(f->pool, strata_dataset_drop(f->pool, "r", "d"));
    strata_gc_stats gs;
    strata_gc_opts go = {.grace_s = -1};
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    /* PostgreSQL releases a session's locks when its server process sees the client gone: at
     * once on a closed socket, but after the client's exit, not before (up to 60 s here: a loaded
     * machine) */
    for (int i = 0; i < 3000 && gs.datasets_held == 1 && st_cat_is_pg(f->pool->cat); i++) {
        usleep(20000);
        assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    }
    assert_int_equal(gs.datasets_held, 0);
    assert_int_equal(gs.datasets_removed, 1);
}

/* Two handles on one pool are two processes as far as locks go: writers exclude each other,
 * and one handle's snapshot keeps the other's gc from a dropped dataset. */
static void two_pool_handles_are_two_lock_holders(void **state)
{
    fixture *f = *state;
    strata_pool *p2;
    assert_ok(f->pool, strata_pool_open(f->path, &p2));
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "w", trip_cols + 1, 1));
    strata_dataset *a, *b;
    strata_batch *ba, *bb;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &a));
    assert_ok(p2, strata_dataset_open(p2, "r", "w", &b));
    assert_ok(f->pool, strata_batch_begin(a, &ba));
    assert_ok(p2, strata_dataset_set_lock_timeout(b, 50));
    assert_status(p2, strata_batch_begin(b, &bb), STRATA_ELOCKED);
    assert_errmsg_has(p2, "another writer");
    int64_t v = 1;
    assert_ok(f->pool, strata_batch_append(ba, 0, &v, 1));
    assert_ok(f->pool, strata_batch_commit(ba));
    /* gc from the other handle leaves the writer's unpublished batch alone */
    strata_gc_stats gs;
    strata_gc_opts go = {.grace_s = -1};
    assert_ok(p2, strata_gc(p2, &go, &gs));
    assert_true(gs.busy_skipped >= 1);
    assert_ok(f->pool, strata_publish(a, NULL));
    assert_ok(p2, strata_batch_begin(b, &bb));
    strata_batch_abort(bb);
    strata_dataset_close(a);
    strata_dataset_close(b);
    strata_snapshot *s;
    assert_ok(p2, strata_snapshot_open(p2, "r", "w", 0, &s));
    assert_ok(f->pool, strata_dataset_drop(f->pool, "r", "w"));
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.datasets_held, 1);
    int64_t got = 0;
    assert_ok(p2, strata_snapshot_read(s, 0, 0, 1, &got));
    assert_int_equal(got, 1);
    strata_snapshot_close(s);
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    assert_int_equal(gs.datasets_removed, 1);
    strata_pool_close(p2);
}

/* Is there a file named NAME anywhere under DIR? */
static int tree_has(const char *dir, const char *name)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -n \"$(find '%s' -name '%s' | head -1)\"", dir, name);
    return system(cmd) == 0;
}

/* On PostgreSQL the locks are the server's: a pool on a file system without working locks
 * (NFS without lockd) is safe, and no lock file is made. A writer whose session the server
 * ended has lost its lock: its publish says so and publishes nothing. */
static void pg_locks_are_the_servers(void **state)
{
    fixture *f = *state;
    if (!st_cat_is_pg(f->pool->cat)) skip();
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "w", trip_cols + 1, 1));
    strata_dataset *a;
    strata_batch *ba;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &a));
    assert_ok(f->pool, strata_batch_begin(a, &ba));
    int64_t v = 1;
    assert_ok(f->pool, strata_batch_append(ba, 0, &v, 1));
    assert_ok(f->pool, strata_batch_commit(ba));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "w", 0, &s));
    assert_false(tree_has(f->path, ".writer"));
    assert_false(tree_has(f->path, ".readers"));
    strata_snapshot_close(s);
    /* the server ends the writer's session (as when it restarts, or a node's link dies) */
    char where[8192], cmd[8400];
    assert_ok(f->pool, strata_pool_catalog(f->pool, where, sizeof where));
    const char *schema = strstr(where, " schema ");
    assert_non_null(schema);
    snprintf(cmd, sizeof cmd,
             "psql -qAt -d \"$STRATA_CATALOG\" -c \"SELECT count(pg_terminate_backend(pid)) FROM "
             "pg_stat_activity WHERE application_name = 'strata:%s'\" | grep -qx 1",
             schema + 8);
    assert_int_equal(system(cmd), 0);
    /* another handle takes the lock at once: the server released it with the session */
    strata_pool *p2;
    strata_dataset *b;
    strata_batch *bb;
    assert_ok(f->pool, strata_pool_open(f->path, &p2));
    assert_ok(p2, strata_dataset_open(p2, "r", "w", &b));
    assert_ok(p2, strata_dataset_set_lock_timeout(b, 5000));
    assert_ok(p2, strata_batch_begin(b, &bb));
    strata_batch_abort(bb);
    strata_dataset_close(b);
    strata_pool_close(p2);
    /* the first writer reconnects, sees its lock gone, and publishes nothing */
    assert_status(f->pool, strata_publish(a, NULL), STRATA_ECONFLICT);
    assert_errmsg_has(f->pool, "writer lock was lost");
    strata_dataset_close(a);
    strata_dataset_desc info;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &a));
    assert_ok(f->pool, strata_dataset_info(a, &info));
    assert_int_equal(info.version, 0);
    strata_dataset_close(a);
}

static void a_snapshot_of_a_dataset_dropped_meanwhile_fails_cleanly(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "x", trip_cols + 1, 1));
    assert_ok(f->pool, strata_dataset_drop(f->pool, "r", "x"));
    strata_gc_opts go = {.grace_s = -1};
    assert_ok(f->pool, strata_gc(f->pool, &go, NULL));
    strata_snapshot *s;
    assert_status(f->pool, strata_snapshot_open(f->pool, "r", "x", 0, &s), STRATA_ENOTFOUND);
    assert_null(s);
}

/* Column statistics: exact over batches, cached in the catalog for every process and handle, a
 * new batch is a new content, strings and unknown columns refused. */
static void summaries_are_exact_and_cached_in_the_catalog(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "trips", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "trips", &ds));
    uint64_t sizes[3] = {300, 0, 700}; /* fares 0 .. 999 */
    add_batches(f, ds, 0, sizes, 3);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "trips", 0, &s));
    strata_summary sum;
    assert_ok(f->pool, strata_snapshot_summary(s, 1, &sum));
    assert_int_equal(sum.count, 1000);
    assert_int_equal(sum.nan, 0);
    assert_true(sum.min == 0 && sum.max == 999 && sum.mean == 499.5);
    assert_true(fabs(sum.std - sqrt((1000.0 * 1000.0 - 1) / 12)) < 1e-9);
    uint64_t total = 0;
    for (int b = 0; b < STRATA_HIST_BINS; b++) {
        /* equal bins of width 999/32: 31 or 32 values each */
        assert_true(sum.hist[b] == 31 || sum.hist[b] == 32);
        total += sum.hist[b];
    }
    assert_int_equal(total, 1000);
    assert_int_equal(sum.cached, 0);
    assert_int_equal(sum.version, 1);
    /* a second handle on the pool (another process would do the same) reads the catalog */
    strata_pool *p2;
    assert_ok(f->pool, strata_pool_open(f->path, &p2));
    strata_snapshot *s2;
    assert_ok(p2, strata_snapshot_open(p2, "r", "trips", 0, &s2));
    strata_summary again;
    assert_ok(p2, strata_snapshot_summary(s2, 1, &again));
    assert_int_equal(again.cached, 1);
    assert_int_equal(again.count, 1000);
    assert_true(again.std == sum.std && again.mean == sum.mean);
    assert_memory_equal(again.hist, sum.hist, sizeof sum.hist);
    strata_snapshot_close(s2);
    /* booleans and floats too */
    assert_ok(f->pool, strata_snapshot_summary(s, 3, &sum));
    assert_true(sum.count == 1000 && sum.mean == 0.5 && sum.hist[0] == 500 &&
                sum.hist[STRATA_HIST_BINS - 1] == 500);
    assert_ok(f->pool, strata_snapshot_summary(s, 2, &sum));
    assert_true(sum.max == 499.5);
    /* a new batch is new content: computed again, at the new version; the old snapshot still
     * finds its own */
    uint64_t one = 1;
    add_batches(f, ds, -1000, &one, 1);
    assert_ok(p2, strata_snapshot_open(p2, "r", "trips", 0, &s2));
    assert_ok(p2, strata_snapshot_summary(s2, 1, &again));
    assert_int_equal(again.cached, 0);
    assert_int_equal(again.count, 1001);
    assert_true(again.min == -1000);
    assert_int_equal(again.version, 2);
    strata_snapshot_close(s2);
    assert_ok(f->pool, strata_snapshot_summary(s, 1, &sum));
    assert_int_equal(sum.cached, 1);
    assert_int_equal(sum.count, 1000);
    /* bad input */
    assert_status(f->pool, strata_snapshot_summary(s, 0, &sum), STRATA_ETYPE);
    assert_errmsg_has(f->pool, "holds strings");
    assert_status(f->pool, strata_snapshot_summary(s, 9, &sum), STRATA_ERANGE);
    assert_status(f->pool, strata_snapshot_summary(s, 1, NULL), STRATA_EINVAL);
    strata_snapshot_close(s);
    strata_dataset_close(ds);
    /* dropping the dataset drops its cached summaries */
    assert_ok(f->pool, strata_dataset_drop(f->pool, "r", "trips"));
    strata_pool_close(p2);
}

/* gc in another process, grace 0: returns the number of orphans it removed (at most 9) plus ten
 * times the places it left because a writer was busy there (at most 9). */
static int gc_in_child(fixture *f)
{
    pid_t pid = fork();
    if (pid == 0) {
        strata_pool *p;
        if (strata_pool_open(f->path, &p) != STRATA_OK) _exit(100);
        strata_gc_opts go = {.grace_s = -1};
        strata_gc_stats gs;
        int rc = strata_gc(p, &go, &gs);
        strata_pool_close(p);
        if (rc != STRATA_OK) _exit(101);
        int removed = gs.orphans_removed > 9 ? 9 : (int)gs.orphans_removed;
        int busy = gs.busy_skipped > 9 ? 9 : (int)gs.busy_skipped;
        _exit(removed + 10 * busy);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A writer's finished but unpublished batch files, and the file of a batch still being written,
 * are not orphans: gc (grace 0, another process) leaves them, the writer publishes, nothing is
 * missing. Once the writer has gone, what it left unpublished is an orphan again. */
static void gc_never_removes_a_writers_unpublished_files(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "w", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "w", &ds));
    strata_batch *b;
    assert_ok(f->pool, strata_batch_begin(ds, &b));
    append_rows(f, b, 0, 50);
    assert_ok(f->pool, strata_batch_commit(b)); /* durable, not published */
    assert_ok(f->pool, strata_batch_begin(ds, &b));
    append_rows(f, b, 50, 25);            /* still being written */
    usleep(20000);                        /* older than the gc's start */
    assert_int_equal(gc_in_child(f), 10); /* nothing removed, the dataset left as busy */
    assert_ok(f->pool, strata_batch_commit(b));
    int64_t v;
    assert_ok(f->pool, strata_publish(ds, &v));
    uint64_t damaged = 1;
    assert_ok(f->pool, strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "w", 0, &s));
    int64_t fare[75];
    assert_ok(f->pool, strata_snapshot_read(s, 1, 0, 75, fare));
    for (int i = 0; i < 75; i++) assert_int_equal(fare[i], i);
    strata_snapshot_close(s);
    strata_dataset_close(ds);
    /* a writer that dies without publishing leaves orphans that gc then removes */
    pid_t pid = fork();
    if (pid == 0) {
        strata_pool *p;
        strata_dataset *d2;
        strata_batch *b2;
        if (strata_pool_open(f->path, &p) != STRATA_OK ||
            strata_dataset_open(p, "r", "w", &d2) != STRATA_OK ||
            strata_batch_begin(d2, &b2) != STRATA_OK)
            _exit(1);
        fixture child = *f;
        child.pool = p;
        append_rows(&child, b2, 75, 5);
        _exit(strata_batch_commit(b2) == STRATA_OK ? 0 : 2);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    usleep(20000);
    assert_int_equal(gc_in_child(f), 5); /* four column files, one bytes file of strings */
    assert_ok(f->pool, strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged));
}

/* Something being created outside any object's directory (here a directory in a region, as a
 * dataset's is before its catalog row) is no orphan while its creator holds the pool's gc lock:
 * gc waits a moment, then leaves it; once the creator is gone, gc removes it. */
static void gc_leaves_what_a_creator_is_making(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 4, NULL));
    strata_array_info ai;
    strata_array *a;
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &a));
    assert_ok(f->pool, strata_array_stat(a, 0, &ai));
    char half[4096];
    snprintf(half, sizeof half, "%s", ai.path);
    strata_array_close(a);
    snprintf(strrchr(half, '/'), 32, "/halfmade");
    int hold = st_pool_create_begin(f->pool);
    assert_true(hold >= 0);
    assert_int_equal(mkdir(half, 0755), 0);
    usleep(20000);
    assert_int_equal(gc_in_child(f), 10);
    assert_int_equal(access(half, F_OK), 0);
    st_pool_create_end(f->pool, hold);
    assert_int_equal(gc_in_child(f), 1);
    assert_int_equal(access(half, F_OK), -1);
}

/* An interrupt check that stops on its Nth call (0: never) and counts its calls. */
typedef struct stopper {
    int calls, stop_at;
} stopper;
static int stop_at_nth(void *ctx)
{
    stopper *st = ctx;
    return ++st->calls == st->stop_at;
}

static void a_summary_stops_at_the_interrupt_check_and_caches_nothing(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "trips", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "trips", &ds));
    /* 2.5 Mi rows in one batch: three pieces per pass, six checks in all */
    uint64_t sizes[2] = {(uint64_t)5 << 19, 10};
    add_batches(f, ds, 0, sizes, 2);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "trips", 0, &s));
    stopper st = {0, 5};
    assert_ok(f->pool, strata_pool_set_interrupt(f->pool, stop_at_nth, &st));
    strata_summary sum;
    assert_status(f->pool, strata_snapshot_summary(s, 1, &sum), STRATA_ECANCELED);
    assert_int_equal(st.calls, 5);
    assert_non_null(strstr(strata_errmsg(f->pool), "column 'fare' of 'r/trips'"));
    assert_string_equal(strata_errname(STRATA_ECANCELED), "STRATA_ECANCELED");
    /* nothing was cached: the next call computes, checking before each piece */
    st = (stopper){0, 0};
    assert_ok(f->pool, strata_snapshot_summary(s, 1, &sum));
    assert_int_equal(sum.cached, 0);
    assert_int_equal(st.calls, 2 * 4);
    assert_int_equal(sum.count, ((uint64_t)5 << 19) + 10);
    assert_true(sum.min == 0 && sum.max == (double)(((uint64_t)5 << 19) + 9));
    /* a cached summary asks nothing; without a check nothing is asked either */
    assert_ok(f->pool, strata_snapshot_summary(s, 1, &sum));
    assert_int_equal(sum.cached, 1);
    assert_int_equal(st.calls, 8);
    assert_ok(f->pool, strata_pool_set_interrupt(f->pool, NULL, NULL));
    assert_ok(f->pool, strata_snapshot_summary(s, 2, &sum));
    assert_int_equal(st.calls, 8);
    assert_int_equal(strata_pool_set_interrupt(NULL, NULL, NULL), STRATA_EINVAL);
    strata_snapshot_close(s);
    strata_dataset_close(ds);
}

/* Nullable columns: the validity bitmap is stored only for a batch column with nulls, null slots
 * are stored as zero (empty strings), statistics skip them, and check verifies the bitmap. */
static void nulls_are_stored_as_a_bitmap_only_when_present(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "n", trip_cols, 4));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "n", &ds));
    enum { N = 21 };
    int64_t fare[N], off[N + 1];
    double dist[N];
    uint8_t paid[N], valid[3] = {0}, none[3] = {0xFF, 0xFF, 0xFF};
    char bytes[N * 4];
    off[0] = 0;
    for (int i = 0; i < N; i++) {
        fare[i] = 1000 - i;
        dist[i] = i;
        paid[i] = 7; /* not a bool: ignored where null */
        if (i % 3 != 2) {
            valid[i / 8] |= (uint8_t)(1u << (i % 8));
            paid[i] = (uint8_t)(i & 1);
        }
        off[i + 1] = off[i] + sprintf(bytes + off[i], "s%d", i);
    }
    strata_batch *b;
    /* batch 0: nulls in pieces that cross byte boundaries; batch 1: no nulls, so no bitmap */
    for (int batch = 0; batch < 2; batch++) {
        const uint8_t *v = batch == 0 ? valid : none;
        assert_ok(f->pool, strata_batch_begin(ds, &b));
        assert_ok(f->pool, strata_batch_append_str_nullable(b, 0, off, bytes, v, N));
        assert_ok(f->pool, strata_batch_append(b, 1, fare, 2)); /* valid so far */
        uint8_t tail[3] = {0};
        for (int i = 2; i < N; i++)
            if (v[i / 8] >> (i % 8) & 1) tail[(i - 2) / 8] |= (uint8_t)(1u << ((i - 2) % 8));
        assert_ok(f->pool, strata_batch_append_nullable(b, 1, fare + 2, tail, N - 2));
        assert_ok(f->pool, strata_batch_append_nullable(b, 2, dist, v, N));
        uint8_t ones[N];
        memset(ones, 1, sizeof ones);
        assert_ok(f->pool, strata_batch_append_nullable(b, 3, batch == 0 ? paid : ones, v, N));
        assert_ok(f->pool, strata_batch_commit(b));
    }
    int64_t version;
    assert_ok(f->pool, strata_publish(ds, &version));
    strata_dataset_close(ds);

    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "n", 0, &s));
    for (int c = 0; c < 4; c++) {
        const uint8_t *got;
        assert_ok(f->pool, strata_snapshot_map_valid(s, 0, c, &got));
        assert_non_null(got);
        for (int i = 0; i < N; i++) assert_int_equal(got[i / 8] >> (i % 8) & 1, i % 3 != 2);
        assert_ok(f->pool, strata_snapshot_map_valid(s, 1, c, &got));
        assert_null(got);
        strata_column_stats st;
        assert_ok(f->pool, strata_snapshot_stats(s, 0, c, &st));
        assert_int_equal(st.nulls, 7);
        assert_ok(f->pool, strata_snapshot_stats(s, 1, c, &st));
        assert_int_equal(st.nulls, 0);
    }
    const int64_t *o;
    const char *by;
    const void *data;
    assert_ok(f->pool, strata_snapshot_map_str(s, 0, 0, &o, &by));
    assert_int_equal(o[3] - o[2], 0); /* row 2 is null: stored empty */
    assert_memory_equal(by + o[1], "s1", 2);
    assert_memory_equal(by + o[3], "s3", 2);
    assert_ok(f->pool, strata_snapshot_map(s, 0, 1, &data));
    assert_int_equal(((const int64_t *)data)[2], 0);
    assert_int_equal(((const int64_t *)data)[3], 997);
    strata_column_stats st;
    assert_ok(f->pool, strata_snapshot_stats(s, 0, 1, &st));
    assert_int_equal(st.max_i, 1000);
    assert_int_equal(st.min_i, 981); /* row 20 (980) is null */
    assert_ok(f->pool, strata_snapshot_map(s, 0, 3, &data));
    assert_int_equal(((const uint8_t *)data)[2], 0);
    strata_snapshot_close(s);
    uint64_t damaged = 1;
    assert_ok(f->pool, strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    /* a damaged bitmap is found */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "f=$(ls %s/data/*/*/*.1.valid.npy | head -1); "
             "printf '\\x00' | dd of=$f bs=1 seek=129 conv=notrunc 2>/dev/null",
             f->path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged), STRATA_ECORRUPT);
    assert_int_equal(damaged, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(create_write_publish_read),
        T(batches_with_unequal_columns_are_refused),
        T(schema_errors),
        T(time_travel_and_snapshot_isolation),
        T(a_second_writer_waits_then_fails_with_elocked),
        T(drop_keeps_open_snapshots_readable),
        T(a_dead_reader_holds_nothing),
        T(two_pool_handles_are_two_lock_holders),
        T(pg_locks_are_the_servers),
        T(a_snapshot_of_a_dataset_dropped_meanwhile_fails_cleanly),
        T(summaries_are_exact_and_cached_in_the_catalog),
        T(gc_never_removes_a_writers_unpublished_files),
        T(gc_leaves_what_a_creator_is_making),
        T(a_summary_stops_at_the_interrupt_check_and_caches_nothing),
        T(nulls_are_stored_as_a_bitmap_only_when_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
