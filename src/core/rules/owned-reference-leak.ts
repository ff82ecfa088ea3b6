/**
 * ## What it does
 * Follows every new reference a function owns (the result of a C-API call that returns
 * one: `PyLong_FromLong`, `PyObject_GetAttrString`, `PyList_New`, `PyObject_New`, ...)
 * along each path, and reports the place where one is lost: a `return` (often an error
 * path reached by `goto` or an early `return NULL`) that neither releases, returns nor
 * stores it, a local overwritten while it holds the only reference, a result that is
 * discarded, or the end of the function. NumPy's `import_array()`, which returns NULL when
 * the import fails, counts as a return. A reference given to `PyModule_AddObject` (which
 * takes it only when it succeeds) whose result is thrown away is lost when the call fails.
 * The file's own functions that return a new reference (or NULL) at every `return`, and
 * project macros that only rename a C-API call, count as the calls they are.
 *
 * ## Why is this bad?
 * Nothing releases the reference afterwards, so the object is never freed: memory grows
 * once per call on that path. In PyRefcon's study of real extensions, leaks on error
 * paths were 27 % of the confirmed reference-counting bugs and plain leaks 7 %.
 *
 * ## Example
 * ```c
 * PyObject *key = PyUnicode_FromString(name);
 * if (key == NULL)
 *     return NULL;
 * PyObject *value = PyLong_FromLong(n);
 * if (value == NULL)
 *     return NULL;          // key leaks here
 * ```
 * Use instead: `Py_DECREF(key);` before that `return`, or one cleanup label that releases
 * everything with `Py_XDECREF`.
 *
 * ## Message
 * `` `key` holds the new reference from `PyUnicode_FromString` (line 1), which leaks at this return ``.
 *
 * ## Fix safety
 * `Py_DECREF(local);` before the return is offered as safe when on every path reaching that
 * return the local holds this object with exactly one reference the function owns, and the
 * returned expression does not use the local. It is `Py_XDECREF` where some paths hold NULL
 * and wherever the function sets the local to NULL at all: the paths the analysis follows are
 * not always the ones that run, and `Py_XDECREF` of an object is `Py_DECREF` of it. No fix in
 * a body the parser could not read whole. Elsewhere no fix is offered.
 *
 * ## Where it stands
 * Off by default. On the real-world set (`npm run bench:real-world`, every finding triaged
 * by hand): tune set 137 true of 143 (96 %), holdout 41 of 47 (87 %; read while this release
 * was tuned), and **33 of 42 (79 %) on the fresh set**, 15 projects added after the tuning
 * and never tuned on; all 211 of 232 (91 %). Below the 90 % bar on code it was not tuned on,
 * so it stays off. The false ones on the fresh set: statement macros without a `;` that the
 * parser cannot place (3), allocations tied to another variable or flag (2), a variable held
 * only while an exception is already set (2), API failures that cannot happen (2). (A fourth
 * kind, NULL tests in a project's own `__builtin_expect` macro, is read since; it showed once.)
 * Elsewhere: `#if` blocks that split an argument list, flags or loop counters that correlate
 * with the allocation, fields a callee never sets. With `reference-leak` it finds 145 of the 187 leaks PyRefcon confirmed (`npm
 * run bench:pyrefcon`; pyaudio's 41 reports of one idiom counted as one).
 * Turn it on with `--select owned-reference-leak` or `[tool.cpyref.rules]`.
 *
 * ## Known problems
 * A reference handed to a function the analysis does not know (not the C API, not a
 * function of the same file that only borrows it) is taken as handed over. Paths kept
 * apart only by flags the analysis does not follow may be reported. A function with more
 * than 80 path states at one point is not judged.
 */
import type { SyntaxNode } from '../parser';
import type { RefEvent } from '../references/state';
import { UNKNOWN } from '../references/state';
import type { Fix } from '../types';
import { groupBy, holderName, lineOf, pathRelated, siteRelated } from '../references/report';
import type { FunctionContext, Rule } from './rule';

/** The rule's id. */
export const ID = 'owned-reference-leak';

/** The `owned-reference-leak` rule. */
export const ownedReferenceLeak: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'A new reference the function owns is lost on some path: an error path that returns without releasing it, an overwritten local, a discarded result.',
  fixable: true,
  references: true,
  offByDefault: true,
  checkFunction: checkPaths,
};

type Leak = Extract<RefEvent, { kind: 'leak' }>;

