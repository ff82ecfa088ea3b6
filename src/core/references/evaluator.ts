/** The transfer function of the reference analysis: expressions evaluated over path states with object identities. */
import type { Span } from '../cfg';
import { API_PARAMS, API_RETURNS, type ReturnKind } from '../api/returns.generated';
import { FORMAT_CALLS, formatStolenArgs, STEALING } from '../api/stealing';
import { apiParamEffects, DECREF_CALLS, SETREF_CALLS, summaryOf, type Summary } from '../api/summaries';
import type { BorrowingParams } from './summaries';
import { mapped, mappedNumbers } from '../arrays';
import { hintedCondition, type MacroDef, type MacroExpander } from '../macros';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, declaredLocal, enclosing, initialValue, namedKids, SINGLETONS, unparenthesized, unwrap } from '../syntax';
import { NameSet } from '../project-index';
import { EXTRA_NEW, EXTRA_NEW_NAMES, NO_NAMES, type FileNames, type NewFunctions } from './names';
import { UNKNOWN, NULLV, NONNULL, MAX_OWNED, MAX_OBJECTS, type Origin, type RefEvent, type RefPair, type RefState, type Site, type Mark, addObj, makeObj, makeState, newObj, NO_OBJS, objOf, objWith, setVar, withObj, withoutObj, type RefKeys } from './state';

/** Calls that free an object outright (the counterpart of `PyObject_New` when its set-up fails). */
const FREE_NAMES = ['PyObject_Del', 'PyObject_Free', 'PyObject_GC_Del', 'PyObject_DEL', 'PyObject_FREE', 'tp_free'];
const FREE_CALLS = new RegExp(`^(?:${FREE_NAMES.join('|')})$`);
/** Borrowed results that are never NULL for a valid argument. */
const NEVER_NULL = /^(?:PyModule_GetDict|PyTuple_GET_ITEM|PyList_GET_ITEM|PySequence_Fast_GET_ITEM|PyEval_GetBuiltins)$/;
/** Accessors that give a pointer into an object's own storage: never NULL for an object. */
const STORAGE_POINTERS = /^(?:PyBytes_AS_STRING|PyByteArray_AS_STRING|PyUnicode_DATA|PyUnicode_1BYTE_DATA|PyUnicode_2BYTE_DATA|PyUnicode_4BYTE_DATA|PyTuple_ITEMS|PySequence_Fast_ITEMS)$/;
/** Calls that return their first argument. */
const PASS_THROUGH = /^(?:PyObject_Init|PyObject_InitVar)$/;
/** Borrowed results that are not objects the function handles as such (a type in a heap type's dealloc is released on purpose). */
const NOT_OBJECTS = /^(?:Py_TYPE|PyErr_Occurred)$/;
/** Calls that return a reference to an item a container holds (it stays alive while the container does). */
const CONTAINER_GETS = /^(?:PySequence_GetItem|PySequence_Fast_GET_ITEM|PyObject_GetItem|PyMapping_GetItemString|PyList_GetItemRef|PyDict_GetItemRef|PyDict_GetItemStringRef)$/;
/** Calls that run Python code with their arguments, which may keep a reference to them (`parent.append(child)`). */
const CALLS_PYTHON = /^(?:_?PyObject_(?:Call\w*|Vectorcall\w*)|PyEval_Call\w*)$/;
/** Calls that store into their `&x` arguments borrowed references (`O` units). */
/** The C-API's argument parsers: an `O` unit stores a borrowed reference. */
export const PARSE_CALLS = /^(?:PyArg_ParseTuple|PyArg_ParseTupleAndKeywords|PyArg_Parse|PyArg_UnpackTuple|_PyArg_ParseTuple_SizeT|_PyArg_ParseTupleAndKeywords_SizeT|PyArg_VaParse|PyArg_VaParseTupleAndKeywords)$/;
/** Calls that take an argument's reference into the container given as their first argument. */
const CONTAINER_SETS = /^(?:PyTuple_SET_ITEM|PyTuple_SetItem|PyList_SET_ITEM|PyList_SetItem|PyStructSequence_SET_ITEM|PyStructSequence_SetItem|PyCell_SET)$/;
/** Calls that neither keep nor release their arguments though refcounts.dat does not list them (object-inspecting macros). */
const INSPECTING = /^(?:Py_TYPE|Py_SIZE|Py_REFCNT|Py_Is|Py_IsNone|Py_IsTrue|Py_IsFalse|Py_IS_TYPE|Py_SET_SIZE|Py_SET_TYPE|Py_SET_REFCNT|_PyObject_CAST|Py_hash_t|Py_EnterRecursiveCall|PyObject_TypeCheck|\w+_Check(?:Exact)?|\w+_GET_SIZE|\w+_AS_STRING|\w+_AS_DATA|\w+_AS_LONG|\w+_AS_DOUBLE|PyUnicode_\w+|PyBytes_\w+|PyErr_\w+|PyObject_\w+|PyNumber_\w+|PySequence_\w+|PyMapping_\w+|PyIter_\w+|PyLong_\w+|PyFloat_\w+|PyDict_\w+|PyList_\w+|PyTuple_\w+|PySet_\w+|PyFrozenSet_\w+|PyCallable_Check|PyType_\w+|PyModule_\w+|PyCapsule_\w+|PyBuffer_\w+|PyMemoryView_\w+|PyWeakref_\w+|PyGILState_\w+|PySys_\w+|PyEval_\w+|PyThreadState_\w+|PyComplex_\w+|PyByteArray_\w+|PyCode_\w+|PyFile_\w+|PyImport_\w+|PyOS_\w+|PySlice_\w+|Py_BuildValue|Py_VaBuildValue|_Py_\w+|_PyObject_\w+|_PyUnicode_\w+|_PyBytes_\w+|_PyLong_\w+)$/;

