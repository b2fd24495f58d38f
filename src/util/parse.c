/*
 * parse.c -- exact text-to-value conversions (see parse.h).
 *
 * The float fast path is Clinger's: when the decimal mantissa has at most 15 significant digits
 * (exact in a double) and the power of ten is at most 22 (10^22 is exact too), one IEEE
 * multiplication or division gives the correctly rounded result. Up to 19 digits (a full-precision
 * double's 17 among them) and any power of ten, the Eisel-Lemire algorithm (Daniel Lemire,
 * "Number Parsing at a Gigabyte per Second", 2021; its product proven always sufficient by
 * Mushtak and Lemire, 2023) gives it from the digits times a 128-bit power of five
 * (pow5_tables.h), for normal results. Everything else goes through strtod, which is correctly
 * rounded in glibc.
 */
#include "util/parse.h"

#include "util/bits.h"
#include "util/ts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int st_parse_u64(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    if (n > 0 && s[0] == '+') i = 1;
    if (i == n) return ST_PARSE_BAD;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) return ST_PARSE_BAD;
        if (v > (UINT64_MAX - d) / 10) return ST_PARSE_OVERFLOW;
        v = v * 10 + d;
    }
    *out = v;
    return ST_PARSE_OK;
}

int st_parse_i64(const char *s, size_t n, int64_t *out)
{
    int neg = n > 0 && s[0] == '-';
    uint64_t v;
    int rc = st_parse_u64(s + neg, n - (size_t)neg, &v);
    if (rc != ST_PARSE_OK) return rc;
    if (neg && n > 1 && s[1] == '+') return ST_PARSE_BAD;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return ST_PARSE_OVERFLOW;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return ST_PARSE_OVERFLOW;
        *out = (int64_t)v;
    }
    return ST_PARSE_OK;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int slow_f64(const char *s, size_t n, double *out)
{
    char buf[128];
    char *copy = n < sizeof buf ? buf : malloc(n + 1);
    if (copy == NULL) return ST_PARSE_BAD;
    memcpy(copy, s, n);
    copy[n] = '\0';
    char *end;
    double v = strtod(copy, &end);
    int ok = end == copy + n && n > 0;
    /* strtod accepts leading spaces and hex floats; a CSV value with either is not a number */
    for (size_t i = 0; ok && i < n; i++)
        if (copy[i] == ' ' || copy[i] == '\t' || copy[i] == 'x' || copy[i] == 'X') ok = 0;
    if (copy != buf) free(copy);
    if (!ok) return ST_PARSE_BAD;
    *out = v;
    return ST_PARSE_OK;
}

#if defined(__SIZEOF_INT128__)
#include "util/pow5_tables.h"

__extension__ typedef unsigned __int128 u128; /* (gcc and clang on 64-bit targets) */

/* W * 10^Q (W not zero) as the nearest double, negated for NEG, into *OUT: 1; 0 when the result
 * is not a normal double (zero, subnormal or infinite: strtod decides those). */
static int eisel_lemire(uint64_t w, int q, int neg, double *out)
{
    if (q < -342 || q > 308) return 0;
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *t = ST_POW10_128[q + 342];
    u128 first = (u128)w * t[0];
    uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
    if ((hi & 0x1ff) == 0x1ff) { /* the bits below the mantissa's may carry: the low half too */
        uint64_t second = (uint64_t)(((u128)w * t[1]) >> 64);
        lo += second;
        hi += second > lo;
    }
    int upper = (int)(hi >> 63), shift = upper + 9;
    uint64_t mant = hi >> shift;
    /* the binary exponent: floor(log2(10^q)) + 63, as (217706 q) >> 16 (arithmetic shift) */
    int p2 = (int)(((int64_t)217706 * q) >> 16) + 63 + upper - lz + 1023;
    if (p2 <= 0) return 0;
    if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
        mant &= ~(uint64_t)1; /* exactly halfway: to even */
    mant += mant & 1;
    mant >>= 1;
    if (mant >= (2ULL << 52)) {
        mant = 1ULL << 52;
        p2++;
    }
    if (p2 >= 0x7ff) return 0;
    uint64_t bits = (mant & ~(1ULL << 52)) | (uint64_t)p2 << 52 | (uint64_t)neg << 63;
    memcpy(out, &bits, 8);
    return 1;
}
#else
static int eisel_lemire(uint64_t w, int q, int neg, double *out)
{
    (void)w, (void)q, (void)neg, (void)out;
    return 0;
}
#endif

