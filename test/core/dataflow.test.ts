import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { FEASIBLE_WORK, functionCfg, solveStateSets, withFeasibility, type Budget } from '../../src/core/dataflow';
import type { Cfg, CfgNode } from '../../src/core/cfg';
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

describe('solveStateSets', () => {
  it('adds states to a map only once the node owns it, not to the map its siblings were handed too', () => {
    // The entry keeps its input and hands the same map to 2, 3 and 4; 2 gives 1 to 3 before 3 and 4 are visited.
    // Node 4 (which passes its states to 5) must not see that 1.
    const nodes: CfgNode[] = [0, 1, 2, 3, 4, 5].map((id) => ({ id, kind: 'effect', succ: [] }));
    nodes[0].succ.push({ to: 2 }, { to: 3 }, { to: 4 });
    nodes[2].succ.push({ to: 3 });
    nodes[4].succ.push({ to: 5 });
    const solved = solveStateSets<Toy>(
      { nodes, entry: 0, exit: 1 },
      {
        initial: { facts: [], n: 0 },
        key: (s) => String(s.n),
        transfer: (node, input) => (node.id === 2 ? new Map([...input.values()].map((s) => [String(s.n + 1), { facts: [], n: s.n + 1 }])) : input),
        max: 64,
        overflow: () => assert.fail('two states at most'),
      },
      { maxSteps: 1000, deadline: Date.now() + 60_000 },
    );
    const at = (id: number) => [...solved.get(id)!.values()].map((s) => s.n).sort();
    assert.deepEqual(at(3), [0, 1]);
    assert.deepEqual(at(4), [0]);
    assert.deepEqual(at(5), [0]);
  });

  /**
   * A random graph (node 0 the entry) whose nodes keep their input (every third one, as a statement that changes
   * nothing does) or map each state n to (n * a + b) mod 31, and whose edges carry their states whole or only those of
   * one parity. Such a problem treats each state on its own, so the solver's states at each node must be the least
   * fixpoint, worked out here by plain iteration. (It does not catch a state added to a map another node still
   * reads: the random graphs rarely make one show. The test above does.)
   */
  it('gives each node the states of the least fixpoint (random graphs)', () => {
    const graph = fc.integer({ min: 2, max: 9 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 2 * n }),
        maps: fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.nat(30)), { minLength: n, maxLength: n }),
      }),
    );
    fc.assert(
      fc.property(graph, ({ n, edges, maps }) => {
        const nodes: CfgNode[] = Array.from({ length: n }, (_, id) => ({ id, kind: 'effect', succ: [] }));
        for (const [from, to, filter] of edges) nodes[from].succ.push({ to, holds: filter === 0 ? undefined : filter === 1 });
        const cfg: Cfg = { nodes, entry: 0, exit: 1 };
        const step = (id: number, x: number) => (id % 3 === 0 ? x : (x * maps[id][0] + maps[id][1]) % 31);
        const passes = (holds: boolean | undefined, x: number) => holds === undefined || (x % 2 === 0) === holds;
        const solved = solveStateSets<Toy>(
          cfg,
          {
            initial: { facts: [], n: 0 },
            key: (s) => String(s.n),
            transfer: (node, input) => {
              if (node.id % 3 === 0) return input;
              const out = new Map<string, Toy>();
              for (const s of input.values()) out.set(String(step(node.id, s.n)), { facts: [], n: step(node.id, s.n) });
              return out;
            },
            onEdge: (edge, out) => (edge.holds === undefined ? out : new Map([...out].filter(([, s]) => passes(edge.holds, s.n)))),
            max: 64,
            overflow: () => assert.fail('at most 31 states'),
          },
          { maxSteps: 100_000, deadline: Date.now() + 60_000 },
        );
        const expected: Array<Set<number>> = Array.from({ length: n }, () => new Set<number>());
        expected[0].add(0);
        for (let changed = true; changed; ) {
          changed = false;
          for (const node of nodes) {
            for (const x of [...expected[node.id]]) {
              const y = step(node.id, x);
              for (const e of node.succ) {
                if (passes(e.holds, y) && !expected[e.to].has(y)) {
                  expected[e.to].add(y);
                  changed = true;
                }
              }
            }
          }
        }
        for (const node of nodes) {
          const got = [...(solved.get(node.id)?.values() ?? [])].map((s) => s.n).sort();
          assert.deepEqual(got, [...expected[node.id]].sort(), `node ${node.id}`);
        }
      }),
      { numRuns: 500, seed: 12 },
    );
  });
});
