/**
 * `npm run bench:lsp -- [FILE] [--edits N] [--all-rules] [--no-compare]`
 * `npm run bench:lsp -- --workspace [N]`
 *
 * Edit mode: starts `cpyref-lsp --stdio` as an editor would (its own process, a client on its
 * standard streams), opens FILE (default: numpy's multiarraymodule.c under
 * bench/real-world/src), replays bench:edit's edits as incremental `didChange` notifications,
 * one at a time, and times each from the notification to the `publishDiagnostics` of that
 * version. Then replays the same edits in process as bench:edit does, in the same run, for the
 * ratio, and on the server's own engine (LiveAnalyzer) without the protocol. Prints, last, one
 * JSON line: {file, edits, ruleSet, p50Ms, p90Ms, serverPeakRssMb, engineAlone, benchEdit,
 * ratioP90ToBenchEdit, ...}. `--all-rules` turns every rule on (the client's settings give the rules
 * that are off by default a level; bench:edit selects them).
 *
 * Workspace mode: generates N small C files (default 10,000; every fifth with a finding) in a
 * temporary folder, starts the server on it, waits for its project index, sends one
 * `workspace/diagnostic` with a partial-result token and a work-done token, and reports how
 * many partial batches streamed, the reports and findings received, the time, and the server's
 * peak RSS (VmHWM of its /proc status). Prints one JSON line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter, type ProtocolConnection, type PublishDiagnosticsParams } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { applyEditorOverrides } from '../src/core/editor';
import { LiveAnalyzer } from '../src/core/live';
import { defaultOptions } from '../src/core/options';
import { CParser } from '../src/core/parser';
import { RULES } from '../src/core/rules/index';
import { decodeSource } from '../src/core/text';
import { editSequence, measure } from './bench-edit';

const ROOT = path.resolve(__dirname, '../..');
const SERVER = path.join(ROOT, 'bin', 'cpyref-lsp.js');
const DEFAULT_FILE = path.join(ROOT, 'bench', 'real-world', 'src', 'numpy', 'numpy', '_core', 'src', 'multiarray', 'multiarraymodule.c');
/** The budgets. */
const P90_TARGET_MS = 25;
const RSS_LIMIT_MB = 400;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** The peak resident set of a process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

interface Server {
  proc: ChildProcess;
  conn: ProtocolConnection;
  logs: string[];
  onLog: Array<() => void>;
}

async function startServer(root: string, capabilities: object, settings: unknown): Promise<Server> {
  const proc = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  const server: Server = { proc, conn, logs: [], onLog: [] };
  conn.onNotification('window/logMessage', (p: { message: string }) => {
    server.logs.push(p.message);
    for (const f of server.onLog.splice(0)) f();
  });
  conn.onRequest('workspace/configuration', (p: { items: unknown[] }) => p.items.map(() => settings));
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('client/registerCapability', () => null);
  conn.onRequest('workspace/diagnostic/refresh', () => null);
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(root).href,
    workspaceFolders: [{ uri: pathToFileURL(root).href, name: path.basename(root) }],
    capabilities: { ...capabilities, window: { workDoneProgress: true } },
  });
  await conn.sendNotification('initialized', {});
  return server;
}

