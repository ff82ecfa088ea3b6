/**
 * ## What it does
 * Finds the correct but verbose `Py_INCREF(Py_None); return Py_None;` (and the same
 * for `Py_True`, `Py_False` and `Py_NotImplemented`).
 *
 * ## Why is this bad?
 * It is not a bug. The return macro says the same in one statement, and keeps the
 * incref from drifting away from its return when the code is edited.
 *
 * ## Example
 * ```c
 * Py_INCREF(Py_None);
 * return Py_None;
 * ```
 * Use instead: `Py_RETURN_NONE;`
 *
 * ## Fix safety
 * Safe, except in limited-API builds that target CPython ≤ 3.11, where some 3.12 and
 * 3.13 headers made the macros skip the incref (gh-134989); the rule is silent there.
 */
import type { SyntaxNode } from '../parser';
import { returnMacrosUnreliable } from '../options';
import { argList, calleeName, directSingleton, INCREF_CALLS, namedKids, RETURN_MACROS } from '../syntax';
import { span, type Rule } from './rule';

/** The rule's id. */
export const ID = 'prefer-return-macro';

/** The `prefer-return-macro` rule. */
export const preferReturnMacro: Rule = {
  id: ID,
  defaultSeverity: 'hint',
  summary: 'An incref of a singleton followed by its return can be written as the Py_RETURN_* macro.',
  fixable: true,
  checkFunction(ctx) {
    if (ctx.macro || !ctx.fn.returnsPyObject || returnMacrosUnreliable(ctx.targets)) return;
    for (const ret of ctx.fn.body.descendantsOfType('return_statement')) {
      if (!ret) continue;
      const expr = namedKids(ret)[0];
      if (!expr) continue;
      const s = directSingleton(expr);
      const macro = RETURN_MACROS[s];
      if (!macro) continue;
      let prev = ret.previousNamedSibling;
      while (prev?.type === 'comment') prev = prev.previousNamedSibling;
      if (!prev || prev.type !== 'expression_statement' || !isIncrefOf(prev, s)) continue;
      if (!['compound_statement', 'case_statement'].includes(ret.parent?.type ?? '')) continue;
      if (ret.hasError || prev.hasError || ret.lastChild?.type !== ';' || ret.lastChild.isMissing) continue;
      const range = { start: span(ctx, prev).start, end: span(ctx, ret).end };
      const between = ctx.text.slice(prev.endIndex + ctx.offset, ret.startIndex + ctx.offset);
      // Comments between the two statements stay where they are: the incref is deleted and the return rewritten.
      const edits = between.trim() === ''
        ? [{ start: range.start, end: expr.endIndex + ctx.offset, newText: macro }]
        : [
            { start: range.start, end: prev.endIndex + ctx.offset + /^[ \t]*/.exec(between)![0].length, newText: '' },
            { start: ret.startIndex + ctx.offset, end: expr.endIndex + ctx.offset, newText: macro },
          ];
      ctx.report({
        rule: ID,
        singletons: [s],
        severity: 'hint',
        message: `\`${ctx.fn.name}\` increfs and returns \`${expr.text}\`; use \`${macro};\``,
        detail: `\`${macro};\` says the same in one statement.`,
        start: range.start,
        end: range.end,
        function: ctx.fn.name,
        related: [],
        fixes: [{ description: `Replace with \`${macro}\``, safe: true, edits }],
      });
    }
  },
};

function isIncrefOf(stmt: SyntaxNode, s: number): boolean {
  const call = namedKids(stmt)[0];
  if (!call || call.type !== 'call_expression' || !INCREF_CALLS.has(calleeName(call) ?? '')) return false;
  const args = argList(call);
  return args.length === 1 && directSingleton(args[0]) === s;
}
