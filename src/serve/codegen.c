/*
 * codegen.c -- the code snippets of `strata serve` (GET /api/codegen/REGION/NAME?lang=...): a C
 * program, a shell snippet or a Python script (the strata package) that reads a dataset or one of
 * its columns (column=), a 1-D array, an N-d array or a region of it (start=, count=), or -- in
 * Python -- loads an iteration saved through the MDMS (an N-d array DATASET.rRUN.iITERATION of an
 * application) with pool.mdms().open().load().
 *
 * Names may hold almost any character (quotes, ';', '$', '*' '/', non-ASCII; see strata.h), and
 * the pool's path any byte but NUL, so no value is ever pasted into a snippet as it is: each
 * goes through the quoting helper of the language it lands in (srv_quote_c, srv_quote_sh,
 * srv_quote_py), and C format strings never contain one.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* ---- a growing text buffer ------------------------------------------------------------------ */

void srv_buf_put(srv_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void srv_buf_printf(srv_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        srv_buf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    srv_buf_put(b, big, (size_t)n);
    free(big);
}

static void put_str(srv_buf *b, const char *s)
{
    srv_buf_put(b, s, strlen(s));
}

/* ---- quoting, one helper per language ------------------------------------------------------- */

/* The code point of the UTF-8 sequence at S, and its length in *LEN; 0 in *LEN when S does not
 * start a valid sequence. */
static unsigned utf8_decode(const unsigned char *s, size_t *len)
{
    unsigned c = s[0], cp;
    size_t n;
    if ((c & 0xE0) == 0xC0)
        n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, cp = c & 0x07;
    else
        n = 0, cp = 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 0;
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) n = 0;
    *len = n;
    return cp;
}

void srv_quote_c(srv_buf *b, const char *s)
{
    put_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\':
            put_str(b, "\\\\");
            break;
        case '"':
            put_str(b, "\\\"");
            break;
        case '?': /* "??/" would be a trigraph for '\' under -std=c11 */
            put_str(b, "\\?");
            break;
        case '\n':
            put_str(b, "\\n");
            break;
        case '\t':
            put_str(b, "\\t");
            break;
        default:
            /* three octal digits always, so that a following digit is never taken in */
            if (*p < 0x20 || *p >= 0x7F)
                srv_buf_printf(b, "\\%03o", *p);
            else
                srv_buf_put(b, (const char *)p, 1);
        }
    }
    put_str(b, "\"");
}

void srv_quote_sh(srv_buf *b, const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "_./:=@%+,-";
    if (*s && strspn(s, safe) == strlen(s)) {
        put_str(b, s);
        return;
    }
    /* control characters or bytes that are not UTF-8: $'...' with \xNN escapes (bash, ksh, zsh,
     * POSIX.1-2024), so that the snippet stays printable text */
    int plain = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p && plain;) {
        size_t n = 1;
        if (*p < 0x20 || *p == 0x7F || (*p >= 0x80 && (utf8_decode(p, &n), n == 0))) plain = 0;
        p += n ? n : 1;
    }
    put_str(b, plain ? "'" : "$'");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = 1;
        if (*p >= 0x80) utf8_decode(p, &n);
        if (plain && *p == '\'')
            put_str(b, "'\\''");
        else if (!plain && (*p == '\'' || *p == '\\'))
            srv_buf_printf(b, "\\%c", *p);
        else if (!plain && (*p < 0x20 || *p == 0x7F || n == 0))
            srv_buf_printf(b, "\\x%02x", *p), n = 1;
        else
            srv_buf_put(b, (const char *)p, n);
        p += n;
    }
    put_str(b, "'");
}

void srv_quote_py(srv_buf *b, const char *s)
{
    put_str(b, "'");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = 1;
        if (*p == '\\')
            put_str(b, "\\\\");
        else if (*p == '\'')
            put_str(b, "\\'");
        else if (*p == '\n')
            put_str(b, "\\n");
        else if (*p == '\t')
            put_str(b, "\\t");
        else if (*p < 0x20 || *p == 0x7F)
            srv_buf_printf(b, "\\x%02x", *p);
        else if (*p < 0x80)
            srv_buf_put(b, (const char *)p, 1);
        else {
            unsigned cp = utf8_decode(p, &n);
            if (n == 0) /* a byte that is not UTF-8: as os.fsdecode() has it (surrogateescape) */
                srv_buf_printf(b, "\\udc%02x", *p), n = 1;
            else if (cp <= 0xFFFF)
                srv_buf_printf(b, "\\u%04x", cp);
            else
                srv_buf_printf(b, "\\U%08x", cp);
        }
        p += n;
    }
    put_str(b, "'");
}

