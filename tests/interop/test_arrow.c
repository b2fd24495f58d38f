/* The Arrow C Data and C Stream interfaces: a snapshot exports zero-copy (buffers are the mapped
 * batch files), outlives the caller's snapshot, releases in any order; a stream ingests back to
 * the same bytes; arrays with offsets, utf8, bit-packed bools, other timestamp units and dates
 * convert; what Strata does not read is refused and nothing is published. */
#include "test_util.h"

static const strata_column cols[] = {{"b", STRATA_BOOL},  {"i8", STRATA_I8},   {"u16", STRATA_U16},
                                     {"i64", STRATA_I64}, {"f64", STRATA_F64}, {"s", STRATA_STR},
                                     {"t", STRATA_TS}};
#define NC 7

/* Three batches (the middle one empty) with nulls in every column of batch 0. */
static void make_data(fixture *f)
{
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", "d", cols, NC));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "d", &ds));
    static const uint64_t sizes[3] = {37, 0, 20};
    for (int b = 0; b < 3; b++) {
        uint64_t n = sizes[b];
        uint8_t bo[40], i8[40], valid[8] = {0};
        uint16_t u16[40];
        int64_t i64[40], t[40], off[41];
        double f64[40];
        char bytes[400];
        off[0] = 0;
        for (uint64_t i = 0; i < n; i++) {
            bo[i] = (uint8_t)(i % 3 == 0);
            i8[i] = (uint8_t)(int8_t)(i - 20);
            u16[i] = (uint16_t)(i * 1000);
            i64[i] = (int64_t)i * 1000000007 * (b + 1);
            f64[i] = (double)i / 7;
            t[i] = 1700000000000000000 + (int64_t)i * 1000000001;
            off[i + 1] = off[i] + sprintf(bytes + off[i], "s%llu", (unsigned long long)i * 13);
            if (b != 0 || i % 5 != 2) valid[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        strata_batch *w;
        assert_ok(f->pool, strata_batch_begin(ds, &w));
        const void *vals[NC] = {bo, i8, u16, i64, f64, NULL, t};
        for (int c = 0; c < NC; c++) {
            if (c == 5)
                assert_ok(f->pool, strata_batch_append_str_nullable(w, c, off, bytes, valid, n));
            else
                assert_ok(f->pool, strata_batch_append_nullable(w, c, vals[c], valid, n));
        }
        assert_ok(f->pool, strata_batch_commit(w));
    }
    assert_ok(f->pool, strata_publish(ds, NULL));
    strata_dataset_close(ds);
}

/* Whether P lies in a mapping of a file under DIR whose name ends with SUFFIX. */
static int in_file_mapping(const void *p, const char *dir, const char *suffix)
{
    FILE *m = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    uintptr_t a = (uintptr_t)p;
    while (!found && m != NULL && fgets(line, sizeof line, m) != NULL) {
        unsigned long lo, hi;
        char path[4096] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %4095s", &lo, &hi, path) < 2) continue;
        size_t n = strlen(path), k = strlen(suffix);
        found = a >= lo && a < hi && strstr(path, dir) == path && n > k &&
                strcmp(path + n - k, suffix) == 0;
    }
    if (m != NULL) fclose(m);
    return found;
}

static void export_is_zero_copy_and_outlives_the_snapshot(void **state)
{
    fixture *f = *state;
    make_data(f);
    strata_snapshot *s, *ref;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &s));
    struct ArrowArrayStream st;
    assert_ok(f->pool, strata_snapshot_arrow_stream(s, NULL, 0, &st));
    strata_snapshot_close(s); /* the stream has its own */
    struct ArrowSchema sc;
    assert_int_equal(st.get_schema(&st, &sc), 0);
    assert_string_equal(sc.format, "+s");
    assert_int_equal(sc.n_children, NC);
    static const char *const want[NC] = {"b", "c", "S", "l", "g", "U", "tsn:UTC"};
    for (int c = 0; c < NC; c++) {
        assert_string_equal(sc.children[c]->format, want[c]);
        assert_string_equal(sc.children[c]->name, cols[c].name);
        assert_true(sc.children[c]->flags & ARROW_FLAG_NULLABLE);
    }
    sc.release(&sc);
    assert_null(sc.release);
    struct ArrowArray a[3];
    for (int b = 0; b < 3; b++) {
        assert_int_equal(st.get_next(&st, &a[b]), 0);
        assert_non_null(a[b].release);
    }
    struct ArrowArray end;
    assert_int_equal(st.get_next(&st, &end), 0);
    assert_null(end.release); /* the end of the stream */
    st.release(&st);          /* before the arrays: they stay valid */
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &ref));
    for (int b = 0; b < 3; b++) {
        assert_int_equal(a[b].n_children, NC);
        for (int c = 0; c < NC; c++) {
            const struct ArrowArray *k = a[b].children[c];
            assert_int_equal(k->length, a[b].length);
            const uint8_t *v;
            const void *data;
            assert_ok(f->pool, strata_snapshot_map_valid(ref, (uint64_t)b, c, &v));
            assert_int_equal(k->null_count, b == 0 ? 7 : 0);
            assert_int_equal(v == NULL, k->buffers[0] == NULL);
            if (c == 5) {
                const int64_t *off;
                const char *bytes;
                assert_ok(f->pool, strata_snapshot_map_str(ref, (uint64_t)b, c, &off, &bytes));
                assert_int_equal(k->n_buffers, 3);
                /* the same bytes as the mapped files, at other addresses only because each
                 * snapshot maps the files itself */
                assert_memory_equal(k->buffers[1], off, (size_t)(k->length + 1) * 8);
                if (k->length > 0)
                    assert_memory_equal(k->buffers[2], bytes, (size_t)off[k->length]);
            } else if (c == 0) {
                assert_ok(f->pool, strata_snapshot_map(ref, (uint64_t)b, c, &data));
                for (int64_t i = 0; i < k->length; i++)
                    assert_int_equal((((const uint8_t *)k->buffers[1])[i / 8] >> (i % 8)) & 1,
                                     ((const uint8_t *)data)[i]);
            } else {
                assert_ok(f->pool, strata_snapshot_map(ref, (uint64_t)b, c, &data));
                assert_memory_equal(k->buffers[1], data,
                                    (size_t)k->length * strata_dtype_size(cols[c].dtype));
            }
            if (v != NULL) assert_memory_equal(k->buffers[0], v, (size_t)(k->length + 7) / 8);
        }
    }
    strata_snapshot_close(ref);
    /* zero-copy: every buffer but the packed bools lies in a mapping of a batch file */
    for (int c = 1; c < NC; c++) {
        const struct ArrowArray *k = a[0].children[c];
        for (int64_t i = 0; i < k->n_buffers; i++)
            assert_true(in_file_mapping(k->buffers[i], f->path, i == 0 ? ".valid.npy" : ".npy"));
    }
    for (int b = 2; b >= 0; b--) a[b].release(&a[b]);
}

