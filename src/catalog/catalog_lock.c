/*
 * catalog_lock.c -- the locks between the processes (and nodes) that share a pool.
 *
 * Writers of one dataset or N-d array, readers' holds on a dataset and the pool's gc lock are
 * locks on a file in the object's directory (the bytes of st_cat_lockref). With an SQLite
 * catalog they are OFD locks on that file: right for one machine, where the pool's file system
 * is local. With PostgreSQL the pool may sit on a network file system whose locks cannot be
 * trusted (NFS without lockd, Lustre and GPFS mounted without them), so the locks are the
 * server's session advisory locks instead, taken on the catalog's own connection: one per byte,
 * keyed by the pool's schema, the object, the file's name and the byte, so pools sharing a
 * database never meet. The server releases them when the session ends: when the process exits
 * or dies, or, for a node that vanished, when TCP keepalives give up on its connection (about a
 * minute; session() in db_pg.c).
 *
 * Advisory locks are re-entrant within one session, and one catalog handle is one session: the
 * holds of this handle are kept here, so that two holds of one handle conflict as two OFD locks
 * on two open files do. A connection the server dropped is made again between transactions,
 * without its locks: a hold taken on an earlier session is no longer live (st_cat_lock_live),
 * which a publish checks inside its transaction. Waiting is a poll with growing sleeps, as for
 * OFD locks: the connection is never blocked, and no signal or thread is involved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"

enum { L_TRY, L_TRY_SHARED, L_UNLOCK, L_UNLOCK_SHARED };

static const char *const lock_sql[] = {
    [L_TRY] = "SELECT CASE WHEN pg_try_advisory_lock(?1) THEN 1 ELSE 0 END",
    [L_TRY_SHARED] = "SELECT CASE WHEN pg_try_advisory_lock_shared(?1) THEN 1 ELSE 0 END",
    [L_UNLOCK] = "SELECT pg_advisory_unlock(?1)",
    [L_UNLOCK_SHARED] = "SELECT pg_advisory_unlock_shared(?1)",
};

/* The advisory keys of AT: one per byte of [start, start+len), or one for the whole file. */
static void lock_keys(const st_catalog *cat, const st_cat_lockref *at, st_cat_hold *h)
{
    const char *file = strrchr(at->path, '/');
    file = file != NULL ? file + 1 : at->path;
    uint64_t seed = XXH64(cat->loc.schema, strlen(cat->loc.schema), 0);
    uint64_t n = at->len == 0 ? 1 : at->len;
    h->nkeys = n > ST_CAT_HOLD_KEYS ? ST_CAT_HOLD_KEYS : (int)n;
    for (int i = 0; i < h->nkeys; i++) {
        char key[2 * STRATA_NAME_MAX + 64];
        int k = at->len == 0 ? snprintf(key, sizeof key, "%s/%s", at->obj, file)
                             : snprintf(key, sizeof key, "%s/%s#%llu", at->obj, file,
                                        (unsigned long long)(at->start + (uint64_t)i));
        h->key[i] = (int64_t)XXH64(key, (size_t)k < sizeof key ? (size_t)k : sizeof key - 1, seed);
    }
}

/* Run lock statement WHICH on KEY; *GOT: its answer (1: taken or released). */
static int lock_stmt(st_err *err, st_catalog *cat, int which, int64_t key, int *got)
{
    st_dbstmt *s;
    int rc = st_cat_prepare(err, cat, ST_CAT_LOCK_FIRST + which, lock_sql[which], &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, key);
    int r = st_db_step(s);
    *got = r == ST_DB_ROW && st_db_col_int(s, 0) == 1;
    st_cat_done(s);
    if (r != ST_DB_ROW) return st_cat_db_error(err, cat, r, "take or release a lock");
    return STRATA_OK;
}

/* Whether a live hold of this handle other than SKIP conflicts with H. */
static int held_here(const st_catalog *cat, const st_cat_hold *h, int exclusive, size_t skip)
{
    const st_cat_hold *o = cat->holds.v;
    int session = st_db_session(cat->db);
    for (size_t i = 0; i < cat->holds.n; i++) {
        if (i == skip || !o[i].used || o[i].session != session) continue;
        if (!exclusive && !o[i].exclusive) continue;
        for (int a = 0; a < o[i].nkeys; a++)
            for (int b = 0; b < h->nkeys; b++)
                if (o[i].key[a] == h->key[b]) return 1;
    }
    return 0;
}

