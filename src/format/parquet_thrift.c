/*
 * parquet_thrift.c -- the Thrift compact protocol, as much of it as Parquet's footer and page
 * headers use: varints, zigzag integers, field headers with id deltas, booleans in the field
 * header, binaries, lists, structs, and skipping any value by its type (so that fields added by
 * newer writers are passed over). Also the PageHeader struct, read and written here because
 * both the reader and the writer need it.
 */
#include <stdlib.h>
#include <string.h>

#include "format/parquet_int.h"

static int fail(st_tc_reader *r, const char *why)
{
    if (r->why == NULL) r->why = why;
    return STRATA_ECORRUPT;
}

void st_tc_reader_init(st_tc_reader *r, const uint8_t *p, size_t len)
{
    memset(r, 0, sizeof *r);
    r->base = r->p = p;
    r->end = p + len;
}

size_t st_tc_pos(const st_tc_reader *r)
{
    return (size_t)(r->p - r->base);
}

int st_tc_varint(st_tc_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return fail(r, "varint runs past the end");
        uint8_t b = *r->p++;
        if (shift == 63 && (b & 0x7E)) return fail(r, "varint longer than 64 bits");
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return STRATA_OK;
        }
    }
    return fail(r, "varint longer than 10 bytes");
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int st_tc_i64(st_tc_reader *r, int64_t *v)
{
    uint64_t u;
    if (st_tc_varint(r, &u) < 0) return STRATA_ECORRUPT;
    *v = unzigzag(u);
    return STRATA_OK;
}

int st_tc_i32(st_tc_reader *r, int32_t *v)
{
    int64_t x;
    if (st_tc_i64(r, &x) < 0) return STRATA_ECORRUPT;
    if (x < INT32_MIN || x > INT32_MAX) return fail(r, "i32 out of range");
    *v = (int32_t)x;
    return STRATA_OK;
}

int st_tc_int(st_tc_reader *r, int type, int64_t *v)
{
    switch (type) {
    case ST_TC_BYTE:
        if (r->p >= r->end) return fail(r, "byte runs past the end");
        *v = (int8_t)*r->p++;
        return STRATA_OK;
    case ST_TC_I16:
    case ST_TC_I32:
    case ST_TC_I64:
        return st_tc_i64(r, v);
    default:
        return fail(r, "field has a wrong type");
    }
}

int st_tc_binary(st_tc_reader *r, const uint8_t **p, size_t *len)
{
    uint64_t n;
    if (st_tc_varint(r, &n) < 0) return STRATA_ECORRUPT;
    if (n > (uint64_t)(r->end - r->p)) return fail(r, "binary longer than the bytes left");
    *p = r->p;
    *len = (size_t)n;
    r->p += n;
    return STRATA_OK;
}

int st_tc_list(st_tc_reader *r, int *elem_type, int64_t *count)
{
    if (r->p >= r->end) return fail(r, "list header runs past the end");
    uint8_t h = *r->p++;
    uint64_t n = h >> 4;
    if (n == 15 && st_tc_varint(r, &n) < 0) return STRATA_ECORRUPT;
    *elem_type = h & 0x0F;
    /* every element takes at least one byte (an empty struct is its stop byte) */
    if (n > (uint64_t)(r->end - r->p)) return fail(r, "list longer than the bytes left");
    if (*elem_type == ST_TC_STOP) return fail(r, "list of a bad element type");
    *count = (int64_t)n;
    return STRATA_OK;
}

int st_tc_struct_begin(st_tc_reader *r)
{
    if (r->depth >= ST_TC_MAX_DEPTH) return fail(r, "structs nested too deep");
    r->last[r->depth++] = 0;
    return STRATA_OK;
}

