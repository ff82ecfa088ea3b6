/**
 * Summaries of the file's own functions for the reference analysis: which object
 * parameters a function only borrows (it reads them, passes them to calls that borrow,
 * compares them, takes its own reference), so that passing an owned reference to it does
 * not hand the reference over. Worked out to a fixpoint over the file's functions.
 */
import { apiParamEffects, summaryOf, DECREF_CALLS, SETREF_CALLS } from '../api/summaries';
import type { FunctionInfo, PerFunctionCache } from '../functions';
import { cachedRead, parameters, reachFrom } from '../functions';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, declaredName, WordSet } from '../syntax';
import { knownBorrowing } from './evaluator';

/**
 * By function name: the positions of the object parameters it only borrows. A function is read (its tree walked)
 * only when asked for, with the functions it passes its parameters to.
 */
export interface BorrowingParams {
  get(name: string): ReadonlySet<number> | undefined;
  /** Every function's (reads every function of the file): for cache keys. */
  all(): Array<[string, number[]]>;
}

/** What the summaries read of one function's tree: its object parameters and their uses. */
export interface ParamUses {
  params: Array<{ name: string; index: number }>;
  /** By parameter name: how each of its uses treats the caller's reference (see `Use`). */
  uses: Map<string, Use[]>;
}

/** `ParamUses` kept across analyses (the editor's), by the function's text. */
export type ParamUsesCache = PerFunctionCache<ParamUses>;

interface Candidate extends ParamUses {
  name: string;
  /** The function's place in the file (the rounds go in this order). */
  order: number;
}

/**
 * What one use of a parameter does with the caller's reference: leaves it alone (`true`),
 * may hand it over (`false`), or passes it as argument `k` of a function of the file,
 * which leaves it alone when that function borrows its parameter `k` or `fallback` holds.
 */
type Use = boolean | { callee: string; k: number; fallback: boolean };

/** Rounds of the fixpoint (a summary that still changes after them keeps what it has). */
const ROUNDS = 4;

/**
 * The parameters each function of the file borrows (functions defined twice, under `#if`
 * branches, are left out). With `cache`, a function whose text is there is not read again.
 *
 * Each function starts from "borrows every object parameter" and loses what some use contradicts, in rounds over the
 * functions in file order until nothing changes. A function's answer depends only on the functions it reaches through
 * its uses, so it is worked out over those alone, in the same order and rounds: the same answer as rounds over the
 * whole file, without reading the functions nothing asks about (in a scan, most are never called by name).
 */
export function borrowingParams(functions: readonly FunctionInfo[], cache?: ParamUsesCache): BorrowingParams {
  const count = new Map<string, number>();
  for (const f of functions) count.set(f.name, (count.get(f.name) ?? 0) + 1);
  const byName = new Map<string, { f: FunctionInfo; order: number }>();
  functions.forEach((f, order) => {
    if (count.get(f.name) === 1 && !f.lambda) byName.set(f.name, { f, order });
  });
  const read = new Map<string, Candidate | null>();
  const candidate = (name: string): Candidate | null => {
    let c = read.get(name);
    if (c === undefined) {
      c = null;
      const e = byName.get(name);
      if (e) {
        const facts = cachedRead(cache, e.f, paramUsesOf);
        if (facts.params.length) c = { name, order: e.order, ...facts };
      }
      read.set(name, c);
    }
    return c;
  };
  const solved = new Map<string, ReadonlySet<number> | undefined>();
  const get = (name: string): ReadonlySet<number> | undefined => {
    if (solved.has(name)) return solved.get(name);
    if (!candidate(name)) {
      solved.set(name, undefined);
      return undefined;
    }
    // The functions `name` reaches through its uses, in file order.
    const callees = (n: string) => [...(candidate(n)?.uses.values() ?? [])].flatMap((uses) => uses.flatMap((u) => (typeof u === 'boolean' ? [] : [u.callee])));
    const reach = reachFrom(name, callees)
      .flatMap((n) => candidate(n) ?? [])
      .sort((a, b) => a.order - b.order);
    const out = new Map<string, Set<number>>(reach.map((c) => [c.name, new Set(c.params.map((p) => p.index))]));
    for (let round = 0; round < ROUNDS; round++) {
      let changed = false;
      for (const c of reach) {
        const set = out.get(c.name)!;
        for (const p of c.params) {
          if (set.has(p.index) && !(c.uses.get(p.name) ?? []).every((u) => (typeof u === 'boolean' ? u : !!out.get(u.callee)?.has(u.k) || u.fallback))) {
            set.delete(p.index);
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    for (const [k, v] of out) solved.set(k, v.size ? v : undefined);
    return solved.get(name);
  };
  return {
    get,
    // (`byName` is in file order.)
    all: () => [...byName.keys()].flatMap((n): Array<[string, number[]]> => {
      const set = get(n);
      return set ? [[n, [...set]]] : [];
    }),
  };
}

function paramUsesOf(f: FunctionInfo): ParamUses {
  const params = parameters(f.node).flatMap((p, index) => {
    const d = p.childForFieldName('declarator');
    const n = d?.type === 'pointer_declarator' ? declaredName(d) : null;
    return n ? [{ name: n.text, index }] : [];
  });
  return { params, uses: params.length ? paramUses(f.body, params.map((p) => p.name)) : new Map() };
}

/**
 * The uses of `names` in `body`, by name. Only the places where a name is written are
 * read from the tree (a walk of every identifier costs more than the rest of the summary).
 */
function paramUses(body: SyntaxNode, names: readonly string[]): Map<string, Use[]> {
  const out = new Map<string, Use[]>();
  // (Whole words looked up in a set: a pattern of the names, made per function, cost more to compile than to run.)
  new WordSet(names).forEach(body.text, (name, at) => {
    // A comment, a string or a field name holds no use.
    const id = body.descendantForIndex(body.startIndex + at, body.startIndex + at + name.length);
    if (id?.type !== 'identifier' || id.text !== name) return;
    let uses = out.get(name);
    if (!uses) out.set(name, (uses = []));
    uses.push(useOf(id));
  });
  return out;
}

/** What this use of a parameter does with the caller's reference. */
function useOf(id: SyntaxNode): Use {
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
      return { callee, k, fallback: knownBorrowing(callee) && apiParamEffects(callee)?.[k] !== '-1' };
    }
    default:
      // Assigned, returned, put in an initializer, passed to an unknown call: it may be handed over.
      return false;
  }
}
