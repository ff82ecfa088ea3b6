/**
 * What a branch's condition says: which locals hold which singleton, and which calls failed.
 * A branch-prediction hint (`UNLIKELY(e)`, `__builtin_expect(e, 0)`; see `hintedCondition`)
 * says what its condition `e` says; `macros` are the file's, for the project's own hints.
 */
import { STEALING } from '../api/stealing';
import { withoutHints, type MacroDef } from '../macros';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, IS_CALLS, singletonIndex, STRUCT_SPELLINGS, unwrapCxxCast } from '../syntax';
import { OTHER, PathState } from './state';

type Macros = ReadonlyMap<string, MacroDef> | undefined;

/** A condition with the parentheses, casts and branch-prediction hints around it taken off. */
function conditionCore(cond: SyntaxNode, macros: Macros): SyntaxNode {
  let n = unwrapCasts(cond);
  for (let h = withoutHints(n, macros); h !== n; h = withoutHints(n, macros)) n = unwrapCasts(h);
  return n;
}

/**
 * The expressions a condition, taken one way, shows to be a singleton: `x == Py_None`
 * holding, `x != Py_None` failing, `Py_IsNone(x)` holding, through `!`, `&&` (holding)
 * and `||` (failing).
 */
export function singletonTests(cond: SyntaxNode, holds: boolean, macros?: Macros): Array<{ expr: SyntaxNode; singleton: number }> {
  const n = conditionCore(cond, macros);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const arg = n.childForFieldName('argument');
    return arg ? singletonTests(arg, !holds, macros) : [];
  }
  if (n.type === 'binary_expression') {
    const op = n.childForFieldName('operator')?.type;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    if (!l || !r) return [];
    if ((op === '&&' && holds) || (op === '||' && !holds)) return [...singletonTests(l, holds, macros), ...singletonTests(r, holds, macros)];
    if ((op === '==' && holds) || (op === '!=' && !holds)) {
      const sl = directSingletonOf(l);
      const sr = directSingletonOf(r);
      if (sr >= 0 && sl < 0) return [{ expr: unwrapCasts(l), singleton: sr }];
      if (sl >= 0 && sr < 0) return [{ expr: unwrapCasts(r), singleton: sl }];
    }
    return [];
  }
  if (n.type === 'call_expression' && holds) {
    const is = IS_CALLS[calleeName(n) ?? ''];
    const a = argList(n)[0];
    if (is !== undefined && a) return [{ expr: unwrapCasts(a), singleton: is }];
  }
  return [];
}

/** The owning local and the singleton a condition shows it to be (`x == Py_None` holding, `x != Py_None` failing). */
export function ownedThroughComparison(cond: SyntaxNode, holds: boolean, owning: Set<string>, macros?: Macros): { name: string; singleton: number } | undefined {
  const t = singletonTests(cond, holds, macros).find((x) => x.expr.type === 'identifier' && owning.has(x.expr.text));
  return t && { name: t.expr.text, singleton: t.singleton };
}

/** False when `cond` evaluating to `holds` contradicts what state `s` says the locals hold. */
export function consistent(cond: SyntaxNode, holds: boolean, s: PathState, tracked: Map<string, number>, macros?: Macros): boolean {
  const bare = cond.type === 'parenthesized_expression' && cond.namedChildCount === 1 ? cond.namedChild(0)! : cond;
  const hinted = withoutHints(bare, macros);
  if (hinted !== bare) return consistent(hinted, holds, s, tracked, macros);
  const n = bare;
  const varOf = (x: SyntaxNode | null): number | undefined => {
    const u = x ? unwrapCasts(x) : null;
    return u?.type === 'identifier' ? tracked.get(u.text) : undefined;
  };
  const isNull = (x: SyntaxNode | null) => !!x && /^(?:NULL|0|nullptr)$/.test(unwrapCasts(x).text);
  const singletonOf = (x: SyntaxNode | null) => (x ? directSingletonOf(x) : -1);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const arg = n.childForFieldName('argument');
    return arg ? consistent(arg, !holds, s, tracked, macros) : true;
  }
  if (n.type === 'binary_expression') {
    const op = n.childForFieldName('operator')?.type;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    if (!l || !r) return true;
    if (op === '&&') return holds ? consistent(l, true, s, tracked, macros) && consistent(r, true, s, tracked, macros) : true;
    if (op === '||') return holds ? true : consistent(l, false, s, tracked, macros) && consistent(r, false, s, tracked, macros);
    if (op === '==' || op === '!=') {
      const equal = op === '==' ? holds : !holds;
      const [v, other] = varOf(l) !== undefined ? [varOf(l)!, r] : varOf(r) !== undefined ? [varOf(r)!, l] : [undefined, null];
      if (v === undefined || !other) return true;
      const value = s.vars[v];
      const sing = singletonOf(other);
      if (sing >= 0) return equal ? value === sing || value === OTHER : value !== sing;
      if (isNull(other)) return equal ? value === OTHER : true;
    }
    return true;
  }
  if (n.type === 'call_expression') {
    const is = IS_CALLS[calleeName(n) ?? ''];
    const v = is !== undefined ? varOf(argList(n)[0] ?? null) : undefined;
    if (v !== undefined) return holds ? s.vars[v] === is || s.vars[v] === OTHER : s.vars[v] !== is;
    return true;
  }
  const v = varOf(n);
  // A bare local used as a condition is false only when it is NULL, which a singleton never is.
  if (v !== undefined && !holds) return s.vars[v] === OTHER;
  return true;
}

