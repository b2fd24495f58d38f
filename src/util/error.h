/*
 * error.h -- the error context every layer writes into.
 *
 * A failure is reported twice: as the negative status a function returns, and as a message in
 * an st_err owned by the handle the call came through (the pool). Helpers return the code they
 * record, so a failure is one line: `return st_error(err, STRATA_ERANGE, "...", ...);`.
 *
 * In debug builds (NDEBUG not defined) st_error() and st_error_errno() are macros that also
 * record the file:line they were called from, as zstd's FORWARD_IF_ERROR logs its place;
 * strata_errwhere() reads it. Release builds call the plain functions and record no place.
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
    /* Debug builds: "src/store/batch.c:412", where the failure in MSG was first recorded; ""
     * in release builds. Present in both so that the struct has one layout. */
    char where[64];
} st_err;

void st_err_init(st_err *e);
void st_err_destroy(st_err *e);

/* Record CODE with a printf-style message; returns CODE. E may be NULL. */
int st_error(st_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record the failure of a system call that set ERRNUM: the code is derived from ERRNUM
 * (ENOSPC, EACCES, ENOMEM, ...; EIO for the rest) and ": strerror(ERRNUM)" ends the message. */
int st_error_errno(st_err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifndef NDEBUG
/* The debug builds' versions of the two above: they also record FILE:LINE in E->where, unless
 * the new message ends with the one E holds (an outer layer wrapping the failure with its own
 * context: "cannot publish 'a/b': <the inner message>"), which keeps the inner failure's place. */
int st_error_at(const char *file, int line, st_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int st_error_errno_at(const char *file, int line, st_err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define st_error(e, code, ...)         st_error_at(__FILE__, __LINE__, e, code, __VA_ARGS__)
#define st_error_errno(e, errnum, ...) st_error_errno_at(__FILE__, __LINE__, e, errnum, __VA_ARGS__)
#endif

/* Where E's failure was recorded ("src/pool/array.c:118"), for strata_errwhere(); always "" in
 * release builds. Owned by E. */
const char *st_err_where(st_err *e);

/* The status code that best describes ERRNUM. */
int st_code_from_errno(int errnum);

/* Copy E's message into BUF (NUL-terminated, truncated to LEN). */
void st_err_copy(st_err *e, char *buf, size_t len);

/* Propagate a failing status: `ST_TRY(rc = f(...));` jumps to `done` when rc < 0. The place of
 * the failure is the st_error() that recorded it (debug builds), not this line. */
#define ST_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((expr) < 0) goto done;                                                                 \
    } while (0)

#endif /* STRATA_UTIL_ERROR_H */
