/*
 * cmd_region.c -- strata region create|ls|rm.
 */
#include <string.h>

#include "cli.h"

static const char usage[] = "usage: strata region create NAME\n"
                            "       strata region ls\n"
                            "       strata region rm NAME [--force]\n"
                            "Regions are the namespaces of a pool. 'rm' deletes the region and\n"
                            "all its arrays; it refuses while an array is locked unless --force.\n";

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
    int st = strcmp(sub, "create") == 0
                 ? strata_region_create(c->pool, pos[1])
                 : strata_region_delete(c->pool, pos[1], force ? STRATA_FORCE : 0);
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
