/*
 * snapshot.c -- consistent, immutable views of a dataset at one version.
 *
 * A reader holds its dataset's readers' lock (DDIR/.readers, shared: an OFD lock on the file, or
 * with a PostgreSQL catalog an advisory lock of the reader's session, st_cat_lock) for as long as
 * its snapshot is open; strata_gc removes a dropped dataset's directory only when nobody holds
 * that lock, and the lock goes when a reader dies. Readers never write the catalog, so
 * any number of them never slow a writer. The lock is taken before the dataset's record is read
 * a second time: if a drop slipped in between, the snapshot fails cleanly with ENOTFOUND, never
 * with files pulled from under it. Batches are immutable, so once the version and its batch
 * list are read, the view cannot change; column files are mapped on first use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/bits.h"
#include "util/chunkfile.h"
#include "util/copy.h"
#include "util/name.h"

struct collect {
    strata_snapshot *s;
    size_t cap;
    int rc;
    st_cat_batch *b; /* the arrays being filled (S's, read-only to it) */
    st_cat_bcol *c;
};

static int collect_batch(void *vctx, const st_cat_batch *b, const st_cat_bcol *cols)
{
    struct collect *c = vctx;
    strata_snapshot *s = c->s;
    size_t n = (size_t)s->schema.ncols;
    if (s->nbatches == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        st_cat_batch *gb = realloc(c->b, cap * sizeof *gb);
        if (gb == NULL) return c->rc = STRATA_ENOMEM;
        s->batches = c->b = gb;
        st_cat_bcol *gc = realloc(c->c, cap * n * sizeof *gc);
        if (gc == NULL) return c->rc = STRATA_ENOMEM;
        s->bcols = c->c = gc;
        c->cap = cap;
    }
    c->b[s->nbatches] = *b;
    memcpy(&c->c[s->nbatches * n], cols, n * sizeof *cols);
    s->nbatches++;
    return 0;
}

void st_snapshot_drop_batches(strata_snapshot *s)
{
    if (s->bref != NULL) {
        st_cat_bref_release(s->bref);
    } else {
        free((void *)s->batches);
        free((void *)s->bcols);
    }
    s->bref = NULL;
    s->batches = NULL;
    s->bcols = NULL;
}

/* S's batches at its version: shared with the catalog handle's kept list where it keeps one (no
 * copy: a copy of a 160-batch list was a tenth of an increment, bench/README.md), else copied. */
static int load_batches(strata_snapshot *s)
{
    st_err *err = st_pool_err(s->pool);
    st_catalog *cat = st_pool_cat(s->pool);
    size_t n;
    int rc = st_cat_batches_shared(err, cat, s->d.id, s->version, s->schema.ncols, &s->batches,
                                   &s->bcols, &n, &s->bref);
    if (rc != 0) {
        s->nbatches = rc == 1 ? n : 0;
        return rc < 0 ? rc : STRATA_OK;
    }
    struct collect c = {s, 0, STRATA_OK, NULL, NULL};
    rc = st_cat_batches(err, cat, s->d.id, s->version, s->schema.ncols, collect_batch, &c);
    if (c.rc < 0) rc = st_error(err, c.rc, "out of memory reading batches");
    return rc;
}

/* Hold the dataset of S for gc: its readers' lock LOCKPATH, shared. */
static int hold_readers(strata_snapshot *s, const char *lockpath)
{
    st_err *err = st_pool_err(s->pool);
    st_catalog *cat = st_pool_cat(s->pool);
    char obj[32];
    snprintf(obj, sizeof obj, "dataset %lld", (long long)s->d.id);
    st_cat_lockref at = {lockpath, obj, 0, 0};
    if (st_cat_is_pg(cat)) {
        int rc = st_cat_lock(err, cat, &at, 0, 0, -1, lockpath);
        if (rc >= 0) s->hold = rc;
        return rc < 0 ? rc : STRATA_OK;
    }
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    /* a pool on a read-only file system (or readable only): a shared lock needs only read
     * access, and where the file cannot even be made no gc can run to remove anything */
    if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
        fd = open(lockpath, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && access(s->dir, F_OK) == 0) errno = EROFS;
    }
    if (fd < 0 && errno != EROFS)
        return errno == ENOENT ? st_error(err, STRATA_ENOTFOUND, "dataset '%s/%s' was dropped",
                                          s->d.region, s->d.name)
                               : st_error_errno(err, errno, "cannot open '%s'", lockpath);
    if (fd < 0) return STRATA_OK;
    s->hold = fd; /* an OFD lock: the hold is the file */
    return st_lock_fd(err, fd, 0, 0, 0, -1, lockpath);
}

