/* CSV ingest: RFC 4180 cases, type inference, exact floats, every bad input (exact message,
 * nothing published), and results independent of the thread count. */
#include <math.h>
#include <sys/stat.h>

#include "ingest/csv.h"
#include "test_util.h"
#include "util/parse.h"

static char *write_file(fixture *f, const char *name, const char *text, size_t len)
{
    char *path = malloc(4200);
    snprintf(path, 4200, "%s/../%s", f->path, name);
    FILE *fp = fopen(path, "wb");
    fwrite(text, 1, len, fp);
    fclose(fp);
    return path;
}

static int ingest_text(fixture *f, const char *ds, const char *text, const strata_ingest_opts *o)
{
    char *path = write_file(f, "in.csv", text, strlen(text));
    const char *files[1] = {path};
    int rc = strata_ingest_csv(f->pool, "r", ds, files, 1, o, NULL);
    free(path);
    return rc;
}

static void string_column(fixture *f, const char *ds, const char *col, char *out, size_t len)
{
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", ds, 0, &s));
    int c;
    assert_ok(f->pool, strata_snapshot_column(s, col, &c));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    out[0] = '\0';
    for (uint64_t b = 0; b < d.nbatches; b++) {
        strata_batch_info bi;
        const int64_t *off;
        const char *bytes;
        strata_snapshot_batch(s, b, &bi);
        assert_ok(f->pool, strata_snapshot_map_str(s, b, c, &off, &bytes));
        for (uint64_t r = 0; r < bi.nrows; r++) {
            strncat(out, bytes + off[r], (size_t)(off[r + 1] - off[r]));
            strncat(out, "|", len - strlen(out) - 1);
        }
    }
    strata_snapshot_close(s);
}

static void rfc4180_quotes_crlf_empty_fields(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool,
              ingest_text(f, "q",
                          "id,text\r\n1,\"a,b\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\nlines\"\r\n"
                          "4,\r\n5,\"\"\r\n6,plain",
                          NULL));
    char out[256];
    string_column(f, "q", "text", out, sizeof out);
    assert_string_equal(out, "a,b|say \"hi\"|two\nlines|||plain|");
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "q", 0, &s));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    assert_int_equal(d.nrows, 6);
    assert_int_equal(d.columns[0].dtype, STRATA_I64);
    assert_int_equal(d.columns[1].dtype, STRATA_STR);
    int64_t ids[6];
    assert_ok(f->pool, strata_snapshot_read(s, 0, 0, 6, ids));
    for (int i = 0; i < 6; i++) assert_int_equal(ids[i], i + 1);
    strata_snapshot_close(s);
}

static void one_column_files_blank_lines_and_no_trailing_newline(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, ingest_text(f, "one", "x\n1.5\n\n-2e3", NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "one", 0, &s));
    double v[3];
    assert_ok(f->pool, strata_snapshot_read(s, 0, 0, 3, v));
    assert_true(v[0] == 1.5 && v[1] == 0 && v[2] == -2000.0); /* a blank line is a null */
    const uint8_t *valid;
    assert_ok(f->pool, strata_snapshot_map_valid(s, 0, 0, &valid));
    assert_non_null(valid);
    assert_int_equal(valid[0] & 7, 5);
    strata_snapshot_close(s);
    /* several columns: blank lines are skipped */
    assert_ok(f->pool, ingest_text(f, "two", "a,b\n\n1,2\n\r\n3,4\n\n", NULL));
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "two", 0, &s));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    assert_int_equal(d.nrows, 2);
    strata_snapshot_close(s);
    /* a header only: one batch of zero rows */
    assert_ok(f->pool, ingest_text(f, "empty", "a,b\n", NULL));
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "empty", 0, &s));
    strata_snapshot_info(s, &d);
    assert_int_equal(d.nrows, 0);
    assert_int_equal(d.nbatches, 1);
    strata_snapshot_close(s);
}

static void huge_fields(void **state)
{
    fixture *f = *state;
    size_t big = 3 << 20; /* longer than a parser block */
    char *text = malloc(big + 64);
    int n = sprintf(text, "k,v\n1,\"");
    memset(text + n, 'x', big);
    memcpy(text + n + big, "\"\n2,y\n", 7);
    char *path = write_file(f, "big.csv", text, strlen(text));
    const char *files[1] = {path};
    strata_ingest_opts o = {.nthreads = 4};
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "big", files, 1, &o, NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "big", 0, &s));
    const int64_t *off;
    const char *bytes;
    assert_ok(f->pool, strata_snapshot_map_str(s, 0, 1, &off, &bytes));
    assert_int_equal(off[1] - off[0], big);
    assert_int_equal(off[2] - off[1], 1);
    strata_snapshot_close(s);
    free(text);
    free(path);
}

