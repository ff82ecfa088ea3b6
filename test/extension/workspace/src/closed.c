#include <Python.h>

static PyObject *
never_opened(PyObject *self, PyObject *args)
{
    return Py_False;
}

static PyMethodDef closed_methods[] = {
    {"never_opened", never_opened, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
