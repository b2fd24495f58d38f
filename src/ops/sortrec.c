/*
 * sortrec.c -- the stable argsort of a key column given as segments (the mapped batches of a
 * column) into 16-byte records (position, image): what the full sort of a derived dataset uses,
 * so that neither the keys nor their images are ever copied into arrays of their own, and the
 * sorted keys come back from the images without a gather.
 *
 * One pass finds the images' range and whether they are in order already (non-decreasing: the
 * records are written in order; strictly decreasing: in reverse), and counts the digits of a
 * range known or guessed from the first keys (sample_hint), per chunk of the rows that the
 * placing pass sorts in the caches (place_runs). A range of fewer than ST_SREC_DENSE values is
 * sorted by counting: one histogram pass, one placing pass (two levels for more values than
 * write combining has lines for, into an output that fits the caches: place2). Otherwise one
 * MSD pass places the records into up to 2^ST_SREC_BITS buckets by the top bits of
 * (image - min), through write combining (st_wc_*, ops_int.h), and each bucket is sorted as
 * 128-bit integers (image high, position low, so ties go by position) by Highway's vqsort
 * (vqload.c), or without it by LSD radix. Every pass gives each thread a fixed range of rows and
 * places them digit-major, thread-minor: the result is the unique stable order, whatever the
 * number of threads.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"
#include "util/fileio.h"
#include "util/par.h"

#define ST_SREC_DENSE ((uint64_t)1 << 16)
#define ST_SREC_BITS  12
/* Rows a pass takes at a time (their images in a buffer of the stack): small, so that the keys'
 * reads from memory overlap the work on the block before (2 048 keys were read at memory speed,
 * then counted with the memory idle: the 1000-key argsort 0.13-0.15 s -> 0.094-0.10 s). */
#define ST_SREC_BLOCK 256
#define ST_SREC_GUESS ((uint64_t)1 << 16)
#define ST_SREC_WC    (1u << ST_SREC_BITS)

typedef struct segs {
    strata_dtype dt;
    const void *const *keys;
    const uint64_t *start;
    size_t nseg;
    int desc;
} segs;

/* st_images: ops_int.h. */
void st_images(strata_dtype dt, const void *keys, uint64_t i0, uint64_t n, int desc, uint64_t *out)
{
    const uint64_t sign = (uint64_t)1 << 63, x = desc ? ~(uint64_t)0 : 0;
    switch (dt) {
    case STRATA_I64:
    case STRATA_TS: {
        const int64_t *k = (const int64_t *)keys + i0;
        for (uint64_t i = 0; i < n; i++) out[i] = ((uint64_t)k[i] ^ sign) ^ x;
        break;
    }
    case STRATA_U64: {
        const uint64_t *k = (const uint64_t *)keys + i0;
        for (uint64_t i = 0; i < n; i++) out[i] = k[i] ^ x;
        break;
    }
    case STRATA_I32: {
        const int32_t *k = (const int32_t *)keys + i0;
        for (uint64_t i = 0; i < n; i++) out[i] = ((uint64_t)(int64_t)k[i] ^ sign) ^ x;
        break;
    }
    case STRATA_F64: {
        const uint64_t *k = (const uint64_t *)keys + i0, exp = 0x7FF0000000000000ull;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t u = k[i], img = (u & sign ? ~u : u | sign) ^ x;
            out[i] = (u & exp) == exp && (u & ~(exp | sign)) ? UINT64_MAX : img;
        }
        break;
    }
    default:
        for (uint64_t i = 0; i < n; i++) out[i] = st_key_image(dt, keys, i0 + i, desc);
    }
}

/* Images of rows [LO, LO + N) of the whole (positions from the first segment's start) into OUT;
 * *S is a segment at or before LO's, advanced to it. */
static void seg_images(const segs *g, size_t *s, uint64_t lo, uint64_t n, uint64_t *out)
{
    uint64_t base = g->start[0];
    while (n > 0) {
        while (g->start[*s + 1] - base <= lo) (*s)++;
        uint64_t s0 = g->start[*s] - base, m = g->start[*s + 1] - base - lo;
        if (m > n) m = n;
        st_images(g->dt, g->keys[*s], lo - s0, m, g->desc, out);
        out += m;
        lo += m;
        n -= m;
    }
}

/* The 8-byte values of rows [LO, LO + N) of a column cut as G's keys are (its segments SEG) into
 * OUT; *S as for seg_images(). */
static void seg_words(const segs *g, const void *const *seg, size_t *s, uint64_t lo, uint64_t n,
                      uint64_t *out)
{
    uint64_t base = g->start[0];
    while (n > 0) {
        while (g->start[*s + 1] - base <= lo) (*s)++;
        uint64_t s0 = g->start[*s] - base, m = g->start[*s + 1] - base - lo;
        if (m > n) m = n;
        memcpy(out, (const uint64_t *)seg[*s] + (lo - s0), m * sizeof *out);
        out += m;
        lo += m;
        n -= m;
    }
}

/* The first segment holding row LO of the whole. */
static size_t seg_of(const segs *g, uint64_t lo)
{
    size_t a = 0, b = g->nseg; /* start[a] - base <= lo < start[b] - base */
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (g->start[m] - g->start[0] <= lo)
            a = m;
        else
            b = m;
    }
    return a;
}

typedef struct scan {
    uint64_t min, max, first, last;
    int up, down; /* non-decreasing; strictly decreasing */
    int out;      /* an image outside the digits' range */
    int team;     /* the team that counted the histograms */
} scan;

/* How images become bucket digits: (image - MIN) >> SHIFT, for images up to MIN + RANGE. */
typedef struct digits {
    uint64_t min, range, nb;
    int shift;
} digits;

