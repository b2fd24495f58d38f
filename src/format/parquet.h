/*
 * parquet.h -- a Parquet codec: file bytes <-> columns, knowing nothing of pools or datasets.
 *
 * Written from the format's specification (apache/parquet-format: parquet.thrift, Encodings.md,
 * and the Thrift compact protocol). Flat schemas only: every leaf is a direct child of the root,
 * REQUIRED or OPTIONAL (maximum definition level 1, no repetition).
 *
 * Reading: the caller maps the whole file and hands st_pq_open() the bytes; it validates the
 * footer and returns the schema and row groups. st_pq_read_column() then decodes one column
 * chunk of one row group into the representation below. Every length, offset, count and varint
 * is checked against the buffer; a malformed file fails with STRATA_ECORRUPT, a feature we do
 * not implement (nested columns, INT96, FIXED_LEN_BYTE_ARRAY, LZ4/BROTLI/LZO) with
 * STRATA_EUNSUPPORTED,
 * and the message names the row group, column and page.
 *
 * Writing: st_pq_writer_open() takes the columns' names and types and a write callback (or
 * st_pq_buf_write for a growing memory buffer); each st_pq_writer_write() adds one row group
 * (PLAIN or dictionary encoding, data page v1, one data page per column chunk, statistics);
 * st_pq_writer_close()
 * writes the footer and "PAR1".
 *
 * No global state, no printing: errors go to the caller's st_err.
 */
#ifndef STRATA_FORMAT_PARQUET_H
#define STRATA_FORMAT_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Physical types (parquet.thrift Type). */
typedef enum {
    ST_PQ_BOOLEAN = 0,
    ST_PQ_INT32 = 1,
    ST_PQ_INT64 = 2,
    ST_PQ_INT96 = 3, /* refused by the reader */
    ST_PQ_FLOAT = 4,
    ST_PQ_DOUBLE = 5,
    ST_PQ_BYTE_ARRAY = 6,
    ST_PQ_FIXED_LEN_BYTE_ARRAY = 7 /* refused by the reader */
} st_pq_type;

/* Compression codecs (parquet.thrift CompressionCodec); the ones implemented are marked. */
typedef enum {
    ST_PQ_UNCOMPRESSED = 0, /* yes */
    ST_PQ_SNAPPY = 1,       /* yes */
    ST_PQ_GZIP = 2,         /* yes */
    ST_PQ_LZO = 3,
    ST_PQ_BROTLI = 4,
    ST_PQ_LZ4 = 5,
    ST_PQ_ZSTD = 6, /* yes */
    ST_PQ_LZ4_RAW = 7
} st_pq_codec;

/* The logical type of a column (LogicalType, or derived from the legacy ConvertedType when the
 * file has only that). ST_PQ_LT_OTHER: a logical type we do not interpret (DECIMAL, JSON, ...);
 * the values are returned as their physical type. */
typedef enum {
    ST_PQ_LT_NONE = 0,
    ST_PQ_LT_STRING,
    ST_PQ_LT_TIMESTAMP,
    ST_PQ_LT_DATE,
    ST_PQ_LT_INTEGER,
    ST_PQ_LT_OTHER
} st_pq_logical_kind;

typedef enum { ST_PQ_MILLIS = 0, ST_PQ_MICROS = 1, ST_PQ_NANOS = 2 } st_pq_time_unit;

typedef struct {
    st_pq_logical_kind kind;
    st_pq_time_unit unit; /* TIMESTAMP */
    int utc;              /* TIMESTAMP: isAdjustedToUTC */
    int bit_width;        /* INTEGER: 8, 16, 32 or 64 */
    int is_signed;        /* INTEGER */
} st_pq_logical;

/* One column of the (flat) schema. Owned by the st_pq_file; valid until st_pq_close(). */
typedef struct {
    const char *name;
    st_pq_type type;
    int optional;       /* 1: OPTIONAL (may hold nulls), 0: REQUIRED */
    int converted_type; /* the legacy ConvertedType as in the file, -1 when absent */
    st_pq_logical logical;
} st_pq_column;

/* A column chunk's statistics. MIN and MAX are PLAIN-encoded values (raw bytes for BYTE_ARRAY),
 * pointing into the file's buffer (valid while it is), NULL when absent; min_value/max_value
 * are preferred, the deprecated min/max are used when they are the only ones. */
typedef struct {
    const uint8_t *min, *max;
    size_t min_len, max_len;
    int64_t null_count; /* -1 when absent */
} st_pq_stats;

/* One column chunk of a row group, as the footer describes it. */
typedef struct {
    st_pq_codec codec;
    int64_t num_values;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1 when absent */
    int64_t total_compressed_size;
    int64_t total_uncompressed_size;
    st_pq_stats stats;
} st_pq_chunk;

/* Decoded values of one column chunk, or the input of one column to the writer:
 *   BOOLEAN: N bytes, 0 or 1; INT32: N int32_t; INT64: N int64_t; FLOAT: N float; DOUBLE: N
 *   double; BYTE_ARRAY: OFFSETS (N+1 int64_t, offsets[0] = 0) into BYTES (offsets[N] bytes),
 *   as Arrow's large_utf8.
 * VALIDITY: Arrow's layout, (N+7)/8 bytes, bit i (LSB first) 1 when row i is valid; NULL when
 * no row is null. Null rows' values are zero (empty strings). From the reader, every pointer is
 * owned by the struct: st_pq_values_release(). */
