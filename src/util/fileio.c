/*
 * fileio.c -- durable file primitives (see fileio.h).
 */
#define _GNU_SOURCE
#include "util/fileio.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

int64_t st_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void st_random_token(char out[ST_TOKEN_LEN + 1])
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* No entropy source: fall back to time and pid, still unique per process and moment. */
        r = (uint64_t)st_now_ns() ^ ((uint64_t)getpid() << 40);
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) out[i] = hex[(r >> (60 - 4 * i)) & 0xF];
    out[16] = '\0';
}

void st_unmap_file(void *map, size_t len)
{
    if (map == NULL) return;
    (void)posix_madvise(map, len, POSIX_MADV_SEQUENTIAL); /* advice: nothing to do if refused */
    munmap(map, len);
}

int st_path(st_err *err, char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, ST_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= ST_PATH_MAX)
        return st_error(err, STRATA_ENAME, "path longer than %d bytes", ST_PATH_MAX - 1);
    return STRATA_OK;
}

int st_pwrite_full(st_err *err, int fd, const void *buf, size_t n, uint64_t off, const char *path)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return st_error_errno(err, errno, "cannot write '%s'", path);
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return STRATA_OK;
}

int st_pread_full(st_err *err, int fd, void *buf, size_t n, uint64_t off, const char *path)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return st_error_errno(err, errno, "cannot read '%s'", path);
        }
        if (r == 0) return st_error(err, STRATA_ECORRUPT, "'%s' is shorter than expected", path);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return STRATA_OK;
}

int st_fsync_fd(st_err *err, int fd, const char *path)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR) return st_error_errno(err, errno, "cannot fsync '%s'", path);
    }
    return STRATA_OK;
}

int st_fsync_dir(st_err *err, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return st_error_errno(err, errno, "cannot open directory '%s'", dir);
    int rc = st_fsync_fd(err, fd, dir);
    close(fd);
    return rc;
}

int st_mkdir(st_err *err, const char *dir, int exist_ok)
{
    if (mkdir(dir, 0755) == 0) return STRATA_OK;
    if (errno == EEXIST && exist_ok) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return STRATA_OK;
    }
    return st_error_errno(err, errno, "cannot create directory '%s'", dir);
}

int st_rename(st_err *err, const char *from, const char *to)
{
    if (rename(from, to) != 0)
        return st_error_errno(err, errno, "cannot rename '%s' to '%s'", from, to);
    return STRATA_OK;
}

int st_unlink(st_err *err, const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return st_error_errno(err, errno, "cannot remove '%s'", path);
    return STRATA_OK;
}

int st_rmdir_files(st_err *err, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) return STRATA_OK;
        return st_error_errno(err, errno, "cannot open directory '%s'", dir);
    }
    int rc = STRATA_OK;
    struct dirent *de;
    char path[ST_PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (st_path(err, path, "%s/%s", dir, de->d_name) < 0 || st_unlink(err, path) < 0)
            rc = err != NULL ? err->code : STRATA_EIO;
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        rc = st_error_errno(err, errno, "cannot remove directory '%s'", dir);
    return rc;
}

int st_wfile_open(st_err *err, st_wfile *w, const char *dir)
{
    char tok[ST_TOKEN_LEN + 1];
    st_random_token(tok);
    w->fd = -1;
    int rc = st_path(err, w->tmp, "%s/.tmp-%s", dir, tok);
    if (rc < 0) return rc;
    w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) return st_error_errno(err, errno, "cannot create '%s'", w->tmp);
    return STRATA_OK;
}

int st_wfile_publish(st_err *err, st_wfile *w, const char *dir, const char *name)
{
    char final[ST_PATH_MAX];
    int rc;
    ST_TRY(rc = st_fsync_fd(err, w->fd, w->tmp));
    ST_TRY(rc = st_path(err, final, "%s/%s", dir, name));
    ST_TRY(rc = st_rename(err, w->tmp, final));
    close(w->fd);
    w->fd = -1;
    w->tmp[0] = '\0';
done:
    if (rc < 0) st_wfile_abort(w);
    return rc;
}

void st_wfile_abort(st_wfile *w)
{
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    if (w->tmp[0] != '\0') unlink(w->tmp);
    w->tmp[0] = '\0';
}

double st_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ofd(int fd, int cmd, short type, uint64_t start, uint64_t len)
{
    struct flock fl = {
        .l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)start, .l_len = (off_t)len};
    return fcntl(fd, cmd, &fl);
}

