// The language server over its real protocol: a client (vscode-languageserver's own protocol
// connection) starts `bin/cpyref-lsp.js --stdio` and checks what comes back, against the CLI's
// output where the two must agree.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CodeAction, Diagnostic, DocumentDiagnosticReport, Hover, InitializeResult, TextEdit, WorkspaceDiagnosticReport, WorkspaceEdit } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { docsUrl } from '../../src/core/rules/index';
import { ownershipHover } from '../../src/core/editor';
import { defaultOptions } from '../../src/core/options';
import { loadParser, REPO } from '../helpers/engine';
import { removeTempDirs, runCli, runJson, tempProject, writeFile } from '../cli/cli-harness';
import { PULL_CAPABILITIES, PUSH_CAPABILITIES, TestClient, uriOf } from './client';

/** A module with one finding of each default-on kind, registered in a method table. */
const SPAM = `#include <Python.h>

static PyObject *
spam_none(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_None;
}

static PyObject *
spam_true(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_INCREF(Py_True);
    return Py_True;
}

static PyObject *
spam_list(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    PyList_Append(list, PyLong_FromLong(1));
    return list;
}

static PyMethodDef spam_methods[] = {
    {"none", spam_none, METH_NOARGS, NULL},
    {"yes", spam_true, METH_NOARGS, NULL},
    {"list", spam_list, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};
`;

/** rule@line (0-based) of diagnostics, sorted. */
function codes(ds: Diagnostic[]): string[] {
  return ds.map((d) => `${String(d.code)}@${d.range.start.line}`).sort();
}

/** The edits of a workspace edit for one document, checking it carries `version`. */
function editsOf(edit: WorkspaceEdit | undefined, uri: string, version: number): TextEdit[] {
  assert.ok(edit?.documentChanges, 'the edit has documentChanges');
  const changes = edit.documentChanges as Array<{ textDocument: { uri: string; version: number | null }; edits: TextEdit[] }>;
  assert.equal(changes.length, 1);
  assert.equal(changes[0].textDocument.uri, uri);
  assert.equal(changes[0].textDocument.version, version, 'the edit is for the version it was computed on');
  return changes[0].edits;
}

function apply(text: string, edits: TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///x.c', 'c', 1, text), edits);
}

/** A whole-document replacement (every client can send one). */
function whole(text: string) {
  return [{ text }];
}

const clients: TestClient[] = [];
async function start(opts: Parameters<typeof TestClient.start>[0] = {}): Promise<{ client: TestClient; init: InitializeResult }> {
  const r = await TestClient.start(opts);
  clients.push(r.client);
  return r;
}

after(async () => {
  for (const c of clients) if (c.proc.exitCode === null) c.proc.kill();
  removeTempDirs();
});

