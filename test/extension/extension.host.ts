import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeText, resolveFindings } from '../../src/core/analyze';
import { applyEdits, applySafeFixes } from '../../src/core/fixes';
import { defaultOptions } from '../../src/core/options';
import { CParser } from '../../src/core/parser';
import { indexFile, ProjectIndex } from '../../src/core/project-index';
import { LineIndex } from '../../src/core/text';
import type { Finding } from '../../src/core/types';
import type { CpyrefApi } from '../../src/extension/extension';
import type { FixAllPlan } from '../../src/extension/workspace-scan';
import { waitFor } from './wait';

const EXT_ID = 'cpyref.cpyref';
const RULE = 'borrowed-singleton-return';

function folder(): vscode.WorkspaceFolder {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'a workspace folder is open');
  return f;
}

function wsUri(...parts: string[]): vscode.Uri {
  return vscode.Uri.joinPath(folder().uri, ...parts);
}

async function api(): Promise<CpyrefApi> {
  const ext = vscode.extensions.getExtension<CpyrefApi>(EXT_ID);
  assert.ok(ext, 'the extension is installed');
  return ext.activate();
}

function ours(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'cpyref');
}

/** A fresh copy of a workspace file under a new name, opened in an editor. */
async function openCopy(from: string, name: string, transform: (s: string) => string = (s) => s): Promise<vscode.TextDocument> {
  const src = fs.readFileSync(wsUri(from).fsPath, 'utf8');
  const target = wsUri('src', name);
  fs.writeFileSync(target.fsPath, transform(src));
  const doc = await vscode.workspace.openTextDocument(target);
  await vscode.window.showTextDocument(doc);
  return doc;
}

async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

function lineOf(doc: vscode.TextDocument, needle: string): number {
  const i = doc.getText().indexOf(needle);
  assert.ok(i >= 0, `${needle} is in the document`);
  return doc.positionAt(i).line;
}

async function diagnosticAt(doc: vscode.TextDocument, line: number): Promise<vscode.Diagnostic> {
  return waitFor(`a diagnostic on line ${line + 1}`, () => ours(doc.uri).find((d) => d.range.start.line === line));
}

async function actionsFor(doc: vscode.TextDocument, d: vscode.Diagnostic, kind = vscode.CodeActionKind.QuickFix): Promise<vscode.CodeAction[]> {
  // The workbench learns about diagnostics asynchronously, so poll until it passes ours to the provider.
  return waitFor('code actions', async () => {
    // Resolve the actions too: "Fix all in this file" computes its edit only when resolved.
    const all = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, d.range, kind.value, 50);
    // Until the workbench has our diagnostic, only the file-wide action comes back.
    return all.some((a) => a.title.startsWith('Suppress')) ? all : undefined;
  });
}

let parser: Promise<CParser> | undefined;
/** The core's findings for a text, computed here, independently of the extension. */
async function coreFindings(file: string, text: string): Promise<Finding[]> {
  parser ??= CParser.load();
  const p = await parser;
  const options = defaultOptions();
  const r = analyzeText(p, { path: file, text, options });
  const index = new ProjectIndex();
  index.set(indexFile(file, text));
  return resolveFindings(r, index.factsFor(file), options);
}

/** The core's text after the first fix of the finding on `line`. */
async function coreFixedAt(doc: vscode.TextDocument, line: number, safe = true): Promise<string> {
  const text = doc.getText();
  const lines = new LineIndex(text);
  const f = (await coreFindings(doc.uri.fsPath, text)).find((x) => lines.position(x.start).line === line);
  assert.ok(f, `the core reports line ${line + 1}`);
  const fix = f.fixes.find((x) => x.safe === safe);
  assert.ok(fix, 'the core has a fix');
  return applyEdits(text, fix.edits);
}

async function applyAction(doc: vscode.TextDocument, action: vscode.CodeAction): Promise<void> {
  const version = doc.version;
  if (action.edit) assert.ok(await vscode.workspace.applyEdit(action.edit));
  else {
    assert.ok(action.command, `${action.title} carries an edit or a command`);
    assert.equal(await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? [])), true);
  }
  await waitFor('the edit', () => doc.version > version);
}

