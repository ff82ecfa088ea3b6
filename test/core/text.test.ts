import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spanEdit } from '../../src/core/fixes';
import { decodeSource, detectEol, LineIndex } from '../../src/core/text';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

/** Texts of line feeds, carriage returns and a few letters, short and long (past the fast paths' block sizes). */
function* texts(seed: number, count: number): Generator<{ before: string; after: string }> {
  const r = random(seed);
  const alphabet = 'ab\n\r ';
  for (let k = 0; k < count; k++) {
    const n = r(k % 2 ? 40 : 12000);
    let before = '';
    for (let i = 0; i < n; i++) before += alphabet[r(alphabet.length)];
    let after = before;
    for (let o = r(3); o > 0; o--) {
      const at = r(after.length + 1);
      let insert = '';
      for (let i = r(4); i > 0; i--) insert += alphabet[r(alphabet.length)];
      after = after.slice(0, at) + insert + after.slice(at + r(5));
    }
    yield { before, after };
  }
}

/** The reference: common prefix, then common suffix, one character at a time. */
function referenceSpan(before: string, after: string): { start: number; end: number; newText: string } {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) {
    endB--;
    endA--;
  }
  return { start, end: endB, newText: after.slice(start, endA) };
}

test('spanEdit finds the same span as a character-by-character comparison', () => {
  for (const { before, after } of texts(7, 600)) assert.deepEqual(spanEdit(before, after), referenceSpan(before, after));
});

test('spanEdit: an edit in the first or last block of a long text, and equal texts', () => {
  const long = 'x'.repeat(10000);
  assert.deepEqual(spanEdit(long, 'y' + long.slice(1)), { start: 0, end: 1, newText: 'y' });
  assert.deepEqual(spanEdit(long, long.slice(0, -1) + 'y'), { start: 9999, end: 10000, newText: 'y' });
  assert.deepEqual(spanEdit(long, long), { start: 10000, end: 10000, newText: '' });
  // Inserting into a run of equal characters: the span is empty on the old side.
  assert.deepEqual(spanEdit(long, long + 'x'), { start: 10000, end: 10000, newText: 'x' });
});

test('LineIndex starts a line after every LF, CRLF and lone CR', () => {
  // (Texts without a CR take a faster path: each text is checked with its CRs and without.)
  for (const text of [...texts(11, 300)].flatMap((t) => [t.after, t.after.replace(/\r/g, '')])) {
    const lines = new LineIndex(text);
    const starts = [0];
    for (let i = 0; i < text.length; i++) if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] !== '\n')) starts.push(i + 1);
    assert.equal(lines.lineCount, starts.length);
    for (let l = 0; l < starts.length; l++) assert.equal(lines.lineStart(l), starts[l]);
  }
  const lf = new LineIndex('a\nbc\n');
  assert.deepEqual(lf.position(3), { line: 1, column: 1 });
  assert.equal(lf.lineCount, 3);
});

test('detectEol takes the line ending most lines use', () => {
  assert.equal(detectEol('a\nb\n'), '\n');
  assert.equal(detectEol('a\r\nb\r\n'), '\r\n');
  assert.equal(detectEol('a\r\nb\r\nc\n'), '\r\n');
  assert.equal(detectEol('a\r\nb\nc\n'), '\n');
  assert.equal(detectEol('a\r\nb\n'), '\n');
  assert.equal(detectEol(''), '\n');
});

test("decodeSource takes the caller's Latin-1 reading as an ASCII file's text, and decodes any other file", () => {
  const ascii = Buffer.from('int f(void) { return 0; }\n');
  const latin1 = ascii.toString('latin1');
  const d = decodeSource(ascii, latin1);
  assert.equal(d.text, latin1);
  assert.deepEqual(d, decodeSource(ascii));
  // UTF-8 beyond ASCII, with and without a byte-order mark, and a Latin-1 file: the reading given is not their text.
  for (const bytes of [Buffer.from('/* Gr\u00fc\u00dfe */\n', 'utf8'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('int x;\n')]), Buffer.from([0x2f, 0x2a, 0xe9, 0x20, 0x2a, 0x2f])]) {
    assert.deepEqual(decodeSource(bytes, bytes.toString('latin1')), decodeSource(bytes), bytes.toString('hex'));
  }
});
