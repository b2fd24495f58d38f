/*
 * cmd_mdms.c -- strata app, runs, find, explain, tool: the MDMS catalog from the command line.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *const type_names[] = {"int", "float", "text"};

static const char app_usage[] =
    "usage: strata app register APP [NAME:TYPE ...]   register APP and its run attributes\n"
    "       strata app schema APP                     the run attributes of APP\n"
    "TYPE is int, float or text. Registering again adds new attributes.\n";

static int print_def(void *ctx, const strata_attr_def *d)
{
    int *n = ctx;
    if (*n >= 0) {
        printf("%s{\"name\":", (*n)++ ? "," : "");
        cli_json_str(stdout, d->name);
        printf(",\"type\":\"%s\"}", type_names[d->type]);
    } else {
        printf("%-24s %s\n", d->name, type_names[d->type]);
    }
    return 0;
}

int cmd_app(cli *c, int argc, char **argv)
{
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos;
    if (pos == NULL) return cli_report(STRATA_ENOMEM, NULL, "out of memory");
    int rc = cli_scan(argc, argv, NULL, app_usage, pos, &npos, 0);
    if (rc == EXIT_OK && npos < 2) rc = cli_usage_error("app", "missing subcommand or APP");
    if (rc == EXIT_OK && strcmp(pos[0], "schema") == 0) {
        if (npos != 2) rc = cli_usage_error("app", "'app schema' takes one APP");
        if (rc == EXIT_OK) rc = cli_open_pool(c);
        if (rc == EXIT_OK) {
            int n = c->json ? 0 : -1;
            if (c->json) fputs("{\"attributes\":[", stdout);
            int st = strata_app_schema(c->pool, pos[1], print_def, &n);
            if (c->json) fputs("]}\n", stdout);
            if (st < 0) rc = cli_fail(c, st);
        }
    } else if (rc == EXIT_OK && strcmp(pos[0], "register") == 0) {
        int n = npos - 2;
        strata_attr_def *defs = calloc((size_t)n + 1, sizeof *defs);
        char **copies = calloc((size_t)n + 1, sizeof *copies);
        for (int i = 0; rc == EXIT_OK && i < n; i++) {
            copies[i] = strdup(pos[i + 2]);
            char *colon = copies[i] ? strchr(copies[i], ':') : NULL;
            if (colon == NULL) {
                rc = cli_usage_error("app",
                                     "attribute '%s' needs a type: NAME:int, NAME:float "
                                     "or NAME:text",
                                     pos[i + 2]);
                break;
            }
            *colon = 0;
            defs[i].name = copies[i];
            int t = -1;
            for (int k = 0; k < 3; k++)
                if (strcmp(colon + 1, type_names[k]) == 0) t = k;
            if (t < 0)
                rc = cli_usage_error("app", "attribute '%s': unknown type '%s' (int, float, text)",
                                     copies[i], colon + 1);
            defs[i].type = (strata_attr_type)t;
        }
        if (rc == EXIT_OK) rc = cli_open_pool(c);
        if (rc == EXIT_OK) {
            int st = strata_app_register(c->pool, pos[1], defs, n);
            if (st < 0)
                rc = cli_fail(c, st);
            else if (c->json)
                printf("{\"app\":\"%s\",\"registered\":true}\n", pos[1]);
            else
                printf("registered application %s (%d attribute%s)\n", pos[1], n,
                       n == 1 ? "" : "s");
        }
        for (int i = 0; i < n; i++) free(copies[i]);
        free(copies);
        free(defs);
    } else if (rc == EXIT_OK) {
        rc = cli_usage_error("app", "unknown subcommand '%s' (register or schema)", pos[0]);
    }
    free(pos);
    return rc;
}

/* ---- runs ----------------------------------------------------------------------------------- */