static void digits_for(uint64_t min, uint64_t max, digits *dg)
{
    dg->min = min;
    dg->range = max - min;
    dg->shift = 0;
    if (dg->range >= ST_SREC_DENSE) {
        int bits = 64 - __builtin_clzll(dg->range);
        dg->shift = bits - (bits < ST_SREC_BITS ? bits : ST_SREC_BITS);
    }
    dg->nb = (dg->range >> dg->shift) + 1;
}

/* Rows a thread places by place_runs() at a time: the placed elements stay in the second-level
 * cache, and each digit's run in a chunk is long enough to stream out whole lines (512 KiB of
 * scratch a thread for positions, 1 MiB for records). */
#define ST_SREC_RUNS ((uint64_t)1 << 16)

/* Rows place() hands to place_runs(), at the least: an append's few rows keep the scatter through
 * write combining, which needs no scratch to fault in. */
#define ST_SREC_RUNS_MIN ((uint64_t)1 << 20)

/* The rows of a chunk of place_runs() over rows [LO, HI), rounded up to 8 (its scratch). */
static uint64_t runs_rows(uint64_t lo, uint64_t hi)
{
    return ((hi - lo < ST_SREC_RUNS ? hi - lo : ST_SREC_RUNS) + 7) & ~(uint64_t)7;
}

/* The chunks of ST_SREC_RUNS rows of the threads before thread T of NT (the rows of each as
 * st_chunk() gives them): where T's counts begin among the counts per chunk that scan_images()
 * takes for place_runs(), NB + 1 of them a chunk (the last: images outside the digits' range).
 * With T = NT: all the chunks. */
static uint64_t runs_before(uint64_t n, int t, int nt)
{
    uint64_t before = 0;
    for (int u = 0; u < t; u++) {
        uint64_t lo, hi;
        st_chunk(n, u, nt, &lo, &hi);
        before += (hi - lo + ST_SREC_RUNS - 1) / ST_SREC_RUNS;
    }
    return before;
}

/* Rows [LO, LO + N) of G as 8-byte words whose images are each word ^ *FLIP: the keys themselves
 * when they are 64-bit integers in one segment (no copy), else their images, in BUF (*FLIP 0). */
static const uint64_t *seg_keys(const segs *g, size_t *s, uint64_t lo, uint64_t n, uint64_t *buf,
                                uint64_t *flip)
{
    uint64_t base = g->start[0], desc = g->desc ? ~(uint64_t)0 : 0;
    while (g->start[*s + 1] - base <= lo) (*s)++;
    uint64_t s0 = g->start[*s] - base;
    if (g->start[*s + 1] - base - lo >= n &&
        (g->dt == STRATA_I64 || g->dt == STRATA_TS || g->dt == STRATA_U64)) {
        *flip = g->dt == STRATA_U64 ? desc : desc ^ (uint64_t)1 << 63;
        return (const uint64_t *)g->keys[*s] + (lo - s0);
    }
    seg_images(g, s, lo, n, buf);
    *flip = 0;
    return buf;
}

/* A prefetch of rows [LO, LO + ST_SREC_BLOCK) of G, when below HI and in segment S, the one
 * before them: a pass that reads blocks (scan_rows()'s order and range loops, count_digits(),
 * count_chunk()) works on one while the next one comes (the hardware's prefetcher alone kept the
 * scan at 60 % of a thread's read speed: 50 M positions of 1 000 keys, 2 threads, 0.110-0.116 ->
 * 0.100-0.104 s on an Intel Xeon). Always inlined: GCC finds that a call to a function that only
 * prefetches has no effect, and drops it. */
static inline __attribute__((always_inline)) void prefetch_next(const segs *g, size_t s,
                                                                uint64_t lo, uint64_t hi)
{
    uint64_t base = g->start[0], s0 = g->start[s] - base;
    if (lo + ST_SREC_BLOCK > hi || g->start[s + 1] - base < lo + ST_SREC_BLOCK) return;
    size_t esz = strata_dtype_size(g->dt);
    const unsigned char *p = (const unsigned char *)g->keys[s] + (lo - s0) * esz;
    for (size_t i = 0; i < ST_SREC_BLOCK * esz; i += 64) __builtin_prefetch(p + i);
}

/* Where a loop over rows of segment S of G, up to HI, fetches keys ahead (ahead_fetch): one
 * fetch each 8 keys, ST_COUNT_AHEAD rows ahead, where prefetch_next() issues a block's 32 at once.
 * The counts per chunk of scan_rows() (the first pass of an argsort of 50 M rows) spent 37 % of
 * their time on the instruction after that burst, the line fill buffers full; fetched ahead, the
 * 1000-key argsort went 0.109-0.115 -> 0.101-0.102 s (2 threads, an Intel Xeon; the same fetch in
 * place_runs()'s scatter changed nothing). */
typedef struct ahead {
    uintptr_t at; /* where row 0 would be, were all rows in segment S */
    size_t esz;
    uint64_t end;
} ahead;

static inline void ahead_for(const segs *g, size_t s, uint64_t hi, ahead *a)
{
    uint64_t base = g->start[0], s1 = g->start[s + 1] - base;
    a->esz = strata_dtype_size(g->dt);
    a->at = (uintptr_t)g->keys[s] - (uintptr_t)((g->start[s] - base) * a->esz);
    a->end = s1 < hi ? s1 : hi;
}

/* A prefetch of the key ST_COUNT_AHEAD rows after ROW, when in A's segment. */
static inline __attribute__((always_inline)) void ahead_fetch(const ahead *a, uint64_t row)
{
    row += ST_COUNT_AHEAD;
    if (row < a->end) __builtin_prefetch((const void *)(a->at + row * a->esz));
}

