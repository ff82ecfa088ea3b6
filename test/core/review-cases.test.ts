/**
 * Cases a review of the precision work found (paths wrongly pruned, excuses too wide,
 * index edges wrong); each would lose a real finding or give a safe fix that leaks.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { applyEdits } from '../../src/core/fixes';
import { indexFile, ProjectIndex } from '../../src/core/project-index';
import { analyzeFixture } from '../helpers/engine';

const TABLE = (names: string[], flags = 'METH_VARARGS') =>
  `static PyMethodDef methods[] = {${names.map((n) => `{"${n}", (PyCFunction)${n}, ${flags}, NULL}`).join(', ')}, {NULL}};\n`;

async function reported(text: string, rule = 'borrowed-singleton-return'): Promise<string[]> {
  return (await analyzeFixture('case.c', text, { rules: [rule] })).map((f) => f.function ?? '');
}

describe('feasibility keeps paths that writes, macros and equal constants make possible', () => {
  it('takes Py_CLEAR and Py_SETREF as writes of their first argument', async () => {
    const text = `static PyObject *f(PyObject *self, PyObject *args) {
    PyObject *tmp = PyObject_GetAttrString(self, "x");
    if (tmp == NULL) return NULL;
    if (PyObject_IsTrue(args)) Py_CLEAR(tmp);
    if (tmp == NULL) return Py_None;
    return tmp;
}
${TABLE(['f'])}`;
    assert.deepEqual(await reported(text), ['f']);
  });

  it('takes a macro call (by its capitals) as writing its arguments, and keeps a statement macro that assigns', async () => {
    const text = `#define SET_DONE(d) ((d) = 1)
#define MARK_DONE done = 1;
static PyObject *f(PyObject *self, PyObject *args) {
    int done = 0;
    SET_DONE(done);
    if (done) return Py_None;
    return PyLong_FromLong(0);
}
static PyObject *g(PyObject *self, PyObject *args) {
    int done = 0;
    MARK_DONE
    if (done) return Py_None;
    return PyLong_FromLong(0);
}
${TABLE(['f', 'g'])}`;
    assert.deepEqual((await reported(text)).sort(), ['f', 'g']);
  });

  it('learns nothing about a flag from a condition that writes it', async () => {
    const text = `int refresh(int *ok);
static PyObject *f(PyObject *self, PyObject *args) {
    int ok = PyObject_IsTrue(args);
    if (ok && refresh(&ok)) {
        if (!ok) return Py_None;
    }
    return PyLong_FromLong(0);
}
${TABLE(['f'])}`;
    assert.deepEqual(await reported(text), ['f']);
  });

  it('does not take distinct constant names as distinct values, and compares 64-bit literals exactly', async () => {
    const text = `static PyObject *f(PyObject *self, PyObject *args) {
    int err = EWOULDBLOCK;
    if (PyObject_IsTrue(args)) err = 0;
    if (err == EAGAIN) return Py_None;
    return PyLong_FromLong(err);
}
static PyObject *g(PyObject *self, PyObject *args) {
    unsigned long long m = 0xFFFFFFFFFFFFFFFEULL;
    if (PyObject_IsTrue(args)) m = 0;
    if (m != 0xFFFFFFFFFFFFFFFFULL) return Py_None;
    return PyLong_FromLong(0);
}
${TABLE(['f', 'g'])}`;
    assert.deepEqual((await reported(text)).sort(), ['f', 'g']);
  });

  it('takes the second argument as NULL only for a function CPython always calls as METH_NOARGS', async () => {
    const base = `static PyObject *close_impl(PyObject *self, PyObject *arg) {
    if (arg != NULL) return Py_None;
    return PyLong_FromLong(0);
}
`;
    assert.deepEqual(await reported(base + TABLE(['close_impl'], 'METH_NOARGS')), []);
    assert.deepEqual(await reported(base + TABLE(['close_impl'], 'METH_NOARGS') + 'static PyMethodDef more[] = {{"c2", (PyCFunction)close_impl, METH_O, NULL}, {NULL}};\n'), ['close_impl']);
    assert.deepEqual(await reported(base + TABLE(['close_impl'], 'METH_NOARGS') + 'static PyObject *user(PyObject *s, PyObject *a) { return close_impl(s, a); }\n'), ['close_impl']);
  });
});

describe('statement macros and failed steals', () => {
  it('keeps an if governing only its no-effect statement macro', async () => {
    const text = `#define TRACE trace_it();
void trace_it(void);
static PyObject *g(PyObject *self, PyObject *args) {
    int verbose = PyObject_IsTrue(args);
    if (verbose) TRACE
    Py_INCREF(Py_None);
    return Py_None;
}
${TABLE(['g'])}`;
    assert.deepEqual(await reported(text), []);
  });

  it('does not blame a release on a call that failed and so took nothing', async () => {
    const text = `static int exec3(PyObject *m) {
    Py_INCREF(Py_None);
    if (PyModule_AddObject(m, "x", Py_None) < 0) {
        Py_DECREF(Py_None);
        return -1;
    }
    return 0;
}
`;
    assert.deepEqual(await analyzeFixture('case.c', text, { rules: ['singleton-decref'] }), []);
  });
});

describe('by-name releases and compat definitions', () => {
  it('still reports a by-name release after testing a borrowed local (from PyArg_ParseTuple or PyDict_GetItem)', async () => {
    const text = `static int f(PyObject *args, PyObject *d) {
    PyObject *obj, *item;
    if (!PyArg_ParseTuple(args, "O", &obj)) return -1;
    if (obj == Py_None) Py_DECREF(Py_None);
    item = PyDict_GetItemString(d, "k");
    if (item == Py_None) Py_DECREF(Py_None);
    return 0;
}
`;
    assert.equal((await analyzeFixture('case.c', text, { rules: ['singleton-decref'] })).length, 2);
  });

  it('does not take a compat definition of a singleton through its struct as the project\'s own', async () => {
    const text = `#ifndef Py_True
#define Py_True ((PyObject *) &_Py_TrueStruct)
#endif
static PyObject *f(PyObject *self, PyObject *args) { return Py_True; }
${TABLE(['f'])}`;
    assert.deepEqual(await reported(text), ['f']);
  });
});

describe('project index edges', () => {
  const index = (files: Record<string, string>) => {
    const i = new ProjectIndex();
    for (const [p, t] of Object.entries(files)) i.set(indexFile(p, t));
    return i;
  };

  it('counts a caller that increfs the result (through Py_IncRef or a cast) as a borrowed use, with no return edge', () => {
    const i = index({
      'a.c': `${TABLE(['meth'])}static PyObject *meth(PyObject *s, PyObject *a) { PyObject *r = lookup(a); Py_IncRef((PyObject *)r); return r; }
static void fill(Obj *o) { PyObject *d = get_default(o); Py_INCREF(d); o->cache = d; }
PyObject *get_default(Obj *o) { return Py_None; }
static PyMethodDef more[] = {{"g", (PyCFunction)get_default, METH_NOARGS, NULL}, {NULL}};
`,
    });
    assert.equal(i.facing('lookup'), undefined);
    assert.deepEqual(i.facing('get_default')?.borrowedUsers, ['fill']);
  });

  it('keeps project functions named like the C API as borrowed uses', () => {
    const i = index({ 'a.c': `${TABLE(['PyArray_Thing'])}static int user(PyObject *o) { return PyArray_Thing(o, NULL) == Py_None; }\n` });
    assert.deepEqual(i.facing('PyArray_Thing')?.borrowedUsers, ['user']);
  });

  it('scans the arguments of a returned call, and reads a format split into adjacent literals', () => {
    const i = index({
      'a.c': `int exec(PyObject *m) { return PyModule_AddObject(m, "thing", make_thing()); }
PyObject *b(void) { return Py_BuildValue("O" "N", peek(), make()); }
`,
    });
    assert.ok(i.facing('make_thing'));
    assert.ok(i.facing('make'));
    assert.equal(i.facing('peek'), undefined);
  });
});

describe('open steal debts are a multiset', () => {
  it('merges paths that stole the same things in another order, so a loop does not hit the state bound', async () => {
    // Kept in the order of stealing, the debts of this loop form 2 + 4 + … + 2^8 states and the
    // solver stops early: the return is then judged on some paths only and loses its fix.
    const text = `int more(int k);
static PyObject *f(PyObject *self, PyObject *args) {
    PyObject *t = PyTuple_New(2);
    int i, n = more(0);
    if (t == NULL) return NULL;
    for (i = 0; i < n; i++) {
        if (more(i)) PyTuple_SET_ITEM(t, 0, Py_None);
        else PyTuple_SET_ITEM(t, 1, Py_None);
        if (more(i + 1)) Py_INCREF(Py_None);
    }
    Py_DECREF(t);
    return Py_None;
}
${TABLE(['f'])}`;
    const [f, ...rest] = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    assert.equal(rest.length, 0);
    assert.doesNotMatch(f.message, /on some paths/);
    assert.equal(f.fixes.length, 1);
  });
});

describe('wording', () => {
  it('says "even on failure" only of stealing calls that can fail', async () => {
    const text = `static PyObject *f(PyObject *self, PyObject *args) {
    PyObject *t = PyTuple_New(1);
    if (t == NULL) return NULL;
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(t, 0, Py_None);
    Py_DECREF(Py_None);
    return t;
}
${TABLE(['f'])}`;
    const [f, ...rest] = await analyzeFixture('case.c', text, { rules: ['singleton-decref'] });
    assert.equal(rest.length, 0);
    assert.equal(f.message, '`f` releases `Py_None` after `PyTuple_SET_ITEM` took it');
    assert.ok(f.related.some((r) => r.message === '`PyTuple_SET_ITEM` takes the reference to `Py_None` here'));
    assert.match(f.detail ?? '', /lowers None's reference count/);
  });
});

describe('the returns-borrowed marker as a fix', () => {
  it('is offered (unsafe) when no registration is found, and silences the finding once applied', async () => {
    const text = `#include <Python.h>\n\n/* Looks a value up. */\nstatic PyObject *\nlookup(int k)\n{\n    return Py_None;\n}\n`;
    const [f] = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    assert.equal(f.severity, 'information');
    const mark = f.fixes.find((x) => /returns-borrowed|borrowed reference on purpose/.test(x.description));
    assert.ok(mark && !mark.safe);
    const fixed = applyEdits(text, mark.edits);
    assert.match(fixed, /\/\* Looks a value up\. \*\/\n\/\* cpyref: returns-borrowed \*\/\nstatic PyObject \*\nlookup/);
    assert.deepEqual(await analyzeFixture('case.c', fixed, { rules: ['borrowed-singleton-return'] }), []);
  });

  it('is not offered for a registered method', async () => {
    const text = `static PyObject *f(PyObject *self, PyObject *args) {\n    return Py_None;\n}\n${TABLE(['f'])}`;
    const [f] = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    assert.equal(f.severity, 'error');
    assert.ok(!f.fixes.some((x) => /on purpose/.test(x.description)));
  });
});

describe('one mistake, one finding', () => {
  it('reports a macro of this file at its definition, with each use as related information', async () => {
    const text = `#define GIVE_NONE return Py_None\nstatic PyObject *a(PyObject *self, PyObject *args) { GIVE_NONE; }\nstatic PyObject *b(PyObject *self, PyObject *args) { if (args) GIVE_NONE; return PyLong_FromLong(1); }\n${TABLE(['a', 'b'])}`;
    const found = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    assert.deepEqual(found.map((f) => f.function), ['GIVE_NONE']);
    const uses = found[0].related.filter((r) => /^used in/.test(r.message));
    assert.deepEqual(uses.map((r) => [text.slice(r.start, r.end), r.message]), [
      ['GIVE_NONE;', 'used in `a` here'],
      ['GIVE_NONE;', 'used in `b` here'],
    ]);
  });
});

