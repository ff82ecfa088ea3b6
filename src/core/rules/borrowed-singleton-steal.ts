/**
 * ## What it does
 * Finds a singleton (`Py_None`, `Py_True`, ...) passed, without an owned reference, to an
 * argument that steals one: `PyTuple_SetItem`/`PyTuple_SET_ITEM`, `PyList_SetItem`/
 * `PyList_SET_ITEM`, `PyStructSequence_SetItem`, `PyModule_AddObject` (steals on
 * success), `PyModule_Add`, `PyException_SetCause`/`SetContext`, `PyErr_Restore`,
 * `PyErr_SetRaisedException`, and `N` units of `Py_BuildValue`-style format strings.
 *
 * An incref of the same singleton later on the same path repays the steal
 * (`PyTuple_SET_ITEM(t, i, Py_None); Py_INCREF(Py_None);` is correct; one incref repays
 * one steal). A steal is reported only when some path leaves the function, or releases
 * the singleton, before it is repaid; a call that steals only on success stole nothing
 * on the branch that tests its failure.
 *
 * ## Why is this bad?
 * The container (or the exception, or the module) now believes it owns a reference and
 * releases it when it goes away. Each call lowers the singleton's reference count by one;
 * on CPython ≤ 3.11 the interpreter eventually aborts with "deallocating None".
 *
 * ## Example
 * ```c
 * PyTuple_SET_ITEM(result, 1, Py_None);
 * ```
 * Use instead: `PyTuple_SET_ITEM(result, 1, Py_NewRef(Py_None));`, or `Py_INCREF(Py_None);`
 * before the call. For `PyModule_AddObject`, `PyModule_AddObjectRef` (3.10+) steals nothing.
 *
 * ## Message
 * `` `f` passes borrowed `Py_None` to `PyTuple_SET_ITEM`, which steals it `` (`… on success`
 * for `PyModule_AddObject`); the detail says what each call does to the count.
 *
 * ## Fix safety
 * Safe when every path passes the singleton without a reference and no later incref
 * repays it on any path: `Py_NewRef(...)` in the
 * argument where the targets have it (≥ 3.10, or `pythoncapi_compat.h` is included),
 * `PyModule_AddObjectRef` for `PyModule_AddObject`, else an incref statement before the
 * statement holding the call. A fix that must add braces is offered per diagnostic only.
 */
import { STEALING } from '../api/stealing';
import { lineIndent } from '../fixes';
import { newRefAvailable, singletonsImmortal } from '../options';
import type { ConsumeEvent } from '../ownership';
import { calleeName, SINGLETONS, unwrap } from '../syntax';
import type { Fix } from '../types';
import { countMessage, groupEvents, statementOf, type FunctionContext, type Rule, type UnownedUse } from './rule';
import type { OwnershipAnalysis } from '../ownership';

/** The rule's id. */
export const ID = 'borrowed-singleton-steal';

/** The `borrowed-singleton-steal` rule. */
export const borrowedSingletonSteal: Rule = {
  id: ID,
  defaultSeverity: 'error',
  summary: 'A singleton is passed without an owned reference to an argument that steals one (PyTuple_SET_ITEM, N in Py_BuildValue, ...).',
  fixable: true,
  checkFunction(ctx) {
    if (ctx.macro) return;
    const latent = singletonsImmortal(ctx.targets);
    for (const { first, singleton: s, partial, bad } of unpaidSteals(ctx.ownership())) {
      const callee = calleeName(first.node) ?? 'the call';
      const loc = first.at ?? { start: (first.arg ?? first.node).startIndex, end: (first.arg ?? first.node).endIndex };
      const steals = first.when === 'on-success' ? 'which steals it on success' : 'which steals it';
      const head = `\`${ctx.fn.name}\` passes borrowed \`${SINGLETONS[s]}\`${partial ? ' on some paths' : ''} to \`${callee}\`, ${steals}`;
      ctx.report({
        rule: ID,
        singletons: [s],
        severity: latent ? 'warning' : 'error',
        ...countMessage(head, s, latent),
        start: loc.start + ctx.offset,
        end: loc.end + ctx.offset,
        function: ctx.fn.name,
        fixes: partial || first.at || !first.arg ? [] : fixesFor(ctx, first, bad),
        related: first.state.steps.map((st) => ({ start: st.start + ctx.offset, end: st.end + ctx.offset, message: st.message })),
      });
    }
  },
};

