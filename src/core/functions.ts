import type { SyntaxNode } from './parser';
import { namedKids } from './syntax';

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
]);

/** All function definitions in a tree, including those inside `#if` blocks and ERROR nodes. */
export function findFunctions(root: SyntaxNode, text: string): FunctionInfo[] {
  const out: FunctionInfo[] = [];
  const stack: SyntaxNode[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (const k of n.namedChildren) {
      if (!k) continue;
      if (k.type === 'function_definition') {
        const info = describeFunction(k, text);
        if (info) out.push(info);
      } else if (CONTAINERS.has(k.type)) {
        stack.push(k);
      }
    }
  }
  return out.sort((a, b) => a.node.startIndex - b.node.startIndex);
}

function isObjectType(name: string): boolean {
  return name === 'PyObject' || /Object$/.test(name);
}

/** Signature facts of one `function_definition`. */
export function describeFunction(fn: SyntaxNode, text: string): FunctionInfo | undefined {
  const body = fn.childForFieldName('body');
  if (!body) return undefined;
  let d = fn.childForFieldName('declarator');
  let pointers = 0;
  while (d && d.type !== 'function_declarator') {
    if (d.type === 'pointer_declarator') pointers++;
    else if (d.type !== 'parenthesized_declarator' && d.type !== 'attributed_declarator') return undefined;
    d = d.childForFieldName('declarator') ?? namedKids(d).find((k) => k.type.endsWith('declarator')) ?? null;
  }
  if (!d) return undefined;
  const nameNode = d.childForFieldName('declarator');
  if (!nameNode || nameNode.type !== 'identifier') return undefined;
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
  const returnsObject = pointers === 1 && isObjectType(typeName);
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