describe('path steps', () => {
  it('leaves out a condition every path to the return took the same way, and keeps the one that tells', async () => {
    const text = `static PyObject *f(PyObject *self, PyObject *args) {
    PyObject *o;
    if (!PyArg_ParseTuple(args, "O", &o))
        return NULL;
    if (o == Py_None)
        return Py_None;
    return PyLong_FromLong(1);
}
${TABLE(['f'])}`;
    const [f] = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    const steps = f.related.filter((r) => r.path === undefined).map((r) => r.message);
    assert.ok(!steps.some((m) => /PyArg_ParseTuple/.test(m)), steps.join(' | '));
  });

  it('says a condition inside a statement macro as the macro is written at its use', async () => {
    const text = `int check(int);
#define CHECK(e) if (check((e))) { Py_INCREF(Py_None); }
static PyObject *f(PyObject *self, PyObject *args) {
    int err = PyObject_IsTrue(args);
    CHECK(err);
    return Py_None;
}
${TABLE(['f'])}`;
    const [f] = await analyzeFixture('case.c', text, { rules: ['borrowed-singleton-return'] });
    const steps = f.related.map((r) => r.message);
    assert.ok(steps.includes('`CHECK(err)`: its `if` condition is false on this path'), steps.join(' | '));
  });
});
