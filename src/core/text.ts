import { isAscii } from 'node:buffer';

/** How a file's bytes were decoded, so a fix can write them back the same way. */
export type Encoding = 'utf8' | 'latin1';

/** A decoded source file. */
export interface DecodedText {
  text: string;
  encoding: Encoding;
  /** The file started with a UTF-8 byte-order mark (not part of `text`). */
  bom: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** True when the bytes look binary the way git decides: a NUL byte in the first 8000 bytes. */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8000);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/**
 * Decodes source bytes. Valid UTF-8 is decoded as such; anything else (old sources
 * in Latin-1 are common) is decoded byte for byte so that every byte survives a fix.
 * `latin1`: the bytes' Latin-1 reading, when the caller has made one (for cheap tests): an
 * ASCII file's text is that string, not a second copy of it.
 */
export function decodeSource(bytes: Uint8Array, latin1?: string): DecodedText {
  if (latin1 !== undefined && isAscii(bytes)) return { text: latin1, encoding: 'utf8', bom: false };
  let bom = false;
  let body = bytes;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bom = true;
    body = bytes.subarray(3);
  }
  try {
    return { text: UTF8.decode(body), encoding: 'utf8', bom };
  } catch {
    return { text: Buffer.from(body).toString('latin1'), encoding: 'latin1', bom };
  }
}

/** Encodes text back into the bytes of its original encoding. */
export function encodeSource(d: DecodedText): Uint8Array {
  const body = Buffer.from(d.text, d.encoding === 'utf8' ? 'utf8' : 'latin1');
  return d.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
}

/** Maps 0-based offsets to 0-based lines and columns (UTF-16 units, as tree-sitter and VS Code count). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    // (`indexOf` finds line feeds several times faster than a loop over the characters; this runs on every keystroke.)
    if (!text.includes('\r')) {
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
      return;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13 && text.charCodeAt(i + 1) !== 10) this.starts.push(i + 1);
    }
  }
  /** 0-based line and column of an offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, column: offset - this.starts[lo] };
  }
  /** Offset of a 0-based line and column. */
  offset(line: number, column: number): number {
    const l = Math.max(0, Math.min(line, this.starts.length - 1));
    return Math.min(this.starts[l] + column, this.text.length);
  }
  /** Offset where a 0-based line starts. */
  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line, this.starts.length - 1))];
  }
  /** The text of a 0-based line without its line ending. */
  lineText(line: number): string {
    const s = this.lineStart(line);
    const e = line + 1 < this.starts.length ? this.starts[line + 1] : this.text.length;
    return this.text.slice(s, e).replace(/\r?\n$|\r$/, '');
  }
  /** Number of lines. */
  get lineCount(): number {
    return this.starts.length;
  }
}

/** The line ending a file mostly uses. */
export function detectEol(text: string): '\n' | '\r\n' {
  let crlf = 0;
  for (let i = text.indexOf('\r\n'); i >= 0; i = text.indexOf('\r\n', i + 2)) crlf++;
  if (!crlf) return '\n';
  let lf = -crlf;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lf++;
  return crlf > lf ? '\r\n' : '\n';
}

/** `1 file`, `2 files` (`plural(n, 'fix', 'fixes')` for other plurals). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
