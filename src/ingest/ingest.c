/*
 * ingest.c -- CSV and NPY files into datasets: schema, batches, publish-or-nothing.
 *
 * A CSV file is processed in segments of ST_SEGMENT_BLOCKS blocks per thread, so memory stays
 * bounded whatever the file's size: each segment is split into one chunk per thread at record
 * boundaries, the chunks are parsed in parallel into typed column buffers, and the buffers are
 * appended in order to the current batch (columns in parallel). All batches of a call are
 * published together at the end, or none when anything fails.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ingest/ingest.h"
#include "store/store.h"
#include "util/bits.h"
#include "util/comm.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/npy.h"
#include "util/parse.h"
#include "util/fileio.h"

#define ST_SEGMENT_BLOCKS 4 /* per thread: 4 MiB of CSV per thread per segment */
#define ST_INFER_ROWS     1000
/* An input smaller than this (a CSV file, the NPY files of a call, or the files of another
 * format: st_ingest_total()) is ingested on one thread: a second one gains less than it costs in
 * waking it and in waiting for it through the serial steps (`strata ingest` alternated on a
 * 2-vCPU VM, medians of 10: a taxi CSV of 0.7 MB 4.6 ms on one thread against 8.6 ms on two,
 * 20 000 rows of three NPY columns 3.2 against 6.2 ms; of 3.4 MB 10.6 against 9.7 ms, of 13.7 MB
 * 29.3 against 24.7 ms). */
#define ST_INGEST_ONE_THREAD ((uint64_t)2 << 20)

/* Parse "name:dtype,name:dtype" into COLS (names strdup'ed into NAMES). */
static int parse_schema(st_err *err, const char *spec, strata_column **cols, char ***names,
                        int *ncols)
{
    int n = 1;
    for (const char *p = spec; *p; p++) n += *p == ',';
    strata_column *c = calloc((size_t)n, sizeof *c);
    char **nm = calloc((size_t)n, sizeof *nm);
    char *copy = strdup(spec);
    int rc = STRATA_OK, k = 0;
    if (c == NULL || nm == NULL || copy == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        if (colon == NULL) {
            rc = st_error(err, STRATA_EINVAL,
                          "schema: '%s' is not name:dtype (for example fare:i64)", tok);
            goto done;
        }
        *colon = '\0';
        strata_dtype t;
        if (strata_dtype_parse(colon + 1, &t) < 0) {
            rc = st_error(err, STRATA_EINVAL,
                          "schema: column '%s' has unknown dtype '%s' (use i8 i16 i32 i64 u8 u16 "
                          "u32 u64 f32 f64 bool str)",
                          tok, colon + 1);
            goto done;
        }
        if ((rc = st_name_check(err, "column", tok)) < 0) goto done;
        nm[k] = strdup(tok);
        c[k].name = nm[k];
        c[k].dtype = t;
        k++;
    }
    if (k == 0) rc = st_error(err, STRATA_EINVAL, "schema: no columns given");
done:
    free(copy);
    if (rc < 0) {
        for (int i = 0; nm != NULL && i < n; i++) free(nm[i]);
        free(nm);
        free(c);
        return rc;
    }
    *cols = c;
    *names = nm;
    *ncols = k;
    return STRATA_OK;
}

/* The state of one ingest call. */
struct st_ingest {
    strata_pool *pool;
    const char *region, *name;
    strata_ingest_opts o;
    strata_ingest_stats *stats;
    uint64_t total_bytes;
    double t0;
    strata_dataset *ds;
    int created; /* this call created the dataset: drop it again on failure */
    strata_batch *batch;
    uint64_t batch_fill;
    strata_ingest_stats local; /* the stats when the caller wants none */
    const st_comm *cm;         /* spread over these processes (st_ingest_spread) */
    int nt;                    /* threads for the input at hand (ST_INGEST_ONE_THREAD) */
};
typedef struct st_ingest ingest;

static int ensure_dataset(ingest *g, const strata_column *cols, int ncols)
{
    strata_pool *pool = g->pool;
    int rc = strata_dataset_open(pool, g->region, g->name, &g->ds);
    strata_dataset_desc dd;
    if (rc == STRATA_OK && strata_dataset_info(g->ds, &dd) == STRATA_OK && dd.ncols == 0)
        return st_error(st_pool_err(pool), STRATA_EPERM,
                        "dataset '%s/%s' is derived: only 'strata update' writes its batches",
                        g->region, g->name);
    if (rc != STRATA_ENOTFOUND) return rc;
    rc = strata_region_exists(pool, g->region);
    if (rc == STRATA_ENOTFOUND) rc = strata_region_create(pool, g->region);
    if (rc == STRATA_EEXIST) rc = STRATA_OK;
    if (rc == STRATA_OK) rc = strata_dataset_create(pool, g->region, g->name, cols, ncols);
    if (rc == STRATA_OK) g->created = 1;
    /* another ingest created it meanwhile: append to it (its writer lock orders the two) */
    if (rc == STRATA_OK || rc == STRATA_EEXIST)
        rc = strata_dataset_open(pool, g->region, g->name, &g->ds);
    return rc;
}

static int commit_batch(ingest *g)
{
    if (g->batch == NULL) return STRATA_OK;
    int rc = strata_batch_commit(g->batch);
    g->batch = NULL;
    g->batch_fill = 0;
    if (rc < 0) return rc;
    g->stats->batches++;
    if (g->o.publish_each) rc = strata_publish(g->ds, &g->stats->version);
    return rc;
}

static int open_batch(ingest *g)
{
    if (g->batch != NULL) return STRATA_OK;
    g->batch_fill = 0;
    return strata_batch_begin(g->ds, &g->batch);
}

/* Append rows [FROM, FROM+K) of the column buffers COLS to the current batch, columns in
 * parallel (each column of a batch has its own file). */
