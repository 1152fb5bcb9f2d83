"""Python services as Skynet citizens: Swift clients and `sky` treat them like Swift instances;
they stop gracefully, vanish when killed, and answer bad input with MessagePack-RPC errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys

import msgpack
import pytest
from conftest import PACKAGE, binary, run

import skynet
from skynet import Coordinator, Query
from skynet.rpc import Connection


def sky(*args: str) -> str:
    result = subprocess.run([binary("sky"), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"sky {' '.join(args)} failed ({result.returncode}): {result.stderr}"
    return result.stdout


def python_echo(processes, coordinator, region="us"):
    child = processes.python("python-echo", "examples/echo_service.py", coordinator, {"SKYNET_REGION": region,
                             "SKYNET_SERVICE_ADDR": "127.0.0.1:0", "SKYNET_ADMIN_ADDR": "127.0.0.1:0"})
    line = child.expect("python echo serving")
    return child, line.split()[3].rstrip(","), line.split()[-1]


def test_swift_calls_a_python_service_and_sky_shows_it(processes):
    _, coordinator = processes.skynetd()
    _, address, path = python_echo(processes, coordinator)
    assert path == f"/skynet/services/echo/1/us/127.0.0.1/{address.rpartition(':')[2]}"

    # The Swift echo client (the README's) finds the Python instance and calls it.
    client = processes.start("echo-client", [binary("echo-client")], {"SKYNET_COORDINATORS": coordinator})
    assert client.expect("echo   ->") == "echo   -> I'm connected!!"
    assert client.expect("upcase ->") == "upcase -> I'M CONNECTED!!"
    assert client.expect("sticky ->") == "sticky -> user-42"
    assert client.wait() == 0

    # sky reads its record and its admin `stats` like a Swift instance's.
    rows = json.loads(sky("instances", f"-coordinators={coordinator}", "-service=echo", "-json"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["address"], row["registered"], row["region"]) == (address, True, "us")
    assert row.get("statsError") is None, row
    assert row["requests"] >= 3 and row["errors"] == 0
    topology = sky("topology", f"-coordinators={coordinator}")
    assert "echo" in topology and address in topology

    # Admin calls through sky: out of rotation with the reason, back in, log level, stop.
    sky("unregister", f"-coordinators={coordinator}", "-service=echo")
    row = json.loads(sky("instances", f"-coordinators={coordinator}", "-service=echo", "-json"))[0]
    assert row["registered"] is False and "unregistered" in (row.get("reason") or "")
    sky("register", f"-coordinators={coordinator}", "-service=echo")
    assert json.loads(sky("instances", f"-coordinators={coordinator}", "-service=echo", "-json"))[0]["registered"] is True
    assert "debug" in sky("log-level", f"-coordinators={coordinator}", "-service=echo", "debug")


def test_python_service_stops_gracefully_on_sigterm_and_sky_stop(processes):
    _, coordinator = processes.skynetd()

    async def scenario():
        async with Coordinator(coordinator) as c:
            rev = (await c.status())["revision"]
            watch = c.watch("/skynet/services/echo/**", rev + 1)
            child, _, path = await asyncio.to_thread(python_echo, processes, coordinator)
            child.signal(signal.SIGTERM)
            kinds = []
            async for update in watch:
                kinds += [(e.kind, e.path) for e in update.events]
                if ("delete", path) in kinds:
                    break
            # Registered, then out of rotation (still serving while clients move), then gone.
            assert kinds[0] == ("put", path) and kinds[-1] == ("delete", path) and len(kinds) == 3
            assert await asyncio.to_thread(child.wait) == 0

            second, _, path = await asyncio.to_thread(python_echo, processes, coordinator)
            await asyncio.to_thread(sky, "stop", f"-coordinators={coordinator}", "-service=echo", "-yes")
            assert await asyncio.to_thread(second.wait) == 0
            assert await Query("echo").instances(c) == []
            await watch.close()

    run(scenario())


def test_a_killed_python_instance_leaves_swift_pools_and_the_registry(processes):
    _, coordinator = processes.skynetd()
    victim, _, victim_path = python_echo(processes, coordinator)
    _, swift_address = processes.echo_service(coordinator)

    async def scenario():
        async with Coordinator(coordinator) as c:
            rev, _ = await c.walk("/skynet/services/**")
            gone = c.watch(victim_path, rev + 1)
            victim.signal(signal.SIGKILL)
            assert await asyncio.to_thread(victim.wait) == -signal.SIGKILL
            # Its entry is still there until its session expires: a Swift client meanwhile finds
            # both, drops the dead one when its connection is refused, and calls the other.
            client = await asyncio.to_thread(processes.start, "echo-client", [binary("echo-client")], {"SKYNET_COORDINATORS": coordinator})
            assert await asyncio.to_thread(client.expect, "echo   ->") == "echo   -> I'm connected!!"
            assert await asyncio.to_thread(client.wait) == 0
            async for update in gone:
                if any(e.kind == "delete" for e in update.events):
                    break
            await gone.close()
            assert [i.service_address for i in await Query("echo").instances(c)] == [swift_address]

    run(scenario())


def raw_call(address: str, payload: bytes) -> list:
    """Sends raw bytes; returns every message the server answered before it closed."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed early (an oversized message): read what it answered
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            unpacker.feed(data)
        return list(unpacker)


