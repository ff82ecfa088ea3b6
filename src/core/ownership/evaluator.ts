/** The transfer function of the ownership analysis: expressions and statements evaluated over path states. */
import { type Span } from '../cfg';
import { FORMAT_CALLS, STEALING } from '../api/stealing';
import { summaryOf, type Summary } from '../api/summaries';
import type { MacroExpander } from '../macros';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, DECREF_CALLS, declaredName, SETREF_CALLS, INCREF_CALLS, namedKids, NEWREF_CALLS, SINGLETON_PATTERN, SINGLETONS, singletonIndex, snippet, STRUCT_SPELLINGS, initialValue, declaredLocal, WordSet } from '../syntax';
import { mapped } from '../arrays';
import { OTHER, PathState, StealNote, MAX_DEBTS, withFields, withOwned, withStep, unpaidSites, ConsumeEvent, UnpaidDebt, Pair, setVar, dedupe } from './state';
import { directSingletonOf } from './conditions';

/** The calls that make a statement matter to the singleton analysis (with its tracked locals and the file's macros, see `isRelevant`). */
const RELEVANT_CALLS = [...INCREF_CALLS, ...DECREF_CALLS, ...NEWREF_CALLS, ...Object.keys(STEALING), ...Object.keys(FORMAT_CALLS), ...SETREF_CALLS];
const SINGLETON_RE = new RegExp(SINGLETON_PATTERN);

/** What the replay after the fixpoint reports: each release or steal, each steal left unrepaid, each steal repaid. */
export interface EventSink {
  consumed(e: ConsumeEvent): void;
  unpaid(d: UnpaidDebt): void;
  paid(site: number): void;
}

/** Evaluates expressions over path states: the transfer function of the ownership analysis. */
export class Evaluator {
  /** Where the events of the replay go; none while the fixpoint is computed. */
  private sink: EventSink | undefined;
  private readonly sites = new Map<string, number>();
  private readonly sitesByCall = new Map<number, number[]>();
  /** Where each steal site is in the source, by site id: orders the open debts. */
  private readonly sitePos: number[] = [];
  /** The words that make a statement matter (see `isRelevant`). */
  private readonly relevantWords: WordSet;

  constructor(
    readonly tracked: Map<string, number>,
    private readonly expander: MacroExpander | undefined,
  ) {
    this.relevantWords = new WordSet([...tracked.keys(), ...(expander?.names() ?? []), ...RELEVANT_CALLS]);
  }

  /** Whether a statement names a singleton, a tracked local, a macro that mentions a singleton or counts references, or a call that does. */
  isRelevant(node: SyntaxNode): boolean {
    // (Asked once per path state at a node. The words are looked up in a set: a pattern of them, made per function, cost more to compile than to run.)
    let r = this.relevantCache.get(node.id);
    if (r === undefined) {
      const text = node.text;
      this.relevantCache.set(node.id, (r = SINGLETON_RE.test(text) || this.relevantWords.in(text)));
    }
    return r;
  }
  private readonly relevantCache = new Map<number, boolean>();

  /** Runs `f` (the replay after the fixpoint) with the events going to `sink`. */
  withSink<T>(sink: EventSink, f: () => T): T {
    this.sink = sink;
    try {
      return f();
    } finally {
      this.sink = undefined;
    }
  }

  private span(node: SyntaxNode, at: Span | undefined): Span {
    return at ?? { start: node.startIndex, end: node.endIndex };
  }

  /** The id of a steal site (a call's argument, or a macro use). */
  private site(node: SyntaxNode, arg: SyntaxNode | undefined, at: Span | undefined): number {
    const k = `${at?.start ?? -1}:${node.startIndex}:${arg?.startIndex ?? -1}`;
    let id = this.sites.get(k);
    if (id === undefined) {
      id = this.sites.size;
      this.sites.set(k, id);
      this.sitePos.push(at?.start ?? arg?.startIndex ?? node.startIndex);
      const ids = this.sitesByCall.get(node.startIndex);
      if (ids) ids.push(id);
      else this.sitesByCall.set(node.startIndex, [id]);
    }
    return id;
  }

