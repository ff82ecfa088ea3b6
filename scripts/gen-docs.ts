import * as fs from 'node:fs';
import * as path from 'node:path';
import { docsUrl, RULES } from '../src/core/rules/index';

/** The repository root, from out/scripts or scripts. */
const REPO = fs.existsSync(path.join(__dirname, '../package.json')) ? path.join(__dirname, '..') : path.join(__dirname, '../..');

/** The documentation page of a rule, made from the JSDoc block at the top of its source file. */
export function ruleDoc(id: string): string {
  const src = fs.readFileSync(path.join(REPO, 'src/core/rules', `${id}.ts`), 'utf8');
  const m = /^\/\*\*\n([\s\S]*?)\n \*\//.exec(src);
  if (!m) throw new Error(`${id}.ts has no leading JSDoc block`);
  const body = m[1]
    .split('\n')
    .map((l) => l.replace(/^ \*( |$)/, ''))
    .join('\n');
  const rule = RULES.find((r) => r.id === id)!;
  return `# ${id}\n\n${rule.summary}\n\nDefault severity: ${rule.defaultSeverity}. Fixable: ${rule.fixable ? 'yes' : 'no'}.\n\n${body}\n\nSuppress one occurrence with \`// cpyref: ignore[${id}] reason\` on its line or alone on the line above.\n\n<!-- Generated from src/core/rules/${id}.ts by \`npm run docs\`; ${docsUrl(id)} -->\n`;
}

if (require.main === module) {
  for (const r of RULES) fs.writeFileSync(path.join(REPO, 'docs/rules', `${r.id}.md`), ruleDoc(r.id));
  console.log(`wrote ${RULES.length} rule pages`);
}
