import { plural } from '../../core/text';
import type { Report } from '../report';

/** `path:line:col: severity: message [rule-id]`, one line per finding (for problem matchers and grep). */
export function formatText(report: Report): string {
  return report.findings.map((f) => `${f.path}:${f.line}:${f.column}: ${f.severity}: ${f.message} [${f.rule}]\n`).join('');
}

/** The closing summary (printed on standard error). */
export function formatSummary(report: Report): string {
  const s = report.summary;
  const parts = (['error', 'warning', 'information', 'hint'] as const).filter((k) => s.bySeverity[k]).map((k) => (k === 'information' ? `${s.bySeverity[k]} information` : plural(s.bySeverity[k], k)));
  const lines: string[] = [];
  lines.push(
    `cpyref: ${plural(s.findings, 'finding')}${parts.length ? ` (${parts.join(', ')})` : ''} in ${plural(s.files, 'file')}` +
      (s.fixed ? `; fixed ${s.fixed}` : s.fixable ? `; ${s.fixable} fixable with --fix` : '') +
      (s.skipped ? `; skipped ${plural(s.skipped, 'file')}` : '') +
      '.',
  );
  for (const k of report.skipped) lines.push(`  skipped ${k.path}: ${k.reason}`);
  if (s.errorRegions) lines.push(`  ${plural(s.errorRegions, 'return')} of a singleton inside unparsable code yielded no finding.`);
  return lines.join('\n') + '\n';
}
