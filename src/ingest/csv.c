/*
 * csv.c -- RFC 4180 parsing into typed column buffers (see csv.h).
 */
#define _GNU_SOURCE
#include "ingest/csv.h"
#include "util/bits.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/fileio.h"
#include "util/parse.h"
#include "util/ts.h"

int st_csv_open(st_err *err, st_csv *c, const char *path, char delim)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->delim = delim;
    c->block = ST_CSV_BLOCK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return st_error(err, STRATA_ENOTFOUND, "file '%s' not found", path);
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return st_error(err, STRATA_EINVAL, "'%s' is not a regular file", path);
    }
    c->size = (size_t)st.st_size;
    if (c->size == 0) {
        close(fd);
        return st_error(err, STRATA_EINVAL, "%s: the file is empty (a header line is needed)",
                        path);
    }
    void *m = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return st_error_errno(err, errno, "cannot map '%s'", path);
    madvise(m, c->size, MADV_SEQUENTIAL);
    c->data = m;
    return STRATA_OK;
}

void st_csv_close(st_csv *c)
{
    st_unmap_file((void *)(uintptr_t)c->data, c->size);
    free(c->parity);
    c->data = NULL;
    c->parity = NULL;
}

void st_csv_locate(const st_csv *c, size_t pos, char *out, size_t len)
{
    size_t line = 1, last = 0;
    const char *d = c->data;
    for (const char *q = d; (q = memchr(q, '\n', pos - (size_t)(q - d))) != NULL; q++) {
        line++;
        last = (size_t)(q - d) + 1;
    }
    if (line == 1) last = pos >= c->head ? c->head : pos;
    snprintf(out, len, "%s:%zu:%zu", c->path, line, pos - last + 1);
}

/* Show at most 40 bytes of a value in a message. */
static void show(char *out, size_t len, const char *v, size_t n)
{
    size_t k = n > 40 ? 40 : n;
    size_t j = 0;
    for (size_t i = 0; i < k && j + 5 < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '\n')
            j += (size_t)snprintf(out + j, len - j, "\\n");
        else if (ch == '\r')
            j += (size_t)snprintf(out + j, len - j, "\\r");
        else if (ch < 0x20)
            j += (size_t)snprintf(out + j, len - j, "\\x%02x", ch);
        else
            out[j++] = (char)ch;
    }
    if (n > k && j + 4 < len) j += (size_t)snprintf(out + j, len - j, "...");
    out[j < len ? j : len - 1] = '\0';
}

static int grow(char **p, uint64_t *cap, uint64_t need, size_t esz)
{
    if (need <= *cap) return 0;
    uint64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    char *g = realloc(*p, c * esz);
    if (g == NULL) return -1;
    *p = g;
    *cap = c;
    return 0;
}

int st_colbuf_null(st_colbuf *b)
{
    if (grow((char **)&b->nulls, &b->ncap, b->nnull + 1, sizeof *b->nulls) < 0) return -1;
    b->nulls[b->nnull++] = b->n;
    return 0;
}

int st_colbuf_valid(const st_colbuf *b, uint64_t from, uint64_t k, uint8_t **valid)
{
    *valid = NULL;
    if (b->valid != NULL) {
        if (st_bits_nulls(b->valid, from, k) == 0) return STRATA_OK;
        if ((*valid = malloc(st_bits_bytes(k))) == NULL) return STRATA_ENOMEM;
        st_bits_copy(*valid, 0, b->valid, from, k);
        return STRATA_OK;
    }
    uint64_t lo = 0, hi = b->nnull; /* the first null at or after FROM */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (b->nulls[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == b->nnull || b->nulls[lo] >= from + k) return STRATA_OK;
    if ((*valid = malloc(st_bits_bytes(k))) == NULL) return STRATA_ENOMEM;
    memset(*valid, 0xFF, st_bits_bytes(k));
    for (uint64_t i = lo; i < b->nnull && b->nulls[i] < from + k; i++)
        st_bit_set(*valid, b->nulls[i] - from, 0);
    return STRATA_OK;
}

void st_colbuf_reset(st_colbuf *b)
{
    b->n = 0;
    b->nb = 0;
    b->nnull = 0;
}

void st_csv_reserve(const st_csv *c, size_t begin, size_t end, st_colbuf *cols, int ncols)
{
    enum { SAMPLE = 65536 };
    size_t len = end > begin ? end - begin : 0, m = len < SAMPLE ? len : SAMPLE, lines = 0;
    const char *d = c->data + begin, *q = d;
    while ((q = memchr(q, '\n', (size_t)(d + m - q))) != NULL) q++, lines++;
    if (lines == 0) return;
    uint64_t rows = (uint64_t)len * lines / m / 16 * 17 + 16; /* ~6 % over */
    for (int k = 0; k < ncols; k++) {
        st_colbuf *b = &cols[k];
        uint64_t need = rows + (b->dtype == STRATA_STR);
        if (b->cap >= need) continue;
        need += need / 8; /* the next range's guess a little larger: no realloc again */
        char *g =
            realloc(b->v, need * strata_dtype_size(b->dtype == STRATA_STR ? STRATA_I64 : b->dtype));
        if (g == NULL) return; /* the parse grows them as it goes */
        b->v = g;
        b->cap = need;
    }
}

void st_colbuf_free(st_colbuf *b)
{
    free(b->v);
    free(b->bytes);
    free(b->nulls);
    memset(b, 0, sizeof *b);
}

/* Parser state of one range. */
typedef struct {
    const st_csv *c;
    const char *d;
    size_t end;
    char *scratch; /* unescaped quoted fields */
    size_t scap;
    char *msg; /* a failure's message (without the line) and its offending byte */
    size_t msglen;
    size_t *err_pos;
    uint8_t stop[256]; /* bytes that end an unquoted field */
    int num_fast;      /* numbers may skip the null check: the null marker is not one */
} pstate;

/* Record a failure at byte POS with a printf-style message; returns CODE. */
__attribute__((cold, format(printf, 4, 5))) static int fail(pstate *ps, size_t pos, int code,
                                                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, ps->msglen, fmt, ap);
    va_end(ap);
    *ps->err_pos = pos;
    return code;
}

