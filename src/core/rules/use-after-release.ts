/**
 * ## What it does
 * Finds a local used (passed to a call, dereferenced, returned, read through `->`) after
 * the function released its last reference to the object (`Py_DECREF`) or gave it to a
 * call that steals it (`PyList_SET_ITEM`, `PyTuple_SetItem`, `N` in `Py_BuildValue`).
 *
 * ## Why is this bad?
 * Once the last reference is gone the object may be freed: the use reads freed memory.
 * It often works in tests (something else still holds the object) and fails in
 * production.
 *
 * ## Example
 * ```c
 * Py_DECREF(name);
 * PyErr_Format(PyExc_KeyError, "%S", name);
 * ```
 * Use instead: release after the last use.
 *
 * ## Message
 * `` `name` is used after `Py_DECREF` released the function's last reference to it (line 14) ``.
 *
 * ## Severity
 * A warning; information where the object was given to a container the function still
 * holds (`PyList_SET_ITEM(list, i, item)` then `item` is read while `list` is alive): the
 * object is alive then, and maintainers often dispute those.
 *
 * ## Fix safety
 * No automatic fix: the release has to move after the last use.
 *
 * ## Where it stands
 * Off by default. On the real-world set, 6 true of 7 warnings (all six on the tune set;
 * the holdout has none, the fresh set one false: the empty bytes object, which CPython
 * keeps for the whole run), and 30 more are information (a container, or Python code the
 * object was given to, may keep it alive). With `release-not-owned` it finds 7 of the 16
 * uses after release PyRefcon confirmed, and 6 of the 13 disputed uses after a steal.
 *
 * ## Known problems
 * An object that something else keeps alive (a module attribute, an interned string) is
 * still reported: the function gave up its reference and may not rely on others'.
 */
import { lineOf, pathRelated, siteRelated, groupBy } from '../references/report';
import type { FunctionContext, Rule } from './rule';
import type { RefEvent } from '../references/state';

export const ID = 'use-after-release';

type Use = Extract<RefEvent, { kind: 'use-after' }>;

export const useAfterRelease: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'A local used after the function released (Py_DECREF) or gave away (a stealing call) its last reference to the object.',
  fixable: false,
  references: true,
  offByDefault: true,
  checkFunction(ctx: FunctionContext) {
    const a = ctx.references();
    const uses = a.events.filter((e): e is Use => e.kind === 'use-after');
    for (const group of groupBy(uses, (e) => `${e.node.start}:${e.local}`)) {
      const e = group.find((x) => !x.disputed) ?? group[0];
      const mark = e.obj.gone !== undefined ? a.marks[e.obj.gone] : undefined;
      const by = mark ? `\`${mark.callee}\` ${mark.steal ? 'took' : 'released'} the function's last reference to it (line ${lineOf(ctx.text, mark.start + ctx.offset)})` : 'its last reference was released';
      const disputed = group.every((x) => x.disputed);
      ctx.report({
        rule: ID,
        severity: disputed ? 'information' : 'warning',
        message: `\`${e.local}\` is used after ${by}`,
        detail: disputed
          ? `Here ${e.how}. A container the function still holds (or one the object was stored in, or Python code it was given to) keeps its own reference, so the object is probably alive at this point; relying on that is fragile (a later change there frees it).`
          : `Here ${e.how}. Without a reference of its own the function cannot know the object is still alive: it may have been freed. Move the release after the last use.`,
        start: e.node.start + ctx.offset,
        end: e.node.end + ctx.offset,
        function: ctx.fn.name,
        fixes: [],
        related: [
          ...(mark ? [{ start: mark.start + ctx.offset, end: mark.end + ctx.offset, message: mark.steal ? 'the reference is given away here' : 'the last reference is released here' }] : []),
          ...siteRelated(ctx, e.site, 'the object comes from here'),
          ...pathRelated(ctx, e),
        ],
      });
    }
  },
};
