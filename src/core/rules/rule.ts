import { crashOf, worstOf } from '../api/singletons';
import type { FunctionInfo } from '../functions';
import type { MacroDef } from '../macros';
import type { TargetFacts } from '../options';
import type { ConsumeEvent, OwnershipAnalysis } from '../ownership';
import type { ReferenceAnalysis } from '../references/analysis';
import type { Dialect, SyntaxNode } from '../parser';
import { SINGLETON_SHORT } from '../syntax';
import type { Finding, Fix, Severity } from '../types';

/**
 * A finding whose severity depends on whether a function is Python-facing; the
 * project-wide index decides that after every file is analysed.
 */
export interface PendingFinding extends Finding {
  /** The singletons the finding is about (a project that defines its own `Py_None` drops those). */
  singletons?: number[];
  contract?: {
    /** Functions whose contract decides the severity (the enclosing one, or a macro's users). */
    functions: string[];
    /** The singletons returned without a reference. */
    singletons: number[];
    /** What returns it: "`f`" or "macro `X`". */
    subject: string;
    /** Only some paths lack the reference. */
    partial: boolean;
    /** The return sits in the expansion of this project macro. */
    viaMacro?: string;
    /** The finding is at the definition of this macro. */
    definesMacro?: string;
    /** Why the function looks like a method when no registration is found (its calling convention). */
    methodShape?: string;
    /** Inserts the `cpyref: returns-borrowed` marker above the function: offered when no registration is found. */
    marker?: Fix;
    /**
     * A finding of a reference rule whose severity depends on the contract: `facing` when
     * CPython calls the function (registered, or shaped like a method one level lower),
     * `helper` otherwise (`drop`: not reported for a helper). `registeredOnly`: a function whose
     * result a Python-facing caller returns is a helper here (it may take its parameter's reference).
     */
    reference?: { facing: Severity; helper: Severity | 'drop'; helperDetail?: string; registeredOnly?: boolean };
  };
}

/** What a rule sees of one function (or of a macro body analysed as a function). */
export interface FunctionContext {
  /** The original file text. */
  text: string;
  fn: FunctionInfo;
  /** Set when `fn` is a pseudo-function made from a macro body. */
  macro?: MacroDef;
  /** Added to every offset of the analysed tree (and of CFG spans) to get an offset in `text`. */
  offset: number;
  targets: TargetFacts;
  /** Functions whose contract decides the severity of a finding here. */
  contractFunctions: string[];
  /** The language of the file. */
  dialect: Dialect;
  eol: string;
  /** The shared ownership analysis (computed once, on first use). */
  ownership(): OwnershipAnalysis;
  /** The shared reference analysis: object identities and owned references (computed once, on first use). */
  references(): ReferenceAnalysis;
  /** The file's functions (lambdas included), in source order. */
  fileFunctions(): readonly FunctionInfo[];
  report(f: PendingFinding): void;
}

/** What a rule that looks at a whole file (`checkFile`) sees of it. */
export interface FileContext {
  text: string;
  root: SyntaxNode;
  /** The file's functions (lambdas included), in source order. */
  functions: readonly FunctionInfo[];
  targets: TargetFacts;
  dialect: Dialect;
  /** The function-like macros (of the file and its quoted includes) that drop some arguments in every definition (`discardingMacros`). */
  discardingMacros(): ReadonlyMap<string, ReadonlySet<number>>;
  report(f: PendingFinding): void;
}

/** A rule: an id, its documentation, and what it checks. */
export interface Rule {
  id: string;
  /** The level of its most certain findings. */
  defaultSeverity: Severity;
  /** One line for the rule table, `--help` and SARIF. */
  summary: string;
  /** Whether the rule offers fixes. */
  fixable: boolean;
  checkFunction(ctx: FunctionContext): void;
  /** A check of the whole file's tree, run when `interest` matches the file's text (its own test, apart from the singleton rules'). */
  checkFile?(ctx: FileContext): void;
  /** Whether `checkFile` may have something to say about a file with this text (a cheap test: no parse). */
  interest?(text: string): boolean;
  /** Its `checkFunction` reads `references()`: it runs on every function that calls the C API, not only on those that mention a singleton. */
  references?: boolean;
  /** Off unless the configuration turns it on (a rule whose precision is not yet established). */
  offByDefault?: boolean;
}

/** Node range mapped into the original text. */
export function span(ctx: FunctionContext, n: SyntaxNode): { start: number; end: number } {
  return { start: n.startIndex + ctx.offset, end: n.endIndex + ctx.offset };
}


/** A release or steal some path makes without owning the reference, with what the message needs. */
export interface UnownedUse {
  first: ConsumeEvent;
  singleton: number;
  /** Only some paths reaching the call lack the reference. */
  partial: boolean;
  /** Every unowned event of the group (for a fix, which must hold on all of them). */
  bad: ConsumeEvent[];
}

/** The calls (grouped by call and argument) where some path releases or steals a singleton it does not own. */
export function unownedUses(analysis: OwnershipAnalysis, kind: 'decref' | 'steal'): UnownedUse[] {
  const out: UnownedUse[] = [];
  for (const group of groupEvents(analysis.events.filter((e) => e.kind === kind))) {
    const bad = group.filter((e) => e.singleton >= 0 && e.state.owned[e.singleton] === 0 && !e.excused);
    if (!bad.length) continue;
    out.push({ first: bad[0], singleton: bad[0].singleton, partial: bad.length < group.length || analysis.truncated, bad });
  }
  return out;
}

/** A short message (marked latent where every target is ≥ 3.12) and the consequence of a count that goes down once per call. */
export function countMessage(head: string, s: number, latent: boolean): { message: string; detail: string } {
  return { message: latent ? `${head} (latent on CPython ≥ 3.12)` : head, detail: countDetail([s], latent) };
}

/** What each call does to the singletons' counts (`True/False` for several), latent where every target is ≥ 3.12. */
export function countDetail(singletons: number[], latent: boolean): string {
  const short = singletons.map((s) => SINGLETON_SHORT[s]).join('/');
  const worst = worstOf(singletons);
  return latent
    ? `Latent on the targeted CPython ≥ 3.12, whose singletons are immortal, but each call lowers ${short}'s reference count on CPython ≤ 3.11, which ${crashOf(worst)}.`
    : `Each call lowers ${short}'s reference count, and CPython ≤ 3.11 ${crashOf(worst)}.`;
}

/** Events grouped by call and argument, in source order. */
export function groupEvents(events: ConsumeEvent[]): ConsumeEvent[][] {
  const groups = new Map<string, ConsumeEvent[]>();
  for (const e of events) {
    const k = `${e.node.startIndex}:${e.node.endIndex}:${e.arg?.startIndex ?? -1}:${e.at?.start ?? -1}`;
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  return [...groups.values()].sort((a, b) => a[0].node.startIndex - b[0].node.startIndex);
}

const STATEMENTS = new Set(['expression_statement', 'declaration', 'return_statement', 'if_statement', 'while_statement', 'for_statement', 'do_statement', 'switch_statement']);

/** The statement that holds a node. */
export function statementOf(n: SyntaxNode): SyntaxNode | undefined {
  let x: SyntaxNode | null = n;
  while (x && !STATEMENTS.has(x.type)) x = x.parent;
  return x ?? undefined;
}
