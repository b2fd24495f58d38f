/*
 * npy.c -- NPY header writer and a strict parser for the Python-literal dict numpy writes:
 *     {'descr': '<i8', 'fortran_order': False, 'shape': (100,), }
 */
#include "util/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dtype.h"
#include "util/fileio.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* The header of an array of NDIM dimensions SHAPE, padded to a multiple of ST_NPY_ALIGN and to
 * at least MIN_TOTAL bytes; OUT has room for ST_NPY_HEADER_ND_MAX bytes. */
static size_t npy_header_nd(char *out, const char *descr, int ndim, const uint64_t *shape,
                            int fortran, size_t min_total)
{
    char dict[ST_NPY_HEADER_ND_MAX];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (", descr,
                      fortran ? "True" : "False");
    for (int i = 0; i < ndim; i++)
        dl += snprintf(dict + dl, sizeof dict - (size_t)dl, "%llu%s", (unsigned long long)shape[i],
                       ndim == 1 || i + 1 < ndim ? ", " : "");
    if (ndim == 1) dl -= 1; /* "(100,)" */
    dl += snprintf(dict + dl, sizeof dict - (size_t)dl, "), }");
    size_t total = 10 + (size_t)dl + 1; /* preamble, dict, '\n' */
    total = (total + ST_NPY_ALIGN - 1) / ST_NPY_ALIGN * ST_NPY_ALIGN;
    if (total < min_total) total = min_total;
    size_t hlen = total - 10;
    memcpy(out, npy_magic, 6);
    out[6] = 1; /* version 1.0 */
    out[7] = 0;
    out[8] = (char)(hlen & 0xFF);
    out[9] = (char)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)dl);
    memset(out + 10 + dl, ' ', hlen - (size_t)dl - 1);
    out[total - 1] = '\n';
    return total;
}

size_t st_npy_header(char out[ST_NPY_HEADER_MAX], const char *descr, uint64_t n)
{
    return npy_header_nd(out, descr, 1, &n, 0, 0);
}

size_t st_npy_header_fixed(char out[ST_NPY_HEADER_MAX], const char *descr, uint64_t n)
{
    return npy_header_nd(out, descr, 1, &n, 0, ST_NPY_FIXED_HEADER);
}

size_t st_npy_header_nd(char out[ST_NPY_HEADER_ND_MAX], const char *descr, int ndim,
                        const uint64_t *shape, int fortran)
{
    return npy_header_nd(out, descr, ndim, shape, fortran, 0);
}

/* A cursor over the header dict. */
typedef struct {
    const char *s;
    size_t pos, len;
    st_err *err;
    const char *where;
    size_t base; /* file offset of s[0], for messages */
} cursor;

static int fail(cursor *c, const char *what)
{
    return st_error(c->err, STRATA_EINVAL, "'%s' is not a valid npy file: %s at byte %zu", c->where,
                    what, c->base + c->pos);
}

static void skip_ws(cursor *c)
{
    while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                               c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
}

static int expect(cursor *c, char ch)
{
    skip_ws(c);
    if (c->pos >= c->len || c->s[c->pos] != ch) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", ch);
        return fail(c, msg);
    }
    c->pos++;
    return STRATA_OK;
}

/* A quoted string (single or double quotes, no escapes) into OUT of CAP bytes. */
static int parse_string(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->pos >= c->len || (c->s[c->pos] != '\'' && c->s[c->pos] != '"'))
        return fail(c, "expected a quoted string");
    char q = c->s[c->pos++];
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] != q) {
        if (c->s[c->pos] == '\\') return fail(c, "escape sequences are not supported");
        c->pos++;
    }
    if (c->pos >= c->len) return fail(c, "unterminated string");
    size_t n = c->pos - start;
    c->pos++;
    if (n >= cap) return fail(c, "string too long");
    memcpy(out, c->s + start, n);
    out[n] = '\0';
    return STRATA_OK;
}