int st_tc_field(st_tc_reader *r, int16_t *id, int *type)
{
    if (r->depth <= 0) return fail(r, "field outside a struct");
    if (r->p >= r->end) return fail(r, "struct runs past the end");
    uint8_t h = *r->p++;
    *type = h & 0x0F;
    if (*type == ST_TC_STOP) {
        r->depth--;
        *id = 0;
        return STRATA_OK;
    }
    if (*type > ST_TC_STRUCT) return fail(r, "unknown field type");
    int delta = h >> 4;
    if (delta != 0) {
        int v = r->last[r->depth - 1] + delta;
        if (v > INT16_MAX) return fail(r, "field id out of range");
        *id = (int16_t)v;
    } else {
        int64_t v;
        if (st_tc_i64(r, &v) < 0) return STRATA_ECORRUPT;
        if (v < INT16_MIN || v > INT16_MAX) return fail(r, "field id out of range");
        *id = (int16_t)v;
    }
    r->last[r->depth - 1] = *id;
    return STRATA_OK;
}

static int skip_value(st_tc_reader *r, int type, int in_list)
{
    uint64_t u;
    const uint8_t *p;
    size_t n;
    switch (type) {
    case ST_TC_TRUE:
    case ST_TC_FALSE:
    case ST_TC_BYTE:
        /* a field's boolean is in its header; a list's booleans are one byte each */
        if (type != ST_TC_BYTE && !in_list) return STRATA_OK;
        if (r->p >= r->end) return fail(r, "byte runs past the end");
        r->p++;
        return STRATA_OK;
    case ST_TC_I16:
    case ST_TC_I32:
    case ST_TC_I64:
        return st_tc_varint(r, &u);
    case ST_TC_DOUBLE:
        if (r->end - r->p < 8) return fail(r, "double runs past the end");
        r->p += 8;
        return STRATA_OK;
    case ST_TC_BINARY:
        return st_tc_binary(r, &p, &n);
    case ST_TC_LIST:
    case ST_TC_SET: {
        int et;
        int64_t cnt;
        if (st_tc_list(r, &et, &cnt) < 0) return STRATA_ECORRUPT;
        if (r->depth >= ST_TC_MAX_DEPTH) return fail(r, "values nested too deep");
        r->depth++; /* lists count towards the nesting bound too */
        for (int64_t i = 0; i < cnt; i++)
            if (skip_value(r, et, 1) < 0) return STRATA_ECORRUPT;
        r->depth--;
        return STRATA_OK;
    }
    case ST_TC_MAP: {
        if (st_tc_varint(r, &u) < 0) return STRATA_ECORRUPT;
        if (u == 0) return STRATA_OK;
        if (u > (uint64_t)(r->end - r->p)) return fail(r, "map longer than the bytes left");
        if (r->p >= r->end) return fail(r, "map header runs past the end");
        uint8_t kv = *r->p++;
        if (r->depth >= ST_TC_MAX_DEPTH) return fail(r, "values nested too deep");
        r->depth++;
        for (uint64_t i = 0; i < u; i++)
            if (skip_value(r, kv >> 4, 1) < 0 || skip_value(r, kv & 0x0F, 1) < 0)
                return STRATA_ECORRUPT;
        r->depth--;
        return STRATA_OK;
    }
    case ST_TC_STRUCT: {
        if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
        for (;;) {
            int16_t id;
            int t;
            if (st_tc_field(r, &id, &t) < 0) return STRATA_ECORRUPT;
            if (t == ST_TC_STOP) return STRATA_OK;
            if (skip_value(r, t, 0) < 0) return STRATA_ECORRUPT;
        }
    }
    default:
        return fail(r, "unknown value type");
    }
}

int st_tc_skip(st_tc_reader *r, int type)
{
    return skip_value(r, type, 0);
}

/* ---- writer ---------------------------------------------------------------------------------- */

