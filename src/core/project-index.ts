import { STEALING_ARGS } from './syntax';

/** Where a function is registered with CPython (a method table, a slot, a getter). */
export interface Registration {
  name: string;
  start: number;
  end: number;
}

/** What one file contributes to the project-wide index; computed lexically, without parsing. */
export interface FileIndex {
  path: string;
  registrations: Registration[];
  /** [caller, callee]: `caller` returns `callee(...)` directly. */
  returnEdges: Array<[string, string]>;
  /** Functions whose result is handed to a stealing argument or `reinterpret_steal`. */
  stolen: string[];
  /** Functions declared with `CPYCHECKER_RETURNS_BORROWED_REF`. */
  borrowedDecls: string[];
  /** The file defines `Py_LIMITED_API`. */
  limitedApi: boolean;
}

const TOKEN = /\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:\\[\s\S]|[^"\\\n])*"?|'(?:\\[\s\S]|[^'\\\n])*'?|^[ \t]*#(?:[^\n\\]|\\[\s\S])*|[A-Za-z_]\w*|->|[{}()[\],;=&.<>*]/gm;
const SLOT = /^(?:tp|nb|sq|mp|am|bf)_\w+$/;
const KEYWORDS = new Set(['return', 'sizeof', 'NULL', 'if', 'while', 'for', 'switch', 'case', 'default', 'else', 'do', 'struct', 'static', 'const', 'void', 'int', 'char', 'long', 'unsigned', 'enum', 'union', 'goto']);

interface Tok {
  t: string;
  i: number;
}

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    const t = m[0];
    const c = t.charCodeAt(0);
    if (c === 47 /* / */ || c === 34 /* " */ || c === 39 /* ' */) {
      if (c === 34 || c === 39) toks.push({ t: '"', i: m.index });
      continue;
    }
    if (t.trimStart().startsWith('#')) continue;
    toks.push({ t, i: m.index });
  }
  return toks;
}

function isIdent(t: string): boolean {
  const c = t.charCodeAt(0);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** Skips cast groups `(T)` and `&` backwards from index j; returns the index of the token before them. */
function skipBackCasts(toks: Tok[], j: number): number {
  for (;;) {
    if (j >= 0 && toks[j].t === '&') {
      j--;
      continue;
    }
    if (j >= 0 && toks[j].t === ')') {
      let depth = 0;
      let k = j;
      for (; k >= 0; k--) {
        if (toks[k].t === ')') depth++;
        else if (toks[k].t === '(') {
          depth--;
          if (depth === 0) break;
        } else if (!isIdent(toks[k].t) && toks[k].t !== '*') return j;
      }
      if (k < 0) return j;
      j = k - 1;
      continue;
    }
    return j;
  }
}

/** Indexes one file: registrations, call edges and borrowed markers. */
export function indexFile(path: string, text: string): FileIndex {
  const toks = tokenize(text);
  const out: FileIndex = {
    path,
    registrations: [],
    returnEdges: [],
    stolen: [],
    borrowedDecls: [],
    limitedApi: text.includes('Py_LIMITED_API') && /^[ \t]*#[ \t]*define[ \t]+Py_LIMITED_API\b/m.test(text),
  };
  if (text.includes('CPYCHECKER_RETURNS_BORROWED_REF')) for (const m of text.matchAll(/\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*CPYCHECKER_RETURNS_BORROWED_REF/g)) out.borrowedDecls.push(m[1]);
  const stack: string[] = [];
  // For each open paren: the called name (if a stealing call) and the current argument index.
  const calls: Array<{ name: string; arg: number } | undefined> = [];
  let fn: string | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i].t;
    if (t === '{') {
      if (stack.length === 0 && i > 0 && toks[i - 1].t === ')') fn = functionName(toks, i - 1);
      stack.push('{');
      continue;
    }
    if (t === '}') {
      while (stack.length && stack.pop() !== '{');
      if (stack.length === 0) fn = undefined;
      continue;
    }
    if (t === '(') {
      const prev = i > 0 ? toks[i - 1].t : '';
      calls.push(prev in STEALING_ARGS ? { name: prev, arg: 0 } : undefined);
      stack.push('(');
      continue;
    }
    if (t === ')') {
      if (stack[stack.length - 1] === '(') stack.pop();
      calls.pop();
      continue;
    }
    if (t === ',') {
      const c = calls[calls.length - 1];
      if (c && stack[stack.length - 1] === '(') c.arg++;
      continue;
    }
    if (!isIdent(t) || KEYWORDS.has(t)) {
      if (t === 'return' && fn) {
        const j = skipForwardCasts(toks, i + 1);
        if (j + 1 < toks.length && isIdent(toks[j].t) && toks[j + 1].t === '(') out.returnEdges.push([fn, toks[j].t]);
      }
      continue;
    }
    const next = toks[i + 1]?.t;
    const before = skipBackCasts(toks, i - 1);
    const prevTok = before >= 0 ? toks[before].t : '';
    const top = stack[stack.length - 1];
    if (top === '{' && (next === ',' || next === '}') && (prevTok === '{' || prevTok === ',' || (prevTok === '=' && toks[before - 2]?.t === '.'))) {
      out.registrations.push({ name: t, start: toks[i].i, end: toks[i].i + t.length });
      continue;
    }
    if (prevTok === '=' && next === ';' && before >= 2 && SLOT.test(toks[before - 1].t) && (toks[before - 2].t === '.' || toks[before - 2].t === '->')) {
      out.registrations.push({ name: t, start: toks[i].i, end: toks[i].i + t.length });
      continue;
    }
    if (next === '(') {
      const c = calls[calls.length - 1];
      if (c && STEALING_ARGS[c.name] === c.arg && (prevTok === '(' || prevTok === ',')) out.stolen.push(t);
      if (t === 'reinterpret_steal') {
        // reinterpret_steal<T>(f(...)): the callee's result is owned by the wrapper.
        let k = i + 1;
        if (toks[k]?.t === '(' && isIdent(toks[k + 1]?.t ?? '') && toks[k + 2]?.t === '(') out.stolen.push(toks[k + 1].t);
      }
    }
    if (t === 'reinterpret_steal' && next === '<') {
      let k = i + 1;
      let depth = 0;
      for (; k < toks.length; k++) {
        if (toks[k].t === '<') depth++;
        else if (toks[k].t === '>' && --depth === 0) break;
      }
      if (toks[k + 1]?.t === '(' && isIdent(toks[k + 2]?.t ?? '') && toks[k + 3]?.t === '(') out.stolen.push(toks[k + 2].t);
    }
  }
  return out;
}

