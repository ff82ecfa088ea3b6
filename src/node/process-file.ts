import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText, cannotHaveFindings, fileRulesInterested, type SkippedFunction } from '../core/analyze';
import { includeBySuffix, quotedIncludes } from '../core/preprocess';
import { collectSingletonMacros } from '../core/macros';
import { borrowedDeclarationsIn } from '../core/project-index';
import type { Options, TargetFacts } from '../core/options';
import { BUILD_FILES, buildFileAsksLimitedApi, targetFacts } from '../core/options';
import { GrammarNotLoaded, type CParser, type ParserLocation } from '../core/parser';
import type { PendingFinding } from '../core/rules/rule';
import { decodeSource, looksBinary, type Encoding } from '../core/text';

/** A file to scan: its absolute path and the path shown to the user. */
export interface FileJob {
  abs: string;
  display: string;
}

/** Settings every file of a scan shares (sent to workers once). */
export interface ScanSettings {
  options: Options;
  rules?: string[];
  reportUnusedIgnores: boolean;
  /** Absolute folders searched for quoted includes, after the including file's own folder. */
  includeDirs: string[];
  projectLimitedApi: boolean;
  /** Where workers find the wasm files (the extension's bundle folder); default node_modules. */
  parserLocation?: ParserLocation;
  /** The project's files (absolute), where an include that does not resolve by path is looked for by name. */
  projectFiles?: string[];
  /** Tests only: a worker with a capped heap runs out of it at this file (the scan must replace it and go on). */
  testOutOfMemoryAt?: string;
  /** Set by the scan for a worker whose heap is capped. */
  heapCapped?: boolean;
}

/** The result of scanning one file, before project-wide severities are decided. */
export interface FileOutcome {
  abs: string;
  display: string;
  /** Why the file was not analysed. */
  skipped?: string;
  pending: PendingFinding[];
  targets?: TargetFacts;
  /** The decoded text; kept only when there are findings. */
  text?: string;
  /** SHA-1 of the bytes read, so a fix can refuse a file that changed since. */
  hash?: string;
  encoding?: Encoding;
  bom?: boolean;
  size: number;
  parsed: boolean;
  skippedFunctions: SkippedFunction[];
  errorRegions: number;
  borrowedDecls: string[];
}

/** Caches header texts per process (or worker). */
export class IncludeCache {
  private readonly texts = new Map<string, string | null>();
  private byName: Map<string, string[]> | undefined;
  constructor(
    private readonly dirs: string[],
    private readonly maxSize: number,
    private readonly projectFiles: readonly string[] = [],
  ) {}

  /** Reads a header once; null when absent, unreadable or too large. */
  read(abs: string): string | null {
    if (!this.texts.has(abs)) {
      let text: string | null = null;
      try {
        const st = fs.statSync(abs);
        if (st.isFile() && st.size <= this.maxSize) text = decodeSource(fs.readFileSync(abs)).text;
      } catch {
        text = null;
      }
      this.texts.set(abs, text);
    }
    return this.texts.get(abs)!;
  }

  /** Resolves `#include "name"` from `from`. */
  resolve(from: string, name: string): { path: string; text: string } | undefined {
    for (const dir of [path.dirname(from), ...this.dirs]) {
      const abs = path.resolve(dir, name);
      const text = this.read(abs);
      if (text !== null) return { path: abs, text };
    }
    // Source trees often differ from their installed include layout: fall back to the project's files of that name.
    if (!this.projectFiles.length) return undefined;
    if (!this.byName) {
      this.byName = new Map();
      for (const f of this.projectFiles) {
        const b = path.basename(f);
        const list = this.byName.get(b);
        if (list) list.push(f);
        else this.byName.set(b, [f]);
      }
    }
    const found = includeBySuffix(name, this.byName.get(path.basename(name)) ?? []);
    const text = found === undefined ? null : this.read(found);
    return found !== undefined && text !== null ? { path: found, text } : undefined;
  }

  private readonly macroCache = new Map<string, string[]>();

  /** Names of singleton macros in the quoted includes of `text`. */
  macroNames(from: string, text: string): string[] {
    const names: string[] = [];
    for (const name of quotedIncludes(text)) {
      const inc = this.resolve(from, name);
      if (!inc) continue;
      let found = this.macroCache.get(inc.path);
      if (!found) {
        found = collectSingletonMacros(inc.text).map((d) => d.name);
        this.macroCache.set(inc.path, found);
      }
      names.push(...found);
    }
    return names;
  }
}

