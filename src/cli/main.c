/*
 * main.c -- the strata command: global options and dispatch to subcommands.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: strata [-P POOL] [--json] [--threads N] COMMAND [ARGS...]\n"
    "\n"
    "Strata keeps named, typed arrays in a shared storage pool.\n"
    "\n"
    "commands:\n"
    "  init [PATH] [--catalog PG]  create a pool (catalog: SQLite inside, or PostgreSQL)\n"
    "  info                        the pool, its catalog, what it holds\n"
    "  catalog migrate --to PG     move the catalog to PostgreSQL (or back: --to sqlite)\n"
    "  region create|ls|rm         manage regions (namespaces of a pool)\n"
    "  array create|ls|info|rm     manage arrays\n"
    "  array put|get|add|cas       read and write array elements\n"
    "  array lock|backup|restore   lock an array around a command; back it up\n"
    "  backup ls|rm                list and delete backups\n"
    "  ingest R/NAME FILE...       ingest CSV or NPY files into a dataset (batches)\n"
    "  ls [REGION]                 list datasets\n"
    "  show R/NAME                 schema, batches, statistics, versions\n"
    "  cat R/NAME                  print rows (csv, tsv, json; --as-of V)\n"
    "  export R/NAME --out P       write a dataset as CSV or NPY files\n"
    "  log R/NAME                  versions of a dataset\n"
    "  drop R/NAME                 drop a dataset\n"
    "  check [R[/NAME]]            verify files against the catalog\n"
    "  gc                          remove orphans and unreferenced files\n"
    "  derive R/NEW --from R/P OP  define a derived dataset (filter, sort, sort-runs,\n"
    "                              topk, groupby)\n"
    "  column R/DS.COL OP          define a derived column (gather, scatter, expr)\n"
    "  update [R[/NAME]]           bring derived data up to date (--full, --auto)\n"
    "  auto R/NAME [--off]         register a derived dataset for automatic update\n"
    "  watch [REGION]              keep registered datasets up to date\n"
    "  lineage [R[/NAME]] [--dot]  the derivation graph, fresh or stale\n"
    "  nd create|write|read|info   chunked N-d arrays: region reads and writes\n"
    "  nd ls|rm                    list and delete N-d arrays\n"
    "  tier add|ls|rm              storage tiers (memory, ssd, disk, archive)\n"
    "  migrate R/NAME --to TIER    move an N-d array's files to another tier\n"
    "  stage R/NAME --to TIER      stage archive files a region needs to a fast tier\n"
    "  app register|schema APP     applications and their run attributes (MDMS)\n"
    "  runs APP [--where C]        runs of an application, by attribute\n"
    "  find APP [--dataset D]      saved datasets by run, iteration and statistics\n"
    "  explain APP/RUN/DATASET     the I/O strategy for an access pattern (--pattern, --procs)\n"
    "  serve                       the web page and the HTTP JSON API (--listen, --read-only)\n"
    "  tool add|ls                 visualisation and analysis tools\n"
    "  demo taxi ROWS OUT.csv      write synthetic taxi trips\n"
    "  version                     print the version (also: strata --version)\n"
    "  help [COMMAND]              this help, or a command's (= strata COMMAND --help)\n"
    "\n"
    "global options:\n"
    "  -P, --pool PATH   the pool (default: $STRATA_POOL, else ./strata.pool)\n"
    "  --json            machine-readable output: one JSON document on stdout (errors:\n"
    "                    one on stderr)\n"
    "  --ndjson          one JSON object per line, for streams (cat, log, check, watch)\n"
    "  --threads N       threads for data-path kernels (default: all cores)\n"
    "  -h, --help        this help; 'strata COMMAND --help' for a command\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 not found, 3 bad input, 4 conflict or locked,\n"
    "            5 I/O error or corruption\n";

static int cmd_version(cli *c, int argc, char **argv);
static int cmd_help(cli *c, int argc, char **argv);
static int cmd_complete_names(cli *c, int argc, char **argv);

static int cmd_init(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata init [PATH] [--catalog CONNINFO [--schema NAME]]\n"
        "Create a new pool in PATH (a new or empty directory). Its catalog is SQLite inside\n"
        "PATH, or with --catalog (default: $STRATA_CATALOG) a PostgreSQL database, for a pool\n"
        "that many nodes share: a URI (postgresql://user@host:5432/db) or libpq's key=value\n"
        "words (host=db1 dbname=strata). The password comes from ~/.pgpass, PGPASSFILE or\n"
        "PGSERVICE, never from the command line. --schema: the pool's schema in that database\n"
        "(default strata_DIRNAME_TOKEN); several pools can share one database. --catalog\n"
        "sqlite: SQLite even when STRATA_CATALOG is set.\n";
    const char *catalog = NULL, *schema = NULL;
    const cli_opt opts[] = {
        {"catalog", 0, &catalog, NULL}, {"schema", 0, &schema, NULL}, CLI_OPT_JSON, {0}};
    char *pos[8];
    int npos = 0;
    if (argc > 12) return cli_usage_error("init", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 1) return cli_usage_error("init", "too many arguments");
    if (schema != NULL && catalog == NULL && getenv("STRATA_CATALOG") == NULL)
        return cli_usage_error("init", "--schema goes with --catalog (a PostgreSQL catalog)");
    const char *path = npos == 1 ? pos[0] : c->pool_path;
    char err[1024];
    strata_pool_opts po = {.catalog = catalog, .schema = schema};
    rc = strata_pool_create_with(path, &po, &c->pool, err, sizeof err);
    if (rc < 0) return cli_report(rc, NULL, "%s", err);
    char where[2048];
    strata_pool_catalog(c->pool, where, sizeof where);
    if (c->json) {
        fputs("{\"pool\":", stdout);
        cli_json_str(stdout, path);
        fputs(",\"catalog\":", stdout);
        cli_json_str(stdout, where);
        fputs(",\"created\":true}\n", stdout);
    } else {
        if (strncmp(where, "sqlite ", 7) == 0)
            printf("created pool %s\n", path);
        else
            printf("created pool %s (catalog: %s)\n", path, where);
    }
    return EXIT_OK;
}

static int cmd_catalog(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata catalog migrate --to CONNINFO|sqlite [--schema NAME]\n"
        "Move the pool's catalog: into a PostgreSQL database (--to a URI or key=value words;\n"
        "--schema as for init), or back into the pool's directory (--to sqlite). Every row is\n"
        "copied in one transaction and the pool's marker is switched to the new catalog. Refused\n"
        "(exit 4) while any other process has the pool open. The old catalog stays: SQLite's\n"
        "file as catalog.db.moved, a PostgreSQL schema for you to drop (DROP SCHEMA ... "
        "CASCADE).\n";
    const char *to = NULL, *schema = NULL;
    const cli_opt opts[] = {{"to", 0, &to, NULL}, {"schema", 0, &schema, NULL}, {0}};
    char *pos[4];
    int npos = 0;
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1 || strcmp(pos[0], "migrate") != 0)
        return cli_usage_error("catalog", "the subcommand is 'migrate'");
    if (to == NULL) return cli_usage_error("catalog", "migrate needs --to CONNINFO or --to sqlite");
    char err[1024], before[2048] = "", after[2048] = "";
    strata_pool *p = NULL;
    if (strata_pool_open_err(c->pool_path, &p, err, sizeof err) == STRATA_OK) {
        strata_pool_catalog(p, before, sizeof before);
        strata_pool_close(p);
    }
    strata_pool_opts po = {.catalog = to, .schema = schema};
    rc = strata_pool_move_catalog(c->pool_path, &po, err, sizeof err);
    if (rc < 0) return cli_report(rc, NULL, "%s", err);
    if (strata_pool_open_err(c->pool_path, &p, err, sizeof err) == STRATA_OK) {
        strata_pool_catalog(p, after, sizeof after);
        strata_pool_close(p);
    }
    printf("moved the catalog of %s\n  from %s\n  to   %s\n", c->pool_path, before, after);
    return EXIT_OK;
}

static int count_name(void *ctx, const char *name)
{
    (void)name;
    (*(uint64_t *)ctx)++;
    return 0;
}

typedef struct info_count {
    strata_pool *pool;
    uint64_t regions, datasets, ndarrays;
} info_count;

static int count_region(void *ctx, const char *region)
{
    info_count *n = ctx;
    n->regions++;
    int rc = strata_dataset_list(n->pool, region, count_name, &n->datasets);
    if (rc == STRATA_OK) rc = strata_ndarray_list(n->pool, region, count_name, &n->ndarrays);
    return rc;
}

static int cmd_info(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata info [--json]\n"
                            "The pool: where it is, its catalog (SQLite in the pool, or a\n"
                            "PostgreSQL database and schema), and how many regions, datasets and\n"
                            "N-d arrays it holds.\n";
    const cli_opt opts[] = {CLI_OPT_JSON, {0}};
    char *pos[2];
    int npos = 0;
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 0) return cli_usage_error("info", "too many arguments");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    char where[2048];
    info_count n = {.pool = c->pool};
    rc = strata_pool_catalog(c->pool, where, sizeof where);
    if (rc == STRATA_OK) rc = strata_region_list(c->pool, count_region, &n);
    if (rc < 0) return cli_fail(c, rc);
    if (c->json) {
        fputs("{\"pool\":", stdout);
        cli_json_str(stdout, strata_pool_path(c->pool));
        fputs(",\"catalog\":", stdout);
        cli_json_str(stdout, where);
        printf(",\"regions\":%llu,\"datasets\":%llu,\"ndarrays\":%llu}\n",
               (unsigned long long)n.regions, (unsigned long long)n.datasets,
               (unsigned long long)n.ndarrays);
    } else {
        printf("pool      %s\ncatalog   %s\nregions   %llu\ndatasets  %llu\nndarrays  %llu\n",
               strata_pool_path(c->pool), where, (unsigned long long)n.regions,
               (unsigned long long)n.datasets, (unsigned long long)n.ndarrays);
    }
    return EXIT_OK;
}

static const struct command {
    const char *name;
    int (*fn)(cli *, int, char **);
} commands[] = {
    {"init", cmd_init},
    {"info", cmd_info},
    {"catalog", cmd_catalog},
    {"region", cmd_region},
    {"array", cmd_array},
    {"backup", cmd_backup},
    {"ingest", cmd_ingest},
    {"ls", cmd_ls},
    {"show", cmd_show},
    {"cat", cmd_cat},
    {"export", cmd_export},
    {"log", cmd_log},
    {"drop", cmd_drop},
    {"check", cmd_check},
    {"gc", cmd_gc},
    {"derive", cmd_derive},
    {"column", cmd_column},
    {"update", cmd_update},
    {"auto", cmd_auto},
    {"watch", cmd_watch},
    {"lineage", cmd_lineage},
    {"nd", cmd_nd},
    {"tier", cmd_tier},
    {"migrate", cmd_migrate},
    {"stage", cmd_stage},
    {"app", cmd_app},
    {"runs", cmd_runs},
    {"find", cmd_find},
    {"explain", cmd_explain},
    {"serve", cmd_serve},
    {"tool", cmd_tool},
    {"demo", cmd_demo},
    {"version", cmd_version},
    {"help", cmd_help},
    {"__complete", cmd_complete_names},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (strcmp(name, commands[k].name) == 0) return &commands[k];
    return NULL;
}

/* 'strata __complete WORD' (cmd_complete.c), told the commands' names. */
static int cmd_complete_names(cli *c, int argc, char **argv)
{
    const char *names[NCOMMANDS];
    for (size_t k = 0; k < NCOMMANDS; k++) names[k] = commands[k].name;
    return cmd_complete(c, names, (int)NCOMMANDS, argc, argv);
}

