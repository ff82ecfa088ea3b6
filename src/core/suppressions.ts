import type { Finding } from './types';
import { LineIndex } from './text';

/** One `cpyref: ignore[...]` comment. */
export interface Suppression {
  /** 0-based line the suppression applies to. */
  line: number;
  /** Rule ids; empty means every rule. */
  rules: string[];
  start: number;
  end: number;
  used: boolean;
}

/** The suppressions of a file. */
export interface SuppressionSet {
  lines: Suppression[];
  fileRules: Set<string> | 'all' | undefined;
}

const COMMENT = /\/\*[\s\S]*?\*\/|\/\/[^\r\n]*/g;
const IGNORE = /cpyref:\s*ignore(-file)?\b(?:\[([^\]]*)\])?/g;

/** Reads the suppression comments of a file. */
export function readSuppressions(text: string, lines: LineIndex): SuppressionSet {
  const set: SuppressionSet = { lines: [], fileRules: undefined };
  if (!text.includes('cpyref:')) return set;
  COMMENT.lastIndex = 0;
  let firstBlockEnd = -1;
  for (let m = COMMENT.exec(text); m; m = COMMENT.exec(text)) {
    const c = m[0];
    const start = m.index;
    if (firstBlockEnd < 0 || /^\s*$/.test(text.slice(firstBlockEnd, start))) {
      if (firstBlockEnd < 0 && !/^\s*$/.test(text.slice(0, start))) firstBlockEnd = -2;
      else firstBlockEnd = start + c.length;
    }
    if (!c.includes('cpyref:')) continue;
    IGNORE.lastIndex = 0;
    for (let g = IGNORE.exec(c); g; g = IGNORE.exec(c)) {
      const rules = (g[2] ?? '').split(',').map((r) => r.trim()).filter(Boolean);
      if (g[1]) {
        const inFirstBlock = firstBlockEnd >= start + c.length;
        if (!inFirstBlock) continue;
        if (!rules.length) set.fileRules = 'all';
        else if (set.fileRules !== 'all') {
          set.fileRules ??= new Set();
          for (const r of rules) set.fileRules.add(r);
        }
        continue;
      }
      const pos = lines.position(start);
      const before = lines.lineText(pos.line).slice(0, pos.column);
      const endPos = lines.position(start + c.length);
      const alone = /^\s*$/.test(before) && /^\s*$/.test(lines.lineText(endPos.line).slice(endPos.column));
      set.lines.push({ line: alone ? endPos.line + 1 : pos.line, rules, start, end: start + c.length, used: false });
    }
  }
  return set;
}

/** True (and marks the suppression used) when `f` is suppressed. */
export function isSuppressed(f: Finding, set: SuppressionSet, lines: LineIndex): boolean {
  if (set.fileRules === 'all' || set.fileRules?.has(f.rule)) return true;
  const line = lines.position(f.start).line;
  let hit = false;
  for (const s of set.lines) {
    if (s.line === line && (!s.rules.length || s.rules.includes(f.rule))) {
      s.used = true;
      hit = true;
    }
  }
  return hit;
}