describe('cpyref-lsp: initialize and push diagnostics', () => {
  let client: TestClient;
  let init: InitializeResult;
  let dir: string;
  let uri: string;

  before(async () => {
    dir = tempProject({ 'spam.c': SPAM });
    uri = uriOf(path.join(dir, 'spam.c'));
    ({ client, init } = await start({ root: dir }));
  });
  after(async () => {
    assert.equal(await client.stop(), 0);
  });

  it('announces its capabilities and version', () => {
    const caps = init.capabilities;
    assert.deepEqual(caps.textDocumentSync, { openClose: true, change: 2, save: { includeText: false } });
    assert.deepEqual((caps.codeActionProvider as { codeActionKinds: string[] }).codeActionKinds, ['quickfix', 'source.fixAll.cpyref']);
    assert.equal(caps.hoverProvider, true);
    assert.deepEqual(caps.diagnosticProvider, { identifier: 'cpyref', interFileDependencies: true, workspaceDiagnostics: true });
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.deepEqual(init.serverInfo, { name: 'cpyref', version });
  });

  it('publishes versioned diagnostics with the rule as code, its docs, source and the path as related information', async () => {
    await client.open(uri, SPAM, 1);
    const p = await client.publishedFor(uri, 1);
    assert.deepEqual(codes(p.diagnostics), ['borrowed-singleton-return@5', 'prefer-return-macro@11', 'reference-leak@21']);
    const d = p.diagnostics.find((x) => x.code === 'borrowed-singleton-return')!;
    assert.equal(d.source, 'cpyref');
    assert.equal(d.severity, 1);
    assert.deepEqual(d.range, { start: { line: 5, character: 4 }, end: { line: 5, character: 19 } });
    assert.deepEqual(d.codeDescription, { href: docsUrl('borrowed-singleton-return') });
    assert.equal(d.message, '`spam_none` returns borrowed `Py_None`; CPython expects a new reference');
    // Why it matters first, then the registration.
    assert.match(d.relatedInformation![0].message, /deallocating None/);
    assert.deepEqual(d.relatedInformation![1].location, { uri, range: { start: { line: 26, character: 13 }, end: { line: 26, character: 22 } } });
    assert.equal(p.diagnostics.find((x) => x.code === 'prefer-return-macro')!.severity, 4);
    assert.equal(p.diagnostics.find((x) => x.code === 'reference-leak')!.severity, 2);
  });

  it('says what the CLI says: the same rules, places, severities and messages', async () => {
    const cli = await runJson(dir, ['--all', 'spam.c']);
    const fromCli = (cli.doc.findings as Array<{ rule: string; line: number; column: number; endLine: number; endColumn: number; message: string; severity: string }>).map(
      (f) => `${f.rule} ${f.line - 1}:${f.column - 1}-${f.endLine - 1}:${f.endColumn - 1} ${f.message}`,
    );
    const p = await client.publishedFor(uri, 1);
    const fromServer = p.diagnostics.map((d) => `${String(d.code)} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.message}`);
    assert.deepEqual(fromServer.sort(), fromCli.sort());
  });

  it('follows incremental edits: a change that removes a finding, then one that adds it back', async () => {
    // Replace `return Py_None;` by the macro: the finding goes.
    await client.change(uri, 2, [{ range: { start: { line: 5, character: 4 }, end: { line: 5, character: 19 } }, text: 'Py_RETURN_NONE;' }]);
    assert.deepEqual(codes((await client.publishedFor(uri, 2)).diagnostics), ['prefer-return-macro@11', 'reference-leak@21']);
    // Type a new bare return into spam_list, character by character in one notification.
    const typed = [..."return Py_False;"].map((ch, i) => ({ range: { start: { line: 18, character: 4 + i }, end: { line: 18, character: 4 + i } }, text: ch }));
    await client.change(uri, 3, [{ range: { start: { line: 18, character: 0 }, end: { line: 18, character: 0 } }, text: '    \n' }, ...typed]);
    const p3 = await client.publishedFor(uri, 3);
    assert.deepEqual(codes(p3.diagnostics), ['borrowed-singleton-return@18', 'prefer-return-macro@11', 'reference-leak@22']);
    assert.match(p3.diagnostics.find((d) => d.code === 'borrowed-singleton-return')!.message, /`spam_list` returns borrowed `Py_False`/);
    // Back to the original text.
    await client.change(uri, 4, whole(SPAM));
    assert.deepEqual(codes((await client.publishedFor(uri, 4)).diagnostics), ['borrowed-singleton-return@5', 'prefer-return-macro@11', 'reference-leak@21']);
  });

  it('clears a closed document\'s diagnostics', async () => {
    const other = uriOf(path.join(dir, 'other.c'));
    await client.open(other, SPAM.replace('Py_UNUSED(ignored)', 'unused'), 1);
    assert.equal((await client.publishedFor(other, 1)).diagnostics.length, 3);
    await client.conn.sendNotification('textDocument/didClose', { textDocument: { uri: other } });
    await client.waitFor('the cleared diagnostics', () => {
      const list = client.diagnostics.get(other)!;
      return list[list.length - 1].diagnostics.length === 0;
    });
  });
});

