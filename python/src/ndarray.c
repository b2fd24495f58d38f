/*
 * ndarray.c -- (being written)
 */
#include "pystrata.h"

PyMethodDef pyst_pool_nd_methods[] = {
    {NULL, NULL, 0, NULL},
};

int pyst_nd_init(PyObject *module)
{
    (void)module;
    return 0;
}
