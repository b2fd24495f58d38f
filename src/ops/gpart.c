/*
 * gpart.c -- the fold of a group-by over many groups whose keys are hashed (integers spread too
 * wide for a range of arrays, or strings), by partitions. Each call's rows are scattered by the
 * hash of their key into the partitions, stably (a partition holds its rows in row order, with
 * their key and the aggregates' inputs side by side); then each partition, on one thread, folds
 * its rows into its own groups through its own hash table, small enough to stay in the caches
 * where one table over every group would miss them at every row, and no thread reads rows it
 * does not fold. The scattered rows of several calls wait (bounded: GP_CALLS, GP_PENDING) and
 * are folded together, so that a partition's groups are fetched into the caches once for all
 * of them rather than once per call.
 *
 * Every group's rows are folded in row order, so the float sums can have the bits
 * st_groupby_range() gives each call's rows alone: one sum in row order (its hash path), or
 * block partials added in block order (its dense path, when it would index the call's keys
 * directly), which each group keeps as the sum of its finished blocks beside the partial of its
 * current block. A call's sum is added to the group's in call order, as st_groups_merge() adds
 * the calls' groups. Counts, integer sums and extrema are exact in any order.
 *
 * A string call's blocks depend on how many distinct keys it has, known only once every
 * partition has looked its rows up: they are guessed from an estimate of that number made as the
 * rows are scattered, and the rows folded as they are looked up; when a guess proves wrong, the
 * float sums of the fold are put back as they were before it and folded again with the blocks now
 * known (a second pass over the rows, which the estimate makes rare).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"
#include "util/bits.h"
#include "util/fileio.h"
#include "util/par.h"
#include "util/vec.h"

/* Groups per block of a partition's records: a block once taken stays, so that the records
 * never move as the groups grow. */
#define GP_BLOCK 256

/* The calls whose rows wait to be folded together: at most GP_CALLS of them, and at most
 * GP_PENDING bytes of scattered rows (or one call's, when more); twice that for strings with
 * float sums, so that the buffer's pages already in hold the groups' arrays at the end (a million
 * groups of id3 keys over 10 M rows: 128 MB of their 48-byte rows is two batches, 96 MB, short of
 * the 120 MB the groups take; 0.372 -> 0.334 s, best of 12 update --full). */
#define GP_CALLS   64
#define GP_PENDING ((size_t)128 << 20)

/* Rows scattered through write combining (gwc) take at least these bytes of a thread's chunk for
 * each partition, and the call at least 4 chunks a partition and thread. */
#define GP_WC_BYTES 384
#if defined(__SSE2__)
#define GP_WC 1
#else
#define GP_WC 0 /* (no stores that skip the caches: the chunks would be one copy more) */
#endif

/* The bitmap that estimates a string call's distinct keys (linear counting: a bit set by each
 * hash, the keys estimated from the bits left clear): a bit per row or more, 2^12 to 2^26 bits.
 * A million keys over a million bits: a standard error of 0.085 %. */
#define GP_LC_MIN 12
#define GP_LC_MAX 26

/* One partition's groups. A group is one record of GW words (a cache line when it fits): its
 * key (integers: the key; strings: the length, the first 16 bytes, and for a longer one the
 * offset of all of them in BYTES), its count and its slots' integer words, then when there are
 * float sums: the call and block of its partial, that call's sum of finished blocks and its
 * block's partial (the last call that had rows of the group), and the sums of the calls before
 * that one. */
typedef struct gpp {
    uint64_t n, cap;        /* groups, and room for them */
    uint64_t tcap;          /* table slots: a power of two, at least 4 times the groups */
    uint64_t *tab;          /* (the hash's high half) | (group + 1); 0: empty */
    uint64_t **blk;         /* the groups' records, GP_BLOCK of GW words in each block */
    uint64_t nblk, blk_cap; /* blocks, and room for their pointers */
    uint64_t *hash;         /* strings: each group's hash (the table grows by them) */
    uint64_t n0, sav;       /* the groups before the fold of a guess, and where in F's SAV the
                             * float words of those it changes are kept */
    st_vec bytes;           /* strings: the bytes of the keys longer than 16 */
    uint64_t kbytes;        /* strings: the bytes of every key */
} gpp;

/* A thread's room for the arrays of the partitions it grows (records, tables, hashes):
 * chunks (on huge pages from 4 MiB) carved in order and freed together, where each array's own
 * malloc'd growth faulted fresh 4 KiB pages in one at a time and copied the records at each
 * doubling (a million groups of integers: 50 000 of the update's 64 000 page faults). The records
 * are taken a block at a time and never move; the other arrays move to new room as they double, and
 * the room they leave goes to the next array of that size (the partitions grow in step). */
typedef struct garena {
    char *at, *end; /* the current chunk's room left */
    char **chunk;   /* every chunk taken */
    size_t n, cap;  /* chunks, and room for them */
    size_t taken;   /* bytes of every chunk */
    void *free[64]; /* room left by arrays that moved, of 2^K bytes: a list through first words */
} garena;

/* A call's rows as scattered: per row, its key (integers) or its hash, its row when needed, and
 * (strings) its length and first 16 bytes, or where a longer string's bytes were kept, then the
 * slots' inputs. The rows of several calls wait in F's buffer to be folded together: each
 * partition's groups are then fetched into the caches once for all of them. */
typedef struct gcall {
    uint32_t call;                /* its number, from 1 */
    uint32_t rw;                  /* words per row */
    uint32_t vw;                  /* the first value's word */
    int row;                      /* the row is word 1 (strings: shifted left 16 over the length) */
    uint64_t n;                   /* rows */
    uint64_t base;                /* its first row's word in F's buffer */
    uint64_t block;               /* rows per block of the float sums (0: one sum in row order;
                                   * strings with float sums: guessed until folded) */
    uint64_t *start;              /* each partition's first row, and the total */
    uint64_t *ncall;              /* strings with float sums: each partition's groups the call
                                   * has rows of */
    int64_t row0[ST_GROUP_SLOTS]; /* the first row's id of the slots that take it */
} gcall;

struct st_gpf {
    int str, naggs, nt, bits, nfs, nint, nval, nsum;
    int firstrow;              /* a slot is the first row's id */
    uint64_t gw;               /* words per group */
    uint64_t kw;               /* a group's key words: its count is word KW */
    uint64_t mw;               /* the mark's word (float sums; FC and FS follow) */
    int op[ST_GROUP_SLOTS];    /* the slots: their ops */
    int rowid[ST_GROUP_SLOTS]; /* the first row's id */
    int word[ST_GROUP_SLOTS];  /* the slot's word in a group (0: none) */
    int val[ST_GROUP_SLOTS];   /* the slot's input among a row's values (-1: none) */
    int fslot[ST_GROUP_SLOTS]; /* the slot's float sum (-1: none) */
    int ia[ST_GROUP_SLOTS];    /* the other slots with an integer word: minima, maxima, first
                                * rows (NINT of them) */
    int sw[ST_GROUP_SLOTS], sv[ST_GROUP_SLOTS]; /* integer sums (NSUM): their word and value */
    int fv[ST_GROUP_SLOTS];                     /* float sum K's input among a row's values */
    uint64_t init[16 + 3 * ST_GROUP_SLOTS];     /* a new group's words after its key */
    uint32_t call;                              /* calls taken */
    gpp *part;                                  /* 1 << BITS partitions */
    garena *arena;                              /* NT: each thread's room for partitions */
    uint64_t *hist;                             /* nt << BITS */
    struct gcall *pend;                         /* calls not folded yet (GP_CALLS at most) */
    int npend;
    uint64_t *rec;      /* their rows, scattered */
    size_t rec_n, used; /* bytes held, and used */
    size_t touched;     /* bytes of REC the calls have used (their pages in) */
    char *lng;          /* strings longer than 16 bytes of the calls not folded */
    size_t lng_n, lng_cap;
    uint64_t *wc;             /* each thread's chunks and fills for write combining (gwc) */
    size_t wc_n;              /* bytes held */
    uint64_t *hs;             /* strings: a call's hashes */
    uint64_t *lc;             /* strings with float sums: each thread's bitmap of a call's hashes */
    uint64_t *sav;            /* the float sums' words of the groups before the fold of a guess */
    uint32_t call0;           /* the first call of that fold */
    int keep_all;             /* its rows 4 times the groups or more: their words kept first */
    size_t hs_n, lc_n, sav_n; /* bytes held */
    uint64_t redos;           /* folds whose guessed blocks were wrong, folded again */
    int byrange;              /* integers: each partition a range of keys, in order (0: by hash) */
    int64_t lo;               /* then: the first partition's smallest key (and those below it) */
    int rshift;               /* then: a partition's keys, 1 << RSHIFT (the last's: those above) */
};

/* The words of F's groups from its slots: each group's key, count and integer words, then
 * its float sums' words (FC: 2 NFS, FS: NFS) after the mark; the initial value of each. */
