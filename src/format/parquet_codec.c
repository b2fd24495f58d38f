/*
 * parquet_codec.c -- page compression (UNCOMPRESSED, SNAPPY, GZIP, ZSTD) and the RLE/bit-packed
 * hybrid of Encodings.md, used for definition levels, dictionary indices and booleans.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "format/parquet_int.h"
#include "util/dynlib.h"

/* Snappy, bound by the first page that needs it (util/dynlib.h): the library is C++ and loading
 * it with its runtime costs every process about 0.5 ms at start. */
#ifndef ST_SNAPPY_SONAME
#define ST_SNAPPY_SONAME "libsnappy.so.1"
#endif
#define ST_SNAPPY_FUNCS(X)                                                                         \
    X(snappy_compress)                                                                             \
    X(snappy_uncompress) X(snappy_max_compressed_length) X(snappy_uncompressed_length)

typedef struct snappylib {
    ST_SNAPPY_FUNCS(ST_DL_FIELD)
} snappylib;

ST_DL_LIBRARY(sn, snappylib, ST_SNAPPY_SONAME, "libsnappy1v5", ST_SNAPPY_FUNCS, ST_DL_NONE)

/* Snappy's functions, or NULL when the library cannot be loaded. */
static const snappylib *snappy(void)
{
    pthread_once(&sn_once, sn_bind);
    return sn_ok ? &sn_lib : NULL;
}

const char *st_pq_codec_missing(int codec)
{
    if (codec != ST_PQ_SNAPPY || snappy() != NULL) return NULL;
    return sn_msg;
}

const char *st_pq_codec_name(int codec)
{
    static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                  "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

const char *st_pq_encoding_name(int enc)
{
    static const char *names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? names[enc] : "unknown";
}

const char *st_pq_type_name(int type)
{
    static const char *names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                  "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type < 8 ? names[type] : "unknown";
}

static int gunzip(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                  const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (src_len > UINT_MAX || dst_len > UINT_MAX) {
        *why = "gzip page too large";
        return STRATA_ECORRUPT;
    }
    if (inflateInit2(&z, 15 + 32) != Z_OK) { /* +32: gzip or zlib header */
        *why = "cannot start zlib";
        return STRATA_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)src_len;
    z.next_out = dst;
    z.avail_out = (uInt)dst_len;
    int zr = inflate(&z, Z_FINISH);
    size_t got = dst_len - z.avail_out;
    inflateEnd(&z);
    if (zr != Z_STREAM_END || got != dst_len) {
        *why = "gzip data does not decompress to the page size";
        return STRATA_ECORRUPT;
    }
    return STRATA_OK;
}

int st_pq_decompress(st_pq_codec codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                     size_t dst_len, const char **why)
{
    switch (codec) {
    case ST_PQ_UNCOMPRESSED:
        if (src_len != dst_len) {
            *why = "uncompressed page whose two sizes differ";
            return STRATA_ECORRUPT;
        }
        if (dst_len > 0) memcpy(dst, src, dst_len);
        return STRATA_OK;
    case ST_PQ_SNAPPY: {
        size_t n;
        const snappylib *sn = snappy();
        if (sn == NULL) {
            *why = "codec not supported";
            return STRATA_EUNSUPPORTED;
        }
        if (sn->snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK ||
            n != dst_len) {
            *why = "snappy data does not decompress to the page size";
            return STRATA_ECORRUPT;
        }
        if (sn->snappy_uncompress((const char *)src, src_len, (char *)dst, &n) != SNAPPY_OK ||
            n != dst_len) {
            *why = "snappy data is corrupt";
            return STRATA_ECORRUPT;
        }
        return STRATA_OK;
    }
    case ST_PQ_GZIP:
        return gunzip(src, src_len, dst, dst_len, why);
    case ST_PQ_ZSTD: {
        size_t n = ZSTD_decompress(dst, dst_len, src, src_len);
        if (ZSTD_isError(n) || n != dst_len) {
            *why = "zstd data does not decompress to the page size";
            return STRATA_ECORRUPT;
        }
        return STRATA_OK;
    }
    default:
        *why = "codec not supported";
        return STRATA_EUNSUPPORTED;
    }
}

size_t st_pq_decompress_bound(st_pq_codec codec, const uint8_t *src, size_t src_len)
{
    switch (codec) {
    case ST_PQ_UNCOMPRESSED:
        return src_len;
    case ST_PQ_SNAPPY: {
        size_t n;
        const snappylib *sn = snappy();
        if (sn == NULL) return SIZE_MAX;
        return sn->snappy_uncompressed_length((const char *)src, src_len, &n) == SNAPPY_OK ? n : 0;
    }
    case ST_PQ_GZIP: /* deflate expands at most 1032:1 */
        return src_len > SIZE_MAX / 1032 - 1024 ? SIZE_MAX - 1 : src_len * 1032 + 1024;
    case ST_PQ_ZSTD: {
        unsigned long long n = ZSTD_getFrameContentSize(src, src_len);
        if (n == ZSTD_CONTENTSIZE_ERROR) return 0;
        if (n != ZSTD_CONTENTSIZE_UNKNOWN) return n < SIZE_MAX ? (size_t)n : SIZE_MAX - 1;
        /* a block of at most 128 KiB takes at least 4 bytes (an RLE block) */
        return src_len > SIZE_MAX / 32768 - 131072 ? SIZE_MAX - 1 : src_len * 32768 + 131072;
    }
    default:
        return SIZE_MAX;
    }
}

static int gzip(const uint8_t *src, size_t src_len, uint8_t **dst, size_t *dst_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (src_len > UINT_MAX / 2) return STRATA_ERANGE;
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return STRATA_ENOMEM;
    uLong bound = deflateBound(&z, (uLong)src_len);
    uint8_t *out = malloc(bound ? bound : 1);
    if (out == NULL) {
        deflateEnd(&z);
        return STRATA_ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)src_len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    *dst_len = bound - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(out);
        return STRATA_ENOMEM;
    }
    *dst = out;
    return STRATA_OK;
}

