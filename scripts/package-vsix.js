// Packs the VSIX (run after `npm run bundle`): node scripts/package-vsix.js [OUT.vsix]
//
// package.json's "files" is the npm package's allow-list (the CLI), and vsce refuses a
// package.json with "files" beside a .vscodeignore. So the VSIX is packed in a staging folder
// that holds what .vscodeignore lets in (its `!` lines) and package.json without "files";
// vsce then applies the same .vscodeignore there, as it did in the repository.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { minimatch } = require('minimatch');

const root = path.join(__dirname, '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'cpyref.vsix'));
const allowed = fs
  .readFileSync(path.join(root, '.vscodeignore'), 'utf8')
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l.startsWith('!'))
  .map((l) => l.slice(1));

/** Files below `dir` (relative to the root, with '/'), skipping node_modules and .git. */
function walk(dir, acc) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return acc;
  }
  for (const e of entries) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== '.git') walk(rel, acc);
    } else if (e.isFile()) acc.push(rel);
  }
  return acc;
}

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-vsix-'));
try {
  // Only the folders the patterns name are walked (a pattern's part before its first glob).
  const files = new Set();
  for (const pattern of allowed) {
    const parts = pattern.split('/');
    const fixed = [];
    for (const p of parts.slice(0, -1)) {
      if (/[*?[\]{}!]/.test(p)) break;
      fixed.push(p);
    }
    for (const rel of walk(fixed.join('/'), [])) if (minimatch(rel, pattern, { dot: true })) files.add(rel);
  }
  for (const rel of files) {
    fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
    fs.copyFileSync(path.join(root, rel), path.join(stage, rel));
  }
  fs.copyFileSync(path.join(root, '.vscodeignore'), path.join(stage, '.vscodeignore'));
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  delete manifest.files;
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

  const vsceDir = path.dirname(require.resolve('@vscode/vsce/package.json'));
  const vsceBin = path.join(vsceDir, require(path.join(vsceDir, 'package.json')).bin.vsce);
  const r = spawnSync(process.execPath, [vsceBin, 'package', '--no-dependencies', '--out', out], { cwd: stage, stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = r.status ?? 1;
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
