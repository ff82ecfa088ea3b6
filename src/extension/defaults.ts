/** When live diagnostics are computed. */
export type RunMode = 'onType' | 'onSave';

/** Settings that only the editor has. */
export interface EditorSettings {
  /** Turns cpyref on or off. */
  enable: boolean;
  /** Re-analyse while typing or only on save. */
  run: RunMode;
  /** Logging in the output channel. */
  trace: 'off' | 'messages' | 'verbose';
  /** Whether fix-all (on save, in a file) also applies the fixes of hint-level findings (style suggestions). */
  fixAllHints: boolean;
}

/** Defaults of the editor-only settings (kept free of `vscode` so node tests can read them); `package.json` repeats them (a test keeps them equal). */
export const DEFAULT_EDITOR_SETTINGS: Readonly<EditorSettings> = Object.freeze({ enable: true, run: 'onType', trace: 'off', fixAllHints: false });

