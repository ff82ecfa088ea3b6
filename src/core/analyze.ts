import { FORMAT_CALLS, STEALING } from './api/stealing';
import { CfgTooDeep, type Cfg } from './cfg';
import { compiledOnTargets, conditionOnTargets } from './conditions';
import { BudgetExceeded, functionCfg, type Budget } from './dataflow';
import { describeFunction, findFunctions, markerContextStart, mayNameObjectType, parameters, type FunctionInfo } from './functions';
import { argumentUse, collectMacros, discardingMacros, isStatementMacro, type ArgumentUse, macroAssignedNames, MacroExpander, macroAsFunction, type MacroDef, WELL_KNOWN_MACROS } from './macros';
import { definesLimitedApi, targetFacts, type Options, type TargetFacts } from './options';
import { analyzeOwnership, cxxFacts, type CxxFacts, type OwnershipAnalysis } from './ownership';
import { analyzeReferences, type ReferenceAnalysis } from './references/analysis';
import { mayReport, owningMacros } from './references/evaluator';
import { borrowingParams, type BorrowingParams, type ParamUsesCache } from './references/summaries';
import { fileNames, includedFunctionsOf, includedReturns, namesKey, type FileNames, type IncludedFunctions, type ReturnsCache } from './references/names';
import type { CParser, Dialect, SyntaxNode, SyntaxTree } from './parser';
import { dialectOf } from './dialect';
import { blankedMacroNames, blankStatementMacros, conditionalVariants, cxxRewrittenMacros, quotedIncludes } from './preprocess';
import { resolveReturnFinding } from './rules/borrowed-singleton-return';
import { RULES, RULES_BY_ID } from './rules/index';
import type { FunctionContext, PendingFinding, Rule } from './rules/rule';
import { ID as UNUSED_IGNORE } from './rules/unused-ignore';
import { ID as RELEASE_NOT_OWNED, keptArguments } from './rules/release-not-owned';
import { isSuppressed, readSuppressions } from './suppressions';
import { declaredName, SINGLETON_PATTERN, singletonIndex, SINGLETONS } from './syntax';
import { detectEol, LineIndex } from './text';
import { SEVERITIES, type Finding, type Severity } from './types';
import type { FacingInfo } from './project-index';

/** What to analyse. */
export interface AnalyzeRequest {
  /** The file's path, used for messages and include resolution only. */
  path: string;
  text: string;
  options: Options;
  /** The build is limited-API (from the project's build files or index). */
  projectLimitedApi?: boolean;
  /** Text of a header included with quotes, resolved relative to the file and the include paths. */
  readInclude?(from: string, name: string): { path: string; text: string } | undefined;
  /** Only these rules run (after select/ignore); default every rule not turned off. */
  rules?: ReadonlySet<string>;
  /** Report suppressions that suppress nothing. */
  reportUnusedIgnores?: boolean;
  /** Time bound of one function's analysis, in ms. */
  functionBudgetMs?: number;
  /**
   * A parse of `blankStatementMacros(text, dialect)` made by the caller (the editor parses
   * incrementally); the caller keeps ownership of it.
   */
  tree?: SyntaxTree;
  /** `blankStatementMacros(text, dialect)`, when the caller made it already (the editor, for `tree`). */
  blanked?: string;
  /** Results of functions whose text did not change since the last analysis (the editor). */
  cache?: FunctionCache;
  /** C or C++; by default from the path, the text and `options.cppFiles` (`dialectOf`). */
  dialect?: Dialect;
}

/** What one function's analysis produced, with offsets relative to the function's start. */
export interface CachedFunction {
  findings: PendingFinding[];
  skipped: SkippedFunction[];
  errorRegions: number;
}

/** A store of per-function results, keyed by everything the analysis of a function depends on. */
export interface FunctionCache {
  get(key: string): CachedFunction | undefined;
  set(key: string, value: CachedFunction): void;
  /** What the borrowing summaries read of each function, by its text. */
  paramUses?: ParamUsesCache;
  /** What each function's returns give back (for the file's names), by its text. */
  returns?: ReturnsCache;
}

/** Moves a finding (and its fixes and related locations) by `delta` characters. */
export function shiftFinding<T extends Finding>(f: T, delta: number): T {
  if (delta === 0) return f;
  return {
    ...f,
    start: f.start + delta,
    end: f.end + delta,
    fixes: f.fixes.map((x) => ({ ...x, edits: x.edits.map((e) => ({ ...e, start: e.start + delta, end: e.end + delta })) })),
    related: f.related.map((r) => (r.path === undefined ? { ...r, start: r.start + delta, end: r.end + delta } : r)),
  };
}

/** A function that was not analysed, and why. */
export interface SkippedFunction {
  name: string;
  start: number;
  reason: string;
}

/** The analysis of one file, before the project index decides contract-dependent severities. */
export interface FileAnalysis {
  findings: PendingFinding[];
  skippedFunctions: SkippedFunction[];
  targets: TargetFacts;
  /** The language the file was parsed as. */
  dialect: Dialect;
  stats: {
    functions: number;
    analyzedFunctions: number;
    /** Returns of singletons left inside ERROR nodes, which yield no finding. */
    errorRegions: number;
    /** `#if` variants parsed because a conditional split a construct. */
    variants: number;
  };
}

