/*
 * pool.c -- create, open and close pools; the pool-wide settings.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "pool/pool_int.h"

st_err *st_pool_err(strata_pool *pool)
{
    return &pool->err;
}

st_catalog *st_pool_cat(strata_pool *pool)
{
    return pool->cat;
}

const char *st_pool_path(const strata_pool *pool)
{
    return pool->path;
}

const char *st_pool_io_strategy(const strata_pool *pool)
{
    return pool->io_strategy;
}

int st_pool_set_io_strategy_text(strata_pool *pool, const char *spec)
{
    if (spec == NULL) spec = "";
    if (strlen(spec) >= sizeof pool->io_strategy)
        return st_error(&pool->err, STRATA_EINVAL, "I/O strategy '%.40s...' is too long", spec);
    snprintf(pool->io_strategy, sizeof pool->io_strategy, "%s", spec);
    return STRATA_OK;
}

int st_pool_interrupted(strata_pool *pool)
{
    return pool->interrupt != NULL && pool->interrupt(pool->interrupt_ctx) != 0;
}

st_fmaps *st_pool_fmaps(strata_pool *pool)
{
    return pool->maps;
}

int st_pool_threads(const strata_pool *pool)
{
#ifdef _OPENMP
    return pool->nthreads > 0 ? pool->nthreads : omp_get_max_threads();
#else
    (void)pool;
    return 1;
#endif
}

int st_region_dir(strata_pool *pool, const char *rdir, char out[ST_PATH_MAX])
{
    return st_path(&pool->err, out, "%s/%s/%s", pool->path, ST_POOL_DATA, rdir);
}

int st_tier_root(st_err *err, const char *pool_path, const st_cat_tier *t, char out[ST_PATH_MAX])
{
    if (t->path[0] == '\0') return st_path(err, out, "%s/%s", pool_path, ST_POOL_DATA);
    return st_path(err, out, "%s", t->path);
}

static int pool_alloc(st_err *err, const char *path, strata_pool **out)
{
    strata_pool *p = calloc(1, sizeof *p);
    if (p == NULL || (p->path = strdup(path)) == NULL) {
        free(p);
        return st_error(err, STRATA_ENOMEM, "out of memory opening pool '%s'", path);
    }
    st_err_init(&p->err);
    p->maps = st_fmaps_new(); /* NULL: reads go without */
    *out = p;
    return STRATA_OK;
}

/* Is DIR absent or an empty directory? */
static int dir_is_free(st_err *err, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) return STRATA_OK;
        return st_error_errno(err, errno, "cannot examine '%s'", dir);
    }
    if (!S_ISDIR(st.st_mode))
        return st_error(err, STRATA_EEXIST, "'%s' exists and is not a directory", dir);
    char marker[ST_PATH_MAX];
    if (st_path(err, marker, "%s/%s", dir, ST_POOL_MARKER) < 0) return err->code;
    if (access(marker, F_OK) == 0)
        return st_error(err, STRATA_EEXIST, "'%s' is already a strata pool", dir);
    DIR *d = opendir(dir);
    if (d == NULL) return st_error_errno(err, errno, "cannot read directory '%s'", dir);
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) empty = 0;
    closedir(d);
    if (!empty)
        return st_error(err, STRATA_EEXIST,
                        "'%s' is not empty; a pool must be created in a new or empty directory",
                        dir);
    return STRATA_OK;
}

/* The marker file: "strata pool", the format, and for a catalog on PostgreSQL its connection
 * string and schema (format 2: a strata that predates it refuses the pool rather than look for
 * catalog.db). */
enum { MARKER_MAX = 4096 };

static int write_marker(st_err *err, const char *dir, const st_cat_loc *w)
{
    st_wfile w_;
    char text[MARKER_MAX];
    int n = w->pg ? snprintf(text, sizeof text,
                             "strata pool\nformat 2\ncatalog postgresql\nconninfo %s\nschema %s\n",
                             w->conninfo, w->schema)
                  : snprintf(text, sizeof text, "strata pool\nformat 1\n");
    if (n < 0 || (size_t)n >= sizeof text)
        return st_error(err, STRATA_EINVAL, "the catalog's connection string is too long");
    int rc = st_wfile_open(err, &w_, dir);
    if (rc < 0) return rc;
    rc = st_pwrite_full(err, w_.fd, text, (size_t)n, 0, w_.tmp);
    if (rc < 0) {
        st_wfile_abort(&w_);
        return rc;
    }
    return st_wfile_publish(err, &w_, dir, ST_POOL_MARKER);
}

