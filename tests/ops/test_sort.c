/* Kernels against simple reference implementations on random data: radix argsort and sort of
 * every numeric dtype (duplicates, negatives, NaN, -0/+0, infinities, descending, multi-key),
 * string argsort, merge, top-k and filter, with 1 and 4 threads giving identical results. */
#include <math.h>

#include "ops/ops.h"
#include "ops/ops_int.h"
#include "test_util.h"

/* The documented order, written independently of the radix images: numbers by value, -0 before
 * +0, NaN after everything (NaN last in both directions). */
static int ref_cmp(strata_dtype t, const void *keys, uint64_t a, uint64_t b, int desc)
{
    if (t == STRATA_F32 || t == STRATA_F64) {
        double x = t == STRATA_F32 ? ((const float *)keys)[a] : ((const double *)keys)[a];
        double y = t == STRATA_F32 ? ((const float *)keys)[b] : ((const double *)keys)[b];
        if (isnan(x) || isnan(y)) return isnan(x) - isnan(y); /* NaN last, whatever DESC */
        int c = x < y                         ? -1
                : x > y                       ? 1
                : (signbit(x) && !signbit(y)) ? -1
                : (!signbit(x) && signbit(y)) ? 1
                                              : 0;
        return desc ? -c : c;
    }
    long double x, y;
    switch (t) {
    case STRATA_I8:
        x = ((const int8_t *)keys)[a];
        y = ((const int8_t *)keys)[b];
        break;
    case STRATA_I16:
        x = ((const int16_t *)keys)[a];
        y = ((const int16_t *)keys)[b];
        break;
    case STRATA_I32:
        x = ((const int32_t *)keys)[a];
        y = ((const int32_t *)keys)[b];
        break;
    case STRATA_I64:
    case STRATA_TS: {
        int64_t p = ((const int64_t *)keys)[a], q = ((const int64_t *)keys)[b];
        int c = p < q ? -1 : p > q;
        return desc ? -c : c;
    }
    case STRATA_U64: {
        uint64_t p = ((const uint64_t *)keys)[a], q = ((const uint64_t *)keys)[b];
        int c = p < q ? -1 : p > q;
        return desc ? -c : c;
    }
    case STRATA_U16:
        x = ((const uint16_t *)keys)[a];
        y = ((const uint16_t *)keys)[b];
        break;
    case STRATA_U32:
        x = ((const uint32_t *)keys)[a];
        y = ((const uint32_t *)keys)[b];
        break;
    default:
        x = ((const uint8_t *)keys)[a];
        y = ((const uint8_t *)keys)[b];
        break;
    }
    int c = x < y ? -1 : x > y;
    return desc ? -c : c;
}

/* Stable reference sort of PERM (insertion into a merge sort would do; n is small here). */
static void ref_argsort(strata_dtype t, const void *keys, uint64_t *perm, uint64_t n, int desc)
{
    for (uint64_t i = 1; i < n; i++) {
        uint64_t v = perm[i], j = i;
        while (j > 0 && ref_cmp(t, keys, perm[j - 1], v, desc) > 0) {
            perm[j] = perm[j - 1];
            j--;
        }
        perm[j] = v;
    }
}

static void fill_random(strata_dtype t, void *keys, uint64_t n, unsigned *seed)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = ((uint64_t)rand_r(seed) << 33) ^ ((uint64_t)rand_r(seed) << 11) ^
                     (uint64_t)rand_r(seed);
        int small = rand_r(seed) % 3 == 0; /* many duplicates */
        switch (t) {
        case STRATA_F64:
        case STRATA_F32: {
            static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0};
            double v =
                rand_r(seed) % 5 == 0 ? specials[rand_r(seed) % 7] : ((double)(int64_t)r) / 1e12;
            if (rand_r(seed) % 11 == 0) v = -NAN;
            if (small) v = (double)(rand_r(seed) % 5) - 2;
            if (t == STRATA_F64)
                ((double *)keys)[i] = v;
            else
                ((float *)keys)[i] = (float)v;
            break;
        }
        default: {
            size_t esz = strata_dtype_size(t);
            if (small) r = (uint64_t)(rand_r(seed) % 7) - 3;
            if (t == STRATA_BOOL) r &= 1;
            memcpy((char *)keys + i * esz, &r, esz); /* low bytes, little-endian */
        }
        }
    }
}

static void argsort_matches_reference_for_every_dtype(void **state)
{
    (void)state;
    unsigned seed = 2024;
    strata_dtype types[] = {STRATA_I8,  STRATA_I16, STRATA_I32, STRATA_I64, STRATA_U8,  STRATA_U16,
                            STRATA_U32, STRATA_U64, STRATA_F32, STRATA_F64, STRATA_BOOL};
    uint64_t sizes[] = {0, 1, 2, 17, 1000, 3000};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int desc = 0; desc < 2; desc++) {
                strata_dtype t = types[ti];
                uint64_t n = sizes[si];
                void *keys = malloc(n * 8 + 8);
                fill_random(t, keys, n, &seed);
                uint64_t *got = malloc((n + 1) * 8), *want = malloc((n + 1) * 8);
                for (uint64_t i = 0; i < n; i++) want[i] = i;
                ref_argsort(t, keys, want, n, desc);
                assert_int_equal(st_argsort(t, keys, n, NULL, got, desc, 3), 0);
                if (n > 0 && memcmp(got, want, n * 8) != 0)
                    fail_msg("dtype %s n %llu desc %d differs from the reference",
                             strata_dtype_name(t), (unsigned long long)n, desc);
                free(keys);
                free(got);
                free(want);
            }
}

/* The reference order by qsort: keys as ref_cmp orders them, ties by position. */
static strata_dtype q_type;
static const void *q_keys;
static int q_desc;

static int q_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    int c = ref_cmp(q_type, q_keys, x, y, q_desc);
    return c != 0 ? c : (x > y) - (x < y);
}

/* The argsort of N KEYS of type T (DESC) on 1 and 4 threads against the qsort reference; WHAT
 * names the case in a failure. */
static void check_argsort_ref(strata_dtype t, const void *keys, uint64_t n, int desc,
                              const char *what)
{
    uint64_t *want = malloc(n * 8), *got = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) want[i] = i;
    q_type = t, q_keys = keys, q_desc = desc;
    qsort(want, n, sizeof *want, q_cmp);
    for (int nt = 1; nt <= 4; nt += 3) {
        assert_int_equal(st_argsort(t, keys, n, NULL, got, desc, nt), 0);
        if (memcmp(got, want, n * 8) != 0)
            fail_msg("%s dtype %s n %llu desc %d threads %d differs from the reference", what,
                     strata_dtype_name(t), (unsigned long long)n, desc, nt);
    }
    free(want);
    free(got);
}

