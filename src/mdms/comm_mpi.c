/*
 * comm_mpi.c -- the collectives of the update engine and of ingest (util/comm.h) over an MPI
 * communicator, the public strata_update_comm() and strata_ingest_csv_comm(), and MPI for programs
 * that do not link it (strata_mpi_open: the strata command under mpirun).
 *
 * The engine sends small messages (the descriptions of the files each process wrote, never the
 * data itself) and bcasts of at most a few megabytes; lengths are 64-bit here and checked
 * against MPI's int counts.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derive/derive.h"
#include "ingest/ingest.h"
#include "interop/interop.h"
#include "pool/pool.h"
#include "util/comm.h"
#include "util/error.h"
#include "util/fileio.h"

#ifdef STRATA_HAVE_MPI
#include <mpi.h>

#include "mdms/mpilib.h"

static int mpi_fail(st_err *err, int mrc, const char *what)
{
    char s[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(mrc, s, &len);
    return st_error(err, STRATA_EIO, "%s failed across the processes: %s", what, s);
}

static int mpi_allgather(void *ctx, st_err *err, const void *data, uint64_t len, void **out,
                         uint64_t *lens)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int size = 0, mrc;
    MPI_Comm_size(comm, &size);
    *out = NULL;
    if ((mrc = MPI_Allgather(&len, 1, MPI_UINT64_T, lens, 1, MPI_UINT64_T, comm)) != MPI_SUCCESS)
        return mpi_fail(err, mrc, "gathering the update's message lengths");
    uint64_t total = 0;
    for (int r = 0; r < size; r++) total += lens[r];
    if (total > INT_MAX) /* everyone sees the same total, and fails alike */
        return st_error(err, STRATA_ENOMEM,
                        "the update's messages total %llu bytes, over MPI's 2 GiB per call",
                        (unsigned long long)total);
    int *counts = malloc(2 * (size_t)size * sizeof *counts);
    char *all = malloc(total + 1);
    if (counts == NULL || all == NULL) {
        free(counts);
        free(all);
        return st_error(err, STRATA_ENOMEM, "out of memory");
    }
    for (int r = 0, at = 0; r < size; at += counts[r++]) {
        counts[r] = (int)lens[r];
        counts[size + r] = at;
    }
    mrc = MPI_Allgatherv(data, (int)len, MPI_BYTE, all, counts, counts + size, MPI_BYTE, comm);
    free(counts);
    if (mrc != MPI_SUCCESS) {
        free(all);
        return mpi_fail(err, mrc, "gathering the update's messages");
    }
    *out = all;
    return STRATA_OK;
}

/* Counts and displacements of LENS[0..SIZE) bytes in 8-byte words into C and D (checked to fit
 * an int by the caller). */
static void words(const uint64_t *lens, int size, int *c, int *d)
{
    uint64_t at = 0;
    for (int r = 0; r < size; r++) {
        c[r] = (int)(lens[r] / 8);
        d[r] = (int)(at / 8);
        at += lens[r];
    }
}

static int mpi_alltoallv(void *ctx, st_err *err, const void *data, const uint64_t *sendlens,
                         void **out, uint64_t *recvlens)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    int size = 0, me = 0, mrc, rc = STRATA_OK;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &me);
    *out = NULL;
    uint64_t *m = malloc((size_t)size * (size_t)size * sizeof *m), total = 0;
    int *cd = malloc(4 * (size_t)size * sizeof *cd);
    char *all = NULL;
    MPI_Datatype w;
    if (m == NULL || cd == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done; /* the others fail in the exchange below: MPI ends the job */
    }
    mrc = MPI_Allgather(sendlens, size, MPI_UINT64_T, m, size, MPI_UINT64_T, comm);
    if (mrc != MPI_SUCCESS) {
        rc = mpi_fail(err, mrc, "exchanging the update's message lengths");
        goto done;
    }
    for (int r = 0; r < size; r++) total += recvlens[r] = m[(size_t)r * (size_t)size + (size_t)me];
    int bad = 0; /* every process checks every process's lengths: all fail alike */
    for (int r = 0; r < size; r++) {
        uint64_t out_r = 0, in_r = 0;
        for (int q = 0; q < size; q++) {
            uint64_t sq = m[(size_t)r * (size_t)size + (size_t)q];
            bad |= sq % 8 != 0;
            out_r += sq;
            in_r += m[(size_t)q * (size_t)size + (size_t)r];
        }
        bad |= out_r / 8 > INT_MAX || in_r / 8 > INT_MAX;
    }
    if (bad) {
        rc = st_error(err, STRATA_ENOMEM,
                      "an exchange between the processes passes MPI's 2^31 words per call");
        goto done;
    }
    /* plain pages: on the 2-core VM a 160 MB exchange into fresh huge pages took 0.04 to 0.34 s
     * (not compaction: compact_stall stayed 0; first touches the host backs slowly), into 4 KB
     * pages a steady 0.08 s; MPI writes the buffer once, in order, so huge pages save it
     * little else */
    if ((all = malloc(total + 8)) == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory receiving %llu bytes",
                      (unsigned long long)total);
        goto done;
    }
    words(sendlens, size, cd, cd + size);
    words(recvlens, size, cd + 2 * size, cd + 3 * size);
    MPI_Type_contiguous(8, MPI_BYTE, &w);
    MPI_Type_commit(&w);
    mrc = MPI_Alltoallv(data, cd, cd + size, w, all, cd + 2 * size, cd + 3 * size, w, comm);
    MPI_Type_free(&w);
    if (mrc != MPI_SUCCESS) rc = mpi_fail(err, mrc, "exchanging the update's rows");