typedef struct {
    st_pq_type type;
    int64_t n;
    void *values;     /* fixed-width types */
    int64_t *offsets; /* BYTE_ARRAY */
    uint8_t *bytes;   /* BYTE_ARRAY */
    uint8_t *validity;
    int64_t null_count;
} st_pq_values;

/* Free what the reader allocated in V and zero it. V may be NULL. */
void st_pq_values_release(st_pq_values *v);

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct st_pq_file st_pq_file;

/* Bounds on what one st_pq_read_column() may allocate, since run-length and dictionary
 * encodings can describe far more data than the file holds. Zero fields take the defaults. */
typedef struct {
    int64_t max_rows;  /* rows of one column chunk; default 1 << 28 */
    int64_t max_bytes; /* BYTE_ARRAY bytes of one column chunk; default 1 << 32 */
} st_pq_limits;

/* Open the Parquet file held in DATA[0..SIZE) (the caller keeps it mapped until st_pq_close).
 * NAME is used in messages. Parses and validates the footer: magic, metadata length, schema
 * (flat only), every row group's column chunks (types agree with the schema, byte ranges inside
 * the file). LIMITS may be NULL. *out: st_pq_close(). Errors go to ERR (may be NULL), which the
 * file keeps for st_pq_read_column(). */
int st_pq_open(st_err *err, const void *data, size_t size, const char *name,
               const st_pq_limits *limits, st_pq_file **out);

/* Release F. F may be NULL. */
void st_pq_close(st_pq_file *f);

int st_pq_ncolumns(const st_pq_file *f);
const st_pq_column *st_pq_column_at(const st_pq_file *f, int col);
int st_pq_nrowgroups(const st_pq_file *f);
int64_t st_pq_rowgroup_rows(const st_pq_file *f, int rg);
int64_t st_pq_num_rows(const st_pq_file *f);
/* The "created_by" of the footer, "" when absent. Owned by F. */
const char *st_pq_created_by(const st_pq_file *f);
/* The footer's description of column COL in row group RG. Owned by F. */
const st_pq_chunk *st_pq_chunk_at(const st_pq_file *f, int rg, int col);

/* Decode column COL of row group RG into *OUT (zeroed first; st_pq_values_release() it; on
 * failure nothing is left to release). Encodings PLAIN, PLAIN_DICTIONARY/RLE_DICTIONARY, RLE
 * (booleans), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and
 * BYTE_STREAM_SPLIT; data pages v1 and v2. F is only read, so several threads may decode columns
 * of one file at once (their messages go to the same st_err, which locks). Memory: the output,
 * one decompressed page, and scratch of 24 bytes per row of the largest page. */
int st_pq_read_column(st_pq_file *f, int rg, int col, st_pq_values *out);

/* ---- writing ----------------------------------------------------------------------------- */

/* Called with the file's bytes in order; returns STRATA_OK or a negative status (which the
 * writer returns, having recorded "cannot write" in its error slot unless the callback did). */
typedef int (*st_pq_write_fn)(void *ctx, const void *buf, size_t len);

/* A growing memory buffer, for st_pq_buf_write as the callback. Zero-initialise it; free(data). */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} st_pq_buf;
int st_pq_buf_write(void *buf, const void *data, size_t len);

/* A column to write: its name, physical type (not INT96 or FIXED_LEN_BYTE_ARRAY), logical type
 * (NONE, STRING for BYTE_ARRAY, TIMESTAMP for INT64, DATE for INT32, INTEGER) and whether it is
 * OPTIONAL (may hold nulls; a REQUIRED column's values must have no validity bitmap). */
typedef struct {
    const char *name;
    st_pq_type type;
    st_pq_logical logical;
    int optional;
} st_pq_colspec;

typedef struct {
    st_pq_codec codec; /* UNCOMPRESSED (the zero default), SNAPPY, GZIP or ZSTD */
    int zstd_level;    /* 0: 3 */
    /* 1: a column chunk with at most half as many distinct values as non-null rows (booleans
     * never) is written as a dictionary page and the values' ids (PLAIN_DICTIONARY); 0: PLAIN */
    int dictionary;
    int nthreads; /* column chunks encoded at once; 0: 1 */
} st_pq_write_opts;

typedef struct st_pq_writer st_pq_writer;

/* Start a file of NCOLS columns COLS (copied) through WRITE(CTX, ...); writes "PAR1". OPTS may
 * be NULL. *out: st_pq_writer_close() to finish the file, st_pq_writer_free() to abandon it. */
int st_pq_writer_open(st_err *err, const st_pq_colspec *cols, int ncols,
                      const st_pq_write_opts *opts, st_pq_write_fn write, void *ctx,
                      st_pq_writer **out);

/* Write one row group: COLS[i] holds column i's values (the representation above; its type must
 * be the column's), all of the same length. */
int st_pq_writer_write(st_pq_writer *w, const st_pq_values *cols);

/* Write NGROUPS row groups, GROUPS[k] as st_pq_writer_write() takes one: their column chunks
 * are encoded in parallel (opts.nthreads), which balances better than one group's columns. */
int st_pq_writer_write_groups(st_pq_writer *w, const st_pq_values *const *groups, int ngroups);

/* Write the footer (FileMetaData, its length, "PAR1") and free W, also on failure. */
int st_pq_writer_close(st_pq_writer *w);

/* Free W without finishing the file. W may be NULL. */
void st_pq_writer_free(st_pq_writer *w);

#endif /* STRATA_FORMAT_PARQUET_H */
