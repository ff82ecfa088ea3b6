/**
 * `npm run bench:pyrefcon -- [--window N] [--cli OTHER/bin/cpyref.js] [--json FILE]`
 *
 * cpyref's recall on the bugs PyRefcon (Ma et al., ISSTA 2023) found and confirmed by hand
 * in twelve real extensions. PyRefcon's artifact (github.com/SQUARE-RG/PyRefcon) lists its
 * 277 reports in evaluation/pyrefcon-reports.csv (`result` TP or FP, `category` the kind of
 * bug) and keeps each report as clang's HTML, which holds the analysed file's whole text,
 * the bug line and the analyser's path.
 *
 * The script reads that artifact from a git directory (CPYREF_MIRRORS/SQUARE-RG+PyRefcon,
 * as bench/real-world/fetch.sh finds mirrors; otherwise a shallow fetch from GitHub into
 * the work folder), writes each report's analysed file into bench/pyrefcon/work/src/
 * (gitignored: third-party code), scans them all in one CLI run with every rule on, and
 * says per report whether a finding of the right rule family lies on the reported spot.
 * It prints recall per category (raw, and with pyaudio's 41 copies of one idiom counted
 * once), PyRefcon's own figures from its CSV, and last one JSON line; it rewrites
 * bench/pyrefcon/reports.tsv (ids, lines, categories, found: no source text) and
 * bench/pyrefcon/work/reports-detail.tsv (with the code lines and the findings' messages).
 * Exits 1 when the artifact cannot be read or the CLI crashed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RULES } from '../src/core/rules/index';

const ROOT = path.resolve(__dirname, '../..');
const BENCH = path.join(ROOT, 'bench/pyrefcon');
const WORK = path.join(BENCH, 'work');
const SRC = path.join(WORK, 'src');
const CLI = path.join(ROOT, 'bin/cpyref.js');
const REPO = 'SQUARE-RG/PyRefcon';
/** The artifact's last commit (2023-05-06); the figures below are for it. */
const COMMIT = 'b4f71c8dd6374d192cd534438d7fa774f3cc558d';
const CSV_PATH = 'evaluation/pyrefcon-reports.csv';
const HTML_DIR = 'evaluation/pyrefcon-reports';
const PYTHON_VERSIONS = '>=3.8';
/** The related location a leak finding gives for the allocation that leaks (src/core/references/report.ts). */
const CREATED_HERE = 'the new reference is created here';
/** Lines either side of an anchor line that a finding may be on. */
const DEFAULT_WINDOW = 3;

/** Our categories, in print order. */
type Category = 'non-stealing' | 'error-path' | 'plain-leak' | 'use-after-release' | 'use-after-steal';

interface CategoryInfo {
  title: string;
  /** PyRefcon's `category` values (column 9 of its CSV) that fall here. */
  labels: string[];
  /** cpyref rule ids that find this kind of bug (those not written yet simply find nothing). */
  rules: string[];
  /** Counted apart from the totals (disputed). */
  disputed: boolean;
  leak: boolean;
}

const LEAK_RULES = ['reference-leak', 'owned-reference-leak'];
const RELEASE_RULES = ['use-after-release', 'release-not-owned'];

const CATEGORIES: Record<Category, CategoryInfo> = {
  'non-stealing': { title: 'new ref passed to a non-stealing call', labels: ['created passed to non-stealing'], rules: LEAK_RULES, disputed: false, leak: true },
  'error-path': { title: 'new ref leaked on an error path', labels: ['leak on error handling branch'], rules: LEAK_RULES, disputed: false, leak: true },
  'plain-leak': { title: 'plain leak', labels: ['pure leak'], rules: LEAK_RULES, disputed: false, leak: true },
  'use-after-release': {
    title: 'use after release',
    labels: ['use after created passed to decrease', 'use after decrement on captured'],
    rules: RELEASE_RULES,
    disputed: false,
    leak: false,
  },
  // A reference handed to a stealing call (PyTuple_SetItem, PyList_SetItem, ...) and used
  // afterwards: the container still holds the object, so maintainers closed most of these
  // (9 of 13 'closed' in the CSV's submit column). Counted apart.
  'use-after-steal': { title: 'use after a steal (disputed)', labels: ['use after created passed to steal'], rules: RELEASE_RULES, disputed: true, leak: false },
};
const CATEGORY_ORDER = Object.keys(CATEGORIES) as Category[];

/** The project whose many reports are one idiom (`PyErr_SetObject(e, Py_BuildValue(...))`). */
const IDIOM_PROJECT = 'pyaudio';
const IDIOM_CATEGORY: Category = 'non-stealing';

