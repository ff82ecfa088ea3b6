import type { DialectParser, SyntaxNode, SyntaxTree } from './parser';
import { closingParen, codeOnly, defineDirectives, defineDirectiveStarts, parseDefine } from './preprocess';
import { argList, calleeName, forEachWord, namedKids, SINGLETON_PATTERN } from './syntax';

/** A `#define` found in a file or in a header it includes. */
export interface MacroDef {
  name: string;
  /** Parameter names of a function-like macro; undefined for object-like macros. */
  params?: string[];
  /** The body with line continuations replaced by spaces (offsets kept). */
  body: string;
  /** Offset of the body in its file's text. */
  bodyStart: number;
  /** Offset of the `#define` line in its file's text. */
  defineStart: number;
  /** Set when the macro comes from another file (an included header). */
  path?: string;
  /** The body mentions a singleton (else the macro matters only for the jumps or refcount calls it makes). */
  mentionsSingleton: boolean;
  /** The body increments or releases a reference (a project wrapper such as `MY_INCREF(o)`). */
  refcount: boolean;
  /** A branch-prediction hint: what the macro reads as in a condition (see `hintedCondition`). */
  hint?: HintForm;
  /**
   * Kept only for reading conditions: a hint, or a definition of a well-known hint name that
   * is not one (the name then means what the project says). Never expanded.
   */
  conditionOnly?: boolean;
}

/**
 * What a branch-prediction hint is, read as a truth value: one of its parameters
 * (`#define UNLIKELY(x) __builtin_expect(!!(x), 0)` is `x`), another hint applied to some of
 * its parameters (`#define unlikely(x) UNLIKELY(x)`), or, for an object-like macro, another
 * hint's name (`#define EXPECT __builtin_expect`).
 */
export type HintForm = { param: number } | { call: string; args: number[] } | { alias: string };

/**
 * Names of branch-prediction hints that usually come from a header the analysis does not
 * read (a system or third-party one): each is the identity on its single argument, unless
 * the project defines the name otherwise.
 */
export const WELL_KNOWN_HINTS: ReadonlySet<string> = new Set(['likely', 'unlikely', 'LIKELY', 'UNLIKELY', 'Py_LIKELY', 'Py_UNLIKELY', '_Py_LIKELY', '_Py_UNLIKELY', 'NPY_LIKELY', 'NPY_UNLIKELY']);

const EXPECT_BUILTIN = '__builtin_expect';

/** The text inside `s`'s outer parentheses when one pair encloses all of it. */
function insideParens(s: string): string | undefined {
  return s.startsWith('(') && closingParen(s, 0) === s.length - 1 ? s.slice(1, -1) : undefined;
}

/** The arguments of `name(...)` when `s` is that one call, split at top-level commas. */
function callArgs(s: string): { name: string; args: string[] } | undefined {
  const m = /^([A-Za-z_]\w*)\s*(\([\s\S]*\))$/.exec(s);
  const inner = m ? insideParens(m[2]) : undefined;
  if (!m || inner === undefined) return undefined;
  const args: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      args.push(inner.slice(from, i).trim());
      from = i + 1;
    }
  }
  args.push(inner.slice(from).trim());
  return { name: m[1], args: args.length === 1 && args[0] === '' ? [] : args };
}