static void floats_round_trip_exactly(void **state)
{
    fixture *f = *state;
    size_t n = 20000;
    char *text = malloc(n * 40 + 16);
    double *want = malloc(n * sizeof *want);
    size_t len = (size_t)sprintf(text, "v\n");
    unsigned seed = 99;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = ((uint64_t)rand_r(&seed) << 40) ^ ((uint64_t)rand_r(&seed) << 20) ^
                        (uint64_t)rand_r(&seed);
        double x;
        int k = (int)(i % 6), digits = 17;
        if (k == 0) {
            memcpy(&x, &bits, sizeof x); /* any bit pattern */
            if (!isfinite(x)) x = 1.0 / (double)(i + 1);
        } else if (k == 1) {
            x = (double)(bits % 100000) / 100.0; /* short decimals: the fast path */
        } else if (k == 2) {
            x = -(double)(bits % 10000000) / 1e6; /* negative, six decimals: the fast path */
        } else { /* full precision, plain decimals of 16 to 19 digits: the fast path too */
            x = ((double)(bits % 1000000007) / 1000000007.0 - 0.5) * pow(10, (int)(i % 11) - 4);
            digits = 16 + (int)(i % 4);
        }
        size_t at = len;
        len += (size_t)(k == 1   ? sprintf(text + len, "%.2f\n", x)
                        : k == 2 ? sprintf(text + len, "%.6f\n", x)
                                 : sprintf(text + len, "%.*g\n", digits, x));
        want[i] = strtod(text + at, NULL); /* (x itself from 17 digits on) */
        if (digits >= 17 && memcmp(&want[i], &x, sizeof x) != 0) fail_msg("%.17g", x);
    }
    char *path = write_file(f, "floats.csv", text, len);
    const char *files[1] = {path};
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "fl", files, 1, NULL, NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "fl", 0, &s));
    double *got = malloc(n * sizeof *got);
    assert_ok(f->pool, strata_snapshot_read(s, 0, 0, n, got));
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(double)) != 0)
            fail_msg("row %zu: %.17g != %.17g", i, got[i], want[i]);
    strata_snapshot_close(s);
    free(got);
    free(want);
    free(text);
    free(path);
}

