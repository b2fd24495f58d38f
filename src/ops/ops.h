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
#include "util/dtype.h" /* st_key_bits, st_sort_image */
#include "util/vec.h"

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
/* As st_argsort, with SCRATCH (3 N words, or NULL) as its working memory where it needs any: a
 * caller that reuses the memory afterwards does not fault in fresh pages twice. */
int st_argsort_in(strata_dtype dtype, const void *keys, uint64_t n, const uint64_t *perm_in,
                  uint64_t *perm, int desc, int nthreads, uint64_t *scratch);

/* Stable argsort of N strings (OFFSETS n+1, BYTES), bytewise; PERM_IN and the result as for
 * st_argsort. */
int st_argsort_str(const int64_t *offsets, const char *bytes, uint64_t n, const uint64_t *perm_in,
                   uint64_t *perm, int desc);

/* Sort N numeric keys in place (the values, not positions). STRATA_OK or STRATA_ENOMEM. */
int st_sort(strata_dtype dtype, void *keys, uint64_t n, int desc, int nthreads);
/* Sort the N keys SRC into DST (N keys; DST == SRC sorts in place; otherwise they do not
 * overlap and SRC is left as it was): large i64 arrays are placed into DST by the MSD pass and
 * sorted there, without the scratch copy an in-place sort goes through. */
int st_sort_to(strata_dtype dtype, const void *src, void *dst, uint64_t n, int desc, int nthreads);

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

/* The image the sorts order by: st_key_bits, inverted for DESC except that NaN stays last. */
uint64_t st_key_image(strata_dtype dtype, const void *keys, uint64_t i, int desc);

/* A sort record: the order-preserving image of a key (st_key_image) and the key's row position,
 * laid out as a little-endian 128-bit integer (image high), so that sorting the records as
 * integers sorts by key, ties by position: the stable order. */
typedef struct st_srec {
    uint64_t pos, img;
} st_srec;

/* Columns carried along a sort of records: N columns of 8-byte values cut into segments as the
 * keys are (SEG[c][s]), placed into OUT[c] (N values each) in the records' order -- the values
 * of a gathered column, read in row order instead of gathered at random. The sort carries them
 * when it places every record once (input in order, or a counting sort) and then sets DONE;
 * after a sort by buckets DONE stays 0 and OUT is untouched. */
#define ST_CARRY_MAX 8
typedef struct st_carry {
    int n, done;
    const void *const *seg[ST_CARRY_MAX];
    uint64_t *out[ST_CARRY_MAX];
} st_carry;

/* Stable argsort of the keys of NSEG segments (segment S: KEYS[S], numeric DTYPE, rows START[S]
 * to START[S + 1] of the whole; START has NSEG + 1 entries) into the N = START[NSEG] - START[0]
 * records REC, in key order (DESC: descending; NaN last either way), positions counted from
 * START[0]'s row, CARRY's columns (may be NULL) with them; or, with REC NULL, only the positions
 * into PERM (N). HINT (may be NULL): the smallest and largest image, when known (batch
 * statistics); checked on every key, a wrong hint costs one more pass (and a second reading of
 * the rows a thread read before it found a key outside). Input already in order
 * (or strictly in reverse) is written in order after one reading pass; a range of fewer than
 * 65 536 images is sorted by counting. STRATA_OK or STRATA_ENOMEM. */
int st_argsort_segs(strata_dtype dtype, const void *const *keys, const uint64_t *start, size_t nseg,
                    int desc, const uint64_t *hint, st_srec *rec, uint64_t *perm, st_carry *carry,
                    int nthreads);

/* The key of numeric DTYPE whose sort image (st_key_image with DESC) is IMG, into OUT (one
 * element). Exact for every key but NaN, which comes back as the canonical quiet NaN. */
void st_key_from_image(strata_dtype dtype, uint64_t img, int desc, void *out);

/* ---- gather ---------------------------------------------------------------------------------- */

/* OUT[i] = SRC[IDX[i] - BASE] for the N elements i < N (ESZ bytes each). With POS, only the N
 * elements i = POS[0..N) (distinct) are gathered, each into OUT[i]: a bucket of a larger gather.
 * The caller checks that every IDX is in range. */
