/** The messages quoted in the rule pages are the ones the engine prints (so the docs cannot drift). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { analyzeFixture, REPO } from '../helpers/engine';

const TABLE = (n: string) => `static PyMethodDef methods[] = {{"${n}", (PyCFunction)${n}, METH_VARARGS, NULL}, {NULL}};\n`;
const page = (rule: string) => fs.readFileSync(path.join(REPO, 'docs/rules', `${rule}.md`), 'utf8');

async function messageOf(rule: string, text: string): Promise<string> {
  const [f, ...rest] = await analyzeFixture('doc.c', text, { rules: [rule] });
  assert.equal(rest.length, 0);
  return f.message;
}

describe('rule pages quote the messages the engine prints', () => {
  it('borrowed-singleton-return', async () => {
    const m = await messageOf('borrowed-singleton-return', `static PyObject *cache_close(PyObject *self, PyObject *args) {\n    return Py_None;\n}\n${TABLE('cache_close')}`);
    assert.ok(page('borrowed-singleton-return').includes(`\`\` ${m} \`\``), m);
  });

  it('borrowed-singleton-steal', async () => {
    const m = await messageOf('borrowed-singleton-steal', `static PyObject *f(PyObject *self, PyObject *args) {\n    PyObject *t = PyTuple_New(1);\n    if (t == NULL) return NULL;\n    PyTuple_SET_ITEM(t, 0, Py_None);\n    return t;\n}\n${TABLE('f')}`);
    assert.ok(page('borrowed-singleton-steal').includes(`\`\` ${m} \`\``), m);
  });

  it('singleton-decref, plain and after a stealing call that can fail', async () => {
    const plain = await messageOf('singleton-decref', `static PyObject *f(PyObject *self, PyObject *args) {\n    Py_DECREF(Py_None);\n    return PyLong_FromLong(0);\n}\n${TABLE('f')}`);
    assert.ok(page('singleton-decref').includes(`\`\` ${plain} \`\``), plain);
    const after = await messageOf('singleton-decref', `static PyObject *f(PyObject *self, PyObject *args) {\n    PyObject *l = PyList_New(1);\n    if (l == NULL) return NULL;\n    Py_INCREF(Py_None);\n    if (PyList_SetItem(l, 0, Py_None) < 0) {\n        Py_DECREF(Py_None);\n        return NULL;\n    }\n    return l;\n}\n${TABLE('f')}`);
    assert.ok(page('singleton-decref').replace(/\n/g, ' ').includes(`\`\` ${after} \`\``), after);
  });
});
