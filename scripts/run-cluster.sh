#!/usr/bin/env bash
# `make cluster`: the coordinator as a cluster on 127.0.0.1. Three etcd members (Debian's
# etcd-server: clients on 2379, 22379, 32379; data in .skynet-cluster/), two stateless
# skynetd fronts over them (127.0.0.1:8046 and 127.0.0.1:8056, each with a timer instance,
# HTTP on 8048 and 8058), the echo service registered through both, and the echo client
# calling it; then `sky members` and `sky topology`. Everything stays up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"

for product in skynetd echo-service echo-client sky; do
    "$SWIFT" build -c release --product "$product"
done
BIN="$("$SWIFT" build -c release --show-bin-path)"

DIR=.skynet-cluster
rm -rf "$DIR" && mkdir -p "$DIR"
PIDS=()
stop() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

# Starts "$@" in the background, output in $DIR/NAME.out and $DIR/NAME.log.
launch() {
    local name="$1"; shift
    "$@" > "$DIR/$name.out" 2> "$DIR/$name.log" &
    PIDS+=("$!")
}

# Waits (up to 20 s) for a line matching PATTERN in NAME's output, and prints it.
await_line() {
    local name="$1" pattern="$2" pid="${PIDS[-1]}"
    [ $# -gt 2 ] && pid="$3"
    for _ in $(seq 200); do
        if grep -q -h -- "$pattern" "$DIR/$name.out" "$DIR/$name.log" 2>/dev/null; then
            echo "$name: $(grep -h -m1 -o -- "$pattern.*" "$DIR/$name.out" "$DIR/$name.log" | head -1 | cut -c1-100)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name did not start:" >&2
            tail -5 "$DIR/$name.out" "$DIR/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$name did not start within 20 s (see $DIR/$name.out, $DIR/$name.log)" >&2
    exit 1
}

start() {
    local name="$1" pattern="$2"; shift 2
    launch "$name" "$@"
    await_line "$name" "$pattern"
}

# Large transactions (the timer service batches its writes) need more than etcd's default
# of 128 operations and compares per transaction.
CLUSTER="m0=http://127.0.0.1:2380,m1=http://127.0.0.1:22380,m2=http://127.0.0.1:32380"
# The members start together: each is ready only once a quorum has formed.
for i in 0 1 2; do
    client=$(( i == 0 ? 2379 : i * 10000 + 12379 )); peer=$(( client + 1 ))
    launch "etcd-m$i" etcd --name "m$i" --data-dir "$DIR/m$i" \
        --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token skynet-cluster \
        --max-txn-ops 4096
done
for i in 0 1 2; do await_line "etcd-m$i" "ready to serve client requests" "${PIDS[$i]}"; done
STORE=etcd://127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379
start front-a "skynetd timer serving" "$BIN/skynetd" --name front-a --store "$STORE" --listen 127.0.0.1:8046 --http 127.0.0.1:8048
start front-b "skynetd timer serving" "$BIN/skynetd" --name front-b --store "$STORE" --listen 127.0.0.1:8056 --http 127.0.0.1:8058
export SKYNET_COORDINATORS=127.0.0.1:8046,127.0.0.1:8056
start echo-service "echo-service serving" "$BIN/echo-service"
"$BIN/echo-client"
echo '$ sky members'
"$BIN/sky" members
echo '$ sky topology'
"$BIN/sky" topology

if [ -t 0 ] && [ -z "${CI:-}" ]; then
    echo "3 etcd members, fronts on 127.0.0.1:8046 and 127.0.0.1:8056 (timers: http://127.0.0.1:8048/timer) and the echo service are up (logs in $DIR/)."
    echo "Try: SKYNET_COORDINATORS=$SKYNET_COORDINATORS $BIN/sky status. Ctrl-C stops them."
    wait "${PIDS[0]}"
fi
