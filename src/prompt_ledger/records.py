"""What the ledger stores, as typed records. Rows come out of SQL straight into these, and the
HTTP layer serialises them as they are, so the OpenAPI document describes what is stored."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

PromptMode = Literal["full", "tracking"]
VersionStatus = Literal["active", "draft", "archived"]
VersionKind = Literal["text", "chat"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())


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
    input_price_per_mtok: Decimal | None = None
    output_price_per_mtok: Decimal | None = None
    created_at: datetime
    updated_at: datetime


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
