/**
 * `npm run bench:scan -- DIR [--all-rules] [--jobs N] [--rounds N] [--native DIR]`
 *
 * Scans DIR as the CLI does (in this process, with its worker threads) and, as the
 * baseline, parses every C/C++ file of DIR once on one thread with the same parser (C++
 * files with the C++ grammar).
 * Prints, last, one JSON line: {files, bytes, findings, scanMs, scanCpuMs, baselineParseMs, ratio, peakRssMb, ruleSet}; `peakRssMb` is the
 * process's peak after the first scan, before the baseline's texts and parser are loaded. `scanCpuMs` is the CPU time
 * of the whole process (every thread: the workers, and V8's own compiler and GC threads) during the fastest scan: on a
 * noisy machine it moves less than the wall time, and it shows what two cores cannot hide.
 * `--all-rules` turns on every rule, those off by default included (`ruleSet` is then "all").
 * With `--native DIR` (a folder whose node_modules has native `tree-sitter` and
 * `tree-sitter-c`), it also times the native parser on the same files, interleaved.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { main } from '../src/cli/main';
import { collectFiles, FileFilter } from '../src/node/files';
import { defaultOptions } from '../src/core/options';
import { CParser } from '../src/core/parser';
import { RULES } from '../src/core/rules/index';
import { dialectOf } from '../src/core/dialect';
import { tuneTieringForScan } from '../src/node/tiering';

// The scan runs in this process as in the CLI's, under the V8 flags the CLI's entry point sets.
tuneTieringForScan();

interface Args {
  dir: string;
  jobs?: string;
  rounds: number;
  native?: string;
  allRules: boolean;
}

function parseArgv(argv: string[]): Args {
  const out: Args = { dir: '', rounds: 2, allRules: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--jobs') out.jobs = argv[++i];
    else if (a === '--rounds') out.rounds = Number(argv[++i]);
    else if (a === '--native') out.native = argv[++i];
    else if (a === '--all-rules') out.allRules = true;
    else out.dir = a;
  }
  if (!out.dir || !(out.rounds >= 1)) throw new Error('usage: npm run bench:scan -- DIR [--all-rules] [--jobs N] [--rounds N (at least 1)] [--native DIR]');
  return out;
}

async function scanOnce(dir: string, jobs: string | undefined, allRules: boolean): Promise<{ ms: number; cpuMs: number; findings: number; files: number; parsed: number }> {
  let stdout = '';
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await main(['--format', 'json', '--quiet', '--all', ...(allRules ? ['--select', RULES.map((r) => r.id).join(',')] : []), ...(jobs ? ['--jobs', jobs] : []), dir], {
    cwd: process.cwd(),
    stdout: (s) => (stdout += typeof s === 'string' ? s : Buffer.from(s).toString('utf8')),
    stderr: () => {},
    readStdin: async () => '',
    stderrIsTTY: false,
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const report = JSON.parse(stdout) as { findings: unknown[]; summary: { files: number; parsedFiles: number } };
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, findings: report.findings.length, files: report.summary.files, parsed: report.summary.parsedFiles };
}

async function run(): Promise<void> {
  const args = parseArgv(process.argv.slice(2));
  const dir = path.resolve(args.dir);
  const { jobs } = collectFiles([dir], process.cwd(), new FileFilter(defaultOptions(), dir));

  let scanMs = Infinity;
  let scanCpuMs = 0;
  let baselineParseMs = Infinity;
  let findings = 0;
  let peakRssMb = 0;
  let parsedFiles = 0;
  // The baseline's texts and parser are loaded after the first scan, whose peak RSS is the scan's own.
  let baseline: { texts: string[]; parser: CParser; dialects: ReturnType<typeof dialectOf>[] } | undefined;
  for (let r = 0; r < args.rounds; r++) {
    const s = await scanOnce(dir, args.jobs, args.allRules);
    if (s.ms < scanMs) {
      scanMs = s.ms;
      scanCpuMs = s.cpuMs;
    }
    findings = s.findings;
    parsedFiles = s.parsed;
    if (r === 0) peakRssMb = process.resourceUsage().maxRSS / 1024;
    if (!baseline) {
      const texts = jobs.map((j) => fs.readFileSync(j.abs, 'latin1'));
      // The baseline parses each file as the scan does: C, or C++ (the extension, or a .h written in C++).
      baseline = { texts, parser: await CParser.load(), dialects: jobs.map((j, i) => dialectOf(j.abs, texts[i], [])) };
    }
    const { texts, parser, dialects } = baseline;
    const t0 = performance.now();
    for (const [i, t] of texts.entries()) parser.for(dialects[i]).parse(t).delete();
    baselineParseMs = Math.min(baselineParseMs, performance.now() - t0);
  }

  const { texts, parser } = baseline!;
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, 'latin1'), 0);
  if (args.native) {
    // Native tree-sitter, timed against web-tree-sitter file by file in one process (the machine is noisy).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Native = require(require.resolve('tree-sitter', { paths: [args.native] }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const grammar = require(require.resolve('tree-sitter-c', { paths: [args.native] }));
    const np = new Native();
    np.setLanguage(grammar);
    let webMs = 0;
    let nativeMs = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < texts.length; i++) {
        const t = texts[i];
        // Native trees are freed only when the event loop turns.
        if (i % 20 === 0) await new Promise((r) => setImmediate(r));
        const a = performance.now();
        parser.parse(t).delete();
        const b = performance.now();
        np.parse(t);
        const c = performance.now();
        webMs += b - a;
        nativeMs += c - b;
      }
      await new Promise((r) => setImmediate(r));
    }
    console.log(`native tree-sitter: parse-only speed ${(webMs / nativeMs).toFixed(2)}x that of web-tree-sitter (${(nativeMs / 2).toFixed(0)} vs ${(webMs / 2).toFixed(0)} ms per pass over ${jobs.length} files)`);
  }
  console.log(`scan parsed ${parsedFiles} of ${jobs.length} files (the rest cannot hold a finding)`);
  console.log(
    JSON.stringify({
      files: jobs.length,
      bytes,
      findings,
      scanMs: Math.round(scanMs),
      scanCpuMs: Math.round(scanCpuMs),
      baselineParseMs: Math.round(baselineParseMs),
      ratio: Number((scanMs / baselineParseMs).toFixed(3)),
      peakRssMb: Math.round(peakRssMb),
      ruleSet: args.allRules ? 'all' : 'default',
    }),
  );
}

run().catch((e: Error) => {
  console.error(e.message);
  process.exitCode = 2;
});
