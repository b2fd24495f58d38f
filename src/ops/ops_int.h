/*
 * ops_int.h -- what the group-by files of src/ops share: keys and aggregate inputs normalised to
 * 64-bit words that order like the values, and the string dictionaries behind string words.
 */
#ifndef STRATA_OPS_INT_H
#define STRATA_OPS_INT_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ops/ops.h"
#include "util/fileio.h"

/* The word of a double: -0 as +0, every NaN as INT64_MAX (after +inf), signed order = numeric
 * order. */
int64_t st_gword_f64(double v);
double st_gword_to_f64(int64_t w);

/* Whether row R of VALID is valid (NULL: every row). */
static inline int st_gvalid(const uint8_t *valid, uint64_t r)
{
    return valid == NULL || ((valid[r >> 3] >> (r & 7)) & 1);
}

/* The N rows of C as words: *W points at them; *OWN is what was allocated for them (NULL when
 * *W is C's own int64 data, for i64 and ts columns without nulls). Null rows get word 0. String
 * columns are replaced by their rank in DICT (built here; st_gdict_free()). STRATA_OK or
 * STRATA_ENOMEM. */
int st_gwords(const st_gcol *c, uint64_t n, const int64_t **w, int64_t **own, st_gdict *dict);

/* Up to 8 bytes at S (LEN of them, 0 to 8) as one word, read without passing S + LEN: two
 * overlapping 4-byte reads, or the first, middle and last byte; with LEN, the word tells the
 * bytes apart. */
static inline uint64_t st_gstr_short(const char *s, size_t len)
{
    if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + len - 4, 4);
        return (uint64_t)x << 32 | y;
    }
    if (len == 0) return 0;
    return (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[len >> 1] << 8 |
           (unsigned char)s[len - 1];
}