void st_gather(size_t esz, const void *src, const uint64_t *idx, uint64_t base, const uint64_t *pos,
               uint64_t n, void *out, int nthreads);

/* ---- group-by -------------------------------------------------------------------------------- */

/* Aggregates. COUNT counts rows and takes no input; every other one skips null inputs.
 * COUNT_COL counts non-null inputs. VAR and STD are the sample ones (ddof 1, as pandas): NaN for
 * fewer than two values. FIRST and LAST are the first and last non-null input in row order. The
 * last three are holistic: a group keeps its sorted values (COUNT_DISTINCT: its distinct ones),
 * so they merge exactly too, at the cost of memory proportional to the rows. MEDIAN is the mean of
 * the two middle values for an even count; QUANTILE(q) interpolates linearly between the values
 * at positions floor and ceil of q * (count - 1) (pandas' and numpy's default). Float inputs: NaN
 * is skipped by MIN, MAX, FIRST, LAST and the holistic ones, and propagates through SUM, MEAN,
 * VAR and STD (IEEE arithmetic). */
enum {
    ST_AGG_COUNT,
    ST_AGG_SUM,
    ST_AGG_MIN,
    ST_AGG_MAX,
    ST_AGG_MEAN,
    ST_AGG_COUNT_COL,
    ST_AGG_VAR,
    ST_AGG_STD,
    ST_AGG_FIRST,
    ST_AGG_LAST,
    ST_AGG_COUNT_DISTINCT,
    ST_AGG_MEDIAN,
    ST_AGG_QUANTILE,
    ST_AGG_NOPS
};

/* Whether aggregate OP keeps every value of a group (see above). */
static inline int st_agg_holistic(int op)
{
    return op >= ST_AGG_COUNT_DISTINCT;
}

/* A column the group-by reads. Keys may be of any dtype; aggregate inputs are STRATA_I64,
 * STRATA_F64 or STRATA_STR (the caller converts other numbers). A string column is N+1 int64
 * offsets in DATA into BYTES (row i is BYTES[off[i], off[i+1])). VALID is an Arrow validity
 * bitmap (bit i, LSB first, set: row i is valid); NULL means every row is valid. */
typedef struct st_gcol {
    strata_dtype dtype;
    const void *data;
    const char *bytes;
    const uint8_t *valid;
} st_gcol;

/* One aggregate: OP over IN (unused for COUNT); Q for QUANTILE, in [0, 1]. String inputs take
 * COUNT_COL, MIN, MAX, FIRST, LAST and COUNT_DISTINCT only. ROWID: the input is the row's id,
 * FIRST_ROW + its position (IN unused; its dtype I64): no column need hold them. */
typedef struct st_agg {
    int op;
    st_gcol in;
    double q;
    int rowid;
    int64_t first_row;
} st_agg;

/* The distinct strings of a key or aggregate input, sorted bytewise: a string is represented by
 * its rank here, so ranks order like the strings. OFF has N+1 entries into BYTES. */
typedef struct st_gdict {
    uint64_t n;
    int64_t *off;
    char *bytes;
} st_gdict;

#define ST_GROUP_KEYS  8
#define ST_GROUP_SLOTS 16

/* Groups and their aggregates, sorted by key: lexicographically over the keys, each key in its
 * dtype's order (integers and timestamps numerically, floats numerically with -0 = +0 and every
 * NaN one value sorted after +inf, strings bytewise), a null key after every value of its column.
 * Each key is kept as a 64-bit word that orders like it (strings: their rank in KDICT) and row
 * KEYS[g * (nkeys + 1) + nkeys] holds the null mask of group g (bit k: key k is null, its word 0).
 * Partial results merge with st_groups_merge(); merging the groups of two row ranges gives the
 * groups of their union (float sums, means and variances up to rounding: merge in a fixed order
 * for fixed bits). Per aggregate slot a (index g * naggs + a): NVAL the non-null inputs; IVAL the
 * integer sum/min/max/first/last (strings: rank in ADICT[a]); FVAL the float ones and the running
 * mean of VAR/STD; M2 their sum of squared deviations; holistic slots keep group g's sorted
 * values (as st_groups_word() images) in HVAL[a][HOFF[a][g], HOFF[a][g+1]). */
