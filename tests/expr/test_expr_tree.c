/* st_expr_parse_tree: the expression language and the run-condition dialect parsed into a tree
 * without binding names, with the same messages, places and limits as before. */
#include "expr/expr.h"
#include "test_util.h"

/* TEXT (in LANG, names NAMES or any) parses; *OUT the root. */
static st_expr_node *tree_of(const char *text, st_expr_lang lang, const char *const *names,
                             size_t nnames)
{
    st_err e;
    st_err_init(&e);
    st_expr_syntax syn = {lang, names, nnames};
    st_expr_node *root = NULL;
    if (st_expr_parse_tree(&e, text, &syn, &root) != STRATA_OK)
        fail_msg("'%s' refused: %s", text, e.msg);
    st_err_destroy(&e);
    return root;
}

/* TEXT is refused with STRATA_EINVAL and exactly WANT, and no tree. */
static void refused(const char *text, st_expr_lang lang, const char *const *names, size_t nnames,
                    const char *want)
{
    st_err e;
    st_err_init(&e);
    st_expr_syntax syn = {lang, names, nnames};
    st_expr_node *root = (st_expr_node *)&e;
    int rc = st_expr_parse_tree(&e, text, &syn, &root);
    if (rc != STRATA_EINVAL) fail_msg("'%s': %s, not EINVAL", text, strata_errname(rc));
    assert_null(root);
    if (strcmp(e.msg, want) != 0) fail_msg("message '%s', expected '%s'", e.msg, want);
    st_err_destroy(&e);
}

static void an_expression_parses_to_a_tree_of_unbound_names(void **state)
{
    (void)state;
    st_expr_node *t = tree_of("fare * 2 > \"two words\" and not paid", ST_EXPR_LANG_EXPR, NULL, 0);
    assert_int_equal(t->kind, ST_EXPR_BIN);
    assert_int_equal(t->op, ST_EXPR_AND);
    const st_expr_node *gt = t->a;
    assert_int_equal(gt->op, ST_EXPR_GT);
    assert_int_equal(gt->at, 9);
    assert_int_equal(gt->a->op, ST_EXPR_MUL);
    assert_int_equal(gt->a->a->kind, ST_EXPR_NAME);
    assert_string_equal(gt->a->a->s, "fare");
    assert_int_equal(gt->a->b->kind, ST_EXPR_INT);
    assert_int_equal(gt->a->b->i, 2);
    assert_string_equal(gt->b->s, "two words");
    assert_int_equal(t->b->kind, ST_EXPR_NOT);
    assert_string_equal(t->b->a->s, "paid");
    st_expr_tree_free(t);
    /* no types are checked without columns: the binding does that */
    t = tree_of("'a' + min(x, 1.5)", ST_EXPR_LANG_EXPR, NULL, 0);
    assert_int_equal(t->a->kind, ST_EXPR_STR);
    assert_int_equal(t->b->kind, ST_EXPR_CALL);
    assert_int_equal(t->b->op, ST_EXPR_MIN);
    assert_true(t->b->b->f == 1.5);
    st_expr_tree_free(t);
    st_expr_tree_free(NULL);
}

static void an_expression_tree_keeps_the_parser_messages(void **state)
{
    (void)state;
    static const char *const names[] = {"fare", "zone"};
    refused("fare >", ST_EXPR_LANG_EXPR, NULL, 0, "unexpected end of expression at 1:7");
    refused("fare = 3", ST_EXPR_LANG_EXPR, NULL, 0, "use '==' to compare at 1:6");
    refused("fare > 3 junk", ST_EXPR_LANG_EXPR, NULL, 0,
            "unexpected text after the expression at 1:10");
    refused("foo > 3 +", ST_EXPR_LANG_EXPR, names, 2, "unknown column 'foo' at 1:1");
    refused(NULL, ST_EXPR_LANG_EXPR, NULL, 0, "no expression given");
}

static void a_condition_parses_to_comparisons_of_names_with_values(void **state)
{
    (void)state;
    st_expr_node *t =
        tree_of("NOT (grid = 1 Or dump <> \"x\") and run >= -2.5e1", ST_EXPR_LANG_COND, NULL, 0);
    assert_int_equal(t->op, ST_EXPR_AND);
    assert_int_equal(t->parens, 0);
    const st_expr_node *no = t->a;
    assert_int_equal(no->kind, ST_EXPR_NOT);
    assert_int_equal(no->a->op, ST_EXPR_OR);
    assert_int_equal(no->a->parens, 1);
    const st_expr_node *c = no->a->b;
    assert_int_equal(c->op, ST_EXPR_NE);
    assert_string_equal(c->a->s, "dump");
    assert_int_equal(c->b->kind, ST_EXPR_STR);
    assert_string_equal(c->b->s, "x");
    assert_int_equal(t->b->op, ST_EXPR_GE);
    assert_int_equal(t->b->b->kind, ST_EXPR_FLOAT);
    assert_true(t->b->b->f == -25.0);
    assert_int_equal(no->a->a->b->kind, ST_EXPR_INT);
    st_expr_tree_free(t);
    /* blank is no condition */
    assert_null(tree_of(" \t", ST_EXPR_LANG_COND, NULL, 0));
    assert_null(tree_of(NULL, ST_EXPR_LANG_COND, NULL, 0));
}

static void a_bad_condition_is_refused_with_its_column(void **state)
{
    (void)state;
    static const char *const names[] = {"grid", "run"};
    refused("grid = = 3", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'grid = = 3' at column 8: expected a number or a 'string'");
    refused("grid   3", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'grid   3' at column 8: expected a comparison (= != < <= > >=)");
    refused("gird = 3 and (", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'gird = 3 and (' at column 1: unknown name 'gird' (known: grid, run)");
    refused("run = 'x", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'run = 'x' at column 9: unterminated string");
    refused("run = 1 andy", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'run = 1 andy' at column 9: expected 'and', 'or' or the end");
    refused("(run = 1", ST_EXPR_LANG_COND, names, 2,
            "bad condition '(run = 1' at column 9: expected ')'");
    refused("run = 1 or", ST_EXPR_LANG_COND, names, 2,
            "bad condition 'run = 1 or' at column 11: expected a name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_expression_parses_to_a_tree_of_unbound_names),
        cmocka_unit_test(an_expression_tree_keeps_the_parser_messages),
        cmocka_unit_test(a_condition_parses_to_comparisons_of_names_with_values),
        cmocka_unit_test(a_bad_condition_is_refused_with_its_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
