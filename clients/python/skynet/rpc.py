"""MessagePack-RPC over TCP, the way Skynet speaks it (docs/WIRE.md, "Framing").

Request ``[0, msgid, method, params]``, response ``[1, msgid, error, result]``, notification
``[2, method, params]``, back to back on one connection. :class:`Connection` is the calling
side (many calls in flight, matched by msgid); :class:`RPCServer` the serving side (calls on
one connection run concurrently and are answered as they finish).
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import inspect
import logging
import ssl
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Union

import msgpack

from .tls import TLS
from .tls import describe as describe_tls
from .errors import BadRequest, DeadlineExceeded, Internal, NoSuchMethod, SkynetError, TooLarge, Unavailable, from_wire

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2
#: The largest message either side accepts (Skynet's servers refuse larger ones with ``TooLarge``).
MAX_MESSAGE = 4 * 1024 * 1024
#: The notification a server sends before it closes a connection on shutdown.
GOAWAY = "skynet.goaway"
_READ = 64 * 1024
_MAX_MSGID = 2**32

log = logging.getLogger("skynet.rpc")


def pack(value: Any) -> bytes:
    """MessagePack bytes as Skynet writes them: str as str, bytes as bin, an aware
    ``datetime`` as the timestamp extension."""
    return typing.cast(bytes, msgpack.packb(value, use_bin_type=True, datetime=True))


def unpack(data: bytes) -> Any:
    """One MessagePack value, read the way :func:`pack` writes it."""
    return msgpack.unpackb(data, raw=False, timestamp=3, strict_map_key=False)


def _unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(raw=False, timestamp=3, strict_map_key=False, max_buffer_size=MAX_MESSAGE + _READ)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) to its parts; ``ValueError`` naming the rule otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r}: expected HOST:PORT with a port from 0 to 65535")
    return host.strip("[]"), int(port)


def call_metadata(params: list[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    """Strips Skynet's optional trailing call-metadata element ``{"skynet": {...}}``."""
    if params and isinstance(params[-1], dict) and len(params[-1]) == 1 and isinstance(params[-1].get("skynet"), dict):
        return params[:-1], params[-1]["skynet"]
    return params, None


# ----------------------------------------------------------------------------------------------
# Calling


