/* Text exports (strata_export_text, strata_snapshot_format_head/_rows): every dtype, nulls and
 * strings that need quoting or escaping written as documented; the file the same bytes on one
 * thread and on two, and the same as the rows formatted a piece at a time; bad requests fail
 * with their error and publish nothing. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>

#include "test_util.h"

static const strata_column cols[] = {
    {"b", STRATA_BOOL},  {"i8", STRATA_I8},           {"i16", STRATA_I16}, {"i32", STRATA_I32},
    {"i64", STRATA_I64}, {"u8", STRATA_U8},           {"u16", STRATA_U16}, {"u32", STRATA_U32},
    {"u64", STRATA_U64}, {"f32", STRATA_F32},         {"f64", STRATA_F64}, {"s", STRATA_STR},
    {"t", STRATA_TS},    {"we\"ird,name", STRATA_I64}};
#define NC 14

static const char *const tricky[] = {
    "plain",     "a,b",         "say \"hi\"", "two\nlines", "cr\r",
    "tab\there", "back\\slash", "\001ctl",    "",           "\xc3\xa9t\xc3\xa9"};
#define NTRICKY 10

/* Batch sizes of r/d: a small one with nulls and tricky strings, an empty one, and one of several
 * pieces (16 Ki rows each) over the one-thread line; of r/e, the first of several pieces. */
static const uint64_t sizes[3] = {100, 0, 70000}, big_first[3] = {40000, 0, 3};

