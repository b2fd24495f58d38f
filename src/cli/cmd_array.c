/*
 * cmd_array.c -- strata array create|ls|info|rm|put|get|add|cas|lock|backup|restore.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: strata array create REGION/NAME DTYPE LENGTH\n"
    "       strata array create REGION/NAME --from FILE.npy\n"
    "       strata array create REGION/NAME str --from FILE.txt   (one string per line)\n"
    "       strata array ls [REGION]\n"
    "       strata array info REGION/NAME [--no-checksum]\n"
    "       strata array rm REGION/NAME\n"
    "       strata array put REGION/NAME START VALUE...\n"
    "       strata array put REGION/NAME [START] --from FILE.npy\n"
    "       strata array get REGION/NAME [START COUNT] [--out FILE.npy]\n"
    "       strata array add REGION/NAME INDEX DELTA       (atomic; prints the old value)\n"
    "       strata array cas REGION/NAME INDEX EXPECTED DESIRED\n"
    "                        (atomic compare-and-swap; prints the old value; exit 4 if it\n"
    "                         did not match)\n"
    "       strata array lock REGION/NAME [--shared] [--timeout MS] -- COMMAND...\n"
    "       strata array backup REGION/NAME BACKUP\n"
    "       strata array restore BACKUP REGION/NAME\n"
    "DTYPE is one of i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 bool str. Commands that create an\n"
    "array create its region when it does not exist. Negative numbers are values: 'array put\n"
    "demo/a 0 -8 5' works.\n";

/* Options of every array subcommand (each uses the ones it needs). */
typedef struct {
    const char *from, *out, *timeout;
    int shared, no_checksum;
} array_opts;

#define NAMEBUF (2 * STRATA_NAME_MAX + 2)

static int open_array(cli *c, const char *arg, strata_array **a)
{
    char buf[NAMEBUF];
    const char *region, *name;
    int rc = cli_split("array", arg, buf, sizeof buf, &region, &name);
    if (rc != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_array_open(c->pool, region, name, a);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

/* Read FILE as one string per line into packed offsets and bytes. */
static int read_lines(const char *path, uint64_t *n, int64_t **offsets, char **bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return cli_report(errno == ENOENT ? STRATA_ENOTFOUND : STRATA_EIO, NULL,
                          "cannot open '%s': %s", path, strerror(errno));
    }
    size_t cap = 1024, bcap = 1 << 16, nb = 0, k = 0;
    int64_t *off = malloc(cap * sizeof *off);
    char *b = malloc(bcap);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = EXIT_OK;
    if (off == NULL || b == NULL) goto nomem;
    off[0] = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') len--;
        if (len > 0 && line[len - 1] == '\r') len--;
        if (k + 2 > cap) {
            int64_t *g = realloc(off, 2 * cap * sizeof *off);
            if (g == NULL) goto nomem;
            off = g;
            cap *= 2;
        }
        while (nb + (size_t)len > bcap) {
            char *g = realloc(b, 2 * bcap);
            if (g == NULL) goto nomem;
            b = g;
            bcap *= 2;
        }
        memcpy(b + nb, line, (size_t)len);
        nb += (size_t)len;
        off[++k] = (int64_t)nb;
    }
    if (ferror(f)) {
        rc = cli_report(STRATA_EIO, NULL, "cannot read '%s': %s", path, strerror(errno));
    }
    goto done;
nomem:
    rc = cli_report(STRATA_ENOMEM, NULL, "out of memory reading '%s'", path);
done:
    free(line);
    fclose(f);
    if (rc != EXIT_OK) {
        free(off);
        free(b);
        return rc;
    }
    *n = k;
    *offsets = off;
    *bytes = b;
    return EXIT_OK;
}

