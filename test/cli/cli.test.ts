import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { EXIT_ERROR, EXIT_FINDINGS, EXIT_OK } from '../../src/cli/main';
import { RULES } from '../../src/core/rules/index';
import { defaultOptions } from '../../src/core/options';
import { collectFiles, FileFilter } from '../../src/node/files';
import { EarlyWorkers, listStartingWorkers, scanFiles, splitRuns, takeBatch } from '../../src/node/scan';
import { SCAN_V8_FLAGS } from '../../src/node/tiering';
import { diskIndexSource } from '../../src/node/index-source';
import { IndexAlongScan } from '../../src/node/scan-index';
import { ProjectRoots } from '../../src/node/projects';
import { NameSet } from '../../src/core/project-index';
import { REPO } from '../helpers/engine';
import {
  CLEAN,
  lines,
  REGISTERED_BUG,
  removeTempDirs,
  runCli,
  runJson,
  tempProject,
  TEXT_LINE,
  UNREGISTERED_HELPER,
  VERBOSE_RETURN,
} from './cli-harness';

type Json = any;

after(removeTempDirs);

describe('cpyref exit codes', () => {
  it('names the exit codes 0, 1 and 2', () => {
    assert.deepEqual([EXIT_OK, EXIT_FINDINGS, EXIT_ERROR], [0, 1, 2]);
  });
});

describe('cpyref text output', () => {
  it('prints path:line:col: severity: message [rule-id] with 1-based positions and exits 1 for an error', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['mod.c']);
    assert.equal(r.code, EXIT_FINDINGS, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 1, r.stdout);
    const m = TEXT_LINE.exec(out[0]);
    assert.ok(m, `not in the text format: ${out[0]}`);
    assert.deepEqual([m[1], m[2], m[3], m[4], m[6]], ['mod.c', '6', '5', 'error', 'borrowed-singleton-return']);
    assert.match(m[5], /spam_close/);
  });

  it('prints nothing and exits 0 for a clean file', async () => {
    const dir = tempProject({ 'mod.c': CLEAN });
    const r = await runCli(dir, ['mod.c']);
    assert.equal(r.code, EXIT_OK, r.stderr);
    assert.equal(r.stdout, '');
  });

  it('exits 0 when the only findings are information (an unregistered helper)', async () => {
    const dir = tempProject({ 'helper.c': UNREGISTERED_HELPER });
    const r = await runCli(dir, ['helper.c']);
    assert.equal(r.code, EXIT_OK, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 1, r.stdout);
    const m = TEXT_LINE.exec(out[0]);
    assert.ok(m, out[0]);
    assert.deepEqual([m[1], m[2], m[3], m[4], m[6]], ['helper.c', '6', '5', 'information', 'borrowed-singleton-return']);
  });

  it('exits 1 for information findings with --fail-level information, and 0 with --fail-level warning', async () => {
    const dir = tempProject({ 'helper.c': UNREGISTERED_HELPER });
    assert.equal((await runCli(dir, ['--fail-level', 'information', 'helper.c'])).code, EXIT_FINDINGS);
    assert.equal((await runCli(dir, ['--fail-level', 'warning', 'helper.c'])).code, EXIT_OK);
  });

  it('scans the current folder when no path is given', async () => {
    const dir = tempProject({ 'sub/mod.c': REGISTERED_BUG });
    const r = await runCli(dir, []);
    assert.equal(r.code, EXIT_FINDINGS);
    assert.match(r.stdout, /^sub\/mod\.c:6:5: error: /m);
  });

  it('prints the summary on standard error, never on standard output, and --quiet drops it', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['mod.c']);
    for (const l of lines(r.stdout)) assert.match(l, TEXT_LINE);
    assert.match(r.stderr, /1 finding/);
    const q = await runCli(dir, ['--quiet', 'mod.c']);
    assert.equal(q.stderr, '');
    assert.equal(q.stdout, r.stdout);
    assert.equal(q.code, EXIT_FINDINGS);
  });
});

const FINDING_KEYS = ['column', 'detail', 'endColumn', 'endLine', 'fixes', 'function', 'line', 'message', 'path', 'related', 'rule', 'severity'];

describe('cpyref --format json', () => {
  it('prints one object with exactly the keys of the JSON contract', async () => {
    const dir = tempProject({
      'src/mod.c': REGISTERED_BUG,
      'src/helper.c': UNREGISTERED_HELPER,
      'src/blob.c': Buffer.from([0x69, 0x6e, 0x74, 0x00, 0x00, 0x01]),
    });
    const { code, doc } = await runJson(dir, ['src']);
    assert.equal(code, EXIT_FINDINGS);
    assert.deepEqual(Object.keys(doc).sort(), ['findings', 'skipped', 'summary', 'version']);
    assert.equal(doc.version, 1);
    assert.equal(doc.findings.length, 2);
    for (const f of doc.findings as Json[]) {
      assert.deepEqual(Object.keys(f).sort(), FINDING_KEYS);
      for (const k of ['line', 'column', 'endLine', 'endColumn']) assert.ok(Number.isInteger(f[k]) && f[k] >= 1, `${k} = ${f[k]}`);
      // A short message for the Problems panel and for grep; why it matters in the detail.
      assert.ok(f.message.length <= 100, `a short message: ${f.message}`);
      assert.match(f.detail, /reference count/);
      assert.ok(f.fixes.length >= 1);
      for (const fix of f.fixes as Json[]) {
        assert.deepEqual(Object.keys(fix).sort(), ['description', 'edits', 'safe']);
        assert.equal(typeof fix.description, 'string');
        assert.equal(typeof fix.safe, 'boolean');
        for (const e of fix.edits as Json[]) {
          assert.deepEqual(Object.keys(e).sort(), ['column', 'endColumn', 'endLine', 'line', 'newText']);
          for (const k of ['line', 'column', 'endLine', 'endColumn']) assert.ok(Number.isInteger(e[k]) && e[k] >= 1);
        }
      }
      for (const rel of f.related as Json[]) assert.deepEqual(Object.keys(rel).sort(), ['column', 'line', 'message', 'path']);
    }
    assert.deepEqual(doc.skipped.length, 1);
    assert.deepEqual(Object.keys(doc.skipped[0]).sort(), ['path', 'reason']);
    assert.equal(typeof doc.summary, 'object');
    assert.equal(doc.summary.findings, 2);
  });

  it('gives 1-based positions, the function, the safe fix and where the method is registered', async () => {
    const dir = tempProject({ 'src/mod.c': REGISTERED_BUG });
    const { doc } = await runJson(dir, ['src']);
    const [f] = doc.findings;
    assert.equal(f.path, path.join('src', 'mod.c'));
    assert.deepEqual([f.line, f.column, f.endLine], [6, 5, 6]);
    assert.equal(f.rule, 'borrowed-singleton-return');
    assert.equal(f.severity, 'error');
    assert.equal(f.function, 'spam_close');
    const safe = f.fixes.filter((x: Json) => x.safe);
    assert.equal(safe.length, 1);
    assert.deepEqual(
      safe[0].edits.map((e: Json) => [e.line, e.column, e.newText]),
      [[6, 5, 'Py_RETURN_NONE']],
    );
    assert.deepEqual(
      f.related.map((r: Json) => [r.path, r.line]),
      [[path.join('src', 'mod.c'), 10]],
    );
  });

  it('joins the path given on the command line with the path of the file below it', async () => {
    const dir = tempProject({ 'src/mod.c': REGISTERED_BUG, 'src/deep/er/other.c': REGISTERED_BUG });
    const { doc } = await runJson(dir, ['src']);
    assert.deepEqual(doc.findings.map((f: Json) => f.path).sort(), [path.join('src', 'deep', 'er', 'other.c'), path.join('src', 'mod.c')]);
    const single = await runJson(dir, ['src/deep/er/other.c']);
    assert.deepEqual(
      single.doc.findings.map((f: Json) => f.path),
      ['src/deep/er/other.c'],
    );
    const abs = path.join(dir, 'src');
    const absolute = await runJson(dir, [abs]);
    assert.deepEqual(absolute.doc.findings.map((f: Json) => f.path).sort(), [path.join(abs, 'deep', 'er', 'other.c'), path.join(abs, 'mod.c')]);
  });

  it('prints an empty findings list and exits 0 for a clean folder', async () => {
    const dir = tempProject({ 'mod.c': CLEAN });
    const { code, doc } = await runJson(dir, ['.']);
    assert.equal(code, EXIT_OK);
    assert.deepEqual(doc.findings, []);
    assert.deepEqual(doc.skipped, []);
  });
});

