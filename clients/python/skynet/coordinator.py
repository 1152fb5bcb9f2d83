"""The coordinator client: every method of docs/WIRE.md ("Coordinator methods"), watches that
resume without gap or duplicate, and sessions that keep themselves alive."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping, Sequence

from .errors import BadRequest, DeadlineExceeded, SessionNotFound, SkynetError, SlowConsumer, Unavailable, from_wire
from .rpc import Connection
from .tls import TLS

log = logging.getLogger("skynet.coordinator")

#: Where the coordinator is when neither the code nor ``SKYNET_COORDINATORS`` says.
DEFAULT_COORDINATORS = "127.0.0.1:8046"


@dataclass(frozen=True)
class File:
    """A file of the tree: its value and revisions (``session`` when it is ephemeral)."""

    path: str
    value: bytes
    create_rev: int
    mod_rev: int
    version: int
    session: int | None = None

    @staticmethod
    def from_wire(value: dict[str, Any]) -> File:
        raw = value["value"]
        return File(
            value["path"], raw.encode() if isinstance(raw, str) else bytes(raw), value["createRev"], value["modRev"],
            value["version"], value.get("session") or None,
        )


@dataclass(frozen=True)
class Event:
    """One change: ``kind`` is ``"put"`` or ``"delete"`` (value empty)."""

    rev: int
    path: str
    kind: str
    value: bytes

    @staticmethod
    def from_wire(value: dict[str, Any]) -> Event:
        raw = value.get("value") or b""
        return Event(value["rev"], value["path"], value["kind"], raw.encode() if isinstance(raw, str) else bytes(raw))


@dataclass(frozen=True)
class WatchUpdate:
    """One revision's events for a watch (whole revisions, oldest first), or progress: no
    events, nothing watched changed up to ``rev``."""

    rev: int
    events: tuple[Event, ...] = ()

    @property
    def is_progress(self) -> bool:
        return not self.events


@dataclass(frozen=True)
class Stat:
    """What a path is: ``kind`` ``"file"`` (with revisions, size, session) or ``"dir"`` (with ``children``)."""

    kind: str
    create_rev: int = 0
    mod_rev: int = 0
    version: int = 0
    size: int = 0
    session: int | None = None
    children: int = 0

    @staticmethod
    def from_wire(value: dict[str, Any]) -> Stat:
        if value.get("kind") == "dir":
            return Stat("dir", children=value.get("children", 0))
        return Stat("file", value["createRev"], value["modRev"], value["version"], value["size"], value.get("session") or None)


@dataclass(frozen=True)
class TxnResult:
    """A transaction's outcome: the revision, which branch ran, and each operation's result
    (``{"rev"}`` for writes, ``{"file": File or None}`` for reads)."""

    rev: int
    succeeded: bool
    results: list[dict[str, Any]]


def op_set(path: str, value: bytes | str, if_rev: int = -1, session: int = 0) -> dict[str, Any]:
    """A transaction's ``set`` operation."""
    op: dict[str, Any] = {"op": "set", "path": path, "value": value, "ifRev": if_rev}
    if session:
        op["session"] = session
    return op


def op_del(path: str, if_rev: int = -1) -> dict[str, Any]:
    """A transaction's ``del`` operation."""
    return {"op": "del", "path": path, "ifRev": if_rev}


def op_get(path: str) -> dict[str, Any]:
    """A transaction's ``get`` operation."""
    return {"op": "get", "path": path}


def compare(path: str, target: str, relation: str, value: Any) -> dict[str, Any]:
    """A transaction's compare: ``target`` one of value, modRev, createRev, version, exists;
    ``relation`` one of ==, !=, <, >."""
    return {"path": path, "target": target, "relation": relation, "value": value}


