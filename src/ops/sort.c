/*
 * sort.c -- LSD radix argsort (stable, parallel, deterministic), string argsort, merge, top-k,
 * and filter compaction. See ops.h for the order of keys.
 *
 * The radix sort works on 64-bit order-preserving images of the keys, one byte per pass, lowest
 * byte first, and skips every byte that is the same in all keys (a small key range needs few
 * passes). Each pass: per-thread histograms over fixed chunks, offsets digit-major then
 * thread-minor, and a scatter in which each thread places its chunk in order; the result is the
 * unique stable order, whatever the number of threads.
 *
 * With Highway's vqsort (vqsort.cc, loaded by vqload.c), the buckets of the first (MSD) pass of a
 * large array are sorted by vqsort instead: plain keys as they are, pairs as 128-bit records
 * (image, position in the bucket), whose ties go by position: the same unique stable order. A
 * large i64 values sort skips the images altogether (sort_i64): one MSD pass of 10 bits through
 * software write combining (st_wc_*, shared with sortrec.c), vqsort on each bucket.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/par.h"

/* The image used for sorting (util/dtype.h), inline in the kernels below. */
static inline uint64_t sort_image(strata_dtype dtype, const void *keys, uint64_t i, int desc)
{
    return st_sort_image(dtype, keys, i, desc);
}

uint64_t st_key_image(strata_dtype dtype, const void *keys, uint64_t i, int desc)
{
    return sort_image(dtype, keys, i, desc);
}

static int nthreads_for(uint64_t n, int nthreads)
{
    if (nthreads < 1) nthreads = 1;
    if (n < ((uint64_t)1 << 16)) return 1;
    return nthreads;
}

/* The bits in which the N keys K differ from the first. */
uint64_t st_key_diff(const uint64_t *k, uint64_t n, int nt)
{
    uint64_t diff = 0;
    if (nt <= 1) { /* a bucket of a larger sort, on one of its threads: no team of one */
        for (uint64_t i = 1; i < n; i++) diff |= k[i] ^ k[0];
        return diff;
    }
#pragma omp parallel for num_threads(nt) reduction(| : diff) schedule(static)
    for (uint64_t i = 1; i < n; i++) diff |= k[i] ^ k[0];
    return diff;
}

/* The digits of keys [LO, HI) counted into H. */
static void radix_count(const uint64_t *src_k, uint64_t lo, uint64_t hi, int shift, uint64_t flip,
                        uint64_t *h)
{
    uint64_t i = lo;
    for (; i + ST_COUNT_AHEAD + 8 <= hi; i += 8) {
        __builtin_prefetch(src_k + i + ST_COUNT_AHEAD);
        for (int j = 0; j < 8; j++) h[((src_k[i + j] ^ flip) >> shift) & 0xFF]++;
    }
    for (; i < hi; i++) h[((src_k[i] ^ flip) >> shift) & 0xFF]++;
}

/* st_digit_offsets: ops_int.h. */
void st_digit_offsets(uint64_t *hist, uint64_t nb, int nt, uint64_t *start)
{
    uint64_t sum = 0;
    for (uint64_t d = 0; d < nb; d++) {
        if (start != NULL) start[d] = sum;
        for (int u = 0; u < nt; u++) {
            uint64_t c = hist[(uint64_t)u * nb + d];
            hist[(uint64_t)u * nb + d] = sum;
            sum += c;
        }
    }
    if (start != NULL) start[nb] = sum;
}

/* The counts of HIST[NT] turned into each thread's first position per digit (st_digit_offsets). */
static void radix_offsets(uint64_t (*hist)[256], int nt, uint64_t *start)
{
    st_digit_offsets(hist[0], 256, nt, start);
}

/* Keys (and indices) [LO, HI) placed at the positions H gives their digits. */
static void radix_scatter(const uint64_t *src_k, const uint64_t *src_i, uint64_t *dst_k,
                          uint64_t *dst_i, uint64_t lo, uint64_t hi, int shift, uint64_t flip,
                          uint64_t *h)
{
    if (src_i != NULL) {
        for (uint64_t i = lo; i < hi; i++) {
            uint64_t pos = h[((src_k[i] ^ flip) >> shift) & 0xFF]++;
            dst_k[pos] = src_k[i];
            dst_i[pos] = src_i[i];
        }
    } else {
        for (uint64_t i = lo; i < hi; i++)
            dst_k[h[((src_k[i] ^ flip) >> shift) & 0xFF]++] = src_k[i];
    }
}

/* One stable counting pass over the 8 bits at SHIFT of the keys XOR FLIP (0 for images; raw
 * i64 keys pass the flip that makes them images): (SRC_K, SRC_I) into (DST_K, DST_I) (the I
 * arrays may be NULL). HIST is scratch for NT threads; START, if set, receives the 257 bucket
 * boundaries. */
static void radix_pass(const uint64_t *src_k, const uint64_t *src_i, uint64_t *dst_k,
                       uint64_t *dst_i, uint64_t n, int shift, uint64_t flip, uint64_t (*hist)[256],
                       int nt, uint64_t *start)
{
    memset(hist, 0, (size_t)nt * sizeof *hist);
    if (nt == 1) { /* a bucket of a larger sort, on one of its threads: no team of one */
        radix_count(src_k, 0, n, shift, flip, hist[0]);
        radix_offsets(hist, 1, start);
        radix_scatter(src_k, src_i, dst_k, dst_i, 0, n, shift, flip, hist[0]);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num();
        uint64_t lo, hi;
        st_chunk(n, t, st_team_size(), &lo, &hi);
        radix_count(src_k, lo, hi, shift, flip, hist[t]);
#pragma omp barrier
#pragma omp single
        radix_offsets(hist, nt, start);
        radix_scatter(src_k, src_i, dst_k, dst_i, lo, hi, shift, flip, hist[t]);
    }
}

/* Sort (K, IDX) pairs of length N by K, stably: LSD over the bytes in which the keys differ
 * (DIFF, from st_key_diff()). The result ends in K/IDX (the buffers are swapped as needed); TK/TIDX
 * are scratch of the same size. IDX may be NULL (keys only). */
