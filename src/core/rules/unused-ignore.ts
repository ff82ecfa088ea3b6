/**
 * ## What it does
 * Reports a `cpyref: ignore[...]` comment that suppresses nothing (only with the
 * CLI's `--report-unused-ignores`).
 *
 * ## Why is this bad?
 * A stale suppression hides the next real finding on that line.
 *
 * ## Example
 * ```c
 * Py_RETURN_NONE;  // cpyref: ignore[borrowed-singleton-return] fixed long ago
 * ```
 * Use instead: delete the comment.
 *
 * ## Fix safety
 * No automatic fix: the comment may hold other text worth keeping.
 */
import type { Rule } from './rule';

/** The rule's id. */
export const ID = 'unused-ignore';

/** The `unused-ignore` rule; findings are produced from the suppression table, not per function. */
export const unusedIgnore: Rule = {
  id: ID,
  defaultSeverity: 'warning',
  summary: 'A cpyref suppression comment that suppresses nothing (with --report-unused-ignores).',
  fixable: false,
  checkFunction() {},
};
