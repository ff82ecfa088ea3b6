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

/** The flags, as V8 spells them. */
export const SCAN_V8_FLAGS: readonly string[] = ['--max-inlined-bytecode-size-cumulative=200', '--interrupt-budget=400000'];

/** Sets `SCAN_V8_FLAGS` for this process (setting them again changes nothing); code compiled from then on, in any thread, follows them. */
export function tuneTieringForScan(): void {
  for (const f of SCAN_V8_FLAGS) v8.setFlagsFromString(f);
}
