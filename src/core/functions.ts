import type { SyntaxNode } from './parser';
import { LineIndex } from './text';
import { declaredName, namedKids } from './syntax';

/** A function definition and what its signature says about its result. */
export interface FunctionInfo {
  node: SyntaxNode;
  name: string;
  body: SyntaxNode;
  /** The return type is a pointer to a Python object (`PyObject *`, `FooObject *`). */
  returnsObject: boolean;
  /** The return type is exactly `PyObject *` (so `Py_RETURN_*` type-checks). */
  returnsPyObject: boolean;
  /** Marked as returning a borrowed reference. */
  borrowedMarker: boolean;
  /** C++: inside a template (its instantiations are not visible, so no fix is offered). */
  inTemplate?: boolean;
  /** C++: a lambda, analysed as a function of its own. */
  lambda?: boolean;
}

const CONTAINERS = new Set([
  'translation_unit',
  'ERROR',
  'preproc_if',
  'preproc_ifdef',
  'preproc_else',
  'preproc_elif',
  'preproc_elifdef',
  'linkage_specification',
  'declaration_list',
  'namespace_definition',
  // C++: templates, and member functions defined in a class body.
  'template_declaration',
  'class_specifier',
  'struct_specifier',
  'union_specifier',
  'field_declaration_list',
]);

/** Lambdas nested deeper than this in other lambdas are not analysed on their own (their text is in the outer ones'). */
const MAX_LAMBDA_DEPTH = 4;

