#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (Fuzz/) with -sanitize=fuzzer,address in
# .build-fuzz and runs each for FUZZ_SECONDS (default 60) from the corpus in Fuzz/corpus.
# New inputs go to a scratch corpus, so the repository's stays as committed (merge them
# in with `-merge=1` when they are worth keeping). A crash, a failed property or a leak
# stops the run with the input saved under .build-fuzz/crashes/ and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
FLAGS=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld)

mkdir -p .build-fuzz/crashes
for target in msgpack rpc-frames; do
    SKYNET_FUZZ=1 "$SWIFT" build --scratch-path .build-fuzz --product "fuzz-$target" "${FLAGS[@]}" 2>&1 \
        | grep -v "Cannot export local symbol" | grep -E "error|warning: |Compiling fuzz|Build complete" || true
    binary=".build-fuzz/debug/fuzz-$target"
    [ -x "$binary" ] || { echo "fuzz-$target did not build" >&2; exit 1; }
    scratch="$(mktemp -d)"
    echo "fuzzing $target for ${SECONDS_EACH}s (corpus: Fuzz/corpus/$target)"
    "$binary" "$scratch" "Fuzz/corpus/$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
        -artifact_prefix=".build-fuzz/crashes/$target-" -print_final_stats=1 2> ".build-fuzz/$target.log" || {
        echo "fuzz-$target failed; the input is under .build-fuzz/crashes/:" >&2
        tail -40 ".build-fuzz/$target.log" >&2
        exit 1
    }
    grep -E "^Done|stat::number_of_executed_units|stat::new_units_added" ".build-fuzz/$target.log" | sed "s/^/  $target: /"
    rm -rf "$scratch"
done
