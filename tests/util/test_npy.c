/* NPY headers: what Strata writes parses back, what numpy writes parses, and every malformed
 * header fails cleanly (truncations at every length, random byte flips). */
#include "test_util.h"
#include "util/chunkfile.h"
#include "util/dtype.h"
#include "util/npy.h"

static size_t make_v1(char *buf, const char *dict)
{
    size_t dl = strlen(dict);
    size_t total = (10 + dl + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xFF);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    return total;
}

static void written_headers_parse_back_aligned(void **state)
{
    (void)state;
    uint64_t lens[] = {0, 1, 100, 1ull << 40, UINT64_MAX / 16};
    for (int t = STRATA_I8; t < STRATA_STR; t++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            char h[ST_NPY_HEADER_MAX];
            size_t n = st_npy_header(h, st_dtype_descr((strata_dtype)t), lens[i]);
            assert_int_equal(n % ST_NPY_ALIGN, 0);
            assert_true(n <= ST_NPY_HEADER_MAX);
            assert_int_equal(h[n - 1], '\n');
            st_npy_info info;
            assert_int_equal(st_npy_parse(NULL, h, n, "x", &info), STRATA_OK);
            assert_int_equal(info.dtype, t);
            assert_int_equal(info.ndim, 1);
            assert_true(info.count == lens[i]);
            assert_int_equal(info.data_offset, n);
        }
    }
}

static void numpy_variants_parse(void **state)
{
    (void)state;
    char buf[256];
    st_npy_info info;
    size_t n = make_v1(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }");
    assert_int_equal(st_npy_parse(NULL, buf, n, "x", &info), STRATA_OK);
    assert_int_equal(info.dtype, STRATA_F64);
    assert_int_equal(info.ndim, 2);
    assert_int_equal(info.count, 12);
    n = make_v1(buf, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"|b1\"}");
    assert_int_equal(st_npy_parse(NULL, buf, n, "x", &info), STRATA_OK);
    assert_int_equal(info.dtype, STRATA_BOOL);
    assert_int_equal(info.count, 1);
    n = make_v1(buf, "{'descr': '|u1', 'fortran_order': True, 'shape': (5,), }");
    assert_int_equal(st_npy_parse(NULL, buf, n, "x", &info), STRATA_OK); /* 1-D: order moot */
    n = make_v1(buf, "{'descr': '<i1', 'fortran_order': False, 'shape': (0,), }");
    assert_int_equal(st_npy_parse(NULL, buf, n, "x", &info), STRATA_OK);
    assert_int_equal(info.dtype, STRATA_I8);
    /* version 2.0: 4-byte header length */
    char v2[256];
    const char *dict = "{'descr': '<u4', 'fortran_order': False, 'shape': (7,), }\n";
    memcpy(v2, "\x93NUMPY\x02\x00", 8);
    uint32_t hl = (uint32_t)strlen(dict);
    v2[8] = (char)hl;
    v2[9] = v2[10] = v2[11] = 0;
    memcpy(v2 + 12, dict, hl);
    assert_int_equal(st_npy_parse(NULL, v2, 12 + hl, "x", &info), STRATA_OK);
    assert_int_equal(info.dtype, STRATA_U32);
    assert_int_equal(info.data_offset, 12 + hl);
}

static void unsupported_content_is_refused_with_reason(void **state)
{
    (void)state;
    char buf[256];
    st_npy_info info;
    st_err e;
    st_err_init(&e);
    size_t n = make_v1(buf, "{'descr': '>i8', 'fortran_order': False, 'shape': (3,), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "be.npy", &info), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "big-endian"));
    n = make_v1(buf, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "f.npy", &info), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "Fortran"));
    n = make_v1(buf, "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "c.npy", &info), STRATA_ETYPE);
    assert_non_null(strstr(e.msg, "c.npy"));
    n = make_v1(buf, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'x': 1}");
    assert_int_equal(st_npy_parse(&e, buf, n, "k.npy", &info), STRATA_EINVAL);
    n = make_v1(buf, "{'descr': '<i8', 'shape': (3,), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "m.npy", &info), STRATA_EINVAL);
    assert_non_null(strstr(e.msg, "lacks"));
    n = make_v1(buf,
                "{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999999999999,), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "o.npy", &info), STRATA_EINVAL);
    n = make_v1(buf,
                "{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }");
    assert_int_equal(st_npy_parse(&e, buf, n, "o.npy", &info), STRATA_EINVAL);
    assert_int_equal(st_npy_parse(&e, "hello world", 11, "t.txt", &info), STRATA_EINVAL);
    assert_non_null(strstr(e.msg, "magic"));
    st_err_destroy(&e);
}

static void every_truncation_fails_cleanly(void **state)
{
    (void)state;
    char h[ST_NPY_HEADER_MAX];
    size_t n = st_npy_header(h, "<i8", 12345);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(copy, h, len);
        st_npy_info info;
        assert_int_not_equal(st_npy_parse(NULL, copy, len, "t", &info), STRATA_OK);
        free(copy);
    }
}

static void random_mutations_never_crash(void **state)
{
    (void)state;
    char h[ST_NPY_HEADER_MAX];
    size_t n = st_npy_header(h, "<f4", 777);
    unsigned seed = 12345;
    int ok = 0;
    for (int trial = 0; trial < 20000; trial++) {
        char *copy = malloc(n);
        memcpy(copy, h, n);
        int flips = 1 + (int)(rand_r(&seed) % 4);
        for (int k = 0; k < flips; k++) copy[rand_r(&seed) % n] = (char)rand_r(&seed);
        st_npy_info info;
        if (st_npy_parse(NULL, copy, n, "m", &info) == STRATA_OK) {
            ok++;
            assert_true(info.data_offset <= n);
        }
        free(copy);
    }
    assert_true(ok < 20000);
}

/* Write an NPY 1.0 file of N elements of DTYPE (values from VALUES) whose data starts at byte
 * OFFSET (any value from 64 on: the header is padded with spaces to end there). */
static void write_at(const char *path, strata_dtype dtype, uint64_t n, const void *values,
                     size_t offset)
{
    char head[512];
    int dl = snprintf(head + 10, sizeof head - 10,
                      "{'descr': '%s', 'fortran_order': False, 'shape': (%llu,), }",
                      st_dtype_descr(dtype), (unsigned long long)n);
    assert_true((size_t)dl + 11 <= offset && offset < sizeof head);
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    size_t hlen = offset - 10;
    head[8] = (char)(hlen & 0xFF);
    head[9] = (char)(hlen >> 8);
    memset(head + 10 + dl, ' ', hlen - (size_t)dl - 1);
    head[offset - 1] = '\n';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, offset, f), offset);
    assert_int_equal(fwrite(values, strata_dtype_size(dtype), n, f), n);
    fclose(f);
}

