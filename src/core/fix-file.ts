import { applyEdits, selectSafeFixes } from './fixes';
import type { DialectParser } from './parser';
import type { Finding, Fix } from './types';

/** ERROR plus MISSING nodes of a parse of `text` (walked with a cursor: deep trees are fine). */
export function countSyntaxErrors(parser: DialectParser, text: string): number {
  const tree = parser.parse(text);
  try {
    const c = tree.walk();
    let n = 0;
    for (;;) {
      if (c.nodeType === 'ERROR' || c.nodeIsMissing) n++;
      if (c.gotoFirstChild()) continue;
      while (!c.gotoNextSibling()) if (!c.gotoParent()) return n;
    }
  } finally {
    tree.delete();
  }
}

/** One round of fixing: the text it started from and the fixes it applied to it. */
export interface FixRound {
  before: string;
  fixes: Fix[];
}

/** The result of fixing a file. */
export interface FixedFile {
  text: string;
  /** Number of fixes applied over all rounds. */
  applied: number;
  rounds: FixRound[];
  /** Safe fixes left out because they would have added a syntax error. */
  rejected: number;
}

/**
 * Applies the safe fixes of a text until none is left (a fix can expose another, rarely),
 * keeping only fixes that add no ERROR or MISSING node to the parse: on code the parser
 * could not fully read, a rewrite can change how it recovers. Applying the result again
 * changes nothing. `analyse` gives the findings (and their fixes) of a text.
 */
export function fixToFixpoint(parser: DialectParser, text: string, analyze: (text: string) => Finding[], maxRounds = 6): FixedFile {
  let current = text;
  let errors = -1;
  const rounds: FixRound[] = [];
  let applied = 0;
  let rejected = 0;
  for (let round = 0; round < maxRounds; round++) {
    const fixes = selectSafeFixes(analyze(current));
    if (!fixes.length) break;
    if (errors < 0) errors = countSyntaxErrors(parser, current);
    let next = applyEdits(current, fixes.flatMap((f) => f.edits));
    let accepted = fixes;
    if (countSyntaxErrors(parser, next) > errors) {
      // Try them one by one, last first so the earlier offsets stay valid.
      accepted = [];
      next = current;
      const ordered = [...fixes].sort((a, b) => Math.min(...b.edits.map((e) => e.start)) - Math.min(...a.edits.map((e) => e.start)));
      for (const fix of ordered) {
        const candidate = applyEdits(next, fix.edits);
        if (countSyntaxErrors(parser, candidate) <= errors) {
          next = candidate;
          accepted.push(fix);
        } else rejected++;
      }
    }
    if (!accepted.length || next === current) break;
    rounds.push({ before: current, fixes: accepted });
    applied += accepted.length;
    errors = -1;
    current = next;
  }
  return { text: current, applied, rounds, rejected };
}