/** All function definitions in a tree, including those inside `#if` blocks and ERROR nodes. */
export function findFunctions(root: SyntaxNode, text: string): FunctionInfo[] {
  const out: FunctionInfo[] = [];
  // (The template context is carried down the walk, not looked up through each function's parents.)
  const stack: Array<[SyntaxNode, boolean]> = [[root, false]];
  while (stack.length) {
    const [n, inTemplate] = stack.pop()!;
    for (const k of n.namedChildren) {
      if (!k) continue;
      if (k.type === 'function_definition') {
        const info = describeFunction(k, text);
        if (info) out.push(inTemplate ? { ...info, inTemplate } : info);
      } else if (CONTAINERS.has(k.type)) {
        stack.push([k, inTemplate || k.type === 'template_declaration']);
      } else if ((k.type === 'field_declaration' || k.type === 'declaration') && /^(?:class|struct|union)_specifier$/.test(k.childForFieldName('type')?.type ?? '')) {
        // A class defined in a class body, or with a variable (`struct S { ... } s;`): its members are functions too.
        stack.push([k.childForFieldName('type')!, inTemplate]);
      }
    }
  }
  // C++ lambdas are functions of their own (their returns are not the enclosing function's).
  // (Only a C++ tree can hold one: C's `a[i]->f` looks like a lambda's capture list to the text test.)
  if ((text.includes('](') || /\]\s*(?:\(|->|\{|mutable)/.test(text)) && root.tree.language.idForNodeType('lambda_expression', true) !== null) out.push(...findLambdas(root, text));
  return out.sort((a, b) => a.node.startIndex - b.node.startIndex);
}

/**
 * The lambdas of a tree (the parser finds them; only the paths down to them are read), each with what its ancestors
 * say: the local or field it initialises, whether it is in a template, how deep in other lambdas it is.
 */
function findLambdas(root: SyntaxNode, text: string): FunctionInfo[] {
  const out: FunctionInfo[] = [];
  // (Lines of `text`, as findings give them: the tree's rows are those of the parsed text, where a line break may stand for a `;`.)
  let lines: LineIndex | undefined;
  const lineOf = (offset: number) => (lines ??= new LineIndex(text)).position(offset).line + 1;
  for (const l of root.descendantsOfType('lambda_expression')) {
    let template = false;
    let depth = 0;
    for (let p = l.parent; p; p = p.parent) {
      if (p.type === 'template_declaration') template = true;
      else if (p.type === 'lambda_expression') depth++;
    }
    if (depth >= MAX_LAMBDA_DEPTH) continue;
    const p = l.parent;
    const info = describeLambda(l, text, p?.type === 'init_declarator' || p?.type === 'assignment_expression' ? p : undefined, template, lineOf);
    if (info) out.push(info);
  }
  return out;
}

/** A C++ lambda with a body: named after the local or field it initialises, else by its line. */
function describeLambda(l: SyntaxNode, text: string, p: SyntaxNode | undefined, inTemplate: boolean, lineOf: (offset: number) => number): FunctionInfo | undefined {
  const body = l.childForFieldName('body');
  if (!body || body.type !== 'compound_statement') return undefined;
  const named = p?.type === 'init_declarator' ? declaredName(p.childForFieldName('declarator')) : p?.type === 'assignment_expression' ? p.childForFieldName('left') : null;
  const name = named && /^\w+$/.test(named.text) ? named.text : `lambda at line ${lineOf(l.startIndex)}`;
  // `-> PyObject *`: a trailing return type says what it returns; without one it is deduced.
  const trailing = l.childForFieldName('declarator')?.descendantsOfType('trailing_return_type')[0]?.namedChildren[0];
  const type = trailing?.childForFieldName('type');
  const ptr = trailing?.childForFieldName('declarator');
  const returnsObject = !!type && isObjectType(type.text) && ptr?.type === 'abstract_pointer_declarator' && !ptr.namedChildCount;
  return {
    node: l,
    name,
    body,
    returnsObject,
    returnsPyObject: returnsObject && type!.text === 'PyObject',
    borrowedMarker: hasBorrowedComment(text, l.startIndex),
    inTemplate,
    lambda: true,
  };
}

/** The simple name a function declarator declares: `f`, a member `m` (in a class body), `Type::m` (its last part). */
function functionNameNode(n: SyntaxNode | null): SyntaxNode | null {
  if (!n) return null;
  if (n.type === 'identifier' || n.type === 'field_identifier' || n.type === 'destructor_name') return n;
  if (n.type === 'qualified_identifier') return functionNameNode(n.childForFieldName('name'));
  return null;
}

function isObjectType(name: string): boolean {
  return name === 'PyObject' || /Object$/.test(name);
}

const OBJECT_POINTER = /Object\b(?:\s|\/\*[\s\S]*?\*\/|\/\/[^\n]*\n)*\*/;

/**
 * Whether a text may declare a function that returns an object (see `isObjectType`): a word that ends in `Object`
 * is followed by a `*` (after blanks and comments: `PyObject *`, `FooObject*`, `PyObject /* new *\/ *`). A word
 * alone (`WaitForSingleObject(h)`, "Object" in a comment) declares no such function.
 */
export function mayNameObjectType(text: string): boolean {
  return OBJECT_POINTER.test(text);
}

/** Signature facts of one `function_definition`. */
export function describeFunction(fn: SyntaxNode, text: string): FunctionInfo | undefined {
  const body = fn.childForFieldName('body');
  if (!body) return undefined;
  let d = fn.childForFieldName('declarator');
  let pointers = 0;
  let reference = false;
  while (d && d.type !== 'function_declarator') {
    if (d.type === 'pointer_declarator') pointers++;
    else if (d.type === 'reference_declarator') reference = true;
    else if (d.type !== 'parenthesized_declarator' && d.type !== 'attributed_declarator') return undefined;
    d = d.childForFieldName('declarator') ?? namedKids(d).find((k) => k.type.endsWith('declarator')) ?? null;
  }
  if (!d) return undefined;
  const nameNode = functionNameNode(d.childForFieldName('declarator'));
  if (!nameNode) return undefined;
  const type = fn.childForFieldName('type');
  let typeName = '';
  if (type?.type === 'type_identifier') typeName = type.text;
  else if (type?.type === 'macro_type_specifier') {
    const desc = type.childForFieldName('type');
    const inner = desc?.childForFieldName('type');
    const ptr = desc?.childForFieldName('declarator');
    if (inner?.type === 'type_identifier' && ptr?.type === 'abstract_pointer_declarator' && !ptr.childForFieldName('declarator')) {
      typeName = inner.text;
      pointers++;
    }
  }
  if (!isObjectType(typeName)) {
    // `NPY_NO_EXPORT PyObject *f(...)`: the unknown specifier macro becomes the type and
    // the real type lands in an ERROR node before the declarator.
    const err = fn.namedChildren.find((k) => k?.type === 'ERROR' && k.endIndex <= (fn.childForFieldName('declarator')?.startIndex ?? 0));
    const last = err?.namedChildren.filter((k) => k?.type === 'identifier' || k?.type === 'type_identifier').pop();
    if (last && isObjectType(last.text)) typeName = last.text;
  }
  const returnsObject = pointers === 1 && !reference && isObjectType(typeName);
  const header = text.slice(fn.startIndex, body.startIndex);
  return {
    node: fn,
    name: nameNode.text,
    body,
    returnsObject,
    returnsPyObject: returnsObject && typeName === 'PyObject',
    borrowedMarker: header.includes('CPYCHECKER_RETURNS_BORROWED_REF') || hasBorrowedComment(text, fn.startIndex),
  };
}

/** The parameter declarations of a function definition (none when it is not one). */
export function parameters(fn: SyntaxNode | null): SyntaxNode[] {
  let d = fn?.type === 'function_definition' ? fn.childForFieldName('declarator') : null;
  while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
  const list = d?.childForFieldName('parameters');
  return list ? namedKids(list).filter((k) => k.type === 'parameter_declaration') : [];
}

/** The names of a function definition's parameters (an unnamed one is left out). */
export function parameterNames(fn: SyntaxNode | null): string[] {
  return parameters(fn).flatMap((p) => declaredName(p.childForFieldName('declarator'))?.text ?? []);
}

/** True when the comment on the line(s) just above `offset` says `cpyref: returns-borrowed`. */
export function hasBorrowedComment(text: string, offset: number): boolean {
  return scanCommentAbove(text, offset).marked;
}

/** Where the text read above a function for its markers starts (the analysis of the function depends on it). */
export function markerContextStart(text: string, offset: number): number {
  return scanCommentAbove(text, offset).from;
}

/** Reads the comment block (up to 12 lines) just above `offset`, and the line that ends it. */
function scanCommentAbove(text: string, offset: number): { marked: boolean; from: number } {
  let lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  for (let i = 0; i < 12 && lineStart > 0; i++) {
    const prevStart = text.lastIndexOf('\n', lineStart - 2) + 1;
    const line = text.slice(prevStart, lineStart).trim();
    if (/cpyref:\s*returns-borrowed/.test(line)) return { marked: true, from: prevStart };
    const inComment = line.startsWith('//') || line.startsWith('/*') || line.startsWith('*') || line.endsWith('*/');
    if (!inComment) return { marked: false, from: prevStart };
    lineStart = prevStart;
  }
  return { marked: false, from: lineStart };
}

/** Facts read from a function's tree, kept across analyses (the editor's) by the function's text. */
export interface PerFunctionCache<T> {
  get(text: string): T | undefined;
  set(text: string, value: T): void;
}

/**
 * `read(f)`, or what `cache` keeps for `f`'s text (kept there when read). The nodes `read` reads under the body are let
 * go afterwards when none had been read before (see `SyntaxNode.forgetChildren`): what is read is facts, not nodes, and
 * a summary reads functions other than the one analysed, which would otherwise keep their nodes until the file is done.
 */
export function cachedRead<T>(cache: PerFunctionCache<T> | undefined, f: FunctionInfo, read: (f: FunctionInfo) => T): T {
  const text = cache && f.node.text;
  let v = text !== undefined ? cache!.get(text) : undefined;
  if (v === undefined) {
    const fresh = !f.body.childrenRead;
    v = read(f);
    if (fresh) f.body.forgetChildren();
    if (text !== undefined) cache!.set(text, v);
  }
  return v;
}

/** The names reachable from `start` (itself first) through `next`: the functions a summary of `start` depends on. */
export function reachFrom(start: string, next: (name: string) => Iterable<string>): string[] {
  const out: string[] = [];
  const stack = [start];
  const met = new Set(stack);
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    for (const m of next(n)) {
      if (!met.has(m)) {
        met.add(m);
        stack.push(m);
      }
    }
  }
  return out;
}