/* Whether SCHEMA can name a pool's schema: lowercase letters, digits and _, not starting with a
 * digit, at most ST_CAT_SCHEMA - 1 characters. */
static int schema_check(st_err *err, const char *schema)
{
    for (const char *c = schema; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return st_error(err, STRATA_ENAME,
                            "schema '%s': use lowercase letters, digits and _ only", schema);
    if (schema[0] == '\0' || strlen(schema) >= ST_CAT_SCHEMA ||
        (schema[0] >= '0' && schema[0] <= '9'))
        return st_error(err, STRATA_ENAME,
                        "schema '%s': 1 to %d characters, not starting with a digit", schema,
                        ST_CAT_SCHEMA - 1);
    return STRATA_OK;
}

/* The value of line "KEY value" of marker TEXT into OUT (LEN): 1 if found. */
static int marker_line(const char *text, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, key, k) != 0 || l[k] != ' ') continue;
        const char *v = l + k + 1, *e = strchr(v, '\n');
        size_t n = e ? (size_t)(e - v) : strlen(v);
        if (n >= len) return 0;
        memcpy(out, v, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

/* Check the marker of the pool at DIR and find its catalog (W): STRATA_ENOTFOUND if DIR is not
 * a pool, STRATA_EUNSUPPORTED if its format is newer than ours. */
static int read_marker(st_err *err, const char *dir, st_cat_loc *w)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return st_error(err, STRATA_ENOTFOUND,
                            "pool '%s' not found; create it with 'strata init %s'", dir, dir);
        return st_error_errno(err, errno, "cannot open pool '%s'", dir);
    }
    if (!S_ISDIR(st.st_mode))
        return st_error(err, STRATA_ENOTFOUND, "'%s' is not a strata pool (not a directory)", dir);
    char path[ST_PATH_MAX];
    if (st_path(err, path, "%s/%s", dir, ST_POOL_MARKER) < 0) return err->code;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return st_error(err, STRATA_ENOTFOUND,
                            "'%s' is not a strata pool (it has no %s file); create one with "
                            "'strata init'",
                            dir, ST_POOL_MARKER);
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    char text[MARKER_MAX] = {0};
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0) return st_error_errno(err, errno, "cannot read '%s'", path);
    return st_pool_marker_parse(err, dir, path, text, (size_t)n, w);
}

int st_pool_marker_parse(st_err *err, const char *dir, const char *path, const char *text, size_t n,
                         st_cat_loc *w)
{
    int format = 0;
    memset(w, 0, sizeof *w);
    if (n == 0 || memchr(text, '\0', n) != NULL ||
        sscanf(text, "strata pool\nformat %d", &format) != 1 || format < 1)
        return st_error(err, STRATA_ECORRUPT, "'%s' is damaged: '%s' is not a pool marker", dir,
                        path);
    if (format > STRATA_POOL_FORMAT)
        return st_error(err, STRATA_EUNSUPPORTED,
                        "pool '%s' has format %d, newer than this strata supports (%d); upgrade "
                        "strata",
                        dir, format, STRATA_POOL_FORMAT);
    char kind[32];
    if (!marker_line(text, "catalog", kind, sizeof kind)) /* SQLite, in the pool */
        return st_path(err, w->path, "%s/%s", dir, ST_POOL_CATALOG);
    w->pg = 1;
    if (strcmp(kind, "postgresql") != 0 ||
        !marker_line(text, "conninfo", w->conninfo, sizeof w->conninfo) || w->conninfo[0] == '\0' ||
        !marker_line(text, "schema", w->schema, sizeof w->schema) ||
        schema_check(NULL, w->schema) < 0)
        return st_error(err, STRATA_ECORRUPT,
                        "'%s' is damaged: its catalog lines are not 'catalog postgresql', "
                        "'conninfo ...' and 'schema ...'",
                        path);
    return STRATA_OK;
}

/* The schema of a new pool at PATH: "strata_", its directory's name (letters, digits and _
 * only, lowercased, at most 32), "_", a random token. */
