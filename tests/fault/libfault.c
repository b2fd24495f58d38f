/*
 * libfault.c -- a counting fault injector for the write paths, preloaded into `strata`
 * (LD_PRELOAD), the way SQLite's test VFS fails its N-th I/O call.
 *
 * Every call that changes a file under STRATA_FAULT_PREFIX (the pool, its tiers) is counted:
 * open/openat with O_CREAT, write/pwrite/writev, fsync/fdatasync/msync, rename/renameat, mkdir,
 * ftruncate, fallocate, and writable shared mmap. SQLite's unix VFS goes through the same libc
 * calls, so the catalog's writes are counted too. The STRATA_FAULT_AT-th counted call fails:
 *   STRATA_FAULT_ERR=EIO     with EIO;
 *   STRATA_FAULT_ERR=ENOSPC  with ENOSPC;
 *   STRATA_FAULT_ERR=SHORT   a write transfers half its bytes, and the next counted call fails
 *                            with ENOSPC (a disk filling up in the middle of a write).
 * Only one fault is injected per process. STRATA_FAULT_AT=0 only counts. At exit the shim appends
 * "calls C injected N OP PATH" (or "calls C" when nothing was injected) to STRATA_FAULT_LOG, so
 * that a test walking N = 1, 2, 3, ... knows when it has passed the last call of a command.
 *
 * This is test code: its counter is the process-wide state the library itself must not have.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static atomic_long calls;
static atomic_int injected; /* 0: not yet; 1: injected; 2: a SHORT write waits for its ENOSPC */
static long fault_at = -1;
static int fault_err = EIO, fault_short;
static char prefix[PATH_MAX];
static size_t prefix_len;
static char what[64 + PATH_MAX];

__attribute__((constructor)) static void fault_init(void)
{
    const char *at = getenv("STRATA_FAULT_AT"), *err = getenv("STRATA_FAULT_ERR"),
               *pre = getenv("STRATA_FAULT_PREFIX");
    if (pre == NULL || at == NULL) return;
    if (realpath(pre, prefix) == NULL) snprintf(prefix, sizeof prefix, "%s", pre);
    prefix_len = strlen(prefix);
    fault_at = atol(at);
    if (err != NULL && strcmp(err, "ENOSPC") == 0) fault_err = ENOSPC;
    if (err != NULL && strcmp(err, "SHORT") == 0) fault_short = 1;
}

__attribute__((destructor)) static void fault_report(void)
{
    const char *log = getenv("STRATA_FAULT_LOG");
    if (log == NULL || fault_at < 0) return;
    FILE *f = fopen(log, "a");
    if (f == NULL) return;
    if (atomic_load(&injected))
        fprintf(f, "calls %ld injected %s\n", atomic_load(&calls), what);
    else
        fprintf(f, "calls %ld\n", atomic_load(&calls));
    fclose(f);
}

static int under_prefix(const char *path)
{
    if (prefix_len == 0 || path == NULL) return 0;
    char abs[PATH_MAX];
    if (path[0] != '/') {
        /* relative to the working directory; the pool's own paths are absolute in practice */
        if (getcwd(abs, sizeof abs) == NULL) return 0;
        size_t n = strlen(abs);
        snprintf(abs + n, sizeof abs - n, "/%s", path);
        path = abs;
    }
    return strncmp(path, prefix, prefix_len) == 0 &&
           (path[prefix_len] == '/' || path[prefix_len] == '\0');
}

static int fd_under_prefix(int fd, char *path, size_t len)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, len - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return under_prefix(path);
}

/* Count a call on PATH: 0 to go ahead, 1 to fail it (errno set), 2 to make it a short write. */
static int hit(const char *op, const char *path)
{
    if (fault_at < 0 || !under_prefix(path)) return 0;
    long n = atomic_fetch_add(&calls, 1) + 1;
    int expected = 2;
    if (atomic_compare_exchange_strong(&injected, &expected, 1)) {
        errno = ENOSPC; /* the disk filled up during the short write */
        return 1;
    }
    if (n != fault_at || fault_at == 0) return 0;
    expected = 0;
    if (!atomic_compare_exchange_strong(&injected, &expected, 1)) return 0;
    snprintf(what, sizeof what, "%ld %s %s", n, op, path);
    if (fault_short && (strcmp(op, "write") == 0 || strcmp(op, "pwrite") == 0)) {
        atomic_store(&injected, 2);
        return 2;
    }
    errno = fault_short ? ENOSPC : fault_err;
    return 1;
}

static int fd_hit(const char *op, int fd)
{
    char path[PATH_MAX];
    if (fault_at < 0 || !fd_under_prefix(fd, path, sizeof path)) return 0;
    return hit(op, path);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static int open_common(const char *op, const char *path, int flags)
{
    return (flags & O_CREAT) ? hit(op, path) : 0;
}

/* The mode argument of an open that creates (read only when the flags say it is there). */
#define OPEN_MODE(flags, mode)                                                                     \
    do {                                                                                           \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                                                     \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = va_arg(ap, mode_t);                                                             \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    if (open_common("open", path, flags)) return -1;
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    if (open_common("open", path, flags)) return -1;
    return REAL(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    if (dirfd == AT_FDCWD && open_common("open", path, flags)) return -1;
    return REAL(openat)(dirfd, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    int h = n > 0 ? fd_hit("write", fd) : 0;
    if (h == 1) return -1;
    return REAL(write)(fd, buf, h == 2 ? (n + 1) / 2 : n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    int h = n > 0 ? fd_hit("pwrite", fd) : 0;
    if (h == 1) return -1;
    return REAL(pwrite)(fd, buf, h == 2 ? (n + 1) / 2 : n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    int h = n > 0 ? fd_hit("pwrite", fd) : 0;
    if (h == 1) return -1;
    return REAL(pwrite64)(fd, buf, h == 2 ? (n + 1) / 2 : n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (fd_hit("writev", fd) == 1) return -1;
    return REAL(writev)(fd, iov, cnt);
}

int fsync(int fd)
{
    if (fd_hit("fsync", fd)) return -1;
    return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
    if (fd_hit("fdatasync", fd)) return -1;
    return REAL(fdatasync)(fd);
}

int ftruncate(int fd, off_t len)
{
    if (fd_hit("ftruncate", fd)) return -1;
    return REAL(ftruncate)(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    if (fd_hit("ftruncate", fd)) return -1;
    return REAL(ftruncate64)(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (fd_hit("fallocate", fd)) return -1;
    return REAL(fallocate)(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (fd_hit("fallocate", fd)) return errno;
    return REAL(posix_fallocate)(fd, off, len);
}

int rename(const char *from, const char *to)
{
    if (hit("rename", to)) return -1;
    return REAL(rename)(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    if (tofd == AT_FDCWD && hit("rename", to)) return -1;
    return REAL(renameat)(fromfd, from, tofd, to);
}

int mkdir(const char *path, mode_t mode)
{
    if (hit("mkdir", path)) return -1;
    return REAL(mkdir)(path, mode);
}

int msync(void *addr, size_t len, int flags)
{
    /* no descriptor to name the file by: count every msync (only the pool's arrays use it) */
    if (fault_at >= 0 && prefix_len > 0 && hit("msync", prefix)) return -1;
    return REAL(msync)(addr, len, flags);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fd >= 0 && (prot & PROT_WRITE) && (flags & MAP_SHARED) && fd_hit("mmap", fd)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return REAL(mmap)(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (fd >= 0 && (prot & PROT_WRITE) && (flags & MAP_SHARED) && fd_hit("mmap", fd)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return REAL(mmap64)(addr, len, prot, flags, fd, off);
}
