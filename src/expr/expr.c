/*
 * expr.c -- parse, type-check and evaluate expressions (see expr.h for the language).
 *
 * Evaluation is vectorised by blocks of ST_EXPR_BLOCK rows: each block is evaluated bottom-up
 * into temporaries taken from a per-thread stack, so temporaries stay in cache and blocks run in
 * parallel. Every value depends only on its row: results do not depend on the thread count.
 *
 * The stack is sized from the evaluation plan, not guessed from the nesting: a node computes
 * into its caller's slot, evaluating the operand that needs more temporaries first, into that
 * slot, and the other into one new temporary (Sethi-Ullman order). A node's need is then
 *     leaf, string ==: 0      unary: need(a)      binary: max(need(x), 1 + need(y))
 * with x the operand of larger need, so that a chain (a + b + c ...) needs one temporary however
 * long it is and any tree at most log2(its leaves) + 1. Parsing computes each node's need and
 * the evaluators allocate exactly 1 + need(root) slots per thread.
 */
#include "expr/expr.h"
#include "util/bits.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/par.h"
#include "util/ts.h"

#define ST_EXPR_BLOCK 4096
/* One temporary: a block of 8-byte values (bools use its first ST_EXPR_BLOCK bytes). */
#define ST_EXPR_SLOT ((size_t)ST_EXPR_BLOCK * 8)

typedef st_expr_node node;

struct st_expr {
    node *root;
    int ncols;
    uint8_t *uses;
    const strata_column *cols;
    int slots; /* temporaries per thread: the output and the root's need */
};

/* ---- parsing -------------------------------------------------------------------------------- */

typedef struct {
    st_err *err;
    const char *text;
    size_t pos;
    const strata_column *cols; /* binding: the columns names refer to */
    int ncols;
    uint8_t *uses;
    int bind; /* bind names to COLS and type-check (st_expr_parse), or only build the tree */
    int cond; /* the run-condition dialect */
    const char *const *names; /* a tree's known names (NULL: any) */
    size_t nnames;
    int depth;    /* current nesting: parentheses, '-', 'not', function calls */
    size_t nodes; /* nodes made so far */
    int ncmp;     /* a condition's comparisons so far */
} parser;

/* How many bytes of a condition a message quotes: all up to 60, else 57 (then "..."), not
 * cutting a UTF-8 sequence. */
static int cond_show_len(const char *src)
{
    size_t n = strlen(src);
    if (n <= 60) return (int)n;
    n = 57;
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    return (int)n;
}

/* Refuse the text at byte AT: "what at line:col", or for a condition "bad condition 'text' at
 * column N: what". */
__attribute__((format(printf, 3, 4))) static int perr(parser *p, size_t at, const char *fmt, ...)
{
    char msg[ST_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->cond)
        return st_error(p->err, STRATA_EINVAL, "bad condition '%.*s%s' at column %d: %s",
                        cond_show_len(p->text), p->text, strlen(p->text) > 60 ? "..." : "",
                        (int)at + 1, msg);
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && p->text[i]; i++) {
        if (p->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return st_error(p->err, STRATA_EINVAL, "%.255s at %zu:%zu", msg, line, col);
}

static void skip(parser *p)
{
    if (p->cond) {
        while (isspace((unsigned char)p->text[p->pos])) p->pos++;
        return;
    }
    while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' ||
           p->text[p->pos] == '\r')
        p->pos++;
}