/* Tens of thousands of keys take one MSD pass, then MSD passes per bucket down to insertion
 * (sort.c, ST_MSD_SMALL, msd_pairs): the same stable order as the reference, for 1 and 4
 * threads. */
static void mid_sized_argsorts_match_the_reference(void **state)
{
    (void)state;
    unsigned seed = 77;
    strata_dtype types[] = {STRATA_I64, STRATA_F64, STRATA_U32, STRATA_I16, STRATA_F32};
    uint64_t sizes[] = {16383, 16384, 70001, 200000};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int desc = 0; desc < 2; desc++) {
                uint64_t n = sizes[si];
                void *keys = malloc(n * 8);
                fill_random(types[ti], keys, n, &seed);
                check_argsort_ref(types[ti], keys, n, desc, "random");
                free(keys);
            }
    /* i64 keys of a narrow range (sort.c, dense_images: sorted by counting from 16 384 keys
     * on), a range just inside and just past the counting sort's, and one past it from the
     * 4 097th key on */
    int64_t ranges[] = {19677, 65536, 65537, 0};
    for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++)
        for (int desc = 0; desc < 2; desc++) {
            uint64_t n = 70001;
            int64_t *keys = malloc(n * 8);
            for (uint64_t i = 0; i < n; i++) {
                int64_t range = ranges[ri] ? ranges[ri] : i < 4096 ? 100 : 1 << 20;
                keys[i] = 611 - (int64_t)(rand_r(&seed) % (unsigned)range);
            }
            char what[48];
            snprintf(what, sizeof what, "range %lld", (long long)ranges[ri]);
            check_argsort_ref(STRATA_I64, keys, n, desc, what);
            free(keys);
        }
}

static void multi_key_sort_by_chaining(void **state)
{
    (void)state;
    unsigned seed = 7;
    uint64_t n = 5000;
    int32_t *k1 = malloc(n * 4);
    double *k2 = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) {
        k1[i] = rand_r(&seed) % 10;
        k2[i] = (double)(rand_r(&seed) % 100) / 3;
    }
    uint64_t *perm = malloc(n * 8);
    /* by k1 ascending, then k2 descending: sort by the last key first */
    assert_int_equal(st_argsort(STRATA_F64, k2, n, NULL, perm, 1, 2), 0);
    assert_int_equal(st_argsort(STRATA_I32, k1, n, perm, perm, 0, 2), 0);
    for (uint64_t i = 1; i < n; i++) {
        uint64_t a = perm[i - 1], b = perm[i];
        assert_true(k1[a] < k1[b] ||
                    (k1[a] == k1[b] && (k2[a] > k2[b] || (k2[a] == k2[b] && a < b))));
    }
    free(k1);
    free(k2);
    free(perm);
}

static void large_sorts_are_identical_for_any_thread_count(void **state)
{
    (void)state;
    unsigned seed = 11;
    uint64_t n = 1 << 20;
    int64_t *k = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++)
        k[i] =
            (int64_t)(((uint64_t)rand_r(&seed) << 20) ^ (uint64_t)rand_r(&seed)) % 100000 - 50000;
    uint64_t *p1 = malloc(n * 8), *p4 = malloc(n * 8);
    assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, p1, 0, 1), 0);
    assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, p4, 0, 4), 0);
    assert_memory_equal(p1, p4, n * 8);
    for (uint64_t i = 1; i < n; i++)
        assert_true(k[p1[i - 1]] < k[p1[i]] || (k[p1[i - 1]] == k[p1[i]] && p1[i - 1] < p1[i]));
    /* full 64-bit keys: the first pass splits on the top bits */
    int64_t *w = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++)
        w[i] = (int64_t)(((uint64_t)rand_r(&seed) << 42) ^ ((uint64_t)rand_r(&seed) << 21) ^
                         (uint64_t)rand_r(&seed) ^ (i % 3 == 0 ? (uint64_t)1 << 63 : 0));
    for (uint64_t i = 0; i < n; i += 5) w[i] = w[i / 2]; /* duplicates */
    assert_int_equal(st_argsort(STRATA_I64, w, n, NULL, p1, 1, 1), 0);
    assert_int_equal(st_argsort(STRATA_I64, w, n, NULL, p4, 1, 4), 0);
    assert_memory_equal(p1, p4, n * 8);
    for (uint64_t i = 1; i < n; i++)
        assert_true(w[p1[i - 1]] > w[p1[i]] || (w[p1[i - 1]] == w[p1[i]] && p1[i - 1] < p1[i]));
    /* the values sort of full 64-bit keys (vqsort's buckets when built with it): the argsort's
     * order, descending its reverse, for 1 and 3 threads */
    int64_t *s1 = malloc(n * 8), *s3 = malloc(n * 8);
    memcpy(s1, w, n * 8);
    memcpy(s3, w, n * 8);
    assert_int_equal(st_sort(STRATA_I64, s1, n, 1, 1), 0);
    assert_int_equal(st_sort(STRATA_I64, s3, n, 1, 3), 0);
    assert_memory_equal(s1, s3, n * 8);
    for (uint64_t i = 0; i < n; i++) assert_true(s1[i] == w[p1[i]]);
    memcpy(s3, w, n * 8);
    assert_int_equal(st_sort(STRATA_I64, s3, n, 0, 2), 0);
    for (uint64_t i = 0; i < n; i++) assert_true(s3[i] == s1[n - 1 - i]);
    free(s1);
    free(s3);
    /* a chained two-key argsort of a large array (PERM_IN, in place): by K then W, stably */
    for (uint64_t i = 0; i < n; i++) p4[i] = i;
    assert_int_equal(st_argsort(STRATA_I64, w, n, NULL, p4, 0, 2), 0);
    assert_int_equal(st_argsort(STRATA_I64, k, n, p4, p4, 0, 2), 0);
    for (uint64_t i = 1; i < n; i++) {
        uint64_t a = p4[i - 1], b = p4[i];
        assert_true(k[a] < k[b] || (k[a] == k[b] && (w[a] < w[b] || (w[a] == w[b] && a < b))));
    }
    free(w);
    assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, p1, 0, 1), 0);
    /* values sort agrees with the argsort */
    int64_t *v = malloc(n * 8);
    memcpy(v, k, n * 8);
    assert_int_equal(st_sort(STRATA_I64, v, n, 0, 4), 0);
    for (uint64_t i = 0; i < n; i++) assert_true(v[i] == k[p1[i]]);
    memcpy(v, k, n * 8);
    assert_int_equal(st_sort(STRATA_I64, v, n, 1, 4), 0);
    for (uint64_t i = 1; i < n; i++) assert_true(v[i - 1] >= v[i]);
    double *d = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) d[i] = i % 97 == 0 ? NAN : (double)k[i] / 7;
    assert_int_equal(st_sort(STRATA_F64, d, n, 0, 3), 0);
    uint64_t nans = 0;
    for (uint64_t i = 1; i < n; i++) {
        if (isnan(d[i]))
            nans++;
        else
            assert_false(isnan(d[i - 1]) || d[i - 1] > d[i]); /* NaN only at the end */
    }
    assert_true(nans > 0);
    free(k);
    free(p1);
    free(p4);
    free(v);
    free(d);
}

