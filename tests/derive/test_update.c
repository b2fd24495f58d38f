/* The update engine (src/derive/update.c, order.c) piece by piece, on small in-memory datasets
 * written through the public API: which objects an update touches (scope), in which order, the
 * merge of order-destroying datasets against a recomputation, resuming after an update that
 * stopped, and automatic update. The objects an update works on are observed through its
 * progress events; results are checked value by value with strata_snapshot_read(). */
#include <math.h>

#include "derive/update_int.h"
#include "test_util.h"

/* ---- data --------------------------------------------------------------------------------- */

/* A base dataset NAME of REGION with columns a and g (i64). */
static void create_src(strata_pool *pool, const char *region, const char *name)
{
    strata_column cols[] = {{"a", STRATA_I64}, {"g", STRATA_I64}};
    assert_ok(pool, strata_dataset_create(pool, region, name, cols, 2));
}

/* Publish one batch of N rows. */
static void add_batch(strata_pool *pool, const char *region, const char *name, const int64_t *a,
                      const int64_t *g, uint64_t n)
{
    strata_dataset *ds;
    strata_batch *b;
    assert_ok(pool, strata_dataset_open(pool, region, name, &ds));
    assert_ok(pool, strata_batch_begin(ds, &b));
    assert_ok(pool, strata_batch_append(b, 0, a, n));
    assert_ok(pool, strata_batch_append(b, 1, g, n));
    assert_ok(pool, strata_batch_commit(b));
    assert_ok(pool, strata_publish(ds, NULL));
    strata_dataset_close(ds);
}

static void derive_filter(strata_pool *pool, const char *name, const char *src, const char *expr)
{
    strata_derive_spec sp = {.op = "filter", .expr = expr};
    assert_ok(pool, strata_derive(pool, "r", name, "r", src, &sp));
}

static void column_gather(strata_pool *pool, const char *name, const char *column, const char *src)
{
    strata_column_spec sp = {
        .op = "gather", .src_region = "r", .src_name = src, .src_column = column};
    assert_ok(pool, strata_column_derive(pool, "r", name, column, &sp));
}

/* Column COL of REGION/NAME (8-byte values) at its latest version: *N values, malloc'ed. */
static int64_t *read_col(strata_pool *pool, const char *region, const char *name, const char *col,
                         uint64_t *n)
{
    strata_snapshot *s;
    strata_dataset_desc d;
    int c;
    assert_ok(pool, strata_snapshot_open(pool, region, name, 0, &s));
    assert_ok(pool, strata_snapshot_info(s, &d));
    assert_ok(pool, strata_snapshot_column(s, col, &c));
    *n = d.nrows;
    int64_t *v = calloc(d.nrows + 1, sizeof *v);
    if (d.nrows > 0) assert_ok(pool, strata_snapshot_read(s, c, 0, d.nrows, v));
    strata_snapshot_close(s);
    return v;
}

