import * as vscode from 'vscode';
import { plural } from '../core/text';
import { applyFix, APPLY_FIX_COMMAND, CpyrefCodeActions, SUPPRESS_COMMAND, suppressOnLine } from './code-actions';
import { LiveDiagnostics } from './diagnostics';
import { Engine, type DiskChange } from './engine';
import { OwnershipHover } from './hover';
import { describeStatus, registerStatus, type StatusText } from './status';
import { WorkspaceScan } from './workspace-scan';

/** What `activate` returns: the pieces, for tests inside the extension host. */
export interface CpyrefApi {
  engine: Engine;
  live: LiveDiagnostics;
  scan: WorkspaceScan;
  /** What the status item says for a document. */
  status(uri: vscode.Uri): StatusText;
}

/** Activates on C/C++ files and on cpyref's commands; parses nothing until a document needs it. */
export function activate(context: vscode.ExtensionContext): CpyrefApi {
  const output = vscode.window.createOutputChannel('cpyref');
  const engine = new Engine(output);
  const live = new LiveDiagnostics(engine);
  const scan = new WorkspaceScan(engine, live);
  const selector: vscode.DocumentSelector = [{ language: 'c' }, { language: 'cpp' }];
  // One watcher for everything (a checkout reports thousands of files at once; each watcher
  // costs a glob match per file): pyproject.toml files change the configuration, sources
  // created, changed or deleted outside the editor reach the index, and a deleted folder
  // (reported for the folder alone) takes its files out of the index.
  const configChanged = (uri: vscode.Uri, deleted = false) => {
    void engine.configChanged(uri, deleted).then(() => live.refreshAll());
  };
  const onDisk = (uri: vscode.Uri, kind: DiskChange) => {
    const p = uri.path;
    if (p.endsWith('/pyproject.toml')) configChanged(uri, kind === 'deleted');
    else if (/\/(?:setup\.py|setup\.cfg)$/.test(p)) {
      if (kind !== 'changed') engine.projectsChanged();
    } else if (Engine.SOURCE_NAME.test(p)) engine.diskChanged(uri, kind);
    else if (kind === 'deleted') engine.pathDeleted(uri);
  };
  // While a workspace scan runs it reads every file itself, and a checkout's thousands of
  // events would only compete with it (and with typing) for the extension host: the watcher
  // is off, and back (with a reindex of what changed meanwhile left to the next edit or scan) after.
  let watcher: vscode.Disposable | undefined;
  const watch = () => {
    if (watcher) return;
    const w = vscode.workspace.createFileSystemWatcher('**/*');
    watcher = vscode.Disposable.from(
      w,
      w.onDidChange((u) => onDisk(u, 'changed')),
      w.onDidCreate((u) => onDisk(u, 'created')),
      w.onDidDelete((u) => onDisk(u, 'deleted')),
    );
  };
  watch();
  context.subscriptions.push(
    output,
    engine,
    live,
    { dispose: () => watcher?.dispose() },
    engine.onDidChangeScanning((scanning) => {
      if (scanning) {
        watcher?.dispose();
        watcher = undefined;
      } else watch();
    }),
    // A pyproject.toml opened or saved in the editor is read at once (file events can lag behind a busy disk).
    vscode.workspace.onDidSaveTextDocument((d) => {
      if (d.uri.scheme === 'file' && d.uri.path.endsWith('/pyproject.toml')) configChanged(d.uri);
    }),
    vscode.workspace.onDidOpenTextDocument((d) => {
      if (d.uri.scheme === 'file' && d.uri.path.endsWith('/pyproject.toml')) void engine.configChanged(d.uri);
    }),
    vscode.languages.registerCodeActionsProvider(selector, new CpyrefCodeActions(live, engine), CpyrefCodeActions.metadata),
    vscode.languages.registerHoverProvider(selector, new OwnershipHover(engine)),
    vscode.commands.registerCommand('cpyref.scanWorkspace', () => scan.run()),
    vscode.commands.registerCommand('cpyref.fixAllInWorkspace', (opts?: { apply?: boolean; confirm?: boolean; review?: boolean }) => scan.fixAll(opts)),
    vscode.commands.registerCommand('cpyref.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('cpyref.restart', async () => {
      // Forget every parse, setting and index entry, then start again as after activation.
      output.appendLine('[restart] forgetting every cached parse, setting and index entry');
      await engine.restart();
      live.reset();
      await engine.indexWorkspace();
      await engine.checkWorkspaceConfig();
    }),
    vscode.commands.registerCommand('cpyref.clearScanResults', () => {
      const n = live.clearScanResults();
      output.appendLine(`[scan] cleared the results of ${plural(n, 'file')}`);
      return n;
    }),
    vscode.commands.registerCommand(APPLY_FIX_COMMAND, applyFix),
    vscode.commands.registerCommand(SUPPRESS_COMMAND, suppressOnLine),
  );
  registerStatus(context, engine, live);
  live.refreshAll();
  // The Python-facing index is lexical and built in small chunks after activation.
  const indexing = new vscode.CancellationTokenSource();
  const start = setTimeout(() => {
    void engine.indexWorkspace(indexing.token).catch((e: Error) => output.appendLine(`[index] ${e.message}`));
    // Problems in the workspace's pyproject.toml files show in the Problems panel before any C file asks for them.
    void engine.checkWorkspaceConfig().catch((e: Error) => output.appendLine(`[config] ${e.message}`));
  }, 500);
  context.subscriptions.push({
    dispose: () => {
      clearTimeout(start);
      indexing.cancel();
      indexing.dispose();
    },
  });
  return { engine, live, scan, status: (uri) => describeStatus(engine, live, uri) };
}

/** Nothing to do: every resource is in the context's subscriptions. */
export function deactivate(): void {}
