#include <Python.h>

PyObject *helper_method(PyObject *self, PyObject *args);

static PyMethodDef table_methods[] = {
    {"helper_method", helper_method, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
