/*
 * text_out.c -- a snapshot's rows as text: CSV, TSV, JSON and NDJSON (strata_snapshot_format_head,
 * strata_snapshot_format_rows, strata_export_text).
 *
 * Each value is written straight into a growing buffer (numbers by util/text.h, no stdio), the
 * buffer made room for once a row (its numbers' most) and again only before a string. The export
 * formats a batch in pieces of TX_PIECE rows on the pool's threads, each thread a piece at a time
 * into its own buffer, and the pieces are written in row order, each as soon as the one before
 * it is (memory: a piece's text a thread): the file is the same bytes for any thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interop/interop.h"
#include "interop/interop_int.h"
#include "store/store.h"
#include "util/bits.h"
#include "util/fileio.h"
#include "util/par.h"
#include "util/text.h"
#include "util/ts.h"

/* Rows a piece of the export's text. */
#define TX_PIECE 16384

/* A dataset of fewer values than this is exported on one thread: a second one costs more in
 * starting than it gains (taxi rows, medians of 15 whole commands on a 2-vCPU VM: 60 000 rows 6.3
 * ms on one thread against 8.1 ms on two, 100 000 rows 8.4 against 8.4 ms, 200 000 rows 14.4
 * against 12.7 ms). */
#define TX_ONE_THREAD ((uint64_t)512 << 10)

/* The most bytes a number, a bool or a timestamp takes. */
#define TX_VALUE_MAX 40

/* A text being built: LEN bytes of CAP at P (malloc'd). */
typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

/* Room for NEED more bytes in B; STRATA_ENOMEM. */
static int room(tbuf *b, size_t need)
{
    if (b->len + need <= b->cap) return STRATA_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) return STRATA_ENOMEM;
    b->p = p;
    b->cap = cap;
    return STRATA_OK;
}

/* The columns of the rows formatted: their dtypes, their names as JSON keys ("name":), and a
 * batch's data as mapped. */
typedef struct tcols {
    int n, format;
    char delim;
    size_t fixed; /* the most bytes a row takes without its strings' bytes */
    strata_dtype *dt;
    size_t *esz; /* each value's bytes */
    char **key;
    size_t *keylen;
    const void **ptr;
    const int64_t **off;
    const char **bytes;
    const uint8_t **valid;
} tcols;

/* S (N bytes) as a CSV field at W: quoted when it holds the delimiter, a quote, CR or LF, or is
 * empty ("" is the empty string; an empty field, a null). At most 2 N + 2 bytes; the end. */
static char *csv_str(char *w, const char *s, size_t n, char delim)
{
    size_t i = 0; /* copied as scanned: most strings need no quotes */
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == delim || ch == '"' || ch == '\n' || ch == '\r') break;
        w[i] = ch;
    }
    if (i == n && n > 0) return w + n;
    *w++ = '"';
    for (i = 0; i < n; i++) {
        if (s[i] == '"') *w++ = '"';
        *w++ = s[i];
    }
    *w++ = '"';
    return w;
}