int st_radix_pairs(uint64_t *k, uint64_t *idx, uint64_t *tk, uint64_t *tidx, uint64_t n,
                   uint64_t diff, int nt)
{
    uint64_t *src_k = k, *src_i = idx, *dst_k = tk, *dst_i = tidx;
    uint64_t(*hist)[256] = calloc((size_t)nt, sizeof *hist);
    if (hist == NULL) return STRATA_ENOMEM;
    for (int byte = 0; byte < 8; byte++) {
        if (((diff >> (8 * byte)) & 0xFF) == 0) continue;
        radix_pass(src_k, src_i, dst_k, dst_i, n, 8 * byte, 0, hist, nt, NULL);
        uint64_t *x = src_k;
        src_k = dst_k;
        dst_k = x;
        x = src_i;
        src_i = dst_i;
        dst_i = x;
    }
    free(hist);
    if (src_k != k) {
        memcpy(k, src_k, n * sizeof *k);
        if (idx != NULL) memcpy(idx, src_i, n * sizeof *idx);
    }
    return STRATA_OK;
}

#define MSD_INSERT 24 /* msd_pairs() sorts this many pairs or fewer by insertion */

/* Sort (K, IDX) pairs [0, N) by K, stably, with TK/TIDX as scratch (IDX and TIDX may be NULL):
 * MSD radix on the top 8 bits in which they differ, each bucket again until it is small, then
 * insertion. Keys of a few distinct values, or of few rows, take far fewer passes than LSD over
 * every byte that differs (doubles differ in all their mantissa bytes: 7 or 8 LSD passes). */
static void msd_pairs(uint64_t *k, uint64_t *idx, uint64_t *tk, uint64_t *tidx, uint64_t n)
{
    if (n <= MSD_INSERT) {
        for (uint64_t i = 1; i < n; i++) {
            uint64_t x = k[i], xi = idx != NULL ? idx[i] : 0, j = i;
            for (; j > 0 && k[j - 1] > x; j--) {
                k[j] = k[j - 1];
                if (idx != NULL) idx[j] = idx[j - 1];
            }
            k[j] = x;
            if (idx != NULL) idx[j] = xi;
        }
        return;
    }
    uint64_t diff = st_key_diff(k, n, 1);
    if (diff == 0) return;
    int top = 63 - __builtin_clzll(diff), shift = top >= 7 ? top - 7 : 0;
    uint64_t h[1][256], start[257];
    radix_pass(k, idx, tk, tidx, n, shift, 0, h, 1, start);
    for (int d = 0; d < 256; d++) {
        uint64_t a = start[d], len = start[d + 1] - start[d];
        if (len > 1)
            msd_pairs(tk + a, tidx != NULL ? tidx + a : NULL, k + a, idx != NULL ? idx + a : NULL,
                      len);
    }
    memcpy(k, tk, n * sizeof *k);
    if (idx != NULL) memcpy(idx, tidx, n * sizeof *idx);
}

/* From this many keys on, vqsort is loaded for the buckets (loading it costs ~2.5 ms); from
 * ST_MSD_SMALL on, one MSD pass comes first, so that the LSD passes run on buckets in cache
 * instead of over the whole array (200 000 random keys, 2 threads: 5.0 ms down to 2.7 ms). */
#define ST_MSD_MIN   ((uint64_t)1 << 18)
#define ST_MSD_SMALL ((uint64_t)1 << 14)

/* Sort (K, IDX) pairs as st_radix_pairs() does, into K/IDX. Large arrays take one stable MSD pass
 * on the top 8 bits that differ, into TK/TIDX; then each bucket (small enough to stay in cache) is
 * sorted on its own by msd_pairs() and copied back while it is hot. Buckets go to threads
 * dynamically, but each is sorted by one thread, so the result does not depend on NT. With VQ
 * loaded, vqsort sorts the buckets. */
static int radix_sort_vq(uint64_t *k, uint64_t *idx, uint64_t *tk, uint64_t *tidx, uint64_t n,
                         int nt, const st_vq *vq)
{
    uint64_t diff = st_key_diff(k, n, nt);
    if (n < ST_MSD_SMALL || diff == 0) return st_radix_pairs(k, idx, tk, tidx, n, diff, nt);
    int top = 63 - __builtin_clzll(diff), shift = top >= 7 ? top - 7 : 0;
    uint64_t(*hist)[256] = calloc((size_t)nt, sizeof *hist);
    uint64_t *start = calloc(257, sizeof *start);
    int rc = hist == NULL || start == NULL ? STRATA_ENOMEM : STRATA_OK;
    if (rc == STRATA_OK) {
        radix_pass(k, idx, tk, tidx, n, shift, 0, hist, nt, start);
        int failed = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(| : failed)
        for (int d = 0; d < 256; d++) {
            uint64_t a = start[d], len = start[d + 1] - start[d];
            if (len == 0) continue;
            uint64_t *bi = idx != NULL ? idx + a : NULL, *bti = idx != NULL ? tidx + a : NULL;
            /* vqsort (Highway) beats our byte passes on a bucket: keys in place, pairs as
             * 128-bit records tie-broken by position, so the same stable order */
            if (vq->keys != NULL && idx == NULL) {
                memcpy(k + a, tk + a, len * sizeof *k);
                vq->keys(k + a, len);
                continue;
            }
            void *rec = vq->pairs != NULL && len > 1 ? malloc(len * 16) : NULL;
            if (rec != NULL) {
                vq->pairs(tk + a, bti, k + a, bi, len, rec);
                free(rec);
                continue;
            }
            /* sorted in TK, then back */
            msd_pairs(tk + a, bti, k + a, bi, len);
            memcpy(k + a, tk + a, len * sizeof *k);
            if (idx != NULL) memcpy(idx + a, tidx + a, len * sizeof *idx);
        }
        rc = failed ? STRATA_ENOMEM : STRATA_OK;
    }
    free(hist);
    free(start);
    return rc;
}

