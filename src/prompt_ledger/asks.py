"""What callers ask of the services: plain frozen dataclasses, knowing neither pydantic nor HTTP.

The HTTP edge (handlers, the console) validates a request body or query string with its model
in ``bodies*.py`` (the wire's names and aliases, bounds, OpenAPI examples), then converts it
once with the model's ``asked()``; services take only these, named as the ledger names things
(``version_number``, ``template_source``, ``max_tokens``). A field here holds an already valid
value: nothing is checked again. The analytics window is
:class:`~prompt_ledger.records_analytics.WindowAsked`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from prompt_ledger.auth import Scope
from prompt_ledger.templates import ChatMessage

ExecutionStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

# --- executions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelChoice:
    provider: str
    model_name: str


@dataclass(frozen=True, slots=True)
class RunAsked:
    """One execution to run or submit: a prompt (its active version; ``environment``'s label
    when it has one; or pinned to ``version_number`` or ``label``), its variables, the model
    (None: the version's stored one, then the server's) and generation parameters."""

    prompt_name: str
    variables: dict[str, Any] = field(default_factory=dict)
    environment: str | None = None
    model: ModelChoice | None = None
    params: dict[str, Any] | None = None
    """The generation parameters given, those not null, by their own names (``max_tokens``,
    whatever alias was sent); None when none were given (unlike ``{}``)."""
    version_number: int | None = None
    label: str | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """A page of a project's executions, newest first, with those filters that are not None."""

    limit: int
    cursor: str | None = None
    prompt_name: str | None = None
    version_number: int | None = None
    status: ExecutionStatus | None = None
    provider: str | None = None
    model_name: str | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_attempts: int | None = None


# --- traces ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """A page of a project's traces, latest first, with those filters that are not None."""

    limit: int
    cursor: str | None = None
    service_name: str | None = None
    status: Literal["ok", "error"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    prompt_name: str | None = None
    min_duration_ms: int | None = None
    has_error: bool | None = None


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptWrite:
    """New content for a prompt managed through the API: a text template or chat messages
    (exactly one), stored model defaults, and the prompt's and the version's metadata."""

    template_source: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    model_defaults: dict[str, Any] | None = None
    description: str | None = None
    owner_team: str | None = None
    created_by: str | None = None
    commit_message: str | None = None
    set_active: bool = True


@dataclass(frozen=True, slots=True)
class TrackedPrompt:
    """A prompt defined in application code, registered from it (mode ``tracking``): a text
    template or chat messages (exactly one)."""

    name: str
    template_source: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    description: str | None = None
    owner_team: str | None = None


@dataclass(frozen=True, slots=True)
class PromptRef:
    """A prompt to resolve: its active version, a label's, or a version number (with a label:
    the version the label must point at)."""

    name: str
    label: str | None = None
    version_number: int | None = None


# --- administration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model of the catalogue: its output limit, streaming, and prices (USD per 1M tokens)."""

    max_tokens: int | None = None
    supports_streaming: bool = False
    input_price_per_mtok: float | None = None
    output_price_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class NewKey:
    """An API key to create: its name, scopes and rate limits (None: the instance's default;
    0: no limit)."""

    name: str
    scopes: frozenset[Scope]
    requests_per_minute: int | None = None
    executions_per_minute: int | None = None