static void default_schema(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base != NULL && base[1] != '\0' ? base + 1 : path;
    char name[33];
    size_t k = 0;
    for (const char *c = base; *c && k < sizeof name - 1; c++)
        if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))
            name[k++] = *c;
        else if (*c >= 'A' && *c <= 'Z')
            name[k++] = (char)(*c - 'A' + 'a');
        else if (k > 0 && name[k - 1] != '_')
            name[k++] = '_';
    name[k] = '\0';
    char token[ST_TOKEN_LEN + 1];
    st_random_token(token);
    for (char *t = token; *t; t++)
        if (*t >= 'A' && *t <= 'Z') *t = (char)(*t - 'A' + 'a');
    snprintf(out, len, "strata_%s_%.8s", name, token);
}

/* Where the catalog of a new pool at PATH goes, per OPTS. */
static int catalog_where(st_err *err, const char *path, const strata_pool_opts *opts, st_cat_loc *w)
{
    memset(w, 0, sizeof *w);
    const char *ci = opts != NULL ? opts->catalog : NULL;
    if (ci == NULL || ci[0] == '\0') ci = getenv("STRATA_CATALOG");
    if (ci == NULL || ci[0] == '\0' || strcmp(ci, "sqlite") == 0)
        return st_path(err, w->path, "%s/%s", path, ST_POOL_CATALOG);
    w->pg = 1;
    w->connect_timeout_s = opts != NULL ? opts->connect_timeout_s : 0;
    if (strlen(ci) >= sizeof w->conninfo || strchr(ci, '\n') != NULL)
        return st_error(err, STRATA_EINVAL,
                        "the catalog's connection string is too long or holds a line break");
    snprintf(w->conninfo, sizeof w->conninfo, "%s", ci);
    const char *schema = opts != NULL ? opts->schema : NULL;
    if (schema == NULL || schema[0] == '\0') {
        default_schema(path, w->schema, sizeof w->schema);
        return STRATA_OK;
    }
    int rc = schema_check(err, schema);
    if (rc == STRATA_OK) snprintf(w->schema, sizeof w->schema, "%s", schema);
    return rc;
}

int strata_pool_create_with(const char *path, const strata_pool_opts *opts, strata_pool **out,
                            char *errbuf, size_t errlen)
{
    st_err err;
    st_err_init(&err);
    strata_pool *p = NULL;
    char sub[ST_PATH_MAX];
    st_cat_loc w;
    int rc = STRATA_OK, made = 0;
    if (out == NULL || path == NULL || path[0] == '\0') {
        rc = st_error(&err, STRATA_EINVAL, "pool path is missing");
        goto done;
    }
    *out = NULL;
    ST_TRY(rc = dir_is_free(&err, path));
    ST_TRY(rc = catalog_where(&err, path, opts, &w));
    ST_TRY(rc = st_mkdir(&err, path, 1));
    made = 1;
    /* The marker comes last: a crash part-way leaves a directory that is not yet a pool. */
    ST_TRY(rc = st_path(&err, sub, "%s/%s", path, ST_POOL_DATA));
    ST_TRY(rc = st_mkdir(&err, sub, 0));
    ST_TRY(rc = st_path(&err, sub, "%s/%s", path, ST_POOL_BACKUPS));
    ST_TRY(rc = st_mkdir(&err, sub, 0));
    ST_TRY(rc = pool_alloc(&err, path, &p));
    ST_TRY(rc = st_cat_create(&err, &w, &p->cat));
    ST_TRY(rc = write_marker(&err, path, &w));
    ST_TRY(rc = st_fsync_dir(&err, path));
    *out = p;
    p = NULL;
done:
    strata_pool_close(p);
    if (rc < 0 && made && w.pg) { /* nothing created: the directories go again */
        char d[ST_PATH_MAX];
        if (st_path(NULL, d, "%s/%s", path, ST_POOL_DATA) == STRATA_OK) rmdir(d);
        if (st_path(NULL, d, "%s/%s", path, ST_POOL_BACKUPS) == STRATA_OK) rmdir(d);
    }
    if (rc < 0) st_err_copy(&err, errbuf, errlen);
    st_err_destroy(&err);
    return rc;
}

int strata_pool_create_err(const char *path, strata_pool **out, char *errbuf, size_t errlen)
{
    return strata_pool_create_with(path, NULL, out, errbuf, errlen);
}