static void release_keys(st_catalog *cat, const st_cat_hold *h, int n)
{
    for (int i = 0; i < n; i++) {
        int got;
        lock_stmt(NULL, cat, h->exclusive ? L_UNLOCK : L_UNLOCK_SHARED, h->key[i], &got);
    }
}

/* Try once to take every key of H: 1 taken, 0 held by another, or an error. */
static int try_hold(st_err *err, st_catalog *cat, st_cat_hold *h)
{
    if (held_here(cat, h, h->exclusive, (size_t)-1)) return 0;
    for (int i = 0; i < h->nkeys; i++) {
        int got = 0;
        int rc = lock_stmt(err, cat, h->exclusive ? L_TRY : L_TRY_SHARED, h->key[i], &got);
        if (rc < 0 || !got) {
            release_keys(cat, h, i);
            return rc < 0 ? rc : 0;
        }
    }
    h->session = st_db_session(cat->db); /* after the statements: a reconnect comes first */
    return 1;
}

static int keep_hold(st_err *err, st_catalog *cat, const st_cat_hold *h)
{
    st_cat_hold *o = cat->holds.v;
    for (size_t i = 0; i < cat->holds.n; i++)
        if (!o[i].used) {
            o[i] = *h;
            return (int)i;
        }
    st_cat_hold *slot = st_vec_push(&cat->holds);
    if (slot == NULL) {
        release_keys(cat, h, h->nkeys);
        return st_error(err, STRATA_ENOMEM, "out of memory taking a lock");
    }
    *slot = *h;
    return (int)(cat->holds.n - 1);
}

int st_cat_lock(st_err *err, st_catalog *cat, const st_cat_lockref *at, int create, int exclusive,
                int timeout_ms, const char *what)
{
    if (!cat->loc.pg)
        return st_lock_path(err, at->path, create, exclusive, at->start, at->len, timeout_ms, what);
    st_cat_hold h = {.exclusive = exclusive, .used = 1};
    lock_keys(cat, at, &h);
    int64_t deadline = st_deadline_ms(timeout_ms);
    long sleep_us = ST_BACKOFF_FIRST_US;
    for (;;) {
        int rc = try_hold(err, cat, &h);
        if (rc < 0) return rc;
        if (rc == 1) return keep_hold(err, cat, &h);
        if (!st_backoff(deadline, &sleep_us))
            return st_error(err, STRATA_ELOCKED, "%s is locked by another holder (waited %d ms)",
                            what, timeout_ms < 0 ? 0 : timeout_ms);
    }
}

int st_cat_lock_probe(st_catalog *cat, const st_cat_lockref *at)
{
    if (!cat->loc.pg) {
        int fd = open(at->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno == ENOENT ? STRATA_ENOTFOUND : STRATA_EIO;
        int rc = st_lock_probe(NULL, fd, at->start, at->len, at->path);
        close(fd);
        return rc;
    }
    st_cat_hold h = {.exclusive = 1, .used = 1};
    lock_keys(cat, at, &h);
    int rc = try_hold(NULL, cat, &h);
    if (rc < 0) return rc;
    if (rc == 0) return STRATA_ELOCKED;
    release_keys(cat, &h, h.nkeys);
    return STRATA_OK;
}

void st_cat_unlock(st_catalog *cat, int hold)
{
    if (hold < 0) return;
    if (!cat->loc.pg) {
        close(hold); /* releases the OFD lock */
        return;
    }
    if ((size_t)hold >= cat->holds.n) return;
    st_cat_hold *h = &((st_cat_hold *)cat->holds.v)[hold];
    /* on a session that is gone the server released it already (and the same keys may be
     * held again, re-entrantly, on the new one) */
    if (h->used && h->session == st_db_session(cat->db)) release_keys(cat, h, h->nkeys);
    h->used = 0;
}

int st_cat_lock_live(const st_catalog *cat, int hold)
{
    if (!cat->loc.pg) return hold >= 0;
    if (hold < 0 || (size_t)hold >= cat->holds.n) return 0;
    const st_cat_hold *h = &((const st_cat_hold *)cat->holds.v)[hold];
    return h->used && h->session == st_db_session(cat->db);
}
