import { SINGLETON_TABLE, type Singleton } from './api/singletons';
import type { SyntaxNode } from './parser';

/** The singletons' names, indexed by `Singleton` (from `SINGLETON_TABLE`). */
export const SINGLETONS: readonly string[] = SINGLETON_TABLE.map((x) => x.name);

/** Struct spellings (`&_Py_NoneStruct`) mapped to the singleton. */
export const STRUCT_SPELLINGS: Readonly<Record<string, Singleton>> = Object.fromEntries(SINGLETON_TABLE.map((x, i) => [x.struct, i]));

/** The return macro of each singleton, where CPython has one. */
export const RETURN_MACROS: Readonly<Record<Singleton, string | undefined>> = Object.fromEntries(SINGLETON_TABLE.map((x, i) => [i, x.returnMacro]));

/** The identity tests (`Py_IsNone(x)`) mapped to the singleton they test for. */
export const IS_CALLS: Readonly<Record<string, Singleton>> = Object.fromEntries(SINGLETON_TABLE.flatMap((x, i) => (x.isCall ? [[x.isCall, i]] : [])));

/** Statement macros that return a new reference. */
export const RETURN_MACRO_NAMES = new Set([...SINGLETON_TABLE.flatMap((x) => x.returnMacro ?? []), 'Py_RETURN_RICHCOMPARE']);

/** A regular expression source matching any singleton spelling. */
export const SINGLETON_PATTERN = `\\b(?:${[...SINGLETON_TABLE.map((x) => x.name), ...SINGLETON_TABLE.map((x) => x.struct)].join('|')})\\b`;

/** Short readable names used in messages. */
export const SINGLETON_SHORT: readonly string[] = SINGLETON_TABLE.map((x) => x.short);

/** Calls that never return. */
export const NORETURN_CALLS = new Set([
  'Py_FatalError',
  'Py_UNREACHABLE',
  'abort',
  'exit',
  '_exit',
  'Py_Exit',
  '__builtin_unreachable',
  '__builtin_trap',
  'longjmp',
]);

// The call families the analysis knows (their effects are in api/summaries.ts).
export { CXX_CASTS, DECREF_CALLS, INCREF_CALLS, NEWREF_CALLS, SETREF_CALLS, TRANSPARENT_CALLS } from './api/summaries';
import { CXX_CASTS, TRANSPARENT_CALLS } from './api/summaries';

/** Index of the singleton an identifier names, or -1. */
export function singletonIndex(name: string): Singleton {
  return SINGLETONS.indexOf(name);
}

/** The node an expression is part of, past the parentheses and casts around it (the counterpart of `unwrap`). */
export function enclosing(node: SyntaxNode): SyntaxNode | null {
  let p = node.parent;
  while (p && (p.type === 'parenthesized_expression' || p.type === 'cast_expression')) p = p.parent;
  return p;
}

/** Removes parentheses around an expression: `(x)` is `x`, as an assigned local too (`(x) = v`). */
export function unparenthesized(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.type === 'parenthesized_expression' && namedKids(n).length === 1) n = namedKids(n)[0];
  return n;
}

