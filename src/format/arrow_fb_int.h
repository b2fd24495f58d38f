/*
 * arrow_fb_int.h -- the FlatBuffers encoding, as much as Arrow's IPC metadata needs: a
 * bounds-checked reader of tables, vectors, strings and unions, and a writer that lays a buffer out
 * front to back (vtables before their tables, children after their parents, offsets patched in).
 * Private to src/format.
 */
#ifndef STRATA_FORMAT_ARROW_FB_INT_H
#define STRATA_FORMAT_ARROW_FB_INT_H

#include <stddef.h>
#include <stdint.h>

/* ---- reading: every function checks bounds and returns -1 on a malformed buffer ---------- */

typedef struct {
    const uint8_t *b;
    size_t n;
} fb_buf;

/* The root table's position. */
int fb_root(const fb_buf *f, size_t *table);
/* Field ID of the table at T: 1 and its position in *POS (with SIZE bytes in bounds), 0 when
 * absent, -1 when malformed. */
int fb_field(const fb_buf *f, size_t t, int id, size_t size, size_t *pos);
/* Scalars of field ID of table T, DEF when absent. */
int fb_i64(const fb_buf *f, size_t t, int id, int64_t def, int64_t *v);
int fb_i32(const fb_buf *f, size_t t, int id, int32_t def, int32_t *v);
int fb_i16(const fb_buf *f, size_t t, int id, int16_t def, int16_t *v);
int fb_u8(const fb_buf *f, size_t t, int id, uint8_t def, uint8_t *v);
/* The object (table, vector or string) field ID of T refers to: 1 with its position, 0 when
 * absent. */
int fb_ref(const fb_buf *f, size_t t, int id, size_t *pos);
/* A vector at POS: *N elements of ESIZE bytes from *FIRST. */
int fb_vector(const fb_buf *f, size_t pos, size_t esize, uint32_t *n, size_t *first);
/* Element I of a vector of tables starting at FIRST: the table's position. */
int fb_vector_table(const fb_buf *f, size_t first, uint32_t i, size_t *table);
/* A string at POS: *LEN bytes at *S (not necessarily NUL-terminated in a bad file). */
int fb_string(const fb_buf *f, size_t pos, const char **s, uint32_t *len);
int64_t fb_rd64(const uint8_t *p);
int32_t fb_rd32(const uint8_t *p);

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *b;
    size_t len, cap;
    int oom; /* an allocation failed: the buffer is unusable */
} fb_builder;

#define FB_MAX_FIELDS 8

/* A table of NF fields, field I of SIZE[I] bytes (0: absent): writes its vtable and its zeroed
 * fields; POS[I] receives each field's position. Returns the table's position. */
size_t fb_table(fb_builder *b, int nf, const int *size, size_t *pos);
void fb_set(fb_builder *b, size_t pos, const void *v, size_t n);
/* A string, a vector of N structs of ESIZE bytes (8-aligned), a vector of N offsets (whose
 * slots follow at the returned position + 4 + 4 * i): the object's position. */
size_t fb_add_string(fb_builder *b, const char *s);
size_t fb_add_structs(fb_builder *b, const void *v, uint32_t n, size_t esize);
size_t fb_add_offsets(fb_builder *b, uint32_t n);
/* Make the offset slot at SLOT refer to the object at TARGET (after it). */
void fb_link(fb_builder *b, size_t slot, size_t target);
/* Start a buffer: the root offset slot (at 0), to be linked to the root table. */
void fb_begin(fb_builder *b);
void fb_free(fb_builder *b);

#endif /* STRATA_FORMAT_ARROW_FB_INT_H */