/** Waits for a log line of the server matching `re` (its trace is on). */
function logged(server: Server, re: RegExp, ms = 600_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no log line matching ${re}`)), ms);
    const check = () => {
      if (server.logs.some((l) => re.test(l))) {
        clearTimeout(timer);
        resolve();
      } else server.onLog.push(check);
    };
    check();
  });
}

async function stopServer(server: Server): Promise<number | null> {
  const exited = new Promise<number | null>((r) => server.proc.on('exit', (c) => r(c)));
  await server.conn.sendRequest('shutdown');
  await server.conn.sendNotification('exit');
  const code = await exited;
  server.conn.dispose();
  return code;
}

/** Every rule on: the client's settings give the rules that are off by default a level. */
function allRulesSettings(): Record<string, unknown> {
  return { rules: Object.fromEntries(RULES.filter((r) => r.offByDefault).map((r) => [r.id, 'warning'])) };
}

async function editMode(file: string, n: number, allRules: boolean, compare: boolean): Promise<void> {
  const original = decodeSource(fs.readFileSync(file)).text;
  const uri = pathToFileURL(file).href;
  const settings = { ...(allRules ? allRulesSettings() : {}), trace: 'messages' };
  const server = await startServer(path.dirname(file), { textDocument: { publishDiagnostics: { versionSupport: true } }, workspace: { configuration: true } }, settings);
  // The project index of the file's folder first, as an editor that has been open a moment has it.
  await logged(server, /^\[index\] indexed/);
  const published = new Map<number, PublishDiagnosticsParams>();
  let waiting: { version: number; resolve: (t: number) => void } | undefined;
  server.conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
    if (p.uri !== uri || p.version === undefined) return;
    published.set(p.version, p);
    if (waiting && p.version === waiting.version) {
      const w = waiting;
      waiting = undefined;
      w.resolve(performance.now());
    }
  });
  const publishedAt = (version: number) =>
    new Promise<number>((resolve) => {
      if (published.has(version)) resolve(performance.now());
      else waiting = { version, resolve };
    });

  let doc = TextDocument.create(uri, 'c', 1, original);
  let t = performance.now();
  await server.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version: 1, text: original } });
  const openMs = (await publishedAt(1)) - t;
  const times: number[] = [];
  let version = 1;
  for (const { at, insert } of editSequence(original, n)) {
    const pos = doc.positionAt(at);
    const change = { range: { start: pos, end: pos }, text: insert };
    version++;
    doc = TextDocument.update(doc, [change], version);
    t = performance.now();
    const done = publishedAt(version);
    await server.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [change] });
    times.push((await done) - t);
  }
  const last = published.get(version)!;
  const serverRss = peakRssMb(server.proc.pid!);
  await stopServer(server);

  const result: Record<string, unknown> = {
    file: path.relative(process.cwd(), file),
    edits: n,
    ruleSet: allRules ? 'all' : 'default',
    p50Ms: Number(percentile(times, 50).toFixed(2)),
    p90Ms: Number(percentile(times, 90).toFixed(2)),
    openMs: Number(openMs.toFixed(1)),
    diagnosticsAfterLastEdit: last.diagnostics.length,
    serverPeakRssMb: serverRss,
    targetP90Ms: P90_TARGET_MS,
  };
  if (compare) {
    const rssBefore = process.memoryUsage().rss;
    const parser = await CParser.load();
    // The server's engine without the protocol: the same LiveAnalyzer, settings and header
    // reads (kept between edits, as the server keeps them), in this process.
    const engine = engineAlone(parser, file, original, n, allRules);
    result.engineAlone = { ...engine, rssGrowthMb: Math.round((process.memoryUsage().rss - rssBefore) / (1024 * 1024)) };
    result.protocolOverheadP50Ms = Number(((result.p50Ms as number) - engine.p50Ms).toFixed(2));
    // bench:edit's replay of the same edits (DocumentSession, and the file re-indexed after every edit).
    const inProcess = JSON.parse(await measure(parser, file, n, allRules ? new Set(RULES.map((r) => r.id)) : undefined)) as { p50Ms: number; p90Ms: number; fullParseMs: number };
    result.benchEdit = { p50Ms: inProcess.p50Ms, p90Ms: inProcess.p90Ms, fullParseMs: inProcess.fullParseMs };
    result.ratioP90ToBenchEdit = Number(((result.p90Ms as number) / inProcess.p90Ms).toFixed(2));
  }
  result.meetsTarget = (result.p90Ms as number) <= P90_TARGET_MS;
  console.log(JSON.stringify(result));
}

/** The edits replayed on the server's engine in this process: what the protocol adds is the difference. */
function engineAlone(parser: CParser, file: string, original: string, n: number, allRules: boolean): { p50Ms: number; p90Ms: number } {
  const options = applyEditorOverrides(defaultOptions(), allRules ? allRulesSettings() : {});
  const headers = new Map<string, string | undefined>();
  const readInclude = (from: string, name: string) => {
    const abs = path.resolve(path.dirname(from), name);
    if (!headers.has(abs)) {
      let text: string | undefined;
      try {
        text = fs.statSync(abs).isFile() ? decodeSource(fs.readFileSync(abs)).text : undefined;
      } catch {
        text = undefined;
      }
      headers.set(abs, text);
    }
    const text = headers.get(abs);
    return text === undefined ? undefined : { path: abs, text };
  };
  const analyzer = new LiveAnalyzer();
  let text = original;
  let version = 1;
  const settings = { options, limitedApi: false };
  analyzer.analyze(parser, { key: file, path: file, text, version }, 'fresh', settings, readInclude);
  const times: number[] = [];
  for (const { at, insert } of editSequence(original, n)) {
    text = text.slice(0, at) + insert + text.slice(at);
    const t = performance.now();
    analyzer.analyze(parser, { key: file, path: file, text, version: ++version }, 'incremental', settings, readInclude);
    times.push(performance.now() - t);
  }
  analyzer.dispose();
  return { p50Ms: Number(percentile(times, 50).toFixed(2)), p90Ms: Number(percentile(times, 90).toFixed(2)) };
}

async function workspaceMode(files: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpyref-bench-lsp-'));
  try {
    let expected = 0;
    for (let i = 0; i < files; i++) {
      const folder = path.join(dir, `pkg${Math.floor(i / 200)}`);
      if (i % 200 === 0) fs.mkdirSync(folder);
      const bad = i % 5 === 0;
      if (bad) expected++;
      fs.writeFileSync(
        path.join(folder, `mod${i}.c`),
        `#include <Python.h>\n\n/* module ${i} */\nstatic PyObject *\nmod${i}_get(PyObject *self, PyObject *args)\n{\n    if (!PyArg_ParseTuple(args, ""))\n        return NULL;\n    ${bad ? 'return Py_None;' : 'Py_RETURN_NONE;'}\n}\n\nstatic PyObject *\nmod${i}_count(PyObject *self, PyObject *args)\n{\n    return PyLong_FromLong(${i});\n}\n\nstatic PyMethodDef mod${i}_methods[] = {\n    {"get", mod${i}_get, METH_VARARGS, NULL},\n    {"count", mod${i}_count, METH_VARARGS, NULL},\n    {NULL, NULL, 0, NULL},\n};\n`,
      );
    }
    const server = await startServer(dir, { textDocument: { diagnostic: {} }, workspace: { configuration: true } }, { trace: 'messages' });
    const started = performance.now();
    await logged(server, /^\[index\] indexed/);
    const indexMs = performance.now() - started;
    let batches = 0;
    let reports = 0;
    let withFindings = 0;
    let firstBatchMs = 0;
    const workDone: string[] = [];
    const t = performance.now();
    server.conn.onNotification('$/progress', (p: { token: string; value: { kind?: string; items?: Array<{ items?: unknown[] }> } }) => {
      if (p.token === 'partial') {
        if (!batches) firstBatchMs = performance.now() - t;
        batches++;
        for (const r of p.value.items ?? []) {
          reports++;
          if (r.items?.length) withFindings++;
        }
      } else if (p.token === 'work' && p.value.kind) workDone.push(p.value.kind);
    });
    const final = (await server.conn.sendRequest('workspace/diagnostic', { previousResultIds: [], partialResultToken: 'partial', workDoneToken: 'work' })) as { items: unknown[] };
    const ms = performance.now() - t;
    const rss = peakRssMb(server.proc.pid!);
    await stopServer(server);
    console.log(
      JSON.stringify({
        files,
        indexMs: Math.round(indexMs),
        workspaceDiagnosticMs: Math.round(ms),
        firstPartialBatchMs: Math.round(firstBatchMs),
        partialBatches: batches,
        reports: reports + final.items.length,
        filesWithFindings: withFindings,
        expectedFilesWithFindings: expected,
        workDoneReports: workDone.filter((k) => k === 'report').length,
        serverPeakRssMb: rss,
        rssLimitMb: RSS_LIMIT_MB,
        meetsLimit: rss < RSS_LIMIT_MB && batches > 1 && withFindings === expected,
      }),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const ws = argv.indexOf('--workspace');
  if (ws >= 0) {
    const n = Number(argv[ws + 1]);
    await workspaceMode(Number.isInteger(n) && n > 0 ? n : 10_000);
    return;
  }
  const n = Number(argv[argv.indexOf('--edits') + 1]) || 200;
  const files = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--edits');
  const file = files[0] ?? DEFAULT_FILE;
  if (!fs.existsSync(file)) throw new Error(`${file} not found (bench/real-world/fetch.sh fetches numpy); usage: npm run bench:lsp -- [FILE] [--edits N] [--all-rules] | --workspace [N]`);
  await editMode(file, n, argv.includes('--all-rules'), !argv.includes('--no-compare'));
}

run().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exitCode = 2;
});
