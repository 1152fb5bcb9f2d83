"""Live fixtures: real skynetd and Swift echo-service processes on 127.0.0.1, started per test
with free ports and stopped after it.

SKYNET_BIN names the folder holding the Swift binaries (``swift build --show-bin-path``);
``make test`` passes it. The library is imported from this checkout (``clients/python``).
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
sys.path.insert(0, PACKAGE)

BIN = os.environ.get("SKYNET_BIN", "")
WAIT = 30.0  # seconds any expected line or change may take before a test fails


def binary(name: str) -> str:
    path = os.path.join(BIN, name)
    assert BIN and os.path.exists(path), f"set SKYNET_BIN to the folder holding {name} (swift build --show-bin-path)"
    return path


class Child:
    """A child process whose stdout lines are handed, as they come, to :meth:`expect`
    (a reader thread, no polling); stderr goes to a log file shown when an expectation fails."""

    def __init__(self, name: str, args: list[str], directory: str, env: dict[str, str] | None = None) -> None:
        self.name, self.args = name, args
        self.log_path = os.path.join(directory, f"{name}-{time.monotonic_ns()}.log")
        self.lines: queue.Queue[str | None] = queue.Queue()
        with open(self.log_path, "w") as log:
            self.popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, **(env or {})})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, marker: str, timeout: float = WAIT) -> str:
        """The first line holding ``marker``; fails naming the process and its log otherwise."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if marker in line:
                return line
        with open(self.log_path) as log:
            tail = log.read()[-3000:]
        raise AssertionError(f"{self.name} did not print {marker!r} within {timeout} s (exit {self.popen.poll()}):\n{tail}")

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Processes:
    """Starts processes for one test and stops them all after it."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.children: list[Child] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, args, self.directory, env)
        self.children.append(child)
        return child

    def skynetd(self, port: int = 0, data: str = "data") -> tuple[Child, str]:
        """A skynetd --dev on 127.0.0.1 (``port`` 0: a free one); returns it and its address."""
        child = self.start("skynetd", [
            binary("skynetd"), "--dev", "--listen", f"127.0.0.1:{port}", "--http", "none", "--no-timer",
            "--data-dir", os.path.join(self.directory, data),
        ])
        address = child.expect("skynetd listening on").split()[-1]
        return child, address

    def echo_service(self, coordinator: str, region: str = "us") -> tuple[Child, str]:
        """A Swift echo-service registered with ``coordinator``; returns it and its address."""
        child = self.start("echo-service", [binary("echo-service"), f"-region={region}", "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"],
                           {"SKYNET_COORDINATORS": coordinator})
        line = child.expect("echo-service serving")
        return child, line.split()[2].rstrip(",")

    def python(self, name: str, script: str, coordinator: str, env: dict[str, str] | None = None) -> Child:
        """A Python script of this package (under examples/ or tests/), with the package importable."""
        path = script if os.path.isabs(script) else os.path.join(PACKAGE, script)
        return self.start(name, [sys.executable, path], {
            "SKYNET_COORDINATORS": coordinator, "PYTHONPATH": PACKAGE, "PYTHONUNBUFFERED": "1", **(env or {}),
        })

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


@pytest.fixture
def processes() -> Iterator[Processes]:
    with tempfile.TemporaryDirectory(prefix="skynet-python-") as directory:
        started = Processes(directory)
        try:
            yield started
        finally:
            started.stop_all()


def run(coroutine, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    """Runs a test's coroutine with an overall bound, so a hang fails instead of stalling CI."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def until(predicate, timeout: float = WAIT, what: str = "the condition") -> None:  # type: ignore[no-untyped-def]
    """Awaits an async predicate that itself waits on an event (a watch, a call), bounded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
