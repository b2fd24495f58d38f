/*
 * expr.h -- the expression language of filters and derived columns.
 *
 *   expr    := or ;  or := and ('or' and)* ;  and := not ('and' not)* ;  not := 'not' not | cmp
 *   cmp     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
 *   sum     := prod (('+' | '-') prod)* ;  prod := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | atom
 *   atom    := NUMBER | 'STRING' | true | false | COLUMN | FUNC '(' expr (',' expr)* ')'
 *            | '(' expr ')'
 *   FUNC    := abs | min | max | i64 | f64
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
 */
#ifndef STRATA_EXPR_H
#define STRATA_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define ST_EXPR_MAX_NODES 1024
#define ST_EXPR_MAX_DEPTH 64

typedef struct st_expr st_expr;

/* Parse and type-check TEXT against the NCOLS columns COLS. *out: st_expr_free(). */
int st_expr_parse(st_err *err, const char *text, const strata_column *cols, int ncols,
                  st_expr **out);
void st_expr_free(st_expr *e);

/* The result type: STRATA_I64, STRATA_F64 or STRATA_BOOL. */
strata_dtype st_expr_type(const st_expr *e);

/* The scratch memory one evaluating thread takes for E, in bytes (the evaluation plan's
 * temporaries: 1 + log2 of E's leaves at most, of ST_EXPR_BLOCK values each). */
size_t st_expr_scratch(const st_expr *e);

/* Whether column I is used by E. */
int st_expr_uses(const st_expr *e, int col);

/* A column's data for evaluation: numeric values, or string offsets and bytes. */
typedef struct st_expr_input {
    const void *data;  /* values (strings: the n+1 offsets) */
    const char *bytes; /* strings: the bytes */
} st_expr_input;

/* Evaluate E over N rows; INPUTS[i] holds column i (only the used ones are read). OUT receives
 * N values of st_expr_type(E) (bool: one byte, 0 or 1). Returns STRATA_OK or STRATA_ENOMEM. */
int st_expr_eval(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n, void *out,
                 int nthreads);

/* The positions of the rows where the bool expression E holds, in order, into OUT (room for N
 * positions); *COUNT receives how many. Each block's mask is compacted while it is in cache (no
 * mask array is written), in parallel; the result is the same for any thread count. */
int st_expr_filter(st_err *err, const st_expr *e, const st_expr_input *inputs, uint64_t n,
                   uint64_t *out, uint64_t *count, int nthreads);

#endif /* STRATA_EXPR_H */
