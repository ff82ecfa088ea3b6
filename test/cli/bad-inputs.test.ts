import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { collectFiles, FileFilter } from '../../src/node/files';
import type { ScanSettings } from '../../src/node/process-file';
import { scanFiles } from '../../src/node/scan';
import { analyzeText } from '../../src/core/analyze';
import { defaultOptions } from '../../src/core/options';
import { loadParser, REPO } from '../helpers/engine';
import { CLEAN, REGISTERED_BUG, removeTempDirs, tempProject } from './cli-harness';

// SPEC §6 and §10: bad input never crashes or hangs the scan. Each case runs the built
// binary in a child process with a time limit, so that a hang fails the test instead of
// blocking the run, and a crash shows as a stack trace or exit 2 instead of a finding.

type Json = any;

after(removeTempDirs);

const BIN = path.join(REPO, 'bin', 'cpyref.js');
/** The limit of one run of the binary, unless a test says otherwise. */
const RUN_LIMIT_MS = 10_000;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

interface BinRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  doc: Json;
}

/**
 * Runs `cpyref --format json ARGS` in `cwd`; asserts that it finished within `limitMs`,
 * exited 0 or 1 (2 is a usage or input error, never the answer to a bad file), printed
 * no stack trace and one JSON document.
 */
function cpyref(cwd: string, args: string[], limitMs = RUN_LIMIT_MS): Promise<BinRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, '--format', 'json', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      try {
        assert.ok(!timedOut, `cpyref ${args.join(' ')} hung: killed after ${limitMs} ms\nstderr:\n${stderr}`);
        assert.doesNotMatch(stderr, /\n\s+at .+\(.*:\d+:\d+\)/, `cpyref crashed with a stack trace:\n${stderr}`);
        assert.ok(code === 0 || code === 1, `exit ${code} (signal ${signal}); stderr:\n${stderr}`);
        let doc: Json;
        try {
          doc = JSON.parse(stdout);
        } catch (e) {
          throw new Error(`stdout is not JSON (${(e as Error).message}); stderr:\n${stderr}\nstdout:\n${stdout.slice(0, 2000)}`);
        }
        resolve({ code, signal, stdout, stderr, ms, doc });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Asserts that `fn` settles within `ms`, and returns its value. */
async function within<T>(ms: number, what: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  const took = performance.now() - t0;
  assert.ok(took < ms, `${what} took ${Math.round(took)} ms (limit ${ms} ms)`);
  return value;
}

const reasons = (doc: Json) => (doc.skipped as Json[]).map((s) => `${s.path}: ${s.reason}`);

/** A registered method returning a borrowed None, as one line (the finding is on line 1). */
const ONE_LINE_BUG = 'static PyObject *f(PyObject *s, PyObject *a) { return Py_None; }\n';
const ONE_LINE_TABLE = 'static PyMethodDef m[] = {{"f", f, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};\n';

describe('cpyref on bad input: never a crash, never a hang', () => {
  it('an empty file is analysed: no finding, nothing skipped, exit 0', { timeout: 15_000 }, async () => {
    const dir = tempProject({ 'empty.c': '' });
    const r = await cpyref(dir, ['.']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.doc.findings, []);
    assert.deepEqual(r.doc.skipped, []);
    assert.equal(r.doc.summary.files, 1);
  });

  it('a binary file (a NUL byte near the start) is skipped as binary, and the file next to it is still scanned', { timeout: 15_000 }, async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]), Buffer.from(REGISTERED_BUG)]);
    const dir = tempProject({ 'image.c': png, 'mod.c': REGISTERED_BUG });
    const r = await cpyref(dir, ['.']);
    assert.deepEqual(reasons(r.doc), ['image.c: binary (a NUL byte near the start)']);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => [f.path, f.line, f.column]),
      [['mod.c', 6, 5]],
    );
    assert.equal(r.code, 1);
  });

  it('a file of only NUL bytes is skipped as binary with exit 0', { timeout: 15_000 }, async () => {
    const dir = tempProject({ 'zeros.c': Buffer.alloc(64 * 1024) });
    const r = await cpyref(dir, ['.']);
    assert.equal(r.doc.skipped.length, 1);
    assert.equal(r.doc.skipped[0].path, 'zeros.c');
    assert.match(r.doc.skipped[0].reason, /binary/);
    assert.deepEqual(r.doc.findings, []);
    assert.equal(r.code, 0);
  });

  it('a NUL byte after the first 8000 bytes does not make a file binary (as git decides): it is analysed', { timeout: 15_000 }, async () => {
    const padded = REGISTERED_BUG.replace('#include <Python.h>\n', `#include <Python.h>\n/*${' '.repeat(9000)}*/\n`);
    const dir = tempProject({ 'late.c': Buffer.concat([Buffer.from(padded), Buffer.from('/* \0 */\n')]) });
    const r = await cpyref(dir, ['.']);
    assert.deepEqual(r.doc.skipped, []);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => [f.line, f.column, f.rule]),
      [[7, 5, 'borrowed-singleton-return']],
    );
  });

  it('a Latin-1 file is analysed with findings at the right columns, and --fix rewrites it byte for byte except the fix', { timeout: 15_000 }, async () => {
    // 0xE9 0x20 is not valid UTF-8: the file is decoded byte for byte; the comment before the
    // return on the same line shifts the column by one per Latin-1 byte, not by UTF-8 units.
    const source = `/* M\u00f6dul\u00e9 \u00a9 1999 */\n` + REGISTERED_BUG.replace('    return Py_None;', '    /* \u00e9t\u00e9 */ return Py_None; /* \u00ff */');
    const bytes = Buffer.from(source, 'latin1');
    assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), 'the file is not valid UTF-8');
    const dir = tempProject({ 'old.c': bytes });
    const found = await cpyref(dir, ['old.c']);
    const column = source.split('\n')[6].indexOf('return') + 1;
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.column, f.endColumn, f.rule]),
      [[7, column, column + 'return Py_None;'.length, 'borrowed-singleton-return']],
    );
    const fixed = await cpyref(dir, ['--fix', 'old.c']);
    assert.equal(fixed.doc.summary.fixed, 1);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'old.c')), Buffer.from(source.replace('return Py_None;', 'Py_RETURN_NONE;'), 'latin1'));
  });

  it('a UTF-8 file with a BOM reports columns that do not count the BOM, and --fix keeps the BOM', { timeout: 15_000 }, async () => {
    const source = ONE_LINE_BUG + '/* Gr\u00fc\u00dfe \u{1F40D} */\n' + ONE_LINE_TABLE;
    const dir = tempProject({ 'bom.c': Buffer.concat([BOM, Buffer.from(source, 'utf8')]) });
    const found = await cpyref(dir, ['bom.c']);
    const column = ONE_LINE_BUG.indexOf('return') + 1;
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.column, f.rule]),
      [[1, column, 'borrowed-singleton-return']],
    );
    await cpyref(dir, ['--fix', 'bom.c']);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'bom.c')), Buffer.concat([BOM, Buffer.from(source.replace('return Py_None;', 'Py_RETURN_NONE;'), 'utf8')]));
  });

  it('a UTF-8 file with letters beyond ASCII before a finding on its line reports UTF-16 columns, and --fix writes UTF-8', { timeout: 15_000 }, async () => {
    // (An ASCII file is read once, as Latin-1; this one must be decoded: read as Latin-1, the column would be 4 too far.)
    const bug = 'static PyObject *f(PyObject *s, PyObject *a) { /* Gr\u00fc\u00dfe \u{1F40D} */ return Py_None; }\n';
    const source = bug + ONE_LINE_TABLE;
    const dir = tempProject({ 'utf8.c': Buffer.from(source, 'utf8') });
    const found = await cpyref(dir, ['utf8.c']);
    const column = bug.indexOf('return') + 1;
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.column, f.endColumn, f.rule]),
      [[1, column, column + 'return Py_None;'.length, 'borrowed-singleton-return']],
    );
    await cpyref(dir, ['--fix', 'utf8.c']);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'utf8.c')), Buffer.from(source.replace('return Py_None;', 'Py_RETURN_NONE;'), 'utf8'));
  });

  it('a CRLF file is reported at the right lines and --fix keeps CRLF on every line, inserted lines included', { timeout: 15_000 }, async () => {
    const steal = '\nstatic PyObject *\npair(PyObject *self, PyObject *args)\n{\n    PyObject *t = PyTuple_New(1);\n    if (t == NULL)\n        return NULL;\n    PyTuple_SET_ITEM(t, 0, Py_None);\n    return t;\n}\n';
    const lf = REGISTERED_BUG + steal;
    const dir = tempProject({ 'crlf.c': lf.replace(/\n/g, '\r\n') });
    const found = await cpyref(dir, ['crlf.c']);
    assert.deepEqual(
      found.doc.findings.map((f: Json) => [f.line, f.rule]),
      [
        [6, 'borrowed-singleton-return'],
        [lf.split('\n').findIndex((l) => l.includes('PyTuple_SET_ITEM')) + 1, 'borrowed-singleton-steal'],
      ],
    );
    await cpyref(dir, ['--fix', 'crlf.c']);
    const expected = lf.replace('    return Py_None;', '    Py_RETURN_NONE;').replace('    PyTuple_SET_ITEM(t, 0, Py_None);', '    Py_INCREF(Py_None);\n    PyTuple_SET_ITEM(t, 0, Py_None);');
    assert.equal(fs.readFileSync(path.join(dir, 'crlf.c'), 'latin1'), expected.replace(/\n/g, '\r\n'));
  });

  it("a file with mixed line endings keeps each line's own ending after --fix; an inserted line ends like its neighbour or like most lines", { timeout: 15_000 }, async () => {
    const second = REGISTERED_BUG.replace('#include <Python.h>\n', '').replace(/spam_close/g, 'spam_open').replace('Py_None', 'Py_False').replace('spam_methods', 'more_methods');
    const steal = 'static PyObject *\npair(PyObject *self, PyObject *args)\n{\n    PyObject *t = PyTuple_New(1);\n    if (t == NULL)\n        return NULL;\n    PyTuple_SET_ITEM(t, 0, Py_None);\n    return t;\n}\n';
    const lfLines = (REGISTERED_BUG + '/* old Mac line */\n' + second + steal).split('\n');
    // Lines end alternately in LF and CRLF; a lone CR ends the comment line; the last line has no ending.
    const endings = lfLines.map((l, i) => (i === lfLines.length - 1 ? '' : l.startsWith('/* old Mac') ? '\r' : i % 2 ? '\r\n' : '\n'));
    const dir = tempProject({ 'mixed.c': lfLines.map((l, i) => l + endings[i]).join('') });
    const found = await cpyref(dir, ['mixed.c']);
    const expectedLines = lfLines.flatMap((l, i) => (/return Py_(None|False);|PyTuple_SET_ITEM/.test(l) ? [i + 1] : []));
    assert.deepEqual(
      found.doc.findings.map((f: Json) => f.line),
      expectedLines,
    );
    await cpyref(dir, ['--fix', 'mixed.c']);
    const after = fs.readFileSync(path.join(dir, 'mixed.c'), 'latin1');
    const fixedWith = (inserted: (i: number) => string) =>
      lfLines
        .map((l, i) => {
          const line = l.replace('return Py_None;', 'Py_RETURN_NONE;').replace('return Py_False;', 'Py_RETURN_FALSE;') + endings[i];
          return l.includes('PyTuple_SET_ITEM') ? `    Py_INCREF(Py_None);${inserted(i)}${line}` : line;
        })
        .join('');
    const candidates = [fixedWith((i) => endings[i]), fixedWith(() => '\n'), fixedWith(() => '\r\n')];
    assert.ok(candidates.includes(after), `unexpected result:\n${JSON.stringify(after)}`);
  });

  it('a 50 MB file is skipped over the size limit with the reason, and the other files are scanned', { timeout: 30_000 }, async () => {
    const dir = tempProject({ 'mod.c': REGISTERED_BUG });
    const big = path.join(dir, 'huge.c');
    try {
      const chunk = Buffer.from(REGISTERED_BUG.replace(/spam_/g, 'x_').repeat(64));
      const fd = fs.openSync(big, 'w');
      try {
        for (let written = 0; written < 50 * 1024 * 1024; written += chunk.length) fs.writeSync(fd, chunk);
      } finally {
        fs.closeSync(fd);
      }
      const size = fs.statSync(big).size;
      assert.ok(size >= 50 * 1024 * 1024);
      const r = await cpyref(dir, ['.']);
      assert.equal(r.doc.skipped.length, 1);
      assert.equal(r.doc.skipped[0].path, 'huge.c');
      assert.match(r.doc.skipped[0].reason, /size limit/);
      assert.ok(r.doc.skipped[0].reason.includes(String(size)), r.doc.skipped[0].reason);
      assert.deepEqual(
        r.doc.findings.map((f: Json) => f.path),
        ['mod.c'],
      );
      assert.ok(r.ms < 5000, `the scan took ${r.ms} ms: the big file must not be read`);
    } finally {
      fs.rmSync(big, { force: true });
    }
  });

  it('100,000 nested braces inside a function: no crash, the function is listed as skipped with a reason (or analysed)', { timeout: 15_000 }, async () => {
    const n = 100_000;
    const deep = REGISTERED_BUG.replace('{\n    return Py_None;', `{\n${'{'.repeat(n)}\n${'}'.repeat(n)}\n    return Py_None;`);
    const dir = tempProject({ 'deep.c': deep, 'mod.c': REGISTERED_BUG });
    const r = await cpyref(dir, ['.']);
    const inDeep = r.doc.findings.filter((f: Json) => f.path === 'deep.c');
    const skipped = (r.doc.skipped as Json[]).filter((s) => s.path === 'deep.c');
    assert.ok(inDeep.length + skipped.length >= 1, 'deep.c is either reported or listed as skipped');
    for (const s of skipped) assert.match(s.reason, /spam_close.*not analysed: .+/);
    assert.deepEqual(
      r.doc.findings.filter((f: Json) => f.path === 'mod.c').map((f: Json) => f.line),
      [6],
    );
  });

  it('10,000 functions in one file: all 10,000 findings are reported within 20 s, and --fix fixes all of them', { timeout: 60_000 }, async () => {
    const n = 10_000;
    let text = '#include <Python.h>\n';
    let table = 'static PyMethodDef methods[] = {\n';
    for (let i = 0; i < n; i++) {
      text += `\nstatic PyObject *\nf${i}(PyObject *self, PyObject *args)\n{\n    return ${i % 2 ? 'Py_True' : 'Py_None'};\n}\n`;
      table += `    {"f${i}", f${i}, METH_VARARGS, NULL},\n`;
    }
    const source = text + '\n' + table + '    {NULL, NULL, 0, NULL},\n};\n';
    const dir = tempProject({ 'many.c': source });
    const r = await within(20_000, 'scanning 10,000 functions', () => cpyref(dir, ['many.c'], 20_000));
    assert.equal(r.doc.findings.length, n);
    assert.deepEqual(
      r.doc.findings.map((f: Json) => f.function),
      Array.from({ length: n }, (_, i) => `f${i}`),
    );
    assert.deepEqual(r.doc.skipped, []);
    assert.equal(r.code, 1);
    const fixed = await within(20_000, 'fixing 10,000 functions', () => cpyref(dir, ['--fix', 'many.c'], 20_000));
    assert.equal(fixed.doc.summary.fixed, n);
    assert.equal(fs.readFileSync(path.join(dir, 'many.c'), 'utf8'), source.replace(/return Py_None;/g, 'Py_RETURN_NONE;').replace(/return Py_True;/g, 'Py_RETURN_TRUE;'));
  });

  it('a symbolic link loop in a scanned folder is listed as skipped and the scan finishes', { timeout: 15_000 }, async () => {
    const dir = tempProject({ 'src/mod.c': REGISTERED_BUG, 'src/sub/ok.c': CLEAN });
    fs.symlinkSync('..', path.join(dir, 'src', 'sub', 'up'));
    fs.symlinkSync(path.join(dir, 'src'), path.join(dir, 'src', 'again'));
    fs.symlinkSync('self.c', path.join(dir, 'src', 'self.c'));
    const r = await cpyref(dir, ['src']);
    const byPath = new Map((r.doc.skipped as Json[]).map((s) => [s.path, s.reason]));
    assert.match(byPath.get(path.join('src', 'again')) ?? '', /symbolic link loop/);
    assert.match(byPath.get(path.join('src', 'sub', 'up')) ?? '', /symbolic link loop/);
    assert.match(byPath.get(path.join('src', 'self.c')) ?? '', /symbolic link/);
    assert.equal(byPath.size, 3, reasons(r.doc).join('\n'));
    assert.deepEqual(
      r.doc.findings.map((f: Json) => f.path),
      [path.join('src', 'mod.c')],
    );
    assert.equal(r.doc.summary.files, 2);
  });

  it('an unreadable file is skipped with its reason (as root, where chmod 000 does not stop reading, it is analysed)', { timeout: 15_000 }, async () => {
    const dir = tempProject({ 'locked.c': REGISTERED_BUG, 'ok.c': REGISTERED_BUG });
    const locked = path.join(dir, 'locked.c');
    fs.chmodSync(locked, 0o000);
    try {
      let readable = true;
      try {
        fs.readFileSync(locked);
      } catch {
        readable = false;
      }
      const r = await cpyref(dir, ['.']);
      if (readable) {
        assert.deepEqual(r.doc.skipped, []);
        assert.deepEqual(r.doc.findings.map((f: Json) => f.path).sort(), ['locked.c', 'ok.c']);
      } else {
        assert.deepEqual(reasons(r.doc), ['locked.c: unreadable (EACCES)']);
        assert.deepEqual(
          r.doc.findings.map((f: Json) => f.path),
          ['ok.c'],
        );
      }
      assert.equal(r.code, 1);
    } finally {
      fs.chmodSync(locked, 0o644);
    }
  });

  const settings: ScanSettings = { options: defaultOptions(), reportUnusedIgnores: false, includeDirs: [], projectLimitedApi: false };
  for (const [threads, count] of [
    [1, 4],
    [2, 40],
  ] as const) {
    it(`a file deleted between the walk and the read is listed as skipped ('deleted'), the others are analysed (${threads === 1 ? 'in process' : 'worker threads'})`, { timeout: 15_000 }, async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i < count; i++) files[`m${String(i).padStart(2, '0')}.c`] = REGISTERED_BUG;
      const dir = tempProject(files);
      const collected = collectFiles(['.'], dir, new FileFilter(defaultOptions(), dir));
      assert.equal(collected.jobs.length, count);
      fs.rmSync(path.join(dir, 'm01.c'));
      const result = await within(10_000, 'the scan', async () => scanFiles(threads === 1 ? await loadParser() : undefined, collected.jobs, settings, { jobs: threads }));
      assert.deepEqual(result.skipped, [{ path: 'm01.c', reason: 'deleted before it could be read' }]);
      assert.deepEqual(
        result.files.filter((f) => f.findings.length === 1).map((f) => f.display),
        Object.keys(files).filter((f) => f !== 'm01.c'),
      );
      assert.equal(result.stats.files, count - 1);
    });
  }

  it('a half-typed function at the end of the file: no crash, the complete function before it is still reported', { timeout: 15_000 }, async () => {
    const half = REGISTERED_BUG + '\nstatic PyObject *\nspam_open(PyObject *self, PyObject *args)\n{\n    if (args) {\n        return Py_None;\n';
    const open = REGISTERED_BUG + '\nstatic PyObject *\nspam_open(PyObject *self, PyObject *args)\n{\n    return Py_';
    const dir = tempProject({ 'half.c': half, 'open.c': open });
    const r = await cpyref(dir, ['.']);
    assert.deepEqual(r.doc.skipped, []);
    for (const file of ['half.c', 'open.c']) {
      assert.deepEqual(
        r.doc.findings.filter((f: Json) => f.path === file && f.function === 'spam_close').map((f: Json) => [f.line, f.column]),
        [[6, 5]],
        file,
      );
    }
  });

  it('C++ files: 100,000 nested braces, 3,000 nested lambdas, a half-typed template and an unclosed lambda never crash the scan, and the complete function is still reported', { timeout: 30_000 }, async () => {
    const n = 100_000;
    const deep = REGISTERED_BUG.replace('{\n    return Py_None;', `{\n${'{'.repeat(n)}\n${'}'.repeat(n)}\n    return Py_None;`);
    const lambdas = REGISTERED_BUG.replace('{\n    return Py_None;', `{\n    auto f = ${'[&]() { return '.repeat(3000)}Py_None${'; }'.repeat(3000)};\n    return Py_None;`);
    const half = REGISTERED_BUG + '\ntemplate <typename T, int N = sizeof(T) >\nstatic PyObject *\nspam_open(PyObject *self, PyObject *args)\n{\n    for (auto x : ';
    const open = REGISTERED_BUG + '\nstatic PyObject *\nspam_open(PyObject *self, PyObject *args)\n{\n    auto f = [](PyObject *o) -> PyObject * { try { return Py_';
    const dir = tempProject({ 'deep.cpp': deep, 'lambdas.cpp': lambdas, 'half.cpp': half, 'open.cpp': open });
    const r = await cpyref(dir, ['.']);
    for (const file of ['deep.cpp', 'lambdas.cpp', 'half.cpp', 'open.cpp']) {
      const found = r.doc.findings.filter((f: Json) => f.path === file && f.function === 'spam_close').map((f: Json) => [f.line, f.column]);
      const skipped = (r.doc.skipped as Json[]).filter((x) => x.path === file);
      // Or, when the parser cannot read it as a function at all, counted as a singleton return in unparsable code.
      assert.ok(found.length === 1 || skipped.length >= 1 || (file === 'deep.cpp' && r.doc.summary.errorRegions >= 1), `${file}: spam_close is reported, listed as skipped, or counted as unparsable`);
      if (found.length) assert.deepEqual(found, [[6, 5]], file);
      for (const x of skipped) assert.match(x.reason, /not analysed: .+/, file);
    }
    for (const file of ['half.cpp', 'open.cpp']) assert.equal(r.doc.findings.filter((f: Json) => f.path === file && f.function === 'spam_close').length, 1, file);
  });

  it('a GNU `?:` conditional returning a singleton (valid GCC C) is analysed without crashing, and the other files are still reported', { timeout: 15_000 }, async () => {
    const elvis = REGISTERED_BUG.replace('return Py_None;', 'return args ?: Py_None;');
    const dir = tempProject({ 'elvis.c': elvis, 'mod.c': REGISTERED_BUG });
    const r = await cpyref(dir, ['.']);
    assert.deepEqual(
      r.doc.findings.filter((f: Json) => f.path === 'mod.c').map((f: Json) => f.line),
      [6],
    );
  });

  it('a malformed #define parameter list is analysed without crashing, and the other files are still reported', { timeout: 15_000 }, async () => {
    const macro = REGISTERED_BUG.replace('#include <Python.h>\n', '#include <Python.h>\n#define NONE_IF((x) Py_None\n').replace('return Py_None;', 'return NONE_IF(args);');
    const dir = tempProject({ 'macro.c': macro, 'mod.c': REGISTERED_BUG });
    const r = await cpyref(dir, ['.']);
    assert.deepEqual(
      r.doc.findings.filter((f: Json) => f.path === 'mod.c').map((f: Json) => f.line),
      [6],
    );
  });
});

