/*
 * cli_util.c -- option scanning, errors and exit codes, values in and out.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int looks_numeric(const char *s)
{
    /* "-8", "-.5", "-1e3", "-inf", "-nan": values, not options */
    return s[0] == '-' && (s[1] == '.' || (s[1] >= '0' && s[1] <= '9') ||
                           strncmp(s + 1, "inf", 3) == 0 || strncmp(s + 1, "nan", 3) == 0);
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
        if (o == NULL) {
            fprintf(stderr, "strata: unknown option '%s'\n%s", a, usage);
            return EXIT_USAGE;
        }
        if (o->value == NULL) {
            if (inline_val != NULL) {
                fprintf(stderr, "strata: option '--%s' takes no value\n", o->name);
                return EXIT_USAGE;
            }
            if (o->flag != NULL) *o->flag = 1;
        } else if (inline_val != NULL) {
            *o->value = inline_val;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "strata: option '--%s' needs a value\n", o->name);
                return EXIT_USAGE;
            }
            *o->value = argv[++i];
        }
    }
    (void)stop_at_positional;
    for (; i < argc; i++) pos[(*npos)++] = argv[i];
    return EXIT_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("strata: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'strata %s --help'\n", cmd);
    return EXIT_USAGE;
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
    fprintf(stderr, "strata: %s%s\n", msg, cli_errwhere(c));
    return cli_exit_code(status);
}

const char *cli_errwhere(cli *c)
{
    static char buf[128];
    const char *where = c->pool != NULL ? strata_errwhere(c->pool) : "";
    if (getenv("STRATA_DEBUG") == NULL || where[0] == '\0') return "";
    snprintf(buf, sizeof buf, " (at %s)", where);
    return buf;
}

int cli_open_pool(cli *c)
{
    char err[1024];
    int rc = strata_pool_open_err(c->pool_path, &c->pool, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "strata: %s\n", err[0] ? err : strata_strerror(rc));
        return cli_exit_code(rc);
    }
    if (c->threads > 0) strata_pool_set_threads(c->pool, c->threads);
    return EXIT_OK;
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
    case STRATA_F64: {
        double v = dtype == STRATA_F32 ? (double)*(const float *)p : *(const double *)p;
        if (json && !isfinite(v))
            fputs("null", f);
        else
            fprintf(f, dtype == STRATA_F32 ? "%.9g" : "%.17g", v);
        break;
    }
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