/* radix_sort_vq() with vqsort when its module is there. */
static int radix_sort(uint64_t *k, uint64_t *idx, uint64_t *tk, uint64_t *tidx, uint64_t n, int nt)
{
    st_vq vq;
    if (n >= ST_MSD_MIN)
        st_vq_open(&vq);
    else
        memset(&vq, 0, sizeof vq);
    int rc = radix_sort_vq(k, idx, tk, tidx, n, nt, &vq);
    st_vq_close(&vq);
    return rc;
}

int st_argsort(strata_dtype dtype, const void *keys, uint64_t n, const uint64_t *perm_in,
               uint64_t *perm, int desc, int nthreads)
{
    return st_argsort_in(dtype, keys, n, perm_in, perm, desc, nthreads, NULL);
}

/* A range of fewer images than this is sorted by counting (st_argsort_segs). */
#define ST_ARG_DENSE ((uint64_t)1 << 16)

/* Whether the images of KEYS [0, N) span fewer than ST_ARG_DENSE values; if so, *HINT receives
 * the smallest and largest. The first 4096 keys decide whether the rest are looked at. */
static int dense_images(strata_dtype dtype, const void *keys, uint64_t n, int desc,
                        uint64_t hint[2])
{
    uint64_t mn = UINT64_MAX, mx = 0, buf[4096];
    for (uint64_t i = 0; i < n; i += 4096) {
        uint64_t m = n - i < 4096 ? n - i : 4096;
        st_images(dtype, keys, i, m, desc, buf);
        for (uint64_t x = 0; x < m; x++) {
            mn = buf[x] < mn ? buf[x] : mn;
            mx = buf[x] > mx ? buf[x] : mx;
        }
        if (mx - mn >= ST_ARG_DENSE) return 0;
    }
    hint[0] = mn;
    hint[1] = mx;
    return mx - mn < ST_ARG_DENSE;
}

int st_argsort_in(strata_dtype dtype, const void *keys, uint64_t n, const uint64_t *perm_in,
                  uint64_t *perm, int desc, int nthreads, uint64_t *scratch)
{
    if (n == 0) return STRATA_OK;
    int nt = nthreads_for(n, nthreads);
    uint64_t hint[2], start[2] = {0, n};
    if (perm_in == NULL && n >= ST_MSD_MIN) {
        /* one segment through sortrec.c: input in order, few distinct keys and wide ranges each
         * take their own path */
        return st_argsort_segs(dtype, &keys, start, 1, desc, NULL, NULL, perm, NULL, nt);
    }
    if (perm_in == NULL && n >= ST_MSD_SMALL && dense_images(dtype, keys, n, desc, hint)) {
        /* a counting sort, straight into PERM: one pass to place, no scratch to fault in
         * (200 000 keys of 15 bits, one thread: 2.0 ms down to 1.5 ms; a first call in a fresh
         * process, 4.2 down to 2.2 ms) */
        return st_argsort_segs(dtype, &keys, start, 1, desc, hint, NULL, perm, NULL, nt);
    }
    uint64_t *k = scratch, *tk = scratch + n, *tidx = scratch + 2 * n;
    if (scratch == NULL) {
        k = st_alloc_big(n * sizeof *k);
        tk = st_alloc_big(n * sizeof *tk);
        tidx = st_alloc_big(n * sizeof *tidx);
    }
    int rc = STRATA_ENOMEM;
    if (k == NULL || tk == NULL || tidx == NULL) goto done;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = perm_in != NULL ? perm_in[i] : i;
        k[i] = sort_image(dtype, keys, p, desc);
        tidx[i] = p;
    }
    memcpy(perm, tidx, n * sizeof *perm); /* PERM may alias PERM_IN: copied only now */
    rc = radix_sort(k, perm, tk, tidx, n, nt);
done:
    if (scratch == NULL) {
        st_free_big(k);
        st_free_big(tk);
        st_free_big(tidx);
    }
    return rc;
}

static int is_float(strata_dtype t)
{
    return t == STRATA_F32 || t == STRATA_F64;
}

/* Floats: through their argsort, so that NaN payloads survive. */
static int sort_floats(strata_dtype dtype, void *keys, uint64_t n, int desc, int nt)
{
    size_t esz = strata_dtype_size(dtype);
    uint64_t *perm = malloc(n * sizeof *perm);
    char *copy = malloc(n * esz);
    int rc = STRATA_ENOMEM;
    if (perm == NULL || copy == NULL) goto done;
    ST_TRY(rc = st_argsort(dtype, keys, n, NULL, perm, desc, nt));
    memcpy(copy, keys, n * esz);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t i = 0; i < n; i++) memcpy((char *)keys + i * esz, copy + perm[i] * esz, esz);
done:
    free(perm);
    free(copy);
    return rc;
}

/* The MSD pass of a large i64 sort (sort_i64) goes by the top ST_SORT_BITS bits in which the keys
 * differ: buckets of about N / 1024 keys, which vqsort sorts in the core's cache. */
#define ST_SORT_BITS  10
#define ST_SORT_NB    (1 << ST_SORT_BITS)
#define ST_SORT_GUESS ((uint64_t)1 << 16)

static int shift_of(uint64_t diff)
{
    int top = 63 - __builtin_clzll(diff | 1);
    return top >= ST_SORT_BITS - 1 ? top - (ST_SORT_BITS - 1) : 0;
}

static inline unsigned digit_of(uint64_t key, uint64_t flip, int shift)
{
    return (unsigned)((key ^ flip) >> shift) & (ST_SORT_NB - 1);
}

/* Keys [LO, HI) counted by digit into H (zeroed first); returns the bits in which they differ
 * from K0. */
static uint64_t count_digits(const uint64_t *k, uint64_t lo, uint64_t hi, uint64_t k0, int shift,
                             uint64_t flip, uint64_t *h)
{
    uint64_t diff = 0, i = lo;
    memset(h, 0, ST_SORT_NB * sizeof *h);
    for (; i + ST_COUNT_AHEAD + 8 <= hi; i += 8) {
        __builtin_prefetch(k + i + ST_COUNT_AHEAD);
        for (int j = 0; j < 8; j++) {
            diff |= k[i + j] ^ k0;
            h[digit_of(k[i + j], flip, shift)]++;
        }
    }
    for (; i < hi; i++) {
        diff |= k[i] ^ k0;
        h[digit_of(k[i], flip, shift)]++;
    }
    return diff;
}

