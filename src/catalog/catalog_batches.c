/*
 * catalog_batches.c -- the batch list of a dataset at a version, and the lists a catalog handle
 * keeps so that reading a dataset again reads only what was published since.
 *
 * Every snapshot and every update reads the batch list of the datasets it touches: one row per
 * batch column. A dataset that grows by a batch per update made that read grow with the dataset
 * (at 500 batches it was most of an incremental update). Batches are immutable, so the list at
 * version V is the list at an earlier version U plus the batches published in (U, V], as long as
 * nothing changed the batches that were there at U. Whatever does -- a retire (refresh,
 * compaction), a column computed for an existing batch, a tier move, garbage collection -- bumps
 * the dataset's "layout" counter in the same transaction (catalog_dataset.c). A handle keeps the
 * lists it read last with the dataset's identity (id and creation time: SQLite may reuse an id),
 * layout and version; a later read of the same dataset at the same layout and a later version
 * reads only the batches newer than the kept list's version. The counter is read before the
 * batches, so a change committed in between is seen at the next read. Nothing is kept while a
 * transaction of the handle is open (what it reads there may be rolled back), and every kept list
 * is bounded (ST_CAT_BLIST_MAX).
 */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"

enum { B_BATCHES = ST_CAT_BATCHES_FIRST, B_SINCE, B_STATE, B_END };
_Static_assert(B_END <= ST_CAT_SLOTS, "too many batch list statements");

#define BATCH_COLUMNS                                                                              \
    "SELECT b.seq, b.first_row, b.nrows, b.version, b.token, b.created_ns, c.position, "           \
    "c.file, c.bytes_file, c.bytes, c.checksum, c.min_i, c.max_i, c.min_f, c.max_f, "              \
    "c.tier_id, c.version, c.valid_file, c.nulls, b.part, b.run, b.sort_keys FROM "                \
    "batch b JOIN batch_column c ON c.batch_id = b.id WHERE b.dataset_id = ?1 AND "                \
    "b.version <= ?2 AND (b.retired IS NULL OR b.retired > ?2) AND c.version <= ?2 "

static const char *const sql[] = {
    /* Live batches at ?2, each column's versions in order (the caller keeps the last). */
    [B_BATCHES - B_BATCHES] = BATCH_COLUMNS "ORDER BY b.seq, c.position, c.version",
    /* The same, of the batches published after version ?3 only. */
    [B_SINCE - B_BATCHES] =
        BATCH_COLUMNS "AND b.version > ?3 ORDER BY b.seq, c.position, c.version",
    [B_STATE - B_BATCHES] = "SELECT created_ns, layout, version FROM dataset WHERE id = ?1",
};

static int prep(st_err *err, st_catalog *cat, int q, st_dbstmt **out)
{
    return st_cat_prepare(err, cat, q, sql[q - B_BATCHES], out);
}

typedef int (*batch_fn)(void *ctx, const st_cat_batch *b, const st_cat_bcol *cols);

/* Step S (bound) to its end: FN for each batch with its NCOLS columns. Returns FN's first
 * non-zero result, an error, or 0. */
static int scan(st_err *err, st_catalog *cat, st_dbstmt *s, int ncols, batch_fn fn, void *ctx)
{
    st_cat_bcol *cols = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *cols);
    if (cols == NULL) {
        st_cat_done(s);
        return st_error(err, STRATA_ENOMEM, "out of memory reading batches");
    }
    /* Rows come batch by batch, columns in order. The statement stays open across callbacks:
     * callbacks must not use the catalog. */
    st_cat_batch b;
    int stop = 0, have = 0, rc;
    while (stop == 0 && (rc = st_db_step(s)) == ST_DB_ROW) {
        int64_t seq = st_db_col_int64(s, 0);
        int pos = st_db_col_int(s, 6);
        if (have && seq != b.seq) {
            stop = fn(ctx, &b, cols);
            have = 0;
            if (stop) break;
        }
        if (!have) {
            b.seq = seq;
            b.first_row = st_db_col_int64(s, 1);
            b.nrows = st_db_col_int64(s, 2);
            b.version = st_db_col_int64(s, 3);
            st_cat_text(b.token, sizeof b.token, s, 4);
            b.created_ns = st_db_col_int64(s, 5);
            b.part = st_db_col_null(s, 19) ? 0 : st_db_col_int64(s, 19);
            b.run = st_db_col_int64(s, 20);
            b.sort_keys = st_db_col_int(s, 21);
            memset(cols, 0, (size_t)ncols * sizeof *cols);
            have = 1;
        }
        if (pos < 0 || pos >= ncols) continue;
        st_cat_bcol *c = &cols[pos];
        st_cat_text(c->file, sizeof c->file, s, 7);
        st_cat_text(c->bytes_file, sizeof c->bytes_file, s, 8);
        c->bytes = (uint64_t)st_db_col_int64(s, 9);
        c->checksum = (uint64_t)st_db_col_int64(s, 10);
        c->has_minmax = 0;
        if (!st_db_col_null(s, 11)) {
            c->has_minmax = 1;
            c->min_i = st_db_col_int64(s, 11);
            c->max_i = st_db_col_int64(s, 12);
        } else if (!st_db_col_null(s, 13)) {
            c->has_minmax = 2;
            c->min_f = st_db_col_double(s, 13);
            c->max_f = st_db_col_double(s, 14);
        }
        c->tier_id = st_db_col_int64(s, 15);
        c->version = st_db_col_int64(s, 16);
        st_cat_text(c->valid_file, sizeof c->valid_file, s, 17);
        c->nulls = (uint64_t)st_db_col_int64(s, 18);
    }
    if (stop == 0 && rc != ST_DB_DONE) stop = st_cat_db_error(err, cat, rc, "read batches");
    if (stop == 0 && have) stop = fn(ctx, &b, cols);
    st_cat_done(s);
    free(cols);
    return stop;
}