describe('cpyref inside VS Code', () => {
  before(async () => {
    await api();
  });

  afterEach(async () => {
    await closeAll();
  });

  it('activates on a C file and publishes diagnostics with source, code, docs link and path', async () => {
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
    await vscode.window.showTextDocument(doc);
    assert.ok(vscode.extensions.getExtension(EXT_ID)?.isActive);
    const d = await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    assert.equal(d.source, 'cpyref');
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.ok(typeof d.code === 'object' && d.code.value === RULE, 'code carries the rule id');
    assert.match(String((d.code as { target: vscode.Uri }).target), /docs\/rules\/borrowed-singleton-return\.md$/);
    assert.equal(d.message, '`bare` returns borrowed `Py_None`; CPython expects a new reference');
    // Why it matters is the first entry under the message, at the finding itself.
    assert.equal(d.relatedInformation?.[0].location.range.start.line, d.range.start.line);
    assert.match(d.relatedInformation?.[0].message ?? '', /lowers None's reference count/);
    const partial = await diagnosticAt(doc, lineOf(doc, '    return Py_None;\n}\n\nstatic PyMethodDef') );
    assert.ok(partial.relatedInformation?.some((r) => /is false on this path/.test(r.message)), 'the path is in the related information');
  });

  it('C++: a .cpp file and a C++ header (.h with C++ syntax) get the findings of the core and the same quick fix', async () => {
    const dir = wsUri('cxx');
    fs.mkdirSync(dir.fsPath, { recursive: true });
    const source = [
      '#include <Python.h>',
      '#include <vector>',
      'namespace mod {',
      'static PyObject *',
      'count(PyObject *self, PyObject *args)',
      '{',
      '    std::vector<int> v{1, 2};',
      '    for (auto x : v) { if (x > 1) Py_RETURN_TRUE; }',
      '    return Py_None;',
      '}',
      '}',
      'extern "C" {',
      'static PyObject *flag(PyObject *self, PyObject *noargs) { return Py_True; }',
      '}',
      'static PyMethodDef methods[] = {',
      '    {"count", mod::count, METH_VARARGS, nullptr},',
      '    {"flag", reinterpret_cast<PyCFunction>(flag), METH_NOARGS, nullptr},',
      '    {nullptr, nullptr, 0, nullptr},',
      '};',
      '',
    ].join('\n');
    const header = ['#pragma once', '#include <Python.h>', 'namespace mod {', 'class Box {', 'public:', '    static PyObject *empty(PyObject *self, PyObject *args) { return Py_None; }', '};', '}', 'static PyMethodDef box_methods[] = {', '    {"empty", mod::Box::empty, METH_VARARGS, nullptr},', '};', ''].join('\n');
    fs.writeFileSync(wsUri('cxx', 'module.cpp').fsPath, source);
    fs.writeFileSync(wsUri('cxx', 'box.h').fsPath, header);
    try {
      for (const name of ['module.cpp', 'box.h']) {
        const doc = await vscode.workspace.openTextDocument(wsUri('cxx', name));
        await vscode.window.showTextDocument(doc);
        const expected = (await coreFindings(doc.uri.fsPath, doc.getText())).map((f) => `${new LineIndex(doc.getText()).position(f.start).line}:${f.rule}:${f.severity}`).sort();
        assert.ok(expected.length >= 1 && expected.every((e) => e.endsWith(':error')), `the core reports errors in ${name}: ${expected.join(', ')}`);
        const got = await waitFor(`the diagnostics of ${name}`, () => {
          const g = ours(doc.uri).map((d) => `${d.range.start.line}:${(d.code as { value: string }).value}:${['error', 'warning', 'information', 'hint'][d.severity]}`).sort();
          return g.length === expected.length ? g : undefined;
        });
        assert.deepEqual(got, expected);
        // The status says how the file was read (a `.h` may be C or C++).
        const { status } = await api();
        await waitFor(`the status of ${name}`, () => /parsed as C\+\+/.test(status(doc.uri).detail));
      }
      const doc = await vscode.workspace.openTextDocument(wsUri('cxx', 'module.cpp'));
      await vscode.window.showTextDocument(doc);
      const line = lineOf(doc, '    return Py_None;');
      const d = await diagnosticAt(doc, line);
      assert.equal(d.message, '`count` returns borrowed `Py_None`; CPython expects a new reference');
      const expected = await coreFixedAt(doc, line);
      const preferred = (await actionsFor(doc, d)).find((a) => a.isPreferred);
      assert.ok(preferred, 'a preferred quick fix exists');
      await applyAction(doc, preferred);
      assert.equal(doc.getText(), expected);
      assert.ok(doc.getText().includes('    Py_RETURN_NONE;'));
    } finally {
      await closeAll();
      fs.rmSync(dir.fsPath, { recursive: true, force: true });
    }
  });

  it('reports every finding the core reports for the file, on the same lines', async () => {
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
    await vscode.window.showTextDocument(doc);
    const expected = (await coreFindings(doc.uri.fsPath, doc.getText())).map((f) => `${new LineIndex(doc.getText()).position(f.start).line}:${f.rule}:${f.severity}`).sort();
    const got = await waitFor('all diagnostics', () => {
      const g = ours(doc.uri).map((d) => `${d.range.start.line}:${(d.code as { value: string }).value}:${['error', 'warning', 'information', 'hint'][d.severity]}`).sort();
      return g.length === expected.length ? g : undefined;
    });
    assert.deepEqual(got, expected);
  });

  for (const [name, needle, expectText] of [
    ['return macro', '    return Py_None;\n}\n\nstatic PyObject *\nflag', 'Py_RETURN_NONE;'],
    ['PyBool_FromLong', '    return arg == NULL ? Py_True : Py_False;', 'PyBool_FromLong(arg == NULL)'],
    ['local holding None', '    return r;', 'Py_RETURN_NONE;'],
    ['incref before the return', '    return Py_Ellipsis;\n}\n\nstatic PyObject *\nunbraced', 'Py_INCREF(Py_Ellipsis);'],
  ] as const) {
    it(`applies the ${name} quick fix exactly as the core computes it`, async () => {
      const doc = await openCopy('src/module.c', `qf-${name.replace(/\W+/g, '-')}.c`);
      const line = lineOf(doc, needle);
      const d = await diagnosticAt(doc, line);
      const expected = await coreFixedAt(doc, line);
      const actions = await actionsFor(doc, d);
      const preferred = actions.find((a) => a.isPreferred);
      assert.ok(preferred, 'a preferred quick fix exists (Auto Fix)');
      for (const a of actions) assert.ok(!a.title.includes('`'), `a plain-text title: ${a.title}`);
      await applyAction(doc, preferred);
      assert.equal(doc.getText(), expected);
      assert.ok(doc.getText().includes(expectText));
    });
  }

  it('never applies a fix computed for an older version of the document', async () => {
    const doc = await openCopy('src/module.c', 'stale.c');
    const line = lineOf(doc, '    return r;');
    const d = await diagnosticAt(doc, line);
    const preferred = (await actionsFor(doc, d)).find((a) => a.isPreferred)!;
    await vscode.window.activeTextEditor!.edit((b) => b.insert(new vscode.Position(0, 0), '/* typed meanwhile */\n'));
    const before = doc.getText();
    assert.equal(await vscode.commands.executeCommand(preferred.command!.command, ...(preferred.command!.arguments ?? [])), false);
    assert.equal(doc.getText(), before, 'nothing was applied');
  });

  it('applies the steal quick fix (an incref before the call) exactly as the core computes it', async () => {
    const doc = await openCopy('src/closed.c', 'qf-steal.c', (t) =>
      t.replace('    return Py_False;', '    PyObject *t = PyTuple_New(1);\n    if (t == NULL)\n        return NULL;\n    PyTuple_SET_ITEM(t, 0, Py_None);\n    return t;'),
    );
    const line = lineOf(doc, '    PyTuple_SET_ITEM(t, 0, Py_None);');
    const d = await waitFor('the steal diagnostic', () => ours(doc.uri).find((x) => x.range.start.line === line && (x.code as { value: string }).value === 'borrowed-singleton-steal'));
    const expected = await coreFixedAt(doc, line);
    await applyAction(doc, (await actionsFor(doc, d)).find((a) => a.isPreferred)!);
    assert.equal(doc.getText(), expected);
    assert.ok(doc.getText().includes('    Py_INCREF(Py_None);\n    PyTuple_SET_ITEM(t, 0, Py_None);'));
  });

  it('offers the brace-adding fix for an unbraced return without marking it preferred', async () => {
    const doc = await openCopy('src/module.c', 'qf-unbraced.c');
    const line = lineOf(doc, '        return Py_Ellipsis;');
    const d = await diagnosticAt(doc, line);
    const actions = await actionsFor(doc, d);
    const braces = actions.find((a) => /adds braces/.test(a.title));
    assert.ok(braces, 'the brace fix is offered');
    assert.ok(!braces.isPreferred);
    await applyAction(doc, braces);
    assert.equal(doc.getText(), await coreFixedAt(await vscode.workspace.openTextDocument(wsUri('src', 'module.c')), line, false));
  });

  it('fixes all safe problems in the file with one quick fix, as the core does', async () => {
    const doc = await openCopy('src/module.c', 'qf-all.c');
    const d = await diagnosticAt(doc, lineOf(doc, '    return r;'));
    const expected = applySafeFixes(doc.getText(), await coreFindings(doc.uri.fsPath, doc.getText())).text;
    const all = (await actionsFor(doc, d)).find((a) => a.title === 'Fix all cpyref problems in this file');
    assert.ok(all);
    await applyAction(doc, all);
    assert.equal(doc.getText(), expected);
  });

  it('applies source.fixAll.cpyref on save through editor.codeActionsOnSave', async () => {
    const config = vscode.workspace.getConfiguration('editor', { languageId: 'c' });
    await config.update('codeActionsOnSave', { 'source.fixAll.cpyref': 'explicit' }, vscode.ConfigurationTarget.Workspace, true);
    try {
      const doc = await openCopy('src/module.c', 'on-save.c');
      await diagnosticAt(doc, lineOf(doc, '    return r;'));
      const expected = applySafeFixes(doc.getText(), await coreFindings(doc.uri.fsPath, doc.getText())).text;
      const editor = vscode.window.activeTextEditor!;
      await editor.edit((b) => b.insert(new vscode.Position(0, 0), '/* touched */\n'));
      const expectedAfterEdit = applySafeFixes('/* touched */\n' + doc.getText().slice('/* touched */\n'.length), await coreFindings(doc.uri.fsPath, doc.getText())).text;
      assert.ok(expected.length > 0);
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the fixes on save', () => doc.getText() === expectedAfterEdit);
      assert.equal(fs.readFileSync(doc.uri.fsPath, 'utf8'), expectedAfterEdit);
    } finally {
      await config.update('codeActionsOnSave', undefined, vscode.ConfigurationTarget.Workspace, true);
    }
  });

  it('leaves hint-level code alone in fix-all on save, unless cpyref.fixAll.includeHints asks for it', async () => {
    const editorCfg = vscode.workspace.getConfiguration('editor', { languageId: 'c' });
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await editorCfg.update('codeActionsOnSave', { 'source.fixAll.cpyref': 'explicit' }, vscode.ConfigurationTarget.Workspace, true);
    const hinted = 'static PyObject *\nhinted(PyObject *self, PyObject *args)\n{\n    Py_INCREF(Py_None);\n    return Py_None;\n}\n\nstatic PyMethodDef methods[] = {\n    {"hinted", hinted, METH_VARARGS, NULL},';
    try {
      const doc = await openCopy('src/module.c', 'hints-on-save.c', (s) => s.replace('static PyMethodDef methods[] = {', hinted));
      await diagnosticAt(doc, lineOf(doc, '    return r;'));
      const editor = vscode.window.activeTextEditor!;
      await editor.edit((b) => b.insert(new vscode.Position(0, 0), '/* touched */\n'));
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the error fixes on save', () => /bare\(PyObject \*self, PyObject \*args\)\n\{\n    Py_RETURN_NONE;/.test(doc.getText()));
      assert.ok(doc.getText().includes('    Py_INCREF(Py_None);\n    return Py_None;\n'), 'the correct incref-and-return is kept');
      await cfg.update('fixAll.includeHints', true, vscode.ConfigurationTarget.Workspace);
      await editor.edit((b) => b.insert(new vscode.Position(0, 0), '/* again */\n'));
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the hint fixed on save too', () => /hinted\(PyObject \*self, PyObject \*args\)\n\{\n    Py_RETURN_NONE;/.test(doc.getText()));
    } finally {
      await cfg.update('fixAll.includeHints', undefined, vscode.ConfigurationTarget.Workspace);
      await editorCfg.update('codeActionsOnSave', undefined, vscode.ConfigurationTarget.Workspace, true);
    }
  });

  it('suppresses a finding on its line with a comment', async () => {
    const doc = await openCopy('src/module.c', 'suppress.c');
    const line = lineOf(doc, '    return r;');
    const d = await diagnosticAt(doc, line);
    const suppress = (await actionsFor(doc, d)).find((a) => a.title.startsWith('Suppress'));
    assert.ok(suppress);
    await applyAction(doc, suppress);
    assert.equal(doc.lineAt(line).text, `    // cpyref: ignore[${RULE}] reason`);
    // The placeholder is selected: typing replaces it with the real reason.
    const editor = vscode.window.activeTextEditor!;
    assert.equal(doc.getText(editor.selection), 'reason');
    await editor.edit((b) => b.replace(editor.selection, 'borrowed on purpose'));
    assert.equal(doc.lineAt(line).text, `    // cpyref: ignore[${RULE}] borrowed on purpose`);
    await waitFor('the suppressed diagnostic to go', () => !ours(doc.uri).some((x) => x.range.start.line === line + 1 && /`local_none`/.test(x.message)));
  });

  it('keeps CRLF line endings when fixing', async () => {
    const doc = await openCopy('src/module.c', 'crlf.c', (s) => s.replace(/\n/g, '\r\n'));
    assert.equal(doc.eol, vscode.EndOfLine.CRLF);
    const line = lineOf(doc, '    return Py_Ellipsis;\r\n}\r\n\r\nstatic PyObject *\r\nunbraced');
    const d = await diagnosticAt(doc, line);
    const expected = await coreFixedAt(doc, line);
    await applyAction(doc, (await actionsFor(doc, d)).find((a) => a.isPreferred)!);
    assert.equal(doc.getText(), expected);
    assert.ok(doc.getText().includes('Py_INCREF(Py_Ellipsis);\r\n'));
  });

  it('decides severity across files: a function registered in another file is an error', async () => {
    const { engine } = await api();
    await waitFor('the workspace index', () => engine.index.has(wsUri('src', 'table.c').fsPath));
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'helper.c'));
    await vscode.window.showTextDocument(doc);
    const d = await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
  });

  it('scans the workspace: Problems entries for closed files, skipped files logged, a summary', async () => {
    const { scan } = await api();
    const closed = wsUri('src', 'closed.c');
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.uri.toString() === closed.toString()));
    const summary = await scan.run({ silent: true });
    assert.equal(summary.cancelled, false);
    assert.ok(summary.files >= 5);
    assert.ok(summary.skipped >= 1, 'the binary file is skipped');
    assert.ok(summary.findings >= 8);
    const d = await waitFor('diagnostics for the closed file', () => ours(closed)[0]);
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.match(d.message, /never_opened/);
    assert.equal(ours(wsUri('src', 'binary.c')).length, 0);
  });

  it('keeps the scan\'s diagnostics for a file after it is opened and closed', async () => {
    const { scan } = await api();
    await scan.run({ silent: true });
    const closed = wsUri('src', 'closed.c');
    const doc = await vscode.workspace.openTextDocument(closed);
    await vscode.window.showTextDocument(doc);
    await closeAll();
    await waitFor('scan diagnostics restored', () => ours(closed).length === 1);
  });

  it('cancels a workspace scan', async () => {
    const { scan } = await api();
    const gen = wsUri('gen');
    fs.mkdirSync(gen.fsPath, { recursive: true });
    const body = fs.readFileSync(wsUri('src', 'module.c').fsPath, 'utf8');
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(gen.fsPath, `g${i}.c`), body.replace(/\bbare\b/g, `bare${i}`));
    try {
      const source = new vscode.CancellationTokenSource();
      const started = Date.now();
      const running = scan.run({ silent: true, token: source.token });
      setTimeout(() => source.cancel(), 150);
      const summary = await running;
      assert.equal(summary.cancelled, true);
      assert.ok(Date.now() - started < 10000);
    } finally {
      fs.rmSync(gen.fsPath, { recursive: true, force: true });
    }
  });

  it('scans 10,000 files off the extension host thread, without delaying the editor, and cancels within 200 ms', async function () {
    this.timeout(240000);
    const { scan } = await api();
    const gen = wsUri('gen10k');
    fs.mkdirSync(gen.fsPath, { recursive: true });
    for (let i = 0; i < 10000; i++) {
      const dir = path.join(gen.fsPath, `d${Math.floor(i / 500)}`);
      if (i % 500 === 0) fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `m${i}.c`), `#include <Python.h>\nstatic PyObject *\nm${i}(PyObject *self, PyObject *args)\n{\n    if (args == NULL)\n        return NULL;\n    return Py_None;\n}\nstatic PyMethodDef t${i}[] = {{"m${i}", m${i}, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};\n`);
    }
    try {
      // Event-loop lag of the extension host while the scan runs, and edits typed meanwhile.
      let maxLag = 0;
      const lags: number[] = [];
      let last = Date.now();
      const timer = setInterval(() => {
        const now = Date.now();
        lags.push(Math.max(0, now - last - 20));
        maxLag = Math.max(maxLag, now - last - 20);
        last = now;
      }, 20);
      const doc = await openCopy('src/closed.c', 'typing.c');
      const editor = vscode.window.activeTextEditor!;
      const rssBefore = Math.round(process.memoryUsage().rss / 1024 / 1024);
      const started = Date.now();
      const running = scan.run({ silent: true });
      let edits = 0;
      let slowest = 0;
      let finished = false;
      void running.then(() => (finished = true));
      while (!finished) {
        const t0 = Date.now();
        await editor.edit((b) => b.insert(new vscode.Position(0, 0), 'x'));
        slowest = Math.max(slowest, Date.now() - t0);
        edits++;
        await new Promise((r) => setTimeout(r, 30));
      }
      const summary = await running;
      clearInterval(timer);
      const rss = Math.round(process.resourceUsage().maxRSS / 1024);
      const p95 = [...lags].sort((a, b) => a - b)[Math.floor(lags.length * 0.95)] ?? 0;
      console.log(`[scan of 10,000 files] ${summary.files} files in ${Date.now() - started} ms; ${edits} edits typed meanwhile, slowest round trip ${slowest} ms; extension-host event-loop lag p95 ${p95} ms, max ${maxLag} ms; extension host RSS ${rssBefore} MB before the scan, peak ${rss} MB`);
      assert.ok(summary.files >= 10000);
      assert.ok(summary.findings >= 10000);
      // Typing must not wait on the scan: the lag stays small nearly all the time. A single pause
      // (a major garbage collection of the 450 MB host, 200–430 ms on this 2-core machine before and
      // after the file watcher came) is allowed, a stall is not.
      assert.ok(p95 < 100, `the extension host lagged ${p95} ms at the 95th percentile`);
      assert.ok(maxLag < 1000, `the extension host stalled for ${maxLag} ms`);
      assert.ok(edits > 0);
      void doc;

      const source = new vscode.CancellationTokenSource();
      const second = scan.run({ silent: true, token: source.token });
      await new Promise((r) => setTimeout(r, 700));
      const cancelledAt = Date.now();
      source.cancel();
      const s2 = await second;
      const stopMs = Date.now() - cancelledAt;
      console.log(`[scan of 10,000 files] cancelled; stopped ${stopMs} ms after the cancellation`);
      assert.equal(s2.cancelled, true);
      assert.ok(stopMs < 200, `stopped ${stopMs} ms after cancellation`);
    } finally {
      fs.rmSync(gen.fsPath, { recursive: true, force: true });
      // The file watcher reports 20,000 creations and deletions; the later tests need it quiet again.
      const { engine } = await api();
      await waitFor('the index to forget the generated files', () => engine.pendingDiskEvents === 0 && !engine.index.entries().some((e) => e.path.includes('gen10k')), 180000);
    }
  });

  it('Fix All in Workspace: one edit per fix, labelled with its rule and function; safe fixes ticked, unsafe ones for review', async () => {
    const plan = await vscode.commands.executeCommand<FixAllPlan>('cpyref.fixAllInWorkspace', { apply: false });
    assert.ok(plan);
    const closed = plan.fixes.filter((x) => x.uri.fsPath.endsWith('closed.c'));
    assert.deepEqual(
      closed.map((x) => [x.range.start.line, x.newText.trim(), x.label, x.safe]),
      [[5, 'Py_RETURN_FALSE;', `${RULE} in never_opened`, true]],
    );
    const module = plan.fixes.filter((x) => x.uri.fsPath.endsWith(`${path.sep}module.c`));
    assert.ok(module.filter((x) => x.safe).length >= 4, 'each safe fix of module.c is its own edit');
    for (const x of module) assert.ok(x.range.end.line - x.range.start.line <= 3, `a small edit, not a span of the file: ${x.label} ${x.range.start.line}-${x.range.end.line}`);
    assert.ok(module.some((x) => x.label === `${RULE} in bare`));
    // The workspace edit holds exactly these edits.
    assert.equal(plan.edit.entries().reduce((n, [, edits]) => n + edits.length, 0), plan.fixes.length);
  });

  it('Fix All in Workspace applies the safe fixes in one step, to closed files too', async () => {
    const closed = wsUri('src', 'closed.c');
    const originals = new Map((await vscode.workspace.findFiles('**/*.{c,h}')).map((u) => [u.toString(), fs.readFileSync(u.fsPath, 'utf8')]));
    const plan = await vscode.commands.executeCommand<FixAllPlan>('cpyref.fixAllInWorkspace', { confirm: false, review: false });
    const touched = [...new Set(plan!.fixes.map((x) => x.uri.toString()))].map((u) => vscode.Uri.parse(u));
    try {
      assert.equal(plan?.applied, true);
      assert.ok(plan!.fixes.every((x) => x.safe));
      const doc = await vscode.workspace.openTextDocument(closed);
      assert.match(doc.getText(), /Py_RETURN_FALSE;/);
      assert.doesNotMatch(doc.getText(), /return Py_False;/);
    } finally {
      // Put the buffers back as they are on disk (the fixes were not saved).
      for (const uri of touched) {
        const d = await vscode.workspace.openTextDocument(uri);
        const back = new vscode.WorkspaceEdit();
        back.replace(uri, new vscode.Range(d.positionAt(0), d.positionAt(d.getText().length)), originals.get(uri.toString())!);
        await vscode.workspace.applyEdit(back);
        await d.save();
      }
    }
  });

  it('shows only real files: a copy of a C file in another view (a preview, a diff) is not analysed', async () => {
    const { live } = await api();
    const text = fs.readFileSync(wsUri('src', 'module.c').fsPath, 'utf8');
    const scheme = 'cpyref-test-copy';
    const reg = vscode.workspace.registerTextDocumentContentProvider(scheme, { provideTextDocumentContent: () => text });
    try {
      const real = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
      await vscode.window.showTextDocument(real);
      await diagnosticAt(real, lineOf(real, '    return Py_None;'));
      const copy = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(vscode.Uri.parse(`${scheme}:/src/module.c`)), 'c');
      await vscode.window.showTextDocument(copy, { preview: false, viewColumn: vscode.ViewColumn.Beside });
      assert.equal(await live.run(copy, 'fresh'), undefined);
      assert.equal(ours(copy.uri).length, 0);
    } finally {
      reg.dispose();
    }
  });

  it('points the "registered here" step at the table\'s real line in a file that is not open', async () => {
    const { engine } = await api();
    const table = wsUri('src', 'table.c');
    await waitFor('the workspace index', () => engine.index.has(table.fsPath));
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'helper.c'));
    await vscode.window.showTextDocument(doc);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.uri.toString() === table.toString()));
    const d = await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    const step = d.relatedInformation?.find((r) => r.location.uri.fsPath === table.fsPath);
    assert.ok(step, 'a step in table.c');
    const lines = fs.readFileSync(table.fsPath, 'utf8').split('\n');
    const line = lines.findIndex((l) => l.includes('{"helper_method", helper_method'));
    assert.equal(step.location.range.start.line, line);
    assert.equal(lines[line].slice(step.location.range.start.character, step.location.range.end.character), 'helper_method');
  });

  it('indexes a file created on disk outside the editor: its table makes a method an error', async () => {
    const doc = await openCopy('src/helper.c', 'late_helper.c', (s) => s.replace(/helper_method/g, 'late_method'));
    const line = lineOf(doc, '    return Py_None;');
    await waitFor('an information-level finding', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Information));
    const table = wsUri('src', 'late_table.c');
    fs.writeFileSync(table.fsPath, fs.readFileSync(wsUri('src', 'table.c').fsPath, 'utf8').replace(/helper_method/g, 'late_method').replace('table_methods', 'late_methods'));
    try {
      await waitFor('the finding to become an error', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Error));
    } finally {
      fs.rmSync(table.fsPath);
    }
    await waitFor('information again once the table is deleted', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Information));
  });

  it('keeps projects apart: src/ with a setup.py of its own no longer sees a table outside it, until that file goes', async () => {
    const doc = await openCopy('src/helper.c', 'apart_helper.c', (s) => s.replace(/helper_method/g, 'apart_method'));
    const line = lineOf(doc, '    return Py_None;');
    // (Files are created in folders that exist: the watcher may miss those of a folder it has not seen yet.)
    const table = wsUri('apart_table.c').fsPath;
    fs.writeFileSync(table, fs.readFileSync(wsUri('src', 'table.c').fsPath, 'utf8').replace(/helper_method/g, 'apart_method').replace('table_methods', 'apart_methods'));
    const marker = wsUri('src', 'setup.py').fsPath;
    const severity = () => ours(doc.uri).find((d) => d.range.start.line === line)?.severity;
    try {
      await waitFor('an error: one project, the table registers it', () => severity() === vscode.DiagnosticSeverity.Error);
      fs.writeFileSync(marker, '');
      await waitFor('information once src/ is a project of its own', () => severity() === vscode.DiagnosticSeverity.Information);
      fs.rmSync(marker);
      await waitFor('an error again once its setup.py is gone', () => severity() === vscode.DiagnosticSeverity.Error);
    } finally {
      fs.rmSync(marker, { force: true });
      fs.rmSync(table, { force: true });
    }
  });

  it('shows a bad [tool.cpyref] key as a problem on its line of pyproject.toml, and drops it once fixed', async () => {
    const dir = wsUri('sub');
    fs.mkdirSync(dir.fsPath, { recursive: true });
    const toml = vscode.Uri.joinPath(dir, 'pyproject.toml');
    fs.writeFileSync(toml.fsPath, '[tool.cpyref]\ninclude = ["*.c"]\n');
    const problems = () => vscode.languages.getDiagnostics(toml).filter((d) => d.source === 'cpyref');
    try {
      // Edited and saved in the editor, as a user does.
      const doc = await vscode.workspace.openTextDocument(toml);
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((b) => b.insert(new vscode.Position(2, 0), 'colour = "red"\nrules = { singleton-decref = "loud" }\n'));
      await doc.save();
      const found = await waitFor('problems in pyproject.toml', () => (problems().length === 2 ? problems() : undefined));
      const byLine = found.map((d) => [d.range.start.line, d.severity]).sort();
      assert.deepEqual(byLine, [
        [2, vscode.DiagnosticSeverity.Warning],
        [3, vscode.DiagnosticSeverity.Warning],
      ]);
      assert.match(found.find((d) => d.range.start.line === 2)!.message, /colour: unknown key/);
      await editor.edit((b) => b.delete(new vscode.Range(2, 0, 4, 0)));
      await doc.save();
      await waitFor('the problems to go', () => problems().length === 0);
    } finally {
      fs.rmSync(dir.fsPath, { recursive: true, force: true });
    }
  });

  it('shows what is on disk for a closed file after Fix All in Workspace fixed and saved it (no stale scan result)', async () => {
    const { scan } = await api();
    await scan.run({ silent: true });
    const closed = wsUri('src', 'closed.c');
    // Every file Fix All may touch, as the other tests expect them.
    const originals = new Map((await vscode.workspace.findFiles('**/*.{c,h}')).map((u) => [u.fsPath, fs.readFileSync(u.fsPath)]));
    await waitFor('the scan\'s diagnostic', () => ours(closed).length === 1);
    try {
      const plan = await vscode.commands.executeCommand<FixAllPlan>('cpyref.fixAllInWorkspace', { confirm: false, review: false });
      assert.equal(plan?.applied, true);
      await vscode.workspace.saveAll(false);
      assert.match(fs.readFileSync(closed.fsPath, 'utf8'), /Py_RETURN_FALSE;/);
      const doc = await vscode.workspace.openTextDocument(closed);
      await vscode.window.showTextDocument(doc);
      await waitFor('no diagnostic for the fixed file', () => ours(closed).length === 0);
      await closeAll();
      // Give a stale restore its chance: the diagnostics must stay gone.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(ours(closed).length, 0);
    } finally {
      // Back as the other tests expect, through the documents (they may be open, and saved with the fixes).
      for (const [file, bytes] of originals) {
        if (fs.readFileSync(file).equals(bytes)) continue;
        const d = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
        const back = new vscode.WorkspaceEdit();
        back.replace(d.uri, new vscode.Range(d.positionAt(0), d.positionAt(d.getText().length)), bytes.toString('utf8'));
        await vscode.workspace.applyEdit(back);
        await d.save();
      }
      await closeAll();
    }
  });

  it('follows closed files on disk after a scan: a file replaced by a rename, a deleted folder', async () => {
    const { scan } = await api();
    const bug = fs.readFileSync(wsUri('src', 'closed.c').fsPath, 'utf8');
    const dir = wsUri('churn');
    fs.mkdirSync(dir.fsPath, { recursive: true });
    const replaced = vscode.Uri.joinPath(dir, 'replaced.c');
    const doomed = wsUri('churn', 'deep', 'doomed.c');
    fs.mkdirSync(path.dirname(doomed.fsPath), { recursive: true });
    fs.writeFileSync(replaced.fsPath, bug.replace(/never_opened/g, 'replaced_fn'));
    fs.writeFileSync(doomed.fsPath, bug.replace(/never_opened/g, 'doomed_fn'));
    try {
      await scan.run({ silent: true });
      await waitFor('the scan\'s problems', () => ours(replaced).length === 1 && ours(doomed).length === 1);
      // A generator writes a temporary file and renames it over the old one (reported as a creation).
      const tmp = path.join(dir.fsPath, 'replaced.c.tmp');
      fs.writeFileSync(tmp, bug.replace(/never_opened/g, 'replaced_fn').replace('return Py_False;', 'Py_RETURN_FALSE;'));
      fs.renameSync(tmp, replaced.fsPath);
      await waitFor('no problem for the replaced file', () => ours(replaced).length === 0, 30000);
      fs.rmSync(path.join(dir.fsPath, 'deep'), { recursive: true, force: true });
      await waitFor('no problem for the file of the deleted folder', () => ours(doomed).length === 0, 30000);
    } finally {
      fs.rmSync(dir.fsPath, { recursive: true, force: true });
    }
  });

  it('says in the status item why a file shows no problems: excluded, turned off', async () => {
    const { status } = await api();
    const doc = await vscode.workspace.openTextDocument(wsUri('excluded', 'vendored.c'));
    await vscode.window.showTextDocument(doc);
    await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    await waitFor('the count in the status', () => /^cpyref: [1-9]\d* problems?$/.test(status(doc.uri).text));
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await cfg.update('exclude', ['excluded/'], vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the status to say excluded', () => status(doc.uri).text === 'cpyref: excluded');
      assert.match(status(doc.uri).detail, /exclude/);
    } finally {
      await cfg.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await cfg.update('enable', false, vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the status to say off', () => status(doc.uri).text === 'cpyref: off');
    } finally {
      await cfg.update('enable', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await waitFor('problems again', () => /problem/.test(status(doc.uri).text));
  });

  it('Clear Scan Results removes the problems of closed files; Restart analyses and indexes again', async () => {
    const { scan, engine } = await api();
    // A file no test has opened: its problems can only come from the scan.
    const closed = wsUri('src', 'never_opened_either.c');
    fs.writeFileSync(closed.fsPath, fs.readFileSync(wsUri('src', 'closed.c').fsPath, 'utf8').replace(/never_opened/g, 'never_opened_either'));
    try {
      await scan.run({ silent: true });
      await waitFor('the scan\'s diagnostic', () => ours(closed).length === 1);
      assert.ok((await vscode.commands.executeCommand<number>('cpyref.clearScanResults')) >= 1);
      assert.equal(ours(closed).length, 0);
    } finally {
      fs.rmSync(closed.fsPath);
    }
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'helper.c'));
    await vscode.window.showTextDocument(doc);
    const line = lineOf(doc, '    return Py_None;');
    await waitFor('an error through the index', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Error));
    await vscode.commands.executeCommand('cpyref.restart');
    assert.ok(engine.index.has(wsUri('src', 'table.c').fsPath), 'the index is rebuilt');
    await waitFor('the error again after the restart', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Error));
  });

  it('takes a rule level from the settings', async () => {
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await cfg.update('rules', { [RULE]: 'warning' }, vscode.ConfigurationTarget.Workspace);
    try {
      const doc = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
      await vscode.window.showTextDocument(doc);
      const line = lineOf(doc, '    return Py_None;');
      await waitFor('a warning', () => ours(doc.uri).find((d) => d.range.start.line === line && d.severity === vscode.DiagnosticSeverity.Warning));
    } finally {
      await cfg.update('rules', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('analyses nothing in excluded files', async () => {
    const doc = await vscode.workspace.openTextDocument(wsUri('excluded', 'vendored.c'));
    await vscode.window.showTextDocument(doc);
    await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await cfg.update('exclude', ['excluded/'], vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the diagnostics to go', () => ours(doc.uri).length === 0);
    } finally {
      await cfg.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('with run = onSave, analyses an edit only when the file is saved', async () => {
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await cfg.update('run', 'onSave', vscode.ConfigurationTarget.Workspace);
    try {
      const doc = await openCopy('src/closed.c', 'on-save-mode.c');
      const line = lineOf(doc, '    return Py_False;');
      await diagnosticAt(doc, line);
      const editor = vscode.window.activeTextEditor!;
      await editor.edit((b) => b.replace(doc.lineAt(line).range, '    return Py_True;'));
      await new Promise((r) => setTimeout(r, 800));
      assert.match(ours(doc.uri)[0].message, /Py_False/, 'not re-analysed while typing');
      await doc.save();
      await waitFor('the analysis on save', () => ours(doc.uri).find((d) => /Py_True/.test(d.message)));
    } finally {
      await cfg.update('run', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('turns off with cpyref.enable', async () => {
    const doc = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
    await vscode.window.showTextDocument(doc);
    await diagnosticAt(doc, lineOf(doc, '    return Py_None;'));
    const cfg = vscode.workspace.getConfiguration('cpyref');
    await cfg.update('enable', false, vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('no diagnostics', () => ours(doc.uri).length === 0);
    } finally {
      await cfg.update('enable', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('declares support for untrusted and virtual workspaces, and runs no workspace code', () => {
    const pkg = vscode.extensions.getExtension(EXT_ID)!.packageJSON as { capabilities: { untrustedWorkspaces: { supported: boolean }; virtualWorkspaces: boolean }; activationEvents: string[] };
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, true);
    assert.equal(pkg.capabilities.virtualWorkspaces, true);
    assert.deepEqual(pkg.activationEvents, ['onLanguage:c', 'onLanguage:cpp']);
  });

  it('analyses an untitled C document (no file on disk)', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'c', content: '#include <Python.h>\nstatic PyObject *f(PyObject *s, PyObject *a) {\n    return Py_NotImplemented;\n}\nstatic PyMethodDef m[] = {{"f", f, METH_VARARGS, NULL}, {NULL}};\n' });
    await vscode.window.showTextDocument(doc);
    const d = await diagnosticAt(doc, 2);
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
  });

  it('skips a huge file with a reason and keeps working', async function () {
    // Opening a 9 MB document keeps the extension host busy for 20 s or more on a 2-core machine
    // (it was so before the file watcher came); what is checked is that cpyref keeps working after.
    this.timeout(90000);
    const big = wsUri('src', 'huge.c');
    const chunk = 'static int filler_%d(void) { return %d; }\n';
    const parts: string[] = [];
    for (let i = 0; parts.join('').length < 9 * 1024 * 1024; i++) parts.push(chunk.replace(/%d/g, String(i)).repeat(200));
    fs.writeFileSync(big.fsPath, parts.join('') + 'static PyObject *f(PyObject *s) { return Py_None; }\n');
    try {
      const doc = await vscode.workspace.openTextDocument(big);
      await vscode.window.showTextDocument(doc);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(ours(doc.uri).length, 0);
      const other = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
      await vscode.window.showTextDocument(other);
      await diagnosticAt(other, lineOf(other, '    return Py_None;'));
    } finally {
      await closeAll();
      fs.rmSync(big.fsPath, { force: true });
    }
  });

  it('hovers a C-API call with its reference behaviour and a singleton with its ownership on the paths', async () => {
    const doc = await openCopy('src/module.c', 'hover.c', (t) => t.replace('    return Py_None;\n}\n\nstatic PyObject *\nflag', '    PyObject *t = PyTuple_New(1);\n    PyTuple_SET_ITEM(t, 0, Py_None);\n    return Py_None;\n}\n\nstatic PyObject *\nflag'));
    const text = (h: vscode.Hover[]) => h.flatMap((x) => x.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    const api = await waitFor('an API hover', async () => {
      const h = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, doc.positionAt(doc.getText().indexOf('PyTuple_SET_ITEM') + 3));
      return text(h).includes('steals') ? text(h) : undefined;
    });
    // The macro cannot fail, so the hover says nothing of failing.
    assert.match(api, /`PyTuple_SET_ITEM` \*\*steals\*\* a reference to the third argument\.\n/);
    const paths = await waitFor('an ownership hover', async () => {
      const at = doc.getText().indexOf('    return Py_None;\n}\n\nstatic PyMethodDef') + 12;
      const h = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, doc.positionAt(at));
      return text(h).includes('owns a reference') ? text(h) : undefined;
    });
    assert.match(paths, /owns a reference to `Py_None` on 1 of the 2 paths that reach this statement/);
  });

  it('contributes the refcount grammar to C and C++, from a file that ships', () => {
    const ext = vscode.extensions.getExtension(EXT_ID)!;
    const pkg = ext.packageJSON as { contributes: { grammars: Array<{ scopeName: string; path: string; injectTo: string[] }> } };
    const g = pkg.contributes.grammars[0];
    assert.deepEqual(g.injectTo, ['source.c', 'source.cpp']);
    const grammar = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, g.path), 'utf8')) as { scopeName: string; patterns: Array<{ name: string }> };
    assert.equal(grammar.scopeName, g.scopeName);
    assert.ok(grammar.patterns.some((p) => p.name === 'constant.language.singleton.cpyref'));
  });

  it('breaks nothing when a binary file is in the workspace or opened as text', async () => {
    const untitled = await vscode.workspace.openTextDocument({ language: 'c', content: 'static int x;\0\0binary\0 return Py_None;' });
    await vscode.window.showTextDocument(untitled);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ours(untitled.uri).length, 0, 'text with NUL bytes is skipped');
    // VS Code itself refuses to open the workspace's binary .c file as text; that must not disturb cpyref.
    await vscode.workspace.openTextDocument(wsUri('src', 'binary.c')).then(
      () => undefined,
      (e: Error) => assert.match(e.message, /binary/),
    );
    const other = await vscode.workspace.openTextDocument(wsUri('src', 'module.c'));
    await vscode.window.showTextDocument(other);
    await diagnosticAt(other, lineOf(other, '    return Py_None;'));
  });
});
