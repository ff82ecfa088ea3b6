/**
 * ## What it does
 * Finds functions that must return a new reference but return a borrowed singleton
 * (`Py_None`, `Py_True`, `Py_False`, `Py_NotImplemented`, `Py_Ellipsis`) on some path:
 * directly, through casts or struct spellings, through a conditional, through a local
 * that holds the singleton, or through a project macro (reported at the macro's
 * definition and at its use).
 *
 * ## Why is this bad?
 * CPython takes the returned reference as owned and releases it later. Each call then
 * lowers the singleton's reference count by one; on CPython ≤ 3.11 the count reaches
 * zero after enough calls and the interpreter aborts ("Fatal Python error:
 * deallocating None"), hours later and far from the bug.
 *
 * ## Example
 * ```c
 * static PyObject *close_ctx(PyObject *self, PyObject *args) { free_ctx(self); return Py_None; }
 * ```
 * Use instead: `Py_RETURN_NONE;`
 *
 * ## Message
 * One short line: `` `cache_close` returns borrowed `Py_None`; CPython expects a new reference ``
 * (or `…; a new reference is needed if CPython calls it` when no registration is found,
 * `…; functions that use it must return a new reference` at a macro's definition, and
 * `(latent on CPython ≥ 3.12)` where every target has immortal singletons). The detail
 * says what each call does to the count and, for information-level findings, how to mark
 * a deliberate borrowed return.
 *
 * ## Fix safety
 * Safe: the return macros, `Py_NewRef(...)` and `PyBool_FromLong(c)` return the same
 * object with its count incremented. A fix that must add braces around an unbraced
 * `if`/loop body is offered per diagnostic only.
 */
import { parameters, type FunctionInfo } from '../functions';
import type { PathStep } from '../cfg';
import type { ReturnVerdict } from '../ownership';
import type { SyntaxNode } from '../parser';
import { lineIndent } from '../fixes';
import { newRefAvailable, returnMacrosUnreliable, singletonsImmortal, type TargetFacts } from '../options';
import { directSingleton, RETURN_MACROS, SINGLETON_SHORT, SINGLETONS, unwrap } from '../syntax';
import type { Fix, Severity } from '../types';
import { countDetail, span, type FunctionContext, type PendingFinding, type Rule } from './rule';
import { crashOf, FALSE, TRUE, worstOf } from '../api/singletons';

/** The rule's id. */
export const ID = 'borrowed-singleton-return';

/** The `borrowed-singleton-return` rule. */
export const borrowedSingletonReturn: Rule = {
  id: ID,
  defaultSeverity: 'error',
  summary: 'A function that must return a new reference returns a borrowed singleton (Py_None, Py_True, ...) on some path.',
  fixable: true,
  checkFunction(ctx) {
    if (!ctx.fn.returnsObject || ctx.fn.borrowedMarker) return;
    const analysis = ctx.ownership();
    for (const r of analysis.returns) {
      const bad = r.outcomes.filter((o) => o.value >= 0 && !o.owned);
      if (!bad.length) continue;
      const singletons = [...new Set(bad.map((o) => o.value))].sort();
      // When paths were dropped at the state cap, what was seen is not every path.
      const all = bad.length === r.outcomes.length && !analysis.truncated;
      const loc = r.node.at ? { start: r.node.at.start + ctx.offset, end: r.node.at.end + ctx.offset } : span(ctx, r.node.ast!);
      const viaMacro = r.node.at ? /[A-Za-z_]\w*/.exec(ctx.text.slice(loc.start, loc.end))?.[0] : undefined;
      // A condition every path to this return took the same way (the `PyArg_Parse*` guard) explains nothing: left out.
      const key = (st: PathStep) => `${st.start}:${st.message}`;
      const everyPath = new Set(bad[0].state.steps.map(key).filter((k) => r.outcomes.every((o) => o.state.steps.some((st) => key(st) === k))));
      const related = bad[0].state.steps.filter((st) => st.entry || !everyPath.has(key(st))).map((st) => ({ start: st.start + ctx.offset, end: st.end + ctx.offset, message: st.message }));
      // A returned local may get the singleton in several places: each is named, and a fix can go there.
      const entries = entriesOf(bad, r.expr);
      for (const e of entries ?? []) {
        if (!related.some((x) => x.start === e.start + ctx.offset)) related.push({ start: e.start + ctx.offset, end: e.end + ctx.offset, message: `${e.message.replace(/ on this path$/, '')} on another path` });
      }
      const subject = ctx.macro ? `macro \`${ctx.macro.name}\`` : `\`${ctx.fn.name}\``;
      let fixes = r.node.at || !all ? [] : fixesFor(ctx, r, singletons);
      if (!fixes.length && !r.node.at && entries) fixes = entryFixes(ctx, entries);
      ctx.report({
        rule: ID,
        singletons,
        severity: 'error',
        message: '',
        start: loc.start,
        end: loc.end,
        function: ctx.macro ? ctx.macro.name : ctx.fn.name,
        fixes,
        related,
        contract: {
          functions: ctx.contractFunctions,
          singletons,
          subject,
          partial: !all,
          viaMacro,
          definesMacro: ctx.macro?.name,
          methodShape: ctx.macro ? undefined : methodShape(ctx.fn),
          marker: ctx.macro ? undefined : markerFix(ctx),
        },
      });
    }
  },
};

