/*
 * dynlib.h -- a shared library loaded when first needed, not at process start.
 *
 * libpq (the PostgreSQL catalog) and HDF5 (import and export) pull in some 30 further libraries
 * (TLS, Kerberos, LDAP, curl): linked normally, every process pays for loading and relocating
 * them at start (about 5 ms, more than a small update's whole work), and a machine without them
 * cannot run Strata at all. Their code is instead reached through a table of function pointers
 * that the first call needing the library fills, once per process (st_dl_once), from the
 * library's soname. A failed load is remembered with its message: the call that needed the
 * library fails naming it and the package that installs it; nothing else is affected.
 *
 * The table is written once, under pthread_once, and only read afterwards: it is the loader's
 * binding of another library's symbols, like the dynamic linker's own, not state of ours.
 */
#ifndef STRATA_UTIL_DYNLIB_H
#define STRATA_UTIL_DYNLIB_H

#include <pthread.h>
#include <stddef.h>

/* Open SONAME (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE: never unloaded, so the pointers stay
 * valid) and resolve the N symbols NAMES[i] into *SLOTS[i]: functions first, then the last
 * NVARS, variables. A program that links the library itself and uses one of its variables holds
 * the live copy of it (a copy relocation), not the library: when the process's global scope
 * binds NAMES[0] to the same function, variables are looked up there first. Returns 0, or -1
 * with MSG saying which library or symbol is missing and that the package PKG installs it. */
int st_dl_bind(const char *soname, const char *pkg, const char *const *names, void **const *slots,
               size_t n, size_t nvars, char *msg, size_t len);

/* A table of a library's symbols is a struct of one pointer per symbol of its X-macro lists
 * (`X(PQexec) X(PQclear)`), each typed after the symbol's own declaration: `struct {
 * LIST(ST_DL_FIELD) }`. ST_DL_NONE is the empty list. */
#define ST_DL_FIELD(f) __typeof__(f) *f;
#define ST_DL_NONE(X)

/* Define a library's binding, once per process and read-only afterwards: the statics P_once
 * (pthread_once_t), P_lib (the table, of type TYPE), P_ok and P_msg (st_dl_bind's outcome), and
 * P_bind, the pthread_once routine that binds P_lib from SONAME (package PKG): the functions of
 * the list FUNCS, then the variables of VARS. The caller runs pthread_once(&P_once, P_bind). */
#define ST_DL_LIBRARY(P, TYPE, soname, pkg, FUNCS, VARS)                                           \
    static pthread_once_t P##_once = PTHREAD_ONCE_INIT;                                            \
    static TYPE P##_lib;                                                                           \
    static int P##_ok;                                                                             \
    static char P##_msg[512];                                                                      \
    static void P##_bind(void)                                                                     \
    {                                                                                              \
        static const char *const names[] = {FUNCS(ST_DL_NAME_) VARS(ST_DL_NAME_)};                 \
        TYPE *st_dl_t_ = &P##_lib;                                                                 \
        void **const slots[] = {FUNCS(ST_DL_SLOT_) VARS(ST_DL_SLOT_)};                             \
        size_t nvars = 0 VARS(ST_DL_ONE_);                                                         \
        P##_ok = st_dl_bind(soname, pkg, names, slots, sizeof names / sizeof names[0], nvars,      \
                            P##_msg, sizeof P##_msg) == 0;                                         \
    }
#define ST_DL_NAME_(f) #f,
#define ST_DL_SLOT_(f) (void **)&st_dl_t_->f,
#define ST_DL_ONE_(f)  +1

#endif /* STRATA_UTIL_DYNLIB_H */