/* The smallest and largest image of rows [LO, HI) of G into *MN and *MX. */
static void rows_range(const segs *g, uint64_t lo, uint64_t hi, uint64_t *mn, uint64_t *mx)
{
    uint64_t buf[ST_SREC_BLOCK], a = UINT64_MAX, b = 0;
    size_t s = seg_of(g, lo);
    for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
        uint64_t k = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
        seg_images(g, &s, r, k, buf);
        for (uint64_t i = 0; i < k; i++) {
            a = buf[i] < a ? buf[i] : a;
            b = buf[i] > b ? buf[i] : b;
        }
    }
    *mn = a;
    *mx = b;
}

/* Bounds of the images counted in H (DG's NB digits, some of them not 0): exact with DG's shift
 * 0, else the first and last values of the lowest and highest digits counted. */
static void digits_bounds(const digits *dg, const uint64_t *h, uint64_t *mn, uint64_t *mx)
{
    uint64_t d0 = 0, d1 = dg->nb - 1, low = ((uint64_t)1 << dg->shift) - 1;
    while (h[d0] == 0) d0++;
    while (h[d1] == 0) d1--;
    uint64_t top = d1 << dg->shift, rest = dg->range - top;
    *mn = dg->min + (d0 << dg->shift);
    *mx = dg->min + top + (rest < low ? rest : low);
}

/* scan_images() of rows [LO, HI) of G (LO < HI) into *SC: the thread's histogram into H (DG's NB
 * digits); with C, counts per chunk from C on as well, H then their sum. */
static void scan_rows(const segs *g, uint64_t lo, uint64_t hi, const digits *dg, uint64_t *h,
                      uint32_t *c, scan *sc)
{
    uint64_t buf[ST_SREC_BLOCK], mn = UINT64_MAX, mx = 0, prev = 0, first = 0, flip;
    int up = 1, down = 1, bad = 0;
    size_t s = seg_of(g, lo);
    uint32_t *c0 = c;
    /* (in locals: the counts' stores could alias DG's fields) */
    const uint64_t dmin = dg != NULL ? dg->min : 0, drange = dg != NULL ? dg->range : 0;
    const uint64_t nb = dg != NULL ? dg->nb : 0;
    const int shift = dg != NULL ? dg->shift : 0;
    if (h != NULL) memset(h, 0, nb * sizeof *h);
    for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
        uint64_t m = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
        const uint64_t *x = seg_keys(g, &s, r, m, buf, &flip);
        if (c == NULL || bad) /* (the counts per chunk below fetch ahead themselves) */
            prefetch_next(g, s, r + m, hi);
        if (r == lo) first = prev = x[0] ^ flip;
        down &= r == lo || (x[0] ^ flip) < prev;
        /* in order or in reverse, as long as the rows may be; neither cannot change */
        for (uint64_t i = 1; (up || down) && i < m; i++) {
            up &= (x[i] ^ flip) >= (x[i - 1] ^ flip);
            down &= (x[i] ^ flip) < (x[i - 1] ^ flip);
        }
        up &= (x[0] ^ flip) >= prev;
        prev = x[m - 1] ^ flip;
        if (h == NULL || bad) {
            for (uint64_t i = 0; i < m; i++) {
                uint64_t v = x[i] ^ flip;
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
            continue;
        }
        if (c != NULL) { /* counts per chunk; an image outside the range in digit NB */
            if (r != lo && (r - lo) % ST_SREC_RUNS == 0) c += nb + 1;
            if ((r - lo) % ST_SREC_RUNS == 0) memset(c, 0, (nb + 1) * sizeof *c);
            ahead a;
            ahead_for(g, s, hi, &a);
            uint64_t i = 0;
            for (; i + 8 <= m; i += 8) {
                ahead_fetch(&a, r + i);
                for (int j = 0; j < 8; j++) {
                    uint64_t v = (x[i + j] ^ flip) - dmin;
                    c[v > drange ? nb : v >> shift]++;
                }
            }
            for (; i < m; i++) {
                uint64_t v = (x[i] ^ flip) - dmin;
                c[v > drange ? nb : v >> shift]++;
            }
            if (c[nb] == 0) continue;
            bad = 1; /* the range of the rows so far, from the keys */
            rows_range(g, lo, r + m, &mn, &mx);
            continue;
        }
        /* an image outside the digits' range is counted in digit 0, and found out by the
         * range of the images so far (a test per image costs a third more) */
        for (uint64_t i = 0; i < m; i++) {
            uint64_t v = x[i] ^ flip;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            v -= dmin;
            h[(v > drange ? 0 : v) >> shift]++;
        }
        bad = mn < dmin || mx - dmin > drange;
    }
    if (c != NULL && !bad) { /* the thread's histogram from its chunks' */
        for (uint32_t *k = c0; k <= c; k += nb + 1)
            for (uint64_t d = 0; d < nb; d++) h[d] += k[d];
        digits_bounds(dg, h, &mn, &mx);
    }
    *sc = (scan){mn, mx, first, prev, up, down, bad, 0};
}

/* The range of the images and whether they are in order already; with DG, each thread's
 * histogram of digits too (HIST: NT x DG->nb), unless an image falls outside DG's range; with CC
 * too, the counts of each chunk of ST_SREC_RUNS rows (runs_before()), so that place_runs() need
 * not count them again (and with them, a thread's range is only bounded: digits_bounds()). */
