#!/usr/bin/env bash
# medooze-media-server (npm; its C++ core builds with node-gyp, a few minutes on 2 cores) behind
# the WHIP/WHEP front in scripts/medooze/front.js, on 127.0.0.1.
#   scripts/medooze-local.sh install  npm ci in scripts/medooze (skipped when already built)
#   scripts/medooze-local.sh up       install, then start the front (http://127.0.0.1:8089)
#   scripts/medooze-local.sh down     stop it
# Needs node, npm, g++, make and python3 (node-gyp).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)/medooze"
DIR=${MEDOOZE_DIR:-/tmp/rtcbench-medooze}
PORT=${MEDOOZE_PORT:-8089}
ADDON="$HERE/node_modules/medooze-media-server/build/Release/medooze-media-server.node"

install() {
  if [ -f "$ADDON" ]; then return; fi
  echo "medooze: building medooze-media-server (node-gyp)..."
  # node-gyp runs make on one core unless told otherwise.
  JOBS=max npm_config_jobs=max npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error
}

down() {
  if [ -f "$DIR/pid" ]; then kill "$(cat "$DIR/pid")" 2>/dev/null || true; fi
  rm -rf "$DIR"
}

up() {
  install
  down
  mkdir -p "$DIR"
  MEDOOZE_PORT="$PORT" nohup node "$HERE/front.js" >"$DIR/log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 1 100); do
    if grep -q "medooze front:" "$DIR/log" 2>/dev/null; then
      cat "$DIR/log"
      return
    fi
    if ! kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "medooze did not start:" >&2
  cat "$DIR/log" >&2
  exit 1
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  *) echo "usage: $0 install|up|down" >&2; exit 2 ;;
esac