static int store_nomem(pstate *ps)
{
    snprintf(ps->msg, ps->msglen, "out of memory");
    return -2;
}

/* Append string V (N bytes; none for a null) of field F to B, which must be valid UTF-8. */
static inline int store_str(pstate *ps, int f, st_colbuf *b, const char *v, size_t n, int is_null)
{
    if (grow(&b->v, &b->cap, b->n + 2, 8) < 0 || grow(&b->bytes, &b->bcap, b->nb + n, 1) < 0)
        return store_nomem(ps);
    if (b->n == 0) ((int64_t *)(void *)b->v)[0] = 0;
    if (is_null && st_colbuf_null(b) < 0) return store_nomem(ps);
    if (!is_null) {
        size_t ok = st_utf8_valid_prefix(v, n);
        if (ok != n) {
            snprintf(ps->msg, ps->msglen, "column '%s': invalid UTF-8 at byte %zu of the value",
                     ps->c->names[f], ok + 1);
            return -1;
        }
        if (n > 0) memcpy(b->bytes + b->nb, v, n); /* bytes is NULL before the first */
        b->nb += n;
    }
    ((int64_t *)(void *)b->v)[++b->n] = (int64_t)b->nb;
    return 0;
}

/* A null of field F, of numeric dtype DT: a zero value, and the row recorded as null. */
static int store_null(pstate *ps, st_colbuf *b, strata_dtype dt)
{
    memset(b->v + b->n * strata_dtype_size(dt), 0, strata_dtype_size(dt));
    if (st_colbuf_null(b) < 0) return store_nomem(ps);
    b->n++;
    return 0;
}

/* Parse V (N bytes) as the integer dtype DT narrower than 64 bits into SLOT, range-checked;
 * returns an ST_PARSE_ status (SLOT is written only on success). */
static inline int parse_narrow(const char *v, size_t n, strata_dtype dt, char *slot)
{
    int64_t x;
    static const int64_t lo[] = {
        [STRATA_I8] = INT8_MIN, [STRATA_I16] = INT16_MIN, [STRATA_I32] = INT32_MIN,
        [STRATA_U8] = 0,        [STRATA_U16] = 0,         [STRATA_U32] = 0};
    static const int64_t hi[] = {
        [STRATA_I8] = INT8_MAX,  [STRATA_I16] = INT16_MAX,  [STRATA_I32] = INT32_MAX,
        [STRATA_U8] = UINT8_MAX, [STRATA_U16] = UINT16_MAX, [STRATA_U32] = UINT32_MAX};
    int rc = st_parse_i64(v, n, &x);
    if (rc == ST_PARSE_OK && (x < lo[dt] || x > hi[dt])) rc = ST_PARSE_OVERFLOW;
    if (rc != ST_PARSE_OK) return rc;
    switch (strata_dtype_size(dt)) {
    case 1: {
        uint8_t y = (uint8_t)x;
        memcpy(slot, &y, 1);
        break;
    }
    case 2: {
        uint16_t y = (uint16_t)x;
        memcpy(slot, &y, 2);
        break;
    }
    default: {
        uint32_t y = (uint32_t)x;
        memcpy(slot, &y, 4);
    }
    }
    return rc;
}

/* A timestamp: ISO 8601 (checked cheaply for its YYYY- start first), or integer nanoseconds. */
static inline int parse_ts(const char *v, size_t n, int64_t *slot)
{
    if (!st_ts_looks_iso(v, n)) return st_parse_i64(v, n, slot);
    char why[8]; /* the error is worded again, in full, by value_error */
    return st_ts_parse(v, n, slot, why, sizeof why) == 0 ? ST_PARSE_OK : ST_PARSE_BAD;
}

/* Parse V (N bytes) as DT into slot b->n of B (not counted yet); an ST_PARSE_ status. */
static inline int parse_value(st_colbuf *b, strata_dtype dt, const char *v, size_t n)
{
    switch (dt) {
    case STRATA_I64:
        return st_parse_i64(v, n, &((int64_t *)(void *)b->v)[b->n]);
    case STRATA_F64:
        return st_parse_f64(v, n, &((double *)(void *)b->v)[b->n]);
    case STRATA_BOOL:
        return st_parse_bool(v, n, &((uint8_t *)b->v)[b->n]);
    case STRATA_F32: {
        double x;
        int rc = st_parse_f64(v, n, &x);
        if (rc == ST_PARSE_OK && isfinite(x) && fabs(x) > 3.4028234663852886e38)
            rc = ST_PARSE_OVERFLOW;
        ((float *)(void *)b->v)[b->n] = (float)x;
        return rc;
    }
    case STRATA_U64:
        return st_parse_u64(v, n, &((uint64_t *)(void *)b->v)[b->n]);
    case STRATA_TS:
        return parse_ts(v, n, &((int64_t *)(void *)b->v)[b->n]);
    default:
        return parse_narrow(v, n, dt, b->v + b->n * strata_dtype_size(dt));
    }
}

/* Word the failure RC of parsing value V (N bytes) of field F as DT; returns -1. */
__attribute__((cold)) static int value_error(pstate *ps, int f, strata_dtype dt, const char *v,
                                             size_t n, int rc)
{
    char shown[200];
    show(shown, sizeof shown, v, n);
    char why[64];
    int64_t unused;
    if (dt == STRATA_TS && st_ts_looks_iso(v, n) && st_ts_parse(v, n, &unused, why, sizeof why) < 0)
        snprintf(ps->msg, ps->msglen, "column '%s': '%s' %s", ps->c->names[f], shown, why);
    else if (rc == ST_PARSE_OVERFLOW)
        snprintf(ps->msg, ps->msglen, "column '%s': '%s' is out of range for %s (overflow)",
                 ps->c->names[f], shown, strata_dtype_name(dt));
    else
        snprintf(ps->msg, ps->msglen, "column '%s': cannot parse '%s' as %s", ps->c->names[f],
                 shown, strata_dtype_name(dt));
    return -1;
}

/* Store value V (N bytes, QUOTED or not) of field F into B. Returns 0, or -1 (bad value) or -2
 * (out of memory) with ps->msg set. */
