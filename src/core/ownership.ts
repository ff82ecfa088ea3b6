import { buildCfg, type Cfg, type CfgNode, type PathStep, type Span } from './cfg';
import { API_RETURNS } from './api/returns.generated';
import { FORMAT_CALLS, STEALING } from './api/stealing';
import { summaryOf, type Summary } from './api/summaries';
import { BudgetExceeded, solveForward, type Budget } from './dataflow';
import { Feasibility, NO_FACTS, type Facts } from './feasibility';
import { parameters } from './functions';
import type { MacroExpander } from './macros';
import type { SyntaxNode } from './parser';
import {
  argList,
  calleeName,
  DECREF_CALLS,
  declaredName,
  SETREF_CALLS,
  INCREF_CALLS,
  IS_CALLS,
  namedKids,
  NEWREF_CALLS,
  SINGLETON_PATTERN,
  SINGLETONS,
  singletonIndex,
  snippet,
  STRUCT_SPELLINGS,
  unwrapCxxCast,
  initialValue,
  declaredLocal,
} from './syntax';

/** A value in the analysis: a singleton's index, or OTHER for anything else. */
export const OTHER = -1;

/**
 * The facts on one path: the singleton (or OTHER) each tracked local holds, how many
 * unconsumed references to each singleton the function owns (capped at 8), the steals
 * of singletons it did not own that no later incref has repaid yet, and what the
 * branches taken say about flags (see feasibility.ts).
 */
export interface PathState {
  vars: number[];
  owned: number[];
  /** Unrepaid steals of unowned singletons, oldest first: `site * 8 + singleton` (at most 8). */
  debts: number[];
  /** Bit per singleton: a test showed that something the function may own is that singleton. */
  mayOwn: number;
  facts: Facts;
  /** Branches and assignments that led here; not part of the state's identity. */
  steps: PathStep[];
  /** Per singleton, the last call that took a reference to it on this path; not part of the identity. */
  lastSteal: ReadonlyArray<StealNote | undefined>;
}

/** A call that took a reference to a singleton (for the message of a later release). */
export interface StealNote {
  /** The steal site (see `ConsumeEvent.site`). */
  site: number;
  callee: string;
  when: 'always' | 'on-success';
  start: number;
  end: number;
}

/** A disjunction of path states keyed by their facts. */
export type StateSet = Map<string, PathState>;

const MAX_OWNED = 8;
const MAX_STATES = 64;
const MAX_PATH_STEPS = 12;
const MAX_TRACKED = 12;
const MAX_DEBTS = 8;

function key(s: PathState): string {
  return s.vars.join(',') + '|' + s.owned.join(',') + '|' + s.debts.join(',') + '|' + s.mayOwn + (s.facts.length ? '|' + s.facts.join('\u0002') : '');
}

function withOwned(s: PathState, i: number, delta: number): PathState {
  const owned = s.owned.slice();
  owned[i] = Math.max(0, Math.min(MAX_OWNED, owned[i] + delta));
  return { ...s, owned };
}

function withStep(s: PathState, step: PathStep): PathState {
  const steps = s.steps.length >= MAX_PATH_STEPS ? s.steps.slice(1) : s.steps.slice();
  steps.push(step);
  return { ...s, steps };
}

/** The sites whose steal of singleton `s` is still unrepaid on this path. */
export function unpaidSites(st: PathState, s: number): number[] {
  return st.debts.filter((d) => d % 8 === s).map((d) => Math.floor(d / 8));
}

/** A place where a reference to a singleton is released or given away, with the path state just before. */
export interface ConsumeEvent {
  /** The call (or macro use) that releases or steals. */
  node: SyntaxNode;
  /** The argument that is stolen or released. */
  arg?: SyntaxNode;
  at?: Span;
  /** The singleton released or stolen on this path, or OTHER when the path hands over another object. */
  singleton: number;
  kind: 'decref' | 'steal';
  /** For steals: whether the reference is taken even when the call fails. */
  when?: 'always' | 'on-success';
  /** For steals: the site's id (see `OwnershipAnalysis.unpaid`). */
  site?: number;
  /** A release of a singleton by name after a test showed something the function may own is it. */
  excused?: boolean;
  state: PathState;
}

/** A steal of a singleton the function did not own that some path never repays. */
export interface UnpaidDebt {
  site: number;
  singleton: number;
  /** The state where the path leaves the function or releases the singleton with the debt open. */
  state: PathState;
  /** The debt is closed by a release of the singleton, not by leaving the function. */
  released?: boolean;
}

/** What one path returns at a return statement. */
export interface ReturnOutcome {
  /** The returned singleton, or OTHER. */
  value: number;
  /** The function owned a reference to it on this path. */
  owned: boolean;
  state: PathState;
}

/** The verdict for one `return` node. */
export interface ReturnVerdict {
  node: CfgNode;
  expr: SyntaxNode;
  outcomes: ReturnOutcome[];
}

/** The ownership facts of one function, shared by every rule that needs them. */
export interface OwnershipAnalysis {
  cfg: Cfg;
  tracked: Map<string, number>;
  inputs: Map<number, StateSet>;
  returns: ReturnVerdict[];
  /** Every release or steal of a singleton, per path state (for the steal and decref rules). */
  events: ConsumeEvent[];
  /** Steals of unowned singletons that some path leaves unrepaid (by exiting or releasing it). */
  unpaid: UnpaidDebt[];
  /** Steal sites whose debt a later incref repays on some path. */
  paidSites: ReadonlySet<number>;
  /** Some node had more path states than the cap; results may be incomplete. */
  truncated: boolean;
}

/** Options of one function's analysis. */
export interface OwnershipOptions {
  expander?: MacroExpander;
  budget: Budget;
  /** Parameters known to be NULL on entry (the second one of a `METH_NOARGS` method). */
  nullParams?: string[];
  /** Names that project macros assign: nothing known of them is trusted. */
  macroAssigned?: ReadonlySet<string>;
  /** Set for C++ files. */
  cxx?: CxxFacts;
}

