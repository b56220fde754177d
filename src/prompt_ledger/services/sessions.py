"""Sign-in sessions of the web console.

Signing in presents an API key once; the session stores only the SHA-256 of a random token
(the browser keeps the token in an HttpOnly cookie) and the hash of the key. Every request
authenticates that key hash again, so a revoked key (or a rotated ``API_KEY``) ends its
sessions on their next request, in every process."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prompt_ledger.auth import Authenticator, Principal, hash_key
from prompt_ledger.db.store import Database
from prompt_ledger.errors import Unauthorized

MAX_LIFETIME_SECONDS = 7 * 24 * 3600  # a session never outlives a week, however active


class SessionEnded(Unauthorized):
    """The session is unknown, expired, signed out, or its key was revoked."""

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str
    project_name: str
    key_name: str | None
    key_prefix: str | None
    expires_at: datetime

    @property
    def operator(self) -> bool:
        """Signed in with the instance's operator key (``API_KEY``), not a project's key."""
        return self.principal.is_operator

    @property
    def who(self) -> str:
        """How label moves made from the console name their actor."""
        if self.operator:
            return "console: operator"
        return f"console: {self.key_name} ({self.key_prefix}…)"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Sessions:
    def __init__(self, db: Database, auth: Authenticator, idle_seconds: float) -> None:
        self._db = db
        self._auth = auth
        self._idle = idle_seconds

    async def start(self, secret: str) -> tuple[str, Principal]:
        """Sign in with an API key: the new session's cookie token (Unauthorized when the key
        is not valid)."""
        principal = await self._auth.authenticate(secret.strip())
        token = secrets.token_urlsafe(32)
        async with self._db.connect() as q:
            await q.execute("delete_expired_console_sessions")
            await q.execute(
                "insert_console_session",
                session_hash=_digest(token),
                key_hash=hash_key(secret.strip()),
                project_id=principal.project_id,
                csrf_token=secrets.token_urlsafe(32),
                idle_seconds=min(self._idle, MAX_LIFETIME_SECONDS),
            )
        return token, principal

    async def resume(self, token: str) -> Session:
        if not token or len(token) > 128:
            raise SessionEnded("Sign in to use the console.", reason="signed-out")
        digest = _digest(token)
        async with self._db.connect() as q:
            row = await q.row("find_console_session", session_hash=digest)
            if row is None:
                raise SessionEnded("Your session has ended; sign in again.", reason="expired")
            try:
                principal = await self._auth.authenticate_digest(row["key_hash"])
            except Unauthorized:
                await q.execute("delete_console_session", session_hash=digest)
                raise SessionEnded(
                    "The API key of this session was revoked; sign in with a valid key.",
                    reason="revoked",
                ) from None
            if datetime.now(UTC) - row["last_seen_at"] > timedelta(seconds=60):
                await q.execute(
                    "touch_console_session",
                    session_hash=digest,
                    idle_seconds=self._idle,
                    max_seconds=MAX_LIFETIME_SECONDS,
                )
        return Session(
            principal=principal,
            csrf_token=row["csrf_token"],
            project_name=row["project_name"],
            key_name=row["key_name"],
            key_prefix=row["key_prefix"],
            expires_at=row["expires_at"],
        )

    async def end(self, token: str) -> None:
        async with self._db.connect() as q:
            await q.execute("delete_console_session", session_hash=_digest(token))