const SIMPLE_OPERAND = /^[\w\s()!+-]+$/;
const TRUTH_CAST = /^\(\s*(?:long\s+long|long|int|bool|_Bool)\s*\)\s*(?=[(A-Za-z_])/;

/**
 * `code` read as a truth value, with what does not change it taken off: outer parentheses,
 * `!!`, `__builtin_expect(e, c)`, `!= 0`, a cast to an integer type.
 */
function truthCore(code: string): string {
  let s = code.trim();
  for (let i = 0; i < 32; i++) {
    const inner = insideParens(s);
    if (inner !== undefined) {
      s = inner.trim();
      continue;
    }
    if (s.startsWith('!!')) {
      s = s.slice(2).trim();
      continue;
    }
    const cast = TRUTH_CAST.exec(s);
    if (cast && (insideParens(s.slice(cast[0].length)) !== undefined || /^[A-Za-z_]\w*$/.test(s.slice(cast[0].length)))) {
      s = s.slice(cast[0].length);
      continue;
    }
    const call = callArgs(s);
    if (call?.name === EXPECT_BUILTIN && call.args.length === 2 && SIMPLE_OPERAND.test(call.args[1])) {
      s = call.args[0];
      continue;
    }
    // (The test first: the search tries every length of the left side.)
    const ne = s.endsWith('0') && s.includes('!=') ? /^([\s\S]*?)\s*!=\s*0$/.exec(s) : null;
    if (ne && (/^[A-Za-z_]\w*$/.test(ne[1]) || insideParens(ne[1]) !== undefined)) {
      s = ne[1];
      continue;
    }
    break;
  }
  return s;
}

/** The hint a definition's body makes of the macro, if it is one. */
function hintForm(code: string, params: string[] | undefined): HintForm | undefined {
  const s = truthCore(code);
  // (An empty object-like body, `#define likely`, leaves `likely(e)` as `(e)`: an alias of nothing.)
  if (!params) return s === '' || /^[A-Za-z_]\w*$/.test(s) ? { alias: s } : undefined;
  const i = params.indexOf(s);
  if (i >= 0) return { param: i };
  const call = callArgs(s);
  if (!call || !call.args.length) return undefined;
  const args = call.args.map((a) => params.indexOf(a));
  return args.every((k) => k >= 0) ? { call: call.name, args } : undefined;
}

/** A `#define` directive at a given offset (sticky): its name, parameters and body. */
const DEFINE_AT = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)]*\))?((?:[^\n\\]|\\\r?\n|\\)*)/my;
const SINGLETON_RE = new RegExp(SINGLETON_PATTERN);
const JUMP_RE = /\b(?:goto|return)\b/;
const REFCOUNT_RE = /\bPy_(?:X?INCREF|X?DECREF|NewRef|XNewRef|IncRef|DecRef|XIncRef|XDecRef|CLEAR|X?SETREF)\b/;

/**
 * The `#define`s of `text` that can matter here: those whose body mentions a singleton,
 * and statement macros that jump (`goto`, `return`), whose expansion changes the paths.
 */
export function collectMacros(text: string, path?: string): MacroDef[] {
  const out: MacroDef[] = [];
  if (!text.includes('define')) return out;
  // Matched at each directive's line (found with `indexOf`): a search for the pattern through the whole text is
  // several times slower, and this runs on every keystroke.
  for (const at of defineDirectiveStarts(text)) {
    DEFINE_AT.lastIndex = at;
    const m = DEFINE_AT.exec(text);
    if (!m) continue;
    const raw = m[3] ?? '';
    const code = raw.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
    const mentionsSingleton = SINGLETON_RE.test(code);
    const refcount = REFCOUNT_RE.test(code);
    const params = m[2] !== undefined ? m[2].slice(1, -1).split(',').map((p) => p.trim()).filter(Boolean) : undefined;
    const expands = mentionsSingleton || refcount || JUMP_RE.test(code);
    // (A hint's body names no singleton and jumps nowhere: `expands` and `hint` never both hold.)
    const hint = expands ? undefined : hintForm(code, params);
    if (!expands && !hint && !WELL_KNOWN_HINTS.has(m[1])) continue;
    const bodyStart = m.index + m[0].length - raw.length;
    // Comments and line continuations become spaces, so offsets into the body stay valid.
    const body = raw
      .replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '))
      .replace(/\\(\r?\n)/g, (_s, nl: string) => ' ' + nl.replace(/[^\n]/g, ' '));
    out.push({ name: m[1], params, body, bodyStart, defineStart: m.index, path, mentionsSingleton, refcount, ...(expands ? {} : { hint, conditionOnly: true }) });
  }
  return keepHints(out);
}

/**
 * Drops the hints that name another macro unless that one is a hint too (here, or a
 * well-known name): most `#define F(x) G(x)` and `#define A B` are not hints, and are not
 * worth keeping.
 */
