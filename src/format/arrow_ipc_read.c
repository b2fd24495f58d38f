/*
 * arrow_ipc_read.c -- reading Arrow IPC files (arrow_ipc.h).
 *
 * st_ipc_open() parses the footer: the schema (flat, little-endian), the blocks of the
 * dictionary and record batches (each inside the file). Dictionary batches of utf8 values are
 * decoded at open into int64 offsets and bytes. st_ipc_batch() parses one record batch message
 * and checks every buffer against the message body and every string offset against its data
 * before handing out pointers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "format/arrow_fb_int.h"
#include "format/arrow_ipc.h"
#include "format/arrow_ipc_int.h"
#include "util/bits.h"

/* ---- types (shared with the writer) --------------------------------------------------------- */

void ipc_format(const ipc_type *t, char *out)
{
    static const char ints[] = "csilCSIL";
    int k = t->bits == 8 ? 0 : t->bits == 16 ? 1 : t->bits == 32 ? 2 : 3;
    switch (t->type) {
    case IPC_T_INT:
        snprintf(out, 80, "%c", ints[k + (t->is_signed ? 0 : 4)]);
        break;
    case IPC_T_FLOAT:
        snprintf(out, 80, "%s", t->bits == 32 ? "f" : "g");
        break;
    case IPC_T_BOOL:
        snprintf(out, 80, "b");
        break;
    case IPC_T_UTF8:
        snprintf(out, 80, "u");
        break;
    case IPC_T_LARGE_UTF8:
        snprintf(out, 80, "U");
        break;
    case IPC_T_DATE:
        snprintf(out, 80, "%s", t->unit == 0 ? "tdD" : "tdm");
        break;
    default:
        snprintf(out, 80, "ts%c:%s", "smun"[t->unit & 3], t -> tz);
    }
}

int ipc_parse_format(const char *f, ipc_type *t)
{
    static const char ints[] = "csilCSIL";
    memset(t, 0, sizeof *t);
    const char *p = f[0] && !f[1] ? strchr(ints, f[0]) : NULL;
    if (p != NULL) {
        t->type = IPC_T_INT;
        t->bits = 8 << ((p - ints) % 4);
        t->is_signed = p - ints < 4;
    } else if (strcmp(f, "f") == 0 || strcmp(f, "g") == 0) {
        t->type = IPC_T_FLOAT;
        t->bits = f[0] == 'f' ? 32 : 64;
    } else if (strcmp(f, "b") == 0 || strcmp(f, "u") == 0 || strcmp(f, "U") == 0) {
        t->type = f[0] == 'b' ? IPC_T_BOOL : f[0] == 'u' ? IPC_T_UTF8 : IPC_T_LARGE_UTF8;
    } else if (strcmp(f, "tdD") == 0 || strcmp(f, "tdm") == 0) {
        t->type = IPC_T_DATE;
        t->unit = f[2] == 'D' ? 0 : 1;
    } else if (strncmp(f, "ts", 2) == 0 && f[2] && strchr("smun", f[2]) && f[3] == ':') {
        t->type = IPC_T_TIMESTAMP;
        t->unit = (int)(strchr("smun", f[2]) - "smun");
        snprintf(t->tz, sizeof t->tz, "%s", f + 4);
    } else {
        return -1;
    }
    return 0;
}

int ipc_nbuffers(const ipc_type *t)
{
    return t->type == IPC_T_UTF8 || t->type == IPC_T_LARGE_UTF8 ? 3 : 2;
}

uint64_t ipc_data_bytes(const ipc_type *t, uint64_t n)
{
    switch (t->type) {
    case IPC_T_BOOL:
        return (n + 7) / 8;
    case IPC_T_INT:
    case IPC_T_FLOAT:
        return n * (uint64_t)(t->bits / 8);
    case IPC_T_DATE:
        return n * (t->unit == 0 ? 4u : 8u);
    default:
        return n * 8;
    }
}

/* ---- the reader ------------------------------------------------------------------------------ */

typedef struct {
    int64_t offset, body;
    int32_t meta;
} ipc_block;

typedef struct {
    char *name;
    ipc_type t; /* the values' type */
    int dict;   /* dictionary-encoded: the indices are of INDEX */
    int64_t dict_id;
    ipc_type index;
    int64_t *doff; /* the decoded dictionary: int64 offsets and bytes */
    char *dbytes;
    int64_t dn; /* its strings */
} ipc_field;

