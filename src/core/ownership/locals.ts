/** Which locals the ownership analysis follows, and which hold new references. */
import { API_RETURNS } from '../api/returns.generated';
import type { SyntaxNode } from '../parser';
import { argList, calleeName, declaredName, SETREF_CALLS, namedKids, SINGLETON_PATTERN, initialValue, declaredLocal } from '../syntax';
import { MAX_TRACKED } from './state';
import { unwrapCasts } from './conditions';

export const SINGLETON_RE = new RegExp(SINGLETON_PATTERN);

/** Locals that may hold a singleton: assigned from an expression that mentions one (or such a local, or a macro). */
export function trackedLocals(body: SyntaxNode, macroNames: string[], cxx?: CxxFacts): Map<string, number> {
  const assigns: Array<[string, string]> = [];
  for (const a of body.descendantsOfType(['assignment_expression', 'init_declarator'])) {
    if (!a) continue;
    const left = a.type === 'assignment_expression' ? a.childForFieldName('left') : declaredName(a.childForFieldName('declarator'));
    const right = a.type === 'assignment_expression' ? a.childForFieldName('right') : initialValue(a);
    if (!left || !right || left.type !== 'identifier') continue;
    assigns.push([left.text, right.text]);
  }
  const objects = cxx ? classObjects(body, cxx, assigns) : undefined;
  // C++: `if (T *x = v)` declares `x` in the condition.
  if (cxx) {
    for (const c of body.descendantsOfType('condition_clause')) {
      const d = c?.childForFieldName('value');
      const name = d?.type === 'declaration' ? declaredName(d.childForFieldName('declarator')) : null;
      const v = d?.childForFieldName('value');
      if (name && v) assigns.push([name.text, v.text]);
    }
  }
  for (const call of body.descendantsOfType('call_expression')) {
    const args = call ? argList(call) : [];
    if (call && SETREF_CALLS.has(calleeName(call) ?? '') && args.length === 2 && args[0].type === 'identifier') assigns.push([args[0].text, args[1].text]);
  }
  const tracked = new Set<string>();
  const macroRe = macroNames.length ? new RegExp(`\\b(?:${macroNames.join('|')})\\b`) : undefined;
  for (let round = 0; round < 3; round++) {
    for (const [name, rhs] of assigns) {
      if (tracked.has(name) || tracked.size >= MAX_TRACKED || objects?.has(name)) continue;
      if (SINGLETON_RE.test(rhs) || macroRe?.test(rhs) || [...tracked].some((t) => new RegExp(`\\b${t}\\b`).test(rhs))) tracked.add(name);
    }
  }
  const map = new Map<string, number>();
  for (const t of tracked) map.set(t, map.size);
  return map;
}

/** What the C++ analysis needs to know of the file: type names that are pointers (`typedef PyObject *Ref;`). */
export interface CxxFacts {
  pointerTypes: ReadonlySet<string>;
}

/** Pointer type aliases of a C++ file (`typedef T *Name;`, `using Name = T *;`). */
export function cxxFacts(text: string): CxxFacts {
  const pointerTypes = new Set<string>();
  for (const m of text.matchAll(/\btypedef\s[^;{}]*\*\s*(\w+)\s*;|\busing\s+(\w+)\s*=[^;{}]*\*\s*;/g)) pointerTypes.add(m[1] ?? m[2]);
  return { pointerTypes };
}

/**
 * C++ locals that are objects of a class type (`OwnedRef r(Py_None);`, `py::object o = ...`):
 * RAII owners whose constructor and destructor manage the reference, so what they hold is
 * not a borrowed pointer and they are not tracked. Also `(v)` declaration-shaped locals, added to `assigns`.
 */
export function classObjects(body: SyntaxNode, cxx: CxxFacts, assigns: Array<[string, string]>): Set<string> {
  const out = new Set<string>();
  for (const decl of body.descendantsOfType('declaration')) {
    if (!decl) continue;
    const type = decl.childForFieldName('type');
    const typeName = type?.type === 'type_identifier' ? type.text : type?.type === 'qualified_identifier' || type?.type === 'template_type' ? type.text : undefined;
    for (const d of namedKids(decl)) {
      if (d === type || !/declarator$/.test(d.type)) continue;
      const inner = d.type === 'init_declarator' ? d.childForFieldName('declarator') : d;
      const name = declaredLocal(d);
      if (!name) continue;
      // `T *x(v)`: read as a prototype by the parser, it is a local initialised with `v`.
      if (d.type !== 'init_declarator') {
        const v = initialValue(d);
        if (v) assigns.push([name.text, v.text]);
      }
      const plain = inner?.type === 'identifier' || (inner?.type === 'function_declarator' && d.type !== 'init_declarator');
      if (typeName && plain && !cxx.pointerTypes.has(typeName) && typeName !== 'PyObject') out.add(name.text);
    }
  }
  return out;
}

/**
 * Locals assigned only from calls that return new references (any call but the C-API
 * functions documented as returning borrowed ones): comparing one with a singleton
 * tells that the reference it holds is a reference to that singleton.
 */
export function owningLocals(body: SyntaxNode, tracked: Map<string, number>): Set<string> {
  const fromCall = new Set<string>();
  const other = new Set<string>();
  for (const a of body.descendantsOfType(['assignment_expression', 'init_declarator'])) {
    if (!a) continue;
    const left = a.type === 'assignment_expression' ? a.childForFieldName('left') : declaredName(a.childForFieldName('declarator'));
    const right = a.childForFieldName(a.type === 'assignment_expression' ? 'right' : 'value');
    if (!left || !right || left.type !== 'identifier') continue;
    const r = unwrapCasts(right);
    if (r.type === 'initializer_list') continue;
    if (/^(?:NULL|0|nullptr)$/.test(r.text)) continue;
    const callee = r.type === 'call_expression' ? calleeName(r) : undefined;
    if (callee && API_RETURNS[callee] !== 'borrowed' && !/GET_ITEM|GetItem|Borrow/.test(callee)) fromCall.add(left.text);
    else other.add(left.text);
  }
  return new Set([...fromCall].filter((n) => !other.has(n) && !tracked.has(n)));
}
