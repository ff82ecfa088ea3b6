// The editor-only settings and their defaults live in the core (the language server shares them).
export { DEFAULT_EDITOR_SETTINGS, type EditorSettings, type RunMode } from '../core/editor';