const SINGLETON_RE = new RegExp(SINGLETON_PATTERN);

/** Locals that may hold a singleton: assigned from an expression that mentions one (or such a local, or a macro). */
export function trackedLocals(body: SyntaxNode, macroNames: string[], cxx?: CxxFacts): Map<string, number> {
  const assigns: Array<[string, string]> = [];
  for (const a of body.descendantsOfType(['assignment_expression', 'init_declarator'])) {
    if (!a) continue;
    const left = a.type === 'assignment_expression' ? a.childForFieldName('left') : declaredName(a.childForFieldName('declarator'));
    const right = a.type === 'assignment_expression' ? a.childForFieldName('right') : initialValue(a);
    if (!left || !right || left.type !== 'identifier') continue;
    assigns.push([left.text, right.text]);
  }
  const objects = cxx ? classObjects(body, cxx, assigns) : undefined;
  // C++: `if (T *x = v)` declares `x` in the condition.
  if (cxx) {
    for (const c of body.descendantsOfType('condition_clause')) {
      const d = c?.childForFieldName('value');
      const name = d?.type === 'declaration' ? declaredName(d.childForFieldName('declarator')) : null;
      const v = d?.childForFieldName('value');
      if (name && v) assigns.push([name.text, v.text]);
    }
  }
  for (const call of body.descendantsOfType('call_expression')) {
    const args = call ? argList(call) : [];
    if (call && SETREF_CALLS.has(calleeName(call) ?? '') && args.length === 2 && args[0].type === 'identifier') assigns.push([args[0].text, args[1].text]);
  }
  const tracked = new Set<string>();
  const macroRe = macroNames.length ? new RegExp(`\\b(?:${macroNames.join('|')})\\b`) : undefined;
  for (let round = 0; round < 3; round++) {
    for (const [name, rhs] of assigns) {
      if (tracked.has(name) || tracked.size >= MAX_TRACKED || objects?.has(name)) continue;
      if (SINGLETON_RE.test(rhs) || macroRe?.test(rhs) || [...tracked].some((t) => new RegExp(`\\b${t}\\b`).test(rhs))) tracked.add(name);
    }
  }
  const map = new Map<string, number>();
  for (const t of tracked) map.set(t, map.size);
  return map;
}

/** What the C++ analysis needs to know of the file: type names that are pointers (`typedef PyObject *Ref;`). */
export interface CxxFacts {
  pointerTypes: ReadonlySet<string>;
}

/** Pointer type aliases of a C++ file (`typedef T *Name;`, `using Name = T *;`). */
export function cxxFacts(text: string): CxxFacts {
  const pointerTypes = new Set<string>();
  for (const m of text.matchAll(/\btypedef\s[^;{}]*\*\s*(\w+)\s*;|\busing\s+(\w+)\s*=[^;{}]*\*\s*;/g)) pointerTypes.add(m[1] ?? m[2]);
  return { pointerTypes };
}

/**
 * C++ locals that are objects of a class type (`OwnedRef r(Py_None);`, `py::object o = ...`):
 * RAII owners whose constructor and destructor manage the reference, so what they hold is
 * not a borrowed pointer and they are not tracked. Also `(v)` declaration-shaped locals, added to `assigns`.
 */
function classObjects(body: SyntaxNode, cxx: CxxFacts, assigns: Array<[string, string]>): Set<string> {
  const out = new Set<string>();
  for (const decl of body.descendantsOfType('declaration')) {
    if (!decl) continue;
    const type = decl.childForFieldName('type');
    const typeName = type?.type === 'type_identifier' ? type.text : type?.type === 'qualified_identifier' || type?.type === 'template_type' ? type.text : undefined;
    for (const d of namedKids(decl)) {
      if (d === type || !/declarator$/.test(d.type)) continue;
      const inner = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
      const name = declaredLocal(d);
      if (!name) continue;
      // `T *x(v)`: read as a prototype by the parser, it is a local initialised with `v`.
      if (d.type !== 'init_declarator') {
        const v = initialValue(d);
        if (v) assigns.push([name.text, v.text]);
      }
      const plain = inner?.type === 'identifier' || (inner?.type === 'function_declarator' && d.type !== 'init_declarator');
      if (typeName && plain && !cxx.pointerTypes.has(typeName) && typeName !== 'PyObject') out.add(name.text);
    }
  }
  return out;
}

type Pair = [PathState, number];

/** Evaluates expressions over path states: the transfer function of the ownership analysis. */
class Evaluator {
  readonly events: ConsumeEvent[] = [];
  readonly unpaid: UnpaidDebt[] = [];
  readonly paidSites = new Set<number>();
  private readonly sites = new Map<string, number>();
  private readonly sitesByCall = new Map<number, number[]>();
  /** Where each steal site is in the source, by site id: orders the open debts. */
  private readonly sitePos: number[] = [];
  private recording = false;
  private readonly relevant: RegExp;

  constructor(
    readonly tracked: Map<string, number>,
    private readonly expander: MacroExpander | undefined,
  ) {
    const words = [
      ...tracked.keys(),
      ...(expander?.names() ?? []),
      ...INCREF_CALLS,
      ...DECREF_CALLS,
      ...NEWREF_CALLS,
      ...Object.keys(STEALING),
      ...Object.keys(FORMAT_CALLS),
      ...SETREF_CALLS,
    ];
    this.relevant = new RegExp(`${SINGLETON_PATTERN}|\\b(?:${words.join('|')})\\b`);
  }

  isRelevant(node: SyntaxNode): boolean {
    return this.relevant.test(node.text);
  }

  /** Evaluates `node` in `state` and records consume events (used once, after the fixpoint). */
  withEvents<T>(f: () => T): T {
    this.recording = true;
    try {
      return f();
    } finally {
      this.recording = false;
    }
  }

  private span(node: SyntaxNode, at: Span | undefined): Span {
    return at ?? { start: node.startIndex, end: node.endIndex };
  }

