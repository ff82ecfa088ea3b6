import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveFindings } from '../core/analyze';
import { CParser } from '../core/parser';
import { indexForNames, ProjectIndex, type FileIndex, type ProjectOf } from '../core/project-index';
import { decodeSource } from '../core/text';
import { diskIndexSource } from './index-source';
import { contractNames, IndexAlongScan } from './scan-index';
import { ProjectRoots } from './projects';
import type { Finding } from '../core/types';
import { IncludeCache, processFile, type FileJob, type FileOutcome, type ScanSettings } from './process-file';
import type { WorkerReply, WorkerRequest } from './worker';

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
  /** Functions declared as returning borrowed references, by project (`ProjectRoots`). */
  declaredBorrowed: Record<string, string[]>;
  stats: { files: number; skippedFiles: number; bytes: number; parsedFiles: number; errorRegions: number; skippedFunctions: number; workersReplaced?: number };
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
  /** The cap of each worker's old-generation heap in MB (default `WORKER_HEAP_MB`; 0: no cap). */
  workerHeapMb?: number;
  /** Workers started early with the same settings (`EarlyWorkers`): the scan takes over those it needs and ends the rest. */
  workers?: EarlyWorkers;
}

/**
 * The default cap of a worker's old-generation heap, in MB. Without one, V8 lets a busy worker's heap grow far past
 * what it holds (on the real-world set with every rule: about 150 MB committed for 30 MB live at the end, under 50 MB
 * live after any batch). 144 MB kept the scan's peak RSS under 400 MB at about the same speed as 160, until the
 * scans with every rule reached 403-406 MB in some runs; 112 MB, six runs each alternating with 144: the same wall and
 * CPU time (per-pair ratios 0.97-1.03), median peak RSS 376 -> 367 MB, highest 395 -> 385 MB, and no worker replaced
 * on the real-world set. A worker that needs more is replaced by one without the cap, which redoes its batch.
 */
export const WORKER_HEAP_MB = 112;

/**
 * A worker's young generation, in MB (V8's default lets it grow to 48: two 16 MB halves and the space for large new
 * objects). The analyses' objects die young, so a smaller one is collected about as fast; on the real-world set with
 * every rule, alternating runs with the default: median CPU time 18.1 s either way, highest peak RSS 369-392 -> 330-337 MB.
 * 16 MB was slower (median CPU 18.4 s) and no smaller at its peak. It applies to every worker, the capped and the uncapped.
 */
export const WORKER_YOUNG_MB = 24;

const BATCH = 32;

/** How many worker threads a scan of `files` files uses, given `jobs` (1: none, the scan runs on its own thread). */
export function scanThreads(files: number, jobs: number): number {
  return Math.max(1, Math.min(jobs, Math.ceil(files / BATCH)));
}

const BATCH_BYTES = 128 * 1024;
/** A worker is given a second batch ahead only while its own run has more files left than this. */
const PREFETCH_SPARE = 2 * BATCH;

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

/** A worker's run of jobs: `[next, end)` is left. */
interface JobRun {
  next: number;
  end: number;
}

function sizeOf(sizes: ReadonlyMap<string, number>, job: FileJob): number {
  return sizes.get(job.abs) ?? 0;
}

/** Cuts `jobs` into `n` runs of about equal bytes, in order. */
export function splitRuns(jobs: readonly FileJob[], sizes: ReadonlyMap<string, number>, n: number): JobRun[] {
  const total = jobs.reduce((t, j) => t + sizeOf(sizes, j), 0);
  const runs: JobRun[] = [];
  let start = 0;
  let before = 0;
  for (let i = 0; i < n; i++) {
    // The run ends where the bytes so far reach its share of the total (the last run takes the rest).
    const target = (total * (i + 1)) / n;
    let end = start;
    while (end < jobs.length && (i === n - 1 || before + sizeOf(sizes, jobs[end]) / 2 <= target)) before += sizeOf(sizes, jobs[end++]);
    runs.push({ next: start, end });
    start = end;
  }
  return runs;
}

/**
 * The next batch for the worker of run `own`: from the start of its own run, else from the end of the run with the most
 * bytes left. Batches are of about BATCH_BYTES: one big file alone, many small ones together. Undefined when no job is
 * left.
 */