static void parse_functions_edge_cases(void **state)
{
    (void)state;
    int64_t i;
    double d;
    assert_int_equal(st_parse_i64("9223372036854775807", 19, &i), ST_PARSE_OK);
    assert_true(i == INT64_MAX);
    assert_int_equal(st_parse_i64("-9223372036854775808", 20, &i), ST_PARSE_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(st_parse_i64("9223372036854775808", 19, &i), ST_PARSE_OVERFLOW);
    assert_int_equal(st_parse_i64("-", 1, &i), ST_PARSE_BAD);
    assert_int_equal(st_parse_i64("1 ", 2, &i), ST_PARSE_BAD);
    assert_int_equal(st_parse_i64("-+1", 3, &i), ST_PARSE_BAD);
    assert_int_equal(st_parse_f64("0.1", 3, &d), ST_PARSE_OK);
    assert_true(d == 0.1);
    assert_int_equal(st_parse_f64("1e308", 5, &d), ST_PARSE_OK);
    assert_int_equal(st_parse_f64("4.9e-324", 8, &d), ST_PARSE_OK);
    assert_true(d > 0);
    assert_int_equal(st_parse_f64("nan", 3, &d), ST_PARSE_OK);
    assert_true(isnan(d));
    assert_int_equal(st_parse_f64("-inf", 4, &d), ST_PARSE_OK);
    assert_int_equal(st_parse_f64(" 1", 2, &d), ST_PARSE_BAD);
    assert_int_equal(st_parse_f64("0x10", 4, &d), ST_PARSE_BAD);
    assert_int_equal(st_parse_f64("1e", 2, &d), ST_PARSE_BAD);
    assert_int_equal(st_parse_f64("", 0, &d), ST_PARSE_BAD);
    assert_int_equal(st_parse_f64("123456789012345678901234", 24, &d), ST_PARSE_OK);
    assert_true(d == 123456789012345678901234.0);
    assert_int_equal(st_utf8_valid_prefix("ab\xc3\xa9z", 5), 5);
    assert_int_equal(st_utf8_valid_prefix("ab\xc3z", 4), 2);
}

/* Each bad input: the exact message, exit status STRATA_EINVAL, and nothing published. */
static void bad_inputs_name_the_place_and_publish_nothing(void **state)
{
    fixture *f = *state;
    struct {
        const char *text, *schema, *msg;
    } cases[] = {
        {"a,b\n1,2\n3\n", NULL, "in.csv:3:2: the line has 1 field(s); 2 are expected"},
        /* a last record cut short at the end of the file, integers (their fast path) */
        {"a,b\n1,2\n3", "a:i64,b:i64", "in.csv:3:2: the line has 1 field(s); 2 are expected"},
        {"a,b\n1,2\n3,4,5\n", NULL, "in.csv:3:4: the line has 3 fields or more; 2 are expected"},
        {"a,b\n1,2\n3,x\n", "a:i64,b:i64", "in.csv:3:3: column 'b': cannot parse 'x' as i64"},
        {"a\n99999999999999999999\n", "a:i64",
         "in.csv:2:1: column 'a': '99999999999999999999' is out of range for i64 (overflow)"},
        {"a\n300\n", "a:u8", "in.csv:2:1: column 'a': '300' is out of range for u8"},
        {"a,b\n1,\"abc\n2,3\n", NULL, "in.csv:2:3: column 'b': unterminated quoted field"},
        {"a,b\n1,ab\xff\n", "a:i64,b:str", "in.csv:2:3: column 'b': invalid UTF-8 at byte 3"},
        {"", NULL, "the file is empty"},
        {"1,2\n3,4\n", NULL, "in.csv:1: the header is missing"},
        {"a,b\n1,x\"y\n", NULL, "in.csv:2:4: column 'b': a quote inside an unquoted field"},
        {"a,a\n1,2\n", NULL, "column 'a' appears twice in the header"},
        {"a,b\n1,2\n", "a:i64,c:i64", "column 'b' of the header is not in dataset"},
        {"a,b/c\n1,2\n", NULL, "in.csv:1: bad header field 2"},
        {"a\n1\n", "a:int128", "schema: column 'a' has unknown dtype 'int128'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strata_ingest_opts o = {.schema = cases[i].schema};
        int rc = ingest_text(f, "bad", cases[i].text, &o);
        if (rc == STRATA_OK) fail_msg("case %zu was accepted", i);
        if (strstr(strata_errmsg(f->pool), cases[i].msg) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, strata_errmsg(f->pool), cases[i].msg);
        strata_dataset *ds;
        if (strata_dataset_open(f->pool, "r", "bad", &ds) != STRATA_ENOTFOUND)
            fail_msg("case %zu: the dataset exists after a failed ingest", i);
    }
    /* A bad second file: the good first file is not published either. */
    char *good = write_file(f, "good.csv", "a,b\n1,2\n", 8);
    char *bad = write_file(f, "bad.csv", "a,b\n1,2\nx\n", 10);
    const char *files[2] = {good, bad};
    assert_status(f->pool, strata_ingest_csv(f->pool, "r", "pair", files, 2, NULL, NULL),
                  STRATA_EINVAL);
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "pair", &ds), STRATA_ENOTFOUND);
    /* An existing dataset keeps its version. */
    const char *one[1] = {good};
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "pair", one, 1, NULL, NULL));
    assert_status(f->pool, strata_ingest_csv(f->pool, "r", "pair", files, 2, NULL, NULL),
                  STRATA_EINVAL);
    assert_ok(f->pool, strata_dataset_open(f->pool, "r", "pair", &ds));
    strata_dataset_desc d;
    assert_ok(f->pool, strata_dataset_info(ds, &d));
    assert_int_equal(d.version, 1);
    assert_int_equal(d.nrows, 1);
    strata_dataset_close(ds);
    free(good);
    free(bad);
}

/* The same file parsed with 1 and with 7 threads (many chunks, quoted newlines across block
 * boundaries) gives the same columns. */