def test_bad_input_gets_errors_and_the_server_keeps_serving(processes):
    _, coordinator = processes.skynetd()
    child, address, _ = python_echo(processes, coordinator)

    pack = lambda v: msgpack.packb(v, use_bin_type=True)  # noqa: E731
    # Unknown method, missing and mistyped params: errors, and the connection goes on.
    answers = raw_call(address, pack([0, 1, "nope", []]) + pack([0, 2, "echo", []]) + pack([0, 3, "echo", [5]])
                       + pack([0, 4, "echo", ["a", "b"]]) + pack([0, 5, "echo", ["ok"]]))
    by_id = {a[1]: a for a in answers}
    assert by_id[1][2]["code"] == "NoSuchMethod"
    assert by_id[2][2]["code"] == "BadRequest" and "expected 1 params (text), found 0" in by_id[2][2]["message"]
    assert by_id[3][2] == {"code": "BadRequest", "message": "echo: params[0] (text): expected str, found int"}
    assert by_id[4][2]["code"] == "BadRequest"
    assert by_id[5][2:] == [None, "ok"]

    # A request of the wrong shape: BadRequest with its msgid, then that connection closes.
    assert raw_call(address, pack([0, 9, 42, []]) + pack([0, 10, "echo", ["never"]])) == [
        [1, 9, {"code": "BadRequest", "message": "a request is [0, msgid, method, params]; this one lacks a str method"}, None]]
    # Bytes that are not MessagePack (0xc1 is never used): BadRequest when the msgid is readable.
    answers = raw_call(address, bytes([0x94, 0x00, 0x0B, 0xC1]))
    assert answers and answers[0][1] == 11 and answers[0][2]["code"] == "BadRequest"
    assert raw_call(address, b"\xc1\xc1\xc1") == []  # nothing to answer: closed
    # A message over 4 MiB: TooLarge, before reading it whole.
    answers = raw_call(address, pack([0, 12, "echo", [bytes(5 * 1024 * 1024)]]))
    assert answers[0][1] == 12 and answers[0][2]["code"] == "TooLarge" and "4194304" in answers[0][2]["message"]
    # Call metadata is stripped before the handler; a deadline already passed never runs it.
    answers = raw_call(address, pack([0, 13, "echo", ["m", {"skynet": {"attempt": 1, "timeout_ms": 500}}]])
                       + pack([0, 14, "echo", ["m", {"skynet": {"timeout_ms": 0}}]]))
    assert {a[1]: a[2:] for a in answers} == {13: [None, "m"], 14: [{"code": "DeadlineExceeded", "message": "echo: the deadline had passed when the call arrived"}, None]}

    async def still_serving():
        connection = await Connection.open(address)
        assert await connection.call("upcase", ["still here"], 5) == "STILL HERE"
        await connection.close()

    run(still_serving())
    assert child.popen.poll() is None


def test_health_check_and_handler_errors(processes):
    _, coordinator = processes.skynetd()

    async def scenario():
        healthy = True

        def check():
            if not healthy:
                raise RuntimeError("database unreachable")

        service = skynet.Service("checked", region="us", listen="127.0.0.1:0", admin="127.0.0.1:0", coordinators=coordinator,
                                 health_check=check, health_check_interval=0.2)

        @service.method()
        def fail() -> None:
            raise skynet.NotFound("no such thing")

        @service.method()
        def crash() -> None:
            raise ZeroDivisionError("oops")

        info = await service.bind()
        try:
            async with Coordinator(coordinator) as c:
                rev = (await c.get(info.path))[0]
                watch = c.watch(info.path, rev + 1)
                healthy = False
                update = await asyncio.wait_for(watch.__anext__(), 10)
                while update.is_progress:
                    update = await asyncio.wait_for(watch.__anext__(), 10)
                record = skynet.ServiceInfo.decode(update.events[0].value)
                assert not record.registered and record.out_of_rotation == {"cause": "unhealthy", "detail": "database unreachable"}
                healthy = True
                update = await asyncio.wait_for(watch.__anext__(), 10)
                while update.is_progress:
                    update = await asyncio.wait_for(watch.__anext__(), 10)
                assert skynet.ServiceInfo.decode(update.events[0].value).registered
                await watch.close()

            connection = await Connection.open(info.service_address)
            with pytest.raises(skynet.NotFound, match="no such thing"):
                await connection.call("fail", [], 5)
            with pytest.raises(skynet.Internal, match="ZeroDivisionError: oops"):
                await connection.call("crash", [], 5)
            await connection.close()
            admin = await Connection.open(info.admin_address)
            stats = await admin.call("stats", [], 5)
            assert (stats["requests"], stats["errors"]) == (2, 2)
            assert (await admin.call("info", [], 5))["uuid"] == info.uuid
            with pytest.raises(skynet.BadRequest, match="logLevel: expected one of"):
                await admin.call("logLevel", ["loud"], 5)
            await admin.close()
        finally:
            await service.stop()

    run(scenario())


