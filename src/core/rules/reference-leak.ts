/**
 * ## What it does
 * Finds a new reference passed straight into a call that does not take it: the result of a
 * function that returns a new reference (`PyLong_FromLong`, `Py_BuildValue`,
 * `PyUnicode_FromString`, ... as CPython's `refcounts.dat` lists them) written as an
 * argument of a C-API function that only borrows or increfs that argument
 * (`PyList_Append`, `PyDict_SetItemString`, `PyErr_SetObject`, `PyObject_SetAttrString`),
 * or given to a `Py_BuildValue`-style format unit `O`; also one given to
 * `PyModule_AddObject`, which takes it only when it succeeds. A project macro that only
 * renames such a call (`#define MyText_FromString(s) PyUnicode_FromString(s)`, one
 * definition per Python version) counts as the call.
 *
 * ## Why is this bad?
 * Nothing holds the new reference after the call, so nobody can release it: the object
 * leaks each time the line runs. In PyRefcon's study of real extensions this was the most
 * common reference-counting bug (55 % of the confirmed ones).
 *
 * ## Example
 * ```c
 * PyList_Append(list, PyLong_FromLong(i));
 * return Py_BuildValue("(O)", PyUnicode_FromString(name));
 * ```
 * Use instead: keep the new reference in a local, check it, pass it, then `Py_DECREF` it;
 * in a format, `N` instead of `O` hands the reference over:
 * `Py_BuildValue("(N)", PyUnicode_FromString(name))`.
 *
 * ## Message
 * `` `PyLong_FromLong(...)` returns a new reference that `PyList_Append` does not take; it leaks ``.
 *
 * ## Fix safety
 * `O` → `N` in a literal format is safe: the call then takes the reference it was given,
 * and nothing else can hold that temporary. `PyModule_AddObject` → `PyModule_Add` is safe
 * where every target has it (3.13, or `pythoncapi_compat.h`): it takes the reference even
 * when it fails, and returns the same values. Other calls get no automatic fix (the
 * temporary needs a local, a NULL check and a release).
 *
 * ## Where it stands
 * On the real-world set (`npm run bench:real-world`, 59 projects, 806 KLOC): 54 warnings,
 * all true, so it is on by default; 9 of 9 on the fresh set of 15 projects added after its
 * tuning. The one false finding it gave, in the argument of a debug macro that expands to
 * nothing (`#define TRACE(args)`), is gone: an argument that a function-like macro drops in
 * every definition (of the file and its quoted includes) is not compiled, and not looked at.
 * Nor is a call in an `#if` branch no targeted Python compiles. Among the true ones, 9 give a new reference
 * straight to `PyModule_AddObject` (documented by CPython as a leak when the call fails).
 *
 * ## Known problems
 * Only the direct form is found here: a new reference kept in a local and never released,
 * or lost on an error path, is `owned-reference-leak`'s. Calls of the project's own functions are
 * not judged (they may take the reference). Variadic functions are judged only where
 * CPython documents what they do with the extra arguments.
 */
import { compiledOnTargets } from '../conditions';
import { API_PARAMS, API_RETURNS } from '../api/returns.generated';
import { FORMAT_CALLS, STEALING, stolenArguments } from '../api/stealing';
import { apiParamEffects } from '../api/summaries';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, CXX_CASTS, snippet } from '../syntax';
import { macroAliases } from '../references/names';
import { versionAtLeast } from '../options';
import type { Fix } from '../types';
import type { FileContext, Rule } from './rule';

/** The rule's id. */
export const ID = 'reference-leak';

/** Functions that return a new reference. */
const NEW_REFERENCE = Object.keys(API_RETURNS).filter((n) => API_RETURNS[n] === 'new');
/** Variadic functions whose extra arguments are borrowed. */
const BORROWING_VARARGS = new Set(['PyObject_CallFunctionObjArgs', 'PyObject_CallMethodObjArgs', 'PyTuple_Pack']);

const NEW_REFERENCE_NAMES: ReadonlySet<string> = new Set(NEW_REFERENCE);

function isWordCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

const SPACE = /\s/;
/** `\s` of a regular expression, for one character. */
function isSpace(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && SPACE.test(text[i]));
}

/** A call of one of the C API's new-reference functions: where its name starts, the name, and where its `(` is. */
export interface NameCall {
  index: number;
  name: string;
  open: number;
}

