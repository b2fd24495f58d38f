/*
 * cmd_region.c -- strata region create|ls|rm.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: strata region create NAME\n"
    "       strata region ls\n"
    "       strata region rm NAME [--force]\n"
    "Regions are the namespaces of a pool. 'rm' deletes an empty region; one that holds datasets,\n"
    "arrays or N-d arrays only with --force, which deletes them all (derived data too; a dataset\n"
    "of another region derived from one of them refuses it), even arrays locked by others.\n";

/* What a region holds: how many of each kind, the first names of each. */
typedef struct region_items {
    strata_pool *pool;
    const char *region;
    uint64_t n[3];
    char names[3][160];
} region_items;

static void note_item(region_items *ri, int kind, const char *name)
{
    char *s = ri->names[kind];
    size_t used = strlen(s);
    if (ri->n[kind]++ < 3)
        snprintf(s + used, sizeof ri->names[kind] - used, "%s%s/%s", used ? ", " : "", ri->region,
                 name);
    else if (ri->n[kind] == 4)
        snprintf(s + used, sizeof ri->names[kind] - used, ", ...");
}

static int note_dataset(void *ctx, const char *name)
{
    note_item(ctx, 0, name);
    return 0;
}

static int note_array(void *ctx, const strata_array_info *info)
{
    note_item(ctx, 1, info->name);
    return 0;
}

static int note_ndarray(void *ctx, const char *name)
{
    note_item(ctx, 2, name);
    return 0;
}

static int delete_ndarray(void *ctx, const char *name)
{
    const region_items *ri = ctx;
    return strata_ndarray_delete(ri->pool, ri->region, name);
}

/* A derived object of another region whose source is in RI's region: its place into RI->names. */
static int note_dependent(void *ctx, const strata_lineage_info *li)
{
    region_items *ri = ctx;
    if (strcmp(li->region, ri->region) == 0 || strcmp(li->src_region, ri->region) != 0) return 0;
    snprintf(ri->names[0], sizeof ri->names[0], "%s/%s%s%s", li->region, li->name,
             li->column ? "." : "", li->column ? li->column : "");
    snprintf(ri->names[1], sizeof ri->names[1], "%s/%s", li->src_region, li->src_name);
    return 1;
}

/* 'region rm NAME': refused (exit 4) when it holds anything, naming it, unless FORCE; then its
 * N-d arrays (with their files on every tier), and the region with its datasets and arrays. */
static int region_rm(cli *c, const char *region, int force)
{
    region_items ri = {.pool = c->pool, .region = region};
    int st = strata_region_exists(c->pool, region);
    if (st == STRATA_OK) st = strata_dataset_list(c->pool, region, note_dataset, &ri);
    if (st == STRATA_OK) st = strata_array_list(c->pool, region, note_array, &ri);
    if (st == STRATA_OK) st = strata_ndarray_list(c->pool, region, note_ndarray, &ri);
    if (st < 0) return cli_fail(c, st);
    if (!force && ri.n[0] + ri.n[1] + ri.n[2] > 0) {
        static const char *const kind[] = {"dataset(s)", "array(s)", "N-d array(s)"};
        char what[600] = "", hint[160];
        for (int k = 0; k < 3; k++)
            if (ri.n[k] > 0)
                snprintf(what + strlen(what), sizeof what - strlen(what), "%s%llu %s (%s)",
                         what[0] ? ", " : "", (unsigned long long)ri.n[k], kind[k], ri.names[k]);
        snprintf(hint, sizeof hint, "'strata region rm %s --force' deletes them all", region);
        return cli_report(STRATA_ECONFLICT, hint, "region '%s' is not empty: it holds %s", region,
                          what);
    }
    /* nothing is deleted when a dataset of another region derives from one of these */
    st = strata_lineage(c->pool, region, NULL, note_dependent, &ri);
    if (st == 1)
        return cli_report(STRATA_ECONFLICT, "drop that one first, or its derivation",
                          "cannot delete region '%s': '%s' of another region is derived from its "
                          "'%s'",
                          region, ri.names[0], ri.names[1]);
    if (st == STRATA_OK) st = strata_ndarray_list(c->pool, region, delete_ndarray, &ri);
    if (st == STRATA_OK) st = strata_region_delete(c->pool, region, force ? STRATA_FORCE : 0);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

int cmd_region(cli *c, int argc, char **argv)
{
    char *pos[16];
    int npos, force = 0;
    cli_opt opts[] = {{"force", 'f', NULL, &force}, CLI_OPT_JSON, {0}};
    if (argc > 16) return cli_usage_error("region", "too many arguments");
    int rc = cli_scan(argc, argv, opts, usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos < 1) return cli_usage_error("region", "missing subcommand (create, ls or rm)");
    const char *sub = pos[0];
    if (strcmp(sub, "ls") == 0) {
        if (npos != 1) return cli_usage_error("region", "'region ls' takes no arguments");
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        cli_names lc = {c->json, 0};
        if (c->json) fputs("{\"regions\":[", stdout);
        int st = strata_region_list(c->pool, cli_print_name, &lc);
        if (c->json) fputs("]}\n", stdout);
        return st < 0 ? cli_fail(c, st) : EXIT_OK;
    }
    if (strcmp(sub, "create") != 0 && strcmp(sub, "rm") != 0)
        return cli_usage_error("region", "unknown subcommand '%s'", sub);
    if (npos != 2) return cli_usage_error("region", "'region %s' takes one NAME", sub);
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    if (strcmp(sub, "rm") == 0 && (rc = region_rm(c, pos[1], force)) != EXIT_OK) return rc;
    int st = strcmp(sub, "create") == 0 ? strata_region_create(c->pool, pos[1]) : STRATA_OK;
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        fputs("{\"region\":", stdout);
        cli_json_str(stdout, pos[1]);
        printf(",\"%s\":true}\n", strcmp(sub, "create") == 0 ? "created" : "deleted");
    } else {
        printf("%s region %s\n", strcmp(sub, "create") == 0 ? "created" : "deleted", pos[1]);
    }
    return EXIT_OK;
}
