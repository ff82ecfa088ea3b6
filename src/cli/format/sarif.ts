import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RULES, docsUrl } from '../../core/rules/index';
import type { Severity } from '../../core/types';
import type { LocatedFinding, Report } from '../report';

/** The schema a SARIF consumer validates against. */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

const INFORMATION_URI = 'https://github.com/cpyref/cpyref';

/** The base id that relative artifact URIs resolve against (the working directory). */
const SRCROOT = '%SRCROOT%';

/** SARIF has no "hint"; `note` is its least severe level. */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  error: 'error',
  warning: 'warning',
  information: 'note',
  hint: 'note',
};

interface ArtifactLocation {
  uri: string;
  uriBaseId?: string;
}

interface Region {
  startLine: number;
  startColumn: number;
  endLine?: number;
  endColumn?: number;
}

/** `borrowed-singleton-return` -> `BorrowedSingletonReturn`. */
function pascalCase(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/**
 * A displayed path as a SARIF artifact location: absolute paths become `file:` URLs,
 * relative ones a percent-encoded URI reference resolved against `%SRCROOT%`.
 */
function artifactLocation(p: string): ArtifactLocation {
  if (path.isAbsolute(p)) return { uri: pathToFileURL(p).href };
  const segments = p
    .replace(/\\/g, '/')
    .split('/')
    .filter((s, i) => !(s === '.' || (s === '' && i > 0)));
  return { uri: segments.map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

/** The file URL of a folder, ending in `/` so relative URIs resolve inside it (SARIF §3.14.14). */
function folderUrl(dir: string): string {
  const href = pathToFileURL(path.resolve(dir)).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** A region, or none when the position is unknown (SARIF lines and columns start at 1). */
function region(line: number, column: number, endLine?: number, endColumn?: number): Region | undefined {
  if (line < 1 || column < 1) return undefined;
  const r: Region = { startLine: line, startColumn: column };
  if (endLine !== undefined && endColumn !== undefined && endLine >= 1 && endColumn >= 1) {
    r.endLine = endLine;
    r.endColumn = endColumn;
  }
  return r;
}

function physicalLocation(p: string, r: Region | undefined) {
  return { artifactLocation: artifactLocation(p), ...(r ? { region: r } : {}) };
}

/**
 * A fingerprint that survives edits elsewhere in the file: it hashes what the finding
 * is (rule, file, function), never its line nor its wording, plus its rank among identical
 * findings so two equal returns in one function still differ.
 */
function fingerprints(findings: readonly LocatedFinding[]): string[] {
  const seen = new Map<string, number>();
  return findings.map((f) => {
    // Not the message: rewording a message must not close and reopen every code-scanning alert.
    const key = [f.rule, f.path.replace(/\\/g, '/'), f.function ?? ''].join('\0');
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return createHash('sha256').update(`${key}\0${n}`).digest('hex');
  });
}

/** One SARIF 2.1.0 log, for code-scanning services and SARIF viewers. */
export function formatSarif(report: Report, opts: { toolVersion: string; cwd: string }): string {
  const ruleIndex = new Map(RULES.map((r, i) => [r.id, i]));
  const prints = fingerprints(report.findings);

  const results = report.findings.map((f, i) => {
    const own = physicalLocation(f.path, region(f.line, f.column, f.endLine, f.endColumn));
    const related = f.related.map((r, j) => ({
      id: j + 1,
      physicalLocation: physicalLocation(r.path, region(r.line, r.column)),
      message: { text: r.message },
    }));
    const index = ruleIndex.get(f.rule);
    return {
      ruleId: f.rule,
      ...(index !== undefined ? { ruleIndex: index } : {}),
      level: LEVEL[f.severity],
      // Code-scanning views show this text alone: the short message, then why it matters.
      message: { text: f.detail ? `${f.message}. ${f.detail}` : f.message },
      locations: [
        {
          physicalLocation: own,
          ...(f.function !== null ? { logicalLocations: [{ name: f.function, kind: 'function' }] } : {}),
        },
      ],
      partialFingerprints: { 'cpyref/v1': prints[i] },
      ...(related.length > 0
        ? {
            relatedLocations: related,
            codeFlows: [
              {
                threadFlows: [
                  {
                    locations: [
                      ...related.map((r) => ({ location: { physicalLocation: r.physicalLocation, message: r.message } })),
                      { location: { physicalLocation: own, message: { text: f.message } } },
                    ],
                  },
                ],
              },
            ],
          }
        : {}),
      ...(f.fixes.length > 0
        ? {
            fixes: f.fixes.map((x) => ({
              description: { text: x.description },
              artifactChanges: [
                {
                  artifactLocation: artifactLocation(f.path),
                  replacements: x.edits.map((e) => ({
                    deletedRegion: { startLine: e.line, startColumn: e.column, endLine: e.endLine, endColumn: e.endColumn },
                    insertedContent: { text: e.newText },
                  })),
                },
              ],
              properties: { safe: x.safe },
            })),
          }
        : {}),
    };
  });

  const log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'cpyref',
            version: opts.toolVersion,
            informationUri: INFORMATION_URI,
            rules: RULES.map((r) => ({
              id: r.id,
              name: pascalCase(r.id),
              shortDescription: { text: r.summary },
              helpUri: docsUrl(r.id),
              defaultConfiguration: { level: LEVEL[r.defaultSeverity] },
              properties: { fixable: r.fixable },
            })),
          },
        },
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: report.skipped.map((s) => ({
              level: 'warning',
              message: { text: `skipped ${s.path}: ${s.reason}` },
              locations: [{ physicalLocation: physicalLocation(s.path, undefined) }],
            })),
          },
        ],
        originalUriBaseIds: { [SRCROOT]: { uri: folderUrl(opts.cwd) } },
        // LineIndex counts columns in UTF-16 units, as VS Code and GitHub do.
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
  return JSON.stringify(log, null, 2) + '\n';
}