  /** The id of a steal site (a call's argument, or a macro use). */
  private site(node: SyntaxNode, arg: SyntaxNode | undefined, at: Span | undefined): number {
    const k = `${at?.start ?? -1}:${node.startIndex}:${arg?.startIndex ?? -1}`;
    let id = this.sites.get(k);
    if (id === undefined) {
      id = this.sites.size;
      this.sites.set(k, id);
      this.sitePos.push(at?.start ?? arg?.startIndex ?? node.startIndex);
      const ids = this.sitesByCall.get(node.startIndex);
      if (ids) ids.push(id);
      else this.sitesByCall.set(node.startIndex, [id]);
    }
    return id;
  }

  private consume(node: SyntaxNode, at: Span | undefined, st: PathState, s: number, kind: 'decref' | 'steal', arg?: SyntaxNode, when?: 'always' | 'on-success'): PathState {
    const site = kind === 'steal' ? this.site(node, arg, at) : undefined;
    // `if (x == Py_None) Py_DECREF(Py_None);` releases x's reference when the function may own x.
    const excused = kind === 'decref' && st.owned[s] === 0 && (st.mayOwn & (1 << s)) !== 0;
    if (this.recording) this.events.push({ node, arg, at, singleton: s, kind, when, site, excused, state: st });
    if (kind === 'decref') {
      if (st.owned[s] === 0 && !excused && unpaidSites(st, s).length) {
        // Released with a steal still unrepaid: that steal is reported here, and its debt closed.
        if (this.recording) for (const d of unpaidSites(st, s)) this.unpaid.push({ site: d, singleton: s, state: st, released: true });
        return { ...st, debts: st.debts.filter((d) => d % 8 !== s) };
      }
      return withOwned(st, s, -1);
    }
    const sp = this.span(node, at);
    const lastSteal = st.lastSteal.slice();
    lastSteal[s] = { site: site!, callee: calleeName(node) ?? 'the call', when: when ?? 'always', ...sp };
    let next: PathState = { ...st, lastSteal };
    if (st.owned[s] === 0) {
      // A steal of a reference the function does not own is a debt that a later incref of
      // the same singleton on the same path repays (`PyTuple_SET_ITEM(t, i, Py_None); Py_INCREF(Py_None);`).
      if (next.debts.length < MAX_DEBTS) next = { ...next, debts: this.withDebt(next.debts, site! * 8 + s) };
      return next;
    }
    // A steal on success only leaves the reference with the caller when the call fails; the
    // analysis cannot tell which, so it keeps the count (no false report of a later decref).
    return when === 'on-success' ? next : withOwned(next, s, -1);
  }

  /**
   * Adds a debt, keeping the list ordered by the steal's position in the source: the open
   * debts are a multiset, so paths that stole the same things in another order (around a
   * loop) reach the same state instead of one state per order.
   */
  private withDebt(debts: number[], debt: number): number[] {
    const after = (a: number, b: number) => {
      const pa = this.sitePos[Math.floor(a / 8)];
      const pb = this.sitePos[Math.floor(b / 8)];
      return pa !== pb ? pa > pb : a > b;
    };
    let i = debts.length;
    while (i > 0 && after(debts[i - 1], debt)) i--;
    return [...debts.slice(0, i), debt, ...debts.slice(i)];
  }

  /** An incref of singleton `s`: repays its open steal earliest in the source, else adds an owned reference. */
  private incref(st: PathState, s: number): PathState {
    const i = st.debts.findIndex((d) => d % 8 === s);
    let lastSteal = st.lastSteal;
    if (lastSteal[s]) {
      lastSteal = lastSteal.slice();
      (lastSteal as Array<StealNote | undefined>)[s] = undefined;
    }
    if (i < 0) return withOwned({ ...st, lastSteal }, s, +1);
    if (this.recording) this.paidSites.add(Math.floor(st.debts[i] / 8));
    return { ...st, debts: st.debts.filter((_, k) => k !== i), lastSteal };
  }

  /** The ids of the steal sites of a call (known once the call was evaluated). */
  sitesOf(call: SyntaxNode): number[] {
    return this.sitesByCall.get(call.startIndex) ?? [];
  }

  /** Records the debts still open where a path leaves the function. */
  recordExit(st: PathState): void {
    for (const d of st.debts) this.unpaid.push({ site: Math.floor(d / 8), singleton: d % 8, state: st });
  }

  /** Evaluates a statement-level node (expression or declaration). */
  statement(node: SyntaxNode, st: PathState, at: Span | undefined): PathState[] {
    if (node.type === 'declaration' && node.childForFieldName('value')) {
      // A C++ condition's declaration (`if (T *x = v)`): one declarator, its value beside it.
      const name = declaredName(node.childForFieldName('declarator'));
      const i = name ? this.tracked.get(name.text) : undefined;
      return this.expr(node.childForFieldName('value')!, st, at).map(([s, v]) => (i === undefined ? s : this.assign(s, i, v, name!.text, node, at)));
    }
    if (node.type === 'declaration') {
      let states = [st];
      for (const d of namedKids(node)) {
        const value = initialValue(d);
        if (d.type !== 'init_declarator' && !value) {
          const name = declaredName(d);
          const i = name ? this.tracked.get(name.text) : undefined;
          if (i !== undefined) states = states.map((s) => setVar(s, i, OTHER));
          continue;
        }
        const name = declaredLocal(d);
        if (!value) {
          // `T x{a, b}`, `T x(a, b)`: not one value the analysis follows.
          const i = name ? this.tracked.get(name.text) : undefined;
          if (i !== undefined) states = states.map((s) => setVar(s, i, OTHER));
          continue;
        }
        const i = name ? this.tracked.get(name.text) : undefined;
        const next: PathState[] = [];
        for (const s of states) {
          for (const [s2, v] of this.expr(value, s, at)) next.push(i === undefined ? s2 : this.assign(s2, i, v, name!.text, d, at));
        }
        states = next;
      }
      return states;
    }
    return this.expr(node, st, at).map(([s]) => s);
  }

