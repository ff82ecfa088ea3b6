#!/usr/bin/env bash
# The npm package as a user installs it: `npm pack` (prepack empties out/, prepare compiles),
# `npm install -g --prefix EMPTY ./cpyref-X.tgz` (the runtime dependencies come from the registry
# or the npm cache), then PREFIX/bin/cpyref --version and a scan of a copy of examples/ (exit
# code 1, the example's six findings), with no dev dependency installed.
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
done
