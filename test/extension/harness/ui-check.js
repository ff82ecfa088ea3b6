// Drives the real workbench: open the example, wait for cpyref's squiggle, apply the quick
// fix with Ctrl+., save, do the same on a C++ module written into the workspace at run time,
// scan the workspace and look at the Problems panel. Screenshots of each step go to OUT_DIR.
// Prints `N passed, N failed`.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const URL_BASE = process.env.CS_URL;
const WS = process.env.WS_DIR;
const FILE = path.join(WS, 'framecache', 'framecache.c');
const OUT = process.env.OUT_DIR;
const STEPS = 9;
const T0 = Date.now();
const log = (m) => console.log(`[+${((Date.now() - T0) / 1000).toFixed(1)}s] ${m}`);

// A C++ module, not one of the shipped examples (their findings are asserted elsewhere): a
// method in a namespace with a range-for, an extern "C" method, a method table with casts and
// a qualified name, and a header whose class text makes cpyref read it as C++.
const CXX = path.join(WS, 'cxx', 'module.cpp');
const CXX_H = path.join(WS, 'cxx', 'counter.h');
const CXX_SOURCE = `// A C++ extension module written by the UI check: one borrowed singleton per method.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <vector>
#include "counter.h"

namespace cxxmod {

static PyObject *
sum_items(PyObject *self, PyObject *args)
{
    std::vector<long> items{1, 2, 3};
    long total = 0;
    for (long v : items) {
        total += v;
    }
    (void)total;
    return Py_None;
}

}  // namespace cxxmod

extern "C" PyObject *
cxx_is_ready(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *probe = PyLong_FromLong(1);
    Py_XDECREF(probe);
    return Py_True;
}

static PyMethodDef cxx_methods[] = {
    {"sum_items", reinterpret_cast<PyCFunction>(cxxmod::sum_items), METH_VARARGS, nullptr},
    {"is_ready", reinterpret_cast<PyCFunction>(cxx_is_ready), METH_NOARGS, nullptr},
    {"empty", reinterpret_cast<PyCFunction>(Counter::empty), METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr}
};
`;
const CXX_HEADER = `// A header with a class: its text makes cpyref read it as C++.
#pragma once
#include <Python.h>

class Counter {
public:
    static PyObject *empty(PyObject *self, PyObject *Py_UNUSED(ignored))
    {
        return Py_False;
    }
};
`;
fs.mkdirSync(path.dirname(CXX), { recursive: true });
fs.writeFileSync(CXX, CXX_SOURCE);
fs.writeFileSync(CXX_H, CXX_HEADER);

/** Resolves when the editor shows an error squiggle on the line holding `needle`; returns the squiggle's centre. */
async function squiggleOnLine(page, needle, timeout) {
  const find = (needle) => {
    for (const ed of document.querySelectorAll('.part.editor .monaco-editor')) {
      const line = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => l.textContent.replace(/\u00a0/g, ' ').includes(needle));
      if (!line) continue;
      const lr = line.getBoundingClientRect();
      const sq = [...ed.querySelectorAll('.squiggly-error')].find((s) => {
        const r = s.getBoundingClientRect();
        return r.top + r.height / 2 > lr.top && r.top + r.height / 2 < lr.bottom;
      });
      if (sq) {
        const r = sq.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
    }
    return null;
  };
  try {
    return await (await page.waitForFunction(find, needle, { timeout })).jsonValue();
  } catch (e) {
    const seen = await page.evaluate(() => [...document.querySelectorAll('.part.editor .squiggly-error')].map((s) => JSON.stringify(s.getBoundingClientRect())).join(' ')).catch(() => '?');
    throw new Error(`no squiggle on the line with ${JSON.stringify(needle)} (squiggles at ${seen || 'none'})`);
  }
}

