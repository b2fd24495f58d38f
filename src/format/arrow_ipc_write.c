/*
 * arrow_ipc_write.c -- writing Arrow IPC files (arrow_ipc.h).
 *
 * The file: "ARROW1\0\0", the schema message, one record batch message per batch (metadata
 * padded to 8 bytes, then the body: each buffer padded to 64 bytes, uncompressed), the Footer
 * (the schema again and the record batches' blocks), its length and "ARROW1".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/arrow_fb_int.h"
#include "format/arrow_ipc.h"
#include "format/arrow_ipc_int.h"
#include "util/bits.h"

typedef struct {
    char *name;
    ipc_type t;
} wfield;

/* File.fbs's Block struct, as laid out in the footer. */
typedef struct {
    int64_t offset;
    int32_t meta;
    int32_t pad;
    int64_t body;
} wblock;

struct st_ipc_writer {
    st_err *err;
    st_ipc_write_fn write;
    void *ctx;
    uint64_t pos; /* bytes written */
    int nfields;
    wfield *fields;
    wblock *blocks;
    size_t nblocks, capblocks;
};

static int put(st_ipc_writer *w, const void *p, size_t n)
{
    int rc = n > 0 ? w->write(w->ctx, p, n) : STRATA_OK;
    if (rc < 0) return rc;
    w->pos += n;
    return STRATA_OK;
}

static int put_zeros(st_ipc_writer *w, size_t n)
{
    static const uint8_t zeros[64];
    return put(w, zeros, n);
}

/* The Type table of T: (type_type, table position). */
static size_t type_table(fb_builder *b, const ipc_type *t)
{
    size_t pos[2];
    switch (t->type) {
    case IPC_T_INT: {
        size_t tt = fb_table(b, 2, (const int[]){4, 1}, pos);
        int32_t bits = t->bits;
        uint8_t sgn = (uint8_t)t->is_signed;
        fb_set(b, pos[0], &bits, 4);
        fb_set(b, pos[1], &sgn, 1);
        return tt;
    }
    case IPC_T_FLOAT: {
        size_t tt = fb_table(b, 1, (const int[]){2}, pos);
        int16_t prec = t->bits == 32 ? 1 : 2;
        fb_set(b, pos[0], &prec, 2);
        return tt;
    }
    case IPC_T_DATE:
    case IPC_T_TIMESTAMP: {
        int ts = t->type == IPC_T_TIMESTAMP;
        size_t tt = fb_table(b, ts ? 2 : 1, (const int[]){2, t->tz[0] ? 4 : 0}, pos);
        int16_t unit = (int16_t)t->unit;
        fb_set(b, pos[0], &unit, 2);
        if (ts && t->tz[0]) fb_link(b, pos[1], fb_add_string(b, t->tz));
        return tt;
    }
    default: /* Bool, Utf8, LargeUtf8: no fields */
        return fb_table(b, 0, NULL, pos);
    }
}

/* The Schema table of W's fields. */
static size_t schema_table(fb_builder *b, const st_ipc_writer *w)
{
    size_t pos[2], fpos[6];
    size_t st = fb_table(b, 2, (const int[]){0, 4}, pos);
    size_t vec = fb_add_offsets(b, (uint32_t)w->nfields);
    fb_link(b, pos[1], vec);
    for (int i = 0; i < w->nfields; i++) {
        const wfield *f = &w->fields[i];
        size_t ft = fb_table(b, 6, (const int[]){4, 1, 1, 4, 0, 4}, fpos);
        fb_link(b, vec + 4 + 4 * (size_t)i, ft);
        uint8_t nullable = 1, tt = (uint8_t)f->t.type;
        fb_set(b, fpos[1], &nullable, 1);
        fb_set(b, fpos[2], &tt, 1);
        fb_link(b, fpos[0], fb_add_string(b, f->name));
        fb_link(b, fpos[3], type_table(b, &f->t));
        fb_link(b, fpos[5], fb_add_offsets(b, 0));
    }
    return st;
}

/* A Message table of HEADER_TYPE, its header table built by FN, and BODY bytes of body. */
static size_t message_table(fb_builder *b, uint8_t type, int64_t body, size_t *hdr_slot)
{
    size_t pos[4];
    size_t m = fb_table(b, 4, (const int[]){2, 1, 4, 8}, pos);
    int16_t v = IPC_VERSION_V5;
    fb_set(b, pos[0], &v, 2);
    fb_set(b, pos[1], &type, 1);
    fb_set(b, pos[3], &body, 8);
    *hdr_slot = pos[2];
    return m;
}

