import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_OPTIONS } from '../../src/core/options';
import { DEFAULT_EDITOR_SETTINGS } from '../../src/extension/defaults';
import { RULES } from '../../src/core/rules/index';
import { REPO } from '../helpers/engine';

interface Property {
  default: unknown;
  properties?: Record<string, { enum: string[] }>;
}

describe('extension settings', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, Property> } } };
  const props = pkg.contributes.configuration.properties;

  it('declares exactly the cpyref.* settings of SPEC §7 (and fixAll.includeHints, which fix-all on save asked for)', () => {
    assert.deepEqual(Object.keys(props).sort(), ['cpyref.cppFiles', 'cpyref.enable', 'cpyref.exclude', 'cpyref.fixAll.includeHints', 'cpyref.include', 'cpyref.pythonVersions', 'cpyref.rules', 'cpyref.run', 'cpyref.trace']);
  });

  it("has the core's defaults for the options it shares with the CLI", () => {
    assert.deepEqual(props['cpyref.include'].default, DEFAULT_OPTIONS.include);
    assert.deepEqual(props['cpyref.exclude'].default, DEFAULT_OPTIONS.exclude);
    assert.deepEqual(props['cpyref.rules'].default, DEFAULT_OPTIONS.rules);
    assert.equal(props['cpyref.pythonVersions'].default, DEFAULT_OPTIONS.pythonVersions);
  });

  it("has the extension's defaults for the editor-only settings", () => {
    assert.equal(props['cpyref.enable'].default, DEFAULT_EDITOR_SETTINGS.enable);
    assert.equal(props['cpyref.run'].default, DEFAULT_EDITOR_SETTINGS.run);
    assert.equal(props['cpyref.trace'].default, DEFAULT_EDITOR_SETTINGS.trace);
    assert.equal(props['cpyref.fixAll.includeHints'].default, DEFAULT_EDITOR_SETTINGS.fixAllHints);
  });

  it('lists every rule id under cpyref.rules', () => {
    assert.deepEqual(Object.keys(props['cpyref.rules'].properties ?? {}).sort(), RULES.map((r) => r.id).sort());
  });
});
