// Opens code-server's workbench in headless chromium with the `payload` query that makes the
// window an Extension Development Host running extensionTestsPath (a built VS Code honours it
// only when the server runs with enable-smoke-test-driver), and waits for the workbench to call
// window.codeAutomationExit(code). Test output arrives through window.codeAutomationLog.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');

const URL_BASE = process.env.CS_URL;
const EXT = path.resolve(process.env.EXT_DIR);
const TESTS = path.resolve(process.env.EXT_TESTS).replace(/\.js$/, '');
const WS = process.env.WS_DIR ? path.resolve(process.env.WS_DIR) : '';
const TIMEOUT = Number(process.env.TEST_TIMEOUT_MS || 300000);
const remote = (p) => `vscode-remote://${new URL(URL_BASE).host}${p}`;
// Workbench chatter that is not test output (offline gallery lookups, connection setup).
const QUIET = /ENOTFOUND|^\s+at |socket|connection token|grace time|builtin extensions cache|Service Worker|AgentHost|AccountPolicyGate/;

(async () => {
  const q = new URLSearchParams();
  if (WS) q.set('folder', WS);
  q.set('payload', JSON.stringify([['extensionDevelopmentPath', remote(EXT)], ['extensionTestsPath', remote(TESTS)]]));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  let done;
  const exited = new Promise((r) => {
    done = r;
  });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = util.format(...(Array.isArray(args) ? args : [args]));
    if (!QUIET.test(line)) (type === 'error' ? console.error : console.log)(line);
  });
  await page.exposeFunction('codeAutomationExit', (code) => done(code));
  page.on('pageerror', (e) => console.error('[pageerror] ' + e.message));
  await page.goto(`${URL_BASE}/?${q}`);
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), TIMEOUT))]);
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  if (code === 'timeout') {
    console.error(`extension tests did not finish in ${TIMEOUT} ms`);
    process.exit(124);
  }
  console.log(`extension host exited with code ${code}`);
  process.exit(code === 0 ? 0 : 1);
})();