def test_sync_client_calls_a_python_service(processes):
    _, coordinator = processes.skynetd()
    python_echo(processes, coordinator)
    from skynet.sync import Client

    with Client(coordinator) as client:
        echo = client.service("echo")
        assert echo.send("upcase", "sync") == "SYNC"
        assert client.coordinator.getdir("/skynet/services/echo")[1] == ["1"]


def test_the_python_example_client_runs(processes):
    _, coordinator = processes.skynetd()
    python_echo(processes, coordinator)
    client = processes.python("python-client", "examples/echo_client.py", coordinator)
    assert client.expect("echo   ->") == "echo   -> I'm connected!!"
    assert client.expect("upcase ->") == "upcase -> I'M CONNECTED!!"
    assert client.expect("sticky ->") == "sticky -> user-42"
    assert client.wait() == 0



def test_python_service_is_registered_again_after_the_coordinator_restarts(processes):
    daemon, coordinator = processes.skynetd()
    port = int(coordinator.rpartition(":")[2])
    _, address, path = python_echo(processes, coordinator)

    async def scenario():
        nonlocal daemon
        daemon.signal(signal.SIGKILL)
        assert await asyncio.to_thread(daemon.wait) == -signal.SIGKILL
        daemon, again = await asyncio.to_thread(processes.skynetd, port)
        assert again == coordinator
        async with Coordinator(coordinator) as c:
            # Its session either survived the restart or expired and the service opened a new
            # one and wrote its record again; either way the registry shows it, registered.
            async for infos in Query("echo").watch(c):
                if [(i.service_address, i.registered) for i in infos] == [(address, True)]:
                    break
            assert (await c.get(path))[1] is not None

    run(scenario())
    client = processes.start("echo-client", [binary("echo-client")], {"SKYNET_COORDINATORS": coordinator})
    assert client.expect("upcase ->") == "upcase -> I'M CONNECTED!!"
    assert client.wait() == 0


def test_python_service_command_line(processes):
    _, coordinator = processes.skynetd()
    script = os.path.join(PACKAGE, "examples", "echo_service.py")
    env = {**os.environ, "PYTHONPATH": PACKAGE, "SKYNET_COORDINATORS": coordinator, "SKYNET_REGION": "from-env"}
    for spelling in ("help", "-h", "-help", "--help"):
        shown = subprocess.run([sys.executable, script, spelling], capture_output=True, text=True, timeout=60, env=env)
        assert shown.returncode == 0 and shown.stderr == "", shown.stderr
        assert "-region REGION" in shown.stdout and "SKYNET_REGION" in shown.stdout and "-help" in shown.stdout
    for arguments, complaint in ((["-bogus"], "flag provided but not defined: -bogus"), (["-region"], "flag needs an argument: -region"),
                                 (["stray"], "unexpected argument 'stray'"), (["-region=a b"], "region: 'a b' cannot be a path segment"),
                                 (["-l", "127.0.0.1:99999"], "service address: '127.0.0.1:99999' is not HOST:PORT")):
        refused = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True, timeout=60, env=env)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1 and complaint in lines[0] and "-help" in lines[0], refused.stderr
        assert refused.stdout == ""
    # Flags win over the variables.
    child = processes.start("python-echo", [sys.executable, script, "-region=from-flag", "-l", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
                            {"PYTHONPATH": PACKAGE, "PYTHONUNBUFFERED": "1", "SKYNET_COORDINATORS": coordinator, "SKYNET_REGION": "from-env"})
    assert "/echo/1/from-flag/127.0.0.1/" in child.expect("python echo serving")


def test_python_service_waits_for_its_coordinator(processes):
    with socket.socket() as probe:  # a port nothing listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    coordinator = f"127.0.0.1:{port}"

    async def stopped_while_waiting():
        service = skynet.Service("waiting", listen="127.0.0.1:0", admin="127.0.0.1:0", coordinators=coordinator)
        running = asyncio.ensure_future(service.run())
        await service.stop()
        await asyncio.wait_for(running, 10)  # ends cleanly, never registered
        assert service.session is None

    run(stopped_while_waiting())
    waiting = processes.python("python-echo", "examples/echo_service.py", coordinator,
                               {"SKYNET_SERVICE_ADDR": "127.0.0.1:0", "SKYNET_ADMIN_ADDR": "127.0.0.1:0"})
    # The coordinator arrives after the service: it registers and serves.
    _, again = processes.skynetd(port)
    assert again == coordinator
    assert "registered at /skynet/services/echo/1/us/" in waiting.expect("python echo serving")