static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* The keyword KW at the cursor, as a whole word? (In a condition, in any case.) */
static int keyword(parser *p, const char *kw)
{
    skip(p);
    size_t n = strlen(kw);
    const char *t = p->text + p->pos;
    int same = p->cond ? strncasecmp(t, kw, n) == 0 : strncmp(t, kw, n) == 0;
    if (same && !is_ident(t[n])) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int punct(parser *p, const char *s)
{
    skip(p);
    size_t n = strlen(s);
    if (strncmp(p->text + p->pos, s, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

/* A new node for the text at AT into *OUT; STRATA_EINVAL past ST_EXPR_MAX_NODES (a condition is
 * bounded by its comparisons instead). */
static int mk(parser *p, size_t at, st_expr_kind kind, strata_dtype type, node **out)
{
    *out = NULL;
    if (++p->nodes > ST_EXPR_MAX_NODES && !p->cond)
        return perr(p, at,
                    "expression too long: more than %d operators and operands; split it into "
                    "several derived columns",
                    ST_EXPR_MAX_NODES);
    node *n = calloc(1, sizeof *n);
    if (n == NULL) return st_error(p->err, STRATA_ENOMEM, "out of memory parsing an expression");
    n->kind = kind;
    n->type = type;
    n->col = -1;
    n->at = at;
    *out = n;
    return STRATA_OK;
}

/* One more level of nesting at AT; STRATA_EINVAL past ST_EXPR_MAX_DEPTH (a condition's:
 * ST_EXPR_COND_MAX_DEPTH). The caller undoes it with p->depth-- when the level is parsed. */
static int enter(parser *p, size_t at)
{
    if (p->cond) {
        if (++p->depth <= ST_EXPR_COND_MAX_DEPTH) return STRATA_OK;
        return perr(p, at,
                    "condition nested deeper than %d ('not' and parentheses each add a level); "
                    "simplify it",
                    ST_EXPR_COND_MAX_DEPTH);
    }
    if (++p->depth > ST_EXPR_MAX_DEPTH)
        return perr(p, at,
                    "expression nested deeper than %d (parentheses, '-', 'not' and function "
                    "calls each add a level); simplify it",
                    ST_EXPR_MAX_DEPTH);
    return STRATA_OK;
}

static void node_free(node *n)
{
    if (n == NULL) return;
    node_free(n->a);
    node_free(n->b);
    free(n->s);
    free(n);
}

/* N's string: a copy of the LEN bytes at S and a NUL. */
static int node_text(parser *p, node *n, const char *s, size_t len)
{
    if ((n->s = malloc(len + 1)) == NULL)
        return st_error(p->err, STRATA_ENOMEM, "out of memory parsing an expression");
    memcpy(n->s, s, len);
    n->s[len] = '\0';
    n->slen = len;
    return STRATA_OK;
}

static int numeric(strata_dtype t)
{
    return t == STRATA_I64 || t == STRATA_F64 || t == STRATA_BOOL;
}

static const char *tname(strata_dtype t)
{
    return t == STRATA_STR    ? "a string"
           : t == STRATA_BOOL ? "a bool"
           : t == STRATA_F64  ? "f64"
           : t == STRATA_TS   ? "ts"
                              : "i64";
}

/* Bind the string literal S, compared with a timestamp, as the timestamp it spells. */
static int ts_literal(parser *p, node *s)
{
    int64_t v;
    char why[64];
    if (st_ts_parse(s->s, s->slen, &v, why, sizeof why) < 0)
        return perr(p, s->at, "type error: '%s' %s", s->s, why);
    free(s->s);
    s->s = NULL;
    s->kind = ST_EXPR_INT;
    s->type = STRATA_TS;
    s->i = v;
    return STRATA_OK;
}

/* The type of arithmetic OP (+ - * / %) on A and B, or -1 when it has none: timestamps take a
 * duration in ns added or subtracted (ts), and give one when subtracted (i64). */
static int arith_type(int op, strata_dtype a, strata_dtype b)
{
    if (a != STRATA_TS && b != STRATA_TS) {
        if (!numeric(a) || !numeric(b)) return -1;
        return a == STRATA_F64 || b == STRATA_F64 ? STRATA_F64 : STRATA_I64;
    }
    if (op == ST_EXPR_SUB && a == STRATA_TS && b == STRATA_TS) return STRATA_I64;
    if (op == ST_EXPR_SUB && a == STRATA_TS && b == STRATA_I64) return STRATA_TS;
    if (op == ST_EXPR_ADD &&
        ((a == STRATA_TS && b == STRATA_I64) || (a == STRATA_I64 && b == STRATA_TS)))
        return STRATA_TS;
    return -1;
}

/* Whether the LEN bytes at NAME are one of a tree's known names (always, when it has none). */
static int known_name(const parser *p, const char *name, size_t len)
{
    if (p->names == NULL) return 1;
    for (size_t i = 0; i < p->nnames; i++)
        if (strlen(p->names[i]) == len && strncmp(p->names[i], name, len) == 0) return 1;
    return 0;
}

/* A name node for the LEN bytes at NAME (at AT) of a tree: refused unless known. */
static int tree_name(parser *p, size_t at, const char *name, size_t len, node **out)
{
    if (!known_name(p, name, len)) {
        if (!p->cond) return perr(p, at, "unknown column '%.*s'", (int)len, name);
        char known[1024];
        size_t kl = 0;
        known[0] = 0;
        for (size_t i = 0; i < p->nnames && kl < sizeof known; i++)
            kl +=
                (size_t)snprintf(known + kl, sizeof known - kl, "%s%s", i ? ", " : "", p->names[i]);
        return perr(p, at, "unknown name '%.*s' (known: %s)", len > 64 ? 64 : (int)len, name,
                    known);
    }
    int rc = mk(p, at, ST_EXPR_NAME, STRATA_I64, out);
    if (rc == STRATA_OK && (rc = node_text(p, *out, name, len)) < 0) {
        node_free(*out);
        *out = NULL;
    }
    return rc;
}

static int parse_or(parser *p, node **out);

/* '(' expr ')' at AT (the cursor on the '('). */
static int parse_group(parser *p, node **out)
{
    p->pos++;
    int rc = parse_or(p, out);
    if (rc < 0) return rc;
    if (!punct(p, ")")) {
        node_free(*out);
        *out = NULL;
        return perr(p, p->pos, "%s", "expected ')'");
    }
    return STRATA_OK;
}

/* A number at AT (T = the text there): i64, or f64 when it has a '.' or an exponent. */
static int parse_number(parser *p, size_t at, const char *t, node **out)
{
    char *end;
    int is_float = 0;
    size_t k = 0;
    while ((t[k] >= '0' && t[k] <= '9') || t[k] == '.' || t[k] == 'e' || t[k] == 'E' ||
           ((t[k] == '+' || t[k] == '-') && k > 0 && (t[k - 1] == 'e' || t[k - 1] == 'E'))) {
        if (t[k] == '.' || t[k] == 'e' || t[k] == 'E') is_float = 1;
        k++;
    }
    node *n;
    int rc =
        mk(p, at, is_float ? ST_EXPR_FLOAT : ST_EXPR_INT, is_float ? STRATA_F64 : STRATA_I64, &n);
    if (rc < 0) return rc;
    errno = 0;
    if (is_float)
        n->f = strtod(t, &end);
    else
        n->i = (int64_t)strtoll(t, &end, 10);
    if ((size_t)(end - t) != k || is_ident(t[k])) {
        node_free(n);
        return perr(p, at, "%s", "malformed number");
    }
    if (!is_float && errno == ERANGE) {
        node_free(n);
        return perr(p, at, "%s",
                    "integer out of range for i64 (at most 9223372036854775807; write a "
                    "float such as 1e19 for larger values)");
    }
    p->pos += k;
    *out = n;
    return STRATA_OK;
}

/* A 'string' literal at AT (T = the text there, on the quote). */
static int parse_string(parser *p, size_t at, const char *t, node **out)
{
    const char *e = strchr(t + 1, '\'');
    if (e == NULL) return perr(p, at, "%s", "unterminated string (no closing ')");
    node *n;
    int rc = mk(p, at, ST_EXPR_STR, STRATA_STR, &n);
    if (rc < 0) return rc;
    if ((rc = node_text(p, n, t + 1, (size_t)(e - t - 1))) < 0) {
        node_free(n);
        return rc;
    }
    p->pos += (size_t)(e - t) + 1;
    *out = n;
    return STRATA_OK;
}

/* The name at AT (T = the text there: a word, or "..." quoting one with other characters) into
 * NAME (room for STRATA_NAME_MAX bytes and a NUL), the cursor past it. */
static int read_name(parser *p, size_t at, const char *t, char *name)
{
    size_t len = 0;
    if (*t == '"') {
        const char *e = strchr(t + 1, '"');
        if (e == NULL) return perr(p, at, "%s", "unterminated quoted column name (no closing \")");
        if ((size_t)(e - t - 1) > STRATA_NAME_MAX)
            return perr(p, at, "column name longer than %d bytes", STRATA_NAME_MAX);
        len = (size_t)(e - t - 1);
        memcpy(name, t + 1, len);
        p->pos += len + 2;
    } else if (is_ident_start(*t)) {
        while (is_ident(t[len]) && len < STRATA_NAME_MAX) len++;
        if (is_ident(t[len])) return perr(p, at, "name longer than %d bytes", STRATA_NAME_MAX);
        memcpy(name, t, len);
        p->pos += len;
    } else {
        char what[16];
        unsigned char ch = (unsigned char)*t;
        if (ch >= 0x20 && ch < 0x7f)
            snprintf(what, sizeof what, "'%c'", ch);
        else
            snprintf(what, sizeof what, "byte 0x%02x", ch);
        return perr(p, at, "expected a column name, a number or '(' but found %s", what);
    }
    name[len] = '\0';
    return STRATA_OK;
}

/* floor_to's unit, its second argument ('second', 'minute', 'hour' or 'day'), into N->i. */
static int floor_unit(parser *p, size_t at, node *n)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"second", ST_NS_PER_SEC},
                 {"minute", 60 * ST_NS_PER_SEC},
                 {"hour", 3600 * ST_NS_PER_SEC},
                 {"day", ST_NS_PER_DAY}};
    for (size_t i = 0; n->b->kind == ST_EXPR_STR && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(n->b->s, units[i].name) == 0) {
            n->i = units[i].ns;
            node_free(n->b);
            n->b = NULL;
            return STRATA_OK;
        }
    return perr(p, at, "%s", "floor_to() takes a unit: 'second', 'minute', 'hour' or 'day'");
}

/* Type-check the call N of function NAME (at AT) and set its type. */
static int call_type(parser *p, size_t at, const char *name, node *n)
{
    int f = n->op;
    strata_dtype ta = n->a->type == STRATA_BOOL ? STRATA_I64 : n->a->type;
    strata_dtype tb = n->b ? (n->b->type == STRATA_BOOL ? STRATA_I64 : n->b->type) : ta;
    if (f == ST_EXPR_IS_NULL) {
        n->type = STRATA_BOOL;
    } else if (f >= ST_EXPR_YEAR) {
        if (ta != STRATA_TS) return perr(p, at, "%s() needs a timestamp, not %s", name, tname(ta));
        n->type = f == ST_EXPR_FLOOR_TO ? STRATA_TS : STRATA_I64;
    } else if (f == ST_EXPR_I64 || f == ST_EXPR_F64) { /* i64(ts): its nanoseconds */
        if (!numeric(ta) && ta != STRATA_TS)
            return perr(p, at, "%s() needs a number or a timestamp, not %s", name, tname(ta));
        n->type = f == ST_EXPR_I64 ? STRATA_I64 : STRATA_F64;
    } else if ((f == ST_EXPR_MIN || f == ST_EXPR_MAX) && (ta == STRATA_TS || tb == STRATA_TS)) {
        if (ta != tb)
            return perr(p, at, "%s() needs two numbers or two timestamps, not %s and %s", name,
                        tname(ta), tname(tb));
        n->type = STRATA_TS;
    } else {
        if (!numeric(ta) || !numeric(tb))
            return perr(p, at, "%s() needs numbers, not %s", name, tname(numeric(ta) ? tb : ta));
        n->type = ta == STRATA_F64 || tb == STRATA_F64 ? STRATA_F64 : STRATA_I64;
    }
    return STRATA_OK;
}

/* The call of the function NAME at AT, the cursor on its '('. */
static int parse_call(parser *p, size_t at, const char *name, node **out)
{
    static const char *funcs[] = {"abs", "min",  "max",    "i64", "f64",      "year",   "month",
                                  "day", "hour", "minute", "dow", "floor_to", "is_null"};
    int f = -1;
    for (int i = 0; i < (int)(sizeof funcs / sizeof funcs[0]); i++)
        if (strcmp(name, funcs[i]) == 0) f = i;
    if (f < 0)
        return perr(p, at,
                    "unknown function '%s' (use abs, min, max, i64, f64, year, month, day, hour, "
                    "minute, dow, floor_to, is_null)",
                    name);
    p->pos++;
    node *n;
    int rc = mk(p, at, ST_EXPR_CALL, STRATA_I64, &n);
    if (rc < 0) return rc;
    n->op = f;
    rc = parse_or(p, &n->a);
    if (rc == STRATA_OK && (f == ST_EXPR_MIN || f == ST_EXPR_MAX || f == ST_EXPR_FLOOR_TO)) {
        if (!punct(p, ","))
            rc = perr(p, p->pos, "%s() takes two arguments: expected ','", name);
        else
            rc = parse_or(p, &n->b);
    }
    if (rc == STRATA_OK && !punct(p, ")")) rc = perr(p, p->pos, "%s", "expected ')'");
    if (rc == STRATA_OK && f == ST_EXPR_FLOOR_TO) rc = floor_unit(p, at, n);
    if (rc == STRATA_OK && p->bind) rc = call_type(p, at, name, n);
    if (rc < 0) {
        node_free(n);
        return rc;
    }
    *out = n;
    return STRATA_OK;
}

/* The column NAME at AT, bound to its index and type (or, in a tree, only checked as known). */
static int parse_column(parser *p, size_t at, const char *name, node **out)
{
    if (!p->bind) return tree_name(p, at, name, strlen(name), out);
    for (int c = 0; c < p->ncols; c++) {
        if (strcmp(p->cols[c].name, name) == 0) {
            strata_dtype ct = p->cols[c].dtype;
            node *n;
            int rc = mk(p, at, ST_EXPR_NAME,
                        ct == STRATA_STR                         ? STRATA_STR
                        : ct == STRATA_BOOL                      ? STRATA_BOOL
                        : ct == STRATA_TS                        ? STRATA_TS
                        : (ct == STRATA_F32 || ct == STRATA_F64) ? STRATA_F64
                                                                 : STRATA_I64,
                        &n);
            if (rc < 0) return rc;
            n->col = c;
            n->coltype = ct;
            p->uses[c] = 1;
            *out = n;
            return STRATA_OK;
        }
    }
    return perr(p, at, "unknown column '%s'", name);
}

static int parse_atom(parser *p, node **out)
{
    skip(p);
    size_t at = p->pos;
    const char *t = p->text + p->pos;
    if (*t == '\0') return perr(p, at, "%s", "unexpected end of expression");
    if (*t == '(') return parse_group(p, out);
    if ((*t >= '0' && *t <= '9') || (*t == '.' && t[1] >= '0' && t[1] <= '9'))
        return parse_number(p, at, t, out);
    if (*t == '\'') return parse_string(p, at, t, out);
    /* a name: a keyword, a function or a column ("..." quotes a name with other characters) */
    char name[STRATA_NAME_MAX + 1];
    int rc = read_name(p, at, t, name);
    if (rc < 0) return rc;
    if (*t != '"' && (strcmp(name, "true") == 0 || strcmp(name, "false") == 0)) {
        node *n;
        if ((rc = mk(p, at, ST_EXPR_BOOL, STRATA_BOOL, &n)) < 0) return rc;
        n->i = name[0] == 't';
        *out = n;
        return STRATA_OK;
    }
    skip(p);
    if (*t != '"' && p->text[p->pos] == '(') return parse_call(p, at, name, out);
    return parse_column(p, at, name, out);
}

static int parse_unary(parser *p, node **out)
{
    skip(p);
    size_t at = p->pos;
    int rc = enter(p, at);
    if (rc < 0) return rc;
    if (punct(p, "-")) {
        node *n;
        if ((rc = mk(p, at, ST_EXPR_NEG, STRATA_I64, &n)) < 0) return rc;
        if ((rc = parse_unary(p, &n->a)) == STRATA_OK && p->bind && !numeric(n->a->type))
            rc = perr(p, at, "cannot negate %s", tname(n->a->type));
        if (rc < 0) {
            node_free(n);
            return rc;
        }
        n->type = n->a->type == STRATA_F64 ? STRATA_F64 : STRATA_I64;
        *out = n;
    } else {
        rc = parse_atom(p, out);
    }
    p->depth--;
    return rc;
}

/* A binary node for OP over A and B, type-checked when binding; AT is the operator's position. */
static int binary(parser *p, int op, size_t at, node *a, node *b, node **out)
{
    static const char *names[] = {
        "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "and", "or"};
    node *n;
    int rc = mk(p, at, ST_EXPR_BIN, STRATA_I64, &n);
    if (rc < 0) {
        node_free(a);
        node_free(b);
        return rc;
    }
    n->op = op;
    n->a = a;
    n->b = b;
    char what[64];
    snprintf(what, sizeof what, "'%s' between %s and %s", names[op], tname(a->type),
             tname(b->type));
    int bad = 0;
    if (op == ST_EXPR_AND || op == ST_EXPR_OR) {
        bad = a->type != STRATA_BOOL || b->type != STRATA_BOOL;
        n->type = STRATA_BOOL;
    } else if (op >= ST_EXPR_LT && p->bind && (a->type == STRATA_TS || b->type == STRATA_TS)) {
        /* a timestamp compares with a timestamp, or with a literal that spells one */
        node *lit = a->type == STRATA_STR ? a : b->type == STRATA_STR ? b : NULL;
        if (lit != NULL && lit->kind == ST_EXPR_STR && (rc = ts_literal(p, lit)) < 0) {
            node_free(n);
            return rc;
        }
        bad = a->type != b->type;
        n->type = STRATA_BOOL;
    } else if (op >= ST_EXPR_LT) {
        if (a->type == STRATA_STR || b->type == STRATA_STR)
            bad = a->type != b->type || (op != ST_EXPR_EQ && op != ST_EXPR_NE);
        else
            bad = !numeric(a->type) || !numeric(b->type);
        n->type = STRATA_BOOL;
    } else {
        int t = arith_type(op, a->type, b->type);
        bad = t < 0;
        n->type = t < 0 ? STRATA_I64 : (strata_dtype)t;
    }
    if (bad && p->bind) {
        node_free(n);
        return perr(p, at, "type error: %s", what);
    }
    *out = n;
    return STRATA_OK;
}

/* A condition's value at the cursor: 'text', "text" or a number as strtoll, else strtod, reads
 * it (an integer unless a '.' or an exponent follows its digits). */
static int parse_cond_value(parser *p, node **out)
{
    skip(p);
    size_t at = p->pos;
    const char *v0 = p->text + at;
    int rc;
    if (*v0 == '\'' || *v0 == '"') {
        const char *e = strchr(v0 + 1, *v0);
        if (e == NULL) return perr(p, at + strlen(v0), "%s", "unterminated string");
        if ((rc = mk(p, at, ST_EXPR_STR, STRATA_STR, out)) < 0) return rc;
        if ((rc = node_text(p, *out, v0 + 1, (size_t)(e - v0 - 1))) < 0) return rc;
        p->pos += (size_t)(e - v0) + 1;
        return STRATA_OK;
    }
    char *end;
    long long iv = strtoll(v0, &end, 10);
    if (end != v0 && *end != '.' && *end != 'e' && *end != 'E') {
        if ((rc = mk(p, at, ST_EXPR_INT, STRATA_I64, out)) < 0) return rc;
        (*out)->i = iv;
    } else {
        double dv = strtod(v0, &end);
        if (end == v0) return perr(p, at, "%s", "expected a number or a 'string'");
        if ((rc = mk(p, at, ST_EXPR_FLOAT, STRATA_F64, out)) < 0) return rc;
        (*out)->f = dv;
    }
    p->pos += (size_t)(end - v0);
    return STRATA_OK;
}

/* A condition's comparison NAME OP VALUE at the cursor: a BIN node over a NAME and a value. */
static int parse_cond_cmp(parser *p, node **out)
{
    size_t at = p->pos;
    if (++p->ncmp > ST_EXPR_COND_MAX_CMP)
        return perr(p, at, "condition has more than %d comparisons; shorten it",
                    ST_EXPR_COND_MAX_CMP);
    size_t len = 0;
    while (isalnum((unsigned char)p->text[at + len]) || p->text[at + len] == '_') len++;
    p->pos += len;
    if (len == 0) return perr(p, p->pos, "%s", "expected a name");
    node *name = NULL, *value = NULL;
    int rc = tree_name(p, at, p->text + at, len, &name);
    if (rc < 0) return rc;
    skip(p);
    static const struct {
        const char *text;
        int op;
    } ops[] = {{"==", ST_EXPR_EQ}, {"!=", ST_EXPR_NE}, {"<>", ST_EXPR_NE}, {"<=", ST_EXPR_LE},
               {">=", ST_EXPR_GE}, {"=", ST_EXPR_EQ},  {"<", ST_EXPR_LT},  {">", ST_EXPR_GT}};
    int op = -1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && op < 0; i++)
        if (strncmp(p->text + p->pos, ops[i].text, strlen(ops[i].text)) == 0) {
            op = ops[i].op;
            p->pos += strlen(ops[i].text);
        }
    if (op < 0)
        rc = perr(p, p->pos, "%s", "expected a comparison (= != < <= > >=)");
    else
        rc = parse_cond_value(p, &value);
    if (rc < 0) {
        node_free(name);
        node_free(value);
        return rc;
    }
    return binary(p, op, at, name, value, out);
}

/* What a condition's 'not' applies to: '(' cond ')' or a comparison. */
static int parse_cond_factor(parser *p, node **out)
{
    skip(p);
    size_t at = p->pos;
    if (p->text[at] != '(') return parse_cond_cmp(p, out);
    int rc = enter(p, at);
    if (rc < 0) return rc;
    p->pos++;
    if ((rc = parse_or(p, out)) < 0) return rc;
    skip(p);
    if (p->text[p->pos] != ')') {
        node_free(*out);
        *out = NULL;
        return perr(p, p->pos, "%s", "expected ')'");
    }
    p->pos++;
    p->depth--;
    (*out)->parens++;
    return STRATA_OK;
}

/* A left-associative level: NEXT (OP NEXT)*, where MATCH consumes an operator of the level and
 * returns its code, or returns -1. */
static int parse_left(parser *p, node **out, int (*next)(parser *, node **), int (*match)(parser *))
{
    node *a = NULL;
    int rc = next(p, &a);
    while (rc == STRATA_OK) {
        skip(p);
        size_t at = p->pos;
        int op = match(p);
        if (op < 0) break;
        node *b = NULL;
        if ((rc = next(p, &b)) < 0) break;
        if ((rc = binary(p, op, at, a, b, &a)) < 0) return rc; /* binary freed a and b */
    }
    if (rc < 0)
        node_free(a);
    else
        *out = a;
    return rc;
}

static int match_prod(parser *p)
{
    return punct(p, "*")   ? ST_EXPR_MUL
           : punct(p, "/") ? ST_EXPR_DIV
           : punct(p, "%") ? ST_EXPR_MOD
                           : -1;
}

static int match_sum(parser *p)
{
    return punct(p, "+") ? ST_EXPR_ADD : punct(p, "-") ? ST_EXPR_SUB : -1;
}

static int parse_prod(parser *p, node **out)
{
    return parse_left(p, out, parse_unary, match_prod);
}

static int parse_sum(parser *p, node **out)
{
    return parse_left(p, out, parse_prod, match_sum);
}

static int parse_cmp(parser *p, node **out)
{
    if (p->cond) return parse_cond_factor(p, out);
    node *a = NULL;
    int rc = parse_sum(p, &a);
    if (rc < 0) return rc;
    skip(p);
    size_t at = p->pos;
    int op = punct(p, "<=")   ? ST_EXPR_LE
             : punct(p, ">=") ? ST_EXPR_GE
             : punct(p, "==") ? ST_EXPR_EQ
             : punct(p, "!=") ? ST_EXPR_NE
             : punct(p, "<")  ? ST_EXPR_LT
             : punct(p, ">")  ? ST_EXPR_GT
                              : -1;
    if (op < 0) {
        if (p->text[p->pos] == '=') {
            node_free(a);
            return perr(p, at, "%s", "use '==' to compare");
        }
        *out = a;
        return STRATA_OK;
    }
    node *b = NULL;
    if ((rc = parse_sum(p, &b)) < 0) {
        node_free(a);
        return rc;
    }
    return binary(p, op, at, a, b, out);
}

static int parse_not(parser *p, node **out)
{
    skip(p);
    size_t at = p->pos;
    if (keyword(p, "not")) {
        node *n;
        int rc = enter(p, at);
        if (rc == STRATA_OK) rc = mk(p, at, ST_EXPR_NOT, STRATA_BOOL, &n);
        if (rc < 0) return rc;
        rc = parse_not(p, &n->a);
        if (rc == STRATA_OK && p->bind && n->a->type != STRATA_BOOL)
            rc = perr(p, at, "type error: 'not' of %s", tname(n->a->type));
        if (rc < 0) {
            node_free(n);
            return rc;
        }
        p->depth--;
        *out = n;
        return STRATA_OK;
    }
    return parse_cmp(p, out);
}

static int match_and(parser *p)
{
    return keyword(p, "and") ? ST_EXPR_AND : -1;
}

static int match_or(parser *p)
{
    return keyword(p, "or") ? ST_EXPR_OR : -1;
}

static int parse_and(parser *p, node **out)
{
    return parse_left(p, out, parse_not, match_and);
}

static int parse_or(parser *p, node **out)
{
    return parse_left(p, out, parse_and, match_or);
}

/* The temporaries N's evaluation takes besides its output, in the order eval() uses (see the
 * top of the file); sets every node's need. Recursion is bounded by ST_EXPR_MAX_NODES. */
static int plan(node *n)
{
    int na = n->a != NULL ? plan(n->a) : 0, nb = n->b != NULL ? plan(n->b) : 0;
    if (n->kind == ST_EXPR_BIN && n->a->type == STRATA_STR)
        n->need = 0; /* string == and != read their operands in place */
    else if (n->a != NULL && n->b != NULL)
        n->need = na >= nb ? (na > nb + 1 ? na : nb + 1) : (nb > na + 1 ? nb : na + 1);
    else
        n->need = na;
    return n->need;
}

int st_expr_parse(st_err *err, const char *text, const strata_column *cols, int ncols,
                  st_expr **out)
{
    *out = NULL;
    if (text == NULL) return st_error(err, STRATA_EINVAL, "no expression given");
    st_expr *e = calloc(1, sizeof *e);
    uint8_t *uses = calloc((size_t)ncols + 1, 1);
    if (e == NULL || uses == NULL) {
        free(e);
        free(uses);
        return st_error(err, STRATA_ENOMEM, "out of memory");
    }
    parser p = {.err = err, .text = text, .cols = cols, .ncols = ncols, .uses = uses, .bind = 1};
    int rc = parse_or(&p, &e->root);
    if (rc == STRATA_OK) {
        skip(&p);
        if (text[p.pos] != '\0') {
            rc = perr(&p, p.pos, "%s", "unexpected text after the expression");
            node_free(e->root);
        }
    }
    if (rc < 0) {
        free(uses);
        free(e);
        return rc;
    }
    if (e->root->type == STRATA_STR) {
        node_free(e->root);
        free(uses);
        free(e);
        return st_error(err, STRATA_EINVAL, "the expression is a string; compare it with == or !=");
    }
    e->uses = uses;
    e->ncols = ncols;
    e->cols = cols;
    e->slots = 1 + plan(e->root);
    *out = e;
    return STRATA_OK;
}

int st_expr_parse_tree(st_err *err, const char *text, const st_expr_syntax *syntax,
                       st_expr_node **out)
{
    *out = NULL;
    parser p = {.err = err, .text = text};
    if (syntax != NULL) {
        p.cond = syntax->lang == ST_EXPR_LANG_COND;
        p.names = syntax->names;
        p.nnames = syntax->nnames;
    }
    if (p.cond) {
        if (text == NULL) return STRATA_OK;
        skip(&p);
        if (text[p.pos] == '\0') return STRATA_OK; /* no condition */
    } else if (text == NULL) {
        return st_error(err, STRATA_EINVAL, "no expression given");
    }
    node *root = NULL;
    int rc = parse_or(&p, &root);
    if (rc == STRATA_OK) {
        skip(&p);
        if (text[p.pos] != '\0')
            rc = perr(&p, p.pos, "%s",
                      p.cond ? "expected 'and', 'or' or the end"
                             : "unexpected text after the expression");
    }
    if (rc < 0) {
        node_free(root);
        return rc;
    }
    *out = root;
    return STRATA_OK;
}

void st_expr_tree_free(st_expr_node *root)
{
    node_free(root);
}

void st_expr_free(st_expr *e)
{
    if (e == NULL) return;
    node_free(e->root);
    free(e->uses);
    free(e);
}

strata_dtype st_expr_type(const st_expr *e)
{
    return e->root->type;
}

size_t st_expr_scratch(const st_expr *e)
{
    return (size_t)e->slots * ST_EXPR_SLOT;
}

int st_expr_uses(const st_expr *e, int col)
{
    return col >= 0 && col < e->ncols && e->uses[col];
}

/* ---- evaluation ----------------------------------------------------------------------------- */

typedef struct {
    const st_expr_input *in;
    uint64_t lo; /* first row of the block */
    uint64_t m;  /* rows in the block */
    char *stack; /* temporaries: cap slots of ST_EXPR_SLOT bytes */
    int top, cap;
    uint8_t *masks; /* the validity pass: vcap masks of ST_EXPR_BLOCK bytes */
    int vtop, vcap;
} evalctx;

static void *push(evalctx *c)
{
    assert(c->top < c->cap); /* plan() counted every slot eval() takes */
    return c->stack + (size_t)(c->top++) * ST_EXPR_SLOT;
}

static void load_col(evalctx *c, const node *n, void *out)
{
    const void *d = c->in[n->col].data;
    uint64_t lo = c->lo, m = c->m;
    int64_t *oi = out;
    double *of = out;
    uint8_t *ob = out;
    switch (n->coltype) {
    case STRATA_I8:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const int8_t *)d)[lo + i];
        break;
    case STRATA_I16:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const int16_t *)d)[lo + i];
        break;
    case STRATA_I32:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const int32_t *)d)[lo + i];
        break;
    case STRATA_I64:
    case STRATA_TS:
        memcpy(oi, (const int64_t *)d + lo, m * 8);
        break;
    case STRATA_U8:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const uint8_t *)d)[lo + i];
        break;
    case STRATA_U16:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const uint16_t *)d)[lo + i];
        break;
    case STRATA_U32:
        for (uint64_t i = 0; i < m; i++) oi[i] = ((const uint32_t *)d)[lo + i];
        break;
    case STRATA_U64:
        for (uint64_t i = 0; i < m; i++) oi[i] = (int64_t)((const uint64_t *)d)[lo + i];
        break;
    case STRATA_F32:
        for (uint64_t i = 0; i < m; i++) of[i] = ((const float *)d)[lo + i];
        break;
    case STRATA_F64:
        memcpy(of, (const double *)d + lo, m * 8);
        break;
    case STRATA_BOOL:
        memcpy(ob, (const uint8_t *)d + lo, m);
        break;
    default:
        break;
    }
}

