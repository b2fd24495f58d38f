/* Names: what is accepted and what fails with STRATA_ENAME, and the message. */
#include "test_util.h"
#include "util/name.h"

static void good_names_pass(void **state)
{
    (void)state;
    const char *good[] = {"a", "taxi", "trips_2024-01", "x.y", "résumé", "温度", "a b", "a.b.c"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(st_name_check(NULL, "array", good[i]), STRATA_OK);
    char max[STRATA_NAME_MAX + 1];
    memset(max, 'n', STRATA_NAME_MAX);
    max[STRATA_NAME_MAX] = '\0';
    assert_int_equal(st_name_check(NULL, "array", max), STRATA_OK);
}

static void bad_names_fail_with_ename_and_say_why(void **state)
{
    (void)state;
    st_err e;
    st_err_init(&e);
    struct {
        const char *name, *why;
    } bad[] = {
        {"", "is empty"},          {"a/b", "contains '/'"},   {"..", "contains '..'"},
        {"a..b", "contains '..'"}, {"../x", "contains '..'"}, {".", "reserved"},
        {"a\tb", "control"},       {"a\nb", "control"},       {"\x7f", "control"},
        {"-x", "starts with '-'"}, {"a\\b", "contains '\\'"}, {"\xff", "UTF-8"},
        {"\xc0\xaf", "UTF-8"},     {"\xed\xa0\x80", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(st_name_check(&e, "array", bad[i].name), STRATA_ENAME);
        if (strstr(e.msg, bad[i].why) == NULL)
            fail_msg("name %zu: message '%s' lacks '%s'", i, e.msg, bad[i].why);
        assert_non_null(strstr(e.msg, "array name"));
    }
    assert_int_equal(st_name_check(&e, "region", NULL), STRATA_ENAME);
    st_err_destroy(&e);
}

static void names_over_255_bytes_fail(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    st_err e;
    st_err_init(&e);
    assert_int_equal(st_name_check(&e, "region", big), STRATA_ENAME);
    assert_non_null(strstr(e.msg, "255"));
    big[256] = '\0';
    assert_int_equal(st_name_check(NULL, "region", big), STRATA_ENAME);
    st_err_destroy(&e);
}

static void embedded_nul_fails(void **state)
{
    (void)state;
    st_err e;
    st_err_init(&e);
    assert_int_equal(st_name_check_len(&e, "array", "ab\0cd", 5), STRATA_ENAME);
    assert_non_null(strstr(e.msg, "NUL"));
    assert_int_equal(st_name_check_len(NULL, "array", "abcd", 4), STRATA_OK);
    st_err_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_names_pass),
        cmocka_unit_test(bad_names_fail_with_ename_and_say_why),
        cmocka_unit_test(names_over_255_bytes_fail),
        cmocka_unit_test(embedded_nul_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
