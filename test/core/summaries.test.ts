import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { findFunctions, type FunctionInfo } from '../../src/core/functions';
import { CParser, GrammarNotLoaded } from '../../src/core/parser';
import { fileNames, includedFunctionsOf, includedReturns, type IncludedFunctions } from '../../src/core/references/names';
import { borrowingParams, type ParamUses } from '../../src/core/references/summaries';
import { apiParamEffects } from '../../src/core/api/summaries';

// `reads` only reads its parameter; `passes` hands it to `reads`; `keeps` stores it in a global.
// `c1` .. `c6` pass their parameter down a chain to `c6`, which keeps it, written last in the file:
// each round of the fixpoint (in file order) takes the news one step up the chain, and it stops after four.
// \`d1\` .. \`d6\` are the same chain written callee first: one round in file order takes the news all the way up.
const TEXT = `
static PyObject *saved;
static int reads(PyObject *a) { return a->ob_refcnt > 1; }
static int passes(PyObject *b) { return reads(b); }
static void keeps(PyObject *c) { saved = c; }
static void two(PyObject *d, PyObject *e) { reads(d); keeps(e); }
static void c1(PyObject *x) { c2(x); }
static void c2(PyObject *x) { c3(x); }
static void c3(PyObject *x) { c4(x); }
static void c4(PyObject *x) { c5(x); }
static void c5(PyObject *x) { c6(x); }
static void c6(PyObject *x) { saved = x; }
static void d6(PyObject *x) { saved = x; }
static void d5(PyObject *x) { d6(x); }
static void d4(PyObject *x) { d5(x); }
static void d3(PyObject *x) { d4(x); }
static void d2(PyObject *x) { d3(x); }
static void d1(PyObject *x) { d2(x); }
`;