/* Write the encapsulated message in B (continuation, length, metadata padded to 8). *META:
 * its length in the file. */
static int put_message(st_ipc_writer *w, fb_builder *b, int32_t *meta)
{
    if (b->oom) return st_error(w->err, STRATA_ENOMEM, "out of memory writing an arrow file");
    size_t padded = (b->len + 7) & ~(size_t)7;
    uint32_t head[2] = {0xFFFFFFFFu, (uint32_t)padded};
    int rc = put(w, head, 8);
    if (rc == STRATA_OK) rc = put(w, b->b, b->len);
    if (rc == STRATA_OK) rc = put_zeros(w, padded - b->len);
    *meta = (int32_t)(8 + padded);
    return rc;
}

int st_ipc_writer_open(st_err *err, const struct ArrowSchema *schema, st_ipc_write_fn write,
                       void *ctx, st_ipc_writer **out)
{
    *out = NULL;
    if (schema == NULL || schema->format == NULL || strcmp(schema->format, "+s") != 0 ||
        schema->n_children < 1)
        return st_error(err, STRATA_EINVAL, "an arrow file needs a struct schema of columns");
    st_ipc_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    *w = (st_ipc_writer){.err = err, .write = write, .ctx = ctx};
    w->nfields = (int)schema->n_children;
    w->fields = calloc((size_t)w->nfields, sizeof *w->fields);
    int rc = w->fields ? STRATA_OK : st_error(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < w->nfields && rc == STRATA_OK; i++) {
        const struct ArrowSchema *c = schema->children[i];
        if (ipc_parse_format(c->format, &w->fields[i].t) < 0)
            rc = st_error(err, STRATA_EUNSUPPORTED, "column '%s': arrow type '%s' is not written",
                          c->name ? c->name : "", c->format);
        else if ((w->fields[i].name = strdup(c->name ? c->name : "")) == NULL)
            rc = st_error(err, STRATA_ENOMEM, "out of memory");
    }
    fb_builder b;
    fb_begin(&b);
    size_t slot;
    int32_t meta;
    if (rc == STRATA_OK) rc = put(w, IPC_MAGIC "\0\0", 8);
    if (rc == STRATA_OK) {
        size_t m = message_table(&b, IPC_M_SCHEMA, 0, &slot);
        fb_link(&b, 0, m);
        fb_link(&b, slot, schema_table(&b, w));
        rc = put_message(w, &b, &meta);
    }
    fb_free(&b);
    if (rc < 0) {
        st_ipc_writer_free(w);
        return rc;
    }
    *out = w;
    return STRATA_OK;
}

/* The buffers of child A (of T, offset 0) in the body: pointers and lengths, NBUF of them. */
static int child_buffers(st_ipc_writer *w, const char *name, const ipc_type *t,
                         const struct ArrowArray *a, const void **p, int64_t *len)
{
    uint64_t n = (uint64_t)a->length;
    if (a->offset != 0 || a->n_buffers < ipc_nbuffers(t))
        return st_error(w->err, STRATA_EUNSUPPORTED, "column '%s': an array with an offset", name);
    p[0] = a->null_count != 0 ? a->buffers[0] : NULL;
    len[0] = p[0] != NULL ? (int64_t)((n + 7) / 8) : 0;
    if (t->type == IPC_T_UTF8 || t->type == IPC_T_LARGE_UTF8) {
        int wdt = t->type == IPC_T_UTF8 ? 4 : 8;
        const void *o = a->buffers[1];
        int64_t first = n == 0 ? 0 : wdt == 4 ? ((const int32_t *)o)[0] : ((const int64_t *)o)[0];
        int64_t last = n == 0 ? 0 : wdt == 4 ? ((const int32_t *)o)[n] : ((const int64_t *)o)[n];
        if (first != 0)
            return st_error(w->err, STRATA_EUNSUPPORTED,
                            "column '%s': string offsets that do not start at 0", name);
        p[1] = o;
        len[1] = n == 0 ? 0 : (int64_t)(n + 1) * wdt;
        p[2] = a->buffers[2];
        len[2] = last;
        return STRATA_OK;
    }
    p[1] = a->buffers[1];
    len[1] = (int64_t)ipc_data_bytes(t, n);
    return STRATA_OK;
}

