/*
 * text.c -- numbers as decimal text (text.h): two digits a step from a table, and the reals of
 * data (few decimals) in fixed notation from their integer digits.
 */
#include "util/text.h"

#include "strata.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* V as R / 10^K with the smallest K <= 8 for which that quotient is V, in fixed notation at OUT;
 * 0 when V has no such form, or would not print in fixed notation. */
static size_t fixed(char *out, double v)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15)) return 0;
    for (int k = 0; k <= 8; k++) {
        double sc = a * p10[k];
        if (sc >= 9007199254740992.0) return 0; /* 2^53: no longer exact */
        double r = nearbyint(sc);
        if (r / p10[k] != a) continue;
        /* the decimal R / 10^K reads back as A: strtod rounds that exact decimal as the
         * division above rounded it */
        char d[ST_TEXT_INT_MAX];
        int n = (int)st_text_u64(d, (uint64_t)r);
        size_t at = 0;
        if (v < 0) out[at++] = '-';
        if (n <= k) { /* 0.0...digits */
            out[at++] = '0';
            out[at++] = '.';
            for (int z = 0; z < k - n; z++) out[at++] = '0';
            memcpy(out + at, d, (size_t)n);
            at += (size_t)n;
        } else {
            memcpy(out + at, d, (size_t)(n - k));
            at += (size_t)(n - k);
            if (k > 0) {
                out[at++] = '.';
                memcpy(out + at, d + n - k, (size_t)k);
                at += (size_t)k;
            }
        }
        while (k > 0 && out[at - 1] == '0') at--;
        if (out[at - 1] == '.') at--;
        out[at] = '\0';
        return at;
    }
    return 0;
}

size_t st_text_real(char *out, double v, int f32)
{
    const char *word = isnan(v) ? "nan" : isinf(v) ? (v < 0 ? "-inf" : "inf") : NULL;
    if (word != NULL) {
        memcpy(out, word, strlen(word) + 1);
        return strlen(word);
    }
    size_t n = f32 ? 0 : fixed(out, v);
    if (n > 0) return n;
    /* the nearest decimal of P digits that reads back as V, for the smallest P that has one:
     * within a double's 15 (a float's 6) digits, the value's own shortest form */
    int len = 0;
    for (int p = f32 ? 6 : 15; p <= (f32 ? 9 : 17); p++) {
        len = snprintf(out, ST_TEXT_REAL_MAX, "%.*g", p, v);
        if (f32 ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v) break;
    }
    return (size_t)len;
}

size_t strata_real_format(double v, int f32, char *out)
{
    return st_text_real(out, v, f32);
}
