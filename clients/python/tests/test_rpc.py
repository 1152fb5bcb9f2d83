"""The RPC layer in-process: deadlines (one timer per connection), batching, goaway."""

from __future__ import annotations

import asyncio

import pytest
from conftest import run

import skynet
from skynet.rpc import Connection, Router, RPCServer


async def serve() -> tuple[RPCServer, str, asyncio.Event]:
    router = Router()
    entered = asyncio.Event()

    @router.method()
    async def wait(seconds: float, label: str) -> str:
        entered.set()
        await asyncio.sleep(seconds)
        return label

    @router.method()
    def echo(value: object) -> object:
        return value

    server = RPCServer(router)
    return server, await server.listen("127.0.0.1", 0), entered


def test_each_call_keeps_its_own_deadline():
    async def scenario():
        server, address, _ = await serve()
        connection = await Connection.open(address)
        loop = asyncio.get_running_loop()
        # Answered calls leave their deadlines behind; they must not expire anything early.
        for i in range(300):
            assert await connection.call("echo", [i], 0.2) == i
        started = loop.time()
        slow = asyncio.ensure_future(connection.call("wait", [0.6, "slow"], 5.0))
        short = asyncio.ensure_future(connection.call("wait", [5.0, "never"], 0.3))
        late = asyncio.ensure_future(connection.call("wait", [5.0, "never"], 0.9))
        with pytest.raises(skynet.DeadlineExceeded, match=r"wait: no answer from .* within 0.300 s"):
            await short
        assert 0.25 <= loop.time() - started < 0.6
        assert await slow == "slow"  # outlived the shorter deadline, answered
        with pytest.raises(skynet.DeadlineExceeded):
            await late
        assert 0.85 <= loop.time() - started
        # Many calls in one turn go out together and each gets its own answer.
        assert await asyncio.gather(*(connection.call("echo", [i], 5) for i in range(500))) == list(range(500))
        await connection.close()
        await server.shutdown(1)

    run(scenario())


def test_goaway_refuses_new_calls_and_lets_running_ones_finish():
    async def scenario():
        server, address, entered = await serve()
        connection = await Connection.open(address)
        running = asyncio.ensure_future(connection.call("wait", [0.3, "done"], 5))
        await asyncio.wait_for(entered.wait(), 5)  # the call runs on the server
        shutdown = asyncio.ensure_future(server.shutdown(5))
        assert await running == "done"
        await asyncio.wait_for(connection.closed, 5)  # it closed itself once idle
        await shutdown
        with pytest.raises(skynet.Unavailable) as refused:
            await connection.call("echo", [1], 1)
        assert refused.value.not_sent

    run(scenario())
