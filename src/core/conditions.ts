import type { SyntaxNode } from './parser';

/**
 * Which `#if` branches the targeted Pythons compile: a condition on CPython's version macros
 * (`PY_MAJOR_VERSION < 3`, `PY_VERSION_HEX >= 0x03030000`) is decided by the lowest targeted
 * version, as `#if 0` and `#if 1` are by themselves. Anything else (`defined(X)`, a project's
 * own macro) depends on the build, and is left undecided.
 */

/** A set of possible values: [lo, hi], `hi` possibly Infinity; undefined when nothing is known. */
type Range = [number, number] | undefined;

/** The values CPython's version macros take on the targets (min and later, up to the 3.x series); none known without `min`. */
function versionRanges(min: readonly [number, number] | undefined): Map<string, [number, number]> {
  if (!min) return new Map();
  // (A project that still targets 2.x targets 3.x too: then any minor version.)
  const three = min[0] >= 3;
  return new Map<string, [number, number]>([
    ['PY_MAJOR_VERSION', three ? [min[0], min[0]] : [min[0], 3]],
    ['PY_MINOR_VERSION', three ? [min[1], Infinity] : [0, Infinity]],
    ['PY_MICRO_VERSION', [0, Infinity]],
    // (3.8.0 alpha 1 is 0x030800a1: every release of 3.8 is at least 0x03080000.)
    ['PY_VERSION_HEX', [min[0] * 0x1000000 + min[1] * 0x10000, Infinity]],
  ]);
}

const TOKEN = /\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|\s*([A-Za-z_]\w*)|\s*(&&|\|\||==|!=|<=|>=|[<>()!])|\s*(\S)/y;

interface Tok {
  kind: 'num' | 'id' | 'op' | 'other';
  text: string;
  value?: number;
}

function tokens(text: string): Tok[] | undefined {
  const out: Tok[] = [];
  TOKEN.lastIndex = 0;
  const s = text.trimEnd();
  while (TOKEN.lastIndex < s.length) {
    const m = TOKEN.exec(s);
    if (!m) return undefined;
    if (m[1] !== undefined) out.push({ kind: 'num', text: m[1], value: m[1].length > 1 && /^0[xX]/.test(m[1]) ? parseInt(m[1].slice(2), 16) : parseInt(m[1], 10) });
    else if (m[2] !== undefined) out.push({ kind: 'id', text: m[2] });
    else if (m[3] !== undefined) out.push({ kind: 'op', text: m[3] });
    else out.push({ kind: 'other', text: m[4] });
  }
  return out;
}

/** A value: a truth (`true`/`false`/undefined) or a range of numbers. */
type Value = { truth: boolean | undefined } | { range: Range };

function truthOf(v: Value): boolean | undefined {
  if ('truth' in v) return v.truth;
  const r = v.range;
  if (!r) return undefined;
  if (r[0] === 0 && r[1] === 0) return false;
  return r[0] > 0 || r[1] < 0 ? true : undefined;
}

function rangeOf(v: Value): Range {
  if ('range' in v) return v.range;
  return v.truth === undefined ? [0, 1] : v.truth ? [1, 1] : [0, 0];
}

function compare(op: string, a: Range, b: Range): boolean | undefined {
  if (!a || !b) return undefined;
  const [alo, ahi] = a;
  const [blo, bhi] = b;
  switch (op) {
    case '<':
      return ahi < blo ? true : alo >= bhi ? false : undefined;
    case '<=':
      return ahi <= blo ? true : alo > bhi ? false : undefined;
    case '>':
      return alo > bhi ? true : ahi <= blo ? false : undefined;
    case '>=':
      return alo >= bhi ? true : ahi < blo ? false : undefined;
    case '==':
      return alo === ahi && blo === bhi && alo === blo ? true : ahi < blo || bhi < alo ? false : undefined;
    case '!=':
      return alo === ahi && blo === bhi && alo === blo ? false : ahi < blo || bhi < alo ? true : undefined;
  }
  return undefined;
}

/**
 * Whether a `#if`/`#elif` condition holds on every target (true), on none (false), or depends on the build
 * (undefined). Only `0`, `1`, CPython's version macros, comparisons, `!`, `&&`, `||` and parentheses are read; without
 * `min` (no targets known) the version macros are undecided.
 */
