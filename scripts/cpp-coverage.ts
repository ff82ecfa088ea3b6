/**
 * `npm run bench:cpp-coverage -- [--only NAME,NAME] [--examples N] [--json FILE]`
 *
 * How much of the C++ code of the real-world set the engine can analyse. For every file
 * the real-world scan includes (the same include/exclude globs and pyproject.toml as the
 * CLI) that `dialectOf` classifies as C++ (C++ extensions, and `.h`/`.inc` files whose
 * text is C++), it parses `blankStatementMacros(text, 'cpp')` with the C++ parser, finds the
 * functions with `findFunctions` and counts:
 *
 * - functions;
 * - functions whose body holds an ERROR or MISSING node (the analysis of such a body is
 *   unreliable; "recovered" says how many of them parse cleanly in one of the `#if`
 *   variants the engine also tries);
 * - functions the analysis skipped for its budget (`skippedFunctions`, from the same
 *   `processFile`/`analyzeText` path as the CLI);
 * - code in ERROR nodes outside every function found (functions lost to the parse).
 *
 * The share analysed is (functions - with errors - skipped) / functions, over all
 * functions and over those that use the C API (the body names an identifier starting
 * with `Py` or `_Py`). The error-bearing functions are then grouped by what breaks the
 * parse (the first ERROR or MISSING node of each body), with file:line examples.
 * Prints per project, in total, and a last line of JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyPyproject, readPyproject } from '../src/core/config';
import { dialectOf } from '../src/core/dialect';
import { findFunctions, type FunctionInfo } from '../src/core/functions';
import { defaultOptions, type Options } from '../src/core/options';
import { CParser, type SyntaxNode } from '../src/core/parser';
import { blankStatementMacros, conditionalVariants } from '../src/core/preprocess';
import { decodeSource, looksBinary } from '../src/core/text';
import { collectFiles, FileFilter } from '../src/node/files';
import { IncludeCache, processFile, projectAsksLimitedApi, type ScanSettings } from '../src/node/process-file';

const ROOT = path.resolve(__dirname, '../..');
const BENCH = path.join(ROOT, 'bench/real-world');
const PYTHON_VERSIONS = '>=3.8';
const C_API = /(?<![\w$])_?Py[A-Za-z_]/;

interface Project {
  name: string;
  set: string;
  paths: string[];
}

interface Counts {
  files: number;
  /** Functions found, plus those lost to the parse. */
  functions: number;
  /** Function definitions the parse lost (in no function found; counted in `functions` and `withErrors`). */
  lost: number;
  withErrors: number;
  recovered: number;
  skipped: number;
  api: number;
  apiWithErrors: number;
  apiSkipped: number;
  /** ERROR nodes outside every function found, and the lines they cover. */
  strayErrors: number;
  strayErrorLines: number;
  /** Definitions the parser read but `findFunctions` does not list (destructors, operators), and those that use the C API. */
  unlisted: number;
  apiUnlisted: number;
}

interface Broken {
  project: string;
  file: string;
  line: number;
  fn: string;
  cause: string;
  snippet: string;
  api: boolean;
  recovered: boolean;
  lost: boolean;
}

function zero(): Counts {
  return { files: 0, functions: 0, lost: 0, withErrors: 0, recovered: 0, skipped: 0, api: 0, apiWithErrors: 0, apiSkipped: 0, strayErrors: 0, strayErrorLines: 0, unlisted: 0, apiUnlisted: 0 };
}

function add(a: Counts, b: Counts): void {
  for (const k of Object.keys(a) as Array<keyof Counts>) a[k] += b[k];
}

function share(total: number, lost: number): string {
  return total ? `${(((total - lost) / total) * 100).toFixed(2)} %` : '-';
}

function usage(message: string): never {
  process.stderr.write(`cpp-coverage: ${message}\nusage: npm run bench:cpp-coverage -- [--only NAME,NAME] [--examples N] [--json FILE]\n`);
  process.exit(2);
}

