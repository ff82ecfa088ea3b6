import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkRefsProgram,
  describeRefsMismatch,
  expectedOf,
  refsProgramArb,
  renderRefs,
  resolve,
  type RStmt,
} from './oracle-refs';

/**
 * The fixed seed of the reference oracle's run in `npm test`. Longer runs:
 * `npm run oracle -- --refs --runs 10000 [--seed S]` (scripts/oracle-long.ts).
 */
const SEED = 20261127;
const RUNS = 600;

const ret = (what: number, v = 0): RStmt => ({ k: 'return', what, v });
const alloc = (v: number, check = 0, fn = 0): RStmt => ({ k: 'alloc', v, fn, check });

/** The oracle's verdict on a hand-written program, as `rule@source line` (the line's text, trimmed). */
function verdict(body: RStmt[], opts: { nv?: number; final?: RStmt; cleanup?: Array<{ v: number; form: number }> } = {}): string[] {
  const p = resolve({ nv: opts.nv ?? 2, body, final: opts.final ?? ret(1), cleanup: opts.cleanup ?? [] });
  const { source, lineOf } = renderRefs(p);
  const lines = source.split('\n');
  const v = expectedOf(p, lineOf);
  return [...v.findings, ...v.also]
    .map((f) => {
      const i = f.indexOf(':');
      return `${f.slice(i + 1)}@${lines[Number(f.slice(0, i)) - 1].trim()}`;
    })
    .sort();
}

