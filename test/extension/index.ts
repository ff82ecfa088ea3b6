// Entry the extension host loads (extensionTestsPath): runs the mocha suite in the host.
import * as path from 'node:path';
import Mocha = require('mocha');

/**
 * Runs every `*.host.js` file of this folder (or, when the harness opened the workspace in
 * Restricted Mode, every `*.untrusted.js`); prints a plain `N passed, N failed` line.
 */
export function run(): Promise<void> {
  // CPYREF_GREP (a regular expression) runs only the matching tests, when iterating on a few.
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 30000, grep: process.env.CPYREF_GREP || undefined });
  const suffix = process.env.CPYREF_SUITE === 'untrusted' ? '.untrusted.js' : '.host.js';
  for (const f of require('node:fs').readdirSync(__dirname) as string[]) if (f.endsWith(suffix)) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      console.log(`${runner.stats?.passes ?? 0} passed, ${failures} failed`);
      if (failures > 0) reject(new Error(`${failures} tests failed.`));
      else resolve();
    });
  });
}