typedef struct st_groups {
    int nkeys, naggs;
    strata_dtype key_dtype[ST_GROUP_KEYS];
    int agg_op[ST_GROUP_SLOTS];
    strata_dtype agg_dtype[ST_GROUP_SLOTS];
    double agg_q[ST_GROUP_SLOTS];
    uint64_t n;     /* groups */
    int64_t *keys;  /* n * (nkeys + 1) */
    int64_t *count; /* rows per group */
    int64_t *nval;  /* n * naggs */
    int64_t *ival;
    double *fval;
    double *m2;
    void *block; /* NULL: each of keys to m2 its own allocation; else the one that holds them all
                  * (st_groups_carve()), freed as one; st_groups_grow() and the reorders of
                  * st_groupby() copy them out to their own first */
    st_gdict kdict[ST_GROUP_KEYS];
    st_gdict adict[ST_GROUP_SLOTS];
    uint64_t *hoff[ST_GROUP_SLOTS];
    int64_t *hval[ST_GROUP_SLOTS];
} st_groups;

/* Group N rows by the NKEYS columns KEYS (1 to 8), computing the NAGGS aggregates AGGS (at most
 * 16). The result is the same, bit for bit, for any NTHREADS: each group folds its rows in row
 * order, except that one key over a small range (and only count, sums, means and extrema) is
 * grouped by direct indexing, whose float sums add blocks of ST_GDENSE_BLOCK rows (each in row
 * order) in block order. Returns STRATA_OK, STRATA_ENOMEM, or STRATA_EINVAL (counts, an aggregate
 * that does not take its input's dtype). OUT: st_groups_free(). */
int st_groupby(const st_gcol *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
               st_groups *out, int nthreads);

/* st_groupby() told the smallest and largest value of its one i64 or ts key without nulls
 * (RANGE[2], e.g. from the batch's statistics; NULL: unknown), which spares a pass over the keys.
 * A key found outside it is no error: the range is then read from the keys. */
int st_groupby_range(const st_gcol *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
                     const int64_t *range, st_groups *out, int nthreads);

/* The group-by of one key without nulls -- i64 or ts, or strings -- folded call by call (a
 * dataset's batches, in order) into arrays indexed by the key over a small range, else by the
 * key's id in a dictionary of the keys seen so far (sorted at the end): the same groups, bit for
 * bit, as st_groupby_range() of each call's rows (told the call's RANGE) merged in call order
 * with st_groups_merge(), without making and merging the groups of each call. It takes counts,
 * and sums, means, minima and maxima of i64 and f64 inputs without nulls (float minima and
 * maxima not: their ties between -0 and +0 depend on the threads' rows).
 *   st_gfold_dense: whether ROWS rows whose keys span RANGE are grouped by direct indexing (by
 *     st_groupby_range(), and by st_gfold over those of all the calls).
 *   st_gfold_begin: keys of KDT (STRATA_I64, STRATA_TS: within RANGE[2], which may be empty,
 *     RANGE[1] < RANGE[0], when unknown; STRATA_STR: RANGE unused), through the dictionary when
 *     they span too wide a range for arrays or HASH says so, over ROWS rows in all, aggregates
 *     AGGS[NAGGS] (their inputs' data not read yet);
 *     1: *F made (st_gfold_free()), 0: not taken (an aggregate it does not take), or
 *     STRATA_ENOMEM.
 *   st_gfold_add: fold N rows of KEY whose smallest and largest key are RANGE (e.g. the batch's
 *     statistics; strings: unused), with AGGS (as at begin, their inputs these rows'). 1:
 *     folded; 0: not (a key outside RANGE, or rows st_groupby_range() would not group the same
 *     way): F is then of no use, and the group-by is to be done call by call; or STRATA_ENOMEM.
 *   st_gfold_side: work for F's next st_gfold_add() to do on one of its threads while the others
 *     fold (FN(ARG), once, before that call returns; on the calling thread after the fold where
 *     the call takes a path without a parallel fold of blocks): e.g. letting go of the batch
 *     before, whose unmapping would otherwise keep the other threads waiting. FN must not touch
 *     what the call reads.
 *   st_gfold_end: OUT := the groups (st_groups_free(), also when 0 or an error is returned):
 *     1, 0 when a call was not folded, or STRATA_ENOMEM. */
