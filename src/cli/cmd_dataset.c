/*
 * cmd_dataset.c -- strata ingest | ls | show | cat | export | log | check | gc | demo taxi.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define NAMEBUF (2 * STRATA_NAME_MAX + 2)

static void iso_time(int64_t ns, char *out, size_t len)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "?");
}

/* ---- ingest ----------------------------------------------------------------------------- */

static const char ingest_usage[] =
    "usage: strata ingest REGION/NAME FILE... [options]\n"
    "Ingest CSV, NPY, Parquet, Arrow IPC or HDF5 files into a dataset (created on first use).\n"
    "  --format csv|npy|parquet|arrow|hdf5  default: npy for .npy files and directories,\n"
    "                        parquet for .parquet, arrow for .arrow and .feather, hdf5 for\n"
    "                        .h5 and .hdf5, else csv. Parquet: a batch per row group; arrow:\n"
    "                        per record batch\n"
    "  --path /GROUP         HDF5: the group holding one 1-D dataset per column (default /)\n"
    "  --batch-rows N        split each file into batches of N rows (default: one per file)\n"
    "  --schema a:i64,b:str  the schema of a new dataset (default: from the CSV header and\n"
    "                        its first 1000 rows: i64, f64, ts or str)\n"
    "  --delimiter C         CSV field delimiter (default ','; 'tab' for a tab)\n"
    "  --null S              CSV null marker (default: the empty field; a quoted \"\" is an\n"
    "                        empty string, not a null)\n"
    "  --column NAME=FILE    NPY: a column from one file (repeatable); or give a directory\n"
    "                        holding NAME.npy per column\n"
    "  --publish-each        publish every batch as it is written (default: all batches of\n"
    "                        the command are published together, or none)\n"
    "  --threads N           parser threads\n"
    "  --quiet               no progress on a terminal\n"
    "  --mpi | --no-mpi      CSV under mpirun (or with --mpi): the processes split the files,\n"
    "                        each writing its own batches; process 0 publishes them all in one\n"
    "                        version, in file order. --no-mpi: each process ingests alone\n"
    "Bad input (wrong field count, unparsable value, overflow, unterminated quote, invalid\n"
    "UTF-8, empty file, missing header, schema mismatch) exits 3 naming file:line:column and\n"
    "publishes nothing; bad or unsupported Parquet, Arrow or HDF5 input (a nested or\n"
    "compound type, a 2-D column ...) exits 3 naming the file and the column.\n";

struct progress_ctx {
    int tty;
};

static int show_progress(void *vctx, const strata_ingest_stats *s, uint64_t total)
{
    struct progress_ctx *p = vctx;
    if (!p->tty) return 0;
    double mbps = s->seconds > 0 ? (double)s->bytes_read / s->seconds / 1e6 : 0;
    double left = s->bytes_read > 0 && total > s->bytes_read
                      ? s->seconds * (double)(total - s->bytes_read) / (double)s->bytes_read
                      : 0;
    fprintf(stderr, "\r  %llu rows, %.0f MB/s, %llu batches, %.0f%%, %.0f s left   ",
            (unsigned long long)s->rows, mbps, (unsigned long long)s->batches,
            total ? 100.0 * (double)s->bytes_read / (double)total : 100.0, left);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* NPY columns from a directory: every NAME.npy in it, in name order. */
static int npy_dir(const char *dir, char ***names, char ***files, int *n)
{
    struct dirent **list;
    int k = scandir(dir, &list, NULL, alphasort);
    if (k < 0) {
        return cli_report(errno == ENOENT ? STRATA_ENOTFOUND : STRATA_EIO, NULL,
                          "cannot read directory '%s': %s", dir, strerror(errno));
    }
    *names = calloc((size_t)k + 1, sizeof **names);
    *files = calloc((size_t)k + 1, sizeof **files);
    *n = 0;
    for (int i = 0; i < k; i++) {
        const char *e = list[i]->d_name;
        /* NAME.valid.npy is the validity of column NAME, which the library reads beside it */
        if (e[0] != '.' && ends_with(e, ".npy") && !ends_with(e, ".valid.npy") && *names &&
            *files) {
            (*names)[*n] = strndup(e, strlen(e) - 4);
            size_t len = strlen(dir) + strlen(e) + 2;
            (*files)[*n] = malloc(len);
            snprintf((*files)[*n], len, "%s/%s", dir, e);
            (*n)++;
        }
        free(list[i]);
    }
    free(list);
    if (*n == 0) {
        return cli_report(STRATA_EINVAL, NULL, "directory '%s' holds no .npy files", dir);
    }
    return EXIT_OK;
}

/* The options of one 'strata ingest', as given. */
typedef struct {
    const char *format, *batch_rows, *schema, *delim, *null, *threads, *column, *path;
    int publish_each, quiet, mpi, nompi;
} ingest_args;

/* Move every --column NAME=FILE of ARGV (they repeat, and the generic scan keeps only the last
 * one) to COLS_KV, the other arguments to ARGS. */
static void gather_columns(int argc, char **argv, char **cols_kv, int *ncol_kv, char **args,
                           int *nargs)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--column") == 0 && i + 1 < argc)
            cols_kv[(*ncol_kv)++] = argv[++i];
        else if (strncmp(argv[i], "--column=", 9) == 0)
            cols_kv[(*ncol_kv)++] = argv[i] + 9;
        else
            args[(*nargs)++] = argv[i];
    }
}

/* The library's options from A's --batch-rows, --threads, --delimiter, --null, --schema and
 * --publish-each. */
static int ingest_opts_from(const ingest_args *a, strata_ingest_opts *o)
{
    uint64_t v;
    if (a->batch_rows != NULL) {
        if (cli_parse_u64(a->batch_rows, &v) != 0 || v == 0)
            return cli_usage_error("ingest", "--batch-rows takes a positive number of rows");
        o->batch_rows = v;
    }
    if (a->threads != NULL) {
        if (cli_parse_u64(a->threads, &v) != 0 || v > 4096)
            return cli_usage_error("ingest", "--threads takes a number of threads");
        o->nthreads = (int)v;
    }
    if (a->delim != NULL) {
        if (strcmp(a->delim, "tab") == 0 || strcmp(a->delim, "\\t") == 0)
            o->delimiter = '\t';
        else if (strlen(a->delim) == 1)
            o->delimiter = a->delim[0];
        else
            return cli_usage_error("ingest", "--delimiter takes one character (or 'tab')");
    }
    o->null_marker = a->null;
    o->schema = a->schema;
    o->publish_each = a->publish_each;
    return EXIT_OK;
}

enum { IN_CSV, IN_NPY, IN_PARQUET, IN_ARROW, IN_HDF5, IN_FORMATS };

/* The input's format: --format if given, else NPY for --column pairs, a .npy file or a
 * directory as the first FILE, Parquet for a .parquet file, else CSV. */
