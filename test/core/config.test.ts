import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { locateKey, readPyproject } from '../../src/core/config';

/** The text a problem's position marks, or undefined when it has none. */
function marked(text: string, p: { line?: number; column?: number; length?: number }): string | undefined {
  if (p.line === undefined) return undefined;
  const line = text.split(/\r?\n/)[p.line];
  return line.slice(p.column, (p.column ?? 0) + (p.length ?? 0));
}

describe('pyproject.toml problems carry the position of the offending key', () => {
  it('marks an unknown key on its own line', () => {
    const text = '[project]\nname = "x"\n\n[tool.cpyref]\ninclude = ["src/**/*.c"]\ncolour = "red"\n';
    const [p, ...rest] = readPyproject(text).problems;
    assert.equal(rest.length, 0);
    assert.equal(p.key, 'tool.cpyref.colour');
    assert.equal(p.line, 5);
    assert.equal(marked(text, p), 'colour');
  });

  it('marks a bad level inside an inline rules table, and in a [tool.cpyref.rules] table', () => {
    const inline = '[tool.cpyref]\nrules = { singleton-decref = "warning", borrowed-singleton-return = "loud" }\n';
    const [a] = readPyproject(inline).problems;
    assert.equal(a.line, 1);
    assert.equal(marked(inline, a), 'borrowed-singleton-return');
    const table = '[tool.cpyref]\ninclude = ["*.c"]\n\n[tool.cpyref.rules]\n"no-such-rule" = "error"\n';
    const [b] = readPyproject(table).problems;
    assert.equal(b.message, 'unknown rule id; ignored');
    assert.equal(b.line, 4);
    assert.equal(marked(table, b), '"no-such-rule"');
  });

  it('marks a dotted key written in the parent table', () => {
    const text = '[tool]\ncpyref.max-file-size = "big"\n';
    const [p] = readPyproject(text).problems;
    assert.equal(p.line, 1);
    assert.equal(marked(text, p), 'cpyref.max-file-size');
  });

  it('falls back to the [tool.cpyref] header, and gives TOML syntax errors their line', () => {
    assert.deepEqual(locateKey('x = 1\n[tool.cpyref]\n', 'tool.cpyref.nowhere'), { line: 1, column: 0, length: 13 });
    assert.deepEqual(locateKey('x = 1\n', 'tool.cpyref.nowhere'), {});
    const [p] = readPyproject('[tool.cpyref]\ninclude = [\n"a",\n= 3\n').problems;
    assert.match(p.message, /^not valid TOML/);
    assert.ok(p.line !== undefined && p.line >= 2, `a line in the broken part (${p.line})`);
  });
});
