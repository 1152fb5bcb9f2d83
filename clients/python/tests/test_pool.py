"""Finding and calling Swift services from Python: Query, the pool, failover, deadlines."""

from __future__ import annotations

import asyncio
import random
import signal

import pytest
from conftest import run

import skynet
from skynet import Client, Coordinator, Query
from skynet.pool import HashRing, InstancePool, RetryBudget, ring_hash


def test_python_calls_a_swift_service(processes):
    _, coordinator = processes.skynetd()
    _, echo_address = processes.echo_service(coordinator)

    async def scenario():
        async with Client(coordinator) as client:
            echo = client.service("echo")
            assert await echo.send("echo", "I'm connected!!") == "I'm connected!!"
            assert await echo.send("upcase", "I'm connected!!") == "I'M CONNECTED!!"
            assert await echo.send("echo", "user-42", key="user-42") == "user-42"
            assert await echo.instances() == [echo_address]
            # The Swift server's errors arrive as the same exceptions.
            with pytest.raises(skynet.NoSuchMethod):
                await echo.send("nope")
            with pytest.raises(skynet.BadRequest, match=r"params\[0\]"):
                await echo.send("echo", 42)
            # Nothing of that name: NoInstances once the deadline passes.
            with pytest.raises(skynet.NoInstances, match="nobody"):
                await client.service("nobody").send("echo", "x", timeout=0.3)
            # The instance takes load reports to this pool's connection about once a second.
            instance = echo.pool.instances[echo_address]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while instance.report is None and loop.time() < deadline:
                await echo.send("echo", "tick")
                await asyncio.sleep(0.1)  # paced calls while waiting for the 1 s report
            assert instance.report is not None and {"utilization", "meanLatencyMs", "inFlight"} <= set(instance.report)

    run(scenario())


def test_query_finds_and_follows_instances(processes):
    _, coordinator = processes.skynetd()

    async def scenario():
        async with Coordinator(coordinator) as c:
            watch = Query("echo").watch(c)
            assert await asyncio.wait_for(watch.__anext__(), 15) == []
            first, first_address = await asyncio.to_thread(processes.echo_service, coordinator, "us")
            infos = await asyncio.wait_for(watch.__anext__(), 15)
            assert [i.service_address for i in infos] == [first_address]
            assert infos[0].registered and infos[0].metadata is not None
            await asyncio.to_thread(processes.echo_service, coordinator, "eu")
            assert len(await asyncio.wait_for(watch.__anext__(), 15)) == 2

            assert await Query().services(c) == ["echo"]
            assert await Query("echo").regions(c) == ["eu", "us"]
            assert await Query("echo").versions(c) == ["1"]
            assert await Query("echo").hosts(c) == ["127.0.0.1"]
            assert [i.region for i in await Query(region="eu").instances(c)] == ["eu"]

            first.signal(signal.SIGTERM)
            infos = await asyncio.wait_for(watch.__anext__(), 15)
            while len(infos) != 1:
                infos = await asyncio.wait_for(watch.__anext__(), 15)
            assert infos[0].region == "eu"
            await watch.aclose()

    run(scenario())


def test_pool_survives_a_killed_instance_and_its_entry_expires(processes):
    _, coordinator = processes.skynetd()
    victim, victim_address = processes.echo_service(coordinator, "us")
    _, survivor_address = processes.echo_service(coordinator, "us")

    async def scenario():
        async with Client(coordinator) as client, Coordinator(coordinator) as c:
            echo = client.service("echo")
            assert await echo.instances() == sorted([victim_address, survivor_address])
            # Both take calls (power of two choices spreads them).
            for i in range(40):
                assert await echo.send("echo", f"call {i}") == f"call {i}"
            rev, files = await c.walk("/skynet/services/echo/**")
            victim_path = next(f.path for f in files if f.path.endswith(victim_address.rpartition(":")[2]))
            expired = c.watch(victim_path, rev + 1)

            victim.signal(signal.SIGKILL)
            # Calls keep succeeding: a call that cannot have run, or an idempotent one whose
            # connection broke, goes to the other instance within the same deadline.
            for i in range(200):
                assert await echo.send("echo", f"after {i}", idempotent=True) == f"after {i}"
            assert not echo.pool.instances[victim_address].connected or victim_address not in echo.pool.instances

            # The dead instance's session expires and its entry goes.
            async for update in expired:
                if any(e.kind == "delete" for e in update.events):
                    break
            await expired.close()
            infos = await Query("echo").instances(c)
            assert [i.service_address for i in infos] == [survivor_address]

    run(scenario())


