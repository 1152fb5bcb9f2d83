"""Finding and calling: :class:`Client` and the pool it returns per service,
:class:`ServiceClient` (docs/WIRE.md, "Pools")."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import Any, Sequence

from .coordinator import Backoff, Coordinator
from .errors import DeadlineExceeded, NoInstances, SkynetError, Unavailable
from .pool import Instance, InstancePool, RetryBudget
from .registry import Query, ServiceInfo
from .rpc import Connection
from .tls import TLS

log = logging.getLogger("skynet.client")

#: The notification a client sends once per connection to get the instance's load reports.
LOAD_SUBSCRIBE = "skynet.load.subscribe"
#: The notification that carries one (about once a second).
LOAD_REPORT = "skynet.load"


class Client:
    """Finds and calls Skynet services::

        async with Client() as client:
            echo = client.service("echo")
            print(await echo.send("echo", "I'm connected!!"))

    ``coordinators`` (else ``SKYNET_COORDINATORS``, else 127.0.0.1:8046), ``region`` and
    ``host`` (else ``SKYNET_REGION`` / ``SKYNET_HOST``: where the caller is, preferred when
    picking instances), ``timeout`` (seconds, the default deadline of a call).
    """

    def __init__(
        self,
        coordinators: str | Sequence[str] | None = None,
        *,
        region: str | None = None,
        host: str | None = None,
        timeout: float = 5.0,
        load_ceiling: float | None = None,
        rng: random.Random | None = None,
        tls: TLS | None = None,
        token: str | None = None,
    ) -> None:
        self.coordinator = Coordinator(coordinators, timeout=timeout, rng=rng, tls=tls, token=token)
        self.tls = self.coordinator.tls
        self.region = region if region is not None else os.environ.get("SKYNET_REGION")
        self.host = host if host is not None else os.environ.get("SKYNET_HOST")
        self.timeout = timeout
        self.load_ceiling = load_ceiling
        self._rng = rng or random.Random()
        self._pools: dict[Query, ServiceClient] = {}
        self._budget = RetryBudget()

    def service(self, name: str, version: str | None = None, region: str | None = None, host: str | None = None) -> ServiceClient:
        """The pool for instances of ``name`` (narrowed by version, region, host); one per
        criteria, following the registry from its first call until :meth:`close`."""
        query = Query(name, version, region, host)
        pool = self._pools.get(query)
        if pool is None:
            pool = self._pools[query] = ServiceClient(self, query)
        return pool

    async def close(self) -> None:
        """Closes every pool and the coordinator connection."""
        for pool in list(self._pools.values()):
            await pool.close()
        self._pools.clear()
        await self.coordinator.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class ServiceClient:
    """A pool over the instances of one service: follows the registry (keeping the last known
    instances while the coordinator is away), one connection per instance, picks by place
    then power of two choices, drops a broken instance at once and reconnects it with
    backoff. :meth:`send` holds one deadline over all attempts and retries only what is safe.
    """

    def __init__(self, client: Client, query: Query) -> None:
        self.client = client
        self.query = query
        self.pool = InstancePool(client.region, client.host, client.load_ceiling, random.Random(client._rng.random()))
        self._connections: dict[str, Connection] = {}
        self._dialers: dict[str, asyncio.Task[None]] = {}
        self._follower: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closed = False
        self.known = False  # the registry has been read at least once

    # -- following the registry

    def _start(self) -> None:
        if self._follower is None and not self._closed:
            self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        backoff = Backoff()
        while not self._closed:
            try:
                async for infos in self.query.watch(self.client.coordinator):
                    self._apply(infos)
                    backoff.reset()
            except SkynetError as error:
                log.debug("registry watch of %s ended: %s; keeping the last known instances", self.query.glob, error)
            if self._closed or self.client.coordinator._closed:
                return
            await asyncio.sleep(max(0.2, backoff.next()))

    def _apply(self, infos: list[ServiceInfo]) -> None:
        records = []
        for info in infos:
            standby = not info.registered and (info.out_of_rotation or {}).get("cause") == "overloaded"
            records.append((info.service_address, info.region, info.host, info.registered, standby))
        added, removed = self.pool.update(records)
        self.known = True
        for address in removed:
            dialer = self._dialers.pop(address, None)
            if dialer is not None:
                dialer.cancel()
            connection = self._connections.pop(address, None)
            if connection is not None:
                asyncio.get_running_loop().create_task(connection.close())
        for address in added:
            self._dial(address)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _dial(self, address: str) -> None:
        if address not in self._dialers and not self._closed:
            self._dialers[address] = asyncio.get_running_loop().create_task(self._connect(address))

    async def _connect(self, address: str) -> None:
        backoff = Backoff()
        try:
            while not self._closed and address in self.pool.instances:
                try:
                    connection = await Connection.open(address, self.client.timeout, self._notification, self._lost, tls=self.client.tls)
                except Unavailable:
                    await asyncio.sleep(backoff.next())
                    continue
                if address not in self.pool.instances or self._closed:
                    await connection.close()
                    return
                connection.notify(LOAD_SUBSCRIBE, [])
                self._connections[address] = connection
                self.pool.set_connected(self.pool.instances[address], True)
                self._wake()
                return
        finally:
            self._dialers.pop(address, None)

    def _lost(self, connection: Connection) -> None:
        if self._connections.get(connection.address) is connection:
            del self._connections[connection.address]
            instance = self.pool.instances.get(connection.address)
            if instance is not None:
                self.pool.set_connected(instance, False)
                self._dial(connection.address)
            self._wake()

    def _notification(self, connection: Connection, method: str, params: Any) -> None:
        if method == LOAD_REPORT and isinstance(params, list) and params and isinstance(params[0], dict):
            instance = self.pool.instances.get(connection.address)
            if instance is not None:
                self.pool.reported(instance, params[0], asyncio.get_running_loop().time())

    # -- calling

    async def instances(self) -> list[str]:
        """The addresses the pool knows (after reading the registry once)."""
        self._start()
        while not self.known and not self._closed:
            await self._changed.wait()
        return sorted(self.pool.instances)

    async def send(self, method: str, *params: Any, timeout: float | None = None, key: str | None = None, idempotent: bool = False) -> Any:
        """Calls ``method`` on one instance and returns its result.

        ``timeout`` (seconds, default the client's) covers every attempt. ``key`` sends all
        calls with that key to the same instance while the set of instances stays the same.
        A call that cannot have run is retried on another instance; ``idempotent`` calls are
        also retried after a lost connection or an attempt timeout (each attempt then gets
        half the time left). Server errors go to the caller as their :class:`SkynetError`;
        no instance before the deadline is :class:`NoInstances`.
        """
        if self._follower is None:
            self._start()
        loop = asyncio.get_running_loop()
        now = started = loop.time()
        deadline = started + (timeout if timeout is not None else self.client.timeout)
        self.client._budget.request(started)
        tried: set[str] = set()
        attempt = 0
        last_error: SkynetError | None = None
        while True:
            if attempt > 0 or last_error is not None:
                now = loop.time()
            left = deadline - now
            if left <= 0:
                if last_error is not None and attempt > 0:
                    raise DeadlineExceeded(f"{method}: no answer within {deadline - started:.3f} s over {attempt} attempts; last: {last_error}")
                raise NoInstances(f"no instance of {self.query.glob} could take the call before the deadline")
            instance = self.pool.pick(now, key, tried)
            connection = self._connections.get(instance.address) if instance is not None else None
            if instance is None or connection is None or not connection.active:
                if instance is not None and connection is not None:
                    self.pool.set_connected(instance, False)  # going away: skip until it is back
                    self._dial(instance.address)
                waiter = self._changed
                try:
                    # Until the pool changes, or an ejection ends by itself, or the deadline.
                    await asyncio.wait_for(waiter.wait(), min(left, self.pool.next_change(now) - now))
                except asyncio.TimeoutError:
                    pass
                now = loop.time()
                continue
            # An idempotent call may try again after a timeout, so each attempt gets half the time left.
            attempt_timeout = min(max(left / 2, 0.1), left) if idempotent else left
            call_params = list(params)
            if attempt > 0:
                call_params.append({"skynet": {"attempt": attempt, "timeout_ms": max(int(attempt_timeout * 1000), 1)}})
            instance.outstanding += 1
            try:
                result = await connection.call(method, call_params, attempt_timeout)
            except asyncio.CancelledError:
                raise
            except Unavailable as error:
                retryable = error.not_sent or idempotent
                if not error.not_sent:
                    self.pool.failed(instance, loop.time())
                last_error = error
                if not retryable or not self._may_retry(instance, tried, attempt):
                    raise
                attempt += 1
                continue
            except DeadlineExceeded as error:
                self.pool.failed(instance, loop.time())
                last_error = error
                if not idempotent or loop.time() >= deadline or not self._may_retry(instance, tried, attempt):
                    raise
                attempt += 1
                continue
            except SkynetError:
                self.pool.succeeded(instance)  # it answered: alive
                raise
            finally:
                instance.outstanding -= 1
            self.pool.succeeded(instance)
            return result

    def _may_retry(self, instance: Instance, tried: set[str], attempt: int) -> bool:
        tried.add(instance.address)
        if len(tried) >= len(self.pool.instances):
            tried.clear()  # every instance tried once: any may take the next attempt
        return self.client._budget.try_retry(asyncio.get_running_loop().time())

    async def close(self) -> None:
        """Stops following the registry and closes the connections."""
        self._closed = True
        if self._follower is not None:
            self._follower.cancel()
        for dialer in list(self._dialers.values()):
            dialer.cancel()
        connections, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        self._wake()