const SARIF_SCHEMA = path.resolve(REPO, 'data/sarif-schema-2.1.0.json');

describe('cpyref --format sarif', () => {
  it('prints a SARIF 2.1.0 log with one result per finding', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG, 'helper.c': UNREGISTERED_HELPER });
    const json = await runJson(dir, ['.']);
    const r = await runCli(dir, ['--format', 'sarif', '.']);
    assert.equal(r.code, EXIT_FINDINGS);
    const log = JSON.parse(r.stdout);
    assert.equal(log.version, '2.1.0');
    assert.equal(log.runs.length, 1);
    const results = log.runs[0].results;
    assert.equal(results.length, json.doc.findings.length);
    assert.equal(results.length, 2);
    assert.deepEqual(
      results.map((x: Json) => [x.ruleId, x.locations[0].physicalLocation.artifactLocation.uri, x.locations[0].physicalLocation.region.startLine]).sort(),
      [
        ['borrowed-singleton-return', 'helper.c', 6],
        ['borrowed-singleton-return', 'mod.c', 6],
      ],
    );
  });

  it('prints a log of a real scan that validates against the SARIF schema', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG, 'helper.c': UNREGISTERED_HELPER, 'blob.c': Buffer.from([1, 0, 2]) });
    const r = await runCli(dir, ['--format', 'sarif', '.']);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(fs.readFileSync(SARIF_SCHEMA, 'utf8')));
    assert.ok(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors, null, 2));
  });
});

describe('cpyref --format github', () => {
  it('prints one ::error workflow command per error finding, with file, line and column', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--format', 'github', 'mod.c']);
    assert.equal(r.code, EXIT_FINDINGS);
    const out = lines(r.stdout);
    assert.equal(out.length, 1, r.stdout);
    assert.match(out[0], /^::error file=mod\.c,line=6,col=5[,:]/);
    assert.match(out[0], /::.*spam_close/);
  });

  it('prints information findings as ::notice', async () => {
    const dir = tempProject({ 'helper.c': UNREGISTERED_HELPER });
    const r = await runCli(dir, ['--format', 'github', 'helper.c']);
    assert.match(r.stdout, /^::notice file=helper\.c,line=6,col=5[,:]/);
  });
});

describe('cpyref usage errors', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown option', ['--bogus-option'], /bogus-option/],
    ['an unknown rule in --select', ['--select', 'no-such-rule'], /no-such-rule/],
    ['an unknown rule in --ignore', ['--ignore', 'borrowed-singleton-return,nope-rule'], /nope-rule/],
    ['--format bogus', ['--format', 'bogus'], /format/],
    ['a path that does not exist', ['missing-folder/x.c'], /missing-folder\/x\.c/],
    ['bad --python-versions', ['--python-versions', 'banana'], /python-versions.*banana|banana.*python-versions/],
    ['bad --fail-level', ['--fail-level', 'fatal'], /fail-level/],
    ['bad --jobs', ['--jobs', '0'], /jobs/],
    ['--fix with --diff', ['--fix', '--diff'], /--fix.*--diff|--diff.*--fix/],
  ];
  for (const [what, args, message] of cases) {
    it(`exits 2 with a clear message on standard error for ${what}`, async () => {
      const dir = tempProject({ 'mod.c': REGISTERED_BUG });
      const r = await runCli(dir, args);
      assert.equal(r.code, EXIT_ERROR, r.stderr);
      assert.match(r.stderr, /^cpyref: /);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }

  it('names the missing path even when other paths exist, and scans nothing', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['mod.c', 'nope.c']);
    assert.equal(r.code, EXIT_ERROR);
    assert.match(r.stderr, /nope\.c/);
    assert.equal(r.stdout, '');
  });
});