def test_one_deadline_over_all_attempts(processes):
    _, coordinator = processes.skynetd()

    async def scenario():
        # A Python service whose method never answers in time.
        service = skynet.Service("slow", region="us", listen="127.0.0.1:0", admin="127.0.0.1:0", coordinators=coordinator)

        @service.method()
        async def wait(seconds: float) -> str:
            await asyncio.sleep(seconds)
            return "late"

        await service.bind()
        try:
            async with Client(coordinator) as client:
                slow = client.service("slow")
                loop = asyncio.get_running_loop()
                started = loop.time()
                with pytest.raises(skynet.DeadlineExceeded):
                    await slow.send("wait", 5.0, timeout=0.5, idempotent=True)
                assert loop.time() - started < 2.0  # one deadline, not one per attempt
                assert await slow.send("wait", 0.0) == "late"
        finally:
            await service.stop()

    run(scenario())


def test_ring_hash_matches_the_swift_hash_ring():
    # The Swift HashRing's own test vectors (Tests/SkynetTests/HashRingTests.swift): a key
    # goes to the same instance from either language.
    assert ring_hash("") == 0xF52A15E9A9B5E89B
    assert ring_hash("skynet") == 0x425C0F2A8D425C85
    ring = HashRing(["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"])
    owners = {ring.owner(f"user-{i}") for i in range(200)}
    assert owners == set(ring.members)  # every member owns some keys
    smaller = HashRing(["127.0.0.1:9001", "127.0.0.1:9002"])
    moved = sum(ring.owner(f"user-{i}") != smaller.owner(f"user-{i}") for i in range(1000))
    stayed_with_removed = sum(ring.owner(f"user-{i}") == "127.0.0.1:9003" for i in range(1000))
    assert moved == stayed_with_removed  # only the removed member's keys move


def test_pool_tiers_ejection_and_budget():
    pool = InstancePool(region="us", host="h1", rng=random.Random(7))
    pool.update([("a:1", "eu", "h9", True, False), ("b:1", "us", "h2", True, False), ("c:1", "us", "h1", True, False),
                 ("d:1", "us", "h3", False, True)])
    for instance in pool.instances.values():
        pool.set_connected(instance, True)
    assert pool.pick(0).address == "c:1"  # the caller's host first
    assert pool.pick(0, avoiding={"c:1"}).address == "b:1"  # then its region
    assert pool.pick(0, avoiding={"c:1", "b:1"}).address == "a:1"  # then anywhere
    assert pool.pick(0, avoiding={"a:1", "b:1", "c:1"}).address == "d:1"  # standby last
    for _ in range(5):
        pool.failed(pool.instances["c:1"], 10.0)
    assert pool.instances["c:1"].ejected_until == 11.0
    assert pool.pick(10.5).address == "b:1" and pool.pick(11.0).address == "c:1"
    assert pool.census(10.5) == {"ready": 2, "connecting": 0, "ejected": 1, "out": 1}

    budget = RetryBudget()
    for _ in range(100):
        budget.request(0.0)
    allowed = sum(budget.try_retry(0.5) for _ in range(500))
    assert allowed == 20 + 100  # 20% of requests plus 10/s over the 10 s window
    assert budget.try_retry(20.0)  # a new window