/** Removes parentheses and casts around an expression. */
export function unwrap(node: SyntaxNode): SyntaxNode {
  let n = node;
  for (;;) {
    if (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
    else if (n.type === 'cast_expression' && n.childForFieldName('value')) n = n.childForFieldName('value')!;
    else if (n.type === 'call_expression' && TRANSPARENT_CALLS.has(calleeName(n) ?? '') && argList(n).length >= 1)
      n = argList(n)[0];
    else return n;
  }
}

/**
 * The identifier a call calls, if it is a plain name. In C++ also a name qualified by the
 * global scope only (`::Py_INCREF`), and a cast's keyword (`static_cast<T>(x)`).
 */
export function calleeName(call: SyntaxNode): string | undefined {
  const f = call.childForFieldName('function');
  if (!f) return undefined;
  if (f.type === 'identifier') return f.text;
  if (f.type === 'qualified_identifier' && !f.childForFieldName('scope')) {
    const name = f.childForFieldName('name');
    return name?.type === 'identifier' ? name.text : undefined;
  }
  if (f.type === 'template_function') {
    const name = f.childForFieldName('name')?.text;
    return name && CXX_CASTS.has(name) ? name : undefined;
  }
  return undefined;
}

/** A C++ cast (`static_cast<T>(x)`) unwrapped to its operand; anything else as it is. */
export function unwrapCxxCast(n: SyntaxNode): SyntaxNode {
  if (n.type !== 'call_expression' || n.childForFieldName('function')?.type !== 'template_function') return n;
  const name = calleeName(n);
  const a = name && CXX_CASTS.has(name) ? argList(n) : [];
  return a.length === 1 ? a[0] : n;
}

/** The argument expressions of a call. */
export function argList(call: SyntaxNode): SyntaxNode[] {
  const args = call.childForFieldName('arguments');
  if (!args) return [];
  return args.namedChildren.filter((c): c is SyntaxNode => !!c && c.type !== 'comment');
}

/** The singleton a bare expression names directly (through parens and casts), or -1. */
export function directSingleton(node: SyntaxNode): number {
  const n = unwrap(node);
  if (n.type === 'identifier') return singletonIndex(n.text);
  if (n.type === 'pointer_expression' && n.child(0)?.type === '&') {
    const arg = n.childForFieldName('argument');
    if (arg && arg.type === 'identifier' && arg.text in STRUCT_SPELLINGS) return STRUCT_SPELLINGS[arg.text];
  }
  return -1;
}

/** Named children without comments. */
export function namedKids(node: SyntaxNode): readonly SyntaxNode[] {
  return node.codeChildren;
}

/** Shortens code for a message. */
export function snippet(text: string, max = 40): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** The identifier a declarator declares (through pointers, arrays, parentheses, attributes, an initializer), if any. */
export function declaredName(d: SyntaxNode | null): SyntaxNode | null {
  while (d && d.type !== 'identifier') {
    if (['init_declarator', 'pointer_declarator', 'array_declarator', 'parenthesized_declarator', 'attributed_declarator', 'reference_declarator'].includes(d.type)) {
      d = d.childForFieldName('declarator') ?? namedKids(d).find((k) => k.type.endsWith('declarator') || k.type === 'identifier') ?? null;
    } else return null;
  }
  return d;
}

/**
 * The value a local's declarator initialises it with: `= v`, and in C++ `{v}`, `(v)` and
 * the declaration-shaped `T *x(v)` (read by the parser as a function declarator, its
 * one "parameter type" is the value's name). Undefined when there is none or it is not one value.
 */
export function initialValue(d: SyntaxNode): SyntaxNode | undefined {
  if (d.type === 'init_declarator') {
    const v = d.childForFieldName('value');
    if (!v) return undefined;
    if (v.type !== 'initializer_list' && v.type !== 'argument_list') return v;
    // `T *a[1] = {x}` initialises an element, not the local.
    if (d.childForFieldName('declarator')?.type === 'array_declarator') return undefined;
    const kids = namedKids(v);
    return kids.length === 1 && kids[0].type !== 'initializer_pair' ? kids[0] : undefined;
  }
  const f = underPointers(d);
  if (f?.type !== 'function_declarator' || f.childForFieldName('declarator')?.type !== 'identifier') return undefined;
  // Only inside a function body: at file level this is a real prototype.
  if (!d.parent || d.parent.parent?.type !== 'compound_statement') return undefined;
  const params = namedKids(f.childForFieldName('parameters') ?? f).filter((k) => k.type === 'parameter_declaration');
  const only = params.length === 1 && params[0].namedChildCount === 1 ? params[0].childForFieldName('type') : null;
  return only?.type === 'type_identifier' ? only : undefined;
}

/** The name a local's declarator declares, including the declaration-shaped `T *x(v)` of C++ (see `initialValue`). */
export function declaredLocal(d: SyntaxNode): SyntaxNode | null {
  const name = declaredName(d.type === 'init_declarator' ? d.childForFieldName('declarator') : d);
  if (name) return name;
  const f = underPointers(d);
  const id = f?.type === 'function_declarator' ? f.childForFieldName('declarator') : null;
  return id?.type === 'identifier' ? id : null;
}

/** The declarator under `*` and `&` declarators. */
function underPointers(d: SyntaxNode): SyntaxNode | null {
  let f: SyntaxNode | null = d;
  while (f && (f.type === 'pointer_declarator' || f.type === 'reference_declarator')) f = f.childForFieldName('declarator') ?? namedKids(f).find((k) => k.type.endsWith('declarator')) ?? null;
  return f;
}

/**
 * Whether a whole word of `text` (a run of `[A-Za-z0-9_]` between non-word characters) is one of `words`: what
 * `/\b(?:w1|w2|…)\b/` finds for words of word characters, without compiling a pattern per word list.
 */
export function hasWord(text: string, words: { has(word: string): boolean }): boolean {
  return forEachWord(text, words, () => true);
}

/**
 * Calls `f` with each whole word of `text` that is one of `words`, and its offset, in order (the matches of
 * `/\b(?:w1|w2|…)\b/g` for words of word characters); stops when `f` returns true, and returns whether it did.
 */
export function forEachWord(text: string, words: { has(word: string): boolean }, f: (word: string, at: number) => boolean | void): boolean {
  const n = text.length;
  for (let i = 0; i < n; ) {
    if (!isWordChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && isWordChar(text.charCodeAt(j))) j++;
    const w = text.slice(i, j);
    if (words.has(w) && f(w, i)) return true;
    i = j;
  }
  return false;
}

/**
 * Words to find in texts, as `/\b(?:w1|w2|…)\b/` finds them: looked up in a set (`forEachWord`), or, when a word is
 * not made of word characters only (which a run of word characters never equals), searched for with that pattern.
 */
export class WordSet {
  private readonly set: Set<string> | undefined;
  private readonly pattern: RegExp | undefined;

  constructor(words: readonly string[]) {
    if (words.every((w) => /^\w+$/.test(w))) this.set = new Set(words);
    else this.pattern = new RegExp(`\\b(?:${words.join('|')})\\b`, 'g');
  }

  /** Whether `text` holds one of the words. */
  in(text: string): boolean {
    return this.forEach(text, () => true);
  }

  /** Calls `f` with each occurrence, in order; stops when `f` returns true, and returns whether it did. */
  forEach(text: string, f: (word: string, at: number) => boolean | void): boolean {
    if (this.set) return this.set.size <= FEW_WORDS ? forEachFewWords(text, [...this.set], f) : forEachWord(text, this.set, f);
    for (const m of text.matchAll(this.pattern!)) if (f(m[0], m.index)) return true;
    return false;
  }
}

/** Up to this many words are each searched for with `indexOf` (native, many times faster than cutting every word out). */
const FEW_WORDS = 8;

/** `forEachWord` for a few words of word characters: each word's next whole occurrence, the first of them each time. */
function forEachFewWords(text: string, words: readonly string[], f: (word: string, at: number) => boolean | void): boolean {
  const n = text.length;
  const whole = (w: string, from: number): number => {
    for (let at = text.indexOf(w, from); at >= 0; at = text.indexOf(w, at + 1)) {
      if ((at === 0 || !isWordChar(text.charCodeAt(at - 1))) && (at + w.length === n || !isWordChar(text.charCodeAt(at + w.length)))) return at;
    }
    return -1;
  };
  const next = words.map((w) => whole(w, 0));
  for (;;) {
    // (Two words never occur whole at one offset: each is a whole run of word characters there.)
    let k = -1;
    for (let i = 0; i < words.length; i++) if (next[i] >= 0 && (k < 0 || next[i] < next[k])) k = i;
    if (k < 0) return false;
    const at = next[k];
    if (f(words[k], at)) return true;
    next[k] = whole(words[k], at + words[k].length);
  }
}

/** Whether a character code is a word character (`\w`: `[A-Za-z0-9_]`). */
export function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}