/** The outcome of a file that was not analysed, with the reason. */
export function skip(job: FileJob, reason: string, size = 0): FileOutcome {
  return { ...job, skipped: reason, pending: [], size, parsed: false, skippedFunctions: [], errorRegions: 0, borrowedDecls: [] };
}

/** Reads, checks and analyses one file. Never throws for bad input: it returns a skip reason. */
export function processFile(parser: CParser, job: FileJob, settings: ScanSettings, includes: IncludeCache, bytesOverride?: Uint8Array): FileOutcome {
  let bytes: Uint8Array;
  if (bytesOverride !== undefined) bytes = bytesOverride;
  else {
    try {
      const st = fs.statSync(job.abs);
      if (!st.isFile()) return skip(job, 'not a regular file');
      if (st.size > settings.options.maxFileSize) return skip(job, `larger than the size limit (${st.size} bytes > ${settings.options.maxFileSize})`, st.size);
      bytes = fs.readFileSync(job.abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return skip(job, code === 'ENOENT' ? 'deleted before it could be read' : `unreadable (${code ?? (e as Error).message})`);
    }
  }
  if (bytes.length > settings.options.maxFileSize) return skip(job, `larger than the size limit (${bytes.length} bytes > ${settings.options.maxFileSize})`, bytes.length);
  if (looksBinary(bytes)) return skip(job, 'binary (a NUL byte near the start)', bytes.length);
  // The cheap checks read the bytes as Latin-1 (every name they look for is ASCII); only a
  // file that may hold a finding is decoded properly.
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (/^[^\n]*Generated by Cython/.test(raw)) return skip(job, 'generated by Cython', bytes.length);
  // (The project macros of the headers last: finding them reads and searches each header the file includes.)
  if (
    bytesOverride === undefined &&
    cannotHaveFindings(raw) &&
    !fileRulesInterested(raw, settings.options, settings.rules ? new Set(settings.rules) : undefined) &&
    cannotHaveFindings(raw, raw.includes('#include') ? includes.macroNames(job.abs, raw) : [])
  ) {
    return {
      ...job,
      pending: [],
      size: bytes.length,
      parsed: false,
      skippedFunctions: [],
      errorRegions: 0,
      borrowedDecls: borrowedDeclarationsIn(raw),
      targets: targetFacts(settings.options, raw, settings.projectLimitedApi),
    };
  }
  // (An ASCII file's text is `raw` itself: a large file is not held twice.)
  const decoded = decodeSource(bytes, raw);
  const text = decoded.text;
  const base: FileOutcome = {
    ...job,
    pending: [],
    encoding: decoded.encoding,
    bom: decoded.bom,
    size: bytes.length,
    parsed: false,
    skippedFunctions: [],
    errorRegions: 0,
    borrowedDecls: borrowedDeclarationsIn(text),
  };
  let result: ReturnType<typeof analyzeText>;
  try {
    result = analyzeText(parser, {
      path: job.abs,
      text,
      options: settings.options,
      projectLimitedApi: settings.projectLimitedApi,
      readInclude: (from, name) => includes.resolve(from, name),
      rules: settings.rules ? new Set(settings.rules) : undefined,
      reportUnusedIgnores: settings.reportUnusedIgnores,
    });
  } catch (e) {
    // The caller loads the grammar and processes the file again.
    if (e instanceof GrammarNotLoaded) throw e;
    // One file the analysis cannot handle must not end the scan of the others.
    return skip(job, `internal error while analysing: ${(e as Error).message}`, bytes.length);
  }
  return {
    ...base,
    parsed: true,
    pending: result.findings,
    targets: result.targets,
    text: result.findings.length ? text : undefined,
    // Only files with findings can be fixed, so only they need the hash that guards a fix.
    hash: result.findings.length ? createHash('sha1').update(bytes).digest('hex') : undefined,
    skippedFunctions: result.skippedFunctions,
    errorRegions: result.stats.errorRegions,
  };
}

/** True when a build file in `root` asks for a limited-API (abi3) build. */
export function projectAsksLimitedApi(root: string): boolean {
  return BUILD_FILES.some((f) => {
    try {
      return buildFileAsksLimitedApi(fs.readFileSync(path.join(root, f), 'utf8'));
    } catch {
      return false;
    }
  });
}