/* st_wc_*: ops_int.h. */
int st_wc_open(st_wc *w, const void *dst, const uint64_t *at, unsigned nb, size_t esz)
{
    w->line = aligned_alloc(64, nb * sizeof *w->line);
    w->first = malloc(nb * sizeof *w->first);
    if (w->line == NULL || w->first == NULL) {
        free(w->line);
        free(w->first);
        return 0;
    }
    for (unsigned d = 0; d < nb; d++) w->first[d] = (uintptr_t)dst + at[d] * esz;
    return 1;
}

void st_wc_close(st_wc *w, void *dst, const uint64_t *at, unsigned nb, size_t esz)
{
    for (unsigned d = 0; d < nb; d++) {
        uintptr_t end = (uintptr_t)dst + at[d] * esz, ls = end & ~(uintptr_t)63;
        if (ls < w->first[d]) ls = w->first[d];
        if (end > ls) memcpy((void *)ls, w->line[d] + (ls & 63), end - ls);
    }
#if defined(__SSE2__)
    _mm_sfence(); /* the lines reach memory before the team's barrier */
#endif
    free(w->line);
    free(w->first);
}

/* st_wc_append() with ESZ a constant: copies of a known size, not calls to memcpy (about 5 % of
 * the placing of 50 M positions of 1 000 keys). */
static inline __attribute__((always_inline)) void wc_append(st_wc *w, void *dst, unsigned d,
                                                            uint64_t p, const void *src, uint64_t n,
                                                            const size_t esz)
{
    const unsigned char *s = src;
    uintptr_t a = (uintptr_t)dst + p * esz;
    for (; n > 0 && (a & 63) != 0; n--, p++, s += esz, a += esz) st_wc_put(w, dst, d, p, s, esz);
    /* A is a line's start here, and in this thread's part of the bucket (at or past P's) */
    for (; n * esz >= 64; n -= 64 / esz, s += 64, a += 64) st_wc_line_out((void *)a, s);
    for (uint64_t i = 0; i < n; i++) memcpy(w->line[d] + (a & 63) + i * esz, s + i * esz, esz);
}

void st_wc_append(st_wc *w, void *dst, unsigned d, uint64_t p, const void *src, uint64_t n,
                  size_t esz)
{
    if (esz == 8)
        wc_append(w, dst, d, p, src, n, 8);
    else if (esz == 16)
        wc_append(w, dst, d, p, src, n, 16);
    else
        wc_append(w, dst, d, p, src, n, esz);
}

/* Keys [LO, HI) placed at the positions H (this thread's offsets per digit) gives them, in DST,
 * through write combining (st_wc_put: 50 M keys, 2 threads: 0.12 s -> 0.09 s). */
static void wc_scatter(const uint64_t *k, uint64_t lo, uint64_t hi, uint64_t flip, int shift,
                       uint64_t *h, uint64_t *dst)
{
    st_wc w;
    if (!st_wc_open(&w, dst, h, ST_SORT_NB, sizeof *dst)) {
        for (uint64_t i = lo; i < hi; i++) dst[h[digit_of(k[i], flip, shift)]++] = k[i];
        return;
    }
    for (uint64_t i = lo; i < hi; i++) {
        unsigned d = digit_of(k[i], flip, shift);
        st_wc_put(&w, dst, d, h[d]++, k + i, sizeof *dst);
    }
    st_wc_close(&w, dst, h, ST_SORT_NB, sizeof *dst);
}

/* The MSD pass of sort_i64(): the keys K (raw i64; FLIP makes them images) counted by digit at a
 * shift guessed from the first keys, while the same pass finds the bits in which they differ (a
 * wrong guess costs a second count), then placed in *TK: DST when given, else memory allocated
 * here (64-byte aligned inside *OWN); START receives the ST_SORT_NB + 1 bucket boundaries.
 * 0: done (*TK NULL: all keys were equal, nothing was placed); STRATA_ENOMEM. */
static int msd_place(const uint64_t *k, uint64_t n, uint64_t flip, int nt, uint64_t *hist,
                     uint64_t *start, uint64_t *dst, uint64_t **tk, void **own)
{
    uint64_t guess = 0, diffs[64], diff = 0;
    int rc = STRATA_OK;
    for (uint64_t i = 1; i < n && i < ST_SORT_GUESS; i++) guess |= k[i] ^ k[0];
    int shift = shift_of(guess), recount = 0;
    *own = NULL;
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), team = st_team_size();
        uint64_t lo, hi, *h = hist + (uint64_t)t * ST_SORT_NB;
        st_chunk(n, t, team, &lo, &hi);
        diffs[t] = count_digits(k, lo, hi, k[0], shift, flip, h);
#pragma omp barrier
#pragma omp single
        {
            for (int u = 0; u < team; u++) diff |= diffs[u];
            recount = diff != 0 && shift_of(diff) != shift;
            shift = shift_of(diff);
        }
        if (recount) count_digits(k, lo, hi, k[0], shift, flip, h);
#pragma omp barrier
#pragma omp single
        {
            st_digit_offsets(hist, ST_SORT_NB, team, start);
            *tk = NULL;
            if (diff != 0 && dst != NULL)
                *tk = dst;
            else if (diff != 0 && (*own = st_alloc_big(n * sizeof **tk + 64)) == NULL)
                rc = STRATA_ENOMEM;
            else if (diff != 0)
                *tk = (uint64_t *)(((uintptr_t)*own + 63) & ~(uintptr_t)63);
        }
        if (*tk != NULL) wc_scatter(k, lo, hi, flip, shift, h, *tk);
    }
    return rc;
}

/* N keys from SRC to DST through non-temporal stores where the machine has them: DST's lines
 * are not read first (memcpy's stores read each line of a destination not in the cache: 400 MB
 * more read for the copy back of 50 M keys). The stores are left unfenced: the caller calls
 * stream_done() before its barrier or before another thread reads DST. */