/** Ctrl+. until the quick-fix menu shows a row with `text` (on a loaded machine the first press can come before the code actions are ready). */
async function openQuickFix(page, text) {
  const row = `.action-widget .monaco-list-row:has-text("${text}")`;
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+.');
    try {
      return await page.waitForSelector(row, { timeout: 5000 });
    } catch (e) {
      if (attempt === 3) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-ui-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || (await browser.newPage());
  const steps = [];
  const step = async (name, fn) => {
    try {
      await fn();
      steps.push([name, true]);
      log(`ok   ${name}`);
    } catch (e) {
      steps.push([name, false]);
      log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
      await page.screenshot({ path: path.join(OUT, `failure-${steps.length}.png`) }).catch(() => {});
      throw e;
    }
  };
  try {
    await page.goto(`${URL_BASE}/?folder=${encodeURIComponent(WS)}`);
    await step('the workbench opens', () => page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60000 }));
    await step('the example opens and shows a squiggle', async () => {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('framecache.c');
      await page.waitForSelector('.quick-input-list .monaco-list-row', { timeout: 15000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.monaco-editor .view-lines:has-text("cache_close")', { timeout: 30000 });
      // Line 22 holds the first bug.
      await page.keyboard.press('Control+G');
      await page.keyboard.type('22');
      await page.keyboard.press('Enter');
      await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 60000 });
      await page.mouse.move(10, 10);
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(OUT, 'squiggle.png') });
    });
    await step('Ctrl+. offers the fix and applying it rewrites the line', async () => {
      await page.keyboard.press('End');
      await page.keyboard.press('ArrowLeft');
      for (let attempt = 1; ; attempt++) {
        const item = await openQuickFix(page, 'Py_RETURN_NONE');
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(OUT, 'quick-fix.png') });
        // One `return Py_None;` fewer on screen once the fix is applied.
        const bare = () => [...document.querySelectorAll('.part.editor .monaco-editor .view-line')].filter((l) => /return\s+Py_None;/.test(l.textContent ?? '')).length;
        const before = await page.evaluate(bare);
        await item.click();
        // The same known race as in the C++ step below: logged, then the user's retry.
        const done = await Promise.race([
          page.waitForFunction(`(${bare.toString()})() < ${before}`, null, { timeout: 10000 }).then(() => 'fixed'),
          page.waitForSelector('.notifications-toasts:has-text("Actual command not found")', { timeout: 10000 }).then(() => 'stale'),
        ]).catch(() => 'nothing');
        if (done === 'fixed') break;
        log(`WARN the quick fix did nothing (${done}) on attempt ${attempt}`);
        await page.screenshot({ path: path.join(OUT, `quick-fix-${done}-${attempt}.png`) });
        if (attempt === 2) throw new Error(`the quick fix did not apply (${done})`);
        await page.keyboard.press('Escape');
        await page.click('.notifications-toasts .codicon-notifications-clear', { timeout: 2000 }).catch(() => {});
      }
      await page.keyboard.press('Control+S');
      for (let i = 0; i < 100 && !/Py_CLEAR\(self->frames\);\s*self->closed = 1;\s*Py_RETURN_NONE;/.test(fs.readFileSync(FILE, 'utf8')); i++) await page.waitForTimeout(100);
      if (!/self->closed = 1;\s*Py_RETURN_NONE;/.test(fs.readFileSync(FILE, 'utf8'))) throw new Error('the file on disk was not fixed');
    });
    await step('the injected grammar gives Py_None its own scope in the editor', async () => {
      await page.keyboard.press('Control+G');
      await page.keyboard.type('36');
      await page.keyboard.press('Enter');
      await page.keyboard.press('End');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('Inspect Editor Tokens and Scopes');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Inspect Editor Tokens")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.token-inspect-widget:has-text("constant.language.singleton.cpyref")', { timeout: 15000 });
      await page.screenshot({ path: path.join(OUT, 'scopes.png') });
      await page.keyboard.press('Escape');
    });
    await step('the C++ module opens through Quick Open with a squiggle on its return Py_None line, and the hover explains it', async () => {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('module.cpp');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("module.cpp")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.monaco-editor .view-lines:has-text("sum_items")', { timeout: 30000 });
      await page.waitForSelector('.part.statusbar :text-is("C++")', { timeout: 10000 });
      const sq = await squiggleOnLine(page, 'return Py_None;', 60000);
      await squiggleOnLine(page, 'return Py_True;', 5000);
      await page.mouse.move(10, 10);
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(OUT, 'cpp-squiggle.png') });
      await page.mouse.move(sq.x, sq.y);
      const hover = await page.waitForSelector('.monaco-hover:has-text("sum_items")', { timeout: 15000 });
      const text = await hover.textContent();
      if (!/`?sum_items`? returns borrowed `?Py_None`?; CPython expects a new reference/.test(text)) throw new Error(`unexpected hover: ${text}`);
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(OUT, 'cpp-hover.png') });
      await page.mouse.move(10, 10);
      await page.keyboard.press('Escape');
    });
    await step('the language status of the C++ file counts its problems', async () => {
      await page.hover('.part.statusbar [id="status.languageStatus"]', { timeout: 10000 });
      const hover = await page.waitForSelector('.hover-language-status:has-text("cpyref")', { timeout: 10000 });
      const text = await hover.textContent();
      if (!/cpyref: 2 problems/.test(text)) throw new Error(`unexpected language status: ${text}`);
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(OUT, 'cpp-language-status.png') });
      await page.mouse.move(10, 10);
      await page.keyboard.press('Escape');
    });
    await step('in C++, Ctrl+. offers Py_RETURN_NONE first, applying it and saving fixes the file on disk, and the fixed line gets the injected scope', async () => {
      await page.click('.part.editor .monaco-editor .view-line:has-text("return Py_None;")');
      await page.keyboard.press('End');
      await page.keyboard.press('ArrowLeft');
      for (let attempt = 1; ; attempt++) {
        await openQuickFix(page, 'Py_RETURN_NONE');
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(OUT, 'cpp-quick-fix.png') });
        // Enter applies the first (preferred) fix.
        await page.keyboard.press('Enter');
        const done = await Promise.race([
          page.waitForSelector('.part.editor .monaco-editor .view-line:has-text("Py_RETURN_NONE;")', { timeout: 10000 }).then(() => 'fixed'),
          // Known race: diagnostics republished while the menu is open (the project index changed)
          // leave the menu's command disposed. Logged, then the user's retry.
          page.waitForSelector('.notifications-toasts:has-text("Actual command not found")', { timeout: 10000 }).then(() => 'stale'),
        ]).catch(() => 'nothing');
        if (done === 'fixed') break;
        log(`WARN the quick fix did nothing (${done}) on attempt ${attempt}`);
        await page.screenshot({ path: path.join(OUT, `cpp-quick-fix-${done}-${attempt}.png`) });
        if (attempt === 2) throw new Error(`the quick fix did not apply (${done})`);
        await page.keyboard.press('Escape');
        await page.click('.notifications-toasts .codicon-notifications-clear', { timeout: 2000 }).catch(() => {});
      }
      await page.keyboard.press('Control+S');
      const fixed = () => /for \(long v : items\) \{[\s\S]*?\(void\)total;\n    Py_RETURN_NONE;\n\}/.test(fs.readFileSync(CXX, 'utf8'));
      for (let i = 0; i < 100 && !fixed(); i++) await page.waitForTimeout(100);
      if (!fixed()) throw new Error('module.cpp on disk was not fixed');
      if (!/return Py_True;/.test(fs.readFileSync(CXX, 'utf8'))) throw new Error('the other method was changed too');
      // The squiggle leaves the fixed line; the one on cxx_is_ready stays.
      await squiggleOnLine(page, 'return Py_True;', 10000);
      // Cursor on Py_RETURN_NONE (inside the namespace): cpyref's grammar is injected into C++.
      await page.keyboard.press('Home');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('Inspect Editor Tokens and Scopes');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Inspect Editor Tokens")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.token-inspect-widget:has-text("keyword.control.return.refcount.cpyref")', { timeout: 15000 });
      await page.screenshot({ path: path.join(OUT, 'cpp-scopes.png') });
      await page.keyboard.press('Escape');
    });
    await step('Scan Workspace fills the Problems panel, closed files included', async () => {
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('cpyref: Scan Workspace');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Scan Workspace")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      // framecache.c 4 (one fixed above), framecache.h 1, module.cpp 1 (one fixed above), counter.h 1.
      const toast = await page.waitForSelector('.notifications-toasts:has-text("problems in")', { timeout: 60000 });
      if (!/7 problems in 4 of 4 files/.test(await toast.textContent())) throw new Error(`unexpected scan summary: ${await toast.textContent()}`);
      await page.keyboard.press('Control+Shift+M');
      // Collapse the file groups so that every file with problems is visible, the header among them.
      await page.click('.markers-panel-container .codicon-collapse-all, .panel .codicon-collapse-all', { timeout: 5000 }).catch(() => {});
      await page.waitForSelector('.markers-panel .monaco-list-row:has-text("framecache.h")', { timeout: 30000 });
      // The C++ files: module.cpp (open, one problem left) and counter.h (closed, read as C++).
      await page.waitForSelector('.markers-panel .monaco-list-row:has-text("module.cpp")', { timeout: 10000 });
      await page.waitForSelector('.markers-panel .monaco-list-row:has-text("counter.h")', { timeout: 10000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(OUT, 'problems.png') });
    });
    await step('Fix All in Workspace: the preview lists each fix ticked, and one click on Apply applies them', async () => {
      const header = path.join(WS, 'framecache', 'framecache.h');
      const headerBefore = fs.readFileSync(header, 'utf8');
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('cpyref: Fix All in Workspace');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Fix All in Workspace")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      // The example has an unsafe fix (for review), so the Refactor Preview opens.
      const pane = '.bulk-edit-panel';
      await page.waitForSelector(`${pane} .monaco-list-row:has-text("Py_RETURN_NONE")`, { timeout: 60000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(OUT, 'fix-all-preview.png') });
      // Grouped by type, each fix shows its label: the rule and the function.
      await page.click('[aria-label="Group Changes By Type"]', { timeout: 5000 });
      await page.waitForSelector(`${pane} .monaco-list-row:has-text("borrowed-singleton-return in cache_put")`, { timeout: 10000 });
      await page.waitForSelector(`${pane} .monaco-list-row:has-text("Review: borrowed-singleton-return in cache_get")`, { timeout: 5000 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(OUT, 'fix-all-preview-by-type.png') });
      await page.click(`${pane} .monaco-button:has-text("Apply")`);
      await page.waitForSelector(pane, { state: 'hidden', timeout: 15000 }).catch(() => {});
      // Save everything the edit touched, then read the files on disk.
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('File: Save All Files');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Save All Files")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      const file = () => fs.readFileSync(FILE, 'utf8');
      // Wait for the same text that is checked: a looser wait (any Py_RETURN_NONE after cache_put)
      // was already met by the quick fix of an earlier step, and the check then raced the save.
      const putFixed = () => /cache_put\([^)]*\)\s*\{[^}]*?Py_RETURN_NONE;\s*\}/.test(file());
      for (let i = 0; i < 150 && !putFixed(); i++) await page.waitForTimeout(100);
      if (!putFixed()) throw new Error('cache_put was not fixed on disk');
      if (/result = Py_None;\s*\n\s*Py_INCREF/.test(file()) || !/result = Py_None;/.test(file())) throw new Error('the unticked unsafe fix of cache_get was applied');
      for (let i = 0; i < 50 && fs.readFileSync(header, 'utf8') === headerBefore; i++) await page.waitForTimeout(100);
      if (fs.readFileSync(header, 'utf8') === headerBefore) throw new Error('the closed header was not fixed');
      // The C++ files too: the open module (saved above) and the closed header.
      const cxxFixed = () => /Py_XDECREF\(probe\);\s*Py_RETURN_TRUE;/.test(fs.readFileSync(CXX, 'utf8')) && /\{\s*Py_RETURN_FALSE;\s*\}/.test(fs.readFileSync(CXX_H, 'utf8'));
      for (let i = 0; i < 50 && !cxxFixed(); i++) await page.waitForTimeout(100);
      if (!cxxFixed()) throw new Error('the C++ module or its header was not fixed');
      // What is left is the one unsafe fix (cache_get), and the macro's use (cache_clear) now fixed at its definition.
      await page.keyboard.press('Control+Shift+M');
      // The Problems panel then lists one file with one problem: cache_get's.
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('.markers-panel .monaco-list-row')].map((r) => r.textContent);
        return rows.length === 2 && rows.some((t) => t.includes('cache_get'));
      }, null, { timeout: 15000 }).catch(async () => {
        const rows = await page.$$eval('.markers-panel .monaco-list-row', (rs) => rs.map((r) => r.textContent));
        throw new Error(`the Problems panel should list cache_get's problem alone, it lists: ${JSON.stringify(rows)}`);
      });
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(OUT, 'fix-all-applied.png') });
    });
  } catch {
    // reported per step
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  const passed = steps.filter(([, ok]) => ok).length;
  const failed = steps.length - passed + (steps.length < STEPS ? STEPS - steps.length : 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
