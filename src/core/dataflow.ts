import { buildCfg, type Cfg, type CfgEdge, type CfgNode } from './cfg';
import type { MacroDef, MacroExpander } from './macros';
import type { SyntaxNode } from './parser';
import { Feasibility, NO_FACTS, type Facts } from './feasibility';

/** Thrown when an analysis exceeds its budget; the function is skipped with a reason. */
export class BudgetExceeded extends Error {}

/** Limits a single function's analysis. */
export interface Budget {
  /** Maximum node visits. */
  maxSteps: number;
  /** Wall-clock deadline (ms since epoch). */
  deadline: number;
  /** Path states carried through nodes, counted when set (see `withFeasibility`). */
  spent?: { states: number };
  /** At most this many path states carried through nodes (counted in `spent`). */
  maxStates?: number;
}

/**
 * A forward problem over sets of path states, each keyed by its identity. The transfer and
 * the edges treat each state on its own (a set's result is the union of its states'), so
 * each state goes through each node once: a node visited again is given only the states it
 * has not seen.
 */
export interface StateSetProblem<S extends { facts: readonly string[] }> {
  /** The state at the function's entry. */
  initial: S;
  key(s: S): string;
  /**
   * The states after `node`, given states before it (only states not given before). It may return `input` itself, and
   * must not change it, nor a map it returned: the solver hands maps on without copying them.
   */
  transfer(node: CfgNode, input: Map<string, S>): Map<string, S>;
  /** The states carried along `edge` (filtered by its condition, with a path step recorded); as `transfer`, it may return `output` and changes no map. */
  onEdge?(edge: CfgEdge, output: Map<string, S>, from: CfgNode): Map<string, S>;
  /**
   * The cap of states at one node: from `max` on, a new state forgets its flag facts (paths
   * are no longer kept apart by them, rather than dropped); at `max * 5/4` `overflow` is
   * called, which gives the function up (throws) or stops taking the states (returns).
   */
  max: number;
  overflow(): void;
  /** `s` with other facts (a spread of `s` when not given; an analysis whose states V8 should keep in one hidden class makes them its own way). */
  withFacts?(s: S, facts: Facts): S;
}

/** Solves a state-set problem with a worklist; returns the states at the entry of each reachable node. */
export function solveStateSets<S extends { facts: readonly string[] }>(cfg: Cfg, problem: StateSetProblem<S>, budget: Budget): Map<number, Map<string, S>> {
  const { key, max } = problem;
  const all = new Map<number, Map<string, S>>();
  // States at a node not yet carried through it. The first states to reach a node are often all it gets before it is
  // visited: they are kept as the map the edge carried (`shared`), copied only if more states are added to them.
  // (No map a transfer or an edge gives is changed afterwards, so sharing one is safe.)
  const fresh = new Map<number, Map<string, S>>();
  const shared = new Set<number>();
  const initial = new Map([[key(problem.initial), problem.initial]]);
  all.set(cfg.entry, initial);
  fresh.set(cfg.entry, new Map(initial));
  const queue: number[] = [cfg.entry];
  const queued = new Set<number>(queue);
  const enqueue = (id: number) => {
    if (queued.has(id)) return;
    queue.push(id);
    queued.add(id);
  };
  let steps = 0;
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head];
    queued.delete(id);
    if (++steps > budget.maxSteps || (steps % 256 === 0 && Date.now() > budget.deadline)) {
      throw new BudgetExceeded(`analysis exceeded its budget after ${steps} steps`);
    }
    const node = cfg.nodes[id];
    const input = fresh.get(id)!;
    fresh.delete(id);
    shared.delete(id);
    if (budget.spent && (budget.spent.states += input.size) > (budget.maxStates ?? Infinity)) {
      throw new BudgetExceeded(`analysis carried more than ${budget.maxStates} path states`);
    }
    const out = problem.transfer(node, input);
    for (const edge of node.succ) {
      const carried = problem.onEdge ? problem.onEdge(edge, out, node) : out;
      const current = all.get(edge.to);
      if (!current) {
        // (The first states to reach a node are taken whole.)
        all.set(edge.to, new Map(carried));
        fresh.set(edge.to, carried);
        shared.add(edge.to);
        enqueue(edge.to);
        continue;
      }
      let added: Map<string, S> | undefined;
      for (const [k0, s0] of carried) {
        if (current.has(k0)) continue;
        let k = k0;
        let s = s0;
        if (current.size >= max && s.facts.length) {
          s = problem.withFacts ? problem.withFacts(s, NO_FACTS) : { ...s, facts: NO_FACTS };
          k = key(s);
          if (current.has(k)) continue;
        }
        if (current.size >= max + max / 4) {
          problem.overflow();
          break;
        }
        current.set(k, s);
        if (!added) {
          added = fresh.get(edge.to);
          if (!added) fresh.set(edge.to, (added = new Map()));
          else if (shared.delete(edge.to)) fresh.set(edge.to, (added = new Map(added)));
        }
        added.set(k, s);
      }
      if (added) enqueue(edge.to);
    }
  }
  return all;
}

