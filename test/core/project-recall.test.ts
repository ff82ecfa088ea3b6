import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { includeBySuffix } from '../../src/core/preprocess';
import { indexFile, ProjectIndex } from '../../src/core/project-index';

function project(files: Record<string, string>): ProjectIndex {
  const index = new ProjectIndex();
  for (const [p, text] of Object.entries(files)) index.set(indexFile(p, text));
  return index;
}

describe('project index: registrations and owed results that reach CPython indirectly', () => {
  it('takes a method table in a header that the defining file includes as registering its statics', () => {
    const index = project({
      'src/widget.h': 'static PyMethodDef widget_methods[] = {\n    {"close", (PyCFunction)widget_close, METH_NOARGS, NULL},\n    {NULL}\n};\n',
      'src/widget.c': '#include "widget.h"\nstatic PyObject *widget_close(PyObject *self, PyObject *u) { return Py_None; }\n',
      'src/other.c': 'static PyObject *widget_close(PyObject *self) { return Py_None; }\n',
    });
    assert.equal(index.facing('widget_close', 'src/widget.c')?.path, 'src/widget.h');
    assert.equal(index.facing('widget_close', 'src/other.c'), undefined);
  });

  it('follows a result returned through a local, and a chain of helpers across files', () => {
    const index = project({
      'a.c': 'static PyMethodDef m[] = {{"get", (PyCFunction)mod_get, METH_O, NULL}, {NULL}};\nstatic PyObject *mod_get(PyObject *s, PyObject *o) {\n    PyObject *r = lookup(o);\n    if (r == NULL)\n        return NULL;\n    return r;\n}\n',
      'b.c': 'PyObject *lookup(PyObject *o) { return lookup_inner(o); }\n',
      'c.c': 'PyObject *lookup_inner(PyObject *o) { PyObject *res; res = find(o); return res; }\nPyObject *find(PyObject *o) { return Py_None; }\n',
    });
    assert.match(index.facing('lookup')?.reason ?? '', /returned by the Python-facing `mod_get`/);
    assert.ok(index.facing('lookup_inner'));
    assert.ok(index.facing('find'));
  });

  it('does not follow a local the caller increfs itself (the helper may return a borrowed reference)', () => {
    const index = project({
      'a.c': 'static PyMethodDef m[] = {{"get", (PyCFunction)mod_get, METH_O, NULL}, {NULL}};\nstatic PyObject *mod_get(PyObject *s, PyObject *o) {\n    PyObject *r = peek(o);\n    Py_INCREF(r);\n    return r;\n}\n',
    });
    assert.equal(index.facing('peek'), undefined);
  });

  it('takes results handed to `N` of a format call, or to Boost.Python handle<>, as owed', () => {
    const index = project({
      'a.c': 'void cb(PyObject *f) { PyObject *r = PyObject_CallFunction(f, "iN", 1, make_handle(f)); Py_XDECREF(r); }\n',
      'b.cpp': 'void g() { boost::python::object o(boost::python::handle<>(make_obj())); }\n',
      'c.c': 'void k(PyObject *f) { PyObject *r = Py_BuildValue("(iO)", 1, kept(f)); Py_XDECREF(r); }\n',
    });
    assert.ok(index.facing('make_handle'));
    assert.ok(index.facing('make_obj'));
    assert.equal(index.facing('kept'), undefined);
  });

  it('lists the callers that use a Python-facing function\'s result as borrowed', () => {
    const index = project({
      'a.c': [
        'static PyMethodDef m[] = {{"state", (PyCFunction)get_state, METH_NOARGS, NULL}, {NULL}};',
        'static int check(PyObject *self) { if (get_state(self, NULL) == Py_True) return 1; return 0; }',
        'static int keep(PyObject *self) { PyObject *s = get_state(self, NULL); PyObject_Print(s, stdout, 0); return 0; }',
        'static int good(PyObject *self) { PyObject *s = get_state(self, NULL); Py_XDECREF(s); return 0; }',
        'static void store(Obj *self) { self->state = get_state((PyObject *)self, NULL); }',
      ].join('\n'),
    });
    assert.deepEqual(index.facing('get_state')?.borrowedUsers?.sort(), ['check', 'keep']);
  });
});

describe('includes that do not resolve by path', () => {
  it('picks the project file with the longest matching path suffix', () => {
    assert.equal(includeBySuffix('pkg/api.h', ['/p/include/pkg/lang/api.h', '/p/src/other.h']), '/p/include/pkg/lang/api.h');
    assert.equal(includeBySuffix('lang/api.h', ['/p/include/pkg/lang/api.h', '/p/vendor/api.h']), '/p/include/pkg/lang/api.h');
  });

  it('takes none when several candidates match equally well', () => {
    assert.equal(includeBySuffix('api.h', ['/p/a/api.h', '/p/b/api.h']), undefined);
    assert.equal(includeBySuffix('missing.h', ['/p/a/api.h']), undefined);
  });
});

describe('project index: sentinels', () => {
  it('does not follow a local whose singleton value the caller tests and keeps (a borrowed sentinel)', () => {
    const index = project({
      'a.c': 'static PyMethodDef m[] = {{"make", (PyCFunction)mod_make, METH_O, NULL}, {NULL}};\nstatic PyObject *mod_make(PyObject *s, PyObject *o) {\n    PyObject *d = maybe_defer(o);\n    if (d != Py_NotImplemented)\n        return d;\n    return PyLong_FromLong(0);\n}\n',
    });
    assert.equal(index.facing('maybe_defer'), undefined);
  });
});

describe('project index: C++ owners', () => {
  it('takes a result handed to a project macro around reinterpret_steal or handle<> as owed', () => {
    const index = project({
      'a.cpp': [
        '#define STEAL_OBJ(o) py::reinterpret_steal<py::object>(o)',
        '#define OWN(x) boost::python::object(boost::python::handle<>((x)))',
        '#define PEEK(o) py::reinterpret_borrow<py::object>(o)',
        'void g() { auto a = STEAL_OBJ(make_a()); auto b = OWN(make_b()); auto c = PEEK(peek_c()); auto d = pybind11::reinterpret_steal<pybind11::object>(make_d()); }',
      ].join('\n'),
    });
    assert.ok(index.facing('make_a'));
    assert.ok(index.facing('make_b'));
    assert.ok(index.facing('make_d'));
    assert.equal(index.facing('peek_c'), undefined);
  });

  it("reads a macro's parameters without their comments, and is not thrown by a parenthesis or `...` there", () => {
    const text = [
      '#define STEAL_OBJ(o /* (a new reference */) py::reinterpret_steal<py::object>(o)',
      '#define LOG_STEAL(fmt, ...) py::reinterpret_steal<py::object>(__VA_ARGS__)',
      'void g() { auto a = STEAL_OBJ(make_a()); auto b = LOG_STEAL("x", make_b()); }',
    ].join('\n');
    // (The parameter's text went into a regular expression as it was: `(` left a group open, and indexFile threw.)
    const index = project({ 'a.cpp': text });
    assert.ok(index.facing('make_a'));
    assert.equal(index.facing('make_b'), undefined);
  });
});