static int append_rows(ingest *g, st_colbuf *cols, uint64_t from, uint64_t k)
{
    int n = st_dataset_schema(g->ds)->ncols, rc = STRATA_OK;
    int nt = g->nt;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(min : rc)
    for (int c = 0; c < n; c++) {
        uint8_t *valid;
        int r = st_colbuf_valid(&cols[c], from, k, &valid);
        if (r < 0) {
            r = st_error(st_pool_err(g->pool), r, "out of memory");
        } else if (cols[c].dtype == STRATA_STR) {
            /* BYTES must point at the first appended string (offsets are relative to it). */
            const int64_t *off = (const int64_t *)(void *)cols[c].v + from;
            r = strata_batch_append_str_nullable(g->batch, c, off, cols[c].bytes + off[0], valid,
                                                 k);
        } else {
            r = strata_batch_append_nullable(
                g->batch, c, cols[c].v + from * strata_dtype_size(cols[c].dtype), valid, k);
        }
        free(valid);
        if (r < rc) rc = r;
    }
    return rc;
}

/* Feed ROWS parsed rows to batches, splitting at batch_rows. */
static int feed(ingest *g, st_colbuf *cols, uint64_t rows)
{
    uint64_t done = 0;
    while (done < rows) {
        int rc = open_batch(g);
        if (rc < 0) return rc;
        uint64_t k = rows - done;
        if (g->o.batch_rows > 0 && k > g->o.batch_rows - g->batch_fill)
            k = g->o.batch_rows - g->batch_fill;
        if ((rc = append_rows(g, cols, done, k)) < 0) return rc;
        done += k;
        g->batch_fill += k;
        g->stats->rows += k;
        if (g->o.batch_rows > 0 && g->batch_fill == g->o.batch_rows && (rc = commit_batch(g)) < 0)
            return rc;
    }
    return STRATA_OK;
}

static void progress(ingest *g, uint64_t bytes_now)
{
    g->stats->bytes_read = bytes_now;
    g->stats->seconds = st_mono_s() - g->t0;
    if (g->o.progress != NULL) g->o.progress(g->o.progress_ctx, g->stats, g->total_bytes);
}

/* Map the header of C onto the dataset's columns. */
static int match_header(ingest *g, st_csv *c, char **hdr, int nf, int *target, strata_dtype *dtypes,
                        const char **names)
{
    st_err *err = st_pool_err(g->pool);
    const st_schema *sc = st_dataset_schema(g->ds);
    for (int i = 0; i < nf; i++) {
        int col = st_schema_find(sc, hdr[i]);
        if (col < 0) {
            char list[1024] = "";
            for (int k = 0; k < sc->ncols && strlen(list) < 900; k++) {
                strcat(list, k ? ", " : "");
                strcat(list, sc->cat[k].name);
            }
            return st_error(err, STRATA_EINVAL,
                            "%s:1: column '%s' of the header is not in dataset '%s/%s' (its "
                            "columns: %s)",
                            c->path, hdr[i], g->region, g->name, list);
        }
        target[i] = col;
        dtypes[i] = (strata_dtype)sc->cat[col].dtype;
        names[i] = sc->cat[col].name;
    }
    for (int k = 0; k < sc->ncols; k++) {
        int seen = 0;
        for (int i = 0; i < nf; i++) seen |= target[i] == k;
        if (!seen)
            return st_error(err, STRATA_EINVAL,
                            "%s:1: the header lacks column '%s' of dataset '%s/%s'", c->path,
                            sc->cat[k].name, g->region, g->name);
    }
    return STRATA_OK;
}

/* Refuse a header that is not one: a number among the names (the file has no header line), a
 * name given twice, or one that is not a valid column name. */
static int check_header(st_err *err, const char *path, char **hdr, int nf)
{
    for (int i = 0; i < nf; i++) {
        double y;
        char shown[64];
        snprintf(shown, sizeof shown, "%.40s", hdr[i]);
        if (hdr[i][0] != '\0' && st_parse_f64(hdr[i], strlen(hdr[i]), &y) == ST_PARSE_OK)
            return st_error(err, STRATA_EINVAL,
                            "%s:1: the header is missing: the first line holds data ('%s'), not "
                            "column names; add a header line",
                            path, shown);
        for (int j = 0; j < i; j++)
            if (strcmp(hdr[i], hdr[j]) == 0)
                return st_error(err, STRATA_EINVAL, "%s:1: column '%s' appears twice in the header",
                                path, hdr[i]);
        if (st_name_check(err, "column", hdr[i]) < 0) {
            char why[ST_ERRMSG_MAX];
            st_err_copy(err, why, sizeof why);
            return st_error(err, STRATA_EINVAL, "%s:1: bad header field %d: %s", path, i + 1, why);
        }
    }
    return STRATA_OK;
}

/* Open the dataset of G, creating it when missing with the columns of --schema, or else with
 * the header's names and the dtypes inferred from the first rows of C. */
static int open_or_create_dataset(ingest *g, st_csv *c, char **hdr, int nf)
{
    st_err *err = st_pool_err(g->pool);
    strata_column *cols = NULL;
    char **snames = NULL;
    int ncols = 0, rc;
    if (g->o.schema != NULL) {
        if ((rc = parse_schema(err, g->o.schema, &cols, &snames, &ncols)) < 0) return rc;
    } else {
        strata_dtype *inf = malloc((size_t)nf * sizeof *inf);
        cols = calloc((size_t)nf, sizeof *cols);
        if (inf == NULL || cols == NULL) {
            free(inf);
            free(cols);
            return st_error(err, STRATA_ENOMEM, "out of memory");
        }
        c->ncols = nf;
        st_csv_infer(c, nf, inf, ST_INFER_ROWS);
        for (int i = 0; i < nf; i++) {
            cols[i].name = hdr[i];
            cols[i].dtype = inf[i];
        }
        ncols = nf;
        free(inf);
    }
    rc = ensure_dataset(g, cols, ncols);
    for (int i = 0; snames != NULL && i < ncols; i++) free(snames[i]);
    free(snames);
    free(cols);
    return rc;
}

