/*
 * catalog_ndm.c -- manifests: what a read of an N-d array needs from an SQLite catalog, in one
 * small file, so that opening a pool and reading a region does not connect to SQLite (whose
 * connection and schema parse cost more than HDF5's whole open, read and close).
 *
 * A manifest is a cache of the catalog, never a second record: the catalog stays the only
 * source of truth, and the rule is "a manifest that exists is current".
 *   - It is made only by st_cat_ndm_make(), under the catalog's write lock (BEGIN IMMEDIATE),
 *     from what the catalog says then: written to a temporary file and renamed into place
 *     before the lock is let go.
 *   - Every change to what it holds (a write's commit, a chunk's migration, a new tier for new
 *     data, a delete) unlinks it inside the changing transaction, under the same lock, before
 *     the commit (st_cat_ndm_drop(), with the directory synced when a file went), so no commit
 *     can leave one that is stale, crash or not.
 *   - It names the catalog file it was made from (device and inode): a catalog restored from a
 *     copy, or moved, disowns every manifest made from another.
 *   - Anything wrong with one (missing, short, a bad checksum, another array's) means "none":
 *     the reader asks the catalog, as it did before manifests existed.
 * Arrays with a chunk on an archive tier (which is read through staged copies) or with more
 * than ST_NDM_MAX_CHUNKS chunks get one that says so, so that their readers do not try to make
 * one at every open. PostgreSQL catalogs use none: their pools may sit on
 * file systems whose unlink and rename other nodes see late.
 *
 * Location: CATALOG-nd/HASH beside the catalog file (CATALOG-wal, CATALOG-shm), HASH the 16 hex
 * digits of XXH64(region NUL name). Layout (native byte order, checked by a marker):
 *     "STRATAND" u32 format u32 0x01020304 u64 catalog-dev u64 catalog-ino str region, name
 *     i32 usable: 0 says "ask the catalog" (an archive tier, too many chunks), and nothing
 *             follows but the checksum; 1:
 *     array:  i64 id, region_id; str region, region_dir, name, dir; i32 dtype, ndims, layout,
 *             unlimited, zstd; u64 dims[ndims], chunk[ndims]; u8 fill[8]; i64 tier_id,
 *             version, created_ns
 *     u32 ntiers, each: i64 id; i32 kind; str name, path
 *     u64 nchunks, each (by increasing index): i64 idx, tier_id; str file; u64 bytes,
 *             checksum; f64 min, max; i64 version
 *     u64 XXH64 of everything before it
 * where str is a u16 length and that many bytes (no NUL).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "catalog/catalog_int.h"
#include "util/fileio.h"
#include "util/vec.h"

#define NDM_MAGIC  "STRATAND"
#define NDM_FORMAT 1
#define NDM_BOM    0x01020304u

/* ---- the path ------------------------------------------------------------------------------- */

/* The manifests' directory of the SQLite catalog at W. */
static int dir_of(const st_cat_loc *w, char out[ST_PATH_MAX])
{
    return st_path(NULL, out, "%s-nd", w->path);
}

/* The file name of the manifest of REGION/NAME (16 hex digits). */
static int name_of(const char *region, const char *name, char out[17])
{
    char key[2 * (STRATA_NAME_MAX + 1)];
    size_t lr = strlen(region), ln = strlen(name);
    if (lr > STRATA_NAME_MAX || ln > STRATA_NAME_MAX) return STRATA_EINVAL;
    memcpy(key, region, lr + 1);
    memcpy(key + lr + 1, name, ln);
    snprintf(out, 17, "%016" PRIx64, (uint64_t)XXH64(key, lr + 1 + ln, 0));
    return STRATA_OK;
}

/* Its directory, file name and whole path. */
static int ndm_path(const st_catalog *cat, const char *region, const char *name,
                    char dir[ST_PATH_MAX], char file[17], char path[ST_PATH_MAX])
{
    if (dir_of(&cat->loc, dir) < 0 || name_of(region, name, file) < 0) return STRATA_EINVAL;
    return st_path(NULL, path, "%s/%s", dir, file);
}

int st_cat_ndm_dir(const st_catalog *cat, char out[ST_PATH_MAX])
{
    if (cat->loc.pg) return STRATA_ENOTFOUND;
    return dir_of(&cat->loc, out);
}

