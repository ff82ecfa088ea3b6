import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { definitionNames, findFunctions } from '../../src/core/functions';
import { CParser } from '../../src/core/parser';
import { blankStatementMacros } from '../../src/core/preprocess';
import { dialectOf } from '../../src/core/dialect';

// Definitions written every way the parser still reads as a function that returns an object, beside what only looks
// like one: calls in statements and expressions, a prototype, functions of other types, a comment, a string.
const C_TEXT = `#include "other.h"
#define MAKE(x) PyLong_FromLong(x)
static PyObject *plain(PyObject *self) { return PyList_New(0); }
static PyObject *
split_line(int n)
{
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!(self = lookup(n))) goto error;
    x = n ? convert(n) : NULL;
    while (more(n) && PyErr_Occurred()) n--;
    return wrapped(n);
}
static PyObject *kr(a, b) int a; char *b; { return PyLong_FromLong(a); }
static PyObject *attributed(int a) __attribute__((unused)) { return NULL; }
static PyObject *commented /* name */ (int a) /* before the body */ { return NULL; }
static PyObject *(parenthesised(int a)) { return NULL; }
PyObject /* a ; in a comment */ *after_comment(void) { return NULL; }
PyObject * // a line comment; with a semicolon
after_line_comment(void) { return NULL; }
NPY_NO_EXPORT PyObject *exported(void) { return NULL; }
static FooObject *foo_new(void) { return NULL; }
static PyObject *prototype(int a);
static int counts(PyObject *o) { return 0; }
static void nothing(void) { }
static PyObject *continued\\
(int a) { return NULL; }
/* static PyObject *in_comment(void) { return NULL; } */
const char *s = "static PyObject *in_string(void) { return NULL; }";
`;

const CPP_TEXT = `struct Holder {
    PyObject *get() const noexcept { return ref; }
    PyObject *take() && { return ref; }
    [[nodiscard]] PyObject *keep() { return ref; }
    PyObject *with_default(const char *s = ")") { return nullptr; }
    PyObject *ref;
};
PyObject *Holder_make(int a) { return helper(a) && other(a) ? nullptr : nullptr; }
`;

describe('definitionNames', () => {
  let parser: CParser;
  before(async () => {
    parser = await CParser.load();
    await parser.add('cpp');
  });

  const objectFunctions = (text: string, dialect: 'c' | 'cpp') => {
    const tree = parser.for(dialect).parse(blankStatementMacros(text, dialect));
    try {
      return findFunctions(tree.rootNode, text)
        // (A lambda is named after the local it initialises, and is never a candidate.)
        .filter((f) => f.returnsObject && !f.lambda)
        .map((f) => f.name);
    } finally {
      tree.delete();
    }
  };

  it('holds every function the parser finds that returns an object (C)', () => {
    const names = definitionNames(blankStatementMacros(C_TEXT, 'c'), 'c');
    const found = objectFunctions(C_TEXT, 'c');
    assert.deepEqual(found, ['plain', 'split_line', 'attributed', 'commented', 'parenthesised', 'after_comment', 'after_line_comment', 'exported', 'foo_new', 'continued']);
    for (const n of found) assert.ok(names.has(n), n);
  });

  it('leaves out calls, prototypes, functions of other types, comments, strings and directives (C)', () => {
    const names = definitionNames(blankStatementMacros(C_TEXT, 'c'), 'c');
    // (`kr`, a K&R definition, and `__attribute__` stay: a word the text cannot rule out.)
    assert.deepEqual([...names].sort(), ['__attribute__', 'after_comment', 'after_line_comment', 'attributed', 'commented', 'continued', 'exported', 'foo_new', 'kr', 'parenthesised', 'plain', 'split_line']);
  });

  it('holds C++ members with qualifiers, ref-qualifiers, attributes and literals in their lists, and leaves out calls', () => {
    const names = definitionNames(blankStatementMacros(CPP_TEXT, 'cpp'), 'cpp');
    const found = objectFunctions(CPP_TEXT, 'cpp');
    assert.deepEqual(found, ['get', 'take', 'keep', 'with_default', 'Holder_make']);
    assert.deepEqual([...names].sort(), [...found].sort());
  });

  it('reads past what a backward or forward reading could misread: directives, continued comments, raw strings, digit separators, other identifier characters', () => {
    const c = `#if HAVE_X
static PyObject *(after_directive(void)) { return PyList_New(0); }
#endif
PyObject * // a comment continued \\
; on this line
after_continued(void) { return NULL; }
static PyObject *get$value(void) { return NULL; }
static PyObject *créer(void) { return NULL; }
const char *not_raw = R"(a";
static PyObject *after_c_r(void) { return PyUnicode_FromString(")"); }
`;
    // (`BAR"(a"` is a name and a plain string: only `R`, `LR`, `uR`, `UR` and `u8R` start a raw one.)
    const cpp = `const char *glob = R"x(src/*.c
)x";
const wchar_t *wide = LR"(a)";
int x = 1'000;
static PyObject *after_raw(void) { return PyUnicode_FromOrdinal('a'); }
const char *s = BAR"(a";
static PyObject *after_name_r(void) { return PyUnicode_FromString(")"); }
`;
    for (const [text, dialect] of [[c, 'c'], [cpp, 'cpp']] as const) {
      const names = definitionNames(blankStatementMacros(text, dialect), dialect);
      const found = objectFunctions(text, dialect);
      assert.ok(found.length >= (dialect === 'c' ? 5 : 2), found.join(' '));
      for (const n of found) assert.ok(names.has(n), `${n} (${dialect})`);
    }
  });

  it('holds every function that returns an object in every fixture file', () => {
    const root = path.join(__dirname, '../../../test/fixtures');
    const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(?:c|h|cpp|cc|hpp)$/.test(f));
    assert.ok(files.length > 100, `${files.length} fixture files`);
    let functions = 0;
    for (const f of files) {
      const text = fs.readFileSync(path.join(root, f), 'utf8');
      const dialect = dialectOf(f, text, []);
      const names = definitionNames(blankStatementMacros(text, dialect), dialect);
      for (const n of objectFunctions(text, dialect)) {
        functions++;
        assert.ok(names.has(n), `${f}: ${n}`);
      }
    }
    assert.ok(functions > 300, `${functions} functions`);
  });

  it("counts a list it cannot close as a definition's", () => {
    // (A `{` before the `)`: the parser may close the list itself.)
    assert.deepEqual([...definitionNames('static PyObject *broken(int a {\n  return NULL;\n}\n')], ['broken']);
    assert.deepEqual([...definitionNames('PyObject *unterminated(const char *s = "(, int b) { }\n')], ['unterminated']);
  });
});