describe('cpyref --select, --ignore and --all', () => {
  const both = REGISTERED_BUG + '\n' + VERBOSE_RETURN.replace('#include <Python.h>\n', '').replace('spam_methods', 'more_methods');

  it('hides prefer-return-macro hints without --all and shows them as information with --all', async () => {
    const dir = tempProject({ 'mod.c': VERBOSE_RETURN });
    const plain = await runJson(dir, ['mod.c']);
    assert.deepEqual(plain.doc.findings, []);
    assert.equal(plain.code, EXIT_OK);
    const all = await runJson(dir, ['--all', 'mod.c']);
    assert.deepEqual(
      all.doc.findings.map((f: Json) => [f.rule, f.severity, f.line, f.column]),
      [['prefer-return-macro', 'information', 6, 5]],
    );
    assert.equal(all.code, EXIT_OK);
    const text = await runCli(dir, ['--all', 'mod.c']);
    assert.match(text.stdout, /^mod\.c:6:5: information: .* \[prefer-return-macro\]$/m);
  });

  it('--select keeps only the selected rules', async () => {
    const dir = tempProject({ 'mod.c': both });
    const all = await runJson(dir, ['--all', 'mod.c']);
    assert.deepEqual([...new Set(all.doc.findings.map((f: Json) => f.rule))].sort(), ['borrowed-singleton-return', 'prefer-return-macro']);
    const sel = await runJson(dir, ['--all', '--select', 'prefer-return-macro', 'mod.c']);
    assert.deepEqual(
      sel.doc.findings.map((f: Json) => f.rule),
      ['prefer-return-macro'],
    );
    assert.equal(sel.code, EXIT_OK);
    const sel2 = await runJson(dir, ['--all', '--select', 'borrowed-singleton-return', 'mod.c']);
    assert.deepEqual(
      sel2.doc.findings.map((f: Json) => f.rule),
      ['borrowed-singleton-return'],
    );
    assert.equal(sel2.code, EXIT_FINDINGS);
  });

  it('--ignore drops the ignored rules and their exit code', async () => {
    const dir = tempProject({ 'mod.c': both });
    const r = await runJson(dir, ['--all', '--ignore', 'borrowed-singleton-return', 'mod.c']);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => f.rule),
      ['prefer-return-macro'],
    );
    assert.equal(r.code, EXIT_OK);
  });

  it('leaves the rules that are off by default off, with or without --ignore, unless --select or the configuration names them', async () => {
    // A new reference lost on an error path: only owned-reference-leak (off by default) reports it.
    const leak = [
      '#include <Python.h>',
      'static PyObject *make(PyObject *self, PyObject *args) {',
      '    PyObject *a = PyLong_FromLong(1);',
      '    if (a == NULL) return NULL;',
      '    PyObject *b = PyLong_FromLong(2);',
      '    if (b == NULL) return NULL;',
      '    return PyTuple_Pack(2, a, b);',
      '}',
      '',
    ].join('\n');
    const off = RULES.filter((r) => r.offByDefault).map((r) => r.id);
    assert.ok(off.includes('owned-reference-leak'));
    const dir = tempProject({ 'mod.c': leak });
    for (const args of [['--all'], ['--all', '--ignore', 'prefer-return-macro']]) {
      const r = await runJson(dir, [...args, 'mod.c']);
      assert.deepEqual(r.doc.findings.filter((f: Json) => off.includes(f.rule)), [], args.join(' '));
    }
    const sel = await runJson(dir, ['--select', 'owned-reference-leak', 'mod.c']);
    assert.ok(sel.doc.findings.some((f: Json) => f.rule === 'owned-reference-leak'), JSON.stringify(sel.doc.findings));
    const conf = tempProject({ 'mod.c': leak, 'pyproject.toml': '[tool.cpyref.rules]\nowned-reference-leak = "warning"\n' });
    const byConf = await runJson(conf, ['mod.c']);
    assert.ok(byConf.doc.findings.some((f: Json) => f.rule === 'owned-reference-leak'), JSON.stringify(byConf.doc.findings) + byConf.stderr);
  });

  it('accepts a comma-separated list in --select', async () => {
    const dir = tempProject({ 'mod.c': both });
    const r = await runJson(dir, ['--all', '--select', 'prefer-return-macro,borrowed-singleton-return', 'mod.c']);
    assert.equal(r.doc.findings.length, 2);
  });
});

describe('cpyref --stdin-filename', () => {
  it('reads the source from standard input and reports it under the given name', async () => {
    const dir = tempProject();
    const r = await runCli(dir, ['--stdin-filename', 'pkg/spam.c'], REGISTERED_BUG);
    assert.equal(r.code, EXIT_FINDINGS, r.stderr);
    assert.match(r.stdout, /^pkg\/spam\.c:6:5: error: .*\[borrowed-singleton-return\]$/m);
    const j = await runJson(dir, ['--stdin-filename', 'pkg/spam.c'], REGISTERED_BUG);
    assert.deepEqual(
      j.doc.findings.map((f: Json) => f.path),
      ['pkg/spam.c'],
    );
  });

  it('exits 0 with no output for a clean standard input', async () => {
    const dir = tempProject();
    const r = await runCli(dir, ['--stdin-filename', 'spam.c'], CLEAN);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.stdout, '');
  });

  it('analyses standard input, not the file on disk with that name', async () => {
    const dir = tempProject({ 'spam.c': CLEAN });
    const r = await runCli(dir, ['--stdin-filename', 'spam.c'], REGISTERED_BUG);
    assert.equal(r.code, EXIT_FINDINGS);
    assert.match(r.stdout, /^spam\.c:6:5: error:/m);
  });

  it('with --fix prints the fixed source on standard output and writes no file', async () => {
    const dir = tempProject();
    const r = await runCli(dir, ['--fix', '--stdin-filename', 'spam.c'], REGISTERED_BUG);
    assert.equal(r.stdout, REGISTERED_BUG.replace('    return Py_None;', '    Py_RETURN_NONE;'));
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('with --fix prints a clean source unchanged', async () => {
    const dir = tempProject();
    const r = await runCli(dir, ['--fix', '--stdin-filename', 'spam.c'], CLEAN);
    assert.equal(r.stdout, CLEAN);
  });
});

describe('cpyref skipped files', () => {
  it('lists a binary .c file as skipped with its reason, still scans the others, and keeps exit 0 when nothing is found', async () => {
    const dir = tempProject({
      'foo.c': Buffer.concat([Buffer.from('int x;\n'), Buffer.from([0, 0, 0, 7, 0])]),
      'ok.c': CLEAN,
    });
    const { code, doc, stderr } = await runJson(dir, ['.']);
    assert.equal(code, EXIT_OK, stderr);
    assert.deepEqual(
      doc.skipped.map((s: Json) => s.path),
      ['foo.c'],
    );
    assert.match(doc.skipped[0].reason, /binary/i);
    assert.equal(doc.summary.files, 1);
    assert.deepEqual(doc.findings, []);
  });

  it('still reports findings in other files next to a binary one', async () => {
    const dir = tempProject({ 'foo.c': Buffer.from([0x00, 0x01, 0x02]), 'mod.c': REGISTERED_BUG });
    const { code, doc } = await runJson(dir, ['.']);
    assert.equal(code, EXIT_FINDINGS);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.path),
      ['mod.c'],
    );
    assert.equal(doc.skipped.length, 1);
  });

  it('lists a file over --max-file-size as skipped with its reason and scans the small ones', async () => {
    const small = 'static int add(int a, int b) { return a + b; }\n';
    assert.ok(Buffer.byteLength(small) < 100);
    const dir = tempProject({ 'big.c': REGISTERED_BUG, 'small.c': small });
    assert.ok(Buffer.byteLength(REGISTERED_BUG) > 100);
    const { code, doc } = await runJson(dir, ['--max-file-size', '100', '.']);
    assert.equal(code, EXIT_OK);
    assert.deepEqual(
      doc.skipped.map((s: Json) => s.path),
      ['big.c'],
    );
    assert.match(doc.skipped[0].reason, /size|large/i);
    assert.equal(doc.summary.files, 1);
    assert.deepEqual(doc.findings, []);
  });

  it('names skipped files and their reasons in the text summary on standard error', async () => {
    const dir = tempProject({ 'foo.c': Buffer.from([0x00, 0x01]), 'ok.c': CLEAN });
    const r = await runCli(dir, ['.']);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /foo\.c.*binary/i);
  });

  it('lists a broken symbolic link as skipped and scans the other files', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    fs.symlinkSync(path.join(dir, 'gone.c'), path.join(dir, 'dangling.c'));
    const { code, doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.skipped.map((s: Json) => s.path),
      ['dangling.c'],
    );
    assert.match(doc.skipped[0].reason, /link/);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.path),
      ['mod.c'],
    );
    assert.equal(code, EXIT_FINDINGS);
  });

  it('skips a named pipe given on the command line instead of blocking on it', async () => {
    const dir = tempProject({ 'ok.c': CLEAN });
    const made = spawnSync('mkfifo', [path.join(dir, 'pipe.c')]);
    assert.equal(made.status, 0, 'mkfifo is available');
    const { code, doc } = await runJson(dir, ['pipe.c', 'ok.c']);
    assert.deepEqual(
      doc.skipped.map((s: Json) => s.path),
      ['pipe.c'],
    );
    assert.match(doc.skipped[0].reason, /regular file/);
    assert.equal(doc.summary.files, 1);
    assert.equal(code, EXIT_OK);
  });

  it('skips an unreadable file with its reason (or, as root, where chmod 000 does not stop reading, scans it)', async () => {
    const dir = tempProject({ 'locked.c': REGISTERED_BUG, 'ok.c': CLEAN });
    const locked = path.join(dir, 'locked.c');
    fs.chmodSync(locked, 0o000);
    try {
      let readable = true;
      try {
        fs.readFileSync(locked);
      } catch {
        readable = false;
      }
      const { code, doc } = await runJson(dir, ['.']);
      if (readable) {
        assert.deepEqual(doc.skipped, []);
        assert.deepEqual(
          doc.findings.map((f: Json) => f.path),
          ['locked.c'],
        );
        assert.equal(code, EXIT_FINDINGS);
      } else {
        assert.deepEqual(
          doc.skipped.map((s: Json) => s.path),
          ['locked.c'],
        );
        assert.match(doc.skipped[0].reason, /unreadable|permission|EACCES/i);
        assert.equal(doc.summary.files, 1);
        assert.equal(code, EXIT_OK);
      }
    } finally {
      fs.chmodSync(locked, 0o644);
    }
  });
});