static void plan(st_gpf *f, const st_gin *in)
{
    uint64_t w = f->kw;
    f->init[w++] = 0; /* the count */
    for (int a = 0; a < f->naggs; a++) {
        int op = in[a].op;
        f->op[a] = op;
        f->rowid[a] = in[a].rowid;
        f->val[a] = f->fslot[a] = -1;
        if (op == ST_AGG_COUNT || op == ST_AGG_COUNT_COL) continue;
        if (!in[a].rowid) f->val[a] = f->nval++;
        f->firstrow |= in[a].rowid;
        if (in[a].isf) {
            f->fv[f->nfs] = f->val[a];
            f->fslot[a] = f->nfs++;
            continue;
        }
        f->word[a] = (int)w;
        if (op == ST_AGG_SUM || op == ST_AGG_MEAN) { /* (folded apart: no branch) */
            f->sw[f->nsum] = (int)w;
            f->sv[f->nsum++] = f->val[a];
        } else {
            f->ia[f->nint++] = a;
        }
        int64_t v = in[a].rowid || op == ST_AGG_MIN ? INT64_MAX : op == ST_AGG_MAX ? INT64_MIN : 0;
        f->init[w++] = (uint64_t)v;
    }
    f->mw = w;
    if (f->nfs > 0) {
        double z = -0.0;
        f->init[w++] = 0; /* no call yet */
        for (int k = 0; k < 3 * f->nfs; k++) memcpy(&f->init[w++], &z, 8);
    }
    f->gw = w <= 8 ? 8 : w; /* a cache line when it fits */
}

int st_gpf_new(st_gpf **pp, int str, const st_gin *in, int naggs, uint64_t rows,
               const int64_t span[2], int nt)
{
    st_gpf *f = calloc(1, sizeof *f);
    *pp = f;
    if (f == NULL) return STRATA_ENOMEM;
    f->str = str;
    f->naggs = naggs;
    f->nt = nt;
    /* partitions of a thousand groups or so at most rows / 8 groups, 16 to 1024 of them: a
     * partition's groups stay in the first caches while its rows are folded */
    f->bits = 4;
    while (f->bits < 10 && (rows >> 13 >> f->bits) > 0) f->bits++;
    f->kw = str ? 4 : 1;
    /* integers whose span is known: partitions by range, so that the groups come out in key order
     * with a sort of each partition's alone (the first call's keys spread over them evenly, else
     * by hash: scatter()) */
    f->byrange = !str && span[0] <= span[1];
    f->lo = span[0];
    while (f->byrange && f->rshift < 64 &&
           ((uint64_t)span[1] - (uint64_t)span[0]) >> f->rshift >> f->bits > 0)
        f->rshift++;
    plan(f, in);
    f->part = calloc((size_t)1 << f->bits, sizeof *f->part);
    f->arena = calloc((size_t)nt, sizeof *f->arena);
    f->hist = calloc((size_t)nt << f->bits, sizeof *f->hist);
    f->pend = calloc(GP_CALLS, sizeof *f->pend);
    if (f->part == NULL || f->arena == NULL || f->hist == NULL || f->pend == NULL)
        return STRATA_ENOMEM;
    for (size_t p = 0; p < (size_t)1 << f->bits; p++) f->part[p].bytes = (st_vec)ST_VEC(char);
    return STRATA_OK;
}

/* Forget the calls waiting (folded, or F of no use). */
static void drop_pending(st_gpf *f)
{
    for (int j = 0; f->pend != NULL && j < f->npend; j++) {
        free(f->pend[j].start);
        free(f->pend[j].ncall);
    }
    f->npend = 0;
    f->touched = f->used > f->touched ? f->used : f->touched;
    f->used = 0;
    f->lng_n = 0;
}

void st_gpf_free(st_gpf *f)
{
    if (f == NULL) return;
    for (size_t p = 0; f->part != NULL && p < (size_t)1 << f->bits; p++)
        st_vec_free(&f->part[p].bytes);
    for (int t = 0; f->arena != NULL && t < f->nt; t++) {
        for (size_t k = 0; k < f->arena[t].n; k++) st_free_big(f->arena[t].chunk[k]);
        free(f->arena[t].chunk);
    }
    free(f->arena);
    drop_pending(f);
    free(f->pend);
    free(f->lng);
    free(f->part);
    free(f->hist);
    st_free_big(f->rec);
    st_free_big(f->hs);
    st_free_big(f->wc);
    st_free_big(f->lc);
    st_free_big(f->sav);
    free(f);
}

/* BYTES of A's room, 64-byte aligned (a record of 8 words is a line); NULL when there is no
 * memory. Its chunks grow from 256 KiB (a few groups take no huge page) to 8 MiB (or one array's
 * size, when larger). */
static void *arena_take(garena *a, size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    int k = bytes != 0 && (bytes & (bytes - 1)) == 0 ? __builtin_ctzll(bytes) : 0;
    if (k > 0 && a->free[k] != NULL) { /* room an array left */
        void *p = a->free[k];
        memcpy(&a->free[k], p, sizeof p);
        return p;
    }
    if ((size_t)(a->end - a->at) < bytes) {
        size_t sz = a->taken < ((size_t)256 << 10) ? (size_t)256 << 10 : a->taken;
        sz = sz > ((size_t)8 << 20) ? (size_t)8 << 20 : sz;
        sz = sz > bytes + 64 ? sz : bytes + 64;
        if (a->n == a->cap) {
            size_t c = a->cap ? a->cap * 2 : 16;
            char **l = realloc(a->chunk, c * sizeof *l);
            if (l == NULL) return NULL;
            a->chunk = l;
            a->cap = c;
        }
        char *c = st_alloc_big(sz); /* (malloc below 4 MiB: 16-byte aligned, aligned here) */
        if (c == NULL) return NULL;
        a->chunk[a->n++] = c;
        a->taken += sz;
        a->at = (char *)(((uintptr_t)c + 63) / 64 * 64);
        a->end = c + sz;
    }
    void *p = a->at;
    a->at += bytes;
    return p;
}

/* The room P of BYTES (as taken) given back to A, for the next array of its size. */
static void arena_drop(garena *a, void *p, size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    if (p == NULL || bytes == 0 || (bytes & (bytes - 1)) != 0) return;
    int k = __builtin_ctzll(bytes);
    memcpy(p, &a->free[k], sizeof p);
    a->free[k] = p;
}

/* *P (HAVE bytes kept, WAS bytes taken) moved to BYTES of A's room; 0 when there is no memory
 * (*P kept). */
static int arena_move(garena *a, void **p, size_t have, size_t was, size_t bytes)
{
    void *q = arena_take(a, bytes);
    if (q == NULL) return 0;
    if (have > 0) memcpy(q, *p, have);
    arena_drop(a, *p, was);
    *p = q;
    return 1;
}

/* The record of group G of Q. */
static inline uint64_t *grec(const st_gpf *f, const gpp *q, uint64_t g)
{
    return q->blk[g / GP_BLOCK] + g % GP_BLOCK * f->gw;
}

/* The hash of group G of Q. */
static inline uint64_t group_hash(const st_gpf *f, const gpp *q, uint64_t g)
{
    return f->str ? q->hash[g] : st_gint_hash((int64_t)grec(f, q, g)[0]);
}

/* Room for one more group in Q (its table at most a quarter full: a lookup seldom probes past
 * its first slot, each further probe a branch mispredicted). */
static int part_room(const st_gpf *f, gpp *q)
{
    garena *a = &f->arena[st_thread_num()];
    if (q->n + 1 > q->cap) { /* (strings: their hashes) */
        uint64_t c = q->cap ? q->cap * 2 : 256;
        void *h = q->hash;
        if (f->str && !arena_move(a, &h, q->n * 8, q->cap * 8, c * 8)) return STRATA_ENOMEM;
        q->hash = h;
        q->cap = c;
    }
    if (q->n + 1 > q->nblk * GP_BLOCK) { /* a new block, the records before where they are */
        void *l = q->blk;
        uint64_t c = q->blk_cap ? q->blk_cap * 2 : 4;
        if (q->nblk == q->blk_cap && !arena_move(a, &l, q->nblk * sizeof *q->blk,
                                                 q->blk_cap * sizeof *q->blk, c * sizeof *q->blk))
            return STRATA_ENOMEM;
        q->blk = l;
        q->blk_cap = q->nblk == q->blk_cap ? c : q->blk_cap;
        uint64_t *b = arena_take(a, GP_BLOCK * f->gw * 8);
        if (b == NULL) return STRATA_ENOMEM;
        q->blk[q->nblk++] = b;
    }
    if ((q->n + 1) * 4 > q->tcap) {
        uint64_t c = q->tcap ? q->tcap * 2 : 512, *t = arena_take(a, c * sizeof *t);
        if (t == NULL) return STRATA_ENOMEM;
        memset(t, 0, c * sizeof *t);
        for (uint64_t g = 0; g < q->n; g++) {
            uint64_t h = group_hash(f, q, g), s = h & (c - 1);
            while (t[s] != 0) s = (s + 1) & (c - 1);
            t[s] = (h >> 32 << 32) | (g + 1);
        }
        arena_drop(a, q->tab, q->tcap * sizeof *t);
        q->tab = t;
        q->tcap = c;
    }
    return STRATA_OK;
}

/* The length of the string of scattered row X: 16 or fewer bytes are in X, after it; 0xffff: a
 * longer one, whose length and offset in F's long strings follow. */
static inline size_t rec_len(const uint64_t *x)
{
    return (size_t)(x[1] & 0xffff);
}

/* Whether group record K holds the key of scattered row X. */
static inline int same_key(int str, const gpp *q, const uint64_t *k, const uint64_t *x,
                           const char *lng)
{
    if (!str) return k[0] == x[0];
    size_t len = rec_len(x);
    if (len != 0xffff) return k[0] == len && k[1] == x[2] && k[2] == x[3];
    return k[0] == x[3] && memcmp((const char *)q->bytes.v + k[3], lng + x[2], x[3]) == 0;
}