static void scan_images(const segs *g, uint64_t n, int nt, const digits *dg, uint64_t *hist,
                        uint32_t *cc, scan *out)
{
    scan sc[64];
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), nteam = st_team_size();
        uint64_t lo, hi, *h = dg != NULL ? hist + (uint64_t)t * dg->nb : NULL;
        st_chunk(n, t, nteam, &lo, &hi);
        uint32_t *c = h != NULL && cc != NULL ? cc + runs_before(n, t, nteam) * (dg->nb + 1) : NULL;
        if (lo < hi)
            scan_rows(g, lo, hi, dg, h, c, &sc[t]);
        else if ((sc[t] = (scan){UINT64_MAX, 0, 0, 0, 1, 1, 0, 0}), h != NULL)
            memset(h, 0, dg->nb * sizeof *h);
#pragma omp barrier
#pragma omp single
        {
            *out = (scan){UINT64_MAX, 0, 0, 0, 1, 1, 0, nteam};
            int seen = 0;
            for (int u = 0; u < nteam; u++) {
                uint64_t ulo, uhi;
                st_chunk(n, u, nteam, &ulo, &uhi);
                if (ulo == uhi) continue;
                out->min = sc[u].min < out->min ? sc[u].min : out->min;
                out->max = sc[u].max > out->max ? sc[u].max : out->max;
                out->up &= sc[u].up && (!seen || out->last <= sc[u].first);
                out->down &= sc[u].down && (!seen || out->last > sc[u].first);
                out->out |= sc[u].out;
                out->last = sc[u].last;
                seen = 1;
            }
        }
    }
}

/* The records (or positions, into PERM) of rows in order (REVERSE: in reverse order), the
 * carried columns with them. */
static void fill_in_order(const segs *g, uint64_t n, int reverse, st_srec *rec, uint64_t *perm,
                          const st_carry *cy, int nt)
{
#pragma omp parallel num_threads(nt)
    {
        uint64_t lo, hi, buf[ST_SREC_BLOCK], base = g->start[0];
        st_chunk(n, st_thread_num(), st_team_size(), &lo, &hi);
        size_t s = seg_of(g, lo), s0 = s;
        for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
            uint64_t m = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
            if (perm != NULL) {
                for (uint64_t i = 0; i < m; i++)
                    perm[reverse ? n - 1 - (r + i) : r + i] = base + r + i;
                continue;
            }
            seg_images(g, &s, r, m, buf);
            for (uint64_t i = 0; i < m; i++) {
                uint64_t at = reverse ? n - 1 - (r + i) : r + i;
                rec[at] = (st_srec){base + r + i, buf[i]};
            }
            for (int c = 0; cy != NULL && c < cy->n; c++) {
                size_t cs = s0;
                seg_words(g, cy->seg[c], &cs, r, m, buf);
                for (uint64_t i = 0; i < m; i++)
                    cy->out[c][reverse ? n - 1 - (r + i) : r + i] = buf[i];
            }
            s0 = s;
        }
    }
}

/* Bits of the first digit of place2(): at most 256 buckets, whose next places stay in
 * the first-level cache. */
#define ST_SREC_COARSE 8

/* The most bytes of output place2() takes: its second pass finds the rows in the caches. */
#define ST_SREC_CACHED ((uint64_t)8 << 20)

/* The counts of the digits (image - MIN) >> SHIFT of rows [LO, HI) of G into H[NB]. */
static void count_digits(const segs *g, uint64_t lo, uint64_t hi, uint64_t min, int shift,
                         uint64_t nb, uint64_t *h)
{
    uint64_t buf[ST_SREC_BLOCK];
    size_t s = seg_of(g, lo);
    memset(h, 0, nb * sizeof *h);
    for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
        uint64_t m = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
        seg_images(g, &s, r, m, buf);
        prefetch_next(g, s, r + m, hi);
        for (uint64_t i = 0; i < m; i++) h[(buf[i] - min) >> shift]++;
    }
}

/* The second pass of place2(): the rows of coarse bucket C (OUT's elements [CSTART[C],
 * CSTART[C + 1]), each ESZ bytes) copied to TMP and placed by the rest of their digit, from the
 * first positions START (NB + 1) of its CS-bit digits. */
static void place2_bucket(void *out, size_t esz, const uint64_t *cstart, uint64_t c, int cs,
                          const uint64_t *start, uint64_t nb, uint64_t min, void *tmp)
{
    uint64_t a = cstart[c], len = cstart[c + 1] - a, at[1u << ST_SREC_COARSE];
    uint64_t mask = ((uint64_t)1 << cs) - 1, d0 = c << cs;
    /* (the last bucket's digits end at NB: START has NB + 1 entries) */
    memcpy(at, start + d0, (nb - d0 < mask + 1 ? nb - d0 : mask + 1) * sizeof *at);
    memcpy(tmp, (char *)out + a * esz, len * esz);
    if (esz == sizeof(uint64_t)) { /* positions, the digit's low bits beside them */
        const uint64_t *e = tmp;
        for (uint64_t i = 0; i < len; i++) ((uint64_t *)out)[at[e[i] & mask]++] = e[i] >> 8;
    } else {
        const st_srec *e = tmp;
        for (uint64_t i = 0; i < len; i++) ((st_srec *)out)[at[(e[i].img - min) & mask]++] = e[i];
    }
}

/* The first pass of place2(): rows [LO, HI) of G placed in OUT by the top bits of their digit
 * (image - MIN) >> CS, from this thread's first positions C; positions with the digit's low bits
 * beside them (8 bytes, PERM), or records. */
static void place2_rows(const segs *g, uint64_t lo, uint64_t hi, uint64_t min, int cs, uint64_t *c,
                        void *out, int perm)
{
    uint64_t buf[ST_SREC_BLOCK], base = g->start[0];
    size_t s = seg_of(g, lo);
    for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
        uint64_t m = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
        seg_images(g, &s, r, m, buf);
        if (perm) {
            for (uint64_t i = 0; i < m; i++) {
                uint64_t d = buf[i] - min;
                ((uint64_t *)out)[c[d >> cs]++] = (base + r + i) << 8 | (d & 0xFF);
            }
        } else {
            for (uint64_t i = 0; i < m; i++)
                ((st_srec *)out)[c[(buf[i] - min) >> cs]++] = (st_srec){base + r + i, buf[i]};
        }
    }
}

