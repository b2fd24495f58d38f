/*
 * parquet_decode.c -- one column chunk of one row group into values and a validity bitmap:
 * walks its pages (dictionary, data v1 and v2), decompresses each, decodes the definition
 * levels (RLE/bit-packed hybrid, maximum level 1) and the values (PLAIN, dictionary indices,
 * RLE booleans, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and
 * BYTE_STREAM_SPLIT). Every size is checked against the chunk's bytes; the output is bounded by
 * the file's st_pq_limits.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/parquet_int.h"
#include "util/bits.h"

#define MAX_PAGE (1 << 30) /* bytes of one decompressed page */

typedef struct {
    st_pq_file *f;
    int rg, col, page;
    const st_pq_column *c;
    const st_pq_chunk *ch;
    int64_t n, done; /* rows of the chunk, rows decoded */
    st_pq_values v;
    int64_t nbytes, bytes_cap; /* BYTE_ARRAY */
    /* the dictionary: fixed-width values, or offsets into its page's bytes */
    int has_dict;
    int64_t dict_n;
    uint8_t *dict_page;
    uint8_t *dict_vals;
    int64_t *dict_off;
    uint8_t *pbuf; /* the current page, decompressed */
    /* scratch for one page of up to SCRATCH rows: levels, dictionary ids or RLE booleans, and
     * 2 * SCRATCH delta-decoded values (or prefix and suffix lengths) */
    int64_t scratch;
    uint32_t *lv, *ix;
    int64_t *dense;
} dec;

static int derr(dec *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int derr(dec *d, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->page >= 0)
        return st_error(d->f->err, code,
                        "cannot read column '%s' of row group %d of '%s', page %d: %s", d->c->name,
                        d->rg, d->f->name, d->page, msg);
    return st_error(d->f->err, code, "cannot read column '%s' of row group %d of '%s': %s",
                    d->c->name, d->rg, d->f->name, msg);
}

