/*
 * spread.c -- an update spread over processes (an MPI communicator, seen as util/comm.h).
 *
 * Every process runs the same walk over the same objects (the root's graph, broadcast) and, for
 * each dataset, the same job: the root holds the dataset's writer lock and reads the marks and
 * batches under it; the others read the batches of the version the root read. Each object then
 * runs everywhere over the same working view, and the work is split by batch: an order-preserving
 * index gives each process a contiguous block of the new source batches, a derived column a
 * contiguous block of the batches it must compute; each process writes and fsyncs its own files
 * into the dataset's directory. A global top-k is split too: each process takes the top k of its
 * block and the root merges them in batch order, as one process would (order.c); a group-by sends
 * each batch's groups to the process their key hashes to, which folds them in batch order, and
 * the root unites the disjoint results (update.c). A full sort from scratch is a distributed sort
 * (each sorts its block, cuts agreed, one exchange, each writes its key range); an incremental sort
 * gives each process a share of the partitions to write deltas into or compact. What is not split
 * (a sort from scratch under a --mem too small for a share) the root computes alone. After each
 * object, st_upd_sync sends every process's changes to the
 * working view to all of them and applies them in rank order, so every process continues from
 * the view one process would have had, and the root publishes it in one transaction. Any failure
 * on any process fails the object everywhere at that sync; nothing is published, and every
 * process removes the files it wrote.
 *
 * The sync message of one process: a head, its error message, the indexes of the batches it
 * retired, the cells it placed into batches that existed when the object began, and its new
 * batches (each a batch record, its retired flag and a column record per column). The records
 * are sent as they are in memory: every process runs the same binary.
 */
#include <stdlib.h>
#include <string.h>

#include "derive/update_int.h"
#include "util/fileio.h"

int st_upd_mine(const st_upd_job *j, uint64_t i, uint64_t n)
{
    if (!st_comm_many(j->comm)) return 1;
    /* block R holds items [R n / size, (R + 1) n / size); items are batches, far fewer than
     * 2^64 / size */
    uint64_t r = (uint64_t)j->comm->rank, size = (uint64_t)j->comm->size;
    return i >= r * n / size && i < (r + 1) * n / size;
}