static void results_do_not_depend_on_threads(void **state)
{
    fixture *f = *state;
    size_t rows = 200000;
    char *text = malloc(rows * 64 + 64);
    size_t len = (size_t)sprintf(text, "i,s,x\n");
    for (size_t r = 0; r < rows; r++)
        len += (size_t)sprintf(text + len,
                               r % 7 == 0 ? "%zu,\"multi\nline %zu, \"\"q\"\"\",%zu.5\n"
                                          : "%zu,plain%zu,%zu.5\n",
                               r, r, r);
    assert_true(len > ((size_t)2 << 20)); /* (more than ingest parses on one thread) */
    char *path = write_file(f, "t.csv", text, len);
    const char *files[1] = {path};
    strata_ingest_opts o1 = {.nthreads = 1, .batch_rows = 30000};
    strata_ingest_opts o7 = {.nthreads = 7, .batch_rows = 30000};
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "t1", files, 1, &o1, NULL));
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "t7", files, 1, &o7, NULL));
    strata_snapshot *a, *b;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "t1", 0, &a));
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "t7", 0, &b));
    strata_dataset_desc da, db;
    strata_snapshot_info(a, &da);
    strata_snapshot_info(b, &db);
    assert_int_equal(da.nrows, rows);
    assert_int_equal(db.nrows, rows);
    assert_int_equal(da.nbatches, 7);
    for (uint64_t bt = 0; bt < da.nbatches; bt++)
        for (int c = 0; c < 3; c++) {
            strata_column_stats sa, sb;
            assert_ok(f->pool, strata_snapshot_stats(a, bt, c, &sa));
            assert_ok(f->pool, strata_snapshot_stats(b, bt, c, &sb));
            assert_true(sa.checksum == sb.checksum);
        }
    int64_t *ids = malloc(rows * sizeof *ids);
    assert_ok(f->pool, strata_snapshot_read(b, 0, 0, rows, ids));
    for (size_t r = 0; r < rows; r++) assert_int_equal(ids[r], r);
    free(ids);
    strata_snapshot_close(a);
    strata_snapshot_close(b);
    free(text);
    free(path);
}

static int ingest_bytes(fixture *f, const char *ds, const char *text, size_t len,
                        const strata_ingest_opts *o)
{
    char *path = write_file(f, "in.csv", text, len);
    const char *files[1] = {path};
    int rc = strata_ingest_csv(f->pool, "r", ds, files, 1, o, NULL);
    free(path);
    return rc;
}

/* Column COL of dataset DS as a list of (bytes, length), in order. */
static uint64_t str_values(fixture *f, const char *ds, const char *col, char ***vals, size_t **lens)
{
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", ds, 0, &s));
    int c;
    assert_ok(f->pool, strata_snapshot_column(s, col, &c));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    *vals = malloc((d.nrows + 1) * sizeof **vals);
    *lens = malloc((d.nrows + 1) * sizeof **lens);
    uint64_t k = 0;
    for (uint64_t b = 0; b < d.nbatches; b++) {
        strata_batch_info bi;
        const int64_t *off;
        const char *bytes;
        strata_snapshot_batch(s, b, &bi);
        assert_ok(f->pool, strata_snapshot_map_str(s, b, c, &off, &bytes));
        for (uint64_t r = 0; r < bi.nrows; r++, k++) {
            (*lens)[k] = (size_t)(off[r + 1] - off[r]);
            (*vals)[k] = malloc((*lens)[k] + 1);
            memcpy((*vals)[k], bytes + off[r], (*lens)[k]);
        }
    }
    strata_snapshot_close(s);
    return k;
}

static void free_values(char **vals, size_t *lens, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) free(vals[i]);
    free(vals);
    free(lens);
}

/* A UTF-8 byte order mark (Excel's "CSV UTF-8") became part of the first column's name. */
static void a_byte_order_mark_is_skipped(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, ingest_text(f, "bom", "\xef\xbb\xbfname,v\r\nx,1\r\n", NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "bom", 0, &s));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    assert_int_equal(d.ncols, 2);
    assert_string_equal(d.columns[0].name, "name");
    assert_int_equal(d.columns[1].dtype, STRATA_I64);
    strata_snapshot_close(s);
    /* a second file with a mark matches the dataset's columns too */
    assert_ok(f->pool, ingest_text(f, "bom", "\xef\xbb\xbfv,name\n2,y\n", NULL));
    char out[64];
    string_column(f, "bom", "name", out, sizeof out);
    assert_string_equal(out, "x|y|");
    /* places on the first line are counted after the mark */
    assert_status(f->pool, ingest_text(f, "bom2", "\xef\xbb\xbf\"a,b\n1,2\n", NULL), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "in.csv:1:1: unterminated quoted field in the header");
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "bom2", &ds), STRATA_ENOTFOUND);
    /* only at the very start: elsewhere it is data (U+FEFF, part of the name) */
    assert_ok(f->pool, ingest_text(f, "bom3",
                                   "a,\xef\xbb\xbf"
                                   "b\n1,2\n",
                                   NULL));
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "bom3", 0, &s));
    strata_snapshot_info(s, &d);
    assert_string_equal(d.columns[1].name, "\xef\xbb\xbf"
                                           "b");
    strata_snapshot_close(s);
}

