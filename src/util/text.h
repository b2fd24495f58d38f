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

/* V in decimal at OUT (ST_TEXT_INT_MAX bytes, no NUL); the length written. Inline: a text export
 * writes one a value. */
static inline size_t st_text_u64(char *out, uint64_t v)
{
    static const char pairs[201] = "0001020304050607080910111213141516171819"
                                   "2021222324252627282930313233343536373839"
                                   "4041424344454647484950515253545556575859"
                                   "6061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    static const uint64_t p10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};
    /* the digits: log10 from the bits (1233 / 4096 ~ log10(2)), one compare to settle it */
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    size_t n = v == 0 ? 1 : (size_t)(t - (v < p10[t]) + 1);
    char *w = out + n; /* written from the last digit, two at a time */
    while (v >= 100) {
        uint64_t q = v / 100;
        w -= 2;
        __builtin_memcpy(w, pairs + 2 * (v - q * 100), 2);
        v = q;
    }
    if (v >= 10)
        __builtin_memcpy(w - 2, pairs + 2 * v, 2);
    else
        w[-1] = (char)('0' + v);
    return n;
}

static inline size_t st_text_i64(char *out, int64_t v)
{
    if (v >= 0) return st_text_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + st_text_u64(out + 1, -(uint64_t)v); /* (INT64_MIN too: unsigned negation) */
}

/* V as the shortest decimal that reads back as V (F32: the float (float)V, whatever V holds
 * beyond it): the fixed
 * notation of R / 10^K for the smallest K <= 8 that gives V exactly (prices and measurements,
 * "848.51", without printf), else printf's %.Pg for the smallest P from 15 (a float's 6) that
 * reads back; "nan", "inf", "-inf". At OUT, ST_TEXT_REAL_MAX bytes, NUL-terminated; the length. */
size_t st_text_real(char *out, double v, int f32);

#endif /* STRATA_UTIL_TEXT_H */
