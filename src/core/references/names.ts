/**
 * The file's own names for C-API calls, for the reference rules:
 *
 * - **aliases**: project macros that only rename a C-API call
 *   (`#define PyStr_FromString(x) PyUnicode_FromString(x)`, often defined once per Python
 *   major version under `#if`), read as the call they stand for;
 * - **new-reference functions**: the file's functions that give back a new reference (or
 *   NULL) at every `return`, so that a caller owns what they return.
 *
 * Both are read from the text and the tree without running the analysis, so they cost one
 * walk of the file (the editor recomputes them as the user types).
 */
import { API_PARAMS, API_RETURNS } from '../api/returns.generated';
import { closingParen, defineDirectives, parseDefine } from '../preprocess';
import { cachedRead, definitionNames, KEYWORDS, parameterNames, reachFrom, type FunctionInfo, type PerFunctionCache } from '../functions';
import { GrammarNotLoaded, type SyntaxNode } from '../parser';
import { calleeName, declaredLocal, initialValue, namedKids, unwrap } from '../syntax';

/** Calls that return a new reference beyond refcounts.dat (allocation macros, type slots). */
export const EXTRA_NEW_NAMES: readonly string[] = ['PyObject_GC_New', 'PyObject_GC_NewVar', 'PyObject_NewVar', 'PyObject_New', 'tp_alloc', 'tp_new'];
export const EXTRA_NEW = new RegExp(`^(?:${EXTRA_NEW_NAMES.join('|')})$`);

/** What the reference rules know of the file's own names. */
export interface FileNames {
  /** Macro name → the C-API function every definition of it calls. */
  aliases: ReadonlyMap<string, string>;
  /** The file's functions that return a new reference (or NULL) at every `return`. */
  newFunctions: NewFunctions;
}

/**
 * The file's functions (and its included files' that it does not define) that return a new reference (or NULL) at
 * every `return`, worked out for a name when it is asked for (see `newReferenceFunctions`).
 */
export interface NewFunctions {
  has(name: string): boolean;
  /** The names that may be one (a superset): a text that names none of them calls none of them. */
  readonly candidates: ReadonlySet<string>;
  /** Every one, the file's in file order, then each included file's (works each out, and reads every included file): for cache keys. */
  all(): string[];
}

const NO_NEW_FUNCTIONS: NewFunctions = { has: () => false, candidates: new Set(), all: () => [] };

export const NO_NAMES: FileNames = { aliases: new Map(), newFunctions: NO_NEW_FUNCTIONS };

/** Whether a call (its name as written) is a C-API call that returns a new reference (through the file's aliases). */
function apiReturnsNew(name: string, aliases: ReadonlyMap<string, string>): boolean {
  const api = aliases.get(name) ?? name;
  return API_RETURNS[api] === 'new' || EXTRA_NEW.test(api);
}

/** A stable text of the names, for cache keys. */
export function namesKey(names: FileNames): string {
  return JSON.stringify([[...names.aliases], names.newFunctions.all()]);
}

/** What each `return` of a function gives back (see `returnedValues`), kept by the function's text in the editor. */
export type ReturnsCache = PerFunctionCache<Returned | null>;

/**
 * The file's names (an empty result costs nothing when the file defines no function that
 * returns an object). With `cache`, a function whose text is there is not read again.
 */
export function fileNames(text: string, functions: readonly FunctionInfo[], cache?: ReturnsCache, included: readonly IncludedFunctions[] = []): FileNames {
  const aliases = macroAliases(text);
  const newFunctions = newReferenceFunctions(functions, aliases, cache, included);
  return aliases.size || newFunctions.candidates.size ? { aliases, newFunctions } : NO_NAMES;
}

/**
 * The functions an included file defines that return an object (a header's `static inline` helpers, a `.c` file
 * included whole): the candidates for new-reference functions it adds to the files that include it. Read lazily: a
 * file that includes it may never call one, and then it is never parsed.
 */
