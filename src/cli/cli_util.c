/*
 * cli_util.c -- option scanning, errors and exit codes, values in and out.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int looks_numeric(const char *s)
{
    /* "-8", "-.5", "-1e3", "-inf", "-nan": values, not options */
    return s[0] == '-' && (s[1] == '.' || (s[1] >= '0' && s[1] <= '9') ||
                           strncmp(s + 1, "inf", 3) == 0 || strncmp(s + 1, "nan", 3) == 0);
}

/* Errors as JSON on stderr ('--json' anywhere on the command line; main() sets it). The command
 * is one process: this flag is its own, not the library's. */
static int json_errors;

void cli_set_json_errors(int on)
{
    json_errors = on;
}

/* The progress line on the terminal (stderr): whether one is shown, and when it was drawn. */
static int progress_shown;
static double progress_at;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void cli_progress_clear(void)
{
    if (progress_shown) fputs("\r\033[K", stderr);
    progress_shown = 0;
}

static void human_count(const char *unit, uint64_t n, char *out, size_t len)
{
    if (strcmp(unit, "bytes") == 0)
        cli_human_bytes((double)n, out, len);
    else
        snprintf(out, len, "%llu", (unsigned long long)n);
}

/* strata_work_fn of the terminal: "  migrate sim/temp to tape: 1.2 GB of 4.0 GB (30%)", drawn at
 * most ten times a second, cleared when the work is done. */
static void show_work(void *ctx, const strata_work *w)
{
    (void)ctx;
    int end = w->total > 0 && w->done >= w->total;
    double t = now_s();
    if (end) {
        cli_progress_clear();
        return;
    }
    if (progress_shown && t - progress_at < 0.1) return;
    char done[32], total[32];
    human_count(w->unit, w->done, done, sizeof done);
    human_count(w->unit, w->total, total, sizeof total);
    int bytes = strcmp(w->unit, "bytes") == 0; /* their numbers say so already */
    if (w->total > 0)
        fprintf(stderr, "\r\033[K  %s: %s of %s%s%s (%.0f%%)", w->what, done, total,
                bytes ? "" : " ", bytes ? "" : w->unit, 100.0 * (double)w->done / (double)w->total);
    else
        fprintf(stderr, "\r\033[K  %s: %s%s%s", w->what, done, bytes ? "" : " ",
                bytes ? "" : w->unit);
    progress_shown = 1;
    progress_at = t;
}

void cli_progress(cli *c, const strata_work *w)
{
    if (c->progress) show_work(NULL, w);
}

/* The edit distance of A and B (insertions, deletions, substitutions and swaps of neighbours),
 * or a number above any threshold when either is longer than 63 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b), d[64][64];
    if (n >= 64 || m >= 64) return 99;
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bd = 99, len = strlen(word);
    /* a typo of one or two edits (one in a short word), or the start of exactly one name */
    size_t limit = len <= 3 ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    if (bd <= limit && bd < len) return best;
    const char *pre = NULL;
    for (size_t i = 0; i < n && len >= 2; i++)
        if (strncmp(cands[i], word, len) == 0) {
            if (pre != NULL) return NULL; /* ambiguous */
            pre = cands[i];
        }
    return pre;
}

int cli_report(int status, const char *hint, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int code = status == CLI_EUSAGE ? EXIT_USAGE : cli_exit_code(status);
    cli_progress_clear();
    if (!json_errors) {
        fprintf(stderr, "strata: %s\n", msg);
        if (hint != NULL && hint[0] != '\0') fprintf(stderr, "%s\n", hint);
        return code;
    }
    const char *name = status == CLI_EUSAGE ? "EUSAGE" : strata_errname(status);
    if (strncmp(name, "STRATA_", 7) == 0) name += 7;
    fputs("{\"error\":{\"code\":", stderr);
    cli_json_str(stderr, name);
    fputs(",\"message\":", stderr);
    cli_json_str(stderr, msg);
    if (hint != NULL && hint[0] != '\0') {
        fputs(",\"hint\":", stderr);
        cli_json_str(stderr, hint);
    }
    fprintf(stderr, ",\"exit\":%d}}\n", code);
    return code;
}

/* The command a usage text is for ("usage: strata array put R/NAME ..." -> "array put"). */
static void usage_command(const char *usage, char *out, size_t len)
{
    const char *p = strstr(usage, "strata ");
    size_t n = 0;
    out[0] = '\0';
    if (p == NULL) return;
    for (p += 7; *p != '\0' && n + 1 < len;) {
        size_t w = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
        if (w == 0 || (p[w] != ' ' && p[w] != '\n' && p[w] != '\0') || n + w + 2 > len) break;
        if (n > 0) out[n++] = ' ';
        memcpy(out + n, p, w);
        n += w;
        out[n] = '\0';
        p += w;
        if (*p != ' ') break;
        p++;
    }
}