class Connection:
    """One TCP connection to a MessagePack-RPC server: many calls in flight, matched by msgid.

    A lost connection fails every call in flight with :class:`Unavailable` at once. After the
    server's ``skynet.goaway`` the connection takes no new calls (refused with ``notSent``, so
    callers may go elsewhere), lets its calls finish and closes itself.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        on_notification: Callable[[Connection, str, Any], None] | None = None,
        on_close: Callable[[Connection], None] | None = None,
    ) -> None:
        self.address = address
        self._reader = reader
        self._writer = writer
        self._on_notification = on_notification
        self._on_close = on_close
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._deadlines: dict[int, tuple[float, str, float]] = {}  # msgid: (deadline, method, timeout)
        self._deadline_heap: list[tuple[float, int]] = []  # may hold answered calls; skipped lazily
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._out: list[bytes] = []
        self._pack = msgpack.Packer(use_bin_type=True, datetime=True).pack  # one per connection: a Packer is not thread-safe
        self._congested = False
        self._next_id = 0
        self._active = True
        self._closed = False
        self._lost: SkynetError | None = None
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()
        self._read_task = self._loop.create_task(self._read_loop())

    @classmethod
    async def open(
        cls,
        address: str,
        timeout: float = 5.0,
        on_notification: Callable[[Connection, str, Any], None] | None = None,
        on_close: Callable[[Connection], None] | None = None,
        tls: TLS | None = None,
    ) -> Connection:
        """Connects to ``address`` (``host:port``), over TLS when given ``tls`` (the
        handshake included in ``timeout``); :class:`Unavailable` when it cannot."""
        host, port = split_address(address)
        try:
            if tls is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=_READ), timeout)
            else:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(
                    host, port, limit=_READ, ssl=tls.client_context(), server_hostname=host), timeout)
        except ssl.SSLError as error:
            raise Unavailable(f"TLS with {address} failed: {describe_tls(error)}", {"notSent": True}) from None
        except (OSError, asyncio.TimeoutError) as error:
            raise Unavailable(f"cannot connect to {address}: {error or 'timed out'}", {"notSent": True}) from None
        return cls(reader, writer, address, on_notification, on_close)

    @property
    def active(self) -> bool:
        """True while the connection takes new calls."""
        return self._active

    @property
    def in_flight(self) -> int:
        """Calls sent and not yet answered."""
        return len(self._pending)

    def call_nowait(self, method: str, params: list[Any], timeout: float | None = None) -> asyncio.Future[Any]:
        """Sends a request; the future holds the result or the error. What :meth:`call` awaits."""
        if not self._active:
            if self._lost is not None:  # why it failed (a TLS refusal), not only that it is closed
                raise Unavailable(self._lost.message, {"notSent": True})
            raise Unavailable(f"connection to {self.address} is closed", {"notSent": True})
        self._next_id = (self._next_id + 1) % _MAX_MSGID
        msgid = self._next_id
        try:
            frame = self._pack([REQUEST, msgid, method, params])
        except (TypeError, ValueError, OverflowError) as error:
            raise BadRequest(f"{method}: params cannot be encoded as MessagePack: {error}") from None
        if len(frame) > MAX_MESSAGE:
            raise TooLarge(f"request of {len(frame)} bytes exceeds the maximum message size of {MAX_MESSAGE} bytes")
        future = self._loop.create_future()
        self._pending[msgid] = future
        self._write(frame)
        if timeout is not None:
            deadline = self._loop.time() + max(timeout, 0)
            self._deadlines[msgid] = (deadline, method, timeout)
            heapq.heappush(self._deadline_heap, (deadline, msgid))
            if deadline < self._timer_at:
                self._arm(deadline)
            elif len(self._deadline_heap) > 2 * len(self._deadlines) + 1024:
                self._deadline_heap = [(d, i) for i, (d, _, _) in self._deadlines.items()]
                heapq.heapify(self._deadline_heap)
        return future

    def _write(self, frame: bytes) -> None:
        # Frames written in one turn of the loop leave in one send.
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(frame)

    def _flush(self) -> None:
        if self._out and not self._closed:
            self._writer.write(b"".join(self._out))
            self._congested = self._writer.transport.get_write_buffer_size() > 1 << 20
        self._out.clear()

    def _arm(self, deadline: float) -> None:
        """One timer per connection, armed for the earliest deadline of a call in flight."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._expire_due)

    def _expire_due(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now, heap = self._loop.time(), self._deadline_heap
        while heap and (heap[0][0] <= now or heap[0][1] not in self._deadlines):
            _, msgid = heapq.heappop(heap)
            expiry = self._deadlines.get(msgid)
            if expiry is None or expiry[0] > now:
                continue  # answered meanwhile (or a later call that reused the msgid)
            del self._deadlines[msgid]
            future = self._pending.pop(msgid, None)
            if future is not None and not future.done():
                future.set_exception(DeadlineExceeded(f"{expiry[1]}: no answer from {self.address} within {expiry[2]:.3f} s"))
        if heap:
            self._arm(heap[0][0])
        self._maybe_finish_goaway()

    async def call(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        """Calls ``method``; raises the server's error as its :class:`SkynetError` subclass,
        :class:`DeadlineExceeded` after ``timeout`` seconds, :class:`Unavailable` when the
        connection is lost."""
        future = self.call_nowait(method, params, timeout)
        if self._congested:  # the peer does not read as fast as we write: wait for it
            await self._writer.drain()
            self._congested = self._writer.transport.get_write_buffer_size() > 1 << 20
        try:
            return await future
        except asyncio.CancelledError:
            self._forget(future)
            raise

    def notify(self, method: str, params: list[Any]) -> None:
        """Sends a notification (no answer)."""
        if not self._closed:
            self._write(pack([NOTIFICATION, method, params]))

    async def close(self) -> None:
        """Takes no new calls, waits for those in flight, then closes."""
        self._active = False
        if self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)
        self._shut(Unavailable(f"connection to {self.address} closed"))
        await asyncio.shield(self.closed)

    def abort(self) -> None:
        """Closes at once, failing the calls in flight."""
        self._shut(Unavailable(f"connection to {self.address} closed"))

    def _forget(self, future: asyncio.Future[Any]) -> None:
        for msgid, pending in list(self._pending.items()):
            if pending is future:
                del self._pending[msgid]
                self._deadlines.pop(msgid, None)
        self._maybe_finish_goaway()

    def _maybe_finish_goaway(self) -> None:
        if not self._active and not self._pending and not self._closed:
            self._shut(Unavailable(f"connection to {self.address} closed"))

    async def _read_loop(self) -> None:
        unpacker = _unpacker()
        reason: SkynetError = Unavailable(f"connection to {self.address} lost")
        try:
            while True:
                data = await self._reader.read(_READ)
                if not data:
                    break
                unpacker.feed(data)
                for message in unpacker:
                    self._receive(message)
        except (msgpack.UnpackException, ValueError) as error:
            reason = Unavailable(f"connection to {self.address} lost: the server sent bytes that are not MessagePack-RPC ({error})")
        except ssl.SSLError as error:  # under TLS 1.3 a refused client certificate shows here
            reason = Unavailable(f"TLS with {self.address} failed: {describe_tls(error)}")
        except (OSError, asyncio.CancelledError):
            pass
        except Exception as error:  # a notification the consumer could not take: never leave calls hanging
            log.exception("closing the connection to %s", self.address)
            reason = Unavailable(f"connection to {self.address} closed: {type(error).__name__}: {error}")
        self._shut(reason)

    def _receive(self, message: Any) -> None:
        if not isinstance(message, list) or not message:
            raise ValueError(f"message is not an array: {message!r:.80}")
        kind = message[0]
        if kind == RESPONSE and len(message) == 4:
            future = self._pending.pop(message[1], None) if isinstance(message[1], int) else None
            if future is not None:
                self._deadlines.pop(message[1], None)
            if future is not None and not future.done():
                if message[2] is not None:
                    future.set_exception(from_wire(message[2]))
                else:
                    future.set_result(message[3])
            self._maybe_finish_goaway()
        elif kind == NOTIFICATION and len(message) == 3 and isinstance(message[1], str):
            if message[1] == GOAWAY:
                self._active = False
                self._maybe_finish_goaway()
            elif self._on_notification is not None:
                self._on_notification(self, message[1], message[2])
        else:
            raise ValueError(f"unexpected message {message!r:.80}")

    def _shut(self, reason: SkynetError) -> None:
        if self._closed:
            return
        self._lost = reason
        self._flush()
        self._closed = True
        self._active = False
        pending, self._pending = self._pending, {}
        self._deadlines.clear()
        if self._timer is not None:
            self._timer.cancel()
        for future in pending.values():
            if not future.done():
                future.set_exception(type(reason)(reason.message, reason.data))
        self._writer.close()
        if asyncio.current_task() is not self._read_task:
            self._read_task.cancel()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_close is not None:
            self._on_close(self)


# ----------------------------------------------------------------------------------------------
# Serving

Handler = Callable[..., Any]
_SIMPLE = {str: "str", int: "int", float: "float", bool: "bool", bytes: "bin", list: "array", dict: "map"}


def _wire_type(value: Any) -> str:
    if value is None:
        return "nil"
    for python, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (bytes, "bin"), (list, "array"), (dict, "map")):
        if isinstance(value, python):
            return name
    return type(value).__name__


