import type { Report } from '../report';

const KIND = { error: 'error', warning: 'warning', information: 'notice', hint: 'notice' } as const;

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** GitHub Actions workflow commands, so findings show as annotations on the pull request. */
export function formatGithub(report: Report): string {
  return report.findings
    .map(
      (f) =>
        `::${KIND[f.severity]} file=${escapeProperty(f.path)},line=${f.line},col=${f.column},endLine=${f.endLine},endColumn=${f.endColumn},title=${escapeProperty(`cpyref ${f.rule}`)}::${escapeData(f.detail ? `${f.message}\n${f.detail}` : f.message)}\n`,
    )
    .join('');
}
