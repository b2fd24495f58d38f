/*
 * cmd_derive.c -- derived data on the command line: derive, column, update, auto, watch,
 * lineage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { NAMEBUF = 2 * STRATA_NAME_MAX + 2 };

int cmd_derive(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata derive REGION/NEW --from REGION/PARENT OPERATION [--desc]\n"
        "operations:\n"
        "  --filter 'EXPR'                     rows where EXPR holds (order-preserving)\n"
        "  --sort COL[,COL...]                 full stable sort (order-destroying)\n"
        "  --sort-runs COL[,COL...]            each batch sorted on its own\n"
        "  --topk COL:K [--global]             the first K rows of COL's order per batch,\n"
        "                                      or over everything with --global\n"
        "  --groupby KEY[,KEY...] --agg AGG[,AGG...]\n"
        "                                      keys of any type; AGG: count, count:COL,\n"
        "                                      sum:COL, mean:COL, min:COL, max:COL, first:COL,\n"
        "                                      last:COL, var:COL, std:COL, count_distinct:COL,\n"
        "                                      median:COL, quantile:COL:Q\n"
        "The new dataset's 'index' column holds parent row positions. Run 'strata update'\n"
        "to compute it.\n";
    char *pos[32];
    int npos, desc = 0, global = 0;
    const char *from = NULL, *filter = NULL, *sort = NULL, *sort_runs = NULL, *topk = NULL,
               *groupby = NULL, *agg = NULL;
    cli_opt opts[] = {{"from", 0, &from, NULL},
                      {"filter", 0, &filter, NULL},
                      {"sort", 0, &sort, NULL},
                      {"sort-runs", 0, &sort_runs, NULL},
                      {"topk", 0, &topk, NULL},
                      {"groupby", 0, &groupby, NULL},
                      {"agg", 0, &agg, NULL},
                      {"desc", 0, NULL, &desc},
                      {"global", 0, NULL, &global},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 32) return cli_usage_error("derive", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1 || from == NULL)
        return cli_usage_error("derive", "'derive' takes REGION/NEW and --from REGION/PARENT");
    int nops = (filter != NULL) + (sort != NULL) + (sort_runs != NULL) + (topk != NULL) +
               (groupby != NULL);
    if (nops != 1)
        return cli_usage_error("derive", "give exactly one of --filter, --sort, --sort-runs, "
                                         "--topk, --groupby");
    if (agg != NULL && groupby == NULL)
        return cli_usage_error("derive", "--agg goes with --groupby");
    if (global && topk == NULL) return cli_usage_error("derive", "--global goes with --topk");
    strata_derive_spec spec = {0};
    char keybuf[1024];
    spec.desc = desc;
    spec.global = global;
    if (filter) {
        spec.op = "filter";
        spec.expr = filter;
    } else if (sort || sort_runs) {
        spec.op = sort ? "sort" : "sort_runs";
        spec.keys = sort ? sort : sort_runs;
    } else if (topk) {
        spec.op = "topk";
        const char *colon = strrchr(topk, ':');
        if (colon == NULL || (size_t)(colon - topk) >= sizeof keybuf)
            return cli_usage_error("derive", "--topk takes COL:K (e.g. fare:10)");
        if (cli_parse_u64(colon + 1, &spec.k) != 0)
            return cli_usage_error("derive", "--topk %s: K must be a number", topk);
        snprintf(keybuf, sizeof keybuf, "%.*s", (int)(colon - topk), topk);
        spec.keys = keybuf;
    } else {
        spec.op = "groupby";
        spec.keys = groupby;
        spec.aggs = agg;
    }
    char nb[NAMEBUF], pb[NAMEBUF];
    const char *region, *name, *pregion, *pname;
    if ((rc = cli_split("derive", pos[0], nb, sizeof nb, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_split("derive", from, pb, sizeof pb, &pregion, &pname)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_derive(c->pool, region, name, pregion, pname, &spec);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"derived\":\"%s/%s\",\"from\":\"%s/%s\",\"op\":\"%s\"}\n", region, name, pregion,
               pname, spec.op);
    else
        printf("defined %s/%s = %s of %s/%s; run 'strata update %s/%s' to compute it\n", region,
               name, spec.op, pregion, pname, region, name);
    return EXIT_OK;
}

int cmd_column(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata column REGION/DATASET.NEWCOL OPERATION\n"
        "operations:\n"
        "  --gather REGION/PARENT.COL             the parent's COL at this dataset's index\n"
        "  --scatter REGION/CHILD.COL --default V the child's COL at its parent positions,\n"
        "                                         V elsewhere (a column of the parent)\n"
        "  --expr 'EXPR'                          arithmetic over the dataset's columns\n"
        "Run 'strata update' to compute it.\n";
    char *pos[16];
    int npos;
    const char *gather = NULL, *scatter = NULL, *expr = NULL, *def = NULL;
    cli_opt opts[] = {{"gather", 0, &gather, NULL},
                      {"scatter", 0, &scatter, NULL},
                      {"expr", 0, &expr, NULL},
                      {"default", 0, &def, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 16) return cli_usage_error("column", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("column", "'column' takes REGION/DATASET.NEWCOL");
    if ((gather != NULL) + (scatter != NULL) + (expr != NULL) != 1)
        return cli_usage_error("column", "give exactly one of --gather, --scatter, --expr");
    if (scatter != NULL && def == NULL)
        return cli_usage_error("column", "--scatter needs --default V");
    char tb[NAMEBUF + STRATA_NAME_MAX + 2], sb[NAMEBUF + STRATA_NAME_MAX + 2];
    snprintf(tb, sizeof tb, "%s", pos[0]);
    char *dot = strrchr(tb, '.');
    if (dot == NULL || strchr(tb, '/') == NULL || dot < strchr(tb, '/'))
        return cli_usage_error("column", "'%s' is not REGION/DATASET.COLUMN", pos[0]);
    *dot = '\0';
    const char *region, *name, *col = dot + 1;
    char nb[NAMEBUF];
    if ((rc = cli_split("column", tb, nb, sizeof nb, &region, &name)) != EXIT_OK) return rc;
    strata_column_spec spec = {0};
    const char *src = gather ? gather : scatter;
    char srcb[NAMEBUF];
    if (src != NULL) {
        snprintf(sb, sizeof sb, "%s", src);
        char *sd = strrchr(sb, '.');
        if (sd == NULL || strchr(sb, '/') == NULL || sd < strchr(sb, '/'))
            return cli_usage_error("column", "'%s' is not REGION/DATASET.COLUMN", src);
        *sd = '\0';
        spec.src_column = sd + 1;
        if ((rc = cli_split("column", sb, srcb, sizeof srcb, &spec.src_region, &spec.src_name)) !=
            EXIT_OK)
            return rc;
    }
    spec.op = gather ? "gather" : scatter ? "scatter" : "expr";
    spec.expr = expr;
    spec.default_value = def;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_column_derive(c->pool, region, name, col, &spec);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"column\":\"%s/%s.%s\",\"op\":\"%s\"}\n", region, name, col, spec.op);
    else
        printf("defined %s/%s.%s = %s; run 'strata update %s/%s' to compute it\n", region, name,
               col, spec.op, region, name);
    return EXIT_OK;
}

typedef struct upd_ctx {
    cli *c;
    int tty;
    int printed;
    int quiet; /* a process other than 0 of an update shared under MPI: process 0 says it all */
} upd_ctx;