describe('cpyref-lsp: code actions', () => {
  let client: TestClient;
  let dir: string;
  let uri: string;

  before(async () => {
    dir = tempProject({ 'spam.c': SPAM });
    uri = uriOf(path.join(dir, 'spam.c'));
    ({ client } = await start({ root: dir }));
    await client.open(uri, SPAM, 1);
    await client.publishedFor(uri, 1);
  });
  after(async () => {
    await client.stop();
  });

  async function actionsFor(version: number, rule: string, diagnostics?: Diagnostic[]): Promise<{ actions: CodeAction[]; d: Diagnostic }> {
    const p = await client.publishedFor(uri, version);
    const d = p.diagnostics.find((x) => x.code === rule)!;
    const actions = (await client.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: diagnostics ?? [d] } })) as CodeAction[];
    return { actions, d };
  }

  it('offers the finding\'s fix first (preferred), whose edit gives the fixed text, then suppress and fix-all in the file', async () => {
    const { actions } = await actionsFor(1, 'borrowed-singleton-return');
    assert.deepEqual(
      actions.map((a) => [a.title, a.kind, a.isPreferred ?? false]),
      [
        ['Replace with Py_RETURN_NONE', 'quickfix', true],
        ['Suppress borrowed-singleton-return on this line', 'quickfix', false],
        ['Fix all cpyref problems in this file', 'quickfix', false],
      ],
    );
    const fixed = apply(SPAM, editsOf(actions[0].edit, uri, 1));
    assert.equal(fixed, SPAM.replace('    return Py_None;', '    Py_RETURN_NONE;'));
  });

  it('inserts the extension\'s suppression comment above the line, which silences the finding', async () => {
    const { actions } = await actionsFor(1, 'borrowed-singleton-return');
    const suppress = actions.find((a) => a.title.startsWith('Suppress'))!;
    const text = apply(SPAM, editsOf(suppress.edit, uri, 1));
    assert.ok(text.includes('{\n    // cpyref: ignore[borrowed-singleton-return] reason\n    return Py_None;\n'), text);
    await client.change(uri, 2, whole(text));
    assert.deepEqual(codes((await client.publishedFor(uri, 2)).diagnostics), ['prefer-return-macro@12', 'reference-leak@22']);
    await client.change(uri, 3, whole(SPAM));
    await client.publishedFor(uri, 3);
  });

  it('resolves fix-all in the file to the text the CLI\'s --fix writes, and refuses it once the document changed', async () => {
    const { actions } = await actionsFor(3, 'borrowed-singleton-return');
    const fixAll = actions.find((a) => a.title === 'Fix all cpyref problems in this file')!;
    assert.equal(fixAll.edit, undefined, 'computed only when picked');
    const resolved = (await client.conn.sendRequest('codeAction/resolve', fixAll)) as CodeAction;
    const fixed = apply(SPAM, editsOf(resolved.edit, uri, 3));
    const cli = await runCli(dir, ['--fix', '--stdin-filename', 'spam.c'], SPAM);
    assert.equal(fixed, cli.stdout);
    assert.ok(fixed.includes('Py_RETURN_NONE;') && fixed.includes('PyList_Append(list, PyLong_FromLong(1))'), 'safe fixes only, no hint');
    // The document moves on: the action offered for version 3 is refused.
    await client.change(uri, 4, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '\n' }]);
    await assert.rejects(client.conn.sendRequest('codeAction/resolve', fixAll), (e: { code: number }) => e.code === -32801);
    await client.change(uri, 5, whole(SPAM));
    await client.publishedFor(uri, 5);
  });

  it('offers no fix for a diagnostic of an older version', async () => {
    const p5 = await client.publishedFor(uri, 5);
    const stale = p5.diagnostics.find((x) => x.code === 'borrowed-singleton-return')!;
    await client.change(uri, 6, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '/* moved */\n' }]);
    const p6 = await client.publishedFor(uri, 6);
    // The old diagnostic (version 5, one line up) matches nothing of version 6.
    const actions = (await client.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: stale.range, context: { diagnostics: [stale] } })) as CodeAction[];
    assert.deepEqual(actions, []);
    const fresh = p6.diagnostics.find((x) => x.code === 'borrowed-singleton-return')!;
    const ok = (await client.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: fresh.range, context: { diagnostics: [fresh] } })) as CodeAction[];
    assert.equal(ok[0].title, 'Replace with Py_RETURN_NONE');
    editsOf(ok[0].edit, uri, 6);
    await client.change(uri, 7, whole(SPAM));
    await client.publishedFor(uri, 7);
  });

  it('gives source.fixAll.cpyref when fix-all is asked for, as the CLI\'s --fix, and nothing for a clean file', async () => {
    const actions = (await client.conn.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      context: { diagnostics: [], only: ['source.fixAll'] },
    })) as CodeAction[];
    assert.deepEqual(actions.map((a) => [a.title, a.kind]), [['Fix all cpyref problems', 'source.fixAll.cpyref']]);
    const fixed = apply(SPAM, editsOf(actions[0].edit, uri, 7));
    assert.equal(fixed, (await runCli(dir, ['--fix', '--stdin-filename', 'spam.c'], SPAM)).stdout);
    // Quick fixes are not what `only: source.fixAll` asks for.
    assert.ok(!actions.some((a) => a.kind === 'quickfix'));
    // Neovim 0.7 passes a single kind as a string.
    const single = (await client.conn.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      context: { diagnostics: [], only: 'source.fixAll' },
    })) as CodeAction[];
    assert.deepEqual(single.map((a) => a.kind), ['source.fixAll.cpyref']);
    // Applied, nothing is left to fix.
    await client.change(uri, 8, whole(fixed));
    await client.publishedFor(uri, 8);
    const none = await client.conn.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
      context: { diagnostics: [], only: ['source.fixAll.cpyref'] },
    });
    assert.deepEqual(none, []);
  });

  it('hovers with the extension\'s ownership view', async () => {
    await client.change(uri, 9, whole(SPAM));
    await client.publishedFor(uri, 9);
    const at = async (line: number, character: number) => (await client.conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character } })) as Hover | null;
    const api = await at(18, 24); // PyList_New
    assert.ok(api);
    const md = (api.contents as { kind: string; value: string });
    assert.equal(md.kind, 'markdown');
    assert.match(md.value, /`PyList_New` returns a \*\*new reference\*\*/);
    assert.deepEqual(api.range, { start: { line: 18, character: 21 }, end: { line: 18, character: 31 } });
    const none = await at(5, 14); // Py_None in `return Py_None;`
    const offset = SPAM.split('\n').slice(0, 5).join('\n').length + 1 + 14;
    const expected = await ownershipHover('spam.c', SPAM, offset, async () => ({ parser: await loadParser(), options: defaultOptions() }));
    assert.ok(none && expected);
    assert.equal((none.contents as { value: string }).value, expected.markdown);
    assert.equal(await at(1, 0), null, 'nothing on an empty line');
  });
});

