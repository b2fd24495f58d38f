/*
 * error.h -- the error context every layer writes into.
 *
 * A failure is reported twice: as the negative status a function returns, and as a message in
 * an st_err owned by the handle the call came through (the pool). Helpers return the code they
 * record, so a failure is one line: `return st_error(err, STRATA_ERANGE, "...", ...);`.
 */
#ifndef STRATA_UTIL_ERROR_H
#define STRATA_UTIL_ERROR_H

#include <pthread.h>
#include <stddef.h>

#include "strata.h"

#define ST_ERRMSG_MAX 1024

typedef struct st_err {
    pthread_mutex_t mu; /* data-path calls may fail on several threads at once */
    int code;
    char msg[ST_ERRMSG_MAX];
} st_err;

void st_err_init(st_err *e);
void st_err_destroy(st_err *e);

/* Record CODE with a printf-style message; returns CODE. E may be NULL. */
int st_error(st_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record the failure of a system call that set ERRNUM: the code is derived from ERRNUM
 * (ENOSPC, EACCES, ENOMEM, ...; EIO for the rest) and ": strerror(ERRNUM)" ends the message. */
int st_error_errno(st_err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The status code that best describes ERRNUM. */
int st_code_from_errno(int errnum);

/* Copy E's message into BUF (NUL-terminated, truncated to LEN). */
void st_err_copy(st_err *e, char *buf, size_t len);

/* Propagate a failing status: `ST_TRY(rc = f(...));` jumps to `done` when rc < 0. */
#define ST_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((expr) < 0) goto done;                                                                 \
    } while (0)

#endif /* STRATA_UTIL_ERROR_H */
