import { API_RETURNS } from './api/returns.generated';
import { FORMAT_CALLS, formatStolenArgs, STEALING } from './api/stealing';
import { KEYWORDS } from './functions';
import { quotedIncludes } from './preprocess';
import { isWordChar, SINGLETON_PATTERN } from './syntax';
import { LineIndex } from './text';

/** Where a function is registered with CPython (a method table, a slot, a getter). */
export interface Registration {
  name: string;
  start: number;
  end: number;
  /** 0-based line and column of `start`, so a file that is not open can still be pointed at. */
  line?: number;
  column?: number;
}

/** A function defined in a file, as the lexical scan sees it. */
export interface DefinedFunction {
  name: string;
  isStatic: boolean;
}

/** What one file contributes to the project-wide index; computed lexically, without parsing. */
export interface FileIndex {
  path: string;
  registrations: Registration[];
  /** [caller, callee]: `caller` returns `callee(...)`, directly or through a local it returns. */
  returnEdges: Array<[string, string]>;
  /** [caller, callee]: `caller` uses the result of `callee(...)` as a borrowed reference (never releases, returns or hands it over). */
  borrowedUses?: Array<[string, string]>;
  /** Functions whose result is handed to a stealing argument or `reinterpret_steal`. */
  stolen: string[];
  /** Functions declared with `CPYCHECKER_RETURNS_BORROWED_REF`. */
  borrowedDecls: string[];
  /** Functions defined here. */
  functions: DefinedFunction[];
  /** Base names of the files included with quotes. */
  includes: string[];
  /** The file defines `Py_LIMITED_API`. */
  limitedApi: boolean;
}

const SLOT = /^(?:tp|nb|sq|mp|am|bf)_\w+$/;
/** Types whose initializers register functions with CPython. */
const TABLE_TYPE = /^(?:PyMethodDef|PyGetSetDef|PyMemberDef|PyType_Slot|PyTypeObject|PyModuleDef_Slot|PyModuleDef|PyNumberMethods|PySequenceMethods|PyMappingMethods|PyAsyncMethods|PyBufferProcs|PyType_Spec|PyStructSequence_Field)$/;
/** Words that name no function: C's keywords (as `definitionNames` skips them) and `NULL`. */
const NOT_NAMES: ReadonlySet<string> = new Set([...KEYWORDS, 'NULL']);

/**
 * Tokens of C code as two parallel lists, so that no object is made per token: `t[k]` is the k-th token's text (an
 * identifier, `->`, one of `{}()[],;=&.<>*?:`, or `"` for a string or character literal) and `at[k]` its offset.
 * `#` lines are returned separately (their bodies may hold method-table entries).
 */
export interface Tokens {
  t: string[];
  at: number[];
  directives: Array<{ text: string; i: number }>;
}

/**
 * Tokenizes C code: comments are dropped and strings become `"`. A scanner by hand: it gives what the regular
 * expression it replaced finds (`test/core/project-index.test.ts` holds the two together). The rest of a word, a
 * comment, a literal or a directive is skipped with a regular expression's search rather than character by character
 * (a word's end, a comment's end, a literal's or directive's next escape or end), a line's indentation at once, and a
 * character no token starts with after one table lookup: a scan indexes files in code V8 has not optimised yet (when
 * this was measured, its workers did so after the last file), where each character read in JavaScript costs most. A first
 * pass of `indexFile` over the 204 files a real-world scan indexes, in a fresh process, four runs alternating with the
 * scanner by hand: 351-456 -> 269-343 ms; later passes 237-273 -> 179-223 ms (the same indexes, file by file).
 */
export function tokenize(text: string): Tokens {
  const t: string[] = [];
  const at: number[] = [];
  const directives: Array<{ text: string; i: number }> = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const kind = c < 128 ? CHAR_KIND[c] : OTHER;
    if (kind === OTHER) {
      i++;
      continue;
    }
    if (kind === WORD) {
      WORD_REST.lastIndex = i + 1;
      WORD_REST.test(text);
      const p = WORD_REST.lastIndex;
      t.push(text.slice(i, p));
      at.push(i);
      i = p;
      continue;
    }
    if (kind === PUNCTUATION) {
      t.push(PUNCT[c]!);
      at.push(i);
      i++;
      continue;
    }
    if (kind === SLASH) {
      const d = text.charCodeAt(i + 1);
      if (d === 42 /* * */) {
        // A block comment ends at `*/` or at the end of its line (as the regular expression did).
        BLOCK_COMMENT_END.lastIndex = i + 2;
        if (!BLOCK_COMMENT_END.test(text)) i = n;
        else {
          const e = BLOCK_COMMENT_END.lastIndex;
          i = text.charCodeAt(e - 1) === 47 /* / of the comment's end */ ? e : e - 1;
        }
        continue;
      }
      if (d === 47) {
        const nl = text.indexOf('\n', i + 2);
        i = nl === -1 ? n : nl;
        continue;
      }
      i++;
      continue;
    }
    if (kind === QUOTE) {
      t.push('"');
      at.push(i);
      i = skipEscaped(text, i + 1, c === 34 ? IN_DOUBLE_QUOTES : IN_SINGLE_QUOTES);
      continue;
    }
    // (`^` of a multiline regular expression: position i starts a line.)
    if (kind === LINE_START && (i === 0 || isLineEnd(text.charCodeAt(i - 1)))) {
      let p = i;
      while (p < n && (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9)) p++;
      if (text.charCodeAt(p) === 35) {
        p = skipEscaped(text, p + 1, IN_DIRECTIVE);
        directives.push({ text: text.slice(i, p), i });
        i = p;
        continue;
      }
      // (The line's indentation holds no token.)
      i = p;
      continue;
    }
    if (c === 45 /* - */ && text.charCodeAt(i + 1) === 62 /* > */) {
      t.push('->');
      at.push(i);
      i += 2;
      continue;
    }
    i++;
  }
  return { t, at, directives };
}

