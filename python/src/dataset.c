/*
 * dataset.c -- (being written)
 */
#include "pystrata.h"

PyMethodDef pyst_pool_dataset_methods[] = {
    {NULL, NULL, 0, NULL},
};

int pyst_dataset_init(PyObject *module)
{
    (void)module;
    return 0;
}
