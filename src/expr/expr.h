/*
 * expr.h -- the expression language of filters and derived columns.
 *
 *   expr    := or ;  or := and ('or' and)* ;  and := not ('and' not)* ;  not := 'not' not | cmp
 *   cmp     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
 *   sum     := prod (('+' | '-') prod)* ;  prod := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | atom
 *   atom    := NUMBER | 'STRING' | true | false | COLUMN | FUNC '(' expr (',' expr)* ')'
 *            | '(' expr ')'
 *   FUNC    := abs | min | max | i64 | f64 | year | month | day | hour | minute | dow
 *            | floor_to | is_null
 *
 * Types: integer columns (and bool in arithmetic) compute as i64, floats as f64; an operation on
 * an i64 and an f64 is done in f64. Comparisons and and/or/not give bool; and/or/not take bools
 * only. Strings compare with == and != only (to a string literal or column). Integer arithmetic
 * wraps around on overflow (two's complement); integer x / 0 and x % 0 give 0; / on integers
 * truncates toward zero and % has the sign of the dividend (as in C). Floats follow IEEE 754:
 * x / 0.0 is ±inf or NaN; every comparison with NaN is false except !=. Errors name the place:
 * "expected a column name at 1:7".
 *
 * Limits: at most ST_EXPR_MAX_NODES operators and operands, and ST_EXPR_MAX_DEPTH levels of
 * nesting (each '(', unary '-', 'not' and function call adds one). Longer or deeper text is
 * refused with STRATA_EINVAL naming the place, so that parsing and evaluation use bounded stack
 * and scratch memory whatever the text: evaluation takes at most log2(leaves) + 2 temporaries of
 * 32 KiB per thread.
 *
 * Run conditions (the --where of `strata runs` and `strata find`; ST_EXPR_LANG_COND) are a
 * dialect of the language with comparisons of a name with a value only:
 *
 *   cond    := and ('or' and)* ;  and := not ('and' not)* ;
 *   not     := 'not' not | '(' cond ')' | NAME OP VALUE
 *   OP      := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>='
 *   VALUE   := NUMBER | 'STRING' | "STRING"
 *
 * Keywords in any case; a NAME is letters, digits and '_'; a number is what C's strtoll (base
 * 10) or else strtod reads (a sign, 1e3, inf, nan); strings have no escapes; empty text is no
 * condition. Errors quote the text and give the column: "bad condition 'x = ' at column 5:
 * expected a number or a 'string'". Limits: ST_EXPR_COND_MAX_DEPTH levels of nesting ('not' and
 * '(' each add one) and ST_EXPR_COND_MAX_CMP comparisons.
 */
#ifndef STRATA_EXPR_H
#define STRATA_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define ST_EXPR_MAX_NODES      1024
#define ST_EXPR_MAX_DEPTH      64
#define ST_EXPR_COND_MAX_DEPTH 64
#define ST_EXPR_COND_MAX_CMP   256

typedef struct st_expr st_expr;

/* ---- the syntax tree ------------------------------------------------------------------------ */

typedef enum st_expr_kind {
    ST_EXPR_INT,   /* i */
    ST_EXPR_FLOAT, /* f */
    ST_EXPR_BOOL,  /* i: 0 or 1 */
    ST_EXPR_STR,   /* s, slen */
    ST_EXPR_NAME,  /* a column or attribute: s (in trees from st_expr_parse_tree), col */
    ST_EXPR_NEG,   /* -a */
    ST_EXPR_NOT,   /* not a */
    ST_EXPR_BIN,   /* a op b, op an st_expr_op */
    ST_EXPR_CALL   /* op(a) or op(a, b), op an st_expr_func */
} st_expr_kind;

typedef enum st_expr_op {
    ST_EXPR_ADD,
    ST_EXPR_SUB,
    ST_EXPR_MUL,
    ST_EXPR_DIV,
    ST_EXPR_MOD,
    ST_EXPR_LT,
    ST_EXPR_LE,
    ST_EXPR_GT,
    ST_EXPR_GE,
    ST_EXPR_EQ,
    ST_EXPR_NE,
    ST_EXPR_AND,
    ST_EXPR_OR
} st_expr_op;

typedef enum st_expr_func {
    ST_EXPR_ABS,
    ST_EXPR_MIN,
    ST_EXPR_MAX,
    ST_EXPR_I64,
    ST_EXPR_F64,
    ST_EXPR_YEAR, /* the calendar fields of a timestamp, in UTC: i64 */
    ST_EXPR_MONTH,
    ST_EXPR_DAY,
    ST_EXPR_HOUR,
    ST_EXPR_MINUTE,
    ST_EXPR_DOW,      /* day of the week, Monday 0 (pandas' dayofweek) */
    ST_EXPR_FLOOR_TO, /* floor_to(ts, 'hour'): the unit's nanoseconds in the node's i */
    ST_EXPR_IS_NULL   /* is_null(x): bool, never null */
} st_expr_func;

