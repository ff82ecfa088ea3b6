import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { API_RETURNS } from '../../src/core/api/returns.generated';
import { formatStolenArgs, STEALING, stolenArguments } from '../../src/core/api/stealing';
import { DEFAULT_DATA, generateReturns, OUTPUT } from '../../scripts/gen-ownership';

describe('ownership table', () => {
  it('is what the generator makes from refcounts.dat (rerun `npm run gen:ownership` when the data changes)', () => {
    assert.equal(fs.readFileSync(OUTPUT, 'utf8'), generateReturns(fs.readFileSync(DEFAULT_DATA, 'utf8')));
  });

  it('knows new and borrowed returns', () => {
    assert.equal(API_RETURNS.PyLong_FromLong, 'new');
    assert.equal(API_RETURNS.PyDict_GetItem, 'borrowed');
    assert.equal(API_RETURNS.PyTuple_GetItem, 'borrowed');
    assert.equal(API_RETURNS.Py_BuildValue, 'new');
  });

  it('cites the documentation for every stealing argument, and knows which steal only on success', () => {
    for (const [name, e] of Object.entries(STEALING)) {
      assert.match(e.doc, new RegExp(`^https://docs\\.python\\.org/3/c-api/\\w+\\.html#c\\.${name}$`), name);
      assert.ok(e.says.length > 20, name);
    }
    assert.equal(STEALING.PyModule_AddObject.when, 'on-success');
    assert.equal(STEALING.PyList_SetItem.when, 'always');
    assert.equal(STEALING.PyTuple_SetItem.when, 'always');
    assert.deepEqual(STEALING.PyErr_Restore.args, [0, 1, 2]);
  });

  it('reads Py_BuildValue formats: N steals, O does not, and # and O& take extra arguments', () => {
    assert.deepEqual(formatStolenArgs('"(ON)"', 1), [2]);
    assert.deepEqual(formatStolenArgs('"s#N"', 1), [3]);
    assert.deepEqual(formatStolenArgs('"O&N"', 1), [3]);
    assert.deepEqual(formatStolenArgs('"{s:N,s:O}"', 1), [2]);
    assert.equal(formatStolenArgs('fmt', 1), undefined);
    assert.deepEqual([...stolenArguments('PyObject_CallMethod', ['o', '"m"', '"iN"', '1', 'x']).keys()], [4]);
  });
});