@dataclass
class _Param:
    name: str
    accepts: tuple[type, ...] | None  # None: anything
    optional: bool
    wire: str


class Method:
    """One registered handler with what its signature says about its params, so a call with
    missing, extra or mistyped params is refused ``BadRequest`` naming ``params[i]`` before
    the handler runs (as Swift's typed handlers are)."""

    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.params: list[_Param] = []
        self.variadic = False
        signature = inspect.signature(handler)
        try:
            hints = typing.get_type_hints(handler)
        except Exception:  # unresolvable annotations: check counts only
            hints = {}
        for parameter in signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                self.variadic = True
                continue
            if parameter.kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                continue
            accepts, optional_type = self._accepts(hints.get(parameter.name))
            optional = parameter.default is not inspect.Parameter.empty or optional_type
            wire = " or ".join(_SIMPLE[t] for t in accepts if t in _SIMPLE) if accepts else "any"
            self.params.append(_Param(parameter.name, accepts, optional, wire))

    @staticmethod
    def _accepts(hint: Any) -> tuple[tuple[type, ...] | None, bool]:
        if hint is None:
            return None, False
        origin = typing.get_origin(hint)
        if origin is Union or (hasattr(types, "UnionType") and isinstance(hint, types.UnionType)):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            if len(args) == 1:
                accepts, _ = Method._accepts(args[0])
                return accepts, optional
            return None, optional
        base = origin or hint
        if base in _SIMPLE:
            if base is float:
                return (float, int), False
            if base is bytes:
                return (bytes, bytearray), False
            return (base,), False
        return None, False

    def check(self, params: list[Any]) -> None:
        """Raises :class:`BadRequest` naming the first param that does not fit."""
        required = sum(1 for p in self.params if not p.optional)
        if len(params) < required or (len(params) > len(self.params) and not self.variadic):
            names = ", ".join(p.name for p in self.params)
            expected = f"{required}" if required == len(self.params) else f"{required} to {len(self.params)}"
            raise BadRequest(f"{self.name}: expected {expected} params ({names}), found {len(params)}")
        for index, (param, value) in enumerate(zip(self.params, params)):
            if param.accepts is None or (value is None and param.optional):
                continue
            if isinstance(value, bool) and bool not in param.accepts:
                ok = False
            else:
                ok = isinstance(value, param.accepts)
            if not ok:
                raise BadRequest(f"{self.name}: params[{index}] ({param.name}): expected {param.wire}, found {_wire_type(value)}")


