import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { applyPyproject, readPyproject, type PyprojectConfig } from '../core/config';
import type { ParseMode } from '../core/document';
import { LiveAnalyzer, type DocumentResult, type IncludeReader } from '../core/live';
import { defaultOptions, type Options } from '../core/options';
import { CParser, type ParserLocation } from '../core/parser';
import { decodeSource, plural } from '../core/text';
import { HeaderReader } from '../node/headers';
import { projectAsksLimitedApi } from '../node/process-file';
import { indexFile, type ProjectIndex } from '../core/project-index';
import { ProjectRoots } from '../node/projects';
import type { Finding } from '../core/types';
import { readSettings, type EditorSettings } from './config';

export type { DocumentResult };

/** Settings and project facts that apply to one file. */
export interface FileSettings {
  options: Options;
  editor: EditorSettings;
  limitedApi: boolean;
  /** The folder that relative globs are matched against. */
  root: string | undefined;
}

/** Thrown when a document closes while its analysis waits. */
export class DocumentClosed extends Error {}

/** What happened to a file on disk. */
export type DiskChange = 'created' | 'changed' | 'deleted';

/** The extensions of the files the index reads (the CLI's default includes). */
const SOURCE_EXTENSIONS = ['c', 'h', 'cc', 'cpp', 'cxx', 'hpp', 'hh', 'inc'];
/** Folders the index never reads (the CLI's default excludes). */
const SKIPPED_FOLDERS = ['build', '.tox', '.venv', 'node_modules', '.git'];

/** The path the core and the index use for a document: the file's path, else its URI. */
function fileOf(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? uri.fsPath : uri.toString();
}

/** Where the wasm files are: beside the bundle when packaged, else in node_modules. */
export function parserLocation(): ParserLocation {
  const grammar = path.join(__dirname, 'tree-sitter-c.wasm');
  return fs.existsSync(grammar) ? { runtimeDir: __dirname, grammarPath: grammar, cppGrammarPath: path.join(__dirname, 'tree-sitter-cpp.wasm') } : {};
}

/**
 * The editor's side of the engine: loads the parser once (on first use, never at
 * activation), keeps a DocumentSession per open document, and the project index that
 * decides whether a function is Python-facing.
 */
export class Engine implements vscode.Disposable {
  private parserPromise: Promise<CParser> | undefined;
  /** The sessions of open documents and the project index, shared with the language server's code. */
  private readonly roots = new ProjectRoots();
  readonly analyzer = new LiveAnalyzer(this.roots.projectOf);
  private readonly pyprojects = new Map<string, PyprojectConfig | null>();
  /** The project index (which functions CPython calls). */
  get index(): ProjectIndex {
    return this.analyzer.index;
  }
  private readonly indexChanged = new vscode.EventEmitter<void>();
  /** Fired when the project index learns something that may change severities. */
  readonly onDidChangeIndex = this.indexChanged.event;
  state: 'idle' | 'loading' | 'ready' | 'failed' = 'idle';
  private readonly stateChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeState = this.stateChanged.event;

  constructor(readonly output: vscode.OutputChannel) {}

  /** The parser, loaded once. */
  parser(): Promise<CParser> {
    if (!this.parserPromise) {
      this.state = 'loading';
      this.stateChanged.fire();
      this.parserPromise = CParser.load(parserLocation()).then(
        (p) => {
          this.state = 'ready';
          this.stateChanged.fire();
          this.log('parser loaded');
          return p;
        },
        (e: Error) => {
          this.state = 'failed';
          this.stateChanged.fire();
          this.output.appendLine(`[error] the C parser could not be loaded: ${e.message}`);
          throw e;
        },
      );
    }
    return this.parserPromise;
  }

  private trace = readSettings(undefined).editor.trace;
  /** Re-reads what the engine keeps of the settings (the trace level); called when they change. */
  settingsChanged(): void {
    this.trace = readSettings(undefined).editor.trace;
  }

