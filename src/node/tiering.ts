/**
 * V8's tiering for the CLI's process.
 *
 * V8 compiles hot functions with its optimising compiler on background threads. With its
 * defaults, a scan with two workers spent about half as much CPU there as in the analysis
 * itself (9–10 s against 17–18 s on the real-world set): the analysis' large
 * functions (the reference evaluator, the dataflow solver) are compiled with everything
 * they call inlined, and again after each deoptimisation. One thread hides most of it on
 * the idle core, but each of the scan's worker threads has its own isolate and compiles the
 * same code again, on the cores the workers need. Optimising later (a larger interrupt
 * budget) and inlining less cuts that work; the analysis runs no slower for it (see the
 * README's *Speed with every rule on*).
 *
 * The flags are process-wide, so only the CLI sets them, in its own process, first thing in
 * its entry point (`bin/cpyref.js`), before the analysis is compiled; `bench:scan`, which
 * runs the CLI's `main` in its own process, does the same. The extension host shares V8 with
 * other extensions and keeps its defaults; so does the language server, whose work is the
 * editor's (a function at a time), not a scan's.
 */
import * as v8 from 'node:v8';

/**
 * The flags, as V8 spells them. The last one turns off V8's concurrent marking: the old generation is then marked in
 * steps on the thread that allocates, instead of on a helper thread beside it. With two workers on two cores the
 * helper has no core of its own; it takes time from the other worker and marks again what the worker changes meanwhile.
 * Alternating the two builds on the real-world set with every rule (six runs each, two workers): median wall time
 * 12.3 -> 11.6 s, CPU time 23.4 -> 22.2 s, peak RSS within the noise (380 and 387 MB). It can be set once the process
 * runs: V8 sets a heap up the same way with or without it as long as parallel marking stays on, and reads it when a
 * marking cycle starts (none has in the entry point). V8's `--single-threaded-gc`, which also turns parallel marking
 * off, cannot: set at run time it aborts the process. In one thread (`--jobs 1`, no heap cap) a scan of the real-world
 * set is faster with it too, but its peak RSS is higher (about 470 MB instead of 380).
 *
 * Tried for the same reason, and left off: collecting the young generation on the allocating thread alone
 * (`--no-parallel-scavenge`). It took about 1 s of CPU off V8's own threads and about 7 % off the wall time (six runs
 * each, alternating), but peak RSS rose with it: 377-406 MB in six runs of `bench:scan --all-rules`, over the 400 MB
 * budget in three, against 350-399 MB in six runs without it. Sweeping on the allocating thread too
 * (`--no-concurrent-sweeping`) saved another 0.15 s of CPU, with the same rise.
 */
export const SCAN_V8_FLAGS: readonly string[] = ['--max-inlined-bytecode-size-cumulative=200', '--interrupt-budget=400000', '--no-concurrent-marking'];

/** Sets `SCAN_V8_FLAGS` for this process (setting them again changes nothing); code compiled from then on, in any thread, follows them. */
export function tuneTieringForScan(): void {
  for (const f of SCAN_V8_FLAGS) v8.setFlagsFromString(f);
}