/* Group record K := the key of scattered row X (hash H) and the initial words. */
static int new_key(const st_gpf *f, gpp *q, uint64_t *k, const uint64_t *x)
{
    memcpy(k + f->kw, f->init + f->kw, (f->gw - f->kw) * 8);
    if (!f->str) {
        k[0] = x[0];
        return STRATA_OK;
    }
    const char *src = (const char *)&x[2];
    size_t len = rec_len(x);
    if (len == 0xffff) {
        len = (size_t)x[3];
        src = f->lng + x[2];
    }
    if (len > 16) { /* (the record holds a shorter one) */
        char *at = st_vec_grow(&q->bytes, len);
        if (at == NULL) return STRATA_ENOMEM;
        memcpy(at, src, len);
    }
    k[0] = len;
    k[1] = k[2] = 0;
    memcpy(&k[1], src, len < 16 ? len : 16);
    k[3] = len > 16 ? q->bytes.n - len : 0;
    q->kbytes += len;
    return STRATA_OK;
}

/* A new group in Q for scattered row X (its hash H, not in Q's table): *G; STRATA_ENOMEM. */
static __attribute__((noinline)) int add_group(const st_gpf *f, gpp *q, const uint64_t *x,
                                               uint64_t h, uint32_t *gp)
{
    if (q->n >= UINT32_MAX - 1 || part_room(f, q) < 0) return STRATA_ENOMEM;
    uint64_t g = q->n, s = h & (q->tcap - 1);
    if (new_key(f, q, grec(f, q, g), x) < 0) return STRATA_ENOMEM;
    if (f->str) q->hash[g] = h;
    q->n++;
    while (q->tab[s] != 0) s = (s + 1) & (q->tcap - 1);
    q->tab[s] = (h >> 32 << 32) | (g + 1);
    *gp = (uint32_t)g;
    return STRATA_OK;
}

/* The group of scattered row X (its hash H) in partition Q, made if new (*G); STRATA_ENOMEM. */
static inline __attribute__((always_inline)) int lookup(const st_gpf *f, int str, gpp *q,
                                                        const uint64_t *x, uint64_t h, uint32_t *gp)
{
    uint64_t s = h & (q->tcap - 1), tag = h >> 32 << 32;
    for (; q->tcap > 0;) {
        uint64_t e = q->tab[s];
        if (e == 0) break;
        uint64_t g = (e & 0xffffffffu) - 1;
        if ((e & ~(uint64_t)0xffffffffu) == tag && same_key(str, q, grec(f, q, g), x, f->lng)) {
            *gp = (uint32_t)g;
            return STRATA_OK;
        }
        s = (s + 1) & (q->tcap - 1);
    }
    return add_group(f, q, x, h, gp);
}

/* How the rows of a partition are folded: every aggregate; every aggregate, the groups of each
 * call counted (strings with float sums: its blocks guessed) and the float words of each group
 * kept before the fold first changes them; the float sums only (again, the guess wrong). */
enum { RUN_FOLD, RUN_GUESS, RUN_REDO };

/* Fold scattered row X into group G of Q as MODE says (float sums: F's NFS or, NF1, one). With
 * float sums, 1 when it is the first row of call C in the group, else 0. */
static inline __attribute__((always_inline)) int fold_row(const st_gpf *f, int str, int nf1,
                                                          int mode, const gcall *c, gpp *q,
                                                          uint32_t g, const uint64_t *x)
{
    int fonly = mode == RUN_REDO;
    int64_t *w = (int64_t *)grec(f, q, g);
    const uint64_t *v = x + c->vw;
    w[f->kw] += !fonly;
    for (int j = 0; j < f->nsum && !fonly; j++)
        w[f->sw[j]] = (int64_t)((uint64_t)w[f->sw[j]] + v[f->sv[j]]);
    for (int j = 0; j < f->nint && !fonly; j++) {
        int a = f->ia[j], k = f->word[a];
        int64_t y = f->val[a] >= 0 ? (int64_t)v[f->val[a]] : 0;
        switch (f->op[a]) {
        case ST_AGG_MIN:
            if (f->rowid[a]) {
                if (w[k] == INT64_MAX) w[k] = c->row0[a] + (int64_t)(x[1] >> (str ? 16 : 0));
            } else if (y < w[k]) {
                w[k] = y;
            }
            break;
        case ST_AGG_MAX:
            if (y > w[k]) w[k] = y;
            break;
        }
    }
    if (!nf1 && f->nfs == 0) return 0;
    uint64_t nfs = nf1 ? 1 : (uint64_t)f->nfs, b = 0, *mark = (uint64_t *)w + f->mw;
    if (c->block) b = (x[1] >> (str ? 16 : 0)) / c->block;
    uint64_t m = (uint64_t)c->call << 32 | b;
    double *fc = (double *)(mark + 1), *fs = fc + 2 * nfs;
    int first = *mark >> 32 != c->call;
    if (*mark != m) {
        if (mode == RUN_GUESS && !f->keep_all && first && g < q->n0 && *mark >> 32 < f->call0)
            memcpy(f->sav + q->sav + g * (1 + 3 * nfs), mark, (1 + 3 * nfs) * 8);
        if (first) { /* the call's first row of the group: the sum of the */
            for (uint64_t k = 0; *mark != 0 && k < nfs; k++) /* call before that had rows of */
                fs[k] += fc[k] + fc[nfs + k];                /* it added to the calls' sum */
            for (uint64_t k = 0; k < 2 * nfs; k++) fc[k] = -0.0;
        } else { /* a new block: the partial added to the blocks before */
            for (uint64_t k = 0; k < nfs; k++) {
                fc[k] += fc[nfs + k];
                fc[nfs + k] = -0.0;
            }
        }
        *mark = m;
    }
    for (uint64_t k = 0; k < nfs; k++) {
        double d;
        memcpy(&d, &v[f->fv[k]], 8);
        fc[nfs + k] += d;
    }
    return first;
}

/* DST[0..1] := the LEN bytes (16 or fewer) at S, zero-padded; ROOM: 16 bytes can be read at S
 * (two loads, the bytes past LEN masked off, where a call to memcpy would cost more). */
static inline void str16(uint64_t *dst, const char *s, size_t len, int room)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (room) {
        uint64_t w0, w1;
        memcpy(&w0, s, 8);
        memcpy(&w1, s + 8, 8);
        if (len < 8) {
            w0 &= len > 0 ? ~(uint64_t)0 >> (64 - 8 * len) : 0;
            w1 = 0;
        } else if (len < 16) {
            w1 &= len > 8 ? ~(uint64_t)0 >> (64 - 8 * (len - 8)) : 0;
        }
        dst[0] = w0;
        dst[1] = w1;
        return;
    }
#endif
    (void)room;
    dst[0] = dst[1] = 0;
    memcpy(dst, s, len);
}

/* Row R of KEY as scattered into X (its hash H) for call C, its values from SRC (NVAL columns of
 * 64-bit values); a long string's bytes are copied to LNG + *AT. END: the offset of the end of
 * the call's string bytes. */
static inline __attribute__((always_inline)) void
put_row(const st_gpf *f, const gcall *c, const st_gcol *key, const char *const *src, uint64_t r,
        uint64_t h, uint64_t *x, uint64_t *at, int64_t end)
{
    if (f->str) {
        const int64_t *off = key->data;
        size_t len = (size_t)(off[r + 1] - off[r]);
        x[0] = h;
        x[1] = r << 16 | (len <= 16 ? len : 0xffff);
        if (len <= 16) {
            str16(&x[2], key->bytes + off[r], len, off[r] + 16 <= end);
        } else {
            memcpy(f->lng + *at, key->bytes + off[r], len);
            x[2] = *at;
            x[3] = len;
            *at += len;
        }
    } else {
        x[0] = (uint64_t)((const int64_t *)key->data)[r];
        if (c->row) x[1] = r;
    }
    uint64_t *v = x + c->vw;
    for (int j = 0; j < f->nval; j++) memcpy(&v[j], src[j] + r * 8, 8);
}

/* The partition of integer key K: by range (BYRANGE: the range of keys F's partitions split, the
 * keys outside it in the first or the last) or by hash. */
static inline __attribute__((always_inline)) uint64_t int_part(const st_gpf *f, int byrange,
                                                               int64_t k)
{
    if (!byrange) return st_gint_hash(k) >> (64 - f->bits);
    uint64_t o = k < f->lo ? 0 : ((uint64_t)k - (uint64_t)f->lo) >> f->rshift,
             last = (1u << f->bits) - 1;
    return o < last ? o : last;
}

/* Whether the first call's rows (the counts per thread and partition in F's HIST, TEAM threads) are
 * spread over the partitions evenly enough to keep them by range: none with more than 4 times
 * its share of the rows (and 64): a partition's groups stay in the caches as it is folded. */
static int spread_evenly(const st_gpf *f, int team, uint64_t n)
{
    uint64_t np = (uint64_t)1 << f->bits, most = 0;
    for (uint64_t p = 0; p < np; p++) {
        uint64_t m = 0;
        for (int t = 0; t < team; t++) m += f->hist[((uint64_t)t << f->bits) + p];
        most = m > most ? m : most;
    }
    return most <= 4 * (n / np) + 64;
}

/* Count thread T's rows [A, B) of integer KEY K per partition into H (NP), and their smallest
 * and largest key. */
