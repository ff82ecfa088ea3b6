/**
 * An oracle for the ownership analysis: a generator of small C functions with random
 * control flow and random increfs, decrefs, steals and singleton returns, a renderer to
 * C, and an independent computation of the expected findings by exploring the paths of
 * the generated statement tree (not the tool's CFG).
 *
 * Used by oracle.test.ts (a fixed seed, in `npm test`) and scripts/oracle-long.ts
 * (`npm run oracle -- --runs 10000 [--seed S]`).
 */
import fc from 'fast-check';
import { LineIndex } from '../../src/core/text';
import { analyzeFixture, loadParser } from '../helpers/engine';
import { defaultOptions } from '../../src/core/options';

// ---------------------------------------------------------------------------
// The statement tree
// ---------------------------------------------------------------------------

/** 0 = Py_None, 1 = Py_True. */
export type Sing = 0 | 1;

/** An opaque condition over the parameters-derived ints `c0..c5` (never a comparison with a singleton). */
export interface Cond {
  kind: number;
  a: number;
  b: number;
}

/** `#if` / `#elif` condition kinds: `zero` is `#if 0` (dead); every other kind is an alternative. */
export type PpCond = 'zero' | 'ifdef' | 'ifndef' | 'if' | 'defined';

export interface PpBranch {
  cond: PpCond;
  flag: number;
  body: Stmt[];
}

export interface Case {
  isDefault: boolean;
  /** The case ends with `break;` (appended as a statement by `resolve`). */
  brk: boolean;
  body: Stmt[];
  /** Set by `resolve`: the case value, or 'default'. */
  value?: number | 'default';
}

/** Loop kinds: `forever` is `for (;;)` (left only by break/goto/return), `once` is `do { } while (0)`. */
export type LoopKind = 'while' | 'for' | 'do' | 'forever' | 'once';

export type Stmt = (
  | { k: 'incref'; s: Sing; form: number; spell: number }
  | { k: 'decref'; s: Sing; form: number; spell: number }
  | { k: 'steal'; s: Sing; form: number; spell: number; newref: boolean }
  /** s === null: `return NULL;`. form 0 `return S;`, 1 `return Py_NewRef(S);`, 2 the return macro. */
  | { k: 'return'; s: Sing | null; form: number; spell: number }
  | { k: 'noreturn'; form: number }
  | { k: 'neutral'; form: number }
  | { k: 'if'; c: Cond; then: Stmt[]; else?: Stmt[]; braces: boolean }
  | { k: 'switch'; c: Cond; cases: Case[] }
  | { k: 'loop'; kind: LoopKind; c: Cond; body: Stmt[]; braces: boolean }
  | { k: 'break' }
  | { k: 'continue' }
  | { k: 'goto'; target: number; name?: string }
  | { k: 'label'; name?: string }
  | { k: 'pp'; branches: PpBranch[]; else?: Stmt[] }
  | { k: 'block'; body: Stmt[] }
  // C++ only (see `Mode`):
  /** `for (auto &x : items)` and other range-for heads (RANGE_FORS). */
  | { k: 'rangefor'; form: number; body: Stmt[]; braces: boolean }
  /** `try { body } catch (...) { ... } ...`. */
  | { k: 'try'; body: Stmt[]; handlers: Handler[] }
  /** `throw ...;` (THROWS; form 3, `throw;`, only inside a handler). */
  | { k: 'throw'; form: number }
  /** A local lambda that is never called: `ret` gives it `-> PyObject *` (its returns are checked), else it returns nothing. */
  | { k: 'lambda'; form: number; ret: boolean; body: Stmt[]; name?: string }
  /** `return;` in a lambda returning nothing. */
  | { k: 'vreturn' }
) & {
  id?: number;
  /** Added by `resolve` (a case's break, the exit of `for (;;)`, `done:`, the final `return NULL;`). */
  synth?: boolean;
};

/** A `catch` clause: `form` indexes CATCHES (the last, `catch (...)`, only as the last clause). */
export interface Handler {
  form: number;
  body: Stmt[];
}

/** The language generated: C, or C++ (`.cpp`, with range-for, try/catch/throw, lambdas and C++ spellings). */
export type Mode = 'c' | 'cpp';

/** A resolved program: every statement has an id, labels have names, gotos have targets. */
export interface Program {
  body: Stmt[];
  /** 'c' when absent. */
  mode?: Mode;
  /** C++: how `f` is wrapped (WRAPS): nothing, a namespace, `extern "C"`, an anonymous namespace. */
  wrap?: number;
}

/** C++ range-for heads (`items` is a `std::vector<PyObject *>`, `v` a `std::vector<int>`). */
export const RANGE_FORS = ['for (auto &x : items)', 'for (int x : v)', 'for (PyObject *item : items)', 'for (const auto &n : v)'];
/** C++ catch clauses; the last catches everything and is only generated as the last clause. */
export const CATCHES = ['catch (const std::exception &e)', 'catch (const std::exception &)', 'catch (std::bad_alloc &)', 'catch (...)'];
/** C++ throws; the last, a rethrow, only inside a handler. The first two construct the exception with a call. */
export const THROWS = ['throw std::runtime_error("oracle");', 'throw std::bad_alloc();', 'throw 1;', 'throw;'];
/** C++: what `f` is wrapped in (the table registers it by its qualified name). */
export const WRAPS = ['', 'namespace oracle', 'extern "C"', 'namespace'];
/** The lambda form that is an expression statement, `(void)[&]() { ... };`, not a named local. */
const UNNAMED_LAMBDA = 2;

// ---------------------------------------------------------------------------
// Generator (fast-check)
// ---------------------------------------------------------------------------

const MAX_STATEMENTS = 25;
const MAX_DEPTH = 4;

const singArb: fc.Arbitrary<Sing> = fc.oneof({ arbitrary: fc.constant(0 as Sing), weight: 3 }, { arbitrary: fc.constant(1 as Sing), weight: 2 });
/** 0 is the plain name; 1..3 casts and struct spellings (C++: 4..5, the C++ casts). */
const spellArb = fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 2 });
const spellArbCpp = fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 3 });
const condArb: fc.Arbitrary<Cond> = fc.record({ kind: fc.nat(4), a: fc.nat(5), b: fc.nat(5) });

/** The simple statements; C++ adds `throw`. */
function simpleArbOf(mode: Mode): fc.Arbitrary<Stmt> {
  const spell = mode === 'cpp' ? spellArbCpp : spellArb;
  const alternatives: Array<fc.WeightedArbitrary<Stmt>> = [
    { arbitrary: fc.record({ k: fc.constant('incref' as const), s: singArb, form: fc.nat(2), spell }), weight: 8 },
    { arbitrary: fc.record({ k: fc.constant('decref' as const), s: singArb, form: fc.nat(2), spell }), weight: 4 },
    {
      arbitrary: fc.record({
        k: fc.constant('steal' as const),
        s: singArb,
        form: fc.nat(3),
        spell,
        newref: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 }),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        k: fc.constant('return' as const),
        s: fc.oneof({ arbitrary: singArb as fc.Arbitrary<Sing | null>, weight: 4 }, { arbitrary: fc.constant(null), weight: 1 }),
        form: fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.integer({ min: 1, max: 2 }), weight: 1 }),
        spell,
      }),
      weight: 5,
    },
    { arbitrary: fc.record({ k: fc.constant('noreturn' as const), form: fc.nat(3) }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('neutral' as const), form: fc.nat(2) }), weight: 1 },
    { arbitrary: fc.constant({ k: 'break' as const }), weight: 2 },
    { arbitrary: fc.constant({ k: 'continue' as const }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constant('goto' as const), target: fc.nat(5) }), weight: 2 },
    { arbitrary: fc.constant({ k: 'label' as const }), weight: 2 },
  ];
  if (mode === 'cpp') alternatives.push({ arbitrary: fc.record({ k: fc.constant('throw' as const), form: fc.nat(3) }), weight: 2 });
  return fc.oneof(...alternatives);
}

