/**
 * `npm run bench:edit -- FILE... [--edits N] [--all-rules]`
 *
 * Replays typing in FILE the way the extension sees it: characters typed one at a time
 * inside function bodies, and whole lines (`Py_INCREF(Py_None);`) inserted before
 * returns. Each edit is timed from the new text to fresh findings, computed as the
 * extension computes them (incremental parse, only changed functions re-analysed).
 * Prints, last, one JSON line per file: {edits, p50Ms, p90Ms, fullParseMs, dialect}
 * (several files, a C one and a C++ one say, are measured in the same run, one after the other).
 * `--all-rules` turns on every rule, those off by default included (as bench-scan's option does).
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { resolveFindings } from '../src/core/analyze';
import { DocumentSession } from '../src/core/document';
import { defaultOptions } from '../src/core/options';
import { CParser } from '../src/core/parser';
import { dialectOf } from '../src/core/dialect';
import { indexFile, ProjectIndex } from '../src/core/project-index';
import { decodeSource } from '../src/core/text';
import { RULES } from '../src/core/rules/index';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = Number(argv[argv.indexOf('--edits') + 1]) || 200;
  const files = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--edits');
  if (!files.length) throw new Error('usage: npm run bench:edit -- FILE... [--edits N] [--all-rules]');
  // Every rule selected, as the CLI's `--select` of every id does.
  const rules = argv.includes('--all-rules') ? new Set(RULES.map((r) => r.id)) : undefined;
  const parser = await CParser.load();
  const lines: string[] = [];
  for (const file of files) lines.push(await measure(parser, file, n, rules));
  for (const l of lines) console.log(l);
}

/** Replays `n` edits of `file` in process; returns the JSON line. (bench:lsp replays the same edits through the server.) */
export async function measure(parser: CParser, file: string, n: number, rules: ReadonlySet<string> | undefined): Promise<string> {
  let text = decodeSource(fs.readFileSync(file)).text;
  const options = defaultOptions();

  const t0 = performance.now();
  // A C++ file is parsed with the C++ grammar, as the session does.
  const own = parser.for(dialectOf(file, text, options.cppFiles));
  for (let i = 0; i < 5; i++) own.parse(text).delete();
  const fullParseMs = (performance.now() - t0) / 5;

  const session = new DocumentSession(parser);
  const index = new ProjectIndex();
  const analyze = (mode: 'incremental' | 'fresh') => {
    const r = session.analyze({ path: file, text, options, rules }, mode);
    // As the extension does: the file is indexed when a finding first needs it, and again
    // when it is saved (not on every keystroke).
    if (r.findings.some((f) => f.contract) && !index.has(file)) index.set(indexFile(file, text));
    return resolveFindings(r, index.factsFor(file), options);
  };
  analyze('fresh');

  const edits = editSequence(text, n);
  const times: number[] = [];
  let analysedPerEdit = 0;
  for (const { at, insert } of edits) {
    text = text.slice(0, at) + insert + text.slice(at);
    const a = performance.now();
    analyze('incremental');
    times.push(performance.now() - a);
    analysedPerEdit += session.lastAnalyzed;
  }
  console.log(`${file}: re-analysed ${(analysedPerEdit / n).toFixed(2)} functions per edit on average`);
  session.dispose();
  return JSON.stringify({
    edits: n,
    p50Ms: Number(percentile(times, 50).toFixed(2)),
    p90Ms: Number(percentile(times, 90).toFixed(2)),
    fullParseMs: Number(fullParseMs.toFixed(2)),
    dialect: own.dialect,
  });
}

/**
 * The edits replayed on a text, in order (each offset is in the text as the edits before it
 * left it). Edit sites: returns inside functions whose value starts with an identifier; a typed
 * character goes after that identifier's first letter (it stays an identifier, as while
 * renaming), and a whole line goes before the return (deterministic order).
 */
export function editSequence(text: string, n: number): Array<{ at: number; insert: string }> {
  const sites: number[] = [];
  for (const m of text.matchAll(/^([ \t]+)return[ \t]+[A-Za-z_]\w/gm)) sites.push(m.index!);
  if (!sites.length) throw new Error('no return statements to edit near');
  const out: Array<{ at: number; insert: string }> = [];
  for (let k = 0; k < n; k++) {
    const site = sites[(k * 7919) % sites.length];
    const offset = text.indexOf('return', site) + 'return'.length + 1 + (/^[ \t]*/.exec(text.slice(text.indexOf('return', site) + 6))![0].length);
    // Two kinds of edit, alternating in runs: typing a character, and inserting a whole line.
    const insert = k % 10 === 9 ? '    Py_INCREF(Py_None);\n' : 'x';
    const at = insert.length > 1 ? text.lastIndexOf('\n', site) + 1 : offset;
    text = text.slice(0, at) + insert + text.slice(at);
    // Keep site offsets valid after the insertion.
    for (let i = 0; i < sites.length; i++) if (sites[i] >= at) sites[i] += insert.length;
    out.push({ at, insert });
  }
  return out;
}

if (require.main === module) {
  run().catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 2;
  });
}