int strata_snapshot_open(strata_pool *pool, const char *region, const char *name, int64_t as_of,
                         strata_snapshot **out)
{
    if (out != NULL) *out = NULL;
    if (pool == NULL || out == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc;
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "dataset", name)) < 0) return rc;
    strata_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    s->pool = pool;
    s->hold = -1;
    char lockpath[ST_PATH_MAX];
    ST_TRY(rc = st_schema_load(pool, region, name, &s->d, &s->schema));
    ST_TRY(rc = st_dataset_dir(pool, &s->d, s->dir));
    /* Hold the dataset for gc, then make sure it was not dropped before the lock was taken. */
    ST_TRY(rc = st_path(err, lockpath, "%s/%s", s->dir, ST_READERS_LOCK));
    ST_TRY(rc = hold_readers(s, lockpath));
    st_cat_dataset now;
    ST_TRY(rc = st_cat_dataset_get(err, st_pool_cat(pool), region, name, &now, NULL, NULL));
    if (now.id != s->d.id) {
        rc = st_error(err, STRATA_ENOTFOUND, "dataset '%s/%s' was dropped while being opened",
                      region, name);
        goto done;
    }
    s->d = now; /* the latest version, read with the lock held */
    s->version = as_of > 0 ? as_of : s->d.version;
    if (s->version > s->d.version) {
        rc = st_error(err, STRATA_ENOTFOUND,
                      "dataset '%s/%s' has no version %lld (its latest is %lld)", region, name,
                      (long long)as_of, (long long)s->d.version);
        goto done;
    }
    if (s->version > 0) {
        st_cat_dsversion v;
        ST_TRY(rc = st_cat_version_get(err, st_pool_cat(pool), s->d.id, s->version, &v));
        if (v.expired) {
            rc = st_error(err, STRATA_ENOTFOUND,
                          "version %lld of dataset '%s/%s' was garbage-collected; read a later "
                          "one (strata log shows which are kept)",
                          (long long)s->version, region, name);
            goto done;
        }
        ST_TRY(rc = load_batches(s));
        ST_TRY(rc = st_parts_open(s));
    }
    s->row_start = calloc(s->nbatches + 1, sizeof *s->row_start);
    int nomem = s->row_start == NULL;
    s->maps = calloc(s->nbatches * (size_t)s->schema.ncols + 1, sizeof *s->maps);
    nomem |= s->maps == NULL;
    if (nomem) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory opening a snapshot");
        goto done;
    }
    for (uint64_t b = 0; b < s->nbatches; b++) {
        s->row_start[b + 1] = s->row_start[b] + (uint64_t)s->batches[b].nrows;
        for (int c = 0; c < s->schema.ncols; c++)
            s->bytes += s->bcols[b * (size_t)s->schema.ncols + (size_t)c].bytes;
    }
    s->nrows = s->row_start[s->nbatches];
done:
    if (rc < 0) {
        strata_snapshot_close(s);
        return rc;
    }
    *out = s;
    return STRATA_OK;
}

int st_bcmap_get(st_bcmap **tab, size_t i, st_npy_map *m[ST_BCOL_FILES])
{
    if (tab[i] == NULL && (tab[i] = calloc(1, sizeof *tab[i])) == NULL) return STRATA_ENOMEM;
    for (int f = 0; f < ST_BCOL_FILES; f++) m[f] = &(*tab[i])[f];
    return STRATA_OK;
}

void st_bcmap_drop(st_bcmap **tab, size_t i)
{
    if (tab == NULL || tab[i] == NULL) return;
    for (int f = 0; f < ST_BCOL_FILES; f++) st_npy_unmap(&(*tab[i])[f]);
    free(tab[i]);
    tab[i] = NULL;
}

/* Unmap the files of batch column I. */
static void unmap_bc(strata_snapshot *s, size_t i)
{
    st_bcmap_drop(s->maps, i);
}

void strata_snapshot_close(strata_snapshot *s)
{
    if (s == NULL) return;
    size_t n = s->nbatches * (size_t)s->schema.ncols;
    for (size_t i = 0; i < n; i++) unmap_bc(s, i);
    st_parts_close(s);
    st_cat_unlock(st_pool_cat(s->pool), s->hold); /* releases the hold on the dataset */
    st_schema_free(&s->schema);
    st_snapshot_drop_batches(s);
    free(s->row_start);
    free(s->maps);
    free(s);
}