/**
 * The words of `text` that may name a function it defines that returns an object, as `findFunctions` finds them in its
 * tree: a superset, read from the text alone (no parse), so that a file need not be parsed to know it does not define
 * a name.
 *
 * `describeFunction` names a function by the identifier its function declarator declares (the last one of a
 * qualified name), which the parameter list follows with nothing between but blanks, line continuations and comments
 * (the grammar's extras). After the list's `)` (and any more `)` closing a parenthesised declarator), a definition has
 * its body's `{`, or something that comes before it: a word (an attribute macro, `__attribute__`, a K&R declaration,
 * C++'s `const`, `noexcept`, `override`), `[[` or C++'s `&`. (C++'s `-> T` comes after `auto`, and a constructor's `:`
 * after no type: neither returns an object.)
 * So a word is left out when the text shows it is not such a definition there: no `(` follows it, or the list's `)`
 * is followed by a character no definition has there (`;` of a prototype, `,` `=` `+` `.` and the other operators of an
 * expression). A list the scan cannot close (a `;`, `{` or `}` before its `)`, a string that does not end on its line, a
 * list longer than `MAX_LIST`) counts as a definition's. Words in comments, literals and preprocessor directives name
 * no function, nor do `KEYWORDS`.
 *
 * Give it the text the parser reads (after `blankStatementMacros`).
 */