const SINGLETON_RE = new RegExp(SINGLETON_PATTERN);
/** Calls that release or steal a reference. */
const RELEASES = `\\b(?:Py_X?DECREF|Py_DecRef|Py_XDecRef|Py_CLEAR|Py_X?SETREF|${[...Object.keys(STEALING), ...Object.keys(FORMAT_CALLS)].join('|')})\\b`;
const RELEASES_RE = new RegExp(RELEASES);
const RETURN_SINGLETON_RE = new RegExp(`\\breturn\\b[^;]*${SINGLETON_PATTERN}`);
const ASSIGN_SINGLETON_RE = new RegExp(`[^=!<>]=[^=;][^;]*${SINGLETON_PATTERN}`);
const RELEASE_SINGLETON_RE = new RegExp(`${RELEASES}\\s*\\([^;]*${SINGLETON_PATTERN}`);
/** C++ initialisers without `=`: `PyObject *r{Py_None}`, `PyObject *r(Py_None)`. */
const INIT_SINGLETON_RE = new RegExp(`\\w\\s*\\{\\s*${SINGLETON_PATTERN}\\s*\\}|\\*\\s*\\w+\\s*\\(\\s*${SINGLETON_PATTERN}\\s*\\)`);
const DEFINE_SINGLETON_RE = new RegExp(`#[ \\t]*define(?:[^\\n\\\\]|\\\\[\\s\\S])*${SINGLETON_PATTERN}`);

/**
 * A cheap test, before building a CFG, of whether a function can hold a finding: it
 * returns a singleton or a local that may hold one, or releases or steals one, or uses a
 * project macro that mentions one.
 */
function mayMatter(returnsObject: boolean, body: string, macroRe: RegExp | undefined): boolean {
  if (macroRe?.test(body)) return true;
  if (RELEASE_SINGLETON_RE.test(body)) return true;
  const assigns = ASSIGN_SINGLETON_RE.test(body) || INIT_SINGLETON_RE.test(body);
  if (returnsObject && (assigns || RETURN_SINGLETON_RE.test(body))) return true;
  return assigns && RELEASES_RE.test(body);
}
const QUICK_RE = new RegExp(`${SINGLETON_PATTERN}|\\b_Py_\\w+Struct\\b`);

/**
 * True when the text cannot hold a finding of any rule: no singleton that is returned,
 * assigned, released, stolen or used in a `#define`, and no use of a project macro that
 * mentions one. Files that only compare with `Py_None` are not parsed.
 */
export function cannotHaveFindings(text: string, extraNames: readonly string[] = []): boolean {
  if (extraNames.some((n) => text.includes(n))) return false;
  if (!QUICK_RE.test(text)) return true;
  return !(RETURN_SINGLETON_RE.test(text) || ASSIGN_SINGLETON_RE.test(text) || INIT_SINGLETON_RE.test(text) || RELEASE_SINGLETON_RE.test(text) || DEFINE_SINGLETON_RE.test(text));
}

/** Enabled rules of a request. */
export function enabledRules(opts: Options, only?: ReadonlySet<string>): Rule[] {
  return RULES.filter((r) => (!only || only.has(r.id)) && opts.rules[r.id] !== 'off' && (!r.offByDefault || opts.rules[r.id] !== undefined || !!only?.has(r.id)));
}

/** Whether a file rule that is enabled has something to look at in `text` (the file must then be parsed). */
export function fileRulesInterested(text: string, opts: Options, only?: ReadonlySet<string>): boolean {
  const rules = enabledRules(opts, only);
  // (The reference rules' one expression first: a file rule's own test searches more.)
  return (rules.some((r) => r.references) && REFERENCES_RE.test(text)) || rules.some((r) => r.checkFile && r.interest?.(text));
}

/** The files of an analysis' `text` included with quotes that could be read. */
const INCLUDED_FILES = new WeakMap<AnalyzeRequest, ReadonlyArray<{ path: string; text: string }>>();

/**
 * The files `req.text` includes with quotes, read once per analysis: its macros, the
 * functions they define, whether they define `Py_LIMITED_API` or their own singletons, and
 * the names their macros assign all come from them (the editor reads them from disk).
 */
function includedFiles(req: AnalyzeRequest): ReadonlyArray<{ path: string; text: string }> {
  let files = INCLUDED_FILES.get(req);
  if (!files) {
    files = req.readInclude ? quotedIncludes(req.text).flatMap((name) => req.readInclude!(req.path, name) ?? []) : [];
    INCLUDED_FILES.set(req, files);
  }
  return files;
}

/**
 * What the analysis takes from one file included with quotes, by path, kept for the process while the file's text
 * stays the same: a header is read once, not once per file that includes it, nor once per keystroke in the editor.
 */
interface IncludedFacts {
  text: string;
  macros?: MacroDef[];
  limitedApi?: boolean;
  functions?: IncludedFunctions;
  assigned?: string[];
  argumentUse?: ArgumentUse;
}
const INCLUDED = new Map<string, IncludedFacts>();

function includedFacts(inc: { path: string; text: string }): IncludedFacts {
  let facts = INCLUDED.get(inc.path);
  if (facts?.text !== inc.text) {
    if (INCLUDED.size >= 512) INCLUDED.clear();
    facts = { text: inc.text };
    INCLUDED.set(inc.path, facts);
  }
  return facts;
}

