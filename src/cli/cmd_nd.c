/*
 * cmd_nd.c -- strata nd create|write|read|info|ls|rm, strata tier add|ls|rm, strata migrate,
 * strata stage: chunked N-d arrays and the storage tiers they live on.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "4,5,6" into OUT (at most MAX numbers); returns the count, or -1 when malformed. */
static int parse_list(const char *s, uint64_t *out, int max)
{
    int n = 0;
    char buf[512];
    if (s == NULL || strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        if (n == max || cli_parse_u64(tok, &out[n]) != 0) return -1;
        n++;
    }
    return n;
}

static const char *layout_name(strata_layout l)
{
    return l == STRATA_LAYOUT_ROW ? "row" : l == STRATA_LAYOUT_COL ? "col" : "chunked";
}

static void print_list(FILE *f, const uint64_t *v, int n, int json)
{
    if (json) fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%" PRIu64, i ? "," : "", v[i]);
    if (json) fputc(']', f);
}

/* Resolve START / COUNT of a region argument against an array of NDIMS dimensions: fewer numbers
 * than dimensions apply to the last ones (the leading ones: STEP, count 1); no --count: to the
 * end. --step alone reads that whole step: it stands for the first dimension, so the lists then
 * cover the others (a list of every dimension with --step would contradict it). */
static int resolve_rect(const char *cmd, const strata_ndarray_desc *d, const char *start_s,
                        const char *count_s, const char *stride_s, const char *step_s,
                        uint64_t *start, uint64_t *count, uint64_t *stride)
{
    uint64_t s[STRATA_ND_MAXDIMS], k[STRATA_ND_MAXDIMS], t[STRATA_ND_MAXDIMS], step = 0;
    int ns = start_s ? parse_list(start_s, s, d->ndims) : 0;
    int nk = count_s ? parse_list(count_s, k, d->ndims) : 0;
    int nt = stride_s ? parse_list(stride_s, t, d->ndims) : 0;
    if (ns < 0) return cli_usage_error(cmd, "--start needs up to %d numbers: y,x", d->ndims);
    if (nk < 0) return cli_usage_error(cmd, "--count needs up to %d numbers: ny,nx", d->ndims);
    if (nt < 0) return cli_usage_error(cmd, "--stride needs up to %d numbers", d->ndims);
    if (step_s && cli_parse_u64(step_s, &step) != 0)
        return cli_usage_error(cmd, "--step needs a step number");
    int given = ns > nk ? ns : nk;
    if (nt > given) given = nt;
    if (step_s != NULL && given >= d->ndims)
        return cli_usage_error(cmd,
                               "--step S is the index of the first dimension: give --start, "
                               "--count and --stride for the other %d dimension(s) only, or "
                               "drop --step",
                               d->ndims - 1);
    if (given == 0) given = step_s != NULL ? d->ndims - 1 : d->ndims;
    for (int i = 0; i < d->ndims; i++) {
        int j = i - (d->ndims - given); /* index into the given lists */
        start[i] = j >= 0 && j < ns ? s[j] : (j < 0 && i == 0 ? step : 0);
        stride[i] = j >= 0 && j < nt ? t[j] : 1;
        if (j >= 0 && j < nk)
            count[i] = k[j];
        else if (j < 0)
            count[i] = 1;
        else
            count[i] = start[i] < d->dims[i] ? (d->dims[i] - start[i] - 1) / stride[i] + 1 : 1;
    }
    return EXIT_OK;
}

/* ---- nd ------------------------------------------------------------------------------------- */

static const char nd_usage[] =
    "usage: strata nd create R/NAME --dtype T --shape D0,D1,... [--chunks C0,C1,...]\n"
    "                 [--layout chunked|row|col] [--zstd L] [--tier T] [--fill V] [--unlimited]\n"
    "       strata nd write R/NAME --from FILE.npy (--start I0,I1,... | --append)\n"
    "       strata nd read R/NAME [--start ...] [--count ...] [--stride ...] [--step S]\n"
    "                 [--out FILE.npy] [--stage-tier T] [--verbose]\n"
    "       strata nd info R/NAME\n"
    "       strata nd import R/NAME FILE.h5 --path /DATASET [--tier T] [--zstd L|none]\n"
    "       strata nd export R/NAME --out FILE.h5 --path /DATASET [--gzip L|none]\n"
    "       strata nd attr R/NAME [KEY=VALUE ...] [--rm KEY]\n"
    "       strata nd ls REGION\n"
    "       strata nd rm R/NAME\n"
    "N-d arrays: up to 8 dimensions, stored in chunks (one subfile each), or contiguous in row- "
    "or\n"
    "column-major order. A first dimension of 0 (or --unlimited) grows by steps. Reads touch only\n"
    "the chunks of the region; unwritten chunks read as the fill value. With fewer "
    "--start/--count\n"
    "numbers than dimensions they apply to the last dimensions, the leading ones being --step\n"
    "(default 0) with count 1; a missing --count reads to the end, so --step S alone reads all\n"
    "of step S. Archive data is staged on demand (--verbose says so).\n"
    "import/export: an HDF5 dataset <-> an N-d array with its shape, chunk shape, fill value\n"
    "and compression (docs/formats.md); the import publishes the array whole or not at all,\n"
    "the export writes a temporary file renamed onto FILE when complete; attributes travel as\n"
    "HDF5 attributes (--skip-attrs leaves out those that are no single int, float or string).\n"
    "attr: set attributes (a VALUE that parses as an integer is an int, as a number a float,\n"
    "else text), delete one (--rm), or list them (also shown by 'nd info').\n";

