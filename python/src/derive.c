/*
 * derive.c -- (being written)
 */
#include "pystrata.h"

PyMethodDef pyst_pool_derive_methods[] = {
    {NULL, NULL, 0, NULL},
};

int pyst_derive_init(PyObject *module)
{
    (void)module;
    return 0;
}