export function definitionNames(text: string, dialect: 'c' | 'cpp' = 'c'): Set<string> {
  const out = new Set<string>();
  const n = text.length;
  let lineStart = true;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      i++;
    } else if (isBlank(c)) i++;
    else if (c === 47 /* / */ && (text.charCodeAt(i + 1) === 42 || text.charCodeAt(i + 1) === 47)) i = skipComment(text, i);
    else if (c === 35 /* # */ && lineStart) i = endOfDirective(text, i);
    else if (c === 34 /* " */ || c === 39 /* ' */) {
      lineStart = false;
      const end = endOfLiteral(text, i, dialect);
      // (A quote whose literal does not end on its line is passed over alone.)
      i = end < 0 ? i + 1 : end + 1;
    } else if (isNameStart(c) && !(i > 0 && isNameChar(text.charCodeAt(i - 1)))) {
      lineStart = false;
      let j = i + 1;
      while (j < n && isNameChar(text.charCodeAt(j))) j++;
      const open = skipExtras(text, j);
      if (text.charCodeAt(open) === OPEN) {
        const word = text.slice(i, j);
        if (!KEYWORDS.has(word) && mayBeDefinedAt(text, i, open, dialect)) out.add(word);
      }
      i = j;
    } else {
      if (c !== 92 /* \ */) lineStart = false;
      i++;
    }
  }
  return out;
}

/**
 * Keywords of C that C++ has too (and C11's reserved `_Atomic` and the like): no function is named so. A tree may
 * still name a function so (a macro the parser misreads); no analysis counts such a function as one that returns a new
 * reference (see `names.ts`), so `definitionNames` leaves them out.
 */
export const KEYWORDS: ReadonlySet<string> = new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'do', 'else', 'case', 'goto', 'int', 'void', 'char', 'short', 'long', 'float', 'double', 'signed', 'unsigned', 'const', 'volatile', 'static', 'extern', 'struct', 'union', 'enum', 'typedef', 'register', 'auto', 'break', 'continue', 'default', '_Alignof', '_Alignas', '_Atomic', '_Generic', '_Static_assert']);

/** A parameter list the scan reads no further than this many characters (it then counts as a definition's). */
const MAX_LIST = 20000;
const OPEN = 40;
const CLOSE = 41;

/** The characters after a parameter list's `)` (and blanks, comments, more `)`) that no definition has there. */
const NOT_AFTER_DEFINITION = new Set([...';,]}?:.=+-*/%<>!|^~'].map((ch) => ch.charCodeAt(0)));

/**
 * Whether the parameter list that opens at `open`, after the word at `name`, may be a function definition's (see
 * `definitionNames`).
 */
function mayBeDefinedAt(text: string, name: number, open: number, dialect: 'c' | 'cpp'): boolean {
  const close = closeOf(text, open, dialect);
  if (close < 0) return true;
  let next = skipExtras(text, close + 1);
  // More `)` close a parenthesised declarator (`PyObject *(f(void))`), as many as it opened before the name.
  let closing = 0;
  for (; text.charCodeAt(next) === CLOSE; closing++) next = skipExtras(text, next + 1);
  if (closing > declaratorParens(text, name)) return false;
  if (next < text.length) {
    const c = text.charCodeAt(next);
    if (NOT_AFTER_DEFINITION.has(c)) return false;
    // (`&` is C++'s ref-qualifier; `[[` an attribute.)
    if ((c === 38 /* & */ && dialect === 'c') || (c === 91 /* [ */ && text.charCodeAt(next + 1) !== 91)) return false;
  }
  return mayReturnObject(text, name);
}