void st_cat_ndm_remove_all(const st_cat_loc *w)
{
    char dir[ST_PATH_MAX];
    if (!w->pg && dir_of(w, dir) == STRATA_OK) st_rm_tree(NULL, dir);
}

/* ---- writing -------------------------------------------------------------------------------- */

/* The bytes being written: a vector of chars, and whether it ran out of memory. */
typedef struct wbuf {
    st_vec v;
    int oom;
} wbuf;

static void put(wbuf *b, const void *v, size_t n)
{
    char *at = b->oom ? NULL : st_vec_grow(&b->v, n);
    if (at == NULL)
        b->oom = 1;
    else
        memcpy(at, v, n);
}

static void put_i64(wbuf *b, int64_t v)
{
    put(b, &v, 8);
}

static void put_i32(wbuf *b, int32_t v)
{
    put(b, &v, 4);
}

static void put_str(wbuf *b, const char *s)
{
    size_t n = strlen(s);
    uint16_t l = (uint16_t)n;
    put(b, &l, 2);
    put(b, s, n);
}

static void put_head(wbuf *b, const struct stat *cst, const char *region, const char *name,
                     int usable)
{
    put(b, NDM_MAGIC, 8);
    put_i32(b, NDM_FORMAT);
    put_i32(b, (int32_t)NDM_BOM);
    put_i64(b, (int64_t)cst->st_dev);
    put_i64(b, (int64_t)cst->st_ino);
    put_str(b, region);
    put_str(b, name);
    put_i32(b, usable);
}

static void put_sum(wbuf *b)
{
    put_i64(b, (int64_t)XXH64(b->v.v, b->oom ? 0 : b->v.n, 0));
}

static void put_manifest(wbuf *b, const struct stat *cst, const st_cat_nd *r, const st_vec *tiers,
                         const st_vec *chunks)
{
    put_head(b, cst, r->region, r->name, 1);
    put_i64(b, r->id);
    put_i64(b, r->region_id);
    put_str(b, r->region);
    put_str(b, r->region_dir);
    put_str(b, r->name);
    put_str(b, r->dir);
    int32_t ints[5] = {r->dtype, r->ndims, r->layout, r->unlimited, r->zstd};
    put(b, ints, sizeof ints);
    put(b, r->dims, 8 * (size_t)r->ndims);
    put(b, r->chunk, 8 * (size_t)r->ndims);
    put(b, r->fill, 8);
    put_i64(b, r->tier_id);
    put_i64(b, r->version);
    put_i64(b, r->created_ns);
    const st_cat_tier *t = tiers->v;
    put_i32(b, (int32_t)tiers->n);
    for (size_t i = 0; i < tiers->n; i++) {
        put_i64(b, t[i].id);
        put_i32(b, t[i].kind);
        put_str(b, t[i].name);
        put_str(b, t[i].path);
    }
    const st_cat_chunk *c = chunks->v;
    put_i64(b, (int64_t)chunks->n);
    for (size_t i = 0; i < chunks->n; i++) {
        put_i64(b, c[i].idx);
        put_i64(b, c[i].tier_id);
        put_str(b, c[i].file);
        put_i64(b, (int64_t)c[i].bytes);
        put_i64(b, (int64_t)c[i].checksum);
        put(b, &c[i].min, 8);
        put(b, &c[i].max, 8);
        put_i64(b, c[i].version);
    }
    put_sum(b);
}

typedef struct gather {
    st_vec *chunks;
    int staged;
} gather;

static int gather_chunk(void *ctx, const st_cat_chunk *c)
{
    gather *g = ctx;
    if (c->staged_tier != 0) g->staged = 1;
    st_cat_chunk *d = st_vec_push(g->chunks);
    if (d == NULL) return STRATA_ENOMEM;
    *d = *c;
    return g->chunks->n > ST_NDM_MAX_CHUNKS ? STRATA_ERANGE : 0;
}

/* The tiers CHUNKS live on, into TIERS; STRATA_ERANGE when one is an archive. */
static int gather_tiers(st_err *err, st_catalog *cat, const st_vec *chunks, st_vec *tiers)
{
    const st_cat_chunk *c = chunks->v;
    for (size_t i = 0; i < chunks->n; i++) {
        const st_cat_tier *t = tiers->v;
        size_t k = 0;
        while (k < tiers->n && t[k].id != c[i].tier_id) k++;
        if (k < tiers->n) continue;
        if (tiers->n >= ST_NDM_MAX_TIERS) return STRATA_ERANGE;
        st_cat_tier *nt = st_vec_push(tiers);
        if (nt == NULL) return STRATA_ENOMEM;
        int rc = st_cat_tier_get_id(err, cat, c[i].tier_id, nt);
        if (rc < 0) return rc;
        if (nt->kind == STRATA_TIER_ARCHIVE) return STRATA_ERANGE;
    }
    return STRATA_OK;
}

