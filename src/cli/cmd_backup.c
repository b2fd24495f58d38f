/*
 * cmd_backup.c -- strata backup ls|rm (taking and restoring backups is under 'array').
 */
#include <string.h>

#include "cli.h"

static const char usage[] = "usage: strata backup ls\n"
                            "       strata backup rm NAME\n"
                            "Backups are taken with 'strata array backup REGION/NAME BACKUP' and\n"
                            "restored with 'strata array restore BACKUP REGION/NAME'.\n";

int cmd_backup(cli *c, int argc, char **argv)
{
    char *pos[16];
    int npos;
    cli_opt opts[] = {CLI_OPT_JSON, {0}};
    if (argc > 16) return cli_usage_error("backup", "too many arguments");
    int rc = cli_scan(argc, argv, opts, usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos < 1) return cli_usage_error("backup", "missing subcommand (ls or rm)");
    if (strcmp(pos[0], "ls") == 0 && npos == 1) {
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        cli_names lc = {c->json, 0};
        if (c->json) fputs("{\"backups\":[", stdout);
        int st = strata_backup_list(c->pool, cli_print_name, &lc);
        if (c->json) fputs("]}\n", stdout);
        return st < 0 ? cli_fail(c, st) : EXIT_OK;
    }
    if (strcmp(pos[0], "rm") == 0 && npos == 2) {
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        int st = strata_backup_delete(c->pool, pos[1]);
        if (st < 0) return cli_fail(c, st);
        if (!c->json)
            printf("deleted backup %s\n", pos[1]);
        else {
            fputs("{\"backup\":", stdout);
            cli_json_str(stdout, pos[1]);
            fputs(",\"deleted\":true}\n", stdout);
        }
        return EXIT_OK;
    }
    return cli_usage_error("backup", "expected 'backup ls' or 'backup rm NAME'");
}