static void strings_sort_bytewise_and_stably(void **state)
{
    (void)state;
    const char *words[] = {"pear", "apple", "", "app", "apple", "Zebra", "\xc3\xa9t\xc3\xa9", "b"};
    uint64_t n = 8;
    int64_t off[9] = {0};
    char bytes[64];
    for (uint64_t i = 0; i < n; i++) {
        memcpy(bytes + off[i], words[i], strlen(words[i]));
        off[i + 1] = off[i] + (int64_t)strlen(words[i]);
    }
    uint64_t perm[8];
    assert_int_equal(st_argsort_str(off, bytes, n, NULL, perm, 0), 0);
    uint64_t want[8] = {2, 5, 3, 1,
                        4, 7, 0, 6}; /* "", Zebra, app, apple(1), apple(4), b, pear, été */
    assert_memory_equal(perm, want, sizeof want);
    assert_int_equal(st_argsort_str(off, bytes, n, NULL, perm, 1), 0);
    uint64_t wantd[8] = {6, 0, 7, 1, 4, 3, 5, 2}; /* equal "apple"s keep their order */
    assert_memory_equal(perm, wantd, sizeof wantd);
}

/* The reference order of entries A and B of REF_IN (positions into REF_OFF, REF_BYTES):
 * bytewise, a prefix first, then by their place in REF_IN (a stable sort). */
static const int64_t *ref_off;
static const char *ref_bytes;
static const uint64_t *ref_in;
static int ref_desc;
static int str_ref_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b, i = ref_in[x], j = ref_in[y];
    size_t li = (size_t)(ref_off[i + 1] - ref_off[i]), lj = (size_t)(ref_off[j + 1] - ref_off[j]);
    int c = memcmp(ref_bytes + ref_off[i], ref_bytes + ref_off[j], li < lj ? li : lj);
    if (c == 0) c = (li > lj) - (li < lj);
    if (ref_desc) c = -c;
    return c != 0 ? c : (x > y) - (x < y);
}

/* Many strings sort like a stable bytewise sort: shared prefixes of every length (past 8, 16 and
 * the 256 bytes after which runs are merged whole), zero bytes inside and at the end, empty
 * strings, prefixes of others, repeats and bytes past 0x7f; ascending and descending, with and
 * without positions given, below and above the size at which eight bytes go at a time. */
static void many_strings_sort_like_a_stable_bytewise_sort(void **state)
{
    (void)state;
    const uint64_t sizes[2] = {700, 60000};
    for (int z = 0; z < 2; z++) {
        uint64_t n = sizes[z];
        int64_t *off = malloc((n + 1) * sizeof *off);
        char *bytes = malloc(n * 300);
        uint64_t *perm = malloc(n * sizeof *perm), *want = malloc(n * sizeof *want);
        uint64_t *in = malloc(n * sizeof *in);
        unsigned seed = 31;
        off[0] = 0;
        for (uint64_t i = 0; i < n; i++) {
            unsigned kind = (unsigned)rand_r(&seed) % 6;
            size_t pre = kind == 0 ? 0 : kind == 1 ? 7 : kind == 2 ? 12 : kind == 3 ? 261 : 16;
            size_t len = pre + (size_t)rand_r(&seed) % 4;
            char *b = bytes + off[i];
            for (size_t k = 0; k < pre; k++) b[k] = (char)('a' + k % 3);
            for (size_t k = pre; k < len; k++) {
                unsigned r = (unsigned)rand_r(&seed) % 5;
                b[k] = r == 0 ? '\0' : r == 1 ? (char)0xc3 : (char)('a' + r);
            }
            off[i + 1] = off[i] + (int64_t)len;
        }
        ref_off = off;
        ref_bytes = bytes;
        for (int desc = 0; desc < 2; desc++)
            for (int given = 0; given < 2; given++) {
                for (uint64_t i = 0; i < n; i++) in[i] = given ? (i * 7919) % n : i;
                for (uint64_t i = 0; i < n; i++) want[i] = i;
                ref_in = in;
                ref_desc = desc;
                qsort(want, n, sizeof *want, str_ref_cmp);
                for (uint64_t i = 0; i < n; i++) want[i] = in[want[i]];
                assert_int_equal(st_argsort_str(off, bytes, n, given ? in : NULL, perm, desc), 0);
                assert_memory_equal(perm, want, n * sizeof *perm);
            }
        free(off);
        free(bytes);
        free(perm);
        free(want);
        free(in);
    }
}

static void merge_of_sorted_runs_is_the_stable_sort(void **state)
{
    (void)state;
    unsigned seed = 5;
    uint64_t n = 4000, na = 2500;
    double *k = malloc(n * 8);
    fill_random(STRATA_F64, k, n, &seed);
    for (int desc = 0; desc < 2; desc++) {
        uint64_t *a = malloc(na * 8), *b = malloc((n - na) * 8), *out = malloc(n * 8),
                 *want = malloc(n * 8);
        for (uint64_t i = 0; i < na; i++) a[i] = i;
        for (uint64_t i = na; i < n; i++) b[i - na] = i;
        ref_argsort(STRATA_F64, k, a, na, desc);
        ref_argsort(STRATA_F64, k, b, n - na, desc);
        st_merge2(STRATA_F64, k, a, na, b, n - na, out, desc);
        for (uint64_t i = 0; i < n; i++) want[i] = i;
        ref_argsort(STRATA_F64, k, want, n, desc);
        assert_memory_equal(out, want, n * 8);
        free(a);
        free(b);
        free(out);
        free(want);
    }
    free(k);
}

