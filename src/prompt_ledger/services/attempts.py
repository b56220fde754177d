"""Provider attempts: the call itself, and the worker's attempt of a queued execution.

Every attempt has a row in ``execution_attempts`` written before the provider is called (by
``insert_execution`` for a sync run, by ``claim_execution`` for the worker) and finished with its
outcome after, so a call whose process dies mid-way is still in the ledger (as ``lost``)."""

from __future__ import annotations

import os
import secrets
import socket
import time
from uuid import UUID

from prompt_ledger import templates
from prompt_ledger.db.store import Database
from prompt_ledger.errors import ValidationFailed
from prompt_ledger.providers.base import Completion, CompletionRequest, ProviderError
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.records import Version
from prompt_ledger.services.outcomes import Attempt, Outcomes
from prompt_ledger.services.preparation import completion_request
from prompt_ledger.services.registry import content_of
from prompt_ledger.settings import Settings

_HOST = socket.gethostname()[:60]


def process_label() -> str:
    """Who makes a call, as recorded on its attempt: host and process id."""
    return f"{_HOST}:{os.getpid()}"


class RetryLater(Exception):
    # A signal to the queue, not an error.
    """A transient failure of an async attempt: the queue retries the job after ``delay``."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


class Attempts:
    def __init__(
        self, db: Database, providers: Providers, settings: Settings, outcomes: Outcomes
    ) -> None:
        self._db = db
        self._providers = providers
        self._settings = settings
        self._outcomes = outcomes

    async def complete(
        self, attempt: Attempt, request: CompletionRequest, *, wait: float | None
    ) -> Completion:
        """Call the provider. Adapters raise ProviderError; anything else is a bug, but the
        execution must not be left 'running' by it: it is recorded as failed, then re-raised."""
        provider_started = time.perf_counter()
        try:
            return await self._providers.get(attempt.served_by).complete(request)
        except ProviderError:
            raise
        except Exception as exc:
            failure = ProviderError(
                f"Unexpected error calling {attempt.served_by}: {type(exc).__name__}: {exc}",
                provider=attempt.served_by,
                transient=False,
                kind="internal",
            )
            elapsed = time.perf_counter() - provider_started
            await self._outcomes.failed(attempt, failure, elapsed, wait=wait)
            raise

    async def run_queued(self, execution_id: UUID, *, job_id: int | None) -> None:
        """One worker attempt by queue job ``job_id``. Raises RetryLater on a transient failure
        with attempts left. Outcomes are written however long the database is away (None wait):
        the job keeps the answer rather than let a retry call the provider again."""
        started = time.perf_counter()
        max_attempts = self._settings.max_attempts
        async with self._db.connect() as q:
            row = await q.row(
                "claim_execution",
                execution_id=execution_id,
                job_id=job_id,
                worker=process_label(),
                max_attempts=max_attempts,
            )
        if row is None:
            return  # finished, cancelled, unknown or being run by another job: nothing to do
        version = Version.model_validate(row["version"])
        exhausted = row["attempts"] > max_attempts
        attempt = Attempt(
            execution_id,
            None if exhausted else row["attempts"],
            started,
            None,  # a worker's call has no parent span (its trace is the execution's)
            row["provider"],
            row["model_name"],
            row["served_by"],
            (row["input_price_per_mtok"], row["output_price_per_mtok"]),
        )
        if exhausted:
            # Re-run by stalled-job or orphan recovery after its last allowed attempt (e.g. a
            # worker killed mid-call each time): give up rather than loop forever.
            failure = ProviderError(
                f"Gave up after {max_attempts} attempts (the last ones did not finish: their "
                "worker stopped or failed mid-attempt).",
                provider=attempt.served_by,
                transient=False,
                kind="attempts_exhausted",
            )
            await self._outcomes.failed(attempt, failure, 0.0, wait=None)
            return
        try:
            rendered = await templates.render_off_loop(
                content_of(version),
                row["variables_json"],
                version.variables,
                seconds=self._settings.template_render_seconds,
            )
        except ValidationFailed as exc:
            failure = ProviderError(
                exc.detail, provider=attempt.served_by, transient=False, kind="render"
            )
            await self._outcomes.failed(attempt, failure, 0.0, wait=None)
            return
        request = completion_request(row["model_name"], rendered, row["params_json"])
        provider_started = time.perf_counter()
        try:
            completion = await self.complete(attempt, request, wait=None)
        except ProviderError as exc:
            elapsed = time.perf_counter() - provider_started
            if exc.transient and row["attempts"] < max_attempts:
                async with self._db.connect() as q:
                    await q.execute(
                        "release_execution",
                        execution_id=execution_id,
                        attempt_number=attempt.number,
                        provider_latency_ms=round(elapsed * 1000),
                        error_type=exc.kind,
                        error_message=exc.message[:2000],
                    )
                raise RetryLater(
                    self._backoff(row["attempts"], exc.retry_after), exc.message
                ) from exc
            await self._outcomes.failed(attempt, exc, elapsed, wait=None)
            return
        elapsed = time.perf_counter() - provider_started
        await self._outcomes.succeeded(attempt, completion, elapsed, wait=None)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
        s = self._settings
        exponential = min(s.retry_max_seconds, s.retry_base_seconds * 2.0 ** max(0, attempts - 1))
        jittered = exponential * (0.5 + secrets.randbelow(1000) / 2000)
        return min(s.retry_max_seconds, max(jittered, retry_after or 0.0))