/* A NUL in the header cut the column name short ("na\0me" became "na"). */
static void a_nul_in_the_header_is_refused(void **state)
{
    fixture *f = *state;
    static const char text[] = "id,na\0me\n1,2\n";
    assert_status(f->pool, ingest_bytes(f, "nul", text, sizeof text - 1, NULL), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "/in.csv:1:6: a NUL byte in the header; column names are text (is "
                               "this a binary file, or UTF-16? save it as UTF-8 CSV)");
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "nul", &ds), STRATA_ENOTFOUND);
    /* UTF-16 (what some tools call "Unicode CSV"): refused at its first NUL */
    static const char u16[] = "\xff\xfei\0d\0\n\0";
    assert_status(f->pool, ingest_bytes(f, "u16", u16, sizeof u16 - 1, NULL), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "in.csv:1:4: a NUL byte in the header");
}

/* NUL bytes in string fields are data: kept, quoted or not, and counted in the length. */
static void nul_bytes_in_string_fields_are_kept(void **state)
{
    fixture *f = *state;
    static const char text[] = "k,s\n1,a\0b\n2,\"x\0\r\ny\"\n3,\0\n";
    strata_ingest_opts o = {.schema = "k:i64,s:str"};
    assert_ok(f->pool, ingest_bytes(f, "nd", text, sizeof text - 1, &o));
    char **v;
    size_t *l;
    uint64_t n = str_values(f, "nd", "s", &v, &l);
    assert_int_equal(n, 3);
    assert_int_equal(l[0], 3);
    assert_memory_equal(v[0], "a\0b", 3);
    assert_int_equal(l[1], 5);
    assert_memory_equal(v[1], "x\0\r\ny", 5);
    assert_int_equal(l[2], 1);
    assert_memory_equal(v[2], "\0", 1);
    free_values(v, l, n);
    /* in a number it is an error naming it */
    static const char bad[] = "k\n1\0\n";
    o.schema = "k:i64";
    assert_status(f->pool, ingest_bytes(f, "nd2", bad, sizeof bad - 1, &o), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "in.csv:2:1: column 'k': cannot parse '1\\x00' as i64");
}

/* Found by fuzz_csv: type inference of a column whose sampled values are all empty added 0 to
 * a NULL byte buffer (undefined; UBSan stops there); a file holding only a byte order mark
 * read a header of no record from NULL offsets (a crash). */
static void an_empty_column_and_a_bare_byte_order_mark(void **state)
{
    fixture *f = *state;
    assert_ok(f->pool, ingest_text(f, "blank", "a,b\n1,\n2,\n", NULL));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "blank", 0, &s));
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    assert_int_equal(d.columns[1].dtype, STRATA_STR);
    assert_int_equal(d.nrows, 2);
    strata_snapshot_close(s);
    assert_status(f->pool, ingest_text(f, "bare", "\xef\xbb\xbf", NULL), STRATA_EINVAL);
    assert_errmsg_has(f->pool, "in.csv: the file is empty (a header line is needed)");
    strata_dataset *ds;
    assert_status(f->pool, strata_dataset_open(f->pool, "r", "bare", &ds), STRATA_ENOTFOUND);
}

/* An empty first string value copied zero bytes from NULL (undefined; UBSan stops there). */
static void an_empty_first_string_value_is_empty(void **state)
{
    fixture *f = *state;
    strata_ingest_opts o = {.schema = "k:i64,s:str"};
    assert_ok(f->pool, ingest_text(f, "e", "k,s\n1,\n2,\"\"\n3,x\n", &o));
    char out[64];
    string_column(f, "e", "s", out, sizeof out);
    assert_string_equal(out, "||x|");
}

/* The bytes between the quotes of a field are the value, exactly: CRLF stays CRLF (whatever the
 * file's own line ends), a lone CR or LF stays, "" is one quote; with 1 and with 5 threads over
 * a file of several parser blocks, so that chunks start next to such fields. */
