import * as vscode from 'vscode';
import { selectSafeFixes } from '../core/fixes';
import { detectEol } from '../core/text';
import { addFix, findingKey, Positions, ruleOf } from './convert';
import type { DocumentResult } from './engine';
import type { LiveDiagnostics } from './diagnostics';

/** The code-action kind of cpyref's fix-all (`source.fixAll.cpyref` in `editor.codeActionsOnSave`). */
export const FIX_ALL_KIND = vscode.CodeActionKind.SourceFixAll.append('cpyref');

/**
 * Quick fixes per diagnostic (the preferred one first, so Auto Fix works), "Fix all cpyref
 * problems in this file", the fix-all source action, and "Suppress on this line". Every
 * edit is computed for the document version the action is requested on.
 */
export class CpyrefCodeActions implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = {
    providedCodeActionKinds: [vscode.CodeActionKind.QuickFix, FIX_ALL_KIND],
  };

  constructor(private readonly live: LiveDiagnostics) {}

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
    const fixAllEdit = () => {
      const fixes = selectSafeFixes(result.findings);
      if (!fixes.length) return undefined;
      const edit = new vscode.WorkspaceEdit();
      for (const fix of fixes) addFix(edit, doc.uri, fix, pos);
      return edit;
    };
    if (wantsFixAll) {
      const edit = fixAllEdit();
      if (edit) {
        const a = new vscode.CodeAction('Fix all cpyref problems', FIX_ALL_KIND);
        a.edit = edit;
        actions.push(a);
      }
      return actions;
    }
    const byKey = new Map(result.findings.map((f) => [findingKey(f.rule, pos.range(f.start, f.end)), f]));
    for (const d of ours) {
      const rule = ruleOf(d)!;
      const f = byKey.get(findingKey(rule, d.range));
      if (!f) continue;
      let preferred = false;
      for (const fix of f.fixes) {
        const a = new vscode.CodeAction(fix.safe ? fix.description : `${fix.description} — review it`, vscode.CodeActionKind.QuickFix);
        a.edit = new vscode.WorkspaceEdit();
        addFix(a.edit, doc.uri, fix, pos);
        a.diagnostics = [d];
        if (fix.safe && !preferred) a.isPreferred = preferred = true;
        actions.push(a);
      }
      const suppress = new vscode.CodeAction(`Suppress ${rule} on this line`, vscode.CodeActionKind.QuickFix);
      const line = doc.lineAt(d.range.start.line);
      suppress.edit = new vscode.WorkspaceEdit();
      suppress.edit.insert(doc.uri, line.range.start, `${line.text.slice(0, line.firstNonWhitespaceCharacterIndex)}// cpyref: ignore[${rule}] reason${detectEol(result.text)}`);
      suppress.diagnostics = [d];
      actions.push(suppress);
    }
    const edit = ours.length ? fixAllEdit() : undefined;
    if (edit) {
      const all = new vscode.CodeAction('Fix all cpyref problems in this file', vscode.CodeActionKind.QuickFix);
      all.edit = edit;
      actions.push(all);
    }
    return actions;
  }
}
