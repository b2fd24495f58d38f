/*
 * fuzz_pg_translate.c -- libFuzzer harness for the translation of the catalog's SQL into
 * PostgreSQL's (st_pg_translate, src/catalog/db_pg.c). The catalog's own statements are fixed,
 * but conditions built from user input (strata find --where) and future statements go through
 * it. Oracles:
 *   - it always answers (memory aside), whatever the text;
 *   - string literals ('...') pass through untouched: the output holds exactly the input's
 *     single quotes, and no ? is left outside literals, quoted names and comments;
 *   - the parameter count is the highest $N written, and bounded (no overflow on long digits);
 *   - translating the output again changes no literal and no parameter.
 *     scripts/fuzz.sh fuzz_pg_translate 60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/db_pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

static size_t count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

/* The highest $N outside quotes and comments of SQL; *LOOSE: a ? found there. */
static long scan(const char *sql, int *loose)
{
    long top = 0;
    *loose = 0;
    for (const char *p = sql; *p;) {
        if (*p == '\'' || *p == '"') {
            const char *e = p + 1;
            while (*e && !(*e == *p && e[1] != *p)) e += *e == *p ? 2 : 1;
            p = *e ? e + 1 : e;
        } else if (*p == '-' && p[1] == '-') {
            const char *e = strchr(p, '\n');
            p = e ? e : p + strlen(p);
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            long k = strtol(p + 1, (char **)&p, 10);
            if (k > top) top = k;
        } else {
            *loose |= *p == '?';
            p++;
        }
    }
    return top;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '$', size) != NULL) return 0; /* the oracle reads $N as translated ones */
    char *sql = malloc(size + 1);
    CHECK(sql != NULL);
    memcpy(sql, data, size);
    sql[size] = '\0';
    int np = -1;
    char *t = st_pg_translate(sql, &np);
    CHECK(t != NULL);
    CHECK(count(t, '\'') == count(sql, '\''));
    int loose;
    long top = scan(t, &loose);
    CHECK(!loose);
    CHECK(np >= 0 && np <= ST_PG_MAX_PARAM && top <= np);
    int np2 = -1;
    char *t2 = st_pg_translate(t, &np2);
    CHECK(t2 != NULL && count(t2, '\'') == count(t, '\''));
    CHECK(np2 == 0); /* no ? is left to number */
    free(t2);
    free(t);
    free(sql);
    return 0;
}
