"""The pool's decisions, without sockets: which instance takes a call (tiers by place, power
of two choices, load reports, key affinity), ejection, and the retry budget. The same rules
as the Swift ``InstancePool``, ``HashRing`` and ``RetryBudget`` (docs/WIRE.md, "Pools")."""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Any, Iterable

_MASK = (1 << 64) - 1


def ring_hash(key: str) -> int:
    """FNV-1a then the SplitMix64 finalizer: the hash every Skynet client puts keys and ring
    points through, so Python and Swift callers send a key to the same instance."""
    h = 0xCBF29CE484222325
    for byte in key.encode():
        h ^= byte
        h = (h * 0x100000001B3) & _MASK
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
    return h ^ (h >> 31)


class HashRing:
    """Consistent hashing over members (service addresses), 160 points each."""

    def __init__(self, members: Iterable[str], points_per_member: int = 160) -> None:
        self.members = sorted(set(members))
        pairs = sorted((ring_hash(f"{m}#{p}"), i) for i, m in enumerate(self.members) for p in range(points_per_member))
        self._points = [h for h, _ in pairs]
        self._owners = [i for _, i in pairs]

    def owner(self, key: str) -> str | None:
        """The member owning ``key``, or None for an empty ring."""
        if not self._points:
            return None
        index = bisect.bisect_left(self._points, ring_hash(key))
        return self.members[self._owners[index if index < len(self._points) else 0]]


@dataclass
class Instance:
    """What the pool knows of one instance."""

    address: str
    region: str
    host: str
    registered: bool = True
    standby: bool = False  # out of rotation for load only: called when nothing else can be
    connected: bool = False
    outstanding: int = 0
    failures: int = 0
    ejected_until: float = 0.0
    ejections: int = 0
    report: dict[str, Any] | None = None
    report_at: float = 0.0


