/**
 * An oracle for the reference analysis (owned counts of every object): a generator of small
 * C functions that allocate, borrow, incref and decref locals, give them to stealing and
 * non-stealing calls, test them against NULL, branch on opaque ints, `goto error` to a
 * cleanup label and return; a renderer to C; and an independent computation of the
 * expected findings of owned-reference-leak, release-not-owned, use-after-release and
 * borrowed-reference-return by exploring the paths of the generated statement tree (not
 * the tool's CFG), with each object's owned count and state on each path.
 *
 * Used by oracle-refs.test.ts (a fixed seed, in `npm test`) and scripts/oracle-long.ts
 * (`npm run oracle -- --refs --runs 10000 [--seed S]`).
 *
 * The semantics the oracle encodes (from docs/rules/*.md, and the analysis' documented choices):
 * - every pointer local holds an object, or NULL; `PyObject *x = NULL` at the top;
 * - a call returning a new reference makes an object the function owns once; a borrowed
 *   result (`PyDict_GetItemString`, `PyTuple_GET_ITEM`) one it does not own; the parameters
 *   are borrowed; an object may be NULL until a test says otherwise (`PyTuple_GET_ITEM` is
 *   never NULL), and on the NULL side of a test there is no object at all;
 * - `Py_INCREF` adds a reference (the count is capped at 3, as in the analysis), `Py_DECREF`,
 *   `Py_XDECREF` and `Py_CLEAR` release one: releasing the last one of a new reference
 *   releases the object, releasing one the function does not own is release-not-owned
 *   (and the object is not followed on that path any more);
 * - `PyList_SetItem` / `PyTuple_SET_ITEM` steal their item: the last owned reference goes to
 *   the container (stealing an unowned one is release-not-owned); `PyList_Append` keeps its
 *   own reference and leaves the caller's; a tested `PyList_SetItem` / `PyTuple_SetItem` fails
 *   (and goes to the error label) unless its container is a list (a tuple) the function made
 *   with `PyList_New` (`PyTuple_New`), tested not NULL, and holds alone;
 * - a use (a call argument, `Py_INCREF`, a return) of an object released or given away is
 *   use-after-release; information rather than warning when on every path the object is
 *   alive through a container the function holds, or a container keeps its own reference;
 * - a new reference the function still owns is lost (owned-reference-leak) at a return that
 *   does not hand it back, where the last local holding it is overwritten, or where it is
 *   discarded; one finding per allocation, at the first place (in source order) it is lost,
 *   the others listed as "it also leaks here"; a discarded result is shown at its call;
 * - returning an object the function owns no reference to is borrowed-reference-return;
 * - conditions on the opaque ints are followed as the analysis' feasibility does (only atoms
 *   tested at least twice), so contradictory branches are not paths.
 */
import fc from 'fast-check';
import { analyzeText, resolveFindings } from '../../src/core/analyze';
import { defaultOptions } from '../../src/core/options';
import { indexFile, ProjectIndex } from '../../src/core/project-index';
import { LineIndex } from '../../src/core/text';
import { loadParser } from '../helpers/engine';
import { atomsOf, condText, evalModel, mismatchReport, model, refineModel, type Cond } from './oracle';

// ---------------------------------------------------------------------------
// The statement tree
// ---------------------------------------------------------------------------

/**
 * `v` and `into` are local indices (reduced modulo the number of locals by `resolve`).
 * `check` on an allocation or borrow: 0 none, 1 `if (x == NULL) goto error;`, 2 `if (!x) return NULL;`,
 * 3 the assignment inside the test: `if ((x = f()) == NULL) goto error;`.
 */
export type RStmt = (
  | { k: 'alloc'; v: number; fn: number; check: number }
  | { k: 'borrow'; v: number; fn: number; check: number }
  /** form 0 `Py_INCREF`, 1 `Py_XINCREF`. */
  | { k: 'incref'; v: number; form: number }
  /** form 0 `Py_DECREF`, 1 `Py_XDECREF`, 2 `Py_CLEAR`. */
  | { k: 'decref'; v: number; form: number }
  /** `v` given to a stealing call on the container `into` (STEALS; forms 2 and 3 are tested and `goto error`). */
  | { k: 'steal'; v: number; into: number; form: number }
  /** `PyList_Append(into, v)`, form 1 tested and `goto error`. */
  | { k: 'append'; v: number; into: number; form: number }
  /** A call reading the object (USES). */
  | { k: 'use'; v: number; form: number }
  /** A new reference discarded (`PyLong_FromLong(k);`). */
  | { k: 'discard'; fn: number }
  /** `Py_DECREF(arg);`: a parameter the function does not own. */
  | { k: 'param' }
  /** `v = from;`: two locals hold the same object. */
  | { k: 'alias'; v: number; from: number }
  /** form 0 `Py_SETREF(v, from)`, 1 `Py_XSETREF(v, from)`, 2 `Py_XSETREF(v, PyLong_FromLong(k))` (a new reference made inside the macro's argument). */
  | { k: 'setref'; v: number; from: number; form: number }
  /**
   * `PyObject *tK = ALLOC;` declared where it is made (its own local, named by the statement id),
   * with a `check` as an allocation's, then `use`: 0 nothing more, 1 `Py_DECREF(tK);`,
   * 2 `PyList_Append(into, tK);` and `Py_DECREF(tK);`, 3 `PyList_SetItem(into, 0, tK);`.
   * `slot` (set by `resolve`) is its index among the oracle's variables.
   */
  | { k: 'decl'; fn: number; check: number; use: number; into: number; slot?: number }
  /** `if (PyErr_Occurred())` then `goto error;` (form 0) or `return NULL;` (form 1): what may be NULL is taken to be NULL there. */
  | { k: 'errcheck'; form: number }
  | { k: 'if'; c: Cond; then: RStmt[]; else?: RStmt[] }
  /** `if (x == NULL)` (neg: `if (x != NULL)`; form 1 spells them `!x` / `x`). */
  | { k: 'ifnull'; v: number; neg: boolean; form: number; then: RStmt[]; else?: RStmt[] }
  | { k: 'goto' }
  /** what: 0 `return x;`, 1 `return NULL;`, 2 `Py_RETURN_NONE;`, 3 `return Py_NewRef(x);`, 4 `return arg;`. */
  | { k: 'return'; what: number; v: number }
) & { id?: number; synth?: boolean };

