"""Typed keyword options of the clients' methods (``**options: Unpack[RunOptions]``), so
editors and mypy check them, and one place documents them for both clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

__all__ = [
    "ExecutionFilters",
    "ModelChoice",
    "PromptFilters",
    "PromptOptions",
    "RunOptions",
    "Template",
]

Template = str | Sequence[Mapping[str, str]]
"""Template text, or chat messages (``[{"role": "system", "content": "..."}]``)."""
ModelChoice = Mapping[str, str] | str
"""``{"provider": "openai", "model_name": "gpt-4o-mini"}`` or ``"openai/gpt-4o-mini"``."""


class PromptOptions(TypedDict, total=False):
    """Optional fields of ``create_prompt`` / ``update_prompt``."""

    description: str | None
    owner_team: str | None
    model_defaults: Mapping[str, Any] | None
    """e.g. ``{"provider": "openai", "model_name": "gpt-4o-mini", "params": {...}}``"""
    created_by: str | None
    commit_message: str | None
    set_active: bool
    """Make the (new or identical existing) version active; default True."""


class RunOptions(TypedDict, total=False):
    """Options of ``execute`` / ``submit``."""

    model: ModelChoice | None
    """Default: the version's stored model, then the server's default."""
    params: Mapping[str, Any] | None
    """max_tokens (or max_new_tokens), temperature, top_p, stop, seed, ..."""
    environment: str | None
    """Label to resolve, falling back to the active version (the seeds' field)."""
    version: int | None
    label: str | None
    correlation_id: str | None
    idempotency_key: str | None
    """Default: a fresh key per call, so the SDK's retries never run a prompt twice."""
    traceparent: str | None
    timeout: float | None
    """Seconds for this request (a sync run waits for the LLM)."""


class ExecutionFilters(TypedDict, total=False):
    prompt_name: str | None
    version: int | None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None
    provider: str | None
    model_name: str | None
    correlation_id: str | None
    since: datetime | None
    until: datetime | None
    min_attempts: int | None
    limit: int
    cursor: str | None


class TraceFilters(TypedDict, total=False):
    service: str | None
    status: Literal["ok", "error"] | None
    since: datetime | None
    until: datetime | None
    prompt_name: str | None
    min_duration_ms: int | None
    has_error: bool | None
    limit: int
    cursor: str | None


class PromptFilters(TypedDict, total=False):
    owner_team: str | None
    label: str | None
    mode: Literal["full", "tracking"] | None
    search: str | None
    """Substring of the name."""
    limit: int
    cursor: str | None


class AnalyticsWindow(TypedDict, total=False):
    """The window of an analytics answer (default: the last 7 days, in whole UTC hours)."""

    window: str | None
    """How far back from ``until``: ``24h``, ``7d``, ``30d`` ... (not with ``since``)."""
    since: datetime | None
    until: datetime | None
    interval: Literal["hour", "day"] | None
    """Bucket of a prompt's time series (default: hour for windows of two days or less)."""
    top: int
    """How many top prompts a summary lists (default 10)."""