/* Report unknown option A of the command of USAGE, naming the closest of OPTS. */
static int unknown_option(const char *a, const cli_opt *opts, const char *usage)
{
    const char *names[64];
    char cmd[64], hint[256], flag[80];
    size_t n = 0;
    for (const cli_opt *p = opts; p != NULL && p->name != NULL && n < 64; p++) names[n++] = p->name;
    if (n < 64) names[n++] = "help";
    usage_command(usage, cmd, sizeof cmd);
    snprintf(flag, sizeof flag, "%.70s", a + strspn(a, "-"));
    char *eq = strchr(flag, '=');
    if (eq != NULL) *eq = '\0';
    const char *best = cli_closest(flag, names, n);
    if (best != NULL)
        snprintf(hint, sizeof hint, "did you mean '--%s'? try 'strata %s --help'", best, cmd);
    else
        snprintf(hint, sizeof hint, "try 'strata %s --help'", cmd);
    return cli_report(CLI_EUSAGE, hint, "unknown option '%s' for '%s'", a, cmd);
}

int cli_scan(int argc, char **argv, const cli_opt *opts, const char *usage, char **pos, int *npos,
             int stop_at_positional)
{
    *npos = 0;
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_HELP;
        }
        if (a[0] != '-' || a[1] == '\0' || looks_numeric(a)) {
            pos[(*npos)++] = a;
            continue;
        }
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        for (const cli_opt *p = opts; p != NULL && p->name != NULL; p++) {
            if (a[1] == '-') {
                size_t n = strlen(p->name);
                if (strncmp(a + 2, p->name, n) == 0 && (a[2 + n] == '\0' || a[2 + n] == '=')) {
                    o = p;
                    if (a[2 + n] == '=') inline_val = a + 3 + n;
                    break;
                }
            } else if (p->short_name != 0 && a[1] == p->short_name && a[2] == '\0') {
                o = p;
                break;
            }
        }
        if (o == NULL) return unknown_option(a, opts, usage);
        if (o->value == NULL) {
            if (inline_val != NULL)
                return cli_report(CLI_EUSAGE, NULL, "option '--%s' takes no value", o->name);
            if (o->flag != NULL) *o->flag = 1;
        } else if (inline_val != NULL) {
            *o->value = inline_val;
        } else {
            if (i + 1 >= argc)
                return cli_report(CLI_EUSAGE, NULL, "option '--%s' needs a value", o->name);
            *o->value = argv[++i];
        }
    }
    (void)stop_at_positional;
    for (; i < argc; i++) pos[(*npos)++] = argv[i];
    return EXIT_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[2048], hint[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(hint, sizeof hint, "try 'strata %s --help'", cmd);
    return cli_report(CLI_EUSAGE, hint, "%s", msg);
}

int cli_exit_code(int status)
{
    switch (status) {
    case STRATA_OK:
        return EXIT_OK;
    case STRATA_ENOTFOUND:
        return EXIT_NOTFOUND;
    case STRATA_EINVAL:
    case STRATA_ETYPE:
    case STRATA_ERANGE:
    case STRATA_ENAME:
    case STRATA_EPERM:
    case STRATA_EUNSUPPORTED:
        return EXIT_BADINPUT;
    case STRATA_EEXIST:
    case STRATA_ELOCKED:
    case STRATA_ECONFLICT:
    case STRATA_ESTALE:
        return EXIT_CONFLICT;
    default:
        return EXIT_IO;
    }
}

int cli_fail(cli *c, int status)
{
    const char *msg = c->pool != NULL ? strata_errmsg(c->pool) : "";
    if (msg == NULL || msg[0] == '\0') msg = strata_strerror(status);
    return cli_report(status, NULL, "%s%s", msg, cli_errwhere(c));
}

const char *cli_errwhere(cli *c)
{
    static char buf[128];
    const char *where = c->pool != NULL ? strata_errwhere(c->pool) : "";
    if (getenv("STRATA_DEBUG") == NULL || where[0] == '\0') return "";
    snprintf(buf, sizeof buf, " (at %s)", where);
    return buf;
}

/* The positive integer in environment variable NAME, else 0. */
static long env_count(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    return v != NULL && end != v && *end == '\0' && n > 0 ? n : 0;
}

int cli_mpi_start(int force, int off, strata_mpi **m)
{
    *m = NULL;
    long size = env_count("OMPI_COMM_WORLD_SIZE");
    if (size == 0) size = env_count("PMI_SIZE");
    if (off || (!force && size <= 1)) return EXIT_OK;
    char why[512];
    int st = strata_mpi_open(NULL, NULL, m, why, sizeof why);
    if (st < 0)
        return cli_report(st, "run it without mpirun (or with --no-mpi) to update in one process",
                          "cannot start MPI: %s", why);
    return EXIT_OK;
}

