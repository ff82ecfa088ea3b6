/**
 * Runs the analysis oracle (test/core/oracle.ts) on many generated functions.
 *
 *   npm run oracle -- --runs 10000 [--seed S] [--cpp] [--show 3] [--examine 20]
 *   npm run oracle -- --refs --runs 10000 [--seed S] [--show 3] [--examine 20]
 *
 * `--cpp` generates C++ functions (a `.cpp` file: range-for, try/catch/throw, lambdas,
 * C++ casts and `nullptr`, the function in a namespace or `extern "C"`) instead of C.
 * `--refs` runs the oracle of the reference analysis instead (test/core/oracle-refs.ts:
 * owned-reference-leak, release-not-owned, use-after-release, borrowed-reference-return).
 *
 * Without --seed a random seed is used (printed, so a run can be replayed). Prints the
 * agreement counts and the first disagreements (up to --examine of them are minimised,
 * and up to --show distinct minimal functions are printed with their C source, as
 * generated and minimised). Exits 1 when some function disagrees.
 */
import fc from 'fast-check';
import { checkProgram, describeMismatch, minimize, programArbOf, type CheckResult, type Program } from '../test/core/oracle';
import { checkRefsProgram, describeRefsMismatch, minimizeRefs, refsProgramArb, type RefsCheckResult, type RProgram } from '../test/core/oracle-refs';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const runs = Number(arg('runs') ?? 10000);
  const seed = arg('seed') !== undefined ? Number(arg('seed')) : (Math.random() * 2 ** 31) | 0;
  const show = Number(arg('show') ?? 3);
  const examine = Number(arg('examine') ?? 20);
  const mode = process.argv.includes('--cpp') ? 'cpp' : 'c';
  if (!Number.isInteger(runs) || runs <= 0 || !Number.isInteger(seed)) {
    console.error('usage: npm run oracle -- --runs N [--seed S] [--cpp] [--show K] [--examine M]');
    process.exit(2);
  }
  if (process.argv.includes('--refs')) return refs(runs, seed, show, examine);
  const started = Date.now();
  const programs = fc.sample(programArbOf(mode), { seed, numRuns: runs });
  let agree = 0;
  let parseErrors = 0;
  let checks = 0;
  let expectedFindings = 0;
  let withFindings = 0;
  const bad: Array<[Program, CheckResult]> = [];
  for (const p of programs) {
    const r = await checkProgram(p);
    checks += r.checks;
    expectedFindings += r.expected.length;
    if (r.expected.length) withFindings++;
    if (r.parseError) parseErrors++;
    if (r.agree) agree++;
    else bad.push([p, r]);
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${mode === 'cpp' ? 'C++, ' : ''}seed ${seed}: ${agree}/${programs.length} functions agree, ${bad.length} disagree (${parseErrors} with parse errors) in ${secs}s`);
  console.log(`  ${checks} return/decref/steal statements judged; the oracle expects ${expectedFindings} findings in ${withFindings} functions`);
  // The first disagreements, each minimised (statements removed while it still disagrees);
  // disagreements that minimise to the same function are counted together.
  const minimal = new Map<string, { count: number; first: CheckResult; minimal: CheckResult }>();
  for (const [p, r] of bad.slice(0, examine)) {
    const m = await checkProgram(await minimize(p));
    const key = m.source;
    const entry = minimal.get(key);
    if (entry) entry.count++;
    else minimal.set(key, { count: 1, first: r, minimal: m });
  }
  let n = 0;
  if (bad.length) console.log(`\n${Math.min(bad.length, examine)} disagreements minimised to ${minimal.size} distinct functions`);
  for (const { count, first, minimal: m } of [...minimal.values()].slice(0, show)) {
    n++;
    console.log(`\n=== disagreement ${n} (${count} of the functions examined minimise to it) ===`);
    console.log('--- as generated ---\n' + describeMismatch(first));
    console.log('--- minimised ---\n' + describeMismatch(m));
  }
  if (bad.length) process.exitCode = 1;
}

/** The reference analysis' oracle: prints agreed/total, then the first disagreements minimised. */
async function refs(runs: number, seed: number, show: number, examine: number): Promise<void> {
  const started = Date.now();
  const programs = fc.sample(refsProgramArb, { seed, numRuns: runs });
  let agree = 0;
  let parseErrors = 0;
  let skipped = 0;
  let expectedFindings = 0;
  let withFindings = 0;
  const byRule = new Map<string, number>();
  const bad: Array<[RProgram, RefsCheckResult]> = [];
  for (const p of programs) {
    const r = await checkRefsProgram(p);
    expectedFindings += r.expected.length;
    if (r.expected.length) withFindings++;
    for (const e of r.expected) {
      const rule = e.slice(e.indexOf(':') + 1);
      byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
    }
    if (r.parseError) parseErrors++;
    if (r.skipped) skipped++;
    if (r.agree) agree++;
    else bad.push([p, r]);
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`references, seed ${seed}: ${agree}/${programs.length} functions agree, ${bad.length} disagree (${parseErrors} with parse errors, ${skipped} given up by the analysis) in ${secs}s`);
  console.log(`  the oracle expects ${expectedFindings} findings in ${withFindings} functions: ${[...byRule].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const minimal = new Map<string, { count: number; first: RefsCheckResult; minimal: RefsCheckResult }>();
  // Each minimised while it still disagrees.
  for (const [p, r] of bad.slice(0, examine)) {
    const m = await checkRefsProgram(await minimizeRefs(p, async (q) => !(await checkRefsProgram(q)).agree));
    const entry = minimal.get(m.source);
    if (entry) entry.count++;
    else minimal.set(m.source, { count: 1, first: r, minimal: m });
  }
  if (bad.length) console.log(`\n${Math.min(bad.length, examine)} disagreements minimised to ${minimal.size} distinct functions`);
  let n = 0;
  for (const { count, first, minimal: m } of [...minimal.values()].slice(0, show)) {
    n++;
    console.log(`\n=== disagreement ${n} (${count} of the functions examined minimise to it) ===`);
    if (process.argv.includes('--generated')) console.log('--- as generated ---\n' + describeRefsMismatch(first));
    console.log('--- minimised ---\n' + describeRefsMismatch(m));
  }
  if (bad.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
