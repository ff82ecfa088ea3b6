import { parse as parseToml } from 'smol-toml';
import { RULES_BY_ID } from './rules/index';
import { buildFileAsksLimitedApi, minimumVersion, type Options, type RuleLevel } from './options';

/** A problem in a configuration file; the rest of the configuration still applies. */
export interface ConfigProblem {
  key: string;
  message: string;
  /** Where in the file (0-based line and column, and the length to mark), when it can be found. */
  line?: number;
  column?: number;
  length?: number;
}

/** What `[tool.cpyref]` (and `requires-python`) of a pyproject.toml set. */
export interface PyprojectConfig {
  /** Options set by the file (only the keys it sets). */
  options: Partial<Options>;
  /** `project.requires-python`, used when `python-versions` is not set. */
  requiresPython?: string;
  /** The build files ask for a limited-API build (`py_limited_api`). */
  limitedApi: boolean;
  problems: ConfigProblem[];
}

const LEVELS: readonly RuleLevel[] = ['error', 'warning', 'info', 'hint', 'off'];
const KEYS = ['include', 'exclude', 'extend-exclude', 'python-versions', 'rules', 'max-file-size', 'include-paths', 'cpp-files'];

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** Reads `[tool.cpyref]` from a pyproject.toml's text. */
export function readPyproject(text: string): PyprojectConfig {
  const out: PyprojectConfig = { options: {}, limitedApi: buildFileAsksLimitedApi(text), problems: [] };
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    // A broken pyproject.toml that does not configure cpyref (a test fixture, say) is not ours to report.
    if (!/\bcpyref\b/.test(text)) return out;
    const err = e as Error & { line?: number; column?: number };
    const at = typeof err.line === 'number' ? { line: Math.max(0, err.line - 1), column: Math.max(0, (err.column ?? 1) - 1), length: 1 } : {};
    out.problems.push({ key: '', message: `not valid TOML: ${err.message.split('\n')[0]}`, ...at });
    return out;
  }
  const project = doc.project as Record<string, unknown> | undefined;
  if (project && typeof project['requires-python'] === 'string') out.requiresPython = project['requires-python'];
  const tool = (doc.tool as Record<string, unknown> | undefined)?.cpyref as Record<string, unknown> | undefined;
  if (!tool) return out;
  if (typeof tool !== 'object') {
    out.problems.push({ key: 'tool.cpyref', message: 'must be a table' });
    return out;
  }
  for (const [k, v] of Object.entries(tool)) {
    const key = `tool.cpyref.${k}`;
    const bad = (what: string) => out.problems.push({ key, message: `must be ${what}; ignored` });
    switch (k) {
      case 'include':
      case 'exclude':
      case 'extend-exclude':
      case 'include-paths':
      case 'cpp-files': {
        const list = stringList(v);
        if (!list) bad('a list of strings');
        else if (k === 'include') out.options.include = list;
        else if (k === 'exclude') out.options.exclude = list;
        else if (k === 'extend-exclude') out.options.extendExclude = list;
        else if (k === 'include-paths') out.options.includePaths = list;
        else out.options.cppFiles = list;
        break;
      }
      case 'python-versions':
        if (typeof v !== 'string' || !minimumVersion(v)) bad('a version specifier such as ">=3.8"');
        else out.options.pythonVersions = v;
        break;
      case 'max-file-size':
        if (typeof v !== 'number' || !(v > 0)) bad('a positive number of bytes');
        else out.options.maxFileSize = v;
        break;
      case 'rules': {
        if (!v || typeof v !== 'object' || Array.isArray(v)) {
          bad('a table of rule id to level');
          break;
        }
        const rules: Record<string, RuleLevel> = {};
        for (const [id, level] of Object.entries(v as Record<string, unknown>)) {
          if (!RULES_BY_ID.has(id)) out.problems.push({ key: `${key}.${id}`, message: 'unknown rule id; ignored' });
          else if (typeof level !== 'string' || !LEVELS.includes(level as RuleLevel))
            out.problems.push({ key: `${key}.${id}`, message: `must be one of ${LEVELS.join(', ')}; ignored` });
          else rules[id] = level as RuleLevel;
        }
        out.options.rules = rules;
        break;
      }
      default:
        out.problems.push({ key, message: `unknown key (known: ${KEYS.join(', ')}); ignored` });
    }
  }
  for (const p of out.problems) if (p.key && p.line === undefined) Object.assign(p, locateKey(text, p.key));
  return out;
}

/** Merges a pyproject configuration over base options; `requires-python` fills an unset `python-versions`. */
export function applyPyproject(base: Options, cfg: PyprojectConfig): Options {
  const merged: Options = { ...base, ...cfg.options, rules: { ...base.rules, ...(cfg.options.rules ?? {}) } };
  if (!cfg.options.pythonVersions && cfg.requiresPython && minimumVersion(cfg.requiresPython)) merged.pythonVersions = cfg.requiresPython;
  return merged;
}

/** The bare or quoted spelling of a TOML key segment, for matching a line. */
function keyPattern(seg: string): string {
  const esc = seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `(?:${esc}|"${esc}"|'${esc}')`;
}

/**
 * Where a dotted key (`tool.cpyref.rules.some-rule`) is written in a pyproject.toml: its own
 * line in its table, a dotted key or an inline table in a parent table, else the
 * `[tool.cpyref]` header. Lexical: enough to put a diagnostic on the line a user has to change.
 */
export function locateKey(text: string, key: string): { line?: number; column?: number; length?: number } {
  const lines = text.split(/\r?\n|\r/);
  const segs = key.split('.');
  const headerRe = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$/;
  const norm = (h: string) => h.split('.').map((x) => x.trim().replace(/^["']|["']$/g, '')).join('.');
  let table = '';
  let header: { line: number; column: number; length: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const h = headerRe.exec(l);
    if (h) {
      table = norm(h[1]);
      if (table === 'tool.cpyref' && !header) header = { line: i, column: l.indexOf('['), length: l.trim().length };
      continue;
    }
    // The key's remaining segments relative to this table, as a (dotted) key or inside an inline table.
    const prefix = table ? table.split('.') : [];
    if (prefix.length >= segs.length || prefix.some((p, k) => p !== segs[k])) continue;
    const rest = segs.slice(prefix.length);
    const dotted = new RegExp(`^\\s*(${rest.map(keyPattern).join('\\s*\\.\\s*')})\\s*=`).exec(l);
    if (dotted) return { line: i, column: l.indexOf(dotted[1]), length: dotted[1].length };
    for (let k = 1; k < rest.length; k++) {
      const head = new RegExp(`^\\s*${rest.slice(0, k).map(keyPattern).join('\\s*\\.\\s*')}\\s*=\\s*\\{`).exec(l);
      if (!head) continue;
      const tail = l.slice(head[0].length - 1);
      const inner = new RegExp(`[{,]\\s*(${keyPattern(rest[k])})\\s*=`).exec(tail);
      if (inner) return { line: i, column: head[0].length - 1 + inner.index + inner[0].indexOf(inner[1]), length: inner[1].length };
    }
  }
  return header ?? {};
}