  private consume(node: SyntaxNode, at: Span | undefined, st: PathState, s: number, kind: 'decref' | 'steal', arg?: SyntaxNode, when?: 'always' | 'on-success'): PathState {
    const site = kind === 'steal' ? this.site(node, arg, at) : undefined;
    // `if (x == Py_None) Py_DECREF(Py_None);` releases x's reference when the function may own x.
    const excused = kind === 'decref' && st.owned[s] === 0 && (st.mayOwn & (1 << s)) !== 0;
    this.sink?.consumed({ node, arg, at, singleton: s, kind, when, site, excused, state: st });
    if (kind === 'decref') {
      if (st.owned[s] === 0 && !excused && unpaidSites(st, s).length) {
        // Released with a steal still unrepaid: that steal is reported here, and its debt closed.
        if (this.sink) for (const d of unpaidSites(st, s)) this.sink.unpaid({ site: d, singleton: s, state: st, released: true });
        return withFields(st, { debts: st.debts.filter((d) => d % 8 !== s) });
      }
      return withOwned(st, s, -1);
    }
    const sp = this.span(node, at);
    const lastSteal = st.lastSteal.slice();
    lastSteal[s] = { site: site!, callee: calleeName(node) ?? 'the call', when: when ?? 'always', ...sp };
    let next = withFields(st, { lastSteal });
    if (st.owned[s] === 0) {
      // A steal of a reference the function does not own is a debt that a later incref of
      // the same singleton on the same path repays (`PyTuple_SET_ITEM(t, i, Py_None); Py_INCREF(Py_None);`).
      if (next.debts.length < MAX_DEBTS) next = withFields(next, { debts: this.withDebt(next.debts, site! * 8 + s) });
      return next;
    }
    // A steal on success only leaves the reference with the caller when the call fails; the
    // analysis cannot tell which, so it keeps the count (no false report of a later decref).
    return when === 'on-success' ? next : withOwned(next, s, -1);
  }

  /**
   * Adds a debt, keeping the list ordered by the steal's position in the source: the open
   * debts are a multiset, so paths that stole the same things in another order (around a
   * loop) reach the same state instead of one state per order.
   */
  private withDebt(debts: number[], debt: number): number[] {
    const after = (a: number, b: number) => {
      const pa = this.sitePos[Math.floor(a / 8)];
      const pb = this.sitePos[Math.floor(b / 8)];
      return pa !== pb ? pa > pb : a > b;
    };
    let i = debts.length;
    while (i > 0 && after(debts[i - 1], debt)) i--;
    return [...debts.slice(0, i), debt, ...debts.slice(i)];
  }

  /** An incref of singleton `s`: repays its open steal earliest in the source, else adds an owned reference. */
  private incref(st: PathState, s: number): PathState {
    const i = st.debts.findIndex((d) => d % 8 === s);
    let lastSteal = st.lastSteal;
    if (lastSteal[s]) {
      lastSteal = lastSteal.slice();
      (lastSteal as Array<StealNote | undefined>)[s] = undefined;
    }
    if (i < 0) return withOwned(withFields(st, { lastSteal }), s, +1);
    this.sink?.paid(Math.floor(st.debts[i] / 8));
    return withFields(st, { debts: st.debts.filter((_, k) => k !== i), lastSteal });
  }

  /** The ids of the steal sites of a call (known once the call was evaluated). */
  sitesOf(call: SyntaxNode): number[] {
    return this.sitesByCall.get(call.startIndex) ?? [];
  }

  /** Records the debts still open where a path leaves the function. */
  recordExit(st: PathState): void {
    if (this.sink) for (const d of st.debts) this.sink.unpaid({ site: Math.floor(d / 8), singleton: d % 8, state: st });
  }

  /** Evaluates a statement-level node (expression or declaration). */
  statement(node: SyntaxNode, st: PathState, at: Span | undefined): PathState[] {
    if (node.type === 'declaration' && node.childForFieldName('value')) {
      // A C++ condition's declaration (`if (T *x = v)`): one declarator, its value beside it.
      const name = declaredName(node.childForFieldName('declarator'));
      const i = name ? this.tracked.get(name.text) : undefined;
      return mapped(this.expr(node.childForFieldName('value')!, st, at), ([s, v]) => (i === undefined ? s : this.assign(s, i, v, name!.text, node, at)));
    }
    if (node.type === 'declaration') {
      let states = [st];
      for (const d of namedKids(node)) {
        const value = initialValue(d);
        if (d.type !== 'init_declarator' && !value) {
          const name = declaredName(d);
          const i = name ? this.tracked.get(name.text) : undefined;
          if (i !== undefined) states = mapped(states, (s) => setVar(s, i, OTHER));
          continue;
        }
        const name = declaredLocal(d);
        if (!value) {
          // `T x{a, b}`, `int rc[2] = {f(), g()}`: not one value the analysis follows, but its calls still run.
          const init = d.childForFieldName('value');
          if (init) {
            const next: PathState[] = [];
            for (const s of states) for (const [s2] of this.expr(init, s, at)) next.push(s2);
            states = dedupe(next);
          }
          const i = name ? this.tracked.get(name.text) : undefined;
          if (i !== undefined) states = mapped(states, (s) => setVar(s, i, OTHER));
          continue;
        }
        const i = name ? this.tracked.get(name.text) : undefined;
        const next: PathState[] = [];
        for (const s of states) {
          for (const [s2, v] of this.expr(value, s, at)) next.push(i === undefined ? s2 : this.assign(s2, i, v, name!.text, d, at));
        }
        states = next;
      }
      return states;
    }
    return mapped(this.expr(node, st, at), ([s]) => s);
  }

