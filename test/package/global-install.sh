#!/usr/bin/env bash
# The npm package as a user installs it: `npm pack` (prepack empties out/, prepare compiles),
# `npm install -g --prefix EMPTY ./cpyref-X.tgz` (the runtime dependencies come from the registry
# or the npm cache), then PREFIX/bin/cpyref --version and a scan of a copy of examples/ (exit
# code 1, the example's six findings), with no dev dependency installed; PREFIX/bin/cpyref-lsp
# answers initialize, publishes the example's findings for an opened file, and exits 0 after
# shutdown and exit.
# CPYREF_TEST_NODES: more node binaries (colon-separated) to run the installed CLI with.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# Started through npm, npm's own variables would reach the npm below.
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\([Nn][Pp][Mm]_[A-Za-z0-9_]*\)=.*/\1/p')
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cd "$ROOT"
version="$(node -p "require('./package.json').version")"
# .npmrc (foreground-scripts=false) keeps npm pack's standard output to the tarball's name.
tgz="$(npm pack --pack-destination "$WORK" 2>/dev/null)"
[ "$tgz" = "cpyref-$version.tgz" ] || fail "npm pack printed '$tgz'"
tar -tzf "$WORK/$tgz" > "$WORK/files"
echo "$tgz: $(stat -c %s "$WORK/$tgz") bytes, $(wc -l < "$WORK/files") files"
grep -q '^package/out/src/cli/main.js$' "$WORK/files" || fail "the tarball has no compiled CLI"
! grep -Eq '^package/(test|src|bench|scripts|examples|data|dist|docs|out/test|out/scripts|out/src/extension)/' "$WORK/files" || fail "the tarball holds tests or sources"

PREFIX="$WORK/prefix"
mkdir "$PREFIX"
npm install -g --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$WORK/$tgz"
installed="$PREFIX/lib/node_modules/cpyref"
for dev in $(node -p "Object.keys(require('./package.json').devDependencies).join(' ')"); do
  [ ! -e "$installed/node_modules/$dev" ] && [ ! -e "$PREFIX/lib/node_modules/$dev" ] || fail "dev dependency $dev was installed"
done

cp -r examples "$WORK/work"
IFS=: read -r -a extra <<<"${CPYREF_TEST_NODES:-}"
for node in "$(command -v node)" "${extra[@]}"; do
  [ -n "$node" ] || continue
  [ -x "$node" ] || fail "no node at $node"
  bindir="$(dirname "$node")"
  got="$(PATH="$bindir:$PATH" "$PREFIX/bin/cpyref" --version)"
  [ "$got" = "cpyref $version" ] || fail "node $("$node" --version): --version printed '$got'"
  set +e
  (cd "$WORK/work" && PATH="$bindir:$PATH" "$PREFIX/bin/cpyref" . > "$WORK/out" 2> "$WORK/err")
  code=$?
  set -e
  [ "$code" = 1 ] || { cat "$WORK/err"; fail "node $("$node" --version): scanning the example exited $code, not 1"; }
  [ "$(grep -c ': error: ' "$WORK/out")" = 6 ] || { cat "$WORK/out"; fail "node $("$node" --version): not the example's six findings"; }
  grep -q '^framecache/framecache.c:22:5: error: `cache_close` returns borrowed `Py_None`; CPython expects a new reference' "$WORK/out" || fail "the first finding is missing"
  echo "node $("$node" --version): cpyref $version installed from $tgz scans the example (exit 1, 6 findings)"

  # The language server, driven over its standard streams by a client written here (framed JSON-RPC).
  PATH="$bindir:$PATH" "$node" - "$PREFIX/bin/cpyref-lsp" "$WORK/work" "$version" <<'JS' || fail "node $("$node" --version): cpyref-lsp"
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const [bin, work, version] = process.argv.slice(2);
const server = spawn(bin, ['--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const send = (m) => {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...m }));
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
};
let buf = Buffer.alloc(0);
const waiting = [];
const seen = [];
server.stdout.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())[1]);
    if (buf.length < end + 4 + len) return;
    seen.push(JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()));
    buf = buf.subarray(end + 4 + len);
    for (const w of waiting.splice(0)) w();
  }
});
const next = (pred) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no answer from cpyref-lsp')), 30000);
  const check = () => {
    const m = seen.find(pred);
    if (m) { clearTimeout(timer); resolve(m); } else waiting.push(check);
  };
  check();
});
const exited = new Promise((resolve) => server.on('exit', resolve));
(async () => {
  send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: pathToFileURL(work).href, capabilities: {} } });
  const init = await next((m) => m.id === 1);
  if (init.result.serverInfo.version !== version) throw new Error(`serverInfo ${JSON.stringify(init.result.serverInfo)}`);
  send({ method: 'initialized', params: {} });
  const file = path.join(work, 'framecache', 'framecache.c');
  const uri = pathToFileURL(file).href;
  send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'c', version: 1, text: fs.readFileSync(file, 'utf8') } } });
  const diags = await next((m) => m.method === 'textDocument/publishDiagnostics' && m.params.uri === uri && m.params.diagnostics.length);
  const d = diags.params.diagnostics.find((x) => x.range.start.line === 21);
  if (!d || d.code !== 'borrowed-singleton-return') throw new Error(`diagnostics ${JSON.stringify(diags.params.diagnostics)}`);
  send({ id: 2, method: 'shutdown' });
  await next((m) => m.id === 2);
  send({ method: 'exit' });
  const code = await exited;
  if (code !== 0) throw new Error(`exit code ${code}`);
  console.log(`cpyref-lsp ${version}: initialized, ${diags.params.diagnostics.length} diagnostics for framecache.c, exit 0`);
})().catch((e) => { console.error(e.message); server.kill(); process.exit(1); });
JS
done
