import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { forEachWord, hasWord, WordSet } from '../../src/core/syntax';
import { randomText, seeded } from '../helpers/random';

test('hasWord finds what a pattern of whole words finds', () => {
  const words = new Set(['Py_DECREF', 'res', 'x1', '_tmp', 'MACRO']);
  const pattern = new RegExp(`\\b(?:${[...words].join('|')})\\b`);
  assert.equal(hasWord('Py_DECREF(obj);', words), true);
  assert.equal(hasWord('Py_XDECREF(obj); result = 0; my_res; res2; 9res', words), false);
  assert.equal(hasWord('return res;', words), true);
  assert.equal(hasWord('a->_tmp', words), true);
  assert.equal(hasWord('', words), false);
  // Seeded random texts of the words, their parts and the characters around them.
  const pieces = ['Py_DECREF', 'res', 'x1', '_tmp', 'MACRO', 'Py_', 'DECREF', 're', 's', 'x', '1', '_', ' ', '(', ';', '->', '\n', 'é', '9'];
  const next = seeded(99);
  let found = 0;
  for (let k = 0; k < 50_000; k++) {
    const t = randomText(next, pieces, 8);
    const expected = pattern.test(t);
    if (expected) found++;
    assert.equal(hasWord(t, words), expected, JSON.stringify(t));
    const all: Array<[string, number]> = [];
    forEachWord(t, words, (w, at) => void all.push([w, at]));
    assert.deepEqual(all, [...t.matchAll(new RegExp(pattern.source, 'g'))].map((m) => [m[0], m.index]), JSON.stringify(t));
  }
  assert.ok(found > 5000 && found < 45_000, `${found} of the random texts hold a word`);
});

test('WordSet finds a few words (each searched for alone) and many (word by word) where a pattern of whole words does, in order', () => {
  const pieces = ['self', 'se', 'lf', 'a', 'a1', 'obj', 'x', '9', '_', ' ', '(', '->', '\n', 'é'];
  const next = seeded(7);
  for (const words of [['self'], ['a', 'a1', 'obj'], ['self', 'a', 'a1', 'obj', 'x', '_', 'se', 'lf'], ['self', 'a', 'a1', 'obj', 'x', '_', 'se', 'lf', 'zz']]) {
    const pattern = new RegExp(`\\b(?:${[...words].sort((p, q) => q.length - p.length).join('|')})\\b`, 'g');
    const set = new WordSet(words);
    for (let k = 0; k < 5_000; k++) {
      const t = randomText(next, pieces, 10);
      const want = [...t.matchAll(pattern)].map((m) => [m[0], m.index]);
      const all: Array<[string, number]> = [];
      set.forEach(t, (w, at) => void all.push([w, at]));
      assert.deepEqual(all, want, JSON.stringify({ words, t }));
      // Stopping at the second occurrence.
      const two: Array<[string, number]> = [];
      assert.equal(
        set.forEach(t, (w, at) => two.push([w, at]) >= 2),
        want.length >= 2,
      );
      assert.deepEqual(two, want.slice(0, 2));
    }
  }
});
