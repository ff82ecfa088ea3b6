import { API_RETURNS } from './api/returns.generated';
import { canFail, FORMAT_CALLS, STEALING } from './api/stealing';
import { findFunctions } from './functions';
import { collectMacros, MacroExpander } from './macros';
import { analyzeOwnership, cxxFacts, OTHER } from './ownership';
import type { DialectParser, SyntaxNode } from './parser';
import { blankStatementMacros } from './preprocess';
import { DECREF_CALLS, INCREF_CALLS, NEWREF_CALLS, RETURN_MACRO_NAMES, SETREF_CALLS, SINGLETONS, singletonIndex, STRUCT_SPELLINGS } from './syntax';

const ORDINAL = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth'];

function docSearch(name: string): string {
  return `https://docs.python.org/3/search.html?q=${encodeURIComponent(name)}`;
}

/** What the ownership tables say of a C-API name, as Markdown; undefined for other names. */
export function describeApi(name: string): string | undefined {
  const lines: string[] = [];
  const ret = API_RETURNS[name];
  if (ret === 'new') lines.push(`\`${name}\` returns a **new reference**: the caller owns it and must release it.`);
  else if (ret === 'borrowed') lines.push(`\`${name}\` returns a **borrowed reference**: the caller does not own it; take one with \`Py_NewRef\` before keeping or returning it.`);
  else if (ret === 'null') lines.push(`\`${name}\` always returns \`NULL\`.`);
  const steal = STEALING[name];
  if (steal) {
    const which = steal.args.map((a) => `the ${ORDINAL[a] ?? `#${a + 1}`} argument`).join(', ');
    lines.push(`\`${name}\` **steals** a reference to ${which}${steal.when === 'on-success' ? ', **only when it succeeds**' : canFail(name) ? ', even when it fails' : ''}.`);
    lines.push(`> ${steal.says}`);
  }
  if (FORMAT_CALLS[name]) lines.push('Each `N` unit of its format string **steals** a reference to its argument; `O` takes a new one.');
  if (INCREF_CALLS.has(name)) lines.push(`\`${name}\` takes a new reference to its argument.`);
  if (NEWREF_CALLS.has(name)) lines.push(`\`${name}\` takes a new reference to its argument and returns it.`);
  if (DECREF_CALLS.has(name)) lines.push(`\`${name}\` releases a reference the caller owns.`);
  if (SETREF_CALLS.has(name)) lines.push(`\`${name}(dst, src)\` stores \`src\` (whose reference it takes) and releases the old value of \`dst\`.`);
  if (RETURN_MACRO_NAMES.has(name)) lines.push(`\`${name}\` returns a new reference (it increments the count first).`);
  if (!lines.length) return undefined;
  lines.push(`[Documentation](${steal?.doc ?? FORMAT_CALLS[name]?.doc ?? docSearch(name)})`);
  return lines.join('\n\n');
}

function smallestAround(nodes: Array<{ id: number; ast?: SyntaxNode }>, offset: number): number | undefined {
  let best: { id: number; size: number } | undefined;
  for (const n of nodes) {
    if (!n.ast || n.ast.startIndex > offset || n.ast.endIndex < offset) continue;
    const size = n.ast.endIndex - n.ast.startIndex;
    if (!best || size < best.size) best = { id: n.id, size };
  }
  return best?.id;
}

/**
 * What the data flow knows at `offset` about the singleton or local named there: whether
 * the function owns a reference to it, on how many of the paths that reach that point.
 * Markdown, or undefined when the name is neither.
 */
export function describeOwnershipAt(parser: DialectParser, text: string, offset: number): string | undefined {
  const tree = parser.parse(blankStatementMacros(text, parser.dialect));
  const expander = new MacroExpander(parser, new Map(collectMacros(text).map((d) => [d.name, d])));
  try {
    const leaf = tree.rootNode.descendantForIndex(offset);
    if (!leaf || leaf.type !== 'identifier') return undefined;
    const name = leaf.text;
    const fn = findFunctions(tree.rootNode, text).find((f) => f.body.startIndex <= offset && offset < f.body.endIndex);
    if (!fn) return undefined;
    const s = name in STRUCT_SPELLINGS ? STRUCT_SPELLINGS[name] : singletonIndex(name);
    const analysis = analyzeOwnership(fn.body, { expander, cxx: parser.dialect === 'cpp' ? cxxFacts(text) : undefined, budget: { maxSteps: 200_000, deadline: Date.now() + 1000 } });
    const v = analysis.tracked.get(name);
    if (s < 0 && v === undefined) return undefined;
    const at = smallestAround(analysis.cfg.nodes, offset);
    const states = at === undefined ? undefined : analysis.inputs.get(at);
    if (!states || !states.size) return `\`${name}\`: no path of \`${fn.name}\` reaches this point.`;
    const all = [...states.values()];
    const n = all.length;
    const count = (pred: (x: (typeof all)[number]) => boolean) => all.filter(pred).length;
    const reach = n === 1 ? 'the one path that reaches this statement' : `the ${n} paths that reach this statement`;
    const share = (k: number) => (k === n ? (n === 1 ? 'on the one path that reaches this statement' : `on all ${n} paths that reach this statement`) : `on ${k} of ${reach}`);
    if (s >= 0) {
      const owned = count((x) => x.owned[s] > 0);
      // `Py_NewRef(Py_None)`, `Py_INCREF(Py_None)`: the name is where the reference is taken.
      const call = leaf.parent?.type === 'argument_list' ? leaf.parent.parent : undefined;
      const taker = call?.type === 'call_expression' ? call.childForFieldName('function')?.text : undefined;
      const takes = taker && (INCREF_CALLS.has(taker) || NEWREF_CALLS.has(taker)) ? ` \`${taker}\` takes a new reference to it here.` : '';
      const head =
        owned === 0
          ? `\`${fn.name}\` owns no reference to \`${SINGLETONS[s]}\` before this statement (${n === 1 ? 'on the one path that reaches it' : `on none of the ${n} paths that reach it`}).`
          : `\`${fn.name}\` owns a reference to \`${SINGLETONS[s]}\` ${share(owned)}.`;
      return `${head}${takes || (owned < n ? ' Returning, stealing or releasing it here needs `Py_NewRef`/`Py_INCREF` first.' : '')}`;
    }
    const parts: string[] = [];
    for (let k = 0; k < SINGLETONS.length; k++) {
      const holds = count((x) => x.vars[v!] === k);
      if (!holds) continue;
      const owned = count((x) => x.vars[v!] === k && x.owned[k] > 0);
      const how = owned === 0 ? 'borrowed' : owned === holds ? 'with a reference the function owns' : `owned on ${owned} of them`;
      parts.push(`holds \`${SINGLETONS[k]}\` ${share(holds)} (${how})`);
    }
    const other = count((x) => x.vars[v!] === OTHER);
    if (other) parts.push(`holds another object ${share(other)}`);
    return `Before this statement, local \`${name}\` ${parts.join('; ')}.`;
  } finally {
    expander.dispose();
    tree.delete();
  }
}
