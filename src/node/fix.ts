import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSource, encodeSource } from '../core/text';
import type { ScannedFile } from './scan';

/** The outcome of fixing one file. */
export interface FixOutcome {
  applied: number;
  /** Why the file was left alone. */
  refused?: string;
}

/**
 * Writes a file's fixed text (from `fixScannedFile`) atomically: the bytes on disk must
 * still be those that were analysed; the new bytes go to a temporary file in the same
 * folder, which then replaces the original by rename, so a reader (or a crash) sees the
 * old or the new file.
 */
export function writeFixes(file: ScannedFile, fixed: { text: string; applied: number }): FixOutcome {
  if (fixed.text === file.text) return { applied: 0 };
  let current: Buffer;
  let mode: number;
  // Through a symbolic link, the file that changes is the one it points to (the link stays a link).
  let target: string;
  try {
    target = fs.realpathSync(file.abs);
    current = fs.readFileSync(target);
    mode = fs.statSync(target).mode;
  } catch (e) {
    return { applied: 0, refused: `unreadable now (${(e as NodeJS.ErrnoException).code})` };
  }
  if (createHash('sha1').update(current).digest('hex') !== file.hash) {
    return { applied: 0, refused: 'changed since it was read; not fixed' };
  }
  const decoded = decodeSource(current);
  const bytes = encodeSource({ text: fixed.text, encoding: file.encoding ?? decoded.encoding, bom: file.bom ?? decoded.bom });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.cpyref-${process.pid}-${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx', mode & 0o7777);
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // A last check narrows the window in which an editor's save could be overwritten.
    if (createHash('sha1').update(fs.readFileSync(target)).digest('hex') !== file.hash) {
      fs.rmSync(tmp, { force: true });
      return { applied: 0, refused: 'changed since it was read; not fixed' };
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    return { applied: 0, refused: `could not write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  return { applied: fixed.applied };
}
