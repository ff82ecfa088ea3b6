import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/**
 * Runs npm with the environment of a fresh shell: the npm_* variables that an outer `npm test`
 * exports (its user agent, prefixes, nodedir, ...) are left out, so the inner npm reads its own
 * configuration. The outer npm's cache is kept, so offline installs find what `npm ci` fetched.
 */
export function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  const cache = process.env.npm_config_cache;
  const all = cache ? [...args, '--cache', cache] : args;
  // Under npm, npm_execpath is the npm that runs the tests; else the npm on PATH.
  const execpath = process.env.npm_execpath;
  return execpath && /npm-cli\.js$/.test(execpath)
    ? spawnSync(process.execPath, [execpath, ...all], { cwd, env, encoding: 'utf8' })
    : spawnSync('npm', all, { cwd, env, encoding: 'utf8', shell: process.platform === 'win32' });
}
