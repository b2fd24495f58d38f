/*
 * fuzz_where.c -- libFuzzer harness for the run-condition parser (`strata runs --where`,
 * `strata find --where`: src/expr parses, src/mdms/where.c writes SQL). Oracles:
 *   - a refused condition says why (STRATA_EINVAL and a message) and returns no SQL;
 *   - an accepted one becomes SQL that SQLite prepares against tables of the catalog's shape,
 *     with exactly the parameters it reports, and made only of the SQL the parser writes
 *     (names, operators, parameters): the user's text never reaches SQLite;
 *   - the recursion is bounded whatever the nesting (ASan's stack overflow check).
 *
 * Input: byte 0 chooses the names of `runs` or of `find`, the rest is the condition.
 *     scripts/fuzz.sh fuzz_where 60
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "mdms/where.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static sqlite3 *db;

static void open_db(void)
{
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE run(id INTEGER, user TEXT, status TEXT, nprocs INTEGER, "
                       "started_ns INTEGER, ended_ns INTEGER, region_id INTEGER);"
                       "CREATE TABLE attr(run_id INTEGER, grid INTEGER, dump REAL, name TEXT);"
                       "CREATE TABLE exec(run_id INTEGER, dataset TEXT, iteration INTEGER, "
                       "min REAL, max REAL, mean REAL, std REAL, bytes INTEGER, strategy TEXT, "
                       "seconds REAL);",
                       NULL, NULL, NULL) == SQLITE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (db == NULL) open_db();
    int exec = data[0] & 1;
    char *text = malloc(size);
    CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    static const char *const attrs[] = {"grid", "dump", "name"};
    st_err err;
    st_err_init(&err);
    char *sql = NULL;
    size_t nb = 0;
    int rc = st_mdms_where_check(&err, text, attrs, 3, exec, &sql, &nb);
    if (rc != STRATA_OK) {
        CHECK(rc == STRATA_EINVAL || rc == STRATA_ENOMEM);
        CHECK(sql == NULL && nb == 0 && err.msg[0] != '\0');
    } else {
        CHECK(sql != NULL && nb <= ST_WHERE_MAX_CMP);
        /* only what the parser writes: names (a."x" for attributes), operators, ?N */
        for (const char *p = sql; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr("_ .()?=!<>\"", *p) != NULL);
        size_t qlen = strlen(sql) + 256;
        char *q = malloc(qlen);
        CHECK(q != NULL);
        snprintf(q, qlen,
                 "SELECT 1 FROM run r LEFT JOIN attr a ON a.run_id = r.id LEFT JOIN exec e ON "
                 "e.run_id = r.id WHERE r.region_id = ?1 AND (%s)",
                 sql);
        sqlite3_stmt *s = NULL;
        int prc = sqlite3_prepare_v2(db, q, -1, &s, NULL);
        CHECK(prc == SQLITE_OK);
        CHECK((size_t)sqlite3_bind_parameter_count(s) == nb + 1);
        sqlite3_finalize(s);
        free(q);
    }
    free(sql);
    st_err_destroy(&err);
    free(text);
    return 0;
}
