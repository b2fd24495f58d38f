/*
 * mdms.c -- (being written)
 */
#include "pystrata.h"

PyMethodDef pyst_pool_mdms_methods[] = {
    {NULL, NULL, 0, NULL},
};

int pyst_mdms_init(PyObject *module)
{
    (void)module;
    return 0;
}