/* Column COL of r/NAME holds exactly WANT[N]. */
static void assert_col(strata_pool *pool, const char *name, const char *col, const int64_t *want,
                       uint64_t n)
{
    uint64_t got_n;
    int64_t *got = read_col(pool, "r", name, col, &got_n);
    if (got_n != n)
        fail_msg("r/%s.%s has %llu rows, expected %llu", name, col, (unsigned long long)got_n,
                 (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("r/%s.%s row %llu is %lld, expected %lld", name, col, (unsigned long long)i,
                     (long long)got[i], (long long)want[i]);
    free(got);
}

/* Columns COL of r/A and r/B hold the same values. */
static void assert_same_col(strata_pool *pool, const char *a, const char *b, const char *col)
{
    uint64_t na, nb;
    int64_t *va = read_col(pool, "r", a, col, &na);
    int64_t *vb = read_col(pool, "r", b, col, &nb);
    if (na != nb)
        fail_msg("r/%s.%s has %llu rows, r/%s.%s %llu", a, col, (unsigned long long)na, b, col,
                 (unsigned long long)nb);
    for (uint64_t i = 0; i < na; i++)
        if (va[i] != vb[i])
            fail_msg("row %llu of %s: r/%s has %lld, r/%s %lld", (unsigned long long)i, col, a,
                     (long long)va[i], b, (long long)vb[i]);
    free(va);
    free(vb);
}

/* ---- what an update does ------------------------------------------------------------------ */

/* The objects an update worked on, in order ("r/f1.index r/f1.a ..."); it stops (returns 1)
 * when object STOP_AT reports STOP_DONE source batches done. */
typedef struct trace {
    char seen[1024];
    char last[96];
    const char *stop_at;
    uint64_t stop_done;
} trace;

static int record(void *ctx, const strata_update_event *ev)
{
    trace *t = ctx;
    char item[96];
    snprintf(item, sizeof item, "%s/%s.%s", ev->region, ev->name, ev->object);
    if (strcmp(item, t->last) != 0) {
        size_t k = strlen(t->seen);
        snprintf(t->seen + k, sizeof t->seen - k, "%s%s", k ? " " : "", item);
        snprintf(t->last, sizeof t->last, "%s", item);
    }
    return t->stop_at != NULL && strcmp(item, t->stop_at) == 0 && ev->done >= t->stop_done;
}

/* Update REGION/NAME (NULLs as strata_update takes them), recording the objects in T. */
static int update(strata_pool *pool, const char *region, const char *name, trace *t, int auto_only,
                  strata_update_stats *st)
{
    memset(t->seen, 0, sizeof t->seen);
    t->last[0] = '\0';
    strata_update_opts o = {.auto_only = auto_only, .progress = record, .progress_ctx = t};
    return strata_update(pool, region, name, &o, st);
}

/* What strata_lineage() says of the index of REGION/NAME (or of its column COLUMN). */
typedef struct lin {
    const char *region, *name, *column;
    int found;
    strata_lineage_info info;
} lin;

static int find_lineage(void *ctx, const strata_lineage_info *li)
{
    lin *l = ctx;
    if (strcmp(li->region, l->region) != 0 || strcmp(li->name, l->name) != 0) return 0;
    if ((li->column == NULL) != (l->column == NULL)) return 0;
    if (li->column != NULL && strcmp(li->column, l->column) != 0) return 0;
    l->info = *li;
    l->found = 1;
    return 0;
}

static strata_lineage_info lineage_of(strata_pool *pool, const char *region, const char *name,
                                      const char *column)
{
    lin l = {.region = region, .name = name, .column = column};
    assert_ok(pool, strata_lineage(pool, region, name, find_lineage, &l));
    if (!l.found)
        fail_msg("no lineage entry for %s/%s%s%s", region, name, column ? "." : "",
                 column ? column : "");
    return l.info;
}

static uint64_t consumed_of(strata_pool *pool, const char *region, const char *name)
{
    return lineage_of(pool, region, name, NULL).consumed;
}

/* ---- scope -------------------------------------------------------------------------------- */

/* r: src -> f1 (filter a > 0, with a gathered) -> f2 (filter a > 2); s: t -> h (filter). */
static void two_regions(fixture *f)
{
    strata_pool *p = f->pool;
    assert_ok(p, strata_region_create(p, "s"));
    create_src(p, "r", "src");
    create_src(p, "s", "t");
    int64_t a[] = {1, -2, 3, 4}, g[] = {0, 0, 0, 0};
    add_batch(p, "r", "src", a, g, 4);
    add_batch(p, "s", "t", a, g, 4);
    derive_filter(p, "f1", "src", "a > 0");
    column_gather(p, "f1", "a", "src");
    derive_filter(p, "f2", "f1", "a > 2");
    strata_derive_spec sp = {.op = "filter", .expr = "a > 0"};
    assert_ok(p, strata_derive(p, "s", "h", "s", "t", &sp));
}

static void an_update_of_a_derived_dataset_brings_its_ancestors_first_and_nothing_else(void **state)
{
    fixture *f = *state;
    two_regions(f);
    trace t = {0};
    assert_ok(f->pool, update(f->pool, "r", "f2", &t, 0, NULL));
    assert_string_equal(t.seen, "r/f1.index r/f1.a r/f2.index");
    assert_int_equal(consumed_of(f->pool, "s", "h"), 0);
    int64_t f1_index[] = {0, 2, 3}, f1_a[] = {1, 3, 4}, f2_index[] = {1, 2};
    assert_col(f->pool, "f1", "index", f1_index, 3);
    assert_col(f->pool, "f1", "a", f1_a, 3);
    assert_col(f->pool, "f2", "index", f2_index, 2);
}

static void an_update_of_a_base_dataset_brings_its_descendants(void **state)
{
    fixture *f = *state;
    two_regions(f);
    trace t = {0};
    assert_ok(f->pool, update(f->pool, "r", "src", &t, 0, NULL));
    assert_string_equal(t.seen, "r/f1.index r/f1.a r/f2.index");
    assert_int_equal(consumed_of(f->pool, "s", "h"), 0);
}

static void an_update_of_a_region_touches_only_that_region(void **state)
{
    fixture *f = *state;
    two_regions(f);
    trace t = {0};
    assert_ok(f->pool, update(f->pool, "s", NULL, &t, 0, NULL));
    assert_string_equal(t.seen, "s/h.index");
    assert_int_equal(consumed_of(f->pool, "r", "f1"), 0);
    assert_int_equal(consumed_of(f->pool, "r", "f2"), 0);
}

static void an_update_of_the_pool_touches_everything_oldest_first(void **state)
{
    fixture *f = *state;
    two_regions(f);
    trace t = {0};
    strata_update_stats st;
    assert_ok(f->pool, update(f->pool, NULL, NULL, &t, 0, &st));
    assert_string_equal(t.seen, "r/f1.index r/f1.a r/f2.index s/h.index");
    assert_int_equal(st.fresh, 0);
    /* a second update has nothing to do */
    assert_ok(f->pool, update(f->pool, NULL, NULL, &t, 0, &st));
    assert_string_equal(t.seen, "");
    assert_int_equal(st.fresh, 4);
    assert_int_equal(st.incremental + st.refreshed, 0);
    assert_int_equal(st.rows_written, 0);
}

/* ---- order -------------------------------------------------------------------------------- */

/* X (filter of src, with a gathered), Y (global top 2 of X by a), then X.top scattered from Y:
 * X's last object depends on Y, which depends on X's index: X, Y, X again. */
static void an_object_waits_for_the_dataset_it_reads(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a[] = {5, -1, 7, 2, 9}, g[] = {0, 0, 0, 0, 0};
    add_batch(p, "r", "src", a, g, 5);
    derive_filter(p, "X", "src", "a > 0");
    column_gather(p, "X", "a", "src");
    strata_derive_spec top = {.op = "topk", .keys = "a", .k = 2, .desc = 1, .global = 1};
    assert_ok(p, strata_derive(p, "r", "Y", "r", "X", &top));
    strata_column_spec sc = {.op = "scatter",
                             .src_region = "r",
                             .src_name = "Y",
                             .src_column = "a",
                             .default_value = "0"};
    assert_ok(p, strata_column_derive(p, "r", "X", "top", &sc));
    trace t = {0};
    assert_ok(p, update(p, "r", "X", &t, 0, NULL));
    assert_string_equal(t.seen, "r/X.index r/X.a r/Y.index r/X.top");
    int64_t x_a[] = {5, 7, 2, 9}, x_top[] = {0, 7, 0, 9}, y_a[] = {9, 7};
    assert_col(p, "X", "a", x_a, 4);
    assert_col(p, "Y", "a", y_a, 2);
    assert_col(p, "X", "top", x_top, 4);
    /* a new batch: the same order again, and the scatter sees Y's new top 2 */
    int64_t a2[] = {8, -3}, g2[] = {0, 0};
    add_batch(p, "r", "src", a2, g2, 2);
    assert_ok(p, update(p, "r", NULL, &t, 0, NULL));
    assert_string_equal(t.seen, "r/X.index r/X.a r/Y.index r/X.top");
    int64_t x_top2[] = {0, 0, 0, 9, 8}, y_a2[] = {9, 8};
    assert_col(p, "Y", "a", y_a2, 2);
    assert_col(p, "X", "top", x_top2, 5);
}

/* ---- merge -------------------------------------------------------------------------------- */

static void sorts_and_groupbys_merged_batch_by_batch_equal_a_recomputation(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a1[] = {3, 1}, g1[] = {1, 2}, a2[] = {2, 1}, g2[] = {1, 2}, a3[] = {2, 0, 3},
            g3[] = {2, 1, 1};
    add_batch(p, "r", "src", a1, g1, 2);
    strata_derive_spec sort = {.op = "sort", .keys = "a"};
    strata_derive_spec gb = {.op = "groupby", .keys = "g", .aggs = "sum:a,count,min:a"};
    assert_ok(p, strata_derive(p, "r", "s", "r", "src", &sort));
    assert_ok(p, strata_derive(p, "r", "gb", "r", "src", &gb));
    trace t = {0};
    strata_update_stats st;
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    add_batch(p, "r", "src", a2, g2, 2);
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    assert_int_equal(st.refreshed, 2);
    add_batch(p, "r", "src", a3, g3, 3);
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    assert_int_equal(st.refreshed, 2);
    assert_int_equal(st.batches_read, 2); /* only the new batch, for each */

    /* rows 0..6 have a = 3 1 2 1 2 0 3: a stable sort keeps equal keys in row order */
    int64_t s_index[] = {5, 1, 3, 2, 4, 0, 6}, s_a[] = {0, 1, 1, 2, 2, 3, 3};
    assert_col(p, "s", "index", s_index, 7);
    assert_col(p, "s", "a", s_a, 7);

    /* g = 1: rows 0 2 5 6 (a 3 2 0 3); g = 2: rows 1 3 4 (a 1 1 2); index: the first row */
    uint64_t n;
    int64_t *key = read_col(p, "r", "gb", "g", &n);
    assert_int_equal(n, 2);
    int at1 = key[0] == 1 ? 0 : 1;
    free(key);
    int64_t want_index[2], want_count[2], want_sum[2], want_min[2];
    want_index[at1] = 0, want_count[at1] = 4, want_sum[at1] = 8, want_min[at1] = 0;
    want_index[1 - at1] = 1, want_count[1 - at1] = 3, want_sum[1 - at1] = 4, want_min[1 - at1] = 1;
    assert_col(p, "gb", "index", want_index, 2);
    assert_col(p, "gb", "count", want_count, 2);
    assert_col(p, "gb", "sum_a", want_sum, 2);
    assert_col(p, "gb", "min_a", want_min, 2);

    /* the same definitions computed in one go */
    assert_ok(p, strata_derive(p, "r", "s_once", "r", "src", &sort));
    assert_ok(p, strata_derive(p, "r", "gb_once", "r", "src", &gb));
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    assert_string_equal(t.seen, "r/s_once.index r/gb_once.index");
    assert_same_col(p, "s", "s_once", "index");
    assert_same_col(p, "s", "s_once", "a");
    const char *gcols[] = {"index", "g", "count", "sum_a", "min_a"};
    for (int c = 0; c < 5; c++) assert_same_col(p, "gb", "gb_once", gcols[c]);
}

static void a_full_update_gives_the_bytes_of_the_incremental_one(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a1[] = {4, 4, 1}, g1[] = {3, 1, 3}, a2[] = {4, 2}, g2[] = {1, 3};
    add_batch(p, "r", "src", a1, g1, 3);
    strata_derive_spec sort = {.op = "sort", .keys = "a", .desc = 1};
    assert_ok(p, strata_derive(p, "r", "s", "r", "src", &sort));
    assert_ok(p, strata_update(p, "r", NULL, NULL, NULL));
    add_batch(p, "r", "src", a2, g2, 2);
    assert_ok(p, strata_update(p, "r", NULL, NULL, NULL));
    uint64_t n1, n2;
    int64_t *inc = read_col(p, "r", "s", "index", &n1);
    strata_update_opts full = {.full = 1};
    strata_update_stats st;
    assert_ok(p, strata_update(p, "r", "s", &full, &st));
    assert_int_equal(st.refreshed, 1);
    int64_t *rec = read_col(p, "r", "s", "index", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(inc, rec, n1 * sizeof *inc);
    /* descending, ties in row order: a = 4 4 1 4 2 */
    int64_t want[] = {0, 1, 3, 4, 2};
    assert_col(p, "s", "index", want, 5);
    free(inc);
    free(rec);
}

/* Objects computed again over 1 Mi rows or more run on the job's threads (fewer rows: on one,
 * st_upd_threads()): group-bys of 40 000 groups -- keys over a small range (the dense fold) and
 * spread over 2^35 (the partitioned fold), with float sums, their output columns written on two
 * threads -- a filter, a gathered column and an expression over it, updated in full on two
 * threads and on one, give the same bytes. */
static void objects_over_many_rows_give_the_bytes_of_one_thread_on_two(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    enum { HALF = (1 << 19) + 2048, GROUPS = 40000, NC = 12 };
    assert_true(2 * (uint64_t)HALF >= ST_UPD_ONE_THREAD); /* (else one thread either way) */
    strata_column sc[] = {
        {"a", STRATA_I64}, {"g", STRATA_I64}, {"w", STRATA_I64}, {"x", STRATA_F64}};
    assert_ok(p, strata_dataset_create(p, "r", "big", sc, 4));
    int64_t *a = malloc(HALF * sizeof *a), *g = malloc(HALF * sizeof *g);
    int64_t *w = malloc(HALF * sizeof *w);
    double *x = malloc(HALF * sizeof *x);
    strata_dataset *ds;
    assert_ok(p, strata_dataset_open(p, "r", "big", &ds));
    for (int b = 0; b < 2; b++) {
        for (uint64_t i = 0; i < HALF; i++) {
            uint64_t r = i + (uint64_t)b * HALF;
            a[i] = (int64_t)(r * 2654435761u % 1000003u) - 500000;
            g[i] = (int64_t)(r * 7919u % GROUPS);
            w[i] = g[i] * 858993459 + 17; /* (spread wide: hashed, not indexed) */
            x[i] = (double)a[i] / 7.0 * (r % 5 == 0 ? 1e6 : 1.0);
        }
        strata_batch *bt;
        assert_ok(p, strata_batch_begin(ds, &bt));
        assert_ok(p, strata_batch_append(bt, 0, a, HALF));
        assert_ok(p, strata_batch_append(bt, 1, g, HALF));
        assert_ok(p, strata_batch_append(bt, 2, w, HALF));
        assert_ok(p, strata_batch_append(bt, 3, x, HALF));
        assert_ok(p, strata_batch_commit(bt));
    }
    assert_ok(p, strata_publish(ds, NULL));
    strata_dataset_close(ds);
    free(a);
    free(g);
    free(w);
    free(x);
    strata_derive_spec gb = {.op = "groupby", .keys = "g", .aggs = "count,sum:a,min:a,sum:x"};
    strata_derive_spec gw = {.op = "groupby", .keys = "w", .aggs = "count,sum:x,mean:x"};
    assert_ok(p, strata_derive(p, "r", "bg", "r", "big", &gb));
    assert_ok(p, strata_derive(p, "r", "bw", "r", "big", &gw));
    derive_filter(p, "bf", "big", "a < 0");
    column_gather(p, "bf", "x", "big");
    strata_column_spec e = {.op = "expr", .expr = "x * 3 + 1"};
    assert_ok(p, strata_column_derive(p, "r", "bf", "y", &e));
    static const char *const cols[NC][2] = {{"bg", "g"},     {"bg", "count"}, {"bg", "sum_a"},
                                            {"bg", "min_a"}, {"bg", "sum_x"}, {"bw", "w"},
                                            {"bw", "count"}, {"bw", "sum_x"}, {"bw", "mean_x"},
                                            {"bf", "index"}, {"bf", "x"},     {"bf", "y"}};
    int64_t *one[NC]; /* (8-byte values: floats compared by their bits) */
    uint64_t n1[NC];
    for (int nt = 1; nt <= 2; nt++) {
        strata_update_opts o = {.full = 1, .nthreads = nt};
        assert_ok(p, strata_update(p, "r", NULL, &o, NULL));
        for (int c = 0; c < NC; c++) {
            uint64_t n;
            int64_t *v = read_col(p, "r", cols[c][0], cols[c][1], &n);
            if (nt == 1) {
                one[c] = v;
                n1[c] = n;
                continue;
            }
            if (n != n1[c] || memcmp(v, one[c], n * sizeof *v) != 0)
                fail_msg("r/%s.%s differs between one thread and two", cols[c][0], cols[c][1]);
            free(v);
            free(one[c]);
        }
    }
    assert_int_equal(n1[0], GROUPS);
    assert_int_equal(n1[5], GROUPS);
    assert_true(n1[9] > HALF / 2 && n1[9] < 3 * (uint64_t)HALF / 2);
}

/* Publish one batch of N rows of (k f64, s str, v f64); S is "a|b|c". */
static void add_fsv(strata_pool *pool, const double *k, const char *s, const double *v, uint64_t n)
{
    strata_dataset *ds;
    strata_batch *b;
    int64_t off[16] = {0};
    char bytes[128];
    uint64_t i = 0, len = 0;
    for (const char *c = s; i < n; c++) {
        if (*c == '|' || *c == '\0') {
            off[++i] = (int64_t)len;
            continue;
        }
        bytes[len++] = *c;
    }
    assert_ok(pool, strata_dataset_open(pool, "r", "fsv", &ds));
    assert_ok(pool, strata_batch_begin(ds, &b));
    assert_ok(pool, strata_batch_append(b, 0, k, n));
    assert_ok(pool, strata_batch_append_str(b, 1, off, bytes, n));
    assert_ok(pool, strata_batch_append(b, 2, v, n));
    assert_ok(pool, strata_batch_commit(b));
    assert_ok(pool, strata_publish(ds, NULL));
    strata_dataset_close(ds);
}

/* String column COL of r/NAME (one batch) as "a|b|c". */
static void assert_strs(strata_pool *pool, const char *name, const char *col, const char *want)
{
    strata_snapshot *s;
    const int64_t *off;
    const char *bytes;
    int c;
    char got[256] = "";
    size_t len = 0;
    assert_ok(pool, strata_snapshot_open(pool, "r", name, 0, &s));
    assert_ok(pool, strata_snapshot_column(s, col, &c));
    assert_ok(pool, strata_snapshot_map_str(s, 0, c, &off, &bytes));
    strata_dataset_desc d;
    assert_ok(pool, strata_snapshot_info(s, &d));
    for (uint64_t i = 0; i < d.nrows; i++)
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%.*s", i ? "|" : "",
                                (int)(off[i + 1] - off[i]), bytes + off[i]);
    strata_snapshot_close(s);
    assert_string_equal(got, want);
}

static void groupbys_on_float_and_string_keys_merge_like_a_full_update(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    strata_column cols[] = {{"k", STRATA_F64}, {"s", STRATA_STR}, {"v", STRATA_F64}};
    assert_ok(p, strata_dataset_create(p, "r", "fsv", cols, 3));
    double k1[] = {2, NAN, -0.0}, v1[] = {0.1, 0.2, 0.3};
    double k2[] = {0.0, -1.5, -NAN, 2}, v2[] = {1.5, 2.5, -0.7, 1e10};
    double k3[] = {-1.5, 0.0}, v3[] = {3.25, 0.1};
    strata_derive_spec gs = {
        .op = "groupby", .keys = "s,k", .aggs = "count,sum:v,var:v,std:v,max:s,first:v,last:v"};
    strata_derive_spec gk = {.op = "groupby", .keys = "k", .aggs = "count,median:v,max:s"};
    add_fsv(p, k1, "b|a|b", v1, 3);
    assert_ok(p, strata_derive(p, "r", "gs", "r", "fsv", &gs));
    assert_ok(p, strata_derive(p, "r", "gk", "r", "fsv", &gk));
    strata_update_stats st;
    assert_ok(p, strata_update(p, "r", NULL, NULL, NULL));
    add_fsv(p, k2, "ab|b|a|", v2, 4);
    assert_ok(p, strata_update(p, "r", NULL, NULL, NULL));
    add_fsv(p, k3, "b|b", v3, 2);
    assert_ok(p, strata_update(p, "r", NULL, NULL, &st));
    assert_int_equal(st.batches_read, 1 + 3); /* gs merges the new batch; gk's median rereads */
    /* (s, k) ascending, NaN last: ("",2) (a,NaN)x2 (ab,0) (b,-1.5)x2 (b,0)x2 (b,2) */
    assert_strs(p, "gs", "s", "|a|ab|b|b|b");
    assert_strs(p, "gs", "max_s", "|a|ab|b|b|b");
    int64_t cnt[] = {1, 2, 1, 2, 2, 1};
    assert_col(p, "gs", "count", cnt, 6);
    assert_strs(p, "gk", "max_s", "b|b|b|a");
    int64_t kcnt[] = {2, 3, 2, 2}; /* -1.5, 0 (-0.0 and 0.0), 2, NaN */
    assert_col(p, "gk", "count", kcnt, 4);
    uint64_t n;
    int64_t *med = read_col(p, "r", "gk", "median_v", &n);
    double m[4];
    memcpy(m, med, sizeof m);
    free(med);
    assert_true(m[0] == (2.5 + 3.25) / 2 && m[1] == 0.3 && m[2] == (0.1 + 1e10) / 2);
    /* --full gives the same bytes */
    const char *gcols[] = {"index", "k",     "count", "sum_v",   "wmean_v",
                           "m2_v",  "var_v", "std_v", "first_v", "last_v"};
    int64_t *before[10];
    for (int c = 0; c < 10; c++) before[c] = read_col(p, "r", "gs", gcols[c], &n);
    strata_update_opts full = {.full = 1};
    assert_ok(p, strata_update(p, "r", NULL, &full, NULL));
    for (int c = 0; c < 10; c++) {
        uint64_t n2;
        int64_t *after = read_col(p, "r", "gs", gcols[c], &n2);
        assert_int_equal(n2, n);
        assert_memory_equal(before[c], after, n * 8);
        free(after);
        free(before[c]);
    }
    assert_strs(p, "gs", "s", "|a|ab|b|b|b");
}

/* ---- resume ------------------------------------------------------------------------------- */

/* src (3 batches) -> f (filter, with a gathered) and s (sort). */
static void three_batches_two_children(strata_pool *p, const char *fname, const char *sname)
{
    derive_filter(p, fname, "src", "a > 1");
    column_gather(p, fname, "a", "src");
    strata_derive_spec sort = {.op = "sort", .keys = "a"};
    assert_ok(p, strata_derive(p, "r", sname, "r", "src", &sort));
}

static void
an_update_stopped_midway_publishes_nothing_of_that_dataset_and_a_rerun_completes_it(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a1[] = {2, 0, 5}, a2[] = {1, 7}, a3[] = {6, 3, 2}, g[] = {0, 0, 0};
    add_batch(p, "r", "src", a1, g, 3);
    add_batch(p, "r", "src", a2, g, 2);
    add_batch(p, "r", "src", a3, g, 3);
    three_batches_two_children(p, "f", "s");

    /* stopped in the middle of f's index (after 2 of 3 batches): nothing of f is published */
    trace t = {.stop_at = "r/f.index", .stop_done = 2};
    assert_status(p, update(p, "r", NULL, &t, 0, NULL), STRATA_ECONFLICT);
    assert_errmsg_has(p, "update cancelled");
    assert_int_equal(consumed_of(p, "r", "f"), 0);
    assert_int_equal(consumed_of(p, "r", "s"), 0);

    /* stopped at s: f's group is published with its marks, s's is not */
    t = (trace){.stop_at = "r/s.index", .stop_done = 0};
    assert_status(p, update(p, "r", NULL, &t, 0, NULL), STRATA_ECONFLICT);
    assert_string_equal(t.seen, "r/f.index r/f.a r/s.index");
    assert_int_equal(consumed_of(p, "r", "f"), 3);
    assert_true(lineage_of(p, "r", "f", NULL).fresh);
    assert_true(lineage_of(p, "r", "f", "a").fresh);
    assert_int_equal(consumed_of(p, "r", "s"), 0);
    assert_false(lineage_of(p, "r", "s", NULL).fresh);

    /* the rerun does only what is left */
    t = (trace){0};
    strata_update_stats st;
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    assert_string_equal(t.seen, "r/s.index");
    assert_int_equal(st.fresh, 2);
    assert_int_equal(consumed_of(p, "r", "s"), 3);
    assert_true(lineage_of(p, "r", "s", NULL).fresh);

    /* and leaves what an uninterrupted update leaves */
    three_batches_two_children(p, "f_once", "s_once");
    assert_ok(p, update(p, "r", NULL, &t, 0, &st));
    assert_string_equal(t.seen, "r/f_once.index r/f_once.a r/s_once.index");
    assert_same_col(p, "f", "f_once", "index");
    assert_same_col(p, "f", "f_once", "a");
    assert_same_col(p, "s", "s_once", "index");
    assert_same_col(p, "s", "s_once", "a");
    int64_t f_a[] = {2, 5, 7, 6, 3, 2};
    assert_col(p, "f", "a", f_a, 6);
}

static void consumed_marks_follow_the_source_batches(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a[] = {1, 2}, g[] = {0, 0};
    add_batch(p, "r", "src", a, g, 2);
    derive_filter(p, "f", "src", "a > 1");
    strata_lineage_info li = lineage_of(p, "r", "f", NULL);
    assert_int_equal(li.consumed, 0);
    assert_int_equal(li.source_batches, 1);
    assert_false(li.fresh);
    trace t = {0};
    strata_update_stats st;
    assert_ok(p, update(p, "r", "f", &t, 0, &st));
    assert_int_equal(consumed_of(p, "r", "f"), 1);
    add_batch(p, "r", "src", a, g, 2);
    add_batch(p, "r", "src", a, g, 2);
    li = lineage_of(p, "r", "f", NULL);
    assert_int_equal(li.consumed, 1);
    assert_int_equal(li.source_batches, 3);
    assert_false(li.fresh);
    /* an order-preserving index reads only the batches after its mark */
    assert_ok(p, update(p, "r", "f", &t, 0, &st));
    assert_int_equal(st.incremental, 1);
    assert_int_equal(st.batches_read, 2);
    assert_int_equal(st.batches_written, 2);
    li = lineage_of(p, "r", "f", NULL);
    assert_int_equal(li.consumed, 3);
    assert_true(li.fresh);
    int64_t want[] = {1, 3, 5};
    assert_col(p, "f", "index", want, 3);
}

/* ---- automatic update --------------------------------------------------------------------- */

static void an_auto_only_update_touches_only_registered_objects_and_their_ancestors(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a[] = {-1, 2, 3}, g[] = {0, 0, 0};
    add_batch(p, "r", "src", a, g, 3);
    derive_filter(p, "c1", "src", "a > 0");
    column_gather(p, "c1", "a", "src");
    derive_filter(p, "c2", "c1", "a > 2");
    derive_filter(p, "d", "src", "a < 0");
    /* a base dataset cannot be registered */
    assert_status(p, strata_auto(p, "r", "src", 1), STRATA_EINVAL);
    assert_errmsg_has(p, "is not derived");
    assert_ok(p, strata_auto(p, "r", "c2", 1));
    assert_true(lineage_of(p, "r", "c1", NULL).auto_update);
    assert_true(lineage_of(p, "r", "c1", "a").auto_update);
    assert_true(lineage_of(p, "r", "c2", NULL).auto_update);
    assert_false(lineage_of(p, "r", "d", NULL).auto_update);

    trace t = {0};
    assert_ok(p, update(p, NULL, NULL, &t, 1, NULL));
    assert_string_equal(t.seen, "r/c1.index r/c1.a r/c2.index");
    assert_int_equal(consumed_of(p, "r", "d"), 0);
    int64_t c2[] = {1};
    assert_col(p, "c2", "index", c2, 1);

    /* unregistered again: an auto-only update does nothing; a plain one does d */
    assert_ok(p, strata_auto(p, "r", "c2", 0));
    add_batch(p, "r", "src", a, g, 3);
    assert_ok(p, update(p, NULL, NULL, &t, 1, NULL));
    assert_string_equal(t.seen, "");
    assert_ok(p, update(p, NULL, NULL, &t, 0, NULL));
    assert_string_equal(t.seen, "r/c1.index r/c1.a r/c2.index r/d.index");
    int64_t d[] = {0, 3};
    assert_col(p, "d", "index", d, 2);
}

/* strata_snapshot_where: the rows of a batch where a condition holds, in order, the same as a
 * filter's index; bad conditions refused with the place; a batch past the last refused. */
static void where_gives_the_rows_a_filter_keeps(void **state)
{
    fixture *f = *state;
    strata_pool *p = f->pool;
    create_src(p, "r", "src");
    int64_t a0[] = {5, -1, 7, 0, 9}, g0[] = {1, 2, 3, 4, 5}, a1[] = {-3, 4}, g1[] = {6, 7};
    add_batch(p, "r", "src", a0, g0, 5);
    add_batch(p, "r", "src", a1, g1, 2);
    derive_filter(p, "f", "src", "a > 0 and g != 3");
    assert_ok(p, strata_update(p, NULL, NULL, NULL, NULL));
    strata_snapshot *s;
    assert_ok(p, strata_snapshot_open(p, "r", "src", 0, &s));
    uint64_t *rows, n, want0[] = {0, 4}, want1[] = {1};
    assert_ok(p, strata_snapshot_where(s, 0, "a > 0 and g != 3", &rows, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(rows, want0, sizeof want0);
    free(rows);
    assert_ok(p, strata_snapshot_where(s, 1, "a > 0 and g != 3", &rows, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(rows, want1, sizeof want1);
    free(rows);
    int64_t idx[] = {0, 4, 6}; /* the filter's index: the same rows, as row positions */
    assert_col(p, "f", "index", idx, 3);
    assert_status(p, strata_snapshot_where(s, 0, "a >", &rows, &n), STRATA_EINVAL);
    assert_string_equal(strata_errmsg(p), "condition 'a >': unexpected end of expression at 1:4");
    assert_true(rows == NULL && n == 0);
    assert_status(p, strata_snapshot_where(s, 0, "a + 1", &rows, &n), STRATA_ETYPE);
    assert_status(p, strata_snapshot_where(s, 0, "b > 1", &rows, &n), STRATA_EINVAL);
    assert_status(p, strata_snapshot_where(s, 2, "a > 0", &rows, &n), STRATA_ERANGE);
    assert_int_equal(strata_snapshot_where(s, 0, NULL, &rows, &n), STRATA_EINVAL);
    strata_snapshot_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            an_update_of_a_derived_dataset_brings_its_ancestors_first_and_nothing_else,
            fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_update_of_a_base_dataset_brings_its_descendants,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_update_of_a_region_touches_only_that_region,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_update_of_the_pool_touches_everything_oldest_first,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_object_waits_for_the_dataset_it_reads, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(
            sorts_and_groupbys_merged_batch_by_batch_equal_a_recomputation, fixture_setup,
            fixture_teardown),
        cmocka_unit_test_setup_teardown(groupbys_on_float_and_string_keys_merge_like_a_full_update,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(a_full_update_gives_the_bytes_of_the_incremental_one,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(objects_over_many_rows_give_the_bytes_of_one_thread_on_two,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(
            an_update_stopped_midway_publishes_nothing_of_that_dataset_and_a_rerun_completes_it,
            fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(consumed_marks_follow_the_source_batches, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(
            an_auto_only_update_touches_only_registered_objects_and_their_ancestors, fixture_setup,
            fixture_teardown),
        cmocka_unit_test_setup_teardown(where_gives_the_rows_a_filter_keeps, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