/** The characters that are tokens of their own. */
const PUNCTUATION_CHARS = '{}()[],;=&.<>*?:';
/** What a character below 128 may start, for `tokenize`. */
const OTHER = 0;
const WORD = 1;
const PUNCTUATION = 2;
const SLASH = 3;
const QUOTE = 4;
/** A space, a tab or `#`: a directive when it starts a line. */
const LINE_START = 5;
/** `-`, of `->`. */
const MINUS = 6;
const CHAR_KIND = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  CHAR_KIND[c] = /[A-Za-z_]/.test(ch) ? WORD : PUNCTUATION_CHARS.includes(ch) ? PUNCTUATION : ch === '/' ? SLASH : ch === '"' || ch === "'" ? QUOTE : ' \t#'.includes(ch) ? LINE_START : ch === '-' ? MINUS : OTHER;
}
/** The rest of a word. */
const WORD_REST = /\w*/y;
/** Where a block comment ends: at its `*\/`, or before the end of its line. */
const BLOCK_COMMENT_END = /\*\/|[\n\r\u2028\u2029]/g;
/** What ends or escapes within a literal (its quote, a line feed, a backslash), and within a directive. */
const IN_DOUBLE_QUOTES = /["\\\n]/g;
const IN_SINGLE_QUOTES = /['\\\n]/g;
const IN_DIRECTIVE = /[\n\\]/g;

/**
 * The end of a literal or a directive whose text goes on at `from`: past its closing quote (`stops` has a quote), or
 * at the line feed that ends it; a backslash takes the next character, a line feed too (or ends the text, where it
 * stays). One search per escape, not per character: a single expression for the whole run (`(?:[^"\\\n]|\\.)*`) grows
 * the engine's backtracking stack with it, and a run of a few million characters overflowed it.
 */
function skipEscaped(text: string, from: number, stops: RegExp): number {
  for (let p = from; ; ) {
    stops.lastIndex = p;
    if (!stops.test(text)) return text.length;
    const k = stops.lastIndex - 1;
    const ch = text.charCodeAt(k);
    if (ch === 92 /* \\ */) {
      if (k + 1 >= text.length) return k;
      p = k + 2;
    } else return ch === 10 ? k : k + 1;
  }
}

/** By character code, the one-character strings of `PUNCTUATION_CHARS`. */
const PUNCT: Array<string | undefined> = new Array<string | undefined>(128).fill(undefined);
for (const ch of PUNCTUATION_CHARS) PUNCT[ch.charCodeAt(0)] = ch;

/** A line terminator of a regular expression's `^` and `$` (multiline). */
function isLineEnd(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

function isIdent(t: string): boolean {
  const c = t.charCodeAt(0);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** Skips cast groups `(T)` and `&` backwards from index j; returns the index of the token before them. */
function skipBackCasts(t: string[], j: number): number {
  for (;;) {
    if (j >= 0 && t[j] === '&') {
      j--;
      continue;
    }
    if (j >= 0 && t[j] === ')') {
      let depth = 0;
      let k = j;
      for (; k >= 0; k--) {
        if (t[k] === ')') depth++;
        else if (t[k] === '(') {
          depth--;
          if (depth === 0) break;
        } else if (!isIdent(t[k]) && t[k] !== '*') return j;
      }
      if (k < 0) return j;
      j = k - 1;
      continue;
    }
    return j;
  }
}

function skipForwardCasts(t: string[], j: number): number {
  while (j < t.length && t[j] === '(') {
    let k = j + 1;
    while (k < t.length && (isIdent(t[k]) || t[k] === '*')) k++;
    if (t[k] !== ')' || k === j + 1) return j;
    j = k + 1;
  }
  return j;
}

function matchingClose(t: string[], open: number): number {
  let depth = 0;
  for (let k = open; k < t.length; k++) {
    if (t[k] === '(') depth++;
    else if (t[k] === ')' && --depth === 0) return k;
  }
  return t.length;
}

function functionName(t: string[], close: number): { name: string; at: number } | undefined {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    if (t[k] === ')') depth++;
    else if (t[k] === '(' && --depth === 0) {
      const name = k > 0 ? t[k - 1] : undefined;
      return name && isIdent(name) ? { name, at: k - 1 } : undefined;
    }
  }
  return undefined;
}

/** True when the declaration that an initializer `{` at index `open` belongs to names a table type. */
function declaresTable(t: string[], open: number): boolean {
  for (let k = open - 1, n = 0; k >= 0 && n < 64; k--, n++) {
    const w = t[k];
    if (w === ';' || w === '{' || w === '}') return false;
    if (TABLE_TYPE.test(w)) return true;
  }
  return false;
}

type Brace = { kind: 'block' | 'init' | 'table' | 'extern' };
// (Shared: the scan allocates nothing per token it passes over.)
const TABLE_BRACE: Brace = { kind: 'table' };
const BLOCK_BRACE: Brace = { kind: 'block' };

function register(out: Registration[], toks: Tokens, k: number, offset: number): void {
  const start = toks.at[k] + offset;
  out.push({ name: toks.t[k], start, end: start + toks.t[k].length });
}

/** Scans tokens for registrations: entries of table initializers and `tp_*` slot assignments. */
function scanRegistrations(toks: Tokens, out: Registration[], tableByDefault: boolean, offset = 0): void {
  const { t, at } = toks;
  const stack: Brace[] = [];
  for (let i = 0; i < t.length; i++) {
    const w = t[i];
    if (w === '{') {
      const parent = stack[stack.length - 1];
      const table = tableByDefault || parent?.kind === 'table' || (i > 0 && t[i - 1] === '=' && declaresTable(t, i));
      stack.push(table ? TABLE_BRACE : BLOCK_BRACE);
      continue;
    }
    if (w === '}') {
      stack.pop();
      continue;
    }
    if (!isIdent(w)) continue;
    let next = t[i + 1];
    const inTable = stack.length > 0 && stack[stack.length - 1].kind === 'table';
    // (What can be registered: a name followed by `;` (assigned to a slot), or in a table by `,`, `}`, `)` or template
    // arguments.)
    if (next !== ';' && !(inTable && (next === ',' || next === '}' || next === ')' || next === '<'))) continue;
    if (NOT_NAMES.has(w)) continue;
    // A C++ template's instantiation (`handler<int>`): what follows its arguments.
    let after = i + 1;
    if (next === '<' && inTable) {
      for (let depth = 0, k = i + 1; k < t.length && k < i + 32; k++) {
        if (t[k] === '<') depth++;
        else if (t[k] === '>' && --depth === 0) {
          after = k + 1;
          next = t[after];
          break;
        } else if (t[k] === ';' || t[k] === '{' || t[k] === '}') break;
      }
    }
    // A C++ qualified name (`util::sum`, `&Type::method`, `::f`) is registered under its last part.
    let q = i;
    while (q >= 2 && t[q - 1] === ':' && t[q - 2] === ':' && at[q - 1] === at[q - 2] + 1) q = q >= 3 && isIdent(t[q - 3]) ? q - 3 : q - 2;
    const before = skipBackCasts(t, q - 1);
    const prevTok = before >= 0 ? t[before] : '';
    if (inTable) {
      if ((next === ',' || next === '}') && (prevTok === '{' || prevTok === ',' || (prevTok === '=' && before >= 2 && t[before - 2] === '.'))) {
        register(out, toks, i, offset);
        continue;
      }
      // C++ casts: reinterpret_cast<PyCFunction>(f), PyCFunction(f).
      const open = q >= 1 && t[q - 1] === '&' ? q - 2 : q - 1;
      const then = t[after + 1];
      if (open >= 0 && t[open] === '(' && next === ')' && (then === ',' || then === '}') && open >= 1 && (t[open - 1] === '>' || /func|Function|proc|getter|setter/i.test(t[open - 1]))) {
        register(out, toks, i, offset);
        continue;
      }
    }
    if (prevTok === '=' && next === ';' && before >= 2 && SLOT.test(t[before - 1]) && (t[before - 2] === '.' || t[before - 2] === '->')) {
      register(out, toks, i, offset);
    }
  }
}

/** Functions declared with cpychecker's `CPYCHECKER_RETURNS_BORROWED_REF` marker. */
export function borrowedDeclarationsIn(text: string): string[] {
  if (!text.includes('CPYCHECKER_RETURNS_BORROWED_REF')) return [];
  return [...text.matchAll(/\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*CPYCHECKER_RETURNS_BORROWED_REF/g)].map((m) => m[1]);
}

/** Sets each registration's line and column. */
function placeRegistrations(text: string, regs: Registration[]): void {
  if (!regs.length) return;
  const lines = new LineIndex(text);
  for (const r of regs) {
    const p = lines.position(r.start);
    r.line = p.line;
    r.column = p.column;
  }
}

/** A singleton's name or a `Py_Is…(` test: a function whose text has neither compares no local with a singleton. */
const SINGLETON_OR_TEST = new RegExp(`${SINGLETON_PATTERN}|Py_Is\\w*\\(`);
/** What comes before `=` in a compound assignment or comparison (`+=`, `==`, `<=`, …): not a plain assignment. */
const BEFORE_EQUALS = '=!<>+-*/%&|^';

/** Indexes one file: registrations, call edges and borrowed markers. */
export function indexFile(path: string, text: string): FileIndex {
  const toks = tokenize(text);
  const { t, at, directives } = toks;
  const out: FileIndex = {
    path,
    registrations: [],
    returnEdges: [],
    stolen: [],
    borrowedDecls: [],
    functions: [],
    includes: quotedIncludes(text).map((name) => name.split('/').pop()!),
    limitedApi: text.includes('Py_LIMITED_API') && /^[ \t]*#[ \t]*define[ \t]+Py_LIMITED_API\b/m.test(text),
  };
  out.borrowedDecls.push(...borrowedDeclarationsIn(text));
  scanRegistrations(toks, out.registrations, false);
  // Method-table entries written as macros (Argument Clinic's `#define X_METHODDEF {...},`).
  for (const d of directives) {
    const m = /^[ \t]*#[ \t]*define[ \t]+(\w+)/.exec(d.text);
    if (!m || !(/METHODDEF$/.test(m[1]) || /\bMETH_/.test(d.text))) continue;
    // Continuations become spaces of the same length (a CRLF one is three characters), so offsets stay put.
    const body = d.text.slice(m[0].length).replace(/\\\r?\n/g, (c) => ' '.repeat(c.length));
    scanRegistrations(tokenize(body.replace(/^[ \t]*#/, ' ')), out.registrations, true, d.i + m[0].length);
  }
  placeRegistrations(text, out.registrations);
  const stealMacros = stealingMacros(directives.map((d) => d.text));
  // Functions (at file level, or inside `extern "C" {` / `namespace x {`), their returned calls and stolen results.
  const stack: Brace['kind'][] = [];
  const calls: Array<{ name: string; arg: number; stolen: number[] } | undefined> = [];
  let fn: string | undefined;
  let fnDepth = -1;
  // Per function: locals assigned a call's result, locals it returns, and what releases, increfs or hands them over.
  let assigned = new Map<string, Set<string>>();
  let returned = new Set<string>();
  let increfd = new Set<string>();
  let owned = new Set<string>();
  let usedCalls: string[] = [];
  let fnStart = 0;
  let returnedCall = -1;
  const endFunction = (caller: string, end: number) => {
    let body: string | undefined;
    let compares: boolean | undefined;
    for (const local of returned) {
      // `r = helper(...); Py_INCREF(r); return r;` takes its own reference: helper may return a borrowed one.
      if (increfd.has(local) || !assigned.has(local)) continue;
      // `r = helper(...); if (r != Py_NotImplemented) return r;`: the singleton is a sentinel, never returned.
      body ??= text.slice(fnStart, end);
      compares ??= SINGLETON_OR_TEST.test(body);
      if (compares && new RegExp(`\\b${local}\\s*[!=]=\\s*(?:\\([^()]*\\)\\s*)?${SINGLETON_PATTERN}|${SINGLETON_PATTERN}\\s*[!=]=\\s*${local}\\b|Py_Is\\w*\\(\\s*${local}\\s*\\)`).test(body)) continue;
      for (const callee of assigned.get(local) ?? []) out.returnEdges.push([caller, callee]);
    }
    // The C API's own functions are never the project's: not recorded (the index crosses threads).
    const borrowed = new Set(usedCalls.filter((c) => !API_NAMES.has(c)));
    // A caller that increfs the result, or neither releases, returns nor hands it over, treats it as borrowed.
    for (const [local, callees] of assigned) if (increfd.has(local) || (!returned.has(local) && !owned.has(local))) for (const c of callees) borrowed.add(c);
    for (const c of borrowed) (out.borrowedUses ??= []).push([caller, c]);
    if (assigned.size) assigned = new Map();
    if (returned.size) returned = new Set();
    if (increfd.size) increfd = new Set();
    if (owned.size) owned = new Set();
    if (usedCalls.length) usedCalls = [];
  };
  for (let i = 0; i < t.length; i++) {
    const w = t[i];
    if (w === '{') {
      const prev = i > 0 ? t[i - 1] : undefined;
      const transparent = (prev === '"' && i >= 2 && t[i - 2] === 'extern') || (prev !== undefined && isIdent(prev) && i >= 2 && t[i - 2] === 'namespace');
      if (!fn && !transparent && prev === ')' && stack.every((k) => k === 'extern')) {
        const found = functionName(t, i - 1);
        if (found) {
          fn = found.name;
          fnDepth = stack.length;
          fnStart = at[i];
          let k = found.at - 1;
          let isStatic = false;
          for (; k >= 0 && t[k] !== ';' && t[k] !== '}' && t[k] !== '{'; k--) if (t[k] === 'static') isStatic = true;
          out.functions.push({ name: fn, isStatic });
        }
      }
      stack.push(transparent ? 'extern' : 'block');
      continue;
    }
    if (w === '}') {
      stack.pop();
      if (fn && stack.length === fnDepth) {
        endFunction(fn, at[i]);
        fn = undefined;
      }
      continue;
    }
    if (w === '(') {
      const prev = i > 0 ? t[i - 1] : '';
      const stolen = STEALING_ARGS.has(prev) ? STEALING_ARGS.get(prev) : stealMacros.get(prev);
      calls.push(stolen ? { name: prev, arg: 0, stolen } : FORMAT_NAMES.has(prev) ? { name: prev, arg: 0, stolen: [] } : undefined);
      continue;
    }
    if (w === '"') {
      // A `Py_BuildValue`-style format: its `N` units steal the matching arguments.
      const c = calls[calls.length - 1];
      const fmt = c && FORMAT_CALLS[c.name];
      if (c && fmt && c.arg === fmt.format && !(i > 0 && t[i - 1] === '"')) {
        // Adjacent literals (`"O" "N"`) are one format.
        let format = '';
        for (let k = i; k < t.length && t[k] === '"'; k++) {
          const lit = /"((?:\\[\s\S]|[^"\\\n])*)"/y;
          lit.lastIndex = at[k];
          format += lit.exec(text)?.[1] ?? '';
        }
        c.stolen = formatStolenArgs(`"${format}"`, fmt.format + 1) ?? [];
      }
      continue;
    }
    if (w === ')') {
      calls.pop();
      continue;
    }
    if (w === ',') {
      const c = calls[calls.length - 1];
      if (c) c.arg++;
      continue;
    }
    if (w === 'return' && fn) {
      // Only `return f(...);` or `return local;`: a call used in a larger expression does not hand its result back.
      const j = skipForwardCasts(t, i + 1);
      if (j + 1 < t.length && isIdent(t[j]) && t[j + 1] === '(' && t[matchingClose(t, j + 1) + 1] === ';') {
        out.returnEdges.push([fn, t[j]]);
        // The returned call is neither a borrowed use nor stolen; its arguments are scanned as usual.
        returnedCall = j;
      } else if (j < t.length && isIdent(t[j]) && t[j + 1] === ';') returned.add(t[j]);
      continue;
    }
    if (!isIdent(w)) continue;
    const next = t[i + 1];
    if (next === '(') {
      if (NOT_NAMES.has(w)) continue;
      const c = calls[calls.length - 1];
      const before = skipBackCasts(t, i - 1);
      const prevTok = before >= 0 ? t[before] : undefined;
      const stolenHere = !!c && c.stolen.includes(c.arg) && (prevTok === '(' || prevTok === ',');
      if (stolenHere) out.stolen.push(w);
      if (fn && OWNING_CALLS.test(w)) {
        // `Py_INCREF(r)`, `Py_IncRef((PyObject *)r)`: the argument, through casts.
        const a = skipForwardCasts(t, i + 2);
        if (a < t.length && isIdent(t[a]) && t[a + 1] === ')') (/INCREF|IncRef|NewRef/.test(w) ? increfd : owned).add(t[a]);
      }
      // `local = f(...)`: followed to `return local;` (an edge) or kept as a borrowed use.
      const plainAssign = before >= 1 && prevTok === '=' && !BEFORE_EQUALS.includes(text[at[before] - 1] ?? '') && text[at[before] + 1] !== '=';
      // Stored into a field, an element or a global: the store takes the reference.
      const stored = plainAssign && (!isIdent(t[before - 1]) || (before >= 2 && (t[before - 2] === '->' || t[before - 2] === '.')));
      const assign = plainAssign && !stored;
      if (stored) continue;
      if (fn && assign) {
        const local = t[before - 1];
        const set = assigned.get(local);
        if (set) set.add(w);
        else assigned.set(local, new Set([w]));
      } else if (fn && !stolenHere && i !== returnedCall && !STATEMENT_STARTS.has(prevTok ?? ';')) usedCalls.push(w);
    } else if (fn && passedToStealer(calls, t, i) && !NOT_NAMES.has(w)) owned.add(w);
    // Boost.Python's `handle<>(f(...))` takes ownership of f's result.
    if (w === 'handle' && next === '<' && t[i + 2] === '>' && t[i + 3] === '(' && i + 4 < t.length && isIdent(t[i + 4]) && t[i + 5] === '(') out.stolen.push(t[i + 4]);
    if (w === 'reinterpret_steal' && next === '<') {
      let k = i + 1;
      let depth = 0;
      for (; k < t.length; k++) {
        if (t[k] === '<') depth++;
        else if (t[k] === '>' && --depth === 0) break;
      }
      if (t[k + 1] === '(' && k + 2 < t.length && isIdent(t[k + 2]) && t[k + 3] === '(') out.stolen.push(t[k + 2]);
    }
  }
  return out;
}

/** Tokens after which a call starts a statement (after a block, a statement, a label, a condition or `else`): its result is not used. */
const STATEMENT_STARTS: ReadonlySet<string> = new Set(['{', '}', ';', ':', ')', 'else']);

/**
 * Project macros that hand an argument to a C++ owner (`#define STEAL(o) py::reinterpret_steal<py::object>(o)`,
 * Boost.Python's `handle<>(o)`): by name, the positions of the parameters they hand over.
 */
function stealingMacros(directives: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const d of directives) {
    const m = /^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)(.*)$/s.exec(d);
    if (!m || !/reinterpret_steal|handle\s*<\s*>/.test(m[3])) continue;
    // (A parameter is a name once its comments are gone; `...` or a stray parenthesis in a comment is none.)
    const params = m[2].split(',').map((p) => p.replace(/\/\*[\s\S]*?\*\//g, ' ').trim());
    const handed = params.flatMap((p, k) => (IDENTIFIER.test(p) && new RegExp(`(?:reinterpret_steal\\s*<[^;]*?>|handle\\s*<\\s*>)\\s*\\(\\s*\\(?\\s*${p}\\s*\\)?\\s*\\)`).test(m[3]) ? [k] : []));
    if (handed.length) out.set(m[1], handed);
  }
  return out;
}

/**
 * The tables `indexFile` asks about each call, as a map and sets: a word looked up with `in` in the large objects
 * they come from (dictionaries to V8) cost more (a warm pass of `indexFile` over the 204 files a real-world scan
 * indexes: 233-257 ms with `in`, 199-214 ms with these).
 */
const STEALING_ARGS: ReadonlyMap<string, number[]> = new Map(Object.entries(STEALING).map(([name, e]) => [name, e.args]));
const FORMAT_NAMES: ReadonlySet<string> = new Set(Object.keys(FORMAT_CALLS));
const API_NAMES: ReadonlySet<string> = new Set(Object.keys(API_RETURNS));

const OWNING_CALLS = /^(?:Py_X?DECREF|Py_CLEAR|Py_DecRef|Py_XDecRef|Py_X?INCREF|Py_IncRef|Py_XIncRef|Py_X?NewRef)$/;

/** True when the identifier at `i` is passed whole to a stealing argument of the innermost call. */
function passedToStealer(calls: Array<{ stolen: number[]; arg: number } | undefined>, t: string[], i: number): boolean {
  const c = calls[calls.length - 1];
  if (!c || !c.stolen.includes(c.arg)) return false;
  const before = skipBackCasts(t, i - 1);
  const prev = before >= 0 ? t[before] : undefined;
  const next = t[i + 1];
  return (prev === '(' || prev === ',') && (next === ',' || next === ')');
}

/** Why a function is Python-facing. */
export interface FacingInfo {
  reason: string;
  /** CPython calls it directly (a method table or slot), not only through a caller that returns its result. */
  registered?: boolean;
  /** Functions of the project that use the result as a borrowed reference. */
  borrowedUsers?: string[];
  path?: string;
  start?: number;
  end?: number;
  /** 0-based line and column of `start` in `path`. */
  line?: number;
  column?: number;
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop()!;
}

/**
 * The project a file belongs to, as a key (the folder of its nearest project file, say): files of different
 * projects never see each other's functions. The default puts every file in one project.
 */
export type ProjectOf = (path: string) => string;

/** The project of a document that is no file (an untitled one, a URI): it sees every project's files. */
export const ANY_PROJECT = '*';

/**
 * The project-wide index: which functions CPython calls, directly or through their callers. It may hold several
 * projects (a folder of checkouts, a multi-root workspace): a file's findings are decided by its own project only.
 */
export class ProjectIndex {
  private readonly files = new Map<string, FileIndex>();
  constructor(readonly projectOf: ProjectOf = () => '') {}
  private memo = new Map<string, FacingInfo | null>();
  private byName:
    | {
        registered: Map<string, Array<[FileIndex, Registration]>>;
        stolen: Map<string, FileIndex[]>;
        callers: Map<string, Array<[FileIndex, string]>>;
        borrowedBy: Map<string, Array<[FileIndex, string]>>;
      }
    | undefined;

  /** Adds or replaces one file's entry. */
  set(fi: FileIndex): void {
    this.files.set(fi.path, fi);
    this.memo = new Map();
    this.byName = undefined;
    this.borrowed = undefined;
  }

  /** Whether two files are of one project (a document of `ANY_PROJECT` is of every one). */
  private sameProject(a: string, b: string): boolean {
    const x = this.projectOf(a);
    const y = this.projectOf(b);
    return x === y || x === ANY_PROJECT || y === ANY_PROJECT;
  }

  /** Forgets what was decided: the files' projects (`projectOf`) may have changed. */
  projectsChanged(): void {
    this.memo = new Map();
    this.borrowed = undefined;
  }

  /** Removes a file's entry. */
  delete(path: string): void {
    this.files.delete(path);
    this.memo = new Map();
    this.byName = undefined;
    this.borrowed = undefined;
  }

  /** Whether the file is indexed. */
  has(path: string): boolean {
    return this.files.has(path);
  }

  /** One file's entry. */
  entry(path: string): FileIndex | undefined {
    return this.files.get(path);
  }

  /** Every file's entry (plain data: it can cross to another thread and back into an index). */
  entries(): FileIndex[] {
    return [...this.files.values()];
  }

  private borrowed: Map<string, Set<string>> | undefined;
  /** Names declared as returning borrowed references, in the project of `path`. */
  borrowedDeclarations(path = ''): Set<string> {
    if (!this.borrowed) {
      this.borrowed = new Map();
      for (const f of this.files.values()) {
        const project = this.projectOf(f.path);
        let set = this.borrowed.get(project);
        if (!set) this.borrowed.set(project, (set = new Set()));
        for (const n of f.borrowedDecls) set.add(n);
      }
    }
    const project = this.projectOf(path);
    if (project === ANY_PROJECT) return new Set([...this.borrowed.values()].flatMap((s) => [...s]));
    return this.borrowed.get(project) ?? new Set();
  }

  /** The entries of every file, by function name (built once per change). */
  private lookups() {
    if (!this.byName) {
      const registered = new Map<string, Array<[FileIndex, Registration]>>();
      const stolen = new Map<string, FileIndex[]>();
      const callers = new Map<string, Array<[FileIndex, string]>>();
      const borrowedBy = new Map<string, Array<[FileIndex, string]>>();
      const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
        const list = m.get(k);
        if (list) list.push(v);
        else m.set(k, [v]);
      };
      for (const f of this.files.values()) {
        for (const r of f.registrations) push(registered, r.name, [f, r] as [FileIndex, Registration]);
        for (const n of f.stolen) push(stolen, n, f);
        for (const [caller, callee] of f.returnEdges) push(callers, callee, [f, caller] as [FileIndex, string]);
        for (const [caller, callee] of f.borrowedUses ?? []) push(borrowedBy, callee, [f, caller] as [FileIndex, string]);
      }
      this.byName = { registered, stolen, callers, borrowedBy };
    }
    return this.byName;
  }

  /**
   * A file sees a function defined in `defPath` when both are of one project; a `static` one only from its own
   * file and from files that include it. Another file's registration of the same name is another function.
   */
  private sees(file: FileIndex, name: string, defPath: string | undefined): boolean {
    if (defPath === undefined || file.path === defPath) return true;
    if (!this.sameProject(file.path, defPath)) return false;
    const def = this.files.get(defPath)?.functions.find((f) => f.name === name);
    if (!def || !def.isStatic) return true;
    // A table in a header the defining file includes (the `module.h` layout) registers the file's statics too.
    return file.includes.includes(baseName(defPath)) || (this.files.get(defPath)?.includes.includes(baseName(file.path)) ?? false);
  }

  /** Functions of the project that use the result of `name` as a borrowed reference. */
  borrowedUsers(name: string, path?: string): string[] {
    return (this.lookups().borrowedBy.get(name) ?? []).filter(([f, caller]) => caller !== name && this.sees(f, name, path)).map(([, caller]) => caller);
  }

  /** Why the function `name` (defined in `path`, when known) is Python-facing, or undefined when nothing says it is. */
  /** The facts the finding pipeline needs, for the findings of the file at `path` (`resolveFindings`). */
  factsFor(path: string, borrowed: ReadonlySet<string> = this.borrowedDeclarations(path)): { facing(name: string): FacingInfo | undefined; borrowedDeclarations: ReadonlySet<string> } {
    return { facing: (name) => this.facing(name, path), borrowedDeclarations: borrowed };
  }

  facing(name: string, path?: string): FacingInfo | undefined {
    const found = this.lookup(name, path, new Set());
    if (!found) return undefined;
    const users = this.borrowedUsers(name, path);
    return users.length ? { ...found, borrowedUsers: users } : found;
  }

  private lookup(name: string, path: string | undefined, visiting: Set<string>): FacingInfo | null {
    const key = `${name}\u0000${path ?? ''}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    if (visiting.has(key)) return null;
    visiting.add(key);
    const { registered, stolen, callers } = this.lookups();
    let found: FacingInfo | null = null;
    for (const [f, r] of registered.get(name) ?? []) {
      if (this.sees(f, name, path)) {
        found = { reason: `\`${name}\` is registered with CPython here`, registered: true, path: f.path, start: r.start, end: r.end, line: r.line, column: r.column };
        break;
      }
    }
    if (!found) {
      const f = (stolen.get(name) ?? []).find((x) => this.sees(x, name, path));
      if (f) found = { reason: `the result of \`${name}\` is handed to an argument that steals it`, path: f.path };
    }
    if (!found) {
      for (const [f, caller] of callers.get(name) ?? []) {
        const up = this.sees(f, name, path) ? this.lookup(caller, f.path, visiting) : null;
        if (up) {
          // One step says why, and points where the chain reaches CPython (the caller's registration, when known).
          const where = up.path !== undefined && up.line !== undefined ? ` (${/registered/.test(up.reason) ? 'registered' : 'Python-facing'} in ${baseName(up.path)}:${up.line + 1})` : '';
          found = { reason: `\`${name}\`'s result is returned by the Python-facing \`${caller}\`${where}`, path: up.path, start: up.start, end: up.end, line: up.line, column: up.column };
          break;
        }
      }
    }
    visiting.delete(key);
    this.memo.set(key, found);
    return found;
  }
}

