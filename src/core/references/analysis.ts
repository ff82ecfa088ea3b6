/**
 * The reference analysis of one function: every local of pointer type holds an object
 * identity (or NULL, or something unknown), and each object carries the references the
 * function owns. Paths are enumerated as sets of states per CFG node (capped); the leaks,
 * releases of references not owned, uses after release and borrowed returns met on the
 * states that reach each node after the fixpoint are reported to the rules.
 */
import type { Cfg, CfgNode } from '../cfg';
import { BudgetExceeded, functionCfg, solveStateSets, withFeasibility, type Budget } from '../dataflow';
import { Feasibility, NO_FACTS } from '../feasibility';
import { parameterNames, parameters } from '../functions';
import { hintedCondition, type MacroDef, type MacroExpander } from '../macros';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, declaredLocal, declaredName, enclosing, hasWord, IS_CALLS, namedKids, SINGLETONS, unparenthesized, unwrap } from '../syntax';
import { singletonTests } from '../ownership/conditions';
import { returnedExpression } from '../ownership';
import { RefEvaluator, type RefSink } from './evaluator';
import type { FileNames } from './names';
import type { BorrowingParams } from './summaries';
import { filledNumbers, mapped } from '../arrays';
import { UNKNOWN, NULLV, NONNULL, MAX_REF_STATES, type Obj, type RefEvent, type RefState, type RefStateSet, type Site, type Mark, RefKeys, addObj, makeObj, makeState, newObj, NO_OBJS, objOf, setVar, withObj, withoutObj, withStep } from './state';

export interface ReferenceOptions {
  expander?: MacroExpander;
  budget: Budget;
  /** The function returns `PyObject *` (or another object pointer): a returned reference goes to the caller. */
  returnsObject: boolean;
  nullParams?: string[];
  macroAssigned?: ReadonlySet<string>;
  /** The function's CFG, when another analysis built it already (with the same expander). */
  cfg?: Cfg;
  /** The file's functions that only borrow some object parameters (see summaries.ts). */
  borrowing?: BorrowingParams;
  /** The file's aliases of C-API calls and its functions that return new references (see names.ts). */
  names?: FileNames;
  /** The file's macros, for the branch-prediction hints in conditions (the expander's when not given). */
  macros?: ReadonlyMap<string, MacroDef>;
}

/** What the rules read. */
export interface ReferenceAnalysis {
  cfg: Cfg;
  events: RefEvent[];
  sites: readonly Site[];
  marks: readonly Mark[];
  /** States at each return node (for fixes). */
  inputs: Map<number, RefStateSet>;
  locals: Map<string, number>;
}

/**
 * The locals the analysis follows: pointer locals declared in the body (not `static`, not
 * arrays) and pointer parameters, except those whose address is kept (`p = &x`) or that
 * a project macro assigns.
 */
export function referenceLocals(fnNode: SyntaxNode, body: SyntaxNode, macroAssigned: ReadonlySet<string> | undefined): { locals: Map<string, number>; params: string[] } {
  const names: string[] = [];
  const params: string[] = [];
  for (const p of parameters(fnNode)) {
    const d = p.childForFieldName('declarator');
    if (d?.type !== 'pointer_declarator') continue;
    const n = declaredName(d);
    if (n) {
      names.push(n.text);
      params.push(n.text);
    }
  }
  // (The text first: a declaration without `*` declares no pointer, and its children need not be read.)
  for (const decl of body.descendantsOfType('declaration')) {
    if (!decl) continue;
    const text = decl.text;
    if (!text.includes('*')) continue;
    if (/static|extern/.test(text) && decl.children.some((c) => c?.type === 'storage_class_specifier' && /static|extern/.test(c.text))) continue;
    for (const d of namedKids(decl)) {
      if (!/declarator$/.test(d.type)) continue;
      const inner = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
      if (inner?.type !== 'pointer_declarator') continue;
      const n = declaredLocal(d);
      if (n && declaredName(inner)?.text === n.text) names.push(n.text);
    }
  }
  // The address kept anywhere but as a call's argument: the local may change behind the analysis' back.
  const kept = new Set<string>();
  for (const p of body.text.includes('&') ? body.descendantsOfType('pointer_expression') : []) {
    const arg = p?.childForFieldName('argument');
    if (!p || p.child(0)?.type !== '&' || arg?.type !== 'identifier') continue;
    if (enclosing(p)?.type !== 'argument_list') kept.add(arg.text);
  }
  const out = new Map<string, number>();
  for (const n of names) if (!out.has(n) && !macroAssigned?.has(n) && !kept.has(n)) out.set(n, out.size);
  return { locals: out, params };
}