int st_pq_compress(st_pq_codec codec, int level, const uint8_t *src, size_t src_len, uint8_t **dst,
                   size_t *dst_len)
{
    uint8_t *out = NULL;
    size_t n = 0;
    switch (codec) {
    case ST_PQ_UNCOMPRESSED:
        out = malloc(src_len ? src_len : 1);
        if (out == NULL) return STRATA_ENOMEM;
        if (src_len) memcpy(out, src, src_len);
        n = src_len;
        break;
    case ST_PQ_SNAPPY: {
        const snappylib *sn = snappy();
        if (sn == NULL) return STRATA_EUNSUPPORTED;
        n = sn->snappy_max_compressed_length(src_len);
        out = malloc(n);
        if (out == NULL) return STRATA_ENOMEM;
        if (sn->snappy_compress((const char *)src, src_len, (char *)out, &n) != SNAPPY_OK) {
            free(out);
            return STRATA_ENOMEM;
        }
        break;
    }
    case ST_PQ_GZIP:
        return gzip(src, src_len, dst, dst_len);
    case ST_PQ_ZSTD:
        n = ZSTD_compressBound(src_len);
        out = malloc(n);
        if (out == NULL) return STRATA_ENOMEM;
        n = ZSTD_compress(out, n, src, src_len, level ? level : 3);
        if (ZSTD_isError(n)) {
            free(out);
            return STRATA_ENOMEM;
        }
        break;
    default:
        return STRATA_EUNSUPPORTED;
    }
    *dst = out;
    *dst_len = n;
    return STRATA_OK;
}

/* ---- RLE / bit-packed hybrid ----------------------------------------------------------------- */

/* N values of BITS bits each (at most 32), packed LSB first from P (NBYTES bytes), into OUT. */
static void unpack_bits(const uint8_t *p, uint64_t nbytes, int bits, uint32_t *out, uint64_t n)
{
    uint64_t mask = bits == 32 ? 0xFFFFFFFFull : (1ull << bits) - 1, bitpos = 0, k = 0;
    if (bits == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    /* whole 64-bit loads while 8 bytes remain from the value's first byte */
    for (; k < n && (bitpos >> 3) + 8 <= nbytes; k++, bitpos += (uint64_t)bits) {
        uint64_t w;
        memcpy(&w, p + (bitpos >> 3), 8);
        out[k] = (uint32_t)((w >> (bitpos & 7)) & mask);
    }
    for (; k < n; k++) { /* the tail, byte by byte */
        uint64_t v = 0;
        for (int b = 0; b < bits; b++, bitpos++)
            v |= (uint64_t)((p[bitpos >> 3] >> (bitpos & 7)) & 1) << b;
        out[k] = (uint32_t)v;
    }
}

int st_pq_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, int64_t count,
                     const char **why)
{
    const uint8_t *end = p + len;
    int64_t i = 0;
    size_t vbytes = ((size_t)bit_width + 7) / 8;
    if (bit_width < 0 || bit_width > 32) {
        *why = "bit width over 32";
        return STRATA_ECORRUPT;
    }
    while (i < count) {
        uint64_t h = 0;
        int shift = 0;
        for (;;) {
            if (p >= end || shift > 35) {
                *why = "RLE run header runs past the end";
                return STRATA_ECORRUPT;
            }
            uint8_t b = *p++;
            h |= (uint64_t)(b & 0x7F) << shift;
            shift += 7;
            if (!(b & 0x80)) break;
        }
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t groups = h >> 1;
            uint64_t nbytes = groups * (uint64_t)bit_width;
            if (groups == 0 || nbytes > (uint64_t)(end - p)) {
                /* the last group may be cut short by the end of the data: take what is there */
                if (groups == 0) {
                    *why = "empty bit-packed run";
                    return STRATA_ECORRUPT;
                }
                nbytes = (uint64_t)(end - p);
            }
            uint64_t nvals = bit_width ? nbytes * 8 / (uint64_t)bit_width : groups * 8;
            if (nvals > groups * 8) nvals = groups * 8;
            uint64_t take = nvals < (uint64_t)(count - i) ? nvals : (uint64_t)(count - i);
            unpack_bits(p, nbytes, bit_width, out + i, take);
            i += (int64_t)take;
            if (i < count && nvals < groups * 8) {
                *why = "bit-packed run runs past the end";
                return STRATA_ECORRUPT;
            }
            p += nbytes;
        } else { /* a run of one value */
            uint64_t run = h >> 1;
            if (vbytes > (size_t)(end - p)) {
                *why = "RLE run value runs past the end";
                return STRATA_ECORRUPT;
            }
            uint32_t v = 0;
            for (size_t b = 0; b < vbytes; b++) v |= (uint32_t)p[b] << (8 * b);
            p += vbytes;
            if (bit_width < 32 && (v >> bit_width) != 0) {
                *why = "RLE run value wider than its bit width";
                return STRATA_ECORRUPT;
            }
            if (run == 0) {
                *why = "empty RLE run";
                return STRATA_ECORRUPT;
            }
            for (uint64_t k = 0; k < run && i < count; k++) out[i++] = v;
        }
    }
    return STRATA_OK;
}

