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
    char what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "array '%s/%s'", a->region, a->name);
    rc = st_lock_fd(err, a->fd, mode == STRATA_LOCK_EXCLUSIVE, 0, 0, timeout_ms, what);
    if (rc == STRATA_OK) a->lock_mode = (int)mode;
    return rc;
}

int strata_array_unlock(strata_array *a)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    if (a->lock_mode < 0) return STRATA_OK;
    char what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "array '%s/%s'", a->region, a->name);
    if ((rc = st_unlock_fd(&a->pool->err, a->fd, 0, 0, what)) < 0) return rc;
    a->lock_mode = -1;
    return STRATA_OK;
}

int strata_array_lock_test(strata_array *a)
{
    int rc = st_array_check(a);
    if (rc < 0) return rc;
    char what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "array '%s/%s'", a->region, a->name);
    return st_lock_probe(&a->pool->err, a->fd, 0, 0, what);
}

int st_file_lock_test(st_err *err, const char *path, const char *what)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return STRATA_OK; /* nothing to hold a lock on */
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    int rc = st_lock_probe(err, fd, 0, 0, what);
    close(fd);
    return rc;
}