/* S (N bytes) as a JSON string at W. At most 6 N + 2 bytes; the end. */
static char *json_str(char *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *w++ = '"';
    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++) {
        unsigned char c = *p;
        char e = c == '"'    ? '"'
                 : c == '\\' ? '\\'
                 : c == '\n' ? 'n'
                 : c == '\r' ? 'r'
                 : c == '\t' ? 't'
                             : 0;
        if (e != 0) {
            *w++ = '\\';
            *w++ = e;
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    return w;
}

/* The number, bool or timestamp at P (of DT) as text at W (JSON: non-finite floats as null,
 * timestamps quoted); the end. */
static char *put_value(char *w, strata_dtype dt, const char *p, int json)
{
    int64_t i;
    uint64_t u;
    double f;
    switch (dt) {
    case STRATA_I8:
        return w + st_text_i64(w, *(const int8_t *)p);
    case STRATA_I16:
        return w + st_text_i64(w, *(const int16_t *)(const void *)p);
    case STRATA_I32:
        return w + st_text_i64(w, *(const int32_t *)(const void *)p);
    case STRATA_I64:
        memcpy(&i, p, 8);
        return w + st_text_i64(w, i);
    case STRATA_U8:
        return w + st_text_u64(w, *(const uint8_t *)p);
    case STRATA_U16:
        return w + st_text_u64(w, *(const uint16_t *)(const void *)p);
    case STRATA_U32:
        return w + st_text_u64(w, *(const uint32_t *)(const void *)p);
    case STRATA_U64:
        memcpy(&u, p, 8);
        return w + st_text_u64(w, u);
    case STRATA_F32:
    case STRATA_F64:
        if (dt == STRATA_F32) {
            float x;
            memcpy(&x, p, 4);
            f = x;
        } else {
            memcpy(&f, p, 8);
        }
        if (json && !isfinite(f)) {
            memcpy(w, "null", 4);
            return w + 4;
        }
        return w + st_text_real(w, f, dt == STRATA_F32);
    case STRATA_BOOL:
        memcpy(w, *p ? "true" : "false", *p ? 4 : 5);
        return w + (*p ? 4 : 5);
    case STRATA_TS:
        memcpy(&i, p, 8);
        if (json) *w++ = '"';
        w += st_ts_format(i, w);
        if (json) *w++ = '"';
        return w;
    default:
        return w;
    }
}

/* Rows ROWS[0..N) (NULL: FIRST..FIRST + N) of C's batch appended to B; BEFORE: the output's rows
 * before them (JSON: "\n" before its first row, ",\n" before the others). STRATA_ENOMEM. */
static int put_rows(const tcols *c, const uint64_t *rows, uint64_t first, uint64_t n,
                    uint64_t before, tbuf *out)
{
    int json = c->format == STRATA_TEXT_JSON || c->format == STRATA_TEXT_NDJSON, rc = STRATA_OK;
    tbuf local = *out, *b = &local; /* (the threads' buffers share lines: each works on a copy) */
    for (uint64_t k = 0; k < n && rc == STRATA_OK; k++) {
        uint64_t r = rows != NULL ? rows[k] : first + k;
        if ((rc = room(b, c->fixed)) < 0) break;
        size_t row0 = b->len;
        char *w = b->p + b->len;
        if (c->format == STRATA_TEXT_JSON) {
            if (before + k > 0) *w++ = ',';
            *w++ = '\n';
        }
        if (json) *w++ = '{';
        for (int i = 0; i < c->n; i++) {
            if (json) {
                if (i > 0) *w++ = ',';
                memcpy(w, c->key[i], c->keylen[i]);
                w += c->keylen[i];
            } else if (i > 0) {
                *w++ = c->delim;
            }
            if (c->valid[i] != NULL && !st_bit(c->valid[i], r)) {
                if (json) { /* CSV: the empty field */
                    memcpy(w, "null", 4);
                    w += 4;
                }
                continue;
            }
            if (c->dt[i] != STRATA_STR) {
                w = put_value(w, c->dt[i], (const char *)c->ptr[i] + r * c->esz[i], json);
                continue;
            }
            const char *s = c->bytes[i] + c->off[i][r];
            size_t len = (size_t)(c->off[i][r + 1] - c->off[i][r]);
            b->len = (size_t)(w - b->p);
            if ((rc = room(b, (json ? 6 : 2) * len + 2 + c->fixed)) < 0) break;
            w = b->p + b->len;
            w = json ? json_str(w, s, len) : csv_str(w, s, len, c->delim);
        }
        if (rc < 0) {
            b->len = row0; /* (a row cut short by a failure not kept) */
            break;
        }
        if (json) *w++ = '}';
        if (c->format != STRATA_TEXT_JSON) *w++ = '\n';
        b->len = (size_t)(w - b->p);
    }
    *out = local;
    return rc;
}

static void tcols_free(tcols *c)
{
    for (int i = 0; c->key != NULL && i < c->n; i++) free(c->key[i]);
    free(c->dt);
    free(c->esz);
    free(c->key);
    free(c->keylen);
    free(c->ptr);
    free(c->off);
    free(c->bytes);
    free(c->valid);
    memset(c, 0, sizeof *c);
}

/* C := columns COLS[N] of S's dataset D, in FORMAT. STRATA_EINVAL (a format), STRATA_ERANGE
 * (a column), STRATA_ENOMEM; tcols_free() in any case. */
static int tcols_init(st_err *err, const strata_dataset_desc *d, const int *cols, int n, int format,
                      tcols *c)
{
    memset(c, 0, sizeof *c);
    if (format < STRATA_TEXT_CSV || format > STRATA_TEXT_NDJSON)
        return st_error(err, STRATA_EINVAL, "text format %d is not one of csv, tsv, json, ndjson",
                        format);
    c->n = n;
    c->format = format;
    c->delim = format == STRATA_TEXT_TSV ? '\t' : ',';
    size_t k = (size_t)n + 1;
    c->dt = calloc(k, sizeof *c->dt);
    c->esz = calloc(k, sizeof *c->esz);
    c->key = calloc(k, sizeof *c->key);
    c->keylen = calloc(k, sizeof *c->keylen);
    c->ptr = calloc(k, sizeof *c->ptr);
    c->off = calloc(k, sizeof *c->off);
    c->bytes = calloc(k, sizeof *c->bytes);
    c->valid = calloc(k, sizeof *c->valid);
    if (!c->dt || !c->esz || !c->key || !c->keylen || !c->ptr || !c->off || !c->bytes || !c->valid)
        return st_error(err, STRATA_ENOMEM, "out of memory");
    c->fixed = 8; /* "{", "}", ",\n", "\n" */
    for (int i = 0; i < n; i++) {
        if (cols[i] < 0 || cols[i] >= d->ncols)
            return st_error(err, STRATA_ERANGE, "column index %d is out of range", cols[i]);
        const char *name = d->columns[cols[i]].name;
        size_t len = strlen(name);
        c->dt[i] = d->columns[cols[i]].dtype;
        c->esz[i] = strata_dtype_size(c->dt[i]);
        if ((c->key[i] = malloc(6 * len + 4)) == NULL)
            return st_error(err, STRATA_ENOMEM, "out of memory");
        char *w = json_str(c->key[i], name, len);
        *w++ = ':';
        c->keylen[i] = (size_t)(w - c->key[i]);
        c->fixed += TX_VALUE_MAX + 1 + (format >= STRATA_TEXT_JSON ? c->keylen[i] : 0);
    }
    return STRATA_OK;
}

/* C's columns of batch B of S mapped. */
static int tcols_map(strata_snapshot *s, uint64_t b, const int *cols, tcols *c)
{
    int rc = STRATA_OK;
    for (int i = 0; i < c->n && rc == STRATA_OK; i++) {
        rc = c->dt[i] == STRATA_STR
                 ? strata_snapshot_map_str(s, b, cols[i], &c->off[i], &c->bytes[i])
                 : strata_snapshot_map(s, b, cols[i], &c->ptr[i]);
        if (rc == STRATA_OK) rc = strata_snapshot_map_valid(s, b, cols[i], &c->valid[i]);
    }
    return rc;
}

/* The head of C's text (CSV, TSV: the names' line; JSON: "["; NDJSON: nothing) appended to B. */
static int put_head(const tcols *c, const strata_dataset_desc *d, const int *cols, tbuf *b)
{
    if (c->format == STRATA_TEXT_NDJSON) return STRATA_OK;
    if (c->format == STRATA_TEXT_JSON) {
        if (room(b, 1) < 0) return STRATA_ENOMEM;
        b->p[b->len++] = '[';
        return STRATA_OK;
    }
    for (int i = 0; i < c->n; i++) {
        const char *name = d->columns[cols[i]].name;
        size_t len = strlen(name);
        if (room(b, 2 * len + 4) < 0) return STRATA_ENOMEM;
        char *w = b->p + b->len;
        if (i > 0) *w++ = c->delim;
        w = csv_str(w, name, len, c->delim);
        if (i == c->n - 1) *w++ = '\n';
        b->len = (size_t)(w - b->p);
    }
    return STRATA_OK;
}

/* The caller's buffer (*BUF, *LEN, *CAP) as a tbuf, and back. */
static int caller_buf(char **buf, size_t *len, size_t *cap, tbuf *b)
{
    if (buf == NULL || len == NULL || cap == NULL || *len > *cap || (*buf == NULL && *cap != 0))
        return STRATA_EINVAL;
    *b = (tbuf){*buf, *len, *cap};
    return STRATA_OK;
}

/* B back to the caller's buffer, a NUL after its text (not counted); RC, or STRATA_ENOMEM. */
static int caller_back(st_err *err, tbuf *b, char **buf, size_t *len, size_t *cap, int rc)
{
    if (room(b, 1) == STRATA_OK)
        b->p[b->len] = '\0';
    else if (rc == STRATA_OK)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    *buf = b->p;
    *len = b->len;
    *cap = b->cap;
    return rc;
}

int strata_snapshot_format_head(strata_snapshot *s, const int *cols, int ncols, int format,
                                char **buf, size_t *len, size_t *cap)
{
    tbuf b;
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    if (cols == NULL || ncols < 1)
        return st_error(err, STRATA_EINVAL, "no columns to format (the columns' list is empty)");
    if (caller_buf(buf, len, cap, &b) < 0)
        return st_error(err, STRATA_EINVAL, "the text buffer is not one the format calls gave");
    strata_dataset_desc d;
    tcols c = {0};
    int rc = strata_snapshot_info(s, &d);
    if (rc == STRATA_OK) rc = tcols_init(err, &d, cols, ncols, format, &c);
    if (rc == STRATA_OK && put_head(&c, &d, cols, &b) < 0)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    rc = caller_back(err, &b, buf, len, cap, rc);
    tcols_free(&c);
    return rc;
}

int strata_snapshot_format_rows(strata_snapshot *s, uint64_t batch, const uint64_t *rows,
                                uint64_t first, uint64_t nrows, const int *cols, int ncols,
                                int format, uint64_t before, char **buf, size_t *len, size_t *cap)
{
    tbuf b;
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    if (cols == NULL || ncols < 1)
        return st_error(err, STRATA_EINVAL, "no columns to format (the columns' list is empty)");
    if (caller_buf(buf, len, cap, &b) < 0)
        return st_error(err, STRATA_EINVAL, "the text buffer is not one the format calls gave");
    strata_dataset_desc d;
    strata_batch_info bi;
    tcols c = {0};
    int rc = strata_snapshot_info(s, &d);
    if (rc == STRATA_OK) rc = tcols_init(err, &d, cols, ncols, format, &c);
    if (rc == STRATA_OK) rc = strata_snapshot_batch(s, batch, &bi);
    for (uint64_t k = 0; rc == STRATA_OK && rows != NULL && k < nrows; k++)
        if (rows[k] >= bi.nrows)
            rc = st_error(err, STRATA_ERANGE, "row %llu is past batch %llu's %llu rows",
                          (unsigned long long)rows[k], (unsigned long long)batch,
                          (unsigned long long)bi.nrows);
    if (rc == STRATA_OK && rows == NULL && (first > bi.nrows || nrows > bi.nrows - first))
        rc = st_error(err, STRATA_ERANGE, "rows %llu to %llu are past batch %llu's %llu rows",
                      (unsigned long long)first, (unsigned long long)(first + nrows),
                      (unsigned long long)batch, (unsigned long long)bi.nrows);
    if (rc == STRATA_OK && nrows > 0) rc = tcols_map(s, batch, cols, &c);
    if (rc == STRATA_OK && put_rows(&c, rows, first, nrows, before, &b) < 0)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    rc = caller_back(err, &b, buf, len, cap, rc);
    tcols_free(&c);
    return rc;
}

/* C's batch (NROWS rows, BEFORE rows of the output before it) into OUT in pieces of TX_PIECE rows
 * on NT threads, each formatting a piece into its own text (PIECE[thread]) and writing it in
 * turn, in row order, while the others format theirs. */
static int export_batch(st_err *err, const tcols *c, uint64_t nrows, uint64_t before, int nt,
                        tbuf *piece, st_outfile *out)
{
    int rc = STRATA_OK, stop = 0;
    int64_t np = (int64_t)((nrows + TX_PIECE - 1) / TX_PIECE);
#pragma omp parallel for ordered num_threads(np > 1 ? nt : 1) schedule(static, 1)
    for (int64_t p = 0; p < np; p++) {
        tbuf *t = &piece[st_thread_num()];
        uint64_t a = (uint64_t)p * TX_PIECE, e = a + TX_PIECE < nrows ? a + TX_PIECE : nrows;
        int r, quit;
#pragma omp atomic read
        quit = stop;
        t->len = 0;
        r = quit ? STRATA_OK : put_rows(c, NULL, a, e - a, before + a, t);
#pragma omp ordered
        {
            if (rc == STRATA_OK && r < 0) rc = st_error(err, r, "out of memory");
            if (rc == STRATA_OK) rc = st_outfile_write(out, t->p, t->len);
            if (rc < 0) {
#pragma omp atomic write
                stop = 1;
            }
        }
    }
    return rc;
}

int strata_export_text(strata_snapshot *s, const int *cols, int ncols, const char *path, int format)
{
    if (s == NULL || path == NULL) return STRATA_EINVAL;
    strata_pool *pool = st_snapshot_pool(s);
    st_err *err = st_pool_err(pool);
    strata_dataset_desc d;
    st_outfile out = {.w = {.fd = -1}};
    tcols c = {0};
    tbuf head = {0};
    tbuf *piece = NULL; /* each thread's piece of text */
    int *pick = NULL, nc = 0, nt = st_pool_threads(pool);
    int rc = strata_snapshot_info(s, &d);
    ST_TRY(rc);
    ST_TRY(rc = st_export_columns(err, &d, cols, ncols, &pick, &nc));
    ST_TRY(rc = tcols_init(err, &d, pick, nc, format, &c));
    if (d.nrows * (uint64_t)nc < TX_ONE_THREAD) nt = 1;
    piece = calloc((size_t)nt, sizeof *piece);
    if (piece == NULL || put_head(&c, &d, pick, &head) < 0) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    ST_TRY(rc = st_outfile_open(err, &out, path));
    ST_TRY(rc = st_outfile_write(&out, head.p, head.len));
    uint64_t before = 0;
    for (uint64_t b = 0; b < d.nbatches && rc == STRATA_OK; b++) {
        st_pool_work(pool, "batches", b, d.nbatches, "export %s/%s", d.region, d.name);
        strata_batch_info bi = {0};
        int had = st_snapshot_mapped(s, b); /* (the caller's views of it kept) */
        rc = strata_snapshot_batch(s, b, &bi);
        if (rc == STRATA_OK && bi.nrows > 0) rc = tcols_map(s, b, pick, &c);
        if (rc == STRATA_OK) rc = export_batch(err, &c, bi.nrows, before, nt, piece, &out);
        before += bi.nrows;
        if (!had) st_snapshot_release(s, b);
    }
    ST_TRY(rc);
    st_pool_work(pool, "batches", d.nbatches, d.nbatches, "export %s/%s", d.region, d.name);
    if (format == STRATA_TEXT_JSON)
        ST_TRY(rc = st_outfile_write(&out, before > 0 ? "\n]\n" : "]\n", before > 0 ? 3 : 2));
    rc = st_outfile_publish(&out);
done:
    st_outfile_abort(&out);
    for (int i = 0; piece != NULL && i < nt; i++) free(piece[i].p);
    free(piece);
    free(head.p);
    tcols_free(&c);
    free(pick);
    return rc;
}