static int do_create(cli *c, char **pos, int npos, const array_opts *o)
{
    char buf[NAMEBUF];
    const char *region, *name;
    if (npos < 2) return cli_usage_error("array", "'array create' needs REGION/NAME");
    int rc = cli_split("array", pos[1], buf, sizeof buf, &region, &name);
    if (rc != EXIT_OK) return rc;
    strata_dtype dtype = STRATA_I64;
    uint64_t length = 0;
    if (o->from != NULL) {
        if (npos > 3) return cli_usage_error("array", "'array create --from' takes no LENGTH");
        if (npos == 3 && strata_dtype_parse(pos[2], &dtype) < 0)
            return cli_usage_error("array", "unknown dtype '%s'", pos[2]);
        if (npos == 3 && dtype != STRATA_STR)
            return cli_usage_error("array",
                                   "with --from FILE.npy the dtype comes from the file; give a "
                                   "DTYPE only for 'str' (text file, one string per line)");
    } else {
        if (npos != 4)
            return cli_usage_error("array", "'array create' needs REGION/NAME DTYPE LENGTH");
        if (strata_dtype_parse(pos[2], &dtype) < 0)
            return cli_usage_error("array",
                                   "unknown dtype '%s' (use i8 i16 i32 i64 u8 u16 u32 "
                                   "u64 f32 f64 bool str)",
                                   pos[2]);
        if (cli_parse_u64(pos[3], &length) != 0)
            return cli_usage_error("array", "LENGTH '%s' is not a non-negative integer", pos[3]);
    }
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = cli_ensure_region(c, region);
    if (st == STRATA_OK) {
        if (o->from != NULL && npos == 3) {
            int64_t *off = NULL;
            char *bytes = NULL;
            if ((rc = read_lines(o->from, &length, &off, &bytes)) != EXIT_OK) return rc;
            st = strata_array_create_str(c->pool, region, name, length, off, bytes, NULL);
            free(off);
            free(bytes);
        } else if (o->from != NULL) {
            strata_array *a = NULL;
            st = strata_array_create_npy(c->pool, region, name, o->from, &a);
            if (st == STRATA_OK) {
                dtype = strata_array_dtype(a);
                length = strata_array_length(a);
            }
            strata_array_close(a);
        } else {
            st = strata_array_create(c->pool, region, name, dtype, length, NULL);
        }
    }
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        fputs("{\"array\":", stdout);
        cli_json_str(stdout, pos[1]);
        printf(",\"dtype\":\"%s\",\"length\":%llu,\"created\":true}\n", strata_dtype_name(dtype),
               (unsigned long long)length);
    } else {
        printf("created array %s (%s, %llu elements)\n", pos[1], strata_dtype_name(dtype),
               (unsigned long long)length);
    }
    return EXIT_OK;
}

struct ls_ctx {
    cli *c;
    int n;
};

static int print_array(void *vctx, const strata_array_info *info)
{
    struct ls_ctx *lc = vctx;
    if (lc->c->json) {
        if (lc->n++) fputc(',', stdout);
        fputs("{\"region\":", stdout);
        cli_json_str(stdout, info->region);
        fputs(",\"name\":", stdout);
        cli_json_str(stdout, info->name);
        printf(",\"dtype\":\"%s\",\"length\":%llu}", strata_dtype_name(info->dtype),
               (unsigned long long)info->length);
    } else {
        printf("%s/%s\t%s\t%llu\n", info->region, info->name, strata_dtype_name(info->dtype),
               (unsigned long long)info->length);
    }
    return 0;
}

static int ls_region(void *vctx, const char *region)
{
    struct ls_ctx *lc = vctx;
    int st = strata_array_list(lc->c->pool, region, print_array, lc);
    return st < 0 ? st : 0;
}

static int do_ls(cli *c, char **pos, int npos)
{
    if (npos > 2) return cli_usage_error("array", "'array ls' takes at most one REGION");
    int rc = cli_open_pool(c);
    if (rc != EXIT_OK) return rc;
    struct ls_ctx lc = {c, 0};
    if (c->json) fputs("{\"arrays\":[", stdout);
    int st = npos == 2 ? strata_array_list(c->pool, pos[1], print_array, &lc)
                       : strata_region_list(c->pool, ls_region, &lc);
    if (c->json) fputs("]}\n", stdout);
    return st < 0 ? cli_fail(c, st) : EXIT_OK;
}

