import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSource, looksBinary } from '../core/text';

/** Where quoted includes are looked for besides the including file's folder. */
export interface IncludeSearch {
  includePaths: readonly string[];
  /** The folder relative include paths are resolved against (the pyproject.toml's); else the including file's. */
  root?: string;
  maxFileSize: number;
}

/**
 * The headers the editors' analyses read (a file such as numpy's `multiarraymodule.c`
 * includes dozens, and every keystroke reads them): looked up as the CLI does (the including
 * file's folder, then the include paths), an open document first, and a file on disk kept
 * between keystrokes, looked at again (its size and time) at most once a second, and at once
 * after `forget`.
 */
export class HeaderReader {
  private readonly headers = new Map<string, { text: string | undefined; checked: number; mtimeMs: number; size: number; maxSize: number }>();

  /** The text of `name` included from `from`; `open(abs)` gives an open document's text. */
  read(from: string, name: string, search: IncludeSearch, open?: (abs: string) => string | undefined): { path: string; text: string } | undefined {
    const dirs = [path.dirname(from), ...search.includePaths.map((p) => path.resolve(search.root ?? path.dirname(from), p))];
    for (const dir of dirs) {
      const abs = path.resolve(dir, name);
      const opened = open?.(abs);
      if (opened !== undefined) return { path: abs, text: opened };
      const text = this.onDisk(abs, search.maxFileSize);
      if (text !== undefined) return { path: abs, text };
    }
    return undefined;
  }

  /** Forgets one file (it changed on disk), or every file. */
  forget(abs?: string): void {
    if (abs === undefined) this.headers.clear();
    else this.headers.delete(abs);
  }

  private onDisk(abs: string, maxSize: number): string | undefined {
    const now = Date.now();
    const known = this.headers.get(abs);
    if (known && known.maxSize === maxSize && now - known.checked < 1000) return known.text;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(abs);
    } catch {
      st = undefined;
    }
    if (known && known.maxSize === maxSize && st && st.mtimeMs === known.mtimeMs && st.size === known.size) {
      known.checked = now;
      return known.text;
    }
    const text = st?.isFile() ? readSourceFile(abs, maxSize) : undefined;
    this.headers.set(abs, { text, checked: now, mtimeMs: st?.mtimeMs ?? -1, size: st?.size ?? -1, maxSize });
    return text;
  }
}

/** A source file's text: undefined when it is missing, not a regular file, over `maxSize`, binary-looking or unreadable. `latin1` skips the decoding (for the lexical index). */
export function readSourceFile(p: string, maxSize: number, latin1 = false): string | undefined {
  try {
    const st = fs.statSync(p);
    if (!st.isFile() || st.size > maxSize) return undefined;
    const bytes = fs.readFileSync(p);
    if (looksBinary(bytes)) return undefined;
    return latin1 ? bytes.toString('latin1') : decodeSource(bytes).text;
  } catch {
    return undefined;
  }
}