int64_t st_deadline_ms(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
}

int st_backoff(int64_t deadline, long *sleep_us)
{
    int64_t now = mono_ms();
    if (now >= deadline) return 0;
    int64_t left_ms = deadline - now; /* INT64_MAX - now when waiting forever */
    long left_us = left_ms > 1000000 ? 1000000000L : (long)(left_ms * 1000);
    struct timespec ts = {0, (*sleep_us < left_us ? *sleep_us : left_us) * 1000};
    nanosleep(&ts, NULL);
    if (*sleep_us < 20000) *sleep_us *= 2;
    return 1;
}

int st_lock_fd(st_err *err, int fd, int exclusive, uint64_t start, uint64_t len, int timeout_ms,
               const char *what)
{
    short type = exclusive ? F_WRLCK : F_RDLCK;
    int64_t deadline = st_deadline_ms(timeout_ms);
    long sleep_us = ST_BACKOFF_FIRST_US;
    for (;;) {
        if (ofd(fd, F_OFD_SETLK, type, start, len) == 0) return STRATA_OK;
        if (errno != EAGAIN && errno != EACCES && errno != EINTR)
            return st_error_errno(err, errno, "cannot lock %s", what);
        if (!st_backoff(deadline, &sleep_us))
            return st_error(err, STRATA_ELOCKED, "%s is locked by another holder (waited %d ms)",
                            what, timeout_ms < 0 ? 0 : timeout_ms);
    }
}

int st_lock_path(st_err *err, const char *path, int create, int exclusive, uint64_t start,
                 uint64_t len, int timeout_ms, const char *what)
{
    /* an exclusive lock needs write access; a shared one works on a read-only file system */
    int flags = (exclusive || create ? O_RDWR : O_RDONLY) | (create ? O_CREAT : 0) | O_CLOEXEC;
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        if (errno == ENOENT) return st_error(err, STRATA_ENOTFOUND, "'%s' is missing", path);
        return st_error_errno(err, errno, "cannot open '%s'", path);
    }
    int rc = st_lock_fd(err, fd, exclusive, start, len, timeout_ms, what);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int st_dir_of_is_readonly(const char *path)
{
    char dir[ST_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return 1;
    return access(dir, W_OK) != 0;
}

int st_unlock_fd(st_err *err, int fd, uint64_t start, uint64_t len, const char *what)
{
    if (ofd(fd, F_OFD_SETLK, F_UNLCK, start, len) != 0)
        return st_error_errno(err, errno, "cannot unlock %s", what);
    return STRATA_OK;
}

int st_lock_probe(st_err *err, int fd, uint64_t start, uint64_t len, const char *what)
{
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)start, .l_len = (off_t)len};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return st_error_errno(err, errno, "cannot test the lock of %s", what);
    if (fl.l_type != F_UNLCK) return st_error(err, STRATA_ELOCKED, "%s is locked", what);
    return STRATA_OK;
}

/* Depth-first, through directory file descriptors; DEPTH bounds the recursion. */
static uint64_t tree_bytes_at(int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
    if (S_ISREG(st.st_mode)) return (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode) || depth > 32) return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return 0;
    }
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            sum += tree_bytes_at(fd, de->d_name, depth + 1);
    closedir(d);
    return sum;
}

uint64_t st_tree_bytes(const char *path)
{
    return tree_bytes_at(AT_FDCWD, path, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int st_rm_tree(st_err *err, const char *path)
{
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return st_error_errno(err, errno, "cannot remove '%s'", path);
    return STRATA_OK;
}

#define ST_HUGE ((size_t)2 << 20)

void *st_alloc_big(size_t size)
{
    if (size < 2 * ST_HUGE) return malloc(size ? size : 1);
    size_t rounded = (size + ST_HUGE - 1) / ST_HUGE * ST_HUGE;
    void *p = aligned_alloc(ST_HUGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p != NULL) madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

void st_free_big(void *p)
{
    free(p);
}

void st_trim_big(void *p, size_t keep, size_t size)
{
#ifdef MADV_DONTNEED
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t ps = page > 0 ? (uintptr_t)page : 4096, a = (uintptr_t)p + keep,
              e = ((uintptr_t)p + size) / ps * ps;
    a = (a + ps - 1) / ps * ps;
    if (p != NULL && keep < size && e > a) madvise((void *)a, e - a, MADV_DONTNEED); /* advice */
#else
    (void)p;
    (void)keep;
    (void)size;
#endif
}