static void eval(evalctx *c, const node *n, void *out);

/* Evaluate N as type WANT (i64 or f64; bools become 0/1; WANT == N's type keeps it). */
static void eval_as(evalctx *c, const node *n, strata_dtype want, void *out)
{
    eval(c, n, out);
    uint64_t m = c->m;
    if (n->type == want) return;
    if (n->type == STRATA_BOOL) {
        const uint8_t *b = out;
        if (want == STRATA_F64)
            for (uint64_t i = m; i-- > 0;) ((double *)out)[i] = b[i];
        else
            for (uint64_t i = m; i-- > 0;) ((int64_t *)out)[i] = b[i];
    } else if (n->type == STRATA_I64 && want == STRATA_F64) {
        for (uint64_t i = 0; i < m; i++) ((double *)out)[i] = (double)((int64_t *)out)[i];
    }
}

/* == / != on strings: a column or literal on each side. */
static void eval_str_eq(evalctx *c, const node *n, uint8_t *out)
{
    const node *s[2] = {n->a, n->b};
    for (uint64_t i = 0; i < c->m; i++) {
        const char *p[2];
        size_t len[2];
        for (int k = 0; k < 2; k++) {
            if (s[k]->kind == ST_EXPR_STR) {
                p[k] = s[k]->s;
                len[k] = s[k]->slen;
            } else {
                const int64_t *off = c->in[s[k]->col].data;
                uint64_t r = c->lo + i;
                p[k] = c->in[s[k]->col].bytes + off[r];
                len[k] = (size_t)(off[r + 1] - off[r]);
            }
        }
        int eq = len[0] == len[1] && memcmp(p[0], p[1], len[0]) == 0;
        out[i] = (uint8_t)(n->op == ST_EXPR_EQ ? eq : !eq);
    }
}

