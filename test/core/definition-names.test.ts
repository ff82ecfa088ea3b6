import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { definitionNames, findFunctions } from '../../src/core/functions';
import { CParser } from '../../src/core/parser';
import { blankStatementMacros } from '../../src/core/preprocess';

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
        .filter((f) => f.returnsObject)
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

  it("counts a list it cannot close as a definition's", () => {
    // (A `{` before the `)`: the parser may close the list itself.)
    assert.deepEqual([...definitionNames('static PyObject *broken(int a {\n  return NULL;\n}\n')], ['broken']);
    assert.deepEqual([...definitionNames('PyObject *unterminated(const char *s = "(, int b) { }\n')], ['unterminated']);
  });
});
