"""The instance operator key when ``API_KEY`` is not set: generated once, stored hashed.

Some platforms cannot generate a secret for the deploy (Railway's Infrastructure as Code has no
generator that survives a second ``railway config apply``). Rather than refuse to start,
``promptledger migrate`` generates the operator key in production when ``API_KEY`` is unset and
the instance has none, stores only its SHA-256 and hands the secret back once, for the command
to print. ``rotate`` replaces it. Every process authenticates the operator against ``API_KEY``
when it is set, otherwise against this stored hash (``prompt_ledger.auth.Authenticator``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prompt_ledger.auth import KeyCache, hash_key, new_key
from prompt_ledger.cache import payload
from prompt_ledger.db.store import Database


@dataclass(frozen=True)
class StoredOperatorKey:
    """What may be shown about the stored key: its prefix and when it was made."""

    prefix: str
    created_at: datetime


@dataclass(frozen=True)
class NewOperatorKey:
    """A key just generated: the secret is here once, for the caller to show, never stored."""

    secret: str
    stored: StoredOperatorKey


class OperatorKeys:
    def __init__(self, db: Database, keys: KeyCache) -> None:
        self._db = db
        self._keys = keys

    async def stored(self) -> StoredOperatorKey | None:
        async with self._db.connect() as q:
            row = await q.row("get_operator_key")
        return None if row is None else StoredOperatorKey(row["prefix"], row["created_at"])

    async def ensure(self) -> NewOperatorKey | None:
        """Generate and store a key unless the instance has one; the new key, or None.

        Several pre-deploy commands may run at once: exactly one of them stores a key."""
        secret, prefix = new_key()
        async with self._db.connect() as q:
            row = await q.row("create_operator_key", key_hash=hash_key(secret), prefix=prefix)
        if row is None:
            return None
        return NewOperatorKey(secret, StoredOperatorKey(row["prefix"], row["created_at"]))

    async def rotate(self) -> NewOperatorKey:
        """Replace the stored key; every process forgets the old one when this commits."""
        secret, prefix = new_key()
        async with self._db.transaction() as q:
            row = await q.row("replace_operator_key", key_hash=hash_key(secret), prefix=prefix)
            await q.execute("notify_cache", payload=payload(self._keys.name, "*"))
        self._keys.clear()
        assert row is not None
        return NewOperatorKey(secret, StoredOperatorKey(row["prefix"], row["created_at"]))