/* The operands A and B of a node whose output is OUT, as types TA and TB: the one needing more
 * temporaries first, into OUT, then the other into one new temporary. *PA and *PB receive where
 * each is; the caller computes into OUT element by element (OUT is *PA or *PB: each element is
 * read before the same element of OUT is written) and pops the temporary. */
static void eval_operands(evalctx *c, const node *a, const node *b, strata_dtype ta,
                          strata_dtype tb, void *out, void **pa, void **pb)
{
    if (a->need >= b->need) {
        eval_as(c, a, ta, out);
        *pa = out;
        *pb = push(c);
        eval_as(c, b, tb, *pb);
    } else {
        eval_as(c, b, tb, out);
        *pb = out;
        *pa = push(c);
        eval_as(c, a, ta, *pa);
    }
}

static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
static int64_t wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}
static int64_t wrap_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

static int64_t idiv(int64_t a, int64_t b)
{
    if (b == 0) return 0;
    if (b == -1) return wrap_sub(0, a); /* INT64_MIN / -1 wraps */
    return a / b;
}

static int64_t imod(int64_t a, int64_t b)
{
    if (b == 0 || b == -1) return 0;
    return a % b;
}

static int64_t to_i64(double x)
{
    if (isnan(x)) return 0;
    if (x >= 9223372036854775807.0) return INT64_MAX;
    if (x <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)x;
}

