#include <Python.h>

static PyObject *
vendored(PyObject *self, PyObject *args)
{
    return Py_None;
}

static PyMethodDef vendored_methods[] = {
    {"vendored", vendored, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
