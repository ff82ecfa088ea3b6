/**
 * Which paths can run: what the branches taken on a path say about flags and
 * conditions, so that a path that takes the same test both ways, a `switch` case
 * followed by a test that contradicts it, or `err = 1; ... if (!err)` is dropped.
 *
 * Only atoms the function tests at least twice, or tests and assigns a constant, are
 * followed (anything else only multiplies path states). A fact lasts until the atom's
 * variable is written (assigned, incremented, or passed by address).
 */
import { emptyForObjects } from './arrays';
import type { CfgEdge, CfgNode } from './cfg';
import { hintedCondition, type MacroDef } from './macros';
import type { SyntaxNode } from './parser';
import { declaredName, namedKids, unwrap } from './syntax';

/** Facts on one path, sorted: `atom\u0001value`, value `=K` (equals the constant K), `T` (non-zero) or `F` (zero). */
export type Facts = readonly string[];

/** No facts. */
export const NO_FACTS: Facts = emptyForObjects();

type Cond =
  | { k: 'not'; a: Cond }
  | { k: 'and' | 'or'; a: Cond; b: Cond }
  | { k: 'truth'; atom: string }
  | { k: 'eq'; atom: string; value: string; negated: boolean }
  | { k: 'unknown' };

const SEP = '\u0001';
/** Atoms of preprocessor conditions start with this (no C expression does). */
const DIRECTIVE = '#';
const CONSTANT_NAME = /^[A-Z][A-Z0-9_]+$/;

/** The normalised constant an expression denotes, if it is one (`NULL`, `0`, `0x10`, `'a'`, `true`, `SOME_ENUM`). */
function constantOf(n: SyntaxNode): string | undefined {
  const x = unwrap(n);
  const t = x.text;
  if (x.type === 'null' || t === 'NULL' || t === 'nullptr' || t === 'false' || t === 'FALSE') return '0';
  if (t === 'true' || t === 'TRUE') return '1';
  if (x.type === 'number_literal') {
    const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)[uUlL]*$/.exec(t);
    if (!m) return undefined;
    const digits = m[1];
    return BigInt(digits.length > 1 && /^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits).toString();
  }
  if (x.type === 'char_literal') return t;
  if (x.type === 'unary_expression' && x.child(0)?.type === '-' && x.childForFieldName('argument')?.type === 'number_literal') {
    const inner = constantOf(x.childForFieldName('argument')!);
    return inner === undefined ? undefined : inner === '0' ? '0' : `-${inner}`;
  }
  if (x.type === 'identifier' && CONSTANT_NAME.test(t)) return t;
  return undefined;
}

const REFCOUNT_CALL = /^Py_(?:X?INCREF|X?DECREF|IncRef|DecRef|XIncRef|XDecRef|X?NewRef|CLEAR|X?SETREF)$/;
const SIDE_EFFECTS = new Set(['call_expression', 'assignment_expression', 'update_expression', 'comma_expression']);

function hasSideEffects(n: SyntaxNode): boolean {
  if (SIDE_EFFECTS.has(n.type)) return true;
  return n.descendantsOfType([...SIDE_EFFECTS]).some((d) => !!d);
}

/** An lvalue-like expression usable as an atom: a local, a field, an element with constant index. */
function atomOf(n: SyntaxNode): string | undefined {
  const x = unwrap(n);
  if (x.type === 'identifier' && !CONSTANT_NAME.test(x.text)) return x.text;
  if (x.type === 'field_expression' && !hasSideEffects(x)) return x.text.replace(/\s+/g, '');
  return undefined;
}