function keepHints(defs: MacroDef[]): MacroDef[] {
  if (!defs.some((d) => d.hint && !('param' in d.hint))) return defs;
  const hints = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of defs) {
      if (!d.hint || hints.has(d.name)) continue;
      const target = 'param' in d.hint ? undefined : 'call' in d.hint ? d.hint.call : d.hint.alias;
      if (!target || target === EXPECT_BUILTIN || WELL_KNOWN_HINTS.has(target) || hints.has(target)) {
        hints.add(d.name);
        changed = true;
      }
    }
  }
  return defs.filter((d) => !d.hint || hints.has(d.name) || WELL_KNOWN_HINTS.has(d.name));
}

/**
 * The condition a branch-prediction hint tests, read as a truth value: `e` for
 * `__builtin_expect(e, c)`, for a project macro that is a hint (`UNLIKELY(e)` with
 * `#define UNLIKELY(x) __builtin_expect(!!(x), 0)`), and for a well-known hint name the
 * project does not define otherwise (`likely(e)`). Undefined for any other expression.
 */
export function hintedCondition(n: SyntaxNode, macros: ReadonlyMap<string, MacroDef> | undefined): SyntaxNode | undefined {
  if (n.type !== 'call_expression') return undefined;
  const name = calleeName(n);
  if (name === undefined) return undefined;
  // (Most calls are not hints: the name first, the arguments only then.)
  const def = macros?.get(name);
  if (def ? !def.hint : name !== EXPECT_BUILTIN && !WELL_KNOWN_HINTS.has(name)) return undefined;
  return hintArgument(name, argList(n), macros, 0);
}

function hintArgument(name: string, args: SyntaxNode[], macros: ReadonlyMap<string, MacroDef> | undefined, depth: number): SyntaxNode | undefined {
  const def = macros?.get(name);
  if (!def) {
    if (name === EXPECT_BUILTIN) return args.length === 2 ? args[0] : undefined;
    return WELL_KNOWN_HINTS.has(name) && args.length === 1 ? args[0] : undefined;
  }
  const h = def.hint;
  if (!h || depth > 8) return undefined;
  if ('alias' in h) return h.alias === '' ? (args.length === 1 ? args[0] : undefined) : hintArgument(h.alias, args, macros, depth + 1);
  if (!def.params || def.params.length !== args.length) return undefined;
  if ('param' in h) return args[h.param];
  return hintArgument(h.call, h.args.map((k) => args[k]), macros, depth + 1);
}

/** `n` with any hints around it taken off (`UNLIKELY(x == NULL)` is `x == NULL`). */
export function withoutHints(n: SyntaxNode, macros: ReadonlyMap<string, MacroDef> | undefined): SyntaxNode {
  let x = n;
  for (let h = hintedCondition(x, macros); h; h = hintedCondition(x, macros)) x = h;
  return x;
}

const ASSIGNED_IN_BODY = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?(?:[-+*/%&|^]|<<|>>)?=(?!=)|([A-Za-z_]\w*)\s*(?:\+\+|--)|(?:\+\+|--)\s*([A-Za-z_]\w*)/g;

/**
 * Names that `#define` bodies of `text` assign (`#define MARK_DONE done = 1;`): the
 * analysis does not see inside most macro uses, so what it knows of these is never trusted.
 */
export function macroAssignedNames(text: string): string[] {
  const out = new Set<string>();
  for (const d of defineDirectives(text)) {
    const body = d.replace(/^[ \t]*#[ \t]*define[ \t]+[A-Za-z_]\w*(?:\([^)]*\))?/, '').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ');
    for (const a of body.matchAll(ASSIGNED_IN_BODY)) out.add(a[1] ?? a[2] ?? a[3]);
  }
  return [...out];
}

/** The macros of `text` whose body mentions a singleton. */
export function collectSingletonMacros(text: string, path?: string): MacroDef[] {
  return collectMacros(text, path).filter((d) => d.mentionsSingleton);
}

/** Whether a macro body is a statement (contains `return`, or starts like one) rather than an expression. */
export function isStatementMacro(def: MacroDef): boolean {
  const b = stripComments(def.body).trim();
  return /\breturn\b/.test(b) || /^(do\b|if\b|\{|while\b|for\b|switch\b)/.test(b) || /;\s*\S/.test(b);
}

function stripComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/.*$/gm, ' ');
}

