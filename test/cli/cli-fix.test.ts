import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { applySafeFixes } from '../../src/core/fixes';
import { writeFixes } from '../../src/node/fix';
import { EXIT_FINDINGS, EXIT_OK } from '../../src/cli/main';
import { scanFiles } from '../../src/node/scan';
import { defaultOptions } from '../../src/core/options';
import { loadParser } from '../helpers/engine';
import { CLEAN, REGISTERED_BUG, REGISTERED_FIXED, removeTempDirs, runCli, runJson, tempProject, UNREGISTERED_HELPER, VERBOSE_RETURN } from './cli-harness';

type Json = any;

after(removeTempDirs);

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');

describe('cpyref --fix', () => {
  it('rewrites `return Py_None;` as `Py_RETURN_NONE;` and reports nothing left to fix', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--fix', 'mod.c']);
    assert.equal(read(dir, 'mod.c'), REGISTERED_FIXED);
    assert.equal(r.stdout, '', 'the fixed finding is not reported');
    assert.equal(r.code, EXIT_OK);
    assert.match(r.stderr, /fixed 1/);
  });

  it('counts the fixed findings in the JSON summary and lists none of them', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const { code, doc } = await runJson(dir, ['--fix', 'mod.c']);
    assert.deepEqual(doc.findings, []);
    assert.equal(doc.summary.fixed, 1);
    assert.equal(code, EXIT_OK);
  });

  it('leaves no temporary file in the folder', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG, 'sub/other.c': REGISTERED_BUG });
    await runCli(dir, ['--fix', '.']);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['mod.c', 'sub']);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')), ['other.c']);
    assert.equal(read(dir, 'sub/other.c'), REGISTERED_FIXED);
  });

  it('finds nothing and changes nothing on a second run', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    await runCli(dir, ['--fix', 'mod.c']);
    const abs = path.join(dir, 'mod.c');
    const before = fs.readFileSync(abs);
    const mtime = fs.statSync(abs).mtimeMs;
    const second = await runCli(dir, ['--fix', 'mod.c']);
    assert.equal(second.code, EXIT_OK);
    assert.equal(second.stdout, '');
    assert.deepEqual(fs.readFileSync(abs), before);
    assert.equal(fs.statSync(abs).mtimeMs, mtime, 'the file is not rewritten');
    assert.deepEqual(fs.readdirSync(dir), ['mod.c']);
  });

  it('keeps the file mode', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const abs = path.join(dir, 'mod.c');
    fs.chmodSync(abs, 0o640);
    await runCli(dir, ['--fix', 'mod.c']);
    assert.equal(read(dir, 'mod.c'), REGISTERED_FIXED);
    assert.equal(fs.statSync(abs).mode & 0o777, 0o640);
  });

  it('keeps CRLF line endings', async () => {
    const crlf = REGISTERED_BUG.replace(/\n/g, '\r\n');
    const dir = tempProject({ 'mod.c': crlf });
    const found = await runJson(dir, ['mod.c']);
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.column]),
      [[6, 5]],
    );
    await runCli(dir, ['--fix', 'mod.c']);
    const after = read(dir, 'mod.c');
    assert.equal(after, REGISTERED_FIXED.replace(/\n/g, '\r\n'));
    assert.doesNotMatch(after, /[^\r]\n/);
  });

  it('fixes a Latin-1 file and preserves every other byte', async () => {
    // 0xE9 (é) followed by a space is not valid UTF-8, so the file is decoded byte for byte.
    const source = `/* Caf\u00e9 module \u00a9 1998, \u00e0 l'ancienne */\n` + REGISTERED_BUG + `/* fin: \u00ff\u00e9 */\n`;
    const bytes = Buffer.from(source, 'latin1');
    assert.ok(bytes.includes(0xe9));
    const dir = tempProject({ 'mod.c': bytes });
    const found = await runJson(dir, ['mod.c']);
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.column, f.severity]),
      [[7, 5, 'error']],
    );
    const r = await runCli(dir, ['--fix', 'mod.c']);
    assert.equal(r.code, EXIT_OK, r.stderr);
    const expected = Buffer.from(source.replace('    return Py_None;', '    Py_RETURN_NONE;'), 'latin1');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'mod.c')), expected);
  });

  it('keeps a UTF-8 byte-order mark and multi-byte characters', async () => {
    const source = `/* Gr\u00fc\u00dfe \u2014 \u{1F40D} */\n` + REGISTERED_BUG;
    const dir = tempProject({ 'mod.c': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(source, 'utf8')]) });
    await runCli(dir, ['--fix', 'mod.c']);
    const expected = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(source.replace('    return Py_None;', '    Py_RETURN_NONE;'), 'utf8')]);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'mod.c')), expected);
  });

  it('applies only safe fixes: an unregistered helper keeps its return and is still reported', async () => {
    const dir = tempProject({ 'helper.c': UNREGISTERED_HELPER });
    const r = await runCli(dir, ['--fix', 'helper.c']);
    assert.equal(read(dir, 'helper.c'), UNREGISTERED_HELPER);
    assert.match(r.stdout, /^helper\.c:6:5: information: /m);
  });

  it('fixes hint findings only when --all shows them', async () => {
    const dir = tempProject({ 'mod.c': VERBOSE_RETURN });
    await runCli(dir, ['--fix', 'mod.c']);
    assert.equal(read(dir, 'mod.c'), VERBOSE_RETURN);
    await runCli(dir, ['--fix', '--all', 'mod.c']);
    assert.equal(read(dir, 'mod.c'), VERBOSE_RETURN.replace('    Py_INCREF(Py_None);\n    return Py_None;', '    Py_RETURN_NONE;'));
  });

  it('refuses to write a file that changed on disk after it was read, and leaves the new content alone', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const abs = path.join(dir, 'mod.c');
    const settings = { options: defaultOptions(), reportUnusedIgnores: false, includeDirs: [], projectLimitedApi: false };
    const result = await scanFiles(await loadParser(), [{ abs, display: 'mod.c' }], settings, { jobs: 1 });
    const [file] = result.files;
    assert.equal(file.findings.length, 1);
    assert.ok(file.hash);
    const edited = REGISTERED_BUG.replace('{\n    return', '{\n    /* edited in an editor meanwhile */\n    return');
    fs.writeFileSync(abs, edited);
    const outcome = writeFixes(file, applySafeFixes(file.text!, file.findings));
    assert.ok(outcome.refused, 'the fix is refused');
    assert.match(outcome.refused, /changed/);
    assert.equal(outcome.applied, 0);
    assert.equal(fs.readFileSync(abs, 'utf8'), edited);
    assert.deepEqual(fs.readdirSync(dir), ['mod.c']);
  });

  it('writes the fix through writeFixes when the file is unchanged since it was read', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const abs = path.join(dir, 'mod.c');
    const settings = { options: defaultOptions(), reportUnusedIgnores: false, includeDirs: [], projectLimitedApi: false };
    const [file] = (await scanFiles(await loadParser(), [{ abs, display: 'mod.c' }], settings, { jobs: 1 })).files;
    const outcome = writeFixes(file, applySafeFixes(file.text!, file.findings));
    assert.equal(outcome.refused, undefined);
    assert.equal(outcome.applied, 1);
    assert.equal(fs.readFileSync(abs, 'utf8'), REGISTERED_FIXED);
  });
});

