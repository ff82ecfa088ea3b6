/**
 * `npm run bench:real-world -- [--record] [--json FILE] [--only NAME,NAME] [--set tune|holdout|fresh] [--cli OTHER/bin/cpyref.js --out FILE]`
 *
 * Scans every project of bench/real-world/projects.tsv that fetch.sh has materialised
 * under bench/real-world/src/NAME with the built CLI, writes bench/real-world/findings.tsv
 * (errors and warnings, with the verdicts of the hand-maintained verdicts.tsv) and prints,
 * per set and rule (every rule, those off by default too), counts, precision and findings per KLOC. `--record` appends the
 * findings verdicts.tsv does not know yet, with an empty verdict, for a triager to fill in.
 * Exits 1 only when the CLI crashed on a project (exit code 2, a signal or unparsable JSON).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RULES } from '../src/core/rules/index';

const ROOT = path.resolve(__dirname, '../..');
const BENCH = path.join(ROOT, 'bench/real-world');
const CLI = path.join(ROOT, 'bin/cpyref.js');
const PYTHON_VERSIONS = '>=3.8';
const SETS = ['tune', 'holdout', 'fresh'] as const;
const C_EXTENSIONS = new Set(['.c', '.h', '.cc', '.cpp', '.cxx', '.hpp', '.hh', '.inc']);
const SKIPPED_DIRS = new Set(['build', '.git', 'node_modules', '.tox', '.venv']);
const SKIPPED_FILES = new Set(['pythoncapi_compat.h']);
const ROW_COLUMNS = ['project', 'set', 'path', 'line', 'rule', 'severity', 'function', 'code', 'verdict', 'reason'] as const;

type SetName = (typeof SETS)[number];

interface Project {
  name: string;
  repo: string;
  commit: string;
  paths: string[];
  set: SetName;
}

interface Args {
  record: boolean;
  /** Another build's `bin/cpyref.js`, to measure it (a before/after comparison). */
  cli?: string;
  /** Where findings.tsv goes (default bench/real-world/findings.tsv). */
  out?: string;
  json?: string;
  only?: Set<string>;
  set?: SetName;
}

/** One line of findings.tsv or verdicts.tsv. */
type Row = Record<(typeof ROW_COLUMNS)[number], string>;

/** The part of the CLI's JSON finding this script reads. */
interface CliFinding {
  path: string;
  line: number;
  column: number;
  rule: string;
  severity: string;
  function: string | null;
  fixes: Array<{ safe: boolean }>;
}

interface Scanned {
  project: Project;
  kloc: number;
  files: number;
  seconds: number;
  /** Files the CLI listed as skipped (unreadable, binary, oversized). */
  skipped: number;
  /** Errors and warnings, as rows, with whether a safe fix is offered. */
  rows: Array<{ row: Row; safeFix: boolean }>;
  /** Information-level findings per rule. */
  information: Map<string, number>;
}

/** Counts of one rule (or of all rules) in one set. */
interface Tally {
  found: number;
  true: number;
  false: number;
  untriaged: number;
  information: number;
}

function usage(message: string): never {
  process.stderr.write(`real-world: ${message}\nusage: npm run bench:real-world -- [--record] [--json FILE] [--only NAME,NAME] [--set tune|holdout|fresh] [--cli OTHER/bin/cpyref.js --out FILE]\n`);
  process.exit(2);
}