/**
 * Why a function with no registration found looks like a method CPython calls: the
 * calling conventions of `METH_NOARGS` (`Py_UNUSED` second parameter), `METH_FASTCALL`
 * (`PyObject *const *args, Py_ssize_t nargs`), or `METH_VARARGS` whose `args` are parsed
 * with `PyArg_Parse*`.
 */
export function methodShape(fn: FunctionInfo): string | undefined {
  const list = parameters(fn.node).map((p) => p.text.replace(/\s+/g, ' '));
  if (list.length === 2 && /\*/.test(list[0]) && /^PyObject \*\s*Py_UNUSED\s*\(/.test(list[1])) return 'its second parameter is `Py_UNUSED`, the shape of a `METH_NOARGS` method';
  if (list.length >= 3 && /^PyObject \*\s*const \*\s*\w+$/.test(list[1]) && /^Py_ssize_t \w+$/.test(list[2])) return 'its parameters have the shape of a `METH_FASTCALL` method';
  const args = list.length === 2 || list.length === 3 ? /^PyObject \*\s*(\w+)$/.exec(list[1])?.[1] : undefined;
  if (args && /\*/.test(list[0]) && new RegExp(`\\bPyArg_Parse\\w*\\s*\\(\\s*${args}\\b`).test(fn.body.text)) return `it parses \`${args}\` with \`PyArg_Parse*\`, as a method does`;
  return undefined;
}

/**
 * Where the returned local got the singleton on each path that returns it without a
 * reference (the last such assignment of the path); undefined when some path's entry is
 * unknown (the value is not a local, or the path was too long to keep every step).
 */
function entriesOf(bad: ReturnVerdict['outcomes'], expr: SyntaxNode): PathStep[] | undefined {
  const u = unwrap(expr);
  if (u.type !== 'identifier') return undefined;
  const out = new Map<number, PathStep>();
  for (const o of bad) {
    const e = [...o.state.steps].reverse().find((st) => st.entry?.local === u.text);
    if (!e) return undefined;
    out.set(e.start, e);
  }
  return [...out.values()].sort((a, b) => a.start - b.start);
}

/**
 * `Py_NewRef(...)` where the local gets the singleton. Offered as unsafe: the local may
 * also be overwritten, released or incremented on another path from there, where the
 * extra reference would leak (harmless for a singleton, but not what the author wrote).
 */
function entryFixes(ctx: FunctionContext, entries: PathStep[]): Fix[] {
  if (ctx.macro || entries.some((e) => !e.entry?.value)) return [];
  // C++ code takes the reference with `Py_NewRef` only, not with a comma expression.
  if (ctx.dialect === 'cpp' && !newRefAvailable(ctx.targets)) return [];
  const local = entries[0].entry!.local;
  // Without `Py_NewRef` (before 3.10), a comma expression takes the reference in place.
  const owned = (v: string) => (newRefAvailable(ctx.targets) ? `Py_NewRef(${v})` : `(Py_INCREF(${v}), ${v})`);
  return [
    {
      description: `Take a new reference where \`${local}\` gets the singleton (${entries.length > 1 ? `${entries.length} places; ` : ''}unsafe: check that no other path from there overwrites, releases or increfs \`${local}\`)`,
      safe: false,
      edits: entries.map((e) => {
        const v = e.entry!.value!;
        return { start: v.start + ctx.offset, end: v.end + ctx.offset, newText: owned(ctx.text.slice(v.start + ctx.offset, v.end + ctx.offset)) };
      }),
    },
  ];
}

/**
 * A `cpyref: returns-borrowed` comment line above the function: for a helper that returns
 * a borrowed reference on purpose. Unsafe (a person knows whether CPython ever calls it).
 */
function markerFix(ctx: FunctionContext): Fix {
  const { indent, lineStart } = lineIndent(ctx.text, ctx.fn.node.startIndex + ctx.offset);
  return {
    description: `Mark \`${ctx.fn.name}\` as returning a borrowed reference on purpose (unsafe: only if CPython never calls it)`,
    safe: false,
    edits: [{ start: lineStart, end: lineStart, newText: `${indent}/* cpyref: returns-borrowed */${ctx.eol}` }],
  };
}

/** Sets the severity, short message and detail of a pending finding once the function's contract is known. */
export function resolveReturnFinding(p: PendingFinding, facing: boolean, targets: TargetFacts): { severity: Severity; message: string; detail: string } {
  const c = p.contract!;
  const S = c.singletons.map((s) => `\`${SINGLETONS[s]}\``).join(' or ');
  const short = c.singletons.map((s) => SINGLETON_SHORT[s]).join('/');
  const worst = worstOf(c.singletons);
  const where = c.partial ? ' on some paths' : '';
  const via = c.viaMacro ? ` (through macro \`${c.viaMacro}\`)` : '';
  const head = `${c.subject} returns borrowed ${S}${where}${via}`;
  if (singletonsImmortal(targets)) {
    return { severity: facing ? 'warning' : 'information', message: `${head}; a new reference is expected (latent on CPython ≥ 3.12)`, detail: countDetail(c.singletons, true) };
  }
  if (facing) return { severity: 'error', message: `${head}; CPython expects a new reference`, detail: countDetail(c.singletons, false) };
  if (c.definesMacro) {
    return {
      severity: 'information',
      message: `${head}; functions that use it must return a new reference`,
      detail: `Each use in a function that must return a new reference lowers ${short}'s reference count, and CPython ≤ 3.11 ${crashOf(worst)}.`,
    };
  }
  return {
    severity: 'information',
    message: `${head}; a new reference is needed if CPython calls it`,
    detail: `If CPython calls it, each call lowers ${short}'s reference count and CPython ≤ 3.11 ${crashOf(worst)}. Return a new reference or, if the borrowed return is deliberate, mark the function with \`/* cpyref: returns-borrowed */\`.`,
  };
}

/** Comments in the original text between two offsets, to keep them after a rewrite. */
function commentsIn(text: string, start: number, end: number): string {
  const cs = text.slice(start, end).match(/\/\*[\s\S]*?\*\/|\/\/[^\r\n]*/g);
  return cs ? ' ' + cs.join(' ') : '';
}

/** True when a condition's value is already 0 or 1 (a comparison or a logical operator). */
function isBooleanExpression(n: SyntaxNode): boolean {
  const u = n.type === 'parenthesized_expression' && n.namedChildCount === 1 ? n.namedChild(0)! : n;
  if (u.type === 'unary_expression') return u.child(0)?.type === '!';
  if (u.type === 'binary_expression') return ['==', '!=', '<', '>', '<=', '>=', '&&', '||'].includes(u.childForFieldName('operator')?.type ?? '');
  return false;
}

function fixesFor(ctx: FunctionContext, r: ReturnVerdict, singletons: number[]): Fix[] {
  const s = singletons.length === 1 ? singletons[0] : -1;
  const ret = r.node.ast!;
  // A return with a syntax error (a missing `;`) is not rewritten: the parser's recovery around it could change.
  if (ret.hasError || ret.lastChild?.isMissing || ret.lastChild?.type !== ';') return [];
  const expr = r.expr;
  const inner = unwrap(expr);
  const off = ctx.offset;
  const t = ctx.targets;
  const macro = s >= 0 ? RETURN_MACROS[s] : undefined;
  const macroOk = !!macro && ctx.fn.returnsPyObject && !returnMacrosUnreliable(t);
  const newRef = newRefAvailable(t);
  const replaceReturn = (newText: string, description: string): Fix => ({
    description,
    safe: true,
    edits: [{ start: ret.startIndex + off, end: expr.endIndex + off, newText: newText + commentsIn(ctx.text, ret.startIndex + off, expr.endIndex + off) }],
  });
  const wrap = (n: SyntaxNode, fn: string): Fix => ({
    description: `Return \`${fn}(${n.text.length > 30 ? '…' : n.text})\``,
    safe: true,
    edits: [{ start: n.startIndex + off, end: n.endIndex + off, newText: `${fn}(${n.text})` }],
  });
  if (s >= 0 && directSingleton(expr) === s) {
    if (macroOk) return [replaceReturn(macro!, `Replace with \`${macro}\``)];
    if (newRef) return [wrap(inner, 'Py_NewRef')];
    return increfFix(ctx, ret, inner.text);
  }
  if (inner.type === 'conditional_expression') {
    const cond = inner.childForFieldName('condition');
    const consequence = inner.childForFieldName('consequence');
    const alternative = inner.childForFieldName('alternative');
    if (!consequence || !alternative) return [];
    const a = directSingleton(consequence);
    const b = directSingleton(alternative);
    if (cond && ((a === TRUE && b === FALSE) || (a === FALSE && b === TRUE))) {
      // PyBool_FromLong takes a long: a pointer or a double condition must be compared first.
      const c = a === FALSE ? (cond.type === 'parenthesized_expression' ? `!${cond.text}` : `!(${cond.text})`) : isBooleanExpression(cond) ? cond.text : `(${cond.text}) != 0`;
      return [
        {
          description: 'Return `PyBool_FromLong(...)`',
          safe: true,
          edits: [{ start: inner.startIndex + off, end: inner.endIndex + off, newText: `PyBool_FromLong(${c})` }],
        },
      ];
    }
    if (newRef && singletonArms(inner)) return [wrap(inner, 'Py_NewRef')];
    return [];
  }
  if (inner.type === 'identifier' && macroOk && ctx.fn.returnsPyObject) return [replaceReturn(macro!, `Replace with \`${macro}\``)];
  if (s >= 0 && newRef) return [wrap(expr, 'Py_NewRef')];
  return [];
}

/** True when every arm of a (possibly nested) conditional is a singleton. */
function singletonArms(n: SyntaxNode): boolean {
  const u = unwrap(n);
  if (u.type !== 'conditional_expression') return directSingleton(u) >= 0;
  const a = u.childForFieldName('consequence');
  const b = u.childForFieldName('alternative');
  return !!a && !!b && singletonArms(a) && singletonArms(b);
}

/** Where a statement may be inserted before a return without changing which statements an `if` or loop governs. */
function insertionContext(ret: SyntaxNode): 'block' | 'unbraced' | 'other' {
  let n = ret;
  while (n.parent?.type === 'labeled_statement') n = n.parent;
  const p = n.parent?.type ?? '';
  if (p === 'compound_statement' || p === 'case_statement') return n === ret ? 'block' : 'unbraced';
  if (['if_statement', 'else_clause', 'while_statement', 'for_statement', 'do_statement', 'for_range_loop'].includes(p)) return 'unbraced';
  return 'other';
}

function increfFix(ctx: FunctionContext, ret: SyntaxNode, arg: string): Fix[] {
  if (ctx.macro) return [];
  const start = ret.startIndex + ctx.offset;
  const incref = `Py_INCREF(${arg});`;
  const where = insertionContext(ret);
  if (where === 'other') return [];
  // After a statement the parser could not read, a new line may change how it recovers.
  const prev = ret.previousSibling;
  if (prev && (prev.type === 'ERROR' || prev.hasError)) return [];
  if (where === 'unbraced') {
    return [
      {
        description: `Add \`${incref}\` before the return (adds braces)`,
        safe: false,
        edits: [{ start, end: ret.endIndex + ctx.offset, newText: `{ ${incref} ${ret.text} }` }],
      },
    ];
  }
  const { indent, ownLine, lineStart } = lineIndent(ctx.text, start);
  // Inserted inline, the statement must follow the end of another one (or a label), not arbitrary text.
  const before = ctx.text.slice(lineStart, start).trimEnd();
  if (!ownLine && !/[;{}:]$/.test(before)) return [];
  return [
    {
      description: `Add \`${incref}\` before the return`,
      safe: true,
      edits: ownLine ? [{ start: lineStart, end: lineStart, newText: `${indent}${incref}${ctx.eol}` }] : [{ start, end: start, newText: `${incref} ` }],
    },
  ];
}
