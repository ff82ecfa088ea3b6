import { dialectOf } from '../core/dialect';
import { analyzeText, resolveFindings } from '../core/analyze';
import { fixToFixpoint, type FixedFile } from '../core/fix-file';
import type { CParser } from '../core/parser';
import { ProjectIndex, type ProjectOf } from '../core/project-index';
import type { Finding } from '../core/types';
import type { IncludeCache, ScanSettings } from './process-file';
import { ProjectRoots } from './projects';
import type { ScanResult, ScannedFile } from './scan';

/** What a scan knew of the project, rebuilt once for fixing its files. */
export interface FixProject {
  index: ProjectIndex;
  /** The borrowed declarations of a file's project. */
  borrowed(abs: string): Set<string>;
}

/** The project index and borrowed declarations of a scan's result. */
export function fixProject(scan: Pick<ScanResult, 'index' | 'declaredBorrowed'>, projectOf: ProjectOf = new ProjectRoots().projectOf): FixProject {
  const index = new ProjectIndex(projectOf);
  for (const fi of scan.index) index.set(fi);
  const borrowed = new Map(Object.entries(scan.declaredBorrowed).map(([k, v]) => [k, new Set(v)]));
  return { index, borrowed: (abs) => borrowed.get(projectOf(abs)) ?? new Set() };
}

/**
 * The fixes the CLI applies to one scanned file: its shown findings' safe fixes, then any
 * a re-analysis of the fixed text still offers, until none is left, keeping only fixes
 * that add no syntax error. `keep` says which findings of a text are shown (rules, hints,
 * baseline), so a fix is never applied for a finding the user does not see.
 */
export function fixScannedFile(
  parser: CParser,
  file: ScannedFile,
  shown: Finding[],
  project: FixProject,
  settings: ScanSettings,
  includes: IncludeCache,
  keep: (f: Finding, text: string) => boolean,
): FixedFile | undefined {
  if (file.text === undefined || !file.targets) return undefined;
  const { index, borrowed } = project;
  const original = file.text;
  const analyze = (text: string): Finding[] => {
    if (text === original) return shown;
    const r = analyzeText(parser, {
      path: file.abs,
      text,
      options: settings.options,
      projectLimitedApi: settings.projectLimitedApi || file.targets!.limitedApi,
      readInclude: (from, name) => includes.resolve(from, name),
      rules: settings.rules ? new Set(settings.rules) : undefined,
    });
    return resolveFindings(r, index.factsFor(file.abs, borrowed(file.abs)), settings.options).filter((f) => keep(f, text));
  };
  return fixToFixpoint(parser.for(dialectOf(file.abs, original, settings.options.cppFiles)), original, analyze);
}