/**
 * A set of identifiers, tested against a file's text: a few names by substring search,
 * many (a generated project has thousands of findings) by the file's identifiers.
 */
export class NameSet {
  private readonly set: Set<string>;
  /** The names' lengths and first characters: a word that fits neither is not cut out of the text to be looked up. */
  private readonly lengths: Set<number>;
  private readonly firsts: Set<number>;
  /** Characters searched word by word so far; the names' alternation once compiled, null when they cannot be one (see `pattern`). */
  private searched = 0;
  private re: RegExp | null | undefined;
  /** Every name is ASCII: then a file's raw bytes mention one where its decoded text does (see `IndexSource.mentions`). */
  readonly ascii: boolean;
  constructor(readonly names: string[]) {
    this.ascii = names.every((n) => /^[\x00-\x7f]*$/.test(n));
    this.set = new Set(names);
    this.lengths = new Set(names.map((n) => n.length));
    this.firsts = new Set(names.map((n) => n.charCodeAt(0)));
  }
  /** True when `text` mentions one of the names (a few: as a substring; many: as a word, see `inWords`). */
  mentionedIn(text: string): boolean {
    if (this.names.length <= 16) return this.names.some((n) => text.includes(n));
    return this.inWords(text);
  }

  /** True when a word of `text` (`[A-Za-z_]\w*`, as a global search finds them) is one of the names. */
  inWords(text: string): boolean {
    return this.someWord(text, () => true);
  }

