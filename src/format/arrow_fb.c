/*
 * arrow_fb.c -- a FlatBuffers reader and writer for Arrow's IPC metadata (arrow_fb_int.h).
 *
 * Reader: a table starts with an int32 soffset to its vtable (vtable = table - soffset); the
 * vtable holds its own size and the table's (uint16 each), then one uint16 offset per field (0:
 * absent). Objects are referred to by uint32 offsets relative to where the offset is stored.
 * Every read is checked against the buffer.
 *
 * Writer: a buffer laid out front to back. A table is written after its vtable, padded so that
 * its 8-byte fields fall on 8-byte boundaries (the table at 4 mod 8, its fields sorted by size);
 * strings, vectors and child tables follow and are linked into their parents' offset slots.
 */
#include "format/arrow_fb_int.h"

#include <stdlib.h>
#include <string.h>

int64_t fb_rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return (int64_t)v;
}

int32_t fb_rd32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static int in(const fb_buf *f, size_t pos, size_t len)
{
    return pos <= f->n && len <= f->n - pos;
}

int fb_root(const fb_buf *f, size_t *table)
{
    if (!in(f, 0, 4)) return -1;
    *table = (uint32_t)fb_rd32(f->b);
    return in(f, *table, 4) ? 0 : -1;
}

int fb_field(const fb_buf *f, size_t t, int id, size_t size, size_t *pos)
{
    if (!in(f, t, 4)) return -1;
    int64_t vt = (int64_t)t - fb_rd32(f->b + t);
    if (vt < 0 || !in(f, (size_t)vt, 4)) return -1;
    uint16_t vsize = (uint16_t)(f->b[vt] | f->b[vt + 1] << 8);
    if (vsize < 4 || (vsize & 1) || !in(f, (size_t)vt, vsize)) return -1;
    size_t at = 4 + 2 * (size_t)id;
    if (at + 2 > vsize) return 0;
    uint16_t off = (uint16_t)(f->b[vt + (int64_t)at] | f->b[vt + (int64_t)at + 1] << 8);
    if (off == 0) return 0;
    *pos = t + off;
    return in(f, *pos, size) ? 1 : -1;
}

#define FB_SCALAR(NAME, T, N, RD)                                                                  \
    int NAME(const fb_buf *f, size_t t, int id, T def, T *v)                                       \
    {                                                                                              \
        size_t pos;                                                                                \
        int rc = fb_field(f, t, id, N, &pos);                                                      \
        *v = rc == 1 ? (T)(RD) : def;                                                              \
        return rc < 0 ? -1 : 0;                                                                    \
    }
FB_SCALAR(fb_i64, int64_t, 8, fb_rd64(f->b + pos))
FB_SCALAR(fb_i32, int32_t, 4, fb_rd32(f->b + pos))
FB_SCALAR(fb_i16, int16_t, 2, (int16_t)(f->b[pos] | f->b[pos + 1] << 8))
FB_SCALAR(fb_u8, uint8_t, 1, f->b[pos])

int fb_ref(const fb_buf *f, size_t t, int id, size_t *pos)
{
    size_t slot;
    int rc = fb_field(f, t, id, 4, &slot);
    if (rc <= 0) return rc;
    *pos = slot + (uint32_t)fb_rd32(f->b + slot);
    return in(f, *pos, 4) ? 1 : -1;
}

int fb_vector(const fb_buf *f, size_t pos, size_t esize, uint32_t *n, size_t *first)
{
    if (!in(f, pos, 4)) return -1;
    *n = (uint32_t)fb_rd32(f->b + pos);
    *first = pos + 4;
    return in(f, *first, (size_t)*n * esize) ? 0 : -1;
}

int fb_vector_table(const fb_buf *f, size_t first, uint32_t i, size_t *table)
{
    size_t slot = first + 4 * (size_t)i;
    if (!in(f, slot, 4)) return -1;
    *table = slot + (uint32_t)fb_rd32(f->b + slot);
    return in(f, *table, 4) ? 0 : -1;
}

int fb_string(const fb_buf *f, size_t pos, const char **s, uint32_t *len)
{
    size_t first;
    if (fb_vector(f, pos, 1, len, &first) < 0) return -1;
    *s = (const char *)f->b + first;
    return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

static size_t reserve(fb_builder *b, size_t n)
{
    if (b->oom) return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n) cap *= 2;
        uint8_t *g = realloc(b->b, cap);
        if (g == NULL) {
            b->oom = 1;
            return 0;
        }
        b->b = g;
        b->cap = cap;
    }
    size_t at = b->len;
    memset(b->b + at, 0, n);
    b->len += n;
    return at;
}

/* Pad with zeros until (len + PHASE) % ALIGN == 0. */
static void pad(fb_builder *b, size_t align, size_t phase)
{
    size_t k = (align - (b->len + phase) % align) % align;
    if (k > 0) reserve(b, k);
}

void fb_set(fb_builder *b, size_t pos, const void *v, size_t n)
{
    if (!b->oom) memcpy(b->b + pos, v, n); /* little-endian host, as the format */
}

static void put32(fb_builder *b, size_t pos, uint32_t v)
{
    fb_set(b, pos, &v, 4);
}

void fb_begin(fb_builder *b)
{
    memset(b, 0, sizeof *b);
    reserve(b, 4);
}

size_t fb_table(fb_builder *b, int nf, const int *size, size_t *pos)
{
    /* fields by size, largest first: each falls on its natural alignment */
    size_t off[FB_MAX_FIELDS] = {0}, at = 4;
    for (int sz = 8; sz >= 1; sz /= 2)
        for (int i = 0; i < nf; i++)
            if (size[i] == sz) {
                off[i] = at;
                at += (size_t)sz;
            }
    pad(b, 2, 0);
    size_t vt = reserve(b, 4 + 2 * (size_t)nf);
    uint16_t hdr[2] = {(uint16_t)(4 + 2 * nf), (uint16_t)at};
    fb_set(b, vt, hdr, 4);
    for (int i = 0; i < nf; i++) {
        uint16_t o = (uint16_t)off[i];
        fb_set(b, vt + 4 + 2 * (size_t)i, &o, 2);
    }
    pad(b, 8, 4);
    size_t t = reserve(b, at);
    int32_t so = (int32_t)(t - vt);
    fb_set(b, t, &so, 4);
    for (int i = 0; i < nf; i++) pos[i] = t + off[i];
    return t;
}

size_t fb_add_string(fb_builder *b, const char *s)
{
    size_t n = strlen(s);
    pad(b, 4, 0);
    size_t at = reserve(b, 4 + n + 1);
    put32(b, at, (uint32_t)n);
    fb_set(b, at + 4, s, n);
    return at;
}

size_t fb_add_structs(fb_builder *b, const void *v, uint32_t n, size_t esize)
{
    pad(b, 8, 4);
    size_t at = reserve(b, 4 + (size_t)n * esize);
    put32(b, at, n);
    if (n > 0) fb_set(b, at + 4, v, (size_t)n * esize);
    return at;
}

size_t fb_add_offsets(fb_builder *b, uint32_t n)
{
    pad(b, 4, 0);
    size_t at = reserve(b, 4 + 4 * (size_t)n);
    put32(b, at, n);
    return at;
}

void fb_link(fb_builder *b, size_t slot, size_t target)
{
    put32(b, slot, (uint32_t)(target - slot));
}

void fb_free(fb_builder *b)
{
    free(b->b);
    memset(b, 0, sizeof *b);
}
