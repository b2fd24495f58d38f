/* Pools, regions and the array lifecycle: create, open, close, delete, stat, list, backups, and
 * every error they can give. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "pool/pool.h"
#include "test_util.h"

/* ---- pools ---------------------------------------------------------------------------------- */

static void create_open_close_round_trip(void **state)
{
    (void)state;
    char *p = scratch_path("pool");
    strata_pool *pool;
    assert_int_equal(strata_pool_create(p, &pool), STRATA_OK);
    assert_string_equal(strata_pool_path(pool), p);
    assert_string_equal(strata_errmsg(pool), "");
    strata_pool_close(pool);
    assert_int_equal(strata_pool_open(p, &pool), STRATA_OK);
    strata_pool_close(pool);
    strata_pool_close(NULL); /* a no-op */
    char err[512];
    assert_int_equal(strata_pool_create_err(p, &pool, err, sizeof err), STRATA_EEXIST);
    assert_non_null(strstr(err, "already a strata pool"));
    assert_null(pool);
    scratch_free(p);
}

static void find_or_create_reads_naturally(void **state)
{
    (void)state;
    char *p = scratch_path("foc");
    strata_pool *pool = NULL;
    int rc = strata_pool_open(p, &pool);
    assert_int_equal(rc, STRATA_ENOTFOUND);
    if (rc == STRATA_ENOTFOUND) rc = strata_pool_create(p, &pool);
    assert_int_equal(rc, STRATA_OK);
    assert_ok(pool, strata_region_create(pool, "demo"));
    strata_array *a = NULL;
    rc = strata_array_open(pool, "demo", "a", &a);
    assert_int_equal(rc, STRATA_ENOTFOUND);
    if (rc == STRATA_ENOTFOUND) rc = strata_array_create(pool, "demo", "a", STRATA_I64, 100, &a);
    assert_int_equal(rc, STRATA_OK);
    strata_array_close(a);
    assert_ok(pool, strata_array_open(pool, "demo", "a", &a));
    strata_array_close(a);
    strata_pool_close(pool);
    scratch_free(p);
}

static void not_a_pool_newer_pool_and_damaged_catalog_are_clear_errors(void **state)
{
    (void)state;
    char *p = scratch_path("bad");
    strata_pool *pool;
    char err[1024];
    /* a plain directory */
    mkdir(p, 0755);
    assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_ENOTFOUND);
    assert_non_null(strstr(err, "is not a strata pool"));
    assert_null(pool);
    /* a non-empty directory cannot become a pool */
    char f[4200];
    snprintf(f, sizeof f, "%s/other.txt", p);
    fclose(fopen(f, "w"));
    assert_int_equal(strata_pool_create_err(p, &pool, err, sizeof err), STRATA_EEXIST);
    assert_non_null(strstr(err, "not empty"));
    unlink(f);
    rmdir(p);
    /* a pool of a newer format */
    assert_int_equal(strata_pool_create(p, &pool), STRATA_OK);
    strata_pool_close(pool);
    snprintf(f, sizeof f, "%s/STRATA_POOL", p);
    FILE *m = fopen(f, "w");
    fputs("strata pool\nformat 99\n", m);
    fclose(m);
    assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(err, "format 99"));
    m = fopen(f, "w");
    fputs("garbage", m);
    fclose(m);
    assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_ECORRUPT);
    const char *pg = getenv("STRATA_CATALOG");
    if (pg != NULL && pg[0] != '\0') {
        /* a marker naming a schema that holds no catalog; a server that cannot be reached */
        m = fopen(f, "w");
        fprintf(m, "strata pool\nformat 2\ncatalog postgresql\nconninfo %s\nschema nosuch\n", pg);
        fclose(m);
        assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_ECORRUPT);
        assert_non_null(strstr(err, "is not a strata catalog (no schema_version table)"));
        m = fopen(f, "w");
        fputs("strata pool\nformat 2\ncatalog postgresql\nconninfo host=127.0.0.1 port=1 "
              "dbname=strata connect_timeout=3\nschema nosuch\n",
              m);
        fclose(m);
        assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_EIO);
        assert_non_null(strstr(err, "cannot reach the catalog at host=127.0.0.1 port=1"));
        assert_non_null(strstr(err, "is PostgreSQL running there"));
        assert_null(pool);
    }
    m = fopen(f, "w");
    fputs("strata pool\nformat 1\n", m);
    fclose(m);
    snprintf(f, sizeof f, "%s/catalog.db", p);
    if (pg == NULL || pg[0] == '\0') {
        /* a damaged catalog */
        snprintf(f, sizeof f, "%s/catalog.db-wal", p); /* the WAL outlives connections */
        unlink(f);
        snprintf(f, sizeof f, "%s/catalog.db-shm", p);
        unlink(f);
        snprintf(f, sizeof f, "%s/catalog.db", p);
        int fd = open(f, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "this is not sqlite at all!", 26, 0), 26);
        close(fd);
        assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_ECORRUPT);
        assert_non_null(strstr(err, "catalog"));
        assert_null(pool);
    }
    /* a missing catalog */
    unlink(f);
    assert_int_equal(strata_pool_open_err(p, &pool, err, sizeof err), STRATA_ECORRUPT);
    assert_non_null(strstr(err, "missing"));
    /* a path that is a file */
    snprintf(f, sizeof f, "%s/STRATA_POOL", p);
    assert_int_equal(strata_pool_open_err(f, &pool, err, sizeof err), STRATA_ENOTFOUND);
    assert_int_equal(strata_pool_open_err("", &pool, err, sizeof err), STRATA_EINVAL);
    scratch_free(p);
}