/* Write B as the manifest DIR/FILE: a temporary file, synced (after a power cut the name never
 * shows another file's blocks), renamed. */
static int write_file(st_err *err, const char *dir, const char *file, const wbuf *b)
{
    st_wfile w;
    int rc;
    ST_TRY(rc = st_mkdir(err, dir, 1));
    ST_TRY(rc = st_wfile_open(err, &w, dir));
    if ((rc = st_pwrite_full(err, w.fd, b->v.v, b->v.n, 0, w.tmp)) < 0) {
        st_wfile_abort(&w);
        goto done;
    }
    rc = st_wfile_publish(err, &w, dir, file);
done:
    return rc;
}

/* Under the write lock: the manifest of REGION/NAME from what the catalog says now. */
static int make_locked(st_err *err, st_catalog *cat, const char *region, const char *name,
                       st_vec *tiers, st_vec *chunks)
{
    st_cat_nd rec;
    struct stat cst;
    char dir[ST_PATH_MAX], file[17], path[ST_PATH_MAX];
    int rc = ndm_path(cat, region, name, dir, file, path);
    if (rc < 0) return rc;
    if (stat(cat->loc.path, &cst) != 0) return STRATA_EIO;
    ST_TRY(rc = st_cat_nd_get(err, cat, region, name, &rec));
    gather g = {chunks, 0};
    rc = st_cat_nd_chunks(err, cat, rec.id, 0, INT64_MAX, gather_chunk, &g);
    if (rc == STRATA_OK && g.staged) rc = STRATA_ERANGE;
    if (rc == STRATA_OK) rc = gather_tiers(err, cat, chunks, tiers);
    if (rc < 0 && rc != STRATA_ERANGE) goto done;
    wbuf b = {ST_VEC(char), 0};
    if (rc == STRATA_ERANGE) { /* "ask the catalog" */
        put_head(&b, &cst, region, name, 0);
        put_sum(&b);
    } else {
        put_manifest(&b, &cst, &rec, tiers, chunks);
    }
    int wr = b.oom ? STRATA_ENOMEM : write_file(err, dir, file, &b);
    st_vec_free(&b.v);
    if (wr < 0) rc = wr;
done:
    return rc;
}

int st_cat_ndm_make(st_catalog *cat, const char *region, const char *name)
{
    if (cat->loc.pg || st_db_in_tx(cat->db)) return STRATA_EUNSUPPORTED;
    st_err err; /* a cache not made is no failure of the caller's: its messages are dropped */
    st_err_init(&err);
    st_vec tiers = ST_VEC(st_cat_tier), chunks = ST_VEC(st_cat_chunk);
    int busy = cat->busy_ms;
    st_cat_set_busy_timeout(cat, 0); /* a writer at work: next time */
    int rc = st_cat_begin(&err, cat);
    st_cat_set_busy_timeout(cat, busy);
    if (rc == STRATA_OK) {
        rc = make_locked(&err, cat, region, name, &tiers, &chunks);
        st_cat_rollback(cat); /* nothing was written: the lock goes */
    }
    st_vec_free(&tiers);
    st_vec_free(&chunks);
    st_err_destroy(&err);
    return rc;
}

/* ---- dropping ------------------------------------------------------------------------------- */

int st_cat_ndm_drop(st_err *err, st_catalog *cat, const char *region, const char *name)
{
    if (cat->loc.pg) return STRATA_OK;
    char dir[ST_PATH_MAX], file[17], path[ST_PATH_MAX];
    if (ndm_path(cat, region, name, dir, file, path) < 0) return STRATA_OK; /* no such name */
    if (unlink(path) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return STRATA_OK;
        return st_error_errno(err, errno,
                              "cannot remove the manifest '%s' of N-d array '%s/%s' (nothing "
                              "was changed; remove the file by hand)",
                              path, region, name);
    }
    return st_fsync_dir(err, dir); /* gone before the commit that makes it stale */
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;
} rbuf;

