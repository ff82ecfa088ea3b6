import { dialectOf } from '../core/dialect';
import * as vscode from 'vscode';
import { describeApi, describeOwnershipAt } from '../core/query';
import type { Engine } from './engine';

/**
 * Hover: on a C-API name, whether it returns a new or a borrowed reference and which
 * arguments it steals (and when); on a singleton or a local, whether the function owns
 * a reference to it at that point, from the data flow.
 */
export class OwnershipHover implements vscode.HoverProvider {
  constructor(private readonly engine: Engine) {}

  async provideHover(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const range = doc.getWordRangeAtPosition(position, /[A-Za-z_]\w*/);
    if (!range) return undefined;
    const name = doc.getText(range);
    const api = describeApi(name);
    if (api) return new vscode.Hover(new vscode.MarkdownString(api), range);
    if (!/^[A-Za-z_]\w*$/.test(name) || doc.getText().length > 4 * 1024 * 1024) return undefined;
    const text = doc.getText();
    const { options } = await this.engine.settingsFor(doc.uri);
    const file = doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.path;
    const facts = describeOwnershipAt((await this.engine.parser()).for(dialectOf(file, text, options.cppFiles)), text, doc.offsetAt(range.start));
    return facts ? new vscode.Hover(new vscode.MarkdownString(facts), range) : undefined;
  }
}
