/*
 * codegen.c -- the code snippets of `strata serve` (GET /api/codegen/REGION/NAME?lang=...): a C
 * program, a shell snippet or a Python script that reads a dataset or an N-d array.
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

#include "serve/serve.h"

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

static void dataset_c(srv_buf *b, const char *pool, const char *region, const char *name,
                      const strata_dataset_desc *d, int num)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    if (num < 0) {
        put_str(b, "/* ");
        put_comment(b, object, 1);
        put_str(b, " has no numeric column to read */\n");
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
                      const strata_ndarray_desc *d)
{
    char object[2 * STRATA_NAME_MAX + 2], what[64];
    snprintf(object, sizeof object, "%s/%s", region, name);
    snprintf(what, sizeof what, "Read the whole N-d array (%s)", strata_dtype_name(d->dtype));
    c_head(b, what, object, stem(name), pool, region, name);
    put_str(b, c_open_pool);
    put_str(b, "    strata_ndarray *a = NULL;\n"
               "    rc = strata_ndarray_open(pool, region, name, NULL, &a);\n"
               "    uint64_t start[] = {");
    for (int k = 0; k < d->ndims; k++) srv_buf_printf(b, "%s0", k ? ", " : "");
    put_str(b, "}, count[] = {");
    for (int k = 0; k < d->ndims; k++) srv_buf_printf(b, "%s%" PRIu64, k ? ", " : "", d->dims[k]);
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

static void dataset_sh(srv_buf *b, const char *pool, const char *region, const char *name)
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
    put_str(b, " --head 10\nstrata -P ");
    srv_quote_sh(b, pool);
    put_str(b, " cat ");
    srv_quote_sh(b, object);
    put_str(b, " --format json > ");
    srv_quote_sh(b, out);
    put_str(b, "\n");
}

static void ndarray_sh(srv_buf *b, const char *pool, const char *region, const char *name,
                       const strata_ndarray_desc *d)
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
    put_str(b, " --out ");
    srv_quote_sh(b, out);
    put_str(b, "\n");
}

static void dataset_py(srv_buf *b, const char *pool, const char *region, const char *name,
                       const strata_dataset_desc *d, int num)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    put_str(b, "# Read dataset ");
    put_comment(b, object, 0);
    put_str(b, " row by row (strata cat: one JSON object per line).\n"
               "#   python3 read.py   (strata must be on PATH)\n"
               "import json\nimport subprocess\n\nPOOL = ");
    srv_quote_py(b, pool);
    put_str(b, "\nDATASET = ");
    srv_quote_py(b, object);
    put_str(b, "\nCOLUMN = ");
    if (num >= 0)
        srv_quote_py(b, d->columns[num].name);
    else
        put_str(b, "None");
    put_str(b, "\n\nrows, total = 0, 0\n"
               "cmd = ['strata', '-P', POOL, 'cat', DATASET, '--format', 'json']\n"
               "with subprocess.Popen(cmd, stdout=subprocess.PIPE, encoding='utf-8') as p:\n"
               "    for line in p.stdout:\n"
               "        row = json.loads(line)\n"
               "        rows += 1\n"
               "        if COLUMN is not None and row[COLUMN] is not None:\n"
               "            total += row[COLUMN]\n"
               "if p.returncode != 0:\n"
               "    raise SystemExit('strata cat failed')\n"
               "if COLUMN is None:\n"
               "    print(rows, 'rows')\n"
               "else:\n"
               "    print(rows, 'rows, sum of', COLUMN, total)\n");
}

static void ndarray_py(srv_buf *b, const char *pool, const char *region, const char *name)
{
    char object[2 * STRATA_NAME_MAX + 2];
    snprintf(object, sizeof object, "%s/%s", region, name);
    put_str(b, "# Read the whole N-d array ");
    put_comment(b, object, 0);
    put_str(b, " into numpy (strata nd read).\n"
               "#   python3 read.py   (strata must be on PATH; needs numpy)\n"
               "import os\nimport subprocess\nimport tempfile\n\nimport numpy as np\n\nPOOL = ");
    srv_quote_py(b, pool);
    put_str(b, "\nARRAY = ");
    srv_quote_py(b, object);
    put_str(b, "\n\nwith tempfile.TemporaryDirectory() as tmp:\n"
               "    path = os.path.join(tmp, 'array.npy')\n"
               "    subprocess.run(['strata', '-P', POOL, 'nd', 'read', ARRAY, '--out', path], "
               "check=True)\n"
               "    a = np.load(path)\n"
               "print(a.size, 'elements, shape', a.shape, 'first', a.flat[0])\n");
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
    const char *pool = strata_pool_path(p);
    srv_buf b = {0};
    strata_snapshot *s;
    strata_ndarray *a;
    if (strata_snapshot_open(p, region, name, 0, &s) == STRATA_OK) {
        strata_dataset_desc d;
        strata_snapshot_info(s, &d);
        int num = -1;
        for (int c = 0; c < d.ncols && num < 0; c++)
            if (d.columns[c].dtype != STRATA_STR) num = c;
        if (!strcmp(lang, "shell"))
            dataset_sh(&b, pool, region, name);
        else if (!strcmp(lang, "python"))
            dataset_py(&b, pool, region, name, &d, num);
        else
            dataset_c(&b, pool, region, name, &d, num);
        strata_snapshot_close(s);
    } else if (strata_ndarray_open(p, region, name, NULL, &a) == STRATA_OK) {
        strata_ndarray_desc d;
        strata_ndarray_info(a, &d);
        if (!strcmp(lang, "shell"))
            ndarray_sh(&b, pool, region, name, &d);
        else if (!strcmp(lang, "python"))
            ndarray_py(&b, pool, region, name);
        else
            ndarray_c(&b, pool, region, name, &d);
        strata_ndarray_close(a);
    } else {
        srv_error(r, 404, "ENOTFOUND", "no dataset or N-d array '%s/%s'", region, name);
        return;
    }
    if (b.oom || b.p == NULL)
        srv_error(r, 500, "ENOMEM", "out of memory for a snippet");
    else
        r->json = json_pack("{s:s,s:s,s:s,s:s%}", "region", region, "name", name, "lang", lang,
                            "code", b.p, b.len);
    free(b.p);
}
