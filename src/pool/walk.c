/*
 * walk.c -- the pool's part of a check or gc (walk.h): name sets, reporting, orphans, holding
 * off an object's writers, and the pool's own files (plain arrays and backups).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool/walk.h"
#include "util/fileio.h"
#include "util/npy.h"

int st_nameset_add(st_nameset *s, const char *name)
{
    char **slot = st_vec_push(s);
    if (slot == NULL) return STRATA_ENOMEM;
    if ((*slot = strdup(name)) == NULL) {
        s->n--;
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void st_nameset_sort(st_nameset *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof(char *), cmp_str);
}

int st_nameset_has(const st_nameset *s, const char *name)
{
    return s->n > 0 && bsearch(&name, s->v, s->n, sizeof(char *), cmp_str) != NULL;
}

void st_nameset_free(st_nameset *s)
{
    for (size_t i = 0; i < s->n; i++) free(((char **)s->v)[i]);
    st_vec_free(s);
}

void st_walk_report(st_walk *r, const char *what, const char *path, const char *problem, int orphan)
{
    if (!orphan) r->damaged++;
    if (r->fn != NULL && !r->stop && r->fn(r->ctx, what, path, problem, orphan) != 0) r->stop = 1;
}

/* An entry no catalog row names: report it, and in gc remove it when old enough and when
 * MAY_REMOVE (nobody who could still name it is at work). */
static void orphan(st_walk *r, const char *path, int is_dir, int may_remove)
{
    st_walk_report(r, "orphan", path,
                   is_dir ? "directory not named by the catalog" : "file not named by the catalog",
                   1);
    if (!r->gc || !may_remove) return;
    struct stat st;
    if (lstat(path, &st) != 0) return;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime >= r->orphan_before_ns) return;
    uint64_t bytes = is_dir ? st_tree_bytes(path) : (uint64_t)st.st_size;
    if (!r->dry_run && (is_dir ? st_rm_tree(NULL, path) : st_unlink(NULL, path)) != STRATA_OK)
        return;
    r->stats->orphans_removed++;
    r->stats->bytes_freed += bytes;
}

int st_walk_scan_dir(st_walk *r, const char *dir, const st_nameset *known, int inside)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) return STRATA_OK;
        return st_error_errno(st_pool_err(r->pool), errno, "cannot read directory '%s'", dir);
    }
    struct dirent *de;
    char path[ST_PATH_MAX];
    while ((de = readdir(d)) != NULL && !r->stop) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (st_nameset_has(known, de->d_name)) continue;
        if (st_path(NULL, path, "%s/%s", dir, de->d_name) < 0) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        orphan(r, path, S_ISDIR(st.st_mode), inside || r->outer_held);
    }
    closedir(d);
    return STRATA_OK;
}

int st_walk_hold(st_walk *r, const char *path, const char *obj, int *hold)
{
    *hold = -1;
    int quiet;
    st_cat_lockref at = {path, obj, ST_LOCK_WRITER, 2};
    st_catalog *cat = st_pool_cat(r->pool);
    if (!r->gc || r->dry_run) {
        int rc = st_cat_lock_probe(cat, &at);
        quiet = rc == STRATA_OK || rc == STRATA_ENOTFOUND; /* ENOTFOUND: never written */
    } else {
        *hold = st_cat_lock(NULL, cat, &at, 1, 1, 0, path);
        quiet = *hold >= 0 || *hold == STRATA_ENOTFOUND; /* no directory: nothing to remove */
        if (*hold < 0) *hold = -1;
    }
    if (!quiet && r->stats != NULL) r->stats->busy_skipped++;
    return quiet;
}

/* ---- plain arrays and backups --------------------------------------------------------------- */

typedef struct {
    st_walk *r;
    st_nameset *known;
    int rc;
} arr_ctx;

static int visit_array(void *vctx, const strata_array_info *info)
{
    arr_ctx *c = vctx;
    const char *base = strrchr(info->path, '/');
    if (st_nameset_add(c->known, base ? base + 1 : info->path) < 0) return c->rc = STRATA_ENOMEM;
    if (info->bytes_path) {
        base = strrchr(info->bytes_path, '/');
        if (st_nameset_add(c->known, base ? base + 1 : info->bytes_path) < 0)
            return c->rc = STRATA_ENOMEM;
    }
    if (c->r->gc) return 0;
    char what[2 * STRATA_NAME_MAX + 16], problem[ST_PATH_MAX + ST_ERRMSG_MAX] = "";
    snprintf(what, sizeof what, "array %s/%s", info->region, info->name);
    st_npy_map m;
    st_err e;
    st_err_init(&e);
    strata_dtype stored = info->dtype == STRATA_STR ? STRATA_I64 : info->dtype;
    uint64_t count = info->dtype == STRATA_STR ? info->length + 1 : info->length;
    if (st_npy_map_file(&e, info->path, &m) != STRATA_OK)
        snprintf(problem, sizeof problem, "%s",
                 e.code == STRATA_ENOTFOUND ? "file is missing" : e.msg);
    else if (m.info.dtype != stored || m.info.count != count)
        snprintf(problem, sizeof problem, "does not match the catalog (%llu elements of '%s')",
                 (unsigned long long)m.info.count, m.info.descr);
    st_npy_unmap(&m);
    st_err_destroy(&e);
    if (problem[0]) st_walk_report(c->r, what, info->path, problem, 0);
    return 0;
}

typedef struct {
    st_walk *r;
    st_nameset *known; /* backups/ entries */
    int rc;
} bk_ctx;

static int visit_backup(void *vctx, const st_cat_backup *b)
{
    bk_ctx *c = vctx;
    if (st_nameset_add(c->known, b->file) < 0 ||
        (b->bytes_file[0] && st_nameset_add(c->known, b->bytes_file) < 0))
        return c->rc = STRATA_ENOMEM;
    if (c->r->gc) return 0;
    st_err e;
    st_err_init(&e);
    char what[STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "backup %s", b->name);
    if (st_backup_verify(c->r->pool, b, &e) == STRATA_ECORRUPT)
        st_walk_report(c->r, what, b->file, e.msg, 0);
    st_err_destroy(&e);
    return 0;
}

int st_walk_arrays(st_walk *w, const char *region, st_nameset *known)
{
    arr_ctx ac = {w, known, STRATA_OK};
    int rc = strata_array_list(w->pool, region, visit_array, &ac);
    return rc < 0 ? rc : ac.rc;
}

int st_walk_backups(st_walk *w)
{
    strata_pool *pool = w->pool;
    st_err *err = st_pool_err(pool);
    st_nameset known = ST_NAMESET;
    bk_ctx bc = {w, &known, STRATA_OK};
    char dir[ST_PATH_MAX];
    int rc = st_cat_backup_list(err, st_pool_cat(pool), visit_backup, &bc);
    ST_TRY(rc);
    ST_TRY(rc = bc.rc);
    ST_TRY(rc = st_path(err, dir, "%s/%s", st_pool_path(pool), ST_POOL_BACKUPS));
    st_nameset_sort(&known);
    rc = st_walk_scan_dir(w, dir, &known, 0);
done:
    st_nameset_free(&known);
    return rc;
}
