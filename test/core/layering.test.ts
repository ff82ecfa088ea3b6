import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/engine';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  const core = sources(path.join(REPO, 'src', 'core'));

  it('finds the core sources', () => {
    assert.ok(core.length >= 10);
  });

  it('keeps vscode out of src/core', () => {
    const offenders = core.filter((f) => /from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\s+\w+\s*=\s*require\(['"]vscode['"]\)/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('keeps the language server library out of src/core, src/node and src/cli', () => {
    const files = [...core, ...sources(path.join(REPO, 'src', 'node')), ...sources(path.join(REPO, 'src', 'cli'))];
    const offenders = files.filter((f) => /from\s+['"]vscode-(languageserver|jsonrpc)[^'"]*['"]|from\s+['"]\.\.?\/(\.\.\/)*lsp\//.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('keeps vscode and the extension out of the language server, and the server out of the extension (and so out of the VSIX)', () => {
    const lsp = sources(path.join(REPO, 'src', 'lsp'));
    assert.ok(lsp.length >= 2, 'src/lsp not found');
    const lspOffenders = lsp.filter((f) => /from\s+['"]vscode['"]|from\s+['"]\.\.?\/(\.\.\/)*extension\//.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(lspOffenders, []);
    const extOffenders = sources(path.join(REPO, 'src', 'extension')).filter((f) => /from\s+['"]vscode-(languageserver|jsonrpc)[^'"]*['"]|from\s+['"]\.\.?\/(\.\.\/)*lsp\//.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(extOffenders, []);
  });

  it('keeps the CLI, the Node layer, the file system and the process out of src/core', () => {
    const offenders = core.filter((f) => /from\s+['"]\.\.?\/(\.\.\/)*(cli|extension|node)\/|from\s+['"](?:node:)?fs['"]|\bprocess\.(exit|argv|stdout|stderr|cwd)\b|writeFileSync|renameSync/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });
});