static int input_format(const char *format, int ncol_kv, char **pos, int npos, int *in)
{
    static const char *const names[] = {[IN_CSV] = "csv",
                                        [IN_NPY] = "npy",
                                        [IN_PARQUET] = "parquet",
                                        [IN_ARROW] = "arrow",
                                        [IN_HDF5] = "hdf5"};
    for (*in = 0; format != NULL && *in < IN_FORMATS && strcmp(format, names[*in]) != 0; (*in)++)
        continue;
    if (format != NULL && *in == IN_FORMATS)
        return cli_usage_error("ingest", "--format is csv, npy, parquet, arrow or hdf5");
    if (format != NULL) return EXIT_OK;
    *in = ncol_kv > 0 ? IN_NPY : IN_CSV;
    if (npos >= 2) {
        struct stat st;
        if (ends_with(pos[1], ".npy") || (stat(pos[1], &st) == 0 && S_ISDIR(st.st_mode)))
            *in = IN_NPY;
        else if (ends_with(pos[1], ".parquet") || ends_with(pos[1], ".pq"))
            *in = IN_PARQUET;
        else if (ends_with(pos[1], ".arrow") || ends_with(pos[1], ".feather"))
            *in = IN_ARROW;
        else if (ends_with(pos[1], ".h5") || ends_with(pos[1], ".hdf5"))
            *in = IN_HDF5;
    }
    return EXIT_OK;
}

/* Options that only some input formats take. */
static int check_format_args(const ingest_args *a, int in, int npos)
{
    if (in == IN_HDF5 && npos != 2)
        return cli_usage_error("ingest", "HDF5 ingest takes one FILE (and --path /GROUP)");
    if ((in == IN_HDF5 || in == IN_PARQUET || in == IN_ARROW) && (a->schema || a->delim || a->null))
        return cli_usage_error("ingest", "--schema, --delimiter and --null are for CSV input");
    if (in != IN_HDF5 && a->path != NULL)
        return cli_usage_error("ingest", "--path is for HDF5 input (--format hdf5)");
    return EXIT_OK;
}

/* The NPY columns to ingest: the --column NAME=FILE pairs, or every NAME.npy of the one
 * directory given. */
static int npy_columns(char **cols_kv, int ncol_kv, char **pos, int npos, char ***names,
                       char ***files, int *nnames)
{
    if (ncol_kv == 0) {
        if (npos != 2)
            return cli_usage_error("ingest", "NPY ingest takes one directory, or --column pairs");
        return npy_dir(pos[1], names, files, nnames);
    }
    *names = calloc((size_t)ncol_kv, sizeof **names);
    *files = calloc((size_t)ncol_kv, sizeof **files);
    for (int i = 0; i < ncol_kv; i++) {
        char *eq = strchr(cols_kv[i], '=');
        if (eq == NULL)
            return cli_usage_error("ingest", "--column takes NAME=FILE.npy, not '%s'", cols_kv[i]);
        (*names)[i] = strndup(cols_kv[i], (size_t)(eq - cols_kv[i]));
        (*files)[i] = strdup(eq + 1);
    }
    *nnames = ncol_kv;
    return EXIT_OK;
}

/* What was ingested: a JSON object on stdout with --json, else a line on stderr unless
 * --quiet. */
static void print_ingested(const cli *c, const char *region, const char *name,
                           const strata_ingest_stats *stats, int quiet)
{
    char hb[32];
    cli_human_bytes((double)stats->bytes_read, hb, sizeof hb);
    if (c->json)
        printf("{\"dataset\":\"%s/%s\",\"rows\":%llu,\"batches\":%llu,\"bytes\":%llu,"
               "\"seconds\":%.3f,\"version\":%lld}\n",
               region, name, (unsigned long long)stats->rows, (unsigned long long)stats->batches,
               (unsigned long long)stats->bytes_read, stats->seconds, (long long)stats->version);
    else if (!quiet)
        fprintf(
            stderr,
            "ingested %llu rows in %llu batch(es) from %llu file(s) (%s) in %.2f s (%.0f MB/s); "
            "%s/%s is at version %lld\n",
            (unsigned long long)stats->rows, (unsigned long long)stats->batches,
            (unsigned long long)stats->files, hb, stats->seconds,
            stats->seconds > 0 ? (double)stats->bytes_read / stats->seconds / 1e6 : 0.0, region,
            name, (long long)stats->version);
}

/* MPI for an ingest under mpirun (or --mpi): CSV files only, published together. */
static int ingest_mpi_start(cli *c, const ingest_args *a, int in, strata_ingest_opts *o,
                            strata_mpi **m)
{
    *m = NULL;
    if (a->mpi && a->nompi)
        return cli_usage_error("ingest", "--mpi and --no-mpi exclude each other");
    int rc = cli_mpi_start(a->mpi, a->nompi, m);
    if (rc != EXIT_OK || *m == NULL) return rc;
    if ((in != IN_CSV && in != IN_PARQUET) || a->publish_each) {
        strata_mpi_close(*m);
        *m = NULL;
        return cli_report(STRATA_EINVAL,
                          "run it without mpirun (or with --no-mpi), or convert the input to CSV "
                          "or Parquet",
                          "ingest across MPI processes takes CSV or Parquet files published "
                          "together: not %s",
                          a->publish_each ? "--publish-each" : "this input format");
    }
    if (o->nthreads == 0) o->nthreads = cli_mpi_threads(c);
    return EXIT_OK;
}