/**
 * The functions defined in the files `req.text` includes with quotes that may return a new reference (see
 * `IncludedFunctions`). A file is parsed only when a name it may define is asked for, then once per process while its
 * text stays the same.
 */
function includedFunctions(parsers: CParser, req: AnalyzeRequest): IncludedFunctions[] {
  return includedFiles(req).map((inc) => {
    const facts = includedFacts(inc);
    if (!facts.functions) {
      if (/\breturn\b/.test(inc.text) && mayNameObjectType(inc.text)) {
        const dialect = dialectOf(inc.path, inc.text, req.options.cppFiles);
        facts.functions = includedFunctionsOf(blankStatementMacros(inc.text, dialect), dialect, (parsed) => {
          const tree = parsers.for(dialect).parse(parsed);
          try {
            return includedReturns(findFunctions(tree.rootNode, inc.text));
          } finally {
            tree.delete();
          }
        });
      } else facts.functions = NO_INCLUDED_FUNCTIONS;
    }
    return facts.functions;
  });
}

const NO_INCLUDED_FUNCTIONS: IncludedFunctions = { names: new Set(), returns: () => new Map() };

function includedMacros(req: AnalyzeRequest): MacroDef[] {
  return includedFiles(req).flatMap((inc) => (includedFacts(inc).macros ??= collectMacros(inc.text, inc.path)));
}

/** A header included with quotes defines `Py_LIMITED_API` (a common way to ask for abi3). */
function includesDefineLimitedApi(req: AnalyzeRequest): boolean {
  return includedFiles(req).some((inc) => (includedFacts(inc).limitedApi ??= definesLimitedApi(inc.text)));
}

/** The names the macros of the files `req.text` includes with quotes assign (see `macroAssignedNames`). */
function includedAssignedNames(req: AnalyzeRequest): string[] {
  return includedFiles(req).flatMap((inc) => (includedFacts(inc).assigned ??= macroAssignedNames(inc.text)));
}