/**
 * Steals of singletons the function did not own that some path leaves unrepaid: it leaves
 * the function, or releases the singleton, before an incref pays the steal back. A steal
 * that a later incref repays on some path is partial (and gets no fix: adding a reference
 * there would leak on that path).
 */
function unpaidSteals(analysis: OwnershipAnalysis): UnownedUse[] {
  const open = new Set(analysis.unpaid.map((u) => u.site));
  const out: UnownedUse[] = [];
  for (const group of groupEvents(analysis.events.filter((e) => e.kind === 'steal'))) {
    const site = group[0].site;
    if (site === undefined || !open.has(site)) continue;
    const bad = group.filter((e) => e.singleton >= 0 && e.state.owned[e.singleton] === 0);
    if (!bad.length) continue;
    // Released before it is repaid, the count may still balance later: adding a reference could leak.
    const partial = bad.length < group.length || analysis.truncated || analysis.paidSites.has(site) || analysis.unpaid.some((u) => u.site === site && u.released);
    out.push({ first: bad[0], singleton: bad[0].singleton, partial, bad });
  }
  return out;
}

function fixesFor(ctx: FunctionContext, e: ConsumeEvent, bad: ConsumeEvent[]): Fix[] {
  const arg = e.arg!;
  const off = ctx.offset;
  const s = e.singleton;
  const callee = calleeName(e.node);
  // Every path must pass this very singleton (a local holding it on some paths only is not fixed).
  if (bad.some((b) => b.singleton !== s)) return [];
  if (e.node.hasError) return [];
  if (newRefAvailable(ctx.targets)) {
    if (callee === 'PyModule_AddObject' && STEALING.PyModule_AddObject.when === 'on-success') {
      const fnNode = e.node.childForFieldName('function')!;
      return [{ description: 'Use `PyModule_AddObjectRef`, which steals nothing', safe: true, edits: [{ start: fnNode.startIndex + off, end: fnNode.endIndex + off, newText: 'PyModule_AddObjectRef' }] }];
    }
    return [{ description: `Pass \`Py_NewRef(${arg.text})\``, safe: true, edits: [{ start: arg.startIndex + off, end: arg.endIndex + off, newText: `Py_NewRef(${arg.text})` }] }];
  }
  const stmt = statementOf(e.node);
  if (!stmt) return [];
  const incref = `Py_INCREF(${unwrap(arg).text});`;
  const parent = stmt.parent?.type ?? '';
  if (parent !== 'compound_statement' && parent !== 'case_statement') {
    if (!['if_statement', 'else_clause', 'while_statement', 'for_statement', 'do_statement'].includes(parent)) return [];
    return [{ description: `Add \`${incref}\` before the call (adds braces)`, safe: false, edits: [{ start: stmt.startIndex + off, end: stmt.endIndex + off, newText: `{ ${incref} ${stmt.text} }` }] }];
  }
  const start = stmt.startIndex + off;
  if (stmt.hasError || stmt.previousSibling?.type === 'ERROR' || stmt.previousSibling?.hasError) return [];
  const { indent, ownLine, lineStart } = lineIndent(ctx.text, start);
  if (!ownLine && !/[;{}:]$/.test(ctx.text.slice(lineStart, start).trimEnd())) return [];
  return [
    {
      description: `Add \`${incref}\` before the call`,
      safe: true,
      edits: ownLine ? [{ start: lineStart, end: lineStart, newText: `${indent}${incref}${ctx.eol}` }] : [{ start, end: start, newText: `${incref} ` }],
    },
  ];
}
