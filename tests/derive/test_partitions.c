/* Sorted datasets stored as key-range partitions (src/derive/order.c, src/store/partition.c):
 * after every one of many appends, a sort updated incrementally (new rows as delta runs,
 * compaction, splits) reads exactly like the same sort recomputed from scratch -- every column,
 * every null, through the snapshot API -- for integer, float (NaN), string and multi-column keys,
 * ascending and descending; an open snapshot keeps its version across compactions; datasets
 * derived from a partitioned one follow it; and an update under a memory budget too small for the
 * new rows merges the partitions whole, with the same rows. */
#include <math.h>

#include "store/store.h"
#include "test_util.h"

#define BATCH_ROWS 1024 /* rows per partition: small, so that a few thousand rows make many */

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* The source r/src: k i64, f f64, s str, v i64 (k and s with nulls). */
static void create_src(strata_pool *pool)
{
    strata_column cols[] = {{"k", STRATA_I64},
                            {"f", STRATA_F64},
                            {"s", STRATA_STR},
                            {"v", STRATA_I64},
                            {"g", STRATA_I32}};
    assert_ok(pool, strata_dataset_create(pool, "r", "src", cols, 5));
}

/* Publish N random rows (few distinct keys: many ties) as one batch; V counts rows from *ID. */
static void add_rows(strata_pool *pool, uint64_t n, uint64_t *seed, int64_t *id)
{
    int64_t *k = malloc(n * sizeof *k), *v = malloc(n * sizeof *v), *off = malloc((n + 1) * 8);
    double *f = malloc(n * sizeof *f);
    int32_t *g = malloc(n * sizeof *g);
    char *bytes = malloc(n * 4 + 1);
    uint8_t *kvalid = calloc(n / 8 + 1, 1), *svalid = calloc(n / 8 + 1, 1);
    off[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        k[i] = (int64_t)(rnd(seed) % 200) - 100;
        f[i] = rnd(seed) % 50 == 0 ? NAN : (double)(rnd(seed) % 97) / 4 - 10;
        v[i] = (*id)++;
        g[i] = (int32_t)(rnd(seed) % 50) - 25;
        int len = (int)(rnd(seed) % 4);
        for (int c = 0; c < len; c++) bytes[off[i] + c] = (char)('a' + rnd(seed) % 3);
        off[i + 1] = off[i] + len;
        if (rnd(seed) % 20 != 0) kvalid[i / 8] |= (uint8_t)(1u << (i % 8));
        if (rnd(seed) % 25 != 0) svalid[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    strata_dataset *ds;
    strata_batch *b;
    assert_ok(pool, strata_dataset_open(pool, "r", "src", &ds));
    assert_ok(pool, strata_batch_begin(ds, &b));
    assert_ok(pool, strata_batch_append_nullable(b, 0, k, kvalid, n));
    assert_ok(pool, strata_batch_append(b, 1, f, n));
    assert_ok(pool, strata_batch_append_str_nullable(b, 2, off, bytes, svalid, n));
    assert_ok(pool, strata_batch_append(b, 3, v, n));
    assert_ok(pool, strata_batch_append(b, 4, g, n));
    assert_ok(pool, strata_batch_commit(b));
    assert_ok(pool, strata_publish(ds, NULL));
    strata_dataset_close(ds);
    free(k);
    free(v);
    free(off);
    free(f);
    free(g);
    free(bytes);
    free(kvalid);
    free(svalid);
}

/* A sort NAME of r/src by KEYS with the other columns gathered and an expression. */
static void derive_sort(strata_pool *pool, const char *name, const char *keys, int desc)
{
    strata_derive_spec sp = {.op = "sort", .keys = keys, .desc = desc};
    assert_ok(pool, strata_derive(pool, "r", name, "r", "src", &sp));
    const char *cols[] = {"k", "f", "s", "v", "g"};
    for (int c = 0; c < 5; c++) {
        if (strstr(keys, cols[c]) != NULL) continue;
        strata_column_spec g = {
            .op = "gather", .src_region = "r", .src_name = "src", .src_column = cols[c]};
        assert_ok(pool, strata_column_derive(pool, "r", name, cols[c], &g));
    }
    strata_column_spec e = {.op = "expr", .expr = "v * 2"};
    assert_ok(pool, strata_column_derive(pool, "r", name, "v2", &e));
}

/* Append the bytes of N values at P to the growing buffer *BUF (*LEN, *CAP). */
static void put(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* Every column of r/NAME (by name, in the schema's order), row by row, validity included, as
 * bytes into *OUT; returns their length. Also the number of batches the snapshot shows. */
static size_t dump(strata_pool *pool, const char *name, char **out, uint64_t *nbatches)
{
    strata_snapshot *s;
    strata_dataset_desc d;
    assert_ok(pool, strata_snapshot_open(pool, "r", name, 0, &s));
    assert_ok(pool, strata_snapshot_info(s, &d));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int c = 0; c < d.ncols; c++) {
        put(&buf, &len, &cap, d.columns[c].name, strlen(d.columns[c].name) + 1);
        for (uint64_t b = 0; b < d.nbatches; b++) {
            strata_batch_info bi;
            const uint8_t *valid;
            assert_ok(pool, strata_snapshot_batch(s, b, &bi));
            assert_ok(pool, strata_snapshot_map_valid(s, b, c, &valid));
            for (uint64_t i = 0; i < bi.nrows; i++) {
                char ok = valid == NULL || (valid[i / 8] >> (i % 8) & 1);
                put(&buf, &len, &cap, &ok, 1);
                if (!ok) continue;
                if (d.columns[c].dtype == STRATA_STR) {
                    const int64_t *o;
                    const char *by;
                    assert_ok(pool, strata_snapshot_map_str(s, b, c, &o, &by));
                    int64_t l = o[i + 1] - o[i];
                    put(&buf, &len, &cap, &l, sizeof l);
                    put(&buf, &len, &cap, by + o[i], (size_t)l);
                } else {
                    const void *data;
                    assert_ok(pool, strata_snapshot_map(s, b, c, &data));
                    size_t esz = strata_dtype_size(d.columns[c].dtype);
                    put(&buf, &len, &cap, (const char *)data + i * esz, esz);
                }
            }
        }
    }
    *nbatches = d.nbatches;
    strata_snapshot_close(s);
    *out = buf;
    return len;
}

/* r/A and r/B read alike. */
static void assert_same(strata_pool *pool, const char *a, const char *b, int round)
{
    char *x, *y;
    uint64_t na, nb;
    size_t lx = dump(pool, a, &x, &na), ly = dump(pool, b, &y, &nb);
    if (lx != ly || memcmp(x, y, lx) != 0)
        fail_msg("round %d: r/%s and r/%s differ (%zu and %zu bytes)", round, a, b, lx, ly);
    free(x);
    free(y);
}

/* A sorted dataset's shape for appends_match(): FIRST rows, then ROUNDS appends of 1 to
 * APPEND rows, output batches of BATCH rows. */
typedef struct shape {
    uint64_t first, append, batch;
    int rounds, parts; /* more than PARTS partitions at the end (they split as they grow) */
} shape;

/* Appends of random sizes, each followed by an incremental update of INC and a full one of
 * FULL (same definition): they must read alike every time, and the incremental updates must
 * have written deltas (fewer rows than the full ones) and compacted some partitions. */
static void appends_match(strata_pool *pool, const char *keys, int desc, shape sh)
{
    uint64_t seed = 42;
    int64_t id = 0;
    create_src(pool);
    add_rows(pool, sh.first, &seed, &id);
    derive_sort(pool, "inc", keys, desc);
    derive_sort(pool, "full", keys, desc);
    strata_update_opts o = {.batch_rows = sh.batch};
    strata_update_opts full = {.batch_rows = sh.batch, .full = 1};
    strata_update_stats st;
    assert_ok(pool, strata_update(pool, "r", "inc", &o, &st));
    uint64_t compacted = 0, written = 0, rows = sh.first;
    for (int round = 0; round < sh.rounds; round++) {
        uint64_t n = 1 + rnd(&seed) % sh.append;
        add_rows(pool, n, &seed, &id);
        rows += n;
        assert_ok(pool, strata_update(pool, "r", "inc", &o, &st));
        compacted += st.parts_compacted;
        written += st.rows_written;
        assert_ok(pool, strata_update(pool, "r", "full", &full, NULL));
        assert_same(pool, "inc", "full", round);
    }
    assert_true(compacted > 0);
    /* the appends wrote far fewer rows (index, keys and columns per row) than the refreshes */
    assert_true(written < rows * (uint64_t)sh.rounds / 4);
    char *x;
    uint64_t nb;
    free((dump(pool, "inc", &x, &nb), x));
    assert_true(nb > (uint64_t)sh.parts); /* partitions, split as they grew */
}

static void appends_match_full_sorts(strata_pool *pool, const char *keys, int desc)
{
    appends_match(
        pool, keys, desc,
        (shape){.first = 6000, .append = 1300, .batch = BATCH_ROWS, .rounds = 15, .parts = 6});
}

/* Partitions larger than a compaction's block of rows (order.c, DIRECT_BLOCK: a block is copied
 * and written at a time, its first and last pieces cut from longer ones), by a string key. */
static void compactions_of_large_partitions(void **state)
{
    appends_match(
        ((fixture *)*state)->pool, "s,k", 0,
        (shape){.first = 100000, .append = 20000, .batch = 66000, .rounds = 8, .parts = 1});
}

static void integer_keys_with_nulls(void **state)
{
    appends_match_full_sorts(((fixture *)*state)->pool, "k", 0);
}

static void integer_keys_descending(void **state)
{
    appends_match_full_sorts(((fixture *)*state)->pool, "k", 1);
}

static void float_keys_with_nans(void **state)
{
    appends_match_full_sorts(((fixture *)*state)->pool, "f", 0);
}

/* one fixed-width key without nulls: the merge compares the keys' images */
static void small_integer_keys_without_nulls_descending(void **state)
{
    appends_match_full_sorts(((fixture *)*state)->pool, "g", 1);
}

static void string_then_integer_keys_descending(void **state)
{
    appends_match_full_sorts(((fixture *)*state)->pool, "s,k", 1);
}

/* A snapshot opened before an update that compacts reads its own version to the end. */
static void an_open_snapshot_keeps_its_rows_across_compaction(void **state)
{
    strata_pool *pool = ((fixture *)*state)->pool;
    uint64_t seed = 7;
    int64_t id = 0;
    create_src(pool);
    add_rows(pool, 5000, &seed, &id);
    derive_sort(pool, "inc", "k", 0);
    strata_update_opts o = {.batch_rows = BATCH_ROWS};
    assert_ok(pool, strata_update(pool, "r", "inc", &o, NULL));
    add_rows(pool, 300, &seed, &id);
    assert_ok(pool, strata_update(pool, "r", "inc", &o, NULL));
    char *before, *after;
    uint64_t nb;
    size_t lb = dump(pool, "inc", &before, &nb);
    strata_snapshot *s;
    assert_ok(pool, strata_snapshot_open(pool, "r", "inc", 0, &s));
    strata_update_stats st;
    add_rows(pool, 3000, &seed, &id); /* past every partition's share: all are compacted */
    assert_ok(pool, strata_update(pool, "r", "inc", &o, &st));
    assert_true(st.parts_compacted > 0);
    /* the old snapshot: every column of every batch, as it was */
    strata_dataset_desc d;
    assert_ok(pool, strata_snapshot_info(s, &d));
    assert_int_equal(d.nrows, 5300);
    int64_t *v = malloc(d.nrows * sizeof *v);
    int c;
    assert_ok(pool, strata_snapshot_column(s, "index", &c));
    assert_ok(pool, strata_snapshot_read(s, c, 0, d.nrows, v));
    strata_snapshot_close(s);
    size_t la = dump(pool, "inc", &after, &nb);
    assert_true(la > lb);
    /* the index of the old version is where the dump starts ("index\0" then a byte per row) */
    for (uint64_t i = 0; i < d.nrows; i++) assert_memory_equal(before + 6 + i * 9 + 1, &v[i], 8);
    free(v);
    free(before);
    free(after);
}

/* A top-k and a filter of a partitioned sort follow it. */
static void datasets_derived_from_a_partitioned_sort_follow_it(void **state)
{
    strata_pool *pool = ((fixture *)*state)->pool;
    uint64_t seed = 9;
    int64_t id = 0;
    create_src(pool);
    add_rows(pool, 4000, &seed, &id);
    derive_sort(pool, "inc", "k", 0);
    derive_sort(pool, "full", "k", 0);
    strata_derive_spec f = {.op = "filter", .expr = "v % 3 == 0"};
    assert_ok(pool, strata_derive(pool, "r", "incf", "r", "inc", &f));
    assert_ok(pool, strata_derive(pool, "r", "fullf", "r", "full", &f));
    strata_column_spec g = {
        .op = "gather", .src_region = "r", .src_name = "inc", .src_column = "v"};
    assert_ok(pool, strata_column_derive(pool, "r", "incf", "v", &g));
    g.src_name = "full";
    assert_ok(pool, strata_column_derive(pool, "r", "fullf", "v", &g));
    strata_update_opts o = {.batch_rows = BATCH_ROWS};
    strata_update_opts full = {.batch_rows = BATCH_ROWS, .full = 1};
    for (int round = 0; round < 12; round++) {
        add_rows(pool, 100 + rnd(&seed) % 400, &seed, &id);
        assert_ok(pool, strata_update(pool, "r", "incf", &o, NULL));
        assert_ok(pool, strata_update(pool, "r", "fullf", &full, NULL));
        assert_same(pool, "inc", "full", round);
        assert_same(pool, "incf", "fullf", round);
    }
}

/* New rows that do not fit the budget: the partitions and the new rows merged whole. */
static void an_update_under_a_small_budget_merges_the_partitions(void **state)
{
    strata_pool *pool = ((fixture *)*state)->pool;
    uint64_t seed = 11;
    int64_t id = 0;
    create_src(pool);
    add_rows(pool, 3000, &seed, &id);
    derive_sort(pool, "inc", "s,k", 0);
    derive_sort(pool, "full", "s,k", 0);
    strata_update_opts o = {.batch_rows = BATCH_ROWS};
    assert_ok(pool, strata_update(pool, "r", "inc", &o, NULL));
    add_rows(pool, 200, &seed, &id);
    assert_ok(pool, strata_update(pool, "r", "inc", &o, NULL)); /* deltas */
    add_rows(pool, 60000, &seed, &id);
    strata_update_opts small = {.batch_rows = BATCH_ROWS, .mem = 1 << 20};
    strata_update_stats st;
    assert_ok(pool, strata_update(pool, "r", "inc", &small, &st));
    assert_true(st.runs_spilled > 1);
    strata_update_opts full = {.batch_rows = BATCH_ROWS, .full = 1};
    assert_ok(pool, strata_update(pool, "r", "full", &full, NULL));
    assert_same(pool, "inc", "full", 0);
    add_rows(pool, 300, &seed, &id); /* and deltas again after it */
    assert_ok(pool, strata_update(pool, "r", "inc", &o, &st));
    assert_int_equal(st.rows_written, 300);
    assert_ok(pool, strata_update(pool, "r", "full", &full, NULL));
    assert_same(pool, "inc", "full", 1);
}

/* ---- st_merge_order alone: the same order on any number of threads ------------------------- */

typedef struct mrow {
    int64_t key;
    int valid;
    uint32_t run;
    uint64_t pos;
} mrow;

static int merge_desc; /* the order mrow_cmp sorts by */

/* By key (a null after every value, both ways), then run, then position: the merge's order. */
static int mrow_cmp(const void *a, const void *b)
{
    const mrow *x = a, *y = b;
    if (x->valid != y->valid) return x->valid ? -1 : 1;
    if (x->valid && x->key != y->key) return (x->key < y->key) != merge_desc ? -1 : 1;
    if (x->run != y->run) return x->run < y->run ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* NR runs (run 0 of N0 rows, the others small), keys in [0, RANGE), sorted (DESC), with nulls
 * (last) when NULLS: st_merge_order on 1 to 4 threads against a sort of every row. */
static void check_merge(uint32_t nr, uint64_t n0, int64_t range, int desc, int nulls,
                        uint64_t *seed)
{
    uint64_t *n = calloc(nr, sizeof *n), total = 0;
    int64_t **k = calloc(nr, sizeof *k);
    uint8_t **v = calloc(nr, sizeof *v);
    st_pcol *keys = calloc(nr, sizeof *keys);
    for (uint32_t r = 0; r < nr; r++) {
        n[r] = r == 0 ? n0 : rnd(seed) % 3000;
        k[r] = malloc((n[r] + 1) * sizeof **k);
        v[r] = calloc(n[r] / 8 + 1, 1);
        uint64_t nv = nulls ? n[r] - n[r] / 10 : n[r];
        for (uint64_t i = 0; i < n[r]; i++) k[r][i] = (int64_t)(rnd(seed) % (uint64_t)range);
        qsort(k[r], nv, sizeof **k, i64_cmp);
        for (uint64_t i = 0; desc && i < nv / 2; i++) {
            int64_t t = k[r][i];
            k[r][i] = k[r][nv - 1 - i];
            k[r][nv - 1 - i] = t;
        }
        for (uint64_t i = 0; i < nv; i++) v[r][i / 8] |= (uint8_t)(1u << (i % 8));
        keys[r] = (st_pcol){k[r], NULL, nulls ? v[r] : NULL};
        total += n[r];
    }
    mrow *want = malloc((total + 1) * sizeof *want);
    uint64_t at = 0;
    for (uint32_t r = 0; r < nr; r++)
        for (uint64_t i = 0; i < n[r]; i++)
            want[at++] = (mrow){k[r][i], !nulls || (v[r][i / 8] >> (i % 8) & 1), r, i};
    merge_desc = desc;
    qsort(want, total, sizeof *want, mrow_cmp);
    strata_dtype dt = STRATA_I64;
    for (int nt = 1; nt <= 4; nt++) {
        st_pseg *seg = NULL;
        size_t nseg = 0;
        assert_int_equal(st_merge_order(&dt, 1, desc, keys, n, nr, nt, &seg, &nseg), STRATA_OK);
        at = 0;
        for (size_t g = 0; g < nseg; g++)
            for (uint64_t i = 0; i < seg[g].len; i++, at++) {
                assert_true(at < total);
                assert_int_equal(seg[g].run, want[at].run);
                assert_int_equal(seg[g].from + i, want[at].pos);
            }
        assert_int_equal(at, total);
        free(seg);
    }
    for (uint32_t r = 0; r < nr; r++) {
        free(k[r]);
        free(v[r]);
    }
    free(k);
    free(v);
    free(n);
    free(keys);
    free(want);
}

static void merge_order_is_the_same_on_any_threads(void **state)
{
    (void)state;
    uint64_t seed = 7;
    /* run 0 past the split (65 536 rows): by images, and by rows (nulls); many ties, few, none */
    for (int desc = 0; desc < 2; desc++)
        for (int nulls = 0; nulls < 2; nulls++) {
            check_merge(40, 100000, 50, desc, nulls, &seed);
            check_merge(5, 70000, 1 << 30, desc, nulls, &seed);
            check_merge(3, 66000, 1, desc, nulls, &seed); /* every key equal */
            check_merge(1, 80000, 1000, desc, nulls, &seed);
            check_merge(2, 1000, 100, desc, nulls, &seed); /* too small to split */
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_order_is_the_same_on_any_threads),
        cmocka_unit_test_setup_teardown(integer_keys_with_nulls, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(integer_keys_descending, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(float_keys_with_nans, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(compactions_of_large_partitions, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(small_integer_keys_without_nulls_descending, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(string_then_integer_keys_descending, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(an_open_snapshot_keeps_its_rows_across_compaction,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(datasets_derived_from_a_partitioned_sort_follow_it,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_update_under_a_small_budget_merges_the_partitions,
                                        fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
