// A small LSP client for the tests: starts the real `cpyref-lsp` process, talks to it over its
// standard streams with vscode-languageserver's own protocol connection, and records what the
// server sends (diagnostics, progress, log messages, requests to the client).
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ClientCapabilities,
  type InitializeResult,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver/node';
import { REPO } from '../helpers/engine';

export const SERVER_BIN = path.join(REPO, 'bin', 'cpyref-lsp.js');

export function uriOf(p: string): string {
  return pathToFileURL(p).href;
}

/** Capabilities of a client that takes pushed diagnostics, resolves code actions' edits and versioned edits. */
export const PUSH_CAPABILITIES: ClientCapabilities = {
  textDocument: {
    synchronization: { didSave: true },
    publishDiagnostics: { relatedInformation: true, versionSupport: true },
    codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'source', 'source.fixAll'] } }, dataSupport: true, resolveSupport: { properties: ['edit'] }, isPreferredSupport: true },
    hover: { contentFormat: ['markdown', 'plaintext'] },
  },
  workspace: { workspaceEdit: { documentChanges: true }, configuration: true, workspaceFolders: true, didChangeWatchedFiles: { dynamicRegistration: false } },
  window: { workDoneProgress: true },
};

/** The same, pulling diagnostics instead. */
export const PULL_CAPABILITIES: ClientCapabilities = {
  ...PUSH_CAPABILITIES,
  textDocument: { ...PUSH_CAPABILITIES.textDocument, diagnostic: { relatedDocumentSupport: false } },
  workspace: { ...PUSH_CAPABILITIES.workspace, diagnostics: { refreshSupport: true } },
};

export interface StartOptions {
  capabilities?: ClientCapabilities;
  /** Workspace folder (absolute path). */
  root?: string;
  /** What the client answers to `workspace/configuration` for section `cpyref` (per scope URI, or one value). */
  configuration?: (scopeUri: string | undefined) => unknown;
  processId?: number | null;
  initializationOptions?: unknown;
  args?: string[];
  /** The server's executable (default: node with this repository's bin/cpyref-lsp.js). */
  command?: string;
  env?: NodeJS.ProcessEnv;
}

/** A running server and the client side of its connection. */
export class TestClient {
  readonly diagnostics = new Map<string, PublishDiagnosticsParams[]>();
  readonly progress: Array<{ token: string | number; value: unknown }> = [];
  readonly logs: string[] = [];
  readonly configurationRequests: Array<{ scopeUri?: string; section?: string }> = [];
  refreshRequests = 0;
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];
  configuration: (scopeUri: string | undefined) => unknown;

  private constructor(
    readonly proc: ChildProcess,
    readonly conn: ProtocolConnection,
    opts: StartOptions,
  ) {
    this.configuration = opts.configuration ?? (() => ({}));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      const list = this.diagnostics.get(p.uri) ?? [];
      list.push(p);
      this.diagnostics.set(p.uri, list);
      this.changed();
    });
    conn.onNotification('$/progress', (p: { token: string | number; value: unknown }) => {
      this.progress.push(p);
      this.changed();
    });
    conn.onNotification('window/logMessage', (p: { message: string }) => {
      this.logs.push(p.message);
      this.changed();
    });
    conn.onRequest('workspace/configuration', (p: { items: Array<{ scopeUri?: string; section?: string }> }) => {
      this.configurationRequests.push(...p.items);
      return p.items.map((i) => (i.section === 'cpyref' ? this.configuration(i.scopeUri) : null));
    });
    conn.onRequest('workspace/diagnostic/refresh', () => {
      this.refreshRequests++;
      this.changed();
      return null;
    });
    conn.onRequest('window/workDoneProgress/create', () => null);
    conn.onRequest('client/registerCapability', () => null);
    conn.listen();
  }

  static async start(opts: StartOptions = {}): Promise<{ client: TestClient; init: InitializeResult }> {
    const args = opts.args ?? ['--stdio'];
    const proc = opts.command
      ? spawn(opts.command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env })
      : spawn(process.execPath, [SERVER_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env });
    const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const client = new TestClient(proc, conn, opts);
    const init = (await conn.sendRequest('initialize', {
      processId: opts.processId === undefined ? process.pid : opts.processId,
      rootUri: opts.root ? uriOf(opts.root) : null,
      workspaceFolders: opts.root ? [{ uri: uriOf(opts.root), name: path.basename(opts.root) }] : null,
      capabilities: opts.capabilities ?? PUSH_CAPABILITIES,
      initializationOptions: opts.initializationOptions,
    })) as InitializeResult;
    await conn.sendNotification('initialized', {});
    return { client, init };
  }

  private changed(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `pred` holds (checked whenever the server sends something), or fails after `ms`. */
  async waitFor<T>(what: string, pred: () => T | undefined | false, ms = 20000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}\nserver stderr:\n${this.stderr}\nlogs:\n${this.logs.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The latest diagnostics published for `uri` at `version` (waits for them). */
  publishedFor(uri: string, version: number, ms?: number): Promise<PublishDiagnosticsParams> {
    return this.waitFor(`diagnostics of ${uri} v${version}`, () => {
      const list = this.diagnostics.get(uri) ?? [];
      const at = list.filter((p) => p.version === version);
      return at[at.length - 1];
    }, ms);
  }

  open(uri: string, text: string, version = 1, languageId = 'c'): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, changes: unknown[]): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  /** Shuts the server down and waits for it to exit. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null) {
      try {
        await this.conn.sendRequest('shutdown');
        await this.conn.sendNotification('exit');
      } catch {
        this.proc.kill();
      }
    }
    const code = await this.exited;
    this.conn.dispose();
    return code;
  }
}