static int do_info(cli *c, char **pos, int npos, const array_opts *o)
{
    if (npos != 2) return cli_usage_error("array", "'array info' takes REGION/NAME");
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    strata_array_info info;
    int st = strata_array_stat(a, o->no_checksum ? 0 : STRATA_STAT_CHECKSUM, &info);
    if (st < 0) return cli_fail(c, st);
    if (c->json) {
        fputs("{\"region\":", stdout);
        cli_json_str(stdout, info.region);
        fputs(",\"name\":", stdout);
        cli_json_str(stdout, info.name);
        printf(",\"dtype\":\"%s\",\"length\":%llu,\"bytes\":%llu,\"created_ns\":%lld",
               strata_dtype_name(info.dtype), (unsigned long long)info.length,
               (unsigned long long)info.bytes, (long long)info.created_ns);
        if (info.has_checksum)
            printf(",\"checksum\":\"%016llx\"", (unsigned long long)info.checksum);
        fputs(",\"path\":", stdout);
        cli_json_str(stdout, info.path);
        if (info.bytes_path != NULL) {
            fputs(",\"bytes_path\":", stdout);
            cli_json_str(stdout, info.bytes_path);
        }
        fputs("}\n", stdout);
    } else {
        printf("array     %s/%s\n", info.region, info.name);
        printf("dtype     %s\n", strata_dtype_name(info.dtype));
        printf("length    %llu\n", (unsigned long long)info.length);
        char hb[32];
        cli_human_bytes((double)info.bytes, hb, sizeof hb);
        printf("bytes     %s\n", hb);
        if (info.has_checksum)
            printf("checksum  xxh64:%016llx\n", (unsigned long long)info.checksum);
        time_t secs = (time_t)(info.created_ns / 1000000000);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&secs, &tm) != NULL) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        printf("created   %s.%09lldZ\n", when, (long long)(info.created_ns % 1000000000));
        printf("path      %s\n", info.path);
        if (info.bytes_path != NULL) printf("bytes     %s\n", info.bytes_path);
    }
    return EXIT_OK;
}