/* ---- regions -------------------------------------------------------------------------------- */

static int collect(void *ctx, const char *name)
{
    char *buf = ctx;
    strcat(buf, name);
    strcat(buf, ",");
    return 0;
}

static int stop_at_first(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return 42;
}

static void regions_create_list_delete(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_region_create(f->pool, "b"));
    assert_ok(f->pool, strata_region_create(f->pool, "a"));
    assert_status(f->pool, strata_region_create(f->pool, "a"), STRATA_EEXIST);
    assert_errmsg_has(f->pool, "region 'a' already exists");
    char buf[256] = "";
    assert_ok(f->pool, strata_region_list(f->pool, collect, buf));
    assert_string_equal(buf, "a,b,r,");
    assert_int_equal(strata_region_list(f->pool, stop_at_first, NULL), 42);
    assert_ok(f->pool, strata_region_exists(f->pool, "a"));
    assert_status(f->pool, strata_region_exists(f->pool, "zz"), STRATA_ENOTFOUND);
    assert_ok(f->pool, strata_array_create(f->pool, "a", "x", STRATA_I32, 10, NULL));
    assert_ok(f->pool, strata_region_delete(f->pool, "a", 0));
    assert_status(f->pool, strata_region_exists(f->pool, "a"), STRATA_ENOTFOUND);
    assert_status(f->pool, strata_region_delete(f->pool, "a", 0), STRATA_ENOTFOUND);
    strata_array *x;
    assert_status(f->pool, strata_array_open(f->pool, "a", "x", &x), STRATA_ENOTFOUND);
    /* the region can be made again, empty */
    assert_ok(f->pool, strata_region_create(f->pool, "a"));
    assert_status(f->pool, strata_array_open(f->pool, "a", "x", &x), STRATA_ENOTFOUND);
}

static void bad_region_names_fail_with_ename(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"", "a/b", "..", "../etc", "x\ny", "-r"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_status(f->pool, strata_region_create(f->pool, bad[i]), STRATA_ENAME);
        assert_status(f->pool, strata_array_create(f->pool, bad[i], "a", STRATA_I8, 1, NULL),
                      STRATA_ENAME);
    }
    char big[300];
    memset(big, 'q', 299);
    big[299] = '\0';
    assert_status(f->pool, strata_region_create(f->pool, big), STRATA_ENAME);
    assert_errmsg_has(f->pool, "255");
}

/* ---- arrays --------------------------------------------------------------------------------- */

static void create_stat_list_every_dtype(void **state)
{
    fixture *f = *state;
    for (int t = STRATA_I8; t <= STRATA_STR; t++) {
        char name[16];
        snprintf(name, sizeof name, "t%02d", t);
        strata_array *a;
        assert_ok(f->pool, strata_array_create(f->pool, "r", name, (strata_dtype)t, 1000, &a));
        strata_array_info info;
        assert_ok(f->pool, strata_array_stat(a, STRATA_STAT_CHECKSUM, &info));
        assert_string_equal(info.region, "r");
        assert_string_equal(info.name, name);
        assert_int_equal(info.dtype, t);
        assert_int_equal(info.length, 1000);
        assert_int_equal(strata_array_length(a), 1000);
        assert_int_equal(strata_array_dtype(a), t);
        if (t == STRATA_STR) {
            assert_int_equal(info.bytes, 1001 * 8);
            assert_non_null(info.bytes_path);
        } else {
            assert_int_equal(info.bytes, 1000 * strata_dtype_size((strata_dtype)t));
            assert_null(info.bytes_path);
        }
        assert_true(info.has_checksum);
        assert_true(info.created_ns > 0);
        assert_int_equal(access(info.path, R_OK), 0);
        strata_array_close(a);
    }
}

