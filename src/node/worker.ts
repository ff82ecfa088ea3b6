import { parentPort, workerData } from 'node:worker_threads';
import { CParser } from '../core/parser';
import { IncludeCache, processFile, skip, type FileJob, type FileOutcome, type ScanSettings } from './process-file';

/** Messages from the scan's main thread. */
export type WorkerRequest = { jobs: FileJob[] } | { done: true };
/** Messages back. */
export type WorkerReply = { outcomes: FileOutcome[] } | { fatal: string };

async function run(): Promise<void> {
  const settings = workerData as ScanSettings;
  const parser = await CParser.load(settings.parserLocation);
  const includes = new IncludeCache(settings.includeDirs, settings.options.maxFileSize, settings.projectFiles);
  parentPort!.on('message', (msg: WorkerRequest) => {
    if ('done' in msg) {
      parentPort!.close();
      return;
    }
    const outcomes: FileOutcome[] = [];
    for (const job of msg.jobs) {
      try {
        outcomes.push(processFile(parser, job, settings, includes));
      } catch (e) {
        outcomes.push(skip(job, `internal error: ${(e as Error).message}`));
      }
    }
    parentPort!.postMessage({ outcomes } satisfies WorkerReply);
  });
  parentPort!.postMessage({ outcomes: [] } satisfies WorkerReply);
}

run().catch((e: Error) => parentPort!.postMessage({ fatal: e.message } satisfies WorkerReply));