  private assign(s: PathState, i: number, v: number, name: string, node: SyntaxNode, at: Span | undefined): PathState {
    const next = setVar(s, i, v);
    if (v >= 0 && s.vars[i] !== v) {
      const sp = this.span(node, at);
      const rhs = node.type === 'assignment_expression' || node.type === 'declaration' ? node.childForFieldName(node.type === 'declaration' ? 'value' : 'right') : node.type === 'call_expression' ? null : initialValue(node);
      const value = !at && rhs && directSingletonOf(rhs) === v ? { start: rhs.startIndex, end: rhs.endIndex } : undefined;
      return withStep(next, { ...sp, message: `\`${name}\` holds \`${SINGLETONS[v]}\` from here on this path`, entry: { local: name, singleton: v, value } });
    }
    return next;
  }

  /** All (state, value) pairs an expression can produce. */
  expr(node: SyntaxNode, st: PathState, at: Span | undefined): Pair[] {
    switch (node.type) {
      case 'parenthesized_expression': {
        const inner = namedKids(node);
        return inner.length ? this.expr(inner[inner.length - 1], st, at) : [[st, OTHER]];
      }
      case 'cast_expression': {
        const v = node.childForFieldName('value');
        return v ? this.expr(v, st, at) : [[st, OTHER]];
      }
      case 'lambda_expression':
        // A lambda's body runs when it is called: it is analysed as a function of its own.
        return [[st, OTHER]];
      case 'type_identifier':
      case 'identifier': {
        const s = singletonIndex(node.text);
        if (s >= 0) return [[st, s]];
        const i = this.tracked.get(node.text);
        if (i !== undefined) return [[st, st.vars[i]]];
        // A type name is an expression only in C++'s `T *x(v)` (see `initialValue`).
        if (node.type === 'type_identifier') return [[st, OTHER]];
        const exp = this.expander?.expression(node);
        if (exp) return this.expr(exp, st, at ?? this.span(node, at));
        return [[st, OTHER]];
      }
      case 'pointer_expression': {
        const arg = node.childForFieldName('argument');
        if (node.child(0)?.type === '&' && arg?.type === 'identifier' && arg.text in STRUCT_SPELLINGS) return [[st, STRUCT_SPELLINGS[arg.text]]];
        return arg ? this.expr(arg, st, at).map(([s]) => [s, OTHER] as Pair) : [[st, OTHER]];
      }
      case 'call_expression':
        return this.call(node, st, at);
      case 'conditional_expression': {
        const cond = node.childForFieldName('condition');
        // GNU `a ?: b` has no middle operand: its value when true is the condition's.
        const arms = [node.childForFieldName('consequence') ?? cond, node.childForFieldName('alternative')];
        const out: Pair[] = [];
        for (const [s] of cond ? this.expr(cond, st, at) : [[st, OTHER] as Pair]) {
          arms.forEach((arm, k) => {
            if (!arm) return;
            const sp = this.span(arm, at);
            // Nested conditionals are not spelled out (their text would make this quadratic).
            const shown = arm.type === 'conditional_expression' ? 'a nested conditional' : `\`${snippet(arm.endIndex - arm.startIndex > 200 ? arm.text.slice(0, 60) : arm.text, 30)}\``;
            const stepped = withStep(s, { ...sp, message: `the ${k === 0 ? 'first' : 'second'} arm ${shown} is chosen on this path` });
            out.push(...(arm === cond ? [[stepped, OTHER] as Pair] : this.expr(arm, stepped, at)));
          });
        }
        return out;
      }
      case 'assignment_expression': {
        const left = node.childForFieldName('left');
        const right = node.childForFieldName('right');
        const op = node.childForFieldName('operator')?.text ?? node.child(1)?.text;
        if (!right) return [[st, OTHER]];
        const i = left?.type === 'identifier' ? this.tracked.get(left.text) : undefined;
        const pairs = this.expr(right, st, at);
        if (i === undefined || op !== '=') return pairs.map(([s]) => [s, OTHER]);
        return pairs.map(([s, v]) => [this.assign(s, i, v, left!.text, node, at), v]);
      }
      case 'comma_expression': {
        const l = node.childForFieldName('left');
        const r = node.childForFieldName('right');
        const out: Pair[] = [];
        for (const [s] of l ? this.expr(l, st, at) : [[st, OTHER] as Pair]) out.push(...(r ? this.expr(r, s, at) : [[s, OTHER] as Pair]));
        return out;
      }
      default: {
        if (!this.isRelevant(node)) return [[st, OTHER]];
        let states = [st];
        for (const k of namedKids(node)) {
          const next: PathState[] = [];
          for (const s of states) for (const [s2] of this.expr(k, s, at)) next.push(s2);
          states = dedupe(next);
        }
        return states.map((s) => [s, OTHER]);
      }
    }
  }

  /**
   * A call: CPython's reference-count and cast macros apply their summary, a project macro
   * is expanded, `Py_SETREF` assigns and releases, and any other call applies what its
   * summary says of each argument (steals), then forgets what `&local` arguments held.
   */
  private call(node: SyntaxNode, st: PathState, at: Span | undefined): Pair[] {
    const name = calleeName(node) ?? '';
    const args = argList(node);
    const summary = summaryOf(name, args.map((a) => a.text));
    if (summary?.builtin) return this.applyBuiltin(node, summary, args, st, at);
    if (this.expander) {
      const exp = this.expander.expression(node);
      if (exp) return this.expr(exp, st, at ?? this.span(node, at));
    }
    if (summary?.setref && args[0].type === 'identifier') {
      // Py_SETREF(dst, src): dst = src, then the old value is released.
      const i = this.tracked.get(args[0].text);
      return this.expr(args[1], st, at).map(([s, v]) => {
        const old = i !== undefined ? s.vars[i] : OTHER;
        let next = i !== undefined ? this.assign(s, i, v, args[0].text, node, at) : s;
        if (old >= 0) next = this.consume(node, at, next, old, 'decref', args[0]);
        return [next, OTHER] as Pair;
      });
    }
    let states: PathState[] = [st];
    args.forEach((a, k) => {
      const effect = summary?.args.get(k);
      const when = effect?.kind === 'steal' ? effect.when : undefined;
      const next: PathState[] = [];
      for (const s of states) {
        for (const [s2, v] of this.expr(a, s, at)) {
          if (!when) next.push(s2);
          else if (v >= 0) next.push(this.consume(node, at, s2, v, 'steal', a, when));
          else {
            // Paths that hand over another object are recorded too, so a finding knows it holds on some paths only.
            if (this.recording) this.events.push({ node, arg: a, at, singleton: OTHER, kind: 'steal', when, site: this.site(node, a, at), state: s2 });
            next.push(s2);
          }
        }
      }
      states = dedupe(next);
    });
    // A call given `&local` may store anything there: the local keeps its value or holds another object.
    for (const a of args) {
      const target = a.type === 'pointer_expression' && a.child(0)?.type === '&' ? a.childForFieldName('argument') : null;
      const i = target?.type === 'identifier' ? this.tracked.get(target.text) : undefined;
      if (i !== undefined) states = dedupe(states.flatMap((s) => [s, setVar(s, i, OTHER)]));
    }
    return states.map((s) => [s, OTHER]);
  }

