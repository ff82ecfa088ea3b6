import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { scanInBackground } from '../node/background-scan';
import { IncludeCache, type ScanSettings } from '../node/process-file';
import type { ScanResult } from '../node/scan';
import { lineEdits } from '../core/diff';
import { plural } from '../core/text';
import type { Finding, Fix, TextEdit } from '../core/types';
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
    await this.engine.whileScanning(() => vscode.window.withProgress(
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
              // The count is complete: say so, rather than leave the last percentage showing while the problems are published.
              progress.report({ message: `${scanned.result.stats.files}/${scanned.result.stats.files} files; publishing the problems` });
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
    ));
    if (summary.cancelled) {
      this.engine.output.appendLine('[scan] cancelled');
      if (!opts.silent) void vscode.window.showInformationMessage('cpyref: workspace scan cancelled.');
      return { summary, results };
    }
    const text = `cpyref: ${plural(summary.findings, 'problem')} in ${summary.filesWithFindings} of ${summary.files} files${summary.skipped ? `; ${summary.skipped} skipped (see the output)` : ''}.`;
    this.engine.output.appendLine(`[scan] ${text}`);
    if (!opts.silent) {
      void vscode.window.showInformationMessage(text, 'Open Problems').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.actions.view.problems');
      });
    }
    return { summary, results };
  }

  private async publish(folder: vscode.WorkspaceFolder, result: ScanResult, summary: ScanSummary, signal: AbortSignal): Promise<void> {
    this.live.scanRan = true;
    // What the disk queue holds happened before this scan read the files: the index follows it, no analysis is needed.
    this.engine.scanCovered();
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
   * "cpyref: Fix All in Workspace": a scan, then one WorkspaceEdit with one minimal edit per
   * fix, labelled with its rule and function. Safe fixes (those the CLI's --fix applies) are
   * ticked; the first unsafe fix of a finding that has no safe one is listed unticked, for
   * review, which opens the Refactor Preview. With nothing to review, a confirmation asks
   * before applying. Files open with unsaved changes are left alone (the fixes were computed
   * on the text on disk).
   */
  async fixAll(opts: { apply?: boolean; confirm?: boolean; review?: boolean } = {}): Promise<FixAllPlan | undefined> {
    const { summary, results } = await this.scan({ silent: true, withTexts: true });
    if (summary.cancelled) return undefined;
    const parser = await this.engine.parser();
    const plan: FixAllPlan = { edit: new vscode.WorkspaceEdit(), fixes: [] };
    for (const { result, settings } of results) {
      const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
      const project = fixProject(result);
      for (const file of result.files) {
        const uri = vscode.Uri.file(file.abs);
        const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (open?.isDirty || file.text === undefined) continue;
        // As the CLI's --fix (without --all): shown findings, hints left out, to a fixpoint.
        const shown = file.findings.filter((f) => f.severity !== 'hint');
        const owner = new Map<Fix, Finding>();
        const own = (f: Finding) => {
          for (const x of f.fixes) owner.set(x, f);
          return f.severity !== 'hint';
        };
        shown.forEach(own);
        const fixed = fixScannedFile(parser, file, shown, project, settings, includes, own);
        const text = file.text;
        const pos = new Positions(text);
        const taken: TextEdit[] = [];
        if (fixed && fixed.text !== text) {
          // One edit per changed place; named after the fixes (of the first round, relative to this text) it holds.
          const first = fixed.rounds[0]?.fixes ?? [];
          for (const e of lineEdits(text, fixed.text)) {
            const fixes = first.filter((x) => x.edits.some((d) => d.start <= e.end && d.end >= e.start));
            const findings = fixes.map((x) => owner.get(x)).filter((f): f is Finding => f !== undefined);
            plan.fixes.push(this.addFix(plan.edit, uri, pos, e, findings, fixes[0]?.description ?? 'safe fix', true));
            taken.push(e);
          }
        }
        // Unsafe fixes, unticked: the user decides (their reasons are in their descriptions).
        for (const f of opts.review === false ? [] : shown) {
          if (f.fixes.some((x) => x.safe)) continue;
          // One edit only: the preview ticks edits one by one, and half of a fix is no fix.
          const fix = f.fixes.find((x) => !x.safe && x.edits.length === 1);
          if (!fix || fix.edits.some((d) => taken.some((e) => d.start <= e.end && d.end >= e.start))) continue;
          for (const d of fix.edits) plan.fixes.push(this.addFix(plan.edit, uri, pos, d, [f], fix.description, false));
          taken.push(...fix.edits);
        }
      }
    }
    const safe = plan.fixes.filter((x) => x.safe);
    if (plan.fixes.length === 0) {
      if (opts.apply !== false) void vscode.window.showInformationMessage('cpyref: nothing to fix.');
      return plan;
    }
    if (opts.apply === false) return plan;
    const files = new Set(safe.map((x) => x.uri.toString())).size;
    if (safe.length === plan.fixes.length && opts.confirm !== false) {
      // Nothing to review one by one: the Refactor Preview would not open, so ask first.
      const detail = safe
        .slice(0, 12)
        .map((x) => `${vscode.workspace.asRelativePath(x.uri)}:${x.range.start.line + 1}  ${x.label}`)
        .join('\n');
      const choice = await vscode.window.showInformationMessage(
        `cpyref: apply ${plural(safe.length, 'safe fix', 'safe fixes')} in ${plural(files, 'file')}?`,
        { modal: true, detail: detail + (safe.length > 12 ? '\n…' : '') },
        'Apply',
      );
      if (choice !== 'Apply') return plan;
    }
    plan.applied = await vscode.workspace.applyEdit(plan.edit, { isRefactoring: true });
    return plan;
  }

  /** Adds one fix's edit, labelled `rule in function`, to the workspace edit. */
  private addFix(edit: vscode.WorkspaceEdit, uri: vscode.Uri, pos: Positions, e: TextEdit, findings: Finding[], description: string, safe: boolean): PlannedFix {
    const names = [...new Set(findings.map((f) => `${f.rule} in ${f.function ? `${f.function}` : 'file scope'}`))];
    const label = names.length ? names.join(', ') : 'cpyref fix';
    const range = pos.range(e.start, e.end);
    edit.replace(uri, range, e.newText, {
      label: safe ? label : `Review: ${label}`,
      description: description.replace(/`/g, ''),
      needsConfirmation: !safe,
    });
    return { uri, range, newText: e.newText, label, description, safe };
  }
}

/** One edit of Fix All in Workspace. */
export interface PlannedFix {
  uri: vscode.Uri;
  range: vscode.Range;
  newText: string;
  /** `rule in function` of the findings it fixes. */
  label: string;
  description: string;
  /** Safe fixes are ticked (applied by Apply); the others wait for the user's review. */
  safe: boolean;
}

/** What Fix All in Workspace built (and whether it was applied). */
export interface FixAllPlan {
  edit: vscode.WorkspaceEdit;
  fixes: PlannedFix[];
  applied?: boolean;
}
