/*
 * ops.h -- the vectorised kernels derived data is computed with (filter, sort, merge, top-k,
 * group-by). Every kernel works on plain arrays, splits its work over NTHREADS with OpenMP and
 * gives exactly the same result for any thread count.
 *
 * Order of keys (all sorts, merges and top-k): integers numerically; floats by IEEE totalOrder:
 * -inf < ... < -0.0 < +0.0 < ... < +inf < NaN (every NaN, whatever its sign or payload, sorts
 * last, and NaNs keep their input order); strings bytewise (shorter first when one is a prefix
 * of the other). Sorts are stable: equal keys keep their input order, descending sorts included.
 */
#ifndef STRATA_OPS_H
#define STRATA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "strata.h"

/* Positions i < N where MASK[i] is non-zero, in order, into OUT (room for N); returns how many.
 * Branch-free. */
uint64_t st_filter_mask(const uint8_t *mask, uint64_t n, uint64_t *out, int nthreads);

/* Stable argsort of N keys of numeric DTYPE (not STRATA_STR): PERM receives the positions of the
 * keys in sorted order. When PERM_IN is set, sort those positions instead (PERM_IN[i] indexes
 * KEYS; PERM may equal PERM_IN): chaining calls from the last key to the first gives a stable
 * multi-key sort. DESC sorts descending (still stable). Returns STRATA_OK or STRATA_ENOMEM; the
 * kernels record no message (they have no error context): the caller says what it was doing. */
int st_argsort(strata_dtype dtype, const void *keys, uint64_t n, const uint64_t *perm_in,
               uint64_t *perm, int desc, int nthreads);

/* Stable argsort of N strings (OFFSETS n+1, BYTES), bytewise; PERM_IN and the result as for
 * st_argsort. */
int st_argsort_str(const int64_t *offsets, const char *bytes, uint64_t n, const uint64_t *perm_in,
                   uint64_t *perm, int desc);

/* Sort N numeric keys in place (the values, not positions). STRATA_OK or STRATA_ENOMEM. */
int st_sort(strata_dtype dtype, void *keys, uint64_t n, int desc, int nthreads);

/* Merge two sorted runs of positions: A (NA positions) and B (NB), each sorted by KEYS[pos] in
 * the order DESC, into OUT (NA+NB); on equal keys A's come first (the merge of a previous sorted
 * output A with a new run B is the stable sort of their concatenation). KEYS is indexed by the
 * positions. */
void st_merge2(strata_dtype dtype, const void *keys, const uint64_t *a, uint64_t na,
               const uint64_t *b, uint64_t nb, uint64_t *out, int desc);

/* The K smallest (DESC: largest) of N numeric keys: their positions, in sorted order, into OUT
 * (room for min(K, N)); equal keys by position. Returns how many (min(K, N)), or STRATA_ENOMEM. */
int64_t st_topk(strata_dtype dtype, const void *keys, uint64_t n, uint64_t k, int desc,
                uint64_t *out, int nthreads);

/* The order-preserving 64-bit image of one key (the radix key): for integers the value with the
 * sign bit flipped (signed), for floats the IEEE totalOrder image with every NaN mapped to the
 * largest image. Exposed for tests and merges. */
uint64_t st_key_bits(strata_dtype dtype, const void *keys, uint64_t i);

/* The image the sorts order by: st_key_bits, inverted for DESC except that NaN stays last. */
uint64_t st_key_image(strata_dtype dtype, const void *keys, uint64_t i, int desc);

/* ---- gather ---------------------------------------------------------------------------------- */

/* OUT[i] = SRC[IDX[i] - BASE] for the N elements i < N (ESZ bytes each). With POS, only the N
 * elements i = POS[0..N) (distinct) are gathered, each into OUT[i]: a bucket of a larger gather.
 * The caller checks that every IDX is in range. */
void st_gather(size_t esz, const void *src, const uint64_t *idx, uint64_t base, const uint64_t *pos,
               uint64_t n, void *out, int nthreads);

/* ---- group-by -------------------------------------------------------------------------------- */

enum { ST_AGG_COUNT, ST_AGG_SUM, ST_AGG_MIN, ST_AGG_MAX, ST_AGG_MEAN };

/* One aggregate: OP over VALUES (N values; as i64 when IS_FLOAT is 0, else f64; unused for
 * COUNT). */
typedef struct st_agg {
    int op;
    int is_float;
    const void *values;
} st_agg;

/* Groups and their aggregates, sorted by key (lexicographic over the NKEYS keys). Partial results
 * merge with st_groups_merge(): sums and counts add, min/max combine, mean is kept as sum and
 * count; merging the groups of two row ranges gives the groups of their union. */
/* Aggregate slots of st_groups (the update engine keeps one for the first row of each group). */
#define ST_GROUP_SLOTS 16

typedef struct st_groups {
    int nkeys, naggs;
    int agg_op[ST_GROUP_SLOTS], agg_float[ST_GROUP_SLOTS];
    uint64_t n;     /* groups */
    int64_t *keys;  /* n * nkeys */
    int64_t *count; /* rows per group */
    int64_t *ival;  /* n * naggs: integer sum/min/max */
    double *fval;   /* n * naggs: float sum/min/max (NaN excluded from min/max, included in sum) */
} st_groups;

/* Group N rows by NKEYS i64 key columns KEYS[k] (at most 8 keys, 16 aggregates), computing AGGS.
 * Float sums add in row order within each group, whatever NTHREADS. Returns STRATA_OK,
 * STRATA_ENOMEM, or STRATA_EINVAL for more keys or aggregates than that. OUT: st_groups_free(). */
int st_groupby(const int64_t *const *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
               st_groups *out, int nthreads);

/* DST := groups of DST and SRC together (same keys and aggregates). STRATA_OK or STRATA_ENOMEM
 * (DST is then unchanged). */
int st_groups_merge(st_groups *dst, const st_groups *src);

/* The value of aggregate A for group G as a double (mean: sum / count; count: the count). */
double st_groups_value(const st_groups *g, uint64_t grp, int a);

void st_groups_free(st_groups *g);
#endif /* STRATA_OPS_H */
