/*
 * fileio.h -- the durable-file primitives every layer writes through.
 *
 * The commit protocol of Strata is "make the data durable, then record it": files are written
 * under a temporary name, fsynced, renamed into place, and their directory fsynced before any
 * catalog transaction mentions them. These helpers are the pieces of that protocol.
 */
#ifndef STRATA_UTIL_FILEIO_H
#define STRATA_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

#define ST_PATH_MAX 4096

/* Nanoseconds since the Unix epoch. */
int64_t st_now_ns(void);

/* Seconds on the monotonic clock (for durations: stats.seconds, deadlines). */
double st_mono_s(void);

/* Length of the random tokens that make temporary and chunk file names unique. */
#define ST_TOKEN_LEN 16

/* ST_TOKEN_LEN lowercase hex digits from the kernel's random source, NUL-terminated. */
void st_random_token(char out[ST_TOKEN_LEN + 1]);

/* snprintf into a path buffer of ST_PATH_MAX bytes; STRATA_ENAME when the result is too long. */
int st_path(st_err *err, char *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write / read exactly N bytes at OFF (retrying short transfers and EINTR). */
int st_pwrite_full(st_err *err, int fd, const void *buf, size_t n, uint64_t off, const char *path);
int st_pread_full(st_err *err, int fd, void *buf, size_t n, uint64_t off, const char *path);

/* fsync FD / the directory DIR. */
int st_fsync_fd(st_err *err, int fd, const char *path);
int st_fsync_dir(st_err *err, const char *dir);

/* munmap the LEN bytes at MAP (NULL: nothing), a mapping of a file that was read, after marking
 * it sequential (posix_madvise): the kernel then does not mark every resident page it unmaps as
 * recently used (LRU bookkeeping under a lock, page by page: in a profile of a 2 ms incremental
 * update on the 2-core VM of bench/README.md, unmapping fell from 600 to 315 of 1 450 samples).
 * Not for mappings that were written. */
void st_unmap_file(void *map, size_t len);

/* mkdir DIR (mode 0755); an existing directory is fine when EXIST_OK. */
int st_mkdir(st_err *err, const char *dir, int exist_ok);

/* rename FROM to TO. */
int st_rename(st_err *err, const char *from, const char *to);

/* unlink PATH; a missing file is not an error. */
int st_unlink(st_err *err, const char *path);

/* Remove directory DIR and the plain files directly in it (no recursion). */
int st_rmdir_files(st_err *err, const char *dir);

/* Take an OFD lock (fcntl F_OFD_SETLK) on bytes [START, START+LEN) of FD (LEN 0: to the end),
 * shared or exclusive, waiting at most TIMEOUT_MS (0: try once; negative: forever) with growing
 * sleeps. STRATA_ELOCKED on timeout, with a message naming WHAT. OFD locks belong to the open
 * file description: released when it is closed or its process dies. */
int st_lock_fd(st_err *err, int fd, int exclusive, uint64_t start, uint64_t len, int timeout_ms,
               const char *what);

/* Polls that wait for a lock: the deadline TIMEOUT_MS from now (negative: never), and a sleep
 * before the next try, growing from ST_BACKOFF_FIRST_US (*SLEEP_US) up to 20 ms and never past
 * DEADLINE; 0 (no sleep) once DEADLINE has passed. No signals, no threads. */
#define ST_BACKOFF_FIRST_US 200
int64_t st_deadline_ms(int timeout_ms);
int st_backoff(int64_t deadline, long *sleep_us);

/* Release an OFD lock taken with st_lock_fd(). */
int st_unlock_fd(st_err *err, int fd, uint64_t start, uint64_t len, const char *what);

/* STRATA_ELOCKED if another open file description holds a lock conflicting with an exclusive
 * one on bytes [START, START+LEN) of FD. */
int st_lock_probe(st_err *err, int fd, uint64_t start, uint64_t len, const char *what);

/* The bytes of an object's ".writer" file (in the directory of a dataset or of an N-d array),
 * locked with OFD locks:
 *   ST_LOCK_WRITER, exclusive: the object's one writer, from its first file to its publish;
 *   ST_LOCK_INFLIGHT, shared: another process with files in the object's directories that the
 *   catalog does not name yet (a reader staging a chunk, a rank of an MPI save).
 * gc takes both exclusively, without waiting, while it looks for orphans in the object's
 * directories: while a writer lives, its unpublished files are never orphans. */
#define ST_LOCK_WRITER   0
#define ST_LOCK_INFLIGHT 1

/* Open (creating it when CREATE) the lock file PATH and lock bytes [START, START+LEN) as
 * st_lock_fd() does. Returns the file descriptor (close it to release), or an error. */
int st_lock_path(st_err *err, const char *path, int create, int exclusive, uint64_t start,
                 uint64_t len, int timeout_ms, const char *what);

/* Whether the directory holding PATH cannot be written: a read-only file system, or no write
 * permission. */
int st_dir_of_is_readonly(const char *path);

/* Bytes of the regular files at and below PATH (0 when it is missing). */
uint64_t st_tree_bytes(const char *path);

/* Scratch memory for kernels: like malloc, but buffers of several megabytes are 2 MiB aligned and
 * advised to use transparent huge pages (fewer page faults and TLB misses in scatters). Free
 * with st_free_big(). */
void *st_alloc_big(size_t size);
void st_free_big(void *p);
/* The whole pages of P (SIZE bytes from st_alloc_big()) past its first KEEP bytes given back to
 * the system, their bytes lost (P stays whole for st_free_big(): a page read again is zero). */
void st_trim_big(void *p, size_t keep, size_t size);

/* Remove PATH and everything below it; a missing PATH is fine. */
int st_rm_tree(st_err *err, const char *path);

/* A file written in pieces and then published durably. st_wfile_open() creates
 * DIR/.tmp-TOKEN; st_wfile_publish() fsyncs it and renames it to DIR/NAME (the caller fsyncs DIR
 * once for all the files it publishes); st_wfile_abort() removes the temporary file. */
typedef struct st_wfile {
    int fd;
    char tmp[ST_PATH_MAX];
} st_wfile;

int st_wfile_open(st_err *err, st_wfile *w, const char *dir);
int st_wfile_publish(st_err *err, st_wfile *w, const char *dir, const char *name);
void st_wfile_abort(st_wfile *w);

#endif /* STRATA_UTIL_FILEIO_H */