/* ---- DELTA_BINARY_PACKED (Encodings.md) ------------------------------------------------------ */

static int delta_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return STRATA_ECORRUPT;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return STRATA_OK;
        }
    }
    return STRATA_ECORRUPT;
}

/* Bits [J * BW, (J + 1) * BW) of Q, least significant first. */
static uint64_t unpack(const uint8_t *q, uint64_t j, int bw)
{
    uint64_t v = 0, bit = j * (uint64_t)bw;
    for (int b = 0; b < bw;) {
        int off = (int)(bit & 7), take = 8 - off < bw - b ? 8 - off : bw - b;
        v |= (uint64_t)((q[bit >> 3] >> off) & ((1u << take) - 1)) << b;
        b += take;
        bit += (uint64_t)take;
    }
    return v;
}

int st_pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, int64_t count, size_t *used,
                       const char **why)
{
    const uint8_t *start = p, *end = p + len;
    uint64_t block, mini, total, first;
    if (delta_varint(&p, end, &block) < 0 || delta_varint(&p, end, &mini) < 0 ||
        delta_varint(&p, end, &total) < 0 || delta_varint(&p, end, &first) < 0) {
        *why = "delta header runs past the end";
        return STRATA_ECORRUPT;
    }
    if (block == 0 || block % 128 != 0 || block > (1u << 24) || mini == 0 || block % mini != 0 ||
        (block / mini) % 32 != 0) {
        *why = "delta block sizes out of range";
        return STRATA_ECORRUPT;
    }
    if (total < (uint64_t)count) {
        *why = "delta values fewer than the page's";
        return STRATA_ECORRUPT;
    }
    uint64_t vpm = block / mini, prev = (first >> 1) ^ -(first & 1);
    int64_t i = 0;
    if (count > 0) out[i++] = (int64_t)prev;
    while (i < count) {
        uint64_t zmin;
        if (delta_varint(&p, end, &zmin) < 0 || mini > (uint64_t)(end - p)) {
            *why = "delta block header runs past the end";
            return STRATA_ECORRUPT;
        }
        uint64_t min_delta = (zmin >> 1) ^ -(zmin & 1);
        const uint8_t *widths = p;
        p += mini;
        for (uint64_t m = 0; m < mini && i < count; m++) {
            int bw = widths[m];
            if (bw > 64) {
                *why = "delta bit width over 64";
                return STRATA_ECORRUPT;
            }
            uint64_t nbytes = vpm * (uint64_t)bw / 8;
            uint64_t take = vpm < (uint64_t)(count - i) ? vpm : (uint64_t)(count - i);
            if ((take * (uint64_t)bw + 7) / 8 > (uint64_t)(end - p)) {
                *why = "delta miniblock runs past the end";
                return STRATA_ECORRUPT;
            }
            for (uint64_t j = 0; j < take; j++) {
                prev += min_delta + unpack(p, j, bw);
                out[i++] = (int64_t)prev;
            }
            p += nbytes < (uint64_t)(end - p) ? nbytes : (uint64_t)(end - p);
        }
    }
    *used = (size_t)(p - start);
    return STRATA_OK;
}