export function takeBatch(jobs: readonly FileJob[], sizes: ReadonlyMap<string, number>, own: JobRun, runs: readonly JobRun[]): FileJob[] | undefined {
  let count = 0;
  let bytes = 0;
  const fits = (next: FileJob) => count === 0 || (count < BATCH && bytes + sizeOf(sizes, next) <= BATCH_BYTES);
  const take = (job: FileJob) => {
    bytes += sizeOf(sizes, job);
    count++;
  };
  if (own.next < own.end) {
    const from = own.next;
    while (own.next < own.end && fits(jobs[own.next])) take(jobs[own.next++]);
    return jobs.slice(from, own.next);
  }
  // (Only at the end of the scan: the bytes left are summed when asked.)
  const left = (r: JobRun) => jobs.slice(r.next, r.end).reduce((t, j) => t + sizeOf(sizes, j), 0);
  let victim: JobRun | undefined;
  let most = -1;
  for (const r of runs) {
    const b = r.next < r.end ? left(r) : -1;
    if (b > most) [victim, most] = [r, b];
  }
  if (!victim) return undefined;
  const to = victim.end;
  while (victim.end > victim.next && fits(jobs[victim.end - 1])) take(jobs[--victim.end]);
  return jobs.slice(victim.end, to);
}

/** Starts a scan worker: its old-generation heap capped at `cap` MB (none when undefined), its young generation at `WORKER_YOUNG_MB`. */
function startWorker(settings: ScanSettings, cap: number | undefined): Worker {
  return new Worker(path.join(__dirname, 'worker.js'), {
    workerData: { ...settings, heapCapped: !!cap },
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, ...(cap ? { maxOldGenerationSizeMb: cap } : {}) },
  });
}

/**
 * Worker threads started before the scan's files are all known, so that they load the analysis and the parser while
 * the files are listed (about 0.1 s each, on the core the listing leaves free: a scan of the real-world set found its
 * workers ready about 0.33 s after the CLI's `main` began, 0.15 s after its files were listed). The lister asks for as
 * many as the files found so far call for (`want`). `scanFiles` takes them over (`run.workers`) or ends them; until then
 * they do not keep the process alive, and what they say is kept for it.
 */
export class EarlyWorkers {
  /** @internal Each worker not taken over yet, and what it said so far. */
  readonly started: Array<{ worker: Worker; said: Said; hear: Array<[string, (x: unknown) => void]> }> = [];
  /** Workers started so far (taken over or not). */
  private count = 0;

  constructor(
    /** @internal The settings they are started with (`projectFiles` comes with the first batch). */
    readonly settings: ScanSettings,
    /** @internal The cap of each one's old-generation heap, in MB. */
    readonly heapMb: number | undefined = WORKER_HEAP_MB,
  ) {}

  /** Starts workers until `n` have been started (a scan of `files` files, with `jobs`, uses `scanThreads(files, jobs)`). */
  want(n: number): void {
    for (; this.count < n; this.count++) {
      const worker = startWorker(this.settings, this.heapMb);
      const said: Said = [];
      const hear = (['message', 'error', 'exit'] as const).map((event): [string, (x: unknown) => void] => [event, (x) => said.push([event, x])]);
      for (const [event, f] of hear) worker.on(event, f);
      // (After the listeners: a first 'message' listener refs the worker again.)
      worker.unref();
      this.started.push({ worker, said, hear });
    }
  }

  /** @internal Takes one over: its listeners go, it keeps the process alive again; gives it and what it said. */
  take(): { worker: Worker; said: Said } | undefined {
    const one = this.started.shift();
    if (!one) return undefined;
    for (const [event, f] of one.hear) one.worker.off(event, f);
    one.worker.ref();
    return one;
  }

  /** Ends the workers not taken over, and starts no more. */
  end(): void {
    this.count = Infinity;
    for (const { worker } of this.started.splice(0)) void worker.terminate();
  }
}

/** What a worker said before it was taken over, in order. */
type Said = Array<['message' | 'error' | 'exit', unknown]>;

/**
 * Lists a scan's files with `list` (given the callback `collectFiles` calls with the count so far), starting the workers
 * the files found so far call for with `jobs` as it goes (see `EarlyWorkers`; none while a scan of that many runs on its
 * own thread). If listing throws, they end.
 */
export function listStartingWorkers<T>(settings: ScanSettings, jobs: number, list: (found: (count: number) => void) => T): { listed: T; workers: EarlyWorkers | undefined } {
  let workers: EarlyWorkers | undefined;
  const found = (count: number) => {
    const n = scanThreads(count, jobs);
    if (n > 1) (workers ??= new EarlyWorkers(settings)).want(n);
  };
  try {
    return { listed: list(found), workers };
  } catch (e) {
    workers?.end();
    throw e;
  }
}

/** The scan's worker threads: they analyse the files (`run`) until `close`. */
class WorkerPool {
  private readonly workers: Worker[] = [];
  private exits: Array<Promise<void>> = [];
  private failed: Error | undefined;

  /** Workers replaced after running out of their capped heap. */
  replaced = 0;