/** A resolved program: `nv` locals, the body (ending with a return), and the cleanup after `error:` (ending with `return NULL;`) when some path jumps there. */
export interface RProgram {
  nv: number;
  body: RStmt[];
  cleanup: RStmt[];
  /** Some statement jumps to `error:`. */
  usesError: boolean;
}

export const LOCALS = ['a', 'b', 'c'];
/** Calls returning a new reference. */
export const ALLOCS = ['PyLong_FromLong(%k)', 'PyUnicode_FromString("s")', 'PyList_New(2)', 'PyTuple_New(2)'];
/** Calls returning a borrowed reference (the first may be NULL, the second never is). */
export const BORROWS = ['PyDict_GetItemString(arg, "k")', 'PyTuple_GET_ITEM(arg, 0)', 'PyTuple_GetItem(arg, 1)'];
/** The borrowed results that are never NULL. */
const NEVER_NULL = [1];
export const STEALS = ['PyList_SetItem(%c, 0, %x);', 'PyTuple_SET_ITEM(%c, 1, %x);', 'if (PyList_SetItem(%c, 0, %x) < 0)', 'if (PyTuple_SetItem(%c, 1, %x) < 0)'];
export const USES = ['(void)PyObject_Hash(%x);', 'if (PyObject_IsTrue(%x) < 0)', 'PyErr_SetObject(PyExc_KeyError, %x);'];

// ---------------------------------------------------------------------------
// Generator (fast-check)
// ---------------------------------------------------------------------------

const MAX_STATEMENTS = 18;
const MAX_DEPTH = 3;

/** Opaque int conditions only (kind 4, a call, is the singleton oracle's). */
const condArb: fc.Arbitrary<Cond> = fc.record({ kind: fc.nat(3), a: fc.nat(5), b: fc.nat(5) });
const vArb = fc.nat(2);

function simpleArb(): fc.Arbitrary<RStmt> {
  return fc.oneof(
    { arbitrary: fc.record({ k: fc.constant('alloc' as const), v: vArb, fn: fc.nat(ALLOCS.length - 1), check: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 3 }) }), weight: 8 },
    { arbitrary: fc.record({ k: fc.constant('borrow' as const), v: vArb, fn: fc.nat(BORROWS.length - 1), check: fc.nat(3) }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('alias' as const), v: vArb, from: vArb }), weight: 2 },
    { arbitrary: fc.record({ k: fc.constant('setref' as const), v: vArb, from: vArb, form: fc.nat(2) }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('errcheck' as const), form: fc.nat(1) }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('decl' as const), fn: fc.nat(ALLOCS.length - 1), check: fc.nat(2), use: fc.nat(3), into: vArb }), weight: 2 },
    { arbitrary: fc.record({ k: fc.constant('incref' as const), v: vArb, form: fc.nat(1) }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('decref' as const), v: vArb, form: fc.nat(2) }), weight: 5 },
    { arbitrary: fc.record({ k: fc.constant('steal' as const), v: vArb, into: vArb, form: fc.nat(STEALS.length - 1) }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('append' as const), v: vArb, into: vArb, form: fc.nat(1) }), weight: 2 },
    { arbitrary: fc.record({ k: fc.constant('use' as const), v: vArb, form: fc.nat(USES.length - 1) }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('discard' as const), fn: fc.nat(ALLOCS.length - 1) }), weight: 1 },
    { arbitrary: fc.constant({ k: 'param' as const }), weight: 1 },
    { arbitrary: fc.constant({ k: 'goto' as const }), weight: 2 },
    { arbitrary: fc.record({ k: fc.constant('return' as const), what: fc.nat(4), v: vArb }), weight: 3 },
  );
}

const treeArb = fc.letrec<{ stmt: RStmt; block: RStmt[] }>((tie) => ({
  stmt: fc.oneof(
    { maxDepth: MAX_DEPTH, depthIdentifier: 'rstmt', depthSize: 'small' },
    { arbitrary: simpleArb(), weight: 10 },
    { arbitrary: fc.record({ k: fc.constant('if' as const), c: condArb, then: tie('block'), else: fc.option(tie('block'), { nil: undefined }) }), weight: 3 },
    {
      arbitrary: fc.record({ k: fc.constant('ifnull' as const), v: vArb, neg: fc.boolean(), form: fc.nat(1), then: tie('block'), else: fc.option(tie('block'), { nil: undefined }) }),
      weight: 2,
    },
  ),
  block: fc.array(tie('stmt'), { maxLength: 4, depthIdentifier: 'rstmt' }),
}));

