/*
 * dtype.c -- the table of element types.
 */
#include "util/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    const char *descr; /* NPY descr, little-endian */
    size_t size;
} dtypes[] = {
    [STRATA_I8] = {"i8", "|i1", 1},     [STRATA_I16] = {"i16", "<i2", 2},
    [STRATA_I32] = {"i32", "<i4", 4},   [STRATA_I64] = {"i64", "<i8", 8},
    [STRATA_U8] = {"u8", "|u1", 1},     [STRATA_U16] = {"u16", "<u2", 2},
    [STRATA_U32] = {"u32", "<u4", 4},   [STRATA_U64] = {"u64", "<u8", 8},
    [STRATA_F32] = {"f32", "<f4", 4},   [STRATA_F64] = {"f64", "<f8", 8},
    [STRATA_BOOL] = {"bool", "|b1", 1}, [STRATA_STR] = {"str", "<i8", 8},
    [STRATA_TS] = {"ts", "<M8[ns]", 8},
};

bool st_dtype_valid(int dtype)
{
    return dtype >= STRATA_I8 && dtype <= STRATA_TS;
}

size_t strata_dtype_size(strata_dtype dtype)
{
    return st_dtype_valid((int)dtype) ? dtypes[dtype].size : 0;
}

const char *strata_dtype_name(strata_dtype dtype)
{
    return st_dtype_valid((int)dtype) ? dtypes[dtype].name : NULL;
}

int strata_dtype_parse(const char *name, strata_dtype *out)
{
    if (name == NULL) return STRATA_EINVAL;
    for (int t = STRATA_I8; t <= STRATA_TS; t++) {
        if (strcmp(name, dtypes[t].name) == 0) {
            *out = (strata_dtype)t;
            return STRATA_OK;
        }
    }
    /* Accept the common long spellings too. */
    static const struct {
        const char *alias;
        strata_dtype t;
    } aliases[] = {{"int8", STRATA_I8},      {"int16", STRATA_I16},        {"int32", STRATA_I32},
                   {"int64", STRATA_I64},    {"uint8", STRATA_U8},         {"uint16", STRATA_U16},
                   {"uint32", STRATA_U32},   {"uint64", STRATA_U64},       {"float32", STRATA_F32},
                   {"float64", STRATA_F64},  {"double", STRATA_F64},       {"string", STRATA_STR},
                   {"timestamp", STRATA_TS}, {"datetime64[ns]", STRATA_TS}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].t;
            return STRATA_OK;
        }
    }
    return STRATA_EINVAL;
}

const char *st_dtype_descr(strata_dtype dtype)
{
    return st_dtype_valid((int)dtype) ? dtypes[dtype].descr : NULL;
}

int st_dtype_from_descr(const char *descr, strata_dtype *out)
{
    /* numpy writes '<' for little-endian multi-byte types and '|' for one-byte types; '=' and a
     * one-byte '<' also occur in files written by other tools. */
    if (descr == NULL) return STRATA_EINVAL;
    if ((descr[0] == '<' || descr[0] == '=') && strcmp(descr + 1, "M8[ns]") == 0) {
        *out = STRATA_TS;
        return STRATA_OK;
    }
    if (strlen(descr) != 3) return STRATA_EINVAL;
    char order = descr[0];
    for (int t = STRATA_I8; t < STRATA_STR; t++) {
        const char *d = dtypes[t].descr;
        if (strcmp(descr + 1, d + 1) != 0) continue;
        if (order == d[0] || order == '=' ||
            (dtypes[t].size == 1 && (order == '<' || order == '|'))) {
            *out = (strata_dtype)t;
            return STRATA_OK;
        }
    }
    return STRATA_EINVAL;
}

#define ST_CONVERT(T)                                                                              \
    do {                                                                                           \
        const T *in = src;                                                                         \
        if (dst_t == STRATA_F64)                                                                   \
            for (uint64_t i = 0; i < n; i++) ((double *)dst)[i] = (double)in[i];                   \
        else                                                                                       \
            for (uint64_t i = 0; i < n; i++) ((int64_t *)dst)[i] = (int64_t)in[i];                 \
    } while (0)

void st_convert(void *dst, strata_dtype dst_t, const void *src, strata_dtype src_t, uint64_t n)
{
    switch (src_t) {
    case STRATA_I8:
        ST_CONVERT(int8_t);
        break;
    case STRATA_I16:
        ST_CONVERT(int16_t);
        break;
    case STRATA_I32:
        ST_CONVERT(int32_t);
        break;
    case STRATA_I64:
    case STRATA_TS:
        ST_CONVERT(int64_t);
        break;
    case STRATA_U8:
    case STRATA_BOOL:
        ST_CONVERT(uint8_t);
        break;
    case STRATA_U16:
        ST_CONVERT(uint16_t);
        break;
    case STRATA_U32:
        ST_CONVERT(uint32_t);
        break;
    case STRATA_U64:
        ST_CONVERT(uint64_t);
        break;
    case STRATA_F32:
        ST_CONVERT(float);
        break;
    case STRATA_F64:
        ST_CONVERT(double);
        break;
    default:
        break;
    }
}
