/*
 * dynlib.c -- a shared library loaded when first needed (dynlib.h).
 */
#define _GNU_SOURCE
#include "util/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

int st_dl_bind(const char *soname, const char *pkg, const char *const *names, void **const *slots,
               size_t n, size_t nvars, char *msg, size_t len)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h == NULL) {
        const char *why = dlerror();
        snprintf(msg, len, "cannot load %s (%s): install it with 'apt-get install %s'", soname,
                 why != NULL ? why : "not found", pkg);
        return -1;
    }
    int global = 0; /* the global scope binds this library's functions */
    for (size_t i = 0; i < n; i++) {
        if (i == n - nvars && i > 0) global = dlsym(RTLD_DEFAULT, names[0]) == *slots[0];
        *slots[i] = global && i >= n - nvars ? dlsym(RTLD_DEFAULT, names[i]) : NULL;
        if (*slots[i] == NULL) *slots[i] = dlsym(h, names[i]);
        if (*slots[i] == NULL) {
            snprintf(msg, len,
                     "%s has no symbol %s: install the version Strata was built with "
                     "('apt-get install %s')",
                     soname, names[i], pkg);
            dlclose(h);
            return -1;
        }
    }
    return 0;
}