/* place() of a dense range (DG's shift 0) of more digits than write combining takes
 * (ST_SREC_WC), into an output that fits the caches (ST_SREC_CACHED), without carried columns,
 * in two passes: the rows placed by the top ST_SREC_COARSE bits of their digit (place2_rows),
 * then each such bucket by the rest (place2_bucket), where one scatter to every value's place
 * missed the first-level cache at every row. 200 000 positions over 19 677 values (an append's
 * new taxi fares), warm: 1.3 -> 1.1 ms on one thread, 1.5 -> 0.9 ms on two. (20 M records went
 * from 324 to 255 ms alone, but 0.47 -> 0.58 s in a whole `update --full` on one thread: the
 * second pass's reads of buckets of 2 MB from memory, not kept.) 0 without placing anything when
 * there is no memory: *COUNTED is then the team that counted HIST. */
static int place2(const segs *g, uint64_t n, const digits *dg, uint64_t *hist, int *counted,
                  uint64_t *start, st_srec *rec, uint64_t *perm, int nt)
{
    uint64_t nb = dg->nb, min = dg->min, most = 0;
    int cs = 64 - __builtin_clzll(nb - 1) - ST_SREC_COARSE; /* nb > ST_SREC_WC: 5 to 8 bits */
    uint64_t ncb = ((nb - 1) >> cs) + 1;
    uint64_t *cc = malloc(((size_t)nt * ncb + ncb + 1) * sizeof *cc);
    size_t esz = perm != NULL ? sizeof *perm : sizeof *rec;
    void *out = perm != NULL ? (void *)perm : (void *)rec;
    char *tmp = NULL;
    int ok = 0;
    if (cc == NULL) return 0;
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), nteam = st_team_size();
        uint64_t lo, hi, *h = hist + (uint64_t)t * nb, *c = cc + (uint64_t)t * ncb;
        uint64_t *cstart = cc + (uint64_t)nteam * ncb;
        st_chunk(n, t, nteam, &lo, &hi);
        if (*counted != nteam) count_digits(g, lo, hi, min, 0, nb, h);
        memset(c, 0, ncb * sizeof *c);
        for (uint64_t d = 0; d < nb; d++) c[d >> cs] += h[d];
#pragma omp barrier
#pragma omp single
        {
            *counted = nteam;
            for (uint64_t k = 0; k < ncb; k++) {
                uint64_t tot = 0;
                for (int u = 0; u < nteam; u++) tot += cc[(uint64_t)u * ncb + k];
                most = tot > most ? tot : most;
            }
            if ((tmp = malloc((size_t)nteam * most * esz + 1)) != NULL) {
                ok = 1;
                st_digit_offsets(hist, nb, nteam, start);
                st_digit_offsets(cc, ncb, nteam, cstart);
            }
        }
        if (ok) {
            place2_rows(g, lo, hi, min, cs, c, out, perm != NULL);
#pragma omp barrier
#pragma omp for schedule(dynamic, 1)
            for (uint64_t k = 0; k < ncb; k++)
                place2_bucket(out, esz, cstart, k, cs, start, nb, min,
                              tmp + (size_t)t * most * esz);
        }
    }
    free(tmp);
    free(cc);
    return ok;
}

/* The counts of the digits of rows [LO, LO + M) of G into C (DG's NB of them). */
static void count_chunk(const segs *g, size_t s, uint64_t lo, uint64_t m, const digits *dg,
                        uint32_t *c)
{
    uint64_t buf[ST_SREC_BLOCK], flip, min = dg->min;
    int shift = dg->shift;
    memset(c, 0, dg->nb * sizeof *c);
    for (uint64_t b = 0; b < m; b += ST_SREC_BLOCK) {
        uint64_t k = m - b < ST_SREC_BLOCK ? m - b : ST_SREC_BLOCK;
        const uint64_t *w = seg_keys(g, &s, lo + b, k, buf, &flip);
        prefetch_next(g, s, lo + b + k, lo + m);
        for (uint64_t i = 0; i < k; i++) c[((w[i] ^ flip) - min) >> shift]++;
    }
}

/* Rows [LO, HI) of G placed by digit from this thread's next positions H (into REC, or only the
 * positions, into PERM), a chunk of ST_SREC_RUNS rows at a time: the chunk is sorted by digit in
 * the caches by counting (into RUN, from its counts: CNT, scan_images()'s, or counted here from
 * the keys, which stay in the caches for the placing), then each digit's run leaves through W
 * (st_wc_append: whole lines streamed). A scatter of every row through W alone stores into one of
 * NB lines per row, 64 KiB of them for 1 024 digits, twice the first-level cache: 50 M positions
 * of 1 000 keys, 2 threads, the placing alone 0.106 -> 0.065 s (a driver of its own). With the
 * counts from the first pass, the chunk is placed in the loop that reads its keys, and chunks of
 * 64 Ki rows rather than 128 Ki (the whole argsort 0.16 -> 0.12 s on an Intel Xeon). */
