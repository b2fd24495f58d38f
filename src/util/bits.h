/*
 * bits.h -- validity bitmaps in Arrow's layout: bit i is bit (i % 8) of byte i / 8, set when row
 * i has a value, clear when it is null. A NULL bitmap means every row is valid. Also the loads
 * of 8 bytes as a word, first byte lowest (the byte-parallel (SWAR) parsers) or highest (keys
 * compared a word at a time).
 */
#ifndef STRATA_UTIL_BITS_H
#define STRATA_UTIL_BITS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The 8 bytes at P as a word whose lowest byte is P[0], on any byte order: what the SWAR scans
 * and digit parses (CSV, decimals) take, eight bytes at a time. */
static inline uint64_t st_load_le64(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* The 8 bytes at P as a word that orders as they do bytewise (P[0] highest), on any byte order:
 * string keys compared a word at a time. */
static inline uint64_t st_load_be64(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline int st_bit(const uint8_t *bits, uint64_t i)
{
    return bits == NULL || (bits[i >> 3] >> (i & 7) & 1);
}

static inline void st_bit_set(uint8_t *bits, uint64_t i, int on)
{
    if (on)
        bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        bits[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

/* Bytes of a bitmap of N bits. */
static inline size_t st_bits_bytes(uint64_t n)
{
    return (size_t)((n + 7) >> 3);
}

/* Clear bits in [BIT0, BIT0 + N) of BITS (NULL: none). */
uint64_t st_bits_nulls(const uint8_t *bits, uint64_t bit0, uint64_t n);

/* Copy bits [SBIT0, SBIT0 + N) of SRC (NULL: all set) to [DBIT0, DBIT0 + N) of DST. */
void st_bits_copy(uint8_t *dst, uint64_t dbit0, const uint8_t *src, uint64_t sbit0, uint64_t n);

/* Set (ON) or clear bits [BIT0, BIT0 + N) of BITS. */
void st_bits_fill(uint8_t *bits, uint64_t bit0, uint64_t n, int on);

/* The end of the run of rows of equal validity that starts at row I (< END) of BITS. */
uint64_t st_bits_run(const uint8_t *bits, uint64_t i, uint64_t end);

#endif /* STRATA_UTIL_BITS_H */
