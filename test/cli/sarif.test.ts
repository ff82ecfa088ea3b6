import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { formatSarif } from '../../src/cli/format/sarif';
import type { LocatedFinding, Report } from '../../src/cli/report';
import { RULES, docsUrl } from '../../src/core/rules/index';
import type { Severity } from '../../src/core/types';

const ROOT = path.resolve(__dirname, '../../..');
const SCHEMA_PATH = path.resolve(ROOT, 'data/sarif-schema-2.1.0.json');

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')));

const OPTS = { toolVersion: '0.1.0', cwd: path.resolve('/tmp/proj ect') };

/** Fails with every schema error printed, so a broken log says what is wrong. */
function assertValid(log: unknown): void {
  const ok = validate(log);
  assert.ok(ok, `SARIF log does not validate:\n${JSON.stringify(validate.errors, null, 2)}`);
}

function finding(over: Partial<LocatedFinding>): LocatedFinding {
  return {
    path: 'src/mod.c',
    line: 10,
    column: 5,
    endLine: 10,
    endColumn: 20,
    rule: 'borrowed-singleton-return',
    severity: 'error',
    message: '`close_ctx` returns borrowed `Py_None`; CPython expects a new reference',
    detail: null,
    function: 'close_ctx',
    fixes: [],
    related: [],
    ...over,
  };
}

function report(findings: LocatedFinding[], skipped: Report['skipped'] = []): Report {
  const bySeverity: Record<Severity, number> = { error: 0, warning: 0, information: 0, hint: 0 };
  const byRule: Record<string, number> = {};
  for (const f of findings) {
    bySeverity[f.severity]++;
    byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
  }
  return {
    findings,
    skipped,
    summary: {
      files: 3,
      skipped: skipped.length,
      findings: findings.length,
      bySeverity,
      byRule,
      fixable: findings.filter((f) => f.fixes.some((x) => x.safe)).length,
      fixed: 0,
      parsedFiles: 3,
      errorRegions: 0,
      skippedFunctions: 0,
    },
  };
}

const TWO_FIXES = finding({
  rule: 'borrowed-singleton-return',
  severity: 'error',
  fixes: [
    {
      description: 'Use Py_RETURN_NONE',
      safe: true,
      edits: [{ line: 10, column: 5, endLine: 10, endColumn: 20, newText: 'Py_RETURN_NONE;' }],
    },
    {
      description: 'Use Py_NewRef(Py_None)',
      safe: false,
      edits: [
        { line: 10, column: 12, endLine: 10, endColumn: 19, newText: 'Py_NewRef(Py_None)' },
        { line: 3, column: 1, endLine: 3, endColumn: 1, newText: '#include "pythoncapi_compat.h"\n' },
      ],
    },
  ],
});

const WITH_RELATED = finding({
  path: 'src/sub dir/with space.c',
  line: 42,
  column: 3,
  endLine: 43,
  endColumn: 9,
  severity: 'warning',
  message: '`RETURN_NONE` returns borrowed `Py_None`; CPython expects a new reference',
  function: 'get_value',
  related: [
    { path: 'include/macros.h', line: 7, column: 9, message: 'macro `RETURN_NONE` defined here' },
    { path: 'src/sub dir/with space.c', line: 40, column: 5, message: 'the function is Python-facing' },
  ],
});

const NO_FUNCTION = finding({
  path: 'src\\win\\file.c',
  line: 1,
  column: 1,
  endLine: 1,
  endColumn: 60,
  rule: 'unused-ignore',
  severity: 'information',
  message: 'This suppression suppresses nothing.',
  function: null,
});

const HINT = finding({
  line: 30,
  column: 5,
  endLine: 31,
  endColumn: 20,
  rule: 'prefer-return-macro',
  severity: 'hint',
  message: 'Use `Py_RETURN_NONE`.',
  function: 'other',
});

const FULL = report(
  [TWO_FIXES, WITH_RELATED, NO_FUNCTION, HINT],
  [
    { path: 'build/blob.c', reason: 'binary file' },
    { path: 'huge file.c', reason: 'larger than 8 MB' },
  ],
);

type Json = any;

function sarif(r: Report): Json {
  const text = formatSarif(r, OPTS);
  assert.ok(text.endsWith('}\n'), 'the log ends with a newline');
  return JSON.parse(text);
}

