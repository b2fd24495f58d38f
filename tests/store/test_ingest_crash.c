/* Crash and concurrency of ingest. Writers are `strata ingest` processes (fork + exec of the
 * CLI, whose path is argv[1]): a real command killed at random, and no OpenMP runtime carried
 * across a fork (libgomp is not fork-safe).
 * - kill -9 an ingest at random moments (STRATA_CRASH_PER_PATH trials, default 50; STRATA_LONG=1
 *   for 1000): afterwards check
 *   finds no damage, every version's rows equal the sum of its batches, every batch equals its
 *   rows of the source, an all-or-nothing ingest added all rows or none, and a rerun completes.
 * - one process ingests 100 batches (a publish each) while four readers open the latest
 *   snapshot over and over and verify row counts, ids and values; no reader ever errors. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_util.h"

#define ROWS  60000
#define BATCH 5000

static const char *strata_cli;

/* fork + exec: strata -P POOL ingest r/NAME FILE --batch-rows N [--publish-each] --quiet */
static pid_t spawn_ingest(const char *pool, const char *ds, const char *file, const char *rows,
                          int each)
{
    pid_t pid = fork();
    if (pid == 0) {
        char target[64];
        snprintf(target, sizeof target, "r/%s", ds);
        const char *argv[] = {
            strata_cli, "-P",           pool, "ingest",  target,
            file,       "--batch-rows", rows, "--quiet", each ? "--publish-each" : NULL,
            NULL};
        execv(strata_cli, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static char *make_source(fixture *f, const char *name, uint64_t rows)
{
    char *path = malloc(4200);
    snprintf(path, 4200, "%s/../%s", f->path, name);
    FILE *fp = fopen(path, "w");
    fputs("a,b,s\n", fp);
    for (uint64_t i = 0; i < rows; i++)
        fprintf(fp, "%llu,%llu,r%llu\n", (unsigned long long)i, (unsigned long long)i * 3,
                (unsigned long long)i);
    fclose(fp);
    return path;
}

/* Every batch of S holds consecutive source rows starting at a multiple of BATCH_ROWS. */
static int verify_snapshot(strata_pool *p, strata_snapshot *s, uint64_t batch_rows)
{
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    uint64_t sum = 0;
    for (uint64_t b = 0; b < d.nbatches; b++) {
        strata_batch_info bi;
        const int64_t *a, *bb, *off;
        const char *bytes;
        if (strata_snapshot_batch(s, b, &bi) != STRATA_OK) return -1;
        if (bi.first_row != sum) return -2;
        sum += bi.nrows;
        if (bi.nrows == 0) continue;
        if (strata_snapshot_map(s, b, 0, (const void **)&a) != STRATA_OK ||
            strata_snapshot_map(s, b, 1, (const void **)&bb) != STRATA_OK ||
            strata_snapshot_map_str(s, b, 2, &off, &bytes) != STRATA_OK) {
            fprintf(stderr, "%s\n", strata_errmsg(p));
            return -3;
        }
        if ((uint64_t)a[0] % batch_rows != 0) return -4;
        for (uint64_t r = 0; r < bi.nrows; r++) {
            char want[32];
            int n = snprintf(want, sizeof want, "r%lld", (long long)a[r]);
            if (a[r] != a[0] + (int64_t)r || bb[r] != 3 * a[r] || off[r + 1] - off[r] != n ||
                memcmp(bytes + off[r], want, (size_t)n) != 0)
                return -5;
        }
    }
    return sum == d.nrows ? 0 : -6;
}

/* Versions at or below this were verified by an earlier trial (they are immutable). */
static int64_t verified_upto;

static int check_version(void *ctx, const strata_version_info *v)
{
    strata_pool *p = ctx;
    if (v->version <= verified_upto) return 0;
    strata_snapshot *s;
    if (strata_snapshot_open(p, "r", "d", v->version, &s) != STRATA_OK) return -10;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    int rc = d.nrows == v->total_rows ? verify_snapshot(p, s, BATCH) : -11;
    strata_snapshot_close(s);
    return rc;
}

static uint64_t rows_now(strata_pool *p)
{
    strata_dataset *ds;
    if (strata_dataset_open(p, "r", "d", &ds) != STRATA_OK) return 0;
    strata_dataset_desc d;
    strata_dataset_info(ds, &d);
    strata_dataset_close(ds);
    return d.nrows;
}

static void kill_9_during_ingest_leaves_a_consistent_dataset(void **state)
{
    fixture *f = *state;
    char *src = make_source(f, "src.csv", ROWS);
    const char *files[1] = {src};
    const char *lng = getenv("STRATA_LONG"), *per = getenv("STRATA_CRASH_PER_PATH");
    int trials = per != NULL && atoi(per) > 0 ? atoi(per) : 50;
    if (lng != NULL && atoi(lng) > 0) trials = 1000;
    unsigned seed = (unsigned)time(NULL);
    print_message("seed %u, %d trials\n", seed, trials);
    /* How long does an uninterrupted ingest take? Kill within that span. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t warm_pid = spawn_ingest(f->path, "d", src, "5000", 0);
    int warm_status;
    waitpid(warm_pid, &warm_status, 0);
    assert_true(WIFEXITED(warm_status) && WEXITSTATUS(warm_status) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    strata_ingest_opts warm = {.batch_rows = BATCH};
    long span_us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000 + 1000;
    int killed = 0;
    for (int t = 0; t < trials; t++) {
        int each = t % 2;
        uint64_t before = rows_now(f->pool);
        pid_t pid = spawn_ingest(f->path, "d", src, "5000", each);
        assert_true(pid > 0);
        struct timespec ts = {0, (long)(rand_r(&seed) % (unsigned long)span_us) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status))
            killed++;
        else
            assert_int_equal(WEXITSTATUS(status), 0);
        uint64_t damaged = 99;
        assert_ok(f->pool, strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged));
        assert_int_equal(damaged, 0);
        int rc = strata_dataset_log(f->pool, "r", "d", check_version, f->pool);
        if (rc != 0)
            fail_msg("trial %d: a version is inconsistent (%d): %s", t, rc, strata_errmsg(f->pool));
        strata_dataset *ds;
        strata_dataset_desc dd;
        assert_ok(f->pool, strata_dataset_open(f->pool, "r", "d", &ds));
        assert_ok(f->pool, strata_dataset_info(ds, &dd));
        strata_dataset_close(ds);
        verified_upto = dd.version;
        uint64_t after = rows_now(f->pool);
        if (!each)
            assert_true(after == before || after == before + ROWS); /* all or nothing */
        else
            assert_true(after >= before && after <= before + ROWS);
    }
    print_message("%d of %d ingests killed\n", killed, trials);
    /* a rerun completes, and gc removes what the killed writers left behind */
    uint64_t before = rows_now(f->pool);
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "d", files, 1, &warm, NULL));
    assert_int_equal(rows_now(f->pool), before + ROWS);
    strata_gc_opts go = {.grace_s = -1};
    strata_gc_stats gs;
    assert_ok(f->pool, strata_gc(f->pool, &go, &gs));
    uint64_t damaged = 99;
    assert_ok(f->pool, strata_check(f->pool, NULL, NULL, NULL, NULL, &damaged));
    assert_int_equal(damaged, 0);
    verified_upto = 0; /* a last, full pass over every version */
    assert_int_equal(strata_dataset_log(f->pool, "r", "d", check_version, f->pool), 0);
    free(src);
}

