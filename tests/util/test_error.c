/* Error model: every code has a message and a name, errno maps to codes, messages format. */
#include <errno.h>

#include "test_util.h"
#include "util/error.h"
#include "util/name.h"

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

/* Debug builds: "src/util/name.c:NN", the place in the library's source; release builds: "". */
static void assert_where_is_in(const char *where, const char *file)
{
#ifdef NDEBUG
    (void)file;
    assert_string_equal(where, "");
#else
    size_t n = strlen(file);
    if (strncmp(where, file, n) != 0 || where[n] != ':' || atoi(where + n + 1) <= 0)
        fail_msg("failure recorded at '%s', expected '%s:LINE'", where, file);
#endif
}

static void errwhere_names_the_source_file_that_detected_the_failure(void **state)
{
    (void)state;
    st_err e;
    st_err_init(&e);
    assert_string_equal(st_err_where(&e), "");
    assert_int_equal(st_name_check(&e, "column", ""), STRATA_ENAME);
    assert_where_is_in(st_err_where(&e), "src/util/name.c");
    assert_string_equal(st_err_where(NULL), "");
    st_err_destroy(&e);
}

static void a_wrapped_failure_keeps_the_inner_place_a_new_one_does_not(void **state)
{
    (void)state;
    st_err e;
    st_err_init(&e);
    assert_int_equal(st_name_check(&e, "column", "a/b"), STRATA_ENAME);
    char why[ST_ERRMSG_MAX];
    st_err_copy(&e, why, sizeof why);
    /* an outer layer adds its context: the place stays the inner one */
    st_error(&e, STRATA_EINVAL, "f.csv:1: bad header field 1: %s", why);
    assert_where_is_in(st_err_where(&e), "src/util/name.c");
    /* an unrelated failure is recorded where it happened */
    st_error(&e, STRATA_EIO, "something else");
#ifdef NDEBUG
    assert_string_equal(st_err_where(&e), "");
#else
    if (strstr(st_err_where(&e), "test_error.c:") == NULL)
        fail_msg("failure recorded at '%s', expected test_error.c", st_err_where(&e));
#endif
    st_err_destroy(&e);
}

static void strata_errwhere_reports_the_place_of_a_pool_failure(void **state)
{
    (void)state;
    assert_string_equal(strata_errwhere(NULL), "");
    char *path = scratch_path("where");
    strata_pool *p = NULL;
    assert_int_equal(strata_pool_create(path, &p), STRATA_OK);
    assert_string_equal(strata_errwhere(p), "");
    assert_status(p, strata_region_create(p, "bad/name"), STRATA_ENAME);
    assert_where_is_in(strata_errwhere(p), "src/util/name.c");
    strata_pool_close(p);
    scratch_free(path);
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
        cmocka_unit_test(errwhere_names_the_source_file_that_detected_the_failure),
        cmocka_unit_test(a_wrapped_failure_keeps_the_inner_place_a_new_one_does_not),
        cmocka_unit_test(strata_errwhere_reports_the_place_of_a_pool_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