static int nd_create(cli *c, const char *region, const char *name, const char *dtype_s,
                     const char *shape_s, const char *chunks_s, const char *layout_s,
                     const char *zstd_s, const char *tier, const char *fill_s, int unlimited)
{
    strata_dtype dt;
    uint64_t shape[STRATA_ND_MAXDIMS], chunks[STRATA_ND_MAXDIMS];
    if (dtype_s == NULL || strata_dtype_parse(dtype_s, &dt) != STRATA_OK || dt == STRATA_STR)
        return cli_usage_error("nd", "--dtype needs a numeric or bool type (i8 ... f64, bool)");
    int n = parse_list(shape_s, shape, STRATA_ND_MAXDIMS);
    if (n < 1) return cli_usage_error("nd", "--shape needs 1 to 8 numbers: D0,D1,...");
    strata_ndarray_opts o = {.unlimited = unlimited, .tier = tier};
    if (layout_s == NULL || strcmp(layout_s, "chunked") == 0)
        o.layout = STRATA_LAYOUT_CHUNKED;
    else if (strcmp(layout_s, "row") == 0)
        o.layout = STRATA_LAYOUT_ROW;
    else if (strcmp(layout_s, "col") == 0)
        o.layout = STRATA_LAYOUT_COL;
    else
        return cli_usage_error("nd", "--layout is chunked, row or col, not '%s'", layout_s);
    if (o.layout == STRATA_LAYOUT_CHUNKED) {
        if (chunks_s == NULL) return cli_usage_error("nd", "a chunked array needs --chunks");
        if (parse_list(chunks_s, chunks, STRATA_ND_MAXDIMS) != n)
            return cli_usage_error("nd", "--chunks needs %d numbers, one per dimension", n);
    } else if (chunks_s != NULL) {
        return cli_usage_error("nd", "--chunks is for --layout chunked");
    }
    uint64_t level = 0;
    if (zstd_s && (cli_parse_u64(zstd_s, &level) != 0 || level < 1 || level > 19))
        return cli_usage_error("nd", "--zstd needs a level from 1 to 19");
    o.zstd_level = (int)level;
    char fill[8] = {0}, why[64];
    if (fill_s) {
        if (strata_value_parse(dt, fill_s, fill, why) != STRATA_OK)
            return cli_usage_error("nd", "--fill '%s' %s", fill_s, why);
        o.fill = fill;
    }
    int rc = cli_open_pool(c);
    if (rc != EXIT_OK) return rc;
    int st = cli_ensure_region(c, region);
    if (st == STRATA_OK)
        st = strata_ndarray_create(c->pool, region, name, dt, n, shape,
                                   o.layout == STRATA_LAYOUT_CHUNKED ? chunks : NULL, &o, NULL);
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        fputs("{\"array\":", stdout);
        cli_json_str(stdout, name);
        fputs(",\"created\":true}\n", stdout);
    } else {
        printf("created N-d array %s/%s: %s, shape ", region, name, strata_dtype_name(dt));
        print_list(stdout, shape, n, 0);
        printf(", %s\n", layout_name(o.layout));
    }
    return EXIT_OK;
}

#define ATTR_PLAIN INT32_MIN

/* One attribute: "name = value" (text in quotes), or "name":value in JSON. */
static int print_attr(void *ctx, const strata_attr *a)
{
    int *n = ctx; /* JSON: attributes printed so far; text: -1 (the first line of nd info),
                   * less (its next lines), ATTR_PLAIN (lines of nd attr) */
    if (*n >= 0) {
        if ((*n)++) fputc(',', stdout);
        cli_json_str(stdout, a->name);
        fputc(':', stdout);
    } else if (*n == ATTR_PLAIN) {
        printf("%s = ", a->name);
    } else {
        printf("  %-8s %s = ", *n == -1 ? "attrs" : "", a->name);
        (*n)--;
    }
    if (a->type == STRATA_ATTR_INT)
        printf("%" PRId64, a->i);
    else if (a->type == STRATA_ATTR_FLOAT && *n >= 0 && !isfinite(a->f))
        fputs("null", stdout);
    else if (a->type == STRATA_ATTR_FLOAT)
        cli_print_real(stdout, a->f, 0, 0);
    else
        cli_json_str(stdout, a->s);
    if (*n < 0) fputc('\n', stdout);
    return 0;
}