/**
 * Walks a condition along an edge holding `holds` down to the tests it is made of: through parentheses, `!`,
 * branch-prediction hints (`UNLIKELY(x == NULL)`, `__builtin_expect(!!(x), 0)`), and the operands of `&&` where
 * it holds or `||` where it fails (each operand then holds, or fails, too). `test` gets every other node.
 */
function conditionParts(cond: SyntaxNode, holds: boolean, macros: ReadonlyMap<string, MacroDef> | undefined, test: (n: SyntaxNode, holds: boolean) => void): void {
  switch (cond.type) {
    case 'parenthesized_expression':
    case 'condition_clause': {
      const k = namedKids(cond);
      if (k.length === 1) conditionParts(k[0], holds, macros, test);
      return;
    }
    case 'unary_expression': {
      const a = cond.child(0)?.type === '!' ? cond.childForFieldName('argument') : null;
      if (a) conditionParts(a, !holds, macros, test);
      return;
    }
    case 'call_expression': {
      const hinted = hintedCondition(cond, macros);
      if (hinted) {
        conditionParts(hinted, holds, macros, test);
        return;
      }
      break;
    }
    case 'binary_expression': {
      const op = cond.childForFieldName('operator')?.text ?? cond.child(1)?.text;
      const a = cond.childForFieldName('left');
      const b = cond.childForFieldName('right');
      if (a && b && ((op === '&&' && holds) || (op === '||' && !holds))) {
        conditionParts(a, holds, macros, test);
        conditionParts(b, holds, macros, test);
        return;
      }
      break;
    }
  }
  test(cond, holds);
}

const NULL_LITERAL = /^(?:NULL|0|nullptr|\(\s*\w+\s*\*\s*\)\s*(?:NULL|0))$/;

/**
 * A condition's consequences for NULL tests of locals: `x`, `!x`, `x == NULL`, `(x = f()) != NULL`,
 * `&&`, `||`, and any of those inside a branch-prediction hint.
 */
function nullTests(cond: SyntaxNode, holds: boolean, locals: Map<string, number>, out: Array<[number, boolean]>, macros: ReadonlyMap<string, MacroDef> | undefined): void {
  const test = (n: SyntaxNode, h: boolean): void => {
    switch (n.type) {
      case 'identifier': {
        const i = locals.get(n.text);
        if (i !== undefined) out.push([i, !h]);
        return;
      }
      case 'assignment_expression': {
        const left = n.childForFieldName('left');
        const l = left && unparenthesized(left);
        const i = l?.type === 'identifier' ? locals.get(l.text) : undefined;
        if (i !== undefined && (n.childForFieldName('operator')?.text ?? n.child(1)?.text) === '=') out.push([i, !h]);
        return;
      }
      case 'cast_expression':
        conditionParts(n.childForFieldName('value')!, h, macros, test);
        return;
      case 'comma_expression': {
        // `(PyErr_Clear(), (x = f()))`: the value is the last operand's.
        const r = n.childForFieldName('right');
        if (r) conditionParts(r, h, macros, test);
        return;
      }
      case 'binary_expression': {
        const op = n.childForFieldName('operator')?.text ?? n.child(1)?.text;
        const a = n.childForFieldName('left');
        const b = n.childForFieldName('right');
        if (!a || !b || (op !== '==' && op !== '!=')) return;
        const other = NULL_LITERAL.test(b.text) ? a : NULL_LITERAL.test(a.text) ? b : undefined;
        if (other) conditionParts(other, op === '==' ? !h : h, macros, test);
        return;
      }
    }
  };
  conditionParts(cond, holds, macros, test);
}

/**
 * Locals that a condition shows to be a singleton along an edge holding `holds` (the singleton analysis'
 * `singletonTests`: `x == Py_None`, `Py_IsNone(x)`, through `!`, `&&`, `||` and hints), each with the singleton's
 * own slot (see `singletonSlots`): there the singleton is the local's object, and releasing it
 * (`Py_DECREF(Py_None)`) releases the local's reference.
 */
function singletonSlotTests(cond: SyntaxNode, holds: boolean, locals: Map<string, number>, macros: ReadonlyMap<string, MacroDef> | undefined): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const t of singletonTests(cond, holds, macros)) {
    const i = t.expr.type === 'identifier' ? locals.get(t.expr.text) : undefined;
    const slot = locals.get(SINGLETONS[t.singleton]);
    if (i !== undefined && slot !== undefined) out.push([i, slot]);
  }
  return out;
}

