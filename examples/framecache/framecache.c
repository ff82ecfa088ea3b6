/*
 * framecache: a small extension module written for cpyref's README. It keeps
 * decoded frames in a dictionary. Several of its methods return a borrowed
 * reference to a singleton: run `npx cpyref examples/` to see where.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "framecache.h"

typedef struct {
    PyObject_HEAD
    PyObject *frames; /* dict: key -> bytes */
    int closed;
} CacheObject;

/* Bug: the bare return hands CPython a reference the method never owned. */
static PyObject *
cache_close(CacheObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(self->frames);
    self->closed = 1;
    return Py_None;
}

/* Bug on one path: the error label returns None instead of NULL, without an incref. */
static PyObject *
cache_put(CacheObject *self, PyObject *args)
{
    PyObject *key, *frame;
    if (!PyArg_ParseTuple(args, "OS", &key, &frame))
        goto error;
    if (PyDict_SetItem(self->frames, key, frame) < 0)
        goto error;
    Py_RETURN_NONE;
error:
    return Py_None;
}

/* Bug: a conditional of two borrowed singletons. */
static PyObject *
cache_contains(CacheObject *self, PyObject *key)
{
    int r = PyDict_Contains(self->frames, key);
    if (r < 0)
        return NULL;
    return r ? Py_True : Py_False;
}

/* Bug on some paths: the local holds None unless a frame is found. */
static PyObject *
cache_get(CacheObject *self, PyObject *key)
{
    PyObject *result = Py_None;
    PyObject *frame = PyDict_GetItemWithError(self->frames, key);
    if (frame != NULL) {
        Py_INCREF(frame);
        result = frame;
    }
    return result;
}

/* Bug through a project macro from framecache.h. */
static PyObject *
cache_clear(CacheObject *self, PyObject *Py_UNUSED(ignored))
{
    PyDict_Clear(self->frames);
    RETURN_NOTHING;
}

/* Correct: the incref is made on both branches. */
static PyObject *
cache_closed(CacheObject *self, void *Py_UNUSED(closure))
{
    if (self->closed) {
        Py_INCREF(Py_True);
        return Py_True;
    }
    else {
        Py_INCREF(Py_False);
        return Py_False;
    }
}

/* Correct: the comparison slot returns a new reference through the macro. */
static PyObject *
cache_richcompare(PyObject *a, PyObject *b, int op)
{
    Py_RETURN_NOTIMPLEMENTED;
}

/* Deliberate: a helper that hands back a borrowed sentinel; callers compare by identity. */
/* cpyref: returns-borrowed */
static PyObject *
missing_sentinel(void)
{
    return Py_Ellipsis;
}

static PyMethodDef cache_methods[] = {
    {"close", (PyCFunction)cache_close, METH_NOARGS, NULL},
    {"put", (PyCFunction)cache_put, METH_VARARGS, NULL},
    {"get", (PyCFunction)cache_get, METH_O, NULL},
    {"clear", (PyCFunction)cache_clear, METH_NOARGS, NULL},
    {"__contains__", (PyCFunction)cache_contains, METH_O | METH_COEXIST, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef cache_getset[] = {
    {"closed", (getter)cache_closed, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot cache_slots[] = {
    {Py_tp_methods, cache_methods},
    {Py_tp_getset, cache_getset},
    {Py_tp_richcompare, cache_richcompare},
    {0, NULL},
};

static PyType_Spec cache_spec = {
    .name = "framecache.Cache",
    .basicsize = sizeof(CacheObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = cache_slots,
};

static int
framecache_exec(PyObject *m)
{
    PyObject *type = PyType_FromSpec(&cache_spec);
    if (type == NULL || PyModule_AddObject(m, "Cache", type) < 0)
        return -1;
    return missing_sentinel() == Py_Ellipsis ? 0 : -1;
}

static PyModuleDef_Slot framecache_slots[] = {
    {Py_mod_exec, framecache_exec},
    {0, NULL},
};

static struct PyModuleDef framecache_module = {
    PyModuleDef_HEAD_INIT, "framecache", NULL, 0, NULL, framecache_slots,
};

PyMODINIT_FUNC
PyInit_framecache(void)
{
    return PyModuleDef_Init(&framecache_module);
}