/* The word of the summary line ("incremental", "refreshed") for an object's MODE, and why. */
static void mode_words(const char *mode, char *out, size_t len)
{
    if (strcmp(mode, "incremental") == 0)
        snprintf(out, len, "incremental");
    else if (strcmp(mode, "full") == 0)
        snprintf(out, len, "refreshed (--full)");
    else if (strcmp(mode, "merged") == 0)
        snprintf(out, len, "refreshed (merged with its dataset)");
    else
        snprintf(out, len, "refreshed");
}

static int update_progress(void *vctx, const strata_update_event *ev)
{
    upd_ctx *u = vctx;
    if (u->quiet) return 0;
    char mode[48];
    mode_words(ev->mode, mode, sizeof mode);
    /* one line per object when it is done; on a terminal the progress line is cleared first */
    if (ev->done == ev->total && !u->c->json) {
        if (u->tty && u->printed) {
            fputs("\r\033[K", stderr);
            u->printed = 0;
        }
        printf("  %s/%s%s%s: %s, %llu %s (%llu rows)\n", ev->region, ev->name,
               strcmp(ev->object, "index") ? "." : " ", ev->object, mode,
               (unsigned long long)ev->total,
               strcmp(ev->object, "index") ? "batch(es) computed" : "source batch(es) read",
               (unsigned long long)ev->rows);
        fflush(stdout);
        return 0;
    }
    if (!u->tty) return 0;
    double rate = ev->seconds > 0 ? (double)ev->rows / ev->seconds : 0;
    fprintf(stderr, "\r\033[K  %s/%s %s (%s): %llu/%llu batches, %.3g rows/s", ev->region, ev->name,
            ev->object, mode, (unsigned long long)ev->done, (unsigned long long)ev->total, rate);
    u->printed = 1;
    return 0;
}