/* Dataset r/NAME of batches of SZ rows (batch 0 with nulls, every 5th row from row 2). */
static void make_named(fixture *f, const char *name, const uint64_t *sz)
{
    assert_ok(f->pool, strata_dataset_create(f->pool, "r", name, cols, NC));
    strata_dataset *ds;
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", name, &ds));
    for (int b = 0; b < 3; b++) {
        uint64_t n = sz[b];
        uint8_t *bo = calloc(n + 1, 1), *i8 = calloc(n + 1, 1), *u8 = calloc(n + 1, 1);
        uint8_t *valid = calloc(n / 8 + 1, 1);
        int16_t *i16 = calloc(n + 1, 2);
        uint16_t *u16 = calloc(n + 1, 2);
        int32_t *i32 = calloc(n + 1, 4);
        uint32_t *u32 = calloc(n + 1, 4);
        float *f32 = calloc(n + 1, 4);
        int64_t *i64 = calloc(n + 1, 8), *t = calloc(n + 1, 8), *off = calloc(n + 1, 8);
        uint64_t *u64 = calloc(n + 1, 8);
        double *f64 = calloc(n + 1, 8);
        char *bytes = calloc(n * 24 + 1, 1);
        for (uint64_t i = 0; i < n; i++) {
            int64_t k = (int64_t)i - 50;
            bo[i] = (uint8_t)(i % 3 == 0);
            i8[i] = (uint8_t)(int8_t)(k * 3);
            i16[i] = (int16_t)(k * 655);
            i32[i] = (int32_t)(k * 42949672);
            i64[i] = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : k * 1000000007;
            u8[i] = (uint8_t)i;
            u16[i] = (uint16_t)(i * 1000);
            u32[i] = (uint32_t)i * 4294967u;
            u64[i] = i == 3 ? UINT64_MAX : i * 1000000000007ULL;
            f32[i] = (float)k / 8;
            f64[i] = i == 4 ? NAN : i == 5 ? -INFINITY : i == 6 ? 1e300 : (double)k / 7 + 0.25;
            if (i % 11 == 7) f64[i] = (double)k * 1.25;
            t[i] = 1700000000000000000 + k * 1000000001;
            const char *s = i < NTRICKY ? tricky[i] : NULL;
            int len = s != NULL ? sprintf(bytes + off[i], "%s", s)
                                : sprintf(bytes + off[i], "s%llu", (unsigned long long)i * 13);
            off[i + 1] = off[i] + len;
            if (b != 0 || i % 5 != 2) valid[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        strata_batch *w;
        assert_ok(f->pool, strata_batch_begin(ds, &w));
        const void *vals[NC] = {bo, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, NULL, t, i64};
        for (int c = 0; c < NC; c++) {
            if (c == 11)
                assert_ok(f->pool, strata_batch_append_str_nullable(w, c, off, bytes, valid, n));
            else
                assert_ok(f->pool, strata_batch_append_nullable(w, c, vals[c], valid, n));
        }
        assert_ok(f->pool, strata_batch_commit(w));
        free(bo), free(i8), free(u8), free(valid), free(i16), free(u16), free(i32), free(u32);
        free(f32), free(i64), free(t), free(off), free(u64), free(f64), free(bytes);
    }
    assert_ok(f->pool, strata_publish(ds, NULL));
    strata_dataset_close(ds);
}

static void make_data(fixture *f)
{
    make_named(f, "d", sizes);
}

/* The whole file at PATH (NUL-terminated), *LEN bytes; NULL when there is none. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, fp);
    p[*len] = '\0';
    fclose(fp);
    return p;
}

/* The text of every row of S (batches of SZ rows) in FORMAT, a piece of 999 rows at a time
 * through the format calls. */
static char *formatted(fixture *f, strata_snapshot *s, const uint64_t *sz, const int *pick, int nc,
                       int format, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    uint64_t before = 0;
    assert_ok(f->pool, strata_snapshot_format_head(s, pick, nc, format, &buf, len, &cap));
    for (uint64_t b = 0; b < 3; b++)
        for (uint64_t r = 0; r < sz[b]; r += 999) {
            uint64_t n = sz[b] - r < 999 ? sz[b] - r : 999;
            assert_ok(f->pool, strata_snapshot_format_rows(s, b, NULL, r, n, pick, nc, format,
                                                           before, &buf, len, &cap));
            before += n;
        }
    if (format == STRATA_TEXT_JSON) {
        buf = realloc(buf, *len + 4);
        *len += (size_t)sprintf(buf + *len, "%s", before ? "\n]\n" : "]\n");
    }
    return buf;
}

static void files_are_the_same_on_one_thread_and_two_and_as_formatted(void **state)
{
    fixture *f = *state;
    make_data(f);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &s));
    char path[4200];
    snprintf(path, sizeof path, "%s/../out.txt", f->path);
    int all[NC];
    for (int c = 0; c < NC; c++) all[c] = c;
    for (int format = STRATA_TEXT_CSV; format <= STRATA_TEXT_NDJSON; format++) {
        size_t n1, n2, nf;
        strata_pool_set_threads(f->pool, 1);
        assert_ok(f->pool, strata_export_text(s, NULL, 0, path, format));
        char *one = slurp(path, &n1);
        strata_pool_set_threads(f->pool, 2);
        assert_ok(f->pool, strata_export_text(s, NULL, 0, path, format));
        char *two = slurp(path, &n2);
        char *fmt = formatted(f, s, sizes, all, NC, format, &nf);
        assert_non_null(one);
        assert_non_null(two);
        if (n1 != n2 || memcmp(one, two, n1) != 0)
            fail_msg("format %d: one thread %zu bytes, two %zu, not the same", format, n1, n2);
        if (n1 != nf || memcmp(one, fmt, n1) != 0)
            fail_msg("format %d: the file (%zu bytes) is not the rows formatted (%zu)", format, n1,
                     nf);
        uint64_t lines = 0;
        for (size_t i = 0; i < n1; i++) lines += one[i] == '\n';
        /* a line a row; CSV and TSV: the header's, and a string's in each batch with rows;
         * JSON: a last one before "]" and after it */
        uint64_t want = 100 + 70000 + (format <= STRATA_TEXT_TSV ? 3 : 0) +
                        (format == STRATA_TEXT_JSON ? 2 : 0);
        if (lines != want)
            fail_msg("format %d: %llu lines, want %llu", format, (unsigned long long)lines,
                     (unsigned long long)want);
        free(one), free(two), free(fmt);
    }
    strata_snapshot_close(s);
    /* a first batch of several pieces: its first row the output's first */
    make_named(f, "e", big_first);
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "e", 0, &s));
    size_t n2, nf;
    assert_ok(f->pool, strata_export_text(s, NULL, 0, path, STRATA_TEXT_JSON));
    char *two = slurp(path, &n2), *fmt = formatted(f, s, big_first, all, NC, STRATA_TEXT_JSON, &nf);
    if (n2 != nf || memcmp(two, fmt, n2) != 0)
        fail_msg("r/e: the file (%zu bytes) is not the rows formatted (%zu)", n2, nf);
    assert_true(strncmp(two, "[\n{", 3) == 0 && strstr(two, "}\n{") == NULL);
    free(two), free(fmt);
    strata_snapshot_close(s);
}

/* Line K (from 0) of TEXT, into OUT. */
static const char *line(const char *text, int k, char *out, size_t room)
{
    for (; k > 0; k--) text = strchr(text, '\n') + 1;
    size_t n = (size_t)(strchr(text, '\n') - text);
    snprintf(out, room, "%.*s", (int)n, text);
    return out;
}