const COMPARED_SINGLETON = new RegExp(
  `[=!]=\\s*(${SINGLETONS.join('|')})\\b|\\b(${SINGLETONS.join('|')})\\s*[=!]=|\\b(${Object.keys(IS_CALLS).join('|')})\\s*\\(`,
  'g',
);

/**
 * The singletons a body compares with (`ret == Py_None`, `Py_IsNone(ret)`), given slots after the locals: a slot
 * holds no object the analysis knows of, except after such a test, where it holds the local's (the singleton is
 * then that object).
 */
function singletonSlots(body: SyntaxNode, locals: Map<string, number>): void {
  for (const m of body.text.matchAll(COMPARED_SINGLETON)) {
    const name = m[1] ?? m[2] ?? SINGLETONS[IS_CALLS[m[3]]];
    if (!locals.has(name)) locals.set(name, locals.size);
  }
}

/** Whether a condition is `PyErr_Occurred()` (negated, or in a branch-prediction hint): `true` when the error is set along an edge holding `holds`. */
function errorSet(cond: SyntaxNode, holds: boolean, macros: ReadonlyMap<string, MacroDef> | undefined): boolean | undefined {
  let n = cond;
  let h = holds;
  for (;;) {
    if ((n.type === 'parenthesized_expression' || n.type === 'condition_clause') && namedKids(n).length === 1) n = namedKids(n)[0];
    else if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
      n = n.childForFieldName('argument')!;
      h = !h;
    } else {
      const hinted = hintedCondition(n, macros);
      if (!hinted) break;
      n = hinted;
    }
  }
  if (n.type === 'call_expression' && calleeName(n) === 'PyErr_Occurred') return h;
  return undefined;
}

/** Calls that put an item into a container and fail only when it is not a new one of the right size (`PyTuple_SetItem` of a tuple with another reference, an index out of range). */
const FILL_CALLS: Readonly<Record<string, string>> = { PyTuple_SetItem: 'PyTuple_New', PyList_SetItem: 'PyList_New' };

/**
 * The locals (with the call that makes such containers) whose `PyTuple_SetItem`/`PyList_SetItem` failed along an edge holding `holds`: `if (PyTuple_SetItem(t, i, x) < 0)`,
 * `!= 0`, `== -1`, a bare call, `!call`, through `&&`, `||`, parentheses and hints (the call gives 0 or -1).
 */
function failedFills(cond: SyntaxNode, holds: boolean, locals: Map<string, number>, macros: ReadonlyMap<string, MacroDef> | undefined): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  /** The container's local and the call that makes such containers. */
  const fill = (n: SyntaxNode): [number, string] | undefined => {
    const name = n.type === 'call_expression' ? calleeName(n) : undefined;
    if (!name || !FILL_CALLS[name]) return undefined;
    const first = argList(n)[0];
    const i = first?.type === 'identifier' ? locals.get(first.text) : undefined;
    return i === undefined ? undefined : [i, FILL_CALLS[name]];
  };
  conditionParts(cond, holds, macros, (n, h) => {
    const direct = fill(n);
    // (A bare call: non-zero, -1, is its failure.)
    if (direct !== undefined) {
      if (h) out.push(direct);
      return;
    }
    if (n.type !== 'binary_expression') return;
    const op = n.childForFieldName('operator')?.text ?? n.child(1)?.text;
    const a = n.childForFieldName('left');
    const b = n.childForFieldName('right');
    if (!a || !b || !op) return;
    // The call on either side, compared with 0, 1 or -1.
    const left = fill(unwrap(a));
    const target = left ?? fill(unwrap(b));
    const literal = (left ? b : a).text.replace(/\s/g, '');
    if (!target || !/^-?[01]$/.test(literal)) return;
    const k = Number(literal);
    const value = (r: number): boolean | undefined => {
      const [x, y] = left ? [r, k] : [k, r];
      switch (op) {
        case '<': return x < y;
        case '<=': return x <= y;
        case '>': return x > y;
        case '>=': return x >= y;
        case '==': return x === y;
        case '!=': return x !== y;
      }
      return undefined;
    };
    const failed = value(-1);
    const succeeded = value(0);
    if (failed === undefined || failed === succeeded) return;
    if (h === failed) out.push(target);
  });
  return out;
}

