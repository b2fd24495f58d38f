/* The Parquet codec: the Thrift compact protocol round-trips and skips what it does not know;
 * what the writer writes reads back equal for every type, with and without nulls, with every
 * codec; hand-built files with dictionary pages, v2 pages and RLE booleans decode; and
 * malformed files fail with the exact error. */
#include "test_util.h"
#include "format/parquet.h"
#include "format/parquet_int.h"

#define assert_pq(expr, code, err)                                                                 \
    do {                                                                                           \
        int pq_got_ = (expr);                                                                      \
        if (pq_got_ != (code))                                                                     \
            fail_msg("%s returned %s, expected %s (%s)", #expr, strata_errname(pq_got_),           \
                     strata_errname(code), (err)->msg);                                            \
    } while (0)

#define assert_msg_has(err, needle)                                                                \
    do {                                                                                           \
        if (strstr((err)->msg, (needle)) == NULL)                                                  \
            fail_msg("message '%s' does not contain '%s'", (err)->msg, (needle));                  \
    } while (0)

/* ---- thrift -------------------------------------------------------------------------------- */

static void thrift_round_trips_and_skips_unknown_fields(void **state)
{
    (void)state;
    st_tc_writer w = {0};
    st_tc_w_struct(&w, 0);
    st_tc_w_i32(&w, 1, -5);
    st_tc_w_i64(&w, 2, INT64_MIN);
    st_tc_w_bool(&w, 3, 1);
    st_tc_w_binary(&w, 40, "hello", 5); /* a delta over 15: the long field header */
    st_tc_w_struct(&w, 41);
    st_tc_w_i64(&w, 1, INT64_MAX);
    st_tc_w_end(&w);
    st_tc_w_list(&w, 42, ST_TC_I32, 20);
    for (int i = 0; i < 20; i++) st_tc_w_elem_i32(&w, i - 10);
    /* unknown to the reader below: a double, a map and a set of booleans */
    st_tc_w_field(&w, 43, ST_TC_DOUBLE);
    for (int i = 0; i < 8; i++) st_tc_w_byte(&w, 0x11);
    st_tc_w_field(&w, 44, ST_TC_MAP);
    st_tc_w_varint(&w, 2);
    st_tc_w_byte(&w, ST_TC_BINARY << 4 | ST_TC_I32);
    for (int i = 0; i < 2; i++) st_tc_w_elem_binary(&w, "k", 1), st_tc_w_elem_i32(&w, i);
    st_tc_w_list(&w, 45, ST_TC_TRUE, 3);
    st_tc_w_byte(&w, 1), st_tc_w_byte(&w, 2), st_tc_w_byte(&w, 1);
    st_tc_w_bool(&w, 46, 0);
    st_tc_w_end(&w);
    assert_false(w.oom);

    st_tc_reader r;
    st_tc_reader_init(&r, w.p, w.len);
    assert_int_equal(st_tc_struct_begin(&r), STRATA_OK);
    int16_t id;
    int t;
    int seen = 0;
    for (;;) {
        assert_int_equal(st_tc_field(&r, &id, &t), STRATA_OK);
        if (t == ST_TC_STOP) break;
        int64_t v;
        const uint8_t *p;
        size_t n;
        if (id == 1) {
            assert_int_equal(st_tc_int(&r, t, &v), STRATA_OK);
            assert_int_equal(v, -5);
        } else if (id == 2) {
            assert_int_equal(st_tc_int(&r, t, &v), STRATA_OK);
            assert_true(v == INT64_MIN);
        } else if (id == 3) {
            assert_int_equal(t, ST_TC_TRUE);
        } else if (id == 40) {
            assert_int_equal(st_tc_binary(&r, &p, &n), STRATA_OK);
            assert_int_equal(n, 5);
            assert_memory_equal(p, "hello", 5);
        } else if (id == 41) {
            assert_int_equal(st_tc_struct_begin(&r), STRATA_OK);
            assert_int_equal(st_tc_field(&r, &id, &t), STRATA_OK);
            assert_int_equal(id, 1);
            assert_int_equal(st_tc_int(&r, t, &v), STRATA_OK);
            assert_true(v == INT64_MAX);
            assert_int_equal(st_tc_field(&r, &id, &t), STRATA_OK);
            assert_int_equal(t, ST_TC_STOP);
        } else if (id == 42) {
            int et;
            int64_t cnt;
            assert_int_equal(st_tc_list(&r, &et, &cnt), STRATA_OK);
            assert_int_equal(cnt, 20);
            for (int i = 0; i < 20; i++) {
                int32_t x;
                assert_int_equal(st_tc_i32(&r, &x), STRATA_OK);
                assert_int_equal(x, i - 10);
            }
        } else {
            assert_int_equal(st_tc_skip(&r, t), STRATA_OK);
        }
        seen++;
    }
    assert_int_equal(seen, 10);
    assert_true(r.p == r.end);

    /* every truncation fails cleanly, never reads past the end */
    for (size_t cut = 0; cut < w.len; cut++) {
        st_tc_reader_init(&r, w.p, cut);
        assert_int_equal(st_tc_skip(&r, ST_TC_STRUCT), STRATA_ECORRUPT);
        assert_non_null(r.why);
    }
    st_tc_writer_free(&w);
}