done:
    if (rc == STRATA_OK && total > 0)
        *out = all;
    else
        st_free_big(all);
    free(m);
    free(cd);
    return rc;
}

static int mpi_sendrecv(void *ctx, st_err *err, int peer, const void *send, uint64_t slen,
                        void *recv, uint64_t rlen)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    const uint64_t piece = (uint64_t)1 << 30; /* MPI's counts are ints */
    /* as many pieces on both sides: the larger of the two lengths decides, alike on both */
    for (uint64_t at = 0; at < slen || at < rlen; at += piece) {
        int sn = at < slen ? (int)(slen - at < piece ? slen - at : piece) : 0;
        int rn = at < rlen ? (int)(rlen - at < piece ? rlen - at : piece) : 0;
        const void *sp = sn > 0 ? (const char *)send + at : send; /* (no offset from NULL) */
        void *rp = rn > 0 ? (char *)recv + at : recv;
        int mrc = MPI_Sendrecv(sp, sn, MPI_BYTE, peer, 0, rp, rn, MPI_BYTE, peer, 0, comm,
                               MPI_STATUS_IGNORE);
        if (mrc != MPI_SUCCESS) return mpi_fail(err, mrc, "exchanging the update's rows");
    }
    return STRATA_OK;
}

static int mpi_bcast(void *ctx, st_err *err, void *data, uint64_t len, int root)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    for (uint64_t at = 0; at < len;) {
        int n = len - at > (1u << 30) ? 1 << 30 : (int)(len - at);
        int mrc = MPI_Bcast((char *)data + at, n, MPI_BYTE, root, comm);
        if (mrc != MPI_SUCCESS) return mpi_fail(err, mrc, "broadcasting the update's state");
        at += (uint64_t)n;
    }
    return STRATA_OK;
}

static int mpi_allreduce(void *ctx, st_err *err, uint64_t *v, int n, st_comm_op op)
{
    MPI_Comm comm = *(MPI_Comm *)ctx;
    MPI_Op mop = op == ST_COMM_SUM ? MPI_SUM : op == ST_COMM_MAX ? MPI_MAX : MPI_MIN;
    int mrc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, mop, comm);
    return mrc == MPI_SUCCESS ? STRATA_OK : mpi_fail(err, mrc, "summing the update's counters");
}

/* An st_comm over a duplicate of *COMM (the caller's traffic never mixes with ours); *DUP is
 * freed with MPI_Comm_free. */
static int comm_open(st_err *err, const void *comm, MPI_Comm *dup, st_comm *c)
{
    int init = 0, rc = st_mpi_load(err);
    if (rc < 0) return rc;
    MPI_Initialized(&init);
    if (!init)
        return st_error(err, STRATA_EINVAL,
                        "a communicator was given but MPI is not initialised; call MPI_Init "
                        "first");
    int mrc = MPI_Comm_dup(*(const MPI_Comm *)comm, dup);
    if (mrc != MPI_SUCCESS) return mpi_fail(err, mrc, "duplicating the communicator");
    *c = (st_comm){.ctx = dup,
                   .allgather = mpi_allgather,
                   .alltoallv = mpi_alltoallv,
                   .sendrecv = mpi_sendrecv,
                   .bcast = mpi_bcast,
                   .allreduce = mpi_allreduce};
    MPI_Comm_rank(*dup, &c->rank);
    MPI_Comm_size(*dup, &c->size);
    return STRATA_OK;
}
#endif /* STRATA_HAVE_MPI */

int strata_update_comm(strata_pool *pool, const char *region, const char *name,
                       const strata_update_opts *opts, strata_update_stats *stats, const void *comm)
{
    if (pool == NULL) return STRATA_EINVAL;
    if (comm == NULL) return st_update_run(pool, region, name, opts, stats, NULL);
#ifdef STRATA_HAVE_MPI
    MPI_Comm dup;
    st_comm c;
    int rc = comm_open(st_pool_err(pool), comm, &dup, &c);
    if (rc < 0) return rc;
    rc = st_update_run(pool, region, name, opts, stats, &c);
    MPI_Comm_free(&dup);
    return rc;
#else
    return st_error(st_pool_err(pool), STRATA_EUNSUPPORTED,
                    "strata_update_comm: this libstrata was built without MPI; pass NULL as the "
                    "communicator or rebuild with libopenmpi-dev installed");
#endif
}

