import { parentPort, workerData } from 'node:worker_threads';
import { collectFiles, FileFilter } from './files';
import type { ScanSettings } from './process-file';
import { scanFiles, type ScanResult } from './scan';

/** What the background scan is asked to do: walk `folder` and scan it, as the CLI would. */
export interface BackgroundScanRequest {
  folder: string;
  /** The folder relative globs are matched against (the pyproject.toml's). */
  root: string;
  settings: ScanSettings;
  jobs: number;
}

/** Messages from the background scan. */
export type BackgroundScanMessage =
  | { progress: { done: number; total: number } }
  | { files: ScanResult['files'] }
  | { result: ScanResult }
  | { error: string };

async function run(): Promise<void> {
  const req = workerData as BackgroundScanRequest;
  const filter = new FileFilter(req.settings.options, req.root);
  const { jobs, skipped } = collectFiles([req.folder], req.folder, filter);
  let last = 0;
  const result = await scanFiles(undefined, jobs, req.settings, {
    jobs: req.jobs,
    onProgress: (done, total) => {
      const now = Date.now();
      if (done === total || now - last > 100) {
        last = now;
        parentPort!.postMessage({ progress: { done, total } } satisfies BackgroundScanMessage);
      }
    },
  });
  result.skipped.unshift(...skipped);
  result.stats.skippedFiles += skipped.length;
  // The files go in slices: one huge message would hold up the receiving thread while it is decoded.
  for (let i = 0; i < result.files.length; i += 100) parentPort!.postMessage({ files: result.files.slice(i, i + 100) } satisfies BackgroundScanMessage);
  parentPort!.postMessage({ result: { ...result, files: [] } } satisfies BackgroundScanMessage);
}

run().catch((e: Error) => parentPort!.postMessage({ error: e.stack ?? e.message } satisfies BackgroundScanMessage));