describe('cpyref configuration (pyproject.toml)', () => {
  it('turns a rule off with [tool.cpyref] rules', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref]\nrules = { borrowed-singleton-return = "off" }\n',
      'mod.c': REGISTERED_BUG,
    });
    const { code, doc, stderr } = await runJson(dir, ['.']);
    assert.equal(stderr, '');
    assert.deepEqual(doc.findings, []);
    assert.equal(code, EXIT_OK);
  });

  it('lowers a finding to a warning when python-versions targets only immortal singletons (>=3.12)', async () => {
    const dir = tempProject({ 'pyproject.toml': '[tool.cpyref]\npython-versions = ">=3.12"\n', 'mod.c': REGISTERED_BUG });
    const { code, doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => [f.rule, f.severity]),
      [['borrowed-singleton-return', 'warning']],
    );
    assert.equal(code, EXIT_OK);
  });

  it('takes the targeted versions from [project] requires-python when [tool.cpyref] does not set them', async () => {
    const dir = tempProject({ 'pyproject.toml': '[project]\nname = "spam"\nrequires-python = ">=3.12"\n', 'mod.c': REGISTERED_BUG });
    const { doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.severity),
      ['warning'],
    );
  });

  it('lets --python-versions on the command line override the file', async () => {
    const dir = tempProject({ 'pyproject.toml': '[tool.cpyref]\npython-versions = ">=3.12"\n', 'mod.c': REGISTERED_BUG });
    const { code, doc } = await runJson(dir, ['--python-versions', '>=3.8', '.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.severity),
      ['error'],
    );
    assert.equal(code, EXIT_FINDINGS);
    const flag = await runJson(tempProject({ 'mod.c': REGISTERED_BUG }), ['--python-versions', '>=3.12', '.']);
    assert.deepEqual(
      flag.doc.findings.map((f: Json) => f.severity),
      ['warning'],
    );
  });

  it('reports an unknown key with the file and the key on standard error, and applies the rest', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref]\ncolour = "red"\nrules = { borrowed-singleton-return = "off" }\n',
      'mod.c': REGISTERED_BUG,
    });
    const { code, doc, stderr } = await runJson(dir, ['.']);
    assert.match(stderr, /pyproject\.toml:2:1: tool\.cpyref\.colour: unknown key/);
    assert.deepEqual(doc.findings, []);
    assert.equal(code, EXIT_OK);
  });

  it('excludes a folder listed in extend-exclude, and keeps scanning the rest', async () => {
    const files = { 'vendor/lib.c': REGISTERED_BUG, 'src/mod.c': REGISTERED_BUG };
    const control = await runJson(tempProject(files), ['.']);
    assert.equal(control.doc.findings.length, 2);
    const dir = tempProject({ ...files, 'pyproject.toml': '[tool.cpyref]\nextend-exclude = ["vendor/"]\n' });
    const { doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.path),
      [path.join('src', 'mod.c')],
    );
    assert.equal(doc.summary.files, 1);
  });

  it('reports a bad value with the file and key, and applies the rest', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref]\npython-versions = 3.12\nextend-exclude = ["vendor/"]\n',
      'vendor/lib.c': REGISTERED_BUG,
      'mod.c': REGISTERED_BUG,
    });
    const { doc, stderr } = await runJson(dir, ['.']);
    assert.match(stderr, /pyproject\.toml/);
    assert.match(stderr, /python-versions/);
    assert.deepEqual(
      doc.findings.map((f: Json) => [f.path, f.severity]),
      [['mod.c', 'error']],
    );
  });

  it('reports an unknown rule id in the rules table with the file and key', async () => {
    const dir = tempProject({ 'pyproject.toml': '[tool.cpyref.rules]\nno-such-rule = "off"\n', 'mod.c': REGISTERED_BUG });
    const { doc, stderr } = await runJson(dir, ['.']);
    assert.match(stderr, /pyproject\.toml.*no-such-rule/);
    assert.equal(doc.findings.length, 1);
  });

  it('reports a pyproject.toml that is not valid TOML with its file name and still scans', async () => {
    const dir = tempProject({ 'pyproject.toml': '[tool.cpyref\nrules = 1\n', 'mod.c': REGISTERED_BUG });
    const { code, doc, stderr } = await runJson(dir, ['.']);
    assert.match(stderr, /pyproject\.toml/);
    assert.equal(doc.findings.length, 1);
    assert.equal(code, EXIT_FINDINGS);
  });

  it('reads [tool.cpyref] from the file named by --config', async () => {
    const dir = tempProject({ 'ci/strict.toml': '[tool.cpyref]\nrules = { borrowed-singleton-return = "off" }\n', 'mod.c': REGISTERED_BUG });
    const { code, doc } = await runJson(dir, ['--config', 'ci/strict.toml', '.']);
    assert.deepEqual(doc.findings, []);
    assert.equal(code, EXIT_OK);
  });

  it('excludes files matching a slash-less extend-exclude pattern at any depth', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref]\nextend-exclude = ["*_gen.c"]\n',
      'deep/sub/table_gen.c': REGISTERED_BUG,
      'mod.c': REGISTERED_BUG,
    });
    const { doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.path),
      ['mod.c'],
    );
  });

  it('does not report files generated by Cython or a vendored pythoncapi_compat.h', async () => {
    const dir = tempProject({
      'gen.c': '/* Generated by Cython 3.0.11 */\n' + REGISTERED_BUG,
      'include/pythoncapi_compat.h': REGISTERED_BUG,
      'include/mine.h': REGISTERED_BUG,
    });
    const { code, doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => f.path),
      [path.join('include', 'mine.h')],
    );
    assert.equal(code, EXIT_FINDINGS);
  });

  it('excludes build/ folders by default', async () => {
    const dir = tempProject({ 'build/gen.c': REGISTERED_BUG, 'mod.c': CLEAN });
    const { code, doc } = await runJson(dir, ['.']);
    assert.deepEqual(doc.findings, []);
    assert.equal(code, EXIT_OK);
  });

  it('uses the nearest pyproject.toml above the scanned folder', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref]\nrules = { borrowed-singleton-return = "off" }\n',
      'pkg/src/mod.c': REGISTERED_BUG,
    });
    const { code, doc } = await runJson(path.join(dir, 'pkg'), ['src']);
    assert.deepEqual(doc.findings, []);
    assert.equal(code, EXIT_OK);
  });
});