static void thrift_refuses_overlong_and_deep_values(void **state)
{
    (void)state;
    st_tc_reader r;
    uint64_t v;
    uint8_t longv[11];
    memset(longv, 0xFF, sizeof longv);
    st_tc_reader_init(&r, longv, sizeof longv);
    assert_int_equal(st_tc_varint(&r, &v), STRATA_ECORRUPT);
    uint8_t deep[200];
    for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x1C; /* field +1, STRUCT, forever */
    st_tc_reader_init(&r, deep, sizeof deep);
    assert_int_equal(st_tc_skip(&r, ST_TC_STRUCT), STRATA_ECORRUPT);
    uint8_t biglist[] = {0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}; /* list of 2^32-1 i32 in 6 bytes */
    st_tc_reader_init(&r, biglist, sizeof biglist);
    assert_int_equal(st_tc_skip(&r, ST_TC_LIST), STRATA_ECORRUPT);
}

/* ---- writer -> reader --------------------------------------------------------------------- */

#define N 1000

/* Column values of TYPE, every third row null when NULLS. */
static void make_values(st_pq_type type, int nulls, st_pq_values *v)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    v->n = N;
    if (nulls) {
        v->validity = calloc(N / 8 + 1, 1);
        for (int i = 0; i < N; i++)
            if (i % 3 != 0)
                v->validity[i / 8] |= (uint8_t)(1u << (i % 8));
            else
                v->null_count++;
    }
    if (type == ST_PQ_BYTE_ARRAY) {
        v->offsets = calloc(N + 1, sizeof *v->offsets);
        v->bytes = malloc(N * 16);
        for (int i = 0; i < N; i++) {
            int l = 0;
            if (!nulls || i % 3 != 0)
                l = sprintf((char *)v->bytes + v->offsets[i], "s%d", i * 7 % 101);
            v->offsets[i + 1] = v->offsets[i] + l;
        }
        return;
    }
    size_t w = type == ST_PQ_BOOLEAN ? 1 : type == ST_PQ_INT32 || type == ST_PQ_FLOAT ? 4 : 8;
    v->values = calloc(N, w);
    for (int i = 0; i < N; i++) {
        if (nulls && i % 3 == 0) continue;
        int64_t x = (int64_t)i * 7919 % 2003 - 1000;
        switch (type) {
        case ST_PQ_BOOLEAN:
            ((uint8_t *)v->values)[i] = (uint8_t)(x & 1);
            break;
        case ST_PQ_INT32:
            ((int32_t *)v->values)[i] = (int32_t)(x % 100);
            break;
        case ST_PQ_INT64:
            ((int64_t *)v->values)[i] = x * 1000000007LL;
            break;
        case ST_PQ_FLOAT:
            ((float *)v->values)[i] = (float)x / 4;
            break;
        default:
            ((double *)v->values)[i] = (double)(x % 50) / 3;
            break;
        }
    }
}

static void assert_values_equal(const st_pq_values *a, const st_pq_values *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->null_count, b->null_count);
    assert_int_equal(a->validity == NULL, b->validity == NULL);
    if (a->validity) assert_memory_equal(a->validity, b->validity, (size_t)(a->n + 7) / 8);
    if (a->type == ST_PQ_BYTE_ARRAY) {
        assert_memory_equal(a->offsets, b->offsets, (size_t)(a->n + 1) * sizeof(int64_t));
        assert_memory_equal(a->bytes, b->bytes, (size_t)a->offsets[a->n]);
    } else {
        size_t w = a->type == ST_PQ_BOOLEAN                           ? 1
                   : a->type == ST_PQ_INT32 || a->type == ST_PQ_FLOAT ? 4
                                                                      : 8;
        assert_memory_equal(a->values, b->values, (size_t)a->n * w);
    }
}

static void free_values(st_pq_values *v)
{
    st_pq_values_release(v);
}

static const st_pq_type all_types[] = {ST_PQ_BOOLEAN, ST_PQ_INT32,  ST_PQ_INT64,
                                       ST_PQ_FLOAT,   ST_PQ_DOUBLE, ST_PQ_BYTE_ARRAY};
#define NTYPES 6

/* A file of every type twice (required, optional with nulls), two row groups, with CODEC. */
static void write_file(st_pq_codec codec, int dict, st_pq_buf *buf, st_pq_values *cols)
{
    st_err err;
    st_err_init(&err);
    st_pq_colspec spec[2 * NTYPES];
    char names[2 * NTYPES][16];
    for (int k = 0; k < 2 * NTYPES; k++) {
        snprintf(names[k], sizeof names[k], "c%d%s", k % NTYPES, k >= NTYPES ? "_null" : "");
        memset(&spec[k], 0, sizeof spec[k]);
        spec[k].name = names[k];
        spec[k].type = all_types[k % NTYPES];
        spec[k].optional = k >= NTYPES;
        if (spec[k].type == ST_PQ_BYTE_ARRAY) spec[k].logical.kind = ST_PQ_LT_STRING;
        if (spec[k].type == ST_PQ_INT64 && k >= NTYPES) {
            spec[k].logical.kind = ST_PQ_LT_TIMESTAMP;
            spec[k].logical.unit = ST_PQ_MICROS;
            spec[k].logical.utc = 1;
        }
        if (spec[k].type == ST_PQ_INT32 && k >= NTYPES) spec[k].logical.kind = ST_PQ_LT_DATE;
        make_values(spec[k].type, k >= NTYPES, &cols[k]);
    }
    st_pq_write_opts opts = {.codec = codec, .dictionary = dict};
    st_pq_writer *w;
    memset(buf, 0, sizeof *buf);
    assert_pq(st_pq_writer_open(&err, spec, 2 * NTYPES, &opts, st_pq_buf_write, buf, &w), STRATA_OK,
              &err);
    assert_pq(st_pq_writer_write(w, cols), STRATA_OK, &err);
    assert_pq(st_pq_writer_write(w, cols), STRATA_OK, &err);
    assert_pq(st_pq_writer_close(w), STRATA_OK, &err);
    st_err_destroy(&err);
}

