/**
 * C-API arguments that steal a reference, curated by hand: refcounts.dat marks steals
 * unreliably (it lists PyTuple_SetItem's item as "0" and PyModule_AddObject's value as
 * "+1"). Each entry quotes CPython's C-API documentation, which says so.
 */

/** When a stealing argument takes the reference. */
export type StealWhen = 'always' | 'on-success';

/** One function's stealing arguments. */
export interface StealingEntry {
  /** 0-based positions of the arguments that steal. */
  args: number[];
  /** `always`: even when the call fails; `on-success`: only when it succeeds. */
  when: StealWhen;
  /** The documentation that says so. */
  doc: string;
  /** The sentence of that documentation. */
  says: string;
}

import { byName } from './by-name';

const C_API = 'https://docs.python.org/3/c-api';

/** Stealing arguments by function name, sorted by name. */
export const STEALING: Readonly<Record<string, StealingEntry>> = byName({
  PyCell_SET: {
    args: [1],
    when: 'always',
    doc: `${C_API}/cell.html#c.PyCell_SET`,
    says: 'Sets the value of the cell object cell to value. No reference counts are adjusted, and no checks are made for safety; cell must be non-NULL and must be a cell object.',
  },
  PyErr_Restore: {
    args: [0, 1, 2],
    when: 'always',
    doc: `${C_API}/exceptions.html#c.PyErr_Restore`,
    says: 'This call takes away a reference to each object: you must own a reference to each object before the call and after the call you no longer own these references.',
  },
  PyErr_SetExcInfo: {
    args: [0, 1, 2],
    when: 'always',
    doc: `${C_API}/exceptions.html#c.PyErr_SetExcInfo`,
    says: 'Set the exception info, as known from sys.exc_info(). [...] This function steals the references of the arguments.',
  },
  PyErr_SetRaisedException: {
    args: [0],
    when: 'always',
    doc: `${C_API}/exceptions.html#c.PyErr_SetRaisedException`,
    says: 'Set exc as the exception currently being raised, clearing the existing exception if one is set. This function steals a reference to exc.',
  },
  PyException_SetCause: {
    args: [1],
    when: 'always',
    doc: `${C_API}/exceptions.html#c.PyException_SetCause`,
    says: 'Set the cause associated with the exception to cause. [...] This steals a reference to cause.',
  },
  PyException_SetContext: {
    args: [1],
    when: 'always',
    doc: `${C_API}/exceptions.html#c.PyException_SetContext`,
    says: 'Set the context associated with the exception to ctx. [...] This steals a reference to ctx.',
  },
  PyList_SET_ITEM: {
    args: [2],
    when: 'always',
    doc: `${C_API}/list.html#c.PyList_SET_ITEM`,
    says: 'Macro form of PyList_SetItem() without error checking. [...] This macro "steals" a reference to item.',
  },
  PyList_SetItem: {
    args: [2],
    when: 'always',
    doc: `${C_API}/list.html#c.PyList_SetItem`,
    says: 'Set the item at index index in list to item. [...] This function "steals" a reference to item and discards a reference to an item already in the list at the affected position.',
  },
  PyModule_Add: {
    args: [2],
    when: 'always',
    doc: `${C_API}/module.html#c.PyModule_Add`,
    says: 'Similar to PyModule_AddObjectRef(), but "steals" a reference to value. [...] even on failure.',
  },
  PyModule_AddObject: {
    args: [2],
    when: 'on-success',
    doc: `${C_API}/module.html#c.PyModule_AddObject`,
    says: 'Similar to PyModule_AddObjectRef(), but steals a reference to value on success (if it returns 0).',
  },
  PyStructSequence_SET_ITEM: {
    args: [2],
    when: 'always',
    doc: `${C_API}/tuple.html#c.PyStructSequence_SET_ITEM`,
    says: 'Similar to PyStructSequence_SetItem(), but implemented as a static inline function.',
  },
  PyStructSequence_SetItem: {
    args: [2],
    when: 'always',
    doc: `${C_API}/tuple.html#c.PyStructSequence_SetItem`,
    says: 'Sets the field at index pos of the struct sequence p to value o. [...] This function "steals" a reference to o.',
  },
  PyTuple_SET_ITEM: {
    args: [2],
    when: 'always',
    doc: `${C_API}/tuple.html#c.PyTuple_SET_ITEM`,
    says: 'Like PyTuple_SetItem(), but does no error checking, and should only be used to fill in brand new tuples. [...] This function "steals" a reference to o.',
  },
  PyTuple_SetItem: {
    args: [2],
    when: 'always',
    doc: `${C_API}/tuple.html#c.PyTuple_SetItem`,
    says: 'Insert a reference to object o at position pos of the tuple pointed to by p. [...] This function "steals" a reference to o and discards a reference to an item already in the tuple at the affected position.',
  },
});

