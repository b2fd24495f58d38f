/*
 * bits.c -- validity bitmaps (bits.h).
 */
#include "util/bits.h"

#include <string.h>

uint64_t st_bits_nulls(const uint8_t *bits, uint64_t bit0, uint64_t n)
{
    if (bits == NULL || n == 0) return 0;
    uint64_t set = 0, i = bit0, end = bit0 + n;
    for (; i < end && (i & 7); i++) set += st_bit(bits, i);
    for (; i + 64 <= end; i += 64) {
        uint64_t w;
        memcpy(&w, bits + (i >> 3), 8);
        set += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < end; i++) set += st_bit(bits, i);
    return n - set;
}

void st_bits_copy(uint8_t *dst, uint64_t dbit0, const uint8_t *src, uint64_t sbit0, uint64_t n)
{
    if (src == NULL) {
        st_bits_fill(dst, dbit0, n, 1);
        return;
    }
    if (((dbit0 | sbit0) & 7) == 0 && src != NULL) {
        memcpy(dst + (dbit0 >> 3), src + (sbit0 >> 3), (size_t)(n >> 3));
        for (uint64_t i = n & ~(uint64_t)7; i < n; i++)
            st_bit_set(dst, dbit0 + i, st_bit(src, sbit0 + i));
        return;
    }
    for (uint64_t i = 0; i < n; i++) st_bit_set(dst, dbit0 + i, st_bit(src, sbit0 + i));
}

uint64_t st_bits_run(const uint8_t *bits, uint64_t i, uint64_t end)
{
    if (bits == NULL) return end;
    int on = st_bit(bits, i);
    uint8_t full = on ? 0xFF : 0x00;
    for (i++; i < end && (i & 7); i++)
        if (st_bit(bits, i) != on) return i;
    while (i + 8 <= end && bits[i >> 3] == full) i += 8;
    for (; i < end; i++)
        if (st_bit(bits, i) != on) return i;
    return end;
}

void st_bits_fill(uint8_t *bits, uint64_t bit0, uint64_t n, int on)
{
    uint64_t i = bit0, end = bit0 + n;
    for (; i < end && (i & 7); i++) st_bit_set(bits, i, on);
    if (end - i >= 8) {
        memset(bits + (i >> 3), on ? 0xFF : 0, (size_t)((end - i) >> 3));
        i += (end - i) & ~(uint64_t)7;
    }
    for (; i < end; i++) st_bit_set(bits, i, on);
}
