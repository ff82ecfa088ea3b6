import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LineIndex } from '../../src/core/text';
import { analyzeText, type CachedFunction, type FunctionCache } from '../../src/core/analyze';
import { defaultOptions } from '../../src/core/options';
import { analyzeFixture, FIXTURES, loadParser } from '../helpers/engine';

async function findingsOn(rel: string, rule: string) {
  const file = path.join(FIXTURES, rel);
  const text = fs.readFileSync(file, 'utf8');
  const lines = new LineIndex(text);
  return (await analyzeFixture(file, text, { rules: [rule] })).map((f) => ({ ...f, line: lines.position(f.start).line + 1 }));
}

describe('precision on real-code idioms', () => {
  it('names the call that already released a singleton when a failed steal is followed by a release', async () => {
    const found = await findingsOn('singleton-decref/release-after-identity-test.c', 'singleton-decref');
    const failed = found.filter((f) => f.function === 'failed_steal' || f.function === 'failed_steal_owned');
    assert.equal(failed.length, 2);
    for (const f of failed) {
      assert.match(f.message, /releases `Py_None` after `PyList_SetItem` took it \(even on failure\)$/);
      assert.ok(f.related.some((r) => /`PyList_SetItem` takes the reference to `Py_None` here, even when it fails/.test(r.message)));
    }
  });

  it('offers no fix for a steal that a later incref repays on some path', async () => {
    const found = await findingsOn('borrowed-singleton-steal/incref-after-steal.c', 'borrowed-singleton-steal');
    const partial = found.find((f) => f.function === 'repaid_on_one_path_only');
    assert.ok(partial);
    assert.deepEqual(partial.fixes, []);
    const released = found.find((f) => f.function === 'released_before_repaid');
    assert.ok(released);
    assert.ok(released.fixes.every((x) => !x.safe));
  });

  it('reports the steal that no incref repays, not the ones that are repaid', async () => {
    const found = await findingsOn('borrowed-singleton-steal/incref-after-steal.c', 'borrowed-singleton-steal');
    assert.deepEqual(
      found.filter((f) => f.function === 'three_steals_two_increfs').map((f) => f.line),
      [56],
    );
  });

  it('offers the return fix as unsafe, saying why, when a caller in the project uses the result as borrowed', async () => {
    const text = [
      '#include <Python.h>',
      'static PyObject *',
      'get_state(PyObject *self, PyObject *Py_UNUSED(ignored))',
      '{',
      '    return Py_None;',
      '}',
      'static int',
      'is_unset(PyObject *self)',
      '{',
      '    return get_state(self, NULL) == Py_None;',
      '}',
      'static PyMethodDef methods[] = {',
      '    {"state", get_state, METH_NOARGS, NULL},',
      '    {NULL, NULL, 0, NULL}',
      '};',
      '',
    ].join('\n');
    const [f] = await analyzeFixture('state.c', text, { rules: ['borrowed-singleton-return'] });
    assert.equal(f.severity, 'error');
    assert.match(f.detail ?? '', /used as a borrowed reference by `is_unset`/);
    assert.ok(f.fixes.length > 0 && f.fixes.every((x) => !x.safe && /unsafe: `is_unset` uses the result as a borrowed reference/.test(x.description)));
  });

  it('re-analyses a function when a returns-borrowed marker is added to the first line of a two-line comment above it', async () => {
    const parser = await loadParser();
    const store = new Map<string, CachedFunction>();
    const cache: FunctionCache = { get: (k) => store.get(k), set: (k, v) => void store.set(k, v) };
    const body = ['/* A helper for the table below.', ' * Its result is a sentinel. */', 'static PyObject *', 'sentinel(void)', '{', '    return Py_None;', '}', ''];
    const run = (text: string) => analyzeText(parser, { path: 'h.c', text, options: defaultOptions(), rules: new Set(['borrowed-singleton-return']), cache }).findings;
    assert.equal(run(body.join('\n')).length, 1);
    body[0] = '/* A helper for the table below. cpyref: returns-borrowed';
    assert.equal(run(body.join('\n')).length, 0);
  });

  it('still reports the singletons a project does not define itself', async () => {
    const text = [
      'PyObject *Py_None;',
      'static PyObject *nothing(PyObject *self, PyObject *args) { return Py_None; }',
      'static PyObject *yes(PyObject *self, PyObject *args) { return Py_True; }',
      'static PyMethodDef methods[] = {{"nothing", nothing, METH_VARARGS, NULL}, {"yes", yes, METH_VARARGS, NULL}, {NULL}};',
      '',
    ].join('\n');
    const found = await analyzeFixture('own.c', text, { rules: ['borrowed-singleton-return'] });
    assert.deepEqual(found.map((f) => f.function), ['yes']);
  });

  it('names every place a returned local gets a borrowed singleton, and offers the fix there as unsafe', async () => {
    const text = [
      '#include <Python.h>',
      'static PyObject *',
      'pick(PyObject *self, PyObject *arg)',
      '{',
      '    PyObject *r;',
      '    long n = PyLong_AsLong(arg);',
      '    if (n < 0)',
      '        r = Py_None;',
      '    else if (n == 0)',
      '        r = Py_False;',
      '    else',
      '        r = PyLong_FromLong(n);',
      '    return r;',
      '}',
      'static PyMethodDef methods[] = {{"pick", pick, METH_O, NULL}, {NULL}};',
      '',
    ].join('\n');
    const [f] = await analyzeFixture('pick.c', text, { rules: ['borrowed-singleton-return'] });
    const at = (needle: string) => text.indexOf(needle);
    assert.ok(f.related.some((r) => r.start === at('r = Py_None')));
    assert.ok(f.related.some((r) => r.start === at('r = Py_False')));
    assert.equal(f.fixes.length, 1);
    assert.equal(f.fixes[0].safe, false);
    assert.match(f.fixes[0].description, /^Take a new reference where `r` gets the singleton \(2 places; unsafe: /);
    assert.deepEqual(
      f.fixes[0].edits.map((e) => e.newText),
      ['(Py_INCREF(Py_None), Py_None)', '(Py_INCREF(Py_False), Py_False)'],
    );
  });
});
