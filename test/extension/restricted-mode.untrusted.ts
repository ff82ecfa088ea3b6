import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { waitFor } from './wait';

// Runs with the workspace opened in Restricted Mode (UNTRUSTED=1 in the harness).

describe('cpyref in an untrusted workspace (Restricted Mode)', () => {
  it('is not trusted', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('still activates, publishes diagnostics and offers fixes (it runs no workspace code)', async () => {
    const folder = vscode.workspace.workspaceFolders![0];
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'src', 'module.c'));
    await vscode.window.showTextDocument(doc);
    const line = doc.positionAt(doc.getText().indexOf('    return Py_None;')).line;
    const d = await waitFor('a diagnostic', () => vscode.languages.getDiagnostics(doc.uri).find((x) => x.source === 'cpyref' && x.range.start.line === line));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    const actions = await waitFor('the quick fix', async () => {
      const all = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, d.range, vscode.CodeActionKind.QuickFix.value);
      return all.find((a) => a.isPreferred);
    });
    assert.match(actions.title, /Py_RETURN_NONE/);
  });
});
