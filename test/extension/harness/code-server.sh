# Sourced by host-test.sh and ui-check.sh: starts code-server on a free loopback port, in its
# own process group (its file watcher and extension host outlive a plain kill), with the
# profile, extensions and XDG folders inside $RUN; stops the whole group on exit.
#   start_code_server EXTRA_FLAGS...   sets CS_URL (and CS_PID), waits until it is healthy
start_code_server() {
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  XDG_CONFIG_HOME="$RUN/xdg" XDG_DATA_HOME="$RUN/xdg" XDG_RUNTIME_DIR="$RUN/xdg" setsid "$TOOLS/node_modules/.bin/code-server" \
    --auth none --bind-addr "127.0.0.1:$port" \
    --user-data-dir "$RUN/ud" --extensions-dir "$RUN/exts" \
    --disable-telemetry --disable-update-check \
    --disable-getting-started-override --ignore-last-opened "$@" > "$RUN/code-server.log" 2>&1 &
  CS_PID=$!
  trap stop_code_server EXIT
  CS_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do curl -fs -o /dev/null "$CS_URL/healthz" && break; sleep 0.2; done
  curl -fs -o /dev/null "$CS_URL/healthz" || { cat "$RUN/code-server.log"; exit 1; }
}

stop_code_server() {
  local pgid; pgid=$(ps -o pgid= -p "$CS_PID" 2>/dev/null | tr -d ' ' || true)
  if [ -n "$pgid" ]; then
    kill -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -rf "$RUN/ud" "$RUN/exts" "$RUN/xdg" "$RUN/workspace" "$RUN/code-server.log"
  rmdir "$RUN" 2>/dev/null || true
}
