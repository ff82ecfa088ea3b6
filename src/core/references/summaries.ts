/**
 * Summaries of the file's own functions for the reference analysis: which object
 * parameters a function only borrows (it reads them, passes them to calls that borrow,
 * compares them, takes its own reference), so that passing an owned reference to it does
 * not hand the reference over. Worked out to a fixpoint over the file's functions.
 */
import { API_PARAMS } from '../api/returns.generated';
import { summaryOf, DECREF_CALLS, SETREF_CALLS } from '../api/summaries';
import type { FunctionInfo } from '../functions';
import { parameters } from '../functions';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, declaredName } from '../syntax';
import { knownBorrowing } from './evaluator';

/** By function name: the positions of the object parameters it only borrows. */
export type BorrowingParams = ReadonlyMap<string, ReadonlySet<number>>;

interface Candidate {
  name: string;
  params: Array<{ name: string; index: number }>;
  body: SyntaxNode;
}

/** The parameters each function of the file borrows (functions defined twice, under `#if` branches, are left out). */
export function borrowingParams(functions: readonly FunctionInfo[]): BorrowingParams {
  const seen = new Map<string, number>();
  for (const f of functions) seen.set(f.name, (seen.get(f.name) ?? 0) + 1);
  const cands: Candidate[] = [];
  for (const f of functions) {
    if (seen.get(f.name) !== 1 || f.lambda) continue;
    const params = parameters(f.node).flatMap((p, index) => {
      const d = p.childForFieldName('declarator');
      const n = d?.type === 'pointer_declarator' ? declaredName(d) : null;
      return n ? [{ name: n.text, index }] : [];
    });
    if (params.length) cands.push({ name: f.name, params, body: f.body });
  }
  // Start from "borrows every object parameter" and drop what some use contradicts, until nothing changes.
  const out = new Map<string, Set<number>>(cands.map((c) => [c.name, new Set(c.params.map((p) => p.index))]));
  for (let round = 0; round < 4; round++) {
    let changed = false;
    for (const c of cands) {
      const set = out.get(c.name)!;
      const left = c.params.filter((p) => set.has(p.index));
      if (!left.length) continue;
      const handed = handedOver(c.body, new Set(left.map((p) => p.name)), out);
      for (const p of left) {
        if (handed.has(p.name)) {
          set.delete(p.index);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  for (const [k, v] of out) if (!v.size) out.delete(k);
  return out;
}

/** Which of `names` some use in `body` may hand over (the others only leave the caller's reference alone); one walk of the body. */
function handedOver(body: SyntaxNode, names: ReadonlySet<string>, known: ReadonlyMap<string, ReadonlySet<number>>): Set<string> {
  const out = new Set<string>();
  const text = body.text;
  const wanted = [...names].filter((n) => text.includes(n));
  if (!wanted.length) return out;
  for (const id of body.descendantsOfType('identifier')) {
    if (!id || !wanted.includes(id.text) || out.has(id.text)) continue;
    if (!leavesReference(id, known)) out.add(id.text);
  }
  return out;
}

/** Whether this use of a parameter leaves the caller's reference alone. */
function leavesReference(id: SyntaxNode, known: ReadonlyMap<string, ReadonlySet<number>>): boolean {
  let n: SyntaxNode = id;
  let p = n.parent;
  while (p && (p.type === 'parenthesized_expression' || p.type === 'cast_expression')) {
    n = p;
    p = p.parent;
  }
  if (!p) return false;
  switch (p.type) {
    case 'field_expression':
      return p.childForFieldName('argument')?.id === n.id;
    case 'binary_expression':
    case 'unary_expression':
    case 'subscript_expression':
    case 'sizeof_expression':
    case 'condition_clause':
    case 'if_statement':
    case 'while_statement':
      return true;
    case 'pointer_expression':
      return p.child(0)?.type !== '&';
    case 'argument_list': {
      const call = p.parent;
      if (call?.type !== 'call_expression') return false;
      const callee = calleeName(call) ?? '';
      const args = argList(call);
      const k = args.findIndex((a) => a.id === n.id);
      if (DECREF_CALLS.has(callee) || SETREF_CALLS.has(callee)) return false;
      const s = summaryOf(callee, args.map((a) => a.text));
      if (s?.builtin) return true;
      if (s?.args.get(k)?.kind === 'steal') return false;
      return !!known.get(callee)?.has(k) || (knownBorrowing(callee) && API_PARAMS[callee]?.split(',')[k] !== '-1');
    }
    default:
      // Assigned, returned, put in an initializer, passed to an unknown call: it may be handed over.
      return false;
  }
}