export function conditionOnTargets(condText: string, min?: readonly [number, number]): boolean | undefined {
  const toks = tokens(condText.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, ' ').replace(/\\\r?\n/g, ' '));
  if (!toks?.length) return undefined;
  const known = versionRanges(min);
  let i = 0;
  const peek = () => toks[i]?.text;
  const fail = (): never => {
    throw new Unreadable();
  };
  // Precedence climbing over || < && < equality < relational < unary. `||` is true when either side is (false when
  // both are), `&&` false when either side is (true when both are): `dominant` is the value that decides alone.
  const logical = (op: string, dominant: boolean, operand: () => Value) => (): Value => {
    let v = operand();
    while (peek() === op) {
      i++;
      const x = truthOf(v);
      const y = truthOf(operand());
      v = { truth: x === dominant || y === dominant ? dominant : x === !dominant && y === !dominant ? !dominant : undefined };
    }
    return v;
  };
  const comparison = (ops: readonly string[], operand: () => Value) => (): Value => {
    let v = operand();
    while (ops.includes(peek() ?? '')) {
      const op = toks[i++].text;
      v = { truth: compare(op, rangeOf(v), rangeOf(operand())) };
    }
    return v;
  };
  const relational = comparison(['<', '<=', '>', '>='], () => unary());
  const equality = comparison(['==', '!='], relational);
  const and = logical('&&', false, equality);
  const or = logical('||', true, and);
  const unary = (): Value => {
    const t = toks[i++] ?? fail();
    if (t.text === '!') {
      const x = truthOf(unary());
      return { truth: x === undefined ? undefined : !x };
    }
    if (t.text === '(') {
      const v = or();
      if (toks[i++]?.text !== ')') fail();
      return v;
    }
    if (t.kind === 'num') return { range: [t.value!, t.value!] };
    if (t.kind === 'id') {
      if (t.text === 'defined') {
        // `defined X` or `defined(X)`: the build decides.
        if (peek() === '(') {
          i++;
          if (toks[i++]?.kind !== 'id' || toks[i++]?.text !== ')') fail();
        } else if (toks[i++]?.kind !== 'id') fail();
        return { truth: undefined };
      }
      // A function-like macro (`PY_VERSION_AT_LEAST(3, 9)`) is not read.
      if (peek() === '(') fail();
      return { range: known.get(t.text) };
    }
    return fail();
  };
  try {
    const v = or();
    return i === toks.length ? truthOf(v) : undefined;
  } catch (e) {
    if (e instanceof Unreadable) return undefined;
    throw e;
  }
}

class Unreadable extends Error {}

const BRANCHES = new Set(['preproc_if', 'preproc_elif', 'preproc_else', 'preproc_ifdef', 'preproc_elifdef']);

/** Whether a `#if`/`#elif` branch node's own condition holds on every target, on none, or depends (`#ifdef`: depends). */
function branchCondition(n: SyntaxNode, min: readonly [number, number]): boolean | undefined {
  if (n.type !== 'preproc_if' && n.type !== 'preproc_elif') return undefined;
  const cond = n.childForFieldName('condition');
  return cond ? conditionOnTargets(cond.text, min) : undefined;
}

/**
 * False when `node` lies in an `#if` branch no target compiles: its condition is false (`#if 0`,
 * `#if PY_MAJOR_VERSION < 3`), or an earlier branch of its chain is always compiled (the `#else`
 * of `#if PY_MAJOR_VERSION >= 3`). True otherwise, and where the parser recovered from an error
 * in the `#if` (its extent is then a guess).
 */
export function compiledOnTargets(node: SyntaxNode, min: readonly [number, number]): boolean {
  let child = node;
  for (let p = node.parent; p; child = p, p = p.parent) {
    if (!BRANCHES.has(p.type) || p.hasError) continue;
    const alt = p.childForFieldName('alternative');
    const inAlternative = !!alt && alt.startIndex === child.startIndex && alt.endIndex === child.endIndex && alt.type === child.type;
    // In a later branch: dead when this one is always compiled. In this branch's body: dead when its condition is false.
    if (branchCondition(p, min) === (inAlternative ? true : false)) return false;
  }
  return true;
}
