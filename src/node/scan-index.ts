import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { indexForNamesBy, indexMentioning, NameSet, ProjectIndex, type FileIndex, type IndexGroup, type ProjectOf } from '../core/project-index';
import { diskIndexSource } from './index-source';
import type { FileJob, FileOutcome } from './process-file';

/**
 * The functions whose contracts the pending findings depend on, which the project index must decide, by project. A
 * macro definition's severity follows the functions of its project that use it, in any file: their names are added to
 * its finding's contract first. (Given the outcomes of one project, it gives that project's names, as it would among
 * every project's outcomes: nothing here crosses projects.)
 */
export function contractNames(outcomes: readonly FileOutcome[], projectOf: ProjectOf): Map<string, Set<string>> {
  const users = new Map<string, string[]>();
  const macroKey = (o: FileOutcome, macro: string) => `${projectOf(o.abs)}\u0000${macro}`;
  for (const o of outcomes) {
    for (const p of o.pending) {
      const via = p.contract?.viaMacro;
      if (!via || !p.function) continue;
      const k = macroKey(o, via);
      users.set(k, [...(users.get(k) ?? []), p.function]);
    }
  }
  for (const o of outcomes) {
    for (const p of o.pending) {
      const def = p.contract?.definesMacro;
      const found = def && users.get(macroKey(o, def));
      if (found) p.contract!.functions = [...new Set([...p.contract!.functions, ...found])];
    }
  }
  const names = new Map<string, Set<string>>();
  for (const o of outcomes) {
    for (const p of o.pending) {
      if (!p.contract?.functions.length) continue;
      const project = projectOf(o.abs);
      let set = names.get(project);
      if (!set) names.set(project, (set = new Set()));
      for (const n of p.contract.functions) set.add(n);
    }
  }
  return names;
}

/** How long the index works on the scan's thread before it lets the workers' messages through (ms). */
const SLICE_MS = 4;

/**
 * The project index of a scan with worker threads, built on the scan's own thread while the workers analyse: a
 * project's rounds (see `indexForNames`) start as soon as its last file is done, and work a few milliseconds at a time,
 * so that the workers' batches still come and go. That thread is otherwise idle; before, the workers built the whole
 * index after the last file, a pause of about half a second at the end of a scan of the real-world set with every
 * rule, with one core often idle and the index's code compiled again in each worker.
 *
 * The index is the one the rounds over every project at once give, entry for entry and in the same order: a project's
 * rounds read only its own files and names (every file of a scan has a path, so none is of `ANY_PROJECT`), and `finish`
 * adds each round's files as the rounds over every project would, project after project within a round.
 */
export class IndexAlongScan {
  /** Files of each project not done yet. */
  private readonly left = new Map<string, number>();
  /** The outcomes of each project so far. */
  private readonly outcomes = new Map<string, FileOutcome[]>();
  /** Each project's rounds, once its index is done: the files each round indexed, in order. */
  private readonly rounds = new Map<string, FileIndex[][]>();
  /** Every project's work, started as its last file is done. */
  private readonly work: Array<Promise<void>> = [];
  private readonly order: Map<string, number>;
  private stopped = false;

  constructor(
    jobs: readonly FileJob[],
    private readonly projectOf: ProjectOf,
    private readonly signal: AbortSignal | undefined,
    private readonly abortError: () => Error,
  ) {
    this.order = new Map(jobs.map((j, i) => [j.abs, i]));
    for (const j of jobs) {
      const k = projectOf(j.abs);
      this.left.set(k, (this.left.get(k) ?? 0) + 1);
    }
  }

  /** Takes one file's outcome; the last of its project starts the project's index. */
  add(o: FileOutcome): void {
    const k = this.projectOf(o.abs);
    const list = this.outcomes.get(k);
    if (list) list.push(o);
    else this.outcomes.set(k, [o]);
    const left = this.left.get(k)! - 1;
    this.left.set(k, left);
    if (left === 0 && !this.stopped) {
      const done = this.indexProject(k, list ?? [o]);
      // (Its failure is `finish`'s; a scan that failed before never asks, and that is no unhandled rejection.)
      done.catch(() => undefined);
      this.work.push(done);
    }
  }

  /** Stops the work (the scan failed or was cancelled). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Waits for every project's index, and gives the scan's: each round's files added project after project, in the
   * order the projects first ask for a contract in the scan's outcomes (`outcomes`, in the jobs' order).
   */
  async finish(outcomes: readonly FileOutcome[]): Promise<ProjectIndex> {
    await Promise.all(this.work);
    if (this.signal?.aborted) throw this.abortError();
    const projects: string[] = [];
    const seen = new Set<string>();
    for (const o of outcomes) {
      if (!o.pending.some((p) => p.contract?.functions.length)) continue;
      const k = this.projectOf(o.abs);
      if (!seen.has(k)) projects.push(k), seen.add(k);
    }
    const index = new ProjectIndex(this.projectOf);
    const most = Math.max(0, ...projects.map((k) => this.rounds.get(k)?.length ?? 0));
    for (let r = 0; r < most; r++) for (const k of projects) for (const fi of this.rounds.get(k)?.[r] ?? []) index.set(fi);
    return index;
  }

  private async indexProject(project: string, outcomes: FileOutcome[]): Promise<void> {
    // (Let the message that brought the last file go on first.)
    await nextTurn();
    outcomes.sort((a, b) => this.order.get(a.abs)! - this.order.get(b.abs)!);
    const names = contractNames(outcomes, this.projectOf);
    if (!names.size || this.stopped) return;
    const files = outcomes.filter((o) => !o.skipped);
    const known = new Map(files.map((o) => [o.abs, o.text]));
    const texts = new Map<string, string | undefined>();
    const rounds: FileIndex[][] = [];
    let until = performance.now() + SLICE_MS;
    const round = async (groups: IndexGroup[]): Promise<FileIndex[]> => {
      const found: FileIndex[] = [];
      for (const g of groups) {
        const set = new NameSet(g.names);
        for (const p of g.paths) {
          if (this.stopped || this.signal?.aborted) return found;
          const indexed = indexMentioning(set, [diskIndexSource(p, known.get(p))], texts);
          // (A file indexed is not read again: its text is kept only for a later round, where it is asked about again.)
          if (indexed.length) {
            found.push(...indexed);
            texts.delete(p);
          }
          if (performance.now() > until) {
            await nextTurn();
            until = performance.now() + SLICE_MS;
          }
        }
      }
      rounds.push(found);
      return found;
    };
    await indexForNamesBy(
      names,
      files.map((o) => o.abs),
      round,
      new ProjectIndex(this.projectOf),
    );
    if (!this.stopped) this.rounds.set(project, rounds);
  }
}