describe('cpyref-lsp: pull diagnostics', () => {
  it('answers textDocument/diagnostic (and unchanged for the same result), pushes nothing, and reads a closed file from disk', async () => {
    const dir = tempProject({ 'spam.c': SPAM, 'closed.c': Buffer.concat([Buffer.from('/* caf\xe9 */\n', 'latin1'), Buffer.from(SPAM)]) });
    const uri = uriOf(path.join(dir, 'spam.c'));
    const { client } = await start({ root: dir, capabilities: PULL_CAPABILITIES });
    await client.open(uri, SPAM, 1);
    const r1 = (await client.conn.sendRequest('textDocument/diagnostic', { textDocument: { uri } })) as DocumentDiagnosticReport & { items: Diagnostic[]; resultId: string };
    assert.equal(r1.kind, 'full');
    assert.deepEqual(codes(r1.items), ['borrowed-singleton-return@5', 'prefer-return-macro@11', 'reference-leak@21']);
    assert.deepEqual(r1.items.find((d) => d.code === 'borrowed-singleton-return')!.codeDescription, { href: docsUrl('borrowed-singleton-return') });
    const r2 = (await client.conn.sendRequest('textDocument/diagnostic', { textDocument: { uri }, previousResultId: r1.resultId })) as DocumentDiagnosticReport;
    assert.deepEqual(r2, { kind: 'unchanged', resultId: r1.resultId });
    await client.change(uri, 2, [{ range: { start: { line: 5, character: 4 }, end: { line: 5, character: 19 } }, text: 'Py_RETURN_NONE;' }]);
    const r3 = (await client.conn.sendRequest('textDocument/diagnostic', { textDocument: { uri }, previousResultId: r1.resultId })) as { kind: string; items: Diagnostic[] };
    assert.equal(r3.kind, 'full');
    assert.deepEqual(codes(r3.items), ['prefer-return-macro@11', 'reference-leak@21']);
    // A file that is not open (Latin-1 bytes) is read from disk, as the CLI reads it.
    const closed = (await client.conn.sendRequest('textDocument/diagnostic', { textDocument: { uri: uriOf(path.join(dir, 'closed.c')) } })) as { items: Diagnostic[] };
    assert.deepEqual(codes(closed.items), ['borrowed-singleton-return@6', 'prefer-return-macro@12', 'reference-leak@22']);
    assert.equal(client.diagnostics.get(uri), undefined, 'a pulling client gets no pushed diagnostics');
    assert.equal(await client.stop(), 0);
  });
});

