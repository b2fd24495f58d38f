/*
 * walk.h -- what every layer's part of a check or gc reports to.
 *
 * strata_check() and strata_gc() (src/check) walk the pool and ask each layer in turn for the
 * files it owns: the pool for plain arrays and backups (below), the store for datasets and the
 * trash, the ndarray layer for N-d arrays. Each layer verifies its own files and adds the names
 * it knows to a name set; whatever a directory holds beyond the known names is an orphan, which
 * check reports and gc removes once older than the grace period. The pool's part lives here
 * because every layer above may use it.
 */
#ifndef STRATA_POOL_WALK_H
#define STRATA_POOL_WALK_H

#include "pool/pool.h"
#include "util/vec.h"

/* A sorted set of names, for "is this file known?": strdup'ed strings. */
typedef st_vec st_nameset;
#define ST_NAMESET ST_VEC(char *)

int st_nameset_add(st_nameset *s, const char *name); /* STRATA_ENOMEM or STRATA_OK */
void st_nameset_sort(st_nameset *s);                 /* before st_nameset_has() */
int st_nameset_has(const st_nameset *s, const char *name);
void st_nameset_free(st_nameset *s);

/* One check or gc run. */
typedef struct st_walk {
    strata_pool *pool;
    strata_problem_fn fn;
    void *ctx;
    uint64_t damaged;
    int stop; /* the callback asked to stop */
    /* gc: remove orphans older than this (ns since the epoch); 0: do not remove */
    int gc;
    int64_t orphan_before_ns;
    /* gc holds the pool's gc lock: no creator is between its first file and its catalog row,
     * so orphans outside objects' directories may be removed too */
    int outer_held;
    int dry_run;
    strata_gc_stats *stats;
} st_walk;

/* A problem with WHAT at PATH (ORPHAN: an unnamed file; else damage, counted). */
void st_walk_report(st_walk *w, const char *what, const char *path, const char *problem,
                    int orphan);

/* Every entry of DIR not in KNOWN (sorted) is an orphan: reported, and in gc removed when old
 * enough and when INSIDE (DIR is an object's directory whose writers the caller holds off) or
 * the pool's gc lock is held. A missing DIR has no orphans. */
int st_walk_scan_dir(st_walk *w, const char *dir, const st_nameset *known, int inside);

/* Hold off the writers of object OBJ ("dataset 12", "nd 3"), whose writer lock file is LOCKPATH,
 * while its orphans are looked for. gc takes both writer bytes exclusively without waiting
 * (*HOLD, which the caller releases with st_cat_unlock); check and a dry run only probe them.
 * 1: the object is quiet (no writer, no file in flight; a writer starting now waits for *HOLD);
 * 0: busy, its orphans are left for the next run. */
int st_walk_hold(st_walk *w, const char *lockpath, const char *obj, int *hold);

/* The pool's own files: the plain arrays of region REGION (verified unless gc; their file names
 * added to KNOWN, the entries of the region directory) and the backups (verified unless gc;
 * orphans in POOL/backups found). */
int st_walk_arrays(st_walk *w, const char *region, st_nameset *known);
int st_walk_backups(st_walk *w);

#endif /* STRATA_POOL_WALK_H */