/* year, month, day, hour, minute, dow and floor_to of N's timestamp argument into OUT. */
static void eval_ts_call(evalctx *c, const node *n, int64_t *out)
{
    eval(c, n->a, out);
    uint64_t m = c->m;
    int64_t unit = n->op == ST_EXPR_HOUR ? 3600 * ST_NS_PER_SEC : 60 * ST_NS_PER_SEC;
    switch (n->op) {
    case ST_EXPR_HOUR:
    case ST_EXPR_MINUTE: /* of the day, of the hour */
        for (uint64_t i = 0; i < m; i++) {
            int64_t r = out[i] % (unit * (n->op == ST_EXPR_HOUR ? 24 : 60));
            out[i] = st_floordiv(r < 0 ? r + unit * (n->op == ST_EXPR_HOUR ? 24 : 60) : r, unit);
        }
        break;
    case ST_EXPR_DOW: /* 1970-01-01 was a Thursday, 3 counting from Monday */
        for (uint64_t i = 0; i < m; i++) {
            int64_t d = (st_floordiv(out[i], ST_NS_PER_DAY) + 3) % 7;
            out[i] = d < 0 ? d + 7 : d;
        }
        break;
    case ST_EXPR_FLOOR_TO: /* wraps like i64 arithmetic below the earliest whole unit */
        for (uint64_t i = 0; i < m; i++) out[i] = wrap_mul(st_floordiv(out[i], n->i), n->i);
        break;
    default: /* year, month, day */
        for (uint64_t i = 0; i < m; i++) {
            int64_t y;
            unsigned mo, d;
            st_civil_from_days(st_floordiv(out[i], ST_NS_PER_DAY), &y, &mo, &d);
            out[i] = n->op == ST_EXPR_YEAR ? y : n->op == ST_EXPR_MONTH ? (int64_t)mo : (int64_t)d;
        }
    }
}