/** The raw material of a program, before `resolve`. */
export interface RawProgram {
  nv: number;
  body: RStmt[];
  final: RStmt;
  cleanup: Array<{ v: number; form: number }>;
}

export const rawProgramArb: fc.Arbitrary<RawProgram> = fc.record({
  nv: fc.integer({ min: 1, max: 3 }),
  body: fc.array(treeArb.stmt, { minLength: 1, maxLength: 8 }),
  final: fc.record({ k: fc.constant('return' as const), what: fc.nat(4), v: vArb }),
  cleanup: fc.array(fc.record({ v: vArb, form: fc.oneof({ arbitrary: fc.constant(1), weight: 4 }, { arbitrary: fc.constant(2), weight: 1 }) }), { maxLength: 3 }),
});

/** Random programs, resolved and bounded in size. */
export const refsProgramArb: fc.Arbitrary<RProgram> = rawProgramArb.map((r) => resolve(r));

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** The statement lists directly inside a statement. */
export function childLists(s: RStmt): RStmt[][] {
  if (s.k === 'if' || s.k === 'ifnull') return s.else ? [s.then, s.else] : [s.then];
  return [];
}

export function walk(list: RStmt[], f: (s: RStmt) => void): void {
  for (const s of list) {
    f(s);
    for (const l of childLists(s)) walk(l, f);
  }
}

/** Whether a statement may jump to `error:`. */
function jumps(s: RStmt): boolean {
  return s.k === 'goto' || ((s.k === 'alloc' || s.k === 'borrow' || s.k === 'decl') && (s.check === 1 || s.check === 3)) || (s.k === 'errcheck' && s.form === 0) || (s.k === 'steal' && s.form >= 2) || (s.k === 'append' && s.form === 1) || (s.k === 'use' && s.form === 1);
}

/**
 * Makes raw material a valid program: at most MAX_STATEMENTS statements, locals in range,
 * a steal or append between two different locals (with one local, a use instead), the final
 * return, the cleanup block (only when something jumps to it), every statement numbered.
 */
export function resolve(raw: RawProgram): RProgram {
  const nv = Math.min(3, Math.max(1, raw.nv));
  let budget = MAX_STATEMENTS;
  const fix = (list: RStmt[], depth: number): RStmt[] => {
    const out: RStmt[] = [];
    for (const s0 of list) {
      if (s0.synth) continue;
      if (budget <= 0) break;
      if (depth >= MAX_DEPTH && childLists(s0).length) continue;
      budget--;
      const s = clone(s0);
      delete s.id;
      if ('v' in s) s.v %= nv;
      if (s.k === 'decl') s.into %= nv;
      if (s.k === 'steal' || s.k === 'append') {
        s.into %= nv;
        if (s.into === s.v) {
          if (nv === 1) {
            out.push({ k: 'use', v: s.v, form: 0 });
            continue;
          }
          s.into = (s.v + 1) % nv;
        }
      }
      if (s.k === 'alias' || (s.k === 'setref' && s.form !== 2)) {
        s.from %= nv;
        if (s.from === s.v) {
          if (nv === 1) continue;
          s.from = (s.v + 1) % nv;
        }
      }
      if (s.k === 'if' || s.k === 'ifnull') {
        s.then = fix(s.then, depth + 1);
        if (s.else) s.else = fix(s.else, depth + 1);
      }
      out.push(s);
    }
    return out;
  };
  const body = fix(raw.body, 0);
  const final = clone(raw.final);
  if ('v' in final) final.v %= nv;
  body.push({ ...final, synth: true });
  let usesError = false;
  walk(body, (s) => {
    if (jumps(s)) usesError = true;
  });
  const cleanup: RStmt[] = [];
  if (usesError) {
    for (const c of raw.cleanup) cleanup.push({ k: 'decref', v: c.v % nv, form: c.form });
    cleanup.push({ k: 'return', what: 1, v: 0 });
  }
  let id = 0;
  let slot = nv + 2;
  walk(body, (s) => {
    s.id = id++;
    if (s.k === 'decl') s.slot = slot++;
  });
  walk(cleanup, (s) => {
    s.id = id++;
  });
  return { nv, body, cleanup, usesError };
}

// ---------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------

/** The rendered file, and the 1-based line of each statement (by id) and of the exit of a tested one (`${id}:exit`). */
export interface Rendered {
  source: string;
  lineOf: Map<string, number>;
}

