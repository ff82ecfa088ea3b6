import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Minimatch } from 'minimatch';
import { defaultOptions, type Options } from '../../src/core/options';
import { expand, FileFilter } from '../../src/node/files';
import { REPO } from '../helpers/engine';

/** The filter as it was: every pattern asked of minimatch. */
function plainFilter(opts: Options, platform?: NodeJS.Platform): { included(r: string): boolean; excluded(r: string): boolean; excludedDir(r: string): boolean } {
  const compile = (p: string) => new Minimatch(p, { dot: true, platform });
  const include = opts.include.flatMap(expand).map(compile);
  const exclude = [...opts.exclude, ...opts.extendExclude].flatMap(expand).map(compile);
  const excluded = (r: string) => exclude.some((m) => m.match(r));
  return {
    included: (r) => include.some((m) => m.match(r)) && !excluded(r),
    excluded,
    excludedDir: (r) => exclude.some((m) => m.match(r) || m.match(`${r}/`)),
  };
}

/** Every path under a folder (relative, with `/`), folders included; node_modules' packages too (installed before the tests run). */
function pathsUnder(dir: string, rel = '', out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    // (Not the fetched sources of the benchmarks, which a clone does not have: the test sees the same paths everywhere.)
    if (e.name === '.git' || r === 'bench/real-world/src' || r === 'bench/pyrefcon/work') continue;
    out.push(r);
    if (e.isDirectory()) pathsUnder(path.join(dir, e.name), r, out);
  }
  return out;
}

test('the file filter decides as minimatch does for every pattern, though it asks minimatch only about paths that may match', () => {
  const paths = pathsUnder(REPO);
  // Paths a repository of C code may hold: folders named like sources, dots, excluded names inside other names.
  paths.push('src/x.c/readme.txt', 'a/.c', '.c', 'build', 'buildx/a.c', 'a/build/b.c', 'my_build/x.h', 'x/.git/y.c', 'lib/pythoncapi_compat.h', 'lib/pythoncapi_compat.hpp', 'a.C', 'deep/a/b/c/d/e.inc', 'gen_x.c', 'src/sub/gen_y.c', 'vendor/z.h', 'q/vendor/z.h', 'ax/k.h', 'bx/k.h', 'cx/k.h', 'x.cc.bak', 'a/b.cpp/c.h');
  const base = defaultOptions();
  const sets: Array<Partial<Options>> = [
    {},
    { extendExclude: ['third_party/', '/vendor', 'gen_*.c', 'src/**/gen_*.c', '**/[ab].c', '{a,b}x/*.h', 'x?.c', '\\*.c', '+(a|b).h', 'test*'] },
    { extendExclude: ['*'] },
    { include: ['*.c', 'src/**', '/lib/*.h', '{ax,bx}/', '*.inc', '**', '**/*'], exclude: ['!keep.c', '!src/keep.c', 'build', '*.bak'] },
  ];
  let asked = 0;
  let included = 0;
  for (const extra of sets) {
    const opts = { ...base, ...extra } as Options;
    const ours = new FileFilter(opts, '/r');
    const plain = plainFilter(opts);
    for (const r of paths) {
      assert.equal(ours.included(`/r/${r}`), plain.included(r), `${JSON.stringify(extra)} included ${r}`);
      assert.equal(ours.excludedDir(`/r/${r}`), plain.excludedDir(r), `${JSON.stringify(extra)} excludedDir ${r}`);
      asked++;
      if (plain.included(r)) included++;
    }
  }
  assert.ok(paths.length > 1000, `${paths.length} paths`);
  assert.ok(asked > 3000);
  assert.ok(included > 100, `${included} paths included`);
});

test('on Windows, where minimatch compares drive letters without regard to case, the filter still decides as minimatch does', () => {
  // A path outside the root is matched as written (absolute), and editors give drive letters in either case.
  const opts = { ...defaultOptions(), extendExclude: ['C:/x/**', 'd:/Vendor/**', 'sub/*.c'] } as Options;
  const ours = new FileFilter(opts, 'e:/r', 'win32');
  const plain = plainFilter(opts, 'win32');
  let excluded = 0;
  for (const p of ['c:/x/y.c', 'C:/x/y.c', 'c:/X/y.c', 'D:/Vendor/a.h', 'd:/vendor/a.h', 'f:/x/y.c']) {
    const expected = plain.excluded(p);
    assert.equal(ours.excluded(p), expected, p);
    assert.equal(ours.excludedDir(p), plain.excludedDir(p), p);
    if (expected) excluded++;
  }
  assert.ok(excluded >= 3, `${excluded} excluded`);
});

test("the walk's path of a folder's entry is the one the filter would work out from the whole path", () => {
  const root = path.resolve('/work/proj');
  const filter = new FileFilter(defaultOptions(), root);
  // Folders inside the root (the root itself too), outside it, and names that start with dots.
  const dirs = [root, path.join(root, 'src'), path.join(root, 'src', '..a'), path.join(root, '.hidden', 'deep'), path.join(root, '..b', 'c'), path.resolve('/elsewhere/x'), path.resolve('/work/proj2'), path.resolve('/work'), path.resolve('/')];
  const names = ['a.c', '..c', '..', '.x.h', 'b', '...', '..foo.c', 'proj'];
  let checked = 0;
  for (const dir of dirs) {
    for (const name of names) {
      const abs = path.join(dir, name);
      // (`path.join` reads `..` as the parent: the walk never meets such an entry.)
      if (name === '..') continue;
      assert.equal(filter.childRel(filter.rel(dir), name, abs), filter.rel(abs), `${dir} + ${name}`);
      checked++;
    }
  }
  assert.equal(checked, dirs.length * (names.length - 1));
});