/* One file being parsed: its per-thread column buffers and chunk starts. */
typedef struct {
    st_csv *c;
    int nt, ncols;
    st_colbuf *bufs; /* nt * ncols */
    size_t *starts;  /* nt + 1 */
} fileparse;

/* Split the segment [SEG_START, SEG_END), blocks [BLOCK, B1), into one chunk per thread at
 * record boundaries (fp->starts). */
static void split_segment(fileparse *fp, size_t seg_start, size_t seg_end, size_t block, size_t b1)
{
    int nt = fp->nt;
    fp->starts[0] = seg_start;
    for (int t = 1; t < nt; t++) {
        size_t blk = block + (b1 - block) * (size_t)t / (size_t)nt;
        size_t s = st_csv_record_start(fp->c, blk);
        if (s < fp->starts[t - 1]) s = fp->starts[t - 1];
        if (s > seg_end) s = seg_end;
        fp->starts[t] = s;
    }
    fp->starts[nt] = seg_end;
}

/* Record the error of chunk T, which failed at EPOS with MSG. The chunk is reparsed serially
 * from the segment start: with malformed quotes a chunk may have started in the wrong place,
 * and the first error is the one to name. */
static int chunk_error(fileparse *fp, st_err *err, size_t seg_start, int t, int code, size_t epos,
                       const char *chunk_msg)
{
    const st_csv *c = fp->c;
    st_colbuf *tmp = calloc((size_t)fp->ncols, sizeof *tmp);
    size_t pos = epos;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", chunk_msg);
    if (tmp != NULL) {
        for (int k = 0; k < fp->ncols; k++) tmp[k].dtype = fp->bufs[k].dtype;
        uint64_t r;
        if (st_csv_parse(c, seg_start, fp->starts[t + 1], tmp, &r, &pos, msg, sizeof msg) ==
            STRATA_OK) {
            pos = epos;
            snprintf(msg, sizeof msg, "%s", chunk_msg);
        }
        for (int k = 0; k < fp->ncols; k++) st_colbuf_free(&tmp[k]);
        free(tmp);
    }
    char where[ST_PATH_MAX + 64];
    st_csv_locate(c, pos, where, sizeof where);
    return st_error(err, code, "%s: %s", where, msg);
}

/* Parse the chunks of fp->starts in parallel, then feed their rows in order to the batches
 * (or name the first bad field). */
static int parse_segment(ingest *g, fileparse *fp, size_t seg_start)
{
    st_err *err = st_pool_err(g->pool);
    int nt = fp->nt, ncols = fp->ncols, rc = STRATA_OK;
    uint64_t *rows = calloc((size_t)nt, sizeof *rows);
    int *crc = calloc((size_t)nt, sizeof *crc);
    size_t *epos = calloc((size_t)nt, sizeof *epos);
    char(*msgs)[512] = calloc((size_t)nt, sizeof *msgs);
    if (rows == NULL || crc == NULL || epos == NULL || msgs == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        st_colbuf *mine = &fp->bufs[(size_t)t * (size_t)ncols];
        for (int k = 0; k < ncols; k++) st_colbuf_reset(&mine[k]);
        st_csv_reserve(fp->c, fp->starts[t], fp->starts[t + 1], mine, ncols);
        crc[t] = st_csv_parse(fp->c, fp->starts[t], fp->starts[t + 1], mine, &rows[t], &epos[t],
                              msgs[t], sizeof msgs[t]);
    }
    for (int t = 0; t < nt; t++) {
        if (crc[t] < 0) {
            rc = chunk_error(fp, err, seg_start, t, crc[t], epos[t], msgs[t]);
            goto done;
        }
        ST_TRY(rc = feed(g, &fp->bufs[(size_t)t * (size_t)ncols], rows[t]));
    }
done:
    free(rows);
    free(crc);
    free(epos);
    free(msgs);
    return rc;
}

/* Parse the records of [FROM, TO) (record starts) in segments of ST_SEGMENT_BLOCKS blocks per
 * thread, reporting progress after each: BYTES_BEFORE, then the bytes from FROM. */
static int parse_segments(ingest *g, fileparse *fp, uint64_t bytes_before, size_t from, size_t to)
{
    const st_csv *c = fp->c;
    size_t seg_start = from;
    size_t block = from / c->block;
    while (seg_start < to) {
        size_t b1 = block + (size_t)ST_SEGMENT_BLOCKS * (size_t)fp->nt;
        if (b1 > c->nblocks) b1 = c->nblocks;
        size_t seg_end = b1 >= c->nblocks ? c->size : st_csv_record_start(c, b1);
        if (seg_end > to) seg_end = to;
        split_segment(fp, seg_start, seg_end, block, b1);
        int rc = parse_segment(g, fp, seg_start);
        if (rc < 0) return rc;
        progress(g, bytes_before + (seg_end - from));
        seg_start = seg_end;
        block = b1;
    }
    return STRATA_OK;
}

/* Where a piece of C cut at byte X begins: the first record that starts in X's block or after
 * it (the body's start in the header's block; the file's end past it). Processes that share a
 * file cut it alike. */
static size_t piece_start(const st_csv *c, uint64_t x)
{
    if (x >= c->size) return c->size;
    size_t blk = (size_t)(x / c->block);
    if (blk * c->block <= c->body) return c->body;
    size_t s = st_csv_record_start(c, blk);
    return s < c->body ? c->body : s;
}