  constructor(
    private readonly settings: ScanSettings,
    private readonly threads: number,
    private readonly signal: AbortSignal | undefined,
    /** The cap of a worker's old-generation heap, in MB (undefined: V8's own limit). */
    private readonly heapMb: number | undefined,
    /** Workers already started with these settings and that cap (see `EarlyWorkers`), used first. */
    private readonly early: EarlyWorkers | undefined,
  ) {}

  /**
   * Analyses `jobs`, `onDone` called with each outcome. The jobs (in path order, so a project's files are together) are
   * cut into one run of about equal bytes per worker, which each worker takes batch by batch from its start: a worker
   * sees its files in order, and its caches of the project's headers serve the next file. A worker whose run is done
   * takes batches from the end of the run with the most bytes left.
   */
  run(jobs: FileJob[], sizes: Map<string, number>, onDone: (o: FileOutcome) => void): Promise<void> {
    const runs = splitRuns(jobs, sizes, this.threads);
    this.onAbort = () => {
      for (const r of runs) r.next = r.end;
      for (const w of this.workers) void w.terminate();
    };
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    // A worker runs with its old-generation heap capped (`heapMb`); one that runs out of it is replaced by a worker
    // without the cap, which first redoes the batches the other had (the one it was on, and the one behind it).
    const runOne = (own: JobRun, capped: boolean, redo?: FileJob[]): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const cap = capped && this.heapMb ? this.heapMb : undefined;
        const early = capped ? this.early?.take() : undefined;
        const w = early?.worker ?? startWorker(this.settings, cap);
        this.workers.push(w);
        // An early worker was started without the project's files: they go just before its first batch.
        let needsFiles = !!early;
        let analysing = true;
        let replaced = false;
        /** The batches posted to the worker and not answered yet, oldest first (the one it is on, and one behind it). */
        const posted: FileJob[][] = [];
        const post = (batch: FileJob[]) => {
          if (needsFiles) w.postMessage({ projectFiles: this.settings.projectFiles ?? [] } satisfies WorkerRequest);
          needsFiles = false;
          posted.push(batch);
          w.postMessage({ jobs: batch } satisfies WorkerRequest);
        };
        // While its own run has files to spare, the worker has a second batch waiting behind the one it is on: it does
        // not sit idle while its answer comes here and the next batch goes back (about 0.6 ms a batch on two busy
        // cores). Near the run's end, and from the other runs, a batch is taken only when the worker is idle: none waits
        // in one worker while another has nothing to do.
        const feed = () => {
          if (redo) {
            post(redo);
            redo = undefined;
          }
          while (posted.length < 2 && (!posted.length || own.end - own.next > PREFETCH_SPARE)) {
            const batch = takeBatch(jobs, sizes, own, runs);
            if (!batch) break;
            post(batch);
          }
          if (!posted.length) {
            // Idle until the end.
            analysing = false;
            resolve();
          }
        };
        const fail = (e: Error) => {
          this.failed ??= e;
          if (analysing) reject(e);
        };
        const onMessage = (msg: WorkerReply) => {
          if ('fatal' in msg) {
            fail(new Error(`worker failed to start: ${msg.fatal}`));
            void w.terminate();
          } else {
            // (The first message, before any batch, says the worker is ready.)
            posted.shift();
            for (const o of msg.outcomes) onDone(o);
            feed();
          }
        };
        const onError = (e: Error) => {
          if (this.signal?.aborted) return fail(abortError());
          const outOfMemory = !!cap && (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' && !this.failed;
          if (!outOfMemory || !analysing) return fail(e);
          // The worker goes (its exit is no failure): its batches go to a worker without the cap.
          replaced = true;
          this.workers.splice(this.workers.indexOf(w), 1);
          this.replaced++;
          resolve(runOne(own, false, posted.length ? posted.flat() : redo));
        };
        let exited: () => void = () => {};
        const onExit = () => {
          if (this.signal?.aborted) fail(abortError());
          else if (!replaced && analysing) fail(new Error('a worker stopped before its work was done'));
          exited();
        };
        this.exits.push(new Promise<void>((done) => (exited = done)));
        // What an early worker said before it was taken over is heard first, in order.
        for (const [event, x] of early?.said ?? []) {
          if (event === 'message') onMessage(x as WorkerReply);
          else if (event === 'error') onError(x as Error);
          else onExit();
        }
        w.on('message', onMessage);
        w.on('error', onError);
        w.on('exit', onExit);
      });
    const all = Promise.all(runs.map((r) => runOne(r, true))).then(() => undefined);
    // (Early workers the runs did not take are not needed.)
    this.early?.end();
    return all;
  }
  private onAbort: (() => void) | undefined;

  /** Lets the workers go, and waits for them to exit. */
  async close(): Promise<void> {
    for (const w of this.workers) w.postMessage({ done: true } satisfies WorkerRequest);
    await Promise.all(this.exits);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Stops the workers at once (after a failure). */
  terminate(): void {
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    for (const w of this.workers) void w.terminate();
  }
}

