import { minimatch } from 'minimatch';
import type { Dialect } from './parser';

/** Extensions of C++ sources and headers. */
export const CPP_EXTENSIONS = ['cc', 'cpp', 'cxx', 'c++', 'hpp', 'hh', 'hxx', 'h++', 'ipp', 'tpp'];
/** Extensions of files that are C, or C or C++ depending on who includes them (`.h`, `.inc`). */
export const C_EXTENSIONS = ['c', 'h', 'inc'];

/** An Emacs or Vim mode line in the first lines that says C++. */
const MODE_LINE = /-\*-\s*(?:mode:\s*)?c\+\+\s*(?:;[^\n]*)?-\*-|\bvim?:[^\n]*\b(?:ft|filetype)=cpp\b/i;

/**
 * C++-only syntax at the start of a line, outside a `#if(def) __cplusplus` block: a
 * namespace, a template, a class with a body or a base, an access label, `extern "C"`
 * without the guard, a C++ cast or `nullptr`.
 */
const CPP_SYNTAX =
  /^[ \t]*(?:namespace[ \t]+\w+[ \t]*\{|namespace[ \t]*\{|template[ \t]*<|(?:class|struct)[ \t]+\w+(?:[ \t]+final)?[ \t]*:[ \t]*(?:public|private|protected)\b|class[ \t]+\w+[ \t]*\{|(?:public|private|protected)[ \t]*:(?!:)|extern[ \t]+""|using[ \t]+namespace\b)|\b(?:static_cast|reinterpret_cast|const_cast|dynamic_cast)[ \t]*<|\bnullptr\b|\bstd::\w/m;

/** Removes `#if(def) __cplusplus` blocks (up to their `#else`/`#endif`), where C headers keep their C++ part. */
function withoutCplusplusBlocks(text: string): string {
  if (!text.includes('__cplusplus')) return text;
  const lines = text.split('\n');
  const out: string[] = [];
  // Depth of `#if` nesting inside the block being dropped (0: not dropping).
  let depth = 0;
  for (const line of lines) {
    const d = /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(.*)$/.exec(line);
    if (depth > 0) {
      if (d && d[1].startsWith('if')) depth++;
      else if (d && d[1] === 'endif') depth--;
      else if (d && depth === 1 && (d[1] === 'else' || d[1] === 'elif')) depth = 0;
      continue;
    }
    // `#ifdef __cplusplus`, `#if defined(__cplusplus) && __cplusplus >= 201103L`: the block is for C++ compilers only.
    if (d && (d[1] === 'ifdef' || d[1] === 'if') && /\b__cplusplus\b/.test(d[2]) && !/!\s*(?:defined\s*\(?\s*)?__cplusplus|\|\|/.test(d[2])) {
      depth = 1;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/** True when `text` (a `.h` or `.inc` file) is written in C++: a mode line says so, or it uses C++-only syntax outside `__cplusplus` guards. */
export function looksLikeCpp(text: string): boolean {
  const head = text.slice(0, 2000);
  if (MODE_LINE.test(head)) return true;
  if (!/namespace|template|class|public|private|protected|extern|using|_cast|nullptr|std::/.test(text)) return false;
  return CPP_SYNTAX.test(withoutDirectives(stripComments(withoutCplusplusBlocks(text))));
}

/** Blanks preprocessor directive lines (with their continuations): `#define NULL_ nullptr` says nothing of the code. */
function withoutDirectives(text: string): string {
  return text.replace(/^[ \t]*#(?:[^\n\\]|\\\r?\n|\\)*/gm, '');
}

/** Blanks comments and string literals (keeping line breaks), so commented-out C++ is not read. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"/g, (m) => (m.startsWith('"') ? '""' : m.replace(/[^\n]/g, ' ')));
}

/** The extension of a path, lower-cased, without the dot. */
function extensionOf(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/**
 * Whether a file is parsed as C or C++: a `cpp-files` glob (matched against the end of
 * the path) says C++; so do the C++ extensions (and `.C`); `.c` is C; a `.h` or `.inc`
 * file is C++ when its text says so (`looksLikeCpp`), else C.
 */
export function dialectOf(file: string, text: string, cppFiles: readonly string[] = []): Dialect {
  const posix = file.replace(/\\/g, '/');
  if (cppFiles.length && cppFiles.some((g) => minimatch(posix, g.startsWith('/') || g.startsWith('**/') ? g : `**/${g}`, { dot: true }))) return 'cpp';
  const base = posix.slice(posix.lastIndexOf('/') + 1);
  if (/\.C$/.test(base)) return 'cpp';
  const ext = extensionOf(posix);
  if (CPP_EXTENSIONS.includes(ext)) return 'cpp';
  if (ext === 'c') return 'c';
  return looksLikeCpp(text) ? 'cpp' : 'c';
}
