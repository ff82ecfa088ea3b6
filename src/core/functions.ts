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

/** `read(f)`, or what `cache` keeps for `f`'s text (kept there when read). */
export function cachedRead<T>(cache: PerFunctionCache<T> | undefined, f: FunctionInfo, read: (f: FunctionInfo) => T): T {
  const text = cache && f.node.text;
  let v = text !== undefined ? cache!.get(text) : undefined;
  if (v === undefined) {
    v = read(f);
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
