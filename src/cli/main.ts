import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { applyPyproject, readPyproject } from '../core/config';
import { defaultOptions, minimumVersion, type Options } from '../core/options';
import { CParser } from '../core/parser';
import { RULES, RULES_BY_ID } from '../core/rules/index';
import { encodeSource, LineIndex } from '../core/text';
import type { Finding, Severity } from '../core/types';
import { entryOf, filterByBaseline, normaliseLine, parseBaseline, type Baseline } from './baseline';
import { unifiedDiff } from './diff';
import { collectFiles, FileFilter } from '../node/files';
import { writeFixes } from '../node/fix';
import { fixProject, fixScannedFile, type FixProject } from '../node/fixing';
import { formatGithub } from './format/github';
import { formatJson } from './format/json';
import { formatSarif } from './format/sarif';
import { formatSummary, formatText } from './format/text';
import { IncludeCache, projectAsksLimitedApi, type FileJob, type ScanSettings } from '../node/process-file';
import { atLeast, buildReport, locate, TextCache, type LocatedFinding } from './report';
import { listStartingWorkers, scanFiles, type EarlyWorkers, type ScannedFile } from '../node/scan';

/** No findings at or above the failing level. */
export const EXIT_OK = 0;
/** Findings at or above the failing level (or, with --diff, fixes to show). */
export const EXIT_FINDINGS = 1;
/** Usage or input error. */
export const EXIT_ERROR = 2;

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIO {
  cwd: string;
  stdout(s: string | Uint8Array): void;
  stderr(s: string): void;
  /** Standard input: bytes (so a non-UTF-8 source survives), or text. */
  readStdin(): Promise<string | Uint8Array>;
  /** Standard error is a terminal (progress bar). */
  stderrIsTTY: boolean;
}

/** The CLI's version. */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const FORMATS = ['text', 'json', 'sarif', 'github'] as const;
const FAIL_LEVELS: Severity[] = ['error', 'warning', 'information'];

/** `--help`. */
export function helpText(): string {
  return `Usage: cpyref [options] [paths...]

Reviews the C sources of CPython extension modules for reference-counting
mistakes. Paths are files or folders (default: the current folder).

Options:
  --format FORMAT          text (default), json, sarif or github
  --fix                    apply the safe fixes to the files (atomically)
  --diff                   print the safe fixes as a unified diff; write nothing
  --select RULES           only these rule ids (comma-separated)
  --ignore RULES           skip these rule ids (comma-separated)
  --all                    also show hint-level findings (as information)
  --python-versions SPEC   targeted CPython versions, e.g. ">=3.8"
  --fail-level LEVEL       lowest severity that fails: error (default), warning, information
  --baseline FILE          report only findings not recorded in FILE
  --write-baseline FILE    record the current findings in FILE and exit 0
  --report-unused-ignores  report suppression comments that suppress nothing
  --stdin-filename NAME    read the source from standard input, as file NAME
  --config FILE            read [tool.cpyref] from FILE instead of the nearest pyproject.toml
  --max-file-size BYTES    skip larger files (default 8 MB)
  --jobs N                 worker threads (default: the number of cores)
  --quiet                  print findings only: no summary, no progress
  --version                print the version
  --help                   print this help

Rules:
${RULES.map((r) => `  ${r.id.padEnd(27)}${r.summary}`).join('\n')}

Exit codes:
  ${EXIT_OK}  no findings at or above the failing level
  ${EXIT_FINDINGS}  findings at or above the failing level (with --diff: fixes to show)
  ${EXIT_ERROR}  usage or input error
`;
}

function findUp(start: string, name: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function ruleList(v: string | undefined, flag: string): string[] {
  if (v === undefined) return [];
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) if (!RULES_BY_ID.has(id)) throw new UsageError(`${flag}: unknown rule id '${id}' (known: ${[...RULES_BY_ID.keys()].join(', ')})`);
  return ids;
}