/* min, max, abs, i64 and f64 of N's arguments into OUT. */
static int eval_valid(evalctx *c, const node *n, uint8_t *mask);
static uint8_t *vpush(evalctx *c);

static void eval_call(evalctx *c, const node *n, void *out)
{
    uint64_t m = c->m;
    int64_t *oi = out;
    double *of = out;
    if (n->op == ST_EXPR_IS_NULL) { /* the validity of its argument, inverted */
        uint8_t *ob = out, *mask = c->vcap > 0 ? vpush(c) : NULL;
        if (mask == NULL || eval_valid(c, n->a, mask))
            memset(ob, 0, m);
        else
            for (uint64_t i = 0; i < m; i++) ob[i] = !mask[i];
        if (mask != NULL) c->vtop--;
        return;
    }
    if (n->op >= ST_EXPR_YEAR) {
        eval_ts_call(c, n, out);
        return;
    }
    strata_dtype t = n->op == ST_EXPR_I64 || n->op == ST_EXPR_F64 ? n->a->type : n->type;
    if (t == STRATA_BOOL || t == STRATA_TS) t = STRATA_I64;
    void *a = out, *b = NULL;
    if (n->b != NULL)
        eval_operands(c, n->a, n->b, t, t, out, &a, &b);
    else
        eval_as(c, n->a, t, out);
    const int64_t *ai = a, *bi = b;
    const double *af = a, *bf = b;
    switch (n->op) {
    case ST_EXPR_ABS:
        if (t == STRATA_F64)
            for (uint64_t i = 0; i < m; i++) of[i] = fabs(af[i]);
        else
            for (uint64_t i = 0; i < m; i++) oi[i] = ai[i] < 0 ? wrap_sub(0, ai[i]) : ai[i];
        break;
    case ST_EXPR_MIN:
    case ST_EXPR_MAX: {
        int mx = n->op == ST_EXPR_MAX;
        if (t == STRATA_F64) /* NaN wins, as in numpy's minimum/maximum */
            for (uint64_t i = 0; i < m; i++)
                of[i] = isnan(af[i]) || isnan(bf[i])           ? NAN
                        : (mx ? af[i] > bf[i] : af[i] < bf[i]) ? af[i]
                                                               : bf[i];
        else
            for (uint64_t i = 0; i < m; i++)
                oi[i] = (mx ? ai[i] > bi[i] : ai[i] < bi[i]) ? ai[i] : bi[i];
        break;
    }
    case ST_EXPR_I64: /* the argument is in OUT already: convert in place */
        if (t == STRATA_F64)
            for (uint64_t i = 0; i < m; i++) oi[i] = to_i64(af[i]);
        break;
    default: /* ST_EXPR_F64 */
        if (t != STRATA_F64)
            for (uint64_t i = 0; i < m; i++) of[i] = (double)ai[i];
    }
    if (n->b != NULL) c->top--;
}

/* The six comparisons OP of the M pairs X, Y (expressions of the row i) into OB: the same code
 * for i64 and f64 operands, arrays or a literal (eval_compare, compare_col_lit). */
#define ST_COMPARE6(X, Y)                                                                          \
    switch (op) {                                                                                  \
    case ST_EXPR_LT:                                                                               \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) < (Y);                                        \
        break;                                                                                     \
    case ST_EXPR_LE:                                                                               \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) <= (Y);                                       \
        break;                                                                                     \
    case ST_EXPR_GT:                                                                               \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) > (Y);                                        \
        break;                                                                                     \
    case ST_EXPR_GE:                                                                               \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) >= (Y);                                       \
        break;                                                                                     \
    case ST_EXPR_EQ:                                                                               \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) == (Y);                                       \
        break;                                                                                     \
    default:                                                                                       \
        for (uint64_t i = 0; i < m; i++) ob[i] = (X) != (Y);                                       \
        break;                                                                                     \
    }

/* The comparison OP of the M values A and B (both of type T, i64 or f64) into OB. */
static void eval_compare(int op, strata_dtype t, uint64_t m, const void *a, const void *b,
                         uint8_t *ob)
{
    const int64_t *ai = a, *bi = b;
    const double *af = a, *bf = b;
    if (t == STRATA_F64) {
        ST_COMPARE6(af[i], bf[i])
    } else {
        ST_COMPARE6(ai[i], bi[i])
    }
}

