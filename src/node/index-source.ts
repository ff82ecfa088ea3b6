import * as fs from 'node:fs';
import type { IndexSource, NameSet } from '../core/project-index';
import { decodeSource, looksBinary } from '../core/text';

/**
 * A scanned file as the project index reads it: `known` when its text is at hand (a file with findings keeps it,
 * standard input has no file), else from disk, tested for the names on its raw bytes; a file that mentions one is
 * decoded from the bytes that test read (not read again).
 */
export function diskIndexSource(abs: string, known?: string): IndexSource {
  /**
   * The bytes (and their Latin-1 reading, if made) of a file that mentions a name, until its text is asked for; bytes
   * in the shared buffer serve only while no other file has been read into it (`reads` unchanged).
   */
  let mentioned: { bytes: Buffer; latin1?: string; read: number } | undefined;
  return {
    path: abs,
    mentions: (names: NameSet) => {
      if (known !== undefined) return names.mentionedIn(known);
      try {
        const bytes = readForTest(abs);
        const latin1 = names.names.length <= 16 ? undefined : bytes.toString('latin1');
        const found = latin1 === undefined ? names.names.some((n) => bytes.includes(n)) : names.mentionedIn(latin1);
        if (found) mentioned = { bytes, latin1, read: reads };
        return found;
      } catch {
        return false;
      }
    },
    text: () => {
      if (known !== undefined) return known;
      try {
        const kept = mentioned && (mentioned.read === reads || mentioned.bytes.buffer !== scratch.buffer) ? mentioned : undefined;
        const { bytes, latin1 } = kept ?? { bytes: fs.readFileSync(abs) };
        mentioned = undefined;
        return looksBinary(bytes) ? undefined : decodeSource(bytes, latin1).text;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The buffer the mention tests read files into, grown to the largest file read (up to `SCRATCH_MAX`): most files a
 * round reads mention no name and are let go at once, and reading each into a buffer of its own left tens of MB of
 * them waiting for the collector (on the real-world set with every rule, while the workers analyse beside it).
 */
let scratch = Buffer.allocUnsafe(64 * 1024);
const SCRATCH_MAX = 8 * 1024 * 1024;
/** Files read so far (into the shared buffer or not). */
let reads = 0;

/** A file's bytes, in the shared buffer (valid until the next read) unless the file is larger than `SCRATCH_MAX`. */
function readForTest(abs: string): Buffer {
  const fd = fs.openSync(abs, 'r');
  reads++;
  try {
    const size = fs.fstatSync(fd).size;
    if (size > SCRATCH_MAX) return fs.readFileSync(fd);
    if (size + 1 > scratch.length) scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX + 1, Math.max(size + 1, 2 * scratch.length)));
    // (Read to the end: the file may have grown since; one byte more than its size tells whether it did.)
    let n = 0;
    for (let got = -1; got !== 0 && n < scratch.length; n += got) got = fs.readSync(fd, scratch, n, scratch.length - n, null);
    return n < scratch.length ? scratch.subarray(0, n) : Buffer.concat([scratch.subarray(0, n), fs.readFileSync(fd)]);
  } finally {
    fs.closeSync(fd);
  }
}