  /** True when a word of `text` that is one of the names passes `test` (asked of each such word in text order until one does). */
  someWord(text: string, test: (name: string) => boolean): boolean {
    const re = this.pattern(text.length);
    if (re) return this.someWordByPattern(re, text, test);
    const n = text.length;
    for (let i = 0; i < n; ) {
      const c = text.charCodeAt(i);
      if (!isWordStart(c)) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      if (this.firsts.has(c) && this.lengths.has(j - i)) {
        const w = text.slice(i, j);
        if (this.set.has(w) && test(w)) return true;
      }
      i = j;
    }
    return false;
  }

  /**
   * The alternation of the names (longest first), once the set has searched enough text to pay for compiling it (see
   * `PATTERN_AFTER`); none when they are not identifiers, or too many (see `PATTERN_NAMES`).
   */
  private pattern(length: number): RegExp | undefined {
    if (this.re === undefined) {
      this.searched += length;
      if (this.searched < PATTERN_AFTER) return undefined;
      const names = [...this.set];
      this.re = names.length <= PATTERN_NAMES && names.every((n) => IDENTIFIER.test(n)) ? new RegExp(names.sort((a, b) => b.length - a.length).join('|'), 'g') : null;
    }
    return this.re ?? undefined;
  }

  /**
   * `someWord` through the alternation: the regular expression engine finds where a name is written (many times
   * faster than cutting every word out of the text), and an occurrence counts when it is a whole word as the global
   * search cuts them: no word character after it, and before it only digits back to the start of their run (`9name`
   * is cut as `name`, `x9name` is not). Longest first, the alternation finds the whole word where one starts.
   */
  private someWordByPattern(re: RegExp, text: string, test: (name: string) => boolean): boolean {
    const n = text.length;
    // (The position is kept here, not in the expression: `test` may search with the same set.)
    for (let from = 0; ; ) {
      re.lastIndex = from;
      const m = re.exec(text);
      if (!m) return false;
      const at = m.index;
      const name = m[0];
      from = at + name.length;
      if (from < n && isWordChar(text.charCodeAt(from))) continue;
      let start = at;
      while (start > 0 && isWordChar(text.charCodeAt(start - 1))) start--;
      while (start < at && !isWordStart(text.charCodeAt(start))) start++;
      if (start === at && test(name)) return true;
    }
  }
}