/* The arithmetic OP (+ - * / %) of the M values A and B (both of type T) into OUT. */
static void eval_arith(int op, strata_dtype t, uint64_t m, const void *a, const void *b, void *out)
{
    const int64_t *ai = a, *bi = b;
    const double *af = a, *bf = b;
    int64_t *oi = out;
    double *of = out;
    if (t == STRATA_F64) {
        switch (op) {
        case ST_EXPR_ADD:
            for (uint64_t i = 0; i < m; i++) of[i] = af[i] + bf[i];
            break;
        case ST_EXPR_SUB:
            for (uint64_t i = 0; i < m; i++) of[i] = af[i] - bf[i];
            break;
        case ST_EXPR_MUL:
            for (uint64_t i = 0; i < m; i++) of[i] = af[i] * bf[i];
            break;
        case ST_EXPR_DIV:
            for (uint64_t i = 0; i < m; i++) of[i] = af[i] / bf[i];
            break;
        default:
            for (uint64_t i = 0; i < m; i++) of[i] = fmod(af[i], bf[i]);
            break;
        }
        return;
    }
    switch (op) {
    case ST_EXPR_ADD:
        for (uint64_t i = 0; i < m; i++) oi[i] = wrap_add(ai[i], bi[i]);
        break;
    case ST_EXPR_SUB:
        for (uint64_t i = 0; i < m; i++) oi[i] = wrap_sub(ai[i], bi[i]);
        break;
    case ST_EXPR_MUL:
        for (uint64_t i = 0; i < m; i++) oi[i] = wrap_mul(ai[i], bi[i]);
        break;
    case ST_EXPR_DIV:
        for (uint64_t i = 0; i < m; i++) oi[i] = idiv(ai[i], bi[i]);
        break;
    default:
        for (uint64_t i = 0; i < m; i++) oi[i] = imod(ai[i], bi[i]);
        break;
    }
}

/* The comparison N of a column of 8-byte values already of its operands' type T (i64 or ts
 * for i64, f64 for f64) with a literal, into OB: the values read where they lie and the literal
 * taken once, instead of both copied into temporaries. 0: N is not of that shape. */
static int compare_col_lit(evalctx *c, const node *n, strata_dtype t, uint8_t *ob)
{
    const node *col = n->a, *lit = n->b;
    int op = n->op;
    if (col->kind != ST_EXPR_NAME) { /* literal OP column: column OP' literal */
        col = n->b;
        lit = n->a;
        op = op == ST_EXPR_LT   ? ST_EXPR_GT
             : op == ST_EXPR_GT ? ST_EXPR_LT
             : op == ST_EXPR_LE ? ST_EXPR_GE
             : op == ST_EXPR_GE ? ST_EXPR_LE
                                : op;
    }
    if (col->kind != ST_EXPR_NAME || (lit->kind != ST_EXPR_INT && lit->kind != ST_EXPR_FLOAT))
        return 0;
    int ints = t == STRATA_I64 && (col->coltype == STRATA_I64 || col->coltype == STRATA_TS) &&
               lit->kind == ST_EXPR_INT;
    if (!ints && !(t == STRATA_F64 && col->coltype == STRATA_F64)) return 0;
    uint64_t m = c->m;
    const int64_t *ai = (const int64_t *)c->in[col->col].data + c->lo;
    const double *af = (const double *)c->in[col->col].data + c->lo;
    int64_t ki = lit->i;
    double kf = lit->kind == ST_EXPR_INT ? (double)lit->i : lit->f;
    if (ints) {
        ST_COMPARE6(ai[i], ki)
    } else {
        ST_COMPARE6(af[i], kf)
    }
    return 1;
}

/* A binary node: string == and !=, and / or, a comparison or arithmetic, into OUT. */
static void eval_bin(evalctx *c, const node *n, void *out)
{
    uint64_t m = c->m;
    uint8_t *ob = out;
    if ((n->op == ST_EXPR_EQ || n->op == ST_EXPR_NE) && n->a->type == STRATA_STR) {
        eval_str_eq(c, n, ob);
        return;
    }
    if (n->op == ST_EXPR_AND || n->op == ST_EXPR_OR) {
        void *pa, *pb;
        eval_operands(c, n->a, n->b, STRATA_BOOL, STRATA_BOOL, out, &pa, &pb);
        const uint8_t *a = pa, *b = pb;
        if (n->op == ST_EXPR_AND)
            for (uint64_t i = 0; i < m; i++) ob[i] = a[i] & b[i];
        else
            for (uint64_t i = 0; i < m; i++) ob[i] = a[i] | b[i];
        c->top--;
        return;
    }
    strata_dtype t = n->a->type == STRATA_F64 || n->b->type == STRATA_F64 ? STRATA_F64 : STRATA_I64;
    if (n->op >= ST_EXPR_LT && compare_col_lit(c, n, t, ob)) return;
    void *a, *b;
    eval_operands(c, n->a, n->b, t, t, out, &a, &b);
    if (n->op >= ST_EXPR_LT)
        eval_compare(n->op, t, m, a, b, ob);
    else
        eval_arith(n->op, t, m, a, b, out);
    c->top--;
}

/* N over the current block into OUT (a slot of the caller's). */
static void eval(evalctx *c, const node *n, void *out)
{
    uint64_t m = c->m;
    int64_t *oi = out;
    double *of = out;
    uint8_t *ob = out;
    switch (n->kind) {
    case ST_EXPR_INT:
        for (uint64_t i = 0; i < m; i++) oi[i] = n->i;
        return;
    case ST_EXPR_FLOAT:
        for (uint64_t i = 0; i < m; i++) of[i] = n->f;
        return;
    case ST_EXPR_BOOL:
        memset(ob, (int)n->i, m);
        return;
    case ST_EXPR_NAME:
        load_col(c, n, out);
        return;
    case ST_EXPR_NEG:
        eval_as(c, n->a, n->type, out);
        if (n->type == STRATA_F64)
            for (uint64_t i = 0; i < m; i++) of[i] = -of[i];
        else
            for (uint64_t i = 0; i < m; i++) oi[i] = wrap_sub(0, oi[i]);
        return;
    case ST_EXPR_NOT:
        eval(c, n->a, out);
        for (uint64_t i = 0; i < m; i++) ob[i] = !ob[i];
        return;
    case ST_EXPR_CALL:
        eval_call(c, n, out);
        return;
    default:
        eval_bin(c, n, out);
        return;
    }
}

/* ---- nulls --------------------------------------------------------------------------------- */

static uint8_t *vpush(evalctx *c)
{
    assert(c->vtop < c->vcap);
    return c->masks + (size_t)(c->vtop++) * ST_EXPR_BLOCK;
}

static int eval_valid(evalctx *c, const node *n, uint8_t *mask);

/* The validity of A and B, the one needing more temporaries first: into MASK (1: all valid, MASK
 * not written) and *TB (a pushed mask the caller pops; 1: all valid, not written). */
static int valid_pair(evalctx *c, const node *a, const node *b, uint8_t *mask, uint8_t **tb,
                      int *vb, int *swapped)
{
    /* the heavier operand into MASK before the other's mask is pushed, as eval_operands does:
     * masks in use stay within the plan's bound, however deep the tree */
    *swapped = a->need < b->need;
    int v1 = eval_valid(c, *swapped ? b : a, mask);
    *tb = vpush(c);
    *vb = eval_valid(c, *swapped ? a : b, *tb);
    return v1;
}

/* Kleene logic: MASK := validity of A op B (op and, or) given the validity MASK of A and TB of B
 * and their values, computed again here (rare: only where an operand has nulls). */
static void valid_logic(evalctx *c, const node *n, uint8_t *mask, const uint8_t *tb, int swapped)
{
    uint8_t *xa = push(c), *xb = push(c); /* the values of the operands MASK and TB are of */
    eval(c, swapped ? n->b : n->a, xa);
    eval(c, swapped ? n->a : n->b, xb);
    int dominant = n->op == ST_EXPR_OR; /* the value that decides alone: false for and */
    for (uint64_t i = 0; i < c->m; i++)
        mask[i] = (uint8_t)((mask[i] & tb[i]) | (mask[i] & (xa[i] == dominant)) |
                            (tb[i] & (xb[i] == dominant)));
    c->top -= 2;
}

/* The validity of N over the block into MASK (one byte per row, 1 when valid): returns 1, MASK
 * not written, when every row is valid. */