function skipForwardCasts(toks: Tok[], j: number): number {
  while (j < toks.length && toks[j].t === '(') {
    let k = j + 1;
    while (k < toks.length && (isIdent(toks[k].t) || toks[k].t === '*')) k++;
    if (toks[k]?.t !== ')' || k === j + 1) return j;
    j = k + 1;
  }
  return j;
}

function functionName(toks: Tok[], close: number): string | undefined {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    if (toks[k].t === ')') depth++;
    else if (toks[k].t === '(' && --depth === 0) {
      const name = toks[k - 1]?.t;
      return name && isIdent(name) ? name : undefined;
    }
  }
  return undefined;
}

/** Why a function is Python-facing. */
export interface FacingInfo {
  reason: string;
  path?: string;
  start?: number;
  end?: number;
}

/** The project-wide index: which functions CPython calls, directly or through their callers. */
export class ProjectIndex {
  private readonly files = new Map<string, FileIndex>();
  private cache: Map<string, FacingInfo | null> | undefined;

  /** Adds or replaces one file's entry. */
  set(fi: FileIndex): void {
    this.files.set(fi.path, fi);
    this.cache = undefined;
  }

  /** Removes a file's entry. */
  delete(path: string): void {
    this.files.delete(path);
    this.cache = undefined;
  }

  /** Whether the file is indexed. */
  has(path: string): boolean {
    return this.files.has(path);
  }

  /** Any indexed file defines `Py_LIMITED_API`. */
  get limitedApi(): boolean {
    for (const f of this.files.values()) if (f.limitedApi) return true;
    return false;
  }

  /** Names declared as returning borrowed references. */
  borrowedDeclarations(): Set<string> {
    const s = new Set<string>();
    for (const f of this.files.values()) for (const n of f.borrowedDecls) s.add(n);
    return s;
  }

  /** Why `name` is Python-facing, or undefined when nothing says it is. */
  facing(name: string): FacingInfo | undefined {
    if (!this.cache) this.cache = this.compute();
    return this.cache.get(name) ?? undefined;
  }

  private compute(): Map<string, FacingInfo | null> {
    const facing = new Map<string, FacingInfo | null>();
    const callers = new Map<string, string[]>();
    for (const f of this.files.values()) {
      for (const r of f.registrations) if (!facing.has(r.name)) facing.set(r.name, { reason: `\`${r.name}\` is registered with CPython here`, path: f.path, start: r.start, end: r.end });
      for (const s of f.stolen) if (!facing.has(s)) facing.set(s, { reason: `the result of \`${s}\` is handed to an argument that steals it`, path: f.path });
      for (const [caller, callee] of f.returnEdges) {
        const list = callers.get(caller) ?? [];
        list.push(callee);
        callers.set(caller, list);
      }
    }
    const queue = [...facing.keys()];
    while (queue.length) {
      const caller = queue.shift()!;
      for (const callee of callers.get(caller) ?? []) {
        if (facing.has(callee)) continue;
        facing.set(callee, { reason: `\`${callee}\`'s result is returned by the Python-facing \`${caller}\`` });
        queue.push(callee);
      }
    }
    return facing;
  }
}

/** A file the lazy index may read. */
export interface IndexSource {
  path: string;
  /** The file's text, or undefined when it cannot be read. */
  text(): string | undefined;
  /** A cheap test whether the file mentions any of `names` (e.g. on raw bytes); defaults to reading the text. */
  mentions?(names: string[]): boolean;
}

/**
 * Builds the index needed to decide whether `names` are Python-facing, reading only
 * files that mention them or (transitively) their callers. Returns the index.
 */
export function indexForNames(names: Iterable<string>, sources: IndexSource[], index = new ProjectIndex()): ProjectIndex {
  const wanted = new Set(names);
  let frontier = [...wanted];
  const indexed: FileIndex[] = [];
  const texts = new Map<string, string | undefined>();
  for (let round = 0; frontier.length && round < 8; round++) {
    for (const src of sources) {
      if (index.has(src.path)) continue;
      if (src.mentions && !src.mentions(frontier)) continue;
      if (!texts.has(src.path)) texts.set(src.path, src.text());
      const text = texts.get(src.path);
      if (text === undefined || !frontier.some((n) => text.includes(n))) continue;
      const fi = indexFile(src.path, text);
      index.set(fi);
      indexed.push(fi);
    }
    frontier = [];
    for (const fi of indexed) {
      for (const [caller, callee] of fi.returnEdges) {
        if (wanted.has(callee) && !wanted.has(caller)) {
          wanted.add(caller);
          frontier.push(caller);
        }
      }
    }
  }
  return index;
}
