/**
 * The CPython singletons, in one table: every other list of names, spellings and
 * macros derives from it. A singleton is identified in the analysis by its index here
 * (a `Singleton`), which the path states store in compact arrays.
 */

/** What the analysis and the messages need to know of one singleton. */
export interface SingletonInfo {
  /** The C name (`Py_None`). */
  name: string;
  /** The short name used in messages (`None`). */
  short: string;
  /** The struct whose address it is (`&_Py_NoneStruct`). */
  struct: string;
  /** The statement macro that returns a new reference to it, where CPython has one. */
  returnMacro?: string;
  /** The identity test function (`Py_IsNone`), where CPython has one (3.10+). */
  isCall?: string;
  /** CPython ≤ 3.11 aborts with "deallocating X" when its count reaches zero (others corrupt memory). */
  abortsOnDealloc: boolean;
}

/** The singletons; the order is their identity in the analysis (do not reorder). */
export const SINGLETON_TABLE: readonly SingletonInfo[] = Object.freeze([
  { name: 'Py_None', short: 'None', struct: '_Py_NoneStruct', returnMacro: 'Py_RETURN_NONE', isCall: 'Py_IsNone', abortsOnDealloc: true },
  { name: 'Py_True', short: 'True', struct: '_Py_TrueStruct', returnMacro: 'Py_RETURN_TRUE', isCall: 'Py_IsTrue', abortsOnDealloc: false },
  { name: 'Py_False', short: 'False', struct: '_Py_FalseStruct', returnMacro: 'Py_RETURN_FALSE', isCall: 'Py_IsFalse', abortsOnDealloc: false },
  { name: 'Py_NotImplemented', short: 'NotImplemented', struct: '_Py_NotImplementedStruct', returnMacro: 'Py_RETURN_NOTIMPLEMENTED', abortsOnDealloc: true },
  { name: 'Py_Ellipsis', short: 'Ellipsis', struct: '_Py_EllipsisObject', abortsOnDealloc: false },
]);

/** A singleton: its index in `SINGLETON_TABLE`. */
export type Singleton = number;

/** Named singletons, for code that means one of them. */
export const NONE: Singleton = 0;
export const TRUE: Singleton = 1;
export const FALSE: Singleton = 2;
export const NOT_IMPLEMENTED: Singleton = 3;
export const ELLIPSIS: Singleton = 4;

/** How CPython ≤ 3.11 ends when a singleton's count reaches zero. */
export function crashOf(s: Singleton): string {
  const info = SINGLETON_TABLE[s];
  return info.abortsOnDealloc ? `aborts with 'deallocating ${info.short}'` : 'crashes once it reaches zero';
}

/** Of several singletons, the one whose release is the worst (an abort over a corruption), else the first. */
export function worstOf(singletons: readonly Singleton[]): Singleton {
  return singletons.find((s) => SINGLETON_TABLE[s].abortsOnDealloc) ?? singletons[0];
}