static void values_are_written_as_documented(void **state)
{
    fixture *f = *state;
    make_data(f);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &s));
    char *buf = NULL, l[1024];
    size_t len = 0, cap = 0;
    int pick[] = {11, 13, 4, 10, 12, 0};
    assert_ok(f->pool, strata_snapshot_format_head(s, pick, 6, STRATA_TEXT_CSV, &buf, &len, &cap));
    uint64_t rows[] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 50};
    assert_ok(f->pool, strata_snapshot_format_rows(s, 0, rows, 0, 10, pick, 6, STRATA_TEXT_CSV, 0,
                                                   &buf, &len, &cap));
    assert_string_equal(line(buf, 0, l, sizeof l), "s,\"we\"\"ird,name\",i64,f64,t,b");
    assert_string_equal(line(buf, 1, l, sizeof l),
                        "plain,-50000000350,-50000000350,-6.892857142857143,"
                        "2023-11-14T22:12:29.999999950Z,true");
    assert_string_equal(line(buf, 2, l, sizeof l),
                        "\"a,b\",-9223372036854775808,-9223372036854775808,-6.75,"
                        "2023-11-14T22:12:30.999999951Z,false");
    assert_string_equal(line(buf, 3, l, sizeof l), ",,,,,"); /* row 2: every column null */
    assert_non_null(strstr(buf, "\n\"two\nlines\",-47000000329,-47000000329,-6.464285714285714,"
                                "2023-11-14T22:12:32.999999953Z,true\n"));
    assert_non_null(strstr(buf, "\n\"cr\r\",-46000000322,-46000000322,nan,"));
    assert_non_null(strstr(buf, "\n\"\",-42000000294,")); /* the empty string */
    assert_non_null(strstr(buf, "\n\xc3\xa9t\xc3\xa9,-41000000287,"));
    assert_string_equal(line(buf, 11, l, sizeof l), "s650,0,0,0.25,2023-11-14T22:13:20Z,false");
    free(buf);
    buf = NULL, len = cap = 0;
    assert_ok(f->pool, strata_snapshot_format_rows(s, 0, rows, 0, 10, pick, 6, STRATA_TEXT_TSV, 0,
                                                   &buf, &len, &cap));
    assert_non_null(strstr(buf, "\na,b\t-9223372036854775808\t")); /* a comma not quoted */
    assert_non_null(strstr(buf, "\n\"cr\r\"\t-46000000322\t-46000000322\tnan\t"
                                "2023-11-14T22:12:33.999999954Z\tfalse\n"));
    assert_non_null(strstr(buf, "\n\"tab\there\"\t-45000000315\t-45000000315\t-inf\t"));
    assert_non_null(strstr(buf, "\n\t\t\t\t\t\n")); /* row 2 */
    free(buf);
    buf = NULL, len = cap = 0;
    assert_ok(f->pool, strata_snapshot_format_rows(s, 0, NULL, 2, 1, pick, 6, STRATA_TEXT_NDJSON, 0,
                                                   &buf, &len, &cap));
    assert_string_equal(buf, "{\"s\":null,\"we\\\"ird,name\":null,\"i64\":null,\"f64\":null,"
                             "\"t\":null,\"b\":null}\n");
    free(buf);
    buf = NULL, len = cap = 0; /* batch 2: no nulls */
    assert_ok(f->pool, strata_snapshot_format_rows(s, 2, NULL, 0, 10, pick, 6, STRATA_TEXT_NDJSON,
                                                   0, &buf, &len, &cap));
    assert_string_equal(line(buf, 0, l, sizeof l),
                        "{\"s\":\"plain\",\"we\\\"ird,name\":-50000000350,\"i64\":-50000000350,"
                        "\"f64\":-6.892857142857143,\"t\":\"2023-11-14T22:12:29.999999950Z\","
                        "\"b\":true}");
    assert_string_equal(line(buf, 2, l, sizeof l),
                        "{\"s\":\"say \\\"hi\\\"\",\"we\\\"ird,name\":9223372036854775807,"
                        "\"i64\":9223372036854775807,\"f64\":-6.607142857142857,"
                        "\"t\":\"2023-11-14T22:12:31.999999952Z\",\"b\":false}");
    assert_non_null(strstr(buf, "{\"s\":\"two\\nlines\","));
    assert_non_null(strstr(buf, "{\"s\":\"cr\\r\",\"we\\\"ird,name\":-46000000322,"
                                "\"i64\":-46000000322,\"f64\":null,")); /* NaN */
    assert_non_null(strstr(buf, "{\"s\":\"tab\\there\","));
    assert_non_null(strstr(buf, "\"i64\":-45000000315,\"f64\":null,")); /* -inf */
    assert_non_null(strstr(buf, "{\"s\":\"back\\\\slash\","));
    assert_non_null(strstr(buf, "\"f64\":1e+300,"));
    assert_non_null(strstr(buf, "{\"s\":\"\\u0001ctl\","));
    assert_non_null(strstr(buf, "\"f64\":-53.75,"));
    assert_non_null(strstr(buf, "{\"s\":\"\",\"we"));
    assert_non_null(strstr(buf, "{\"s\":\"\xc3\xa9t\xc3\xa9\","));
    free(buf);
    /* every integer width and the float32, row 57 of batch 2 */
    buf = NULL, len = cap = 0;
    int ints[] = {1, 2, 3, 5, 6, 7, 8, 9};
    uint64_t r57 = 57;
    assert_ok(f->pool, strata_snapshot_format_rows(s, 2, &r57, 0, 1, ints, 8, STRATA_TEXT_CSV, 0,
                                                   &buf, &len, &cap));
    assert_string_equal(buf, "21,4585,300647704,57,57000,244813119,57000000000399,0.875\n");
    free(buf);
    strata_snapshot_close(s);
}

