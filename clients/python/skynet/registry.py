"""The registry: where instances live in the tree, what they publish, and :class:`Query`
(docs/WIRE.md, "Registry layout")."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from .coordinator import Backoff, Coordinator
from .errors import Compacted, SkynetError
from .rpc import pack, unpack

#: The directory every service lives under.
ROOT = "/skynet/services"
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def instance_path(name: str, version: str, region: str, host: str, port: int) -> str:
    """``/skynet/services/<name>/<version>/<region>/<host>/<port>``."""
    return f"{ROOT}/{name}/{version}/{region}/{host}/{port}"


def instance_glob(name: str | None = None, version: str | None = None, region: str | None = None, host: str | None = None) -> str:
    """The glob over instances matching the criteria (None or empty matches any)."""
    return ROOT + "/" + "/".join(part or "*" for part in (name, version, region, host)) + "/*"


def parse_instance_path(path: str) -> tuple[str, str, str, str, int] | None:
    """(name, version, region, host, port) of an instance path, or None."""
    if not path.startswith(ROOT + "/"):
        return None
    parts = path[len(ROOT) + 1 :].split("/")
    if len(parts) != 5 or not parts[4].isdigit():
        return None
    return parts[0], parts[1], parts[2], parts[3], int(parts[4])


def validate_segment(value: str, field_name: str) -> str:
    """Checks that ``value`` can be one segment of an instance path; ``ValueError`` naming the field."""
    if not value:
        raise ValueError(f"{field_name}: must not be empty")
    if not _SEGMENT.match(value):
        raise ValueError(f"{field_name}: {value!r} cannot be a path segment: segments may only use A-Z a-z 0-9 . _ -")
    if value in (".", ".."):
        raise ValueError(f"{field_name}: {value!r} cannot be a path segment: segments . and .. are not allowed")
    return value


@dataclass
class ServiceInfo:
    """What an instance publishes in its ephemeral registry file, as a MessagePack map with
    the camelCase names of docs/WIRE.md."""

    uuid: str
    name: str
    version: str
    region: str
    host: str
    service_address: str
    admin_address: str
    pid: int
    started: datetime
    registered: bool
    out_of_rotation: dict[str, str] | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.service_address.rpartition(":")[2])

    @property
    def path(self) -> str:
        return instance_path(self.name, self.version, self.region, self.host, self.port)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "uuid": self.uuid, "name": self.name, "version": self.version, "region": self.region, "host": self.host,
            "serviceAddress": self.service_address, "adminAddress": self.admin_address, "pid": self.pid,
            "started": self.started, "registered": self.registered, "metadata": self.metadata,
        }
        if self.out_of_rotation is not None:
            wire["outOfRotation"] = self.out_of_rotation
        return wire

    def encode(self) -> bytes:
        return pack(self.to_wire())

    @staticmethod
    def from_wire(value: dict[str, Any]) -> ServiceInfo:
        raw = value.get("started")
        if isinstance(raw, datetime):
            started = raw
        elif isinstance(raw, (int, float)):
            started = datetime.fromtimestamp(raw, timezone.utc)
        else:
            raise ValueError(f"instance record: started must be a timestamp, found {raw!r:.40}")
        return ServiceInfo(
            value["uuid"], value["name"], value["version"], value["region"], value["host"], value["serviceAddress"],
            value["adminAddress"], value["pid"], started, bool(value["registered"]), value.get("outOfRotation"),
            dict(value.get("metadata") or {}),
        )

    @staticmethod
    def decode(data: bytes) -> ServiceInfo:
        return ServiceInfo.from_wire(unpack(data))


@dataclass(frozen=True)
class Query:
    """Criteria over the registry; None or empty matches any. ``registered`` (when not None)
    keeps only instances in (True) or out of (False) rotation."""

    name: str | None = None
    version: str | None = None
    region: str | None = None
    host: str | None = None
    registered: bool | None = None

    @property
    def glob(self) -> str:
        return instance_glob(self.name, self.version, self.region, self.host)

    def matches(self, info: ServiceInfo) -> bool:
        def same(wanted: str | None, actual: str) -> bool:
            return not wanted or wanted == actual

        return (
            same(self.name, info.name) and same(self.version, info.version) and same(self.region, info.region)
            and same(self.host, info.host) and (self.registered is None or self.registered == info.registered)
        )

    def _decode(self, files: list[Any]) -> list[ServiceInfo]:
        found = []
        for file in files:
            try:
                info = ServiceInfo.decode(file.value)
            except (ValueError, KeyError, TypeError):
                continue  # not an instance record: not ours to judge
            if self.matches(info):
                found.append(info)
        return found

    async def instances(self, coordinator: Coordinator) -> list[ServiceInfo]:
        """Matching instances, sorted by path."""
        return self._decode((await coordinator.walk(self.glob))[1])

    async def hosts(self, coordinator: Coordinator) -> list[str]:
        """Hosts with a matching instance, sorted."""
        return sorted({i.host for i in await self.instances(coordinator)})

    async def services(self, coordinator: Coordinator) -> list[str]:
        """Services with a matching instance, sorted."""
        return sorted({i.name for i in await self.instances(coordinator)})

    async def regions(self, coordinator: Coordinator) -> list[str]:
        """Regions with a matching instance, sorted."""
        return sorted({i.region for i in await self.instances(coordinator)})

    async def versions(self, coordinator: Coordinator) -> list[str]:
        """Versions with a matching instance, sorted."""
        return sorted({i.version for i in await self.instances(coordinator)})

    async def watch(self, coordinator: Coordinator) -> AsyncIterator[list[ServiceInfo]]:
        """The matching set now and after every change (each element the whole set, sorted
        by path), resuming across coordinator reconnects; after ``Compacted`` it walks again."""
        backoff = Backoff()
        while True:
            try:
                rev, files = await coordinator.walk(self.glob)
            except SkynetError:
                if coordinator._closed:
                    return
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            current = {f.path: f.value for f in files}
            yield self._decode([_Entry(p, v) for p, v in sorted(current.items())])
            watch = coordinator.watch(self.glob, rev + 1)
            try:
                async for update in watch:
                    if update.is_progress:
                        continue
                    for event in update.events:
                        if event.kind == "put":
                            current[event.path] = event.value
                        else:
                            current.pop(event.path, None)
                    yield self._decode([_Entry(p, v) for p, v in sorted(current.items())])
                return  # the coordinator client was closed
            except Compacted:
                continue
            finally:
                await watch.close()


@dataclass(frozen=True)
class _Entry:
    path: str
    value: bytes
