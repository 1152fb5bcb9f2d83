"""Skynet's error codes as exceptions (docs/WIRE.md, "Errors").

Every MessagePack-RPC error is a map ``{"code", "message", "data"?}``; each stable code is a
subclass of :class:`SkynetError`, so callers catch what they act on::

    try:
        await coordinator.set("/config/a", b"1", if_rev=rev)
    except RevMismatch as e:
        print("someone else wrote it:", e.data["current"])
"""

from __future__ import annotations

from typing import Any


class SkynetError(Exception):
    """An error with one of Skynet's stable codes, its message and optional machine-readable data."""

    code: str = "Internal"

    def __init__(self, message: str, data: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, data={self.data!r})"

    @property
    def not_sent(self) -> bool:
        """True when the request cannot have run (never written, or refused unrun by a
        draining server): safe to send again, to any instance."""
        return isinstance(self.data, dict) and self.data.get("notSent") is True

    def to_wire(self) -> dict[str, Any]:
        """The error map a server sends."""
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            wire["data"] = self.data
        return wire


class NoSuchMethod(SkynetError):
    """The server has no method of that name."""
    code = "NoSuchMethod"


class BadRequest(SkynetError):
    """The params were missing, extra or of the wrong type; the message names which."""
    code = "BadRequest"


class RevMismatch(SkynetError):
    """A conditional write found another revision; ``data`` holds ``path``, ``expected``, ``current``."""
    code = "RevMismatch"


class NotFound(SkynetError):
    """No such file (or timer)."""
    code = "NotFound"


class NotLeader(SkynetError):
    """The coordinator member asked cannot serve this; ask another."""
    code = "NotLeader"


class Unavailable(SkynetError):
    """No connection, a lost connection, or a server shutting down; see :attr:`not_sent`."""
    code = "Unavailable"


class DeadlineExceeded(SkynetError):
    """The call's deadline passed before an answer."""
    code = "DeadlineExceeded"


class Unauthorized(SkynetError):
    """No or bad credentials."""
    code = "Unauthorized"


class Forbidden(SkynetError):
    """Authenticated, but not allowed; the message names the path and the permission."""
    code = "Forbidden"


class TooLarge(SkynetError):
    """A value or a message over its limit; the message states the limit."""
    code = "TooLarge"


class ResourceExhausted(SkynetError):
    """A limit on what one caller may hold (connections, watches, queued writes)."""
    code = "ResourceExhausted"


class Internal(SkynetError):
    """The server failed in a way the caller cannot fix."""
    code = "Internal"


class BadPath(SkynetError):
    """A path or glob breaks a rule; the message names it."""
    code = "BadPath"


class Compacted(SkynetError):
    """The revision asked for is no longer kept; ``data["oldest"]`` is the oldest that is."""
    code = "Compacted"


class SessionNotFound(SkynetError):
    """The session expired or was closed; ``data["session"]`` names it."""
    code = "SessionNotFound"


class SlowConsumer(SkynetError):
    """A watcher fell too far behind; resume from ``data["resumeFrom"]`` (the client does)."""
    code = "SlowConsumer"


class NoInstances(SkynetError):
    """No instance of the service could take the call before the deadline."""
    code = "NoInstances"


#: Every code this library knows, to its exception class.
CODES: dict[str, type[SkynetError]] = {
    cls.code: cls
    for cls in (
        NoSuchMethod, BadRequest, RevMismatch, NotFound, NotLeader, Unavailable, DeadlineExceeded,
        Unauthorized, Forbidden, TooLarge, ResourceExhausted, Internal, BadPath, Compacted,
        SessionNotFound, SlowConsumer, NoInstances,
    )
}


def from_wire(value: Any) -> SkynetError:
    """The exception for an error as it arrived on the wire (a map, or anything else a
    foreign server sent)."""
    if isinstance(value, dict):
        code = value.get("code")
        message = value.get("message")
        message = message if isinstance(message, str) else ""
        data = value.get("data")
        if isinstance(code, str):
            cls = CODES.get(code)
            if cls is not None:
                return cls(message, data)
            return SkynetError(message, data, code=code)
    return Internal(f"unrecognised error from the server: {value!r}")