export interface IncludedFunctions {
  /** A superset of the names `returns()` holds, read from the text (see `definitionNames`). */
  readonly names: ReadonlySet<string>;
  /** What each candidate's returns give back, by name, in file order (parses the file the first time; see `includedReturns`). */
  returns(): ReadonlyMap<string, Returned>;
}

/**
 * The `IncludedFunctions` of a file whose parsed text (after `blankStatementMacros`) is `parsed`: its names read from the
 * text, its returns by `read` the first time they are asked for. A grammar not loaded yet is the caller's to load (the
 * file is analysed again); a file that cannot be read otherwise defines nothing, once.
 */
export function includedFunctionsOf(parsed: string, dialect: 'c' | 'cpp', read: (parsed: string) => Map<string, Returned>): IncludedFunctions {
  // (The text is kept until it has been read.)
  let text: string | undefined = parsed;
  let returns: Map<string, Returned> | undefined;
  return {
    names: definitionNames(parsed, dialect),
    returns: () => {
      if (!returns) {
        try {
          returns = read(text!);
        } catch (e) {
          if (e instanceof GrammarNotLoaded) throw e;
          returns = new Map();
        }
        text = undefined;
      }
      return returns;
    },
  };
}

/**
 * What the returns of the functions of an included file that return an object give back, by name. Functions defined
 * twice (under `#if`) or holding a lambda are left out.
 */
export function includedReturns(functions: readonly FunctionInfo[]): Map<string, Returned> {
  const out = new Map<string, Returned>();
  for (const f of candidates(functions)) {
    const values = returnedValues(f);
    if (values) out.set(f.name, values);
  }
  return out;
}

/**
 * The functions that may return a new reference at every `return`: they return an object, are defined once (not under
 * two `#if` branches), hold no lambda, have a `return`, and are not named by a keyword (a macro the parser misread).
 */
function candidates(functions: readonly FunctionInfo[]): FunctionInfo[] {
  const count = new Map<string, number>();
  for (const f of functions) count.set(f.name, (count.get(f.name) ?? 0) + 1);
  return functions.filter((f) => f.returnsObject && !f.lambda && count.get(f.name) === 1 && !KEYWORDS.has(f.name) && f.body.text.includes('return'));
}

/** What a C-API function does with references: two aliases agree when this is the same. */
function apiKind(name: string): string | undefined {
  if (!(name in API_RETURNS) && !(name in API_PARAMS)) return undefined;
  return `${API_RETURNS[name] ?? ''}|${API_PARAMS[name] ?? ''}`;
}

/**
 * Macros whose body is one call of a C-API function (whatever its arguments), or
 * the function's bare name. A macro defined more than once (under `#if`) is an alias only
 * when every definition calls a function with the same reference behaviour; a definition
 * that calls a C-API name this CPython no longer has (`PyString_FromString` under Python 2)
 * does not count against it.
 */
export function macroAliases(text: string): Map<string, string> {
  // (Asked twice per file, by reference-leak's filter and by the reference analysis: the last answer is kept.)
  if (lastAliases?.text === text) return lastAliases.aliases;
  const aliases = readAliases(text);
  lastAliases = { text, aliases };
  return aliases;
}

let lastAliases: { text: string; aliases: Map<string, string> } | undefined;

function readAliases(text: string): Map<string, string> {
  const defs = new Map<string, Array<string | null>>();
  for (const d of text.includes('define') ? defineDirectives(text) : []) {
    const def = parseDefine(d);
    if (!def) continue;
    const list = defs.get(def.name) ?? [];
    list.push(calledName(def.body, def.functionLike));
    defs.set(def.name, list);
  }
  const out = new Map<string, string>();
  for (const [name, callees] of defs) {
    // A file that redefines a C-API name itself is not aliasing it.
    if (apiKind(name)) continue;
    let api: string | undefined;
    let ok = true;
    for (const c of callees) {
      const kind = c ? apiKind(c) : undefined;
      if (kind === undefined) {
        if (!c || !/^_?Py[A-Z]/.test(c)) ok = false;
        continue;
      }
      if (api === undefined) api = c!;
      else if (apiKind(api) !== kind) ok = false;
    }
    if (ok && api) out.set(name, api);
  }
  return out;
}