/** Analyses one file's text with every enabled rule. */
export function analyzeText(parsers: CParser, req: AnalyzeRequest): FileAnalysis {
  const text = req.text;
  const dialect = req.dialect ?? dialectOf(req.path, text, req.options.cppFiles);
  const parser = parsers.for(dialect);
  const targets = targetFacts(req.options, text, req.projectLimitedApi || includesDefineLimitedApi(req));
  const rules = enabledRules(req.options, req.rules).filter((r) => r.id !== UNUSED_IGNORE);
  const lines = new LineIndex(text);
  const eol = detectEol(text);
  const result: FileAnalysis = {
    findings: [],
    skippedFunctions: [],
    targets,
    stats: { functions: 0, analyzedFunctions: 0, errorRegions: 0, variants: 0 },
    dialect,
  };
  const macroMap = new Map<string, MacroDef>();
  // NumPy's import macros return from the function when the import fails (their header is not in the project).
  if (text.includes('import_') && /\bimport_(?:array|umath|ufunc)\d?\s*\(/.test(text)) for (const d of WELL_KNOWN_MACROS) macroMap.set(d.name, d);
  for (const d of includedMacros(req)) macroMap.set(d.name, d);
  const ownMacros = collectMacros(text);
  for (const d of ownMacros) macroMap.set(d.name, d);
  const macroNames = [...macroMap.values()].filter((d) => d.mentionsSingleton).map((d) => d.name);
  let noArgsNames: Set<string> | undefined;
  let macroAssigned: Set<string> | undefined;
  const assignedByMacros = () =>
    (macroAssigned ??= new Set([...macroAssignedNames(text), ...includedAssignedNames(req)]));
  const noArgs = () => (noArgsNames ??= noArgsMethods(text));
  let cxx: CxxFacts | undefined;
  const cxxOf = () => (dialect === 'cpp' ? (cxx ??= cxxFacts(text)) : undefined);
  const seen = new Set<string>();
  const report = (f: PendingFinding) => {
    const k = `${f.rule}:${f.start}:${f.end}`;
    if (seen.has(k)) return;
    seen.add(k);
    result.findings.push(f);
  };
  const singletonRules = rules.filter((r) => !r.references);
  let owning: Set<string> | undefined;
  const owningMacrosOf = () => (owning ??= owningMacros(macroMap));
  // A file none of whose functions can report (see `mayReport`) is not parsed for the reference rules.
  const referenceRules =
    rules.some((r) => r.references) && REFERENCES_RE.test(text) && mayReport(text, mayNameObjectType(text), owningMacrosOf()) ? rules.filter((r) => r.references) : [];
  const singletonRelevant = singletonRules.length > 0 && !cannotHaveFindings(text, macroNames);
  const fileRules = rules.filter((r) => r.checkFile && r.interest?.(text));
  if (singletonRelevant || fileRules.length || referenceRules.length) {
    const relevantRe = new RegExp(`${SINGLETON_PATTERN}${macroNames.length ? `|\\b(?:${macroNames.join('|')})\\b` : ''}`);
    const relevantMacroRe = macroNames.length ? new RegExp(`\\b(?:${macroNames.join('|')})\\b`) : undefined;
    const expander = new MacroExpander(parser, macroMap);
    let fileFunctions: FunctionInfo[] = [];
    let borrowing: BorrowingParams | undefined;
    let names: FileNames | undefined;
    let owningNames: Set<string> | undefined;
    const unit: FileUnit = {
      text,
      dialect,
      targets,
      eol,
      // (A file parsed only for a file rule has nothing for the function rules.)
      rules: singletonRelevant ? singletonRules : [],
      referenceRules,
      relevantRe,
      relevantMacroRe,
      expander,
      functionBudgetMs: req.functionBudgetMs ?? 2000,
      noArgs,
      macroAssigned: assignedByMacros,
      cxx: cxxOf,
      borrowing: () => (borrowing ??= borrowingParams(fileFunctions, req.cache?.paramUses)),
      names: () => (names ??= fileNames(text, fileFunctions, req.cache?.returns, includedFunctions(parsers, req))),
      // (The file's aliases of C-API calls give references too; so do its functions that return new references, which
      // `mayReport` asks about by name.)
      owningNames: () => (owningNames ??= new Set([...owningMacrosOf(), ...unit.names().aliases.keys()])),
      functions: () => fileFunctions,
      report,
      result,
    };
    const trees: SyntaxTree[] = [];
    try {
      const tree = req.tree ?? parser.parse(req.blanked ?? blankStatementMacros(text, dialect));
      if (!req.tree) trees.push(tree);
      // A function in a branch no targeted Python compiles (`#if 0`, `#if PY_MAJOR_VERSION < 3`) is not there.
      const functions = findFunctions(tree.rootNode, text).filter((f) => compiledOnTargets(f.node, targets.min));
      fileFunctions = functions;
      result.stats.functions = functions.length;
      // (No fix inside a C++ template, as for the function rules.)
      const templates = functions.filter((f) => f.inTemplate);
      const fileReport = templates.length
        ? (f: PendingFinding) => {
            const t = templates.find((x) => x.node.startIndex <= f.start && f.end <= x.node.endIndex);
            report(t ? withoutFixesInside(f, t.node.startIndex, t.node.endIndex) : f);
          }
        : report;
      let discarding: Map<string, Set<number>> | undefined;
      const discardingOf = () => (discarding ??= discardingMacros([argumentUse(text), ...includedFiles(req).map((inc) => (includedFacts(inc).argumentUse ??= argumentUse(inc.text)))]));
      for (const r of fileRules) r.checkFile!({ text, root: tree.rootNode, functions, targets, dialect, discardingMacros: discardingOf, report: fileReport });
      // A function's reference analysis reads what the file's other functions borrow and return, and its aliases: part of the key.
      // (A short stand-in for the context: each function's key holds it, and the context is a few KB.)
      // (release-not-owned reads which other functions keep a parsed argument's reference: how many keep each name.)
      const keptKey = () => (referenceRules.some((r) => r.id === RELEASE_NOT_OWNED) ? JSON.stringify([...keptArguments(functions)].map(([k, v]) => [k, v.length])) : '');
      const contextKey = req.cache ? contextId(cacheContext(req, dialect, cxxOf(), rules, targets, macroMap, noArgs()) + (referenceRules.length ? JSON.stringify(unit.borrowing().all()) + namesKey(unit.names()) + keptKey() : '')) : '';
      for (const fn of functions) {
        if (!req.cache) {
          analyzeFunction(unit, fn, 0, undefined);
          continue;
        }
        // The editor re-analyses only functions whose text (or context) changed.
        const start = fn.node.startIndex;
        // Keyed on everything the function's analysis reads: its text and the comment block above it (markers).
        const key = `${contextKey}\u0000${fn.inTemplate ? 'template\u0000' : ''}${text.slice(markerContextStart(text, start), fn.node.endIndex)}`;
        const hit = req.cache.get(key);
        if (hit) {
          for (const f of hit.findings) report(shiftFinding(f, start));
          result.skippedFunctions.push(...hit.skipped.map((x) => ({ ...x, start: x.start + start })));
          result.stats.errorRegions += hit.errorRegions;
          continue;
        }
        const before = { findings: result.findings.length, skipped: result.skippedFunctions.length, errorRegions: result.stats.errorRegions };
        analyzeFunction(unit, fn, 0, undefined);
        req.cache.set(key, {
          findings: result.findings.slice(before.findings).map((f) => shiftFinding(f, -start)),
          skipped: result.skippedFunctions.slice(before.skipped).map((x) => ({ ...x, start: x.start - start })),
          errorRegions: result.stats.errorRegions - before.errorRegions,
        });
      }
      const regions = tree.rootNode.hasError ? unanalyzableRegions(tree.rootNode, text, functions, relevantRe) : [];
      if (regions.length) {
        // Parse only the regions (offsets shifted back by the context's offset): a blanked
        // whole file still costs a full lexing pass.
        const variants = conditionalVariants(req.blanked ?? blankStatementMacros(text, dialect));
        for (const variant of variants) {
          result.stats.variants++;
          for (const [start, end] of regions) {
            const piece = variant.slice(start, end);
            const vt = parser.parse(piece);
            trees.push(vt);
            for (const fn of findFunctions(vt.rootNode, piece)) {
              const original = functions.find((o) => o.node.startIndex === fn.node.startIndex + start);
              if (original && !original.node.hasError) continue;
              const first = result.findings.length;
              analyzeFunction(unit, fn, start, undefined);
              // A fix computed on a variant is valid only where the variant equals the original text.
              for (const f of result.findings.slice(first)) f.fixes = f.fixes.filter((x) => x.edits.every((e) => sameLines(text, variant, e.start, e.end)));
            }
          }
        }
      }
      // Code the parser could not read as any function (a half-typed one, say) yields no finding; count it.
      for (const k of tree.rootNode.namedChildren) {
        // (A C++ parse may read a broken function as a declaration with errors.)
        if ((k?.type === 'ERROR' || (k?.type === 'declaration' && k.hasError)) && RETURN_SINGLETON_RE.test(k.text) && !regions.some(([s, e]) => s <= k.startIndex && k.endIndex <= e)) result.stats.errorRegions++;
      }
      for (const def of ownMacros) {
        if (!def.mentionsSingleton || !isStatementMacro(def)) continue;
        const users = functions.filter((f) => new RegExp(`\\b${def.name}\\b`).test(f.body.text)).map((f) => f.name);
        const pseudo = macroAsFunction(def);
        const mt = parser.parse(pseudo.text);
        trees.push(mt);
        const fnNode = mt.rootNode.namedChildren.find((c) => c?.type === 'function_definition');
        const info = fnNode && describeFunction(fnNode, pseudo.text);
        if (info) analyzeFunction(unit, { ...info, name: def.name }, pseudo.offset, def, users);
      }
    } finally {
      expander.dispose();
      for (const t of trees) t.delete();
    }
  }
  // A project that defines its own `Py_None` (for an interpreter without it) is not using the singleton.
  const own = result.findings.length ? ownSingletons(text, req) : undefined;
  if (own?.size) result.findings = result.findings.filter((f) => !f.singletons?.length || f.singletons.some((s) => !own.has(s)));
  const sup = readSuppressions(text, lines);
  result.findings = result.findings.filter((f) => !isSuppressed(f, sup, lines));
  if (req.reportUnusedIgnores && req.options.rules[UNUSED_IGNORE] !== 'off' && (!req.rules || req.rules.has(UNUSED_IGNORE))) {
    for (const s of sup.lines) {
      if (s.used) continue;
      result.findings.push({
        rule: UNUSED_IGNORE,
        severity: 'warning',
        message: `This suppression comment suppresses nothing${s.rules.length ? ` (${s.rules.join(', ')})` : ''}; remove it`,
        start: s.start,
        end: s.end,
        fixes: [],
        related: [],
      });
    }
  }
  result.findings.sort((a, b) => a.start - b.start || a.rule.localeCompare(b.rule));
  // A function skipped in the file's own parse and again in an `#if` variant's (where it is found again) is listed once.
  if (result.skippedFunctions.length > 1) {
    const byPlace = new Map<string, SkippedFunction>();
    for (const x of result.skippedFunctions) if (!byPlace.has(`${x.start}:${x.name}`)) byPlace.set(`${x.start}:${x.name}`, x);
    result.skippedFunctions = [...byPlace.values()];
  }
  return result;
}

/** A file or function the reference rules look at: it calls the C API, allocates through a type slot, or returns a local or parameter. */
const REFERENCES_RE = /\b_?Py_?[A-Z]\w*\s*\(|\btp_alloc\b|\breturn\s+(?:\(\s*\w+\s*\*\s*\)\s*)?[a-z_]\w*\s*;/;

/** What the analyses of every function of one file share. */
interface FileUnit {
  text: string;
  dialect: Dialect;
  targets: TargetFacts;
  eol: string;
  rules: Rule[];
  /** Rules that read the reference analysis (gated by REFERENCES_RE, not by singletons). */
  referenceRules: Rule[];
  /** A function whose body does not match is not analysed (it mentions no singleton or relevant macro). */
  relevantRe: RegExp;
  relevantMacroRe: RegExp | undefined;
  expander: MacroExpander;
  functionBudgetMs: number;
  /** Functions registered as `METH_NOARGS` methods (their second argument is NULL). */
  noArgs(): Set<string>;
  /** Names that project macros assign. */
  macroAssigned(): Set<string>;
  /** C++ facts of the file; undefined for C. */
  cxx(): CxxFacts | undefined;
  /** The file's functions that only borrow some object parameters. */
  borrowing(): BorrowingParams;
  /** The file's aliases of C-API calls and functions that return new references. */
  names(): FileNames;
  /** The file's names (macros, aliases) that give or take references (see `mayReport`, which asks `names().newFunctions` too). */
  owningNames(): ReadonlySet<string>;
  /** The file's functions. */
  functions(): readonly FunctionInfo[];
  report(f: PendingFinding): void;
  result: FileAnalysis;
}

/**
 * Runs every rule on one function (or a macro body analysed as one, whose contract is its
 * users'), sharing one ownership analysis; a function over its bound is listed as skipped.
 */
function analyzeFunction(unit: FileUnit, fn: FunctionInfo, offset: number, macro: MacroDef | undefined, users?: string[]): void {
  const { result, report } = unit;
  const bodyText = fn.body.text;
  const singletonRules = unit.rules.length && unit.relevantRe.test(bodyText) && mayMatter(fn.returnsObject, bodyText, unit.relevantMacroRe) ? unit.rules : [];
  const referenceRules = !macro && unit.referenceRules.length && REFERENCES_RE.test(bodyText) && mayReport(bodyText, fn.returnsObject, unit.owningNames(), unit.names().newFunctions) ? unit.referenceRules : [];
  if (!singletonRules.length && !referenceRules.length) return;
  result.stats.analyzedFunctions++;
  result.stats.errorRegions += countErrorRegions(fn.body);
  let ownership: OwnershipAnalysis | undefined;
  let references: ReferenceAnalysis | undefined;
  // One CFG for both analyses (a macro body, analysed only by the singleton rules, is not expanded).
  const expander = macro ? undefined : unit.expander;
  let cfg: Cfg | undefined;
  const withBudget = <T>(f: (b: Budget) => T): T => f({ maxSteps: 200_000, deadline: Date.now() + unit.functionBudgetMs });
  const cfgOf = (b: Budget) => (cfg ??= functionCfg(fn.body, expander, b, (c) => conditionOnTargets(c, unit.targets.min)));
  const ctx: FunctionContext = {
    text: unit.text,
    fn,
    macro,
    offset,
    targets: unit.targets,
    eol: unit.eol,
    contractFunctions: users ?? [fn.name],
    dialect: unit.dialect,
    ownership: () =>
      (ownership ??= withBudget((b) =>
        analyzeOwnership(fn.body, {
          expander,
          // (A macro body is not expanded, but the project's branch-prediction hints are read in it.)
          macros: unit.expander.macros,
          nullParams: !macro && unit.noArgs().has(fn.name) ? nullArgs(fn) : undefined,
          macroAssigned: unit.macroAssigned(),
          cxx: unit.cxx(),
          cfg: cfgOf(b),
          budget: b,
        }),
      )),
    references: () =>
      (references ??= withBudget((b) =>
        analyzeReferences(fn.node, fn.body, {
          expander,
          returnsObject: fn.returnsObject,
          nullParams: unit.noArgs().has(fn.name) ? nullArgs(fn) : undefined,
          macroAssigned: unit.macroAssigned(),
          borrowing: unit.borrowing(),
          names: unit.names(),
          cfg: cfgOf(b),
          budget: b,
        }),
      )),
    fileFunctions: unit.functions,
    // Inside a C++ template the instantiations are not visible: no fix is offered there.
    report: fn.inTemplate ? (f) => report(withoutFixesInside(f, fn.node.startIndex + offset, fn.node.endIndex + offset)) : report,
  };
  // The reference rules have their own analysis: over its bound, they say nothing of the
  // function, and the singleton rules' findings stay.
  if (runRules(singletonRules, '')) runRules(referenceRules, 'reference rules: ');
  // The nodes read under the body are let go: a file's nodes otherwise live, and are copied by each young-generation
  // collection, until the whole file is done. (What asks for them again reads them again.)
  fn.body.forgetChildren();

  /** Runs rules on the function; one over a bound lists the function as skipped and returns false. */
  function runRules(rules: Rule[], what: string): boolean {
    try {
      for (const rule of rules) rule.checkFunction(ctx);
      return true;
    } catch (e) {
      if (e instanceof BudgetExceeded || e instanceof CfgTooDeep || e instanceof RangeError) {
        result.skippedFunctions.push({ name: fn.name, start: fn.node.startIndex + offset, reason: what + (e instanceof RangeError ? 'nesting too deep to analyse' : e.message) });
        return false;
      }
      throw e;
    }
  }
}

/** True when `a` and `b` agree on the whole lines spanning [start, end). */
function sameLines(a: string, b: string, start: number, end: number): boolean {
  const from = a.lastIndexOf('\n', start - 1) + 1;
  let to = a.indexOf('\n', end);
  if (to < 0) to = a.length;
  return a.slice(from, to) === b.slice(from, to);
}

/** Inside a C++ template the instantiations are not visible: a finding there keeps only fixes whose edits are outside it (the marker above). */
function withoutFixesInside(f: PendingFinding, start: number, end: number): PendingFinding {
  return { ...f, fixes: f.fixes.filter((x) => x.edits.every((e) => e.end <= start || e.start >= end)) };
}

function cacheContext(req: AnalyzeRequest, dialect: Dialect, cxx: CxxFacts | undefined, rules: Rule[], targets: TargetFacts, macros: Map<string, MacroDef>, noArgs: ReadonlySet<string>): string {
  const macroPart = [...macros.values()].map((d) => `${d.name}(${d.params?.join(',') ?? ''})=${d.body}`).join('\u0001');
  // C++: the macros rewritten before parsing, and the pointer types (locals of other class types are not followed).
  const cxxKey = cxx ? [...cxxRewrittenMacros(req.text), ...[...cxx.pointerTypes].map((t) => `*${t}`)] : [];
  return JSON.stringify([rules.map((r) => r.id), targets, req.functionBudgetMs ?? 0, blankedMacroNames(req.text), dialect, cxxKey, [...noArgs], macroAssignedNames(req.text)]) + macroPart;
}

/** Short stand-ins for the editor's context keys, never reused for another key (a cleared key gets a new one). */
const CONTEXT_IDS = new Map<string, string>();
let nextContextId = 0;
function contextId(key: string): string {
  let id = CONTEXT_IDS.get(key);
  if (id === undefined) {
    if (CONTEXT_IDS.size >= 256) CONTEXT_IDS.clear();
    id = `context ${nextContextId++}`;
    CONTEXT_IDS.set(key, id);
  }
  return id;
}

/** What every match of `OWN_SINGLETON` holds (a cheap test first: most files declare no singleton). */
const OWN_SINGLETON_HINT = new RegExp(`\\*[ \\t]*(?:${SINGLETONS.join('|')})[ \\t]*[;=[,)]|#[ \\t]*define[ \\t]+(?:${SINGLETONS.join('|')})\\b`);

const OWN_SINGLETON = new RegExp(
  `^[ \\t]*(?:(?:extern|static|const)[ \\t]+)*\\w+[ \\t]*\\*[ \\t]*(${SINGLETONS.join('|')})[ \\t]*[;=[,)]|^[ \\t]*#[ \\t]*define[ \\t]+(${SINGLETONS.join('|')})\\b(?![^\\n]*(?:_Py_\\w*Struct|_Py_EllipsisObject|Py_GetConstant))`,
  'gm',
);

/** Singletons that the file, or a header it includes with quotes, declares or defines itself. */
function ownSingletons(text: string, req: AnalyzeRequest): Set<number> {
  const out = new Set<number>();
  const scan = (t: string) => {
    if (!OWN_SINGLETON_HINT.test(t)) return;
    for (const m of t.matchAll(OWN_SINGLETON)) out.add(singletonIndex(m[1] ?? m[2]));
  };
  scan(text);
  for (const inc of includedFiles(req)) scan(inc.text);
  return out;
}

const NOARGS_ENTRY = /\{\s*"[^"]*"\s*,\s*(?:\([^()]*(?:\([^()]*\)[^()]*)*\)\s*)*([A-Za-z_]\w*)\s*,\s*(?:METH_\w+\s*\|\s*)*METH_NOARGS\b/g;

/** Functions a method table of `text` registers with `METH_NOARGS` (CPython passes NULL as their second argument). */
export function noArgsMethods(text: string): Set<string> {
  if (!text.includes('METH_NOARGS')) return new Set();
  const entries = new Map<string, number>();
  for (const m of text.matchAll(NOARGS_ENTRY)) entries.set(m[1], (entries.get(m[1]) ?? 0) + 1);
  // Only a function CPython always calls this way: besides its METH_NOARGS entries, named only
  // by its definition and a prototype (not called in the file, not registered otherwise).
  return new Set([...entries].filter(([name, n]) => wordCount(text, name) - n <= 2).map(([name]) => name));
}

/** How many times `word` stands as a whole identifier in `text`. */
function wordCount(text: string, word: string): number {
  let n = 0;
  for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + word.length)) {
    if (!/\w/.test(text[i - 1] ?? '') && !/\w/.test(text[i + word.length] ?? '')) n++;
  }
  return n;
}

