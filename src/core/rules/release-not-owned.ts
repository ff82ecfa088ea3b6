/**
 * ## What it does
 * Finds a `Py_DECREF`, `Py_XDECREF`, `Py_CLEAR` or `Py_SETREF` of a reference the function
 * does not own on some path, and a stealing call (`PyTuple_SET_ITEM`, `PyList_SetItem`, ...)
 * given one: a borrowed result (`PyDict_GetItem`, `PyTuple_GET_ITEM`, `PyList_GetItem`,
 * `PyModule_GetDict`, an `O` unit of `PyArg_ParseTuple`), a parameter of a function CPython
 * calls, or a reference the function already released or gave away.
 *
 * ## Why is this bad?
 * Whoever owns the reference releases it too: the count drops once more than it rose, and
 * the object is freed while a container or the caller still points to it. The crash comes
 * later, anywhere. `singleton-decref` is the same mistake for `Py_None` and its kind.
 *
 * ## Example
 * ```c
 * PyObject *v = PyDict_GetItemString(d, "key");   // borrowed
 * ...
 * Py_DECREF(v);
 * ```
 * Use instead: release only what the function owns; take a reference first
 * (`Py_INCREF(v)`) when it must outlive the container.
 *
 * ## Message
 * `` `v` is released but the function does not own it (a borrowed reference from `PyDict_GetItemString`, line 12) ``.
 *
 * ## Fix safety
 * No automatic fix: whether to delete the release or to take a reference earlier depends
 * on what the code means.
 *
 * ## Where it stands
 * Off by default. On the real-world set, 11 true of 15 (73 %; 4 of 7 tune, 2 of 3 holdout,
 * 5 of 5 on the fresh set of projects never tuned on; the holdout's verdicts, and the one
 * false finding the fresh set had, were read while the rule was tuned): the false ones
 * follow a steal on a failure path that depends on the state of an object's field
 * (zstandard, 3) or give a borrowed value to `PyList_SetItem` and take the reference only
 * once the call succeeded (pyrsistent). A `PyTuple_SET_ITEM`/`PyList_SET_ITEM` (which store without touching any
 * count) that swaps a slot's value and puts it back, or that moves a reference out of a slot
 * the function then empties the same way (`PyList_SET_ITEM(list, i, NULL)`), is not a steal
 * of an unowned reference. A release of
 * an argument parsed with `PyArg_ParseTuple` (and the like) is not reported when another
 * function of the file parses an argument of the same name and takes a reference to it
 * (`Py_INCREF`): a reference kept from one call to the next and given back by another call,
 * which one function's paths cannot show. A failure of `PyTuple_SetItem` or
 * `PyList_SetItem` on a tuple (list) the function made with `PyTuple_New` (`PyList_New`),
 * tested not NULL and holds alone is not a path: the index is taken to be in range. A
 * parameter counts only in a function registered with CPython (a helper may take its
 * argument's reference).
 *
 * ## Known problems
 * A project function that returns a borrowed reference is not known as such (only C-API
 * functions are); a release through a project macro the file does not define is not seen.
 */
import { methodShape } from './borrowed-singleton-return';
import { groupBy, lineOf, pathRelated, siteRelated } from '../references/report';
import type { FunctionContext, Rule } from './rule';
import type { RefEvent } from '../references/state';
import { PARSE_CALLS } from '../references/evaluator';
import { codeOnly } from '../preprocess';
import type { SyntaxNode } from '../parser';
import { argList, calleeName } from '../syntax';

export const ID = 'release-not-owned';

type Unowned = Extract<RefEvent, { kind: 'release-unowned' }>;

export const releaseNotOwned: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'Py_DECREF/Py_XDECREF/Py_CLEAR (or a stealing call) of a reference the function does not own: borrowed, a parameter, or already released or given away.',
  fixable: false,
  references: true,
  offByDefault: true,
  checkFunction(ctx: FunctionContext) {
    const a = ctx.references();
    const events = a.events.filter((e): e is Unowned => e.kind === 'release-unowned');
    for (const group of groupBy(events, (e) => `${e.node.start}:${e.arg.start}`)) {
      const e = group[0];
      const site = e.site;
      if (e.obj.status === 'live' && !e.steal && PARSE_CALLS.test(site.callee) && takenElsewhere(ctx, e.local)) continue;
      if (e.obj.status === 'live' && e.steal && slotMove(ctx, e)) continue;
      const origin =
        e.obj.status === 'released' || e.obj.status === 'stolen'
          ? e.obj.status === 'released'
            ? `its reference was already released by \`${a.marks[e.obj.gone!]?.callee ?? 'a release'}\` (line ${lineOf(ctx.text, (a.marks[e.obj.gone!]?.start ?? 0) + ctx.offset)})`
            : `its reference was already given to \`${a.marks[e.obj.gone!]?.callee ?? 'a call'}\` (line ${lineOf(ctx.text, (a.marks[e.obj.gone!]?.start ?? 0) + ctx.offset)})`
          : site.origin === 'param'
            ? `\`${site.callee}\` is a parameter, borrowed from the caller`
            : `it holds a borrowed reference from \`${site.callee}\` (line ${lineOf(ctx.text, site.start + ctx.offset)})`;
      const verb = e.steal ? `gives \`${e.local}\` to \`${e.callee}\`, which takes a reference` : `releases \`${e.local}\``;
      const related = [
        ...(e.obj.gone !== undefined && a.marks[e.obj.gone] ? [{ start: a.marks[e.obj.gone].start + ctx.offset, end: a.marks[e.obj.gone].end + ctx.offset, message: a.marks[e.obj.gone].steal ? 'the reference was given away here' : 'the reference was released here' }] : []),
        ...siteRelated(ctx, site, site.origin === 'borrowed' ? 'the borrowed reference comes from here' : 'it comes from here'),
        ...pathRelated(ctx, e),
      ];
      ctx.report({
        rule: ID,
        severity: 'warning',
        message: `\`${e.callee}\` ${e.steal ? `takes a reference to \`${e.local}\`` : `releases \`${e.local}\``} but the function does not own one: ${origin}`,
        detail: `This path ${verb} without owning a reference, so the object's count drops below what its owners hold and it can be freed while still in use.`,
        start: e.node.start + ctx.offset,
        end: e.node.end + ctx.offset,
        function: ctx.fn.name,
        fixes: [],
        related,
        contract:
          site.origin === 'param' && e.obj.status === 'live'
            ? { functions: ctx.contractFunctions, singletons: [], subject: `\`${ctx.fn.name}\``, partial: false, methodShape: methodShape(ctx.fn), reference: { facing: 'warning', helper: 'drop', registeredOnly: true } }
            : undefined,
      });
    }
  },
};