static void print_info(strata_ndarray *a, const strata_ndarray_desc *d, int json)
{
    int n = json ? 0 : -1;
    if (json) {
        fputs("{\"region\":", stdout);
        cli_json_str(stdout, d->region);
        fputs(",\"name\":", stdout);
        cli_json_str(stdout, d->name);
        printf(",\"dtype\":\"%s\",\"shape\":", strata_dtype_name(d->dtype));
        print_list(stdout, d->dims, d->ndims, 1);
        fputs(",\"chunks\":", stdout);
        print_list(stdout, d->chunk, d->ndims, 1);
        printf(",\"layout\":\"%s\",\"unlimited\":%s,\"zstd\":%d,\"tier\":", layout_name(d->layout),
               d->unlimited ? "true" : "false", d->zstd_level);
        cli_json_str(stdout, d->tier);
        printf(",\"chunks_total\":%" PRIu64 ",\"chunks_written\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"version\":%" PRId64 ",\"attrs\":{",
               d->chunks_total, d->chunks_written, d->bytes, d->version);
        strata_ndarray_attr_list(a, print_attr, &n);
        fputs("}}\n", stdout);
        return;
    }
    printf("%s/%s\n  dtype    %s\n  shape    ", d->region, d->name, strata_dtype_name(d->dtype));
    print_list(stdout, d->dims, d->ndims, 0);
    printf("%s\n  layout   %s", d->unlimited ? " (first dimension unlimited)" : "",
           layout_name(d->layout));
    if (d->layout == STRATA_LAYOUT_CHUNKED) {
        fputs(", chunks ", stdout);
        print_list(stdout, d->chunk, d->ndims, 0);
    }
    printf("\n  zstd     %s\n", d->zstd_level ? "yes" : "no");
    if (d->zstd_level) printf("           level %d\n", d->zstd_level);
    char hb[32];
    cli_human_bytes((double)d->bytes, hb, sizeof hb);
    printf("  tier     %s\n  written  %" PRIu64 " of %" PRIu64 " chunks, %s\n  version  %" PRId64
           "\n",
           d->tier, d->chunks_written, d->chunks_total, hb, d->version);
    strata_ndarray_attr_list(a, print_attr, &n);
}

/* Print a read region as text: rows of the last dimension, a blank line between 2-D slices. */
static void print_values(const strata_ndarray_desc *d, const uint64_t *count, const char *buf,
                         int json)
{
    size_t esz = strata_dtype_size(d->dtype);
    uint64_t total = 1;
    for (int i = 0; i < d->ndims; i++) total *= count[i];
    uint64_t row = count[d->ndims - 1];
    uint64_t plane = d->ndims > 1 ? row * count[d->ndims - 2] : total;
    if (json) {
        fputs("{\"shape\":", stdout);
        print_list(stdout, count, d->ndims, 1);
        fputs(",\"values\":[", stdout);
    }
    for (uint64_t i = 0; i < total; i++) {
        if (json) {
            if (i) fputc(',', stdout);
        } else if (i % row != 0) {
            fputc(' ', stdout);
        } else if (i > 0 && i % plane == 0) {
            fputs("\n", stdout);
        }
        cli_print_value(stdout, d->dtype, buf + i * esz, json);
        if (!json && i % row == row - 1) fputc('\n', stdout);
    }
    if (json) fputs("]}\n", stdout);
}

#define PRINT_MAX 1000000 /* elements printed as text; more need --out */

static int nd_read(cli *c, strata_ndarray *a, const strata_ndarray_desc *d, const char *start_s,
                   const char *count_s, const char *stride_s, const char *step_s, const char *out)
{
    uint64_t start[STRATA_ND_MAXDIMS], count[STRATA_ND_MAXDIMS], stride[STRATA_ND_MAXDIMS];
    int rc = resolve_rect("nd", d, start_s, count_s, stride_s, step_s, start, count, stride);
    if (rc != EXIT_OK) return rc;
    if (out != NULL) {
        int st = strata_ndarray_read_npy(a, start, count, stride, out);
        if (st < 0) return cli_fail(c, st);
        if (!c->json) {
            printf("wrote %s: shape ", out);
            print_list(stdout, count, d->ndims, 0);
            fputc('\n', stdout);
        }
        return EXIT_OK;
    }
    double total = 1;
    for (int i = 0; i < d->ndims; i++) total *= (double)count[i];
    if (total > PRINT_MAX)
        return cli_usage_error("nd", "the region has %.0f elements; write it with --out FILE.npy",
                               total);
    char *buf = malloc((size_t)total * strata_dtype_size(d->dtype));
    if (buf == NULL) return cli_fail(c, STRATA_ENOMEM);
    int st = strata_ndarray_read_strided(a, start, count, stride, buf);
    if (st == STRATA_OK) print_values(d, count, buf, c->json);
    free(buf);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

/* The options of one 'strata nd', as given. */
typedef struct {
    const char *dtype, *shape, *chunks, *layout, *zstd, *tier, *fill, *from, *start, *count,
        *stride, *step, *out, *stage_tier, *path, *gzip, *rm;
    int unlimited, append, verbose, skip_attrs;
} nd_args;

/* KEY=VALUE as an attribute: an int if VALUE is one, else a float if it is a number, else
 * text. A points into KV (modified). */
static int parse_attr(char *kv, strata_attr *a)
{
    char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
        return cli_usage_error("nd", "'nd attr' takes KEY=VALUE, not '%s'", kv);
    *eq = '\0';
    memset(a, 0, sizeof *a);
    a->name = kv;
    const char *v = eq + 1;
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*v != '\0' && *end == '\0' && errno == 0) {
        a->type = STRATA_ATTR_INT;
        a->i = i;
        return EXIT_OK;
    }
    errno = 0;
    double f = strtod(v, &end);
    if (*v != '\0' && *end == '\0' && errno == 0) {
        a->type = STRATA_ATTR_FLOAT;
        a->f = f;
        return EXIT_OK;
    }
    a->type = STRATA_ATTR_TEXT;
    a->s = v;
    return EXIT_OK;
}

