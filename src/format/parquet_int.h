/*
 * parquet_int.h -- private to src/format: the Thrift compact protocol (reader and writer), the
 * page codecs and the RLE/bit-packed hybrid, shared by the Parquet reader and writer.
 */
#ifndef STRATA_FORMAT_PARQUET_INT_H
#define STRATA_FORMAT_PARQUET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "format/parquet.h"

/* ---- Thrift compact protocol ----------------------------------------------------------------
 * Types as they appear in field headers (the low nibble). In lists a boolean is one byte (1 =
 * true). A reader stops at its end pointer: every read checks the bytes it needs, and a failure
 * sets WHY (static text) and returns STRATA_ECORRUPT; the caller writes the message with
 * st_tc_pos() to say where. */
enum {
    ST_TC_STOP = 0,
    ST_TC_TRUE = 1,
    ST_TC_FALSE = 2,
    ST_TC_BYTE = 3,
    ST_TC_I16 = 4,
    ST_TC_I32 = 5,
    ST_TC_I64 = 6,
    ST_TC_DOUBLE = 7,
    ST_TC_BINARY = 8,
    ST_TC_LIST = 9,
    ST_TC_SET = 10,
    ST_TC_MAP = 11,
    ST_TC_STRUCT = 12
};

#define ST_TC_MAX_DEPTH 32

typedef struct {
    const uint8_t *base, *p, *end;
    const char *why;               /* the first failure, static text */
    int depth;                     /* structs open */
    int16_t last[ST_TC_MAX_DEPTH]; /* the last field id of each open struct */
} st_tc_reader;

void st_tc_reader_init(st_tc_reader *r, const uint8_t *p, size_t len);
size_t st_tc_pos(const st_tc_reader *r);

int st_tc_varint(st_tc_reader *r, uint64_t *v);
int st_tc_i32(st_tc_reader *r, int32_t *v);
int st_tc_i64(st_tc_reader *r, int64_t *v);
/* BINARY: a pointer into the buffer and its length. */
int st_tc_binary(st_tc_reader *r, const uint8_t **p, size_t *len);
/* A list or set header: element type and count (each element takes at least one byte, unless
 * they are booleans... which also take one; so COUNT is checked against the bytes left). */
int st_tc_list(st_tc_reader *r, int *elem_type, int64_t *count);
/* Enter a struct (after its field header, or as a list element). */
int st_tc_struct_begin(st_tc_reader *r);
/* The next field of the open struct: *type ST_TC_STOP at its end (which also leaves it). For a
 * boolean field *type is ST_TC_TRUE or ST_TC_FALSE and there is nothing more to read. */
int st_tc_field(st_tc_reader *r, int16_t *id, int *type);
/* Skip one value of TYPE (a field's value, or a list element), nested values included. */
int st_tc_skip(st_tc_reader *r, int type);
/* Read a field value of integer TYPE (BYTE, I16, I32, I64) as int64. */
int st_tc_int(st_tc_reader *r, int type, int64_t *v);

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
    int depth;
    int16_t last[ST_TC_MAX_DEPTH];
} st_tc_writer;

void st_tc_w_byte(st_tc_writer *w, uint8_t b);
/* N bytes as they are (the writer also serves as a growing byte buffer for page bodies). */
void st_tc_w_raw(st_tc_writer *w, const void *p, size_t n);
void st_tc_w_varint(st_tc_writer *w, uint64_t v);
void st_tc_w_field(st_tc_writer *w, int16_t id, int type);
void st_tc_w_i32(st_tc_writer *w, int16_t id, int32_t v);
void st_tc_w_i64(st_tc_writer *w, int16_t id, int64_t v);
void st_tc_w_bool(st_tc_writer *w, int16_t id, int v);
void st_tc_w_binary(st_tc_writer *w, int16_t id, const void *p, size_t len);
/* A struct field (ID > 0) or a struct list element (ID 0); closed by st_tc_w_end(). */
void st_tc_w_struct(st_tc_writer *w, int16_t id);
void st_tc_w_end(st_tc_writer *w);
/* A list field of COUNT elements of ELEM_TYPE; the elements follow: st_tc_w_struct(w, 0),
 * st_tc_w_elem_i32(), st_tc_w_elem_binary(). */