/* Dictionaries bigger than the builder's first table (4096 slots): 60000 rows of INT64 with
 * 20000 distinct values, strings with 9000 distinct values and nulls, and a column that turns out
 * to have too many distinct values after its first rows; each comes back equal, the first two
 * dictionary-encoded, the last PLAIN. */
static void large_dictionaries_round_trip(void **state)
{
    (void)state;
    enum { R = 60000 };
    st_err err;
    st_err_init(&err);
    st_pq_colspec spec[3] = {{.name = "i", .type = ST_PQ_INT64},
                             {.name = "s", .type = ST_PQ_BYTE_ARRAY, .optional = 1},
                             {.name = "late", .type = ST_PQ_INT64}};
    spec[1].logical.kind = ST_PQ_LT_STRING;
    st_pq_values cols[3];
    memset(cols, 0, sizeof cols);
    int64_t *iv = calloc(R, 8), *late = calloc(R, 8);
    for (int i = 0; i < R; i++) {
        iv[i] = (int64_t)(i / 3 % 20000) * 1000003 - 5; /* repeats early: worth a dictionary */
        late[i] = i < 8000 ? i % 3 : i; /* few distinct values first, then all distinct */
    }
    cols[0] = (st_pq_values){.type = ST_PQ_INT64, .n = R, .values = iv};
    cols[2] = (st_pq_values){.type = ST_PQ_INT64, .n = R, .values = late};
    st_pq_values *sv = &cols[1];
    sv->type = ST_PQ_BYTE_ARRAY;
    sv->n = R;
    sv->offsets = calloc(R + 1, sizeof *sv->offsets);
    sv->bytes = malloc((size_t)R * 16);
    sv->validity = calloc(R / 8 + 1, 1);
    for (int i = 0; i < R; i++) {
        int l = 0;
        if (i % 5 != 2) {
            sv->validity[i / 8] |= (uint8_t)(1u << (i % 8));
            l = sprintf((char *)sv->bytes + sv->offsets[i], "v%d", i / 2 % 9000);
        } else {
            sv->null_count++;
        }
        sv->offsets[i + 1] = sv->offsets[i] + l;
    }
    st_pq_write_opts opts = {.codec = ST_PQ_SNAPPY, .dictionary = 1};
    st_pq_writer *w;
    st_pq_buf buf;
    memset(&buf, 0, sizeof buf);
    assert_pq(st_pq_writer_open(&err, spec, 3, &opts, st_pq_buf_write, &buf, &w), STRATA_OK, &err);
    assert_pq(st_pq_writer_write(w, cols), STRATA_OK, &err);
    assert_pq(st_pq_writer_close(w), STRATA_OK, &err);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "big.parquet", NULL, &f), STRATA_OK, &err);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(st_pq_chunk_at(f, 0, k)->dictionary_page_offset >= 0, k < 2);
        st_pq_values got;
        assert_pq(st_pq_read_column(f, 0, k, &got), STRATA_OK, &err);
        assert_values_equal(&got, &cols[k]);
        st_pq_values_release(&got);
    }
    st_pq_close(f);
    for (int k = 0; k < 3; k++) free_values(&cols[k]);
    free(buf.data);
    st_err_destroy(&err);
}

static void round_trip(st_pq_codec codec, int dict)
{
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    st_pq_values cols[2 * NTYPES];
    write_file(codec, dict, &buf, cols);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "rt.parquet", NULL, &f), STRATA_OK, &err);
    assert_int_equal(st_pq_ncolumns(f), 2 * NTYPES);
    assert_int_equal(st_pq_nrowgroups(f), 2);
    assert_int_equal(st_pq_num_rows(f), 2 * N);
    assert_string_equal(st_pq_created_by(f), "strata");
    for (int k = 0; k < 2 * NTYPES; k++) {
        const st_pq_column *c = st_pq_column_at(f, k);
        assert_int_equal(c->type, all_types[k % NTYPES]);
        assert_int_equal(c->optional, k >= NTYPES);
        if (c->type == ST_PQ_BYTE_ARRAY) assert_int_equal(c->logical.kind, ST_PQ_LT_STRING);
        if (c->type == ST_PQ_INT64 && k >= NTYPES) {
            assert_int_equal(c->logical.kind, ST_PQ_LT_TIMESTAMP);
            assert_int_equal(c->logical.unit, ST_PQ_MICROS);
            assert_int_equal(c->logical.utc, 1);
            assert_int_equal(c->converted_type, 10);
        }
        if (c->type == ST_PQ_INT32 && k >= NTYPES) assert_int_equal(c->logical.kind, ST_PQ_LT_DATE);
        for (int g = 0; g < 2; g++) {
            const st_pq_chunk *ch = st_pq_chunk_at(f, g, k);
            assert_int_equal(ch->codec, codec);
            /* dictionaries where they pay: low-cardinality INT32, DOUBLE and strings */
            int want_dict = dict && (c->type == ST_PQ_INT32 || c->type == ST_PQ_DOUBLE ||
                                     c->type == ST_PQ_BYTE_ARRAY);
            if ((ch->dictionary_page_offset >= 0) != want_dict)
                fail_msg("column %d (%s) of row group %d: dictionary %lld, expected %d", k, c->name,
                         g, (long long)ch->dictionary_page_offset, want_dict);
            assert_int_equal(ch->stats.null_count, cols[k].null_count);
            assert_non_null(ch->stats.min);
            st_pq_values got;
            assert_pq(st_pq_read_column(f, g, k, &got), STRATA_OK, &err);
            assert_values_equal(&got, &cols[k]);
            st_pq_values_release(&got);
        }
    }
    /* statistics of the INT32 column: the minimum and maximum of make_values' sequence */
    const st_pq_chunk *ch = st_pq_chunk_at(f, 0, 1);
    int32_t lo, hi;
    assert_int_equal(ch->stats.min_len, 4);
    memcpy(&lo, ch->stats.min, 4);
    memcpy(&hi, ch->stats.max, 4);
    int32_t elo = INT32_MAX, ehi = INT32_MIN;
    for (int i = 0; i < N; i++) {
        int32_t x = ((int32_t *)cols[1].values)[i];
        elo = x < elo ? x : elo;
        ehi = x > ehi ? x : ehi;
    }
    assert_int_equal(lo, elo);
    assert_int_equal(hi, ehi);
    st_pq_close(f);
    for (int k = 0; k < 2 * NTYPES; k++) free_values(&cols[k]);
    free(buf.data);
    st_err_destroy(&err);
}

