import * as vscode from 'vscode';
import { ownershipHover } from '../core/editor';
import type { Engine } from './engine';

/**
 * Hover: on a C-API name, whether it returns a new or a borrowed reference and which
 * arguments it steals (and when); on a singleton or a local, whether the function owns
 * a reference to it at that point, from the data flow (the language server's hover too).
 */
export class OwnershipHover implements vscode.HoverProvider {
  constructor(private readonly engine: Engine) {}

  async provideHover(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const file = doc.uri.scheme === 'file' ? doc.uri.fsPath : doc.uri.path;
    const h = await ownershipHover(file, doc.getText(), doc.offsetAt(position), async () => {
      const { options } = await this.engine.settingsFor(doc.uri);
      return { parser: await this.engine.parser(), options };
    });
    return h ? new vscode.Hover(new vscode.MarkdownString(h.markdown), new vscode.Range(doc.positionAt(h.start), doc.positionAt(h.end))) : undefined;
  }
}