describe('oracle: the reference analysis agrees with path enumeration on generated functions', () => {
  it(`agrees on ${RUNS} generated functions (seed ${SEED}), and the oracle expects findings of every rule`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(refsProgramArb, async (p) => {
        const r = await checkRefsProgram(p);
        if (!r.agree) throw new Error(describeRefsMismatch(r));
        for (const e of r.expected) {
          const rule = e.slice(e.indexOf(':') + 1);
          seen.set(rule, (seen.get(rule) ?? 0) + 1);
        }
      }),
      { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
    );
    // Not vacuous: the generated functions have findings of each kind (the figures of one run, roughly halved).
    for (const [rule, least] of [
      ['owned-reference-leak', 280],
      ['owned-reference-leak(also)', 70],
      ['release-not-owned', 100],
      ['use-after-release', 15],
      ['use-after-release(info)', 2],
      ['borrowed-reference-return', 60],
    ] as const)
      assert.ok((seen.get(rule) ?? 0) >= least, `${rule}: ${seen.get(rule) ?? 0} expected findings in the run, fewer than ${least}`);
  });

  it('the oracle itself: leaks on error paths, cleanup labels, overwrites, discards', () => {
    // The documented example: the second allocation's failure returns while the first is held.
    assert.deepEqual(verdict([alloc(0, 2), alloc(1, 2)], { final: ret(0) }), ['owned-reference-leak@return NULL;', 'owned-reference-leak@return a;'].sort());
    // One cleanup label releasing both: nothing leaks, whichever allocation failed.
    assert.deepEqual(verdict([alloc(0, 1), alloc(1, 1), { k: 'decref', v: 1, form: 0 }], { final: ret(0), cleanup: [{ v: 0, form: 1 }, { v: 1, form: 1 }] }), []);
    // A cleanup label that forgets `b`, reached after `b` is made: the leak is reported at its return, once.
    const jump: RStmt = { k: 'if', c: { kind: 0, a: 2, b: 0 }, then: [{ k: 'goto' }] };
    assert.deepEqual(verdict([alloc(0, 1), alloc(1, 1), jump, { k: 'decref', v: 1, form: 0 }], { final: ret(0), cleanup: [{ v: 0, form: 1 }] }), ['owned-reference-leak@return NULL;']);
    // ... and not when only the failures of the allocations jump there.
    assert.deepEqual(verdict([alloc(0, 1), alloc(1, 1), { k: 'decref', v: 1, form: 0 }], { final: ret(0), cleanup: [{ v: 0, form: 1 }] }), []);
    // Overwritten while it holds the only reference: at the overwrite, not at the return.
    assert.deepEqual(verdict([alloc(0), alloc(0, 0, 1)], { final: ret(0) }), ['owned-reference-leak@a = PyUnicode_FromString("s");']);
    // Still held by an alias: overwriting one local loses nothing.
    assert.deepEqual(verdict([alloc(0), { k: 'alias', v: 1, from: 0 }, alloc(0, 0, 1), { k: 'decref', v: 1, form: 0 }], { final: ret(0) }), []);
    // A discarded result, shown at its call; it also leaks nowhere else.
    assert.deepEqual(verdict([{ k: 'discard', fn: 0 }]), ['owned-reference-leak@PyLong_FromLong(0);']);
    // First place in source order; the others are listed.
    assert.deepEqual(verdict([alloc(0), { k: 'if', c: { kind: 0, a: 1, b: 0 }, then: [ret(1)] }], { final: ret(2) }), [
      'owned-reference-leak(also)@Py_RETURN_NONE;',
      'owned-reference-leak@return NULL;',
    ]);
    // An unchecked allocation may be NULL; releasing it with Py_XDECREF is fine, and so is returning it.
    assert.deepEqual(verdict([alloc(0), { k: 'decref', v: 0, form: 1 }]), []);
    assert.deepEqual(verdict([alloc(0)], { final: ret(0) }), []);
    // On the NULL side of the test there is no object: `return NULL` there leaks nothing.
    assert.deepEqual(verdict([alloc(0, 2)], { final: ret(0) }), []);
    // `if (PyErr_Occurred())`: what may be NULL is taken to be NULL (the failed call set the error).
    assert.deepEqual(verdict([alloc(0), { k: 'errcheck', form: 1 }], { final: ret(0) }), []);
    // ... but a tested object is not.
    assert.deepEqual(verdict([alloc(0, 2), { k: 'errcheck', form: 1 }], { final: ret(0) }), ['owned-reference-leak@return NULL;']);
  });

  it('the oracle itself: releases not owned, uses after release, borrowed returns', () => {
    const borrow = (v: number, fn = 0): RStmt => ({ k: 'borrow', v, fn, check: 2 });
    // A borrowed result released.
    assert.deepEqual(verdict([borrow(0), { k: 'decref', v: 0, form: 0 }]), ['release-not-owned@Py_DECREF(a);']);
    // A borrowed result incref'd first: owned, and released once.
    assert.deepEqual(verdict([borrow(0), { k: 'incref', v: 0, form: 0 }, { k: 'decref', v: 0, form: 0 }]), []);
    // A parameter of a registered function released.
    assert.deepEqual(verdict([{ k: 'param' }]), ['release-not-owned@Py_DECREF(arg);']);
    // Released twice: the second release is not owned (reported once; the object is not followed further).
    assert.deepEqual(verdict([alloc(0, 2), { k: 'decref', v: 0, form: 0 }, { k: 'decref', v: 0, form: 1 }, { k: 'decref', v: 0, form: 0 }]), ['release-not-owned@Py_XDECREF(a);']);
    // Py_CLEAR sets the local to NULL: a second Py_CLEAR does nothing.
    assert.deepEqual(verdict([alloc(0, 2), { k: 'decref', v: 0, form: 2 }, { k: 'decref', v: 0, form: 2 }]), []);
    // Used after its last reference was released.
    assert.deepEqual(verdict([alloc(0, 2), { k: 'decref', v: 0, form: 0 }, { k: 'use', v: 0, form: 0 }]), ['use-after-release@(void)PyObject_Hash(a);']);
    // Given to a container the function holds: the use is information.
    assert.deepEqual(verdict([alloc(0, 2, 2), alloc(1), { k: 'steal', v: 1, into: 0, form: 0 }, { k: 'use', v: 1, form: 0 }], { final: ret(0) }), ['use-after-release(info)@(void)PyObject_Hash(b);']);
    // ... a warning when the container was released first.
    assert.deepEqual(verdict([alloc(0, 2, 2), alloc(1), { k: 'steal', v: 1, into: 0, form: 0 }, { k: 'decref', v: 0, form: 0 }, { k: 'use', v: 1, form: 0 }]), ['use-after-release@(void)PyObject_Hash(b);']);
    // The failure of the second allocation returns while the list is held.
    assert.deepEqual(verdict([alloc(0, 2, 2), alloc(1, 2), { k: 'steal', v: 1, into: 0, form: 0 }], { final: ret(0) }), ['owned-reference-leak@return NULL;']);
    // Stealing a borrowed reference.
    assert.deepEqual(verdict([alloc(0, 2, 2), borrow(1, 1), { k: 'steal', v: 1, into: 0, form: 0 }], { final: ret(0) }), ['release-not-owned@PyList_SetItem(a, 0, b);']);
    // PyList_Append leaves the caller's reference: still to be released.
    assert.deepEqual(verdict([alloc(0, 2, 2), alloc(1), { k: 'append', v: 1, into: 0, form: 0 }], { final: ret(0) }), ['owned-reference-leak@return a;']);
    // Returning a borrowed reference; Py_NewRef makes it a new one.
    assert.deepEqual(verdict([borrow(0)], { final: ret(0) }), ['borrowed-reference-return@return a;']);
    assert.deepEqual(verdict([borrow(0)], { final: ret(3) }), []);
    assert.deepEqual(verdict([], { final: ret(4) }), ['borrowed-reference-return@return arg;']);
    // Returning a released object is a use after release.
    assert.deepEqual(verdict([alloc(0, 2), { k: 'decref', v: 0, form: 0 }], { final: ret(0) }), ['use-after-release@return a;']);
  });

  it('the oracle itself: branches taken both ways on the same int are not paths', () => {
    const c0 = { kind: 0, a: 0, b: 0 };
    // Allocated and released under the same condition: no path leaks.
    assert.deepEqual(verdict([{ k: 'if', c: c0, then: [alloc(0, 2)] }, { k: 'if', c: c0, then: [{ k: 'decref', v: 0, form: 0 }] }]), []);
    // Released under the opposite one: both the leak and, on no path, a release.
    assert.deepEqual(verdict([{ k: 'if', c: c0, then: [alloc(0, 2)] }, { k: 'if', c: { ...c0, kind: 1 }, then: [{ k: 'decref', v: 0, form: 0 }] }]), ['owned-reference-leak@return NULL;']);
  });

  it('a container overwritten after it took a stolen item is lost at the overwrite (a bug the oracle found)', async () => {
    const filled: RStmt[] = [alloc(0, 2, 2), alloc(1), { k: 'steal', v: 1, into: 0, form: 0 }];
    assert.deepEqual(verdict([...filled, alloc(0, 0, 0)]), ['owned-reference-leak@a = PyLong_FromLong(3);', 'owned-reference-leak@return NULL;'].sort());
    const r = await checkRefsProgram(resolve({ nv: 2, body: [...filled, alloc(0, 0, 0)], final: ret(1), cleanup: [] }));
    assert.ok(r.agree, describeRefsMismatch(r));
  });
});