static void topk_is_the_head_of_the_stable_sort(void **state)
{
    (void)state;
    unsigned seed = 3;
    uint64_t n = 200000;
    int64_t *k = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) k[i] = rand_r(&seed) % 1000; /* many ties */
    uint64_t *all = malloc(n * 8), top[64];
    for (int desc = 0; desc < 2; desc++) {
        assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, all, desc, 1), 0);
        for (int nt = 1; nt <= 4; nt += 3) {
            assert_int_equal(st_topk(STRATA_I64, k, n, 50, desc, top, nt), 50);
            assert_memory_equal(top, all, 50 * 8);
        }
    }
    assert_int_equal(st_topk(STRATA_I64, k, 3, 10, 0, top, 1), 3); /* k > n */
    assert_int_equal(st_topk(STRATA_I64, k, 0, 10, 0, top, 1), 0);
    free(k);
    free(all);
}

static void filter_keeps_selected_positions_in_order(void **state)
{
    (void)state;
    unsigned seed = 9;
    uint64_t n = 300001;
    uint8_t *m = malloc(n);
    uint64_t *out = malloc(n * 8), *want = malloc(n * 8), w = 0;
    for (uint64_t i = 0; i < n; i++) {
        m[i] = rand_r(&seed) % 3 == 0 ? (uint8_t)(1 + rand_r(&seed) % 200) : 0;
        if (m[i]) want[w++] = i;
    }
    for (int nt = 1; nt <= 5; nt += 2) {
        assert_int_equal(st_filter_mask(m, n, out, nt), w);
        assert_memory_equal(out, want, w * 8);
    }
    memset(m, 0, n);
    assert_int_equal(st_filter_mask(m, n, out, 4), 0); /* filtered to nothing */
    assert_int_equal(st_filter_mask(m, 0, out, 4), 0);
    free(m);
    free(out);
    free(want);
}

/* Called from inside a parallel region (nested teams have one thread), the kernels still cover
 * every row: they split work by the team they get, not by the threads they asked for. */
static void kernels_inside_a_parallel_region_cover_every_row(void **state)
{
    (void)state;
    uint64_t n = 1 << 18;
    int64_t *k = malloc(n * 8);
    uint8_t *m = malloc(n);
    for (uint64_t i = 0; i < n; i++) {
        k[i] = (int64_t)((i * 2654435761u) % 100000);
        m[i] = (uint8_t)(i % 3 == 0);
    }
    uint64_t *ref = malloc(n * 8), *got[2] = {malloc(n * 8), malloc(n * 8)};
    uint64_t *fref = malloc(n * 8), *fgot[2] = {malloc(n * 8), malloc(n * 8)};
    uint64_t nsel[2];
    assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, ref, 0, 1), 0);
    uint64_t want = st_filter_mask(m, n, fref, 1);
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 2; t++) {
        st_argsort(STRATA_I64, k, n, NULL, got[t], 0, 4);
        nsel[t] = st_filter_mask(m, n, fgot[t], 4);
    }
    for (int t = 0; t < 2; t++) {
        assert_memory_equal(got[t], ref, n * 8);
        assert_int_equal(nsel[t], want);
        assert_memory_equal(fgot[t], fref, want * 8);
        free(got[t]);
        free(fgot[t]);
    }
    free(ref);
    free(fref);
    free(k);
    free(m);
}

/* Gathers of every element width, whole and by buckets (POS), with 1 and 4 threads, equal a
 * byte-by-byte reference; elements outside the buckets are left alone. */
static void gather_matches_reference_for_every_width(void **state)
{
    (void)state;
    const uint64_t n = 100000, src_n = 70000, base = 5000;
    size_t widths[] = {1, 2, 4, 8, 3, 16};
    unsigned char *src = malloc(src_n * 16);
    uint64_t *idx = malloc(n * 8), *pos = malloc(n * 8);
    for (uint64_t i = 0; i < src_n * 16; i++) src[i] = (unsigned char)(i * 131 + 7);
    uint64_t npos = 0;
    for (uint64_t i = 0; i < n; i++) {
        idx[i] = base + (i * 2654435761u) % src_n;
        if (i % 3 != 1) pos[npos++] = n - 1 - i; /* a bucket: distinct, in any order */
    }
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        size_t esz = widths[w];
        unsigned char *ref = calloc(n, esz), *ref_pos = calloc(n, esz);
        for (uint64_t i = 0; i < n; i++) memcpy(ref + i * esz, src + (idx[i] - base) * esz, esz);
        for (uint64_t x = 0; x < npos; x++)
            memcpy(ref_pos + pos[x] * esz, src + (idx[pos[x]] - base) * esz, esz);
        for (int nt = 1; nt <= 4; nt += 3) {
            unsigned char *got = calloc(n, esz);
            st_gather(esz, src, idx, base, NULL, n, got, nt);
            assert_memory_equal(got, ref, n * esz);
            memset(got, 0, n * esz);
            st_gather(esz, src, idx, base, pos, npos, got, nt);
            assert_memory_equal(got, ref_pos, n * esz);
            free(got);
        }
        free(ref);
        free(ref_pos);
    }
    free(src);
    free(idx);
    free(pos);
}

/* Check the records of KEYS (N of T, cut into segments at CUT[0..NCUT)) sorted by
 * st_argsort_segs against st_argsort's permutation (itself checked against the reference), and
 * each image against its key, for 1 and 3 threads, with no hint, the exact hint and a wrong one. */
static int carried; /* sorts that carried their column (some must) */

