import * as vscode from 'vscode';
import { lineEdits } from '../core/diff';
import { FIX_ALL_IN_FILE_TITLE, FIX_ALL_KIND as FIX_ALL_KIND_ID, FIX_ALL_TITLE, plainText, quickFixes, suppressComment, suppressTitle } from '../core/editor';
import { selectSafeFixes } from '../core/fixes';
import type { TextEdit } from '../core/types';
import { findingKey, Positions, ruleOf } from './convert';
import type { DocumentResult, Engine } from './engine';
import type { LiveDiagnostics } from './diagnostics';

/** The code-action kind of cpyref's fix-all (`source.fixAll.cpyref` in `editor.codeActionsOnSave`). */
export const FIX_ALL_KIND = vscode.CodeActionKind.Empty.append(FIX_ALL_KIND_ID);

/**
 * Quick fixes per diagnostic (the preferred one first, so Auto Fix works), "Fix all cpyref
 * problems in this file", the fix-all source action, and "Suppress on this line". Every
 * edit is computed for the document version the action is requested on.
 */
export class CpyrefCodeActions implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = {
    providedCodeActionKinds: [vscode.CodeActionKind.QuickFix, FIX_ALL_KIND],
  };

  constructor(
    private readonly live: LiveDiagnostics,
    private readonly engine: Engine,
  ) {}

  private async current(doc: vscode.TextDocument): Promise<DocumentResult | undefined> {
    const r = this.live.result(doc.uri);
    if (r && r.version === doc.version) return r;
    const fresh = await this.live.run(doc, 'incremental');
    return fresh && fresh.version === doc.version ? fresh : undefined;
  }

  async provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    const wantsFixAll = context.only && (context.only.contains(FIX_ALL_KIND) || FIX_ALL_KIND.contains(context.only));
    const wantsQuickFix = !context.only || context.only.contains(vscode.CodeActionKind.QuickFix) || vscode.CodeActionKind.QuickFix.contains(context.only);
    const ours = context.diagnostics.filter((d) => ruleOf(d));
    if (!wantsFixAll && (!wantsQuickFix || !ours.length)) return [];
    const result = await this.current(doc);
    if (!result) return [];
    const pos = new Positions(result.text);
    const actions: vscode.CodeAction[] = [];
    // Fix-all leaves hints alone unless the user asks for them (as the CLI's --fix does).
    const hints = (await this.engine.settingsFor(doc.uri)).editor.fixAllHints;
    const fixable = selectSafeFixes(hints ? result.findings : result.findings.filter((f) => f.severity !== 'hint')).length > 0;
    // Every action applies its edits through a command that checks the document is still at the
    // version the edits were computed for (a stale fix is dropped, never applied).
    const apply = (title: string, edits: TextEdit[]): vscode.Command => ({ title, command: APPLY_FIX_COMMAND, arguments: [doc.uri.toString(), result.version, edits] });
    // Fix-all edits: one per changed place (so the rest of the file, its folds and markers, stay put).
    const fixAllEdits = async (): Promise<TextEdit[]> => {
      if (!fixable) return [];
      const fixed = await this.engine.fixAll(doc, result);
      return fixed ? lineEdits(result.text, fixed.text) : [];
    };
    if (wantsFixAll) {
      const edits = await fixAllEdits();
      if (edits.length) {
        const a = new vscode.CodeAction(FIX_ALL_TITLE, FIX_ALL_KIND);
        a.command = apply(a.title, edits);
        actions.push(a);
      }
      return actions;
    }
    const byKey = new Map(result.findings.map((f) => [findingKey(f.rule, pos.range(f.start, f.end)), f]));
    for (const d of ours) {
      const rule = ruleOf(d)!;
      const f = byKey.get(findingKey(rule, d.range));
      if (!f) continue;
      // Titles are plain text (the backticks of the core's descriptions would show as such); the first safe fix is preferred.
      for (const fix of quickFixes(f)) {
        const a = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        a.command = apply(a.title, fix.edits);
        a.diagnostics = [d];
        if (fix.preferred) a.isPreferred = true;
        actions.push(a);
      }
      const suppress = new vscode.CodeAction(suppressTitle(rule), vscode.CodeActionKind.QuickFix);
      // A comment line above, with the cursor on the reason to type.
      suppress.command = { title: suppress.title, command: SUPPRESS_COMMAND, arguments: [doc.uri.toString(), result.version, d.range.start.line, rule] };
      suppress.diagnostics = [d];
      actions.push(suppress);
    }
    // Computing fix-all means re-parsing the file: it is done only when this action is picked.
    if (ours.length && fixable) actions.push(new FixAllInFile(doc, result));
    return actions;
  }

  async resolveCodeAction(action: vscode.CodeAction): Promise<vscode.CodeAction> {
    if (!(action instanceof FixAllInFile)) return action;
    // Edits for an older version of the document are never produced: the action then does nothing.
    if (action.doc.isClosed || action.doc.version !== action.result.version) return action;
    const fixed = await this.engine.fixAll(action.doc, action.result);
    if (fixed && action.doc.version === action.result.version) {
      const pos = new Positions(action.result.text);
      action.edit = new vscode.WorkspaceEdit();
      for (const e of lineEdits(action.result.text, fixed.text)) action.edit.replace(action.doc.uri, pos.range(e.start, e.end), e.newText);
    }
    return action;
  }
}

