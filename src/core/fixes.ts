import type { Finding, Fix, TextEdit } from './types';

/** Applies non-overlapping edits to `text`; throws when two edits overlap. */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) throw new Error('overlapping edits');
    out += text.slice(pos, e.start) + e.newText;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** The safe fixes of the findings that can be applied together (the first of overlapping fixes wins). */
export function selectSafeFixes(findings: Finding[]): Fix[] {
  const chosen: Fix[] = [];
  const taken: Array<[number, number]> = [];
  const ordered = [...findings].sort((a, b) => a.start - b.start);
  for (const f of ordered) {
    const fix = f.fixes.find((x) => x.safe);
    if (!fix) continue;
    const overlaps = fix.edits.some((e) => taken.some(([s, t]) => e.start < t && s < e.end || (e.start === e.end && e.start === s)));
    if (overlaps) continue;
    chosen.push(fix);
    for (const e of fix.edits) taken.push([e.start, e.end]);
  }
  return chosen;
}

/** Applies every safe fix of `findings` to `text`. */
export function applySafeFixes(text: string, findings: Finding[]): { text: string; applied: number } {
  const fixes = selectSafeFixes(findings);
  return { text: applyEdits(text, fixes.flatMap((f) => f.edits)), applied: fixes.length };
}

/** Leading whitespace of the line containing `offset`, and whether only whitespace precedes it. */
export function lineIndent(text: string, offset: number): { indent: string; ownLine: boolean; lineStart: number } {
  const lineStart = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1)) + 1;
  const before = text.slice(lineStart, offset);
  const indent = /^[ \t]*/.exec(before)![0];
  return { indent, ownLine: indent.length === before.length, lineStart };
}

/** One edit replacing the span where `before` and `after` differ (their common prefix and suffix kept). */
export function spanEdit(before: string, after: string): TextEdit {
  let start = 0;
  const max = Math.min(before.length, after.length);
  // Equal blocks are skipped by comparing slices (native comparison), then the last one character by character:
  // the editor calls this on every keystroke with the whole file.
  for (const step of [4096, 256]) while (start + step <= max && before.slice(start, start + step) === after.slice(start, start + step)) start += step;
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endB = before.length;
  let endA = after.length;
  for (const step of [4096, 256]) {
    while (endB - step >= start && endA - step >= start && before.slice(endB - step, endB) === after.slice(endA - step, endA)) {
      endB -= step;
      endA -= step;
    }
  }
  while (endB > start && endA > start && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  return { start, end: endB, newText: after.slice(start, endA) };
}
