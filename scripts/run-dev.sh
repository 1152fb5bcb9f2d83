#!/usr/bin/env bash
# `make run`: brings up the platform on its embedded default, `skynetd --dev`
# (127.0.0.1:8046, data in ./.skynet, with the dashboard, /metrics and its timer service's
# HTTP API on 127.0.0.1:8048), prints the dashboard's URL,
# starts the echo service (it registers itself), runs the echo client (it finds the service
# through the registry and calls it), shows `sky topology -region=us`, creates a timer
# through the HTTP API and shows its callback arriving at a small receiver, then keeps it
# all up until Ctrl-C, which stops everything gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"

for product in skynetd echo-service echo-client sky; do
    "$SWIFT" build -c release --product "$product"
done
BIN="$("$SWIFT" build -c release --show-bin-path)"

mkdir -p .skynet
PIDS=()
stop() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

# Starts "$@" in the background, its output in .skynet/NAME.out and .skynet/NAME.log, and
# waits (up to 10 s) for a line of its stdout matching PATTERN, which it prints from there on.
start() {
    local name="$1" pattern="$2"; shift 2
    "$@" > ".skynet/$name.out" 2> ".skynet/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        if grep -q -- "$pattern" ".skynet/$name.out" 2>/dev/null; then
            grep -m1 -o -- "$pattern.*" ".skynet/$name.out"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name did not start:" >&2
            tail -5 ".skynet/$name.out" ".skynet/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$name did not start within 10 s (output: .skynet/$name.out, .skynet/$name.log)" >&2
    exit 1
}

start skynetd "skynetd timer serving" "$BIN/skynetd" --dev
grep -m1 "skynetd dashboard" .skynet/skynetd.out
export SKYNET_COORDINATORS=127.0.0.1:8046
start echo-service "echo-service serving" "$BIN/echo-service"
"$BIN/echo-client"
echo '$ sky topology -region=us'
"$BIN/sky" topology -region=us

# A timer through the HTTP API, and its callback landing at a receiver (scripts/callback-receiver.py).
start receiver "receiver listening" python3 scripts/callback-receiver.py 8050
body='{"timeout": 1000, "data": "hello from a timer", "callback": {"transport": "http", "method": "post", "uri": "http://127.0.0.1:8050/demo"}}'
echo "\$ curl -i -X POST http://127.0.0.1:8048/timer -d '$body'"
curl -s -i -X POST http://127.0.0.1:8048/timer -d "$body"
echo
for _ in $(seq 100); do
    if grep -q "callback arrived" .skynet/receiver.out; then break; fi
    sleep 0.1
done
grep -m1 "callback arrived" .skynet/receiver.out || { echo "the timer's callback did not arrive within 10 s" >&2; exit 1; }

if [ -t 0 ] && [ -z "${CI:-}" ]; then
    echo "skynetd --dev, the echo service and the receiver are up (logs in .skynet/)."
    echo "Dashboard: http://127.0.0.1:8048/ (metrics: /metrics, timers: /timer). Try $BIN/sky help. Ctrl-C stops them."
    wait "${PIDS[0]}"
fi