/** Renders a program as a complete C file: `f` and a PyMethodDef table registering it (METH_O). */
export function renderRefs(p: RProgram): Rendered {
  const lines: string[] = ['#include <Python.h>', '', 'static PyObject *', 'f(PyObject *self, PyObject *arg)', '{'];
  for (let i = 0; i < p.nv; i++) lines.push(`    PyObject *${LOCALS[i]} = NULL;`);
  lines.push('    long n = PyLong_AsLong(arg);', '    int c0 = n & 1, c1 = n & 2, c2 = n & 4;', '    int c3 = n & 8, c4 = n & 16, c5 = n & 32;', '');
  const lineOf = new Map<string, number>();
  const emit = (ind: string, text: string, key?: string) => {
    lines.push(ind + text);
    if (key !== undefined && !lineOf.has(key)) lineOf.set(key, lines.length);
  };
  const name = (v: number) => LOCALS[v];
  /** The exit of a test: `goto error;` or `return NULL;`, on its own line. */
  const exit = (ind: string, s: RStmt, ret: boolean) => emit(ind + '    ', ret ? 'return NULL;' : 'goto error;', `${s.id}:exit`);
  const list = (stmts: RStmt[], ind: string) => stmts.forEach((s) => stmt(s, ind));
  const stmt = (s: RStmt, ind: string): void => {
    const id = `${s.id}`;
    switch (s.k) {
      case 'alloc':
      case 'borrow': {
        const call = s.k === 'alloc' ? ALLOCS[s.fn].replace('%k', String(s.id)) : BORROWS[s.fn];
        if (s.check === 3) emit(ind, `if ((${name(s.v)} = ${call}) == NULL)`, id);
        else emit(ind, `${name(s.v)} = ${call};`, id);
        if (s.check === 1 || s.check === 2) emit(ind, s.check === 1 ? `if (${name(s.v)} == NULL)` : `if (!${name(s.v)})`);
        if (s.check) exit(ind, s, s.check === 2);
        return;
      }
      case 'incref':
        return emit(ind, `${s.form ? 'Py_XINCREF' : 'Py_INCREF'}(${name(s.v)});`, id);
      case 'decref':
        return emit(ind, `${['Py_DECREF', 'Py_XDECREF', 'Py_CLEAR'][s.form]}(${name(s.v)});`, id);
      case 'steal':
        emit(ind, STEALS[s.form].replace('%c', name(s.into)).replace('%x', name(s.v)), id);
        if (s.form >= 2) exit(ind, s, false);
        return;
      case 'append':
        emit(ind, s.form ? `if (PyList_Append(${name(s.into)}, ${name(s.v)}) < 0)` : `PyList_Append(${name(s.into)}, ${name(s.v)});`, id);
        if (s.form) exit(ind, s, false);
        return;
      case 'use':
        emit(ind, USES[s.form].replace('%x', name(s.v)), id);
        if (s.form === 1) exit(ind, s, false);
        return;
      case 'discard':
        return emit(ind, `${ALLOCS[s.fn].replace('%k', String(s.id))};`, id);
      case 'param':
        return emit(ind, 'Py_DECREF(arg);', id);
      case 'alias':
        return emit(ind, `${name(s.v)} = ${name(s.from)};`, id);
      case 'setref':
        return emit(ind, s.form === 2 ? `Py_XSETREF(${name(s.v)}, PyLong_FromLong(${s.id}));` : `${s.form ? 'Py_XSETREF' : 'Py_SETREF'}(${name(s.v)}, ${name(s.from)});`, id);
      case 'decl': {
        const t = `t${s.id}`;
        emit(ind, `PyObject *${t} = ${ALLOCS[s.fn].replace('%k', String(s.id))};`, id);
        if (s.check) {
          emit(ind, s.check === 1 ? `if (${t} == NULL)` : `if (!${t})`);
          exit(ind, s, s.check === 2);
        }
        if (s.use === 1) emit(ind, `Py_DECREF(${t});`, `${id}:u1`);
        if (s.use === 2) {
          emit(ind, `PyList_Append(${name(s.into)}, ${t});`, `${id}:u1`);
          emit(ind, `Py_DECREF(${t});`, `${id}:u2`);
        }
        if (s.use === 3) emit(ind, `PyList_SetItem(${name(s.into)}, 0, ${t});`, `${id}:u1`);
        return;
      }
      case 'errcheck':
        emit(ind, 'if (PyErr_Occurred())', id);
        exit(ind, s, s.form === 1);
        return;
      case 'goto':
        return emit(ind, 'goto error;', id);
      case 'return':
        switch (s.what) {
          case 0:
            return emit(ind, `return ${name(s.v)};`, id);
          case 1:
            return emit(ind, 'return NULL;', id);
          case 2:
            return emit(ind, 'Py_RETURN_NONE;', id);
          case 3:
            return emit(ind, `return Py_NewRef(${name(s.v)});`, id);
          default:
            return emit(ind, 'return arg;', id);
        }
      case 'if':
      case 'ifnull': {
        const x = s.k === 'ifnull' ? name(s.v) : '';
        const cond = s.k === 'if' ? condText(s.c) : s.form ? (s.neg ? x : `!${x}`) : `${x} ${s.neg ? '!=' : '=='} NULL`;
        emit(ind, `if (${cond}) {`, id);
        list(s.then, ind + '    ');
        if (s.else) {
          emit(ind, '} else {');
          list(s.else, ind + '    ');
        }
        emit(ind, '}');
        return;
      }
    }
  };
  list(p.body, '    ');
  if (p.usesError) {
    lines.push('error:');
    list(p.cleanup, '    ');
  }
  lines.push('}', '', 'static PyMethodDef methods[] = {', '    {"f", (PyCFunction)f, METH_O, NULL},', '    {NULL, NULL, 0, NULL}', '};', '');
  return { source: lines.join('\n'), lineOf };
}

// ---------------------------------------------------------------------------
// Oracle: explores the paths of the statement tree
// ---------------------------------------------------------------------------

export const REF_RULES = ['owned-reference-leak', 'release-not-owned', 'use-after-release', 'borrowed-reference-return'] as const;

/** Owned references per object are capped, as in the analysis (MAX_OWNED in references/state.ts). */
export const MAX_OWNED = 3;
const NULLV = -1;
/** Object ids of the parameters (other objects are numbered by their creating statement). */
const SELF = 100000;
const ARG = 100001;

