/**
 * The path states of the reference analysis: which object each local holds, and for each
 * object how many references the function owns, whether it may be NULL, where it came
 * from and whether it was released or given away (issue 12, clang's retain-count state).
 */
import type { PathStep, Span } from '../cfg';
import type { Facts } from '../feasibility';
import { emptyForObjects, mappedNumbers } from '../arrays';

/** A local's value: an object id (≥ 0), an untracked value, or NULL. */
export const UNKNOWN = -1;
export const NULLV = -2;
/** A pointer that is not an object the analysis follows and cannot be NULL (`PyBytes_AS_STRING(o)` of an object). */
export const NONNULL = -3;

/** Where an object came from: a call returning a new reference, one returning a borrowed one, or a parameter. */
export type Origin = 'new' | 'borrowed' | 'param';

/**
 * What became of the function's references to an object: still its own (`live`),
 * released by a `Py_DECREF` that dropped its last one (`released`), given to a call that
 * steals it (`stolen`), or out of the analysis' sight (`escaped`: stored into a field, a
 * global or an array, or passed to a call the analysis knows nothing of).
 */
export type Status = 'live' | 'released' | 'stolen' | 'escaped';

/** An object identity on one path. */
export interface Obj {
  /** The creation site's id (one object per site on a path). */
  id: number;
  /** References the function owns (capped at MAX_OWNED). */
  owned: number;
  /** A test showed it is not NULL (or it cannot be). */
  nonNull: boolean;
  status: Status;
  /** For a stolen object: the object (a container) that took it, if a tracked one did. */
  holder: number | undefined;
  /** For a released or stolen object: the mark (see `Marks`) of the call that did it. */
  gone: number | undefined;
  /** Something else may keep its own reference: it was stored with `PyDict_SetItem`-like calls, read from a container (`PySequence_GetItem`), or given to Python code (`PyObject_Call*`). */
  kept: boolean;
}

/**
 * Every object and every state is made by `makeObj` and `makeState`, never by a literal
 * elsewhere or a spread (`{ ...o, owned }`). V8 then gives all of them one hidden class each,
 * and the analysis' reads of their fields stay monomorphic: with literals, spreads and fields
 * added later they had dozens (each spread site cloned into a class of its own, and a field
 * overwritten by a spread changed its class again), and the optimised evaluator was thrown
 * away and compiled again each time a hot loop met another.
 */
export function makeObj(id: number, owned: number, nonNull: boolean, status: Status, holder: number | undefined, gone: number | undefined, kept: boolean): Obj {
  return { id, owned, nonNull, status, holder, gone, kept };
}

export function makeState(vars: number[], objs: Obj[], facts: Facts, steps: Steps | undefined): RefState {
  return { vars, objs, facts, steps };
}

/** No objects (shared: a state's arrays are never changed once made). */
export const NO_OBJS: Obj[] = emptyForObjects();

/** A live object the function holds `owned` references to. */
export function newObj(id: number, owned: number, nonNull: boolean, kept: boolean): Obj {
  return makeObj(id, owned, nonNull, 'live', undefined, undefined, kept);
}

/** `o` with what became of the function's references to it changed (its identity, NULL-ness and `kept` stay). */
export function objWith(o: Obj, owned: number, status: Status, holder: number | undefined, gone: number | undefined): Obj {
  return makeObj(o.id, owned, o.nonNull, status, holder, gone, o.kept);
}

/** Where an object was created. */
export interface Site {
  id: number;
  start: number;
  end: number;
  /** The call (or the parameter's name). */
  callee: string;
  origin: Origin;
  /** The call is written as an argument of another call (the file-level form of reference-leak judges it). */
  argument: boolean;
}

/** The facts on one path. */
export interface RefState {
  /** By tracked local: an object id, UNKNOWN or NULLV. */
  vars: number[];
  /** The objects the path knows, sorted by id. */
  objs: Obj[];
  facts: Facts;
  /** Branches that led here, the last first (not part of the state's identity; see `pathSteps`). */
  steps: Steps | undefined;
}

/** A path's branches as a list each state shares with the states it came from: a step costs one cell, not a copy. */
export interface Steps {
  step: PathStep;
  prev: Steps | undefined;
}

export type RefPair = [RefState, number];
export type RefStateSet = Map<string, RefState>;

export const MAX_OWNED = 3;
export const MAX_OBJECTS = 24;
export const MAX_REF_STATES = 64;
export const MAX_STEPS = 12;

/**
 * States' identities, for one analysis: a state's key names its locals, its objects and its facts by
 * small numbers, each given to a content the first time it is met. (The arrays of a state are never
 * changed once made, so each array's number is looked up by the array itself after the first time:
 * most states share their facts and many their locals or objects with the state they came from, and
 * the facts, written out, were four fifths of the keys' text.)
 */
export class RefKeys {
  private readonly arrays = new WeakMap<readonly unknown[], number>();
  private readonly texts = new Map<string, number>();