/** At most this many names go into one alternation: the engine's time grows with it, and far beyond it breaks down (1,200 names took 40 times as long as 600 on the real-world files). */
const PATTERN_NAMES = 512;
/**
 * Characters a set searches word by word before it compiles its alternation: compiling one of 300 names takes about as
 * long as searching 300 KB word by word, and most sets (a file's names) search one file.
 */
const PATTERN_AFTER = 256 * 1024;
const IDENTIFIER = /^[A-Za-z_]\w*$/;

function isWordStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/** A file the lazy index may read. */
export interface IndexSource {
  path: string;
  /** The file's text, or undefined when it cannot be read. */
  text(): string | undefined;
  /**
   * Whether the file mentions any of `names`, tested cheaply (e.g. on its raw bytes: ASCII names are found there where
   * they are found in the decoded text); when absent, or when a name is not ASCII (a file with an invalid UTF-8 byte is
   * decoded as Latin-1, where a UTF-8 name is not found), the text is read and tested too.
   */
  mentions?(names: NameSet): boolean;
}

/** A round's search in one project: the files of the project not indexed yet, and the names to look for in them. */
export interface IndexGroup {
  names: string[];
  paths: string[];
}

/** The names whose contracts the findings of each project ask about, by project (`ProjectIndex.projectOf`). */
export type NamesByProject = ReadonlyMap<string, Iterable<string>>;