class UsageError extends Error {}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`cpyref: ${e.message}\nRun 'cpyref --help' for usage.\n`);
      return EXIT_ERROR;
    }
    io.stderr(`cpyref: ${(e as Error).message}\n`);
    return EXIT_ERROR;
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'text' },
        fix: { type: 'boolean', default: false },
        diff: { type: 'boolean', default: false },
        select: { type: 'string' },
        ignore: { type: 'string' },
        all: { type: 'boolean', default: false },
        'python-versions': { type: 'string' },
        'fail-level': { type: 'string', default: 'error' },
        baseline: { type: 'string' },
        'write-baseline': { type: 'string' },
        'report-unused-ignores': { type: 'boolean', default: false },
        'stdin-filename': { type: 'string' },
        config: { type: 'string' },
        'max-file-size': { type: 'string' },
        jobs: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const a = parsed.values;
  if (a.help) {
    io.stdout(helpText());
    return EXIT_OK;
  }
  if (a.version) {
    io.stdout(`cpyref ${VERSION}\n`);
    return EXIT_OK;
  }
  const format = a.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  const failLevel = a['fail-level'] as Severity;
  if (!FAIL_LEVELS.includes(failLevel)) throw new UsageError(`--fail-level must be one of ${FAIL_LEVELS.join(', ')}`);
  if (a.fix && a.diff) throw new UsageError('--fix and --diff cannot be combined');
  const jobs = a.jobs === undefined ? Math.max(1, os.availableParallelism()) : Number(a.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError('--jobs must be a positive integer');
  const stdinName = a['stdin-filename'];
  if (stdinName !== undefined && parsed.positionals.length) throw new UsageError('--stdin-filename reads standard input; give no paths');

  // Configuration: the nearest pyproject.toml above the first path (or the stdin file name).
  const first = path.resolve(io.cwd, stdinName ?? parsed.positionals[0] ?? '.');
  const startDir = fs.existsSync(first) && fs.statSync(first).isDirectory() ? first : path.dirname(first);
  const configPath = a.config ? path.resolve(io.cwd, a.config) : findUp(startDir, 'pyproject.toml');
  let options: Options = defaultOptions();
  let projectLimitedApi = false;
  let root = io.cwd;
  if (configPath) {
    let text: string;
    try {
      text = fs.readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${configPath}: ${(e as NodeJS.ErrnoException).code}`);
    }
    const cfg = readPyproject(text);
    for (const p of cfg.problems) {
      const where = p.line !== undefined ? `:${p.line + 1}:${(p.column ?? 0) + 1}` : '';
      io.stderr(`cpyref: ${path.relative(io.cwd, configPath) || configPath}${where}: ${p.key ? `${p.key}: ` : ''}${p.message}\n`);
    }
    options = applyPyproject(options, cfg);
    projectLimitedApi = cfg.limitedApi;
    root = path.dirname(configPath);
  }
  projectLimitedApi ||= projectAsksLimitedApi(root);
  if (a['python-versions'] !== undefined) {
    if (!minimumVersion(a['python-versions'])) throw new UsageError(`--python-versions: cannot read '${a['python-versions']}' (expected e.g. ">=3.8")`);
    options.pythonVersions = a['python-versions'];
  }
  if (a['max-file-size'] !== undefined) {
    const n = Number(a['max-file-size']);
    if (!(n > 0)) throw new UsageError('--max-file-size must be a positive number of bytes');
    options.maxFileSize = n;
  }
  const selected = ruleList(a.select, '--select');
  const ignored = new Set(ruleList(a.ignore, '--ignore'));
  // Without --select, the rules that are off by default stay off unless the configuration names them.
  const rules = (selected.length ? selected : RULES.filter((r) => !r.offByDefault || options.rules[r.id] !== undefined).map((r) => r.id)).filter((id) => !ignored.has(id));
  let baseline: Baseline | undefined;
  if (a.baseline) {
    try {
      baseline = parseBaseline(fs.readFileSync(path.resolve(io.cwd, a.baseline), 'utf8'));
    } catch (e) {
      throw new UsageError(`--baseline ${a.baseline}: ${(e as Error).message}`);
    }
  }

  const settings: ScanSettings = {
    options,
    rules,
    reportUnusedIgnores: a['report-unused-ignores'] ?? false,
    includeDirs: options.includePaths.map((p) => path.resolve(root, p)),
    projectLimitedApi,
  };
  let jobsList: FileJob[];
  let walkSkipped: Array<{ path: string; reason: string }> = [];
  let stdinBytes: Uint8Array | undefined;
  let early: EarlyWorkers | undefined;
  if (stdinName !== undefined) {
    const raw = await io.readStdin();
    stdinBytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    jobsList = [{ abs: path.resolve(io.cwd, stdinName), display: stdinName }];
  } else {
    // As the files listed so far call for workers, they start and load the analysis while the rest are listed.
    const filter = new FileFilter(options, root);
    const { listed: collected, workers } = listStartingWorkers(settings, jobs, (found) => {
      const c = collectFiles(parsed.positionals.length ? parsed.positionals : ['.'], io.cwd, filter, found);
      if (c.missing.length) throw new UsageError(`no such file or folder: ${c.missing.join(', ')}`);
      return c;
    });
    jobsList = collected.jobs;
    walkSkipped = collected.skipped;
    early = workers;
  }

  const progress = io.stderrIsTTY && !a.quiet && jobsList.length > 20;
  const threads = Math.max(1, Math.min(jobs, Math.ceil(jobsList.length / 8)));
  const parser = threads > 1 && stdinBytes === undefined ? undefined : await CParser.load();
  const result = await scanFiles(parser, jobsList, settings, {
    jobs: threads,
    stdinBytes,
    workers: early,
    onProgress: progress
      ? (done, total) => {
          const width = 30;
          const filled = Math.round((done / total) * width);
          io.stderr(`\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} files`);
          if (done === total) io.stderr('\r' + ' '.repeat(width + 30) + '\r');
        }
      : undefined,
  });
  result.skipped.unshift(...walkSkipped);
  result.stats.skippedFiles += walkSkipped.length;

  // Locate, apply the CLI's hint policy, then the baseline.
  const cache = new TextCache((abs) => path.relative(io.cwd, abs) || abs);
  const fileOf = new Map<LocatedFinding, ScannedFile>();
  const coreOf = new Map<LocatedFinding, Finding>();
  let located: LocatedFinding[] = [];
  for (const file of result.files) {
    for (const f of file.findings) {
      if (f.severity === 'hint' && !a.all) continue;
      const l = locate(file, f, cache);
      if (l.severity === 'hint') l.severity = 'information';
      located.push(l);
      fileOf.set(l, file);
      coreOf.set(l, f);
    }
  }
  const lineText = (l: LocatedFinding) => cache.lines(fileOf.get(l)!.abs, fileOf.get(l)!.text)?.lineText(l.line - 1) ?? '';
  if (a['write-baseline']) {
    const data: Baseline = { version: 1, findings: located.map((l) => entryOf(l, lineText(l))) };
    fs.writeFileSync(path.resolve(io.cwd, a['write-baseline']), JSON.stringify(data, null, 2) + '\n');
    if (!a.quiet) io.stderr(`cpyref: recorded ${located.length} findings in ${a['write-baseline']}\n`);
    return EXIT_OK;
  }
  if (baseline) located = filterByBaseline(located, (l) => entryOf(l, lineText(l)), baseline);
  // Fixes apply to the findings that are shown (after --select, the hint policy and the baseline),
  // then to what a re-analysis of the fixed text still shows, keeping only fixes that add no syntax error.
  const fixing = async (file: ScannedFile) => {
    const shown = located.filter((l) => fileOf.get(l) === file).map((l) => coreOf.get(l)!);
    if (!shown.some((f) => f.fixes.some((x) => x.safe))) return undefined;
    fixParser ??= parser ?? (await CParser.load());
    let lines: LineIndex | undefined;
    const keep = (f: Finding, text: string) => {
      if (f.severity === 'hint' && !a.all) return false;
      if (!baseline) return true;
      if (lines?.text !== text) lines = new LineIndex(text);
      const line = lines.lineText(lines.position(f.start).line);
      return filterByBaseline([f], () => ({ rule: f.rule, path: file.display.split('\\').join('/'), function: f.function ?? null, text: normaliseLine(line) }), baseline).length > 0;
    };
    project ??= fixProject(result);
    const fixed = fixScannedFile(fixParser, file, shown, project, settings, fixIncludes, keep);
    return fixed && fixed.text !== file.text ? { fixed, shown } : undefined;
  };
  let fixParser: CParser | undefined;
  let project: FixProject | undefined;
  const fixIncludes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, result.files.map((f) => f.abs));
  if (stdinBytes !== undefined && a.fix) {
    // The fixed source goes to standard output in the input's own encoding; the exit code says
    // whether shown findings are left that no fix removed.
    const file = result.files[0];
    const r = file ? await fixing(file) : undefined;
    io.stdout(r && file ? encodeSource({ text: r.fixed.text, encoding: file.encoding ?? 'utf8', bom: file.bom ?? false }) : stdinBytes);
    const fixedAway = new Set(r?.fixed.rounds[0]?.fixes ?? []);
    const left = located.filter((l) => !coreOf.get(l)!.fixes.some((x) => fixedAway.has(x)));
    return left.some((l) => atLeast(l.severity, failLevel)) ? EXIT_FINDINGS : EXIT_OK;
  }
  if (a.diff) {
    let any = false;
    for (const file of result.files) {
      const r = await fixing(file);
      if (!r) continue;
      any = true;
      io.stdout(unifiedDiff(file.display.split(path.sep).join('/'), file.text!, r.fixed.text));
    }
    return any ? EXIT_FINDINGS : EXIT_OK;
  }
  let fixedCount = 0;
  if (a.fix) {
    const remaining: LocatedFinding[] = [];
    for (const file of result.files) {
      const mine = located.filter((l) => fileOf.get(l) === file);
      if (!mine.length) continue;
      const r = await fixing(file);
      if (!r) {
        remaining.push(...mine);
        continue;
      }
      const outcome = writeFixes(file, { text: r.fixed.text, applied: r.fixed.applied });
      if (outcome.refused) {
        io.stderr(`cpyref: ${file.display}: ${outcome.refused}\n`);
        remaining.push(...mine);
        continue;
      }
      fixedCount += outcome.applied;
      // The findings whose fix went in (in the first round, on the text that was scanned) are gone.
      const chosen = new Set(r.fixed.rounds[0]?.fixes ?? []);
      remaining.push(...mine.filter((l) => !coreOf.get(l)!.fixes.some((x) => chosen.has(x))));
    }
    located = remaining;
  }
  const report = buildReport(result, located, fixedCount);
  const out =
    format === 'json' ? formatJson(report) : format === 'sarif' ? formatSarif(report, { toolVersion: VERSION, cwd: io.cwd }) : format === 'github' ? formatGithub(report) : formatText(report);
  io.stdout(out);
  if (!a.quiet && (format === 'text' || format === 'github')) io.stderr(formatSummary(report));
  return located.some((l) => atLeast(l.severity, failLevel)) ? EXIT_FINDINGS : EXIT_OK;
}