static void stream_copy(int64_t *dst, const uint64_t *src, uint64_t n)
{
    uint64_t i = 0;
#if defined(__SSE2__)
    for (; i < n && ((uintptr_t)(dst + i) & 15) != 0; i++) dst[i] = (int64_t)src[i];
    for (; i + 2 <= n; i += 2)
        _mm_stream_si128((__m128i *)(dst + i), _mm_loadu_si128((const __m128i *)(src + i)));
#endif
    for (; i < n; i++) dst[i] = (int64_t)src[i];
}

/* The N keys SRC into DST in reverse order (DST[j] = SRC[N - 1 - j]), as stream_copy() writes. */
static void stream_copy_reversed(int64_t *dst, const uint64_t *src, uint64_t n)
{
    uint64_t j = 0;
#if defined(__SSE2__)
    for (; j < n && ((uintptr_t)(dst + j) & 15) != 0; j++) dst[j] = (int64_t)src[n - 1 - j];
    for (; j + 2 <= n; j += 2) {
        __m128i two = _mm_loadu_si128((const __m128i *)(src + n - 2 - j));
        _mm_stream_si128((__m128i *)(dst + j), _mm_shuffle_epi32(two, 0x4E)); /* halves swapped */
    }
#endif
    for (; j < n; j++) dst[j] = (int64_t)src[n - 1 - j];
}

/* The non-temporal stores of stream_copy() and the like ordered before whatever the thread does
 * next, the team's barrier too: once after a run of copies, not after each (the order pass's
 * blocks of 512 keys: a fence after each cost a tenth of the copy of keys in order). */
static void stream_done(void)
{
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

/* N copies of VAL from DST on, through non-temporal stores as stream_copy() writes, fenced. */
static void stream_fill(int64_t *dst, int64_t val, uint64_t n)
{
    uint64_t i = 0;
#if defined(__SSE2__)
    if (n >= 64) {
        __m128i two = _mm_set1_epi64x(val);
        for (; i < n && ((uintptr_t)(dst + i) & 15) != 0; i++) dst[i] = val;
        for (; i + 2 <= n; i += 2) _mm_stream_si128((__m128i *)(dst + i), two);
        _mm_sfence();
    }
#endif
    for (; i < n; i++) dst[i] = val;
}

/* Sort the N i64 keys SRC into DST: one MSD pass (msd_place), then each bucket sorted by vqsort.
 * Into another array, the pass places the keys in DST and each bucket is sorted there (the keys
 * read twice, written once). In place (DST == SRC), into a scratch copy, each bucket copied back
 * while it is hot (read three times, written twice). */
static int sort_i64(const int64_t *src, int64_t *dst, uint64_t n, int desc, int nt, const st_vq *vq)
{
    const uint64_t sign = (uint64_t)1 << 63;
    if (nt > 64) nt = 64;
    uint64_t *hist = malloc((size_t)nt * ST_SORT_NB * sizeof *hist), *tk = NULL;
    uint64_t *start = malloc((ST_SORT_NB + 1) * sizeof *start);
    void *own = NULL;
    int apart = dst != src;
    int rc = hist != NULL && start != NULL
                 ? msd_place((const uint64_t *)src, n, desc ? ~sign : sign, nt, hist, start,
                             apart ? (uint64_t *)dst : NULL, &tk, &own)
                 : STRATA_ENOMEM;
    if (rc == STRATA_OK && tk == NULL && apart) { /* all keys equal */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++) {
            uint64_t lo, hi;
            st_chunk(n, t, nt, &lo, &hi);
            stream_copy(dst + lo, (const uint64_t *)src + lo, hi - lo);
            stream_done();
        }
    }
    if (tk != NULL) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int d = 0; d < ST_SORT_NB; d++) {
            uint64_t a = start[d], len = start[d + 1] - a;
            if (len > 1) vq->i64((int64_t *)tk + a, len, desc);
            if (!apart) {
                stream_copy(dst + a, tk + a, len);
                stream_done();
            }
        }
    }
    st_free_big(own);
    free(hist);
    free(start);
    return rc;
}

/* Whether the N keys are in order (*U) or in reverse (*D; equal neighbours allowed in both),
 * each thread stopping soon after its first keys out of order (in place: within 8 keys; into
 * another array: at the end of the block; random input costs next to nothing).
 * Into another array (DST != KEYS) the same pass copies the keys, in blocks, while they are still
 * in order: to their places in DST when the first key is not after the last (the keys can only
 * be in order then; in reverse as well only when all are equal, which is in order), else to
 * their mirrored places (they can only be in reverse). Each thread then writes only its own
 * part of DST, or its mirror; input in order or in reverse is read once. */
#define ST_ORDER_BLOCK 512

/* Whether keys [A - 1, E) are still in order (*U) and in reverse (*D), from what those flags
 * say of the keys before (the caller stops at the first block in neither). */
static void order_block(const int64_t *k, uint64_t a, uint64_t e, int desc, int *u, int *d)
{
    int up = *u, down = *d;
    /* whether a key is out of either order, with no exit at the first (the block's keys in a
     * loop of no branch: the sorted keys into another array, with the prefetch of order_pass(),
     * 0.055-0.070 -> 0.036-0.041 s for 50 M on 2 threads) */
    uint64_t bu = 0, bd = 0;
    for (uint64_t i = a; i < e; i++) {
        int64_t x = k[i - 1], y = k[i];
        bu |= desc ? x < y : x > y;
        bd |= desc ? x > y : x < y;
    }
    up &= !bu;
    down &= !bd;
    *u = up;
    *d = down;
}