static int eval_valid(evalctx *c, const node *n, uint8_t *mask)
{
    switch (n->kind) {
    case ST_EXPR_NAME: {
        const uint8_t *v = c->in[n->col].valid;
        if (v == NULL || st_bits_nulls(v, c->lo, c->m) == 0) return 1;
        for (uint64_t i = 0; i < c->m; i++) mask[i] = (uint8_t)st_bit(v, c->lo + i);
        return 0;
    }
    case ST_EXPR_NEG:
    case ST_EXPR_NOT:
        return eval_valid(c, n->a, mask);
    case ST_EXPR_CALL:
        if (n->op == ST_EXPR_IS_NULL) return 1;
        break;
    case ST_EXPR_BIN:
        break;
    default:
        return 1; /* a literal */
    }
    if (n->b == NULL) return eval_valid(c, n->a, mask);
    uint8_t *tb;
    int vb, swapped, va = valid_pair(c, n->a, n->b, mask, &tb, &vb, &swapped);
    if (va && vb) {
        c->vtop--;
        return 1;
    }
    if (va) memset(mask, 1, c->m);
    if (vb) memset(tb, 1, c->m);
    if (n->kind == ST_EXPR_BIN && (n->op == ST_EXPR_AND || n->op == ST_EXPR_OR))
        valid_logic(c, n, mask, tb, swapped);
    else
        for (uint64_t i = 0; i < c->m; i++) mask[i] &= tb[i];
    c->vtop--;
    return 0;
}

/* Whether any column E reads holds a null in rows [0, N). */
static int any_nulls(const st_expr *e, const st_expr_input *inputs, uint64_t n)
{
    if (inputs == NULL) return 0;
    for (int i = 0; i < e->ncols; i++)
        if (e->uses[i] && inputs[i].valid != NULL && st_bits_nulls(inputs[i].valid, 0, n) > 0)
            return 1;
    return 0;
}

/* The evaluation of block B of N rows, its temporaries in MINE: CAP value slots, then VCAP
 * validity masks. */
static evalctx block_ctx(const st_expr_input *in, uint64_t b, uint64_t n, char *mine, int cap,
                         int vcap)
{
    evalctx c = {
        in,  b * ST_EXPR_BLOCK, 0, mine, 0, cap, (uint8_t *)mine + (size_t)cap * ST_EXPR_SLOT, 0,
        vcap};
    c.m = n - c.lo < ST_EXPR_BLOCK ? n - c.lo : ST_EXPR_BLOCK;
    return c;
}

/* The temporaries of one evaluating thread of E: *CAP value slots and *VCAP validity masks (HAS:
 * an input has nulls), their bytes returned. */
static size_t stack_size(const st_expr *e, int has, int *cap, int *vcap)
{
    *cap = has ? 3 * e->slots + 4 : e->slots;
    *vcap = has ? 2 * e->slots + 4 : 0;
    return (size_t)*cap * ST_EXPR_SLOT + (size_t)*vcap * ST_EXPR_BLOCK;
}

int st_expr_eval(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n, void *out,
                 int nthreads)
{
    return st_expr_eval_nulls(err, e, inputs, n, out, NULL, NULL, nthreads);
}

int st_expr_eval_nulls(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n,
                       void *out, uint8_t *valid, uint64_t *nulls, int nthreads)
{
    if (nulls != NULL) *nulls = 0;
    if (n == 0) return STRATA_OK;
    if (valid != NULL) memset(valid, 0xFF, st_bits_bytes(n));
    int has = any_nulls(e, inputs, n);
    size_t esz = e->root->type == STRATA_BOOL ? 1 : 8;
    uint64_t nblocks = (n + ST_EXPR_BLOCK - 1) / ST_EXPR_BLOCK;
    int nt = nthreads < 1 ? 1 : nthreads;
    if ((uint64_t)nt > nblocks) nt = (int)nblocks;
    int cap, vcap;
    size_t per = stack_size(e, has, &cap, &vcap);
    char *stacks = malloc((size_t)nt * per);
    uint64_t *counts = calloc((size_t)nt, sizeof *counts);
    if (stacks == NULL || counts == NULL) {
        free(stacks);
        free(counts);
        return st_error(err, STRATA_ENOMEM, "out of memory evaluating an expression");
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t b = 0; b < nblocks; b++) {
        int t = st_thread_num();
        evalctx c = block_ctx(inputs, b, n, stacks + (size_t)t * per, cap, vcap);
        char *res = push(&c);
        eval(&c, e->root, res);
        memcpy((char *)out + c.lo * esz, res, c.m * esz);
        uint8_t *mask = has ? vpush(&c) : NULL;
        if (has && !eval_valid(&c, e->root, mask)) {
            for (uint64_t i = 0; i < c.m; i++) counts[t] += !mask[i];
            /* blocks are whole bytes of the bitmap (ST_EXPR_BLOCK % 8 == 0): no sharing */
            for (uint64_t i = 0; valid != NULL && i < c.m; i++)
                if (!mask[i]) st_bit_set(valid, c.lo + i, 0);
        }
    }
    for (int t = 0; nulls != NULL && t < nt; t++) *nulls += counts[t];
    free(stacks);
    free(counts);
    return STRATA_OK;
}

int st_expr_filter(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n,
                   uint64_t *out, uint64_t *count, int nthreads)
{
    *count = 0;
    if (e->root->type != STRATA_BOOL)
        return st_error(err, STRATA_ETYPE, "a filter needs a bool expression (a comparison)");
    if (n == 0) return STRATA_OK;
    uint64_t nblocks = (n + ST_EXPR_BLOCK - 1) / ST_EXPR_BLOCK;
    int nt = nthreads < 1 ? 1 : nthreads;
    if ((uint64_t)nt > nblocks) nt = (int)nblocks;
    int has = any_nulls(e, inputs, n);
    int cap, vcap;
    size_t per = stack_size(e, has, &cap, &vcap);
    char *stacks = malloc((size_t)nt * per);
    uint64_t *counts = calloc((size_t)nt, sizeof *counts);
    uint64_t *starts = calloc((size_t)nt, sizeof *starts);
    if (stacks == NULL || counts == NULL || starts == NULL) {
        free(stacks);
        free(counts);
        free(starts);
        return st_error(err, STRATA_ENOMEM, "out of memory filtering");
    }
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), team = st_team_size();
        uint64_t b0, b1;
        st_chunk(nblocks, t, team, &b0, &b1);
        /* this thread's rows start at row b0 * BLOCK: it writes from there, never further than
         * its own rows, so threads never touch each other's part of OUT */
        uint64_t o = b0 * ST_EXPR_BLOCK, end = b1 * ST_EXPR_BLOCK < n ? b1 * ST_EXPR_BLOCK : n;
        starts[t] = o;
        for (uint64_t b = b0; b < b1; b++) {
            evalctx c = block_ctx(inputs, b, n, stacks + (size_t)t * per, cap, vcap);
            uint8_t *mask = push(&c);
            eval(&c, e->root, mask);
            uint8_t *vm = has ? vpush(&c) : NULL; /* null is not true: the row is left out */
            if (has && !eval_valid(&c, e->root, vm))
                for (uint64_t i = 0; i < c.m; i++) mask[i] &= vm[i];
            for (uint64_t i = 0; i < c.m; i++) {
                if (o < end) out[o] = c.lo + i; /* kept only when selected: no data branch */
                o += mask[i];
            }
        }
        counts[t] = o - starts[t];
    }
    /* pack the threads' parts in order: each moves down, never over a part not yet moved */
    uint64_t total = 0;
    for (int t = 0; t < nt; t++) {
        if (counts[t] > 0 && starts[t] != total)
            memmove(out + total, out + starts[t], counts[t] * sizeof *out);
        total += counts[t];
    }
    *count = total;
    free(stacks);
    free(counts);
    free(starts);
    return STRATA_OK;
}