  /** A reference-count or cast macro: its one argument's value, taken, released or passed through. */
  private applyBuiltin(node: SyntaxNode, summary: Summary, args: SyntaxNode[], st: PathState, at: Span | undefined): Pair[] {
    const ret = summary.returns;
    if (ret?.kind === 'arg') return this.expr(args[ret.arg], st, at);
    if (ret?.kind === 'new-ref-to-arg') return this.expr(args[ret.arg], st, at).map(([s, v]) => [v >= 0 ? withOwned(s, v, +1) : s, v]);
    const effect = summary.args.get(0);
    if (effect?.kind === 'incref') return this.expr(args[0], st, at).map(([s, v]) => [v >= 0 ? this.incref(s, v) : s, OTHER]);
    if (effect?.kind !== 'decref') return this.expr(args[0], st, at).map(([s]) => [s, OTHER]);
    return this.expr(args[0], st, at).map(([s, v]) => {
      if (v < 0 && this.recording) this.events.push({ node, arg: args[0], at, singleton: OTHER, kind: 'decref', state: s });
      let next = v >= 0 ? this.consume(node, at, s, v, 'decref', args[0]) : s;
      // Py_CLEAR sets its argument to NULL.
      const i = effect.clears && args[0].type === 'identifier' ? this.tracked.get(args[0].text) : undefined;
      if (i !== undefined) next = setVar(next, i, OTHER);
      return [next, OTHER];
    });
  }
}

function setVar(s: PathState, i: number, v: number): PathState {
  if (s.vars[i] === v) return s;
  const vars = s.vars.slice();
  vars[i] = v;
  return { ...s, vars };
}

function dedupe(states: PathState[]): PathState[] {
  if (states.length < 2) return states;
  const m = new Map<string, PathState>();
  for (const s of states) if (!m.has(key(s))) m.set(key(s), s);
  return [...m.values()];
}


/**
 * Locals assigned only from calls that return new references (any call but the C-API
 * functions documented as returning borrowed ones): comparing one with a singleton
 * tells that the reference it holds is a reference to that singleton.
 */
export function owningLocals(body: SyntaxNode, tracked: Map<string, number>): Set<string> {
  const fromCall = new Set<string>();
  const other = new Set<string>();
  for (const a of body.descendantsOfType(['assignment_expression', 'init_declarator'])) {
    if (!a) continue;
    const left = a.type === 'assignment_expression' ? a.childForFieldName('left') : declaredName(a.childForFieldName('declarator'));
    const right = a.childForFieldName(a.type === 'assignment_expression' ? 'right' : 'value');
    if (!left || !right || left.type !== 'identifier') continue;
    const r = unwrapCasts(right);
    if (r.type === 'initializer_list') continue;
    if (/^(?:NULL|0|nullptr)$/.test(r.text)) continue;
    const callee = r.type === 'call_expression' ? calleeName(r) : undefined;
    if (callee && API_RETURNS[callee] !== 'borrowed' && !/GET_ITEM|GetItem|Borrow/.test(callee)) fromCall.add(left.text);
    else other.add(left.text);
  }
  return new Set([...fromCall].filter((n) => !other.has(n) && !tracked.has(n)));
}

/**
 * The expressions a condition, taken one way, shows to be a singleton: `x == Py_None`
 * holding, `x != Py_None` failing, `Py_IsNone(x)` holding, through `!`, `&&` (holding)
 * and `||` (failing).
 */
function singletonTests(cond: SyntaxNode, holds: boolean): Array<{ expr: SyntaxNode; singleton: number }> {
  const n = unwrapCasts(cond);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const arg = n.childForFieldName('argument');
    return arg ? singletonTests(arg, !holds) : [];
  }
  if (n.type === 'binary_expression') {
    const op = n.childForFieldName('operator')?.type;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    if (!l || !r) return [];
    if ((op === '&&' && holds) || (op === '||' && !holds)) return [...singletonTests(l, holds), ...singletonTests(r, holds)];
    if ((op === '==' && holds) || (op === '!=' && !holds)) {
      const sl = directSingletonOf(l);
      const sr = directSingletonOf(r);
      if (sr >= 0 && sl < 0) return [{ expr: unwrapCasts(l), singleton: sr }];
      if (sl >= 0 && sr < 0) return [{ expr: unwrapCasts(r), singleton: sl }];
    }
    return [];
  }
  if (n.type === 'call_expression' && holds) {
    const is = IS_CALLS[calleeName(n) ?? ''];
    const a = argList(n)[0];
    if (is !== undefined && a) return [{ expr: unwrapCasts(a), singleton: is }];
  }
  return [];
}

/** The owning local and the singleton a condition shows it to be (`x == Py_None` holding, `x != Py_None` failing). */
function ownedThroughComparison(cond: SyntaxNode, holds: boolean, owning: Set<string>): { name: string; singleton: number } | undefined {
  const t = singletonTests(cond, holds).find((x) => x.expr.type === 'identifier' && owning.has(x.expr.text));
  return t && { name: t.expr.text, singleton: t.singleton };
}

