import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES } from '../helpers/engine';

/** The folder holding Python.h: from python3's sysconfig, else Debian's python3-dev. */
function pythonInclude(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_paths()['include'])"], { encoding: 'utf8' }).trim());
  } catch {
    // no python3 on PATH
  }
  for (const d of fs.existsSync('/usr/include') ? fs.readdirSync('/usr/include') : []) if (/^python3\.\d+$/.test(d)) candidates.push(path.join('/usr/include', d));
  const found = candidates.find((c) => fs.existsSync(path.join(c, 'Python.h')));
  if (!found) throw new Error('Python.h not found: install python3-dev (.ci/run does)');
  return found;
}

function goldens(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? goldens(p) : /\.fixed\.(c|h|cpp|hpp)$/.test(e.name) ? [p] : [];
  });
}

describe('fixed goldens', () => {
  const include = pythonInclude();
  const files = goldens(FIXTURES);

  it('exist', () => assert.ok(files.length > 0));

  for (const file of files) {
    it(`${path.relative(FIXTURES, file)} compiles against Python.h`, () => {
      const cxx = /\.(cpp|hpp)$/.test(file);
      const flags = cxx ? ['-std=c++17', '-x', 'c++'] : ['-std=c11', '-x', 'c', '-Werror=implicit-function-declaration', '-Werror=incompatible-pointer-types', '-Werror=int-conversion'];
      const r = spawnSync(cxx ? 'g++' : 'gcc', ['-fsyntax-only', ...flags, `-I${include}`, `-I${path.dirname(file)}`, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
  }
});