static int unknown_command(const char *cmd)
{
    const char *names[NCOMMANDS];
    size_t n = 0;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (commands[k].name[0] != '_') names[n++] = commands[k].name;
    const char *best = cli_closest(cmd, names, n);
    char hint[128];
    if (best != NULL)
        snprintf(hint, sizeof hint, "did you mean 'strata %s'? the commands: 'strata --help'",
                 best);
    else
        snprintf(hint, sizeof hint, "the commands: 'strata --help'");
    return cli_report(CLI_EUSAGE, hint, "'%s' is not a strata command", cmd);
}

static int cmd_version(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata version [--json]\n"
                            "The version of strata and the pool format it writes.\n";
    const cli_opt opts[] = {CLI_OPT_JSON, {0}};
    char *pos[4];
    int npos = 0;
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 0) return cli_usage_error("version", "too many arguments");
    if (c->json)
        printf("{\"version\":\"%s\",\"pool_format\":%d}\n", STRATA_VERSION_STRING,
               STRATA_POOL_FORMAT);
    else
        printf("strata %s (pool format %d)\n", STRATA_VERSION_STRING, STRATA_POOL_FORMAT);
    return EXIT_OK;
}

/* 'strata help [COMMAND [SUBCOMMAND]]': the usage, or the command's own (= COMMAND --help). */
static int cmd_help(cli *c, int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    const struct command *k = find_command(argv[1]);
    if (k == NULL) return unknown_command(argv[1]);
    if (k->fn == cmd_help) return cmd_help(c, 1, argv);
    char *args[4] = {argv[1], argc > 2 ? argv[2] : "--help", "--help", NULL};
    return k->fn(c, argc > 2 ? 3 : 2, args);
}