static void place_runs(const segs *g, uint64_t lo, uint64_t hi, const digits *dg, uint64_t *h,
                       const uint32_t *cnt, st_srec *rec, uint64_t *perm, st_wc *w, void *run)
{
    uint64_t nb = dg->nb, min = dg->min, base = g->start[0], buf[ST_SREC_BLOCK], flip;
    uint32_t at[ST_SREC_WC + 1];
    int shift = dg->shift;
    size_t esz = perm != NULL ? sizeof *perm : sizeof *rec;
    void *dst = perm != NULL ? (void *)perm : (void *)rec;
    size_t s = seg_of(g, lo);
    for (uint64_t r = lo; r < hi; r += ST_SREC_RUNS) {
        uint64_t m = hi - r < ST_SREC_RUNS ? hi - r : ST_SREC_RUNS;
        if (cnt != NULL) {
            memcpy(at, cnt, nb * sizeof *at);
            cnt += nb + 1;
        } else {
            count_chunk(g, s, r, m, dg, at);
        }
        for (uint64_t d = 0, sum = 0; d < nb; d++) {
            uint32_t c = at[d];
            at[d] = (uint32_t)sum;
            sum += c;
        }
        for (uint64_t b = 0; b < m; b += ST_SREC_BLOCK) {
            uint64_t k = m - b < ST_SREC_BLOCK ? m - b : ST_SREC_BLOCK, p = base + r + b;
            const uint64_t *x = seg_keys(g, &s, r + b, k, buf, &flip);
            if (perm != NULL) {
                uint64_t *e = run;
                for (uint64_t i = 0; i < k; i++) e[at[((x[i] ^ flip) - min) >> shift]++] = p + i;
            } else {
                st_srec *e = run;
                for (uint64_t i = 0; i < k; i++) {
                    uint64_t img = x[i] ^ flip;
                    e[at[(img - min) >> shift]++] = (st_srec){p + i, img};
                }
            }
        }
        /* AT[d] is now the end of digit d's run */
        for (uint64_t d = 0, a = 0; d < nb; d++) {
            uint64_t c = at[d] - a;
            if (c == 0) continue;
            st_wc_append(w, dst, (unsigned)d, h[d], (unsigned char *)run + a * esz, c, esz);
            h[d] += c;
            a = at[d];
        }
    }
}

/* One stable placing pass by digit into REC (or only the positions, into PERM); START receives
 * the NB + 1 bucket boundaries. HIST (NT x NB counters) holds each thread's counts already when
 * COUNTED is the team's size, and CC (may be NULL) their counts per chunk (scan_images()).
 * Carried columns (CY) go to the same places. */
static void place(const segs *g, uint64_t n, const digits *dg, uint64_t *hist, int counted,
                  const uint32_t *cc, uint64_t *start, st_srec *rec, uint64_t *perm,
                  const st_carry *cy, int nt)
{
    uint64_t nb = dg->nb, min = dg->min;
    int shift = dg->shift;
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), nteam = st_team_size();
        uint64_t lo, hi, buf[ST_SREC_BLOCK], base = g->start[0], *h = hist + (uint64_t)t * nb;
        st_chunk(n, t, nteam, &lo, &hi);
        size_t s = seg_of(g, lo);
        if (counted != nteam) count_digits(g, lo, hi, min, shift, nb, h);
#pragma omp barrier
#pragma omp single
        st_digit_offsets(hist, nb, nteam, start);
        uint64_t dst[ST_SREC_BLOCK];
        /* positions, or whole records, up to ST_SREC_WC buckets: through write combining
         * (ops_int.h) */
        st_wc w;
        void *wdst = perm != NULL ? (void *)perm : (void *)rec;
        size_t wsz = perm != NULL ? sizeof *perm : sizeof *rec;
        int wc = (perm != NULL || (rec != NULL && (cy == NULL || cy->n == 0))) &&
                 nb <= ST_SREC_WC && st_wc_open(&w, wdst, h, (unsigned)nb, wsz);
        void *scr = wc && n >= ST_SREC_RUNS_MIN ? malloc(runs_rows(lo, hi) * wsz) : NULL;
        if (scr != NULL) {
            const uint32_t *cnt =
                cc != NULL && counted == nteam ? cc + runs_before(n, t, nteam) * (nb + 1) : NULL;
            place_runs(g, lo, hi, dg, h, cnt, rec, perm, &w, scr);
            lo = hi; /* (nothing left for the loop below) */
            free(scr);
        }
        for (uint64_t r = lo; r < hi; r += ST_SREC_BLOCK) {
            uint64_t m = hi - r < ST_SREC_BLOCK ? hi - r : ST_SREC_BLOCK;
            size_t sb = s;
            seg_images(g, &s, r, m, buf);
            if (perm != NULL && wc) {
                for (uint64_t i = 0; i < m; i++) {
                    unsigned d = (unsigned)((buf[i] - min) >> shift);
                    uint64_t pos = base + r + i;
                    st_wc_put(&w, perm, d, h[d]++, &pos, sizeof pos);
                }
                continue;
            }
            if (perm != NULL) {
                for (uint64_t i = 0; i < m; i++) perm[h[(buf[i] - min) >> shift]++] = base + r + i;
                continue;
            }
            if (wc) {
                for (uint64_t i = 0; i < m; i++) {
                    unsigned d = (unsigned)((buf[i] - min) >> shift);
                    st_srec e = {base + r + i, buf[i]};
                    st_wc_put(&w, rec, d, h[d]++, &e, sizeof e);
                }
                continue;
            }
            if (cy == NULL || cy->n == 0) {
                for (uint64_t i = 0; i < m; i++)
                    rec[h[(buf[i] - min) >> shift]++] = (st_srec){base + r + i, buf[i]};
                continue;
            }
            for (uint64_t i = 0; i < m; i++) {
                uint64_t at = h[(buf[i] - min) >> shift]++;
                dst[i] = at;
                rec[at] = (st_srec){base + r + i, buf[i]};
            }
            for (int c = 0; c < cy->n; c++) {
                size_t cs = sb;
                seg_words(g, cy->seg[c], &cs, r, m, buf);
                for (uint64_t i = 0; i < m; i++) cy->out[c][dst[i]] = buf[i];
            }
        }
        if (wc) st_wc_close(&w, wdst, h, (unsigned)nb, wsz);
    }
}