struct names {
    char buf[512];
};

static int collect_array(void *ctx, const strata_array_info *info)
{
    struct names *nm = ctx;
    char one[64];
    snprintf(one, sizeof one, "%s:%s:%llu,", info->name, strata_dtype_name(info->dtype),
             (unsigned long long)info->length);
    strcat(nm->buf, one);
    return 0;
}

static void list_is_in_name_order(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "zeta", STRATA_F32, 3, NULL));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "alpha", STRATA_U16, 2, NULL));
    struct names nm = {""};
    assert_ok(f->pool, strata_array_list(f->pool, "r", collect_array, &nm));
    assert_string_equal(nm.buf, "alpha:u16:2,zeta:f32:3,");
    assert_status(f->pool, strata_array_list(f->pool, "nope", collect_array, &nm),
                  STRATA_ENOTFOUND);
    assert_status(f->pool, strata_array_list(f->pool, "r", NULL, NULL), STRATA_EINVAL);
}

static void create_errors(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 4, NULL));
    assert_status(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 4, NULL),
                  STRATA_EEXIST);
    assert_errmsg_has(f->pool, "array 'r/a' already exists");
    assert_status(f->pool, strata_array_create(f->pool, "nope", "a", STRATA_I64, 4, NULL),
                  STRATA_ENOTFOUND);
    assert_errmsg_has(f->pool, "region 'nope' not found");
    assert_status(f->pool, strata_array_create(f->pool, "r", "b", (strata_dtype)77, 4, NULL),
                  STRATA_ETYPE);
    assert_status(f->pool, strata_array_create(f->pool, "r", "b", STRATA_I64, UINT64_MAX, NULL),
                  STRATA_ERANGE);
    const char *bad[] = {"", "a/b", "..", "a..b", "x\x01", "-x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_status(f->pool, strata_array_create(f->pool, "r", bad[i], STRATA_I8, 1, NULL),
                      STRATA_ENAME);
    char big[257];
    memset(big, 'a', 256);
    big[256] = '\0';
    assert_status(f->pool, strata_array_create(f->pool, "r", big, STRATA_I8, 1, NULL),
                  STRATA_ENAME);
    big[255] = '\0';
    assert_ok(f->pool, strata_array_create(f->pool, "r", big, STRATA_I8, 1, NULL));
    strata_array *a;
    assert_status(f->pool, strata_array_open(f->pool, "r", "missing", &a), STRATA_ENOTFOUND);
    assert_null(a);
    assert_errmsg_has(f->pool, "array 'r/missing' not found");
    assert_status(f->pool, strata_array_create_from(f->pool, "r", "c", STRATA_I8, 3, NULL, NULL),
                  STRATA_EINVAL);
    assert_status(f->pool, strata_array_create_from(f->pool, "r", "c", STRATA_STR, 0, "", NULL),
                  STRATA_ETYPE);
    uint8_t bools[3] = {1, 0, 2};
    assert_status(f->pool, strata_array_create_from(f->pool, "r", "c", STRATA_BOOL, 3, bools, NULL),
                  STRATA_EINVAL);
    assert_errmsg_has(f->pool, "position 2");
    /* nothing of the failed creates was published */
    assert_status(f->pool, strata_array_open(f->pool, "r", "c", &a), STRATA_ENOTFOUND);
}

static void create_from_is_visible_with_its_values(void **state)
{
    fixture *f = *state;
    double v[5] = {1.5, -2, 3e300, 0, -0.0};
    strata_array *a;
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", "d", STRATA_F64, 5, v, &a));
    double back[5];
    assert_ok(f->pool, strata_array_get(a, 0, 5, back));
    assert_memory_equal(v, back, sizeof v);
    strata_array_close(a);
    assert_ok(f->pool, strata_array_open(f->pool, "r", "d", &a));
    assert_ok(f->pool, strata_array_get(a, 0, 5, back));
    assert_memory_equal(v, back, sizeof v);
    strata_array_close(a);
}

