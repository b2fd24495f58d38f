/*
 * csv.h -- the RFC 4180 parser behind strata_ingest_csv.
 *
 * The file is mapped; one parallel pass counts quotes per block so that any block boundary can
 * be moved to the next record boundary (the first newline outside quotes). Records are parsed by
 * chunks, one per thread, into typed column buffers; a chunk that fails is reparsed alone to
 * name the first bad field exactly.
 */
#ifndef STRATA_INGEST_CSV_H
#define STRATA_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Values of one column parsed from one chunk. */
typedef struct st_colbuf {
    strata_dtype dtype;
    char *v; /* n values of dtype (strings: n+1 offsets, int64) */
    uint64_t n, cap;
    char *bytes; /* strings: the bytes */
    uint64_t nb, bcap;
    uint64_t *nulls; /* the rows that are null, ascending (their values are zero or empty) */
    uint64_t nnull, ncap;
    const uint8_t *valid; /* or: a validity bitmap of the n rows (util/bits.h), not owned */
} st_colbuf;

/* Record that row B->N (about to be counted) is null: 0, or -1 when out of memory. */
int st_colbuf_null(st_colbuf *b);

/* The validity of rows [FROM, FROM + K) of B as a bitmap (util/bits.h) in *VALID (malloc'ed;
 * NULL when none of them is null): STRATA_OK or STRATA_ENOMEM. */
int st_colbuf_valid(const st_colbuf *b, uint64_t from, uint64_t k, uint8_t **valid);

typedef struct st_csv {
    const char *path;
    const char *data; /* the mapped file */
    size_t size;
    char delim;
    const char *null_marker;
    size_t null_len;
    int ncols;                  /* fields per record */
    const int *target;          /* field i goes to column target[i] of the dataset (-1: error) */
    const strata_dtype *dtypes; /* dtype of field i */
    const char *const *names;   /* column name of field i (messages) */
    size_t head;                /* offset of the header: 3 after a UTF-8 byte order mark */
    size_t body;                /* offset of the first record after the header */
    uint8_t *parity;            /* per block: quotes before it, mod 2 */
    size_t nblocks;
    size_t block;        /* bytes per block of the quote index: ST_CSV_BLOCK (less in tests) */
    int field_at_a_time; /* tests: no fast path of whole records (fast_records() in csv.c) */
} st_csv;

#define ST_CSV_BLOCK ((size_t)1 << 20)

/* Map PATH and read its header (the first record) into NAMES (*NAMES_OUT: array of *NFIELDS
 * strdup'ed names, free with st_csv_free_names). Sets c->head and c->body. A UTF-8 byte order
 * mark (EF BB BF, as spreadsheet programs write) before the header is skipped; a NUL byte in the
 * header is refused (a name cannot hold one: it would be cut short). */
int st_csv_open(st_err *err, st_csv *c, const char *path, char delim);
int st_csv_header(st_err *err, st_csv *c, char ***names_out, int *nfields);
void st_csv_free_names(char **names, int n);
void st_csv_close(st_csv *c);

/* Count quotes per block (parallel): afterwards any block can start a chunk. */
int st_csv_index(st_err *err, st_csv *c, int nthreads);

/* The first record start at or after block B's start (c->size if none). */
size_t st_csv_record_start(const st_csv *c, size_t block);

/* Parse records in [BEGIN, END) into COLS (ncols buffers, types from c->dtypes). On failure
 * returns the status and sets *ERR_POS to the offending byte and ERR with the message (without
 * the line: st_csv_locate adds it). */
int st_csv_parse(const st_csv *c, size_t begin, size_t end, st_colbuf *cols, uint64_t *rows,
                 size_t *err_pos, char *msg, size_t msglen);

/* "FILE:LINE:COL" of byte POS (columns in bytes, from 1; a byte order mark takes none). */
void st_csv_locate(const st_csv *c, size_t pos, char *out, size_t len);

/* Infer column types from up to MAXROWS records after the header: i64 if every non-null value
 * is an integer, f64 if every non-null value is a number, ts if every one is an ISO 8601 date
 * and time, bool if every one is true or false (any case), else str (also when every value is
 * null). */
void st_csv_infer(const st_csv *c, int nfields, strata_dtype *out, uint64_t maxrows);

void st_colbuf_free(st_colbuf *b);
void st_colbuf_reset(st_colbuf *b);

/* Room in each of COLS[NCOLS] for about as many values as [BEGIN, END) of C holds records
 * (guessed from the lines of its first 64 KiB, with ~6 % to spare), so that a parse does not
 * grow them by doubling: each doubling copies what the buffer holds once the allocator serves
 * it from its heap, as it does in a process that ingested before. Best effort: nothing on
 * failure. */
void st_csv_reserve(const st_csv *c, size_t begin, size_t end, st_colbuf *cols, int ncols);

#endif /* STRATA_INGEST_CSV_H */