int strata_snapshot_info(strata_snapshot *s, strata_dataset_desc *out)
{
    if (s == NULL || out == NULL) return STRATA_EINVAL;
    memset(out, 0, sizeof *out);
    out->region = s->d.region;
    out->name = s->d.name;
    out->ncols = s->schema.ncols;
    out->columns = s->schema.cols;
    out->version = s->version;
    out->nbatches = s->nbatches;
    out->nrows = s->nrows;
    out->bytes = s->bytes;
    out->created_ns = s->d.created_ns;
    return STRATA_OK;
}

int strata_snapshot_column(strata_snapshot *s, const char *name, int *col)
{
    if (s == NULL || name == NULL || col == NULL) return STRATA_EINVAL;
    int c = st_schema_find(&s->schema, name);
    if (c < 0)
        return st_error(st_pool_err(s->pool), STRATA_ENOTFOUND,
                        "dataset '%s/%s' has no column '%s'", s->d.region, s->d.name, name);
    *col = c;
    return STRATA_OK;
}

static int check_bc(strata_snapshot *s, uint64_t batch, int col)
{
    if (s == NULL) return STRATA_EINVAL;
    if (batch >= s->nbatches)
        return st_error(st_pool_err(s->pool), STRATA_ERANGE,
                        "batch %llu is out of range: version %lld of '%s/%s' has %llu batches",
                        (unsigned long long)batch, (long long)s->version, s->d.region, s->d.name,
                        (unsigned long long)s->nbatches);
    if (col < 0 || col >= s->schema.ncols)
        return st_error(st_pool_err(s->pool), STRATA_ERANGE,
                        "column index %d is out of range for '%s/%s' of %d columns", col,
                        s->d.region, s->d.name, s->schema.ncols);
    return STRATA_OK;
}

int strata_snapshot_batch(strata_snapshot *s, uint64_t batch, strata_batch_info *out)
{
    int rc = check_bc(s, batch, 0);
    if (rc < 0) return rc;
    const st_cat_batch *b = &s->batches[batch];
    out->seq = (uint64_t)b->seq;
    out->first_row = (uint64_t)b->first_row;
    out->nrows = (uint64_t)b->nrows;
    out->version = b->version;
    return STRATA_OK;
}

int strata_snapshot_stats(strata_snapshot *s, uint64_t batch, int col, strata_column_stats *out)
{
    int rc = check_bc(s, batch, col);
    if (rc < 0) return rc;
    const st_cat_bcol *bc = &s->bcols[batch * (size_t)s->schema.ncols + (size_t)col];
    memset(out, 0, sizeof *out);
    out->bytes = bc->bytes;
    out->checksum = bc->checksum;
    out->nulls = bc->nulls;
    out->has_minmax = bc->has_minmax != 0;
    if (bc->has_minmax == 1) {
        int u64 = s->schema.cat[col].dtype == STRATA_U64;
        out->min_i = bc->min_i;
        out->max_i = bc->max_i;
        out->min = u64 ? (double)(uint64_t)bc->min_i : (double)bc->min_i;
        out->max = u64 ? (double)(uint64_t)bc->max_i : (double)bc->max_i;
    } else if (bc->has_minmax == 2) {
        out->min = bc->min_f;
        out->max = bc->max_f;
    }
    return STRATA_OK;
}

/* Map (or, on an archive tier, decode) the files of BC where the record says they are; PATH
 * receives the last path tried. */
static int map_files(strata_snapshot *s, const st_cat_bcol *bc, st_npy_map *m[ST_BCOL_FILES],
                     char path[ST_PATH_MAX])
{
    st_err *err = st_pool_err(s->pool);
    for (int f = 0; f < ST_BCOL_FILES; f++) st_npy_unmap(m[f]);
    int rc = STRATA_OK;
    for (int f = 0; f < ST_BCOL_FILES && rc == STRATA_OK; f++) {
        const char *file = st_cat_bcol_file(bc, f);
        if (file[0] == '\0') continue;
        ST_TRY(rc = st_bcol_path(s->pool, &s->d, s->dir, bc->tier_id, file, path));
        rc = s->load_small ? st_npy_load_any(err, path, m[f]) : st_npy_map_any(err, path, m[f]);
    }
done:
    return rc;
}