static inline int store(pstate *ps, int f, st_colbuf *b, const char *v, size_t n, int quoted)
{
    const st_csv *c = ps->c;
    strata_dtype dt = c->dtypes[f];
    int is_null = !quoted && n == c->null_len && memcmp(v, c->null_marker, n) == 0;
    if (dt == STRATA_STR) return store_str(ps, f, b, v, n, is_null);
    if (grow(&b->v, &b->cap, b->n + 1, strata_dtype_size(dt)) < 0) return store_nomem(ps);
    if (is_null) return store_null(ps, b, dt);
    int rc = parse_value(b, dt, v, n);
    if (rc != ST_PARSE_OK) return value_error(ps, f, dt, v, n, rc);
    b->n++;
    return 0;
}

/* Powers of ten, exact: as integers up to 10^19 and as doubles up to 10^15. */
static const uint64_t pow10_u[20] = {1ull,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};
static const double pow10_d[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* How many of the 8 bytes W (the first byte lowest) are decimal digits before the first that is
 * not. A byte's +6 can carry only out of a non-digit, into bytes after it, which do not count. */
static inline int swar_digits(uint64_t w)
{
    uint64_t t = ((w & 0xF0F0F0F0F0F0F0F0ull) |
                  (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ^
                 0x3333333333333333ull;
    return t == 0 ? 8 : __builtin_ctzll(t) >> 3;
}

/* The value of the first N (1 to 8) bytes of W, all digits: moved up so that the bytes below are
 * leading zeros, then combined in pairs, fours and eights (Lemire's eight-digit parse). */
static inline uint64_t swar_value(uint64_t w, int n)
{
    uint64_t v = (w & 0x0F0F0F0F0F0F0F0Full) << (8 * (8 - n));
    v = v * 10 + (v >> 8);
    return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
           32;
}

/* The run of decimal digits at S (16 bytes readable there), eight at a time: how many (0 to 15)
 * with their value in *V, or 16 when there are more (*V unset: the caller's slower way). */
static inline int swar_number(const char *s, uint64_t *v)
{
    uint64_t w1 = st_load_le64(s), w2;
    int n1 = swar_digits(w1);
    if (n1 < 8) {
        *v = n1 > 0 ? swar_value(w1, n1) : 0;
        return n1;
    }
    w2 = st_load_le64(s + 8);
    int n2 = swar_digits(w2);
    if (n2 == 8) return 16;
    *v = swar_value(w1, 8) * pow10_u[n2] + (n2 > 0 ? swar_value(w2, n2) : 0);
    return 8 + n2;
}

/* The decimal IP.FP (N digits in all, at most 19; N2 of them FP's) negated for NEG, as
 * st_parse_f64() rounds it, into *V: 1; 0 for the general path (a value of 16 digits or more that
 * is zero or not a normal double). Up to 15 digits, the digits as an exact integer over an exact
 * power of ten; more, st_f64_from_decimal(). */
static inline int decimal_value(uint64_t ip, uint64_t fp, int n, int n2, int neg, double *v)
{
    if (n > 15) return st_f64_from_decimal(ip * pow10_u[n2] + fp, -n2, neg, v);
    double x = (double)(ip * pow10_u[n2] + fp) / pow10_d[n2]; /* exact below 10^15 */
    *v = neg ? -x : x;
    return 1;
}

/* swar_number() for up to 19 digits (24 bytes readable at S): how many (0 to 19) with their
 * value in *V, or 20 when there are more. */
static inline int swar_number19(const char *s, uint64_t *v)
{
    int n = swar_number(s, v);
    if (n < 16) return n;
    uint64_t w1 = st_load_le64(s), w2 = st_load_le64(s + 8), w3 = st_load_le64(s + 16);
    int n3 = swar_digits(w3);
    if (n3 > 3) return 20;
    *v = (swar_value(w1, 8) * 100000000 + swar_value(w2, 8)) * pow10_u[n3] +
         (n3 > 0 ? swar_value(w3, n3) : 0);
    return 16 + n3;
}

/* Fast path for field F of an integer column at *PP: parse the digits while scanning the
 * field. Returns 1 with the value stored and *PP past the field's delimiter; 0 on any surprise
 * (a quote, a sign elsewhere, a long number, another character), for the general path, which
 * also words the errors; or STRATA_ENOMEM. */
static inline int fast_i64(pstate *ps, int f, st_colbuf *cols, size_t *pp)
{
    const st_csv *c = ps->c;
    const char *d = ps->d;
    size_t end = ps->end, p = *pp, q = p;
    if (p >= end || d[p] == '"') return 0;
    int neg = d[q] == '-';
    q += (size_t)neg;
    uint64_t acc = 0;
    size_t start = q;
    if (end - q >= 16) { /* up to 15 digits eight at a time; more go the byte-wise way */
        int k = swar_number(d + q, &acc);
        if (k < 16) q += (size_t)k;
    }
    while (q < end && q - start < 18 && (unsigned)(d[q] - '0') <= 9)
        acc = acc * 10 + (uint64_t)(d[q++] - '0');
    int last = f == c->ncols - 1;
    /* the file's end ends only the last field: a record cut short is the general path's error */
    int ends = last ? q == end || d[q] == '\n' || (d[q] == '\r' && q + 1 < end && d[q + 1] == '\n')
                    : q < end && d[q] == c->delim;
    if (q == start || !ends) return 0;
    st_colbuf *b = &cols[c->target[f]];
    if (b->n == b->cap && grow(&b->v, &b->cap, b->n + 1, 8) < 0)
        return fail(ps, p, STRATA_ENOMEM, "out of memory");
    int64_t x = neg ? -(int64_t)acc : (int64_t)acc;
    memcpy(b->v + b->n * 8, &x, 8);
    b->n++;
    *pp = q < end ? q + (d[q] == '\r' ? 2 : 1) : q;
    return 1;
}

/* Fast path for field F of an f64 column at *PP: a plain decimal of up to 19 digits in all
 * (an optional '-', a point), parsed while scanning, the value rounded once as
 * st_parse_f64() rounds it (up to 15 digits: the digits as an exact integer over an exact power
 * of ten; more: st_f64_from_decimal()). Returns
 * 1 with the value stored and *PP past the field's delimiter; 0 for the general path (anything
 * else: an exponent, more digits, a quote, NaN...); or STRATA_ENOMEM. */
static inline int fast_f64(pstate *ps, int f, st_colbuf *cols, size_t *pp)
{
    const st_csv *c = ps->c;
    const char *d = ps->d;
    size_t end = ps->end, p = *pp;
    if (end - p < 48) return 0;
    const char *s = d + p;
    int neg = *s == '-', n1, n2 = 0;
    s += neg;
    uint64_t ip, fp = 0;
    if ((n1 = swar_number19(s, &ip)) == 20) return 0;
    s += n1;
    if (*s == '.' && (n2 = swar_number19(++s, &fp)) == 20) return 0;
    s += n2;
    if (n1 + n2 == 0 || n1 + n2 > 19) return 0;
    int last = f == c->ncols - 1;
    size_t q = (size_t)(s - d);
    if (last ? !(d[q] == '\n' || (d[q] == '\r' && d[q + 1] == '\n')) : d[q] != c->delim) return 0;
    st_colbuf *b = &cols[c->target[f]];
    if (b->n == b->cap && grow(&b->v, &b->cap, b->n + 1, 8) < 0)
        return fail(ps, p, STRATA_ENOMEM, "out of memory");
    double v;
    if (!decimal_value(ip, fp, (int)(n1 + n2), (int)n2, neg, &v)) return 0;
    memcpy(b->v + b->n * 8, &v, 8);
    b->n++;
    *pp = q + (d[q] == '\r' ? 2 : 1);
    return 1;
}

/* The bytes of W equal to the byte in every byte of PAT: the lowest set bit (0x80 of a byte)
 * marks the first exactly (bits above it may be false). */
static inline uint64_t swar_eq(uint64_t w, uint64_t pat)
{
    uint64_t x = w ^ pat;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* Fast path for field F of a string column at *PP: an unquoted field of ASCII bytes, found 8
 * bytes at a time up to its delimiter (or the record's '\n'), stored without the UTF-8 check
 * ASCII needs none of. Returns 1 with the value (or null) stored and *PP past the delimiter; 0
 * for the general path (a quote, a '\r', a byte over 0x7f, the file's last bytes); or
 * STRATA_ENOMEM. */
static inline int fast_str(pstate *ps, int f, st_colbuf *cols, size_t *pp)
{
    const uint64_t ones = 0x0101010101010101ull;
    const st_csv *c = ps->c;
    const char *d = ps->d;
    size_t end = ps->end, p = *pp, q = p;
    int last = f == c->ncols - 1;
    uint64_t dl = ones * (unsigned char)c->delim;
    for (;;) {
        if (end - q < 8) return 0;
        uint64_t w = st_load_le64(d + q);
        uint64_t stop = swar_eq(w, dl) | swar_eq(w, ones * '\n') | swar_eq(w, ones * '"') |
                        swar_eq(w, ones * '\r') | (w & 0x8080808080808080ull);
        if (stop != 0) {
            q += (size_t)__builtin_ctzll(stop) >> 3;
            break;
        }
        q += 8;
    }
    if (d[q] != (last ? '\n' : c->delim)) return 0;
    size_t n = q - p;
    st_colbuf *b = &cols[c->target[f]];
    int is_null = n == c->null_len && memcmp(d + p, c->null_marker, n) == 0;
    if (grow(&b->v, &b->cap, b->n + 2, 8) < 0 || grow(&b->bytes, &b->bcap, b->nb + n, 1) < 0)
        return fail(ps, p, STRATA_ENOMEM, "out of memory");
    if (b->n == 0) ((int64_t *)(void *)b->v)[0] = 0;
    if (is_null && st_colbuf_null(b) < 0) return fail(ps, p, STRATA_ENOMEM, "out of memory");
    if (!is_null && n > 0) {
        memcpy(b->bytes + b->nb, d + p, n);
        b->nb += n;
    }
    ((int64_t *)(void *)b->v)[++b->n] = (int64_t)b->nb;
    *pp = q + 1;
    return 1;
}

/* Fast path for a record of integer fields only, at *PP, with the fields' buffers FB[NF] at
 * hand: the fields parsed one after the other as fast_i64() does, up to the first surprise
 * (fewer than 24 bytes left, a field that is not 1 to 15 digits after an optional '-' ending
 * at its delimiter or at the record's '\n'), which the general path takes from there. Returns
 * how many fields were stored (*PP past them), or STRATA_ENOMEM. */
static inline int int_record(pstate *ps, st_colbuf *const *fb, int nf, size_t *pp)
{
    const char *d = ps->d;
    size_t end = ps->end, p = *pp;
    char delim = ps->c->delim;
    int f = 0;
    for (; f < nf && end - p >= 24; f++) {
        const char *s = d + p;
        int neg = *s == '-';
        s += neg;
        uint64_t acc;
        int n = swar_number(s, &acc);
        if (n == 0 || n == 16 || s[n] != (f == nf - 1 ? '\n' : delim)) break;
        st_colbuf *b = fb[f];
        if (b->n == b->cap && grow(&b->v, &b->cap, b->n + 1, 8) < 0)
            return fail(ps, p, STRATA_ENOMEM, "out of memory");
        int64_t x = neg ? -(int64_t)acc : (int64_t)acc;
        memcpy(b->v + b->n * 8, &x, 8);
        b->n++;
        p = (size_t)(s - d) + (size_t)n + 1;
    }
    *pp = p;
    return f;
}

/* The 64 bytes at S as masks (bit i for byte i): ND, the bytes that are not decimal digits
 * (where a number's digits end); ST, the delimiter DL, '\n', '"', '\r' and bytes over 0x7f
 * (where an unquoted ASCII string ends). Each only when asked for. */
static inline void window_masks(const char *s, char dl, int nd_on, int st_on, uint64_t *nd,
                                uint64_t *st)
{
#if defined(__SSE2__)
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9), cd = _mm_set1_epi8(dl),
                  nl = _mm_set1_epi8('\n'), qt = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r');
    uint64_t m = 0, t = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + 16 * k));
        if (nd_on) {
            __m128i y = _mm_sub_epi8(x, zero);
            __m128i digit = _mm_cmpeq_epi8(_mm_max_epu8(y, nine), nine);
            m |= (uint64_t)(uint16_t)~_mm_movemask_epi8(digit) << (16 * k);
        }
        if (st_on) {
            __m128i e = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, cd), _mm_cmpeq_epi8(x, nl)),
                                     _mm_or_si128(_mm_cmpeq_epi8(x, qt), _mm_cmpeq_epi8(x, cr)));
            t |= (uint64_t)(uint16_t)(_mm_movemask_epi8(e) | _mm_movemask_epi8(x)) << (16 * k);
        }
    }
    *nd = m;
    *st = t;