const DEFINES = `#include <Python.h>

PyObject *
ham_close(PyObject *self, PyObject *args)
{
    return Py_None;
}
`;

const REGISTERS = `#include <Python.h>

PyObject *ham_close(PyObject *self, PyObject *args);

static PyMethodDef ham_methods[] = {
    {"close", ham_close, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

describe('cpyref across files', () => {
  it('reports an error in a.c when the PyMethodDef table in b.c registers the function', async () => {
    const dir = tempProject({ 'a.c': DEFINES, 'b.c': REGISTERS });
    const { code, doc } = await runJson(dir, ['.']);
    assert.deepEqual(
      doc.findings.map((f: Json) => [f.path, f.line, f.severity, f.function]),
      [['a.c', 6, 'error', 'ham_close']],
    );
    assert.deepEqual(
      doc.findings[0].related.map((r: Json) => [r.path, r.line]),
      [['b.c', 6]],
    );
    assert.equal(code, EXIT_FINDINGS);
  });

  it('reports only information for a.c when b.c is not part of the scan', async () => {
    const dir = tempProject({ 'a.c': DEFINES, 'b.c': REGISTERS });
    const { code, doc } = await runJson(dir, ['a.c']);
    assert.deepEqual(
      doc.findings.map((f: Json) => [f.path, f.severity]),
      [['a.c', 'information']],
    );
    assert.equal(code, EXIT_OK);
  });
});

function manyFiles(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const next = (i + 1) % n;
    files[`m${String(i).padStart(2, '0')}.c`] = `#include <Python.h>

PyObject *shared_${i}(PyObject *self, PyObject *args);
PyObject *shared_${next}(PyObject *self, PyObject *args);

PyObject *
shared_${i}(PyObject *self, PyObject *args)
{
    return ${i % 2 ? 'Py_True' : 'Py_None'};
}

static PyObject *
own_${i}(PyObject *self, PyObject *args)
{
    if (args == NULL)
        return NULL;
    return Py_False;
}

static PyObject *
local_helper_${i}(void)
{
    return Py_None;
}

static PyMethodDef methods_${i}[] = {
    {"own", own_${i}, METH_VARARGS, NULL},
    {"shared", shared_${next}, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;
  }
  return files;
}

/** The files of `dir` and the default settings, as `scanFiles` takes them. */
function scanInput(dir: string) {
  const options = defaultOptions();
  const { jobs } = collectFiles([dir], dir, new FileFilter(options, dir));
  return { jobs, settings: { options, includeDirs: [], reportUnusedIgnores: false, projectLimitedApi: false } };
}

/** A project of `n` files (`manyFiles`), its scan's input, its scan on one thread, and the findings of a scan as compared. */
async function scannedOnOneThread(n: number) {
  const { jobs, settings } = scanInput(tempProject(manyFiles(n)));
  const one = await scanFiles(undefined, jobs, settings, { jobs: 1 });
  const findings = (r: typeof one) => r.files.map((f) => [f.display, f.findings.map((x) => `${x.rule}:${x.severity}:${x.start}`)]);
  return { jobs, settings, one, findings };
}