/**
 * The calls of new-reference functions in `text` (`\bNAME\s*\(` with NAME one of them, every one in order), found from
 * each `Py` in the text: every such name starts with `Py` or `_Py`. Without a search through an alternation of some
 * 300 names tried at every word, `(` and `,` of each file.
 */
export function newReferenceCalls(text: string): NameCall[] {
  const out: NameCall[] = [];
  for (let at = text.indexOf('Py'); at >= 0; ) {
    let start = at;
    while (start > 0 && isWordCode(text.charCodeAt(start - 1))) start--;
    let end = at + 2;
    while (end < text.length && isWordCode(text.charCodeAt(end))) end++;
    at = text.indexOf('Py', end);
    const name = text.slice(start, end);
    if (!NEW_REFERENCE_NAMES.has(name)) continue;
    let open = end;
    while (open < text.length && isSpace(text, open)) open++;
    if (text.charCodeAt(open) === 40) out.push({ index: start, name, open });
  }
  return out;
}

/**
 * The calls among `calls` written directly as an argument (after `(` or `,`, through a cast), as the global search
 * `([(,])\s*(?:\([^()]*\)\s*)?(?:NAME)\s*\(` finds them: where each match starts (the `(` or `,`), in order, a match
 * starting only after the previous one's end.
 */
export function asArguments(text: string, calls: readonly NameCall[]): number[] {
  const out: number[] = [];
  let after = 0;
  for (const c of calls) {
    let p = c.index - 1;
    while (p >= 0 && isSpace(text, p)) p--;
    if (text[p] === ')') {
      // A cast: its `(` with no parenthesis inside, and the `(` or `,` before it.
      let q = p - 1;
      while (q >= 0 && text[q] !== '(' && text[q] !== ')') q--;
      if (text[q] !== '(') continue;
      p = q - 1;
      while (p >= 0 && isSpace(text, p)) p--;
    }
    if (p < after || (text[p] !== '(' && text[p] !== ',')) continue;
    out.push(p);
    after = c.open + 1;
  }
  return out;
}
/** Calls that may not take an argument's reference: C-API functions that borrow or incref an object parameter, and format calls. */
const JUDGED = new Set([
  ...Object.keys(API_PARAMS).filter((n) => /(?:^|,)(?:\+1|0)(?:,|$)/.test(API_PARAMS[n]) || API_PARAMS[n].includes('...')),
  ...Object.keys(FORMAT_CALLS),
  ...BORROWING_VARARGS,
  // (They take it only when they succeed.)
  ...Object.keys(STEALING).filter((n) => STEALING[n].when === 'on-success'),
]);

/** The name of the call whose argument list is open at `pos` (the nearest unmatched `(` before it), if any. */
function openCallAt(text: string, pos: number): string | undefined {
  let depth = 0;
  for (let i = pos, n = 0; i >= 0 && n < 4000; i--, n++) {
    const c = text[i];
    if (c === ')') depth++;
    else if (c === '(') {
      if (depth === 0) return /([A-Za-z_]\w*)\s*$/.exec(text.slice(Math.max(0, i - 80), i))?.[1];
      depth--;
    } else if (c === ';' || c === '{' || c === '}') return undefined;
  }
  return undefined;
}

interface FileAliases {
  aliases: Map<string, string>;
  asArgument?: RegExp;
  candidates?: RegExp;
}

/** The file's macros that alias a new-reference call (`#define MyStr_FromString(x) PyUnicode_FromString(x)`), and patterns with them. */
function fileAliases(text: string): FileAliases {
  const aliases = macroAliases(text);
  const fresh = [...aliases].filter(([, api]) => API_RETURNS[api] === 'new').map(([name]) => name);
  if (!fresh.length) return { aliases };
  return {
    aliases,
    asArgument: new RegExp(`([(,])\\s*(?:\\([^()]*\\)\\s*)?(?:${fresh.join('|')})\\s*\\(`, 'g'),
    candidates: new RegExp(`\\b(${fresh.join('|')})\\s*\\(`, 'g'),
  };
}

/** A file where some new-reference call (or an alias of one) is an argument of a call this rule judges. */
function interest(text: string): boolean {
  const { aliases, asArgument } = fileAliases(text);
  if (judgedArgument(text, asArguments(text, newReferenceCalls(text)), aliases)) return true;
  if (!asArgument) return false;
  const starts: number[] = [];
  asArgument.lastIndex = 0;
  for (let m = asArgument.exec(text); m; m = asArgument.exec(text)) starts.push(m.index);
  return judgedArgument(text, starts, aliases);
}

