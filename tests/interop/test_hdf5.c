/* HDF5 import and export through the C API, with files written by the HDF5 C library itself:
 * HDF5's automatic error printing stays silent during a call and is restored after it; imports
 * run on two threads at once (each with its own pool handle); a failed ingest publishes
 * nothing; N-d attributes go out and back in. (The h5py peer tests are tests/cli/test_hdf5.sh.) */
#include <hdf5.h>
#include <pthread.h>

#include "test_util.h"

/* An HDF5 error printer that counts its calls instead of printing. */
static int printed;
static herr_t count_prints(hid_t stack, void *data)
{
    (void)stack;
    (void)data;
    printed++;
    return 0;
}

/* Write FILE: group /g with columns a (int32, chunked, gzip) and b (float64) of N rows, and the
 * 2-D dataset /nd (int16, 40 x 30, chunks 16 x 8). */
static void write_file(const char *file, int n)
{
    hid_t f = H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t len = (hsize_t)n, ch = 7;
    hid_t sp = H5Screate_simple(1, &len, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &ch);
    H5Pset_deflate(dcpl, 4);
    int32_t *a = malloc((size_t)n * sizeof *a);
    double *b = malloc((size_t)n * sizeof *b);
    for (int i = 0; i < n; i++) {
        a[i] = i * 3 - 7;
        b[i] = i * 0.5;
    }
    hid_t d = H5Dcreate2(g, "a", H5T_STD_I32BE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, a);
    H5Dclose(d);
    d = H5Dcreate2(g, "b", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, b);
    H5Dclose(d);
    hsize_t dims[2] = {40, 30}, chunk[2] = {16, 8};
    hid_t sp2 = H5Screate_simple(2, dims, NULL), dcpl2 = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl2, 2, chunk);
    int16_t v[40 * 30];
    for (int i = 0; i < 40 * 30; i++) v[i] = (int16_t)(i * 7 % 1000);
    d = H5Dcreate2(f, "/nd", H5T_NATIVE_INT16, sp2, H5P_DEFAULT, dcpl2, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Pclose(dcpl2);
    H5Sclose(sp2);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(f);
    free(a);
    free(b);
}

static char *file_beside(const fixture *f, const char *name)
{
    char *p = malloc(strlen(f->path) + strlen(name) + 2);
    sprintf(p, "%s.%s", f->path, name);
    return p;
}

static void error_printing_is_silent_and_restored(void **state)
{
    fixture *f = *state;
    char *file = file_beside(f, "h5");
    write_file(file, 20);
    H5E_auto2_t old_fn = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, count_prints, &printed);
    printed = 0;
    assert_status(f->pool, strata_ingest_hdf5(f->pool, "r", "x", file, "/nope", NULL, NULL),
                  STRATA_ENOTFOUND);
    assert_errmsg_has(f->pool, ":/nope: no such object ('/nope' does not exist)");
    assert_status(f->pool, strata_ingest_hdf5(f->pool, "r", "x", file, "/nd", NULL, NULL),
                  STRATA_EINVAL);
    assert_errmsg_has(f->pool, ":/nd is a dataset, not a group");
    assert_int_equal(printed, 0);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    assert_true(fn == count_prints && data == &printed);
    /* HDF5 itself still prints through our function after the calls */
    hid_t h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(H5Dopen2(h, "/missing", H5P_DEFAULT) < 0);
    assert_true(printed > 0);
    H5Fclose(h);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    unlink(file);
    free(file);
}

static void ingest_publishes_once_in_batches_or_nothing(void **state)
{
    fixture *f = *state;
    char *file = file_beside(f, "h5");
    write_file(file, 1000);
    strata_ingest_opts o = {.batch_rows = 300};
    strata_ingest_stats st;
    assert_ok(f->pool, strata_ingest_hdf5(f->pool, "r", "t", file, "/g", &o, &st));
    assert_int_equal(st.rows, 1000);
    assert_int_equal(st.batches, 4);
    assert_int_equal(st.version, 1);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "t", 0, &s));
    int32_t a[1000];
    assert_ok(f->pool, strata_snapshot_read(s, 0, 0, 1000, a));
    assert_int_equal(a[999], 999 * 3 - 7); /* big-endian in the file, native here */
    strata_snapshot_close(s);
    /* a file whose /g is good but shorter than the schema wants: the types differ */
    char *bad = file_beside(f, "bad.h5");
    hid_t h = H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t g = H5Gcreate2(h, "/g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(H5Dcreate2(g, "a", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Dclose(H5Dcreate2(g, "b", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(g);
    H5Sclose(sp);
    H5Fclose(h);
    assert_status(f->pool, strata_ingest_hdf5(f->pool, "r", "t", bad, "/g", NULL, NULL),
                  STRATA_ETYPE);
    assert_errmsg_has(f->pool, ":/g: column 'a' holds i64 but 'r/t' has it as i32");
    assert_status(f->pool, strata_ingest_hdf5(f->pool, "r", "fresh", bad, "/nope", NULL, NULL),
                  STRATA_ENOTFOUND);
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "fresh", &ds), STRATA_ENOTFOUND);
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "t", &ds));
    strata_dataset_desc d;
    assert_ok(f->pool, strata_dataset_info(ds, &d));
    assert_int_equal(d.version, 1);
    strata_dataset_close(ds);
    unlink(bad);
    unlink(file);
    free(bad);
    free(file);
}