  private assign(s: PathState, i: number, v: number, name: string, node: SyntaxNode, at: Span | undefined): PathState {
    const next = setVar(s, i, v);
    if (v >= 0 && s.vars[i] !== v) {
      const sp = this.span(node, at);
      const rhs = node.type === 'assignment_expression' || node.type === 'declaration' ? node.childForFieldName(node.type === 'declaration' ? 'value' : 'right') : node.type === 'call_expression' ? null : initialValue(node);
      const value = !at && rhs && directSingletonOf(rhs) === v ? { start: rhs.startIndex, end: rhs.endIndex } : undefined;
      return withStep(next, { ...sp, message: `\`${name}\` holds \`${SINGLETONS[v]}\` from here on this path`, entry: { local: name, singleton: v, value } });
    }
    return next;
  }

  /** All (state, value) pairs an expression can produce. */
  expr(node: SyntaxNode, st: PathState, at: Span | undefined): Pair[] {
    switch (node.type) {
      case 'parenthesized_expression': {
        const inner = namedKids(node);
        return inner.length ? this.expr(inner[inner.length - 1], st, at) : [[st, OTHER]];
      }
      case 'cast_expression': {
        const v = node.childForFieldName('value');
        return v ? this.expr(v, st, at) : [[st, OTHER]];
      }
      case 'lambda_expression':
        // A lambda's body runs when it is called: it is analysed as a function of its own.
        return [[st, OTHER]];
      case 'type_identifier':
      case 'identifier': {
        const s = singletonIndex(node.text);
        if (s >= 0) return [[st, s]];
        const i = this.tracked.get(node.text);
        if (i !== undefined) return [[st, st.vars[i]]];
        // A type name is an expression only in C++'s `T *x(v)` (see `initialValue`).
        if (node.type === 'type_identifier') return [[st, OTHER]];
        const exp = this.expander?.expression(node);
        if (exp) return this.expr(exp, st, at ?? this.span(node, at));
        return [[st, OTHER]];
      }
      case 'pointer_expression': {
        const arg = node.childForFieldName('argument');
        if (node.child(0)?.type === '&' && arg?.type === 'identifier' && arg.text in STRUCT_SPELLINGS) return [[st, STRUCT_SPELLINGS[arg.text]]];
        return arg ? mapped(this.expr(arg, st, at), ([s]) => [s, OTHER] as Pair) : [[st, OTHER]];
      }
      case 'call_expression':
        return this.call(node, st, at);
      case 'conditional_expression': {
        const cond = node.childForFieldName('condition');
        // GNU `a ?: b` has no middle operand: its value when true is the condition's.
        const arms = [node.childForFieldName('consequence') ?? cond, node.childForFieldName('alternative')];
        const out: Pair[] = [];
        for (const [s] of cond ? this.expr(cond, st, at) : [[st, OTHER] as Pair]) {
          arms.forEach((arm, k) => {
            if (!arm) return;
            const sp = this.span(arm, at);
            // Nested conditionals are not spelled out (their text would make this quadratic).
            const shown = arm.type === 'conditional_expression' ? 'a nested conditional' : `\`${snippet(arm.endIndex - arm.startIndex > 200 ? arm.text.slice(0, 60) : arm.text, 30)}\``;
            const stepped = withStep(s, { ...sp, message: `the ${k === 0 ? 'first' : 'second'} arm ${shown} is chosen on this path` });
            out.push(...(arm === cond ? [[stepped, OTHER] as Pair] : this.expr(arm, stepped, at)));
          });
        }
        return out;
      }
      case 'assignment_expression': {
        const left = node.childForFieldName('left');
        const right = node.childForFieldName('right');
        const op = node.childForFieldName('operator')?.text ?? node.child(1)?.text;
        if (!right) return [[st, OTHER]];
        const i = left?.type === 'identifier' ? this.tracked.get(left.text) : undefined;
        const pairs = this.expr(right, st, at);
        if (i === undefined || op !== '=') return mapped(pairs, ([s]) => [s, OTHER]);
        return mapped(pairs, ([s, v]) => [this.assign(s, i, v, left!.text, node, at), v]);
      }
      case 'comma_expression': {
        const l = node.childForFieldName('left');
        const r = node.childForFieldName('right');
        const out: Pair[] = [];
        for (const [s] of l ? this.expr(l, st, at) : [[st, OTHER] as Pair]) out.push(...(r ? this.expr(r, s, at) : [[s, OTHER] as Pair]));
        return out;
      }
      default: {
        if (!this.isRelevant(node)) return [[st, OTHER]];
        let states = [st];
        for (const k of namedKids(node)) {
          const next: PathState[] = [];
          for (const s of states) for (const [s2] of this.expr(k, s, at)) next.push(s2);
          states = dedupe(next);
        }
        return mapped(states, (s) => [s, OTHER]);
      }
    }
  }

