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
 * ## Fix safety
 * No automatic fix: whether to add an incref or drop the release depends on the code around it.
 */
import { singletonsImmortal } from '../options';
import { calleeName, SINGLETON_SHORT, SINGLETONS } from '../syntax';
import { crashOf, groupEvents, type Rule } from './rule';

/** The rule's id. */
export const ID = 'singleton-decref';

/** The `singleton-decref` rule. */
export const singletonDecref: Rule = {
  id: ID,
  defaultSeverity: 'error',
  summary: 'Py_DECREF/Py_XDECREF/Py_CLEAR of a singleton the function does not own on some path.',
  fixable: false,
  usesOwnership: true,
  checkFunction(ctx) {
    if (ctx.macro) return;
    const analysis = ctx.ownership();
    for (const group of groupEvents(analysis.events.filter((e) => e.kind === 'decref'))) {
      const bad = group.filter((e) => e.singleton >= 0 && e.state.owned[e.singleton] === 0);
      if (!bad.length) continue;
      const first = bad[0];
      const s = first.singleton;
      const partial = bad.length < group.length || analysis.truncated;
      const loc = first.at ?? { start: first.node.startIndex, end: first.node.endIndex };
      const latent = singletonsImmortal(ctx.targets);
      const head = `\`${ctx.fn.name}\` releases a reference to \`${SINGLETONS[s]}\` it does not own${partial ? ' on some paths' : ''} (\`${calleeName(first.node) ?? 'release'}\`)`;
      ctx.report({
        rule: ID,
        severity: latent ? 'warning' : 'error',
        message: latent
          ? `${head}; this is latent on the targeted CPython ≥ 3.12, whose singletons are immortal, but it lowers ${SINGLETON_SHORT[s]}'s reference count on CPython ≤ 3.11, which ${crashOf(s)}.`
          : `${head}; each call lowers ${SINGLETON_SHORT[s]}'s reference count, and CPython ≤ 3.11 ${crashOf(s)}.`,
        start: loc.start + ctx.offset,
        end: loc.end + ctx.offset,
        function: ctx.fn.name,
        fixes: [],
        related: bad[0].state.steps.map((st) => ({ start: st.start + ctx.offset, end: st.end + ctx.offset, message: st.message })),
      });
    }
  },
};
