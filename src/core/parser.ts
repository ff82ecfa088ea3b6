import TS = require('web-tree-sitter');
import * as path from 'node:path';
import { SyntaxNode, SyntaxTree, useBinding, type Binding } from './tree';

/** A syntax node of the C or C++ grammar (read out of the parser once, on demand: see tree.ts). */
export { SyntaxNode, SyntaxTree };

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
    const tree = this.parser.parse(text, oldTree?.raw ?? null);
    if (!tree) throw new Error('tree-sitter returned no tree');
    return new SyntaxTree(tree, text);
  }
}

/**
 * The object web-tree-sitter's binding is built on (emscripten makes the options object
 * given to the first `Parser.init` its module): tree.ts calls the binding through it.
 */
const BINDING: Record<string, unknown> = {};

/** Thrown by `CParser.for` for a grammar that was not loaded: `await parser.add(dialect)`, then retry. */
export class GrammarNotLoaded extends Error {
  constructor(readonly dialect: Dialect) {
    super(`the ${dialect === 'cpp' ? 'C++' : 'C'} grammar is not loaded`);
  }
}

function newParser(lang: TS.Language): TS.Parser {
  const p = new TS.Parser();
  p.setLanguage(lang);
  return p;
}

/**
 * The C and C++ parsers, loaded once per process (or worker) and shared by every
 * analysis. `parse` parses C; `for('cpp')` gives the C++ parser.
 */
export class CParser implements DialectParser {
  readonly dialect = 'c' as const;
  private cpp: OneDialect | undefined;
  private constructor(
    private readonly c: OneDialect,
    private readonly loc: ParserLocation,
  ) {}

  /**
   * Loads the runtime and the grammars of `dialects` (both by default). Call once; reuse
   * the result. The scan's workers load C only and add C++ at their first C++ file
   * (the C++ grammar costs about 50 ms to load and 30 ms more for its first parse).
   */
  static async load(loc: ParserLocation = {}, dialects: readonly Dialect[] = ['c', 'cpp']): Promise<CParser> {
    return keepingLoopAlive(async () => {
      const runtimeDir = loc.runtimeDir;
      if (runtimeDir && !BINDING.locateFile) BINDING.locateFile = (name: string) => path.join(runtimeDir, name);
      await TS.Parser.init(BINDING);
      useBinding(BINDING as Partial<Binding>);
      const c = await TS.Language.load(loc.grammarPath ?? require.resolve('tree-sitter-c/tree-sitter-c.wasm'));
      const parser = new CParser(new OneDialect('c', newParser(c)), loc);
      if (dialects.includes('cpp')) await parser.add('cpp');
      return parser;
    });
  }

  /** Loads a dialect's grammar if it is not loaded yet. */
  async add(dialect: Dialect): Promise<void> {
    if (dialect === 'c' || this.cpp) return;
    const cpp = await keepingLoopAlive(() => TS.Language.load(this.loc.cppGrammarPath ?? require.resolve('tree-sitter-cpp/tree-sitter-cpp.wasm')));
    this.cpp ??= new OneDialect('cpp', newParser(cpp));
  }

  /** The parser of one dialect; throws `GrammarNotLoaded` when its grammar was not loaded. */
  for(dialect: Dialect): DialectParser {
    if (dialect === 'c') return this.c;
    if (!this.cpp) throw new GrammarNotLoaded(dialect);
    return this.cpp;
  }

  /** Parses C. */
  parse(text: string, oldTree?: SyntaxTree): SyntaxTree {
    return this.c.parse(text, oldTree);
  }
}

/**
 * Runs `f` with a timer keeping the event loop alive. While a grammar's WebAssembly is
 * compiled in the background, an otherwise empty loop makes Node wait for V8's background
 * tasks from the main thread (`NodePlatform::DrainTasks`), and that wait sometimes never
 * ends: the CLI hung before any output in about 1 run of 15 (seen with a native backtrace).
 * With a live timer the loop keeps turning and the compilation's completion is delivered.
 */
async function keepingLoopAlive<T>(f: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 1_000);
  try {
    return await f();
  } finally {
    clearInterval(timer);
  }
}