/* Sort the N records of one bucket by (image, position): by vqsort when VQ is loaded. */
static int sort_bucket(st_srec *rec, uint64_t n, const st_vq *vq)
{
    if (vq->recs != NULL) {
        vq->recs(rec, n);
        return STRATA_OK;
    }
    /* placed in position order: a stable sort by image alone gives (image, position) */
    uint64_t *k = malloc(4 * n * sizeof *k);
    if (k == NULL) return STRATA_ENOMEM;
    uint64_t *idx = k + n, *tk = k + 2 * n, *tidx = k + 3 * n;
    for (uint64_t i = 0; i < n; i++) {
        k[i] = rec[i].img;
        idx[i] = rec[i].pos;
    }
    int rc = st_radix_pairs(k, idx, tk, tidx, n, st_key_diff(k, n, 1), 1);
    for (uint64_t i = 0; rc == STRATA_OK && i < n; i++) rec[i] = (st_srec){idx[i], k[i]};
    free(k);
    return rc;
}

/* A bucket sorted as 64-bit integers instead of 128-bit records (vqsort sorts those three times
 * as fast; ops_int.h, st_srec_sort_keys). Buckets up to ST_SREC_FAST records take this path,
 * with 24 bytes of scratch a record of the largest bucket on each thread that sorts one: at most
 * 6 MiB a thread beyond the records. */
#define ST_SREC_FAST ((uint64_t)1 << 18)

int st_srec_keys_fit(uint64_t n, int v, int kbits)
{
    if (n < 2) return 0;
    int ib = 64 - __builtin_clzll(n - 1);
    return ib <= kbits && v + ib - kbits <= ST_SREC_SPLIT;
}

void st_srec_sort_keys(st_srec *rec, uint64_t n, uint64_t min, int v, int kbits, uint64_t *perm,
                       uint64_t *key, st_srec *out, void (*sort)(uint64_t *k, uint64_t n))
{
    int ib = 64 - __builtin_clzll(n - 1), e = v + ib - kbits > 0 ? v + ib - kbits : 0;
    int low = v - e; /* offset bits left in a key, above its IB bits of index */
    uint64_t vmask = v == 64 ? UINT64_MAX : ((uint64_t)1 << v) - 1;
    uint64_t lmask = ((uint64_t)1 << low) - 1, imask = ((uint64_t)1 << ib) - 1;
    uint64_t part[(1u << ST_SREC_SPLIT) + 1] = {0};
    if (e == 0) {
        for (uint64_t i = 0; i < n; i++) key[i] = ((rec[i].img - min) & vmask) << ib | i;
        part[1] = n;
    } else {
        /* one stable counting pass by the offsets' top E bits (the bucket is in cache) */
        for (uint64_t i = 0; i < n; i++) part[(((rec[i].img - min) & vmask) >> low) + 1]++;
        for (unsigned p = 1; p <= (1u << e); p++) part[p] += part[p - 1];
        uint64_t at[1u << ST_SREC_SPLIT];
        memcpy(at, part, sizeof at);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off = (rec[i].img - min) & vmask;
            key[at[off >> low]++] = (off & lmask) << ib | i;
        }
    }
    for (unsigned p = 0; p < (1u << e); p++)
        if (part[p + 1] - part[p] > 1) sort(key + part[p], part[p + 1] - part[p]);
    if (perm != NULL) {
        for (uint64_t i = 0; i < n; i++) perm[i] = rec[key[i] & imask].pos;
        return;
    }
    for (uint64_t i = 0; i < n; i++) out[i] = rec[key[i] & imask];
    memcpy(rec, out, n * sizeof *rec);
}

/* Sort every bucket (BSTART: NB + 1 boundaries) of REC, the positions into PERM when OWN (the
 * records are scratch); the buckets' digits are the bits of the images' offsets from MIN above
 * their low V bits. */
static int sort_buckets(st_srec *rec, const uint64_t *bstart, uint64_t nb, uint64_t min, int v,
                        int own, uint64_t *perm, int nt)
{
    st_vq vq;
    st_vq_open(&vq);
    int failed = 0;
    uint64_t most = 0; /* the scratch a thread needs: the largest bucket's */
    for (uint64_t d = 0; d < nb; d++)
        if (bstart[d + 1] - bstart[d] > most) most = bstart[d + 1] - bstart[d];
    if (most > ST_SREC_FAST) most = ST_SREC_FAST;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        /* a thread's scratch, allocated by its first bucket that can use it (without it, the
         * buckets are sorted as records) */
        uint64_t *key = NULL;
        st_srec *out = NULL;
        int tried = 0;
#pragma omp for schedule(dynamic, 1)
        for (uint64_t d = 0; d < nb; d++) {
            uint64_t a = bstart[d], len = bstart[d + 1] - a;
            int fast = vq.keys != NULL && len <= ST_SREC_FAST && st_srec_keys_fit(len, v, 64);
            if (fast && !tried) {
                tried = 1;
                key = malloc(most * sizeof *key);
                out = own ? NULL : malloc(most * sizeof *out);
            }
            if (fast && key != NULL && (own || out != NULL)) {
                st_srec_sort_keys(rec + a, len, min, v, 64, own ? perm + a : NULL, key, out,
                                  vq.keys);
                continue;
            }
            if (len > 1 && sort_bucket(rec + a, len, &vq) < 0) failed = 1;
            if (own)
                for (uint64_t i = a; i < a + len; i++) perm[i] = rec[i].pos;
        }
        free(key);
        free(out);
    }
    st_vq_close(&vq);
    return failed ? STRATA_ENOMEM : STRATA_OK;
}

