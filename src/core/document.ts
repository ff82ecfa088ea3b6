import { analyzeText, type AnalyzeRequest, type CachedFunction, type FileAnalysis, type FunctionCache } from './analyze';
import type { ParamUses } from './references/summaries';
import type { Returned } from './references/names';
import type { CParser, Dialect, SyntaxTree } from './parser';
import { dialectOf } from './dialect';
import { spanEdit } from './fixes';
import { blankStatementMacros } from './preprocess';

/** How a document is re-parsed: incrementally while typing, from scratch on save (so the editor agrees with the CLI). */
export type ParseMode = 'incremental' | 'fresh';

interface Point {
  row: number;
  column: number;
}

function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

/** Per-function results of the last analysis, pruned to what the last analysis used. */
class GenerationCache<T> {
  private previous = new Map<string, T>();
  private current = new Map<string, T>();
  get(key: string): T | undefined {
    const v = this.current.get(key) ?? this.previous.get(key);
    if (v !== undefined) this.current.set(key, v);
    return v;
  }
  set(key: string, value: T): void {
    this.current.set(key, value);
  }
  /** Forgets entries not used (read or written) since the last call. */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

/**
 * One open document: keeps its syntax tree for incremental re-parsing and the results
 * of functions whose text did not change. Knows nothing of the editor.
 */
export class DocumentSession {
  private tree: SyntaxTree | undefined;
  private blanked = '';
  private dialect: Dialect = 'c';
  private readonly cache = new GenerationCache<CachedFunction>();
  private readonly paramUses = new GenerationCache<ParamUses>();
  private readonly returns = new GenerationCache<Returned | null>();
  /** Functions analysed (not taken from the cache) by the last call, for tests and benchmarks. */
  lastAnalyzed = 0;

  constructor(private readonly parser: CParser) {}

  /** Analyses `req.text`, reusing the previous tree (incremental) or parsing afresh. */
  analyze(req: Omit<AnalyzeRequest, 'tree' | 'cache' | 'blanked'>, mode: ParseMode): FileAnalysis {
    const dialect = req.dialect ?? dialectOf(req.path, req.text, req.options.cppFiles);
    const blanked = blankStatementMacros(req.text, dialect);
    const parser = this.parser.for(dialect);
    let tree: SyntaxTree;
    // A header whose text starts to look like C++ (or stops) is parsed afresh in the other dialect.
    if (mode === 'incremental' && this.tree && dialect === this.dialect) {
      // The edit is where the old and new (blanked) texts differ, so blanking cannot desynchronise the tree.
      const old = this.blanked;
      const span = spanEdit(old, blanked);
      const start = span.start;
      const oldEnd = span.end;
      const newEnd = span.start + span.newText.length;
      this.tree.edit({
        startIndex: start,
        oldEndIndex: oldEnd,
        newEndIndex: newEnd,
        startPosition: pointAt(old, start),
        oldEndPosition: pointAt(old, oldEnd),
        newEndPosition: pointAt(blanked, newEnd),
      });
      tree = parser.parse(blanked, this.tree);
    } else {
      tree = parser.parse(blanked);
    }
    this.dialect = dialect;
    this.tree?.delete();
    this.tree = tree;
    this.blanked = blanked;
    const counting: FunctionCache = {
      get: (k) => this.cache.get(k),
      set: (k, v) => {
        this.lastAnalyzed++;
        this.cache.set(k, v);
      },
      paramUses: this.paramUses,
      returns: this.returns,
    };
    this.lastAnalyzed = 0;
    const result = analyzeText(this.parser, { ...req, dialect, tree, blanked, cache: counting });
    this.cache.nextGeneration();
    this.paramUses.nextGeneration();
    this.returns.nextGeneration();
    return result;
  }

  /** Frees the tree. */
  dispose(): void {
    this.tree?.delete();
    this.tree = undefined;
  }
}
