/**
 * What a call does to references, as data: one summary per C-API function or macro the
 * analysis knows, built from the reference-count macros, `returns.generated.ts`
 * (CPython's `refcounts.dat`) and the stealing table. The ownership analysis applies a
 * summary with one generic step (clang's retain-count summaries, cpychecker's facets).
 */
import { API_PARAMS, API_RETURNS, type ReturnKind } from './returns.generated';
import { stolenArguments, type StealWhen } from './stealing';

/** What a call does to one of its arguments. */
export type ArgEffect =
  /** Adds a reference the caller owns (`Py_INCREF`); repays an open steal of the same object. */
  | { kind: 'incref' }
  /** Releases a reference (`Py_DECREF`); `clears` also sets a local argument to NULL (`Py_CLEAR`). */
  | { kind: 'decref'; clears: boolean }
  /** Takes the caller's reference, always or only when the call succeeds. */
  | { kind: 'steal'; when: StealWhen };

/** What a call returns. */
export type ReturnEffect =
  /** Its argument, unchanged (a cast macro). */
  | { kind: 'arg'; arg: number }
  /** Its argument, with a new reference the caller owns (`Py_NewRef`). */
  | { kind: 'new-ref-to-arg'; arg: number }
  /** As `refcounts.dat` says: a new reference, a borrowed one, or nothing to own. */
  | { kind: ReturnKind };

/** A call's effects on references. */
export interface Summary {
  returns?: ReturnEffect;
  /** Effects by argument position. */
  args: ReadonlyMap<number, ArgEffect>;
  /** `Py_SETREF(dst, src)`: assigns `src` to `dst`, then releases the old value. */
  setref?: boolean;
  /** A reference-count or cast macro of CPython: applied before a project macro of the same name is expanded. */
  builtin?: boolean;
}

export const INCREF_CALLS: ReadonlySet<string> = new Set(['Py_INCREF', 'Py_XINCREF', 'Py_IncRef', 'Py_XIncRef']);
export const NEWREF_CALLS: ReadonlySet<string> = new Set(['Py_NewRef', 'Py_XNewRef']);
export const SETREF_CALLS: ReadonlySet<string> = new Set(['Py_SETREF', 'Py_XSETREF']);
export const DECREF_CALLS: ReadonlySet<string> = new Set(['Py_DECREF', 'Py_XDECREF', 'Py_DecRef', 'Py_XDecRef', 'Py_CLEAR']);
/** C++ casts (`static_cast<PyObject *>(x)`): their callee name is the cast's keyword. */
export const CXX_CASTS: ReadonlySet<string> = new Set(['static_cast', 'reinterpret_cast', 'const_cast', 'dynamic_cast']);
/** Macros (and C++ casts) that only cast their argument. */
export const TRANSPARENT_CALLS: ReadonlySet<string> = new Set(['_PyObject_CAST', '_PyObject_CAST_CONST', '_Py_CAST', 'Py_SAFE_DOWNCAST', ...CXX_CASTS]);

const NONE: ReadonlyMap<number, ArgEffect> = new Map();

const PARAM_EFFECTS = new Map<string, readonly string[]>();

/**
 * `API_PARAMS`' effects of a C-API function on its parameters, by position (`+1`, `0`, `-1`, empty for a parameter
 * that is not an object, `...` for the variadic rest); undefined for a function it does not list. Split once per name.
 */
export function apiParamEffects(name: string): readonly string[] | undefined {
  const listed = API_PARAMS[name];
  if (listed === undefined) return undefined;
  // (Kept for the listed names only, so the cache holds at most the table's.)
  let effects = PARAM_EFFECTS.get(name);
  if (!effects) PARAM_EFFECTS.set(name, (effects = listed.split(',')));
  return effects;
}

/**
 * The summary of a call to `name` with these argument texts (a format string decides
 * which arguments `Py_BuildValue` steals), or undefined for a call the analysis knows
 * nothing of. `Py_SETREF`, the reference-count macros and the casts come first.
 */
export function summaryOf(name: string, argTexts: readonly string[]): Summary | undefined {
  const n = argTexts.length;
  if (TRANSPARENT_CALLS.has(name) && n >= 1) return { returns: { kind: 'arg', arg: 0 }, args: NONE, builtin: true };
  if (NEWREF_CALLS.has(name) && n === 1) return { returns: { kind: 'new-ref-to-arg', arg: 0 }, args: NONE, builtin: true };
  if (INCREF_CALLS.has(name) && n === 1) return { args: new Map([[0, { kind: 'incref' }]]), builtin: true };
  if (DECREF_CALLS.has(name) && n === 1) return { args: new Map([[0, { kind: 'decref', clears: name === 'Py_CLEAR' }]]), builtin: true };
  if (SETREF_CALLS.has(name) && n === 2) return { setref: true, args: NONE };
  const stolen = stolenArguments(name, [...argTexts]);
  const returns = API_RETURNS[name];
  if (!stolen.size && !returns) return undefined;
  const args = new Map<number, ArgEffect>();
  for (const [i, when] of stolen) args.set(i, { kind: 'steal', when });
  return { returns: returns ? { kind: returns } : undefined, args };
}
