import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CParser } from '../../src/core/parser';
import { cachedRead, findFunctions, mayNameObjectType } from '../../src/core/functions';
import { dialectOf } from '../../src/core/dialect';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures');

test('mayNameObjectType: a word ending in Object followed by a pointer star, through blanks and comments', () => {
  for (const yes of [
    'static PyObject *f(void)',
    'FooObject* g(void)',
    'PyObject /* new */ *h(void)',
    'PyObject\n*k(void)',
    'PyObject // new\n  *m(void)',
    'NPY_NO_EXPORT PyObject *\nn(void)',
  ]) {
    assert.equal(mayNameObjectType(yes), true, yes);
  }
  for (const no of ['if (WaitForSingleObject(h, 0)) return 1;', '// an Object\nint f(void);', 'PyObjectPtr *p;', 'struct Object_s *q;']) {
    assert.equal(mayNameObjectType(no), false, no);
  }
});

test('mayNameObjectType holds for every fixture file that defines a function returning an object', async () => {
  const parser = await CParser.load();
  let checked = 0;
  for (const dir of fs.readdirSync(FIXTURES)) {
    for (const name of fs.readdirSync(path.join(FIXTURES, dir))) {
      if (!/\.(c|cpp|h)$/.test(name)) continue;
      const text = fs.readFileSync(path.join(FIXTURES, dir, name), 'utf8');
      const tree = parser.for(dialectOf(name, text, [])).parse(text);
      try {
        if (findFunctions(tree.rootNode, text).some((f) => f.returnsObject)) {
          checked++;
          assert.equal(mayNameObjectType(text), true, `${dir}/${name}`);
        }
      } finally {
        tree.delete();
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} fixture files define a function returning an object`);
});

test('cachedRead lets go of the nodes it read under a body none had been read of, and keeps those read before', async () => {
  const parser = await CParser.load();
  const text = 'static int a(PyObject *o) { return o != NULL; }\nstatic int b(PyObject *o) { return o == NULL; }\n';
  const tree = parser.parse(text);
  try {
    const [a, b] = findFunctions(tree.rootNode, text);
    const kept = b.body.namedChildren;
    // The summary reads each body's statements.
    const read = (f: typeof a) => f.body.namedChildren.map((k) => k.type).join();
    assert.equal(cachedRead(undefined, a, read), 'return_statement');
    assert.equal(a.body.childrenRead, false);
    assert.equal(cachedRead(undefined, b, read), 'return_statement');
    assert.equal(b.body.childrenRead, true);
    assert.equal(b.body.namedChildren, kept);
    // From a cache, nothing is read.
    const cache = new Map<string, string>([[a.node.text, 'cached']]);
    assert.equal(cachedRead(cache, a, read), 'cached');
    assert.equal(a.body.childrenRead, false);
  } finally {
    tree.delete();
  }
});