/* 'nd attr R/NAME [KEY=VALUE ...] [--rm KEY]': set, delete, or list the attributes. */
static int nd_attr(cli *c, strata_ndarray *a, const nd_args *o, char **kv, int nkv)
{
    int n = c->json ? 0 : ATTR_PLAIN, st = STRATA_OK;
    for (int i = 0; i < nkv && st == STRATA_OK; i++) {
        strata_attr at;
        int rc = parse_attr(kv[i], &at);
        if (rc != EXIT_OK) return rc;
        st = strata_ndarray_attr_set(a, &at);
    }
    if (st == STRATA_OK && o->rm != NULL) st = strata_ndarray_attr_delete(a, o->rm);
    if (st < 0) return cli_fail(c, st);
    if (nkv > 0 || o->rm != NULL) return EXIT_OK;
    if (c->json) fputs("{\"attrs\":{", stdout);
    st = strata_ndarray_attr_list(a, print_attr, &n);
    if (c->json) fputs("}}\n", stdout);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

/* A compression level option: a number in [0, MAX] or "none" (-1). */
static int parse_level(const char *opt, const char *s, int max, int *out)
{
    uint64_t v;
    if (s == NULL) return EXIT_OK;
    if (strcmp(s, "none") == 0) {
        *out = -1;
        return EXIT_OK;
    }
    if (cli_parse_u64(s, &v) != 0 || v < 1 || v > (uint64_t)max)
        return cli_usage_error("nd", "--%s takes a level from 1 to %d, or none", opt, max);
    *out = (int)v;
    return EXIT_OK;
}

/* 'nd import R/NAME FILE --path /DATASET': an HDF5 dataset into a new array. */
static int nd_import(cli *c, const nd_args *o, const char *region, const char *name,
                     const char *file)
{
    strata_hdf5_opts ho = {.tier = o->tier, .skip_attrs = o->skip_attrs};
    int rc;
    if (o->path == NULL) return cli_usage_error("nd", "'nd import' needs --path /DATASET");
    if ((rc = parse_level("zstd", o->zstd, 19, &ho.zstd_level)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = cli_ensure_region(c, region);
    if (st == STRATA_OK) st = strata_ndarray_import_hdf5(c->pool, region, name, file, o->path, &ho);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"imported\":true,\"array\":\"%s/%s\"}\n", region, name);
    else
        printf("imported %s:%s into %s/%s\n", file, o->path, region, name);
    return EXIT_OK;
}

/* 'nd export R/NAME --out FILE --path /DATASET': the array into a new HDF5 file. */
static int nd_export(cli *c, strata_ndarray *a, const nd_args *o, const char *region,
                     const char *name)
{
    strata_hdf5_opts ho = {0};
    int rc = parse_level("gzip", o->gzip, 9, &ho.gzip_level);
    if (rc != EXIT_OK) return rc;
    int st = strata_ndarray_export_hdf5(a, o->out, o->path, &ho);
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        fputs("{\"exported\":true,\"file\":", stdout);
        cli_json_str(stdout, o->out);
        fputs("}\n", stdout);
    } else {
        printf("exported %s/%s to %s:%s\n", region, name, o->out, o->path);
    }
    return EXIT_OK;
}

static int nd_ls(cli *c, char **pos, int npos)
{
    int rc;
    if (npos != 2) return cli_usage_error("nd", "'nd ls' takes one REGION");
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    cli_names lc = {c->json, 0};
    if (c->json) fputs("{\"arrays\":[", stdout);
    int st = strata_ndarray_list(c->pool, pos[1], cli_print_name, &lc);
    if (c->json) fputs("]}\n", stdout);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

static int nd_rm(cli *c, const char *region, const char *name)
{
    int rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_ndarray_delete(c->pool, region, name);
    if (st < 0) return cli_fail(c, st);
    if (!c->json) printf("deleted N-d array %s/%s\n", region, name);
    return EXIT_OK;
}

/* 'nd read' with --verbose: then also what was staged from the archive and read. */
static int nd_read_verbose(cli *c, strata_ndarray *a, const strata_ndarray_desc *d,
                           const nd_args *o, const char *region, const char *name)
{
    int rc = nd_read(c, a, d, o->start, o->count, o->stride, o->step, o->out);
    strata_ndarray_desc after;
    if (rc == EXIT_OK && o->verbose && strata_ndarray_info(a, &after) == STRATA_OK &&
        after.staged_on_demand > d->staged_on_demand)
        fprintf(stderr,
                "strata: staged %" PRIu64 " chunk(s) of '%s/%s' from the archive on demand\n",
                after.staged_on_demand - d->staged_on_demand, region, name);
    if (rc == EXIT_OK && o->verbose && strata_ndarray_info(a, &after) == STRATA_OK)
        fprintf(stderr,
                "strata: read %" PRIu64 " chunk file(s); staged %" PRIu64 " from the archive "
                "on demand (%" PRIu64 " bytes)\n",
                after.chunks_read, after.staged_on_demand, after.staged_bytes);
    return rc;
}

/* 'nd write': the NPY file --from at --start, or appended along dimension 0. */
static int nd_write(cli *c, strata_ndarray *a, const strata_ndarray_desc *d, const nd_args *o,
                    const char *region, const char *name)
{
    uint64_t s[STRATA_ND_MAXDIMS] = {0}, at = 0;
    int n = o->start ? parse_list(o->start, s, STRATA_ND_MAXDIMS) : 0;
    if (o->start && n != d->ndims)
        return cli_usage_error("nd", "--start needs %d numbers, one per dimension", d->ndims);
    int st = strata_ndarray_write_npy(a, o->append ? NULL : s, o->from, &at);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"written\":true,\"at\":%" PRIu64 "}\n", at);
    else
        printf("wrote %s into %s/%s at index %" PRIu64 " of dimension 0\n", o->from, region, name,
               at);
    return EXIT_OK;
}

/* 'nd info', 'nd read' and 'nd write': open the array (staging from --stage-tier) and run SUB
 * on it. */
static int nd_open_and_run(cli *c, const char *sub, const nd_args *o, const char *region,
                           const char *name, char **kv, int nkv)
{
    int rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    strata_ndarray_open_opts oo = {.stage_tier = o->stage_tier,
                                   .hints = o->verbose ? STRATA_ND_VERBOSE : 0};
    strata_ndarray *a;
    int st = strata_ndarray_open(c->pool, region, name, &oo, &a);
    if (st < 0) return cli_fail(c, st);
    strata_ndarray_desc d;
    if ((st = strata_ndarray_info(a, &d)) < 0) {
        rc = cli_fail(c, st);
        goto done;
    }
    if (strcmp(sub, "info") == 0) {
        print_info(a, &d, c->json);
        rc = EXIT_OK;
    } else if (strcmp(sub, "read") == 0) {
        rc = nd_read_verbose(c, a, &d, o, region, name);
    } else if (strcmp(sub, "export") == 0) {
        rc = nd_export(c, a, o, region, name);
    } else if (strcmp(sub, "attr") == 0) {
        rc = nd_attr(c, a, o, kv, nkv);
    } else {
        rc = nd_write(c, a, &d, o, region, name);
    }
done:
    strata_ndarray_close(a);
    return rc;
}

int cmd_nd(cli *c, int argc, char **argv)
{
    char *pos[16];
    int npos;
    nd_args o = {0};
    cli_opt opts[] = {{"dtype", 't', &o.dtype, NULL},
                      {"shape", 0, &o.shape, NULL},
                      {"chunks", 0, &o.chunks, NULL},
                      {"layout", 0, &o.layout, NULL},
                      {"zstd", 0, &o.zstd, NULL},
                      {"tier", 0, &o.tier, NULL},
                      {"fill", 0, &o.fill, NULL},
                      {"unlimited", 0, NULL, &o.unlimited},
                      {"from", 0, &o.from, NULL},
                      {"append", 0, NULL, &o.append},
                      {"start", 0, &o.start, NULL},
                      {"count", 0, &o.count, NULL},
                      {"stride", 0, &o.stride, NULL},
                      {"step", 0, &o.step, NULL},
                      {"out", 'o', &o.out, NULL},
                      {"stage-tier", 0, &o.stage_tier, NULL},
                      {"verbose", 'v', NULL, &o.verbose},
                      {"path", 0, &o.path, NULL},
                      {"gzip", 0, &o.gzip, NULL},
                      {"rm", 0, &o.rm, NULL},
                      {"skip-attrs", 0, NULL, &o.skip_attrs},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 16) return cli_usage_error("nd", "too many arguments");
    int rc = cli_scan(argc, argv, opts, nd_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos < 1)
        return cli_usage_error(
            "nd", "missing subcommand (create, write, read, info, attr, import, export, ls or rm)");
    const char *sub = pos[0];
    if (strcmp(sub, "ls") == 0) return nd_ls(c, pos, npos);
    int import = strcmp(sub, "import") == 0;
    int attr = strcmp(sub, "attr") == 0;
    if (import && npos != 3) return cli_usage_error("nd", "'nd import' takes REGION/NAME and FILE");
    if (!import && !(attr && npos >= 2) && npos != 2)
        return cli_usage_error("nd", "'nd %s' takes one REGION/NAME", sub);
    char buf[2 * STRATA_NAME_MAX + 2];
    const char *region, *name;
    if ((rc = cli_split("nd", pos[1], buf, sizeof buf, &region, &name)) != EXIT_OK) return rc;
    if (strcmp(sub, "create") == 0)
        return nd_create(c, region, name, o.dtype, o.shape, o.chunks, o.layout, o.zstd, o.tier,
                         o.fill, o.unlimited);
    if (strcmp(sub, "rm") == 0) return nd_rm(c, region, name);
    if (import) return nd_import(c, &o, region, name, pos[2]);
    if (attr) return nd_open_and_run(c, sub, &o, region, name, pos + 2, npos - 2);
    if (strcmp(sub, "info") != 0 && strcmp(sub, "read") != 0 && strcmp(sub, "write") != 0 &&
        strcmp(sub, "export") != 0)
        return cli_usage_error("nd", "unknown subcommand '%s'", sub);
    if (strcmp(sub, "export") == 0 && (o.out == NULL || o.path == NULL))
        return cli_usage_error("nd", "'nd export' needs --out FILE.h5 and --path /DATASET");
    if (strcmp(sub, "write") == 0) {
        if (o.from == NULL) return cli_usage_error("nd", "'nd write' needs --from FILE.npy");
        if ((o.start == NULL) == !o.append)
            return cli_usage_error("nd", "'nd write' needs --start I0,I1,... or --append");
    }
    return nd_open_and_run(c, sub, &o, region, name, NULL, 0);
}

/* ---- tier ----------------------------------------------------------------------------------- */

static const char tier_usage[] =
    "usage: strata tier add NAME PATH --kind memory|ssd|disk|archive [--capacity B]\n"
    "                  [--read-bw B/s] [--latency S]\n"
    "       strata tier set NAME [--capacity B] [--read-bw B/s] [--latency S]\n"
    "       strata tier ls\n"
    "       strata tier rm NAME\n"
    "Storage tiers: named directories with a kind and characteristics. Every pool has 'default'\n"
    "(its own directory). Archive data is zstd-compressed and staged to a fast tier to be read;\n"
    "staged copies are evicted from a tier over its capacity, least recently used first.\n"
    "Sizes take K, M, G, T suffixes (powers of 1024).\n";

static int print_tier(void *ctx, const strata_tier_info *t)
{
    int *n = ctx;
    if (*n >= 0) {
        if ((*n)++) fputc(',', stdout);
        fputs("{\"name\":", stdout);
        cli_json_str(stdout, t->name);
        fputs(",\"path\":", stdout);
        cli_json_str(stdout, t->path);
        printf(",\"kind\":\"%s\",\"capacity\":%" PRIu64 ",\"read_bw\":%g,\"latency\":%g,"
               "\"used\":%" PRIu64 ",\"staged\":%" PRIu64 ",\"files\":%" PRIu64 "}",
               strata_tier_kind_name(t->kind), t->capacity, t->read_bw, t->latency, t->used,
               t->staged, t->files);
        return 0;
    }
    char cap[32] = "unlimited", used[32];
    if (t->capacity) cli_human_bytes((double)t->capacity, cap, sizeof cap);
    cli_human_bytes((double)t->used, used, sizeof used);
    printf("%-12s %-8s %10s %10s %8" PRIu64 "  %s\n", t->name, strata_tier_kind_name(t->kind), used,
           cap, t->files, t->path);
    return 0;
}

int cmd_tier(cli *c, int argc, char **argv)
{
    char *pos[16];
    int npos;
    const char *kind = NULL, *capacity = NULL, *bw = NULL, *latency = NULL;
    cli_opt opts[] = {{"kind", 'k', &kind, NULL},
                      {"capacity", 0, &capacity, NULL},
                      {"read-bw", 0, &bw, NULL},
                      {"latency", 0, &latency, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 16) return cli_usage_error("tier", "too many arguments");
    int rc = cli_scan(argc, argv, opts, tier_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos < 1) return cli_usage_error("tier", "missing subcommand (add, ls or rm)");
    const char *sub = pos[0];
    if (strcmp(sub, "ls") == 0) {
        if (npos != 1) return cli_usage_error("tier", "'tier ls' takes no arguments");
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        int n = c->json ? 0 : -1;
        if (c->json)
            fputs("{\"tiers\":[", stdout);
        else
            printf("%-12s %-8s %10s %10s %8s  %s\n", "TIER", "KIND", "USED", "CAPACITY", "FILES",
                   "PATH");
        int st = strata_tier_list(c->pool, print_tier, &n);
        if (c->json) fputs("]}\n", stdout);
        return st < 0 ? cli_fail(c, st) : EXIT_OK;
    }
    if (strcmp(sub, "rm") == 0) {
        if (npos != 2) return cli_usage_error("tier", "'tier rm' takes one NAME");
        if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
        int st = strata_tier_remove(c->pool, pos[1]);
        if (st < 0) return cli_fail(c, st);
        if (!c->json) printf("removed tier %s\n", pos[1]);
        return EXIT_OK;
    }
    int set = strcmp(sub, "set") == 0;
    if (strcmp(sub, "add") != 0 && !set)
        return cli_usage_error("tier", "unknown subcommand '%s'", sub);
    if (set && npos != 2) return cli_usage_error("tier", "'tier set' takes one NAME");
    if (!set && npos != 3) return cli_usage_error("tier", "'tier add' takes NAME and PATH");
    strata_tier_kind k = STRATA_TIER_DISK;
    if (set && kind) return cli_usage_error("tier", "a tier's --kind cannot change");
    if (!set && (kind == NULL || strata_tier_kind_parse(kind, &k) != STRATA_OK))
        return cli_usage_error("tier", "--kind is memory, ssd, disk or archive");
    uint64_t cap = 0, rbw = 0;
    if (capacity && cli_parse_bytes(capacity, &cap) != 0)
        return cli_usage_error("tier", "--capacity needs a size such as 10G");
    if (bw && cli_parse_bytes(bw, &rbw) != 0)
        return cli_usage_error("tier", "--read-bw needs bytes per second such as 100M");
    double lat = 0;
    if (latency) {
        char *end;
        lat = strtod(latency, &end);
        if (end == latency || *end != '\0' || lat < 0)
            return cli_usage_error("tier", "--latency needs seconds such as 0.5");
    }
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    if (set) {
        /* what is not given stays as it was */
        strata_tier_info t;
        int st = strata_tier_get(c->pool, pos[1], &t);
        if (st < 0) return cli_fail(c, st);
        st = strata_tier_set(c->pool, pos[1], capacity ? cap : t.capacity,
                             bw ? (double)rbw : t.read_bw, latency ? lat : t.latency);
        if (st < 0) return cli_fail(c, st);
        if (!c->json)
            printf("tier %s: capacity %" PRIu64 ", read bandwidth %g B/s, latency %g s\n", pos[1],
                   capacity ? cap : t.capacity, bw ? (double)rbw : t.read_bw,
                   latency ? lat : t.latency);
        return EXIT_OK;
    }
    int st = strata_tier_add(c->pool, pos[1], pos[2], k, cap, (double)rbw, lat);
    if (st < 0) return cli_fail(c, st);
    if (!c->json) printf("added tier %s (%s) at %s\n", pos[1], kind, pos[2]);
    return EXIT_OK;
}

/* ---- migrate and stage ---------------------------------------------------------------------- */

static const char migrate_usage[] =
    "usage: strata migrate R/NAME --to TIER [--chunks FIRST-LAST | --batches FIRST-LAST]\n"
    "Move the files of an N-d array (all chunks, or those with linear index FIRST to LAST) or of\n"
    "a dataset (all batches, or those with sequence number FIRST to LAST) to TIER: copy, make\n"
    "durable, switch the catalog record, then remove the source. Moving a whole array also\n"
    "makes TIER where its new data goes; a dataset's new batches go to its own directory.\n";

/* "FIRST-LAST", "FIRST" or "FIRST-" into [*FIRST, *LAST]; -1 if malformed. */
static int parse_range(const char *arg, uint64_t *first, uint64_t *last)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", arg);
    char *dash = strchr(tmp, '-');
    if (dash != NULL) *dash = '\0';
    *last = UINT64_MAX;
    if (cli_parse_u64(tmp, first) != 0 ||
        (dash != NULL && dash[1] != '\0' && cli_parse_u64(dash + 1, last) != 0))
        return -1;
    if (dash == NULL) *last = *first;
    return 0;
}

int cmd_migrate(cli *c, int argc, char **argv)
{
    char *pos[8];
    int npos;
    const char *to = NULL, *chunks = NULL, *batches = NULL;
    cli_opt opts[] = {{"to", 0, &to, NULL},
                      {"chunks", 0, &chunks, NULL},
                      {"batches", 0, &batches, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 8) return cli_usage_error("migrate", "too many arguments");
    int rc = cli_scan(argc, argv, opts, migrate_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1 || to == NULL) return cli_usage_error("migrate", "needs R/NAME and --to TIER");
    if (chunks != NULL && batches != NULL)
        return cli_usage_error("migrate", "--chunks is for N-d arrays, --batches for datasets");
    uint64_t first = 0, last = UINT64_MAX;
    const char *range = chunks != NULL ? chunks : batches;
    if (range != NULL && parse_range(range, &first, &last) != 0)
        return cli_usage_error("migrate", chunks != NULL
                                              ? "--chunks needs FIRST-LAST (or FIRST, or FIRST-)"
                                              : "--batches needs FIRST-LAST (or FIRST, or FIRST-)");
    char buf[2 * STRATA_NAME_MAX + 2];
    const char *region, *name;
    if ((rc = cli_split("migrate", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    /* an N-d array or a dataset: --batches says dataset; otherwise an array of that name wins */
    int dataset = batches != NULL;
    if (!dataset && chunks == NULL) {
        strata_ndarray *a;
        int st = strata_ndarray_open(c->pool, region, name, NULL, &a);
        if (st == STRATA_OK) strata_ndarray_close(a);
        dataset = st == STRATA_ENOTFOUND;
    }
    uint64_t moved = 0;
    int st = dataset ? strata_dataset_migrate(c->pool, region, name, to, first, last, &moved)
                     : strata_ndarray_migrate(c->pool, region, name, to, first, last, &moved);
    if (st < 0) return cli_fail(c, st);
    if (c->json)
        printf("{\"moved\":%" PRIu64 "}\n", moved);
    else
        printf("moved %" PRIu64 " file(s) of %s/%s to tier %s\n", moved, region, name, to);
    return EXIT_OK;
}

static const char stage_usage[] =
    "usage: strata stage R/NAME [--start I0,... --count N0,...] [--to TIER]\n"
    "Stage the archive files that a region of an N-d array needs (default: all of it) to a fast\n"
    "tier (default: 'default'), so that later reads find them there.\n";

int cmd_stage(cli *c, int argc, char **argv)
{
    char *pos[8];
    int npos;
    const char *to = NULL, *start_s = NULL, *count_s = NULL;
    cli_opt opts[] = {{"to", 0, &to, NULL},
                      {"start", 0, &start_s, NULL},
                      {"count", 0, &count_s, NULL},
                      CLI_OPT_JSON,
                      {0}};
    if (argc > 10) return cli_usage_error("stage", "too many arguments");
    int rc = cli_scan(argc, argv, opts, stage_usage, pos, &npos, 0);
    if (rc != EXIT_OK) return rc;
    if (npos != 1) return cli_usage_error("stage", "needs R/NAME");
    char buf[2 * STRATA_NAME_MAX + 2];
    const char *region, *name;
    if ((rc = cli_split("stage", pos[0], buf, sizeof buf, &region, &name)) != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    uint64_t start[STRATA_ND_MAXDIMS], count[STRATA_ND_MAXDIMS], stride[STRATA_ND_MAXDIMS];
    int have_rect = start_s != NULL || count_s != NULL;
    if (have_rect) {
        strata_ndarray *a;
        strata_ndarray_desc d;
        int st = strata_ndarray_open(c->pool, region, name, NULL, &a);
        if (st == STRATA_OK) st = strata_ndarray_info(a, &d);
        if (st < 0) {
            strata_ndarray_close(a);
            return cli_fail(c, st);
        }
        rc = resolve_rect("stage", &d, start_s, count_s, NULL, NULL, start, count, stride);
        strata_ndarray_close(a);
        if (rc != EXIT_OK) return rc;
    }
    strata_stage *job;
    strata_stage_stats s;
    char err[1024] = "";
    int st = strata_stage_start(c->pool, region, name, have_rect ? start : NULL,
                                have_rect ? count : NULL, to, &job);
    if (st < 0) return cli_fail(c, st);
    st = strata_stage_wait(job, &s, err, sizeof err);
    if (st < 0) {
        return cli_report(st, NULL, "%s", err[0] ? err : strata_strerror(st));
    }
    if (c->json)
        printf("{\"chunks_needed\":%" PRIu64 ",\"chunks_staged\":%" PRIu64
               ",\"chunks_present\":%" PRIu64 ",\"bytes_read\":%" PRIu64
               ",\"bytes_written\":%" PRIu64 ",\"evicted\":%" PRIu64 ",\"seconds\":%.6f}\n",
               s.chunks_needed, s.chunks_staged, s.chunks_present, s.bytes_read, s.bytes_written,
               s.evicted, s.seconds);
    else
        printf("staged %" PRIu64 " of %" PRIu64 " chunk(s) of %s/%s to %s (%" PRIu64
               " already there), %" PRIu64 " bytes read, %" PRIu64 " written, %" PRIu64
               " evicted, in %.3f s\n",
               s.chunks_staged, s.chunks_needed, region, name, to ? to : "default",
               s.chunks_present, s.bytes_read, s.bytes_written, s.evicted, s.seconds);
    return EXIT_OK;
}
