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
    assert.match(describeApi('Py_BuildValue')!, /`N` unit/);
    assert.equal(describeApi('my_helper'), undefined);
  });

  it('says on how many paths a singleton is owned, and what a local holds, at a point of the function', async () => {
    const parser = await loadParser();
    const atReturn = SOURCE.indexOf('return r;') + 'return '.length;
    assert.match(describeOwnershipAt(parser, SOURCE, atReturn)!, /local `r` holds `Py_None` on 1 of the 2 paths \(with an owned reference on none of them\); holds another object on 1 of the 2 paths/);
    const atIncref = SOURCE.indexOf('Py_INCREF(Py_None)') + 'Py_INCREF('.length;
    assert.match(describeOwnershipAt(parser, SOURCE, atIncref)!, /owns a reference to `Py_None` on no path/);
    assert.equal(describeOwnershipAt(parser, SOURCE, SOURCE.indexOf('flag)') + 1), undefined);
  });
});
