/**
 * Transformations that keep every byte offset, so findings point into the original
 * text: statement macros without a semicolon are blanked, and `#if` variants are made
 * by blanking inactive branches.
 */
import { SINGLETON_PATTERN } from './syntax';

const THREAD_MACROS = /\b(?:Py_BEGIN_ALLOW_THREADS|Py_END_ALLOW_THREADS|Py_BLOCK_THREADS|Py_UNBLOCK_THREADS|[A-Z][A-Z0-9]*_(?:BEGIN|END)_(?:ALLOW_)?THREADS(?:_DEF|_DESCR|_THRESHOLDED)?)\b(?!\s*\()/g;

/** `THREAD_MACROS` at one position. */
const THREAD_MACRO_AT = new RegExp(THREAD_MACROS.source, 'y');

/** The blanking of the thread macros' uses, found from each `THREADS` (quicker than the pattern's search through the whole text). */
function threadMacroEdits(text: string, edits: Edit[]): void {
  let done = -1;
  for (let i = text.indexOf('THREADS'); i >= 0; i = text.indexOf('THREADS', i + 7)) {
    let start = i;
    while (start > 0 && /\w/.test(text[start - 1])) start--;
    if (start < done) continue;
    THREAD_MACRO_AT.lastIndex = start;
    const m = THREAD_MACRO_AT.exec(text);
    if (!m) continue;
    done = start + m[0].length;
    edits.push({ start, end: done, text: ' '.repeat(m[0].length) });
  }
}

function blank(s: string): string {
  return s.replace(/[^\r\n]/g, ' ');
}

/** Object-like macros whose body is a whole statement, `;` included (`#define GET_GIL state_get();`). */
const SEMI_DEFINE = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+((?:[^\n\\]|\\\r?\n)*;)[ \t]*$/gm;
/** What makes a macro matter to the analysis: it is expanded, not blanked. */
// (A body that assigns is blanked too: the analysis then trusts nothing it knew of the names it assigns.)
const MATTERS = new RegExp(`\\b(?:return|goto|break|continue|_Py_\\w+Struct|Py_\\w*(?:INCREF|DECREF|IncRef|DecRef|NewRef|CLEAR|SETREF))\\b|${SINGLETON_PATTERN}`);

/** The object-like macros of `text` that `blankStatementMacros` blanks (their uses change how every function parses). */
export function blankedMacroNames(text: string, directives = defineDirectives(text)): string[] {
  const names: string[] = [];
  for (const d of directives) {
    const m = SEMI_DEFINE.exec(d);
    SEMI_DEFINE.lastIndex = 0;
    if (m && !MATTERS.test(m[2])) names.push(m[1]);
  }
  return names;
}

/** A `#define` directive's name, whether it takes parameters, and its body on one line without comments. */
export function parseDefine(directive: string): { name: string; functionLike: boolean; params?: string[]; body: string } | undefined {
  const m = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)]*\))?([\s\S]*)$/.exec(directive);
  if (!m) return undefined;
  const body = m[3]
    .replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ')
    .replace(/\\\r?\n/g, ' ')
    .trim();
  const params = m[2]?.slice(1, -1).split(',').map((p) => p.trim());
  return { name: m[1], functionLike: m[2] !== undefined, ...(params ? { params } : {}), body };
}

/**
 * The `#define` directives of `text`, with their continuation lines (found with
 * `indexOf`: this runs on every keystroke, and a multi-line regex over the text is slow).
 */
export function defineDirectives(text: string): string[] {
  return defineDirectiveSpans(text).map(([start, end]) => text.slice(start, end));
}

/** Where each `#define` directive of `text` starts (its line). */
export function defineDirectiveStarts(text: string): number[] {
  return defineDirectiveSpans(text).map(([start]) => start);
}

/** The last text `defineDirectiveSpans` read, and its spans: an analysis asks several times for the same text. */
let lastDirectives: { text: string; spans: Array<[number, number]> } = { text: '', spans: [] };

