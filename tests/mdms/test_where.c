/* Run conditions into SQL (src/mdms/where.c): names become the catalog's column expressions,
 * values parameters in order, parentheses are kept; a bad condition gives the parser's message
 * and no SQL. */
#include "mdms/where.h"
#include "test_util.h"
#include "util/vec.h"

/* The names of a schema with the attributes grid (int) and label (text), with EXEC's. */
static st_cat_where_name *names_of(int exec, size_t *n)
{
    static st_cat_attr_def defs[] = {{"grid", STRATA_ATTR_INT}, {"label", STRATA_ATTR_TEXT}};
    st_vec schema = {defs, 2, 2, sizeof defs[0]};
    st_err e;
    st_err_init(&e);
    st_cat_where_name *names = NULL;
    assert_int_equal(st_cat_where_names(&e, &schema, exec, &names, n), STRATA_OK);
    st_err_destroy(&e);
    return names;
}

static void conditions_become_sql_with_bound_values(void **state)
{
    (void)state;
    size_t nn;
    st_cat_where_name *names = names_of(1, &nn);
    st_err e;
    st_err_init(&e);
    st_cat_where w;
    assert_int_equal(st_mdms_where_sql(&e,
                                       "not ((grid == 1) or label <> \"x\") AND dataset = 't' "
                                       "or mean >= -1.5e2",
                                       names, nn, &w),
                     STRATA_OK);
    assert_string_equal(w.sql, "NOT ((a.\"grid\" = ?2) OR a.\"label\" != ?3) AND e.dataset = ?4 "
                               "OR e.mean >= ?5");
    assert_int_equal(w.nvals, 4);
    assert_int_equal(w.vals[0].type, STRATA_ATTR_INT);
    assert_int_equal(w.vals[0].i, 1);
    assert_int_equal(w.vals[1].type, STRATA_ATTR_TEXT);
    assert_string_equal(w.vals[1].s, "x");
    assert_string_equal(w.vals[2].s, "t");
    assert_int_equal(w.vals[3].type, STRATA_ATTR_FLOAT);
    assert_true(w.vals[3].f == -150.0);
    st_mdms_where_clear(&w);
    /* no condition: every run */
    assert_int_equal(st_mdms_where_sql(&e, "  ", names, nn, &w), STRATA_OK);
    assert_string_equal(w.sql, "1 = 1");
    assert_int_equal(w.nvals, 0);
    st_mdms_where_clear(&w);
    assert_int_equal(st_mdms_where_sql(&e, NULL, names, nn, &w), STRATA_OK);
    assert_string_equal(w.sql, "1 = 1");
    st_mdms_where_clear(&w);
    /* the user's text never reaches the SQL: a value with quotes is a parameter */
    assert_int_equal(st_mdms_where_sql(&e, "label = \"'); DROP TABLE run; --\"", names, nn, &w),
                     STRATA_OK);
    assert_string_equal(w.sql, "a.\"label\" = ?2");
    assert_string_equal(w.vals[0].s, "'); DROP TABLE run; --");
    st_mdms_where_clear(&w);
    st_err_destroy(&e);
    free(names);
}

/* WHERE over the run names is refused with exactly WANT and no SQL. */
static void where_refused(const char *where, const char *want)
{
    size_t nn;
    st_cat_where_name *names = names_of(0, &nn);
    st_err e;
    st_err_init(&e);
    st_cat_where w;
    int rc = st_mdms_where_sql(&e, where, names, nn, &w);
    if (rc != STRATA_EINVAL) fail_msg("'%s': %s, not EINVAL", where, strata_errname(rc));
    assert_null(w.sql);
    assert_int_equal(w.nvals, 0);
    if (strcmp(e.msg, want) != 0) fail_msg("message '%s', expected '%s'", e.msg, want);
    st_err_destroy(&e);
    free(names);
}

static void bad_conditions_say_what_and_where(void **state)
{
    (void)state;
    where_refused("gird = 3", "bad condition 'gird = 3' at column 1: unknown name 'gird' (known: "
                              "grid, label, run, user, status, nprocs, started, ended)");
    where_refused("mean > 3", "bad condition 'mean > 3' at column 1: unknown name 'mean' (known: "
                              "grid, label, run, user, status, nprocs, started, ended)");
    where_refused("grid = = 3",
                  "bad condition 'grid = = 3' at column 8: expected a number or a 'string'");
    where_refused("grid >", "bad condition 'grid >' at column 7: expected a number or a 'string'");
    where_refused("label = 'x", "bad condition 'label = 'x' at column 11: unterminated string");
    where_refused(
        "grid = 1 grid = 2",
        "bad condition 'grid = 1 grid = 2' at column 10: expected 'and', 'or' or the end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conditions_become_sql_with_bound_values),
        cmocka_unit_test(bad_conditions_say_what_and_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