  log(message: string, level: 'messages' | 'verbose' = 'messages'): void {
    if (this.trace === 'verbose' || (this.trace === 'messages' && level === 'messages')) this.output.appendLine(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
  }

  /** Problems in `[tool.cpyref]` of pyproject.toml files, shown on the offending line of the file. */
  readonly configDiagnostics = vscode.languages.createDiagnosticCollection('cpyref-config');

  /** Reads a pyproject.toml once (until it changes); its problems go to the output and to the Problems panel. */
  private async pyproject(file: vscode.Uri): Promise<PyprojectConfig | null> {
    const key = file.toString();
    if (!this.pyprojects.has(key)) {
      let cfg: PyprojectConfig | null = null;
      try {
        cfg = readPyproject(new TextDecoder().decode(await vscode.workspace.fs.readFile(file)));
      } catch {
        cfg = null;
      }
      this.pyprojects.set(key, cfg);
      this.showConfigProblems(file, cfg);
    }
    return this.pyprojects.get(key)!;
  }

  private showConfigProblems(file: vscode.Uri, cfg: PyprojectConfig | null): void {
    if (!cfg || !cfg.problems.length) {
      this.configDiagnostics.delete(file);
      return;
    }
    for (const p of cfg.problems) this.output.appendLine(`[config] ${file.fsPath}${p.line !== undefined ? `:${p.line + 1}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`);
    this.configDiagnostics.set(
      file,
      cfg.problems.map((p) => {
        const at = new vscode.Position(p.line ?? 0, p.column ?? 0);
        const d = new vscode.Diagnostic(new vscode.Range(at, at.translate(0, p.length ?? 0)), `${p.key ? `${p.key}: ` : ''}${p.message}`, vscode.DiagnosticSeverity.Warning);
        d.source = 'cpyref';
        d.code = 'configuration';
        return d;
      }),
    );
  }

  /** Reads the workspace's pyproject.toml files (a few), to show their problems. */
  async checkWorkspaceConfig(): Promise<void> {
    for (const uri of await vscode.workspace.findFiles('**/pyproject.toml', Engine.SKIPPED_GLOB, 50)) await this.pyproject(uri);
  }

  /** (Re)reads a pyproject.toml that was created or changed, or forgets one that was deleted. */
  async configChanged(file: vscode.Uri | undefined, deleted = false): Promise<void> {
    this.forgetConfiguration();
    if (!file) return;
    if (deleted) this.configDiagnostics.delete(file);
    else await this.pyproject(file);
  }

  /** Forgets cached pyproject.toml files (one changed). */
  forgetConfiguration(): void {
    this.pyprojects.clear();
    this.limitedApiRoots.clear();
    this.roots.forget();
    this.analyzer.index.projectsChanged();
  }

  /** A project file (`setup.py`, `setup.cfg`) was created or deleted: the files' projects may have changed. */
  projectsChanged(): void {
    this.roots.forget();
    this.analyzer.index.projectsChanged();
    this.indexChanged.fire();
  }

  /** The options for a file: defaults, then the nearest pyproject.toml in its workspace folder, then the editor settings. */
  async settingsFor(uri: vscode.Uri): Promise<FileSettings> {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    let base = defaultOptions();
    let limitedApi = false;
    let root = folder?.uri.fsPath;
    let configFile: string | undefined;
    if (folder) {
      let dir = vscode.Uri.joinPath(uri, '..');
      for (let i = 0; i < 32; i++) {
        const cfg = await this.pyproject(vscode.Uri.joinPath(dir, 'pyproject.toml'));
        if (cfg) {
          configFile = vscode.Uri.joinPath(dir, 'pyproject.toml').fsPath;
          base = applyPyproject(base, cfg);
          limitedApi = cfg.limitedApi;
          root = dir.fsPath;
          break;
        }
        if (dir.toString() === folder.uri.toString() || dir.path === '/') break;
        dir = vscode.Uri.joinPath(dir, '..');
      }
    }
    const { options, editor } = readSettings(uri, base);
    if (!limitedApi && root && uri.scheme === 'file') limitedApi = this.buildAsksLimitedApi(root);
    // Once per project root: which configuration applies, and which CPython versions it targets.
    const logKey = `${root ?? ''}\u0000${configFile ?? ''}\u0000${options.pythonVersions}`;
    if (!this.loggedRoots.has(logKey)) {
      this.loggedRoots.add(logKey);
      this.output.appendLine(
        `[config] ${root ? vscode.workspace.asRelativePath(root, true) || root : 'no workspace folder'}: ${configFile ? `settings from ${configFile}` : 'no pyproject.toml; defaults and editor settings'}; CPython ${options.pythonVersions}${limitedApi ? ', limited API' : ''}`,
      );
    }
    return { options, editor, limitedApi, root };
  }

  private readonly limitedApiRoots = new Map<string, boolean>();
  /** Roots whose configuration was written to the output. */
  private readonly loggedRoots = new Set<string>();
  /** Whether `setup.py`/`setup.cfg`/`meson.build` in `root` ask for abi3 (read once, until configuration changes). */
  private buildAsksLimitedApi(root: string): boolean {
    let v = this.limitedApiRoots.get(root);
    if (v === undefined) {
      v = projectAsksLimitedApi(root);
      this.limitedApiRoots.set(root, v);
    }
    return v;
  }

  /** Headers read from disk, kept between keystrokes (looked at again at most once a second, at once when changed on disk). */
  private readonly headers = new HeaderReader();

  /**
   * Text of a header included with quotes, looked up as the CLI does (the including file's
   * folder, then the configured include paths): the open document if any, else the file.
   */
  private readInclude(from: string, name: string, settings: FileSettings): { path: string; text: string } | undefined {
    const search = { includePaths: settings.options.includePaths, root: settings.root, maxFileSize: settings.options.maxFileSize };
    return this.headers.read(from, name, search, (abs) => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === abs)?.getText());
  }

  /** Analyses a document: incrementally while typing, afresh on save (so the editor agrees with the CLI). */
  async analyze(doc: vscode.TextDocument, mode: ParseMode, known?: FileSettings): Promise<DocumentResult> {
    const parser = await this.parser();
    const settings = known ?? (await this.settingsFor(doc.uri));
    // The document may have closed while the parser or the settings were awaited.
    if (doc.isClosed) throw new DocumentClosed();
    const started = Date.now();
    const result = this.analyzer.analyze(parser, { key: doc.uri.toString(), path: fileOf(doc.uri), text: doc.getText(), version: doc.version }, mode, settings, this.includes(doc.uri, settings));
    this.log(`analysed ${vscode.workspace.asRelativePath(doc.uri)} v${result.version} (${mode}) in ${Date.now() - started} ms: ${plural(result.findings.length, 'finding')}, ${plural(this.analyzer.lastAnalyzed, 'function')} re-analysed`, 'verbose');
    return result;
  }

  /** Quoted includes for files on disk (other documents have none). */
  private includes(uri: vscode.Uri, settings: FileSettings): IncludeReader | undefined {
    return uri.scheme === 'file' ? (f, n) => this.readInclude(f, n, settings) : undefined;
  }

  /** The findings of a text of `uri` from a fresh parse (a file that is not open, or a fix-all round). */
  async analyzeFresh(uri: vscode.Uri, text: string, settings: FileSettings): Promise<Finding[]> {
    const parser = await this.parser();
    return this.analyzer.analyzeFresh(parser, fileOf(uri), text, settings, this.includes(uri, settings));
  }

  /**
   * The text of a document after all its safe fixes, as the CLI's `--fix` computes it: to a
   * fixpoint, keeping only fixes that add no syntax error. Undefined when nothing changes.
   */
  async fixAll(doc: vscode.TextDocument, result: DocumentResult): Promise<{ text: string; applied: number } | undefined> {
    const parser = await this.parser();
    const settings = await this.settingsFor(doc.uri);
    return this.analyzer.fixAll(parser, fileOf(doc.uri), result, settings, settings.editor.fixAllHints, this.includes(doc.uri, settings));
  }

  /** Forgets every session, setting and index entry (cpyref: Restart); the parser stays loaded unless it failed. */
  async restart(): Promise<void> {
    this.analyzer.reset();
    this.forgetConfiguration();
    this.configDiagnostics.clear();
    this.loggedRoots.clear();
    if (this.state === 'failed') this.parserPromise = undefined;
    this.settingsChanged();
  }

  /** Forgets a closed document's session. */
  close(uri: vscode.Uri): void {
    this.analyzer.close(uri.toString());
  }

  /**
   * Builds the project index in the background over the workspace's C files (lexical,
   * in small chunks so the extension host stays responsive).
   */
  async indexWorkspace(token?: vscode.CancellationToken): Promise<number> {
    const uris = await vscode.workspace.findFiles(Engine.SOURCES, Engine.SKIPPED_GLOB);
    let n = 0;
    for (let i = 0; i < uris.length; i++) {
      if (token?.isCancellationRequested) break;
      try {
        const bytes = await vscode.workspace.fs.readFile(uris[i]);
        if (bytes.length <= 8 * 1024 * 1024 && !bytes.subarray(0, 8000).includes(0)) {
          this.index.set(indexFile(uris[i].scheme === 'file' ? uris[i].fsPath : uris[i].toString(), Buffer.from(bytes).toString('latin1')));
          n++;
        }
      } catch {
        // unreadable: skipped
      }
      if (i % 25 === 24) await new Promise((r) => setImmediate(r));
    }
    this.log(`indexed ${n} files for Python-facing functions`);
    this.indexChanged.fire();
    return n;
  }

  /** The sources the index reads, and the folders it leaves out (as the workspace scan does). */
  static readonly SOURCES = `**/*.{${SOURCE_EXTENSIONS.join(',')}}`;
  /** A file name the index reads. */
  static readonly SOURCE_NAME = new RegExp(`\\.(?:${SOURCE_EXTENSIONS.join('|')})$`);
  /** A path inside one of the folders the index leaves out. */
  static readonly NOT_SOURCES = new RegExp(`[\\\\/](?:${SKIPPED_FOLDERS.map((f) => f.replace('.', '\\.')).join('|')})[\\\\/]`);
  /** The same folders as a glob, for findFiles. */
  static readonly SKIPPED_GLOB = `{${SKIPPED_FOLDERS.map((f) => `**/${f}/**`).join(',')}}`;

  private readonly diskQueue = new Map<string, { uri: vscode.Uri; kind: DiskChange; analyze: boolean }>();
  /** Folders (or other non-source paths) deleted since the last drain: swept from the index in one pass. */
  private readonly deletedPaths = new Set<string>();
  /** Told of disk changes to files the editor shows problems for (set by the live diagnostics). */
  diskListener: { changed(uri: vscode.Uri, text: string): Promise<void>; deleted(fsPath: string): void } | undefined;
  /** Disk events not handled yet (tests wait for 0). */
  get pendingDiskEvents(): number {
    return this.diskQueue.size;
  }
  private diskTimer: NodeJS.Timeout | undefined;

  /**
   * A source file was created, changed or deleted on disk (a checkout, a code generator):
   * the index follows it. Events are gathered for a moment and handled in small chunks, so a
   * checkout of thousands of files neither blocks the editor nor re-analyses once per file.
   * An open document is the editor's business (indexed on save).
   */
  diskChanged(uri: vscode.Uri, kind: DiskChange): void {
    // Thousands of these arrive in one turn after a checkout: each does as little as it can.
    if (uri.scheme !== 'file') return;
    const p = uri.fsPath;
    if (Engine.NOT_SOURCES.test(p)) return;
    this.headers.forget(p);
    // A file created and changed before it is read is read once, as created.
    const before = this.diskQueue.get(p)?.kind;
    this.diskQueue.set(p, { uri, kind: kind === 'changed' && before === 'created' ? 'created' : kind, analyze: true });
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    this.diskTimer ??= setTimeout(() => {
      this.diskTimer = undefined;
      void this.drainDiskQueue();
    }, 300);
  }

  /**
   * A file or folder was deleted: a folder's deletion is reported for the folder alone, so the
   * index drops every file under it (and pending events for them).
   */
  pathDeleted(uri: vscode.Uri): void {
    if (uri.scheme !== 'file' || Engine.NOT_SOURCES.test(uri.fsPath + path.sep)) return;
    // A deleted file that is not a source (`make clean`'s objects, a lock file) holds no sources; a folder might.
    if (/\.[A-Za-z0-9]{1,8}$/.test(path.basename(uri.fsPath))) return;
    this.deletedPaths.add(uri.fsPath);
    this.scheduleDrain();
  }

  /** A workspace scan has just read every file: queued events need no analysis of their own (the index still follows them). */
  scanCovered(): void {
    for (const e of this.diskQueue.values()) e.analyze = false;
  }

  /** Handles the gathered disk events; resolves when the queue is empty. */
  async drainDiskQueue(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      await this.drainLoop();
    } finally {
      this.draining = false;
    }
  }

  private draining = false;
  /** Workspace scans running: they read every file themselves, so the disk queue waits for them. */
  private scans = 0;

  /** Runs `f` (a workspace scan) with the disk queue paused. */
  async whileScanning<T>(f: () => PromiseLike<T>): Promise<T> {
    if (this.scans++ === 0) this.scanningChanged.fire(true);
    try {
      return await f();
    } finally {
      if (--this.scans === 0) this.scanningChanged.fire(false);
    }
  }

  private readonly scanningChanged = new vscode.EventEmitter<boolean>();
  /** Fired when the first workspace scan starts (true) and when the last one ends (false). */
  readonly onDidChangeScanning = this.scanningChanged.event;

  private async drainLoop(): Promise<void> {
    let changed = false;
    let n = 0;
    while (this.diskQueue.size || this.deletedPaths.size) {
      while (this.scans > 0) await new Promise((r) => setTimeout(r, 200));
      if (this.deletedPaths.size) {
        // Deleted folders: one sweep of the index for all of them, and their files' problems go.
        const gone = [...this.deletedPaths];
        this.deletedPaths.clear();
        const under = (p: string) => gone.some((g) => p === g || p.startsWith(g + path.sep));
        for (const key of this.diskQueue.keys()) if (under(key)) this.diskQueue.delete(key);
        for (const e of this.index.entries()) {
          if (!under(e.path)) continue;
          this.index.delete(e.path);
          changed = true;
        }
        for (const g of gone) this.diskListener?.deleted(g);
        continue;
      }
      const [key, { uri, kind, analyze }] = this.diskQueue.entries().next().value as [string, { uri: vscode.Uri; kind: DiskChange; analyze: boolean }];
      this.diskQueue.delete(key);
      if (kind === 'deleted') {
        if (this.index.has(uri.fsPath)) {
          this.index.delete(uri.fsPath);
          changed = true;
        }
        this.diskListener?.deleted(uri.fsPath);
      } else if (!vscode.workspace.textDocuments.some((d) => d.isDirty && d.uri.fsPath === key)) {
        try {
          const bytes = await fs.promises.readFile(uri.fsPath);
          if (bytes.length <= 8 * 1024 * 1024 && !bytes.subarray(0, 8000).includes(0)) {
            const text = decodeSource(bytes).text;
            changed = this.reindex(uri, text, false) || changed;
            // The problems shown for it follow its new text (a file replaced by a rename is reported as created).
            // Awaited, so that a checkout of many reported files is analysed at the same modest rate.
            if (analyze) await this.diskListener?.changed(uri, text);
          }
        } catch {
          // gone again, or unreadable: the index keeps what it had
        }
      }
      // Background work at a modest rate (about 200 files a second past the first 50): a checkout of
      // thousands of files must not hold up typing or a scan on the extension host's thread.
      if (++n % 10 === 0) await new Promise((r) => setTimeout(r, n > 50 ? 50 : 1));
    }
    if (n) this.log(`index: ${plural(n, 'file')} changed on disk`, 'verbose');
    if (changed) this.indexChanged.fire();
  }

  /** Re-indexes one saved file; listeners hear of it only when what the index knows changed. */
  reindex(uri: vscode.Uri, text: string, notify = true): boolean {
    const changed = this.analyzer.reindex(fileOf(uri), text);
    if (changed && notify) this.indexChanged.fire();
    return changed;
  }

  dispose(): void {
    this.analyzer.dispose();
    this.indexChanged.dispose();
    this.stateChanged.dispose();
    this.configDiagnostics.dispose();
    this.scanningChanged.dispose();
    clearTimeout(this.diskTimer);
  }
}