/* The file's last batch: committed when each file has its batch (even of zero rows), and with
 * --batch-rows when it holds rows; else dropped. */
static int finish_file_batch(ingest *g)
{
    if (g->batch != NULL && (g->batch_fill > 0 || g->o.batch_rows == 0)) return commit_batch(g);
    if (g->batch != NULL) {
        strata_batch_abort(g->batch);
        g->batch = NULL;
    }
    return STRATA_OK;
}

/* The records of PATH that piece_start() puts in [LO, HI) (bytes of the file; 0 and UINT64_MAX:
 * all of it). The piece at 0 counts the file and holds its batch even when the file has no
 * rows; another holds a batch only when it has rows. */
static int ingest_piece(ingest *g, const char *path, uint64_t lo, uint64_t hi,
                        uint64_t *bytes_before)
{
    st_err *err = st_pool_err(g->pool);
    st_csv c;
    char **hdr = NULL;
    int nf = 0, nt = g->o.nthreads, ncols = 0;
    int *target = NULL;
    strata_dtype *dtypes = NULL;
    const char **names = NULL;
    fileparse fp = {.c = &c};
    int rc = st_csv_open(err, &c, path, g->o.delimiter);
    if (rc < 0) return rc;
    if (c.size < ST_INGEST_ONE_THREAD) nt = 1;
    fp.nt = g->nt = nt;
    c.null_marker = g->o.null_marker;
    c.null_len = strlen(g->o.null_marker);
    ST_TRY(rc = st_csv_header(err, &c, &hdr, &nf));
    ST_TRY(rc = check_header(err, path, hdr, nf));
    if (g->ds == NULL) ST_TRY(rc = open_or_create_dataset(g, &c, hdr, nf));
    ncols = fp.ncols = st_dataset_schema(g->ds)->ncols;
    target = calloc((size_t)nf, sizeof *target);
    dtypes = calloc((size_t)nf, sizeof *dtypes);
    names = calloc((size_t)nf, sizeof *names);
    fp.bufs = calloc((size_t)nt * (size_t)ncols, sizeof *fp.bufs);
    fp.starts = calloc((size_t)nt + 1, sizeof *fp.starts);
    if (target == NULL || dtypes == NULL || names == NULL || fp.bufs == NULL || fp.starts == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    ST_TRY(rc = match_header(g, &c, hdr, nf, target, dtypes, names));
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < ncols; k++)
            fp.bufs[(size_t)t * (size_t)ncols + (size_t)k].dtype =
                (strata_dtype)st_dataset_schema(g->ds)->cat[k].dtype;
    c.ncols = nf;
    c.target = target;
    c.dtypes = dtypes;
    c.names = names;
    ST_TRY(rc = st_csv_index(err, &c, nt));
    size_t from = piece_start(&c, lo), to = piece_start(&c, hi);
    g->stats->files += lo == 0;
    *bytes_before += (to - from) + (lo == 0 ? c.body : 0);
    if (from == to && (lo > 0 || c.body < c.size)) goto done; /* an empty piece */
    ST_TRY(rc = open_batch(g)); /* one batch per file at least, even of zero rows */
    ST_TRY(rc = parse_segments(g, &fp, *bytes_before - (to - from), from, to));
    rc = finish_file_batch(g);
done:
    for (int i = 0; fp.bufs != NULL && i < nt * ncols; i++) st_colbuf_free(&fp.bufs[i]);
    free(fp.bufs);
    free(fp.starts);
    free(target);
    free(dtypes);
    free(names);
    st_csv_free_names(hdr, nf);
    st_csv_close(&c);
    return rc;
}

static void init(ingest *g, strata_pool *pool, const char *region, const char *name,
                 const strata_ingest_opts *opts, strata_ingest_stats *stats,
                 strata_ingest_stats *local)
{
    memset(g, 0, sizeof *g);
    g->pool = pool;
    g->region = region;
    g->name = name;
    if (opts != NULL) g->o = *opts;
    if (g->o.delimiter == 0) g->o.delimiter = ',';
    if (g->o.null_marker == NULL) g->o.null_marker = "";
    if (g->o.nthreads <= 0) g->o.nthreads = st_pool_threads(pool);
    g->nt = g->o.nthreads;
    g->stats = stats != NULL ? stats : local;
    memset(g->stats, 0, sizeof *g->stats);
    g->t0 = st_mono_s();
}

/* The end of a call: on failure the dataset is dropped if the call created it (spread: the root
 * did); the handle is closed (committed, unpublished batches are removed with it). */
static int finish_close(ingest *g, int rc)
{
    if (rc < 0) {
        char keep[ST_ERRMSG_MAX];
        st_err_copy(st_pool_err(g->pool), keep, sizeof keep);
        strata_dataset_close(g->ds);
        g->ds = NULL;
        if (g->created && g->stats->version == 0) strata_dataset_drop(g->pool, g->region, g->name);
        st_error(st_pool_err(g->pool), rc, "%s", keep);
    }
    strata_dataset_close(g->ds);
    g->stats->seconds = st_mono_s() - g->t0;
    return rc;
}

/* Publish or undo everything of the call. */
static int finish(ingest *g, int rc)
{
    if (g->batch != NULL) {
        if (rc == STRATA_OK)
            rc = commit_batch(g);
        else
            strata_batch_abort(g->batch);
        g->batch = NULL;
    }
    if (rc == STRATA_OK && g->ds != NULL) rc = strata_publish(g->ds, &g->stats->version);
    return finish_close(g, rc);
}

/* ---- an ingest spread over processes -------------------------------------------------------- */

