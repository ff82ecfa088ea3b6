import * as fs from 'node:fs';
import { decodeSource } from '../core/text';
import { LineIndex } from '../core/text';
import { SEVERITIES, type Finding, type Severity } from '../core/types';
import type { ScanResult, ScannedFile } from '../node/scan';

/** An edit in 1-based lines and columns. */
export interface LocatedEdit {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  newText: string;
}

/** A finding in 1-based lines and columns, as the JSON contract (SPEC §6) defines it. */
export interface LocatedFinding {
  path: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  rule: string;
  severity: Severity;
  message: string;
  /** Why it matters and what to do (null when the message says it all). */
  detail: string | null;
  function: string | null;
  fixes: Array<{ description: string; safe: boolean; edits: LocatedEdit[] }>;
  related: Array<{ path: string; line: number; column: number; message: string }>;
}

/** Counts shown at the end of a report. */
export interface Summary {
  files: number;
  skipped: number;
  findings: number;
  bySeverity: Record<Severity, number>;
  byRule: Record<string, number>;
  fixable: number;
  fixed: number;
  parsedFiles: number;
  errorRegions: number;
  skippedFunctions: number;
}

/** Everything a formatter prints. */
export interface Report {
  findings: LocatedFinding[];
  skipped: Array<{ path: string; reason: string }>;
  summary: Summary;
}

/** Reads other files' texts (for related locations) once. */
export class TextCache {
  private readonly texts = new Map<string, LineIndex | null>();
  constructor(private readonly displayOf: (abs: string) => string = (a) => a) {}
  /** Line index of a file, by absolute path. */
  lines(abs: string, known?: string): LineIndex | null {
    if (!this.texts.has(abs)) {
      let li: LineIndex | null = null;
      try {
        li = new LineIndex(known ?? decodeSource(fs.readFileSync(abs)).text);
      } catch {
        li = null;
      }
      this.texts.set(abs, li);
    }
    return this.texts.get(abs)!;
  }
  /** The path shown for a file. */
  display(abs: string): string {
    return this.displayOf(abs);
  }
}

/** Converts one file's findings to 1-based positions. */
export function locate(file: ScannedFile, f: Finding, cache: TextCache): LocatedFinding {
  const li = cache.lines(file.abs, file.text)!;
  const pos = (o: number) => {
    const p = li.position(o);
    return { line: p.line + 1, column: p.column + 1 };
  };
  const s = pos(f.start);
  const e = pos(f.end);
  return {
    path: file.display,
    line: s.line,
    column: s.column,
    endLine: e.line,
    endColumn: e.column,
    rule: f.rule,
    severity: f.severity,
    message: f.message,
    detail: f.detail ?? null,
    function: f.function ?? null,
    fixes: f.fixes.map((x) => ({
      description: x.description,
      safe: x.safe,
      edits: x.edits.map((ed) => {
        const a = pos(ed.start);
        const b = pos(ed.end);
        return { line: a.line, column: a.column, endLine: b.line, endColumn: b.column, newText: ed.newText };
      }),
    })),
    related: f.related.map((r) => {
      if (r.path === undefined || r.path === file.abs) return { path: file.display, ...pos(r.start), message: r.message };
      const other = cache.lines(r.path);
      const p = other ? other.position(r.start) : { line: 0, column: 0 };
      return { path: cache.display(r.path), line: p.line + 1, column: p.column + 1, message: r.message };
    }),
  };
}


/** True when `s` is at least as severe as `level`. */
export function atLeast(s: Severity, level: Severity): boolean {
  return SEVERITIES.indexOf(s) <= SEVERITIES.indexOf(level);
}

/** Builds the report from a scan's result. */
export function buildReport(result: ScanResult, findings: LocatedFinding[], fixed: number): Report {
  const bySeverity: Record<Severity, number> = { error: 0, warning: 0, information: 0, hint: 0 };
  const byRule: Record<string, number> = {};
  for (const f of findings) {
    bySeverity[f.severity]++;
    byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
  }
  return {
    findings,
    skipped: result.skipped,
    summary: {
      files: result.stats.files,
      skipped: result.stats.skippedFiles,
      findings: findings.length,
      bySeverity,
      byRule,
      fixable: findings.filter((f) => f.fixes.some((x) => x.safe)).length,
      fixed,
      parsedFiles: result.stats.parsedFiles,
      errorRegions: result.stats.errorRegions,
      skippedFunctions: result.stats.skippedFunctions,
    },
  };
}