static void check_segs(strata_dtype t, const void *keys, uint64_t n, const uint64_t *cut,
                       size_t ncut, int desc, const char *what)
{
    size_t esz = strata_dtype_size(t);
    const void *seg[16], *cseg[16];
    uint64_t start[17];
    size_t nseg = 0;
    start[0] = 1000; /* positions count from the first segment's row */
    for (size_t c = 0; c <= ncut; c++) {
        uint64_t lo = c == 0 ? 0 : cut[c - 1], hi = c == ncut ? n : cut[c];
        seg[nseg] = (const char *)keys + lo * esz;
        start[nseg + 1] = 1000 + hi;
        nseg++;
    }
    uint64_t *want = malloc((n + 1) * 8), exact[2] = {UINT64_MAX, 0};
    assert_int_equal(st_argsort(t, keys, n, NULL, want, desc, 2), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t img = st_key_image(t, keys, i, desc);
        exact[0] = img < exact[0] ? img : exact[0];
        exact[1] = img > exact[1] ? img : exact[1];
    }
    uint64_t narrow[2] = {exact[0] + 1, exact[1] > 0 ? exact[1] - 1 : 0};
    const uint64_t *hints[] = {NULL, exact, narrow};
    /* a carried column: row r's value is r * 7 + 3, cut as the keys are */
    uint64_t *cval = malloc((n + 1) * 8), *cout = malloc((n + 1) * 8), *pos = malloc((n + 1) * 8);
    st_srec *rec = malloc((n + 1) * sizeof *rec), *bare = malloc((n + 1) * sizeof *bare);
    st_srec *first = malloc((n + 1) * sizeof *first); /* the first sort's records, checked */
    for (uint64_t r = 0; r < n; r++) cval[r] = r * 7 + 3;
    for (size_t k = 0; k < nseg; k++) cseg[k] = cval + (start[k] - 1000);
    int checked = 0;
    for (int h = 0; h < 3; h++)
        for (int nt = 1; nt <= 3; nt += 2) {
            /* under ThreadSanitizer, 3 threads only (one has nothing to race) and the hints that
             * take different passes: guessed from the first keys, and wrong (the exact hint
             * takes the guess's passes) */
            if (ST_TEST_TSAN && (nt == 1 || h == 1)) continue;
            /* (the buffers hold the sort before's results: a sort that left rows unwritten
             * must not pass on them) */
            memset(rec, 0xff, n * sizeof *rec);
            memset(bare, 0xff, n * sizeof *bare);
            memset(pos, 0xff, n * sizeof *pos);
            memset(cout, 0xff, n * sizeof *cout);
            st_carry cy = {.n = 1, .seg = {cseg}, .out = {cout}};
            assert_int_equal(
                st_argsort_segs(t, seg, start, nseg, desc, hints[h], rec, NULL, &cy, nt), 0);
            for (uint64_t i = 0; cy.done && i < n; i++)
                assert_true(cout[i] == (rec[i].pos - 1000) * 7 + 3);
            carried += cy.done;
            /* the same records without a carried column (a dense range of many values takes
             * sortrec.c's two-level place then) */
            assert_int_equal(
                st_argsort_segs(t, seg, start, nseg, desc, hints[h], bare, NULL, NULL, nt), 0);
            assert_memory_equal(bare, rec, n * sizeof *rec);
            assert_int_equal(
                st_argsort_segs(t, seg, start, nseg, desc, hints[h], NULL, pos, NULL, nt), 0);
            for (uint64_t i = 0; i < n; i++) assert_true(pos[i] == rec[i].pos);
            if (checked) { /* every later sort gives the records checked below */
                if (memcmp(rec, first, n * sizeof *rec) != 0)
                    fail_msg("%s: dtype %s n %llu desc %d hint %d threads %d: the records differ "
                             "from the first sort's",
                             what, strata_dtype_name(t), (unsigned long long)n, desc, h, nt);
                continue;
            }
            for (uint64_t i = 0; i < n; i++) {
                if (rec[i].pos != 1000 + want[i])
                    fail_msg("%s: dtype %s n %llu desc %d hint %d threads %d: row %llu is %llu, "
                             "not %llu",
                             what, strata_dtype_name(t), (unsigned long long)n, desc, h, nt,
                             (unsigned long long)i, (unsigned long long)rec[i].pos - 1000,
                             (unsigned long long)want[i]);
                assert_true(rec[i].img == st_key_image(t, keys, want[i], desc));
                /* the key comes back from its image (NaN as the canonical NaN) */
                char back[8];
                st_key_from_image(t, rec[i].img, desc, back);
                if (rec[i].img != UINT64_MAX || (t != STRATA_F32 && t != STRATA_F64))
                    assert_memory_equal(back, (const char *)keys + want[i] * esz, esz);
            }
            memcpy(first, rec, n * sizeof *rec);
            checked = 1;
        }
    free(first);
    free(bare);
    free(rec);
    free(pos);
    free(cout);
    free(cval);
    free(want);
}

/* Integer V as key I of type T (floats by value; integers by their low bytes). */
static void put_int(strata_dtype t, char *keys, uint64_t i, int64_t v)
{
    double f = (double)v;
    float g = (float)v;
    memcpy(keys + i * strata_dtype_size(t),
           t == STRATA_F64   ? (const void *)&f
           : t == STRATA_F32 ? (const void *)&g
                             : (const void *)&v,
           strata_dtype_size(t));
}

