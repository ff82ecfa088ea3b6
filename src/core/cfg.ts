import type { SyntaxNode } from './parser';
import { conditionOnTargets } from './conditions';
import { calleeName, declaredName, namedKids, NORETURN_CALLS, RETURN_MACRO_NAMES, snippet } from './syntax';

/** One step of a path: a branch taken, a jump, an assignment; shown as a related location. */
export interface PathStep {
  start: number;
  end: number;
  message: string;
  /** Set on the step where a local gets a singleton: which local, which singleton, and the assigned value when it is the singleton itself. */
  entry?: { local: string; singleton: number; value?: Span };
}

/** A byte range in the analysed text. */
export interface Span {
  start: number;
  end: number;
}

/**
 * What a CFG node does. `effect` evaluates `ast` (an expression or a declaration);
 * `branch` evaluates `ast` (a condition, or nothing for `#if`) and then takes one of
 * its edges; `return` ends the path (`ast` is the return statement, or the return
 * macro's expression statement when `macroReturn` is set).
 */
export type CfgNodeKind = 'entry' | 'exit' | 'effect' | 'branch' | 'return' | 'join';

/** A node of the control-flow graph. */
export interface CfgNode {
  id: number;
  kind: CfgNodeKind;
  ast?: SyntaxNode;
  /** Set when the node comes from a macro body: findings point here, at the macro's use. */
  at?: Span;
  macroReturn?: boolean;
  /** A `#if`-family branch: what its condition says (`defined X`, or the condition's text); its edges say whether it holds. */
  directive?: string;
  succ: CfgEdge[];
}

/** An edge; `step` explains the choice when the edge is one of several. */
export interface CfgEdge {
  to: number;
  step?: PathStep;
  /** On the edges of a condition: whether the condition holds along this edge. */
  holds?: boolean;
  /** On a `switch` edge to `case K:`: the label's value. */
  caseValue?: SyntaxNode;
}

/** A per-function control-flow graph. Node 0 is the entry, node 1 the exit. */
export interface Cfg {
  nodes: CfgNode[];
  entry: number;
  exit: number;
}

/** Extension points of the builder. */
export interface CfgHooks {
  /** The statements a statement-position macro use expands to (one level), if it is a project macro. */
  expandStatement?(stmt: SyntaxNode, expr: SyntaxNode): readonly SyntaxNode[] | undefined;
  /** True for calls that never return, beyond the built-in list. */
  isNoReturn?(name: string): boolean;
  /** Called every few hundred nodes; throws to abandon a function that is too large. */
  checkBudget?(nodes: number): void;
  /**
   * Whether a `#if`/`#elif` condition holds for every build (true), for none (false), or depends (undefined): the
   * targeted Pythons decide CPython's version macros (`conditionOnTargets`). Without it they are undecided.
   */
  condition?(condText: string): boolean | undefined;
}

interface Pending {
  from: number;
  step?: PathStep;
  holds?: boolean;
}

/**
 * Whether evaluating a node may throw a C++ exception: it calls something other than the
 * C API (whose functions and macros never throw), or uses `new`.
 */