static void get(rbuf *b, void *v, size_t n)
{
    if (b->bad || n > b->n - b->at) {
        b->bad = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, b->p + b->at, n);
    b->at += n;
}

static int64_t get_i64(rbuf *b)
{
    int64_t v;
    get(b, &v, 8);
    return v;
}

static int32_t get_i32(rbuf *b)
{
    int32_t v;
    get(b, &v, 4);
    return v;
}

/* A string into OUT of CAP bytes (NUL-terminated): one that does not fit, or holds a NUL, is
 * bad. */
static void get_str(rbuf *b, char *out, size_t cap)
{
    uint16_t l = 0;
    get(b, &l, 2);
    if (b->bad || (size_t)l >= cap || l > b->n - b->at || memchr(b->p + b->at, 0, l) != NULL) {
        b->bad = 1;
        out[0] = '\0';
        return;
    }
    memcpy(out, b->p + b->at, l);
    out[l] = '\0';
    b->at += l;
}

static int parse_rec(rbuf *b, st_cat_nd *r)
{
    memset(r, 0, sizeof *r);
    r->id = get_i64(b);
    r->region_id = get_i64(b);
    get_str(b, r->region, sizeof r->region);
    get_str(b, r->region_dir, sizeof r->region_dir);
    get_str(b, r->name, sizeof r->name);
    get_str(b, r->dir, sizeof r->dir);
    int32_t ints[5];
    get(b, ints, sizeof ints);
    r->dtype = ints[0];
    r->ndims = ints[1];
    r->layout = ints[2];
    r->unlimited = ints[3];
    r->zstd = ints[4];
    if (b->bad || r->ndims < 1 || r->ndims > ST_ND_MAXDIMS) return STRATA_ECORRUPT;
    if (strata_dtype_size((strata_dtype)r->dtype) == 0) return STRATA_ECORRUPT;
    if (r->layout < STRATA_LAYOUT_CHUNKED || r->layout > STRATA_LAYOUT_COL) return STRATA_ECORRUPT;
    get(b, r->dims, 8 * (size_t)r->ndims);
    get(b, r->chunk, 8 * (size_t)r->ndims);
    for (int d = 0; d < r->ndims; d++)
        if (r->layout == STRATA_LAYOUT_CHUNKED && r->chunk[d] == 0) return STRATA_ECORRUPT;
    get(b, r->fill, 8);
    r->tier_id = get_i64(b);
    r->version = get_i64(b);
    r->created_ns = get_i64(b);
    return b->bad ? STRATA_ECORRUPT : STRATA_OK;
}

static int parse_tiers(rbuf *b, st_ndm *m)
{
    int32_t n = get_i32(b);
    /* each tier takes at least 16 bytes */
    if (b->bad || n < 0 || n > ST_NDM_MAX_TIERS || (size_t)n > (b->n - b->at) / 16)
        return STRATA_ECORRUPT;
    m->tiers = calloc(n ? (size_t)n : 1, sizeof *m->tiers);
    if (m->tiers == NULL) return STRATA_ENOMEM;
    m->ntiers = n;
    for (int i = 0; i < n; i++) {
        st_cat_tier *t = &m->tiers[i];
        t->id = get_i64(b);
        t->kind = get_i32(b);
        get_str(b, t->name, sizeof t->name);
        get_str(b, t->path, sizeof t->path);
        if (t->kind == STRATA_TIER_ARCHIVE) return STRATA_ECORRUPT;
    }
    return b->bad ? STRATA_ECORRUPT : STRATA_OK;
}

static int parse_chunks(rbuf *b, st_ndm *m)
{
    int64_t n = get_i64(b);
    /* each chunk takes at least 58 bytes */
    if (b->bad || n < 0 || n > ST_NDM_MAX_CHUNKS || (uint64_t)n > (b->n - b->at) / 58)
        return STRATA_ECORRUPT;
    m->chunks = calloc(n ? (size_t)n : 1, sizeof *m->chunks);
    if (m->chunks == NULL) return STRATA_ENOMEM;
    m->n = (size_t)n;
    for (size_t i = 0; i < m->n; i++) {
        st_cat_chunk *c = &m->chunks[i];
        c->idx = get_i64(b);
        c->tier_id = get_i64(b);
        get_str(b, c->file, sizeof c->file);
        c->bytes = (uint64_t)get_i64(b);
        c->checksum = (uint64_t)get_i64(b);
        get(b, &c->min, 8);
        get(b, &c->max, 8);
        c->version = get_i64(b);
        if (b->bad || c->idx < 0 || (i > 0 && c->idx <= c[-1].idx)) return STRATA_ECORRUPT;
        int known = 0;
        for (int t = 0; t < m->ntiers && !known; t++) known = m->tiers[t].id == c->tier_id;
        if (!known) return STRATA_ECORRUPT;
    }
    return STRATA_OK;
}