struct st_ipc_reader {
    st_err *err;
    const uint8_t *data;
    size_t size;
    const char *name;
    int nfields;
    ipc_field *fields;
    int nbatches, ndicts;
    ipc_block *batches, *dicts;
};

static int ierr(st_ipc_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int ierr(st_ipc_reader *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return st_error(r->err, code, "cannot read arrow file '%s': %s", r->name, msg);
}

static int bad(st_ipc_reader *r, const char *what)
{
    return ierr(r, STRATA_ECORRUPT, "%s is malformed", what);
}

/* The type of field table FT into T (the Type union's member and table). */
static int parse_type(st_ipc_reader *r, const fb_buf *f, size_t ft, const char *name, ipc_type *t)
{
    uint8_t tt;
    size_t tp = 0;
    int has;
    memset(t, 0, sizeof *t);
    if (fb_u8(f, ft, 2, 0, &tt) < 0 || (has = fb_ref(f, ft, 3, &tp)) < 0)
        return bad(r, "a field's type");
    t->type = tt;
    int32_t bits = 0;
    int16_t unit = 0;
    uint8_t sgn = 0;
    switch (tt) {
    case IPC_T_INT:
        if (!has || fb_i32(f, tp, 0, 0, &bits) < 0 || fb_u8(f, tp, 1, 0, &sgn) < 0)
            return bad(r, "an Int type");
        if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
            return ierr(r, STRATA_ECORRUPT, "column '%s': an integer of %d bits", name, bits);
        t->bits = bits;
        t->is_signed = sgn != 0;
        return STRATA_OK;
    case IPC_T_FLOAT:
        if (!has || fb_i16(f, tp, 0, 0, &unit) < 0) return bad(r, "a FloatingPoint type");
        if (unit != 1 && unit != 2)
            return ierr(r, STRATA_EUNSUPPORTED, "column '%s': half-precision floats are not read",
                        name);
        t->bits = unit == 1 ? 32 : 64;
        return STRATA_OK;
    case IPC_T_UTF8:
    case IPC_T_LARGE_UTF8:
    case IPC_T_BOOL:
        return STRATA_OK;
    case IPC_T_DATE:
        if (has && fb_i16(f, tp, 0, 1, &unit) < 0) return bad(r, "a Date type");
        t->unit = has ? unit : 1;
        return t->unit == 0 || t->unit == 1 ? STRATA_OK : bad(r, "a Date unit");
    case IPC_T_TIMESTAMP: {
        size_t zp;
        const char *z;
        uint32_t zl = 0;
        if (!has || fb_i16(f, tp, 0, 0, &unit) < 0 || unit < 0 || unit > 3)
            return bad(r, "a Timestamp type");
        t->unit = unit;
        int hz = fb_ref(f, tp, 1, &zp);
        if (hz < 0 || (hz && fb_string(f, zp, &z, &zl) < 0)) return bad(r, "a time zone");
        if (hz) snprintf(t->tz, sizeof t->tz, "%.*s", (int)(zl < 63 ? zl : 63), z);
        return STRATA_OK;
    }
    default:
        return ierr(r, STRATA_EUNSUPPORTED,
                    "column '%s' has Arrow type %u (e.g. a decimal, list, struct or binary), "
                    "which Strata does not read",
                    name, tt);
    }
}

static int parse_field(st_ipc_reader *r, const fb_buf *f, size_t ft, ipc_field *fd)
{
    size_t np, cp, dp;
    const char *nm = "";
    uint32_t nl = 0, nkids = 0;
    int has = fb_ref(f, ft, 0, &np);
    if (has < 0 || (has && fb_string(f, np, &nm, &nl) < 0)) return bad(r, "a field's name");
    if ((fd->name = strndup(nm, nl)) == NULL)
        return st_error(r->err, STRATA_ENOMEM, "out of memory");
    if ((has = fb_ref(f, ft, 5, &cp)) < 0 || (has && fb_vector(f, cp, 4, &nkids, &cp) < 0))
        return bad(r, "a field's children");
    if (nkids > 0)
        return ierr(r, STRATA_EUNSUPPORTED, "column '%s': nested types are not supported",
                    fd->name);
    int rc = parse_type(r, f, ft, fd->name, &fd->t);
    if (rc < 0) return rc;
    if ((has = fb_ref(f, ft, 4, &dp)) < 0) return bad(r, "a field's dictionary");
    if (has) {
        size_t ip;
        int32_t bits;
        uint8_t sgn;
        fd->dict = 1;
        if (fb_i64(f, dp, 0, 0, &fd->dict_id) < 0 || fb_ref(f, dp, 1, &ip) != 1 ||
            fb_i32(f, ip, 0, 0, &bits) < 0 || fb_u8(f, ip, 1, 0, &sgn) < 0 ||
            (bits != 8 && bits != 16 && bits != 32 && bits != 64))
            return bad(r, "a dictionary encoding");
        fd->index = (ipc_type){.type = IPC_T_INT, .bits = bits, .is_signed = sgn != 0};
        if (fd->t.type != IPC_T_UTF8 && fd->t.type != IPC_T_LARGE_UTF8)
            return ierr(r, STRATA_EUNSUPPORTED,
                        "column '%s': dictionaries of other values than strings are not read",
                        fd->name);
    }
    return STRATA_OK;
}

static int parse_blocks(st_ipc_reader *r, const fb_buf *f, size_t ftr, int id, ipc_block **out,
                        int *n)
{
    size_t vp, first;
    uint32_t k = 0;
    int has = fb_ref(f, ftr, id, &vp);
    if (has < 0 || (has && fb_vector(f, vp, 24, &k, &first) < 0)) return bad(r, "the footer");
    if (k > (1u << 24)) return bad(r, "the footer's block list");
    if ((*out = calloc((size_t)k + 1, sizeof **out)) == NULL)
        return st_error(r->err, STRATA_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < k; i++) {
        const uint8_t *b = f->b + first + 24 * (size_t)i;
        ipc_block *blk = &(*out)[i];
        blk->offset = fb_rd64(b);
        blk->meta = fb_rd32(b + 8);
        blk->body = fb_rd64(b + 16);
        if (blk->offset < 8 || blk->meta < 8 || blk->body < 0 || (uint64_t)blk->offset > r->size ||
            (uint64_t)blk->meta > r->size - (uint64_t)blk->offset ||
            (uint64_t)blk->body > r->size - (uint64_t)blk->offset - (uint64_t)blk->meta)
            return ierr(r, STRATA_ECORRUPT, "block %u lies outside the file", i);
    }
    *n = (int)k;
    return STRATA_OK;
}

/* The message of BLK: its FlatBuffers metadata in *F, its header table (of type WANT) in *HDR,
 * its body at *BODY. */
static int message(st_ipc_reader *r, const ipc_block *blk, int want, fb_buf *f, size_t *hdr,
                   const uint8_t **body)
{
    const uint8_t *m = r->data + blk->offset;
    size_t skip = fb_rd32(m) == -1 ? 8 : 4;
    int32_t len = fb_rd32(m + skip - 4);
    if (len < 0 || (size_t)len + skip > (size_t)blk->meta) return bad(r, "a message's length");
    *f = (fb_buf){m + skip, (size_t)len};
    size_t root;
    uint8_t type;
    if (fb_root(f, &root) < 0 || fb_u8(f, root, 1, 0, &type) < 0 || fb_ref(f, root, 2, hdr) != 1)
        return bad(r, "a message");
    if (type != want)
        return ierr(r, STRATA_ECORRUPT, "a block holds message type %u, not %d", type, want);
    *body = m + blk->meta;
    return STRATA_OK;
}

/* ---- buffers of a record batch ----------------------------------------------------------------
 */

/* A record batch being read: its metadata, body and what the output owns. */
typedef struct {
    st_ipc_reader *r;
    fb_buf f;
    const uint8_t *body;
    int64_t body_len;
    size_t nodes, bufs; /* first elements */
    uint32_t nnodes, nbufs;
    int zstd; /* buffers are ZSTD-compressed */
    void **owned;
    int nowned, capowned;
    const char *what; /* "record batch 3" */
} rbatch;

static void *keep(rbatch *b, void *p)
{
    if (p == NULL) return NULL;
    if (b->nowned == b->capowned) {
        int cap = b->capowned ? 2 * b->capowned : 16;
        void **g = realloc(b->owned, (size_t)cap * sizeof *g);
        if (g == NULL) {
            free(p);
            return NULL;
        }
        b->owned = g;
        b->capowned = cap;
    }
    return b->owned[b->nowned++] = p;
}

static int rbatch_open(st_ipc_reader *r, const ipc_block *blk, int type, rbatch *b, size_t *rb)
{
    size_t hdr, p;
    memset(b, 0, sizeof *b);
    b->r = r;
    int rc = message(r, blk, type, &b->f, &hdr, &b->body);
    if (rc < 0) return rc;
    b->body_len = blk->body;
    *rb = hdr;
    if (type == IPC_M_DICTIONARY && fb_ref(&b->f, hdr, 1, rb) != 1) return bad(r, "a dictionary");
    if (fb_ref(&b->f, *rb, 1, &p) != 1 || fb_vector(&b->f, p, 16, &b->nnodes, &b->nodes) < 0 ||
        fb_ref(&b->f, *rb, 2, &p) != 1 || fb_vector(&b->f, p, 16, &b->nbufs, &b->bufs) < 0)
        return bad(r, "a record batch");
    int has = fb_ref(&b->f, *rb, 3, &p);
    if (has < 0) return bad(r, "a record batch's compression");
    if (has) {
        int8_t codec;
        uint8_t u;
        if (fb_u8(&b->f, p, 0, 0, &u) < 0) return bad(r, "a record batch's compression");
        codec = (int8_t)u;
        if (codec != 1)
            return ierr(r, STRATA_EUNSUPPORTED,
                        "its buffers are LZ4-compressed, which Strata does not read; write the "
                        "file uncompressed or with ZSTD");
        b->zstd = 1;
    }
    return STRATA_OK;
}

/* Buffer I of batch B, at least NEED bytes (0: may be empty), into *P and *LEN: in the file, or
 * decompressed, or copied to be aligned to 8. */
static int buffer(rbatch *b, uint32_t i, uint64_t need, const uint8_t **p, uint64_t *len)
{
    st_ipc_reader *r = b->r;
    if (i >= b->nbufs) return ierr(r, STRATA_ECORRUPT, "%s lacks buffer %u", b->what, i);
    const uint8_t *d = b->f.b + b->bufs + 16 * (size_t)i;
    int64_t off = fb_rd64(d), n = fb_rd64(d + 8);
    if (off < 0 || n < 0 || off > b->body_len || n > b->body_len - off)
        return ierr(r, STRATA_ECORRUPT, "%s: buffer %u lies outside its body", b->what, i);
    *p = b->body + off;
    *len = (uint64_t)n;
    if (b->zstd && n >= 8) {
        int64_t raw = fb_rd64(*p);
        if (raw != -1) {
            if (raw < 0 || (uint64_t)raw > (uint64_t)1 << 34)
                return ierr(r, STRATA_ECORRUPT, "%s: buffer %u claims %lld bytes", b->what, i,
                            (long long)raw);
            uint8_t *out = keep(b, malloc((size_t)raw + 8));
            if (out == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
            size_t got = ZSTD_decompress(out, (size_t)raw, *p + 8, (size_t)n - 8);
            if (ZSTD_isError(got) || got != (size_t)raw)
                return ierr(r, STRATA_ECORRUPT, "%s: buffer %u does not decompress", b->what, i);
            *p = out;
            *len = (uint64_t)raw;
        } else {
            *p += 8;
            *len -= 8;
        }
    }
    if (*len < need)
        return ierr(r, STRATA_ECORRUPT, "%s: buffer %u holds %llu bytes, %llu are needed", b->what,
                    i, (unsigned long long)*len, (unsigned long long)need);
    if (((uintptr_t)*p & 7) != 0 && *len > 0) { /* typed reads need alignment */
        uint8_t *copy = keep(b, malloc((size_t)*len));
        if (copy == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
        memcpy(copy, *p, (size_t)*len);
        *p = copy;
    }
    return STRATA_OK;
}

/* Check N + 1 string offsets of WIDTH bytes against DATALEN bytes of data. */
static int check_offsets(rbatch *b, const char *col, const uint8_t *o, int width, uint64_t n,
                         uint64_t datalen)
{
    int64_t prev = 0;
    for (uint64_t i = 0; i <= n; i++) {
        int64_t v = width == 4 ? ((const int32_t *)(const void *)o)[i]
                               : ((const int64_t *)(const void *)o)[i];
        if (v < (i ? prev : 0) || (uint64_t)v > datalen)
            return ierr(b->r, STRATA_ECORRUPT, "%s column '%s': string offset %llu is %lld",
                        b->what, col, (unsigned long long)i, (long long)v);
        prev = v;
    }
    return STRATA_OK;
}

/* Column C (node NODE, buffers from *BI on) of batch B of N rows into the child A and its BUF. */
static int column(rbatch *b, int c, uint32_t node, uint32_t *bi, uint64_t n, struct ArrowArray *a,
                  const void **buf)
{
    st_ipc_reader *r = b->r;
    ipc_field *fd = &r->fields[c];
    const uint8_t *d = b->f.b + b->nodes + 16 * (size_t)node;
    int64_t len = fb_rd64(d), nulls = fb_rd64(d + 8);
    if ((uint64_t)len != n || nulls < 0 || nulls > len)
        return ierr(r, STRATA_ECORRUPT, "%s column '%s': %lld rows (%lld null) in a batch of %llu",
                    b->what, fd->name, (long long)len, (long long)nulls, (unsigned long long)n);
    const uint8_t *p;
    uint64_t plen;
    int rc = buffer(b, (*bi)++, nulls > 0 ? (n + 7) / 8 : 0, &p, &plen);
    if (rc < 0) return rc;
    /* the bitmap, not the node's count, says which rows are null (a file may disagree) */
    if (nulls > 0) nulls = (int64_t)st_bits_nulls(p, 0, n);
    buf[0] = nulls > 0 ? p : NULL;
    const ipc_type *t = fd->dict ? &fd->index : &fd->t;
    if (t->type == IPC_T_UTF8 || t->type == IPC_T_LARGE_UTF8) {
        int w = t->type == IPC_T_UTF8 ? 4 : 8;
        const uint8_t *o, *s;
        uint64_t olen, slen;
        if ((rc = buffer(b, (*bi)++, n > 0 ? (n + 1) * (uint64_t)w : 0, &o, &olen)) < 0 ||
            (rc = buffer(b, (*bi)++, 0, &s, &slen)) < 0)
            return rc;
        static const int64_t zero[1] = {0};
        if (n == 0 && olen < (uint64_t)w) o = (const uint8_t *)zero;
        if ((rc = check_offsets(b, fd->name, o, w, n, slen)) < 0) return rc;
        buf[1] = o;
        buf[2] = slen > 0 ? s : (const void *)"";
    } else {
        if ((rc = buffer(b, (*bi)++, ipc_data_bytes(t, n), &p, &plen)) < 0) return rc;
        buf[1] = p;
    }
    *a = (struct ArrowArray){
        .length = len, .null_count = nulls, .n_buffers = ipc_nbuffers(&fd->t), .buffers = buf};
    return STRATA_OK;
}

/* Replace the indices of dictionary column C (A, its BUF) by the strings they name. */
static int undict(rbatch *b, int c, struct ArrowArray *a, const void **buf)
{
    ipc_field *fd = &b->r->fields[c];
    uint64_t n = (uint64_t)a->length, total = 0;
    const uint8_t *v = buf[0];
    int64_t *off = keep(b, malloc((n + 1) * 8));
    if (off == NULL) return st_error(b->r->err, STRATA_ENOMEM, "out of memory");
    int64_t *idx = keep(b, malloc(n * 8 + 8));
    if (idx == NULL) return st_error(b->r->err, STRATA_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)buf[1] + i * (uint64_t)(fd->index.bits / 8);
        int64_t k = fd->index.bits == 8    ? (fd->index.is_signed ? (int8_t)p[0] : p[0])
                    : fd->index.bits == 16 ? (int64_t)(int16_t)(p[0] | p[1] << 8)
                    : fd->index.bits == 32 ? fb_rd32(p)
                                           : fb_rd64(p);
        if (fd->index.bits == 16 && !fd->index.is_signed) k = (uint16_t)k;
        if (fd->index.bits == 32 && !fd->index.is_signed) k = (uint32_t)k;
        idx[i] = st_bit(v, i) ? k : -1;
        if (idx[i] >= fd->dn || (idx[i] < 0 && st_bit(v, i)))
            return ierr(b->r, STRATA_ECORRUPT,
                        "%s column '%s' row %llu: dictionary index %lld of %lld", b->what, fd->name,
                        (unsigned long long)i, (long long)k, (long long)fd->dn);
        if (idx[i] >= 0) total += (uint64_t)(fd->doff[idx[i] + 1] - fd->doff[idx[i]]);
    }
    char *s = keep(b, malloc(total + 1));
    if (s == NULL) return st_error(b->r->err, STRATA_ENOMEM, "out of memory");
    off[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t k = idx[i], l = k >= 0 ? fd->doff[k + 1] - fd->doff[k] : 0;
        if (l > 0) memcpy(s + off[i], fd->dbytes + fd->doff[k], (size_t)l);
        off[i + 1] = off[i] + l;
    }
    buf[1] = off;
    buf[2] = s;
    a->n_buffers = 3;
    return STRATA_OK;
}

typedef struct {
    void **owned;
    int nowned;
    struct ArrowArray *kids;
    struct ArrowArray **ptrs;
    const void **bufs;
} ibatch;

static void child_release(struct ArrowArray *a)
{
    a->release = NULL;
}

static void batch_release(struct ArrowArray *a)
{
    ibatch *ib = a->private_data;
    for (int i = 0; i < ib->nowned; i++) free(ib->owned[i]);
    free(ib->owned);
    free(ib->kids);
    free(ib->ptrs);
    free(ib->bufs);
    free(ib);
    a->release = NULL;
}

static void rbatch_free(rbatch *b)
{
    for (int i = 0; i < b->nowned; i++) free(b->owned[i]);
    free(b->owned);
}

int st_ipc_batch(st_ipc_reader *r, int i, struct ArrowArray *out)
{
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= r->nbatches) return st_error(r->err, STRATA_ERANGE, "no record batch %d", i);
    char what[48];
    snprintf(what, sizeof what, "record batch %d", i);
    rbatch b = {0};
    size_t rb;
    int64_t n;
    size_t nf = (size_t)r->nfields;
    ibatch *ib = calloc(1, sizeof *ib);
    int rc = ib ? rbatch_open(r, &r->batches[i], IPC_M_RECORD_BATCH, &b, &rb) : STRATA_ENOMEM;
    b.what = what;
    if (rc == STRATA_OK && (fb_i64(&b.f, rb, 0, 0, &n) < 0 || n < 0 || b.nnodes != nf))
        rc = ierr(r, STRATA_ECORRUPT, "%s: its length or field count is wrong", what);
    if (rc == STRATA_OK) {
        ib->kids = calloc(nf + 1, sizeof *ib->kids);
        ib->ptrs = calloc(nf + 1, sizeof *ib->ptrs);
        ib->bufs = calloc(3 * nf + 1, sizeof *ib->bufs);
        if (!ib->kids || !ib->ptrs || !ib->bufs)
            rc = st_error(r->err, STRATA_ENOMEM, "out of memory");
    }
    uint32_t bi = 0;
    for (size_t c = 0; c < nf && rc == STRATA_OK; c++) {
        rc = column(&b, (int)c, (uint32_t)c, &bi, (uint64_t)n, &ib->kids[c], &ib->bufs[3 * c]);
        if (rc == STRATA_OK && r->fields[c].dict)
            rc = undict(&b, (int)c, &ib->kids[c], &ib->bufs[3 * c]);
        ib->kids[c].release = child_release;
        ib->ptrs[c] = &ib->kids[c];
    }
    if (rc < 0) {
        if (ib != NULL) {
            free(ib->kids);
            free(ib->ptrs);
            free(ib->bufs);
            free(ib);
        }
        rbatch_free(&b);
        return rc == STRATA_ENOMEM ? st_error(r->err, rc, "out of memory") : rc;
    }
    ib->owned = b.owned;
    ib->nowned = b.nowned;
    *out = (struct ArrowArray){.length = n,
                               .n_buffers = 1,
                               .n_children = (int64_t)nf,
                               .buffers = &ib->bufs[3 * nf],
                               .children = ib->ptrs,
                               .release = batch_release,
                               .private_data = ib};
    return STRATA_OK;
}

/* ---- open ----------------------------------------------------------------------------------- */

/* Decode dictionary batch D (utf8 values) into its field. */
static int read_dict(st_ipc_reader *r, int d)
{
    rbatch b = {0};
    size_t rb;
    int64_t id, n;
    char what[48];
    snprintf(what, sizeof what, "dictionary batch %d", d);
    fb_buf f;
    size_t hdr;
    const uint8_t *body;
    int rc = message(r, &r->dicts[d], IPC_M_DICTIONARY, &f, &hdr, &body);
    uint8_t delta = 0;
    if (rc == STRATA_OK && (fb_i64(&f, hdr, 0, 0, &id) < 0 || fb_u8(&f, hdr, 2, 0, &delta) < 0))
        rc = bad(r, what);
    if (rc == STRATA_OK && delta)
        rc = ierr(r, STRATA_EUNSUPPORTED, "%s is a delta, which Strata does not read", what);
    if (rc < 0) return rc;
    int c = 0;
    while (c < r->nfields && !(r->fields[c].dict && r->fields[c].dict_id == id)) c++;
    if (c == r->nfields)
        return ierr(r, STRATA_ECORRUPT, "%s: no field has dictionary %lld", what, (long long)id);
    if ((rc = rbatch_open(r, &r->dicts[d], IPC_M_DICTIONARY, &b, &rb)) < 0) return rc;
    b.what = what;
    ipc_field *fd = &r->fields[c];
    struct ArrowArray a;
    const void *buf[3];
    int dict = fd->dict;
    fd->dict = 0; /* read the values as the field's own type */
    if (fb_i64(&b.f, rb, 0, 0, &n) < 0 || n < 0 || b.nnodes != 1)
        rc = ierr(r, STRATA_ECORRUPT, "%s: its length or field count is wrong", what);
    uint32_t bi = 0;
    if (rc == STRATA_OK) rc = column(&b, c, 0, &bi, (uint64_t)n, &a, buf);
    fd->dict = dict;
    if (rc == STRATA_OK) {
        int w = fd->t.type == IPC_T_UTF8 ? 4 : 8;
        int64_t end = w == 4 ? ((const int32_t *)buf[1])[n] : ((const int64_t *)buf[1])[n];
        free(fd->doff);
        free(fd->dbytes);
        fd->doff = malloc(((size_t)n + 1) * 8);
        fd->dbytes = malloc((size_t)end + 1);
        if (fd->doff == NULL || fd->dbytes == NULL)
            rc = st_error(r->err, STRATA_ENOMEM, "out of memory");
        for (int64_t i = 0; rc == STRATA_OK && i <= n; i++)
            fd->doff[i] = w == 4 ? ((const int32_t *)buf[1])[i] : ((const int64_t *)buf[1])[i];
        if (rc == STRATA_OK && end > 0) memcpy(fd->dbytes, buf[2], (size_t)end);
        fd->dn = n;
    }
    rbatch_free(&b);
    return rc;
}

static int read_footer(st_ipc_reader *r)
{
    const uint8_t *d = r->data;
    size_t n = r->size;
    if (n < 18 || memcmp(d, IPC_MAGIC, 6) != 0 || memcmp(d + n - 6, IPC_MAGIC, 6) != 0)
        return ierr(r, STRATA_ECORRUPT,
                    "no ARROW1 magic at both ends (%zu bytes): not an Arrow file, "
                    "or a truncated one",
                    n);
    int32_t flen = fb_rd32(d + n - 10);
    if (flen < 8 || (size_t)flen > n - 18) return bad(r, "the footer's length");
    fb_buf f = {d + n - 10 - flen, (size_t)flen};
    size_t ftr, sch, fv, first;
    int16_t endian;
    uint32_t nf = 0;
    if (fb_root(&f, &ftr) < 0 || fb_ref(&f, ftr, 1, &sch) != 1 ||
        fb_i16(&f, sch, 0, 0, &endian) < 0 || fb_ref(&f, sch, 1, &fv) < 0 ||
        fb_vector(&f, fv, 4, &nf, &first) < 0)
        return bad(r, "the footer");
    if (endian != 0)
        return ierr(r, STRATA_EUNSUPPORTED, "it is big-endian, which Strata does not read");
    if (nf < 1 || nf > 4096) return ierr(r, STRATA_EUNSUPPORTED, "it has %u columns", nf);
    if ((r->fields = calloc(nf, sizeof *r->fields)) == NULL)
        return st_error(r->err, STRATA_ENOMEM, "out of memory");
    r->nfields = (int)nf;
    for (uint32_t i = 0; i < nf; i++) {
        size_t ft;
        int rc = fb_vector_table(&f, first, i, &ft) < 0 ? bad(r, "the schema")
                                                        : parse_field(r, &f, ft, &r->fields[i]);
        if (rc < 0) return rc;
    }
    int rc = parse_blocks(r, &f, ftr, 2, &r->dicts, &r->ndicts);
    if (rc == STRATA_OK) rc = parse_blocks(r, &f, ftr, 3, &r->batches, &r->nbatches);
    return rc;
}

int st_ipc_open(st_err *err, const void *data, size_t size, const char *name, st_ipc_reader **out)
{
    *out = NULL;
    st_ipc_reader *r = calloc(1, sizeof *r);
    if (r == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    *r = (st_ipc_reader){.err = err, .data = data, .size = size, .name = name};
    int rc = read_footer(r);
    for (int d = 0; rc == STRATA_OK && d < r->ndicts; d++) rc = read_dict(r, d);
    for (int c = 0; rc == STRATA_OK && c < r->nfields; c++)
        if (r->fields[c].dict && r->fields[c].doff == NULL)
            rc = ierr(r, STRATA_ECORRUPT, "column '%s' has no dictionary batch", r->fields[c].name);
    if (rc < 0) {
        st_ipc_close(r);
        return rc;
    }
    *out = r;
    return STRATA_OK;
}

void st_ipc_close(st_ipc_reader *r)
{
    if (r == NULL) return;
    for (int c = 0; r->fields != NULL && c < r->nfields; c++) {
        free(r->fields[c].name);
        free(r->fields[c].doff);
        free(r->fields[c].dbytes);
    }
    free(r->fields);
    free(r->batches);
    free(r->dicts);
    free(r);
}

int st_ipc_nbatches(const st_ipc_reader *r)
{
    return r->nbatches;
}

/* The schema handed out: one allocation holding the children, their pointers, formats and
 * names. */
static void schema_release(struct ArrowSchema *s)
{
    free(s->private_data);
    s->release = NULL;
}

static void child_schema_release(struct ArrowSchema *s)
{
    s->release = NULL;
}

int st_ipc_schema(st_ipc_reader *r, struct ArrowSchema *out)
{
    size_t n = (size_t)r->nfields, names = 0;
    for (size_t i = 0; i < n; i++) names += strlen(r->fields[i].name) + 1 + 80;
    char *mem = calloc(1, n * (sizeof(struct ArrowSchema) + sizeof(struct ArrowSchema *)) + names);
    if (mem == NULL) return st_error(r->err, STRATA_ENOMEM, "out of memory");
    struct ArrowSchema *kids = (struct ArrowSchema *)(void *)mem;
    struct ArrowSchema **ptrs = (struct ArrowSchema **)(void *)(kids + n);
    char *p = (char *)(ptrs + n);
    for (size_t i = 0; i < n; i++) {
        const ipc_field *fd = &r->fields[i];
        char *fmt = p;
        ipc_format(&fd->t, fmt);
        if (fd->dict) snprintf(fmt, 80, "U"); /* decoded to large_utf8 */
        p += strlen(fmt) + 1;
        char *nm = p;
        strcpy(nm, fd->name);
        p += strlen(nm) + 1;
        kids[i] = (struct ArrowSchema){.format = fmt,
                                       .name = nm,
                                       .flags = ARROW_FLAG_NULLABLE,
                                       .release = child_schema_release};
        ptrs[i] = &kids[i];
    }
    *out = (struct ArrowSchema){.format = "+s",
                                .name = "",
                                .n_children = (int64_t)n,
                                .children = ptrs,
                                .release = schema_release,
                                .private_data = mem};
    return STRATA_OK;
}
