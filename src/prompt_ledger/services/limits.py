"""Per-key rate limits: requests and executions per minute, counted in PostgreSQL so that
every process of a deploy (functions, gateways, replicas) shares one count.

Fixed one-minute windows: a key's count of a kind is one row per minute, upserted on each
request (one round trip for both kinds, only for keys that have a limit, committed without
waiting for the disk: a count is not worth a flush); over the limit, 429 with ``Retry-After``
the seconds left in the minute. The bootstrap operator key is never limited."""

from __future__ import annotations

import math
from typing import Literal

from prompt_ledger import metrics
from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database
from prompt_ledger.errors import TooManyRequests

Kind = Literal["requests", "executions"]


class RateLimits:
    def __init__(self, db: Database, *, requests_per_minute: int, executions_per_minute: int):
        self._db = db
        self._defaults: dict[Kind, int] = {
            "requests": requests_per_minute,
            "executions": executions_per_minute,
        }

    def limit(self, who: Principal, kind: Kind) -> int:
        """The key's own limit, else the default; 0: none."""
        own = who.requests_per_minute if kind == "requests" else who.executions_per_minute
        return self._defaults[kind] if own is None else own

    async def charge(self, who: Principal, *, executes: bool = False) -> None:
        """Count one request for the caller's key, and one execution when it ``executes``; 429
        once the minute's limit of either is used (an execution is not counted when its
        request was refused)."""
        if who.key_id is None:
            return
        requests = self.limit(who, "requests")
        executions = self.limit(who, "executions") if executes else 0
        if requests == 0 and executions == 0:
            return
        async with self._db.connect() as q:
            row = await q.row(
                "charge_rate_limits",
                key_id=who.key_id,
                requests=requests > 0,
                requests_limit=requests or None,
                executions=executions > 0,
            )
        assert row is not None
        if row["requests_used"] is not None and row["requests_used"] > requests:
            self._refuse("requests", requests, row["seconds_left"])
        if row["executions_used"] is not None and row["executions_used"] > executions:
            self._refuse("executions", executions, row["seconds_left"])

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