/** What a condition says; branch-prediction hints (`UNLIKELY(e)`, `__builtin_expect(e, 0)`) are their condition `e`. */
function parse(n: SyntaxNode, macros: ReadonlyMap<string, MacroDef> | undefined): Cond {
  const x = unwrap(n);
  const hinted = hintedCondition(x, macros);
  if (hinted) return parse(hinted, macros);
  if (x.type === 'unary_expression' && x.child(0)?.type === '!') {
    const a = x.childForFieldName('argument');
    return a ? { k: 'not', a: parse(a, macros) } : { k: 'unknown' };
  }
  if (x.type === 'binary_expression') {
    const op = x.childForFieldName('operator')?.type;
    const l = x.childForFieldName('left');
    const r = x.childForFieldName('right');
    if (!l || !r) return { k: 'unknown' };
    if (op === '&&' || op === '||') return { k: op === '&&' ? 'and' : 'or', a: parse(l, macros), b: parse(r, macros) };
    if (op === '==' || op === '!=') {
      const [atomNode, value] = constantOf(r) !== undefined ? [l, constantOf(r)!] : constantOf(l) !== undefined ? [r, constantOf(l)!] : [undefined, undefined];
      const atom = atomNode && atomOf(atomNode);
      if (atom && value !== undefined) return value === '0' ? (op === '==' ? { k: 'not', a: { k: 'truth', atom } } : { k: 'truth', atom }) : { k: 'eq', atom, value, negated: op === '!=' };
    }
  }
  const atom = atomOf(x);
  if (atom) return { k: 'truth', atom };
  if (constantOf(x) !== undefined || hasSideEffects(x)) return { k: 'unknown' };
  // A side-effect-free test (`a > b`, `PyTuple_GET_SIZE` is a call, so not here) is its own atom.
  return { k: 'truth', atom: `(${x.text.replace(/\s+/g, '')})` };
}

function atomsIn(c: Cond, out: string[]): void {
  if (c.k === 'not') atomsIn(c.a, out);
  else if (c.k === 'and' || c.k === 'or') {
    atomsIn(c.a, out);
    atomsIn(c.b, out);
  } else if (c.k === 'truth' || c.k === 'eq') out.push(c.atom);
}

function factOf(facts: Facts, atom: string): string | undefined {
  const p = atom + SEP;
  for (const f of facts) if (f.startsWith(p)) return f.slice(p.length);
  return undefined;
}

function withFact(facts: Facts, atom: string, value: string | undefined): Facts {
  const p = atom + SEP;
  const rest = facts.filter((f) => !f.startsWith(p));
  if (value !== undefined) rest.push(p + value);
  return rest.sort();
}

const isNumber = (v: string) => /^-?\d+$/.test(v);

function evaluate(c: Cond, facts: Facts): boolean | undefined {
  switch (c.k) {
    case 'not': {
      const v = evaluate(c.a, facts);
      return v === undefined ? undefined : !v;
    }
    case 'and': {
      const a = evaluate(c.a, facts);
      const b = evaluate(c.b, facts);
      return a === false || b === false ? false : a && b ? true : undefined;
    }
    case 'or': {
      const a = evaluate(c.a, facts);
      const b = evaluate(c.b, facts);
      return a === true || b === true ? true : a === false && b === false ? false : undefined;
    }
    case 'truth': {
      const f = factOf(facts, c.atom);
      if (f === 'T') return true;
      if (f === 'F') return false;
      if (f?.startsWith('=') && isNumber(f.slice(1))) return f !== '=0';
      return undefined;
    }
    case 'eq': {
      const f = factOf(facts, c.atom);
      let eq: boolean | undefined;
      if (f?.startsWith('=')) {
        const k = f.slice(1);
        // Distinct numbers differ; distinct names may not (`EAGAIN` and `EWOULDBLOCK`).
        if (k === c.value) eq = true;
        else if (isNumber(k) && isNumber(c.value)) eq = false;
      } else if (f === 'F') eq = isNumber(c.value) ? c.value === '0' : undefined;
      else if (f === 'T' && c.value === '0') eq = false;
      return eq === undefined ? undefined : eq !== c.negated;
    }
    case 'unknown':
      return undefined;
  }
}