/** How far back `mayReturnObject` reads at most. */
const MAX_PREFIX = 1000;

/**
 * Whether the declaration the word at `name` is declared by may say it returns an object: a word `isObjectType` takes
 * (`PyObject`, `FooObject`) comes before it, after the `;`, `{` or `}` the declaration follows. `describeFunction`
 * takes the type from the definition's type (its macro's, or an ERROR node's before the declarator), all of which are
 * there. Where the text cannot be read backwards for sure (a comment or a literal, a directive line, more than
 * `MAX_PREFIX` characters), it may.
 */
function mayReturnObject(text: string, name: number): boolean {
  const stop = Math.max(0, name - MAX_PREFIX);
  for (let i = name - 1; i >= stop; ) {
    const c = text.charCodeAt(i);
    if (c === 59 /* ; */ || c === 123 /* { */ || c === 125 /* } */) return false;
    if (c === 47 /* / */ || c === 34 /* " */ || c === 39 /* ' */ || c === 35 /* # */ || c === 92 /* \ */) return true;
    if (c === 10) {
      if (unreadableBefore(text, i)) return true;
      i--;
    } else if (isNameChar(c)) {
      let j = i;
      while (j >= 0 && isNameChar(text.charCodeAt(j))) j--;
      if (isObjectType(text.slice(j + 1, i + 1))) return true;
      i = j;
    } else i--;
  }
  return stop > 0;
}

/** Words before which a `(` opens no declarator. */
const CONTROL_WORDS: ReadonlySet<string> = new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'case', 'do', 'else', 'goto']);

/** Characters that end what may come before a declarator's name (after the type): the `(` passed so far are all it may open. */
const BEFORE_DECLARATOR = new Set([...';{}=,!?<>+-|^~%.[]"\':&'].map((ch) => ch.charCodeAt(0)));

/**
 * How many `(` before the word at `name` may open a parenthesised declarator around it: those between it and the
 * type, passing `*` and words (qualifiers, attribute macros; a `&` makes a reference, which is no object). None when a
 * control word (`if (`, `return (`) opens them; as many as may be when the text before cannot be read backwards (a
 * comment, a cast's `)`).
 */
function declaratorParens(text: string, name: number): number {
  let opens = 0;
  for (let i = name - 1; ; ) {
    for (; i >= 0 && isBlank(text.charCodeAt(i)); i--) if (text.charCodeAt(i) === 10 && unreadableBefore(text, i)) return Infinity;
    if (i < 0) return opens;
    const c = text.charCodeAt(i);
    if (c === OPEN) {
      opens++;
      i--;
    } else if (c === 42 /* * */) i--;
    else if (isNameChar(c)) {
      let j = i;
      while (j >= 0 && isNameChar(text.charCodeAt(j))) j--;
      if (CONTROL_WORDS.has(text.slice(j + 1, i + 1))) return 0;
      i = j;
    } else if (BEFORE_DECLARATOR.has(c)) return opens;
    else return Infinity;
  }
}

function isBlank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** The length of the line break at `i` (`\n` 1, `\r\n` 2), 0 when there is none: what a backslash continues a line past. */
function lineBreakAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c === 10 ? 1 : c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 0;
}

/** The `)` that closes the `(` at `open`, past comments and literals; -1 when the scan cannot tell (see `definitionNames`). */
function closeOf(text: string, open: number, dialect: 'c' | 'cpp'): number {
  const end = Math.min(text.length, open + MAX_LIST);
  let depth = 0;
  for (let i = open; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN) depth++;
    else if (c === CLOSE) {
      if (--depth === 0) return i;
    } else if (c === 59 /* ; */ || c === 123 /* { */ || c === 125 /* } */) return -1;
    else if (c === 47 /* / */ && (text.charCodeAt(i + 1) === 42 || text.charCodeAt(i + 1) === 47)) i = skipComment(text, i) - 1;
    else if (c === 34 /* " */ || c === 39 /* ' */) {
      i = endOfLiteral(text, i, dialect);
      if (i < 0 || i >= end) return -1;
    }
  }
  return -1;
}