int st_ndm_parse(const void *buf, size_t len, st_ndm **out)
{
    *out = NULL;
    const unsigned char *p = buf;
    if (len < 32 + 8 || memcmp(p, NDM_MAGIC, 8) != 0) return STRATA_ECORRUPT;
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (XXH64(p, len - 8, 0) != sum) return STRATA_ECORRUPT;
    rbuf b = {p, len - 8, 8, 0};
    if (get_i32(&b) != NDM_FORMAT || (uint32_t)get_i32(&b) != NDM_BOM) return STRATA_ECORRUPT;
    st_ndm *m = calloc(1, sizeof *m);
    if (m == NULL) return STRATA_ENOMEM;
    m->fd = -1;
    m->cat_dev = (uint64_t)get_i64(&b);
    m->cat_ino = (uint64_t)get_i64(&b);
    get_str(&b, m->region, sizeof m->region);
    get_str(&b, m->name, sizeof m->name);
    int32_t usable = get_i32(&b);
    int rc = b.bad || (usable != 0 && usable != 1) ? STRATA_ECORRUPT : STRATA_OK;
    m->usable = usable;
    if (rc < 0 || !usable) goto end;
    ST_TRY(rc = parse_rec(&b, &m->rec));
    if (strcmp(m->rec.region, m->region) != 0 || strcmp(m->rec.name, m->name) != 0) {
        rc = STRATA_ECORRUPT;
        goto done;
    }
    ST_TRY(rc = parse_tiers(&b, m));
    ST_TRY(rc = parse_chunks(&b, m));
end:
    if (rc == STRATA_OK && b.at != b.n) rc = STRATA_ECORRUPT; /* bytes left over */
done:
    if (rc < 0) {
        st_ndm_free(m);
        return rc;
    }
    *out = m;
    return STRATA_OK;
}

void st_ndm_free(st_ndm *m)
{
    if (m == NULL) return;
    if (m->fd >= 0) close(m->fd);
    free(m->tiers);
    free(m->chunks);
    free(m);
}

/* The manifest file open at FD, of at most ST_NDM_MAX_BYTES. */
static int read_fd(int fd, const struct stat *st, st_ndm **out)
{
    if (st->st_size <= 0 || st->st_size > ST_NDM_MAX_BYTES) return STRATA_ECORRUPT;
    size_t n = (size_t)st->st_size;
    char small[8192];
    char *buf = n <= sizeof small ? small : malloc(n);
    if (buf == NULL) return STRATA_ENOMEM;
    int rc = st_pread_full(NULL, fd, buf, n, 0, "manifest");
    if (rc == STRATA_OK) rc = st_ndm_parse(buf, n, out);
    if (buf != small) free(buf);
    return rc;
}

int st_cat_ndm_load(st_catalog *cat, const char *region, const char *name, st_ndm **out)
{
    *out = NULL;
    if (cat->loc.pg) return STRATA_ENOTFOUND;
    st_ndm *m = NULL;
    char dir[ST_PATH_MAX], file[17], path[ST_PATH_MAX];
    struct stat st, cst;
    if (ndm_path(cat, region, name, dir, file, path) < 0) return STRATA_ENOTFOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return STRATA_ENOTFOUND;
    int rc = fstat(fd, &st) == 0 ? read_fd(fd, &st, &m) : STRATA_EIO;
    /* made from this catalog file, for this array */
    if (rc == STRATA_OK && (stat(cat->loc.path, &cst) != 0 || (uint64_t)cst.st_dev != m->cat_dev ||
                            (uint64_t)cst.st_ino != m->cat_ino || strcmp(m->region, region) != 0 ||
                            strcmp(m->name, name) != 0))
        rc = STRATA_ENOTFOUND;
    if (rc < 0) {
        close(fd);
        st_ndm_free(m);
        return STRATA_ENOTFOUND;
    }
    memcpy(m->path, path, sizeof m->path);
    m->fd = fd; /* held: its inode stays its own while the manifest is */
    if (!m->usable) {
        st_ndm_free(m);
        return STRATA_ERANGE;
    }
    *out = m;
    return STRATA_OK;
}