class Backoff:
    """Equal-jitter exponential backoff, 50 ms doubling to 2 s (as the Swift client's)."""

    def __init__(self, base: float = 0.05, cap: float = 2.0, rng: random.Random | None = None) -> None:
        self.base, self.cap, self.failures = base, cap, 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        step = min(self.cap, self.base * 2**self.failures)
        self.failures = min(self.failures + 1, 30)
        return float(step / 2 + self.rng.uniform(0, step / 2))

    def reset(self) -> None:
        self.failures = 0


def addresses_from(addresses: str | Sequence[str] | None) -> list[str]:
    """The coordinator addresses: given, else ``SKYNET_COORDINATORS``, else 127.0.0.1:8046."""
    if addresses is None:
        addresses = os.environ.get("SKYNET_COORDINATORS") or DEFAULT_COORDINATORS
    if isinstance(addresses, str):
        addresses = addresses.split(",")
    found = [a.strip() for a in addresses if a.strip()]
    if not found:
        raise ValueError("no coordinator address given")
    return found


def token_from(token: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token given, else ``SKYNET_TOKEN``; ``@FILE`` reads it from a file. None: anonymous."""
    text = token if token is not None else (os.environ if environ is None else environ).get("SKYNET_TOKEN") or None
    if text is not None and text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            text = handle.read().strip()
    if text is not None and (not text or any(c.isspace() for c in text)):
        raise ValueError("a token is one word without spaces")
    return text


class Coordinator:
    """A client of the coordinator: one connection at a time to one of ``addresses``,
    reconnecting round-robin with backoff.

    Reads broken by a lost connection are retried once; writes are not (they may have
    applied) and raise :class:`Unavailable`. A call that gets no connection within its
    timeout raises :class:`Unavailable` naming every address and the last error.
    """

    def __init__(
        self,
        addresses: str | Sequence[str] | None = None,
        *,
        timeout: float = 5.0,
        max_buffered_updates: int = 1024,
        rng: random.Random | None = None,
        tls: TLS | None = None,
        token: str | None = None,
    ) -> None:
        self.addresses = addresses_from(addresses)
        self.tls = TLS.from_environment() if tls is None else tls
        #: The token presented (``auth``) on every connection, for a coordinator with auth on;
        #: from ``SKYNET_TOKEN`` (``@FILE`` reads a file) when not given.
        self.token = token_from(token)
        self.timeout = timeout
        self.max_buffered_updates = max_buffered_updates
        self._rng = rng or random.Random()
        self._next_address = 0
        self._connection: Connection | None = None
        self._connecting: asyncio.Future[Connection] | None = None
        self._watches: set[Watch] = set()
        self._routes: dict[int, Watch] = {}
        self._next_wire = 0
        self._closed = False
        self._changed = asyncio.Event()

    # -- connection

    async def _connect(self, deadline: float) -> Connection:
        loop = asyncio.get_running_loop()
        connection = self._connection
        if connection is not None and connection.active:
            return connection
        if self._closed:
            raise Unavailable("the coordinator client is closed", {"notSent": True})
        if self._connecting is None or self._connecting.done():
            self._connecting = loop.create_task(self._dial())
        connecting = self._connecting
        try:
            return await asyncio.wait_for(asyncio.shield(connecting), max(deadline - loop.time(), 0))
        except asyncio.TimeoutError:
            raise Unavailable(f"no coordinator reachable at {', '.join(self.addresses)} ({self._last_error})", {"notSent": True}) from None
        except asyncio.CancelledError:
            if connecting.cancelled() and self._closed:  # closed while connecting: not our caller's cancellation
                raise Unavailable("the coordinator client is closed", {"notSent": True}) from None
            raise

    _last_error = "not tried yet"

    async def _dial(self) -> Connection:
        backoff = Backoff(rng=self._rng)
        while not self._closed:
            address = self.addresses[self._next_address % len(self.addresses)]
            self._next_address += 1
            try:
                connection = await Connection.open(address, self.timeout, self._notification, self._lost, tls=self.tls)
                if self.token is not None:
                    try:
                        await connection.call("auth", [self.token], timeout=self.timeout)
                    except Exception:
                        await connection.close()
                        raise  # Unauthorized: another address or try will not help
            except Unavailable as error:
                self._last_error = error.message
                if self._next_address % len(self.addresses) == 0:
                    await asyncio.sleep(backoff.next())
                continue
            self._connection = connection
            for watch in list(self._watches):
                watch._resubscribe()
            return connection
        raise Unavailable("the coordinator client is closed", {"notSent": True})

    def _lost(self, connection: Connection) -> None:
        if self._connection is connection:
            self._connection = None
        for wire, watch in list(self._routes.items()):
            if watch._connection is connection:
                del self._routes[wire]
                watch._connection = None
                watch._wire = None
                if not self._closed:
                    watch._resubscribe()

    async def call(self, method: str, *params: Any, idempotent: bool = False, timeout: float | None = None) -> Any:
        """Calls a coordinator method with positional params. Reads (``idempotent``) are
        retried once after a lost connection."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.timeout)
        for attempt in (0, 1):
            connection = await self._connect(deadline)
            try:
                return await connection.call(method, list(params), max(deadline - loop.time(), 0.001))
            except Unavailable as error:
                if attempt == 0 and (idempotent or error.not_sent) and loop.time() < deadline:
                    continue
                raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Ends every watch and closes the connection."""
        self._closed = True
        for watch in list(self._watches):
            watch._finish(None)
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._connection is not None:
            await self._connection.close()

    async def __aenter__(self) -> Coordinator:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- methods

    async def get(self, path: str, at_rev: int = 0) -> tuple[int, File | None]:
        """The file at ``path`` now (or at revision ``at_rev``), with the revision read."""
        result = await self.call("get", path, at_rev, idempotent=True)
        return result["rev"], File.from_wire(result["file"]) if result["file"] is not None else None

    async def set(self, path: str, value: bytes | str, if_rev: int = -1, session: int = 0) -> int:
        """Writes ``value``; returns the new revision. ``if_rev``: -1 always, 0 only if absent,
        n only if its last change was revision n (else :class:`RevMismatch`). ``session``
        binds the file to a session (deleted when it ends)."""
        return int((await self.call("set", path, value, if_rev, session))["rev"])

    async def delete(self, path: str, if_rev: int = -1) -> int:
        """Deletes the file (the wire method ``del``); returns the new revision."""
        return int((await self.call("del", path, if_rev))["rev"])

    async def getdir(self, path: str) -> tuple[int, list[str]]:
        """The names under a directory, sorted."""
        result = await self.call("getdir", path, idempotent=True)
        return result["rev"], list(result["names"])

    async def walk_page(self, glob: str, after: str | None = None) -> tuple[int, list[File], bool]:
        """One page of files matching ``glob`` after path ``after``; ``more`` when others follow."""
        result = await self.call("walk", glob, after, idempotent=True)
        return result["rev"], [File.from_wire(f) for f in result["files"]], bool(result["more"])

    async def walk(self, glob: str) -> tuple[int, list[File]]:
        """Every file matching ``glob`` (``*`` one segment, ``**`` any), in path order, with
        the revision of the first page."""
        files: list[File] = []
        rev, after = None, None
        while True:
            page_rev, page, more = await self.walk_page(glob, after)
            rev = rev if rev is not None else page_rev
            files += page
            if not more or not page:
                return rev, files
            after = page[-1].path

    async def stat(self, path: str) -> tuple[int, Stat | None]:
        """What ``path`` is, or None."""
        result = await self.call("stat", path, idempotent=True)
        return result["rev"], Stat.from_wire(result["stat"]) if result["stat"] is not None else None

    async def txn(self, compares: list[dict[str, Any]], success: list[dict[str, Any]], failure: list[dict[str, Any]] = []) -> TxnResult:  # noqa: B006
        """Runs ``success`` if every compare holds, else ``failure``, atomically (see
        :func:`compare`, :func:`op_set`, :func:`op_del`, :func:`op_get`)."""
        result = await self.call("txn", compares, success, failure)
        results = [{"file": File.from_wire(r["file"]) if r.get("file") else None} if "file" in r else r for r in result["results"]]
        return TxnResult(result["rev"], bool(result["succeeded"]), results)

    async def status(self) -> dict[str, Any]:
        """The coordinator's status map (revision, files, sessions, members, ...)."""
        return dict(await self.call("status", idempotent=True))

    async def open_session(self, ttl: float = 5.0) -> Session:
        """Opens a session of ``ttl`` seconds (0.1 to 3600) that keeps itself alive until
        closed; files written with it are deleted when it ends."""
        result = await self.call("openSession", int(ttl * 1000))
        return Session(self, result["session"], result["ttlMs"] / 1000)

    def watch(self, glob: str, from_rev: int = 0) -> Watch:
        """Changes under ``glob`` from revision ``from_rev`` (0: from now), as an async iterator
        of :class:`WatchUpdate`; resumes by itself after a reconnect, with no gap and no
        duplicate. Ends with :class:`Compacted` if history no longer reaches back."""
        if from_rev < 0:
            raise BadRequest(f"watch: from_rev must be 0 (from now) or a revision, found {from_rev}")
        return Watch(self, glob, from_rev)

    # -- watch plumbing

    def _wire_id(self) -> int:
        self._next_wire += 1
        return self._next_wire

    def _notification(self, connection: Connection, method: str, params: Any) -> None:
        if not isinstance(params, list) or len(params) < 2:
            return
        wires = params[0] if isinstance(params[0], list) else [params[0]]
        if method == "watch":
            events = [Event.from_wire(e) for e in params[1]]
            for wire in wires:
                watch = self._routes.get(wire)
                if watch is not None and watch._connection is connection:
                    watch._events(events)
        elif method == "progress":
            for wire in wires:
                watch = self._routes.get(wire)
                if watch is not None and watch._connection is connection:
                    watch._progress(params[1])
        elif method == "watchCancelled":
            watch = self._routes.pop(params[0], None)
            if watch is not None:
                watch._cancelled(from_wire(params[1]))


class Watch:
    """An async iterator of :class:`WatchUpdate` for one glob (see :meth:`Coordinator.watch`).

    A consumer that falls ``max_buffered_updates`` behind is not buffered further: the watch
    is dropped on the server and resumes from history once half is taken."""

    def __init__(self, coordinator: Coordinator, glob: str, from_rev: int) -> None:
        self._coordinator = coordinator
        self.glob = glob
        self.next_rev = from_rev
        self._buffer: collections.deque[WatchUpdate] = collections.deque()
        self._ready = asyncio.Event()
        self._error: BaseException | None = None
        self._done = False
        self._paused = False
        self._started = False
        self._wire: int | None = None
        self._connection: Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def __aiter__(self) -> AsyncIterator[WatchUpdate]:
        return self

    async def __anext__(self) -> WatchUpdate:
        if not self._started:
            self._started = True
            self._coordinator._watches.add(self)
            self._resubscribe()
        while not self._buffer:
            if self._done:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        update = self._buffer.popleft()
        if self._paused and len(self._buffer) <= self._coordinator.max_buffered_updates // 2:
            self._paused = False
            self._resubscribe()
        return update

    async def close(self) -> None:
        """Stops the watch (also on the server)."""
        wire, connection = self._wire, self._connection
        self._finish(None)
        if wire is not None and connection is not None and connection.active:
            try:
                await connection.call("unwatch", [wire], 2.0)
            except SkynetError:
                pass

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- called by the coordinator client

    def _resubscribe(self) -> None:
        if self._done or self._paused or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._subscribe())

    async def _subscribe(self) -> None:
        coordinator = self._coordinator
        backoff = Backoff(rng=coordinator._rng)
        loop = asyncio.get_running_loop()
        while not self._done and not self._paused:
            if self._wire is not None:
                return
            try:
                connection = await coordinator._connect(loop.time() + 3600)
            except Unavailable:
                if coordinator._closed:
                    return
                await asyncio.sleep(backoff.next())
                continue
            wire = coordinator._wire_id()
            self._wire, self._connection = wire, connection
            coordinator._routes[wire] = self
            try:
                result = await connection.call("watch", [wire, self.glob, self.next_rev], coordinator.timeout)
            except (Unavailable, DeadlineExceeded):
                coordinator._routes.pop(wire, None)
                if self._wire == wire:
                    self._wire, self._connection = None, None
                await asyncio.sleep(backoff.next())
                continue
            except SkynetError as error:
                coordinator._routes.pop(wire, None)
                self._finish(error)
                return
            if self._wire != wire:  # moved on meanwhile
                return
            if self.next_rev == 0:
                self.next_rev = result["rev"] + 1
            return

    def _events(self, events: list[Event]) -> None:
        fresh = tuple(e for e in events if e.rev >= self.next_rev)
        if not fresh or self._done or self._paused:
            return
        if len(self._buffer) >= self._coordinator.max_buffered_updates:
            self._pause()
            return
        self.next_rev = fresh[-1].rev + 1
        self._push(WatchUpdate(fresh[-1].rev, fresh))

    def _progress(self, rev: int) -> None:
        if self._done or self._paused or self.next_rev == 0 or rev < self.next_rev - 1:
            return
        self.next_rev = max(self.next_rev, rev + 1)
        if len(self._buffer) < self._coordinator.max_buffered_updates:
            self._push(WatchUpdate(rev))

    def _cancelled(self, error: SkynetError) -> None:
        self._wire, self._connection = None, None
        if isinstance(error, SlowConsumer):
            self._resubscribe()  # from next_rev: what the server dropped comes back from history
        else:
            self._finish(error)

    def _pause(self) -> None:
        self._paused = True
        wire, connection = self._wire, self._connection
        self._coordinator._routes.pop(wire or -1, None)
        self._wire, self._connection = None, None
        if wire is not None and connection is not None and connection.active:
            connection.call_nowait("unwatch", [wire]).add_done_callback(lambda f: f.exception())

    def _push(self, update: WatchUpdate) -> None:
        self._buffer.append(update)
        self._ready.set()

    def _finish(self, error: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        self._error = error
        self._coordinator._watches.discard(self)
        if self._wire is not None:
            self._coordinator._routes.pop(self._wire, None)
        if self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
            self._task.cancel()
        self._ready.set()


class Session:
    """A coordinator session that keeps itself alive (every third of its TTL, more often
    while the coordinator is unreachable). ``lost`` is set once the coordinator says it no
    longer exists; files bound to it are gone then."""

    def __init__(self, coordinator: Coordinator, session_id: int, ttl: float) -> None:
        self.id = session_id
        self.ttl = ttl
        self.lost = asyncio.Event()
        self._coordinator = coordinator
        self._task = asyncio.get_running_loop().create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        wait = self.ttl / 3
        while True:
            await asyncio.sleep(wait)
            try:
                await self._coordinator.call("keepAlive", self.id, timeout=max(self.ttl / 3, 0.05))
                wait = self.ttl / 3
            except SessionNotFound:
                log.warning("session %d is gone", self.id)
                self.lost.set()
                return
            except SkynetError:
                wait = self.ttl / 10

    async def close(self) -> int:
        """Ends the session (its files are deleted in one revision); returns how many."""
        self._task.cancel()
        if self.lost.is_set():
            return 0
        try:
            result = await self._coordinator.call("closeSession", self.id)
        except SessionNotFound:
            return 0
        return int(result["deleted"])

    def stop_keepalive(self) -> None:
        """Stops the keepalives without closing (the session then expires after its TTL)."""
        self._task.cancel()

