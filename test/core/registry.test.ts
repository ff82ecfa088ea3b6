import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RULES } from '../../src/core/rules/index';
import { REPO } from '../helpers/engine';

const HEADINGS = ['## What it does', '## Why is this bad?', '## Example', '## Fix safety'];

describe('rule registry', () => {
  it('lists rules sorted by id, with kebab-case ids', () => {
    const ids = RULES.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort());
    for (const id of ids) assert.match(id, /^[a-z]+(-[a-z]+)*$/);
  });

  it('has one source file per rule, named after its id', () => {
    const files = fs.readdirSync(path.join(REPO, 'src/core/rules')).filter((f) => !['index.ts', 'rule.ts'].includes(f));
    assert.deepEqual(files.map((f) => f.replace(/\.ts$/, '')).sort(), RULES.map((r) => r.id).sort());
    for (const r of RULES) {
      const src = fs.readFileSync(path.join(REPO, 'src/core/rules', `${r.id}.ts`), 'utf8');
      for (const h of HEADINGS) assert.ok(src.includes(h), `${r.id}.ts lacks the doc heading ${h}`);
    }
  });

  it('has a fixture folder per rule and no folder without a rule', () => {
    const folders = fs.readdirSync(path.join(REPO, 'test/fixtures'), { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('_')).map((d) => d.name);
    assert.deepEqual(folders.sort(), RULES.map((r) => r.id).sort());
  });

  it('has a documentation page per rule with the fixed headings', () => {
    const docs = fs.readdirSync(path.join(REPO, 'docs/rules')).filter((f) => f.endsWith('.md'));
    assert.deepEqual(docs.map((f) => f.replace(/\.md$/, '')).sort(), RULES.map((r) => r.id).sort());
    for (const r of RULES) {
      const doc = fs.readFileSync(path.join(REPO, 'docs/rules', `${r.id}.md`), 'utf8');
      assert.ok(doc.startsWith(`# ${r.id}`), `${r.id}.md must start with its id`);
      for (const h of HEADINGS) assert.ok(doc.includes(h), `${r.id}.md lacks ${h}`);
    }
  });

  it('lists every rule in the README rule table', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    for (const r of RULES) assert.ok(readme.includes(`[\`${r.id}\`](docs/rules/${r.id}.md)`), `README lacks ${r.id}`);
  });
});

describe('rule documentation', () => {
  it('is generated from the rule sources (run `npm run docs` after editing a rule)', async () => {
    const { ruleDoc } = await import('../../scripts/gen-docs');
    for (const r of RULES) assert.equal(fs.readFileSync(path.join(REPO, 'docs/rules', `${r.id}.md`), 'utf8'), ruleDoc(r.id), `docs/rules/${r.id}.md is stale`);
  });
});
