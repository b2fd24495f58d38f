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

#if defined(__SIZEOF_INT128__)
#include "util/pow5_tables.h"

#define SHORTEST 1

__extension__ typedef unsigned __int128 u128; /* (gcc and clang on 64-bit targets) */

/* (M * MUL) >> J, MUL 128 bits as (low, high), J >= 64. */
static inline uint64_t mul_shift(uint64_t m, const uint64_t mul[2], int j)
{
    u128 b0 = (u128)m * mul[0], b2 = (u128)m * mul[1];
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

/* ceil(log2(5^e)) (bitlength(5^e) for e >= 1), for e in [0, 3528]. */
static inline int pow5_bits(int e)
{
    return (int)((((uint32_t)e * 1217359) >> 19) + 1);
}

/* How many times 5 divides V (not zero). */
static inline int pow5_factor(uint64_t v)
{
    int k = 0;
    while (v % 5 == 0) v /= 5, k++;
    return k;
}

/* The shortest decimal OUT * 10^EXP in the interval of reals that round to the double of BITS
 * (finite, non-zero; its sign ignored), the nearest to it among those: Ulf Adams' Ryu (PLDI
 * 2018), the mantissa times 5^q through ST_POW5 / ST_POW5_INV. */
static void shortest(uint64_t bits, uint64_t *out, int *exp)
{
    uint64_t mant = bits & ((1ULL << 52) - 1);
    unsigned e = (unsigned)(bits >> 52) & 0x7ff;
    int e2 = e == 0 ? 1 - 1023 - 52 - 2 : (int)e - 1023 - 52 - 2;
    uint64_t m2 = e == 0 ? mant : (1ULL << 52) | mant;
    int even = (m2 & 1) == 0, accept = even;
    uint64_t mv = 4 * m2;
    uint32_t mm_shift = mant != 0 || e <= 1; /* the gap below is half the one above at 2^k */
    uint64_t vr, vp, vm;
    int e10, vm_tz = 0, vr_tz = 0;
    if (e2 >= 0) {
        int q = (int)(((uint32_t)e2 * 78913) >> 18) - (e2 > 3); /* log10(2^e2) */
        int k = 125 + pow5_bits(q) - 1;
        int i = -e2 + q + k;
        e10 = q;
        vr = mul_shift(4 * m2, ST_POW5_INV[q], i);
        vp = mul_shift(4 * m2 + 2, ST_POW5_INV[q], i);
        vm = mul_shift(4 * m2 - 1 - mm_shift, ST_POW5_INV[q], i);
        if (q <= 21) { /* (the exact quotients: some may end in zeros) */
            if (mv % 5 == 0)
                vr_tz = pow5_factor(mv) >= q;
            else if (accept)
                vm_tz = pow5_factor(mv - 1 - mm_shift) >= q;
            else
                vp -= pow5_factor(mv + 2) >= q;
        }
    } else {
        int q = (int)(((uint32_t)-e2 * 732923) >> 20) - (-e2 > 1); /* log10(5^-e2) */
        int i = -e2 - q;
        int k = pow5_bits(i) - 125;
        int j = q - k;
        e10 = q + e2;
        vr = mul_shift(4 * m2, ST_POW5[i], j);
        vp = mul_shift(4 * m2 + 2, ST_POW5[i], j);
        vm = mul_shift(4 * m2 - 1 - mm_shift, ST_POW5[i], j);
        if (q <= 1) {
            vr_tz = 1;
            if (accept)
                vm_tz = mm_shift == 1;
            else
                vp--;
        } else if (q < 63) {
            vr_tz = (mv & ((1ULL << q) - 1)) == 0;
        }
    }
    int removed = 0;
    uint64_t o;
    if (vm_tz || vr_tz) { /* the general case: trailing zeros decide the rounding */
        unsigned last = 0;
        while (vp / 10 > vm / 10) {
            vm_tz &= vm % 10 == 0;
            vr_tz &= last == 0;
            last = (unsigned)(vr % 10);
            vr /= 10, vp /= 10, vm /= 10, removed++;
        }
        if (vm_tz)
            while (vm % 10 == 0) {
                vr_tz &= last == 0;
                last = (unsigned)(vr % 10);
                vr /= 10, vp /= 10, vm /= 10, removed++;
            }
        if (vr_tz && last == 5 && vr % 2 == 0) last = 4; /* a tie: to even */
        o = vr + ((vr == vm && (!accept || !vm_tz)) || last >= 5);
    } else {
        int up = 0;
        while (vp / 10 > vm / 10) {
            up = vr % 10 >= 5;
            vr /= 10, vp /= 10, vm /= 10, removed++;
        }
        o = vr + (vr == vm || up);
    }
    *out = o;
    *exp = e10 + removed;
}

/* (M * FACTOR) >> SHIFT, FACTOR 64 bits, SHIFT > 32. */
static inline uint32_t mul_shift32(uint32_t m, uint64_t factor, int shift)
{
    uint64_t b0 = (uint64_t)m * (uint32_t)factor, b1 = (uint64_t)m * (uint32_t)(factor >> 32);
    return (uint32_t)(((b0 >> 32) + b1) >> (shift - 32));
}

/* The shortest decimal OUT * 10^EXP that reads back as the float of BITS (finite, non-zero, sign
 * ignored), the nearest to it among those: Ryu's float form, with ST_POW5 / ST_POW5_INV's high
 * halves (the top 61 bits of each power). */
static void shortest32(uint32_t bits, uint64_t *out, int *exp)
{
    uint32_t mant = bits & ((1u << 23) - 1), e = (bits >> 23) & 0xff;
    int e2 = e == 0 ? 1 - 127 - 23 - 2 : (int)e - 127 - 23 - 2;
    uint32_t m2 = e == 0 ? mant : (1u << 23) | mant;
    int accept = (m2 & 1) == 0;
    uint32_t mv = 4 * m2, mp = 4 * m2 + 2, mm_shift = mant != 0 || e <= 1;
    uint32_t mm = 4 * m2 - 1 - mm_shift, vr, vp, vm;
    int e10, vm_tz = 0, vr_tz = 0;
    unsigned last = 0;
    if (e2 >= 0) {
        int q = (int)(((uint32_t)e2 * 78913) >> 18);
        int k = 61 + pow5_bits(q) - 1, i = -e2 + q + k;
        e10 = q;
        vr = mul_shift32(mv, ST_POW5_INV[q][1] + 1, i);
        vp = mul_shift32(mp, ST_POW5_INV[q][1] + 1, i);
        vm = mul_shift32(mm, ST_POW5_INV[q][1] + 1, i);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) { /* the digit the loop below would not see */
            int l = 61 + pow5_bits(q - 1) - 1;
            last = mul_shift32(mv, ST_POW5_INV[q - 1][1] + 1, -e2 + q - 1 + l) % 10;
        }
        if (q <= 9) {
            if (mv % 5 == 0)
                vr_tz = pow5_factor(mv) >= q;
            else if (accept)
                vm_tz = pow5_factor(mm) >= q;
            else
                vp -= pow5_factor(mp) >= q;
        }
    } else {
        int q = (int)(((uint32_t)-e2 * 732923) >> 20);
        int i = -e2 - q, k = pow5_bits(i) - 61, j = q - k;
        e10 = q + e2;
        vr = mul_shift32(mv, ST_POW5[i][1], j);
        vp = mul_shift32(mp, ST_POW5[i][1], j);
        vm = mul_shift32(mm, ST_POW5[i][1], j);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            j = q - 1 - (pow5_bits(i + 1) - 61);
            last = mul_shift32(mv, ST_POW5[i + 1][1], j) % 10;
        }
        if (q <= 1) {
            vr_tz = 1;
            if (accept)
                vm_tz = mm_shift == 1;
            else
                vp--;
        } else if (q < 31) {
            vr_tz = (mv & ((1u << (q - 1)) - 1)) == 0;
        }
    }
    int removed = 0;
    uint32_t o;
    if (vm_tz || vr_tz) {
        while (vp / 10 > vm / 10) {
            vm_tz &= vm % 10 == 0;
            vr_tz &= last == 0;
            last = vr % 10;
            vr /= 10, vp /= 10, vm /= 10, removed++;
        }
        if (vm_tz)
            while (vm % 10 == 0) {
                vr_tz &= last == 0;
                last = vr % 10;
                vr /= 10, vp /= 10, vm /= 10, removed++;
            }
        if (vr_tz && last == 5 && vr % 2 == 0) last = 4;
        o = vr + ((vr == vm && (!accept || !vm_tz)) || last >= 5);
    } else {
        while (vp / 10 > vm / 10) {
            last = vr % 10;
            vr /= 10, vp /= 10, vm /= 10, removed++;
        }
        o = vr + (vr == vm || last >= 5);
    }
    *out = o;
    *exp = e10 + removed;
}

