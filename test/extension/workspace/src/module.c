#include <Python.h>

static PyObject *
bare(PyObject *self, PyObject *args)
{
    return Py_None;
}

static PyObject *
flag(PyObject *self, PyObject *arg)
{
    return arg == NULL ? Py_True : Py_False;
}

static PyObject *
local_none(PyObject *self, PyObject *args)
{
    PyObject *r = Py_None;
    return r;
}

static PyObject *
ellipsis(PyObject *self, PyObject *args)
{
    return Py_Ellipsis;
}

static PyObject *
unbraced(PyObject *self, PyObject *args)
{
    if (args == NULL)
        return Py_Ellipsis;
    Py_RETURN_NONE;
}

static PyObject *
some_paths(PyObject *self, PyObject *args)
{
    if (args != NULL) {
        Py_INCREF(Py_None);
    }
    return Py_None;
}

static PyMethodDef methods[] = {
    {"bare", bare, METH_VARARGS, NULL},
    {"flag", flag, METH_O, NULL},
    {"local_none", local_none, METH_VARARGS, NULL},
    {"ellipsis", ellipsis, METH_VARARGS, NULL},
    {"unbraced", unbraced, METH_VARARGS, NULL},
    {"some_paths", some_paths, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