const ppCondArb: fc.Arbitrary<PpCond> = fc.constantFrom('zero', 'ifdef', 'ifndef', 'if', 'defined');

/** Statement trees; C++ adds range-for, try/catch and lambdas. */
function treeOf(mode: Mode) {
  return fc.letrec<{ stmt: Stmt; block: Stmt[] }>((tie) => {
    const alternatives: Array<fc.WeightedArbitrary<Stmt>> = [
      // The first alternative is what the generator falls back to at the maximal depth.
      { arbitrary: simpleArbOf(mode), weight: 10 },
      { arbitrary: fc.record({ k: fc.constant('if' as const), c: condArb, then: tie('block'), else: fc.option(tie('block'), { nil: undefined }), braces: fc.boolean() }), weight: 4 },
      {
        arbitrary: fc.record({
          k: fc.constant('switch' as const),
          c: condArb,
          cases: fc.array(fc.record({ isDefault: fc.boolean(), brk: fc.boolean(), body: tie('block') }), { minLength: 1, maxLength: 4, depthIdentifier: 'stmt' }),
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({
          k: fc.constant('loop' as const),
          kind: fc.oneof(
            { arbitrary: fc.constantFrom<LoopKind>('while', 'for', 'do'), weight: 6 },
            { arbitrary: fc.constantFrom<LoopKind>('forever', 'once'), weight: 2 },
          ),
          c: condArb,
          body: tie('block'),
          braces: fc.boolean(),
        }),
        weight: 3,
      },
      {
        arbitrary: fc.record({
          k: fc.constant('pp' as const),
          branches: fc.array(fc.record({ cond: ppCondArb, flag: fc.nat(3), body: tie('block') }), { minLength: 1, maxLength: 2, depthIdentifier: 'stmt' }),
          else: fc.option(tie('block'), { nil: undefined }),
        }),
        weight: 2,
      },
      { arbitrary: fc.record({ k: fc.constant('block' as const), body: tie('block') }), weight: 1 },
    ];
    if (mode === 'cpp')
      alternatives.push(
        { arbitrary: fc.record({ k: fc.constant('rangefor' as const), form: fc.nat(RANGE_FORS.length - 1), body: tie('block'), braces: fc.boolean() }), weight: 3 },
        {
          arbitrary: fc.record({
            k: fc.constant('try' as const),
            body: tie('block'),
            handlers: fc.array(fc.record({ form: fc.nat(CATCHES.length - 1), body: tie('block') }), { minLength: 1, maxLength: 2, depthIdentifier: 'stmt' }),
          }),
          weight: 3,
        },
        {
          arbitrary: fc.record({
            k: fc.constant('lambda' as const),
            form: fc.nat(2),
            ret: fc.oneof({ arbitrary: fc.constant(false), weight: 2 }, { arbitrary: fc.constant(true), weight: 1 }),
            body: tie('block'),
          }),
          weight: 2,
        },
      );
    return {
      stmt: fc.oneof({ maxDepth: MAX_DEPTH, depthIdentifier: 'stmt', depthSize: 'small' }, ...alternatives),
      block: fc.array(tie('stmt'), { maxLength: 4, depthIdentifier: 'stmt' }),
    };
  });
}

/** Random programs, resolved (ids, labels, valid break/continue) and bounded in size. */
export const programArb: fc.Arbitrary<Program> = fc.array(treeOf('c').stmt, { minLength: 1, maxLength: 8 }).map((raw) => resolve(raw));

/** Random C++ programs: C++ statements and spellings, `f` wrapped in a namespace or `extern "C"` or not. */
export const cppProgramArb: fc.Arbitrary<Program> = fc
  .tuple(fc.array(treeOf('cpp').stmt, { minLength: 1, maxLength: 8 }), fc.nat(WRAPS.length - 1))
  .map(([raw, wrap]) => resolve(raw, 'cpp', wrap));

/** The generated programs of a mode. */
export function programArbOf(mode: Mode): fc.Arbitrary<Program> {
  return mode === 'cpp' ? cppProgramArb : programArb;
}

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/**
 * Makes a raw tree a valid program: at most MAX_STATEMENTS statements, break/continue
 * only where C allows them, no labels inside `#if` blocks, unique case values, gotos
 * bound to labels (or to `done:` before the final `return NULL;`), every statement
 * numbered.
 *
 * C++: no labels inside range-for bodies, try blocks, handlers and lambdas (a jump into
 * them is ill-formed); no gotos in lambdas; `throw;` only inside a handler and
 * `catch (...)` only as the last clause; a lambda returning nothing has `return;`, one
 * returning `PyObject *` ends with `return nullptr;`; with gotos in the function, lambdas
 * are not named locals (a goto may not jump over an initialised local).
 */
export function resolve(raw: Stmt[], mode: Mode = 'c', wrap?: number): Program {
  let budget = MAX_STATEMENTS;
  /** Keeps the first MAX_STATEMENTS statements (pre-order), and compound statements only down to MAX_DEPTH levels. */
  const prune = (list: Stmt[], depth: number): Stmt[] => {
    const out: Stmt[] = [];
    for (const s of list) {
      // Statements added by an earlier resolve are added again below.
      if (s.synth) continue;
      if (budget <= 0) break;
      if (depth >= MAX_DEPTH && childLists(s).length) continue;
      budget--;
      const t = clone(s);
      switch (t.k) {
        case 'if':
          t.then = prune(t.then, depth + 1);
          if (t.else) t.else = prune(t.else, depth + 1);
          break;
        case 'switch':
          for (const c of t.cases) c.body = prune(c.body, depth + 1);
          break;
        case 'loop':
        case 'block':
        case 'rangefor':
        case 'lambda':
          t.body = prune(t.body, depth + 1);
          break;
        case 'pp':
          for (const b of t.branches) b.body = prune(b.body, depth + 1);
          if (t.else) t.else = prune(t.else, depth + 1);
          break;
        case 'try':
          t.body = prune(t.body, depth + 1);
          for (const h of t.handlers) h.body = prune(h.body, depth + 1);
          break;
      }
      out.push(t);
    }
    return out;
  };
  const body = prune(raw, 0);
  let nextCond = 0;
  const neutral = (): Stmt => ({ k: 'neutral', form: 0 });
  const labels: string[] = [];
  let lambdas = 0;
  interface Ctx {
    loop: boolean;
    breakable: boolean;
    inPp: boolean;
    /** C++: labels are not allowed here (range-for, try, handler, lambda). */
    noLabels?: boolean;
    /** C++: inside a `catch` clause (`throw;` rethrows). */
    handler?: boolean;
    /** C++: inside a lambda: 'void' returns nothing, 'obj' returns `PyObject *`. */
    lambda?: 'void' | 'obj';
    /** C++: directly in a case body (a later case label may not jump over an initialised local). */
    inCase?: boolean;
  }
  const fix = (list: Stmt[], ctx: Ctx): Stmt[] =>
    list.map((s) => {
      switch (s.k) {
        case 'break':
          return ctx.breakable ? s : neutral();
        case 'continue':
          return ctx.loop ? s : neutral();
        case 'label':
          if (ctx.inPp || ctx.noLabels) return neutral();
          s.name = `L${labels.length + 1}`;
          labels.push(s.name);
          return s;
        case 'goto':
          return ctx.lambda ? neutral() : s;
        case 'return':
          return ctx.lambda === 'void' ? { k: 'vreturn' } : s;
        case 'vreturn':
          return ctx.lambda === 'void' ? s : { k: 'return', s: null, form: 0, spell: 0 };
        case 'throw':
          return s.form === 3 && !ctx.handler ? { ...s, form: 0 } : s;
        case 'if':
          s.then = fix(s.then, { ...ctx, inCase: false });
          if (s.else) s.else = fix(s.else, { ...ctx, inCase: false });
          return s;
        case 'block':
          s.body = fix(s.body, { ...ctx, inCase: false });
          return s;
        case 'loop':
          s.body = fix(s.body, { ...ctx, loop: true, breakable: true, inCase: false });
          // A `for (;;)` is left by a break at the end of its body, so code after it stays reachable.
          if (s.kind === 'forever') s.body.push({ k: 'if', c: { kind: 0, a: nextCond++ % 6, b: 0 }, then: [{ k: 'break' }], braces: false, synth: true });
          return s;
        case 'rangefor':
          s.body = fix(s.body, { ...ctx, loop: true, breakable: true, noLabels: true, inCase: false });
          return s;
        case 'try':
          s.body = fix(s.body, { ...ctx, noLabels: true, inCase: false });
          s.handlers.forEach((h, j) => {
            if (h.form === CATCHES.length - 1 && j < s.handlers.length - 1) h.form = 0;
            h.body = fix(h.body, { ...ctx, noLabels: true, handler: true, inCase: false });
          });
          return s;
        case 'lambda': {
          s.name = `f${++lambdas}`;
          if (ctx.inCase) s.form = UNNAMED_LAMBDA;
          const kind = s.ret ? 'obj' : 'void';
          s.body = fix(s.body, { loop: false, breakable: false, inPp: false, noLabels: true, lambda: kind });
          if (s.ret) s.body.push({ k: 'return', s: null, form: 0, spell: 0, synth: true });
          return s;
        }
        case 'switch': {
          let sawDefault = false;
          let value = 0;
          for (const c of s.cases) {
            if (c.isDefault && !sawDefault) {
              sawDefault = true;
              c.value = 'default';
            } else {
              c.isDefault = false;
              c.value = value++;
            }
            c.body = fix(c.body, { ...ctx, breakable: true, inCase: true });
            if (c.brk) c.body.push({ k: 'break', synth: true });
          }
          return s;
        }
        case 'pp':
          s.branches.forEach((b, i) => {
            // `#elifdef` is C23: an `#elif` uses an expression.
            if (i > 0 && (b.cond === 'ifdef' || b.cond === 'ifndef')) b.cond = 'defined';
            b.body = fix(b.body, { ...ctx, inPp: true });
          });
          if (s.else) s.else = fix(s.else, { ...ctx, inPp: true });
          return s;
        default:
          return s;
      }
    });
  const fixed = fix(body, { loop: false, breakable: false, inPp: false });
  let usesDone = false;
  let gotos = false;
  const bindGotos = (list: Stmt[]) =>
    walk(list, (s) => {
      if (s.k !== 'goto') return;
      gotos = true;
      const i = s.target % (labels.length + 1);
      s.name = i < labels.length ? labels[i] : 'done';
      if (i >= labels.length) usesDone = true;
    });
  bindGotos(fixed);
  if (gotos) walk(fixed, (s) => s.k === 'lambda' && (s.form = UNNAMED_LAMBDA));
  if (usesDone) fixed.push({ k: 'label', name: 'done', synth: true });
  fixed.push({ k: 'return', s: null, form: 0, spell: 0, synth: true });
  let id = 0;
  walk(fixed, (s) => {
    s.id = id++;
  });
  return mode === 'c' ? { body: fixed } : { body: fixed, mode, wrap: wrap ?? 0 };
}

/** The statement lists directly inside a statement. */
export function childLists(s: Stmt): Stmt[][] {
  switch (s.k) {
    case 'if':
      return s.else ? [s.then, s.else] : [s.then];
    case 'switch':
      return s.cases.map((c) => c.body);
    case 'loop':
    case 'block':
    case 'rangefor':
    case 'lambda':
      return [s.body];
    case 'pp':
      return [...s.branches.map((b) => b.body), ...(s.else ? [s.else] : [])];
    case 'try':
      return [s.body, ...s.handlers.map((h) => h.body)];
    default:
      return [];
  }
}

/** Visits every statement in pre-order. */
export function walk(list: Stmt[], f: (s: Stmt) => void): void {
  for (const s of list) {
    f(s);
    for (const l of childLists(s)) walk(l, f);
  }
}

// ---------------------------------------------------------------------------
// Renderer
// ---------------------------------------------------------------------------

const SPELLINGS: string[][] = [
  ['Py_None', '(PyObject *)Py_None', '&_Py_NoneStruct', '_PyObject_CAST(Py_None)', 'static_cast<PyObject *>(Py_None)', 'reinterpret_cast<PyObject *>(&_Py_NoneStruct)'],
  ['Py_True', '(PyObject *)Py_True', '((PyObject *)&_Py_TrueStruct)', '_PyObject_CAST(Py_True)', 'static_cast<PyObject *>(Py_True)', 'reinterpret_cast<PyObject *>(&_Py_TrueStruct)'],
];
const INCREFS = ['Py_INCREF', 'Py_XINCREF', 'Py_IncRef'];
const DECREFS = ['Py_DECREF', 'Py_XDECREF', 'Py_DecRef'];
const STEALS = ['PyTuple_SET_ITEM(t, 0, %)', 'PyList_SET_ITEM(l, 0, %)', 'PyTuple_SetItem(t, 1, %)', 'PyList_SetItem(l, 0, %)'];
const NORETURNS = ['Py_FatalError("unreachable");', 'abort();', 'exit(1);', 'Py_UNREACHABLE();'];
const NEUTRALS = ['PyErr_Clear();', 'i++;', '(void)PyObject_Length(args);'];
const RETURN_MACROS = ['Py_RETURN_NONE;', 'Py_RETURN_TRUE;'];

export function condText(c: Cond): string {
  switch (c.kind) {
    case 0:
      return `c${c.a}`;
    case 1:
      return `!c${c.a}`;
    case 2:
      return `c${c.a} && c${c.b}`;
    case 3:
      return `c${c.a} > ${c.b}`;
    default:
      return `more(args, ${c.a})`;
  }
}

/** What a `#if` branch tests, as the tool reads it (`defined FLAGk` for the defined-tests); negated for `#ifndef`. */
function ppAtom(b: PpBranch): { atom: string; negated: boolean } | undefined {
  const flag = `FLAG${b.flag}`;
  if (b.cond === 'zero') return undefined;
  if (b.cond === 'if') return { atom: `#${flag}`, negated: false };
  return { atom: `#defined ${flag}`, negated: b.cond === 'ifndef' };
}

function ppModel(b: PpBranch): Model | undefined {
  const a = ppAtom(b);
  if (!a) return undefined;
  const atom: Model = { k: 'atom', atom: a.atom };
  return a.negated ? { k: 'not', a: atom } : atom;
}

function ppDirective(b: PpBranch, first: boolean): string {
  const flag = `FLAG${b.flag}`;
  const kw = first ? '#if' : '#elif';
  switch (b.cond) {
    case 'zero':
      return `${kw} 0`;
    case 'ifdef':
      return `#ifdef ${flag}`;
    case 'ifndef':
      return `#ifndef ${flag}`;
    case 'if':
      return `${kw} ${flag}`;
    default:
      return `${kw} defined(${flag})`;
  }
}

/** A statement that can be an unbraced body. */
function isSimple(s: Stmt): boolean {
  return ['incref', 'decref', 'steal', 'return', 'noreturn', 'neutral', 'break', 'continue', 'goto', 'throw', 'vreturn'].includes(s.k);
}

/** The rendered function and the 1-based line of each statement (by id). */
export interface Rendered {
  source: string;
  lineOf: Map<number, number>;
}

/** The lines of a lambda's head: a named local or an expression statement; `-> PyObject *` when it returns an object. */
function lambdaHead(s: Stmt & { k: 'lambda' }): string {
  const sig = s.ret ? (s.form === 1 ? '() noexcept -> PyObject *' : '() -> PyObject *') : s.form === 1 ? '' : '()';
  const lambda = `[&]${sig} {`;
  return s.form === UNNAMED_LAMBDA ? `(void)${lambda}` : `auto ${s.name} = ${lambda}`;
}

/** Renders a program as a complete C (or C++) file: the function `f` and a PyMethodDef table registering it. */
export function render(p: Program): Rendered {
  const cpp = p.mode === 'cpp';
  const wrap = cpp ? WRAPS[p.wrap ?? 0] : '';
  const lines: string[] = [
    '#include <Python.h>',
    ...(cpp ? ['#include <stdexcept>', '#include <vector>'] : []),
    '',
    'int more(PyObject *args, int k);',
    '',
    ...(wrap ? [`${wrap} {`] : []),
    'static PyObject *',
    'f(PyObject *self, PyObject *args)',
    '{',
    '    PyObject *t = PyTuple_New(2);',
    '    PyObject *l = PyList_New(1);',
    '    int c0 = more(args, 0), c1 = more(args, 1), c2 = more(args, 2);',
    '    int c3 = more(args, 3), c4 = more(args, 4), c5 = more(args, 5);',
    '    Py_ssize_t i = 0;',
    ...(cpp ? ['    std::vector<PyObject *> items;', '    std::vector<int> v{1, 2, 3};'] : []),
    '',
  ];
  const lineOf = new Map<number, number>();
  const emit = (ind: string, text: string, s?: Stmt) => {
    lines.push(text.startsWith('#') ? text : ind + text);
    if (s && s.id !== undefined && !lineOf.has(s.id)) lineOf.set(s.id, lines.length);
  };
  const sing = (s: Sing, spell: number) => SPELLINGS[s][spell];
  const list = (stmts: Stmt[], ind: string) => {
    stmts.forEach((s, i) => stmt(s, ind, stmts[i + 1]));
  };
  /** A loop body: unbraced when asked and it is one simple statement. */
  const body = (stmts: Stmt[], ind: string, braces: boolean, head: string, owner: Stmt) => {
    if (!braces && stmts.length === 1 && isSimple(stmts[0])) {
      emit(ind, head, owner);
      stmt(stmts[0], ind + '    ', undefined);
      return;
    }
    emit(ind, head + ' {', owner);
    list(stmts, ind + '    ');
    emit(ind, '}');
  };
  const stmt = (s: Stmt, ind: string, next: Stmt | undefined): void => {
    switch (s.k) {
      case 'incref':
        return emit(ind, `${INCREFS[s.form % 3]}(${sing(s.s, s.spell)});`, s);
      case 'decref':
        return emit(ind, `${DECREFS[s.form % 3]}(${sing(s.s, s.spell)});`, s);
      case 'steal': {
        const arg = s.newref ? `Py_NewRef(${sing(s.s, s.spell)})` : sing(s.s, s.spell);
        return emit(ind, STEALS[s.form % 4].replace('%', arg) + ';', s);
      }
      case 'return':
        if (s.s === null) return emit(ind, cpp && s.spell === 0 ? 'return nullptr;' : 'return NULL;', s);
        if (s.form === 1) return emit(ind, `return Py_NewRef(${sing(s.s, s.spell)});`, s);
        if (s.form === 2) return emit(ind, RETURN_MACROS[s.s], s);
        return emit(ind, `return ${sing(s.s, s.spell)};`, s);
      case 'noreturn':
        return emit(ind, NORETURNS[s.form % 4], s);
      case 'neutral':
        return emit(ind, NEUTRALS[s.form % 3], s);
      case 'break':
        return emit(ind, 'break;', s);
      case 'continue':
        return emit(ind, 'continue;', s);
      case 'goto':
        return emit(ind, `goto ${s.name};`, s);
      case 'label':
        // A label needs a statement after it: an empty one before `#if`, another label, a `}` or a case.
        if (next && next.k !== 'pp' && next.k !== 'label') emit(ind.slice(4), `${s.name}:`, s);
        else emit(ind.slice(4), `${s.name}: ;`, s);
        return;
      case 'if': {
        const unbraced = (b: Stmt[]) => !s.braces && b.length === 1 && isSimple(b[0]);
        const head = `if (${condText(s.c)})`;
        if (unbraced(s.then)) {
          emit(ind, head, s);
          stmt(s.then[0], ind + '    ', undefined);
        } else {
          emit(ind, head + ' {', s);
          list(s.then, ind + '    ');
        }
        const closer = unbraced(s.then) ? '' : '} ';
        if (!s.else) {
          if (closer) emit(ind, '}');
          return;
        }
        if (!s.braces && s.else.length === 1 && s.else[0].k === 'if') {
          // `else if (...)`: the nested if is rendered in place, on the same line as the else.
          const mark = lines.length;
          stmt(s.else[0], ind, undefined);
          lines[mark] = ind + closer + 'else ' + lines[mark].trimStart();
          return;
        }
        if (unbraced(s.else)) {
          emit(ind, closer + 'else');
          stmt(s.else[0], ind + '    ', undefined);
          return;
        }
        emit(ind, closer + 'else {');
        list(s.else, ind + '    ');
        emit(ind, '}');
        return;
      }
      case 'switch':
        emit(ind, `switch (${condText(s.c)}) {`, s);
        s.cases.forEach((c, j) => {
          emit(ind, c.value === 'default' ? 'default:' : `case ${c.value}:`);
          list(c.body, ind + '    ');
          // A label needs a statement: an empty one when the last case has none.
          if (j === s.cases.length - 1 && !c.body.length) emit(ind + '    ', ';');
        });
        emit(ind, '}');
        return;
      case 'loop':
        switch (s.kind) {
          case 'while':
            body(s.body, ind, s.braces, `while (${condText(s.c)})`, s);
            return;
          case 'for':
            body(s.body, ind, s.braces, `for (i = 0; i < c${s.c.a}; i++)`, s);
            return;
          case 'forever':
            body(s.body, ind, s.braces, 'for (;;)', s);
            return;
          case 'do':
          case 'once':
            emit(ind, 'do {', s);
            list(s.body, ind + '    ');
            emit(ind, `} while (${s.kind === 'once' ? '0' : condText(s.c)});`);
            return;
        }
        return;
      case 'pp':
        s.branches.forEach((b, i) => {
          emit(ind, ppDirective(b, i === 0), i === 0 ? s : undefined);
          list(b.body, ind);
        });
        if (s.else) {
          emit(ind, '#else');
          list(s.else, ind);
        }
        emit(ind, '#endif');
        return;
      case 'block':
        emit(ind, '{', s);
        list(s.body, ind + '    ');
        emit(ind, '}');
        return;
      case 'vreturn':
        return emit(ind, 'return;', s);
      case 'throw':
        return emit(ind, THROWS[s.form % THROWS.length], s);
      case 'rangefor':
        body(s.body, ind, s.braces, RANGE_FORS[s.form % RANGE_FORS.length], s);
        return;
      case 'try':
        emit(ind, 'try {', s);
        list(s.body, ind + '    ');
        for (const h of s.handlers) {
          emit(ind, `} ${CATCHES[h.form % CATCHES.length]} {`);
          list(h.body, ind + '    ');
        }
        emit(ind, '}');
        return;
      case 'lambda':
        emit(ind, lambdaHead(s), s);
        list(s.body, ind + '    ');
        emit(ind, '};');
        return;
    }
  };
  list(p.body, '    ');
  if (cpp) {
    const name = wrap === 'namespace oracle' ? 'oracle::f' : 'f';
    lines.push('}', ...(wrap ? ['}'] : []), '', 'static PyMethodDef methods[] = {', `    {"f", (PyCFunction)${name}, METH_VARARGS, nullptr},`, '    {nullptr, nullptr, 0, nullptr}', '};', '');
    return { source: lines.join('\n'), lineOf };
  }
  lines.push(
    '}',
    '',
    'static PyMethodDef methods[] = {',
    '    {"f", (PyCFunction)f, METH_VARARGS, NULL},',
    '    {NULL, NULL, 0, NULL}',
    '};',
    '',
  );
  return { source: lines.join('\n'), lineOf };
}

// ---------------------------------------------------------------------------
// Oracle: explores the paths of the statement tree
// ---------------------------------------------------------------------------

/** The rule ids the oracle predicts. */
export const ORACLE_RULES = ['borrowed-singleton-return', 'singleton-decref', 'borrowed-singleton-steal'] as const;
export type OracleRule = (typeof ORACLE_RULES)[number];

/** Owned references per singleton are capped, as in the tool's model (SPEC §2; ownership.ts). */
export const MAX_OWNED = 8;
/** Open steal debts on one path are capped, as in the tool's model. */
export const MAX_DEBTS = 8;

/** A path's state: owned counts, open steal debts (in source order), and what branches said of the conditions' atoms. */
interface PState {
  o: number[];
  /** Steal statement ids whose borrowed singleton no incref has repaid yet, with the singleton. */
  d: Array<[number, Sing]>;
  /** atom -> 'T' | 'F' | '=K'. */
  f: Map<string, string>;
}

/** What a generated condition is, for feasibility: an atom (`c3`, or the opaque `(c1>2)`), a negation, a conjunction, or unknown. */
export type Model = { k: 'atom'; atom: string } | { k: 'not'; a: Model } | { k: 'and'; a: Model; b: Model } | { k: 'unknown' };

export function model(c: Cond): Model {
  switch (c.kind) {
    case 0:
      return { k: 'atom', atom: `c${c.a}` };
    case 1:
      return { k: 'not', a: { k: 'atom', atom: `c${c.a}` } };
    case 2:
      return { k: 'and', a: { k: 'atom', atom: `c${c.a}` }, b: { k: 'atom', atom: `c${c.b}` } };
    case 3:
      return { k: 'atom', atom: `(c${c.a}>${c.b})` };
    default:
      return { k: 'unknown' };
  }
}

export function atomsOf(m: Model, out: Set<string>): Set<string> {
  if (m.k === 'atom') out.add(m.atom);
  else if (m.k === 'not') atomsOf(m.a, out);
  else if (m.k === 'and') {
    atomsOf(m.a, out);
    atomsOf(m.b, out);
  }
  return out;
}

export function evalModel(m: Model, f: Map<string, string>): boolean | undefined {
  switch (m.k) {
    case 'atom': {
      const v = f.get(m.atom);
      return v === undefined ? undefined : v === 'T' ? true : v === 'F' ? false : v !== '=0';
    }
    case 'not': {
      const v = evalModel(m.a, f);
      return v === undefined ? undefined : !v;
    }
    case 'and': {
      const a = evalModel(m.a, f);
      const b = evalModel(m.b, f);
      return a === false || b === false ? false : a === true && b === true ? true : undefined;
    }
    case 'unknown':
      return undefined;
  }
}

export function refineModel(m: Model, holds: boolean, f: Map<string, string>, followed: Set<string>): Map<string, string> {
  switch (m.k) {
    case 'atom': {
      if (!followed.has(m.atom) || f.get(m.atom)?.startsWith('=')) return f;
      return new Map(f).set(m.atom, holds ? 'T' : 'F');
    }
    case 'not':
      return refineModel(m.a, !holds, f, followed);
    case 'and':
      return holds ? refineModel(m.b, true, refineModel(m.a, true, f, followed), followed) : f;
    case 'unknown':
      return f;
  }
}

/** A point between statements: before `list[i]` (i === length: the list is done), a loop's condition, or the function's end. */
type Point = { list: Stmt[]; i: number } | { head: Stmt & { k: 'loop' | 'rangefor' } } | { tryEnd: Stmt & { k: 'try' } } | { end: true };

/** A verdict: a statement (by id) that some path reaches without owning the singleton. */
export interface Expected {
  rule: OracleRule;
  id: number;
}

/**
 * The findings a path-sensitive analysis must report: every `return S;`, decref of S and
 * steal of S that some path reaches with no owned reference to S. Paths are explored
 * from the function's entry over the statement tree (C semantics: if/else, switch with
 * fall-through, loops of 0..n iterations, break/continue, goto, `#if 0` dead, other
 * `#if` branches alternatives, never-returning calls ending the path), one state per
 * path: the owned count of each singleton. Loops run any number of times: a point
 * already visited with the same counts is not explored again, which (the counts being
 * bounded) is exactly the set of states of all paths.
 */
export function oracle(p: Program): Expected[] {
  const flagged = new Map<string, Expected>();
  const flag = (rule: OracleRule, s: Stmt | number) => {
    const id = typeof s === 'number' ? s : s.id!;
    flagged.set(`${rule}:${id}`, { rule, id });
  };
  explore(p.body, { returns: true, shared: false }, flag);
  // C++: a lambda is a function of its own; what it captures (`[&]`) a call may change. One in `#if 0` is not there.
  const lambdas = (list: Stmt[]) => {
    for (const s of list) {
      if (s.k === 'lambda') explore(s.body, { returns: s.ret, shared: true }, flag);
      if (s.k === 'pp') {
        for (const b of s.branches) if (b.cond !== 'zero') lambdas(b.body);
        if (s.else) lambdas(s.else);
      } else for (const l of childLists(s)) lambdas(l);
    }
  };
  lambdas(p.body);
  return [...flagged.values()];
}

/**
 * Explores the paths of one function body, reporting through `flag`. `returns`: the
 * function returns an object (its returns of singletons are judged). `shared`: the
 * conditions' variables are not the function's locals (a lambda's captures), so what a
 * path knows of them is forgotten at every call (not at reference-count operations).
 */
function explore(body: Stmt[], opts: { returns: boolean; shared: boolean }, flag: (rule: OracleRule, s: Stmt | number) => void): void {
  const listAfter = new Map<Stmt[], Point>();
  const posOf = new Map<Stmt, { list: Stmt[]; i: number }>();
  const breakTo = new Map<Stmt, Point>();
  const continueTo = new Map<Stmt, Point>();
  const labelAt = new Map<string, Point>();
  const listId = new Map<Stmt[], number>();
  /** C++: the `try` whose handlers a throw reaches (none: the throw leaves the function). */
  const throwTo = new Map<Stmt, Stmt & { k: 'try' }>();
  /** C++: the innermost `try` around a statement (a handler's statements: the enclosing one). */
  const tryOf = new Map<Stmt, Stmt & { k: 'try' }>();

  const structure = (list: Stmt[], after: Point, brk: Point | undefined, cont: Point | undefined, tryAt?: Stmt & { k: 'try' }) => {
    listAfter.set(list, after);
    listId.set(list, listId.size);
    list.forEach((s, i) => {
      posOf.set(s, { list, i });
      if (tryAt) tryOf.set(s, tryAt);
      const next: Point = { list, i: i + 1 };
      switch (s.k) {
        case 'if':
          structure(s.then, next, brk, cont, tryAt);
          if (s.else) structure(s.else, next, brk, cont, tryAt);
          break;
        case 'block':
          structure(s.body, next, brk, cont, tryAt);
          break;
        case 'pp':
          for (const b of s.branches) structure(b.body, next, brk, cont, tryAt);
          if (s.else) structure(s.else, next, brk, cont, tryAt);
          break;
        case 'loop':
        case 'rangefor':
          structure(s.body, { head: s }, next, { head: s }, tryAt);
          break;
        case 'switch':
          s.cases.forEach((c, j) => {
            // Fall-through: the end of a case body runs into the next case's body.
            const fall: Point = j + 1 < s.cases.length ? { list: s.cases[j + 1].body, i: 0 } : next;
            structure(c.body, fall, next, cont, tryAt);
          });
          break;
        case 'try':
          // The end of the body goes on after the statement.
          structure(s.body, { tryEnd: s }, brk, cont, s);
          // A throw in a handler goes to the enclosing try.
          for (const h of s.handlers) structure(h.body, next, brk, cont, tryAt);
          break;
        case 'throw':
          if (tryAt) throwTo.set(s, tryAt);
          break;
        case 'break':
          if (!brk) throw new Error('break outside a loop or switch');
          breakTo.set(s, brk);
          break;
        case 'continue':
          if (!cont) throw new Error('continue outside a loop');
          continueTo.set(s, cont);
          break;
        case 'label':
          labelAt.set(s.name!, { list, i });
          break;
      }
    });
  };
  structure(body, { end: true }, undefined, undefined);

  const inc = (st: PState, s: Sing): PState => ({ ...st, o: st.o.map((v, k) => (k === s ? Math.min(MAX_OWNED, v + 1) : v)) });
  const dec = (st: PState, s: Sing): PState => ({ ...st, o: st.o.map((v, k) => (k === s ? Math.max(0, v - 1) : v)) });
  /** A path leaves the function (or releases the singleton) with these steals unrepaid. */
  const flagDebts = (st: PState, only?: Sing) => {
    for (const [id, s] of st.d) if (only === undefined || s === only) flag('borrowed-singleton-steal', id);
  };
  const afterStmt = (s: Stmt): Point => {
    const at = posOf.get(s)!;
    return { list: at.list, i: at.i + 1 };
  };
  // The tool follows only atoms tested at least twice (conditions of if, while, do and switch;
  // a test inside a loop counts twice; `#if 0` code is not there).
  const tested = new Map<string, number>();
  const countConds = (list: Stmt[], loop: boolean) => {
    for (const s of list) {
      const cond = s.k === 'if' || s.k === 'switch' || (s.k === 'loop' && (s.kind === 'while' || s.kind === 'do')) ? s.c : undefined;
      const times = loop || s.k === 'loop' ? 2 : 1;
      if (cond) for (const a of atomsOf(model(cond), new Set())) tested.set(a, (tested.get(a) ?? 0) + times);
      if (s.k === 'if') {
        countConds(s.then, loop);
        if (s.else) countConds(s.else, loop);
      } else if (s.k === 'block') countConds(s.body, loop);
      else if (s.k === 'loop' || s.k === 'rangefor') countConds(s.body, true);
      else if (s.k === 'switch') for (const c of s.cases) countConds(c.body, loop);
      else if (s.k === 'try') {
        countConds(s.body, loop);
        for (const h of s.handlers) countConds(h.body, loop);
      }
      else if (s.k === 'pp') {
        // (A preprocessor condition is one test however often it runs: nothing changes it.)
        for (const b of s.branches) {
          const pa = ppAtom(b);
          if (pa) tested.set(pa.atom, (tested.get(pa.atom) ?? 0) + 1);
        }
        for (const b of s.branches) if (b.cond !== 'zero') countConds(b.body, loop);
        if (s.else) countConds(s.else, loop);
      }
    }
  };
  countConds(body, false);
  const followed = new Set([...tested].filter(([, n]) => n >= 2).map(([a]) => a));
  /** After a call: in a lambda, what the path knew of the captured variables is forgotten (not preprocessor conditions). */
  const called = (st: PState): PState => (opts.shared && st.f.size ? { ...st, f: new Map([...st.f].filter(([a]) => a.startsWith('#'))) } : st);
  /** The state along an edge where `m` holds (or not), or nothing when what the path knows contradicts it. */
  const alongModel = (m: Model, holds: boolean, st: PState): PState[] => {
    const v = evalModel(m, st.f);
    if (v !== undefined && v !== holds) return [];
    return [{ ...st, f: refineModel(m, holds, st.f, followed) }];
  };
  /** The state along a condition's edge, or nothing when what the path knows contradicts it. */
  const along = (c: Cond, holds: boolean, st0: PState): PState[] => {
    // `more(args, k)` is a call, made before the branch.
    const st = c.kind === 4 ? called(st0) : st0;
    const m = model(c);
    const v = evalModel(m, st.f);
    if (v !== undefined && v !== holds) return [];
    return [{ ...st, f: refineModel(m, holds, st.f, followed) }];
  };

  /**
   * C++: the handlers of the innermost try around `s`, reached with the state before it when
   * what `s` evaluates there may throw: a call beyond the C API (`more(...)`, `abort()`,
   * `exit(1)`, a thrown exception's constructor), as the tool decides from the text.
   */
  const mayThrowTo = (s: Stmt, st: PState, atHead = false): Array<[Point, PState]> => {
    const t = tryOf.get(s);
    if (!t) return [];
    const throws =
      (s.k === 'noreturn' && (s.form % 4 === 1 || s.form % 4 === 2)) ||
      (s.k === 'throw' && s.form % THROWS.length < 2) ||
      (s.k === 'if' && s.c.kind === 4) ||
      (s.k === 'switch' && s.c.kind === 4) ||
      (s.k === 'loop' && atHead && (s.kind === 'while' || s.kind === 'do') && s.c.kind === 4);
    return throws ? t.handlers.map((h) => [{ list: h.body, i: 0 }, st] as [Point, PState]) : [];
  };

  const step = (pt: Point, st: PState): Array<[Point, PState]> => [...mayThrowAt(pt, st), ...stepInner(pt, st)];
  const mayThrowAt = (pt: Point, st: PState): Array<[Point, PState]> => {
    if ('head' in pt) return mayThrowTo(pt.head, st, true);
    if ('end' in pt || 'tryEnd' in pt || pt.i >= pt.list.length) return [];
    return mayThrowTo(pt.list[pt.i], st);
  };

  const stepInner = (pt: Point, st: PState): Array<[Point, PState]> => {
    if ('end' in pt) {
      flagDebts(st);
      return [];
    }
    if ('head' in pt) {
      const loop = pt.head;
      const enter: Point = { list: loop.body, i: 0 };
      const leave = afterStmt(loop);
      // A range-for runs its body zero or more times.
      if (loop.k === 'rangefor') return [
        [enter, st],
        [leave, st],
      ];
      if (loop.kind === 'forever') return [[enter, st]];
      if (loop.kind === 'once') return [[leave, st]];
      // `for (i = 0; i < cN; i++)`: the test's atom mentions i, which every iteration writes.
      if (loop.kind === 'for') return [
        [enter, st],
        [leave, st],
      ];
      return [...along(loop.c, true, st).map((x) => [enter, x] as [Point, PState]), ...along(loop.c, false, st).map((x) => [leave, x] as [Point, PState])];
    }
    if ('tryEnd' in pt) {
      // The end of a try block: on after the statement (a handler is reached only by what may throw).
      return [[afterStmt(pt.tryEnd), st]];
    }
    const { list, i } = pt;
    if (i >= list.length) return [[listAfter.get(list)!, st]];
    const s = list[i];
    const next: Point = { list, i: i + 1 };
    switch (s.k) {
      case 'incref': {
        // An incref repays the unrepaid steal of that singleton earliest in the source, else adds a reference.
        const j = st.d.findIndex(([, x]) => x === s.s);
        return [[next, j >= 0 ? { ...st, d: st.d.filter((_, k) => k !== j) } : inc(st, s.s)]];
      }
      case 'decref':
        if (st.o[s.s] === 0) {
          flag('singleton-decref', s);
          // A release with steals of that singleton unrepaid reports them and closes them.
          if (st.d.some(([, x]) => x === s.s)) {
            flagDebts(st, s.s);
            return [[next, { ...st, d: st.d.filter(([, x]) => x !== s.s) }]];
          }
        }
        return [[next, dec(st, s.s)]];
      case 'steal': {
        const before = s.newref ? inc(st, s.s) : st;
        if (before.o[s.s] > 0) return [[next, called(dec(before, s.s))]];
        // Open debts are a multiset, kept in source order (the tool's order too).
        const d = [...before.d, [s.id!, s.s] as [number, Sing]].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        return [[next, called(before.d.length < MAX_DEBTS ? { ...before, d } : before)]];
      }
      case 'return':
        if (opts.returns && s.s !== null && s.form === 0 && st.o[s.s] === 0) flag('borrowed-singleton-return', s);
        flagDebts(st);
        return [];
      case 'vreturn':
        flagDebts(st);
        return [];
      case 'noreturn':
        return [];
      case 'neutral':
        // `PyErr_Clear();` and `(void)PyObject_Length(args);` are calls; `i++;` is not.
        return [[next, s.form % 3 === 1 ? st : called(st)]];
      case 'label':
      case 'lambda':
        return [[next, st]];
      case 'throw': {
        // To the handlers of the innermost enclosing try; outside any, the path leaves the function without a return.
        const t = throwTo.get(s);
        const after = s.form % THROWS.length < 2 ? called(st) : st;
        return t ? t.handlers.map((h) => [{ list: h.body, i: 0 }, after] as [Point, PState]) : [];
      }
      case 'rangefor':
        return [[{ head: s }, st]];
      case 'try':
        return [[{ list: s.body, i: 0 }, st]];
      case 'goto':
        return [[labelAt.get(s.name!)!, st]];
      case 'break':
        return [[breakTo.get(s)!, st]];
      case 'continue':
        return [[continueTo.get(s)!, st]];
      case 'block':
        return [[{ list: s.body, i: 0 }, st]];
      case 'if':
        return [
          ...along(s.c, true, st).map((x) => [{ list: s.then, i: 0 }, x] as [Point, PState]),
          ...along(s.c, false, st).map((x) => [s.else ? { list: s.else, i: 0 } : next, x] as [Point, PState]),
        ];
      case 'switch': {
        const m = model(s.c);
        const out: Array<[Point, PState]> = [];
        if (s.c.kind === 4) st = called(st);
        for (const c of s.cases) {
          if (c.value === 'default' || m.k !== 'atom' || s.c.kind !== 0) {
            out.push([{ list: c.body, i: 0 }, st]);
            continue;
          }
          // `switch (cN)` taking `case K:` says cN == K.
          const known = st.f.get(m.atom);
          const k = c.value!;
          if (known !== undefined && (known.startsWith('=') ? known !== `=${k}` : known === 'F' ? k !== 0 : k === 0)) continue;
          out.push([{ list: c.body, i: 0 }, followed.has(m.atom) ? { ...st, f: new Map(st.f).set(m.atom, `=${k}`) } : st]);
        }
        if (!s.cases.some((c) => c.value === 'default')) out.push([next, st]);
        return out;
      }
      case 'loop':
        if (s.kind === 'do' || s.kind === 'once') return [[{ list: s.body, i: 0 }, st]];
        return [[{ head: s }, st]];
      case 'pp': {
        // Blocks under the same condition are compiled together: a branch is entered with the
        // earlier ones' conditions false and its own true; the rest with all of them false.
        const out: Array<[Point, PState]> = [];
        let rest: PState | undefined = st;
        for (const b of s.branches) {
          if (!rest) break;
          if (b.cond === 'zero') continue;
          const m = ppModel(b);
          const [inside] = m ? alongModel(m, true, rest) : [rest];
          if (inside) out.push([{ list: b.body, i: 0 }, inside]);
          rest = m ? alongModel(m, false, rest)[0] : rest;
        }
        if (rest) out.push([s.else ? { list: s.else, i: 0 } : next, rest]);
        return out;
      }
    }
  };

  const keyOf = (pt: Point, st: PState) =>
    ('end' in pt ? 'end' : 'head' in pt ? `h${pt.head.id}` : 'tryEnd' in pt ? `t${pt.tryEnd.id}` : `${listId.get(pt.list)}:${pt.i}`) +
    `|${st.o.join(',')}|${st.d.map(([id, s]) => `${id}:${s}`).join(',')}|${[...st.f].sort().join(',')}`;
  const seen = new Set<string>();
  const work: Array<[Point, PState]> = [[{ list: body, i: 0 }, { o: [0, 0], d: [], f: new Map() }]];
  while (work.length) {
    const [pt, st] = work.pop()!;
    const k = keyOf(pt, st);
    if (seen.has(k)) continue;
    seen.add(k);
    for (const n of step(pt, st)) work.push(n);
  }
}

// ---------------------------------------------------------------------------
// Comparison with the tool
// ---------------------------------------------------------------------------

/** The outcome of checking one program. */
export interface CheckResult {
  source: string;
  /** `line:rule` items, sorted. */
  expected: string[];
  actual: string[];
  agree: boolean;
  /** The source has tree-sitter ERROR nodes (a generator bug). */
  parseError: boolean;
  /** Number of return/decref/steal statements the oracle judged. */
  checks: number;
}

/** Renders `p`, runs the oracle and the tool (only the three rules), and compares the sets of (line, rule). */
export async function checkProgram(p: Program): Promise<CheckResult> {
  const { source, lineOf } = render(p);
  const cpp = p.mode === 'cpp';
  const parser = await loadParser();
  const tree = parser.for(cpp ? 'cpp' : 'c').parse(source);
  const parseError = tree.rootNode.hasError;
  tree.delete();
  const expected = oracle(p)
    .map((e) => `${lineOf.get(e.id)}:${e.rule}`)
    .sort();
  let checks = 0;
  walk(p.body, (s) => {
    if (s.k === 'decref' || s.k === 'steal' || (s.k === 'return' && s.s !== null)) checks++;
  });
  // The extension says which language the tool parses.
  const findings = await analyzeFixture(cpp ? 'oracle.cpp' : 'oracle.c', source, { rules: [...ORACLE_RULES], options: defaultOptions() });
  const lines = new LineIndex(source);
  const actual = [...new Set(findings.filter((f) => (ORACLE_RULES as readonly string[]).includes(f.rule)).map((f) => `${lines.position(f.start).line + 1}:${f.rule}`))].sort();
  const agree = !parseError && expected.length === actual.length && expected.every((e, i) => e === actual[i]);
  return { source, expected, actual, agree, parseError, checks };
}

/** A readable report of a disagreement: the numbered source and both verdicts. */
export function describeMismatch(r: CheckResult): string {
  return mismatchReport(r.parseError ? 'the generated source does not parse cleanly (generator bug)' : 'the analysis disagrees with the oracle', r);
}

/** A disagreement as text: what was expected and found, the difference, notes, and the numbered source (for both oracles). */
export function mismatchReport(head: string, r: { source: string; expected: string[]; actual: string[] }, notes: string[] = []): string {
  const numbered = r.source
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(3)}  ${l}`)
    .join('\n');
  const missing = r.expected.filter((e) => !r.actual.includes(e));
  const extra = r.actual.filter((a) => !r.expected.includes(a));
  return [
    head,
    `expected (oracle): ${r.expected.join(', ') || '(none)'}`,
    `actual (cpyref):   ${r.actual.join(', ') || '(none)'}`,
    `missed by cpyref:  ${missing.join(', ') || '(none)'}`,
    `extra in cpyref:   ${extra.join(', ') || '(none)'}`,
    ...notes,
    numbered,
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Minimisation of a disagreement
// ---------------------------------------------------------------------------

/** Every program one edit smaller than `list`: a statement removed, a compound replaced by one of its bodies, a case, branch or else dropped. */
function smaller(list: Stmt[]): Stmt[][] {
  const out: Stmt[][] = [];
  list.forEach((s, i) => {
    if (s.synth) return;
    const before = list.slice(0, i);
    const after = list.slice(i + 1);
    out.push([...before, ...after]);
    for (const l of childLists(s)) out.push([...before, ...l.filter((x) => !x.synth), ...after]);
    for (const v of smallerStmt(s)) out.push([...before, v, ...after]);
  });
  return out;
}

function smallerStmt(s: Stmt): Stmt[] {
  const out: Stmt[] = [];
  const c = () => clone(s);
  switch (s.k) {
    case 'if':
      if (s.else) out.push({ ...c(), else: undefined } as Stmt);
      for (const v of smaller(s.then)) out.push({ ...c(), then: v } as Stmt);
      if (s.else) for (const v of smaller(s.else)) out.push({ ...c(), else: v } as Stmt);
      break;
    case 'loop':
    case 'block':
    case 'rangefor':
    case 'lambda':
      for (const v of smaller(s.body)) out.push({ ...c(), body: v } as Stmt);
      break;
    case 'try':
      s.handlers.forEach((h, j) => {
        if (s.handlers.length > 1) out.push({ ...c(), handlers: s.handlers.filter((_, k) => k !== j) } as Stmt);
        for (const v of smaller(h.body)) out.push({ ...c(), handlers: s.handlers.map((x, k) => (k === j ? { ...x, body: v } : x)) } as Stmt);
      });
      for (const v of smaller(s.body)) out.push({ ...c(), body: v } as Stmt);
      break;
    case 'switch':
      s.cases.forEach((cs, j) => {
        if (s.cases.length > 1) out.push({ ...c(), cases: s.cases.filter((_, k) => k !== j) } as Stmt);
        if (cs.brk) out.push({ ...c(), cases: s.cases.map((x, k) => (k === j ? { ...x, brk: false } : x)) } as Stmt);
        for (const v of smaller(cs.body)) out.push({ ...c(), cases: s.cases.map((x, k) => (k === j ? { ...x, body: v } : x)) } as Stmt);
      });
      break;
    case 'pp':
      if (s.else) out.push({ ...c(), else: undefined } as Stmt);
      s.branches.forEach((b, j) => {
        if (s.branches.length > 1) out.push({ ...c(), branches: s.branches.filter((_, k) => k !== j) } as Stmt);
        for (const v of smaller(b.body)) out.push({ ...c(), branches: s.branches.map((x, k) => (k === j ? { ...x, body: v } : x)) } as Stmt);
      });
      if (s.else) for (const v of smaller(s.else)) out.push({ ...c(), else: v } as Stmt);
      break;
  }
  return out;
}

/** Greedily removes statements while the program still disagrees; returns a (locally) minimal disagreeing program. */
export async function minimize(p: Program, fails: (q: Program) => Promise<boolean> = async (q) => !(await checkProgram(q)).agree): Promise<Program> {
  let cur = p;
  for (let progress = true; progress; ) {
    progress = false;
    for (const body of smaller(cur.body)) {
      const q = resolve(clone(body), cur.mode, cur.wrap);
      if (await fails(q)) {
        cur = q;
        progress = true;
        break;
      }
    }
  }
  return cur;
}
