import type { TextEdit } from './types';

/** Lines with their terminators, so that joining them gives the text back (CRLF and CR kept). */
function linesOf(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

/**
 * The smallest set of whole-line replacements that turns `before` into `after` (Myers'
 * O((N+M)·D) diff over lines), each edit relative to `before`. Used to show a file's
 * fixes one edit each, instead of one replacement from the first fix to the last.
 */
export function lineEdits(before: string, after: string): TextEdit[] {
  if (before === after) return [];
  const a = linesOf(before);
  const b = linesOf(after);
  // Common head and tail first: fixes touch a few lines of long files.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const A = a.slice(head, a.length - tail);
  const B = b.slice(head, b.length - tail);
  // Past MAX_D differing lines (a rewritten file, not a few fixes) the middle is one edit.
  const script = (Math.abs(A.length - B.length) > MAX_D ? undefined : myers(A, B)) ?? [...A.map(() => '-'), ...B.map(() => '+')];
  // Offsets of the lines of `before`.
  const offsets: number[] = [0];
  for (const l of a) offsets.push(offsets[offsets.length - 1] + l.length);
  const edits: TextEdit[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  while (k < script.length) {
    if (script[k] === '=') {
      i++;
      j++;
      k++;
      continue;
    }
    const i0 = i;
    const j0 = j;
    while (k < script.length && script[k] !== '=') {
      if (script[k] === '-') i++;
      else j++;
      k++;
    }
    edits.push({ start: offsets[head + i0], end: offsets[head + i], newText: B.slice(j0, j).join('') });
  }
  return edits;
}

/** Beyond this many differences the diff's trace would take too much memory. */
const MAX_D = 2000;

/** An edit script ('=' keep, '-' delete from a, '+' insert from b) of minimal length, or undefined past MAX_D. */
function myers(a: string[], b: string[]): string[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_D);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a.length, b.length, offset, d);
    }
  }
  return undefined;
}

function backtrack(trace: Int32Array[], n: number, m: number, offset: number, dEnd: number): string[] {
  const out: string[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = v[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push('=');
      x--;
      y--;
    }
    out.push(prevK === k + 1 ? '+' : '-');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    out.push('=');
    x--;
    y--;
  }
  return out.reverse();
}
