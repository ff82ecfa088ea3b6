import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveFindings } from '../core/analyze';
import { CParser } from '../core/parser';
import { indexForNames, NameSet, ProjectIndex, type FileIndex } from '../core/project-index';
import { decodeSource, looksBinary } from '../core/text';
import type { Finding } from '../core/types';
import { IncludeCache, processFile, type FileJob, type FileOutcome, type ScanSettings } from './process-file';
import type { WorkerReply } from './worker';

/** A scanned file with its final findings. */
export interface ScannedFile extends FileOutcome {
  findings: Finding[];
  /** `[offset, line, column]` of the findings' offsets, when the text was left behind (a light background scan). */
  positions?: Array<[number, number, number]>;
}

/** A file that was not analysed. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** What a scan found. */
export interface ScanResult {
  files: ScannedFile[];
  skipped: SkippedFile[];
  /** The project index the severities came from (plain data), for re-analysing fixed text. */
  index: FileIndex[];
  /** Functions declared elsewhere as returning borrowed references. */
  declaredBorrowed: string[];
  stats: { files: number; skippedFiles: number; bytes: number; parsedFiles: number; errorRegions: number; skippedFunctions: number };
}

/** How a scan runs. */
export interface ScanRun {
  jobs: number;
  /** Called after each file with the number done and the total. */
  onProgress?(done: number, total: number): void;
  /** Source bytes for one file instead of reading it (standard input). */
  stdinBytes?: Uint8Array;
  /** Stops the scan: workers are terminated and the scan rejects with an AbortError. */
  signal?: AbortSignal;
}

const BATCH = 32;
const BATCH_BYTES = 128 * 1024;

function fileSize(abs: string): number {
  try {
    return fs.statSync(abs).size;
  } catch {
    return 0;
  }
}

function abortError(): Error {
  const e = new Error('scan cancelled');
  e.name = 'AbortError';
  return e;
}