static int parse_bool(cursor *c, int *out)
{
    skip_ws(c);
    if (c->len - c->pos >= 4 && memcmp(c->s + c->pos, "True", 4) == 0) {
        c->pos += 4;
        *out = 1;
    } else if (c->len - c->pos >= 5 && memcmp(c->s + c->pos, "False", 5) == 0) {
        c->pos += 5;
        *out = 0;
    } else {
        return fail(c, "expected True or False");
    }
    return STRATA_OK;
}

static int parse_shape(cursor *c, st_npy_info *out)
{
    int rc = expect(c, '(');
    if (rc < 0) return rc;
    out->ndim = 0;
    out->count = 1;
    for (;;) {
        skip_ws(c);
        if (c->pos < c->len && c->s[c->pos] == ')') {
            c->pos++;
            return STRATA_OK;
        }
        if (c->pos >= c->len || c->s[c->pos] < '0' || c->s[c->pos] > '9')
            return fail(c, "expected a dimension");
        uint64_t v = 0;
        while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
            unsigned d = (unsigned)(c->s[c->pos++] - '0');
            if (v > (UINT64_MAX - d) / 10) return fail(c, "dimension too large");
            v = v * 10 + d;
        }
        /* numpy may write "3L" in files from Python 2 */
        if (c->pos < c->len && c->s[c->pos] == 'L') c->pos++;
        if (out->ndim == ST_NPY_MAX_DIMS) return fail(c, "too many dimensions");
        out->shape[out->ndim++] = v;
        if (v != 0 && out->count > UINT64_MAX / v) return fail(c, "shape too large");
        out->count *= v;
        skip_ws(c);
        if (c->pos < c->len && c->s[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->s[c->pos] == ')') continue;
        return fail(c, "expected ',' or ')'");
    }
}

/* Whether DESCR is a little-endian datetime64 ("<M8[us]"); *NS receives ns per unit. */
static int ts_unit(const char *descr, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ns", 1},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"s", 1000000000LL},
                 {"m", 60000000000LL},
                 {"h", 3600000000000LL},
                 {"D", 86400000000000LL}};
    if ((descr[0] != '<' && descr[0] != '=') || strncmp(descr + 1, "M8[", 3) != 0) return 0;
    size_t n = strlen(descr + 4);
    if (n < 2 || descr[4 + n - 1] != ']') return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].unit) == n - 1 && strncmp(descr + 4, units[i].unit, n - 1) == 0) {
            *ns = units[i].ns;
            return 1;
        }
    return 0;
}

/* Convert the M->info.count datetime64 values at M->data from M->info.ts_unit to ns, into an
 * allocation that replaces the mapping. */
static int ts_to_ns(st_err *err, const char *path, st_npy_map *m)
{
    uint64_t n = m->info.count;
    int64_t unit = m->info.ts_unit, *out = malloc(n > 0 ? n * 8 : 1);
    if (out == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory converting '%s' to ns", path);
    for (uint64_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, m->data + i * 8, 8);
        if (v == INT64_MIN) { /* NaT */
            out[i] = v;
        } else if (__builtin_mul_overflow(v, unit, &out[i]) || out[i] == INT64_MIN) {
            free(out);
            return st_error(err, STRATA_ERANGE,
                            "'%s': value %llu (%lld in %s) is out of range for ts (int64 ns: "
                            "years 1677 to 2262)",
                            path, (unsigned long long)i, (long long)v, m->info.descr);
        }
    }
    if (m->heap)
        free(m->map);
    else
        st_unmap_file(m->map, m->len);
    m->map = out;
    m->len = n * 8;
    m->heap = 1;
    m->data = (const char *)out;
    m->info.ts_unit = 1;
    return STRATA_OK;
}

/* Whether DESCR is a fixed-width string ("<U12": UTF-32, "|S12": bytes): its kind and width. */
static int str_descr(const char *descr, char *kind, uint64_t *width)
{
    if ((descr[0] != '<' && descr[0] != '|' && descr[0] != '=') ||
        (descr[1] != 'U' && descr[1] != 'S') || descr[2] < '1' || descr[2] > '9')
        return 0;
    char *end;
    unsigned long long w = strtoull(descr + 2, &end, 10);
    if (*end != '\0' || w > (1u << 24)) return 0;
    *kind = descr[1];
    *width = w;
    return 1;
}