/** False when `cond` evaluating to `holds` contradicts what state `s` says the locals hold. */
export function consistent(cond: SyntaxNode, holds: boolean, s: PathState, tracked: Map<string, number>): boolean {
  const n = cond.type === 'parenthesized_expression' && cond.namedChildCount === 1 ? cond.namedChild(0)! : cond;
  const varOf = (x: SyntaxNode | null): number | undefined => {
    const u = x ? unwrapCasts(x) : null;
    return u?.type === 'identifier' ? tracked.get(u.text) : undefined;
  };
  const isNull = (x: SyntaxNode | null) => !!x && /^(?:NULL|0|nullptr)$/.test(unwrapCasts(x).text);
  const singletonOf = (x: SyntaxNode | null) => (x ? directSingletonOf(x) : -1);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const arg = n.childForFieldName('argument');
    return arg ? consistent(arg, !holds, s, tracked) : true;
  }
  if (n.type === 'binary_expression') {
    const op = n.childForFieldName('operator')?.type;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    if (!l || !r) return true;
    if (op === '&&') return holds ? consistent(l, true, s, tracked) && consistent(r, true, s, tracked) : true;
    if (op === '||') return holds ? true : consistent(l, false, s, tracked) && consistent(r, false, s, tracked);
    if (op === '==' || op === '!=') {
      const equal = op === '==' ? holds : !holds;
      const [v, other] = varOf(l) !== undefined ? [varOf(l)!, r] : varOf(r) !== undefined ? [varOf(r)!, l] : [undefined, null];
      if (v === undefined || !other) return true;
      const value = s.vars[v];
      const sing = singletonOf(other);
      if (sing >= 0) return equal ? value === sing || value === OTHER : value !== sing;
      if (isNull(other)) return equal ? value === OTHER : true;
    }
    return true;
  }
  if (n.type === 'call_expression') {
    const is = IS_CALLS[calleeName(n) ?? ''];
    const v = is !== undefined ? varOf(argList(n)[0] ?? null) : undefined;
    if (v !== undefined) return holds ? s.vars[v] === is || s.vars[v] === OTHER : s.vars[v] !== is;
    return true;
  }
  const v = varOf(n);
  // A bare local used as a condition is false only when it is NULL, which a singleton never is.
  if (v !== undefined && !holds) return s.vars[v] === OTHER;
  return true;
}

function unwrapCasts(n: SyntaxNode): SyntaxNode {
  let x = n;
  for (;;) {
    if (x.type === 'parenthesized_expression' && x.namedChildCount === 1) x = x.namedChild(0)!;
    else if (x.type === 'cast_expression' && x.childForFieldName('value')) x = x.childForFieldName('value')!;
    else if (unwrapCxxCast(x) !== x) x = unwrapCxxCast(x);
    else return x;
  }
}

function directSingletonOf(n: SyntaxNode): number {
  const u = unwrapCasts(n);
  if (u.type === 'identifier') return singletonIndex(u.text);
  if (u.type === 'pointer_expression' && u.child(0)?.type === '&') {
    const a = u.childForFieldName('argument');
    if (a?.type === 'identifier' && a.text in STRUCT_SPELLINGS) return STRUCT_SPELLINGS[a.text];
  }
  return -1;
}

/** The expression a return statement returns, if any. */
export function returnedExpression(ret: SyntaxNode): SyntaxNode | undefined {
  return namedKids(ret)[0];
}