/* S for a comment line of C (IN_C: any comment end broken), shell or Python: as a C literal,
 * which has no newline and no "??". */
static void put_comment(srv_buf *b, const char *s, int in_c)
{
    srv_buf q = {0};
    srv_quote_c(&q, s);
    for (size_t i = 0; !q.oom && i < q.len; i++) {
        srv_buf_put(b, q.p + i, 1);
        if (in_c && q.p[i] == '*' && q.p[i + 1] == '/') put_str(b, "\\");
    }
    if (q.oom) b->oom = 1;
    free(q.p);
}

/* A file name stem for NAME: itself when it is plain, else "snippet". */
static const char *stem(const char *name)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    return strspn(name, plain) == strlen(name) ? name : "snippet";
}

/* ---- the snippets --------------------------------------------------------------------------- */

static const char *c_type(strata_dtype t)
{
    static const char *const n[] = {"int8_t",  "int16_t",  "int32_t",  "int64_t",
                                    "uint8_t", "uint16_t", "uint32_t", "uint64_t",
                                    "float",   "double",   "uint8_t",  "char"};
    return (unsigned)t < 12 ? n[t] : "char";
}

/* The first lines of a C program: the comment, the includes and the names as constants. */
static void c_head(srv_buf *b, const char *what, const char *object, const char *file,
                   const char *pool, const char *region, const char *name)
{
    srv_buf_printf(b, "/* %s ", what);
    put_comment(b, object, 1);
    srv_buf_printf(b,
                   ".\n * cc %s.c $(pkg-config --cflags --libs strata) -o %s */\n"
                   "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
                   "#include <strata.h>\n\n"
                   "static const char pool_path[] = ",
                   file, file);
    srv_quote_c(b, pool);
    put_str(b, ";\nstatic const char region[] = ");
    srv_quote_c(b, region);
    put_str(b, ", name[] = ");
    srv_quote_c(b, name);
    put_str(b, ";\n");
}

static const char c_open_pool[] = "\nint main(void)\n{\n"
                                  "    strata_pool *pool;\n"
                                  "    int rc = strata_pool_open(pool_path, &pool);\n"
                                  "    if (rc != STRATA_OK) {\n"
                                  "        fprintf(stderr, \"%s: %s\\n\", pool_path, "
                                  "strata_strerror(rc));\n"
                                  "        return 1;\n    }\n";

/* Which part of an N-d array or 1-D array a snippet reads: START + COUNT per dimension, or all
 * of it (WHOLE: every dimension from 0, ":" in Python, so that an unlimited one reads its current
 * length). */
typedef struct cg_region {
    int whole;
    uint64_t start[STRATA_ND_MAXDIMS], count[STRATA_ND_MAXDIMS];
} cg_region;

static void dataset_c(srv_buf *b, const char *pool, const char *region, const char *name,
                      const strata_dataset_desc *d, int num)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    if (num < 0 || d->columns[num].dtype == STRATA_STR) {
        put_str(b, "/* ");
        put_comment(b, object, 1);
        if (num < 0) {
            put_str(b, " has no numeric column to read */\n");
        } else {
            put_str(b, ": column ");
            put_comment(b, d->columns[num].name, 1);
            put_str(b, " holds strings; strata_snapshot_read_str() reads them */\n");
        }
        return;
    }
    const char *cn = d->columns[num].name;
    char what[64];
    snprintf(what, sizeof what, "Read a column (%s) of dataset",
             strata_dtype_name(d->columns[num].dtype));
    c_head(b, what, object, stem(name), pool, region, name);
    put_str(b, "static const char column[] = ");
    srv_quote_c(b, cn);
    put_str(b, ";\n");
    put_str(b, c_open_pool);
    srv_buf_printf(
        b,
        "    strata_snapshot *s = NULL;\n"
        "    rc = strata_snapshot_open(pool, region, name, 0, &s);\n"
        "    strata_dataset_desc d;\n"
        "    int col = -1;\n"
        "    if (rc == STRATA_OK) rc = strata_snapshot_info(s, &d);\n"
        "    if (rc == STRATA_OK) rc = strata_snapshot_column(s, column, &col);\n"
        "    %s *v = NULL;\n"
        "    if (rc == STRATA_OK) {\n"
        "        v = malloc((d.nrows + 1) * sizeof *v);\n"
        "        rc = v ? strata_snapshot_read(s, col, 0, d.nrows, v) : STRATA_ENOMEM;\n"
        "    }\n"
        "    if (rc != STRATA_OK) {\n"
        "        fprintf(stderr, \"%%s/%%s: %%s\\n\", region, name, strata_errmsg(pool));\n"
        "    } else {\n"
        "        double sum = 0;\n"
        "        for (uint64_t i = 0; i < d.nrows; i++) sum += (double)v[i];\n"
        "        printf(\"%%llu rows, sum of %%s %%g\\n\", (unsigned long long)d.nrows, column, "
        "sum);\n"
        "    }\n"
        "    free(v);\n"
        "    strata_snapshot_close(s);\n"
        "    strata_pool_close(pool);\n"
        "    return rc == STRATA_OK ? 0 : 1;\n}\n",
        c_type(d->columns[num].dtype));
}

