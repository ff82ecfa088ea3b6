/** Severity levels, from most to least severe. */
export type Severity = 'error' | 'warning' | 'information' | 'hint';

/** Ordered severities; a lower index is more severe. */
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'information', 'hint'];

/** A replacement of the text between two 0-based UTF-16 offsets. */
export interface TextEdit {
  start: number;
  end: number;
  newText: string;
}

/** A fix: edits applied together. Only `safe` fixes are applied by fix-all. */
export interface Fix {
  description: string;
  safe: boolean;
  edits: TextEdit[];
}

/** A location on the path that explains a finding (0-based offsets; `path` when in another file). */
export interface RelatedLocation {
  path?: string;
  start: number;
  end: number;
  /** In another file (`path`): the 0-based line and column of `start`, known without reading it. */
  line?: number;
  column?: number;
  message: string;
}

/** One reported problem, in 0-based offsets of the analysed text. */
export interface Finding {
  rule: string;
  severity: Severity;
  /** What is wrong, in one short line (the Problems panel cuts long ones). */
  message: string;
  /** Why it matters and what to do: shown beside the message (hover, related information, JSON, SARIF). */
  detail?: string;
  start: number;
  end: number;
  /** Name of the enclosing function or macro. */
  function?: string;
  fixes: Fix[];
  related: RelatedLocation[];
}
