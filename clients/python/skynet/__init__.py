"""Skynet from Python: find, call and serve Skynet services.

The wire this library speaks is specified in docs/WIRE.md of the Skynet repository; nothing
here goes beyond it, so a third language needs only that page.

- :class:`Client` / :class:`ServiceClient`: pools that follow the registry and call instances.
- :class:`Service`: serve methods as a registered instance.
- :class:`Coordinator`: the coordinator's tree, watches and sessions.
- :class:`Query`, :class:`ServiceInfo`: the registry.
- :mod:`skynet.errors`: every error code as an exception; :mod:`skynet.sync`: blocking use.
"""

from .client import Client, ServiceClient
from .coordinator import Coordinator, Event, File, Session, Stat, TxnResult, Watch, WatchUpdate, compare, op_del, op_get, op_set
from .errors import (
    CODES, BadPath, BadRequest, Compacted, DeadlineExceeded, Forbidden, Internal, NoInstances, NoSuchMethod, NotFound,
    NotLeader, ResourceExhausted, RevMismatch, SessionNotFound, SkynetError, SlowConsumer, TooLarge, Unauthorized,
    Unavailable,
)
from .registry import Query, ServiceInfo, instance_glob, instance_path
from .rpc import Connection, Router, RPCServer
from .service import Service
from .tls import TLS, TLSError

__version__ = "0.1.0"

__all__ = [
    "Client", "ServiceClient", "Coordinator", "Event", "File", "Session", "Stat", "TxnResult", "Watch", "WatchUpdate",
    "compare", "op_del", "op_get", "op_set", "CODES", "BadPath", "BadRequest", "Compacted", "DeadlineExceeded",
    "Forbidden", "Internal", "NoInstances", "NoSuchMethod", "NotFound", "NotLeader", "ResourceExhausted", "RevMismatch",
    "SessionNotFound", "SkynetError", "SlowConsumer", "TooLarge", "Unauthorized", "Unavailable", "Query", "ServiceInfo",
    "instance_glob", "instance_path", "Connection", "Router", "RPCServer", "Service", "TLS", "TLSError",
]
