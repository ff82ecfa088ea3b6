import * as fs from 'node:fs';
import * as path from 'node:path';
import { readPyproject, type PyprojectConfig } from '../core/config';
import { DEFAULT_EDITOR_SETTINGS, type EditorOverrides, type EditorSettings } from '../core/editor';
import { projectAsksLimitedApi } from '../node/process-file';

/**
 * The `cpyref` section a language client sends (`workspace/configuration`, or the settings of
 * `workspace/didChangeConfiguration`), with the VS Code extension's setting names: `enable`,
 * `run`, `include`, `exclude`, `cppFiles`, `rules`, `pythonVersions`, `fixAll.includeHints`
 * (nested, `{"fixAll": {"includeHints": true}}`, or dotted) and `trace`.
 */
export function clientSettings(raw: unknown): { editor: EditorSettings; overrides: EditorOverrides } {
  const s = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const fixAll = s.fixAll && typeof s.fixAll === 'object' ? (s.fixAll as Record<string, unknown>) : {};
  const hints = fixAll.includeHints ?? s['fixAll.includeHints'];
  const trace = s.trace;
  return {
    editor: {
      enable: typeof s.enable === 'boolean' ? s.enable : DEFAULT_EDITOR_SETTINGS.enable,
      run: s.run === 'onSave' ? 'onSave' : s.run === 'onType' ? 'onType' : DEFAULT_EDITOR_SETTINGS.run,
      trace: trace === 'off' || trace === 'messages' || trace === 'verbose' ? trace : DEFAULT_EDITOR_SETTINGS.trace,
      fixAllHints: typeof hints === 'boolean' ? hints : DEFAULT_EDITOR_SETTINGS.fixAllHints,
    },
    overrides: { include: s.include, exclude: s.exclude, pythonVersions: s.pythonVersions, cppFiles: s.cppFiles, rules: s.rules },
  };
}

/** A pyproject.toml that was read: where it is, and what it says. */
export interface ProjectConfig {
  path: string;
  cfg: PyprojectConfig;
}

/**
 * The nearest `pyproject.toml` above a folder, as the CLI finds it (the first one up to the
 * root of the file system, with or without `[tool.cpyref]`), read once until `forget()`.
 * `onRead` hears of every file read (to show its problems).
 */
export class ProjectConfigs {
  private readonly nearestOf = new Map<string, ProjectConfig | null>();
  private readonly limitedApiRoots = new Map<string, boolean>();

  constructor(private readonly onRead: (c: ProjectConfig) => void = () => undefined) {}

  /** The pyproject.toml nearest to `dir` (in it or above), or undefined. */
  nearest(dir: string): ProjectConfig | undefined {
    const seen: string[] = [];
    let found: ProjectConfig | null = null;
    for (let d = path.resolve(dir); ; ) {
      const known = this.nearestOf.get(d);
      if (known !== undefined) {
        found = known;
        break;
      }
      seen.push(d);
      const candidate = path.join(d, 'pyproject.toml');
      let text: string | undefined;
      try {
        if (fs.statSync(candidate).isFile()) text = fs.readFileSync(candidate, 'utf8');
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        found = { path: candidate, cfg: readPyproject(text) };
        this.onRead(found);
        break;
      }
      const parent = path.dirname(d);
      if (parent === d) break;
      d = parent;
    }
    for (const d of seen) this.nearestOf.set(d, found);
    return found ?? undefined;
  }

  /** Whether the build files of `root` (setup.py, setup.cfg, meson.build, pyproject.toml) ask for abi3, read once. */
  buildAsksLimitedApi(root: string): boolean {
    let v = this.limitedApiRoots.get(root);
    if (v === undefined) {
      v = projectAsksLimitedApi(root);
      this.limitedApiRoots.set(root, v);
    }
    return v;
  }

  /** Forgets every file read (one changed). */
  forget(): void {
    this.nearestOf.clear();
    this.limitedApiRoots.clear();
  }
}