#else
    uint64_t m = 0, t = 0;
    for (int k = 0; k < 64; k++) {
        unsigned char ch = (unsigned char)s[k];
        m |= (uint64_t)(nd_on && (unsigned)(ch - '0') > 9) << k;
        t |= (uint64_t)(st_on && (ch == (unsigned char)dl || ch == '\n' || ch == '"' ||
                                  ch == '\r' || ch > 0x7f))
             << k;
    }
    *nd = m;
    *st = t;
#endif
}

/* The bytes [base, base + 64) of a range as masks (window_masks()), moved on as fields are
 * passed. */
typedef struct {
    size_t base;
    uint64_t m[2]; /* 0: not digits; 1: ends of unquoted strings */
    int on[2];
    char delim;
} rec_window;

static inline void window_at(rec_window *w, const char *d, size_t base)
{
    w->base = base;
    window_masks(d + base, w->delim, w->on[0], w->on[1], &w->m[0], &w->m[1]);
}

/* Where the run at S of bytes not in mask K ends: 1 with *AT set, or 0 when it runs into the
 * range's last 80 bytes (the window never starts there: 16 bytes may be read past any end). */
static inline int run_end(const pstate *ps, rec_window *w, int k, size_t s, size_t *at)
{
    for (;;) {
        size_t off = s > w->base ? s - w->base : 0; /* a run may start in the last window */
        uint64_t m = off < 64 ? w->m[k] & (~0ull << off) : 0;
        if (m != 0) {
            *at = w->base + (size_t)__builtin_ctzll(m);
            return 1;
        }
        if (w->base + 64 + 80 > ps->end) return 0;
        window_at(w, ps->d, w->base + 64);
    }
}

