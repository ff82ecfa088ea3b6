import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectMacros, hintedCondition, withoutHints } from '../../src/core/macros';
import type { SyntaxNode } from '../../src/core/parser';
import { loadParser } from '../helpers/engine';

/** What each `if` condition of `body` reads as once its hints are taken off, with `defines` as the file's macros. */
async function conditions(defines: string, body: string): Promise<string[]> {
  const parser = await loadParser();
  const macros = new Map(collectMacros(defines).map((d) => [d.name, d]));
  const tree = parser.parse(`${defines}\nvoid f(void) {\n${body}\n}\n`);
  try {
    return tree.rootNode
      .descendantsOfType('if_statement')
      .map((s) => (s as SyntaxNode).childForFieldName('condition')!.namedChild(0)!)
      .map((c) => withoutHints(c, macros).text);
  } finally {
    tree.delete();
  }
}

describe('branch-prediction hints', () => {
  it('classifies the definitions that are hints, and keeps only those (and well-known names)', () => {
    const defs = collectMacros(
      [
        '#define UNLIKELY(x)  __builtin_expect (!!(x), 0)',
        '#define A(x) __builtin_expect(x, 0)',
        '#define B(c) __builtin_expect((c) != 0, 0)',
        '#define C(x) (x)',
        '#define E(x, y) __builtin_expect(x, y)',
        '#define F(x) __builtin_expect((long)(x), 0L)',
        '#define G(x) A(x)',
        '#define EXP __builtin_expect',
        '#define likely(x) check(x)',
        '#define H(x) bar(x)',
        '#define ALIAS SOMETHING',
        '#define K(x) __builtin_expect(x == NULL, 0)',
        '#define M(x) ((x) + 1)',
        '#define N(x) !(x)',
      ].join('\n'),
    );
    const forms = Object.fromEntries(defs.map((d) => [d.name, d.hint ? JSON.stringify(d.hint) : 'none']));
    assert.deepEqual(forms, {
      UNLIKELY: '{"param":0}',
      A: '{"param":0}',
      B: '{"param":0}',
      C: '{"param":0}',
      E: '{"param":0}',
      F: '{"param":0}',
      G: '{"call":"A","args":[0]}',
      EXP: '{"alias":"__builtin_expect"}',
      likely: '{"call":"check","args":[0]}',
    });
    assert.ok(defs.every((d) => d.conditionOnly));
  });

  it('reads a condition through `__builtin_expect`, project hints, aliases and well-known names', async () => {
    const defines = ['#define UNLIKELY(x) __builtin_expect(!!(x), 0)', '#define unlikely(x) UNLIKELY(x)', '#define EXPECT __builtin_expect'].join('\n');
    const body = [
      'if (__builtin_expect(a == NULL, 0)) {}',
      'if (UNLIKELY(b == NULL)) {}',
      'if (unlikely(c == NULL)) {}',
      'if (EXPECT(d == NULL, 0)) {}',
      'if (Py_UNLIKELY(e == NULL)) {}',
      'if (NPY_LIKELY(likely(f))) {}',
      'if (other(g == NULL)) {}',
      'if (UNLIKELY(h, 1)) {}',
    ].join('\n');
    assert.deepEqual(await conditions(defines, body), ['a == NULL', 'b == NULL', 'c == NULL', 'd == NULL', 'e == NULL', 'f', 'other(g == NULL)', 'UNLIKELY(h, 1)']);
  });

  it('does not read a well-known name the project defines otherwise as a hint', async () => {
    const defines = '#define likely(x) check(x)';
    assert.deepEqual(await conditions(defines, 'if (likely(a == NULL)) {}\nif (unlikely(b == NULL)) {}'), ['likely(a == NULL)', 'b == NULL']);
  });

  it('reads nothing but calls', async () => {
    const parser = await loadParser();
    const tree = parser.parse('int x = likely;\n');
    try {
      const id = tree.rootNode.descendantsOfType('identifier').find((n) => n?.text === 'likely')!;
      assert.equal(hintedCondition(id, undefined), undefined);
    } finally {
      tree.delete();
    }
  });
});
