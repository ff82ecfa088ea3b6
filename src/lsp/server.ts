import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  DidChangeWorkspaceFoldersNotification,
  ErrorCodes,
  FileChangeType,
  LSPErrorCodes,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CancellationToken,
  type ClientCapabilities,
  type CodeAction,
  type CodeActionParams,
  type Connection,
  type Diagnostic,
  type DocumentDiagnosticParams,
  type DocumentDiagnosticReport,
  type FileEvent,
  type Hover,
  type HoverParams,
  type InitializeParams,
  type InitializeResult,
  type ResultProgressReporter,
  type TextDocumentIdentifier,
  type WorkDoneProgressReporter,
  type WorkspaceDiagnosticParams,
  type WorkspaceDiagnosticReport,
  type WorkspaceDiagnosticReportPartialResult,
  type WorkspaceDocumentDiagnosticReport,
  type WorkspaceEdit,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createHash } from 'node:crypto';
import { resolveFindings } from '../core/analyze';
import { applyPyproject } from '../core/config';
import { lineEdits } from '../core/diff';
import type { ParseMode } from '../core/document';
import { applyEditorOverrides, FIX_ALL_IN_FILE_TITLE, FIX_ALL_KIND, FIX_ALL_TITLE, ownershipHover, quickFixes, skipReason, suppressComment, suppressTitle, type EditorSettings } from '../core/editor';
import { selectSafeFixes } from '../core/fixes';
import { LiveAnalyzer, type DocumentResult, type IncludeReader } from '../core/live';
import { defaultOptions, type Options } from '../core/options';
import { CParser } from '../core/parser';
import { indexFile } from '../core/project-index';
import { detectEol, plural } from '../core/text';
import type { Finding, TextEdit } from '../core/types';
import { collectFiles, FileFilter } from '../node/files';
import { HeaderReader, readSourceFile } from '../node/headers';
import { IncludeCache, processFile, type ScanSettings } from '../node/process-file';
import { ProjectRoots } from '../node/projects';
import { fileUri, findingKey, positionsOf, ruleOf, toDiagnostic, toTextEdits, type DiagnosticData, type Positions } from './convert';
import { clientSettings, ProjectConfigs, type ProjectConfig } from './settings';

/** The extensions of the files the index and the workspace diagnostics read (the CLI's default includes). */
const SOURCE_EXTENSIONS = ['c', 'h', 'cc', 'cpp', 'cxx', 'hpp', 'hh', 'inc'];
const SOURCE_NAME = new RegExp(`\\.(?:${SOURCE_EXTENSIONS.join('|')})$`);
/** Files whose change changes the configuration (pyproject.toml) or the limited-API facts (the build files). */
const CONFIG_NAMES = new Set(['pyproject.toml', 'setup.py', 'setup.cfg', 'meson.build']);
/** Language ids of the documents analysed (besides any document whose name is a C or C++ source). */
const LANGUAGES = new Set(['c', 'cpp', 'objective-c', 'objective-cpp', 'cuda', 'cuda-cpp']);

/** Settings and project facts that apply to one document. */
interface FileSettings {
  options: Options;
  editor: EditorSettings;
  limitedApi: boolean;
  /** The folder relative globs are matched against (the pyproject.toml's, else the workspace folder's). */
  root: string | undefined;
}

/** What the last analysis of an open document gave: a result, or why there is none. */
type Outcome = { result: DocumentResult; generation: number } | { skipped: string; version: number; generation: number };

/** The path of a `file:` URI, else undefined. */
function pathOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

function short(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 16);
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * The cpyref language server: the VS Code extension's engine (`LiveAnalyzer`: incremental
 * parsing, per-function reuse, the project index) and its findings, fixes, suppressions and
 * hovers, for any editor with an LSP client. One instance per connection.
 */
export class CpyrefServer {
  readonly documents = new TextDocuments(TextDocument);
  private readonly roots = new ProjectRoots();
  private readonly analyzer = new LiveAnalyzer(this.roots.projectOf);
  private parserPromise: Promise<CParser> | undefined;
  private caps: ClientCapabilities = {};
  private folders: string[] = [];
  private initOptions: Record<string, unknown> = {};
  /** Settings the client pushed with `workspace/didChangeConfiguration` (for clients without `workspace/configuration`). */
  private pushedSettings: unknown;
  private readonly clientSettingsCache = new Map<string, Promise<ReturnType<typeof clientSettings>>>();
  private readonly fileSettingsCache = new Map<string, Promise<FileSettings>>();
  private readonly configs = new ProjectConfigs((c) => this.configRead(c));
  /** Bumped when anything a result depends on outside its text changes (settings, the project index). */
  private generation = 0;
  private readonly outcomes = new Map<string, Outcome>();
  private readonly scheduled = new Map<string, ParseMode>();
  /** Documents opened or saved since their last analysis: parsed afresh next (so the editor agrees with the CLI). */
  private readonly wantFresh = new Set<string>();
  private readonly published = new Map<string, string>();
  private shutdownReceived = false;
  private indexing: Promise<void> | undefined;
  /** pyproject.toml files whose problems were published (their diagnostics are cleared when they are fixed). */
  private readonly configProblemFiles = new Set<string>();

