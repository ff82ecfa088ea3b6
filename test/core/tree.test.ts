import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type TS = require('web-tree-sitter');
import { CParser, type SyntaxNode } from '../../src/core/parser';
import { dialectOf } from '../../src/core/dialect';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Every C/C++ file of the fixtures and examples, and some broken text. */
function sources(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(c|cpp|cc|h|hpp)$/.test(e.name)) out.push({ name: path.relative(ROOT, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(ROOT, 'test', 'fixtures'));
  walk(path.join(ROOT, 'examples'));
  out.push({ name: 'broken.c', text: 'static PyObject *f(PyObject *self) {\n  if (x\n  return Py_None;\n' });
  out.push({ name: 'empty.c', text: '' });
  out.push({ name: 'unicode.c', text: '/* é ü — 😀 */\nstatic const char *s = "日本";\nint g(void) { return 0; }\n' });
  return out;
}

/** What is compared of each node, besides its fields, children and siblings. */
const PROPERTIES = ['type', 'typeId', 'startIndex', 'endIndex', 'startPosition', 'endPosition', 'isNamed', 'hasError', 'isMissing', 'text', 'childCount', 'namedChildCount'] as const;

/** Compares one of our nodes with web-tree-sitter's node for the same place, and their subtrees. */
function same(ours: SyntaxNode, theirs: TS.Node, fields: readonly (string | null)[], where: string): number {
  const at = `${where} ${theirs.type}@${theirs.startIndex}`;
  for (const p of PROPERTIES) assert.deepEqual(ours[p], theirs[p], `${at} ${p}`);
  for (const f of fields) {
    if (!f) continue;
    const a = ours.childForFieldName(f);
    let b = theirs.childForFieldName(f);
    // (web-tree-sitter also gives a grandchild for a field an aliased child inherits, as K&R definitions' `parameters`: ours are children only.)
    if (b && b.parent?.startIndex !== theirs.startIndex) b = null;
    assert.equal(a ? `${a.type}@${a.startIndex}-${a.endIndex}` : null, b ? `${b.type}@${b.startIndex}-${b.endIndex}` : null, `${at} field ${f}`);
  }
  const named = ours.namedChildren.map((n) => n.startIndex);
  assert.deepEqual(
    named,
    theirs.namedChildren.map((n) => n!.startIndex),
    at,
  );
  let count = 1;
  const kids = theirs.children;
  for (let i = 0; i < kids.length; i++) {
    const k = ours.child(i)!;
    assert.equal(k.parent, ours, at);
    // (Under a node with an error web-tree-sitter's siblings skip some zero-width nodes; ours are the parent's children.)
    if (!theirs.hasError) {
      assert.equal(k.previousSibling?.startIndex, kids[i]!.previousSibling?.startIndex, at);
      assert.equal(k.nextSibling?.startIndex, kids[i]!.nextSibling?.startIndex, at);
      assert.equal(k.previousNamedSibling?.startIndex, kids[i]!.previousNamedSibling?.startIndex, at);
      assert.equal(k.nextNamedSibling?.startIndex, kids[i]!.nextNamedSibling?.startIndex, at);
    }
    count += same(k, kids[i]!, fields, where);
  }
  return count;
}

test('tree: every node reads as web-tree-sitter reads it (types, extents, fields, children, siblings, errors)', async () => {
  const parser = await CParser.load();
  let nodes = 0;
  let files = 0;
  for (const { name, text } of sources()) {
    const tree = parser.for(dialectOf(name, text, [])).parse(text);
    try {
      nodes += same(tree.rootNode, tree.raw.rootNode, tree.language.fields, name);
      files++;
    } finally {
      tree.delete();
    }
  }
  assert.ok(files > 100 && nodes > 50_000, `${files} files, ${nodes} nodes`);
});

test('tree: descendantsOfType and descendantForIndex give web-tree-sitter’s nodes', async () => {
  const parser = await CParser.load();
  const key = (n: { type: string; startIndex: number; endIndex: number } | null) => (n ? `${n.type}@${n.startIndex}-${n.endIndex}` : null);
  let checked = 0;
  let indexed = 0;
  for (const { name, text } of sources()) {
    const tree = parser.for(dialectOf(name, text, [])).parse(text);
    try {
      // (Not 'ERROR' in a list: web-tree-sitter then finds nothing at all.)
      const types = ['return_statement', 'identifier', 'call_expression', 'comment', 'translation_unit'];
      for (const t of [...types.map((x) => [x]), ['ERROR'], types]) {
        assert.deepEqual(tree.rootNode.descendantsOfType(t).map(key), tree.raw.rootNode.descendantsOfType(t).map((n) => key(n)), `${name} ${t}`);
      }
      // Inner nodes too, and every offset (with a range of a few characters).
      const fn = tree.rootNode.descendantsOfType('compound_statement')[0];
      const raw = tree.raw.rootNode.descendantsOfType('compound_statement')[0];
      if (fn && raw) assert.deepEqual(fn.descendantsOfType(['identifier', 'compound_statement']).map(key), raw.descendantsOfType(['identifier', 'compound_statement']).map((n) => key(n)), name);
      // Each function body and each statement in it, asked for the types the analyses search for together (found in
      // one search, then picked out) in turn, and mixed with one that is searched for alone.
      const lists = [
        ...['assignment_expression', 'call_expression', 'comma_expression', 'condition_clause', 'declaration', 'init_declarator', 'lambda_expression', 'pointer_expression', 'return_statement', 'trailing_return_type', 'update_expression'].map((x) => [x]),
        ['assignment_expression', 'init_declarator'],
        ['call_expression', 'assignment_expression', 'update_expression', 'comma_expression'],
        ['declaration', 'identifier'],
      ];
      const bodies = tree.rootNode.descendantsOfType('function_definition').map((d) => d.childForFieldName('body')).filter((b) => b !== null);
      const rawBodies = tree.raw.rootNode.descendantsOfType('function_definition').map((d) => d!.childForFieldName('body')).filter((b) => b !== null);
      assert.equal(bodies.length, rawBodies.length, name);
      bodies.forEach((body, i) => {
        const pairs: Array<[typeof body, (typeof rawBodies)[number]]> = [[body, rawBodies[i]], ...body.namedChildren.map((k, j) => [k, rawBodies[i].namedChildren[j]!] as [typeof body, (typeof rawBodies)[number]])];
        for (const [ours, theirs] of pairs) {
          for (const t of lists) {
            assert.deepEqual(ours.descendantsOfType(t).map(key), theirs.descendantsOfType(t).map((n) => key(n)), `${name} ${key(ours)} ${t}`);
            indexed++;
          }
        }
      });
      for (let i = 0; i <= text.length; i += 7) {
        for (const end of [i, Math.min(text.length, i + 5)]) {
          assert.equal(key(tree.rootNode.descendantForIndex(i, end)), key(tree.raw.rootNode.descendantForIndex(i, end)), `${name} ${i}-${end}`);
          checked++;
        }
      }
    } finally {
      tree.delete();
    }
  }
  assert.ok(checked > 10_000, `${checked} offsets`);
  assert.ok(indexed > 10_000, `${indexed} searches of function bodies and statements`);
});

test('tree: nodes read before a parse of another text stay right; a deleted tree keeps what was read and refuses to read more', async () => {
  const parser = await CParser.load();
  const a = parser.parse('int f(void) { return g(1); }\n');
  const ret = a.rootNode.descendantsOfType('return_statement')[0];
  const b = parser.parse('static PyObject *h(PyObject *o) { Py_INCREF(o); return o; }\n');
  assert.equal(b.rootNode.descendantsOfType('return_statement')[0].text, 'return o;');
  assert.equal(ret.text, 'return g(1);');
  assert.equal(ret.namedChildren[0].type, 'call_expression');
  b.delete();
  a.delete();
  assert.equal(ret.text, 'return g(1);');
  assert.equal(ret.namedChildren[0].text, 'g(1)');
  assert.throws(() => ret.namedChildren[0].children, /after its tree was deleted/);
  assert.throws(() => ret.descendantsOfType('identifier'), /after its tree was deleted/);
});

test('tree: a node that forgets its children reads them again, as new nodes that read as web-tree-sitter reads them', async () => {
  const parser = await CParser.load();
  const text = 'static PyObject *h(PyObject *o) {\n  if (o == NULL) return NULL;\n  Py_INCREF(o);\n  return o;\n}\n';
  const tree = parser.parse(text);
  try {
    const body = tree.rootNode.namedChildren[0].childForFieldName('body')!;
    const before = body.namedChildren;
    const returns = body.descendantsOfType('return_statement');
    body.forgetChildren();
    const after = body.namedChildren;
    assert.notEqual(after, before);
    assert.ok(after.every((k, i) => k !== before[i] && k.type === before[i].type && k.startIndex === before[i].startIndex && k.endIndex === before[i].endIndex));
    // The new nodes have their own ids (caches keyed by id do not mix them up with the old ones) and the same extents.
    assert.ok(after.every((k, i) => k.id !== before[i].id && k.parent === body));
    const again = body.descendantsOfType('return_statement');
    assert.deepEqual(again.map((r) => r.text), returns.map((r) => r.text));
    assert.ok(again.every((r, i) => r !== returns[i]));
    same(body, tree.raw.rootNode.namedChildren[0]!.childForFieldName('body')!, tree.language.fields, 'forgotten');
    // A node read before the forget finds its siblings among the children read again (by its extent and type).
    const next = before[0].nextSibling!;
    assert.equal(next, body.children[body.children.findIndex((k) => k.startIndex === before[0].startIndex) + 1]);
    assert.equal(before[1].previousNamedSibling, after[0]);
  } finally {
    tree.delete();
  }
});