describe('the index read from disk', () => {
  it('reads a file that mentions a name once, for the test and for its text, and one that does not only for the test', (t) => {
    // c.c is larger than the buffer the tests read into at first (64 KB).
    const big = `${'int filler;\n'.repeat(12_000)}static PyObject *make(void);\n`;
    const dir = tempProject({ 'a.c': 'static PyObject *make(void);\n', 'b.c': 'int other;\n', 'c.c': big, 'd.c': 'PyObject *make_d;\n', 'e.c': 'PyObject *make_e;\n' });
    // (The module object itself: the one the index's source calls through.)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeFs: typeof fs = require('node:fs');
    const opens = t.mock.method(nodeFs, 'openSync');
    const reads = t.mock.method(nodeFs, 'readFileSync');
    const [a, b, c, d, e] = ['a.c', 'b.c', 'c.c', 'd.c', 'e.c'].map((f) => diskIndexSource(path.join(dir, f)));
    const names = new NameSet(['make']);
    // A file's text asked for right after its test (as the index does) comes from the bytes the test read.
    assert.equal(a.mentions!(names), true);
    assert.equal(a.text(), 'static PyObject *make(void);\n');
    assert.equal(b.mentions!(names), false);
    assert.equal(c.mentions!(names), true);
    assert.equal(c.text(), big);
    assert.deepEqual(opens.mock.calls.map((x) => path.basename(String(x.arguments[0]))), ['a.c', 'b.c', 'c.c']);
    assert.equal(reads.mock.callCount(), 0);
    // Asked again, the text is read again (the bytes are not kept).
    assert.equal(a.text(), 'static PyObject *make(void);\n');
    assert.deepEqual(reads.mock.calls.map((x) => path.basename(String(x.arguments[0]))), ['a.c']);
    // Asked for after another file's test reused the buffer: read again, not taken from the other file's bytes.
    assert.equal(d.mentions!(names), true);
    assert.equal(e.mentions!(names), true);
    assert.equal(d.text(), 'PyObject *make_d;\n');
    assert.equal(e.text(), 'PyObject *make_e;\n');
    assert.deepEqual(reads.mock.calls.map((x) => path.basename(String(x.arguments[0]))), ['a.c', 'd.c']);
  });
});