static void print_update_stats(cli *c, const strata_update_stats *s)
{
    if (c->json)
        printf("{\"incremental\":%llu,\"refreshed\":%llu,\"fresh\":%llu,\"batches_read\":%llu,"
               "\"batches_written\":%llu,\"rows_read\":%llu,\"rows_written\":%llu,"
               "\"runs_spilled\":%llu,\"parts_compacted\":%llu,\"ranks\":%d,\"imbalance\":%.3f,"
               "\"seconds\":%.6f}\n",
               (unsigned long long)s->incremental, (unsigned long long)s->refreshed,
               (unsigned long long)s->fresh, (unsigned long long)s->batches_read,
               (unsigned long long)s->batches_written, (unsigned long long)s->rows_read,
               (unsigned long long)s->rows_written, (unsigned long long)s->runs_spilled,
               (unsigned long long)s->parts_compacted, s->ranks, s->imbalance, s->seconds);
    else {
        printf("updated: %llu incremental, %llu refreshed, %llu fresh; read %llu batches (%llu "
               "rows), wrote %llu batches (%llu rows)",
               (unsigned long long)s->incremental, (unsigned long long)s->refreshed,
               (unsigned long long)s->fresh, (unsigned long long)s->batches_read,
               (unsigned long long)s->rows_read, (unsigned long long)s->batches_written,
               (unsigned long long)s->rows_written);
        if (s->runs_spilled > 0)
            printf(", spilled %llu sorted run(s)", (unsigned long long)s->runs_spilled);
        if (s->parts_compacted > 0)
            printf(", compacted %llu partition(s)", (unsigned long long)s->parts_compacted);
        if (s->ranks > 1) printf(" on %d processes (imbalance %.2f)", s->ranks, s->imbalance);
        printf(" in %.3f s\n", s->seconds);
    }
}

/* REGION[/NAME] or nothing into REGION and NAME (NULL when absent). */
static int split_scope(const char *cmd, char *arg, const char **region, const char **name)
{
    *region = *name = NULL;
    if (arg == NULL) return EXIT_OK;
    char *slash = strchr(arg, '/');
    if (slash != NULL) {
        *slash = '\0';
        *name = slash + 1;
        if (**name == '\0') return cli_usage_error(cmd, "'%s/' names no dataset", arg);
    }
    *region = arg;
    return EXIT_OK;
}

