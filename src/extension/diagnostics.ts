import { Minimatch } from 'minimatch';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ParseMode } from '../core/document';
import { toDiagnostic, Positions } from './convert';
import type { DocumentResult, Engine } from './engine';

const DEBOUNCE_MS = 150;

/** True for the documents cpyref analyses. */
export function isCandidate(doc: vscode.TextDocument): boolean {
  return (doc.languageId === 'c' || doc.languageId === 'cpp') && doc.uri.scheme !== 'output' && doc.uri.scheme !== 'git';
}

/**
 * Live diagnostics for open documents, re-analysed on change (debounced, incremental)
 * or on save (fresh parse), and the last result per document for the code actions.
 */
export class LiveDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('cpyref');
  private readonly results = new Map<string, DocumentResult>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Diagnostics the workspace scan published for files, restored when an open file closes. */
  readonly scanned = new Map<string, vscode.Diagnostic[]>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fired after a document's diagnostics were updated. */
  readonly onDidUpdate = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly engine: Engine) {
    this.disposables.push(
      this.collection,
      this.changed,
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 'fresh', 0)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length) this.schedule(e.document, 'incremental', DEBOUNCE_MS, true);
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        this.schedule(d, 'fresh', 0);
        if (isCandidate(d)) this.engine.reindex(d.uri, d.getText());
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.closed(d)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cpyref')) this.refreshAll();
      }),
      engine.onDidChangeIndex(() => this.refreshAll()),
    );
  }

  /** The last analysis of a document (any version). */
  result(uri: vscode.Uri): DocumentResult | undefined {
    return this.results.get(uri.toString());
  }

  /** Re-analyses every open candidate document. */
  refreshAll(): void {
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 'fresh', 0);
  }

  private schedule(doc: vscode.TextDocument, mode: ParseMode, delay: number, typing = false): void {
    if (!isCandidate(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.run(doc, mode, typing);
      }, delay),
    );
  }

  private async excluded(doc: vscode.TextDocument, root: string | undefined, exclude: string[]): Promise<boolean> {
    if (doc.uri.scheme !== 'file' || !root) return false;
    const rel = path.relative(root, doc.uri.fsPath).split(path.sep).join('/');
    if (rel.startsWith('..')) return false;
    return exclude.some((p) => {
      const bare = p.replace(/\/$/, '');
      const patterns = p.includes('/') && !p.endsWith('/') ? [p, `${p}/**`] : [`**/${bare}`, `**/${bare}/**`, p];
      return patterns.some((q) => new Minimatch(q, { dot: true }).match(rel));
    });
  }

  /** Analyses a document now and publishes its diagnostics; returns the result (or undefined when skipped). */
  async run(doc: vscode.TextDocument, mode: ParseMode, typing = false): Promise<DocumentResult | undefined> {
    if (doc.isClosed || !isCandidate(doc)) return undefined;
    const settings = await this.engine.settingsFor(doc.uri);
    const key = doc.uri.toString();
    if (!settings.editor.enable || (await this.excluded(doc, settings.root, [...settings.options.exclude, ...settings.options.extendExclude]))) {
      this.collection.delete(doc.uri);
      this.results.delete(key);
      this.changed.fire(doc.uri);
      return undefined;
    }
    if (typing && settings.editor.run === 'onSave') return undefined;
    const text = doc.getText();
    const skip = text.length > settings.options.maxFileSize ? 'larger than the size limit' : text.slice(0, 8000).includes('\0') ? 'binary (a NUL byte near the start)' : undefined;
    if (skip) {
      this.engine.log(`skipped ${vscode.workspace.asRelativePath(doc.uri)}: ${skip}`);
      this.collection.delete(doc.uri);
      this.results.delete(key);
      return undefined;
    }
    let result: DocumentResult;
    try {
      result = await this.engine.analyze(doc, mode);
    } catch (e) {
      this.engine.output.appendLine(`[error] analysing ${doc.uri.toString()}: ${(e as Error).stack ?? e}`);
      return undefined;
    }
    // A result for an older version is dropped: a newer analysis is on its way.
    if (doc.isClosed || result.version !== doc.version) return undefined;
    this.results.set(key, result);
    const pos = new Positions(result.text);
    this.collection.set(doc.uri, result.findings.map((f) => toDiagnostic(f, doc.uri, pos)));
    for (const s of result.skippedFunctions) this.engine.log(`${vscode.workspace.asRelativePath(doc.uri)}: function \`${s.name}\` not analysed: ${s.reason}`);
    this.changed.fire(doc.uri);
    return result;
  }

  private closed(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.results.delete(key);
    this.engine.close(doc.uri);
    const fromScan = this.scanned.get(key);
    if (fromScan) this.collection.set(doc.uri, fromScan);
    else this.collection.delete(doc.uri);
    this.changed.fire(doc.uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}