/** The second parameter of a function, when it has a name. */
function nullArgs(fn: FunctionInfo): string[] | undefined {
  const p = parameters(fn.node)[1];
  const name = p && declaredName(p.childForFieldName('declarator'))?.text;
  return name ? [name] : undefined;
}

/**
 * Top-level regions that mention a singleton but are not inside a cleanly parsed
 * function, and hold a preprocessor conditional: where `#if` variants may recover
 * the function. Each region spans the top-level node and its previous sibling (a
 * signature split by `#ifdef` leaves the body as a separate node).
 */
function unanalyzableRegions(root: SyntaxNode, text: string, functions: FunctionInfo[], relevant: RegExp): Array<[number, number]> {
  const clean = functions.filter((f) => !f.node.hasError).map((f) => [f.node.startIndex, f.node.endIndex]);
  const out: Array<[number, number]> = [];
  const kids = root.children.filter((k): k is SyntaxNode => !!k);
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i];
    if (!k.hasError && k.type !== 'compound_statement') continue;
    if (clean.some(([s, e]) => s <= k.startIndex && k.endIndex <= e)) continue;
    const body = text.slice(k.startIndex, k.endIndex);
    if (!relevant.test(body)) continue;
    const start = i > 0 ? kids[i - 1].startIndex : k.startIndex;
    const region = text.slice(start, k.endIndex);
    if (!/^[ \t]*#[ \t]*(?:if|ifdef|ifndef|else|elif|endif)\b/m.test(region) && k.type !== 'compound_statement') continue;
    out.push([start, k.endIndex]);
  }
  return out;
}

