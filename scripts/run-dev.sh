#!/usr/bin/env bash
# `make run`: brings up the platform on its embedded default, `skynetd --dev`
# (127.0.0.1:8046, data in ./.skynet), runs the registry demo against it, then keeps
# skynetd in the foreground until Ctrl-C (which stops it gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"

"$SWIFT" build -c release --product skynetd
"$SWIFT" build -c release --product registry-demo
BIN="$("$SWIFT" build -c release --show-bin-path)"

mkdir -p .skynet
"$BIN/skynetd" --dev > .skynet/skynetd.out 2> .skynet/skynetd.log &
PID=$!
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap stop INT TERM EXIT

# Wait (up to 10 s) for skynetd to say it listens, or to die.
for _ in $(seq 100); do
    if grep -q "listening on" .skynet/skynetd.out 2>/dev/null; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "skynetd --dev did not start:" >&2
        tail -5 .skynet/skynetd.log >&2
        exit 1
    fi
    sleep 0.1
done
cat .skynet/skynetd.out

SKYNET_COORDINATORS=127.0.0.1:8046 "$BIN/registry-demo"

if [ -t 0 ] && [ -z "${CI:-}" ]; then
    echo "skynetd --dev is serving on 127.0.0.1:8046 (log: .skynet/skynetd.log); Ctrl-C stops it."
    wait "$PID"
fi