describe('cpyref --diff', () => {
  it('prints the fix as a unified diff, writes nothing and exits 1', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--diff', 'mod.c']);
    assert.equal(r.code, EXIT_FINDINGS);
    const out = r.stdout.split('\n');
    assert.equal(out[0], '--- a/mod.c');
    assert.equal(out[1], '+++ b/mod.c');
    assert.match(out[2], /^@@ -\d+,\d+ \+\d+,\d+ @@$/);
    assert.ok(out.includes('-    return Py_None;'), r.stdout);
    assert.ok(out.includes('+    Py_RETURN_NONE;'), r.stdout);
    assert.equal(read(dir, 'mod.c'), REGISTERED_BUG);
    assert.deepEqual(fs.readdirSync(dir), ['mod.c']);
  });

  it('uses the path below the scanned folder in the diff headers', async () => {
    const dir = tempProject({ 'src/mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--diff', 'src']);
    assert.match(r.stdout, /^--- a\/src\/mod\.c\n\+\+\+ b\/src\/mod\.c\n/);
  });

  it('gives a diff that the patch reproduces: applying its hunk turns the file into the fixed one', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--diff', 'mod.c']);
    const body = r.stdout.split('\n').slice(2);
    const m = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(body[0])!;
    const hunk = body.slice(1).filter((l) => l !== '');
    const oldLines = hunk.filter((l) => !l.startsWith('+')).map((l) => l.slice(1));
    const newLines = hunk.filter((l) => !l.startsWith('-')).map((l) => l.slice(1));
    assert.equal(oldLines.length, Number(m[2]));
    assert.equal(newLines.length, Number(m[4]));
    const src = REGISTERED_BUG.split('\n');
    assert.deepEqual(src.slice(Number(m[1]) - 1, Number(m[1]) - 1 + oldLines.length), oldLines);
    src.splice(Number(m[1]) - 1, oldLines.length, ...newLines);
    assert.equal(src.join('\n'), REGISTERED_FIXED);
  });

  it('prints nothing and exits 0 when there is nothing to fix', async () => {
    const dir = tempProject({ 'mod.c': CLEAN, 'helper.c': UNREGISTERED_HELPER });
    const r = await runCli(dir, ['--diff', '.']);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.stdout, '');
  });
});