  key(s: RefState): string {
    const f = s.facts.length ? this.id(s.facts, factsText) : -1;
    return `${this.id(s.vars, varsText)}|${this.id(s.objs, objsText)}|${f}`;
  }

  /** The states, each identity once (the first state met of each). */
  dedupe(states: RefState[]): RefState[] {
    if (states.length < 2) return states;
    const m = new Map<string, RefState>();
    for (const s of states) {
      const k = this.key(s);
      if (!m.has(k)) m.set(k, s);
    }
    return [...m.values()];
  }

  private id<T extends readonly unknown[]>(a: T, text: (a: T) => string): number {
    let id = this.arrays.get(a);
    if (id === undefined) {
      // (A prefix per kind: the locals, the objects and the facts of a state never share a number.)
      const t = text(a);
      id = this.texts.get(t);
      if (id === undefined) this.texts.set(t, (id = this.texts.size));
      this.arrays.set(a, id);
    }
    return id;
  }
}

function varsText(vars: readonly number[]): string {
  return 'v' + vars.join(',');
}

function objsText(objs: readonly Obj[]): string {
  let k = 'o';
  for (const o of objs) k += `${o.id}.${o.owned}${o.nonNull ? 'n' : ''}${o.status[0]}${o.holder ?? ''}${o.gone !== undefined ? '@' + o.gone : ''}${o.kept ? 'k' : ''};`;
  return k;
}

function factsText(facts: Facts): string {
  return 'f' + facts.join('\u0002');
}

export function objOf(s: RefState, id: number): Obj | undefined {
  for (const o of s.objs) if (o.id === id) return o;
  return undefined;
}

/** The state with object `id` replaced by `f(old)` (removed when `f` returns undefined). */
export function withObj(s: RefState, id: number, f: (o: Obj) => Obj | undefined): RefState {
  const i = s.objs.findIndex((o) => o.id === id);
  if (i < 0) return s;
  const next = f(s.objs[i]);
  const objs = s.objs.slice();
  if (next) objs[i] = next;
  else objs.splice(i, 1);
  return makeState(s.vars, objs, s.facts, s.steps);
}

/** The state without object `id`; the locals that held it hold `value` (UNKNOWN, or NULLV where it turned out NULL). */
export function withoutObj(s: RefState, id: number, value: number): RefState {
  const t = withObj(s, id, () => undefined);
  return s.vars.includes(id) ? makeState(mappedNumbers(s.vars, (x) => (x === id ? value : x)), t.objs, t.facts, t.steps) : t;
}

/** The state with a new object (replacing one with the same id). */
export function addObj(s: RefState, o: Obj): RefState {
  const objs = s.objs.filter((x) => x.id !== o.id);
  let i = objs.length;
  while (i > 0 && objs[i - 1].id > o.id) i--;
  objs.splice(i, 0, o);
  return makeState(s.vars, objs, s.facts, s.steps);
}

export function setVar(s: RefState, i: number, v: number): RefState {
  if (s.vars[i] === v) return s;
  const vars = s.vars.slice();
  vars[i] = v;
  return makeState(vars, s.objs, s.facts, s.steps);
}

export function withStep(s: RefState, step: PathStep): RefState {
  return makeState(s.vars, s.objs, s.facts, { step, prev: s.steps });
}

/** The last MAX_STEPS branches that led to a state, in the order they were taken. */
export function pathSteps(s: RefState): PathStep[] {
  const out: PathStep[] = [];
  for (let x = s.steps; x && out.length < MAX_STEPS; x = x.prev) out.push(x.step);
  return out.reverse();
}

/** What the replay reports to the rules. */
export type RefEvent =
  /** An owned reference nobody holds any more: overwritten, discarded, or left behind at a return or the function's end. */
  | {
      kind: 'leak';
      obj: Obj;
      site: Site;
      at: Span;
      /** `unchecked`: given to a call that takes it only when it succeeds (`callee`), whose result is not looked at. */
      how: 'overwritten' | 'discarded' | 'return' | 'end' | 'unchecked';
      local?: string;
      callee?: string;
      state: RefState;
    }
  /** A release (or a steal) of a reference the function does not own. */
  | { kind: 'release-unowned'; obj: Obj; site: Site; node: Span; arg: Span; callee: string; steal: boolean; local: string; state: RefState }
  /** A use of a local whose object the function released or gave away. */
  | { kind: 'use-after'; obj: Obj; site: Site; node: Span; local: string; how: string; disputed: boolean; state: RefState }
  /** A return of a borrowed reference from a function that returns an object. */
  | { kind: 'borrowed-return'; obj: Obj; site: Site; node: Span; expr: Span; local?: string; viaMacro: boolean; state: RefState };

/** Spans of the calls that released or stole an object, by mark id (for messages). */
export interface Mark {
  start: number;
  end: number;
  callee: string;
  steal: boolean;
}