/* A guess at the images' range, from the first ST_SREC_GUESS keys: the aligned block of values, a
 * power of two long, their range falls in (random keys of any width: all of them). 0 when those
 * keys are all equal. */
static int sample_hint(const segs *g, uint64_t n, uint64_t *hint)
{
    uint64_t mn, mx;
    rows_range(g, 0, n < ST_SREC_GUESS ? n : ST_SREC_GUESS, &mn, &mx);
    if (mn >= mx) return 0;
    int bits = 64 - __builtin_clzll(mn ^ mx);
    uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    hint[0] = mn & ~mask;
    hint[1] = mx | mask;
    return 1;
}

int st_argsort_segs(strata_dtype dtype, const void *const *keys, const uint64_t *start, size_t nseg,
                    int desc, const uint64_t *hint, st_srec *rec, uint64_t *perm, st_carry *carry,
                    int nthreads)
{
    uint64_t n = start[nseg] - start[0];
    if (n == 0) return STRATA_OK;
    segs g = {dtype, keys, start, nseg, desc};
    int nt = n < ((uint64_t)1 << 16) || nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
    digits dg;
    uint64_t *hist = NULL;
    uint32_t *cc = NULL;
    st_srec *own = NULL;
    scan sc;
    int rc = STRATA_ENOMEM;
    /* With the range known (or guessed from the first keys), the first pass counts digits too:
     * two passes over the keys, not three. The hint is checked on every key; a wrong one costs
     * a third pass, and the threads that find a key outside it read their rows so far again. */
    uint64_t guess[2];
    if (hint == NULL && sample_hint(&g, n, guess)) hint = guess;
    if (hint != NULL && hint[0] <= hint[1]) {
        digits_for(hint[0], hint[1], &dg);
        if ((hist = malloc(((size_t)nt * dg.nb + dg.nb + 1) * sizeof *hist)) == NULL) goto done;
        /* and per chunk of place_runs() (4 bytes a digit a chunk: a quarter of a byte a row at
         * most, and NT + 1 chunks more; without them, the chunks are counted again) */
        if (dg.nb <= ST_SREC_WC && n >= ST_SREC_RUNS_MIN)
            cc = st_alloc_big((n / ST_SREC_RUNS + (uint64_t)nt + 1) * (dg.nb + 1) * sizeof *cc);
    }
    scan_images(&g, n, nt, hist != NULL ? &dg : NULL, hist, cc, &sc);
    if (carry != NULL && (carry->n == 0 || rec == NULL)) carry = NULL;
    if (sc.up || sc.down) {
        fill_in_order(&g, n, !sc.up, rec, perm, carry, nt);
        if (carry != NULL) carry->done = 1;
        rc = STRATA_OK;
        goto done;
    }
    int counted = hist != NULL && !sc.out ? sc.team : 0;
    if (!counted) { /* (the counts per chunk are of no use either) */
        st_free_big(cc);
        cc = NULL;
        free(hist);
        digits_for(sc.min, sc.max, &dg);
        if ((hist = malloc(((size_t)nt * dg.nb + dg.nb + 1) * sizeof *hist)) == NULL) goto done;
    }
    uint64_t *bstart = hist + (size_t)nt * dg.nb;
    /* Positions only: a counting sort places them straight; buckets need the records. */
    if (rec == NULL && dg.shift > 0 && (rec = own = st_alloc_big(n * sizeof *rec)) == NULL)
        goto done;
    /* carried columns go along with a counting sort; after one with buckets to sort, they
     * would have to follow each bucket's order, which costs more than the caller's gather */
    if (dg.shift > 0) carry = NULL;
    uint64_t *pos = dg.shift > 0 ? NULL : perm;
    if (dg.shift > 0 || dg.nb <= ST_SREC_WC || carry != NULL ||
        n * (pos != NULL ? sizeof *pos : sizeof *rec) > ST_SREC_CACHED ||
        !place2(&g, n, &dg, hist, &counted, bstart, rec, pos, nt))
        place(&g, n, &dg, hist, counted, cc, bstart, rec, pos, carry, nt);
    if (carry != NULL) carry->done = 1;
    rc = dg.shift > 0 ? sort_buckets(rec, bstart, dg.nb, dg.min, dg.shift, own != NULL, perm, nt)
                      : STRATA_OK;
done:
    st_free_big(own);
    st_free_big(cc);
    free(hist);
    return rc;
}

void st_key_from_image(strata_dtype dtype, uint64_t img, int desc, void *out)
{
    const uint64_t sign = (uint64_t)1 << 63;
    if (dtype == STRATA_F32 || dtype == STRATA_F64) {
        if (img == UINT64_MAX) { /* NaN */
            if (dtype == STRATA_F64) {
                uint64_t u = 0x7FF8000000000000ull;
                memcpy(out, &u, 8);
            } else {
                uint32_t u = 0x7FC00000u;
                memcpy(out, &u, 4);
            }
            return;
        }
        if (desc) img = ~img;
        if (dtype == STRATA_F64) {
            uint64_t u = img & sign ? img ^ sign : ~img;
            memcpy(out, &u, 8);
        } else {
            uint32_t u = (uint32_t)(img & 0x80000000u ? img ^ 0x80000000u : ~img);
            memcpy(out, &u, 4);
        }
        return;
    }
    if (desc) img = ~img;
    /* signed integers had their sign bit flipped; the low bytes are the value (little-endian) */
    int is_signed = dtype == STRATA_I8 || dtype == STRATA_I16 || dtype == STRATA_I32 ||
                    dtype == STRATA_I64 || dtype == STRATA_TS;
    uint64_t v = is_signed ? img ^ sign : img;
    memcpy(out, &v, strata_dtype_size(dtype));
}