static void count_ints(const st_gpf *f, const int64_t *k, uint64_t a, uint64_t b, uint64_t *h,
                       int64_t *lo, int64_t *hi)
{
    int64_t l = INT64_MAX, u = INT64_MIN;
    memset(h, 0, ((size_t)1 << f->bits) * sizeof *h);
    if (f->byrange) { /* (each kind compiled apart) */
        for (uint64_t r = a; r < b; r++) {
            l = k[r] < l ? k[r] : l;
            u = k[r] > u ? k[r] : u;
            h[int_part(f, 1, k[r])]++;
        }
    } else {
        for (uint64_t r = a; r < b; r++) {
            l = k[r] < l ? k[r] : l;
            u = k[r] > u ? k[r] : u;
            h[int_part(f, 0, k[r])]++;
        }
    }
    *lo = l;
    *hi = u;
}

/* The float sums' blocks of integer call C whose keys span [LO, HI] and were said to span
 * RANGE: those st_groupby_range() takes when told RANGE (its direct indexing over the range it
 * was told when every key is in it, else over the keys' own; else its hash path, one sum). */
static uint64_t int_block(const st_gpf *f, const gcall *c, const int64_t range[2], int64_t lo,
                          int64_t hi)
{
    int64_t r[2] = {lo, hi};
    const int64_t *use = NULL;
    if (range[0] <= range[1] && lo >= range[0] && hi <= range[1] && st_gfold_dense(range, c->n))
        use = range;
    else if (st_gfold_dense(r, c->n))
        use = r;
    if (use == NULL || f->nfs == 0) return 0;
    return st_gdense_block(c->n, (uint64_t)f->nfs * ((uint64_t)use[1] - (uint64_t)use[0] + 1));
}

/* The float sums' blocks of a string call of N rows with ND distinct keys: those
 * st_groupby_range() takes (its direct indexing over the call's own strings, numbered, when it
 * would; else its hash path, one sum). */
static uint64_t str_block(const st_gpf *f, uint64_t n, uint64_t nd)
{
    int64_t own[2] = {0, (int64_t)nd - 1};
    return st_gfold_dense(own, n) ? st_gdense_block(n, (uint64_t)f->nfs * nd) : 0;
}

/* The distinct keys of a call of N rows, estimated from the TEAM bitmaps of W words at LC that
 * its rows' hashes set: M ln(M / the bits left clear) of their union's M bits (1 to N). */
static uint64_t lc_estimate(const uint64_t *lc, uint64_t w, int team, uint64_t n)
{
    uint64_t set = 0;
    for (uint64_t i = 0; i < w; i++) {
        uint64_t x = 0;
        for (int t = 0; t < team; t++) x |= lc[(uint64_t)t * w + i];
        set += (uint64_t)__builtin_popcountll(x);
    }
    double m = (double)(w * 64), clear = m - (double)set;
    double e = clear > 0 ? m * log(m / clear) : (double)n;
    uint64_t nd = (uint64_t)(e + 0.5);
    return nd < 1 ? 1 : nd > n ? n : nd;
}

/* Room for NEED more bytes of long strings (the calls' before kept); 0 when there is none. */
static int lng_room(st_gpf *f, size_t need)
{
    if (f->lng_n + need <= f->lng_cap) return 1;
    size_t cap = f->lng_cap * 2 > f->lng_n + need ? f->lng_cap * 2 : f->lng_n + need;
    char *l = realloc(f->lng, cap);
    if (l == NULL) return 0;
    f->lng = l;
    f->lng_cap = cap;
    return 1;
}

/* A thread's rows on their way to a call's partitions, write-combined: the rows it scatters to a
 * partition gather in a chunk of BR rows (whole lines) in the caches, and a full chunk goes to
 * its place in the buffer by non-temporal stores. Stored one by one into 2 x 1024 partitions,
 * each row's first store to a line waited for the line to be read from memory (`update --full`
 * of 10 batches of 1 M rows, 8 rounds alternated: id3's 12-byte strings best 0.409 -> 0.376 s,
 * 1 M ints spread over 2^40 0.268 -> 0.236 s; chunks of 768 bytes: no better). A partition's
 * rows before its first row at a chunk's boundary are stored as they come, and those of a chunk
 * not full at the end copied. */
typedef struct gwc {
    uint64_t *buf;  /* each partition's chunk (NULL: every row stored as it comes) */
    uint32_t *fill; /* rows in each partition's chunk */
    uint64_t br;    /* rows a chunk: a power of two */
    uint64_t rw;    /* words a row */
} gwc;

/* Rows per chunk of RW-word rows: whole lines, GP_WC_BYTES at least. */
static uint64_t wc_rows(uint64_t rw)
{
    uint64_t br = 1;
    while (br * rw * 8 % 64 != 0 || br * rw * 8 < GP_WC_BYTES) br *= 2;
    return br;
}

/* Where row I of partition P goes (REC: the call's rows, 64-byte aligned): *INB when into W's
 * chunk, for wc_done(). */
static inline __attribute__((always_inline)) uint64_t *wc_slot(const gwc *w, uint64_t *rec,
                                                               uint64_t p, uint64_t i, int *inb)
{
    *inb = w->buf != NULL && (w->fill[p] > 0 || (i & (w->br - 1)) == 0);
    return *inb ? w->buf + (p * w->br + w->fill[p]) * w->rw : rec + i * w->rw;
}

/* Row I of partition P put into W's chunk: the chunk streamed to its place once full. */
static inline __attribute__((always_inline)) void wc_done(gwc *w, uint64_t *rec, uint64_t p,
                                                          uint64_t i)
{
    if (++w->fill[p] < w->br) return;
    w->fill[p] = 0;
    const uint64_t *b = w->buf + p * w->br * w->rw;
    uint64_t *d = rec + (i + 1 - w->br) * w->rw;
    for (uint64_t o = 0; o < w->br * w->rw; o += 8) st_wc_line_out(d + o, b + o);
}

/* The rows left in W's chunks of NP partitions copied to their places (each partition's next
 * row at AT[P]). */
static void wc_close(gwc *w, uint64_t *rec, uint64_t np, const uint64_t *at)
{
    for (uint64_t p = 0; w->buf != NULL && p < np; p++)
        if (w->fill[p] > 0)
            memcpy(rec + (at[p] - w->fill[p]) * w->rw, w->buf + p * w->br * w->rw,
                   w->fill[p] * w->rw * 8);
#if defined(__SSE2__)
    _mm_sfence(); /* the streamed lines reach memory before the team's barrier */
#endif
}

/* Scatter the N rows of KEY and IN into F's partitions as call C, stably: the hashes counted per
 * thread and partition (and, integers, the keys' range, which C's blocks and so its rows' words
 * depend on; strings, the bytes of the long ones, and with float sums the bits of the hashes
 * that guess the blocks), then each row written at its thread's next position in its partition.
 * STRATA_ENOMEM (nothing kept) when the long strings or the bitmaps do not fit. */
static int scatter(st_gpf *f, gcall *c, const st_gcol *key, const st_gin *in,
                   const int64_t range[2])
{
    uint64_t np = (uint64_t)1 << f->bits, *rec = f->rec + c->base, lb[64], br = 0, wcw = 0;
    uint64_t *wcb = NULL; /* the threads' chunks (gwc) */
    int shift = 64 - f->bits, rc = STRATA_OK;
    int64_t lo[64], hi[64];
    const int64_t *off = key->data, *k = key->data, end = f->str ? off[c->n] : 0;
    const char *src[ST_GROUP_SLOTS]; /* each value's column, by its place in a row */
    for (int a = 0; a < f->naggs; a++)
        if (f->val[a] >= 0)
            src[f->val[a]] = in[a].isf ? (const char *)in[a].fv : (const char *)in[a].iv;
    uint64_t lcw = 0; /* strings with float sums: words of each thread's bitmap (GP_LC_MIN) */
    if (f->str && f->nfs > 0) {
        int lb2 = GP_LC_MIN;
        while (lb2 < GP_LC_MAX && ((uint64_t)1 << lb2) < c->n) lb2++;
        lcw = (uint64_t)1 << lb2 >> 6;
        if (!st_groom((void **)&f->lc, &f->lc_n, (size_t)f->nt * lcw * 8)) return STRATA_ENOMEM;
    }
#pragma omp parallel num_threads(f->nt)
    {
        int t = st_thread_num(), team = st_team_size();
        uint64_t a, b, *h = f->hist + ((uint64_t)t << f->bits), at = 0;
        uint64_t *bm = lcw > 0 ? f->lc + (uint64_t)t * lcw : NULL;
        int64_t l = INT64_MAX, u = INT64_MIN;
        st_chunk(c->n, t, team, &a, &b);
        memset(h, 0, np * sizeof *h);
        if (bm != NULL) memset(bm, 0, lcw * 8);
        if (f->str) {
            for (uint64_t r = a; r < b; r++) {
                size_t len = (size_t)(off[r + 1] - off[r]);
                uint64_t x = st_gstr_hash(key->bytes + off[r], len);
                f->hs[r] = x;
                h[x >> shift]++;
                at += len > 16 ? len : 0;
                if (bm != NULL) bm[(x >> 6) & (lcw - 1)] |= (uint64_t)1 << (x & 63);
            }
        } else {
            count_ints(f, k, a, b, h, &l, &u);
        }
        lo[t] = l;
        hi[t] = u;
        lb[t] = at;
        if (!f->str && c->call == 1 && f->byrange) { /* the first call: kept by range? */
#pragma omp barrier
#pragma omp single
            f->byrange = spread_evenly(f, team, c->n);
            if (!f->byrange) count_ints(f, k, a, b, h, &l, &u); /* (by hash) */
        }
#pragma omp barrier
#pragma omp single
        {
            st_digit_offsets(f->hist, np, team, c->start);
            uint64_t total = 0;
            for (int x = 0; x < team; x++) { /* each thread's long strings after the ones before */
                uint64_t mine = lb[x];
                lb[x] = f->lng_n + total;
                total += mine;
                lo[0] = lo[x] < lo[0] ? lo[x] : lo[0];
                hi[0] = hi[x] > hi[0] ? hi[x] : hi[0];
            }
            if (total > 0 && !lng_room(f, total)) rc = STRATA_ENOMEM;
            f->lng_n += rc == STRATA_OK ? total : 0;
            if (lcw > 0) c->block = str_block(f, c->n, lc_estimate(f->lc, lcw, team, c->n));
            if (!f->str) {
                c->block = int_block(f, c, range, lo[0], hi[0]);
                c->row = c->block > 0 || f->firstrow;
                c->vw = 1 + (uint32_t)c->row;
                c->rw = c->vw + (uint32_t)f->nval;
            }
            /* write combining when the call has 4 chunks a partition and thread (and the room:
             * else the rows are stored as they come) */
            br = wc_rows(c->rw);
            wcw = np * br * c->rw + (np + 15) / 16 * 8; /* (chunks, then fills: whole lines) */
            if (!GP_WC || c->n < 4 * br * np * (uint64_t)team || ((uintptr_t)rec & 63) != 0 ||
                !st_groom((void **)&f->wc, &f->wc_n, ((size_t)team * wcw + 8) * 8))
                wcw = 0;
            else
                wcb = (uint64_t *)(((uintptr_t)f->wc + 63) & ~(uintptr_t)63); /* (from a line) */
        }
        gwc w = {NULL, NULL, br, c->rw};
        if (wcw > 0) {
            w.buf = wcb + (uint64_t)t * wcw;
            w.fill = (uint32_t *)(w.buf + np * br * c->rw);
            memset(w.fill, 0, np * sizeof *w.fill);
        }
        at = lb[t];
        int inb;
        if (f->str) {
            for (uint64_t r = a; r < b && rc == STRATA_OK; r++) {
                uint64_t x = f->hs[r], p = x >> shift, i = h[p]++;
                put_row(f, c, key, src, r, x, wc_slot(&w, rec, p, i, &inb), &at, end);
                if (inb) wc_done(&w, rec, p, i);
            }
        } else if (f->byrange) {
            for (uint64_t r = a; r < b; r++) {
                uint64_t p = int_part(f, 1, k[r]), i = h[p]++;
                put_row(f, c, key, src, r, 0, wc_slot(&w, rec, p, i, &inb), &at, end);
                if (inb) wc_done(&w, rec, p, i);
            }
        } else {
            for (uint64_t r = a; r < b; r++) {
                uint64_t p = int_part(f, 0, k[r]), i = h[p]++;
                put_row(f, c, key, src, r, 0, wc_slot(&w, rec, p, i, &inb), &at, end);
                if (inb) wc_done(&w, rec, p, i);
            }
        }
        wc_close(&w, rec, np, h);
    }
    return rc;
}

