import type { LocatedFinding } from './report';

/** One baselined finding: matched by rule, file, function and the normalised text of its line, not by line number. */
export interface BaselineEntry {
  rule: string;
  path: string;
  function: string | null;
  text: string;
}

/** The baseline file. */
export interface Baseline {
  version: 1;
  findings: BaselineEntry[];
}

/** Whitespace-normalised text of a line. */
export function normaliseLine(line: string): string {
  return line.replace(/\s+/g, ' ').trim();
}

/** The baseline entry of a finding, given the text of its line. */
export function entryOf(f: LocatedFinding, lineText: string): BaselineEntry {
  return { rule: f.rule, path: f.path.split('\\').join('/'), function: f.function, text: normaliseLine(lineText) };
}

/** Parses a baseline file; throws with a clear message when it is not one. */
export function parseBaseline(json: string): Baseline {
  const data = JSON.parse(json) as Baseline;
  if (!data || data.version !== 1 || !Array.isArray(data.findings)) throw new Error('not a cpyref baseline (expected {"version": 1, "findings": [...]})');
  return data;
}

/** Keeps the findings that the baseline does not account for; each entry absorbs one finding. */
export function filterByBaseline<T>(items: T[], entryOfItem: (t: T) => BaselineEntry, baseline: Baseline): T[] {
  const budget = new Map<string, number>();
  const key = (e: BaselineEntry) => JSON.stringify([e.rule, e.path, e.function, e.text]);
  for (const e of baseline.findings) budget.set(key(e), (budget.get(key(e)) ?? 0) + 1);
  return items.filter((t) => {
    const k = key(entryOfItem(t));
    const left = budget.get(k) ?? 0;
    if (left > 0) {
      budget.set(k, left - 1);
      return false;
    }
    return true;
  });
}