function refine(c: Cond, holds: boolean, facts: Facts, tracked: ReadonlyMap<string, unknown>): Facts {
  switch (c.k) {
    case 'not':
      return refine(c.a, !holds, facts, tracked);
    case 'and':
      return holds ? refine(c.b, true, refine(c.a, true, facts, tracked), tracked) : facts;
    case 'or':
      return holds ? facts : refine(c.b, false, refine(c.a, false, facts, tracked), tracked);
    case 'truth': {
      if (!tracked.has(c.atom)) return facts;
      const f = factOf(facts, c.atom);
      if (f?.startsWith('=') && isNumber(f.slice(1))) return facts;
      return withFact(facts, c.atom, holds ? 'T' : 'F');
    }
    case 'eq':
      if (!tracked.has(c.atom)) return facts;
      return holds !== c.negated ? withFact(facts, c.atom, `=${c.value}`) : facts;
    case 'unknown':
      return facts;
  }
}

/** What writing a node does to facts: the names it writes, and constants it assigns to atoms. */
interface Writes {
  names: string[];
  constants: Array<[string, string]>;
  /** Locals whose address is taken (a call may write them later through the pointer). */
  addressed: string[];
  /** Locals declared here. */
  declared: string[];
  /** The node calls a function, which may write fields, globals and escaped locals. */
  calls: boolean;
}

function rootName(n: SyntaxNode): string | undefined {
  let x: SyntaxNode | null = unwrap(n);
  while (x && (x.type === 'field_expression' || x.type === 'subscript_expression' || x.type === 'pointer_expression' || x.type === 'parenthesized_expression')) {
    x = x.type === 'field_expression' ? x.childForFieldName('argument') : x.type === 'subscript_expression' ? x.childForFieldName('argument') : x.type === 'pointer_expression' ? x.childForFieldName('argument') : x.namedChild(0);
  }
  return x?.type === 'identifier' ? x.text : undefined;
}

function writesOf(ast: SyntaxNode, macros: ReadonlyMap<string, MacroDef> | undefined): Writes {
  const w: Writes = { names: [], constants: [], addressed: [], declared: [], calls: false };
  const visit = (n: SyntaxNode) => {
    // A branch-prediction hint calls nothing and writes nothing: only its condition can.
    const hinted = hintedCondition(n, macros);
    if (hinted) return visit(hinted);
    if (n.type === 'assignment_expression') {
      const left = n.childForFieldName('left');
      const name = left && rootName(left);
      if (name) w.names.push(name);
      const op = n.childForFieldName('operator')?.text ?? n.child(1)?.text;
      const right = n.childForFieldName('right');
      const atom = left && atomOf(left);
      const k = right && op === '=' ? constantOf(right) : undefined;
      if (atom && k !== undefined) w.constants.push([atom, k]);
    } else if (n.type === 'update_expression') {
      const a = n.childForFieldName('argument');
      const name = a && rootName(a);
      if (name) w.names.push(name);
    } else if (n.type === 'pointer_expression' && n.child(0)?.type === '&') {
      const a = n.childForFieldName('argument');
      const name = a && rootName(a);
      if (name) w.names.push(name);
      if (name) w.addressed.push(name);
    } else if (n.type === 'call_expression') {
      const callee = n.childForFieldName('function')?.text ?? '';
      // Reference-count operations are not taken to write program state (a destructor could, in principle).
      if (!REFCOUNT_CALL.test(callee)) w.calls = true;
      const args = namedKids(n.childForFieldName('arguments') ?? n);
      // `Py_CLEAR(x)` and `Py_SETREF(x, v)` assign x; a macro (by its capitals) may assign any argument.
      const written = /^Py_(?:CLEAR|X?SETREF)$/.test(callee) ? args.slice(0, 1) : CONSTANT_NAME.test(callee) ? args : [];
      for (const a of written) {
        const name = rootName(a);
        if (name) w.names.push(name);
      }
    } else if (n.type === 'init_declarator') {
      const name = declaredName(n)?.text;
      if (name) {
        w.names.push(name);
        w.declared.push(name);
        const v = n.childForFieldName('value');
        const k = v ? constantOf(v) : undefined;
        if (k !== undefined) w.constants.push([name, k]);
      }
    }
    for (const k of namedKids(n)) visit(k);
  };
  if (ast.type === 'declaration') {
    for (const d of namedKids(ast)) {
      if (d.type === 'init_declarator') visit(d);
      else {
        const name = declaredName(d)?.text;
        if (name) w.names.push(name);
        if (name) w.declared.push(name);
      }
    }
  } else visit(ast);
  return w;
}