function defineDirectiveSpans(text: string): Array<[number, number]> {
  if (lastDirectives.text === text) return lastDirectives.spans;
  const out: Array<[number, number]> = [];
  let from = 0;
  for (let i = text.indexOf('define'); i >= 0; i = text.indexOf('define', from)) {
    from = i + 6;
    const lineStart = text.lastIndexOf('\n', i) + 1;
    if (!/^[ \t]*#[ \t]*$/.test(text.slice(lineStart, i))) continue;
    let end = text.indexOf('\n', i);
    while (end > 0 && (text[end - 1] === '\\' || (text[end - 1] === '\r' && text[end - 2] === '\\'))) end = text.indexOf('\n', end + 1);
    out.push([lineStart, end < 0 ? text.length : end]);
    if (end < 0) break;
    from = end;
  }
  lastDirectives = { text, spans: out };
  return out;
}

/**
 * Blanks with spaces the uses of no-effect statement macros: the known ones
 * (`Py_BEGIN_ALLOW_THREADS`, ...), and object-like macros defined in the text whose
 * body is a statement ending in `;` and touches no reference count. Used without a `;`
 * of their own (`GET_GIL Py_INCREF(x);`), they would make the parser read the next
 * statement as a declaration.
 */
export function blankStatementMacros(text: string, dialect: 'c' | 'cpp' = 'c'): string {
  // Each pass reads the text and records its replacements; they are applied once at the end. (This runs on every
  // keystroke: a new copy of a large file costs about a millisecond, and each pass used to make one.)
  const edits: Edit[] = [];
  threadMacroEdits(text, edits);
  // (C++ has more rewriting passes, each on the text the one before left.)
  let base = text;
  if (dialect === 'cpp') {
    base = cxxMacros(applyEdits(text, edits));
    edits.length = 0;
  } else specifierMacroEdits(text, text, edits);
  const directives = text.includes('define') ? defineDirectives(text) : [];
  blockMacroUseEdits(base, directives, edits);
  const names = blankedMacroNames(text, directives);
  if (names.length) {
    const use = new RegExp(`\\b(?:${names.join('|')})\\b(?![ \\t]*\\()`, 'g');
    for (const m of base.matchAll(use)) {
      // Uses only: a directive line (the definition, `#ifdef NAME`) keeps the name.
      const offset = m.index!;
      const lineStart = base.lastIndexOf('\n', offset - 1) + 1;
      // `;` keeps the statement the use stands for (`if (verbose) TRACE` governs nothing else).
      if (!/^[ \t]*#/.test(base.slice(lineStart, offset + 1))) edits.push({ start: offset, end: offset + m[0].length, text: ';' + ' '.repeat(m[0].length - 1) });
    }
  }
  return applyEdits(base, edits);
}

/** A replacement of `text.slice(start, end)`. */
interface Edit {
  start: number;
  end: number;
  text: string;
}

/** `text` with `edits` made, in one copy; an edit that overlaps one before it (in text order) is dropped. */
function applyEdits(text: string, edits: Edit[]): string {
  if (!edits.length) return text;
  edits.sort((a, b) => a.start - b.start);
  const parts: string[] = [];
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue;
    parts.push(text.slice(at, e.start), e.text);
    at = e.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/** A macro body that is a block statement with no `;` of its own: `if (...) { ... }`, `do { ... } while (0)` needs one. */
const BLOCK_BODY = /^(?:if|for|while|switch)\b[\s\S]*\}$|^\{[\s\S]*\}$/;

/**
 * Uses of the file's block-statement macros written alone on their line without a `;`
 * (`APPEND_CHUNK` then the next statement, as the macro's `if (...) {...}` body allows):
 * the parser would read the use and the next statement as one declaration. A `;` takes
 * the place of the first indentation character of the next line, so the use stands as a
 * statement (and is expanded as one) and every offset and line stays where it was. When
 * the next line is not indented (a `#if`, say), the `;` takes the place of the line break
 * (`\r` of `\r\n`): offsets stay, and the parser reads a directive after a statement on
 * its line as it does at the start of one.
 */
function blockMacroUseEdits(text: string, directives: readonly string[], edits: Edit[]): void {
  const names: string[] = [];
  for (const d of directives) {
    const def = parseDefine(d);
    if (def && BLOCK_BODY.test(def.body)) names.push(def.functionLike ? `${def.name}[ \\t]*\\([^\\n;]*\\)` : def.name);
  }
  if (!names.length) return;
  const use = new RegExp(`^[ \\t]*(?:${names.join('|')})[ \\t]*(\\r?\\n)(?:[ \\t]|[ \\t]*#)`, 'gm');
  for (const m of text.matchAll(use)) {
    const indented = m[0].endsWith(' ') || m[0].endsWith('\t');
    const at = indented ? m.index! + m[0].length - 1 : m.index! + m[0].length - 1 - m[1].length;
    edits.push({ start: at, end: at + 1, text: ';' });
  }
}

/**
 * What the C++ grammar cannot read around macros, rewritten in place (offsets kept):
 * a `catch` clause written as a macro after a `try` block; an object-like macro that opens
 * or closes a block (`#define BEGIN_LOOP for (...) {`, its use becomes `{`); an all-caps
 * specifier macro before a declaration's type (`NPY_NO_EXPORT PyObject *`), blanked.
 */
function cxxMacros(text: string): string {
  let out = text.includes('catch') ? blankCatchMacros(text) : text;
  out = blockMacros(out);
  return blankSpecifierMacros(out, text);
}

/** `out` (a rewriting of `text`) with its all-caps specifier macros before a function's type blanked. */
function blankSpecifierMacros(out: string, text: string): string {
  const edits: Edit[] = [];
  specifierMacroEdits(out, text, edits);
  return applyEdits(out, edits);
}

/** The blanking of `out`'s all-caps specifier macros before a function's type (`text` is the file, `out` a rewriting of it). */
function specifierMacroEdits(out: string, text: string, edits: Edit[]): void {
  if (!/^[ \t]*(?:(?:static|extern|inline)[ \t]+)*[A-Z][A-Z0-9_]{2,}[ \t]+[A-Za-z_]/m.test(out)) return;
  let keep: Set<string> | undefined;
  for (const m of out.matchAll(SPECIFIER_MACRO)) {
    const name = m[1];
    const end = m.index! + m[0].length;
    // Not a type the file declares (`typedef char CHAR_T;`), nor before a calling convention (`LRESULT CALLBACK f(`):
    // then the word is the type.
    const after = /^[ \t]+(\w+)/.exec(out.slice(end, end + 80))?.[1] ?? '';
    if (KEEP_SPECIFIERS.has(name) || CALLING_CONVENTIONS.has(after) || (keep ??= keptSpecifierNames(text)).has(name)) continue;
    edits.push({ start: end - name.length, end, text: ' '.repeat(name.length) });
  }
}

/**
 * An all-caps word at the start of a line (after `extern "C"`, `static`, `inline` if any), then a declaration: optional qualifiers, a type
 * (not a qualifier or a statement keyword), an optional `*`, and a name followed by `(`, `=`, `;` or `[` (a function
 * or a variable): an export or visibility macro (`NPY_NO_EXPORT const char *msg = ...`). (Were the word a type,
 * what follows would be a second type.)
 */
const SPECIFIER_MACRO = new RegExp(
  String.raw`^[ \t]*(?:extern[ \t]+"C"[ \t]+)?(?:(?:static|extern|inline)[ \t]+)*\b([A-Z][A-Z0-9_]{2,})(?=[ \t]+(?:(?:static|inline|const|volatile|extern|unsigned|signed|short|long|struct|union|enum|class)[ \t]+)*` +
    String.raw`(?!(?:static|inline|const|volatile|extern|return|goto|case|else|do|sizeof|typedef|new|delete|throw|co_return|using|namespace|template|typename|operator)\b)` +
    String.raw`[A-Za-z_][\w:]*\b(?:<[^<>;{}()]*>)?(?:[ \t]*[*&]+[ \t]*|[ \t]+|[ \t]*\r?\n[ \t]*[*&]*)(?:\r?\n[ \t]*)?[A-Za-z_][\w:]*[ \t]*[(=;[])`,
  'gm',
);

/**
 * All-caps names of the file that are not specifiers: a macro whose body is a statement or an
 * expression, or a type the file declares (`typedef char CHAR_T;`).
 */
function keptSpecifierNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const d of defineDirectives(text)) {
    const m = /^[ \t]*#[ \t]*define[ \t]+(\w+)(?![\w(])(.*[;{}=].*)?/s.exec(d);
    if (m?.[2]) out.add(m[1]);
  }
  for (const m of text.matchAll(/\btypedef\b[^;{}]*?\b([A-Z][A-Z0-9_]{2,})\s*;|\b(?:struct|class|union|enum)\s+([A-Z][A-Z0-9_]{2,})\b|\busing\s+([A-Z][A-Z0-9_]{2,})\s*=/g)) out.add(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Calling-convention macros, written between a function's type and its name. */
const CALLING_CONVENTIONS = new Set(['CALLBACK', 'WINAPI', 'APIENTRY', 'WINAPIV', 'STDMETHODCALLTYPE', 'NTAPI', 'WSAAPI', 'PASCAL', 'CDECL', 'STDCALL', 'FASTCALL', 'SDLCALL', 'GLAPIENTRY', 'EXPORTCALL']);

/** Words that are types or keywords-like in real code, not specifiers: never blanked. */
const KEEP_SPECIFIERS = new Set(['BOOL', 'DWORD', 'HRESULT', 'HANDLE', 'LONG', 'ULONG', 'UINT', 'INT', 'VOID', 'WORD', 'BYTE', 'LPCWSTR', 'LPWSTR', 'LPSTR', 'LPCSTR', 'FILE', 'SIZE_T']);

/** The macros whose uses `cxxMacros` rewrites: block openers, closers and catch clauses (a function's parse depends on them). */
export function cxxRewrittenMacros(text: string): string[] {
  const { open, close } = blockMacroNames(text);
  return [
    ...open.map((n) => `{${n}`),
    ...close.map((n) => `}${n}`),
    ...[...text.matchAll(CATCH_DEFINE)].map((m) => `catch ${m[1]}`),
    ...[...keptSpecifierNames(text)].map((n) => `kept ${n}`),
  ];
}

function blockMacroNames(text: string): { open: string[]; close: string[] } {
  const open: string[] = [];
  const close: string[] = [];
  for (const d of defineDirectives(text)) {
    const m = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(?![\w(])([\s\S]*)$/.exec(d);
    if (!m) continue;
    const body = m[2].replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '');
    const balance = (body.match(/\{/g)?.length ?? 0) - (body.match(/\}/g)?.length ?? 0);
    if (balance === 1) open.push(m[1]);
    else if (balance === -1) close.push(m[1]);
  }
  return { open, close };
}

/** Object-like macros whose body has more `{` than `}` (opens a block) or more `}` than `{` (closes one). */
function blockMacros(text: string): string {
  if (!text.includes('define')) return text;
  const { open, close } = blockMacroNames(text);
  if (!open.length && !close.length) return text;
  const use = new RegExp(`\\b(${[...open, ...close].join('|')})\\b(?![ \\t]*\\()`, 'g');
  const opens = new Set(open);
  // A scope opener (`extern "C" {`, `namespace x {`) changes nothing of how its contents parse: it is blanked, and so is
  // the closer that ends it. Other openers become `{` inside a function, and their closers `}`. Literal braces before a
  // use say whether it is inside a function (uses come in source order).
  const scopes = new Set(open.filter((n) => SCOPE_OPENER.test(macroBody(text, n))));
  const code = codeOnly(text);
  let pos = 0;
  let depth = 0;
  const pending: Array<'scope' | 'block'> = [];
  return text.replace(use, (m, name: string, offset: number) => {
    const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
    if (/^[ \t]*#/.test(text.slice(lineStart, offset + 1))) return m;
    for (; pos < offset; pos++) {
      if (code[pos] === '{') depth++;
      else if (code[pos] === '}') depth = Math.max(0, depth - 1);
    }
    const blank = ' '.repeat(m.length);
    if (opens.has(name)) {
      const kind = scopes.has(name) || depth === 0 ? 'scope' : 'block';
      pending.push(kind);
      return kind === 'scope' ? blank : '{' + blank.slice(1);
    }
    const kind = pending.pop() ?? (depth === 0 ? 'scope' : 'block');
    return kind === 'scope' ? blank : '}' + blank.slice(1);
  });
}

const SCOPE_OPENER = /\bextern\s*"C"|\bnamespace\b/;

/** The body of an object-like macro of the text (its first definition). */
function macroBody(text: string, name: string): string {
  for (const d of defineDirectives(text)) {
    const m = new RegExp(`^[ \\t]*#[ \\t]*define[ \\t]+${name}(?![\\w(])([\\s\\S]*)$`).exec(d);
    if (m) return m[1];
  }
  return '';
}

/** Function-like macros whose body is a C++ `catch` clause (`#define CATCH_ALL(x) catch (...) {...}`). */
const CATCH_DEFINE = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)\([^)]*\)[ \t]*(?:\\\r?\n[ \t]*)*catch\b/gm;

/**
 * `try { ... } CATCH_MACRO(x)`: the parser cannot see the handlers in the macro, and the
 * whole function would be an error. The `try` keyword and the macro use are blanked, so the
 * body parses as a block (its handlers, in the macro, are not analysed).
 */
function blankCatchMacros(text: string): string {
  const names = [...text.matchAll(CATCH_DEFINE)].map((m) => m[1]);
  if (!names.length) return text;
  const chars = text.split('');
  const code = codeOnly(text);
  const use = new RegExp(`\\}\\s*(${names.join('|')})\\s*\\(`, 'g');
  // Matched and counted on the code only: a `}` in a comment or a `(` in a string does not count.
  for (const m of code.matchAll(use)) {
    const close = m.index!;
    const name = close + m[0].indexOf(m[1]);
    // The macro's arguments end at the matching parenthesis.
    const closeParen = closingParen(code, close + m[0].length - 1);
    const end = closeParen < 0 ? -1 : closeParen + 1;
    const open = matchingOpenBrace(code, close);
    if (end < 0 || open < 0) continue;
    const before = /\btry\s*$/.exec(text.slice(Math.max(0, open - 40), open));
    if (!before) continue;
    const tryAt = open - before[0].length + before[0].search(/try/);
    for (let i = tryAt; i < tryAt + 3; i++) chars[i] = ' ';
    chars[name] = ';';
    for (let i = name + 1; i < end; i++) if (chars[i] !== '\n' && chars[i] !== '\r') chars[i] = ' ';
  }
  return chars.join('');
}

/** The index of the parenthesis that closes the one at `open` (parentheses in strings and comments count too), or -1. */
export function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The `{` that the `}` at `close` closes, in a text whose comments and literals are blanked (`codeOnly`); -1 if none. */
function matchingOpenBrace(code: string, close: number): number {
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    const c = code[i];
    if (c === '}') depth++;
    else if (c === '{' && --depth === 0) return i;
  }
  return -1;
}