/** A C-API function or macro that borrows its object arguments unless its summary says otherwise. */
export function knownBorrowing(name: string): boolean {
  return name in API_PARAMS || INSPECTING.test(name) || name in FORMAT_CALLS;
}

/**
 * Names (of calls, macros or slots) that give a function a new reference or take a
 * reference away: a release, a steal, a free. Without any, nothing is released or given
 * away, and no new reference can be lost (the leaks reported are of new references only).
 */
const OWNING_NAMES: ReadonlySet<string> = new Set([
  ...Object.keys(API_RETURNS).filter((n) => API_RETURNS[n] === 'new'),
  ...EXTRA_NEW_NAMES,
  ...FREE_NAMES,
  ...DECREF_CALLS,
  ...SETREF_CALLS,
  ...Object.keys(STEALING),
  ...Object.keys(FORMAT_CALLS),
]);

/** Identifiers (one global expression: `matchAll` works on a copy of it). */
const WORDS = /[A-Za-z_]\w*/g;

/** The project macros whose expansion (through other macros) names one of OWNING_NAMES. */
export function owningMacros(macros: ReadonlyMap<string, MacroDef>): Set<string> {
  const out = new Set<string>();
  const names = new Map([...macros.values()].map((d) => [d.name, [...d.body.matchAll(WORDS)].map((m) => m[0])]));
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, words] of names) {
      if (!out.has(name) && words.some((w) => OWNING_NAMES.has(w) || out.has(w))) {
        out.add(name);
        changed = true;
      }
    }
  }
  return out;
}

/**
 * Whether the reference analysis of a function can report anything: it returns an object
 * (it may return a borrowed one), or its body names a call or a macro (of `macros`, from
 * `owningMacros`) that owns or gives away a reference. Leaks, releases of what is not
 * owned and uses after release all need one of those.
 */
export function mayReport(body: string, returnsObject: boolean, macros: ReadonlySet<string>, newFunctions?: NewFunctions): boolean {
  if (returnsObject) return true;
  // (One set for every file without owning macros, most of them: it searches enough text to compile its alternation.)
  let words = macros.size ? OWNING_WORDS.get(macros) : NO_MACRO_WORDS;
  if (!words) OWNING_WORDS.set(macros, (words = new NameSet([...OWNING_NAMES, ...macros])));
  if (words.inWords(body)) return true;
  // A call of one of the file's functions that return a new reference (each worked out when a body names it).
  if (!newFunctions?.candidates.size) return false;
  let candidates = CANDIDATE_WORDS.get(newFunctions);
  if (!candidates) CANDIDATE_WORDS.set(newFunctions, (candidates = new NameSet([...newFunctions.candidates])));
  return candidates.someWord(body, (name) => newFunctions.has(name));
}

/** OWNING_NAMES and a file's owning macros, by the macros' set (a file's functions share it). */
const OWNING_WORDS = new WeakMap<ReadonlySet<string>, NameSet>();
const NO_MACRO_WORDS = new NameSet([...OWNING_NAMES]);
/** The names of a file's candidate new-reference functions, by the file's `NewFunctions`. */
const CANDIDATE_WORDS = new WeakMap<NewFunctions, NameSet>();

/** What `call` reads of a call node, worked out once per node (it depends on the node, not on the path state). */
interface CallInfo {
  /** The condition a branch-prediction hint (`UNLIKELY(x)`, `__builtin_expect(!!(x), 0)`) stands for (see `hintedCondition`). */
  hinted: SyntaxNode | undefined;
  name: string;
  written: string;
  args: SyntaxNode[];
  summary: Summary | undefined;
  /** A call by name of one of the file's functions that return a new reference (`self->h.digest(...)` is not the file's `digest`). */
  project: boolean;
  /** `PyObject_Del(op)` and the like, with one argument. */
  free: boolean;
  /** Returns its first argument (`PyObject_Init`). */
  passThrough: boolean;
  /** A C-API function, or one whose summary is known: what it does not take, it borrows. */
  known: boolean;
  /** The file's function borrows these arguments. */
  borrows: ReadonlySet<number> | undefined;
  /** refcounts.dat's effect on each argument ('+1', '-1', '0'). */
  params: readonly string[] | undefined;
  /** An argument parser that stores borrowed references through `&x`; `parseIntoString`: one of its arguments is a string with `&`. */
  parse: boolean;
  parseIntoString: boolean;
  /** Takes an argument's reference into its first argument. */
  container: boolean;
  /** The index of a format argument the analysis cannot read (from there on any argument may be handed over). */
  opaqueFormat: number | undefined;
  /** What it returns (refcounts.dat's kind, or `new` for the project's and well-known constructors). */
  returns: ReturnKind | undefined;
  neverNull: boolean;
  /** Gives a pointer into an object's storage (not NULL). */
  storage: boolean;
  /** Runs Python code with its arguments. */
  callsPython: boolean;
  /** How a use of a released object as an argument is described. */
  passedHow: string;
}

