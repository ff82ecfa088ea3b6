// The recipes the docs give run as written: every cpyref command in docs/ci/github-actions.yml
// (and the README's copy of it) and in .pre-commit-hooks.yaml is run through the CLI on a project
// laid out as the recipe assumes, and must not end in a usage error.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT_ERROR, EXIT_FINDINGS } from '../../src/cli/main';
import { defaultOptions } from '../../src/core/options';
import { removeTempDirs, runCli, tempProject } from './cli-harness';
import { REPO } from '../helpers/engine';

const WORKFLOW = 'docs/ci/github-actions.yml';

/** The commands of a workflow's `run:` keys (one-line values and `|` blocks), comments left out. */
function runCommands(yaml: string): string[] {
  const lines = yaml.split(/\r?\n/);
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:-\s+)?run:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    const value = m[2].trim();
    if (value === '|' || value === '>') {
      const block: string[] = [];
      let indent = -1;
      while (i + 1 < lines.length) {
        const next = lines[i + 1];
        const lead = /^(\s*)/.exec(next)![1].length;
        if (next.trim() && lead <= m[1].length) break;
        if (next.trim() && indent < 0) indent = lead;
        block.push(next.slice(Math.max(indent, 0)));
        i++;
      }
      out.push(...block.filter((l) => l.trim() && !l.trim().startsWith('#')));
    } else if (value) {
      out.push(value.replace(/^(['"])(.*)\1$/, '$2'));
    }
  }
  return out;
}

/** Shell words of a simple command line, up to its first operator (`>`, `|`, `||`, `&&`, `;`). */
function firstCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else if ('<>|&;'.includes(c)) {
      // A redirection's file descriptor (2>) belongs to the operator, not to the arguments.
      if (started && !/^\d+$/.test(word)) words.push(word);
      return words;
    } else {
      word += c;
      started = true;
    }
  }
  assert.equal(quote, '', `unbalanced quote in: ${line}`);
  if (started) words.push(word);
  return words;
}

/** The arguments of a cpyref invocation (`cpyref`, `npx cpyref`, `node …/bin/cpyref.js`), else undefined. */
function cpyrefArgs(words: string[]): string[] | undefined {
  const i = words.findIndex((w) => /(^|\/)cpyref$/.test(w) || /(^|\/)bin\/cpyref\.js$/.test(w));
  return i < 0 ? undefined : words.slice(i + 1);
}

after(removeTempDirs);

describe('the GitHub Actions recipe (docs/ci/github-actions.yml)', () => {
  const yaml = fs.readFileSync(path.join(REPO, WORKFLOW), 'utf8');
  const commands = runCommands(yaml)
    .map((line) => ({ line, args: cpyrefArgs(firstCommand(line)) }))
    .filter((c): c is { line: string; args: string[] } => c.args !== undefined);

  it('runs cpyref for the SARIF upload and for the annotations', () => {
    assert.equal(commands.length, 2, commands.map((c) => c.line).join('\n'));
    assert.match(yaml, /uses: github\/codeql-action\/upload-sarif@v\d+/);
    assert.ok(commands.some((c) => c.args.join(' ').includes('--format sarif')));
    assert.ok(commands.some((c) => c.args.join(' ').includes('--format github')));
    // The SARIF step lets findings (exit 1) through to the upload, not usage errors (exit 2).
    const sarif = commands.find((c) => c.args.includes('sarif'))!;
    assert.match(sarif.line, /> cpyref\.sarif \|\| \[ \$\? -eq 1 \]$/);
    assert.match(yaml, new RegExp(`sarif_file: cpyref\\.sarif`));
  });

  it('each command is one the CLI accepts: on a project with its C sources in src/, no usage error and the promised output', async () => {
    const dir = tempProject();
    fs.cpSync(path.join(REPO, 'examples', 'framecache'), path.join(dir, 'src'), { recursive: true });
    for (const { line, args } of commands) {
      const r = await runCli(dir, args);
      assert.notEqual(r.code, EXIT_ERROR, `${line}\n${r.stderr}`);
      assert.equal(r.code, EXIT_FINDINGS, `${line}: the example's findings fail the step`);
      const format = args[args.indexOf('--format') + 1];
      if (format === 'sarif') {
        const log = JSON.parse(r.stdout);
        assert.equal(log.version, '2.1.0');
        assert.ok(log.runs[0].results.length >= 6);
        assert.ok(log.runs[0].results.every((x: any) => x.locations[0].physicalLocation.artifactLocation.uri.startsWith('src/')));
      } else {
        assert.equal(format, 'github');
        const lines = r.stdout.trim().split('\n');
        assert.ok(lines.length >= 6);
        for (const l of lines) assert.match(l, /^::error file=src\/framecache\.[ch],line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=cpyref borrowed-singleton-return::/);
      }
    }
  });

  it('a command the CLI does not accept is caught (the check can fail)', async () => {
    const dir = tempProject({ 'src/a.c': 'int x;\n' });
    const args = cpyrefArgs(firstCommand('node .cpyref/bin/cpyref.js --format annotations src/ > out || true'))!;
    assert.deepEqual(args, ['--format', 'annotations', 'src/']);
    assert.equal((await runCli(dir, args)).code, EXIT_ERROR);
  });

  it('the README shows the same workflow and points to the file', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.ok(readme.includes(`(${WORKFLOW})`), `the README does not link ${WORKFLOW}`);
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    const copy = blocks.find((b) => b.includes('upload-sarif'));
    assert.ok(copy, 'the README has no workflow block');
    assert.equal(copy, yaml);
  });
});