/** A workspace of `n` generated modules; every fifth one returns a borrowed Py_None from a registered method. */
function generatedWorkspace(n: number): { dir: string; withFindings: Set<string> } {
  const dir = tempProject();
  const withFindings = new Set<string>();
  for (let i = 0; i < n; i++) {
    const bad = i % 5 === 0;
    const rel = path.join(`pkg${Math.floor(i / 100)}`, `mod${i}.c`);
    writeFile(
      dir,
      rel,
      `#include <Python.h>\n\nstatic PyObject *\nf${i}(PyObject *self, PyObject *args)\n{\n    ${bad ? 'return Py_None;' : 'Py_RETURN_NONE;'}\n}\n\nstatic PyMethodDef m${i}[] = {\n    {"f", f${i}, METH_VARARGS, NULL},\n    {NULL, NULL, 0, NULL},\n};\n`,
    );
    if (bad) withFindings.add(uriOf(path.join(dir, rel)));
  }
  return { dir, withFindings };
}

describe('cpyref-lsp: workspace diagnostics', () => {
  it('streams a 200-file workspace as partial results with work-done progress, as the CLI finds it', async () => {
    const { dir, withFindings } = generatedWorkspace(200);
    const { client } = await start({ root: dir, capabilities: PULL_CAPABILITIES });
    const report = (await client.conn.sendRequest('workspace/diagnostic', { previousResultIds: [], partialResultToken: 'partial-1', workDoneToken: 'work-1' })) as WorkspaceDiagnosticReport;
    assert.deepEqual(report.items, [], 'everything came as partial results');
    const batches = client.progress.filter((p) => p.token === 'partial-1').map((p) => (p.value as { items: Array<{ uri: string; kind: string; items: Diagnostic[] }> }).items);
    assert.ok(batches.length > 1, `${batches.length} partial batches`);
    const reports = batches.flat();
    assert.equal(reports.length, 200);
    assert.equal(new Set(reports.map((r) => r.uri)).size, 200);
    const found = reports.filter((r) => r.items.length);
    assert.deepEqual(new Set(found.map((r) => r.uri)), withFindings);
    for (const r of found) assert.deepEqual(codes(r.items), ['borrowed-singleton-return@5']);
    // The severity the CLI gives (registered in the file's own table: error).
    const cli = await runJson(dir, ['.']);
    assert.equal(cli.doc.findings.length, withFindings.size);
    assert.ok(found.every((r) => r.items[0].severity === 1) && cli.doc.findings.every((f: { severity: string }) => f.severity === 'error'));
    const work = client.progress.filter((p) => p.token === 'work-1').map((p) => (p.value as { kind: string }).kind);
    assert.equal(work[0], 'begin');
    assert.equal(work[work.length - 1], 'end');
    assert.ok(work.includes('report'));
    // Asked again with the previous result ids: every file is unchanged.
    const ids = reports.map((r) => ({ uri: r.uri, value: (r as unknown as { resultId: string }).resultId }));
    const again = (await client.conn.sendRequest('workspace/diagnostic', { previousResultIds: ids })) as WorkspaceDiagnosticReport;
    assert.equal(again.items.length, 200);
    assert.ok(again.items.every((r) => r.kind === 'unchanged'));
    assert.equal(await client.stop(), 0);
  });

  it('stops when cancelled, and keeps serving', async () => {
    const { dir } = generatedWorkspace(1500);
    const { client } = await start({ root: dir, capabilities: PULL_CAPABILITIES });
    const { CancellationTokenSource } = await import('vscode-languageserver/node');
    const source = new CancellationTokenSource();
    const pending = client.conn.sendRequest('workspace/diagnostic', { previousResultIds: [], partialResultToken: 'p' }, source.token);
    await client.waitFor('a first partial batch', () => client.progress.some((p) => p.token === 'p'));
    source.cancel();
    await assert.rejects(pending, (e: { code: number }) => e.code === -32800);
    const reported = client.progress.filter((p) => p.token === 'p').reduce((n, p) => n + (p.value as { items: unknown[] }).items.length, 0);
    assert.ok(reported < 1500, `${reported} files reported after the cancellation`);
    const hover = await client.conn.sendRequest('textDocument/hover', { textDocument: { uri: uriOf(path.join(dir, 'none.c')) }, position: { line: 0, character: 0 } });
    assert.equal(hover, null);
    assert.equal(await client.stop(), 0);
  });
});

