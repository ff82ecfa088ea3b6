import * as fs from 'node:fs';
import * as path from 'node:path';
import { Minimatch } from 'minimatch';
import type { Options } from '../core/options';
import type { FileJob } from './process-file';
import type { SkippedFile } from './scan';

/** Turns a gitignore-style pattern into minimatch patterns: a pattern without `/` matches at any depth. */
export function expand(pattern: string): string[] {
  const p = pattern.replace(/\\/g, '/');
  if (p.startsWith('/')) return [p.slice(1), `${p.slice(1)}/**`];
  if (!p.includes('/') || (p.endsWith('/') && !p.slice(0, -1).includes('/'))) {
    const bare = p.replace(/\/$/, '');
    return [`**/${bare}`, `**/${bare}/**`];
  }
  return [p, `${p.replace(/\/$/, '')}/**`];
}

/**
 * A compiled pattern and what any path it matches holds: for each of its brace alternatives, the longest run of
 * plain characters of its plain segments (`.c` of `**\/*.c`). A path holding none of them is not asked of
 * minimatch, whose matching splits and slices the path for each pattern (most of a walk's time, as most files of
 * a project are not C). Undefined when some alternative has no such run: the pattern is always asked.
 */
interface Pattern {
  m: Minimatch;
  needles: string[] | undefined;
}

function compilePattern(p: string, platform: NodeJS.Platform | undefined): Pattern {
  const m = new Minimatch(p, { dot: true, platform });
  // (On Windows minimatch compares drive letters, `C:` and `c:`, without regard to case: so do the needles there.)
  const needles = needlesOf(m);
  return { m, needles: m.isWindows ? needles?.map((n) => n.toLowerCase()) : needles };
}

function needlesOf(m: Minimatch): string[] | undefined {
  if (m.negate || m.nocase || m.comment || m.empty) return undefined;
  const out: string[] = [];
  for (const glob of m.globParts) {
    let best = '';
    for (const seg of glob) {
      // (Only segments of plain characters and `*`: a class, an escape, a brace or an extended glob may stand for other characters.)
      if (seg === '**' || /[?[\]\\(){}!+@]/.test(seg)) continue;
      for (const run of seg.split('*')) if (run.length > best.length) best = run;
    }
    if (!best) return undefined;
    out.push(best);
  }
  return out;
}

function matches(p: Pattern, r: string): boolean {
  if (!p.needles) return p.m.match(r);
  const hay = p.m.isWindows ? r.toLowerCase() : r;
  return p.needles.some((n) => hay.includes(n)) && p.m.match(r);
}

/** Decides which paths a scan includes. */
export class FileFilter {
  private readonly include: Pattern[];
  private readonly exclude: Pattern[];
  /** `platform`: minimatch's (the process' by default; tests give `win32`). */
  constructor(opts: Options, private readonly root: string, platform?: NodeJS.Platform) {
    this.include = opts.include.flatMap(expand).map((p) => compilePattern(p, platform));
    this.exclude = [...opts.exclude, ...opts.extendExclude].flatMap(expand).map((p) => compilePattern(p, platform));
  }
  /** The path the patterns are matched against: relative to the root with `/`, or the whole path outside it. */
  rel(abs: string): string {
    const r = path.relative(this.root, abs).split(path.sep).join('/');
    return r.startsWith('..') ? abs.split(path.sep).join('/') : r;
  }
  /**
   * `rel` of the entry `name` (at `abs`) of a folder whose `rel` is `dirRel`, without asking `path.relative` where the
   * folder is inside the root (the file walk's many entries): then the entry's is the folder's and its name.
   */
  childRel(dirRel: string, name: string, abs: string): string {
    // `rel` itself where the folder's is a whole path (it is outside the root, and an entry of a folder above the root
    // may be inside it) and for a name starting with `..` in the root (which `rel` reads as outside).
    if (dirRel ? path.isAbsolute(dirRel) : name.startsWith('..')) return this.rel(abs);
    return dirRel ? `${dirRel}/${name}` : name;
  }
  /** True when a path is excluded (`r`: its `rel`, when the caller has it). */
  excluded(abs: string, r = this.rel(abs)): boolean {
    return this.exclude.some((p) => matches(p, r));
  }
  /** True when a folder is excluded (a pattern matches the folder itself): its files are never walked. */
  excludedDir(abs: string, r = this.rel(abs)): boolean {
    return this.exclude.some((p) => matches(p, r) || matches(p, `${r}/`));
  }

  /** True when a path found while walking a folder should be scanned. */
  included(abs: string, r = this.rel(abs)): boolean {
    return this.include.some((p) => matches(p, r)) && !this.excluded(abs, r);
  }
}

/** Walks the given paths into file jobs; missing paths are returned separately. */
export function collectFiles(
  paths: string[],
  cwd: string,
  filter: FileFilter,
  /** Called with the number of files found so far, after each one (the listing goes on). */
  found?: (count: number) => void,
): { jobs: FileJob[]; skipped: SkippedFile[]; missing: string[] } {
  const jobs: FileJob[] = [];
  const skipped: SkippedFile[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const add = (abs: string, display: string) => {
    if (seen.has(abs)) return;
    seen.add(abs);
    jobs.push({ abs, display });
    found?.(jobs.length);
  };
  for (const arg of paths) {
    const abs = path.resolve(cwd, arg);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') missing.push(arg);
      else skipped.push({ path: arg, reason: `unreadable (${code})` });
      continue;
    }
    if (!st.isDirectory()) {
      if (!filter.excluded(abs)) add(abs, arg);
      continue;
    }
    const visited = new Set<string>();
    // `real`: the folder's real path, when its parent's is known and it is no symbolic link (then it is the parent's
    // with its name); `rel`: the path the filter matches (`FileFilter.rel`).
    const walk = (dir: string, display: string, rel: string, real?: string) => {
      if (real === undefined) {
        try {
          real = fs.realpathSync(dir);
        } catch {
          skipped.push({ path: display, reason: 'unreadable folder' });
          return;
        }
      }
      if (visited.has(real)) {
        skipped.push({ path: display, reason: 'symbolic link loop (folder already visited)' });
        return;
      }
      visited.add(real);
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        skipped.push({ path: display, reason: `unreadable folder (${(e as NodeJS.ErrnoException).code})` });
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const child = path.join(dir, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        const link = e.isSymbolicLink();
        if (link) {
          try {
            const t = fs.statSync(child);
            isDir = t.isDirectory();
            isFile = t.isFile();
          } catch (err) {
            const loop = (err as NodeJS.ErrnoException).code === 'ELOOP';
            skipped.push({ path: path.join(display, e.name), reason: loop ? 'symbolic link loop' : 'broken symbolic link' });
            continue;
          }
        }
        if (!isDir && !isFile) continue;
        const childRel = filter.childRel(rel, e.name, child);
        if (isDir) {
          if (!filter.excludedDir(child, childRel)) walk(child, path.join(display, e.name), childRel, link ? undefined : path.join(real, e.name));
        } else if (filter.included(child, childRel)) add(child, path.join(display, e.name));
      }
    };
    walk(abs, arg, filter.rel(abs));
  }
  return { jobs, skipped, missing };
}
