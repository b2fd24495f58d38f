/*
 * parse.h -- text to values, exactly: integers with overflow detection, floats that round-trip
 * (a fast exact path for short decimals, strtod otherwise), bools, and UTF-8 validation.
 */
#ifndef STRATA_UTIL_PARSE_H
#define STRATA_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"

enum { ST_PARSE_OK = 0, ST_PARSE_BAD = -1, ST_PARSE_OVERFLOW = -2 };

/* Decimal integer: optional sign, digits, nothing else. */
int st_parse_i64(const char *s, size_t n, int64_t *out);
int st_parse_u64(const char *s, size_t n, uint64_t *out);

/* Float: what strtod accepts in the C locale, over exactly N bytes (nan, inf, exponents);
 * the result is the correctly rounded double. */
int st_parse_f64(const char *s, size_t n, double *out);

/* W * 10^Q (W > 0), negated for NEG, as the correctly rounded double into *OUT: 1; 0 when that is
 * not a normal double (zero, subnormal, infinite) or cannot be told here (then st_parse_f64() of
 * the text decides). What st_parse_f64() does for a decimal of up to 19 digits. */
int st_f64_from_decimal(uint64_t w, int q, int neg, double *out);

/* true/false (any case), 1/0. */
int st_parse_bool(const char *s, size_t n, uint8_t *out);

/* The length of the longest valid UTF-8 prefix of the N bytes at S (N when all are valid). */
size_t st_utf8_valid_prefix(const char *s, size_t n);

/* A byte count with an optional K, M or G suffix (powers of 1024); STRATA_EINVAL if malformed. */
int st_parse_size(const char *s, uint64_t *out);

#endif /* STRATA_UTIL_PARSE_H */