/* The value of the N (1 to 15) digits at S (16 bytes readable), eight at a time. */
static inline uint64_t digits_value(const char *s, size_t n)
{
    uint64_t w1 = st_load_le64(s);
    if (n <= 8) return swar_value(w1, (int)n);
    uint64_t w2 = st_load_le64(s + 8);
    return swar_value(w1, 8) * pow10_u[n - 8] + swar_value(w2, (int)n - 8);
}

/* Whether records of the types of C go through fast_records(): integers, plain decimals (when
 * NUM_FAST) and strings, at most 64 fields. */
static int records_fast(const st_csv *c, int num_fast)
{
    if (c->ncols > 64 || c->field_at_a_time) return 0;
    for (int f = 0; f < c->ncols; f++) {
        strata_dtype t = c->dtypes[f];
        if (t != STRATA_STR && !((t == STRATA_I64 || t == STRATA_F64) && num_fast)) return 0;
    }
    return 1;
}

/* Field F of type T at Q into row R of OUT (strings' bytes into B): 1 with *Q past its
 * delimiter SEP, or 0 for the general path, as fast_i64(), fast_f64() and fast_str() decide;
 * or STRATA_ENOMEM. */
static inline int fast_field(pstate *ps, rec_window *w, strata_dtype t, char sep, st_colbuf *b,
                             int64_t *out, uint64_t r, size_t *qp)
{
    const char *d = ps->d;
    size_t q = *qp, e;
    if (t == STRATA_STR) {
        if (!run_end(ps, w, 1, q, &e) || d[e] != sep) return 0;
        size_t n = e - q;
        const st_csv *c = ps->c;
        if (n == c->null_len && memcmp(d + q, c->null_marker, n) == 0) return 0;
        uint64_t o = (uint64_t)out[r];
        if (o + n + 16 > b->bcap && grow(&b->bytes, &b->bcap, o + n + 16, 1) < 0)
            return fail(ps, q, STRATA_ENOMEM, "out of memory");
        for (size_t k = 0; k < n; k += 16) memcpy(b->bytes + o + k, d + q + k, 16);
        out[r + 1] = (int64_t)(o + n);
        *qp = e + 1;
        return 1;
    }
    size_t neg = d[q] == '-', s = q + neg;
    if (!run_end(ps, w, 0, s, &e)) return 0;
    size_t n1 = e - s;
    if (t == STRATA_I64) {
        if (n1 - 1 >= 15 || d[e] != sep) return 0;
        uint64_t v = digits_value(d + s, n1);
        out[r] = (int64_t)((v ^ (0 - (uint64_t)neg)) + neg);
        *qp = e + 1;
        return 1;
    }
    size_t f = e; /* a decimal: its end, after the fraction's digits if a point comes */
    int point = d[e] == '.';
    if (point && !run_end(ps, w, 0, e + 1, &f)) return 0;
    size_t n2 = point ? f - e - 1 : 0;
    if (n1 + n2 - 1 >= 15 || d[f] != sep) return 0;
    uint64_t ip = n1 ? digits_value(d + s, n1) : 0, fp = n2 ? digits_value(d + e + 1, n2) : 0;
    double v;
    if (!decimal_value(ip, fp, (int)(n1 + n2), (int)n2, neg, &v)) return 0;
    memcpy(&out[r], &v, 8);
    *qp = f + 1;
    return 1;
}

/* Records of integers, plain decimals and unquoted ASCII strings (records_fast()), as many as
 * come (at most MAX) from *PP, with the fields' buffers FB[NF] at hand (each holding as many
 * values). Where each field ends is found 64 bytes at a time (masks of the bytes that end a
 * number or a string), so that where a field starts does not wait on the bytes of the one
 * before; each number is then read from its known length, eight digits at a time, into room
 * made for 1024 records at once. The values are those of fast_i64(), fast_f64() and fast_str().
 * Whole records only: at the first surprise (anything those would leave to the general path, a
 * blank line, a '\r', the range's last 80 bytes) *PP is left at the record's start. *DONE is how
 * many records were stored; returns STRATA_OK or STRATA_ENOMEM. */