/** `o`, known not to be NULL. */
function nonNullObj(o: Obj): Obj {
  return makeObj(o.id, o.owned, true, o.status, o.holder, o.gone, o.kept);
}

/** Runs the reference analysis over a function. */
export function analyzeReferences(fnNode: SyntaxNode, body: SyntaxNode, opts: ReferenceOptions): ReferenceAnalysis {
  const expander = opts.expander;
  const macros = opts.macros ?? expander?.macros;
  const cfg = opts.cfg ?? functionCfg(body, expander, opts.budget);
  const { locals, params } = referenceLocals(fnNode, body, opts.macroAssigned);
  singletonSlots(body, locals);
  // (Worked out once for both solves.) A statement that calls nothing and names no followed local changes nothing here (`i++`, `n = len;`).
  const relevance = new Map<number, boolean>();
  // (Words looked up in `locals`: a regular expression of the locals' names cost more to compile than to run.)
  const namesLocal = (text: string) => hasWord(text, locals);
  const relevant = (node: CfgNode) => {
    let r = relevance.get(node.id);
    if (r === undefined) {
      const text = node.ast!.text;
      r = node.kind === 'return' || !!node.at || text.includes('(') || namesLocal(text);
      relevance.set(node.id, r);
    }
    return r;
  };
  // Every parameter is the function's own variable for the flags (an `int weighted` tested twice), not only the object ones it follows.
  const allParams = parameterNames(fnNode);
  return withFeasibility(cfg, { params: allParams, nullParams: opts.nullParams, macroAssigned: opts.macroAssigned, macros }, opts.budget, solve, (plain) => plain.events.length > 0);

  function solve(feasibility: Feasibility | undefined, budget: Budget): ReferenceAnalysis {
    const keys = new RefKeys();
    const refKey = (s: RefState) => keys.key(s);
    const ev = new RefEvaluator(locals, keys, expander, opts.returnsObject, opts.borrowing, opts.names, macros);
    let initial = makeState(filledNumbers(locals.size, UNKNOWN), NO_OBJS, feasibility?.initial ?? NO_FACTS, undefined);
    for (const p of params) {
      const i = locals.get(p);
      // (A parameter whose address is kept, or that a macro assigns, is not followed: it is no local of the analysis.)
      if (i === undefined) continue;
      if (opts.nullParams?.includes(p)) {
        initial = setVar(initial, i, NULLV);
        continue;
      }
      const id = ev.site(-1 - i, -1 - i, p, 'param', false);
      initial = addObj(setVar(initial, i, id), newObj(id, 0, false, false));
    }
    const testCache = new Map<string, { tests: Array<[number, boolean]>; error?: boolean; singletons: Array<[number, number]>; fills: Array<[number, string]> }>();
    const testsOf = (from: CfgNode, holds: boolean) => {
      const k = `${from.id}:${holds}`;
      let t = testCache.get(k);
      if (!t) {
        const tests: Array<[number, boolean]> = [];
        nullTests(from.ast!, holds, locals, tests, macros);
        t = { tests, error: errorSet(from.ast!, holds, macros), singletons: singletonSlotTests(from.ast!, holds, locals, macros), fills: failedFills(from.ast!, holds, locals, macros) };
        testCache.set(k, t);
      }
      return t;
    };
    const run = (node: CfgNode, s: RefState): RefState[] => {
      const sp = node.at ?? { start: node.ast!.startIndex, end: node.ast!.endIndex };
      if (node.kind === 'return') {
        if (node.macroReturn) return ev.returned(node.ast!, undefined, s, node.at);
        return ev.returned(node.ast!, returnedExpression(node.ast!), s, node.at);
      }
      return mapped(ev.statement(node.ast!, s, node.at), (x) => ev.collect(x, sp));
    };
    // The events of each state at each node, recorded as the worklist carries it through (the solver gives a node
    // only the states it has not seen: each state goes through each node once), so the replay after the fixpoint
    // only reads them. Only states with events are kept here: the states themselves are the solver's.
    const results = new Map<number, Map<string, RefEvent[]>>();
    let pending: RefEvent[] = [];
    const sink: RefSink = { event: (e) => pending.push(e) };
    const transfer = (node: CfgNode, input: RefStateSet): RefStateSet => {
      if (!node.ast) return input;
      if (node.kind !== 'effect' && node.kind !== 'branch' && node.kind !== 'return') return input;
      if (!feasibility && !relevant(node)) return input;
      const out: RefStateSet = new Map();
      const acts = relevant(node);
      for (const [k, s] of input) {
        const next = acts ? ev.withSink(sink, () => run(node, s)) : [s];
        if (pending.length) {
          let seen = results.get(node.id);
          if (!seen) results.set(node.id, (seen = new Map()));
          seen.set(k, pending);
          pending = [];
        }
        for (let s2 of next) {
          if (feasibility && node.kind !== 'return') {
            const f = feasibility.afterNode(node, s2.facts);
            if (f !== s2.facts) s2 = makeState(s2.vars, s2.objs, f, s2.steps);
          }
          const k2 = refKey(s2);
          if (!out.has(k2)) out.set(k2, s2);
        }
      }
      return out;
    };
    const inputs = solveStateSets<RefState>(
      cfg,
      {
        initial,
        key: refKey,
        transfer,
        onEdge: (edge, out, from) => {
          const t = edge.holds !== undefined && from.ast ? testsOf(from, edge.holds) : undefined;
          const feasible = feasibility !== undefined && Feasibility.decides(from, edge);
          if (!edge.step && !t?.tests.length && !t?.singletons.length && !t?.fills.length && t?.error === undefined && !feasible) return out;
          const m: RefStateSet = new Map();
          next: for (const [k0, s0] of out) {
            let s = s0;
            for (const [i, isNull] of t?.tests ?? []) {
              const v = s.vars[i];
              if (v === NULLV) {
                if (!isNull) continue next;
              } else if (v === NONNULL) {
                if (isNull) continue next;
              } else if (v >= 0) {
                const o = objOf(s, v)!;
                if (isNull) {
                  if (o.nonNull) continue next;
                  // NULL: the call failed, there is no object (nor any reference to it).
                  s = withoutObj(s, v, NULLV);
                } else if (!o.nonNull) s = withObj(s, v, nonNullObj);
              }
            }
            // `PyTuple_SetItem(t, ...)` cannot fail on a tuple this function made, tested not NULL and holds alone (nor
            // `PyList_SetItem` on such a list): the index is taken to be in range. Its failure branch is not a path.
            for (const [i, maker] of t?.fills ?? []) {
              const v = s.vars[i];
              const o = v >= 0 ? objOf(s, v) : undefined;
              if (o && o.status === 'live' && o.owned === 1 && o.nonNull && !o.kept && ev.sites[o.id].callee === maker) continue next;
            }
            for (const [i, slot] of t?.singletons ?? []) {
              const v = s.vars[i];
              if (v === NULLV) continue next;
              if (v >= 0) s = setVar(withObj(s, v, (o) => (o.nonNull ? o : nonNullObj(o))), slot, v);
            }
            // `if (PyErr_Occurred())`: what may be NULL is taken to be NULL (the failed call set the error).
            if (t?.error) {
              for (const o of s.objs) {
                if (!o.nonNull && ev.sites[o.id].origin !== 'param') s = withoutObj(s, o.id, NULLV);
              }
            }
            if (feasible) {
              const f = feasibility!.alongEdge(from, edge, s.facts);
              if (!f) continue;
              if (f !== s.facts) s = makeState(s.vars, s.objs, f, s.steps);
            }
            // (A path step is not part of a state's key.)
            const k = s === s0 ? k0 : refKey(s);
            if (edge.step) s = withStep(s, edge.step);
            m.set(k, s);
          }
          return m;
        },
        // Past the cap the paths seen are not all the paths: a leak cannot be told apart from a
        // path not followed, so the function is given up at once rather than explored in part.
        max: MAX_REF_STATES,
        withFacts: (s, f) => makeState(s.vars, s.objs, f, s.steps),
        overflow: () => {
          throw new BudgetExceeded(`more than ${MAX_REF_STATES + MAX_REF_STATES / 4} reference states at one point`);
        },
      },
      budget,
    );
    const events: RefEvent[] = [];
    const end = { start: body.endIndex - 1, end: body.endIndex };
    for (const node of cfg.nodes) {
      const input = inputs.get(node.id);
      if (!input) continue;
      if (node.id === cfg.exit) {
        ev.withSink({ event: (e) => events.push(e) }, () => {
          for (const s of input.values()) ev.fellOff(s, end);
        });
        continue;
      }
      const seen = results.get(node.id);
      if (!seen || !relevant(node)) continue;
      for (const k of input.keys()) {
        const e = seen.get(k);
        if (e) events.push(...e);
      }
    }
    return { cfg, events, sites: ev.sites, marks: ev.marks, inputs, locals };
  }
}