static void quoted_fields_keep_their_bytes_exactly(void **state)
{
    fixture *f = *state;
    static const char *const parts[] = {"\r\n", "\r",       "\n", "\"", ",",
                                        "a",    "\xc3\xa9", " ",  "\0", "\t"};
    size_t rows = 250000;
    char *text = malloc(rows * 80 + 64), **want = malloc(rows * sizeof *want);
    size_t *wlen = malloc(rows * sizeof *wlen), len = (size_t)sprintf(text, "i,s,t\r\n");
    unsigned seed = 7;
    for (size_t r = 0; r < rows; r++) {
        char v[64];
        size_t vl = 0;
        int np = rand_r(&seed) % 6;
        for (int k = 0; k < np; k++) {
            const char *p = parts[rand_r(&seed) % 10];
            size_t pl = *p == '\0' ? 1 : strlen(p);
            memcpy(v + vl, p, pl);
            vl += pl;
        }
        want[r] = malloc(vl + 1);
        memcpy(want[r], v, vl);
        wlen[r] = vl;
        len += (size_t)sprintf(text + len, "%zu,\"", r);
        for (size_t k = 0; k < vl; k++) {
            if (v[k] == '"') text[len++] = '"';
            text[len++] = v[k];
        }
        const char *eol = r % 2 ? "\r\n" : "\n";
        len += (size_t)sprintf(text + len, "\",\"%s\"%s", r % 3 ? "\r\n" : "", eol);
    }
    assert_true(len > ((size_t)2 << 20)); /* (more than ingest parses on one thread) */
    char *path = write_file(f, "q.csv", text, len);
    const char *files[1] = {path};
    for (int nt = 1; nt <= 5; nt += 4) {
        strata_ingest_opts o = {.nthreads = nt, .schema = "i:i64,s:str,t:str"};
        char ds[8];
        snprintf(ds, sizeof ds, "q%d", nt);
        assert_ok(f->pool, strata_ingest_csv(f->pool, "r", ds, files, 1, &o, NULL));
        char **v;
        size_t *l;
        uint64_t n = str_values(f, ds, "s", &v, &l);
        assert_int_equal(n, rows);
        for (size_t r = 0; r < rows; r++)
            if (l[r] != wlen[r] || memcmp(v[r], want[r], wlen[r]) != 0)
                fail_msg("%d threads, row %zu: %zu bytes differ from the %zu quoted", nt, r, l[r],
                         wlen[r]);
        free_values(v, l, n);
        n = str_values(f, ds, "t", &v, &l);
        for (size_t r = 0; r < rows; r++)
            if (l[r] != (r % 3 ? 2u : 0u) || (l[r] && memcmp(v[r], "\r\n", 2) != 0))
                fail_msg("%d threads, row %zu: column t is not CRLF", nt, r);
        free_values(v, l, n);
    }
    for (size_t r = 0; r < rows; r++) free(want[r]);
    free(want);
    free(wlen);
    free(text);
    free(path);
}

static void npy_ingest(void **state)
{
    fixture *f = *state;
    int64_t v[5] = {5, 4, 3, 2, 1};
    double w[5] = {0.5, 1.5, 2.5, 3.5, 4.5};
    strata_array *a, *b;
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", "v", STRATA_I64, 5, v, &a));
    assert_ok(f->pool, strata_array_create_from(f->pool, "r", "w", STRATA_F64, 5, w, &b));
    strata_array_info ia, ib;
    strata_array_stat(a, 0, &ia);
    strata_array_stat(b, 0, &ib);
    const char *names[2] = {"v", "w"}, *files[2] = {ia.path, ib.path};
    strata_ingest_opts o = {.batch_rows = 2};
    strata_ingest_stats st;
    assert_ok(f->pool, strata_ingest_npy(f->pool, "r", "np", names, files, 2, &o, &st));
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.batches, 3);
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "np", 0, &s));
    double back[5];
    assert_ok(f->pool, strata_snapshot_read(s, 1, 0, 5, back));
    assert_memory_equal(back, w, sizeof w);
    strata_snapshot_close(s);
    /* wrong dtype for an existing column */
    const char *swapped[2] = {ib.path, ia.path};
    assert_status(f->pool, strata_ingest_npy(f->pool, "r", "np", names, swapped, 2, NULL, NULL),
                  STRATA_ETYPE);
    strata_array_close(a);
    strata_array_close(b);
}

/* Integers of every length from 1 to 19 digits, with and without a sign and leading zeros, at
 * every distance from the end of the file (the parser reads eight bytes at a time where there
 * is room), followed by a delimiter, a line end, a CRLF or the end: the values of strtoll. */
