import * as vscode from 'vscode';
import type { LiveDiagnostics } from './diagnostics';
import type { Engine } from './engine';

/** A language-status item for C and C++: the engine's state and the active file's counts. */
export function registerStatus(context: vscode.ExtensionContext, engine: Engine, live: LiveDiagnostics): void {
  const item = vscode.languages.createLanguageStatusItem('cpyref.status', [{ language: 'c' }, { language: 'cpp' }]);
  item.name = 'cpyref';
  item.command = { title: 'Show Output', command: 'cpyref.showOutput' };
  const update = () => {
    const uri = vscode.window.activeTextEditor?.document.uri;
    const r = uri ? live.result(uri) : undefined;
    const state = { failed: 'the parser failed to load (see the output)', loading: 'loading the parser', ready: 'ready', idle: 'waiting for a C file' }[engine.state];
    item.severity = engine.state === 'failed' ? vscode.LanguageStatusSeverity.Error : vscode.LanguageStatusSeverity.Information;
    item.busy = engine.state === 'loading';
    item.text = r ? `cpyref: ${r.findings.length} problem${r.findings.length === 1 ? '' : 's'}` : 'cpyref';
    item.detail = state;
  };
  update();
  context.subscriptions.push(item, engine.onDidChangeState(update), live.onDidUpdate(update), vscode.window.onDidChangeActiveTextEditor(update));
}
