import * as vscode from 'vscode';
import { relatedEntries } from '../core/editor';
import { docsUrl } from '../core/rules/index';
import { LineIndex } from '../core/text';
import type { Finding, Severity } from '../core/types';

const SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

/** Offsets of a text as VS Code positions (works for a document or for a file's scanned text). */
export class Positions {
  private readonly lines: { position(offset: number): { line: number; column: number } };
  /** From the text itself, or from positions a scan worker computed (`[offset, line, column]`). */
  constructor(source: string | Array<[number, number, number]>) {
    if (typeof source === 'string') this.lines = new LineIndex(source);
    else {
      const known = new Map(source.map(([o, line, column]) => [o, { line, column }]));
      this.lines = { position: (o) => known.get(o) ?? { line: 0, column: 0 } };
    }
  }
  at(offset: number): vscode.Position {
    const p = this.lines.position(offset);
    return new vscode.Position(p.line, p.column);
  }
  range(start: number, end: number): vscode.Range {
    return new vscode.Range(this.at(start), this.at(end));
  }
}

/** The key of a finding for looking up its fixes: rule and range, never object identity. */
export function findingKey(rule: string, range: vscode.Range): string {
  return `${rule}@${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}

/** A core finding as a diagnostic: source, code with the docs link, the path as related information. */
export function toDiagnostic(f: Finding, uri: vscode.Uri, pos: Positions): vscode.Diagnostic {
  const d = new vscode.Diagnostic(pos.range(f.start, f.end), f.message, SEVERITY[f.severity]);
  d.source = 'cpyref';
  d.code = { value: f.rule, target: vscode.Uri.parse(docsUrl(f.rule)) };
  // The short message goes in the Problems row; why it matters is the first entry under it (and in the hover).
  const related = relatedEntries(f);
  if (related.length) {
    d.relatedInformation = related.map((r) => {
      if (r.path === undefined) return new vscode.DiagnosticRelatedInformation(new vscode.Location(uri, pos.range(r.start, r.end)), r.message);
      // Another file: its offsets are resolved against its text when it is open, else the index's line and column are used.
      const other = vscode.workspace.textDocuments.find((t) => t.uri.scheme === 'file' && t.uri.fsPath === r.path);
      let range: vscode.Range;
      if (other) range = new vscode.Range(other.positionAt(r.start), other.positionAt(r.end));
      else if (r.line !== undefined) {
        const at = new vscode.Position(r.line, r.column ?? 0);
        range = new vscode.Range(at, at.translate(0, r.end - r.start));
      } else range = new vscode.Range(0, 0, 0, 0);
      return new vscode.DiagnosticRelatedInformation(new vscode.Location(vscode.Uri.file(r.path), range), r.message);
    });
  }
  return d;
}

/** The rule id of a diagnostic published by cpyref. */
export function ruleOf(d: vscode.Diagnostic): string | undefined {
  if (d.source !== 'cpyref') return undefined;
  return typeof d.code === 'object' && d.code ? String(d.code.value) : typeof d.code === 'string' ? d.code : undefined;
}
