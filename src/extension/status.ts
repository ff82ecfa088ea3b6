import * as vscode from 'vscode';
import { plural } from '../core/text';
import type { LiveDiagnostics } from './diagnostics';
import type { Engine } from './engine';

/** What the language-status item says for a document. */
export interface StatusText {
  text: string;
  detail: string;
  severity: 'information' | 'warning' | 'error';
  busy: boolean;
}

/** The status of cpyref for one document: its counts, or why it has none (off, excluded, skipped, failed). */
export function describeStatus(engine: Engine, live: LiveDiagnostics, uri: vscode.Uri | undefined): StatusText {
  if (engine.state === 'failed') return { text: 'cpyref: failed', detail: 'the parser failed to load (see the output)', severity: 'error', busy: false };
  if (engine.state === 'loading') return { text: 'cpyref', detail: 'loading the parser', severity: 'information', busy: true };
  const why = uri ? live.whyNotAnalysed(uri) : undefined;
  if (why) {
    const text = { disabled: 'cpyref: off', excluded: 'cpyref: excluded', skipped: 'cpyref: skipped', failed: 'cpyref: failed' }[why.state];
    return { text, detail: why.reason, severity: why.state === 'failed' ? 'error' : why.state === 'skipped' ? 'warning' : 'information', busy: false };
  }
  const r = uri ? live.result(uri) : undefined;
  if (!r) return { text: 'cpyref', detail: engine.state === 'idle' ? 'waiting for a C or C++ file' : 'not analysed yet', severity: 'information', busy: false };
  const problems = r.findings.filter((f) => f.severity !== 'hint').length;
  const skipped = r.skippedFunctions.length;
  const as = r.dialect === 'cpp' ? ' (parsed as C++)' : r.dialect === 'c' ? ' (parsed as C)' : '';
  return {
    text: `cpyref: ${plural(problems, 'problem')}`,
    detail: (skipped ? `${plural(skipped, 'function')} not analysed (see the output)` : 'every function analysed') + as,
    severity: skipped ? 'warning' : 'information',
    busy: false,
  };
}

/** A language-status item for C and C++: the engine's state and the active file's counts, or why it has none. */
export function registerStatus(context: vscode.ExtensionContext, engine: Engine, live: LiveDiagnostics): void {
  const item = vscode.languages.createLanguageStatusItem('cpyref.status', [{ language: 'c' }, { language: 'cpp' }]);
  item.name = 'cpyref';
  item.command = { title: 'Show Output', command: 'cpyref.showOutput' };
  const SEVERITY = { information: vscode.LanguageStatusSeverity.Information, warning: vscode.LanguageStatusSeverity.Warning, error: vscode.LanguageStatusSeverity.Error };
  const update = () => {
    const s = describeStatus(engine, live, vscode.window.activeTextEditor?.document.uri);
    item.text = s.text;
    item.detail = s.detail;
    item.severity = SEVERITY[s.severity];
    item.busy = s.busy;
  };
  update();
  context.subscriptions.push(item, engine.onDidChangeState(update), live.onDidUpdate(update), vscode.window.onDidChangeActiveTextEditor(update));
}