function readProjects(): Project[] {
  const lines = fs.readFileSync(path.join(BENCH, 'projects.tsv'), 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const header = lines.shift()!.split('\t');
  return lines.map((l) => {
    const r = Object.fromEntries(header.map((h, i) => [h, l.split('\t')[i] ?? '']));
    return { name: r.name, set: r.set, paths: r.paths.split(',').map((p) => p.trim()).filter(Boolean) };
  });
}

/** The options and settings the CLI would use from `dir` (the nearest pyproject.toml, within the project). */
function settingsFor(dir: string, first: string): { settings: ScanSettings; root: string } {
  let options: Options = defaultOptions();
  let root = dir;
  let limited = false;
  const start = path.resolve(dir, first);
  for (let d = fs.existsSync(start) && fs.statSync(start).isDirectory() ? start : path.dirname(start); d.startsWith(dir); d = path.dirname(d)) {
    const candidate = path.join(d, 'pyproject.toml');
    if (fs.existsSync(candidate)) {
      const cfg = readPyproject(fs.readFileSync(candidate, 'utf8'));
      options = applyPyproject(options, cfg);
      limited = cfg.limitedApi;
      root = d;
      break;
    }
    if (d === dir) break;
  }
  options.pythonVersions = PYTHON_VERSIONS;
  return { settings: { options, reportUnusedIgnores: false, includeDirs: options.includePaths.map((p) => path.resolve(root, p)), projectLimitedApi: limited || projectAsksLimitedApi(root) }, root };
}

/** The first ERROR or MISSING node under `n` (in document order). */
function firstError(n: SyntaxNode): SyntaxNode | undefined {
  if (n.isMissing || n.type === 'ERROR') return n;
  for (const k of n.children) {
    if (k && k.hasError) {
      const e = firstError(k);
      if (e) return e;
    }
  }
  return undefined;
}

/** The statement (or declaration) that holds `n`, directly inside a block, a class body or the file. */
function statementOf(n: SyntaxNode): SyntaxNode {
  let s = n;
  while (s.parent && !['compound_statement', 'field_declaration_list', 'translation_unit', 'declaration_list'].includes(s.parent.type)) s = s.parent;
  return s;
}

const TYPE_KEYWORD = String.raw`(?:int|char|long|short|float|double|unsigned|signed|void|bool|const|size_t)`;
/** A call whose arguments are not all expressions: a type, an empty argument, bare template arguments. */
const NON_EXPRESSION_ARGUMENT = new RegExp(String.raw`\b\w+\s*\((?:[^()]|\([^()]*\))*?(?:,\s*\)|,\s*<|\(\s*${TYPE_KEYWORD}\b[^,()]*,|\*\s*,)`);

/** The previous line that is not blank, before offset `at`. */
function previousLine(text: string, at: number): string {
  const lines = text.slice(0, text.lastIndexOf('\n', at - 1) + 1).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim()) return lines[i];
  return '';
}

/** The body of `#define NAME` in `text`, continuation lines joined; undefined when not defined there. */
function definitionOf(text: string, name: string): string | undefined {
  const m = new RegExp(String.raw`^[ \t]*#[ \t]*define[ \t]+${name}\b((?:[^\n\\]|\\\r?\n|\\)*)`, 'm').exec(text);
  return m?.[1].replace(/\\\r?\n/g, ' ');
}

/** True when the last `#define` before `at` (ending at most 400 characters before it) has a block comment that spans its continuation lines. */
function afterDefineWithComment(text: string, at: number): boolean {
  const start = text.lastIndexOf('#define', at);
  if (start < 0) return false;
  let end = text.indexOf('\n', start);
  while (end > 0 && /\\\r?$/.test(text.slice(text.lastIndexOf('\n', end - 1) + 1, end))) end = text.indexOf('\n', end + 1);
  if (end < 0 || end > at || at - end > 400) return false;
  return /\/\*[^]*?\\\r?\n[^]*?\*\//.test(text.slice(start, end));
}