describe('formatSarif', () => {
  it('produces a log that validates against the SARIF 2.1.0 schema for findings with fixes, related paths and skipped files', () => {
    assertValid(sarif(FULL));
  });

  it('produces a valid log with every rule and no results for an empty report', () => {
    const log = sarif(report([]));
    assertValid(log);
    assert.deepEqual(log.runs[0].results, []);
    assert.equal(log.runs[0].tool.driver.rules.length, RULES.length);
  });

  it('rejects a log with no version, so the schema check can fail', () => {
    const log = sarif(FULL);
    delete log.version;
    assert.equal(validate(log), false);
  });

  it('rejects a region that starts at column 0', () => {
    const log = sarif(FULL);
    log.runs[0].results[0].locations[0].physicalLocation.region.startColumn = 0;
    assert.equal(validate(log), false);
  });

  it('declares the schema, the version, the tool and the source root', () => {
    const log = sarif(FULL);
    assert.equal(log.$schema, 'https://json.schemastore.org/sarif-2.1.0.json');
    assert.equal(log.version, '2.1.0');
    assert.equal(log.runs.length, 1);
    const driver = log.runs[0].tool.driver;
    assert.equal(driver.name, 'cpyref');
    assert.equal(driver.version, '0.1.0');
    assert.match(driver.informationUri, /^https:\/\//);
    const root = log.runs[0].originalUriBaseIds['%SRCROOT%'].uri;
    assert.match(root, /^file:\/\/.*\/$/);
    assert.ok(root.includes('proj%20ect'), root);
  });

  it('lists every rule with its PascalCase name, summary, docs URL and default level', () => {
    const rules = sarif(FULL).runs[0].tool.driver.rules;
    assert.deepEqual(
      rules.map((r: Json) => r.id),
      RULES.map((r) => r.id),
    );
    const bsr = rules.find((r: Json) => r.id === 'borrowed-singleton-return');
    assert.equal(bsr.name, 'BorrowedSingletonReturn');
    assert.equal(bsr.helpUri, docsUrl('borrowed-singleton-return'));
    const prm = rules.find((r: Json) => r.id === 'prefer-return-macro');
    assert.equal(prm.defaultConfiguration.level, 'note');
    for (const [i, r] of RULES.entries()) assert.equal(rules[i].shortDescription.text, r.summary);
  });

  it('maps error, warning, information and hint to error, warning, note and note', () => {
    const results = sarif(FULL).runs[0].results;
    assert.deepEqual(
      results.map((r: Json) => r.level),
      ['error', 'warning', 'note', 'note'],
    );
  });

  it('points each ruleIndex at the rule with the same id', () => {
    const run = sarif(FULL).runs[0];
    for (const r of run.results) {
      assert.equal(run.tool.driver.rules[r.ruleIndex].id, r.ruleId);
    }
    assert.deepEqual(
      run.results.map((r: Json) => r.ruleId),
      ['borrowed-singleton-return', 'borrowed-singleton-return', 'unused-ignore', 'prefer-return-macro'],
    );
  });

  it('gives the region of the finding and names its function as a logical location', () => {
    const [first, , noFn] = sarif(FULL).runs[0].results;
    assert.deepEqual(first.locations[0].physicalLocation.region, {
      startLine: 10,
      startColumn: 5,
      endLine: 10,
      endColumn: 20,
    });
    assert.deepEqual(first.locations[0].logicalLocations, [{ name: 'close_ctx', kind: 'function' }]);
    assert.equal(noFn.locations[0].logicalLocations, undefined);
    assert.equal(first.message.text, TWO_FIXES.message);
  });

  it('puts the detail after the short message, where code-scanning views show only that text', () => {
    const detail = "Each call lowers None's reference count, and CPython ≤ 3.11 aborts with 'deallocating None'.";
    const [r] = sarif(report([finding({ detail })])).runs[0].results;
    assert.equal(r.message.text, `${finding({}).message}. ${detail}`);
  });

  it('emits one SARIF fix per fix, with replacement regions equal to the edits', () => {
    const result = sarif(FULL).runs[0].results[0];
    assert.equal(result.fixes.length, 2);
    for (const [i, fix] of TWO_FIXES.fixes.entries()) {
      const out = result.fixes[i];
      assert.equal(out.description.text, fix.description);
      assert.equal(out.artifactChanges.length, 1);
      assert.deepEqual(out.artifactChanges[0].artifactLocation, { uri: 'src/mod.c', uriBaseId: '%SRCROOT%' });
      assert.deepEqual(
        out.artifactChanges[0].replacements,
        fix.edits.map((e) => ({
          deletedRegion: { startLine: e.line, startColumn: e.column, endLine: e.endLine, endColumn: e.endColumn },
          insertedContent: { text: e.newText },
        })),
      );
    }
    assert.equal(sarif(FULL).runs[0].results[1].fixes, undefined);
  });

  it('gives related locations ids and messages, and a code flow through them ending at the finding', () => {
    const result = sarif(FULL).runs[0].results[1];
    assert.deepEqual(
      result.relatedLocations.map((r: Json) => [r.id, r.physicalLocation.artifactLocation.uri, r.physicalLocation.region.startLine, r.message.text]),
      [
        [1, 'include/macros.h', 7, 'macro `RETURN_NONE` defined here'],
        [2, 'src/sub%20dir/with%20space.c', 40, 'the function is Python-facing'],
      ],
    );
    assert.equal(result.codeFlows.length, 1);
    assert.equal(result.codeFlows[0].threadFlows.length, 1);
    const steps = result.codeFlows[0].threadFlows[0].locations.map((l: Json) => [
      l.location.physicalLocation.artifactLocation.uri,
      l.location.physicalLocation.region.startLine,
    ]);
    assert.deepEqual(steps, [
      ['include/macros.h', 7],
      ['src/sub%20dir/with%20space.c', 40],
      ['src/sub%20dir/with%20space.c', 42],
    ]);
    assert.equal(sarif(FULL).runs[0].results[0].codeFlows, undefined);
  });

  it('percent-encodes paths with spaces and writes backslashes as forward slashes', () => {
    const results = sarif(FULL).runs[0].results;
    assert.deepEqual(results[1].locations[0].physicalLocation.artifactLocation, {
      uri: 'src/sub%20dir/with%20space.c',
      uriBaseId: '%SRCROOT%',
    });
    assert.equal(results[2].locations[0].physicalLocation.artifactLocation.uri, 'src/win/file.c');
    const odd = sarif(report([finding({ path: './a#b?c%d.c' })])).runs[0].results[0];
    assert.equal(odd.locations[0].physicalLocation.artifactLocation.uri, 'a%23b%3Fc%25d.c');
  });

  it('writes absolute paths as file URLs without a base id', () => {
    const abs = path.resolve('/tmp/x y/m.c');
    const loc = sarif(report([finding({ path: abs })])).runs[0].results[0].locations[0].physicalLocation.artifactLocation;
    assert.match(loc.uri, /^file:\/\/.*\/x%20y\/m\.c$/);
    assert.equal(loc.uriBaseId, undefined);
  });

  it('keeps fingerprints stable across runs and when a finding moves to another line', () => {
    const a = sarif(FULL).runs[0].results.map((r: Json) => r.partialFingerprints['cpyref/v1']);
    const b = sarif(FULL).runs[0].results.map((r: Json) => r.partialFingerprints['cpyref/v1']);
    assert.deepEqual(a, b);
    for (const p of a) assert.match(p, /^[0-9a-f]{64}$/);
    const moved = sarif(report([{ ...TWO_FIXES, line: 99, endLine: 99 }])).runs[0].results[0];
    assert.equal(moved.partialFingerprints['cpyref/v1'], a[0]);
  });

  it('gives different findings different fingerprints, including identical findings in one function', () => {
    const a = sarif(FULL).runs[0].results.map((r: Json) => r.partialFingerprints['cpyref/v1']);
    assert.equal(new Set(a).size, a.length);
    const twins = sarif(report([finding({ line: 5, endLine: 5 }), finding({ line: 8, endLine: 8 })])).runs[0].results;
    assert.notEqual(twins[0].partialFingerprints['cpyref/v1'], twins[1].partialFingerprints['cpyref/v1']);
  });

  it('reports each skipped file as a warning notification of a successful invocation', () => {
    const [invocation] = sarif(FULL).runs[0].invocations;
    assert.equal(invocation.executionSuccessful, true);
    assert.deepEqual(
      invocation.toolExecutionNotifications.map((n: Json) => [n.level, n.message.text]),
      [
        ['warning', 'skipped build/blob.c: binary file'],
        ['warning', 'skipped huge file.c: larger than 8 MB'],
      ],
    );
  });
});