const STMT_PREFIX = 'void __cpyref_m(void) {\n';
const EXPR_PREFIX = 'void *__cpyref_e = (';

/**
 * Expands project macros one level by parsing their bodies on their own; owns the
 * trees it creates, so call `dispose()` after the function's analysis.
 */
export class MacroExpander {
  private readonly trees: SyntaxTree[] = [];
  private readonly cache = new Map<string, readonly SyntaxNode[] | SyntaxNode | null>();

  constructor(
    private readonly parser: DialectParser,
    readonly macros: Map<string, MacroDef>,
  ) {}

  /** Names of the macros that mention a singleton or touch reference counts, for relevance filters. */
  names(): string[] {
    return [...this.macros.values()].filter((d) => d.mentionsSingleton || d.refcount).map((d) => d.name);
  }

  private substitute(def: MacroDef, call: SyntaxNode | undefined): string | undefined {
    if (!def.params) return call && call.type === 'call_expression' ? undefined : def.body;
    if (!call || call.type !== 'call_expression') return undefined;
    const args = namedKids(call.childForFieldName('arguments')!).map((a) => a.text);
    let body = def.body.replace(/##/g, '');
    for (const [i, p] of def.params.entries()) {
      if (p === '...') continue;
      // A half-typed or odd definition may have a parameter that is not a name: leave it alone.
      if (!/^[A-Za-z_]\w*$/.test(p)) return undefined;
      // (An argument in parentheses keeps its precedence; a plain name needs none, and stays a name: `x = item;` in
      // the body assigns the argument, which every analysis then sees as the local it is.)
      const arg = args[i] ?? '0';
      body = body.replace(new RegExp(`(?<![\\w#])#?${p}\\b`, 'g'), /^[A-Za-z_]\w*$/.test(arg) ? arg : `(${arg})`);
    }
    return body;
  }

  /** The statements a statement-position use expands to. */
  statements(expr: SyntaxNode): readonly SyntaxNode[] | undefined {
    const def = this.lookup(expr);
    if (!def || def.conditionOnly) return undefined;
    const body = this.substitute(def, expr.type === 'call_expression' ? expr : undefined);
    if (body === undefined) return undefined;
    const key = 'S' + body;
    if (!this.cache.has(key)) {
      const tree = this.parser.parse(`${STMT_PREFIX}${body};\n}\n`);
      this.trees.push(tree);
      const fn = tree.rootNode.namedChildren.find((c) => c?.type === 'function_definition');
      const b = fn?.childForFieldName('body');
      this.cache.set(key, b ? namedKids(b) : null);
    }
    return (this.cache.get(key) as readonly SyntaxNode[] | null) ?? undefined;
  }

  /** The expression an expression-position use expands to. */
  expression(expr: SyntaxNode): SyntaxNode | undefined {
    const def = this.lookup(expr);
    if (!def || !(def.mentionsSingleton || def.refcount) || isStatementMacro(def)) return undefined;
    // `#define RET_STR(s) (s ? PyUnicode_FromString(s) : Py_False);` used as `return RET_STR(p);`:
    // the compiler sees an empty statement after the expression.
    const body = this.substitute(def, expr.type === 'call_expression' ? expr : undefined)?.replace(/;\s*$/, '');
    if (body === undefined) return undefined;
    const key = 'E' + body;
    if (!this.cache.has(key)) {
      const tree = this.parser.parse(`${EXPR_PREFIX}${body});\n`);
      this.trees.push(tree);
      const decl = tree.rootNode.namedChildren.find((c) => c?.type === 'declaration');
      const init = decl?.namedChildren.find((c) => c?.type === 'init_declarator');
      const value = init?.childForFieldName('value');
      this.cache.set(key, value && !value.hasError ? value : null);
    }
    return (this.cache.get(key) as SyntaxNode | null) ?? undefined;
  }

  /** The definition a use refers to. */
  lookup(expr: SyntaxNode): MacroDef | undefined {
    const nameNode = expr.type === 'call_expression' ? expr.childForFieldName('function') : expr;
    if (!nameNode || nameNode.type !== 'identifier') return undefined;
    return this.macros.get(nameNode.text);
  }

  /** Frees the trees of every expansion. */
  dispose(): void {
    for (const t of this.trees) t.delete();
    this.trees.length = 0;
    this.cache.clear();
  }
}

/** Source of a pseudo-function whose body is a macro's body, for analysing the definition itself. */
export function macroAsFunction(def: MacroDef): { text: string; offset: number } {
  const prefix = 'PyObject *__cpyref_macro(void) {\n';
  return { text: `${prefix}${def.body};\n}\n`, offset: def.bodyStart - prefix.length };
}

/**
 * Macros of well-known headers that leave the function: NumPy's `import_array()` and
 * `import_umath()` return NULL when the import fails, `import_array1(ret)` returns `ret`,
 * `import_array2(msg, ret)` returns `ret`. A definition in the project comes first.
 */
export const WELL_KNOWN_MACROS: readonly MacroDef[] = collectMacros(
  [
    '#define import_array() { if (_import_array() < 0) { PyErr_Print(); return NULL; } }',
    '#define import_array1(ret) { if (_import_array() < 0) { PyErr_Print(); return ret; } }',
    '#define import_array2(msg, ret) { if (_import_array() < 0) { PyErr_Print(); return ret; } }',
    '#define import_umath() { if (_import_umath() < 0) { PyErr_Print(); return NULL; } }',
    '#define import_umath1(ret) { if (_import_umath() < 0) { PyErr_Print(); return ret; } }',
    '#define import_ufunc() { if (_import_umath() < 0) { PyErr_Print(); return NULL; } }',
  ].join('\n'),
  '<numpy>',
);

/** What the `#define`s of one text do with their arguments (see `discardingMacros`). */
export interface ArgumentUse {
  /** By function-like macro: the indexes of the arguments that every definition of the text drops. */
  dropped: Map<string, Set<number>>;
  /** Names the text defines as object-like macros. */
  objectLike: Set<string>;
}

/** `ArgumentUse` of one text; definitions inside block comments do not count. */
export function argumentUse(text: string): ArgumentUse {
  const out: ArgumentUse = { dropped: new Map(), objectLike: new Set() };
  if (!text.includes('define')) return out;
  for (const d of defineDirectives(text.includes('/*') ? codeOnly(text) : text)) {
    const def = parseDefine(d);
    if (!def) continue;
    if (!def.params) {
      out.objectLike.add(def.name);
      continue;
    }
    const words = def.params.map((p) => (p === '...' ? '__VA_ARGS__' : p));
    const used = new Set<string>();
    forEachWord(def.body, new Set(words), (w) => void used.add(w));
    const dropped = new Set(words.flatMap((w, i) => (/^\w+$/.test(w) && !used.has(w) ? [i] : [])));
    const before = out.dropped.get(def.name);
    out.dropped.set(def.name, before ? new Set([...before].filter((i) => dropped.has(i))) : dropped);
  }
  return out;
}

/**
 * The function-like macros that drop some of their arguments in every definition of `uses` (the file's and its
 * quoted includes': a debug `#define TRACE(args)` with an empty body): by name, the indexes of the arguments no
 * definition uses. Code written in such an argument is never compiled.
 */
export function discardingMacros(uses: readonly ArgumentUse[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const u of uses) {
    for (const [name, dropped] of u.dropped) {
      const before = out.get(name);
      out.set(name, before ? new Set([...before].filter((i) => dropped.has(i))) : dropped);
    }
  }
  for (const [name, dropped] of out) if (!dropped.size || uses.some((u) => u.objectLike.has(name))) out.delete(name);
  return out;
}
