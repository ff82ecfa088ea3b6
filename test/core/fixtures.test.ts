import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { applySafeFixes } from '../../src/core/fixes';
import { RULES } from '../../src/core/rules/index';
import { decodeSource, LineIndex } from '../../src/core/text';
import type { Finding } from '../../src/core/types';
import { analyzeFixture, FIXTURES } from '../helpers/engine';

/** `// expect: rule-id` or `// expect: rule-id:severity` (several separated by commas) on the finding's line. */
function expectations(text: string): string[] {
  const out: string[] = [];
  const lines = new LineIndex(text);
  for (let i = 0; i < lines.lineCount; i++) {
    const m = /expect:\s*([a-z0-9:,\s-]+?)\s*(?:\*\/|$)/.exec(lines.lineText(i));
    if (!m) continue;
    for (const item of m[1].split(',')) {
      const [rule, severity] = item.trim().split(':');
      out.push(`${i + 1}:${rule}${severity ? `:${severity}` : ''}`);
    }
  }
  return out.sort();
}

function fixturesOf(rule: string): string[] {
  const dir = path.join(FIXTURES, rule);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(c|h|cpp|hpp)$/.test(f) && !/\.fixed\.(c|h|cpp|hpp)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function readIncludeNextTo(from: string, name: string) {
  const p = path.join(path.dirname(from), name);
  return fs.existsSync(p) ? { path: p, text: fs.readFileSync(p, 'utf8') } : undefined;
}

for (const rule of RULES) {
  describe(`fixtures of ${rule.id}`, () => {
    for (const file of fixturesOf(rule.id)) {
      const name = path.basename(file);
      const text = decodeSource(fs.readFileSync(file)).text;
      // unused-ignore needs the other rules to run, to know which suppressions are used.
      const meta = rule.id === 'unused-ignore';
      const options = { rules: meta ? undefined : [rule.id], reportUnusedIgnores: meta, readInclude: readIncludeNextTo };

      it(`${name}: reports exactly the marked lines`, async () => {
        const findings = (await analyzeFixture(file, text, options)).filter((f) => f.rule === rule.id);
        const lines = new LineIndex(text);
        const wanted = expectations(text);
        const withSeverity = new Set(wanted.filter((w) => w.split(':').length === 3).map((w) => w.split(':').slice(0, 2).join(':')));
        const got = findings
          .map((f) => {
            const key = `${lines.position(f.start).line + 1}:${f.rule}`;
            return withSeverity.has(key) ? `${key}:${f.severity}` : key;
          })
          .sort();
        assert.deepEqual(got, wanted, findings.map((f) => `${lines.position(f.start).line + 1}: ${f.severity} ${f.message}`).join('\n'));
      });

      const golden = file.replace(/\.(c|h|cpp|hpp)$/, '.fixed.$1');
      it(`${name}: safe fixes give the .fixed golden, and a second pass changes nothing`, async () => {
        const findings = await analyzeFixture(file, text, options);
        const once = applySafeFixes(text, findings).text;
        if (!fs.existsSync(golden)) {
          assert.equal(once, text, `safe fixes change ${name}, so it needs a golden ${path.basename(golden)}`);
          return;
        }
        assert.equal(once, decodeSource(fs.readFileSync(golden)).text);
        const again = await analyzeFixture(file, once, options);
        assert.equal(applySafeFixes(once, again).text, once);
      });

      // Every path shape of the C fixtures, through the C++ grammar's trees: the same findings and fixes.
      if (/\.c$/.test(file)) {
        it(`${name}: parsed as C++, gives the same findings and fixes`, async () => {
          const key = (fs: Finding[]) => fs.map((f) => `${f.start}:${f.rule}:${f.severity}:${f.message}`);
          const asC = await analyzeFixture(file, text, options);
          const asCpp = await analyzeFixture(file.replace(/\.c$/, '.cpp'), text, options);
          assert.deepEqual(key(asCpp), key(asC));
          assert.equal(applySafeFixes(text, asCpp).text, applySafeFixes(text, asC).text);
        });
      }
    }
  });
}

describe('fixture folders', () => {
  it('every rule has at least one fixture with a marked finding', () => {
    for (const rule of RULES) {
      const files = fixturesOf(rule.id);
      assert.ok(files.length > 0, `no fixtures for ${rule.id}`);
      assert.ok(files.some((f) => expectations(fs.readFileSync(f, 'utf8')).length > 0), `no expect marker in fixtures of ${rule.id}`);
    }
  });
});
