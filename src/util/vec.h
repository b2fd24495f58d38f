/*
 * vec.h -- a growable array of fixed-size elements, for the places that collect rows before
 * acting on them (catalog listings whose callbacks may call back into the catalog, region
 * deletes, name sets).
 */
#ifndef STRATA_UTIL_VEC_H
#define STRATA_UTIL_VEC_H

#include <stdlib.h>

typedef struct st_vec {
    void *v;    /* the elements; typed access: ((T *)vec.v)[i] */
    size_t n;   /* elements in use */
    size_t cap; /* elements allocated */
    size_t esz; /* bytes per element */
} st_vec;

#define ST_VEC(T)                                                                                  \
    {                                                                                              \
        NULL, 0, 0, sizeof(T)                                                                      \
    }

/* Room for K more elements (uninitialised), growing as needed: the first one's address, or
 * NULL when out of memory (the vector is then unchanged). */
static inline void *st_vec_grow(st_vec *vec, size_t k)
{
    if (vec->n + k > vec->cap) {
        size_t cap = vec->cap ? vec->cap : 16;
        while (cap < vec->n + k) cap *= 2;
        void *g = realloc(vec->v, cap * vec->esz);
        if (g == NULL) return NULL;
        vec->v = g;
        vec->cap = cap;
    }
    void *at = (char *)vec->v + vec->esz * vec->n;
    vec->n += k;
    return at;
}

/* Room for one more element: its address (uninitialised), or NULL when out of memory. */
static inline void *st_vec_push(st_vec *vec)
{
    return st_vec_grow(vec, 1);
}

static inline void st_vec_free(st_vec *vec)
{
    free(vec->v);
    vec->v = NULL;
    vec->n = vec->cap = 0;
}

#endif /* STRATA_UTIL_VEC_H */