/**
 * What breaks the parse at `err` (the first ERROR or MISSING node of a body), tried in
 * this order: a `try` block closed by a catch macro the preprocessing did not blank; an
 * explicit operator call (`x->operator bool()`); a pointer-to-member access (`->*`); a
 * macro that supplies an `if`'s parentheses (`if FAILED (hr)`); a compiler keyword
 * (`__vector`); a preprocessor directive inside a statement or argument list; a macro
 * argument that is not an expression (a type, an empty argument, `<T>`); a macro among a
 * declaration's specifiers (`MACRO int x`, `float ALIGNED(16) buf[4]`); an object-like
 * macro that opens a block (`BEGIN_LOOP` ... `END_LOOP`); a function-like macro used as a
 * statement without `;`; attribute syntax; else `other`.
 */
function classify(err: SyntaxNode, text: string): string {
  const stmt = statementOf(err);
  const stmtText = text.slice(stmt.startIndex, Math.max(stmt.endIndex, err.endIndex));
  const lineStart = text.lastIndexOf('\n', err.startIndex - 1) + 1;
  const lineEnd = text.indexOf('\n', err.startIndex) < 0 ? text.length : text.indexOf('\n', err.startIndex);
  const line = text.slice(lineStart, lineEnd);
  const before = previousLine(text, err.startIndex);
  if (afterDefineWithComment(text, err.startIndex)) return 'multi-line comment inside a #define body (ends the directive early; C too)';
  if (err.isMissing && err.type === '::') return 'macro before a type (MACRO Type *name(...), _In_ Type name), read as a namespace';
  if (/^try\b/.test(err.text) && /\}\s*[A-Z_][A-Z0-9_]*\s*\(/.test(err.text + text.slice(err.endIndex, err.endIndex + 200))) {
    return 'catch clause written as a macro after a try block, not blanked';
  }
  if (/(?:->|\.)\s*operator\b/.test(line)) return 'grammar limitation: explicit operator call (x->operator bool(), this->operator=(y))';
  if (/->\*|\.\*\s*\w/.test(line)) return 'grammar limitation: pointer-to-member access (p->*member) on a call';
  if (/\b(?:if|while)\s+[A-Z_][A-Z0-9_]*\s*\(/.test(line)) return 'macro that supplies the parentheses of an if (if FAILED (hr))';
  if (/\b__vector\b|\b__pixel\b/.test(line)) return 'compiler keyword (__vector) in an #if branch';
  if (/\n[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif|else|endif)\b/.test(text.slice(Math.max(0, stmt.startIndex - 1), Math.max(stmt.endIndex, err.endIndex)))) {
    return 'preprocessor directive inside a statement or argument list';
  }
  if (NON_EXPRESSION_ARGUMENT.test(stmtText.split('\n').slice(0, 3).join(' ')) && /^[ \t]*[^#]*\b(?:_?Py_|Py\w+_)?[A-Z][A-Z0-9_]*\s*\(/.test(line)) {
    return 'macro argument that is not an expression (a type, an empty argument, <T>)';
  }
  const spec = /^[ \t]*(?:static\s+|const\s+)*([A-Z][A-Z0-9_]{2,})\s+(?:\w+\s+)*\w+\s*[=;[(]/.exec(line) ?? /^[ \t]*(?:const\s+)?\w+\s+([A-Z][A-Z0-9_]{2,})\s*\([^()]*\)\s*\w+/.exec(line);
  if (spec && (stmt.type === 'declaration' || err.parent?.type === 'declaration')) return 'macro among the specifiers of a declaration (MACRO int x, float ALIGNED(16) buf[])';
  const lone = /^[ \t]*([A-Z_][A-Z0-9_]{2,})[ \t]*(?:\/\/.*|\/\*.*\*\/)?$/.exec(before);
  if (lone) {
    const body = definitionOf(text, lone[1]) ?? '';
    if ((body.match(/\{/g) ?? []).length !== (body.match(/\}/g) ?? []).length) return 'object-like macro that opens or closes a block (BEGIN_LOOP ... END_LOOP)';
    return 'object-like macro used as a statement without ;';
  }
  const callLine = /^[ \t]*([A-Z_][A-Z0-9_]{2,})[ \t]*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)[ \t]*(?:\/\/.*|\/\*.*\*\/)?$/;
  if (callLine.test(before) || (err.isMissing && callLine.test(line))) return 'function-like macro used as a statement without ;';
  if (/__attribute__|__declspec|\[\[|\balignas\b/.test(line)) return 'attribute syntax';
  return err.isMissing ? `other (missing ${err.type})` : 'other';
}

/** `text` with comments, string and character literals and preprocessor lines blanked (offsets kept). */
function codeOnly(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|^[ \t]*#(?:[^\n\\]|\\\r?\n|\\)*/gm, (m) => m.replace(/[^\n]/g, ' '));
}

const NOT_FUNCTIONS = new Set(['if', 'for', 'while', 'switch', 'catch', 'sizeof', 'return', 'decltype', 'alignof', 'noexcept', 'throw', 'defined', '__attribute__', '__declspec']);

/**
 * Function definitions the parse lost: a `{` after `NAME(...)` (and optional qualifiers)
 * that lies in no function `findFunctions` found. Returns each one's name, its range
 * (name to closing brace) and the offset of its `{`.
 */
function lostFunctions(text: string, found: FunctionInfo[]): Array<{ name: string; start: number; open: number; end: number }> {
  const out: Array<{ name: string; start: number; open: number; end: number }> = [];
  // Braces are matched in each #if variant (a branch may open a block that another closes), then in the text itself.
  for (const source of [...conditionalVariants(text), text]) {
    for (const l of lostIn(codeOnly(source), found)) if (!out.some((o) => o.start <= l.open && l.open < o.end)) out.push(l);
  }
  return out.sort((a, b) => a.start - b.start);
}

function lostIn(code: string, found: FunctionInfo[]): Array<{ name: string; start: number; open: number; end: number }> {
  const ranges = found.map((f) => [f.node.startIndex, f.node.endIndex] as const);
  const out: Array<{ name: string; start: number; open: number; end: number }> = [];
  for (let open = code.indexOf('{'); open >= 0; open = code.indexOf('{', open + 1)) {
    if (ranges.some(([s, e]) => s <= open && open < e)) continue;
    const head = /\)\s*(?:(?:const|noexcept|override|final|volatile|mutable)\b\s*|&&?\s*|throw\s*\(\s*\)\s*|->\s*[\w:<>*& \t]+?\s*)*$/.exec(code.slice(Math.max(0, open - 300), open));
    if (!head) continue;
    const close = open - head[0].length + head[0].indexOf(')');
    let depth = 0;
    let paren = -1;
    for (let i = close; i >= Math.max(0, close - 4000); i--) {
      if (code[i] === ')') depth++;
      else if (code[i] === '(' && --depth === 0) {
        paren = i;
        break;
      } else if (code[i] === ';' || code[i] === '{' || code[i] === '}') break;
    }
    if (paren < 0) continue;
    const name = /((?:\w+::)*~?\w+)\s*$/.exec(code.slice(Math.max(0, paren - 200), paren));
    if (!name || NOT_FUNCTIONS.has(name[1]) || /^\d/.test(name[1])) continue;
    const nameStart = paren - name[0].length;
    if (/\boperator\s*$/.test(code.slice(Math.max(0, nameStart - 20), nameStart))) continue;
    let end = -1;
    depth = 0;
    for (let i = open; i < code.length; i++) {
      if (code[i] === '{') depth++;
      else if (code[i] === '}' && --depth === 0) {
        end = i + 1;
        break;
      }
    }
    if (end < 0) continue;
    out.push({ name: name[1], start: nameStart, open, end });
    open = end - 1;
  }
  return out;
}

/** The function definition (parsed without error around it) whose body opens at `open`, if any. */
function definitionAt(root: SyntaxNode, open: number): SyntaxNode | undefined {
  for (let n: SyntaxNode | null = root.descendantForIndex(open, open + 1); n; n = n.parent) {
    if (n.type === 'ERROR') return undefined;
    // A definition whose signature has an error is counted as lost.
    if (n.type === 'function_definition' && n.childForFieldName('body')?.startIndex === open) return n.childForFieldName('declarator')?.hasError ? undefined : n;
  }
  return undefined;
}

/** The node types `findFunctions` looks into for definitions (its CONTAINERS). */
const SEARCHED = new Set(['translation_unit', 'ERROR', 'preproc_if', 'preproc_ifdef', 'preproc_else', 'preproc_elif', 'preproc_elifdef', 'linkage_specification', 'declaration_list', 'namespace_definition', 'template_declaration', 'class_specifier', 'struct_specifier', 'union_specifier', 'field_declaration_list']);

/** Why `findFunctions` does not list a definition the parser read. */
function unlistedKind(def: SyntaxNode): string {
  for (let p = def.parent; p; p = p.parent) if (!SEARCHED.has(p.type)) return `inside a ${p.type} (a class nested in a class body, or a local class)`;
  const d = def.childForFieldName('declarator');
  const text = d?.text ?? '';
  if (/~\s*\w+\s*\(/.test(text)) return 'destructor';
  if (/\boperator\b/.test(text)) return 'operator';
  return d ? `declarator ${d.type}` : 'no declarator';
}

/** The first ERROR or MISSING node that overlaps [start, end). */
function firstErrorIn(n: SyntaxNode, start: number, end: number): SyntaxNode | undefined {
  if (n.endIndex <= start || n.startIndex >= end || !n.hasError) return undefined;
  if (n.isMissing || n.type === 'ERROR') {
    // An ERROR that starts before the range: look for a nested one inside it first.
    if (n.startIndex < start) for (const k of n.children) if (k) { const e = firstErrorIn(k, start, end); if (e) return e; }
    return n;
  }
  for (const k of n.children) {
    if (!k) continue;
    const e = firstErrorIn(k, start, end);
    if (e) return e;
  }
  return undefined;
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let only: Set<string> | undefined;
  let examples = 3;
  let jsonFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--only') only = new Set(value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (a === '--examples') examples = Number(value());
    else if (a === '--json') jsonFile = path.resolve(value());
    else usage(`unknown argument '${a}'`);
  }
  const parsers = await CParser.load();
  const cpp = parsers.for('cpp');
  const perProject: Array<{ project: Project; counts: Counts; cppFiles: string[] }> = [];
  const broken: Broken[] = [];
  const skippedList: Array<{ project: string; file: string; fn: string; reason: string }> = [];
  const unlisted: Array<{ project: string; file: string; line: number; fn: string; kind: string; api: boolean }> = [];
  for (const project of readProjects()) {
    if (only && !only.has(project.name)) continue;
    const dir = path.join(BENCH, 'src', project.name);
    if (!fs.existsSync(dir)) {
      process.stderr.write(`cpp-coverage: ${project.name}: not fetched; skipped\n`);
      continue;
    }
    const { settings, root } = settingsFor(dir, project.paths[0]);
    const { jobs } = collectFiles(project.paths, dir, new FileFilter(settings.options, root));
    const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, jobs.map((j) => j.abs));
    const counts = zero();
    const cppFiles: string[] = [];
    for (const job of jobs) {
      const bytes = fs.readFileSync(job.abs);
      if (bytes.length > settings.options.maxFileSize || looksBinary(bytes)) continue;
      const text = decodeSource(bytes).text;
      if (dialectOf(job.abs, text, settings.options.cppFiles) !== 'cpp') continue;
      const rel = path.relative(dir, job.abs).split(path.sep).join('/');
      cppFiles.push(rel);
      counts.files++;
      const tree = cpp.parse(blankStatementMacros(text, 'cpp'));
      let variantTrees: Array<ReturnType<typeof cpp.parse>> | undefined;
      try {
        const functions = findFunctions(tree.rootNode, text);
        const outcome = processFile(parsers, job, { ...settings, projectFiles: jobs.map((j) => j.abs) }, includes);
        const skippedAt = new Map(outcome.skippedFunctions.map((s) => [s.start, s]));
        for (const s of outcome.skippedFunctions) skippedList.push({ project: project.name, file: rel, fn: s.name, reason: s.reason });
        const recoveredIn = (fn: FunctionInfo) => {
          variantTrees ??= conditionalVariants(blankStatementMacros(text, 'cpp')).map((v) => cpp.parse(v));
          return variantTrees.some((t) => findFunctions(t.rootNode, text).some((g) => g.node.startIndex === fn.node.startIndex && g.node.endIndex === fn.node.endIndex && !g.body.hasError));
        };
        for (const fn of functions) {
          const api = C_API.test(fn.body.text);
          counts.functions++;
          if (api) counts.api++;
          if (fn.body.hasError) {
            counts.withErrors++;
            if (api) counts.apiWithErrors++;
            const err = firstError(fn.body) ?? fn.body;
            const recovered = recoveredIn(fn);
            if (recovered) counts.recovered++;
            const line = lineOf(text, err.startIndex);
            const snippet = (text.split('\n')[line - 1] ?? '').trim().slice(0, 120);
            broken.push({ project: project.name, file: rel, line, fn: fn.name, cause: classify(err, text), snippet, api, recovered, lost: false });
          } else if (skippedAt.has(fn.node.startIndex)) {
            counts.skipped++;
            if (api) counts.apiSkipped++;
          }
        }
        // Definitions the parse lost: counted as functions with errors, classified by the first ERROR in their range.
        for (const l of lostFunctions(text, functions)) {
          const api = C_API.test(text.slice(l.open, l.end));
          const parsed = definitionAt(tree.rootNode, l.open);
          if (parsed) {
            counts.unlisted++;
            if (api) counts.apiUnlisted++;
            unlisted.push({ project: project.name, file: rel, line: lineOf(text, l.start), fn: l.name, kind: unlistedKind(parsed), api });
            continue;
          }
          counts.functions++;
          counts.lost++;
          counts.withErrors++;
          if (api) {
            counts.api++;
            counts.apiWithErrors++;
          }
          variantTrees ??= conditionalVariants(blankStatementMacros(text, 'cpp')).map((v) => cpp.parse(v));
          const recovered = variantTrees.some((t) => findFunctions(t.rootNode, text).some((g) => g.node.startIndex <= l.open && l.open < g.node.endIndex && !g.body.hasError));
          if (recovered) counts.recovered++;
          // From the line before the name: the return type may hold the error.
          const from = text.lastIndexOf('\n', text.lastIndexOf('\n', l.start - 1) - 1) + 1;
          const err = firstErrorIn(tree.rootNode, from, l.end);
          const line = lineOf(text, err && err.startIndex >= from ? err.startIndex : l.start);
          const snippet = (text.split('\n')[line - 1] ?? '').trim().slice(0, 120);
          const cause = err ? classify(err, text) : 'not read as a function (no ERROR in its range)';
          broken.push({ project: project.name, file: rel, line, fn: l.name, cause, snippet, api, recovered, lost: true });
        }
        // ERROR nodes outside every function found (or lost): code the parse could not read.
        const inFunction = (n: SyntaxNode) => functions.some((f) => f.node.startIndex <= n.startIndex && n.endIndex <= f.node.endIndex);
        const visit = (n: SyntaxNode) => {
          for (const k of n.children) {
            if (!k || !k.hasError) continue;
            if (k.type === 'ERROR' && !inFunction(k) && !functions.some((f) => k.startIndex <= f.node.startIndex && f.node.endIndex <= k.endIndex)) {
              counts.strayErrors++;
              counts.strayErrorLines += k.endPosition.row - k.startPosition.row + 1;
            } else if (!inFunction(k)) visit(k);
          }
        };
        visit(tree.rootNode);
      } finally {
        tree.delete();
        for (const t of variantTrees ?? []) t.delete();
      }
    }
    if (counts.files) perProject.push({ project, counts, cppFiles });
  }

  const total = zero();
  for (const p of perProject) add(total, p.counts);
  const header = ['project', 'set', 'files', 'functions', 'lost', 'errors', 'recovered', 'skipped', 'analysed', 'C-API fns', 'errors', 'skipped', 'analysed', 'stray ERRORs (lines)'];
  const row = (name: string, set: string, c: Counts) => [
    name,
    set,
    String(c.files),
    String(c.functions),
    String(c.lost),
    String(c.withErrors),
    String(c.recovered),
    String(c.skipped),
    share(c.functions, c.withErrors + c.skipped),
    String(c.api),
    String(c.apiWithErrors),
    String(c.apiSkipped),
    share(c.api, c.apiWithErrors + c.apiSkipped),
    `${c.strayErrors} (${c.strayErrorLines})`,
  ];
  const rows = [...perProject.map((p) => row(p.project.name, p.project.set, p.counts)), row('total', '', total)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out: string[] = ['C++ files of the real-world set (as the scan includes them; dialectOf says cpp)', fmt(header), ...rows.map(fmt)];
  out.push('', `Share analysed (functions - with errors - skipped) / functions: ${share(total.functions, total.withErrors + total.skipped)} (${total.functions - total.withErrors - total.skipped}/${total.functions})`);
  out.push(`Share analysed, functions that use the C API: ${share(total.api, total.apiWithErrors + total.apiSkipped)} (${total.api - total.apiWithErrors - total.apiSkipped}/${total.api})`);
  out.push(`Counting error-bearing functions that parse cleanly in an #if variant as analysed: ${share(total.functions, total.withErrors - total.recovered + total.skipped)}`);
  const headers = perProject.flatMap((p) => p.cppFiles.filter((f) => /\.(?:h|inc)$/i.test(f)).map((f) => `${p.project.name}/${f}`));
  out.push('', `.h/.inc files classified as C++ (${headers.length}): ${headers.join(', ') || '-'}`);
  if (skippedList.length) {
    out.push('', 'Functions skipped for the budget:');
    for (const s of skippedList) out.push(`  ${s.project} ${s.file} ${s.fn}: ${s.reason}`);
  }
  if (unlisted.length) {
    const kinds = new Map<string, typeof unlisted>();
    for (const u of unlisted) kinds.set(u.kind, [...(kinds.get(u.kind) ?? []), u]);
    out.push('', `Definitions parsed without error that findFunctions does not list (not in the figures above): ${total.unlisted}, ${total.apiUnlisted} using the C API`);
    for (const [kind, list] of kinds) {
      out.push(`  ${list.length}  (${list.filter((u) => u.api).length} C API)  ${kind}`);
      for (const u of list.filter((x) => x.api).slice(0, examples)) out.push(`      ${u.project} ${u.file}:${u.line} ${u.fn}`);
    }
  }
  const causes = new Map<string, Broken[]>();
  for (const b of broken) causes.set(b.cause, [...(causes.get(b.cause) ?? []), b]);
  out.push('', 'Functions with a parse error (or lost to it), by the construct at their first ERROR/MISSING node (count; using the C API; lost; recovered by an #if variant):');
  for (const [cause, list] of [...causes].sort((a, b) => b[1].length - a[1].length)) {
    out.push(`  ${list.length}  (${list.filter((b) => b.api).length} C API, ${list.filter((b) => b.lost).length} lost, ${list.filter((b) => b.recovered).length} recovered)  ${cause}`);
    for (const b of list.slice(0, examples)) out.push(`      ${b.project} ${b.file}:${b.line} ${b.fn}${b.lost ? ' (lost)' : ''}: ${b.snippet}`);
  }
  const json = {
    projects: perProject.map((p) => ({ name: p.project.name, set: p.project.set, ...p.counts })),
    total,
    shareAnalysed: total.functions ? (total.functions - total.withErrors - total.skipped) / total.functions : null,
    shareAnalysedCApi: total.api ? (total.api - total.apiWithErrors - total.apiSkipped) / total.api : null,
    causes: Object.fromEntries([...causes].map(([c, l]) => [c, l.length])),
    unlisted,
    broken: broken.map((b) => ({ project: b.project, file: b.file, line: b.line, function: b.fn, cause: b.cause, api: b.api, lost: b.lost, recovered: b.recovered })),
  };
  process.stdout.write(out.join('\n') + '\n' + JSON.stringify({ total: json.total, shareAnalysed: json.shareAnalysed, shareAnalysedCApi: json.shareAnalysedCApi, causes: json.causes }) + '\n');
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`cpp-coverage: ${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