/* A header length that leaves the data unaligned for its type (old numpy wrote 16-byte aligned
 * headers; other writers use any length): the data is read correctly into aligned memory by
 * both readers, and loads from it are aligned (UBSan's -fsanitize=alignment checks). A mapping
 * is copied only when its data is unaligned; a load reads a small file into memory. */
static void unaligned_data_is_read_through_aligned_memory(void **state)
{
    (void)state;
    char *dir = scratch_path("npyalign");
    assert_non_null(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    size_t sizes[] = {1000, 3 * ST_NPY_READ_MAX}; /* elements: a small file, and a mapped one */
    unsigned char *raw = malloc(sizes[1] * 8);
    assert_non_null(raw);
    size_t offsets[] = {80, 81, 82, 83, 84, 86, 88, 96, 100, 127, 128};
    for (size_t z = 0; z < 2; z++) {
        size_t n = sizes[z];
        for (size_t i = 0; i < n * 8; i++) raw[i] = (unsigned char)(i * 7 + 3);
        for (size_t i = 0; i < n; i++) raw[i] = (unsigned char)(i % 2); /* valid bools */
        for (int t = STRATA_I8; t < STRATA_STR; t++) {
            strata_dtype dt = (strata_dtype)t;
            size_t esz = strata_dtype_size(dt);
            for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
                write_at(path, dt, n, raw, offsets[k]);
                st_npy_map m;
                st_err e;
                st_err_init(&e);
                if (st_npy_map_file(&e, path, &m) != STRATA_OK)
                    fail_msg("%s at %zu: %s", strata_dtype_name(dt), offsets[k], e.msg);
                assert_int_equal(m.info.data_offset, offsets[k]);
                assert_int_equal(m.info.count, n);
                assert_true((uintptr_t)m.data % esz == 0);
                assert_int_equal(m.heap, offsets[k] % esz != 0); /* copied only if need be */
                assert_memory_equal(m.data, raw, n * esz);
                uint64_t sum = 0; /* typed loads: UBSan would stop at a misaligned one */
                for (size_t i = 0; i < n; i++) {
                    const char *p = m.data + i * esz;
                    sum += esz == 8   ? *(const uint64_t *)(const void *)p
                           : esz == 4 ? *(const uint32_t *)(const void *)p
                           : esz == 2 ? *(const uint16_t *)(const void *)p
                                      : *(const uint8_t *)p;
                }
                (void)sum;
                st_npy_unmap(&m);
                /* loaded: a small file is read into memory, a larger one mapped */
                if (st_npy_load_file(&e, path, &m) != STRATA_OK)
                    fail_msg("load %s at %zu: %s", strata_dtype_name(dt), offsets[k], e.msg);
                int small = offsets[k] + n * esz <= ST_NPY_READ_MAX;
                assert_int_equal(m.heap, small || offsets[k] % esz != 0);
                assert_true((uintptr_t)m.data % esz == 0);
                assert_memory_equal(m.data, raw, n * esz);
                st_npy_unmap(&m);
                st_chunkbuf cb;
                if (st_chunk_read(&e, path, &cb) != STRATA_OK)
                    fail_msg("chunk %s at %zu: %s", strata_dtype_name(dt), offsets[k], e.msg);
                assert_true((uintptr_t)cb.data % esz == 0);
                assert_int_equal(cb.info.count, n);
                assert_memory_equal(cb.data, raw, n * esz);
                st_chunk_release(&cb);
                st_err_destroy(&e);
            }
        }
    }
    free(raw);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(written_headers_parse_back_aligned),
        cmocka_unit_test(numpy_variants_parse),
        cmocka_unit_test(unsupported_content_is_refused_with_reason),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(random_mutations_never_crash),
        cmocka_unit_test(unaligned_data_is_read_through_aligned_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
