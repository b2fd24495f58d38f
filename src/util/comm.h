/*
 * comm.h -- the processes that share one piece of work, as the layers below mdms see them.
 *
 * The update engine (src/derive) splits an update across processes, but MPI is bound only by
 * the MDMS layer above it (mdms/mpilib.h). The engine therefore sees the group through this
 * table of collectives, which src/mdms/comm_mpi.c fills over an MPI communicator; a NULL
 * st_comm, or one of size 1, is one process doing everything. Every call is collective: each
 * process of the group makes it, in the same order. A call returns 0, or a negative STRATA_*
 * status with ERR set.
 */
#ifndef STRATA_UTIL_COMM_H
#define STRATA_UTIL_COMM_H

#include <stdint.h>

#include "util/error.h"

typedef enum { ST_COMM_SUM, ST_COMM_MAX, ST_COMM_MIN } st_comm_op;

typedef struct st_comm {
    int rank, size;
    void *ctx;
    /* Every process's LEN bytes at DATA, concatenated in rank order into *OUT (malloc'd, the
     * caller frees it; NULL when they total 0), each one's length in LENS[size]. */
    int (*allgather)(void *ctx, st_err *err, const void *data, uint64_t len, void **out,
                     uint64_t *lens);
    /* An exchange: this process's SENDLENS[r] bytes for each process r, consecutive at DATA in
     * rank order, go to r; *OUT (malloc'd; the caller frees it with free() or st_free_big();
     * NULL when it totals 0) receives
     * what each process sent this one, in rank order, RECVLENS[r] bytes from r. Every length is
     * a multiple of 8. */
    int (*alltoallv)(void *ctx, st_err *err, const void *data, const uint64_t *sendlens, void **out,
                     uint64_t *recvlens);
    /* A swap between this process and PEER, which makes the same call with the lengths the other
     * way round (not collective: only the two of them call it): SLEN bytes at SEND go to PEER,
     * and PEER's RLEN bytes land at RECV (a range apart from SEND's). */
    int (*sendrecv)(void *ctx, st_err *err, int peer, const void *send, uint64_t slen, void *recv,
                    uint64_t rlen);
    /* ROOT's LEN bytes at DATA to every process's DATA (LEN the same everywhere). */
    int (*bcast)(void *ctx, st_err *err, void *data, uint64_t len, int root);
    /* V[0..N) combined by OP over the processes, in place everywhere. */
    int (*allreduce)(void *ctx, st_err *err, uint64_t *v, int n, st_comm_op op);
} st_comm;

/* Whether C is more than one process. */
static inline int st_comm_many(const st_comm *c)
{
    return c != NULL && c->size > 1;
}

/* Everyone learns whether RC (this process's status) is a failure anywhere: the first failure
 * in rank order, with its message in ERR, or STRATA_OK. Collective; a NULL or one-process C
 * returns RC. */
int st_comm_agree(const st_comm *c, st_err *err, int rc);

#endif /* STRATA_UTIL_COMM_H */
