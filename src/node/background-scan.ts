import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ScanResult } from './scan';
import type { BackgroundScanMessage, BackgroundScanRequest } from './scan-worker';

/**
 * Runs a whole scan (walk, analysis in worker threads, project-wide severities) off the
 * calling thread, so an editor's extension host keeps responding. Aborting terminates
 * the scan's threads at once and rejects with an AbortError.
 */
export function scanInBackground(req: BackgroundScanRequest, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<ScanResult> {
  return new Promise((resolve, reject) => {
    const abortError = () => Object.assign(new Error('scan cancelled'), { name: 'AbortError' });
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const worker = new Worker(path.join(__dirname, 'scan-worker.js'), { workerData: req });
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = () => {
      finish(() => reject(abortError()));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const files: ScanResult['files'] = [];
    worker.on('message', (m: BackgroundScanMessage) => {
      if ('progress' in m) onProgress?.(m.progress.done, m.progress.total);
      else if ('files' in m) files.push(...m.files);
      else if ('result' in m) finish(() => resolve({ ...m.result, files }));
      else finish(() => reject(new Error(m.error)));
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`the scan stopped (exit code ${code})`))));
  });
}
