"""Blocking use, for scripts and notebooks: the asyncio library run on an event loop of its
own in a background thread.

    from skynet.sync import Client

    with Client() as client:
        print(client.service("echo").send("echo", "I'm connected!!"))
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from typing import Any, Sequence

from . import client as _client


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="skynet-sync", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _Blocking:
    """Forwards attribute access to an asyncio object; coroutine methods block until done."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run(value(*args, **kwargs))

        return blocking


class Client:
    """The blocking form of :class:`skynet.Client`: ``service(...)`` returns a pool whose
    ``send`` blocks; ``coordinator`` has the coordinator methods, blocking."""

    def __init__(self, coordinators: str | Sequence[str] | None = None, **options: Any) -> None:
        self._loop = _Loop()

        async def make() -> _client.Client:
            return _client.Client(coordinators, **options)

        self._client = self._loop.run(make())
        self.coordinator = _Blocking(self._client.coordinator, self._loop)

    def service(self, name: str, version: str | None = None, region: str | None = None, host: str | None = None) -> Any:
        """A blocking :class:`skynet.ServiceClient`."""
        return _Blocking(self._client.service(name, version, region, host), self._loop)

    def close(self) -> None:
        """Closes the client and stops its thread."""
        self._loop.run(self._client.close())
        self._loop.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