int st_f64_from_decimal(uint64_t w, int q, int neg, double *out)
{
    return w != 0 && eisel_lemire(w, q, neg, out);
}

/* Whether S[0..8) are eight decimal digits; then their value in *V (Lemire's SWAR: two
 * multiplications for the eight). */
static inline int eight_digits(const char *s, uint64_t *v)
{
    uint64_t x = st_load_le64(s);
    if (((x & 0xF0F0F0F0F0F0F0F0ULL) |
         (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) != 0x3333333333333333ULL)
        return 0;
    x -= 0x3030303030303030ULL; /* (the first digit in the low byte) */
    x = x * 10 + (x >> 8);
    *v = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
          (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
         32;
    return 1;
}

int st_parse_f64(const char *s, size_t n, double *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    uint64_t m = 0, e8;
    int digits = 0, frac = 0, any = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (m > 0 && digits <= 11 && n - i >= 8 && eight_digits(s + i, &e8)) {
            m = m * 100000000 + e8, digits += 8, i += 8; /* (past the leading zeros) */
            continue;
        }
        if (m > 0 || s[i] != '0') digits++;
        m = m * 10 + (uint64_t)(s[i] - '0');
        any = 1;
        i++;
        if (digits > 19) return slow_f64(s, n, out);
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (m > 0 && digits <= 11 && n - i >= 8 && eight_digits(s + i, &e8)) {
                m = m * 100000000 + e8, digits += 8, frac += 8, i += 8;
                continue;
            }
            if (m > 0 || s[i] != '0') digits++;
            m = m * 10 + (uint64_t)(s[i] - '0');
            frac++;
            any = 1;
            i++;
            if (digits > 19 || frac > 400) return slow_f64(s, n, out);
        }
    }
    if (!any) return slow_f64(s, n, out); /* "nan", "inf", ".e" ... */
    int e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        if (i == n) return ST_PARSE_BAD;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (e < 10000) e = e * 10 + (s[i] - '0');
            i++;
        }
        if (eneg) e = -e;
    }
    if (i != n) return ST_PARSE_BAD;
    int p = e - frac;
    double v = (double)m; /* exact when m < 10^15 < 2^53 */
    if (m == 0)
        v = 0;
    else if (digits > 15 || p < -22 || p > 22)
        return st_f64_from_decimal(m, p, neg, out) ? ST_PARSE_OK : slow_f64(s, n, out);
    else if (p >= 0)
        v *= pow10_exact[p];
    else
        v /= pow10_exact[-p];
    /* m * 10^p can still exceed 2^53 when p > 0 and lose exactness only if m * 10^p does not
     * fit; with m < 10^15 and 10^p exact, the single rounding of the product is correct. */
    *out = neg ? -v : v;
    return ST_PARSE_OK;
}

static int ieq(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n != k) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != w[i]) return 0;
    }
    return 1;
}

int st_parse_bool(const char *s, size_t n, uint8_t *out)
{
    if (ieq(s, n, "true") || (n == 1 && s[0] == '1'))
        *out = 1;
    else if (ieq(s, n, "false") || (n == 1 && s[0] == '0'))
        *out = 0;
    else
        return ST_PARSE_BAD;
    return ST_PARSE_OK;
}