static void round_trip_uncompressed(void **state)
{
    (void)state;
    round_trip(ST_PQ_UNCOMPRESSED, 0);
    round_trip(ST_PQ_UNCOMPRESSED, 1);
}

static void round_trip_snappy(void **state)
{
    (void)state;
    round_trip(ST_PQ_SNAPPY, 0);
    round_trip(ST_PQ_SNAPPY, 1);
}

static void round_trip_gzip(void **state)
{
    (void)state;
    round_trip(ST_PQ_GZIP, 0);
    round_trip(ST_PQ_GZIP, 1);
}

static void round_trip_zstd(void **state)
{
    (void)state;
    round_trip(ST_PQ_ZSTD, 0);
    round_trip(ST_PQ_ZSTD, 1);
}

static void empty_row_group_and_all_null_column_round_trip(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_colspec spec = {.name = "x", .type = ST_PQ_INT64, .optional = 1};
    st_pq_buf buf = {0};
    st_pq_writer *w;
    assert_pq(st_pq_writer_open(&err, &spec, 1, NULL, st_pq_buf_write, &buf, &w), STRATA_OK, &err);
    int64_t vals[10] = {0};
    uint8_t valid[2] = {0, 0};
    st_pq_values v = {
        .type = ST_PQ_INT64, .n = 10, .values = vals, .validity = valid, .null_count = 10};
    assert_pq(st_pq_writer_write(w, &v), STRATA_OK, &err);
    v.n = 0;
    assert_pq(st_pq_writer_write(w, &v), STRATA_OK, &err);
    assert_pq(st_pq_writer_close(w), STRATA_OK, &err);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "n.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values got;
    assert_pq(st_pq_read_column(f, 0, 0, &got), STRATA_OK, &err);
    assert_int_equal(got.null_count, 10);
    assert_non_null(got.validity);
    assert_int_equal(got.validity[0] | (got.validity[1] & 3), 0);
    assert_null(st_pq_chunk_at(f, 0, 0)->stats.min);
    st_pq_values_release(&got);
    assert_pq(st_pq_read_column(f, 1, 0, &got), STRATA_OK, &err);
    assert_int_equal(got.n, 0);
    st_pq_values_release(&got);
    st_pq_close(f);
    free(buf.data);
    st_err_destroy(&err);
}

static void writer_refuses_bad_columns(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_colspec spec = {.name = "r", .type = ST_PQ_INT32, .optional = 0};
    st_pq_buf buf = {0};
    st_pq_writer *w;
    assert_pq(st_pq_writer_open(&err, &spec, 1, NULL, st_pq_buf_write, &buf, &w), STRATA_OK, &err);
    int32_t vals[3] = {1, 2, 3};
    uint8_t valid = 5;
    st_pq_values v = {.type = ST_PQ_INT32, .n = 3, .values = vals, .validity = &valid};
    assert_pq(st_pq_writer_write(w, &v), STRATA_EINVAL, &err);
    assert_msg_has(&err,
                   "cannot write parquet column 'r': it is REQUIRED but has a validity bitmap");
    v.validity = NULL;
    v.type = ST_PQ_INT64;
    assert_pq(st_pq_writer_write(w, &v), STRATA_EINVAL, &err);
    assert_msg_has(&err, "its values are of another type");
    st_pq_writer_free(w);
    st_pq_write_opts opts = {.codec = ST_PQ_LZ4};
    assert_pq(st_pq_writer_open(&err, &spec, 1, &opts, st_pq_buf_write, &buf, &w),
              STRATA_EUNSUPPORTED, &err);
    assert_msg_has(&err, "codec LZ4 is not supported");
    free(buf.data);
    st_err_destroy(&err);
}

/* ---- hand-built files ---------------------------------------------------------------------- */

/* A file of one column (TYPE, OPTIONAL) of NROWS rows whose chunk is PAGES[0..LEN) (starting
 * with the dictionary page when DICT), uncompressed. */