static void order_pass(const int64_t *keys, int64_t *dst, uint64_t n, int desc, int nt, int *u,
                       int *d)
{
    int up[64], down[64], team = 1;
    /* into another array: which order the keys can be in, the other one's flag dropped */
    int rev = desc ? keys[0] < keys[n - 1] : keys[0] > keys[n - 1];
    if (dst == keys) {
        /* in place: one loop to the first keys out of both orders, written out here (in blocks,
         * in the same parallel region as the other loop, or as one call of order_block() it
         * measured 2 to 2.4 times as slow, the same instructions a key) */
#pragma omp parallel num_threads(nt)
        {
            int t = st_thread_num(), tu = 1, td = 1, nteam = st_team_size();
            uint64_t lo, hi;
            if (t == 0) team = nteam;
            st_chunk(n, t, nteam, &lo, &hi);
            uint64_t i = lo + 1;
            for (; i + ST_COUNT_AHEAD + 8 <= hi && (tu || td); i += 8) {
                __builtin_prefetch(keys + i + ST_COUNT_AHEAD);
                for (uint64_t j = i; j < i + 8; j++) {
                    int64_t x = keys[j - 1], y = keys[j];
                    tu &= desc ? x >= y : x <= y;
                    td &= desc ? x <= y : x >= y;
                }
            }
            for (; i < hi && (tu || td); i++) {
                int64_t x = keys[i - 1], y = keys[i];
                tu &= desc ? x >= y : x <= y;
                td &= desc ? x <= y : x >= y;
            }
            up[t] = tu;
            down[t] = td;
        }
    } else {
#pragma omp parallel num_threads(nt)
        {
            int t = st_thread_num(), tu = !rev, td = rev, nteam = st_team_size();
            uint64_t lo, hi;
            if (t == 0) team = nteam;
            st_chunk(n, t, nteam, &lo, &hi);
            for (uint64_t b = lo; b < hi && (tu || td); b += ST_ORDER_BLOCK) {
                uint64_t e = hi - b < ST_ORDER_BLOCK ? hi : b + ST_ORDER_BLOCK;
                if (e + ST_COUNT_AHEAD <= hi)
                    for (uint64_t i = b; i < e; i += 8)
                        __builtin_prefetch(keys + i + ST_COUNT_AHEAD);
                order_block(keys, b > lo ? b : lo + 1, e, desc, &tu, &td);
                if (tu)
                    stream_copy(dst + b, (const uint64_t *)keys + b, e - b);
                else if (td)
                    stream_copy_reversed(dst + (n - e), (const uint64_t *)keys + b, e - b);
            }
            stream_done();
            up[t] = tu;
            down[t] = td;
        }
    }
    *u = *d = 1;
    for (int t = 0; t < team; t++) {
        uint64_t lo, hi;
        st_chunk(n, t, team, &lo, &hi);
        *u &= up[t];
        *d &= down[t];
        if (t > 0 && lo > 0 && lo < hi) {
            int64_t x = keys[lo - 1], y = keys[lo];
            *u &= desc ? x >= y : x <= y;
            *d &= desc ? x <= y : x >= y;
        }
    }
}

/* Large i64 value sorts with structure. 1: the keys were in order already, or in reverse (now
 * reversed: equal values are equal bytes; into DST when it is another array), or fall in a window
 * of ST_SORT_DENSE values around the first keys' range (now counted out); 0: none of these (KEYS
 * unchanged; another DST may hold some of them, to be overwritten). The order check stops at a
 * thread's first key out of order and the window is guessed from the first keys, so random input
 * costs next to nothing. */
#define ST_SORT_DENSE ((uint64_t)1 << 16)
static int sort_i64_shaped(const int64_t *keys, int64_t *dst, uint64_t n, int desc, int nt)
{
    if (nt > 64) nt = 64;
    int u, d;
    order_pass(keys, dst, n, desc, nt, &u, &d);
    if (u) return 1;
    if (d && dst == keys) {
#pragma omp parallel num_threads(nt)
        {
            uint64_t lo, hi, i;
            st_chunk(n / 2, st_thread_num(), st_team_size(), &lo, &hi);
            for (i = lo; i + ST_COUNT_AHEAD + 8 <= hi; i += 8) {
                __builtin_prefetch(dst + i + ST_COUNT_AHEAD, 1);
                __builtin_prefetch(dst + n - 8 - i - ST_COUNT_AHEAD, 1);
                for (uint64_t j = i; j < i + 8; j++) {
                    int64_t x = dst[j];
                    dst[j] = dst[n - 1 - j];
                    dst[n - 1 - j] = x;
                }
            }
            for (; i < hi; i++) {
                int64_t x = dst[i];
                dst[i] = dst[n - 1 - i];
                dst[n - 1 - i] = x;
            }
        }
    }
    if (d) return 1;
    /* The range: guessed from the first keys, the histogram counted in the same pass as the
     * range is checked; a wrong guess costs one more pass. */
    uint64_t smin = UINT64_MAX, smax = 0, sn = n < 65536 ? n : 65536;
    for (uint64_t i = 0; i < sn; i++) {
        uint64_t v = (uint64_t)keys[i] ^ ((uint64_t)1 << 63); /* order-preserving */
        smin = v < smin ? v : smin;
        smax = v > smax ? v : smax;
    }
    if (smax - smin >= ST_SORT_DENSE / 2) return 0;
    uint64_t slack = (ST_SORT_DENSE - (smax - smin)) / 2, nv = ST_SORT_DENSE;
    uint64_t base = smin >= slack ? smin - slack : 0;
    if (base > UINT64_MAX - nv) base = UINT64_MAX - nv + 1;
    int64_t mn = (int64_t)(base ^ ((uint64_t)1 << 63));
    /* a key outside the window shows in the OR of all (NV a power of two); its count goes
     * anywhere, all of them dropped then (a compare per key instead: 0.055 -> 0.085 s for 50 M
     * keys on 2 threads) */
    uint64_t *cnt = calloc((size_t)(nt + 1) * nv, sizeof *cnt), seen = 0;
    if (cnt == NULL) return 0;
#pragma omp parallel num_threads(nt) reduction(| : seen)
    {
        uint64_t lo, hi, *h = cnt + (uint64_t)(st_thread_num() + 1) * nv;
        st_chunk(n, st_thread_num(), st_team_size(), &lo, &hi);
        uint64_t i = lo;
        for (; i + ST_COUNT_AHEAD + 8 <= hi; i += 8) {
            __builtin_prefetch(keys + i + ST_COUNT_AHEAD);
            for (int j = 0; j < 8; j++) {
                uint64_t v = (uint64_t)keys[i + j] - (uint64_t)mn;
                seen |= v;
                h[v & (nv - 1)]++;
            }
        }
        for (; i < hi; i++) {
            uint64_t v = (uint64_t)keys[i] - (uint64_t)mn;
            seen |= v;
            h[v & (nv - 1)]++;
        }
    }
    if (seen >= nv) {
        free(cnt);
        return 0;
    }
    /* CNT[v] := where value v's run starts, in the order asked for */
    uint64_t at = 0;
    for (uint64_t x = 0; x < nv; x++) {
        uint64_t v = desc ? nv - 1 - x : x, c = 0;
        for (int t = 1; t <= nt; t++) c += cnt[(uint64_t)t * nv + v];
        cnt[v] = at;
        at += c;
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64)
    for (uint64_t v = 0; v < nv; v++) {
        uint64_t a = cnt[v], e = desc ? (v == 0 ? n : cnt[v - 1]) : (v + 1 < nv ? cnt[v + 1] : n);
        stream_fill(dst + a, (int64_t)((uint64_t)mn + v), e - a);
    }
    free(cnt);
    return 1;
}