  constructor(private readonly connection: Connection) {}

  /** Registers every handler on the connection (then call `connection.listen()`). */
  start(): void {
    const c = this.connection;
    c.onInitialize((p) => this.initialize(p));
    c.onInitialized(() => this.initialized());
    c.onShutdown(() => {
      // A second shutdown is a request after shutdown.
      if (this.shutdownReceived) throw new ResponseError(ErrorCodes.InvalidRequest, 'the server is shut down');
      this.shutdownReceived = true;
      this.scheduled.clear();
    });
    c.onCodeAction(this.guard((p: CodeActionParams, token: CancellationToken) => this.codeActions(p, token)));
    c.onCodeActionResolve(this.guard((a: CodeAction, token: CancellationToken) => this.resolveCodeAction(a, token)));
    c.onHover(this.guard((p: HoverParams) => this.hover(p)));
    c.languages.diagnostics.on(this.guard((p: DocumentDiagnosticParams, token: CancellationToken) => this.pullDiagnostics(p, token)));
    c.languages.diagnostics.onWorkspace(
      this.guard((p: WorkspaceDiagnosticParams, token: CancellationToken, workDone: WorkDoneProgressReporter, partial?: ResultProgressReporter<WorkspaceDiagnosticReportPartialResult>) =>
        this.workspaceDiagnostics(p, token, workDone, partial),
      ),
    );
    // Any other request: unknown, or refused after shutdown.
    c.onRequest((method: string) => {
      if (this.shutdownReceived) throw new ResponseError(ErrorCodes.InvalidRequest, `the server is shut down (${method})`);
      throw new ResponseError(ErrorCodes.MethodNotFound, `unhandled method ${method}`);
    });
    c.onDidChangeConfiguration((p) => {
      if (this.shutdownReceived) return;
      const s = (p.settings as Record<string, unknown> | null | undefined)?.cpyref;
      if (s !== undefined) this.pushedSettings = s;
      this.settingsChanged('the client settings changed');
    });
    c.onDidChangeWatchedFiles((p) => {
      if (!this.shutdownReceived) this.watchedFilesChanged(p.changes);
    });
    c.onNotification(DidChangeWorkspaceFoldersNotification.type, (p) => {
      if (this.shutdownReceived) return;
      const removed = new Set(p.event.removed.map((f) => pathOf(f.uri)));
      this.folders = this.folders.filter((f) => !removed.has(f)).concat(p.event.added.map((f) => pathOf(f.uri)).filter((x): x is string => !!x));
      this.settingsChanged('the workspace folders changed');
      this.startIndexing();
    });
    const docs = this.documents;
    docs.onDidOpen((e) => {
      const p = pathOf(e.document.uri);
      if (p) this.openByPath.set(p, e.document.uri);
      this.schedule(e.document.uri, 'fresh');
    });
    docs.onDidChangeContent((e) => {
      // Opening fires this too (after onDidOpen): the open's fresh parse stands.
      if (!this.scheduled.has(e.document.uri)) this.schedule(e.document.uri, 'incremental', true);
    });
    docs.onDidSave((e) => {
      this.schedule(e.document.uri, 'fresh');
      const p = pathOf(e.document.uri);
      if (p && this.analyzer.reindex(p, e.document.getText())) this.indexChanged();
    });
    docs.onDidClose((e) => this.closed(e.document.uri));
    docs.listen(c);
  }

  /** A request handler that refuses to run after shutdown (the protocol's InvalidRequest) and never lets an exception escape unlogged. */
  private guard<A extends unknown[], R>(f: (...args: A) => Promise<R> | R): (...args: A) => Promise<R> {
    return async (...args: A) => {
      if (this.shutdownReceived) throw new ResponseError(ErrorCodes.InvalidRequest, 'the server is shut down');
      try {
        return await f(...args);
      } catch (e) {
        if (e instanceof ResponseError) throw e;
        this.error(`${(e as Error).stack ?? e}`);
        throw new ResponseError(ErrorCodes.InternalError, (e as Error).message);
      }
    };
  }