/**
 * Whether another function of the file takes a reference of its own to an argument it parsed under the same name
 * (`PyArg_ParseTuple(args, "O", &fobj)` then `Py_INCREF(fobj)`): a module that keeps an argument's reference from one
 * call to the next (a trace file opened by one method, closed by another) releases it in the other function, on
 * purpose. What the other call kept cannot be seen from this function.
 */
function takenElsewhere(ctx: FunctionContext, local: string): boolean {
  const name = local.replace(/[^\w]/g, '');
  if (!name || name !== local) return false;
  const incref = new RegExp(`\\bPy_X?INCREF\\s*\\(\\s*(?:\\(\\s*\\w+\\s*\\*\\s*\\)\\s*)?${name}\\s*\\)`);
  const parsed = new RegExp(`\\b(?:_?PyArg_\\w+)\\s*\\([^;]*&\\s*${name}\\b`);
  return ctx.fileFunctions().some((f) => {
    if (f.node.startIndex === ctx.fn.node.startIndex + ctx.offset) return false;
    const body = f.body.text;
    if (!body.includes(name)) return false;
    const code = codeOnly(body);
    return incref.test(code) && parsed.test(code);
  });
}

const SLOT_SET = /^Py(?:Tuple|List)_SET_ITEM$/;
const SLOT_GET = /^Py(?:Tuple|List)_GET_ITEM$/;

/**
 * Whether a `PyTuple_SET_ITEM`/`PyList_SET_ITEM` of a reference the function does not own moves a reference between
 * slots rather than taking one: these macros store without touching any count, so the reference stays balanced when
 * - the slot's own value is read first (`old = PyTuple_GET_ITEM(t, 1)`) and put back later (`PyTuple_SET_ITEM(t, 1,
 *   old)`): the store in between is a temporary swap; or
 * - the stored value was read from a slot (`item = PyList_GET_ITEM(list, i)`) that the function then empties the same
 *   way (`PyList_SET_ITEM(list, i, NULL)`): the reference moved from one container to the other.
 * Slots are compared by the text of their container and index.
 */
function slotMove(ctx: FunctionContext, e: Unowned): boolean {
  const calls = ctx.fn.body.descendantsOfType('call_expression');
  const shape = (c: SyntaxNode) => {
    const name = calleeName(c);
    return name && (SLOT_SET.test(name) || SLOT_GET.test(name)) ? { set: SLOT_SET.test(name), args: argList(c).map((a) => a.text.replace(/\s+/g, '')), node: c } : undefined;
  };
  const slots = calls.map(shape).filter((x): x is NonNullable<ReturnType<typeof shape>> => !!x);
  const stored = slots.find((x) => x.set && x.args.length === 3 && x.node.startIndex <= e.arg.start && e.arg.end <= x.node.endIndex);
  if (!stored) return false;
  const [container, index] = stored.args;
  const sameSlot = (x: { args: string[] }, c: string, i: string) => x.args[0] === c && x.args[1] === i;
  // A swap: the slot's value read into a local, and that local stored back into the slot.
  const readInto = slots.filter((x) => !x.set && sameSlot(x, container, index)).map((x) => assignedName(x.node));
  if (readInto.some((name) => name && slots.some((x) => x.set && sameSlot(x, container, index) && x.args[2] === name))) return true;
  // A move: the value read from a slot that is then emptied.
  const source = slots.find((x) => !x.set && x.node.startIndex === e.site.start && x.node.endIndex === e.site.end);
  return !!source && source.args.length === 2 && slots.some((x) => x.set && sameSlot(x, source.args[0], source.args[1]) && /^(?:NULL|0|nullptr)$/.test(x.args[2]));
}

/** The local a call's value is assigned to (`x = call(...)` or `T *x = call(...)`). */
function assignedName(call: SyntaxNode): string | undefined {
  let p = call.parent;
  while (p && (p.type === 'parenthesized_expression' || p.type === 'cast_expression')) p = p.parent;
  if (p?.type === 'assignment_expression' && p.childForFieldName('left')?.type === 'identifier') return p.childForFieldName('left')!.text;
  if (p?.type === 'init_declarator') {
    let d = p.childForFieldName('declarator');
    while (d && d.type === 'pointer_declarator') d = d.childForFieldName('declarator');
    if (d?.type === 'identifier') return d.text;
  }
  return undefined;
}