/* Open the dataset of G as the first file PATH's header says (creating it when missing). */
static int prepare_dataset(ingest *g, const char *path)
{
    st_err *err = st_pool_err(g->pool);
    st_csv c;
    char **hdr = NULL;
    int nf = 0;
    int rc = st_csv_open(err, &c, path, g->o.delimiter);
    if (rc < 0) return rc;
    c.null_marker = g->o.null_marker;
    c.null_len = strlen(g->o.null_marker);
    rc = st_csv_header(err, &c, &hdr, &nf);
    if (rc == STRATA_OK) rc = check_header(err, path, hdr, nf);
    if (rc == STRATA_OK) rc = open_or_create_dataset(g, &c, hdr, nf);
    st_csv_free_names(hdr, nf);
    st_csv_close(&c);
    return rc;
}

/* What one process sends the publishing one: its counts, then its committed batches. */
typedef struct spread_head {
    uint64_t files, rows, bytes_read, batches, n;
} spread_head;

/* Every process's committed batches to the root, which publishes them after its own in rank
 * (so file) order; everyone learns how that went, and the counts summed. */
static int spread_publish(ingest *g, const st_comm *cm)
{
    st_err *err = st_pool_err(g->pool);
    const st_cat_batch *b;
    const st_cat_bcol *bc;
    size_t nc = (size_t)st_dataset_schema(g->ds)->ncols;
    int n = st_dataset_pending(g->ds, &b, &bc);
    spread_head h = {g->stats->files, g->stats->rows, g->stats->bytes_read, g->stats->batches,
                     (uint64_t)n};
    uint64_t len = sizeof h + (uint64_t)n * (sizeof *b + nc * sizeof *bc), *lens;
    char *mine = malloc(len), *all = NULL;
    lens = calloc((size_t)cm->size, sizeof *lens);
    int rc =
        mine != NULL && lens != NULL ? STRATA_OK : st_error(err, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) {
        memcpy(mine, &h, sizeof h);
    }
    if (rc == STRATA_OK && n > 0) { /* (a process may have written none) */
        memcpy(mine + sizeof h, b, (size_t)n * sizeof *b);
        memcpy(mine + sizeof h + (size_t)n * sizeof *b, bc, (size_t)n * nc * sizeof *bc);
    }
    rc = st_comm_agree(cm, err, rc);
    if (rc == STRATA_OK) rc = cm->allgather(cm->ctx, err, mine, len, (void **)&all, lens);
    const char *p = all;
    spread_head sum = {0};
    for (int r = 0; r < cm->size && rc == STRATA_OK; p += lens[r++]) {
        memcpy(&h, p, sizeof h);
        if (lens[r] != sizeof h + h.n * (sizeof *b + nc * sizeof *bc))
            rc = st_error(err, STRATA_ECORRUPT, "process %d sent batches that do not parse", r);
        else if (cm->rank == 0 && r > 0)
            rc = st_dataset_adopt(
                g->ds, (const st_cat_batch *)(const void *)(p + sizeof h),
                (const st_cat_bcol *)(const void *)(p + sizeof h + h.n * sizeof *b), (int)h.n);
        sum.files += h.files, sum.rows += h.rows, sum.bytes_read += h.bytes_read;
        sum.batches += h.batches;
    }
    if (rc == STRATA_OK && cm->rank == 0) rc = strata_publish(g->ds, &g->stats->version);
    rc = st_comm_agree(cm, err, rc);
    if (rc == STRATA_OK) {
        if (cm->rank != 0) st_dataset_forget_pending(g->ds);
        uint64_t v = (uint64_t)g->stats->version;
        rc = cm->bcast(cm->ctx, err, &v, sizeof v, 0);
        g->stats->version = (int64_t)v;
        g->stats->files = sum.files, g->stats->rows = sum.rows;
        g->stats->bytes_read = sum.bytes_read, g->stats->batches = sum.batches;
    }
    free(mine);
    free(all);
    free(lens);
    return rc;
}

/* After the root opened or created the dataset of G (RC: how that went): the root takes its
 * writer lock, the others open it as helpers (their batches published by the root). */
static int spread_ready(ingest *g, const st_comm *cm, int rc)
{
    if (cm->rank == 0 && rc == STRATA_OK) rc = st_dataset_lock(g->ds);
    if ((rc = st_comm_agree(cm, st_pool_err(g->pool), rc)) < 0) return rc;
    if (cm->rank != 0) {
        rc = strata_dataset_open(g->pool, g->region, g->name, &g->ds);
        if (rc == STRATA_OK) st_dataset_set_helper(g->ds);
    }
    return rc;
}

/* The end of a spread call's work (RC: how it went here): the last batch committed, every
 * process's batches published by the root, or nothing when any failed. */
static int spread_end(ingest *g, const st_comm *cm, int rc)
{
    if (g->batch != NULL) {
        if (rc == STRATA_OK) rc = commit_batch(g);
        strata_batch_abort(g->batch);
        g->batch = NULL;
    }
    if ((rc = st_comm_agree(cm, st_pool_err(g->pool), rc)) < 0) return rc;
    return spread_publish(g, cm);
}

/* Fewer files than processes: the files' bytes, end to end, cut in equal shares, each process
 * ingests the pieces of its share (a file cut where a record starts, piece_start()). */
static int ingest_pieces(ingest *g, const char *const *files, int nfiles, const st_comm *cm)
{
    uint64_t total = 0, at = 0, before = 0, r = (uint64_t)cm->rank, size = (uint64_t)cm->size;
    uint64_t *len = calloc((size_t)nfiles, sizeof *len);
    if (len == NULL) return st_error(st_pool_err(g->pool), STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        len[i] = stat(files[i], &st) == 0 ? (uint64_t)st.st_size : 0;
        total += len[i];
    }
    /* my share [s0, s1) of the bytes of all files */
    uint64_t s0 = (uint64_t)((double)total * (double)r / (double)size),
             s1 = r + 1 == size ? UINT64_MAX
                                : (uint64_t)((double)total * (double)(r + 1) / (double)size);
    int rc = STRATA_OK;
    for (int i = 0; i < nfiles && rc == STRATA_OK; at += len[i], i++) {
        uint64_t end = at + len[i];
        /* the shares it overlaps; an empty file belongs to the share its place falls in */
        if (!(s0 < end && s1 > at) && !(len[i] == 0 && s0 <= at && at < s1)) continue;
        uint64_t lo = s0 > at ? s0 - at : 0, hi = s1 < end ? s1 - at : UINT64_MAX;
        rc = ingest_piece(g, files[i], lo, hi, &before);
    }
    free(len);
    return rc;
}