static int fast_records(pstate *ps, st_colbuf *const *fb, int nf, size_t *pp, uint64_t max,
                        uint64_t *done)
{
    const st_csv *c = ps->c;
    size_t p = *pp;
    uint64_t n0 = fb[0]->n, r = 0;
    *done = 0;
    rec_window w = {.delim = c->delim};
    char sep[64];
    int64_t *out[64];
    for (int f = 0; f < nf; f++) {
        if (fb[f]->n != n0) return STRATA_OK;
        sep[f] = f == nf - 1 ? '\n' : c->delim;
        w.on[c->dtypes[f] == STRATA_STR] = 1;
    }
    if (ps->end - p < 80) return STRATA_OK;
    window_at(&w, ps->d, p);
    for (int surprise = 0; !surprise && r < max;) {
        uint64_t stop = r + (max - r < 1024 ? max - r : 1024);
        for (int f = 0; f < nf; f++) {
            st_colbuf *b = fb[f];
            int str = c->dtypes[f] == STRATA_STR;
            if (grow(&b->v, &b->cap, n0 + stop + (uint64_t)str, 8) < 0)
                return fail(ps, p, STRATA_ENOMEM, "out of memory");
            out[f] = (int64_t *)(void *)b->v + n0;
            if (str && n0 == 0) out[f][0] = 0;
        }
        for (; r < stop; r++) {
            size_t q = p;
            int f = 0, rc = 1;
            for (; f < nf && rc == 1; f++)
                rc = fast_field(ps, &w, c->dtypes[f], sep[f], fb[f], out[f], r, &q);
            if (rc < 0) return rc;
            if (rc == 0) {
                surprise = 1;
                break;
            }
            p = q;
        }
    }
    for (int f = 0; f < nf; f++) {
        fb[f]->n = n0 + r;
        if (c->dtypes[f] == STRATA_STR) fb[f]->nb = (uint64_t)out[f][r];
    }
    *pp = p;
    *done = r;
    return STRATA_OK;
}

/* Replace each "" of the quoted field *V (*N bytes) by one quote, in ps->scratch. */
static int unescape(pstate *ps, size_t fstart, const char **v, size_t *n)
{
    if (*n > ps->scap) {
        char *g = realloc(ps->scratch, *n);
        if (g == NULL) return fail(ps, fstart, STRATA_ENOMEM, "out of memory");
        ps->scratch = g;
        ps->scap = *n;
    }
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        ps->scratch[k++] = (*v)[i];
        if ((*v)[i] == '"') i++;
    }
    *v = ps->scratch;
    *n = k;
    return STRATA_OK;
}

/* Scan the quoted field F whose opening quote is at *PP into *V, *N; *PP ends after the
 * closing quote (and a \r before \n). */
static inline int scan_quoted(pstate *ps, int f, size_t *pp, const char **v, size_t *n)
{
    const char *d = ps->d;
    size_t end = ps->end, fstart = *pp, s = fstart + 1, p = s;
    int esc = 0;
    for (;;) {
        const char *q = memchr(d + p, '"', end - p);
        if (q == NULL)
            return fail(ps, fstart, STRATA_EINVAL,
                        "column '%s': unterminated quoted field (no closing '\"')",
                        ps->c->names[f]);
        p = (size_t)(q - d) + 1;
        if (p < end && d[p] == '"') {
            esc = 1;
            p++;
            continue;
        }
        break;
    }
    *v = d + s;
    *n = p - 1 - s;
    if (esc) { /* "" stands for one quote */
        int rc = unescape(ps, fstart, v, n);
        if (rc < 0) return rc;
    }
    if (p < end && d[p] == '\r' && p + 1 < end && d[p + 1] == '\n') p++;
    *pp = p;
    return STRATA_OK;
}

/* Scan the unquoted field F at *PP into *V, *N (without a \r before \n); *PP ends at the byte
 * that ends it. */
static inline int scan_unquoted(pstate *ps, int f, size_t *pp, const char **v, size_t *n)
{
    const char *d = ps->d;
    size_t end = ps->end, s = *pp, p = s;
    while (p < end && !ps->stop[(unsigned char)d[p]]) p++;
    if (p < end && d[p] == '"')
        return fail(ps, p, STRATA_EINVAL,
                    "column '%s': a quote inside an unquoted field (quote the whole "
                    "field and double the quote)",
                    ps->c->names[f]);
    *v = d + s;
    *n = p - s;
    if (*n > 0 && (*v)[*n - 1] == '\r' && (p == end || d[p] == '\n')) (*n)--;
    *pp = p;
    return STRATA_OK;
}

/* Word what follows the last field at P when it is not the line's end. */
__attribute__((cold)) static int trailing_error(pstate *ps, int f, size_t p)
{
    const st_csv *c = ps->c;
    const char *d = ps->d;
    int nf = c->ncols;
    if (d[p] == c->delim) {
        int extra = 1;
        for (size_t q = p + 1; q < ps->end && d[q] != '\n'; q++) extra += d[q] == c->delim;
        return fail(ps, p, STRATA_EINVAL, "the line has %d fields or more; %d are expected",
                    nf + extra, nf);
    }
    return fail(ps, p, STRATA_EINVAL, "column '%s': unexpected '%c' after a quoted field",
                c->names[f], d[p]);
}

/* Step *PP past the delimiter after field F, or past the line's end after the last field. */
static inline int field_end(pstate *ps, int f, size_t *pp)
{
    const char *d = ps->d;
    size_t end = ps->end, p = *pp;
    int nf = ps->c->ncols;
    if (f < nf - 1) {
        if (p < end && d[p] == ps->c->delim) {
            *pp = p + 1;
            return STRATA_OK;
        }
        return fail(ps, p, STRATA_EINVAL, "the line has %d field(s); %d are expected", f + 1, nf);
    }
    if (p < end && d[p] == '\n') {
        *pp = p + 1;
        return STRATA_OK;
    }
    if (p < end) return trailing_error(ps, f, p);
    return STRATA_OK;
}