function mayThrow(n: SyntaxNode): boolean {
  const MAY_THROW = /\b(?!_?Py|sizeof\b|return\b)[A-Za-z_]\w*\s*\(|\bnew\b/;
  let text = n.text;
  if (!MAY_THROW.test(text)) return false;
  // A lambda's body runs when it is called, not where it is written.
  if (text.includes('[')) {
    const bodies = n.descendantsOfType('lambda_expression').flatMap((l) => l?.childForFieldName('body') ?? []).sort((a, b) => a.startIndex - b.startIndex);
    // The outermost bodies only (an inner one is inside an outer one's range), cut from the last.
    const outer = bodies.filter((b, i) => !bodies.slice(0, i).some((o) => o.startIndex <= b.startIndex && b.endIndex <= o.endIndex));
    for (const b of outer.reverse()) text = text.slice(0, b.startIndex - n.startIndex) + text.slice(b.endIndex - n.startIndex);
  }
  return MAY_THROW.test(text);
}

/** Thrown when a body is too deeply nested to walk. */
export class CfgTooDeep extends Error {}

const MAX_DEPTH = 1500;

function isPreproc(n: SyntaxNode): boolean {
  return n.type === 'preproc_if' || n.type === 'preproc_ifdef' || n.type === 'preproc_elif' || n.type === 'preproc_elifdef' || n.type === 'preproc_else';
}

/** Builds the CFG of a function body (a `compound_statement`). */
export function buildCfg(body: SyntaxNode, hooks: CfgHooks = {}): Cfg {
  return new Builder(hooks).build(body);
}

class Builder {
  private readonly nodes: CfgNode[] = [];
  private readonly labels = new Map<string, number>();
  private readonly breaks: Pending[][] = [];
  private readonly continues: number[] = [];
  /** C++: per enclosing `try`, the paths that reach its `catch` clauses (a `throw`, or entering what may throw). */
  private readonly catches: Pending[][] = [];
  private at: Span | undefined;
  private depth = 0;
  private macroDepth = 0;

  constructor(private readonly hooks: CfgHooks) {}

  build(body: SyntaxNode): Cfg {
    const entry = this.add('entry');
    const exit = this.add('exit');
    const end = this.stmt(body, [{ from: entry }]);
    this.connect(end, exit);
    return { nodes: this.nodes, entry, exit };
  }

  private add(kind: CfgNodeKind, ast?: SyntaxNode): number {
    const id = this.nodes.length;
    if (id % 512 === 511) this.hooks.checkBudget?.(id);
    this.nodes.push({ id, kind, ast, at: this.at, succ: [] });
    return id;
  }

  private connect(frontier: Pending[], to: number): void {
    for (const p of frontier) this.nodes[p.from].succ.push({ to, step: p.step, holds: p.holds });
    // Inside a C++ `try`, the paths entering a node that may throw also reach the handlers.
    const top = this.catches[this.catches.length - 1];
    const ast = this.nodes[to].ast;
    if (top && ast && frontier.length && mayThrow(ast)) top.push(...frontier);
  }

  /** The source text of the statement macro use being expanded (shown in its steps). */
  private atText: string | undefined;

  private step(node: SyntaxNode, message: string): PathStep {
    const span = this.at ?? { start: node.startIndex, end: node.endIndex };
    return { start: span.start, end: span.end, message };
  }

  private label(name: string): number {
    let id = this.labels.get(name);
    if (id === undefined) {
      id = this.add('join');
      this.labels.set(name, id);
    }
    return id;
  }

  private constantCondition(cond: SyntaxNode | null): boolean | undefined {
    if (!cond) return true;
    const t = cond.text.replace(/[()\s]/g, '');
    if (t === '0' || t === 'false') return false;
    if (t === '1' || t === 'true') return true;
    return undefined;
  }

  /**
   * C++'s `condition_clause` (`if (init; cond)`, `if (T *x = f())`): its init statement and
   * declaration become effects before the branch, and the branch tests the value (or the
   * declared name).
   */
  private conditionOf(cond: SyntaxNode | null, frontier: Pending[]): { cond: SyntaxNode | null; frontier: Pending[] } {
    if (cond?.type !== 'condition_clause') return { cond, frontier };
    const value = cond.childForFieldName('value');
    const f = this.effect(value?.type === 'declaration' ? value : null, this.effect(cond.childForFieldName('initializer'), frontier));
    if (value?.type === 'declaration') {
      // `if (T *x = f())` tests `x` (the declaration is `type declarator = value`, without an init_declarator).
      return { cond: declaredName(value.childForFieldName('declarator')) ?? value, frontier: f };
    }
    return { cond: value, frontier: f };
  }

  /** A branch on `cond`: the edges for true and false, honouring constant conditions. */
  private branch(condition: SyntaxNode | null, head: string, entry: Pending[]): { yes: Pending[]; no: Pending[] } {
    const { cond, frontier } = this.conditionOf(condition, entry);
    const k = this.constantCondition(cond);
    const b = this.add('branch', cond ?? undefined);
    this.connect(frontier, b);
    // Inside a statement macro the step points at the macro's use: say it as written there, not in its expansion.
    const shown = cond ? snippet(cond.text) : '';
    const says = (v: boolean) => (this.atText ? `\`${this.atText}\`: its \`${head}\` condition is ${v} on this path` : `${head} ${shown} is ${v} on this path`);
    return {
      yes: k === false ? [] : [{ from: b, holds: true, step: k === undefined && cond ? this.step(cond, says(true)) : undefined }],
      no: k === true ? [] : [{ from: b, holds: false, step: k === undefined && cond ? this.step(cond, says(false)) : undefined }],
    };
  }

  private stmt(node: SyntaxNode, frontier: Pending[]): Pending[] {
    if (++this.depth > MAX_DEPTH) throw new CfgTooDeep('statement nesting too deep');
    try {
      return this.stmtInner(node, frontier);
    } finally {
      this.depth--;
    }
  }

  private seq(nodes: readonly SyntaxNode[], frontier: Pending[]): Pending[] {
    let f = frontier;
    for (let i = 0; i < nodes.length; i++) {
      const dangling = i + 1 < nodes.length ? this.danglingElse(nodes[i]) : undefined;
      if (dangling) {
        // `#if C` `if (x) {...} else` `#endif` `S`: the `else` takes the statement after `#endif`.
        f = this.preprocIf(nodes[i], f, { ...dangling, rest: nodes[++i] });
        continue;
      }
      f = this.stmt(nodes[i], f);
    }
    return f;
  }

  /**
   * A `#if` (without `#else`) whose last statement is an `if` left with a bare `else`: the
   * parser puts the `else` in an ERROR node and reads the statement after `#endif` as one of
   * its own, after the `if`. The statements before the `if`, and the `if`, are returned.
   */
  private danglingElse(node: SyntaxNode): { body: SyntaxNode[]; ifStmt: SyntaxNode } | undefined {
    if (node.type !== 'preproc_if' && node.type !== 'preproc_ifdef') return undefined;
    const { body, alternative } = this.preprocParts(node);
    const last = body[body.length - 1];
    const prev = body[body.length - 2];
    if (alternative || last?.type !== 'ERROR' || last.text.trim() !== 'else' || prev?.type !== 'if_statement') return undefined;
    return { body: body.slice(0, -2), ifStmt: prev };
  }

  /** An `if` (an `else if` chain) whose last `else` is missing: the paths out of its branches, and those that take the missing `else`. */
  private openIf(node: SyntaxNode, frontier: Pending[]): { out: Pending[]; open: Pending[] } {
    const { yes, no } = this.branch(node.childForFieldName('condition'), 'if', frontier);
    const cons = node.childForFieldName('consequence');
    const out = cons ? this.stmt(cons, yes) : yes;
    const alt = node.childForFieldName('alternative');
    const altBody = alt ? (alt.type === 'else_clause' ? namedKids(alt)[0] : alt) : undefined;
    if (!altBody) return { out, open: no };
    if (altBody.type !== 'if_statement') return { out: out.concat(this.stmt(altBody, no)), open: [] };
    const inner = this.openIf(altBody, no);
    return { out: out.concat(inner.out), open: inner.open };
  }

  private stmtInner(node: SyntaxNode, frontier: Pending[]): Pending[] {
    switch (node.type) {
      case 'compound_statement':
      case 'ERROR':
      case 'seh_try_statement':
      case 'seh_finally_clause':
      case 'seh_except_clause':
      case 'translation_unit':
        return this.seq(namedKids(node), frontier);
      case 'expression_statement':
        return this.expressionStatement(node, frontier);
      case 'declaration': {
        const id = this.add('effect', node);
        this.connect(frontier, id);
        return [{ from: id }];
      }
      case 'return_statement': {
        const id = this.add('return', node);
        this.connect(frontier, id);
        this.nodes[id].succ.push({ to: 1 });
        return [];
      }
      case 'if_statement': {
        const cond = node.childForFieldName('condition');
        const { yes, no } = this.branch(cond, 'if', frontier);
        const cons = node.childForFieldName('consequence');
        const out = cons ? this.stmt(cons, yes) : yes;
        const alt = node.childForFieldName('alternative');
        const altBody = alt ? (alt.type === 'else_clause' ? namedKids(alt)[0] : alt) : undefined;
        const elseOut = altBody ? this.stmt(altBody, no) : no;
        return out.concat(elseOut);
      }
      case 'while_statement': {
        const cond = node.childForFieldName('condition');
        // The loop head: the branch, or the first effect of a C++ condition's declaration (evaluated on each iteration).
        const b = this.nodes.length;
        const { yes, no } = this.branch(cond, 'while', frontier);
        this.breaks.push([]);
        this.continues.push(b);
        const body = node.childForFieldName('body');
        const end = body ? this.stmt(body, yes) : yes;
        this.connect(end, b);
        this.continues.pop();
        return no.concat(this.breaks.pop()!);
      }
      case 'do_statement': {
        const head = this.add('join');
        this.connect(frontier, head);
        const cond = node.childForFieldName('condition');
        const condId = this.add('join');
        this.breaks.push([]);
        this.continues.push(condId);
        const body = node.childForFieldName('body');
        const end = body ? this.stmt(body, [{ from: head }]) : [{ from: head }];
        this.connect(end, condId);
        this.continues.pop();
        const { yes, no } = this.branch(cond, 'while', [{ from: condId }]);
        this.connect(yes, head);
        return no.concat(this.breaks.pop()!);
      }
      case 'for_statement':
        return this.forStatement(node, frontier);
      case 'for_range_loop':
        return this.rangeFor(node, frontier);
      case 'try_statement':
        return this.tryStatement(node, frontier);
      case 'throw_statement': {
        const id = this.add('effect', node);
        this.connect(frontier, id);
        // Caught by the enclosing `try` of this function, else it leaves the function without a return.
        const top = this.catches[this.catches.length - 1];
        if (top) top.push({ from: id, step: this.step(node, 'throws here') });
        return [];
      }
      case 'switch_statement':
        return this.switchStatement(node, frontier);
      case 'case_statement':
        // A case label outside a recognisable switch (broken parse): its statements run in sequence.
        return this.seq(this.caseBody(node), frontier);
      case 'break_statement': {
        const top = this.breaks[this.breaks.length - 1];
        if (top) top.push(...frontier);
        return [];
      }
      case 'continue_statement': {
        const top = this.continues[this.continues.length - 1];
        if (top !== undefined) this.connect(frontier, top);
        return [];
      }
      case 'goto_statement': {
        const name = node.childForFieldName('label')?.text ?? '';
        const target = this.label(name);
        this.connect(
          frontier.map((p) => ({ ...p, step: p.step ?? this.step(node, `jumps to \`${name}\``) })),
          target,
        );
        return [];
      }
      case 'labeled_statement': {
        const name = node.childForFieldName('label')?.text ?? '';
        const l = this.label(name);
        this.connect(frontier, l);
        const inner = namedKids(node).filter((c) => c.type !== 'statement_identifier');
        return this.seq(inner, [{ from: l }]);
      }
      case 'attributed_statement':
        return this.seq(namedKids(node).filter((c) => c.type !== 'attribute_declaration'), frontier);
      case 'preproc_if':
      case 'preproc_ifdef':
      case 'preproc_elif':
      case 'preproc_elifdef':
        return this.preprocIf(node, frontier);
      case 'preproc_else':
        return this.seq(namedKids(node), frontier);
      case 'comment':
      case 'preproc_def':
      case 'preproc_function_def':
      case 'preproc_call':
      case 'preproc_include':
      case 'type_definition':
      case 'function_definition':
      case 'struct_specifier':
      case 'enum_specifier':
      case 'union_specifier':
      case 'class_specifier':
      case 'alias_declaration':
      case 'using_declaration':
      case 'namespace_alias_definition':
      case 'static_assert_declaration':
      case 'template_declaration':
      case 'lambda_expression':
        return frontier;
      default:
        if (node.type.endsWith('_expression') || node.type === 'identifier') {
          const id = this.add('effect', node);
          this.connect(frontier, id);
          return [{ from: id }];
        }
        return frontier;
    }
  }

  private expressionStatement(node: SyntaxNode, frontier: Pending[]): Pending[] {
    const expr = namedKids(node)[0];
    if (!expr) return frontier;
    const name = expr.type === 'identifier' ? expr.text : expr.type === 'call_expression' ? calleeName(expr) : undefined;
    if (name && RETURN_MACRO_NAMES.has(name)) {
      const id = this.add('return', node);
      this.nodes[id].macroReturn = true;
      this.connect(frontier, id);
      this.nodes[id].succ.push({ to: 1 });
      return [];
    }
    if (name && expr.type === 'call_expression' && (NORETURN_CALLS.has(name) || this.hooks.isNoReturn?.(name))) {
      const id = this.add('effect', expr);
      this.connect(frontier, id);
      return [];
    }
    if (name && this.macroDepth === 0 && this.hooks.expandStatement) {
      const body = this.hooks.expandStatement(node, expr);
      if (body) {
        const saved = this.at;
        const savedText = this.atText;
        this.at = { start: node.startIndex, end: node.endIndex };
        this.atText = snippet(node.text.replace(/;\s*$/, ''));
        this.macroDepth++;
        try {
          return this.seq(body, frontier);
        } finally {
          this.macroDepth--;
          this.at = saved;
          this.atText = savedText;
        }
      }
    }
    const id = this.add('effect', expr);
    this.connect(frontier, id);
    return [{ from: id }];
  }

  /** An effect node evaluating `node` after `frontier` (nothing when there is no node). */
  private effect(node: SyntaxNode | null, frontier: Pending[]): Pending[] {
    if (!node) return frontier;
    const id = this.add('effect', node);
    this.connect(frontier, id);
    return [{ from: id }];
  }

  private forStatement(node: SyntaxNode, frontier: Pending[]): Pending[] {
    const f = this.effect(node.childForFieldName('initializer'), frontier);
    const cond = node.childForFieldName('condition');
    const b = this.nodes.length;
    const { yes, no } = this.branch(cond, 'for', f);
    const updateNode = node.childForFieldName('update');
    const update = this.add(updateNode ? 'effect' : 'join', updateNode ?? undefined);
    this.nodes[update].succ.push({ to: b });
    this.breaks.push([]);
    this.continues.push(update);
    const body = node.childForFieldName('body');
    const end = body ? this.stmt(body, yes) : yes;
    this.connect(end, update);
    this.continues.pop();
    return no.concat(this.breaks.pop()!);
  }

  /** `for (T x : range) body`: the range is evaluated once; the body runs zero or more times. */
  private rangeFor(node: SyntaxNode, frontier: Pending[]): Pending[] {
    const range = node.childForFieldName('right');
    const f = this.effect(range, frontier);
    const b = this.add('branch');
    this.connect(f, b);
    const shown = snippet(range?.text ?? '', 30);
    this.breaks.push([]);
    this.continues.push(b);
    const body = node.childForFieldName('body');
    const start: Pending[] = [{ from: b, step: this.step(node, `the range-for over \`${shown}\` runs its body on this path`) }];
    const end = body ? this.stmt(body, start) : start;
    this.connect(end, b);
    this.continues.pop();
    return [{ from: b, step: this.step(node, `the range-for over \`${shown}\` ends on this path`) } as Pending].concat(this.breaks.pop()!);
  }

  /**
   * `try { body } catch (...) { handler }`: a handler is reached by a `throw` in the body,
   * and from the paths entering each statement or condition of the body that calls
   * something other than the C API (see `mayThrow`).
   */
  private tryStatement(node: SyntaxNode, frontier: Pending[]): Pending[] {
    const body = node.childForFieldName('body');
    const clauses = namedKids(node).filter((k) => k.type === 'catch_clause');
    const caught: Pending[] = [];
    this.catches.push(caught);
    let end: Pending[];
    try {
      end = body ? this.stmt(body, frontier) : frontier;
    } finally {
      this.catches.pop();
    }
    if (!clauses.length || !caught.length) return end;
    const handler = this.add('join');
    this.connect(caught, handler);
    let out = end;
    for (const c of clauses) {
      const params = c.childForFieldName('parameters');
      const shown = snippet(params?.text ?? '(...)', 30);
      const cb = c.childForFieldName('body');
      const start: Pending[] = [{ from: handler, step: this.step(c, `an exception is caught by \`catch ${shown}\` on this path`) }];
      out = out.concat(cb ? this.stmt(cb, start) : start);
    }
    return out;
  }

  private caseBody(c: SyntaxNode): SyntaxNode[] {
    const value = c.childForFieldName('value');
    return namedKids(c).filter((k) => !value || k.startIndex !== value.startIndex || k.endIndex !== value.endIndex);
  }

  private switchStatement(node: SyntaxNode, entry: Pending[]): Pending[] {
    const { cond, frontier } = this.conditionOf(node.childForFieldName('condition'), entry);
    const s = this.add('branch', cond ?? undefined);
    this.connect(frontier, s);
    const shown = cond ? snippet(cond.text) : '';
    const body = node.childForFieldName('body');
    this.breaks.push([]);
    let f: Pending[] = [];
    let sawDefault = false;
    const items = body ? this.flattenSwitchBody(body) : [];
    for (const item of items) {
      if (item.type === 'case_statement') {
        const isDefault = item.child(0)?.type === 'default';
        sawDefault ||= isDefault;
        const value = item.childForFieldName('value');
        const j = this.add('join');
        const label = isDefault ? 'default' : `case ${snippet(value?.text ?? '', 30)}`;
        this.nodes[s].succ.push({ to: j, step: this.step(item, `switch ${shown} takes \`${label}:\` on this path`), caseValue: isDefault ? undefined : value ?? undefined });
        this.connect(f, j);
        f = this.seq(this.caseBody(item), [{ from: j }]);
      } else {
        f = this.stmt(item, f);
      }
    }
    const out = this.breaks.pop()!.concat(f);
    if (!sawDefault) out.push({ from: s, step: cond ? this.step(cond, `switch ${shown} matches no case on this path`) : undefined });
    return out;
  }

  /**
   * Case labels wrapped in `#if` blocks are treated as if the directives were absent (the
   * branches' statements in sequence; a dead `#if 0` branch left out). A `#if` block that
   * holds no case label stays one statement, so its branches remain alternatives.
   */
  private flattenSwitchBody(body: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    const hasCase = (n: SyntaxNode): boolean => namedKids(n).some((x) => x.type === 'case_statement' || (isPreproc(x) && hasCase(x)));
    const visitGroup = (g: SyntaxNode) => {
      const { body: stmts, alternative, dead } = this.preprocParts(g);
      if (!dead) visitList(stmts);
      if (alternative) visitGroup(alternative);
    };
    const visitList = (kids: readonly SyntaxNode[]) => {
      for (const k of kids) {
        if (isPreproc(k) && hasCase(k)) visitGroup(k);
        else out.push(k);
      }
    };
    visitList(namedKids(body));
    return out;
  }

  /** The statements, alternative and deadness of a `#if`/`#ifdef`/`#elif`/`#else` node. */
  private preprocParts(node: SyntaxNode): { body: SyntaxNode[]; alternative: SyntaxNode | undefined; dead: boolean; alwaysOn: boolean; condText: string; directive: string } {
    const cond = node.type === 'preproc_else' ? null : node.childForFieldName('condition') ?? node.childForFieldName('name');
    const alt = node.childForFieldName('alternative') ?? undefined;
    const directive = node.child(0)?.text ?? '#if';
    const condText = cond ? cond.text.trim() : '';
    const known = directive === '#if' || directive === '#elif' ? (this.hooks.condition ?? conditionOnTargets)(condText) : undefined;
    const dead = known === false;
    const alwaysOn = known === true;
    const body = namedKids(node).filter(
      (k) => !(alt && k.startIndex === alt.startIndex && k.endIndex === alt.endIndex) && !(cond && k.startIndex === cond.startIndex && k.endIndex === cond.endIndex),
    );
    return { body, alternative: alt, dead, alwaysOn, condText, directive };
  }

  private preprocIf(node: SyntaxNode, frontier: Pending[], dangling?: { body: SyntaxNode[]; ifStmt: SyntaxNode; rest: SyntaxNode }): Pending[] {
    const { body, alternative: alt, dead, alwaysOn, condText, directive } = this.preprocParts(node);
    const b = this.add('branch');
    this.connect(frontier, b);
    const head = `${directive} ${snippet(condText, 30)}`;
    // Two blocks under the same condition are both compiled or both not: the edges say which, for feasibility.
    const atom = directiveAtom(directive, condText);
    if (atom && !dead && !alwaysOn) this.nodes[b].directive = atom.atom;
    const compiled = atom ? !atom.negated : undefined;
    let out: Pending[] = [];
    // With a dangling `else`: the paths that reach the statement after `#endif`.
    let rest: Pending[] = [];
    if (!dead) {
      const entry: Pending[] = [{ from: b, holds: compiled, step: alwaysOn ? undefined : this.step(node, `\`${head}\` is compiled on this path`) }];
      if (dangling) {
        const r = this.openIf(dangling.ifStmt, this.seq(dangling.body, entry));
        out = out.concat(r.out);
        rest = rest.concat(r.open);
      } else out = out.concat(this.seq(body, entry));
    }
    if (!alwaysOn) {
      const elseStep = this.step(alt ?? node, `\`${head}\` is not compiled on this path`);
      const holds = compiled === undefined ? undefined : !compiled;
      const notCompiled: Pending[] = [{ from: b, holds, step: dead ? undefined : elseStep }];
      if (dangling) rest = rest.concat(notCompiled);
      else out = out.concat(alt ? this.stmt(alt, notCompiled) : notCompiled);
    }
    if (dangling) out = out.concat(this.stmt(dangling.rest, rest));
    return out;
  }
}

/** The atom a `#if`/`#ifdef`/`#ifndef`/`#elif` condition tests (`defined X` for the defined-tests), and whether the block is compiled when it is false. */
function directiveAtom(directive: string, condText: string): { atom: string; negated: boolean } | undefined {
  const c = condText.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/g, '').trim();
  if (!c) return undefined;
  if (directive === '#ifdef' || directive === '#elifdef') return { atom: `defined ${c}`, negated: false };
  if (directive === '#ifndef' || directive === '#elifndef') return { atom: `defined ${c}`, negated: true };
  const d = /^(!?)\s*defined\s*(?:\(\s*(\w+)\s*\)|(\w+))$/.exec(c);
  if (d) return { atom: `defined ${d[2] ?? d[3]}`, negated: d[1] === '!' };
  return { atom: c.replace(/\s+/g, ''), negated: false };
}