type Status = 'live' | 'released' | 'stolen' | 'escaped';
interface Obj {
  origin: 'new' | 'borrowed' | 'param';
  owned: number;
  nonNull: boolean;
  status: Status;
  /** A stolen object: the container object that took it. */
  holder?: number;
  /** A container keeps its own reference (`PyList_Append`). */
  kept?: boolean;
  /** Made by a call written as another call's argument: when discarded, the file-level form of reference-leak judges it. */
  argument?: boolean;
  /** The call that made it (a new reference). */
  maker?: string;
}
interface St {
  /** By local, then `self` and `arg`: an object id or NULLV. */
  vars: number[];
  objs: Map<number, Obj>;
  /** What branches said of the opaque ints' atoms. */
  f: Map<string, string>;
}

/** The expected findings of one program, as `line:rule` items (see `expectedOf`). */
export interface Verdict {
  /** `line:rule`, one per finding; `line:use-after-release(info)` for information-level ones. */
  findings: string[];
  /** `line:owned-reference-leak(also)` for the further places a reported allocation leaks. */
  also: string[];
  /** Further places that may or may not be listed (an allocation whose finding coincides with another's). */
  optional: string[];
  /** The most path states the oracle held at one point (the analysis gives up past 80). */
  maxStates: number;
}

/** Events keyed by statement key (`id` or `id:exit`). */
interface Events {
  /** By allocation id: the places (statement keys) and how it is lost there. */
  leaks: Map<number, Map<string, 'return' | 'overwritten' | 'discarded'>>;
  unowned: Set<string>;
  /** By statement and local (`at|v`): whether every use there was of an object kept alive by a container. */
  uses: Map<string, boolean>;
  borrowedReturns: Set<string>;
}

const keyOf = (st: St) => `${st.vars.join(',')}|${[...st.objs].map(([id, o]) => `${id}:${o.origin[0]}${o.owned}${o.nonNull ? 'n' : ''}${o.status[0]}${o.holder ?? ''}${o.kept ? 'k' : ''}`).join(';')}|${[...st.f].sort().join(',')}`;

function dedupe(states: St[]): St[] {
  const m = new Map<string, St>();
  for (const s of states) m.set(keyOf(s), s);
  return [...m.values()];
}