function countErrorRegions(body: SyntaxNode): number {
  if (!body.hasError) return 0;
  let n = 0;
  for (const e of body.descendantsOfType('ERROR')) {
    if (e && /\breturn\b/.test(e.text) && SINGLETON_RE.test(e.text) && !e.descendantsOfType('return_statement').length) n++;
  }
  return n;
}

const ORDER = SEVERITIES;
const LEVEL_TO_SEVERITY: Record<string, Severity> = { error: 'error', warning: 'warning', info: 'information', hint: 'hint' };

/** Decides contract-dependent severities and messages, and applies the configured rule levels. */
export function finalizeFindings(
  pending: PendingFinding[],
  facing: (name: string) => FacingInfo | undefined,
  targets: TargetFacts,
  opts: Options,
): Finding[] {
  const out: Finding[] = [];
  const macroDefs = new Map<string, Finding>();
  const macroUses: Array<{ finding: Finding; macro: string }> = [];
  for (const p of pending) {
    const { contract, ...f } = p;
    const finding: Finding = { ...f, related: [...f.related] };
    if (contract?.reference) {
      const info = contract.functions.map(facing).find((x) => !!x && (!contract.reference!.registeredOnly || !!x.registered));
      const shaped = !info && !!contract.methodShape;
      const r = contract.reference;
      if (!info && !shaped && r.helper === 'drop') continue;
      finding.severity = info ? r.facing : shaped ? ORDER[Math.min(ORDER.indexOf(r.facing) + 1, ORDER.length - 1)] : (r.helper as Severity);
      if (!info) finding.fixes = finding.fixes.map((x) => ({ ...x, safe: false }));
      if (!info && !shaped && r.helperDetail) finding.detail = `${finding.detail ?? ''} ${r.helperDetail}`.trim();
      else if (shaped) finding.detail = `${finding.detail ?? ''} No registration was found, but ${contract.methodShape}.`.trim();
      if (info?.path !== undefined && info.start !== undefined) {
        finding.related.push({ path: info.path, start: info.start, end: info.end ?? info.start, line: info.line, column: info.column, message: info.reason });
      }
    } else if (contract) {
      const info = contract.functions.map(facing).find((x) => !!x);
      const shaped = !info && contract.methodShape && !contract.definesMacro;
      const r = resolveReturnFinding(p, !!info || !!shaped, targets);
      // Shaped like a method but registered nowhere in the scanned files: one level below a registered one.
      finding.severity = shaped ? ORDER[Math.min(ORDER.indexOf(r.severity) + 1, ORDER.length - 1)] : r.severity;
      finding.message = r.message;
      finding.detail = shaped ? `${r.detail} No registration was found, but ${contract.methodShape}.` : r.detail;
      // A helper may return a borrowed reference on purpose; turning it into a new one would leak, so only a person applies it.
      if (!info) finding.fixes = finding.fixes.map((x) => ({ ...x, safe: false }));
      // No registration found: the function may be a helper that returns a borrowed reference on purpose.
      if (!info && contract.marker) finding.fixes = [...finding.fixes, contract.marker];
      // A caller in the project that treats the result as borrowed would leak a new reference.
      const users = info?.borrowedUsers ?? [];
      if (users.length && finding.fixes.some((x) => x.safe)) {
        const shown = users.slice(0, 3).map((u) => `\`${u}\``).join(', ');
        finding.fixes = finding.fixes.map((x) => ({ ...x, safe: false, description: `${x.description} (unsafe: ${shown} use${users.length === 1 ? 's' : ''} the result as a borrowed reference and would leak it)` }));
        finding.detail = `${finding.detail ?? ''} Its result is also used as a borrowed reference by ${shown}${users.length > 3 ? ', …' : ''}, so the fix is not applied automatically.`.trim();
      }
      if (info?.path !== undefined && info.start !== undefined) {
        finding.related.push({ path: info.path, start: info.start, end: info.end ?? info.start, line: info.line, column: info.column, message: info.reason });
      }
    }
    const level = opts.rules[finding.rule];
    if (level === 'off') continue;
    if (level) {
      const configured = LEVEL_TO_SEVERITY[level];
      const top = RULES_BY_ID.get(finding.rule)?.defaultSeverity ?? 'error';
      finding.severity =
        finding.severity === top || ORDER.indexOf(configured) > ORDER.indexOf(finding.severity) ? configured : finding.severity;
    }
    out.push(finding);
    if (contract?.definesMacro) macroDefs.set(contract.definesMacro, finding);
    else if (contract?.viaMacro) macroUses.push({ finding, macro: contract.viaMacro });
  }
  // One mistake, one finding: a macro defined in this file that returns a borrowed singleton is
  // reported at its definition (where the fix goes), with each use as related information.
  const dropped = new Set<Finding>();
  for (const { finding, macro } of macroUses) {
    const def = macroDefs.get(macro);
    if (!def || ORDER.indexOf(finding.severity) < ORDER.indexOf(def.severity)) continue;
    def.related.push({ start: finding.start, end: finding.end, message: `used in \`${finding.function ?? 'a function'}\` here` });
    dropped.add(finding);
  }
  return dropped.size ? out.filter((f) => !dropped.has(f)) : out;
}

