/* Access patterns: what parses, the exact errors of what does not, and grids that multiply past
 * any integer (found by fuzz_pattern: a signed overflow that could wrap around to the process
 * count and accept a grid that does not fit). */
#include "mdms/mdms_int.h"
#include "test_util.h"

static void refused(const char *text, int ndims, int nprocs, const char *want)
{
    st_err e;
    st_err_init(&e);
    st_pattern p;
    int rc = st_pattern_parse(&e, text, ndims, nprocs, &p);
    if (rc != STRATA_EINVAL) fail_msg("'%s': %s, not EINVAL", text, strata_errname(rc));
    if (strcmp(e.msg, want) != 0) fail_msg("message '%s', expected '%s'", e.msg, want);
    st_err_destroy(&e);
}

static void patterns_parse_with_their_grids(void **state)
{
    (void)state;
    st_pattern p;
    assert_int_equal(st_pattern_parse(NULL, "(BLOCK, cyclic(3), *) grid=2x3x1 read-only", 3, 6, &p),
                     STRATA_OK);
    assert_int_equal(p.kind[0], ST_DIST_BLOCK);
    assert_int_equal(p.kind[1], ST_DIST_CYCLIC);
    assert_int_equal(p.k[1], 3);
    assert_int_equal(p.kind[2], ST_DIST_NONE);
    assert_int_equal(p.grid[0] * p.grid[1] * p.grid[2], 6);
    assert_int_equal(p.mode, ST_MODE_RO);
    assert_int_equal(st_pattern_parse(NULL, "(BLOCK,BLOCK)", 2, 12, &p), STRATA_OK);
    assert_int_equal(p.grid[0] * p.grid[1], 12);
    assert_int_equal(st_pattern_parse(NULL, "(*,*)", 2, 3, &p), STRATA_OK);
    assert_true(p.replicated);
}

static void grids_that_do_not_fit_are_refused_exactly(void **state)
{
    (void)state;
    refused("(BLOCK,BLOCK,*) grid=2x3x1", 3, 4,
            "access pattern '(BLOCK,BLOCK,*) grid=2x3x1' has a grid of 6 processes, but there "
            "are 4; give a grid whose counts multiply to 4");
    /* 2^80: the product overflowed a long (undefined; UBSan stops there) */
    refused("(BLOCK,BLOCK,BLOCK,BLOCK) grid=1048576x1048576x1048576x1048576", 4, 4,
            "access pattern '(BLOCK,BLOCK,BLOCK,BLOCK) grid=1048576x1048576x1048576x1048576' "
            "has a grid of more than 2147483647 processes, but there are 4; give a grid whose "
            "counts multiply to 4");
    /* 2^160 */
    refused("(BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK) "
            "grid=1048576x1048576x1048576x1048576x1048576x1048576x1048576x1048576",
            8, 1,
            "access pattern '(BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK,BLOCK) "
            "grid=1048576x1048576x1048576x1048576x1048576x1048576x1048576x1048576' has a grid "
            "of more than 2147483647 processes, but there are 1; give a grid whose counts "
            "multiply to 1");
    refused("(BLOCK,*) grid=2x2", 2, 4,
            "bad access pattern '(BLOCK,*) grid=2x2': dimension 1 is '*', so its grid count "
            "must be 1, not 2");
    refused("(BLOCK,BLOCK) grid=0x4", 2, 4,
            "bad access pattern '(BLOCK,BLOCK) grid=0x4' at column 20: grid=AxB... needs a "
            "count >= 1 per dimension");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patterns_parse_with_their_grids),
        cmocka_unit_test(grids_that_do_not_fit_are_refused_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