const IDENTIFIER = /[A-Za-z_]\w*/g;
const LOOPS = new Set(['for_statement', 'while_statement', 'do_statement', 'for_range_loop']);

/** Whether a node is inside a loop of its function (a loop's own condition included). */
function inLoop(n: SyntaxNode): boolean {
  for (let p = n.parent; p && p.type !== 'function_definition' && p.type !== 'lambda_expression'; p = p.parent) if (LOOPS.has(p.type)) return true;
  return false;
}

/** The feasibility facts of one function: which atoms are followed, and how nodes and edges change facts. */
export class Feasibility {
  private readonly conds = new Map<number, Cond>();
  private readonly writes = new Map<number, Writes>();
  /** The followed atoms, with the identifiers each mentions (a write to one forgets the atom). */
  private readonly atoms = new Map<string, ReadonlySet<string>>();
  /** Followed atoms that a call may change: fields, globals, locals whose address is taken. */
  private readonly shared = new Set<string>();

  /** Facts on entry: the parameters known to be NULL. */
  readonly initial: Facts;

  /**
   * Follows the atoms tested twice, or tested and assigned a constant, in the function's
   * CFG, and the parameters known to be NULL on entry (`METH_NOARGS` passes NULL as `args`).
   * `macros` are the file's, for the branch-prediction hints in conditions.
   */
  constructor(
    nodes: readonly CfgNode[],
    params: readonly string[] = [],
    nullParams: readonly string[] = [],
    macroAssigned: ReadonlySet<string> = new Set(),
    macros?: ReadonlyMap<string, MacroDef>,
  ) {
    const tested = new Map<string, number>();
    const assigned = new Set<string>();
    const locals = new Set(params);
    const addressed = new Set<string>();
    for (const n of nodes) {
      if (n.directive) {
        // A preprocessor condition: fixed for the whole function (nothing writes it).
        const atom = DIRECTIVE + n.directive;
        this.conds.set(n.id, { k: 'truth', atom });
        tested.set(atom, (tested.get(atom) ?? 0) + 1);
        continue;
      }
      if (!n.ast) continue;
      if (n.kind === 'branch') {
        const c = parse(n.ast, macros);
        this.conds.set(n.id, c);
        const atoms: string[] = [];
        atomsIn(c, atoms);
        // A test inside a loop is made again on every iteration.
        const times = inLoop(n.ast) ? 2 : 1;
        for (const a of new Set(atoms)) tested.set(a, (tested.get(a) ?? 0) + times);
      }
      if (n.kind === 'effect' || n.kind === 'branch') {
        const w = writesOf(n.ast, macros);
        if (w.names.length || w.constants.length || w.calls) this.writes.set(n.id, w);
        for (const [a] of w.constants) assigned.add(a);
        for (const x of w.declared) locals.add(x);
        for (const x of w.addressed) addressed.add(x);
      }
    }
    for (const [a, k] of tested) {
      if (!(k >= 2 || assigned.has(a) || nullParams.includes(a))) continue;
      const ids = new Set(a.startsWith(DIRECTIVE) ? [] : a.match(IDENTIFIER));
      // A macro may assign it where the analysis cannot see.
      if ([...ids].some((x) => macroAssigned.has(x))) continue;
      this.atoms.set(a, ids);
      if (!a.startsWith(DIRECTIVE) && (/->|\./.test(a) || [...ids].some((x) => !locals.has(x) || addressed.has(x)))) this.shared.add(a);
    }
    this.initial = nullParams.filter((p) => this.atoms.has(p)).reduce((f, p) => withFact(f, p, '=0'), NO_FACTS);
  }