/**
 * Drops return findings of functions declared elsewhere in the project as returning a
 * borrowed reference (cpychecker's `CPYCHECKER_RETURNS_BORROWED_REF` on a prototype).
 */
export function dropDeclaredBorrowed(pending: PendingFinding[], declaredBorrowed: ReadonlySet<string>): PendingFinding[] {
  if (!declaredBorrowed.size) return pending;
  return pending.filter((p) => !(p.contract && !p.contract.definesMacro && p.function && declaredBorrowed.has(p.function)));
}

/** What a project knows that decides a file's final findings. */
export interface ProjectFacts {
  /** Where a function is registered with CPython, or why it must return a new reference (by name, seen from the file). */
  facing(name: string): FacingInfo | undefined;
  /** Functions declared somewhere in the project as returning a borrowed reference. */
  borrowedDeclarations: ReadonlySet<string>;
}

/**
 * The one finding pipeline after `analyzeText`: drops what the project declares borrowed,
 * decides contract-dependent severities and messages, and applies the configured levels.
 * The CLI, the scan's fix step, the editor and the tests all go through it.
 */
export function resolveFindings(analysis: Pick<FileAnalysis, 'findings' | 'targets'>, project: ProjectFacts, options: Options): Finding[] {
  return finalizeFindings(dropDeclaredBorrowed(analysis.findings, project.borrowedDeclarations), (n) => project.facing(n), analysis.targets, options);
}