/* The CSV files split over the processes of CM: many files in contiguous blocks, fewer files
 * than processes in pieces (ingest_pieces). The root first opens or creates the dataset from the
 * first file's header; each process writes its own batches, and the root publishes them all in
 * one version, in file order. */
static int ingest_spread(ingest *g, const char *const *files, int nfiles, const st_comm *cm)
{
    int rc = cm->rank == 0 ? prepare_dataset(g, files[0]) : STRATA_OK;
    if ((rc = spread_ready(g, cm, rc)) < 0) return rc;
    uint64_t n = (uint64_t)nfiles, size = (uint64_t)cm->size, r = (uint64_t)cm->rank;
    uint64_t lo = (r * n + size - 1) / size, hi = ((r + 1) * n + size - 1) / size, before = 0;
    if (nfiles >= cm->size) {
        for (uint64_t i = lo; i < hi && rc == STRATA_OK; i++)
            rc = ingest_piece(g, files[i], 0, UINT64_MAX, &before);
    } else {
        rc = ingest_pieces(g, files, nfiles, cm);
    }
    return spread_end(g, cm, rc);
}

int st_ingest_csv_run(strata_pool *pool, const char *region, const char *name,
                      const char *const *files, int nfiles, const strata_ingest_opts *opts,
                      strata_ingest_stats *stats, const st_comm *comm)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "region", region);
    if (rc == STRATA_OK) rc = st_name_check(err, "dataset", name);
    if (rc < 0) return rc;
    if (files == NULL || nfiles < 1) return st_error(err, STRATA_EINVAL, "no files to ingest");
    if (opts != NULL &&
        (opts->delimiter == '"' || opts->delimiter == '\n' || opts->delimiter == '\r'))
        return st_error(err, STRATA_EINVAL, "the delimiter cannot be a quote or a line end");
    ingest g;
    strata_ingest_stats local;
    init(&g, pool, region, name, opts, stats, &local);
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0) g.total_bytes += (uint64_t)st.st_size;
    }
    if (st_comm_many(comm)) {
        rc = ingest_spread(&g, files, nfiles, comm);
        return finish_close(&g, rc);
    }
    uint64_t before = 0;
    for (int i = 0; i < nfiles && rc == STRATA_OK; i++)
        rc = ingest_piece(&g, files[i], 0, UINT64_MAX, &before);
    return finish(&g, rc);
}

int strata_ingest_csv(strata_pool *pool, const char *region, const char *name,
                      const char *const *files, int nfiles, const strata_ingest_opts *opts,
                      strata_ingest_stats *stats)
{
    return st_ingest_csv_run(pool, region, name, files, nfiles, opts, stats, NULL);
}

/* Map the NCOLS column files FILES (named COLNAMES): 1-D, equally long; COLS receives their
 * names and dtypes. */
static int npy_map_columns(ingest *g, const char *const *colnames, const char *const *files,
                           int ncols, st_npy_map *m, strata_column *cols)
{
    st_err *err = st_pool_err(g->pool);
    for (int i = 0; i < ncols; i++) {
        int rc = st_name_check(err, "column", colnames[i]);
        if (rc < 0) return rc;
        if ((rc = st_npy_map_file_str(err, files[i], &m[i])) < 0) return rc;
        if (m[i].info.ndim != 1)
            return st_error(err, STRATA_EINVAL, "'%s' has %d dimensions; a column file must be 1-D",
                            files[i], m[i].info.ndim);
        if (m[i].info.count != m[0].info.count)
            return st_error(
                err, STRATA_EINVAL,
                "'%s' holds %llu values but '%s' holds %llu; columns must be equally long",
                files[i], (unsigned long long)m[i].info.count, files[0],
                (unsigned long long)m[0].info.count);
        cols[i].name = colnames[i];
        cols[i].dtype = m[i].info.dtype;
        g->total_bytes += m[i].len;
    }
    return STRATA_OK;
}