static void double_close_and_use_after_close_are_harmless(void **state)
{
    fixture *f = *state;
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "a", STRATA_I64, 4, &a));
    strata_array_close(a);
    strata_array_close(a); /* detected: a tombstone, not freed memory */
    int64_t v = 0;
    assert_status(f->pool, strata_array_get(a, 0, 1, &v), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "already closed");
    assert_status(f->pool, strata_array_put(a, 0, 1, &v), STRATA_EINVAL);
    strata_array_close(NULL);
    assert_status(f->pool, strata_array_get(NULL, 0, 1, &v), STRATA_EINVAL);
    /* many open/close cycles stay bounded: old tombstones are recycled */
    for (int i = 0; i < 5000; i++) {
        assert_ok(f->pool, strata_array_open(f->pool, "r", "a", &a));
        strata_array_close(a);
    }
}

static void delete_removes_record_and_files_and_invalidates_handles(void **state)
{
    fixture *f = *state;
    strata_array *a, *b;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "gone", STRATA_I32, 8, &a));
    assert_ok(f->pool, strata_array_open(f->pool, "r", "gone", &b));
    strata_array_info info;
    assert_ok(f->pool, strata_array_stat(a, 0, &info));
    char path[4200];
    snprintf(path, sizeof path, "%s", info.path);
    assert_ok(f->pool, strata_array_delete(f->pool, "r", "gone"));
    assert_int_not_equal(access(path, F_OK), 0);
    int32_t v = 1;
    assert_status(f->pool, strata_array_put(a, 0, 1, &v), STRATA_ENOTFOUND);
    assert_errmsg_has(f->pool, "was deleted");
    assert_status(f->pool, strata_array_get(b, 0, 1, &v), STRATA_ENOTFOUND);
    assert_status(f->pool, strata_array_stat(b, 0, &info), STRATA_ENOTFOUND);
    assert_status(f->pool, strata_array_fetch_add_i64(b, 0, 1, NULL), STRATA_ETYPE);
    assert_status(f->pool, strata_array_delete(f->pool, "r", "gone"), STRATA_ENOTFOUND);
    strata_array_close(a);
    strata_array_close(b);
    /* the name is free again */
    assert_ok(f->pool, strata_array_create(f->pool, "r", "gone", STRATA_I8, 1, NULL));
}

static void a_file_not_matching_the_catalog_is_corrupt(void **state)
{
    fixture *f = *state;
    strata_array *a;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "victim", STRATA_I64, 100, &a));
    strata_array_info info;
    assert_ok(f->pool, strata_array_stat(a, 0, &info));
    char path[4200];
    snprintf(path, sizeof path, "%s", info.path);
    strata_array_close(a);
    assert_int_equal(truncate(path, 200), 0); /* shorter than 100 elements */
    assert_status(f->pool, strata_array_open(f->pool, "r", "victim", &a), STRATA_ECORRUPT);
    assert_errmsg_has(f->pool, "does not match the catalog");
    assert_int_equal(truncate(path, 5), 0);
    assert_status(f->pool, strata_array_open(f->pool, "r", "victim", &a), STRATA_ECORRUPT);
    unlink(path);
    assert_status(f->pool, strata_array_open(f->pool, "r", "victim", &a), STRATA_ECORRUPT);
    assert_errmsg_has(f->pool, "missing");
}

