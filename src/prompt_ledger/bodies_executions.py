"""Request and response bodies of the executions function."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from prompt_ledger.asks import ExecutionFilter, ModelChoice, RunAsked
from prompt_ledger.bodies import (
    LABEL_PATTERN,
    MAX_INT,
    MAX_TEMPLATE_CHARS,
    NAME_PATTERN,
    Body,
    Page,
    PageQuery,
    not_both,
)
from prompt_ledger.records import Execution
from prompt_ledger.views import ExecutionDetail

__all__ = ["ExecutionDetail"]  # (views, what the executions service answers) + the bodies below


def _date_time(value: Any) -> Any:
    """An RFC 3339 date-time, as documented (pydantic alone also takes Unix seconds)."""
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("expected an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
Timestamp = Annotated[datetime, BeforeValidator(_date_time)]


class ModelRef(Body):
    provider: str = Field(min_length=1, max_length=50, examples=["openai"])
    model_name: str = Field(min_length=1, max_length=100, examples=["gpt-4o-mini"])


def _one_stop_string(schema: dict[str, Any]) -> None:
    """``stop`` also accepts one string (as OpenAI's API does)."""
    one = {"type": "string", "maxLength": MAX_TEMPLATE_CHARS}
    schema["anyOf"] = [one, *schema.get("anyOf", [])]


class ExecutionParams(Body):
    """Generation parameters. The seeds' ``max_new_tokens`` is accepted for ``max_tokens``."""

    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_new_tokens: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        exclude=True,
        description="The seeds' name of max_tokens (max_tokens wins when both are given).",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: list[str] | None = Field(
        default=None,
        max_length=4,
        json_schema_extra=_one_stop_string,
        description="Up to 4 stop sequences (or one, as a string).",
    )
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)

    @model_validator(mode="before")
    @classmethod
    def _one_stop(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("stop"), str):
            data = {**data, "stop": [data["stop"]]}
        return data

    @model_validator(mode="after")
    def _alias(self) -> Self:
        if self.max_tokens is None and self.max_new_tokens is not None:
            self.max_tokens = self.max_new_tokens
        return self


class RunBody(Body):
    model_config = ConfigDict(json_schema_extra=not_both("version", "label"))

    prompt_name: str = Field(pattern=NAME_PATTERN, examples=["doc_summarizer"])
    environment: str | None = Field(
        default=None,
        pattern=LABEL_PATTERN,
        description="Label to resolve (e.g. production); falls back to the active version.",
    )
    variables: dict[str, Any] = Field(default_factory=dict)
    model: ModelRef | None = Field(
        default=None, description="Defaults to the version's stored model, then the server's."
    )
    params: ExecutionParams | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_INT, description="Pin a version number.")
    label: str | None = Field(
        default=None,
        pattern=LABEL_PATTERN,
        description="Pin a label (must exist, unlike environment).",
    )
    correlation_id: str | None = Field(default=None, max_length=100)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    stream: bool = Field(
        default=False,
        description="Answer Server-Sent Events (text/event-stream): the output as it is "
        "generated, then the recorded execution (POST /v1/executions:run only).",
    )

    @model_validator(mode="after")
    def _one_pin(self) -> Self:
        if self.version is not None and self.label is not None:
            raise ValueError("pin a version or a label, not both")
        return self

    def asked(self) -> RunAsked:
        """What the executions service takes (converted here, at the HTTP edge): no second
        validation, the values as they are (``stream`` is the edge's own)."""
        model, params = self.model, self.params
        return RunAsked(
            prompt_name=self.prompt_name,
            variables=self.variables,
            environment=self.environment,
            model=None if model is None else ModelChoice(model.provider, model.model_name),
            params=None if params is None else params.model_dump(exclude_none=True),
            version_number=self.version,
            label=self.label,
            correlation_id=self.correlation_id,
            idempotency_key=self.idempotency_key,
        )


class ExecutionListQuery(PageQuery):
    prompt_name: str | None = Field(default=None, max_length=255)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None
    provider: str | None = Field(default=None, max_length=50)
    model_name: str | None = Field(default=None, max_length=100)
    correlation_id: str | None = Field(default=None, max_length=100)
    since: Timestamp | None = None
    until: Timestamp | None = None
    min_attempts: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="Only executions with at least this many provider attempts (2: the ones "
        "that called the provider more than once).",
    )

    def asked(self) -> ExecutionFilter:
        return ExecutionFilter(
            limit=self.limit,
            cursor=self.cursor,
            prompt_name=self.prompt_name,
            version_number=self.version,
            status=self.status,
            provider=self.provider,
            model_name=self.model_name,
            correlation_id=self.correlation_id,
            since=self.since,
            until=self.until,
            min_attempts=self.min_attempts,
        )


ExecutionPage = Page[Execution]