describe('borrowing summaries', () => {
  let functions: FunctionInfo[];
  before(async () => {
    const parser = await CParser.load();
    functions = findFunctions(parser.parse(TEXT).rootNode, TEXT);
  });

  const expected: Array<[string, number[]]> = [
    ['reads', [0]],
    ['passes', [0]],
    ['two', [0]],
    // After four rounds the chain's news has reached c3; c1 and c2 still count as borrowing.
    ['c1', [0]],
    ['c2', [0]],
  ];

  it('says which object parameters each function only borrows, within four rounds in file order', () => {
    assert.deepEqual(borrowingParams(functions).all(), expected);
  });

  it('gives the same answer whichever function is asked for first', () => {
    for (const order of [['c4', 'c1', 'two'], ['c1', 'c6', 'reads'], ['c5', 'c3', 'c2', 'keeps'], ['d1', 'd3'], ['d4', 'd1']]) {
      const b = borrowingParams(functions);
      for (const name of order) {
        const want = expected.find(([n]) => n === name)?.[1];
        assert.deepEqual(b.get(name) && [...b.get(name)!], want, `${name} asked after ${order.slice(0, order.indexOf(name)).join(', ') || 'nothing'}`);
      }
      assert.deepEqual(b.all(), expected);
    }
  });

  it('reads only the functions the one asked for reaches', () => {
    const readTexts: string[] = [];
    const cache = {
      get: () => undefined,
      set: (text: string, _v: ParamUses) => void readTexts.push(text),
    };
    const b = borrowingParams(functions, cache);
    assert.deepEqual(b.get('passes') && [...b.get('passes')!], [0]);
    assert.deepEqual(readTexts.map((t) => /\w+(?=\()/.exec(t)?.[0]), ['passes', 'reads']);
    assert.equal(b.get('PyList_Append'), undefined);
    assert.equal(readTexts.length, 2);
  });
});

// `make` returns a new reference; `wrap` returns `make`'s; `pick` a borrowed one; `ping` and `pong` only each
// other's (no new reference ever comes in); `method` returns `wrap`'s, and nothing in the file calls it.
const NAMES_TEXT = `
static PyObject *make(void) { return PyList_New(0); }
static PyObject *wrap(int x) { if (x) return NULL; return make(); }
static PyObject *pick(PyObject *d) { return PyDict_GetItemString(d, "k"); }
static PyObject *pong(int n);
static PyObject *ping(int n) { return pong(n - 1); }
static PyObject *pong(int n) { return ping(n - 1); }
static PyObject *method(PyObject *self, PyObject *args) { PyObject *r = wrap(1); return r; }
`;

describe('new-reference functions of a file', () => {
  let functions: FunctionInfo[];
  before(async () => {
    const parser = await CParser.load();
    functions = findFunctions(parser.parse(NAMES_TEXT).rootNode, NAMES_TEXT);
  });

  it('finds the least fixpoint: what every return gives back is new (or NULL), through the file functions too', () => {
    assert.deepEqual(fileNames(NAMES_TEXT, functions).newFunctions.all(), ['make', 'wrap', 'method']);
    for (const order of [['ping', 'method', 'pick'], ['wrap', 'pong', 'make']]) {
      const names = fileNames(NAMES_TEXT, functions).newFunctions;
      assert.deepEqual(order.map((n) => names.has(n)), order.map((n) => ['make', 'wrap', 'method'].includes(n)));
    }
  });

  it('reads only the returns of the functions the one asked for reaches', () => {
    const readTexts: string[] = [];
    const cache = { get: () => undefined, set: (text: string) => void readTexts.push(text) };
    const names = fileNames(NAMES_TEXT, functions, cache).newFunctions;
    assert.equal(names.has('wrap'), true);
    assert.deepEqual(readTexts.map((t) => /\w+(?=\()/.exec(t)?.[0]), ['wrap', 'make']);
    assert.equal(names.has('PyList_New'), false);
    assert.equal(readTexts.length, 2);
  });
});

// Two headers the file includes: the first defines \`fresh\` (a new reference) and \`peek\` (a borrowed one), the second
// \`fresh\` again (borrowed: the first file's counts) and \`other\`; the file itself defines \`peek\`, which shadows the header's.
const HEADER_1 = `
static inline PyObject *fresh(void) { return PyList_New(0); }
static inline PyObject *peek(PyObject *d) { return PyDict_GetItemString(d, "k"); }
static inline int helper(PyObject *o) { if (PyErr_Occurred()) return -1; return 0; }
`;
const HEADER_2 = `
static inline PyObject *fresh(PyObject *d) { return PyDict_GetItemString(d, "k"); }
static inline PyObject *other(void) { return PyTuple_New(1); }
`;
const INCLUDING = `
static PyObject *peek(void) { return PyLong_FromLong(1); }
static PyObject *use(PyObject *self) { helper(self); return fresh(); }
`;

describe('new-reference functions of included files', () => {
  let parser: CParser;
  let functions: FunctionInfo[];
  before(async () => {
    parser = await CParser.load();
    functions = findFunctions(parser.parse(INCLUDING).rootNode, INCLUDING);
  });

  /** An included file as the analysis reads one, counting its parses. */
  const header = (text: string, parses: string[], label: string): IncludedFunctions =>
    includedFunctionsOf(text, 'c', (t) => {
      parses.push(label);
      return includedReturns(findFunctions(parser.parse(t).rootNode, t));
    });

  it('parses an included file only when a name it may define is asked for', () => {
    const parses: string[] = [];
    const names = fileNames(INCLUDING, functions, undefined, [header(HEADER_1, parses, '1'), header(HEADER_2, parses, '2')]).newFunctions;
    // \`helper\` returns no object, \`peek\` is the file's own, \`PyList_New\` no header defines: nothing is parsed.
    assert.equal(names.has('helper'), false);
    assert.equal(names.has('peek'), true);
    assert.equal(names.has('PyList_New'), false);
    assert.deepEqual(parses, []);
    // \`other\`: only the second header may define it; the first is not parsed for it.
    assert.equal(names.has('other'), true);
    assert.deepEqual(parses, ['2']);
    // \`fresh\`: the first header's (new), read before the second's.
    assert.equal(names.has('fresh'), true);
    assert.deepEqual(parses, ['2', '1']);
  });

  it('leaves a file it cannot parse defining nothing, read once, and hands a grammar not loaded yet to the caller', () => {
    let reads = 0;
    const broken = includedFunctionsOf(HEADER_1, 'c', () => {
      reads++;
      throw new RangeError('too deep');
    });
    assert.deepEqual([...broken.returns()], []);
    assert.deepEqual([...broken.returns()], []);
    assert.equal(reads, 1);
    const cxx = includedFunctionsOf(HEADER_1, 'c', () => {
      throw new GrammarNotLoaded('cpp');
    });
    assert.throws(() => cxx.returns(), GrammarNotLoaded);
  });

  it('gives the answers of the included files read whole, in their order', () => {
    const parses: string[] = [];
    const names = fileNames(INCLUDING, functions, undefined, [header(HEADER_1, parses, '1'), header(HEADER_2, parses, '2')]).newFunctions;
    assert.deepEqual(names.all(), ['peek', 'use', 'fresh', 'other']);
    // (With the headers the other way round, \`fresh\` is the second header's, borrowed, and so is \`use\`'s result.)
    const swapped = fileNames(INCLUDING, functions, undefined, [header(HEADER_2, [], '2'), header(HEADER_1, [], '1')]).newFunctions;
    assert.deepEqual(swapped.all(), ['peek', 'other']);
  });
});

describe('C-API parameter effects', () => {
  it('gives refcounts.dat effects by position, the same list each time, and nothing for an unlisted name', () => {
    // PyList_Append(list, item) borrows the list and takes its own reference to the item; PyTuple_SetItem's index is no
    // object (refcounts.dat's `0` for its item is wrong: the stealing table comes first where it is used).
    assert.deepEqual(apiParamEffects('PyList_Append'), ['0', '+1']);
    assert.equal(apiParamEffects('PyList_Append'), apiParamEffects('PyList_Append'));
    assert.deepEqual(apiParamEffects('PyTuple_SetItem'), ['0', '', '0']);
    assert.equal(apiParamEffects('my_helper'), undefined);
    // (The table has no prototype: a C++ method named `constructor` is not in it.)
    assert.equal(apiParamEffects('constructor'), undefined);
  });
});