int cmd_ingest(cli *c, int argc, char **argv)
{
    ingest_args a = {0};
    cli_opt opts[] = {{"format", 0, &a.format, NULL},
                      {"batch-rows", 0, &a.batch_rows, NULL},
                      {"schema", 0, &a.schema, NULL},
                      {"delimiter", 'd', &a.delim, NULL},
                      {"null", 0, &a.null, NULL},
                      {"threads", 0, &a.threads, NULL},
                      {"publish-each", 0, NULL, &a.publish_each},
                      {"quiet", 'q', NULL, &a.quiet},
                      CLI_OPT_JSON,
                      {"column", 0, &a.column, NULL},
                      {"path", 0, &a.path, NULL},
                      {"mpi", 0, NULL, &a.mpi},
                      {"no-mpi", 0, NULL, &a.nompi},
                      {0}};
    char **cols_kv = calloc((size_t)argc + 1, sizeof *cols_kv);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    char **names = NULL, **files = NULL;
    int ncol_kv = 0, nargs = 0, npos, nnames = 0, in, rc, rank = 0;
    strata_mpi *m = NULL;
    if (cols_kv == NULL || args == NULL || pos == NULL)
        return cli_report(STRATA_ENOMEM, NULL, "out of memory");
    gather_columns(argc, argv, cols_kv, &ncol_kv, args, &nargs);
    if ((rc = cli_scan(nargs, args, opts, ingest_usage, pos, &npos, 0)) != EXIT_OK) goto done;
    if (npos < 1 || (npos < 2 && ncol_kv == 0)) {
        rc = cli_usage_error("ingest", "'ingest' needs REGION/NAME and at least one FILE");
        goto done;
    }
    char buf[NAMEBUF];
    const char *region, *name;
    if ((rc = cli_split("ingest", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK) goto done;
    strata_ingest_opts o = {0};
    if ((rc = ingest_opts_from(&a, &o)) != EXIT_OK) goto done;
    struct progress_ctx pc = {!a.quiet && !c->json && isatty(2)};
    o.progress = show_progress;
    o.progress_ctx = &pc;
    if ((rc = input_format(a.format, ncol_kv, pos, npos, &in)) != EXIT_OK) goto done;
    if ((rc = check_format_args(&a, in, npos)) != EXIT_OK) goto done;
    if ((rc = ingest_mpi_start(c, &a, in, &o, &m)) != EXIT_OK) goto done;
    rank = strata_mpi_rank(m);
    if (rank != 0) pc.tty = 0;
    if ((rc = cli_open_pool(c)) != EXIT_OK) goto done;
    strata_ingest_stats stats;
    int st;
    if (in == IN_HDF5) {
        st = strata_ingest_hdf5(c->pool, region, name, pos[1], a.path, &o, &stats);
    } else if (in == IN_NPY) {
        rc = npy_columns(cols_kv, ncol_kv, pos, npos, &names, &files, &nnames);
        if (rc != EXIT_OK) goto done;
        st = strata_ingest_npy(c->pool, region, name, (const char *const *)names,
                               (const char *const *)files, nnames, &o, &stats);
    } else if (in == IN_PARQUET) {
        st = strata_ingest_parquet_comm(c->pool, region, name, (const char *const *)pos + 1,
                                        npos - 1, &o, &stats, strata_mpi_world(m));
    } else if (in == IN_ARROW) {
        st = strata_ingest_arrow(c->pool, region, name, (const char *const *)pos + 1, npos - 1, &o,
                                 &stats);
    } else {
        st = strata_ingest_csv_comm(c->pool, region, name, (const char *const *)pos + 1, npos - 1,
                                    &o, &stats, strata_mpi_world(m));
    }
    if (pc.tty) fputs("\r\033[K", stderr);
    if (st < 0) { /* under MPI every process has the error: process 0 says it */
        rc = rank == 0 ? cli_fail(c, st) : cli_exit_code(st);
        goto done;
    }
    if (rank == 0) print_ingested(c, region, name, &stats, a.quiet);
    rc = EXIT_OK;
done:
    strata_mpi_close(m);
    for (int i = 0; i < nnames; i++) {
        if (names) free(names[i]);
        if (files) free(files[i]);
    }
    free(names);
    free(files);
    free(cols_kv);
    free(args);
    free(pos);
    return rc;
}

/* ---- ls, show, log ------------------------------------------------------------------------ */

struct ls_ctx {
    cli *c;
    const char *region;
    int n;
};

static int ls_dataset(void *vctx, const char *name)
{
    struct ls_ctx *lc = vctx;
    strata_dataset *ds;
    strata_dataset_desc d;
    if (strata_dataset_open(lc->c->pool, lc->region, name, &ds) != STRATA_OK) return 0;
    if (strata_dataset_info(ds, &d) == STRATA_OK) {
        if (lc->c->json) {
            if (lc->n++) fputc(',', stdout);
            fputs("{\"region\":", stdout);
            cli_json_str(stdout, lc->region);
            fputs(",\"name\":", stdout);
            cli_json_str(stdout, name);
            printf(",\"version\":%lld,\"batches\":%llu,\"rows\":%llu,\"bytes\":%llu}",
                   (long long)d.version, (unsigned long long)d.nbatches,
                   (unsigned long long)d.nrows, (unsigned long long)d.bytes);
        } else {
            char hb[32];
            cli_human_bytes((double)d.bytes, hb, sizeof hb);
            printf("%s/%s\tv%lld\t%llu rows\t%llu batches\t%s\n", lc->region, name,
                   (long long)d.version, (unsigned long long)d.nrows,
                   (unsigned long long)d.nbatches, hb);
        }
    }
    strata_dataset_close(ds);
    return 0;
}

static int ls_region(void *vctx, const char *region)
{
    struct ls_ctx *lc = vctx;
    lc->region = region;
    int st = strata_dataset_list(lc->c->pool, region, ls_dataset, lc);
    return st < 0 ? st : 0;
}

int cmd_ls(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata ls [REGION]\nList datasets: version, rows, batches, "
                            "bytes.\n";
    char *pos[8];
    int npos;
    cli_opt opts[] = {CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("ls", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 1) return cli_usage_error("ls", "'ls' takes at most one REGION");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    struct ls_ctx lc = {c, NULL, 0};
    if (c->json) fputs("{\"datasets\":[", stdout);
    int st = npos == 1 ? ls_region(&lc, pos[0]) : strata_region_list(c->pool, ls_region, &lc);
    if (c->json) fputs("]}\n", stdout);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

static int parse_as_of(const char *s, int64_t *out)
{
    uint64_t v = 0;
    if (s != NULL && (cli_parse_u64(s, &v) != 0 || v == 0 || v > INT64_MAX)) return -1;
    *out = (int64_t)v;
    return 0;
}

static int open_snapshot(cli *c, const char *cmd, const char *arg, const char *as_of,
                         strata_snapshot **s)
{
    char buf[NAMEBUF];
    const char *region, *name;
    int64_t v;
    int rc = cli_split(cmd, arg, buf, sizeof buf, &region, &name);
    if (rc != EXIT_OK) return rc;
    if (parse_as_of(as_of, &v) != 0) return cli_usage_error(cmd, "--as-of takes a version number");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_snapshot_open(c->pool, region, name, v, s);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

static void print_stat_value_to(FILE *f, const strata_column *col, const strata_column_stats *cs,
                                int max, int json)
{
    if (col->dtype == STRATA_F32 || col->dtype == STRATA_F64)
        cli_print_real(f, max ? cs->max : cs->min, col->dtype == STRATA_F32, json);
    else if (col->dtype == STRATA_U64)
        fprintf(f, "%llu", (unsigned long long)(max ? cs->max_i : cs->min_i));
    else if (col->dtype == STRATA_TS) {
        char ts[STRATA_TS_FORMAT_MAX];
        strata_ts_format(max ? cs->max_i : cs->min_i, ts);
        fprintf(f, json ? "\"%s\"" : "%s", ts);
    } else
        fprintf(f, "%lld", (long long)(max ? cs->max_i : cs->min_i));
}

static void print_stat_value(const strata_column *col, const strata_column_stats *cs, int max,
                             int json)
{
    print_stat_value_to(stdout, col, cs, max, json);
}

/* The statistics of batch B of S for 'show': min..max and nulls per column (JSON: "stats" and
 * "nulls" objects). */
static void show_batch_stats(cli *c, strata_snapshot *s, const strata_dataset_desc *d, uint64_t b)
{
    int first = 1;
    for (int col = 0; col < d->ncols; col++) {
        strata_column_stats cs;
        if (strata_snapshot_stats(s, b, col, &cs) != STRATA_OK || !cs.has_minmax) continue;
        if (c->json) {
            printf("%s", first ? "" : ",");
            cli_json_str(stdout, d->columns[col].name);
            fputs(":[", stdout);
            if (isfinite(cs.min))
                print_stat_value(&d->columns[col], &cs, 0, c->json);
            else
                fputs("null", stdout);
            fputc(',', stdout);
            if (isfinite(cs.max))
                print_stat_value(&d->columns[col], &cs, 1, c->json);
            else
                fputs("null", stdout);
            fputc(']', stdout);
        } else {
            printf(" %s=", d->columns[col].name);
            print_stat_value(&d->columns[col], &cs, 0, c->json);
            fputs("..", stdout);
            print_stat_value(&d->columns[col], &cs, 1, c->json);
        }
        first = 0;
    }
    if (c->json) fputs("},\"nulls\":{", stdout);
    first = 1;
    for (int col = 0; col < d->ncols; col++) {
        strata_column_stats cs;
        if (strata_snapshot_stats(s, b, col, &cs) != STRATA_OK || cs.nulls == 0) continue;
        if (c->json) {
            printf("%s", first ? "" : ",");
            cli_json_str(stdout, d->columns[col].name);
            printf(":%llu", (unsigned long long)cs.nulls);
        } else {
            printf("%s%s:%llu", first ? "  nulls " : " ", d->columns[col].name,
                   (unsigned long long)cs.nulls);
        }
        first = 0;
    }
    if (c->json) fputc('}', stdout);
}

/* One column over every batch: its statistics, and how it is derived. */
typedef struct col_summary {
    strata_column_stats all; /* min, max, nulls and bytes over the batches that have it */
    uint64_t computed;       /* batches it is computed for */
    char derived[256];       /* "expr 'fare / 100'", or "" for a stored column */
} col_summary;

typedef struct derived_ctx {
    const strata_dataset_desc *d;
    col_summary *cs;
} derived_ctx;

static int note_derived_col(void *ctx, const strata_lineage_info *li)
{
    const derived_ctx *x = ctx;
    const strata_dataset_desc *d = x->d;
    col_summary *cs = x->cs;
    if (li->column == NULL || strcmp(li->region, d->region) || strcmp(li->name, d->name)) return 0;
    for (int i = 0; i < d->ncols; i++)
        if (strcmp(d->columns[i].name, li->column) == 0)
            snprintf(cs[i].derived, sizeof cs[i].derived, "%s %s", li->op, li->args);
    return 0;
}

static void summarise_column(strata_snapshot *s, const strata_dataset_desc *d, int col,
                             col_summary *cs)
{
    memset(&cs->all, 0, sizeof cs->all);
    for (uint64_t b = 0; b < d->nbatches; b++) {
        strata_column_stats st;
        strata_batch_info bi;
        /* a batch column not computed yet (a derived column behind its dataset) has no bytes */
        if (strata_snapshot_stats(s, b, col, &st) != STRATA_OK ||
            strata_snapshot_batch(s, b, &bi) != STRATA_OK || (st.bytes == 0 && bi.nrows > 0))
            continue;
        cs->computed++;
        cs->all.bytes += st.bytes;
        cs->all.nulls += st.nulls;
        if (!st.has_minmax) continue;
        int first = !cs->all.has_minmax;
        cs->all.has_minmax = 1;
        if (first || st.min < cs->all.min) cs->all.min = st.min, cs->all.min_i = st.min_i;
        if (first || st.max > cs->all.max) cs->all.max = st.max, cs->all.max_i = st.max_i;
    }
}

/* 'show --columns': a line per column (JSON: an object per column). */
static int show_columns(cli *c, strata_snapshot *s, const strata_dataset_desc *d)
{
    col_summary *cs = calloc((size_t)d->ncols + 1, sizeof *cs);
    if (cs == NULL) return cli_report(STRATA_ENOMEM, NULL, "out of memory");
    derived_ctx x = {d, cs};
    int st = strata_lineage(c->pool, d->region, d->name, note_derived_col, &x);
    if (st < 0) {
        free(cs);
        return cli_fail(c, st);
    }
    if (c->json)
        printf("{\"dataset\":\"%s/%s\",\"version\":%lld,\"batches\":%llu,\"columns\":[", d->region,
               d->name, (long long)d->version, (unsigned long long)d->nbatches);
    else
        printf("%-16s %-5s %10s %14s %14s %10s  %s\n", "COLUMN", "DTYPE", "NULLS", "MIN", "MAX",
               "BYTES", "DERIVED");
    for (int i = 0; i < d->ncols; i++) {
        col_summary *k = &cs[i];
        summarise_column(s, d, i, k);
        char lo[64] = "", hi[64] = "", hb[32];
        FILE *m = fmemopen(lo, sizeof lo, "w");
        if (m != NULL && k->all.has_minmax)
            print_stat_value_to(m, &d->columns[i], &k->all, 0, c->json);
        if (m != NULL) fclose(m);
        m = fmemopen(hi, sizeof hi, "w");
        if (m != NULL && k->all.has_minmax)
            print_stat_value_to(m, &d->columns[i], &k->all, 1, c->json);
        if (m != NULL) fclose(m);
        if (c->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, d->columns[i].name);
            printf(",\"dtype\":\"%s\",\"nulls\":%llu,\"min\":%s,\"max\":%s,\"bytes\":%llu,"
                   "\"computed_batches\":%llu,\"derived\":",
                   strata_dtype_name(d->columns[i].dtype), (unsigned long long)k->all.nulls,
                   lo[0] ? lo : "null", hi[0] ? hi : "null", (unsigned long long)k->all.bytes,
                   (unsigned long long)k->computed);
            if (k->derived[0])
                cli_json_str(stdout, k->derived);
            else
                fputs("null", stdout);
            fputc('}', stdout);
            continue;
        }
        cli_human_bytes((double)k->all.bytes, hb, sizeof hb);
        printf("%-16s %-5s %10llu %14s %14s %10s  %s", d->columns[i].name,
               strata_dtype_name(d->columns[i].dtype), (unsigned long long)k->all.nulls,
               lo[0] ? lo : "-", hi[0] ? hi : "-", hb, k->derived[0] ? k->derived : "-");
        if (k->derived[0] && k->computed < d->nbatches)
            printf(" (computed for %llu of %llu batches: run 'strata update %s/%s')",
                   (unsigned long long)k->computed, (unsigned long long)d->nbatches, d->region,
                   d->name);
        fputc('\n', stdout);
    }
    if (c->json) fputs("]}\n", stdout);
    free(cs);
    return EXIT_OK;
}

int cmd_show(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata show REGION/NAME [--as-of VERSION] [--columns]\n"
        "Schema, batches (rows, bytes, min/max), totals and versions. --columns: a line per\n"
        "column instead, over every batch: dtype, nulls, min, max, bytes, and how it is derived.\n";
    char *pos[8];
    int npos, columns = 0;
    const char *as_of = NULL;
    cli_opt opts[] = {
        {"as-of", 0, &as_of, NULL}, {"columns", 'c', NULL, &columns}, CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("show", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("show", "'show' takes REGION/NAME");
    strata_snapshot *s;
    if ((rc = open_snapshot(c, "show", pos[0], as_of, &s)) != EXIT_OK) return rc;
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    if (columns) {
        rc = show_columns(c, s, &d);
        strata_snapshot_close(s);
        return rc;
    }
    char when[32], hb[32];
    iso_time(d.created_ns, when, sizeof when);
    cli_human_bytes((double)d.bytes, hb, sizeof hb);
    if (c->json) {
        printf("{\"dataset\":\"%s/%s\",\"version\":%lld,\"rows\":%llu,\"bytes\":%llu,\"columns\":[",
               d.region, d.name, (long long)d.version, (unsigned long long)d.nrows,
               (unsigned long long)d.bytes);
        for (int i = 0; i < d.ncols; i++) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(stdout, d.columns[i].name);
            printf(",\"dtype\":\"%s\"}", strata_dtype_name(d.columns[i].dtype));
        }
        fputs("],\"batches\":[", stdout);
    } else {
        printf("dataset   %s/%s\nversion   %lld\nrows      %llu\nbatches   %llu\nbytes     %s\n"
               "created   %s\ncolumns  ",
               d.region, d.name, (long long)d.version, (unsigned long long)d.nrows,
               (unsigned long long)d.nbatches, hb, when);
        for (int i = 0; i < d.ncols; i++)
            printf(" %s:%s", d.columns[i].name, strata_dtype_name(d.columns[i].dtype));
        printf("\n\n  batch  first_row       rows  version  column stats (min..max)\n");
    }
    for (uint64_t b = 0; b < d.nbatches; b++) {
        strata_batch_info bi;
        strata_snapshot_batch(s, b, &bi);
        if (c->json) {
            printf("%s{\"seq\":%llu,\"first_row\":%llu,\"rows\":%llu,\"version\":%lld,\"stats\":{",
                   b ? "," : "", (unsigned long long)bi.seq, (unsigned long long)bi.first_row,
                   (unsigned long long)bi.nrows, (long long)bi.version);
        } else {
            printf("  %5llu %10llu %10llu %8lld ", (unsigned long long)bi.seq,
                   (unsigned long long)bi.first_row, (unsigned long long)bi.nrows,
                   (long long)bi.version);
        }
        show_batch_stats(c, s, &d, b);
        fputs(c->json ? "}" : "\n", stdout);
    }
    if (c->json) fputs("]", stdout);
    /* Where it comes from and what comes from it. */
    if (!c->json) printf("\nlineage\n");
    if (c->json) fputs(",\"lineage\":", stdout);
    int n = cli_lineage(c, d.region, d.name, 0);
    if (!c->json && n == 0) printf("  (a base dataset; nothing is derived from it)\n");
    if (c->json) fputs("}\n", stdout);
    strata_snapshot_close(s);
    return n < 0 ? cli_fail(c, n) : EXIT_OK;
}

/* A listing printed as text, one JSON array (N: items so far), or NDJSON. */
typedef struct list_ctx {
    cli *c;
    uint64_t n;
} list_ctx;

/* Before item: the separator of a JSON array's items. */
static void json_item(list_ctx *l)
{
    if (l->c->json && !l->c->ndjson && l->n > 0) fputc(',', stdout);
    l->n++;
}

static int print_version(void *vctx, const strata_version_info *v)
{
    list_ctx *l = vctx;
    cli *c = l->c;
    char when[32];
    iso_time(v->created_ns, when, sizeof when);
    json_item(l);
    if (c->json)
        printf("{\"version\":%lld,\"time\":\"%s\",\"batches_added\":%llu,\"rows_added\":%llu,"
               "\"total_rows\":%llu,\"expired\":%s}%s",
               (long long)v->version, when, (unsigned long long)v->batches_added,
               (unsigned long long)v->rows_added, (unsigned long long)v->total_rows,
               v->expired ? "true" : "false", c->ndjson ? "\n" : "");
    else
        printf("v%-6lld %s  +%llu batch(es), +%llu rows, %llu rows in all%s\n",
               (long long)v->version, when, (unsigned long long)v->batches_added,
               (unsigned long long)v->rows_added, (unsigned long long)v->total_rows,
               v->expired ? "  (expired)" : "");
    return 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata log REGION/NAME [--json | --ndjson]\n"
        "Every version: time and what it added. --json: one document\n"
        "{\"dataset\":..., \"versions\":[...]}; --ndjson: a version per line.\n";
    char *pos[8];
    int npos;
    cli_opt opts[] = {CLI_OPT_JSON, CLI_OPT_NDJSON, {0}};
    if (argc > 8) return cli_usage_error("log", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("log", "'log' takes REGION/NAME");
    char buf[NAMEBUF];
    const char *region, *name;
    if ((rc = cli_split("log", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    list_ctx l = {c, 0};
    if (c->json && !c->ndjson) printf("{\"dataset\":\"%s/%s\",\"versions\":[", region, name);
    int st = strata_dataset_log(c->pool, region, name, print_version, &l);
    if (c->json && !c->ndjson) fputs("]}\n", stdout);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

/* ---- cat and export ------------------------------------------------------------------------ */

enum {
    FMT_CSV = STRATA_TEXT_CSV,
    FMT_TSV = STRATA_TEXT_TSV,
    FMT_JSON = STRATA_TEXT_JSON,
    FMT_NDJSON = STRATA_TEXT_NDJSON
};

/* Print rows of S: COLS (NC of them), at most HEAD rows (UINT64_MAX: all). */
/* Which rows to print: those where WHERE holds (NULL: all), from batch FIRST, skipping SKIP of
 * them, at most LIMIT. */
typedef struct row_sel {
    const char *where;
    uint64_t first, skip, limit;
} row_sel;

/* The rows of batch B that SEL's condition keeps: *ROWS (malloc'd; NULL: all N rows) and *M. */
static int batch_rows(cli *c, strata_snapshot *s, uint64_t b, const row_sel *sel, uint64_t n,
                      uint64_t **rows, uint64_t *m)
{
    *rows = NULL;
    *m = n;
    if (sel->where == NULL) return EXIT_OK;
    int st = strata_snapshot_where(s, b, sel->where, rows, m);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

/* --tail N: the batch to start from and the rows to skip there, found from the last batch back
 * (only the batches the tail reaches are filtered). */
static int tail_start(cli *c, strata_snapshot *s, uint64_t nbatches, row_sel *sel)
{
    uint64_t want = sel->limit, got = 0;
    sel->first = 0;
    sel->skip = 0;
    for (uint64_t b = nbatches; b-- > 0 && got < want;) {
        strata_batch_info bi;
        uint64_t *rows, m;
        strata_snapshot_batch(s, b, &bi);
        int rc = batch_rows(c, s, b, sel, bi.nrows, &rows, &m);
        free(rows);
        if (rc != EXIT_OK) return rc;
        sel->first = b;
        sel->skip = got + m > want ? got + m - want : 0;
        got += m;
    }
    return EXIT_OK;
}

/* Write the LEN bytes at P to OUT (a failed write is found by the caller's fflush). */
static void put_text(FILE *out, char *p, size_t *len)
{
    fwrite(p, 1, *len, out);
    *len = 0;
}

static int print_rows(cli *c, strata_snapshot *s, const int *cols, int nc, const row_sel *sel,
                      int fmt, FILE *out)
{
    enum { PIECE = 4096 }; /* rows formatted at a time */
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    int header = fmt != FMT_NDJSON; /* printed once the condition is known to be good */
    uint64_t printed = 0, skip = sel->skip, left = sel->limit;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = EXIT_OK, st = STRATA_OK;
    for (uint64_t b = sel->first; b < d.nbatches && left > 0 && rc == EXIT_OK && st >= 0; b++) {
        strata_batch_info bi;
        uint64_t *rows = NULL, m;
        strata_snapshot_batch(s, b, &bi);
        rc = batch_rows(c, s, b, sel, bi.nrows, &rows, &m);
        if (rc == EXIT_OK && header) {
            st = strata_snapshot_format_head(s, cols, nc, fmt, &buf, &len, &cap);
            header = 0;
        }
        for (uint64_t k = skip; k < m && left > 0 && rc == EXIT_OK && st >= 0;) {
            uint64_t n = m - k < PIECE ? m - k : PIECE;
            n = n < left ? n : left;
            st = strata_snapshot_format_rows(s, b, rows != NULL ? rows + k : NULL, k, n, cols, nc,
                                             fmt, printed, &buf, &len, &cap);
            put_text(out, buf, &len);
            k += n, left -= n, printed += n;
        }
        skip = skip > m ? skip - m : 0;
        free(rows);
    }
    if (rc == EXIT_OK && st >= 0 && header)
        st = strata_snapshot_format_head(s, cols, nc, fmt, &buf, &len, &cap);
    if (rc == EXIT_OK && st >= 0) put_text(out, buf, &len);
    if (rc == EXIT_OK && st >= 0 && fmt == FMT_JSON) fputs(printed ? "\n]\n" : "]\n", out);
    free(buf);
    return rc == EXIT_OK && st < 0 ? cli_fail(c, st) : rc;
}

/* Resolve "--columns a,b" against S into COLS (all columns when SPEC is NULL). */
static int pick_columns(cli *c, strata_snapshot *s, const char *spec, int **cols, int *nc)
{
    strata_dataset_desc d;
    strata_snapshot_info(s, &d);
    *cols = calloc((size_t)d.ncols + 1, sizeof **cols);
    if (*cols == NULL) return cli_report(STRATA_ENOMEM, NULL, "out of memory");
    if (spec == NULL) {
        /* Every column, except derived columns not yet computed for every batch. */
        int n = 0;
        for (int i = 0; i < d.ncols; i++) {
            if (strata_snapshot_column_ready(s, i) == 1)
                (*cols)[n++] = i;
            else
                fprintf(stderr,
                        "strata: note: column '%s' is not computed for every batch yet (run "
                        "'strata update %s/%s'); left out\n",
                        d.columns[i].name, d.region, d.name);
        }
        *nc = n;
        return EXIT_OK;
    }
    char *copy = strdup(spec), *save = NULL;
    int n = 0, rc = EXIT_OK;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int col;
        int st = strata_snapshot_column(s, t, &col);
        if (st < 0) {
            rc = cli_fail(c, st);
            break;
        }
        if (n == d.ncols) {
            rc = cli_usage_error("cat", "--columns names a column twice");
            break;
        }
        (*cols)[n++] = col;
    }
    free(copy);
    *nc = n;
    return rc;
}

static int parse_format(const char *cmd, const char *f, int *fmt)
{
    if (f == NULL || strcmp(f, "csv") == 0)
        *fmt = FMT_CSV;
    else if (strcmp(f, "tsv") == 0)
        *fmt = FMT_TSV;
    else if (strcmp(f, "json") == 0)
        *fmt = FMT_JSON;
    else if (strcmp(f, "ndjson") == 0)
        *fmt = FMT_NDJSON;
    else
        return cli_usage_error(cmd, strcmp(cmd, "export") == 0
                                        ? "--format is csv, tsv, json, ndjson, npy, parquet, "
                                          "arrow or hdf5"
                                        : "--format is csv, tsv, json or ndjson");
    return EXIT_OK;
}

int cmd_cat(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata cat REGION/NAME [--columns a,b] [--where COND] [--head N] [--offset N]\n"
        "                  [--tail N] [--as-of V] [--format csv|tsv|json|ndjson]\n"
        "Print rows (CSV with a header by default; json: one array of objects, also --json;\n"
        "ndjson: one object per line, also --ndjson). --where: only\n"
        "the rows where COND holds, a condition of the language of filters ('fare > 10000 and\n"
        "pickupzone == 7'); --offset: skip that many rows first; --head: at most N rows;\n"
        "--tail: the last N rows (not with --head or --offset).\n";
    char *pos[24];
    int npos;
    const char *columns = NULL, *head = NULL, *as_of = NULL, *format = NULL, *where = NULL,
               *offset = NULL, *tail = NULL;
    cli_opt opts[] = {{"columns", 'c', &columns, NULL},
                      {"head", 'n', &head, NULL},
                      {"offset", 0, &offset, NULL},
                      {"tail", 0, &tail, NULL},
                      {"where", 'w', &where, NULL},
                      {"as-of", 0, &as_of, NULL},
                      {"format", 'f', &format, NULL},
                      CLI_OPT_JSON,
                      CLI_OPT_NDJSON,
                      {0}};
    if (argc > 24) return cli_usage_error("cat", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("cat", "'cat' takes REGION/NAME");
    int fmt;
    if ((rc = parse_format("cat",
                           c->ndjson ? "ndjson"
                           : c->json ? "json"
                                     : format,
                           &fmt)) != EXIT_OK)
        return rc;
    row_sel sel = {where, 0, 0, UINT64_MAX};
    if (head != NULL && cli_parse_u64(head, &sel.limit) != 0)
        return cli_usage_error("cat", "--head takes a number of rows");
    if (offset != NULL && cli_parse_u64(offset, &sel.skip) != 0)
        return cli_usage_error("cat", "--offset takes a number of rows");
    if (tail != NULL && (head != NULL || offset != NULL))
        return cli_usage_error("cat", "--tail goes without --head and --offset");
    if (tail != NULL && cli_parse_u64(tail, &sel.limit) != 0)
        return cli_usage_error("cat", "--tail takes a number of rows");
    strata_snapshot *s;
    if ((rc = open_snapshot(c, "cat", pos[0], as_of, &s)) != EXIT_OK) return rc;
    int *cols = NULL, nc = 0;
    rc = pick_columns(c, s, columns, &cols, &nc);
    if (rc == EXIT_OK && tail != NULL) {
        strata_dataset_desc d;
        strata_snapshot_info(s, &d);
        rc = tail_start(c, s, d.nbatches, &sel);
    }
    static char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    if (rc == EXIT_OK) rc = print_rows(c, s, cols, nc, &sel, fmt, stdout);
    fflush(stdout);
    setvbuf(stdout, NULL, _IOLBF, 0);
    free(cols);
    strata_snapshot_close(s);
    return rc;
}

/* --path and --gzip of an HDF5 export, refused for other formats. */
static int hdf5_export_opts(int hdf5, const char *path, const char *gzip, strata_hdf5_opts *ho)
{
    uint64_t level = 0;
    if (!hdf5 && (path != NULL || gzip != NULL))
        return cli_usage_error("export", "--path and --gzip are for --format hdf5");
    if (gzip != NULL && (cli_parse_u64(gzip, &level) != 0 || level < 1 || level > 9))
        return cli_usage_error("export", "--gzip takes a deflate level from 1 to 9");
    ho->gzip_level = (int)level;
    return EXIT_OK;
}

int cmd_export(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata export REGION/NAME --format csv|tsv|json|ndjson|npy|parquet|arrow|hdf5\n"
        "       --out PATH [--columns a,b] [--as-of V] [--compression snappy|zstd|gzip|none]\n"
        "       [--path /GROUP] [--gzip L]\n"
        "csv, tsv: one file, a line of the column names, values as cat prints them; json: one\n"
        "array of row objects; ndjson: an object per line; npy: a directory with one NAME.npy\n"
        "per column, all batches\n"
        "concatenated; parquet: one file, a row group per batch (--compression: default\n"
        "snappy); arrow: an Arrow IPC file (Feather v2), a record batch per batch; hdf5: one\n"
        "file whose group --path (default /) holds one 1-D dataset per column (--gzip L:\n"
        "deflate level 1-9). Files are written under a temporary name and renamed when\n"
        "complete.\n";
    char *pos[16];
    int npos;
    const char *columns = NULL, *as_of = NULL, *format = NULL, *out = NULL, *comp = NULL;
    const char *path = NULL, *gzip = NULL;
    cli_opt opts[] = {{"columns", 'c', &columns, NULL},
                      {"as-of", 0, &as_of, NULL},
                      {"format", 'f', &format, NULL},
                      {"out", 'o', &out, NULL},
                      {"compression", 0, &comp, NULL},
                      {"path", 0, &path, NULL},
                      {"gzip", 0, &gzip, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 16) return cli_usage_error("export", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1 || out == NULL)
        return cli_usage_error("export", "'export' takes REGION/NAME --out PATH");
    if (format == NULL && (ends_with(out, ".parquet") || ends_with(out, ".pq"))) format = "parquet";
    if (format == NULL && (ends_with(out, ".arrow") || ends_with(out, ".feather")))
        format = "arrow";
    if (format == NULL && (ends_with(out, ".h5") || ends_with(out, ".hdf5"))) format = "hdf5";
    int hdf5 = format != NULL && strcmp(format, "hdf5") == 0;
    strata_hdf5_opts ho = {0};
    int npy = format != NULL && strcmp(format, "npy") == 0;
    int arrow = format != NULL && strcmp(format, "arrow") == 0;
    int parquet = format != NULL && strcmp(format, "parquet") == 0;
    int fmt = FMT_CSV;
    if (!npy && !parquet && !arrow && !hdf5 &&
        (rc = parse_format("export", format, &fmt)) != EXIT_OK)
        return rc;
    if ((rc = hdf5_export_opts(hdf5, path, gzip, &ho)) != EXIT_OK) return rc;
    if (comp != NULL && !parquet)
        return cli_usage_error("export", "--compression applies to --format parquet");
    strata_snapshot *s;
    if ((rc = open_snapshot(c, "export", pos[0], as_of, &s)) != EXIT_OK) return rc;
    int *cols = NULL, nc = 0;
    rc = pick_columns(c, s, columns, &cols, &nc);
    if (rc == EXIT_OK && npy) {
        int st = strata_export_npy(s, cols, nc, out);
        if (st < 0) rc = cli_fail(c, st);
    } else if (rc == EXIT_OK && hdf5) {
        int st = strata_export_hdf5(s, cols, nc, out, path, &ho);
        if (st < 0) rc = cli_fail(c, st);
    } else if (rc == EXIT_OK && arrow) {
        int st = strata_export_arrow(s, cols, nc, out);
        if (st < 0) rc = cli_fail(c, st);
    } else if (rc == EXIT_OK && parquet) {
        strata_export_opts eo = {.compression = comp};
        int st = strata_export_parquet(s, cols, nc, out, &eo);
        if (st < 0) rc = cli_fail(c, st);
    } else if (rc == EXIT_OK) {
        int st = strata_export_text(s, cols, nc, out, fmt);
        if (st < 0) rc = cli_fail(c, st);
    }
    free(cols);
    strata_snapshot_close(s);
    return rc;
}

/* ---- check and gc --------------------------------------------------------------------------- */

static int print_problem(void *vctx, const char *what, const char *path, const char *problem,
                         int is_orphan)
{
    list_ctx *l = vctx;
    cli *c = l->c;
    json_item(l);
    if (c->json) {
        fputs("{\"what\":", stdout);
        cli_json_str(stdout, what);
        fputs(",\"path\":", stdout);
        cli_json_str(stdout, path);
        fputs(",\"problem\":", stdout);
        cli_json_str(stdout, problem);
        printf(",\"orphan\":%s}%s", is_orphan ? "true" : "false", c->ndjson ? "\n" : "");
    } else {
        printf("%s: %s: %s (%s)\n", is_orphan ? "orphan" : "DAMAGED", what, problem, path);
    }
    return 0;
}

int cmd_check(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata check [REGION[/NAME]] [--json | --ndjson]\n"
        "Verify every published batch file (exists, parses as NPY, recorded size and\n"
        "checksum), every array file and every backup; report orphans. Exit 5 on any damage.\n"
        "--json: {\"ok\":..., \"damaged\":N, \"problems\":[...]}; --ndjson: a problem per line.\n";
    char *pos[8];
    int npos;
    cli_opt opts[] = {CLI_OPT_JSON, CLI_OPT_NDJSON, {0}};
    if (argc > 8) return cli_usage_error("check", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos > 1) return cli_usage_error("check", "'check' takes at most REGION[/NAME]");
    char buf[NAMEBUF];
    const char *region = NULL, *name = NULL;
    if (npos == 1) {
        if (strchr(pos[0], '/') != NULL) {
            if ((rc = cli_split("check", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK)
                return rc;
        } else {
            region = pos[0];
        }
    }
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    uint64_t damaged = 0;
    list_ctx l = {c, 0};
    if (c->json && !c->ndjson) fputs("{\"problems\":[", stdout);
    int st = strata_check(c->pool, region, name, print_problem, &l, &damaged);
    if (c->json && !c->ndjson)
        printf("],\"damaged\":%llu,\"ok\":%s}\n", (unsigned long long)damaged,
               st == STRATA_OK ? "true" : "false");
    if (st == STRATA_ECORRUPT) {
        return cli_report(STRATA_ECORRUPT, NULL, "%llu damaged item(s)",
                          (unsigned long long)damaged);
    }
    if (st < 0) return cli_fail(c, st);
    if (!c->json) printf("ok: no damage found\n");
    return EXIT_OK;
}

int cmd_gc(cli *c, int argc, char **argv)
{
    static const char u[] =
        "usage: strata gc [--grace SECONDS] [--keep-versions N] [--dry-run]\n"
        "Remove orphan files older than the grace period (default 3600 s) and files of\n"
        "dropped datasets no open snapshot reads; with\n"
        "--keep-versions, expire older versions (no longer readable with --as-of).\n";
    char *pos[8];
    int npos, dry = 0;
    const char *grace = NULL, *keep = NULL;
    cli_opt opts[] = {{"grace", 0, &grace, NULL},
                      {"keep-versions", 0, &keep, NULL},
                      {"dry-run", 'n', NULL, &dry},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 8) return cli_usage_error("gc", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 0) return cli_usage_error("gc", "'gc' takes no arguments");
    strata_gc_opts o = {0};
    uint64_t v;
    if (grace != NULL) {
        if (cli_parse_u64(grace, &v) != 0) return cli_usage_error("gc", "--grace takes seconds");
        o.grace_s = v == 0 ? -1 : (int64_t)v;
    }
    if (keep != NULL) {
        if (cli_parse_u64(keep, &v) != 0 || v == 0)
            return cli_usage_error("gc", "--keep-versions takes a positive number");
        o.keep_versions = (int64_t)v;
    }
    o.dry_run = dry;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    strata_gc_stats s;
    int st = strata_gc(c->pool, &o, &s);
    if (st < 0) return cli_fail(c, st);
    char hb[32];
    cli_human_bytes((double)s.bytes_freed, hb, sizeof hb);
    if (c->json)
        printf("{\"orphans_removed\":%llu,\"datasets_removed\":%llu,\"versions_expired\":%llu,"
               "\"datasets_held\":%llu,\"bytes_freed\":%llu,\"busy_skipped\":%llu,"
               "\"dry_run\":%s}\n",
               (unsigned long long)s.orphans_removed, (unsigned long long)s.datasets_removed,
               (unsigned long long)s.versions_expired, (unsigned long long)s.datasets_held,
               (unsigned long long)s.bytes_freed, (unsigned long long)s.busy_skipped,
               dry ? "true" : "false");
    else {
        printf("%s%llu orphan(s), %llu dropped dataset(s), %s; %llu version(s) expired; %llu "
               "dropped dataset(s) kept for open snapshots\n",
               dry ? "would remove " : "removed ", (unsigned long long)s.orphans_removed,
               (unsigned long long)s.datasets_removed, hb, (unsigned long long)s.versions_expired,
               (unsigned long long)s.datasets_held);
        if (s.busy_skipped > 0)
            printf("%llu place(s) had a writer at work; their orphans are left for the next gc\n",
                   (unsigned long long)s.busy_skipped);
    }
    return EXIT_OK;
}

int cmd_drop(cli *c, int argc, char **argv)
{
    static const char u[] = "usage: strata drop REGION/NAME\nDrop a dataset; 'strata gc' frees "
                            "its files once no reader holds them.\n";
    char *pos[8];
    int npos;
    cli_opt opts[] = {CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("drop", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("drop", "'drop' takes REGION/NAME");
    char buf[NAMEBUF];
    const char *region, *name;
    if ((rc = cli_split("drop", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_dataset_drop(c->pool, region, name);
    if (st < 0) return cli_fail(c, st);
    if (!c->json) printf("dropped %s\n", pos[0]);
    return EXIT_OK;
}

/* ---- demo taxi ---------------------------------------------------------------------------- */

/* xorshift64*: deterministic for a seed on every machine. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

int cmd_demo(cli *c, int argc, char **argv)
{
    (void)c;
    static const char u[] =
        "usage: strata demo taxi ROWS OUT.csv [--seed S] [--start EPOCH]\n"
        "Write ROWS deterministic synthetic NYC-taxi-like trips over one hour from --start\n"
        "(default 2024-01-01): pickupzone, dropoffzone (zone ids 1..265), pickuptime,\n"
        "dropofftime (Unix seconds), fare (cents; about 2% over $100).\n";
    char *pos[8];
    int npos;
    const char *seed = NULL, *start = NULL;
    cli_opt opts[] = {{"seed", 0, &seed, NULL}, {"start", 0, &start, NULL}, CLI_OPT_JSON, {0}};
    if (argc > 8) return cli_usage_error("demo", "too many arguments");
    int rc = cli_scan(argc, argv, opts, u, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 3 || strcmp(pos[0], "taxi") != 0)
        return cli_usage_error("demo", "'demo' takes: taxi ROWS OUT.csv");
    uint64_t rows, s = 42, t0 = 1704067200; /* 2024-01-01 */
    if (cli_parse_u64(pos[1], &rows) != 0) return cli_usage_error("demo", "ROWS must be a number");
    if (seed != NULL && cli_parse_u64(seed, &s) != 0)
        return cli_usage_error("demo", "--seed takes a number");
    if (start != NULL && cli_parse_u64(start, &t0) != 0)
        return cli_usage_error("demo", "--start takes Unix seconds");
    uint64_t state = s * 0x9E3779B97F4A7C15ull + 1;
    FILE *f = strcmp(pos[2], "-") == 0 ? stdout : fopen(pos[2], "w");
    if (f == NULL) {
        return cli_report(STRATA_EIO, NULL, "cannot create '%s': %s", pos[2], strerror(errno));
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("pickupzone,dropoffzone,pickuptime,dropofftime,fare\n", f);
    uint64_t t;
    for (uint64_t i = 0; i < rows; i++) {
        uint64_t r = next_rand(&state);
        unsigned pz = 1 + (unsigned)(r % 265), dz = 1 + (unsigned)((r >> 16) % 265);
        t = t0 + i * 3600 / (rows ? rows : 1); /* one hour of trips, in time order */
        uint64_t dur = 120 + (next_rand(&state) % 3480);
        /* fares: a base plus distance-like time component; a few long trips over $100 */
        uint64_t fare = 300 + dur * 5 / 2 + (next_rand(&state) % 1000);
        if (next_rand(&state) % 50 == 0) fare += 10000;
        fprintf(f, "%u,%u,%llu,%llu,%llu\n", pz, dz, (unsigned long long)t,
                (unsigned long long)(t + dur), (unsigned long long)fare);
    }
    if (fflush(f) != 0 || (f != stdout && fclose(f) != 0)) {
        return cli_report(STRATA_EIO, NULL, "cannot write '%s'", pos[2]);
    }
    return EXIT_OK;
}