int st_ndm_current(const st_ndm *m)
{
    /* a drop unlinks the file, a remake renames another over it: either leaves it no name */
    struct stat st;
    return m->fd >= 0 && fstat(m->fd, &st) == 0 && st.st_nlink > 0;
}

/* ---- checking ------------------------------------------------------------------------------- */

/* How manifest M differs from array REC and its chunks C[N] in the catalog ("" when it does
 * not), into WHY. */
static void differs(const st_ndm *m, const st_cat_nd *rec, const st_cat_chunk *c, size_t n,
                    char *why, size_t cap)
{
    const st_cat_nd *a = &m->rec;
    why[0] = '\0';
    int same = a->id == rec->id && a->version == rec->version && a->ndims == rec->ndims &&
               a->dtype == rec->dtype && a->layout == rec->layout && a->zstd == rec->zstd &&
               a->tier_id == rec->tier_id && strcmp(a->region_dir, rec->region_dir) == 0 &&
               strcmp(a->dir, rec->dir) == 0 && memcmp(a->fill, rec->fill, 8) == 0;
    for (int d = 0; same && d < a->ndims; d++)
        same = a->dims[d] == rec->dims[d] && a->chunk[d] == rec->chunk[d];
    if (!same) {
        if (a->version != rec->version)
            snprintf(why, cap, "it holds version %" PRId64 " of the array, the catalog %" PRId64,
                     a->version, rec->version);
        else
            snprintf(why, cap,
                     "its record of the array (shape, layout, place) is not the catalog's");
        return;
    }
    if (m->n != n) {
        snprintf(why, cap, "it lists %zu chunks, the catalog %zu", m->n, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const st_cat_chunk *x = &m->chunks[i];
        if (x->idx != c[i].idx || x->tier_id != c[i].tier_id || strcmp(x->file, c[i].file) != 0 ||
            x->bytes != c[i].bytes || x->checksum != c[i].checksum || x->version != c[i].version) {
            snprintf(why, cap, "chunk %" PRId64 " is '%s' there, '%s' in the catalog", c[i].idx,
                     x->file, c[i].file);
            return;
        }
    }
}

int st_cat_ndm_check(st_err *err, st_catalog *cat, const char *region, const char *name,
                     char path[ST_PATH_MAX], char *why, size_t cap)
{
    why[0] = '\0';
    path[0] = '\0';
    if (cat->loc.pg) return STRATA_OK;
    st_vec chunks = ST_VEC(st_cat_chunk);
    st_ndm *m = NULL;
    st_cat_nd rec;
    if (st_cat_ndm_load(cat, region, name, &m) != STRATA_OK) return STRATA_OK; /* none to check */
    st_ndm_free(m);
    m = NULL;
    /* under the write lock: no change and no new manifest between the two reads (a writer that
     * holds it past the busy timeout leaves this one unchecked) */
    int rc = st_cat_begin(err, cat);
    if (rc == STRATA_ELOCKED) return STRATA_OK;
    if (rc < 0) return rc;
    int got = st_cat_ndm_load(cat, region, name, &m);
    if (got == STRATA_OK) {
        gather g = {&chunks, 0};
        memcpy(path, m->path, ST_PATH_MAX);
        ST_TRY(rc = st_cat_nd_get(err, cat, region, name, &rec));
        ST_TRY(rc = st_cat_nd_chunks(err, cat, rec.id, 0, INT64_MAX, gather_chunk, &g));
        char d[160];
        if (g.staged)
            snprintf(d, sizeof d, "the catalog has staged copies of its chunks");
        else
            differs(m, &rec, chunks.v, chunks.n, d, sizeof d);
        if (d[0] != '\0')
            snprintf(why, cap,
                     "manifest is stale: %s (remove the file: reads then ask the catalog)", d);
    }
done:
    st_cat_rollback(cat);
    if (rc == STRATA_ERANGE)
        snprintf(why, cap,
                 "manifest is stale: the catalog lists more than %d chunks (remove the "
                 "file: reads then ask the catalog)",
                 ST_NDM_MAX_CHUNKS);
    st_ndm_free(m);
    st_vec_free(&chunks);
    return rc == STRATA_ERANGE ? STRATA_OK : rc;
}
