#!/usr/bin/env bash
# The peer table: what one viewer costs in rtcbench (a light viewer on its own path and on str0m,
# a probe), in aiortc and in Chromium,
# on the same stream from the same SFU, each client pinned to the same core.
#
#   scripts/peer-bench.sh [VIEWERS] [SECONDS]      (default 20 viewers, 15 s each)
#
# The reference SFU and the publisher (rtcbench, 640x360 / 500 kbps + Opus) share the last core;
# each client in turn runs VIEWERS viewers on core 0 under /usr/bin/time, which counts the CPU of
# the client and of every process it waited for (node and Chromium's processes for the browser).
# Each figure includes its client's start-up and fixed cost, spread over the viewers: compare
# runs with the same VIEWERS. A non-zero exit is shown (rtcbench exits 3 when it saturated).
# Needs: a release build (made here), python3-venv (aiortc from PyPI in target/tmp/aiortc-venv),
# node, chromium and `npm ci --prefix sidecar/browser` for the browser row (skipped without them).
set -euo pipefail
cd "$(dirname "$0")/.."

viewers=${1:-20}
seconds=${2:-15}
cores=$(nproc)
[ "$cores" -ge 2 ] || { echo "peer-bench needs 2 cores: clients on one, SFU and publisher on another" >&2; exit 2; }
server_core=$((cores - 1))
bin=target/release/rtcbench
cargo build --release --quiet

venv=target/tmp/aiortc-venv
if ! "$venv/bin/python" -c 'import aiortc, aiohttp' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tests/interop/requirements.txt
fi

work=$(mktemp -d /tmp/rtcbench-peer-bench-XXXXXX)
port=18190
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cat > "$work/provider.toml" <<EOF
name = "peer-bench"
kind = "whip-whep"
whip_url = "http://127.0.0.1:$port/whip/{room}"
whep_url = "http://127.0.0.1:$port/whep/{room}"
EOF
cat "$work/provider.toml" > "$work/browser.toml"
cat >> "$work/browser.toml" <<EOF
[sidecar]
command = ["node", "sidecar/browser/sidecar.js"]
page = "whip-whep"
every = 1
EOF

# The stream: one rtcbench host for the whole bench (one viewer of its own keeps the room up).
scenario() { # NAME DURATION PUBLISHER RECEIVERS PROBES [VIEWER_CLIENT]
  cat <<EOF
name = "$1"
duration = "$2"
seed = 7
transport = "webrtc"
viewer_client = "${6:-full}"
[video]
width = 640
height = 360
bitrate = "500kbps"
[[group]]
name = "room"
room = "peer-bench"
publisher = "$3"
receivers = $4
probes = $5
stagger = "20ms"
EOF
}
total=$(( (seconds + 20) * 5 + 20 ))
scenario peer-bench-host "${total}s" rtcbench 1 0 > "$work/host.toml"
scenario peer-bench-light "${seconds}s" external "$viewers" 0 > "$work/light.toml"
scenario peer-bench-own "${seconds}s" external "$viewers" 0 light > "$work/own.toml"
scenario peer-bench-probes "${seconds}s" external "$viewers" "$viewers" > "$work/probes.toml"

taskset -c "$server_core" "$bin" serve-reference --listen "127.0.0.1:$port" --rtmp-port 0 \
  > "$work/sfu.log" 2>&1 &
pids+=($!)
sleep 1
taskset -c "$server_core" "$bin" run "$work/host.toml" --provider "$work/provider.toml" \
  --out "$work/host" > "$work/host.log" 2>&1 &
pids+=($!)
sleep 4

results=()
measure() { # NAME COMMAND...
  local name=$1 status=0 user sys; shift
  echo "running $name: $viewers viewers for ${seconds}s ..." >&2
  /usr/bin/time -f "%U %S" -o "$work/$name.time" taskset -c 0 "$@" > "$work/$name.log" 2>&1 || status=$?
  # A run that ends non-zero (a saturation warning, a failed session) still used what it used.
  read -r user sys < <(tail -n 1 "$work/$name.time")
  results+=("$name $(echo "$user + $sys" | bc) $status $(frame_rate "$name")")
}
# Frames per second each viewer showed: a client that keeps up shows the stream's 30; one that
# is cheap because it drops frames shows it here.
frame_rate() { # NAME
  local log="$work/$1.log" frames
  if [ "$1" = aiortc ]; then
    frames=$(grep -oE '"video_frames": [0-9]+' "$log" | grep -oE '[0-9]+$')
    [ -n "$frames" ] && echo "scale=1; $frames / ($viewers * $seconds)" | bc || echo "-"
  else
    grep -oE 'fps [0-9.]+' "$log" | head -n 1 | cut -d' ' -f2 | grep . || echo "-"
  fi
}
measure light-own-path "$bin" run "$work/own.toml" --provider "$work/provider.toml" --out "$work/own"
measure light-on-str0m "$bin" run "$work/light.toml" --provider "$work/provider.toml" --out "$work/light"
measure rtcbench-probe "$bin" run "$work/probes.toml" --provider "$work/provider.toml" --out "$work/probes"
measure aiortc "$venv/bin/python" tests/interop/aiortc_view.py \
  --whep "http://127.0.0.1:$port/whep/peer-bench" --viewers "$viewers" --seconds "$seconds"
if command -v chromium >/dev/null && command -v node >/dev/null && [ -d sidecar/browser/node_modules ]; then
  measure chromium "$bin" run "$work/light.toml" --provider "$work/browser.toml" --out "$work/browser"
else
  results+=("chromium skipped")
fi

echo
echo "$viewers viewers each, ${seconds} s, 640x360 / 500 kbps + Opus, client on core 0 (work files: $work)"
printf '%-16s %10s %22s %10s %8s %6s\n' client CPU-s "CPU ms per viewer-s" "x first" fps exit
light=""
for row in "${results[@]}"; do
  set -- $row
  if [ "$2" = skipped ]; then
    printf '%-16s %10s\n' "$1" "$2"
    continue
  fi
  per=$(echo "scale=2; $2 * 1000 / ($viewers * $seconds)" | bc)
  [ -n "$light" ] || light=$per
  printf '%-16s %10s %22s %10s %8s %6s\n' "$1" "$2" "$per" "$(echo "scale=1; $per / $light" | bc)" "$4" "$3"
done