static inline uint64_t st_gstr_word(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

/* The 128-bit product of A and B, its halves folded together. */
static inline uint64_t st_gstr_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The hash of integer V (group-by keys in memory only, never stored): Murmur3's 64-bit
 * finaliser. */
static inline uint64_t st_gint_hash(int64_t v)
{
    uint64_t x = (uint64_t)v;
    x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
    x = (x ^ (x >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* A buffer *P of *HAVE bytes with room for BYTES (its contents then undefined: a larger one
 * replaces it), kept from one call to the next; 0 when there is no memory (*P NULL). */
static inline int st_groom(void **p, size_t *have, size_t bytes)
{
    if (bytes <= *have) return 1;
    st_free_big(*p);
    *p = st_alloc_big(bytes);
    *have = *p != NULL ? bytes : 0;
    return *p != NULL;
}

/* The hash of the LEN bytes at S (string interning; in memory only, never stored): a word or
 * two at a time (wyhash's scheme), every byte read once or twice, none past the end. */
static inline uint64_t st_gstr_hash(const char *s, size_t len)
{
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                   k2 = 0x8ebc6af09c88c6e3ull;
    uint64_t seed = k0 ^ (len * k2), a, b;
    if (len <= 8) {
        a = st_gstr_short(s, len);
        b = 0;
    } else { /* the last 16 bytes at the end, over some already read when more */
        const char *end = s + len;
        for (size_t left = len; left > 16; s += 16, left -= 16)
            seed = st_gstr_mix(st_gstr_word(s) ^ k1, st_gstr_word(s + 8) ^ seed);
        a = st_gstr_word(len > 16 ? end - 16 : s);
        b = st_gstr_word(end - 8);
    }
    return st_gint_hash((int64_t)st_gstr_mix(a ^ k1, b ^ seed ^ k2));
}

/* Whether the LEN bytes at A and B are the same (up to 16 without a call). */
static inline int st_gstr_same(const char *a, const char *b, size_t len)
{
    if (len > 16) return memcmp(a, b, len) == 0;
    if (len > 8)
        return st_gstr_word(a) == st_gstr_word(b) &&
               st_gstr_word(a + len - 8) == st_gstr_word(b + len - 8);
    return st_gstr_short(a, len) == st_gstr_short(b, len);
}

/* The value of word W of numeric DTYPE into OUT (one element of DTYPE). */
void st_gword_put(strata_dtype dtype, int64_t w, void *out);

/* U := the sorted union of A and B; *MA and *MB (malloc'd) map their ranks to U's. */
int st_gdict_union(const st_gdict *a, const st_gdict *b, st_gdict *u, int64_t **ma, int64_t **mb);

/* Keep only the strings of D whose USED flag is set; MAP (D->n) receives the new ranks. */
int st_gdict_prune(st_gdict *d, const uint8_t *used, int64_t *map);

void st_gdict_free(st_gdict *d);

/* An aggregate's input, ready for the hot loop: integer words (strings: ranks) or doubles. */
typedef struct st_gin {
    int op, isf;
    const int64_t *iv;
    const double *fv;
    const uint8_t *valid;
    int rowid; /* the input is ROW0 + the row's position (IV unused) */
    int64_t row0;
} st_gin;

/* The dense group-by (gdense.c): one key (NKEYS 1) whose NW words W (the key's, then its null
 * mask when it has nulls) span fewer than ST_GDENSE_MAX values (or fewer than twice the rows N
 * and ST_GDENSE_LARGE), and aggregates IN[NAGGS] among
 * count, count_col, sum, mean, min and max. 1: OUT (initialised, empty) holds the groups, as
 * st_groupby() would give them, float sums added in blocks of ST_GDENSE_BLOCK rows (more when
 * the partials would pass ST_GDENSE_PARTIALS doubles) in block order; 0: not taken (nothing
 * done); STRATA_ENOMEM. RANGE_HINT (may be NULL): the smallest and largest key, known already
 * (the batch's statistics); checked on every row, and ignored if a key falls outside. */
#define ST_GDENSE_MAX      65536
#define ST_GDENSE_LARGE    (1u << 22)
#define ST_GDENSE_BLOCK    65536
#define ST_GDENSE_PARTIALS (4u << 20)
int st_gdense(const int64_t *const *w, int nw, int nkeys, uint64_t n, const st_gin *in, int naggs,
              const int64_t *range_hint, st_groups *out, int nt);

/* The rows per block of the float sums st_gdense() adds for N rows when PER partial sums make a
 * block's (the float sums times the groups): ST_GDENSE_BLOCK, or more to keep the partials of
 * all the blocks within ST_GDENSE_PARTIALS. */
uint64_t st_gdense_block(uint64_t n, uint64_t per);

/* The fold of st_gfold (gdense.c) over many hashed keys, by partitions (gpart.c): integers
 * (STR 0) or strings, aggregates IN[NAGGS] as st_gfold takes them, about ROWS rows in all, the
 * integers' smallest and largest SPAN[2] when known (else SPAN[1] < SPAN[0]), NT threads.
 * st_gpf_new: STRATA_OK or STRATA_ENOMEM (*F to st_gpf_free() either way).
 * st_gpf_add: fold N rows of KEY (the caller's RANGE: as st_gfold_add()): 1, 0 when the key is
 * not of F's kind or has nulls, or STRATA_ENOMEM (F of no use then). st_gpf_end: the groups
 * into OUT (initialised by the caller), in key order, their arrays in F's buffer of rows when it
 * holds them (OUT->block then takes it): STRATA_OK or STRATA_ENOMEM. */
typedef struct st_gpf st_gpf;
int st_gpf_new(st_gpf **f, int str, const st_gin *in, int naggs, uint64_t rows,
               const int64_t span[2], int nt);
int st_gpf_add(st_gpf *f, const st_gcol *key, uint64_t n, const st_gin *in, const int64_t range[2]);
int st_gpf_end(st_gpf *f, st_groups *out);
void st_gpf_free(st_gpf *f);

/* The flushes of F's partitioned fold (a string key with float sums) whose guessed blocks proved
 * wrong, folded again (tests: that a case reaches it); 0 without one. */
uint64_t st_gpf_redos(const st_gpf *f);
uint64_t st_gfold_redos(const st_gfold *f);

/* Whether F's partitioned fold of integers splits the keys' range among its partitions (1) or
 * hashes them (0); -1 without one (tests: that a case takes the way it should). */
int st_gpf_ordered(const st_gpf *f);
int st_gfold_ordered(const st_gfold *f);

/* Highway's vqsort: the functions of the module vqsort.cc is built as (vqload.c). Sort N 64-bit
 * keys K in place; sort the N pairs (K, IDX) stably by key into OUT_K and OUT_IDX through
 * SCRATCH (16 N bytes, 16-byte aligned); sort N st_srec records in place by (image, position).
 * st_vq_open: 1 when the module is loaded (V holds its functions, to st_vq_close() after the
 * sort), 0 when it is not there (V's functions NULL: sort without it). */
typedef struct st_vq {
    void *h;
    void (*i64)(int64_t *k, uint64_t n, int desc);
    void (*keys)(uint64_t *k, uint64_t n);
    void (*pairs)(const uint64_t *k, const uint64_t *idx, uint64_t *out_k, uint64_t *out_idx,
                  uint64_t n, void *scratch);
    void (*recs)(void *rec, uint64_t n);
} st_vq;
int st_vq_open(st_vq *v);
/* The version of the module's functions (st_vqsort_abi() in vqsort.cc): bumped when they change. */
#define ST_VQ_ABI 1
void st_vq_close(st_vq *v);

/* A bucket of the records' MSD pass (sortrec.c) sorted as 64-bit keys instead of 128-bit records:
 * the N records REC (in position order, as the pass places them) have images whose offsets from
 * MIN vary only in their low V bits; each key is the offset above the record's index in the
 * bucket (IB = ceil(log2 N) bits; the index breaks ties as the position does). When V + IB
 * passes KBITS (64 in the sorts; fewer in the tests, to exercise it on small buckets), one stable
 * counting pass by the offsets' top E = V + IB - KBITS bits splits the bucket first, and each part
 * is sorted alone. st_srec_keys_fit: whether N records with V bits fit so (N >= 2, IB <= KBITS,
 * E <= ST_SREC_SPLIT). st_srec_sort_keys then sorts them with SORT (ascending 64-bit integers)
 * through KEY (N keys): the positions into PERM, or with PERM NULL the records back into REC, in
 * order (through OUT, N records). */
#define ST_SREC_SPLIT 8
int st_srec_keys_fit(uint64_t n, int v, int kbits);
void st_srec_sort_keys(st_srec *rec, uint64_t n, uint64_t min, int v, int kbits, uint64_t *perm,
                       uint64_t *key, st_srec *out, void (*sort)(uint64_t *k, uint64_t n));

/* The LSD radix passes of sort.c, shared with sortrec.c: the bits in which N keys K differ from
 * the first; a stable sort of the pairs (K, IDX) by K over the bytes of DIFF (see sort.c). */
uint64_t st_key_diff(const uint64_t *k, uint64_t n, int nt);
int st_radix_pairs(uint64_t *k, uint64_t *idx, uint64_t *tk, uint64_t *tidx, uint64_t n,
                   uint64_t diff, int nt);

/* The counts of the histograms HIST (NT threads x NB digits, thread-major) turned into each
 * thread's first position per digit: digit-major, thread order within a digit (stable); START
 * (may be NULL) receives each digit's first position, and the total at START[NB]. */
void st_digit_offsets(uint64_t *hist, uint64_t nb, int nt, uint64_t *start);

/* The sort images (st_key_image) of keys [I0, I0 + N) of KEYS into OUT, a loop per type
 * (sortrec.c). */
void st_images(strata_dtype dt, const void *keys, uint64_t i0, uint64_t n, int desc, uint64_t *out);

/* Software write combining for the scatters of the sorts' MSD passes (sort.c, sortrec.c): a
 * thread's next elements for a bucket gather in a cache line of the thread's own (the slots of
 * the destination line they fall in) and leave as whole lines with non-temporal stores, which
 * neither read the destination's lines first nor evict what is still to be read. Lines that are
 * partly another thread's or another bucket's, at the ends of a thread's part of a bucket, are
 * written element by element. st_wc_open: for the NB buckets of DST whose next positions are AT
 * (the thread's part of bucket D starts at AT[D]); 0 when there is no memory for the lines
 * (scatter without them). st_wc_put: element V (ESZ bytes, a constant that divides 64; DST is
 * ESZ-aligned) to position P of bucket D. st_wc_close: the partial lines written, given the
 * positions AT reached; frees W. */
typedef struct st_wc {
    unsigned char (*line)[64];
    uintptr_t *first;
} st_wc;
int st_wc_open(st_wc *w, const void *dst, const uint64_t *at, unsigned nb, size_t esz);
void st_wc_close(st_wc *w, void *dst, const uint64_t *at, unsigned nb, size_t esz);
/* The N elements at SRC (ESZ bytes each) to positions P, P + 1, ... of bucket D: the line P
 * falls in completed through W, the whole lines that follow streamed straight from SRC, the rest
 * left in W's line (st_wc_put's, for a run of one bucket at a time). */
void st_wc_append(st_wc *w, void *dst, unsigned d, uint64_t p, const void *src, uint64_t n,
                  size_t esz);
/* How far ahead of a loop that counts digits over keys in memory the keys are fetched in
 * software (in keys: 8 KiB): the hardware's prefetcher alone left such loops waiting on memory
 * (50 M random i64 keys sorted in place on 2 threads, an Intel Xeon: 0.343-0.354 -> 0.29-0.31 s).
 * sort.c's loops take the keys in groups of 8 with one fetch each, then the rest one by one: one
 * loop with a test a key for the fetch (as gdense.c's) measured 3-7 % slower there. */
#define ST_COUNT_AHEAD 1024

/* The 64 bytes at LINE (any alignment) to the line DST by non-temporal stores. */
static inline void st_wc_line_out(void *dst, const void *line)
{
#if defined(__SSE2__)
    for (int j = 0; j < 4; j++)
        _mm_stream_si128((__m128i *)dst + j, _mm_loadu_si128((const __m128i *)line + j));
#else
    memcpy(dst, line, 64);
#endif
}
static inline void st_wc_put(st_wc *w, void *dst, unsigned d, uint64_t p, const void *v, size_t esz)
{
    uintptr_t a = (uintptr_t)dst + p * esz, off = a & 63;
    memcpy(w->line[d] + off, v, esz);
    if (off + esz < 64) return;
    uintptr_t ls = a + esz - 64;
    if (ls >= w->first[d])
        st_wc_line_out((void *)ls, w->line[d]);
    else
        memcpy((void *)w->first[d], w->line[d] + (w->first[d] & 63), a + esz - w->first[d]);
}

/* Shared by groupby.c and gmerge.c. */
/* Room for NEED groups in G (capacity *CAP); STRATA_ENOMEM leaves G valid. */
int st_groups_grow(st_groups *g, uint64_t *cap, uint64_t need);
/* The bytes of a block that holds G's arrays for CAP groups (st_groups_carve()). */
size_t st_groups_carve_bytes(const st_groups *g, uint64_t cap);
/* G's arrays for CAP groups carved from BLOCK (from st_alloc_big(), of st_groups_carve_bytes()
 * at least), G's to free from then on (G->block). */
void st_groups_carve(st_groups *g, void *block, uint64_t cap);
/* Group GRP's count and aggregates, zeroed. */
void st_groups_zero(st_groups *g, uint64_t grp);
/* -1, 0 or 1 as group A of G orders before, with or after group B of H. */
int st_groups_cmp(const st_groups *g, uint64_t a, const st_groups *h, uint64_t b);
/* G := empty, with LIKE's keys and aggregates. */
void st_groups_shape_like(st_groups *g, const st_groups *like);
/* Drop the strings of string slot A's dictionary that no group's value uses any more. */
int st_groups_prune(st_groups *g, int a);

#endif /* STRATA_OPS_INT_H */