static void build_file_codec(st_pq_type type, int optional, int64_t nrows, const uint8_t *pages,
                             size_t len, int dict, st_pq_codec codec, st_pq_buf *buf)
{
    memset(buf, 0, sizeof *buf);
    st_pq_buf_write(buf, "PAR1", 4);
    st_pq_buf_write(buf, pages, len);
    st_tc_writer t = {0};
    st_tc_w_struct(&t, 0);
    st_tc_w_i32(&t, 1, 1);
    st_tc_w_list(&t, 2, ST_TC_STRUCT, 2);
    st_tc_w_struct(&t, 0);
    st_tc_w_binary(&t, 4, "schema", 6);
    st_tc_w_i32(&t, 5, 1);
    st_tc_w_end(&t);
    st_tc_w_struct(&t, 0);
    st_tc_w_i32(&t, 1, type);
    st_tc_w_i32(&t, 3, optional);
    st_tc_w_binary(&t, 4, "col", 3);
    st_tc_w_end(&t);
    st_tc_w_i64(&t, 3, nrows);
    st_tc_w_list(&t, 4, ST_TC_STRUCT, 1);
    st_tc_w_struct(&t, 0);
    st_tc_w_list(&t, 1, ST_TC_STRUCT, 1);
    st_tc_w_struct(&t, 0);
    st_tc_w_struct(&t, 3);
    st_tc_w_i32(&t, 1, type);
    st_tc_w_i32(&t, 4, codec);
    st_tc_w_i64(&t, 5, nrows);
    st_tc_w_i64(&t, 7, (int64_t)len);
    st_tc_w_i64(&t, 9, 4); /* with a dictionary the data page follows it; the reader starts at 4 */
    if (dict) st_tc_w_i64(&t, 11, 4);
    st_tc_w_end(&t);
    st_tc_w_end(&t);
    st_tc_w_i64(&t, 3, nrows);
    st_tc_w_end(&t);
    st_tc_w_end(&t);
    uint8_t tail[8] = {
        (uint8_t)t.len, (uint8_t)(t.len >> 8), (uint8_t)(t.len >> 16), 0, 'P', 'A', 'R', '1'};
    st_pq_buf_write(buf, t.p, t.len);
    st_pq_buf_write(buf, tail, 8);
    st_tc_writer_free(&t);
}

static void build_file(st_pq_type type, int optional, int64_t nrows, const uint8_t *pages,
                       size_t len, int dict, st_pq_buf *buf)
{
    build_file_codec(type, optional, nrows, pages, len, dict, ST_PQ_UNCOMPRESSED, buf);
}

/* Append a page of TYPE with BODY to P. */
static void add_page(st_tc_writer *p, int type, int num_values, int encoding, const uint8_t *body,
                     size_t len)
{
    st_pq_page pg = {.type = type,
                     .uncompressed_size = (int32_t)len,
                     .compressed_size = (int32_t)len,
                     .num_values = num_values,
                     .encoding = encoding};
    st_pq_page_header_write(p, &pg);
    for (size_t i = 0; i < len; i++) st_tc_w_byte(p, body[i]);
}

/* An INT32 column of 6 rows: dictionary {10, 20, 30}, indices INDEX0 1 2 0 1 2 (bit width 2). */
static void dict_file(uint8_t index0, st_pq_buf *buf)
{
    st_tc_writer p = {0};
    uint8_t dict[12] = {10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0};
    add_page(&p, ST_PQ_DICTIONARY_PAGE, 3, ST_PQ_ENC_PLAIN_DICTIONARY, dict, sizeof dict);
    /* bit width 2; one bit-packed group of 8: (1 << 1 | 1) header, 2 bytes */
    uint8_t idx[4] = {2, 3, 0, 0};
    uint32_t vals[8] = {index0, 1, 2, 0, 1, 2, 0, 0};
    for (int i = 0; i < 8; i++) idx[2 + i / 4] |= (uint8_t)(vals[i] << (2 * (i % 4)));
    add_page(&p, ST_PQ_DATA_PAGE, 6, ST_PQ_ENC_RLE_DICTIONARY, idx, sizeof idx);
    build_file(ST_PQ_INT32, 0, 6, p.p, p.len, 1, buf);
    st_tc_writer_free(&p);
}

