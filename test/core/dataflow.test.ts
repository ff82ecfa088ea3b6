import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { FEASIBLE_WORK, functionCfg, solveStateSets, withFeasibility, type Budget } from '../../src/core/dataflow';
import type { Cfg } from '../../src/core/cfg';
import type { Feasibility } from '../../src/core/feasibility';
import { findFunctions } from '../../src/core/functions';
import { CParser } from '../../src/core/parser';

/** A toy state: its number keeps `width` states apart at every node. */
interface Toy {
  facts: readonly string[];
  n: number;
}

/**
 * Solves a toy problem over `cfg`: each node turns every state into `width` states (1 without feasibility, `wide`
 * with it), as following flags multiplies a real analysis' states. Returns whether feasibility was used, and how many
 * states the transfer was given in all.
 */
function toySolve(cfg: Cfg, wide: number) {
  return (feasibility: Feasibility | undefined, budget: Budget) => {
    const width = feasibility ? wide : 1;
    let carried = 0;
    solveStateSets<Toy>(
      cfg,
      {
        initial: { facts: [], n: 0 },
        key: (s) => String(s.n),
        transfer: (_node, input) => {
          carried += input.size;
          const out = new Map<string, Toy>();
          for (let n = 0; n < width; n++) out.set(String(n), { facts: [], n });
          return out;
        },
        max: 64,
        overflow: () => assert.fail('the toy never has more than 64 states at a node'),
      },
      budget,
    );
    return { feasible: !!feasibility, carried };
  };
}

describe('withFeasibility', () => {
  let cfg: Cfg;
  before(async () => {
    // 150 tests of two flags: the second solve follows them (each is tested more than once).
    const text = `int f(int a, int b) {\n${Array.from({ length: 150 }, (_, i) => `  if (${i % 2 ? 'a' : 'b'}) g${i}();\n`).join('')}  return 0;\n}\n`;
    const parser = await CParser.load();
    const tree = parser.parse(text);
    const [fn] = findFunctions(tree.rootNode, text);
    cfg = functionCfg(fn.body, undefined, { maxSteps: 200_000, deadline: Date.now() + 60_000 });
  });
  const budget = (): Budget => ({ maxSteps: 200_000, deadline: Date.now() + 60_000 });

  it('gives the result with feasibility when its solve stays within the plain solve work times FEASIBLE_WORK', () => {
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 4), () => true);
    assert.equal(r.feasible, true);
  });

  it('stops a solve with feasibility that carries more states than the bound, and keeps the plain result', () => {
    let plainWork = 0;
    let wideWork = 0;
    const solve = toySolve(cfg, 60);
    const r = withFeasibility(
      cfg,
      { params: ['a', 'b'] },
      budget(),
      (f, b) => {
        try {
          const out = solve(f, b);
          if (!f) plainWork = out.carried;
          return out;
        } finally {
          // (What the stopped solve carried: the budget counts it.)
          if (f) wideWork = b.spent!.states;
        }
      },
      () => true,
    );
    assert.equal(r.feasible, false);
    assert.ok(plainWork > 300, `the plain solve visits every node (${plainWork})`);
    const bound = FEASIBLE_WORK.times * plainWork + FEASIBLE_WORK.plus;
    // Unbounded, it would carry 60 states through each node; it stops at the first node past the bound.
    assert.ok(wideWork > bound && wideWork <= bound + 60, `stopped at ${wideWork} states, bound ${bound}`);
    assert.ok(60 * plainWork > bound + 60, 'the unbounded solve would have carried more');
  });

  it('leaves the plain solve unbounded', () => {
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 1), () => false);
    assert.equal(r.feasible, false);
    assert.ok(r.carried > 300);
  });
});
