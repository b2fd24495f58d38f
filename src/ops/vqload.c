/*
 * vqload.c -- Highway's vqsort, loaded for the sorts that use it. vqsort.cc is built as its own
 * module (libstrata_vqsort.so, beside the library) because Highway's library measures its timer
 * when it is loaded, which costs every process about 2.5 ms at start: loaded here instead, by
 * the first large sort, only a process that sorts pays it, once (RTLD_NODELETE: closing the
 * handle after a sort leaves the module loaded). The module is looked for beside the object that
 * holds this code (the shared library, or a program linked with the static one), then in the
 * build tree it was built in, then on the loader's search path; one whose st_vqsort_abi()
 * differs from ST_VQ_ABI (a stale build) is not used. Without it the sorts use their radix
 * passes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_int.h"

#define ST_VQ_MODULE "libstrata_vqsort.so"

#ifdef STRATA_HAVE_VQSORT
/* A constant of this object, whose address dladdr() places (a function's address is not an
 * object pointer in ISO C). */
static const char here = 0;

static void *open_beside(const char *object)
{
    const char *slash = object != NULL ? strrchr(object, '/') : NULL;
    if (slash == NULL) return NULL;
    char path[4096];
    int len = snprintf(path, sizeof path, "%.*s/%s", (int)(slash - object), object, ST_VQ_MODULE);
    return len > 0 && (size_t)len < sizeof path
               ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
               : NULL;
}
#endif

int st_vq_open(st_vq *v)
{
    memset(v, 0, sizeof *v);
#ifdef STRATA_HAVE_VQSORT
    Dl_info info;
    if (dladdr(&here, &info) != 0) v->h = open_beside(info.dli_fname);
#ifdef STRATA_VQ_BUILD_DIR
    if (v->h == NULL)
        v->h = dlopen(STRATA_VQ_BUILD_DIR "/" ST_VQ_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
#endif
    if (v->h == NULL) v->h = dlopen(ST_VQ_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (v->h == NULL) return 0;
    /* a module of another build (a stale build tree) is not used: its functions may differ */
    int (*abi)(void);
    *(void **)&abi = dlsym(v->h, "st_vqsort_abi");
    if (abi == NULL || abi() != ST_VQ_ABI) {
        st_vq_close(v);
        return 0;
    }
    /* object pointers to functions: POSIX guarantees dlsym's result converts */
    *(void **)&v->i64 = dlsym(v->h, "st_vqsort_i64");
    *(void **)&v->keys = dlsym(v->h, "st_vqsort_keys");
    *(void **)&v->pairs = dlsym(v->h, "st_vqsort_pairs");
    *(void **)&v->recs = dlsym(v->h, "st_vqsort_recs");
    if (v->i64 != NULL && v->keys != NULL && v->pairs != NULL && v->recs != NULL) return 1;
    st_vq_close(v);
#endif
    return 0;
}

void st_vq_close(st_vq *v)
{
    if (v->h != NULL) dlclose(v->h);
    memset(v, 0, sizeof *v);
}
