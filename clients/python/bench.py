#!/usr/bin/env python3
"""Calls/s and p99 from Python to the Swift echo service: through the pool (skynet.Client)
and, in the same run as the baseline, raw msgpack over one socket. Prints one JSON object.

    python3 clients/python/bench.py [--bin DIR] [--concurrency 32] [--seconds 1] [--rounds 20]

DIR holds skynetd and echo-service (default: $SKYNET_BIN, else the release build,
`swift build -c release --show-bin-path`). Both sides run the same workload: `concurrency`
callers, each sending `echo` with a 16-byte string and awaiting the answer before the next,
over one connection; after a warm-up of each, `rounds` pairs of rounds, raw and pool in
alternating order. Figures are medians over rounds; the overhead is one minus the median of
the pairs' pool/raw ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from skynet import Client  # noqa: E402

TARGET_OVERHEAD = 0.25


class RawClient(asyncio.Protocol):
    """The baseline: msgpack over a socket, msgids matched to futures, nothing else."""

    def __init__(self) -> None:
        self.unpacker = msgpack.Unpacker(raw=False)
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        for _, msgid, error, result in self.unpacker:
            future = self.pending.pop(msgid)
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(RuntimeError(error))

    async def call(self, method: str, params: list) -> object:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        assert self.transport is not None
        self.transport.write(msgpack.packb([0, self.next_id, method, params], use_bin_type=True))
        return await future


async def drive(call, concurrency: int, seconds: float) -> tuple[float, float, int, float]:  # type: ignore[no-untyped-def]
    """(calls/s, p99 ms, calls, this process's CPU µs per call) of `concurrency` sequential
    callers for `seconds`."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    latencies: list[float] = []
    payload = "0123456789abcdef"

    async def caller() -> None:
        while loop.time() < stop_at:
            started = time.perf_counter()
            assert await call("echo", payload) == payload
            latencies.append(time.perf_counter() - started)

    started, cpu = loop.time(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed, cpu = loop.time() - started, time.process_time() - cpu
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000, len(latencies), cpu / len(latencies) * 1e6


def start(args: list[str], marker: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            return process, line
    raise SystemExit(f"{args[0]} exited before printing {marker!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("SKYNET_BIN"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    if options.concurrency < 1 or options.seconds <= 0 or options.rounds < 1:
        parser.error("--concurrency, --seconds and --rounds must be positive")
    directory = options.bin
    if not directory:
        repo = os.path.dirname(os.path.dirname(HERE))
        directory = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    for name in ("skynetd", "echo-service"):
        if not os.path.exists(os.path.join(directory, name)):
            parser.error(f"{name} not found in {directory}: build it (swift build -c release) or pass --bin")

    with tempfile.TemporaryDirectory(prefix="skynet-pybench-") as data:
        skynetd, line = start([os.path.join(directory, "skynetd"), "--dev", "--listen", "127.0.0.1:0", "--http", "none",
                               "--no-timer", "--data-dir", data], "skynetd listening on")
        coordinator = line.split()[-1]
        echo, line = start([os.path.join(directory, "echo-service"), "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"],
                           "echo-service serving", {"SKYNET_COORDINATORS": coordinator})
        address = line.split()[2].rstrip(",")
        try:
            result = asyncio.run(compare(coordinator, address, options))
        finally:
            for process in (echo, skynetd):
                process.terminate()
                process.wait(timeout=15)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result["bin"] = directory
    print(json.dumps(result, indent=2))


async def compare(coordinator: str, address: str, options: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()
    host, port = address.rsplit(":", 1)
    _, raw = await loop.create_connection(RawClient, host, int(port))

    async def raw_call(method: str, text: str) -> object:
        return await raw.call(method, [text])

    async with Client(coordinator) as client:
        echo = client.service("echo")

        async def pool_call(method: str, text: str) -> object:
            return await echo.send(method, text)

        await drive(raw_call, options.concurrency, 1.0)  # warm-up
        await drive(pool_call, options.concurrency, 1.0)
        # This machine's speed drifts by several times within a minute (a third of its CPU time
        # can be stolen by its host under load), so the two sides run in short alternating
        # rounds (the order swapped each pair) and are compared pair by pair; the CPU this
        # process spends per call is reported too, as it does not depend on that drift.
        rounds: dict[str, list[tuple[float, float, int, float]]] = {"raw": [], "pool": []}
        for index in range(options.rounds):
            order = [("raw", raw_call), ("pool", pool_call)]
            for name, call in order if index % 2 == 0 else reversed(order):
                rounds[name].append(await drive(call, options.concurrency, options.seconds))
    assert raw.transport is not None
    raw.transport.close()

    def summary(runs: list[tuple[float, float, int, float]]) -> dict:
        return {
            "calls_per_s": round(statistics.median(r[0] for r in runs)),
            "p99_ms": round(statistics.median(r[1] for r in runs), 3),
            "python_cpu_us_per_call": round(statistics.median(r[3] for r in runs), 1),
            "rounds_calls_per_s": [round(r[0]) for r in runs],
        }

    ratios = [p[0] / r[0] for p, r in zip(rounds["pool"], rounds["raw"])]
    overhead = 1 - statistics.median(ratios)
    return {
        "bench": "python-pool-vs-raw",
        "concurrency": options.concurrency,
        "seconds_per_round": options.seconds,
        "rounds": options.rounds,
        "raw_msgpack_socket": summary(rounds["raw"]),
        "pool": summary(rounds["pool"]),
        "pool_vs_raw_per_pair": [round(r, 3) for r in ratios],
        "pool_overhead": round(overhead, 3),
        "target_overhead_max": TARGET_OVERHEAD,
        "met": overhead <= TARGET_OVERHEAD,
    }


if __name__ == "__main__":
    main()