static int do_rm(cli *c, char **pos, int npos)
{
    char buf[NAMEBUF];
    const char *region, *name;
    if (npos != 2) return cli_usage_error("array", "'array rm' takes REGION/NAME");
    int rc = cli_split("array", pos[1], buf, sizeof buf, &region, &name);
    if (rc != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_array_delete(c->pool, region, name);
    if (st < 0) return cli_fail(c, st);
    if (!c->json)
        printf("deleted array %s\n", pos[1]);
    else {
        fputs("{\"array\":", stdout);
        cli_json_str(stdout, pos[1]);
        fputs(",\"deleted\":true}\n", stdout);
    }
    return EXIT_OK;
}

static int do_put(cli *c, char **pos, int npos, const array_opts *o)
{
    if (npos < 2) return cli_usage_error("array", "'array put' needs REGION/NAME");
    uint64_t start = 0;
    if (npos >= 3 && cli_parse_u64(pos[2], &start) != 0)
        return cli_usage_error("array", "START '%s' is not a non-negative integer", pos[2]);
    if (o->from == NULL && npos < 4)
        return cli_usage_error("array", "'array put' needs START and at least one VALUE");
    if (o->from != NULL && npos > 3)
        return cli_usage_error("array", "'array put --from' takes no VALUEs");
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    int st;
    uint64_t count;
    if (o->from != NULL) {
        st = strata_array_put_npy(a, start, o->from);
        count = 0;
    } else {
        strata_dtype dt = strata_array_dtype(a);
        count = (uint64_t)(npos - 3);
        size_t esz = strata_dtype_size(dt);
        char *vals = malloc(count * esz);
        if (vals == NULL) {
            return cli_report(STRATA_ENOMEM, NULL, "out of memory");
        }
        for (uint64_t i = 0; i < count; i++) {
            char why[64], v[8];
            if (strata_value_parse(dt, pos[3 + i], v, why) != 0) {
                free(vals);
                return cli_report(STRATA_EINVAL, NULL, "value '%s' (value %llu) %s", pos[3 + i],
                                  (unsigned long long)i + 1, why);
            }
            memcpy(vals + i * esz, v, esz);
        }
        st = strata_array_put(a, start, count, vals);
        free(vals);
    }
    if (st == STRATA_OK) st = strata_array_flush(a);
    if (st < 0) return cli_fail(c, st);
    if (c->json) printf("{\"start\":%llu,\"written\":true}\n", (unsigned long long)start);
    return EXIT_OK;
}

static int do_get(cli *c, char **pos, int npos, const array_opts *o)
{
    if (npos != 2 && npos != 4)
        return cli_usage_error("array", "'array get' takes REGION/NAME [START COUNT]");
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    uint64_t len = strata_array_length(a), start = 0, count = len;
    if (npos == 4 && (cli_parse_u64(pos[2], &start) != 0 || cli_parse_u64(pos[3], &count) != 0))
        return cli_usage_error("array", "START and COUNT must be non-negative integers");
    strata_dtype dt = strata_array_dtype(a);
    if (o->out != NULL) {
        int st = strata_array_get_npy(a, start, count, o->out);
        return st < 0 ? cli_fail(c, st) : EXIT_OK;
    }
    if (start > len || count > len - start) {
        return cli_report(STRATA_ERANGE, NULL,
                          "cannot get elements [%llu, %llu) of array '%s': its length is %llu",
                          (unsigned long long)start, (unsigned long long)(start + count), pos[1],
                          (unsigned long long)len);
    }
    if (c->json) {
        fputs("{\"array\":", stdout);
        cli_json_str(stdout, pos[1]);
        printf(",\"dtype\":\"%s\",\"start\":%llu,\"values\":[", strata_dtype_name(dt),
               (unsigned long long)start);
    }
    if (dt == STRATA_STR) {
        for (uint64_t i = start; i < start + count; i++) {
            const char *s;
            size_t n;
            int st = strata_array_get_str(a, i, &s, &n);
            if (st < 0) return cli_fail(c, st);
            if (c->json) {
                if (i > start) fputc(',', stdout);
                cli_json_strn(stdout, s, n);
            } else {
                fwrite(s, 1, n, stdout);
                fputc('\n', stdout);
            }
        }
    } else {
        /* Page through the array so that memory stays bounded whatever its size. */
        enum { PAGE = 1 << 16 };
        size_t esz = strata_dtype_size(dt);
        char *buf = malloc(PAGE * esz);
        if (buf == NULL) return cli_report(STRATA_ENOMEM, NULL, "out of memory");
        for (uint64_t done = 0; done < count;) {
            uint64_t k = count - done < PAGE ? count - done : PAGE;
            int st = strata_array_get(a, start + done, k, buf);
            if (st < 0) {
                free(buf);
                return cli_fail(c, st);
            }
            for (uint64_t i = 0; i < k; i++) {
                if (c->json && done + i > 0) fputc(',', stdout);
                cli_print_value(stdout, dt, buf + i * esz, c->json);
                if (!c->json) fputc('\n', stdout);
            }
            done += k;
        }
        free(buf);
    }
    if (c->json) fputs("]}\n", stdout);
    return EXIT_OK;
}

static int do_atomic(cli *c, char **pos, int npos, int cas)
{
    if (npos != (cas ? 5 : 4))
        return cli_usage_error("array", cas ? "'array cas' takes REGION/NAME INDEX EXPECTED DESIRED"
                                            : "'array add' takes REGION/NAME INDEX DELTA");
    uint64_t index;
    if (cli_parse_u64(pos[2], &index) != 0)
        return cli_usage_error("array", "INDEX '%s' is not a non-negative integer", pos[2]);
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    strata_dtype dt = strata_array_dtype(a);
    char v1[8] = {0}, v2[8] = {0}, old[8] = {0}, why[64];
    for (int i = 0; i < (cas ? 2 : 1); i++) {
        if (strata_value_parse(dt, pos[3 + i], i ? v2 : v1, why) != 0) {
            return cli_report(STRATA_EINVAL, NULL, "value '%s' %s", pos[3 + i], why);
        }
    }
    int st = cas ? strata_array_atomic(a, STRATA_ATOMIC_COMPARE_SWAP, index, v2, v1, old)
                 : strata_array_atomic(a, STRATA_ATOMIC_FETCH_ADD, index, v1, NULL, old);
    if (st < 0) return cli_fail(c, st);
    int swapped = !cas || memcmp(old, v1, strata_dtype_size(dt)) == 0;
    if (c->json) {
        fputs("{\"old\":", stdout);
        cli_print_value(stdout, dt, old, 1);
        if (cas) printf(",\"swapped\":%s", swapped ? "true" : "false");
        fputs("}\n", stdout);
    } else {
        cli_print_value(stdout, dt, old, 0);
        fputc('\n', stdout);
    }
    return swapped ? EXIT_OK : EXIT_CONFLICT;
}

static int do_lock(cli *c, char **pos, int npos, const array_opts *o)
{
    if (npos < 3) return cli_usage_error("array", "'array lock' takes REGION/NAME -- COMMAND...");
    int timeout = -1;
    if (o->timeout != NULL) {
        uint64_t t;
        if (cli_parse_u64(o->timeout, &t) != 0 || t > 86400000)
            return cli_usage_error("array", "--timeout takes milliseconds (0 to 86400000)");
        timeout = (int)t;
    }
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    int st = strata_array_lock(a, o->shared ? STRATA_LOCK_SHARED : STRATA_LOCK_EXCLUSIVE, timeout);
    if (st < 0) return cli_fail(c, st);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return cli_report(STRATA_EIO, NULL, "cannot start '%s': %s", pos[2], strerror(errno));
    }
    if (pid == 0) {
        execvp(pos[2], pos + 2);
        fprintf(stderr, "strata: cannot run '%s': %s\n", pos[2], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    strata_array_unlock(a);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int do_backup(cli *c, char **pos, int npos)
{
    if (npos != 3) return cli_usage_error("array", "'array backup' takes REGION/NAME BACKUP");
    strata_array *a;
    int rc = open_array(c, pos[1], &a);
    if (rc != EXIT_OK) return rc;
    int st = strata_array_backup(a, pos[2]);
    if (st < 0) return cli_fail(c, st);
    if (!c->json)
        printf("backed up %s as %s\n", pos[1], pos[2]);
    else {
        fputs("{\"backup\":", stdout);
        cli_json_str(stdout, pos[2]);
        fputs(",\"array\":", stdout);
        cli_json_str(stdout, pos[1]);
        fputs("}\n", stdout);
    }
    return EXIT_OK;
}

static int do_restore(cli *c, char **pos, int npos)
{
    char buf[NAMEBUF];
    const char *region, *name;
    if (npos != 3) return cli_usage_error("array", "'array restore' takes BACKUP REGION/NAME");
    int rc = cli_split("array", pos[2], buf, sizeof buf, &region, &name);
    if (rc != EXIT_OK) return rc;
    if ((rc = cli_open_pool(c)) != EXIT_OK) return rc;
    int st = strata_backup_restore(c->pool, pos[1], region, name);
    if (st < 0) return cli_fail(c, st);
    if (!c->json)
        printf("restored %s from %s\n", pos[2], pos[1]);
    else {
        fputs("{\"backup\":", stdout);
        cli_json_str(stdout, pos[1]);
        fputs(",\"array\":", stdout);
        cli_json_str(stdout, pos[2]);
        fputs(",\"restored\":true}\n", stdout);
    }
    return EXIT_OK;
}

int cmd_array(cli *c, int argc, char **argv)
{
    array_opts o = {0};
    cli_opt opts[] = {{"from", 0, &o.from, NULL},
                      {"out", 'o', &o.out, NULL},
                      {"timeout", 't', &o.timeout, NULL},
                      {"shared", 0, NULL, &o.shared},
                      {"no-checksum", 0, NULL, &o.no_checksum},
                      CLI_OPT_JSON,
                      {0}};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (pos == NULL) return cli_report(STRATA_ENOMEM, NULL, "out of memory");
    int npos;
    /* 'lock' passes everything after "--" to its command untouched. */
    int rc = cli_scan(argc, argv, opts, usage, pos, &npos, 0);
    if (rc == EXIT_OK && npos < 1) rc = cli_usage_error("array", "missing subcommand");
    if (rc == EXIT_OK) {
        const char *sub = pos[0];
        if (strcmp(sub, "create") == 0)
            rc = do_create(c, pos, npos, &o);
        else if (strcmp(sub, "ls") == 0)
            rc = do_ls(c, pos, npos);
        else if (strcmp(sub, "info") == 0)
            rc = do_info(c, pos, npos, &o);
        else if (strcmp(sub, "rm") == 0)
            rc = do_rm(c, pos, npos);
        else if (strcmp(sub, "put") == 0)
            rc = do_put(c, pos, npos, &o);
        else if (strcmp(sub, "get") == 0)
            rc = do_get(c, pos, npos, &o);
        else if (strcmp(sub, "add") == 0)
            rc = do_atomic(c, pos, npos, 0);
        else if (strcmp(sub, "cas") == 0)
            rc = do_atomic(c, pos, npos, 1);
        else if (strcmp(sub, "lock") == 0)
            rc = do_lock(c, pos, npos, &o);
        else if (strcmp(sub, "backup") == 0)
            rc = do_backup(c, pos, npos);
        else if (strcmp(sub, "restore") == 0)
            rc = do_restore(c, pos, npos);
        else
            rc = cli_usage_error("array", "unknown subcommand '%s'", sub);
    }
    free(pos);
    return rc;
}
