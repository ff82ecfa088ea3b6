import type { SyntaxNode } from './parser';

/** The singletons, indexed; the index is used as a compact value in the data flow. */
export const SINGLETONS = ['Py_None', 'Py_True', 'Py_False', 'Py_NotImplemented', 'Py_Ellipsis'] as const;
/** One of the singleton names. */
export type SingletonName = (typeof SINGLETONS)[number];

/** Struct spellings (`&_Py_NoneStruct`) mapped to the singleton index. */
export const STRUCT_SPELLINGS: Record<string, number> = {
  _Py_NoneStruct: 0,
  _Py_TrueStruct: 1,
  _Py_FalseStruct: 2,
  _Py_NotImplementedStruct: 3,
  _Py_EllipsisObject: 4,
};

/** The return macro of each singleton, where CPython has one. */
export const RETURN_MACROS: Record<number, string | undefined> = {
  0: 'Py_RETURN_NONE',
  1: 'Py_RETURN_TRUE',
  2: 'Py_RETURN_FALSE',
  3: 'Py_RETURN_NOTIMPLEMENTED',
};

/** Statement macros that return a new reference. */
export const RETURN_MACRO_NAMES = new Set([
  'Py_RETURN_NONE',
  'Py_RETURN_TRUE',
  'Py_RETURN_FALSE',
  'Py_RETURN_NOTIMPLEMENTED',
  'Py_RETURN_RICHCOMPARE',
]);

/** A regular expression source matching any singleton spelling. */
export const SINGLETON_PATTERN = '\\b(?:Py_None|Py_True|Py_False|Py_NotImplemented|Py_Ellipsis|_Py_NoneStruct|_Py_TrueStruct|_Py_FalseStruct|_Py_NotImplementedStruct|_Py_EllipsisObject)\\b';

/** Short readable names used in messages. */
export const SINGLETON_SHORT = ['None', 'True', 'False', 'NotImplemented', 'Ellipsis'];

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

/** Macros that only cast their argument. */
export const TRANSPARENT_CALLS = new Set(['_PyObject_CAST', '_PyObject_CAST_CONST', '_Py_CAST', 'Py_SAFE_DOWNCAST']);

/** Calls that add a reference to their argument. */
export const INCREF_CALLS = new Set(['Py_INCREF', 'Py_XINCREF', 'Py_IncRef', 'Py_XIncRef']);
/** Calls that return their argument with a new reference. */
export const NEWREF_CALLS = new Set(['Py_NewRef', 'Py_XNewRef']);
/** `Py_SETREF(dst, src)`: assigns and releases the old value. */
export const SETREF_CALLS = new Set(['Py_SETREF', 'Py_XSETREF']);
/** Calls that release a reference to their argument. */
export const DECREF_CALLS = new Set(['Py_DECREF', 'Py_XDECREF', 'Py_DecRef', 'Py_XDecRef', 'Py_CLEAR']);

/** Index of the singleton an identifier names, or -1. */
export function singletonIndex(name: string): number {
  return (SINGLETONS as readonly string[]).indexOf(name);
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

/** The identifier a call calls, if it is a plain name. */
export function calleeName(call: SyntaxNode): string | undefined {
  const f = call.childForFieldName('function');
  return f && f.type === 'identifier' ? f.text : undefined;
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
export function namedKids(node: SyntaxNode): SyntaxNode[] {
  return node.namedChildren.filter((c): c is SyntaxNode => !!c && c.type !== 'comment');
}

/** Shortens code for a message. */
export function snippet(text: string, max = 40): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** The identifier a declarator declares (through pointers, arrays, parentheses, attributes, an initializer), if any. */
export function declaredName(d: SyntaxNode | null): SyntaxNode | null {
  while (d && d.type !== 'identifier') {
    if (['init_declarator', 'pointer_declarator', 'array_declarator', 'parenthesized_declarator', 'attributed_declarator'].includes(d.type)) {
      d = d.childForFieldName('declarator') ?? namedKids(d).find((k) => k.type.endsWith('declarator') || k.type === 'identifier') ?? null;
    } else return null;
  }
  return d;
}