/* Parse field F of the record at *PP into its column; *PP ends past the field's delimiter. */
static inline int parse_field(pstate *ps, int f, st_colbuf *cols, size_t *pp)
{
    size_t fstart = *pp;
    const char *v = NULL; /* set by the scans when they succeed */
    size_t n = 0;
    int quoted = 0, rc;
    if (ps->num_fast && ps->c->dtypes[f] == STRATA_I64 && (rc = fast_i64(ps, f, cols, pp)) != 0)
        return rc < 0 ? rc : STRATA_OK;
    if (ps->num_fast && ps->c->dtypes[f] == STRATA_F64 && (rc = fast_f64(ps, f, cols, pp)) != 0)
        return rc < 0 ? rc : STRATA_OK;
    if (ps->c->dtypes[f] == STRATA_STR && (rc = fast_str(ps, f, cols, pp)) != 0)
        return rc < 0 ? rc : STRATA_OK;
    if (*pp < ps->end && ps->d[*pp] == '"') {
        quoted = 1;
        rc = scan_quoted(ps, f, pp, &v, &n);
    } else {
        rc = scan_unquoted(ps, f, pp, &v, &n);
    }
    if (rc < 0) return rc;
    if ((rc = field_end(ps, f, pp)) < 0) return rc;
    int s = store(ps, f, &cols[ps->c->target[f]], v, n, quoted);
    if (s != 0) {
        *ps->err_pos = fstart;
        return s == -2 ? STRATA_ENOMEM : STRATA_EINVAL;
    }
    return STRATA_OK;
}

/* Parse records in [begin, end), at most MAX_ROWS of them. */
static int parse_range(const st_csv *c, size_t begin, size_t end, st_colbuf *cols,
                       uint64_t max_rows, uint64_t *rows, size_t *err_pos, char *msg, size_t msglen)
{
    pstate ps = {
        .c = c, .d = c->data, .end = end, .msg = msg, .msglen = msglen, .err_pos = err_pos};
    ps.stop[(unsigned char)c->delim] = ps.stop['\n'] = ps.stop['"'] = 1;
    /* a null marker such as -999 or 0.5 must be seen before a number is: no fast paths then */
    ps.num_fast = c->null_len == 0;
    for (size_t i = 0; i < c->null_len; i++) {
        char ch = c->null_marker[i];
        ps.num_fast |= !((unsigned)(ch - '0') <= 9 || ch == '-' || ch == '.');
    }
    const char *d = c->data;
    size_t p = begin;
    uint64_t nrec = 0;
    int rc = STRATA_OK, nf = c->ncols, ints = nf <= 64 && ps.num_fast;
    int recs = records_fast(c, ps.num_fast);
    st_colbuf *fb[64]; /* the fields' buffers, for int_record() and fast_records() */
    for (int f = 0; f < nf && recs; f++) {
        ints &= c->dtypes[f] == STRATA_I64;
        fb[f] = &cols[c->target[f]];
    }
    ints &= recs;
    uint64_t skip = 0; /* records left to the general path before fast_records() is tried again */
    while (p < end && nrec < max_rows) {
        if (recs && skip == 0) {
            uint64_t k;
            ST_TRY(rc = fast_records(&ps, fb, nf, &p, max_rows - nrec, &k));
            nrec += k;
            skip = k == 0 ? 64 : 0; /* a surprise at once: not again for a while */
            if (p >= end || nrec >= max_rows) break;
        } else if (skip > 0) {
            skip--;
        }
        /* blank lines: skipped in files of several columns */
        if (nf > 1 && (d[p] == '\n' || (d[p] == '\r' && p + 1 < end && d[p + 1] == '\n'))) {
            p += d[p] == '\r' ? 2 : 1;
            continue;
        }
        int f = ints ? int_record(&ps, fb, nf, &p) : 0;
        if (f < 0) {
            rc = f;
            goto done;
        }
        for (; f < nf; f++) ST_TRY(rc = parse_field(&ps, f, cols, &p));
        nrec++;
    }
done:
    free(ps.scratch);
    *rows = nrec;
    return rc;
}

int st_csv_parse(const st_csv *c, size_t begin, size_t end, st_colbuf *cols, uint64_t *rows,
                 size_t *err_pos, char *msg, size_t msglen)
{
    return parse_range(c, begin, end, cols, UINT64_MAX, rows, err_pos, msg, msglen);
}

