import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { API_RETURNS } from '../../src/core/api/returns.generated';
import { asArguments, newReferenceCalls } from '../../src/core/rules/reference-leak';
import { REPO } from '../helpers/engine';

// What reference-leak's text search once was: two regular expressions over an alternation of every new-reference name.
const NAMES = Object.keys(API_RETURNS).filter((n) => API_RETURNS[n] === 'new');
const AS_ARGUMENT = new RegExp(`([(,])\\s*(?:\\([^()]*\\)\\s*)?(?:${NAMES.join('|')})\\s*\\(`, 'g');
const CANDIDATES = new RegExp(`\\b(${NAMES.join('|')})\\s*\\(`, 'g');

/** The regular expressions' answers and the scanner's, for one text. */
function both(text: string) {
  AS_ARGUMENT.lastIndex = 0;
  const starts: number[] = [];
  for (let m = AS_ARGUMENT.exec(text); m; m = AS_ARGUMENT.exec(text)) starts.push(m.index);
  const calls = newReferenceCalls(text);
  return {
    expected: { calls: [...text.matchAll(CANDIDATES)].map((m) => [m.index, m[1]]), starts },
    actual: { calls: calls.map((c) => [c.index, c.name]), starts: asArguments(text, calls) },
  };
}

describe("reference-leak's search for new-reference calls", () => {
  it('finds what the regular expressions found: calls, and those written as an argument (through a cast, after another match)', () => {
    const cases = [
      'PyList_Append(l, PyLong_FromLong(i));',
      'f(, (PyObject *) PyList_New (n))',
      'PyList_Append(l, PyTuple_New(PyLong_FromLong(1)))',
      'g(x,\u00a0PyLong_FromLong\u2028(1))',
      '((PyList_New) PyDict_New(',
      '(_PyList_New(1), 9PyList_New(2), PyLong_FromLongLong(3), PyLong_FromLongX(4))',
      '( )PyList_New(0); (()PyList_New(0); (a)(b) PyList_New(0);',
      'PyPyList_New(0) + x_PyList_New(0) + PyList_New',
    ];
    for (const text of cases) {
      const { expected, actual } = both(text);
      assert.deepEqual(actual, expected, text);
    }
    // The first case's two calls, the second written as an argument of PyList_Append.
    assert.deepEqual(both(cases[0]).actual, { calls: [[17, 'PyLong_FromLong']], starts: [15] });
  });

  it('agrees with them on random texts made of the tokens that matter, and on every fixture', () => {
    const tokens = ['(', ',', ')', ' ', '\n', '\t', '\u00a0', 'PyList_New', 'PyLong_FromLong', 'PyLong_FromLongLong', 'PyDict_GetItem', 'x', '_', '9', 'Py', '(a)', '(int)', '_PyObject_New', 'f'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = '';
      for (let j = 1 + Math.floor(next() * 14); j > 0; j--) text += tokens[Math.floor(next() * tokens.length)];
      const { expected, actual } = both(text);
      assert.deepEqual(actual, expected, JSON.stringify(text));
      matched += expected.starts.length;
    }
    assert.ok(matched > 500, `${matched} arguments matched`);
    const dir = path.join(REPO, 'test', 'fixtures');
    const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(?:c|h|cc|cpp)$/.test(f));
    assert.ok(files.length > 50);
    for (const f of files) {
      const { expected, actual } = both(fs.readFileSync(path.join(dir, f), 'latin1'));
      assert.deepEqual(actual, expected, f);
    }
  });
});
