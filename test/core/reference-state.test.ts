import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_STEPS, pathSteps, withStep, type RefState } from '../../src/core/references/state';

describe('reference states: path steps', () => {
  const start: RefState = { vars: [], objs: [], facts: [], steps: undefined };
  const step = (i: number) => ({ start: i, end: i + 1, message: `step ${i}` });

  it('keeps the last MAX_STEPS branches, in the order they were taken', () => {
    let s = start;
    for (let i = 0; i < MAX_STEPS + 3; i++) s = withStep(s, step(i));
    assert.deepEqual(
      pathSteps(s).map((x) => x.start),
      Array.from({ length: MAX_STEPS }, (_, i) => i + 3),
    );
  });

  it('leaves the state it came from as it was (states share their steps)', () => {
    const a = withStep(withStep(start, step(1)), step(2));
    const b = withStep(a, step(3));
    const c = withStep(a, step(4));
    assert.deepEqual(pathSteps(a).map((x) => x.message), ['step 1', 'step 2']);
    assert.deepEqual(pathSteps(b).map((x) => x.message), ['step 1', 'step 2', 'step 3']);
    assert.deepEqual(pathSteps(c).map((x) => x.message), ['step 1', 'step 2', 'step 4']);
    assert.deepEqual(pathSteps(start), []);
  });
});