  /**
   * A call: CPython's reference-count and cast macros apply their summary, a project macro
   * is expanded, `Py_SETREF` assigns and releases, and any other call applies what its
   * summary says of each argument (steals), then forgets what `&local` arguments held.
   */
  private call(node: SyntaxNode, st: PathState, at: Span | undefined): Pair[] {
    const name = calleeName(node) ?? '';
    const args = argList(node);
    const summary = summaryOf(name, args.map((a) => a.text));
    if (summary?.builtin) return this.applyBuiltin(node, summary, args, st, at);
    if (this.expander) {
      const exp = this.expander.expression(node);
      if (exp) return this.expr(exp, st, at ?? this.span(node, at));
    }
    if (summary?.setref && args[0].type === 'identifier') {
      // Py_SETREF(dst, src): dst = src, then the old value is released.
      const i = this.tracked.get(args[0].text);
      return mapped(this.expr(args[1], st, at), ([s, v]) => {
        const old = i !== undefined ? s.vars[i] : OTHER;
        let next = i !== undefined ? this.assign(s, i, v, args[0].text, node, at) : s;
        if (old >= 0) next = this.consume(node, at, next, old, 'decref', args[0]);
        return [next, OTHER] as Pair;
      });
    }
    let states: PathState[] = [st];
    args.forEach((a, k) => {
      const effect = summary?.args.get(k);
      const when = effect?.kind === 'steal' ? effect.when : undefined;
      const next: PathState[] = [];
      for (const s of states) {
        for (const [s2, v] of this.expr(a, s, at)) {
          if (!when) next.push(s2);
          else if (v >= 0) next.push(this.consume(node, at, s2, v, 'steal', a, when));
          else {
            // Paths that hand over another object are recorded too, so a finding knows it holds on some paths only.
            this.sink?.consumed({ node, arg: a, at, singleton: OTHER, kind: 'steal', when, site: this.site(node, a, at), state: s2 });
            next.push(s2);
          }
        }
      }
      states = dedupe(next);
    });
    // A call given `&local` may store anything there: the local keeps its value or holds another object.
    for (const a of args) {
      const target = a.type === 'pointer_expression' && a.child(0)?.type === '&' ? a.childForFieldName('argument') : null;
      const i = target?.type === 'identifier' ? this.tracked.get(target.text) : undefined;
      if (i !== undefined) {
        const next: PathState[] = [];
        for (const s of states) next.push(s, setVar(s, i, OTHER));
        states = dedupe(next);
      }
    }
    return mapped(states, (s) => [s, OTHER]);
  }

  /** A reference-count or cast macro: its one argument's value, taken, released or passed through. */
  private applyBuiltin(node: SyntaxNode, summary: Summary, args: SyntaxNode[], st: PathState, at: Span | undefined): Pair[] {
    const ret = summary.returns;
    if (ret?.kind === 'arg') return this.expr(args[ret.arg], st, at);
    if (ret?.kind === 'new-ref-to-arg') return mapped(this.expr(args[ret.arg], st, at), ([s, v]) => [v >= 0 ? withOwned(s, v, +1) : s, v]);
    const effect = summary.args.get(0);
    if (effect?.kind === 'incref') return mapped(this.expr(args[0], st, at), ([s, v]) => [v >= 0 ? this.incref(s, v) : s, OTHER]);
    if (effect?.kind !== 'decref') return mapped(this.expr(args[0], st, at), ([s]) => [s, OTHER]);
    return mapped(this.expr(args[0], st, at), ([s, v]) => {
      if (v < 0) this.sink?.consumed({ node, arg: args[0], at, singleton: OTHER, kind: 'decref', state: s });
      let next = v >= 0 ? this.consume(node, at, s, v, 'decref', args[0]) : s;
      // Py_CLEAR sets its argument to NULL.
      const i = effect.clears && args[0].type === 'identifier' ? this.tracked.get(args[0].text) : undefined;
      if (i !== undefined) next = setVar(next, i, OTHER);
      return [next, OTHER];
    });
  }
}