static void segmented_argsort_is_the_stable_argsort(void **state)
{
    (void)state;
    unsigned seed = 99;
    strata_dtype types[] = {STRATA_I8,  STRATA_I16, STRATA_I32, STRATA_I64,  STRATA_U8, STRATA_U32,
                            STRATA_U64, STRATA_F32, STRATA_F64, STRATA_BOOL, STRATA_TS};
    /* 70 000 keys: past the size at which the passes go parallel, and below the one at which
     * st_argsort (the reference) takes this path itself */
    uint64_t sizes[] = {1, 2, 1000, 70000};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            strata_dtype t = types[ti];
            uint64_t n = sizes[si];
            if (n > 1000 && t != STRATA_I64 && t != STRATA_F64 && t != STRATA_I32) continue;
            /* under ThreadSanitizer, the parallel sizes for one type (the types differ in how
             * keys become images, not in threads) */
            if (ST_TEST_TSAN && n > 1000 && t != STRATA_I64) continue;
            size_t esz = strata_dtype_size(t);
            char *keys = malloc(n * 8 + 8);
            uint64_t cut[5] = {0, n / 3, n / 3, n / 2 + 1 < n ? n / 2 + 1 : n, n};
            for (int mode = 0; mode < 8; mode++) {
                if (mode == 5 || mode == 7) { /* strictly decreasing (7: but for one pair) */
                    for (uint64_t i = 0; i < n; i++) {
                        int64_t v = (int64_t)(n - i) * 3;
                        put_int(t, keys, i, v);
                    }
                } else if (mode == 0) { /* random, full range, duplicates, specials */
                    fill_random(t, keys, n, &seed);
                } else if (mode == 1) { /* few distinct values: counting */
                    for (uint64_t i = 0; i < n; i++) {
                        int64_t v = rand_r(&seed) % 300;
                        put_int(t, keys, i, v);
                        if (t == STRATA_BOOL) keys[i] &= 1;
                    }
                } else { /* in order, in reverse, all equal: from the random keys' argsort */
                    fill_random(t, keys, n, &seed);
                    uint64_t *perm = malloc(n * 8);
                    char *copy = malloc(n * esz);
                    assert_int_equal(st_argsort(t, keys, n, NULL, perm, mode == 3, 1), 0);
                    memcpy(copy, keys, n * esz);
                    for (uint64_t i = 0; i < n; i++)
                        memcpy(keys + i * esz, copy + (mode == 4 ? 0 : perm[i]) * esz, esz);
                    free(perm);
                    free(copy);
                }
                /* 6, 7: in order, or strictly decreasing, but for one pair across a block's
                 * end (2 048 keys, a multiple of sortrec.c's scan's blocks) or in the middle */
                uint64_t at = n > 2048 ? 2047 : n / 2;
                if (mode >= 6 && at + 1 < n) {
                    char tmp[8];
                    memcpy(tmp, keys + at * esz, esz);
                    memmove(keys + at * esz, keys + (at + 1) * esz, esz);
                    memcpy(keys + (at + 1) * esz, tmp, esz);
                }
                static const char *what[] = {"random",
                                             "few distinct",
                                             "in order",
                                             "in reverse",
                                             "all equal",
                                             "decreasing",
                                             "one pair out of order",
                                             "one pair out of reverse"};
                for (int desc = 0; desc < 2; desc++) {
                    check_segs(t, keys, n, NULL, 0, desc, what[mode]);
                    check_segs(t, keys, n, cut, 5, desc, what[mode]); /* two empty segments */
                }
            }
            free(keys);
        }
    /* dense ranges of more values than write combining has lines for (sortrec.c: in two levels,
     * place2, up to 8 MB of output; in one pass beyond), and of fewer (a million rows: placed a
     * chunk at a time, place_runs, which ends chunks, runs and lines mid-way with 1 and 3
     * threads and a segment cut inside a chunk), against the reference */
    int64_t spans[] = {4097, 19677, 65536, 1000};
    uint64_t dn[] = {70001, ((uint64_t)1 << 20) + 3};
    for (size_t si = 0; si < sizeof spans / sizeof spans[0]; si++)
        for (size_t ni = 0; ni < sizeof dn / sizeof dn[0]; ni++) {
            /* under ThreadSanitizer, a million rows of the first and last spans only (placed
             * in two levels and a chunk at a time, each threaded as the others are) */
            if (ST_TEST_TSAN && ni == 1 && si != 0 && si + 1 != sizeof spans / sizeof spans[0])
                continue;
            uint64_t n = dn[ni], cut[2] = {n / 3, n / 3 + 5};
            int64_t *keys = malloc(n * 8);
            for (uint64_t i = 0; i < n; i++)
                keys[i] = 611 - (int64_t)(rand_r(&seed) % (unsigned)spans[si]);
            char what[48];
            snprintf(what, sizeof what, "dense range of %lld", (long long)spans[si]);
            for (int desc = 0; desc < 2; desc++) {
                check_argsort_ref(STRATA_I64, keys, n, desc, what);
                check_segs(STRATA_I64, keys, n, cut, 2, desc, what);
            }
            free(keys);
        }
    /* a range widened by one key of the last thread's rows (the largest, the smallest in the
     * first thread's): the first pass's guess (from the first keys) holds for the first threads'
     * rows, counted per chunk, and fails in the last thread's (the wrong hint of check_segs fails
     * at once); 64-bit keys of every kind, taken as they are (sortrec.c's seg_keys), both ways
     * for I64 */
    struct {
        strata_dtype t;
        int desc;
    } wide[] = {{STRATA_I64, 0}, {STRATA_I64, 1}, {STRATA_U64, 1}, {STRATA_TS, 0}};
    for (size_t wi = 0; wi < sizeof wide / sizeof wide[0]; wi++) {
        if (ST_TEST_TSAN && wi > 0) continue;
        uint64_t n = ((uint64_t)1 << 20) + 3, cut[2] = {n / 3, n / 3 + 5};
        int64_t *keys = malloc(n * 8);
        for (uint64_t i = 0; i < n; i++) keys[i] = 611 + (int64_t)(rand_r(&seed) % 1000u);
        keys[5] = 600;
        keys[900001] = 611 + 4999;
        check_argsort_ref(wide[wi].t, keys, n, wide[wi].desc, "range widened by a key");
        check_segs(wide[wi].t, keys, n, cut, 2, wide[wi].desc, "range widened by a key");
        free(keys);
    }
    /* the same with a guessed range of 2^20 values (digits of 256 values: the bounds of the
     * threads that counted are those of digits, not of keys), the smallest and the largest key
     * in the first thread's rows, and one far key in the last's: the order's extremes come from
     * the first thread's counts, ascending and descending */
    for (int desc = 0; desc < 2 && !ST_TEST_TSAN; desc++) {
        uint64_t n = ((uint64_t)1 << 20) + 3, cut[2] = {n / 3, n / 3 + 5};
        int64_t *keys = malloc(n * 8);
        for (uint64_t i = 0; i < n; i++)
            keys[i] = 1 + (int64_t)((((uint64_t)rand_r(&seed) << 16) ^ (uint64_t)rand_r(&seed)) %
                                    ((1u << 20) - 2));
        keys[5] = 0;
        keys[6] = (1 << 20) - 1;
        keys[900001] = (int64_t)1 << 40;
        check_argsort_ref(STRATA_I64, keys, n, desc, "spread range widened by a key");
        check_segs(STRATA_I64, keys, n, cut, 2, desc, "spread range widened by a key");
        free(keys);
    }
    assert_true(carried > 100);
}

/* The 64-bit keys a bucket of records is sorted as (st_srec_sort_keys), against a qsort of the
 * records by (image, position): buckets of every size up to 5000 with offsets of 1 to 64 bits
 * (duplicates among them), with keys of 64 bits and of fewer, down to the narrowest that fit,
 * so that the counting pass splits the bucket into up to 2^ST_SREC_SPLIT parts; the positions
 * alone and the records in order; sorted by qsort and by vqsort when it is there. */
