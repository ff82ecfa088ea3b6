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
type Expr<S> = (this: unknown, node: unknown, st: S, at: unknown) => Pairs<S>;

const refExpr = RefEvaluator.prototype.expr as Expr<RefState>;
RefEvaluator.prototype.expr = function (this: RefEvaluator, node, st, at) {
  const out = refExpr.call(this, node, st, at);
  count('RefPair[]', out);
  for (const p of out) {
    count('RefPair', p);
    refState(p[0]);
  }
  return out;
} as RefEvaluator['expr'];

const pathExpr = Evaluator.prototype.expr as Expr<PathState>;
Evaluator.prototype.expr = function (this: Evaluator, node, st, at) {
  const out = pathExpr.call(this, node, st, at);
  count('Pair[]', out);
  for (const p of out) {
    count('Pair', p);
    pathState(p[0]);
  }
  return out;
} as Evaluator['expr'];

process.on('exit', () => {
  process.stderr.write(`CENSUS ${JSON.stringify(Object.fromEntries([...seen].map(([k, v]) => [k, v.length])))}\n`);
});