size_t st_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; k++) {
            if ((u[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += len;
    }
    return n;
}

int strata_value_parse(strata_dtype dtype, const char *text, void *out, char *why)
{
    char *end;
    errno = 0;
    switch (dtype) {
    case STRATA_I8:
    case STRATA_I16:
    case STRATA_I32:
    case STRATA_I64: {
        long long v = strtoll(text, &end, 10);
        if (end == text || *end != '\0') goto not_number;
        static const long long lim[] = {INT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX};
        long long mx = lim[dtype - STRATA_I8];
        if (errno == ERANGE || v > mx || v < -mx - 1) goto range;
        if (dtype == STRATA_I8)
            *(int8_t *)out = (int8_t)v;
        else if (dtype == STRATA_I16)
            *(int16_t *)out = (int16_t)v;
        else if (dtype == STRATA_I32)
            *(int32_t *)out = (int32_t)v;
        else
            *(int64_t *)out = (int64_t)v;
        return 0;
    }
    case STRATA_U8:
    case STRATA_U16:
    case STRATA_U32:
    case STRATA_U64: {
        if (text[0] == '-') goto range;
        unsigned long long v = strtoull(text, &end, 10);
        if (end == text || *end != '\0') goto not_number;
        static const unsigned long long lim[] = {UINT8_MAX, UINT16_MAX, UINT32_MAX, UINT64_MAX};
        if (errno == ERANGE || v > lim[dtype - STRATA_U8]) goto range;
        if (dtype == STRATA_U8)
            *(uint8_t *)out = (uint8_t)v;
        else if (dtype == STRATA_U16)
            *(uint16_t *)out = (uint16_t)v;
        else if (dtype == STRATA_U32)
            *(uint32_t *)out = (uint32_t)v;
        else
            *(uint64_t *)out = (uint64_t)v;
        return 0;
    }
    case STRATA_F32: { /* rounded once, to the nearest float (3.4028235e38 is FLT_MAX's) */
        float v = strtof(text, &end);
        if (end == text || *end != '\0') goto not_number;
        if (errno == ERANGE && isinf(v)) goto range;
        *(float *)out = v;
        return 0;
    }
    case STRATA_F64: {
        double v = strtod(text, &end);
        if (end == text || *end != '\0') goto not_number;
        if (errno == ERANGE && isinf(v)) goto range;
        *(double *)out = v;
        return 0;
    }
    case STRATA_TS: {
        size_t n = strlen(text);
        if (st_ts_looks_iso(text, n))
            return st_ts_parse(text, n, out, why, 64) < 0 ? STRATA_EINVAL : 0;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end != '\0') {
            snprintf(why, 64, "is not a timestamp (ISO 8601 or integer nanoseconds)");
            return STRATA_EINVAL;
        }
        if (errno == ERANGE) goto range;
        *(int64_t *)out = (int64_t)v;
        return 0;
    }
    case STRATA_BOOL:
        if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0)
            *(uint8_t *)out = 1;
        else if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0)
            *(uint8_t *)out = 0;
        else {
            snprintf(why, 64, "is not a bool (true, false, 1 or 0)");
            return STRATA_EINVAL;
        }
        return 0;
    default:
        snprintf(why, 64, "cannot be stored element-wise in a string array");
        return STRATA_EINVAL;
    }
not_number:
    snprintf(why, 64, "is not a %s number", strata_dtype_name(dtype));
    return STRATA_EINVAL;
range:
    snprintf(why, 64, "is out of range for %s", strata_dtype_name(dtype));
    return STRATA_EINVAL;
}

int st_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0)) return STRATA_EINVAL;
    double m = 1;
    switch (*end) {
    case 'K':
    case 'k':
        m = 1024.0;
        end++;
        break;
    case 'M':
    case 'm':
        m = 1024.0 * 1024;
        end++;
        break;
    case 'G':
    case 'g':
        m = 1024.0 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (*end != 0 || v * m > 1e18) return STRATA_EINVAL;
    *out = (uint64_t)(v * m);
    return STRATA_OK;
}
