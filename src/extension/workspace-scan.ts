import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { scanInBackground } from '../node/background-scan';
import { IncludeCache, type ScanSettings } from '../node/process-file';
import type { ScanResult } from '../node/scan';
import { spanEdit } from '../core/fixes';
import { fixProject, fixScannedFile } from '../node/fixing';
import { Positions, toDiagnostic } from './convert';
import { isCandidate, type LiveDiagnostics } from './diagnostics';
import { parserLocation, type Engine } from './engine';

/** What a workspace scan found, returned by the command (tests read it). */
export interface ScanSummary {
  files: number;
  findings: number;
  filesWithFindings: number;
  skipped: number;
  cancelled: boolean;
}

/**
 * "cpyref: Scan Workspace": every C file of every workspace folder, in worker threads
 * (off the extension host's thread), cancellable, with the results in the Problems panel
 * for closed files too.
 */
export class WorkspaceScan {

  constructor(
    private readonly engine: Engine,
    private readonly live: LiveDiagnostics,
  ) {}

  private async scanFolder(folder: vscode.WorkspaceFolder, signal: AbortSignal, progress: (done: number, total: number) => void, withTexts: boolean): Promise<{ result: ScanResult; settings: ScanSettings } | undefined> {
    if (folder.uri.scheme !== 'file') {
      this.engine.output.appendLine(`[scan] ${folder.name}: not on the local file system; only open files are analysed there`);
      return undefined;
    }
    const settings = await this.engine.settingsFor(vscode.Uri.joinPath(folder.uri, 'pyproject.toml'));
    const root = settings.root ?? folder.uri.fsPath;
    const scanSettings: ScanSettings = {
      options: settings.options,
      reportUnusedIgnores: false,
      includeDirs: settings.options.includePaths.map((p) => path.resolve(root, p)),
      projectLimitedApi: settings.limitedApi,
      parserLocation: parserLocation(),
    };
    // The walk, the analysis and the project index all run off the extension host's thread.
    // One core is left to the editor: typing must not wait for the scan.
    const result = await scanInBackground({ folder: folder.uri.fsPath, root, settings: scanSettings, jobs: Math.max(1, os.availableParallelism() - 1), withTexts }, progress, signal);
    for (const f of result.files) f.display = vscode.workspace.asRelativePath(f.abs, false);
    return { result, settings: scanSettings };
  }

  /** Runs the scan with a progress notification; publishes diagnostics for files that are not open. */
  async run(opts: { silent?: boolean; token?: vscode.CancellationToken } = {}): Promise<ScanSummary> {
    return (await this.scan(opts)).summary;
  }

