/*
 * fmap.c -- plain files a pool keeps mapped, for a process that keeps its pool open and reads
 * regions again and again (a viewer, a server, an analysis loop): a read then copies the bytes
 * it wants from pages already mapped, instead of opening, reading through the kernel and closing
 * every file, or faulting in and tearing down a fresh mapping each time.
 *
 * Only immutable files go in (chunk files, whose name is new with every version): an entry never
 * goes stale. A file read once is only remembered; its second read maps it (a process that reads
 * each file once pays no mapping). Lookups by path through an open-addressed table of path hashes;
 * the least recently used entries no read holds are unmapped, EVICT_BATCH at a time, when the
 * cache passes ST_FMAP_ENTRIES files or ST_FMAP_BYTES bytes of mappings (ndarray does not use it
 * for a read of more files than half that). A file removed while mapped keeps its pages until its
 * entry goes (at the latest when the pool closes). A mutex guards the cache: the chunk files of a
 * read are read on the pool's threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "pool/pool_int.h"

/* An entry: allocated by itself, so that a read holding its mapping keeps a valid pointer while
 * other entries come and go. */
typedef struct fent {
    uint64_t hash;
    st_fmap m;
    int refs;
    uint64_t used; /* the cache's clock at its last use */
    char path[];
} fent;

struct st_fmaps {
    pthread_mutex_t mu;
    fent *e[ST_FMAP_ENTRIES];
    int n;
    int slot[2 * ST_FMAP_ENTRIES]; /* entry + 1; 0: empty */
    size_t bytes;
    uint64_t clock;
};

#define NSLOT (2 * ST_FMAP_ENTRIES)

st_fmaps *st_fmaps_new(void)
{
    st_fmaps *c = calloc(1, sizeof *c);
    if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void st_fmaps_free(st_fmaps *c)
{
    if (c == NULL) return;
    for (int i = 0; i < c->n; i++) {
        if (c->e[i]->m.data != NULL) munmap((void *)c->e[i]->m.data, c->e[i]->m.size);
        free(c->e[i]);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The slot of PATH (hash H) in C's table: its entry's, or the empty one it would take. */
static int find_slot(const st_fmaps *c, const char *path, uint64_t h)
{
    int s = (int)(h & (NSLOT - 1));
    while (c->slot[s] != 0) {
        const fent *e = c->e[c->slot[s] - 1];
        if (e->hash == h && strcmp(e->path, path) == 0) break;
        s = (s + 1) & (NSLOT - 1);
    }
    return s;
}

static void rehash(st_fmaps *c)
{
    memset(c->slot, 0, sizeof c->slot);
    for (int i = 0; i < c->n; i++) c->slot[find_slot(c, c->e[i]->path, c->e[i]->hash)] = i + 1;
}

/* Entries are let go in batches of this many (or all there are to let go): a scan and a rehash
 * of the table serve them all, so that a read of many more files than the cache keeps pays a
 * fraction of a microsecond a file for it. */
#define EVICT_BATCH 64
_Static_assert(ST_FMAP_ENTRIES <= 1024, "make_room keeps an entry's index in 10 bits");

static int by_use(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Make room for one more entry (ENTRY) and NEED more bytes of mappings: the least recently used
 * entries no read holds are unmapped, at least EVICT_BATCH of them when entries are short.
 * Returns 0 when the entries held leave no room. */
static int make_room(st_fmaps *c, int entry, size_t need)
{
    int short_of_entries = entry && c->n == ST_FMAP_ENTRIES;
    if (!short_of_entries && c->bytes + need <= ST_FMAP_BYTES) return 1;
    uint64_t use[ST_FMAP_ENTRIES]; /* (clock << 10) | entry: the clock is far below 2^54 */
    int m = 0, gone = 0;
    for (int i = 0; i < c->n; i++)
        if (c->e[i]->refs == 0) use[m++] = c->e[i]->used << 10 | (uint64_t)i;
    qsort(use, (size_t)m, sizeof *use, by_use);
    for (int k = 0; k < m; k++) {
        int enough = c->bytes + need <= ST_FMAP_BYTES && (!short_of_entries || gone >= EVICT_BATCH);
        if (enough) break;
        fent *e = c->e[use[k] & 1023];
        if (e->m.data != NULL) munmap((void *)e->m.data, e->m.size);
        c->bytes -= e->m.size;
        free(e);
        c->e[use[k] & 1023] = NULL;
        gone++;
    }
    int n = 0;
    for (int i = 0; i < c->n; i++)
        if (c->e[i] != NULL) c->e[n++] = c->e[i];
    c->n = n;
    rehash(c);
    return (!entry || c->n < ST_FMAP_ENTRIES) && c->bytes + need <= ST_FMAP_BYTES;
}

const st_fmap *st_fmaps_find(st_fmaps *c, const char *path)
{
    if (c == NULL) return NULL;
    uint64_t h = XXH64(path, strlen(path), 0);
    pthread_mutex_lock(&c->mu);
    int s = find_slot(c, path, h);
    const st_fmap *m = NULL;
    if (c->slot[s] != 0 && c->e[c->slot[s] - 1]->m.data != NULL) {
        fent *e = c->e[c->slot[s] - 1];
        e->refs++;
        e->used = ++c->clock;
        m = &e->m;
    }
    pthread_mutex_unlock(&c->mu);
    return m;
}

void st_fmaps_release(st_fmaps *c, const st_fmap *m)
{
    if (c == NULL || m == NULL) return;
    pthread_mutex_lock(&c->mu);
    fent *e = (fent *)(void *)((char *)(uintptr_t)m - offsetof(fent, m));
    e->refs--;
    pthread_mutex_unlock(&c->mu);
}

void st_fmaps_keep(st_fmaps *c, const char *path, int fd, size_t size)
{
    if (c == NULL || size == 0 || size > ST_FMAP_BYTES) return;
    uint64_t h = XXH64(path, strlen(path), 0);
    pthread_mutex_lock(&c->mu);
    int s = find_slot(c, path, h);
    fent *e = c->slot[s] != 0 ? c->e[c->slot[s] - 1] : NULL;
    if (e == NULL) { /* read once: remembered, mapped if read again */
        int ok = make_room(c, 1, 0);
        size_t len = strlen(path) + 1;
        fent *n = ok ? malloc(sizeof *n + len) : NULL;
        if (n != NULL) {
            *n = (fent){.hash = h, .used = ++c->clock};
            memcpy(n->path, path, len);
            c->e[c->n] = n;
            c->slot[find_slot(c, path, h)] = ++c->n;
        }
    } else if (e->m.data == NULL) {
        e->used = ++c->clock;
        e->refs++; /* not evicted to make room for itself */
        int ok = make_room(c, 0, size);
        e->refs--;
        void *d = ok ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (d != MAP_FAILED) {
            e->m = (st_fmap){d, size};
            c->bytes += size;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