int st_snapshot_map_rec(strata_snapshot *s, const st_cat_batch *b, const st_cat_bcol *bc, int col,
                        st_npy_map *m[ST_BCOL_FILES])
{
    if (m[0]->map != NULL) return STRATA_OK;
    st_err *err = st_pool_err(s->pool);
    if (bc->file[0] == '\0')
        return st_error(err, STRATA_ESTALE,
                        "column '%s' of '%s/%s' is derived and not yet computed for batch %llu at "
                        "version %lld; run 'strata update %s/%s'",
                        s->schema.cat[col].name, s->d.region, s->d.name, (unsigned long long)b->seq,
                        (long long)s->version, s->d.region, s->d.name);
    strata_dtype dt = (strata_dtype)s->schema.cat[col].dtype;
    uint64_t nrows = (uint64_t)b->nrows;
    char path[ST_PATH_MAX] = "";
    int rc = map_files(s, bc, m, path);
    if (rc == STRATA_ENOTFOUND) {
        /* migrated to another tier since the snapshot listed it: same bytes, new place (looked
         * up into a copy: the listed record may be shared with the catalog handle) */
        st_cat_bcol moved = *bc;
        ST_TRY(rc = st_cat_bcol_where(err, st_pool_cat(s->pool), s->d.id, b->seq, col, bc->version,
                                      &moved));
        rc = map_files(s, &moved, m, path);
    }
    ST_TRY(rc);
    strata_dtype stored = dt == STRATA_STR ? STRATA_I64 : dt;
    uint64_t count = dt == STRATA_STR ? nrows + 1 : nrows;
    if (m[0]->info.dtype != stored || m[0]->info.count != count) {
        rc = STRATA_ECORRUPT;
        goto done;
    }
    if (dt == STRATA_STR) {
        const int64_t *off = (const int64_t *)(const void *)m[0]->data;
        if (off[0] != 0 || (uint64_t)off[nrows] != m[1]->info.count) rc = STRATA_ECORRUPT;
    }
    if (bc->valid_file[0] != '\0' &&
        (m[2]->info.dtype != STRATA_U8 || m[2]->info.count != st_bits_bytes(nrows)))
        rc = STRATA_ECORRUPT;
done:
    if (rc < 0) {
        for (int f = 0; f < ST_BCOL_FILES; f++) st_npy_unmap(m[f]);
        return st_error(err, STRATA_ECORRUPT,
                        "cannot read batch %llu column '%s' of '%s/%s': file '%s' is missing or "
                        "damaged; run 'strata check'",
                        (unsigned long long)b->seq, s->schema.cat[col].name, s->d.region, s->d.name,
                        path);
    }
    return STRATA_OK;
}

/* Map column COL of BATCH: its files, or the merge of a partition's runs. */
static int map_bc(strata_snapshot *s, uint64_t batch, int col)
{
    size_t i = batch * (size_t)s->schema.ncols + (size_t)col;
    if (s->maps[i] != NULL && (*s->maps[i])[0].map != NULL) return STRATA_OK;
    if (s->parts != NULL && s->parts[batch].nruns > 1) return st_parts_map(s, batch, col);
    /* a partition of one run is that run: its catalog record, for the error and the tier */
    const st_cat_batch *b =
        s->parts != NULL ? &s->pbatches[s->parts[batch].run0] : &s->batches[batch];
    st_npy_map *m[ST_BCOL_FILES];
    if (st_bcmap_get(s->maps, i, m) < 0)
        return st_error(st_pool_err(s->pool), STRATA_ENOMEM, "out of memory");
    return st_snapshot_map_rec(s, b, &s->bcols[i], col, m);
}

int strata_snapshot_map(strata_snapshot *s, uint64_t batch, int col, const void **data)
{
    int rc = check_bc(s, batch, col);
    if (rc < 0) return rc;
    if (data == NULL) return st_error(st_pool_err(s->pool), STRATA_EINVAL, "map: no pointer given");
    if ((rc = map_bc(s, batch, col)) < 0) return rc;
    *data = (*s->maps[batch * (size_t)s->schema.ncols + (size_t)col])[0].data;
    return STRATA_OK;
}

int strata_snapshot_map_str(strata_snapshot *s, uint64_t batch, int col, const int64_t **offsets,
                            const char **bytes)
{
    int rc = check_bc(s, batch, col);
    if (rc < 0) return rc;
    if (s->schema.cat[col].dtype != STRATA_STR)
        return st_error(st_pool_err(s->pool), STRATA_ETYPE, "column '%s' is %s, not str",
                        s->schema.cat[col].name,
                        strata_dtype_name((strata_dtype)s->schema.cat[col].dtype));
    if ((rc = map_bc(s, batch, col)) < 0) return rc;
    size_t i = batch * (size_t)s->schema.ncols + (size_t)col;
    if (offsets != NULL) *offsets = (const int64_t *)(const void *)(*s->maps[i])[0].data;
    if (bytes != NULL) *bytes = (*s->maps[i])[1].data;
    return STRATA_OK;
}