  private async scan(opts: { silent?: boolean; token?: vscode.CancellationToken; withTexts?: boolean }): Promise<{ summary: ScanSummary; results: Array<{ result: ScanResult; settings: ScanSettings }> }> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const summary: ScanSummary = { files: 0, findings: 0, filesWithFindings: 0, skipped: 0, cancelled: false };
    const results: Array<{ result: ScanResult; settings: ScanSettings }> = [];
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'cpyref: scanning the workspace', cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        const extra = opts.token?.onCancellationRequested(() => abort.abort());
        try {
          for (const folder of folders) {
            let reported = 0;
            const scanned = await this.scanFolder(
              folder,
              abort.signal,
              (done, total) => {
                const pct = Math.floor((done / total) * 100);
                if (pct > reported) {
                  progress.report({ increment: (pct - reported) / folders.length, message: `${done}/${total} files` });
                  reported = pct;
                }
              },
              opts.withTexts ?? false,
            );
            if (scanned) {
              results.push(scanned);
              await this.publish(folder, scanned.result, summary, abort.signal);
            }
          }
        } catch (e) {
          if ((e as Error).name !== 'AbortError') throw e;
          summary.cancelled = true;
        } finally {
          sub.dispose();
          extra?.dispose();
        }
      },
    );
    if (summary.cancelled) {
      this.engine.output.appendLine('[scan] cancelled');
      if (!opts.silent) void vscode.window.showInformationMessage('cpyref: workspace scan cancelled.');
      return { summary, results };
    }
    const text = `cpyref: ${summary.findings} problem${summary.findings === 1 ? '' : 's'} in ${summary.filesWithFindings} of ${summary.files} files${summary.skipped ? `; ${summary.skipped} skipped (see the output)` : ''}.`;
    this.engine.output.appendLine(`[scan] ${text}`);
    if (!opts.silent) {
      void vscode.window.showInformationMessage(text, 'Open Problems').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.actions.view.problems');
      });
    }
    return { summary, results };
  }

  private async publish(folder: vscode.WorkspaceFolder, result: ScanResult, summary: ScanSummary, signal: AbortSignal): Promise<void> {
    summary.files += result.stats.files;
    summary.skipped += result.skipped.length;
    for (const s of result.skipped) this.engine.output.appendLine(`[scan] skipped ${s.path}: ${s.reason}`);
    const open = new Set(vscode.workspace.textDocuments.filter(isCandidate).map((d) => d.uri.toString()));
    let batch: Array<[vscode.Uri, vscode.Diagnostic[] | undefined]> = [];
    const flush = async () => {
      // One update per slice of files, then a turn of the event loop, so typing is never held up.
      if (batch.length) this.live.collection.set(batch);
      batch = [];
      await new Promise((r) => setTimeout(r, 5));
      if (signal.aborted) throw Object.assign(new Error('scan cancelled'), { name: 'AbortError' });
    };
    // Files of this folder that an earlier scan reported but this one did not (deleted, now excluded) lose their diagnostics.
    const seen = new Set(result.files.map((f) => vscode.Uri.file(f.abs).toString()));
    const prefix = folder.uri.toString() + '/';
    for (const key of [...this.live.scanned.keys()]) {
      if (!key.startsWith(prefix) || seen.has(key)) continue;
      this.live.scanned.delete(key);
      if (!open.has(key)) batch.push([vscode.Uri.parse(key), undefined]);
    }
    for (const file of result.files) {
      const uri = vscode.Uri.file(file.abs);
      const key = uri.toString();
      // Hints (style suggestions) do not count as problems, as in the Problems panel's badge.
      const problems = file.findings.filter((f) => f.severity !== 'hint').length;
      if (problems) {
        summary.filesWithFindings++;
        summary.findings += problems;
      }
      if (!file.findings.length) {
        this.live.scanned.delete(key);
        if (!open.has(key) && this.live.collection.has(uri)) batch.push([uri, undefined]);
      } else {
        const pos = new Positions(file.positions ?? file.text!);
        const diags = file.findings.map((f) => toDiagnostic(f, uri, pos));
        this.live.scanned.set(key, diags);
        // Open files keep their live diagnostics: they reflect unsaved text.
        if (!open.has(key)) batch.push([uri, diags]);
      }
      if (batch.length >= 100) await flush();
    }
    await flush();
  }

  /**
   * "cpyref: Fix All in Workspace": a scan, then one WorkspaceEdit of every safe fix, each
   * edit marked for confirmation so the user previews it. Files open with unsaved changes
   * are left alone (the fixes were computed on the text on disk).
   */
  async fixAll(opts: { apply?: boolean } = {}): Promise<vscode.WorkspaceEdit | undefined> {
    const { summary, results } = await this.scan({ silent: true, withTexts: true });
    if (summary.cancelled) return undefined;
    const parser = await this.engine.parser();
    const edit = new vscode.WorkspaceEdit();
    const metadata: vscode.WorkspaceEditEntryMetadata = { label: 'cpyref: safe fixes', needsConfirmation: true };
    for (const { result, settings } of results) {
      const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
      const project = fixProject(result);
      for (const file of result.files) {
        const uri = vscode.Uri.file(file.abs);
        const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (open?.isDirty || file.text === undefined) continue;
        // As the CLI's --fix (without --all): shown findings, hints left out, to a fixpoint.
        const shown = file.findings.filter((f) => f.severity !== 'hint');
        const fixed = fixScannedFile(parser, file, shown, project, settings, includes, (f) => f.severity !== 'hint');
        if (!fixed || fixed.text === file.text) continue;
        const e = spanEdit(file.text, fixed.text);
        edit.replace(uri, new Positions(file.text).range(e.start, e.end), e.newText, metadata);
      }
    }
    if (edit.size === 0) {
      if (opts.apply !== false) void vscode.window.showInformationMessage('cpyref: nothing to fix.');
      return edit;
    }
    if (opts.apply !== false) await vscode.workspace.applyEdit(edit, { isRefactoring: true });
    return edit;
  }
}
