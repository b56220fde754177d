"""What services answer: pages of records, and the views built from them. Pydantic models the
HTTP layer serialises as they are (so the OpenAPI document describes them), but nothing here
knows HTTP: a service builds these, a handler returns them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from prompt_ledger.errors import ValidationFailed
from prompt_ledger.records import (
    Execution,
    PromptSummary,
    ProviderAttempt,
    Span,
    TraceSummary,
    Version,
)

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )


class PromptView(PromptSummary):
    version: Version | None = Field(description="The resolved version (null if none yet).")
    resolved_by: str = Field(description="active | label:<name> | version:<n>")


class PutPromptResult(PromptView):
    created: bool = Field(description="False when identical content already existed (dedup).")


class ResolveFailure(BaseModel):
    name: str
    status: int
    detail: str


class RegisterResult(BaseModel):
    name: str
    version_number: int
    checksum_hash: str
    changed: bool = Field(description="True when this call created a new version.")


class DiffResponse(BaseModel):
    name: str
    from_version: int
    to_version: int
    template_diff: str = Field(
        description="Unified diff of the template (or rendered message list)."
    )
    model_defaults_diff: str
    identical: bool


class ExecutionDetail(Execution):
    spans: list[Span] = Field(default_factory=list)
    provider_attempts: list[ProviderAttempt] = Field(
        default_factory=list,
        description="Every provider call, in order (executions recorded before attempts were "
        "kept have none).",
    )


TracePage = Page[TraceSummary]


class CreatedKey(BaseModel):
    key: str = Field(description="The secret. Shown once: it is stored hashed.")
    key_id: str
    project_id: str
    name: str
    prefix: str
    scopes: list[str]
    requests_per_minute: int | None = None
    executions_per_minute: int | None = None


# --- cursors: opaque to clients, a JSON value to us -----------------------------------------


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode())
        if b"\\u0000" in text:  # no cursor we issue holds a NUL (PostgreSQL stores none)
            raise bad_cursor()
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise bad_cursor() from None


def bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "Invalid cursor.",
        errors=[
            {"loc": ["query", "cursor"], "msg": "not a cursor this API issued", "type": "cursor"}
        ],
    )


def cursor_value(
    cursor: str | None, kind: type[str] | type[int], *, maximum: int = 2**63 - 1
) -> Any:
    """Decode a cursor and check it holds the kind of key the list is ordered by (an integer
    key within its column's range: ``maximum``)."""
    value = decode_cursor(cursor)
    if value is not None and (type(value) is not kind):
        raise bad_cursor()
    if isinstance(value, int) and not -maximum - 1 <= value <= maximum:
        raise bad_cursor()
    return value


def page_of(items: list[T], limit: int, key: Callable[[T], Any]) -> Page[T]:
    """Lists fetch ``limit + 1`` rows: the extra one only says whether another page exists."""
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(key(items[-1])) if more and items else None)