/** The function a macro body calls as a whole (`f(...)`, `(f(...))`, `(PyObject *)f(...)`; for an object-like macro also `f`), if any. */
function calledName(body: string, functionLike: boolean): string | null {
  let b = body;
  // Outer parentheses and a leading cast.
  for (let i = 0; i < 3; i++) {
    if (b.startsWith('(') && closingParen(b, 0) === b.length - 1) b = b.slice(1, -1).trim();
    const cast = /^\(\s*[A-Za-z_]\w*\s*\*+\s*\)\s*/.exec(b);
    if (cast) b = b.slice(cast[0].length).trim();
  }
  const m = /^([A-Za-z_]\w*)\s*(\()?/.exec(b);
  if (!m) return null;
  if (!m[2]) return !functionLike && m[0].length === b.length ? m[1] : null;
  const open = m[0].length - 1;
  return closingParen(b, open) === b.length - 1 ? m[1] : null;
}

/**
 * The file's functions that return a new reference at every `return` that gives back an
 * object: a call that returns one, or a local every assignment of which is such a call or
 * NULL (and whose address is never taken). NULL returns are allowed; at least one return
 * must give back an object. The least fixpoint (a function may return another's result);
 * functions defined twice (under `#if`) or holding a lambda are left out.
 *
 * A name is worked out when asked for, over the functions its returns reach: a least fixpoint does not depend on
 * the order of its steps, and a function's answer only on those, so it is the answer over the whole file, without
 * reading the returns of the functions nothing calls (most of a file's: Python calls them through its tables).
 */
function newReferenceFunctions(functions: readonly FunctionInfo[], aliases: ReadonlyMap<string, string>, cache?: ReturnsCache, included: readonly IncludedFunctions[] = []): NewFunctions {
  const own = new Map(candidates(functions).map((f) => [f.name, f]));
  const defined = new Set(functions.map((f) => f.name));
  // The names an included file may add (those the file does not define itself): a superset, for `mayReport`'s test.
  const maybe = new Set(own.keys());
  for (const inc of included) for (const n of inc.names) if (!defined.has(n)) maybe.add(n);
  if (!maybe.size) return NO_NEW_FUNCTIONS;
  // What an included file gives for a name the file does not define (the first file's, when two define one); an
  // included file is parsed only when it may define a name asked for.
  const fromIncluded = new Map<string, Returned | null>();
  const includedValues = (name: string): Returned | null => {
    let r = fromIncluded.get(name);
    if (r === undefined) {
      r = null;
      if (maybe.has(name) && !own.has(name)) {
        for (const inc of included) {
          if (!inc.names.has(name)) continue;
          r = inc.returns().get(name) ?? null;
          if (r) break;
        }
      }
      fromIncluded.set(name, r);
    }
    return r;
  };
  const isCandidate = (name: string) => own.has(name) || includedValues(name) !== null;
  const read = new Map<string, Returned | null>();
  /** What the returns of a candidate give back (null: something else). */
  const valuesOf = (name: string): Returned | null => {
    let r = read.get(name);
    if (r === undefined) {
      const f = own.get(name);
      r = f ? cachedRead(cache, f, (g) => returnedValues(g) ?? null) : includedValues(name);
      read.set(name, r);
    }
    return r;
  };
  const known = new Map<string, boolean>();
  const has = (name: string): boolean => {
    const k = known.get(name);
    if (k !== undefined) return k;
    if (!isCandidate(name)) return false;
    // The candidates whose results `name`'s returns may give back, and theirs.
    const reach = reachFrom(name, (n) => (valuesOf(n) ?? []).flatMap((v) => (v === 'null' ? [] : v.filter((c): c is string => c !== null && isCandidate(c)))));
    const out = new Set<string>();
    for (let changed = true; changed; ) {
      changed = false;
      for (const n of reach) {
        if (out.has(n)) continue;
        const values = valuesOf(n);
        if (values && values.some((v) => v !== 'null') && values.every((v) => v === 'null' || v.every((c) => c === null || apiReturnsNew(c, aliases) || out.has(c)))) {
          out.add(n);
          changed = true;
        }
      }
    }
    for (const n of reach) known.set(n, out.has(n));
    return out.has(name);
  };
  // (In the order the candidates had when the included files were read whole: the file's, then each included file's.)
  const all = () => {
    const names = new Set(own.keys());
    for (const inc of included) for (const n of inc.returns().keys()) if (!defined.has(n)) names.add(n);
    return [...names].filter(has);
  };
  return { has, candidates: maybe, all };
}

/** What each `return` of a function gives back: 'null', or the calls (null for a NULL) that may have produced it. */
export type Returned = Array<'null' | Array<string | null>>;

/** `Returned` for a body; undefined when some return gives back anything else. */
function returnedValues(f: FunctionInfo): Returned | undefined {
  const body = f.body;
  // The returns first: most functions return something else somewhere, and the locals need
  // not be read then.
  const returns: Array<SyntaxNode | 'null' | string> = [];
  const wanted = new Set<string>();
  for (const r of body.descendantsOfType('return_statement')) {
    const e = namedKids(r!)[0];
    if (!e) return undefined;
    const v = unwrap(e);
    if (isNull(v)) returns.push('null');
    else if (v.type === 'call_expression' && calleeName(v)) returns.push(v);
    else if (v.type === 'identifier') {
      returns.push(v.text);
      wanted.add(v.text);
    } else return undefined;
  }
  // (A C tree has no lambdas: the walk is for C++ only.)
  if (body.tree.language.idForNodeType('lambda_expression', true) !== null && body.text.includes('[') && body.descendantsOfType('lambda_expression').length) return undefined;
  const assigned = new Map<string, Array<string | null> | undefined>();
  if (wanted.size) {
    // A parameter holds the caller's object until it is assigned: it may give back anything.
    for (const n of parameterNames(f.node)) if (wanted.has(n)) assigned.set(n, undefined);
    const sourceOf = (value: SyntaxNode): string | null | undefined => {
      const v = unwrap(value);
      if (isNull(v)) return null;
      return v.type === 'call_expression' ? (calleeName(v) ?? undefined) : undefined;
    };
    // undefined: the local may hold anything.
    const add = (local: string, value: SyntaxNode | null) => {
      if (assigned.has(local) && !assigned.get(local)) return;
      const c = value ? sourceOf(value) : null;
      assigned.set(local, c === undefined ? undefined : [...(assigned.get(local) ?? []), c]);
    };
    for (const decl of body.descendantsOfType('declaration')) {
      for (const d of namedKids(decl!)) {
        if (!/declarator$/.test(d.type)) continue;
        const n = declaredLocal(d);
        if (n && wanted.has(n.text)) add(n.text, initialValue(d) ?? null);
      }
    }
    for (const a of body.descendantsOfType('assignment_expression')) {
      const left = a!.childForFieldName('left');
      if (left?.type !== 'identifier' || !wanted.has(left.text)) continue;
      const op = a!.childForFieldName('operator')?.text ?? a!.child(1)?.text;
      const right = a!.childForFieldName('right');
      if (op === '=' && right) add(left.text, right);
      else assigned.set(left.text, undefined);
    }
    if (body.text.includes('&')) {
      for (const p of body.descendantsOfType('pointer_expression')) {
        const arg = p!.childForFieldName('argument');
        if (p!.child(0)?.type === '&' && arg?.type === 'identifier') assigned.set(arg.text, undefined);
      }
    }
  }
  const out: Returned = [];
  for (const v of returns) {
    if (v === 'null') out.push('null');
    else if (typeof v !== 'string') out.push([calleeName(v)!]);
    else if (assigned.get(v)) out.push(assigned.get(v)!);
    else return undefined;
  }
  return out;
}

function isNull(n: SyntaxNode): boolean {
  return n.type === 'null' || n.type === 'nullptr' || (n.type === 'number_literal' && n.text === '0') || (n.type === 'identifier' && n.text === 'NULL');
}
