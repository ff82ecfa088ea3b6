/** What the rules built on the reference analysis share: naming an object, its origin and the path that led to a finding. */
import type { Site } from './state';
import type { RefEvent, RefState } from './state';
import { pathSteps } from './state';
import type { RelatedLocation } from '../types';
import type { FunctionContext } from '../rules/rule';
import { SINGLETONS } from '../syntax';

/** The 1-based line of an offset. */
export function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The local that holds object `id` in a state, if any. */
export function holderName(ctx: FunctionContext, st: RefState, id: number): string | undefined {
  const a = ctx.references();
  const i = st.vars.indexOf(id);
  if (i < 0) return undefined;
  // (A singleton's slot comes after the locals, and is not a local: see `singletonSlots`.)
  for (const [name, k] of a.locals) if (k === i && !SINGLETONS.includes(name)) return name;
  return undefined;
}

/** `` `PyLong_FromLong(...)` `` or `` parameter `args` ``. */
export function siteText(site: Site): string {
  return site.origin === 'param' ? `parameter \`${site.callee}\`` : `\`${site.callee}(...)\``;
}

/** The creation site as a related location (none for a parameter). */
export function siteRelated(ctx: FunctionContext, site: Site, message: string): RelatedLocation[] {
  if (site.start < 0) return [];
  return [{ start: site.start + ctx.offset, end: site.end + ctx.offset, message }];
}

/** The branches taken on the path of an event, as related locations. */
export function pathRelated(ctx: FunctionContext, e: RefEvent): RelatedLocation[] {
  return pathSteps(e.state).map((st) => ({ start: st.start + ctx.offset, end: st.end + ctx.offset, message: st.message }));
}

/** Events of one kind grouped by a key, in source order of their first member. */
export function groupBy<T extends RefEvent>(events: T[], key: (e: T) => string): T[][] {
  const m = new Map<string, T[]>();
  for (const e of events) {
    const k = key(e);
    const g = m.get(k);
    if (g) g.push(e);
    else m.set(k, [e]);
  }
  return [...m.values()];
}
