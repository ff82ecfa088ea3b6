/** A rule's configured level. */
export type RuleLevel = 'error' | 'warning' | 'info' | 'hint' | 'off';

/** The one configuration shared by the CLI and the extension. */
export interface Options {
  /** Globs of files to scan (minimatch, relative to the scanned root). */
  include: string[];
  /** Globs of files never scanned; replaces the defaults when set. */
  exclude: string[];
  /** Globs excluded in addition to `exclude`. */
  extendExclude: string[];
  /** The CPython versions the extension targets, as a specifier such as ">=3.8". */
  pythonVersions: string;
  /** Level per rule id; rules not listed keep their defaults. */
  rules: Record<string, RuleLevel>;
  /** Files larger than this many bytes are skipped with a reason. */
  maxFileSize: number;
  /** Folders searched for headers included with quotes (relative to the project root). */
  includePaths: string[];
  /** Globs (matched against the end of a file's path) of files parsed as C++ besides the C++ extensions: headers such as `*.h` written in C++. */
  cppFiles: string[];
}

/** Defaults of every option. */
export const DEFAULT_OPTIONS: Readonly<Options> = Object.freeze({
  include: ['**/*.c', '**/*.h', '**/*.cc', '**/*.cpp', '**/*.cxx', '**/*.hpp', '**/*.hh', '**/*.inc'],
  exclude: ['**/build/**', '**/.tox/**', '**/.venv/**', '**/node_modules/**', '**/.git/**', '**/pythoncapi_compat.h'],
  extendExclude: [],
  pythonVersions: '>=3.8',
  rules: {},
  maxFileSize: 8 * 1024 * 1024,
  includePaths: [],
  cppFiles: [],
});

/** A copy of the defaults. */
export function defaultOptions(): Options {
  return JSON.parse(JSON.stringify(DEFAULT_OPTIONS)) as Options;
}

/** The lowest CPython version (major, minor) a specifier admits; undefined when it cannot be read. */
export function minimumVersion(spec: string): [number, number] | undefined {
  let best: [number, number] | undefined;
  let any = false;
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(>=|>|==|~=|===)?\s*(\d+)(?:\.(\d+))?(?:\.[\d*]+)?\s*$/.exec(part);
    if (!m) {
      if (/^(<|<=|!=)/.test(part)) continue;
      return undefined;
    }
    any = true;
    let v: [number, number] = [Number(m[2]), Number(m[3] ?? 0)];
    if (m[1] === '>') v = [v[0], v[1] + 1];
    if (!best || v[0] > best[0] || (v[0] === best[0] && v[1] > best[1])) best = v;
  }
  return any ? best : undefined;
}

/** What the targets allow, per file. */
export interface TargetFacts {
  /** Lowest targeted CPython (major, minor). */
  min: [number, number];
  /** A limited-API (abi3) build. */
  limitedApi: boolean;
  /** `pythoncapi_compat.h` is included, so `Py_NewRef` is available on old versions. */
  compatHeader: boolean;
}

/** True when `Py_NewRef` can be used on every target. */
export function newRefAvailable(t: TargetFacts): boolean {
  return t.compatHeader || versionAtLeast(t.min, [3, 10]);
}

/** True when every target has immortal singletons and the build is not limited-API (the bug is latent). */
export function singletonsImmortal(t: TargetFacts): boolean {
  return versionAtLeast(t.min, [3, 12]) && !t.limitedApi;
}

/** True when `Py_RETURN_NONE` and friends may skip the incref (gh-134989): limited API targeting ≤ 3.11. */
export function returnMacrosUnreliable(t: TargetFacts): boolean {
  return t.limitedApi && !versionAtLeast(t.min, [3, 12]);
}

/** Compares versions. */
export function versionAtLeast(v: [number, number], w: [number, number]): boolean {
  return v[0] > w[0] || (v[0] === w[0] && v[1] >= w[1]);
}

/** The target facts of a file, from the options and the file's text. */
export function targetFacts(opts: Options, text: string, projectLimitedApi = false): TargetFacts {
  return {
    min: minimumVersion(opts.pythonVersions) ?? [3, 8],
    limitedApi: projectLimitedApi || definesLimitedApi(text),
    compatHeader: text.includes('pythoncapi_compat') && /#\s*include\s*["<][^">]*pythoncapi_compat\.h[">]/.test(text),
  };
}

/** True when the text defines `Py_LIMITED_API`. */
export function definesLimitedApi(text: string): boolean {
  return text.includes('Py_LIMITED_API') && /^[ \t]*#[ \t]*define[ \t]+Py_LIMITED_API\b/m.test(text);
}

/** True when a build file (`pyproject.toml`, `setup.py`, `setup.cfg`, `meson.build`) asks for a limited-API (abi3) build. */
export function buildFileAsksLimitedApi(text: string): boolean {
  return /py[-_]limited[-_]api\s*[=:]\s*(?:true|["']?cp3)/i.test(text);
}

/** The build files that may ask for a limited-API build, next to pyproject.toml. */
export const BUILD_FILES = ['pyproject.toml', 'setup.py', 'setup.cfg', 'meson.build'];