/** Runs the oracle: the events of every path, then the findings the rules make of them. */
export function oracleRefs(p: RProgram): { events: Events; maxStates: number } {
  const ev: Events = { leaks: new Map(), unowned: new Set(), uses: new Map(), borrowedReturns: new Set() };
  const nv = p.nv;
  let maxStates = 0;
  // The analysis follows only atoms tested at least twice (no loops here).
  const tested = new Map<string, number>();
  walk([...p.body, ...p.cleanup], (s) => {
    if (s.k === 'if') for (const a of atomsOf(model(s.c), new Set())) tested.set(a, (tested.get(a) ?? 0) + 1);
  });
  const followed = new Set([...tested].filter(([, n]) => n >= 2).map(([a]) => a));

  const obj = (st: St, v: number) => (st.vars[v] >= 0 ? st.objs.get(st.vars[v]) : undefined);
  const setObj = (st: St, id: number, o: Obj | undefined): St => {
    const objs = new Map(st.objs);
    if (o) objs.set(id, o);
    else objs.delete(id);
    return { ...st, objs };
  };
  const leak = (id: number, at: string, how: 'return' | 'overwritten' | 'discarded') => {
    let m = ev.leaks.get(id);
    if (!m) ev.leaks.set(id, (m = new Map()));
    if (!m.has(at)) m.set(at, how);
  };
  const owns = (o: Obj) => o.origin === 'new' && o.owned > 0 && o.status === 'live';
  /** Given to a call that keeps its own reference: alive through it, unless it was freed before (a call does not bring it back). */
  const keep = (o: Obj): Obj => (o.status === 'released' ? o : { ...o, kept: true });
  /** A use of the object local `v` holds: reported when the function released it or gave it away. */
  const use = (st: St, v: number, at: string) => {
    const o = obj(st, v);
    if (!o || (o.status !== 'released' && o.status !== 'stolen')) return;
    const h = o.holder !== undefined ? st.objs.get(o.holder) : undefined;
    const disputed = (o.status === 'stolen' && !!h && h.status === 'live' && (h.owned > 0 || h.nonNull)) || !!o.kept;
    // One finding per statement and local (the rule groups uses so).
    const k = `${at}|${v}`;
    ev.uses.set(k, (ev.uses.get(k) ?? true) && disputed);
  };
  /** Objects no local holds any more are lost here (a container holding a stolen object included: it is lost with it). */
  const collect = (st: St, at: string, how: 'overwritten' | 'discarded'): St => {
    let s = st;
    for (const [id, o] of st.objs) {
      if (s.vars.includes(id)) continue;
      if (owns(o) && !(how === 'discarded' && o.argument)) leak(id, at, how);
      s = setObj(s, id, undefined);
    }
    return s;
  };
  /** `x = <object id>`: the previous object is lost if no other local holds it. */
  const bind = (st: St, v: number, id: number, at: string): St => {
    const vars = st.vars.slice();
    vars[v] = id;
    return collect({ ...st, vars }, at, 'overwritten');
  };
  const incref = (st: St, v: number): St => {
    const o = obj(st, v);
    if (!o || o.status === 'escaped') return st;
    return setObj(st, st.vars[v], { ...o, owned: Math.min(MAX_OWNED, o.owned + 1), status: 'live', holder: undefined });
  };
  /** A release (or, `steal`, a stealing call) of the reference local `v` holds. */
  const release = (st: St, v: number, at: string): St => releaseObj(st, st.vars[v], at);
  /** A release of a reference to object `id` (NULLV: nothing). */
  const releaseObj = (st: St, id: number, at: string): St => {
    const o = id >= 0 ? st.objs.get(id) : undefined;
    if (!o || o.status === 'escaped') return st;
    if (o.owned > 0) {
      const owned = o.owned - 1;
      return setObj(st, id, { ...o, owned, status: owned === 0 && o.origin === 'new' ? 'released' : o.status });
    }
    ev.unowned.add(at);
    return setObj(st, id, { ...o, status: 'escaped' });
  };
  const steal = (st: St, v: number, into: number, at: string): St => {
    const o = obj(st, v);
    if (!o || o.status === 'escaped') return st;
    if (o.owned === 0) return release(st, v, at);
    const owned = o.owned - 1;
    const holder = st.vars[into] >= 0 ? st.vars[into] : undefined;
    return setObj(st, st.vars[v], owned > 0 ? { ...o, owned } : { ...o, owned, status: 'stolen', holder });
  };
  /** The states along a NULL test of local `v` (`isNull`: the side where it is NULL). */
  const nullTest = (st: St, v: number, isNull: boolean): St[] => {
    const id = st.vars[v];
    if (id === NULLV) return isNull ? [st] : [];
    const o = st.objs.get(id)!;
    if (isNull) {
      if (o.nonNull) return [];
      // NULL: the call failed, there is no object.
      const s = setObj(st, id, undefined);
      return [{ ...s, vars: s.vars.map((x) => (x === id ? NULLV : x)) }];
    }
    return [o.nonNull ? st : setObj(st, id, { ...o, nonNull: true })];
  };
  const along = (c: Cond, holds: boolean, st: St): St[] => {
    const m = model(c);
    const v = evalModel(m, st.f);
    if (v !== undefined && v !== holds) return [];
    return [{ ...st, f: refineModel(m, holds, st.f, followed) }];
  };
  /** A return: the returned reference goes to the caller; every other owned one is lost here. */
  const ret = (st0: St, s: RStmt & { k: 'return' }, at = `${s.id}`): void => {
    let st = st0;
    const v = s.what === 0 || s.what === 3 ? s.v : s.what === 4 ? nv + 1 : undefined;
    if (s.what === 3) {
      use(st, s.v, at);
      st = incref(st, s.v);
    }
    const o = v !== undefined ? obj(st, v) : undefined;
    if (o) {
      if (o.status === 'released' || o.status === 'stolen') use(st, v!, at);
      else if (o.status === 'live' && o.owned === 0) {
        ev.borrowedReturns.add(at);
        st = setObj(st, st.vars[v!], { ...o, status: 'escaped' });
      } else if (o.status === 'live') st = setObj(st, st.vars[v!], { ...o, owned: o.owned - 1 });
    }
    for (const [id, x] of st.objs) if (owns(x)) leak(id, at, 'return');
  };

  const errorStates: St[] = [];
  /** Where a tested statement leaves: `goto error` or `return NULL`. */
  const leave = (st: St, s: RStmt, viaReturn: boolean) => {
    if (!viaReturn) errorStates.push(st);
    else ret(st, { k: 'return', what: 1, v: 0, id: s.id }, `${s.id}:exit`);
  };
  /** Runs a statement list on a set of states; returns the states falling off its end. */
  const run = (list: RStmt[], states0: St[]): St[] => {
    let states = states0;
    for (const s of list) {
      states = dedupe(states);
      maxStates = Math.max(maxStates, states.length);
      if (!states.length) break;
      states = states.flatMap((st) => step(s, st));
    }
    return states;
  };
  const step = (s: RStmt, st: St): St[] => {
    const at = `${s.id}`;
    switch (s.k) {
      case 'alloc':
      case 'borrow': {
        const id = s.id!;
        const o: Obj = s.k === 'alloc' ? { origin: 'new', owned: 1, nonNull: false, status: 'live', maker: ALLOCS[s.fn].split('(')[0] } : { origin: 'borrowed', owned: 0, nonNull: NEVER_NULL.includes(s.fn), status: 'live' };
        const after = bind(setObj(st, id, o), s.v, id, at);
        if (!s.check) return [after];
        for (const x of nullTest(after, s.v, true)) leave(x, s, s.check === 2);
        return nullTest(after, s.v, false);
      }
      case 'incref':
        use(st, s.v, at);
        return [incref(st, s.v)];
      case 'decref': {
        let next = release(st, s.v, at);
        if (s.form === 2) next = { ...next, vars: next.vars.map((x, i) => (i === s.v ? NULLV : x)) };
        return [collect(next, at, 'discarded')];
      }
      case 'steal': {
        use(st, s.into, at);
        const next = steal(st, s.v, s.into, at);
        // The tested forms fail (and `goto error`) unless the container is one this function made with the matching
        // call, tested not NULL and holds alone: `PyList_SetItem` into such a list cannot fail (the index is in range).
        const c = obj(next, s.into);
        const fresh = c !== undefined && c.status === 'live' && c.owned === 1 && !c.kept && c.nonNull && c.maker === (s.form === 2 ? 'PyList_New' : 'PyTuple_New');
        if (s.form >= 2 && !fresh) leave(next, s, false);
        return [next];
      }
      case 'append': {
        use(st, s.into, at);
        use(st, s.v, at);
        const o = obj(st, s.v);
        const next = o ? setObj(st, st.vars[s.v], keep(o)) : st;
        if (s.form) leave(next, s, false);
        return [next];
      }
      case 'use': {
        use(st, s.v, at);
        // `PyErr_SetObject` keeps its own reference to the value.
        const o = obj(st, s.v);
        const next = o && s.form === 2 ? setObj(st, st.vars[s.v], keep(o)) : st;
        if (s.form === 1) leave(next, s, false);
        return [next];
      }
      case 'discard': {
        leak(s.id!, at, 'discarded');
        return [st];
      }
      case 'param':
        return [release(st, nv + 1, at)];
      case 'alias':
        return [bind(st, s.v, st.vars[s.from], at)];
      case 'setref': {
        // `Py_SETREF(x, y)`: x = y, then the old value is released (and the old object lost if nothing holds it).
        let next = st;
        let value = st.vars[s.from];
        if (s.form === 2) {
          value = s.id!;
          next = setObj(next, value, { origin: 'new', owned: 1, nonNull: false, status: 'live', argument: true });
        }
        const old = next.vars[s.v];
        next = { ...next, vars: next.vars.map((x, i) => (i === s.v ? value : x)) };
        return [collect(releaseObj(next, old, at), at, 'discarded')];
      }
      case 'decl': {
        const v = s.slot!;
        let next = bind(setObj(st, s.id!, { origin: 'new', owned: 1, nonNull: false, status: 'live' }), v, s.id!, at);
        if (s.check) {
          for (const x of nullTest(next, v, true)) leave(x, s, s.check === 2);
          const on = nullTest(next, v, false);
          if (!on.length) return [];
          next = on[0];
        }
        if (s.use === 1) next = collect(release(next, v, `${at}:u1`), `${at}:u1`, 'discarded');
        if (s.use === 2) {
          use(next, s.into, `${at}:u1`);
          use(next, v, `${at}:u1`);
          const o = obj(next, v);
          if (o) next = setObj(next, next.vars[v], keep(o));
          next = collect(release(next, v, `${at}:u2`), `${at}:u2`, 'discarded');
        }
        if (s.use === 3) {
          use(next, s.into, `${at}:u1`);
          next = steal(next, v, s.into, `${at}:u1`);
        }
        return [next];
      }
      case 'errcheck': {
        // Along the error edge, what may be NULL (except the parameters) is taken to be NULL.
        let e = st;
        for (const [id, o] of st.objs) {
          if (o.nonNull || o.origin === 'param') continue;
          e = setObj(e, id, undefined);
          e = { ...e, vars: e.vars.map((x) => (x === id ? NULLV : x)) };
        }
        leave(e, s, s.form === 1);
        return [st];
      }
      case 'goto':
        errorStates.push(st);
        return [];
      case 'return':
        ret(st, s);
        return [];
      case 'if':
        return [...run(s.then, along(s.c, true, st)), ...run(s.else ?? [], along(s.c, false, st))];
      case 'ifnull':
        return [...run(s.then, nullTest(st, s.v, !s.neg)), ...run(s.else ?? [], nullTest(st, s.v, s.neg))];
    }
  };

  let slots = nv + 2;
  walk(p.body, (s) => {
    if (s.k === 'decl') slots = Math.max(slots, s.slot! + 1);
  });
  const vars = new Array(nv).fill(NULLV).concat([SELF, ARG], new Array(slots - nv - 2).fill(NULLV));
  const param: Obj = { origin: 'param', owned: 0, nonNull: false, status: 'live' };
  const initial: St = { vars, objs: new Map([[SELF, param], [ARG, param]]), f: new Map() };
  const fell = run(p.body, [initial]);
  if (fell.length) throw new Error('the body falls off its end (generator bug)');
  if (errorStates.length) run(p.cleanup, errorStates);
  return { events: ev, maxStates };
}