/* The hash of scattered row X. */
static inline uint64_t rec_hash(int str, const uint64_t *x)
{
    return str ? x[0] : st_gint_hash((int64_t)x[0]);
}

/* Fetch ahead what the lookup of a row whose hash is H in Q will read: its table slot (STEP 0),
 * then the words of the group in it (STEP 1, the slot read by now). */
static inline __attribute__((always_inline)) void ahead(const st_gpf *f, const gpp *q, uint64_t h,
                                                        int step)
{
    if (q->tcap == 0) return;
    uint64_t s = h & (q->tcap - 1);
    if (step == 0) {
        __builtin_prefetch(&q->tab[s]);
        return;
    }
    uint64_t e = q->tab[s];
    if (e == 0) return;
    const uint64_t *k = grec(f, q, (e & 0xffffffffu) - 1);
    __builtin_prefetch(k, 1);
    if (f->gw > 8) __builtin_prefetch(k + 8, 1);
}

/* Fetch Q's table and records into the caches, in order: the first rows of each call would miss
 * them at random (many groups: most of a partition's groups are a call's first rows). A load a
 * line, not a prefetch: the hardware drops prefetches past its miss buffers, where the loads'
 * stream trains its own prefetcher (spread ints, best of 12 update --full: 0.259 -> 0.240 s). */
static void fetch_part(const st_gpf *f, const gpp *q)
{
    uint64_t sum = 0;
    for (uint64_t j = 0; j < q->tcap; j += 8) sum += q->tab[j];
    for (uint64_t k = 0; k < q->nblk; k++) {
        const uint64_t *bl = q->blk[k];
        uint64_t m = q->n - k * GP_BLOCK < GP_BLOCK ? q->n - k * GP_BLOCK : GP_BLOCK;
        for (uint64_t j = 0; j < m * f->gw; j += 8) sum += bl[j];
    }
    volatile uint64_t sink = sum; /* (the loads kept) */
    (void)sink;
}

/* Partition P's rows of call C looked up (their groups made) and folded as MODE says. The
 * partition's groups are too many for the first caches: each row's are fetched ahead, its slot
 * 16 rows before, its group 8 rows before. STRATA_ENOMEM. */
static inline __attribute__((always_inline)) int run_part(st_gpf *f, int str, int nf1,
                                                          const gcall *c, uint64_t p, int mode)
{
    enum { FAR = 16, NEAR = 8 };
    gpp *q = &f->part[p];
    const uint64_t *rec = f->rec + c->base;
    uint64_t a = c->start[p], b = c->start[p + 1], rw = c->rw, nd = 0;
    if (b - a >= 64 && (q->n * f->gw + q->tcap) * 8 <= ((size_t)512 << 10))
        fetch_part(f, q); /* (more than the second-level cache would keep: not) */
    uint64_t hr[2 * FAR]; /* the hashes of rows I to I + FAR, each computed once */
    for (uint64_t i = a; i < b && i < a + FAR; i++) hr[i % (2 * FAR)] = rec_hash(str, rec + i * rw);
    for (uint64_t i = a; i < b; i++) {
        const uint64_t *x = rec + i * rw;
        uint32_t g;
        if (i + FAR < b) {
            uint64_t h = hr[(i + FAR) % (2 * FAR)] = rec_hash(str, x + FAR * rw);
            ahead(f, q, h, 0);
        }
        if (i + NEAR < b) ahead(f, q, hr[(i + NEAR) % (2 * FAR)], 1);
        if (lookup(f, str, q, x, hr[i % (2 * FAR)], &g) < 0) return STRATA_ENOMEM;
        nd += (uint64_t)fold_row(f, str, nf1, mode, c, q, g, x);
    }
    if (mode == RUN_GUESS) c->ncall[p] = nd;
    return STRATA_OK;
}

/* The float sums' words of Q's groups kept before the fold of a guess, when its rows are 4 times
 * the groups or more (in order, which also fetches them for the fold: id3's update, 5 rows a
 * group each fold, 2.5 % faster than keeping each as the fold first changes it, which
 * fold_row() does otherwise, so that many small folds over many groups do not copy them all). */
static void keep_floats(const st_gpf *f, gpp *q)
{
    uint64_t fw = 1 + 3 * (uint64_t)f->nfs, *s = f->sav + q->sav;
    for (uint64_t g = 0; g < q->n0; g++) memcpy(s + g * fw, grec(f, q, g) + f->mw, fw * 8);
}

/* The float sums' words of Q's groups put back as they were before the fold of a guess: those
 * the fold changed (their mark says a call of it had rows of them) as kept, those it made as
 * new. */
static void put_back_floats(const st_gpf *f, gpp *q)
{
    uint64_t fw = 1 + 3 * (uint64_t)f->nfs, *s = f->sav + q->sav;
    for (uint64_t g = 0; g < q->n; g++) {
        uint64_t *w = grec(f, q, g) + f->mw;
        if (g >= q->n0)
            memcpy(w, f->init + f->mw, fw * 8);
        else if (*w >> 32 >= f->call0)
            memcpy(w, s + g * fw, fw * 8);
    }
}

/* Every partition of the calls waiting folded as MODE says (run_part()), each partition's calls
 * in order, on F's threads. */
static int run_parts(st_gpf *f, int mode)
{
    int rc = STRATA_OK;
    int64_t np = (int64_t)1 << f->bits;
#pragma omp parallel for num_threads(f->nt) schedule(dynamic, 1) reduction(min : rc)
    for (int64_t p = 0; p < np; p++) {
        int r = STRATA_OK; /* (RC here is the reduction's, which starts at INT_MAX) */
        if (mode == RUN_GUESS && f->keep_all) keep_floats(f, &f->part[p]);
        if (mode == RUN_REDO) put_back_floats(f, &f->part[p]);
        for (int j = 0; j < f->npend && r == STRATA_OK; j++) {
            const gcall *c = &f->pend[j];
            /* (each kind compiled apart) */
            if (!f->str && f->nfs == 1)
                r = run_part(f, 0, 1, c, (uint64_t)p, RUN_FOLD);
            else if (!f->str)
                r = run_part(f, 0, 0, c, (uint64_t)p, RUN_FOLD);
            else if (mode == RUN_FOLD)
                r = run_part(f, 1, 0, c, (uint64_t)p, RUN_FOLD);
            else if (mode == RUN_REDO)
                r = run_part(f, 1, 0, c, (uint64_t)p, RUN_REDO);
            else if (f->nfs == 1)
                r = run_part(f, 1, 1, c, (uint64_t)p, RUN_GUESS);
            else
                r = run_part(f, 1, 0, c, (uint64_t)p, RUN_GUESS);
        }
        rc = r < rc ? r : rc;
    }
    return rc;
}

