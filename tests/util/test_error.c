/* Error model: every code has a message and a name, errno maps to codes, messages format. */
#include <errno.h>

#include "test_util.h"
#include "util/error.h"

static void every_code_has_a_distinct_message_and_name(void **state)
{
    (void)state;
    static const int codes[] = {
#define C(name, code, msg) code,
        STRATA_ERRNO_MAP(C)
#undef C
    };
    size_t n = sizeof codes / sizeof codes[0];
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(strata_strerror(codes[i]), "unknown error");
        assert_string_not_equal(strata_errname(codes[i]), "STRATA_EUNKNOWN");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(strata_strerror(codes[i]), strata_strerror(codes[j]));
        }
    }
    assert_string_equal(strata_errname(STRATA_ENOTFOUND), "STRATA_ENOTFOUND");
    assert_string_equal(strata_strerror(STRATA_ENOTFOUND), "not found");
    assert_int_equal(STRATA_OK, 0);
}

static void unknown_codes_are_named_unknown(void **state)
{
    (void)state;
    assert_string_equal(strata_strerror(-999), "unknown error");
    assert_string_equal(strata_errname(42), "STRATA_EUNKNOWN");
}

static void the_issue_names_exist(void **state)
{
    (void)state;
    int codes[] = {STRATA_ENOTFOUND, STRATA_EEXIST,      STRATA_EINVAL,  STRATA_ETYPE,
                   STRATA_ERANGE,    STRATA_ENAME,       STRATA_ELOCKED, STRATA_ENOSPC,
                   STRATA_EIO,       STRATA_ECORRUPT,    STRATA_ENOMEM,  STRATA_ECONFLICT,
                   STRATA_EPERM,     STRATA_EUNSUPPORTED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) assert_true(codes[i] < 0);
}

static void errno_maps_to_codes(void **state)
{
    (void)state;
    assert_int_equal(st_code_from_errno(ENOSPC), STRATA_ENOSPC);
    assert_int_equal(st_code_from_errno(ENOENT), STRATA_ENOTFOUND);
    assert_int_equal(st_code_from_errno(EACCES), STRATA_EPERM);
    assert_int_equal(st_code_from_errno(EROFS), STRATA_EPERM);
    assert_int_equal(st_code_from_errno(ENOMEM), STRATA_ENOMEM);
    assert_int_equal(st_code_from_errno(EIO), STRATA_EIO);
    assert_int_equal(st_code_from_errno(EEXIST), STRATA_EEXIST);
}

static void messages_format_and_errno_text_is_appended(void **state)
{
    (void)state;
    st_err e;
    st_err_init(&e);
    assert_int_equal(st_error(&e, STRATA_ERANGE, "index %d of '%s'", 7, "r/a"), STRATA_ERANGE);
    assert_string_equal(e.msg, "index 7 of 'r/a'");
    assert_int_equal(e.code, STRATA_ERANGE);
    assert_int_equal(st_error_errno(&e, ENOSPC, "cannot write '%s'", "f"), STRATA_ENOSPC);
    assert_string_equal(e.msg, "cannot write 'f': No space left on device");
    char buf[8];
    st_err_copy(&e, buf, sizeof buf);
    assert_string_equal(buf, "cannot ");
    assert_int_equal(st_error(NULL, STRATA_EIO, "no context"), STRATA_EIO);
    st_err_destroy(&e);
}

static void errmsg_of_null_pool_is_text(void **state)
{
    (void)state;
    assert_non_null(strata_errmsg(NULL));
    assert_true(strlen(strata_errmsg(NULL)) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_message_and_name),
        cmocka_unit_test(unknown_codes_are_named_unknown),
        cmocka_unit_test(the_issue_names_exist),
        cmocka_unit_test(errno_maps_to_codes),
        cmocka_unit_test(messages_format_and_errno_text_is_appended),
        cmocka_unit_test(errmsg_of_null_pool_is_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