void st_tc_w_list(st_tc_writer *w, int16_t id, int elem_type, int64_t count);
void st_tc_w_elem_i32(st_tc_writer *w, int32_t v);
void st_tc_w_elem_binary(st_tc_writer *w, const void *p, size_t len);
void st_tc_writer_free(st_tc_writer *w);

/* ---- codecs ---------------------------------------------------------------------------------
 * Decompress SRC into exactly DST_LEN bytes of DST; STRATA_ECORRUPT when the data does not
 * decompress to that size, STRATA_EUNSUPPORTED for a codec we do not have. *why: static text. */
int st_pq_decompress(st_pq_codec codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                     size_t dst_len, const char **why);
/* The most bytes SRC[0..SRC_LEN) compressed with CODEC can decompress to, so that a page's
 * claimed size is checked before it is allocated; SIZE_MAX for a codec we do not have. For ZSTD
 * the frame's content size when it is recorded (it is checked again after decompressing). */
size_t st_pq_decompress_bound(st_pq_codec codec, const uint8_t *src, size_t src_len);
/* Compress SRC into a new buffer *dst (malloc) of *dst_len bytes. */
int st_pq_compress(st_pq_codec codec, int level, const uint8_t *src, size_t src_len, uint8_t **dst,
                   size_t *dst_len);
const char *st_pq_codec_name(int codec);
const char *st_pq_encoding_name(int enc);
/* Why CODEC is not available although Strata supports it (its library cannot be loaded), or
 * NULL. */
const char *st_pq_codec_missing(int codec);
const char *st_pq_type_name(int type);

/* ---- RLE / bit-packed hybrid (Encodings.md) -------------------------------------------------
 * Decode COUNT values of BIT_WIDTH (0..32) bits from P[0..LEN) into OUT; STRATA_ECORRUPT with
 * *why when the runs end early. */
int st_pq_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, int64_t count,
                     const char **why);

/* Decode COUNT values of DELTA_BINARY_PACKED from P[0..LEN) into OUT (wrapping 64-bit sums;
 * INT32 callers keep the low 32 bits); *USED: the bytes its blocks took, where the next section
 * of a DELTA_LENGTH_BYTE_ARRAY page starts. */
int st_pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, int64_t count, size_t *used,
                       const char **why);

/* Encodings (parquet.thrift Encoding). */
enum {
    ST_PQ_ENC_PLAIN = 0,
    ST_PQ_ENC_PLAIN_DICTIONARY = 2,
    ST_PQ_ENC_RLE = 3,
    ST_PQ_ENC_BIT_PACKED = 4,
    ST_PQ_ENC_DELTA_BINARY_PACKED = 5,
    ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    ST_PQ_ENC_DELTA_BYTE_ARRAY = 7,
    ST_PQ_ENC_RLE_DICTIONARY = 8,
    ST_PQ_ENC_BYTE_STREAM_SPLIT = 9
};

/* Page types. */
enum {
    ST_PQ_DATA_PAGE = 0,
    ST_PQ_INDEX_PAGE = 1,
    ST_PQ_DICTIONARY_PAGE = 2,
    ST_PQ_DATA_PAGE_V2 = 3
};

/* A page header as read. */
typedef struct {
    int type;
    int32_t uncompressed_size, compressed_size;
    int32_t num_values, num_nulls, num_rows;
    int encoding, def_encoding;
    int32_t def_len, rep_len; /* v2 */
    int is_compressed;        /* v2; 1 otherwise */
    int has_header;           /* the header of TYPE was present */
} st_pq_page;

int st_pq_page_header_read(st_tc_reader *r, st_pq_page *pg);
void st_pq_page_header_write(st_tc_writer *w, const st_pq_page *pg);

/* An open file: the validated footer (parquet_read.c), read by parquet_decode.c. */
struct st_pq_file {
    st_err *err;
    const uint8_t *data;
    size_t size;
    char *name;
    st_pq_limits lim;
    int ncols, nrg;
    st_pq_column *cols;
    int64_t *rg_rows;
    st_pq_chunk *chunks; /* nrg * ncols, row group major */
    int64_t num_rows;
    char *created_by;
};

#endif /* STRATA_FORMAT_PARQUET_INT_H */