int strata_snapshot_map_valid(strata_snapshot *s, uint64_t batch, int col, const uint8_t **valid)
{
    int rc = check_bc(s, batch, col);
    if (rc < 0) return rc;
    if (valid == NULL)
        return st_error(st_pool_err(s->pool), STRATA_EINVAL, "map: no pointer given");
    if ((rc = map_bc(s, batch, col)) < 0) return rc;
    size_t i = batch * (size_t)s->schema.ncols + (size_t)col;
    *valid = s->bcols[i].valid_file[0] ? (const uint8_t *)(*s->maps[i])[2].data : NULL;
    return STRATA_OK;
}

void st_snapshot_load_small(strata_snapshot *s)
{
    s->load_small = 1;
}

uint64_t st_snapshot_batch_of(const strata_snapshot *s, uint64_t row, uint64_t hint)
{
    if (hint < s->nbatches && s->row_start[hint] <= row && row < s->row_start[hint + 1])
        return hint;
    uint64_t lo = 0, hi = s->nbatches;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s->row_start[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int strata_snapshot_read(strata_snapshot *s, int col, uint64_t row, uint64_t count, void *dst)
{
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(s->pool);
    if (col < 0 || col >= s->schema.ncols)
        return st_error(err, STRATA_ERANGE, "column index %d is out of range", col);
    strata_dtype dt = (strata_dtype)s->schema.cat[col].dtype;
    if (dt == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "column '%s' holds strings; read it with strata_snapshot_map_str",
                        s->schema.cat[col].name);
    if (row > s->nrows || count > s->nrows - row)
        return st_error(err, STRATA_ERANGE,
                        "cannot read rows [%llu, %llu) of '%s/%s': version %lld has %llu rows",
                        (unsigned long long)row, (unsigned long long)(row + count), s->d.region,
                        s->d.name, (long long)s->version, (unsigned long long)s->nrows);
    if (count == 0) return STRATA_OK;
    if (dst == NULL) return st_error(err, STRATA_EINVAL, "read: no destination buffer");
    size_t esz = strata_dtype_size(dt);
    char *out = dst;
    int nt = st_pool_threads(s->pool);
    for (uint64_t b = st_snapshot_batch_of(s, row, 0); count > 0; b++) {
        int rc = map_bc(s, b, col);
        if (rc < 0) return rc;
        uint64_t off = row - s->row_start[b];
        uint64_t k = s->row_start[b + 1] - row;
        if (k > count) k = count;
        st_par_memcpy(out,
                      (*s->maps[b * (size_t)s->schema.ncols + (size_t)col])[0].data + off * esz,
                      k * esz, nt);
        out += k * esz;
        row += k;
        count -= k;
    }
    return STRATA_OK;
}

void st_snapshot_release(strata_snapshot *s, uint64_t batch)
{
    for (int c = 0; batch < s->nbatches && c < s->schema.ncols; c++) {
        unmap_bc(s, batch * (size_t)s->schema.ncols + (size_t)c);
    }
}

int st_snapshot_mapped(const strata_snapshot *s, uint64_t batch)
{
    for (int c = 0; batch < s->nbatches && c < s->schema.ncols; c++)
        if (s->maps[batch * (size_t)s->schema.ncols + (size_t)c] != NULL) return 1;
    return 0;
}

int strata_snapshot_column_ready(strata_snapshot *s, int col)
{
    if (s == NULL) return STRATA_EINVAL;
    if (col < 0 || col >= s->schema.ncols)
        return st_error(st_pool_err(s->pool), STRATA_ERANGE, "column index %d is out of range",
                        col);
    for (uint64_t b = 0; b < s->nbatches; b++)
        if (s->bcols[b * (size_t)s->schema.ncols + (size_t)col].file[0] == '\0') return 0;
    return 1;
}

strata_pool *st_snapshot_pool(const strata_snapshot *s)
{
    return s->pool;
}

const st_schema *st_snapshot_schema(const strata_snapshot *s)
{
    return &s->schema;
}

const st_cat_dataset *st_snapshot_rec(const strata_snapshot *s)
{
    return &s->d;
}

int64_t st_snapshot_version(const strata_snapshot *s)
{
    return s->version;
}

uint64_t st_snapshot_nrows(const strata_snapshot *s)
{
    return s->nrows;
}

uint64_t st_snapshot_nbatches(const strata_snapshot *s)
{
    return s->nbatches;
}

const st_cat_batch *st_snapshot_batches(const strata_snapshot *s)
{
    return s->batches;
}

const st_cat_bcol *st_snapshot_bcols(const strata_snapshot *s)
{
    return s->bcols;
}

const uint64_t *st_snapshot_row_start(const strata_snapshot *s)
{
    return s->row_start;
}