interface Args {
  window: number;
  cli: string;
  json?: string;
}

function usage(message: string): never {
  process.stderr.write(`bench-pyrefcon: ${message}\nusage: npm run bench:pyrefcon -- [--window N] [--cli OTHER/bin/cpyref.js] [--json FILE]\n`);
  process.exit(2);
}

function parseArgv(argv: string[]): Args {
  const out: Args = { window: DEFAULT_WINDOW, cli: CLI };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--window') {
      out.window = Number(value());
      if (!Number.isInteger(out.window) || out.window < 0) usage('--window needs a whole number');
    } else if (a === '--cli') out.cli = path.resolve(value());
    else if (a === '--json') out.json = path.resolve(value());
    else usage(`unknown argument '${a}'`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The artifact's git directory.

function git(gitDir: string, args: string[], input?: string): ReturnType<typeof spawnSync> {
  return spawnSync('git', ['--git-dir=' + gitDir, ...args], { input, maxBuffer: 1 << 30 });
}

function hasCommit(gitDir: string): boolean {
  return git(gitDir, ['cat-file', '-e', `${COMMIT}^{commit}`]).status === 0;
}

/** The git directory inside a mirror folder (the folder, its repo/ or its repo/.git), if any. */
function gitDirIn(folder: string): string | undefined {
  for (const d of [folder, path.join(folder, 'repo'), path.join(folder, 'repo/.git')]) {
    if (fs.existsSync(path.join(d, 'HEAD')) && fs.existsSync(path.join(d, 'objects'))) return d;
  }
  return undefined;
}

/** A git directory holding COMMIT: the mirror, an earlier fetch, or a new shallow fetch. */
function artifactGitDir(): string {
  const mirrors = process.env.CPYREF_MIRRORS;
  if (mirrors) {
    const d = gitDirIn(path.join(mirrors, REPO.replace('/', '+')));
    if (d && hasCommit(d)) {
      process.stderr.write(`bench-pyrefcon: ${REPO} from the mirror\n`);
      return d;
    }
    process.stderr.write(`bench-pyrefcon: no mirror of ${REPO} with ${COMMIT.slice(0, 12)} under CPYREF_MIRRORS; fetching from GitHub\n`);
  }
  const local = path.join(WORK, 'PyRefcon.git');
  if (fs.existsSync(local) && hasCommit(local)) return local;
  fs.rmSync(local, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const init = spawnSync('git', ['init', '-q', '--bare', local], { stdio: 'inherit' });
  const fetch = init.status === 0 ? spawnSync('git', ['--git-dir=' + local, 'fetch', '-q', '--depth', '1', `https://github.com/${REPO}`, COMMIT], { stdio: 'inherit' }) : init;
  if (fetch.status !== 0 || !hasCommit(local)) {
    fs.rmSync(local, { recursive: true, force: true });
    throw new Error(`cannot fetch ${REPO} at ${COMMIT}; set CPYREF_MIRRORS to a folder holding ${REPO.replace('/', '+')}/`);
  }
  return local;
}

/** Paths of the files under `dir` at COMMIT. */
function listFiles(gitDir: string, dir: string): string[] {
  const res = git(gitDir, ['ls-tree', '-r', '--name-only', '-z', COMMIT, '--', dir]);
  if (res.status !== 0) throw new Error(`git ls-tree failed: ${res.stderr}`);
  return res.stdout.toString('utf8').split('\0').filter(Boolean);
}

/** The contents of the given paths at COMMIT, in one `git cat-file --batch`. */
function readBlobs(gitDir: string, paths: string[]): Map<string, Buffer> {
  const res = git(gitDir, ['cat-file', '--batch'], paths.map((p) => `${COMMIT}:${p}\n`).join(''));
  if (res.status !== 0) throw new Error(`git cat-file failed: ${res.stderr}`);
  const out = new Map<string, Buffer>();
  const buf = res.stdout as Buffer;
  let pos = 0;
  for (const p of paths) {
    const nl = buf.indexOf(10, pos);
    const header = buf.subarray(pos, nl).toString('utf8');
    const m = /^[0-9a-f]+ blob (\d+)$/.exec(header);
    if (!m) throw new Error(`${p}: not in the artifact (${header})`);
    const size = Number(m[1]);
    out.set(p, buf.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The CSV.

/** One line of pyrefcon-reports.csv. */
interface CsvReport {
  project: string;
  bugType: string;
  file: string;
  function: string;
  line: number;
  report: string;
  result: string;
  label: string;
  issue: string;
  submit: string;
  count: number;
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows.filter((r) => r.some((c) => c.trim() !== ''));
}

function readCsv(text: string): CsvReport[] {
  const [header, ...rows] = parseCsv(text);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${CSV_PATH}: no column '${name}' (columns: ${header.join(', ')})`);
    return i;
  };
  const c = {
    project: col('project'), bugType: col('bug type'), file: col('file'), function: col('function'), line: col('line'),
    report: col('report'), result: col('result'), label: col('category'), issue: col('issue'), submit: col('submit'), count: col('count'),
  };
  return rows.map((r) => ({
    project: r[c.project], bugType: r[c.bugType], file: r[c.file], function: r[c.function], line: Number(r[c.line]),
    report: r[c.report], result: r[c.result], label: r[c.label], issue: r[c.issue], submit: r[c.submit], count: Number(r[c.count]) || 1,
  }));
}

// ---------------------------------------------------------------------------------------
// clang's HTML report.

/** One step of the analyser's path, in the bug's file. */
interface PathEvent {
  /** The step's number (1, 2, ...). */
  index: number;
  line: number;
  message: string;
  /** The file the step is in is the bug's file. */
  inBugFile: boolean;
}

interface HtmlReport {
  /** BUGFILE, BUGLINE, BUGDESC, BUGTYPE, FUNCTIONNAME, ... from the header comments. */
  meta: Record<string, string>;
  /** The bug file's text, line by line (index 0 is line 1). */
  lines: string[];
  /** The line of the last step (`EndPath`) in the bug's file, if there. */
  endLine?: number;
  endIndex: number;
  events: PathEvent[];
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[e] ?? all;
  });
}

/** The position after the element whose opening tag ends just before `pos` (same tag name, nesting counted). */
function skipElement(html: string, pos: number, name: string): number {
  const re = new RegExp(`<(/?)${name}\\b[^>]*>`, 'gi');
  re.lastIndex = pos;
  let depth = 1;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return re.lastIndex;
  }
  return html.length;
}

/**
 * The text of a code line's cell starting at `pos` (just after `<td class="line">`) and
 * where the cell ends: markup dropped, entities decoded, and the analyser's pop-ups (macro
 * expansions, variable values, which hold their own tables) left out.
 */
function cellText(html: string, pos: number): { text: string; end: number } {
  let out = '';
  let i = pos;
  for (;;) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return { text: unescapeHtml(out + html.slice(i)), end: html.length };
    out += html.slice(i, lt);
    const gt = html.indexOf('>', lt);
    const tag = html.slice(lt, gt + 1);
    if (/^<\/td\b/i.test(tag)) return { text: unescapeHtml(out), end: gt + 1 };
    if (/^<span\s+class=['"]macro_popup['"]/i.test(tag)) i = skipElement(html, gt + 1, 'span');
    else if (/^<table\s+class=['"]variable_popup['"]/i.test(tag)) i = skipElement(html, gt + 1, 'table');
    else i = gt + 1;
  }
}

/** The bug file's name as a table heading names it: relative for the main file, absolute for the others. */
function sameFile(heading: string | undefined, bugFile: string): boolean {
  return heading === undefined || heading === bugFile || bugFile.endsWith('/' + heading);
}

function parseHtml(html: string): HtmlReport {
  const meta: Record<string, string> = {};
  for (const m of html.matchAll(/<!-- (BUG[A-Z]+|FILENAME|FUNCTIONNAME) (.*?) -->/g)) meta[m[1]] ??= m[2];
  const bugFile = meta.BUGFILE ?? '';
  // Markers, in document order: a file heading, a file's table, a code line, a path step.
  const marker = /<h4 class=FileName>(.*?)<\/h4>|<table class="code" data-fileid="\d+">|<tr class="codeline" data-linenumber="(\d+)">|<div id="(Path\d+|EndPath)" class="msg[^"]*"[^>]*>/g;
  let heading: string | undefined;
  let tableHeading: string | undefined;
  let tables = 0;
  let bugTable = -1;
  let currentLine = 0;
  const lines: string[] = [];
  const events: PathEvent[] = [];
  let endLine: number | undefined;
  let endIndex = 0;
  for (let m = marker.exec(html); m; m = marker.exec(html)) {
    if (m[1] !== undefined) heading = unescapeHtml(m[1]);
    else if (m[0].startsWith('<table')) {
      tables++;
      tableHeading = heading;
      heading = undefined;
      currentLine = 0;
      if (bugTable < 0 && sameFile(tableHeading, bugFile)) bugTable = tables;
    } else if (m[2] !== undefined) {
      currentLine = Number(m[2]);
      const td = html.indexOf('<td class="line">', marker.lastIndex);
      if (td < 0) break;
      const cell = cellText(html, td + '<td class="line">'.length);
      marker.lastIndex = cell.end;
      if (tables === bugTable) {
        if (currentLine !== lines.length + 1) throw new Error(`code line ${currentLine} follows line ${lines.length}`);
        // clang writes an empty line as one space.
        lines.push(cell.text === ' ' ? '' : cell.text.replace(/\r$/, ''));
      }
    } else {
      const step = /<div class="PathIndex[^"]*">(\d+)<\/div><\/td>(?:<td><div class="PathNav">.*?<\/div><\/td>)?<td>(.*?)<\/td>/.exec(html.slice(marker.lastIndex, marker.lastIndex + 4000));
      const index = step ? Number(step[1]) : 0;
      const message = step ? unescapeHtml(step[2].replace(/<[^>]*>/g, '')) : '';
      events.push({ index, line: currentLine, message, inBugFile: tables === bugTable });
      if (m[3] === 'EndPath') {
        endIndex = index;
        if (tables === bugTable) endLine = currentLine;
      }
    }
  }
  if (bugTable < 0) throw new Error(`no table of ${bugFile}`);
  events.sort((a, b) => a.index - b.index);
  return { meta, lines, endLine, endIndex, events };
}

// ---------------------------------------------------------------------------------------
// The benchmark's reports.

interface Report extends CsvReport {
  category?: Category;
  /** The bug line in the analysed text (the HTML's BUGLINE; the CSV's line may be a later version's). */
  bugLine: number;
  /** The path of the written source, relative to SRC. */
  source: string;
  /** Lines a finding may be near: the bug line, and the path from the allocation to the leak or the release. */
  anchors: number[];
  /** For leaks: the allocating call and the variable it is stored in, when they can be read. */
  subjects: string[];
  codeLine: string;
  problems: string[];
}

function categoryOf(label: string): Category | undefined {
  return CATEGORY_ORDER.find((c) => CATEGORIES[c].labels.includes(label));
}

/** The new-reference call and the variable it is stored in, read off the bug line and the path. */
function leakSubjects(html: HtmlReport, bugLine: number, code: string): { subjects: string[]; allocIndex: number } {
  const calls = html.events.filter((e) => e.inBugFile && e.line === bugLine && e.index < html.endIndex && /^Calling '/.test(e.message));
  const last = calls[calls.length - 1];
  const subjects = new Set<string>();
  const callee = last ? /^Calling '([^']+)'/.exec(last.message)?.[1] : undefined;
  if (callee) {
    // clang names the function a macro expands to (_Py_BuildValue_SizeT, PyModule_Create2).
    const plain = callee.replace(/^_+/, '').replace(/_SizeT$/, '').replace(/(?<=[a-z])2$/, '');
    subjects.add(callee).add(plain);
    // The name written on the line may be the project's macro for it (PyRRD_Int_FromLong for PyLong_FromLong).
    const tail = plain.slice(plain.indexOf('_') + 1);
    const written = [...code.matchAll(/([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]).filter((n) => n === plain || (tail.length >= 6 && n !== tail && n.endsWith(tail)));
    for (const n of written) subjects.add(n);
    for (const n of [callee, plain, ...written]) {
      const assigned = new RegExp(`([A-Za-z_]\\w*)\\s*=(?!=)\\s*(?:\\([^()]*\\)\\s*)*${n}\\s*\\(`).exec(code) ?? new RegExp(`^\\s*(?:[\\w:<>]+[\\s*&]+)*([A-Za-z_]\\w*)\\s*[({]\\s*${n}\\s*\\(`).exec(code);
      if (assigned && !/^(?:return|if|while|switch)$/.test(assigned[1])) subjects.add(assigned[1]);
    }
  }
  return { subjects: [...subjects], allocIndex: last?.index ?? 0 };
}

/** Lines of the steps that released the object: a call that drops or steals it, or a count set to 0 or below. */
function releaseLines(html: HtmlReport): number[] {
  const out: number[] = [];
  const byIndex = new Map(html.events.map((e) => [e.index, e]));
  for (const e of html.events) {
    if (!/^Setting reference count to (?:0|-\d+)$/.test(e.message)) continue;
    if (e.inBugFile) out.push(e.line);
    // The step is usually inside the callee's model: the call is the step before it.
    for (let i = e.index - 1; i > 0; i--) {
      const prev = byIndex.get(i);
      if (!prev) break;
      if (prev.inBugFile && /^Calling '/.test(prev.message)) {
        out.push(prev.line);
        break;
      }
      if (prev.inBugFile) break;
    }
  }
  return out;
}

function buildReport(row: CsvReport, html: HtmlReport, source: string): Report {
  const problems: string[] = [];
  const bugLine = Number(html.meta.BUGLINE);
  if (!Number.isInteger(bugLine) || bugLine < 1 || bugLine > html.lines.length) problems.push(`bug line ${html.meta.BUGLINE} outside the text (${html.lines.length} lines)`);
  if (html.endLine !== bugLine) problems.push(`the path ends at line ${html.endLine ?? '?'}, not at the bug line ${bugLine}`);
  if (bugLine !== row.line) problems.push(`the CSV says line ${row.line}, the HTML ${bugLine}`);
  if (html.meta.FUNCTIONNAME && html.meta.FUNCTIONNAME !== row.function) problems.push(`the CSV says function ${row.function}, the HTML ${html.meta.FUNCTIONNAME}`);
  const category = categoryOf(row.label);
  const codeLine = html.lines[bugLine - 1] ?? '';
  const anchors = new Set([bugLine]);
  let subjects: string[] = [];
  if (category && CATEGORIES[category].leak) {
    const s = leakSubjects(html, bugLine, codeLine);
    subjects = s.subjects;
    // The object's life on the path: every later step in the bug's file.
    for (const e of html.events) if (e.inBugFile && e.index > s.allocIndex && e.index < html.endIndex) anchors.add(e.line);
  } else if (category) {
    for (const l of releaseLines(html)) anchors.add(l);
  }
  return { ...row, category, bugLine, source, anchors: [...anchors].sort((a, b) => a - b), subjects, codeLine, problems };
}

// ---------------------------------------------------------------------------------------
// Scanning and matching.

/** The part of the CLI's JSON finding this script reads. */
interface CliFinding {
  path: string;
  line: number;
  rule: string;
  severity: string;
  message: string;
  function: string | null;
  related?: Array<{ line: number; message: string }>;
}

function scanAll(cli: string, rules: string[]): CliFinding[] {
  const args = [cli, '--format', 'json', '--quiet', '--all', '--jobs', String(Math.max(1, Math.min(4, os.cpus().length))), '--python-versions', PYTHON_VERSIONS, '--select', rules.join(','), 'src'];
  const res = spawnSync(process.execPath, args, { cwd: WORK, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (res.status === 0 || res.status === 1) {
    try {
      const report = JSON.parse(res.stdout) as { findings: CliFinding[]; skipped: Array<{ path: string; reason?: string }> };
      for (const s of report.skipped) process.stderr.write(`bench-pyrefcon: the CLI skipped ${JSON.stringify(s)}\n`);
      return report.findings;
    } catch {
      // reported below
    }
  }
  const how = res.error ? res.error.message : res.signal ? `signal ${res.signal}` : `exit code ${res.status}`;
  throw new Error(`the CLI crashed (${how})\n${(res.stderr ?? '').split('\n').slice(-20).join('\n')}`);
}

function mentions(message: string, subjects: string[]): boolean {
  return subjects.some((s) => new RegExp(`(?<![\\w])${s.replace(/\W/g, '\\$&')}(?![\\w])`).test(message));
}

interface Match {
  found: boolean;
  finding?: CliFinding;
  /** Other findings of the family within 30 lines (for studying misses). */
  nearby: CliFinding[];
}

/**
 * A report is found when a finding of its category's rules is in the same file, within
 * `window` lines of one of its anchors (the bug line; for leaks, also the later steps of
 * PyRefcon's path in that file; for uses after release, also the releasing call) and, for
 * leaks, names the allocating call or the variable that holds its result (when those could
 * be read). The function is not compared: the CSV names the function where PyRefcon's path
 * starts, which is not always the one that holds the bug line (inlined callees).
 */
function match(report: Report, findings: CliFinding[], window: number): Match {
  const info = report.category ? CATEGORIES[report.category] : undefined;
  if (!info) return { found: false, nearby: [] };
  const family = findings.filter((f) => info.rules.includes(f.rule) && f.path === report.source);
  // A leak is also found where the finding is reported elsewhere (at another return of the
  // same function) but names the allocation on the report's line as the one that leaks.
  const created = (f: CliFinding) => !!info.leak && !!f.related?.some((r) => r.message === CREATED_HERE && Math.abs(r.line - report.bugLine) <= window);
  const near = (f: CliFinding) => report.anchors.some((a) => Math.abs(f.line - a) <= window) || created(f);
  const concerns = (f: CliFinding) => !info.leak || report.subjects.length === 0 || mentions(f.message, report.subjects);
  // Prefer a finding on the bug line itself, then the nearest.
  const hits = family.filter((f) => near(f) && concerns(f)).sort((a, b) => Math.abs(a.line - report.bugLine) - Math.abs(b.line - report.bugLine));
  return { found: hits.length > 0, finding: hits[0], nearby: family.filter((f) => !hits.includes(f) && Math.abs(f.line - report.bugLine) <= 30) };
}

// ---------------------------------------------------------------------------------------
// Output.

/** A text table; the first `left` columns are aligned left, the others right. */
function table(header: string[], rows: string[][], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function percent(found: number, total: number): string {
  return total ? `${((100 * found) / total).toFixed(1)} %` : '-';
}

function cell(s: string | number | undefined): string {
  return String(s ?? '').replace(/[\t\r\n]+/g, ' ');
}

interface Tally {
  confirmed: number;
  found: number;
}

function run(): number {
  const args = parseArgv(process.argv.slice(2));
  const gitDir = artifactGitDir();
  const csvText = readBlobs(gitDir, [CSV_PATH]).get(CSV_PATH)!.toString('utf8');
  const rows = readCsv(csvText);
  const htmlPaths = new Map(listFiles(gitDir, HTML_DIR).map((p) => [path.posix.basename(p), p]));
  const missingHtml = rows.filter((r) => !htmlPaths.has(r.report));
  if (missingHtml.length) throw new Error(`no HTML report for ${missingHtml.map((r) => r.report).join(', ')}`);
  const unknownLabels = [...new Set(rows.filter((r) => r.result === 'TP' && !categoryOf(r.label)).map((r) => r.label))];
  if (unknownLabels.length) process.stderr.write(`bench-pyrefcon: categories not mapped (not counted): ${unknownLabels.join(', ')}\n`);
  const blobs = readBlobs(gitDir, rows.map((r) => htmlPaths.get(r.report)!));

  // Write each analysed file once per distinct text: src/PROJECT/FILE (src/PROJECT~2/FILE, ... for other texts).
  fs.rmSync(SRC, { recursive: true, force: true });
  const written = new Map<string, string>(); // project + file + text -> source path
  const variants = new Map<string, number>(); // project + file -> texts seen
  const reports: Report[] = [];
  for (const row of rows) {
    const html = parseHtml(blobs.get(htmlPaths.get(row.report)!)!.toString('utf8'));
    const text = html.lines.join('\n') + '\n';
    const key = `${row.project}\0${row.file}\0${text}`;
    let source = written.get(key);
    if (!source) {
      const base = `${row.project}\0${row.file}`;
      const n = (variants.get(base) ?? 0) + 1;
      variants.set(base, n);
      source = path.posix.join('src', n === 1 ? row.project : `${row.project}~${n}`, row.file);
      fs.mkdirSync(path.dirname(path.join(WORK, source)), { recursive: true });
      fs.writeFileSync(path.join(WORK, source), text);
      written.set(key, source);
    }
    reports.push(buildReport(row, html, source));
  }
  for (const r of reports) for (const p of r.problems) process.stderr.write(`bench-pyrefcon: ${r.report} (${r.project} ${r.file}): ${p}\n`);

  // One CLI run over every file, with every rule on (rules off by default too).
  const ruleIds = RULES.map((r) => r.id).filter((id) => id !== 'unused-ignore');
  const findings = scanAll(args.cli, ruleIds);
  // A false positive is matched as the nearest category of its bug type (leak: error-path, UaR: use-after-release),
  // to show which of PyRefcon's false alarms cpyref repeats.
  const matches = new Map(reports.map((r) => [r, match(r.result === 'TP' ? r : { ...r, category: r.bugType === 'UaR' ? 'use-after-release' : 'error-path' }, findings, args.window)]));

  // Per report, committed (no source text) and detailed (gitignored).
  const confirmed = reports.filter((r) => r.result === 'TP');
  const columns = ['report', 'project', 'file', 'function', 'line', 'csv_line', 'bug_type', 'result', 'pyrefcon_category', 'category', 'counted', 'found', 'rule', 'finding_line'];
  const tsvRow = (r: Report) => {
    const m = matches.get(r)!;
    return [r.report, r.project, r.file, r.function, r.bugLine, r.line, r.bugType, r.result, r.label, r.category ?? '', r.result !== 'TP' ? 'no (false positive)' : r.category && CATEGORIES[r.category].disputed ? 'apart (disputed)' : 'yes', m.found ? 'yes' : 'no', m.finding?.rule ?? '', m.finding?.line ?? ''].map(cell);
  };
  const order = (a: Report, b: Report) => a.project.localeCompare(b.project) || a.file.localeCompare(b.file) || a.bugLine - b.bugLine || a.report.localeCompare(b.report);
  const sorted = [...reports].sort(order);
  fs.writeFileSync(path.join(BENCH, 'reports.tsv'), [columns, ...sorted.map(tsvRow)].map((r) => r.join('\t')).join('\n') + '\n');
  const detailColumns = [...columns, 'source', 'anchors', 'subjects', 'code', 'message', 'other_findings_within_30_lines'];
  fs.writeFileSync(
    path.join(WORK, 'reports-detail.tsv'),
    [
      detailColumns,
      ...sorted.map((r) => {
        const m = matches.get(r)!;
        return [...tsvRow(r), r.source, r.anchors.join(','), r.subjects.join(','), r.codeLine.trim().slice(0, 200), m.finding?.message ?? '', m.nearby.map((f) => `${f.rule}@${f.line}: ${f.message}`).join(' | ')].map(cell);
      }),
    ]
      .map((r) => r.join('\t'))
      .join('\n') + '\n',
  );

  // Recall per category, raw and with the idiom counted once.
  const isIdiom = (r: Report) => r.project === IDIOM_PROJECT && r.category === IDIOM_CATEGORY;
  const idiomReports = confirmed.filter(isIdiom);
  const idiomFound = idiomReports.filter((r) => matches.get(r)!.found).length;
  const tallies = (collapse: boolean): Map<Category, Tally> => {
    const out = new Map<Category, Tally>(CATEGORY_ORDER.map((c) => [c, { confirmed: 0, found: 0 }]));
    for (const r of confirmed) {
      if (!r.category || (collapse && isIdiom(r))) continue;
      const t = out.get(r.category)!;
      t.confirmed++;
      if (matches.get(r)!.found) t.found++;
    }
    // The idiom, once: found when every copy is.
    if (collapse && idiomReports.length) {
      const t = out.get(IDIOM_CATEGORY)!;
      t.confirmed++;
      if (idiomFound === idiomReports.length) t.found++;
    }
    return out;
  };
  const raw = tallies(false);
  const once = tallies(true);
  const sum = (t: Map<Category, Tally>, disputed: boolean | undefined): Tally => {
    const out = { confirmed: 0, found: 0 };
    for (const [c, x] of t) {
      if (disputed !== undefined && CATEGORIES[c].disputed !== disputed) continue;
      out.confirmed += x.confirmed;
      out.found += x.found;
    }
    return out;
  };
  const tallyRow = (name: string, labels: string, rules: string, a: Tally, b: Tally) => [name, labels, rules, String(a.confirmed), String(a.found), percent(a.found, a.confirmed), String(b.confirmed), String(b.found), percent(b.found, b.confirmed)];
  const active = new Set(ruleIds);
  const rulesOf = (c: Category) => CATEGORIES[c].rules.map((id) => (active.has(id) ? id : `(${id})`)).join(', ');
  const labelCounts = (c: Category) => CATEGORIES[c].labels.map((l) => `${l} (${confirmed.filter((r) => r.label === l).length})`).join(' + ');
  process.stdout.write(
    `\ncpyref recall on PyRefcon's confirmed reports (${REPO} ${COMMIT.slice(0, 7)}; a finding of the category's rules within ${args.window} lines of the report's line or path)\n` +
      `Rules in (parentheses) are not in this build. "pyaudio=1": pyaudio's ${idiomReports.length} '${CATEGORIES[IDIOM_CATEGORY].labels[0]}' reports (one idiom) count as one, found when all are (${idiomFound}/${idiomReports.length} are).\n\n` +
      table(
        ['category', 'PyRefcon category (TP reports)', 'cpyref rules', 'confirmed', 'found', 'recall', 'pyaudio=1', 'found', 'recall'],
        [
          ...CATEGORY_ORDER.filter((c) => !CATEGORIES[c].disputed).map((c) => tallyRow(c, labelCounts(c), rulesOf(c), raw.get(c)!, once.get(c)!)),
          tallyRow('total', '', '', sum(raw, false), sum(once, false)),
          ...CATEGORY_ORDER.filter((c) => CATEGORIES[c].disputed).map((c) => tallyRow(c, labelCounts(c), rulesOf(c), raw.get(c)!, once.get(c)!)),
          tallyRow('total with disputed', '', '', sum(raw, undefined), sum(once, undefined)),
        ],
        3,
      ) +
      '\n',
  );

  // Per project.
  const projects = [...new Set(confirmed.map((r) => r.project))].sort((a, b) => a.localeCompare(b));
  process.stdout.write(
    '\nPer project (confirmed, disputed counted apart)\n' +
      table(
        ['project', 'confirmed', 'found', 'recall', 'disputed', 'found'],
        projects.map((p) => {
          const mine = confirmed.filter((r) => r.project === p && r.category);
          const counted = mine.filter((r) => !CATEGORIES[r.category!].disputed);
          const disputed = mine.filter((r) => CATEGORIES[r.category!].disputed);
          const f = (xs: Report[]) => xs.filter((r) => matches.get(r)!.found).length;
          return [p, String(counted.length), String(f(counted)), percent(f(counted), counted.length), String(disputed.length), String(f(disputed))];
        }),
      ) +
      '\n',
  );

  // PyRefcon's own figures, from its CSV.
  const fp = reports.filter((r) => r.result === 'FP');
  const fpFlagged = fp.filter((r) => matches.get(r)!.found);
  const statuses = new Map<string, number>();
  for (const r of confirmed) statuses.set(r.submit, (statuses.get(r.submit) ?? 0) + 1);
  process.stdout.write(
    `\nPyRefcon's own figures (its CSV): ${reports.length} reports, ${confirmed.length} true (${percent(confirmed.length, reports.length)}), ${fp.length} false; ` +
      `${confirmed.filter((r) => r.bugType === 'RL').length} reference leaks, ${confirmed.filter((r) => r.bugType === 'UaR').length} uses after release among the true ones\n` +
      `True reports by the status of their submission: ${[...statuses].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s} ${n}`).join(', ')}\n` +
      table(
        ['project', 'reports', 'TP', 'FP', 'precision', 'RL', 'UaR', 'fixed+confirmed'],
        [...new Set(reports.map((r) => r.project))].sort((a, b) => a.localeCompare(b)).map((p) => {
          const mine = reports.filter((r) => r.project === p);
          const tp = mine.filter((r) => r.result === 'TP');
          return [p, String(mine.length), String(tp.length), String(mine.length - tp.length), percent(tp.length, mine.length), String(tp.filter((r) => r.bugType === 'RL').length), String(tp.filter((r) => r.bugType === 'UaR').length), String(tp.filter((r) => r.submit === 'fixed' || r.submit === 'confirmed').length)];
        }),
      ) +
      '\n' +
      `cpyref also flags ${fpFlagged.length} of PyRefcon's ${fp.length} false positives${fpFlagged.length ? ` (${fpFlagged.map((r) => r.report).join(', ')})` : ''}.\n`,
  );
  const problems = reports.filter((r) => r.problems.length).length;
  process.stdout.write(`\nWrote bench/pyrefcon/reports.tsv and bench/pyrefcon/work/reports-detail.tsv; ${written.size} source files, ${findings.length} findings; ${problems} report(s) with a note above.\n`);

  const numbers = (t: Tally) => ({ ...t, recall: t.confirmed ? t.found / t.confirmed : null });
  const json = {
    artifact: `${REPO}@${COMMIT}`,
    window: args.window,
    rules: ruleIds,
    reports: reports.length,
    confirmed: confirmed.length,
    total: numbers(sum(raw, false)),
    totalWithDisputed: numbers(sum(raw, undefined)),
    categories: Object.fromEntries(CATEGORY_ORDER.map((c) => [c, numbers(raw.get(c)!)])),
    pyaudioAsOne: {
      idiomReports: idiomReports.length,
      idiomFound,
      total: numbers(sum(once, false)),
      totalWithDisputed: numbers(sum(once, undefined)),
      categories: Object.fromEntries(CATEGORY_ORDER.map((c) => [c, numbers(once.get(c)!)])),
    },
    pyrefcon: { reports: reports.length, truePositives: confirmed.length, falsePositives: fp.length, falsePositivesFlaggedByCpyref: fpFlagged.length },
  };
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(JSON.stringify(json) + '\n');
  return 0;
}

try {
  process.exitCode = run();
} catch (e) {
  process.stderr.write(`bench-pyrefcon: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