function parseArgv(argv: string[]): Args {
  const out: Args = { record: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--record') out.record = true;
    else if (a === '--json') out.json = path.resolve(value());
    else if (a === '--cli') out.cli = path.resolve(value());
    else if (a === '--out') out.out = path.resolve(value());
    else if (a === '--only') out.only = new Set(value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (a === '--set') {
      const s = value();
      if (!(SETS as readonly string[]).includes(s)) usage(`--set must be one of ${SETS.join(', ')}`);
      out.set = s as SetName;
    } else usage(`unknown argument '${a}'`);
  }
  return out;
}

/** Reads a TSV file with a header line into records keyed by the header's column names. */
function readTsv(file: string): Array<Record<string, string>> {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift()?.split('\t') ?? [];
  return lines.map((l) => {
    const cells = l.split('\t');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

function readProjects(): Project[] {
  return readTsv(path.join(BENCH, 'projects.tsv')).map((r) => {
    if (!(SETS as readonly string[]).includes(r.set)) throw new Error(`projects.tsv: ${r.name}: set must be one of ${SETS.join(', ')}`);
    return { name: r.name, repo: r.repo, commit: r.commit, paths: r.paths.split(',').map((p) => p.trim()).filter(Boolean), set: r.set as SetName };
  });
}

/** Files and KLOC (thousands of non-blank lines) of the C/C++ files under the given paths. */
function countKloc(dir: string, paths: string[]): { files: number; kloc: number } {
  const seen = new Set<string>();
  let lines = 0;
  const visit = (abs: string) => {
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (SKIPPED_DIRS.has(path.basename(abs))) return;
      for (const e of fs.readdirSync(abs)) visit(path.join(abs, e));
    } else if (st.isFile() && C_EXTENSIONS.has(path.extname(abs).toLowerCase()) && !SKIPPED_FILES.has(path.basename(abs)) && !seen.has(abs)) {
      seen.add(abs);
      for (const l of fs.readFileSync(abs, 'latin1').split('\n')) if (l.trim() !== '') lines++;
    }
  };
  for (const p of paths) visit(path.join(dir, p));
  return { files: seen.size, kloc: lines / 1000 };
}

/** The match key of a finding against verdicts.tsv. */
function verdictKey(r: Pick<Row, 'project' | 'path' | 'rule' | 'function' | 'code'>): string {
  return [r.project, r.path, r.rule, r.function, r.code].join('\t');
}

function cell(s: string): string {
  return s.replace(/[\t\r\n]+/g, ' ');
}

function sourceLine(cache: Map<string, string[]>, file: string, line: number): string {
  if (!cache.has(file)) cache.set(file, fs.existsSync(file) ? fs.readFileSync(file, 'latin1').split(/\r?\n/) : []);
  return cell((cache.get(file)![line - 1] ?? '').replace(/\t/g, ' ').trim()).slice(0, 160);
}

/** Runs the CLI on one project; returns undefined (after printing why) when it crashed. */
function scan(project: Project, dir: string, verdicts: Map<string, Row>, cli = CLI): Scanned | undefined {
  const t0 = performance.now();
  // Every rule, those off by default too: each one's precision is measured here (an older CLI given with --cli keeps its own set).
  const select = cli === CLI ? ['--select', RULES.filter((r) => r.id !== 'unused-ignore').map((r) => r.id).join(',')] : [];
  const args = [cli, '--format', 'json', '--quiet', '--jobs', '2', '--python-versions', PYTHON_VERSIONS, ...select, ...project.paths];
  const res = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = (performance.now() - t0) / 1000;
  let report: { findings: CliFinding[]; skipped: unknown[] } | undefined;
  if (res.status === 0 || res.status === 1) {
    try {
      report = JSON.parse(res.stdout) as { findings: CliFinding[]; skipped: unknown[] };
    } catch {
      report = undefined;
    }
  }
  if (!report) {
    const how = res.error ? res.error.message : res.signal ? `signal ${res.signal}` : `exit code ${res.status}`;
    process.stderr.write(`real-world: the CLI crashed on ${project.name} (${how})\n${(res.stderr ?? '').split('\n').slice(-20).join('\n')}\n`);
    return undefined;
  }
  const cache = new Map<string, string[]>();
  const rows: Scanned['rows'] = [];
  const information = new Map<string, number>();
  for (const f of report.findings) {
    if (f.severity === 'information') information.set(f.rule, (information.get(f.rule) ?? 0) + 1);
    if (f.severity !== 'error' && f.severity !== 'warning') continue;
    const row: Row = {
      project: project.name,
      set: project.set,
      path: f.path.split(path.sep).join('/'),
      line: String(f.line),
      rule: f.rule,
      severity: f.severity,
      function: cell(f.function ?? ''),
      code: sourceLine(cache, path.join(dir, f.path), f.line),
      verdict: '',
      reason: '',
    };
    const v = verdicts.get(verdictKey(row));
    if (v) Object.assign(row, { verdict: v.verdict, reason: v.reason });
    rows.push({ row, safeFix: f.fixes.some((x) => x.safe) });
  }
  return { project, ...countKloc(dir, project.paths), seconds, skipped: report.skipped.length, rows, information };
}

function emptyTally(): Tally {
  return { found: 0, true: 0, false: 0, untriaged: 0, information: 0 };
}

/** Per set (tune, holdout, fresh, all), per rule and in total. */
function tally(scanned: Scanned[]): Record<SetName | 'all', { kloc: number; rules: Map<string, Tally>; total: Tally }> {
  const out = Object.fromEntries([...SETS, 'all'].map((s) => [s, { kloc: 0, rules: new Map<string, Tally>(), total: emptyTally() }])) as ReturnType<typeof tally>;
  for (const s of scanned) {
    for (const bucket of [out[s.project.set], out.all]) {
      bucket.kloc += s.kloc;
      const of = (rule: string) => {
        if (!bucket.rules.has(rule)) bucket.rules.set(rule, emptyTally());
        return bucket.rules.get(rule)!;
      };
      for (const { row } of s.rows) {
        const kind = row.verdict === 'true' ? 'true' : row.verdict === 'false' ? 'false' : 'untriaged';
        for (const t of [of(row.rule), bucket.total]) {
          t.found++;
          t[kind]++;
        }
      }
      for (const [rule, n] of s.information) {
        of(rule).information += n;
        bucket.total.information += n;
      }
    }
  }
  return out;
}

function precision(t: Tally): string {
  const judged = t.true + t.false;
  return judged ? `${(t.true / judged).toFixed(2)} (${t.true}/${judged})` : `- (0/0)`;
}

function perKloc(t: Tally, kloc: number): string {
  return kloc ? (t.found / kloc).toFixed(3) : '-';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function writeTsv(file: string, rows: Row[]): void {
  fs.writeFileSync(file, [ROW_COLUMNS.join('\t'), ...rows.map((r) => ROW_COLUMNS.map((c) => r[c]).join('\t'))].join('\n') + '\n');
}

function compareRows(a: Row, b: Row): number {
  return a.project.localeCompare(b.project) || a.path.localeCompare(b.path) || Number(a.line) - Number(b.line) || a.rule.localeCompare(b.rule);
}

function run(): number {
  const args = parseArgv(process.argv.slice(2));
  const projects = readProjects();
  for (const n of args.only ?? []) if (!projects.some((p) => p.name === n)) usage(`--only: no project '${n}' in projects.tsv`);
  const verdictsFile = path.join(BENCH, 'verdicts.tsv');
  const verdictRows = fs.existsSync(verdictsFile) ? (readTsv(verdictsFile) as Row[]) : [];
  const verdicts = new Map(verdictRows.map((v) => [verdictKey(v), v]));
  for (const v of verdictRows) {
    if (!['', 'true', 'false'].includes(v.verdict)) process.stderr.write(`real-world: verdicts.tsv: '${v.verdict}' is neither true nor false (${v.project} ${v.path}:${v.line}); counted as untriaged\n`);
  }

  const scanned: Scanned[] = [];
  const crashed: string[] = [];
  for (const p of projects) {
    if (args.only && !args.only.has(p.name)) continue;
    if (args.set && p.set !== args.set) continue;
    const dir = path.join(BENCH, 'src', p.name);
    if (!fs.existsSync(dir)) {
      process.stderr.write(`real-world: ${p.name}: not fetched (run bench/real-world/fetch.sh ${p.name}); skipped\n`);
      continue;
    }
    const s = scan(p, dir, verdicts, args.cli);
    if (s) scanned.push(s);
    else crashed.push(p.name);
  }

  // findings.tsv: this run's rows, plus the earlier rows of projects not scanned this time.
  const findingsFile = args.out ?? path.join(BENCH, 'findings.tsv');
  const fresh = new Set(scanned.map((s) => s.project.name));
  const kept = fs.existsSync(findingsFile) ? (readTsv(findingsFile) as Row[]).filter((r) => !fresh.has(r.project)) : [];
  for (const r of kept) {
    const v = verdicts.get(verdictKey(r));
    r.verdict = v?.verdict ?? '';
    r.reason = v?.reason ?? '';
  }
  const rows = scanned.flatMap((s) => s.rows.map((x) => x.row));
  writeTsv(findingsFile, [...kept, ...rows].sort(compareRows));

  if (args.record) {
    const added = new Map<string, Row>();
    for (const r of [...rows].sort(compareRows)) {
      const key = verdictKey(r);
      if (!verdicts.has(key) && !added.has(key)) added.set(key, r);
    }
    const old = fs.existsSync(verdictsFile) ? fs.readFileSync(verdictsFile, 'utf8') : undefined;
    const header = !old ? ROW_COLUMNS.join('\t') + '\n' : old.endsWith('\n') ? '' : '\n';
    const text = [...added.values()].map((r) => ROW_COLUMNS.map((c) => (c === 'verdict' || c === 'reason' ? '' : r[c])).join('\t') + '\n').join('');
    if (header || text) fs.appendFileSync(verdictsFile, header + text);
    process.stdout.write(`Recorded ${added.size} new finding(s) in bench/real-world/verdicts.tsv.\n`);
  }

  const found = new Set(rows.map(verdictKey));
  const stale = verdictRows.filter((v) => fresh.has(v.project) && !found.has(verdictKey(v)));
  if (stale.length) process.stdout.write(`${stale.length} verdict(s) of the scanned projects match no finding any more.\n`);

  process.stdout.write('\nProjects\n' +
    table(
      ['project', 'set', 'files', 'skipped', 'KLOC', 'err+warn', 'info', 'seconds'],
      scanned.map((s) => [s.project.name, s.project.set, String(s.files), String(s.skipped), s.kloc.toFixed(1), String(s.rows.length), String([...s.information.values()].reduce((a, b) => a + b, 0)), s.seconds.toFixed(1)]),
    ) + '\n');
  const totals = tally(scanned);
  for (const [set, t] of Object.entries(totals)) {
    const ruleRows = [...t.rules.entries()].sort(([a], [b]) => a.localeCompare(b));
    process.stdout.write(`\nSet ${set}: ${t.kloc.toFixed(1)} KLOC\n` +
      table(
        ['rule', 'err+warn', 'true', 'false', 'untriaged', 'precision', 'per KLOC', 'info'],
        [...ruleRows, ['total', t.total] as const].map(([rule, x]) => [rule, String(x.found), String(x.true), String(x.false), String(x.untriaged), precision(x), perKloc(x, t.kloc), String(x.information)]),
      ) + '\n');
  }

  const falseSafe = scanned.flatMap((s) => s.rows.filter((x) => x.safeFix && x.row.verdict === 'false').map((x) => x.row));
  for (const r of falseSafe) process.stdout.write(`false finding with a safe fix: ${r.project} ${r.path}:${r.line} [${r.rule}] ${r.code}\n`);
  const seconds = scanned.reduce((a, s) => a + s.seconds, 0);
  process.stdout.write(`\nScanned ${scanned.length} project(s), ${totals.all.kloc.toFixed(1)} KLOC, in ${seconds.toFixed(1)} s.\n`);

  if (args.json) {
    const numbers = (x: Tally, kloc: number) => ({ ...x, precision: x.true + x.false ? x.true / (x.true + x.false) : null, perKloc: kloc ? x.found / kloc : null });
    const json = {
      pythonVersions: PYTHON_VERSIONS,
      projects: scanned.map((s) => ({ name: s.project.name, set: s.project.set, files: s.files, skipped: s.skipped, kloc: s.kloc, findings: s.rows.length, information: Object.fromEntries(s.information), seconds: s.seconds })),
      sets: Object.fromEntries(
        Object.entries(totals).map(([set, t]) => [set, { kloc: t.kloc, total: numbers(t.total, t.kloc), rules: Object.fromEntries([...t.rules].map(([rule, x]) => [rule, numbers(x, t.kloc)])) }]),
      ),
      falseWithSafeFix: falseSafe.map((r) => ({ project: r.project, path: r.path, line: Number(r.line), rule: r.rule })),
      crashed,
    };
    fs.writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n');
  }

  if (crashed.length) {
    process.stderr.write(`real-world: the CLI crashed on: ${crashed.join(', ')}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = run();