/** Runs the ownership data flow over a function body. */
export function analyzeOwnership(body: SyntaxNode, opts: OwnershipOptions): OwnershipAnalysis {
  const expander = opts.expander;
  const over = (what: string) => {
    throw new BudgetExceeded(`analysis exceeded its bound while ${what}`);
  };
  const cfg = buildCfg(body, {
    expandStatement: expander ? (_stmt, expr) => expander.statements(expr) : undefined,
    checkBudget: (nodes) => {
      if (nodes > opts.budget.maxSteps / 2 || Date.now() > opts.budget.deadline) over('building the control-flow graph');
    },
  });
  if (Date.now() > opts.budget.deadline) over('building the control-flow graph');
  const tracked = trackedLocals(body, expander?.names() ?? [], opts.cxx);
  const owning = owningLocals(body, tracked);
  // An owning local compared with a singleton is tracked too: after `res == Py_None` holds,
  // it holds the singleton, with the reference the function got from the call.
  const bodyText = body.text;
  for (const name of owning) {
    if (tracked.size >= MAX_TRACKED) break;
    if (new RegExp(`\\b${name}\\s*[!=]=|[!=]=\\s*(?:\\([^()]*\\)\\s*)?${name}\\b|Py_Is(?:None|True|False)\\(\\s*${name}\\s*\\)`).test(bodyText)) tracked.set(name, tracked.size);
  }
  // Feasibility only removes paths, so it is worked out only for functions where some path
  // leads to a finding: most functions have none, and it costs a walk of every statement.
  const plain = solve(undefined);
  if (!hasCandidates(plain)) return plain;
  const params = parameters(body.parent).flatMap((p) => declaredName(p.childForFieldName('declarator'))?.text ?? []);
  const feasibility = new Feasibility(cfg.nodes, params, opts.nullParams, opts.macroAssigned);
  if (feasibility.empty) return plain;
  try {
    return solve(feasibility);
  } catch (e) {
    // Over the bound with paths kept apart by flags: the plain result still holds (it has more paths, never fewer).
    if (e instanceof BudgetExceeded) return plain;
    throw e;
  }

  function solve(feasibility: Feasibility | undefined): OwnershipAnalysis {
    const ev = new Evaluator(tracked, expander);
    const initial: PathState = {
      vars: new Array(tracked.size).fill(OTHER),
      owned: new Array(SINGLETONS.length).fill(0),
      debts: [],
      mayOwn: 0,
      facts: feasibility?.initial ?? NO_FACTS,
      steps: [],
      lastSteal: [],
    };
    let truncated = false;
    const mayOwnTest = identityTestFilter(body, owning, tracked);
    // What a branch's condition can tell, worked out once per edge (the solver visits edges many times).
    const condCache = new Map<string, { filters: boolean; gained?: { name: string; singleton: number }; mayOwn: number; failed?: Set<number> }>();
    const conditionFacts = (from: CfgNode, holds: boolean) => {
      const k = `${from.id}:${holds}`;
      let f = condCache.get(k);
      if (!f) {
        const text = from.ast!.text;
        const mentionsTracked = tracked.size > 0 && [...tracked.keys()].some((t) => text.includes(t));
        const mayOwn = SINGLETON_RE.test(text) || /Py_Is(?:None|True|False)\b/.test(text) ? identityBits(from.ast!, holds, mayOwnTest) : 0;
        const failed = ON_SUCCESS_RE.test(text) ? new Set(failedCalls(from.ast!, holds).flatMap((c) => ev.sitesOf(c))) : undefined;
        f = { filters: mentionsTracked, gained: owning.size ? ownedThroughComparison(from.ast!, holds, owning) : undefined, mayOwn, failed: failed?.size ? failed : undefined };
        condCache.set(k, f);
      }
      return f;
    };
    const relevance = new Map<number, boolean>();
    const isRelevant = (n: CfgNode) => {
      let r = relevance.get(n.id);
      if (r === undefined) {
        r = !!n.ast && ev.isRelevant(n.ast);
        relevance.set(n.id, r);
      }
      return r;
    };
    // A return's own expression may steal or incref (`return Py_BuildValue("N", ...)`); its
    // states then flow to the exit, where open debts are read.
    const afterReturn = (node: CfgNode, s: PathState): PathState[] => {
      const expr = node.macroReturn ? undefined : returnedExpression(node.ast!);
      return expr ? ev.expr(expr, s, node.at).map(([x]) => x) : [s];
    };
    const transfer = (node: CfgNode, input: StateSet): StateSet => {
      if (!node.ast) return input;
      const acts = node.kind === 'effect' || node.kind === 'branch' || node.kind === 'return';
      const owns = acts && isRelevant(node);
      const writes = feasibility !== undefined && (node.kind === 'effect' || node.kind === 'branch');
      if (!owns && !writes) return input;
      const out: StateSet = new Map();
      for (const s of input.values()) {
        const next = !owns ? [s] : node.kind === 'return' ? afterReturn(node, s) : ev.statement(node.ast, s, node.at);
        for (let s2 of next) {
          if (writes) {
            const f = feasibility!.afterNode(node, s2.facts);
            if (f !== s2.facts) s2 = { ...s2, facts: f };
          }
          if (!out.has(key(s2))) out.set(key(s2), s2);
        }
      }
      return out;
    };
    const inputs = solveForward<StateSet>(
      cfg,
      {
        initial: new Map([[key(initial), initial]]),
        transfer,
        onEdge: (edge, out, from) => {
          const facts = edge.holds !== undefined && from.ast ? conditionFacts(from, edge.holds) : undefined;
          // `res = f(...); if (res == Py_None) Py_DECREF(Py_None);`: along this edge the reference
          // the function holds through `res` is a reference to the singleton.
          const gained = facts?.gained;
          const feasible = feasibility !== undefined && from.ast && (edge.holds !== undefined || edge.caseValue);
          if (!edge.step && !facts?.filters && !gained && !facts?.mayOwn && !feasible && !facts?.failed) return out;
          const m: StateSet = new Map();
          for (const s0 of out.values()) {
            // A condition on a local (`r != Py_None`, `r == NULL`) removes the paths it contradicts.
            if (facts?.filters && !consistent(from.ast!, edge.holds!, s0, tracked)) continue;
            let s = s0;
            if (feasible) {
              // A path that contradicts what earlier branches said of a flag cannot run.
              const f = edge.caseValue ? feasibility!.alongCase(from, edge.caseValue, s.facts) : feasibility!.alongBranch(from, edge.holds!, s.facts);
              if (!f) continue;
              if (f !== s.facts) s = { ...s, facts: f };
            }
            if (edge.step) s = withStep(s, edge.step);
            const v = gained ? tracked.get(gained.name) : undefined;
            if (gained && v !== undefined && s.vars[v] === OTHER) s = withOwned(setVar(s, v, gained.singleton), gained.singleton, +1);
            if (facts?.mayOwn && (s.mayOwn | facts.mayOwn) !== s.mayOwn) s = { ...s, mayOwn: s.mayOwn | facts.mayOwn };
            // `if (PyModule_AddObject(m, "x", Py_None) < 0) return -1;`: a call that failed stole nothing.
            const failed = facts?.failed;
            if (failed && s.debts.some((d) => failed.has(Math.floor(d / 8)))) s = { ...s, debts: s.debts.filter((d) => !failed.has(Math.floor(d / 8))) };
          if (failed && s.lastSteal.some((n) => n && failed.has(n.site))) s = { ...s, lastSteal: s.lastSteal.map((n) => (n && failed.has(n.site) ? undefined : n)) };
            m.set(key(s), s);
          }
          return m;
        },
        join: (current, incoming) => {
          if (!current) return { value: incoming, changed: true };
          let changed = false;
          let value = current;
          for (const [k0, s0] of incoming) {
            if (value.has(k0)) continue;
            let k = k0;
            let s = s0;
            // At the cap, paths are no longer kept apart by what they know of flags (rather than dropped).
            if (value.size >= MAX_STATES && s.facts.length) {
              s = { ...s, facts: NO_FACTS };
              k = key(s);
              if (value.has(k)) continue;
            }
            if (value.size >= MAX_STATES + MAX_STATES / 4) {
              truncated = true;
              break;
            }
            if (!changed) value = new Map(current);
            value.set(k, s);
            changed = true;
          }
          return { value, changed };
        },
      },
      opts.budget,
    );
    const returns: ReturnVerdict[] = [];
    ev.withEvents(() => {
      for (const node of cfg.nodes) {
        const input = inputs.get(node.id);
        if (!input) continue;
        if ((node.kind === 'effect' || node.kind === 'branch') && node.ast && isRelevant(node)) {
          for (const s of input.values()) ev.statement(node.ast, s, node.at);
        }
        if (node.id === cfg.exit) for (const s of input.values()) ev.recordExit(s);
        if (node.kind !== 'return' || node.macroReturn || !node.ast) continue;
        const expr = returnedExpression(node.ast);
        if (!expr) continue;
        const outcomes: ReturnOutcome[] = [];
        if (isRelevant(node)) {
          for (const s of input.values()) {
            for (const [s2, v] of ev.expr(expr, s, node.at)) outcomes.push({ value: v, owned: v >= 0 && s2.owned[v] > 0, state: s2 });
          }
        }
        returns.push({ node, expr, outcomes });
      }
    });
    return { cfg, tracked, inputs, returns, events: ev.events, unpaid: ev.unpaid, paidSites: ev.paidSites, truncated };
  }
}