static void integers_of_every_length(void **state)
{
    fixture *f = *state;
    unsigned seed = 5;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    int64_t want[2][200];
    int nrow = 0;
    len += (size_t)snprintf(text + len, cap - len, "a,b\n");
    for (int digits = 1; digits <= 19; digits++)
        for (int v = 0; v < 8; v++) {
            char num[2][32];
            for (int c = 0; c < 2; c++) {
                int k = 0;
                if ((v + c) & 1) num[c][k++] = '-';
                for (int i = 0; i < digits; i++) {
                    int dmax = digits == 19 && i == 0 ? 8 : 9;
                    num[c][k++] = (char)('0' + (v == 3 && i < 2 ? 0 : rand_r(&seed) % (dmax + 1)));
                }
                num[c][k] = '\0';
                want[c][nrow] = strtoll(num[c], NULL, 10);
            }
            const char *eol = v == 5 ? "\r\n" : "\n";
            len += (size_t)snprintf(text + len, cap - len, "%s,%s%s", num[0], num[1], eol);
            nrow++;
        }
    len -= 1; /* the last line ends at the end of the file */
    text[len] = '\0';
    char *path = write_file(f, "ints.csv", text, len);
    const char *files[1] = {path};
    strata_ingest_opts o = {.schema = "a:i64,b:i64"};
    assert_ok(f->pool, strata_ingest_csv(f->pool, "r", "ints", files, 1, &o, NULL));
    strata_snapshot *snap;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "ints", 0, &snap));
    for (int c = 0; c < 2; c++) {
        const void *p;
        assert_ok(f->pool, strata_snapshot_map(snap, 0, c, &p));
        for (int r = 0; r < nrow; r++)
            if (((const int64_t *)p)[r] != want[c][r])
                fail_msg("row %d column %d: %lld, not %lld", r, c,
                         (long long)((const int64_t *)p)[r], (long long)want[c][r]);
    }
    strata_snapshot_close(snap);
    free(path);
    free(text);
}

/* A null marker that reads as a number (-999) is a null in integer columns too, also where
 * every field is an integer (their fast paths give way to it); quoted, it is the number. */
static void a_numeric_null_marker_is_a_null_in_integer_columns(void **state)
{
    fixture *f = *state;
    strata_ingest_opts o = {.schema = "a:i64,b:i64,c:i64", .null_marker = "-999"};
    assert_ok(f->pool, ingest_text(f, "nn",
                                   "a,b,c\n1,-999,3\n-999,\"5\",6\n7,8,9\n10,11,-999\n"
                                   "\"-999\",12,13\n",
                                   &o));
    strata_snapshot *s;
    assert_ok(f->pool, strata_snapshot_open(f->pool, "r", "nn", 0, &s));
    static const int64_t want[3][5] = {{1, 0, 7, 10, -999}, {0, 5, 8, 11, 12}, {3, 6, 9, 0, 13}};
    static const int nulls[3] = {0x2, 0x1, 0x8}; /* the rows that are null, one bit each */
    for (int c = 0; c < 3; c++) {
        int64_t v[5];
        const uint8_t *valid;
        assert_ok(f->pool, strata_snapshot_read(s, c, 0, 5, v));
        assert_memory_equal(v, want[c], sizeof v);
        assert_ok(f->pool, strata_snapshot_map_valid(s, 0, c, &valid));
        assert_non_null(valid);
        assert_int_equal(~valid[0] & 0x1f, nulls[c]);
    }
    strata_snapshot_close(s);
}

/* Append one random field of type T to TEXT (at *LEN): mostly what the fast path of whole
 * records takes (integers of 1-15 digits, plain decimals, ASCII strings of 0-100 bytes, long
 * enough to cross its 64-byte windows), sometimes what it leaves to the general path (18
 * digits, an exponent, a quoted string, a UTF-8 one, the null marker). */
static void random_field(char *text, size_t *len, strata_dtype t, unsigned *seed)
{
    int odd = rand_r(seed) % 50 == 0;
    char *o = text + *len;
    if (odd && rand_r(seed) % 4 == 0) {
        *len += (size_t)sprintf(o, "NA");
    } else if (t == STRATA_I64) {
        int digits = odd ? 18 : 1 + rand_r(seed) % 15;
        int k = rand_r(seed) % 3 == 0 ? sprintf(o, "-") : 0;
        for (int i = 0; i < digits; i++) o[k++] = (char)('0' + rand_r(seed) % 10);
        *len += (size_t)k;
    } else if (t == STRATA_F64) {
        *len += (size_t)(odd ? sprintf(o, "%de%d", rand_r(seed) % 100, rand_r(seed) % 20)
                             : sprintf(o, "%s%d.%0*d", rand_r(seed) % 3 ? "" : "-",
                                       rand_r(seed) % 100000, 1 + rand_r(seed) % 7,
                                       rand_r(seed) % 1000000));
    } else {
        int n = rand_r(seed) % 8 == 0 ? 65 + rand_r(seed) % 36 : rand_r(seed) % 20;
        int k = odd ? sprintf(o, rand_r(seed) % 2 ? "\"q,\"\"%d\"" : "\xc3\xa9t\xc3\xa9%d", n) : 0;
        for (int i = 0; !odd && i < n; i++) o[k++] = (char)('a' + rand_r(seed) % 26);
        *len += (size_t)k;
    }
}