describe('functions not analysed', () => {
  it('lists a function once when its file and an #if variant of it both give it up', async () => {
    // (A budget already spent gives up every function the rules look at; the split ones are found again per variant.)
    const text = fs.readFileSync(path.join(REPO, 'test/fixtures/borrowed-singleton-return/ifdef-split.c'), 'utf8');
    const r = analyzeText(await loadParser(), { path: 'ifdef-split.c', text, options: defaultOptions(), functionBudgetMs: -1 });
    const listed = r.skippedFunctions.map((x) => `${x.name}@${x.start}`);
    assert.ok(listed.some((x) => x.startsWith('split_if@')), `the function only a variant reads is listed: ${listed.join(', ')}`);
    assert.deepEqual(listed, [...new Set(listed)]);
  });
});

describe('the time bound of one function', () => {
  const BUDGET_MS = 100;
  /** Parse time is outside the function budget; the analysis after it must stay near the budget. */
  const SLACK_MS = 1000;

  const analyzeTimed = async (text: string) => {
    const parser = await loadParser();
    const t0 = performance.now();
    parser.parse(text).delete();
    const parseMs = performance.now() - t0;
    const t1 = performance.now();
    const r = analyzeText(parser, { path: 'big.c', text, options: defaultOptions(), functionBudgetMs: BUDGET_MS });
    return { r, parseMs, ms: performance.now() - t1 };
  };

  it(`a function of 300,000 statements is analysed or skipped within its budget (${BUDGET_MS} ms) plus parsing`, { timeout: 30_000 }, async () => {
    const text = REGISTERED_BUG.replace('{\n    return Py_None;', `{\n    if (args)\n        return Py_None;\n${'    x = 1;\n'.repeat(300_000)}    return Py_None;`);
    const { r, parseMs, ms } = await analyzeTimed(text);
    assert.ok(r.findings.length > 0 || r.skippedFunctions.length === 1, 'reported or skipped');
    assert.ok(ms < parseMs + BUDGET_MS + SLACK_MS, `analysis took ${Math.round(ms)} ms; parsing alone ${Math.round(parseMs)} ms; budget ${BUDGET_MS} ms; skipped: ${JSON.stringify(r.skippedFunctions)}`);
  });

  it(`10,000 nested conditional expressions are analysed or skipped within the budget (${BUDGET_MS} ms) plus parsing`, { timeout: 30_000 }, async () => {
    const text = REGISTERED_BUG.replace('return Py_None;', `return ${'args ? Py_None : '.repeat(10_000)}Py_True;`);
    const { r, parseMs, ms } = await analyzeTimed(text);
    assert.ok(r.findings.length > 0 || r.skippedFunctions.length === 1, 'reported or skipped');
    assert.ok(ms < parseMs + BUDGET_MS + SLACK_MS, `analysis took ${Math.round(ms)} ms; parsing alone ${Math.round(parseMs)} ms; budget ${BUDGET_MS} ms; skipped: ${JSON.stringify(r.skippedFunctions)}`);
  });
});