/** Where the events of one evaluation go (the analysis records them per state and node); nothing is reported without one. */
export interface RefSink {
  event(e: RefEvent): void;
}

/** Evaluates expressions over reference states. */
export class RefEvaluator {
  private sink: RefSink | undefined;
  readonly sites: Site[] = [];
  private readonly siteIds = new Map<string, number>();
  readonly marks: Mark[] = [];
  private readonly markIds = new Map<string, number>();

  constructor(
    readonly locals: Map<string, number>,
    /** The analysis' state identities. */
    private readonly keys: RefKeys,
    private readonly expander: MacroExpander | undefined,
    readonly returnsObject: boolean,
    private readonly borrowing?: BorrowingParams,
    private readonly names: FileNames = NO_NAMES,
    /** The file's macros, for the branch-prediction hints (`UNLIKELY(x)` tests `x`, and takes nothing). */
    private readonly macros: ReadonlyMap<string, MacroDef> | undefined = expander?.macros,
  ) {}

  withSink<T>(sink: RefSink, f: () => T): T {
    this.sink = sink;
    try {
      return f();
    } finally {
      this.sink = undefined;
    }
  }

  emit(e: RefEvent): void {
    this.sink?.event(e);
  }

  /** The id of a creation site. */
  site(start: number, end: number, callee: string, origin: Origin, argument: boolean, twin = false): number {
    const k = `${start}:${end}:${origin}${twin ? ':twin' : ''}`;
    let id = this.siteIds.get(k);
    if (id === undefined) {
      id = this.sites.length;
      this.siteIds.set(k, id);
      this.sites.push({ id, start, end, callee, origin, argument });
    }
    return id;
  }

  private mark(sp: Span, callee: string, steal: boolean): number {
    const k = `${sp.start}:${sp.end}`;
    let id = this.markIds.get(k);
    if (id === undefined) {
      id = this.marks.length;
      this.markIds.set(k, id);
      this.marks.push({ ...sp, callee, steal });
    }
    return id;
  }

  private span(node: SyntaxNode, at: Span | undefined): Span {
    return at ?? { start: node.startIndex, end: node.endIndex };
  }

  /** The local an expression names (through parentheses and casts), and its index. */
  localOf(node: SyntaxNode): { name: string; i: number } | undefined {
    let l = this.localCache.get(node.id);
    if (l === undefined) {
      const n = unwrap(node);
      const i = n.type === 'identifier' ? this.locals.get(n.text) : undefined;
      l = i === undefined ? null : { name: n.text, i };
      this.localCache.set(node.id, l);
    }
    return l ?? undefined;
  }

  // (What a call names and whether a site is an argument are worked out once per node, not once per path state.)
  private readonly argumentCache = new Map<number, boolean>();
  private readonly localCache = new Map<number, { name: string; i: number } | null>();
  private readonly callCache = new Map<number, CallInfo>();
  /** A name's or a call's expansion as a project macro (null: none). */
  private readonly expansions = new Map<number, SyntaxNode | null>();

  /** The expression a project macro used as a name or a call expands to, worked out once per node (it may parse). */
  private expansionOf(node: SyntaxNode): SyntaxNode | undefined {
    if (!this.expander) return undefined;
    let e = this.expansions.get(node.id);
    if (e === undefined) this.expansions.set(node.id, (e = this.expander.expression(node) ?? null));
    return e ?? undefined;
  }

