import * as path from 'node:path';
import { analyzeText, resolveFindings } from '../../src/core/analyze';
import { defaultOptions, type Options } from '../../src/core/options';
import { CParser } from '../../src/core/parser';
import { indexFile, ProjectIndex } from '../../src/core/project-index';
import type { Finding } from '../../src/core/types';

let parser: Promise<CParser> | undefined;

/** The parser, loaded once for the whole test process. */
export function loadParser(): Promise<CParser> {
  parser ??= CParser.load();
  return parser;
}

/** The repository root (tests run from out/test/...). */
export const REPO = path.resolve(__dirname, '../../..');
/** The fixture folder. */
export const FIXTURES = path.join(REPO, 'test', 'fixtures');

/** Options a fixture asks for on its first lines: `// cpyref-test: python-versions=">=3.12"`. */
export function fixtureOptions(text: string): Options {
  const opts = defaultOptions();
  for (const m of text.matchAll(/cpyref-test:\s*python-versions="([^"]+)"/g)) opts.pythonVersions = m[1];
  return opts;
}

/** Analyses one text as the CLI does for a single file, with its own project index. */
export async function analyzeFixture(
  file: string,
  text: string,
  opts: { rules?: string[]; options?: Options; reportUnusedIgnores?: boolean; readInclude?: (from: string, name: string) => { path: string; text: string } | undefined } = {},
): Promise<Finding[]> {
  const p = await loadParser();
  const options = opts.options ?? fixtureOptions(text);
  const r = analyzeText(p, {
    path: file,
    text,
    options,
    rules: opts.rules ? new Set(opts.rules) : undefined,
    reportUnusedIgnores: opts.reportUnusedIgnores,
    readInclude: opts.readInclude,
  });
  const index = new ProjectIndex();
  index.set(indexFile(file, text));
  return resolveFindings(r, index.factsFor(file), options);
}