/* Whether the calls waiting, folded, had the blocks their groups make (RUN_GUESS), or blocks that
 * fold the same (none, or one of all the rows); each given those. */
static int guessed_right(st_gpf *f)
{
    uint64_t np = (uint64_t)1 << f->bits;
    int right = 1;
    for (int j = 0; j < f->npend; j++) {
        gcall *c = &f->pend[j];
        uint64_t nd = 0, block;
        for (uint64_t p = 0; p < np; p++) nd += c->ncall[p];
        block = str_block(f, c->n, nd);
        right &= (block >= c->n ? 0 : block) == (c->block >= c->n ? 0 : c->block);
        c->block = block;
    }
    return right;
}

/* Fold the calls waiting. Strings with float sums: with the blocks guessed (scatter()), the
 * float sums' words of the groups kept as the fold first changes them; then, when a guess was
 * wrong, put back and folded again with the blocks the calls' groups make. */
static int flush(st_gpf *f)
{
    uint64_t np = (uint64_t)1 << f->bits, fw = 1 + 3 * (uint64_t)f->nfs, words = 0, rows = 0;
    int guess = f->str && f->nfs > 0, rc = STRATA_OK;
    for (int j = 0; j < f->npend; j++) rows += f->pend[j].n;
    for (uint64_t p = 0; guess && p < np; p++) {
        f->part[p].n0 = f->part[p].n;
        f->part[p].sav = words;
        words += f->part[p].n * fw;
    }
    if (guess && !st_groom((void **)&f->sav, &f->sav_n, (words + 1) * 8)) rc = STRATA_ENOMEM;
    f->call0 = f->npend > 0 ? f->pend[0].call : 0;
    f->keep_all = rows / 4 >= words / fw;
    if (rc == STRATA_OK) rc = run_parts(f, guess ? RUN_GUESS : RUN_FOLD);
    if (rc == STRATA_OK && guess && !guessed_right(f)) {
        f->redos++;
        rc = run_parts(f, RUN_REDO);
    }
    drop_pending(f);
    return rc;
}

uint64_t st_gpf_redos(const st_gpf *f)
{
    return f->redos;
}

int st_gpf_ordered(const st_gpf *f)
{
    return f->str ? -1 : f->byrange;
}

int st_gpf_add(st_gpf *f, const st_gcol *key, uint64_t n, const st_gin *in, const int64_t range[2])
{
    if ((key->dtype == STRATA_STR) != f->str || key->valid != NULL) return 0;
    uint64_t np = (uint64_t)1 << f->bits, words = (f->str ? 4 : 2) + (uint64_t)f->nval;
    size_t need = (size_t)(n * words * 8) + 64;       /* (each call's rows from a line: gwc) */
    int rc = STRATA_OK, guess = f->str && f->nfs > 0; /* blocks guessed, groups counted */
    size_t pending = GP_PENDING << guess;
    if (f->npend > 0 && (f->npend == GP_CALLS || f->used + need > f->rec_n)) rc = flush(f);
    if (rc == STRATA_OK && f->used + need > f->rec_n) { /* (a new buffer) */
        f->touched = 0;
        if (!st_groom((void **)&f->rec, &f->rec_n, need > pending ? need : pending))
            rc = STRATA_ENOMEM;
    }
    if (rc == STRATA_OK && f->str && !st_groom((void **)&f->hs, &f->hs_n, (n + 1) * 8))
        rc = STRATA_ENOMEM;
    if (rc < 0) return rc;
    gcall *c = &f->pend[f->npend];
    memset(c, 0, sizeof *c);
    c->call = ++f->call;
    c->n = n;
    c->base = f->used / 8;
    c->start = malloc((np + 1) * sizeof *c->start);
    c->ncall = guess ? malloc(np * sizeof *c->ncall) : NULL;
    for (int a = 0; a < f->naggs; a++) c->row0[a] = in[a].row0;
    if (f->str) {
        c->row = 1;
        c->vw = 4;
        c->rw = (uint32_t)words;
    }
    if (c->start == NULL || (guess && c->ncall == NULL) || scatter(f, c, key, in, range) < 0) {
        free(c->start);
        free(c->ncall);
        return STRATA_ENOMEM;
    }
    f->npend++;
    f->used += ((size_t)(n * c->rw * 8) + 63) & ~(size_t)63;
    return 1;
}

/* Group L of partition Q into output group O of OUT (its key word KW). */
static void put_group(const st_gpf *f, const gpp *q, uint64_t l, st_groups *out, uint64_t o,
                      int64_t kw)
{
    const int64_t *w = (const int64_t *)grec(f, q, l);
    const double *fc = (const double *)(w + f->mw + 1), *fs = fc + 2 * f->nfs;
    size_t na = (size_t)out->naggs;
    out->keys[o * 2] = kw;
    out->keys[o * 2 + 1] = 0;
    out->count[o] = w[f->kw];
    for (int a = 0; a < f->naggs; a++) {
        size_t s = o * na + (size_t)a;
        int op = f->op[a], some = op != ST_AGG_COUNT; /* COUNT keeps no input count */
        out->nval[s] = some ? w[f->kw] : 0;
        out->ival[s] = some && f->word[a] ? w[f->word[a]] : 0;
        int k = f->fslot[a]; /* the sums of the calls before its last, then its last call's */
        out->fval[s] = some && k >= 0 ? fs[k] + (fc[k] + fc[f->nfs + k]) : 0;
        out->m2[s] = 0;
    }
}

/* What the packing of short string keys needs to know of them (spack): the smallest and largest
 * of each short_part() (0-2) and of each byte (3-18), and the bits in which some key's parts
 * (0-2) and its two words of bytes (3-4) differ from a first key's. */
typedef struct kstats {
    uint64_t mn[19], mx[19], var[5];
} kstats;

/* The groups of F's partitions numbered in partition order: each partition's first number
 * (BASE[NP + 1], the total last), each number's partition (PART), and for strings
 * the shortest and longest key and their kstats, in the same pass over the records.
 * STRATA_ENOMEM. */
typedef struct gids {
    uint64_t *base;
    uint16_t *part;
    uint64_t g, minlen, maxlen;
    kstats ks;
} gids;

/* Part J of short string key K as a word that orders like it: its first 8 bytes (big-endian),
 * its next 8, its length. */
static inline uint64_t short_part(const uint64_t *k, int j)
{
    return j == 2 ? k[0] : st_load_be64(k + 1 + j);
}

/* Key record K's values for kstats: its three parts, then its 16 bytes. */
static inline void key_stats_of(const uint64_t *k, uint64_t v[19])
{
    const unsigned char *b = (const unsigned char *)(k + 1);
    for (int j = 0; j < 3; j++) v[j] = short_part(k, j);
    for (int j = 0; j < 16; j++) v[3 + j] = b[j];
}

/* The kstats of Q's keys added to MN, MX and VAR (the first key's values V0, its record K0): per
 * key its three parts' extremes and bits apart, and the extremes of its 16 bytes, one vector's
 * lanes each (a million id3 groups numbered in 7.4 ms, where each key's 19 values compared one
 * at a time took 14 ms). */
static void part_stats(const st_gpf *f, const gpp *q, const uint64_t *k0, const uint64_t v0[19],
                       uint64_t mn[19], uint64_t mx[19], uint64_t var[5])
{
    uint64_t pmn[3], pmx[3], pv[5] = {0};
    unsigned char bmn[16], bmx[16];
    for (int j = 0; j < 3; j++) pmn[j] = pmx[j] = v0[j];
    for (int j = 0; j < 16; j++) bmn[j] = bmx[j] = (unsigned char)v0[3 + j];
#if defined(__SSE2__)
    __m128i vmn = _mm_loadu_si128((const __m128i *)bmn), vmx = vmn;
#endif
    for (uint64_t l = 0; l < q->n; l++) {
        const uint64_t *k = grec(f, q, l);
        for (int j = 0; j < 3; j++) {
            uint64_t v = short_part(k, j);
            pmn[j] = v < pmn[j] ? v : pmn[j];
            pmx[j] = v > pmx[j] ? v : pmx[j];
            pv[j] |= v ^ v0[j];
        }
        pv[3] |= k[1] ^ k0[1];
        pv[4] |= k[2] ^ k0[2];
#if defined(__SSE2__)
        __m128i b = _mm_loadu_si128((const __m128i *)(k + 1));
        vmn = _mm_min_epu8(vmn, b);
        vmx = _mm_max_epu8(vmx, b);
#else
        const unsigned char *b = (const unsigned char *)(k + 1);
        for (int j = 0; j < 16; j++) {
            bmn[j] = b[j] < bmn[j] ? b[j] : bmn[j];
            bmx[j] = b[j] > bmx[j] ? b[j] : bmx[j];
        }
#endif
    }
#if defined(__SSE2__)
    _mm_storeu_si128((__m128i *)bmn, vmn);
    _mm_storeu_si128((__m128i *)bmx, vmx);
#endif
    for (int j = 0; j < 19; j++) {
        uint64_t a = j < 3 ? pmn[j] : bmn[j - 3], b = j < 3 ? pmx[j] : bmx[j - 3];
        mn[j] = a < mn[j] ? a : mn[j];
        mx[j] = b > mx[j] ? b : mx[j];
    }
    for (int j = 0; j < 5; j++) var[j] |= pv[j];
}

/* Room for the arrays that put the groups in order (their numbering, the order, the sort's) in
 * the rows' buffer past where st_gpf_end() puts the groups' arrays, of no use now: pages in
 * already, where fresh ones cost their zeroing. Taken in order, never given back one by one; past
 * its end, allocations of their own. */
