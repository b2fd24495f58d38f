/*
 * where.h -- run conditions (the --where of `strata runs`, `strata find` and of opening an
 * association by query): the user's text is parsed by src/expr (ST_EXPR_LANG_COND) and the tree
 * written as SQL for the catalog, which only runs it.
 */
#ifndef STRATA_MDMS_WHERE_H
#define STRATA_MDMS_WHERE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "util/error.h"

/* Translate the condition WHERE (NULL or blank: every run, "1") into *OUT, over the NNAMES names
 * NAMES (st_cat_where_names()): each name becomes its sql, each value a parameter (?2 ...), the
 * operators and parentheses the SQL ones. Nothing of the user's text reaches the SQL.
 * STRATA_EINVAL with the message of src/expr for a bad condition ("bad condition '...' at
 * column N: ..."), STRATA_ENOMEM. *OUT: st_mdms_where_clear(), also after a failure. */
int st_mdms_where_sql(st_err *err, const char *where, const st_cat_where_name *names, size_t nnames,
                      st_cat_where *out);
void st_mdms_where_clear(st_cat_where *w);

/* WHERE over the names of REGION_ID's runs (its name APP; with the execution names when EXEC),
 * as st_mdms_where_sql(). The application's schema is read from CAT. */
int st_mdms_where_compile(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                          const char *where, int exec, st_cat_where *out);

/* The id of the latest run of REGION_ID (its name APP) matching WHERE; STRATA_ENOTFOUND with
 * "no run of 'APP' matches 'WHERE'" if none. */
int st_mdms_run_match(st_err *err, st_catalog *cat, int64_t region_id, const char *app,
                      const char *where, int64_t *run_id);

/* WHERE over the NATTRS run attributes ATTRS (and the execution names when EXEC), as
 * st_mdms_where_sql(): *SQL (malloc'ed, NULL on failure) and *NBINDS values. For tests and the
 * where fuzzer, which have no catalog. */
int st_mdms_where_check(st_err *err, const char *where, const char *const *attrs, size_t nattrs,
                        int exec, char **sql, size_t *nbinds);

#endif /* STRATA_MDMS_WHERE_H */