static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void qsort_keys(uint64_t *k, uint64_t n)
{
    qsort(k, n, sizeof *k, u64_cmp);
}

static int srec_cmp(const void *a, const void *b)
{
    const st_srec *x = a, *y = b;
    return x->img != y->img ? (x->img > y->img) - (x->img < y->img)
                            : (x->pos > y->pos) - (x->pos < y->pos);
}

static void bucket_keys_sort_as_records_do(void **state)
{
    (void)state;
    unsigned seed = 5;
    st_vq vq;
    st_vq_open(&vq);
    void (*sorts[2])(uint64_t *, uint64_t) = {qsort_keys, vq.keys};
    uint64_t max = 5000, *key = malloc(max * 8), *perm = malloc(max * 8);
    st_srec *rec = malloc(max * sizeof *rec), *want = malloc(max * sizeof *want);
    st_srec *got = malloc(max * sizeof *got), *out = malloc(max * sizeof *out);
    int splits = 0, cases = 0;
    for (int trial = 0; trial < 400; trial++) {
        uint64_t n = 2 + (uint64_t)rand_r(&seed) % (trial % 4 == 0 ? 60 : max - 1);
        int v = 1 + rand_r(&seed) % 64, ib = 64 - __builtin_clzll(n - 1);
        uint64_t vmask = v == 64 ? UINT64_MAX : (1ull << v) - 1;
        uint64_t digit = v == 64 ? 0 : (uint64_t)rand_r(&seed) << v; /* the bucket's digit */
        /* the smallest image, such that the bucket's images do not pass 2^64 */
        uint64_t r0 = (uint64_t)rand_r(&seed) << 40 ^ (uint64_t)rand_r(&seed) << 9 ^
                      (uint64_t)rand_r(&seed),
                 top = digit + vmask;
        uint64_t min = top == UINT64_MAX ? 0 : r0 % (UINT64_MAX - top + 1);
        uint64_t pos = (uint64_t)rand_r(&seed);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t r = (uint64_t)rand_r(&seed) << 42 ^ (uint64_t)rand_r(&seed) << 21 ^
                         (uint64_t)rand_r(&seed) ^ (uint64_t)rand_r(&seed) << 63;
            if (i > 0 && rand_r(&seed) % 4 == 0) r = rec[rand_r(&seed) % i].img - min - digit;
            pos += 1 + (uint64_t)rand_r(&seed) % 3; /* in position order, as placed */
            rec[i] = (st_srec){pos, min + digit + (r & vmask)};
        }
        memcpy(want, rec, n * sizeof *rec);
        qsort(want, n, sizeof *want, srec_cmp);
        int narrowest = v + ib - ST_SREC_SPLIT > ib ? v + ib - ST_SREC_SPLIT : ib;
        int widths[3] = {64, narrowest, narrowest + (64 - narrowest) / 2};
        for (int w = 0; w < 3; w++)
            for (int s = 0; s < 2 && sorts[s] != NULL; s++) {
                int kbits = widths[w] < 64 ? widths[w] : 64;
                assert_true(st_srec_keys_fit(n, v, kbits) == (v + ib - kbits <= ST_SREC_SPLIT));
                if (!st_srec_keys_fit(n, v, kbits)) continue;
                splits += v + ib > kbits;
                cases++;
                st_srec_sort_keys(rec, n, min, v, kbits, perm, key, NULL, sorts[s]);
                for (uint64_t i = 0; i < n; i++)
                    if (perm[i] != want[i].pos)
                        fail_msg("n %llu v %d kbits %d sort %d: position %llu is %llu, not %llu",
                                 (unsigned long long)n, v, kbits, s, (unsigned long long)i,
                                 (unsigned long long)perm[i], (unsigned long long)want[i].pos);
                memcpy(got, rec, n * sizeof *rec);
                st_srec_sort_keys(got, n, min, v, kbits, NULL, key, out, sorts[s]);
                assert_memory_equal(got, want, n * sizeof *got);
            }
    }
    assert_false(st_srec_keys_fit(1, 10, 64));
    assert_true(splits > 200 && cases > 800);
    st_vq_close(&vq);
    free(key);
    free(perm);
    free(rec);
    free(want);
    free(got);
    free(out);
}

/* The value sort's shortcuts for large i64 arrays -- in order, in reverse (with duplicates), a
 * narrow window of values, a window guessed wrong from the first keys, values at the ends of the
 * range -- against the values at the argsort's order, ascending and descending. */