describe('cpyref-lsp: several projects', () => {
  it("decides a function by its own project's registrations, as the CLI does, and follows a project file created on disk", async () => {
    const impl = '#include <Python.h>\n\nPyObject *\nshared(PyObject *self, PyObject *args)\n{\n    return Py_None;\n}\n';
    const table = '#include <Python.h>\n\nPyObject *shared(PyObject *self, PyObject *args);\n\nstatic PyMethodDef m[] = {\n    {"shared", shared, METH_VARARGS, NULL},\n    {NULL, NULL, 0, NULL},\n};\n';
    const dir = tempProject({ 'one/impl.c': impl, 'two/table.c': table });
    const uri = uriOf(path.join(dir, 'one', 'impl.c'));
    const severityOf = (ds: Diagnostic[]) => ds.find((d) => d.code === 'borrowed-singleton-return')?.severity;
    const { client } = await start({ root: dir });
    await client.open(uri, impl, 1);
    // One project: once the index has read two/table.c, `shared` is registered (an error).
    await client.waitFor('the error once the index is built', () => severityOf(client.diagnostics.get(uri)?.at(-1)?.diagnostics ?? []) === 1);
    assert.equal((await runJson(dir, ['.'])).doc.findings[0].severity, 'error');
    // two/ becomes a project of its own: its table says nothing of one/'s function (information), in the CLI too.
    fs.writeFileSync(path.join(dir, 'two', 'setup.py'), '');
    await client.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uriOf(path.join(dir, 'two', 'setup.py')), type: 1 }] });
    await client.waitFor('information once two/ is a project', () => severityOf(client.diagnostics.get(uri)?.at(-1)?.diagnostics ?? []) === 3);
    assert.equal((await runJson(dir, ['.'])).doc.findings[0].severity, 'information');
    assert.equal(await client.stop(), 0);
  });
});

describe('cpyref-lsp: configuration', () => {
  it('reads [tool.cpyref] from the nearest pyproject.toml, lets workspace/configuration override it, and follows pyproject.toml changes', async () => {
    const dir = tempProject({
      'pyproject.toml': '[tool.cpyref.rules]\nborrowed-singleton-return = "off"\n',
      'src/spam.c': SPAM,
    });
    const uri = uriOf(path.join(dir, 'src', 'spam.c'));
    let settings: unknown = {};
    const { client } = await start({ root: dir, configuration: () => settings });
    await client.open(uri, SPAM, 1);
    assert.deepEqual(codes((await client.publishedFor(uri, 1)).diagnostics), ['prefer-return-macro@11', 'reference-leak@21']);
    assert.ok(client.configurationRequests.some((r) => r.section === 'cpyref' && r.scopeUri === uri), 'asked for the cpyref section of the document');
    // The client's setting (the extension's name and shape) wins over pyproject.toml.
    settings = { rules: { 'borrowed-singleton-return': 'warning' } };
    const before = client.diagnostics.get(uri)!.length;
    await client.conn.sendNotification('workspace/didChangeConfiguration', { settings: null });
    const p = await client.waitFor('re-published diagnostics', () => client.diagnostics.get(uri)!.length > before && client.diagnostics.get(uri)!.at(-1));
    assert.deepEqual(codes(p.diagnostics), ['borrowed-singleton-return@5', 'prefer-return-macro@11', 'reference-leak@21']);
    assert.equal(p.diagnostics.find((d) => d.code === 'borrowed-singleton-return')!.severity, 2);
    // pyproject.toml changes on disk: the client's watcher says so.
    settings = {};
    fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[tool.cpyref.rules]\nreference-leak = "off"\nbogus-rule = "error"\n');
    const n = client.diagnostics.get(uri)!.length;
    await client.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: uriOf(path.join(dir, 'pyproject.toml')), type: 2 }] });
    const q = await client.waitFor('diagnostics after the pyproject.toml change', () => client.diagnostics.get(uri)!.length > n && client.diagnostics.get(uri)!.at(-1));
    assert.deepEqual(codes(q.diagnostics), ['borrowed-singleton-return@5', 'prefer-return-macro@11']);
    // Its problem is shown on its line, as the extension shows it.
    const cfg = await client.waitFor('the configuration problem', () => client.diagnostics.get(uriOf(path.join(dir, 'pyproject.toml')))?.at(-1));
    assert.deepEqual(cfg.diagnostics.map((d) => [d.code, d.range.start.line, d.message]), [['configuration', 2, 'tool.cpyref.rules.bogus-rule: unknown rule id; ignored']]);
    assert.equal(await client.stop(), 0);
  });

  it('takes the settings a client pushes when it does not answer workspace/configuration (Neovim 0.7)', async () => {
    const dir = tempProject({ 'spam.c': SPAM });
    const uri = uriOf(path.join(dir, 'spam.c'));
    const caps = { ...PUSH_CAPABILITIES, workspace: { ...PUSH_CAPABILITIES.workspace, configuration: false } };
    const { client } = await start({ root: dir, capabilities: caps });
    await client.conn.sendNotification('workspace/didChangeConfiguration', { settings: { cpyref: { rules: { 'reference-leak': 'off', 'prefer-return-macro': 'off' } } } });
    await client.open(uri, SPAM, 1);
    assert.deepEqual(codes((await client.publishedFor(uri, 1)).diagnostics), ['borrowed-singleton-return@5']);
    assert.equal(client.configurationRequests.length, 0);
    assert.equal(await client.stop(), 0);
  });
});