  /** A call's name (a project alias of a C-API function read as that function), arguments and summary; `written` is the name as written. */
  private callInfo(node: SyntaxNode): CallInfo {
    let c = this.callCache.get(node.id);
    if (!c) {
      const byName = calleeName(node);
      const written = byName ?? fieldCallee(node) ?? '';
      const name = this.names.aliases.get(written) ?? written;
      const args = argList(node);
      const summary = summaryOf(name, args.map((a) => a.text));
      const project = !!byName && this.names.newFunctions.has(byName);
      const format = FORMAT_CALLS[name]?.format;
      const parse = PARSE_CALLS.test(name);
      c = {
        hinted: hintedCondition(node, this.macros),
        name,
        written,
        args,
        summary,
        project,
        free: FREE_CALLS.test(name) && args.length === 1,
        passThrough: PASS_THROUGH.test(name) && args.length > 0,
        known: !!summary || knownBorrowing(name),
        borrows: this.borrowing?.get(name),
        params: apiParamEffects(name),
        parse,
        parseIntoString: parse && args.some((x) => /string/.test(x.type) && x.text.includes('&')),
        container: CONTAINER_SETS.test(name),
        opaqueFormat: format !== undefined && args[format] && !formatStolenArgs(args[format].text, format + 1) ? format : undefined,
        returns: NOT_OBJECTS.test(name) ? undefined : (API_RETURNS[name] ?? (EXTRA_NEW.test(name) || project ? 'new' : undefined)),
        neverNull: NEVER_NULL.test(name),
        storage: STORAGE_POINTERS.test(name),
        callsPython: CALLS_PYTHON.test(name),
        passedHow: `it is passed to \`${name || 'a call'}\``,
      };
      this.callCache.set(node.id, c);
    }
    return c;
  }

  /** A new object at a site: the one a previous iteration made there is lost first. */
  private create(st: RefState, node: SyntaxNode, at: Span | undefined, callee: string, origin: Origin, nonNull = false, project = false): RefPair {
    const sp = this.span(node, at);
    let argument = this.argumentCache.get(node.id);
    // (A C-API call's result passed straight to a call is reference-leak's; a project function's is this analysis'.)
    if (argument === undefined) this.argumentCache.set(node.id, (argument = !at && !project && isArgument(node)));
    let id = this.site(sp.start, sp.end, callee, origin, argument);
    let s = st;
    // Around a loop the site runs again while a local may still hold the previous object:
    // a second identity for the site keeps the two apart (the older one is lost when its local is overwritten).
    if (objOf(s, id)) {
      const twin = this.site(sp.start, sp.end, callee, origin, argument, true);
      id = objOf(s, twin) && s.vars.includes(twin) && !s.vars.includes(id) ? id : twin;
      if (objOf(s, id)) s = this.forget(s, id, sp);
    }
    if (s.objs.length >= MAX_OBJECTS) return [s, UNKNOWN];
    const owned = origin === 'new' ? 1 : 0;
    return [addObj(s, newObj(id, owned, nonNull, CONTAINER_GETS.test(callee))), id];
  }

  /** Drops object `id` from a state: locals that held it hold an unknown value; an owned one nobody else holds is reported lost. */
  private forget(st: RefState, id: number, at: Span): RefState {
    const o = objOf(st, id)!;
    const held = st.vars.some((v) => v === id);
    if (o.owned > 0 && o.status === 'live' && !held) this.emit({ kind: 'leak', obj: o, site: this.sites[id], at, how: 'overwritten', state: st });
    return withoutObj(st, id, UNKNOWN);
  }

  /** Stops following an object (stored somewhere the analysis does not see). */
  escape(st: RefState, v: number): RefState {
    if (v < 0) return st;
    return withObj(st, v, (o) => (o.status === 'escaped' ? o : objWith(o, o.owned, 'escaped', o.holder, o.gone)));
  }

  /** Reports a use of a released or stolen object. */
  private use(st: RefState, node: SyntaxNode, at: Span | undefined, how: string | (() => string)): void {
    if (!this.sink) return;
    const l = this.localOf(node);
    // (A singleton's slot holds a local's object only after a test showed them equal: the singleton itself lives on.)
    if (!l || SINGLETONS.includes(l.name)) return;
    const v = st.vars[l.i];
    const o = v >= 0 ? objOf(st, v) : undefined;
    if (!o || (o.status !== 'released' && o.status !== 'stolen')) return;
    const holder = o.holder !== undefined ? objOf(st, o.holder) : undefined;
    // Alive through a container the function still holds in a local (or one that keeps its own reference).
    const disputed = (o.status === 'stolen' && !!holder && holder.status === 'live' && (holder.owned > 0 || holder.nonNull) && st.vars.includes(holder.id)) || !!o.kept;
    this.emit({ kind: 'use-after', obj: o, site: this.sites[o.id], node: this.span(node, at), local: l.name, how: typeof how === 'string' ? how : how(), disputed, state: st });
  }