/** Scans files: per-file analysis (in worker threads when it pays), then project-wide severities. */
export async function scanFiles(parser: CParser | undefined, jobs: FileJob[], settings: ScanSettings, run: ScanRun): Promise<ScanResult> {
  try {
    return await scanWith(parser, jobs, settings, run);
  } finally {
    run.workers?.end();
  }
}

async function scanWith(parser: CParser | undefined, jobs: FileJob[], settings: ScanSettings, run: ScanRun): Promise<ScanResult> {
  const given = settings;
  if (!settings.projectFiles) settings = { ...settings, projectFiles: jobs.map((j) => j.abs) };
  const { projectOf } = new ProjectRoots();
  const outcomes: FileOutcome[] = [];
  let done = 0;
  const onDone = (o: FileOutcome) => {
    outcomes.push(o);
    run.onProgress?.(++done, jobs.length);
  };
  const threads = scanThreads(jobs.length, run.jobs);
  if (threads > 1 && run.stdinBytes === undefined) {
    const sizes = new Map(jobs.map((j) => [j.abs, fileSize(j.abs)]));
    const heapMb = run.workerHeapMb ?? WORKER_HEAP_MB;
    // (Early workers started with other settings or another cap are not used.)
    const early = run.workers?.settings === given && run.workers.heapMb === heapMb ? run.workers : undefined;
    const pool = new WorkerPool(settings, threads, run.signal, heapMb, early);
    let along: IndexAlongScan | undefined;
    try {
      const analysed = pool.run(jobs, sizes, (o) => {
        onDone(o);
        along!.add(o);
      });
      // The project index is built here while the workers analyse (the workers start meanwhile; no file is done yet).
      along = new IndexAlongScan(jobs, projectOf, run.signal, abortError);
      await analysed;
      sortLike(outcomes, jobs);
      // (The workers exit while the last projects are indexed and the severities decided.)
      const closed = pool.close();
      const index = await along.finish(outcomes);
      const result = finalizeScan(outcomes, settings.options, projectOf, undefined, index);
      await closed;
      if (pool.replaced) result.stats.workersReplaced = pool.replaced;
      return result;
    } catch (e) {
      // One worker failed: the others stop too, so no work goes on after the scan has failed.
      along?.stop();
      pool.terminate();
      throw e;
    }
  } else {
    parser ??= await CParser.load(settings.parserLocation);
    const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
    for (const job of jobs) {
      if (run.signal?.aborted) throw abortError();
      onDone(processFile(parser, job, settings, includes, run.stdinBytes));
    }
  }
  sortLike(outcomes, jobs);
  return finalizeScan(outcomes, settings.options, projectOf, run.stdinBytes && decodeSource(run.stdinBytes).text);
}

/** Outcomes in the order of their jobs. */
function sortLike(outcomes: FileOutcome[], jobs: FileJob[]): void {
  const order = new Map(jobs.map((j, i) => [j.abs, i]));
  outcomes.sort((a, b) => order.get(a.abs)! - order.get(b.abs)!);
}

/**
 * Decides Python-facing severities across the project and turns pending findings into final ones. `index` is the
 * project index when the caller built it (the scan's workers did), else it is built here.
 */
export function finalizeScan(outcomes: FileOutcome[], options: ScanSettings['options'], projectOf: ProjectOf, stdinText?: string, index?: ProjectIndex): ScanResult {
  if (!index) {
    index = new ProjectIndex(projectOf);
    indexForNames(contractNames(outcomes, projectOf), outcomes.filter((o) => !o.skipped).map((o) => diskIndexSource(o.abs, o.text ?? stdinText)), index);
  }
  // (Every file's declarations count, those the index did not read too.)
  const borrowed = new Map<string, Set<string>>();
  for (const o of outcomes) {
    const project = projectOf(o.abs);
    let set = borrowed.get(project);
    if (!set) borrowed.set(project, (set = new Set()));
    for (const n of o.borrowedDecls) set.add(n);
  }
  const files: ScannedFile[] = outcomes.map((o) => {
    const findings = o.targets ? resolveFindings({ findings: o.pending, targets: o.targets }, index.factsFor(o.abs, borrowed.get(projectOf(o.abs))), options) : [];
    return { ...o, findings };
  });
  return {
    files,
    index: index.entries(),
    declaredBorrowed: Object.fromEntries([...borrowed].map(([k, v]) => [k, [...v]])),
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