static void value_sort_shortcuts_match_the_argsort(void **state)
{
    (void)state;
    unsigned seed = 31;
    uint64_t n = ((uint64_t)1 << 18) + 4099; /* just past the size the shortcuts start at */
    int64_t *k = malloc(n * 8), *got = malloc(n * 8), *to = malloc(n * 8), *orig = malloc(n * 8);
    uint64_t *perm = malloc(n * 8);
    int64_t mid = (int64_t)(n - (n / 2 - 100)) / 3;
    /* in order or in reverse but for one pair of neighbours, swapped at AT[(shape - 11) / 2]:
     * inside blocks of 512 keys and across them, at the threads' first and last keys (2 threads
     * into another array, 3 in place) */
    const uint64_t at[] = {1,           101,       512,   612,         n / 3, n / 3 + 1,
                           2 * (n / 3), n / 2 - 1, n / 2, n / 2 + 101, n - 1};
    int shapes = 11 + 2 * (int)(sizeof at / sizeof at[0]);
    for (int shape = 0; shape < shapes; shape++)
        for (int desc = 0; desc < 2; desc++) {
            for (uint64_t i = 0; shape >= 11 && i < n; i++)
                k[i] = (shape - 11) % 2 ? (int64_t)(n - i) * 3 : (int64_t)i * 3;
            if (shape >= 11) {
                uint64_t p = at[(shape - 11) / 2];
                int64_t x = k[p - 1];
                k[p - 1] = k[p];
                k[p] = x;
            }
            for (uint64_t i = 0; shape < 11 && i < n; i++) {
                int64_t r = rand_r(&seed) % 1000;
                k[i] = shape == 0   ? (int64_t)(i / 3)              /* in order, duplicates */
                       : shape == 1 ? (int64_t)((n - i) / 3)        /* in reverse, duplicates */
                       : shape == 2 ? r - 500                       /* 1000 values */
                       : shape == 3 ? (i < 70000 ? r : r * 1000000) /* the guesses are wrong */
                       : shape == 4 ? INT64_MAX - r                 /* at the top */
                       : shape == 5 ? INT64_MIN + r                 /* at the bottom */
                       /* most keys in a few of the MSD pass's buckets, a few in each of the
                        * others: every thread's part of a bucket is a few keys, inside a line */
                       : shape == 6 ? (i % 61 == 0 ? (r - 500) * 9000000000000000LL / 500 : r)
                       /* the first keys wide, the others not */
                       : shape == 7 ? (i < 65536 ? (r - 500) * 9000000000000000LL / 500 : r)
                       : shape == 8 ? (int64_t)((uint64_t)rand_r(&seed) << 41 ^
                                                (uint64_t)rand_r(&seed) << 20 ^ (uint64_t)r)
                       : shape == 9 ? -7 /* all equal */
                       /* in reverse, each thread's first keys equal (in both orders) */
                       : i < 3000                             ? (int64_t)n
                       : i >= n / 2 - 100 && i < n / 2 + 2000 ? mid
                                                              : (int64_t)(n - i) / 3;
            }
            assert_int_equal(st_argsort(STRATA_I64, k, n, NULL, perm, desc, 2), 0);
            memcpy(got, k, n * 8);
            assert_int_equal(st_sort(STRATA_I64, got, n, desc, 3), 0);
            for (uint64_t i = 0; i < n; i++)
                if (got[i] != k[perm[i]])
                    fail_msg("shape %d desc %d: value %llu is %lld, not %lld", shape, desc,
                             (unsigned long long)i, (long long)got[i], (long long)k[perm[i]]);
            /* into another array: the same values, the keys left as they were */
            memcpy(orig, k, n * 8);
            memset(to, 0x5a, n * 8);
            assert_int_equal(st_sort_to(STRATA_I64, k, to, n, desc, 2), 0);
            assert_memory_equal(to, got, n * 8);
            assert_memory_equal(k, orig, n * 8);
        }
    /* the other types into another array: as sorted in place */
    double *f = malloc(n * 8), *g = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) f[i] = i % 101 == 0 ? NAN : (double)(rand_r(&seed) % 5000) / 3;
    memcpy(g, f, n * 8);
    assert_int_equal(st_sort(STRATA_F64, g, n, 1, 2), 0);
    assert_int_equal(st_sort_to(STRATA_F64, f, to, n, 1, 2), 0);
    assert_memory_equal(to, g, n * 8);
    free(f);
    free(g);
    free(to);
    free(orig);
    free(k);
    free(got);
    free(perm);
}

/* Positions of keys of a range under 4 096 values, from a million rows up: the argsort's first
 * pass, at the range guessed from the first keys, counts each chunk's digits for the placing pass
 * (sortrec.c, place_runs()), and fetches keys ahead as it counts (ahead_fetch()). Against a stable
 * counting sort, for keys of 8, 4 and 2 bytes, signed or not, both orders, 1, 2 and 4 threads. */
static void counted_chunks_argsort_is_the_counting_sort(void **state)
{
    (void)state;
    uint64_t n = ((uint64_t)1 << 20) + 12345;
    static const strata_dtype types[] = {STRATA_I64, STRATA_U64, STRATA_I32, STRATA_U16};
    unsigned seed = 77;
    uint64_t *val = malloc(n * 8), *perm = malloc(n * 8), *want = malloc(n * 8);
    uint64_t *at = calloc(1001, sizeof *at);
    void *keys = malloc(n * 8);
    for (uint64_t i = 0; i < n; i++) val[i] = 611 + (uint64_t)rand_r(&seed) % 1000;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        strata_dtype t = types[ti];
        for (uint64_t i = 0; i < n; i++) {
            if (t == STRATA_I32)
                ((int32_t *)keys)[i] = (int32_t)val[i] - 1100; /* negative ones too */
            else if (t == STRATA_U16)
                ((uint16_t *)keys)[i] = (uint16_t)val[i];
            else
                ((uint64_t *)keys)[i] =
                    t == STRATA_U64 ? val[i] : (uint64_t)((int64_t)val[i] - 1100);
        }
        for (int desc = 0; desc < 2; desc++) {
            /* the reference: a stable counting sort of the values (in the order asked for) */
            memset(at, 0, 1001 * sizeof *at);
            for (uint64_t i = 0; i < n; i++) at[(desc ? 1610 - val[i] : val[i] - 611) + 1]++;
            for (int v = 1; v <= 1000; v++) at[v] += at[v - 1];
            for (uint64_t i = 0; i < n; i++) want[at[desc ? 1610 - val[i] : val[i] - 611]++] = i;
            for (int nt = 1; nt <= 4; nt += 1 + (nt == 2)) { /* 1, 2 and 4 threads */
                memset(perm, 0xff, n * 8);
                assert_int_equal(st_argsort(t, keys, n, NULL, perm, desc, nt), 0);
                for (uint64_t i = 0; i < n; i++)
                    if (perm[i] != want[i])
                        fail_msg("%s desc %d threads %d: row %llu is %llu, not %llu",
                                 strata_dtype_name(t), desc, nt, (unsigned long long)i,
                                 (unsigned long long)perm[i], (unsigned long long)want[i]);
            }
        }
    }
    free(val);
    free(perm);
    free(want);
    free(at);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(argsort_matches_reference_for_every_dtype),
        cmocka_unit_test(mid_sized_argsorts_match_the_reference),
        cmocka_unit_test(multi_key_sort_by_chaining),
        cmocka_unit_test(large_sorts_are_identical_for_any_thread_count),
        cmocka_unit_test(strings_sort_bytewise_and_stably),
        cmocka_unit_test(many_strings_sort_like_a_stable_bytewise_sort),
        cmocka_unit_test(merge_of_sorted_runs_is_the_stable_sort),
        cmocka_unit_test(topk_is_the_head_of_the_stable_sort),
        cmocka_unit_test(filter_keeps_selected_positions_in_order),
        cmocka_unit_test(kernels_inside_a_parallel_region_cover_every_row),
        cmocka_unit_test(gather_matches_reference_for_every_width),
        cmocka_unit_test(segmented_argsort_is_the_stable_argsort),
        cmocka_unit_test(value_sort_shortcuts_match_the_argsort),
        cmocka_unit_test(counted_chunks_argsort_is_the_counting_sort),
        cmocka_unit_test(bucket_keys_sort_as_records_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
