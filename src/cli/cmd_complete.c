/*
 * cmd_complete.c -- 'strata __complete WORD': what the shell completions (completions/) offer
 * for WORD, one per line: the commands (--commands), regions ("taxi/"), the datasets, arrays and
 * N-d arrays of a region ("taxi/trips"), the columns of a dataset ("taxi/trips.fare"). Quiet:
 * a pool that does not open offers nothing, and the exit status is 0.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cand {
    const char *prefix; /* what the word holds so far */
    const char *region; /* NULL: candidates are regions */
    const char *suffix; /* appended to each candidate ("/" after a region) */
} cand;

static void offer(const cand *k, const char *name)
{
    char full[2 * STRATA_NAME_MAX + 8];
    snprintf(full, sizeof full, "%s%s%s%s", k->region ? k->region : "", k->region ? "/" : "", name,
             k->suffix);
    if (strncmp(full, k->prefix, strlen(k->prefix)) == 0) puts(full);
}

static int offer_name(void *ctx, const char *name)
{
    offer(ctx, name);
    return 0;
}

static int offer_array(void *ctx, const strata_array_info *info)
{
    offer(ctx, info->name);
    return 0;
}

/* The columns of REGION/NAME as "REGION/NAME.COL" starting with WORD. */
static void offer_columns(cli *c, const char *region, const char *name, const char *word)
{
    strata_snapshot *s;
    if (strata_snapshot_open(c->pool, region, name, 0, &s) != STRATA_OK) return;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    size_t stem = strlen(word) - strlen(strchr(word, '.') + 1);
    for (int i = 0; i < d.ncols; i++) {
        const char *col = d.columns[i].name;
        if (strncmp(col, word + stem, strlen(word + stem)) == 0)
            printf("%.*s%s\n", (int)stem, word, col);
    }
    strata_snapshot_close(s);
}

int cmd_complete(cli *c, const char *const *commands, int ncommands, int argc, char **argv)
{
    const char *word = argc > 1 ? argv[argc - 1] : "";
    if (argc > 1 && strcmp(argv[1], "--commands") == 0) {
        for (int i = 0; i < ncommands; i++)
            if (commands[i][0] != '_') puts(commands[i]);
        return EXIT_OK;
    }
    char err[256];
    if (strata_pool_open_err(c->pool_path, &c->pool, err, sizeof err) != STRATA_OK) return EXIT_OK;
    const char *slash = strchr(word, '/');
    if (slash == NULL) {
        cand k = {word, NULL, "/"};
        strata_region_list(c->pool, offer_name, &k);
        return EXIT_OK;
    }
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if ((size_t)(slash - word) > STRATA_NAME_MAX) return EXIT_OK;
    snprintf(region, sizeof region, "%.*s", (int)(slash - word), word);
    const char *dot = strchr(slash + 1, '.');
    if (dot != NULL && (size_t)(dot - slash - 1) <= STRATA_NAME_MAX) {
        snprintf(name, sizeof name, "%.*s", (int)(dot - slash - 1), slash + 1);
        offer_columns(c, region, name, word);
        return EXIT_OK;
    }
    cand k = {word, region, ""};
    strata_dataset_list(c->pool, region, offer_name, &k);
    strata_array_list(c->pool, region, offer_array, &k);
    strata_ndarray_list(c->pool, region, offer_name, &k);
    return EXIT_OK;
}
