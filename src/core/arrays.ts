/**
 * Arrays made so that V8 gives the analysis' arrays of one kind one hidden class.
 *
 * V8 keeps an array's elements kind in its hidden class: small integers, or anything; packed, or
 * with holes. A literal `[]` starts as small integers and changes when the first object or string
 * is added; `new Array(n)` and `flatMap` make arrays with holes. The path analyses read the arrays
 * of their states in a few hot loops, and each loop's optimised code was thrown away and compiled
 * again when it met an array of another kind than the ones it had seen.
 */

/** `n` copies of the small integer `v`, packed (unlike `new Array(n).fill(v)`, which has holes). */
export function filledNumbers(n: number, v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(v);
  return out;
}

/** An empty array of objects or strings: the kind it has once one is added, not a literal `[]`'s. */
export function emptyForObjects<T extends object | string>(): T[] {
  const out: unknown[] = [undefined];
  out.pop();
  return out as T[];
}

/** `n` copies of `v` (an object, a string or `undefined`), packed, of the kind arrays of objects have. */
export function filledForObjects<T extends object | string | undefined>(n: number, v: T): T[] {
  const out = emptyForObjects<object>() as T[];
  for (let i = 0; i < n; i++) out.push(v);
  return out;
}

/**
 * `a.map(f)`, packed. (V8's optimising compiler builds `map`'s result with holes where its
 * interpreter builds it packed: the same line gave arrays of two kinds depending on the tier.)
 */
export function mapped<T, U>(a: readonly T[], f: (x: T) => U): U[] {
  const out: U[] = [];
  for (let i = 0; i < a.length; i++) out.push(f(a[i]));
  return out;
}

/**
 * `a.map(f)` for small integers. (Not `mapped`: V8 remembers at each `[]` what kind its arrays
 * grew into and makes the next ones of that kind from the start, so one `[]` shared by arrays of
 * objects and arrays of integers would give the integers' arrays the objects' kind.)
 */
export function mappedNumbers(a: readonly number[], f: (x: number) => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) out.push(f(a[i]));
  return out;
}
