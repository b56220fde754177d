"""Request and response bodies of the shared model catalogue, projects and API keys."""

from __future__ import annotations

from pydantic import Field

from prompt_ledger.asks import ModelSpec, NewKey
from prompt_ledger.auth import Scope
from prompt_ledger.bodies import (
    MAX_INT,
    MAX_PRICE,
    NAME_PATTERN,
    PROVIDER_PATTERN,
    Body,
    PageQuery,
)
from prompt_ledger.views import CreatedKey

__all__ = ["CreatedKey"]  # (views, what the access service answers) + the bodies below


class ModelBody(Body):
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_INT)
    supports_streaming: bool = False
    input_price_per_mtok: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, description="USD per 1M input tokens."
    )
    output_price_per_mtok: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, description="USD per 1M output tokens."
    )

    def asked(self) -> ModelSpec:
        """What the catalogue takes (converted here, at the HTTP edge)."""
        return ModelSpec(
            max_tokens=self.max_tokens,
            supports_streaming=self.supports_streaming,
            input_price_per_mtok=self.input_price_per_mtok,
            output_price_per_mtok=self.output_price_per_mtok,
        )


class ModelQuery(PageQuery):
    provider: str | None = Field(default=None, pattern=PROVIDER_PATTERN)


class ProjectBody(Body):
    name: str = Field(pattern=NAME_PATTERN, max_length=100)


class KeyBody(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.PROMPTS_READ, Scope.PROMPTS_WRITE, Scope.EXECUTE],
        min_length=1,
        max_length=len(Scope),
        description="'admin' manages this project's keys; 'operator' (granted by the instance "
        "operator only) manages every project, the model catalogue and prices.",
    )
    requests_per_minute: int | None = Field(
        default=None,
        ge=0,
        le=MAX_INT,
        description="Requests this key may make per minute (429 above); null: the instance "
        "default RATE_LIMIT_REQUESTS_PER_MINUTE; 0: no limit.",
    )
    executions_per_minute: int | None = Field(
        default=None,
        ge=0,
        le=MAX_INT,
        description="Executions (:run, :submit) this key may start per minute; null: the "
        "instance default RATE_LIMIT_EXECUTIONS_PER_MINUTE; 0: no limit.",
    )

    def asked(self) -> NewKey:
        """What the access service takes (converted here, at the HTTP edge)."""
        return NewKey(
            name=self.name,
            scopes=frozenset(self.scopes),
            requests_per_minute=self.requests_per_minute,
            executions_per_minute=self.executions_per_minute,
        )