  /** All (state, value) pairs an expression can produce. */
  expr(node: SyntaxNode, st: RefState, at: Span | undefined): RefPair[] {
    switch (node.type) {
      case 'parenthesized_expression': {
        const inner = namedKids(node);
        return inner.length ? this.expr(inner[inner.length - 1], st, at) : [[st, UNKNOWN]];
      }
      case 'cast_expression': {
        const v = node.childForFieldName('value');
        return v ? this.expr(v, st, at) : [[st, UNKNOWN]];
      }
      case 'null':
      case 'nullptr':
        return [[st, NULLV]];
      case 'number_literal':
        return [[st, node.text === '0' ? NULLV : UNKNOWN]];
      case 'lambda_expression':
      case 'string_literal':
      case 'concatenated_string':
      case 'char_literal':
      case 'sizeof_expression':
        return [[st, UNKNOWN]];
      case 'identifier': {
        const l = this.localOf(node);
        if (l) return [[st, st.vars[l.i]]];
        if (node.text === 'NULL') return [[st, NULLV]];
        const exp = this.expansionOf(node);
        if (exp) return this.expr(exp, st, at ?? this.span(node, at));
        return [[st, UNKNOWN]];
      }
      case 'field_expression': {
        const arg = node.childForFieldName('argument');
        if (!arg) return [[st, UNKNOWN]];
        if (this.sink && node.child(1)?.type === '->') this.use(st, arg, at, () => `\`${node.text.length > 40 ? arg.text + '->…' : node.text}\` reads it`);
        return mapped(this.expr(arg, st, at), ([s]) => [s, UNKNOWN] as RefPair);
      }
      case 'subscript_expression': {
        const arg = node.childForFieldName('argument');
        const index = node.childForFieldName('index') ?? node.childForFieldName('indices');
        let states = [st];
        for (const k of [arg, index]) if (k) states = this.through(k, states, at);
        return mapped(states, (s) => [s, UNKNOWN] as RefPair);
      }
      case 'pointer_expression': {
        const arg = node.childForFieldName('argument');
        if (!arg) return [[st, UNKNOWN]];
        const l = node.child(0)?.type === '&' ? this.localOf(arg) : undefined;
        // `&x` outside a call's argument list: `x` may change through the pointer.
        if (l) return [[setVar(this.escape(st, st.vars[l.i]), l.i, UNKNOWN), UNKNOWN]];
        if (node.child(0)?.type === '*') this.use(st, arg, at, 'it is dereferenced');
        return mapped(this.expr(arg, st, at), ([s]) => [s, UNKNOWN] as RefPair);
      }
      case 'call_expression':
        return this.call(node, st, at);
      case 'conditional_expression': {
        const cond = node.childForFieldName('condition');
        const arms = [node.childForFieldName('consequence') ?? cond, node.childForFieldName('alternative')];
        const out: RefPair[] = [];
        for (const [s] of cond ? this.expr(cond, st, at) : [[st, UNKNOWN] as RefPair]) {
          for (const arm of arms) {
            if (!arm) continue;
            out.push(...(arm === cond ? [[s, UNKNOWN] as RefPair] : this.expr(arm, s, at)));
          }
        }
        return out;
      }
      case 'assignment_expression':
        return this.assignment(node, st, at);
      case 'comma_expression': {
        const l = node.childForFieldName('left');
        const r = node.childForFieldName('right');
        const out: RefPair[] = [];
        for (const [s] of l ? this.expr(l, st, at) : [[st, UNKNOWN] as RefPair]) out.push(...(r ? this.expr(r, s, at) : [[s, UNKNOWN] as RefPair]));
        return out;
      }
      case 'new_expression':
      case 'initializer_list':
      case 'compound_literal_expression':
      case 'initializer_pair': {
        // Objects written into an aggregate, or given to a C++ constructor, escape.
        let states = [st];
        const kids = namedKids(node).flatMap((k) => (node.type === 'new_expression' && (k.type === 'argument_list' || k.type === 'initializer_list') ? namedKids(k) : [k]));
        for (const k of kids) states = this.through(k, states, at, true);
        return mapped(states, (s) => [s, UNKNOWN] as RefPair);
      }
      default: {
        let states = [st];
        for (const k of namedKids(node)) states = this.through(k, states, at);
        return mapped(states, (s) => [s, UNKNOWN] as RefPair);
      }
    }
  }

  /**
   * The states after evaluating `node` from each of `states`, each identity once; with `escape`,
   * the object it gives escapes. (Written as loops, not `flatMap`: V8 makes `flatMap`'s arrays
   * holey, and the evaluator's loops over arrays of either kind were optimised again for each.)
   */
  private through(node: SyntaxNode, states: RefState[], at: Span | undefined, escape = false): RefState[] {
    const next: RefState[] = [];
    for (const s of states) for (const [s2, v] of this.expr(node, s, at)) next.push(escape ? this.escape(s2, v) : s2);
    return this.keys.dedupe(next);
  }

  private assignment(node: SyntaxNode, st: RefState, at: Span | undefined): RefPair[] {
    const written = node.childForFieldName('left');
    const right = node.childForFieldName('right');
    const op = node.childForFieldName('operator')?.text ?? node.child(1)?.text;
    if (!right || !written) return [[st, UNKNOWN]];
    const left = unparenthesized(written);
    const l = left.type === 'identifier' ? this.locals.get(left.text) : undefined;
    const pairs = this.expr(right, st, at);
    if (op !== '=') return mapped(pairs, ([s]) => [l !== undefined ? setVar(s, l, UNKNOWN) : s, UNKNOWN]);
    if (l === undefined) {
      // Stored into a field, an element, through a pointer or into a global: the object escapes.
      const out: RefPair[] = [];
      for (const [s, v] of pairs) for (const [s2] of left.type === 'identifier' ? [[s, UNKNOWN] as RefPair] : this.expr(left, s, at)) out.push([this.escape(s2, v), v]);
      return out;
    }
    return mapped(pairs, ([s, v]) => [this.bind(s, l, v, this.span(node, at), left.text), v]);
  }