int main(int argc, char **argv)
{
    /* The kernels allocate and free buffers of the batches' size, batch after batch. Served by
     * mmap, each would come back as fresh pages that the kernel faults in and zeroes every time
     * (a third of a group-by's time): keep freed memory in the heap for the next batch. A
     * command is one short-lived process; the library itself sets nothing of the sort. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    cli c = {0};
    c.pool_path = getenv("STRATA_POOL");
    if (c.pool_path == NULL || c.pool_path[0] == '\0') c.pool_path = "strata.pool";
    /* --json anywhere before "--": JSON output, and errors as JSON on stderr */
    for (int j = 1; j < argc && strcmp(argv[j], "--") != 0; j++) {
        if (strcmp(argv[j], "--json") == 0) c.json = 1;
        if (strcmp(argv[j], "--ndjson") == 0) c.json = c.ndjson = 1;
    }
    cli_set_json_errors(c.json);
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-P") == 0 || strcmp(a, "--pool") == 0) && i + 1 < argc) {
            c.pool_path = argv[++i];
        } else if (strncmp(a, "--pool=", 7) == 0) {
            c.pool_path = a + 7;
        } else if (strcmp(a, "--json") == 0 || strcmp(a, "--ndjson") == 0) {
            c.json = 1;
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            uint64_t n;
            if (cli_parse_u64(argv[++i], &n) != 0 || n > 4096)
                return cli_report(CLI_EUSAGE, NULL, "--threads needs a number from 0 to 4096");
            c.threads = (int)n;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            char *args[2] = {"version", NULL};
            return cmd_version(&c, 1, args);
        } else if (a[0] == '-') {
            static const char *const globals[] = {"pool",    "json", "ndjson",
                                                  "threads", "help", "version"};
            const char *best = cli_closest(a + strspn(a, "-"), globals, 6);
            char hint[128];
            if (best != NULL)
                snprintf(hint, sizeof hint, "did you mean '--%s'? try 'strata --help'", best);
            else
                snprintf(hint, sizeof hint, "try 'strata --help'");
            return cli_report(CLI_EUSAGE, hint, "unknown option '%s'", a);
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const struct command *k = find_command(argv[i]);
    int rc = k != NULL ? k->fn(&c, argc - i, argv + i) : unknown_command(argv[i]);
    cli_progress_clear();
    strata_pool_close(c.pool);
    if (fflush(stdout) != 0 && rc == EXIT_OK) rc = EXIT_IO;
    return rc == EXIT_HELP ? EXIT_OK : rc;
}