static void ndarray_c(srv_buf *b, const char *pool, const char *region, const char *name,
                      const strata_ndarray_desc *d, const cg_region *g)
{
    char object[2 * STRATA_NAME_MAX + 2], what[64];
    snprintf(object, sizeof object, "%s/%s", region, name);
    snprintf(what, sizeof what, "Read %s of the N-d array (%s)", g->whole ? "all" : "a region",
             strata_dtype_name(d->dtype));
    c_head(b, what, object, stem(name), pool, region, name);
    put_str(b, c_open_pool);
    put_str(b, "    strata_ndarray *a = NULL;\n"
               "    rc = strata_ndarray_open(pool, region, name, NULL, &a);\n"
               "    uint64_t start[] = {");
    for (int k = 0; k < d->ndims; k++)
        srv_buf_printf(b, "%s%" PRIu64, k ? ", " : "", g->whole ? 0 : g->start[k]);
    put_str(b, "}, count[] = {");
    for (int k = 0; k < d->ndims; k++)
        srv_buf_printf(b, "%s%" PRIu64, k ? ", " : "", g->whole ? d->dims[k] : g->count[k]);
    srv_buf_printf(
        b,
        "}, n = 1;\n"
        "    for (int k = 0; k < %d; k++) n *= count[k];\n"
        "    %s *v = malloc((n + 1) * sizeof *v);\n"
        "    if (rc == STRATA_OK) rc = v ? strata_ndarray_read(a, start, count, v) : "
        "STRATA_ENOMEM;\n"
        "    if (rc != STRATA_OK)\n"
        "        fprintf(stderr, \"%%s/%%s: %%s\\n\", region, name, strata_errmsg(pool));\n"
        "    else\n"
        "        printf(\"%%llu elements, first %%g\\n\", (unsigned long long)n, (double)v[0]);\n"
        "    free(v);\n"
        "    strata_ndarray_close(a);\n"
        "    strata_pool_close(pool);\n"
        "    return rc == STRATA_OK ? 0 : 1;\n}\n",
        d->ndims, c_type(d->dtype));
}

static void array_c(srv_buf *b, const char *pool, const char *region, const char *name,
                    strata_dtype dt, uint64_t first, uint64_t count)
{
    char object[2 * STRATA_NAME_MAX + 2], what[64];
    snprintf(object, sizeof object, "%s/%s", region, name);
    snprintf(what, sizeof what, "Read elements of the array (%s)", strata_dtype_name(dt));
    c_head(b, what, object, stem(name), pool, region, name);
    put_str(b, c_open_pool);
    srv_buf_printf(b,
                   "    strata_array *a = NULL;\n"
                   "    rc = strata_array_open(pool, region, name, &a);\n"
                   "    uint64_t first = %" PRIu64 ", count = %" PRIu64 ";\n",
                   first, count);
    if (dt == STRATA_STR)
        put_str(b,
                "    for (uint64_t i = first; rc == STRATA_OK && i < first + count; i++) {\n"
                "        const char *s;\n"
                "        size_t len;\n"
                "        rc = strata_array_get_str(a, i, &s, &len);\n"
                "        if (rc == STRATA_OK) printf(\"%.*s\\n\", (int)len, s);\n"
                "    }\n"
                "    if (rc != STRATA_OK)\n"
                "        fprintf(stderr, \"%s/%s: %s\\n\", region, name, strata_errmsg(pool));\n");
    else
        srv_buf_printf(b,
                       "    %s *v = malloc((count + 1) * sizeof *v);\n"
                       "    if (rc == STRATA_OK) rc = v ? strata_array_get(a, first, count, v) : "
                       "STRATA_ENOMEM;\n"
                       "    if (rc != STRATA_OK) {\n"
                       "        fprintf(stderr, \"%%s/%%s: %%s\\n\", region, name, "
                       "strata_errmsg(pool));\n"
                       "    } else {\n"
                       "        double sum = 0;\n"
                       "        for (uint64_t i = 0; i < count; i++) sum += (double)v[i];\n"
                       "        printf(\"%%llu elements, sum %%g\\n\", (unsigned long long)count, "
                       "sum);\n"
                       "    }\n"
                       "    free(v);\n",
                       c_type(dt));
    put_str(b, "    strata_array_close(a);\n"
               "    strata_pool_close(pool);\n"
               "    return rc == STRATA_OK ? 0 : 1;\n}\n");
}