int st_ipc_writer_write(st_ipc_writer *w, const struct ArrowArray *batch)
{
    int nf = w->nfields, nb = 0, rc = STRATA_OK;
    if (batch->n_children != nf)
        return st_error(w->err, STRATA_EINVAL, "a record batch of %lld columns for a schema of %d",
                        (long long)batch->n_children, nf);
    const void **p = calloc(3 * (size_t)nf + 1, sizeof *p);
    int64_t *len = calloc(3 * (size_t)nf + 1, sizeof *len);
    int64_t *nodes = calloc(2 * (size_t)nf + 1, sizeof *nodes);
    int64_t *bufs = calloc(6 * (size_t)nf + 1, sizeof *bufs);
    if (!p || !len || !nodes || !bufs) rc = st_error(w->err, STRATA_ENOMEM, "out of memory");
    int64_t body = 0;
    for (int c = 0; c < nf && rc == STRATA_OK; c++) {
        const struct ArrowArray *a = batch->children[c];
        nodes[2 * c] = a->length;
        nodes[2 * c + 1] = a->null_count;
        int k = ipc_nbuffers(&w->fields[c].t);
        rc = child_buffers(w, w->fields[c].name, &w->fields[c].t, a, p + nb, len + nb);
        for (int i = 0; i < k && rc == STRATA_OK; i++, nb++) {
            bufs[2 * nb] = body;
            bufs[2 * nb + 1] = len[nb];
            body += (len[nb] + 63) & ~(int64_t)63;
        }
    }
    fb_builder b;
    fb_begin(&b);
    wblock blk = {.offset = (int64_t)w->pos, .body = body};
    if (rc == STRATA_OK) {
        size_t slot, pos[3];
        fb_link(&b, 0, message_table(&b, IPC_M_RECORD_BATCH, body, &slot));
        size_t rb = fb_table(&b, 3, (const int[]){8, 4, 4}, pos);
        fb_link(&b, slot, rb);
        int64_t n = batch->length;
        fb_set(&b, pos[0], &n, 8);
        fb_link(&b, pos[1], fb_add_structs(&b, nodes, (uint32_t)nf, 16));
        fb_link(&b, pos[2], fb_add_structs(&b, bufs, (uint32_t)nb, 16));
        rc = put_message(w, &b, &blk.meta);
    }
    for (int i = 0; i < nb && rc == STRATA_OK; i++) {
        rc = put(w, p[i], (size_t)len[i]);
        if (rc == STRATA_OK) rc = put_zeros(w, (size_t)(((len[i] + 63) & ~(int64_t)63) - len[i]));
    }
    if (rc == STRATA_OK && w->nblocks == w->capblocks) {
        size_t cap = w->capblocks ? 2 * w->capblocks : 16;
        wblock *g = realloc(w->blocks, cap * sizeof *g);
        if (g == NULL)
            rc = st_error(w->err, STRATA_ENOMEM, "out of memory");
        else {
            w->blocks = g;
            w->capblocks = cap;
        }
    }
    if (rc == STRATA_OK) w->blocks[w->nblocks++] = blk;
    fb_free(&b);
    free(p);
    free(len);
    free(nodes);
    free(bufs);
    return rc;
}

int st_ipc_writer_close(st_ipc_writer *w)
{
    fb_builder b;
    fb_begin(&b);
    size_t pos[4];
    size_t ftr = fb_table(&b, 4, (const int[]){2, 4, 4, 4}, pos);
    fb_link(&b, 0, ftr);
    int16_t v = IPC_VERSION_V5;
    fb_set(&b, pos[0], &v, 2);
    fb_link(&b, pos[1], schema_table(&b, w));
    fb_link(&b, pos[2], fb_add_structs(&b, NULL, 0, 24));
    fb_link(&b, pos[3], fb_add_structs(&b, w->blocks, (uint32_t)w->nblocks, 24));
    int rc = b.oom ? st_error(w->err, STRATA_ENOMEM, "out of memory") : STRATA_OK;
    int32_t flen = (int32_t)b.len;
    if (rc == STRATA_OK) rc = put(w, b.b, b.len);
    if (rc == STRATA_OK) rc = put(w, &flen, 4);
    if (rc == STRATA_OK) rc = put(w, IPC_MAGIC, 6);
    fb_free(&b);
    st_ipc_writer_free(w);
    return rc;
}

void st_ipc_writer_free(st_ipc_writer *w)
{
    if (w == NULL) return;
    for (int i = 0; w->fields != NULL && i < w->nfields; i++) free(w->fields[i].name);
    free(w->fields);
    free(w->blocks);
    free(w);
}