  /** `local = v`: what the local held before is lost if nothing else holds it. */
  bind(st: RefState, i: number, v: number, at: Span, name: string): RefState {
    const old = st.vars[i];
    let s = setVar(st, i, v);
    if (old >= 0 && old !== v) s = this.dropIfLost(s, old, at, 'overwritten', name);
    return s;
  }

  /** An object no local holds any more: reported if the function still owns it, then dropped. */
  dropIfLost(st: RefState, id: number, at: Span, how: 'overwritten' | 'discarded', local?: string): RefState {
    if (st.vars.includes(id)) return st;
    const o = objOf(st, id);
    if (!o) return st;
    if (o.owned > 0 && o.status === 'live' && !(how === 'discarded' && this.sites[id].argument)) this.emit({ kind: 'leak', obj: o, site: this.sites[id], at, how, local, state: st });
    // A container holding stolen objects stays (lost, no longer owned) while they may be used: a use is then not excused by it.
    if (st.objs.some((x) => x.holder === id)) return o.status === 'escaped' && o.owned === 0 ? st : withObj(st, id, () => objWith(o, 0, 'escaped', o.holder, o.gone));
    return withObj(st, id, () => undefined);
  }

  /** After a statement: objects no local holds are lost (temporaries discarded). */
  collect(st: RefState, at: Span): RefState {
    let s = st;
    for (const o of st.objs) if (!s.vars.includes(o.id)) s = this.dropIfLost(s, o.id, at, 'discarded');
    return s;
  }

  /** Evaluates a statement-level node (expression or declaration). */
  statement(node: SyntaxNode, st: RefState, at: Span | undefined): RefState[] {
    if (node.type === 'declaration' && node.childForFieldName('value')) {
      const name = declaredLocal(node.childForFieldName('declarator')!);
      const i = name ? this.locals.get(name.text) : undefined;
      return mapped(this.expr(node.childForFieldName('value')!, st, at), ([s, v]) => (i === undefined ? this.escape(s, v) : this.bind(s, i, v, this.span(node, at), name!.text)));
    }
    if (node.type === 'declaration') {
      let states = [st];
      for (const d of namedKids(node)) {
        if (!/declarator$/.test(d.type)) continue;
        const name = declaredLocal(d);
        const i = name ? this.locals.get(name.text) : undefined;
        const value = initialValue(d);
        if (!value) {
          const init = d.type === 'init_declarator' ? d.childForFieldName('value') : null;
          if (init) states = this.through(init, states, at, true);
          if (i !== undefined) states = mapped(states, (s) => setVar(s, i, UNKNOWN));
          continue;
        }
        const next: RefState[] = [];
        for (const s of states) for (const [s2, v] of this.expr(value, s, at)) next.push(i === undefined ? this.escape(s2, v) : this.bind(s2, i, v, this.span(d, at), name!.text));
        states = this.keys.dedupe(next);
      }
      return states;
    }
    return mapped(this.expr(node, st, at), ([s]) => s);
  }