def test_pool_prefers_the_callers_region_and_outlives_the_coordinator(processes):
    daemon, coordinator = processes.skynetd()
    _, us_address = processes.echo_service(coordinator, "us")
    _, eu_address = processes.echo_service(coordinator, "eu")

    async def requests(c: Coordinator) -> dict[str, int]:
        counts = {}
        for info in await Query("echo").instances(c):
            admin = await skynet.Connection.open(info.admin_address)
            counts[info.service_address] = (await admin.call("stats", [], 5))["requests"]
            await admin.close()
        return counts

    async def scenario():
        async with Client(coordinator, region="eu") as client, Coordinator(coordinator) as c:
            echo = client.service("echo")
            assert await echo.instances() == sorted([us_address, eu_address])
            before = await requests(c)
            for i in range(30):
                await echo.send("echo", f"{i}")
            after = await requests(c)
            assert after[eu_address] - before[eu_address] == 30 and after[us_address] == before[us_address]

            # The coordinator goes away: the pool keeps calling the instances it knows.
            daemon.signal(signal.SIGKILL)
            assert await asyncio.to_thread(daemon.wait) == -signal.SIGKILL
            for i in range(30):
                assert await echo.send("upcase", f"x{i}") == f"X{i}"

    run(scenario())


def test_coordinator_address_list_fails_over(processes):
    _, address = processes.skynetd()

    async def scenario():
        # The first address refuses; the client goes round to the second.
        async with Coordinator(["127.0.0.1:1", address]) as c:
            rev = await c.set("/failover", b"ok")
            assert (await c.get("/failover"))[1].mod_rev == rev

    run(scenario())


def test_a_plain_pick_follows_ejections_and_reconnections():
    pool = InstancePool(rng=random.Random(3))
    pool.update([("a:1", "us", "h1", True, False), ("b:1", "us", "h2", True, False)])
    assert pool.pick(0.0) is None  # nothing connected yet
    pool.set_connected(pool.instances["a:1"], True)
    assert pool.pick(0.0).address == "a:1"
    pool.set_connected(pool.instances["b:1"], True)
    assert {pool.pick(0.0).address for _ in range(50)} == {"a:1", "b:1"}
    for _ in range(5):
        pool.failed(pool.instances["a:1"], 1.0)
    assert {pool.pick(1.5).address for _ in range(20)} == {"b:1"}  # ejected until 2.0
    assert pool.next_change(1.5) == 2.0 and pool.next_change(2.0) == float("inf")
    assert {pool.pick(2.0).address for _ in range(50)} == {"a:1", "b:1"}  # back by itself
    pool.set_connected(pool.instances["b:1"], False)
    assert {pool.pick(2.0).address for _ in range(20)} == {"a:1"}


def test_a_report_without_latency_is_unknown_not_instant():
    pool = InstancePool(rng=random.Random(5))
    pool.update([("busy:1", "us", "h1", True, False), ("idle:1", "us", "h1", True, False)])
    busy, idle = pool.instances["busy:1"], pool.instances["idle:1"]
    for instance in (busy, idle):
        pool.set_connected(instance, True)

    def report(utilization: float, latency: float) -> dict:
        return {"utilization": utilization, "meanLatencyMs": latency, "inFlight": 0}

    pool.reported(busy, report(0.95, 0.0), 0.0)
    pool.reported(idle, report(0.05, 5.0), 0.0)
    assert {pool.pick(1.0).address for _ in range(50)} == {"idle:1"}  # 0 ms read as instant would pick busy
    pool.reported(idle, report(0.05, 0.0), 0.0)
    assert {pool.pick(1.0).address for _ in range(50)} == {"idle:1"}  # neither knows: utilization alone
    pool.reported(busy, report(0.95, 0.1), 0.0)
    pool.reported(idle, report(0.05, 5.0), 0.0)
    assert {pool.pick(1.0).address for _ in range(50)} == {"busy:1"}  # both measured: 0.2 ÷ 0.05 beats 5.1 ÷ 0.95