/* A reader: open the latest snapshot until it has seen version FINAL; verify each. */
static int reader(const char *path, int64_t final)
{
    strata_pool *p;
    if (strata_pool_open(path, &p) != STRATA_OK) return 20;
    int64_t seen = -1;
    int rounds = 0;
    time_t deadline = time(NULL) + 120;
    while (seen < final && time(NULL) < deadline) {
        strata_snapshot *s;
        int rc = strata_snapshot_open(p, "r", "c", 0, &s);
        if (rc != STRATA_OK) {
            fprintf(stderr, "reader: %s\n", strata_errmsg(p));
            return 21;
        }
        strata_dataset_desc d;
        strata_snapshot_info(s, &d);
        if (d.version < seen) return 22; /* versions never go back */
        seen = d.version;
        if (d.nbatches != (uint64_t)d.version) return 23; /* one batch per publish */
        if (verify_snapshot(p, s, 600) != 0) return 24;
        /* rows are the source rows in order: a == global row id */
        if (d.nrows > 0) {
            int64_t last;
            if (strata_snapshot_read(s, 0, d.nrows - 1, 1, &last) != STRATA_OK) return 25;
            if (last != (int64_t)d.nrows - 1) return 26;
        }
        strata_snapshot_close(s);
        rounds++;
        struct timespec pause = {0, 2000000}; /* leave the writer some of the 2 cores */
        nanosleep(&pause, NULL);
    }
    strata_pool_close(p);
    fprintf(stderr, "reader: %d snapshots verified\n", rounds);
    return seen == final && rounds > 0 ? 0 : 27;
}

static void readers_see_consistent_snapshots_while_a_writer_ingests(void **state)
{
    fixture *f = *state;
    char *src = make_source(f, "src100.csv", 60000);
    const char *files[1] = {src};
    (void)files;
    pid_t w = spawn_ingest(f->path, "c", src, "600", 1); /* 100 batches, 100 versions */
    assert_true(w > 0);
    /* wait for the dataset to exist */
    strata_dataset *ds = NULL;
    for (int i = 0; i < 2000 && strata_dataset_open(f->pool, "r", "c", &ds) != STRATA_OK; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_non_null(ds);
    strata_dataset_close(ds);
    pid_t r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = fork();
        if (r[i] == 0) _exit(reader(f->path, 100));
    }
    int status;
    waitpid(w, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < 4; i++) {
        waitpid(r[i], &status, 0);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0) fail_msg("reader %d failed with %d", i, WEXITSTATUS(status));
    }
    free(src);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_ingest_crash PATH_TO_STRATA\n");
        return 2;
    }
    strata_cli = argv[1];
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(kill_9_during_ingest_leaves_a_consistent_dataset),
        T(readers_see_consistent_snapshots_while_a_writer_ingests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