/**
 * A function's control-flow graph, with project macros used as statements expanded, built
 * within a budget (over it: `BudgetExceeded`). Built once per function and shared by the
 * analyses that need it.
 */
export function functionCfg(body: SyntaxNode, expander: MacroExpander | undefined, budget: Budget, condition?: (condText: string) => boolean | undefined): Cfg {
  const over = () => {
    throw new BudgetExceeded('analysis exceeded its bound while building the control-flow graph');
  };
  const cfg = buildCfg(body, {
    expandStatement: expander ? (_stmt, expr) => expander.statements(expr) : undefined,
    condition,
    checkBudget: (nodes) => {
      if (nodes > budget.maxSteps / 2 || Date.now() > budget.deadline) over();
    },
  });
  if (Date.now() > budget.deadline) over();
  return cfg;
}

/**
 * How much more work than the plain solve the solve with feasibility may do (path states carried through nodes): it
 * keeps paths apart by their flags, so it carries more states, but on the real-world set never more than 10.3 times
 * the plain solve's where it finishes, and never more than about 5,000 states in all. One that would need more
 * (a module's init function of 3,000 nodes carried 160,000 states before it gave up at the cap of states per node,
 * a second of work for nothing) stops early: the plain result stands, as it would have. `most` bounds it whatever the
 * plain solve's work: the same module init function, whose plain solve carried 7,768 states, carried 67,000 more (a
 * fifth of a second) before it gave up at `times`; no solve with feasibility that finishes on the real-world set carries
 * more than 4,857.
 */
export const FEASIBLE_WORK = { times: 8, plus: 5_000, most: 15_000 };

/**
 * An analysis that drops the paths branches on flags rule out, only where it matters:
 * `solve` runs without feasibility first, and again with it when `needed(plain)` and the
 * function tests some flag twice. Over the bound with flags (`budget`'s, or `FEASIBLE_WORK`: `times` the plain
 * solve's work plus `plus`, and never more than `most`), the plain result stands (it has more paths, never fewer).
 */
export function withFeasibility<T>(
  cfg: Cfg,
  flags: { params: readonly string[]; nullParams?: readonly string[]; macroAssigned?: ReadonlySet<string>; macros?: ReadonlyMap<string, MacroDef> },
  budget: Budget,
  solve: (feasibility: Feasibility | undefined, budget: Budget) => T,
  needed: (plain: T) => boolean,
): T {
  const spent = { states: 0 };
  const plain = solve(undefined, { ...budget, spent });
  if (!needed(plain)) return plain;
  const feasibility = new Feasibility(cfg.nodes, flags.params, flags.nullParams, flags.macroAssigned, flags.macros);
  if (feasibility.empty) return plain;
  try {
    return solve(feasibility, { ...budget, spent: { states: 0 }, maxStates: Math.min(FEASIBLE_WORK.times * spent.states + FEASIBLE_WORK.plus, FEASIBLE_WORK.most) });
  } catch (e) {
    if (e instanceof BudgetExceeded) return plain;
    throw e;
  }
}