static void a_stream_ingests_back_to_the_same_bytes(void **state)
{
    fixture *f = *state;
    make_data(f);
    strata_snapshot *s, *t;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &s));
    struct ArrowArrayStream st;
    assert_ok(f->pool, strata_snapshot_arrow_stream(s, NULL, 0, &st));
    strata_ingest_stats stats;
    assert_ok(f->pool, strata_ingest_arrow_stream(f->pool, "r", "copy", &st, NULL, &stats));
    assert_null(st.release); /* consumed */
    assert_int_equal(stats.rows, 57);
    assert_int_equal(stats.batches, 3);
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "copy", 0, &t));
    for (uint64_t b = 0; b < 3; b++)
        for (int c = 0; c < NC; c++) {
            strata_column_stats x, y;
            assert_ok(f->pool, strata_snapshot_stats(s, b, c, &x));
            assert_ok(f->pool, strata_snapshot_stats(t, b, c, &y));
            assert_int_equal(x.checksum, y.checksum); /* values and validity, byte for byte */
            assert_int_equal(x.nulls, y.nulls);
        }
    strata_snapshot_close(s);
    strata_snapshot_close(t);
}

/* A hand-made stream: one record batch with an offset, utf8 (int32 offsets), packed bools with a
 * bit offset, timestamp[ms] and date32; or a column of a type Strata does not read. */
typedef struct {
    int unsupported, done;
} mystream;

static void noop_schema(struct ArrowSchema *s)
{
    s->release = NULL;
}

static int my_schema(struct ArrowArrayStream *st, struct ArrowSchema *out)
{
    static struct ArrowSchema kids[4];
    static struct ArrowSchema *ptrs[4] = {&kids[0], &kids[1], &kids[2], &kids[3]};
    mystream *m = st->private_data;
    const char *fmt[4] = {"u", "b", "tsm:Europe/Paris", m->unsupported ? "d:10,2" : "tdD"};
    const char *names[4] = {"name", "flag", "when", "day"};
    for (int i = 0; i < 4; i++)
        kids[i] = (struct ArrowSchema){.format = fmt[i], .name = names[i], .release = noop_schema};
    *out = (struct ArrowSchema){
        .format = "+s", .n_children = 4, .children = ptrs, .release = noop_schema};
    return 0;
}

static void noop_array(struct ArrowArray *a)
{
    a->release = NULL;
}

