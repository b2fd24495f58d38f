/* Locks between handles and processes: modes, timeouts, release on close and on SIGKILL, and
 * deletes that refuse while an array is locked. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "test_util.h"

static void modes_conflict_as_they_should(void **state)
{
    fixture *f = *state;
    strata_array *a, *b, *c;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 1, &a));
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &b));
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &c));
    assert_ok(f->pool, strata_array_lock_test(b));
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_SHARED, 0));
    assert_ok(f->pool, strata_array_lock(b, STRATA_LOCK_SHARED, 0)); /* shared + shared */
    assert_status(f->pool, strata_array_lock(c, STRATA_LOCK_EXCLUSIVE, 0), STRATA_ELOCKED);
    assert_errmsg_has(f->pool, "array 'r/a' is locked");
    assert_status(f->pool, strata_array_lock_test(c), STRATA_ELOCKED);
    assert_ok(f->pool, strata_array_unlock(a));
    assert_ok(f->pool, strata_array_unlock(b));
    assert_ok(f->pool, strata_array_unlock(b)); /* unlocking twice is a no-op */
    assert_ok(f->pool, strata_array_lock(c, STRATA_LOCK_EXCLUSIVE, 0));
    assert_status(f->pool, strata_array_lock(a, STRATA_LOCK_SHARED, 0), STRATA_ELOCKED);
    assert_ok(f->pool, strata_array_lock_test(c)); /* its own lock does not count */
    strata_array_close(c);                         /* closing releases */
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_EXCLUSIVE, 0));
    assert_status(f->pool, strata_array_lock(b, (strata_lock_mode)9, 0), STRATA_EINVAL);
    strata_array_close(a);
    strata_array_close(b);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void a_waiter_times_out_after_about_its_timeout(void **state)
{
    fixture *f = *state;
    strata_array *a, *b;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 1, &a));
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &b));
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_EXCLUSIVE, 0));
    double t0 = now_s();
    assert_status(f->pool, strata_array_lock(b, STRATA_LOCK_EXCLUSIVE, 150), STRATA_ELOCKED);
    double dt = now_s() - t0;
    assert_true(dt >= 0.14);
    assert_true(dt < 5.0);
    strata_array_close(a);
    strata_array_close(b);
}

/* A child takes the lock, says so through a pipe, and waits to be killed. */
static void a_lock_of_a_killed_process_is_released(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 1, NULL));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        strata_pool *p;
        strata_array *a;
        if (strata_pool_open(f->path, &p) != STRATA_OK) _exit(10);
        if (strata_array_open(p, "r", "a", &a) != STRATA_OK) _exit(11);
        if (strata_array_lock(a, STRATA_LOCK_EXCLUSIVE, 0) != STRATA_OK) _exit(12);
        if (write(fds[1], "L", 1) != 1) _exit(13);
        for (;;) pause();
    }
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    strata_array *a;
    assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &a));
    assert_status(f->pool, strata_array_lock(a, STRATA_LOCK_SHARED, 50), STRATA_ELOCKED);
    assert_status(f->pool, strata_array_delete(f->pool, "r", "a"), STRATA_ELOCKED);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_EXCLUSIVE, 2000));
    strata_array_close(a);
    close(fds[0]);
    close(fds[1]);
}

/* A waiter with a long timeout gets the lock as soon as the holder releases it. */
static void a_waiter_gets_the_lock_when_released(void **state)
{
    fixture *f = *state;
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 1, &a));
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_EXCLUSIVE, 0));
    pid_t pid = fork();
    if (pid == 0) {
        strata_pool *p;
        strata_array *b;
        if (strata_pool_open(f->path, &p) != STRATA_OK) _exit(10);
        if (strata_array_open(p, "r", "a", &b) != STRATA_OK) _exit(11);
        _exit(strata_array_lock(b, STRATA_LOCK_EXCLUSIVE, 10000) == STRATA_OK ? 0 : 12);
    }
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    assert_ok(f->pool, strata_array_unlock(a));
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    strata_array_close(a);
}

static void region_delete_refuses_while_locked_unless_forced(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_region_create(f->pool, "busy"));
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "busy", "x", STRATA_I64, 1, NULL));
    assert_ok(f->pool, strata_array_create(f->pool, "busy", "y", STRATA_I64, 1, &a));
    assert_ok(f->pool, strata_array_lock(a, STRATA_LOCK_SHARED, 0));
    assert_status(f->pool, strata_region_delete(f->pool, "busy", 0), STRATA_ELOCKED);
    assert_errmsg_has(f->pool, "array 'y' is locked");
    assert_ok(f->pool, strata_region_exists(f->pool, "busy"));
    strata_array *x;
    assert_ok(f->pool, strata_array_open(f->pool, "busy", "x", &x)); /* nothing was deleted */
    strata_array_close(x);
    assert_ok(f->pool, strata_region_delete(f->pool, "busy", STRATA_FORCE));
    assert_status(f->pool, strata_region_exists(f->pool, "busy"), STRATA_ENOTFOUND);
    int64_t v;
    assert_status(f->pool, strata_array_get(a, 0, 1, &v), STRATA_ENOTFOUND);
    strata_array_close(a);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(modes_conflict_as_they_should),
        T(a_waiter_times_out_after_about_its_timeout),
        T(a_lock_of_a_killed_process_is_released),
        T(a_waiter_gets_the_lock_when_released),
        T(region_delete_refuses_while_locked_unless_forced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