  /** A call: reference-count macros, project macros, steals, borrows, escapes, and the reference it returns. */
  private call(node: SyntaxNode, st: RefState, at: Span | undefined): RefPair[] {
    // A branch-prediction hint (`UNLIKELY(x)`, `__builtin_expect(!!(x), 0)`) is its condition: nothing is handed over.
    const c = this.callInfo(node);
    if (c.hinted) return this.expr(c.hinted, st, at);
    const { name, written, args, summary } = c;
    const sp = this.span(node, at);
    if (summary?.builtin) {
      const ret = summary.returns;
      if (ret?.kind === 'arg') return this.expr(args[ret.arg], st, at);
      if (ret?.kind === 'new-ref-to-arg') {
        this.use(st, args[ret.arg], at, `\`${name}\` takes a reference to it`);
        return mapped(this.expr(args[ret.arg], st, at), ([s, v]) => [this.incref(s, v), v]);
      }
      const effect = summary.args.get(0);
      if (effect?.kind === 'incref') {
        this.use(st, args[0], at, `\`${name}\` increments its count`);
        return mapped(this.expr(args[0], st, at), ([s, v]) => [this.incref(s, v), UNKNOWN]);
      }
      if (effect?.kind === 'decref') {
        const l = this.localOf(args[0]);
        return mapped(this.expr(args[0], st, at), ([s, v]) => {
          let next = this.release(s, v, node, args[0], at, name, false, l?.name);
          if (effect.clears && l) next = setVar(next, l.i, NULLV);
          return [next, UNKNOWN];
        });
      }
      return mapped(this.expr(args[0], st, at), ([s]) => [s, UNKNOWN]);
    }
    const exp = this.expansionOf(node);
    if (exp) return this.expr(exp, st, at ?? sp);
    if (summary?.setref) {
      // Py_SETREF(dst, src): dst = src, then the old value is released.
      const l = this.localOf(args[0]);
      const out: RefPair[] = [];
      for (const [s, v] of this.expr(args[1], st, at)) {
        if (!l) {
          for (const [s2] of this.expr(args[0], s, at)) out.push([this.escape(s2, v), UNKNOWN]);
          continue;
        }
        const old = s.vars[l.i];
        out.push([this.release(setVar(s, l.i, v), old, node, args[0], at, name, false, l.name), UNKNOWN]);
      }
      return out;
    }
    if (c.free) {
      // `PyObject_Del(op)`: the object is gone, whatever the function owned.
      return mapped(this.expr(args[0], st, at), ([s, v]) => {
        const o = v >= 0 ? objOf(s, v) : undefined;
        return [o && o.status !== 'escaped' ? withObj(s, v, () => objWith(o, 0, 'released', o.holder, this.mark(sp, name, false))) : s, UNKNOWN] as RefPair;
      });
    }
    if (c.passThrough) {
      // `PyObject_Init(op, type)` returns `op`; the other arguments are only evaluated.
      const out: RefPair[] = [];
      for (const [s0, v] of this.expr(args[0], st, at)) {
        let states = [s0];
        for (let k = 1; k < args.length; k++) states = this.through(args[k], states, at);
        for (const s of states) out.push([s, v]);
      }
      return out;
    }
    const { known, borrows, params, parse, container, opaqueFormat } = c;
    let states: RefState[] = [st];
    let containerId = UNKNOWN;
    for (let k = 0; k < args.length; k++) {
      const a = args[k];
      const effect = summary?.args.get(k);
      const addr = a.type === 'pointer_expression' && a.child(0)?.type === '&' ? this.localOf(a.childForFieldName('argument')!) : undefined;
      if (addr) {
        // `&x`: a parse call stores a borrowed reference there; another call may store anything.
        states = mapped(states, (s) => {
          const old = s.vars[addr.i];
          let next = old >= 0 && !parse ? this.escape(s, old) : s;
          if (parse && !c.parseIntoString) {
            const [s2, v] = this.create(next, a, at, name, 'borrowed', true);
            next = this.bind(s2, addr.i, v, sp, addr.name);
          } else next = setVar(next, addr.i, UNKNOWN);
          return next;
        });
        continue;
      }
      const next: RefState[] = [];
      for (const s of states) {
        if (effect?.kind !== 'steal') this.use(s, a, at, c.passedHow);
        for (const [s2, v] of this.expr(a, s, at)) {
          if (k === 0 && container) containerId = v;
          if (v < 0) next.push(s2);
          else if (effect?.kind === 'steal') next.push(effect.when === 'always' ? this.steal(s2, v, node, a, at, name, container && containerId >= 0 ? containerId : undefined) : this.stealOnSuccess(s2, v, node, a, at, name));
          else if (borrows?.has(k)) next.push(s2);
          // A format the analysis cannot read (built from a macro parameter) may hand any argument over.
          else if (opaqueFormat !== undefined && k > opaqueFormat) next.push(this.escape(s2, v));
          else if (!known || params?.[k] === '-1') next.push(this.escape(s2, v));
          // (A call given an object already released does not bring it back.)
          else if (params?.[k] === '+1' || c.callsPython) next.push(withObj(s2, v, (o) => (o.kept || o.status === 'released' ? o : makeObj(o.id, o.owned, o.nonNull, o.status, o.holder, o.gone, true))));
          else next.push(s2);
        }
      }
      states = this.keys.dedupe(next);
    }
    const ret = c.returns;
    if (ret === 'new' || ret === 'borrowed') return mapped(states, (s) => this.create(s, node, at, written, ret, ret === 'borrowed' && c.neverNull, c.project));
    return mapped(states, (s) => [s, c.storage ? NONNULL : UNKNOWN]);
  }

  private incref(st: RefState, v: number): RefState {
    if (v < 0) return st;
    return withObj(st, v, (o) => (o.status === 'escaped' ? o : objWith(o, Math.min(MAX_OWNED, o.owned + 1), 'live', undefined, undefined)));
  }

  /** A release of the reference `v` holds. */
  private release(st: RefState, v: number, node: SyntaxNode, arg: SyntaxNode, at: Span | undefined, callee: string, steal: boolean, local: string | undefined): RefState {
    const o = v >= 0 ? objOf(st, v) : undefined;
    if (!o || o.status === 'escaped') return st;
    if (o.owned > 0) {
      const owned = o.owned - 1;
      // The last reference from a call that made a new one: the object may be freed; a later use is a use after release.
      if (owned === 0 && this.sites[o.id].origin === 'new') return withObj(st, v, () => objWith(o, owned, 'released', o.holder, this.mark(this.span(node, at), callee, steal)));
      return withObj(st, v, () => objWith(o, owned, o.status, o.holder, o.gone));
    }
    if (local) this.emit({ kind: 'release-unowned', obj: o, site: this.sites[o.id], node: this.span(node, at), arg: this.span(arg, at), callee, steal, local, state: st });
    // Reported once: the object is not followed further on this path.
    return this.escape(st, v);
  }

