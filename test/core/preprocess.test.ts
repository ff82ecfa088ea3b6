import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { blankStatementMacros, quotedIncludes } from '../../src/core/preprocess';
import { randomText, seeded } from '../helpers/random';

/** The text with its blanked words shown as `_` runs, for readable expectations (offsets are kept either way). */
function blanked(text: string, dialect: 'c' | 'cpp' = 'c'): string {
  const out = blankStatementMacros(text, dialect);
  assert.equal(out.length, text.length, 'offsets are kept');
  return out;
}

test('an all-caps export macro before a declaration is blanked, in C and C++', () => {
  const cases: Array<[string, string]> = [
    ['NPY_NO_EXPORT PyObject *\nf(void);', '              PyObject *\nf(void);'],
    ['EXPORTED PyMODINIT_FUNC\nPyInit_x(void)', '         PyMODINIT_FUNC\nPyInit_x(void)'],
    // Variables too: a function is not the only declaration that parses badly with two types.
    ['NPY_NO_EXPORT int counter = 0;', '              int counter = 0;'],
    ['NPY_NO_EXPORT const char *msg = "x";', '              const char *msg = "x";'],
    ['MY_API unsigned long table[4];', '       unsigned long table[4];'],
    ['MY_API struct node *make(void);', '       struct node *make(void);'],
    // After `static` or `inline`.
    ['static MY_INLINE int f(void)', 'static           int f(void)'],
  ];
  for (const [text, want] of cases) {
    assert.equal(blanked(text), want, text);
    assert.equal(blanked(text, 'cpp'), want, `${text} (C++)`);
  }
});

test('an all-caps type, a calling convention or a statement is kept', () => {
  for (const text of [
    // The word is the type: what follows is a qualifier, a name, or a calling convention.
    'CHAR_T const *f(void);',
    'MYTYPE value;',
    'LRESULT CALLBACK wndproc(int);',
    // A type the file declares.
    'typedef int KIND_T;\nKIND_T make(void);\nKIND_T other_t x;',
    // Statements after a macro are not declarations.
    'CHECK_GIL return x;',
    'TRACE goto done;',
    // Known Windows types.
    'DWORD WINAPI run(void *p);',
  ]) assert.equal(blanked(text), text, text);
});

test('thread macros are blanked where used as statements, not where called', () => {
  const text = 'Py_BEGIN_ALLOW_THREADS\nx = f();\nPy_END_ALLOW_THREADS\nNPY_BEGIN_THREADS_DEF;\nMY_BEGIN_THREADS(state);\nPY_THREADS_OK = 1;';
  const out = blanked(text);
  assert.equal(out.split('\n')[0].trim(), '');
  assert.equal(out.split('\n')[2].trim(), '');
  assert.equal(out.split('\n')[3], '                     ;');
  // A call keeps its name, and a word that merely holds THREADS is not a thread macro.
  assert.equal(out.split('\n')[4], 'MY_BEGIN_THREADS(state);');
  assert.equal(out.split('\n')[5], 'PY_THREADS_OK = 1;');
});

test('quotedIncludes finds what a multiline search for #include "name" finds', () => {
  const search = (t: string) => [...t.matchAll(/^[ \t]*#[ \t]*include[ \t]*"([^"]+)"/gm)].map((m) => m[1]);
  assert.deepEqual(quotedIncludes('#include "a.h"\n  # include\t"sub/b.h"\n#include <c.h>\nx #include "d.h"\n#include ""\n'), ['a.h', 'sub/b.h']);
  // A name runs to the next quote, over lines; the search goes on after it. Any line terminator starts a line.
  assert.deepEqual(quotedIncludes('#include "a\n#include "b"\r#include "include"\u2028#include "c"'), ['a\n#include ', 'include', 'c']);
  // Random texts of the pieces that matter (a seeded generator: the same texts every run).
  const pieces = ['#', ' ', '\t', '\n', '\r', 'include', '"', 'a', '/', 'x', '#include "', '\n# include\t"', 'h"'];
  const next = seeded(12345);
  let withNames = 0;
  for (let k = 0; k < 50_000; k++) {
    const t = randomText(next, pieces, 24);
    const expected = search(t);
    if (expected.length) withNames++;
    assert.deepEqual(quotedIncludes(t), expected, JSON.stringify(t));
  }
  assert.ok(withNames > 5000, `${withNames} random texts with a name`);
});

test('a block-statement macro used alone on its line gets a `;` where it keeps every offset: the next line\'s indentation, else the line break', () => {
  const def = '#define FLUSH \\\n    if (p) { Py_CLEAR(p); }\n';
  const cases: Array<[string, string]> = [
    ['    FLUSH\n    p = f();\n', '    FLUSH\n;   p = f();\n'],
    // A directive next, not indented (CRLF: the `\r` is the one replaced).
    ['    FLUSH\n#if X\n', '    FLUSH;#if X\n'],
    ['    FLUSH\r\n#if X\r\n', '    FLUSH;\n#if X\r\n'],
    ['    FLUSH\n    #ifdef Y\n', '    FLUSH\n;   #ifdef Y\n'],
    // Not alone on its line, or followed by an unindented statement: left as it is.
    ['    x = 1; FLUSH\n#if X\n', '    x = 1; FLUSH\n#if X\n'],
    ['    FLUSH\n}\n', '    FLUSH\n}\n'],
  ];
  for (const [use, want] of cases) assert.equal(blanked(def + use), def + want, JSON.stringify(use));
});
