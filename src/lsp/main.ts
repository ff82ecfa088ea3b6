import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { CpyrefServer, VERSION } from './server';

const HELP = `Usage: cpyref-lsp [--stdio]

The cpyref language server (LSP 3.17): cpyref's findings, quick fixes, fix-all and
ownership hovers for any editor with a language client. It speaks over standard input
and output (the default; --stdio is accepted, as clients pass it).

Options:
  --stdio                 talk over standard input and output (the default)
  --clientProcessId=PID   exit when process PID exits (also taken from initialize)
  --version               print the version
  --help                  print this help
`;

/** Runs the server on the process's standard streams; returns when the arguments ask for no server. */
export function main(argv: string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`cpyref-lsp ${VERSION}\n`);
    return;
  }
  // vscode-languageserver reads the transport from the arguments: standard I/O unless told otherwise.
  // (With --stdio it also sends console output to the client's log instead of standard output.)
  if (!argv.some((a) => /^--(stdio|node-ipc|socket|pipe)\b/.test(a))) process.argv.push('--stdio');
  const connection = createConnection(ProposedFeatures.all);
  // One bad document or request must never stop the server: what escapes is logged.
  process.on('uncaughtException', (e) => connection.console.error(`[error] ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => connection.console.error(`[error] ${(e as Error)?.stack ?? String(e)}`));
  new CpyrefServer(connection).start();
  connection.listen();
}