describe('cpyref --jobs', () => {
  it('finds the same findings, in the same order, with two worker threads as with one thread (40 files)', async () => {
    const dir = tempProject({ ...manyFiles(40), 'zz-blob.c': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]) });
    const one = await runJson(dir, ['--jobs', '1', '.']);
    const two = await runJson(dir, ['--jobs', '2', '.']);
    assert.equal(one.code, EXIT_FINDINGS, one.stderr);
    assert.equal(two.code, EXIT_FINDINGS, two.stderr);
    assert.equal(one.doc.findings.length, 120);
    assert.deepEqual(
      one.doc.findings.filter((f: Json) => f.severity === 'error').length,
      80,
      'shared_i is registered in the next file, own_i in its own',
    );
    assert.deepEqual(two.doc.findings, one.doc.findings);
    assert.deepEqual(
      one.doc.skipped.map((x: Json) => x.path),
      ['zz-blob.c'],
    );
    assert.deepEqual(two.doc.skipped, one.doc.skipped);
    assert.deepEqual(two.doc.summary, one.doc.summary);
  });

  it('keeps projects apart (each folder with its own project file): another project registering a name decides nothing, with one thread or two', async () => {
    // shared_i is registered in the file after its own; m19 and m39 register the other project's shared_20 and shared_0.
    const files: Record<string, string> = { 'one/pyproject.toml': '', 'two/setup.py': '' };
    for (const [name, text] of Object.entries(manyFiles(40))) files[`${Number(name.slice(1, 3)) < 20 ? 'one' : 'two'}/${name}`] = text;
    const dir = tempProject(files);
    const unregistered = (doc: Json) => doc.findings.filter((f: Json) => f.severity !== 'error' && /^shared_/.test(f.function)).map((f: Json) => f.function);
    for (const jobs of ['1', '2']) {
      const { doc } = await runJson(dir, ['--jobs', jobs, '.']);
      assert.equal(doc.findings.filter((f: Json) => f.severity === 'error').length, 78, `--jobs ${jobs}`);
      assert.deepEqual(unregistered(doc).sort(), ['shared_0', 'shared_20'], `--jobs ${jobs}`);
    }
    // One project: every shared_i is registered again.
    fs.rmSync(path.join(dir, 'one', 'pyproject.toml'));
    fs.rmSync(path.join(dir, 'two', 'setup.py'));
    assert.deepEqual(unregistered((await runJson(dir, ['--jobs', '2', '.'])).doc), []);
  });

  it('builds the project index beside the workers, project by project, as one thread builds it after the files: the same entries, in the same order', async () => {
    // In each project, inner's finding asks about inner; outer returns what inner returns (a second round asks about
    // outer); c_table registers outer. d_other mentions neither. The forty files of `many` make two workers worth it.
    const files: Record<string, string> = { 'one/pyproject.toml': '', 'two/setup.py': '' };
    for (const p of ['one', 'two']) {
      files[`${p}/a_inner.c`] = `#include <Python.h>\nPyObject *inner_${p}(void);\n\nPyObject *\ninner_${p}(void)\n{\n    return Py_None;\n}\n`;
      files[`${p}/b_outer.c`] = `#include <Python.h>\nPyObject *inner_${p}(void);\n\nPyObject *\nouter_${p}(PyObject *self, PyObject *args)\n{\n    return inner_${p}();\n}\n`;
      files[`${p}/c_table.c`] = `#include <Python.h>\nPyObject *outer_${p}(PyObject *, PyObject *);\nstatic PyMethodDef methods[] = {\n    {"outer", outer_${p}, METH_VARARGS, NULL},\n    {NULL}\n};\n`;
      files[`${p}/d_other.c`] = 'int unrelated;\n';
    }
    for (const [name, text] of Object.entries(manyFiles(40))) files[`many/${name}`] = text;
    const dir = tempProject(files);
    const { jobs, settings } = scanInput(dir);
    const one = await scanFiles(undefined, jobs, settings, { jobs: 1 });
    const two = await scanFiles(undefined, jobs, settings, { jobs: 2 });
    const paths = (index: typeof one.index) => index.map((fi) => path.relative(dir, fi.path));
    for (const p of ['one', 'two']) {
      assert.ok(paths(one.index).includes(`${p}/c_table.c`), `${p}: the second round's file is indexed`);
      assert.ok(!paths(one.index).includes(`${p}/d_other.c`));
    }
    assert.deepEqual(paths(two.index), paths(one.index));
    assert.deepEqual(two.index, one.index);
    // The files done in another order (each project's last file first): the same index.
    const along = new IndexAlongScan(jobs, new ProjectRoots().projectOf, undefined, () => new Error('cancelled'));
    for (const f of [...one.files].reverse()) along.add(f);
    assert.deepEqual((await along.finish(one.files)).entries(), one.index);
  });

  // (A scan that missed what an early worker said would wait for it forever: the timeout makes that a failure.)
  it('takes over workers started before the files were listed, even those that said they were ready long before: the same scan', { timeout: 60_000 }, async (t) => {
    const { jobs, settings, one, findings } = await scannedOnOneThread(40);
    const early = new EarlyWorkers(settings);
    early.want(2);
    const take = t.mock.method(early, 'take');
    // (Long enough for both to load and say so before the scan listens.)
    await new Promise((r) => setTimeout(r, 1500));
    const two = await scanFiles(undefined, jobs, settings, { jobs: 2, workers: early });
    assert.deepEqual(findings(two), findings(one));
    assert.deepEqual(two.index, one.index);
    assert.equal(take.mock.calls.filter((c) => c.result).length, 2, 'both early workers analysed');
    assert.equal(early.started.length, 0);
  });

  it('ends early workers it does not use (a scan on its own thread, other settings) and replaces one that runs out of heap', { timeout: 60_000 }, async (t) => {
    const { jobs, settings, one, findings } = await scannedOnOneThread(40);
    // Eight files: one thread, the workers end.
    const few = new EarlyWorkers(settings);
    few.want(2);
    const fewTake = t.mock.method(few, 'take');
    const small = await scanFiles(undefined, jobs.slice(0, 8), settings, { jobs: 2, workers: few });
    assert.equal(small.files.length, 8);
    assert.equal(fewTake.mock.callCount(), 0);
    assert.equal(few.started.length, 0);
    // Started with other settings: not used, ended; the scan starts its own.
    const other = new EarlyWorkers({ ...settings });
    other.want(2);
    const otherTake = t.mock.method(other, 'take');
    assert.deepEqual(findings(await scanFiles(undefined, jobs, settings, { jobs: 2, workers: other })), findings(one));
    assert.equal(otherTake.mock.callCount(), 0);
    assert.equal(other.started.length, 0);
    // An early worker (capped) runs out of heap at m07: replaced by one without the cap, which redoes its batch.
    const oomSettings = { ...settings, testOutOfMemoryAt: jobs[7].abs };
    const oomEarly = new EarlyWorkers(oomSettings);
    oomEarly.want(2);
    const oom = await scanFiles(undefined, jobs, oomSettings, { jobs: 2, workers: oomEarly });
    assert.equal(oom.stats.workersReplaced, 1);
    assert.deepEqual(findings(oom), findings(one));
  });

  it('starts as many early workers as the files listed call for, however large --jobs is, and none for a few files', async (t) => {
    const want = t.mock.method(EarlyWorkers.prototype, 'want');
    const dir = tempProject(manyFiles(40));
    const wide = await runJson(dir, ['--jobs', '16', '.']);
    assert.equal(wide.code, EXIT_FINDINGS, wide.stderr);
    // 33 to 40 files: two workers, as the scan uses.
    assert.deepEqual([...new Set(want.mock.calls.map((c) => c.arguments[0]))], [2]);
    want.mock.resetCalls();
    const few = tempProject(manyFiles(20));
    assert.equal((await runJson(few, ['--jobs', '16', '.'])).code, EXIT_FINDINGS);
    assert.equal(want.mock.callCount(), 0);
  });

  it('ends the workers a listing started when the listing fails', (t) => {
    const end = t.mock.method(EarlyWorkers.prototype, 'end');
    const { settings } = scanInput(tempProject());
    let started: EarlyWorkers | undefined;
    const want = t.mock.method(EarlyWorkers.prototype, 'want', function (this: EarlyWorkers) {
      started = this;
    });
    assert.throws(
      () =>
        listStartingWorkers(settings, 2, (found) => {
          for (let n = 1; n <= 40; n++) found(n);
          throw new Error('listing failed');
        }),
      /listing failed/,
    );
    // Asked for two from the 33rd file on, and ended.
    assert.deepEqual([...new Set(want.mock.calls.map((c) => c.arguments[0]))], [2]);
    assert.ok(started);
    assert.equal(end.mock.calls.filter((c) => c.this === started).length, 1);
  });

  it('early workers not taken over never keep the process alive', () => {
    const script = `const { EarlyWorkers } = require(${JSON.stringify(path.join(REPO, 'out/src/node/scan.js'))});
const { defaultOptions } = require(${JSON.stringify(path.join(REPO, 'out/src/core/options.js'))});
new EarlyWorkers({ options: defaultOptions(), includeDirs: [], reportUnusedIgnores: false, projectLimitedApi: false }).want(2);`;
    const started = Date.now();
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(r.status, 0, `exit ${r.status} (signal ${r.signal}): ${r.stderr}`);
    assert.ok(Date.now() - started < 20_000);
  });

  it('gives each worker a run of files in path order (about equal bytes), then lets it take from the end of the run with most left', () => {
    const jobs = Array.from({ length: 10 }, (_, i) => ({ abs: `/p/f${i}.c`, display: `f${i}.c` }));
    // f0 is large; the others are small.
    const sizes = new Map(jobs.map((j, i) => [j.abs, i === 0 ? 9_000 : 1_000]));
    const runs = splitRuns(jobs, sizes, 2);
    assert.deepEqual(
      runs.map((r) => [r.next, r.end, jobs.slice(r.next, r.end).reduce((t, j) => t + sizes.get(j.abs)!, 0)]),
      [
        [0, 1, 9_000],
        [1, 10, 9_000],
      ],
    );
    const names = (b: Array<{ display: string }> | undefined) => b?.map((j) => j.display);
    // The first worker's run is f0 alone; then it takes from the end of the other's.
    assert.deepEqual(names(takeBatch(jobs, sizes, runs[0], runs)), ['f0.c']);
    assert.deepEqual(names(takeBatch(jobs, sizes, runs[1], runs)), ['f1.c', 'f2.c', 'f3.c', 'f4.c', 'f5.c', 'f6.c', 'f7.c', 'f8.c', 'f9.c']);
    assert.equal(takeBatch(jobs, sizes, runs[0], runs), undefined);
    // Batches stop at 32 files or 128 KB; a worker whose run is done steals the far end of the fullest run.
    const many = Array.from({ length: 100 }, (_, i) => ({ abs: `/q/g${String(i).padStart(3, '0')}.c`, display: `g${i}` }));
    const small = new Map(many.map((j) => [j.abs, 10]));
    const two = splitRuns(many, small, 2);
    assert.deepEqual(
      two.map((r) => [r.next, r.end]),
      [
        [0, 50],
        [50, 100],
      ],
    );
    assert.deepEqual(names(takeBatch(many, small, two[0], two))!.length, 32);
    // The rest of run 0 (g32..g49), then g68..g99 stolen from run 1's end.
    const rest = names(takeBatch(many, small, two[0], two))!;
    assert.deepEqual([rest.length, rest[0]], [18, 'g32']);
    const stolen = names(takeBatch(many, small, two[0], two))!;
    assert.deepEqual([stolen.length, stolen[0], stolen[31]], [32, 'g68', 'g99']);
    assert.deepEqual(names(takeBatch(many, small, two[1], two))!, many.slice(50, 68).map((j) => j.display));
    assert.equal(takeBatch(many, small, two[1], two), undefined);
    // One worker: one run of everything.
    assert.deepEqual(
      splitRuns(many, small, 1).map((r) => [r.next, r.end]),
      [[0, 100]],
    );
  });

  it('replaces a worker that runs out of its capped heap with one without the cap, which redoes its batch: the same scan', async () => {
    const { jobs, settings, one, findings } = await scannedOnOneThread(40);
    // The worker given m07 runs out of heap there: its replacement redoes that batch.
    const oom = await scanFiles(undefined, jobs, { ...settings, testOutOfMemoryAt: jobs[7].abs }, { jobs: 2 });
    assert.equal(oom.stats.workersReplaced, 1);
    assert.deepEqual(findings(oom), findings(one));
    assert.equal(oom.files.length, 40);
    // Without a cap the hook does nothing, and nothing is replaced.
    const uncapped = await scanFiles(undefined, jobs, { ...settings, testOutOfMemoryAt: jobs[7].abs }, { jobs: 2, workerHeapMb: 0 });
    assert.equal(uncapped.stats.workersReplaced, undefined);
    assert.deepEqual(findings(uncapped), findings(one));
  });

  it('gives a worker a second batch ahead while its run has files to spare, and redoes both when it runs out of heap', async () => {
    // 200 small files: each worker's run is 100, so its first two batches of 32 are posted at once.
    const { jobs, settings, one, findings } = await scannedOnOneThread(200);
    assert.deepEqual(findings(await scanFiles(undefined, jobs, settings, { jobs: 2 })), findings(one));
    // The worker runs out of heap in its first batch, with the second waiting behind it: its replacement does both.
    const oom = await scanFiles(undefined, jobs, { ...settings, testOutOfMemoryAt: jobs[7].abs }, { jobs: 2 });
    assert.equal(oom.stats.workersReplaced, 1);
    assert.equal(oom.files.length, 200);
    assert.deepEqual(findings(oom), findings(one));
  });

  it('stops at once when cancelled while the workers build the project index, and finishes the same scan otherwise', async () => {
    const dir = tempProject(manyFiles(40));
    const { jobs, settings } = scanInput(dir);
    const whole = await scanFiles(undefined, jobs, settings, { jobs: 2 });
    // Every file's findings depend on the index (which file registers which function).
    assert.ok(whole.index.length >= 40, `${whole.index.length} files indexed`);
    const one = await scanFiles(undefined, jobs, settings, { jobs: 1 });
    assert.deepEqual(
      whole.files.map((f) => f.findings.map((x) => `${x.severity}:${x.start}`)),
      one.files.map((f) => f.findings.map((x) => `${x.severity}:${x.start}`)),
    );
    // Cancelled when the last file is done: the index rounds are what is left.
    const abort = new AbortController();
    const started = Date.now();
    await assert.rejects(
      scanFiles(undefined, jobs, settings, { jobs: 2, signal: abort.signal, onProgress: (done, total) => done === total && abort.abort() }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(Date.now() - started < 20_000);
  });
});