int strata_pool_open_err(const char *path, strata_pool **out, char *errbuf, size_t errlen)
{
    st_err err;
    st_err_init(&err);
    strata_pool *p = NULL;
    st_cat_loc w;
    int rc = STRATA_OK;
    if (out == NULL || path == NULL || path[0] == '\0') {
        rc = st_error(&err, STRATA_EINVAL, "pool path is missing");
        goto done;
    }
    *out = NULL;
    ST_TRY(rc = read_marker(&err, path, &w));
    ST_TRY(rc = pool_alloc(&err, path, &p));
    ST_TRY(rc = st_cat_open_lazy(&err, &w, &p->cat));
    *out = p;
    p = NULL;
done:
    strata_pool_close(p);
    if (rc < 0) st_err_copy(&err, errbuf, errlen);
    st_err_destroy(&err);
    return rc;
}

/* STRATA_ELOCKED when another process has the catalog at W open (CAT: ours, or NULL). */
static int refuse_others(st_err *err, const char *path, const st_cat_loc *w, st_catalog *cat)
{
    int others = 0;
    int rc = st_cat_others(err, w, cat, &others);
    if (rc < 0 || others == 0) return rc;
    return st_error(err, STRATA_ELOCKED,
                    "pool '%s' is open in %d other process(es) (writers, readers, a server): "
                    "close them first; nothing was moved",
                    path, others);
}

/* The catalog at W made no more: SQLite's file renamed PATH/catalog.db.moved (its WAL and index
 * removed), a PostgreSQL schema left as it is. */
static void retire_catalog(const char *path, const st_cat_loc *w)
{
    if (w->pg) return;
    char to[ST_PATH_MAX], f[ST_PATH_MAX];
    if (st_path(NULL, to, "%s/%s.moved", path, ST_POOL_CATALOG) == STRATA_OK) rename(w->path, to);
    if (st_path(NULL, f, "%s-wal", w->path) == STRATA_OK) unlink(f);
    if (st_path(NULL, f, "%s-shm", w->path) == STRATA_OK) unlink(f);
    st_cat_ndm_remove_all(w);
}

int strata_pool_move_catalog(const char *path, const strata_pool_opts *to, char *errbuf,
                             size_t errlen)
{
    st_err err;
    st_err_init(&err);
    st_cat_loc from, dest;
    st_catalog *src = NULL, *dst = NULL;
    int rc = STRATA_OK, made = 0;
    if (path == NULL || to == NULL || to->catalog == NULL || to->catalog[0] == '\0') {
        rc = st_error(&err, STRATA_EINVAL, "where the catalog goes is missing");
        goto done;
    }
    ST_TRY(rc = read_marker(&err, path, &from));
    ST_TRY(rc = catalog_where(&err, path, to, &dest));
    if (!from.pg && !dest.pg) {
        rc = st_error(&err, STRATA_EINVAL, "pool '%s' already has its catalog in SQLite", path);
        goto done;
    }
    if (!dest.pg && access(dest.path, F_OK) == 0) {
        rc = st_error(&err, STRATA_EEXIST,
                      "'%s' exists (a catalog moved away earlier?): rename or remove it first",
                      dest.path);
        goto done;
    }
    ST_TRY(rc = refuse_others(&err, path, &from, NULL));
    ST_TRY(rc = st_cat_open(&err, &from, &src));
    ST_TRY(rc = refuse_others(&err, path, &from, src));
    ST_TRY(rc = st_cat_create(&err, &dest, &dst));
    made = 1;
    ST_TRY(rc = st_cat_copy(&err, src, dst));
    ST_TRY(rc = refuse_others(&err, path, &from, src)); /* one came meanwhile: undo */
    ST_TRY(rc = write_marker(&err, path, &dest));
    ST_TRY(rc = st_fsync_dir(&err, path));
    made = 0;
    st_cat_close(src);
    src = NULL;
    retire_catalog(path, &from);
done:
    st_cat_close(src);
    if (made) /* nothing moved: the new catalog goes again */
        st_cat_discard(dst);
    else
        st_cat_close(dst);
    if (rc < 0) st_err_copy(&err, errbuf, errlen);
    st_err_destroy(&err);
    return rc;
}

int strata_pool_catalog(strata_pool *pool, char *buf, size_t len)
{
    if (pool == NULL || buf == NULL || len == 0) return STRATA_EINVAL;
    const st_cat_loc *w = st_cat_loc_of(pool->cat);
    int n = w->pg ? snprintf(buf, len, "postgresql %s schema %s", w->conninfo, w->schema)
                  : snprintf(buf, len, "sqlite %s", w->path);
    return n >= 0 && (size_t)n < len ? STRATA_OK : STRATA_ERANGE;
}

