"""API keys and scopes. Keys are random secrets shown once; only their SHA-256 is stored.

Two levels of administration: a project's ``admin`` manages that project (its keys, and every
project scope within it); the instance **operator** (the bootstrap key from ``API_KEY``, or a
stored key holding the ``operator`` scope) alone manages projects, the shared model catalogue
and the keys of any project."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from prompt_ledger.cache import GroupCache
from prompt_ledger.db.store import Database
from prompt_ledger.errors import Forbidden, NotFound, Unauthorized
from prompt_ledger.records import DEFAULT_PROJECT_ID

KEY_PREFIX = "pl_"


class Scope(StrEnum):
    PROMPTS_READ = "prompts:read"
    PROMPTS_WRITE = "prompts:write"
    LABELS_PROMOTE = "labels:promote"
    EXECUTE = "execute"
    TRACES_WRITE = "traces:write"
    ANALYTICS_READ = "analytics:read"
    ADMIN = "admin"
    OPERATOR = "operator"


ALL_SCOPES = frozenset(Scope)

_NEEDS = {
    Scope.ADMIN: "This API key lacks the 'admin' scope (a project admin key, or the instance "
    "operator key, is needed).",
    Scope.OPERATOR: "Only the instance operator (the bootstrap key API_KEY, or a key with the "
    "'operator' scope) may do this; a project's 'admin' key manages that project's keys only.",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a project and what its key may do."""

    project_id: UUID
    scopes: frozenset[str]
    key_id: UUID | None = None
    requests_per_minute: int | None = None
    """The key's own rate limits (None: the instance defaults; 0: none)."""
    executions_per_minute: int | None = None

    @property
    def is_operator(self) -> bool:
        """The instance operator (the bootstrap key ``API_KEY``, or a stored key holding the
        ``operator`` scope): every project, projects themselves, the model catalogue."""
        return Scope.OPERATOR.value in self.scopes

    def allows(self, scope: Scope) -> bool:
        if scope.value in self.scopes or self.is_operator:
            return True
        return scope is not Scope.OPERATOR and Scope.ADMIN.value in self.scopes

    def require(self, scope: Scope) -> None:
        if not self.allows(scope):
            raise Forbidden(
                _NEEDS.get(scope, f"This API key lacks the '{scope.value}' scope."),
                required_scope=scope.value,
            )

    def require_operator(self, action: str) -> None:
        """Projects and the shared model catalogue belong to the operator alone; a project's
        ``admin`` key manages its own project."""
        if not self.is_operator:
            raise Forbidden(
                f"Only the instance operator (API_KEY, or a key with the 'operator' scope) "
                f"{action}; a project's admin key manages its own project's keys.",
                required_scope=Scope.OPERATOR.value,
            )

    def require_project(self, project_id: UUID) -> None:
        """Another project is not there for a project's key (404, like its prompts)."""
        if not self.is_operator and project_id != self.project_id:
            raise NotFound(f"Project {project_id} not found.")


BOOTSTRAP = Principal(UUID(DEFAULT_PROJECT_ID), frozenset(s.value for s in ALL_SCOPES))
"""The instance operator's principal: the bootstrap key, in the default project."""
KeyCache = GroupCache[str, str, Principal]


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its display prefix."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:10]


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        raise Unauthorized("Authorization header must be 'Bearer <key>'.")
    raise Unauthorized("Missing API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'.")


class Authenticator:
    """Resolves a presented key to a Principal: the instance operator key or a project's key.

    The operator key is ``API_KEY`` when the process has one; otherwise it is the key stored
    (hashed) in the database by ``promptledger migrate`` / ``promptledger operator-key
    rotate``, so a deploy that cannot generate ``API_KEY`` still has exactly one operator."""

    def __init__(self, db: Database, operator_key: str | None, cache: KeyCache) -> None:
        self._db = db
        self._operator_hash = None if operator_key is None else hash_key(operator_key)
        self._cache = cache

    async def authenticate(self, secret: str) -> Principal:
        if len(secret) > 512:
            raise Unauthorized("Invalid API key.")
        return await self.authenticate_digest(hash_key(secret))

    async def authenticate_digest(self, digest: str) -> Principal:
        """The principal of the key whose SHA-256 is ``digest`` (console sessions keep only
        that): revoked keys and a rotated operator key are refused at once."""
        if self._operator_hash is not None and hmac.compare_digest(digest, self._operator_hash):
            return BOOTSTRAP
        cached = self._cache.get(digest, "")
        if cached is not None:
            return cached
        generation = self._cache.generation(digest)
        async with self._db.connect() as q:
            row = await q.row(
                "lookup_api_key", key_hash=digest, stored_operator=self._operator_hash is None
            )
            if row is None:
                raise Unauthorized("Invalid or revoked API key.")
            if row["operator"]:
                principal = BOOTSTRAP
            else:
                last_used = row["last_used_at"]
                if last_used is None or datetime.now(UTC) - last_used > timedelta(seconds=60):
                    await q.execute("touch_api_key", key_id=row["key_id"])
                principal = Principal(
                    row["project_id"],
                    frozenset(row["scopes"]),
                    row["key_id"],
                    row["requests_per_minute"],
                    row["executions_per_minute"],
                )
        self._cache.put(digest, "", principal, generation)
        return principal
