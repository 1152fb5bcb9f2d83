"""The coordinator client against a live skynetd: every method, sessions, watches that resume
across a restart without gap or duplicate, and every error code."""

from __future__ import annotations

import asyncio
import signal

import pytest
from conftest import run

import skynet
from skynet import Coordinator, compare, op_del, op_get, op_set
from skynet.errors import CODES, SkynetError, from_wire


def test_tree_methods(processes):
    _, address = processes.skynetd()

    async def scenario():
        async with Coordinator(address) as c:
            rev = await c.set("/app/config/a", b"1")
            got_rev, file = await c.get("/app/config/a")
            assert got_rev >= rev and file is not None
            assert (file.path, file.value, file.mod_rev, file.create_rev, file.version) == ("/app/config/a", b"1", rev, rev, 1)

            # Conditional writes: the mismatch names what it found.
            with pytest.raises(skynet.RevMismatch) as mismatch:
                await c.set("/app/config/a", "2", if_rev=rev + 100)
            assert mismatch.value.data["current"] == rev
            rev2 = await c.set("/app/config/a", "2", if_rev=rev)
            with pytest.raises(skynet.RevMismatch):
                await c.set("/app/config/a", "3", if_rev=0)  # 0: only if absent
            assert (await c.get("/app/config/a", at_rev=rev))[1].value == b"1"  # the past
            assert (await c.get("/app/config/a"))[1].value == b"2"

            await c.set("/app/config/b", b"x")
            await c.set("/app/other/c", b"y")
            assert (await c.getdir("/app"))[1] == ["config", "other"]
            assert (await c.getdir("/app/config"))[1] == ["a", "b"]
            assert (await c.stat("/app"))[1].kind == "dir"
            stat = (await c.stat("/app/config/a"))[1]
            assert (stat.kind, stat.mod_rev, stat.version, stat.size) == ("file", rev2, 2, 1)
            assert (await c.stat("/nothing"))[1] is None
            assert (await c.get("/nothing"))[1] is None

            # Globs: * one segment, ** any.
            assert [f.path for f in (await c.walk("/app/*/a"))[1]] == ["/app/config/a"]
            assert [f.path for f in (await c.walk("/app/**"))[1]] == ["/app/config/a", "/app/config/b", "/app/other/c"]

            # Transactions: both branches, reads inside.
            result = await c.txn([compare("/app/config/a", "value", "==", b"2")],
                                 [op_set("/app/config/a", b"3"), op_get("/app/config/b")], [op_del("/app/config/b")])
            assert result.succeeded and result.results[1]["file"].value == b"x"
            result = await c.txn([compare("/app/config/a", "version", ">", 10)], [op_del("/app/config/a")], [op_del("/app/config/b")])
            assert not result.succeeded
            assert (await c.get("/app/config/b"))[1] is None and (await c.get("/app/config/a"))[1].value == b"3"

            assert await c.delete("/app/other/c") > result.rev

            # Paged walk: four 1 MiB values do not fit one ~3 MiB page.
            big = bytes(1024 * 1024 - 64)
            for i in range(4):
                await c.set(f"/big/{i}", big)
            _, files, more = await c.walk_page("/big/*")
            assert more and 0 < len(files) < 4
            assert [f.path for f in (await c.walk("/big/*"))[1]] == [f"/big/{i}" for i in range(4)]

            status = await c.status()
            assert status["store"] == "embedded" and status["revision"] >= result.rev

    run(scenario())


def test_sessions_keep_files_alive_and_take_them_when_they_end(processes):
    _, address = processes.skynetd()

    async def scenario():
        async with Coordinator(address) as c, Coordinator(address) as observer:
            session = await c.open_session(ttl=0.5)
            assert session.ttl == 0.5
            rev = await c.set("/eph/one", b"1", session=session.id)
            assert (await c.get("/eph/one"))[1].session == session.id
            watch = observer.watch("/eph/*", rev + 1)
            # Keepalives hold it well past its TTL: 2 s of updates bring no delete.
            loop = asyncio.get_running_loop()
            quiet_until = loop.time() + 2.0
            while (left := quiet_until - loop.time()) > 0:
                try:
                    update = await asyncio.wait_for(watch.__anext__(), left)
                except asyncio.TimeoutError:
                    break
                assert update.is_progress, update
            assert (await c.get("/eph/one"))[1] is not None

            # Without keepalives it expires, and the watch sees the delete.
            session.stop_keepalive()
            update = await asyncio.wait_for(watch.__anext__(), 10)
            while update.is_progress:
                update = await asyncio.wait_for(watch.__anext__(), 10)
            assert [(e.kind, e.path) for e in update.events] == [("delete", "/eph/one")]
            with pytest.raises(skynet.SessionNotFound):
                await c.call("keepAlive", session.id)
            await watch.close()

            # Closing a session deletes its files in one revision.
            second = await c.open_session(ttl=5)
            for name in ("a", "b"):
                await c.set(f"/eph/{name}", name, session=second.id)
            assert await second.close() == 2
            assert (await c.walk("/eph/*"))[1] == []

    run(scenario())


