import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main, type CliIO } from '../../src/cli/main';

/** What one in-process run of the CLI printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main` in `cwd` with captured output; `stdin` is what `readStdin` returns. */
export async function runCli(cwd: string, args: string[], stdin = '', stderrIsTTY = false): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    cwd,
    stdout: (s) => {
      stdout += typeof s === 'string' ? s : Buffer.from(s).toString('utf8');
    },
    stderr: (s) => {
      stderr += s;
    },
    readStdin: async () => stdin,
    stderrIsTTY,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** Runs the CLI with `--format json` and parses what it printed. */
export async function runJson(cwd: string, args: string[], stdin = ''): Promise<CliRun & { doc: any }> {
  const r = await runCli(cwd, ['--format', 'json', ...args], stdin);
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`stdout is not JSON (${(e as Error).message}); exit ${r.code}; stderr:\n${r.stderr}\nstdout:\n${r.stdout}`);
  }
  return { ...r, doc };
}

const made: string[] = [];

/** A fresh temporary folder holding `files` (path below it -> text or bytes); removed by `removeTempDirs`. */
export function tempProject(files: Record<string, string | Uint8Array> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-cli-'));
  made.push(dir);
  for (const [rel, content] of Object.entries(files)) writeFile(dir, rel, content);
  return dir;
}

/** Writes one file below `dir`, creating its folders. */
export function writeFile(dir: string, rel: string, content: string | Uint8Array): string {
  const abs = path.join(dir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return abs;
}

/** Removes every folder `tempProject` made. */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** A method registered in a PyMethodDef table that returns a borrowed `Py_None` (line 6, column 5). */
export const REGISTERED_BUG = `#include <Python.h>

static PyObject *
spam_close(PyObject *self, PyObject *args)
{
    return Py_None;
}

static PyMethodDef spam_methods[] = {
    {"close", spam_close, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

/** REGISTERED_BUG after its safe fix. */
export const REGISTERED_FIXED = REGISTERED_BUG.replace('    return Py_None;', '    Py_RETURN_NONE;');

/** A registered method that returns None correctly. */
export const CLEAN = `#include <Python.h>

static PyObject *
spam_reset(PyObject *self, PyObject *args)
{
    Py_RETURN_NONE;
}

static PyMethodDef spam_methods[] = {
    {"reset", spam_reset, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

/** A static helper nobody registers that returns a borrowed `Py_True`: an information finding (line 6). */
export const UNREGISTERED_HELPER = `#include <Python.h>

static PyObject *
pick_flag(PyObject *unused)
{
    return Py_True;
}
`;

/** A registered method that increfs None and returns it: correct, but `prefer-return-macro` (a hint) applies at line 6. */
export const VERBOSE_RETURN = `#include <Python.h>

static PyObject *
spam_touch(PyObject *self, PyObject *args)
{
    Py_INCREF(Py_None);
    return Py_None;
}

static PyMethodDef spam_methods[] = {
    {"touch", spam_touch, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

/** The text format's line: `path:line:col: severity: message [rule-id]`. */
export const TEXT_LINE = /^(.+):(\d+):(\d+): (error|warning|information|hint): (.+) \[([a-z0-9-]+)\]$/;

/** The non-empty lines of a text. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}
