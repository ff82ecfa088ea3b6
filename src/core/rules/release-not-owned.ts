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
 * the function then empties the same way after it, in the same block
 * (`PyList_SET_ITEM(list, i, NULL)`), is not a steal
 * of an unowned reference. A release of
 * an argument parsed with `PyArg_ParseTuple` (and the like) is not reported when another
 * function of the file parses an argument of the same name and takes a reference to it
 * (`Py_INCREF`) that it neither returns, stores nor gives to a stealing call: a reference
 * kept from one call to the next and given back by another call, which one function's paths
 * cannot show. A failure of `PyTuple_SetItem` or
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
import { argList, calleeName, declaredLocal, enclosing } from '../syntax';
import type { FunctionInfo } from '../functions';
import { STEALING } from '../api/stealing';

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
    // (Each path's event on its own: one path may move a reference between slots while another steals one it does not own.)
    let slots: SlotCall[] | undefined;
    const slotsOf = () => (slots ??= slotCalls(ctx.fn.body));
    const events = a.events.filter((e): e is Unowned => e.kind === 'release-unowned' && !pairedElsewhere(ctx, e) && !slotMove(slotsOf, e));
    for (const group of groupBy(events, (e) => `${e.node.start}:${e.arg.start}`)) {
      const e = group[0];
      const site = e.site;
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
 * Whether the release is of an argument the function parsed (`PyArg_ParseTuple(args, "O", &fobj)`) under a name that
 * another function of the file parses too and keeps a reference to with no visible owner: it increfs it and neither
 * returns it, stores it nor gives it to a stealing call. That is a reference held from one call to the next (a trace
 * file one method opens, another closes), released on purpose in the other call; one function's paths cannot show it.
 */
function pairedElsewhere(ctx: FunctionContext, e: Unowned): boolean {
  if (e.obj.status !== 'live' || e.steal || !PARSE_CALLS.test(e.site.callee) || !/^\w+$/.test(e.local)) return false;
  const self = ctx.fn.node.startIndex + ctx.offset;
  return (keptArguments(ctx.fileFunctions()).get(e.local) ?? []).some((start) => start !== self);
}

const STEALING_CALL = new RegExp(`\\b(?:${Object.keys(STEALING).join('|')})\\s*\\(`);
const KEPT_CACHE = new WeakMap<readonly FunctionInfo[], Map<string, number[]>>();

/**
 * By name: where the functions start that parse an argument of that name and keep a reference to it with no visible
 * owner (see `pairedElsewhere`). Worked out once per file; part of the editor's cache key for this rule.
 */
export function keptArguments(functions: readonly FunctionInfo[]): Map<string, number[]> {
  let kept = KEPT_CACHE.get(functions);
  if (kept) return kept;
  kept = new Map();
  for (const f of functions) {
    const body = f.body.text;
    if (!/\bPy_X?INCREF\b/.test(body) || !/\bPyArg_/.test(body)) continue;
    const code = codeOnly(body);
    for (const m of code.matchAll(/\bPy_X?INCREF\s*\(\s*(?:\(\s*\w+\s*\*\s*\)\s*)?(\w+)\s*\)/g)) {
      const name = m[1];
      if (kept.get(name)?.includes(f.node.startIndex)) continue;
      const parsed = new RegExp(`\\b_?PyArg_\\w+\\s*\\([^;]*&\\s*${name}\\b`).test(code);
      // Returned, stored (`x->f = name`, `g = name`) or handed to a call that steals: the reference has an owner.
      const owned =
        new RegExp(`\\breturn\\s*(?:\\([^()]*\\)\\s*)?${name}\\s*;|[^=!<>]=\\s*(?:\\([^()]*\\)\\s*)?${name}\\s*[;,)]`).test(code) ||
        code.split(';').some((st) => STEALING_CALL.test(st) && new RegExp(`[(,]\\s*(?:\\([^()]*\\)\\s*)?${name}\\s*[,)]`).test(st));
      if (!parsed || owned) continue;
      const list = kept.get(name);
      if (list) list.push(f.node.startIndex);
      else kept.set(name, [f.node.startIndex]);
    }
  }
  KEPT_CACHE.set(functions, kept);
  return kept;
}

const SLOT_SET = /^Py(?:Tuple|List)_SET_ITEM$/;
const SLOT_GET = /^Py(?:Tuple|List)_GET_ITEM$/;

interface SlotCall {
  set: boolean;
  /** The arguments' texts, without blanks. */
  args: string[];
  node: SyntaxNode;
  /** For a set: the stored value. */
  value?: SyntaxNode;
  /** For a get: the local it is assigned to. */
  into?: string;
  /** The block of the statement the call is in. */
  block: SyntaxNode | null;
}

/** A function's `PyTuple_`/`PyList_` `GET_ITEM` and `SET_ITEM` calls (read once per function, when a steal asks). */
function slotCalls(body: SyntaxNode): SlotCall[] {
  const out: SlotCall[] = [];
  for (const c of body.descendantsOfType('call_expression')) {
    const name = calleeName(c);
    const set = !!name && SLOT_SET.test(name);
    if (!name || !(set || SLOT_GET.test(name))) continue;
    const args = argList(c);
    out.push({ set, args: args.map((a) => a.text.replace(/\s+/g, '')), node: c, value: set ? args[2] : undefined, into: set ? undefined : assignedName(c), block: blockOf(c) });
  }
  return out;
}

/**
 * Whether a `PyTuple_SET_ITEM`/`PyList_SET_ITEM` of a reference the function does not own moves a reference between
 * slots rather than taking one: these macros store without touching any count, so the reference stays balanced when,
 * in one block,
 * - the slot's own value is read into a local first (`old = PyTuple_GET_ITEM(t, 1)`), another value stored, and the
 *   local stored back later (`PyTuple_SET_ITEM(t, 1, old)`): a temporary swap (both stores are balanced); or
 * - the stored value is what was read from a slot (`item = PyList_GET_ITEM(list, i)`) that the function empties the
 *   same way after the store (`PyList_SET_ITEM(list, i, NULL)`): the reference moved from one container to the other.
 * Slots are compared by the text of their container and index. (A rule-level reading: the balance comes from a
 * statement after the store, which the path states at the store cannot know.)
 */
function slotMove(slotsOf: () => SlotCall[], e: Unowned): boolean {
  if (e.obj.status !== 'live' || !e.steal || !SLOT_SET.test(e.callee)) return false;
  const slots = slotsOf();
  const stored = slots.find((x) => x.value && x.value.startIndex <= e.arg.start && e.arg.end <= x.value.endIndex);
  if (!stored) return false;
  const [container, index, value] = stored.args;
  const at = stored.node.startIndex;
  const sameSlot = (x: SlotCall, c: string, i: string) => x.args[0] === c && x.args[1] === i && x.block === stored.block;
  const isSite = (x: SlotCall) => x.node.startIndex === e.site.start && x.node.endIndex === e.site.end;
  const gets = slots.filter((x) => !x.set && x.node.startIndex < at && sameSlot(x, container, index));
  // The store puts back what a read of the same slot gave (the value is that read's object).
  if (gets.some((g) => isSite(g) && g.into === value)) return true;
  // The store swaps a value in: the slot's value was read into a local before, and that local goes back in after.
  if (slots.some((x) => x.set && x.node.startIndex > at && sameSlot(x, container, index) && gets.some((g) => g.into !== undefined && g.into === x.args[2]))) return true;
  // A move: the value was read from a slot that is emptied after the store.
  const source = slots.find((x) => !x.set && x.block === stored.block && isSite(x));
  return !!source && source.args.length === 2 && slots.some((x) => x.set && x.node.startIndex > at && sameSlot(x, source.args[0], source.args[1]) && /^(?:NULL|0|nullptr)$/.test(x.args[2]));
}

/** The compound statement (block) holding the statement a node is part of. */
function blockOf(n: SyntaxNode): SyntaxNode | null {
  let p = n.parent;
  while (p && p.type !== 'compound_statement') p = p.parent;
  return p;
}

/** The local a call's value is assigned to (`x = call(...)` or `T *x = call(...)`). */
function assignedName(call: SyntaxNode): string | undefined {
  const p = enclosing(call);
  if (p?.type === 'assignment_expression') {
    const left = p.childForFieldName('left');
    return left?.type === 'identifier' ? left.text : undefined;
  }
  return p?.type === 'init_declarator' ? declaredLocal(p)?.text : undefined;
}
