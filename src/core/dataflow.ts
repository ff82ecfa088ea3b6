import { buildCfg, type Cfg, type CfgEdge, type CfgNode } from './cfg';
import type { MacroExpander } from './macros';
import type { SyntaxNode } from './parser';
import { Feasibility, NO_FACTS } from './feasibility';

/** A lattice of facts and the transfer over CFG nodes, for a forward analysis. */
export interface ForwardProblem<S> {
  /** Facts at the function's entry. */
  initial: S;
  /** Facts after `node`, given the facts before it. */
  transfer(node: CfgNode, input: S): S;
  /** Facts carried along `edge` (e.g. a path step recorded on a branch). */
  onEdge?(edge: CfgEdge, output: S, from: CfgNode): S;
  /** Joins `incoming` into `current`; `changed` says whether `current` grew. */
  join(current: S | undefined, incoming: S): { value: S; changed: boolean };
}

/** Thrown when an analysis exceeds its budget; the function is skipped with a reason. */
export class BudgetExceeded extends Error {}

/** Limits a single function's analysis. */
export interface Budget {
  /** Maximum node visits. */
  maxSteps: number;
  /** Wall-clock deadline (ms since epoch). */
  deadline: number;
}

/** Solves a forward problem with a worklist; returns the facts at the entry of each reachable node. */
export function solveForward<S>(cfg: Cfg, problem: ForwardProblem<S>, budget: Budget): Map<number, S> {
  const input = new Map<number, S>();
  input.set(cfg.entry, problem.initial);
  const queue: number[] = [cfg.entry];
  const queued = new Set<number>(queue);
  let steps = 0;
  while (queue.length) {
    const id = queue.shift()!;
    queued.delete(id);
    if (++steps > budget.maxSteps || (steps % 256 === 0 && Date.now() > budget.deadline)) {
      throw new BudgetExceeded(`analysis exceeded its budget after ${steps} steps`);
    }
    const node = cfg.nodes[id];
    const out = problem.transfer(node, input.get(id)!);
    for (const edge of node.succ) {
      const carried = problem.onEdge ? problem.onEdge(edge, out, node) : out;
      const { value, changed } = problem.join(input.get(edge.to), carried);
      if (changed || !input.has(edge.to)) {
        input.set(edge.to, value);
        if (!queued.has(edge.to)) {
          queue.push(edge.to);
          queued.add(edge.to);
        }
      }
    }
  }
  return input;
}

/**
 * The join of path-state sets keyed by their identity, with a cap: at `max` states a new
 * state forgets its flag facts (paths are no longer kept apart by them, rather than
 * dropped); at `max * 5/4` `overflow` is called, which stops taking states (returns) or
 * gives the function up (throws).
 */
export function cappedJoin<S extends { facts: readonly string[] }>(
  max: number,
  key: (s: S) => string,
  overflow: () => void,
): (current: Map<string, S> | undefined, incoming: Map<string, S>) => { value: Map<string, S>; changed: boolean } {
  return (current, incoming) => {
    if (!current) return { value: incoming, changed: true };
    let changed = false;
    let value = current;
    for (const [k0, s0] of incoming) {
      if (value.has(k0)) continue;
      let k = k0;
      let s = s0;
      if (value.size >= max && s.facts.length) {
        s = { ...s, facts: NO_FACTS };
        k = key(s);
        if (value.has(k)) continue;
      }
      if (value.size >= max + max / 4) {
        overflow();
        break;
      }
      if (!changed) value = new Map(current);
      value.set(k, s);
      changed = true;
    }
    return { value, changed };
  };
}

/**
 * A function's control-flow graph, with project macros used as statements expanded, built
 * within a budget (over it: `BudgetExceeded`). Built once per function and shared by the
 * analyses that need it.
 */
export function functionCfg(body: SyntaxNode, expander: MacroExpander | undefined, budget: Budget): Cfg {
  const over = () => {
    throw new BudgetExceeded('analysis exceeded its bound while building the control-flow graph');
  };
  const cfg = buildCfg(body, {
    expandStatement: expander ? (_stmt, expr) => expander.statements(expr) : undefined,
    checkBudget: (nodes) => {
      if (nodes > budget.maxSteps / 2 || Date.now() > budget.deadline) over();
    },
  });
  if (Date.now() > budget.deadline) over();
  return cfg;
}

/**
 * An analysis that drops the paths branches on flags rule out, only where it matters:
 * `solve` runs without feasibility first, and again with it when `needed(plain)` and the
 * function tests some flag twice. Over the bound with flags, the plain result stands (it
 * has more paths, never fewer).
 */
export function withFeasibility<T>(
  cfg: Cfg,
  flags: { params: readonly string[]; nullParams?: readonly string[]; macroAssigned?: ReadonlySet<string> },
  solve: (feasibility: Feasibility | undefined) => T,
  needed: (plain: T) => boolean,
): T {
  const plain = solve(undefined);
  if (!needed(plain)) return plain;
  const feasibility = new Feasibility(cfg.nodes, flags.params, flags.nullParams, flags.macroAssigned);
  if (feasibility.empty) return plain;
  try {
    return solve(feasibility);
  } catch (e) {
    if (e instanceof BudgetExceeded) return plain;
    throw e;
  }
}
