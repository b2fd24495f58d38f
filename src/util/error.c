/*
 * error.c -- status codes, their names and messages, and the per-handle error context.
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *strata_strerror(int code)
{
    switch (code) {
#define ST_MSG_CASE(name, c, msg)                                                                  \
    case c:                                                                                        \
        return msg;
        STRATA_ERRNO_MAP(ST_MSG_CASE)
#undef ST_MSG_CASE
    }
    return "unknown error";
}

const char *strata_errname(int code)
{
    switch (code) {
#define ST_NAME_CASE(name, c, msg)                                                                 \
    case c:                                                                                        \
        return "STRATA_" #name;
        STRATA_ERRNO_MAP(ST_NAME_CASE)
#undef ST_NAME_CASE
    }
    return "STRATA_EUNKNOWN";
}

void st_err_init(st_err *e)
{
    pthread_mutex_init(&e->mu, NULL);
    e->code = STRATA_OK;
    e->msg[0] = '\0';
    e->where[0] = '\0';
}

void st_err_destroy(st_err *e)
{
    pthread_mutex_destroy(&e->mu);
}

__attribute__((format(printf, 4, 0))) static int verror(st_err *e, int code, const char *suffix,
                                                        const char *fmt, va_list ap)
{
    if (e == NULL) return code;
    pthread_mutex_lock(&e->mu);
    e->code = code;
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    if (suffix != NULL && n >= 0 && (size_t)n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", suffix);
    pthread_mutex_unlock(&e->mu);
    return code;
}

/* In debug builds error.h makes st_error and st_error_errno macros; the parentheses keep these
 * definitions (the release builds' entry points) from expanding them. */
int(st_error)(st_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(e, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int st_code_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
        return STRATA_ENOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
        return STRATA_EEXIST;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return STRATA_ENOSPC;
    case EACCES:
    case EPERM:
    case EROFS:
        return STRATA_EPERM;
    case ENOMEM:
        return STRATA_ENOMEM;
    case ENAMETOOLONG:
        return STRATA_ENAME;
    case EINVAL:
        return STRATA_EINVAL;
    case EWOULDBLOCK:
        return STRATA_ELOCKED;
    default:
        return STRATA_EIO;
    }
}

int(st_error_errno)(st_err *e, int errnum, const char *fmt, ...)
{
    int code = st_code_from_errno(errnum);
    va_list ap;
    va_start(ap, fmt);
    verror(e, code, strerror(errnum), fmt, ap);
    va_end(ap);
    return code;
}

#ifndef NDEBUG
/* verror() that also records FILE:LINE, unless the new message wraps the one E holds. */
__attribute__((format(printf, 6, 0))) static int verror_at(const char *file, int line, st_err *e,
                                                           int code, const char *suffix,
                                                           const char *fmt, va_list ap)
{
    if (e == NULL) return code;
    char msg[ST_ERRMSG_MAX];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (suffix != NULL && n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", suffix);
    pthread_mutex_lock(&e->mu);
    size_t len = strlen(msg), old = strlen(e->msg);
    int wraps = e->code < 0 && e->where[0] != '\0' && old > 0 && old <= len &&
                memcmp(msg + len - old, e->msg, old) == 0;
    e->code = code;
    memcpy(e->msg, msg, len + 1);
    if (!wraps) snprintf(e->where, sizeof e->where, "%s:%d", file, line);
    pthread_mutex_unlock(&e->mu);
    return code;
}

int st_error_at(const char *file, int line, st_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_at(file, line, e, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int st_error_errno_at(const char *file, int line, st_err *e, int errnum, const char *fmt, ...)
{
    int code = st_code_from_errno(errnum);
    va_list ap;
    va_start(ap, fmt);
    verror_at(file, line, e, code, strerror(errnum), fmt, ap);
    va_end(ap);
    return code;
}
#endif

const char *st_err_where(st_err *e)
{
#ifdef NDEBUG
    (void)e;
    return "";
#else
    return e != NULL ? e->where : "";
#endif
}

void st_err_copy(st_err *e, char *buf, size_t len)
{
    if (buf == NULL || len == 0) return;
    pthread_mutex_lock(&e->mu);
    snprintf(buf, len, "%s", e->msg);
    pthread_mutex_unlock(&e->mu);
}