static void time_text(char *out, size_t cap, int64_t ns)
{
    if (ns <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_attr(const strata_attr *a, int json)
{
    if ((int)a->type < 0) {
        fputs(json ? "null" : "-", stdout);
    } else if (a->type == STRATA_ATTR_INT) {
        printf("%" PRId64, a->i);
    } else if (a->type == STRATA_ATTR_FLOAT) {
        cli_print_real(stdout, a->f, 0, json);
    } else if (json) {
        cli_json_str(stdout, a->s);
    } else {
        fputs(a->s, stdout);
    }
}

typedef struct run_ctx {
    int json, n;
} run_ctx;

static int print_run(void *ctx, const strata_run_info *r)
{
    run_ctx *x = ctx;
    char started[32], ended[32];
    time_text(started, sizeof started, r->started_ns);
    time_text(ended, sizeof ended, r->ended_ns);
    if (x->json) {
        printf("%s{\"run\":%" PRId64 ",\"status\":", x->n++ ? "," : "", r->id);
        cli_json_str(stdout, r->status);
        fputs(",\"user\":", stdout);
        cli_json_str(stdout, r->user);
        fputs(",\"host\":", stdout);
        cli_json_str(stdout, r->host);
        printf(",\"nprocs\":%d,\"started\":\"%s\",\"ended\":%s%s%s,\"attributes\":{", r->nprocs,
               started, r->ended_ns ? "\"" : "", r->ended_ns ? ended : "null",
               r->ended_ns ? "\"" : "");
        for (int i = 0; i < r->nattrs; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, r->attrs[i].name);
            putchar(':');
            print_attr(&r->attrs[i], 1);
        }
        fputs("}}", stdout);
        return 0;
    }
    if (x->n++ == 0) {
        printf("%-5s %-8s %-6s %-20s", "RUN", "STATUS", "PROCS", "STARTED");
        for (int i = 0; i < r->nattrs; i++) printf(" %s", r->attrs[i].name);
        putchar('\n');
    }
    printf("%-5" PRId64 " %-8s %-6d %-20s", r->id, r->status, r->nprocs, started);
    for (int i = 0; i < r->nattrs; i++) {
        putchar(' ');
        print_attr(&r->attrs[i], 0);
    }
    putchar('\n');
    return 0;
}

static const char runs_usage[] =
    "usage: strata runs APP [--where CONDITION] [--json]\n"
    "Runs of APP, newest first. CONDITION compares run attributes and run, user, status,\n"
    "nprocs, started, ended with numbers or 'text': grid = 512 and iterations > 100.\n";

int cmd_runs(cli *c, int argc, char **argv)
{
    char *pos[8];
    int npos;
    const char *where = NULL;
    cli_opt opts[] = {{"where", 'w', &where, NULL}, CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("runs", "too many arguments");
    int rc = cli_scan(argc, argv, opts, runs_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("runs", "give one APP");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    run_ctx x = {c->json, 0};
    if (c->json) fputs("{\"runs\":[", stdout);
    int st = strata_runs(c->pool, pos[0], where, print_run, &x);
    if (c->json) fputs("]}\n", stdout);
    if (st < 0) return cli_fail(c, st);
    if (!c->json && x.n == 0) printf("no runs of %s match\n", pos[0]);
    return EXIT_OK;
}

/* ---- find ----------------------------------------------------------------------------------- */

static void json_num(double v)
{
    cli_print_real(stdout, v, 0, 1);
}

static int print_exec(void *ctx, const strata_exec_info *e)
{
    run_ctx *x = ctx;
    if (x->json) {
        printf("%s{\"run\":%" PRId64 ",\"dataset\":", x->n++ ? "," : "", e->run);
        cli_json_str(stdout, e->dataset);
        printf(",\"iteration\":%" PRId64 ",\"array\":", e->iteration);
        cli_json_str(stdout, e->array);
        printf(",\"dtype\":\"%s\",\"shape\":[", strata_dtype_name(e->dtype));
        for (int d = 0; d < e->ndims; d++) printf("%s%" PRIu64, d ? "," : "", e->dims[d]);
        printf("],\"layout\":\"%s\",\"tier\":", e->layout);
        cli_json_str(stdout, e->tier);
        printf(",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"strategy\":\"%s\",\"seconds\":",
               e->files, e->bytes, e->strategy);
        json_num(e->seconds);
        printf(",\"nprocs\":%d,\"min\":", e->nprocs);
        json_num(e->min);
        fputs(",\"max\":", stdout);
        json_num(e->max);
        fputs(",\"mean\":", stdout);
        json_num(e->mean);
        fputs(",\"std\":", stdout);
        json_num(e->std);
        fputs(",\"histogram\":[", stdout);
        for (int i = 0; i < STRATA_HIST_BINS; i++) printf("%s%" PRIu64, i ? "," : "", e->hist[i]);
        fputs("]}", stdout);
        return 0;
    }
    if (x->n++ == 0)
        printf("%-5s %-16s %-9s %-14s %-10s %12s %12s %12s %12s\n", "RUN", "DATASET", "ITERATION",
               "SHAPE", "STRATEGY", "MIN", "MAX", "MEAN", "STD");
    char shape[96];
    size_t l = 0;
    shape[0] = 0;
    for (int d = 0; d < e->ndims && l < sizeof shape; d++)
        l += (size_t)snprintf(shape + l, sizeof shape - l, "%s%" PRIu64, d ? "x" : "", e->dims[d]);
    printf("%-5" PRId64 " %-16s %-9" PRId64 " %-14s %-10s %12.6g %12.6g %12.6g %12.6g\n", e->run,
           e->dataset, e->iteration, shape, e->strategy, e->min, e->max, e->mean, e->std);
    return 0;
}

static const char find_usage[] =
    "usage: strata find APP [--dataset NAME] [--where CONDITION] [--json]\n"
    "Saved datasets of APP by run, dataset and iteration. CONDITION may use the run\n"
    "attributes, run, user, status, and dataset, iteration, min, max, mean, std, bytes,\n"
    "strategy, seconds: 'max > 1e6 and iteration >= 100'.\n";

static int first_exec(void *ctx, const strata_exec_info *e)
{
    (void)ctx;
    (void)e;
    return 1;
}

int cmd_find(cli *c, int argc, char **argv)
{
    char *pos[10];
    int npos;
    const char *where = NULL, *dataset = NULL;
    cli_opt opts[] = {
        {"where", 'w', &where, NULL}, {"dataset", 'd', &dataset, NULL}, CLI_OPT_JSON, {0}};
    if (argc > 10) return cli_usage_error("find", "too many arguments");
    int rc = cli_scan(argc, argv, opts, find_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("find", "give one APP");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    /* a dataset no run of APP saved is a mistake (a typo?), not an empty answer */
    int st = dataset != NULL ? strata_find(c->pool, pos[0], dataset, NULL, first_exec, NULL) : 1;
    if (st == 0)
        return cli_report(STRATA_ENOTFOUND, "'strata find APP' lists what its runs saved",
                          "no run of %s saved a dataset '%s'", pos[0], dataset);
    if (st < 0) return cli_fail(c, st);
    run_ctx x = {c->json, 0};
    if (c->json) fputs("{\"datasets\":[", stdout);
    st = strata_find(c->pool, pos[0], dataset, where, print_exec, &x);
    if (c->json) fputs("]}\n", stdout);
    if (st < 0) return cli_fail(c, st);
    if (!c->json && x.n == 0) printf("no saved datasets of %s match\n", pos[0]);
    return EXIT_OK;
}

/* ---- explain -------------------------------------------------------------------------------- */

static const char explain_usage[] =
    "usage: strata explain APP/RUN/DATASET --pattern PATTERN [--procs N] [--json]\n"
    "How PROCS processes (default 1) would read DATASET of run RUN with access PATTERN\n"
    "('(BLOCK,BLOCK)', '(*,*,BLOCK) sequential', ...): the strategy, why, and the\n"
    "estimated requests and bytes. STRATA_IO_STRATEGY forces a strategy.\n";

int cmd_explain(cli *c, int argc, char **argv)
{
    char *pos[10];
    int npos;
    const char *pattern = NULL, *procs = NULL;
    cli_opt opts[] = {
        {"pattern", 'p', &pattern, NULL}, {"procs", 'n', &procs, NULL}, CLI_OPT_JSON, {0}};
    if (argc > 10) return cli_usage_error("explain", "too many arguments");
    int rc = cli_scan(argc, argv, opts, explain_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("explain", "give one APP/RUN/DATASET");
    if (pattern == NULL) return cli_usage_error("explain", "--pattern is required");
    uint64_t np = 1;
    if (procs && (cli_parse_u64(procs, &np) != 0 || np < 1 || np > 65536))
        return cli_usage_error("explain", "--procs needs a number from 1 to 65536");
    char app[STRATA_NAME_MAX + 1], ds[STRATA_NAME_MAX + 1];
    long long run = 0;
    const char *s1 = strchr(pos[0], '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    char *end = NULL;
    if (s1 && s2) run = strtoll(s1 + 1, &end, 10);
    if (!s1 || !s2 || end != s2 || run <= 0 || (size_t)(s1 - pos[0]) > STRATA_NAME_MAX ||
        strlen(s2 + 1) > STRATA_NAME_MAX || !s2[1])
        return cli_usage_error("explain",
                               "'%s' is not APP/RUN/DATASET (for example astro3d/7/"
                               "temperature)",
                               pos[0]);
    snprintf(app, sizeof app, "%.*s", (int)(s1 - pos[0]), pos[0]);
    snprintf(ds, sizeof ds, "%s", s2 + 1);
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    /* STRATA_IO_STRATEGY forces the planner's choice, for experiments: the environment is the
     * command's to read, not the library's */
    const char *io = getenv("STRATA_IO_STRATEGY");
    int st = io != NULL ? strata_pool_set_io_strategy(c->pool, io) : STRATA_OK;
    if (st < 0) return cli_fail(c, st);
    strata_plan p;
    st = strata_explain(c->pool, app, run, ds, pattern, (int)np, &p);
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        printf("{\"strategy\":\"%s\",\"reason\":", p.strategy);
        cli_json_str(stdout, p.reason);
        printf(",\"procs\":%d,\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"useful\":%" PRIu64
               ",\"prefetch\":%s,\"prestage\":%s}\n",
               p.procs, p.requests, p.bytes, p.useful, p.prefetch ? "true" : "false",
               p.prestage ? "true" : "false");
        return EXIT_OK;
    }
    printf("strategy:  %s%s%s\n", p.strategy, p.prefetch ? " + prefetch" : "",
           p.prestage ? " + prestage" : "");
    printf("why:       %s\n", p.reason);
    printf("processes: %d\nrequests:  %" PRIu64 " (all processes)\nbytes:     %" PRIu64
           " read for %" PRIu64 " useful\n",
           p.procs, p.requests, p.bytes, p.useful);
    return EXIT_OK;
}

/* ---- tools ---------------------------------------------------------------------------------- */

static int print_tool(void *ctx, const char *name, const char *kind, const char *command)
{
    int *n = ctx;
    if (*n >= 0) {
        printf("%s{\"name\":", (*n)++ ? "," : "");
        cli_json_str(stdout, name);
        fputs(",\"kind\":", stdout);
        cli_json_str(stdout, kind);
        fputs(",\"command\":", stdout);
        cli_json_str(stdout, command);
        putchar('}');
    } else {
        printf("%-16s %-14s %s\n", name, kind, command);
    }
    return 0;
}

static const char tool_usage[] =
    "usage: strata tool add NAME --kind KIND --command COMMAND   register a visualisation or\n"
    "                                                            analysis tool\n"
    "       strata tool ls\n";

int cmd_tool(cli *c, int argc, char **argv)
{
    char *pos[10];
    int npos;
    const char *kind = NULL, *command = NULL;
    cli_opt opts[] = {
        {"kind", 'k', &kind, NULL}, {"command", 0, &command, NULL}, CLI_OPT_JSON, {0}};
    if (argc > 10) return cli_usage_error("tool", "too many arguments");
    int rc = cli_scan(argc, argv, opts, tool_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos >= 1 && strcmp(pos[0], "ls") == 0 && npos == 1) {
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        int n = c->json ? 0 : -1;
        if (c->json) fputs("{\"tools\":[", stdout);
        int st = strata_tool_list(c->pool, print_tool, &n);
        if (c->json) fputs("]}\n", stdout);
        return st < 0 ? cli_fail(c, st) : EXIT_OK;
    }
    if (npos != 2 || strcmp(pos[0], "add") != 0)
        return cli_usage_error("tool", "use 'tool add NAME --kind K --command C' or 'tool ls'");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_tool_register(c->pool, pos[1], kind, command);
    if (st < 0) return cli_fail(c, st);
    if (!c->json) printf("registered tool %s\n", pos[1]);
    return EXIT_OK;
}
