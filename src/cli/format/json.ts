import type { Report } from '../report';

/** The JSON contract of SPEC §6: one object, `version` 1. */
export function formatJson(report: Report): string {
  return JSON.stringify({ version: 1, findings: report.findings, skipped: report.skipped, summary: report.summary }, null, 2) + '\n';
}