typedef struct st_gfold st_gfold;
int st_gfold_dense(const int64_t range[2], uint64_t rows);
int st_gfold_begin(st_gfold **f, strata_dtype kdt, const int64_t range[2], int hash, uint64_t rows,
                   const st_agg *aggs, int naggs, int nthreads);
int st_gfold_add(st_gfold *f, const st_gcol *key, uint64_t n, const st_agg *aggs,
                 const int64_t range[2]);
void st_gfold_side(st_gfold *f, void (*fn)(void *), void *arg);
int st_gfold_end(st_gfold *f, st_groups *out);
void st_gfold_free(st_gfold *f);

/* DST := groups of DST and SRC together (same keys and aggregates); DST's rows count as the
 * earlier ones (FIRST, LAST). STRATA_OK or STRATA_ENOMEM (DST is then unusable: free it). */
int st_groups_merge(st_groups *dst, const st_groups *src);

/* G appended to V (a vector of bytes) as bytes that st_groups_unpack() reads back, in the same
 * binary (the processes of one update): STRATA_OK or STRATA_ENOMEM. */
int st_groups_pack(const st_groups *g, st_vec *v);

/* The groups packed at *Q (up to END) into G, which owns its memory (st_groups_free()); *Q moves
 * past them. STRATA_OK, STRATA_ENOMEM, or STRATA_ECORRUPT when they do not parse. */
int st_groups_unpack(const char **q, const char *end, st_groups *g);

/* A hash of group GRP's keys that is the same for the same keys in any groups: string keys by
 * their bytes (not their rank in G's dictionary), the others by their word. */
uint64_t st_groups_hash(const st_groups *g, uint64_t grp);

/* OUT := the M groups IDS of G (in that order: ascending IDS keep them sorted), with copies of
 * G's key dictionaries and pruned copies of its aggregates'. STRATA_OK or STRATA_ENOMEM (OUT is
 * then empty). */
int st_groups_pick(const st_groups *g, const uint64_t *ids, uint64_t m, st_groups *out);

/* An empty G shaped for NKEYS keys of KDT and NAGGS aggregates OPS over inputs ADT (with Q). */
void st_groups_init(st_groups *g, int nkeys, const strata_dtype *kdt, int naggs, const int *ops,
                    const strata_dtype *adt, const double *q);

/* Load N groups into G (from st_groups_init(), empty): their keys KEYS (N distinct rows in the
 * order of the groups), with zeroed counts and aggregates for the caller to fill, and
 * st_groups_set_str() for string aggregate values. Holistic aggregates cannot be loaded.
 * STRATA_OK, STRATA_ENOMEM or STRATA_EINVAL. */
int st_groups_set_keys(st_groups *g, const st_gcol *keys, uint64_t n);

/* Set the value of string aggregate A of every group from VALS (g->n strings). */
int st_groups_set_str(st_groups *g, int a, const st_gcol *vals);

/* Whether aggregate A of group GRP is null (no non-null input; never for COUNT, COUNT_COL and
 * COUNT_DISTINCT). */
int st_groups_null(const st_groups *g, uint64_t grp, int a);

/* The value of aggregate A of group GRP as a double: counts, sums, means, variances, medians,
 * quantiles, numeric min/max/first/last; NaN when null. */
double st_groups_value(const st_groups *g, uint64_t grp, int a);

/* Key K of group GRP: whether it is null, and else its value into OUT (numeric keys: one value
 * of the key's dtype; string keys: *S and *LEN point into G's dictionary, valid until G
 * changes). */
int st_groups_key(const st_groups *g, uint64_t grp, int k, void *out, const char **s, size_t *len);

/* String aggregate A of group GRP (its ival is a rank in ADICT[a]). */
void st_groups_str(const st_groups *g, uint64_t grp, int a, const char **s, size_t *len);

void st_groups_free(st_groups *g);
#endif /* STRATA_OPS_H */