class Router:
    """Method names to handlers. A handler takes the params positionally, sync or ``async``;
    what it returns is the result, a :class:`SkynetError` it raises is the error (any other
    exception becomes ``Internal``)."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}

    def add(self, name: str, handler: Handler) -> None:
        """Registers ``handler`` as ``name`` (replacing any earlier one)."""
        if not name:
            raise ValueError("a method needs a name")
        self.methods[name] = Method(name, handler)

    def method(self, name: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`; the function's name when ``name`` is omitted."""

        def register(handler: Handler) -> Handler:
            self.add(name or handler.__name__, handler)
            return handler

        return register


#: The connection of the call being handled: handlers that need to know who calls (the admin
#: methods under auth) read it; everything else takes params only.
current_connection: contextvars.ContextVar[_ServerConnection | None] = contextvars.ContextVar("skynet_connection", default=None)


def _certificate_name(writer: asyncio.StreamWriter) -> str | None:
    """The common name of the peer's certificate when TLS verified one (the server requires
    client certificates), else None."""
    ssl_object = writer.get_extra_info("ssl_object")
    if ssl_object is None or ssl_object.context.verify_mode != ssl.CERT_REQUIRED:
        return None
    certificate = ssl_object.getpeercert()
    for entry in (certificate or {}).get("subject", ()):
        for key, value in entry:
            if key == "commonName":
                return str(value)
    return None


def _peek_msgid(head: bytes) -> int | None:
    """The msgid of a request whose first bytes are ``head`` (``[0, msgid, ...`` as a
    4-element array), so a malformed request can still be answered."""
    if len(head) < 3 or head[0] != 0x94 or head[1] != 0x00:
        return None
    marker = head[2]
    if marker <= 0x7F:
        return marker
    sizes = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
    size = sizes.get(marker)
    if size is None or len(head) < 3 + size:
        return None
    return int.from_bytes(head[3 : 3 + size], "big")


