import * as vscode from 'vscode';
import { applyEditorOverrides } from '../core/editor';
import { defaultOptions, type Options } from '../core/options';
import { DEFAULT_EDITOR_SETTINGS, type EditorSettings, type RunMode } from './defaults';

export { DEFAULT_EDITOR_SETTINGS, type EditorSettings };

/**
 * Reads every `cpyref.*` setting for a resource into typed objects. The only place that
 * calls `getConfiguration`. Options that the user set explicitly override `base` (the
 * project's pyproject.toml); others keep it.
 */
export function readSettings(scope: vscode.Uri | undefined, base: Options = defaultOptions()): { editor: EditorSettings; options: Options } {
  const cfg = vscode.workspace.getConfiguration('cpyref', scope);
  const explicit = <T>(key: string): T | undefined => {
    const i = cfg.inspect<T>(key);
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
  };
  const options = applyEditorOverrides(base, {
    include: explicit('include'),
    exclude: explicit('exclude'),
    pythonVersions: explicit('pythonVersions'),
    cppFiles: explicit('cppFiles'),
    rules: explicit('rules'),
  });
  return {
    editor: {
      enable: cfg.get<boolean>('enable', DEFAULT_EDITOR_SETTINGS.enable),
      run: cfg.get<RunMode>('run', DEFAULT_EDITOR_SETTINGS.run) === 'onSave' ? 'onSave' : 'onType',
      trace: cfg.get<EditorSettings['trace']>('trace', DEFAULT_EDITOR_SETTINGS.trace),
      fixAllHints: cfg.get<boolean>('fixAll.includeHints', DEFAULT_EDITOR_SETTINGS.fixAllHints) === true,
    },
    options,
  };
}
