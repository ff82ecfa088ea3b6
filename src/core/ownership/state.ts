/** The path states of the ownership analysis (what one path knows, with its caps), and what the analysis hands the rules. */
import { type Cfg, type CfgNode, type PathStep, type Span } from '../cfg';
import { type Budget } from '../dataflow';
import { type Facts } from '../feasibility';
import type { MacroDef, MacroExpander } from '../macros';
import type { SyntaxNode } from '../parser';
import { CxxFacts } from './locals';

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

export const MAX_OWNED = 8;
export const MAX_STATES = 64;
export const MAX_PATH_STEPS = 12;
export const MAX_TRACKED = 12;
export const MAX_DEBTS = 8;

export function key(s: PathState): string {
  return s.vars.join(',') + '|' + s.owned.join(',') + '|' + s.debts.join(',') + '|' + s.mayOwn + (s.facts.length ? '|' + s.facts.join('\u0002') : '');
}

/**
 * Every path state is made here, never by a literal elsewhere or a spread (`{ ...s, owned }`): V8 then gives them
 * all one hidden class, and the analysis' hot loops do not meet a new one and have their optimised code thrown away
 * (see `makeState` in references/state.ts).
 */
export function makePathState(vars: number[], owned: number[], debts: number[], mayOwn: number, facts: Facts, steps: PathStep[], lastSteal: ReadonlyArray<StealNote | undefined>): PathState {
  return { vars, owned, debts, mayOwn, facts, steps, lastSteal };
}

/** `s` with some of its fields replaced. */
export function withFields(s: PathState, f: { vars?: number[]; owned?: number[]; debts?: number[]; mayOwn?: number; facts?: Facts; steps?: PathStep[]; lastSteal?: ReadonlyArray<StealNote | undefined> }): PathState {
  return makePathState(f.vars ?? s.vars, f.owned ?? s.owned, f.debts ?? s.debts, f.mayOwn ?? s.mayOwn, f.facts ?? s.facts, f.steps ?? s.steps, f.lastSteal ?? s.lastSteal);
}

export function withOwned(s: PathState, i: number, delta: number): PathState {
  const owned = s.owned.slice();
  owned[i] = Math.max(0, Math.min(MAX_OWNED, owned[i] + delta));
  return withFields(s, { owned });
}

export function withStep(s: PathState, step: PathStep): PathState {
  const steps = s.steps.length >= MAX_PATH_STEPS ? s.steps.slice(1) : s.steps.slice();
  steps.push(step);
  return withFields(s, { steps });
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
  /** The function's CFG, when another analysis built it already (with the same expander). */
  cfg?: Cfg;
  /** The file's macros, for the branch-prediction hints in conditions (the expander's when not given). */
  macros?: ReadonlyMap<string, MacroDef>;
}

export type Pair = [PathState, number];

export function setVar(s: PathState, i: number, v: number): PathState {
  if (s.vars[i] === v) return s;
  const vars = s.vars.slice();
  vars[i] = v;
  return withFields(s, { vars });
}

export function dedupe(states: PathState[]): PathState[] {
  if (states.length < 2) return states;
  const m = new Map<string, PathState>();
  for (const s of states) if (!m.has(key(s))) m.set(key(s), s);
  return [...m.values()];
}