int strata_ingest_csv_comm(strata_pool *pool, const char *region, const char *name,
                           const char *const *files, int nfiles, const strata_ingest_opts *opts,
                           strata_ingest_stats *stats, const void *comm)
{
    if (pool == NULL) return STRATA_EINVAL;
    if (comm == NULL)
        return st_ingest_csv_run(pool, region, name, files, nfiles, opts, stats, NULL);
#ifdef STRATA_HAVE_MPI
    MPI_Comm dup;
    st_comm c;
    int rc = comm_open(st_pool_err(pool), comm, &dup, &c);
    if (rc < 0) return rc;
    rc = st_ingest_csv_run(pool, region, name, files, nfiles, opts, stats, &c);
    MPI_Comm_free(&dup);
    return rc;
#else
    return st_error(st_pool_err(pool), STRATA_EUNSUPPORTED,
                    "strata_ingest_csv_comm: this libstrata was built without MPI; pass NULL as "
                    "the communicator or rebuild with libopenmpi-dev installed");
#endif
}

int strata_ingest_parquet_comm(strata_pool *pool, const char *region, const char *name,
                               const char *const *files, int nfiles, const strata_ingest_opts *opts,
                               strata_ingest_stats *stats, const void *comm)
{
    if (pool == NULL) return STRATA_EINVAL;
    if (comm == NULL)
        return st_ingest_parquet_run(pool, region, name, files, nfiles, opts, stats, NULL);
#ifdef STRATA_HAVE_MPI
    MPI_Comm dup;
    st_comm c;
    int rc = comm_open(st_pool_err(pool), comm, &dup, &c);
    if (rc < 0) return rc;
    rc = st_ingest_parquet_run(pool, region, name, files, nfiles, opts, stats, &c);
    MPI_Comm_free(&dup);
    return rc;
#else
    return st_error(st_pool_err(pool), STRATA_EUNSUPPORTED,
                    "strata_ingest_parquet_comm: this libstrata was built without MPI; pass NULL "
                    "as the communicator or rebuild with libopenmpi-dev installed");
#endif
}

/* ---- MPI for a program that does not link it ---------------------------------------------- */

struct strata_mpi {
    int rank, size, inited;
#ifdef STRATA_HAVE_MPI
    MPI_Comm world;
#endif
};

int strata_mpi_open(int *argc, char ***argv, strata_mpi **out, char *why, size_t len)
{
    *out = NULL;
    if (why != NULL && len > 0) why[0] = '\0';
#ifdef STRATA_HAVE_MPI
    st_err err;
    st_err_init(&err);
    int rc = st_mpi_load_global(&err);
    if (rc < 0 && why != NULL) st_err_copy(&err, why, len);
    st_err_destroy(&err);
    if (rc < 0) return rc;
    strata_mpi *m = calloc(1, sizeof *m);
    if (m == NULL) return STRATA_ENOMEM;
    int init = 0, provided = 0;
    MPI_Initialized(&init);
    if (!init) {
        int mrc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (mrc != MPI_SUCCESS) {
            if (why != NULL) snprintf(why, len, "MPI_Init_thread failed (error %d)", mrc);
            free(m);
            return STRATA_EIO;
        }
        m->inited = 1;
    }
    m->world = MPI_COMM_WORLD;
    MPI_Comm_rank(m->world, &m->rank);
    MPI_Comm_size(m->world, &m->size);
    *out = m;
    return STRATA_OK;
#else
    (void)argc;
    (void)argv;
    if (why != NULL)
        snprintf(why, len,
                 "this libstrata was built without MPI: rebuild it with "
                 "libopenmpi-dev installed");
    return STRATA_EUNSUPPORTED;
#endif
}

const void *strata_mpi_world(const strata_mpi *m)
{
#ifdef STRATA_HAVE_MPI
    return m != NULL ? &m->world : NULL;
#else
    (void)m;
    return NULL;
#endif
}

int strata_mpi_rank(const strata_mpi *m)
{
    return m != NULL ? m->rank : 0;
}

int strata_mpi_size(const strata_mpi *m)
{
    return m != NULL ? m->size : 1;
}

void strata_mpi_close(strata_mpi *m)
{
    if (m == NULL) return;
#ifdef STRATA_HAVE_MPI
    int fin = 0;
    if (m->inited && MPI_Finalized(&fin) == MPI_SUCCESS && !fin) MPI_Finalize();
#endif
    free(m);
}
