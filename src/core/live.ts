import { analyzeText, resolveFindings, type AnalyzeRequest, type SkippedFunction } from './analyze';
import { dialectOf } from './dialect';
import { DocumentSession, type ParseMode } from './document';
import { fixToFixpoint } from './fix-file';
import type { Options, TargetFacts } from './options';
import type { CParser, Dialect } from './parser';
import { indexFile, ProjectIndex, type FileIndex, type ProjectOf } from './project-index';
import type { PendingFinding } from './rules/rule';
import type { Finding } from './types';

/** The analysis of one document version. */
export interface DocumentResult {
  uri: string;
  version: number;
  text: string;
  findings: Finding[];
  skippedFunctions: SkippedFunction[];
  /** The language the document was parsed as (a `.h` file may be either). */
  dialect?: Dialect;
}

/** What an analysis of one file needs besides its text. */
export interface AnalysisSettings {
  options: Options;
  /** The project builds for the limited API (its pyproject.toml or build files say so). */
  limitedApi: boolean;
}

/** Text of a header included with quotes, from the including file and the header's name. */
export type IncludeReader = (from: string, name: string) => { path: string; text: string } | undefined;

/** One version of an open document, as the editor gives it. */
export interface LiveDocument {
  /** The editor's key for it (a URI). */
  key: string;
  /** The path the core and the project index use: the file's path, else the URI. */
  path: string;
  text: string;
  version: number;
}

/**
 * The editors' engine, free of any editor: a DocumentSession per open document (the
 * previous tree for incremental parsing, and the results of functions whose text did not
 * change), and the project index that decides whether a function is Python-facing. The
 * VS Code extension and the language server both analyse through it.
 */
export class LiveAnalyzer {
  private readonly sessions = new Map<string, DocumentSession>();
  readonly index: ProjectIndex;
  /** Functions re-analysed (not taken from the cache) by the last `analyze`. */
  lastAnalyzed = 0;

  /** `projectOf` says which project a path is of (see `ProjectIndex`); by default every file is of one. */
  constructor(projectOf?: ProjectOf) {
    this.index = new ProjectIndex(projectOf);
  }

  /** Analyses a document: incrementally while typing, afresh on save (so the editor agrees with the CLI). */
  analyze(parser: CParser, doc: LiveDocument, mode: ParseMode, settings: AnalysisSettings, readInclude?: IncludeReader): DocumentResult {
    let session = this.sessions.get(doc.key);
    if (!session) {
      session = new DocumentSession(parser);
      this.sessions.set(doc.key, session);
    }
    const r = session.analyze(this.request(doc.path, doc.text, settings, readInclude), mode);
    this.lastAnalyzed = session.lastAnalyzed;
    // A file the background index has not read yet is indexed now (a saved file is re-indexed on save).
    if (r.findings.some((f) => f.contract) && !this.index.has(doc.path)) this.index.set(indexFile(doc.path, doc.text));
    return { uri: doc.key, version: doc.version, text: doc.text, findings: this.finish(r, doc.path, settings), skippedFunctions: r.skippedFunctions, dialect: r.dialect };
  }

  /** What the core analyses for a text: its path, the settings, and the quoted includes. */
  private request(path: string, text: string, settings: AnalysisSettings, readInclude?: IncludeReader): AnalyzeRequest {
    return { path, text, options: settings.options, projectLimitedApi: settings.limitedApi, readInclude };
  }

  /** Severities and messages from the project index, as the CLI decides them. */
  private finish(r: { findings: PendingFinding[]; targets: TargetFacts }, path: string, settings: AnalysisSettings): Finding[] {
    return resolveFindings(r, this.index.factsFor(path), settings.options);
  }

  /** The findings of a text from a fresh parse (a file that is not open, or a fix-all round). */
  analyzeFresh(parser: CParser, path: string, text: string, settings: AnalysisSettings, readInclude?: IncludeReader): Finding[] {
    return this.finish(analyzeText(parser, this.request(path, text, settings, readInclude)), path, settings);
  }

  /**
   * The text of a document after all its safe fixes, as the CLI's `--fix` computes it: to a
   * fixpoint, keeping only fixes that add no syntax error; hint-level fixes only with
   * `includeHints`. Undefined when nothing changes.
   */
  fixAll(parser: CParser, path: string, result: DocumentResult, settings: AnalysisSettings, includeHints: boolean, readInclude?: IncludeReader): { text: string; applied: number } | undefined {
    // As the CLI's --fix: hints (style suggestions on correct code) only when the user asks for them.
    const wanted = (fs: Finding[]) => (includeHints ? fs : fs.filter((f) => f.severity !== 'hint'));
    const analyze = (text: string) => wanted(text === result.text ? result.findings : this.analyzeFresh(parser, path, text, settings, readInclude));
    const fixed = fixToFixpoint(parser.for(dialectOf(path, result.text, settings.options.cppFiles)), result.text, analyze);
    return fixed.text !== result.text ? { text: fixed.text, applied: fixed.applied } : undefined;
  }

  /**
   * Re-indexes one file (saved, or changed on disk); true when what the index knows of it
   * changed (severities elsewhere may follow).
   */
  reindex(path: string, text: string): boolean {
    const fi = indexFile(path, text);
    const facts = (f: FileIndex) => JSON.stringify([f.registrations.map((r) => [r.name, r.line]), f.returnEdges, f.stolen, f.borrowedDecls, f.functions, f.includes]);
    const before = this.index.entry(fi.path);
    this.index.set(fi);
    return !before || facts(before) !== facts(fi);
  }

  /** Forgets a closed document's session. */
  close(key: string): void {
    this.sessions.get(key)?.dispose();
    this.sessions.delete(key);
  }

  /** Forgets every session and index entry. */
  reset(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    for (const e of this.index.entries()) this.index.delete(e.path);
  }

  /** Frees every session's tree. */
  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