async function runInWorkers(jobs: FileJob[], sizes: Map<string, number>, settings: ScanSettings, threads: number, onDone: (o: FileOutcome) => void, signal?: AbortSignal): Promise<void> {
  const script = path.join(__dirname, 'worker.js');
  let next = 0;
  const workers: Worker[] = [];
  const onAbort = () => {
    next = jobs.length;
    for (const w of workers) void w.terminate();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const runOne = () =>
    new Promise<void>((resolve, reject) => {
      const w = new Worker(script, { workerData: settings });
      workers.push(w);
      const feed = () => {
        if (next >= jobs.length) {
          w.postMessage({ done: true });
          return;
        }
        // Batches of about BATCH_BYTES: one big file alone, many small ones together.
        let bytes = 0;
        let end = next;
        while (end < jobs.length && end - next < BATCH && (end === next || bytes + (sizes.get(jobs[end].abs) ?? 0) <= BATCH_BYTES)) bytes += sizes.get(jobs[end++].abs) ?? 0;
        const batch = jobs.slice(next, end);
        next = end;
        w.postMessage({ jobs: batch });
      };
      w.on('message', (msg: WorkerReply) => {
        if ('fatal' in msg) {
          reject(new Error(`worker failed to start: ${msg.fatal}`));
          void w.terminate();
          return;
        }
        for (const o of msg.outcomes) onDone(o);
        feed();
      });
      w.on('error', reject);
      w.on('exit', () => (signal?.aborted ? reject(abortError()) : resolve()));
    });
  try {
    await Promise.all(Array.from({ length: threads }, runOne));
  } catch (e) {
    // One worker failed: the others stop too, so no work goes on after the scan has failed.
    next = jobs.length;
    for (const w of workers) void w.terminate();
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Scans files: per-file analysis (in worker threads when it pays), then project-wide severities. */
export async function scanFiles(parser: CParser | undefined, jobs: FileJob[], settings: ScanSettings, run: ScanRun): Promise<ScanResult> {
  if (!settings.projectFiles) settings = { ...settings, projectFiles: jobs.map((j) => j.abs) };
  const outcomes: FileOutcome[] = [];
  let done = 0;
  const onDone = (o: FileOutcome) => {
    outcomes.push(o);
    run.onProgress?.(++done, jobs.length);
  };
  const threads = Math.max(1, Math.min(run.jobs, Math.ceil(jobs.length / BATCH)));
  if (threads > 1 && run.stdinBytes === undefined) {
    // Largest files first, so that no worker is left with a big file at the end.
    const sizes = new Map(jobs.map((j) => [j.abs, fileSize(j.abs)]));
    await runInWorkers([...jobs].sort((a, b) => sizes.get(b.abs)! - sizes.get(a.abs)!), sizes, settings, threads, onDone, run.signal);
  } else {
    parser ??= await CParser.load(settings.parserLocation);
    const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
    for (const job of jobs) {
      if (run.signal?.aborted) throw abortError();
      onDone(processFile(parser, job, settings, includes, run.stdinBytes));
    }
  }
  const order = new Map(jobs.map((j, i) => [j.abs, i]));
  outcomes.sort((a, b) => order.get(a.abs)! - order.get(b.abs)!);
  return finalizeScan(outcomes, settings.options, run.stdinBytes && decodeSource(run.stdinBytes).text);
}

/** Decides Python-facing severities across the project and turns pending findings into final ones. */
export function finalizeScan(outcomes: FileOutcome[], options: ScanSettings['options'], stdinText?: string): ScanResult {
  // A macro definition's severity follows the functions that use it, in any file.
  const users = new Map<string, string[]>();
  for (const o of outcomes) {
    for (const p of o.pending) {
      const via = p.contract?.viaMacro;
      if (via && p.function) users.set(via, [...(users.get(via) ?? []), p.function]);
    }
  }
  for (const o of outcomes) {
    for (const p of o.pending) {
      const def = p.contract?.definesMacro;
      if (def && users.has(def)) p.contract!.functions = [...new Set([...p.contract!.functions, ...users.get(def)!])];
    }
  }
  const names = new Set<string>();
  for (const o of outcomes) for (const p of o.pending) for (const n of p.contract?.functions ?? []) names.add(n);
  const index = new ProjectIndex();
  if (names.size) {
    const sources = outcomes
      .filter((o) => !o.skipped)
      .map((o) => ({
        path: o.abs,
        mentions: (names: NameSet) => {
          if (o.text !== undefined || stdinText !== undefined) return true;
          try {
            const bytes = fs.readFileSync(o.abs);
            return names.names.length <= 16 ? names.names.some((n) => bytes.includes(n)) : names.mentionedIn(bytes.toString('latin1'));
          } catch {
            return false;
          }
        },
        text: () => {
          if (o.text !== undefined) return o.text;
          if (stdinText !== undefined) return stdinText;
          try {
            const bytes = fs.readFileSync(o.abs);
            return looksBinary(bytes) ? undefined : decodeSource(bytes).text;
          } catch {
            return undefined;
          }
        },
      }));
    indexForNames(names, sources, index);
  }
  const borrowed = new Set(outcomes.flatMap((o) => o.borrowedDecls));
  const files: ScannedFile[] = outcomes.map((o) => {
    const findings = o.targets ? resolveFindings({ findings: o.pending, targets: o.targets }, index.factsFor(o.abs, borrowed), options) : [];
    return { ...o, findings };
  });
  return {
    files,
    index: index.entries(),
    declaredBorrowed: [...borrowed],
    skipped: [
      ...outcomes.filter((o) => o.skipped).map((o) => ({ path: o.display, reason: o.skipped! })),
      ...outcomes.flatMap((o) => o.skippedFunctions.map((f) => ({ path: o.display, reason: `function \`${f.name}\` not analysed: ${f.reason}` }))),
    ],
    stats: {
      files: outcomes.filter((o) => !o.skipped).length,
      skippedFiles: outcomes.filter((o) => o.skipped).length,
      bytes: outcomes.reduce((s, o) => s + o.size, 0),
      parsedFiles: outcomes.filter((o) => o.parsed).length,
      errorRegions: outcomes.reduce((s, o) => s + o.errorRegions, 0),
      skippedFunctions: outcomes.reduce((s, o) => s + o.skippedFunctions.length, 0),
    },
  };
}