typedef struct gscr {
    char *lo, *at, *end;
} gscr;

/* BYTES (rounded up to 64) of S's room, or of their own when it has too little; NULL: no memory. */
static void *gs_take(gscr *s, size_t bytes)
{
    bytes = (bytes + 63) & ~(size_t)63;
    if (s->at != NULL && (size_t)(s->end - s->at) >= bytes) {
        void *p = s->at;
        s->at += bytes;
        return p;
    }
    return st_alloc_big(bytes);
}

/* P from gs_take() given back (freed when it is not in S's room). */
static void gs_drop(const gscr *s, void *p)
{
    if (p != NULL && (s->lo == NULL || (char *)p < s->lo || (char *)p >= s->end)) st_free_big(p);
}

static int number_groups(const st_gpf *f, gids *ids, gscr *s)
{
    uint64_t np = (uint64_t)1 << f->bits, g = 0;
    ids->base = gs_take(s, (np + 1) * sizeof *ids->base);
    if (ids->base == NULL) return STRATA_ENOMEM;
    const uint64_t *k0 = NULL; /* the first key: the variation is from it */
    for (uint64_t p = 0; p < np; p++) {
        ids->base[p] = g;
        if (k0 == NULL && f->part[p].n > 0) k0 = grec(f, &f->part[p], 0);
        g += f->part[p].n;
    }
    ids->base[np] = ids->g = g;
    ids->part = gs_take(s, (g + 1) * sizeof *ids->part);
    if (ids->part == NULL) return STRATA_ENOMEM;
    int str = f->str && k0 != NULL;
    uint64_t mn[19] = {0}, mx[19] = {0}, var[5] = {0}, v0[19] = {0};
    if (str) key_stats_of(k0, v0);
    memcpy(mn, v0, sizeof mn);
    memcpy(mx, v0, sizeof mx);
#pragma omp parallel num_threads(f->nt)
#pragma omp for reduction(min : mn[:19]) reduction(max : mx[:19]) reduction(| : var[:5])
    for (uint64_t p = 0; p < np; p++) {
        const gpp *q = &f->part[p];
        for (uint64_t id = ids->base[p]; id < ids->base[p + 1]; id++) ids->part[id] = (uint16_t)p;
        if (str) part_stats(f, q, k0, v0, mn, mx, var);
    }
    memcpy(ids->ks.mn, mn, sizeof mn);
    memcpy(ids->ks.mx, mx, sizeof mx);
    memcpy(ids->ks.var, var, sizeof var);
    ids->minlen = str ? mn[2] : UINT64_MAX;
    ids->maxlen = str ? mx[2] : 0;
    return STRATA_OK;
}

/* The record of group ID. */
static inline const uint64_t *group_rec(const st_gpf *f, const gids *ids, uint64_t id)
{
    uint64_t p = ids->part[id];
    return grec(f, &f->part[p], id - ids->base[p]);
}

/* The string of group record K (its partition's Q). */
static inline const char *rec_str(const gpp *q, const uint64_t *k)
{
    return k[0] <= 16 ? (const char *)&k[1] : (const char *)q->bytes.v + k[3];
}

static inline uint64_t shl(uint64_t x, int s)
{
    return s >= 64 ? 0 : x << s;
}

/* How short string keys pack into one word that orders as they do: its parts, the most
 * significant first, each one's offset from its smallest, shifted past the low bits no key varies
 * in (TZ), in BITS bits. Either three parts (short_part(): the first 8 bytes, the next 8, the
 * length) or, when that is narrower, each of the 16 bytes (zero past the key's end) and the length
 * apart: ids such as "id0000000001" (a common prefix, then digits, each byte 4 bits). */
typedef struct spack {
    int bytes;    /* 1: by byte (parts 0-15 the bytes, 16 the length); 0: short_part() */
    int n;        /* the parts that vary */
    int part[17]; /* which */
    int tz[17], bits[17];
    uint64_t mn[17];
    int total; /* bits in all */
} spack;

/* Part J of key record K as SP packs it. */
static inline uint64_t spack_part(const spack *sp, const uint64_t *k, int j)
{
    if (!sp->bytes) return short_part(k, j);
    return j == 16 ? k[0] : ((const unsigned char *)(k + 1))[j];
}

/* SP's part J from the smallest MN, largest MX and the bits VAR in which some key differs from
 * the first; its bits added to SP's total. */
static void spack_add(spack *sp, int j, uint64_t mn, uint64_t mx, uint64_t var)
{
    int tz = var ? __builtin_ctzll(var) : 0;
    uint64_t top = (mx - mn) >> tz;
    int bits = top ? 64 - __builtin_clzll(top) : 0;
    if (bits == 0) return;
    sp->part[sp->n] = j;
    sp->tz[sp->n] = tz;
    sp->bits[sp->n] = bits;
    sp->mn[sp->n++] = mn;
    sp->total += bits;
}

/* SP := the narrower way to pack the groups' short string keys (spack), from their kstats KS. */
static void pack_plan(const kstats *ks, spack *sp)
{
    spack w = {0}, b = {.bytes = 1};
    for (int j = 0; j < 3; j++) spack_add(&w, j, ks->mn[j], ks->mx[j], ks->var[j]);
    unsigned char vb[16]; /* (the bits of each byte that vary) */
    memcpy(vb, &ks->var[3], 16);
    for (int j = 0; j < 16; j++) spack_add(&b, j, ks->mn[3 + j], ks->mx[3 + j], vb[j]);
    spack_add(&b, 16, ks->mn[2], ks->mx[2], ks->var[2]);
    *sp = b.total < w.total ? b : w;
}

/* The groups' short string keys packed as SP says into W, each shifted left IB bits over its
 * group's number when NUMBERED (else the packed key alone). */
static void pack_short(const st_gpf *f, const gids *ids, const spack *sp, int numbered, int ib,
                       uint64_t *w)
{
#pragma omp parallel for num_threads(f->nt) schedule(static)
    for (uint64_t id = 0; id < ids->g; id++) {
        const uint64_t *k = group_rec(f, ids, id);
        uint64_t v = 0;
        for (int j = 0; j < sp->n; j++)
            v = shl(v, sp->bits[j]) | (spack_part(sp, k, sp->part[j]) - sp->mn[j]) >> sp->tz[j];
        w[id] = numbered ? shl(v, ib) | id : v;
    }
}

/* PERM := the groups of F, strings all of 16 bytes or fewer (each group's record holds them), in
 * bytewise order. When their packed keys (spack) and numbers fit in a word together: one sort of
 * those words over the bytes where the keys differ (the keys are distinct: the bytes of the
 * numbers alone need no pass), the numbers read back from their low bits; when the packed
 * keys alone fit: their argsort; else stable radix argsorts of their length, last 8 and first 8
 * bytes (big-endian, zero-padded: a string orders before the same bytes going on), on F's
 * threads. */
static int sort_short(const st_gpf *f, const gids *ids, uint64_t *perm, gscr *s)
{
    uint64_t g = ids->g, minlen = ids->minlen, maxlen = ids->maxlen;
    uint64_t *w = gs_take(s, (g + 1) * sizeof *w), *tmp = NULL;
    int rc = w != NULL ? STRATA_OK : STRATA_ENOMEM;
    spack sp = {.total = 65};
    if (rc == STRATA_OK && g > 0) pack_plan(&ids->ks, &sp);
    int ib = g > 1 ? 64 - __builtin_clzll(g - 1) : 0;
    if (rc == STRATA_OK && sp.total + ib <= 64) { /* one sort of keys and numbers */
        pack_short(f, ids, &sp, 1, ib, w);
        tmp = gs_take(s, (g + 1) * sizeof *tmp);
        uint64_t mask = ib > 0 ? ~(uint64_t)0 >> (64 - ib) : 0; /* (the numbers: no order to add) */
        rc = tmp != NULL
                 ? st_radix_pairs(w, NULL, tmp, NULL, g, st_key_diff(w, g, f->nt) & ~mask, f->nt)
                 : STRATA_ENOMEM;
#pragma omp parallel for num_threads(f->nt) schedule(static)
        for (uint64_t i = 0; i < g; i++) perm[i] = w[i] & mask;
        gs_drop(s, w);
        gs_drop(s, tmp);
        return rc;
    }
    if (rc == STRATA_OK && sp.total <= 64) { /* one argsort */
        pack_short(f, ids, &sp, 0, 0, w);
        rc = st_argsort(STRATA_U64, w, g, NULL, perm, 0, f->nt);
        gs_drop(s, w);
        return rc;
    }
    if (rc == STRATA_OK && (tmp = gs_take(s, (g + 1) * sizeof *tmp)) == NULL) rc = STRATA_ENOMEM;
    for (int pass = 0; pass < 3 && rc == STRATA_OK; pass++) {
        if (pass == 0 && minlen == maxlen) continue; /* one length: no order to add */
        if (pass == 1 && maxlen <= 8) continue;      /* no second word */
#pragma omp parallel for num_threads(f->nt) schedule(static)
        for (uint64_t id = 0; id < g; id++) {
            const uint64_t *k = group_rec(f, ids, id);
            w[id] = short_part(k, 2 - pass); /* the length, the second word, the first */
        }
        int first = pass == 0 || (pass == 1 && minlen == maxlen) ||
                    (pass == 2 && minlen == maxlen && maxlen <= 8);
        rc = st_argsort(STRATA_U64, w, g, first ? NULL : perm, tmp, 0, f->nt);
        memcpy(perm, tmp, g * sizeof *perm);
    }
    if (rc == STRATA_OK && minlen == maxlen && maxlen == 0)
        for (uint64_t i = 0; i < g; i++) perm[i] = i; /* (one group at most) */
    gs_drop(s, w);
    gs_drop(s, tmp);
    return rc;
}