/** Calls whose arguments follow a `Py_BuildValue` format string, by the format's 0-based position; `N` steals. */
export const FORMAT_CALLS: Readonly<Record<string, { format: number; doc: string }>> = byName({
  PyObject_CallFunction: { format: 1, doc: `${C_API}/call.html#c.PyObject_CallFunction` },
  PyObject_CallMethod: { format: 2, doc: `${C_API}/call.html#c.PyObject_CallMethod` },
  Py_BuildValue: { format: 0, doc: `${C_API}/arg.html#c.Py_BuildValue` },
  _PyObject_CallFunction_SizeT: { format: 1, doc: `${C_API}/call.html#c.PyObject_CallFunction` },
  _PyObject_CallMethod_SizeT: { format: 2, doc: `${C_API}/call.html#c.PyObject_CallMethod` },
  _Py_BuildValue_SizeT: { format: 0, doc: `${C_API}/arg.html#c.Py_BuildValue` },
});

/**
 * Positions (among all the call's arguments) of the arguments a `Py_BuildValue`-style
 * format hands over with `N` (a stolen reference); undefined when the format is not a
 * string literal.
 */
export function formatStolenArgs(formatText: string, firstArg: number): number[] | undefined {
  // Adjacent literals (`"{sN " "sd" "}"`, as a macro argument makes them) are one format.
  if (!/^\s*(?:"(?:[^"\\]|\\.)*"\s*)+$/.test(formatText)) return undefined;
  const fmt = [...formatText.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join('');
  const stolen: number[] = [];
  let arg = firstArg;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if ('()[]{}:,; \t'.includes(c)) continue;
    if (c === 'N') stolen.push(arg);
    if (c === 'O' && fmt[i + 1] === '&') {
      arg += 2;
      i++;
      continue;
    }
    arg++;
    if (fmt[i + 1] === '#') {
      arg++;
      i++;
    }
  }
  return stolen;
}

/** Arguments of a call (by position) that steal a reference, with when; format strings are read when literal. */
export function stolenArguments(name: string, argTexts: string[]): Map<number, StealWhen> {
  const out = new Map<number, StealWhen>();
  const entry = STEALING[name];
  if (entry) for (const a of entry.args) out.set(a, entry.when);
  const fmt = FORMAT_CALLS[name];
  if (fmt && argTexts[fmt.format] !== undefined) for (const a of formatStolenArgs(argTexts[fmt.format], fmt.format + 1) ?? []) out.set(a, 'always');
  return out;
}

/** Stealing functions that report failure (they return an error code); the others (void functions, `*_SET_ITEM` macros) cannot fail. */
const REPORTS_FAILURE = new Set(['PyList_SetItem', 'PyModule_Add', 'PyModule_AddObject', 'PyTuple_SetItem']);

/** Whether a call can fail: a stealing function that returns an error code, or any call not in the table. */
export function canFail(name: string): boolean {
  return !(name in STEALING) || REPORTS_FAILURE.has(name);
}
