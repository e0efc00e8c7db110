#!/usr/bin/env bash
# Janus (Debian's janus package) in a network namespace of its own, reached over a veth pair:
# Janus offers no loopback ICE candidates, so clients on this host reach it at 10.99.0.2.
#   scripts/janus-local.sh up     start it (HTTP API at http://10.99.0.2:8088/janus)
#   scripts/janus-local.sh down   stop it and remove the namespace
#   scripts/janus-local.sh crash  kill Janus (SIGKILL), keeping the namespace, as a crash would
#   scripts/janus-local.sh start  start Janus again in the namespace left by `crash`
# Needs root, iproute2 and janus.
set -euo pipefail
NS=rtcbench-janus
DIR=${JANUS_DIR:-/tmp/rtcbench-janus}
HOST_IP=10.99.0.1
JANUS_IP=10.99.0.2
LIB=/usr/lib/x86_64-linux-gnu/janus

down() {
  if [ -f "$DIR/pid" ]; then kill "$(cat "$DIR/pid")" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  ip link del rtcbj-h 2>/dev/null || true
  rm -rf "$DIR"
}

up() {
  down
  mkdir -p "$DIR/conf" "$DIR/plugins" "$DIR/transports"
  ln -s "$LIB/plugins/libjanus_videoroom.so" "$DIR/plugins/"
  ln -s "$LIB/transports/libjanus_http.so" "$DIR/transports/"
  cat > "$DIR/conf/janus.jcfg" <<CFG
general: {
  configs_folder = "$DIR/conf"
  plugins_folder = "$DIR/plugins"
  transports_folder = "$DIR/transports"
  events_folder = "$DIR/none"
  loggers_folder = "$DIR/none"
  debug_level = 4
}
media: {
  rtp_port_range = "20000-20999"
}
CFG
  cat > "$DIR/conf/janus.transport.http.jcfg" <<CFG
general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = 8088
  ip = "$JANUS_IP"
  https = false
}
admin: {
  admin_http = false
}
CFG
  echo 'general: {}' > "$DIR/conf/janus.plugin.videoroom.jcfg"
  ip netns add "$NS"
  ip link add rtcbj-h type veth peer name rtcbj-c netns "$NS"
  ip addr add "$HOST_IP/24" dev rtcbj-h
  ip link set rtcbj-h up
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip addr add "$JANUS_IP/24" dev rtcbj-c
  ip netns exec "$NS" ip link set rtcbj-c up
  start
}

crash() {
  kill -9 "$(cat "$DIR/pid")"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/$JANUS_IP/8088") 2>/dev/null || break; sleep 0.05; done
  echo "janus killed"
}

start() {
  ip netns exec "$NS" janus -F "$DIR/conf" -C "$DIR/conf/janus.jcfg" >> "$DIR/janus.log" 2>&1 &
  echo $! > "$DIR/pid"
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/$JANUS_IP/8088") 2>/dev/null; then
      echo "janus up: http://$JANUS_IP:8088/janus"
      return 0
    fi
    sleep 0.1
  done
  echo "janus did not answer; its log: $DIR/janus.log" >&2
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  crash) crash ;;
  start) start ;;
  *) echo "usage: $0 up|down|crash|start" >&2; exit 2 ;;
esac
