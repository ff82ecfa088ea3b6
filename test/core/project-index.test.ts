import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ANY_PROJECT, indexFile, indexForNames, indexMentioning, NameSet, ProjectIndex, tokenize, type IndexSource } from '../../src/core/project-index';

/** The regular expression the project index tokenized with before its scanner by hand: the reference the scanner is held to. */
const TOKEN = /\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:\\[\s\S]|[^"\\\n])*"?|'(?:\\[\s\S]|[^'\\\n])*'?|^[ \t]*#(?:[^\n\\]|\\[\s\S])*|[A-Za-z_]\w*|->|[{}()[\],;=&.<>*?:]/gm;

function tokenizeByRegExp(text: string): ReturnType<typeof tokenize> {
  const t: string[] = [];
  const at: number[] = [];
  const directives: Array<{ text: string; i: number }> = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    const tok = m[0];
    const c = tok.charCodeAt(0);
    if (c === 47 /* / */ || c === 34 /* " */ || c === 39 /* ' */) {
      if (c === 34 || c === 39) {
        t.push('"');
        at.push(m.index);
      }
      continue;
    }
    if (tok.trimStart().startsWith('#')) {
      directives.push({ text: tok, i: m.index });
      continue;
    }
    t.push(tok);
    at.push(m.index);
  }
  return { t, at, directives };
}

function registered(text: string): string[] {
  return indexFile('m.c', text).registrations.map((r) => r.name);
}