int st_csv_header(st_err *err, st_csv *c, char ***names_out, int *nfields)
{
    const char *d = c->data;
    size_t n = c->size;
    c->head = n >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    /* Count the header's fields: up to the first newline outside quotes. */
    int in_q = 0, nf = 1;
    size_t p = c->head;
    for (; p < n; p++) {
        if (d[p] == '"')
            in_q = !in_q;
        else if (!in_q && d[p] == c->delim)
            nf++;
        else if (!in_q && d[p] == '\n')
            break;
    }
    if (in_q) {
        char where[ST_PATH_MAX + 32];
        st_csv_locate(c, c->head, where, sizeof where);
        return st_error(err, STRATA_EINVAL, "%s: unterminated quoted field in the header", where);
    }
    const char *nul = memchr(d + c->head, '\0', p - c->head);
    if (nul != NULL) {
        char where[ST_PATH_MAX + 32];
        st_csv_locate(c, (size_t)(nul - d), where, sizeof where);
        return st_error(err, STRATA_EINVAL,
                        "%s: a NUL byte in the header; column names are text (is this a binary "
                        "file, or UTF-16? save it as UTF-8 CSV)",
                        where);
    }
    if (nf > STRATA_MAX_COLUMNS)
        return st_error(err, STRATA_EINVAL, "%s: the header has %d fields; at most %d columns",
                        c->path, nf, STRATA_MAX_COLUMNS);
    /* Parse the header as one record of string fields. */
    strata_dtype *dt = malloc((size_t)nf * sizeof *dt);
    int *target = malloc((size_t)nf * sizeof *target);
    const char **names = malloc((size_t)nf * sizeof *names);
    st_colbuf *cols = calloc((size_t)nf, sizeof *cols);
    char **out = calloc((size_t)nf, sizeof *out);
    int rc = STRATA_OK;
    if (dt == NULL || target == NULL || names == NULL || cols == NULL || out == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory reading a header");
        goto done;
    }
    for (int i = 0; i < nf; i++) {
        dt[i] = STRATA_STR;
        target[i] = i;
        names[i] = "header";
    }
    st_csv h = *c;
    h.ncols = nf;
    h.dtypes = dt;
    h.target = target;
    h.names = names;
    h.null_marker = "";
    h.null_len = 0;
    uint64_t rows;
    size_t pos = 0;
    char msg[512];
    size_t hend = p < n ? p + 1 : n;
    rc = parse_range(&h, c->head, hend, cols, 1, &rows, &pos, msg, sizeof msg);
    if (rc < 0) {
        char where[ST_PATH_MAX + 32];
        st_csv_locate(c, pos, where, sizeof where);
        rc = st_error(err, rc, "%s: header: %s", where, msg);
        goto done;
    }
    if (rows != 1) { /* nothing but a byte order mark */
        rc = st_error(err, STRATA_EINVAL, "%s: the file is empty (a header line is needed)",
                      c->path);
        goto done;
    }
    for (int i = 0; i < nf; i++) {
        const int64_t *off = (const int64_t *)(void *)cols[i].v;
        size_t len = (size_t)(off[1] - off[0]);
        if ((out[i] = strndup(cols[i].bytes ? cols[i].bytes : "", len)) == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
    }
    c->body = hend;
    *names_out = out;
    *nfields = nf;
    out = NULL;
done:
    if (out != NULL) st_csv_free_names(out, nf);
    for (int i = 0; cols != NULL && i < nf; i++) st_colbuf_free(&cols[i]);
    free(cols);
    free(dt);
    free(target);
    free(names);
    return rc;
}

void st_csv_free_names(char **names, int n)
{
    for (int i = 0; names != NULL && i < n; i++) free(names[i]);
    free(names);
}

int st_csv_index(st_err *err, st_csv *c, int nthreads)
{
    if (c->block == 0) c->block = ST_CSV_BLOCK;
    size_t nb = (c->size + c->block - 1) / c->block;
    uint8_t *cnt = calloc(nb + 1, 1);
    if (cnt == NULL) return st_error(err, STRATA_ENOMEM, "out of memory indexing '%s'", c->path);
    const char *d = c->data;
    size_t size = c->size;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * c->block, hi = lo + c->block < size ? lo + c->block : size;
        unsigned q = 0;
        for (const char *p = d + lo; (p = memchr(p, '"', (size_t)(d + hi - p))) != NULL; p++) q++;
        cnt[b + 1] = (uint8_t)(q & 1);
    }
    /* prefix parity: parity[b] = quotes before block b, mod 2 */
    for (size_t b = 1; b <= nb; b++) cnt[b] ^= cnt[b - 1];
    c->parity = cnt;
    c->nblocks = nb;
    return STRATA_OK;
}

size_t st_csv_record_start(const st_csv *c, size_t block)
{
    size_t p = block * c->block;
    if (block == 0 || p >= c->size) return p >= c->size ? c->size : c->body;
    int in_q = c->parity[block];
    const char *d = c->data;
    for (; p < c->size; p++) {
        if (d[p] == '"')
            in_q = !in_q;
        else if (d[p] == '\n' && !in_q)
            return p + 1 > c->body ? p + 1 : c->body;
    }
    return c->size;
}

void st_csv_infer(const st_csv *c, int nfields, strata_dtype *out, uint64_t maxrows)
{
    strata_dtype *dt = malloc((size_t)nfields * sizeof *dt);
    int *target = malloc((size_t)nfields * sizeof *target);
    const char **names = malloc((size_t)nfields * sizeof *names);
    st_colbuf *cols = calloc((size_t)nfields, sizeof *cols);
    for (int i = 0; i < nfields; i++) out[i] = STRATA_STR;
    if (dt == NULL || target == NULL || names == NULL || cols == NULL) goto done;
    for (int i = 0; i < nfields; i++) {
        dt[i] = STRATA_STR;
        target[i] = i;
        names[i] = "?"; /* messages of this pass are not shown */
    }
    st_csv s = *c;
    s.dtypes = dt;
    s.target = target;
    s.names = names;
    s.ncols = nfields;
    /* Infer from what parses; a parse error is reported later by the real pass. */
    uint64_t rows = 0;
    size_t pos;
    char msg[256];
    parse_range(&s, c->body, c->size, cols, maxrows, &rows, &pos, msg, sizeof msg);
    for (int i = 0; i < nfields; i++) {
        int all_int = 1, all_num = 1, all_ts = 1, all_bool = 1, any = 0;
        const int64_t *off = (const int64_t *)(void *)cols[i].v;
        uint64_t nx = 0; /* the next null */
        for (uint64_t r = 0; r < cols[i].n && (all_num || all_ts || all_bool); r++) {
            if (nx < cols[i].nnull && cols[i].nulls[nx] == r) {
                nx++;
                continue;
            }
            size_t n = (size_t)(off[r + 1] - off[r]);
            const char *v = n ? cols[i].bytes + off[r] : ""; /* bytes may still be NULL */
            any = 1;
            int64_t x;
            double y;
            char why[8];
            /* a timestamp has a date part: "2024-01-31..."; a bare integer stays an integer */
            if (all_ts && (!st_ts_looks_iso(v, n) || st_ts_parse(v, n, &x, why, sizeof why) < 0))
                all_ts = 0;
            uint8_t bv; /* a bool is a word: 0 and 1 stay integers */
            if (all_bool && (n < 4 || st_parse_bool(v, n, &bv) != ST_PARSE_OK)) all_bool = 0;
            if (all_int && st_parse_i64(v, n, &x) != ST_PARSE_OK) all_int = 0;
            if (!all_int && all_num && st_parse_f64(v, n, &y) != ST_PARSE_OK) all_num = 0;
        }
        if (any && all_int)
            out[i] = STRATA_I64;
        else if (any && all_num)
            out[i] = STRATA_F64;
        else if (any && all_ts)
            out[i] = STRATA_TS;
        else if (any && all_bool)
            out[i] = STRATA_BOOL;
    }
done:
    for (int i = 0; cols != NULL && i < nfields; i++) st_colbuf_free(&cols[i]);
    free(cols);
    free(dt);
    free(target);
    free(names);
}
