"""Serving: a Python instance that registers under the same path scheme as Swift ones, answers
MessagePack-RPC and the admin calls, reports its load and stops gracefully
(docs/WIRE.md, "Services")."""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
import signal
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from . import command_line
from .coordinator import Backoff, Coordinator, Session, token_from
from .errors import BadRequest, DeadlineExceeded, Forbidden, SkynetError, Unauthorized, Unavailable
from .registry import ServiceInfo, validate_segment
from .rpc import Handler, Router, RPCServer, current_connection, split_address
from .tls import TLS

log = logging.getLogger("skynet.service")

#: Swift's log levels (what ``logLevel`` takes and answers) and Python's for each.
LOG_LEVELS = {
    "trace": 5, "debug": logging.DEBUG, "info": logging.INFO, "notice": 25,
    "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
}
LOAD_SUBSCRIBE, LOAD_REPORT = "skynet.load.subscribe", "skynet.load"


def parse_range(value: str, what: str) -> tuple[str, int, int]:
    """``HOST:PORT`` or ``HOST:LOW-HIGH`` to (host, low, high); ``ValueError`` naming ``what``."""
    host, sep, ports = value.rpartition(":")
    low, dash, high = ports.partition("-")
    try:
        if not sep or not host:
            raise ValueError
        first, last = int(low), int(high) if dash else int(low)
        if not 0 <= first <= last <= 65535:
            raise ValueError
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not HOST:PORT or HOST:LOW-HIGH with ports from 0 to 65535") from None
    return host.strip("[]"), first, last


