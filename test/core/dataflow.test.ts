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

/** How many states each toy solve gave its transfer, by whether it had feasibility (counted apart from the budget). */
interface Carried {
  plain: number;
  feasible: number;
}

/**
 * Solves a toy problem over `cfg`: each node turns every state into `width` states (`plainWidth` without
 * feasibility, `wide` with it), as following flags multiplies a real analysis' states. Returns whether feasibility
 * was used, and how many states the transfer was given in all (also kept in `count`, for a solve that is stopped).
 */
function toySolve(cfg: Cfg, wide: number, plainWidth = 1, count: Carried = { plain: 0, feasible: 0 }) {
  return (feasibility: Feasibility | undefined, budget: Budget) => {
    const width = feasibility ? wide : plainWidth;
    let carried = 0;
    solveStateSets<Toy>(
      cfg,
      {
        initial: { facts: [], n: 0 },
        key: (s) => String(s.n),
        transfer: (_node, input) => {
          carried += input.size;
          count[feasibility ? 'feasible' : 'plain'] += input.size;
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
    // 20 states through each of the CFG's nodes: more than `plus` alone, within `times` plain solves more.
    const count = { plain: 0, feasible: 0 };
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 20, 1, count), () => true);
    assert.equal(r.feasible, true);
    assert.ok(count.feasible > FEASIBLE_WORK.plus && count.feasible <= FEASIBLE_WORK.times * count.plain + FEASIBLE_WORK.plus, `carried ${count.feasible} (plain ${count.plain})`);
  });

  it('stops a solve with feasibility that carries more states than the bound, and keeps the plain result', () => {
    const count = { plain: 0, feasible: 0 };
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 60, 1, count), () => true);
    assert.equal(r.feasible, false);
    assert.ok(count.plain > 300, `the plain solve visits every node (${count.plain})`);
    const bound = FEASIBLE_WORK.times * count.plain + FEASIBLE_WORK.plus;
    // Unbounded, it would carry 60 states through each node; it stops at the first node past the bound (counted from
    // zero: the plain solve's states are not the second solve's).
    assert.ok(count.feasible > bound - 60 && count.feasible <= bound, `stopped after ${count.feasible} states, bound ${bound}`);
    assert.ok(60 * count.plain > bound + 60, 'the unbounded solve would have carried more');
  });

  it('stops a solve with feasibility at FEASIBLE_WORK.most states, however much work the plain solve did', () => {
    // 10 states through each node without feasibility, 60 with it: within `times` plain solves more, over `most`.
    const count = { plain: 0, feasible: 0 };
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 60, 10, count), () => true);
    assert.equal(r.feasible, false);
    assert.ok(6 * count.plain <= FEASIBLE_WORK.times * count.plain + FEASIBLE_WORK.plus, 'the unbounded solve is within the relative bound');
    assert.ok(6 * count.plain > FEASIBLE_WORK.most + 60, `the unbounded solve would carry more than \`most\` (plain ${count.plain})`);
    assert.ok(count.feasible > FEASIBLE_WORK.most - 60 && count.feasible <= FEASIBLE_WORK.most, `stopped after ${count.feasible} states`);
  });

  it('leaves the plain solve unbounded', () => {
    // 60 states through each node: far more than the second solve's `plus` alone.
    const r = withFeasibility(cfg, { params: ['a', 'b'] }, budget(), toySolve(cfg, 1, 60), () => false);
    assert.equal(r.feasible, false);
    assert.ok(r.carried > 60 * 300, `carried ${r.carried}`);
  });
});