class _ServerConnection:
    def __init__(self, server: RPCServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        #: The token the caller presented with ``auth`` (admin ports), if any.
        self.token: str | None = None
        #: The common name of the client certificate, on a port that requires and verified one.
        self.certificate_name: str | None = _certificate_name(writer)
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.room = asyncio.Event()
        self.room.set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.draining = False
        self.closed = False
        self.out: list[bytes] = []

    def write(self, frame: bytes) -> None:
        # Answers given in one turn of the loop leave in one send.
        if not self.closed:
            if not self.out:
                asyncio.get_running_loop().call_soon(self.flush)
            self.out.append(frame)

    def flush(self) -> None:
        if self.out and not self.closed:
            self.writer.write(b"".join(self.out))
        self.out.clear()

    def notify(self, method: str, params: list[Any]) -> None:
        """Pushes a notification to this caller."""
        self.write(pack([NOTIFICATION, method, params]))

    def answer(self, msgid: int, error: SkynetError | None, result: Any) -> None:
        try:
            frame = pack([RESPONSE, msgid, error.to_wire() if error else None, None if error else result])
        except (TypeError, ValueError, OverflowError) as problem:
            frame = pack([RESPONSE, msgid, Internal(f"the result cannot be encoded as MessagePack: {problem}").to_wire(), None])
        self.write(frame)

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self.closed = True
            self.writer.close()


class RPCServer:
    """Serves a :class:`Router` on a TCP port.

    Bad input never takes the server down: undecodable bytes or a message over
    :data:`MAX_MESSAGE` are answered ``BadRequest``/``TooLarge`` (when the request's msgid can
    be read) and that connection is closed; unknown methods get ``NoSuchMethod``; params that
    do not fit the handler get ``BadRequest``. A caller's deadline (``timeout_ms`` in the call
    metadata) cancels the handler and answers ``DeadlineExceeded``.
    """

    def __init__(
        self,
        router: Router,
        *,
        on_call: Callable[[str, float, SkynetError | None], None] | None = None,
        on_notification: Callable[[Any, str, Any], None] | None = None,
        on_disconnect: Callable[[Any], None] | None = None,
        max_in_flight: int = 1024,
        logger: logging.Logger | None = None,
    ) -> None:
        self.router = router
        self.on_call = on_call
        self.on_notification = on_notification
        self.on_disconnect = on_disconnect
        self.max_in_flight = max_in_flight
        self.log = logger or log
        self.connections: set[_ServerConnection] = set()
        self._server: asyncio.base_events.Server | None = None
        self.address = ""

    async def listen(self, host: str, port: int, tls: TLS | None = None) -> str:
        """Binds ``host:port`` (0 picks a free port), serving TLS when given ``tls``;
        returns the bound ``host:port``. Raises ``OSError`` when the port is taken."""
        context = tls.server_context() if tls is not None else None
        self._server = await asyncio.start_server(self._serve, host, port, limit=_READ, ssl=context)
        bound = self._server.sockets[0].getsockname()
        self.address = f"{host}:{bound[1]}"
        return self.address

    async def shutdown(self, grace: float = 10.0, linger: float = 0.1) -> None:
        """Stops accepting; tells every caller ``skynet.goaway``; answers requests still
        arriving ``Unavailable`` with ``notSent`` (never run, safe to retry); lets calls in
        flight finish within ``grace`` seconds; then closes each connection."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.draining = True
            connection.notify(GOAWAY, ["shutting down"])
        waits = [c.idle.wait() for c in self.connections]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), grace)
            except asyncio.TimeoutError:
                pass
            await asyncio.sleep(linger)  # requests already on the wire are refused, not lost
        for connection in list(self.connections):
            for task in list(connection.tasks):
                task.cancel()
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _ServerConnection(self, reader, writer)
        self.connections.add(connection)
        unpacker = _unpacker()
        fed = 0
        head, head_at = b"", 0  # the first bytes of the message being read, and where it starts
        try:
            while not connection.closed:
                await connection.room.wait()
                data = await reader.read(_READ)
                if not data:
                    await connection.idle.wait()  # a caller that half-closed still gets its answers
                    break
                chunk_at, fed = fed, fed + len(data)
                if head_at + len(head) == chunk_at and len(head) < 16:
                    head += data[: 16 - len(head)]
                try:
                    unpacker.feed(data)
                    for message in unpacker:
                        boundary = unpacker.tell()
                        head, head_at = data[boundary - chunk_at : boundary - chunk_at + 16] if boundary >= chunk_at else b"", boundary
                        if not self._dispatch(connection, message):
                            break
                except msgpack.BufferFull:
                    self._violation(connection, head, TooLarge(f"message exceeds the maximum message size of {MAX_MESSAGE} bytes"))
                except (msgpack.UnpackException, ValueError) as error:
                    self._violation(connection, head, BadRequest(f"not MessagePack: {error}"))
        except (ConnectionError, OSError):
            pass
        except Exception:  # a bug of ours must cost this connection only
            self.log.exception("closing connection from %s", connection.peer)
        finally:
            self.connections.discard(connection)
            for task in list(connection.tasks):
                task.cancel()
            connection.close()
            if self.on_disconnect is not None:
                self.on_disconnect(connection)

    def _violation(self, connection: _ServerConnection, head: bytes, error: SkynetError) -> None:
        msgid = _peek_msgid(head)
        self.log.warning("closing connection from %s: %s", connection.peer, error.message)
        if msgid is not None:
            connection.answer(msgid, error, None)
        connection.close()

    def _dispatch(self, connection: _ServerConnection, message: Any) -> bool:
        """Handles one message; False when the connection is to be closed."""
        if isinstance(message, list) and len(message) == 3 and message[0] == NOTIFICATION and isinstance(message[1], str):
            if self.on_notification is not None:
                self.on_notification(connection, message[1], message[2])
            return True
        msgid = message[1] if isinstance(message, list) and len(message) >= 2 and message[0] == REQUEST else None
        if not isinstance(msgid, int) or isinstance(msgid, bool) or not 0 <= msgid < _MAX_MSGID:
            self.log.warning("closing connection from %s: not a MessagePack-RPC message: %.80r", connection.peer, message)
            connection.close()
            return False
        if len(message) != 4 or not isinstance(message[2], str) or not isinstance(message[3], list):
            what = "4 elements" if len(message) != 4 else ("a str method" if not isinstance(message[2], str) else "an array of params")
            error = BadRequest(f"a request is [0, msgid, method, params]; this one lacks {what}")
            self.log.warning("closing connection from %s: %s", connection.peer, error.message)
            connection.answer(msgid, error, None)
            connection.close()
            return False
        self._start(connection, msgid, message[2], message[3])
        return True

    def _start(self, connection: _ServerConnection, msgid: int, name: str, params: list[Any]) -> None:
        if connection.draining:
            connection.answer(msgid, Unavailable("the server is shutting down; the call did not run", {"notSent": True}), None)
            return
        method = self.router.methods.get(name)
        if method is None:
            connection.answer(msgid, NoSuchMethod(f"no method {name!r}"), None)
            self._count(name, 0.0, NoSuchMethod(""))
            return
        params, metadata = call_metadata(params)
        timeout = None
        if metadata is not None and isinstance(metadata.get("timeout_ms"), int):
            timeout = metadata["timeout_ms"] / 1000
            if timeout <= 0:
                connection.answer(msgid, DeadlineExceeded(f"{name}: the deadline had passed when the call arrived"), None)
                return
        try:
            method.check(params)
        except SkynetError as error:
            connection.answer(msgid, error, None)
            self._count(name, 0.0, error)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        bound = current_connection.set(connection)
        try:
            self._invoke(connection, msgid, name, method, params, timeout, loop, started)
        finally:
            current_connection.reset(bound)

    def _invoke(self, connection: _ServerConnection, msgid: int, name: str, method: Method, params: list[Any],
                timeout: float | None, loop: asyncio.AbstractEventLoop, started: float) -> None:
        if not method.is_async:
            # A plain function answers at once, with no task.
            connection.in_flight += 1
            try:
                result = method.handler(*params)
            except Exception as error:
                failure = self._failure(name, error)
                connection.answer(msgid, failure, None)
                self._count(name, loop.time() - started, failure)
            else:
                connection.answer(msgid, None, result)
                self._count(name, loop.time() - started, None)
            finally:
                connection.in_flight -= 1
            return
        connection.in_flight += 1
        connection.idle.clear()
        if connection.in_flight >= self.max_in_flight:
            connection.room.clear()
        task = loop.create_task(self._run(connection, msgid, method, params, timeout, started))
        connection.tasks.add(task)
        task.add_done_callback(lambda t: self._finished(connection, t))

    async def _run(self, connection: _ServerConnection, msgid: int, method: Method, params: list[Any], timeout: float | None, started: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            if timeout is None:
                result = await method.handler(*params)
            else:
                result = await asyncio.wait_for(method.handler(*params), timeout)
        except asyncio.TimeoutError:
            failure: SkynetError = DeadlineExceeded(f"{method.name}: the caller's deadline of {timeout:.3f} s passed")
            connection.answer(msgid, failure, None)
            self._count(method.name, loop.time() - started, failure)
        except Exception as error:
            failure = self._failure(method.name, error)
            connection.answer(msgid, failure, None)
            self._count(method.name, loop.time() - started, failure)
        else:
            connection.answer(msgid, None, result)
            self._count(method.name, loop.time() - started, None)

    def _finished(self, connection: _ServerConnection, task: asyncio.Task[None]) -> None:
        connection.tasks.discard(task)
        connection.in_flight -= 1
        if connection.in_flight < self.max_in_flight:
            connection.room.set()
        if connection.in_flight == 0:
            connection.idle.set()

    def _failure(self, name: str, error: Exception) -> SkynetError:
        if isinstance(error, SkynetError):
            return error
        self.log.exception("%s failed", name, exc_info=error)
        return Internal(f"{name}: {type(error).__name__}: {error}")

    def _count(self, name: str, seconds: float, error: SkynetError | None) -> None:
        if self.on_call is not None:
            self.on_call(name, seconds, error)