/** The path form: a new reference held by the function that some path neither releases, returns, stores nor gives away. */
function checkPaths(ctx: FunctionContext): void {
  const a = ctx.references();
  const leaks = a.events.filter((e): e is Leak => e.kind === 'leak' && e.site.origin === 'new');
  for (const group of groupBy(leaks, (e) => `${e.site.start}:${e.site.end}`)) {
    // Where it is lost, each place once, in source order.
    const places = [...new Map(group.map((e) => [e.at.start, e])).values()].sort((x, y) => x.at.start - y.at.start);
    const first = places[0];
    const site = first.site;
    const created = lineOf(ctx.text, site.start + ctx.offset);
    const local = first.local ?? holderName(ctx, first.state, first.obj.id);
    const what = `the new reference from \`${site.callee}\` (line ${created})`;
    let message: string;
    if (first.how === 'discarded') message = `The new reference \`${site.callee}(...)\` returns is never released; it leaks`;
    else if (first.how === 'overwritten') message = `\`${local ?? 'a local'}\` is overwritten while it holds ${what}; it leaks`;
    else if (first.how === 'unchecked')
      message = `${local ? `\`${local}\` holds ${what}, which` : `${what[0].toUpperCase()}${what.slice(1)}`} leaks if \`${first.callee}\` fails: it takes the reference only when it succeeds, and its result is not checked`;
    else if (first.how === 'end') message = `${local ? `\`${local}\` holds ${what}` : `${what[0].toUpperCase()}${what.slice(1)}`}, which leaks at the end of the function`;
    else message = `${local ? `\`${local}\` holds ${what}` : `${what[0].toUpperCase()}${what.slice(1)}`}, which leaks at this return`;
    const related = [
      ...siteRelated(ctx, site, 'the new reference is created here'),
      ...pathRelated(ctx, first),
      ...places.slice(1).map((p) => ({ start: p.at.start + ctx.offset, end: p.at.end + ctx.offset, message: 'it also leaks here' })),
    ];
    ctx.report({
      rule: ID,
      severity: 'warning',
      message,
      detail: `Nothing releases this reference on the path shown, so the object is never freed, once per call${places.length > 1 ? ` (it leaks at ${places.length} places)` : ''}. Release it with \`Py_DECREF\` (or \`Py_XDECREF\` where it may be NULL) before the function gives up, or hand it over.`,
      // A discarded result is shown at the call that made it.
      start: (first.how === 'discarded' && site.start >= 0 ? site.start : first.at.start) + ctx.offset,
      end: (first.how === 'discarded' && site.start >= 0 ? site.end : first.at.end) + ctx.offset,
      function: ctx.fn.name,
      fixes: first.how === 'return' && local ? decrefFix(ctx, first, local) : [],
      related,
    });
  }
}

/** Whether the parser could not read a body whole: an error other than the bare `else` an `#if` cuts off (which the CFG reads), or a missing token. */
function unreadable(body: SyntaxNode): boolean {
  if (!body.hasError) return false;
  const errors = body.descendantsOfType('ERROR');
  return !errors.length || errors.some((e) => e!.text.trim() !== 'else');
}

/**
 * `Py_DECREF(local);` before the return, when on every path reaching it `local` holds this
 * object with a reference the function owns, and the returned expression does not mention
 * the local. `Py_XDECREF` where some paths hold NULL, and wherever the function sets the
 * local to NULL at all: the paths the analysis follows are not always those that run (a
 * flag tied to another variable), and `Py_XDECREF` of an object is `Py_DECREF` of it, while
 * `Py_DECREF` of NULL crashes. None in a function the parser could not read whole.
 */
function decrefFix(ctx: FunctionContext, e: Leak, local: string): Fix[] {
  if (unreadable(ctx.fn.body)) return [];
  const a = ctx.references();
  const node = a.cfg.nodes.find((n) => n.kind === 'return' && !n.at && !n.macroReturn && n.ast && n.ast.startIndex === e.at.start && n.ast.endIndex === e.at.end);
  const i = a.locals.get(local);
  if (!node || i === undefined || new RegExp(`\\b${local}\\b`).test(node.ast!.text)) return [];
  const states = [...(a.inputs.get(node.id)?.values() ?? [])];
  let maybeNull = false;
  for (const s of states) {
    const v = s.vars[i];
    if (v === -2) {
      maybeNull = true;
      continue;
    }
    const o = v >= 0 ? s.objs.find((x) => x.id === v) : undefined;
    if (!o || v === UNKNOWN || o.id !== e.obj.id || o.owned !== 1 || o.status !== 'live') return [];
    if (!o.nonNull) maybeNull = true;
  }
  if (!states.length) return [];
  const ret = node.ast!;
  if (!maybeNull && new RegExp(`\\b${local}\\s*=\\s*(?:\\(\\s*\\w+\\s*\\*\\s*\\)\\s*)?(?:NULL|0|nullptr)\\s*[;,)]`).test(ctx.fn.body.text)) maybeNull = true;
  const call = `${maybeNull ? 'Py_XDECREF' : 'Py_DECREF'}(${local});`;
  const start = ret.startIndex + ctx.offset;
  const end = ret.endIndex + ctx.offset;
  const parent = ret.parent?.type;
  let edit;
  if (parent === 'compound_statement' || parent === 'case_statement') {
    const lineStart = ctx.text.lastIndexOf('\n', start - 1) + 1;
    const indent = /^[ \t]*/.exec(ctx.text.slice(lineStart, start))![0];
    // Only where the return starts its line (after the indentation).
    if (indent.length !== start - lineStart) return [];
    edit = { start, end: start, newText: `${call}${ctx.eol}${indent}` };
  } else edit = { start, end, newText: `{ ${call} ${ctx.text.slice(start, end)} }` };
  return [{ description: `Release \`${local}\` before this return (\`${call.slice(0, -1)}\`)`, safe: true, edits: [edit] }];
}