/* PERM := the groups of F in key order: integers by their argsort; strings of 16 bytes or
 * fewer by sort_short(), longer ones gathered (offsets and bytes) for the general string sort. */
static int sort_groups(const st_gpf *f, const gids *ids, uint64_t *perm, gscr *s)
{
    if (f->str && ids->maxlen <= 16) return sort_short(f, ids, perm, s);
    uint64_t np = (uint64_t)1 << f->bits, g = ids->g, nb = 0;
    for (uint64_t p = 0; f->str && p < np; p++) nb += f->part[p].kbytes;
    int64_t *keys = gs_take(s, (g + 1) * sizeof *keys); /* integers: the keys; strings: offsets */
    char *bytes = f->str ? gs_take(s, nb + 1) : NULL;
    int rc = keys && (!f->str || bytes) ? STRATA_OK : STRATA_ENOMEM;
    uint64_t nint = f->str || rc != STRATA_OK ? 0 : np; /* integers: the keys */
#pragma omp parallel for num_threads(f->nt) schedule(static)
    for (uint64_t p = 0; p < nint; p++)
        for (uint64_t l = 0; l < f->part[p].n; l++)
            keys[ids->base[p] + l] = (int64_t)grec(f, &f->part[p], l)[0];
    for (uint64_t p = 0, o = 0; p < np && f->str && rc == STRATA_OK; p++) {
        const gpp *q = &f->part[p];
        for (uint64_t l = 0; l < q->n; l++) {
            const uint64_t *k = grec(f, q, l);
            keys[ids->base[p] + l] = (int64_t)o;
            memcpy(bytes + o, rec_str(q, k), k[0]);
            o += k[0];
        }
    }
    if (rc == STRATA_OK && f->str) keys[g] = (int64_t)nb;
    if (rc == STRATA_OK)
        rc = f->str ? st_argsort_str(keys, bytes, g, NULL, perm, 0)
                    : st_argsort(STRATA_I64, keys, g, NULL, perm, 0, f->nt);
    gs_drop(s, keys);
    gs_drop(s, bytes);
    return rc;
}

/* PERM := the groups of F in key order, its partitions by range (each one's keys below the
 * next's): each partition's groups sorted alone, on F's threads, in the caches. A partition's
 * keys as offsets from its smallest above the group's number in it (distinct: LSD radix passes
 * over their words order them; vqsort measured no faster on these), or when they need more than
 * 64 bits together, by an argsort of the keys. STRATA_ENOMEM. */
static int sort_parts(const st_gpf *f, const gids *ids, uint64_t *perm)
{
    int64_t np = (int64_t)1 << f->bits;
    int rc = STRATA_OK;
#pragma omp parallel num_threads(f->nt) reduction(min : rc)
    {
        uint64_t *w = NULL, *tw = NULL; /* room for the largest partition the thread takes */
        size_t wn = 0, twn = 0;
        int r = STRATA_OK;
#pragma omp for schedule(dynamic, 8)
        for (int64_t p = 0; p < np; p++) {
            const gpp *q = &f->part[p];
            uint64_t n = q->n, base = ids->base[p], lo = UINT64_MAX, hi = 0;
            if (r == STRATA_OK && (!st_groom((void **)&w, &wn, n * sizeof *w) ||
                                   !st_groom((void **)&tw, &twn, n * sizeof *tw)))
                r = STRATA_ENOMEM;
            if (r != STRATA_OK || n == 0) continue;
            for (uint64_t l = 0; l < n; l++) { /* (offsets from the smallest as unsigned) */
                uint64_t k = grec(f, q, l)[0] ^ ((uint64_t)1 << 63);
                lo = k < lo ? k : lo;
                hi = k > hi ? k : hi;
            }
            int ib = n > 1 ? 64 - __builtin_clzll(n - 1) : 0;
            int vb = hi > lo ? 64 - __builtin_clzll(hi - lo) : 0;
            if (vb + ib > 64) { /* (keys of a partition spread past 2^(64 - IB)) */
                for (uint64_t l = 0; l < n; l++) tw[l] = grec(f, q, l)[0];
                r = st_argsort(STRATA_I64, tw, n, NULL, w, 0, 1);
                for (uint64_t i = 0; i < n && r == STRATA_OK; i++) perm[base + i] = base + w[i];
                continue;
            }
            for (uint64_t l = 0; l < n; l++)
                w[l] = ((grec(f, q, l)[0] ^ ((uint64_t)1 << 63)) - lo) << ib | l;
            uint64_t mask = ib > 0 ? ~(uint64_t)0 >> (64 - ib) : 0; /* (the numbers: no order) */
            r = st_radix_pairs(w, NULL, tw, NULL, n, st_key_diff(w, n, 1) & ~mask, 1);
            for (uint64_t i = 0; i < n; i++) perm[base + i] = base + (w[i] & mask);
        }
        st_free_big(w);
        st_free_big(tw);
        rc = r < rc ? r : rc;
    }
    return rc;
}

/* D's offsets for the string keys of the groups in the order PERM, and room for their bytes
 * (written by st_gpf_end()). */
static int dict_room(const st_gpf *f, const gids *ids, const uint64_t *perm, st_gdict *d)
{
    uint64_t g = ids->g;
    d->off = malloc((g + 1) * sizeof *d->off);
    if (d->off == NULL) return STRATA_ENOMEM;
    d->off[0] = 0;
    if (ids->minlen == ids->maxlen) { /* one length: no record to read */
#pragma omp parallel for num_threads(f->nt) schedule(static)
        for (uint64_t k = 0; k < g; k++) d->off[k + 1] = (int64_t)((k + 1) * ids->maxlen);
    } else {
#pragma omp parallel for num_threads(f->nt) schedule(static)
        for (uint64_t k = 0; k < g; k++) d->off[k + 1] = (int64_t)group_rec(f, ids, perm[k])[0];
        for (uint64_t k = 0; k < g; k++) d->off[k + 1] += d->off[k];
    }
    d->bytes = malloc((size_t)d->off[g] + 1);
    d->n = g;
    return d->bytes != NULL ? STRATA_OK : STRATA_ENOMEM;
}

int st_gpf_end(st_gpf *f, st_groups *out)
{
    if (f->npend > 0) {
        int rc = flush(f);
        if (rc < 0) return rc;
    }
    /* the groups' arrays in the rows' buffer when its pages, in already and of no use now, hold
     * them (a million groups of three aggregates: 120 MB, 30 000 pages not faulted in), and the
     * arrays that put them in order past them (gscr); its pages past the groups' arrays given
     * back at the end */
    uint64_t np = (uint64_t)1 << f->bits, ng = 0, cap = 0, *perm = NULL;
    for (uint64_t p = 0; p < np; p++) ng += f->part[p].n;
    ng = ng ? ng : 1;
    size_t need = (st_groups_carve_bytes(out, ng) + 63) & ~(size_t)63, block_n = f->rec_n;
    void *block = f->rec != NULL && need <= f->touched ? f->rec : NULL;
    gscr s = {0};
    if (block != NULL) { /* (OUT's once carved, else freed below) */
        s = (gscr){(char *)block, (char *)block + need, (char *)block + f->touched};
        f->rec = NULL;
        f->rec_n = f->touched = 0;
    }
    gids ids = {0};
    int rc = number_groups(f, &ids, &s);
    if (rc == STRATA_OK && (perm = gs_take(&s, (ids.g + 1) * sizeof *perm)) == NULL)
        rc = STRATA_ENOMEM;
    if (rc == STRATA_OK)
        rc = f->byrange ? sort_parts(f, &ids, perm) : sort_groups(f, &ids, perm, &s);
    st_gdict *d = f->str ? &out->kdict[0] : NULL;
    if (rc == STRATA_OK && d != NULL) rc = dict_room(f, &ids, perm, d);
    if (rc == STRATA_OK && block != NULL)
        st_groups_carve(out, block, ng);
    else if (rc == STRATA_OK)
        rc = st_groups_grow(out, &cap, ng);
    if (rc == STRATA_OK) { /* written in key order, each group's record fetched ahead */
        uint64_t g = ids.g;
#pragma omp parallel for num_threads(f->nt) schedule(static)
        for (uint64_t k = 0; k < g; k++) {
            if (k + 32 < g) __builtin_prefetch(&ids.part[perm[k + 32]]); /* (its partition) */
            if (k + 8 < g) { /* (both lines of a record of more than 8 words) */
                const uint64_t *ahead = group_rec(f, &ids, perm[k + 8]);
                __builtin_prefetch(ahead);
                if (f->gw > 8) __builtin_prefetch(ahead + 8);
            }
            uint64_t id = perm[k], p = ids.part[id], l = id - ids.base[p];
            const gpp *q = &f->part[p];
            const uint64_t *r = grec(f, q, l);
            put_group(f, q, l, out, k, d != NULL ? (int64_t)k : (int64_t)r[0]);
            if (d != NULL) memcpy(d->bytes + d->off[k], rec_str(q, r), r[0]);
        }
        out->n = g;
    }
    gs_drop(&s, ids.base);
    gs_drop(&s, ids.part);
    gs_drop(&s, perm);
    if (block != NULL && out->block == block)
        st_trim_big(block, need, block_n);
    else
        st_free_big(block);
    return rc;
}
