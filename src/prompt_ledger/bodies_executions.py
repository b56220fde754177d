"""Request and response bodies of the executions function."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from prompt_ledger.bodies import LABEL_PATTERN, NAME_PATTERN, Body, Page, PageQuery
from prompt_ledger.records import Execution, Span


class ModelRef(Body):
    provider: str = Field(min_length=1, max_length=50, examples=["openai"])
    model_name: str = Field(min_length=1, max_length=100, examples=["gpt-4o-mini"])


class ExecutionParams(Body):
    """Generation parameters. The seeds' ``max_new_tokens`` is accepted for ``max_tokens``."""

    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: list[str] | None = Field(default=None, max_length=4)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_new_tokens" in data:
            data = dict(data)
            value = data.pop("max_new_tokens")
            data.setdefault("max_tokens", value)
        if isinstance(data, dict) and isinstance(data.get("stop"), str):
            data = {**data, "stop": [data["stop"]]}
        return data


class RunBody(Body):
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
    version: int | None = Field(default=None, ge=1, description="Pin a version number.")
    label: str | None = Field(
        default=None,
        pattern=LABEL_PATTERN,
        description="Pin a label (must exist, unlike environment).",
    )
    correlation_id: str | None = Field(default=None, max_length=100)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_pin(self) -> Self:
        if self.version is not None and self.label is not None:
            raise ValueError("pin a version or a label, not both")
        return self


class ExecutionListQuery(PageQuery):
    prompt_name: str | None = Field(default=None, max_length=255)
    version: int | None = Field(default=None, ge=1)
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None
    provider: str | None = Field(default=None, max_length=50)
    model_name: str | None = Field(default=None, max_length=100)
    correlation_id: str | None = Field(default=None, max_length=100)
    since: datetime | None = None
    until: datetime | None = None


class ExecutionDetail(Execution):
    spans: list[Span] = Field(default_factory=list)


ExecutionPage = Page[Execution]
