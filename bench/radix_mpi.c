/*
 * radix_mpi.c -- the peer of a sort spread over MPI processes: a plain distributed LSD radix sort
 * of (key, row) pairs, as distributed-LSB reference codes do it.
 *
 * Each process reads its block of the keys (an .npy file of int64) and pairs each with its row.
 * Then, per 8-bit digit from the lowest: a local histogram; every process's histograms
 * (MPI_Allgather) give each (digit, process) its global position; each pair goes to the process
 * that owns its position (blocks of n / p), with one MPI_Alltoallv of (position, key, row)
 * triples, and lands in place. A digit the same for every key is skipped (the passes a key's
 * range needs, as a careful reference would). The time is from the keys in memory to every
 * process holding its block of the sorted pairs, the slowest process's.
 *     mpirun -np N radix_mpi KEYS.npy
 * prints: radix_mpi rows=N procs=P passes=K seconds=S sorted=1
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trip {
    uint64_t pos, key, row;
} trip;

/* The npy file's int64 values [LO, HI) into *OUT; its row count into *N. */
static int read_block(const char *path, int rank, int size, uint64_t **out, uint64_t *lo,
                      uint64_t *hi, uint64_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char pre[10];
    if (f == NULL || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "radix_mpi: %s is not an .npy file\n", path);
        return -1;
    }
    size_t hlen = pre[6] == 1 ? (size_t)(pre[8] | pre[9] << 8) : 0;
    char head[4096];
    if (hlen == 0 || hlen >= sizeof head || fread(head, 1, hlen, f) != hlen) return -1;
    head[hlen] = 0;
    const char *sh = strstr(head, "'shape': (");
    if (strstr(head, "<i8") == NULL || sh == NULL) {
        fprintf(stderr, "radix_mpi: %s must hold int64 values\n", path);
        return -1;
    }
    *n = strtoull(sh + 10, NULL, 10);
    *lo = *n * (uint64_t)rank / (uint64_t)size;
    *hi = *n * (uint64_t)(rank + 1) / (uint64_t)size;
    *out = malloc((*hi - *lo) * 8 + 8);
    if (*out == NULL || fseek(f, (long)(10 + hlen + *lo * 8), SEEK_SET) != 0 ||
        fread(*out, 8, *hi - *lo, f) != *hi - *lo)
        return -1;
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    uint64_t *keys = NULL, lo = 0, hi = 0, n = 0;
    if (argc != 2 || read_block(argv[1], rank, size, &keys, &lo, &hi, &n) != 0) {
        if (argc != 2) fprintf(stderr, "usage: mpirun -np N radix_mpi KEYS.npy\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    uint64_t m = hi - lo, cap = n / (uint64_t)size + 2;
    uint64_t *k = malloc(cap * 8), *r = malloc(cap * 8), *hist = malloc(256 * 8);
    uint64_t *all = malloc((size_t)size * 256 * 8);
    trip *send = malloc(cap * sizeof *send), *recv = malloc(cap * sizeof *recv);
    int *scnt = calloc((size_t)size, sizeof *scnt), *rcnt = calloc((size_t)size, sizeof *rcnt);
    int *sdis = calloc((size_t)size, sizeof *sdis), *rdis = calloc((size_t)size, sizeof *rdis);
    int *fill = calloc((size_t)size, sizeof *fill);
    trip *by = malloc(cap * sizeof *by);
    uint32_t *owner = malloc(cap * sizeof *owner);
    if (!k || !r || !hist || !all || !send || !recv || !scnt || !rcnt || !sdis || !rdis || !fill ||
        !by || !owner)
        MPI_Abort(MPI_COMM_WORLD, 3);
    for (uint64_t i = 0; i < m; i++) {
        k[i] = keys[i] ^ (UINT64_C(1) << 63); /* signed order */
        r[i] = lo + i;
    }
    free(keys);
    MPI_Datatype tt;
    MPI_Type_contiguous(3, MPI_UINT64_T, &tt);
    MPI_Type_commit(&tt);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    int passes = 0;
    for (int shift = 0; shift < 64; shift += 8) {
        memset(hist, 0, 256 * 8);
        for (uint64_t i = 0; i < m; i++) hist[k[i] >> shift & 255]++;
        MPI_Allgather(hist, 256, MPI_UINT64_T, all, 256, MPI_UINT64_T, MPI_COMM_WORLD);
        uint64_t base[256], total = 0, full = 0;
        for (int d = 0; d < 256; d++) { /* this process's first position for digit d */
            uint64_t t = 0;
            for (int p = 0; p < size; p++) t += all[(size_t)p * 256 + (size_t)d];
            full |= t == n;
            base[d] = total;
            for (int p = 0; p < rank; p++) base[d] += all[(size_t)p * 256 + (size_t)d];
            total += t;
        }
        if (full) continue; /* one digit for every key: nothing moves */
        passes++;
        /* each pair to the process whose block (as read_block() cuts them) holds its position */
        memset(scnt, 0, (size_t)size * sizeof *scnt);
        for (uint64_t i = 0; i < m; i++) {
            uint64_t pos = base[k[i] >> shift & 255]++, own = pos * (uint64_t)size / n;
            while (own + 1 < (uint64_t)size && pos >= n * (own + 1) / (uint64_t)size) own++;
            while (own > 0 && pos < n * own / (uint64_t)size) own--;
            send[i] = (trip){pos, k[i], r[i]};
            owner[i] = (uint32_t)own;
            scnt[own]++;
        }
        for (int p = 1; p < size; p++) sdis[p] = sdis[p - 1] + scnt[p - 1];
        memset(fill, 0, (size_t)size * sizeof *fill);
        for (uint64_t i = 0; i < m; i++) by[sdis[owner[i]] + fill[owner[i]]++] = send[i];
        MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, MPI_COMM_WORLD);
        for (int p = 1; p < size; p++) rdis[p] = rdis[p - 1] + rcnt[p - 1];
        MPI_Alltoallv(by, scnt, sdis, tt, recv, rcnt, rdis, tt, MPI_COMM_WORLD);
        uint64_t got = (uint64_t)rdis[size - 1] + (uint64_t)rcnt[size - 1];
        if (got != m) MPI_Abort(MPI_COMM_WORLD, 4);
        for (uint64_t i = 0; i < got; i++) {
            uint64_t at = recv[i].pos - lo;
            k[at] = recv[i].key;
            r[at] = recv[i].row;
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double secs = MPI_Wtime() - t0;
    /* sorted within the block and across the blocks' edges */
    int ok = 1;
    for (uint64_t i = 1; i < m; i++) ok &= k[i - 1] < k[i] || (k[i - 1] == k[i] && r[i - 1] < r[i]);
    uint64_t first = m ? k[0] : 0, last = m ? k[m - 1] : 0, prev = 0;
    if (rank + 1 < size) MPI_Send(&last, 1, MPI_UINT64_T, rank + 1, 0, MPI_COMM_WORLD);
    if (rank > 0) {
        MPI_Recv(&prev, 1, MPI_UINT64_T, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        ok &= prev <= first;
    }
    int all_ok;
    MPI_Reduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("radix_mpi rows=%llu procs=%d passes=%d seconds=%.4f sorted=%d\n",
               (unsigned long long)n, size, passes, secs, all_ok);
    MPI_Type_free(&tt);
    MPI_Finalize();
    return rank == 0 && !all_ok;
}