  /** True when no atom is followed (facts never change). */
  get empty(): boolean {
    return this.atoms.size === 0;
  }

  /** Facts after a node's writes. */
  afterNode(n: CfgNode, facts: Facts): Facts {
    const w = this.empty ? undefined : this.writes.get(n.id);
    if (!w) return facts;
    let out = facts;
    if (out.length && (w.names.length || w.calls)) {
      const killed = this.killedAt(n.id, w);
      if (killed.size) {
        const kept = out.filter((f) => !killed.has(this.atomOfFact(f)));
        if (kept.length !== out.length) out = kept;
      }
    }
    for (const [atom, k] of w.constants) if (this.atoms.has(atom)) out = withFact(out, atom, `=${k}`);
    return out;
  }

  /** Whether an edge says something of the facts: an edge of a condition (a `#if` one included) or of a `switch` case. */
  static decides(from: CfgNode, edge: CfgEdge): boolean {
    return (!!from.ast || !!from.directive) && (edge.holds !== undefined || !!edge.caseValue);
  }

  /** Facts along an edge that `decides`, or null when they rule it out. */
  alongEdge(from: CfgNode, edge: CfgEdge, facts: Facts): Facts | null {
    return edge.caseValue ? this.alongCase(from, edge.caseValue, facts) : this.alongBranch(from, edge.holds!, facts);
  }

  /** Facts along a condition's edge, or null when the facts contradict taking it. */
  alongBranch(n: CfgNode, holds: boolean, facts: Facts): Facts | null {
    const c = this.conds.get(n.id);
    if (this.empty || !c) return facts;
    const v = evaluate(c, facts);
    if (v !== undefined && v !== holds) return null;
    return refine(c, holds, facts, this.learnable(n));
  }

  private readonly killedAtoms = new Map<number, ReadonlySet<string>>();

  /** The followed atoms a node's writes forget: those it names, and with a call, the shared ones. */
  private killedAt(id: number, w: Writes): ReadonlySet<string> {
    let k = this.killedAtoms.get(id);
    if (!k) {
      k = new Set([...this.atoms].filter(([a, ids]) => (w.calls && this.shared.has(a)) || w.names.some((x) => ids.has(x))).map(([a]) => a));
      this.killedAtoms.set(id, k);
    }
    return k;
  }

  private readonly factAtoms = new Map<string, string>();

  /** The atom a fact is about (facts are few and shared by the states: each is split once). */
  private atomOfFact(f: string): string {
    let a = this.factAtoms.get(f);
    if (a === undefined) this.factAtoms.set(f, (a = f.slice(0, f.indexOf(SEP))));
    return a;
  }

  private readonly learnableAt = new Map<number, ReadonlyMap<string, unknown>>();

  /** The atoms a branch can teach: not those the condition itself writes (`if (ok && refresh(&ok))`). */
  private learnable(n: CfgNode): ReadonlyMap<string, unknown> {
    const w = this.writes.get(n.id);
    if (!w || (!w.names.length && !w.calls)) return this.atoms;
    let m = this.learnableAt.get(n.id);
    if (!m) {
      m = new Map([...this.atoms].filter(([a, ids]) => !(w.calls && this.shared.has(a)) && !w.names.some((x) => ids.has(x))));
      this.learnableAt.set(n.id, m);
    }
    return m;
  }

  private readonly cases = new Map<SyntaxNode, Cond | null>();

  /** Facts along a `switch` edge to `case value:`, or null when the facts rule it out. */
  alongCase(n: CfgNode, value: SyntaxNode, facts: Facts): Facts | null {
    if (this.empty || !n.ast) return facts;
    let c = this.cases.get(value);
    if (c === undefined) {
      const atom = atomOf(n.ast);
      const k = constantOf(value);
      c = atom && k !== undefined ? { k: 'eq', atom, value: k, negated: false } : null;
      this.cases.set(value, c);
    }
    if (!c) return facts;
    if (evaluate(c, facts) === false) return null;
    return refine(c, true, facts, this.learnable(n));
  }
}