int cmd_update(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata update [REGION[/NAME]] [--full] [--auto] [--mem BYTES] [--threads N]\n"
        "                     [--batch-rows N] [--mpi | --no-mpi]\n"
        "Bring derived datasets and columns up to date (with their ancestors and\n"
        "descendants), oldest first: incrementally, or from scratch with --full.\n"
        "--auto: only what 'strata auto' registered. --mem: budget for sorts (512M, 4G).\n"
        "--batch-rows: rows per output batch and per partition of a sorted dataset\n"
        "(at least 1024; default 2097152).\n"
        "Under mpirun (or with --mpi) the processes share the work, each on its part of\n"
        "the batches, and process 0 publishes; --no-mpi: each process updates alone.\n";
    char *pos[16];
    int npos, full = 0, autoo = 0, mpi = 0, nompi = 0;
    const char *mem = NULL, *threads = NULL, *brows = NULL;
    cli_opt opts[] = {{"full", 0, NULL, &full},
                      {"auto", 0, NULL, &autoo},
                      {"mpi", 0, NULL, &mpi},
                      {"no-mpi", 0, NULL, &nompi},
                      {"mem", 0, &mem, NULL},
                      {"batch-rows", 0, &brows, NULL},
                      {"threads", 0, &threads, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 16) return cli_usage_error("update", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 1) return cli_usage_error("update", "'update' takes at most REGION[/NAME]");
    strata_update_opts o = {0};
    o.full = full;
    o.auto_only = autoo;
    if (mem != NULL && cli_parse_bytes(mem, &o.mem) != 0)
        return cli_usage_error("update", "--mem takes bytes (e.g. 512M, 4G)");
    if (mem != NULL && o.mem < (1u << 20)) {
        return cli_report(STRATA_EINVAL, NULL,
                          "--mem %s is below the minimum of 1M: an update needs at least 1 MiB "
                          "for its buffers",
                          mem);
    }
    uint64_t nt = 0;
    if (threads != NULL && (cli_parse_u64(threads, &nt) != 0 || nt > 4096))
        return cli_usage_error("update", "--threads takes a number from 0 to 4096");
    o.nthreads = (int)nt;
    if (brows != NULL && (cli_parse_u64(brows, &o.batch_rows) != 0 || o.batch_rows < 1024))
        return cli_usage_error("update", "--batch-rows takes a number of rows, at least 1024");
    const char *region, *name;
    if ((rc = split_scope("update", npos ? pos[0] : NULL, &region, &name)) != EXIT_OK) return rc;
    if (mpi && nompi) return cli_usage_error("update", "--mpi and --no-mpi exclude each other");
    strata_mpi *m = NULL;
    if ((rc = cli_mpi_start(mpi, nompi, &m)) != EXIT_OK) return rc;
    if (m != NULL && o.nthreads == 0) o.nthreads = cli_mpi_threads(c);
    int rank = strata_mpi_rank(m);
    if ((rc = cli_open_pool(c)) != EXIT_OK) goto done;
    upd_ctx uc = {c, isatty(2) && !c->json, 0, rank != 0};
    o.progress = update_progress;
    o.progress_ctx = &uc;
    strata_update_stats s;
    int st = strata_update_comm(c->pool, region, name, &o, &s, strata_mpi_world(m));
    if (uc.printed) fputs("\r\033[K", stderr);
    if (st < 0) /* every process has the error: process 0 says it */
        rc = rank == 0 ? cli_fail(c, st) : cli_exit_code(st);
    else if (rank == 0)
        print_update_stats(c, &s);
done:
    strata_mpi_close(m);
    return rc;
}

int cmd_auto(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata auto REGION/NAME [--off]\n"
                            "Register a derived dataset (with its columns and ancestors) for\n"
                            "automatic update ('strata update --auto', 'strata watch').\n";
    char *pos[8];
    int npos, off = 0;
    cli_opt opts[] = {{"off", 0, NULL, &off}, CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("auto", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("auto", "'auto' takes REGION/NAME");
    char nb[NAMEBUF];
    const char *region, *name;
    if ((rc = cli_split("auto", pos[0], nb, sizeof nb, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_auto(c->pool, region, name, !off);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"dataset\":\"%s/%s\",\"auto\":%s}\n", region, name, off ? "false" : "true");
    else
        printf("%s/%s %s automatic update\n", region, name, off ? "left" : "registered for");
    return EXIT_OK;
}

static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
    (void)sig;
    stop_watch = 1;
}

int cmd_watch(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata watch [REGION] [--interval S] [--ndjson]\n"
        "Keep the datasets registered with 'strata auto' up to date: update whenever the\n"
        "catalog changes (a publish), and at least every S seconds (default 5). Stops on\n"
        "SIGINT or SIGTERM.\n";
    char *pos[8];
    int npos;
    const char *interval = NULL;
    cli_opt opts[] = {{"interval", 0, &interval, NULL}, CLI_OPT_JSON, CLI_OPT_NDJSON, {0}};
    if (argc > 8) return cli_usage_error("watch", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (c->json && !c->ndjson) /* a stream has no one document */
        return cli_usage_error("watch", "watch streams: --ndjson prints an update per line");
    if (npos > 1) return cli_usage_error("watch", "'watch' takes at most a REGION");
    double secs = 5;
    if (interval != NULL) {
        char *end;
        secs = strtod(interval, &end);
        if (end == interval || *end != '\0' || !(secs > 0) || secs > 86400)
            return cli_usage_error("watch", "--interval takes seconds (> 0)");
    }
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Wake on writes to the catalog's write-ahead log: every publish writes it. */
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino >= 0 && inotify_add_watch(ino, strata_pool_path(c->pool),
                                      IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
        close(ino);
        ino = -1;
    }
    if (!c->json)
        fprintf(stderr, "watching %s%s (every %.3g s%s); Ctrl-C stops\n", strata_pool_path(c->pool),
                npos ? "" : "", secs, ino >= 0 ? " and on every publish" : "");
    strata_update_opts o = {0};
    o.auto_only = 1;
    int status = EXIT_OK;
    while (!stop_watch) {
        strata_update_stats s;
        int st = strata_update(c->pool, npos ? pos[0] : NULL, NULL, &o, &s);
        if (st < 0) {
            status = cli_report(st, NULL, "watch: %s%s", strata_errmsg(c->pool), cli_errwhere(c));
        } else if (s.incremental + s.refreshed > 0) {
            print_update_stats(c, &s);
            fflush(stdout);
        }
        /* Drain events caused by the update itself, then wait for the next change. */
        char buf[4096];
        if (ino >= 0)
            while (read(ino, buf, sizeof buf) > 0) {
            }
        struct pollfd pfd = {ino, POLLIN, 0};
        double waited = 0;
        while (!stop_watch && waited < secs) {
            int slice = (int)((secs - waited) * 1000 < 500 ? (secs - waited) * 1000 : 500);
            if (slice < 1) slice = 1;
            int r = ino >= 0 ? poll(&pfd, 1, slice) : (usleep((useconds_t)slice * 1000), 0);
            waited += slice / 1000.0;
            if (r > 0) {
                /* A burst of writes is one publish: let it settle. */
                usleep(20000);
                while (read(ino, buf, sizeof buf) > 0) {
                }
                break;
            }
        }
    }
    if (ino >= 0) close(ino);
    if (!c->json) fprintf(stderr, "watch stopped\n");
    return status;
}

typedef struct lin_ctx {
    cli *c;
    int n;
    int dot;
} lin_ctx;

static int print_lineage(void *vctx, const strata_lineage_info *li)
{
    lin_ctx *l = vctx;
    if (l->c->json) {
        printf("%s{\"dataset\":\"%s/%s\",\"column\":", l->n ? "," : "", li->region, li->name);
        if (li->column)
            cli_json_str(stdout, li->column);
        else
            fputs("null", stdout);
        printf(",\"op\":\"%s\",\"args\":", li->op);
        cli_json_str(stdout, li->args);
        printf(",\"source\":\"%s/%s\",\"order_destroying\":%s,\"auto\":%s,\"consumed\":%llu,"
               "\"source_batches\":%llu,\"fresh\":%s,\"computed\":%s}",
               li->src_region, li->src_name, li->destroys_order ? "true" : "false",
               li->auto_update ? "true" : "false", (unsigned long long)li->consumed,
               (unsigned long long)li->source_batches, li->fresh ? "true" : "false",
               li->computed ? "true" : "false");
    } else if (l->dot) {
        const char *color = li->fresh ? "black" : "red";
        if (li->column)
            printf("  \"%s/%s.%s\" [shape=note,color=%s];\n  \"%s/%s\" -> \"%s/%s.%s\" "
                   "[label=\"%s\"];\n  \"%s/%s.%s\" -> \"%s/%s\";\n",
                   li->region, li->name, li->column, color, li->src_region, li->src_name,
                   li->region, li->name, li->column, li->op, li->region, li->name, li->column,
                   li->region, li->name);
        else
            printf("  \"%s/%s\" [color=%s];\n  \"%s/%s\" -> \"%s/%s\" [label=\"%s %s\"];\n",
                   li->region, li->name, color, li->src_region, li->src_name, li->region, li->name,
                   li->op, li->args);
    } else {
        char target[3 * STRATA_NAME_MAX + 8];
        snprintf(target, sizeof target, "%s/%s%s%s", li->region, li->name, li->column ? "." : "",
                 li->column ? li->column : "");
        printf("%-32s = %s %s   (from %s/%s; %s%s%s)\n", target, li->op, li->args, li->src_region,
               li->src_name,
               !li->computed ? "never computed"
               : li->fresh   ? "fresh"
                             : "STALE",
               li->destroys_order ? ", order-destroying" : "", li->auto_update ? ", auto" : "");
        if (li->column == NULL)
            printf("%-32s   consumed %llu of %llu source batches\n", "",
                   (unsigned long long)li->consumed, (unsigned long long)li->source_batches);
    }
    l->n++;
    return 0;
}

/* Print the lineage of REGION/NAME (used by show too). */
int cli_lineage(cli *c, const char *region, const char *name, int dot)
{
    lin_ctx l = {c, 0, dot};
    if (c->json) fputs("[", stdout);
    if (dot && !c->json) fputs("digraph lineage {\n  rankdir=LR;\n", stdout);
    int st = strata_lineage(c->pool, region, name, print_lineage, &l);
    if (dot && !c->json) fputs("}\n", stdout);
    if (c->json) fputs("]", stdout);
    return st < 0 ? st : l.n;
}

int cmd_lineage(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata lineage [REGION[/NAME]] [--dot]\n"
                            "The derivation graph around REGION/NAME: sources, operations, what\n"
                            "was consumed, fresh or stale. --dot: Graphviz (stale in red).\n";
    char *pos[8];
    int npos, dot = 0;
    cli_opt opts[] = {{"dot", 0, NULL, &dot}, CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("lineage", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 1) return cli_usage_error("lineage", "'lineage' takes at most REGION[/NAME]");
    const char *region, *name;
    if ((rc = split_scope("lineage", npos ? pos[0] : NULL, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = cli_lineage(c, region, name, dot);
    if (c->json) fputs("\n", stdout);
    if (st < 0) return cli_fail(c, st);
    if (st == 0 && !c->json && !dot) printf("nothing is derived here\n");
    return EXIT_OK;
}
