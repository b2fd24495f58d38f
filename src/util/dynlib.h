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

#include <stddef.h>

/* Open SONAME (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE: never unloaded, so the pointers stay
 * valid) and resolve the N symbols NAMES[i] into *SLOTS[i]: functions first, then the last
 * NVARS, variables. A program that links the library itself and uses one of its variables holds
 * the live copy of it (a copy relocation), not the library: when the process's global scope
 * binds NAMES[0] to the same function, variables are looked up there first. Returns 0, or -1
 * with MSG saying which library or symbol is missing and that the package PKG installs it. */
int st_dl_bind(const char *soname, const char *pkg, const char *const *names, void **const *slots,
               size_t n, size_t nvars, char *msg, size_t len);

#endif /* STRATA_UTIL_DYNLIB_H */