static int width_of(st_pq_type t)
{
    switch (t) {
    case ST_PQ_BOOLEAN:
        return 1;
    case ST_PQ_INT32:
    case ST_PQ_FLOAT:
        return 4;
    case ST_PQ_INT64:
    case ST_PQ_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Room for MORE string bytes. */
static int bytes_reserve(dec *d, int64_t more)
{
    if (more > d->f->lim.max_bytes - d->nbytes)
        return derr(d, STRATA_ERANGE, "strings of more than %lld bytes (the limit)",
                    (long long)d->f->lim.max_bytes);
    if (d->nbytes + more <= d->bytes_cap) return STRATA_OK;
    int64_t cap = d->bytes_cap ? d->bytes_cap : 4096;
    while (cap < d->nbytes + more) cap *= 2;
    uint8_t *b = realloc(d->v.bytes, (size_t)cap);
    if (b == NULL)
        return derr(d, STRATA_ENOMEM, "out of memory for %lld string bytes", (long long)cap);
    d->v.bytes = b;
    d->bytes_cap = cap;
    return STRATA_OK;
}

/* Decompress the page body SRC into a new buffer *DST of LEN bytes. */
static int inflate_page(dec *d, const uint8_t *src, size_t src_len, int64_t len, uint8_t **dst)
{
    const char *why = "";
    if (len < 0 || len > MAX_PAGE)
        return derr(d, STRATA_ECORRUPT, "page size %lld out of range", (long long)len);
    size_t bound = st_pq_decompress_bound(d->ch->codec, src, src_len);
    if (bound == SIZE_MAX) {
        const char *missing = st_pq_codec_missing(d->ch->codec);
        return derr(d, STRATA_EUNSUPPORTED, "codec %s is not supported%s%s",
                    st_pq_codec_name(d->ch->codec), missing ? ": " : "", missing ? missing : "");
    }
    if ((uint64_t)len > bound)
        return derr(d, STRATA_ECORRUPT,
                    "page claims %lld bytes uncompressed, more than its %zu %s bytes hold",
                    (long long)len, src_len, st_pq_codec_name(d->ch->codec));
    uint8_t *b = malloc((size_t)len + 1);
    if (b == NULL)
        return derr(d, STRATA_ENOMEM, "out of memory for a page of %lld bytes", (long long)len);
    int rc = st_pq_decompress(d->ch->codec, src, src_len, b, (size_t)len, &why);
    if (rc < 0) {
        free(b);
        if (rc == STRATA_EUNSUPPORTED)
            return derr(d, rc, "codec %s is not supported", st_pq_codec_name(d->ch->codec));
        return derr(d, rc, "%s", why);
    }
    *dst = b;
    return STRATA_OK;
}

/* PLAIN values of the dictionary page P[0..LEN). */
static int read_dict(dec *d, const st_pq_page *pg, const uint8_t *p, size_t len)
{
    int w = width_of(d->c->type);
    int64_t n = pg->num_values;
    if (d->has_dict || d->done > 0) return derr(d, STRATA_ECORRUPT, "a second dictionary page");
    if (pg->encoding != ST_PQ_ENC_PLAIN && pg->encoding != ST_PQ_ENC_PLAIN_DICTIONARY)
        return derr(d, STRATA_EUNSUPPORTED, "dictionary encoding %s is not supported",
                    st_pq_encoding_name(pg->encoding));
    if (n < 0 || (w > 0 && (uint64_t)n * (uint64_t)w > len) || (w == 0 && (uint64_t)n * 4 > len))
        return derr(d, STRATA_ECORRUPT, "dictionary of %lld values in %zu bytes", (long long)n,
                    len);
    d->has_dict = 1;
    d->dict_n = n;
    if (w > 0) {
        if (d->c->type == ST_PQ_BOOLEAN) return derr(d, STRATA_ECORRUPT, "dictionary of booleans");
        d->dict_vals = (uint8_t *)p;
        return STRATA_OK;
    }
    d->dict_off = malloc(((size_t)n + 1) * sizeof *d->dict_off);
    if (d->dict_off == NULL) return derr(d, STRATA_ENOMEM, "out of memory for the dictionary");
    size_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (len - pos < 4)
            return derr(d, STRATA_ECORRUPT, "dictionary string %lld runs past the page",
                        (long long)i);
        uint32_t l = le32(p + pos);
        if (l > len - pos - 4)
            return derr(d, STRATA_ECORRUPT, "dictionary string %lld of %u bytes runs past the page",
                        (long long)i, l);
        d->dict_off[i] = (int64_t)pos + 4;
        pos += 4 + (size_t)l;
    }
    d->dict_off[n] = (int64_t)pos + 4; /* the end of the last string is read from its length */
    return STRATA_OK;
}

/* Append string S of L bytes as row ROW (rows before it already set). */
static int put_string(dec *d, int64_t row, const uint8_t *s, int64_t l)
{
    int rc = bytes_reserve(d, l);
    if (rc < 0) return rc;
    if (l > 0) memcpy(d->v.bytes + d->nbytes, s, (size_t)l);
    d->nbytes += l;
    d->v.offsets[row + 1] = d->nbytes;
    return STRATA_OK;
}

/* The string at dictionary index K. */
static void dict_string(dec *d, uint32_t k, const uint8_t **s, int64_t *l)
{
    int64_t off = d->dict_off[k];
    *s = d->dict_page + off;
    *l = (int64_t)le32(d->dict_page + off - 4);
}

/* Place NN values of this page (NV rows, levels in d->lv, or all valid when LV is NULL). */
static int values_plain(dec *d, const uint32_t *lv, int64_t nv, int64_t nn, const uint8_t *p,
                        size_t len)
{
    int w = width_of(d->c->type);
    int64_t j = 0;
    if (d->c->type == ST_PQ_BOOLEAN) {
        if ((uint64_t)(nn + 7) / 8 > len)
            return derr(d, STRATA_ECORRUPT, "%lld booleans in %zu bytes", (long long)nn, len);
        uint8_t *out = d->v.values;
        for (int64_t i = 0; i < nv; i++)
            if (lv == NULL || lv[i]) {
                out[d->done + i] = (p[j >> 3] >> (j & 7)) & 1;
                j++;
            }
        return STRATA_OK;
    }
    if (w > 0) {
        if ((uint64_t)nn * (uint64_t)w > len)
            return derr(d, STRATA_ECORRUPT, "%lld values of %d bytes in %zu bytes", (long long)nn,
                        w, len);
        uint8_t *out = d->v.values;
        for (int64_t i = 0; i < nv; i++)
            if (lv == NULL || lv[i]) memcpy(out + (d->done + i) * w, p + (j++) * w, (size_t)w);
        return STRATA_OK;
    }
    size_t pos = 0;
    for (int64_t i = 0; i < nv; i++) {
        int64_t row = d->done + i;
        if (lv != NULL && !lv[i]) {
            d->v.offsets[row + 1] = d->nbytes;
            continue;
        }
        if (len - pos < 4)
            return derr(d, STRATA_ECORRUPT, "string %lld runs past the page", (long long)row);
        uint32_t l = le32(p + pos);
        if (l > len - pos - 4)
            return derr(d, STRATA_ECORRUPT, "string %lld of %u bytes runs past the page",
                        (long long)row, l);
        int rc = put_string(d, row, p + pos + 4, l);
        if (rc < 0) return rc;
        pos += 4 + (size_t)l;
    }
    return STRATA_OK;
}

static int values_dict(dec *d, const uint32_t *lv, int64_t nv, int64_t nn, const uint8_t *p,
                       size_t len)
{
    const char *why = "";
    if (!d->has_dict)
        return derr(d, STRATA_ECORRUPT, "dictionary-encoded values but no dictionary page");
    if (nn > 0 && len < 1)
        return derr(d, STRATA_ECORRUPT, "dictionary indices without their bit width");
    if (nn > 0 && st_pq_rle_decode(p + 1, len - 1, p[0], d->ix, nn, &why) < 0)
        return derr(d, STRATA_ECORRUPT, "dictionary indices: %s", why);
    int w = width_of(d->c->type);
    int64_t j = 0;
    if (lv == NULL && (w == 4 || w == 8)) { /* the common case: no nulls, 4- or 8-byte values */
        for (int64_t i = 0; i < nv; i++)
            if (d->ix[i] >= d->dict_n)
                return derr(d, STRATA_ECORRUPT, "dictionary index %u out of range (%lld entries)",
                            d->ix[i], (long long)d->dict_n);
        /* fixed-size copies: one load and store each (the dictionary may be unaligned) */
        uint8_t *o = (uint8_t *)d->v.values + d->done * w;
        if (w == 4)
            for (int64_t i = 0; i < nv; i++)
                memcpy(o + 4 * i, d->dict_vals + 4 * (size_t)d->ix[i], 4);
        else
            for (int64_t i = 0; i < nv; i++)
                memcpy(o + 8 * i, d->dict_vals + 8 * (size_t)d->ix[i], 8);
        return STRATA_OK;
    }
    for (int64_t i = 0; i < nv; i++) {
        int64_t row = d->done + i;
        if (lv != NULL && !lv[i]) {
            if (w == 0) d->v.offsets[row + 1] = d->nbytes;
            continue;
        }
        uint32_t k = d->ix[j++];
        if (k >= d->dict_n)
            return derr(d, STRATA_ECORRUPT, "dictionary index %u out of range (%lld entries)", k,
                        (long long)d->dict_n);
        if (w > 0) {
            memcpy((uint8_t *)d->v.values + row * w, d->dict_vals + (size_t)k * (size_t)w,
                   (size_t)w);
        } else {
            const uint8_t *s;
            int64_t l;
            dict_string(d, k, &s, &l);
            int rc = put_string(d, row, s, l);
            if (rc < 0) return rc;
        }
    }
    return STRATA_OK;
}

static int values_rle_bool(dec *d, const uint32_t *lv, int64_t nv, int64_t nn, const uint8_t *p,
                           size_t len)
{
    const char *why = "";
    if (len < 4 || le32(p) > len - 4)
        return derr(d, STRATA_ECORRUPT, "RLE booleans' length runs past the page");
    if (st_pq_rle_decode(p + 4, le32(p), 1, d->ix, nn, &why) < 0)
        return derr(d, STRATA_ECORRUPT, "RLE booleans: %s", why);
    uint8_t *out = d->v.values;
    int64_t j = 0;
    for (int64_t i = 0; i < nv; i++)
        if (lv == NULL || lv[i]) out[d->done + i] = (uint8_t)d->ix[j++];
    return STRATA_OK;
}

/* Decode definition levels of NV rows from P[0..LEN) into d->lv, set the validity bits and
 * count the valid rows into *NN. */
static int levels(dec *d, const uint8_t *p, size_t len, int64_t nv, int64_t *nn)
{
    const char *why = "";
    if (st_pq_rle_decode(p, len, 1, d->lv, nv, &why) < 0)
        return derr(d, STRATA_ECORRUPT, "definition levels: %s", why);
    int64_t k = 0;
    for (int64_t i = 0; i < nv; i++) k += d->lv[i] != 0;
    if (k == nv) { /* a page without nulls (a writer may make every column OPTIONAL) */
        st_bits_fill(d->v.validity, (uint64_t)d->done, (uint64_t)nv, 1);
    } else {
        for (int64_t i = 0; i < nv; i++)
            if (d->lv[i]) st_bit_set(d->v.validity, (uint64_t)(d->done + i), 1);
    }
    d->v.null_count += nv - k;
    *nn = k;
    return STRATA_OK;
}

/* DELTA_BINARY_PACKED INT32 or INT64 values. */
static int values_delta(dec *d, const uint32_t *lv, int64_t nv, int64_t nn, const uint8_t *p,
                        size_t len)
{
    const char *why = "";
    size_t used;
    if (d->c->type != ST_PQ_INT32 && d->c->type != ST_PQ_INT64)
        return derr(d, STRATA_ECORRUPT, "DELTA_BINARY_PACKED values of type %s",
                    st_pq_type_name(d->c->type));
    if (st_pq_delta_decode(p, len, d->dense, nn, &used, &why) < 0)
        return derr(d, STRATA_ECORRUPT, "DELTA_BINARY_PACKED values: %s", why);
    int64_t j = 0;
    for (int64_t i = 0; i < nv; i++) {
        if (lv != NULL && !lv[i]) continue;
        if (d->c->type == ST_PQ_INT32)
            ((int32_t *)d->v.values)[d->done + i] = (int32_t)(uint32_t)d->dense[j++];
        else
            ((int64_t *)d->v.values)[d->done + i] = d->dense[j++];
    }
    return STRATA_OK;
}

/* BYTE_STREAM_SPLIT: byte K of value J at P[K * NN + J]. */
static int values_split(dec *d, const uint32_t *lv, int64_t nv, int64_t nn, const uint8_t *p,
                        size_t len)
{
    int w = width_of(d->c->type);
    if (w < 4 || (uint64_t)nn * (uint64_t)w > len)
        return derr(d, STRATA_ECORRUPT, "BYTE_STREAM_SPLIT: %lld values of type %s in %zu bytes",
                    (long long)nn, st_pq_type_name(d->c->type), len);
    uint8_t *out = d->v.values;
    int64_t j = 0;
    for (int64_t i = 0; i < nv; i++) {
        if (lv != NULL && !lv[i]) continue;
        for (int k = 0; k < w; k++) out[(d->done + i) * w + k] = p[(int64_t)k * nn + j];
        j++;
    }
    return STRATA_OK;
}

/* DELTA_LENGTH_BYTE_ARRAY (PREFIX NULL) or DELTA_BYTE_ARRAY: the strings' lengths delta-encoded,
 * then their bytes; DELTA_BYTE_ARRAY first gives each string's prefix shared with the previous. */
static int values_delta_strings(dec *d, int enc, const uint32_t *lv, int64_t nv, int64_t nn,
                                const uint8_t *p, size_t len)
{
    const char *why = "";
    size_t used = 0;
    int64_t *pre = d->dense + d->scratch + 1, *lens = d->dense;
    if (d->c->type != ST_PQ_BYTE_ARRAY)
        return derr(d, STRATA_ECORRUPT, "%s values of type %s", st_pq_encoding_name(enc),
                    st_pq_type_name(d->c->type));
    if (enc == ST_PQ_ENC_DELTA_BYTE_ARRAY) {
        if (st_pq_delta_decode(p, len, pre, nn, &used, &why) < 0)
            return derr(d, STRATA_ECORRUPT, "prefix lengths: %s", why);
        p += used, len -= used;
    }
    if (st_pq_delta_decode(p, len, lens, nn, &used, &why) < 0)
        return derr(d, STRATA_ECORRUPT, "string lengths: %s", why);
    p += used, len -= used;
    int64_t j = 0, last = -1; /* the offset of the previous string, for its prefix */
    size_t pos = 0;
    for (int64_t i = 0; i < nv; i++) {
        int64_t row = d->done + i;
        if (lv != NULL && !lv[i]) {
            d->v.offsets[row + 1] = d->nbytes;
            continue;
        }
        int64_t l = lens[j], pl = enc == ST_PQ_ENC_DELTA_BYTE_ARRAY ? pre[j] : 0;
        j++;
        int64_t prev_len = last < 0 ? 0 : d->nbytes - last;
        if (l < 0 || (uint64_t)l > len - pos || pl < 0 || pl > prev_len)
            return derr(d, STRATA_ECORRUPT,
                        "string %lld: length %lld (prefix %lld) runs past the page", (long long)row,
                        (long long)l, (long long)pl);
        int rc = bytes_reserve(d, pl + l);
        if (rc < 0) return rc;
        int64_t start = d->nbytes;
        if (pl > 0) memmove(d->v.bytes + start, d->v.bytes + last, (size_t)pl);
        if (l > 0) memcpy(d->v.bytes + start + pl, p + pos, (size_t)l);
        pos += (size_t)l;
        d->nbytes += pl + l;
        d->v.offsets[row + 1] = d->nbytes;
        last = start;
    }
    return STRATA_OK;
}

static int data_values(dec *d, int enc, const uint32_t *lv, int64_t nv, int64_t nn,
                       const uint8_t *p, size_t len)
{
    if (enc == ST_PQ_ENC_PLAIN) return values_plain(d, lv, nv, nn, p, len);
    if (enc == ST_PQ_ENC_PLAIN_DICTIONARY || enc == ST_PQ_ENC_RLE_DICTIONARY)
        return values_dict(d, lv, nv, nn, p, len);
    if (enc == ST_PQ_ENC_RLE && d->c->type == ST_PQ_BOOLEAN)
        return values_rle_bool(d, lv, nv, nn, p, len);
    if (enc == ST_PQ_ENC_DELTA_BINARY_PACKED) return values_delta(d, lv, nv, nn, p, len);
    if (enc == ST_PQ_ENC_BYTE_STREAM_SPLIT) return values_split(d, lv, nv, nn, p, len);
    if (enc == ST_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY || enc == ST_PQ_ENC_DELTA_BYTE_ARRAY)
        return values_delta_strings(d, enc, lv, nv, nn, p, len);
    return derr(d, STRATA_EUNSUPPORTED, "encoding %s is not supported", st_pq_encoding_name(enc));
}

/* Scratch room for a page of NV rows (NV is at most the chunk's rows, which are bounded). */
static int scratch(dec *d, int64_t nv)
{
    if (d->lv != NULL && nv <= d->scratch) return STRATA_OK;
    free(d->lv);
    free(d->ix);
    free(d->dense);
    d->lv = malloc((size_t)(nv + 1) * sizeof *d->lv);
    d->ix = malloc((size_t)(nv + 1) * sizeof *d->ix);
    d->dense = malloc(2 * (size_t)(nv + 1) * sizeof *d->dense);
    d->scratch = nv;
    if (d->lv == NULL || d->ix == NULL || d->dense == NULL) {
        free(d->lv);
        d->lv = NULL; /* so that the next page tries again, and nothing is read from it */
        return derr(d, STRATA_ENOMEM, "out of memory for a page of %lld rows", (long long)nv);
    }
    return STRATA_OK;
}

static int data_page(dec *d, const st_pq_page *pg, const uint8_t *body)
{
    int rc = STRATA_OK;
    int64_t nv = pg->num_values, nn = nv;
    const uint8_t *lvp = NULL, *vp;
    size_t lvlen = 0, vlen;
    if (!pg->has_header) return derr(d, STRATA_ECORRUPT, "data page without its header");
    if (nv < 0 || nv > d->n - d->done)
        return derr(d, STRATA_ECORRUPT, "page of %lld values, %lld left of the chunk's %lld",
                    (long long)nv, (long long)(d->n - d->done), (long long)d->n);
    ST_TRY(rc = scratch(d, nv));
    if (pg->type == ST_PQ_DATA_PAGE) {
        ST_TRY(rc = inflate_page(d, body, (size_t)pg->compressed_size, pg->uncompressed_size,
                                 &d->pbuf));
        vp = d->pbuf;
        vlen = (size_t)pg->uncompressed_size;
        if (d->c->optional) {
            if (pg->def_encoding != ST_PQ_ENC_RLE) {
                rc = derr(d, STRATA_EUNSUPPORTED, "definition level encoding %s is not supported",
                          st_pq_encoding_name(pg->def_encoding));
                goto done;
            }
            if (vlen < 4 || le32(vp) > vlen - 4) {
                rc = derr(d, STRATA_ECORRUPT, "definition levels' length runs past the page");
                goto done;
            }
            lvp = vp + 4;
            lvlen = le32(vp);
            vp += 4 + lvlen;
            vlen -= 4 + lvlen;
        }
    } else {
        if (pg->rep_len != 0 || pg->def_len < 0 || pg->def_len > pg->compressed_size ||
            pg->def_len > pg->uncompressed_size) {
            rc = derr(d, STRATA_ECORRUPT, "level lengths %d and %d do not fit the page",
                      pg->rep_len, pg->def_len);
            goto done;
        }
        lvp = body;
        lvlen = (size_t)pg->def_len;
        size_t clen = (size_t)(pg->compressed_size - pg->def_len);
        int64_t ulen = pg->uncompressed_size - pg->def_len;
        if (pg->is_compressed && d->ch->codec != ST_PQ_UNCOMPRESSED) {
            ST_TRY(rc = inflate_page(d, body + lvlen, clen, ulen, &d->pbuf));
            vp = d->pbuf;
            vlen = (size_t)ulen;
        } else {
            vp = body + lvlen;
            vlen = clen;
        }
        if (!d->c->optional) lvp = NULL;
    }
    if (lvp != NULL && d->c->optional) {
        ST_TRY(rc = levels(d, lvp, lvlen, nv, &nn));
    } else if (d->c->optional) {
        st_bits_fill(d->v.validity, (uint64_t)d->done, (uint64_t)nv, 1);
    }
    /* the levels matter to the values only where a row is null: without, the fast paths */
    ST_TRY(rc =
               data_values(d, pg->encoding, lvp != NULL && d->c->optional && nn < nv ? d->lv : NULL,
                           nv, nn, vp, vlen));
    d->done += nv;
done:
    free(d->pbuf);
    d->pbuf = NULL;
    return rc;
}

static int one_page(dec *d, const uint8_t **pos, const uint8_t *end)
{
    int rc = STRATA_OK;
    st_tc_reader r;
    st_pq_page pg;
    st_tc_reader_init(&r, *pos, (size_t)(end - *pos));
    if (st_pq_page_header_read(&r, &pg) < 0)
        return derr(d, STRATA_ECORRUPT, "bad page header: %s at byte %zu of the file",
                    r.why ? r.why : "?", (size_t)(*pos - d->f->data) + st_tc_pos(&r));
    const uint8_t *body = *pos + st_tc_pos(&r);
    if ((size_t)pg.compressed_size > (size_t)(end - body))
        return derr(d, STRATA_ECORRUPT,
                    "page size %d runs past the end of the column chunk (%zu bytes left)",
                    pg.compressed_size, (size_t)(end - body));
    *pos = body + pg.compressed_size;
    if (pg.type == ST_PQ_DICTIONARY_PAGE) {
        if (!pg.has_header) return derr(d, STRATA_ECORRUPT, "dictionary page without its header");
        if (d->dict_page != NULL)
            return derr(d, STRATA_ECORRUPT, "a second dictionary page in one column chunk");
        ST_TRY(rc = inflate_page(d, body, (size_t)pg.compressed_size, pg.uncompressed_size,
                                 &d->dict_page));
        ST_TRY(rc = read_dict(d, &pg, d->dict_page, (size_t)pg.uncompressed_size));
    } else if (pg.type == ST_PQ_DATA_PAGE || pg.type == ST_PQ_DATA_PAGE_V2) {
        ST_TRY(rc = data_page(d, &pg, body));
    } /* index pages and page types we do not know are skipped */
done:
    return rc;
}

static int alloc_output(dec *d)
{
    size_t n = (size_t)d->n;
    int w = width_of(d->c->type);
    d->v.type = d->c->type;
    d->v.n = d->n;
    if (w > 0)
        d->v.values = calloc(n + 1, (size_t)w);
    else
        d->v.offsets = calloc(n + 1, sizeof *d->v.offsets);
    if (d->c->optional) d->v.validity = calloc(n / 8 + 1, 1);
    if ((w > 0 ? d->v.values == NULL : d->v.offsets == NULL) ||
        (d->c->optional && d->v.validity == NULL))
        return derr(d, STRATA_ENOMEM, "out of memory for %lld rows", (long long)d->n);
    if (w == 0) return bytes_reserve(d, 0);
    return STRATA_OK;
}

int st_pq_read_column(st_pq_file *f, int rg, int col, st_pq_values *out)
{
    int rc = STRATA_OK;
    dec d;
    memset(&d, 0, sizeof d);
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= f->nrg || col < 0 || col >= f->ncols)
        return st_error(f->err, STRATA_ERANGE, "no column %d of row group %d in '%s'", col, rg,
                        f->name);
    d.f = f;
    d.rg = rg;
    d.col = col;
    d.page = -1;
    d.c = &f->cols[col];
    d.ch = &f->chunks[(size_t)rg * (size_t)f->ncols + (size_t)col];
    d.n = f->rg_rows[rg];
    if (d.c->type == ST_PQ_INT96 || d.c->type == ST_PQ_FIXED_LEN_BYTE_ARRAY) {
        rc = derr(&d, STRATA_EUNSUPPORTED, "type %s is not supported", st_pq_type_name(d.c->type));
        goto done;
    }
    if (d.n > f->lim.max_rows || (uint64_t)d.n > SIZE_MAX / 32) {
        rc = derr(&d, STRATA_ERANGE, "%lld rows, over the limit of %lld", (long long)d.n,
                  (long long)f->lim.max_rows);
        goto done;
    }
    ST_TRY(rc = alloc_output(&d));
    int64_t start =
        d.ch->dictionary_page_offset >= 0 ? d.ch->dictionary_page_offset : d.ch->data_page_offset;
    const uint8_t *pos = f->data + start, *end = pos + d.ch->total_compressed_size;
    for (d.page = 0; d.done < d.n; d.page++) {
        if (pos >= end) {
            rc = derr(&d, STRATA_ECORRUPT, "the column chunk ends after %lld of its %lld values",
                      (long long)d.done, (long long)d.n);
            goto done;
        }
        ST_TRY(rc = one_page(&d, &pos, end));
    }
    if (d.v.validity != NULL && d.v.null_count == 0) {
        free(d.v.validity);
        d.v.validity = NULL;
    }
    *out = d.v;
    memset(&d.v, 0, sizeof d.v);
done:
    st_pq_values_release(&d.v);
    free(d.dict_page);
    free(d.dict_off);
    free(d.lv);
    free(d.ix);
    free(d.dense);
    return rc;
}

void st_pq_values_release(st_pq_values *v)
{
    if (v == NULL) return;
    free(v->values);
    free(v->offsets);
    free(v->bytes);
    free(v->validity);
    memset(v, 0, sizeof *v);
}
