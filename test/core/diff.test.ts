import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lineEdits } from '../../src/core/diff';
import { applyEdits } from '../../src/core/fixes';

describe('line edits between two texts', () => {
  it('gives one edit per changed place, each covering whole lines of the original', () => {
    const before = 'a\nb\nreturn Py_None;\nc\nd\ne\nreturn Py_True;\nf\n';
    const after = 'a\nb\nPy_RETURN_NONE;\nc\nd\ne\nPy_RETURN_TRUE;\nf\n';
    const edits = lineEdits(before, after);
    assert.deepEqual(
      edits.map((e) => [before.slice(e.start, e.end), e.newText]),
      [
        ['return Py_None;\n', 'Py_RETURN_NONE;\n'],
        ['return Py_True;\n', 'Py_RETURN_TRUE;\n'],
      ],
    );
  });

  it('inserts lines at a point, keeps CRLF and a last line without a newline', () => {
    const before = 'x\r\n    PyTuple_SET_ITEM(t, 0, Py_None);\r\nend';
    const after = 'x\r\n    Py_INCREF(Py_None);\r\n    PyTuple_SET_ITEM(t, 0, Py_None);\r\nend';
    const [e, ...rest] = lineEdits(before, after);
    assert.equal(rest.length, 0);
    assert.equal(e.start, e.end);
    assert.equal(e.newText, '    Py_INCREF(Py_None);\r\n');
    assert.equal(applyEdits(before, lineEdits(before, after)), after);
    assert.deepEqual(lineEdits(before, before), []);
  });

  it('turns any text into any other (random line edits)', () => {
    const line = fc.constantFrom('a\n', 'b\n', 'c\r\n', 'return Py_None;\n', '}\n', '', 'z');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.array(line, { maxLength: 30 }), (x, y) => {
        const before = x.join('');
        const after = y.join('');
        const edits = lineEdits(before, after);
        assert.equal(applyEdits(before, edits), after);
        for (let i = 1; i < edits.length; i++) assert.ok(edits[i - 1].end < edits[i].start || (edits[i - 1].end <= edits[i].start && edits[i - 1].start < edits[i].start), 'edits are ordered and apart');
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