const SECOND_BUG = `
static PyObject *
spam_open(PyObject *self, PyObject *args)
{
    return Py_False;
}

static PyMethodDef more_methods[] = {
    {"open", spam_open, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

describe('cpyref --baseline and --write-baseline', () => {
  it('records the findings and exits 0; the same scan with the baseline reports nothing and exits 0', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG, 'helper.c': UNREGISTERED_HELPER });
    const w = await runCli(dir, ['--write-baseline', 'cpyref-baseline.json', '.']);
    assert.equal(w.code, EXIT_OK, w.stderr);
    const baseline = JSON.parse(read(dir, 'cpyref-baseline.json'));
    assert.equal(baseline.version, 1);
    assert.equal(baseline.findings.length, 2);
    const r = await runCli(dir, ['--baseline', 'cpyref-baseline.json', '.']);
    assert.equal(r.stdout, '');
    assert.equal(r.code, EXIT_OK);
  });

  it('still matches after blank lines are inserted above the finding', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    await runCli(dir, ['--write-baseline', 'cpyref-baseline.json', '.']);
    fs.writeFileSync(path.join(dir, 'mod.c'), REGISTERED_BUG.replace('#include <Python.h>\n', '#include <Python.h>\n\n\n\n\n'));
    const moved = await runJson(dir, ['.']);
    assert.deepEqual(
      moved.doc.findings.map((f: Json) => f.line),
      [10],
    );
    const r = await runJson(dir, ['--baseline', 'cpyref-baseline.json', '.']);
    assert.deepEqual(r.doc.findings, []);
    assert.equal(r.code, EXIT_OK);
  });

  it('still reports a new bug that is not in the baseline', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    await runCli(dir, ['--write-baseline', 'cpyref-baseline.json', '.']);
    fs.writeFileSync(path.join(dir, 'mod.c'), '\n\n' + REGISTERED_BUG + SECOND_BUG);
    const r = await runJson(dir, ['--baseline', 'cpyref-baseline.json', '.']);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => [f.function, f.line, f.severity]),
      [['spam_open', 19, 'error']],
    );
    assert.equal(r.code, EXIT_FINDINGS);
  });

  it('does not let a baseline entry absorb the same bug in another file', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    await runCli(dir, ['--write-baseline', 'cpyref-baseline.json', '.']);
    fs.writeFileSync(path.join(dir, 'copy.c'), REGISTERED_BUG);
    const r = await runJson(dir, ['--baseline', 'cpyref-baseline.json', '.']);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => f.path),
      ['copy.c'],
    );
  });

  it('exits 2 for a baseline file that does not exist', async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const r = await runCli(dir, ['--baseline', 'nope.json', '.']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.json/);
  });
});