export function unwrapCasts(n: SyntaxNode): SyntaxNode {
  let x = n;
  for (;;) {
    if (x.type === 'parenthesized_expression' && x.namedChildCount === 1) x = x.namedChild(0)!;
    else if (x.type === 'cast_expression' && x.childForFieldName('value')) x = x.childForFieldName('value')!;
    else if (unwrapCxxCast(x) !== x) x = unwrapCxxCast(x);
    else return x;
  }
}

export function directSingletonOf(n: SyntaxNode): number {
  const u = unwrapCasts(n);
  if (u.type === 'identifier') return singletonIndex(u.text);
  if (u.type === 'pointer_expression' && u.child(0)?.type === '&') {
    const a = u.childForFieldName('argument');
    if (a?.type === 'identifier' && a.text in STRUCT_SPELLINGS) return STRUCT_SPELLINGS[a.text];
  }
  return -1;
}

export const ON_SUCCESS = Object.entries(STEALING).filter(([, e]) => e.when === 'on-success').map(([n]) => n);
export const ON_SUCCESS_RE = new RegExp(`\\b(?:${ON_SUCCESS.join('|')})\\b`);

/**
 * Calls that steal only on success and that a condition, taken one way, shows may have
 * failed: `f(...) < 0`, `f(...) == -1`, `f(...) != 0` or a bare `f(...)` holding, `!f(...)`,
 * `f(...) == 0` or `f(...) >= 0` failing; through `||` (holding) and `&&` (failing).
 */
export function failedCalls(cond: SyntaxNode, holds: boolean, macros?: Macros): SyntaxNode[] {
  const n = conditionCore(cond, macros);
  if (n.type === 'unary_expression' && n.child(0)?.type === '!') {
    const a = n.childForFieldName('argument');
    return a ? failedCalls(a, !holds, macros) : [];
  }
  if (n.type === 'call_expression') return ON_SUCCESS.includes(calleeName(n) ?? '') && holds ? [n] : [];
  if (n.type !== 'binary_expression') return [];
  const op = n.childForFieldName('operator')?.type;
  const l = n.childForFieldName('left');
  const r = n.childForFieldName('right');
  if (!l || !r) return [];
  if ((op === '||' && holds) || (op === '&&' && !holds)) return [...failedCalls(l, holds, macros), ...failedCalls(r, holds, macros)];
  const lu = unwrapCasts(l);
  const ru = unwrapCasts(r);
  const [call, k, flip] = lu.type === 'call_expression' ? [lu, ru.text.replace(/\s+/g, ''), false] : ru.type === 'call_expression' ? [ru, lu.text.replace(/\s+/g, ''), true] : [undefined, '', false];
  if (!call || !ON_SUCCESS.includes(calleeName(call) ?? '')) return [];
  const cmp = flip ? ({ '<': '>', '>': '<', '<=': '>=', '>=': '<=' } as Record<string, string>)[op ?? ''] ?? op : op;
  // Which outcome of the comparison means the call returned -1 (failed).
  const failsWhen: boolean | undefined =
    (cmp === '<' && k === '0') || (cmp === '==' && k === '-1') || (cmp === '!=' && k === '0') || (cmp === '<=' && k === '-1')
      ? true
      : (cmp === '>=' && k === '0') || (cmp === '==' && k === '0') || (cmp === '!=' && k === '-1') || (cmp === '>' && k === '-1')
        ? false
        : undefined;
  return failsWhen !== undefined && failsWhen === holds ? [call] : [];
}

/**
 * Which expressions compared with a singleton may hold a reference the function owns: a
 * parameter only when the function releases or steals it (it then treats it as stolen), a
 * tracked local never (its value is followed), anything else (a new reference, a field of
 * an owning struct, a slot of a tuple the function filled) yes.
 */
export function identityTestFilter(body: SyntaxNode, owning: ReadonlySet<string>, tracked: ReadonlyMap<string, number>): (e: SyntaxNode) => boolean {
  const text = body.text;
  const released = (name: string) => new RegExp(`\\b(?:Py_X?DECREF|Py_DecRef|Py_CLEAR|${Object.keys(STEALING).join('|')})\\s*\\([^;]*\\b${name}\\b`).test(text);
  // A local holding a new reference, or a local or parameter the function releases or steals (it treats it as owned).
  const ownedLocal = (u: SyntaxNode) => u.type === 'identifier' && (owning.has(u.text) || released(u.text));
  return (e) => {
    const u = unwrapCasts(e);
    // A field of a struct that owns its value (`self->cache`).
    if (u.type === 'field_expression') return true;
    // A slot read back from a tuple or list the function owns (`PyTuple_GET_ITEM(t, 0)` with `t` a new reference).
    if (u.type === 'call_expression') {
      const a = argList(u)[0];
      return /GET_ITEM|GetItem/.test(calleeName(u) ?? '') && !!a && (unwrapCasts(a).type === 'field_expression' || ownedLocal(unwrapCasts(a)));
    }
    // A tracked local's value is followed instead.
    return !tracked.has(u.text) && ownedLocal(u);
  };
}

/** Bits of the singletons a condition shows equal to an expression that may be owned (`x == Py_None` holding). */
export function identityBits(cond: SyntaxNode, holds: boolean, mayBeOwned: (e: SyntaxNode) => boolean, macros?: Macros): number {
  return singletonTests(cond, holds, macros).reduce((bits, t) => (mayBeOwned(t.expr) ? bits | (1 << t.singleton) : bits), 0);
}
