import { pathToFileURL } from 'node:url';
import type { Diagnostic, DiagnosticRelatedInformation, Position, Range, TextEdit as LspTextEdit } from 'vscode-languageserver/node';
import { relatedEntries } from '../core/editor';
import { docsUrl } from '../core/rules/index';
import { LineIndex } from '../core/text';
import type { Finding, Severity, TextEdit } from '../core/types';

/** LSP's DiagnosticSeverity values. */
const SEVERITY: Record<Severity, 1 | 2 | 3 | 4> = { error: 1, warning: 2, information: 3, hint: 4 };

/** Turns offsets of one text into LSP positions (UTF-16 code units, as the core counts). */
export interface Positions {
  positionAt(offset: number): Position;
}

/** Positions of a text (a file read from disk). */
export function positionsOf(text: string): Positions {
  const lines = new LineIndex(text);
  return {
    positionAt: (o) => {
      const p = lines.position(o);
      return { line: p.line, character: p.column };
    },
  };
}

export function rangeOf(pos: Positions, start: number, end: number): Range {
  return { start: pos.positionAt(start), end: pos.positionAt(end) };
}

/** A file path as a `file:` URI. */
export function fileUri(p: string): string {
  return pathToFileURL(p).href;
}

/** What a diagnostic carries back to the server in a code-action request. */
export interface DiagnosticData {
  /** The document version the finding was computed for (undefined for a file that is not open). */
  version?: number;
}

/**
 * A core finding as an LSP diagnostic, as the VS Code extension shows it: the rule id as the
 * code with its documentation as `codeDescription`, `source: "cpyref"`, why it matters as the
 * first related information, then the path. `otherFile` gives the positions of another file
 * when the server has it open.
 */
export function toDiagnostic(f: Finding, uri: string, pos: Positions, version: number | undefined, otherFile?: (path: string) => Positions | undefined): Diagnostic {
  const d: Diagnostic = {
    range: rangeOf(pos, f.start, f.end),
    severity: SEVERITY[f.severity],
    code: f.rule,
    codeDescription: { href: docsUrl(f.rule) },
    source: 'cpyref',
    message: f.message,
    data: { version } satisfies DiagnosticData,
  };
  const related = relatedEntries(f);
  if (related.length) {
    d.relatedInformation = related.map((r): DiagnosticRelatedInformation => {
      if (r.path === undefined) return { location: { uri, range: rangeOf(pos, r.start, r.end) }, message: r.message };
      // Another file: its offsets are resolved against its text when it is open, else the index's line and column are used.
      const other = otherFile?.(r.path);
      let range: Range;
      if (other) range = rangeOf(other, r.start, r.end);
      else if (r.line !== undefined) {
        const at = { line: r.line, character: r.column ?? 0 };
        range = { start: at, end: { line: r.line, character: at.character + (r.end - r.start) } };
      } else range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      return { location: { uri: fileUri(r.path), range }, message: r.message };
    });
  }
  return d;
}

/** The key of a finding or diagnostic for matching one to the other: rule and range. */
export function findingKey(rule: string, range: Range): string {
  return `${rule}@${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}

/** The rule id of a diagnostic published by cpyref. */
export function ruleOf(d: Diagnostic): string | undefined {
  if (d.source !== 'cpyref') return undefined;
  if (typeof d.code === 'string') return d.code;
  return typeof d.code === 'number' ? String(d.code) : undefined;
}

/** Core edits (offsets) as LSP text edits. */
export function toTextEdits(pos: Positions, edits: TextEdit[]): LspTextEdit[] {
  return edits.map((e) => ({ range: rangeOf(pos, e.start, e.end), newText: e.newText }));
}