typedef struct {
    const char *pool_path, *file, *name;
    int rc;
    char msg[1024];
} job;

static void *import_job(void *arg)
{
    job *j = arg;
    strata_pool *p;
    j->rc = strata_pool_open(j->pool_path, &p);
    if (j->rc != STRATA_OK) return NULL;
    for (int i = 0; i < 5 && j->rc == STRATA_OK; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%d", j->name, i);
        j->rc = strata_ndarray_import_hdf5(p, "r", name, j->file, "/nd", NULL);
        /* and a failure on this thread: its message is this pool's alone */
        if (j->rc == STRATA_OK &&
            strata_ndarray_import_hdf5(p, "r", name, j->file, "/g", NULL) != STRATA_EINVAL)
            j->rc = STRATA_EIO;
    }
    snprintf(j->msg, sizeof j->msg, "%s", strata_errmsg(p));
    strata_pool_close(p);
    return NULL;
}

static void imports_run_on_two_threads_at_once(void **state)
{
    fixture *f = *state;
    char *file = file_beside(f, "h5");
    write_file(file, 10);
    job jobs[2] = {{f->path, file, "a", 0, ""}, {f->path, file, "b", 0, ""}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, import_job, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (jobs[i].rc != STRATA_OK) fail_msg("job %d: %s", i, jobs[i].msg);
        assert_non_null(strstr(jobs[i].msg, ":/g is a group, not a dataset"));
    }
    strata_ndarray *a;
    assert_ok(f->pool, strata_ndarray_open(f->pool, "r", "b4", NULL, &a));
    strata_ndarray_desc d;
    assert_ok(f->pool, strata_ndarray_info(a, &d));
    assert_int_equal(d.ndims, 2);
    assert_int_equal(d.chunk[0], 16);
    assert_int_equal(d.chunk[1], 8);
    int16_t v[40 * 30];
    uint64_t start[2] = {0, 0}, count[2] = {40, 30};
    assert_ok(f->pool, strata_ndarray_read(a, start, count, v));
    for (int i = 0; i < 40 * 30; i++) assert_int_equal(v[i], i * 7 % 1000);
    strata_ndarray_close(a);
    unlink(file);
    free(file);
}

static int collect(void *ctx, const strata_attr *a)
{
    char *out = ctx;
    size_t n = strlen(out);
    if (a->type == STRATA_ATTR_INT)
        snprintf(out + n, 512 - n, "%s=%lld;", a->name, (long long)a->i);
    else if (a->type == STRATA_ATTR_FLOAT)
        snprintf(out + n, 512 - n, "%s=%g;", a->name, a->f);
    else
        snprintf(out + n, 512 - n, "%s='%s';", a->name, a->s);
    return 0;
}

static void attributes_go_out_and_back_in(void **state)
{
    fixture *f = *state;
    strata_ndarray *a;
    uint64_t dims[1] = {10}, chunk[1] = {4};
    assert_ok(f->pool,
              strata_ndarray_create(f->pool, "r", "v", STRATA_F64, 1, dims, chunk, NULL, &a));
    strata_attr at[3] = {{.name = "units", .type = STRATA_ATTR_TEXT, .s = "m/s"},
                         {.name = "n", .type = STRATA_ATTR_INT, .i = -5},
                         {.name = "scale", .type = STRATA_ATTR_FLOAT, .f = 0.125}};
    for (int i = 0; i < 3; i++) assert_ok(f->pool, strata_ndarray_attr_set(a, &at[i]));
    strata_attr reserved = {.name = "strata_layout", .type = STRATA_ATTR_INT};
    assert_status(f->pool, strata_ndarray_attr_set(a, &reserved), STRATA_EINVAL);
    assert_status(f->pool, strata_ndarray_attr_delete(a, "nope"), STRATA_ENOTFOUND);
    char *file = file_beside(f, "attrs.h5");
    assert_ok(f->pool, strata_ndarray_export_hdf5(a, file, "/x/v", NULL));
    strata_ndarray_close(a);
    assert_ok(f->pool, strata_ndarray_import_hdf5(f->pool, "r", "v2", file, "/x/v", NULL));
    assert_ok(f->pool, strata_ndarray_open(f->pool, "r", "v2", NULL, &a));
    char got[512] = "";
    assert_ok(f->pool, strata_ndarray_attr_list(a, collect, got));
    assert_string_equal(got, "n=-5;scale=0.125;units='m/s';");
    strata_ndarray_close(a);
    /* deleting the array deletes its attributes (the catalog's foreign key would refuse) */
    assert_ok(f->pool, strata_ndarray_delete(f->pool, "r", "v2"));
    unlink(file);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(error_printing_is_silent_and_restored, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(ingest_publishes_once_in_batches_or_nothing, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(imports_run_on_two_threads_at_once, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(attributes_go_out_and_back_in, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