/** `text` with comments, string and character literals replaced by spaces (line breaks kept): offsets unchanged. */
export function codeOnly(text: string): string {
  return text.replace(/\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/g, (m) => m.replace(/[^\r\n]/g, ' '));
}

interface Branch {
  start: number;
  end: number;
}
interface Group {
  directives: Branch[];
  branches: Branch[];
  dead0: boolean;
}

const DIRECTIVE = /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b(?:(?:[^\n\\]|\\\r?\n|\\)*)/gm;

/**
 * Variants of `text` in which each `#if` group keeps one branch (the k-th, or the
 * last when a group has fewer) and the directives and other branches are blanked.
 * Returns at most `max` variants; none when the text has no conditional groups.
 */
export function conditionalVariants(text: string, max = 3): string[] {
  const groups: Group[] = [];
  const stack: Group[] = [];
  DIRECTIVE.lastIndex = 0;
  for (let m = DIRECTIVE.exec(text); m; m = DIRECTIVE.exec(text)) {
    const d = { start: m.index, end: m.index + m[0].length };
    const kind = m[1];
    if (kind.startsWith('if')) {
      const g: Group = { directives: [d], branches: [{ start: d.end, end: d.end }], dead0: /^[ \t]*#[ \t]*if[ \t]+0\b/.test(m[0]) };
      stack.push(g);
    } else {
      const g = stack[stack.length - 1];
      if (!g) continue;
      g.branches[g.branches.length - 1].end = d.start;
      g.directives.push(d);
      if (kind === 'endif') {
        stack.pop();
        groups.push(g);
      } else g.branches.push({ start: d.end, end: d.end });
    }
  }
  if (!groups.length) return [];
  const count = Math.min(max, Math.max(...groups.map((g) => g.branches.length)));
  const variants: string[] = [];
  for (let k = 0; k < count; k++) {
    const cuts: Branch[] = [];
    for (const g of groups) {
      cuts.push(...g.directives);
      let keep = Math.min(k, g.branches.length - 1);
      if (g.dead0 && keep === 0) keep = g.branches.length > 1 ? 1 : -1;
      g.branches.forEach((b, i) => {
        if (i !== keep) cuts.push(b);
      });
    }
    cuts.sort((a, b) => a.start - b.start);
    let out = '';
    let pos = 0;
    for (const c of cuts) {
      if (c.end <= pos) continue;
      const s = Math.max(c.start, pos);
      out += text.slice(pos, s) + blank(text.slice(s, c.end));
      pos = c.end;
    }
    out += text.slice(pos);
    variants.push(out);
  }
  return variants;
}

/** The names in `#include "name"` lines. */
/**
 * The project file an unresolved `#include "name"` most likely means, when source trees
 * differ from the installed layout (`"pkg/api.h"` for `include/pkg/lang/api.h`): the
 * candidate sharing the longest path suffix with `name`; none when several tie.
 */
export function includeBySuffix(name: string, files: readonly string[]): string | undefined {
  const want = name.split('/').filter((p) => p && p !== '.');
  const base = want[want.length - 1];
  if (!base) return undefined;
  let best: string | undefined;
  let bestLen = 0;
  let tie = false;
  for (const f of files) {
    const parts = f.split(/[\\/]/);
    if (parts[parts.length - 1] !== base) continue;
    let n = 1;
    while (n < want.length && n < parts.length && parts[parts.length - 1 - n] === want[want.length - 1 - n]) n++;
    if (n > bestLen) {
      best = f;
      bestLen = n;
      tie = false;
    } else if (n === bestLen) tie = true;
  }
  return tie ? undefined : best;
}

const LINE_END = new Set(['\n', '\r', '\u2028', '\u2029']);

/**
 * The names of a text's `#include "name"` lines (`/^[ \t]*#[ \t]*include[ \t]*"([^"]+)"/gm`, read from each
 * `include` the text holds, which costs a tenth of that search: it tries every line).
 */
export function quotedIncludes(text: string): string[] {
  const out: string[] = [];
  for (let at = text.indexOf('include'), from = 0; at >= 0; at = text.indexOf('include', Math.max(at + 7, from))) {
    if (at < from) continue;
    // Back to the line's start: blanks, `#`, blanks.
    let i = at - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
    if (i < 0 || text[i] !== '#') continue;
    i--;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
    // (A line ends at any of JavaScript's line terminators, as `^` of a multiline search has it.)
    if (i >= 0 && !LINE_END.has(text[i])) continue;
    // On to the name: blanks, `"`, one character or more but `"`, `"`.
    let j = at + 7;
    while (text[j] === ' ' || text[j] === '\t') j++;
    if (text[j] !== '"') continue;
    const close = text.indexOf('"', j + 1);
    if (close > j + 1) {
      out.push(text.slice(j + 1, close));
      // (The next name is searched for after this one, which may hold `include` or run over lines.)
      from = close + 1;
    }
  }
  return out;
}