int strata_pool_create(const char *path, strata_pool **out)
{
    return strata_pool_create_err(path, out, NULL, 0);
}

int strata_pool_open(const char *path, strata_pool **out)
{
    return strata_pool_open_err(path, out, NULL, 0);
}

void strata_pool_close(strata_pool *pool)
{
    if (pool == NULL) return;
    while (pool->live != NULL) strata_array_close(pool->live);
    for (strata_array *a = pool->closed, *next; a != NULL; a = next) {
        next = a->next;
        free(a);
    }
    st_cat_close(pool->cat);
    st_fmaps_free(pool->maps);
    st_err_destroy(&pool->err);
    free(pool->path);
    free(pool);
}

const char *strata_pool_path(strata_pool *pool)
{
    return pool != NULL ? pool->path : NULL;
}

const char *strata_errmsg(strata_pool *pool)
{
    if (pool == NULL) return "no pool handle (the pool could not be opened)";
    return pool->err.msg;
}

int strata_errcode(strata_pool *pool)
{
    return pool != NULL ? pool->err.code : STRATA_EINVAL;
}

const char *strata_errwhere(strata_pool *pool)
{
    return pool != NULL ? st_err_where(&pool->err) : "";
}

int strata_pool_set_threads(strata_pool *pool, int nthreads)
{
    if (pool == NULL) return STRATA_EINVAL;
    if (nthreads < 0)
        return st_error(&pool->err, STRATA_EINVAL, "thread count %d is negative", nthreads);
    pool->nthreads = nthreads;
    return STRATA_OK;
}

int strata_pool_set_busy_timeout(strata_pool *pool, int ms)
{
    if (pool == NULL) return STRATA_EINVAL;
    if (ms < 0) return st_error(&pool->err, STRATA_EINVAL, "busy timeout %d ms is negative", ms);
    st_cat_set_busy_timeout(pool->cat, ms);
    return STRATA_OK;
}

int st_pool_create_begin(strata_pool *pool)
{
    char path[ST_PATH_MAX];
    int rc = st_path(&pool->err, path, "%s/%s", pool->path, ST_POOL_GCLOCK);
    if (rc < 0) return rc;
    st_cat_lockref at = {path, "pool", 0, 0};
    rc = st_cat_lock(&pool->err, pool->cat, &at, 1, 0, ST_CREATE_WAIT_MS, "the pool's gc lock");
    if (rc == STRATA_ELOCKED)
        st_error(&pool->err, rc,
                 "pool '%s' is being garbage-collected (waited %d s for 'strata gc' to finish); "
                 "try again",
                 pool->path, ST_CREATE_WAIT_MS / 1000);
    return rc;
}

void st_pool_create_end(strata_pool *pool, int hold)
{
    st_cat_unlock(pool->cat, hold);
}

int strata_pool_set_work_fn(strata_pool *pool, strata_work_fn fn, void *ctx)
{
    if (pool == NULL) return STRATA_EINVAL;
    pool->work = fn;
    pool->work_ctx = ctx;
    return STRATA_OK;
}

int st_pool_has_work_fn(const strata_pool *pool)
{
    return pool != NULL && pool->work != NULL;
}

void st_pool_work(strata_pool *pool, const char *unit, uint64_t done, uint64_t total,
                  const char *fmt, ...)
{
    if (pool == NULL || pool->work == NULL) return;
    char what[2 * STRATA_NAME_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    strata_work w = {what, unit, done, total};
    pool->work(pool->work_ctx, &w);
}

int strata_pool_set_interrupt(strata_pool *pool, strata_interrupt_fn fn, void *ctx)
{
    if (pool == NULL) return STRATA_EINVAL;
    pool->interrupt = fn;
    pool->interrupt_ctx = ctx;
    return STRATA_OK;
}

void st_pool_mark_deleted(strata_pool *pool, int64_t id)
{
    for (strata_array *a = pool->live; a != NULL; a = a->next)
        if (a->id == id) atomic_store(&a->deleted, 1);
}

int st_pool_check(strata_pool *pool)
{
    return pool == NULL || pool->cat == NULL ? STRATA_EINVAL : STRATA_OK;
}
