// The npm package: what `npm pack` puts in the tarball, and that the tarball, installed into an
// empty prefix with its runtime dependencies only, runs the CLI. The install is offline: the
// dependencies come from the npm cache that `npm ci` filled (through a lockfile written from
// package-lock.json, since a tarball install without one needs the registry's metadata).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO } from '../helpers/engine';
import { npm } from '../helpers/npm';
import { TestClient, uriOf } from '../lsp/client';

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}

const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: Record<string, string>;
  license: string;
};

/** The lockfile entries (by install location) that the runtime dependencies need, from package-lock.json. */
function runtimeLockEntries(): Record<string, LockEntry> {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const todo: Array<[string, string]> = Object.keys(manifest.dependencies).map((d) => ['', d]);
  while (todo.length) {
    const [from, dep] = todo.pop()!;
    // Node's lookup: from's own node_modules, then each enclosing node_modules up to the root.
    let dir = from;
    let found: string | undefined;
    for (;;) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${dep}`;
      if (lock.packages[candidate]) {
        found = candidate;
        break;
      }
      if (!dir) break;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
    assert.ok(found, `package-lock.json has no ${dep} (needed by ${from || 'cpyref'})`);
    if (out[found]) continue;
    out[found] = lock.packages[found];
    for (const d of Object.keys(lock.packages[found].dependencies ?? {})) todo.push([found, d]);
  }
  return out;
}

/** Relative modules and package names that one compiled file loads. */
function requiresOf(js: string): string[] {
  const found = [...js.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
  // Workers are started by file name beside the module: new Worker(path.join(__dirname, 'worker.js')).
  for (const m of js.matchAll(/path\.join\(__dirname,\s*["']([^"']+\.js)["']\)/g)) found.push(`./${m[1]}`);
  return found;
}

describe('the npm package', () => {
  let tmp = '';
  let info: PackInfo;
  let packed: Set<string>;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-pack-'));
    // `npm test` has just compiled out/; --ignore-scripts packs that build (npm pack alone would
    // run prepack, which removes out/ while other test files are running from it).
    const r = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO);
    assert.equal(r.status, 0, r.stderr);
    info = (JSON.parse(r.stdout) as PackInfo[])[0];
    packed = new Set(info.files.map((f) => f.path));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is publishable: not private, with the metadata a registry page shows', () => {
    const raw = manifest as unknown as Record<string, unknown>;
    assert.equal(raw.private, undefined);
    assert.equal(manifest.name, 'cpyref');
    assert.equal(manifest.license, 'MIT');
    assert.ok(raw.repository && raw.keywords && raw.description && raw.homepage);
    assert.equal(manifest.bin.cpyref, 'bin/cpyref.js');
    assert.equal(manifest.bin['cpyref-lsp'], 'bin/cpyref-lsp.js');
    assert.match(manifest.engines.node, /\^20/);
    assert.match(manifest.engines.node, /\^24/);
    assert.equal(info.filename, `cpyref-${manifest.version}.tgz`);
  });

  it('holds the CLI, the language server, README, LICENSE, NOTICE and CHANGELOG, and no tests, sources, fixtures, harness, bench or bundle', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'NOTICE.md', 'CHANGELOG.md', 'bin/cpyref.js', 'bin/cpyref-lsp.js', 'out/src/cli/main.js', 'out/src/node/worker.js', 'out/src/lsp/main.js']) {
      assert.ok(packed.has(f), `the tarball lacks ${f}`);
    }
    const allowed = /^(package\.json|README\.md|LICENSE|NOTICE\.md|CHANGELOG\.md|bin\/cpyref(-lsp)?\.js|out\/src\/(cli|core|lsp|node)\/.+\.js)$/;
    assert.deepEqual([...packed].filter((f) => !allowed.test(f)), []);
    assert.ok(![...packed].some((f) => /(^|\/)(test|tests|fixtures|harness|bench|extension|examples|data|dist|node_modules)\//.test(f)));
    assert.ok(![...packed].some((f) => f.endsWith('.ts') || f.endsWith('.map')));
  });

  it('holds every module the CLI and the language server load, and loads no package but its runtime dependencies', () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const runtime = new Set(Object.keys(manifest.dependencies));
    const seen = new Set<string>();
    const missing: string[] = [];
    const foreign: string[] = [];
    const todo = ['bin/cpyref.js', 'bin/cpyref-lsp.js'];
    while (todo.length) {
      const file = todo.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of requiresOf(fs.readFileSync(path.join(REPO, file), 'utf8'))) {
        if (spec.startsWith('.')) {
          const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
          const hit = [base, `${base}.js`, `${base}/index.js`].find((c) => packed.has(c));
          if (hit) todo.push(hit);
          else missing.push(`${base} (from ${file})`);
        } else if (!builtins.has(spec)) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (!runtime.has(name)) foreign.push(`${spec} (from ${file})`);
        }
      }
    }
    assert.deepEqual(missing, []);
    assert.deepEqual(foreign, []);
    assert.ok(seen.has('out/src/node/worker.js') && seen.has('out/src/lsp/server.js') && seen.size > 30, `followed only ${seen.size} modules`);
  });

  it('is small, and the README gives its size', () => {
    // (Limits that catch what should not ship, tests, fixtures or the real-world set's sources, with room for the code to grow.)
    assert.ok(info.size < 250_000, `packed ${info.size} bytes`);
    assert.ok(info.unpackedSize < 900_000, `unpacked ${info.unpackedSize} bytes`);
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const m = /npm tarball is (\d+) kB \((\d+) kB unpacked, (\d+) files\)/.exec(readme);
    assert.ok(m, 'README: "The npm tarball is N kB (M kB unpacked, F files)" not found');
    const near = (stated: number, actual: number, what: string) =>
      assert.ok(Math.abs(stated - actual) / actual < 0.2, `README says ${what} ${stated}, npm pack gives ${actual}: update the README`);
    near(Number(m[1]), info.size / 1000, 'packed kB');
    near(Number(m[2]), info.unpackedSize / 1000, 'unpacked kB');
    near(Number(m[3]), info.files.length, 'files');
  });

  it('installs into an empty prefix with its runtime dependencies only, offline, and scans the example from there', () => {
    const prefix = path.join(tmp, 'prefix');
    fs.mkdirSync(prefix);
    const tarball = path.join(tmp, info.filename);
    const spec = `file:${path.relative(prefix, tarball).split(path.sep).join('/')}`;
    const deps = runtimeLockEntries();
    const lock = {
      name: 'consumer',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'consumer', dependencies: { cpyref: spec } },
        'node_modules/cpyref': {
          version: manifest.version,
          resolved: spec,
          integrity: `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
          license: manifest.license,
          dependencies: manifest.dependencies,
          bin: manifest.bin,
          engines: { node: manifest.engines.node },
        },
        ...deps,
      },
    };
    fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { cpyref: spec } }, null, 2));
    fs.writeFileSync(path.join(prefix, 'package-lock.json'), JSON.stringify(lock, null, 2));
    const ci = npm(['ci', '--offline', '--no-audit', '--no-fund'], prefix);
    assert.equal(ci.status, 0, `npm ci --offline failed (the npm cache must hold what npm ci fetched for this repository):\n${ci.stderr}`);

    // Only cpyref and the runtime dependencies are installed: no TypeScript, no test tools.
    const installed = fs.readdirSync(path.join(prefix, 'node_modules')).flatMap((n) =>
      n.startsWith('@') ? fs.readdirSync(path.join(prefix, 'node_modules', n)).map((s) => `${n}/${s}`) : n.startsWith('.') ? [] : [n],
    );
    // (Top level only: a dependency's own copy of another, such as tree-sitter-cpp's tree-sitter-c, sits in its folder.)
    const topLevel = Object.keys(deps).map((k) => k.replace(/^node_modules\//, '')).filter((k) => !k.includes('/node_modules/'));
    assert.deepEqual(installed.sort(), ['cpyref', ...topLevel].sort());
    for (const dev of Object.keys(manifest.devDependencies)) assert.ok(!installed.includes(dev), `${dev} was installed`);

    const bin = path.join(prefix, 'node_modules', '.bin', 'cpyref');
    const run = (args: string[], cwd: string) => spawnSync(bin, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32' });
    const v = run(['--version'], prefix);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `cpyref ${manifest.version}\n`);

    // The example, copied beside the prefix (outside the repository): same findings as the repo's CLI.
    const work = path.join(tmp, 'work');
    fs.cpSync(path.join(REPO, 'examples'), work, { recursive: true });
    const scan = run(['.'], work);
    const ref = spawnSync(process.execPath, [path.join(REPO, 'bin', 'cpyref.js'), '.'], { cwd: work, encoding: 'utf8' });
    assert.equal(scan.status, 1, scan.stderr);
    assert.match(scan.stdout, /framecache\.c:22:5: error: `cache_close` returns borrowed `Py_None`; CPython expects a new reference/);
    assert.equal(scan.stdout, ref.stdout);
    assert.match(scan.stderr, /6 findings/);
  });

  it('starts the installed language server, which initializes and publishes the example\'s findings', async () => {
    const bin = path.join(tmp, 'prefix', 'node_modules', '.bin', 'cpyref-lsp');
    assert.ok(fs.existsSync(bin), 'the install test above installed the package');
    const work = path.join(tmp, 'work');
    const { client, init } = await TestClient.start({ command: bin, root: work });
    try {
      assert.deepEqual(init.serverInfo, { name: 'cpyref', version: manifest.version });
      const file = path.join(work, 'framecache', 'framecache.c');
      await client.open(uriOf(file), fs.readFileSync(file, 'utf8'), 1);
      const p = await client.publishedFor(uriOf(file), 1);
      assert.equal(p.diagnostics.filter((d) => d.code === 'borrowed-singleton-return').length, 5);
      assert.ok(p.diagnostics.some((d) => d.range.start.line === 21 && d.message === '`cache_close` returns borrowed `Py_None`; CPython expects a new reference'));
    } finally {
      assert.equal(await client.stop(), 0);
    }
  });
});
