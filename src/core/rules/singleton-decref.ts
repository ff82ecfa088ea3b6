/**
 * ## What it does
 * Finds `Py_DECREF`, `Py_XDECREF`, `Py_DecRef`, `Py_CLEAR` (and the release inside
 * `Py_SETREF`/`Py_XSETREF`) of a singleton the function does not own on some path, for
 * example a local that holds `Py_None` on one path and a new object on the other, released
 * at the end.
 *
 * ## Why is this bad?
 * The function gives back a reference it never took. Each call lowers the singleton's
 * reference count by one; on CPython ≤ 3.11 the interpreter eventually aborts with
 * "deallocating None".
 *
 * ## Example
 * ```c
 * PyObject *res = Py_None;
 * if (ok) res = PyLong_FromLong(n);
 * ...
 * Py_DECREF(res);
 * ```
 * Use instead: `PyObject *res = Py_NewRef(Py_None);` (or `Py_INCREF(res);` after the assignment).
 *
 * ## Message
 * `` `f` releases `Py_None`, which it does not own (`Py_DECREF`) ``, or, after a stealing call,
 * `` `f` releases `Py_None` after `PyList_SetItem` took it (even on failure) `` (the last words
 * only for calls that can fail); the detail says what each call does to the count.
 *
 * ## Fix safety
 * No automatic fix: whether to add an incref or drop the release depends on the code around it.
 */
import { canFail } from '../api/stealing';
import { singletonsImmortal } from '../options';
import { calleeName, SINGLETONS } from '../syntax';
import { countMessage, unownedUses, type Rule } from './rule';

/** The rule's id. */
export const ID = 'singleton-decref';

/** The `singleton-decref` rule. */
export const singletonDecref: Rule = {
  id: ID,
  defaultSeverity: 'error',
  summary: 'Py_DECREF/Py_XDECREF/Py_CLEAR of a singleton the function does not own on some path.',
  fixable: false,
  checkFunction(ctx) {
    if (ctx.macro) return;
    const latent = singletonsImmortal(ctx.targets);
    for (const { first, singleton: s, partial } of unownedUses(ctx.ownership(), 'decref')) {
      const loc = first.at ?? { start: first.node.startIndex, end: first.node.endIndex };
      const stole = first.state.lastSteal[s];
      const releaser = calleeName(first.node) ?? 'release';
      // `if (PyList_SetItem(l, i, Py_None) < 0) Py_DECREF(Py_None);`: the call already released it.
      const head = stole
        ? `\`${ctx.fn.name}\` releases \`${SINGLETONS[s]}\`${partial ? ' on some paths' : ''} after \`${stole.callee}\` took it${stole.when === 'always' && canFail(stole.callee) ? ' (even on failure)' : ''}`
        : `\`${ctx.fn.name}\` releases \`${SINGLETONS[s]}\`${partial ? ' on some paths' : ''}, which it does not own (\`${releaser}\`)`;
      const related = first.state.steps.map((st) => ({ start: st.start + ctx.offset, end: st.end + ctx.offset, message: st.message }));
      if (stole) related.push({ start: stole.start + ctx.offset, end: stole.end + ctx.offset, message: `\`${stole.callee}\` takes the reference to \`${SINGLETONS[s]}\` here${stole.when === 'always' && canFail(stole.callee) ? ', even when it fails' : ''}` });
      ctx.report({
        rule: ID,
        singletons: [s],
        severity: latent ? 'warning' : 'error',
        ...countMessage(head, s, latent),
        start: loc.start + ctx.offset,
        end: loc.end + ctx.offset,
        function: ctx.fn.name,
        fixes: [],
        related,
      });
    }
  },
};