/** Whether one of the arguments starting at `starts` (each a `(` or `,`) is an argument of a call this rule judges. */
function judgedArgument(text: string, starts: readonly number[], aliases: ReadonlyMap<string, string>): boolean {
  for (const at of starts) {
    // After `name(` the call is `name`; after `,` (or a bare parenthesis) it is the call whose list is open there.
    const direct = text[at] === '(' ? /([A-Za-z_]\w*)\s*$/.exec(text.slice(Math.max(0, at - 80), at))?.[1] : undefined;
    const owner = direct ?? openCallAt(text, at - 1);
    if (owner && JUDGED.has(aliases.get(owner) ?? owner)) return true;
  }
  return false;
}

/** Whether `node` is inside an argument that a macro of `dropping` drops (`TRACE(("%s", PyObject_Str(o)))` with `#define TRACE(args)`). */
function inDroppedArgument(node: SyntaxNode, dropping: ReadonlyMap<string, ReadonlySet<number>>): boolean {
  if (!dropping.size) return false;
  let child = node;
  for (let p = node.parent; p && p.type !== 'function_definition'; child = p, p = p.parent) {
    if (p.type !== 'argument_list' || p.parent?.type !== 'call_expression') continue;
    const dropped = dropping.get(calleeName(p.parent) ?? '');
    const i = dropped ? argList(p.parent).findIndex((a) => a.startIndex <= child.startIndex && child.endIndex <= a.endIndex) : -1;
    if (i >= 0 && dropped!.has(i)) return true;
  }
  return false;
}

/** The argument expression a node is (through parentheses and casts), and the call it is an argument of. */
function argumentOf(call: SyntaxNode): { arg: SyntaxNode; outer: SyntaxNode; index: number } | undefined {
  let arg = call;
  for (;;) {
    const p = arg.parent;
    if (p && (p.type === 'parenthesized_expression' || p.type === 'cast_expression')) arg = p;
    // Through a C++ cast: `static_cast<PyObject *>(f())` is its argument list's call.
    else if (p?.type === 'argument_list' && p.parent?.type === 'call_expression' && CXX_CASTS.has(calleeName(p.parent) ?? '')) arg = p.parent;
    else break;
  }
  const list = arg.parent;
  if (list?.type !== 'argument_list' || list.parent?.type !== 'call_expression') return undefined;
  const outer = list.parent;
  const index = argList(outer).findIndex((a) => a.startIndex === arg.startIndex && a.endIndex === arg.endIndex);
  return index >= 0 ? { arg, outer, index } : undefined;
}

/** For a format call: the offset (in the literal's text) and unit of the format character that consumes argument `index`. */
function formatUnit(literal: string, firstArg: number, index: number): { at: number; unit: string } | undefined {
  if (!/^"(?:[^"\\]|\\.)*"$/.test(literal)) return undefined;
  let arg = firstArg;
  for (let i = 1; i < literal.length - 1; i++) {
    const c = literal[i];
    if ('()[]{}:,; \t'.includes(c)) continue;
    if (c === '\\') return undefined;
    const two = (c === 'O' && (literal[i + 1] === '&' || literal[i + 1] === '!')) || literal[i + 1] === '#';
    if (arg === index) return { at: i, unit: two ? c + literal[i + 1] : c };
    arg += two ? 2 : 1;
    if (two) i++;
  }
  return undefined;
}

/**
 * `PyModule_AddObject` → `PyModule_Add`, which takes the reference even when it fails
 * (both return -1 on failure and 0 on success), where every target has it (3.13, or
 * pythoncapi_compat.h).
 */
function moduleAddFix(ctx: FileContext, outer: SyntaxNode): Fix[] {
  if (!ctx.targets.compatHeader && !versionAtLeast(ctx.targets.min, [3, 13])) return [];
  const f = outer.childForFieldName('function')!;
  return [{ description: 'Use `PyModule_Add`, which takes the reference even when it fails', safe: true, edits: [{ start: f.startIndex, end: f.endIndex, newText: 'PyModule_Add' }] }];
}