  // ---------------------------------------------------------------- lifecycle

  private initialize(p: InitializeParams): InitializeResult {
    this.caps = p.capabilities ?? {};
    this.initOptions = p.initializationOptions && typeof p.initializationOptions === 'object' ? (p.initializationOptions as Record<string, unknown>) : {};
    const folders = p.workspaceFolders?.map((f) => pathOf(f.uri)) ?? [p.rootUri ? pathOf(p.rootUri) : (p.rootPath ?? undefined)];
    this.folders = folders.filter((f): f is string => !!f);
    // The parser loads while the client gets ready.
    void this.parser().catch(() => undefined);
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, FIX_ALL_KIND], resolveProvider: true },
        hoverProvider: true,
        diagnosticProvider: { identifier: 'cpyref', interFileDependencies: true, workspaceDiagnostics: true },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'cpyref', version: VERSION },
    };
  }

  private initialized(): void {
    if (this.caps.workspace?.didChangeWatchedFiles?.dynamicRegistration) {
      const globs = ['**/pyproject.toml', '**/setup.py', '**/setup.cfg', '**/meson.build', `**/*.{${SOURCE_EXTENSIONS.join(',')}}`];
      void this.connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: globs.map((globPattern) => ({ globPattern })) }).catch(() => undefined);
    }
    this.startIndexing();
  }

  /** The client pulls diagnostics (`textDocument/diagnostic`): nothing is pushed then. */
  private get pull(): boolean {
    return !!this.caps.textDocument?.diagnostic;
  }

  private parser(): Promise<CParser> {
    this.parserPromise ??= CParser.load().catch((e: Error) => {
      this.error(`the C parser could not be loaded: ${e.message}`);
      this.parserPromise = undefined;
      throw e;
    });
    return this.parserPromise;
  }

  private trace: EditorSettings['trace'] = 'off';
  private log(message: string, level: 'messages' | 'verbose' = 'messages'): void {
    if (this.trace === 'verbose' || (this.trace === 'messages' && level === 'messages')) this.connection.console.log(message);
  }
  private error(message: string): void {
    this.connection.console.error(message);
  }

  // ---------------------------------------------------------------- settings

  /** The client's `cpyref` section for a scope: pulled when the client can, else what it pushed, else the initialization options. */
  private clientSettingsFor(scopeUri: string | undefined): Promise<ReturnType<typeof clientSettings>> {
    const key = scopeUri ?? '';
    let s = this.clientSettingsCache.get(key);
    if (!s) {
      const fallback = this.pushedSettings ?? this.initOptions.cpyref;
      s = (this.caps.workspace?.configuration
        ? this.connection.workspace.getConfiguration({ scopeUri, section: 'cpyref' }).then(
            (v: unknown) => v ?? fallback,
            () => fallback,
          )
        : Promise.resolve(fallback)
      ).then((v) => {
        const cs = clientSettings(v);
        this.trace = cs.editor.trace;
        return cs;
      });
      this.clientSettingsCache.set(key, s);
    }
    return s;
  }

  /** The options for a document: defaults, then the nearest pyproject.toml, then the client's settings. */
  private settingsFor(uri: string): Promise<FileSettings> {
    let s = this.fileSettingsCache.get(uri);
    if (!s) {
      s = this.computeSettings(uri, pathOf(uri));
      this.fileSettingsCache.set(uri, s);
    }
    return s;
  }

  /** The settings of a file (or of a folder, given the path of a file in it). */
  private async computeSettings(scopeUri: string, file: string | undefined): Promise<FileSettings> {
    const client = await this.clientSettingsFor(scopeUri);
    let base = defaultOptions();
    let limitedApi = false;
    let root = file ? this.folderOf(file) : undefined;
    let near: ProjectConfig | undefined;
    if (file) {
      near = this.configs.nearest(path.dirname(file));
      if (near) {
        base = applyPyproject(base, near.cfg);
        limitedApi = near.cfg.limitedApi;
        root = path.dirname(near.path);
      }
    }
    const options = applyEditorOverrides(base, client.overrides);
    if (!limitedApi && root) limitedApi = this.configs.buildAsksLimitedApi(root);
    return { options, editor: client.editor, limitedApi, root };
  }

  /** The workspace folder holding a path (the deepest), else undefined. */
  private folderOf(p: string): string | undefined {
    let best: string | undefined;
    for (const f of this.folders) if ((p === f || p.startsWith(f + path.sep)) && (!best || f.length > best.length)) best = f;
    return best;
  }

  /** A pyproject.toml was read: its problems go to the log and onto its lines. */
  private configRead(c: ProjectConfig): void {
    const uri = fileUri(c.path);
    for (const p of c.cfg.problems) this.connection.console.warn(`[config] ${c.path}${p.line !== undefined ? `:${p.line + 1}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`);
    if (!c.cfg.problems.length && !this.configProblemFiles.has(uri)) return;
    if (c.cfg.problems.length) this.configProblemFiles.add(uri);
    else this.configProblemFiles.delete(uri);
    const diagnostics: Diagnostic[] = c.cfg.problems.map((p) => {
      const at = { line: p.line ?? 0, character: p.column ?? 0 };
      return { range: { start: at, end: { line: at.line, character: at.character + (p.length ?? 0) } }, severity: 2, source: 'cpyref', code: 'configuration', message: `${p.key ? `${p.key}: ` : ''}${p.message}` };
    });
    void this.connection.sendDiagnostics({ uri, diagnostics });
  }

  /** Settings or configuration files changed: everything is read again and re-analysed. */
  private settingsChanged(why: string): void {
    this.log(`[config] ${why}; re-reading the configuration`);
    this.clientSettingsCache.clear();
    this.fileSettingsCache.clear();
    this.configs.forget();
    this.headers.forget();
    // (A project file was created or deleted, maybe: the files' projects are looked up again.)
    this.roots.forget();
    this.analyzer.index.projectsChanged();
    this.filter = undefined;
    this.refreshAll('fresh');
  }

  /** The project index changed: severities may change; the trees and the per-function results stay valid. */
  private indexChanged(): void {
    this.refreshAll('incremental');
  }

  private refreshAll(mode: ParseMode): void {
    this.generation++;
    if (this.pull) {
      if (this.caps.workspace?.diagnostics?.refreshSupport) void this.connection.languages.diagnostics.refresh();
      return;
    }
    for (const d of this.documents.all()) this.schedule(d.uri, mode);
  }

  private watchedFilesChanged(changes: FileEvent[]): void {
    let config = false;
    let index = false;
    for (const ch of changes) {
      const p = pathOf(ch.uri);
      if (!p) continue;
      this.headers.forget(p);
      if (CONFIG_NAMES.has(path.basename(p))) config = true;
      else if (SOURCE_NAME.test(p) && !this.documents.get(ch.uri)) {
        if (ch.type === FileChangeType.Deleted) {
          if (this.analyzer.index.has(p)) {
            this.analyzer.index.delete(p);
            index = true;
          }
        } else {
          const text = readSourceFile(p, 8 * 1024 * 1024);
          if (text !== undefined && this.analyzer.reindex(p, text)) index = true;
        }
      }
    }
    if (config) this.settingsChanged('a configuration file changed');
    else if (index) this.indexChanged();
  }

  // ---------------------------------------------------------------- the project index

  /** A workspace folder's settings (its pyproject.toml's, under the client's) and the sources they select. */
  private async folderFiles(folder: string) {
    const config = path.join(folder, 'pyproject.toml');
    const settings = await this.computeSettings(fileUri(config), config);
    return { settings, jobs: collectFiles([folder], folder, new FileFilter(settings.options, settings.root ?? folder)).jobs };
  }

  /** Indexes the workspace folders' sources in the background (lexical, in small slices between messages). */
  private startIndexing(): void {
    const run = async () => {
      let n = 0;
      for (const folder of this.folders) {
        const { settings, jobs } = await this.folderFiles(folder);
        let slice = Date.now();
        for (const job of jobs) {
          if (this.shutdownReceived) return;
          if (this.openDocument(job.abs)) continue;
          const text = readSourceFile(job.abs, settings.options.maxFileSize, true);
          if (text !== undefined) {
            this.analyzer.index.set(indexFile(job.abs, text));
            n++;
          }
          if (Date.now() - slice > 10) {
            await yieldToLoop();
            slice = Date.now();
          }
        }
      }
      this.log(`[index] indexed ${plural(n, 'file')} for Python-facing functions`);
      if (n) this.indexChanged();
    };
    const previous = this.indexing ?? Promise.resolve();
    this.indexing = previous.then(run).catch((e: Error) => this.error(`[index] ${e.stack ?? e.message}`));
  }

  // ---------------------------------------------------------------- analysis of open documents

  private isCandidate(doc: TextDocument): boolean {
    return LANGUAGES.has(doc.languageId) || SOURCE_NAME.test(doc.uri.split(/[?#]/)[0]);
  }

  private schedule(uri: string, mode: ParseMode, typing = false): void {
    if (this.shutdownReceived) return;
    if (mode === 'fresh') this.wantFresh.add(uri);
    const before = this.scheduled.get(uri);
    this.scheduled.set(uri, before === 'fresh' ? 'fresh' : mode);
    if (before !== undefined) return;
    setImmediate(() => {
      const m = this.scheduled.get(uri);
      this.scheduled.delete(uri);
      if (m === undefined || this.pull) return;
      void this.publish(uri, m, typing).catch((e: Error) => this.error(`[error] analysing ${uri}: ${e.stack ?? e.message}`));
    });
  }

  private filter: { key: string; filter: FileFilter } | undefined;
  /** Excluded as the CLI excludes a file named on its command line. */
  private excluded(file: string | undefined, settings: FileSettings): boolean {
    if (!file || !settings.root) return false;
    const key = JSON.stringify([settings.root, settings.options.exclude, settings.options.extendExclude]);
    if (this.filter?.key !== key) this.filter = { key, filter: new FileFilter(settings.options, settings.root) };
    return this.filter.filter.excluded(file);
  }

  /**
   * The analysis of a document's current version (reused when nothing changed since), or why
   * it has none. `typing` leaves a document alone when the user asked for analysis on save.
   */
  private async analyze(doc: TextDocument, mode: ParseMode, typing = false): Promise<Outcome | undefined> {
    const uri = doc.uri;
    if (this.wantFresh.has(uri)) mode = 'fresh';
    const known = this.outcomes.get(uri);
    if (mode === 'incremental' && known && known.generation === this.generation && ('result' in known ? known.result.version : known.version) === doc.version) return known;
    const generation = this.generation;
    const [parser, settings] = await Promise.all([this.parser(), this.settingsFor(uri)]);
    // The document may have changed or closed while the parser or the settings were awaited.
    const current = this.documents.get(uri);
    if (!current || current.version !== doc.version) return undefined;
    if (typing && settings.editor.run === 'onSave') return undefined;
    const file = pathOf(uri);
    let outcome: Outcome;
    if (mode === 'fresh') this.wantFresh.delete(uri);
    const skipped = !this.isCandidate(doc)
      ? 'not a C or C++ document'
      : !settings.editor.enable
        ? 'cpyref.enable is off'
        : this.excluded(file, settings)
          ? 'excluded by the exclude settings'
          : skipReason(doc.getText(), settings.options);
    if (skipped) {
      this.log(`skipped ${uri}: ${skipped}`);
      this.analyzer.close(uri);
      outcome = { skipped, version: doc.version, generation };
    } else {
      const started = Date.now();
      const result = this.analyzer.analyze(parser, { key: uri, path: file ?? uri, text: doc.getText(), version: doc.version }, mode, settings, file ? this.includes(settings) : undefined);
      this.log(`analysed ${uri} v${doc.version} (${mode}) in ${Date.now() - started} ms: ${plural(result.findings.length, 'finding')}, ${plural(this.analyzer.lastAnalyzed, 'function')} re-analysed`, 'verbose');
      for (const s of result.skippedFunctions) this.log(`${uri}: function \`${s.name}\` not analysed: ${s.reason}`);
      outcome = { result, generation };
    }
    this.outcomes.set(uri, outcome);
    return outcome;
  }

  /** Quoted includes: an open document's text, else the file (the including folder first, then the include paths). */
  private includes(settings: FileSettings): IncludeReader {
    const search = { includePaths: settings.options.includePaths, root: settings.root, maxFileSize: settings.options.maxFileSize };
    return (from, name) => this.headers.read(from, name, search, (abs) => this.openDocument(abs)?.getText());
  }

  /** Open documents by file path. */
  private readonly openByPath = new Map<string, string>();
  private openDocument(p: string): TextDocument | undefined {
    const uri = this.openByPath.get(p);
    return uri === undefined ? undefined : this.documents.get(uri);
  }

  /** Headers read from disk, kept between keystrokes. */
  private readonly headers = new HeaderReader();

  /** The positions of another file the server has open. */
  private openPositions = (p: string): Positions | undefined => this.openDocument(p);

  private diagnosticsOf(outcome: Outcome, doc: TextDocument): Diagnostic[] {
    if (!('result' in outcome)) return [];
    return outcome.result.findings.map((f) => toDiagnostic(f, doc.uri, doc, doc.version, this.openPositions));
  }

  /** Analyses a document and publishes its diagnostics (versioned), unless a newer version is on its way. */
  private async publish(uri: string, mode: ParseMode, typing: boolean): Promise<void> {
    const doc = this.documents.get(uri);
    if (!doc) return;
    const outcome = await this.analyze(doc, mode, typing);
    const current = this.documents.get(uri);
    if (!outcome || !current || current.version !== doc.version || this.shutdownReceived) return;
    const diagnostics = this.diagnosticsOf(outcome, doc);
    // The same diagnostics for the same version are not sent again (a re-analysis after the index changed, say).
    const sig = `${doc.version}\u0000${JSON.stringify(diagnostics)}`;
    if (this.published.get(uri) === sig) return;
    this.published.set(uri, sig);
    await this.connection.sendDiagnostics({ uri, version: doc.version, diagnostics });
  }

  private closed(uri: string): void {
    const p = pathOf(uri);
    if (p && this.openByPath.get(p) === uri) this.openByPath.delete(p);
    this.scheduled.delete(uri);
    this.wantFresh.delete(uri);
    this.outcomes.delete(uri);
    this.published.delete(uri);
    this.analyzer.close(uri);
    if (!this.pull && !this.shutdownReceived) void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  /** The result for the document's current version, analysing it if needed. */
  private async current(doc: TextDocument): Promise<DocumentResult | undefined> {
    const outcome = await this.analyze(doc, 'incremental');
    return outcome && 'result' in outcome && outcome.result.version === this.documents.get(doc.uri)?.version ? outcome.result : undefined;
  }

  // ---------------------------------------------------------------- pull diagnostics

  private async pullDiagnostics(p: DocumentDiagnosticParams, token: CancellationToken): Promise<DocumentDiagnosticReport> {
    const doc = this.documents.get(p.textDocument.uri);
    let items: Diagnostic[];
    if (doc) {
      let outcome: Outcome | undefined;
      // A newer version arrived while this one was analysed: the newer one is what the client shows.
      for (let i = 0; !outcome && i < 5; i++) {
        if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
        const now = this.documents.get(p.textDocument.uri);
        if (!now) break;
        outcome = await this.analyze(now, 'incremental');
      }
      const now = this.documents.get(p.textDocument.uri);
      if (!outcome || !now) throw new ResponseError(LSPErrorCodes.ServerCancelled, 'the document changed', { retriggerRequest: true });
      items = this.diagnosticsOf(outcome, now);
    } else {
      const file = pathOf(p.textDocument.uri);
      if (!file) return { kind: 'full', items: [] };
      const settings = await this.settingsFor(p.textDocument.uri);
      if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
      items = (await this.diskDiagnostics([file], settings, token))[0]?.items ?? [];
    }
    const resultId = short(`${this.generation}\u0000${JSON.stringify(items)}`);
    if (p.previousResultId === resultId) return { kind: 'unchanged', resultId };
    return { kind: 'full', resultId, items };
  }

  /**
   * Diagnostics of files as they are on disk, as the CLI analyses each (its size, binary and
   * Cython policies; severities from the project index), one report per file.
   */
  private async diskDiagnostics(files: string[], settings: FileSettings, token: CancellationToken, each?: (r: { uri: string; items: Diagnostic[] }) => Promise<void>): Promise<Array<{ uri: string; items: Diagnostic[] }>> {
    const parser = await this.parser();
    const root = settings.root ?? path.dirname(files[0] ?? '.');
    const scan: ScanSettings = {
      options: settings.options,
      reportUnusedIgnores: false,
      includeDirs: settings.options.includePaths.map((p) => path.resolve(root, p)),
      projectLimitedApi: settings.limitedApi,
    };
    const includes = new IncludeCache(scan.includeDirs, settings.options.maxFileSize, files);
    const out: Array<{ uri: string; items: Diagnostic[] }> = [];
    for (const abs of files) {
      if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
      const o = processFile(parser, { abs, display: abs }, scan, includes);
      let findings: Finding[] = [];
      if (!o.skipped && o.targets && o.pending.length) {
        if (!this.analyzer.index.has(abs) && o.pending.some((f) => f.contract) && o.text !== undefined) this.analyzer.index.set(indexFile(abs, o.text));
        findings = resolveFindings({ findings: o.pending, targets: o.targets }, this.analyzer.index.factsFor(abs), settings.options);
      }
      const uri = fileUri(abs);
      const pos = o.text !== undefined ? positionsOf(o.text) : undefined;
      const r = { uri, items: pos ? findings.map((f) => toDiagnostic(f, uri, pos, undefined, this.openPositions)) : [] };
      if (each) await each(r);
      else out.push(r);
    }
    return out;
  }

  /**
   * `workspace/diagnostic`: every source of the workspace folders (open documents at their
   * version, other files as on disk), streamed in batches as partial results when the client
   * gives a token, with work-done progress; cancellation is checked before each file.
   */
  private async workspaceDiagnostics(
    p: WorkspaceDiagnosticParams,
    token: CancellationToken,
    workDone: WorkDoneProgressReporter,
    partial: ResultProgressReporter<WorkspaceDiagnosticReportPartialResult> | undefined,
  ): Promise<WorkspaceDiagnosticReport> {
    // Severities come from the whole project's index: it is complete first.
    await this.indexing;
    const previous = new Map((p.previousResultIds ?? []).map((r) => [r.uri, r.value]));
    const all: WorkspaceDocumentDiagnosticReport[] = [];
    let batch: WorkspaceDocumentDiagnosticReport[] = [];
    let flushed = Date.now();
    let done = 0;
    let total = 0;
    const flush = async (force: boolean) => {
      if (!batch.length || (!force && batch.length < 100 && Date.now() - flushed < 100)) return;
      if (partial) partial.report({ items: batch });
      else all.push(...batch);
      batch = [];
      flushed = Date.now();
      workDone.report(total ? Math.floor((done / total) * 100) : 100, `${done}/${total} files`);
      // Other messages (edits, a cancellation) are read between batches.
      await yieldToLoop();
    };
    const add = async (uri: string, version: number | null, items: Diagnostic[]) => {
      const resultId = short(`${this.generation}\u0000${version}\u0000${JSON.stringify(items)}`);
      batch.push(previous.get(uri) === resultId ? { kind: 'unchanged', uri, version, resultId } : { kind: 'full', uri, version, resultId, items });
      done++;
      await flush(false);
    };
    workDone.begin('cpyref: workspace diagnostics', 0, 'listing the files', true);
    try {
      const seen = new Set<string>();
      for (const folder of this.folders) {
        const { settings, jobs } = await this.folderFiles(folder);
        if (!settings.editor.enable) continue;
        const files = jobs.map((j) => j.abs).filter((f) => !seen.has(f));
        for (const f of files) seen.add(f);
        total += files.length;
        const onDisk: string[] = [];
        for (const f of files) {
          const doc = this.openDocument(f);
          if (!doc) {
            onDisk.push(f);
            continue;
          }
          if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
          const outcome = await this.analyze(doc, 'incremental');
          await add(doc.uri, doc.version, outcome ? this.diagnosticsOf(outcome, doc) : []);
        }
        await this.diskDiagnostics(onDisk, settings, token, (r) => add(r.uri, null, r.items));
      }
      await flush(true);
    } finally {
      workDone.done();
    }
    return { items: partial ? [] : all };
  }

  // ---------------------------------------------------------------- code actions

  /** A workspace edit of one document at the version it was computed for. */
  private edit(doc: TextDocumentIdentifier, version: number, edits: Array<{ range: Diagnostic['range']; newText: string }>): WorkspaceEdit {
    if (this.caps.workspace?.workspaceEdit?.documentChanges) return { documentChanges: [{ textDocument: { uri: doc.uri, version }, edits }] };
    return { changes: { [doc.uri]: edits } };
  }

  private async fixAllEdits(doc: TextDocument, result: DocumentResult): Promise<TextEdit[]> {
    const settings = await this.settingsFor(doc.uri);
    const parser = await this.parser();
    const file = pathOf(doc.uri);
    const fixed = this.analyzer.fixAll(parser, file ?? doc.uri, result, settings, settings.editor.fixAllHints, file ? this.includes(settings) : undefined);
    return fixed ? lineEdits(result.text, fixed.text) : [];
  }

  private async codeActions(p: CodeActionParams, token: CancellationToken): Promise<CodeAction[]> {
    const doc = this.documents.get(p.textDocument.uri);
    if (!doc) return [];
    // (Neovim 0.7 passes `only` on as the user wrote it: a single kind is a list of one.)
    const given = p.context.only as string[] | string | undefined;
    const only = typeof given === 'string' ? [given] : given;
    const within = (kind: string) => (k: string) => k === '' || k === kind || kind.startsWith(`${k}.`) || k.startsWith(`${kind}.`);
    const wantsFixAll = !!only && only.some(within(FIX_ALL_KIND));
    const wantsQuickFix = !only || only.some(within(CodeActionKind.QuickFix));
    const ours = p.context.diagnostics.filter((d) => ruleOf(d));
    if (!wantsFixAll && (!wantsQuickFix || !ours.length)) return [];
    const result = await this.current(doc);
    if (!result || this.documents.get(doc.uri)?.version !== result.version) return [];
    const settings = await this.settingsFor(doc.uri);
    const fixable = selectSafeFixes(settings.editor.fixAllHints ? result.findings : result.findings.filter((f) => f.severity !== 'hint')).length > 0;
    const actions: CodeAction[] = [];
    // Fix-all re-parses the file (to a fixpoint): not for a request the client gave up on.
    const cancelled = () => {
      if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    };
    if (wantsFixAll) {
      cancelled();
      const edits = fixable ? await this.fixAllEdits(doc, result) : [];
      if (edits.length && this.documents.get(doc.uri)?.version === result.version) {
        actions.push({ title: FIX_ALL_TITLE, kind: FIX_ALL_KIND, edit: this.edit(doc, result.version, toTextEdits(doc, edits)) });
      }
      return actions;
    }
    const byKey = new Map(result.findings.map((f) => [findingKey(f.rule, { start: doc.positionAt(f.start), end: doc.positionAt(f.end) }), f]));
    const eol = detectEol(result.text);
    let matched = 0;
    for (const d of ours) {
      // A diagnostic of another version of the document is stale: its fixes are not offered.
      const data = d.data as DiagnosticData | undefined;
      if (data && typeof data.version === 'number' && data.version !== result.version) continue;
      const rule = ruleOf(d)!;
      const f = byKey.get(findingKey(rule, d.range));
      if (!f) continue;
      matched++;
      for (const fix of quickFixes(f)) {
        const a: CodeAction = { title: fix.title, kind: CodeActionKind.QuickFix, diagnostics: [d], edit: this.edit(doc, result.version, toTextEdits(doc, fix.edits)) };
        if (fix.preferred) a.isPreferred = true;
        actions.push(a);
      }
      // A comment line above the finding's line, indented as it is.
      const line = d.range.start.line;
      const lineText = doc.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } });
      const indent = /^[ \t]*/.exec(lineText)![0];
      actions.push({
        title: suppressTitle(rule),
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        edit: this.edit(doc, result.version, [{ range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: suppressComment(indent, rule, eol) }]),
      });
    }
    if (matched && fixable) {
      const a: CodeAction = { title: FIX_ALL_IN_FILE_TITLE, kind: CodeActionKind.QuickFix, data: { fixAllInFile: true, uri: doc.uri, version: result.version } };
      // Computing it means re-parsing the file: done when it is picked, if the client can resolve an action's edit.
      if (this.caps.textDocument?.codeAction?.resolveSupport?.properties.includes('edit')) actions.push(a);
      else {
        cancelled();
        const edits = await this.fixAllEdits(doc, result);
        if (edits.length) actions.push({ ...a, data: undefined, edit: this.edit(doc, result.version, toTextEdits(doc, edits)) });
      }
    }
    return actions;
  }

  /** Computes "Fix all in this file" for the version it was offered for; refuses (ContentModified) when the document changed since. */
  private async resolveCodeAction(a: CodeAction, token: CancellationToken): Promise<CodeAction> {
    const data = a.data as { fixAllInFile?: boolean; uri?: string; version?: number } | undefined;
    if (!data?.fixAllInFile || !data.uri || typeof data.version !== 'number') return a;
    const doc = this.documents.get(data.uri);
    if (!doc || doc.version !== data.version) throw new ResponseError(LSPErrorCodes.ContentModified, 'the document changed since this action was offered');
    const result = await this.current(doc);
    if (!result || result.version !== data.version) throw new ResponseError(LSPErrorCodes.ContentModified, 'the document changed since this action was offered');
    if (token.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    const edits = await this.fixAllEdits(doc, result);
    if (this.documents.get(doc.uri)?.version !== data.version) throw new ResponseError(LSPErrorCodes.ContentModified, 'the document changed since this action was offered');
    return { ...a, edit: this.edit(doc, data.version, toTextEdits(doc, edits)) };
  }

  // ---------------------------------------------------------------- hover

  private async hover(p: HoverParams): Promise<Hover | null> {
    const doc = this.documents.get(p.textDocument.uri);
    if (!doc) return null;
    const file = pathOf(doc.uri) ?? doc.uri;
    const h = await ownershipHover(file, doc.getText(), doc.offsetAt(p.position), async () => {
      const { options } = await this.settingsFor(doc.uri);
      return { parser: await this.parser(), options };
    });
    return h ? { contents: { kind: 'markdown', value: h.markdown }, range: { start: doc.positionAt(h.start), end: doc.positionAt(h.end) } } : null;
  }
}

/** The package's version (the CLI's and the extension's). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
