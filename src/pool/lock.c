/*
 * lock.c -- array locks between processes, on open file description (OFD) locks.
 *
 * OFD locks (fcntl F_OFD_SETLK) belong to one open() of the array file, that is to one
 * strata_array handle: two handles conflict even inside one process, a lock is released when
 * its handle closes, and the kernel releases it when the holding process dies, SIGKILL
 * included. The array file is opened with O_CLOEXEC, so a lock never leaks into a program the
 * holder executes. Waiting is a poll with growing sleeps up to the caller's timeout: no signals,
 * no threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool_int.h"

static int try_lock(int fd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int strata_array_lock(strata_array *a, strata_lock_mode mode, int timeout_ms)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    st_err *err = &a->pool->err;
    if (mode != STRATA_LOCK_SHARED && mode != STRATA_LOCK_EXCLUSIVE)
        return st_error(err, STRATA_EINVAL, "unknown lock mode %d", (int)mode);
    if (mode == STRATA_LOCK_EXCLUSIVE && !a->writable)
        return st_error(err, STRATA_EPERM,
                        "cannot lock array '%s/%s' exclusively: its file is read-only", a->region,
                        a->name);
    short type = mode == STRATA_LOCK_SHARED ? F_RDLCK : F_WRLCK;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    long sleep_us = 200;
    for (;;) {
        if (try_lock(a->fd, type) == 0) {
            a->lock_mode = (int)mode;
            return STRATA_OK;
        }
        if (errno != EAGAIN && errno != EACCES && errno != EINTR)
            return st_error_errno(err, errno, "cannot lock array '%s/%s'", a->region, a->name);
        int64_t now = mono_ms();
        if (now >= deadline)
            return st_error(err, STRATA_ELOCKED,
                            "array '%s/%s' is locked by another holder (waited %d ms)", a->region,
                            a->name, timeout_ms < 0 ? 0 : timeout_ms);
        long left_us = (long)((deadline - now) * 1000);
        struct timespec ts = {0, (sleep_us < left_us ? sleep_us : left_us) * 1000};
        nanosleep(&ts, NULL);
        if (sleep_us < 20000) sleep_us *= 2;
    }
}

int strata_array_unlock(strata_array *a)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (a->lock_mode < 0) return STRATA_OK;
    if (try_lock(a->fd, F_UNLCK) != 0)
        return st_error_errno(&a->pool->err, errno, "cannot unlock array '%s/%s'", a->region,
                              a->name);
    a->lock_mode = -1;
    return STRATA_OK;
}

/* Ask the kernel whether a write lock could be taken through FD: who holds a conflicting lock. */
static int probe(st_err *err, int fd, const char *what)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return st_error_errno(err, errno, "cannot test the lock of %s", what);
    if (fl.l_type != F_UNLCK) return st_error(err, STRATA_ELOCKED, "%s is locked", what);
    return STRATA_OK;
}

int strata_array_lock_test(strata_array *a)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    char what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "array '%s/%s'", a->region, a->name);
    return probe(&a->pool->err, a->fd, what);
}

int st_file_lock_test(st_err *err, const char *path, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return STRATA_OK; /* nothing to hold a lock on */
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    int rc = probe(err, fd, what);
    close(fd);
    return rc;
}
