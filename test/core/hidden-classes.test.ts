import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { emptyForObjects, filledForObjects, filledNumbers, mapped, mappedNumbers } from '../../src/core/arrays';
import { RULES } from '../../src/core/rules';

const ROOT = path.join(__dirname, '..', '..', '..');

describe('hidden classes of the path analyses', () => {
  // The states, objects and arrays of pairs are made so that V8 gives each kind one hidden class
  // (references/state.ts, ownership/state.ts, arrays.ts): a second class sends the optimised
  // evaluators back to be compiled again. A spread (`{ ...o, owned }`), a field added later, a
  // literal written elsewhere or an array with holes would show here as a second class.
  it('gives each kind of state, object and array of pairs one class over a scan of every fixture with every rule', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--allow-natives-syntax',
        '-r',
        path.join(ROOT, 'out', 'test', 'helpers', 'hidden-classes.js'),
        path.join(ROOT, 'bin', 'cpyref.js'),
        '--format',
        'json',
        '--quiet',
        '--all',
        '--jobs',
        '1',
        '--select',
        RULES.map((x) => x.id).join(','),
        path.join(ROOT, 'test', 'fixtures'),
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const line = r.stderr.split('\n').find((l) => l.startsWith('CENSUS '));
    assert.ok(line, `no census printed (exit ${r.status}): ${r.stderr.slice(0, 500)}`);
    const census = JSON.parse(line.slice('CENSUS '.length)) as Record<string, number>;
    // Each kind was met (the scan went through both evaluators) ...
    for (const kind of ['RefState', 'RefState.vars', 'RefState.objs', 'Obj', 'RefPair', 'RefPair[]', 'PathState', 'PathState.vars', 'PathState.owned', 'PathState.steps', 'PathState.lastSteal', 'Pair', 'Pair[]']) {
      assert.ok(census[kind], `${kind} never met: ${line}`);
    }
    // ... in one class.
    assert.deepEqual(
      Object.entries(census).filter(([, n]) => n !== 1),
      [],
      line,
    );
  });
});

describe('arrays made packed', () => {
  it('give what map and fill give', () => {
    assert.deepEqual(mapped(['a', 'bb'], (s) => [s, s.length]), [
      ['a', 1],
      ['bb', 2],
    ]);
    assert.deepEqual(mappedNumbers([0, -1, 3], (x) => (x >= 0 ? -1 : x)), [-1, -1, -1]);
    assert.deepEqual(filledNumbers(3, -2), [-2, -2, -2]);
    assert.deepEqual(filledForObjects(2, undefined), [undefined, undefined]);
    const empty = emptyForObjects<string>();
    assert.deepEqual(empty, []);
    assert.notEqual(emptyForObjects(), empty, 'each call makes its own array');
  });
});
