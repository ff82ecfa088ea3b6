import TS = require('web-tree-sitter');
import * as path from 'node:path';

/** A syntax node of the C grammar. */
export type SyntaxNode = TS.Node;
/** A parsed C tree; call `delete()` when done with it. */
export type SyntaxTree = TS.Tree;

/** Where the two wasm files live; by default they are resolved from node_modules. */
export interface ParserLocation {
  /** Folder holding `tree-sitter.wasm` (the runtime). */
  runtimeDir?: string;
  /** Full path of `tree-sitter-c.wasm` (the grammar). */
  grammarPath?: string;
}

/** The C parser, loaded once per process (or worker) and shared by every analysis. */
export class CParser {
  private constructor(private readonly parser: TS.Parser, readonly language: TS.Language) {}

  /** Loads the runtime and the grammar. Call once; reuse the result. */
  static async load(loc: ParserLocation = {}): Promise<CParser> {
    const runtimeDir = loc.runtimeDir;
    await TS.Parser.init(runtimeDir ? ({ locateFile: (name: string) => path.join(runtimeDir, name) } as object) : undefined);
    const grammarPath = loc.grammarPath ?? require.resolve('tree-sitter-c/tree-sitter-c.wasm');
    const language = await TS.Language.load(grammarPath);
    const parser = new TS.Parser();
    parser.setLanguage(language);
    return new CParser(parser, language);
  }

  /** Parses `text`; with `oldTree` (already edited) the parse is incremental. */
  parse(text: string, oldTree?: SyntaxTree): SyntaxTree {
    const tree = this.parser.parse(text, oldTree ?? null);
    if (!tree) throw new Error('tree-sitter returned no tree');
    return tree;
  }
}