int st_sort_to(strata_dtype dtype, const void *src, void *dst, uint64_t n, int desc, int nthreads)
{
    if (n == 0) return STRATA_OK;
    int nt = nthreads_for(n, nthreads);
    if ((dtype == STRATA_I64 || dtype == STRATA_TS) && n >= ST_MSD_MIN) {
        if (sort_i64_shaped(src, dst, n, desc, nt)) return STRATA_OK;
        st_vq vq;
        if (st_vq_open(&vq)) {
            int rc = sort_i64(src, dst, n, desc, nt, &vq);
            st_vq_close(&vq);
            return rc;
        }
    }
    if (dst != src) memcpy(dst, src, n * strata_dtype_size(dtype));
    if (is_float(dtype)) return sort_floats(dtype, dst, n, desc, nt);
    uint64_t *k = st_alloc_big(n * sizeof *k), *tk = st_alloc_big(n * sizeof *tk);
    int rc = STRATA_ENOMEM;
    if (k == NULL || tk == NULL) goto done;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t i = 0; i < n; i++) k[i] = sort_image(dtype, dst, i, desc);
    ST_TRY(rc = radix_sort(k, NULL, tk, NULL, n, nt));
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t i = 0; i < n; i++)
        st_key_from_image(dtype, k[i], desc, (char *)dst + i * strata_dtype_size(dtype));
done:
    st_free_big(k);
    st_free_big(tk);
    return rc;
}

int st_sort(strata_dtype dtype, void *keys, uint64_t n, int desc, int nthreads)
{
    return st_sort_to(dtype, keys, keys, n, desc, nthreads);
}

/* ---- strings --------------------------------------------------------------------------------- */

static int str_cmp(const int64_t *off, const char *bytes, uint64_t a, uint64_t b)
{
    size_t la = (size_t)(off[a + 1] - off[a]), lb = (size_t)(off[b + 1] - off[b]);
    int c = memcmp(bytes + off[a], bytes + off[b], la < lb ? la : lb);
    if (c != 0) return c;
    return la < lb ? -1 : la > lb;
}

/* Sort positions POS[0..N) of strings (OFF, BYTES) stably by str_cmp (DESC: descending) by
 * bottom-up merging through TMP (room for N). */
static void str_merge_sort(const int64_t *off, const char *bytes, uint64_t *pos, uint64_t *tmp,
                           uint64_t n, int desc)
{
    uint64_t *src = pos, *dst = tmp;
    for (uint64_t w = 1; w < n; w *= 2) {
        for (uint64_t lo = 0; lo < n; lo += 2 * w) {
            uint64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                int c = str_cmp(off, bytes, src[i], src[j]);
                if (desc) c = -c;
                dst[o++] = c <= 0 ? src[i++] : src[j++];
            }
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        uint64_t *x = src;
        src = dst;
        dst = x;
    }
    if (src != pos) memcpy(pos, src, n * sizeof *pos);
}

/* Bytes [DEPTH, DEPTH + 8) of string I, big-endian and zero-padded (their order is the bytes'),
 * and into *REM how many of them it has: 9 when it goes on past them. */
static uint64_t str_chunk(const int64_t *off, const char *bytes, uint64_t i, size_t depth,
                          uint64_t *rem)
{
    size_t len = (size_t)(off[i + 1] - off[i]), r = len > depth ? len - depth : 0;
    const unsigned char *p = (const unsigned char *)bytes + off[i] + depth;
    uint64_t k = 0;
    for (size_t b = 0; b < 8; b++) k = (k << 8) | (b < r ? p[b] : 0);
    *rem = r > 8 ? 9 : r;
    return k;
}

#define STR_RADIX_MIN   1024
#define STR_RADIX_DEPTH 256 /* bytes: the recursion's depth stays bounded */

/* Sort positions POS[0..N) of strings that agree on their first DEPTH bytes, stably, eight
 * bytes at a time: a stable argsort by the next eight bytes and how many of them each string
 * has (a string that ends sorts before the same bytes going on), then each run of strings equal
 * so far and going on, from DEPTH + 8. Few strings, and strings equal past STR_RADIX_DEPTH
 * bytes, are merged whole. */
