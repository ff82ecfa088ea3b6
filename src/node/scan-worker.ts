import { parentPort, workerData } from 'node:worker_threads';
import { collectFiles, FileFilter } from './files';
import type { ScanSettings } from './process-file';
import { LineIndex } from '../core/text';
import { listStartingWorkers, scanFiles, type ScanResult, type ScannedFile } from './scan';

/** What the background scan is asked to do: walk `folder` and scan it, as the CLI would. */
export interface BackgroundScanRequest {
  folder: string;
  /** The folder relative globs are matched against (the pyproject.toml's). */
  root: string;
  settings: ScanSettings;
  jobs: number;
  /**
   * Keep each file's text and fixes (for fixing). Without it, files travel light: the
   * findings without fixes, and the line and column of every offset they use.
   */
  withTexts?: boolean;
}

/** Messages from the background scan. */
export type BackgroundScanMessage =
  | { progress: { done: number; total: number } }
  | { files: ScanResult['files'] }
  | { result: ScanResult }
  | { error: string };

/** A file as the Problems panel needs it: findings without fixes, positions instead of the text. */
function light(file: ScannedFile): ScannedFile {
  if (file.text === undefined) return file;
  const lines = new LineIndex(file.text);
  const offsets = new Set<number>();
  for (const f of file.findings) {
    offsets.add(f.start).add(f.end);
    for (const r of f.related) if (r.path === undefined) offsets.add(r.start).add(r.end);
  }
  return {
    ...file,
    text: undefined,
    pending: [],
    findings: file.findings.map((f) => ({ ...f, fixes: [] })),
    positions: [...offsets].map((o) => {
      const p = lines.position(o);
      return [o, p.line, p.column] as [number, number, number];
    }),
  };
}

async function run(): Promise<void> {
  const req = workerData as BackgroundScanRequest;
  const filter = new FileFilter(req.settings.options, req.root);
  // (As the CLI does: the workers start once enough files are listed, and load the analysis while the rest are.)
  const { listed, workers } = listStartingWorkers(req.settings, req.jobs, (found) => collectFiles([req.folder], req.folder, filter, found));
  const { jobs, skipped } = listed;
  let last = 0;
  const result = await scanFiles(undefined, jobs, req.settings, {
    jobs: req.jobs,
    workers,
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
  const files = req.withTexts ? result.files : result.files.map(light);
  // The files go in slices: one huge message would hold up the receiving thread while it is decoded.
  for (let i = 0; i < files.length; i += 100) parentPort!.postMessage({ files: files.slice(i, i + 100) } satisfies BackgroundScanMessage);
  parentPort!.postMessage({ result: { ...result, files: [] } } satisfies BackgroundScanMessage);
}

run().catch((e: Error) => parentPort!.postMessage({ error: e.stack ?? e.message } satisfies BackgroundScanMessage));