/**
 * Builds the index needed to decide whether `names` are Python-facing, reading only files (of the same project) that
 * mention them or (transitively) their callers. Returns the index.
 */
export function indexForNames(names: NamesByProject, sources: IndexSource[], index = new ProjectIndex()): ProjectIndex {
  const texts = new Map<string, string | undefined>();
  const byPath = new Map(sources.map((s) => [s.path, s]));
  return indexRounds(names, sources.map((s) => s.path), index, (groups) =>
    groups.flatMap((g) => indexMentioning(g.names, g.paths.map((p) => byPath.get(p)!), texts)),
  );
}

/**
 * `indexForNames` with each round's reading and indexing done by `round`, which may take its time (a scan with worker
 * threads indexes each project a few milliseconds at a time beside them): it gets, per project, the round's names and
 * the paths not indexed yet, and returns the indexes of those that mention a name.
 */
export function indexForNamesBy(names: NamesByProject, paths: readonly string[], round: (groups: IndexGroup[]) => Promise<FileIndex[]>, index = new ProjectIndex()): Promise<ProjectIndex> {
  return indexRounds(names, paths, index, round);
}

function indexRounds(names: NamesByProject, paths: readonly string[], index: ProjectIndex, round: (groups: IndexGroup[]) => FileIndex[]): ProjectIndex;
function indexRounds(names: NamesByProject, paths: readonly string[], index: ProjectIndex, round: (groups: IndexGroup[]) => Promise<FileIndex[]>): Promise<ProjectIndex>;
function indexRounds(names: NamesByProject, paths: readonly string[], index: ProjectIndex, round: (groups: IndexGroup[]) => FileIndex[] | Promise<FileIndex[]>): ProjectIndex | Promise<ProjectIndex> {
  const projects = new Map<string, { paths: string[]; frontier: string[]; wanted: Set<string>; indexed: FileIndex[] }>();
  for (const [project, list] of names) {
    const frontier = [...new Set(list)];
    if (frontier.length) projects.set(project, { paths: [], frontier, wanted: new Set(frontier), indexed: [] });
  }
  for (const p of paths) {
    const k = index.projectOf(p);
    projects.get(k)?.paths.push(p);
    if (k !== ANY_PROJECT) projects.get(ANY_PROJECT)?.paths.push(p);
  }
  let r = 0;
  const next = (): ProjectIndex | Promise<ProjectIndex> => {
    const active = [...projects.values()].filter((x) => x.frontier.length && x.paths.length);
    if (!active.length || r++ >= MAX_ROUNDS) return index;
    const groups = active.map((x) => ({ names: x.frontier, paths: x.paths.filter((p) => !index.has(p)) }));
    const settle = (found: FileIndex[]) => {
      const byProject = new Map<string, FileIndex[]>();
      for (const fi of found) {
        const k = index.projectOf(fi.path);
        const list = byProject.get(k);
        if (list) list.push(fi);
        else byProject.set(k, [fi]);
      }
      for (const [k, x] of projects) x.frontier = x.frontier.length ? addRound(index, byProject.get(k) ?? [], x.wanted, x.indexed) : [];
      return next();
    };
    const found = round(groups);
    return found instanceof Promise ? found.then(settle) : settle(found);
  };
  return next();
}