/* Encode code point CP as UTF-8 at OUT; its length, or 0 if it is no Unicode scalar value. */
static int utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if ((cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF) return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The fixed-width strings of M (numpy '<U' or '|S', zero-padded) as UTF-8 offsets and bytes
 * in B (owned by B: st_colbuf_free). FILE names it in messages. */
static int npy_strings(st_err *err, const char *file, const st_npy_map *m, st_colbuf *b)
{
    uint64_t n = m->info.count, w = m->info.str_width;
    int u = m->info.str_kind == 'U';
    int64_t *off = malloc((n + 1) * sizeof *off);
    char *bytes = malloc(n * w * (u ? 4 : 1) + 1);
    if (off == NULL || bytes == NULL) {
        free(off);
        free(bytes);
        return st_error(err, STRATA_ENOMEM, "out of memory reading the strings of '%s'", file);
    }
    b->v = (char *)off;
    b->bytes = bytes;
    b->n = n;
    off[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t at = off[i];
        if (u) {
            const uint8_t *rec = (const uint8_t *)m->data + i * w * 4;
            uint64_t len = w;
            while (len > 0 && memcmp(rec + (len - 1) * 4, "\0\0\0\0", 4) == 0) len--;
            for (uint64_t k = 0; k < len; k++) {
                uint32_t cp = (uint32_t)rec[4 * k] | (uint32_t)rec[4 * k + 1] << 8 |
                              (uint32_t)rec[4 * k + 2] << 16 | (uint32_t)rec[4 * k + 3] << 24;
                int l = utf8_put(cp, bytes + at);
                if (l == 0)
                    return st_error(err, STRATA_EINVAL,
                                    "'%s' element %llu: U+%X is not a Unicode character", file,
                                    (unsigned long long)i, cp);
                at += l;
            }
        } else {
            const char *rec = m->data + i * w;
            uint64_t len = w;
            while (len > 0 && rec[len - 1] == '\0') len--;
            size_t ok = st_utf8_valid_prefix(rec, (size_t)len);
            if (ok != len)
                return st_error(err, STRATA_EINVAL,
                                "'%s' element %llu: invalid UTF-8 at byte %zu (strata's strings "
                                "are UTF-8; decode the bytes first)",
                                file, (unsigned long long)i, ok + 1);
            memcpy(bytes + at, rec, (size_t)len);
            at += (int64_t)len;
        }
        off[i + 1] = at;
    }
    return STRATA_OK;
}

/* The validity of column file FILE (N values): the bool array in FILE's sibling NAME.valid.npy
 * (as strata_export_npy writes it) as a bitmap in *BITS, or NULL when there is none. */
static int npy_validity(ingest *g, const char *file, uint64_t n, uint8_t **bits)
{
    st_err *err = st_pool_err(g->pool);
    char path[ST_PATH_MAX];
    size_t len = strlen(file);
    *bits = NULL;
    if (len < 4 || strcmp(file + len - 4, ".npy") != 0) return STRATA_OK;
    int rc = st_path(err, path, "%.*s.valid.npy", (int)(len - 4), file);
    struct stat sb;
    if (rc < 0 || stat(path, &sb) != 0) return STRATA_OK;
    st_npy_map v;
    if ((rc = st_npy_map_file(err, path, &v)) < 0) return rc;
    if (v.info.dtype != STRATA_BOOL || v.info.ndim != 1 || v.info.count != n) {
        rc = st_error(err, STRATA_EINVAL,
                      "'%s' must be a 1-D bool array of %llu values (the validity of '%s')", path,
                      (unsigned long long)n, file);
    } else if ((*bits = calloc(st_bits_bytes(n) + 1, 1)) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    } else {
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)v.data)[i]) st_bit_set(*bits, i, 1);
    }
    st_npy_unmap(&v);
    return rc;
}

/* The NaTs (int64 minimum) of the N timestamps T are nulls: cleared in *BITS (allocated, all
 * valid, at the first NaT when NULL). */
static int nat_nulls(ingest *g, const int64_t *t, uint64_t n, uint8_t **bits)
{
    for (uint64_t i = 0; i < n; i++) {
        if (t[i] != INT64_MIN) continue;
        if (*bits == NULL) {
            if ((*bits = malloc(st_bits_bytes(n) + 1)) == NULL)
                return st_error(st_pool_err(g->pool), STRATA_ENOMEM, "out of memory");
            memset(*bits, 0xFF, st_bits_bytes(n) + 1);
        }
        st_bit_set(*bits, i, 0);
    }
    return STRATA_OK;
}

/* Match the mapped files M to the dataset's columns by name and dtype: VIEW, in schema order,
 * receives a zero-copy view of each file, and BITS the validity bitmaps of files that have one
 * (NAME.valid.npy beside NAME.npy); OWN holds the UTF-8 form of fixed-width string files. */
static int npy_bind_columns(ingest *g, const char *const *colnames, const char *const *files,
                            int ncols, const st_npy_map *m, st_colbuf *view, uint8_t **bits,
                            st_colbuf *own)
{
    st_err *err = st_pool_err(g->pool);
    const st_schema *sch = st_dataset_schema(g->ds);
    if (sch->ncols != ncols)
        return st_error(err, STRATA_EINVAL, "dataset '%s/%s' has %d columns; %d files were given",
                        g->region, g->name, sch->ncols, ncols);
    for (int i = 0; i < ncols; i++) {
        int col = st_schema_find(sch, colnames[i]);
        if (col < 0)
            return st_error(err, STRATA_EINVAL, "dataset '%s/%s' has no column '%s'", g->region,
                            g->name, colnames[i]);
        if (sch->cat[col].dtype != (int)m[i].info.dtype)
            return st_error(err, STRATA_ETYPE, "'%s' holds %s but column '%s' of '%s/%s' is %s",
                            files[i], strata_dtype_name(m[i].info.dtype), colnames[i], g->region,
                            g->name, strata_dtype_name((strata_dtype)sch->cat[col].dtype));
        view[col].dtype = m[i].info.dtype;
        view[col].v = (char *)(uintptr_t)m[i].data;
        view[col].n = m[i].info.count;
        int rc = STRATA_OK;
        if (m[i].info.dtype == STRATA_STR &&
            (rc = npy_strings(err, files[i], &m[i], &own[col])) < 0)
            return rc;
        if (m[i].info.dtype == STRATA_STR) {
            view[col].v = own[col].v;
            view[col].bytes = own[col].bytes;
        }
        rc = npy_validity(g, files[i], m[i].info.count, &bits[col]);
        if (rc == STRATA_OK && m[i].info.dtype == STRATA_TS)
            rc =
                nat_nulls(g, (const int64_t *)(const void *)m[i].data, m[i].info.count, &bits[col]);
        if (rc < 0) return rc;
        view[col].valid = bits[col];
    }
    return STRATA_OK;
}

