import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkProgram, describeMismatch, oracle, programArb, render, resolve, type Stmt } from './oracle';

/**
 * The fixed seed of the oracle run in `npm test`. For longer runs with random seeds:
 * `npm run oracle -- --runs 10000 [--seed S]` (scripts/oracle-long.ts).
 */
const SEED = 20261126;
const RUNS = 300;

describe('oracle: the analysis agrees with path enumeration on generated functions', () => {
  it(`agrees on ${RUNS} generated functions (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (p) => {
        const r = await checkProgram(p);
        if (!r.agree) throw new Error(describeMismatch(r));
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('the oracle itself: loops, fall-through, goto and #if on hand-written trees', () => {
    const inc: Stmt = { k: 'incref', s: 0, form: 0, spell: 0 };
    const dec: Stmt = { k: 'decref', s: 0, form: 0, spell: 0 };
    const ret: Stmt = { k: 'return', s: 0, form: 0, spell: 0 };
    const c = { kind: 0, a: 1, b: 0 };
    const verdict = (body: Stmt[]) => {
      const p = resolve(body);
      const { lineOf } = render(p);
      return oracle(p)
        .map((e) => `${e.rule}@${lineOf.get(e.id)}`)
        .sort();
    };
    const returns = (body: Stmt[]) => verdict(body).filter((v) => v.startsWith('borrowed-singleton-return')).length;
    // incref; return: owned.
    assert.equal(returns([inc, ret]), 0);
    // An incref inside a loop that may run zero times.
    assert.equal(returns([{ k: 'loop', kind: 'while', c, body: [inc], braces: true }, ret]), 1);
    // do { incref } while (c): at least once.
    assert.equal(returns([{ k: 'loop', kind: 'do', c, body: [inc], braces: true }, ret]), 0);
    // Three increfs, then a loop decrementing: after enough iterations the count is 0. (The loop's
    // test calls a function: a test of an unchanged local would keep its value, and the loop,
    // once entered, could not end.)
    const called = { kind: 4, a: 1, b: 0 };
    assert.equal(returns([inc, inc, inc, { k: 'loop', kind: 'while', c: called, body: [dec], braces: true }, ret]), 1);
    // The same loop on an unchanged local: entered, it never ends, so only the path around it returns.
    assert.equal(returns([inc, inc, inc, { k: 'loop', kind: 'while', c, body: [dec], braces: true }, ret]), 0);
    // switch fall-through: case 0 increfs and falls into case 1, which returns; case 1 alone does not own.
    assert.equal(
      returns([{ k: 'switch', c, cases: [{ isDefault: false, brk: false, body: [inc] }, { isDefault: false, brk: false, body: [ret] }] }]),
      1,
    );
    // #if 0 { incref } → return unowned; #ifdef { incref } #else { incref } → owned.
    assert.equal(returns([{ k: 'pp', branches: [{ cond: 'zero', flag: 0, body: [inc] }] }, ret]), 1);
    assert.equal(returns([{ k: 'pp', branches: [{ cond: 'ifdef', flag: 0, body: [inc] }], else: [inc] }, ret]), 0);
    // goto over the incref.
    assert.equal(returns([{ k: 'goto', target: 0 }, inc, { k: 'label' }, ret]), 1);
    // abort() before the return: nothing reaches it.
    assert.equal(returns([{ k: 'noreturn', form: 1 }, ret]), 0);
  });
});