/* V (normal, not zero; F32: the float (float)V) as printf's "%.Pg" for the smallest P from 15
 * (a float's 6) that reads back, from its shortest digits: at OUT, NUL-terminated; 0 where that
 * cannot be told from them. */
static size_t shortest_g(char *out, double v, int f32)
{
    uint64_t o;
    int exp, low = f32 ? 6 : 15, pow2;
    if (f32) {
        float x = (float)v;
        uint32_t bits;
        memcpy(&bits, &x, 4);
        unsigned e = (bits >> 23) & 0xff;
        if (e == 0 || e == 0xff) return 0;
        shortest32(bits, &o, &exp);
        pow2 = (bits & ((1u << 23) - 1)) == 0;
    } else {
        uint64_t bits;
        memcpy(&bits, &v, 8);
        unsigned e = (unsigned)(bits >> 52) & 0x7ff;
        if (e == 0 || e == 0x7ff) return 0;
        shortest(bits, &o, &exp);
        pow2 = (bits & ((1ULL << 52) - 1)) == 0;
    }
    while (o % 10 == 0) o /= 10, exp++;
    char d[ST_TEXT_INT_MAX];
    int n = (int)st_text_u64(d, o);
    /* up to 15 digits (a float's 6), "%.15g" ("%.6g") gives these: any decimal of that many
     * digits reads back as itself, in the normal range; more: "%.Ng" is the nearest decimal of N
     * digits, which these are unless the gap below V is the smaller one (a power of two) */
    if (n > low && pow2) return 0;
    int x = exp + n - 1, p = n > low ? n : low; /* the first digit's power of ten; "%.Pg" */
    size_t at = 0;
    if (v < 0) out[at++] = '-';
    if (x >= -4 && x < p) { /* fixed */
        if (x < 0) {
            out[at++] = '0';
            out[at++] = '.';
            for (int z = 0; z < -x - 1; z++) out[at++] = '0';
            memcpy(out + at, d, (size_t)n);
            at += (size_t)n;
        } else if (x >= n - 1) {
            memcpy(out + at, d, (size_t)n);
            at += (size_t)n;
            for (int z = 0; z < x - (n - 1); z++) out[at++] = '0';
        } else {
            memcpy(out + at, d, (size_t)x + 1);
            at += (size_t)x + 1;
            out[at++] = '.';
            memcpy(out + at, d + x + 1, (size_t)(n - x - 1));
            at += (size_t)(n - x - 1);
        }
    } else { /* d.ddde+XX */
        out[at++] = d[0];
        if (n > 1) {
            out[at++] = '.';
            memcpy(out + at, d + 1, (size_t)n - 1);
            at += (size_t)n - 1;
        }
        out[at++] = 'e';
        out[at++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100) out[at++] = (char)('0' + ax / 100);
        out[at++] = (char)('0' + ax / 10 % 10);
        out[at++] = (char)('0' + ax % 10);
    }
    out[at] = '\0';
    return at;
}
#else
#define SHORTEST 0
#endif

size_t st_text_real(char *out, double v, int f32)
{
    if (f32) v = (double)(float)v; /* (the float's text, whatever digits V has beyond it) */
    const char *word = isnan(v) ? "nan" : isinf(v) ? (v < 0 ? "-inf" : "inf") : NULL;
    if (word != NULL) {
        memcpy(out, word, strlen(word) + 1);
        return strlen(word);
    }
    size_t n = 0;
#if SHORTEST
    /* both give the same text where fixed() gives any: fixed() is the quicker for values of a
     * few decimals (those that read back from 8), the shortest digits for the others */
    double a8 = fabs(v) * 1e8;
    if (!f32 && a8 < 9007199254740992.0 && nearbyint(a8) / 1e8 == fabs(v)) n = fixed(out, v);
    if (n == 0 && v != 0) n = shortest_g(out, v, f32);
#endif
    if (n == 0 && !f32) n = fixed(out, v);
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