static void dictionary_pages_decode(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    dict_file(0, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "d.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_OK, &err);
    int32_t want[6] = {10, 20, 30, 10, 20, 30};
    assert_memory_equal(v.values, want, sizeof want);
    assert_null(v.validity);
    st_pq_values_release(&v);
    st_pq_close(f);
    free(buf.data);
    st_err_destroy(&err);
}

static void dictionary_index_out_of_range_fails(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    dict_file(3, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "d.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg, "cannot read column 'col' of row group 0 of 'd.parquet', page 1: "
                                 "dictionary index 3 out of range (3 entries)");
    assert_null(v.values);
    st_pq_close(f);
    free(buf.data);
    st_err_destroy(&err);
}

/* Data page v2 of an optional BOOLEAN column, RLE-encoded values: rows T null F T. */
static void v2_page_with_rle_booleans_decodes(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_tc_writer p = {0};
    uint8_t def[] = {0x03, 0x0D};              /* one bit-packed group: 1 0 1 1 */
    uint8_t vals[] = {2, 0, 0, 0, 0x03, 0x05}; /* length 2, bit-packed group: 1 0 1 */
    uint8_t body[sizeof def + sizeof vals];
    memcpy(body, def, sizeof def);
    memcpy(body + sizeof def, vals, sizeof vals);
    st_tc_w_struct(&p, 0);
    st_tc_w_i32(&p, 1, ST_PQ_DATA_PAGE_V2);
    st_tc_w_i32(&p, 2, (int32_t)sizeof body);
    st_tc_w_i32(&p, 3, (int32_t)sizeof body);
    st_tc_w_struct(&p, 8);
    st_tc_w_i32(&p, 1, 4);
    st_tc_w_i32(&p, 2, 1);
    st_tc_w_i32(&p, 3, 4);
    st_tc_w_i32(&p, 4, ST_PQ_ENC_RLE);
    st_tc_w_i32(&p, 5, (int32_t)sizeof def);
    st_tc_w_i32(&p, 6, 0);
    st_tc_w_bool(&p, 7, 0);
    st_tc_w_end(&p);
    st_tc_w_end(&p);
    for (size_t i = 0; i < sizeof body; i++) st_tc_w_byte(&p, body[i]);
    st_pq_buf buf;
    build_file(ST_PQ_BOOLEAN, 1, 4, p.p, p.len, 0, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "v2.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_OK, &err);
    uint8_t want[4] = {1, 0, 0, 1};
    assert_memory_equal(v.values, want, 4);
    assert_int_equal(v.null_count, 1);
    assert_int_equal(v.validity[0] & 0x0F, 0x0D);
    st_pq_values_release(&v);
    st_pq_close(f);
    free(buf.data);
    st_tc_writer_free(&p);
    st_err_destroy(&err);
}

/* ---- malformed files ------------------------------------------------------------------------ */

static void bad_magic_and_truncated_footer_fail(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    st_pq_values cols[2 * NTYPES];
    write_file(ST_PQ_SNAPPY, 0, &buf, cols);
    for (int k = 0; k < 2 * NTYPES; k++) free_values(&cols[k]);
    st_pq_file *f = NULL;

    char want[128];
    snprintf(want, sizeof want, "cannot read parquet file 'm.parquet': no PAR1 magic (%zu bytes)",
             buf.len);
    buf.data[buf.len - 1] = 'X';
    assert_pq(st_pq_open(&err, buf.data, buf.len, "m.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg, want);
    buf.data[buf.len - 1] = '1';
    /* the footer's length says more than the file holds */
    uint8_t *len = buf.data + buf.len - 8;
    memset(len, 0xFF, 4);
    assert_pq(st_pq_open(&err, buf.data, buf.len, "m.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg,
                        "cannot read parquet file 'm.parquet': footer length 4294967295 is "
                        "more than the file holds");
    free(buf.data);
    st_err_destroy(&err);
}

static void truncations_fail_cleanly(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    st_pq_values cols[2 * NTYPES];
    write_file(ST_PQ_UNCOMPRESSED, 1, &buf, cols);
    for (int k = 0; k < 2 * NTYPES; k++) free_values(&cols[k]);
    /* the footer cut short, its length kept: the length is then more than the file holds */
    uint8_t *cut = malloc(buf.len);
    size_t n = buf.len - 20;
    memcpy(cut, buf.data, n - 8);
    memcpy(cut + n - 8, buf.data + buf.len - 8, 8);
    st_pq_file *f = NULL;
    uint32_t mlen;
    memcpy(&mlen, buf.data + buf.len - 8, 4);
    assert_pq(st_pq_open(&err, cut, n, "t.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    /* a footer of MLEN bytes no longer fits: it reaches back into the pages and fails there */
    assert_msg_has(&err, "cannot read parquet file 't.parquet': ");
    /* the footer's length shortened to 10 bytes: its thrift runs out */
    memcpy(cut, buf.data, buf.len);
    uint32_t ten = 10;
    memcpy(cut + buf.len - 8, &ten, 4);
    assert_pq(st_pq_open(&err, cut, buf.len, "t.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    assert_msg_has(&err, "cannot read parquet file 't.parquet': bad footer: ");
    /* every prefix of the file fails (or, for none, reads); none crashes */
    for (size_t k = 0; k < buf.len; k += 7) {
        if (st_pq_open(&err, buf.data, k, "t.parquet", NULL, &f) == STRATA_OK) st_pq_close(f);
    }
    /* a too-short file and a wrong magic: the exact messages */
    assert_pq(st_pq_open(&err, buf.data, 8, "t.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg,
                        "cannot read parquet file 't.parquet': file of 8 bytes is too short");
    memcpy(cut, buf.data, buf.len);
    cut[0] = 'X';
    assert_pq(st_pq_open(&err, cut, buf.len, "t.parquet", NULL, &f), STRATA_ECORRUPT, &err);
    assert_msg_has(&err, "cannot read parquet file 't.parquet': no PAR1 magic");
    free(cut);
    free(buf.data);
    st_err_destroy(&err);
}

static void lying_page_size_fails(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_tc_writer p = {0};
    uint8_t body[8] = {1, 0, 0, 0, 2, 0, 0, 0};
    st_pq_page pg = {.type = ST_PQ_DATA_PAGE,
                     .uncompressed_size = 8,
                     .compressed_size = 800,
                     .num_values = 2,
                     .encoding = ST_PQ_ENC_PLAIN};
    st_pq_page_header_write(&p, &pg);
    for (size_t i = 0; i < sizeof body; i++) st_tc_w_byte(&p, body[i]);
    st_pq_buf buf;
    build_file(ST_PQ_INT32, 0, 2, p.p, p.len, 0, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "l.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg,
                        "cannot read column 'col' of row group 0 of 'l.parquet', page 0: "
                        "page size 800 runs past the end of the column chunk (8 bytes left)");
    st_pq_close(f);
    free(buf.data);
    st_tc_writer_free(&p);
    st_err_destroy(&err);
}

static void random_corruption_never_crashes(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_pq_buf buf;
    st_pq_values cols[2 * NTYPES];
    write_file(ST_PQ_UNCOMPRESSED, 1, &buf, cols);
    for (int k = 0; k < 2 * NTYPES; k++) free_values(&cols[k]);
    uint8_t *c = malloc(buf.len);
    srand(7);
    st_pq_limits lim = {1 << 16, 1 << 20};
    for (int round = 0; round < 300; round++) {
        memcpy(c, buf.data, buf.len);
        for (int k = 0; k < 4; k++) c[(size_t)rand() % buf.len] ^= (uint8_t)(1 + rand() % 255);
        st_pq_file *f;
        if (st_pq_open(&err, c, buf.len, "r", &lim, &f) != STRATA_OK) continue;
        for (int g = 0; g < st_pq_nrowgroups(f); g++)
            for (int k = 0; k < st_pq_ncolumns(f); k++) {
                st_pq_values v;
                if (st_pq_read_column(f, g, k, &v) == STRATA_OK) st_pq_values_release(&v);
            }
        st_pq_close(f);
    }
    free(c);
    free(buf.data);
    st_err_destroy(&err);
}

static void nested_schema_refused(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_tc_writer t = {0};
    st_tc_w_struct(&t, 0);
    st_tc_w_list(&t, 2, ST_TC_STRUCT, 3);
    st_tc_w_struct(&t, 0);
    st_tc_w_binary(&t, 4, "schema", 6);
    st_tc_w_i32(&t, 5, 2);
    st_tc_w_end(&t);
    st_tc_w_struct(&t, 0);
    st_tc_w_i32(&t, 3, 1);
    st_tc_w_binary(&t, 4, "tags", 4);
    st_tc_w_i32(&t, 5, 1);
    st_tc_w_end(&t);
    st_tc_w_struct(&t, 0);
    st_tc_w_i32(&t, 1, ST_PQ_INT32);
    st_tc_w_i32(&t, 3, 2);
    st_tc_w_binary(&t, 4, "element", 7);
    st_tc_w_end(&t);
    st_tc_w_i64(&t, 3, 0);
    st_tc_w_end(&t);
    st_pq_buf buf = {0};
    st_pq_buf_write(&buf, "PAR1", 4);
    st_pq_buf_write(&buf, t.p, t.len);
    uint8_t tail[8] = {(uint8_t)t.len, 0, 0, 0, 'P', 'A', 'R', '1'};
    st_pq_buf_write(&buf, tail, 8);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "n.parquet", NULL, &f), STRATA_EUNSUPPORTED,
              &err);
    assert_string_equal(err.msg, "cannot read parquet file 'n.parquet': column 'tags': nested "
                                 "types (LIST, MAP, STRUCT) are not supported");
    st_tc_writer_free(&t);
    free(buf.data);
    st_err_destroy(&err);
}

/* ---- DELTA encodings ------------------------------------------------------------------------ */

static int bits_of(uint64_t x)
{
    int b = 0;
    while (x) b++, x >>= 1;
    return b;
}

/* DELTA_BINARY_PACKED of V[0..N): blocks of 128 values in 4 miniblocks of 32, as Encodings.md. */
static void delta_encode(st_tc_writer *w, const int64_t *v, int64_t n)
{
    st_tc_w_varint(w, 128);
    st_tc_w_varint(w, 4);
    st_tc_w_varint(w, (uint64_t)n);
    st_tc_w_varint(w, ((uint64_t)(n ? v[0] : 0) << 1) ^ (uint64_t)((n ? v[0] : 0) >> 63));
    for (int64_t b = 1; b < n; b += 128) {
        int64_t m = n - b < 128 ? n - b : 128;
        uint64_t d[128] = {0};
        int64_t min = INT64_MAX;
        for (int64_t i = 0; i < m; i++) {
            int64_t delta = (int64_t)((uint64_t)v[b + i] - (uint64_t)v[b + i - 1]);
            min = delta < min ? delta : min;
            d[i] = (uint64_t)delta;
        }
        st_tc_w_varint(w, ((uint64_t)min << 1) ^ (uint64_t)(min >> 63));
        int bw[4] = {0};
        for (int64_t i = 0; i < m; i++) {
            d[i] -= (uint64_t)min;
            int k = bits_of(d[i]);
            if (k > bw[i / 32]) bw[i / 32] = k;
        }
        for (int k = 0; k < 4; k++) st_tc_w_byte(w, (uint8_t)bw[k]);
        for (int k = 0; k < 4 && k * 32 < m; k++) {
            uint8_t bytes[32 * 8] = {0};
            for (int j = 0; j < 32; j++)
                for (int t = 0; t < bw[k]; t++)
                    if ((d[k * 32 + j] >> t) & 1) {
                        int bit = j * bw[k] + t;
                        bytes[bit / 8] |= (uint8_t)(1u << (bit % 8));
                    }
            for (int q = 0; q < 4 * bw[k]; q++) st_tc_w_byte(w, bytes[q]);
        }
    }
}

static void delta_binary_packed_decodes(void **state)
{
    (void)state;
    /* Encodings.md's example: 7 5 3 1 2 3 4 5 */
    const uint8_t spec[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0x00, 0x00,
                            0x00, 0xC0, 0x3F, 0,    0,    0,    0,    0,    0};
    int64_t out[300];
    size_t used;
    const char *why = "";
    assert_int_equal(st_pq_delta_decode(spec, sizeof spec, out, 8, &used, &why), STRATA_OK);
    int64_t want[8] = {7, 5, 3, 1, 2, 3, 4, 5};
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(used, sizeof spec);
    assert_int_equal(st_pq_delta_decode(spec, sizeof spec - 7, out, 8, &used, &why),
                     STRATA_ECORRUPT);
    assert_string_equal(why, "delta miniblock runs past the end");

    /* our encoder's blocks, with extremes that wrap, decode back */
    int64_t v[300];
    srand(3);
    for (int i = 0; i < 300; i++)
        v[i] = (int64_t)(((uint64_t)rand() << 33) ^ (uint64_t)rand()) >> (i % 60);
    v[10] = INT64_MIN, v[11] = INT64_MAX, v[12] = INT64_MIN;
    st_tc_writer w = {0};
    delta_encode(&w, v, 300);
    assert_int_equal(st_pq_delta_decode(w.p, w.len, out, 300, &used, &why), STRATA_OK);
    assert_memory_equal(out, v, sizeof v);
    assert_int_equal(used, w.len);
    /* a cut fails, or (when it removes only the last miniblock's padding) decodes the same */
    for (size_t cut = 0; cut < w.len; cut++) {
        memset(out, 0, sizeof out);
        if (st_pq_delta_decode(w.p, cut, out, 300, &used, &why) == STRATA_OK) {
            assert_true(cut > w.len - 8 * 32);
            assert_memory_equal(out, v, sizeof v);
        }
    }
    st_tc_writer_free(&w);
}

/* A DELTA_BYTE_ARRAY page of an optional string column: apple, null, applesauce, apply, b. */
static void delta_byte_array_page_decodes(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_tc_writer body = {0};
    uint8_t def[] = {2, 0, 0, 0, 0x03, 0x1D}; /* v1 levels: length 2, one group: 1 0 1 1 1 */
    for (size_t i = 0; i < sizeof def; i++) st_tc_w_byte(&body, def[i]);
    int64_t pre[4] = {0, 5, 4, 0}, suf[4] = {5, 5, 1, 1};
    delta_encode(&body, pre, 4);
    delta_encode(&body, suf, 4);
    for (const char *c = "applesauceyb"; *c; c++) st_tc_w_byte(&body, (uint8_t)*c);
    st_tc_writer p = {0};
    add_page(&p, ST_PQ_DATA_PAGE, 5, ST_PQ_ENC_DELTA_BYTE_ARRAY, body.p, body.len);
    st_pq_buf buf;
    build_file(ST_PQ_BYTE_ARRAY, 1, 5, p.p, p.len, 0, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "dba.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_OK, &err);
    int64_t off[6] = {0, 5, 5, 15, 20, 21};
    assert_memory_equal(v.offsets, off, sizeof off);
    assert_memory_equal(v.bytes, "appleapplesauceapplyb", 21);
    assert_int_equal(v.null_count, 1);
    st_pq_values_release(&v);
    st_pq_close(f);
    free(buf.data);
    st_tc_writer_free(&p);
    st_tc_writer_free(&body);
    st_err_destroy(&err);
}

static void unsupported_codec_and_limits_fail_with_their_reason(void **state)
{
    (void)state;
    st_err err;
    st_err_init(&err);
    st_tc_writer p = {0};
    uint8_t body[8] = {0};
    add_page(&p, ST_PQ_DATA_PAGE, 2, ST_PQ_ENC_PLAIN, body, sizeof body);
    st_pq_buf buf;
    build_file_codec(ST_PQ_INT32, 0, 2, p.p, p.len, 0, ST_PQ_LZ4, &buf);
    st_pq_file *f;
    assert_pq(st_pq_open(&err, buf.data, buf.len, "z.parquet", NULL, &f), STRATA_OK, &err);
    st_pq_values v;
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_EUNSUPPORTED, &err);
    assert_string_equal(err.msg, "cannot read column 'col' of row group 0 of 'z.parquet', page 0: "
                                 "codec LZ4 is not supported");
    st_pq_close(f);
    free(buf.data);
    /* a page claiming more bytes than its compressed ones can hold is not allocated */
    st_tc_writer big = {0};
    st_pq_page pg = {.type = ST_PQ_DATA_PAGE,
                     .uncompressed_size = 1 << 29,
                     .compressed_size = (int32_t)sizeof body,
                     .num_values = 2,
                     .encoding = ST_PQ_ENC_PLAIN};
    st_pq_page_header_write(&big, &pg);
    st_tc_w_raw(&big, body, sizeof body);
    build_file_codec(ST_PQ_INT32, 0, 2, big.p, big.len, 0, ST_PQ_GZIP, &buf);
    assert_pq(st_pq_open(&err, buf.data, buf.len, "z.parquet", NULL, &f), STRATA_OK, &err);
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_ECORRUPT, &err);
    assert_string_equal(err.msg, "cannot read column 'col' of row group 0 of 'z.parquet', page 0: "
                                 "page claims 536870912 bytes uncompressed, more than its 8 GZIP "
                                 "bytes hold");
    st_pq_close(f);
    free(buf.data);
    st_tc_writer_free(&big);
    st_pq_limits lim = {1, 0};
    build_file(ST_PQ_INT32, 0, 2, p.p, p.len, 0, &buf);
    assert_pq(st_pq_open(&err, buf.data, buf.len, "z.parquet", &lim, &f), STRATA_OK, &err);
    assert_pq(st_pq_read_column(f, 0, 0, &v), STRATA_ERANGE, &err);
    assert_string_equal(err.msg, "cannot read column 'col' of row group 0 of 'z.parquet': "
                                 "2 rows, over the limit of 1");
    st_pq_close(f);
    free(buf.data);
    st_tc_writer_free(&p);
    st_err_destroy(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thrift_round_trips_and_skips_unknown_fields),
        cmocka_unit_test(thrift_refuses_overlong_and_deep_values),
        cmocka_unit_test(round_trip_uncompressed),
        cmocka_unit_test(round_trip_snappy),
        cmocka_unit_test(round_trip_gzip),
        cmocka_unit_test(round_trip_zstd),
        cmocka_unit_test(large_dictionaries_round_trip),
        cmocka_unit_test(empty_row_group_and_all_null_column_round_trip),
        cmocka_unit_test(writer_refuses_bad_columns),
        cmocka_unit_test(dictionary_pages_decode),
        cmocka_unit_test(dictionary_index_out_of_range_fails),
        cmocka_unit_test(v2_page_with_rle_booleans_decodes),
        cmocka_unit_test(bad_magic_and_truncated_footer_fail),
        cmocka_unit_test(truncations_fail_cleanly),
        cmocka_unit_test(lying_page_size_fails),
        cmocka_unit_test(random_corruption_never_crashes),
        cmocka_unit_test(nested_schema_refused),
        cmocka_unit_test(delta_binary_packed_decodes),
        cmocka_unit_test(delta_byte_array_page_decodes),
        cmocka_unit_test(unsupported_codec_and_limits_fail_with_their_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