def test_watch_resumes_across_a_skynetd_restart_without_gap_or_duplicate(processes):
    daemon, address = processes.skynetd()
    port = int(address.rpartition(":")[2])

    async def scenario():
        nonlocal daemon
        watcher = Coordinator(address)
        async with Coordinator(address) as c:
            start = (await c.status())["revision"] + 1
        watch = watcher.watch("/w/**", start)
        seen: list[tuple[int, str, bytes]] = []
        received = asyncio.Queue()

        async def follow():
            async for update in watch:
                for event in update.events:
                    seen.append((event.rev, event.path, event.value))
                    received.put_nowait(event)

        follower = asyncio.get_running_loop().create_task(follow())
        async with Coordinator(address) as writer:
            await writer.set("/w/a", b"1")
            first = await asyncio.wait_for(received.get(), 15)
            if first.path != "/w/a":
                raise AssertionError(first)

        daemon.signal(signal.SIGTERM)
        assert await asyncio.to_thread(daemon.wait) == 0
        # The watcher reconnects by itself (with backoff) and resumes after the last revision it
        # delivered: writes made before or after it is back all arrive, once each.
        daemon, again = await asyncio.to_thread(processes.skynetd, port)
        assert again == address
        async with Coordinator(address) as writer:
            await writer.set("/w/b", b"2")
            await writer.set("/w/a", b"3")
            await writer.delete("/w/b")
        events = [await asyncio.wait_for(received.get(), 20) for _ in range(3)]
        assert [(e.kind, e.path) for e in events] == [("put", "/w/b"), ("put", "/w/a"), ("delete", "/w/b")]
        revs = [r for r, _, _ in seen]
        assert revs == sorted(set(revs)), f"duplicate or out of order: {seen}"
        assert [(p, v) for _, p, v in seen] == [("/w/a", b"1"), ("/w/b", b"2"), ("/w/a", b"3"), ("/w/b", b"")]
        follower.cancel()
        await watch.close()
        await watcher.close()

    run(scenario())


def test_every_error_code_has_its_exception():
    for code, cls in CODES.items():
        error = from_wire({"code": code, "message": "m", "data": {"x": 1}})
        assert type(error) is cls and isinstance(error, SkynetError)
        assert (error.code, error.message, error.data) == (code, "m", {"x": 1})
        assert error.to_wire() == {"code": code, "message": "m", "data": {"x": 1}}
    unknown = from_wire({"code": "SomethingNew", "message": "later versions"})
    assert type(unknown) is SkynetError and unknown.code == "SomethingNew"
    assert from_wire("not a map").code == "Internal"
    assert from_wire({"code": "Unavailable", "message": "", "data": {"notSent": True}}).not_sent


def test_live_errors_arrive_as_their_exceptions(processes):
    _, address = processes.skynetd()

    async def scenario():
        async with Coordinator(address) as c:
            with pytest.raises(skynet.NoSuchMethod):
                await c.call("nope")
            with pytest.raises(skynet.BadRequest, match=r"set: params\[1\] \(value\)"):
                await c.call("set", "/x", 5)
            with pytest.raises(skynet.BadPath, match="segments may only use"):
                await c.set("/bad path", b"")
            with pytest.raises(skynet.TooLarge, match="maximum value size"):
                await c.set("/big", bytes(2 * 1024 * 1024))
            with pytest.raises(skynet.SessionNotFound):
                await c.call("keepAlive", 987654321)
            with pytest.raises(skynet.BadRequest, match="future"):
                await c.get("/x", at_rev=10**9)
            rev = await c.set("/x", b"1")
            with pytest.raises(skynet.RevMismatch):
                await c.delete("/x", if_rev=rev + 1)
            with pytest.raises(skynet.BadPath):
                await c.walk("/a/***")
            with pytest.raises(skynet.BadRequest):
                c.watch("/x", -1)
        async with Coordinator("127.0.0.1:1", timeout=0.5) as nowhere:
            with pytest.raises(skynet.Unavailable, match="127.0.0.1:1"):
                await nowhere.get("/x")

    run(scenario())


def test_the_coordinator_example_runs(processes):
    _, address = processes.skynetd()
    example = processes.python("coordinator-example", "examples/coordinator.py", address)
    assert example.expect("/config/feature") == "put /config/feature b'off'"
    assert example.wait() == 0

    async def check():
        async with Coordinator(address) as c:
            assert (await c.get("/config/feature"))[1].value == b"off"
            assert (await c.get("/locks/job"))[1] is None  # the session's file went with it

    run(check())
