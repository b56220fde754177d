"""What the ledger stores, as typed records. Rows come out of SQL straight into these, and the
HTTP layer serialises them as they are, so the OpenAPI document describes what is stored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

DEFAULT_PROJECT_ID = "00000000-0000-0000-0000-000000000001"  # owns the bootstrap key (API_KEY)
MAX_INT = 2**31 - 1  # PostgreSQL's integer

PromptMode = Literal["full", "tracking"]
VersionStatus = Literal["active", "draft", "archived"]
VersionKind = Literal["text", "chat"]


class Money(Decimal):
    """An amount of US dollars: a Decimal that prints in fixed point (``0.00000000``, never
    ``0E-8``), in ``print`` as in JSON, in the API as in the SDK and the CLI."""

    __slots__ = ()

    def __str__(self) -> str:
        return format(self, "f")

    def __repr__(self) -> str:
        return f"Money('{self!s}')"


USD = Annotated[
    Decimal,
    AfterValidator(Money),
    PlainSerializer(str, return_type=str, when_used="json"),
    Field(description='US dollars, as a fixed-point decimal string (e.g. "0.00012000").'),
]


class Record(BaseModel):
    # Validators are built on first use, not at import: a cold start builds only what its
    # first requests need.
    model_config = ConfigDict(
        frozen=True, extra="ignore", protected_namespaces=(), defer_build=True
    )


class Message(Record):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


class Prompt(Record):
    prompt_id: UUID
    name: str
    mode: PromptMode
    description: str | None = None
    owner_team: str | None = None
    active_version_id: UUID | None = None
    created_at: datetime
    updated_at: datetime


class PromptSummary(Prompt):
    active_version_number: int | None = None
    labels: dict[str, int] = Field(default_factory=dict)


class Version(Record):
    version_id: UUID
    prompt_id: UUID
    version_number: int
    kind: VersionKind
    template_source: str | None = None
    messages: list[Message] | None = None
    model_defaults: dict[str, Any] = Field(default_factory=dict)
    variables: list[str]
    checksum_hash: str
    status: VersionStatus
    created_by: str | None = None
    commit_message: str | None = None
    created_at: datetime


class Label(Record):
    label: str
    version_number: int
    version_id: UUID
    updated_by: str | None = None
    updated_at: datetime


class LabelEvent(Record):
    event_id: int
    label: str
    from_version: int | None = None
    to_version: int | None = None
    actor: str | None = None
    reason: str | None = None
    created_at: datetime


class Model(Record):
    model_id: UUID
    provider: str
    model_name: str
    max_tokens: int | None = None
    supports_streaming: bool = False
    input_price_per_mtok: USD | None = None
    output_price_per_mtok: USD | None = None
    created_at: datetime
    updated_at: datetime
    source: Literal["catalog", "user"] = Field(
        default="user",
        description="catalog: from the curated list, updated by `promptledger migrate`; "
        "user: created or changed through the API, never overwritten by it.",
    )


class Project(Record):
    project_id: UUID
    name: str
    created_at: datetime


class ApiKey(Record):
    key_id: UUID
    project_id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    requests_per_minute: int | None = Field(
        default=None, description="This key's limit (null: the instance default; 0: none)."
    )
    executions_per_minute: int | None = Field(
        default=None, description="This key's limit (null: the instance default; 0: none)."
    )


ExecutionStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class Execution(Record):
    """One execution in the ledger: what ran, on what, with what, and what came back."""

    execution_id: UUID
    status: ExecutionStatus
    execution_mode: Literal["sync", "async"]
    prompt_id: UUID
    prompt_name: str
    version_id: UUID
    version_number: int
    resolved_by: str | None = None
    environment: str | None = None
    provider: str
    model_name: str
    served_by: str | None = Field(
        default=None, description="The adapter that answered: openai, anthropic or demo."
    )
    rendered_prompt: str | None = None
    response_text: str | None = None
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    latency_ms: int | None = None
    provider_latency_ms: int | None = None
    time_to_first_token_ms: int | None = Field(
        default=None,
        description="Streamed runs: from the request to the first text the provider streamed.",
    )
    input_price_per_mtok: USD | None = None
    output_price_per_mtok: USD | None = None
    cost_usd: USD | None = None
    error_type: str | None = None
    error_message: str | None = None
    attempts: int
    correlation_id: str | None = None
    idempotency_key: str | None = None
    trace_id: str | None = None
    variables: dict[str, Any] | None = None
    model_config_: dict[str, Any] | None = Field(default=None, alias="model_config")
    params: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class ProviderAttempt(Record):
    """One provider call of an execution (or one about to be made): recorded before the call,
    finished after it. ``lost``: its process stopped mid-call, so whether the provider answered
    (and billed) is unknown, and so is its cost (``cost_unknown``)."""

    attempt_number: int
    outcome: Literal["calling", "succeeded", "failed", "lost"]
    started_at: datetime
    finished_at: datetime | None = None
    prompt_tokens: int | None = None
    response_tokens: int | None = None
    provider_latency_ms: int | None = None
    cost_usd: USD | None = None
    cost_unknown: bool = Field(
        default=False, description="The call may have been billed at a cost nobody recorded."
    )
    worker: str | None = Field(default=None, description="host:pid of the process calling.")
    error_type: str | None = None
    error_message: str | None = None


class Span(Record):
    span_id: str
    trace_id: str
    parent_span_id: str | None = None
    name: str
    kind: str
    status: str
    duration_ms: int | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attributes: dict[str, Any] | None = None


# --- traces (GET /v1/traces, GET /v1/traces/{trace_id}) -------------------------------------


class TraceSummary(Record):
    trace_id: str
    name: str = Field(description="The root span's name.")
    services: list[str]
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    status: Literal["ok", "error"]
    span_count: int
    error_count: int
    execution_count: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: USD | None = None


class SpanView(Record):
    span_id: str
    parent_span_id: str | None = None
    depth: int = Field(description="0 for a root (no parent, or a parent not received).")
    name: str
    kind: str
    service_name: str | None = None
    status: str
    error_message: str | None = None
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: int | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: USD | None = None
    attributes: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None
    input: Any = None
    output: Any = None
    execution_id: UUID | None = Field(default=None, description="The execution (an llm span).")
    prompt_name: str | None = None
    version_id: UUID | None = None
    version_number: int | None = None


class TraceTree(TraceSummary):
    spans: list[SpanView] = Field(description="Depth first: each span before its children.")