static int my_next(struct ArrowArrayStream *st, struct ArrowArray *out)
{
    mystream *m = st->private_data;
    memset(out, 0, sizeof *out);
    if (m->done++) return 0;
    /* 5 rows of the arrays' 8, from row 3 on */
    static const int32_t off[9] = {0, 1, 3, 6, 10, 15, 15, 18, 20};
    static const char bytes[] = "abbcccddddeeeeefffgg";
    static const uint8_t flags[1] = {0xA5}; /* 1010 0101 */
    static const uint8_t valid[1] = {0xDF}; /* row 5 null */
    static const int64_t ms[8] = {0, 0, 0, 1000, 2000, 3000, 4000, 5000};
    static const int32_t days[8] = {0, 0, 0, 0, 1, 19723, -1, 2};
    static const void *b0[3] = {valid, off, bytes}, *b1[2] = {NULL, flags}, *b2[2] = {NULL, ms},
                      *b3[2] = {NULL, days}, *bs[1] = {NULL};
    static struct ArrowArray kids[4];
    static struct ArrowArray *ptrs[4] = {&kids[0], &kids[1], &kids[2], &kids[3]};
    kids[0] = (struct ArrowArray){
        .length = 8, .null_count = 1, .n_buffers = 3, .buffers = b0, .release = noop_array};
    kids[1] =
        (struct ArrowArray){.length = 8, .n_buffers = 2, .buffers = b1, .release = noop_array};
    kids[2] =
        (struct ArrowArray){.length = 8, .n_buffers = 2, .buffers = b2, .release = noop_array};
    kids[3] =
        (struct ArrowArray){.length = 8, .n_buffers = 2, .buffers = b3, .release = noop_array};
    *out = (struct ArrowArray){.length = 5,
                               .offset = 3,
                               .n_buffers = 1,
                               .n_children = 4,
                               .buffers = bs,
                               .children = ptrs,
                               .release = noop_array};
    return 0;
}

static const char *my_error(struct ArrowArrayStream *st)
{
    (void)st;
    return NULL;
}

static void my_release(struct ArrowArrayStream *st)
{
    st->release = NULL;
}

static void offsets_and_conversions(void **state)
{
    fixture *f = *state;
    mystream m = {0, 0};
    struct ArrowArrayStream st = {my_schema, my_next, my_error, my_release, &m};
    assert_ok(f->pool, strata_ingest_arrow_stream(f->pool, "r", "hand", &st, NULL, NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "hand", 0, &s));
    strata_dataset_desc d;
    assert_ok(f->pool, strata_snapshot_info(s, &d));
    assert_int_equal(d.nrows, 5);
    assert_int_equal(d.columns[0].dtype, STRATA_STR);
    assert_int_equal(d.columns[1].dtype, STRATA_BOOL);
    assert_int_equal(d.columns[2].dtype, STRATA_TS);
    assert_int_equal(d.columns[3].dtype, STRATA_TS);
    const int64_t *off;
    const char *bytes;
    const uint8_t *valid;
    assert_ok(f->pool, strata_snapshot_map_str(s, 0, 0, &off, &bytes));
    assert_ok(f->pool, strata_snapshot_map_valid(s, 0, 0, &valid));
    assert_memory_equal(bytes + off[0], "dddd", 4); /* row 3 */
    assert_int_equal(off[3] - off[2], 0);           /* row 5: null, stored empty */
    assert_int_equal(valid[0] & 0x1F, 0x1B);
    assert_memory_equal(bytes + off[4], "gg", 2);
    const void *p;
    assert_ok(f->pool, strata_snapshot_map(s, 0, 1, &p));
    const uint8_t want_flags[5] = {0, 0, 1, 0, 1}; /* bits 3..7 of 0xA5 */
    assert_memory_equal(p, want_flags, 5);
    assert_ok(f->pool, strata_snapshot_map(s, 0, 2, &p));
    assert_int_equal(((const int64_t *)p)[0], INT64_C(1000000000));
    assert_ok(f->pool, strata_snapshot_map(s, 0, 3, &p));
    assert_int_equal(((const int64_t *)p)[2], INT64_C(19723) * 86400 * 1000000000);
    assert_int_equal(((const int64_t *)p)[3], -INT64_C(86400) * 1000000000);
    strata_snapshot_close(s);
    /* a type Strata does not read: refused by name, nothing published, the stream released */
    mystream bad = {1, 0};
    struct ArrowArrayStream st2 = {my_schema, my_next, my_error, my_release, &bad};
    assert_int_equal(strata_ingest_arrow_stream(f->pool, "r", "bad", &st2, NULL, NULL),
                     STRATA_EUNSUPPORTED);
    assert_string_equal(strata_errmsg(f->pool),
                        "arrow column 'day' has type 'd:10,2', which Strata does not read (it "
                        "reads bool, integers, floats, utf8, large_utf8, timestamps and dates)");
    assert_null(st2.release);
    strata_dataset *ds;
    assert_int_equal(strata_dataset_open(f->pool, "r", "bad", &ds), STRATA_ENOTFOUND);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(export_is_zero_copy_and_outlives_the_snapshot),
        T(a_stream_ingests_back_to_the_same_bytes),
        T(offsets_and_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