/** The findings the rules make of the oracle's events, with lines. */
export function expectedOf(p: RProgram, lineOf: Map<string, number>): Verdict {
  const { events, maxStates } = oracleRefs(p);
  const line = (key: string) => {
    const l = lineOf.get(key);
    if (l === undefined) throw new Error(`no line for statement ${key}`);
    return l;
  };
  const findings = new Set<string>();
  const also = new Set<string>();
  const optional = new Set<string>();
  // One finding per allocation, at the first place it is lost (a discarded result at its call).
  const reported = [...events.leaks].map(([site, places]) => {
    const sorted = [...places].map(([at, how]) => ({ l: line(at), how })).sort((x, y) => x.l - y.l);
    const first = sorted[0];
    return { at: first.how === 'discarded' ? line(`${site}`) : first.l, rest: sorted.slice(1).map((x) => x.l).filter((l) => l !== first.l) };
  });
  for (const r of reported) {
    findings.add(`${r.at}:owned-reference-leak`);
    // A finding is reported once per place: of two allocations first lost at the same line, only
    // one finding (and its further places) is shown, and which one is the analysis' order.
    const shared = reported.filter((x) => x.at === r.at).length > 1;
    for (const l of r.rest) (shared ? optional : also).add(`${l}:owned-reference-leak(also)`);
  }
  for (const at of events.unowned) findings.add(`${line(at)}:release-not-owned`);
  for (const [k, disputed] of events.uses) findings.add(`${line(k.slice(0, k.lastIndexOf('|')))}:use-after-release${disputed ? '(info)' : ''}`);
  for (const at of events.borrowedReturns) findings.add(`${line(at)}:borrowed-reference-return`);
  return { findings: [...findings].sort(), also: [...also].sort(), optional: [...optional].filter((x) => !also.has(x)).sort(), maxStates };
}