int strata_ingest_npy(strata_pool *pool, const char *region, const char *name,
                      const char *const *colnames, const char *const *files, int ncols,
                      const strata_ingest_opts *opts, strata_ingest_stats *stats)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "region", region);
    if (rc == STRATA_OK) rc = st_name_check(err, "dataset", name);
    if (rc < 0) return rc;
    if (colnames == NULL || files == NULL || ncols < 1 || ncols > STRATA_MAX_COLUMNS)
        return st_error(err, STRATA_EINVAL, "no columns to ingest");
    ingest g;
    strata_ingest_stats local;
    init(&g, pool, region, name, opts, stats, &local);
    st_npy_map *m = calloc((size_t)ncols, sizeof *m);
    strata_column *cols = calloc((size_t)ncols, sizeof *cols);
    st_colbuf *view = calloc((size_t)ncols, sizeof *view);
    uint8_t **bits = calloc((size_t)ncols, sizeof *bits);
    st_colbuf *own = calloc((size_t)ncols, sizeof *own);
    if (m == NULL || cols == NULL || view == NULL || bits == NULL || own == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    ST_TRY(rc = npy_map_columns(&g, colnames, files, ncols, m, cols));
    st_ingest_total(&g, g.total_bytes); /* (the files' bytes, summed as they were mapped) */
    ST_TRY(rc = ensure_dataset(&g, cols, ncols));
    ST_TRY(rc = npy_bind_columns(&g, colnames, files, ncols, m, view, bits, own));
    ST_TRY(rc = open_batch(&g));
    ST_TRY(rc = feed(&g, view, m[0].info.count));
    g.stats->files = (uint64_t)ncols;
    progress(&g, g.total_bytes);
done:
    for (int i = 0; m != NULL && i < ncols; i++) st_npy_unmap(&m[i]);
    for (int i = 0; bits != NULL && i < ncols; i++) free(bits[i]);
    for (int i = 0; own != NULL && i < ncols; i++) st_colbuf_free(&own[i]);
    free(own);
    free(m);
    free(cols);
    free(view);
    free(bits);
    return finish(&g, rc);
}

/* ---- the interface for other readers (ingest/ingest.h) ----------------------------------- */

int st_ingest_begin(strata_pool *pool, const char *region, const char *name,
                    const strata_ingest_opts *opts, strata_ingest_stats *stats, st_ingest **out)
{
    *out = NULL;
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    int rc = st_name_check(err, "region", region);
    if (rc == STRATA_OK) rc = st_name_check(err, "dataset", name);
    if (rc < 0) return rc;
    st_ingest *g = malloc(sizeof *g);
    if (g == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    init(g, pool, region, name, opts, stats, &g->local);
    *out = g;
    return STRATA_OK;
}

int st_ingest_bind(st_ingest *g, const strata_column *cols, int ncols, const char *source,
                   int *order)
{
    st_err *err = st_pool_err(g->pool);
    int rc;
    if (g->ds == NULL && (rc = ensure_dataset(g, cols, ncols)) < 0) return rc;
    const st_schema *sch = st_dataset_schema(g->ds);
    if (sch->ncols != ncols)
        return st_error(err, STRATA_EINVAL, "%s has %d columns but dataset '%s/%s' has %d", source,
                        ncols, g->region, g->name, sch->ncols);
    for (int i = 0; i < ncols; i++) {
        int col = st_schema_find(sch, cols[i].name);
        if (col < 0)
            return st_error(err, STRATA_EINVAL, "%s: column '%s' is not in dataset '%s/%s'", source,
                            cols[i].name, g->region, g->name);
        if (sch->cat[col].dtype != (int)cols[i].dtype)
            return st_error(err, STRATA_ETYPE, "%s: column '%s' holds %s but '%s/%s' has it as %s",
                            source, cols[i].name, strata_dtype_name(cols[i].dtype), g->region,
                            g->name, strata_dtype_name((strata_dtype)sch->cat[col].dtype));
        order[i] = col;
    }
    return STRATA_OK;
}

int st_ingest_feed(st_ingest *g, st_colbuf *bufs, uint64_t rows, uint64_t bytes_read)
{
    int rc = feed(g, bufs, rows);
    if (rc == STRATA_OK) progress(g, bytes_read);
    return rc;
}

int st_ingest_unit_done(st_ingest *g)
{
    int rc = g->o.batch_rows == 0 ? open_batch(g) : STRATA_OK;
    return rc < 0 ? rc : finish_file_batch(g);
}

void st_ingest_files(st_ingest *g, uint64_t files)
{
    g->stats->files += files;
}

void st_ingest_total(st_ingest *g, uint64_t total)
{
    g->total_bytes = total;
    if (total < ST_INGEST_ONE_THREAD) g->nt = 1;
}

int st_ingest_threads(const st_ingest *g)
{
    return g->nt;
}

const strata_ingest_opts *st_ingest_opts(const st_ingest *g)
{
    return &g->o;
}

st_err *st_ingest_err(const st_ingest *g)
{
    return st_pool_err(g->pool);
}

void st_ingest_spread(st_ingest *g, const st_comm *cm)
{
    g->cm = st_comm_many(cm) ? cm : NULL;
}

int st_ingest_spread_ready(st_ingest *g, int rc)
{
    return g->cm != NULL ? spread_ready(g, g->cm, rc) : rc;
}

int st_ingest_end(st_ingest *g, int rc)
{
    if (g == NULL) return rc;
    if (g->cm != NULL) {
        rc = spread_end(g, g->cm, rc);
        rc = finish_close(g, rc);
        free(g);
        return rc;
    }
    /* a source of zero rows still adds its (empty) batch, as an empty CSV file does */
    if (rc == STRATA_OK && g->ds != NULL && g->batch == NULL && g->stats->batches == 0)
        rc = open_batch(g);
    rc = finish(g, rc);
    free(g);
    return rc;
}
