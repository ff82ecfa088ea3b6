import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import * as textmate from 'vscode-textmate';
import { generateGrammar, GRAMMAR_PATH, grammarNames, SCOPE, SCOPES } from '../../scripts/gen-grammar';
import { REPO } from '../helpers/engine';

/** A small stand-in for VS Code's C grammar: only comments and strings, which the injection must skip. */
const HOST_C = {
  scopeName: 'source.c',
  patterns: [
    { name: 'comment.block.c', begin: '/\\*', end: '\\*/' },
    { name: 'comment.line.double-slash.c', match: '//.*$' },
    { name: 'string.quoted.double.c', begin: '"', end: '"' },
  ],
};

let registry: textmate.Registry | undefined;
async function grammar(): Promise<textmate.IGrammar> {
  if (!registry) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    registry = new textmate.Registry({
      onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
      loadGrammar: async (scope: string) => {
        if (scope === 'source.c') return textmate.parseRawGrammar(JSON.stringify(HOST_C), 'c.json');
        if (scope === SCOPE) return textmate.parseRawGrammar(fs.readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH);
        return null;
      },
      getInjections: (scope: string) => (scope === 'source.c' ? [SCOPE] : undefined),
    });
  }
  return (await registry.loadGrammar('source.c'))!;
}

/** The scopes of each token of a line, as "text=scope,scope". */
async function scopesOf(line: string): Promise<Map<string, string[]>> {
  const g = await grammar();
  const r = g.tokenizeLine(line, textmate.INITIAL);
  const out = new Map<string, string[]>();
  for (const t of r.tokens) {
    const text = line.slice(t.startIndex, t.endIndex);
    if (text.trim()) out.set(`${t.startIndex}:${text}`, t.scopes);
  }
  return out;
}

function scopeAt(map: Map<string, string[]>, text: string, nth = 0): string[] {
  const hits = [...map.entries()].filter(([k]) => k.split(':').slice(1).join(':') === text);
  assert.ok(hits[nth], `a token ${text}`);
  return hits[nth][1];
}

describe('TextMate injection grammar', () => {
  it('is generated from the ownership tables (run `npm run gen:grammar` after changing them)', () => {
    assert.equal(fs.readFileSync(GRAMMAR_PATH, 'utf8'), generateGrammar());
  });

  it('is contributed to source.c and source.cpp in package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { grammars: Array<{ scopeName: string; path: string; injectTo: string[] }> } };
    const g = pkg.contributes.grammars.find((x) => x.scopeName === SCOPE);
    assert.ok(g);
    assert.deepEqual(g.injectTo, ['source.c', 'source.cpp']);
    assert.equal(path.resolve(REPO, g.path), GRAMMAR_PATH);
  });

  it('names every table entry: singletons, refcount calls, return macros, borrowed and stealing API', () => {
    const names = grammarNames();
    assert.ok(names.borrowed.includes('PyDict_GetItem'));
    assert.ok(names.steals.includes('PyTuple_SET_ITEM') && names.steals.includes('Py_BuildValue'));
    assert.ok(names.singleton.includes('Py_None') && names.singleton.includes('_Py_NoneStruct'));
    const text = fs.readFileSync(GRAMMAR_PATH, 'utf8');
    for (const list of Object.values(names)) for (const n of list) assert.ok(text.includes(n), n);
  });

  it('gives the names their scopes in code, and leaves comments and strings alone', async () => {
    const line = '    PyTuple_SET_ITEM(t, 0, Py_None); Py_INCREF(x); Py_RETURN_NONE; v = PyDict_GetItem(d, k); Py_DECREF(v); /* Py_None */ s = "Py_True";';
    const m = await scopesOf(line);
    assert.ok(scopeAt(m, 'PyTuple_SET_ITEM').includes(SCOPES.steals));
    assert.ok(scopeAt(m, 'Py_None').includes(SCOPES.singleton));
    assert.ok(scopeAt(m, 'Py_INCREF').includes(SCOPES.incref));
    assert.ok(scopeAt(m, 'Py_RETURN_NONE').includes(SCOPES.returnMacro));
    assert.ok(scopeAt(m, 'PyDict_GetItem').includes(SCOPES.borrowed));
    assert.ok(scopeAt(m, 'Py_DECREF').includes(SCOPES.decref));
    const inComment = [...m.entries()].filter(([k, scopes]) => k.includes('Py_None') && scopes.includes('comment.block.c'));
    assert.ok(inComment.length > 0 && inComment.every(([, scopes]) => !scopes.includes(SCOPES.singleton)), 'not inside a comment');
    const inString = [...m.entries()].filter(([k, scopes]) => k.includes('Py_True') && scopes.includes('string.quoted.double.c'));
    assert.ok(inString.length > 0 && inString.every(([, scopes]) => !scopes.includes(SCOPES.singleton)), 'not inside a string');
  });

  it('does not mark a borrowed-API name that is not called', async () => {
    const m = await scopesOf('int PyDict_GetItem_count = 0;');
    for (const scopes of m.values()) assert.ok(!scopes.includes(SCOPES.borrowed));
  });
});
