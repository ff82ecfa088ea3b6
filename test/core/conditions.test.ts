import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionOnTargets } from '../../src/core/conditions';

describe('#if conditions on the targeted Pythons', () => {
  it('decides tests of CPython version macros by the lowest target, and leaves the rest to the build', () => {
    const cases: Array<[string, [number, number], boolean | undefined]> = [
      ['0', [3, 8], false],
      ['( 1 )', [3, 8], true],
      ['PY_MAJOR_VERSION < 3', [3, 8], false],
      ['PY_MAJOR_VERSION >= 3', [3, 8], true],
      ['PY_MAJOR_VERSION == 2', [3, 8], false],
      ['PY_MAJOR_VERSION > 2 /* Python 3 */', [3, 8], true],
      ['PY_VERSION_HEX >= 0x03030000', [3, 8], true],
      ['PY_VERSION_HEX < 0x030300F0', [3, 8], false],
      ['PY_VERSION_HEX >= 0x03080000', [3, 8], true],
      // 3.8.0's alphas are below 0x030800F0: not every target passes.
      ['PY_VERSION_HEX >= 0x030800F0', [3, 8], undefined],
      ['PY_VERSION_HEX >= 0x030C0000', [3, 8], undefined],
      ['PY_VERSION_HEX >= 0x030C0000', [3, 12], true],
      ['PY_VERSION_HEX < 0x030C0000', [3, 12], false],
      ['0x030900A0 <= PY_VERSION_HEX', [3, 10], true],
      ['PY_MAJOR_VERSION >= 3 && PY_MINOR_VERSION >= 3', [3, 8], true],
      ['(PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION < 5)', [3, 8], false],
      ['PY_MINOR_VERSION >= 10', [3, 8], undefined],
      ['!(PY_MAJOR_VERSION < 3)', [3, 8], true],
      ['defined(Py_LIMITED_API)', [3, 8], undefined],
      ['!defined(X) && 0', [3, 8], false],
      ['defined X || PY_MAJOR_VERSION >= 3', [3, 8], true],
      ['defined(X) && PY_MAJOR_VERSION >= 3', [3, 8], undefined],
      ['IS_PY3K', [3, 8], undefined],
      ['PY_VERSION_AT_LEAST(3, 9)', [3, 8], undefined],
      ['PY_VERSION_HEX + 1 > 0', [3, 8], undefined],
      ['PY_MAJOR_VERSION >= 3 \\\n && PY_MINOR_VERSION >= 7', [3, 8], true],
      ['(PY_MAJOR_VERSION >= 3', [3, 8], undefined],
      ['PY_MINOR_VERSION != 7', [3, 8], true],
      ['PY_MINOR_VERSION != 9', [3, 8], undefined],
      ['PY_VERSION_HEX > 0x0307FFFF', [3, 8], true],
      ['PY_VERSION_HEX > 0x03080000', [3, 8], undefined],
      ['PY_VERSION_HEX <= 0x0307FFFF', [3, 8], false],
      // A project that still targets 2.7 targets 3.x too.
      ['PY_MAJOR_VERSION >= 3', [2, 7], undefined],
      ['PY_MAJOR_VERSION < 2', [2, 7], false],
      ['PY_MINOR_VERSION < 5', [2, 7], undefined],
      ['PY_VERSION_HEX >= 0x02070000', [2, 7], true],
      // Names an object has (`toString`) are not version macros.
      ['toString > 0', [3, 8], undefined],
      ['constructor', [3, 8], undefined],
      ['', [3, 8], undefined],
    ];
    for (const [text, min, want] of cases) assert.equal(conditionOnTargets(text, min), want, `${text} for ${min.join('.')}`);
  });
});
