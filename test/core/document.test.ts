import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeText } from '../../src/core/analyze';
import { DocumentSession } from '../../src/core/document';
import { defaultOptions } from '../../src/core/options';
import { loadParser } from '../helpers/engine';

const SOURCE = `#include <Python.h>

static PyObject *
first(PyObject *self, PyObject *args)
{
    if (args == NULL)
        return NULL;
    return Py_None;
}

static PyObject *
second(PyObject *self, PyObject *args)
{
    Py_BEGIN_ALLOW_THREADS
    do_work();
    Py_END_ALLOW_THREADS
    return Py_True;
}

static PyObject *
third(PyObject *self, PyObject *args)
{
    Py_RETURN_NONE;
}
`;

function summary(findings: Array<{ rule: string; start: number; end: number; message: string }>): string[] {
  return findings.map((f) => `${f.rule}@${f.start}-${f.end}`);
}

/**
 * Applies each edit in turn (the text must hold `from`); after each, the session's incremental findings must equal a
 * fresh analysis', with `expected` findings of `rule`.
 */
function editsAgree(
  parser: Awaited<ReturnType<typeof loadParser>>,
  session: DocumentSession,
  text: string,
  options: ReturnType<typeof defaultOptions>,
  rule: string,
  edits: ReadonlyArray<readonly [string, string, number]>,
): void {
  for (const [from, to, expected] of edits) {
    assert.ok(text.includes(from), from);
    text = text.replace(from, to);
    const incremental = session.analyze({ path: 'a.c', text, options }, 'incremental');
    const fresh = analyzeText(parser, { path: 'a.c', text, options });
    assert.equal(incremental.findings.filter((f) => f.rule === rule).length, expected, to);
    assert.deepEqual(summary(incremental.findings), summary(fresh.findings), to);
  }
}

describe('DocumentSession', () => {
  it('gives the same findings incrementally as a fresh analysis, edit after edit', async () => {
    const parser = await loadParser();
    const session = new DocumentSession(parser);
    const options = defaultOptions();
    let text = SOURCE;
    session.analyze({ path: 'a.c', text, options }, 'fresh');
    const edits: Array<[string, string]> = [
      ['    return Py_None;', '    Py_INCREF(Py_None);\n    return Py_None;'],
      ['do_work();', 'do_work(); /* typing */'],
      ['Py_RETURN_NONE;', 'return Py_False;'],
      ['static PyObject *\nthird', 'static PyObject *\nthird_renamed'],
      ['    Py_INCREF(Py_None);\n', ''],
      ['Py_END_ALLOW_THREADS', 'Py_END_ALLOW_THREAD'],
      ['Py_END_ALLOW_THREAD\n', 'Py_END_ALLOW_THREADS\n'],
    ];
    for (const [from, to] of edits) {
      assert.ok(text.includes(from), from);
      text = text.replace(from, to);
      const incremental = session.analyze({ path: 'a.c', text, options }, 'incremental');
      const fresh = analyzeText(parser, { path: 'a.c', text, options });
      assert.deepEqual(summary(incremental.findings), summary(fresh.findings), `after replacing ${JSON.stringify(from)}`);
    }
    session.dispose();
  });

  it('with the reference rules on, follows an edit of a helper into its callers (what the functions of the file return)', async () => {
    const parser = await loadParser();
    const session = new DocumentSession(parser);
    const options = { ...defaultOptions(), rules: { 'owned-reference-leak': 'warning' as const } };
    const text = [
      '#include <Python.h>',
      'static PyObject *cached;',
      'static PyObject *make(void) { return PyList_New(0); }',
      'static PyObject *add(PyObject *self, PyObject *l) {',
      '    PyList_Append(l, make());',
      '    Py_RETURN_NONE;',
      '}',
      '',
    ].join('\n');
    const leaks = (fs: Array<{ rule: string }>) => fs.filter((f) => f.rule === 'owned-reference-leak').length;
    assert.equal(leaks(session.analyze({ path: 'a.c', text, options }, 'fresh').findings), 1);
    // The helper now returns a borrowed reference: the caller loses nothing.
    editsAgree(parser, session, text, options, 'owned-reference-leak', [
      ['return PyList_New(0);', 'return cached;', 0],
      ['return cached;', 'return PyList_New(0);', 1],
    ]);
    session.dispose();
  });

  it('with release-not-owned on, follows an edit of the function that keeps a parsed argument into the one that releases it', async () => {
    const parser = await loadParser();
    const session = new DocumentSession(parser);
    const options = { ...defaultOptions(), rules: { 'release-not-owned': 'warning' as const } };
    const text = [
      '#include <Python.h>',
      'static PyObject *open_(PyObject *self, PyObject *args) {',
      '    PyObject *sink;',
      '    if (!PyArg_ParseTuple(args, "O", &sink)) return NULL;',
      '    Py_INCREF(sink);',
      '    Py_RETURN_NONE;',
      '}',
      'static PyObject *close_(PyObject *self, PyObject *args) {',
      '    PyObject *sink;',
      '    if (!PyArg_ParseTuple(args, "O", &sink)) return NULL;',
      '    Py_DECREF(sink);',
      '    Py_RETURN_NONE;',
      '}',
      'static PyMethodDef methods[] = {{"open", open_, METH_VARARGS, NULL}, {"close", close_, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};',
      '',
    ].join('\n');
    const releases = (fs: Array<{ rule: string }>) => fs.filter((f) => f.rule === 'release-not-owned').length;
    assert.equal(releases(session.analyze({ path: 'a.c', text, options }, 'fresh').findings), 0);
    // open_ no longer keeps the reference (close_'s text is the same): its release is now of a borrowed one.
    editsAgree(parser, session, text, options, 'release-not-owned', [
      ['    Py_INCREF(sink);\n', '', 1],
      ['    Py_RETURN_NONE;\n}\nstatic PyObject *close_', '    Py_INCREF(sink);\n    Py_RETURN_NONE;\n}\nstatic PyObject *close_', 0],
    ]);
    session.dispose();
  });

  it('re-analyses only the function whose text changed', async () => {
    const parser = await loadParser();
    const session = new DocumentSession(parser);
    const options = defaultOptions();
    session.analyze({ path: 'a.c', text: SOURCE, options }, 'fresh');
    const edited = SOURCE.replace('return Py_True;', 'return Py_False;');
    const r = session.analyze({ path: 'a.c', text: edited, options }, 'incremental');
    assert.equal(session.lastAnalyzed, 1);
    assert.equal(r.findings.length, 2);
    const shifted = 'static int pad;\n' + edited;
    const r2 = session.analyze({ path: 'a.c', text: shifted, options }, 'incremental');
    assert.equal(session.lastAnalyzed, 0, 'moving functions down does not re-analyse them');
    assert.deepEqual(
      r2.findings.map((f) => shifted.slice(f.start, f.end)),
      r.findings.map((f) => edited.slice(f.start, f.end)),
    );
    session.dispose();
  });
});