int cli_mpi_threads(const cli *c)
{
    if (c->threads > 0) return c->threads;
    long local = env_count("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (local == 0) local = env_count("MPI_LOCALNRANKS");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (local <= 1 || cpus <= 0) return 0;
    return cpus / local > 1 ? (int)(cpus / local) : 1;
}

int cli_open_pool(cli *c)
{
    char err[1024];
    int rc = strata_pool_open_err(c->pool_path, &c->pool, err, sizeof err);
    if (rc < 0) return cli_report(rc, NULL, "%s", err[0] ? err : strata_strerror(rc));
    if (c->threads > 0) strata_pool_set_threads(c->pool, c->threads);
    /* long operations draw a progress line on a terminal */
    c->progress = !c->json && isatty(2);
    if (c->progress) strata_pool_set_work_fn(c->pool, show_work, NULL);
    return EXIT_OK;
}

int cli_ensure_region(cli *c, const char *region)
{
    int st = strata_region_exists(c->pool, region);
    if (st == STRATA_ENOTFOUND) st = strata_region_create(c->pool, region);
    if (st == STRATA_EEXIST) st = STRATA_OK; /* created meanwhile by another process */
    return st;
}

int cli_split(const char *cmd, const char *arg, char *buf, size_t buflen, const char **region,
              const char **name)
{
    const char *slash = strchr(arg, '/');
    if (slash == NULL || slash == arg || slash[1] == '\0' || strlen(arg) >= buflen)
        return cli_usage_error(cmd, "'%s' is not REGION/NAME", arg);
    memcpy(buf, arg, strlen(arg) + 1);
    buf[slash - arg] = '\0';
    *region = buf;
    *name = buf + (slash - arg) + 1;
    return EXIT_OK;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

const char *cli_fmt_real(char *buf, double v, int f32)
{
    strata_real_format(v, f32, buf);
    return buf;
}

void cli_print_real(FILE *f, double v, int f32, int json)
{
    char buf[CLI_REAL_MAX];
    if (json && !isfinite(v))
        fputs("null", f);
    else
        fputs(cli_fmt_real(buf, v, f32), f);
}

void cli_print_value(FILE *f, strata_dtype dtype, const void *p, int json)
{
    switch (dtype) {
    case STRATA_I8:
        fprintf(f, "%d", *(const int8_t *)p);
        break;
    case STRATA_I16:
        fprintf(f, "%d", *(const int16_t *)p);
        break;
    case STRATA_I32:
        fprintf(f, "%" PRId32, *(const int32_t *)p);
        break;
    case STRATA_I64:
        fprintf(f, "%" PRId64, *(const int64_t *)p);
        break;
    case STRATA_U8:
        fprintf(f, "%u", *(const uint8_t *)p);
        break;
    case STRATA_U16:
        fprintf(f, "%u", *(const uint16_t *)p);
        break;
    case STRATA_U32:
        fprintf(f, "%" PRIu32, *(const uint32_t *)p);
        break;
    case STRATA_U64:
        fprintf(f, "%" PRIu64, *(const uint64_t *)p);
        break;
    case STRATA_F32:
    case STRATA_F64:
        if (dtype == STRATA_F32)
            cli_print_real(f, (double)*(const float *)p, 1, json);
        else
            cli_print_real(f, *(const double *)p, 0, json);
        break;
    case STRATA_BOOL:
        fputs(*(const uint8_t *)p ? "true" : "false", f);
        break;
    case STRATA_TS: {
        char ts[STRATA_TS_FORMAT_MAX];
        int64_t ns;
        memcpy(&ns, p, sizeof ns);
        strata_ts_format(ns, ts);
        fprintf(f, json ? "\"%s\"" : "%s", ts);
        break;
    }
    default:
        break;
    }
}

int cli_print_name(void *names, const char *name)
{
    cli_names *cn = names;
    if (cn->json) {
        if (cn->n++) fputc(',', stdout);
        cli_json_str(stdout, name);
    } else {
        puts(name);
    }
    return 0;
}

void cli_json_str(FILE *f, const char *s)
{
    cli_json_strn(f, s, strlen(s));
}

void cli_json_strn(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_human_bytes(double b, char *out, size_t len)
{
    const char *u[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    int i = 0;
    while (b >= 1000 && i < 5) {
        b /= 1000;
        i++;
    }
    snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* A byte count with an optional K, M, G or T suffix (powers of 1024). */
int cli_parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double m = 1;
    switch (*end) {
    case 'K':
    case 'k':
        m = 1024.0;
        end++;
        break;
    case 'M':
    case 'm':
        m = 1024.0 * 1024;
        end++;
        break;
    case 'G':
    case 'g':
        m = 1024.0 * 1024 * 1024;
        end++;
        break;
    case 'T':
    case 't':
        m = 1024.0 * 1024 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end == '/') end = strchr(end, '\0'); /* "100M/s" */
    if (*end != '\0' || v * m > 1.8e19) return -1;
    *out = (uint64_t)(v * m);
    return 0;
}