/* The fast path of whole records (fields found 64 bytes at a time) gives what parsing one field
 * at a time gives, on 20 000 random records of integers, decimals and strings with surprises
 * among them (CRLF line ends, quoted and UTF-8 strings, long numbers, nulls, blank lines), in
 * ranges that end anywhere near a record's end. */
static void whole_records_parse_as_fields_do(void **state)
{
    (void)state;
    static const strata_dtype dt[5] = {STRATA_I64, STRATA_STR, STRATA_F64, STRATA_I64, STRATA_STR};
    static const int target[5] = {0, 1, 2, 3, 4};
    static const char *const names[5] = {"a", "b", "c", "d", "e"};
    size_t cap = 20000 * 5 * 128, len = 0;
    char *text = malloc(cap);
    unsigned seed = 11;
    len += (size_t)sprintf(text, "a,b,c,d,e\n");
    for (int r = 0; r < 20000; r++) {
        for (int f = 0; f < 5; f++) {
            random_field(text, &len, dt[f], &seed);
            text[len++] = f < 4 ? ',' : '\n';
        }
        if (rand_r(&seed) % 300 == 0) memcpy(text + len - 1, "\r\n", 3), len++;
        if (rand_r(&seed) % 500 == 0) text[len++] = '\n';
    }
    for (int cut = 0; cut < 3; cut++) {
        st_csv c = {.path = "mem.csv",
                    .data = text,
                    .size = len - (size_t)cut * 37,
                    .delim = ',',
                    .null_marker = "NA",
                    .null_len = 2,
                    .ncols = 5,
                    .target = target,
                    .dtypes = dt,
                    .names = names,
                    .body = 10};
        st_colbuf a[5] = {{0}}, b[5] = {{0}};
        for (int f = 0; f < 5; f++) a[f].dtype = b[f].dtype = dt[f];
        uint64_t ra = 0, rb = 0;
        size_t pa = 0, pb = 0;
        char ma[512] = "", mb[512] = "";
        int rca = st_csv_parse(&c, c.body, c.size, a, &ra, &pa, ma, sizeof ma);
        c.field_at_a_time = 1;
        int rcb = st_csv_parse(&c, c.body, c.size, b, &rb, &pb, mb, sizeof mb);
        assert_int_equal(rca, rcb);
        assert_int_equal(pa, pb);
        assert_string_equal(ma, mb);
        assert_int_equal(ra, rb);
        if (cut == 0) assert_int_equal(rca, STRATA_OK);
        for (int f = 0; f < 5; f++) {
            assert_int_equal(a[f].n, b[f].n);
            assert_int_equal(a[f].nnull, b[f].nnull);
            if (a[f].nnull) assert_memory_equal(a[f].nulls, b[f].nulls, a[f].nnull * 8);
            size_t vals = (size_t)a[f].n + (dt[f] == STRATA_STR);
            if (a[f].n) assert_memory_equal(a[f].v, b[f].v, vals * 8);
            if (dt[f] == STRATA_STR && a[f].nb) {
                assert_int_equal(a[f].nb, b[f].nb);
                assert_memory_equal(a[f].bytes, b[f].bytes, a[f].nb);
            }
            st_colbuf_free(&a[f]);
            st_colbuf_free(&b[f]);
        }
    }
    free(text);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(rfc4180_quotes_crlf_empty_fields),
        T(one_column_files_blank_lines_and_no_trailing_newline),
        T(huge_fields),
        T(floats_round_trip_exactly),
        cmocka_unit_test(parse_functions_edge_cases),
        T(bad_inputs_name_the_place_and_publish_nothing),
        T(results_do_not_depend_on_threads),
        T(a_byte_order_mark_is_skipped),
        T(a_nul_in_the_header_is_refused),
        T(nul_bytes_in_string_fields_are_kept),
        T(an_empty_first_string_value_is_empty),
        T(an_empty_column_and_a_bare_byte_order_mark),
        T(quoted_fields_keep_their_bytes_exactly),
        T(a_numeric_null_marker_is_a_null_in_integer_columns),
        T(npy_ingest),
        T(integers_of_every_length),
        cmocka_unit_test(whole_records_parse_as_fields_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
