import * as vscode from 'vscode';
import type { ParseMode } from '../core/document';
import type { Finding } from '../core/types';
import { toDiagnostic, Positions } from './convert';
import { FileFilter } from '../node/files';
import { DocumentClosed, type DocumentResult, type Engine, type FileSettings } from './engine';

const DEBOUNCE_MS = 150;

/**
 * True for the documents cpyref analyses: C and C++ files, untitled buffers, and documents of
 * a workspace folder on another file system (a virtual workspace). Copies that other views
 * make of a file (the refactor preview, git's versions, diffs, output) are not the file:
 * analysing them would count its problems twice.
 */
export function isCandidate(doc: vscode.TextDocument): boolean {
  if (doc.languageId !== 'c' && doc.languageId !== 'cpp') return false;
  const scheme = doc.uri.scheme;
  if (scheme === 'file' || scheme === 'untitled') return true;
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  return folder !== undefined && folder.uri.scheme === scheme;
}

/**
 * Live diagnostics for open documents, re-analysed on change (debounced, incremental)
 * or on save (fresh parse), and the last result per document for the code actions.
 */
export class LiveDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('cpyref');
  private readonly results = new Map<string, DocumentResult>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /**
   * Diagnostics of files as they are on disk, from the workspace scan and then from every
   * analysis of a saved (not dirty) document, so that what is shown for a closed file always
   * follows its latest content; restored when an open file closes.
   */
  readonly scanned = new Map<string, vscode.Diagnostic[]>();
  /** Set once a workspace scan has published: closed files then keep their diagnostics. */
  scanRan = false;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fired after a document's diagnostics were updated. */
  readonly onDidUpdate = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly engine: Engine) {
    engine.diskListener = { changed: (uri, text) => this.closedFileChanged(uri, text), deleted: (p) => this.deletedOnDisk(p) };
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
        if (!e.affectsConfiguration('cpyref')) return;
        engine.settingsChanged();
        this.refreshAll();
      }),
      // Severities may change; the trees and the per-function results stay valid.
      engine.onDidChangeIndex(() => this.refreshAll('incremental')),
    );
  }

  /** Why a document has no analysis (turned off, excluded, skipped, failed), by URI. */
  private readonly notAnalysed = new Map<string, { state: 'disabled' | 'excluded' | 'skipped' | 'failed'; reason: string }>();

  /** Why a document was not analysed, or undefined when it was (or was never looked at). */
  whyNotAnalysed(uri: vscode.Uri): { state: 'disabled' | 'excluded' | 'skipped' | 'failed'; reason: string } | undefined {
    return this.notAnalysed.get(uri.toString());
  }

  /** Forgets every result and analyses the open documents again (cpyref: Restart). */
  reset(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.results.clear();
    this.notAnalysed.clear();
    this.refreshAll();
  }

  /** Removes what workspace scans published for files that are not open (cpyref: Clear Scan Results). */
  clearScanResults(): number {
    const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.toString()));
    let n = 0;
    for (const key of this.scanned.keys()) {
      if (!open.has(key)) this.collection.delete(vscode.Uri.parse(key));
      n++;
    }
    this.scanned.clear();
    this.scanRan = false;
    return n;
  }

  /** The last analysis of a document (any version). */
  result(uri: vscode.Uri): DocumentResult | undefined {
    return this.results.get(uri.toString());
  }

  /** Re-analyses every open candidate document. */
  refreshAll(mode: ParseMode = 'fresh'): void {
    for (const d of vscode.workspace.textDocuments) this.schedule(d, mode, 0);
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

  private filter: { key: string; filter: FileFilter } | undefined;
  /** Excluded as the CLI excludes a file named on its command line (the same FileFilter, cached per settings). */
  private excluded(doc: vscode.TextDocument, settings: FileSettings): boolean {
    return this.excludedPath(doc.uri, settings);
  }

  private excludedPath(uri: vscode.Uri, settings: FileSettings): boolean {
    if (uri.scheme !== 'file' || !settings.root) return false;
    const key = JSON.stringify([settings.root, settings.options.exclude, settings.options.extendExclude]);
    if (this.filter?.key !== key) this.filter = { key, filter: new FileFilter(settings.options, settings.root) };
    return this.filter.filter.excluded(uri.fsPath);
  }

  /** Analyses a document now and publishes its diagnostics; returns the result (or undefined when skipped). */
  async run(doc: vscode.TextDocument, mode: ParseMode, typing = false): Promise<DocumentResult | undefined> {
    if (doc.isClosed || !isCandidate(doc)) return undefined;
    const settings = await this.engine.settingsFor(doc.uri);
    const key = doc.uri.toString();
    if (!settings.editor.enable || this.excluded(doc, settings)) {
      this.collection.delete(doc.uri);
      this.results.delete(key);
      this.notAnalysed.set(
        key,
        !settings.editor.enable
          ? { state: 'disabled', reason: 'cpyref.enable is off' }
          : { state: 'excluded', reason: 'excluded by the exclude settings (cpyref.exclude or [tool.cpyref] in pyproject.toml)' },
      );
      this.changed.fire(doc.uri);
      return undefined;
    }
    if (typing && settings.editor.run === 'onSave') return undefined;
    const text = doc.getText();
    const skip =
      text.length > settings.options.maxFileSize
        ? 'larger than the size limit'
        : text.slice(0, 8000).includes('\0')
          ? 'binary (a NUL byte near the start)'
          : /^[^\n]*Generated by Cython/.test(text)
            ? 'generated by Cython'
            : undefined;
    if (skip) {
      this.engine.log(`skipped ${vscode.workspace.asRelativePath(doc.uri)}: ${skip}`);
      this.collection.delete(doc.uri);
      this.results.delete(key);
      this.notAnalysed.set(key, { state: 'skipped', reason: `not analysed: ${skip}` });
      this.changed.fire(doc.uri);
      return undefined;
    }
    let result: DocumentResult;
    try {
      result = await this.engine.analyze(doc, mode, settings);
    } catch (e) {
      if (e instanceof DocumentClosed) return undefined;
      this.engine.output.appendLine(`[error] analysing ${doc.uri.toString()}: ${(e as Error).stack ?? e}`);
      this.notAnalysed.set(key, { state: 'failed', reason: `the analysis failed: ${(e as Error).message} (see the output)` });
      this.changed.fire(doc.uri);
      return undefined;
    }
    // A result for an older version is dropped: a newer analysis is on its way.
    if (doc.isClosed || result.version !== doc.version) return undefined;
    this.results.set(key, result);
    this.notAnalysed.delete(key);
    const pos = new Positions(result.text);
    const diags = result.findings.map((f) => toDiagnostic(f, doc.uri, pos));
    this.collection.set(doc.uri, diags);
    // A saved document is what is on disk: it replaces what an earlier scan said of the file.
    if (this.scanRan && doc.uri.scheme === 'file' && !doc.isDirty && vscode.workspace.getWorkspaceFolder(doc.uri)) {
      if (diags.length) this.scanned.set(key, diags);
      else this.scanned.delete(key);
    }
    for (const s of result.skippedFunctions) this.engine.log(`${vscode.workspace.asRelativePath(doc.uri)}: function \`${s.name}\` not analysed: ${s.reason}`);
    this.changed.fire(doc.uri);
    return result;
  }

  /** Files or folders deleted on disk: the problems shown for closed files under them go. */
  private deletedOnDisk(fsPath: string): void {
    const prefix = vscode.Uri.file(fsPath).toString();
    const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.toString()));
    for (const key of [...this.scanned.keys()]) {
      if (key !== prefix && !key.startsWith(prefix + '/')) continue;
      this.scanned.delete(key);
      if (!open.has(key)) this.collection.delete(vscode.Uri.parse(key));
    }
  }

  /** A file that is not open changed on disk: once a scan reported it, its diagnostics follow the new text. */
  private async closedFileChanged(uri: vscode.Uri, text: string): Promise<void> {
    const key = uri.toString();
    // Only files the scan reported follow the disk here (a new file waits for the next scan or for being opened).
    if (!this.scanned.has(key) || vscode.workspace.textDocuments.some((d) => d.uri.toString() === key)) return;
    const settings = await this.engine.settingsFor(uri);
    let findings: Finding[] | undefined;
    try {
      // As for an open document: turned off, excluded or too large means no problems shown.
      const skip = !settings.editor.enable || this.excludedPath(uri, settings) || text.length > settings.options.maxFileSize || text.slice(0, 8000).includes('\0');
      findings = skip ? [] : await this.engine.analyzeClosed(uri, text);
    } catch (e) {
      this.engine.output.appendLine(`[error] analysing ${uri.toString()}: ${(e as Error).message}`);
      return;
    }
    if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === key)) return;
    const pos = new Positions(text);
    const diags = (findings ?? []).map((f) => toDiagnostic(f, uri, pos));
    if (diags.length) this.scanned.set(key, diags);
    else this.scanned.delete(key);
    this.collection.set(uri, diags.length ? diags : undefined);
    this.changed.fire(uri);
  }

  private closed(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.results.delete(key);
    this.notAnalysed.delete(key);
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