  /** A steal of the reference `v` holds, into `holder` when a tracked container takes it. */
  private steal(st: RefState, v: number, node: SyntaxNode, arg: SyntaxNode, at: Span | undefined, callee: string, holder: number | undefined): RefState {
    const o = objOf(st, v);
    if (!o || o.status === 'escaped') return st;
    const l = this.localOf(arg);
    if (o.owned === 0) return l ? this.release(st, v, node, arg, at, callee, true, l.name) : this.escape(st, v);
    const owned = o.owned - 1;
    if (owned > 0) return withObj(st, v, () => objWith(o, owned, o.status, o.holder, o.gone));
    return withObj(st, v, () => objWith(o, owned, 'stolen', holder, this.mark(this.span(node, at), callee, true)));
  }

  /**
   * A call that takes the reference only when it succeeds (`PyModule_AddObject`): where its
   * result is thrown away, nothing can release the reference when it fails. The object is
   * not followed further either way.
   */
  private stealOnSuccess(st: RefState, v: number, node: SyntaxNode, arg: SyntaxNode, at: Span | undefined, callee: string): RefState {
    const o = objOf(st, v);
    if (o && o.owned > 0 && o.status === 'live' && !at && !this.sites[o.id].argument && resultDiscarded(node))
      this.emit({ kind: 'leak', obj: o, site: this.sites[o.id], at: this.span(node, at), how: 'unchecked', local: this.localOf(arg)?.name, callee, state: st });
    return this.escape(st, v);
  }

  /** A `return`: the returned reference goes to the caller; every other owned one is lost here. */
  returned(node: SyntaxNode, expr: SyntaxNode | undefined, st: RefState, at: Span | undefined): RefState[] {
    const sp = this.span(node, at);
    const pairs: RefPair[] = expr ? this.expr(expr, st, at) : [[st, UNKNOWN]];
    const out: RefState[] = [];
    for (const [s0, v] of pairs) {
      let s = s0;
      const o = v >= 0 ? objOf(s, v) : undefined;
      if (o && this.returnsObject && expr) {
        if (o.status === 'released' || o.status === 'stolen') this.use(s, expr, at, 'it is returned');
        else if (o.status === 'live' && o.owned === 0 && !o.holder) {
          const l = this.localOf(expr);
          // (A returned singleton is the singleton rules' to judge, even where a test made it a local's object.)
          if (!l || !SINGLETONS.includes(l.name)) this.emit({ kind: 'borrowed-return', obj: o, site: this.sites[o.id], node: sp, expr: this.span(expr, at), local: l?.name, viaMacro: !!at, state: s });
          s = this.escape(s, v);
        } else if (o.status === 'live') s = withObj(s, v, (x) => objWith(x, x.owned - 1, x.status, x.holder, x.gone));
      } else if (o && !this.returnsObject) s = this.escape(s, v);
      for (const x of s.objs) {
        if (x.owned > 0 && x.status === 'live' && !(this.sites[x.id].argument && !s.vars.includes(x.id))) this.emit({ kind: 'leak', obj: x, site: this.sites[x.id], at: sp, how: 'return', state: s });
      }
      out.push(makeState(mappedNumbers(s.vars, (x) => (x >= 0 ? UNKNOWN : x)), NO_OBJS, s.facts, s.steps));
    }
    return out;
  }

  /** The end of a function that falls off its closing brace. */
  fellOff(st: RefState, at: Span): void {
    for (const x of st.objs) if (x.owned > 0 && x.status === 'live') this.emit({ kind: 'leak', obj: x, site: this.sites[x.id], at, how: 'end', state: st });
  }
}

/** A call through a field (`type->tp_alloc(type, 0)`): the field's name. */
function fieldCallee(call: SyntaxNode): string | undefined {
  const f = call.childForFieldName('function');
  if (f?.type === 'field_expression') return f.childForFieldName('field')?.text;
  if (f?.type === 'parenthesized_expression') {
    const inner = namedKids(f)[0];
    if (inner?.type === 'pointer_expression') return inner.childForFieldName('argument')?.type === 'field_expression' ? inner.childForFieldName('argument')!.childForFieldName('field')?.text : undefined;
  }
  return undefined;
}

/** Whether an expression is (through parentheses and casts) an argument of a call. */
function isArgument(node: SyntaxNode): boolean {
  return enclosing(node)?.type === 'argument_list';
}

/** Whether a call's result is thrown away (the call is a statement of its own, possibly cast to void). */
function resultDiscarded(call: SyntaxNode): boolean {
  return enclosing(call)?.type === 'expression_statement';
}