static void put(st_tc_writer *w, const void *p, size_t n)
{
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap *= 2;
        uint8_t *q = realloc(w->p, cap);
        if (q == NULL) {
            w->oom = 1;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

void st_tc_w_raw(st_tc_writer *w, const void *p, size_t n)
{
    put(w, p, n);
}

void st_tc_w_byte(st_tc_writer *w, uint8_t b)
{
    put(w, &b, 1);
}

void st_tc_w_varint(st_tc_writer *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    put(w, b, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void st_tc_w_field(st_tc_writer *w, int16_t id, int type)
{
    int16_t last = w->depth > 0 ? w->last[w->depth - 1] : 0;
    if (id > last && id - last <= 15) {
        st_tc_w_byte(w, (uint8_t)(((id - last) << 4) | type));
    } else {
        st_tc_w_byte(w, (uint8_t)type);
        st_tc_w_varint(w, zigzag(id));
    }
    if (w->depth > 0) w->last[w->depth - 1] = id;
}

void st_tc_w_i32(st_tc_writer *w, int16_t id, int32_t v)
{
    st_tc_w_field(w, id, ST_TC_I32);
    st_tc_w_varint(w, zigzag(v));
}

void st_tc_w_i64(st_tc_writer *w, int16_t id, int64_t v)
{
    st_tc_w_field(w, id, ST_TC_I64);
    st_tc_w_varint(w, zigzag(v));
}

void st_tc_w_bool(st_tc_writer *w, int16_t id, int v)
{
    st_tc_w_field(w, id, v ? ST_TC_TRUE : ST_TC_FALSE);
}

void st_tc_w_binary(st_tc_writer *w, int16_t id, const void *p, size_t len)
{
    st_tc_w_field(w, id, ST_TC_BINARY);
    st_tc_w_elem_binary(w, p, len);
}

void st_tc_w_struct(st_tc_writer *w, int16_t id)
{
    if (id > 0) st_tc_w_field(w, id, ST_TC_STRUCT);
    if (w->depth >= ST_TC_MAX_DEPTH) {
        w->oom = 1; /* a bug of ours, reported as a failure to write */
        return;
    }
    w->last[w->depth++] = 0;
}

void st_tc_w_end(st_tc_writer *w)
{
    st_tc_w_byte(w, ST_TC_STOP);
    if (w->depth > 0) w->depth--;
}

void st_tc_w_list(st_tc_writer *w, int16_t id, int elem_type, int64_t count)
{
    st_tc_w_field(w, id, ST_TC_LIST);
    if (count < 15) {
        st_tc_w_byte(w, (uint8_t)((count << 4) | elem_type));
    } else {
        st_tc_w_byte(w, (uint8_t)(0xF0 | elem_type));
        st_tc_w_varint(w, (uint64_t)count);
    }
}

void st_tc_w_elem_i32(st_tc_writer *w, int32_t v)
{
    st_tc_w_varint(w, zigzag(v));
}

void st_tc_w_elem_binary(st_tc_writer *w, const void *p, size_t len)
{
    st_tc_w_varint(w, len);
    put(w, p, len);
}

void st_tc_writer_free(st_tc_writer *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

/* ---- PageHeader ------------------------------------------------------------------------------ */

/* Read the fields of a DataPageHeader (v1: V2 0), DataPageHeaderV2 or DictionaryPageHeader into
 * PG; the struct has been entered. */
static int page_sub_read(st_tc_reader *r, st_pq_page *pg, int kind)
{
    for (;;) {
        int16_t id;
        int t;
        int64_t v;
        if (st_tc_field(r, &id, &t) < 0) return STRATA_ECORRUPT;
        if (t == ST_TC_STOP) return STRATA_OK;
        if (t == ST_TC_TRUE || t == ST_TC_FALSE) {
            if (kind == ST_PQ_DATA_PAGE_V2 && id == 7) pg->is_compressed = t == ST_TC_TRUE;
            continue;
        }
        int want = -1; /* which field this is */
        if (id == 1)
            want = 0;
        else if (kind == ST_PQ_DATA_PAGE && id >= 2 && id <= 4)
            want = id;
        else if (kind == ST_PQ_DICTIONARY_PAGE && id == 2)
            want = 2;
        else if (kind == ST_PQ_DATA_PAGE_V2 && id >= 2 && id <= 6)
            want = 10 + id;
        if (want < 0 || (t != ST_TC_I32 && t != ST_TC_I16 && t != ST_TC_BYTE)) {
            if (st_tc_skip(r, t) < 0) return STRATA_ECORRUPT;
            continue;
        }
        if (st_tc_int(r, t, &v) < 0) return STRATA_ECORRUPT;
        if (v < INT32_MIN || v > INT32_MAX) return fail(r, "page header field out of range");
        int32_t x = (int32_t)v;
        switch (want) {
        case 0:
            pg->num_values = x;
            break;
        case 2:
            pg->encoding = x;
            break;
        case 3:
            pg->def_encoding = x;
            break;
        case 12:
            pg->num_nulls = x;
            break;
        case 13:
            pg->num_rows = x;
            break;
        case 14:
            pg->encoding = x;
            break;
        case 15:
            pg->def_len = x;
            break;
        case 16:
            pg->rep_len = x;
            break;
        default:
            break;
        }
    }
}

int st_pq_page_header_read(st_tc_reader *r, st_pq_page *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->type = -1;
    pg->is_compressed = 1;
    pg->def_encoding = ST_PQ_ENC_RLE;
    int seen = 0;
    if (st_tc_struct_begin(r) < 0) return STRATA_ECORRUPT;
    for (;;) {
        int16_t id;
        int t;
        int64_t v;
        if (st_tc_field(r, &id, &t) < 0) return STRATA_ECORRUPT;
        if (t == ST_TC_STOP) break;
        if (id >= 1 && id <= 3 && t == ST_TC_I32) {
            if (st_tc_int(r, t, &v) < 0) return STRATA_ECORRUPT;
            if (v < INT32_MIN || v > INT32_MAX) return fail(r, "page header field out of range");
            if (id == 1)
                pg->type = (int)v;
            else if (id == 2)
                pg->uncompressed_size = (int32_t)v;
            else
                pg->compressed_size = (int32_t)v;
            seen |= 1 << id;
        } else if (t == ST_TC_STRUCT && (id == 5 || id == 7 || id == 8)) {
            int kind = id == 5   ? ST_PQ_DATA_PAGE
                       : id == 7 ? ST_PQ_DICTIONARY_PAGE
                                 : ST_PQ_DATA_PAGE_V2;
            if (st_tc_struct_begin(r) < 0 || page_sub_read(r, pg, kind) < 0) return STRATA_ECORRUPT;
            if (kind == pg->type) pg->has_header = 1;
        } else if (st_tc_skip(r, t) < 0) {
            return STRATA_ECORRUPT;
        }
    }
    if ((seen & 0xE) != 0xE) return fail(r, "page header lacks its type or sizes");
    if (pg->uncompressed_size < 0 || pg->compressed_size < 0) return fail(r, "negative page size");
    return STRATA_OK;
}

void st_pq_page_header_write(st_tc_writer *w, const st_pq_page *pg)
{
    st_tc_w_struct(w, 0);
    st_tc_w_i32(w, 1, pg->type);
    st_tc_w_i32(w, 2, pg->uncompressed_size);
    st_tc_w_i32(w, 3, pg->compressed_size);
    if (pg->type == ST_PQ_DATA_PAGE) {
        st_tc_w_struct(w, 5);
        st_tc_w_i32(w, 1, pg->num_values);
        st_tc_w_i32(w, 2, pg->encoding);
        st_tc_w_i32(w, 3, ST_PQ_ENC_RLE);
        st_tc_w_i32(w, 4, ST_PQ_ENC_RLE);
        st_tc_w_end(w);
    } else if (pg->type == ST_PQ_DICTIONARY_PAGE) {
        st_tc_w_struct(w, 7);
        st_tc_w_i32(w, 1, pg->num_values);
        st_tc_w_i32(w, 2, pg->encoding);
        st_tc_w_end(w);
    }
    st_tc_w_end(w);
}
