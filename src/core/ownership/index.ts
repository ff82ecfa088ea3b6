/** The ownership analysis of one function: the CFG, the path states at each node, and the events and returns the rules read. */
import type { CfgNode } from '../cfg';
import { BudgetExceeded, functionCfg, solveStateSets, withFeasibility, type Budget } from '../dataflow';
import { Feasibility, NO_FACTS } from '../feasibility';
import { parameterNames } from '../functions';
import type { SyntaxNode } from '../parser';
import { namedKids, SINGLETONS } from '../syntax';
import { emptyForObjects, filledForObjects, filledNumbers, mapped } from '../arrays';
import { OTHER, PathState, StateSet, MAX_STATES, MAX_TRACKED, key, makePathState, withFields, withOwned, withStep, ReturnOutcome, ReturnVerdict, ConsumeEvent, UnpaidDebt, OwnershipAnalysis, OwnershipOptions, setVar } from './state';
import { SINGLETON_RE, trackedLocals, owningLocals } from './locals';
import { ownedThroughComparison, consistent, ON_SUCCESS_RE, failedCalls, identityTestFilter, identityBits } from './conditions';
import { Evaluator, type EventSink } from './evaluator';

/** The expression a return statement returns, if any. */
export function returnedExpression(ret: SyntaxNode): SyntaxNode | undefined {
  return namedKids(ret)[0];
}

/** Runs the ownership data flow over a function body. */
export function analyzeOwnership(body: SyntaxNode, opts: OwnershipOptions): OwnershipAnalysis {
  const expander = opts.expander;
  const macros = opts.macros ?? expander?.macros;
  const cfg = opts.cfg ?? functionCfg(body, expander, opts.budget);
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
  const params = parameterNames(body.parent);
  return withFeasibility(cfg, { params, nullParams: opts.nullParams, macroAssigned: opts.macroAssigned, macros }, opts.budget, solve, hasCandidates);

  function solve(feasibility: Feasibility | undefined, budget: Budget): OwnershipAnalysis {
    const ev = new Evaluator(tracked, expander);
    const initial = makePathState(filledNumbers(tracked.size, OTHER), filledNumbers(SINGLETONS.length, 0), [], 0, feasibility?.initial ?? NO_FACTS, emptyForObjects(), filledForObjects(SINGLETONS.length, undefined));
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
        const mayOwn = SINGLETON_RE.test(text) || /Py_Is(?:None|True|False)\b/.test(text) ? identityBits(from.ast!, holds, mayOwnTest, macros) : 0;
        const failed = ON_SUCCESS_RE.test(text) ? new Set(failedCalls(from.ast!, holds, macros).flatMap((c) => ev.sitesOf(c))) : undefined;
        f = { filters: mentionsTracked, gained: owning.size ? ownedThroughComparison(from.ast!, holds, owning, macros) : undefined, mayOwn, failed: failed?.size ? failed : undefined };
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
      return expr ? mapped(ev.expr(expr, s, node.at), ([x]) => x) : [s];
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
            if (f !== s2.facts) s2 = withFields(s2, { facts: f });
          }
          if (!out.has(key(s2))) out.set(key(s2), s2);
        }
      }
      return out;
    };
    const inputs = solveStateSets<PathState>(
      cfg,
      {
        initial,
        key,
        transfer,
        onEdge: (edge, out, from) => {
          const facts = edge.holds !== undefined && from.ast ? conditionFacts(from, edge.holds) : undefined;
          // `res = f(...); if (res == Py_None) Py_DECREF(Py_None);`: along this edge the reference
          // the function holds through `res` is a reference to the singleton.
          const gained = facts?.gained;
          const feasible = feasibility !== undefined && Feasibility.decides(from, edge);
          if (!edge.step && !facts?.filters && !gained && !facts?.mayOwn && !feasible && !facts?.failed) return out;
          const m: StateSet = new Map();
          for (const s0 of out.values()) {
            // A condition on a local (`r != Py_None`, `r == NULL`) removes the paths it contradicts.
            if (facts?.filters && !consistent(from.ast!, edge.holds!, s0, tracked, macros)) continue;
            let s = s0;
            if (feasible) {
              // A path that contradicts what earlier branches said of a flag cannot run.
              const f = feasibility!.alongEdge(from, edge, s.facts);
              if (!f) continue;
              if (f !== s.facts) s = withFields(s, { facts: f });
            }
            if (edge.step) s = withStep(s, edge.step);
            const v = gained ? tracked.get(gained.name) : undefined;
            if (gained && v !== undefined && s.vars[v] === OTHER) s = withOwned(setVar(s, v, gained.singleton), gained.singleton, +1);
            if (facts?.mayOwn && (s.mayOwn | facts.mayOwn) !== s.mayOwn) s = withFields(s, { mayOwn: s.mayOwn | facts.mayOwn });
            // `if (PyModule_AddObject(m, "x", Py_None) < 0) return -1;`: a call that failed stole nothing.
            const failed = facts?.failed;
            if (failed && s.debts.some((d) => failed.has(Math.floor(d / 8)))) s = withFields(s, { debts: s.debts.filter((d) => !failed.has(Math.floor(d / 8))) });
          if (failed && s.lastSteal.some((n) => n && failed.has(n.site))) s = withFields(s, { lastSteal: mapped(s.lastSteal, (n) => (n && failed.has(n.site) ? undefined : n)) });
            m.set(key(s), s);
          }
          return m;
        },
        max: MAX_STATES,
        withFacts: (s, f) => withFields(s, { facts: f }),
        overflow: () => {
          truncated = true;
        },
      },
      budget,
    );
    const returns: ReturnVerdict[] = [];
    const events: ConsumeEvent[] = [];
    const unpaid: UnpaidDebt[] = [];
    const paidSites = new Set<number>();
    const sink: EventSink = { consumed: (e) => events.push(e), unpaid: (d) => unpaid.push(d), paid: (site) => paidSites.add(site) };
    ev.withSink(sink, () => {
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
    return { cfg, tracked, inputs, returns, events, unpaid, paidSites, truncated };
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

export { BudgetExceeded };

export { OTHER, unpaidSites, type ConsumeEvent, type OwnershipAnalysis, type OwnershipOptions, type PathState, type ReturnOutcome, type ReturnVerdict, type StateSet, type StealNote, type UnpaidDebt } from './state';
export { cxxFacts, owningLocals, trackedLocals, type CxxFacts } from './locals';
export { consistent } from './conditions';