describe('the pre-commit hooks (.pre-commit-hooks.yaml)', () => {
  const text = fs.readFileSync(path.join(REPO, '.pre-commit-hooks.yaml'), 'utf8');
  // A list of flat mappings: `- id: x` opens a hook, `key: value` lines follow.
  const hooks: Array<Record<string, string>> = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line) || !line.trim()) continue;
    const m = /^(-\s+|\s+)([a-z_]+):\s*(.*)$/.exec(line);
    assert.ok(m, `cannot read: ${line}`);
    if (m[1].startsWith('-')) hooks.push({});
    hooks[hooks.length - 1][m[2]] = m[3].replace(/^(['"])(.*)\1$/, '$2');
  }
  const byId = new Map(hooks.map((h) => [h.id, h]));

  it('has a cpyref hook and a cpyref-fix hook, both node hooks of the cpyref bin', () => {
    assert.deepEqual([...byId.keys()], ['cpyref', 'cpyref-fix']);
    for (const h of hooks) {
      assert.equal(h.language, 'node');
      assert.ok(h.name && h.description);
      assert.deepEqual(firstCommand(h.entry)[0], 'cpyref');
    }
    assert.deepEqual(cpyrefArgs(firstCommand(byId.get('cpyref')!.entry)), []);
    assert.deepEqual(cpyrefArgs(firstCommand(byId.get('cpyref-fix')!.entry)), ['--fix']);
  });

  it('matches exactly the file extensions the CLI reads by default', () => {
    const extensions = defaultOptions().include.map((g) => {
      const m = /^\*\*\/\*(\.[a-z]+)$/.exec(g);
      assert.ok(m, `unexpected default include ${g}`);
      return m[1];
    });
    for (const h of hooks) {
      const re = new RegExp(h.files);
      for (const ext of extensions) assert.ok(re.test(`src/mod${ext}`), `${h.id} skips *${ext}`);
      for (const other of ['setup.py', 'mod.pyx', 'README.md', 'mod.c.orig', 'include/mod.hxx']) assert.ok(!re.test(other), `${h.id} takes ${other}`);
    }
  });

  it('each entry, given file names as pre-commit does, runs: findings exit 1, the fix hook fixes', async () => {
    const src = fs.readFileSync(path.join(REPO, 'examples', 'framecache', 'framecache.c'), 'utf8');
    for (const h of hooks) {
      const dir = tempProject({ 'framecache.c': src, 'framecache.h': fs.readFileSync(path.join(REPO, 'examples', 'framecache', 'framecache.h'), 'utf8') });
      const r = await runCli(dir, [...cpyrefArgs(firstCommand(h.entry))!, 'framecache.c', 'framecache.h']);
      assert.notEqual(r.code, EXIT_ERROR, r.stderr);
      assert.equal(r.code, EXIT_FINDINGS, `${h.id}: ${r.stdout}`);
      const after = fs.readFileSync(path.join(dir, 'framecache.c'), 'utf8');
      if (h.id === 'cpyref-fix') assert.ok(after !== src && after.includes('Py_RETURN_NONE;'));
      else assert.equal(after, src);
    }
  });
});