/* Arrays of a kept list lent to snapshots: freed by whoever lets go last, the list or one of
 * them (a snapshot may be closed on another thread than the one reading the catalog). */
struct st_cat_bref {
    int refs;
    st_cat_batch *b;
    st_cat_bcol *c;
};

void st_cat_bref_release(st_cat_bref *ref)
{
    if (ref == NULL || __atomic_sub_fetch(&ref->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    free(ref->b);
    free(ref->c);
    free(ref);
}

/* L's arrays, lent or not, let go of: L has none after. */
static void blist_drop_arrays(st_cat_blist *l)
{
    if (l->ref != NULL) {
        st_cat_bref_release(l->ref);
    } else {
        free(l->b);
        free(l->c);
    }
    l->ref = NULL;
    l->b = NULL;
    l->c = NULL;
}

static void blist_reset(st_cat_blist *l)
{
    blist_drop_arrays(l);
    memset(l, 0, sizeof *l);
}

/* L's arrays with room for CAP batches: grown in place, or, while lent, copied into new ones
 * (the lent ones stay as they are for their holders). */
static int blist_grow(st_cat_blist *l, size_t cap)
{
    size_t nc = (size_t)(l->ncols ? l->ncols : 1);
    /* lent before, and every snapshot has let go: the arrays are the list's alone again (only
     * this handle lends, so no one takes a reference meanwhile) */
    if (l->ref != NULL && __atomic_load_n(&l->ref->refs, __ATOMIC_ACQUIRE) == 1) {
        free(l->ref);
        l->ref = NULL;
    }
    if (l->ref == NULL) {
        st_cat_batch *nb = realloc(l->b, cap * sizeof *nb);
        if (nb == NULL) return STRATA_ENOMEM;
        l->b = nb;
        st_cat_bcol *ncl = realloc(l->c, cap * nc * sizeof *ncl);
        if (ncl == NULL) return STRATA_ENOMEM;
        l->c = ncl;
    } else {
        st_cat_batch *nb = malloc(cap * sizeof *nb);
        st_cat_bcol *ncl = malloc(cap * nc * sizeof *ncl);
        if (nb == NULL || ncl == NULL) {
            free(nb);
            free(ncl);
            return STRATA_ENOMEM;
        }
        if (l->n > 0) {
            memcpy(nb, l->b, l->n * sizeof *nb);
            memcpy(ncl, l->c, l->n * nc * sizeof *ncl);
        }
        blist_drop_arrays(l);
        l->b = nb;
        l->c = ncl;
    }
    l->cap = cap;
    return STRATA_OK;
}

void st_cat_blists_free(st_catalog *cat)
{
    for (int i = 0; i < ST_CAT_BLISTS; i++) blist_reset(&cat->blist[i]);
}

/* Call FN for every batch of L, in order. */
static int emit(const st_cat_blist *l, batch_fn fn, void *ctx)
{
    int stop = 0;
    for (size_t i = 0; i < l->n && stop == 0; i++)
        stop = fn(ctx, &l->b[i], &l->c[i * (size_t)l->ncols]);
    return stop;
}

/* Where a scan into a kept list goes: into L while it fits, then (L emptied into FN first) on
 * to FN directly. */
struct keep {
    st_cat_blist *l;
    batch_fn fn;
    void *ctx;
    int spilled; /* L was too large: its batches went to FN, and so do the rest */
};

static int keep_batch(void *vctx, const st_cat_batch *b, const st_cat_bcol *cols)
{
    struct keep *k = vctx;
    st_cat_blist *l = k->l;
    if (k->spilled) return k->fn(k->ctx, b, cols);
    size_t nc = (size_t)l->ncols;
    if ((l->n + 1) * nc > ST_CAT_BLIST_MAX) {
        k->spilled = 1;
        if (k->fn == NULL) return 1; /* only a kept list was wanted */
        int stop = emit(l, k->fn, k->ctx);
        return stop ? stop : k->fn(k->ctx, b, cols);
    }
    if (l->n == l->cap && blist_grow(l, l->cap ? 2 * l->cap : 64) < 0) return STRATA_ENOMEM;
    l->b[l->n] = *b;
    memcpy(&l->c[l->n * nc], cols, nc * sizeof *cols);
    l->n++;
    return 0;
}

/* The dataset's identity, layout and current version; 0 when it is not there. */
static int read_state(st_err *err, st_catalog *cat, int64_t id, int64_t st[3])
{
    st_dbstmt *s = NULL;
    int rc = prep(err, cat, B_STATE, &s);
    if (rc < 0) return rc;
    st_db_bind_int64(s, 1, id);
    rc = st_db_step(s);
    int found = rc == ST_DB_ROW;
    for (int i = 0; found && i < 3; i++) st[i] = st_db_col_int64(s, i);
    rc = found || rc == ST_DB_DONE ? found : st_cat_db_error(err, cat, rc, "read a dataset");
    st_cat_done(s);
    return rc;
}

/* The kept list for ST (dataset ID), or the slot to keep it in (emptied: the free one or the
 * one read longest ago); *HIT says which. */
static st_cat_blist *blist_find(st_catalog *cat, int64_t id, const int64_t st[3], int ncols,
                                int64_t version, int *hit)
{
    st_cat_blist *slot = &cat->blist[0];
    for (int i = 0; i < ST_CAT_BLISTS; i++) {
        st_cat_blist *l = &cat->blist[i];
        if (l->id == id && l->created_ns == st[0] && l->layout == st[1] && l->ncols == ncols &&
            l->version <= version) {
            *hit = 1;
            return l;
        }
        if (l->used < slot->used) slot = l;
    }
    for (int i = 0; i < ST_CAT_BLISTS; i++)
        if (cat->blist[i].id == id) slot = &cat->blist[i]; /* an outdated list of it: replace */
    blist_reset(slot);
    *hit = 0;
    return slot;
}

/* The batches of dataset ID at VERSION: into *KEPT, the handle's kept list made current (its
 * batches not yet given to FN); else (*KEPT NULL) all given to FN, read from the catalog (inside
 * a transaction, an older version, a list too large to keep), or, FN being NULL, none read.
 * FN's first non-zero result, an error, or 0. */
static int batches_kept(st_err *err, st_catalog *cat, int64_t id, int64_t version, int ncols,
                        batch_fn fn, void *ctx, st_cat_blist **kept)
{
    st_dbstmt *s = NULL;
    int64_t st[3] = {0, 0, 0};
    *kept = NULL;
    int rc = st_db_in_tx(cat->db) ? 0 : read_state(err, cat, id, st);
    if (rc < 0) return rc;
    if (rc == 0 || version != st[2]) { /* in a transaction, gone, or an older version: read all */
        if (fn == NULL) return 0;
        if ((rc = prep(err, cat, B_BATCHES, &s)) < 0) return rc;
        st_db_bind_int64(s, 1, id);
        st_db_bind_int64(s, 2, version);
        return scan(err, cat, s, ncols, fn, ctx);
    }
    int hit;
    st_cat_blist *l = blist_find(cat, id, st, ncols, version, &hit);
    if (!hit || l->version < version) {
        if ((rc = prep(err, cat, hit ? B_SINCE : B_BATCHES, &s)) < 0) return rc;
        st_db_bind_int64(s, 1, id);
        st_db_bind_int64(s, 2, version);
        if (hit) st_db_bind_int64(s, 3, l->version);
        l->id = id;
        l->created_ns = st[0];
        l->layout = st[1];
        l->ncols = ncols;
        struct keep k = {l, fn, ctx, 0};
        rc = scan(err, cat, s, ncols, keep_batch, &k);
        if (rc == STRATA_ENOMEM && !k.spilled)
            rc = st_error(err, rc, "out of memory reading batches");
        if (rc != 0 || k.spilled) {
            blist_reset(l); /* a failed or stopped read, or too large a list, is not kept */
            return rc;
        }
        l->version = version;
    }
    l->used = ++cat->tick;
    *kept = l;
    return 0;
}

int st_cat_batches(st_err *err, st_catalog *cat, int64_t id, int64_t version, int ncols,
                   int (*fn)(void *, const st_cat_batch *, const st_cat_bcol *), void *ctx)
{
    st_cat_blist *l;
    int rc = batches_kept(err, cat, id, version, ncols, fn, ctx, &l);
    return rc == 0 && l != NULL ? emit(l, fn, ctx) : rc;
}

int st_cat_batches_shared(st_err *err, st_catalog *cat, int64_t id, int64_t version, int ncols,
                          const st_cat_batch **b, const st_cat_bcol **c, size_t *n,
                          st_cat_bref **ref)
{
    *ref = NULL;
    st_cat_blist *l;
    int rc = batches_kept(err, cat, id, version, ncols, NULL, NULL, &l);
    if (rc < 0) return rc;
    if (l == NULL) return 0; /* not kept (a list too large stopped with 1) */
    if (l->ref == NULL) {
        if ((l->ref = malloc(sizeof *l->ref)) == NULL)
            return st_error(err, STRATA_ENOMEM, "out of memory reading batches");
        *l->ref = (st_cat_bref){1, l->b, l->c};
    }
    __atomic_add_fetch(&l->ref->refs, 1, __ATOMIC_RELAXED);
    *b = l->b;
    *c = l->c;
    *n = l->n;
    *ref = l->ref;
    return 1;
}