/** Whether some path returns, steals or releases a singleton without owning it (before feasibility). */
function hasCandidates(a: OwnershipAnalysis): boolean {
  return (
    a.unpaid.length > 0 ||
    a.returns.some((r) => r.outcomes.some((o) => o.value >= 0 && !o.owned)) ||
    a.events.some((e) => e.kind === 'decref' && e.singleton >= 0 && e.state.owned[e.singleton] === 0 && !e.excused)
  );
}

const ON_SUCCESS = Object.entries(STEALING).filter(([, e]) => e.when === 'on-success').map(([n]) => n);
const ON_SUCCESS_RE = new RegExp(`\\b(?:${ON_SUCCESS.join('|')})\\b`);

/**
 * Calls that steal only on success and that a condition, taken one way, shows may have
 * failed: `f(...) < 0`, `f(...) == -1`, `f(...) != 0` or a bare `f(...)` holding, `!f(...)`,
 * `f(...) == 0` or `f(...) >= 0` failing; through `||` (holding) and `&&` (failing).
 */
function failedCalls(cond: SyntaxNode, holds: boolean): SyntaxNode[] {
  const n = unwrapCasts(cond);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const a = n.childForFieldName('argument');
    return a ? failedCalls(a, !holds) : [];
  }
  if (n.type === 'call_expression') return ON_SUCCESS.includes(calleeName(n) ?? '') && holds ? [n] : [];
  if (n.type !== 'binary_expression') return [];
  const op = n.childForFieldName('operator')?.type;
  const l = n.childForFieldName('left');
  const r = n.childForFieldName('right');
  if (!l || !r) return [];
  if ((op === '||' && holds) || (op === '&&' && !holds)) return [...failedCalls(l, holds), ...failedCalls(r, holds)];
  const lu = unwrapCasts(l);
  const ru = unwrapCasts(r);
  const [call, k, flip] = lu.type === 'call_expression' ? [lu, ru.text.replace(/\s+/g, ''), false] : ru.type === 'call_expression' ? [ru, lu.text.replace(/\s+/g, ''), true] : [undefined, '', false];
  if (!call || !ON_SUCCESS.includes(calleeName(call) ?? '')) return [];
  const cmp = flip ? ({ '<': '>', '>': '<', '<=': '>=', '>=': '<=' } as Record<string, string>)[op ?? ''] ?? op : op;
  // Which outcome of the comparison means the call returned -1 (failed).
  const failsWhen: boolean | undefined =
    (cmp === '<' && k === '0') || (cmp === '==' && k === '-1') || (cmp === '!=' && k === '0') || (cmp === '<=' && k === '-1')
      ? true
      : (cmp === '>=' && k === '0') || (cmp === '==' && k === '0') || (cmp === '!=' && k === '-1') || (cmp === '>' && k === '-1')
        ? false
        : undefined;
  return failsWhen !== undefined && failsWhen === holds ? [call] : [];
}

/**
 * Which expressions compared with a singleton may hold a reference the function owns: a
 * parameter only when the function releases or steals it (it then treats it as stolen), a
 * tracked local never (its value is followed), anything else (a new reference, a field of
 * an owning struct, a slot of a tuple the function filled) yes.
 */
function identityTestFilter(body: SyntaxNode, owning: ReadonlySet<string>, tracked: ReadonlyMap<string, number>): (e: SyntaxNode) => boolean {
  const text = body.text;
  const released = (name: string) => new RegExp(`\\b(?:Py_X?DECREF|Py_DecRef|Py_CLEAR|${Object.keys(STEALING).join('|')})\\s*\\([^;]*\\b${name}\\b`).test(text);
  // A local holding a new reference, or a local or parameter the function releases or steals (it treats it as owned).
  const ownedLocal = (u: SyntaxNode) => u.type === 'identifier' && (owning.has(u.text) || released(u.text));
  return (e) => {
    const u = unwrapCasts(e);
    // A field of a struct that owns its value (`self->cache`).
    if (u.type === 'field_expression') return true;
    // A slot read back from a tuple or list the function owns (`PyTuple_GET_ITEM(t, 0)` with `t` a new reference).
    if (u.type === 'call_expression') {
      const a = argList(u)[0];
      return /GET_ITEM|GetItem/.test(calleeName(u) ?? '') && !!a && (unwrapCasts(a).type === 'field_expression' || ownedLocal(unwrapCasts(a)));
    }
    // A tracked local's value is followed instead.
    return !tracked.has(u.text) && ownedLocal(u);
  };
}

/** Bits of the singletons a condition shows equal to an expression that may be owned (`x == Py_None` holding). */
function identityBits(cond: SyntaxNode, holds: boolean, mayBeOwned: (e: SyntaxNode) => boolean): number {
  return singletonTests(cond, holds).reduce((bits, t) => (mayBeOwned(t.expr) ? bits | (1 << t.singleton) : bits), 0);
}

export { BudgetExceeded };