describe('cpyref progress bar', () => {
  it('draws progress on standard error only when it is a terminal, and never on standard output', async () => {
    const dir = tempProject(manyFiles(30));
    const plain = await runCli(dir, ['--jobs', '1', '.'], '', false);
    assert.doesNotMatch(plain.stderr, /\r/);
    const tty = await runCli(dir, ['--jobs', '1', '.'], '', true);
    assert.match(tty.stderr, /\r\[=+ *\] \d+\/30 files/);
    assert.equal(tty.stdout, plain.stdout);
    const quiet = await runCli(dir, ['--jobs', '1', '--quiet', '.'], '', true);
    assert.equal(quiet.stderr, '');
  });
});

describe('cpyref --help and --version', () => {
  it('--help lists the exit codes and every rule id, and exits 0', async () => {
    const r = await runCli(tempProject(), ['--help']);
    assert.equal(r.code, EXIT_OK);
    for (const code of [EXIT_OK, EXIT_FINDINGS, EXIT_ERROR]) assert.match(r.stdout, new RegExp(`^\\s+${code}\\s+\\S`, 'm'), `exit code ${code}`);
    assert.match(r.stdout, /exit codes/i);
    for (const rule of RULES) assert.ok(r.stdout.includes(rule.id), `--help lacks ${rule.id}`);
  });

  it('--version prints the version from package.json', async () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
    const r = await runCli(tempProject(), ['--version']);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.stdout, `cpyref ${version}\n`);
  });
});

describe('bin/cpyref.js (spawned)', () => {
  it("sets tiering flags this Node's V8 knows, with their values", () => {
    const known = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    assert.ok(SCAN_V8_FLAGS.length > 0);
    for (const f of SCAN_V8_FLAGS) {
      // A number (`--name=N`) or a switch turned off (`--no-name`, a bool flag).
      const m = /^--([\w-]+)=(\d+)$/.exec(f) ?? /^--no-([\w-]+)$/.exec(f);
      assert.ok(m, f);
      assert.match(known, new RegExp(`^\\s+--${m[1]} \\(`, 'm'), `${f} is not a flag of this V8`);
      if (f.startsWith('--no-')) assert.match(known, new RegExp(`^\\s+--${m[1]} \\([^\\n]*\\)\\n\\s+type: bool`, 'm'), `${f} is not a switch`);
    }
  });

  it('prints its version and scans examples/ with exit code 1 and the example module findings', () => {
    const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
    const v = spawnSync(process.execPath, ['bin/cpyref.js', '--version'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), `cpyref ${version}`);
    // (V8 writes "unrecognized flag" there when the entry point's tiering flags are unknown to it.)
    assert.equal(v.stderr, '');

    const scan = spawnSync(process.execPath, ['bin/cpyref.js', 'examples/'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(scan.status, 1, scan.stderr);
    const out = lines(scan.stdout);
    for (const l of out) assert.match(l, TEXT_LINE);
    assert.deepEqual(
      out.map((l) => l.split(': ')[0] + ' ' + TEXT_LINE.exec(l)![4] + ' ' + TEXT_LINE.exec(l)![6]),
      [
        'examples/framecache/framecache.c:22:5 error borrowed-singleton-return',
        'examples/framecache/framecache.c:36:5 error borrowed-singleton-return',
        'examples/framecache/framecache.c:46:5 error borrowed-singleton-return',
        'examples/framecache/framecache.c:59:5 error borrowed-singleton-return',
        'examples/framecache/framecache.c:67:5 error borrowed-singleton-return',
        'examples/framecache/framecache.h:5:24 error borrowed-singleton-return',
      ],
    );
    assert.match(scan.stderr, /6 findings/);
  });
});

