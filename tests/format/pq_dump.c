/*
 * pq_dump.c -- the C side of the DuckDB peer test (duckdb_parquet.mjs).
 *
 *   pq_dump FILE                 print FILE's rows through the Parquet reader, one line per row,
 *                                columns separated by tabs, in a canonical text: integers in
 *                                decimal, booleans 0/1, FLOAT and DOUBLE as the hex of their
 *                                bits, strings as the hex of their bytes, nulls as N
 *   pq_dump --write FILE CODEC [ROWS]  write a file of known columns through the Parquet writer
 *                                (CODEC: uncompressed, snappy, gzip, zstd; +dict for dictionary
 *                                encoding), two row groups of
 *                                ROWS rows (at most and by default 3000)
 * Exit status 0 on success; on failure the library's message on stderr and status 1, or 3 when
 * the file uses a feature the reader refuses (STRATA_EUNSUPPORTED).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/parquet.h"

static void print_value(const st_pq_values *v, int64_t i)
{
    if (v->validity != NULL && !((v->validity[i >> 3] >> (i & 7)) & 1)) {
        fputs("N", stdout);
        return;
    }
    switch (v->type) {
    case ST_PQ_BOOLEAN:
        printf("%d", ((const uint8_t *)v->values)[i]);
        break;
    case ST_PQ_INT32:
        printf("%" PRId32, ((const int32_t *)v->values)[i]);
        break;
    case ST_PQ_INT64:
        printf("%" PRId64, ((const int64_t *)v->values)[i]);
        break;
    case ST_PQ_FLOAT: {
        uint32_t b;
        memcpy(&b, (const uint8_t *)v->values + 4 * i, 4);
        printf("%08" PRIx32, b);
        break;
    }
    case ST_PQ_DOUBLE: {
        uint64_t b;
        memcpy(&b, (const uint8_t *)v->values + 8 * i, 8);
        printf("%016" PRIx64, b);
        break;
    }
    default:
        for (int64_t k = v->offsets[i]; k < v->offsets[i + 1]; k++) printf("%02x", v->bytes[k]);
        break;
    }
}

static int dump(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size == 0) {
        perror(path);
        return 1;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        perror(path);
        return 1;
    }
    st_err err;
    st_err_init(&err);
    st_pq_file *f = NULL;
    int rc = st_pq_open(&err, map, (size_t)sb.st_size, path, NULL, &f);
    int nc = rc == STRATA_OK ? st_pq_ncolumns(f) : 0;
    st_pq_values *cols = calloc((size_t)nc + 1, sizeof *cols);
    for (int g = 0; rc == STRATA_OK && g < st_pq_nrowgroups(f); g++) {
        for (int c = 0; rc == STRATA_OK && c < nc; c++) rc = st_pq_read_column(f, g, c, &cols[c]);
        for (int64_t i = 0; rc == STRATA_OK && i < st_pq_rowgroup_rows(f, g); i++) {
            for (int c = 0; c < nc; c++) {
                if (c) putchar('\t');
                print_value(&cols[c], i);
            }
            putchar('\n');
        }
        for (int c = 0; c < nc; c++) st_pq_values_release(&cols[c]);
    }
    if (rc != STRATA_OK) fprintf(stderr, "pq_dump: %s (%s)\n", err.msg, strata_errname(rc));
    free(cols);
    st_pq_close(f);
    st_err_destroy(&err);
    munmap(map, (size_t)sb.st_size);
    return rc == STRATA_OK ? 0 : rc == STRATA_EUNSUPPORTED ? 3 : 1;
}

static int file_write(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? STRATA_OK : STRATA_EIO;
}

/* Columns i32, i64, f64, f32, b, s, ts as the DuckDB side's table, nulls included. */
static int write_file(const char *path, const char *codec_name, int64_t rows)
{
    static const char *codecs[] = {"uncompressed", "snappy", "gzip", "", "", "", "zstd"};
    int codec = -1;
    size_t cl = strcspn(codec_name, "+");
    for (int k = 0; k < 7; k++)
        if (*codecs[k] && strlen(codecs[k]) == cl && strncmp(codecs[k], codec_name, cl) == 0)
            codec = k;
    if (codec < 0) {
        fprintf(stderr, "pq_dump: unknown codec %s\n", codec_name);
        return 2;
    }
    enum { NROWS = 3000, NCOLS = 7 };
    st_pq_colspec spec[NCOLS] = {
        {"i32", ST_PQ_INT32, {0}, 1},
        {"i64", ST_PQ_INT64, {0}, 0},
        {"f64", ST_PQ_DOUBLE, {0}, 1},
        {"f32", ST_PQ_FLOAT, {0}, 0},
        {"b", ST_PQ_BOOLEAN, {0}, 1},
        {"s", ST_PQ_BYTE_ARRAY, {ST_PQ_LT_STRING, 0, 0, 0, 0}, 1},
        {"ts", ST_PQ_INT64, {ST_PQ_LT_TIMESTAMP, ST_PQ_MICROS, 0, 0, 0}, 1},
    };
    static int32_t i32[NROWS];
    static int64_t i64[NROWS], ts[NROWS], off[NROWS + 1];
    static double f64[NROWS];
    static float f32[NROWS];
    static uint8_t b[NROWS], bytes[NROWS * 8];
    static uint8_t valid[NCOLS][NROWS / 8 + 1];
    st_pq_values v[NCOLS] = {
        {ST_PQ_INT32, NROWS, i32, NULL, NULL, valid[0], 0},
        {ST_PQ_INT64, NROWS, i64, NULL, NULL, NULL, 0},
        {ST_PQ_DOUBLE, NROWS, f64, NULL, NULL, valid[2], 0},
        {ST_PQ_FLOAT, NROWS, f32, NULL, NULL, NULL, 0},
        {ST_PQ_BOOLEAN, NROWS, b, NULL, NULL, valid[4], 0},
        {ST_PQ_BYTE_ARRAY, NROWS, NULL, off, bytes, valid[5], 0},
        {ST_PQ_INT64, NROWS, ts, NULL, NULL, valid[6], 0},
    };
    for (int64_t i = 0; i < NROWS; i++) {
        int null = i % 5 == 0;
        for (int c = 0; c < NCOLS; c++)
            if (!null) valid[c][i >> 3] |= (uint8_t)(1u << (i & 7));
        i32[i] = null ? 0 : (int32_t)((i * 7919 % 2003 - 1000) % 200);
        i64[i] = i * 1000000007LL;
        f64[i] = null ? 0 : (double)(i % 40) / 3;
        f32[i] = (float)i / 4;
        b[i] = null ? 0 : i % 3 == 0;
        off[i + 1] = off[i] + (null ? 0 : sprintf((char *)bytes + off[i], "s%d", (int)(i % 50)));
        ts[i] = null ? 0 : 1577836800000000LL + i * 1000000;
    }
    for (int c = 0; c < NCOLS; c++) {
        v[c].n = rows;
        v[c].null_count = v[c].validity ? (rows + 4) / 5 : 0;
    }
    FILE *out = fopen(path, "wb");
    if (out == NULL) {
        perror(path);
        return 1;
    }
    st_err err;
    st_err_init(&err);
    st_pq_write_opts opts = {.codec = (st_pq_codec)codec,
                             .dictionary = strcmp(codec_name + cl, "+dict") == 0};
    st_pq_writer *w = NULL;
    int rc = st_pq_writer_open(&err, spec, NCOLS, &opts, file_write, out, &w);
    if (rc == STRATA_OK) rc = st_pq_writer_write(w, v);
    if (rc == STRATA_OK) rc = st_pq_writer_write(w, v);
    if (rc == STRATA_OK) {
        rc = st_pq_writer_close(w);
    } else {
        st_pq_writer_free(w);
    }
    if (fclose(out) != 0 && rc == STRATA_OK) rc = STRATA_EIO;
    if (rc != STRATA_OK) fprintf(stderr, "pq_dump: %s (%s)\n", err.msg, strata_errname(rc));
    st_err_destroy(&err);
    return rc == STRATA_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2) return dump(argv[1]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "--write") == 0) {
        long rows = argc == 5 ? atol(argv[4]) : 3000;
        if (rows < 0 || rows > 3000) rows = 3000;
        return write_file(argv[2], argv[3], rows);
    }
    fprintf(stderr, "usage: pq_dump FILE | pq_dump --write FILE CODEC [ROWS]\n");
    return 2;
}