describe('cpyref-lsp: bad documents', () => {
  it('survives binary, non-UTF-8, half-typed and huge documents', async () => {
    const dir = tempProject();
    const { client } = await start({ root: dir });
    const u = (name: string) => uriOf(path.join(dir, name));
    await client.open(u('binary.c'), 'PyObject *f(void) { return Py_None; }\0\0\0\x01\x02', 1);
    assert.deepEqual((await client.publishedFor(u('binary.c'), 1)).diagnostics, []);
    // Latin-1 mojibake, a replacement character and a lone surrogate around a real finding.
    const odd = `/* caf\u00e9 \ufffd \ud800 */\n${SPAM}`;
    await client.open(u('odd.c'), odd, 1);
    assert.deepEqual(codes((await client.publishedFor(u('odd.c'), 1)).diagnostics), ['borrowed-singleton-return@6', 'prefer-return-macro@12', 'reference-leak@22']);
    // Half-typed: the file cut in the middle of a function, then typed on.
    const cut = SPAM.slice(0, SPAM.indexOf('    return Py_None;') + 12);
    await client.open(u('half.c'), cut, 1);
    await client.publishedFor(u('half.c'), 1);
    await client.change(u('half.c'), 2, [{ range: { start: { line: 5, character: 12 }, end: { line: 5, character: 12 } }, text: 'ne; }\n{{{{ ((( "' }]);
    await client.publishedFor(u('half.c'), 2);
    // Larger than the size limit (8 MB): skipped, as the CLI skips it.
    const huge = SPAM + `/*${'x'.repeat(9 * 1024 * 1024)}*/\n`;
    await client.open(u('huge.c'), huge, 1);
    assert.deepEqual((await client.publishedFor(u('huge.c'), 1, 60000)).diagnostics, []);
    // Still serving.
    await client.open(u('after.c'), SPAM, 1);
    assert.equal((await client.publishedFor(u('after.c'), 1)).diagnostics.length, 3);
    assert.equal(client.proc.exitCode, null);
    assert.equal(await client.stop(), 0);
  });
});

describe('cpyref-lsp: lifecycle', () => {
  it('refuses requests after shutdown (InvalidRequest) and exits with 0 on exit', async () => {
    const { client } = await start();
    assert.equal(await client.conn.sendRequest('shutdown'), null);
    await assert.rejects(client.conn.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///x.c' }, position: { line: 0, character: 0 } }), (e: { code: number }) => e.code === -32600);
    await assert.rejects(client.conn.sendRequest('workspace/diagnostic', { previousResultIds: [] }), (e: { code: number }) => e.code === -32600);
    await assert.rejects(client.conn.sendRequest('shutdown'), (e: { code: number }) => e.code === -32600);
    await client.conn.sendNotification('exit');
    assert.equal(await client.exited, 0);
  });

  it('exits with 1 on exit without shutdown', async () => {
    const { client } = await start();
    await client.conn.sendNotification('exit');
    assert.equal(await client.exited, 1);
  });

  it('exits when its parent (initialize\'s processId) dies', async () => {
    const parent = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const { client } = await start({ processId: parent.pid! });
    parent.kill('SIGKILL');
    const code = await Promise.race([client.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 15000))]);
    assert.notEqual(code, 'alive', 'the server outlived its parent');
  });

  it('exits when its input closes', async () => {
    const { client } = await start();
    client.proc.stdin!.end();
    const code = await Promise.race([client.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 15000))]);
    assert.equal(code, 1);
  });
});