/** The `reference-leak` rule (its first form: a new reference passed straight into a call that does not take it). */
export const referenceLeak: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'A new reference passed straight into a call that does not take it (PyList_Append(l, PyLong_FromLong(i))).',
  fixable: true,
  interest,
  checkFunction() {},
  checkFile(ctx: FileContext) {
    // A name the file defines as a macro is not the C-API function (`#define PyBool_FromLong(v) ...`).
    // (Unless it only renames a C-API call: `#define MyStr_FromString(x) PyUnicode_FromString(x)`.)
    const { aliases, candidates } = fileAliases(ctx.text);
    const redefined = new Set([...ctx.text.matchAll(/^[ \t]*#[ \t]*define[ \t]+(\w+)/gm)].map((m) => m[1]).filter((n) => !aliases.has(n)));
    const found = [...newReferenceCalls(ctx.text), ...(candidates ? [...ctx.text.matchAll(candidates)].map((m) => ({ index: m.index, name: m[1] })) : [])];
    for (const m of found) {
      if (redefined.has(m.name)) continue;
      const id = ctx.root.descendantForIndex(m.index, m.index + m.name.length);
      const call = id?.type === 'identifier' ? id.parent : null;
      if (!call || call.type !== 'call_expression' || call.childForFieldName('function')?.startIndex !== id!.startIndex) continue;
      // Nor in a branch no targeted Python compiles (`#if PY_MAJOR_VERSION < 3`), nor in an argument a macro drops.
      if (!compiledOnTargets(call, ctx.targets.min) || inDroppedArgument(call, ctx.discardingMacros())) continue;
      const where = argumentOf(call);
      if (!where) continue;
      const written = calleeName(where.outer);
      if (!written || redefined.has(written)) continue;
      const outerName = aliases.get(written) ?? written;
      const args = argList(where.outer);
      // A call that takes the reference (it steals the argument, or an `N` unit) is fine;
      // one that takes it only when it succeeds (`PyModule_AddObject`) leaves it to nobody when it fails.
      const steal = stolenArguments(outerName, args.map((a) => a.text)).get(where.index);
      if (steal === 'always') continue;
      let fixes: Fix[] = [];
      const fmt = FORMAT_CALLS[outerName];
      if (steal === 'on-success') fixes = outerName === 'PyModule_AddObject' && written === outerName ? moduleAddFix(ctx, where.outer) : [];
      else if (fmt) {
        const lit = args[fmt.format];
        const unit = lit && lit.type === 'string_literal' ? formatUnit(lit.text, fmt.format + 1, where.index) : undefined;
        if (!unit || unit.unit !== 'O') continue;
        fixes = [{ description: 'Hand the reference over with `N` instead of `O`', safe: true, edits: [{ start: lit!.startIndex + unit.at, end: lit!.startIndex + unit.at + 1, newText: 'N' }] }];
      } else {
        const params = apiParamEffects(outerName) ?? [];
        const variadic = params.indexOf('...');
        // Past the declared parameters of a function that borrows its extra arguments (`PyTuple_Pack(n, ...)`).
        const extra = BORROWING_VARARGS.has(outerName) && (variadic >= 0 ? where.index >= variadic : where.index >= Math.max(1, params.length));
        const effect = extra ? '0' : params[where.index];
        if (effect !== '+1' && effect !== '0') continue;
      }
      const inner = m.name;
      const fn = [...ctx.functions].reverse().find((f) => f.node.startIndex <= call.startIndex && call.endIndex <= f.node.endIndex);
      ctx.report({
        rule: ID,
        severity: 'warning',
        message: steal
          ? `\`${inner}(...)\` returns a new reference that \`${outerName}\` takes only when it succeeds; it leaks when the call fails`
          : `\`${inner}(...)\` returns a new reference that \`${outerName}\` does not take; it leaks`,
        detail: steal
          ? `\`${outerName}\` steals its argument only on success; when it fails nothing holds \`${snippet(call.text, 50)}\` any more, so the object is never released.${fixes.length ? '' : ' Keep the reference in a local and release it when the call fails, or use `PyModule_Add` (Python 3.13, or pythoncapi_compat.h), which takes it either way.'}`
          : `\`${outerName}\` ${fmt ? 'builds its result with its own reference (format unit `O`)' : 'borrows its argument or takes its own reference'}, and nothing else holds \`${snippet(call.text, 50)}\`: the object is never released, once per call.`,
        start: call.startIndex,
        end: call.endIndex,
        function: fn?.name,
        fixes,
        related: [{ start: where.outer.startIndex, end: where.outer.endIndex, message: `\`${outerName}\` ${steal ? 'takes the reference only if it succeeds' : 'does not take the reference'} here` }],
      });
    }
  },
};