static void dataset_sh(srv_buf *b, const char *pool, const char *region, const char *name,
                       const char *column)
{
    char object[2 * STRATA_NAME_MAX + 2], out[STRATA_NAME_MAX + 8];
    snprintf(object, sizeof object, "%s/%s", region, name);
    snprintf(out, sizeof out, "%s.json", name);
    put_str(b, "# the first rows of ");
    put_comment(b, object, 0);
    put_str(b, " (CSV), then all of it as JSON\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " cat ");
    srv_quote_sh(b, object);
    if (column != NULL) {
        put_str(b, " --columns ");
        srv_quote_sh(b, column);
    }
    put_str(b, " --head 10\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " cat ");
    srv_quote_sh(b, object);
    if (column != NULL) {
        put_str(b, " --columns ");
        srv_quote_sh(b, column);
    }
    put_str(b, " --format json > ");
    srv_quote_sh(b, out);
    put_str(b, "\n");
}

static void ndarray_sh(srv_buf *b, const char *pool, const char *region, const char *name,
                       const strata_ndarray_desc *d, const cg_region *g)
{
    char object[2 * STRATA_NAME_MAX + 2], out[STRATA_NAME_MAX + 8];
    snprintf(object, sizeof object, "%s/%s", region, name);
    snprintf(out, sizeof out, "%s.npy", name);
    put_str(b, "# N-d array ");
    put_comment(b, object, 0);
    srv_buf_printf(b, " (%s, ", strata_dtype_name(d->dtype));
    for (int k = 0; k < d->ndims; k++) srv_buf_printf(b, "%s%" PRIu64, k ? " x " : "", d->dims[k]);
    put_str(b, ")\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " nd info ");
    srv_quote_sh(b, object);
    put_str(b, "\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " nd read ");
    srv_quote_sh(b, object);
    if (!g->whole) {
        put_str(b, " --start ");
        for (int k = 0; k < d->ndims; k++)
            srv_buf_printf(b, "%s%" PRIu64, k ? "," : "", g->start[k]);
        put_str(b, " --count ");
        for (int k = 0; k < d->ndims; k++)
            srv_buf_printf(b, "%s%" PRIu64, k ? "," : "", g->count[k]);
    }
    put_str(b, " --out ");
    srv_quote_sh(b, out);
    put_str(b, "\n");
}

static void array_sh(srv_buf *b, const char *pool, const char *region, const char *name,
                     uint64_t first, uint64_t count)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    put_str(b, "# array ");
    put_comment(b, object, 0);
    put_str(b, ": its description, then its elements, one per line\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " array info ");
    srv_quote_sh(b, object);
    put_str(b, " --no-checksum\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " array get ");
    srv_quote_sh(b, object);
    srv_buf_printf(b, " %" PRIu64 " %" PRIu64 "\n", first, count);
}

/* ---- Python: the strata package ------------------------------------------------------------ */

/* The first lines of a Python script: what it does, how to run it, the import and the pool. */
static void py_head(srv_buf *b, const char *what, const char *object, const char *pool)
{
    srv_buf_printf(b, "# %s ", what);
    put_comment(b, object, 0);
    put_str(b, " with the strata Python package.\n"
               "#   python3 read.py   (strata installed, or PYTHONPATH=BUILD/python)\n"
               "import strata\n\nPOOL = ");
    srv_quote_py(b, pool);
    put_str(b, "\n");
}

/* "a:b, c:d" (or ":, :" for all of it) */
static void py_slices(srv_buf *b, int ndims, const cg_region *g)
{
    for (int k = 0; k < ndims; k++) {
        if (g->whole)
            srv_buf_printf(b, "%s:", k ? ", " : "");
        else
            srv_buf_printf(b, "%s%" PRIu64 ":%" PRIu64, k ? ", " : "", g->start[k],
                           g->start[k] + g->count[k]);
    }
}

static void dataset_py(srv_buf *b, const char *pool, const char *region, const char *name,
                       const strata_dataset_desc *d, int num, int column_asked)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    int numeric = num >= 0 && d->columns[num].dtype != STRATA_STR;
    py_head(b, column_asked ? "Read a column of dataset" : "Read dataset", object, pool);
    put_str(b, "DATASET = ");
    srv_quote_py(b, object);
    put_str(b, "\nCOLUMN = ");
    if (num >= 0)
        srv_quote_py(b, d->columns[num].name);
    else
        put_str(b, "None");
    put_str(b, "\n\nwith strata.Pool(POOL) as pool:\n"
               "    snap = pool.dataset(DATASET).snapshot()   # one consistent version\n");
    if (column_asked) {
        put_str(b, "    values = snap[COLUMN]\n");
        if (numeric)
            put_str(b, "print(len(values), 'values, sum', values.sum())\n");
        else
            put_str(b, "print(len(values), 'values, first', values[0] if len(values) else None)\n");
        return;
    }
    put_str(b, "    df = snap.to_pandas()\n");
    if (numeric)
        put_str(b, "print(len(df), 'rows, sum of', COLUMN, df[COLUMN].sum())\n");
    else
        put_str(b, "print(len(df), 'rows')\n");
}

static void ndarray_py(srv_buf *b, const char *pool, const char *region, const char *name,
                       const strata_ndarray_desc *d, const cg_region *g)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    py_head(b, g->whole ? "Read the N-d array" : "Read a region of the N-d array", object, pool);
    put_str(b, "ARRAY = ");
    srv_quote_py(b, object);
    put_str(b, "\n\nwith strata.Pool(POOL) as pool:\n"
               "    block = pool.ndarray(ARRAY)[");
    py_slices(b, d->ndims, g);
    put_str(b, "]   # a numpy array\n"
               "print(block.size, 'elements, shape', block.shape, 'first', block.flat[0])\n");
}

static void array_py(srv_buf *b, const char *pool, const char *region, const char *name,
                     strata_dtype dt, const cg_region *g)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    py_head(b, "Read the array", object, pool);
    put_str(b, "ARRAY = ");
    srv_quote_py(b, object);
    put_str(b, "\n\nwith strata.Pool(POOL) as pool:\n"
               "    values = pool.array(ARRAY)[");
    py_slices(b, 1, g);
    if (dt == STRATA_STR)
        put_str(b, "]   # a list of str\n"
                   "print(len(values), 'strings, first', values[0] if values else None)\n");
    else
        put_str(b, "]   # a numpy array (a.numpy(): a zero-copy view)\n"
                   "print(len(values), 'elements, sum', values.sum())\n");
}

static void mdms_py(srv_buf *b, const char *pool, const char *app, const char *dataset, int64_t run,
                    int64_t iteration, int ndims)
{
    char object[3 * STRATA_NAME_MAX + 64];
    snprintf(object, sizeof object, "%s/%" PRId64 "/%s", app, run, dataset);
    char what[96];
    snprintf(what, sizeof what, "Load iteration %" PRId64 " of the MDMS dataset", iteration);
    py_head(b, what, object, pool);
    put_str(b, "APP = ");
    srv_quote_py(b, app);
    put_str(b, "\nDATASET = ");
    srv_quote_py(b, dataset);
    srv_buf_printf(b, "\nRUN, ITERATION = %" PRId64 ", %" PRId64 "\nPATTERN = '(", run, iteration);
    for (int k = 0; k < ndims; k++) put_str(b, k ? ",*" : "*");
    put_str(b, ")'   # the whole array in this process; (BLOCK,...) splits it over MPI ranks\n"
               "\nwith strata.Pool(POOL) as pool:\n"
               "    where = f'run = {RUN} and iteration = {ITERATION}'\n"
               "    saved = pool.find(APP, dataset=DATASET, where=where)[0]   # catalog stats\n"
               "    with pool.mdms(APP) as m, m.open(RUN, [DATASET], PATTERN) as assoc:\n"
               "        x = assoc.load(DATASET, ITERATION)\n"
               "print(x.size, 'elements, shape', x.shape, 'min', x.min(), 'max', x.max())\n"
               "print('catalog: min', saved['min'], 'max', saved['max'], 'mean', saved['mean'])\n");
}

/* Query argument NAME as N whole numbers "a,b,c" into V; 0 when absent (*GIVEN 0), -1 with a
 * 400 reply when malformed. */
static int cg_dims(const srv_req *q, srv_reply *r, const char *name, int n, uint64_t *v, int *given)
{
    const char *s = srv_arg(q, name);
    *given = s != NULL && *s;
    if (!*given) return 0;
    for (int k = 0; k < n; k++) {
        char *end;
        if (*s < '0' || *s > '9') goto bad;
        v[k] = strtoull(s, &end, 10);
        s = end;
        if (k + 1 < n && *s++ != ',') goto bad;
    }
    if (*s == 0) return 0;
bad:
    srv_error(r, 400, "EINVAL", "query argument %s: need %d whole numbers separated by ','", name,
              n);
    return -1;
}

/* The region a snippet reads of an array of N dimensions DIMS: start= and count= (both, or
 * neither: all of it), inside the array, every count >= 1. -1 with a 400 reply. */
static int cg_region_arg(const srv_req *q, srv_reply *r, int n, const uint64_t *dims, cg_region *g)
{
    int has_start, has_count;
    memset(g, 0, sizeof *g);
    if (cg_dims(q, r, "start", n, g->start, &has_start) < 0 ||
        cg_dims(q, r, "count", n, g->count, &has_count) < 0)
        return -1;
    if (has_start != has_count) {
        srv_error(r, 400, "EINVAL", "give both start= and count= (or neither: all of it)");
        return -1;
    }
    g->whole = !has_start;
    for (int k = 0; !g->whole && k < n; k++) {
        if (g->count[k] == 0 || g->start[k] > dims[k] || g->count[k] > dims[k] - g->start[k]) {
            srv_error(r, 400, "EINVAL",
                      "region start %" PRIu64 " count %" PRIu64 " is not inside dimension %d of "
                      "length %" PRIu64 " (every count >= 1)",
                      g->start[k], g->count[k], k, dims[k]);
            return -1;
        }
    }
    return 0;
}

typedef struct cg_exec {
    const char *array;
    int found;
} cg_exec;

static int cg_exec_item(void *ctx, const strata_exec_info *e)
{
    cg_exec *x = ctx;
    if (e->array != NULL && strcmp(e->array, x->array) == 0) x->found = 1;
    return 0;
}

static int cg_schema_item(void *ctx, const strata_attr_def *d)
{
    (void)ctx;
    (void)d;
    return 0;
}

/* Is N-d array REGION/NAME an iteration saved through the MDMS (named DATASET.rRUN.iITERATION in
 * application REGION, with its execution row)? Then DATASET, RUN and ITERATION. */
static int cg_mdms_of(strata_pool *p, const char *region, const char *name, char *dataset,
                      int64_t *run, int64_t *iteration)
{
    const char *i = strrchr(name, '.');
    if (i == NULL || i[1] != 'i' || i[2] < '0' || i[2] > '9' || i == name) return 0;
    const char *r = i - 1;
    while (r > name && *r != '.') r--;
    if (*r != '.' || r[1] != 'r' || r[2] < '0' || r[2] > '9' || r == name) return 0;
    char *end;
    long long rv = strtoll(r + 2, &end, 10), iv;
    if (end != i || rv <= 0) return 0;
    iv = strtoll(i + 2, &end, 10);
    if (*end != 0 || iv < 0) return 0;
    size_t dl = (size_t)(r - name);
    if (dl > STRATA_NAME_MAX) return 0;
    memcpy(dataset, name, dl);
    dataset[dl] = 0;
    if (strata_app_schema(p, region, cg_schema_item, NULL) != STRATA_OK) return 0;
    char where[96];
    snprintf(where, sizeof where, "run = %lld and iteration = %lld", rv, iv);
    cg_exec x = {name, 0};
    if (strata_find(p, region, dataset, where, cg_exec_item, &x) != STRATA_OK || !x.found) return 0;
    *run = rv;
    *iteration = iv;
    return 1;
}

void srv_codegen(const srv_req *q, strata_pool *p, const char *region, const char *name,
                 srv_reply *r)
{
    const char *lang = srv_arg(q, "lang");
    if (lang == NULL) lang = "c";
    if (strcmp(lang, "c") && strcmp(lang, "shell") && strcmp(lang, "python")) {
        srv_error(r, 400, "EINVAL", "lang=%.40s: use c, shell or python", lang);
        return;
    }
    int py = !strcmp(lang, "python"), sh = !strcmp(lang, "shell");
    const char *column = srv_arg(q, "column");
    if (column != NULL && *column == 0) column = NULL;
    const char *pool = strata_pool_path(p);
    srv_buf b = {0};
    strata_snapshot *s;
    strata_ndarray *a;
    strata_array *a1;
    if (strata_snapshot_open(p, region, name, 0, &s) == STRATA_OK) {
        strata_dataset_desc d;
        strata_snapshot_info(s, &d);
        int num = -1;
        if (srv_arg(q, "start") != NULL || srv_arg(q, "count") != NULL) {
            strata_snapshot_close(s);
            srv_error(r, 400, "EINVAL",
                      "start= and count= are for arrays; a dataset takes "
                      "column=");
            return;
        }
        for (int c = 0; c < d.ncols && num < 0; c++)
            if (column != NULL ? strcmp(d.columns[c].name, column) == 0
                               : d.columns[c].dtype != STRATA_STR)
                num = c;
        if (column != NULL && num < 0) {
            strata_snapshot_close(s);
            srv_error(r, 404, "ENOTFOUND", "dataset '%s/%s' has no column '%s'", region, name,
                      column);
            return;
        }
        if (sh)
            dataset_sh(&b, pool, region, name, column);
        else if (py)
            dataset_py(&b, pool, region, name, &d, num, column != NULL);
        else
            dataset_c(&b, pool, region, name, &d, num);
        strata_snapshot_close(s);
    } else if (strata_ndarray_open(p, region, name, NULL, &a) == STRATA_OK) {
        strata_ndarray_desc d;
        strata_ndarray_info(a, &d);
        cg_region g;
        char dataset[STRATA_NAME_MAX + 1];
        int64_t run, it;
        int bad = column != NULL || cg_region_arg(q, r, d.ndims, d.dims, &g) < 0;
        if (column != NULL)
            srv_error(r, 400, "EINVAL",
                      "column= is for datasets; an N-d array takes start= and "
                      "count=");
        if (bad) {
            strata_ndarray_close(a);
            return;
        }
        if (sh)
            ndarray_sh(&b, pool, region, name, &d, &g);
        else if (py && g.whole && cg_mdms_of(p, region, name, dataset, &run, &it))
            mdms_py(&b, pool, region, dataset, run, it, d.ndims);
        else if (py)
            ndarray_py(&b, pool, region, name, &d, &g);
        else
            ndarray_c(&b, pool, region, name, &d, &g);
        strata_ndarray_close(a);
    } else if (strata_array_open(p, region, name, &a1) == STRATA_OK) {
        uint64_t n = strata_array_length(a1);
        strata_dtype dt = strata_array_dtype(a1);
        strata_array_close(a1);
        cg_region g;
        if (column != NULL) {
            srv_error(r, 400, "EINVAL",
                      "column= is for datasets; an array takes start= and "
                      "count=");
            return;
        }
        if (cg_region_arg(q, r, 1, &n, &g) < 0) return;
        uint64_t first = g.whole ? 0 : g.start[0], count = g.whole ? n : g.count[0];
        if (sh)
            array_sh(&b, pool, region, name, first, count);
        else if (py)
            array_py(&b, pool, region, name, dt, &g);
        else
            array_c(&b, pool, region, name, dt, first, count);
    } else {
        srv_error(r, 404, "ENOTFOUND", "no dataset, array or N-d array '%s/%s'", region, name);
        return;
    }
    if (b.oom || b.p == NULL)
        srv_error(r, 500, "ENOMEM", "out of memory for a snippet");
    else
        r->json = json_pack("{s:s,s:s,s:s,s:s%}", "region", region, "name", name, "lang", lang,
                            "code", b.p, b.len);
    free(b.p);
}