class _Stats:
    """Calls answered, failed and running, the latencies of the last 1,024, and their sum
    since the last load report."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=1024)
        self._window = (0.0, 0)

    def record(self, _method: str, seconds: float, error: SkynetError | None) -> None:
        self.requests += 1
        if error is not None:
            self.errors += 1
        self.latencies.append(seconds * 1000)
        total, calls = self._window
        self._window = (total + seconds * 1000, calls + 1)

    def take_window_mean(self) -> float:
        """The mean latency since the last call of this, 0.0 when no call was answered: what a
        load report carries, so an instance no longer called stops advertising old figures
        (pools read 0 as unknown, not instant)."""
        total, calls = self._window
        self._window = (0.0, 0)
        return total / calls if calls else 0.0

    def latency(self) -> tuple[float, float]:
        if not self.latencies:
            return 0.0, 0.0
        ordered = sorted(self.latencies)
        return sum(ordered) / len(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Service:
    """One instance of a Skynet service::

        service = Service("echo", version="1", region="us")

        @service.method()
        def echo(text: str) -> str:
            return text

        service.serve()   # registers, serves until SIGTERM/SIGINT or `sky stop`, then drains

    Every setting may come from the environment like a Swift service's, the variable winning
    over the code: ``SKYNET_NAME``, ``SKYNET_VERSION``, ``SKYNET_REGION``, ``SKYNET_HOST``,
    ``SKYNET_SERVICE_ADDR`` and ``SKYNET_ADMIN_ADDR`` (``HOST:PORT`` or ``HOST:LOW-HIGH``; the
    first free port is taken), ``SKYNET_COORDINATORS``.
    """

    def __init__(
        self,
        name: str,
        version: str = "1",
        region: str = "local",
        host: str | None = None,
        *,
        listen: str = "127.0.0.1:9000-9999",
        admin: str = "127.0.0.1:9000-9999",
        coordinators: str | Sequence[str] | None = None,
        metadata: dict[str, str] | None = None,
        health_check: Callable[[], Any] | None = None,
        load: Callable[[float], float] | None = None,
        session_ttl: float = 5.0,
        drain_delay: float = 0.25,
        grace: float = 10.0,
        load_interval: float = 1.0,
        health_check_interval: float = 3.0,
        environ: dict[str, str] | None = None,
        tls: TLS | None = None,
        insecure: bool = False,
        token: str | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.name = validate_segment(env.get("SKYNET_NAME") or name, "name")
        self.version = validate_segment(env.get("SKYNET_VERSION") or version, "version")
        self.region = validate_segment(env.get("SKYNET_REGION") or region, "region")
        self.listen = parse_range(env.get("SKYNET_SERVICE_ADDR") or listen, "service address")
        self.admin = parse_range(env.get("SKYNET_ADMIN_ADDR") or admin, "admin address")
        chosen_host = env.get("SKYNET_HOST") or host
        self.host = validate_segment(chosen_host, "host") if chosen_host else None
        self.coordinators = coordinators if env.get("SKYNET_COORDINATORS") is None else env["SKYNET_COORDINATORS"]
        self.tls = TLS.from_environment(env) if tls is None else tls
        self.insecure = insecure or (env.get("SKYNET_INSECURE") or "").lower() in ("true", "1", "yes")
        self.token = token_from(token, env)
        for (address_host, _, _), what in ((self.listen, "calls"), (self.admin, "admin calls")):
            if self.tls is None and self.token is None and not self.insecure and not is_loopback(address_host):
                raise ValueError(
                    f"refusing to serve {what} on {address_host} with neither TLS nor auth, where anyone who reaches it can use it: give it TLS "
                    "(SKYNET_TLS_CERT and SKYNET_TLS_KEY; `sky tls` makes a CA and certificates) or auth (SKYNET_TOKEN), "
                    "or insecure=True (SKYNET_INSECURE=true)")
        if self.tls is not None and not self.tls.can_serve:
            raise ValueError("serving TLS needs a certificate and its key (SKYNET_TLS_CERT and SKYNET_TLS_KEY)")
        self.metadata = {"language": "python", **(metadata or {})}
        self.health_check = health_check
        self.load = load
        self.session_ttl = session_ttl
        self.drain_delay = drain_delay
        self.grace = grace
        self.load_interval = load_interval
        self.health_check_interval = health_check_interval
        self.router = Router()
        self.logger = log
        self.info: ServiceInfo | None = None
        self.coordinator: Coordinator | None = None
        self.session: Session | None = None
        self._stats = _Stats()
        self._subscribers: set[Any] = set()
        self._server = RPCServer(self.router, on_call=self._stats.record, on_notification=self._notification,
                                 on_disconnect=self._subscribers.discard, logger=log)
        self._authority = AdminAuthority(self)
        self._admin = RPCServer(self._admin_router(), logger=log)
        self._wanted, self._wanted_detail = True, ""
        self._health_error: str | None = None
        self._publish_lock = asyncio.Lock()
        self._published: tuple[bool, Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        self._started_at = datetime.now(timezone.utc)
        self._last_sample = (time.monotonic(), time.process_time(), 0)
        self._cpu = 0.0
        self._calls_per_second = 0.0

    @classmethod
    def from_command_line(cls, name: str, version: str = "1", region: str = "local", *, argv: Sequence[str] | None = None, **options: Any) -> Service:
        """A service configured like a Swift one: the flags of ``argv`` (default
        ``sys.argv[1:]``: ``-name -version -region -host -l -admin -coordinators``) over the
        ``SKYNET_*`` variables over these defaults. Help prints the flags and exits 0; a bad
        flag or value prints one line naming it and exits 2."""
        program = os.path.basename(sys.argv[0]) or "service"
        arguments = list(sys.argv[1:] if argv is None else argv)
        try:
            line = command_line.read(arguments)
            if line.help:
                defaults = {"name": name, "version": version, "region": region, "l": options.get("listen", "127.0.0.1:9000-9999"),
                            "admin": options.get("admin", "127.0.0.1:9000-9999"), "coordinators": "127.0.0.1:8046"}
                print(command_line.usage(program, defaults))
                raise SystemExit(0)
            return cls(name, version, region, environ=line.environ, **options)
        except ValueError as error:
            command_line.fail(program, error)
            raise  # unreachable: fail exits

    # -- methods

    def method(self, name: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator registering a function (sync or ``async``, params positional) as a method;
        its name unless ``name`` is given. Type hints of plain types (str, int, float, bool,
        bytes, list, dict, optional ones) are checked before it runs: a mistyped call gets
        ``BadRequest`` naming the param."""
        return self.router.method(name)

    def add_method(self, name: str, handler: Handler) -> None:
        """Registers ``handler`` as method ``name``."""
        self.router.add(name, handler)

    # -- lifecycle

    async def bind(self, wait: bool = False) -> ServiceInfo:
        """Binds the service and admin ports, opens a session and registers; returns the
        record. ``OSError`` when a port range is exhausted. With no coordinator answering:
        :class:`Unavailable` at once, or with ``wait`` (what :meth:`start` and :meth:`run`
        do) a retry with backoff until one answers or :meth:`stop` is called."""
        service_address = await self._listen(self._server, self.listen, "service address", self.tls)
        admin_address = await self._listen(self._admin, self.admin, "admin address", self.tls)
        host = self.host or service_address.rpartition(":")[0]
        self.coordinator = Coordinator(self.coordinators, tls=self.tls, token=self.token)
        self.info = ServiceInfo(
            str(uuid.uuid4()), self.name, self.version, self.region, host, service_address, admin_address,
            os.getpid(), self._started_at, True, None, dict(self.metadata),
        )
        backoff = Backoff(cap=5.0)
        while True:
            try:
                self.session = await self.coordinator.open_session(self.session_ttl)
                await self._publish(force=True)
                break
            except (Unavailable, DeadlineExceeded) as error:
                if not wait or self._stopping:
                    raise
                log.warning("waiting for a coordinator to register with: %s", error)
                await asyncio.sleep(backoff.next())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow_session()), loop.create_task(self._report_load())]
        if self.health_check is not None:
            self._tasks.append(loop.create_task(self._check_health()))
        log.info("%s serving %s, registered at %s", self.name, service_address, self.info.path)
        return self.info

    async def run(self) -> None:
        """Binds when needed and serves until :meth:`stop` (or an admin ``stop``) has finished."""
        if self.info is None:
            try:
                await self.bind(wait=True)
            except (Unavailable, DeadlineExceeded):
                if not self._stopping:
                    raise
        await self._stopped.wait()

    async def start(self, on_serving: Callable[[ServiceInfo], Any] | None = None) -> None:
        """The whole program: binds, calls ``on_serving`` with the record, serves until
        SIGTERM, SIGINT or an admin ``stop``, then stops gracefully."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: loop.create_task(self.stop()))
        try:
            try:
                info = await self.bind(wait=True)
            except (Unavailable, DeadlineExceeded):
                if not self._stopping:
                    raise
                await self._stopped.wait()  # stopped while waiting for a coordinator
                return
            if on_serving is not None:
                result = on_serving(info)
                if inspect.isawaitable(result):
                    await result
                sys.stdout.flush()
            await self._stopped.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    def serve(self, on_serving: Callable[[ServiceInfo], Any] | None = None) -> None:
        """:meth:`start` on a fresh event loop, for a script's last line."""
        asyncio.run(self.start(on_serving))

    async def stop(self) -> None:
        """Leaves rotation, keeps serving ``drain_delay`` while clients move away, drains the
        calls in flight (``grace``), closes the session (the registry entry goes) and the
        admin port. Safe to call more than once."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            self._wanted, self._wanted_detail = False, "stopping"
            if self.session is not None:
                try:
                    await asyncio.wait_for(self._publish(), self.grace)
                except (SkynetError, asyncio.TimeoutError) as error:
                    log.warning("could not leave rotation before stopping: %s", error)
                await asyncio.sleep(self.drain_delay)  # clients following the registry move away meanwhile
            await self._server.shutdown(self.grace)
            for task in self._tasks:
                task.cancel()
            if self.session is not None:
                try:
                    await asyncio.wait_for(self.session.close(), 5)
                except (SkynetError, asyncio.TimeoutError) as error:
                    log.warning("could not close the session (the entry expires with it): %s", error)
            if self.coordinator is not None:
                await self.coordinator.close()
            await self._admin.shutdown(1.0)
        finally:
            self._stopped.set()

    async def register(self) -> None:
        """Back into rotation (the admin ``register``)."""
        self._wanted, self._wanted_detail = True, ""
        await self._publish()

    async def unregister(self, detail: str = "unregistered by an admin") -> None:
        """Out of rotation, still serving (the admin ``unregister``)."""
        self._wanted, self._wanted_detail = False, detail
        await self._publish()

    # -- what it publishes

    def _rotation(self) -> tuple[bool, dict[str, str] | None]:
        if not self._wanted:
            return False, {"cause": "unregistered", "detail": self._wanted_detail}
        if self._health_error is not None:
            return False, {"cause": "unhealthy", "detail": self._health_error}
        return True, None

    async def _publish(self, force: bool = False) -> None:
        """Writes the record when what it says changed; the newest always lands last."""
        async with self._publish_lock:
            assert self.info is not None and self.coordinator is not None and self.session is not None
            registered, reason = self._rotation()
            if not force and self._published == (registered, reason):
                return
            self.info.registered, self.info.out_of_rotation = registered, reason
            self._published = None
            await self.coordinator.set(self.info.path, self.info.encode(), session=self.session.id)
            self._published = (registered, reason)

    async def _follow_session(self) -> None:
        while True:
            assert self.session is not None and self.coordinator is not None
            await self.session.lost.wait()
            log.warning("session lost; opening a new one and registering again")
            backoff = Backoff()
            while True:
                try:
                    self.session = await self.coordinator.open_session(self.session_ttl)
                    await self._publish(force=True)
                    break
                except SkynetError as error:
                    log.warning("registering again failed: %s", error)
                    await asyncio.sleep(backoff.next())

    async def _check_health(self) -> None:
        assert self.health_check is not None
        while True:
            await asyncio.sleep(self.health_check_interval)
            try:
                result = self.health_check()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, self.health_check_interval)
                error = None
            except asyncio.TimeoutError:
                error = f"the health check did not answer within {self.health_check_interval} s"
            except Exception as failure:  # the check's own error is the reason shown
                error = str(failure) or type(failure).__name__
            if error != self._health_error:
                self._health_error = error
                try:
                    await self._publish()
                except SkynetError as failure:
                    log.warning("could not publish the health change: %s", failure)

    # -- load and stats

    def _sample(self) -> dict[str, Any]:
        now, cpu_now, requests_before = time.monotonic(), time.process_time(), self._last_sample[2]
        before, cpu_before, _ = self._last_sample
        elapsed = max(now - before, 1e-6)
        self._cpu = min((cpu_now - cpu_before) / elapsed / (os.cpu_count() or 1), 1.0)
        self._calls_per_second = (self._stats.requests - requests_before) / elapsed
        self._last_sample = (now, cpu_now, self._stats.requests)
        report = self._report()
        report["meanLatencyMs"] = self._stats.take_window_mean()
        return report

    def _report(self) -> dict[str, Any]:
        mean, p99 = self._stats.latency()
        utilization = self.load(self._cpu) if self.load is not None else self._cpu
        return {
            "utilization": float(utilization), "cpu": self._cpu, "inFlight": self._in_flight(),
            "callsPerSecond": self._calls_per_second, "meanLatencyMs": mean, "p99LatencyMs": p99,
        }

    def _in_flight(self) -> int:
        return sum(c.in_flight for c in self._server.connections)

    async def _report_load(self) -> None:
        while True:
            await asyncio.sleep(self.load_interval)
            report = self._sample()
            for connection in list(self._subscribers):
                connection.notify(LOAD_REPORT, [report])
            if self._published is None:  # the last write failed: try again
                try:
                    await self._publish(force=True)
                except SkynetError as error:
                    log.warning("publishing the record failed again: %s", error)

    def _notification(self, connection: Any, method: str, _params: Any) -> None:
        if method == LOAD_SUBSCRIBE:
            self._subscribers.add(connection)

    def stats(self) -> dict[str, Any]:
        """What the admin ``stats`` answers (the fields of docs/WIRE.md, "Admin methods")."""
        report = self._report()
        try:
            with open("/proc/self/statm") as statm:
                memory = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            memory = 0
        stats = {
            "requests": self._stats.requests, "errors": self._stats.errors, "inFlight": report["inFlight"],
            "callsPerSecond": report["callsPerSecond"], "meanLatencyMs": report["meanLatencyMs"],
            "p99LatencyMs": report["p99LatencyMs"], "started": self._started_at, "cpuSeconds": time.process_time(),
            "cpu": report["cpu"], "utilization": report["utilization"], "memoryBytes": memory,
            "load": os.getloadavg()[0],
        }
        _, reason = self._rotation()
        if reason is not None:
            stats["outOfRotation"] = reason
        return stats

    # -- admin

    def _admin_router(self) -> Router:
        router = Router()

        async def register() -> bool:
            await self._authority.require("register")
            await self.register()
            return True

        async def unregister() -> bool:
            await self._authority.require("unregister")
            await self.unregister()
            return True

        async def stop() -> bool:
            await self._authority.require("stop")
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.stop()))  # answer first
            return True

        def auth(token: str) -> bool:
            connection = current_connection.get()
            if connection is not None:
                connection.token = token
            return True

        async def log_level(level: str | None = None) -> str:
            await self._authority.require("logLevel")
            if level is not None:
                if level not in LOG_LEVELS:
                    raise BadRequest(f"logLevel: expected one of {', '.join(LOG_LEVELS)}, found {level!r}")
                logging.getLogger("skynet").setLevel(LOG_LEVELS[level])
                self.logger.setLevel(LOG_LEVELS[level])
            effective = logging.getLogger("skynet").getEffectiveLevel()
            return min(LOG_LEVELS, key=lambda name: abs(LOG_LEVELS[name] - effective))

        def info() -> dict[str, Any]:
            if self.info is None:
                raise Unavailable("service not started")
            return self.info.to_wire()

        router.add("register", register)
        router.add("unregister", unregister)
        router.add("stop", stop)
        router.add("logLevel", log_level)
        router.add("stats", self.stats)
        router.add("info", info)
        router.add("auth", auth)
        return router

    @staticmethod
    async def _listen(server: RPCServer, address: tuple[str, int, int], what: str, tls: TLS | None) -> str:
        host, low, high = address
        last: OSError | None = None
        for port in range(low, high + 1):
            try:
                return await server.listen(host, port, tls)
            except OSError as error:
                last = error
        raise OSError(f"{what}: no free port in {host}:{low}-{high} ({last})")



class AdminAuthority:
    """Who may make this instance's state-changing admin calls when its coordinator has auth
    on: a caller whose token (``auth`` on the admin connection) — or verified client
    certificate — holds ``admin`` on the instance's path, as the coordinator says
    (``checkAccess``, answers remembered for two seconds). Without auth, everyone."""

    cache_for = 2.0

    def __init__(self, service: Service) -> None:
        self.service = service
        self._answers: dict[tuple[str, str, str], tuple[bool, str, float]] = {}

    async def require(self, method: str) -> None:
        service = self.service
        if service.coordinator is None or service.info is None:
            raise Unavailable("service not started")
        connection = current_connection.get()
        token = connection.token if connection is not None else None
        certificate = connection.certificate_name if connection is not None and token is None else None
        path = service.info.path
        key = (token or "", certificate or "", path)
        now = time.monotonic()
        answer = self._answers.get(key)
        if answer is None or answer[2] <= now:
            params: list[Any] = [token or "", path, "admin"] + ([certificate] if certificate is not None else [])
            try:
                result = await service.coordinator.call("checkAccess", *params, idempotent=True)
                answer = (not result.get("enabled") or bool(result.get("allowed")), str(result.get("reason") or ""), now + self.cache_for)
            except Unauthorized:
                answer = (False, "", now + self.cache_for)
            self._answers = {k: v for k, v in self._answers.items() if v[2] > now}
            self._answers[key] = answer
        allowed, reason, _ = answer
        if allowed:
            return
        if (token is None and certificate is None) or not reason:
            raise Unauthorized(f"{method}: this instance obeys admin calls only from a token with admin on {path}: call auth with one first (sky --token)")
        raise Forbidden(f"{method}: {reason}")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine reaches: 127.0.0.0/8, ::1 and ``localhost``."""
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")