enum { NPY_FORTRAN_OK = 1, NPY_STR_OK = 2 }; /* what npy_parse() accepts beyond the default */

static int npy_parse(st_err *err, const void *buf, size_t len, const char *where, int flags,
                     st_npy_info *out)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, npy_magic, 6) != 0)
        return st_error(err, STRATA_EINVAL, "'%s' is not an npy file (no \\x93NUMPY magic)", where);
    unsigned major = b[6];
    size_t hlen, pre;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return st_error(err, STRATA_EINVAL, "'%s': truncated npy header", where);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        pre = 12;
    } else {
        return st_error(err, STRATA_EUNSUPPORTED, "'%s': npy format version %u is not supported",
                        where, major);
    }
    if (hlen > len - pre)
        return st_error(err, STRATA_EINVAL,
                        "'%s' is not a valid npy file: header of %zu bytes but the file has %zu",
                        where, hlen, len);
    cursor c = {(const char *)b + pre, 0, hlen, err, where, pre};
    int have_descr = 0, have_fortran = 0, have_shape = 0, rc;
    if ((rc = expect(&c, '{')) < 0) return rc;
    for (;;) {
        skip_ws(&c);
        if (c.pos < c.len && c.s[c.pos] == '}') {
            c.pos++;
            break;
        }
        char key[32];
        if ((rc = parse_string(&c, key, sizeof key)) < 0) return rc;
        if ((rc = expect(&c, ':')) < 0) return rc;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if ((rc = parse_string(&c, out->descr, sizeof out->descr)) < 0) return rc;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if ((rc = parse_bool(&c, &out->fortran_order)) < 0) return rc;
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if ((rc = parse_shape(&c, out)) < 0) return rc;
            have_shape = 1;
        } else {
            return fail(&c, "unexpected or repeated key");
        }
        skip_ws(&c);
        if (c.pos < c.len && c.s[c.pos] == ',') {
            c.pos++;
            continue;
        }
        if (c.pos < c.len && c.s[c.pos] == '}') continue;
        return fail(&c, "expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape)
        return st_error(err, STRATA_EINVAL,
                        "'%s' is not a valid npy file: header lacks descr, fortran_order or shape",
                        where);
    /* Byte order does not matter for one-byte types, whatever character names it. */
    char norm[sizeof out->descr];
    memcpy(norm, out->descr, sizeof norm);
    if (strlen(norm) == 3 && norm[2] == '1') norm[0] = '|';
    if (norm[0] == '>')
        return st_error(err, STRATA_EUNSUPPORTED,
                        "'%s' holds big-endian data (%s); convert it with "
                        "numpy.astype('<%s') first",
                        where, out->descr, out->descr + 1);
    out->ts_unit = 1;
    if (ts_unit(norm, &out->ts_unit))
        out->dtype = STRATA_TS;
    else if ((flags & NPY_STR_OK) && str_descr(out->descr, &out->str_kind, &out->str_width))
        out->dtype = STRATA_STR;
    else if (st_dtype_from_descr(norm, &out->dtype) < 0)
        return st_error(err, STRATA_ETYPE,
                        "'%s' has npy dtype '%s', which strata does not store (use one of "
                        "i1 i2 i4 i8 u1 u2 u4 u8 f4 f8 b1 M8)",
                        where, out->descr);
    if (out->fortran_order && out->ndim > 1 && !(flags & NPY_FORTRAN_OK))
        return st_error(err, STRATA_EUNSUPPORTED,
                        "'%s' is in Fortran order; save it with numpy.ascontiguousarray first",
                        where);
    out->data_offset = pre + hlen;
    return STRATA_OK;
}

int st_npy_parse(st_err *err, const void *buf, size_t len, const char *where, st_npy_info *out)
{
    return npy_parse(err, buf, len, where, 0, out);
}

int st_npy_parse_nd(st_err *err, const void *buf, size_t len, const char *where, st_npy_info *out)
{
    int rc = npy_parse(err, buf, len, where, NPY_FORTRAN_OK, out);
    if (rc == STRATA_OK && out->ts_unit != 1) /* only st_npy_map_file() converts units */
        return st_error(err, STRATA_EUNSUPPORTED,
                        "'%s' holds %s; N-d arrays read datetime64[ns] only (numpy: "
                        "a.astype('M8[ns]'))",
                        where, out->descr);
    return rc;
}

