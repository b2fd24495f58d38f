/*
 * name.h -- validation of user-given names (regions, arrays, backups).
 *
 * Names reach file paths and SQL parameters, so they are checked once, at the API boundary:
 * 1..STRATA_NAME_MAX bytes of valid UTF-8, no NUL, '/', '\\' or control character, not starting
 * with '-' (it would read as an option on the command line), and without "..".
 */
#ifndef STRATA_UTIL_NAME_H
#define STRATA_UTIL_NAME_H

#include <stddef.h>

#include "util/error.h"

/* STRATA_OK if the LEN bytes at S form a valid name; else STRATA_ENAME with a message naming
 * WHAT ("region", "array", ...) and the offending byte. */
int st_name_check_len(st_err *err, const char *what, const char *s, size_t len);

/* As st_name_check_len() for a NUL-terminated S (NULL gives STRATA_ENAME too). */
int st_name_check(st_err *err, const char *what, const char *s);

#endif /* STRATA_UTIL_NAME_H */