describe('project index', () => {
  it("tokenizes as the regular expression it replaced does, on code built from C's awkward pieces", () => {
    // Pieces where a scanner by hand can go wrong: comments left open at a line's end, strings
    // with escapes or left open, directives continued with a backslash or indented, CRLF,
    // numbers with letters in them, `->` against `-`, the line separators of JavaScript.
    const piece = fc.constantFrom(
      '/*', '*/', '//', '"', "'", '\\', '\n', '\r\n', '\r', '\u2028', ' ', '\t', '#', '#define X(a) \\\n  a', '  # if 1',
      'x', 'Py_None', '0x1F', '1e5', '->', '-', '>', '{', '}', '(', ')', '[', ']', ',', ';', '=', '&', '.', '<', '*', '?', ':', '@', 'é', '_a9',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        assert.deepEqual(tokenize(text), tokenizeByRegExp(text), JSON.stringify(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('tokenizes a literal, a comment or a directive of millions of characters (a generated file) without failing', () => {
    // One expression repeated per character of the run overflowed the engine's backtracking stack at about 8.4 million.
    const long = 12_000_000;
    const texts: Array<[string, string[], number]> = [
      [`x = "${'a'.repeat(long)}";`, ['x', '=', '"', ';'], 0],
      [`s = "${'\\x'.repeat(long / 2)}";`, ['s', '=', '"', ';'], 0],
      [`c = '${'\\\\'.repeat(long / 2)}';`, ['c', '=', '"', ';'], 0],
      [`/*${'a'.repeat(long)}*/ y;`, ['y', ';'], 0],
      [`#define BLOB ${'a\\\n'.repeat(long / 3)}\nz;`, ['z', ';'], 1],
    ];
    for (const [text, tokens, directives] of texts) {
      const got = tokenize(text);
      assert.deepEqual(got.t, tokens);
      assert.equal(got.directives.length, directives);
    }
  });

  it('registers functions named in method tables, slots, getters and members, through casts', () => {
    const names = registered(`
static PyMethodDef methods[] = {
    {"a", (PyCFunction)(void(*)(void))meth_a, METH_FASTCALL, NULL},
    {"b", meth_b, METH_O, NULL},
    {NULL, NULL, 0, NULL}
};
static PyType_Slot slots[] = { {Py_tp_repr, (reprfunc)obj_repr}, {0, NULL} };
static PyGetSetDef getset[] = { {"x", (getter)get_x, (setter)set_x, NULL, NULL}, {NULL} };
static PyTypeObject T = { PyVarObject_HEAD_INIT(NULL, 0) .tp_name = "m.T", .tp_iternext = obj_next, };
`);
    for (const n of ['meth_a', 'meth_b', 'obj_repr', 'get_x', 'set_x', 'obj_next']) assert.ok(names.includes(n), n);
  });

  it('registers tp_* slot assignments in code', () => {
    assert.deepEqual(registered('int init(void) { Obj_Type.tp_str = (reprfunc)obj_str; p->tp_new = obj_new; x = helper; return 0; }'), ['obj_str', 'obj_new']);
  });

  it('does not register names in brace lists of other types (callback arrays, enums)', () => {
    const names = registered(`
static PyObject *(*const hooks[])(void) = { cb_none, NULL };
enum color { RED, GREEN };
static int values[] = { LIMIT, OTHER };
`);
    assert.deepEqual(names, []);
  });

  it('registers Argument Clinic method-table macros and C++ casts', () => {
    const names = registered(`
#define MOD_PING_METHODDEF    \\
    {"ping", (PyCFunction)mod_ping, METH_NOARGS, mod_ping__doc__},
static PyMethodDef m[] = { {"c", reinterpret_cast<PyCFunction>(cpp_a), METH_O, nullptr}, {"d", PyCFunction(cpp_b), METH_O, nullptr}, {nullptr} };
`);
    for (const n of ['mod_ping', 'cpp_a', 'cpp_b']) assert.ok(names.includes(n), n);
  });

  it('records only calls returned whole as return edges, and finds functions inside extern "C"', () => {
    const fi = indexFile(
      'm.c',
      `#ifdef __cplusplus
extern "C" {
#endif
static PyObject *meth(PyObject *self, PyObject *u) { return impl(self); }
static PyObject *other(PyObject *self, PyObject *u) { return dflt_of(self) != Py_None ? Py_NewRef(Py_True) : Py_NewRef(Py_False); }
#ifdef __cplusplus
}
#endif
`,
    );
    assert.deepEqual(fi.returnEdges, [['meth', 'impl']]);
    assert.deepEqual(fi.functions, [
      { name: 'meth', isStatic: true },
      { name: 'other', isStatic: true },
    ]);
  });

  it("records no keyword as a called function (C's keywords as the definitions' scan skips them)", () => {
    const fi = indexFile(
      'k.c',
      `static int spin(int n) { __asm__ volatile ("nop"); return n; }
static double mean(PyObject *self) { double d = (double)(helper(self)) + sizeof(short) + float_of(self); _Atomic(int) x; return d; }
`,
    );
    const callees = (fi.borrowedUses ?? []).map(([, callee]) => callee).sort();
    assert.deepEqual(callees, ['float_of', 'helper']);
  });

  it('follows registrations through returned calls, and keeps static functions of other files apart', () => {
    const index = new ProjectIndex();
    index.set(indexFile('/p/a.c', 'static PyObject *lookup(PyObject *s, PyObject *k) { return NULL; }\nstatic PyObject *meth(PyObject *s, PyObject *a) { return helper(s); }\nstatic PyMethodDef m[] = {{"lookup", lookup, METH_O, NULL}, {"meth", meth, METH_O, NULL}, {NULL}};'));
    index.set(indexFile('/p/b.c', 'static PyObject *lookup(PyObject *d, PyObject *k) { return k; }'));
    index.set(indexFile('/p/h.c', 'PyObject *helper(PyObject *s) { return s; }'));
    assert.ok(index.facing('lookup', '/p/a.c'));
    assert.equal(index.facing('lookup', '/p/b.c'), undefined);
    const why = index.facing('helper', '/p/h.c');
    // One step says why, and points at the caller's registration in the other file.
    assert.equal(why?.reason, "`helper`'s result is returned by the Python-facing `meth` (registered in a.c:3)");
    assert.equal(why?.path, '/p/a.c');
    assert.equal(why?.line, 2);
  });

  it('lets a file that includes another see its static functions', () => {
    const index = new ProjectIndex();
    index.set(indexFile('/p/methods.h', 'static PyObject *meth(PyObject *s, PyObject *a) { return NULL; }'));
    index.set(indexFile('/p/module.c', '#include "methods.h"\nstatic PyMethodDef m[] = {{"meth", meth, METH_O, NULL}, {NULL}};'));
    assert.ok(index.facing('meth', '/p/methods.h'));
  });
});

describe('project index over several projects', () => {
  /** `/a/x.c` is of project `a`. */
  const projectOf = (p: string) => p.split('/')[1];
  const IMPL = 'PyObject *init(PyObject *s, PyObject *a) { return NULL; }\nPyObject *get(PyObject *o) CPYCHECKER_RETURNS_BORROWED_REF;';
  const TABLE = 'static PyMethodDef m[] = {{"init", init, METH_O, NULL}, {NULL}};\nPyObject *peek(PyObject *o) CPYCHECKER_RETURNS_BORROWED_REF;';

  it("decides a function by its own project's files: another project's registration or borrowed declaration of the name says nothing", () => {
    const index = new ProjectIndex(projectOf);
    index.set(indexFile('/a/impl.c', IMPL));
    index.set(indexFile('/b/mod.c', TABLE));
    assert.equal(index.facing('init', '/a/impl.c'), undefined);
    assert.deepEqual([...index.factsFor('/a/impl.c').borrowedDeclarations], ['get']);
    assert.deepEqual([...index.factsFor('/b/mod.c').borrowedDeclarations], ['peek']);
    index.set(indexFile('/a/mod.c', TABLE));
    assert.equal(index.facing('init', '/a/impl.c')?.path, '/a/mod.c');
    assert.deepEqual([...index.factsFor('/a/impl.c').borrowedDeclarations].sort(), ['get', 'peek']);
    // A document that is no file (an untitled one) is of every project.
    const any = new ProjectIndex((p) => (p.startsWith('/') ? projectOf(p) : ANY_PROJECT));
    any.set(indexFile('untitled:1', IMPL));
    any.set(indexFile('/b/mod.c', TABLE));
    assert.equal(any.facing('init', 'untitled:1')?.path, '/b/mod.c');
    assert.deepEqual([...any.factsFor('untitled:1').borrowedDeclarations].sort(), ['get', 'peek']);
    // One project (the default): the other project's table counts, as it always did.
    const one = new ProjectIndex();
    one.set(indexFile('/a/impl.c', IMPL));
    one.set(indexFile('/b/mod.c', TABLE));
    assert.equal(one.facing('init', '/a/impl.c')?.path, '/b/mod.c');
  });

  it("reads only the files of the asking project, following callers round by round within it", () => {
    const texts: Record<string, string> = {
      '/a/impl.c': 'PyObject *init(PyObject *s) { return NULL; }',
      '/a/wrap.c': 'PyObject *wrap(PyObject *s) { return init(s); }',
      '/a/mod.c': 'static PyMethodDef m[] = {{"wrap", wrap, METH_O, NULL}, {NULL}};',
      '/b/mod.c': 'static PyMethodDef m[] = {{"init", init, METH_O, NULL}, {"wrap", wrap, METH_O, NULL}, {NULL}};',
    };
    const read: string[] = [];
    const sources: IndexSource[] = Object.entries(texts).map(([path, text]) => ({ path, text: () => (read.push(path), text) }));
    const index = indexForNames(new Map([['a', ['init']]]), sources, new ProjectIndex(projectOf));
    assert.deepEqual(read.sort(), ['/a/impl.c', '/a/mod.c', '/a/wrap.c']);
    assert.equal(index.facing('init', '/a/impl.c')?.reason, "`init`'s result is returned by the Python-facing `wrap` (registered in mod.c:1)");
  });
});

describe('NameSet', () => {
  /** The global search of words it replaced: the reference. */
  const byRegExp = (names: string[], text: string) => {
    const set = new Set(names);
    for (const m of text.matchAll(/[A-Za-z_]\w*/g)) if (set.has(m[0])) return true;
    return false;
  };
  it('finds a name among many exactly where a global search of words does (random texts and names)', () => {
    const alphabet = ['a', 'b', 'ab', '_', '0', '9', 'x1', ' ', '\n', '(', '"', 'é', 'A', 'Z'];
    const word = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(word, { minLength: 17, maxLength: 30 }), fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), (names, parts) => {
        const text = parts.join('');
        assert.equal(new NameSet(names).mentionedIn(text), byRegExp(names, text), JSON.stringify({ names, text }));
      }),
      { numRuns: 3000 },
    );
  });

  it('tests a file read as raw bytes on its decoded text too when a name is not ASCII (the bytes hold it, the Latin-1 reading does not)', () => {
    // An invalid UTF-8 byte (0xFF) makes the file decode as Latin-1, where the UTF-8 name `café` reads `cafÃ©`.
    const bytes = Buffer.concat([Buffer.from('int caf\u00e9(void) { return 0; } /* ', 'utf8'), Buffer.from([0xff]), Buffer.from(' */\nstatic PyMethodDef m[] = {{"x", (PyCFunction)g, 0, NULL}, {NULL}};\n')]);
    const source = (names: NameSet) => ({ path: 'm.c', mentions: () => names.names.some((n) => bytes.includes(n)), text: () => bytes.toString('latin1') });
    assert.equal(new NameSet(['caf\u00e9']).ascii, false);
    assert.deepEqual(indexMentioning(['caf\u00e9'], [source(new NameSet(['caf\u00e9']))]), []);
    // An ASCII name is taken on the raw test alone.
    assert.deepEqual(
      indexMentioning(['g'], [source(new NameSet(['g']))]).map((f) => f.registrations.map((r) => r.name)),
      [['g']],
    );
  });

  const BLANK = ' '.repeat(300 * 1024);
  it('asks about the same words in the same order as a global search, with names found by one alternation or word by word', () => {
    // Identifiers (the alternation's case) that share prefixes, in texts with digits and other words around them.
    const ident = fc.array(fc.constantFrom('a', 'b', 'ab', '_', 'x1', '9', 'A'), { minLength: 1, maxLength: 4 }).map((a) => (/^[0-9]/.test(a.join('')) ? 'n' : '') + a.join(''));
    const alphabet = ['a', 'b', 'ab', '_', '0', '9', 'x1', ' ', '\n', '(', 'A', 'é'];
    fc.assert(
      fc.property(fc.array(ident, { minLength: 1, maxLength: 12 }), fc.array(fc.constantFrom(...alphabet), { maxLength: 60 }), fc.integer({ min: 0, max: 5 }), (names, parts, stopAt) => {
        const text = parts.join('');
        const set = new Set(names);
        const words = [...text.matchAll(/[A-Za-z_]\w*/g)].map((m) => m[0]).filter((w) => set.has(w));
        // The alternation is compiled once sets of the same names have searched enough text: this blank one is.
        const alternation = new NameSet(names);
        alternation.someWord(BLANK, () => true);
        // The loop's path: more names than one alternation takes (those added never occur).
        const padded = [...names, ...Array.from({ length: 600 }, (_, i) => `zz_unused_${i}`)];
        for (const ns of [alternation, new NameSet(padded)]) {
          const asked: string[] = [];
          const found = ns.someWord(text, (w) => asked.push(w) > stopAt);
          assert.deepEqual(asked, words.slice(0, stopAt + 1), JSON.stringify({ names, text }));
          assert.equal(found, words.length > stopAt);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
