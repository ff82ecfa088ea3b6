// Neovim, headless, with its own LSP client and the README's configuration: the diagnostic
// arrives, and the quick fix, applied through Neovim's code-action machinery, fixes the buffer.
// Neovim is Debian's `neovim` package: installed here when missing (as .ci/run does); the test
// fails, never skips, when it cannot be had.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO } from '../helpers/engine';

const CONFIG = path.join(REPO, 'docs', 'editors', 'neovim.lua');
const DRIVER = path.join(REPO, 'test', 'lsp', 'neovim-driver.lua');

/** `nvim --version`'s first line; installs Debian's neovim when it is missing and this is root with apt-get. */
function neovim(): string {
  const probe = () => spawnSync('nvim', ['--version'], { encoding: 'utf8' });
  let r = probe();
  if (r.status !== 0 && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    spawnSync('apt-get', ['install', '-y', '-qq', 'neovim'], { stdio: 'ignore', env });
    r = probe();
  }
  if (r.status !== 0) throw new Error(`nvim is not installed and could not be installed (apt-get install neovim; .ci/run does): ${r.error?.message ?? r.stderr}`);
  return r.stdout.split('\n')[0];
}

/** The module of the issue: `return Py_None;` in a method registered in a PyMethodDef table. */
const MODULE = `#include <Python.h>

static PyObject *
counter_reset(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_None;
}

static PyMethodDef counter_methods[] = {
    {"reset", counter_reset, METH_NOARGS, "Reset the counter."},
    {NULL, NULL, 0, NULL},
};
`;

interface NvimResult {
  nvim: string;
  filetype?: string;
  error?: string;
  clients?: string[];
  diagnostic?: { lnum: number; col: number; message: string; severity: number };
  offered?: string[];
  line?: string;
  cleared?: boolean;
}

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe('Neovim (headless, built-in LSP client)', () => {
  it('the README shows the configuration this test runs', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.ok(readme.includes('```lua\n' + fs.readFileSync(CONFIG, 'utf8') + '```\n'), 'README.md must show docs/editors/neovim.lua verbatim in a lua block');
  });

  it('shows the diagnostic for `return Py_None;`, and its quick fix turns the line into `Py_RETURN_NONE;`', async () => {
    const version = neovim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-nvim-'));
    made.push(dir);
    // `cpyref-lsp` on PATH, as `npm install -g cpyref` puts it.
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(path.join(REPO, 'bin', 'cpyref-lsp.js'), path.join(bin, 'cpyref-lsp'));
    const project = path.join(dir, 'project');
    fs.mkdirSync(path.join(project, 'src'), { recursive: true });
    fs.writeFileSync(path.join(project, 'pyproject.toml'), '[project]\nname = "counter"\nrequires-python = ">=3.8"\n');
    fs.writeFileSync(path.join(project, 'src', 'counter.c'), MODULE);
    const resultFile = path.join(dir, 'result.json');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
      CPYREF_NVIM_RESULT: resultFile,
      // Nothing of the user's Neovim (configuration, state, logs) is read or written.
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_STATE_HOME: path.join(dir, 'state'),
      XDG_CACHE_HOME: path.join(dir, 'cache'),
    };
    const nvim = spawn('nvim', ['--headless', '-n', '-i', 'NONE', '-u', CONFIG, path.join('src', 'counter.c'), '-c', `luafile ${DRIVER}`], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    nvim.stdout.on('data', (d: Buffer) => (output += d.toString()));
    nvim.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => nvim.kill('SIGKILL'), 120_000);
      nvim.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.ok(fs.existsSync(resultFile), `Neovim (${version}) wrote no result (exit ${code}):\n${output}`);
    const r = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as NvimResult;
    assert.equal(r.error, undefined, `${r.error}\n${output}`);
    assert.equal(r.filetype, 'c');
    assert.deepEqual(r.clients, ['cpyref']);
    assert.deepEqual(r.diagnostic, { lnum: 5, col: 4, message: '`counter_reset` returns borrowed `Py_None`; CPython expects a new reference', severity: 1 });
    assert.deepEqual(r.offered, ['Replace with Py_RETURN_NONE', 'Suppress borrowed-singleton-return on this line', 'Fix all cpyref problems in this file']);
    assert.equal(r.line, '    Py_RETURN_NONE;');
    assert.equal(r.cleared, true, 'the diagnostic went once the fix was applied');
    assert.ok(version.includes(r.nvim), `${version} vs ${r.nvim}`);
  });
});