static void string_arrays_are_packed_and_immutable(void **state)
{
    fixture *f = *state;
    const char bytes[] = "helloworldü";
    int64_t off[5] = {0, 5, 10, 10, 12};
    strata_array *s;
    assert_ok(f->pool, strata_array_create_str(f->pool, "r", "s", 4, off, bytes, &s));
    const char *p;
    size_t n;
    assert_ok(f->pool, strata_array_get_str(s, 1, &p, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(p, "world", 5);
    assert_ok(f->pool, strata_array_get_str(s, 2, &p, &n));
    assert_int_equal(n, 0);
    assert_ok(f->pool, strata_array_get_str(s, 3, &p, &n));
    assert_memory_equal(p, "ü", 2);
    assert_status(f->pool, strata_array_get_str(s, 4, &p, &n), STRATA_ERANGE);
    const int64_t *mo;
    const char *mb;
    assert_ok(f->pool, strata_array_map_str(s, &mo, &mb));
    assert_int_equal(mo[4], 12);
    int64_t v = 0;
    assert_status(f->pool, strata_array_put(s, 0, 1, &v), STRATA_ETYPE);
    assert_status(f->pool, strata_array_get(s, 0, 1, &v), STRATA_ETYPE);
    void *w;
    assert_status(f->pool, strata_array_map(s, STRATA_MAP_WRITE, &w), STRATA_ETYPE);
    assert_status(f->pool, strata_array_fetch_add_i64(s, 0, 1, NULL), STRATA_ETYPE);
    strata_array_info info;
    assert_ok(f->pool, strata_array_stat(s, STRATA_STAT_CHECKSUM, &info));
    assert_int_equal(info.bytes, 5 * 8 + 12);
    strata_array_close(s);
    /* reopen and read back */
    assert_ok(f->pool, strata_array_open(f->pool, "r", "s", &s));
    assert_ok(f->pool, strata_array_get_str(s, 0, &p, &n));
    assert_memory_equal(p, "hello", 5);
    strata_array_close(s);
    /* bad offsets */
    int64_t bad1[3] = {1, 2, 3}, bad2[3] = {0, 3, 2};
    assert_status(f->pool, strata_array_create_str(f->pool, "r", "b1", 2, bad1, bytes, NULL),
                  STRATA_EINVAL);
    assert_status(f->pool, strata_array_create_str(f->pool, "r", "b2", 2, bad2, bytes, NULL),
                  STRATA_EINVAL);
    assert_errmsg_has(f->pool, "decrease");
    int64_t empty = 0;
    assert_ok(f->pool, strata_array_create_str(f->pool, "r", "e", 0, &empty, NULL, NULL));
    assert_ok(f->pool, strata_array_create(f->pool, "r", "e2", STRATA_STR, 3, &s));
    assert_ok(f->pool, strata_array_get_str(s, 2, &p, &n));
    assert_int_equal(n, 0);
    strata_array_close(s);
}

static void npy_in_and_out(void **state)
{
    fixture *f = *state;
    int32_t v[6] = {1, -2, 3, -4, 5, 2147483647};
    strata_array *a, *b;
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", "a", STRATA_I32, 6, v, &a));
    char out[4200];
    snprintf(out, sizeof out, "%s/../out.npy", f->path);
    assert_ok(f->pool, strata_array_get_npy(a, 1, 4, out));
    assert_ok(f->pool, strata_array_create_npy(f->pool, "r", "b", out, &b));
    assert_int_equal(strata_array_length(b), 4);
    assert_int_equal(strata_array_dtype(b), STRATA_I32);
    int32_t back[4];
    assert_ok(f->pool, strata_array_get(b, 0, 4, back));
    assert_memory_equal(back, v + 1, sizeof back);
    assert_ok(f->pool, strata_array_put_npy(a, 2, out)); /* a = 1 -2 -2 3 -4 5 */
    int32_t all[6];
    assert_ok(f->pool, strata_array_get(a, 0, 6, all));
    int32_t want[6] = {1, -2, -2, 3, -4, 5};
    assert_memory_equal(all, want, sizeof all);
    assert_status(f->pool, strata_array_put_npy(a, 3, out), STRATA_ERANGE);
    strata_array *d;
    assert_ok(f->pool, strata_array_create(f->pool, "r", "dbl", STRATA_F64, 10, &d));
    assert_status(f->pool, strata_array_put_npy(d, 0, out), STRATA_ETYPE);
    assert_errmsg_has(f->pool, "but array 'r/dbl' is f64");
    assert_status(f->pool, strata_array_get_npy(a, 5, 2, out), STRATA_ERANGE);
    assert_status(f->pool, strata_array_create_npy(f->pool, "r", "c", "/nonexistent.npy", NULL),
                  STRATA_ENOTFOUND);
    snprintf(out, sizeof out, "%s/../garbage.npy", f->path);
    FILE *g = fopen(out, "w");
    fputs("\x93NUMPY\x01\x00\x10\x00{'descr': '<i8'", g);
    fclose(g);
    assert_status(f->pool, strata_array_create_npy(f->pool, "r", "c", out, NULL), STRATA_EINVAL);
    strata_array *c;
    assert_status(f->pool, strata_array_open(f->pool, "r", "c", &c), STRATA_ENOTFOUND);
    strata_array_close(a);
    strata_array_close(b);
    strata_array_close(d);
}

static void npy_header_for_streamed_files(void **state)
{
    (void)state;
    char hdr[256];
    int n = strata_npy_header(STRATA_F32, 12345, hdr, sizeof hdr);
    assert_true(n > 0 && n % 64 == 0);
    assert_memory_equal(hdr, "\x93NUMPY\x01\x00", 8);
    assert_non_null(memmem(hdr, (size_t)n, "'descr': '<f4'", 14));
    assert_non_null(memmem(hdr, (size_t)n, "(12345,)", 8));
    assert_int_equal(strata_npy_header(STRATA_STR, 1, hdr, sizeof hdr), STRATA_EINVAL);
    assert_int_equal(strata_npy_header((strata_dtype)99, 1, hdr, sizeof hdr), STRATA_EINVAL);
    assert_int_equal(strata_npy_header(STRATA_I64, 1, hdr, 10), STRATA_ERANGE);
}

static void backup_and_restore(void **state)
{
    fixture *f = *state;
    int64_t v[4] = {10, 20, 30, 40};
    strata_array *a;
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", "a", STRATA_I64, 4, v, &a));
    assert_ok(f->pool, strata_array_backup(a, "bk"));
    assert_status(f->pool, strata_array_backup(a, "bk"), STRATA_EEXIST);
    assert_status(f->pool, strata_array_backup(a, "b/k"), STRATA_ENAME);
    int64_t z[4] = {0};
    assert_ok(f->pool, strata_array_put(a, 0, 4, z));
    assert_ok(f->pool, strata_backup_restore(f->pool, "bk", "r", "a"));
    int64_t back[4];
    assert_ok(f->pool, strata_array_get(a, 0, 4, back)); /* restored in place: the handle sees it */
    assert_memory_equal(back, v, sizeof v);
    /* restore into a new array in a new region */
    assert_ok(f->pool, strata_backup_restore(f->pool, "bk", "fresh", "copy"));
    strata_array *c;
    assert_ok(f->pool, strata_array_open(f->pool, "fresh", "copy", &c));
    assert_ok(f->pool, strata_array_get(c, 0, 4, back));
    assert_memory_equal(back, v, sizeof v);
    strata_array_close(c);
    /* mismatches */
    assert_ok(f->pool, strata_array_create(f->pool, "r", "short", STRATA_I64, 3, NULL));
    assert_status(f->pool, strata_backup_restore(f->pool, "bk", "r", "short"), STRATA_ERANGE);
    assert_ok(f->pool, strata_array_create(f->pool, "r", "f", STRATA_F64, 4, NULL));
    assert_status(f->pool, strata_backup_restore(f->pool, "bk", "r", "f"), STRATA_ETYPE);
    assert_status(f->pool, strata_backup_restore(f->pool, "nope", "r", "a"), STRATA_ENOTFOUND);
    char buf[256] = "";
    assert_ok(f->pool, strata_backup_list(f->pool, collect, buf));
    assert_string_equal(buf, "bk,");
    /* a damaged backup is refused and changes nothing */
    char bdir[4200];
    snprintf(bdir, sizeof bdir, "%s/backups", f->path);
    DIR *d = opendir(bdir);
    struct dirent *de;
    char victim[4800] = "";
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".npy")) snprintf(victim, sizeof victim, "%s/%s", bdir, de->d_name);
    closedir(d);
    int fd = open(victim, O_WRONLY);
    assert_int_equal(pwrite(fd, "\x01", 1, 64), 1);
    close(fd);
    assert_ok(f->pool, strata_array_put(a, 0, 4, z));
    assert_status(f->pool, strata_backup_restore(f->pool, "bk", "r", "a"), STRATA_ECORRUPT);
    assert_errmsg_has(f->pool, "checksum");
    assert_ok(f->pool, strata_array_get(a, 0, 4, back));
    assert_memory_equal(back, z, sizeof z);
    assert_ok(f->pool, strata_backup_delete(f->pool, "bk"));
    assert_status(f->pool, strata_backup_delete(f->pool, "bk"), STRATA_ENOTFOUND);
    assert_int_not_equal(access(victim, F_OK), 0);
    strata_array_close(a);
    /* string arrays back up and restore too */
    int64_t off[3] = {0, 2, 5};
    strata_array *s;
    assert_ok(f->pool, strata_array_create_str(f->pool, "r", "s", 2, off, "abcde", &s));
    assert_ok(f->pool, strata_array_backup(s, "sb"));
    strata_array_close(s);
    assert_ok(f->pool, strata_backup_restore(f->pool, "sb", "r", "s2"));
    assert_ok(f->pool, strata_array_open(f->pool, "r", "s2", &s));
    const char *p;
    size_t n;
    assert_ok(f->pool, strata_array_get_str(s, 1, &p, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(p, "cde", 3);
    strata_array_close(s);
    assert_status(f->pool, strata_backup_restore(f->pool, "sb", "r", "s2"), STRATA_ETYPE);
}

static void pool_close_releases_open_arrays(void **state)
{
    (void)state;
    char *p = scratch_path("close");
    strata_pool *pool;
    assert_int_equal(strata_pool_create(p, &pool), STRATA_OK);
    assert_ok(pool, strata_region_create(pool, "r"));
    strata_array *a, *b;
    assert_ok(pool, strata_array_create(pool, "r", "a", STRATA_I64, 10, &a));
    assert_ok(pool, strata_array_open(pool, "r", "a", &b));
    strata_array_close(b);
    strata_pool_close(pool); /* closes a; ASan would flag a leak */
    scratch_free(p);
}

static void settings_are_checked(void **state)
{
    fixture *f = *state;
    assert_status(f->pool, strata_pool_set_threads(f->pool, -1), STRATA_EINVAL);
    assert_ok(f->pool, strata_pool_set_threads(f->pool, 3));
    assert_status(f->pool, strata_pool_set_busy_timeout(f->pool, -5), STRATA_EINVAL);
    assert_ok(f->pool, strata_pool_set_busy_timeout(f->pool, 100));
    assert_int_equal(strata_pool_set_threads(NULL, 1), STRATA_EINVAL);
    strata_dtype t;
    assert_int_equal(strata_dtype_parse("f32", &t), STRATA_OK);
    assert_int_equal(t, STRATA_F32);
    assert_int_equal(strata_dtype_parse("int64", &t), STRATA_OK);
    assert_int_equal(t, STRATA_I64);
    assert_int_equal(strata_dtype_parse("complex", &t), STRATA_EINVAL);
    assert_null(strata_dtype_name((strata_dtype)99));
    assert_int_equal(strata_dtype_size(STRATA_BOOL), 1);
    assert_int_equal(strata_dtype_size((strata_dtype)-1), 0);
}

/* ---- files kept mapped (fmap.c) ------------------------------------------------------------ */

/* A file of SIZE bytes (byte i = i * K) at PATH, open for reading. */
static int fmap_file(const char *path, size_t size, int k)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < size; i++) fputc((int)(i * (size_t)k) & 0xff, fp);
    fclose(fp);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

static void files_are_mapped_on_their_second_read_and_evicted_oldest_first(void **state)
{
    (void)state;
    st_fmaps *c = st_fmaps_new();
    assert_non_null(c);
    char *a = scratch_path("fa"), *b = scratch_path("fb");
    int fa = fmap_file(a, 10000, 3), fb = fmap_file(b, 20000, 5);
    assert_null(st_fmaps_find(c, a));
    st_fmaps_keep(c, a, fa, 10000); /* the first read: remembered only */
    assert_null(st_fmaps_find(c, a));
    st_fmaps_keep(c, a, fa, 10000); /* the second: mapped */
    const st_fmap *m = st_fmaps_find(c, a);
    assert_non_null(m);
    assert_int_equal(m->size, 10000);
    assert_int_equal((unsigned char)m->data[7777], (7777 * 3) & 0xff);
    /* a removed file keeps its bytes while mapped */
    unlink(a);
    st_fmaps_keep(c, a, fa, 10000); /* there already: nothing */
    const st_fmap *m2 = st_fmaps_find(c, a);
    assert_ptr_equal(m2, m);
    assert_int_equal((unsigned char)m2->data[9999], (9999 * 3) & 0xff);
    st_fmaps_release(c, m2);
    st_fmaps_release(c, m);
    /* too large for the cache: never kept */
    st_fmaps_keep(c, b, fb, ST_FMAP_BYTES + 1);
    st_fmaps_keep(c, b, fb, ST_FMAP_BYTES + 1);
    assert_null(st_fmaps_find(c, b));
    /* more files than entries: the least recently used go, a held one stays */
    st_fmaps_keep(c, b, fb, 20000);
    st_fmaps_keep(c, b, fb, 20000);
    const st_fmap *held = st_fmaps_find(c, b);
    assert_non_null(held);
    for (int i = 0; i < ST_FMAP_ENTRIES + 10; i++) {
        char name[64];
        snprintf(name, sizeof name, "/nowhere/%d", i);
        st_fmaps_keep(c, name, fb, 20000); /* remembered, never mapped: no read of it */
    }
    assert_null(st_fmaps_find(c, a)); /* evicted */
    assert_ptr_equal(st_fmaps_find(c, b), held);
    assert_int_equal((unsigned char)held->data[12345], (12345 * 5) & 0xff);
    st_fmaps_release(c, held);
    st_fmaps_release(c, held);
    close(fa);
    close(fb);
    unlink(b);
    st_fmaps_free(c);
    st_fmaps_free(NULL);
    assert_null(st_fmaps_find(NULL, a));
    st_fmaps_keep(NULL, a, -1, 1);
    for (char **p = (char *[]){a, b, NULL}; *p != NULL; p++) {
        *strrchr(*p, '/') = '\0';
        rmdir(*p);
        free(*p);
    }
}

/* Threads reading through one cache while others' files push theirs out: every mapping a thread
 * holds keeps its bytes (an entry evicted or moved under a holder would show other bytes). */
typedef struct fmap_race {
    st_fmaps *c;
    char **paths;
    int *fds;
    int nfiles, seed, bad;
} fmap_race;

static void *fmap_racer(void *v)
{
    fmap_race *r = v;
    unsigned x = (unsigned)r->seed;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        int f = (int)((x >> 8) % (unsigned)r->nfiles);
        for (int k = 0; k < 3; k++) { /* churn: remembered, never read */
            char other[64];
            snprintf(other, sizeof other, "/nowhere/%d/%d/%u", r->seed, k, (x >> 4) % 700);
            st_fmaps_keep(r->c, other, r->fds[f], 4096);
        }
        const st_fmap *m = st_fmaps_find(r->c, r->paths[f]);
        if (m == NULL) {
            st_fmaps_keep(r->c, r->paths[f], r->fds[f], 4096);
            continue;
        }
        const volatile st_fmap *vm = m; /* read again each time: the entry must not move */
        for (int k = 0; k < 4096; k += 64) {
            if (k == 2048) sched_yield(); /* the others evict and insert meanwhile */
            if (vm->size != 4096 || vm->data == NULL ||
                (unsigned char)vm->data[k] != (unsigned char)((k * (f + 1)) & 0xff))
                r->bad++;
        }
        st_fmaps_release(r->c, m);
    }
    return NULL;
}

