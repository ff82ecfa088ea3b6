// Drives the real workbench: open the example, wait for cpyref's squiggle, apply the quick
// fix with Ctrl+., save, scan the workspace and look at the Problems panel. Screenshots of
// each step go to OUT_DIR. Prints `N passed, N failed`.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const URL_BASE = process.env.CS_URL;
const WS = process.env.WS_DIR;
const FILE = path.join(WS, 'framecache', 'framecache.c');
const OUT = process.env.OUT_DIR;
const T0 = Date.now();
const log = (m) => console.log(`[+${((Date.now() - T0) / 1000).toFixed(1)}s] ${m}`);

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
      await page.keyboard.press('Control+.');
      const item = await page.waitForSelector('.action-widget .monaco-list-row:has-text("Py_RETURN_NONE")', { timeout: 15000 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(OUT, 'quick-fix.png') });
      await item.click();
      await page.waitForSelector('.monaco-editor .view-line:has-text("Py_RETURN_NONE;  ")', { timeout: 1 }).catch(() => {});
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
    await step('Scan Workspace fills the Problems panel, closed files included', async () => {
      await page.keyboard.press('Control+Shift+P');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
      await page.keyboard.type('cpyref: Scan Workspace');
      await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Scan Workspace")', { timeout: 15000 });
      await page.keyboard.press('Enter');
      await page.waitForSelector('.notifications-toasts:has-text("problems in")', { timeout: 60000 });
      await page.keyboard.press('Control+Shift+M');
      // Collapse the file groups so that every file with problems is visible, the header among them.
      await page.click('.markers-panel-container .codicon-collapse-all, .panel .codicon-collapse-all', { timeout: 5000 }).catch(() => {});
      await page.waitForSelector('.markers-panel .monaco-list-row:has-text("framecache.h")', { timeout: 30000 });
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
      for (let i = 0; i < 100 && !/cache_put[\s\S]*?Py_RETURN_NONE;/.test(file()); i++) await page.waitForTimeout(100);
      if (!/cache_put\([^)]*\)\s*\{[\s\S]*?Py_RETURN_NONE;\s*\}/.test(file())) throw new Error('cache_put was not fixed on disk');
      if (/result = Py_None;\s*\n\s*Py_INCREF/.test(file()) || !/result = Py_None;/.test(file())) throw new Error('the unticked unsafe fix of cache_get was applied');
      for (let i = 0; i < 50 && fs.readFileSync(header, 'utf8') === headerBefore; i++) await page.waitForTimeout(100);
      if (fs.readFileSync(header, 'utf8') === headerBefore) throw new Error('the closed header was not fixed');
      // What is left is the one unsafe fix (cache_get), and the macro's use (cache_clear) now fixed at its definition.
      await page.keyboard.press('Control+Shift+M');
      await page.waitForSelector('.part.statusbar :text-matches("^\\s*1\\s*$")', { timeout: 15000 }).catch(() => {});
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
  const failed = steps.length - passed + (steps.length < 6 ? 6 - steps.length : 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
