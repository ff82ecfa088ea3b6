import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeApi, describeOwnershipAt } from '../../src/core/query';
import { loadParser } from '../helpers/engine';

const SOURCE = `#include <Python.h>
static PyObject *
f(PyObject *self, PyObject *flag)
{
    PyObject *r = Py_None;
    if (PyObject_IsTrue(flag)) {
        Py_INCREF(Py_None);
        r = PyLong_FromLong(1);
    }
    return r;
}
`;

describe('hover facts', () => {
  it('says whether an API returns a new or a borrowed reference, and what it steals and when', () => {
    assert.match(describeApi('PyLong_FromLong')!, /new reference/);
    assert.match(describeApi('PyDict_GetItem')!, /borrowed reference/);
    assert.match(describeApi('PyModule_AddObject')!, /steals.*third argument.*only when it succeeds/s);
    assert.match(describeApi('PyList_SetItem')!, /even when it fails/);
    // A macro that cannot fail steals, full stop.
    assert.match(describeApi('PyTuple_SET_ITEM')!, /steals/);
    assert.doesNotMatch(describeApi('PyTuple_SET_ITEM')!, /fail/);
    assert.match(describeApi('Py_BuildValue')!, /`N` unit/);
    assert.equal(describeApi('my_helper'), undefined);
  });

  it('says on how many paths a singleton is owned, and what a local holds, at a point of the function', async () => {
    const parser = await loadParser();
    const atReturn = SOURCE.indexOf('return r;') + 'return '.length;
    assert.equal(
      describeOwnershipAt(parser, SOURCE, atReturn),
      'Before this statement, local `r` holds `Py_None` on 1 of the 2 paths that reach this statement (borrowed); holds another object on 1 of the 2 paths that reach this statement.',
    );
    const atIncref = SOURCE.indexOf('Py_INCREF(Py_None)') + 'Py_INCREF('.length;
    assert.equal(describeOwnershipAt(parser, SOURCE, atIncref), '`f` owns no reference to `Py_None` before this statement (on the one path that reaches it). `Py_INCREF` takes a new reference to it here.');
    const atReturnNone = SOURCE.replace('return r;', 'Py_INCREF(Py_None);\n    return Py_None;');
    assert.equal(
      describeOwnershipAt(parser, atReturnNone, atReturnNone.indexOf('return Py_None') + 8),
      '`f` owns a reference to `Py_None` on all 2 paths that reach this statement.',
    );
    assert.equal(describeOwnershipAt(parser, SOURCE, SOURCE.indexOf('flag)') + 1), undefined);
  });
});
