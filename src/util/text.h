/*
 * text.h -- numbers as decimal text, written into a caller's buffer without printf's parsing
 * of a format: what text exports (CSV, JSON) write a value at a time.
 */
#ifndef STRATA_UTIL_TEXT_H
#define STRATA_UTIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Room for the text of any number these write (ST_TEXT_REAL_MAX: with its NUL). */
#define ST_TEXT_INT_MAX  21
#define ST_TEXT_REAL_MAX 32

/* V in decimal at OUT (ST_TEXT_INT_MAX bytes, no NUL); the length written. */
size_t st_text_u64(char *out, uint64_t v);
size_t st_text_i64(char *out, int64_t v);

/* V as the shortest decimal that reads back as V (F32: as the float (float)V): the fixed
 * notation of R / 10^K for the smallest K <= 8 that gives V exactly (prices and measurements,
 * "848.51", without printf), else printf's %.Pg for the smallest P from 15 (a float's 6) that
 * reads back; "nan", "inf", "-inf". At OUT, ST_TEXT_REAL_MAX bytes, NUL-terminated; the length. */
size_t st_text_real(char *out, double v, int f32);

#endif /* STRATA_UTIL_TEXT_H */