/** The indexes of the sources that mention one of `names` (`texts` keeps the texts read, for the next rounds). */
export function indexMentioning(names: string[] | NameSet, sources: IndexSource[], texts = new Map<string, string | undefined>()): FileIndex[] {
  const set = names instanceof NameSet ? names : new NameSet(names);
  const found: FileIndex[] = [];
  for (const src of sources) {
    if (src.mentions && !src.mentions(set)) continue;
    if (!texts.has(src.path)) texts.set(src.path, src.text());
    const text = texts.get(src.path);
    if (text === undefined || ((!src.mentions || !set.ascii) && !set.mentionedIn(text))) continue;
    found.push(indexFile(src.path, text));
  }
  return found;
}

/** Rounds of callers followed from the names asked about. */
const MAX_ROUNDS = 8;

/**
 * Adds a round's file indexes to `index` and to `indexed` (those of every round); returns the next round's names:
 * callers of wanted names that return what those return.
 */
function addRound(index: ProjectIndex, found: FileIndex[], wanted: Set<string>, indexed: FileIndex[]): string[] {
  for (const fi of found) index.set(fi);
  indexed.push(...found);
  const frontier: string[] = [];
  for (const fi of indexed) {
    for (const [caller, callee] of fi.returnEdges) {
      if (wanted.has(callee) && !wanted.has(caller)) {
        wanted.add(caller);
        frontier.push(caller);
      }
    }
  }
  return frontier;
}