class InstancePool:
    """Picks instances: eligible ones are registered, connected and not ejected (and, with a
    ``load_ceiling``, not reporting more); tiers are the caller's host, its region, then
    anywhere; within a tier the better of two random picks by cost. Nothing eligible: the
    ceiling is dropped; still nothing: standby instances (out of rotation for load only)."""

    FAILURES_TO_EJECT = 5
    REPORT_LIFETIME = 5.0

    def __init__(self, region: str | None = None, host: str | None = None, load_ceiling: float | None = None, rng: random.Random | None = None) -> None:
        self.region = region
        self.host = host
        self.load_ceiling = load_ceiling
        self.rng = rng or random.Random()
        self.instances: dict[str, Instance] = {}
        self._ring: HashRing | None = None
        # The tier a plain pick draws from, kept until something it depends on changes (a
        # call's pick then costs two random draws, not a pass over every instance).
        self._tier: list[Instance] | None = None
        self._tier_until = 0.0

    def update(self, records: Iterable[tuple[str, str, str, bool, bool]]) -> tuple[list[str], list[str]]:
        """Replaces the set with (address, region, host, registered, standby) records; returns
        (added, removed) addresses."""
        seen = {}
        for address, region, host, registered, standby in records:
            seen[address] = (region, host, registered, standby)
        removed = [a for a in self.instances if a not in seen]
        for address in removed:
            del self.instances[address]
        added = []
        for address, (region, host, registered, standby) in seen.items():
            instance = self.instances.get(address)
            if instance is None:
                instance = self.instances[address] = Instance(address, region, host)
                added.append(address)
            instance.registered, instance.standby = registered, standby
        self._ring = None
        self._tier = None
        return added, removed

    def set_connected(self, instance: Instance, connected: bool) -> None:
        """Whether ``instance`` has a connection that takes calls."""
        if instance.connected != connected:
            instance.connected = connected
            self._tier = None

    def reported(self, instance: Instance, report: dict[str, Any], now: float) -> None:
        """The instance's latest load report (``skynet.load``)."""
        instance.report, instance.report_at = report, now
        if self.load_ceiling is not None:
            self._tier = None

    def _fresh_report(self, instance: Instance, now: float) -> dict[str, Any] | None:
        if instance.report is not None and now - instance.report_at < self.REPORT_LIFETIME:
            return instance.report
        return None

    @staticmethod
    def _latency(instance: Instance) -> float:
        return max(float((instance.report or {}).get("meanLatencyMs", 0.0)), 0.0)

    def _cost(self, instance: Instance, latency: float | None) -> float:
        """Outstanding calls × latency ÷ (1 − utilization) when both picks have a fresh report
        (``latency`` given), else outstanding calls."""
        if latency is None:
            return float(instance.outstanding)
        utilization = min(float((instance.report or {}).get("utilization", 0.0)), 0.99)
        return (instance.outstanding + 1) * (latency + 0.1) / (1 - utilization)

    def _eligible(self, now: float, avoiding: set[str], ceiling: bool) -> list[Instance]:
        found = []
        for instance in self.instances.values():
            if not (instance.registered and instance.connected and instance.ejected_until <= now) or instance.address in avoiding:
                continue
            if ceiling and self.load_ceiling is not None:
                report = self._fresh_report(instance, now)
                if report is not None and float(report.get("utilization", 0.0)) > self.load_ceiling:
                    continue
            found.append(instance)
        return found

    def pick(self, now: float, key: str | None = None, avoiding: set[str] | None = None) -> Instance | None:
        """The instance for the next call, or None when no instance can take it now."""
        if key is None and not avoiding:
            if self._tier is None or now >= self._tier_until:
                self._tier, self._tier_until = self._preferred_tier(now)
            return self._two_choices(self._tier, now) if self._tier else None
        avoiding = avoiding or set()
        candidates = self._candidates(now, avoiding)
        if not candidates:
            return None
        if key is not None:
            available = sorted(i.address for i in candidates)
            if self._ring is None or self._ring.members != available:
                self._ring = HashRing(available)
            owner = self._ring.owner(key)
            return self.instances[owner] if owner is not None else None
        return self._two_choices(self._tier_of(candidates), now)

    def _candidates(self, now: float, avoiding: set[str]) -> list[Instance]:
        candidates = self._eligible(now, avoiding, True) or self._eligible(now, avoiding, False)
        if not candidates:
            candidates = [i for i in self.instances.values() if i.standby and i.connected and i.address not in avoiding]
        return candidates

    def _tier_of(self, candidates: list[Instance]) -> list[Instance]:
        """The caller's host if any candidate is there, else its region, else all."""
        for tier in (
            [i for i in candidates if self.host and i.host == self.host],
            [i for i in candidates if self.region and i.region == self.region],
        ):
            if tier:
                return tier
        return candidates

    def _preferred_tier(self, now: float) -> tuple[list[Instance], float]:
        """The tier plain picks draw from, and until when it holds by itself (the next end of
        an ejection, or of a report's lifetime when a load ceiling applies)."""
        tier = self._tier_of(self._candidates(now, set()))
        until = float("inf")
        for instance in self.instances.values():
            if instance.ejected_until > now:
                until = min(until, instance.ejected_until)
            if self.load_ceiling is not None and instance.report is not None and instance.report_at + self.REPORT_LIFETIME > now:
                until = min(until, instance.report_at + self.REPORT_LIFETIME)
        return tier, until

    def next_change(self, now: float) -> float:
        """When the pool next changes by itself (an ejection ending); infinity if never."""
        return min((i.ejected_until for i in self.instances.values() if i.ejected_until > now), default=float("inf"))

    def _two_choices(self, tier: list[Instance], now: float) -> Instance:
        count = len(tier)
        if count == 1:
            return tier[0]
        first_index = int(self.rng.random() * count)
        second_index = int(self.rng.random() * (count - 1))
        first, second = tier[first_index], tier[second_index + (second_index >= first_index)]
        if self._fresh_report(first, now) is not None and self._fresh_report(second, now) is not None:
            # A report without latency (no calls answered in its window) borrows the other's:
            # read as 0 ms, an instance no longer called would win every pick.
            latency_first = self._latency(first) or self._latency(second)
            latency_second = self._latency(second) or latency_first
            cost_first, cost_second = self._cost(first, latency_first), self._cost(second, latency_second)
        else:
            cost_first, cost_second = self._cost(first, None), self._cost(second, None)
        return first if cost_first <= cost_second else second

    def succeeded(self, instance: Instance) -> None:
        """A call on ``instance`` got an answer (any answer: the instance is alive)."""
        instance.failures = 0
        instance.ejections = 0

    def failed(self, instance: Instance, now: float) -> None:
        """A call on ``instance`` got no answer; the fifth in a row ejects it for 1 s, doubling
        to 30 s, while at most half the pool (never all of it) is ejected."""
        instance.failures += 1
        if instance.failures < self.FAILURES_TO_EJECT:
            return
        ejected = sum(1 for i in self.instances.values() if i.ejected_until > now)
        if (ejected + 1) * 2 > len(self.instances):
            return
        instance.ejected_until = now + min(30.0, 2.0**instance.ejections)
        instance.ejections += 1
        instance.failures = 0
        self._tier = None

    def census(self, now: float) -> dict[str, int]:
        """Instances by state: ready, connecting, ejected, out (of rotation)."""
        counts = {"ready": 0, "connecting": 0, "ejected": 0, "out": 0}
        for instance in self.instances.values():
            if not instance.registered:
                counts["out"] += 1
            elif instance.ejected_until > now:
                counts["ejected"] += 1
            elif instance.connected:
                counts["ready"] += 1
            else:
                counts["connecting"] += 1
        return counts


class RetryBudget:
    """Retries limited to 20% of the last 10 s of requests plus 10 per second, in one-second
    buckets (fixed memory): retries never multiply the load of a failing fleet."""

    def __init__(self, ratio: float = 0.2, per_second: float = 10.0, window: int = 10) -> None:
        self.ratio, self.per_second, self.window = ratio, per_second, window
        self._requests = [0] * window
        self._retries = [0] * window
        self._second = 0

    def _advance(self, now: float) -> int:
        second = int(now)
        if second - self._second >= self.window:
            self._requests = [0] * self.window
            self._retries = [0] * self.window
        else:
            for s in range(self._second + 1, second + 1):
                self._requests[s % self.window] = 0
                self._retries[s % self.window] = 0
        self._second = max(self._second, second)
        return self._second % self.window

    def request(self, now: float) -> None:
        """Counts a first attempt."""
        if int(now) == self._second:
            self._requests[self._second % self.window] += 1
        else:
            self._requests[self._advance(now)] += 1

    def try_retry(self, now: float) -> bool:
        """True (and counted) when a retry fits the budget."""
        slot = self._advance(now)
        allowed = self.ratio * sum(self._requests) + self.per_second * self.window
        if sum(self._retries) + 1 > allowed:
            return False
        self._retries[slot] += 1
        return True