/* One node of a parsed expression. A tree is plain data: its users walk it. */
typedef struct st_expr_node {
    st_expr_kind kind;
    int op;    /* BIN: an st_expr_op; CALL: an st_expr_func */
    int64_t i; /* INT; BOOL: 0 or 1 */
    double f;  /* FLOAT */
    char *s;   /* STR: slen bytes and a NUL; NAME: the name (trees of st_expr_parse_tree) */
    size_t slen;
    size_t at;  /* byte offset in the text of the node (BIN: of its operator; NAME in a
                 * condition: of the name, and the comparison's BIN too) */
    int parens; /* pairs of parentheses written around the node (conditions only) */
    struct st_expr_node *a, *b; /* operands (b: BIN, and CALL of min and max) */
    /* set by st_expr_parse() only, which binds names to columns and types every node: */
    strata_dtype type; /* STRATA_I64, STRATA_F64, STRATA_BOOL, STRATA_STR or STRATA_TS */
    int col;           /* NAME: the column's index */
    strata_dtype coltype;
    int need; /* temporaries its evaluation takes besides its output (expr.c) */
} st_expr_node;

/* Which language st_expr_parse_tree() reads. */
typedef enum st_expr_lang {
    ST_EXPR_LANG_EXPR = 0, /* the expression language */
    ST_EXPR_LANG_COND = 1  /* run conditions */
} st_expr_lang;

/* How to parse; all zero: the expression language, any name. */
typedef struct st_expr_syntax {
    st_expr_lang lang;
    /* when not NULL, the only NNAMES names the text may use: another is refused where it is read
     * (before the text after it), and a condition's message lists these */
    const char *const *names;
    size_t nnames;
} st_expr_syntax;

/* Parse TEXT into a syntax tree without binding its names or checking types (SYNTAX NULL: all
 * zero). *OUT is the root, owned by the caller: st_expr_tree_free(); an empty condition gives
 * STRATA_OK and a NULL tree. STRATA_EINVAL with a message naming the place for bad text (the
 * messages of st_expr_parse(), or a condition's), STRATA_ENOMEM. */
int st_expr_parse_tree(st_err *err, const char *text, const st_expr_syntax *syntax,
                       st_expr_node **out);
void st_expr_tree_free(st_expr_node *root);

/* Parse and type-check TEXT against the NCOLS columns COLS. *out: st_expr_free(). */
int st_expr_parse(st_err *err, const char *text, const strata_column *cols, int ncols,
                  st_expr **out);
void st_expr_free(st_expr *e);

/* The result type: STRATA_I64, STRATA_F64, STRATA_BOOL or STRATA_TS (int64 ns, as i64). */
strata_dtype st_expr_type(const st_expr *e);

/* The scratch memory one evaluating thread takes for E, in bytes (the evaluation plan's
 * temporaries: 1 + log2 of E's leaves at most, of ST_EXPR_BLOCK values each). */
size_t st_expr_scratch(const st_expr *e);

/* Whether column I is used by E. */
int st_expr_uses(const st_expr *e, int col);

/* A column's data for evaluation: numeric values, or string offsets and bytes, and which rows
 * are null. */
typedef struct st_expr_input {
    const void *data;     /* values (strings: the n+1 offsets) */
    const char *bytes;    /* strings: the bytes */
    const uint8_t *valid; /* a validity bitmap (util/bits.h); NULL: no nulls */
} st_expr_input;

/* Evaluate E over N rows; INPUTS[i] holds column i (only the used ones are read). OUT receives
 * N values of st_expr_type(E) (bool: one byte, 0 or 1). Returns STRATA_OK or STRATA_ENOMEM. */
int st_expr_eval(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n, void *out,
                 int nthreads);

/* As st_expr_eval, with nulls as in SQL: an operation or function with a null operand is null,
 * except that false and null is false and true or null is true (Kleene logic). VALID (room for
 * N bits, may be NULL) receives the result's validity bitmap and *NULLS (may be NULL) how many
 * rows are null; a null row's value is unspecified. With no input column holding a null this is
 * st_expr_eval and VALID is all set. */
int st_expr_eval_nulls(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n,
                       void *out, uint8_t *valid, uint64_t *nulls, int nthreads);

/* The positions of the rows where the bool expression E holds (is true, not null), in order, into
 * OUT (room for N positions); *COUNT receives how many. Each block's mask is compacted while it is
 * in cache (no mask array is written), in parallel; the result is the same for any thread count. */
int st_expr_filter(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n,
                   uint64_t *out, uint64_t *count, int nthreads);

#endif /* STRATA_EXPR_H */