static void kept_mappings_hold_under_threads(void **state)
{
    (void)state;
    enum { NF = 200, NT = 4 };
    st_fmaps *c = st_fmaps_new();
    char *paths[NF];
    int fds[NF];
    for (int f = 0; f < NF; f++) {
        paths[f] = scratch_path("fr");
        fds[f] = fmap_file(paths[f], 4096, f + 1);
    }
    fmap_race r[NT];
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) {
        r[i] = (fmap_race){c, paths, fds, NF, i + 1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, fmap_racer, &r[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    st_fmaps_free(c);
    for (int f = 0; f < NF; f++) {
        close(fds[f]);
        unlink(paths[f]);
        *strrchr(paths[f], '/') = '\0';
        rmdir(paths[f]);
        free(paths[f]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_open_close_round_trip),
        cmocka_unit_test(files_are_mapped_on_their_second_read_and_evicted_oldest_first),
        cmocka_unit_test(kept_mappings_hold_under_threads),
        cmocka_unit_test(find_or_create_reads_naturally),
        cmocka_unit_test(not_a_pool_newer_pool_and_damaged_catalog_are_clear_errors),
        cmocka_unit_test_setup_teardown(regions_create_list_delete, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(bad_region_names_fail_with_ename, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(create_stat_list_every_dtype, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(list_is_in_name_order, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(create_errors, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(create_from_is_visible_with_its_values, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(double_close_and_use_after_close_are_harmless,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(delete_removes_record_and_files_and_invalidates_handles,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(a_file_not_matching_the_catalog_is_corrupt, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(string_arrays_are_packed_and_immutable, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(npy_in_and_out, fixture_setup, fixture_teardown),
        cmocka_unit_test(npy_header_for_streamed_files),
        cmocka_unit_test_setup_teardown(backup_and_restore, fixture_setup, fixture_teardown),
        cmocka_unit_test(pool_close_releases_open_arrays),
        cmocka_unit_test_setup_teardown(settings_are_checked, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