static int str_sort_from(const int64_t *off, const char *bytes, uint64_t *pos, uint64_t n,
                         size_t depth, int desc)
{
    if (n < 2) return STRATA_OK;
    if (n < STR_RADIX_MIN || depth >= STR_RADIX_DEPTH) { /* few, or long shared prefixes */
        uint64_t *tmp = malloc(n * sizeof *tmp);
        if (tmp == NULL) return STRATA_ENOMEM;
        str_merge_sort(off, bytes, pos, tmp, n, desc);
        free(tmp);
        return STRATA_OK;
    }
    uint64_t *key = malloc(n * sizeof *key), *rem = malloc(n * sizeof *rem);
    uint64_t *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
    int rc = key && rem && p1 && p2 ? STRATA_OK : STRATA_ENOMEM;
    for (uint64_t j = 0; j < n && rc == STRATA_OK; j++)
        key[j] = str_chunk(off, bytes, pos[j], depth, &rem[j]);
    if (rc == STRATA_OK) rc = st_argsort(STRATA_U64, rem, n, NULL, p1, desc, 1);
    if (rc == STRATA_OK) rc = st_argsort(STRATA_U64, key, n, p1, p2, desc, 1);
    if (rc < 0) goto done;
    /* the positions in sorted order into POS, their keys into P1 and lengths into KEY's room
     * through REM: each array read whole before it is overwritten */
    for (uint64_t j = 0; j < n; j++) p1[j] = pos[p2[j]];
    memcpy(pos, p1, n * sizeof *pos);
    for (uint64_t j = 0; j < n; j++) p1[j] = key[p2[j]];
    for (uint64_t j = 0; j < n; j++) key[j] = rem[p2[j]];
    uint64_t *ks = p1, *rs = key;
    for (uint64_t s0 = 0; s0 < n && rc == STRATA_OK;) {
        uint64_t e = s0 + 1;
        while (e < n && ks[e] == ks[s0] && rs[e] == rs[s0]) e++;
        if (e - s0 > 1 && rs[s0] == 9)
            rc = str_sort_from(off, bytes, pos + s0, e - s0, depth + 8, desc);
        s0 = e;
    }
done:
    free(key);
    free(rem);
    free(p1);
    free(p2);
    return rc;
}

int st_argsort_str(const int64_t *offsets, const char *bytes, uint64_t n, const uint64_t *perm_in,
                   uint64_t *perm, int desc)
{
    if (n == 0) return STRATA_OK;
    for (uint64_t i = 0; i < n; i++) perm[i] = perm_in != NULL ? perm_in[i] : i;
    return str_sort_from(offsets, bytes, perm, n, 0, desc);
}

/* ---- merge and top-k --------------------------------------------------------------------- */

void st_merge2(strata_dtype dtype, const void *keys, const uint64_t *a, uint64_t na,
               const uint64_t *b, uint64_t nb, uint64_t *out, int desc)
{
    uint64_t i = 0, j = 0, o = 0;
    while (i < na && j < nb) {
        uint64_t ka = sort_image(dtype, keys, a[i], desc), kb = sort_image(dtype, keys, b[j], desc);
        out[o++] = ka <= kb ? a[i++] : b[j++];
    }
    while (i < na) out[o++] = a[i++];
    while (j < nb) out[o++] = b[j++];
}

/* A bounded max-heap of (image, position): its root is the worst kept candidate. */
typedef struct {
    uint64_t img, pos;
} cand;

static int worse(cand x, cand y) /* x comes after y in the result order */
{
    return x.img > y.img || (x.img == y.img && x.pos > y.pos);
}

static void sift_down(cand *h, uint64_t n, uint64_t i)
{
    for (;;) {
        uint64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l], h[m])) m = l;
        if (r < n && worse(h[r], h[m])) m = r;
        if (m == i) return;
        cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(cand *h, uint64_t i)
{
    while (i > 0) {
        uint64_t p = (i - 1) / 2;
        if (!worse(h[i], h[p])) return;
        cand t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

/* Keep the best K of positions [LO, HI) in heap H (size *HN). */
static void heap_scan(strata_dtype dtype, const void *keys, uint64_t lo, uint64_t hi, uint64_t k,
                      int desc, cand *h, uint64_t *hn)
{
    for (uint64_t i = lo; i < hi; i++) {
        cand c = {sort_image(dtype, keys, i, desc), i};
        if (*hn < k) {
            h[(*hn)++] = c;
            sift_up(h, *hn - 1);
        } else if (worse(h[0], c)) {
            h[0] = c;
            sift_down(h, *hn, 0);
        }
    }
}

static int cand_cmp(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    return worse(*a, *b) ? 1 : worse(*b, *a) ? -1 : 0;
}

int64_t st_topk(strata_dtype dtype, const void *keys, uint64_t n, uint64_t k, int desc,
                uint64_t *out, int nthreads)
{
    if (k > n) k = n;
    if (k == 0) return 0;
    int nt = nthreads_for(n, nthreads);
    cand *all = malloc((size_t)nt * k * sizeof *all);
    uint64_t *counts = calloc((size_t)nt, sizeof *counts);
    if (all == NULL || counts == NULL) {
        free(all);
        free(counts);
        return STRATA_ENOMEM;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num();
        uint64_t lo, hi;
        st_chunk(n, t, st_team_size(), &lo, &hi);
        heap_scan(dtype, keys, lo, hi, k, desc, all + (size_t)t * k, &counts[t]);
    }
    /* The best K of the per-thread candidates: (image, position) is a total order, so the
     * answer does not depend on how the work was split. */
    uint64_t m = 0;
    for (int t = 0; t < nt; t++) {
        memmove(all + m, all + (size_t)t * k, counts[t] * sizeof *all);
        m += counts[t];
    }
    qsort(all, m, sizeof *all, cand_cmp);
    for (uint64_t i = 0; i < k; i++) out[i] = all[i].pos;
    free(all);
    free(counts);
    return (int64_t)k;
}

/* ---- filter ------------------------------------------------------------------------------ */

uint64_t st_filter_mask(const uint8_t *mask, uint64_t n, uint64_t *out, int nthreads)
{
    int nt = nthreads_for(n, nthreads);
    uint64_t counts[256] = {0};
    if (nt > 256) nt = 256;
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num();
        uint64_t lo, hi;
        st_chunk(n, t, st_team_size(), &lo, &hi);
        uint64_t c = 0;
        for (uint64_t i = lo; i < hi; i++) c += mask[i] != 0;
        counts[t] = c;
#pragma omp barrier
        uint64_t o = 0;
        for (int u = 0; u < t; u++) o += counts[u];
        uint64_t end = o + c;
        /* Written always, kept only when selected: no data-dependent branch. The bound keeps
         * the write after this chunk's last selection out of the next chunk's range. */
        for (uint64_t i = lo; i < hi; i++) {
            if (o < end) out[o] = i;
            o += mask[i] != 0;
        }
    }
    uint64_t total = 0;
    for (int t = 0; t < nt; t++) total += counts[t];
    return total;
}
