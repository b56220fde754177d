"""Per-key rate limits: requests and executions per minute, counted in PostgreSQL so that
every process of a deploy (functions, gateways, replicas) shares one budget.

Fixed one-minute windows of the database's clock. A process does not ask the database for each
request: it **leases** a block of the key's budget for the current minute (``lease_rate_limits``:
one statement for both kinds, committed without waiting for the disk: a count is not worth a
flush) and spends it locally until it runs out or the minute ends. A lease is ``limit // 32``
calls (at least 1: a small limit is counted call by call, exactly), and the database never
grants more than what is left of the minute's limit, so all processes together never exceed a
limit. The price is the other way round: a key may be refused in one process while other
processes still hold unspent leased calls, at most ``block`` per other process (about 3 % of
the limit each). Once the database has said a minute is used up, the process refuses that key
(429 with ``Retry-After`` the seconds left in the minute) without asking again until the minute
ends. A key whose limits change or that is revoked is evicted from the key cache
(LISTEN/NOTIFY): the next request brings the new limits, and a bucket leased under other limits
is dropped. The bootstrap operator key is never limited."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from prompt_ledger import metrics
from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database
from prompt_ledger.errors import TooManyRequests

Kind = Literal["requests", "executions"]
LEASE_FRACTION = 32
"""A lease is this fraction of a key's per-minute limit (at least one call)."""
MAX_BUCKETS = 10_000


def lease_size(limit: int) -> int:
    """The calls one lease takes from a minute's ``limit`` (0: no limit, nothing to lease)."""
    return 0 if limit <= 0 else max(1, limit // LEASE_FRACTION)


@dataclass(slots=True)
class Bucket:
    """What this process holds of one kind of a key's current minute."""

    limit: int
    left: int = 0
    until: float = 0.0  # time.monotonic() when the minute of the lease ends
    exhausted: bool = False  # the database said the minute's limit is used up

    def take(self, now: float) -> bool | None:
        """True: one call taken from the lease; False: refused (the minute is used up); None:
        a new lease is needed."""
        if now >= self.until:
            return None
        if self.left > 0:
            self.left -= 1
            return True
        return False if self.exhausted else None


@dataclass(slots=True)
class KeyBuckets:
    """A key's buckets in this process, and the lock that makes its leases one at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    kinds: dict[Kind, Bucket] = field(default_factory=dict)

    def bucket(self, kind: Kind, limit: int) -> Bucket:
        found = self.kinds.get(kind)
        if found is None or found.limit != limit:  # new, or leased under other limits
            found = self.kinds[kind] = Bucket(limit)
        return found


class RateLimits:
    def __init__(self, db: Database, *, requests_per_minute: int, executions_per_minute: int):
        self._db = db
        self._defaults: dict[Kind, int] = {
            "requests": requests_per_minute,
            "executions": executions_per_minute,
        }
        self._keys: dict[UUID, KeyBuckets] = {}

    def limit(self, who: Principal, kind: Kind) -> int:
        """The key's own limit, else the default; 0: none."""
        own = who.requests_per_minute if kind == "requests" else who.executions_per_minute
        return self._defaults[kind] if own is None else own

    async def charge(self, who: Principal, *, executes: bool = False) -> None:
        """Count one request for the caller's key, and one execution when it ``executes``; 429
        once the minute's limit of either is used (the request first: an execution is not
        counted when its request was refused)."""
        if who.key_id is None:
            return
        requests = self.limit(who, "requests")
        executions = self.limit(who, "executions") if executes else 0
        if requests == 0 and executions == 0:
            return
        key = self._keys.get(who.key_id)
        if key is None:
            if len(self._keys) >= MAX_BUCKETS:
                self._keys.clear()
            key = self._keys[who.key_id] = KeyBuckets()
        if requests:
            await self._take(who.key_id, key, "requests", requests)
        if executions:
            await self._take(who.key_id, key, "executions", executions)

    async def _take(self, key_id: UUID, key: KeyBuckets, kind: Kind, limit: int) -> None:
        bucket = key.bucket(kind, limit)
        taken = bucket.take(time.monotonic())
        if taken is None:
            async with key.lock:  # concurrent requests wait for one lease, then share it
                bucket = key.bucket(kind, limit)
                taken = bucket.take(time.monotonic())
                if taken is None:
                    await self._lease(key_id, kind, bucket)
                    taken = bucket.left > 0
                    if taken:
                        bucket.left -= 1
        if not taken:
            self._refuse(kind, limit, bucket.until - time.monotonic())

    async def _lease(self, key_id: UUID, kind: Kind, bucket: Bucket) -> None:
        """One statement: a block of the minute's budget, or what is left of it."""
        block = lease_size(bucket.limit)
        async with self._db.connect() as q:
            row = await q.row(
                "lease_rate_limit", key_id=key_id, kind=kind, block=block, limit=bucket.limit
            )
        assert row is not None
        bucket.left = row["granted"]
        bucket.until = time.monotonic() + row["seconds_left"]
        bucket.exhausted = row["granted"] < block

    @staticmethod
    def _refuse(kind: Kind, limit: int, seconds_left: float) -> None:
        metrics.rate_limited.labels(kind).inc()
        retry_after = max(1, math.ceil(seconds_left))
        raise TooManyRequests(
            f"This API key may make {limit} {kind[:-1]}{'s' if limit != 1 else ''} per "
            f"minute; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            limit=limit,
            kind=kind,
        )
