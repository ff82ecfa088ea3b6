import TS = require('web-tree-sitter');
import * as path from 'node:path';

/** A syntax node of the C or C++ grammar. */
export type SyntaxNode = TS.Node;
/** A parsed tree; call `delete()` when done with it. */
export type SyntaxTree = TS.Tree;

/** The language a file is parsed as. */
export type Dialect = 'c' | 'cpp';

/** Where the wasm files live; by default they are resolved from node_modules. */
export interface ParserLocation {
  /** Folder holding `tree-sitter.wasm` (the runtime). */
  runtimeDir?: string;
  /** Full path of `tree-sitter-c.wasm` (the C grammar). */
  grammarPath?: string;
  /** Full path of `tree-sitter-cpp.wasm` (the C++ grammar). */
  cppGrammarPath?: string;
}

/** Parses text of one dialect. */
export interface DialectParser {
  readonly dialect: Dialect;
  /** Parses `text`; with `oldTree` (already edited, of the same dialect) the parse is incremental. */
  parse(text: string, oldTree?: SyntaxTree): SyntaxTree;
}

class OneDialect implements DialectParser {
  constructor(
    readonly dialect: Dialect,
    private readonly parser: TS.Parser,
  ) {}

  parse(text: string, oldTree?: SyntaxTree): SyntaxTree {
    const tree = this.parser.parse(text, oldTree ?? null);
    if (!tree) throw new Error('tree-sitter returned no tree');
    return tree;
  }
}

/**
 * The C and C++ parsers, loaded once per process (or worker) and shared by every
 * analysis. `parse` parses C; `dialect('cpp')` gives the C++ parser.
 */
export class CParser implements DialectParser {
  readonly dialect = 'c' as const;
  private constructor(
    private readonly c: OneDialect,
    private readonly cpp: OneDialect,
  ) {}

  /** Loads the runtime and both grammars. Call once; reuse the result. */
  static async load(loc: ParserLocation = {}): Promise<CParser> {
    const runtimeDir = loc.runtimeDir;
    await TS.Parser.init(runtimeDir ? ({ locateFile: (name: string) => path.join(runtimeDir, name) } as object) : undefined);
    const [c, cpp] = await Promise.all([
      TS.Language.load(loc.grammarPath ?? require.resolve('tree-sitter-c/tree-sitter-c.wasm')),
      TS.Language.load(loc.cppGrammarPath ?? require.resolve('tree-sitter-cpp/tree-sitter-cpp.wasm')),
    ]);
    const make = (lang: TS.Language) => {
      const p = new TS.Parser();
      p.setLanguage(lang);
      return p;
    };
    return new CParser(new OneDialect('c', make(c)), new OneDialect('cpp', make(cpp)));
  }

  /** The parser of one dialect. */
  for(dialect: Dialect): DialectParser {
    return dialect === 'cpp' ? this.cpp : this.c;
  }

  /** Parses C. */
  parse(text: string, oldTree?: SyntaxTree): SyntaxTree {
    return this.c.parse(text, oldTree);
  }
}