/** "Fix all cpyref problems in this file", resolved (its edit computed) only when picked. */
class FixAllInFile extends vscode.CodeAction {
  constructor(
    readonly doc: vscode.TextDocument,
    readonly result: DocumentResult,
  ) {
    super(FIX_ALL_IN_FILE_TITLE, vscode.CodeActionKind.QuickFix);
  }
}

export { plainText };

/** The open document `uri` if it is still at `version`; else undefined, with a word in the status bar. */
function documentAt(uri: string, version: number): vscode.TextDocument | undefined {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
  if (doc && doc.version === version) return doc;
  void vscode.window.setStatusBarMessage('cpyref: the file changed since this fix was computed; nothing was applied.', 5000);
  return undefined;
}

/** The command of "Suppress on this line": `(uri, version, line, rule)`. */
export const SUPPRESS_COMMAND = 'cpyref.suppressOnLine';

/**
 * Inserts `// cpyref: ignore[rule] reason` above `line`, as a snippet with the placeholder
 * `reason` selected when the document is in an editor (so the user types the reason at once).
 * Returns false, changing nothing, when the document changed since the action was offered.
 */
export async function suppressOnLine(uri: string, version: number, line: number, rule: string): Promise<boolean> {
  const doc = documentAt(uri, version);
  if (!doc || line >= doc.lineCount) return false;
  const target = doc.lineAt(line);
  const indent = target.text.slice(0, target.firstNonWhitespaceCharacterIndex);
  const eol = doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
  const editor = [vscode.window.activeTextEditor, ...vscode.window.visibleTextEditors].find((e) => e?.document === doc);
  if (editor) {
    const snippet = new vscode.SnippetString(indent).appendText(`// cpyref: ignore[${rule}] `).appendPlaceholder('reason').appendText(eol);
    return editor.insertSnippet(snippet, target.range.start, { undoStopBefore: true, undoStopAfter: true });
  }
  const edit = new vscode.WorkspaceEdit();
  edit.insert(doc.uri, target.range.start, suppressComment(indent, rule, eol));
  return vscode.workspace.applyEdit(edit);
}

/** The command every cpyref code action runs: `(uri, version, edits)`. */
export const APPLY_FIX_COMMAND = 'cpyref.applyFix';

/**
 * Applies edits computed for one version of a document; returns false, changing nothing,
 * when the document has changed since (SPEC §10: a stale fix is never applied).
 */
export async function applyFix(uri: string, version: number, edits: TextEdit[]): Promise<boolean> {
  const doc = documentAt(uri, version);
  if (!doc) return false;
  const pos = new Positions(doc.getText());
  const edit = new vscode.WorkspaceEdit();
  for (const e of edits) edit.replace(doc.uri, pos.range(e.start, e.end), e.newText);
  return vscode.workspace.applyEdit(edit);
}