int st_upd_obj_begin(st_upd_job *j)
{
    if (!st_comm_many(j->comm)) return STRATA_OK;
    j->n0 = j->wb.n;
    j->nfills0 = j->fills.n;
    j->placed.n = 0;
    j->began = 0;
    free(j->retired0);
    j->retired0 = malloc(j->wb.n + 1);
    if (j->retired0 == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    for (size_t i = 0; i < j->wb.n; i++) j->retired0[i] = (uint8_t)ST_UPD_WB(j, i).retired;
    return STRATA_OK;
}

typedef struct sync_head {
    int32_t rc, changed, retire_all, carry_to;
    uint64_t errlen, nretired, nplaced, nnew, rows;
} sync_head;

#define ALIGN8(n) (((n) + 7) & ~(uint64_t)7)

/* This process's message into *OUT (malloc'd), *LEN bytes. */
static int sync_encode(st_upd_job *j, int rc, void **out, uint64_t *len)
{
    size_t ncols = (size_t)j->sch.ncols;
    char msg[ST_ERRMSG_MAX] = "";
    if (rc < 0) st_err_copy(j->err, msg, sizeof msg);
    sync_head h = {.rc = rc < 0 ? rc : 0,
                   .changed = j->changed,
                   .retire_all = j->retire_all,
                   .carry_to = j->carry_to,
                   .rows = j->ev.rows,
                   .errlen = rc < 0 ? strlen(msg) + 1 : 0};
    for (size_t i = 0; i < j->n0 && rc >= 0; i++)
        h.nretired += ST_UPD_WB(j, i).retired && !j->retired0[i];
    if (rc >= 0) {
        h.nplaced = j->placed.n;
        h.nnew = j->wb.n - j->n0;
    }
    uint64_t per_new = sizeof(st_cat_batch) + 8 + ncols * sizeof(st_cat_bcol);
    uint64_t n = sizeof h + ALIGN8(h.errlen) + h.nretired * 8 + h.nplaced * sizeof(st_upd_placed) +
                 h.nnew * per_new;
    char *p = malloc(n), *q = p;
    if (p == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    memcpy(q, &h, sizeof h);
    q += sizeof h;
    memset(q, 0, ALIGN8(h.errlen));
    memcpy(q, msg, h.errlen);
    q += ALIGN8(h.errlen);
    for (size_t i = 0; i < j->n0 && h.nretired > 0; i++)
        if (ST_UPD_WB(j, i).retired && !j->retired0[i]) {
            uint64_t bi = i;
            memcpy(q, &bi, 8);
            q += 8;
        }
    if (h.nplaced > 0) memcpy(q, j->placed.v, h.nplaced * sizeof(st_upd_placed));
    q += h.nplaced * sizeof(st_upd_placed);
    for (size_t i = j->n0; i < j->n0 + h.nnew; i++) {
        const st_upd_wbatch *w = &ST_UPD_WB(j, i);
        int64_t retired = w->retired;
        memcpy(q, &w->b, sizeof w->b);
        memcpy(q + sizeof w->b, &retired, 8);
        memcpy(q + sizeof w->b + 8, w->cols, ncols * sizeof *w->cols);
        q += per_new;
    }
    *out = p;
    *len = n;
    return STRATA_OK;
}

/* Forget this process's own changes since the object began: they come back, in rank order, with
 * everyone's. Its files stay in J->files, to be removed if the publish fails. */
static void sync_rewind(st_upd_job *j)
{
    for (size_t i = j->n0; i < j->wb.n; i++) free(ST_UPD_WB(j, i).cols);
    j->wb.n = j->n0;
    j->fills.n = j->nfills0;
}

/* Apply one process's message P (LEN bytes, checked against its head). */
static int sync_apply(st_upd_job *j, const char *p, uint64_t len)
{
    size_t ncols = (size_t)j->sch.ncols;
    uint64_t per_new = sizeof(st_cat_batch) + 8 + ncols * sizeof(st_cat_bcol);
    sync_head h;
    memcpy(&h, p, sizeof h);
    p += sizeof h + ALIGN8(h.errlen);
    if (len != sizeof h + ALIGN8(h.errlen) + h.nretired * 8 + h.nplaced * sizeof(st_upd_placed) +
                   h.nnew * per_new)
        return st_error(j->err, STRATA_ECORRUPT,
                        "a process sent an update message of %llu bytes "
                        "that does not match its contents",
                        (unsigned long long)len);
    j->changed |= h.changed;
    j->retire_all |= h.retire_all;
    if (h.carry_to > j->carry_to) j->carry_to = h.carry_to;
    for (uint64_t k = 0; k < h.nretired; k++, p += 8) {
        uint64_t bi;
        memcpy(&bi, p, 8);
        if (bi < j->wb.n) ST_UPD_WB(j, bi).retired = 1;
    }
    for (uint64_t k = 0; k < h.nplaced; k++, p += sizeof(st_upd_placed)) {
        st_upd_placed pl;
        memcpy(&pl, p, sizeof pl);
        if (pl.bi >= j->n0 || pl.pos < 0 || pl.pos >= (int64_t)ncols)
            return st_error(j->err, STRATA_ECORRUPT,
                            "a process placed a column outside the "
                            "working batches");
        st_upd_wbatch *wb = &ST_UPD_WB(j, pl.bi);
        wb->cols[pl.pos] = pl.bc;
        if (!wb->is_new) {
            st_cat_fill *f = st_vec_push(&j->fills);
            if (f == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
            *f = (st_cat_fill){.seq = wb->b.seq, .position = (int)pl.pos, .col = pl.bc};
        }
    }
    for (uint64_t k = 0; k < h.nnew; k++, p += per_new) {
        st_upd_wbatch w;
        int64_t retired;
        memset(&w, 0, sizeof w);
        memcpy(&w.b, p, sizeof w.b);
        memcpy(&retired, p + sizeof w.b, 8);
        w.is_new = 1;
        w.retired = (int)retired;
        w.cols = malloc(ncols * sizeof *w.cols + 1);
        st_upd_wbatch *slot = w.cols != NULL ? st_vec_push(&j->wb) : NULL;
        if (slot == NULL) {
            free(w.cols);
            return st_error(j->err, STRATA_ENOMEM, "out of memory");
        }
        memcpy(w.cols, p + sizeof w.b + 8, ncols * sizeof *w.cols);
        *slot = w;
    }
    return STRATA_OK;
}

int st_upd_sync(st_upd_job *j, int rc)
{
    if (!st_comm_many(j->comm)) return rc;
    const st_comm *c = j->comm;
    void *mine = NULL, *all = NULL;
    uint64_t len = 0, *lens = calloc((size_t)c->size, sizeof *lens);
    if (lens == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    int lrc = sync_encode(j, rc, &mine, &len);
    if (lrc < 0) { /* still take part, sending the failure alone */
        sync_head h = {.rc = lrc};
        mine = malloc(sizeof h);
        if (mine != NULL) memcpy(mine, &h, sizeof h);
        len = mine != NULL ? sizeof h : 0;
    }
    int grc = c->allgather(c->ctx, j->err, mine, len, &all, lens);
    free(mine);
    if (grc < 0) {
        free(lens);
        return grc;
    }
    /* the first failure, in rank order, is everyone's */
    const char *p = all;
    int out = STRATA_OK;
    for (int r = 0; r < c->size && out == STRATA_OK; p += lens[r++]) {
        sync_head h;
        if (lens[r] < sizeof h) {
            out = st_error(j->err, STRATA_EIO,
                           "process %d of the update failed without a "
                           "message",
                           r);
            break;
        }
        memcpy(&h, p, sizeof h);
        if (h.rc < 0)
            out = h.errlen > 0 ? st_error(j->err, h.rc, "%s", p + sizeof h)
                               : st_error(j->err, h.rc, "process %d of the update failed", r);
    }
    uint64_t rows = 0;
    if (out == STRATA_OK) {
        sync_rewind(j);
        p = all;
        for (int r = 0; r < c->size && out == STRATA_OK; p += lens[r++]) {
            out = sync_apply(j, p, lens[r]);
            rows += ((const sync_head *)(const void *)p)->rows;
        }
    }
    free(all);
    free(lens);
    if (out == STRATA_OK && j->began) { /* the object's last event, with everyone's rows */
        j->ev.done = j->ev.total;
        j->ev.rows = rows;
        j->ev.seconds = st_mono_s() - j->t0;
        if (j->o->progress != NULL && j->o->progress(j->o->progress_ctx, &j->ev) != 0)
            out = st_error(j->err, STRATA_ECONFLICT, "update cancelled");
        out = st_comm_agree(c, j->err, out); /* a cancel on one process stops them all */
    }
    return out;
}

int st_upd_source_version(st_upd_job *j, const char *region, const char *name, int64_t *version)
{
    *version = 0;
    if (!st_comm_many(j->comm)) return STRATA_OK;
    int rc = STRATA_OK;
    if (st_upd_root(j)) {
        st_cat_dataset d;
        rc = st_cat_dataset_get(j->err, st_pool_cat(j->pool), region, name, &d, NULL, NULL);
        if (rc == STRATA_OK) *version = d.version;
    }
    rc = st_comm_agree(j->comm, j->err, rc);
    if (rc < 0) return rc;
    return j->comm->bcast(j->comm->ctx, j->err, version, sizeof *version, 0);
}

int st_upd_bcast_vec(st_upd_job *j, st_vec *v)
{
    const st_comm *c = j->comm;
    if (!st_comm_many(c)) return STRATA_OK;
    uint64_t n = v->n;
    int rc = c->bcast(c->ctx, j->err, &n, sizeof n, 0);
    if (rc < 0) return rc;
    if (c->rank != 0) {
        v->n = 0;
        if (n > 0 && st_vec_grow(v, n) == NULL)
            return st_error(j->err, STRATA_ENOMEM, "out of memory");
    }
    return n > 0 ? c->bcast(c->ctx, j->err, v->v, n * v->esz, 0) : STRATA_OK;
}