/** The first offset at or after `i` that is not a blank, a line continuation or a comment. */
function skipExtras(text: string, i: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isBlank(c)) i++;
    else if (c === 92 /* \ */ && lineBreakAt(text, i + 1)) i += 1 + lineBreakAt(text, i + 1);
    else if (c === 47 && (text.charCodeAt(i + 1) === 42 || text.charCodeAt(i + 1) === 47)) i = skipComment(text, i);
    else break;
  }
  return i;
}

/** The end of the comment that starts at `i` (`/*` or `//`; a line comment goes on past a line that ends in a backslash). */
function skipComment(text: string, i: number): number {
  const n = text.length;
  if (text.charCodeAt(i + 1) === 42) {
    const e = text.indexOf('*/', i + 2);
    return e < 0 ? n : e + 2;
  }
  let k = i + 2;
  for (; k < n; k++) {
    const d = text.charCodeAt(k);
    if (d === 92) k += lineBreakAt(text, k + 1) || 1;
    else if (d === 10) break;
  }
  return k;
}

/**
 * The offset of the quote that ends the string or character literal starting at `i`; -1 when it does not end on its
 * line. C++'s raw strings (`R"x(...)x"`) end at their delimiter, on any line (the C grammar reads `R` and a plain
 * string there); a digit separator (`1'000`) starts none.
 */
function endOfLiteral(text: string, i: number, dialect: 'c' | 'cpp'): number {
  const q = text.charCodeAt(i);
  // The word the quote follows: a number's (a digit separator), or a raw string's prefix.
  let w = i;
  while (w > 0 && isNameChar(text.charCodeAt(w - 1))) w--;
  if (q === 39 && w < i && text.charCodeAt(w) >= 48 && text.charCodeAt(w) <= 57) return i;
  if (q === 34 && dialect === 'cpp' && RAW_PREFIXES.has(text.slice(w, i))) {
    const open = text.indexOf('(', i + 1);
    const delim = open < 0 ? '' : text.slice(i + 1, open);
    if (open >= 0 && delim.length <= 16 && !/[\s)\\]/.test(delim)) {
      const end = text.indexOf(`)${delim}"`, open + 1);
      return end < 0 ? -1 : end + delim.length + 1;
    }
  }
  for (let k = i + 1; k < text.length; k++) {
    const d = text.charCodeAt(k);
    if (d === 92) k++;
    else if (d === q) return k;
    else if (d === 10) return -1;
  }
  return -1;
}

/** The words that make a string that follows them a raw one in C++. */
const RAW_PREFIXES: ReadonlySet<string> = new Set(['R', 'LR', 'uR', 'UR', 'u8R']);

/** The end of the preprocessor directive that starts at `i` (its line, and those its backslashes continue it onto; comments included). */
function endOfDirective(text: string, i: number): number {
  const n = text.length;
  let k = i + 1;
  while (k < n) {
    const d = text.charCodeAt(k);
    if (d === 10) return k;
    if (d === 92) k += 1 + (lineBreakAt(text, k + 1) || 1);
    else if (d === 47 && (text.charCodeAt(k + 1) === 42 || text.charCodeAt(k + 1) === 47)) {
      // (A block comment may go on past the line; a line comment ends the directive with its line.)
      const e = skipComment(text, k);
      if (text.charCodeAt(k + 1) === 47) return e;
      k = e;
    } else k++;
  }
  return n;
}

/**
 * Whether the line that ends at the line break at `end` cannot be read backwards for sure: a directive, a line comment,
 * a line that ends in a backslash, or one that a backslash at the end of the line before continues.
 */
function unreadableBefore(text: string, end: number): boolean {
  const start = text.lastIndexOf('\n', end - 1) + 1;
  const line = text.slice(start, end);
  if (line.includes('//') || /^[ \t]*#/.test(line) || /\\\r?$/.test(line)) return true;
  return start >= 2 && /\\\r?$/.test(text.slice(text.lastIndexOf('\n', start - 2) + 1, start - 1));
}

/** Identifier characters as the grammars read them: `$` and characters beyond ASCII too. */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36 || c >= 128;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}