static int map_file(st_err *err, const char *path, int strings, int load, st_npy_map *m);

int st_npy_map_file(st_err *err, const char *path, st_npy_map *m)
{
    return map_file(err, path, 0, 0, m);
}

int st_npy_load_file(st_err *err, const char *path, st_npy_map *m)
{
    return map_file(err, path, 0, 1, m);
}

int st_npy_map_file_str(st_err *err, const char *path, st_npy_map *m)
{
    return map_file(err, path, 1, 0, m);
}

static int map_file(st_err *err, const char *path, int strings, int load, st_npy_map *m)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return st_error(err, STRATA_ENOTFOUND, "file '%s' not found", path);
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = st_error_errno(err, errno, "cannot examine '%s'", path);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return st_error(err, STRATA_EINVAL, "'%s' is not a regular file", path);
    }
    if (st.st_size < 10) {
        close(fd);
        return st_error(err, STRATA_EINVAL, "'%s' is not an npy file (%lld bytes)", path,
                        (long long)st.st_size);
    }
    m->len = (size_t)st.st_size;
    if (load && m->len <= ST_NPY_READ_MAX) {
        /* a small file is read: mapping it, faulting its pages in and unmapping it (a TLB
         * shootdown of every CPU running one of our threads) cost more than the copy */
        m->map = malloc(m->len);
        m->heap = 1;
        int rc = m->map != NULL ? st_pread_full(err, fd, m->map, m->len, 0, path)
                                : st_error(err, STRATA_ENOMEM, "out of memory reading '%s'", path);
        close(fd);
        if (rc < 0) return rc;
    } else {
        m->map = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m->map == MAP_FAILED) {
            m->map = NULL;
            return st_error_errno(err, errno, "cannot map '%s'", path);
        }
    }
    int rc = npy_parse(err, m->map, m->len, path, strings ? NPY_STR_OK : 0, &m->info);
    if (rc < 0) return rc;
    size_t esz = m->info.dtype != STRATA_STR ? strata_dtype_size(m->info.dtype)
                 : m->info.str_kind == 'U'   ? (size_t)m->info.str_width * 4
                                             : (size_t)m->info.str_width;
    if (m->info.count > (m->len - m->info.data_offset) / esz)
        return st_error(err, STRATA_EINVAL,
                        "'%s' is truncated: its header announces %llu elements but it holds %zu "
                        "bytes of data",
                        path, (unsigned long long)m->info.count, m->len - m->info.data_offset);
    m->data = (const char *)m->map + m->info.data_offset;
    if (m->info.dtype != STRATA_STR && !st_npy_aligned(m->data, m->info.dtype)) {
        /* typed loads from m->data must be aligned: copy the elements (malloc aligns for any
         * type) and drop the mapping */
        size_t bytes = (size_t)m->info.count * esz;
        void *copy = malloc(bytes > 0 ? bytes : 1);
        if (copy == NULL)
            return st_error(err, STRATA_ENOMEM,
                            "out of memory copying the %zu bytes of '%s' (its data starts at "
                            "byte %zu, not aligned for %s); save it again with numpy.save",
                            bytes, path, m->info.data_offset, strata_dtype_name(m->info.dtype));
        memcpy(copy, m->data, bytes);
        st_npy_unmap(m);
        m->map = copy;
        m->len = bytes;
        m->heap = 1;
        m->data = copy;
    }
    if (m->info.ts_unit != 1) return ts_to_ns(err, path, m);
    return STRATA_OK;
}

int st_npy_aligned(const void *data, strata_dtype dtype)
{
    return (uintptr_t)data % strata_dtype_size(dtype) == 0;
}

void st_npy_unmap(st_npy_map *m)
{
    if (m->map != NULL && m->heap)
        free(m->map);
    else if (m->map != NULL)
        st_unmap_file(m->map, m->len);
    m->map = NULL;
    m->heap = 0;
}
