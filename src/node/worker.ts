import { parentPort, workerData } from 'node:worker_threads';
import { CParser, GrammarNotLoaded } from '../core/parser';
import { IncludeCache, processFile, skip, type FileJob, type FileOutcome, type ScanSettings } from './process-file';

/** Messages from the scan's main thread: the project's files (to a worker started before they were known), files to analyse, or the end. */
export type WorkerRequest = { projectFiles: string[] } | { jobs: FileJob[] } | { done: true };
/** Messages back. */
export type WorkerReply = { outcomes: FileOutcome[] } | { fatal: string };

async function run(): Promise<void> {
  const settings = workerData as ScanSettings;
  // C only at first: the C++ grammar is loaded at the first C++ file (a C project never pays for it).
  const parser = await CParser.load(settings.parserLocation, ['c']);
  let includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
  parentPort!.on('message', (msg: WorkerRequest) => {
    if ('done' in msg) {
      parentPort!.close();
      return;
    }
    if ('projectFiles' in msg) {
      // (Before any batch: the batches that follow read it.)
      includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, msg.projectFiles);
      return;
    }
    // Batches are processed in order, one at a time (a batch may wait for a grammar to load).
    queue = queue.then(() => processBatch(msg.jobs)).then((outcomes) => parentPort!.postMessage({ outcomes } satisfies WorkerReply));
  });
  let queue: Promise<void> = Promise.resolve();
  async function processBatch(jobs: FileJob[]): Promise<FileOutcome[]> {
    const outcomes: FileOutcome[] = [];
    for (const job of jobs) {
      if (job.abs === settings.testOutOfMemoryAt && settings.heapCapped) exhaustHeap();
      try {
        outcomes.push(processFile(parser, job, settings, includes));
      } catch (e) {
        // A file of a dialect whose grammar is not loaded yet: load it, then process the file again.
        outcomes.push(e instanceof GrammarNotLoaded ? await parser.add(e.dialect).then(() => processFile(parser, job, settings, includes)).catch((e2: Error) => skip(job, `internal error: ${e2.message}`)) : skip(job, `internal error: ${(e as Error).message}`));
      }
    }
    return outcomes;
  }
  parentPort!.postMessage({ outcomes: [] } satisfies WorkerReply);
}

/** Tests only: allocates until the heap's cap stops the worker. */
function exhaustHeap(): void {
  const hold: number[][] = [];
  for (;;) hold.push(new Array(1 << 16).fill(hold.length));
}

run().catch((e: Error) => parentPort!.postMessage({ fatal: e.message } satisfies WorkerReply));
