/**
 * Loaded with `node --allow-natives-syntax -r` before the CLI (see `test/core/hidden-classes.test.ts`): counts the
 * hidden classes (V8's maps) of the path analyses' states, objects and arrays of pairs while a scan runs in this
 * thread, and prints them as one JSON line on stderr when the process exits (`CENSUS {...}`).
 */
import { RefEvaluator } from '../../src/core/references/evaluator';
import { Evaluator } from '../../src/core/ownership/evaluator';
import type { RefState } from '../../src/core/references/state';
import type { PathState } from '../../src/core/ownership/state';

// (V8's own test function, readable only with --allow-natives-syntax: whether two objects share a hidden class.)
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

/** Per kind, one object of each hidden class met. */
const seen = new Map<string, object[]>();

function count(kind: string, x: object): void {
  // (An empty array has the class of arrays of small integers whatever it is meant to hold.)
  if (Array.isArray(x) && x.length === 0) return;
  let reps = seen.get(kind);
  if (!reps) seen.set(kind, (reps = []));
  if (!reps.some((r) => sameMap(r, x))) reps.push(x);
}

function refState(s: RefState): void {
  count('RefState', s);
  count('RefState.vars', s.vars);
  count('RefState.objs', s.objs);
  count('RefState.facts', s.facts);
  for (const o of s.objs) count('Obj', o);
}

function pathState(s: PathState): void {
  count('PathState', s);
  count('PathState.vars', s.vars);
  count('PathState.owned', s.owned);
  count('PathState.steps', s.steps);
  count('PathState.lastSteal', s.lastSteal);
}

type Pairs<S> = Array<[S, number]>;

/** Wraps an evaluator's `expr` so that each array of pairs it gives, each pair and each state in it is counted. */
function countResults<S>(proto: { expr(node: never, st: S, at: never): Pairs<S> }, pairs: string, state: (s: S) => void): void {
  const expr = proto.expr;
  proto.expr = function (this: unknown, node: never, st: S, at: never) {
    const out = expr.call(this, node, st, at);
    count(`${pairs}[]`, out);
    for (const p of out) {
      count(pairs, p);
      state(p[0]);
    }
    return out;
  };
}

countResults<RefState>(RefEvaluator.prototype, 'RefPair', refState);
countResults<PathState>(Evaluator.prototype, 'Pair', pathState);

process.on('exit', () => {
  process.stderr.write(`CENSUS ${JSON.stringify(Object.fromEntries([...seen].map(([k, v]) => [k, v.length])))}\n`);
});