/* Whether DIR holds any entry but "pool" (an export's output or temporary file). */
static int dir_has_output(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        found |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "pool");
    closedir(d);
    return found;
}

static void bad_requests_fail_and_publish_nothing(void **state)
{
    fixture *f = *state;
    make_data(f);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "d", 0, &s));
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/..", f->path);
    snprintf(path, sizeof path, "%s/out.csv", dir);
    int bad[] = {0, 99}, one[] = {4};
    assert_status(f->pool, strata_export_text(s, NULL, 0, path, 4), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "text format 4 is not one of csv, tsv, json, ndjson");
    assert_status(f->pool, strata_export_text(s, bad, 2, path, STRATA_TEXT_CSV), STRATA_ERANGE);
    assert_errmsg_has(f->pool, "column index 99 is out of range");
    assert_status(f->pool, strata_export_text(s, one, 0, path, STRATA_TEXT_CSV), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "no columns to export");
    assert_false(dir_has_output(dir));
    char nodir[4400];
    snprintf(nodir, sizeof nodir, "%s/missing/out.csv", dir);
    assert_true(strata_export_text(s, NULL, 0, nodir, STRATA_TEXT_CSV) < 0);
    char named[4500]; /* the temporary file, and the one the export makes */
    snprintf(named, sizeof named, "(exporting to '%s')", nodir);
    assert_errmsg_has(f->pool, "cannot create '");
    assert_errmsg_has(f->pool, named);
    assert_false(dir_has_output(dir));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    uint64_t past[] = {3, 100};
    assert_status(
        f->pool,
        strata_snapshot_format_rows(s, 0, past, 0, 2, one, 1, STRATA_TEXT_CSV, 0, &buf, &len, &cap),
        STRATA_ERANGE);
    assert_errmsg_has(f->pool, "row 100 is past batch 0's 100 rows");
    assert_status(f->pool,
                  strata_snapshot_format_rows(s, 0, NULL, 90, 11, one, 1, STRATA_TEXT_CSV, 0, &buf,
                                              &len, &cap),
                  STRATA_ERANGE);
    assert_errmsg_has(f->pool, "rows 90 to 101 are past batch 0's 100 rows");
    assert_status(f->pool,
                  strata_snapshot_format_rows(s, 0, NULL, UINT64_MAX, 2, one, 1, STRATA_TEXT_CSV, 0,
                                              &buf, &len, &cap),
                  STRATA_ERANGE);
    assert_status(
        f->pool,
        strata_snapshot_format_rows(s, 7, NULL, 0, 1, one, 1, STRATA_TEXT_CSV, 0, &buf, &len, &cap),
        STRATA_ERANGE);
    assert_int_equal(len, 0); /* nothing appended */
    assert_int_equal(strata_snapshot_format_rows(s, 0, NULL, 0, 1, one, 1, 0, 0, NULL, &len, &cap),
                     STRATA_EINVAL);
    assert_int_equal(strata_snapshot_format_head(s, one, 0, 0, &buf, &len, &cap), STRATA_EINVAL);
    free(buf);
    strata_snapshot_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(files_are_the_same_on_one_thread_and_two_and_as_formatted,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(values_are_written_as_documented, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(bad_requests_fail_and_publish_nothing, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
