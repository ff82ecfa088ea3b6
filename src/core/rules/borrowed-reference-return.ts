/**
 * ## What it does
 * Finds a function that must return a new reference returning a borrowed one on some
 * path: the result of `PyDict_GetItem`, `PyTuple_GET_ITEM`, `PyList_GetItem`,
 * `PyModule_GetDict` (or another C-API function documented as returning a borrowed
 * reference), an object parsed with `O` by `PyArg_ParseTuple`, or a parameter
 * (`return self;`), with no incref on the way.
 *
 * ## Why is this bad?
 * CPython releases the reference a method returns. Returning a borrowed one releases a
 * reference somebody else owns: the object is freed while its container or the caller
 * still uses it.
 *
 * ## Example
 * ```c
 * PyObject *v = PyTuple_GetItem(args, 0);
 * return v;
 * ```
 * Use instead: `return Py_NewRef(v);` (CPython ≥ 3.10, or with `pythoncapi_compat.h`), or
 * `Py_INCREF(v); return v;`.
 *
 * ## Message
 * `` `f` returns `v`, a borrowed reference from `PyTuple_GetItem` (line 3); CPython expects a new reference ``.
 *
 * ## Severity
 * A warning for a function CPython calls (registered in a method table or slot, or shaped
 * like a method one level lower); information for a helper, which may return a borrowed
 * reference on purpose.
 *
 * ## Fix safety
 * `Py_NewRef(...)` around the returned expression (a comma expression with `Py_INCREF`
 * before 3.10 in C) is safe for a registered function: CPython releases what it returns.
 * For a helper it is offered as unsafe: its callers may treat the result as borrowed.
 *
 * ## Where it stands
 * Off by default: 2 true of 2 warnings on the real-world set is too few to decide (27
 * more are information, in helpers whose contract is unknown).
 *
 * ## Known problems
 * A project function that returns a borrowed reference is not followed into its callers.
 */
import { newRefAvailable } from '../options';
import { lineOf, pathRelated, siteRelated, groupBy } from '../references/report';
import { methodShape } from './borrowed-singleton-return';
import type { FunctionContext, Rule } from './rule';
import { NULLV, type RefEvent } from '../references/state';
import type { Fix } from '../types';

export const ID = 'borrowed-reference-return';

type Ret = Extract<RefEvent, { kind: 'borrowed-return' }>;

export const borrowedReferenceReturn: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'A function that must return a new reference returns a borrowed one (PyDict_GetItem, PyTuple_GET_ITEM, a parameter, ...) on some path.',
  fixable: true,
  references: true,
  offByDefault: true,
  checkFunction(ctx: FunctionContext) {
    if (!ctx.fn.returnsPyObject || ctx.fn.borrowedMarker) return;
    const a = ctx.references();
    const rets = a.events.filter((e): e is Ret => e.kind === 'borrowed-return');
    for (const group of groupBy(rets, (e) => `${e.node.start}`)) {
      const e = group[0];
      const site = e.site;
      const from = site.origin === 'param' ? `parameter \`${site.callee}\`` : `a borrowed reference from \`${site.callee}\` (line ${lineOf(ctx.text, site.start + ctx.offset)})`;
      const shown = e.local && (site.origin !== 'param' || e.local !== site.callee) ? `\`${e.local}\`, ${from}` : from;
      const exprText = ctx.text.slice(e.expr.start + ctx.offset, e.expr.end + ctx.offset);
      const fixes: Fix[] = [];
      const all = everyPathBorrowed(ctx, e);
      if (!e.viaMacro && all) {
        const newRef = newRefAvailable(ctx.targets) ? `Py_NewRef(${exprText})` : ctx.dialect === 'cpp' ? undefined : `(Py_INCREF(${exprText}), ${exprText})`;
        if (newRef && !/[;{}]/.test(exprText)) fixes.push({ description: `Return a new reference: \`${newRef.length > 60 ? 'Py_NewRef(...)' : newRef}\``, safe: true, edits: [{ start: e.expr.start + ctx.offset, end: e.expr.end + ctx.offset, newText: newRef }] });
      }
      ctx.report({
        rule: ID,
        severity: 'warning',
        message: `\`${ctx.fn.name}\` returns ${shown}${all ? '' : ' on some paths'}; a new reference is expected`,
        detail: 'The caller releases the reference it gets back, so returning a borrowed one releases a reference someone else owns: the object can be freed while still in use.',
        start: e.node.start + ctx.offset,
        end: e.node.end + ctx.offset,
        function: ctx.fn.name,
        fixes,
        related: [...siteRelated(ctx, site, 'the borrowed reference comes from here'), ...pathRelated(ctx, e)],
        contract: {
          functions: ctx.contractFunctions,
          singletons: [],
          subject: `\`${ctx.fn.name}\``,
          partial: false,
          methodShape: methodShape(ctx.fn),
          reference: { facing: 'warning', helper: 'information', helperDetail: 'No registration was found: if the function returns a borrowed reference on purpose, its callers must not release it.', registeredOnly: site.origin === 'param' },
        },
      });
    }
  },
};

/**
 * Whether every path reaching the return gives back a borrowed reference (so taking one
 * there never leaks): the returned local holds, on each path, an object the function owns
 * no reference to; a returned call is its borrowed result on every path by construction.
 */
function everyPathBorrowed(ctx: FunctionContext, e: Ret): boolean {
  const a = ctx.references();
  if (!e.local) return true;
  const node = a.cfg.nodes.find((n) => n.kind === 'return' && !n.at && n.ast?.startIndex === e.node.start && n.ast.endIndex === e.node.end);
  const i = a.locals.get(e.local);
  if (!node || i === undefined) return false;
  return [...(a.inputs.get(node.id)?.values() ?? [])].every((s) => {
    const v = s.vars[i];
    const o = v >= 0 ? s.objs.find((x) => x.id === v) : undefined;
    // NULL is returned as it is (an error); anything else must be a borrowed object.
    return v === NULLV || (!!o && o.owned === 0 && o.status === 'live');
  });
}