// ---------------------------------------------------------------------------
// Comparison with the tool
// ---------------------------------------------------------------------------

export interface RefsCheckResult {
  source: string;
  expected: string[];
  actual: string[];
  agree: boolean;
  parseError: boolean;
  /** The analysis gave the function up (over its bound of path states). */
  skipped: boolean;
  maxStates: number;
}

/** Renders `p`, runs the oracle and the tool (the four reference rules), and compares findings and the further leak places. */
export async function checkRefsProgram(p: RProgram): Promise<RefsCheckResult> {
  const { source, lineOf } = renderRefs(p);
  const parser = await loadParser();
  const tree = parser.for('c').parse(source);
  const parseError = tree.rootNode.hasError;
  tree.delete();
  const v = expectedOf(p, lineOf);
  const expected = [...v.findings, ...v.also].sort();
  const options = defaultOptions();
  const r = analyzeText(parser, { path: 'oracle.c', text: source, options, rules: new Set(REF_RULES) });
  const index = new ProjectIndex();
  index.set(indexFile('oracle.c', source));
  const findings = resolveFindings(r, index.factsFor('oracle.c'), options);
  const lines = new LineIndex(source);
  const lineAt = (off: number) => lines.position(off).line + 1;
  const actualSet = new Set<string>();
  for (const f of findings) {
    if (!(REF_RULES as readonly string[]).includes(f.rule)) continue;
    const info = f.rule === 'use-after-release' && f.severity === 'information' ? '(info)' : '';
    actualSet.add(`${lineAt(f.start)}:${f.rule}${info}`);
    if (f.rule === 'owned-reference-leak') for (const x of f.related) if (x.message === 'it also leaks here' && lineAt(x.start) !== lineAt(f.start)) actualSet.add(`${lineAt(x.start)}:owned-reference-leak(also)`);
  }
  // Further places the oracle leaves open are compared only when the analysis lists them.
  const actual = [...actualSet].filter((a) => !v.optional.includes(a)).sort();
  const skipped = r.skippedFunctions.length > 0;
  const agree = !parseError && !skipped && expected.length === actual.length && expected.every((e, i) => e === actual[i]);
  return { source, expected, actual, agree, parseError, skipped, maxStates: v.maxStates };
}

export function describeRefsMismatch(r: RefsCheckResult): string {
  const head = r.parseError ? 'the generated source does not parse cleanly (generator bug)' : r.skipped ? 'the analysis gave the function up' : 'the analysis disagrees with the oracle';
  return mismatchReport(head, r, [`(at most ${r.maxStates} path states at one point in the oracle)`]);
}

// ---------------------------------------------------------------------------
// Minimisation of a disagreement
// ---------------------------------------------------------------------------

/** Every list one edit smaller: a statement removed, an if replaced by one of its bodies, an else dropped, a check removed. */
function smaller(list: RStmt[]): RStmt[][] {
  const out: RStmt[][] = [];
  list.forEach((s, i) => {
    if (s.synth) return;
    const before = list.slice(0, i);
    const after = list.slice(i + 1);
    out.push([...before, ...after]);
    for (const l of childLists(s)) out.push([...before, ...l, ...after]);
    if (s.k === 'if' || s.k === 'ifnull') {
      if (s.else) out.push([...before, { ...clone(s), else: undefined }, ...after]);
      for (const v of smaller(s.then)) out.push([...before, { ...clone(s), then: v }, ...after]);
      if (s.else) for (const v of smaller(s.else)) out.push([...before, { ...clone(s), else: v }, ...after]);
    }
    if ((s.k === 'alloc' || s.k === 'borrow') && s.check) out.push([...before, { ...clone(s), check: 0 }, ...after]);
  });
  return out;
}

/** The raw material of a resolved program (for re-resolving a smaller one). */
export function rawOf(p: RProgram): RawProgram {
  const body = p.body.filter((s) => !s.synth);
  const final = p.body[p.body.length - 1];
  return { nv: p.nv, body: clone(body), final: clone(final), cleanup: p.cleanup.filter((s): s is RStmt & { k: 'decref' } => s.k === 'decref').map((s) => ({ v: s.v, form: s.form })) };
}

/** Greedily shrinks a disagreeing program (statements, branches, cleanup, locals) while it still disagrees. */
export async function minimizeRefs(p: RProgram, fails: (q: RProgram) => Promise<boolean> = async (q) => !(await checkRefsProgram(q)).agree): Promise<RProgram> {
  let cur = p;
  for (let progress = true; progress; ) {
    progress = false;
    const raw = rawOf(cur);
    const candidates: RawProgram[] = smaller(raw.body).map((body) => ({ ...raw, body }));
    raw.cleanup.forEach((_, j) => candidates.push({ ...raw, cleanup: raw.cleanup.filter((__, k) => k !== j) }));
    if (raw.final.k === 'return' && raw.final.what !== 1) candidates.push({ ...raw, final: { ...raw.final, what: 1 } });
    for (const c of candidates) {
      const q = resolve(clone(c));
      if (await fails(q)) {
        cur = q;
        progress = true;
        break;
      }
    }
  }
  return cur;
}
